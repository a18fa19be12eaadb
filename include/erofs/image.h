/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reading an existing image: open it and validate the superblock, load the
 * long xattr prefix table, read metadata with bounds checks, and decode an
 * inode by nid together with where its xattrs, inline data and chunk map
 * are. Nothing read from the image is trusted before it was checked against
 * the image size.
 *
 * Decoders below the open call report a problem as a negative errno
 * (-EFSCORRUPTED for damage, -EOPNOTSUPP for things this reader cannot
 * handle, others for I/O) plus a static reason in "*why"; they never record
 * errors themselves, so several threads and a walk that continues after a
 * problem can use them. erofs_image_open() records its failure with
 * erofs_fail().
 */
#ifndef EROFS_IMAGE_H
#define EROFS_IMAGE_H

#include <pthread.h>

#include "erofs/defs.h"
#include "erofs/device.h"
#include "erofs/format.h"
#include "erofs/inode.h"
#include "erofs/super.h"

struct erofs_image_prefix {
	u8 base_index; /* standard short prefix the name starts with */
	u8 infix_len;
	char infix[256]; /* NUL-terminated */
};

struct erofs_mcache;
struct erofs_rinode;

/*
 * Metadata addresses: an inode's record, xattrs, maps and inline data lie
 * at image offsets or, for an inode in the metabox (INCOMPAT_METABOX), at
 * offsets in the metabox inode's data, which carry this bit. The reads
 * and bounds checks below take both; block offsets keep their meaning.
 */
#define EROFS_MBOX_ADDR (1ULL << 63)

struct erofs_image {
	int fd;
	char *path;
	u64 offset; /* where the image starts in the file (--offset) */
	u64 size; /* bytes of the image: the file or device after offset */
	struct erofs_sb_info sb;
	u32 blksz;
	unsigned int blkszbits;
	u8 xattr_filter_reserved; /* sb byte: non-zero disables the filter */
	bool sb_csum_verified; /* the checksum was present and matched */
	unsigned int nr_prefixes;
	struct erofs_image_prefix *prefixes;
	/* full name of the content fingerprint xattr, NULL without one */
	char *ishare_name;
	struct erofs_mcache *cache;
	/* extra devices (lib/device.c), numbered from 1 */
	unsigned int nr_devices;
	struct erofs_device *devices;
	u16 device_id_mask; /* of chunk indexes' device_id, as the kernel's */
	bool flatdev; /* no files given: devices lie in the primary file */
	/* the devices' unified address ranges, sorted, disjoint */
	struct erofs_device_range *ranges;
	unsigned int nr_ranges;
	/*
	 * Unique per open in this process: per-thread caches of decoded
	 * data key on it, as a new image may reuse an old one's address.
	 */
	u64 id;
	/* the metabox inode, whose data holds records (NULL without) */
	struct erofs_rinode *metabox;
	u64 mbox_size; /* bytes of its data */
	/* bounds on reading data in this run (lib/budget.c); NULL: none */
	struct erofs_budget *budget;
};

struct erofs_image_opts {
	bool no_sbcrc; /* skip the superblock checksum (--no-sbcrc) */
	u64 offset; /* bytes before the image in the file (--offset) */
	/*
	 * Files holding the extra devices, in slot order (--device=FILE);
	 * none: each is read from the primary file at its unified address.
	 */
	const char *const *devices;
	unsigned int nr_devices;
};

/*
 * Open and validate "path". Refuses incompatible features this reader
 * lacks (naming them), a bad checksum, a broken prefix table or device
 * table. Returns -EFSCORRUPTED for damage, -EOPNOTSUPP for unsupported
 * images, -EINVAL for what the caller asked wrongly (a number of device
 * files that is not the image's, an offset past the end, not a file).
 */
int erofs_image_open(struct erofs_image *img, const char *path,
		     const struct erofs_image_opts *opts);
void erofs_image_close(struct erofs_image *img);

/*
 * Read metadata (at a metadata address) through a small block cache;
 * thread-safe. -EFSCORRUPTED when any byte lies past the end of the image
 * (or of the metabox), or the metabox's data cannot be decoded.
 */
int erofs_image_read(struct erofs_image *img, void *buf, size_t len,
		     u64 pos);
/* Read bulk data without caching; thread-safe; same bounds check. */
int erofs_image_pread(const struct erofs_image *img, void *buf, size_t len,
		      u64 pos);

/* Whether [pos, pos + len) lies inside the image (or the metabox). */
static inline bool erofs_image_contains(const struct erofs_image *img,
					u64 pos, u64 len)
{
	u64 end = img->size;

	if (pos & EROFS_MBOX_ADDR) {
		pos &= ~EROFS_MBOX_ADDR;
		end = img->mbox_size;
	}
	return pos <= end && len <= end - pos;
}

/* An inode as found in an image, with the positions derived from it. */
struct erofs_rinode {
	erofs_nid_t nid;
	struct erofs_inode_info i;
	u64 iloc; /* metadata address of the inode */
	u32 inode_isize; /* 32 or 64 */
	u32 xattr_isize; /* inline xattr area after the inode */
	u64 meta_end; /* iloc + inode_isize + xattr_isize */
	/* flat layouts */
	erofs_blk_t startblk;
	bool null_startblk; /* FLAT_PLAIN whose whole data is a hole */
	/* where startblk lies: the device and the byte on it */
	unsigned int data_dev;
	u64 data_pos;
	u64 tail_pos; /* FLAT_INLINE: metadata address of the inline tail */
	u32 tail_len; /* FLAT_INLINE: bytes of the tail (0 if none) */
	/* chunk-based layout */
	u8 chunkbits; /* log2 of the chunk size in bytes */
	u8 chunk_unit; /* 4 (block map) or 8 (indexes) */
	bool chunk_48bit;
	u64 chunk_pos; /* metadata address of the chunk table */
	u64 nchunks;
};

/*
 * Read and decode inode "nid" and check everything about it that does not
 * need the data: layout fields, sizes, where its xattr area, inline tail
 * and chunk table lie (inside the image, inline tail within one block).
 */
int erofs_read_inode(struct erofs_image *img, erofs_nid_t nid,
		     struct erofs_rinode *ri, const char **why);

/* Blocks of data a flat or chunk-based inode covers: ceil(size / blksz). */
static inline u64 erofs_inode_nblocks(const struct erofs_image *img,
				      const struct erofs_rinode *ri)
{
	return (ri->i.size >> img->blkszbits) +
	       !!(ri->i.size & (img->blksz - 1));
}

/*
 * The metadata address of the shared xattr area: in the metabox with
 * COMPAT_SHARED_EA_IN_METABOX.
 */
static inline u64 erofs_image_shared_xattrs(const struct erofs_image *img)
{
	u32 in_mbox = img->sb.feature_compat &
		      EROFS_FEATURE_COMPAT_SHARED_EA_IN_METABOX;
	u64 pos = img->sb.xattr_blkaddr << img->blkszbits;

	if (img->metabox && in_mbox)
		pos |= EROFS_MBOX_ADDR;
	return pos;
}

/* The oldest Linux release that mounts an image with these features. */
const char *erofs_image_min_kernel(const struct erofs_sb_info *sb,
				   const char **reason);

#endif
