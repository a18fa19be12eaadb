// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * An open image's metadata: reads checked against the image's size
 * through a small block cache, and the metabox's data through its inode.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "erofs/error.h"
#include "erofs/format.h"
#include "erofs/image.h"
#include "erofs/io.h"

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

int erofs_image_cache_create(struct erofs_image *img)
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

void erofs_image_cache_destroy(struct erofs_image *img)
{
	struct erofs_mcache *c = img->cache;

	img->cache = NULL;
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
			ret = img->read_metabox(img, run, n, start, &why);
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
		if (!img->metabox || !img->read_metabox || !c)
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
