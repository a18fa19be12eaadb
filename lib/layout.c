// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Layout: decide each inode's form and data layout, allocate data blocks,
 * and pack the metadata records (inode, xattrs, maps, inline tail) into
 * blocks, which assigns the nids.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "erofs/array.h"
#include "erofs/chunk.h"
#include "erofs/dir.h"
#include "erofs/error.h"
#include "erofs/format.h"
#include "erofs/source.h"
#include "erofs/stages.h"
#include "erofs/zmap.h"

/* Why "n" needs an extended inode, or NULL when a compact one holds it. */
static const char *extended_reason(const struct erofs_build *b,
				   const struct erofs_node *n)
{
	if (n->size > UINT32_MAX)
		return "its size is over 4 GiB";
	if (n->uid > UINT16_MAX || n->gid > UINT16_MAX)
		return "its owner or group id is over 65535";
	if (n->nlink > UINT16_MAX)
		return "it has more than 65535 links";
	if (n->mtime_nsec != b->opts->build_time_nsec)
		return "its mtime has nanoseconds";
	/* 48BIT compact inodes count their mtime from the epoch */
	if (b->layout_48bit ?
		    n->mtime < b->epoch || n->mtime - b->epoch > UINT32_MAX :
		    n->mtime != b->opts->build_time)
		return "its mtime differs from the build time";
	return NULL;
}

u32 erofs_layout_record_size(const struct erofs_node_layout *L)
{
	return L->inode_size + L->xattr_size + L->extra_size + L->inline_size;
}

/*
 * Put the last partial block of "size" bytes inline when it fits (and,
 * for regular files, when -E^inline_data allows).
 */
void erofs_layout_plan_flat(struct erofs_build *b, struct erofs_node *n)
{
	struct erofs_node_layout *L = &n->L;
	u32 tail = n->size & (b->blksz - 1);
	bool may_inline = !(b->opts->no_datainline && S_ISREG(n->mode));

	L->datalayout = EROFS_INODE_FLAT_PLAIN;
	L->inline_size = 0;
	L->nblocks = DIV_ROUND_UP(n->size, b->blksz);
	if (tail && may_inline &&
	    L->inode_size + L->xattr_size + tail <= b->blksz) {
		L->datalayout = EROFS_INODE_FLAT_INLINE;
		L->inline_size = tail;
		L->nblocks = n->size >> b->opts->blkszbits;
	}
	L->blkaddr = L->nblocks ? erofs_alloc_blocks(b, L->nblocks) : 0;
	/*
	 * A start block past 32 bits keeps its top 16 bits where a compact
	 * inode has its link count: only one with a single link (and no
	 * directory) can give that up, the others become extended.
	 */
	if (L->nblocks && L->blkaddr >= UINT32_MAX &&
	    L->version == EROFS_INODE_LAYOUT_COMPACT &&
	    (n->nlink != 1 || erofs_node_is_dir(n))) {
		b->next_blkaddr = L->blkaddr;
		L->version = EROFS_INODE_LAYOUT_EXTENDED;
		L->inode_size = sizeof(struct erofs_inode_extended);
		erofs_layout_plan_flat(b, n);
	}
}

void erofs_layout_settle_flat(struct erofs_build *b, struct erofs_node *n)
{
	n->L.zpending = false;
	erofs_layout_plan_flat(b, n);
}

/* The map of a compressed file as its extents "f" allow. */
static struct erofs_zmap_info zmap_info(const struct erofs_build *b,
					const struct erofs_node *n,
					const struct erofs_zfile *f)
{
	const struct erofs_node_layout *L = &n->L;
	const struct erofs_zextent *last = &f->ext[f->n - 1];
	struct erofs_zmap_info mi = {
		.blkszbits = b->opts->blkszbits,
		.size = n->size,
		.compact = !b->zi->opts->legacy,
		.big_pcluster = b->zi->big_pcluster,
		.algorithm = erofs_compressor_disk_alg(
			b->zi->opts->algs[L->zalg].kind),
		.ibody_end = L->inode_size + L->xattr_size,
	};

	if (last->fragment) {
		mi.fragment = true;
		mi.fragment_off = f->frag_off;
		/* a file all in the packed inode needs only the header */
		mi.whole_fragment = f->n == 1;
		mi.compact = mi.compact && !mi.whole_fragment;
	} else if (last->inlined) {
		mi.idata_size = last->plen;
	}
	return mi;
}

bool erofs_layout_zinline_fits(const struct erofs_build *b,
			       const struct erofs_node *n,
			       const struct erofs_zfile *f)
{
	struct erofs_zmap_info mi = zmap_info(b, n, f);

	return mi.ibody_end + erofs_zmap_size(&mi) + mi.idata_size <=
		       b->blksz &&
	       f->first_blk + f->blocks <= UINT32_MAX;
}

/*
 * 48BIT: encoded extents where lcluster indexes cannot address the
 * clusters (32-bit block numbers), or where they take no more room.
 */
static void choose_extents(const struct erofs_build *b,
			   const struct erofs_zfile *f,
			   struct erofs_zmap_info *mi)
{
	struct erofs_zmap_info x = *mi;
	bool far = f->first_blk + f->blocks > UINT32_MAX;

	for (u32 i = 0; i < f->n; i++)
		far |= !f->ext[i].fragment && !f->ext[i].inlined &&
		       f->ext[i].pblk + (f->ext[i].plen >> b->opts->blkszbits) >
			       UINT32_MAX;
	x.extents = true;
	x.nextents = f->n;
	if (far || erofs_zmap_size(&x) <= erofs_zmap_size(mi))
		*mi = x;
}

int erofs_layout_settle_compressed(struct erofs_build *b, struct erofs_node *n,
				   struct erofs_zfile *f)
{
	struct erofs_node_layout *L = &n->L;
	struct erofs_zmap_info mi = zmap_info(b, n, f);
	u8 *map;
	int ret;

	if (mi.fragment)
		b->feature_incompat |= EROFS_FEATURE_INCOMPAT_FRAGMENTS;
	if (b->layout_48bit && !mi.idata_size && !mi.whole_fragment)
		choose_extents(b, f, &mi);
	map = malloc(erofs_zmap_size(&mi));
	if (!map)
		return -ENOMEM;
	ret = erofs_zmap_encode(&mi, f->ext, f->n, map);
	if (ret == -EAGAIN && !mi.extents) {
		/* compact indexes cannot say it: full ones can */
		mi.compact = false;
		free(map);
		map = malloc(erofs_zmap_size(&mi));
		if (!map)
			return -ENOMEM;
		ret = erofs_zmap_encode(&mi, f->ext, f->n, map);
	}
	if (ret) {
		free(map);
		return ret;
	}
	L->zpending = false;
	L->datalayout = mi.compact && !mi.extents ?
				EROFS_INODE_COMPRESSED_COMPACT :
				EROFS_INODE_COMPRESSED_FULL;
	L->extra = map;
	L->extra_size = erofs_zmap_size(&mi);
	L->inline_size = mi.idata_size;
	L->tail = f->idata;
	f->idata = NULL;
	L->compressed_blocks = f->blocks;
	L->nblocks = f->blocks;
	L->blkaddr = f->first_blk;
	if (mi.idata_size)
		b->feature_incompat |= EROFS_FEATURE_INCOMPAT_ZTAILPACKING;
	return 0;
}

struct erofs_node *erofs_layout_add_special(struct erofs_build *b, u8 *data,
					    u64 size)
{
	struct erofs_tree *t = b->tree;
	struct erofs_node_layout *L;
	struct erofs_node *n;
	u64 cap = t->nr_order;

	n = erofs_node_new(t, S_IFREG | 0600);
	if (!n || erofs_grow_array(&t->order, &cap, t->nr_order + 1,
				   sizeof(*t->order)))
		return NULL;
	t->order[t->nr_order++] = n;
	n->nlink = 1;
	n->size = size;
	n->mtime = b->opts->build_time;
	n->mtime_nsec = b->opts->build_time_nsec;
	n->ino = t->nr_order;
	n->data_kind = EROFS_DATA_MEM;
	n->src.mem = (char *)data;
	/* as plan_node() would: compact unless asked or too large */
	L = &n->L;
	L->version = b->opts->force_inode == EROFS_FORCE_INODE_EXTENDED ||
				     size > UINT32_MAX ?
			     EROFS_INODE_LAYOUT_EXTENDED :
			     EROFS_INODE_LAYOUT_COMPACT;
	L->inode_size = L->version == EROFS_INODE_LAYOUT_EXTENDED ?
				sizeof(struct erofs_inode_extended) :
				sizeof(struct erofs_inode_compact);
	return n;
}

static u64 chunk_data_blocks(const struct erofs_build *b,
			     const struct erofs_node *n,
			     const struct erofs_data_range *r, u64 nr,
			     unsigned int cbits, u64 *nchunks)
{
	u64 csize = (u64)b->blksz << cbits, blocks = 0, cursor = 0;

	*nchunks = DIV_ROUND_UP(n->size, csize);
	for (u64 c = 0; c < *nchunks; c++) {
		u64 start = c * csize, end = min(start + csize, n->size);

		if (erofs_ranges_meet(r, nr, &cursor, start, end))
			blocks += DIV_ROUND_UP(end - start, b->blksz);
	}
	return blocks;
}

/*
 * A file with holes becomes chunk-based when that is smaller than flat:
 * a block map (or chunk indexes, if forced) with holes for chunks that
 * hold no data. With "mostly_holes", only a file that is more hole than
 * data is planned (else 0 and nothing done): compressing it would spend
 * time on every zero and still store some (a 64 GiB hole took minutes and
 * hundreds of MB). Returns 1 once planned.
 */
static int plan_sparse(struct erofs_build *b, struct erofs_node *n,
		       bool mostly_holes)
{
	struct erofs_node_layout *L = &n->L;
	struct erofs_data_range *r = NULL;
	u64 nr = 0, best_cost = UINT64_MAX, nchunks, cursor = 0;
	unsigned int best_bits = 0, maxbits;
	u64 *blk, first, blocks;
	int ret;

	if (n->data_kind == EROFS_DATA_SPOOL) {
		ret = erofs_src_data_ranges(b->tree->spool_fd, n->src.off, n->size,
				       "tar spool", &r, &nr);
	} else {
		struct stat st;
		int fd = erofs_source_open_file(b->tree, n, &st);

		if (fd < 0)
			return fd;
		ret = erofs_src_data_ranges(fd, 0, n->size, n->src.file->path,
					    &r, &nr);
		close(fd);
	}
	if (ret)
		return ret;
	if (mostly_holes) {
		u64 data = 0;

		for (u64 i = 0; i < nr; i++)
			data += r[i].end - r[i].start;
		if (data > n->size / 2) {
			free(r);
			return 0;
		}
	}
	/* chunk sizes up to the file size (and at most 2^31 blocks) */
	for (maxbits = 0; maxbits < 31 && ((u64)b->blksz << maxbits) < n->size;
	     maxbits++)
		;
	for (unsigned int cbits = 0; cbits <= maxbits; cbits++) {
		u64 blocks = chunk_data_blocks(b, n, r, nr, cbits, &nchunks);
		u64 cost = nchunks * erofs_chunk_unit(b->opts->force_chunk_indexes) +
			   blocks * b->blksz;

		if (cost <= best_cost) {
			best_cost = cost;
			best_bits = cbits;
		}
	}
	/* a 4-byte block map holds 32-bit addresses only */
	if (best_cost + b->blksz >= round_up(n->size, b->blksz) ||
	    b->next_blkaddr + DIV_ROUND_UP(n->size, b->blksz) > UINT32_MAX) {
		free(r);
		erofs_layout_plan_flat(b, n);
		return 1;
	}

	chunk_data_blocks(b, n, r, nr, best_bits, &nchunks);
	blk = malloc(nchunks * sizeof(*blk));
	if (!blk) {
		free(r);
		return -ENOMEM;
	}
	first = b->next_blkaddr;
	for (u64 c = 0; c < nchunks; c++) {
		u64 csize = (u64)b->blksz << best_bits;
		u64 start = c * csize, end = min(start + csize, n->size);

		blk[c] = EROFS_EXT_HOLE;
		if (erofs_ranges_meet(r, nr, &cursor, start, end)) {
			blocks = DIV_ROUND_UP(end - start, b->blksz);
			blk[c] = erofs_alloc_blocks(b, blocks);
		}
	}
	free(r);
	ret = erofs_chunk_set_layout(b, n, best_bits + b->opts->blkszbits, blk,
				     nchunks, 0, b->opts->force_chunk_indexes);
	free(blk);
	L->blkaddr = first;
	L->nblocks = b->next_blkaddr - first;
	return ret ? ret : 1;
}

/*
 * Files to compress get no blocks now: the data pass appends their
 * clusters once their sizes are known, or gives them a flat layout there
 * when compression saves nothing.
 */
static bool plan_compressed(struct erofs_build *b, struct erofs_node *n)
{
	struct erofs_node_layout *L = &n->L;
	char path[PATH_MAX];
	const char *rel = erofs_node_path(n, path, sizeof(path));

	while (*rel == '/')
		rel++;
	if (!erofs_zimage_choose(b->zi, rel, &L->zalg, &L->zpclusterblks))
		return false;
	L->zpending = true;
	L->nblocks = 0;
	return true;
}

/*
 * Appending to an image: the new root's record goes where the old one
 * was when it fits there (the root keeps its nid), else into blocks of
 * its own right after the old image, close enough to the metadata that
 * its nid fits the superblock's 16 bits.
 */
static int place_root(struct erofs_build *b, struct erofs_node *root)
{
	const struct erofs_build_base *base = b->opts->base;
	u32 bytes = erofs_layout_record_size(&root->L);
	u64 meta = erofs_pos(b, base->sb.meta_blkaddr);

	if (bytes <= base->root_record) {
		b->root_pos = base->root_iloc;
	} else {
		b->root_pos = erofs_pos(b, b->next_blkaddr);
		erofs_alloc_blocks(b, DIV_ROUND_UP(bytes, b->blksz));
	}
	root->L.nid = (b->root_pos - meta) >> EROFS_ISLOTBITS;
	if (root->L.nid > UINT16_MAX &&
	    !(base->sb.feature_incompat & EROFS_FEATURE_INCOMPAT_48BIT))
		return erofs_fail(-EFBIG,
				  "the new root directory's record does not fit where the old one was, and after the image its nid would be %llu, past 65535: the old image's metadata starts too far before its end",
				  (unsigned long long)root->L.nid);
	return 0;
}

/*
 * Directories: --zD makes one (of 16 bytes or more, as erofs-utils does)
 * a whole fragment of the packed inode, its record holding only the map
 * header, which write_dirs fills once the bytes are in; --MZ=d leaves its
 * blocks to erofs_layout_place_zone_dirs().
 */
static void plan_dir(struct erofs_build *b, struct erofs_node *n)
{
	struct erofs_node_layout *L = &n->L;

	if (b->opts->compress_dirs && n->size >= 16) {
		struct erofs_zmap_info mi = {
			.blkszbits = b->opts->blkszbits,
			.size = n->size,
			.ibody_end = L->inode_size + L->xattr_size,
			.fragment = true,
			.whole_fragment = true,
		};

		L->zdir = true;
		L->datalayout = EROFS_INODE_COMPRESSED_FULL;
		L->extra_size = erofs_zmap_size(&mi);
		L->nblocks = 0;
		return;
	}
	if (b->opts->dirs_in_metazone) {
		L->zone_pending = true;
		L->nblocks = 0;
		return;
	}
	erofs_layout_plan_flat(b, n);
}

/* --root-xattr-isize: room for xattrs added to the root later */
static u32 root_xattr_size(const struct erofs_build *b, u32 size)
{
	u32 want = round_up(b->opts->root_xattr_isize, 4);

	if (!want)
		return size;
	/* a body of the header alone is one the kernel refuses to read */
	want = max_t(u32, want, sizeof(struct erofs_xattr_ibody_header) + 4);
	return max(size, want);
}

static int plan_node(struct erofs_build *b, struct erofs_node *n)
{
	struct erofs_node_layout *L = &n->L;
	bool sparse;
	int ret;
	const char *why;
	char path[PATH_MAX];

	if (L->retained)
		return 0;
	if (erofs_node_is_dir(n))
		n->size = erofs_dir_data_size(n, b->blksz,
					      b->opts->dot_omitted);
	why = extended_reason(b, n);
	if (why && b->opts->force_inode == EROFS_FORCE_INODE_COMPACT)
		return erofs_fail(-EINVAL,
				  "%s cannot be a compact inode (-Eforce-inode-compact): %s",
				  erofs_node_path(n, path, sizeof(path)), why);
	L->version = why || b->opts->force_inode == EROFS_FORCE_INODE_EXTENDED ?
			     EROFS_INODE_LAYOUT_EXTENDED :
			     EROFS_INODE_LAYOUT_COMPACT;
	L->inode_size = L->version == EROFS_INODE_LAYOUT_EXTENDED ?
				sizeof(struct erofs_inode_extended) :
				sizeof(struct erofs_inode_compact);
	L->xattr_size = erofs_xattr_ibody_bytes(b->xattrs, n);
	if (n == b->tree->root)
		L->xattr_size = root_xattr_size(b, L->xattr_size);
	if (L->xattr_size > erofs_xattr_ibody_size(UINT16_MAX))
		return erofs_fail(-ENOSPC, "%s: xattrs too large (%u bytes)",
				  erofs_node_path(n, path, sizeof(path)),
				  L->xattr_size);
	L->datalayout = EROFS_INODE_FLAT_PLAIN;

	switch (n->mode & S_IFMT) {
	case S_IFREG:
		if (n->data_kind == EROFS_DATA_EXTERNAL)
			return erofs_chunk_plan_external(b, n);
		if (n->data_kind == EROFS_DATA_RESERVED) {
			/* space for data that comes later: no inline tail */
			L->datalayout = EROFS_INODE_FLAT_PLAIN;
			L->nblocks = DIV_ROUND_UP(n->size, b->blksz);
			L->blkaddr = erofs_alloc_blocks(b, L->nblocks);
			break;
		}
		if (n->data_kind == EROFS_DATA_PLACED) {
			/* the source wrote it already, where it says */
			L->datalayout = EROFS_INODE_FLAT_PLAIN;
			L->nblocks = DIV_ROUND_UP(n->size, b->blksz);
			L->blkaddr = n->src.off >> b->opts->blkszbits;
			break;
		}
		sparse = n->maybe_sparse && n->size > b->blksz &&
			 (n->data_kind == EROFS_DATA_FILE ||
			  n->data_kind == EROFS_DATA_SPOOL);
		if (sparse && b->zi && !b->opts->chunkbits) {
			ret = plan_sparse(b, n, true);
			if (ret)
				return ret < 0 ? ret : 0;
		}
		if (b->zi && n->size && plan_compressed(b, n))
			break;
		if (b->opts->chunkbits && n->size) {
			/* the chunk pass decides once it has seen the data */
			L->cpending = true;
			L->nblocks = 0;
			break;
		}
		if (sparse) {
			ret = plan_sparse(b, n, false);
			return ret < 0 ? ret : 0;
		}
		erofs_layout_plan_flat(b, n);
		break;
	case S_IFDIR:
		if (b->opts->base && n == b->tree->root) {
			/* no inline dirents: the record stays small */
			L->datalayout = EROFS_INODE_FLAT_PLAIN;
			L->nblocks = DIV_ROUND_UP(n->size, b->blksz);
			L->blkaddr = erofs_alloc_blocks(b, L->nblocks);
			return place_root(b, n);
		}
		plan_dir(b, n);
		break;
	case S_IFLNK:
		erofs_layout_plan_flat(b, n);
		break;
	default:
		break;
	}
	return 0;
}

/* Name the file whose data crosses the limit of block addresses. */
static int check_limit(struct erofs_build *b, const struct erofs_node *n)
{
	char path[PATH_MAX];

	if (b->next_blkaddr <= erofs_max_blocks(b))
		return 0;
	return erofs_fail(-EFBIG,
			  "%s: the data up to this file needs %llu blocks of %u bytes; this layout addresses at most 2^%u blocks%s",
			  erofs_node_path(n, path, sizeof(path)),
			  (unsigned long long)b->next_blkaddr, b->blksz,
			  b->layout_48bit ? 48 : 32,
			  b->layout_48bit ? "" : " (-E48bit addresses 2^48)");
}

int erofs_layout_plan(struct erofs_build *b)
{
	struct erofs_tree *t = b->tree;
	int ret;

	for (u64 i = 0; i < t->nr_order; i++) {
		ret = plan_node(b, t->order[i]);
		if (!ret)
			ret = check_limit(b, t->order[i]);
		if (ret)
			return ret;
	}
	return 0;
}

int erofs_layout_place_zone_dirs(struct erofs_build *b)
{
	struct erofs_tree *t = b->tree;

	for (u64 i = 0; i < t->nr_order; i++) {
		struct erofs_node *n = t->order[i];
		int ret;

		if (!n->L.zone_pending)
			continue;
		n->L.zone_pending = false;
		erofs_layout_plan_flat(b, n);
		ret = check_limit(b, n);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Best-fit packing: a record that fits in a block never crosses a block
 * boundary (the kernel reads inline tails within one block), and partly
 * used blocks are filled by the record that leaves the least space.
 * free_lists[k] holds blocks with exactly k free 32-byte slots. The
 * metadata area has a packer, and the metabox one of its own: the same
 * rules hold there, in blocks of its data.
 */
struct erofs_meta_packer {
	u64 **free_lists;
	u64 *free_len;
	u64 *free_cap;
	unsigned int slots_per_block;
	u64 nblocks;
};

static void packer_free(struct erofs_meta_packer *p)
{
	if (!p)
		return;
	for (unsigned int k = 0; p->free_lists && k < p->slots_per_block; k++)
		free(p->free_lists[k]);
	free(p->free_lists);
	free(p->free_len);
	free(p->free_cap);
	free(p);
}

static struct erofs_meta_packer *packer_new(const struct erofs_build *b)
{
	struct erofs_meta_packer *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->slots_per_block = b->blksz / EROFS_SLOTSIZE;
	p->free_lists = calloc(p->slots_per_block, sizeof(*p->free_lists));
	p->free_len = calloc(p->slots_per_block, sizeof(*p->free_len));
	p->free_cap = calloc(p->slots_per_block, sizeof(*p->free_cap));
	if (!p->free_lists || !p->free_len || !p->free_cap) {
		packer_free(p);
		return NULL;
	}
	return p;
}

void erofs_layout_free_packers(struct erofs_build *b)
{
	packer_free(b->meta_pk);
	packer_free(b->mbox_pk);
	b->meta_pk = b->mbox_pk = NULL;
}

static int packer_push(struct erofs_meta_packer *p, unsigned int k, u64 blk)
{
	int ret = erofs_grow_array(&p->free_lists[k], &p->free_cap[k],
				   p->free_len[k] + 1, sizeof(u64));

	if (ret)
		return ret;
	p->free_lists[k][p->free_len[k]++] = blk;
	return 0;
}

static int packer_place(struct erofs_meta_packer *p, u32 bytes, u64 *pos)
{
	unsigned int spb = p->slots_per_block;
	u64 slots = DIV_ROUND_UP(bytes, EROFS_SLOTSIZE);

	if (slots <= spb) {
		for (unsigned int k = slots; k < spb; k++) {
			u64 blk;

			if (!p->free_len[k])
				continue;
			/* the newest such block keeps related inodes close */
			blk = p->free_lists[k][--p->free_len[k]];
			*pos = (blk * spb + (spb - k)) * EROFS_SLOTSIZE;
			if (k - slots)
				return packer_push(p, k - slots, blk);
			return 0;
		}
	}
	/* start a new block (or run of blocks) */
	*pos = p->nblocks * spb * EROFS_SLOTSIZE;
	p->nblocks += DIV_ROUND_UP(slots, spb);
	if (slots % spb)
		return packer_push(p, spb - slots % spb, p->nblocks - 1);
	return 0;
}

/* Whether a node's record is placed with the tree's (not kept, not apart). */
static bool placed_here(const struct erofs_build *b, const struct erofs_node *n)
{
	return !n->L.retained && !(b->opts->base && n == b->tree->root);
}

/*
 * A nid of the metadata area: its 32-byte slot counted from
 * "meta_blkaddr", which is the block before the area (nid 0 would be
 * inode number 0, which readdir() callers skip) unless pack_meta settles
 * otherwise.
 */
static erofs_nid_t area_nid(const struct erofs_build *b, u64 meta_pos)
{
	u64 base = b->meta_start ? b->meta_start - b->meta_blkaddr : 1;

	return (erofs_pos(b, base) + meta_pos) >> EROFS_ISLOTBITS;
}

int erofs_layout_place_records(struct erofs_build *b)
{
	struct erofs_tree *t = b->tree;
	int ret;

	b->meta_pk = packer_new(b);
	if (!b->meta_pk)
		return -ENOMEM;
	if (b->opts->metabox) {
		b->mbox_pk = packer_new(b);
		if (!b->mbox_pk)
			return -ENOMEM;
	}
	/* the long prefix table opens the metabox (-m) */
	if (b->prefixes_in_metabox &&
	    erofs_xattr_uses_long_prefixes(b->xattrs)) {
		u64 pos;

		ret = packer_place(b->mbox_pk,
				   erofs_xattr_prefix_table_size(b->xattrs),
				   &pos);
		if (ret)
			return ret;
		b->prefix_start = pos / EROFS_XATTR_UNIT;
	}
	for (u64 i = 0; i < t->nr_order; i++) {
		struct erofs_node_layout *L = &t->order[i]->L;

		if (!placed_here(b, t->order[i]))
			continue;
		L->in_metabox = b->opts->metabox;
		ret = packer_place(L->in_metabox ? b->mbox_pk : b->meta_pk,
				   erofs_layout_record_size(L), &L->meta_pos);
		if (ret)
			return ret;
		/* final for the metabox; for the area when "nids_early" */
		L->nid = L->in_metabox ?
				 1ULL << EROFS_DIRENT_NID_METABOX_BIT |
					 L->meta_pos >> EROFS_ISLOTBITS :
				 area_nid(b, L->meta_pos);
	}
	if (b->mbox_pk)
		b->mbox_size = b->mbox_pk->nblocks * b->blksz;
	b->nr_placed = t->nr_order;
	return 0;
}

int erofs_layout_pack_meta(struct erofs_build *b)
{
	struct erofs_tree *t = b->tree;
	int ret;

	/* the packed inode and the metabox, added since */
	for (u64 i = b->nr_placed; i < t->nr_order; i++) {
		ret = packer_place(b->meta_pk,
				   erofs_layout_record_size(&t->order[i]->L),
				   &t->order[i]->L.meta_pos);
		if (ret)
			return ret;
	}
	/*
	 * With 48-bit nids an area past 32-bit block addresses counts from
	 * block 0; appending to an image, they count from the old image's.
	 */
	b->meta_start = b->next_blkaddr;
	b->meta_blkaddr = b->meta_start - 1;
	if (b->opts->base) {
		b->meta_blkaddr = b->opts->base->sb.meta_blkaddr;
	} else if (b->meta_blkaddr > UINT32_MAX) {
		if (!b->layout_48bit)
			return erofs_fail(-EFBIG,
					  "metadata at block %llu is past 32-bit block addresses (-E48bit addresses 2^48)",
					  (unsigned long long)b->meta_start);
		/* nids written already must not change */
		if (b->nids_early && !b->opts->metabox)
			return erofs_fail(-EFBIG,
					  "metadata at block %llu is past 32-bit block addresses, where directories compressed with --zD cannot name it: use -m too",
					  (unsigned long long)b->meta_start);
		b->meta_blkaddr = 0;
	}
	for (u64 i = 0; i < t->nr_order; i++) {
		struct erofs_node_layout *L = &t->order[i]->L;

		if (placed_here(b, t->order[i]) && !L->in_metabox)
			L->nid = area_nid(b, L->meta_pos);
	}
	b->meta_size = b->meta_pk->nblocks * b->blksz;
	erofs_layout_free_packers(b);
	/*
	 * 48BIT has a 64-bit root nid, the others 16 bits (an appended root
	 * was placed apart, and checked there)
	 */
	if (!b->layout_48bit && !b->opts->base && t->root->L.nid > UINT16_MAX)
		return erofs_fail(-EFBIG, "root nid %llu does not fit",
				  (unsigned long long)t->root->L.nid);
	return 0;
}
