/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The stages of an image build and the state they hand on: build() in
 * lib/build.c runs them in this order:
 *
 *   erofs_layout_plan()            lib/layout.c   inode forms, data blocks
 *   erofs_write_data()             lib/data.c     uncompressed file data
 *   erofs_write_chunked()          lib/chunk.c    --chunksize files
 *   erofs_write_compressed()       lib/compress_write.c   -z files, with
 *                                  lib/dedupe.c and lib/fragments.c
 *   erofs_layout_place_zone_dirs() lib/layout.c   --MZ=d directory blocks
 *   erofs_layout_place_records()   lib/layout.c   records, early nids
 *   erofs_write_packed()           lib/fragments.c  the packed inode
 *   erofs_metabox_write()          lib/metabox.c  -m's metabox inode
 *   erofs_layout_pack_meta()       lib/layout.c   the metadata area, nids
 *   directories, records, xattrs, superblock       lib/build.c
 *
 * Each stage takes what the ones before settled; decisions about where
 * bytes go are layout's (erofs_layout_*), even when a later stage makes
 * them because only it knows a size.
 */
#ifndef EROFS_STAGES_H
#define EROFS_STAGES_H

#include "erofs/build_opts.h"
#include "erofs/compress.h"
#include "erofs/defs.h"
#include "erofs/format.h"
#include "erofs/io.h"
#include "erofs/super.h"
#include "erofs/tree.h"
#include "erofs/xattr.h"

struct erofs_build {
	const struct erofs_build_opts *opts;
	struct erofs_tree *tree;
	struct erofs_xattr_table *xattrs;
	struct erofs_output *out; /* own_out, or the caller's */
	struct erofs_output own_out;

	unsigned int blksz;
	erofs_blk_t data_blkaddr; /* first data block */
	erofs_blk_t next_blkaddr; /* allocation cursor in the data area */
	erofs_blk_t xattr_blkaddr;
	erofs_blk_t meta_start; /* first block of the metadata area */
	erofs_blk_t meta_blkaddr; /* nids count from here: one block
				    * before the metadata area, or 0 */
	u64 meta_size; /* bytes of the metadata area */
	erofs_blk_t total_blocks;
	u32 prefix_start; /* 4-byte units, 0 without long prefixes */
	struct erofs_zimage *zi; /* compression settings, NULL without */
	struct erofs_node *packed; /* the packed inode (fragments), or NULL */
	u32 feature_compat;
	u32 feature_incompat;

	/* the device table: the source's devices, then the blob device */
	struct erofs_build_device *devs;
	unsigned int ndevs;
	u32 devt_slotoff; /* in EROFS_DEVT_SLOT_SIZE units; 0 without */
	/* appending (opts->base): where the root's record goes */
	u64 root_pos;
	bool new_prefix_table; /* the old table lacks prefixes: written anew */
	struct erofs_output blob; /* --blobdev's output */
	bool blob_open;
	u64 blob_blocks; /* allocation cursor in the blob */
	bool layout_48bit; /* INCOMPAT_48BIT (-E48bit, -Edot-omitted) */
	s64 epoch; /* superblock epoch: compact inode times count from it */
	bool prefixes_in_packed; /* the long prefix table opens the packed
				  * inode's data */
	bool prefixes_in_metabox; /* ... or the metabox's (-m) */
	/*
	 * Nids are needed before the metadata area is placed: directory
	 * data goes into the metabox or the packed inode (-m, --zD).
	 */
	bool nids_early;
	struct erofs_meta_packer *meta_pk; /* records of the metadata area */
	struct erofs_meta_packer *mbox_pk; /* records of the metabox */
	u64 nr_placed; /* tree->order nodes placed by place_records */
	u64 mbox_size; /* bytes of the metabox's data */
	struct erofs_node *metabox; /* -m: the metabox inode */
	struct erofs_fragments *fragments; /* the packed inode's data, gathered */
};

/* ---- layout (lib/layout.c): every decision about where bytes go ---- */

/* Inode forms and data layouts of the tree's nodes; blocks for flat data. */
int erofs_layout_plan(struct erofs_build *b);
/* Give "n" an uncompressed layout with blocks from the allocation cursor. */
void erofs_layout_plan_flat(struct erofs_build *b, struct erofs_node *n);
/*
 * A file planned compressed whose clusters would not save space (as
 * erofs-utils judges it) is stored flat after all: its layout now.
 */
void erofs_layout_settle_flat(struct erofs_build *b, struct erofs_node *n);
/*
 * Whether the inline cluster (ztailpacking) of compressed file "n" with
 * extents "f" may stay beside its inode: it must not cross a block
 * boundary, and lcluster indexes must reach its blocks with 32 bits.
 * Otherwise the compressed pass moves it into a block of its own.
 */
bool erofs_layout_zinline_fits(const struct erofs_build *b,
			       const struct erofs_node *n,
			       const struct erofs_zfile *f);
/*
 * Settle the layout of compressed file "n" whose extents "f" are all
 * placed: the map's form (compact or full lcluster indexes, or 48-bit
 * extent records), the map itself, the inline cluster and the blocks.
 * Takes over f->idata.
 */
int erofs_layout_settle_compressed(struct erofs_build *b, struct erofs_node *n,
				   struct erofs_zfile *f);
/*
 * Append an inode in no directory (the packed inode, the metabox) to the
 * tree's order: a regular file holding "size" bytes at "data", which it
 * takes over, with the inode form planned; NULL when out of memory.
 */
struct erofs_node *erofs_layout_add_special(struct erofs_build *b, u8 *data,
					    u64 size);
/* --MZ=d: blocks for the directories, together after the file data */
int erofs_layout_place_zone_dirs(struct erofs_build *b);
/*
 * Place the records of the tree's nodes in the metadata area or, with -m,
 * the metabox; nids of the metabox's, and with "nids_early" all nids,
 * are final then.
 */
int erofs_layout_place_records(struct erofs_build *b);
/*
 * Place the records of inodes added since (packed inode, metabox), the
 * metadata area after the data, and settle every nid.
 */
int erofs_layout_pack_meta(struct erofs_build *b);
void erofs_layout_free_packers(struct erofs_build *b);
/* Bytes of a node's metadata record: inode, xattrs, maps, inline data. */
u32 erofs_layout_record_size(const struct erofs_node_layout *L);

/* ---- the data passes ---- */

/* Uncompressed file data and fingerprints (lib/data.c). */
int erofs_write_data(struct erofs_build *b);
/* Chunk-based files, --chunksize (lib/chunk.c, erofs/chunk.h). */
int erofs_write_chunked(struct erofs_build *b);
/*
 * The compressed pass (lib/compress_write.c): files the layout left
 * pending are compressed and appended in tree order; identical files
 * share clusters (lib/dedupe.c) and fragments are gathered for the packed
 * inode (lib/fragments.c).
 */
int erofs_write_compressed(struct erofs_build *b);
/* Compress the pending inodes in no directory (packed inode, metabox). */
int erofs_write_compressed_special(struct erofs_build *b);
/* The packed inode of what was gathered, if anything (lib/fragments.c). */
int erofs_write_packed(struct erofs_build *b);
/* -m: the records into the metabox, written like a file (lib/metabox.c). */
int erofs_metabox_write(struct erofs_build *b);
/*
 * Write the data of an inode added by erofs_layout_add_special():
 * compressed with alternative "alg" in clusters of "pclusterblks" when the
 * image compresses, else flat (lib/build.c).
 */
int erofs_build_write_special(struct erofs_build *b, struct erofs_node *n,
			      u8 alg, u32 pclusterblks);
/* Encode a node's record (inode, xattrs, maps, inline tail) at "p". */
void erofs_build_encode_record(struct erofs_build *b, struct erofs_node *n,
			       u8 *p);

/* Where a node's bytes come from: a file of the source, or the spool. */
struct erofs_data_src {
	int fd; /* -1 for a reader */
	u64 base;
	bool own;
	const char *path;
	const struct erofs_data_reader *reader;
};

int erofs_src_open(struct erofs_build *b, struct erofs_node *n,
		   struct erofs_data_src *s);
int erofs_src_read(struct erofs_data_src *s, void *buf, size_t len, u64 pos);
struct erofs_sha256;
/* The same, hashing (when "sha" is set) each piece while it is in cache. */
int erofs_src_read_hashed(struct erofs_data_src *s, void *buf, size_t len,
			  u64 pos, struct erofs_sha256 *sha);
/*
 * Copy "len" bytes at "from" to "pos" of "out": cloned or copied in the
 * kernel for files, through "buf" (NULL: a small one) for readers.
 */
int erofs_src_copy(struct erofs_data_src *s, struct erofs_output *out,
		   u64 from, u64 len, u64 pos, void *buf, size_t bufsz);
/* A source file must end where it ended when it was scanned. */
int erofs_src_check_end(struct erofs_data_src *s, u64 size);
void erofs_src_close(struct erofs_data_src *s);

/* A range of a file that holds data; the rest reads as zeroes. */
struct erofs_data_range {
	u64 start, end;
};

/*
 * The data ranges of "size" bytes at "base" of "fd" (a source file at 0,
 * or a node's slice of the tar spool), as offsets from "base", found with
 * SEEK_DATA/SEEK_HOLE; "what" names the file in messages.
 */
int erofs_src_data_ranges(int fd, u64 base, u64 size, const char *what,
			  struct erofs_data_range **out, u64 *count);
/* Whether [start, end) meets a range; successive calls move "cursor". */
bool erofs_ranges_meet(const struct erofs_data_range *r, u64 n, u64 *cursor,
		       u64 start, u64 end);
/* The data threads to use for "njobs" jobs. */
unsigned int erofs_data_workers(const struct erofs_build *b, u64 njobs);

/* Allocate "count" contiguous data blocks. */
static inline erofs_blk_t erofs_alloc_blocks(struct erofs_build *b, u64 count)
{
	erofs_blk_t start = b->next_blkaddr;

	b->next_blkaddr += count;
	return start;
}

static inline u64 erofs_pos(const struct erofs_build *b, erofs_blk_t blk)
{
	return (u64)blk << b->opts->blkszbits;
}

/* The most blocks the image's block addresses reach. */
static inline u64 erofs_max_blocks(const struct erofs_build *b)
{
	return b->layout_48bit ? (1ULL << 48) - 1 : UINT32_MAX;
}

#endif
