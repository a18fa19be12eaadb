// SPDX-License-Identifier: GPL-2.0-or-later
/* Share reports: a set of images' page cache with and without sharing. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "erofs/array.h"
#include "erofs/budget.h"
#include "erofs/data_read.h"
#include "erofs/device.h"
#include "erofs/dump.h"
#include "erofs/error.h"
#include "erofs/fingerprint.h"
#include "erofs/format.h"
#include "erofs/image_open.h"
#include "erofs/inode_read.h"
#include "erofs/share.h"
#include "erofs/walk.h"
#include "erofs/xattr.h"
#include "erofs/xattr_read.h"

/* Conflicts kept with their paths for the report; the rest are counted. */
#define SHARE_MAX_CONFLICTS 20

/* Bytes that live as long as the accumulator: paths, fingerprint values. */
struct arena_block {
	struct arena_block *next;
	size_t used, size;
	char data[];
};

/*
 * One regular file inode: 32 bytes, so that a fleet of thousands of images
 * fits in memory (content digests, known with verify only, lie apart).
 */
struct rec {
	u64 size;
	u32 path; /* interned: fleets repeat the same paths */
	u32 img;
	int32_t group; /* fingerprint's copy, -1 without a fingerprint */
	u32 parent;    /* union-find for the rebuild estimate */
	bool compressed;
	bool member; /* holds the group's copy, else private */
	u8 nofp;
};

/* The one copy the kernel keeps per fingerprint value. */
struct group {
	u8 *fp;
	u32 fp_len;
	u64 size;	 /* of the first inode: the copy's i_size */
	bool compressed; /* the copy's layout class */
	u32 first;	 /* record that created it */
	u64 members;
	u64 hash;
};

/* A device of an image, for the storage figures. */
struct sdev {
	u64 file_dev, file_ino, file_offset;
	char *host; /* the machine of file_dev and file_ino; NULL: this one */
	char *tag;  /* NULL: none */
	u32 img;
	u32 parent; /* union-find: devices known to be the same */
};

/* Bytes [start, end) of a device that an image uses. */
struct sext {
	u64 start, end;
	u32 dev; /* index into devs */
	u32 img;
};

/* Open-addressing set of indexes (stored + 1) with caller-given keys. */
struct htab {
	/* index + 1 (0: free), and bits of the key's hash to skip others */
	struct hslot {
		u32 idx, tag;
	} *slot;
	u64 cap, n;
};

struct erofs_share {
	struct erofs_share_opts o;
	struct arena_block *arena;
	struct rec *recs;
	u64 nr_recs, cap_recs;
	struct group *groups;
	u64 nr_groups, cap_groups;
	struct htab fp_tab; /* value -> group */
	char **paths;	    /* interned paths, in the arena */
	u64 nr_paths, cap_paths;
	struct htab path_tab; /* path -> index in paths */
	u8 (*shas)[EROFS_SHA256_SIZE];
	u64 nr_shas, cap_shas;
	int32_t *rec_sha; /* per record, index in shas or -1; NULL: none yet */
	u64 cap_rec_sha;
	/* forward every file and device to these instead of keeping them */
	const struct erofs_share_sink *sink;
	void *sink_arg;
	struct erofs_share_image *images;
	unsigned int nr_images;
	struct erofs_share_conflict conflicts[SHARE_MAX_CONFLICTS];
	unsigned int nr_conflicts;
	struct sdev *devs;
	u64 nr_devs, cap_devs;
	u64 img_devs; /* index of the current image's primary in devs */
	struct sext *exts;
	u64 nr_exts, cap_exts;
	struct erofs_share_report r;
	bool finished;
};

static void *arena_alloc(struct erofs_share *s, size_t len)
{
	struct arena_block *b = s->arena;

	len = round_up(len, 8);
	if (!b || b->size - b->used < len) {
		size_t size = max_t(size_t, len, 1 << 20);

		b = malloc(sizeof(*b) + size);
		if (!b)
			return NULL;
		b->used = 0;
		b->size = size;
		b->next = s->arena;
		s->arena = b;
	}
	b->used += len;
	return b->data + b->used - len;
}

static char *arena_strdup(struct erofs_share *s, const char *str)
{
	size_t len = strlen(str) + 1;
	char *p = arena_alloc(s, len);

	if (p)
		memcpy(p, str, len);
	return p;
}

/* Eight bytes at a time, mixed by multiplying: keys are paths and digests. */
static u64 hash_bytes(const void *p, size_t len, u64 h)
{
	const u8 *b = p;
	u64 w;

	for (; len >= 8; len -= 8, b += 8) {
		memcpy(&w, b, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
	}
	if (len) {
		w = 0;
		memcpy(&w, b, len);
		h = (h ^ w ^ (u64)len << 56) * 0x9e3779b97f4a7c15ULL;
	}
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ULL;
	return h ^ (h >> 32);
}

#define HASH_SEED 1469598103934665603ULL

/*
 * Find the index whose key equals the probe's ("eq"), or the free slot to
 * put it in: returns the slot number.
 */
static u64 htab_find(const struct htab *t, u64 hash,
		     bool (*eq)(const void *ctx, u32 idx), const void *ctx)
{
	u64 i = hash & (t->cap - 1);

	while (t->slot[i].idx && (t->slot[i].tag != (u32)(hash >> 32) ||
				  !eq(ctx, t->slot[i].idx - 1)))
		i = (i + 1) & (t->cap - 1);
	return i;
}

static void htab_set(struct htab *t, u64 slot, u32 idx, u64 hash)
{
	t->slot[slot].idx = idx + 1;
	t->slot[slot].tag = hash >> 32;
}

static int htab_grow(struct htab *t, u64 (*hash_of)(const void *ctx, u32 idx),
		     const void *ctx)
{
	u64 cap = t->cap ? t->cap * 2 : 1024;
	struct hslot *slot = calloc(cap, sizeof(*slot));

	if (!slot)
		return -ENOMEM;
	for (u64 i = 0; i < t->cap; i++) {
		u64 j;

		if (!t->slot[i].idx)
			continue;
		j = hash_of(ctx, t->slot[i].idx - 1) & (cap - 1);
		while (slot[j].idx)
			j = (j + 1) & (cap - 1);
		slot[j] = t->slot[i];
	}
	free(t->slot);
	t->slot = slot;
	t->cap = cap;
	return 0;
}

struct path_probe {
	const struct erofs_share *s;
	const char *path;
};

static bool path_eq(const void *ctx, u32 idx)
{
	const struct path_probe *p = ctx;

	return !strcmp(p->s->paths[idx], p->path);
}

static u64 path_hash(const void *ctx, u32 idx)
{
	const char *path = ((const struct erofs_share *)ctx)->paths[idx];

	return hash_bytes(path, strlen(path), HASH_SEED);
}

/* The index of "path" among the paths seen, adding it if new. */
static int intern_path(struct erofs_share *s, const char *path, u32 *id)
{
	struct path_probe probe = { s, path };
	u64 slot, h;
	int ret;

	if ((s->nr_paths + 1) * 2 > s->path_tab.cap) {
		ret = htab_grow(&s->path_tab, path_hash, s);
		if (ret)
			return ret;
	}
	h = hash_bytes(path, strlen(path), HASH_SEED);
	slot = htab_find(&s->path_tab, h, path_eq, &probe);
	if (!s->path_tab.slot[slot].idx) {
		if (s->nr_paths >= UINT32_MAX - 1)
			return -EFBIG;
		ret = erofs_grow_array(&s->paths, &s->cap_paths, s->nr_paths + 1,
			   sizeof(*s->paths));
		if (ret)
			return ret;
		s->paths[s->nr_paths] = arena_strdup(s, path);
		if (!s->paths[s->nr_paths])
			return -ENOMEM;
		htab_set(&s->path_tab, slot, s->nr_paths++, h);
	}
	*id = s->path_tab.slot[slot].idx - 1;
	return 0;
}

static int32_t rec_sha(const struct erofs_share *s, u64 i)
{
	return s->rec_sha ? s->rec_sha[i] : -1;
}

int erofs_share_new(struct erofs_share **sp, const struct erofs_share_opts *o)
{
	struct erofs_share *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->o = *o;
	if (!s->o.page_size)
		s->o.page_size = EROFS_SHARE_PAGE_SIZE;
	*sp = s;
	return 0;
}

int erofs_share_new_sink(struct erofs_share **sp,
			 const struct erofs_share_opts *o,
			 const struct erofs_share_sink *sink, void *arg)
{
	int ret = erofs_share_new(sp, o);

	if (ret)
		return ret;
	(*sp)->sink = sink;
	(*sp)->sink_arg = arg;
	return 0;
}

void erofs_share_free(struct erofs_share *s)
{
	struct erofs_share_report *r;

	if (!s)
		return;
	r = &s->r;
	for (unsigned int i = 0; i < r->nr_top; i++) {
		free(r->top[i].per_image);
		free(r->top[i].sample);
	}
	free(r->top);
	for (unsigned int i = 0; i < s->nr_images; i++) {
		free(s->images[i].name);
		free(s->images[i].fp_name);
	}
	free(s->images);
	free(s->devs);
	free(s->exts);
	free(s->recs);
	free(s->groups);
	free(s->fp_tab.slot);
	free(s->paths);
	free(s->path_tab.slot);
	free(s->shas);
	free(s->rec_sha);
	while (s->arena) {
		struct arena_block *b = s->arena;

		s->arena = b->next;
		free(b);
	}
	free(s);
}

int erofs_share_add_image(struct erofs_share *s, const char *name,
			  const char *fp_name)
{
	struct erofs_share_image *n, *im;

	if (s->sink)
		return s->sink->image(s->sink_arg, name, fp_name);
	if (s->finished)
		return -EINVAL;
	n = realloc(s->images, (s->nr_images + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	s->images = n;
	im = &n[s->nr_images];
	memset(im, 0, sizeof(*im));
	im->name = strdup(name);
	im->fp_name = fp_name ? strdup(fp_name) : NULL;
	if (!im->name || (fp_name && !im->fp_name)) {
		free(im->name);
		free(im->fp_name);
		return -ENOMEM;
	}
	s->nr_images++;
	s->img_devs = s->nr_devs;
	return 0;
}

int erofs_share_add_device(struct erofs_share *s,
			   const struct erofs_share_device *d, u64 bytes)
{
	struct sdev *v;
	int ret;

	if (s->sink)
		return s->sink->device(s->sink_arg, d, bytes);
	if (!s->nr_images || s->finished || s->nr_devs >= UINT32_MAX - 1)
		return -EINVAL;
	ret = erofs_grow_array(&s->devs, &s->cap_devs, s->nr_devs + 1,
		   sizeof(*s->devs));
	if (ret)
		return ret;
	v = &s->devs[s->nr_devs];
	v->file_dev = d->file_dev;
	v->file_ino = d->file_ino;
	v->file_offset = d->file_offset;
	v->tag = d->tag && d->tag[0] ? arena_strdup(s, d->tag) : NULL;
	if (d->tag && d->tag[0] && !v->tag)
		return -ENOMEM;
	v->host = d->host ? arena_strdup(s, d->host) : NULL;
	if (d->host && !v->host)
		return -ENOMEM;
	v->img = s->nr_images - 1;
	v->parent = s->nr_devs;
	s->nr_devs++;
	/* the primary counts whole, metadata and all */
	if (s->nr_devs - 1 == s->img_devs)
		return erofs_share_add_extent(s, 0, 0, bytes);
	s->images[s->nr_images - 1].extra_devices++;
	return 0;
}

int erofs_share_add_extent(struct erofs_share *s, unsigned int dev, u64 pos,
			   u64 len)
{
	struct sext *e;
	u64 gdev = s->img_devs + dev;
	int ret;

	if (s->sink)
		return s->sink->extent(s->sink_arg, dev, pos, len);
	if (!s->nr_images || s->finished || gdev >= s->nr_devs ||
	    pos + len < pos)
		return -EINVAL;
	if (!len)
		return 0;
	/* contiguous chunks of one file come in pieces */
	e = s->nr_exts ? &s->exts[s->nr_exts - 1] : NULL;
	if (e && e->dev == gdev && e->end == pos) {
		e->end += len;
		return 0;
	}
	ret = erofs_grow_array(&s->exts, &s->cap_exts, s->nr_exts + 1,
		   sizeof(*s->exts));
	if (ret)
		return ret;
	e = &s->exts[s->nr_exts++];
	e->start = pos;
	e->end = pos + len;
	e->dev = gdev;
	e->img = s->nr_images - 1;
	return 0;
}

static u64 pages_of(const struct erofs_share *s, u64 size)
{
	return round_up(size, (u64)s->o.page_size);
}

struct fp_probe {
	const struct erofs_share *s;
	const u8 *fp;
	u32 len;
};

static bool fp_eq(const void *ctx, u32 idx)
{
	const struct fp_probe *p = ctx;
	const struct group *g = &p->s->groups[idx];

	return g->fp_len == p->len && !memcmp(g->fp, p->fp, p->len);
}

static u64 group_hash(const void *ctx, u32 idx)
{
	return ((const struct erofs_share *)ctx)->groups[idx].hash;
}

static void note_conflict(struct erofs_share *s, const struct group *g,
			  const struct rec *r)
{
	const struct rec *first = &s->recs[g->first];
	struct erofs_share_conflict *c;

	if (s->nr_conflicts >= SHARE_MAX_CONFLICTS)
		return;
	c = &s->conflicts[s->nr_conflicts++];
	c->fp = g->fp;
	c->fp_len = g->fp_len;
	c->size_differs = g->size != r->size;
	c->size = g->size;
	c->other_size = r->size;
	c->compressed = g->compressed;
	c->other_compressed = r->compressed;
	c->image = first->img;
	c->other_image = r->img;
	c->path = s->paths[first->path];
	c->other_path = s->paths[r->path];
}

/* Join the copy of fingerprint f->fp, creating it for the first inode. */
static int join_group(struct erofs_share *s, struct rec *r,
		      const struct erofs_share_file *f)
{
	struct fp_probe probe = { s, f->fp, f->fp_len };
	u64 h = hash_bytes(f->fp, f->fp_len, HASH_SEED), slot;
	struct group *g;
	int ret;

	if ((s->nr_groups + 1) * 2 > s->fp_tab.cap) {
		ret = htab_grow(&s->fp_tab, group_hash, s);
		if (ret)
			return ret;
	}
	slot = htab_find(&s->fp_tab, h, fp_eq, &probe);
	if (s->fp_tab.slot[slot].idx) {
		g = &s->groups[s->fp_tab.slot[slot].idx - 1];
		r->group = g - s->groups;
		/* the kernel's checks, in its order: class, then size */
		if (g->compressed != r->compressed || g->size != r->size) {
			if (g->compressed != r->compressed) {
				s->r.class_conflict_files++;
				s->r.class_conflict_bytes +=
					pages_of(s, r->size);
			} else {
				s->r.size_conflict_files++;
				s->r.size_conflict_bytes +=
					pages_of(s, r->size);
			}
			note_conflict(s, g, r);
			return 0;
		}
		r->member = true;
		g->members++;
		return 0;
	}
	ret = erofs_grow_array(&s->groups, &s->cap_groups, s->nr_groups + 1,
		   sizeof(*s->groups));
	if (ret)
		return ret;
	g = &s->groups[s->nr_groups];
	g->fp = arena_alloc(s, f->fp_len);
	if (!g->fp)
		return -ENOMEM;
	memcpy(g->fp, f->fp, f->fp_len);
	g->fp_len = f->fp_len;
	g->size = r->size;
	g->compressed = r->compressed;
	g->first = r - s->recs;
	g->members = 1;
	g->hash = h;
	htab_set(&s->fp_tab, slot, s->nr_groups++, h);
	r->group = s->nr_groups - 1;
	r->member = true;
	return 0;
}

/* The content digest of the record being added (NULL: unknown). */
static int note_sha(struct erofs_share *s, const u8 *digest)
{
	u64 old = s->rec_sha ? s->cap_rec_sha : 0;
	int ret;

	ret = erofs_grow_array(&s->rec_sha, &s->cap_rec_sha, s->nr_recs + 1,
		   sizeof(*s->rec_sha));
	if (ret)
		return ret;
	/* the records before the first digest know none */
	if (!old)
		for (u64 i = 0; i < s->nr_recs; i++)
			s->rec_sha[i] = -1;
	s->rec_sha[s->nr_recs] = -1;
	if (!digest)
		return 0;
	ret = erofs_grow_array(&s->shas, &s->cap_shas, s->nr_shas + 1,
		   sizeof(*s->shas));
	if (ret)
		return ret;
	memcpy(s->shas[s->nr_shas], digest, EROFS_SHA256_SIZE);
	s->rec_sha[s->nr_recs] = s->nr_shas++;
	return 0;
}

int erofs_share_add_file(struct erofs_share *s,
			 const struct erofs_share_file *f)
{
	struct erofs_share_image *im;
	struct rec *r;
	u64 pages = pages_of(s, f->size);
	bool holds;
	int ret;

	if (s->sink)
		return s->sink->file(s->sink_arg, f);
	if (!s->nr_images || s->finished)
		return -EINVAL;
	if (s->nr_recs >= UINT32_MAX - 1)
		return -EFBIG;
	im = &s->images[s->nr_images - 1];
	ret = erofs_grow_array(&s->recs, &s->cap_recs, s->nr_recs + 1,
		   sizeof(*s->recs));
	if (ret)
		return ret;
	r = &s->recs[s->nr_recs];
	memset(r, 0, sizeof(*r));
	r->size = f->size;
	r->img = s->nr_images - 1;
	r->group = -1;
	r->parent = s->nr_recs;
	r->compressed = f->compressed;
	if (!im->fp_name)
		r->nofp = EROFS_SHARE_FP_NOT_READY;
	else
		r->nofp = f->fp ? EROFS_SHARE_FP_OK : f->nofp;
	ret = intern_path(s, f->path ? f->path : "", &r->path);
	if (ret)
		return ret;
	if (f->content_sha256 || s->rec_sha) {
		ret = note_sha(s, f->content_sha256);
		if (ret)
			return ret;
	}
	s->nr_recs++;

	im->files++;
	im->links++;
	im->bytes += f->size;
	im->page_bytes += pages;
	im->compressed_files += f->compressed;
	/* empty files hold nothing; fingerprints are not written for them */
	if (f->fp && im->fp_name) {
		ret = join_group(s, r, f);
		if (ret)
			return ret;
		im->fingerprinted += f->size > 0;
	} else if (f->size) {
		im->nofp_files++;
		im->nofp_bytes += pages;
		im->nofp[r->nofp]++;
	}
	/* with sharing, a copy is held once: by its first member */
	holds = !r->member || s->groups[r->group].first == s->nr_recs - 1;
	if (holds)
		im->added_bytes += pages;
	return 0;
}

void erofs_share_prefetch(const struct erofs_share *s,
			  const struct erofs_share_file *f)
{
	const char *path = f->path ? f->path : "";

	if (s->sink)
		return;
	if (s->path_tab.cap)
		__builtin_prefetch(
			&s->path_tab.slot[hash_bytes(path, strlen(path),
						     HASH_SEED) &
					  (s->path_tab.cap - 1)]);
	if (f->fp && s->fp_tab.cap)
		__builtin_prefetch(&s->fp_tab.slot[hash_bytes(f->fp, f->fp_len,
							      HASH_SEED) &
						   (s->fp_tab.cap - 1)]);
}

void erofs_share_add_link(struct erofs_share *s)
{
	if (s->sink)
		s->sink->link(s->sink_arg);
	else if (s->nr_images)
		s->images[s->nr_images - 1].links++;
}

void erofs_share_add_dir(struct erofs_share *s, u64 size)
{
	struct erofs_share_image *im;

	if (s->sink)
		return s->sink->dir(s->sink_arg, size);
	if (!s->nr_images)
		return;
	im = &s->images[s->nr_images - 1];
	im->dirs++;
	im->dir_bytes += pages_of(s, size);
}

void erofs_share_add_verified(struct erofs_share *s, bool matched)
{
	if (s->sink)
		return s->sink->verified(s->sink_arg, matched);
	if (!s->nr_images)
		return;
	if (matched)
		s->images[s->nr_images - 1].verified++;
	else
		s->images[s->nr_images - 1].mismatched++;
}

void erofs_share_add_left_out(struct erofs_share *s, u64 damaged,
			      u64 over_bound)
{
	if (s->nr_images) {
		s->images[s->nr_images - 1].left_damaged += damaged;
		s->images[s->nr_images - 1].left_over_bound += over_bound;
	}
}

void erofs_share_add_unverified(struct erofs_share *s)
{
	if (s->sink)
		s->sink->verified(s->sink_arg, -1);
	else if (s->nr_images)
		s->images[s->nr_images - 1].unverified++;
}

/* --- the rebuild estimate: union-find over records ------------------------ */

static u32 uf_find(struct rec *recs, u32 i)
{
	while (recs[i].parent != i) {
		recs[i].parent = recs[recs[i].parent].parent;
		i = recs[i].parent;
	}
	return i;
}

static void uf_union(struct rec *recs, u32 a, u32 b)
{
	a = uf_find(recs, a);
	b = uf_find(recs, b);
	if (a != b)
		recs[a > b ? a : b].parent = a > b ? b : a;
}

/* Keys for the union tables: what a rebuild would fingerprint alike. */
struct key_probe {
	const struct erofs_share *s;
	int kind; /* 0: fingerprint + size, 1: content digest, 2: path + size */
	const struct rec *r;
};

static bool key_eq_rec(const struct erofs_share *s, int kind,
		       const struct rec *a, const struct rec *b)
{
	switch (kind) {
	case 0:
		return a->group == b->group && a->size == b->size;
	case 1:
		return !memcmp(s->shas[rec_sha(s, a - s->recs)],
			       s->shas[rec_sha(s, b - s->recs)],
			       EROFS_SHA256_SIZE);
	default:
		return a->size == b->size && a->path == b->path;
	}
}

static u64 key_hash_rec(const struct erofs_share *s, int kind,
			const struct rec *r)
{
	switch (kind) {
	case 0:
		return hash_bytes(&r->group, sizeof(r->group),
				  hash_bytes(&r->size, 8, HASH_SEED));
	case 1:
		return hash_bytes(s->shas[rec_sha(s, r - s->recs)],
				  EROFS_SHA256_SIZE, HASH_SEED);
	default:
		return hash_bytes(&r->path, sizeof(r->path),
				  hash_bytes(&r->size, 8, HASH_SEED));
	}
}

static bool key_eq(const void *ctx, u32 idx)
{
	const struct key_probe *p = ctx;

	return key_eq_rec(p->s, p->kind, &p->s->recs[idx], p->r);
}

static u64 key_hash(const void *ctx, u32 idx)
{
	const struct key_probe *p = ctx;

	return key_hash_rec(p->s, p->kind, &p->s->recs[idx]);
}

/* Whether the rebuild would know the record's content exactly. */
static bool rec_keyed(const struct erofs_share *s, const struct rec *r)
{
	return rec_sha(s, r - s->recs) >= 0 || r->group >= 0;
}

/*
 * Union records of one key kind; for path + size only files whose
 * content is unknown join, and at most one file with a known content.
 */
static int union_by(struct erofs_share *s, int kind, u64 *guessed)
{
	struct htab t = { 0 };
	struct key_probe p = { s, kind, NULL };
	/* for paths: whether the anchor was bound to a keyed record */
	u8 *bound = NULL;
	int ret = 0;

	if (kind == 2) {
		bound = calloc(s->nr_recs ? s->nr_recs : 1, 1);
		if (!bound)
			return -ENOMEM;
	}
	for (u64 i = 0; i < s->nr_recs; i++) {
		struct rec *r = &s->recs[i];
		u64 slot, h;
		u32 anchor;

		if (!r->size)
			continue;
		if ((kind == 0 && r->group < 0) ||
		    (kind == 1 && rec_sha(s, i) < 0))
			continue;
		if ((t.n + 1) * 2 > t.cap) {
			p.r = NULL;
			ret = htab_grow(&t, key_hash, &p);
			if (ret)
				break;
		}
		p.r = r;
		h = key_hash_rec(s, kind, r);
		slot = htab_find(&t, h, key_eq, &p);
		if (!t.slot[slot].idx) {
			htab_set(&t, slot, i, h);
			t.n++;
			continue;
		}
		anchor = t.slot[slot].idx - 1;
		if (kind < 2) {
			uf_union(s->recs, anchor, i);
		} else if (!rec_keyed(s, r)) {
			uf_union(s->recs, anchor, i);
			++*guessed;
		} else if (!rec_keyed(s, &s->recs[anchor]) && !bound[anchor]) {
			uf_union(s->recs, anchor, i);
			bound[anchor] = 1;
			++*guessed;
		}
	}
	free(t.slot);
	free(bound);
	return ret;
}

static int rebuild_estimate(struct erofs_share *s)
{
	u64 guessed = 0;
	int ret;

	for (u64 i = 0; i < s->nr_recs; i++)
		s->recs[i].parent = i;
	ret = union_by(s, 0, &guessed);
	if (!ret)
		ret = union_by(s, 1, &guessed);
	if (!ret)
		ret = union_by(s, 2, &guessed);
	if (ret)
		return ret;
	s->r.rebuild_guessed_files = guessed;
	s->r.rebuild_shared_bytes = 0;
	for (u64 i = 0; i < s->nr_recs; i++)
		if (uf_find(s->recs, i) == i)
			s->r.rebuild_shared_bytes +=
				pages_of(s, s->recs[i].size);
	return 0;
}

/* --- storage: devices known to be the same, and the bytes images use --- */

static u32 dev_find(struct sdev *devs, u32 i)
{
	while (devs[i].parent != i) {
		devs[i].parent = devs[devs[i].parent].parent;
		i = devs[i].parent;
	}
	return i;
}

static void dev_union(struct sdev *devs, u32 a, u32 b)
{
	a = dev_find(devs, a);
	b = dev_find(devs, b);
	if (a != b)
		devs[a > b ? a : b].parent = a > b ? b : a;
}

static int dev_file_cmp(const void *a, const void *b, void *arg)
{
	const struct sdev *x = &((struct sdev *)arg)[*(const u32 *)a];
	const struct sdev *y = &((struct sdev *)arg)[*(const u32 *)b];

	if (x->file_dev != y->file_dev)
		return x->file_dev < y->file_dev ? -1 : 1;
	if (x->file_ino != y->file_ino)
		return x->file_ino < y->file_ino ? -1 : 1;
	if (x->file_offset != y->file_offset)
		return x->file_offset < y->file_offset ? -1 : 1;
	if (!x->host || !y->host)
		return !!x->host - !!y->host;
	return strcmp(x->host, y->host);
}

static int dev_tag_cmp(const void *a, const void *b, void *arg)
{
	const struct sdev *x = &((struct sdev *)arg)[*(const u32 *)a];
	const struct sdev *y = &((struct sdev *)arg)[*(const u32 *)b];

	if (!x->tag || !y->tag)
		return !!x->tag - !!y->tag;
	return strcmp(x->tag, y->tag);
}

/* Join devices held by the same file at the same place, or tagged alike. */
static int join_devices(struct erofs_share *s)
{
	u32 *order = malloc((s->nr_devs ? s->nr_devs : 1) * sizeof(*order));

	if (!order)
		return -ENOMEM;
	for (u64 i = 0; i < s->nr_devs; i++)
		order[i] = i;
	qsort_r(order, s->nr_devs, sizeof(*order), dev_file_cmp, s->devs);
	for (u64 i = 1; i < s->nr_devs; i++) {
		const struct sdev *a = &s->devs[order[i - 1]];

		if ((a->file_dev || a->file_ino) &&
		    !dev_file_cmp(&order[i - 1], &order[i], s->devs))
			dev_union(s->devs, order[i - 1], order[i]);
	}
	qsort_r(order, s->nr_devs, sizeof(*order), dev_tag_cmp, s->devs);
	for (u64 i = 1; i < s->nr_devs; i++)
		if (s->devs[order[i - 1]].tag &&
		    !dev_tag_cmp(&order[i - 1], &order[i], s->devs))
			dev_union(s->devs, order[i - 1], order[i]);
	free(order);
	return 0;
}

struct sevent {
	u32 dev; /* the device's representative */
	u32 img;
	u64 pos;
	int delta;
};

static int event_cmp(const void *a, const void *b)
{
	const struct sevent *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->pos != y->pos)
		return x->pos < y->pos ? -1 : 1;
	return x->delta - y->delta;
}

/*
 * Sweep every device's ranges in order, counting for each stretch how many
 * images use it: each image's bytes once however often its files name
 * them, the union, and what two images or more have in common.
 */
static int storage_figures(struct erofs_share *s)
{
	struct erofs_share_report *r = &s->r;
	u64 *cover = calloc(s->nr_images ? s->nr_images : 1, sizeof(*cover));
	struct sevent *ev = malloc((s->nr_exts ? s->nr_exts : 1) * 2 *
				   sizeof(*ev));
	unsigned int active = 0;
	u64 n = 0;
	int ret = -ENOMEM;

	if (!cover || !ev)
		goto out;
	ret = join_devices(s);
	if (ret)
		goto out;
	for (u64 i = 0; i < s->nr_exts; i++) {
		const struct sext *e = &s->exts[i];
		u32 root = dev_find(s->devs, e->dev);

		ev[n++] = (struct sevent){ root, e->img, e->start, 1 };
		ev[n++] = (struct sevent){ root, e->img, e->end, -1 };
	}
	qsort(ev, n, sizeof(*ev), event_cmp);
	for (u64 i = 0; i < n; i++) {
		if (i && active && ev[i].pos > ev[i - 1].pos) {
			u64 len = ev[i].pos - ev[i - 1].pos;

			r->storage_bytes += len;
			if (active > 1)
				r->storage_shared_bytes += len;
			for (unsigned int k = 0; k < s->nr_images; k++) {
				if (!cover[k])
					continue;
				s->images[k].storage_bytes += len;
				if (active > 1)
					s->images[k].storage_shared_bytes +=
						len;
			}
		}
		/* a device's ranges all close before the next one's open */
		if (ev[i].delta > 0 && !cover[ev[i].img]++)
			active++;
		else if (ev[i].delta < 0 && !--cover[ev[i].img])
			active--;
	}
	for (unsigned int k = 0; k < s->nr_images; k++)
		r->storage_referenced_bytes += s->images[k].storage_bytes;
	ret = 0;
out:
	free(cover);
	free(ev);
	return ret;
}

/* --- figures -------------------------------------------------------------- */

struct top_key {
	u64 saving, size;
	u32 group;
};

/* Most saved first; ties by size, then fingerprint, for stable output. */
static int top_cmp(const void *a, const void *b, void *arg)
{
	const struct top_key *x = a, *y = b;
	const struct erofs_share *s = arg;
	const struct group *gx = &s->groups[x->group];
	const struct group *gy = &s->groups[y->group];

	if (x->saving != y->saving)
		return x->saving < y->saving ? 1 : -1;
	if (x->size != y->size)
		return x->size < y->size ? 1 : -1;
	if (gx->fp_len != gy->fp_len)
		return gx->fp_len < gy->fp_len ? -1 : 1;
	return memcmp(gx->fp, gy->fp, gx->fp_len);
}

static int fill_top(struct erofs_share *s)
{
	struct erofs_share_report *r = &s->r;
	struct top_key *keys;
	int32_t *slot_of;
	u64 n = 0;
	int ret = -ENOMEM;

	if (!s->o.top || !r->shared_contents)
		return 0;
	keys = malloc(r->shared_contents * sizeof(*keys));
	slot_of = malloc(s->nr_groups * sizeof(*slot_of));
	if (!keys || !slot_of)
		goto out;
	for (u64 i = 0; i < s->nr_groups; i++) {
		const struct group *g = &s->groups[i];

		slot_of[i] = -1;
		if (g->members < 2)
			continue;
		keys[n].saving = pages_of(s, g->size) * (g->members - 1);
		keys[n].size = g->size;
		keys[n].group = i;
		n++;
	}
	qsort_r(keys, n, sizeof(*keys), top_cmp, s);
	r->nr_top = min_t(u64, n, s->o.top);
	r->top = calloc(r->nr_top, sizeof(*r->top));
	if (!r->top) {
		r->nr_top = 0;
		goto out;
	}
	for (unsigned int k = 0; k < r->nr_top; k++) {
		struct erofs_share_content *c = &r->top[k];
		const struct group *g = &s->groups[keys[k].group];

		slot_of[keys[k].group] = k;
		c->fp = g->fp;
		c->fp_len = g->fp_len;
		c->size = g->size;
		c->compressed = g->compressed;
		c->members = g->members;
		c->saving_bytes = keys[k].saving;
		c->per_image = calloc(s->nr_images, sizeof(*c->per_image));
		c->sample = calloc(s->nr_images, sizeof(*c->sample));
		if (!c->per_image || !c->sample)
			goto out;
	}
	for (u64 i = 0; i < s->nr_recs; i++) {
		const struct rec *rc = &s->recs[i];
		struct erofs_share_content *c;

		if (!rc->member || slot_of[rc->group] < 0)
			continue;
		c = &r->top[slot_of[rc->group]];
		c->per_image[rc->img]++;
		if (!c->sample[rc->img])
			c->sample[rc->img] = s->paths[rc->path];
	}
	ret = 0;
out:
	free(keys);
	free(slot_of);
	return ret;
}

int erofs_share_finish(struct erofs_share *s,
		       const struct erofs_share_report **out)
{
	struct erofs_share_report *r = &s->r;
	int ret;

	if (s->finished) {
		*out = r;
		return 0;
	}
	if (s->sink)
		return -EINVAL;
	r->page_size = s->o.page_size;
	r->nr_images = s->nr_images;
	r->images = s->images;
	for (u64 i = 0; i < s->nr_recs; i++) {
		struct rec *rc = &s->recs[i];

		if (rc->member && s->groups[rc->group].members > 1)
			s->images[rc->img].shareable_bytes +=
				pages_of(s, rc->size);
	}
	for (unsigned int i = 0; i < s->nr_images; i++) {
		struct erofs_share_image *im = &s->images[i];

		r->files += im->files;
		r->total_bytes += im->bytes;
		r->noshare_bytes += im->page_bytes;
		r->shared_bytes += im->added_bytes;
		r->dir_bytes += im->dir_bytes;
		if (im->fp_name) {
			r->nofp_files += im->nofp_files;
			r->nofp_bytes += im->nofp_bytes;
		} else {
			r->notready_files += im->nofp_files;
			r->notready_bytes += im->nofp_bytes;
		}
		r->verified += im->verified;
		r->mismatched += im->mismatched;
		r->unverified += im->unverified;
		r->left_damaged += im->left_damaged;
		r->left_over_bound += im->left_over_bound;
	}
	r->saving_bytes = r->noshare_bytes - r->shared_bytes;
	r->saving_percent = r->noshare_bytes
				    ? 100.0 * r->saving_bytes / r->noshare_bytes
				    : 0;
	for (u64 i = 0; i < s->nr_groups; i++)
		r->shared_contents += s->groups[i].members > 1;
	r->conflicts = s->conflicts;
	r->nr_conflicts = s->nr_conflicts;
	ret = fill_top(s);
	if (!ret)
		ret = rebuild_estimate(s);
	if (!ret)
		ret = storage_figures(s);
	if (ret)
		return ret;
	s->finished = true;
	*out = r;
	return 0;
}

unsigned int erofs_share_nr_images(const struct erofs_share *s)
{
	return s->nr_images;
}

u64 erofs_share_nr_contents(const struct erofs_share *s)
{
	return s->nr_groups;
}

int erofs_share_foreach_file(const struct erofs_share *s,
			     int (*fn)(void *arg,
				       const struct erofs_share_member *m),
			     void *arg)
{
	struct erofs_share_member m;
	int ret;

	for (u64 i = 0; i < s->nr_recs; i++) {
		const struct rec *r = &s->recs[i];

		m.image = r->img;
		m.size = r->size;
		m.compressed = r->compressed;
		m.content = r->group;
		ret = fn(arg, &m);
		if (ret)
			return ret;
	}
	return 0;
}

/* --- reading an image ----------------------------------------------------- */

struct scan {
	struct erofs_share *s;
	struct erofs_image *img;
	u8 fp_base; /* base index of the fingerprint's name */
	u8 *fp;	    /* the value found, up to 65535 bytes */
	int fp_len; /* -1: none found */
	u8 *buf;    /* data for verify */
	u64 problems;
	u64 over_bound; /* files verify left unread: a bound was reached */
	int err;
};

#define VERIFY_CHUNK (1U << 20)

/*
 * Warn about "path" of the image being scanned with its control bytes
 * escaped: names come from the image and must not drive a terminal.
 */
static void __printf(3, 4)
	scan_warn(struct scan *sc, const char *path, const char *fmt, ...)
{
	char *img = NULL, *name = NULL, *msg = NULL;
	size_t len;
	va_list ap;
	FILE *m;

	m = open_memstream(&img, &len);
	if (m) {
		erofs_fputs_escaped(sc->img->path, strlen(sc->img->path), m);
		fclose(m);
	}
	m = open_memstream(&name, &len);
	if (m) {
		erofs_fputs_escaped(path, strlen(path), m);
		fclose(m);
	}
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	erofs_warn("%s: %s: %s", img ? img : "?", name ? name : "?",
		   msg ? msg : fmt);
	free(img);
	free(name);
	free(msg);
}

/* The kernel's match: same short prefix, same full name; first wins. */
static int find_fp(void *arg, const struct erofs_xattr_ref *x)
{
	struct scan *sc = arg;

	if (x->base_index != sc->fp_base ||
	    strcmp(x->name, sc->img->ishare_name))
		return 0;
	memcpy(sc->fp, x->value, x->value_len);
	sc->fp_len = x->value_len;
	return 1;
}

/*
 * Hash the content: 0 with the digest, 1 when this build cannot, 2 when a
 * bound of the run (img->budget) stops it, 3 when the data is damaged
 * (*why says how); holes are hashed unread.
 */
static int hash_content(struct scan *sc, const struct erofs_rinode *ri,
			u8 digest[EROFS_SHA256_SIZE], const char **why)
{
	static const u8 zeros[65536];
	struct erofs_sha256 sha;
	u64 pos = 0;
	int ret;

	if (!erofs_sha256_available() || !erofs_data_readable(ri))
		return 1;
	ret = erofs_sha256_init(&sha);
	if (ret)
		return ret;
	while (pos < ri->i.size) {
		struct erofs_map m;
		u64 end;

		ret = erofs_map_data(sc->img, ri, pos, &m, why);
		if (ret)
			goto out;
		end = m.la + m.llen;
		if (m.kind == EROFS_MAP_HOLE) {
			ret = erofs_budget_hash_holes(sc->img->budget,
						      end - pos, why);
			if (ret)
				goto out;
			for (; pos < end; pos += min_t(u64, end - pos,
						       sizeof(zeros)))
				erofs_sha256_update(&sha, zeros,
						    min_t(u64, end - pos,
							  sizeof(zeros)));
			continue;
		}
		for (; pos < end; pos += min_t(u64, VERIFY_CHUNK, end - pos)) {
			size_t n = min_t(u64, VERIFY_CHUNK, end - pos);

			ret = erofs_read_data(sc->img, ri, sc->buf, n, pos,
					      why);
			if (ret)
				goto out;
			erofs_sha256_update(&sha, sc->buf, n);
		}
	}
	erofs_sha256_final(&sha, digest);
out:
	erofs_sha256_free(&sha);
	if (ret == -ENOMEM)
		return ret;
	return ret == -EDQUOT ? 2 : ret ? 3 : 0;
}

/* The ranges of extra devices a file's data lies in, for the storage. */
static int add_device_extents(struct scan *sc,
			      const struct erofs_walk_entry *e)
{
	const struct erofs_rinode *ri = e->inode;
	const char *why = NULL;
	u64 pos = 0;
	int ret;

	if (ri->i.datalayout != EROFS_INODE_CHUNK_BASED &&
	    !(ri->i.datalayout == EROFS_INODE_FLAT_PLAIN && ri->data_dev) &&
	    !(ri->i.datalayout == EROFS_INODE_FLAT_INLINE && ri->data_dev))
		return 0;
	while (pos < ri->i.size) {
		struct erofs_map m;

		ret = erofs_map_data(sc->img, ri, pos, &m, &why);
		if (ret == -ENOMEM)
			return ret;
		if (ret) {
			sc->problems++;
			scan_warn(sc, e->path,
				  "data at offset %llu: %s; left out of the storage figures",
				  (unsigned long long)pos, why ? why : "");
			return 0;
		}
		if (m.kind == EROFS_MAP_MAPPED && m.dev) {
			ret = erofs_share_add_extent(
				sc->s, m.dev, m.pa,
				round_up(m.llen, (u64)sc->img->blksz));
			if (ret)
				return ret;
		}
		pos = m.la + m.llen;
	}
	return 0;
}

/* The image's devices: where each keeps its bytes, and its tag. */
static int add_devices(struct erofs_share *s, struct erofs_image *img)
{
	struct erofs_share_device d = { .file_offset = img->offset };
	u64 primary = img->sb.blocks << img->blkszbits;
	struct stat st;
	int ret;

	if (!fstat(img->fd, &st)) {
		d.file_dev = st.st_dev;
		d.file_ino = st.st_ino;
	}
	if (!primary || primary > img->size)
		primary = img->size;
	ret = erofs_share_add_device(s, &d, primary);
	for (unsigned int i = 0; i < img->nr_devices && !ret; i++) {
		const struct erofs_device *v = &img->devices[i];
		int fd = v->fd >= 0 ? v->fd : img->fd;

		d.file_dev = d.file_ino = 0;
		if (!fstat(fd, &st)) {
			d.file_dev = st.st_dev;
			d.file_ino = st.st_ino;
		}
		d.file_offset = v->offset;
		d.tag = v->tag;
		ret = erofs_share_add_device(s, &d, 0);
	}
	return ret;
}

static int scan_file(struct scan *sc, const struct erofs_walk_entry *e)
{
	const struct erofs_rinode *ri = e->inode;
	struct erofs_share_file f = {
		.path = e->path,
		.size = ri->i.size,
		.compressed = erofs_layout_is_compressed(ri->i.datalayout),
	};
	u8 digest[EROFS_SHA256_SIZE], want[EROFS_SHA256_SIZE];
	const char *why = NULL;
	int ret;

	if (sc->img->ishare_name) {
		sc->fp_len = -1;
		ret = erofs_xattr_foreach(sc->img, ri, find_fp, sc, &why);
		if (ret < 0) {
			/* the kernel may well fail the same lookup */
			f.nofp = EROFS_SHARE_FP_UNREADABLE;
			sc->problems++;
			scan_warn(sc, e->path,
				  "xattrs: %s; counted as not shared",
				  why ? why : "");
		} else if (sc->fp_len < 0) {
			f.nofp = EROFS_SHARE_FP_ABSENT;
		} else if (!sc->fp_len) {
			f.nofp = EROFS_SHARE_FP_EMPTY;
		} else if ((u32)sc->fp_len > sc->img->blksz) {
			f.nofp = EROFS_SHARE_FP_TOO_LONG;
		} else {
			f.fp = sc->fp;
			f.fp_len = sc->fp_len;
		}
	}
	if ((sc->s->o.verify || (sc->s->o.hash_missing && !f.fp)) && f.size) {
		ret = hash_content(sc, ri, digest, &why);
		if (ret < 0)
			return ret;
		if (ret == 2 && !sc->over_bound++)
			scan_warn(sc, e->path, "content not verified: %s", why);
		if (ret == 3) {
			sc->problems++;
			scan_warn(sc, e->path, "data: %s; content not verified",
				  why ? why : "");
		}
		if (!ret)
			f.content_sha256 = digest;
		if (f.fp && !ret &&
		    !erofs_fingerprint_parse(f.fp, f.fp_len, want)) {
			bool ok = !memcmp(want, digest, sizeof(digest));

			erofs_share_add_verified(sc->s, ok);
			if (!ok)
				scan_warn(
					sc, e->path,
					"content does not match its fingerprint");
		} else if (f.fp) {
			erofs_share_add_unverified(sc->s);
		}
	}
	if (sc->img->nr_devices) {
		ret = add_device_extents(sc, e);
		if (ret)
			return ret;
	}
	return erofs_share_add_file(sc->s, &f);
}

static int scan_visit(void *arg, const struct erofs_walk_entry *e)
{
	struct scan *sc = arg;
	u32 mode = e->inode->i.mode;

	if (S_ISDIR(mode)) {
		erofs_share_add_dir(sc->s, e->inode->i.size);
		return 0;
	}
	if (!S_ISREG(mode))
		return 0;
	if (e->seen) {
		erofs_share_add_link(sc->s);
		return 0;
	}
	return scan_file(sc, e);
}

static void scan_problem(void *arg, const char *path, erofs_nid_t nid, int err,
			 const char *msg)
{
	struct scan *sc = arg;

	if (!err)
		return;
	sc->problems++;
	scan_warn(sc, path, "%s", msg);
}

int erofs_share_scan_image(struct erofs_share *s, struct erofs_image *img)
{
	static const struct erofs_walk_ops ops = {
		.visit = scan_visit,
		.problem = scan_problem,
	};
	struct scan sc = { .s = s, .img = img };
	struct erofs_walk_stats st = { 0 };
	int ret;

	ret = erofs_share_add_image(s, img->path, img->ishare_name);
	if (!ret)
		ret = add_devices(s, img);
	if (ret)
		return ret;
	if (img->ishare_name)
		sc.fp_base = img->prefixes[img->sb.ishare_xattr_prefix_id]
				     .base_index;
	sc.fp = malloc(EROFS_XATTR_VALUE_MAX);
	if (s->o.verify || s->o.hash_missing)
		sc.buf = malloc(VERIFY_CHUNK);
	if (!sc.fp || ((s->o.verify || s->o.hash_missing) && !sc.buf)) {
		ret = -ENOMEM;
		goto out;
	}
	ret = erofs_walk(img, img->sb.root_nid, "/", &ops, &sc, &st);
	if (ret)
		erofs_fail(ret, "%s: cannot walk the image: %s", img->path,
			   strerror(-ret));
	else if (sc.problems)
		erofs_warn(
			"%s: %llu problems while reading; the figures leave the damaged parts out",
			img->path, (unsigned long long)sc.problems);
	if (!ret && sc.over_bound > 1)
		erofs_warn("%s: %llu files in all not verified at the bound",
			   img->path, (unsigned long long)sc.over_bound);
	erofs_share_add_left_out(s, sc.problems, sc.over_bound);
out:
	free(sc.fp);
	free(sc.buf);
	return ret;
}
