/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The extra devices of an image (INCOMPAT_DEVICE_TABLE): the device table
 * read and checked when the image is opened, each device's bytes found in
 * a file of its own (--device=FILE, in slot order) or, without such files,
 * in the primary file at the device's unified address (the kernel's flat
 * device mode: a metadata image followed by its devices in one file), and
 * addresses resolved as the kernel's erofs_map_dev() does.
 *
 * Device numbers: 0 is the primary device (the image file), N >= 1 the
 * device of slot N - 1, as a chunk index's device_id names it.
 *
 * Reads are positional and keep no state: any thread may read any device.
 */
#ifndef EROFS_DEVICE_H
#define EROFS_DEVICE_H

#include "erofs/defs.h"
#include "erofs/format.h"

struct erofs_image;

struct erofs_device {
	char tag[EROFS_DEVICE_TAG_LEN + 1]; /* NUL-terminated */
	u64 blocks;			    /* its size, as its slot gives it */
	u64 uniaddr; /* first block in the unified address space; 0: none */
	char *path;  /* the file given for it; NULL: inside the primary */
	int fd;	     /* that file, or -1 */
	u64 offset;  /* where it starts in its file (or the primary's) */
	u64 avail;   /* bytes of it that file holds (at most blocks) */
	/* why it cannot be read at all, or NULL */
	char *missing;
	/* why bytes past "avail" cannot be read */
	char *short_why;
};

/* A run of the unified address space owned by one extra device. */
struct erofs_device_range {
	u64 start, end; /* bytes */
	unsigned int dev;
};

/*
 * Read the device table of "img" (its superblock decoded) and open the
 * extra devices: "paths" in slot order, or none for the flat device mode.
 * Refuses a count of paths that is not the table's, a table outside the
 * primary device and devices whose unified ranges overlap. Records the
 * failure with erofs_fail().
 */
int erofs_devices_open(struct erofs_image *img, const char *const *paths,
		       unsigned int nr_paths);
void erofs_devices_close(struct erofs_image *img);

/*
 * Where the bytes at "*pos" of device "*dev" are: a device-0 address in
 * an extra device's unified range moves to that device ("*dev" and "*pos"
 * updated). "*room" gets the bytes from there to the end of the device (for
 * the primary: to the next unified range or the end of the image).
 * -EFSCORRUPTED for a device the image does not have or an address past
 * the end.
 */
int erofs_device_resolve(const struct erofs_image *img, unsigned int *dev,
			 u64 *pos, u64 *room, const char **why);

/*
 * Read "len" bytes at "pos" of device "dev" (0: the primary). -ENODEV for
 * a device that is not there (flat mode, the file too short), with the
 * reason naming it; -EFSCORRUPTED past its end.
 */
int erofs_device_read(const struct erofs_image *img, unsigned int dev,
		      void *buf, size_t len, u64 pos, const char **why);

/* A name for messages: "device 2 (blob.img)" or "device 2 (in IMAGE)". */
const char *erofs_device_name(const struct erofs_image *img, unsigned int dev,
			      char *buf, size_t len);

#endif
