// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * deflate into fixed-size clusters: raw DEFLATE streams (no zlib or gzip
 * wrapper), as the kernel inflates them. Neither libdeflate nor zlib stops
 * when its output is full and says how much input that took, so the
 * largest input prefix whose stream fits is searched for, as for zstd.
 * libdeflate is the faster of the two and compresses smaller at the same
 * level, but always looks back the whole 32 KiB; a smaller dictsize (the
 * window the image declares) is zlib's job, whose window can be set.
 */
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif
#ifdef HAVE_ZLIB
#include <zlib.h>
#endif

#include "erofs/compress.h"
#include "erofs/format.h"

struct deflate_priv {
#ifdef HAVE_LIBDEFLATE
	struct libdeflate_compressor *ld; /* NULL: zlib compresses */
#endif
#ifdef HAVE_ZLIB
	z_stream zs;
	bool zs_ready;
#endif
	u8 *buf; /* a stream that may not fit */
	u32 bufsize;
	u32 ratio_x16; /* input/output ratio of the last cluster, x16 */
	u32 slack_div; /* a stream within 1/slack_div of the cluster will do */
};

/*
 * -zdeflate's levels are erofs-utils' (its own encoder, kite, whose levels
 * follow zlib's). Each maps to the libdeflate level and search precision
 * that keep images within 1% of the size erofs-utils 1.9.4 makes at that
 * level, in less time; measured on 256 MB of /usr files, kite's level 4
 * compresses worse than its level 3. zlib (a dictsize below 32 KiB) takes
 * the level as it is.
 */
static const struct {
	u8 libdeflate_level;
	u16 slack_div;
} deflate_levels[10] = {
	[1] = { 1, 128 }, [2] = { 2, 128 }, [3] = { 3, 128 },
	[4] = { 3, 128 }, [5] = { 4, 128 }, [6] = { 6, 128 },
	[7] = { 6, 256 }, [8] = { 7, 256 }, [9] = { 7, 512 },
};

/* the first guess of a segment: 3 input bytes per output byte */
#define DEFLATE_FIRST_RATIO_X16 (3 * 16)

static void deflate_exit(struct erofs_compressor *c)
{
	struct deflate_priv *p = c->priv;

	if (!p)
		return;
#ifdef HAVE_LIBDEFLATE
	if (p->ld)
		libdeflate_free_compressor(p->ld);
#endif
#ifdef HAVE_ZLIB
	if (p->zs_ready)
		deflateEnd(&p->zs);
#endif
	free(p->buf);
	free(p);
	c->priv = NULL;
}

static int deflate_init(struct erofs_compressor *c)
{
	struct deflate_priv *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	c->priv = p;
	p->ratio_x16 = DEFLATE_FIRST_RATIO_X16;
	p->slack_div = 128;
	if (c->ops == &erofs_deflate_ops)
		p->slack_div = deflate_levels[c->level].slack_div;
#ifdef HAVE_LIBDEFLATE
	if (c->dictsize == EROFS_DEFLATE_MAX_WINDOW) {
		/* -zlibdeflate: libdeflate's levels as they are */
		int level = c->ops == &erofs_deflate_ops ?
				    deflate_levels[c->level].libdeflate_level :
				    c->level;

		p->ld = libdeflate_alloc_compressor(level);
		if (p->ld)
			return 0;
		deflate_exit(c);
		return -ENOMEM;
	}
#endif
#ifdef HAVE_ZLIB
	/* negative window bits: a raw stream without the zlib wrapper */
	if (deflateInit2(&p->zs, c->level, Z_DEFLATED,
			 -(31 - __builtin_clz(c->dictsize)), 8,
			 Z_DEFAULT_STRATEGY) == Z_OK) {
		p->zs_ready = true;
		return 0;
	}
#endif
	deflate_exit(c);
	return -EINVAL;
}

static void deflate_reset(struct erofs_compressor *c)
{
	struct deflate_priv *p = c->priv;

	p->ratio_x16 = DEFLATE_FIRST_RATIO_X16;
}

/* Stream size of "len" bytes (in p->buf), or bufsize + 1 if larger. */
static size_t try_len(struct deflate_priv *p, const void *src, u32 len,
		      int *err)
{
#ifdef HAVE_LIBDEFLATE
	if (p->ld) {
		size_t n = libdeflate_deflate_compress(p->ld, src, len, p->buf,
						       p->bufsize);

		return n ? n : p->bufsize + 1;
	}
#endif
#ifdef HAVE_ZLIB
	{
		z_stream *zs = &p->zs;
		int r;

		if (deflateReset(zs) != Z_OK) {
			*err = -EIO;
			return 0;
		}
		zs->next_in = (Bytef *)src;
		zs->avail_in = len;
		zs->next_out = p->buf;
		zs->avail_out = p->bufsize;
		/* zlib stops as soon as the buffer is full */
		r = deflate(zs, Z_FINISH);
		if (r == Z_STREAM_END)
			return zs->total_out;
		if (r != Z_OK && r != Z_BUF_ERROR)
			*err = -EIO;
		return p->bufsize + 1;
	}
#endif
	*err = -EINVAL;
	return 0;
}

static int deflate_destsize(struct erofs_compressor *c, const void *src,
			    u32 *srclen, void *dst, u32 dstcap)
{
	struct deflate_priv *p = c->priv;
	/*
	 * Close enough: a stream within 1/slack_div of the cluster. At level
	 * 1, 1/128 against 1/1024 took 22% less time for a 0.36% larger
	 * image; guesses aim at the middle of that range.
	 */
	const u32 slack = dstcap / p->slack_div, target = dstcap - slack / 2;
	/* lo fits in slo bytes; hi overflows to shi bytes */
	u32 lo = 0, hi = *srclen + 1, tries = 0;
	u64 slo = 0, shi = 0, guess;
	int err = 0;

	if (p->bufsize < 2 * dstcap + 64) {
		u8 *nb = realloc(p->buf, 2 * dstcap + 64);

		if (!nb)
			return -ENOMEM;
		p->buf = nb;
		p->bufsize = 2 * dstcap + 64;
	}
	guess = (u64)target * p->ratio_x16 / 16;
	for (;;) {
		u32 m = min_t(u64, max_t(u64, guess, lo + 1), hi - 1);
		size_t n = try_len(p, src, m, &err);

		if (err)
			return err;
		tries++;
		if (n <= dstcap) {
			lo = m;
			slo = n;
			memcpy(dst, p->buf, n);
		} else {
			hi = m;
			shi = n;
		}
		if (hi <= lo + 1)
			break;
		if (lo && slo + slack >= dstcap) {
			/*
			 * Close enough, unless the rest of the input is
			 * little and has not been tried: stopping short of
			 * a file's end would leave its last bytes a block of
			 * their own.
			 */
			if (hi != *srclen + 1 || *srclen - lo > lo / 16)
				break;
			guess = *srclen;
			continue;
		}
		if (!shi) {
			guess = (u64)m * target / n;
			if (guess <= m)
				guess = m + 1;
		} else if (!lo) {
			guess = (u64)hi * target / shi;
		} else {
			guess = lo + (u64)(hi - lo) *
					     (target - min(slo, target)) /
					     (shi - slo);
			/* interpolation creeping up on one side: halve */
			if (tries > 4 && (guess - lo < (hi - lo) / 8 ||
					  hi - guess < (hi - lo) / 8))
				guess = lo + (hi - lo) / 2;
		}
	}
	if (!lo)
		return -ENOSPC;
	/*
	 * A stream opening with a stored block that is not the last starts
	 * with a zero byte, which readers would take for the zero padding
	 * before the data. The rest of that byte is padding every inflater
	 * skips: one set bit there keeps the start visible.
	 */
	if (!((u8 *)dst)[0])
		((u8 *)dst)[0] = 0x08;
	p->ratio_x16 = max_t(u64, (u64)lo * 16 / slo, 16);
	*srclen = lo;
	return slo;
}

const struct erofs_compressor_ops erofs_deflate_ops = {
	.name = "deflate",
	.disk_alg = Z_EROFS_COMPRESSION_DEFLATE,
	.default_level = 1,
	.max_level = 9,
	.init = deflate_init,
	.exit = deflate_exit,
	.compress_destsize = deflate_destsize,
	.reset = deflate_reset,
	.probe = EROFS_ZPROBE_ENTROPY,
};

#ifdef HAVE_LIBDEFLATE
/* libdeflate's own levels, 0 (stored blocks) to 12 (optimal parsing). */
const struct erofs_compressor_ops erofs_libdeflate_ops = {
	.name = "libdeflate",
	.disk_alg = Z_EROFS_COMPRESSION_DEFLATE,
	.default_level = 1,
	.max_level = 12,
	.init = deflate_init,
	.exit = deflate_exit,
	.compress_destsize = deflate_destsize,
	.reset = deflate_reset,
	.probe = EROFS_ZPROBE_ENTROPY,
};
#endif
