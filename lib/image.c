// SPDX-License-Identifier: GPL-2.0-or-later
/* Opening an image, checked metadata reads and inodes by nid. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "erofs/data_read.h"
#include "erofs/error.h"
#include "erofs/format.h"
#include "erofs/image.h"
#include "erofs/io.h"
#include "erofs/xattr.h"
#include "erofs/zcfgs.h"

/*
 * Inodes, xattrs and dirents of neighbouring files share blocks, and a walk
 * meets them roughly front to back, so metadata blocks are kept in a small
 * set-associative cache, and a miss in the metadata area just after the
 * last one reads the blocks after it too: one pread then brings in a run
 * of inodes instead of one block. The kernel's page cache keeps the rest:
 * 64 MiB here took fsck to three times erofs-utils' peak memory on a 1 GB
 * image and was no faster (2 MiB: 0.17 s against 0.15 s for 100,000 files).
 */
#define MCACHE_WAYS 8
#define MCACHE_MAX_BYTES (2U << 20)
#define MCACHE_READAHEAD 16 /* blocks read on a miss in the metadata area */

struct erofs_mcache_way {
	u64 tag; /* block number + 1; 0 is an empty way */
	u64 used; /* for least-recently-used replacement */
};

struct erofs_mcache {
	pthread_mutex_t lock;
	unsigned int nsets; /* a power of two */
	u64 clock;
	u64 ra_from; /* image offset where readahead starts to pay */
	u64 ra_next; /* the block after the last fill: reads going forward */
	size_t bytes; /* of data */
	struct erofs_mcache_way *ways; /* nsets * MCACHE_WAYS */
	u8 *data;
	u8 *ra_buf; /* MCACHE_READAHEAD blocks */
};

/* Pages of the cache count in memory only once blocks land in them. */
static void *cache_alloc(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void cache_free(void *p, size_t bytes)
{
	if (p)
		munmap(p, bytes);
}

static int mcache_create(struct erofs_image *img)
{
	struct erofs_mcache *c = calloc(1, sizeof(*c));
	u64 blocks = (img->size >> img->blkszbits) + 1;
	size_t slots;

	if (!c)
		return -ENOMEM;
	/* a small image needs no more slots than it has blocks */
	c->nsets = (MCACHE_MAX_BYTES >> img->blkszbits) / MCACHE_WAYS;
	while (c->nsets > 1 && (u64)(c->nsets >> 1) * MCACHE_WAYS >= blocks)
		c->nsets >>= 1;
	slots = (size_t)c->nsets * MCACHE_WAYS;
	c->ra_from = (u64)img->sb.meta_blkaddr << img->blkszbits;
	c->bytes = slots << img->blkszbits;
	c->ways = calloc(slots, sizeof(*c->ways));
	c->data = cache_alloc(slots << img->blkszbits);
	c->ra_buf = malloc((size_t)MCACHE_READAHEAD << img->blkszbits);
	if (!c->ways || !c->data || !c->ra_buf) {
		free(c->ways);
		cache_free(c->data, slots << img->blkszbits);
		free(c->ra_buf);
		free(c);
		return -ENOMEM;
	}
	pthread_mutex_init(&c->lock, NULL);
	img->cache = c;
	return 0;
}

static void mcache_destroy(struct erofs_mcache *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->lock);
	cache_free(c->data, c->bytes);
	free(c->ways);
	free(c->ra_buf);
	free(c);
}

int erofs_image_pread(const struct erofs_image *img, void *buf, size_t len,
		      u64 pos)
{
	int ret;

	/* bulk data never lies in the metabox */
	if ((pos & EROFS_MBOX_ADDR) || !erofs_image_contains(img, pos, len))
		return -EFSCORRUPTED;
	ret = erofs_pread_full(img->fd, buf, len, img->offset + pos);
	/* the file got shorter since it was opened */
	return ret == -ENODATA ? -EFSCORRUPTED : ret;
}

/*
 * Way-major storage: the first way of every set comes first, so the blocks
 * of a small metadata area land side by side and touch few (huge) pages
 * instead of a page in every eighth of the cache.
 */
static u8 *mcache_data(const struct erofs_image *img,
		       const struct erofs_mcache *c, size_t set, unsigned int w)
{
	return c->data + (((size_t)w * c->nsets + set) << img->blkszbits);
}

/* The cached copy of block "blk", or NULL. */
static u8 *mcache_lookup(const struct erofs_image *img, struct erofs_mcache *c,
			 u64 blk)
{
	size_t set = blk & (c->nsets - 1);
	struct erofs_mcache_way *ways = c->ways + set * MCACHE_WAYS;

	for (unsigned int w = 0; w < MCACHE_WAYS; w++) {
		if (ways[w].tag == blk + 1) {
			ways[w].used = ++c->clock;
			return mcache_data(img, c, set, w);
		}
	}
	return NULL;
}

/* Keep a copy of block "blk" in its set's least recently used way. */
static void mcache_insert(const struct erofs_image *img,
			  struct erofs_mcache *c, u64 blk, const u8 *src)
{
	size_t set = blk & (c->nsets - 1);
	struct erofs_mcache_way *ways = c->ways + set * MCACHE_WAYS;
	unsigned int victim = 0;

	for (unsigned int w = 0; w < MCACHE_WAYS; w++) {
		if (ways[w].tag == blk + 1)
			return;
		if (ways[w].used < ways[victim].used)
			victim = w;
	}
	ways[victim].tag = blk + 1;
	ways[victim].used = ++c->clock;
	memcpy(mcache_data(img, c, set, victim), src, img->blksz);
}

/*
 * Read block "blk" (and, in the metadata area, the blocks after it) into
 * the readahead buffer, and keep copies of them in the cache.
 */
static int mcache_fill(struct erofs_image *img, struct erofs_mcache *c,
		       u64 blk)
{
	u64 start = blk << img->blkszbits;
	u64 nblk = 1, avail = img->size - start;
	int ret;

	/*
	 * Only a walk going forward reads ahead: inodes met out of order
	 * would copy blocks in that push out the ones to be met again.
	 */
	if (start >= c->ra_from && blk >= c->ra_next - 1 &&
	    blk < c->ra_next + MCACHE_READAHEAD)
		nblk = min_t(u64, MCACHE_READAHEAD,
			     DIV_ROUND_UP(avail, img->blksz));
	c->ra_next = blk + nblk;
	avail = min_t(u64, nblk << img->blkszbits, avail);
	ret = erofs_pread_full(img->fd, c->ra_buf, avail, img->offset + start);
	if (ret)
		return ret == -ENODATA ? -EFSCORRUPTED : ret;
	/* the image may end inside its last block */
	memset(c->ra_buf + avail, 0, (nblk << img->blkszbits) - avail);
	for (u64 i = 0; i < nblk; i++)
		mcache_insert(img, c, blk + i,
			      c->ra_buf + (i << img->blkszbits));
	return 0;
}

/*
 * Blocks of the metabox's data, decoded through the metabox inode: a miss
 * reads a run of them, outside the lock (decoding reads the metabox
 * inode's own metadata through the cache), and keeps copies under tags
 * no image block has.
 */
static int mbox_read(struct erofs_image *img, u8 *out, size_t len, u64 pos)
{
	struct erofs_mcache *c = img->cache;
	u64 tagbase = EROFS_MBOX_ADDR >> img->blkszbits;
	u8 *run = NULL;
	int ret = 0;

	while (len) {
		u64 blk = pos >> img->blkszbits, start, n;
		u32 off = pos & (img->blksz - 1);
		size_t piece = min_t(size_t, len, img->blksz - off);
		const char *why;
		u8 *data;

		pthread_mutex_lock(&c->lock);
		data = mcache_lookup(img, c, tagbase | blk);
		if (data)
			memcpy(out, data + off, piece);
		pthread_mutex_unlock(&c->lock);
		if (!data) {
			start = blk << img->blkszbits;
			n = min_t(u64, (u64)MCACHE_READAHEAD << img->blkszbits,
				  img->mbox_size - start);
			if (!run)
				run = malloc((size_t)MCACHE_READAHEAD
					     << img->blkszbits);
			if (!run) {
				ret = -ENOMEM;
				break;
			}
			/* the metabox may end inside its last block */
			memset(run, 0,
			       (size_t)MCACHE_READAHEAD << img->blkszbits);
			ret = erofs_read_data(img, img->metabox, run, n, start,
					      &why);
			if (ret) {
				/* whatever failed, the records are unreadable */
				if (ret != -ENOMEM)
					ret = -EFSCORRUPTED;
				break;
			}
			pthread_mutex_lock(&c->lock);
			for (u64 i = 0; i << img->blkszbits < n; i++)
				mcache_insert(img, c, tagbase | (blk + i),
					      run + (i << img->blkszbits));
			pthread_mutex_unlock(&c->lock);
			memcpy(out, run + off, piece);
		}
		out += piece;
		pos += piece;
		len -= piece;
	}
	free(run);
	return ret;
}

int erofs_image_read(struct erofs_image *img, void *buf, size_t len, u64 pos)
{
	struct erofs_mcache *c = img->cache;
	u8 *out = buf;
	int ret = 0;

	if (!erofs_image_contains(img, pos, len))
		return -EFSCORRUPTED;
	if (pos & EROFS_MBOX_ADDR) {
		if (!img->metabox || !c)
			return -EFSCORRUPTED;
		return mbox_read(img, buf, len, pos & ~EROFS_MBOX_ADDR);
	}
	/* long runs would only push useful blocks out */
	if (!c || len > 4 * (size_t)img->blksz)
		return erofs_image_pread(img, buf, len, pos);

	pthread_mutex_lock(&c->lock);
	while (len) {
		u64 blk = pos >> img->blkszbits;
		u32 off = pos & (img->blksz - 1);
		size_t n = min_t(size_t, len, img->blksz - off);
		u8 *data = mcache_lookup(img, c, blk);

		if (!data) {
			ret = mcache_fill(img, c, blk);
			if (ret)
				break;
			data = c->ra_buf;
		}
		memcpy(out, data + off, n);
		out += n;
		pos += n;
		len -= n;
	}
	pthread_mutex_unlock(&c->lock);
	return ret;
}

static int open_fail(struct erofs_image *img, int err, const char *why)
{
	return erofs_fail(err, "%s: %s", img->path, why);
}

static int check_features(struct erofs_image *img)
{
	const struct erofs_sb_info *sb = &img->sb;
	u32 unknown = erofs_sb_unknown_incompat(sb);
	char msg[160];

	if (unknown) {
		snprintf(msg, sizeof(msg),
			 "unknown incompatible features 0x%x: this image needs a newer reader",
			 unknown);
		return open_fail(img, -EOPNOTSUPP, msg);
	}
	if (sb->dirblkbits)
		return open_fail(img, -EOPNOTSUPP,
				 "directory blocks larger than file system blocks are not supported");
	if (EROFS_SUPER_BASE_SIZE + sb->sb_extslots * EROFS_SB_EXTSLOT_SIZE >
	    4096 - EROFS_SUPER_OFFSET)
		return open_fail(img, -EFSCORRUPTED,
				 "superblock extension slots run past its block");
	return 0;
}

/*
 * The metabox inode lies in the metadata area (the kernel refuses a
 * metabox nid that points into the metabox), and so does the packed
 * inode here: the metabox's data may be one of its fragments.
 */
static int open_metabox(struct erofs_image *img)
{
	const struct erofs_sb_info *sb = &img->sb;
	unsigned long long nid = sb->metabox_nid;
	const char *why = "";
	char msg[200];
	int ret;

	if (erofs_nid_in_metabox(sb->packed_nid))
		return open_fail(img, -EFSCORRUPTED,
				 "the packed inode's nid points into the metabox, whose data may need the packed inode (a loop)");
	if (!(sb->feature_incompat & EROFS_FEATURE_INCOMPAT_METABOX))
		return 0;
	if (!sb->sb_extslots)
		return open_fail(img, -EFSCORRUPTED,
				 "metabox feature without the superblock extension slot that names the metabox");
	if (erofs_nid_in_metabox(nid)) {
		snprintf(msg, sizeof(msg),
			 "metabox nid %llu points into the metabox itself (a loop)",
			 nid);
		return open_fail(img, -EFSCORRUPTED, msg);
	}
	img->metabox = calloc(1, sizeof(*img->metabox));
	if (!img->metabox)
		return -ENOMEM;
	ret = erofs_read_inode(img, nid, img->metabox, &why);
	if (!ret && !S_ISREG(img->metabox->i.mode)) {
		ret = -EFSCORRUPTED;
		why = "not a regular file";
	} else if (!ret && !erofs_data_readable(img->metabox)) {
		ret = -EOPNOTSUPP;
		why = "its data layout is not supported";
	}
	if (ret) {
		snprintf(msg, sizeof(msg), "metabox inode (nid %llu): %s", nid,
			 why);
		free(img->metabox);
		img->metabox = NULL;
		return open_fail(img, ret, msg);
	}
	img->mbox_size = img->metabox->i.size;
	return 0;
}

static int verify_checksum(struct erofs_image *img)
{
	size_t len = erofs_sb_csum_len(img->blkszbits);
	u8 *region;
	u32 crc;
	int ret;

	if (!erofs_image_contains(img, EROFS_SUPER_OFFSET, len))
		return open_fail(img, -EFSCORRUPTED,
				 "image too short for its superblock checksum");
	region = malloc(len);
	if (!region)
		return -ENOMEM;
	ret = erofs_image_pread(img, region, len, EROFS_SUPER_OFFSET);
	if (ret) {
		free(region);
		return open_fail(img, ret, "cannot read the superblock");
	}
	crc = erofs_sb_checksum(region, len);
	free(region);
	if (crc != img->sb.checksum) {
		char msg[96];

		snprintf(msg, sizeof(msg),
			 "superblock checksum mismatch: stored 0x%08x, computed 0x%08x",
			 img->sb.checksum, crc);
		return open_fail(img, -EFSCORRUPTED, msg);
	}
	img->sb_csum_verified = true;
	return 0;
}

/*
 * The table is read from the image, the metabox or, in older layouts, the
 * packed inode.
 */
static int prefix_bytes(struct erofs_image *img, struct erofs_rinode *packed,
			void *buf, size_t len, u64 pos, const char **why)
{
	if (!packed) {
		int ret = erofs_image_read(img, buf, len, pos);

		if (ret == -EFSCORRUPTED)
			*why = pos & EROFS_MBOX_ADDR ?
				       "long xattr prefix table runs past the end of the metabox" :
				       "long xattr prefix table runs past the end of the image";
		else if (ret)
			*why = "cannot read the long xattr prefix table";
		return ret;
	}
	if (pos > packed->i.size || len > packed->i.size - pos) {
		*why = "long xattr prefix table runs past the end of the packed inode";
		return -EFSCORRUPTED;
	}
	return erofs_read_data(img, packed, buf, len, pos, why);
}

static int load_prefixes(struct erofs_image *img)
{
	const struct erofs_sb_info *sb = &img->sb;
	struct erofs_rinode packed_inode, *packed = NULL;
	/* without PLAIN_XATTR_PFX the table may lie in an inode's data */
	bool in_inode = !(sb->feature_compat &
			  EROFS_FEATURE_COMPAT_PLAIN_XATTR_PFX);
	const char *why = "";
	u64 pos = (u64)sb->xattr_prefix_start * 4;
	char msg[160];
	int ret;

	if ((sb->feature_compat & EROFS_FEATURE_COMPAT_ISHARE_XATTRS) &&
	    sb->ishare_xattr_prefix_id >= sb->xattr_prefix_count) {
		snprintf(msg, sizeof(msg),
			 "fingerprint xattr prefix id %u is not in the table of %u prefixes",
			 sb->ishare_xattr_prefix_id, sb->xattr_prefix_count);
		return open_fail(img, -EFSCORRUPTED, msg);
	}
	if (!sb->xattr_prefix_count)
		return 0;
	/* as the kernel looks: the metabox, the packed inode, plain */
	if (in_inode && img->metabox) {
		pos |= EROFS_MBOX_ADDR;
	} else if (in_inode &&
		   (sb->feature_incompat & EROFS_FEATURE_INCOMPAT_FRAGMENTS) &&
		   sb->packed_nid) {
		ret = erofs_read_inode(img, sb->packed_nid, &packed_inode, &why);
		if (!ret && !erofs_data_readable(&packed_inode)) {
			ret = -EOPNOTSUPP;
			why = "a data layout this reader does not know";
		}
		if (ret) {
			snprintf(msg, sizeof(msg),
				 "packed inode (nid %llu) holding the xattr prefixes: %s",
				 (unsigned long long)sb->packed_nid, why);
			return open_fail(img, ret, msg);
		}
		packed = &packed_inode;
	}
	img->prefixes = calloc(sb->xattr_prefix_count, sizeof(*img->prefixes));
	if (!img->prefixes)
		return -ENOMEM;
	for (unsigned int i = 0; i < sb->xattr_prefix_count; i++) {
		struct erofs_image_prefix *p = &img->prefixes[i];
		u8 rec[256];
		__le16 lenle;
		u16 len;

		pos = round_up(pos, 4);
		ret = prefix_bytes(img, packed, &lenle, 2, pos, &why);
		if (!ret) {
			len = le16_to_cpu(lenle);
			if (!len || len > 256) {
				ret = -EFSCORRUPTED;
				why = "long xattr prefix has an invalid length";
			}
		}
		if (!ret)
			ret = prefix_bytes(img, packed, rec, len, pos + 2, &why);
		if (!ret && memchr(rec + 1, '\0', len - 1)) {
			ret = -EFSCORRUPTED;
			why = "long xattr prefix contains a NUL byte";
		}
		if (ret) {
			snprintf(msg, sizeof(msg), "long xattr prefix %u: %s", i,
				 why);
			return open_fail(img, ret, msg);
		}
		p->base_index = rec[0];
		p->infix_len = len - 1;
		memcpy(p->infix, rec + 1, len - 1);
		p->infix[len - 1] = '\0';
		pos += 2 + len;
	}
	img->nr_prefixes = sb->xattr_prefix_count;

	if (sb->feature_compat & EROFS_FEATURE_COMPAT_ISHARE_XATTRS) {
		const struct erofs_image_prefix *p;
		const char *base;

		p = &img->prefixes[sb->ishare_xattr_prefix_id];
		base = erofs_xattr_prefix_string(p->base_index);
		if (!base)
			base = "";
		if (asprintf(&img->ishare_name, "%s%s", base, p->infix) < 0) {
			img->ishare_name = NULL;
			return -ENOMEM;
		}
	}
	return 0;
}

int erofs_image_open(struct erofs_image *img, const char *path,
		     const struct erofs_image_opts *opts)
{
	struct erofs_super_block raw = { 0 };
	u8 buf[4096 - EROFS_SUPER_OFFSET] = { 0 };
	const char *why = NULL;
	struct stat st;
	size_t avail;
	int ret;

	static u64 last_id;

	memset(img, 0, sizeof(*img));
	img->id = __atomic_add_fetch(&last_id, 1, __ATOMIC_RELAXED);
	img->fd = -1;
	img->path = strdup(path);
	if (!img->path)
		return -ENOMEM;
	img->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (img->fd < 0) {
		ret = -errno;
		erofs_fail(ret, "%s: %s", path, strerror(errno));
		goto err;
	}
	if (fstat(img->fd, &st)) {
		ret = -errno;
		erofs_fail(ret, "%s: %s", path, strerror(errno));
		goto err;
	}
	if (S_ISBLK(st.st_mode)) {
		off_t end = lseek(img->fd, 0, SEEK_END);

		img->size = end < 0 ? 0 : (u64)end;
	} else if (S_ISREG(st.st_mode)) {
		img->size = st.st_size;
	} else {
		ret = erofs_fail(-EINVAL, "%s: not a regular file or block device",
				 path);
		goto err;
	}
	img->offset = opts ? opts->offset : 0;
	if (img->offset > img->size) {
		ret = erofs_fail(-EINVAL, "%s: offset %llu is past the end (%llu bytes)",
				 path, (unsigned long long)img->offset,
				 (unsigned long long)img->size);
		goto err;
	}
	img->size -= img->offset;

	if (img->size <= EROFS_SUPER_OFFSET) {
		ret = open_fail(img, -EFSCORRUPTED,
				"too small to hold a superblock");
		goto err;
	}
	avail = min_t(u64, sizeof(buf), img->size - EROFS_SUPER_OFFSET);
	ret = erofs_image_pread(img, buf, avail, EROFS_SUPER_OFFSET);
	if (ret) {
		open_fail(img, ret, "cannot read the superblock");
		goto err;
	}
	ret = erofs_sb_decode(buf, avail, &img->sb, &why);
	if (ret) {
		char msg[128];

		snprintf(msg, sizeof(msg), "superblock: %s", why);
		open_fail(img, ret, msg);
		goto err;
	}
	memcpy(&raw, buf, min(avail, sizeof(raw)));
	img->xattr_filter_reserved = raw.xattr_filter_reserved;
	img->blkszbits = img->sb.blkszbits;
	img->blksz = img->sb.blksz;

	if (!(opts && opts->no_sbcrc) &&
	    (img->sb.feature_compat & EROFS_FEATURE_COMPAT_SB_CHKSUM)) {
		ret = verify_checksum(img);
		if (ret)
			goto err;
	}
	ret = check_features(img);
	if (ret)
		goto err;
	ret = erofs_check_compr_cfgs(img, &why);
	if (ret) {
		open_fail(img, ret, why);
		goto err;
	}
	ret = erofs_devices_open(img, opts ? opts->devices : NULL,
				 opts ? opts->nr_devices : 0);
	if (ret)
		goto err;
	ret = mcache_create(img);
	if (ret)
		goto err;
	ret = open_metabox(img);
	if (ret)
		goto err;
	ret = load_prefixes(img);
	if (ret)
		goto err;
	return 0;
err:
	erofs_image_close(img);
	return ret;
}

void erofs_image_close(struct erofs_image *img)
{
	erofs_devices_close(img);
	if (img->fd >= 0)
		close(img->fd);
	img->fd = -1;
	mcache_destroy(img->cache);
	img->cache = NULL;
	free(img->prefixes);
	img->prefixes = NULL;
	free(img->metabox);
	img->metabox = NULL;
	img->mbox_size = 0;
	free(img->ishare_name);
	img->ishare_name = NULL;
	free(img->path);
	img->path = NULL;
}

static int corrupt(const char **why, const char *reason)
{
	*why = reason;
	return -EFSCORRUPTED;
}

static int layout_flat(struct erofs_image *img, struct erofs_rinode *ri,
		       const char **why)
{
	const struct erofs_inode_info *ii = &ri->i;
	u64 nblocks = erofs_inode_nblocks(img, ri), outside = nblocks, room;
	bool wide;

	ri->startblk = ii->i_u | (u64)ii->nb_hi << 32;
	/* the address is 48-bit wide where the inode can carry the top */
	wide = ii->version == EROFS_INODE_LAYOUT_EXTENDED ||
	       (!S_ISDIR(ii->mode) &&
		(ii->format_flags & (1 << EROFS_I_NLINK_1_BIT)));
	if (ii->datalayout == EROFS_INODE_FLAT_INLINE && ii->size) {
		u32 in_block;

		outside = nblocks - 1;
		ri->tail_len = ii->size - (outside << img->blkszbits);
		ri->tail_pos = ri->meta_end;
		in_block = ri->tail_pos & (img->blksz - 1);
		if (in_block + ri->tail_len > img->blksz)
			return corrupt(why,
				       "inline data crosses a block boundary");
		if (!erofs_image_contains(img, ri->tail_pos, ri->tail_len))
			return corrupt(why,
				       "inline data lies past the end of the image");
	} else if (ii->datalayout == EROFS_INODE_FLAT_PLAIN) {
		ri->null_startblk = ii->i_u == EROFS_NULL_ADDR &&
				    (!wide || ii->nb_hi == 0xFFFF);
		if (ri->null_startblk)
			return 0;
	}
	if (!outside)
		return 0;
	/* the data may lie on an extra device through its unified address */
	ri->data_pos = ri->startblk << img->blkszbits;
	if (erofs_device_resolve(img, &ri->data_dev, &ri->data_pos, &room,
				 why))
		return corrupt(why, "data blocks lie past the end of the image");
	if ((ii->datalayout == EROFS_INODE_FLAT_INLINE ?
		     outside << img->blkszbits :
		     ii->size) > room)
		return corrupt(why, ri->data_dev ?
				       "data blocks run past the end of their extra device" :
				       "data blocks lie past the end of the image or run into an extra device");
	return 0;
}

static int layout_chunked(struct erofs_image *img, struct erofs_rinode *ri,
			  const char **why)
{
	u16 format = ri->i.i_u & 0xFFFF;

	if (format & ~EROFS_CHUNK_FORMAT_ALL) {
		*why = "chunk format has unknown bits (0x80 and up): not supported";
		return -EOPNOTSUPP;
	}
	ri->chunkbits = img->blkszbits +
			(format & EROFS_CHUNK_FORMAT_BLKBITS_MASK);
	ri->chunk_unit = format & EROFS_CHUNK_FORMAT_INDEXES ?
				 sizeof(struct erofs_inode_chunk_index) :
				 sizeof(__le32);
	ri->chunk_48bit = format & EROFS_CHUNK_FORMAT_48BIT;
	ri->nchunks = ri->i.size ? ((ri->i.size - 1) >> ri->chunkbits) + 1 : 0;
	ri->chunk_pos = round_up(ri->meta_end, ri->chunk_unit);
	if (ri->nchunks > img->size / ri->chunk_unit ||
	    !erofs_image_contains(img, ri->chunk_pos,
				  ri->nchunks * ri->chunk_unit))
		return corrupt(why, "chunk table lies past the end of the image");
	return 0;
}

int erofs_read_inode(struct erofs_image *img, erofs_nid_t nid,
		     struct erofs_rinode *ri, const char **why)
{
	u8 buf[sizeof(struct erofs_inode_extended)];
	u64 base = img->sb.meta_blkaddr << img->blkszbits;
	u64 slot = nid, end = img->size;
	size_t avail;
	int ret;

	memset(ri, 0, sizeof(*ri));
	ri->nid = nid;
	/* records in the metabox count from the start of its data */
	if (erofs_nid_in_metabox(nid)) {
		if (!img->metabox)
			return corrupt(why,
				       "nid points into a metabox the image does not have");
		base = EROFS_MBOX_ADDR;
		slot = nid & EROFS_DIRENT_NID_MASK;
		end = img->mbox_size;
	}
	if (slot > (end >> EROFS_ISLOTBITS) ||
	    !erofs_image_contains(img, base + (slot << EROFS_ISLOTBITS),
				  sizeof(struct erofs_inode_compact)))
		return corrupt(why, base & EROFS_MBOX_ADDR ?
				       "inode lies past the end of the metabox" :
				       "inode lies past the end of the image");
	ri->iloc = base + (slot << EROFS_ISLOTBITS);
	avail = min_t(u64, sizeof(buf),
		      end - (ri->iloc & ~EROFS_MBOX_ADDR));
	ret = erofs_image_read(img, buf, avail, ri->iloc);
	if (ret) {
		*why = "cannot read the inode";
		return ret;
	}
	ret = erofs_inode_decode(&img->sb, buf, avail, &ri->i, why);
	if (ret)
		return ret;
	ri->inode_isize = erofs_inode_disk_size(ri->i.version);
	ri->xattr_isize = erofs_xattr_ibody_size(ri->i.xattr_icount);
	ri->meta_end = ri->iloc + ri->inode_isize + ri->xattr_isize;
	if (!erofs_image_contains(img, ri->iloc,
				  ri->inode_isize + ri->xattr_isize))
		return corrupt(why, "xattr area lies past the end of the image");
	if (ri->i.size >> 63)
		return corrupt(why, "negative file size");

	switch (ri->i.mode & S_IFMT) {
	case S_IFREG:
	case S_IFDIR:
	case S_IFLNK:
		break;
	default:
		/* i_u holds the device number; nothing is stored as data */
		if (erofs_layout_is_compressed(ri->i.datalayout))
			return corrupt(why, "special file with compressed data");
		return 0;
	}
	switch (ri->i.datalayout) {
	case EROFS_INODE_FLAT_PLAIN:
	case EROFS_INODE_FLAT_INLINE:
		return layout_flat(img, ri, why);
	case EROFS_INODE_CHUNK_BASED:
		return layout_chunked(img, ri, why);
	default:
		/* compressed: decoded by the compression reader */
		return 0;
	}
}

/* Linux releases that first read each incompatible feature. */
static const struct {
	u32 incompat;
	const char *version;
	const char *what;
} kernel_gates[] = {
	{ EROFS_FEATURE_INCOMPAT_METABOX, "6.17", "metabox" },
	{ EROFS_FEATURE_INCOMPAT_48BIT, "6.15", "48bit" },
	{ EROFS_FEATURE_INCOMPAT_XATTR_PREFIXES, "6.4", "xattr_prefixes" },
	{ EROFS_FEATURE_INCOMPAT_FRAGMENTS, "6.1", "fragments/dedupe" },
	{ EROFS_FEATURE_INCOMPAT_ZTAILPACKING, "5.17", "ztailpacking" },
	{ EROFS_FEATURE_INCOMPAT_DEVICE_TABLE, "5.16", "device_table" },
	{ EROFS_FEATURE_INCOMPAT_CHUNKED_FILE, "5.15", "chunked_file" },
	{ EROFS_FEATURE_INCOMPAT_COMPR_CFGS, "5.13", "compr_cfgs" },
};

static const struct {
	unsigned int alg;
	const char *version;
	const char *what;
} algorithm_gates[] = {
	{ Z_EROFS_COMPRESSION_ZSTD, "6.10", "zstd" },
	{ Z_EROFS_COMPRESSION_DEFLATE, "6.6", "deflate" },
	{ Z_EROFS_COMPRESSION_LZMA, "5.16", "lzma" },
};

static int version_cmp(const char *a, const char *b)
{
	unsigned int amaj = 0, amin = 0, bmaj = 0, bmin = 0;

	sscanf(a, "%u.%u", &amaj, &amin);
	sscanf(b, "%u.%u", &bmaj, &bmin);
	if (amaj != bmaj)
		return amaj < bmaj ? -1 : 1;
	return amin < bmin ? -1 : amin > bmin;
}

const char *erofs_image_min_kernel(const struct erofs_sb_info *sb,
				   const char **reason)
{
	const char *best = "5.4";

	*reason = "EROFS outside staging";
	for (size_t i = 0; i < ARRAY_SIZE(kernel_gates); i++) {
		if ((sb->feature_incompat & kernel_gates[i].incompat) &&
		    version_cmp(kernel_gates[i].version, best) > 0) {
			best = kernel_gates[i].version;
			*reason = kernel_gates[i].what;
		}
	}
	if (sb->feature_incompat & EROFS_FEATURE_INCOMPAT_COMPR_CFGS) {
		for (size_t i = 0; i < ARRAY_SIZE(algorithm_gates); i++) {
			if ((sb->available_compr_algs &
			     (1U << algorithm_gates[i].alg)) &&
			    version_cmp(algorithm_gates[i].version, best) > 0) {
				best = algorithm_gates[i].version;
				*reason = algorithm_gates[i].what;
			}
		}
	}
	return best;
}
