// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Round trip of the compressed map codec (lib/zmap.c): maps of known
 * extents are encoded, decoded the way the readers decode them (compact
 * 4B and 2B packs, full indexes) and resolved the way the kernel resolves
 * them (NONHEADs looked back to their HEAD, a big pcluster's block count
 * from the CBLKCNT NONHEAD after it); every logical cluster must give the
 * type, pcluster start block, block count and offset it was encoded with.
 */
#include <stdio.h>
#include <stdlib.h>

#include "erofs/compress.h"
#include "erofs/format.h"
#include "erofs/zmap.h"
#include "unit.h"

#define MAX_EXTENTS 4096

static u32 rng = 22;

static u32 next_rand(void)
{
	rng = rng * 1103515245 + 12345;
	return rng >> 8;
}

/* What one logical cluster should resolve to. */
struct expect {
	u8 type;	     /* of the lcluster itself */
	bool check_pcluster; /* a real extent: start and count known */
	u64 pstart;
	u32 pblocks;
	u16 offset; /* clusterofs of the HEAD (NONHEADs: of their HEAD) */
};

struct map_case {
	const char *name;
	unsigned int blkszbits;
	bool compact, big;
	u32 ibody_end;
	/* the extents: bytes, stored blocks (0: one), stored raw */
	u32 n;
	u32 llen[MAX_EXTENTS];
	u32 pblocks[MAX_EXTENTS];
	bool raw[MAX_EXTENTS];
};

/* The decoded index of every lcluster, as the readers decode them. */
static int decode_all(const struct map_case *mc, const u8 *map, u32 pad,
		      u64 total, struct erofs_zindex *out)
{
	struct z_erofs_map_header h;
	u16 advise;

	memcpy(&h, map + pad, sizeof(h));
	advise = le16_to_cpu(h.h_advise);
	if (!mc->compact) {
		erofs_zmap_decode_full(map + pad + Z_EROFS_FULL_INDEX_OFFSET,
				       total, out);
	} else {
		const u8 *idx = map + pad + Z_EROFS_COMPACT_INDEX_OFFSET;
		bool twobyte = (advise & Z_EROFS_ADVISE_COMPACTED_2B) &&
			       mc->blkszbits <= 12;
		bool big = advise & Z_EROFS_ADVISE_BIG_PCLUSTER_1;
		u32 lobits = mc->blkszbits > 12 ? mc->blkszbits : 12;
		struct erofs_zcompact g;
		struct erofs_zindex win[Z_EROFS_COMPACT_2B_LCLUSTERS];

		erofs_zmap_compact_layout(
			z_erofs_map_header_pos(mc->ibody_end) +
				Z_EROFS_COMPACT_INDEX_OFFSET,
			total, twobyte, &g);
		for (u64 k = 0; k < total;) {
			u64 k0, off;
			u32 vcnt, avail;

			erofs_zmap_compact_pack(&g, k, &k0, &off, &vcnt);
			if (k0 != k)
				return -1;
			avail = vcnt < total - k0 ? vcnt : total - k0;
			erofs_zmap_decode_pack(idx + off, vcnt, avail, lobits,
					       big, win);
			memcpy(out + k0, win, avail * sizeof(*win));
			k += avail;
		}
	}
	return 0;
}

/*
 * The kernel's view of lcluster "k": the HEAD it belongs to, and that
 * HEAD's block count (the CBLKCNT NONHEAD right after a big pcluster's
 * HEAD, else one block). -1 when the lookback leaves the map.
 */
static int resolve(const struct erofs_zindex *idx, u64 total, bool big, u64 k,
		   u64 *head, u32 *pblocks)
{
	u64 h = k;

	while (idx[h].type == Z_EROFS_LCLUSTER_TYPE_NONHEAD) {
		u64 step = idx[h].cblk ? 1 : idx[h].lo;

		if (!step || step > h)
			return -1;
		h -= step;
	}
	*head = h;
	*pblocks = 1;
	if (big && h + 1 < total &&
	    idx[h + 1].type == Z_EROFS_LCLUSTER_TYPE_NONHEAD) {
		if (!idx[h + 1].cblk)
			return -1; /* the kernel refuses such a map */
		*pblocks = idx[h + 1].lo;
	}
	return 0;
}

static void run_case(const struct map_case *mc)
{
	const u32 blksz = 1U << mc->blkszbits;
	struct erofs_zextent *ext = calloc(mc->n, sizeof(*ext));
	struct erofs_zmap_info mi = {
		.blkszbits = mc->blkszbits,
		.compact = mc->compact,
		.big_pcluster = mc->big,
		.algorithm = Z_EROFS_COMPRESSION_LZ4,
		.ibody_end = mc->ibody_end,
	};
	struct expect *want;
	struct erofs_zindex *got;
	u64 size = 0, pblk = 1000, total;
	u8 *map;
	char name[160], why[200] = "";
	int ret;

	for (u32 i = 0; i < mc->n; i++) {
		ext[i] = (struct erofs_zextent){
			.lstart = size,
			.llen = mc->llen[i],
			.plen = (mc->pblocks[i] ? mc->pblocks[i] : 1) * blksz,
			.raw = mc->raw[i],
			.pblk = pblk,
		};
		size += mc->llen[i];
		pblk += ext[i].plen / blksz;
	}
	mi.size = size;
	total = DIV_ROUND_UP(size, blksz);
	map = calloc(1, erofs_zmap_size(&mi));
	want = calloc(total, sizeof(*want));
	got = calloc(total, sizeof(*got));
	if (!ext || !map || !want || !got) {
		CHECK(mc->name, !"out of memory");
		goto out;
	}

	for (u32 i = 0; i < mc->n; i++) {
		const struct erofs_zextent *e = &ext[i];
		u64 h = e->lstart >> mc->blkszbits;
		u64 end = e->lstart + e->llen, last = end >> mc->blkszbits;

		want[h] = (struct expect){
			.type = e->raw ? Z_EROFS_LCLUSTER_TYPE_PLAIN
				       : Z_EROFS_LCLUSTER_TYPE_HEAD1,
			.check_pcluster = true,
			.pstart = e->pblk,
			.pblocks = e->plen / blksz,
			.offset = e->lstart & (blksz - 1),
		};
		for (u64 k = h + 1; k < last && k < total; k++) {
			want[k] = want[h];
			want[k].type = Z_EROFS_LCLUSTER_TYPE_NONHEAD;
		}
		/* the lcluster holding EOF closes the last extent */
		if (i + 1 == mc->n && last > h && last < total)
			want[last] = (struct expect){
				.type = Z_EROFS_LCLUSTER_TYPE_PLAIN,
				.offset = end & (blksz - 1),
			};
	}

	ret = erofs_zmap_encode(&mi, ext, mc->n, map);
	snprintf(name, sizeof(name), "%s: encodes", mc->name);
	CHECK(name, ret == 0);
	if (ret)
		goto out;
	snprintf(name, sizeof(name), "%s: decodes", mc->name);
	ret = decode_all(mc, map,
			 z_erofs_map_header_pos(mc->ibody_end) - mc->ibody_end,
			 total, got);
	CHECK(name, ret == 0);
	if (ret)
		goto out;

	for (u64 k = 0; k < total && !why[0]; k++) {
		const struct expect *w = &want[k];
		u64 head;
		u32 pblocks;

		if (got[k].type != w->type) {
			snprintf(why, sizeof(why),
				 "lcluster %llu: type %u, encoded %u",
				 (unsigned long long)k, got[k].type, w->type);
			break;
		}
		if (resolve(got, total, mc->big, k, &head, &pblocks)) {
			snprintf(why, sizeof(why),
				 "lcluster %llu: no HEAD found",
				 (unsigned long long)k);
			break;
		}
		if (got[head].lo != w->offset)
			snprintf(why, sizeof(why),
				 "lcluster %llu: offset %u, encoded %u",
				 (unsigned long long)k, got[head].lo,
				 w->offset);
		else if (w->check_pcluster && got[head].pblk != w->pstart)
			snprintf(
				why, sizeof(why),
				"lcluster %llu: pcluster at block %llu, encoded %llu",
				(unsigned long long)k,
				(unsigned long long)got[head].pblk,
				(unsigned long long)w->pstart);
		else if (w->check_pcluster && pblocks != w->pblocks)
			snprintf(why, sizeof(why),
				 "lcluster %llu: %u blocks, encoded %u",
				 (unsigned long long)k, pblocks, w->pblocks);
	}
	snprintf(name, sizeof(name), "%s: %llu lclusters map as encoded",
		 mc->name, (unsigned long long)total);
	if (why[0])
		printf("# %s: %s\n", mc->name, why);
	CHECK(name, !why[0]);
out:
	free(ext);
	free(map);
	free(want);
	free(got);
}

/*
 * Random extents: lengths of 1..span lclusters, starting anywhere in
 * one (but extents after the first), some stored raw; with big pclusters
 * up to as many blocks as the extent spans lclusters past its HEAD.
 */
static void random_case(struct map_case *mc, u32 n, u32 span)
{
	const u32 blksz = 1U << mc->blkszbits;
	u64 pos = 0;

	mc->n = n;
	for (u32 i = 0; i < n; i++) {
		u32 l = 1 + next_rand() % span;

		mc->llen[i] = l * blksz;
		/* shift the next extent's start inside its lcluster */
		if (next_rand() % 3 == 0)
			mc->llen[i] += next_rand() % blksz;
		if (next_rand() % 4 == 0 && mc->llen[i] > blksz)
			mc->llen[i] -= next_rand() % blksz;
		/* no two extents start in one lcluster */
		if ((pos + mc->llen[i]) / blksz == pos / blksz)
			mc->llen[i] = blksz - pos % blksz + next_rand() % blksz;
		mc->raw[i] = next_rand() % 5 == 0;
		mc->pblocks[i] = 1;
		pos += mc->llen[i];
	}
}

/*
 * Big pcluster block counts: an extent whose HEAD lcluster is followed
 * by NONHEADs (one lcluster past the start at least) may take up to that
 * many blocks; one that ends in the next lcluster takes one.
 */
static void big_blocks(struct map_case *mc)
{
	const u32 blksz = 1U << mc->blkszbits;
	u64 pos = 0;

	for (u32 i = 0; i < mc->n; i++) {
		u64 h = pos / blksz, last = (pos + mc->llen[i]) / blksz;
		u64 nonheads = last > h + 1 ? last - h - 1 : 0;

		mc->pblocks[i] = nonheads ? 1 + next_rand() % nonheads : 1;
		if (mc->pblocks[i] > 2047)
			mc->pblocks[i] = 2047;
		pos += mc->llen[i];
	}
}

int main(void)
{
	static struct map_case mc;
	static const u32 ibody[] = { 32, 44, 64, 76, 92, 100, 128 };
	static const unsigned int bits[] = { 12, 9 };

	/* random maps over every form */
	for (unsigned int b = 0; b < ARRAY_SIZE(bits); b++)
		for (unsigned int f = 0; f < 4; f++)
			for (unsigned int ib = 0; ib < ARRAY_SIZE(ibody); ib++)
				for (unsigned int r = 0; r < 3; r++) {
					static char name[120];

					memset(&mc, 0, sizeof(mc));
					mc.blkszbits = bits[b];
					mc.compact = f & 1;
					mc.big = f & 2;
					mc.ibody_end = ibody[ib];
					random_case(&mc, 1 + next_rand() % 200,
						    r == 2 ? 40 : 4);
					if (mc.big)
						big_blocks(&mc);
					snprintf(
						name, sizeof(name),
						"%s%s, %u-byte blocks, ibody %u, map %u",
						mc.compact ? "compact" : "full",
						mc.big ? ", big pclusters" : "",
						1U << mc.blkszbits,
						mc.ibody_end, r);
					mc.name = name;
					run_case(&mc);
				}

	/*
	 * delta[0]/CBLKCNT: every extent a HEAD followed by a NONHEAD whose
	 * delta[0] carries the block count, at each slot of the packs (2B
	 * packs of 16, 4B packs of 2), so that the CBLKCNT NONHEAD lands in
	 * a pack's last slot and in the first slot of the pack after its
	 * HEAD's.
	 */
	for (unsigned int f = 0; f < 2; f++)
		for (u32 lead = 0; lead < Z_EROFS_COMPACT_2B_LCLUSTERS;
		     lead++) {
			static char name[120];

			memset(&mc, 0, sizeof(mc));
			mc.blkszbits = 12;
			mc.compact = f;
			mc.big = true;
			mc.ibody_end = 32;
			mc.name = name;
			snprintf(name, sizeof(name),
				 "%s, CBLKCNT after a HEAD at lcluster %u",
				 f ? "compact" : "full", lead);
			/* lead one-lcluster extents, then 3-lcluster ones */
			for (u32 i = 0; i < lead; i++) {
				mc.llen[mc.n] = 4096;
				mc.pblocks[mc.n++] = 1;
			}
			for (u32 i = 0; i < 40; i++) {
				mc.llen[mc.n] = 3 * 4096;
				mc.pblocks[mc.n++] = 1 + i % 2;
			}
			run_case(&mc);
		}

	/*
	 * A big pcluster whose CBLKCNT NONHEAD is the last slot of a 2B
	 * pack (lcluster 21), in a long extent whose NONHEADs' delta[0] passes
	 * the 11 bits it has (lookbacks that land on another NONHEAD).
	 */
	for (unsigned int f = 0; f < 2; f++) {
		memset(&mc, 0, sizeof(mc));
		mc.blkszbits = 12;
		mc.compact = f;
		mc.big = true;
		mc.ibody_end = 32;
		mc.name = f ? "compact, big, 3000-lcluster extent"
			    : "full, big, 3000-lcluster extent";
		/* with the map after a 32-byte inode, 2B packs start at 6 */
		mc.llen[0] = 20 * 4096;
		mc.pblocks[0] = 12;
		mc.llen[1] = 3000 * 4096 + 100;
		mc.pblocks[1] = 1500;
		mc.llen[2] = 2 * 4096 + 7;
		mc.pblocks[2] = 1;
		mc.n = 3;
		run_case(&mc);
	}
	UNIT_EXIT();
}
