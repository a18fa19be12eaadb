// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lzma as the kernel reads it: MicroLZMA, liblzma's raw LZMA1 stream that
 * stops when the destination is full and reports how much input it took.
 */
#include <stdlib.h>
#include <lzma.h>

#include "erofs/compress.h"
#include "erofs/format.h"

struct lzma_priv {
	lzma_options_lzma opt;
	lzma_stream strm;
};

static int lzma_init(struct erofs_compressor *c)
{
	struct lzma_priv *p = calloc(1, sizeof(*p));
	u32 preset = c->level;

	if (!p)
		return -ENOMEM;
	/* levels 100..109 are the presets 0..9 in their extreme variant */
	if (preset >= 100)
		preset = (preset - 100) | LZMA_PRESET_EXTREME;
	if (lzma_lzma_preset(&p->opt, preset)) {
		free(p);
		return -EINVAL;
	}
	p->opt.dict_size = c->dictsize;
	p->strm = (lzma_stream)LZMA_STREAM_INIT;
	c->priv = p;
	return 0;
}

static void lzma_exit(struct erofs_compressor *c)
{
	struct lzma_priv *p = c->priv;

	lzma_end(&p->strm);
	free(p);
}

static int lzma_destsize(struct erofs_compressor *c, const void *src,
			 u32 *srclen, void *dst, u32 dstcap)
{
	struct lzma_priv *p = c->priv;
	lzma_stream *s = &p->strm;

	if (lzma_microlzma_encoder(s, &p->opt) != LZMA_OK)
		return -ENOMEM;
	s->next_in = src;
	s->avail_in = *srclen;
	s->next_out = dst;
	s->avail_out = dstcap;
	if (lzma_code(s, LZMA_FINISH) != LZMA_STREAM_END)
		return -EIO;
	*srclen = s->total_in;
	return s->total_out;
}

const struct erofs_compressor_ops erofs_lzma_ops = {
	.name = "lzma",
	.disk_alg = Z_EROFS_COMPRESSION_LZMA,
	.default_level = LZMA_PRESET_DEFAULT,
	.max_level = 109,
	.init = lzma_init,
	.exit = lzma_exit,
	.compress_destsize = lzma_destsize,
	.probe = EROFS_ZPROBE_ENTROPY,
};
