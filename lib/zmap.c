// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Compressed file maps. Every logical cluster (one block of the file) has
 * an index: HEAD when an extent starts in it (with the offset where, and
 * the block of its physical cluster), NONHEAD when it lies inside an
 * extent (with the distance back to the head and on to the next one).
 * Compact packs drop the block addresses but one per pack: the kernel
 * counts the clusters of earlier heads in the pack to find the rest.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "erofs/error.h"
#include "erofs/format.h"
#include "erofs/zmap.h"

struct lindex {
	u8 type; /* Z_EROFS_LCLUSTER_TYPE_* */
	bool partial;
	u16 clusterofs; /* heads */
	u16 delta[2]; /* nonheads; delta[0] may carry D0_CBLKCNT */
	u32 blkaddr; /* heads */
	bool real; /* a head whose blkaddr the kernel uses */
	u32 pblocks; /* blocks of a real head's cluster */
};

/* Where the compact regions begin, as the kernel derives them. */
struct compact_geo {
	u32 c4_initial, c2, c4_end; /* lcluster counts */
	u32 bytes;
};

static u64 nr_lclusters(const struct erofs_zmap_info *mi)
{
	return DIV_ROUND_UP(mi->size, 1ULL << mi->blkszbits);
}

static bool use_2b(const struct erofs_zmap_info *mi)
{
	/* 2-byte packs hold offsets of up to 12 bits */
	return mi->blkszbits <= 12;
}

/*
 * "ebase": where the indexes start (after the map header), as an offset
 * whose alignment modulo 32 is the image's.
 */
static void geometry(u64 ebase, u64 total, bool twobyte, struct compact_geo *g)
{
	g->c4_initial = ((32 - ebase % 32) / 4) & 7;
	g->c2 = 0;
	if (twobyte && g->c4_initial < total)
		g->c2 = round_down(total - g->c4_initial, 16);
	if (g->c4_initial >= total) {
		g->c4_initial = total;
		g->c4_end = 0;
	} else {
		g->c4_end = total - g->c4_initial - g->c2;
	}
	g->bytes = round_up(g->c4_initial, 2) * 4 + g->c2 * 2 +
		   round_up(g->c4_end, 2) * 4;
}

static void compact_geometry(const struct erofs_zmap_info *mi,
			     struct compact_geo *g)
{
	/* inodes start 32-byte aligned, so the record offset will do */
	geometry(round_up(mi->ibody_end, 8) + 8, nr_lclusters(mi), use_2b(mi),
		 g);
}

/* Encoded extent records: 16 bytes, or 32 where offsets pass 4 GiB. */
static u32 ext_recsz(const struct erofs_zmap_info *mi)
{
	return mi->size > UINT32_MAX ? 32 : 16;
}

/* Where the records start, from the inode: after the header, aligned. */
static u32 ext_start(const struct erofs_zmap_info *mi)
{
	return round_up(round_up(mi->ibody_end, 8) + 8, ext_recsz(mi));
}

u32 erofs_zmap_size(const struct erofs_zmap_info *mi)
{
	u32 pad = round_up(mi->ibody_end, 8) - mi->ibody_end;
	struct compact_geo g;

	if (mi->whole_fragment)
		return pad + 16;
	if (mi->extents)
		return ext_start(mi) - mi->ibody_end +
		       mi->nextents * ext_recsz(mi);
	if (!mi->compact)
		return pad + 16 + nr_lclusters(mi) * 8;
	compact_geometry(mi, &g);
	return pad + 8 + g.bytes;
}

static int build_lindexes(const struct erofs_zmap_info *mi,
			  const struct erofs_zextent *ext, u32 n,
			  struct lindex *li)
{
	const unsigned int bits = mi->blkszbits;
	const u64 total = nr_lclusters(mi);
	u64 expect = 0;

	memset(li, 0, total * sizeof(*li));
	for (u32 i = 0; i < n; i++) {
		const struct erofs_zextent *e = &ext[i];
		u64 h = e->lstart >> bits, end = e->lstart + e->llen;
		u64 last = end >> bits;

		bool tailext = e->inlined || e->fragment;

		if (e->lstart != expect || !e->llen || h >= total ||
		    li[h].type || (tailext && i + 1 != n))
			return erofs_fail(-EINVAL,
					  "internal: bad extent %u at %llu", i,
					  (unsigned long long)e->lstart);
		li[h] = (struct lindex){
			.type = e->raw ? Z_EROFS_LCLUSTER_TYPE_PLAIN :
					 Z_EROFS_LCLUSTER_TYPE_HEAD1,
			.clusterofs = e->lstart & ((1U << bits) - 1),
			.blkaddr = tailext ? 0 : e->pblk,
			.real = !tailext,
			.pblocks = tailext ? 1 : e->plen >> bits,
		};
		if (i + 1 == n && end % (1U << bits) && last > h) {
			/* the lcluster with EOF closes the last extent */
			li[last] = (struct lindex){
				.type = Z_EROFS_LCLUSTER_TYPE_PLAIN,
				.clusterofs = end & ((1U << bits) - 1),
			};
		}
		for (u64 k = h + 1; k < last && k < total; k++) {
			u64 d0 = k - h;

			li[k].type = Z_EROFS_LCLUSTER_TYPE_NONHEAD;
			if (d0 == 1 && mi->big_pcluster)
				d0 = Z_EROFS_LI_D0_CBLKCNT |
				     (tailext ? 1 : e->plen >> bits);
			else if (d0 >= Z_EROFS_LI_D0_CBLKCNT)
				d0 = Z_EROFS_LI_D0_CBLKCNT - 1;
			li[k].delta[0] = d0;
			li[k].delta[1] = min_t(u64, last - k, UINT16_MAX);
		}
		expect = end;
	}
	if (expect != mi->size)
		return erofs_fail(-EINVAL, "internal: extents end at %llu",
				  (unsigned long long)expect);
	return 0;
}

static void encode_full(const struct lindex *li, u64 total, u8 *out)
{
	for (u64 k = 0; k < total; k++) {
		struct z_erofs_lcluster_index di = {
			.di_advise = cpu_to_le16(li[k].type |
						 (li[k].partial ?
							  Z_EROFS_LI_PARTIAL_REF :
							  0)),
		};

		if (li[k].type == Z_EROFS_LCLUSTER_TYPE_NONHEAD) {
			di.di_u.delta[0] = cpu_to_le16(li[k].delta[0]);
			di.di_u.delta[1] = cpu_to_le16(li[k].delta[1]);
		} else {
			di.di_clusterofs = cpu_to_le16(li[k].clusterofs);
			di.di_u.blkaddr = cpu_to_le32(li[k].blkaddr);
		}
		memcpy(out + k * 8, &di, 8);
	}
}

/*
 * Blocks of the clusters whose heads precede slot "i" of a pack, counted
 * the way the kernel walks a pack backwards from a head.
 */
static u32 pack_nblk(const u8 *type, const u16 *lo, int i, bool big)
{
	u32 nblk = big ? 0 : 1;

	while (i > 0) {
		--i;
		if (!big) {
			if (type[i] == Z_EROFS_LCLUSTER_TYPE_NONHEAD)
				i -= lo[i];
			if (i >= 0)
				++nblk;
			continue;
		}
		if (type[i] == Z_EROFS_LCLUSTER_TYPE_NONHEAD) {
			if (lo[i] & Z_EROFS_LI_D0_CBLKCNT) {
				--i;
				nblk += lo[i + 1] & ~Z_EROFS_LI_D0_CBLKCNT;
				continue;
			}
			if (lo[i] <= 1)
				return UINT32_MAX; /* the kernel rejects this */
			i -= lo[i] - 2;
			continue;
		}
		++nblk;
	}
	return nblk;
}

static void put_bits(u8 *out, u32 pos, u32 v, u32 nbits)
{
	for (u32 b = 0; b < nbits; b++, pos++) {
		if (v & (1U << b))
			out[pos / 8] |= 1U << (pos % 8);
	}
}

/* Encode "vcnt" lclusters from "li" into one pack at "out". */
static int encode_pack(const struct erofs_zmap_info *mi,
		       const struct lindex *li, u32 vcnt, u32 avail,
		       u32 *running, u8 *out)
{
	const u32 unit = vcnt == 2 ? 4 : 2;
	const u32 lobits = max(mi->blkszbits, 12U);
	const u32 encodebits = (vcnt * unit * 8 - 32) / vcnt;
	u8 type[16];
	u16 lo[16];
	u32 base = *running;
	bool have_base = false;

	memset(out, 0, vcnt * unit);
	for (u32 i = 0; i < vcnt; i++) {
		/* slots past the last lcluster stay zero: PLAIN, offset 0 */
		if (i >= avail) {
			type[i] = Z_EROFS_LCLUSTER_TYPE_PLAIN;
			lo[i] = 0;
		} else if (li[i].type == Z_EROFS_LCLUSTER_TYPE_NONHEAD) {
			type[i] = li[i].type;
			if (li[i].delta[0] & Z_EROFS_LI_D0_CBLKCNT)
				lo[i] = li[i].delta[0];
			else if (i + 1 == vcnt)
				lo[i] = min_t(u16, li[i].delta[1],
					      Z_EROFS_LI_D0_CBLKCNT - 1);
			else
				lo[i] = li[i].delta[0];
		} else {
			type[i] = li[i].type;
			lo[i] = li[i].clusterofs;
		}
		put_bits(out, i * encodebits, (u32)type[i] << lobits | lo[i],
			 encodebits);
	}
	for (u32 i = 0; i < avail; i++) {
		u32 nblk;

		if (li[i].type == Z_EROFS_LCLUSTER_TYPE_NONHEAD || !li[i].real)
			continue;
		nblk = pack_nblk(type, lo, i, mi->big_pcluster);
		if (nblk == UINT32_MAX || nblk > li[i].blkaddr)
			return -EAGAIN;
		if (!have_base) {
			base = li[i].blkaddr - nblk;
			have_base = true;
		} else if (base + nblk != li[i].blkaddr) {
			return -EAGAIN;
		}
		*running = li[i].blkaddr + li[i].pblocks;
	}
	base = cpu_to_le32(base);
	memcpy(out + vcnt * unit - 4, &base, 4);
	return 0;
}

static int encode_compact(const struct erofs_zmap_info *mi,
			  const struct lindex *li, u8 *out)
{
	struct compact_geo g;
	u64 k = 0, total = nr_lclusters(mi);
	u32 running = 0;
	int ret;

	compact_geometry(mi, &g);
	for (u32 n = 0; n < g.c4_initial; n += 2, k += 2, out += 8) {
		ret = encode_pack(mi, li + k, 2, min_t(u64, 2, total - k),
				  &running, out);
		if (ret)
			return ret;
	}
	for (u32 n = 0; n < g.c2; n += 16, k += 16, out += 32) {
		ret = encode_pack(mi, li + k, 16, 16, &running, out);
		if (ret)
			return ret;
	}
	for (u32 n = 0; n < g.c4_end; n += 2, k += 2, out += 8) {
		ret = encode_pack(mi, li + k, 2, min_t(u64, 2, total - k),
				  &running, out);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Encoded extents: a record per extent with its file offset, the byte
 * address and stored size of its cluster and the algorithm (0: stored as
 * it is, from the cluster's start); a last extent in the packed inode
 * holds the fragment's offset instead. The header counts the records.
 */
static int encode_extents(const struct erofs_zmap_info *mi,
			  const struct erofs_zextent *ext, u32 n, u8 *out)
{
	const u32 recsz = ext_recsz(mi);
	u32 pad = round_up(mi->ibody_end, 8) - mi->ibody_end;
	u8 *rec = out + ext_start(mi) - mi->ibody_end;
	struct z_erofs_map_header h = {
		.h_extents_lo = cpu_to_le32(n),
	};
	u16 advise = Z_EROFS_ADVISE_EXTENTS |
		     (__builtin_ctz(recsz) - 2) << Z_EROFS_ADVISE_EXTRECSZ_BIT;
	u64 expect = 0;

	if (n != mi->nextents)
		return erofs_fail(-EINVAL, "internal: %u extents, %u planned",
				  n, mi->nextents);
	memset(out, 0, erofs_zmap_size(mi));
	for (u32 i = 0; i < n; i++, rec += recsz) {
		const struct erofs_zextent *e = &ext[i];
		u64 pstart = e->pblk << mi->blkszbits;
		u32 plen = e->plen;
		struct z_erofs_extent d;

		if (e->lstart != expect || !e->llen || e->inlined ||
		    (e->fragment && i + 1 != n))
			return erofs_fail(-EINVAL,
					  "internal: bad extent %u at %llu", i,
					  (unsigned long long)e->lstart);
		if (e->fragment) {
			advise |= Z_EROFS_ADVISE_FRAGMENT_PCLUSTER;
			plen = (u32)mi->fragment_off;
			pstart = mi->fragment_off >> 32;
		} else if (!e->raw) {
			plen |= (u32)(mi->algorithm + 1)
				<< Z_EROFS_EXTENT_PLEN_FMT_BIT;
		}
		d = (struct z_erofs_extent){
			.plen = cpu_to_le32(plen),
			.pstart_lo = cpu_to_le32((u32)pstart),
			.pstart_hi = cpu_to_le32(pstart >> 32),
			.lstart_lo = cpu_to_le32((u32)e->lstart),
			.lstart_hi = cpu_to_le32(e->lstart >> 32),
		};
		memcpy(rec, &d, recsz);
		expect = e->lstart + e->llen;
	}
	if (expect != mi->size)
		return erofs_fail(-EINVAL, "internal: extents end at %llu",
				  (unsigned long long)expect);
	h.h_advise = cpu_to_le16(advise);
	memcpy(out + pad, &h, sizeof(h));
	return 0;
}

int erofs_zmap_encode(const struct erofs_zmap_info *mi,
		      const struct erofs_zextent *ext, u32 n, u8 *out)
{
	const u64 total = nr_lclusters(mi);
	u32 pad = round_up(mi->ibody_end, 8) - mi->ibody_end;
	struct z_erofs_map_header h = {
		.h_algorithmtype = mi->algorithm,
		.h_clusterbits = 0,
	};
	struct lindex *li;
	u16 advise = 0;
	int ret;

	if (mi->whole_fragment) {
		/* bit 63 of the header: all data is in the packed inode */
		__le64 v = cpu_to_le64(mi->fragment_off | 1ULL << 63);

		memset(out, 0, erofs_zmap_size(mi));
		memcpy(out + pad, &v, 8);
		return 0;
	}
	if (mi->extents)
		return encode_extents(mi, ext, n, out);
	li = malloc(max_t(u64, total, 1) * sizeof(*li));
	if (!li)
		return -ENOMEM;
	ret = build_lindexes(mi, ext, n, li);
	if (ret)
		goto out;
	memset(out, 0, erofs_zmap_size(mi));
	if (mi->compact) {
		if (use_2b(mi))
			advise |= Z_EROFS_ADVISE_COMPACTED_2B;
		if (mi->big_pcluster)
			advise |= Z_EROFS_ADVISE_BIG_PCLUSTER_1 |
				  Z_EROFS_ADVISE_BIG_PCLUSTER_2;
		ret = encode_compact(mi, li, out + pad + 8);
		if (ret)
			goto out;
	} else {
		if (mi->big_pcluster)
			advise |= Z_EROFS_ADVISE_BIG_PCLUSTER_1;
		encode_full(li, total, out + pad + 16);
	}
	if (mi->fragment) {
		advise |= Z_EROFS_ADVISE_FRAGMENT_PCLUSTER;
		/* the packed inode stays below 4 GiB: no high half */
		h.h_fragmentoff = cpu_to_le32(mi->fragment_off);
	} else if (mi->idata_size) {
		advise |= Z_EROFS_ADVISE_INLINE_PCLUSTER;
		h.h_idata_size = cpu_to_le16(mi->idata_size);
	}
	h.h_advise = cpu_to_le16(advise);
	memcpy(out + pad, &h, sizeof(h));
out:
	free(li);
	return ret;
}

/* ---- reading ---- */

#include "erofs/data_read.h"
#include "erofs/decompress.h"
#include "erofs/image.h"

/* The kernel refuses extents longer than this (Z_EROFS_PCLUSTER_MAX_DSIZE) */
#define ZX_MAX_LLEN Z_EROFS_PCLUSTER_MAX_DSIZE

/* One lcluster index as decoded. */
struct rindex {
	u8 type;
	bool partial, hole;
	/*
	 * Nonheads: whether delta[0] on disk carried D0_CBLKCNT, apart from
	 * "lo": a delta[0] derived in a pack's last slot may reach 2048, the
	 * flag's own bit, and is still a distance to the kernel.
	 */
	bool cblk;
	u16 lo; /* clusterofs (heads), delta[0] or the block count (nonheads) */
	u64 pblk; /* heads */
};

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
	bool busy; /* a lookup is under way: a nested one must not take it */
	u8 kind;
	struct z_erofs_map_header h;
	u16 advise;
	unsigned int lbits;

	/* lcluster indexes */
	u64 total; /* lclusters */
	bool full;
	u64 ipos; /* where they start */
	struct compact_geo g;
	bool twobyte, big;
	u32 lobits;
	u64 tail_pos; /* where they end: the inline cluster */
	u32 idata;
	struct rindex win[ZWIN]; /* decoded indexes [wbase, wbase + wn) */
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
 * A lookup may nest: the map of an inode in the metabox is read from the
 * metabox inode's data, whose own lookup runs meanwhile, and reading that
 * may meet the packed inode's. Enough cursors for every level, and the
 * ones in use are never taken over.
 */
static __thread struct zcursor zcur[4];
static __thread u64 zclock;

static int bad(const char **why, const char *reason)
{
	*why = reason;
	return -EFSCORRUPTED;
}

static u32 get_bits(const u8 *in, u32 pos, u32 nbits)
{
	u32 v = 0;

	for (u32 b = 0; b < nbits; b++, pos++)
		v |= (u32)((in[pos / 8] >> (pos % 8)) & 1) << b;
	return v;
}

/* Decode one compact pack of "vcnt" slots (only "avail" of them used). */
static void decode_pack(const u8 *pack, u32 vcnt, u32 avail, u32 lobits,
			bool big, struct rindex *ri)
{
	const u32 unit = vcnt == 2 ? 4 : 2;
	const u32 encodebits = (vcnt * unit * 8 - 32) / vcnt;
	u8 type[16];
	u16 lo[16];
	__le32 base;

	memcpy(&base, pack + vcnt * unit - 4, 4);
	for (u32 i = 0; i < vcnt; i++) {
		u32 v = get_bits(pack, i * encodebits, encodebits);

		type[i] = (v >> lobits) & 3;
		lo[i] = v & ((1U << lobits) - 1);
	}
	for (u32 i = 0; i < avail; i++) {
		ri[i] = (struct rindex){ .type = type[i], .lo = lo[i] };
		if (type[i] == Z_EROFS_LCLUSTER_TYPE_NONHEAD) {
			if (lo[i] & Z_EROFS_LI_D0_CBLKCNT) {
				ri[i].cblk = true;
				ri[i].lo = lo[i] & ~Z_EROFS_LI_D0_CBLKCNT;
			} else if (i + 1 == vcnt) {
				/* the last slot holds delta[1]: derive d0 */
				u16 prev = 0;

				if (type[i - 1] == Z_EROFS_LCLUSTER_TYPE_NONHEAD)
					prev = lo[i - 1] & Z_EROFS_LI_D0_CBLKCNT ?
						       1 : lo[i - 1];
				ri[i].lo = prev + 1;
			}
			continue;
		}
		ri[i].pblk = (u64)le32_to_cpu(base) +
			     pack_nblk(type, lo, i, big);
	}
}

/*
 * "len" (<= 2048) bytes of the map at metadata address "pos": the image's
 * bytes, read past the cache, or the metabox's, decoded through it.
 */
static const u8 *map_bytes(struct erofs_image *img, struct zcursor *c, u64 pos,
			   u32 len)
{
	if (pos < c->rpos || pos + len > c->rpos + c->rlen) {
		bool mbox = pos & EROFS_MBOX_ADDR;
		u64 end = mbox ? (img->mbox_size | EROFS_MBOX_ADDR) : img->size;
		u64 n = pos > end ? 0 : min_t(u64, sizeof(c->raw), end - pos);

		if (n < len || (mbox ? erofs_image_read(img, c->raw, n, pos) :
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
	const u8 *buf = map_bytes(img, c, c->ipos + k * 8, n * 8);

	if (!buf)
		return bad(why, "lcluster indexes lie past the end of the image");
	for (u64 i = 0; i < n; i++) {
		struct z_erofs_lcluster_index di;
		struct rindex *r = &c->win[i];
		u16 adv;

		memcpy(&di, buf + i * 8, 8);
		adv = le16_to_cpu(di.di_advise);
		*r = (struct rindex){ .type = adv &
					     Z_EROFS_LI_LCLUSTER_TYPE_MASK };
		if (r->type == Z_EROFS_LCLUSTER_TYPE_NONHEAD) {
			u16 d0 = le16_to_cpu(di.di_u.delta[0]);

			r->cblk = d0 & Z_EROFS_LI_D0_CBLKCNT;
			r->lo = d0 & ~Z_EROFS_LI_D0_CBLKCNT;
			continue;
		}
		r->partial = adv & Z_EROFS_LI_PARTIAL_REF;
		r->hole = adv & (1 << 14); /* Z_EROFS_LI_HOLE */
		r->lo = le16_to_cpu(di.di_clusterofs);
		r->pblk = le32_to_cpu(di.di_u.blkaddr);
	}
	c->wbase = k;
	c->wn = n;
	return 0;
}

/* Decode the compact pack that holds lcluster "k". */
static int read_compact_pack(struct erofs_image *img, struct zcursor *c, u64 k,
			     const char **why)
{
	const struct compact_geo *g = &c->g;
	u64 pos = c->ipos, k0;
	u32 vcnt = 2, avail;
	const u8 *pack;

	if (k < g->c4_initial) {
		k0 = round_down(k, 2);
		pos += k0 * 4;
	} else if (k < (u64)g->c4_initial + g->c2) {
		k0 = g->c4_initial + round_down(k - g->c4_initial, 16);
		pos += round_up(g->c4_initial, 2) * 4 + (k0 - g->c4_initial) * 2;
		vcnt = 16;
	} else {
		u64 off = round_down(k - g->c4_initial - g->c2, 2);

		k0 = g->c4_initial + g->c2 + off;
		pos += round_up(g->c4_initial, 2) * 4 + (u64)g->c2 * 2 +
		       off * 4;
	}
	avail = min_t(u64, vcnt, c->total - k0);
	pack = map_bytes(img, c, pos, vcnt == 2 ? 8 : 32);
	if (!pack)
		return bad(why, "cannot read lcluster indexes");
	decode_pack(pack, vcnt, avail, c->lobits, c->big, c->win);
	c->wbase = k0;
	c->wn = avail;
	return 0;
}

/* The decoded index of lcluster "k" (< total). */
static int index_at(struct erofs_image *img, struct zcursor *c, u64 k,
		    const struct rindex **r, const char **why)
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
		const struct rindex *r;
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
	const struct rindex *r;
	u64 k = c->next, start;
	struct rindex hd;
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

/* One encoded extent record (48-bit layout) into "x". */
static int ext_record(struct erofs_image *img, u32 plen, u64 pa,
		      bool interlaced, bool last_fragment, u32 recsz,
		      struct erofs_zx *x, const char **why)
{
	if (last_fragment) {
		x->where = EROFS_ZX_FRAGMENT;
		x->pa = plen;
		if (recsz > 4)
			x->pa |= pa << 32;
		return 0;
	}
	if (!(plen & Z_EROFS_EXTENT_PLEN_MASK)) {
		x->where = EROFS_ZX_HOLE;
		return 0;
	}
	x->where = EROFS_ZX_DISK;
	x->partial = plen & Z_EROFS_EXTENT_PLEN_PARTIAL;
	x->fmt = plen >> Z_EROFS_EXTENT_PLEN_FMT_BIT;
	x->plen = plen & Z_EROFS_EXTENT_PLEN_MASK;
	x->pa = pa;
	if (x->fmt) {
		x->fmt--;
		if (x->fmt >= Z_EROFS_COMPRESSION_MAX) {
			*why = "unknown compression algorithm";
			return -EOPNOTSUPP;
		}
		if (!alg_usable(img, x->fmt))
			return bad(why, "algorithm not in the superblock's list");
	} else {
		x->fmt = interlaced && !((pa | x->plen) & (img->blksz - 1)) ?
				 EROFS_ZFMT_INTERLACED :
				 EROFS_ZFMT_SHIFTED;
	}
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
	const struct rindex *r;
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
	u64 hpos = round_up(ri->meta_end, 8);
	struct z_erofs_map_header *h = &c->h;
	__le64 whole;
	u64 used = c->used;

	/* the cursor stays busy and recent: reads below may nest */
	memset(c, 0, sizeof(*c));
	c->busy = true;
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
		c->ipos = round_up(hpos + 8, c->recsz);
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
		c->ipos = hpos + 16;
		c->tail_pos = c->ipos + c->total * 8;
		if (!erofs_image_contains(img, c->ipos, c->total * 8))
			return bad(why, "lcluster indexes lie past the end of the image");
	} else {
		if (c->lbits > 14)
			return bad(why, "compact indexes need lclusters up to 16 KiB");
		c->ipos = hpos + 8;
		c->twobyte = (c->advise & Z_EROFS_ADVISE_COMPACTED_2B) &&
			     c->lbits <= 12;
		c->lobits = max(c->lbits, 12U);
		c->big = c->advise & Z_EROFS_ADVISE_BIG_PCLUSTER_1;
		geometry(c->ipos, c->total, c->twobyte, &c->g);
		c->tail_pos = c->ipos + c->g.bytes;
		if (!erofs_image_contains(img, c->ipos, c->g.bytes))
			return bad(why, "lcluster indexes lie past the end of the image");
	}
	return rewind_cursor(img, c, why);
}

/* The thread's cursor for "ri": the one it has, or the older one anew. */
static struct zcursor *cursor_for(struct erofs_image *img,
				  const struct erofs_rinode *ri, bool *fresh)
{
	struct zcursor *c = NULL;

	for (unsigned int i = 0; i < ARRAY_SIZE(zcur); i++)
		if (zcur[i].img_id == img->id && zcur[i].nid == ri->nid &&
		    zcur[i].iloc == ri->iloc && zcur[i].size == ri->i.size)
			c = &zcur[i];
	*fresh = !c;
	if (!c)
		for (unsigned int i = 0; i < ARRAY_SIZE(zcur); i++)
			if (!zcur[i].busy && (!c || zcur[i].used < c->used))
				c = &zcur[i];
	if (c)
		c->used = ++zclock;
	return c;
}

static int lookup_with(struct erofs_image *img, const struct erofs_rinode *ri,
		       struct zcursor *c, bool fresh, u64 la,
		       struct erofs_zx *x, const char **why)
{
	int ret;

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

int erofs_zmap_lookup(struct erofs_image *img, const struct erofs_rinode *ri,
		      u64 la, struct erofs_zx *x, const char **why)
{
	struct zcursor *c;
	bool fresh;
	int ret;

	if (la >= ri->i.size)
		return bad(why, "offset past the end of the file");
	c = cursor_for(img, ri, &fresh);
	if (!c || c->busy)
		return bad(why, "compressed maps nested too deep");
	c->busy = true;
	ret = lookup_with(img, ri, c, fresh, la, x, why);
	c->busy = false;
	return ret;
}


int erofs_zmap_packed(struct erofs_image *img, u64 off, u64 len,
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
				     round_up(packed->meta_end, 8)))
			return bad(why, "cannot read the packed inode's map");
		if ((h.h_clusterbits >> Z_EROFS_FRAGMENT_INODE_BIT) ||
		    (le16_to_cpu(h.h_advise) &
		     Z_EROFS_ADVISE_FRAGMENT_PCLUSTER))
			return bad(why, "the packed inode has fragments itself");
	}
	return 0;
}

static int read_packed(struct erofs_image *img, u8 *out, u64 len, u64 off,
		       const char **why)
{
	struct erofs_rinode packed;
	int ret = erofs_zmap_packed(img, off, len, &packed, why);

	if (ret)
		return ret;
	return erofs_read_data(img, &packed, out, len, off, why);
}

int erofs_zmap_read(struct erofs_image *img, const struct erofs_rinode *ri,
		    const struct erofs_zx *x, u8 *out, const char **why)
{
	bool zpad = img->sb.feature_incompat & EROFS_FEATURE_INCOMPAT_ZERO_PADDING;
	u8 *in;
	int ret;

	switch (x->where) {
	case EROFS_ZX_HOLE:
		memset(out, 0, x->llen);
		return 0;
	case EROFS_ZX_FRAGMENT:
		return read_packed(img, out, x->llen, x->pa, why);
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

int erofs_zmap_stored_bytes(struct erofs_image *img,
			    const struct erofs_rinode *ri, u64 *bytes,
			    const char **why)
{
	u64 pos = 0, total = 0;

	while (pos < ri->i.size) {
		struct erofs_zx x;
		int ret = erofs_zmap_lookup(img, ri, pos, &x, why);

		if (ret)
			return ret;
		if (x.where == EROFS_ZX_DISK || x.where == EROFS_ZX_INLINE)
			total += x.plen;
		pos = x.la + x.llen;
	}
	*bytes = total;
	return 0;
}
