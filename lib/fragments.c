// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The packed inode (erofs/fragments.h): fragments gathered in memory in
 * commit order, identical ones found through a hash index (lib/
 * hash_index.c), and the inode written once everything is in.
 */
#include <stdlib.h>
#include <string.h>

#include "erofs/array.h"
#include "erofs/dedupe.h"
#include "erofs/error.h"
#include "erofs/fragments.h"
#include "erofs/hash_index.h"
#include "erofs/stages.h"

struct erofs_fragments {
	u8 *buf;
	u64 size, cap;
	struct frag {
		u64 off;
		u32 len;
	} * frags; /* the shared ones */
	u64 nfrags, frags_cap;
	struct erofs_hash_index index; /* content hash -> frags[] */
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

int erofs_fragments_add_shared(struct erofs_fragments *fr, const u8 *p, u32 len,
			       u64 *off)
{
	u64 h = erofs_content_hash(p, len) ^ len;
	u64 cursor = EROFS_HASH_INDEX_START, k;
	int ret = erofs_hash_index_reserve(&fr->index);

	if (!ret)
		ret = erofs_grow_array(&fr->frags, &fr->frags_cap,
				       fr->nfrags + 1, sizeof(*fr->frags));
	if (ret)
		return ret;
	while (erofs_hash_index_next(&fr->index, h, &cursor, &k)) {
		struct frag *f = &fr->frags[k];

		if (f->len == len && !memcmp(fr->buf + f->off, p, len)) {
			*off = f->off;
			return 0;
		}
	}
	*off = fr->size;
	ret = erofs_fragments_append(fr, p, len);
	if (ret)
		return ret;
	fr->frags[fr->nfrags] = (struct frag){ .off = *off, .len = len };
	erofs_hash_index_add(&fr->index, h, fr->nfrags++);
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
	free(b->fragments->frags);
	erofs_hash_index_free(&b->fragments->index);
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
