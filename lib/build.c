// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Image building: run the stages in order (tree -> layout -> data ->
 * metadata -> superblock) and move the image into place at the end.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "erofs/build.h"
#include "erofs/dir.h"
#include "erofs/error.h"
#include "erofs/format.h"
#include "erofs/inode.h"
#include "erofs/super.h"

/* Fingerprints are computed, never copied from the source. */
static void mark_fingerprints(struct erofs_build *b)
{
	struct erofs_xattr_table *xt = b->xattrs;
	const char *name;

	if (!b->opts->ishare)
		return;
	name = xt->prefixes[xt->ishare_prefix].prefix;
	for (u64 i = 0; i < b->tree->nr_order; i++) {
		struct erofs_node *n = b->tree->order[i];

		erofs_xattr_remove(xt, n, name);
		n->has_fingerprint = S_ISREG(n->mode) && n->size;
	}
}

static void fill_inode_info(const struct erofs_build *b,
			    const struct erofs_node *n,
			    struct erofs_inode_info *ii)
{
	const struct erofs_node_layout *L = &n->L;
	u64 start = 0;

	memset(ii, 0, sizeof(*ii));
	ii->version = L->version;
	ii->datalayout = L->datalayout;
	ii->xattr_icount = L->xattr_size ? (L->xattr_size - 12) / 4 + 1 : 0;
	ii->mode = n->mode;
	ii->uid = n->uid;
	ii->gid = n->gid;
	ii->nlink = n->nlink;
	ii->size = n->size;
	ii->mtime = n->mtime;
	ii->mtime_nsec = n->mtime_nsec;
	if (L->version == EROFS_INODE_LAYOUT_COMPACT)
		ii->compact_mtime = n->mtime - b->epoch;
	ii->ino = n->ino;
	switch (n->mode & S_IFMT) {
	case S_IFCHR:
	case S_IFBLK:
		ii->i_u = n->rdev;
		break;
	case S_IFREG:
	case S_IFDIR:
	case S_IFLNK:
		if (L->datalayout == EROFS_INODE_CHUNK_BASED)
			ii->i_u = L->i_u_format;
		else if (erofs_layout_is_compressed(L->datalayout))
			ii->i_u = L->compressed_blocks;
		else
			start = L->blkaddr;
		break;
	}
	if (start) {
		ii->i_u = (u32)start;
		/* 48BIT: the top bits, in place of a single link's count */
		ii->nb_hi = start >> 32;
		if (start >= UINT32_MAX && L->version ==
						   EROFS_INODE_LAYOUT_COMPACT)
			ii->format_flags |= 1 << EROFS_I_NLINK_1_BIT;
	}
	if (erofs_node_is_dir(n) && b->opts->dot_omitted)
		ii->format_flags |= 1 << EROFS_I_DOT_OMITTED_BIT;
}

/* Directory data needs the nids, so it is written after the packing. */
static int write_dirs(struct erofs_build *b)
{
	u8 *buf = NULL;
	u64 cap = 0;
	int ret = 0;

	for (u64 i = 0; i < b->tree->nr_order && !ret; i++) {
		struct erofs_node *n = b->tree->order[i];
		struct erofs_node_layout *L = &n->L;
		u64 body = (u64)L->nblocks * b->blksz;

		if (!erofs_node_is_dir(n))
			continue;
		if (round_up(n->size, b->blksz) > cap) {
			u8 *nb;

			cap = round_up(n->size, b->blksz);
			nb = realloc(buf, cap);
			if (!nb) {
				ret = -ENOMEM;
				break;
			}
			buf = nb;
		}
		erofs_dir_encode(n, b->blksz, b->opts->dot_omitted, buf);
		if (L->inline_size) {
			L->tail = malloc(L->inline_size);
			if (!L->tail) {
				ret = -ENOMEM;
				break;
			}
			memcpy(L->tail, buf + n->size - L->inline_size,
			       L->inline_size);
			body = n->size - L->inline_size;
		} else if (n->size % b->blksz) {
			memset(buf + n->size, 0, b->blksz - n->size % b->blksz);
		}
		if (body)
			ret = erofs_output_write(&b->out, buf, body,
						 erofs_pos(b, L->blkaddr));
	}
	free(buf);
	return ret;
}

/* Records in the order they lie in the metadata area. */
static int cmp_meta_pos(const void *a, const void *b)
{
	const struct erofs_node *x = *(struct erofs_node *const *)a;
	const struct erofs_node *y = *(struct erofs_node *const *)b;

	return x->L.meta_pos < y->L.meta_pos ? -1 :
					       x->L.meta_pos > y->L.meta_pos;
}

static void encode_record(struct erofs_build *b, struct erofs_node *n, u8 *p)
{
	struct erofs_node_layout *L = &n->L;
	struct erofs_inode_info ii;

	fill_inode_info(b, n, &ii);
	erofs_inode_encode(&ii, p);
	p += L->inode_size;
	if (L->xattr_size)
		erofs_xattr_encode_ibody(b->xattrs, n, p);
	p += L->xattr_size;
	if (L->extra_size)
		memcpy(p, L->extra, L->extra_size);
	p += L->extra_size;
	if (L->inline_size)
		memcpy(p, L->tail, L->inline_size);
}

/*
 * The metadata area is written front to back through a window of a few
 * MiB, and each record's tail and maps are freed once encoded: a layer
 * with many small files holds its inline tails once, not twice, and the
 * area never has to fit in memory whole.
 */
#define META_WINDOW (4U << 20)

static int write_meta(struct erofs_build *b)
{
	u64 nr = b->tree->nr_order, wstart = 0, base;
	struct erofs_node **recs;
	size_t cap = min_t(u64, META_WINDOW, b->meta_size);
	u8 *win;
	int ret = 0;

	if (!nr || !cap)
		return 0;
	recs = malloc(nr * sizeof(*recs));
	win = calloc(1, cap);
	if (!recs || !win) {
		free(recs);
		free(win);
		return -ENOMEM;
	}
	memcpy(recs, b->tree->order, nr * sizeof(*recs));
	qsort(recs, nr, sizeof(*recs), cmp_meta_pos);
	base = erofs_pos(b, b->meta_start);
	for (u64 i = 0; i < nr && !ret; i++) {
		struct erofs_node_layout *L = &recs[i]->L;
		u64 end = round_up(L->meta_pos + erofs_layout_record_size(L),
				   b->blksz);

		if (end > wstart + cap) {
			/* earlier records may share this record's block */
			u64 keep = round_down(L->meta_pos, b->blksz);
			size_t held = L->meta_pos - keep;

			ret = erofs_output_write(&b->out, win, keep - wstart,
						 base + wstart);
			if (ret)
				break;
			memmove(win, win + (keep - wstart), held);
			wstart = keep;
			if (end - wstart > cap) {
				u8 *nw = realloc(win, end - wstart);

				if (!nw) {
					ret = -ENOMEM;
					break;
				}
				win = nw;
				cap = end - wstart;
			}
			memset(win + held, 0, cap - held);
		}
		encode_record(b, recs[i], win + (L->meta_pos - wstart));
		free(L->tail);
		L->tail = NULL;
		free(L->extra);
		L->extra = NULL;
	}
	if (!ret && b->meta_size > wstart)
		ret = erofs_output_write(&b->out, win, b->meta_size - wstart,
					 base + wstart);
	free(recs);
	free(win);
	return ret;
}

static int write_shared_xattrs(struct erofs_build *b)
{
	u8 *buf;
	int ret;

	if (!b->xattrs->shared_size)
		return 0;
	buf = calloc(1, b->xattrs->shared_size);
	if (!buf)
		return -ENOMEM;
	erofs_xattr_encode_shared(b->xattrs, buf);
	ret = erofs_output_write(&b->out, buf, b->xattrs->shared_size,
				 erofs_pos(b, b->xattr_blkaddr));
	free(buf);
	return ret;
}

static bool any_xattrs(const struct erofs_build *b)
{
	for (u64 i = 0; i < b->tree->nr_order; i++)
		if (b->tree->order[i]->L.xattr_size)
			return true;
	return false;
}

/* The superblock goes last: it is the image's commit record. */
static int write_super(struct erofs_build *b)
{
	const struct erofs_build_opts *o = b->opts;
	u64 head = erofs_pos(b, b->data_blkaddr);
	struct erofs_sb_info sbi = {
		.feature_compat = b->feature_compat,
		.feature_incompat = b->feature_incompat,
		.blkszbits = o->blkszbits,
		.root_nid = b->tree->root->L.nid,
		.inos = b->tree->nr_order,
		.epoch = b->epoch,
		.build_time = o->build_time - b->epoch,
		.fixed_nsec = o->build_time_nsec,
		.blocks = b->total_blocks,
		.meta_blkaddr = b->meta_blkaddr,
		.xattr_blkaddr = b->xattr_blkaddr,
		.xattr_prefix_count = erofs_xattr_nr_long_prefixes(b->xattrs),
		.xattr_prefix_start = b->prefix_start,
	};
	u8 *buf;
	int ret;

	if (o->ishare)
		sbi.ishare_xattr_prefix_id = b->xattrs->ishare_prefix;
	if (b->packed)
		sbi.packed_nid = b->packed->L.nid;
	if (b->zi) {
		/* without configs the field is lz4's match distance */
		sbi.available_compr_algs = b->zi->need_cfgs ?
						   b->zi->available_algs :
						   UINT16_MAX;
	}
	memcpy(sbi.uuid, o->uuid, sizeof(sbi.uuid));
	memcpy(sbi.volume_name, o->volume_name, sizeof(o->volume_name));

	buf = calloc(1, head);
	if (!buf)
		return -ENOMEM;
	erofs_sb_encode(&sbi, buf + EROFS_SUPER_OFFSET);
	if (b->zi)
		erofs_zimage_encode_cfgs(b->zi, buf + EROFS_SUPER_OFFSET +
						       EROFS_SUPER_BASE_SIZE);
	if (sbi.xattr_prefix_count && !b->prefixes_in_packed)
		erofs_xattr_encode_prefix_table(b->xattrs,
						buf + b->prefix_start * 4);
	if (sbi.feature_compat & EROFS_FEATURE_COMPAT_SB_CHKSUM) {
		sbi.checksum = erofs_sb_checksum(
			buf + EROFS_SUPER_OFFSET,
			erofs_sb_csum_len(o->blkszbits));
		erofs_sb_encode(&sbi, buf + EROFS_SUPER_OFFSET);
	}
	ret = erofs_output_write(&b->out, buf, head, 0);
	free(buf);
	return ret;
}

/*
 * Superblock, compression configs (read right after the superblock), then
 * the long prefix table (unless the packed inode holds it), and with
 * 48-bit addresses the shared xattrs, whose start block is 32-bit: the
 * area before the data.
 */
static void plan_head(struct erofs_build *b)
{
	u64 end = EROFS_SUPER_OFFSET + EROFS_SUPER_BASE_SIZE;

	if (b->zi)
		end += erofs_zimage_cfgs_size(b->zi);

	if (erofs_xattr_uses_long_prefixes(b->xattrs)) {
		b->feature_incompat |= EROFS_FEATURE_INCOMPAT_XATTR_PREFIXES;
		if (b->prefixes_in_packed) {
			/* the kernel finds the packed inode with FRAGMENTS */
			b->prefix_start = 0;
			b->feature_incompat |= EROFS_FEATURE_INCOMPAT_FRAGMENTS;
		} else {
			b->prefix_start = end / 4;
			end += erofs_xattr_prefix_table_size(b->xattrs);
			b->feature_compat |=
				EROFS_FEATURE_COMPAT_PLAIN_XATTR_PFX;
		}
	}
	b->data_blkaddr = DIV_ROUND_UP(end, b->blksz);
	b->next_blkaddr = b->data_blkaddr;
	if (b->layout_48bit && b->xattrs->shared_size)
		b->xattr_blkaddr = erofs_alloc_blocks(
			b, DIV_ROUND_UP(b->xattrs->shared_size, b->blksz));
}

struct erofs_node *erofs_build_add_packed(struct erofs_build *b, u8 *data,
					  u64 size)
{
	struct erofs_tree *t = b->tree;
	struct erofs_node *n, **order;

	n = erofs_node_new(t, S_IFREG | 0600);
	order = realloc(t->order, (t->nr_order + 1) * sizeof(*order));
	if (order)
		t->order = order;
	if (!n || !order)
		return NULL;
	t->order[t->nr_order++] = n;
	n->nlink = 1;
	n->size = size;
	n->mtime = b->opts->build_time;
	n->mtime_nsec = b->opts->build_time_nsec;
	n->ino = t->nr_order;
	n->data_kind = EROFS_DATA_MEM;
	n->src.mem = (char *)data;
	b->packed = n;
	return n;
}

/* Without compression, a packed inode holds the long prefix table alone. */
static int add_prefix_packed(struct erofs_build *b)
{
	u32 size;
	u8 *table = erofs_xattr_prefix_table_alloc(b->xattrs, &size);

	if (!table)
		return -ENOMEM;
	if (!erofs_build_add_packed(b, table, size)) {
		free(table);
		return -ENOMEM;
	}
	return 0;
}

static int build(struct erofs_build *b)
{
	int ret;

	ret = erofs_layout_plan(b);
	if (ret)
		return ret;
	ret = erofs_write_data(b);
	if (ret)
		return ret;
	if (b->xattrs->shared_size && !b->xattr_blkaddr) {
		b->xattr_blkaddr = erofs_alloc_blocks(
			b, DIV_ROUND_UP(b->xattrs->shared_size, b->blksz));
	}
	ret = erofs_layout_pack_meta(b);
	if (ret)
		return ret;
	b->total_blocks = b->next_blkaddr + b->meta_size / b->blksz;
	/* --fsalignblks: the device size, a power of two of blocks */
	if (b->opts->fsalignblks > 1)
		b->total_blocks = round_up(
			b->total_blocks,
			1ULL << (64 - __builtin_clzll(
					      (u64)b->opts->fsalignblks - 1)));
	if (b->total_blocks > erofs_max_blocks(b))
		return erofs_fail(-EFBIG,
				  "image of %llu blocks is too large for %u-bit block addresses%s",
				  (unsigned long long)b->total_blocks,
				  b->layout_48bit ? 48 : 32,
				  b->layout_48bit ? "" : " (try -E48bit)");
	if (b->tree->nr_order > UINT32_MAX)
		return erofs_fail(-EFBIG, "too many inodes");
	if (any_xattrs(b) && b->xattrs->name_filter)
		b->feature_compat |= EROFS_FEATURE_COMPAT_XATTR_FILTER;
	ret = write_dirs(b);
	if (!ret)
		ret = write_meta(b);
	if (!ret)
		ret = write_shared_xattrs(b);
	if (!ret)
		ret = write_super(b);
	if (!ret)
		ret = erofs_output_commit(&b->out,
					  erofs_pos(b, b->total_blocks));
	return ret;
}

int erofs_build_image(struct erofs_tree *tree, struct erofs_xattr_table *xt,
		      const struct erofs_build_opts *opts, const char *path)
{
	struct erofs_build b = {
		.opts = opts,
		.tree = tree,
		.xattrs = xt,
		.blksz = 1U << opts->blkszbits,
		.feature_compat = EROFS_FEATURE_COMPAT_MTIME,
		.layout_48bit = opts->layout_48bit || opts->dot_omitted,
		.epoch = erofs_build_epoch(opts),
	};
	bool fragments = opts->compress && opts->compress->nalgs &&
			 (opts->compress->fragments ||
			  opts->compress->all_fragments);
	struct erofs_zimage zi;
	int ret;

	if (!opts->no_sbcrc)
		b.feature_compat |= EROFS_FEATURE_COMPAT_SB_CHKSUM;
	if (b.layout_48bit)
		b.feature_incompat |= EROFS_FEATURE_INCOMPAT_48BIT;
	/* where erofs-utils puts the long prefix table, unless told */
	b.prefixes_in_packed = opts->prefix_table == EROFS_PREFIX_TABLE_AUTO ?
				       fragments :
				       opts->prefix_table ==
					       EROFS_PREFIX_TABLE_PACKED;

	if (opts->compress && opts->compress->nalgs) {
		ret = erofs_zimage_init(&zi, opts->compress, opts->blkszbits);
		if (ret)
			return ret;
		b.zi = &zi;
	}
	if (opts->ishare && xt->ishare_prefix < 0)
		return erofs_fail(-EINVAL, "no fingerprint xattr name set");
	ret = erofs_tree_finalize(tree);
	if (ret)
		return ret;
	mark_fingerprints(&b);
	if (opts->ishare)
		b.feature_compat |= EROFS_FEATURE_COMPAT_ISHARE_XATTRS;
	ret = erofs_xattr_plan(xt, tree);
	if (ret)
		return ret;
	plan_head(&b);
	if (erofs_xattr_uses_long_prefixes(xt) && b.prefixes_in_packed &&
	    !b.zi) {
		ret = add_prefix_packed(&b);
		if (ret)
			return ret;
	}

	ret = erofs_output_open(&b.out, path, !opts->no_fsync, opts->offset);
	if (ret)
		return ret;
	ret = build(&b);
	erofs_output_abort(&b.out);
	return ret;
}
