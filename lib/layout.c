// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Layout: decide each inode's form and data layout, allocate data blocks,
 * and pack the metadata records (inode, xattrs, maps, inline tail) into
 * blocks, which assigns the nids.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "erofs/build.h"
#include "erofs/chunk.h"
#include "erofs/dir.h"
#include "erofs/error.h"
#include "erofs/format.h"
#include "erofs/source.h"

static bool needs_extended(const struct erofs_build *b,
			   const struct erofs_node *n)
{
	return n->size > UINT32_MAX || n->uid > UINT16_MAX ||
	       n->gid > UINT16_MAX || n->nlink > UINT16_MAX ||
	       n->mtime != b->opts->build_time ||
	       n->mtime_nsec != b->opts->build_time_nsec;
}

u32 erofs_layout_record_size(const struct erofs_node_layout *L)
{
	return L->inode_size + L->xattr_size + L->extra_size + L->inline_size;
}

/* Put the last partial block of "size" bytes inline when it fits. */
void erofs_layout_plan_flat(struct erofs_build *b, struct erofs_node *n)
{
	struct erofs_node_layout *L = &n->L;
	u32 tail = n->size & (b->blksz - 1);

	L->datalayout = EROFS_INODE_FLAT_PLAIN;
	L->nblocks = DIV_ROUND_UP(n->size, b->blksz);
	if (tail && L->inode_size + L->xattr_size + tail <= b->blksz) {
		L->datalayout = EROFS_INODE_FLAT_INLINE;
		L->inline_size = tail;
		L->nblocks = n->size >> b->opts->blkszbits;
	}
	L->blkaddr = L->nblocks ? erofs_alloc_blocks(b, L->nblocks) : 0;
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
	if (best_cost + b->blksz >= round_up(n->size, b->blksz)) {
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
	char path[4096];
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

static int plan_node(struct erofs_build *b, struct erofs_node *n)
{
	struct erofs_node_layout *L = &n->L;
	bool sparse;
	int ret;

	if (L->retained)
		return 0;
	if (erofs_node_is_dir(n))
		n->size = erofs_dir_data_size(n, b->blksz);
	L->version = needs_extended(b, n) ? EROFS_INODE_LAYOUT_EXTENDED :
					     EROFS_INODE_LAYOUT_COMPACT;
	L->inode_size = L->version == EROFS_INODE_LAYOUT_EXTENDED ?
				sizeof(struct erofs_inode_extended) :
				sizeof(struct erofs_inode_compact);
	L->xattr_size = erofs_xattr_ibody_bytes(b->xattrs, n);
	if (L->xattr_size > erofs_xattr_ibody_size(UINT16_MAX)) {
		char path[4096];

		return erofs_fail(-ENOSPC, "%s: xattrs too large (%u bytes)",
				  erofs_node_path(n, path, sizeof(path)),
				  L->xattr_size);
	}
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
		erofs_layout_plan_flat(b, n);
		break;
	case S_IFLNK:
		erofs_layout_plan_flat(b, n);
		break;
	default:
		break;
	}
	return 0;
}

int erofs_layout_plan(struct erofs_build *b)
{
	struct erofs_tree *t = b->tree;
	int ret;

	for (u64 i = 0; i < t->nr_order; i++) {
		ret = plan_node(b, t->order[i]);
		if (ret)
			return ret;
		/* name the file whose data crosses the limit */
		if (b->next_blkaddr > UINT32_MAX) {
			char path[4096];

			return erofs_fail(-EFBIG,
					  "%s: the data up to this file needs %llu blocks of %u bytes; EROFS addresses at most 2^32 blocks%s",
					  erofs_node_path(t->order[i], path,
							  sizeof(path)),
					  (unsigned long long)b->next_blkaddr,
					  b->blksz,
					  b->blksz < 4096 ?
						  " (use a larger block size)" :
						  "");
		}
	}
	return 0;
}

/*
 * Best-fit packing: a record that fits in a block never crosses a block
 * boundary (the kernel reads inline tails within one block), and partly
 * used blocks are filled by the record that leaves the least space.
 * free_lists[k] holds blocks with exactly k free 32-byte slots.
 */
struct meta_packer {
	u64 **free_lists;
	u64 *free_len;
	u64 *free_cap;
	unsigned int slots_per_block;
	u64 nblocks;
};

static int packer_push(struct meta_packer *p, unsigned int k, u64 blk)
{
	if (p->free_len[k] == p->free_cap[k]) {
		u64 cap = p->free_cap[k] ? p->free_cap[k] * 2 : 64;
		u64 *nl = realloc(p->free_lists[k], cap * sizeof(u64));

		if (!nl)
			return -ENOMEM;
		p->free_lists[k] = nl;
		p->free_cap[k] = cap;
	}
	p->free_lists[k][p->free_len[k]++] = blk;
	return 0;
}

static int packer_place(struct meta_packer *p, u32 bytes, u64 *pos)
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

int erofs_layout_pack_meta(struct erofs_build *b)
{
	struct erofs_tree *t = b->tree;
	struct meta_packer p = { .slots_per_block = b->blksz / EROFS_SLOTSIZE };
	u64 nid_base;
	int ret = -ENOMEM;

	p.free_lists = calloc(p.slots_per_block, sizeof(*p.free_lists));
	p.free_len = calloc(p.slots_per_block, sizeof(*p.free_len));
	p.free_cap = calloc(p.slots_per_block, sizeof(*p.free_cap));
	if (!p.free_lists || !p.free_len || !p.free_cap)
		goto out;
	/*
	 * nids count from meta_blkaddr: one block before the area, or the
	 * old image's when appending to it
	 */
	nid_base = b->opts->base ?
			   erofs_pos(b, b->next_blkaddr -
					     b->opts->base->sb.meta_blkaddr) :
			   b->blksz;
	for (u64 i = 0; i < t->nr_order; i++) {
		struct erofs_node *n = t->order[i];

		if (n->L.retained || (b->opts->base && n == t->root))
			continue;
		ret = packer_place(&p, erofs_layout_record_size(&n->L),
				   &n->L.meta_pos);
		if (ret)
			goto out;
		n->L.nid = (nid_base + n->L.meta_pos) >> EROFS_ISLOTBITS;
	}
	b->meta_size = p.nblocks * b->blksz;
	ret = 0;
	if (t->root->L.nid > UINT16_MAX && !b->opts->base)
		ret = erofs_fail(-EFBIG, "root nid %llu does not fit",
				 (unsigned long long)t->root->L.nid);
out:
	for (unsigned int k = 0; p.free_lists && k < p.slots_per_block; k++)
		free(p.free_lists[k]);
	free(p.free_lists);
	free(p.free_len);
	free(p.free_cap);
	return ret;
}
