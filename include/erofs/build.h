/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Building an image from an in-memory tree: the options mkfs passes in, and
 * the state the stages (layout, data, metadata, superblock) hand on.
 *
 * Image layout: the superblock block (with the long xattr prefix table after
 * the superblock), then file data, directory and symlink blocks, then the
 * shared xattr area, then the metadata area holding every inode with its
 * xattrs, maps and inline tail. Data comes first so that its size can be
 * settled while it is written; metadata follows once every size is known.
 *
 * With -m the records lie in the metabox instead, the data of an inode of
 * its own (lib/metabox.c), compressed after the file data; the metadata
 * area then holds the metabox inode and the packed inode only. With --zD
 * directories are fragments of the packed inode; with --MZ=d their blocks
 * follow the file data together.
 */
#ifndef EROFS_BUILD_H
#define EROFS_BUILD_H

#include "erofs/compress.h"
#include "erofs/defs.h"
#include "erofs/format.h"
#include "erofs/io.h"
#include "erofs/super.h"
#include "erofs/tree.h"
#include "erofs/xattr.h"

/* An extra device of the image: one slot of the device table. */
struct erofs_build_device {
	char tag[EROFS_DEVICE_TAG_LEN + 1]; /* NUL-terminated */
	u64 blocks; /* its size in blocks */
};

/* A ".." entry of a kept directory whose parent was written anew. */
struct erofs_dotdot_patch {
	u64 pos; /* image offset of the entry's nid */
	const struct erofs_node *parent; /* whose new nid goes there */
};

/* The image an incremental build appends to (lib/incremental.c). */
struct erofs_build_base {
	int fd; /* the image, read to start the copy */
	struct erofs_sb_info sb;
	u8 *head; /* its superblock block from EROFS_SUPER_OFFSET, */
	size_t head_len; /* the region the checksum covers */
	unsigned int nr_prefixes; /* long prefixes in its table */
	u64 root_iloc; /* its root's record, which a new root may reuse */
	u32 root_record;
	struct erofs_dotdot_patch *patches;
	u64 npatches;
};

struct erofs_build_opts {
	unsigned int blkszbits;
	u8 uuid[16];
	char volume_name[16];
	s64 build_time; /* seconds; the epoch of compact inodes */
	u32 build_time_nsec;
	bool ishare; /* write content fingerprints */
	u64 ishare_hole_limit; /* bytes of holes hashed at most per build */
	unsigned int workers; /* data threads; 0 = available processors */
	bool no_fsync; /* rename the image into place unsynced */
	const struct erofs_compress_opts *compress; /* NULL: none */

	/* -E features */
	bool layout_48bit; /* 48BIT: 48-bit block addresses, epoch-relative
			    * compact inode times, encoded extents */
	bool dot_omitted; /* directories store no "." entry (implies 48BIT) */
	u8 force_inode; /* EROFS_FORCE_INODE_* */
	bool no_datainline; /* regular files keep no inline tail */
	bool no_sbcrc; /* no superblock checksum */
	u8 prefix_table; /* EROFS_PREFIX_TABLE_*: where the long xattr
			  * prefixes go (-E[^]plain-xattr-prefixes) */

	u32 root_xattr_isize; /* root's inline xattr body, at least */
	u64 offset; /* the image starts this many bytes into the output */
	u32 fsalignblks; /* image size rounded up to a multiple of this
			  * power of two of blocks (0: one block) */
	u32 async_queue_limit; /* compression jobs in flight (0: default) */
	bool metabox; /* -m: records in the metabox (implies 48-bit) */
	bool compress_dirs; /* --zD: directories into the packed inode */
	bool dirs_in_metazone; /* --MZ=d: directory blocks kept together */

	/* --chunksize: regular files in chunks of this log2 size, 0: off */
	unsigned int chunkbits;
	const char *blobdev; /* --blobdev: chunks go to this extra device */
	bool force_inode_blockmap; /* chunk-based files: 4-byte block map */
	bool force_chunk_indexes; /* chunk-based files: 8-byte indexes */
	bool no_chunk_dedupe; /* -E^dedupe: every chunk stored */
	u32 dsunit; /* --dsunit: chunk runs start at multiples of these blocks */
	/*
	 * Devices the source's external data lies on (tar index: the tar),
	 * in device id order; a blob device comes after them.
	 */
	const struct erofs_build_device *ext_devices;
	unsigned int ext_ndevices;
	/*
	 * The output, opened by the caller when a source writes file data
	 * into it directly (EROFS_DATA_PLACED, from erofs_build_data_start()
	 * up to the block "placed_end"); NULL: the build opens "path".
	 */
	struct erofs_output *out;
	erofs_blk_t placed_end;
	const struct erofs_build_base *base; /* --incremental */
};

enum {
	EROFS_PREFIX_TABLE_AUTO, /* the packed inode with fragments, else
				  * plain (erofs-utils' choice) */
	EROFS_PREFIX_TABLE_PLAIN, /* after the superblock */
	EROFS_PREFIX_TABLE_PACKED, /* opening the packed inode's data */
};

enum {
	EROFS_FORCE_INODE_AUTO, /* compact when everything fits */
	EROFS_FORCE_INODE_COMPACT, /* -Eforce-inode-compact */
	EROFS_FORCE_INODE_EXTENDED, /* -Eforce-inode-extended */
};

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
	struct erofs_zpacked *zpacked; /* the packed inode's data, gathered */
};

/*
 * Where the data area of an uncompressed image without extra devices
 * starts, for a source that places file data before the build: after the
 * superblock and the table of every long xattr prefix "xt" holds.
 */
erofs_blk_t erofs_build_data_start(const struct erofs_build_opts *opts,
				   const struct erofs_xattr_table *xt);

/* Build "path" from "tree"; on failure nothing is left at "path". */
int erofs_build_image(struct erofs_tree *tree, struct erofs_xattr_table *xt,
		      const struct erofs_build_opts *opts, const char *path);

/* stages, in order (lib/layout.c, lib/data.c) */
int erofs_layout_plan(struct erofs_build *b);
int erofs_write_data(struct erofs_build *b);
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

/*
 * The compressed part of the data pass (lib/compress_write.c): files the
 * layout left pending are compressed and appended in tree order; their
 * fragments are gathered for the packed inode.
 */
int erofs_write_compressed(struct erofs_build *b);
/* Gather "len" bytes for the packed inode; *off: where they will lie. */
int erofs_packed_add(struct erofs_build *b, const u8 *data, u32 len,
		     u64 *off);
/* Write the packed inode of what was gathered (nothing if none). */
int erofs_write_packed(struct erofs_build *b);
void erofs_packed_free(struct erofs_build *b);
/* Compress the pending inodes in no directory (packed inode, metabox). */
int erofs_write_compressed_special(struct erofs_build *b);
/* -m: the records into the metabox, written like a file (lib/metabox.c). */
int erofs_metabox_write(struct erofs_build *b);

/*
 * Append an inode in no directory (the packed inode, the metabox): a
 * regular file holding "size" bytes at "data", which it takes over; NULL
 * when out of memory.
 */
struct erofs_node *erofs_build_add_special(struct erofs_build *b, u8 *data,
					   u64 size);
/*
 * Write such an inode's data: compressed with alternative "alg" in
 * clusters of "pclusterblks" when the image compresses, else flat.
 */
int erofs_build_write_special(struct erofs_build *b, struct erofs_node *n,
			      u8 alg, u32 pclusterblks);
/* Encode a node's record (inode, xattrs, maps, inline tail) at "p". */
void erofs_build_encode_record(struct erofs_build *b, struct erofs_node *n,
			       u8 *p);
/* Give "n" an uncompressed layout with blocks from the allocation cursor. */
void erofs_layout_plan_flat(struct erofs_build *b, struct erofs_node *n);
/* Bytes of a node's metadata record: inode, xattrs, maps, inline data. */
u32 erofs_layout_record_size(const struct erofs_node_layout *L);

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

/*
 * The superblock epoch: the build time, or with 48-bit layouts (whose
 * compact inodes hold 32-bit mtimes after it) up to 2^32 - 1 s before.
 */
static inline bool erofs_build_48bit(const struct erofs_build_opts *o)
{
	return o->layout_48bit || o->dot_omitted || o->metabox;
}

static inline s64 erofs_build_epoch(const struct erofs_build_opts *o)
{
	if (!erofs_build_48bit(o))
		return o->build_time;
	return o->build_time > (s64)UINT32_MAX ?
		       o->build_time - (s64)UINT32_MAX :
		       0;
}

/* The most blocks the image's block addresses reach. */
static inline u64 erofs_max_blocks(const struct erofs_build *b)
{
	return b->layout_48bit ? (1ULL << 48) - 1 : UINT32_MAX;
}

#endif
