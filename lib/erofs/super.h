/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The superblock: one decoded form, encoder, decoder and checksum. */
#ifndef EROFS_SUPER_H
#define EROFS_SUPER_H

#include "erofs/defs.h"

struct erofs_sb_info {
	u32 feature_compat;
	u32 feature_incompat;
	u8 blkszbits;
	u32 blksz;
	u8 sb_extslots;
	erofs_nid_t root_nid;
	u64 inos;
	s64 epoch;
	u32 fixed_nsec;
	u32 build_time; /* seconds after epoch */
	u64 blocks;
	erofs_blk_t meta_blkaddr;
	erofs_blk_t xattr_blkaddr;
	u8 uuid[16];
	char volume_name[17];
	u16 available_compr_algs; /* lz4_max_distance without COMPR_CFGS */
	u16 extra_devices;
	u16 devt_slotoff;
	u8 dirblkbits;
	u8 xattr_prefix_count;
	u32 xattr_prefix_start;
	erofs_nid_t packed_nid;
	u8 ishare_xattr_prefix_id;
	erofs_nid_t metabox_nid;
	u32 checksum;
};

/* Bytes from EROFS_SUPER_OFFSET that the checksum covers. */
static inline size_t erofs_sb_csum_len(unsigned int blkszbits)
{
	size_t len = (size_t)1 << blkszbits;

	return len > 1024 ? len - 1024 : len;
}

/* Encode into "buf" (EROFS_SUPER_BASE_SIZE + extslots * 16 bytes). */
void erofs_sb_encode(const struct erofs_sb_info *sbi, u8 *buf);
/*
 * CRC32C of the checksummed region starting at the superblock, computed
 * with the checksum field as zero.
 */
u32 erofs_sb_checksum(const u8 *region, size_t len);
/* Decode and validate; -EFSCORRUPTED/-EOPNOTSUPP with a reason in why. */
int erofs_sb_decode(const u8 *buf, size_t len, struct erofs_sb_info *sbi,
		    const char **why);
/* Names of the set feature bits, for messages: "sb_csum mtime ...". */
void erofs_sb_feature_names(const struct erofs_sb_info *sbi, char *buf,
			    size_t size);
/* Comma-separated names of incompat bits this toolchain cannot read. */
u32 erofs_sb_unknown_incompat(const struct erofs_sb_info *sbi);

#endif
