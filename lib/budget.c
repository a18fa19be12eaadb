// SPDX-License-Identifier: GPL-2.0-or-later
/* Bounds on the work of reading file data in one run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "erofs/budget.h"

void erofs_budget_init(struct erofs_budget *b, u64 max_decompressed,
		       u64 max_hole_hash, u64 image_bytes)
{
	memset(b, 0, sizeof(*b));
	if (!max_decompressed) {
		max_decompressed =
			image_bytes > UINT64_MAX / EROFS_BUDGET_DECOMPRESS_RATIO
				? UINT64_MAX
				: image_bytes * EROFS_BUDGET_DECOMPRESS_RATIO;
		max_decompressed =
			max(max_decompressed, EROFS_BUDGET_DECOMPRESS_MIN);
	}
	b->max_decompressed = max_decompressed;
	b->max_hole_hash = max_hole_hash ?: EROFS_BUDGET_HOLE_HASH;
	snprintf(
		b->decompress_why, sizeof(b->decompress_why),
		"stopped at the bound of %llu bytes of compressed data decoded in one run (raise it with --max-decompressed=#)",
		(unsigned long long)b->max_decompressed);
	snprintf(
		b->holes_why, sizeof(b->holes_why),
		"more than %llu bytes of holes to hash in one run (raise the bound with --ishare-holes=#)",
		(unsigned long long)b->max_hole_hash);
	pthread_mutex_init(&b->lock, NULL);
}

void erofs_budget_free(struct erofs_budget *b)
{
	free(b->checked);
	b->checked = NULL;
	pthread_mutex_destroy(&b->lock);
}

/* Add "n" to "*used" unless that passes "max"; false if it would. */
static bool take(u64 *used, u64 max, u64 n)
{
	u64 old = __atomic_load_n(used, __ATOMIC_RELAXED);

	do {
		if (n > max || old > max - n)
			return false;
	} while (!__atomic_compare_exchange_n(
		used, &old, old + n, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	return true;
}

int erofs_budget_decompress(struct erofs_budget *b, u64 n, const char **why)
{
	if (!b || take(&b->decompressed, b->max_decompressed, n))
		return 0;
	/* nothing more after the first refusal, whatever its size */
	__atomic_store_n(&b->decompressed, b->max_decompressed,
			 __ATOMIC_RELAXED);
	*why = b->decompress_why;
	return -EDQUOT;
}

int erofs_budget_hash_holes(struct erofs_budget *b, u64 n, const char **why)
{
	if (!b || take(&b->hole_hashed, b->max_hole_hash, n))
		return 0;
	*why = b->holes_why;
	return -EDQUOT;
}

static size_t slot_of(const struct erofs_budget_slot *s)
{
	u64 h = (s->pa ^ (s->img_id << 40)) * 0x9e3779b97f4a7c15ULL;

	return (h >> 40) & (EROFS_BUDGET_CHECKED_SLOTS - 1);
}

static bool same_cluster(const struct erofs_budget_slot *a,
			 const struct erofs_budget_slot *b)
{
	return a->img_id == b->img_id && a->pa == b->pa && a->plen == b->plen &&
	       a->fmt == b->fmt && a->rot == b->rot;
}

bool erofs_budget_checked(struct erofs_budget *b,
			  const struct erofs_budget_slot *s)
{
	const struct erofs_budget_slot *t;
	bool hit = false;

	if (!b)
		return false;
	pthread_mutex_lock(&b->lock);
	if (b->checked) {
		t = &b->checked[slot_of(s)];
		/* a whole extent decodes to exactly its length */
		hit = same_cluster(t, s) &&
		      (s->partial ? s->llen <= t->llen
				  : !t->partial && s->llen == t->llen);
	}
	pthread_mutex_unlock(&b->lock);
	return hit;
}

void erofs_budget_mark_checked(struct erofs_budget *b,
			       const struct erofs_budget_slot *s)
{
	struct erofs_budget_slot *t;

	if (!b)
		return;
	pthread_mutex_lock(&b->lock);
	if (!b->checked)
		b->checked =
			calloc(EROFS_BUDGET_CHECKED_SLOTS, sizeof(*b->checked));
	if (b->checked) {
		t = &b->checked[slot_of(s)];
		/* keep what covers more: a whole decode, else the longer */
		if (!same_cluster(t, s) || (t->partial && !s->partial) ||
		    (t->partial == s->partial && s->llen > t->llen))
			*t = *s;
	}
	pthread_mutex_unlock(&b->lock);
}
