// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Cluster decoders for the reader (lz4, MicroLZMA, zstd, raw deflate).
 * Every decoder must produce exactly the bytes the extent claims: a stream
 * that ends early, runs long or fails to decode is reported as damage,
 * never padded or truncated silently.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_LZ4
#include <lz4.h>
#endif
#ifdef HAVE_LZMA
#include <lzma.h>
#endif
#ifdef HAVE_ZSTD
#include <zstd.h>
#endif
#ifdef HAVE_ZLIB
#include <zlib.h>
#endif
#ifdef HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif

#include "erofs/decompress.h"
#include "erofs/format.h"

bool erofs_decompress_available(unsigned int alg)
{
	switch (alg) {
#ifdef HAVE_LZ4
	case Z_EROFS_COMPRESSION_LZ4:
		return true;
#endif
#ifdef HAVE_LZMA
	case Z_EROFS_COMPRESSION_LZMA:
		return true;
#endif
#ifdef HAVE_ZSTD
	case Z_EROFS_COMPRESSION_ZSTD:
		return true;
#endif
#ifdef HAVE_ZLIB
	case Z_EROFS_COMPRESSION_DEFLATE:
		return true;
#endif
	default:
		return false;
	}
}

#ifdef HAVE_LZ4
static int decode_lz4(const u8 *in, u32 inlen, u8 *out, u32 outlen,
		      bool partial, const char **why)
{
	int n;

	if (inlen > INT32_MAX || outlen > INT32_MAX)
		return -EFSCORRUPTED;
	if (partial)
		n = LZ4_decompress_safe_partial((const char *)in, (char *)out,
						inlen, outlen, outlen);
	else
		n = LZ4_decompress_safe((const char *)in, (char *)out, inlen,
					outlen);
	if (n == (int)outlen)
		return 0;
	*why = n < 0 ? "corrupted lz4 data" : "lz4 data ends early";
	return -EFSCORRUPTED;
}
#endif

#ifdef HAVE_LZMA
static int decode_lzma(const u8 *in, u32 inlen, u8 *out, u32 outlen,
		       bool partial, const char **why)
{
	lzma_stream s = LZMA_STREAM_INIT;
	/* matches reach back at most over the output itself */
	u32 dict = max_t(u32, outlen, Z_EROFS_LZMA_MIN_DICT_SIZE);
	lzma_ret r;

	if (lzma_microlzma_decoder(&s, inlen, outlen, !partial, dict) !=
	    LZMA_OK) {
		*why = "cannot set up the lzma decoder";
		return -ENOMEM;
	}
	s.next_in = in;
	s.avail_in = inlen;
	s.next_out = out;
	s.avail_out = outlen;
	r = lzma_code(&s, LZMA_FINISH);
	lzma_end(&s);
	if ((r == LZMA_STREAM_END || r == LZMA_OK) && s.total_out == outlen)
		return 0;
	*why = r == LZMA_STREAM_END || r == LZMA_OK || r == LZMA_BUF_ERROR ?
		       "lzma data ends early" :
		       "corrupted lzma data";
	return -EFSCORRUPTED;
}
#endif

#ifdef HAVE_ZSTD
static pthread_key_t dctx_key;
static pthread_once_t dctx_once = PTHREAD_ONCE_INIT;

/* A thread that ends (fsck's data workers) frees its context. */
static void dctx_release(void *dctx)
{
	ZSTD_freeDCtx(dctx);
}

static void dctx_key_create(void)
{
	pthread_key_create(&dctx_key, dctx_release);
}

static int decode_zstd(const u8 *in, u32 inlen, u8 *out, u32 outlen,
		       bool partial, const char **why)
{
	/* one context per thread, kept: creating one per cluster is costly */
	static __thread ZSTD_DCtx *dctx;
	ZSTD_inBuffer ib = { in, inlen, 0 };
	ZSTD_outBuffer ob = { out, outlen, 0 };
	size_t r;

	if (!dctx) {
		dctx = ZSTD_createDCtx();
		if (!dctx) {
			*why = "cannot set up the zstd decoder";
			return -ENOMEM;
		}
		pthread_once(&dctx_once, dctx_key_create);
		pthread_setspecific(dctx_key, dctx);
		/* a hostile window size must not allocate gigabytes */
		ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, 24);
	}
	ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only);
	do {
		r = ZSTD_decompressStream(dctx, &ob, &ib);
		if (ZSTD_isError(r)) {
			*why = "corrupted zstd data";
			return -EFSCORRUPTED;
		}
	} while (r && ob.pos < ob.size && ib.pos < ib.size);
	if (ob.pos != outlen) {
		*why = "zstd data ends early";
		return -EFSCORRUPTED;
	}
	if (!partial && r) {
		/* the frame goes on past the extent */
		u8 extra;
		ZSTD_outBuffer more = { &extra, 1, 0 };

		r = ZSTD_decompressStream(dctx, &more, &ib);
		if (ZSTD_isError(r) || more.pos || r) {
			*why = "zstd data holds more than the extent";
			return -EFSCORRUPTED;
		}
	}
	return 0;
}
#endif

#ifdef HAVE_ZLIB
static pthread_key_t inflate_key;
static pthread_once_t inflate_once = PTHREAD_ONCE_INIT;

/* Per-thread decoder state, reset for every cluster. */
struct inflater {
	z_stream zs;
#ifdef HAVE_LIBDEFLATE
	struct libdeflate_decompressor *ld;
#endif
};

static void inflater_release(void *arg)
{
	struct inflater *f = arg;

	inflateEnd(&f->zs);
#ifdef HAVE_LIBDEFLATE
	libdeflate_free_decompressor(f->ld);
#endif
	free(f);
}

static void inflate_key_create(void)
{
	pthread_key_create(&inflate_key, inflater_release);
}

static struct inflater *get_inflater(void)
{
	static __thread struct inflater *tf;
	struct inflater *f = tf;

	if (f)
		return f;
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	/*
	 * The whole 32 KiB window, as the kernel inflates whatever the
	 * image's windowbits say: a stream reaching further back than it
	 * declared is still read the same way by both.
	 */
	if (inflateInit2(&f->zs, -MAX_WBITS) != Z_OK) {
		free(f);
		return NULL;
	}
#ifdef HAVE_LIBDEFLATE
	f->ld = libdeflate_alloc_decompressor();
	if (!f->ld) {
		inflateEnd(&f->zs);
		free(f);
		return NULL;
	}
#endif
	pthread_once(&inflate_once, inflate_key_create);
	pthread_setspecific(inflate_key, f);
	tf = f;
	return f;
}

#ifdef HAVE_LIBDEFLATE
/* A whole extent: libdeflate is about twice as fast as zlib here. */
static int decode_whole_libdeflate(struct inflater *f, const u8 *in, u32 inlen,
				   u8 *out, u32 outlen, const char **why)
{
	size_t got_in, got_out;

	switch (libdeflate_deflate_decompress_ex(f->ld, in, inlen, out, outlen,
						 &got_in, &got_out)) {
	case LIBDEFLATE_SUCCESS:
		if (got_out == outlen)
			return 0;
		*why = "deflate data ends early";
		break;
	case LIBDEFLATE_INSUFFICIENT_SPACE:
		*why = "deflate data holds more than the extent";
		break;
	default:
		*why = "corrupted deflate data";
		break;
	}
	return -EFSCORRUPTED;
}
#endif

static int decode_deflate(const u8 *in, u32 inlen, u8 *out, u32 outlen,
			  bool partial, const char **why)
{
	struct inflater *f = get_inflater();
	z_stream *zs;
	int r;

	if (!f) {
		*why = "cannot set up the deflate decoder";
		return -ENOMEM;
	}
#ifdef HAVE_LIBDEFLATE
	/* libdeflate cannot stop early: a prefix is zlib's */
	if (!partial)
		return decode_whole_libdeflate(f, in, inlen, out, outlen, why);
#endif
	zs = &f->zs;
	if (inflateReset(zs) != Z_OK) {
		*why = "cannot set up the deflate decoder";
		return -ENOMEM;
	}
	zs->next_in = (Bytef *)in;
	zs->avail_in = inlen;
	zs->next_out = out;
	zs->avail_out = outlen;
	/* zlib never writes past avail_out, whatever the stream says */
	r = inflate(zs, Z_FINISH);
	if (r == Z_STREAM_END) {
		if (zs->total_out == outlen)
			return 0;
		*why = "deflate data ends early";
		return -EFSCORRUPTED;
	}
	if (r != Z_OK && r != Z_BUF_ERROR) {
		*why = "corrupted deflate data";
		return -EFSCORRUPTED;
	}
	if (zs->total_out < outlen) {
		*why = "deflate data ends early";
		return -EFSCORRUPTED;
	}
	/*
	 * The output is full and the stream goes on. Fine when only a prefix
	 * is wanted; otherwise the stream holds more than the extent (an end
	 * right after the last byte would have been seen by now).
	 */
	if (partial)
		return 0;
	*why = "deflate data holds more than the extent";
	return -EFSCORRUPTED;
}
#endif

int erofs_decompress(unsigned int alg, const u8 *in, u32 inlen, u8 *out,
		     u32 outlen, bool zero_padding, bool partial, u32 blksz,
		     const char **why)
{
	if (zero_padding) {
		u32 scan = min(inlen, blksz), skip = 0;

		while (skip < scan && !in[skip])
			skip++;
		if (skip == scan) {
			*why = "compressed data start not found";
			return -EFSCORRUPTED;
		}
		in += skip;
		inlen -= skip;
	}
	switch (alg) {
#ifdef HAVE_LZ4
	case Z_EROFS_COMPRESSION_LZ4:
		/* without zero padding the stream may be followed by junk */
		return decode_lz4(in, inlen, out, outlen,
				  partial || !zero_padding, why);
#endif
#ifdef HAVE_LZMA
	case Z_EROFS_COMPRESSION_LZMA:
		return decode_lzma(in, inlen, out, outlen, partial, why);
#endif
#ifdef HAVE_ZSTD
	case Z_EROFS_COMPRESSION_ZSTD:
		return decode_zstd(in, inlen, out, outlen, partial, why);
#endif
#ifdef HAVE_ZLIB
	case Z_EROFS_COMPRESSION_DEFLATE:
		return decode_deflate(in, inlen, out, outlen, partial, why);
#endif
	default:
		*why = "compression algorithm not supported by this build";
		return -EOPNOTSUPP;
	}
}
