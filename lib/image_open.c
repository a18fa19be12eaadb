// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Opening an image (erofs/image_open.h): the superblock and its checksum,
 * the features this reader knows, extra devices, the metabox and the long
 * xattr prefix table, each checked before anything relies on it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "erofs/data_read.h"
#include "erofs/device.h"
#include "erofs/error.h"
#include "erofs/format.h"
#include "erofs/image_open.h"
#include "erofs/inode_read.h"
#include "erofs/xattr.h"
#include "erofs/zcfgs.h"

static int open_fail(struct erofs_image *img, int err, const char *why)
{
	return erofs_fail(err, "%s: %s", img->path, why);
}

static int check_features(struct erofs_image *img)
{
	const struct erofs_sb_info *sb = &img->sb;
	u32 unknown = erofs_sb_unknown_incompat(sb);
	char msg[160];

	if (unknown) {
		snprintf(msg, sizeof(msg),
			 "unknown incompatible features 0x%x: this image needs a newer reader",
			 unknown);
		return open_fail(img, -EOPNOTSUPP, msg);
	}
	if (sb->dirblkbits)
		return open_fail(img, -EOPNOTSUPP,
				 "directory blocks larger than file system blocks are not supported");
	if (EROFS_SUPER_BASE_SIZE + sb->sb_extslots * EROFS_SB_EXTSLOT_SIZE >
	    EROFS_SUPER_MAX_SIZE)
		return open_fail(img, -EFSCORRUPTED,
				 "superblock extension slots run past its block");
	return 0;
}

/* The metabox's records are the data of the metabox inode. */
static int read_metabox(struct erofs_image *img, void *buf, size_t len,
			u64 pos, const char **why)
{
	return erofs_read_data(img, img->metabox, buf, len, pos, why);
}

/*
 * The metabox inode lies in the metadata area (the kernel refuses a
 * metabox nid that points into the metabox), and so does the packed
 * inode here: the metabox's data may be one of its fragments.
 */
static int open_metabox(struct erofs_image *img)
{
	const struct erofs_sb_info *sb = &img->sb;
	unsigned long long nid = sb->metabox_nid;
	const char *why = "";
	char msg[200];
	int ret;

	if (erofs_nid_in_metabox(sb->packed_nid))
		return open_fail(img, -EFSCORRUPTED,
				 "the packed inode's nid points into the metabox, whose data may need the packed inode (a loop)");
	if (!(sb->feature_incompat & EROFS_FEATURE_INCOMPAT_METABOX))
		return 0;
	if (!sb->sb_extslots)
		return open_fail(img, -EFSCORRUPTED,
				 "metabox feature without the superblock extension slot that names the metabox");
	if (erofs_nid_in_metabox(nid)) {
		snprintf(msg, sizeof(msg),
			 "metabox nid %llu points into the metabox itself (a loop)",
			 nid);
		return open_fail(img, -EFSCORRUPTED, msg);
	}
	img->metabox = calloc(1, sizeof(*img->metabox));
	if (!img->metabox)
		return -ENOMEM;
	ret = erofs_read_inode(img, nid, img->metabox, &why);
	if (!ret && !S_ISREG(img->metabox->i.mode)) {
		ret = -EFSCORRUPTED;
		why = "not a regular file";
	} else if (!ret && !erofs_data_readable(img->metabox)) {
		ret = -EOPNOTSUPP;
		why = "its data layout is not supported";
	}
	if (ret) {
		snprintf(msg, sizeof(msg), "metabox inode (nid %llu): %s", nid,
			 why);
		free(img->metabox);
		img->metabox = NULL;
		return open_fail(img, ret, msg);
	}
	img->mbox_size = img->metabox->i.size;
	img->read_metabox = read_metabox;
	return 0;
}

static int verify_checksum(struct erofs_image *img)
{
	size_t len = erofs_sb_csum_len(img->blkszbits);
	u8 *region;
	u32 crc;
	int ret;

	if (!erofs_image_contains(img, EROFS_SUPER_OFFSET, len))
		return open_fail(img, -EFSCORRUPTED,
				 "image too short for its superblock checksum");
	region = malloc(len);
	if (!region)
		return -ENOMEM;
	ret = erofs_image_pread(img, region, len, EROFS_SUPER_OFFSET);
	if (ret) {
		free(region);
		return open_fail(img, ret, "cannot read the superblock");
	}
	crc = erofs_sb_checksum(region, len);
	free(region);
	if (crc != img->sb.checksum) {
		char msg[96];

		snprintf(msg, sizeof(msg),
			 "superblock checksum mismatch: stored 0x%08x, computed 0x%08x",
			 img->sb.checksum, crc);
		return open_fail(img, -EFSCORRUPTED, msg);
	}
	img->sb_csum_verified = true;
	return 0;
}

/*
 * The table is read from the image, the metabox or, in older layouts, the
 * packed inode.
 */
static int prefix_bytes(struct erofs_image *img, struct erofs_rinode *packed,
			void *buf, size_t len, u64 pos, const char **why)
{
	if (!packed) {
		int ret = erofs_image_read(img, buf, len, pos);

		if (ret == -EFSCORRUPTED)
			*why = pos & EROFS_MBOX_ADDR ?
				       "long xattr prefix table runs past the end of the metabox" :
				       "long xattr prefix table runs past the end of the image";
		else if (ret)
			*why = "cannot read the long xattr prefix table";
		return ret;
	}
	if (pos > packed->i.size || len > packed->i.size - pos) {
		*why = "long xattr prefix table runs past the end of the packed inode";
		return -EFSCORRUPTED;
	}
	return erofs_read_data(img, packed, buf, len, pos, why);
}

static int load_prefixes(struct erofs_image *img)
{
	const struct erofs_sb_info *sb = &img->sb;
	struct erofs_rinode packed_inode, *packed = NULL;
	/* without PLAIN_XATTR_PFX the table may lie in an inode's data */
	bool in_inode = !(sb->feature_compat &
			  EROFS_FEATURE_COMPAT_PLAIN_XATTR_PFX);
	const char *why = "";
	u64 pos = (u64)sb->xattr_prefix_start * EROFS_XATTR_UNIT;
	char msg[160];
	int ret;

	if ((sb->feature_compat & EROFS_FEATURE_COMPAT_ISHARE_XATTRS) &&
	    sb->ishare_xattr_prefix_id >= sb->xattr_prefix_count) {
		snprintf(msg, sizeof(msg),
			 "fingerprint xattr prefix id %u is not in the table of %u prefixes",
			 sb->ishare_xattr_prefix_id, sb->xattr_prefix_count);
		return open_fail(img, -EFSCORRUPTED, msg);
	}
	if (!sb->xattr_prefix_count)
		return 0;
	/* as the kernel looks: the metabox, the packed inode, plain */
	if (in_inode && img->metabox) {
		pos |= EROFS_MBOX_ADDR;
	} else if (in_inode &&
		   (sb->feature_incompat & EROFS_FEATURE_INCOMPAT_FRAGMENTS) &&
		   sb->packed_nid) {
		ret = erofs_read_inode(img, sb->packed_nid, &packed_inode, &why);
		if (!ret && !erofs_data_readable(&packed_inode)) {
			ret = -EOPNOTSUPP;
			why = "a data layout this reader does not know";
		}
		if (ret) {
			snprintf(msg, sizeof(msg),
				 "packed inode (nid %llu) holding the xattr prefixes: %s",
				 (unsigned long long)sb->packed_nid, why);
			return open_fail(img, ret, msg);
		}
		packed = &packed_inode;
	}
	img->prefixes = calloc(sb->xattr_prefix_count, sizeof(*img->prefixes));
	if (!img->prefixes)
		return -ENOMEM;
	for (unsigned int i = 0; i < sb->xattr_prefix_count; i++) {
		struct erofs_image_prefix *p = &img->prefixes[i];
		u8 rec[256];
		__le16 lenle;
		u16 len;

		pos = round_up(pos, 4);
		ret = prefix_bytes(img, packed, &lenle, 2, pos, &why);
		if (!ret) {
			len = le16_to_cpu(lenle);
			if (!len || len > 256) {
				ret = -EFSCORRUPTED;
				why = "long xattr prefix has an invalid length";
			}
		}
		if (!ret)
			ret = prefix_bytes(img, packed, rec, len, pos + 2, &why);
		if (!ret && memchr(rec + 1, '\0', len - 1)) {
			ret = -EFSCORRUPTED;
			why = "long xattr prefix contains a NUL byte";
		}
		if (ret) {
			snprintf(msg, sizeof(msg), "long xattr prefix %u: %s", i,
				 why);
			return open_fail(img, ret, msg);
		}
		p->base_index = rec[0];
		p->infix_len = len - 1;
		memcpy(p->infix, rec + 1, len - 1);
		p->infix[len - 1] = '\0';
		pos += 2 + len;
	}
	img->nr_prefixes = sb->xattr_prefix_count;

	if (sb->feature_compat & EROFS_FEATURE_COMPAT_ISHARE_XATTRS) {
		const struct erofs_image_prefix *p;
		const char *base;

		p = &img->prefixes[sb->ishare_xattr_prefix_id];
		base = erofs_xattr_prefix_string(p->base_index);
		if (!base)
			base = "";
		if (asprintf(&img->ishare_name, "%s%s", base, p->infix) < 0) {
			img->ishare_name = NULL;
			return -ENOMEM;
		}
	}
	return 0;
}

int erofs_image_open(struct erofs_image *img, const char *path,
		     const struct erofs_image_opts *opts)
{
	struct erofs_super_block raw = { 0 };
	u8 buf[EROFS_SUPER_MAX_SIZE] = { 0 };
	const char *why = NULL;
	struct stat st;
	size_t avail;
	int ret;

	static u64 last_id;

	memset(img, 0, sizeof(*img));
	img->id = __atomic_add_fetch(&last_id, 1, __ATOMIC_RELAXED);
	img->fd = -1;
	img->path = strdup(path);
	if (!img->path)
		return -ENOMEM;
	img->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (img->fd < 0) {
		ret = -errno;
		erofs_fail(ret, "%s: %s", path, strerror(errno));
		goto err;
	}
	if (fstat(img->fd, &st)) {
		ret = -errno;
		erofs_fail(ret, "%s: %s", path, strerror(errno));
		goto err;
	}
	if (S_ISBLK(st.st_mode)) {
		off_t end = lseek(img->fd, 0, SEEK_END);

		img->size = end < 0 ? 0 : (u64)end;
	} else if (S_ISREG(st.st_mode)) {
		img->size = st.st_size;
	} else {
		ret = erofs_fail(-EINVAL, "%s: not a regular file or block device",
				 path);
		goto err;
	}
	img->offset = opts ? opts->offset : 0;
	if (img->offset > img->size) {
		ret = erofs_fail(-EINVAL, "%s: offset %llu is past the end (%llu bytes)",
				 path, (unsigned long long)img->offset,
				 (unsigned long long)img->size);
		goto err;
	}
	img->size -= img->offset;

	if (img->size <= EROFS_SUPER_OFFSET) {
		ret = open_fail(img, -EFSCORRUPTED,
				"too small to hold a superblock");
		goto err;
	}
	avail = min_t(u64, sizeof(buf), img->size - EROFS_SUPER_OFFSET);
	ret = erofs_image_pread(img, buf, avail, EROFS_SUPER_OFFSET);
	if (ret) {
		open_fail(img, ret, "cannot read the superblock");
		goto err;
	}
	ret = erofs_sb_decode(buf, avail, &img->sb, &why);
	if (ret) {
		char msg[128];

		snprintf(msg, sizeof(msg), "superblock: %s", why);
		open_fail(img, ret, msg);
		goto err;
	}
	memcpy(&raw, buf, min(avail, sizeof(raw)));
	img->xattr_filter_reserved = raw.xattr_filter_reserved;
	img->blkszbits = img->sb.blkszbits;
	img->blksz = img->sb.blksz;

	if (!(opts && opts->no_sbcrc) &&
	    (img->sb.feature_compat & EROFS_FEATURE_COMPAT_SB_CHKSUM)) {
		ret = verify_checksum(img);
		if (ret)
			goto err;
	}
	ret = check_features(img);
	if (ret)
		goto err;
	ret = erofs_check_compr_cfgs(img, &why);
	if (ret) {
		open_fail(img, ret, why);
		goto err;
	}
	ret = erofs_devices_open(img, opts ? opts->devices : NULL,
				 opts ? opts->nr_devices : 0);
	if (ret)
		goto err;
	ret = erofs_image_cache_create(img);
	if (ret)
		goto err;
	ret = open_metabox(img);
	if (ret)
		goto err;
	ret = load_prefixes(img);
	if (ret)
		goto err;
	return 0;
err:
	erofs_image_close(img);
	return ret;
}

void erofs_image_close(struct erofs_image *img)
{
	erofs_devices_close(img);
	if (img->fd >= 0)
		close(img->fd);
	img->fd = -1;
	erofs_image_cache_destroy(img);
	free(img->prefixes);
	img->prefixes = NULL;
	free(img->metabox);
	img->metabox = NULL;
	img->mbox_size = 0;
	free(img->ishare_name);
	img->ishare_name = NULL;
	free(img->path);
	img->path = NULL;
}
