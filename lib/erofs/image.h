/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * An existing image, opened (erofs/image_open.h): the handle the readers
 * share, and its metadata read with bounds checks through a small block
 * cache. Nothing read from the image is trusted before it was checked
 * against the image size.
 *
 * The readers (inodes, directories, xattrs, data) report a problem as a
 * negative errno (-EFSCORRUPTED for damage, -EOPNOTSUPP for things this
 * reader cannot handle, others for I/O) plus a static reason in "*why";
 * they never record errors themselves, so several threads and a walk that
 * continues after a problem can use them. erofs_image_open() records its
 * failure with erofs_fail().
 */
#ifndef EROFS_IMAGE_H
#define EROFS_IMAGE_H

#include <pthread.h>

#include "erofs/defs.h"
#include "erofs/format.h"
#include "erofs/super.h"

struct erofs_image_prefix {
	u8 base_index; /* standard short prefix the name starts with */
	u8 infix_len;
	char infix[256]; /* NUL-terminated */
};

struct erofs_budget;
struct erofs_device;
struct erofs_device_range;
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
	/*
	 * How its data is read: the data reader (lib/data_read.c), which
	 * reads the metabox inode's maps and clusters through this very
	 * handle; set by erofs_image_open().
	 */
	int (*read_metabox)(struct erofs_image *img, void *buf, size_t len,
			    u64 pos, const char **why);
	/* bounds on reading data in this run (lib/budget.c); NULL: none */
	struct erofs_budget *budget;
};

/*
 * Read metadata (at a metadata address) through a small block cache;
 * thread-safe. -EFSCORRUPTED when any byte lies past the end of the image
 * (or of the metabox), or the metabox's data cannot be decoded.
 */
int erofs_image_read(struct erofs_image *img, void *buf, size_t len,
		     u64 pos);
/* The block cache, made and freed by erofs_image_open() and _close(). */
int erofs_image_cache_create(struct erofs_image *img);
void erofs_image_cache_destroy(struct erofs_image *img);
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
