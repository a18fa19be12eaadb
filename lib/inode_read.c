// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Inodes by nid (erofs/inode_read.h): the record decoded and everything
 * checked that does not need the data.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "erofs/device.h"
#include "erofs/format.h"
#include "erofs/inode_read.h"

static int corrupt(const char **why, const char *reason)
{
	*why = reason;
	return -EFSCORRUPTED;
}

static int layout_flat(struct erofs_image *img, struct erofs_rinode *ri,
		       const char **why)
{
	const struct erofs_inode_info *ii = &ri->i;
	u64 nblocks = erofs_inode_nblocks(img, ri), outside = nblocks, room;
	bool wide;

	ri->startblk = ii->i_u | (u64)ii->nb_hi << 32;
	/* the address is 48-bit wide where the inode can carry the top */
	wide = ii->version == EROFS_INODE_LAYOUT_EXTENDED ||
	       (!S_ISDIR(ii->mode) &&
		(ii->format_flags & (1 << EROFS_I_NLINK_1_BIT)));
	if (ii->datalayout == EROFS_INODE_FLAT_INLINE && ii->size) {
		u32 in_block;

		outside = nblocks - 1;
		ri->tail_len = ii->size - (outside << img->blkszbits);
		ri->tail_pos = ri->meta_end;
		in_block = ri->tail_pos & (img->blksz - 1);
		if (in_block + ri->tail_len > img->blksz)
			return corrupt(why,
				       "inline data crosses a block boundary");
		if (!erofs_image_contains(img, ri->tail_pos, ri->tail_len))
			return corrupt(why,
				       "inline data lies past the end of the image");
	} else if (ii->datalayout == EROFS_INODE_FLAT_PLAIN) {
		ri->null_startblk = ii->i_u == EROFS_NULL_ADDR &&
				    (!wide || ii->nb_hi == 0xFFFF);
		if (ri->null_startblk)
			return 0;
	}
	if (!outside)
		return 0;
	/* the data may lie on an extra device through its unified address */
	ri->data_pos = ri->startblk << img->blkszbits;
	if (erofs_device_resolve(img, &ri->data_dev, &ri->data_pos, &room,
				 why))
		return corrupt(why, "data blocks lie past the end of the image");
	if ((ii->datalayout == EROFS_INODE_FLAT_INLINE ?
		     outside << img->blkszbits :
		     ii->size) > room)
		return corrupt(why, ri->data_dev ?
				       "data blocks run past the end of their extra device" :
				       "data blocks lie past the end of the image or run into an extra device");
	return 0;
}

static int layout_chunked(struct erofs_image *img, struct erofs_rinode *ri,
			  const char **why)
{
	u16 format = ri->i.i_u & 0xFFFF;

	if (format & ~EROFS_CHUNK_FORMAT_ALL) {
		*why = "chunk format has unknown bits (0x80 and up): not supported";
		return -EOPNOTSUPP;
	}
	ri->chunkbits = img->blkszbits +
			(format & EROFS_CHUNK_FORMAT_BLKBITS_MASK);
	ri->chunk_unit = format & EROFS_CHUNK_FORMAT_INDEXES ?
				 sizeof(struct erofs_inode_chunk_index) :
				 sizeof(__le32);
	ri->chunk_48bit = format & EROFS_CHUNK_FORMAT_48BIT;
	ri->nchunks = ri->i.size ? ((ri->i.size - 1) >> ri->chunkbits) + 1 : 0;
	ri->chunk_pos = round_up(ri->meta_end, ri->chunk_unit);
	if (ri->nchunks > img->size / ri->chunk_unit ||
	    !erofs_image_contains(img, ri->chunk_pos,
				  ri->nchunks * ri->chunk_unit))
		return corrupt(why, "chunk table lies past the end of the image");
	return 0;
}

int erofs_read_inode(struct erofs_image *img, erofs_nid_t nid,
		     struct erofs_rinode *ri, const char **why)
{
	u8 buf[sizeof(struct erofs_inode_extended)];
	u64 base = img->sb.meta_blkaddr << img->blkszbits;
	u64 slot = nid, end = img->size;
	size_t avail;
	int ret;

	memset(ri, 0, sizeof(*ri));
	ri->nid = nid;
	/* records in the metabox count from the start of its data */
	if (erofs_nid_in_metabox(nid)) {
		if (!img->metabox)
			return corrupt(why,
				       "nid points into a metabox the image does not have");
		base = EROFS_MBOX_ADDR;
		slot = nid & EROFS_DIRENT_NID_MASK;
		end = img->mbox_size;
	}
	if (slot > (end >> EROFS_ISLOTBITS) ||
	    !erofs_image_contains(img, base + (slot << EROFS_ISLOTBITS),
				  sizeof(struct erofs_inode_compact)))
		return corrupt(why, base & EROFS_MBOX_ADDR ?
				       "inode lies past the end of the metabox" :
				       "inode lies past the end of the image");
	ri->iloc = base + (slot << EROFS_ISLOTBITS);
	avail = min_t(u64, sizeof(buf),
		      end - (ri->iloc & ~EROFS_MBOX_ADDR));
	ret = erofs_image_read(img, buf, avail, ri->iloc);
	if (ret) {
		*why = "cannot read the inode";
		return ret;
	}
	ret = erofs_inode_decode(&img->sb, buf, avail, &ri->i, why);
	if (ret)
		return ret;
	ri->inode_isize = erofs_inode_disk_size(ri->i.version);
	ri->xattr_isize = erofs_xattr_ibody_size(ri->i.xattr_icount);
	ri->meta_end = ri->iloc + ri->inode_isize + ri->xattr_isize;
	if (!erofs_image_contains(img, ri->iloc,
				  ri->inode_isize + ri->xattr_isize))
		return corrupt(why, "xattr area lies past the end of the image");
	if (ri->i.size >> 63)
		return corrupt(why, "negative file size");

	switch (ri->i.mode & S_IFMT) {
	case S_IFREG:
	case S_IFDIR:
	case S_IFLNK:
		break;
	default:
		/* i_u holds the device number; nothing is stored as data */
		if (erofs_layout_is_compressed(ri->i.datalayout))
			return corrupt(why, "special file with compressed data");
		return 0;
	}
	switch (ri->i.datalayout) {
	case EROFS_INODE_FLAT_PLAIN:
	case EROFS_INODE_FLAT_INLINE:
		return layout_flat(img, ri, why);
	case EROFS_INODE_CHUNK_BASED:
		return layout_chunked(img, ri, why);
	default:
		/* compressed: decoded by the compression reader */
		return 0;
	}
}
