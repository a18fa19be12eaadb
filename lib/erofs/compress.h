/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Data compression for mkfs: the compressors (lz4, lz4hc, lzma, zstd,
 * deflate), the options that choose them, and the engine that turns a
 * file's bytes into extents of fixed-size physical clusters.
 */
#ifndef EROFS_COMPRESS_H
#define EROFS_COMPRESS_H

#include "erofs/defs.h"

/* Compressors by name; several may map to one on-disk algorithm. */
enum erofs_compressor_kind {
	EROFS_COMPRESSOR_LZ4,
	EROFS_COMPRESSOR_LZ4HC,
	EROFS_COMPRESSOR_LZMA,
	EROFS_COMPRESSOR_ZSTD,
	EROFS_COMPRESSOR_DEFLATE,
	EROFS_COMPRESSOR_LIBDEFLATE, /* erofs-utils' name for libdeflate's levels */
	EROFS_COMPRESSOR_NR
};

/* deflate's window (dictsize): zlib's raw streams take 2^9..2^15 bytes */
#define EROFS_DEFLATE_MIN_WINDOW 512U
#define EROFS_DEFLATE_MAX_WINDOW 32768U

/* At most this many -z alternatives (compress hints pick by index). */
#define EROFS_MAX_COMPR_CFGS 4

/* One -z alternative: a compressor with its level and dictionary. */
struct erofs_zparam {
	u8 kind; /* enum erofs_compressor_kind */
	int level; /* -1: the compressor's default */
	u32 dictsize; /* 0: derived from the largest physical cluster */
};

/* A --compress-hints rule: paths matching "regex" get these settings. */
struct erofs_zhint {
	void *regex; /* compiled regex_t */
	u32 pclusterblks; /* 0: leave the file uncompressed */
	u8 alg; /* index into erofs_compress_opts.algs */
};

struct erofs_compress_opts {
	struct erofs_zparam algs[EROFS_MAX_COMPR_CFGS];
	unsigned int nalgs; /* 0: no compression */
	u32 pclustersize; /* -C bytes; 0: one block */
	u32 max_extent_bytes; /* 0: unlimited (up to the engine's window) */
	bool ztailpacking; /* -E ztailpacking: inline the last pcluster */
	bool fragments; /* -E fragments: tails go to the packed inode */
	bool all_fragments; /* -E all-fragments: whole files do */
	bool dedupe; /* -E dedupe: identical files share their clusters */
	u8 fragdedupe; /* EROFS_FRAGDEDUPE_*: which fragments are shared */
	u32 packed_pclustersize; /* -E fragments=#: the packed inode's
				  * physical clusters (0: as -C) */
	bool legacy; /* -E legacy-compress: full lcluster indexes */
	u32 metabox_pclustersize; /* -m#: the metabox's physical clusters */
	u8 metabox_alg; /* -m#:ALG: its alternative (index into algs) */
	struct erofs_zhint *hints;
	unsigned int nhints;
};

/* -E fragdedupe=: when a file's fragment may reuse an earlier one's bytes */
enum {
	EROFS_FRAGDEDUPE_FULL, /* whenever the bytes are the same (default) */
	EROFS_FRAGDEDUPE_INODE, /* only when the whole file is the same */
	EROFS_FRAGDEDUPE_OFF, /* never */
};

/* Parse a -z argument ("lz4hc,level=9:lzma,dictsize=65536") into "o". */
int erofs_compress_parse_algs(struct erofs_compress_opts *o, const char *arg);
/*
 * The index of the alternative "arg" ("lzma,level=9") in "o", appended
 * unless an identical one is there.
 */
int erofs_compress_add_alg(struct erofs_compress_opts *o, const char *arg,
			   unsigned int *index);
/* Read a --compress-hints file; "blksz" validates the cluster sizes. */
int erofs_compress_load_hints(struct erofs_compress_opts *o, const char *path,
			      unsigned int blksz);
void erofs_compress_opts_free(struct erofs_compress_opts *o);
/* Names of the compressors built in, for --help. */
const char *erofs_compressor_name(unsigned int kind);
bool erofs_compressor_available(unsigned int kind);
/* The on-disk algorithm (Z_EROFS_COMPRESSION_*) of a compressor. */
unsigned int erofs_compressor_disk_alg(unsigned int kind);

/*
 * Settings resolved for one image: the largest physical cluster decides the
 * dictionary sizes that go into the compression configs.
 */
struct erofs_zimage {
	const struct erofs_compress_opts *opts;
	unsigned int blkszbits;
	u32 max_pclusterblks;
	u32 dictsize[EROFS_MAX_COMPR_CFGS]; /* resolved per alternative */
	u16 available_algs; /* bitmap of Z_EROFS_COMPRESSION_* */
	bool big_pcluster;
	bool need_cfgs; /* COMPR_CFGS: not just lz4 with 1-block clusters */
};

int erofs_zimage_init(struct erofs_zimage *zi,
		      const struct erofs_compress_opts *opts,
		      unsigned int blkszbits);
/* Size of the compression config records after the superblock. */
u32 erofs_zimage_cfgs_size(const struct erofs_zimage *zi);
/* Encode the config records into "buf" (erofs_zimage_cfgs_size bytes). */
void erofs_zimage_encode_cfgs(const struct erofs_zimage *zi, u8 *buf);
/*
 * Which alternative (index) and cluster size a file at "path" (relative to
 * the source root, no leading '/') gets; false when it stays uncompressed.
 */
bool erofs_zimage_choose(const struct erofs_zimage *zi, const char *path,
			 u8 *alg, u32 *pclusterblks);

/* A compressor instance: one per thread and alternative. */
struct erofs_compressor {
	const struct erofs_compressor_ops *ops;
	void *priv;
	int level;
	u32 dictsize;
};

/*
 * What a quick look at a cluster that follows one that did not compress
 * must see for it to be stored as it is, unsearched (lib/compress.c).
 */
enum erofs_zprobe {
	EROFS_ZPROBE_NONE, /* never skip the compressor */
	EROFS_ZPROBE_MATCHES, /* fast lz4 finds nothing to shrink */
	EROFS_ZPROBE_ENTROPY, /* that, and bytes spread like random ones */
};

struct erofs_compressor_ops {
	const char *name;
	u8 disk_alg;
	int default_level;
	int max_level;
	int (*init)(struct erofs_compressor *c);
	void (*exit)(struct erofs_compressor *c);
	/*
	 * Compress as much of "src" (*srclen bytes) as fits in "dstcap"
	 * bytes; *srclen becomes the bytes consumed. Returns the compressed
	 * size, or a negative errno.
	 */
	int (*compress_destsize)(struct erofs_compressor *c, const void *src,
				 u32 *srclen, void *dst, u32 dstcap);
	/*
	 * Optional: forget what earlier inputs taught (search hints), so
	 * that a segment compresses the same whatever its worker did before.
	 */
	void (*reset)(struct erofs_compressor *c);
	enum erofs_zprobe probe;
};

int erofs_compressor_init(struct erofs_compressor *c,
			  const struct erofs_zparam *p, u32 dictsize);
void erofs_compressor_exit(struct erofs_compressor *c);

/*
 * Whether fast lz4 fits at most "dstcap" of "len" input bytes into "dstcap"
 * bytes ("dst" is scratch): nothing it could shrink. Built with lz4 only.
 */
bool erofs_lz4_fits_no_more(const void *src, u32 len, void *dst, u32 dstcap);

extern const struct erofs_compressor_ops erofs_lz4_ops, erofs_lz4hc_ops,
	erofs_lzma_ops, erofs_zstd_ops, erofs_deflate_ops, erofs_libdeflate_ops;

/* ---- the engine: one file segment at a time ---- */

/* An extent of a file's logical bytes and where it is stored. */
struct erofs_zextent {
	u64 lstart; /* file offset */
	u32 llen; /* uncompressed bytes */
	u32 plen; /* stored bytes: whole blocks, or the inline size */
	u64 poff; /* offset of the stored bytes in the segment buffer */
	bool raw; /* stored uncompressed (a PLAIN lcluster) */
	bool inlined; /* the tail pcluster stays in the metadata area */
	bool fragment; /* the tail lives in the packed inode (bytes kept) */
	u64 pblk; /* block address, assigned when committed */
};

/* What compressing one segment of a file produced. */
struct erofs_zsegment {
	struct erofs_zextent *ext;
	u32 next;
	u64 cap;
	u8 *data; /* stored bytes of every extent, in order */
	u64 size, data_cap;
};

/*
 * The extents of one compressed file across its segments, as the
 * compressed pass commits them to the image.
 */
struct erofs_zfile {
	struct erofs_zextent *ext;
	u32 n;
	u64 cap;
	u64 blocks; /* blocks its clusters take in the image */
	erofs_blk_t first_blk;
	u8 *idata; /* the inline cluster's bytes */
	u64 frag_off; /* where the fragment went in the packed inode */
};

struct erofs_zwork {
	const struct erofs_zimage *zi;
	struct erofs_compressor *cs; /* one per alternative, lazily set up */
	u8 *dst, *dst2; /* scratch for one physical cluster each */
};

/* Where the end of a file may go besides whole blocks. */
enum erofs_ztail {
	EROFS_ZTAIL_BLOCKS,
	EROFS_ZTAIL_INLINE, /* ztailpacking: beside the inode */
	EROFS_ZTAIL_FRAGMENT, /* into the packed inode, uncompressed here */
};

/*
 * Compress "len" bytes at file offset "lstart" ("lstart" is block-aligned);
 * "final" when they end the file, and then "tail" says where a last piece
 * smaller than a cluster may go.
 */
int erofs_zsegment_compress(struct erofs_zwork *w, u8 alg, u32 pclusterblks,
			    const u8 *src, u32 len, u64 lstart, bool final,
			    enum erofs_ztail tail, struct erofs_zsegment *seg);
/* Record "len" bytes as one fragment extent (-E all-fragments). */
int erofs_zsegment_fragment(const u8 *src, u32 len, u64 lstart,
			    struct erofs_zsegment *seg);
void erofs_zsegment_free(struct erofs_zsegment *seg);
int erofs_zwork_init(struct erofs_zwork *w, const struct erofs_zimage *zi);
void erofs_zwork_exit(struct erofs_zwork *w);

#endif
