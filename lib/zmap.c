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

/* The decoded map of one inode, kept per thread. */
struct zcache {
	u64 img_id; /* erofs_image.id; 0: nothing cached */
	erofs_nid_t nid;
	u64 iloc, size;
	struct erofs_zx *x;
	u64 nx;
};

static __thread struct zcache zc;
static pthread_key_t zc_key;
static pthread_once_t zc_once = PTHREAD_ONCE_INIT;

/* A thread that ends (fsck's data workers) leaves no map behind. */
static void zc_release(void *unused)
{
	free(zc.x);
	memset(&zc, 0, sizeof(zc));
}

static void zc_key_create(void)
{
	pthread_key_create(&zc_key, zc_release);
}

static int bad(const char **why, const char *reason)
{
	*why = reason;
	return -EFSCORRUPTED;
}

static int read_full(struct erofs_image *img, u64 pos, u64 total,
		     struct rindex *ri, const char **why)
{
	u8 buf[8 * 256];

	for (u64 k = 0; k < total;) {
		u64 n = min_t(u64, total - k, 256);
		int ret = erofs_image_read(img, buf, n * 8, pos + k * 8);

		if (ret)
			return bad(why, "lcluster indexes lie past the end of the image");
		for (u64 i = 0; i < n; i++, k++) {
			struct z_erofs_lcluster_index di;
			u16 adv;

			memcpy(&di, buf + i * 8, 8);
			adv = le16_to_cpu(di.di_advise);
			ri[k].type = adv & Z_EROFS_LI_LCLUSTER_TYPE_MASK;
			if (ri[k].type == Z_EROFS_LCLUSTER_TYPE_NONHEAD) {
				u16 d0 = le16_to_cpu(di.di_u.delta[0]);

				ri[k].cblk = d0 & Z_EROFS_LI_D0_CBLKCNT;
				ri[k].lo = d0 & ~Z_EROFS_LI_D0_CBLKCNT;
				continue;
			}
			ri[k].partial = adv & Z_EROFS_LI_PARTIAL_REF;
			ri[k].hole = adv & (1 << 14); /* Z_EROFS_LI_HOLE */
			ri[k].lo = le16_to_cpu(di.di_clusterofs);
			ri[k].pblk = le32_to_cpu(di.di_u.blkaddr);
		}
	}
	return 0;
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

static int read_compact(struct erofs_image *img, u64 ebase, u64 total,
			bool twobyte, u32 lobits, bool big, struct rindex *ri,
			u64 *end, const char **why)
{
	struct compact_geo g;
	u64 pos = ebase, k = 0;
	u8 pack[32];

	geometry(ebase, total, twobyte, &g);
	if (!erofs_image_contains(img, ebase, g.bytes))
		return bad(why, "lcluster indexes lie past the end of the image");
	for (u32 n = 0; n < g.c4_initial; n += 2, k += 2, pos += 8) {
		if (erofs_image_read(img, pack, 8, pos))
			return bad(why, "cannot read lcluster indexes");
		decode_pack(pack, 2, min_t(u64, 2, total - k), lobits, big,
			    ri + k);
	}
	for (u32 n = 0; n < g.c2; n += 16, k += 16, pos += 32) {
		if (erofs_image_read(img, pack, 32, pos))
			return bad(why, "cannot read lcluster indexes");
		decode_pack(pack, 16, 16, lobits, big, ri + k);
	}
	for (u32 n = 0; n < g.c4_end; n += 2, k += 2, pos += 8) {
		if (erofs_image_read(img, pack, 8, pos))
			return bad(why, "cannot read lcluster indexes");
		decode_pack(pack, 2, min_t(u64, 2, total - k), lobits, big,
			    ri + k);
	}
	*end = pos;
	return 0;
}

static bool alg_usable(const struct erofs_image *img, unsigned int alg)
{
	const struct erofs_sb_info *sb = &img->sb;

	if (sb->feature_incompat & EROFS_FEATURE_INCOMPAT_COMPR_CFGS)
		return sb->available_compr_algs & (1U << alg);
	return alg == Z_EROFS_COMPRESSION_LZ4;
}

/* Checks every extent of a map gets, however it was encoded. */
static int check_extents(const struct zcache *c, const char **why)
{
	for (u64 i = 0; i < c->nx; i++) {
		const struct erofs_zx *x = &c->x[i];

		if (x->llen > ZX_MAX_LLEN)
			return bad(why, "extent longer than the kernel decodes");
		if (x->where == EROFS_ZX_HOLE || x->where == EROFS_ZX_FRAGMENT)
			continue;
		if (x->fmt >= EROFS_ZFMT_SHIFTED) {
			if (x->llen > x->plen)
				return bad(why, "not enough uncompressed data stored");
		} else if (!x->partial && x->llen < x->plen && i + 1 < c->nx) {
			return bad(why, "too much compressed data");
		}
	}
	return 0;
}

/* Turn the lcluster indexes into whole extents, checking as the kernel. */
static int build_extents(struct erofs_image *img, const struct erofs_rinode *ri,
			 const struct z_erofs_map_header *h, unsigned int lbits,
			 const struct rindex *li, u64 total, u64 tail_pos,
			 struct zcache *c, const char **why)
{
	const u64 size = ri->i.size, L = 1ULL << lbits;
	const u16 advise = le16_to_cpu(h->h_advise);
	const bool big1 = advise & Z_EROFS_ADVISE_BIG_PCLUSTER_1;
	const bool big2 = advise & Z_EROFS_ADVISE_BIG_PCLUSTER_2;
	const bool full = ri->i.datalayout == EROFS_INODE_COMPRESSED_FULL;
	u32 idata = 0;
	u64 head = 0, nx = 0;

	if (advise & Z_EROFS_ADVISE_FRAGMENT_PCLUSTER) {
		if (!(img->sb.feature_incompat & EROFS_FEATURE_INCOMPAT_FRAGMENTS) ||
		    !img->sb.packed_nid)
			return bad(why, "fragment without a packed inode");
	} else if (advise & Z_EROFS_ADVISE_INLINE_PCLUSTER) {
		idata = le16_to_cpu(h->h_idata_size);
		if (!idata)
			return bad(why, "inline cluster of size 0");
	}
	if (li[0].type == Z_EROFS_LCLUSTER_TYPE_NONHEAD || li[0].lo)
		return bad(why, "the first lcluster does not start an extent");
	for (u64 k = 0; k < total; k++) {
		if (li[k].type == Z_EROFS_LCLUSTER_TYPE_NONHEAD) {
			u64 d0 = li[k].cblk ? 1 : li[k].lo;

			if (li[k].cblk && k != head + 1)
				return bad(why, "CBLKCNT away from its head");
			/* the kernel looks back by d0: it must reach the head */
			if (!d0 || d0 > k || k - d0 < head ||
			    (k - d0 != head &&
			     li[k - d0].type != Z_EROFS_LCLUSTER_TYPE_NONHEAD))
				return bad(why, "bogus lookback distance");
			continue;
		}
		if (li[k].lo >= L)
			return bad(why, "cluster offset beyond its lcluster");
		if ((k << lbits) + li[k].lo >= size) {
			/* closes the last extent at EOF: nothing after it */
			if (k + 1 != total)
				return bad(why, "an extent starts past the end of the file");
			continue;
		}
		head = k;
		nx++;
	}
	c->x = calloc(nx, sizeof(*c->x));
	if (!c->x)
		return -ENOMEM;
	c->nx = nx;
	nx = 0;
	for (u64 k = 0; k < total; k++) {
		struct erofs_zx *x;
		u64 start = (k << lbits) + li[k].lo;
		bool bigp;

		if (li[k].type == Z_EROFS_LCLUSTER_TYPE_NONHEAD || start >= size)
			continue;
		x = &c->x[nx];
		x->la = start;
		if (nx)
			c->x[nx - 1].llen = start - c->x[nx - 1].la;
		x->llen = size - start;
		x->partial = li[k].partial;
		nx++;
		if (li[k].type == Z_EROFS_LCLUSTER_TYPE_PLAIN)
			x->fmt = advise & Z_EROFS_ADVISE_INTERLACED_PCLUSTER ?
					 EROFS_ZFMT_INTERLACED :
					 EROFS_ZFMT_SHIFTED;
		else
			x->fmt = (h->h_algorithmtype >>
				  (li[k].type == Z_EROFS_LCLUSTER_TYPE_HEAD2 ?
					   4 : 0)) & 15;
		if (x->fmt < EROFS_ZFMT_SHIFTED && !alg_usable(img, x->fmt))
			return bad(why, "algorithm not in the superblock's list");
		if (nx == c->nx && idata) {
			x->where = EROFS_ZX_INLINE;
			x->pa = tail_pos;
			x->plen = idata;
			if (x->fmt == EROFS_ZFMT_INTERLACED)
				x->fmt = EROFS_ZFMT_SHIFTED;
			if (!erofs_image_contains(img, x->pa, x->plen) ||
			    (x->pa & (img->blksz - 1)) + x->plen > img->blksz)
				return bad(why, "inline cluster crosses a block boundary");
			continue;
		}
		if (nx == c->nx && (advise & Z_EROFS_ADVISE_FRAGMENT_PCLUSTER)) {
			x->where = EROFS_ZX_FRAGMENT;
			x->pa = le32_to_cpu(h->h_fragmentoff);
			if (full)
				x->pa |= li[k].pblk << 32;
			continue;
		}
		bigp = li[k].type == Z_EROFS_LCLUSTER_TYPE_HEAD1 ? big1 : big2;
		x->plen = 1;
		if (li[k].hole) {
			x->plen = 0;
		} else if (bigp && ((k + 1) << lbits) < size &&
			   k + 1 < total) {
			const struct rindex *n = &li[k + 1];

			if (n->type == Z_EROFS_LCLUSTER_TYPE_NONHEAD) {
				if (!n->cblk)
					return bad(why, "bogus CBLKCNT");
				x->plen = n->lo;
			}
		}
		if (!x->plen) {
			x->where = EROFS_ZX_HOLE;
			continue;
		}
		x->where = EROFS_ZX_DISK;
		if (x->plen > Z_EROFS_PCLUSTER_MAX_SIZE >> img->blkszbits)
			return bad(why, "physical cluster larger than 1 MiB");
		x->plen <<= img->blkszbits;
		x->pa = li[k].pblk << img->blkszbits;
		if (li[k].pblk >> 48 || !erofs_image_contains(img, x->pa, x->plen))
			return bad(why, "physical cluster lies past the end of the image");
	}
	return check_extents(c, why);
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

/* Encoded extents (FULL layout with the EXTENTS advise, erofs-utils -E48bit). */
static int load_extents(struct erofs_image *img, const struct erofs_rinode *ri,
			const struct z_erofs_map_header *h, unsigned int lbits,
			struct zcache *c, const char **why)
{
	const u16 advise = le16_to_cpu(h->h_advise);
	const u32 recsz = 4 << ((advise >> Z_EROFS_ADVISE_EXTRECSZ_BIT) &
				Z_EROFS_ADVISE_EXTRECSZ_MASK);
	const bool interlaced = advise & Z_EROFS_ADVISE_INTERLACED_PCLUSTER;
	const bool frag = advise & Z_EROFS_ADVISE_FRAGMENT_PCLUSTER;
	const u64 size = ri->i.size;
	u64 pos = round_up(round_up(ri->meta_end, 8) + 8, recsz), n, pa = 0;
	u8 raw[8];
	int ret;

	if (frag && (!(img->sb.feature_incompat &
		       EROFS_FEATURE_INCOMPAT_FRAGMENTS) ||
		     !img->sb.packed_nid))
		return bad(why, "fragment without a packed inode");
	if (recsz <= 8) {
		/* a record per lcluster, in order */
		if (lbits > 30)
			return bad(why, "lcluster size beyond 1 GiB");
		n = DIV_ROUND_UP(size, 1ULL << lbits);
		if (recsz == 4) {
			__le64 start;

			if (erofs_image_read(img, &start, 8, pos))
				return bad(why, "extent records lie past the end of the image");
			pa = le64_to_cpu(start);
			pos += 8;
		}
	} else {
		memcpy(raw, h, 8);
		n = le32_to_cpu(h->h_extents_lo) |
		    (u64)(raw[6] | raw[7] << 8) << 32;
	}
	if (!n || n > img->size / recsz ||
	    !erofs_image_contains(img, pos, n * recsz))
		return bad(why, "extent records lie past the end of the image");
	c->x = calloc(n, sizeof(*c->x));
	if (!c->x)
		return -ENOMEM;
	c->nx = n;
	for (u64 i = 0; i < n; i++) {
		struct z_erofs_extent e = { 0 };
		struct erofs_zx *x = &c->x[i];
		u64 rpa;

		if (erofs_image_read(img, &e, recsz, pos + i * recsz))
			return bad(why, "cannot read extent records");
		if (recsz <= 8) {
			x->la = i << lbits;
			rpa = recsz == 4 ? pa : le32_to_cpu(e.pstart_lo);
			pa += le32_to_cpu(e.plen) & Z_EROFS_EXTENT_PLEN_MASK;
		} else {
			x->la = le32_to_cpu(e.lstart_lo);
			if (recsz > 16)
				x->la |= (u64)le32_to_cpu(e.lstart_hi) << 32;
			rpa = le32_to_cpu(e.pstart_lo) |
			      (u64)le32_to_cpu(e.pstart_hi) << 32;
			if (i ? x->la <= c->x[i - 1].la : x->la != 0)
				return bad(why, "extent records out of order");
		}
		if (x->la >= size)
			return bad(why, "an extent starts past the end of the file");
		if (i)
			c->x[i - 1].llen = x->la - c->x[i - 1].la;
		x->llen = size - x->la;
		ret = ext_record(img, le32_to_cpu(e.plen), rpa, interlaced,
				 frag && i + 1 == n, recsz, x, why);
		if (ret)
			return ret;
	}
	return check_extents(c, why);
}

static int load_map(struct erofs_image *img, const struct erofs_rinode *ri,
		    struct zcache *c, const char **why)
{
	u64 hpos = round_up(ri->meta_end, 8), total, end;
	struct z_erofs_map_header h;
	struct rindex *li;
	unsigned int lbits;
	u16 advise;
	__le64 whole;
	int ret;

	free(c->x);
	memset(c, 0, sizeof(*c));
	if (erofs_image_read(img, &h, sizeof(h), hpos))
		return bad(why, "map header lies past the end of the image");
	if (h.h_clusterbits >> Z_EROFS_FRAGMENT_INODE_BIT) {
		/* the whole file is a fragment of the packed inode */
		c->x = calloc(1, sizeof(*c->x));
		if (!c->x)
			return -ENOMEM;
		memcpy(&whole, &h, sizeof(whole));
		c->nx = 1;
		c->x->llen = ri->i.size;
		c->x->pa = le64_to_cpu(whole) ^ (1ULL << 63);
		c->x->where = EROFS_ZX_FRAGMENT;
		if (!(img->sb.feature_incompat &
		      EROFS_FEATURE_INCOMPAT_FRAGMENTS) ||
		    !img->sb.packed_nid)
			return bad(why, "fragment without a packed inode");
		goto done;
	}
	advise = le16_to_cpu(h.h_advise);
	lbits = img->blkszbits + (h.h_clusterbits & 15);
	if (ri->i.datalayout == EROFS_INODE_COMPRESSED_FULL &&
	    (advise & Z_EROFS_ADVISE_EXTENTS)) {
		ret = load_extents(img, ri, &h, lbits, c, why);
		if (ret)
			return ret;
		goto done;
	}
	if (lbits > 16)
		return bad(why, "lcluster size beyond 64 KiB");
	if ((advise & (Z_EROFS_ADVISE_BIG_PCLUSTER_1 |
		       Z_EROFS_ADVISE_BIG_PCLUSTER_2)) &&
	    !(img->sb.feature_incompat & EROFS_FEATURE_INCOMPAT_BIG_PCLUSTER))
		return bad(why, "big pcluster without the superblock feature");
	if (ri->i.datalayout == EROFS_INODE_COMPRESSED_COMPACT &&
	    !(advise & Z_EROFS_ADVISE_BIG_PCLUSTER_1) !=
		    !(advise & Z_EROFS_ADVISE_BIG_PCLUSTER_2))
		return bad(why, "inconsistent big pcluster flags");
	if (((h.h_algorithmtype & 15) >= Z_EROFS_COMPRESSION_MAX) ||
	    ((h.h_algorithmtype >> 4) >= Z_EROFS_COMPRESSION_MAX)) {
		*why = "unknown compression algorithm";
		return -EOPNOTSUPP;
	}
	total = DIV_ROUND_UP(ri->i.size, 1ULL << lbits);
	/* every index takes at least 2 bytes of the image */
	if (!total || total > img->size / 2)
		return bad(why, "more lcluster indexes than the image holds");
	li = calloc(total, sizeof(*li));
	if (!li)
		return -ENOMEM;
	if (ri->i.datalayout == EROFS_INODE_COMPRESSED_FULL) {
		ret = read_full(img, hpos + 16, total, li, why);
		end = hpos + 16 + total * 8;
	} else {
		if (lbits > 14) {
			free(li);
			return bad(why, "compact indexes need lclusters up to 16 KiB");
		}
		ret = read_compact(img, hpos + 8, total,
				   (advise & Z_EROFS_ADVISE_COMPACTED_2B) &&
					   lbits <= 12,
				   max(lbits, 12U),
				   advise & Z_EROFS_ADVISE_BIG_PCLUSTER_1, li,
				   &end, why);
	}
	if (!ret)
		ret = build_extents(img, ri, &h, lbits, li, total, end, c, why);
	free(li);
	if (ret)
		return ret;
done:
	c->img_id = img->id;
	c->nid = ri->nid;
	c->iloc = ri->iloc;
	c->size = ri->i.size;
	return 0;
}

int erofs_zmap_lookup(struct erofs_image *img, const struct erofs_rinode *ri,
		      u64 la, struct erofs_zx *x, const char **why)
{
	u64 lo = 0, hi;
	int ret;

	if (zc.img_id != img->id || zc.nid != ri->nid ||
	    zc.iloc != ri->iloc || zc.size != ri->i.size) {
		/*
		 * Decoded apart: reading a map in the metabox may decode the
		 * metabox inode's own map meanwhile, on this thread.
		 */
		struct zcache fresh = { 0 };

		pthread_once(&zc_once, zc_key_create);
		pthread_setspecific(zc_key, &zc);
		ret = load_map(img, ri, &fresh, why);
		if (ret) {
			free(fresh.x);
			return ret;
		}
		free(zc.x);
		zc = fresh;
	}
	if (la >= ri->i.size || !zc.nx)
		return bad(why, "offset past the end of the file");
	hi = zc.nx;
	while (hi - lo > 1) {
		u64 mid = lo + (hi - lo) / 2;

		if (zc.x[mid].la <= la)
			lo = mid;
		else
			hi = mid;
	}
	*x = zc.x[lo];
	return 0;
}

static int read_packed(struct erofs_image *img, u8 *out, u64 len, u64 off,
		       const char **why)
{
	struct erofs_rinode packed;
	int ret;

	ret = erofs_read_inode(img, img->sb.packed_nid, &packed, why);
	if (ret)
		return ret;
	if (!S_ISREG(packed.i.mode))
		return bad(why, "the packed inode is not a regular file");
	if (off > packed.i.size || len > packed.i.size - off)
		return bad(why, "fragment lies past the end of the packed inode");
	/* mkfs stores fragments: a sparse packed inode is a zero bomb */
	if (!erofs_layout_is_compressed(packed.i.datalayout) &&
	    packed.i.size > img->size)
		return bad(why, "the packed inode is larger than the image");
	/* a packed inode made of fragments itself would never end */
	if (erofs_layout_is_compressed(packed.i.datalayout)) {
		struct z_erofs_map_header h;

		if (erofs_image_read(img, &h, sizeof(h),
				     round_up(packed.meta_end, 8)))
			return bad(why, "cannot read the packed inode's map");
		if ((h.h_clusterbits >> Z_EROFS_FRAGMENT_INODE_BIT) ||
		    (le16_to_cpu(h.h_advise) &
		     Z_EROFS_ADVISE_FRAGMENT_PCLUSTER))
			return bad(why, "the packed inode has fragments itself");
	}
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
