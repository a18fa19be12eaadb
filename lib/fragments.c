// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The packed inode (erofs/fragments.h): fragments gathered in memory in
 * commit order, identical ones found through an open-addressing table,
 * and the inode written once everything is in.
 */
#include <stdlib.h>
#include <string.h>

#include "erofs/array.h"
#include "erofs/dedupe.h"
#include "erofs/error.h"
#include "erofs/fragments.h"
#include "erofs/stages.h"

struct erofs_fragments {
	u8 *buf;
	u64 size, cap;
	struct frag {
		u64 hash, off;
		u32 len; /* 0: a free slot */
	} * tab;
	u64 tab_cap, tab_used;
};

u64 erofs_fragments_size(const struct erofs_fragments *fr)
{
	return fr->size;
}

int erofs_fragments_append(struct erofs_fragments *fr, const u8 *p, u32 len)
{
	if (erofs_grow_array(&fr->buf, &fr->cap, fr->size + len, 1))
		return -ENOMEM;
	memcpy(fr->buf + fr->size, p, len);
	fr->size += len;
	/* the map header's fragment offset has 32 bits */
	if (fr->size > UINT32_MAX)
		return erofs_fail(
			-EFBIG,
			"packed inode beyond 4 GiB: use fewer fragments");
	return 0;
}

static int table_grow(struct erofs_fragments *fr)
{
	u64 cap = fr->tab_cap ? fr->tab_cap * 2 : 1024, i;
	struct frag *nt = calloc(cap, sizeof(*nt));

	if (!nt)
		return -ENOMEM;
	for (u64 k = 0; k < fr->tab_cap; k++) {
		if (!fr->tab[k].len)
			continue;
		for (i = fr->tab[k].hash & (cap - 1); nt[i].len;
		     i = (i + 1) & (cap - 1))
			;
		nt[i] = fr->tab[k];
	}
	free(fr->tab);
	fr->tab = nt;
	fr->tab_cap = cap;
	return 0;
}

int erofs_fragments_add_shared(struct erofs_fragments *fr, const u8 *p, u32 len,
			       u64 *off)
{
	u64 h = erofs_content_hash(p, len) ^ len, i;
	int ret;

	if (fr->tab_used * 2 >= fr->tab_cap) {
		ret = table_grow(fr);
		if (ret)
			return ret;
	}
	for (i = h & (fr->tab_cap - 1); fr->tab[i].len;
	     i = (i + 1) & (fr->tab_cap - 1)) {
		struct frag *f = &fr->tab[i];

		if (f->hash == h && f->len == len &&
		    !memcmp(fr->buf + f->off, p, len)) {
			*off = f->off;
			return 0;
		}
	}
	*off = fr->size;
	ret = erofs_fragments_append(fr, p, len);
	if (ret)
		return ret;
	fr->tab[i] = (struct frag){ .hash = h, .off = *off, .len = len };
	fr->tab_used++;
	return 0;
}

/*
 * The packed inode's data is gathered from the start of the data pass to
 * the end of the directories': the long prefix table (when it goes there)
 * first, 4-byte aligned, then fragments and compressed directories.
 */
struct erofs_fragments *erofs_fragments_get(struct erofs_build *b)
{
	struct erofs_fragments *fr = b->fragments;
	u32 size;

	if (fr)
		return fr;
	fr = calloc(1, sizeof(*fr));
	if (!fr)
		return NULL;
	if (b->prefixes_in_packed &&
	    erofs_xattr_uses_long_prefixes(b->xattrs)) {
		fr->buf = erofs_xattr_prefix_table_alloc(b->xattrs, &size);
		if (!fr->buf) {
			free(fr);
			return NULL;
		}
		fr->size = fr->cap = size;
	}
	b->fragments = fr;
	return fr;
}

int erofs_packed_add(struct erofs_build *b, const u8 *data, u32 len, u64 *off)
{
	struct erofs_fragments *fr = erofs_fragments_get(b);

	if (!fr)
		return -ENOMEM;
	*off = fr->size;
	return erofs_fragments_append(fr, data, len);
}

void erofs_packed_free(struct erofs_build *b)
{
	if (!b->fragments)
		return;
	free(b->fragments->buf);
	free(b->fragments->tab);
	free(b->fragments);
	b->fragments = NULL;
}

/*
 * The packed inode is a regular file of its own, in no directory,
 * compressed like any other (without fragments) once all is in.
 */
int erofs_write_packed(struct erofs_build *b)
{
	const struct erofs_compress_opts *o = b->zi ? b->zi->opts : NULL;
	u32 pcluster = !o			? 0
		       : o->packed_pclustersize ? o->packed_pclustersize
						: o->pclustersize;
	struct erofs_fragments *fr = erofs_fragments_get(b);
	struct erofs_node *n;

	if (!fr)
		return -ENOMEM;
	if (!fr->size)
		return 0;
	n = erofs_layout_add_special(b, fr->buf, fr->size);
	if (!n)
		return -ENOMEM;
	fr->buf = NULL;
	b->packed = n;
	return erofs_build_write_special(b, n, 0,
					 pcluster >> b->opts->blkszbits);
}
