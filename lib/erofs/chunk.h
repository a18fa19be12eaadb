/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Chunk-based files (data layout EROFS_INODE_CHUNK_BASED): --chunksize
 * cuts regular files into chunks stored once each (identical chunks by
 * SHA-256, in this build), with chunks that read as zeroes left as holes;
 * --blobdev puts the chunks on an extra device. Files whose data stays on
 * an extra device (tar index) are chunk-based too, with the map the source
 * gave them.
 */
#ifndef EROFS_CHUNK_H
#define EROFS_CHUNK_H

#include "erofs/defs.h"
#include "erofs/format.h"

struct erofs_build;
struct erofs_node;

/* Bytes of one map entry: a block map (4) or chunk indexes (8). */
static inline unsigned int erofs_chunk_unit(bool indexes)
{
	return indexes ? sizeof(struct erofs_inode_chunk_index)
		       : sizeof(__le32);
}

/*
 * Give "n" a chunk-based layout: "nchunks" chunks of 2^chunkbits bytes at
 * blocks "blk" (EROFS_EXT_HOLE for holes) of device "device" (0: the
 * image). Block maps can only name the image; chunk indexes are used for
 * extra devices or when "indexes" is set.
 */
int erofs_chunk_set_layout(struct erofs_build *b, struct erofs_node *n,
			   unsigned int chunkbits, const u64 *blk, u64 nchunks,
			   u16 device, bool indexes);

/* Block of chunk "i" in a layout set above, or EROFS_EXT_HOLE. */
u64 erofs_chunk_layout_blk(const struct erofs_node *n, unsigned int blkszbits,
			   u64 i);

/* A file whose data stays on an extra device (EROFS_DATA_EXTERNAL). */
int erofs_chunk_plan_external(struct erofs_build *b, struct erofs_node *n);

#endif
