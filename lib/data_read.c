// SPDX-License-Identifier: GPL-2.0-or-later
/* Mapping and reading file data, one map function per data layout. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "erofs/budget.h"
#include "erofs/data_read.h"
#include "erofs/device.h"
#include "erofs/format.h"
#include "erofs/inode_read.h"
#include "erofs/zextent.h"

struct layout_ops {
	const char *name;
	int (*map)(struct erofs_image *img, const struct erofs_rinode *ri,
		   u64 la, struct erofs_map *m, const char **why);
};

static int map_flat(struct erofs_image *img, const struct erofs_rinode *ri,
		    u64 la, struct erofs_map *m, const char **why)
{
	u64 outside = ri->i.size - ri->tail_len;

	m->dev = 0;
	if (ri->null_startblk) {
		m->kind = EROFS_MAP_HOLE;
		m->la = 0;
		m->llen = ri->i.size;
		return 0;
	}
	if (la < outside) {
		/* checked to lie on one device when the inode was read */
		m->kind = EROFS_MAP_MAPPED;
		m->la = 0;
		m->llen = outside;
		m->dev = ri->data_dev;
		m->pa = ri->data_pos;
	} else {
		m->kind = EROFS_MAP_INLINE;
		m->la = outside;
		m->llen = ri->tail_len;
		m->pa = ri->tail_pos;
	}
	return 0;
}

/* Chunks whose entries are read at once to merge contiguous ones. */
#define CHUNK_BATCH 256

struct chunk {
	u64 blk; /* first block; UINT64_MAX for a hole */
	unsigned int dev;
};

/*
 * A chunk's first block and device, as the kernel reads them: the
 * device_id masked to the table's size (nydus keeps other data in the
 * high bits), startblk_hi only with the 48-bit format (it was "advise").
 */
static void chunk_entry(const struct erofs_image *img,
			const struct erofs_rinode *ri, const u8 *p,
			struct chunk *c)
{
	c->dev = 0;
	if (ri->chunk_unit == sizeof(__le32)) {
		__le32 v;

		memcpy(&v, p, sizeof(v));
		c->blk = le32_to_cpu(v) == EROFS_NULL_ADDR ? UINT64_MAX :
							     le32_to_cpu(v);
	} else {
		struct erofs_inode_chunk_index ci;
		u64 addr, mask;

		memcpy(&ci, p, sizeof(ci));
		addr = le32_to_cpu(ci.startblk_lo);
		mask = EROFS_NULL_ADDR;
		if (ri->chunk_48bit) {
			addr |= (u64)le16_to_cpu(ci.startblk_hi) << 32;
			mask = (1ULL << 48) - 1;
		}
		if (addr == mask) {
			c->blk = UINT64_MAX;
			return;
		}
		c->blk = addr;
		c->dev = le16_to_cpu(ci.device_id) & img->device_id_mask;
	}
}

static int map_chunked(struct erofs_image *img, const struct erofs_rinode *ri,
		       u64 la, struct erofs_map *m, const char **why)
{
	u8 buf[CHUNK_BATCH * sizeof(struct erofs_inode_chunk_index)];
	u64 idx = la >> ri->chunkbits, blocks_per_chunk, end, pos, room;
	struct chunk first, next;
	unsigned int n, i, dev;
	int ret;

	if (idx >= ri->nchunks) {
		*why = "offset past the chunk table";
		return -EFSCORRUPTED;
	}
	n = min_t(u64, CHUNK_BATCH, ri->nchunks - idx);
	ret = erofs_image_read(img, buf, (size_t)n * ri->chunk_unit,
			       ri->chunk_pos + idx * ri->chunk_unit);
	if (ret) {
		*why = "cannot read the chunk table";
		return ret;
	}
	chunk_entry(img, ri, buf, &first);
	blocks_per_chunk = 1ULL << (ri->chunkbits - img->blkszbits);
	for (i = 1; i < n; i++) {
		chunk_entry(img, ri, buf + i * ri->chunk_unit, &next);
		if (first.blk == UINT64_MAX ?
			    next.blk != UINT64_MAX :
			    next.dev != first.dev ||
				    next.blk != first.blk + i * blocks_per_chunk)
			break;
	}
	m->la = idx << ri->chunkbits;
	m->dev = 0;
	if (first.blk == UINT64_MAX) {
		end = (idx + i) << ri->chunkbits;
		m->llen = min(end, ri->i.size) - m->la;
		m->kind = EROFS_MAP_HOLE;
		return 0;
	}
	if (first.dev > img->nr_devices) {
		*why = "chunk index names a device the device table does not have";
		return -EFSCORRUPTED;
	}
	dev = first.dev;
	pos = first.blk << img->blkszbits;
	ret = erofs_device_resolve(img, &dev, &pos, &room, why);
	if (ret) {
		*why = first.dev ? "chunk data lies past the end of its extra device" :
				   "chunk data lies past the end of the image";
		return ret;
	}
	/* the run ends where its device (or unified range) does */
	for (;;) {
		end = (idx + i) << ri->chunkbits;
		m->llen = min(end, ri->i.size) - m->la;
		if (m->llen <= room || i == 1)
			break;
		i--;
	}
	if (m->llen > room) {
		*why = dev ? "chunk data runs past the end of its extra device" :
			     "chunk data lies past the end of the image or runs into an extra device";
		return -EFSCORRUPTED;
	}
	m->kind = EROFS_MAP_MAPPED;
	m->dev = dev;
	m->pa = pos;
	return 0;
}

/* Compressed layouts map whole extents (lib/zextent.c). */
static int map_compressed(struct erofs_image *img,
			  const struct erofs_rinode *ri, u64 la,
			  struct erofs_map *m, const char **why)
{
	struct erofs_zx x;
	int ret = erofs_zextent_lookup(img, ri, la, &x, why);

	if (ret)
		return ret;
	m->la = x.la;
	m->llen = x.llen;
	m->pa = x.pa;
	m->plen = x.plen;
	m->zfmt = x.fmt;
	m->zwhere = x.where;
	m->kind = x.where == EROFS_ZX_HOLE ? EROFS_MAP_HOLE : EROFS_MAP_ENCODED;
	return 0;
}

/*
 * The cluster decoded last by this thread, keyed by where it is and what
 * it decodes to: reads in pieces (fsck, extract) decode each extent once,
 * and extents that name the same cluster (deduplicated data) reuse it.
 */
static __thread struct {
	struct erofs_budget_slot key; /* key.img_id 0: nothing cached */
	/* the extent it was last handed out for, charged to the budget */
	u64 img_id, iloc, la;
	erofs_nid_t nid;
	u8 *buf;
	u64 cap;
} zlast;

static pthread_key_t zlast_key;
static pthread_once_t zlast_once = PTHREAD_ONCE_INIT;

/* A thread that ends (fsck's data workers) leaves no buffer behind. */
static void zlast_release(void *unused)
{
	free(zlast.buf);
	memset(&zlast, 0, sizeof(zlast));
}

static void zlast_key_create(void)
{
	pthread_key_create(&zlast_key, zlast_release);
}

/* What an extent stored in a cluster decodes from and to. */
static void cluster_key(const struct erofs_image *img, const struct erofs_zx *x,
			struct erofs_budget_slot *k)
{
	memset(k, 0, sizeof(*k));
	k->img_id = img->id;
	k->pa = x->pa;
	k->plen = x->plen;
	k->llen = x->llen;
	k->fmt = x->fmt;
	k->partial = x->partial;
	/* an interlaced cluster is rotated by where the extent starts */
	if (x->fmt == EROFS_ZFMT_INTERLACED)
		k->rot = x->la & (img->blksz - 1);
	k->rot |= x->where << 12;
}

static bool same_key(const struct erofs_budget_slot *a,
		     const struct erofs_budget_slot *b)
{
	return a->img_id == b->img_id && a->pa == b->pa &&
	       a->plen == b->plen && a->llen == b->llen && a->fmt == b->fmt &&
	       a->partial == b->partial && a->rot == b->rot;
}

/*
 * Have the extent of "m" decoded in zlast. Each extent handed out is
 * charged to the run's budget once, with its whole length, whether it is
 * decoded or found decoded already.
 */
static int decode_extent(struct erofs_image *img, const struct erofs_rinode *ri,
			 const struct erofs_map *m, const char **why)
{
	struct erofs_zx x = {
		.la = m->la, .llen = m->llen, .pa = m->pa, .plen = m->plen,
		.fmt = m->zfmt, .where = m->zwhere,
	};
	struct erofs_budget_slot key;
	bool same_extent;
	int ret;

	/* the partial flag is not in the map: look it up again */
	ret = erofs_zextent_lookup(img, ri, m->la, &x, why);
	if (ret)
		return ret;
	cluster_key(img, &x, &key);
	same_extent = zlast.img_id == img->id && zlast.nid == ri->nid &&
		      zlast.iloc == ri->iloc && zlast.la == x.la;
	if (same_key(&zlast.key, &key)) {
		if (!same_extent) {
			ret = erofs_budget_decompress(img->budget, x.llen, why);
			if (ret)
				return ret;
		}
	} else {
		u8 *buf = zlast.buf;
		u64 cap = zlast.cap;

		ret = erofs_budget_decompress(img->budget, x.llen, why);
		if (ret)
			return ret;
		/*
		 * A fragment is read from the packed inode through this very
		 * function: the buffer is taken out of the cache meanwhile.
		 */
		zlast.buf = NULL;
		zlast.cap = 0;
		zlast.key.img_id = 0;
		zlast.img_id = 0;
		if (cap < x.llen) {
			u8 *nb = realloc(buf, x.llen);

			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap = x.llen;
			pthread_once(&zlast_once, zlast_key_create);
			pthread_setspecific(zlast_key, &zlast);
		}
		ret = erofs_zextent_read(img, &x, buf, why);
		free(zlast.buf);
		zlast.buf = buf;
		zlast.cap = cap;
		if (ret)
			return ret;
		zlast.key = key;
	}
	zlast.img_id = img->id;
	zlast.nid = ri->nid;
	zlast.iloc = ri->iloc;
	zlast.la = x.la;
	return 0;
}

static int read_encoded(struct erofs_image *img, const struct erofs_rinode *ri,
			const struct erofs_map *m, u8 *out, u64 skip, u64 n,
			const char **why)
{
	int ret;

	if (m->zwhere == EROFS_ZX_FRAGMENT) {
		struct erofs_rinode packed;

		/*
		 * Fragments lie uncompressed in the packed inode: read the
		 * piece asked for, without a buffer of the extent's size
		 * (a whole-file fragment is as long as the file claims).
		 * Many files may name the same bytes: they count each time.
		 */
		ret = erofs_budget_decompress(img->budget, n, why);
		if (!ret)
			ret = erofs_zextent_packed(img, m->pa + skip, n, &packed,
						   why);
		if (ret)
			return ret;
		return erofs_read_data(img, &packed, out, n, m->pa + skip,
				       why);
	}
	ret = decode_extent(img, ri, m, why);
	if (ret)
		return ret;
	memcpy(out, zlast.buf + skip, n);
	return 0;
}

int erofs_check_encoded(struct erofs_image *img, const struct erofs_rinode *ri,
			const struct erofs_map *m, const char **why)
{
	struct erofs_budget_slot key;
	struct erofs_rinode packed;
	struct erofs_zx x;
	int ret;

	if (m->kind != EROFS_MAP_ENCODED)
		return 0;
	if (m->zwhere == EROFS_ZX_FRAGMENT) {
		/* the packed inode's own clusters, each checked once */
		u64 pos = m->pa, end;

		ret = erofs_zextent_packed(img, m->pa, m->llen, &packed, why);
		if (ret)
			return ret;
		end = m->pa + m->llen;
		while (pos < end) {
			struct erofs_map pm;

			ret = erofs_map_data(img, &packed, pos, &pm, why);
			if (!ret && pm.kind == EROFS_MAP_ENCODED)
				ret = erofs_check_encoded(img, &packed, &pm,
							  why);
			if (ret)
				return ret;
			pos = pm.la + pm.llen;
		}
		return 0;
	}
	ret = erofs_zextent_lookup(img, ri, m->la, &x, why);
	if (ret)
		return ret;
	if (x.where == EROFS_ZX_HOLE)
		return 0;
	cluster_key(img, &x, &key);
	if (erofs_budget_checked(img->budget, &key))
		return 0;
	ret = decode_extent(img, ri, m, why);
	if (!ret)
		erofs_budget_mark_checked(img->budget, &key);
	return ret;
}

static const struct layout_ops layouts[EROFS_INODE_DATALAYOUT_MAX] = {
	[EROFS_INODE_FLAT_PLAIN] = { "flat", map_flat },
	[EROFS_INODE_COMPRESSED_FULL] = { "compressed (full indexes)",
					  map_compressed },
	[EROFS_INODE_FLAT_INLINE] = { "flat with inline tail", map_flat },
	[EROFS_INODE_COMPRESSED_COMPACT] = { "compressed (compact indexes)",
					     map_compressed },
	[EROFS_INODE_CHUNK_BASED] = { "chunk-based", map_chunked },
};

const char *erofs_datalayout_name(unsigned int datalayout)
{
	if (datalayout >= EROFS_INODE_DATALAYOUT_MAX)
		return "unknown";
	return layouts[datalayout].name;
}

bool erofs_data_readable(const struct erofs_rinode *ri)
{
	return ri->i.datalayout < EROFS_INODE_DATALAYOUT_MAX;
}

int erofs_map_data(struct erofs_image *img, const struct erofs_rinode *ri,
		   u64 la, struct erofs_map *m, const char **why)
{
	int ret;

	if (la >= ri->i.size) {
		*why = "offset past the end of the file";
		return -EINVAL;
	}
	ret = layouts[ri->i.datalayout].map(img, ri, la, m, why);
	if (ret)
		return ret;
	/* every layout must make progress, whatever the image says */
	if (m->la > la || m->llen > ri->i.size - m->la ||
	    la - m->la >= m->llen) {
		*why = "data map does not cover the offset";
		return -EFSCORRUPTED;
	}
	return 0;
}

int erofs_read_data(struct erofs_image *img, const struct erofs_rinode *ri,
		    void *buf, size_t len, u64 pos, const char **why)
{
	u8 *out = buf;

	if (pos > ri->i.size || len > ri->i.size - pos) {
		*why = "read past the end of the file";
		return -EFSCORRUPTED;
	}
	while (len) {
		struct erofs_map m;
		u64 skip;
		size_t n;
		int ret;

		ret = erofs_map_data(img, ri, pos, &m, why);
		if (ret)
			return ret;
		skip = pos - m.la;
		n = min_t(u64, len, m.llen - skip);
		switch (m.kind) {
		case EROFS_MAP_HOLE:
			memset(out, 0, n);
			ret = 0;
			break;
		case EROFS_MAP_INLINE:
			ret = erofs_image_read(img, out, n, m.pa + skip);
			break;
		case EROFS_MAP_ENCODED:
			ret = read_encoded(img, ri, &m, out, skip, n, why);
			if (ret)
				return ret;
			break;
		default:
			ret = erofs_device_read(img, m.dev, out, n, m.pa + skip,
						why);
			if (ret)
				return ret;
			break;
		}
		if (ret) {
			*why = ret == -EFSCORRUPTED ?
				       "data lies past the end of the image" :
				       "cannot read data";
			return ret;
		}
		out += n;
		pos += n;
		len -= n;
	}
	return 0;
}

int erofs_data_physical_bytes(struct erofs_image *img,
			      const struct erofs_rinode *ri, u64 *bytes,
			      const char **why)
{
	u64 pos = 0, total = 0;

	*bytes = 0;
	if (!S_ISREG(ri->i.mode) && !S_ISDIR(ri->i.mode) &&
	    !S_ISLNK(ri->i.mode))
		return 0;
	if (erofs_layout_is_compressed(ri->i.datalayout)) {
		u64 blocks = ri->i.i_u | (u64)ri->i.nb_hi << 32;

		*bytes = blocks << img->blkszbits;
		return 0;
	}
	while (pos < ri->i.size) {
		struct erofs_map m;
		int ret = erofs_map_data(img, ri, pos, &m, why);

		if (ret)
			return ret;
		if (m.kind == EROFS_MAP_INLINE)
			total += m.llen;
		else if (m.kind == EROFS_MAP_MAPPED)
			total += round_up(m.llen, (u64)img->blksz);
		pos = m.la + m.llen;
	}
	*bytes = total;
	return 0;
}
