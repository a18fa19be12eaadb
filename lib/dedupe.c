// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * -E dedupe (erofs/dedupe.h): committed compressed files, indexed by
 * content hash; a hit is confirmed byte for byte from the sources before a
 * file takes over another's clusters.
 */
#include <stdlib.h>
#include <string.h>

#include "erofs/array.h"
#include "erofs/dedupe.h"
#include "erofs/hash_index.h"
#include "erofs/stages.h"

#ifdef HAVE_XXHASH
#include <xxhash.h>
#endif

u64 erofs_content_hash(const void *p, u64 len)
{
#ifdef HAVE_XXHASH
	return XXH3_64bits(p, len);
#else
	const u8 *b = p;
	u64 h = 0xcbf29ce484222325ULL; /* FNV-1a */

	for (u64 i = 0; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
#endif
}

struct erofs_dedupe {
	struct done {
		struct erofs_node *n;
		struct erofs_zextent *ext;
		u32 next;
		u64 blocks, frag_off;
		erofs_blk_t first_blk;
	} * done;
	u64 ndone, cap;
	struct erofs_hash_index index; /* content hash -> done[] */
};

int erofs_dedupe_new(struct erofs_dedupe **dd)
{
	*dd = calloc(1, sizeof(**dd));
	return *dd ? 0 : -ENOMEM;
}

void erofs_dedupe_free(struct erofs_dedupe *dd)
{
	if (!dd)
		return;
	for (u64 i = 0; i < dd->ndone; i++)
		free(dd->done[i].ext);
	free(dd->done);
	erofs_hash_index_free(&dd->index);
	free(dd);
}

/* Read "len" bytes of a node's content at "off". */
static int read_node(struct erofs_build *b, struct erofs_node *n, u8 *buf,
		     u64 len, u64 off)
{
	struct erofs_data_src s;
	int ret;

	if (n->data_kind == EROFS_DATA_MEM) {
		memcpy(buf, n->src.mem + off, len);
		return 0;
	}
	ret = erofs_src_open(b, n, &s);
	if (ret)
		return ret;
	ret = erofs_src_read(&s, buf, len, off);
	erofs_src_close(&s);
	return ret;
}

/* Whether two files of equal size hold the same bytes (1), or not (0). */
static int same_content(struct erofs_build *b, struct erofs_node *x,
			struct erofs_node *y)
{
	const u64 chunk = 1 << 20;
	u8 *bx = malloc(chunk), *by = malloc(chunk);
	int ret = 1;

	if (!bx || !by)
		ret = -ENOMEM;
	for (u64 off = 0; ret == 1 && off < x->size; off += chunk) {
		u64 len = min(chunk, x->size - off);

		ret = read_node(b, x, bx, len, off);
		if (!ret)
			ret = read_node(b, y, by, len, off);
		if (!ret)
			ret = !memcmp(bx, by, len);
	}
	free(bx);
	free(by);
	return ret;
}

int erofs_dedupe_add(struct erofs_dedupe *dd, u64 hash, struct erofs_node *n,
		     const struct erofs_zfile *f)
{
	struct done *e;
	int ret = erofs_hash_index_reserve(&dd->index);

	if (!ret)
		ret = erofs_grow_array(&dd->done, &dd->cap, dd->ndone + 1,
				       sizeof(*dd->done));
	if (ret)
		return ret;
	e = &dd->done[dd->ndone];
	*e = (struct done){
		.n = n,
		.ext = malloc(f->n * sizeof(*f->ext)),
		.next = f->n,
		.blocks = f->blocks,
		.frag_off = f->frag_off,
		.first_blk = f->first_blk,
	};
	if (!e->ext)
		return -ENOMEM;
	memcpy(e->ext, f->ext, f->n * sizeof(*f->ext));
	erofs_hash_index_add(&dd->index, hash, dd->ndone++);
	return 0;
}

int erofs_dedupe_find(struct erofs_dedupe *dd, struct erofs_build *b,
		      struct erofs_node *n, u64 hash, struct erofs_zfile *f)
{
	u64 cursor = EROFS_HASH_INDEX_START, k;
	int ret;

	while (erofs_hash_index_next(&dd->index, hash, &cursor, &k)) {
		struct done *e = &dd->done[k];
		struct erofs_zextent *last = &e->ext[e->next - 1];

		if (e->n->size != n->size || e->n->L.zalg != n->L.zalg)
			continue;
		ret = same_content(b, e->n, n);
		if (ret < 0)
			return ret;
		if (!ret)
			continue;
		f->ext = malloc(e->next * sizeof(*f->ext));
		if (!f->ext)
			return -ENOMEM;
		memcpy(f->ext, e->ext, e->next * sizeof(*f->ext));
		f->n = f->cap = e->next;
		f->blocks = e->blocks;
		f->frag_off = e->frag_off;
		f->first_blk = e->first_blk;
		if (last->inlined) {
			/* the inline cluster is copied: each record has one */
			f->idata = malloc(max_t(u32, last->plen, 1));
			if (!f->idata)
				return -ENOMEM;
			memcpy(f->idata, e->n->L.tail, last->plen);
		}
		return 1;
	}
	return 0;
}
