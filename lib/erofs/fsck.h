/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Checking an image: walk the tree from the root (or a subtree), decode
 * every inode and xattr, read every byte of file data on worker threads,
 * verify content fingerprints, and optionally extract what was read.
 * Problems are handed to a callback one by one, each with the path and nid;
 * the check goes on after each where it safely can.
 */
#ifndef EROFS_FSCK_H
#define EROFS_FSCK_H

#include "erofs/extract.h"
#include "erofs/image.h"

enum erofs_fsck_level {
	EROFS_FSCK_WARNING, /* odd but readable */
	EROFS_FSCK_CORRUPT, /* damage: the image is not what it should be */
	EROFS_FSCK_UNCHECKED, /* this reader cannot check it (unsupported) */
	EROFS_FSCK_ERROR, /* operational: I/O, memory, extraction target */
};

enum erofs_fsck_fingerprints {
	EROFS_FSCK_FP_AUTO, /* verify when the image is share-ready */
	EROFS_FSCK_FP_REQUIRE, /* --xattr-inode-digest: always verify */
};

typedef void (*erofs_fsck_report_fn)(void *arg, enum erofs_fsck_level level,
				     const char *path, erofs_nid_t nid,
				     const char *msg);

struct erofs_fsck_opts {
	erofs_nid_t nid; /* start here ... */
	const char *path; /* ... or here (wins); neither: the root */
	bool nid_given;
	enum erofs_fsck_fingerprints fingerprints;
	const char *fingerprint_name; /* instead of the image's prefix */
	const struct erofs_extract_opts *extract; /* NULL: check only */
	unsigned int workers; /* data threads, 0: one per processor */
	erofs_fsck_report_fn report; /* called with a lock held */
	void *report_arg;
	/*
	 * Bounds on the work of the whole run (lib/budget.c): bytes of holes
	 * hashed to verify fingerprints, and bytes of compressed data
	 * decoded. Files past them are reported as not checked: a hostile
	 * image claims exabytes of holes in a few bytes, or decodes one
	 * cluster a million times. 0: the defaults, EROFS_BUDGET_HOLE_HASH
	 * and 1024 times the image size (at least 1 GiB).
	 */
	u64 max_hole_hash;
	u64 max_decompressed;
};

struct erofs_fsck_result {
	u64 inodes, dirs, files, symlinks, specials;
	u64 content_bytes; /* logical bytes of regular files */
	u64 stored_bytes; /* bytes they take (compressed size where known) */
	u64 fingerprints_verified;
	u64 unchecked_files; /* in data layouts this reader does not know */
	u64 problems[EROFS_FSCK_ERROR + 1]; /* by level */
};

/*
 * Run the check. Returns 0 when it ran to the end (the result says what it
 * found) or a negative errno when it could not start or had to stop; then
 * a message is recorded with erofs_fail(). -EINVAL: what was asked cannot
 * be in this image (a nid past its end).
 */
int erofs_fsck(struct erofs_image *img, const struct erofs_fsck_opts *opts,
	       struct erofs_fsck_result *res);

#endif
