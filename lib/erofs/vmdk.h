/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A VMDK descriptor that joins an image and its extra devices into one
 * virtual disk, in the order of the unified address space (the image,
 * then each device): a virtual machine sees the flat-device layout that
 * the kernel mounts without device= options.
 */
#ifndef EROFS_VMDK_H
#define EROFS_VMDK_H

#include "erofs/defs.h"

struct erofs_vmdk_extent {
	const char *path; /* the file, as the descriptor names it */
	u64 bytes;	  /* a multiple of 512 */
};

/* Write the descriptor to "path"; "uuid" gives the content id. */
int erofs_write_vmdk_desc(const char *path, const u8 uuid[16],
			  const struct erofs_vmdk_extent *ext, unsigned int n);

#endif
