/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Inodes of an open image by nid: the on-disk record decoded
 * (lib/inode.c) and checked, with where its xattrs, inline data and chunk
 * map lie (lib/inode_read.c).
 */
#ifndef EROFS_INODE_READ_H
#define EROFS_INODE_READ_H

#include "erofs/image.h"
#include "erofs/inode.h"

/* An inode as found in an image, with the positions derived from it. */
struct erofs_rinode {
	erofs_nid_t nid;
	struct erofs_inode_info i;
	u64 iloc; /* metadata address of the inode */
	u32 inode_isize; /* 32 or 64 */
	u32 xattr_isize; /* inline xattr area after the inode */
	u64 meta_end; /* iloc + inode_isize + xattr_isize */
	/* flat layouts */
	erofs_blk_t startblk;
	bool null_startblk; /* FLAT_PLAIN whose whole data is a hole */
	/* where startblk lies: the device and the byte on it */
	unsigned int data_dev;
	u64 data_pos;
	u64 tail_pos; /* FLAT_INLINE: metadata address of the inline tail */
	u32 tail_len; /* FLAT_INLINE: bytes of the tail (0 if none) */
	/* chunk-based layout */
	u8 chunkbits; /* log2 of the chunk size in bytes */
	u8 chunk_unit; /* 4 (block map) or 8 (indexes) */
	bool chunk_48bit;
	u64 chunk_pos; /* metadata address of the chunk table */
	u64 nchunks;
};

/*
 * Read and decode inode "nid" and check everything about it that does not
 * need the data: layout fields, sizes, where its xattr area, inline tail
 * and chunk table lie (inside the image, inline tail within one block).
 */
int erofs_read_inode(struct erofs_image *img, erofs_nid_t nid,
		     struct erofs_rinode *ri, const char **why);

/* Blocks of data a flat or chunk-based inode covers: ceil(size / blksz). */
static inline u64 erofs_inode_nblocks(const struct erofs_image *img,
				      const struct erofs_rinode *ri)
{
	return (ri->i.size >> img->blkszbits) +
	       !!(ri->i.size & (img->blksz - 1));
}

#endif
