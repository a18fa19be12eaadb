// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Image building: run the stages in order (tree -> layout -> data ->
 * metadata -> superblock) and move the image into place at the end.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "erofs/build.h"
#include "erofs/dir.h"
#include "erofs/error.h"
#include "erofs/format.h"
#include "erofs/fragments.h"
#include "erofs/inode.h"
#include "erofs/stages.h"
#include "erofs/super.h"
#include "erofs/zmap.h"

/*
 * Fingerprints are computed (by the data pass, or by a source that reads
 * the data anyway), never copied from the source unverified.
 */
/*
 * A fingerprint covers a file's holes too, and SHA-256 has no shortcut
 * over zeroes: every byte of a hole costs as much as data (1.6 GB/s). The
 * holes hashed in one build are limited (--ishare-holes): a file whose
 * holes would go past the limit gets no fingerprint, with a warning, so
 * that a tiny archive declaring huge sparse files cannot make the build
 * run for minutes.
 */
static int budget_holes(struct erofs_build *b, struct erofs_node *n,
			u64 *left)
{
	struct erofs_data_src s;
	struct erofs_data_range *r;
	u64 nr, data = 0, holes;
	char path[PATH_MAX];
	int ret;

	if (!n->has_fingerprint || !n->maybe_sparse ||
	    (n->data_kind != EROFS_DATA_FILE &&
	     n->data_kind != EROFS_DATA_SPOOL))
		return 0;
	ret = erofs_src_open(b, n, &s);
	if (ret)
		return ret;
	ret = erofs_src_data_ranges(s.fd, s.base, n->size, s.path, &r, &nr);
	erofs_src_close(&s);
	if (ret)
		return ret;
	for (u64 i = 0; i < nr; i++)
		data += r[i].end - r[i].start;
	free(r);
	holes = n->size - data;
	if (holes <= *left) {
		*left -= holes;
		return 0;
	}
	n->has_fingerprint = false;
	erofs_warn("%s: no fingerprint: hashing its %llu bytes of holes would pass the limit of holes hashed per build (--ishare-holes=%llu)",
		   erofs_node_path(n, path, sizeof(path)),
		   (unsigned long long)holes,
		   (unsigned long long)b->opts->ishare_hole_limit);
	return 0;
}

static int mark_fingerprints(struct erofs_build *b)
{
	struct erofs_xattr_table *xt = b->xattrs;
	const char *name;
	u64 holes;

	if (!b->opts->ishare)
		return 0;
	holes = b->opts->ishare_hole_limit;
	name = xt->prefixes[xt->ishare_prefix].prefix;
	for (u64 i = 0; i < b->tree->nr_order; i++) {
		struct erofs_node *n = b->tree->order[i];
		int ret;

		erofs_xattr_remove(xt, n, name);
		/* reserved space and headerball files read as zeroes now:
		 * they share nothing */
		n->has_fingerprint = S_ISREG(n->mode) && n->size &&
				     n->data_kind != EROFS_DATA_RESERVED &&
				     !(n->data_kind == EROFS_DATA_EXTERNAL &&
				       !n->src.ext->device);
		/* data the build never reads must come with its fingerprint */
		if (n->has_fingerprint && !n->fingerprint_known &&
		    n->data_kind == EROFS_DATA_EXTERNAL &&
		    b->tree->ext_fd < 0) {
			char path[PATH_MAX];

			return erofs_fail(-EINVAL, "%s: no fingerprint for data on an extra device",
					  erofs_node_path(n, path, sizeof(path)));
		}
		ret = budget_holes(b, n, &holes);
		if (ret)
			return ret;
	}
	return 0;
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
	ii->xattr_icount = erofs_xattr_icount(L->xattr_size);
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

/*
 * --zD: the directory's bytes go into the packed inode whole, and its map
 * header says where.
 */
static int pack_dir(struct erofs_build *b, struct erofs_node *n, const u8 *buf)
{
	struct erofs_node_layout *L = &n->L;
	struct erofs_zmap_info mi = {
		.blkszbits = b->opts->blkszbits,
		.size = n->size,
		.ibody_end = L->inode_size + L->xattr_size,
		.fragment = true,
		.whole_fragment = true,
	};
	int ret;

	if (n->size > UINT32_MAX)
		return erofs_fail(-EFBIG, "a directory of %llu bytes cannot be compressed",
				  (unsigned long long)n->size);
	ret = erofs_packed_add(b, buf, n->size, &mi.fragment_off);
	if (ret)
		return ret;
	L->extra = malloc(erofs_zmap_size(&mi));
	if (!L->extra)
		return -ENOMEM;
	b->feature_incompat |= EROFS_FEATURE_INCOMPAT_FRAGMENTS;
	return erofs_zmap_encode(&mi, NULL, 0, L->extra);
}

/*
 * Directory data holds nids: it is written once they are known, which is
 * before the packed inode and the metabox with -m or --zD.
 */
static int write_dirs(struct erofs_build *b)
{
	u8 *buf = NULL;
	u64 cap = 0;
	int ret = 0;

	for (u64 i = 0; i < b->tree->nr_order && !ret; i++) {
		struct erofs_node *n = b->tree->order[i];
		struct erofs_node_layout *L = &n->L;
		u64 body = (u64)L->nblocks * b->blksz;

		if (!erofs_node_is_dir(n) || L->retained)
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
		if (L->zdir) {
			ret = pack_dir(b, n, buf);
			continue;
		}
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
			ret = erofs_output_write(b->out, buf, body,
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

void erofs_build_encode_record(struct erofs_build *b, struct erofs_node *n,
			       u8 *p)
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

static int write_root_record(struct erofs_build *b)
{
	struct erofs_node *root = b->tree->root;
	u32 bytes = erofs_layout_record_size(&root->L);
	u8 *buf = calloc(1, bytes);
	int ret;

	if (!buf)
		return -ENOMEM;
	erofs_build_encode_record(b, root, buf);
	ret = erofs_output_write(b->out, buf, bytes, b->root_pos);
	free(buf);
	return ret;
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

	if (b->opts->base) {
		/* the root's record stands apart, where place_root() put it */
		ret = write_root_record(b);
		if (ret)
			return ret;
	}
	if (!nr || !cap)
		return 0;
	recs = malloc(nr * sizeof(*recs));
	win = calloc(1, cap);
	if (!recs || !win) {
		free(recs);
		free(win);
		return -ENOMEM;
	}
	/*
	 * records of the metadata area: not kept ones, not a placed root,
	 * not those of the metabox
	 */
	for (u64 i = 0, k = 0; i < b->tree->nr_order; i++) {
		struct erofs_node *n = b->tree->order[i];

		if (n->L.retained || n->L.in_metabox ||
		    (b->opts->base && n == b->tree->root))
			nr--;
		else
			recs[k++] = n;
	}
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

			ret = erofs_output_write(b->out, win, keep - wstart,
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
		erofs_build_encode_record(b, recs[i],
					  win + (L->meta_pos - wstart));
		free(L->tail);
		L->tail = NULL;
		free(L->extra);
		L->extra = NULL;
	}
	if (!ret && b->meta_size > wstart)
		ret = erofs_output_write(b->out, win, b->meta_size - wstart,
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
	ret = erofs_output_write(b->out, buf, b->xattrs->shared_size,
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

/*
 * Each device lies, in the unified address space, after the primary and
 * the devices before it: the primary followed by its devices in one file
 * (a tar index layer with its tar appended) mounts without device=.
 */
static void encode_devices(const struct erofs_build *b, u8 *p)
{
	u64 uniaddr = b->total_blocks;

	for (unsigned int i = 0; i < b->ndevs; i++) {
		struct erofs_deviceslot d = {
			.blocks_lo = cpu_to_le32((u32)b->devs[i].blocks),
			.uniaddr_lo = cpu_to_le32((u32)uniaddr),
		};

		memcpy(d.tag, b->devs[i].tag,
		       strnlen(b->devs[i].tag, sizeof(d.tag)));
		memcpy(p + i * sizeof(d), &d, sizeof(d));
		uniaddr += b->devs[i].blocks;
	}
}

/*
 * Appending: the old superblock with what changed, and its checksum over
 * the old image's first block, which is otherwise kept as it was.
 */
static int write_super_appended(struct erofs_build *b)
{
	const struct erofs_build_base *base = b->opts->base;
	struct erofs_sb_info sbi = base->sb;
	u64 added = 0;
	u8 *buf;
	int ret;

	for (u64 i = 0; i < b->tree->nr_order; i++)
		added += !b->tree->order[i]->L.retained;
	sbi.feature_compat |= b->feature_compat;
	sbi.feature_incompat |= b->feature_incompat;
	sbi.root_nid = b->tree->root->L.nid;
	sbi.inos += added - 1; /* the root was counted already */
	sbi.blocks = b->total_blocks;
	if (b->new_prefix_table) {
		sbi.xattr_prefix_count = erofs_xattr_nr_long_prefixes(b->xattrs);
		sbi.xattr_prefix_start = b->prefix_start;
	}
	if (b->opts->ishare)
		sbi.ishare_xattr_prefix_id = b->xattrs->ishare_prefix;
	memcpy(sbi.uuid, b->opts->uuid, sizeof(sbi.uuid));
	buf = malloc(base->head_len);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, base->head, base->head_len);
	sbi.checksum = 0;
	erofs_sb_encode(&sbi, buf);
	if (sbi.feature_compat & EROFS_FEATURE_COMPAT_SB_CHKSUM)
		sbi.checksum = erofs_sb_checksum(buf, base->head_len);
	erofs_sb_encode(&sbi, buf);
	ret = erofs_output_write(b->out, buf, base->head_len,
				 EROFS_SUPER_OFFSET);
	free(buf);
	return ret;
}

/* The ".." of each kept directory names its parent's new record. */
static int patch_dotdots(struct erofs_build *b)
{
	const struct erofs_build_base *base = b->opts->base;

	for (u64 i = 0; i < base->npatches; i++) {
		__le64 nid = cpu_to_le64(base->patches[i].parent->L.nid);
		int ret = erofs_output_write(b->out, &nid, sizeof(nid),
					     base->patches[i].pos);

		if (ret)
			return ret;
	}
	return 0;
}

/* Appending with new long prefixes: the whole table, after the rest. */
static int write_prefix_table(struct erofs_build *b)
{
	u32 size = erofs_xattr_prefix_table_size(b->xattrs);
	u64 pos = erofs_pos(b, b->total_blocks);
	u8 *buf = calloc(1, round_up(size, b->blksz));
	int ret;

	if (!buf)
		return -ENOMEM;
	erofs_xattr_encode_prefix_table(b->xattrs, buf);
	b->prefix_start = pos / EROFS_XATTR_UNIT;
	b->total_blocks += DIV_ROUND_UP(size, b->blksz);
	ret = erofs_output_write(b->out, buf, round_up(size, b->blksz), pos);
	free(buf);
	return ret;
}

/* Where the superblock ends: with -m, after the slot naming the metabox. */
static u64 sb_end(const struct erofs_build_opts *o)
{
	return EROFS_SUPER_OFFSET + EROFS_SUPER_BASE_SIZE +
	       (o->metabox ? EROFS_SB_EXTSLOT_SIZE : 0);
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
		.extra_devices = b->ndevs,
		.devt_slotoff = b->devt_slotoff,
	};
	u8 *buf;
	int ret;

	if (o->ishare)
		sbi.ishare_xattr_prefix_id = b->xattrs->ishare_prefix;
	if (b->packed)
		sbi.packed_nid = b->packed->L.nid;
	if (b->metabox) {
		/* the superblock's first extension slot names it */
		sbi.sb_extslots = 1;
		sbi.metabox_nid = b->metabox->L.nid;
	}
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
		erofs_zimage_encode_cfgs(b->zi, buf + sb_end(o));
	if (b->ndevs)
		encode_devices(b, buf + b->devt_slotoff * EROFS_DEVT_SLOT_SIZE);
	if (sbi.xattr_prefix_count && !b->prefixes_in_packed &&
	    !b->prefixes_in_metabox)
		erofs_xattr_encode_prefix_table(
			b->xattrs, buf + b->prefix_start * EROFS_XATTR_UNIT);
	if (sbi.feature_compat & EROFS_FEATURE_COMPAT_SB_CHKSUM) {
		sbi.checksum = erofs_sb_checksum(
			buf + EROFS_SUPER_OFFSET,
			erofs_sb_csum_len(o->blkszbits));
		erofs_sb_encode(&sbi, buf + EROFS_SUPER_OFFSET);
	}
	ret = erofs_output_write(b->out, buf, head, 0);
	free(buf);
	return ret;
}

/*
 * Superblock, compression configs (read right after the superblock), then
 * the long prefix table (unless the packed inode holds it), and with
 * 48-bit addresses the shared xattrs, whose start block is 32-bit: the
 * area before the data.
 */
static u64 head_end(const struct erofs_build_opts *o,
		    const struct erofs_xattr_table *xt,
		    const struct erofs_zimage *zi, unsigned int ndevs,
		    bool prefixes_in_head, u32 *devt_slotoff, u32 *prefix_start)
{
	u64 end = sb_end(o);

	if (zi)
		end += erofs_zimage_cfgs_size(zi);
	*devt_slotoff = 0;
	if (ndevs) {
		end = round_up(end, EROFS_DEVT_SLOT_SIZE);
		*devt_slotoff = end / EROFS_DEVT_SLOT_SIZE;
		end += (u64)ndevs * EROFS_DEVT_SLOT_SIZE;
	}
	*prefix_start = 0;
	if (prefixes_in_head && erofs_xattr_uses_long_prefixes(xt)) {
		*prefix_start = end / EROFS_XATTR_UNIT;
		end += erofs_xattr_prefix_table_size(xt);
	}
	return end;
}

/*
 * Where the long prefix table goes, as erofs-utils puts it unless told:
 * into the metabox with -m, else into the packed inode with fragments,
 * else after the superblock.
 */
static void prefix_place(const struct erofs_build_opts *o, bool fragments,
			 bool *in_packed, bool *in_metabox)
{
	*in_metabox = o->metabox && o->prefix_table != EROFS_PREFIX_TABLE_PLAIN;
	*in_packed = !*in_metabox &&
		     (o->prefix_table == EROFS_PREFIX_TABLE_AUTO ?
			      fragments :
			      o->prefix_table == EROFS_PREFIX_TABLE_PACKED);
}

erofs_blk_t erofs_build_data_start(const struct erofs_build_opts *opts,
				   const struct erofs_xattr_table *xt)
{
	bool in_packed, in_metabox;
	u32 devt, prefix;

	prefix_place(opts, false, &in_packed, &in_metabox);
	return DIV_ROUND_UP(head_end(opts, xt, NULL, 0,
				     !in_packed && !in_metabox, &devt,
				     &prefix),
			    1U << opts->blkszbits);
}

static int plan_head(struct erofs_build *b)
{
	const struct erofs_build_base *base = b->opts->base;
	u64 end;

	if (base) {
		/* after the old image; its head stays but for the superblock */
		b->data_blkaddr = b->next_blkaddr = base->sb.blocks;
		b->new_prefix_table = erofs_xattr_nr_long_prefixes(b->xattrs) >
				      base->nr_prefixes;
		if (b->new_prefix_table)
			b->feature_incompat |=
				EROFS_FEATURE_INCOMPAT_XATTR_PREFIXES;
		return 0;
	}
	end = head_end(b->opts, b->xattrs, b->zi, b->ndevs,
		       !b->prefixes_in_packed && !b->prefixes_in_metabox,
		       &b->devt_slotoff, &b->prefix_start);
	if (b->ndevs)
		b->feature_incompat |= EROFS_FEATURE_INCOMPAT_DEVICE_TABLE;
	if (erofs_xattr_uses_long_prefixes(b->xattrs)) {
		b->feature_incompat |= EROFS_FEATURE_INCOMPAT_XATTR_PREFIXES;
		/*
		 * the kernel finds a packed inode's table with FRAGMENTS, and
		 * the metabox's with METABOX
		 */
		if (b->prefixes_in_packed)
			b->feature_incompat |= EROFS_FEATURE_INCOMPAT_FRAGMENTS;
		else if (!b->prefixes_in_metabox)
			b->feature_compat |=
				EROFS_FEATURE_COMPAT_PLAIN_XATTR_PFX;
	}
	b->data_blkaddr = DIV_ROUND_UP(end, b->blksz);
	b->next_blkaddr = b->data_blkaddr;
	if (b->opts->placed_end) {
		/* data a source placed already: new blocks come after it */
		if (b->data_blkaddr > erofs_build_data_start(b->opts, b->xattrs))
			return erofs_fail(-EINVAL, "placed data overlaps the superblock area");
		b->next_blkaddr = max(b->data_blkaddr, b->opts->placed_end);
	}
	if (b->layout_48bit && b->xattrs->shared_size)
		b->xattr_blkaddr = erofs_alloc_blocks(
			b, DIV_ROUND_UP(b->xattrs->shared_size, b->blksz));
	return 0;
}

/* Device sizes, and the unified address space they take. */
static int settle_devices(struct erofs_build *b)
{
	u64 end = b->total_blocks;

	if (b->blob_open)
		b->devs[b->ndevs - 1].blocks = b->blob_blocks;
	for (unsigned int i = 0; i < b->ndevs; i++)
		end += b->devs[i].blocks;
	if (end > erofs_max_blocks(b))
		return erofs_fail(-EFBIG,
				  "the image and its devices span %llu blocks of %u bytes, past %u-bit block addresses",
				  (unsigned long long)end, b->blksz,
				  b->layout_48bit ? 48 : 32);
	return 0;
}

int erofs_build_write_special(struct erofs_build *b, struct erofs_node *n,
			      u8 alg, u32 pclusterblks)
{
	struct erofs_node_layout *L = &n->L;
	u64 body;

	if (b->zi) {
		L->zpending = true;
		L->zalg = alg;
		L->zpclusterblks = pclusterblks ? pclusterblks : 1;
		return erofs_write_compressed_special(b);
	}
	erofs_layout_plan_flat(b, n);
	body = n->size - L->inline_size;
	if (L->inline_size) {
		L->tail = malloc(L->inline_size);
		if (!L->tail)
			return -ENOMEM;
		memcpy(L->tail, n->src.mem + body, L->inline_size);
	}
	return body ? erofs_output_write(b->out, n->src.mem, body,
					 erofs_pos(b, L->blkaddr)) :
		      0;
}

static int build(struct erofs_build *b)
{
	int ret;

	ret = erofs_layout_plan(b);
	if (ret)
		return ret;
	ret = erofs_write_data(b);
	if (!ret)
		ret = erofs_write_chunked(b);
	if (!ret && b->zi)
		ret = erofs_write_compressed(b);
	if (!ret)
		ret = erofs_layout_place_zone_dirs(b);
	if (!ret)
		ret = erofs_layout_place_records(b);
	if (!ret && b->nids_early)
		ret = write_dirs(b);
	if (!ret)
		ret = erofs_write_packed(b);
	if (!ret)
		ret = erofs_metabox_write(b);
	if (ret)
		return ret;
	if (b->xattrs->shared_size && !b->xattr_blkaddr) {
		b->xattr_blkaddr = erofs_alloc_blocks(
			b, DIV_ROUND_UP(b->xattrs->shared_size, b->blksz));
	}
	ret = erofs_layout_pack_meta(b);
	if (!ret && !b->nids_early)
		ret = write_dirs(b);
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
	ret = write_meta(b);
	if (!ret)
		ret = write_shared_xattrs(b);
	if (!ret && b->new_prefix_table)
		ret = write_prefix_table(b);
	if (!ret)
		ret = settle_devices(b);
	if (!ret && b->opts->base)
		ret = patch_dotdots(b);
	if (!ret)
		ret = b->opts->base ? write_super_appended(b) : write_super(b);
	/* the blob first: the new image must never name an old blob */
	if (!ret && b->blob_open)
		ret = erofs_output_commit(&b->blob,
					  erofs_pos(b, b->blob_blocks));
	if (!ret)
		ret = erofs_output_commit(b->out,
					  erofs_pos(b, b->total_blocks));
	return ret;
}

/*
 * Appending: inode numbers go on from the old image's count (the root,
 * written anew, keeps 1); kept inodes keep theirs.
 */
static void number_after_base(struct erofs_build *b)
{
	u64 next = b->opts->base->sb.inos;

	for (u64 i = 1; i < b->tree->nr_order; i++) {
		struct erofs_node *n = b->tree->order[i];

		if (!n->L.retained)
			n->ino = ++next;
	}
}

/* The device table: the source's devices, then the blob device. */
static int setup_devices(struct erofs_build *b)
{
	const struct erofs_build_opts *o = b->opts;

	b->ndevs = o->ext_ndevices + !!o->blobdev;
	if (!b->ndevs)
		return 0;
	if (b->ndevs > UINT16_MAX)
		return erofs_fail(-EINVAL, "%u extra devices: at most 65535",
				  b->ndevs);
	b->devs = calloc(b->ndevs, sizeof(*b->devs));
	if (!b->devs)
		return -ENOMEM;
	if (o->ext_ndevices)
		memcpy(b->devs, o->ext_devices,
		       o->ext_ndevices * sizeof(*b->devs));
	return 0;
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
		.layout_48bit = erofs_build_48bit(opts),
		.epoch = erofs_build_epoch(opts),
		/* dirents go into the metabox or the packed inode early */
		.nids_early = opts->metabox || opts->compress_dirs,
	};
	bool fragments = opts->compress && opts->compress->nalgs &&
			 (opts->compress->fragments ||
			  opts->compress->all_fragments);
	struct erofs_zimage zi;
	int ret;

	if (opts->base) {
		/* the old inodes' times count from the old epoch */
		b.epoch = opts->base->sb.epoch;
		if (opts->base->sb.feature_incompat &
		    EROFS_FEATURE_INCOMPAT_48BIT)
			b.layout_48bit = true;
	}
	if (!opts->no_sbcrc)
		b.feature_compat |= EROFS_FEATURE_COMPAT_SB_CHKSUM;
	if (b.layout_48bit)
		b.feature_incompat |= EROFS_FEATURE_INCOMPAT_48BIT;
	prefix_place(opts, fragments, &b.prefixes_in_packed,
		     &b.prefixes_in_metabox);

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
	if (opts->base)
		number_after_base(&b);
	ret = mark_fingerprints(&b);
	if (ret)
		return ret;
	if (opts->ishare)
		b.feature_compat |= EROFS_FEATURE_COMPAT_ISHARE_XATTRS;
	ret = erofs_xattr_plan(xt, tree);
	if (ret)
		return ret;
	ret = setup_devices(&b);
	if (ret)
		return ret;
	ret = plan_head(&b);
	if (ret)
		return ret;
	b.out = opts->out;
	if (!b.out) {
		b.out = &b.own_out;
		ret = erofs_output_open(b.out, path, !opts->no_fsync,
					opts->offset);
		/* appending: the new image starts as a copy of the old */
		if (!ret && opts->base)
			ret = erofs_output_copy(b.out, opts->base->fd, 0,
						erofs_pos(&b,
							  opts->base->sb.blocks),
						0, NULL, 0);
	}
	if (!ret && opts->blobdev) {
		ret = erofs_output_open(&b.blob, opts->blobdev,
					!opts->no_fsync, 0);
		b.blob_open = !ret;
	}
	if (!ret)
		ret = build(&b);
	if (b.blob_open)
		erofs_output_abort(&b.blob);
	if (b.out == &b.own_out)
		erofs_output_abort(b.out);
	erofs_layout_free_packers(&b);
	erofs_packed_free(&b);
	free(b.devs);
	return ret;
}
