/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What an image build is asked for: the options mkfs (or a source that
 * places data, a merge, an incremental build) passes to erofs_build_image(),
 * and what they imply for the whole image.
 */
#ifndef EROFS_BUILD_OPTS_H
#define EROFS_BUILD_OPTS_H

#include "erofs/compress.h"
#include "erofs/defs.h"
#include "erofs/format.h"
#include "erofs/super.h"

struct erofs_output;

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

#endif
