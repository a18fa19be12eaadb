// SPDX-License-Identifier: GPL-2.0-or-later
/* Compact and extended inode encoding and decoding. */
#include <string.h>
#include <sys/stat.h>

#include "erofs/format.h"
#include "erofs/inode.h"
#include "erofs/io.h"
#include "erofs/super.h"

void erofs_inode_encode(const struct erofs_inode_info *ii, u8 *buf)
{
	u16 ifmt = erofs_i_format(ii->version, ii->datalayout) |
		   ii->format_flags;

	if (ii->version == EROFS_INODE_LAYOUT_EXTENDED) {
		struct erofs_inode_extended d = {
			.i_format = cpu_to_le16(ifmt),
			.i_xattr_icount = cpu_to_le16(ii->xattr_icount),
			.i_mode = cpu_to_le16(ii->mode),
			.i_nb = cpu_to_le16(ii->nb_hi),
			.i_size = cpu_to_le64(ii->size),
			.i_u.startblk_lo = cpu_to_le32(ii->i_u),
			.i_ino = cpu_to_le32(ii->ino),
			.i_uid = cpu_to_le32(ii->uid),
			.i_gid = cpu_to_le32(ii->gid),
			.i_mtime = cpu_to_le64((u64)ii->mtime),
			.i_mtime_nsec = cpu_to_le32(ii->mtime_nsec),
			.i_nlink = cpu_to_le32(ii->nlink),
		};

		memcpy(buf, &d, sizeof(d));
	} else {
		/* startblk/blocks MSB instead of a link count of 1 */
		bool nlink_1 = !S_ISDIR(ii->mode) &&
			       (ii->format_flags & (1 << EROFS_I_NLINK_1_BIT));
		struct erofs_inode_compact d = {
			.i_format = cpu_to_le16(ifmt),
			.i_xattr_icount = cpu_to_le16(ii->xattr_icount),
			.i_mode = cpu_to_le16(ii->mode),
			.i_nlink = cpu_to_le16(nlink_1 ? ii->nb_hi : ii->nlink),
			.i_size = cpu_to_le32((u32)ii->size),
			.i_mtime = cpu_to_le32(ii->compact_mtime),
			.i_u.startblk_lo = cpu_to_le32(ii->i_u),
			.i_ino = cpu_to_le32(ii->ino),
			.i_uid = cpu_to_le16(ii->uid),
			.i_gid = cpu_to_le16(ii->gid),
		};

		memcpy(buf, &d, sizeof(d));
	}
}

static bool mode_valid(u32 mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
	case S_IFDIR:
	case S_IFLNK:
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
	case S_IFSOCK:
		return true;
	}
	return false;
}

int erofs_inode_decode(const struct erofs_sb_info *sbi, const u8 *buf,
		       size_t avail, struct erofs_inode_info *ii,
		       const char **why)
{
	u16 ifmt;

	memset(ii, 0, sizeof(*ii));
	if (avail < sizeof(struct erofs_inode_compact)) {
		*why = "inode extends past the end of the image";
		return -EFSCORRUPTED;
	}
	memcpy(&ifmt, buf, 2);
	ifmt = le16_to_cpu(ifmt);
	if (ifmt & ~EROFS_I_ALL) {
		*why = "unsupported inode format bits";
		return -EOPNOTSUPP;
	}
	ii->version = erofs_i_version(ifmt);
	ii->datalayout = erofs_i_datalayout(ifmt);
	ii->format_flags = ifmt & ~((1 << EROFS_I_NLINK_1_BIT) - 1);
	if (ii->datalayout >= EROFS_INODE_DATALAYOUT_MAX) {
		*why = "unknown data layout";
		return -EOPNOTSUPP;
	}
	if (ii->version == EROFS_INODE_LAYOUT_EXTENDED) {
		struct erofs_inode_extended d;

		if (avail < sizeof(d)) {
			*why = "inode extends past the end of the image";
			return -EFSCORRUPTED;
		}
		memcpy(&d, buf, sizeof(d));
		ii->xattr_icount = le16_to_cpu(d.i_xattr_icount);
		ii->mode = le16_to_cpu(d.i_mode);
		ii->nb_hi = le16_to_cpu(d.i_nb);
		ii->size = le64_to_cpu(d.i_size);
		ii->i_u = le32_to_cpu(d.i_u.startblk_lo);
		ii->ino = le32_to_cpu(d.i_ino);
		ii->uid = le32_to_cpu(d.i_uid);
		ii->gid = le32_to_cpu(d.i_gid);
		ii->mtime = (s64)le64_to_cpu(d.i_mtime);
		ii->mtime_nsec = le32_to_cpu(d.i_mtime_nsec);
		ii->nlink = le32_to_cpu(d.i_nlink);
	} else {
		struct erofs_inode_compact d;
		u16 nb;

		memcpy(&d, buf, sizeof(d));
		ii->xattr_icount = le16_to_cpu(d.i_xattr_icount);
		ii->mode = le16_to_cpu(d.i_mode);
		nb = le16_to_cpu(d.i_nlink);
		ii->size = le32_to_cpu(d.i_size);
		ii->i_u = le32_to_cpu(d.i_u.startblk_lo);
		ii->ino = le32_to_cpu(d.i_ino);
		ii->uid = le16_to_cpu(d.i_uid);
		ii->gid = le16_to_cpu(d.i_gid);
		if (!S_ISDIR(ii->mode) &&
		    (ifmt & (1 << EROFS_I_NLINK_1_BIT))) {
			ii->nlink = 1;
			ii->nb_hi = nb;
		} else {
			ii->nlink = nb;
		}
		ii->mtime = sbi->epoch + le32_to_cpu(d.i_mtime);
		ii->mtime_nsec = sbi->fixed_nsec;
	}
	if (!mode_valid(ii->mode)) {
		*why = "invalid file type in i_mode";
		return -EFSCORRUPTED;
	}
	return 0;
}
