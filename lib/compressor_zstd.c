// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * zstd into fixed-size clusters. libzstd cannot stop when its output is
 * full, so the largest input prefix whose frame fits is searched for: the
 * first guess comes from the ratio seen so far, later ones interpolate
 * between the best fit and the smallest overflow.
 */
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "erofs/compress.h"
#include "erofs/format.h"

struct zstd_priv {
	ZSTD_CCtx *cctx;
	u8 *buf; /* a frame that may not fit */
	u32 bufsize;
	u32 ratio_x16; /* input/output ratio of the last cluster, x16 */
};

static int zstd_init(struct erofs_compressor *c)
{
	struct zstd_priv *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->cctx = ZSTD_createCCtx();
	if (!p->cctx) {
		free(p);
		return -ENOMEM;
	}
	if (ZSTD_isError(ZSTD_CCtx_setParameter(p->cctx,
						ZSTD_c_compressionLevel,
						c->level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(p->cctx, ZSTD_c_windowLog,
						31 - __builtin_clz(
							     c->dictsize)))) {
		ZSTD_freeCCtx(p->cctx);
		free(p);
		return -EINVAL;
	}
	p->ratio_x16 = 4 * 16;
	c->priv = p;
	return 0;
}

static void zstd_exit(struct erofs_compressor *c)
{
	struct zstd_priv *p = c->priv;

	ZSTD_freeCCtx(p->cctx);
	free(p->buf);
	free(p);
}

/* Compress "len" bytes into the scratch buffer; 0 when it overflows. */
static size_t try_len(struct zstd_priv *p, const void *src, u32 len,
		      u32 dstcap, int *err)
{
	size_t n = ZSTD_compress2(p->cctx, p->buf, dstcap, src, len);

	if (!ZSTD_isError(n))
		return n;
	if (ZSTD_getErrorCode(n) != ZSTD_error_dstSize_tooSmall)
		*err = -EIO;
	return 0;
}

static int zstd_destsize(struct erofs_compressor *c, const void *src,
			 u32 *srclen, void *dst, u32 dstcap)
{
	struct zstd_priv *p = c->priv;
	u32 lo = 0, hi = *srclen + 1, best = 0; /* fits: lo; overflows: hi */
	u64 guess;
	int err = 0;

	if (p->bufsize < dstcap) {
		u8 *nb = realloc(p->buf, dstcap);

		if (!nb)
			return -ENOMEM;
		p->buf = nb;
		p->bufsize = dstcap;
	}
	guess = (u64)dstcap * p->ratio_x16 / 16;
	for (;;) {
		size_t n;
		u32 m = min_t(u64, max_t(u64, guess, lo + 1), hi - 1);

		n = try_len(p, src, m, dstcap, &err);
		if (err)
			return err;
		if (n) {
			lo = m;
			best = n;
			memcpy(dst, p->buf, n);
			/* a frame this full cannot take a useful byte more */
			if (hi <= lo + 1 || n + 1 >= dstcap)
				break;
			guess = (u64)m * dstcap / n;
			if (guess >= hi)
				guess = lo + (hi - lo) / 2;
		} else {
			hi = m;
			if (hi <= lo + 1)
				break;
			guess = lo + (hi - lo) / 2;
		}
	}
	if (!lo)
		return -ENOSPC;
	p->ratio_x16 = max_t(u64, (u64)lo * 16 / best, 16);
	*srclen = lo;
	return best;
}

const struct erofs_compressor_ops erofs_zstd_ops = {
	.name = "zstd",
	.disk_alg = Z_EROFS_COMPRESSION_ZSTD,
	.default_level = ZSTD_CLEVEL_DEFAULT,
	.max_level = 22,
	.init = zstd_init,
	.exit = zstd_exit,
	.compress_destsize = zstd_destsize,
};
