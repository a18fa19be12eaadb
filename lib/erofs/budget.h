/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Bounds on the work of reading file data in one run (one check, one
 * extraction, one share report), whatever the images claim: a few bytes
 * can declare exabytes of holes whose fingerprint needs every zero hashed,
 * and a few hundred KB of maps can send one physical cluster through a
 * decompressor a million times. Past a bound, reads fail with -EDQUOT and
 * a message naming the bound and the option that raises it; the tools
 * report the files left unchecked (fsck.erofs exit 8).
 */
#ifndef EROFS_BUDGET_H
#define EROFS_BUDGET_H

#include <pthread.h>

#include "erofs/defs.h"

/* Holes hashed for fingerprints per run: what mkfs.erofs hashes per build. */
#define EROFS_BUDGET_HOLE_HASH (16ULL << 30)
/*
 * Compressed data decoded per run: 1024 times the image size, and at least
 * 1 GiB. Real data compresses 2 to 10 times; a cluster of one block can
 * decode to 12 MiB at most, so only images of zeroes get near the ratio.
 */
#define EROFS_BUDGET_DECOMPRESS_RATIO 1024
#define EROFS_BUDGET_DECOMPRESS_MIN (1ULL << 30)

/* Physical clusters whose decoding a check remembers (a power of two). */
#define EROFS_BUDGET_CHECKED_SLOTS 4096

struct erofs_budget_slot {
	u64 img_id, pa; /* img_id 0: empty */
	u32 plen, llen;
	u8 fmt, partial;
	u16 rot; /* interlaced clusters: where the extent starts in its block */
};

struct erofs_budget {
	u64 max_decompressed; /* bytes; UINT64_MAX: no bound */
	u64 max_hole_hash;
	u64 decompressed, hole_hashed; /* so far, updated atomically */
	char decompress_why[160], holes_why[160];
	/* check-only reads: clusters that decoded well, by address */
	pthread_mutex_t lock;
	struct erofs_budget_slot *checked; /* NULL until first used */
};

/*
 * "max_decompressed" and "max_hole_hash" in bytes; 0 for the defaults (the
 * decompression default for images of "image_bytes" together).
 */
void erofs_budget_init(struct erofs_budget *b, u64 max_decompressed,
		       u64 max_hole_hash, u64 image_bytes);
void erofs_budget_free(struct erofs_budget *b);

/* Take "n" bytes: 0, or -EDQUOT with *why when that passes the bound. */
int erofs_budget_decompress(struct erofs_budget *b, u64 n, const char **why);
int erofs_budget_hash_holes(struct erofs_budget *b, u64 n, const char **why);

/*
 * Whether a cluster like "s" (img_id, pa, plen, fmt, partial, rot set)
 * decoded to llen bytes or more already (a partial extent needs a prefix
 * of what decoded, a whole one exactly its length); and recording one
 * that did.
 */
bool erofs_budget_checked(struct erofs_budget *b,
			  const struct erofs_budget_slot *s);
void erofs_budget_mark_checked(struct erofs_budget *b,
			       const struct erofs_budget_slot *s);

#endif
