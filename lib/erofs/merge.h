/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * EROFS images as a source: mkfs.erofs OUT L1.erofs ... Ln.erofs merges
 * layers (L1 the bottom) as overlayfs stacks them:
 * - an upper entry hides the lower ones of its name; a whiteout hides
 *   them and stays (unless stripped); directories merge, the uppermost
 *   one's metadata and xattrs win;
 * - an opaque directory (trusted.overlay.opaque) ends the layers below
 *   it, and so does a lower whiteout or opaque marker under an upper
 *   directory: the merged directory becomes opaque;
 * - the root takes the uppermost layer's metadata;
 * - hard links inside a layer stay hard links.
 * File data is left in the layers (each layer is an extra device of the
 * merged image, in argument order), copied into the merged image, or only
 * reserved there. Fingerprints (--ishare) are computed from the layers'
 * data, and a layer's own fingerprint must match it.
 */
#ifndef EROFS_MERGE_H
#define EROFS_MERGE_H

#include "erofs/build_opts.h"
#include "erofs/source.h"

enum erofs_merge_data {
	EROFS_MERGE_BLOB_INDEX, /* data stays in the layers (devices) */
	EROFS_MERGE_COPY,	/* --clean=data: copied into the image */
	EROFS_MERGE_RESERVE,	/* --clean=rvsp: space reserved, zeroes */
};

struct erofs_merge_opts {
	const struct erofs_source_opts *source; /* xattr table and rules */
	enum erofs_merge_data data;
	bool fingerprints;    /* compute each file's fingerprint */
	unsigned int workers; /* threads hashing; 0: available processors */
};

struct erofs_merge;

/*
 * Open the layers "paths" (the bottom one first) and check they can be
 * merged: one block size, each readable. *blkszbits: theirs.
 */
int erofs_merge_open(struct erofs_merge **m, const char *const *paths,
		     unsigned int n, unsigned int *blkszbits);
/*
 * Fill the empty "tree" with the merged layers. With blob index data, the
 * layers' device table is in *devs (m's, valid until erofs_merge_close).
 */
int erofs_merge_read(struct erofs_merge *m, struct erofs_tree *tree,
		     const struct erofs_merge_opts *o,
		     const struct erofs_build_device **devs,
		     unsigned int *ndevs);
/* After the build: the layers stay open until then for their data. */
void erofs_merge_close(struct erofs_merge *m);

#endif
