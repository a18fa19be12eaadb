// SPDX-License-Identifier: GPL-2.0-or-later
/* lz4 and lz4hc through liblz4's fill-the-destination entry points. */
#include <stdlib.h>
#include <lz4.h>
#include <lz4hc.h>

#include "erofs/compress.h"
#include "erofs/format.h"

static int lz4_destsize(struct erofs_compressor *c, const void *src,
			u32 *srclen, void *dst, u32 dstcap)
{
	int in = min_t(u32, *srclen, LZ4_MAX_INPUT_SIZE);
	int ret = LZ4_compress_destSize(src, dst, &in, dstcap);

	if (ret <= 0)
		return -EIO;
	*srclen = in;
	return ret;
}

bool erofs_lz4_fits_no_more(const void *src, u32 len, void *dst, u32 dstcap)
{
	int in = min_t(u32, len, LZ4_MAX_INPUT_SIZE);

	return LZ4_compress_destSize(src, dst, &in, dstcap) > 0 &&
	       (u32)in <= dstcap;
}

const struct erofs_compressor_ops erofs_lz4_ops = {
	.name = "lz4",
	.disk_alg = Z_EROFS_COMPRESSION_LZ4,
	.default_level = 0,
	.max_level = 0,
	.compress_destsize = lz4_destsize,
};

static int lz4hc_init(struct erofs_compressor *c)
{
	c->priv = LZ4_createStreamHC();
	return c->priv ? 0 : -ENOMEM;
}

static void lz4hc_exit(struct erofs_compressor *c)
{
	LZ4_freeStreamHC(c->priv);
}

static int lz4hc_destsize(struct erofs_compressor *c, const void *src,
			  u32 *srclen, void *dst, u32 dstcap)
{
	int in = min_t(u32, *srclen, LZ4_MAX_INPUT_SIZE);
	int ret;

	/*
	 * Each cluster is compressed on its own. A fast reset leaves the old
	 * tables in place, out of the new block's reach, where a full one
	 * (what LZ4_compress_HC_destSize does) would clear 256 KiB per call.
	 */
	LZ4_resetStreamHC_fast(c->priv, c->level);
	ret = LZ4_compress_HC_continue_destSize(c->priv, src, dst, &in, dstcap);

	if (ret <= 0)
		return -EIO;
	*srclen = in;
	return ret;
}

const struct erofs_compressor_ops erofs_lz4hc_ops = {
	.name = "lz4hc",
	.disk_alg = Z_EROFS_COMPRESSION_LZ4,
	.default_level = LZ4HC_CLEVEL_DEFAULT,
	.max_level = LZ4HC_CLEVEL_MAX,
	.init = lz4hc_init,
	.exit = lz4hc_exit,
	.compress_destsize = lz4hc_destsize,
	.probe = EROFS_ZPROBE_MATCHES,
};
