// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: the image reader as fsck.erofs uses it. The input is an
 * image; it is opened without the superblock checksum (which would stop
 * almost every mutation at the door), then checked from the root: every
 * inode, directory, xattr, chunk and compressed map, all file data with
 * decompression, fingerprints, and extraction into a scratch directory.
 */
#include <unistd.h>

#include "erofs/fsck.h"
#include "erofs/image.h"
#include "fuzz.h"

static void ignore(void *arg, enum erofs_fsck_level level, const char *path,
		   erofs_nid_t nid, const char *msg)
{
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct erofs_image_opts iopts = { .no_sbcrc = true };
	struct erofs_extract_opts xopts = {
		.overwrite = true,
		.xattrs = true,
		.umask = 022,
	};
	struct erofs_fsck_opts fopts = {
		.workers = 1, /* the walk's thread reads the data too */
		/* a few bytes can claim exabytes of holes: hash few */
		.max_hole_hash = 64 << 20,
		.report = ignore,
	};
	struct erofs_fsck_result res;
	struct erofs_image img;
	char path[FUZZ_PATH_MAX], dir[4096];
	int fd;

	fuzz_quiet();
	fd = fuzz_memfd(data, size, path);
	if (!erofs_image_open(&img, path, &iopts)) {
		snprintf(dir, sizeof(dir), "%s/x", fuzz_scratch_dir());
		xopts.dir = dir;
		fopts.extract = &xopts;
		erofs_fsck(&img, &fopts, &res);
		fuzz_empty_dir(fuzz_scratch_dir());
		erofs_image_close(&img);
	}
	close(fd);
	return 0;
}
