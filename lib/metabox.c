// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The metabox (-m): inode records kept in the data of an inode of their
 * own, compressed like a file, instead of plainly in the metadata area.
 * A nid with EROFS_DIRENT_NID_METABOX_BIT counts 32-byte slots of that
 * data; the metabox inode itself stays in the metadata area, where the
 * superblock names it. The long prefix table opens the metabox unless
 * -Eplain-xattr-prefixes keeps it after the superblock.
 *
 * The records are encoded once everything they point to is placed: file
 * data, directory blocks and the packed inode come first.
 */
#include <stdlib.h>
#include <string.h>

#include "erofs/error.h"
#include "erofs/format.h"
#include "erofs/stages.h"

int erofs_metabox_write(struct erofs_build *b)
{
	const struct erofs_compress_opts *o = b->zi ? b->zi->opts : NULL;
	struct erofs_tree *t = b->tree;
	struct erofs_node *n;
	u8 *buf;

	if (!b->opts->metabox)
		return 0;
	buf = calloc(1, max_t(u64, b->mbox_size, 1));
	if (!buf)
		return -ENOMEM;
	if (b->prefixes_in_metabox && erofs_xattr_uses_long_prefixes(b->xattrs))
		erofs_xattr_encode_prefix_table(
			b->xattrs, buf + b->prefix_start * EROFS_XATTR_UNIT);
	for (u64 i = 0; i < t->nr_order; i++) {
		struct erofs_node_layout *L = &t->order[i]->L;

		if (!L->in_metabox)
			continue;
		erofs_build_encode_record(b, t->order[i], buf + L->meta_pos);
		/* encoded: the tails need not stay in memory twice */
		free(L->tail);
		L->tail = NULL;
		free(L->extra);
		L->extra = NULL;
	}
	n = erofs_layout_add_special(b, buf, b->mbox_size);
	if (!n) {
		free(buf);
		return -ENOMEM;
	}
	b->metabox = n;
	b->feature_incompat |= EROFS_FEATURE_INCOMPAT_METABOX;
	return erofs_build_write_special(
		b, n, o ? o->metabox_alg : 0,
		o ? o->metabox_pclustersize >> b->opts->blkszbits : 0);
}
