/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Opening an image for reading: the superblock validated, the features
 * this reader lacks refused by name, the extra devices attached, the
 * metabox and the long xattr prefix table loaded (lib/image_open.c).
 */
#ifndef EROFS_IMAGE_OPEN_H
#define EROFS_IMAGE_OPEN_H

#include "erofs/image.h"

struct erofs_image_opts {
	bool no_sbcrc; /* skip the superblock checksum (--no-sbcrc) */
	u64 offset; /* bytes before the image in the file (--offset) */
	/*
	 * Files holding the extra devices, in slot order (--device=FILE);
	 * none: each is read from the primary file at its unified address.
	 */
	const char *const *devices;
	unsigned int nr_devices;
};

/*
 * Open and validate "path". Refuses incompatible features this reader
 * lacks (naming them), a bad checksum, a broken prefix table or device
 * table. Returns -EFSCORRUPTED for damage, -EOPNOTSUPP for unsupported
 * images, -EINVAL for what the caller asked wrongly (a number of device
 * files that is not the image's, an offset past the end, not a file).
 */
int erofs_image_open(struct erofs_image *img, const char *path,
		     const struct erofs_image_opts *opts);
void erofs_image_close(struct erofs_image *img);

#endif
