// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The compression engine: cut a file's bytes into extents, each stored in
 * a physical cluster of whole blocks that the compressor fills as far as
 * it can (fixed-size output). Extents that would not save a block are
 * stored uncompressed, one block each. Compressed data sits at the end of
 * its cluster after zero padding, where the kernel looks for it.
 */
#include <stdlib.h>
#include <string.h>

#include "erofs/array.h"
#include "erofs/compress.h"
#include "erofs/error.h"
#include "erofs/format.h"

/* The longest input one extent may take (the kernel allows 12 MiB). */
#define ZEXTENT_MAX_INPUT (8U << 20)

int erofs_zwork_init(struct erofs_zwork *w, const struct erofs_zimage *zi)
{
	memset(w, 0, sizeof(*w));
	w->zi = zi;
	w->cs = calloc(zi->opts->nalgs, sizeof(*w->cs));
	w->dst = malloc(Z_EROFS_PCLUSTER_MAX_SIZE);
	w->dst2 = malloc(Z_EROFS_PCLUSTER_MAX_SIZE);
	if (!w->cs || !w->dst || !w->dst2) {
		erofs_zwork_exit(w);
		return -ENOMEM;
	}
	return 0;
}

void erofs_zwork_exit(struct erofs_zwork *w)
{
	for (unsigned int i = 0; w->cs && i < w->zi->opts->nalgs; i++)
		erofs_compressor_exit(&w->cs[i]);
	free(w->cs);
	free(w->dst);
	free(w->dst2);
	w->cs = NULL;
	w->dst = w->dst2 = NULL;
}

static int get_compressor(struct erofs_zwork *w, u8 alg,
			  struct erofs_compressor **out)
{
	struct erofs_compressor *c = &w->cs[alg];

	if (!c->ops) {
		int ret = erofs_compressor_init(c, &w->zi->opts->algs[alg],
						w->zi->dictsize[alg]);

		if (ret) {
			c->ops = NULL;
			return erofs_fail(ret, "cannot set up the %s compressor",
					  erofs_compressor_name(
						  w->zi->opts->algs[alg].kind));
		}
	}
	*out = c;
	return 0;
}

void erofs_zsegment_free(struct erofs_zsegment *seg)
{
	free(seg->ext);
	free(seg->data);
	memset(seg, 0, sizeof(*seg));
}

/* Room for one more extent and "bytes" more stored bytes. */
static int seg_reserve(struct erofs_zsegment *seg, u64 bytes)
{
	int ret = erofs_grow_array(&seg->ext, &seg->cap, seg->next + 1,
				   sizeof(*seg->ext));

	if (ret)
		return ret;
	return erofs_grow_array(&seg->data, &seg->data_cap, seg->size + bytes,
				1);
}

static int add_extent(struct erofs_zsegment *seg, u64 lstart, u32 llen,
		      const void *stored, u32 slen, u32 plen, bool raw,
		      bool inlined, bool fragment)
{
	struct erofs_zextent *e;
	int ret = seg_reserve(seg, plen);

	if (ret)
		return ret;
	e = &seg->ext[seg->next++];
	*e = (struct erofs_zextent){
		.lstart = lstart,
		.llen = llen,
		.plen = plen,
		.poff = seg->size,
		.raw = raw,
		.inlined = inlined,
		.fragment = fragment,
	};
	/* raw data starts the cluster; compressed data ends it */
	if (raw) {
		memcpy(seg->data + seg->size, stored, slen);
		memset(seg->data + seg->size + slen, 0, plen - slen);
	} else {
		memset(seg->data + seg->size, 0, plen - slen);
		memcpy(seg->data + seg->size + plen - slen, stored, slen);
	}
	seg->size += plen;
	return 0;
}

/* Store "len" bytes uncompressed, a block per extent. */
static int add_raw(struct erofs_zsegment *seg, const u8 *src, u64 lstart,
		   u32 len, u32 blksz)
{
	while (len) {
		u32 n = min(len, blksz);
		int ret = add_extent(seg, lstart, n, src, n, blksz, true,
				     false, false);

		if (ret)
			return ret;
		src += n;
		lstart += n;
		len -= n;
	}
	return 0;
}

int erofs_zsegment_fragment(const u8 *src, u32 len, u64 lstart,
			    struct erofs_zsegment *seg)
{
	return add_extent(seg, lstart, len, src, len, len, false, false, true);
}

/*
 * Incompressible data (compressed archives, images) costs lz4hc and lzma
 * more time than text: a 30 MB random file took 7.1 s with lz4hc and 3.3 s
 * with lzma, 0.06 s to store uncompressed. After a cluster that saved
 * nothing, the next one is looked at first: if fast lz4 cannot fit more of
 * it than the cluster holds, and (for compressors that code literals by
 * their frequency) its bytes are as evenly spread as random ones, it is
 * stored as it is without the long search. On data that compresses the
 * look never happens, as it only follows a cluster that did not.
 */
#ifdef HAVE_LZ4
static bool bytes_look_random(const u8 *src, u32 n)
{
	u32 count[256] = { 0 };
	u64 sq = 0;

	for (u32 i = 0; i < n; i++)
		count[src[i]]++;
	for (unsigned int i = 0; i < 256; i++)
		sq += (u64)count[i] * count[i];
	/*
	 * 256 * sum(count^2) / n^2 is 1 for a flat histogram; random bytes
	 * reach 1 + 256 / n on average, and 8% more keeps the order-0
	 * entropy this allows above about 7.9 bits per byte.
	 */
	return 25600 * sq <= 108 * (u64)n * n + 25600 * (u64)n;
}

static bool hopeless(const struct erofs_compressor *c, const u8 *src, u32 in,
		     void *scratch, u32 pcl)
{
	/*
	 * Two clusters of input tell as much as the whole rest: on data with
	 * no matches lz4 strides to the end of its input before it writes.
	 */
	if (!c->ops->probe || in <= pcl ||
	    !erofs_lz4_fits_no_more(src, min(in, 2 * pcl), scratch, pcl))
		return false;
	return c->ops->probe == EROFS_ZPROBE_MATCHES ||
	       bytes_look_random(src, pcl);
}
#else
static bool hopeless(const struct erofs_compressor *c, const u8 *src, u32 in,
		     void *scratch, u32 pcl)
{
	return false; /* no fast compressor to look with */
}
#endif

int erofs_zsegment_compress(struct erofs_zwork *w, u8 alg, u32 pclusterblks,
			    const u8 *src, u32 len, u64 lstart, bool final,
			    enum erofs_ztail tail_mode, struct erofs_zsegment *seg)
{
	const struct erofs_zimage *zi = w->zi;
	const u32 blksz = 1U << zi->blkszbits;
	const u32 pcl = pclusterblks << zi->blkszbits;
	u32 maxin = ZEXTENT_MAX_INPUT, pos = 0;
	struct erofs_compressor *c = NULL;
	bool last_raw = false;
	int ret;

	ret = get_compressor(w, alg, &c);
	if (ret)
		return ret;
	/* workers take segments in any order: start each one afresh */
	if (c->ops->reset)
		c->ops->reset(c);
	if (zi->opts->max_extent_bytes)
		maxin = max(min(maxin, zi->opts->max_extent_bytes), blksz);
	while (pos < len) {
		u32 remaining = len - pos, in = min(remaining, maxin);
		bool tail = final && remaining <= pcl;
		bool may_inline = tail && tail_mode == EROFS_ZTAIL_INLINE;
		int csize;
		u32 plen;

		/* a tail for the packed inode is compressed there */
		if (tail && tail_mode == EROFS_ZTAIL_FRAGMENT)
			return erofs_zsegment_fragment(src + pos, remaining,
						       lstart + pos, seg);
		/* a last block alone cannot shrink by a block */
		if (tail && !may_inline && remaining <= blksz)
			return add_raw(seg, src + pos, lstart + pos, remaining,
				       blksz);

		if (last_raw && hopeless(c, src + pos, in, w->dst, pcl))
			csize = -ENOSPC;
		else
			csize = c->ops->compress_destsize(c, src + pos, &in,
							  w->dst, pcl);
		if (csize < 0 && csize != -ENOSPC)
			return erofs_fail(csize, "%s compression failed",
					  c->ops->name);
		if (csize <= 0)
			in = min(remaining, pcl);

		if (may_inline && in == remaining) {
			/* ztailpacking: the whole tail within a block */
			if (csize > 0 && (u32)csize < blksz &&
			    (u32)csize < remaining)
				return add_extent(seg, lstart + pos, remaining,
						  w->dst, csize, csize, false,
						  true, false);
			if (remaining < blksz)
				return add_extent(seg, lstart + pos, remaining,
						  src + pos, remaining,
						  remaining, true, true, false);
			/*
			 * A cluster a little smaller may leave a tail that
			 * goes inline, saving the last partial block.
			 */
			if (csize > (int)blksz && csize % blksz) {
				u32 in2 = in;
				int c2 = c->ops->compress_destsize(
					c, src + pos, &in2, w->dst2,
					round_down(csize, blksz));

				if (c2 > 0 &&
				    c2 + (remaining - in2) <
					    round_up((u32)csize, blksz)) {
					u8 *t = w->dst;

					w->dst = w->dst2;
					w->dst2 = t;
					in = in2;
					csize = c2;
				}
			}
		}

		/* all the rest fits in less than a cluster: pack it */
		if (final && tail_mode == EROFS_ZTAIL_FRAGMENT &&
		    in == remaining && csize > 0 && (u32)csize < pcl)
			return erofs_zsegment_fragment(src + pos, remaining,
						       lstart + pos, seg);

		plen = csize > 0 ? round_up((u32)csize, blksz) : 0;
		if (csize <= 0 || plen >= in) {
			/* no block saved: store whole blocks as they are */
			u32 n = round_down(min(in, pcl), blksz);

			n = min(max(n, blksz), remaining);
			ret = add_raw(seg, src + pos, lstart + pos, n, blksz);
			last_raw = true;
		} else {
			last_raw = false;
			ret = add_extent(seg, lstart + pos, in, w->dst, csize,
					 plen, false, false, false);
		}
		if (ret)
			return ret;
		pos = seg->ext[seg->next - 1].lstart +
		      seg->ext[seg->next - 1].llen - lstart;
	}
	return 0;
}
