/* SPDX-License-Identifier: GPL-2.0-or-later */
/* On-disk inodes: one decoded form, with an encoder and a decoder. */
#ifndef EROFS_INODE_H
#define EROFS_INODE_H

#include "erofs/defs.h"

struct erofs_sb_info;

struct erofs_inode_info {
	u8 version; /* EROFS_INODE_LAYOUT_* */
	u8 datalayout; /* EROFS_INODE_* */
	u16 format_flags; /* i_format bits above the layout (NLINK_1, ...) */
	u16 xattr_icount;
	u32 mode;
	u32 uid;
	u32 gid;
	u32 nlink;
	u64 size;
	s64 mtime;
	u32 mtime_nsec;
	u32 compact_mtime; /* compact inodes: seconds after the epoch */
	u32 i_u; /* startblk_lo, blocks_lo, rdev or chunk format */
	u16 nb_hi; /* startblk/blocks MSB (48-bit layout) */
	u32 ino;
};

/* Size of the on-disk inode of this version: 32 or 64. */
static inline unsigned int erofs_inode_disk_size(unsigned int version)
{
	return version ? 64 : 32;
}

/* Write the inode into "buf" (erofs_inode_disk_size() bytes). */
void erofs_inode_encode(const struct erofs_inode_info *ii, u8 *buf);

/*
 * Decode the inode at "buf" ("avail" bytes readable). Compact inode times
 * come from the superblock. Returns -EFSCORRUPTED or -EOPNOTSUPP with a
 * reason in "why".
 */
int erofs_inode_decode(const struct erofs_sb_info *sbi, const u8 *buf,
		       size_t avail, struct erofs_inode_info *ii,
		       const char **why);

#endif
