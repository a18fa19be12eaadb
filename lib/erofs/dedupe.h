/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * -E dedupe: compressed files committed already, by content hash. A later
 * file of the same size, alternative and bytes takes over their extents,
 * and so their clusters, instead of storing its own. Only files of one
 * compression segment take part: the hash is of their whole content.
 */
#ifndef EROFS_DEDUPE_H
#define EROFS_DEDUPE_H

#include "erofs/compress.h"
#include "erofs/defs.h"

struct erofs_build;
struct erofs_node;
struct erofs_dedupe;

/* A fast hash of content (xxHash's XXH3 when built with it). */
u64 erofs_content_hash(const void *p, u64 len);

int erofs_dedupe_new(struct erofs_dedupe **dd);
void erofs_dedupe_free(struct erofs_dedupe *dd);
/*
 * An earlier file with the bytes of "n" (whose content hash is "hash"):
 * 1 when "f" (empty) now describes its extents, 0 when none matched.
 */
int erofs_dedupe_find(struct erofs_dedupe *dd, struct erofs_build *b,
		      struct erofs_node *n, u64 hash, struct erofs_zfile *f);
/* Remember "n", committed with extents "f", for later files. */
int erofs_dedupe_add(struct erofs_dedupe *dd, u64 hash, struct erofs_node *n,
		     const struct erofs_zfile *f);

#endif
