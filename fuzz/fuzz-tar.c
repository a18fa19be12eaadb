// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: mkfs.erofs --tar=f. The input is a tar archive (plain or
 * compressed); it is read into a tree and, when accepted, built into an
 * image in a scratch directory, which our own fsck must then find clean
 * and read back: a tar that builds into a corrupt image is a bug too. The
 * input size picks one of a few build settings (whiteouts, compression,
 * fingerprints, block size, data placed in archive order from a pipe), so
 * every setting sees every kind of input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "erofs/build.h"
#include "erofs/error.h"
#include "erofs/fingerprint.h"
#include "erofs/fsck.h"
#include "erofs/image.h"
#include "erofs/image_open.h"
#include "erofs/io.h"
#include "erofs/ovlfs.h"
#include "erofs/source.h"
#include "erofs/tar.h"
#include "fuzz.h"

struct setting {
	const char *algs; /* -z, or NULL */
	unsigned int blkszbits;
	bool aufs, strip, ishare, ztailpacking, fragments, dedupe;
	/* --sort=none: the data placed in the image, read from a pipe */
	bool place;
};

static const struct setting settings[] = {
	{ .blkszbits = 12, .aufs = true, .ishare = true },
	{ .algs = "lz4", .blkszbits = 12, .ztailpacking = true },
	{ .algs = "zstd", .blkszbits = 9, .aufs = true, .strip = true,
	  .fragments = true, .dedupe = true },
	{ .blkszbits = 9, .ishare = true },
	{ .blkszbits = 12, .aufs = true, .ishare = true, .place = true },
};

static int report_corrupt(const struct erofs_fsck_result *r)
{
	return r->problems[EROFS_FSCK_CORRUPT] ? 1 : 0;
}

static void ignore(void *arg, enum erofs_fsck_level level, const char *path,
		   erofs_nid_t nid, const char *msg)
{
	if (level == EROFS_FSCK_CORRUPT)
		fprintf(stderr, "fsck of the built image: %s: %s\n", path, msg);
}

/*
 * A few header bytes can declare gigabytes of sparse data, which is valid
 * and builds, only slowly: such archives stop after reading.
 */
#define MAX_CONTENT (64ULL << 20)

static bool small_enough(const struct erofs_tree *tree)
{
	u64 total = 0;

	for (const struct erofs_node *n = tree->alloc_list; n;
	     n = n->next_alloc)
		total += n->size;
	return total <= MAX_CONTENT;
}

/* Our fsck must accept what our mkfs built. */
static void check_built(const char *img_path)
{
	const struct erofs_image_opts iopts = { 0 };
	struct erofs_fsck_opts fopts = { .workers = 1, .report = ignore };
	struct erofs_fsck_result res;
	struct erofs_image img;
	int ret;

	ret = erofs_image_open(&img, img_path, &iopts);
	if (ret) {
		fprintf(stderr, "the built image does not open: %s\n",
			erofs_last_error() ? erofs_last_error() : "?");
		__builtin_trap();
	}
	ret = erofs_fsck(&img, &fopts, &res);
	erofs_image_close(&img);
	if (ret || report_corrupt(&res))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct setting *s = &settings[size % ARRAY_SIZE(settings)];
	struct erofs_compress_opts copts = { 0 };
	struct erofs_build_opts bopts = {
		.blkszbits = s->blkszbits,
		.build_time = 1700000000,
		.workers = 1,
		.ishare = s->ishare,
		/* past it a file gets no fingerprint: both kinds of file */
		.ishare_hole_limit = 1 << 20,
	};
	struct erofs_source_opts sopts = { .read_xattrs = true };
	struct erofs_tar_opts topts = {
		.source = &sopts,
		.dir_mtime = 1700000000,
		.aufs = s->aufs,
		.ovlfs_strip = s->strip,
	};
	struct erofs_tar_info info = { 0 };
	struct erofs_output out;
	bool out_open = false;
	struct erofs_xattr_table xt;
	struct erofs_tree tree;
	char path[FUZZ_PATH_MAX], img_path[4096];
	int fd, ret;

	fuzz_quiet();
	snprintf(img_path, sizeof(img_path), "%s/img", fuzz_scratch_dir());
	topts.image_path = img_path;
	if (erofs_xattr_table_init(&xt) || erofs_tree_init(&tree))
		abort();
	sopts.xattrs = &xt;
	ret = 0;
	if (s->ishare && erofs_sha256_available())
		ret = erofs_xattr_set_ishare_name(&xt,
						  EROFS_ISHARE_DEFAULT_NAME);
	else
		bopts.ishare = false;
	/* as mkfs.erofs: a stream or placed data is hashed as it is read */
	topts.fingerprints = bopts.ishare;
	if (!ret && s->algs && !erofs_compress_parse_algs(&copts, s->algs)) {
		copts.ztailpacking = s->ztailpacking;
		copts.fragments = s->fragments;
		copts.dedupe = s->dedupe;
		bopts.compress = &copts;
	}
	fuzz_quiet();

	if (s->place) {
		fd = fuzz_pipe(data, size, path);
		if (!ret)
			ret = erofs_output_open(&out, img_path, false, 0);
		if (!ret) {
			out_open = true;
			bopts.out = &out;
			topts.place_out = &out;
			topts.place_start = erofs_build_data_start(&bopts, &xt);
			topts.blkszbits = bopts.blkszbits;
		}
	} else {
		fd = fuzz_memfd(data, size, path);
	}
	if (!ret)
		ret = erofs_source_tar_read(&tree, path, &topts, &info);
	bopts.placed_end = info.place_end;
	if (!ret && s->strip)
		ret = erofs_ovlfs_strip(&tree, &xt);
	if (!ret && small_enough(&tree))
		ret = erofs_build_image(&tree, &xt, &bopts, img_path);
	if (!ret && small_enough(&tree))
		check_built(img_path);
	if (out_open)
		erofs_output_abort(&out);
	unlink(img_path);
	close(fd);
	erofs_tree_free(&tree);
	erofs_xattr_table_free(&xt);
	erofs_compress_opts_free(&copts);
	return 0;
}
