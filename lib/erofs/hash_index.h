/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * An open-addressing index from 64-bit hashes to values, which are the
 * positions of entries in the caller's own array: the one hash table of
 * the library (committed files for -E dedupe, fragments for fragdedupe).
 * Linear probing, grown to stay at most half full; entries are never
 * removed.
 */
#ifndef EROFS_HASH_INDEX_H
#define EROFS_HASH_INDEX_H

#include "erofs/defs.h"

struct erofs_hash_index {
	struct erofs_hash_slot {
		u64 hash;
		u64 val; /* the value + 1; 0: a free slot */
	} * slot;
	u64 cap, used;
};

/* The cursor of a walk that has not started. */
#define EROFS_HASH_INDEX_START UINT64_MAX

/* Make room for one more entry: 0, or -ENOMEM with the index as it was. */
int erofs_hash_index_reserve(struct erofs_hash_index *t);

/*
 * The next value stored under "hash" in *val, walking from *cursor
 * (EROFS_HASH_INDEX_START at first) in probe order; false after the last.
 */
bool erofs_hash_index_next(const struct erofs_hash_index *t, u64 hash,
			   u64 *cursor, u64 *val);

/* Store "val" under "hash", after erofs_hash_index_reserve(). */
void erofs_hash_index_add(struct erofs_hash_index *t, u64 hash, u64 val);

void erofs_hash_index_free(struct erofs_hash_index *t);

#endif
