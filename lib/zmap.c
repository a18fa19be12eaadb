// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Compressed file maps. Every logical cluster (one block of the file) has
 * an index: HEAD when an extent starts in it (with the offset where, and
 * the block of its physical cluster), NONHEAD when it lies inside an
 * extent (with the distance back to the head and on to the next one).
 * Compact packs drop the block addresses but one per pack: the kernel
 * counts the clusters of earlier heads in the pack to find the rest.
 */
#include <stdlib.h>
#include <string.h>

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

static u64 nr_lclusters(const struct erofs_zmap_info *mi)
{
	return DIV_ROUND_UP(mi->size, 1ULL << mi->blkszbits);
}

/* lclusters and bytes of 4B and 2B packs, and bytes per lcluster */
#define C4_N Z_EROFS_COMPACT_4B_LCLUSTERS
#define C4_SIZE Z_EROFS_COMPACT_4B_PACK_SIZE
#define C4_SLOT (C4_SIZE / C4_N)
#define C2_N Z_EROFS_COMPACT_2B_LCLUSTERS
#define C2_SIZE Z_EROFS_COMPACT_2B_PACK_SIZE
#define C2_SLOT (C2_SIZE / C2_N)

/* The bytes of a pack of "vcnt" lclusters. */
static u32 pack_size(u32 vcnt)
{
	return vcnt == C4_N ? C4_SIZE : C2_SIZE;
}

/* The bits of one slot: a pack's bytes but its base, shared out. */
static u32 slot_bits(u32 vcnt)
{
	return (pack_size(vcnt) - sizeof(__le32)) * 8 / vcnt;
}

/* Bytes of the 4B packs that hold "n" lclusters. */
static u64 c4_bytes(u64 n)
{
	return round_up(n, Z_EROFS_COMPACT_4B_LCLUSTERS) * C4_SLOT;
}

static bool use_2b(const struct erofs_zmap_info *mi)
{
	/* 2-byte packs hold offsets of up to 12 bits */
	return mi->blkszbits <= 12;
}

void erofs_zmap_compact_layout(u64 ebase, u64 total, bool twobyte,
			       struct erofs_zcompact *g)
{
	/* 4B packs up to the first 2B pack's alignment */
	g->c4_initial = (Z_EROFS_COMPACT_2B_PACK_SIZE -
			 ebase % Z_EROFS_COMPACT_2B_PACK_SIZE) /
			C4_SLOT % (Z_EROFS_COMPACT_2B_PACK_SIZE / C4_SLOT);
	g->c2 = 0;
	if (twobyte && g->c4_initial < total)
		g->c2 = round_down(total - g->c4_initial,
				   Z_EROFS_COMPACT_2B_LCLUSTERS);
	if (g->c4_initial >= total) {
		g->c4_initial = total;
		g->c4_end = 0;
	} else {
		g->c4_end = total - g->c4_initial - g->c2;
	}
	g->bytes =
		c4_bytes(g->c4_initial) + g->c2 * C2_SLOT + c4_bytes(g->c4_end);
}

static void compact_geometry(const struct erofs_zmap_info *mi,
			     struct erofs_zcompact *g)
{
	/* inodes start 32-byte aligned, so the record offset will do */
	erofs_zmap_compact_layout(z_erofs_map_header_pos(mi->ibody_end) +
					  Z_EROFS_COMPACT_INDEX_OFFSET,
				  nr_lclusters(mi), use_2b(mi), g);
}

/* Encoded extent records: 16 bytes, or 32 where offsets pass 4 GiB. */
static u32 ext_recsz(const struct erofs_zmap_info *mi)
{
	return mi->size > UINT32_MAX ? 32 : 16;
}

/* Where the records start, from the inode: after the header, aligned. */
static u32 ext_start(const struct erofs_zmap_info *mi)
{
	return round_up(z_erofs_map_header_pos(mi->ibody_end) +
				sizeof(struct z_erofs_map_header),
			ext_recsz(mi));
}

u32 erofs_zmap_size(const struct erofs_zmap_info *mi)
{
	u32 pad = z_erofs_map_header_pos(mi->ibody_end) - mi->ibody_end;
	struct erofs_zcompact g;

	if (mi->whole_fragment)
		return pad + Z_EROFS_FULL_INDEX_OFFSET;
	if (mi->extents)
		return ext_start(mi) - mi->ibody_end +
		       mi->nextents * ext_recsz(mi);
	if (!mi->compact)
		return pad + Z_EROFS_FULL_INDEX_OFFSET +
		       nr_lclusters(mi) * sizeof(struct z_erofs_lcluster_index);
	compact_geometry(mi, &g);
	return pad + Z_EROFS_COMPACT_INDEX_OFFSET + g.bytes;
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
		memcpy(out + k * sizeof(di), &di, sizeof(di));
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
	const u32 size = pack_size(vcnt);
	const u32 lobits = max(mi->blkszbits, 12U);
	const u32 encodebits = slot_bits(vcnt);
	u8 type[Z_EROFS_COMPACT_2B_LCLUSTERS];
	u16 lo[Z_EROFS_COMPACT_2B_LCLUSTERS];
	u32 base = *running;
	bool have_base = false;

	memset(out, 0, size);
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
	memcpy(out + size - sizeof(base), &base, sizeof(base));
	return 0;
}

static int encode_compact(const struct erofs_zmap_info *mi,
			  const struct lindex *li, u8 *out)
{
	struct erofs_zcompact g;
	u64 k = 0, total = nr_lclusters(mi);
	u32 running = 0;
	int ret;

	compact_geometry(mi, &g);
	for (u32 n = 0; n < g.c4_initial;
	     n += C4_N, k += C4_N, out += C4_SIZE) {
		ret = encode_pack(mi, li + k, C4_N, min_t(u64, C4_N, total - k),
				  &running, out);
		if (ret)
			return ret;
	}
	for (u32 n = 0; n < g.c2; n += C2_N, k += C2_N, out += C2_SIZE) {
		ret = encode_pack(mi, li + k, C2_N, C2_N, &running, out);
		if (ret)
			return ret;
	}
	for (u32 n = 0; n < g.c4_end; n += C4_N, k += C4_N, out += C4_SIZE) {
		ret = encode_pack(mi, li + k, C4_N, min_t(u64, C4_N, total - k),
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
	u32 pad = z_erofs_map_header_pos(mi->ibody_end) - mi->ibody_end;
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
	u32 pad = z_erofs_map_header_pos(mi->ibody_end) - mi->ibody_end;
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
		ret = encode_compact(mi, li,
				     out + pad + Z_EROFS_COMPACT_INDEX_OFFSET);
		if (ret)
			goto out;
	} else {
		if (mi->big_pcluster)
			advise |= Z_EROFS_ADVISE_BIG_PCLUSTER_1;
		encode_full(li, total, out + pad + Z_EROFS_FULL_INDEX_OFFSET);
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

/* ---- decoding, for the readers (lib/zextent.c) ---- */

void erofs_zmap_compact_pack(const struct erofs_zcompact *g, u64 k, u64 *k0,
			     u64 *off, u32 *vcnt)
{
	*vcnt = C4_N;
	if (k < g->c4_initial) {
		*k0 = round_down(k, C4_N);
		*off = *k0 * C4_SLOT;
	} else if (k < (u64)g->c4_initial + g->c2) {
		*k0 = g->c4_initial + round_down(k - g->c4_initial, C2_N);
		*off = c4_bytes(g->c4_initial) +
		       (*k0 - g->c4_initial) * C2_SLOT;
		*vcnt = C2_N;
	} else {
		u64 o = round_down(k - g->c4_initial - g->c2, C4_N);

		*k0 = g->c4_initial + g->c2 + o;
		*off = c4_bytes(g->c4_initial) + (u64)g->c2 * C2_SLOT +
		       o * C4_SLOT;
	}
}

static u32 get_bits(const u8 *in, u32 pos, u32 nbits)
{
	u32 v = 0;

	for (u32 b = 0; b < nbits; b++, pos++)
		v |= (u32)((in[pos / 8] >> (pos % 8)) & 1) << b;
	return v;
}

void erofs_zmap_decode_pack(const u8 *pack, u32 vcnt, u32 avail, u32 lobits,
			    bool big, struct erofs_zindex *ri)
{
	const u32 encodebits = slot_bits(vcnt);
	u8 type[Z_EROFS_COMPACT_2B_LCLUSTERS];
	u16 lo[Z_EROFS_COMPACT_2B_LCLUSTERS];
	__le32 base;

	memcpy(&base, pack + pack_size(vcnt) - sizeof(base), sizeof(base));
	for (u32 i = 0; i < vcnt; i++) {
		u32 v = get_bits(pack, i * encodebits, encodebits);

		type[i] = (v >> lobits) & 3;
		lo[i] = v & ((1U << lobits) - 1);
	}
	for (u32 i = 0; i < avail; i++) {
		ri[i] = (struct erofs_zindex){ .type = type[i], .lo = lo[i] };
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

void erofs_zmap_decode_full(const u8 *raw, u64 n, struct erofs_zindex *out)
{
	for (u64 i = 0; i < n; i++) {
		struct z_erofs_lcluster_index di;
		struct erofs_zindex *r = &out[i];
		u16 adv;

		memcpy(&di, raw + i * sizeof(di), sizeof(di));
		adv = le16_to_cpu(di.di_advise);
		*r = (struct erofs_zindex){
			.type = adv & Z_EROFS_LI_LCLUSTER_TYPE_MASK,
		};
		if (r->type == Z_EROFS_LCLUSTER_TYPE_NONHEAD) {
			u16 d0 = le16_to_cpu(di.di_u.delta[0]);

			r->cblk = d0 & Z_EROFS_LI_D0_CBLKCNT;
			r->lo = d0 & ~Z_EROFS_LI_D0_CBLKCNT;
			continue;
		}
		r->partial = adv & Z_EROFS_LI_PARTIAL_REF;
		r->hole = adv & Z_EROFS_LI_HOLE;
		r->lo = le16_to_cpu(di.di_clusterofs);
		r->pblk = le32_to_cpu(di.di_u.blkaddr);
	}
}

int erofs_zmap_decode_extent(u32 plen, u64 pa, bool interlaced,
			     bool last_fragment, u32 recsz, u32 blksz,
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
	} else {
		x->fmt = interlaced && !((pa | x->plen) & (blksz - 1)) ?
				 EROFS_ZFMT_INTERLACED :
				 EROFS_ZFMT_SHIFTED;
	}
	return 0;
}
