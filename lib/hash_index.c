// SPDX-License-Identifier: GPL-2.0-or-later
/* Hash to value index (erofs/hash_index.h). */
#include <stdlib.h>

#include "erofs/hash_index.h"

#define HASH_INDEX_FIRST_CAP 1024

/* The first free slot on the probe of "hash". */
static u64 free_slot(const struct erofs_hash_slot *slot, u64 cap, u64 hash)
{
	u64 i = hash & (cap - 1);

	while (slot[i].val)
		i = (i + 1) & (cap - 1);
	return i;
}

int erofs_hash_index_reserve(struct erofs_hash_index *t)
{
	struct erofs_hash_slot *ns;
	u64 cap;

	if (t->used * 2 < t->cap)
		return 0;
	cap = t->cap ? t->cap * 2 : HASH_INDEX_FIRST_CAP;
	ns = calloc(cap, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	for (u64 k = 0; k < t->cap; k++)
		if (t->slot[k].val)
			ns[free_slot(ns, cap, t->slot[k].hash)] = t->slot[k];
	free(t->slot);
	t->slot = ns;
	t->cap = cap;
	return 0;
}

bool erofs_hash_index_next(const struct erofs_hash_index *t, u64 hash,
			   u64 *cursor, u64 *val)
{
	u64 i;

	if (!t->cap)
		return false;
	i = *cursor == EROFS_HASH_INDEX_START ? hash & (t->cap - 1) :
						(*cursor + 1) & (t->cap - 1);
	for (; t->slot[i].val; i = (i + 1) & (t->cap - 1)) {
		if (t->slot[i].hash == hash) {
			*cursor = i;
			*val = t->slot[i].val - 1;
			return true;
		}
	}
	return false;
}

void erofs_hash_index_add(struct erofs_hash_index *t, u64 hash, u64 val)
{
	t->slot[free_slot(t->slot, t->cap, hash)] =
		(struct erofs_hash_slot){ .hash = hash, .val = val + 1 };
	t->used++;
}

void erofs_hash_index_free(struct erofs_hash_index *t)
{
	free(t->slot);
	t->slot = NULL;
	t->cap = t->used = 0;
}
