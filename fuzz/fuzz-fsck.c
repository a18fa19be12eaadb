// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: the image reader as fsck.erofs uses it. The input is an
 * image; it is opened without the superblock checksum (which would stop
 * almost every mutation at the door), then checked from the root: every
 * inode, directory, xattr, chunk and compressed map, all file data with
 * decompression, fingerprints, and extraction into a scratch directory.
 * An image with a device table is read in the flat device mode (its
 * devices inside the input, as one combined file), then checked again
 * with the input itself given as the file of each device (--device).
 */
#include <unistd.h>

#include "erofs/fsck.h"
#include "erofs/image.h"
#include "erofs/image_open.h"
#include "fuzz.h"

static void ignore(void *arg, enum erofs_fsck_level level, const char *path,
		   erofs_nid_t nid, const char *msg)
{
}

/* Devices given as files: few, each a descriptor. */
#define FUZZ_MAX_DEVICES 4

static void check(const char *path, const struct erofs_image_opts *iopts,
		  unsigned int *nr_devices, bool extract)
{
	struct erofs_extract_opts xopts = {
		.overwrite = true,
		.xattrs = true,
		.umask = 022,
	};
	struct erofs_fsck_opts fopts = {
		.workers = 1, /* the walk's thread reads the data too */
		/* a few bytes can claim exabytes of holes: hash few, and
		 * decode little */
		.max_hole_hash = 64 << 20,
		.max_decompressed = 64 << 20,
		.report = ignore,
	};
	struct erofs_fsck_result res;
	struct erofs_image img;
	char dir[4096];

	if (erofs_image_open(&img, path, iopts))
		return;
	if (nr_devices)
		*nr_devices = img.nr_devices;
	snprintf(dir, sizeof(dir), "%s/x", fuzz_scratch_dir());
	xopts.dir = dir;
	fopts.extract = extract ? &xopts : NULL;
	erofs_fsck(&img, &fopts, &res);
	fuzz_empty_dir(fuzz_scratch_dir());
	erofs_image_close(&img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct erofs_image_opts iopts = { .no_sbcrc = true };
	const char *devices[FUZZ_MAX_DEVICES];
	char path[FUZZ_PATH_MAX];
	unsigned int nr = 0;
	bool extract;
	int fd;

	fuzz_quiet();
	fd = fuzz_memfd(data, size, path);
	/* the byte before the superblock picks a plain check or extraction */
	extract = !size || !(data[0] & 1);
	check(path, &iopts, &nr, extract);
	if (nr && nr <= FUZZ_MAX_DEVICES) {
		for (unsigned int i = 0; i < nr; i++)
			devices[i] = path;
		iopts.devices = devices;
		iopts.nr_devices = nr;
		fuzz_quiet();
		check(path, &iopts, NULL, extract);
	}
	close(fd);
	return 0;
}
