/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Compressed file maps, the codec shared by writer and readers: the map
 * header and the lcluster indexes (full 8-byte or compact 2/4-byte packs)
 * or, with 48-bit layouts, extent records that tell the kernel where each
 * extent of a compressed file starts and which physical cluster holds it.
 * Nothing here reads an image: lib/zextent.c walks maps in one.
 */
#ifndef EROFS_ZMAP_H
#define EROFS_ZMAP_H

#include "erofs/compress.h"
#include "erofs/defs.h"

/* How one compressed inode's map is laid out. */
struct erofs_zmap_info {
	unsigned int blkszbits; /* lclusters are one block */
	u64 size; /* i_size */
	bool compact; /* COMPRESSED_COMPACT; else COMPRESSED_FULL */
	bool big_pcluster; /* clusters may exceed a block (CBLKCNT) */
	u8 algorithm; /* Z_EROFS_COMPRESSION_* of HEAD1 lclusters */
	u32 ibody_end; /* inode + xattr bytes, from the 32-byte aligned inode */
	u32 idata_size; /* the inline (ztailpacking) cluster, 0 if none */
	bool extents; /* encoded extent records (48BIT) instead of
		       * lcluster indexes */
	u32 nextents; /* with "extents": how many */
	bool fragment; /* the last extent is in the packed inode */
	bool whole_fragment; /* ... and it is the whole file */
	u64 fragment_off; /* its offset in the packed inode's data */
};

/* Bytes after the ibody: alignment pad, map header, indexes. */
u32 erofs_zmap_size(const struct erofs_zmap_info *mi);

/*
 * Encode the map of extents "ext" (sorted, covering the whole file, block
 * addresses set) into "out" (erofs_zmap_size bytes). -EAGAIN when compact
 * indexes cannot express the addresses (use full ones).
 */
int erofs_zmap_encode(const struct erofs_zmap_info *mi,
		      const struct erofs_zextent *ext, u32 n, u8 *out);

/* ---- decoding, for the readers (lib/zextent.c) ---- */

/* Where an extent's stored bytes are. */
enum erofs_zwhere {
	EROFS_ZX_DISK, /* a physical cluster at pa */
	EROFS_ZX_INLINE, /* the inline cluster beside the inode, at pa */
	EROFS_ZX_FRAGMENT, /* the packed inode's data from offset pa */
	EROFS_ZX_HOLE, /* nothing stored: reads as zeros */
};

/* Stored forms besides the algorithms (Z_EROFS_COMPRESSION_*). */
#define EROFS_ZFMT_SHIFTED 0x10 /* uncompressed, from the cluster start */
#define EROFS_ZFMT_INTERLACED 0x11 /* uncompressed, rotated in its block */

/* One whole extent of a compressed file. */
struct erofs_zx {
	u64 la, llen; /* file bytes [la, la + llen) */
	u64 pa; /* see enum erofs_zwhere */
	u32 plen; /* stored bytes */
	u8 fmt; /* Z_EROFS_COMPRESSION_* or EROFS_ZFMT_* */
	u8 where; /* enum erofs_zwhere */
	bool partial; /* the cluster holds more than this extent */
};

/* One lcluster index as decoded. */
struct erofs_zindex {
	u8 type; /* Z_EROFS_LCLUSTER_TYPE_* */
	bool partial, hole; /* heads: Z_EROFS_LI_PARTIAL_REF, _HOLE */
	/*
	 * Nonheads: whether delta[0] on disk carried D0_CBLKCNT, apart from
	 * "lo": a delta[0] derived in a pack's last slot may reach 2048, the
	 * flag's own bit, and is still a distance to the kernel.
	 */
	bool cblk;
	u16 lo; /* clusterofs (heads), delta[0] or the block count (nonheads) */
	u64 pblk; /* heads: the physical cluster's block */
};

/*
 * Compact indexes: 4-byte packs of 2 lclusters up to a 32-byte boundary,
 * then (2B packs allowed) 32-byte packs of 16, then 4-byte packs to the
 * end; counts of lclusters in each region, and the bytes of all.
 */
struct erofs_zcompact {
	u32 c4_initial, c2, c4_end;
	u32 bytes;
};

/*
 * The regions of "total" compact indexes that start at "ebase", an offset
 * whose alignment modulo 32 is the image's (right after the map header).
 */
void erofs_zmap_compact_layout(u64 ebase, u64 total, bool twobyte,
			       struct erofs_zcompact *g);
/*
 * The pack holding lcluster "k": its first lcluster "k0", its offset
 * from the start of the indexes and its number of slots (2 or 16).
 */
void erofs_zmap_compact_pack(const struct erofs_zcompact *g, u64 k, u64 *k0,
			     u64 *off, u32 *vcnt);
/*
 * Decode the first "avail" of the "vcnt" slots of the pack at "pack" into
 * "out" ("lobits": bits of a slot's offset, the larger of the lcluster
 * bits and 12; "big": big pclusters). Block addresses of heads are found
 * as the kernel finds them: the pack's base plus the clusters of the
 * heads before.
 */
void erofs_zmap_decode_pack(const u8 *pack, u32 vcnt, u32 avail, u32 lobits,
			    bool big, struct erofs_zindex *out);
/* Decode "n" full (8-byte) lcluster indexes at "raw". */
void erofs_zmap_decode_full(const u8 *raw, u64 n, struct erofs_zindex *out);
/*
 * Decode an extent record's stored size and address ("plen" and "pa" as
 * the record holds them) into x's where, fmt, plen, pa and partial:
 * "last_fragment" for the last record of a map with a fragment,
 * "interlaced" from the map header. -EOPNOTSUPP (and *why) for an
 * algorithm this reader does not know; nothing else is checked here.
 */
int erofs_zmap_decode_extent(u32 plen, u64 pa, bool interlaced,
			     bool last_fragment, u32 recsz, u32 blksz,
			     struct erofs_zx *x, const char **why);

#endif
