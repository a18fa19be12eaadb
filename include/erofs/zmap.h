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

#endif
