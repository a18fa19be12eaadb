// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The compression configuration records after the superblock, checked as
 * the kernel checks them at mount: an image whose records it refuses does
 * not mount at all, so a reader that skips them would pass an image no
 * kernel reads.
 */
#include <errno.h>
#include <string.h>

#include "erofs/format.h"
#include "erofs/image.h"
#include "erofs/zcfgs.h"

/*
 * One record: a __le16 length (0 meaning 65536) at a 4-byte aligned
 * offset, then that many bytes. Only the head of each record is looked at.
 */
static int read_record(const struct erofs_image *img, u64 *pos, u8 *head,
		       size_t headsz, u32 *len, const char **why)
{
	__le16 raw;
	int ret;

	*pos = round_up(*pos, 4);
	ret = erofs_image_pread(img, &raw, sizeof(raw), *pos);
	if (ret) {
		*why = "a compression configuration record lies past the end of the image";
		return ret;
	}
	*len = le16_to_cpu(raw) ? le16_to_cpu(raw) : 65536;
	*pos += sizeof(raw);
	if (*pos + *len > img->size) {
		*why = "a compression configuration record runs past the end of the image";
		return -EFSCORRUPTED;
	}
	memset(head, 0, headsz);
	ret = erofs_image_pread(img, head, min_t(u64, headsz, *len), *pos);
	if (ret) {
		*why = "cannot read a compression configuration record";
		return ret;
	}
	*pos += *len;
	return 0;
}

static int check_lz4(const struct erofs_image *img, const u8 *rec, u32 len,
		     const char **why)
{
	const struct z_erofs_lz4_cfgs *c = (const void *)rec;

	if (len < sizeof(*c)) {
		*why = "lz4 configuration record too short";
		return -EFSCORRUPTED;
	}
	if (le16_to_cpu(c->max_pclusterblks) >
	    (Z_EROFS_PCLUSTER_MAX_SIZE >> img->blkszbits)) {
		*why = "lz4 physical clusters larger than the kernel decodes";
		return -EFSCORRUPTED;
	}
	return 0;
}

static int check_lzma(const u8 *rec, u32 len, const char **why)
{
	const struct z_erofs_lzma_cfgs *c = (const void *)rec;

	if (len < sizeof(*c)) {
		*why = "lzma configuration record too short";
		return -EFSCORRUPTED;
	}
	if (le16_to_cpu(c->format)) {
		*why = "unknown lzma stream format";
		return -EOPNOTSUPP;
	}
	if (le32_to_cpu(c->dict_size) > Z_EROFS_LZMA_MAX_DICT_SIZE) {
		*why = "lzma dictionary larger than the kernel decodes";
		return -EOPNOTSUPP;
	}
	return 0;
}

static int check_deflate(const u8 *rec, u32 len, const char **why)
{
	const struct z_erofs_deflate_cfgs *c = (const void *)rec;

	if (len < sizeof(*c)) {
		*why = "deflate configuration record too short";
		return -EFSCORRUPTED;
	}
	if (c->windowbits > Z_EROFS_DEFLATE_MAX_WINDOWBITS) {
		*why = "deflate window larger than the kernel inflates (windowbits > 15)";
		return -EOPNOTSUPP;
	}
	return 0;
}

static int check_zstd(const u8 *rec, u32 len, const char **why)
{
	const struct z_erofs_zstd_cfgs *c = (const void *)rec;

	if (len < sizeof(*c) || c->format) {
		*why = "unknown zstd configuration";
		return -EOPNOTSUPP;
	}
	/* the window log is stored minus 10 */
	if (c->windowlog + 10 >= 32 ||
	    (1U << (c->windowlog + 10)) > Z_EROFS_ZSTD_MAX_DICT_SIZE) {
		*why = "zstd window larger than the kernel decodes";
		return -EOPNOTSUPP;
	}
	return 0;
}

int erofs_check_compr_cfgs(const struct erofs_image *img, const char **why)
{
	const struct erofs_sb_info *sb = &img->sb;
	u64 pos = EROFS_SUPER_OFFSET + EROFS_SUPER_BASE_SIZE +
		  sb->sb_extslots * EROFS_SB_EXTSLOT_SIZE;
	u8 rec[16];
	int ret = 0;

	if (!(sb->feature_incompat & EROFS_FEATURE_INCOMPAT_COMPR_CFGS))
		return 0;
	if (sb->available_compr_algs & ~Z_EROFS_ALL_COMPR_ALGS) {
		*why = "unknown compression algorithms";
		return -EOPNOTSUPP;
	}
	for (unsigned int alg = 0; alg < Z_EROFS_COMPRESSION_MAX && !ret;
	     alg++) {
		u32 len;

		if (!(sb->available_compr_algs & (1U << alg)))
			continue;
		ret = read_record(img, &pos, rec, sizeof(rec), &len, why);
		if (ret)
			break;
		switch (alg) {
		case Z_EROFS_COMPRESSION_LZ4:
			ret = check_lz4(img, rec, len, why);
			break;
		case Z_EROFS_COMPRESSION_LZMA:
			ret = check_lzma(rec, len, why);
			break;
		case Z_EROFS_COMPRESSION_DEFLATE:
			ret = check_deflate(rec, len, why);
			break;
		case Z_EROFS_COMPRESSION_ZSTD:
			ret = check_zstd(rec, len, why);
			break;
		}
	}
	return ret;
}
