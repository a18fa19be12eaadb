// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Extents of compressed inodes in an image (erofs/zextent.h): the map is
 * walked by a per-thread cursor, each extent checked as the kernel checks
 * it when reached, and an extent's cluster read and decompressed. The
 * bytes of the map are decoded by the codec (lib/zmap.c) that mkfs
 * encodes them with.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "erofs/decompress.h"
#include "erofs/format.h"
#include "erofs/image.h"
#include "erofs/inode_read.h"
#include "erofs/zextent.h"
#include "erofs/zmap.h"

/* The kernel refuses extents longer than this (Z_EROFS_PCLUSTER_MAX_DSIZE) */
#define ZX_MAX_LLEN Z_EROFS_PCLUSTER_MAX_DSIZE
#define FULL_INDEX_SIZE sizeof(struct z_erofs_lcluster_index)

/*
 * The map of one inode, read as a stream: a cursor that walks the indexes
 * (or extent records) front to back, holding the extent it reached and
 * a small window of decoded indexes, never the whole map. The checks are
 * the kernel's, made as each extent is reached. Reads go front to back
 * (fsck, extraction, dump); an offset before the cursor starts it over.
 */
#define ZWIN 256 /* full indexes decoded per read */

enum { ZC_WHOLE, ZC_LCLUSTERS, ZC_EXTENTS };

struct zcursor {
	u64 img_id; /* erofs_image.id; 0: unused */
	erofs_nid_t nid;
	u64 iloc, size;
	u64 used; /* for least-recently-used replacement */
	u8 kind;
	struct z_erofs_map_header h;
	u16 advise;
	unsigned int lbits;

	/* lcluster indexes */
	u64 total; /* lclusters */
	bool full;
	u64 ipos; /* where they start */
	struct erofs_zcompact g;
	bool twobyte, big;
	u32 lobits;
	u64 tail_pos; /* where they end: the inline cluster */
	u32 idata;
	struct erofs_zindex win[ZWIN]; /* decoded indexes [wbase, wbase + wn) */
	/*
	 * Raw index bytes [rpos, rpos + rlen), read past the metadata cache:
	 * a map is read once, front to back, and would only push out of it
	 * the inodes and directories that are read again.
	 */
	u8 raw[4096];
	u64 rpos;
	u32 rlen;
	u64 wbase;
	u32 wn;
	u64 k; /* next lcluster to look at */
	u64 head; /* the last head reached */
	bool have_next;
	u64 next; /* the head the next extent starts at */

	/* extent records (48-bit layout) */
	u32 recsz;
	u64 nrec, rec_i, rec_pa, rec_pa_start, prev_la;
	struct erofs_zx rec_next; /* record rec_i decoded, llen unknown */

	/* the extent reached */
	bool have_cur, cur_last;
	struct erofs_zx cur;
};

/*
 * A lookup may need two more while it runs: the map of a file in the
 * metabox is read from the metabox inode's data, whose last cluster may be
 * a fragment of the packed inode. A cursor in use is always one of the
 * most recently used, so the least recently used one is free.
 */
static __thread struct zcursor zcur[3];
static __thread u64 zclock;

static int bad(const char **why, const char *reason)
{
	*why = reason;
	return -EFSCORRUPTED;
}

/*
 * "len" (<= 2048) bytes of the map at metadata address "pos": in the image
 * (read past the cache) or, for an inode in the metabox, in its data.
 */
static const u8 *map_bytes(struct erofs_image *img, struct zcursor *c, u64 pos,
			   u32 len)
{
	if (pos < c->rpos || pos + len > c->rpos + c->rlen) {
		bool in_mbox = pos & EROFS_MBOX_ADDR;
		u64 end = in_mbox ? img->mbox_size | EROFS_MBOX_ADDR : img->size;
		u64 n = pos > end ? 0 : min_t(u64, sizeof(c->raw), end - pos);

		if (n < len || (in_mbox ? erofs_image_read(img, c->raw, n, pos) :
					  erofs_image_pread(img, c->raw, n, pos))) {
			c->rlen = 0;
			return NULL;
		}
		c->rpos = pos;
		c->rlen = n;
	}
	return c->raw + (pos - c->rpos);
}

static int read_full_window(struct erofs_image *img, struct zcursor *c,
			    u64 k, const char **why)
{
	u64 n = min_t(u64, c->total - k, ZWIN);
	const u8 *buf = map_bytes(img, c, c->ipos + k * FULL_INDEX_SIZE,
				  n * FULL_INDEX_SIZE);

	if (!buf)
		return bad(why, "lcluster indexes lie past the end of the image");
	erofs_zmap_decode_full(buf, n, c->win);
	c->wbase = k;
	c->wn = n;
	return 0;
}

/* Decode the compact pack that holds lcluster "k". */
static int read_compact_pack(struct erofs_image *img, struct zcursor *c, u64 k,
			     const char **why)
{
	u64 k0, off;
	u32 vcnt, avail;
	const u8 *pack;

	erofs_zmap_compact_pack(&c->g, k, &k0, &off, &vcnt);
	avail = min_t(u64, vcnt, c->total - k0);
	pack = map_bytes(img, c, c->ipos + off,
			 vcnt == Z_EROFS_COMPACT_4B_LCLUSTERS ?
				 Z_EROFS_COMPACT_4B_PACK_SIZE :
				 Z_EROFS_COMPACT_2B_PACK_SIZE);
	if (!pack)
		return bad(why, "cannot read lcluster indexes");
	erofs_zmap_decode_pack(pack, vcnt, avail, c->lobits, c->big, c->win);
	c->wbase = k0;
	c->wn = avail;
	return 0;
}

/* The decoded index of lcluster "k" (< total). */
static int index_at(struct erofs_image *img, struct zcursor *c, u64 k,
		    const struct erofs_zindex **r, const char **why)
{
	if (k < c->wbase || k >= c->wbase + c->wn) {
		int ret = c->full ? read_full_window(img, c, k, why) :
				    read_compact_pack(img, c, k, why);

		if (ret)
			return ret;
	}
	*r = &c->win[k - c->wbase];
	return 0;
}

static bool alg_usable(const struct erofs_image *img, unsigned int alg)
{
	const struct erofs_sb_info *sb = &img->sb;

	if (sb->feature_incompat & EROFS_FEATURE_INCOMPAT_COMPR_CFGS)
		return sb->available_compr_algs & (1U << alg);
	return alg == Z_EROFS_COMPRESSION_LZ4;
}

/* Checks every extent gets, however it was encoded. */
static int check_extent(const struct erofs_zx *x, bool last, const char **why)
{
	if (x->llen > ZX_MAX_LLEN)
		return bad(why, "extent longer than the kernel decodes");
	if (x->where == EROFS_ZX_HOLE || x->where == EROFS_ZX_FRAGMENT)
		return 0;
	if (x->fmt >= EROFS_ZFMT_SHIFTED) {
		if (x->llen > x->plen)
			return bad(why, "not enough uncompressed data stored");
	} else if (!x->partial && x->llen < x->plen && !last) {
		return bad(why, "too much compressed data");
	}
	return 0;
}

/*
 * Step over the indexes from c->k to the next head that starts an extent,
 * checking each as the kernel would look at it. *found is false at the
 * end of the map.
 */
static int next_head(struct erofs_image *img, struct zcursor *c, bool *found,
		     const char **why)
{
	const u64 L = 1ULL << c->lbits;

	*found = false;
	for (; c->k < c->total; c->k++) {
		const struct erofs_zindex *r;
		u64 k = c->k;
		int ret = index_at(img, c, k, &r, why);

		if (ret)
			return ret;
		if (r->type == Z_EROFS_LCLUSTER_TYPE_NONHEAD) {
			u64 d0 = r->cblk ? 1 : r->lo;

			if (r->cblk && k != c->head + 1)
				return bad(why, "CBLKCNT away from its head");
			/*
			 * The kernel looks back by d0: it must reach the head,
			 * and everything between is a nonhead already.
			 */
			if (!d0 || d0 > k || k - d0 < c->head)
				return bad(why, "bogus lookback distance");
			continue;
		}
		if (r->lo >= L)
			return bad(why, "cluster offset beyond its lcluster");
		if ((k << c->lbits) + r->lo >= c->size) {
			/* closes the last extent at EOF: nothing after it */
			if (k + 1 != c->total)
				return bad(why, "an extent starts past the end of the file");
			continue;
		}
		c->head = k;
		c->k++;
		*found = true;
		return 0;
	}
	return 0;
}

/* The extent starting at head c->next, ending at the head after it. */
static int advance_lclusters(struct erofs_image *img, struct zcursor *c,
			     const char **why)
{
	const bool big1 = c->advise & Z_EROFS_ADVISE_BIG_PCLUSTER_1;
	const bool big2 = c->advise & Z_EROFS_ADVISE_BIG_PCLUSTER_2;
	const bool full = c->full;
	struct erofs_zx *x = &c->cur;
	const struct erofs_zindex *r;
	u64 k = c->next, start;
	struct erofs_zindex hd;
	bool found, bigp;
	int ret;

	if (!c->have_next)
		return bad(why, "offset past the end of the file");
	ret = index_at(img, c, k, &r, why);
	if (ret)
		return ret;
	hd = *r;
	start = (k << c->lbits) + hd.lo;
	ret = next_head(img, c, &found, why);
	if (ret)
		return ret;
	memset(x, 0, sizeof(*x));
	x->la = start;
	if (found) {
		ret = index_at(img, c, c->head, &r, why);
		if (ret)
			return ret;
		x->llen = (c->head << c->lbits) + r->lo - start;
		c->next = c->head;
	} else {
		x->llen = c->size - start;
	}
	c->have_next = found;
	c->cur_last = !found;
	c->have_cur = true;
	x->partial = hd.partial;
	if (hd.type == Z_EROFS_LCLUSTER_TYPE_PLAIN)
		x->fmt = c->advise & Z_EROFS_ADVISE_INTERLACED_PCLUSTER ?
				 EROFS_ZFMT_INTERLACED :
				 EROFS_ZFMT_SHIFTED;
	else
		x->fmt = (c->h.h_algorithmtype >>
			  (hd.type == Z_EROFS_LCLUSTER_TYPE_HEAD2 ? 4 : 0)) & 15;
	if (x->fmt < EROFS_ZFMT_SHIFTED && !alg_usable(img, x->fmt))
		return bad(why, "algorithm not in the superblock's list");
	if (c->cur_last && c->idata) {
		x->where = EROFS_ZX_INLINE;
		x->pa = c->tail_pos;
		x->plen = c->idata;
		if (x->fmt == EROFS_ZFMT_INTERLACED)
			x->fmt = EROFS_ZFMT_SHIFTED;
		if (!erofs_image_contains(img, x->pa, x->plen) ||
		    (x->pa & (img->blksz - 1)) + x->plen > img->blksz)
			return bad(why, "inline cluster crosses a block boundary");
		return check_extent(x, true, why);
	}
	if (c->cur_last && (c->advise & Z_EROFS_ADVISE_FRAGMENT_PCLUSTER)) {
		x->where = EROFS_ZX_FRAGMENT;
		x->pa = le32_to_cpu(c->h.h_fragmentoff);
		if (full)
			x->pa |= hd.pblk << 32;
		return check_extent(x, true, why);
	}
	bigp = hd.type == Z_EROFS_LCLUSTER_TYPE_HEAD1 ? big1 : big2;
	x->plen = 1;
	if (hd.hole) {
		x->plen = 0;
	} else if (bigp && ((k + 1) << c->lbits) < c->size &&
		   k + 1 < c->total) {
		ret = index_at(img, c, k + 1, &r, why);
		if (ret)
			return ret;
		if (r->type == Z_EROFS_LCLUSTER_TYPE_NONHEAD) {
			if (!r->cblk)
				return bad(why, "bogus CBLKCNT");
			x->plen = r->lo;
		}
	}
	if (!x->plen) {
		x->where = EROFS_ZX_HOLE;
		return check_extent(x, c->cur_last, why);
	}
	x->where = EROFS_ZX_DISK;
	if (x->plen > Z_EROFS_PCLUSTER_MAX_SIZE >> img->blkszbits)
		return bad(why, "physical cluster larger than 1 MiB");
	x->plen <<= img->blkszbits;
	x->pa = hd.pblk << img->blkszbits;
	if (hd.pblk >> 48 || !erofs_image_contains(img, x->pa, x->plen))
		return bad(why, "physical cluster lies past the end of the image");
	return check_extent(x, c->cur_last, why);
}

/* One encoded extent record (48-bit layout) into "x", checked. */
static int ext_record(struct erofs_image *img, u32 plen, u64 pa,
		      bool interlaced, bool last_fragment, u32 recsz,
		      struct erofs_zx *x, const char **why)
{
	int ret = erofs_zmap_decode_extent(plen, pa, interlaced, last_fragment,
					   recsz, img->blksz, x, why);

	if (ret || x->where != EROFS_ZX_DISK)
		return ret;
	if (x->fmt < EROFS_ZFMT_SHIFTED && !alg_usable(img, x->fmt))
		return bad(why, "algorithm not in the superblock's list");
	if (x->plen > Z_EROFS_PCLUSTER_MAX_SIZE)
		return bad(why, "physical cluster larger than 1 MiB");
	if (!erofs_image_contains(img, x->pa, x->plen))
		return bad(why, "physical cluster lies past the end of the image");
	return 0;
}

/* Read record c->rec_i into c->rec_next (all but its length). */
static int read_record(struct erofs_image *img, struct zcursor *c,
		       const char **why)
{
	struct z_erofs_extent e = { 0 };
	struct erofs_zx *x = &c->rec_next;
	const u64 i = c->rec_i;
	const u8 *raw = map_bytes(img, c, c->ipos + i * c->recsz, c->recsz);
	u64 rpa;
	int ret;

	if (!raw)
		return bad(why, "cannot read extent records");
	memcpy(&e, raw, c->recsz);
	memset(x, 0, sizeof(*x));
	if (c->recsz <= 8) {
		x->la = i << c->lbits;
		rpa = c->recsz == 4 ? c->rec_pa : le32_to_cpu(e.pstart_lo);
		c->rec_pa += le32_to_cpu(e.plen) & Z_EROFS_EXTENT_PLEN_MASK;
	} else {
		x->la = le32_to_cpu(e.lstart_lo);
		if (c->recsz > 16)
			x->la |= (u64)le32_to_cpu(e.lstart_hi) << 32;
		rpa = le32_to_cpu(e.pstart_lo) |
		      (u64)le32_to_cpu(e.pstart_hi) << 32;
		if (i ? x->la <= c->prev_la : x->la != 0)
			return bad(why, "extent records out of order");
	}
	if (x->la >= c->size)
		return bad(why, "an extent starts past the end of the file");
	c->prev_la = x->la;
	ret = ext_record(img, le32_to_cpu(e.plen), rpa,
			 c->advise & Z_EROFS_ADVISE_INTERLACED_PCLUSTER,
			 (c->advise & Z_EROFS_ADVISE_FRAGMENT_PCLUSTER) &&
				 i + 1 == c->nrec,
			 c->recsz, x, why);
	if (ret)
		return ret;
	c->rec_i++;
	return 0;
}

static int advance_records(struct erofs_image *img, struct zcursor *c,
			   const char **why)
{
	int ret;

	if (c->rec_i > c->nrec || (c->have_cur && c->cur_last))
		return bad(why, "offset past the end of the file");
	c->cur = c->rec_next;
	c->cur_last = c->rec_i == c->nrec;
	if (c->cur_last) {
		c->cur.llen = c->size - c->cur.la;
	} else {
		ret = read_record(img, c, why);
		if (ret)
			return ret;
		c->cur.llen = c->rec_next.la - c->cur.la;
	}
	c->have_cur = true;
	return check_extent(&c->cur, c->cur_last, why);
}

/* Back to the first extent of the map. */
static int rewind_cursor(struct erofs_image *img, struct zcursor *c,
			 const char **why)
{
	const struct erofs_zindex *r;
	bool found;
	int ret;

	c->have_cur = c->cur_last = c->kind == ZC_WHOLE;
	c->wn = 0;
	c->rlen = 0;
	switch (c->kind) {
	case ZC_WHOLE:
		return 0;
	case ZC_EXTENTS:
		c->rec_i = 0;
		c->rec_pa = c->recsz == 4 ? c->rec_pa_start : 0;
		return read_record(img, c, why);
	}
	ret = index_at(img, c, 0, &r, why);
	if (ret)
		return ret;
	if (r->type == Z_EROFS_LCLUSTER_TYPE_NONHEAD || r->lo)
		return bad(why, "the first lcluster does not start an extent");
	c->k = 0;
	c->head = 0;
	ret = next_head(img, c, &found, why);
	if (ret)
		return ret;
	if (!found)
		return bad(why, "offset past the end of the file");
	c->next = c->head;
	c->have_next = true;
	return 0;
}

/* Read the map header and get a cursor ready at the first extent. */
static int open_cursor(struct erofs_image *img, const struct erofs_rinode *ri,
		       struct zcursor *c, const char **why)
{
	u64 hpos = z_erofs_map_header_pos(ri->meta_end);
	struct z_erofs_map_header *h = &c->h;
	u64 used = c->used;
	__le64 whole;

	/* still in use while the header and first indexes are read */
	memset(c, 0, sizeof(*c));
	c->used = used;
	c->size = ri->i.size;
	if (erofs_image_read(img, h, sizeof(*h), hpos))
		return bad(why, "map header lies past the end of the image");
	if (h->h_clusterbits >> Z_EROFS_FRAGMENT_INODE_BIT) {
		/* the whole file is a fragment of the packed inode */
		c->kind = ZC_WHOLE;
		memcpy(&whole, h, sizeof(whole));
		c->cur.llen = ri->i.size;
		c->cur.pa = le64_to_cpu(whole) ^ (1ULL << 63);
		c->cur.where = EROFS_ZX_FRAGMENT;
		c->have_cur = c->cur_last = true;
		if (!(img->sb.feature_incompat &
		      EROFS_FEATURE_INCOMPAT_FRAGMENTS) ||
		    !img->sb.packed_nid)
			return bad(why, "fragment without a packed inode");
		/* read piece by piece from the packed inode: any length */
		return 0;
	}
	c->advise = le16_to_cpu(h->h_advise);
	c->lbits = img->blkszbits + (h->h_clusterbits & 15);
	if ((c->advise & Z_EROFS_ADVISE_FRAGMENT_PCLUSTER) &&
	    (!(img->sb.feature_incompat & EROFS_FEATURE_INCOMPAT_FRAGMENTS) ||
	     !img->sb.packed_nid))
		return bad(why, "fragment without a packed inode");
	if (ri->i.datalayout == EROFS_INODE_COMPRESSED_FULL &&
	    (c->advise & Z_EROFS_ADVISE_EXTENTS)) {
		u8 raw[8];

		c->kind = ZC_EXTENTS;
		c->recsz = 4 << ((c->advise >> Z_EROFS_ADVISE_EXTRECSZ_BIT) &
				 Z_EROFS_ADVISE_EXTRECSZ_MASK);
		c->ipos = round_up(hpos + sizeof(*h), c->recsz);
		if (c->recsz <= 8) {
			/* a record per lcluster, in order */
			if (c->lbits > 30)
				return bad(why, "lcluster size beyond 1 GiB");
			c->nrec = DIV_ROUND_UP(c->size, 1ULL << c->lbits);
			if (c->recsz == 4) {
				__le64 start;

				if (erofs_image_read(img, &start, 8, c->ipos))
					return bad(why, "extent records lie past the end of the image");
				c->rec_pa_start = le64_to_cpu(start);
				c->ipos += 8;
			}
		} else {
			memcpy(raw, h, 8);
			c->nrec = le32_to_cpu(h->h_extents_lo) |
				  (u64)(raw[6] | raw[7] << 8) << 32;
		}
		if (!c->nrec || c->nrec > img->size / c->recsz ||
		    !erofs_image_contains(img, c->ipos, c->nrec * c->recsz))
			return bad(why, "extent records lie past the end of the image");
		return rewind_cursor(img, c, why);
	}
	c->kind = ZC_LCLUSTERS;
	if (c->advise & Z_EROFS_ADVISE_FRAGMENT_PCLUSTER) {
		/* the fragment offset takes the idata field's place */
	} else if (c->advise & Z_EROFS_ADVISE_INLINE_PCLUSTER) {
		c->idata = le16_to_cpu(h->h_idata_size);
		if (!c->idata)
			return bad(why, "inline cluster of size 0");
	}
	if (c->lbits > 16)
		return bad(why, "lcluster size beyond 64 KiB");
	if ((c->advise & (Z_EROFS_ADVISE_BIG_PCLUSTER_1 |
			  Z_EROFS_ADVISE_BIG_PCLUSTER_2)) &&
	    !(img->sb.feature_incompat & EROFS_FEATURE_INCOMPAT_BIG_PCLUSTER))
		return bad(why, "big pcluster without the superblock feature");
	if (ri->i.datalayout == EROFS_INODE_COMPRESSED_COMPACT &&
	    !(c->advise & Z_EROFS_ADVISE_BIG_PCLUSTER_1) !=
		    !(c->advise & Z_EROFS_ADVISE_BIG_PCLUSTER_2))
		return bad(why, "inconsistent big pcluster flags");
	if (((h->h_algorithmtype & 15) >= Z_EROFS_COMPRESSION_MAX) ||
	    ((h->h_algorithmtype >> 4) >= Z_EROFS_COMPRESSION_MAX)) {
		*why = "unknown compression algorithm";
		return -EOPNOTSUPP;
	}
	c->total = DIV_ROUND_UP(c->size, 1ULL << c->lbits);
	/* every index takes at least 2 bytes of the image */
	if (!c->total || c->total > img->size / 2)
		return bad(why, "more lcluster indexes than the image holds");
	c->full = ri->i.datalayout == EROFS_INODE_COMPRESSED_FULL;
	if (c->full) {
		c->ipos = hpos + Z_EROFS_FULL_INDEX_OFFSET;
		c->tail_pos = c->ipos + c->total * FULL_INDEX_SIZE;
		if (!erofs_image_contains(img, c->ipos,
					  c->total * FULL_INDEX_SIZE))
			return bad(why, "lcluster indexes lie past the end of the image");
	} else {
		if (c->lbits > 14)
			return bad(why, "compact indexes need lclusters up to 16 KiB");
		c->ipos = hpos + Z_EROFS_COMPACT_INDEX_OFFSET;
		c->twobyte = (c->advise & Z_EROFS_ADVISE_COMPACTED_2B) &&
			     c->lbits <= 12;
		c->lobits = max(c->lbits, 12U);
		c->big = c->advise & Z_EROFS_ADVISE_BIG_PCLUSTER_1;
		erofs_zmap_compact_layout(c->ipos, c->total, c->twobyte,
					  &c->g);
		c->tail_pos = c->ipos + c->g.bytes;
		if (!erofs_image_contains(img, c->ipos, c->g.bytes))
			return bad(why, "lcluster indexes lie past the end of the image");
	}
	return rewind_cursor(img, c, why);
}

/* The thread's cursor for "ri": the one it has, or the oldest anew. */
static struct zcursor *cursor_for(struct erofs_image *img,
				  const struct erofs_rinode *ri, bool *fresh)
{
	struct zcursor *c = NULL, *lru = &zcur[0];

	for (unsigned int i = 0; i < ARRAY_SIZE(zcur); i++) {
		if (zcur[i].img_id == img->id && zcur[i].nid == ri->nid &&
		    zcur[i].iloc == ri->iloc && zcur[i].size == ri->i.size)
			c = &zcur[i];
		if (zcur[i].used < lru->used)
			lru = &zcur[i];
	}
	*fresh = !c;
	if (!c)
		c = lru;
	c->used = ++zclock;
	return c;
}

int erofs_zextent_lookup(struct erofs_image *img,
			 const struct erofs_rinode *ri, u64 la,
			 struct erofs_zx *x, const char **why)
{
	struct zcursor *c;
	bool fresh;
	int ret;

	if (la >= ri->i.size)
		return bad(why, "offset past the end of the file");
	c = cursor_for(img, ri, &fresh);
	if (fresh) {
		ret = open_cursor(img, ri, c, why);
		if (ret)
			goto fail;
		c->img_id = img->id;
		c->nid = ri->nid;
		c->iloc = ri->iloc;
	} else if (c->have_cur && la < c->cur.la) {
		ret = rewind_cursor(img, c, why);
		if (ret)
			goto fail;
	}
	while (!c->have_cur || la >= c->cur.la + c->cur.llen) {
		if (c->have_cur && c->cur_last)
			return bad(why, "offset past the end of the file");
		ret = c->kind == ZC_EXTENTS ? advance_records(img, c, why) :
					      advance_lclusters(img, c, why);
		if (ret)
			goto fail;
	}
	*x = c->cur;
	return 0;
fail:
	c->img_id = 0;
	return ret;
}

int erofs_zextent_packed(struct erofs_image *img, u64 off, u64 len,
			 struct erofs_rinode *packed, const char **why)
{
	int ret;

	ret = erofs_read_inode(img, img->sb.packed_nid, packed, why);
	if (ret)
		return ret;
	if (!S_ISREG(packed->i.mode))
		return bad(why, "the packed inode is not a regular file");
	if (off > packed->i.size || len > packed->i.size - off)
		return bad(why, "fragment lies past the end of the packed inode");
	/* mkfs stores fragments: a sparse packed inode is a zero bomb */
	if (!erofs_layout_is_compressed(packed->i.datalayout) &&
	    packed->i.size > img->size)
		return bad(why, "the packed inode is larger than the image");
	/* a packed inode made of fragments itself would never end */
	if (erofs_layout_is_compressed(packed->i.datalayout)) {
		struct z_erofs_map_header h;

		if (erofs_image_read(img, &h, sizeof(h),
				     z_erofs_map_header_pos(packed->meta_end)))
			return bad(why, "cannot read the packed inode's map");
		if ((h.h_clusterbits >> Z_EROFS_FRAGMENT_INODE_BIT) ||
		    (le16_to_cpu(h.h_advise) &
		     Z_EROFS_ADVISE_FRAGMENT_PCLUSTER))
			return bad(why, "the packed inode has fragments itself");
	}
	return 0;
}

int erofs_zextent_read(struct erofs_image *img, const struct erofs_zx *x,
		       u8 *out, const char **why)
{
	bool zpad = img->sb.feature_incompat & EROFS_FEATURE_INCOMPAT_ZERO_PADDING;
	u8 *in;
	int ret;

	switch (x->where) {
	case EROFS_ZX_HOLE:
		memset(out, 0, x->llen);
		return 0;
	case EROFS_ZX_FRAGMENT:
		*why = "internal: a fragment is read from the packed inode";
		return -EINVAL;
	default:
		break;
	}
	in = malloc(max_t(u32, x->plen, 1));
	if (!in)
		return -ENOMEM;
	if (x->where == EROFS_ZX_INLINE)
		ret = erofs_image_read(img, in, x->plen, x->pa);
	else
		ret = erofs_image_pread(img, in, x->plen, x->pa);
	if (ret) {
		free(in);
		return bad(why, "cannot read a physical cluster");
	}
	if (x->fmt == EROFS_ZFMT_SHIFTED) {
		memcpy(out, in, x->llen);
		ret = 0;
	} else if (x->fmt == EROFS_ZFMT_INTERLACED) {
		/* the first bytes up to the block end sit at the cluster end */
		u64 cur = min_t(u64, img->blksz - (x->la & (img->blksz - 1)),
				x->llen);

		memcpy(out, in + x->plen - cur, cur);
		memcpy(out + cur, in, x->llen - cur);
		ret = 0;
	} else {
		/* the zero padding applies to inline clusters alike */
		ret = erofs_decompress(x->fmt, in, x->plen, out, x->llen,
				       zpad || x->fmt != Z_EROFS_COMPRESSION_LZ4,
				       x->partial, img->blksz, why);
	}
	free(in);
	return ret;
}

int erofs_zextent_stored_bytes(struct erofs_image *img,
			       const struct erofs_rinode *ri, u64 *bytes,
			       const char **why)
{
	u64 pos = 0, total = 0;

	while (pos < ri->i.size) {
		struct erofs_zx x;
		int ret = erofs_zextent_lookup(img, ri, pos, &x, why);

		if (ret)
			return ret;
		if (x.where == EROFS_ZX_DISK || x.where == EROFS_ZX_INLINE)
			total += x.plen;
		pos = x.la + x.llen;
	}
	*bytes = total;
	return 0;
}
