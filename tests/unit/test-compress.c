// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of the compressors and cluster decoders: every compressor this
 * build has fills clusters that its decoder turns back into the input,
 * whole or as a prefix; deflate's decoder refuses streams that do not give
 * exactly the extent, never writes past it, and reads streams that open
 * with a stored block.
 */
#include <stdio.h>
#include <stdlib.h>

#include "erofs/compress.h"
#include "erofs/decompress.h"
#include "erofs/format.h"
#include "unit.h"

#define SRC_LEN (512U << 10)
#define CANARY 64

static u8 src[SRC_LEN];
static u32 rng = 12345;

static u32 next_rand(void)
{
	rng = rng * 1103515245 + 12345;
	return rng >> 8;
}

/* Text-like words with some noise: compresses a few times over. */
static void fill_source(void)
{
	static const char *const words[] = { "cluster", "erofs", "inode",
					     "deflate", "block", "\n",
					     "of" };
	u32 n = 0;

	while (n < SRC_LEN) {
		const char *w = words[next_rand() % 7];
		size_t l = strlen(w);

		if (next_rand() % 16 == 0) {
			src[n++] = next_rand();
			continue;
		}
		l = min_t(size_t, l, SRC_LEN - n);
		memcpy(src + n, w, l);
		n += l;
		if (n < SRC_LEN)
			src[n++] = ' ';
	}
}

/*
 * Compress with "spec" into a cluster of "pcl" bytes laid out as on disk
 * (zero padding, then the data); returns the input taken, 0 on failure.
 */
static u32 fill_cluster(const char *spec, u32 pcl, u8 *cluster, u8 *alg)
{
	struct erofs_compress_opts o = { 0 };
	struct erofs_zimage zi;
	struct erofs_compressor c;
	u8 *dst = malloc(pcl);
	u32 in = SRC_LEN;
	int n = -1;

	if (dst && !erofs_compress_parse_algs(&o, spec) &&
	    !erofs_zimage_init(&zi, &o, 12) &&
	    !erofs_compressor_init(&c, &o.algs[0], zi.dictsize[0])) {
		n = c.ops->compress_destsize(&c, src, &in, dst, pcl);
		*alg = c.ops->disk_alg;
		erofs_compressor_exit(&c);
	}
	if (n <= 0 || (u32)n > pcl) {
		free(dst);
		return 0;
	}
	memset(cluster, 0, pcl - n);
	memcpy(cluster + pcl - n, dst, n);
	free(dst);
	return in;
}

static int decode(u8 alg, const u8 *in, u32 inlen, u8 *out, u32 outlen,
		  bool partial)
{
	const char *why = NULL;

	return erofs_decompress(alg, in, inlen, out, outlen, true, partial,
				4096, &why);
}

static void test_round_trip(const char *spec, u32 pcl)
{
	u8 *cluster = malloc(pcl), *out = malloc(SRC_LEN + CANARY);
	char name[160];
	u8 alg = 0;
	u32 in = cluster && out ? fill_cluster(spec, pcl, cluster, &alg) : 0;
	bool ok;

	snprintf(name, sizeof(name), "%s, %u-byte cluster: fills it", spec,
		 pcl);
	CHECK(name, in > pcl);
	if (in <= pcl)
		goto out;
	snprintf(name, sizeof(name), "%s, %u-byte cluster: decodes whole", spec,
		 pcl);
	ok = !decode(alg, cluster, pcl, out, in, false) &&
	     !memcmp(out, src, in);
	CHECK(name, ok);
	snprintf(name, sizeof(name), "%s, %u-byte cluster: decodes a prefix",
		 spec, pcl);
	memset(out, 0xa5, SRC_LEN + CANARY);
	ok = !decode(alg, cluster, pcl, out, in / 3, true) &&
	     !memcmp(out, src, in / 3) && out[in / 3] == 0xa5;
	CHECK(name, ok);
	if (alg != Z_EROFS_COMPRESSION_DEFLATE)
		goto out;
	snprintf(
		name, sizeof(name),
		"%s, %u-byte cluster: a stream longer than the extent is refused",
		spec, pcl);
	memset(out, 0xa5, SRC_LEN + CANARY);
	CHECK(name,
	      decode(alg, cluster, pcl, out, in - 1, false) == -EFSCORRUPTED &&
		      out[in - 1] == 0xa5);
	snprintf(
		name, sizeof(name),
		"%s, %u-byte cluster: a stream shorter than the extent is refused",
		spec, pcl);
	CHECK(name,
	      decode(alg, cluster, pcl, out, in + 1, false) == -EFSCORRUPTED &&
		      decode(alg, cluster, pcl, out, in + 1, true) ==
			      -EFSCORRUPTED);
	snprintf(name, sizeof(name),
		 "%s, %u-byte cluster: a cut stream is refused", spec, pcl);
	CHECK(name,
	      decode(alg, cluster, pcl - 16, out, in, false) == -EFSCORRUPTED);
out:
	free(cluster);
	free(out);
}

/* Damaged streams: an error or some bytes, never past the extent. */
static void test_deflate_damage(void)
{
	const u32 pcl = 16384;
	u8 *cluster = malloc(pcl), *bad = malloc(pcl);
	u8 *out = malloc(SRC_LEN + CANARY);
	u8 alg;
	u32 in = fill_cluster("deflate", pcl, cluster, &alg);
	unsigned int wrong = 0, overrun = 0, refused = 0;

	CHECK("deflate damage: cluster made", in > pcl);
	if (in <= pcl)
		goto out;
	for (unsigned int i = 0; i < 500; i++) {
		u32 flips = 1 + next_rand() % 8, len = in;
		int r;

		memcpy(bad, cluster, pcl);
		for (u32 k = 0; k < flips; k++)
			bad[pcl - 1 - next_rand() % 2048] ^=
				1 + next_rand() % 255;
		if (i % 3 == 1)
			len = in / 2 + next_rand() % in;
		memset(out, 0xa5, SRC_LEN + CANARY);
		r = decode(alg, bad, pcl, out, len, i % 2);
		if (r && r != -EFSCORRUPTED)
			wrong++;
		if (r)
			refused++;
		for (u32 k = len; k < len + CANARY; k++)
			if (out[k] != 0xa5)
				overrun++;
	}
	CHECK("deflate damage: only -EFSCORRUPTED", !wrong);
	CHECK("deflate damage: nothing written past the extent", !overrun);
	CHECK("deflate damage: most damage is refused", refused > 250);
out:
	free(cluster);
	free(bad);
	free(out);
}

/*
 * A stream opening with a stored block that is not the last: its first
 * byte would be zero but for a padding bit the writer sets (bit 3); after
 * zero padding, every decoder must start there and ignore that bit.
 */
static void test_deflate_stored_start(void)
{
	static const u8 stream[] = {
		0x08, 0x05, 0x00, 0xfa, 0xff, 'h',  'e', 'l', 'l',
		'o',  0x01, 0x03, 0x00, 0xfc, 0xff, '!', '!', '!',
	};
	u8 cluster[4096] = { 0 }, out[8 + CANARY];
	int r;

	memcpy(cluster + sizeof(cluster) - sizeof(stream), stream,
	       sizeof(stream));
	memset(out, 0, sizeof(out));
	r = decode(Z_EROFS_COMPRESSION_DEFLATE, cluster, sizeof(cluster), out,
		   8, false);
	CHECK("deflate: stored first block with a padding bit set",
	      !r && !memcmp(out, "hello!!!", 8));
	r = decode(Z_EROFS_COMPRESSION_DEFLATE, cluster, sizeof(cluster), out,
		   6, true);
	CHECK("deflate: prefix of a stored-block stream",
	      !r && !memcmp(out, "hello!", 6));
}

int main(void)
{
	static const char *const specs[] = {
		"lz4",
		"lz4hc",
		"lzma",
		"zstd",
		"deflate",
		"deflate,9",
		"deflate,dictsize=4096",
		"libdeflate",
		"libdeflate,12",
	};

	fill_source();
	for (size_t i = 0; i < ARRAY_SIZE(specs); i++) {
		struct erofs_compress_opts o = { 0 };
		char kind[16];

		snprintf(kind, sizeof(kind), "%.*s",
			 (int)strcspn(specs[i], ","), specs[i]);
		if (erofs_compress_parse_algs(&o, kind)) {
			printf("SKIP: %s: not built in\n", specs[i]);
			continue;
		}
		test_round_trip(specs[i], 4096);
		test_round_trip(specs[i], 65536);
	}
	if (erofs_decompress_available(Z_EROFS_COMPRESSION_DEFLATE)) {
		test_deflate_damage();
		test_deflate_stored_start();
	} else {
		printf("SKIP: deflate decoding: this build has no zlib\n");
	}
	UNIT_EXIT();
}
