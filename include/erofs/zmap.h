/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Compressed file maps: the map header and the lcluster indexes (full
 * 8-byte or compact 2/4-byte packs) that tell the kernel where each
 * extent of a compressed file starts and which physical cluster holds it.
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

/* ---- reading ---- */

struct erofs_image;
struct erofs_rinode;

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

/*
 * The extent of a compressed inode containing "la" (< i_size). The map is
 * read as a stream: a cursor per thread (two of them, for a file and the
 * packed inode its fragment is in) walks the indexes front to back and
 * checks each extent (heads, cluster sizes, bounds) as it reaches it; its
 * memory does not grow with the map. An offset before the cursor starts
 * it over, so reads should go front to back.
 */
int erofs_zmap_lookup(struct erofs_image *img, const struct erofs_rinode *ri,
		      u64 la, struct erofs_zx *x, const char **why);
/*
 * The packed inode, checked to hold "len" bytes of fragments at "off"
 * and to be safe to read them from (no fragments of its own, no larger
 * than the image unless compressed).
 */
int erofs_zmap_packed(struct erofs_image *img, u64 off, u64 len,
		      struct erofs_rinode *packed, const char **why);
/* Decode extent "x" of "ri" into "out" (x->llen bytes). */
int erofs_zmap_read(struct erofs_image *img, const struct erofs_rinode *ri,
		    const struct erofs_zx *x, u8 *out, const char **why);
/* Compressed bytes a compressed inode's extents occupy (for statistics). */
int erofs_zmap_stored_bytes(struct erofs_image *img,
			    const struct erofs_rinode *ri, u64 *bytes,
			    const char **why);

#endif
