// SPDX-License-Identifier: GPL-2.0-or-later
/* Superblock encoding, decoding and checksum. */
#include <stdio.h>
#include <string.h>

#include "erofs/crc32c.h"
#include "erofs/format.h"
#include "erofs/io.h"
#include "erofs/super.h"

void erofs_sb_encode(const struct erofs_sb_info *sbi, u8 *buf)
{
	struct erofs_super_block d = {
		.magic = cpu_to_le32(EROFS_SUPER_MAGIC),
		.checksum = cpu_to_le32(sbi->checksum),
		.feature_compat = cpu_to_le32(sbi->feature_compat),
		.blkszbits = sbi->blkszbits,
		.sb_extslots = sbi->sb_extslots,
		.inos = cpu_to_le64(sbi->inos),
		.epoch = cpu_to_le64((u64)sbi->epoch),
		.fixed_nsec = cpu_to_le32(sbi->fixed_nsec),
		.blocks_lo = cpu_to_le32((u32)sbi->blocks),
		.meta_blkaddr = cpu_to_le32((u32)sbi->meta_blkaddr),
		.xattr_blkaddr = cpu_to_le32((u32)sbi->xattr_blkaddr),
		.feature_incompat = cpu_to_le32(sbi->feature_incompat),
		.available_compr_algs = cpu_to_le16(sbi->available_compr_algs),
		.extra_devices = cpu_to_le16(sbi->extra_devices),
		.devt_slotoff = cpu_to_le16(sbi->devt_slotoff),
		.dirblkbits = sbi->dirblkbits,
		.xattr_prefix_count = sbi->xattr_prefix_count,
		.xattr_prefix_start = cpu_to_le32(sbi->xattr_prefix_start),
		.packed_nid = cpu_to_le64(sbi->packed_nid),
		.ishare_xattr_prefix_id = sbi->ishare_xattr_prefix_id,
		.build_time = cpu_to_le32(sbi->build_time),
		.metabox_nid = cpu_to_le64(sbi->metabox_nid),
	};

	/* as erofs-utils: the wide fields only where the narrow ones fail */
	if ((sbi->feature_incompat & EROFS_FEATURE_INCOMPAT_48BIT) &&
	    (sbi->blocks > UINT32_MAX || sbi->root_nid > UINT16_MAX)) {
		d.rootnid_2b = cpu_to_le16((u16)(sbi->blocks >> 32));
		d.rootnid_8b = cpu_to_le64(sbi->root_nid);
	} else {
		d.rootnid_2b = cpu_to_le16((u16)sbi->root_nid);
	}
	memcpy(d.uuid, sbi->uuid, sizeof(d.uuid));
	memcpy(d.volume_name, sbi->volume_name, sizeof(d.volume_name));
	memcpy(buf, &d,
	       EROFS_SUPER_BASE_SIZE + sbi->sb_extslots * EROFS_SB_EXTSLOT_SIZE);
}

u32 erofs_sb_checksum(const u8 *region, size_t len)
{
	static const u8 zero[4];
	u32 crc;

	crc = erofs_crc32c(~0U, region, 4);
	crc = erofs_crc32c(crc, zero, 4);
	return erofs_crc32c(crc, region + 8, len - 8);
}

int erofs_sb_decode(const u8 *buf, size_t len, struct erofs_sb_info *sbi,
		    const char **why)
{
	struct erofs_super_block d = { 0 };

	memset(sbi, 0, sizeof(*sbi));
	if (len < EROFS_SUPER_BASE_SIZE) {
		*why = "image too small for a superblock";
		return -EFSCORRUPTED;
	}
	memcpy(&d, buf, min(len, sizeof(d)));
	if (le32_to_cpu(d.magic) != EROFS_SUPER_MAGIC) {
		*why = "no EROFS magic";
		return -EFSCORRUPTED;
	}
	sbi->blkszbits = d.blkszbits;
	if (d.blkszbits < EROFS_MIN_BLKSZBITS ||
	    d.blkszbits > EROFS_MAX_BLKSZBITS) {
		*why = "unsupported block size";
		return -EOPNOTSUPP;
	}
	sbi->blksz = 1U << d.blkszbits;
	sbi->sb_extslots = d.sb_extslots;
	if (EROFS_SUPER_BASE_SIZE + d.sb_extslots * EROFS_SB_EXTSLOT_SIZE >
	    sizeof(d)) {
		/* fields past what this toolchain knows stay unread */
	} else if (d.sb_extslots == 0) {
		d.metabox_nid = 0;
		d.reserved3 = 0;
	}
	sbi->checksum = le32_to_cpu(d.checksum);
	sbi->feature_compat = le32_to_cpu(d.feature_compat);
	sbi->feature_incompat = le32_to_cpu(d.feature_incompat);
	sbi->inos = le64_to_cpu(d.inos);
	sbi->epoch = (s64)le64_to_cpu(d.epoch);
	sbi->fixed_nsec = le32_to_cpu(d.fixed_nsec);
	sbi->build_time = le32_to_cpu(d.build_time);
	sbi->blocks = le32_to_cpu(d.blocks_lo);
	/* a zero 64-bit root nid leaves the 16-bit one in charge */
	if ((sbi->feature_incompat & EROFS_FEATURE_INCOMPAT_48BIT) &&
	    d.rootnid_8b) {
		sbi->blocks |= (u64)le16_to_cpu(d.rootnid_2b) << 32;
		sbi->root_nid = le64_to_cpu(d.rootnid_8b);
	} else {
		sbi->root_nid = le16_to_cpu(d.rootnid_2b);
	}
	sbi->meta_blkaddr = le32_to_cpu(d.meta_blkaddr);
	sbi->xattr_blkaddr = le32_to_cpu(d.xattr_blkaddr);
	memcpy(sbi->uuid, d.uuid, sizeof(d.uuid));
	memcpy(sbi->volume_name, d.volume_name, sizeof(d.volume_name));
	sbi->volume_name[16] = '\0';
	sbi->available_compr_algs = le16_to_cpu(d.available_compr_algs);
	sbi->extra_devices = le16_to_cpu(d.extra_devices);
	sbi->devt_slotoff = le16_to_cpu(d.devt_slotoff);
	sbi->dirblkbits = d.dirblkbits;
	sbi->xattr_prefix_count = d.xattr_prefix_count;
	sbi->xattr_prefix_start = le32_to_cpu(d.xattr_prefix_start);
	sbi->packed_nid = le64_to_cpu(d.packed_nid);
	sbi->ishare_xattr_prefix_id = d.ishare_xattr_prefix_id;
	if (sbi->feature_incompat & EROFS_FEATURE_INCOMPAT_METABOX)
		sbi->metabox_nid = le64_to_cpu(d.metabox_nid);
	return 0;
}

static const struct {
	u32 bit;
	bool incompat;
	const char *name;
} feature_names[] = {
	{ EROFS_FEATURE_COMPAT_SB_CHKSUM, false, "sb_csum" },
	{ EROFS_FEATURE_COMPAT_MTIME, false, "mtime" },
	{ EROFS_FEATURE_COMPAT_XATTR_FILTER, false, "xattr_filter" },
	{ EROFS_FEATURE_COMPAT_SHARED_EA_IN_METABOX, false,
	  "shared_ea_in_metabox" },
	{ EROFS_FEATURE_COMPAT_PLAIN_XATTR_PFX, false, "plain_xattr_pfx" },
	{ EROFS_FEATURE_COMPAT_ISHARE_XATTRS, false, "ishare_xattrs" },
	{ EROFS_FEATURE_INCOMPAT_ZERO_PADDING, true, "0padding" },
	{ EROFS_FEATURE_INCOMPAT_COMPR_CFGS, true, "compr_cfgs" },
	{ EROFS_FEATURE_INCOMPAT_CHUNKED_FILE, true, "chunked_file" },
	{ EROFS_FEATURE_INCOMPAT_DEVICE_TABLE, true, "device_table" },
	{ EROFS_FEATURE_INCOMPAT_ZTAILPACKING, true, "ztailpacking" },
	{ EROFS_FEATURE_INCOMPAT_FRAGMENTS, true, "fragments" },
	{ EROFS_FEATURE_INCOMPAT_XATTR_PREFIXES, true, "xattr_prefixes" },
	{ EROFS_FEATURE_INCOMPAT_48BIT, true, "48bit" },
	{ EROFS_FEATURE_INCOMPAT_METABOX, true, "metabox" },
};

void erofs_sb_feature_names(const struct erofs_sb_info *sbi, char *buf,
			    size_t size)
{
	size_t pos = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(feature_names); i++) {
		u32 set = feature_names[i].incompat ? sbi->feature_incompat :
						      sbi->feature_compat;
		int n;

		if (!(set & feature_names[i].bit))
			continue;
		n = snprintf(buf + pos, size - pos, "%s%s", pos ? " " : "",
			     feature_names[i].name);
		if (n < 0 || (size_t)n >= size - pos)
			break;
		pos += n;
	}
}

u32 erofs_sb_unknown_incompat(const struct erofs_sb_info *sbi)
{
	return sbi->feature_incompat & ~EROFS_ALL_FEATURE_INCOMPAT;
}
