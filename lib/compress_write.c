// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The compressed part of the data pass. Files are cut into segments of at
 * most ZSEG_SIZE bytes; worker threads compress segments in any order, and
 * the committer (the calling thread) appends their clusters to the image
 * in segment order. Cluster addresses therefore depend only on the tree
 * and the options, never on thread timing: the image is the same for any
 * number of workers.
 *
 * A file of one segment whose compressed form would not save space (as
 * erofs-utils judges it: data blocks + inline bytes + full index size >=
 * file size) is stored uncompressed instead. Larger files stay compressed
 * whatever their content, so their clusters can be written as they come
 * (incompressible parts become uncompressed clusters).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "erofs/build.h"
#include "erofs/error.h"
#include "erofs/fingerprint.h"
#include "erofs/format.h"
#include "erofs/zmap.h"

#ifdef HAVE_XXHASH
#include <xxhash.h>
#endif

#define ZSEG_SIZE (16U << 20)
#define ZSPARE_MAX 4

struct zbuf {
	u8 *p;
	u64 cap;
};

static u64 content_hash(const u8 *p, u64 len)
{
#ifdef HAVE_XXHASH
	return XXH3_64bits(p, len);
#else
	u64 h = 0xcbf29ce484222325ULL;

	for (u64 i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
#endif
}

struct zjob {
	struct erofs_node *n;
	u64 off;
	u32 len;
	bool first, last;
	bool done;
	bool flat; /* compression saves nothing: store it uncompressed */
	u64 chash; /* content hash of a one-segment file, for dedupe */
	struct zbuf input; /* kept when the committer hashes the bytes */
	struct erofs_zsegment seg;
};

/*
 * The packed inode's data: file tails (-E fragments) or whole files
 * (-E all-fragments) in commit order, each identical fragment stored once.
 */
struct erofs_zpacked {
	u8 *buf;
	u64 size, cap;
	struct zfrag { u64 hash, off; u32 len; } *tab; /* open addressing */
	u64 tab_cap, tab_used;
};

/*
 * Files already committed compressed, by content hash (-E dedupe): an
 * identical later file takes over their extents and clusters.
 */
struct zdedupe {
	struct zdone {
		u64 hash;
		struct erofs_node *n; /* NULL: free slot */
		struct erofs_zextent *ext;
		u32 next;
		u64 blocks, frag_off;
		erofs_blk_t first_blk;
	} *tab;
	u64 cap, used;
};

struct zpass {
	struct erofs_build *b;
	struct erofs_zpacked *packed;
	struct zdedupe *dd;
	bool packing; /* this pass compresses the packed inode itself */
	struct zjob *jobs;
	u64 njobs;
	u64 next; /* next job a worker takes */
	u64 committed; /* jobs before this one are in the image */
	u64 window; /* jobs in flight at most */
	u64 inflight; /* input bytes taken but not committed */
	u64 budget; /* ... at most this much, to bound memory */
	int error;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/*
	 * Buffers the committer is done with, for the workers: a fresh buffer
	 * costs a page fault per page (with a copy per job instead, lz4
	 * builds of a 200 MB tree took 4% longer, 11% with --ishare).
	 */
	struct zbuf spare[ZSPARE_MAX];
	unsigned int nspare;
};

struct zworker {
	struct zpass *pass;
	struct erofs_zwork zw;
	struct erofs_sha256 sha;
	/* reused buffers: fresh ones per job cost a page fault per page */
	struct zbuf in, out;
};

/* Take a spare buffer, or none: the caller has given its own away. */
static void take_spare(struct zpass *p, struct zbuf *b)
{
	pthread_mutex_lock(&p->lock);
	*b = p->nspare ? p->spare[--p->nspare] : (struct zbuf){ 0 };
	pthread_mutex_unlock(&p->lock);
}

static void put_spare(struct zpass *p, struct zbuf *b)
{
	if (!b->p)
		return;
	pthread_mutex_lock(&p->lock);
	if (p->nspare < ZSPARE_MAX)
		p->spare[p->nspare++] = *b;
	else
		free(b->p);
	pthread_mutex_unlock(&p->lock);
	*b = (struct zbuf){ 0 };
}

static bool single(const struct zjob *j)
{
	return j->first && j->last;
}

static struct erofs_zextent *tail_extent(const struct erofs_zsegment *seg)
{
	return &seg->ext[seg->next - 1];
}

/* Whether the compressed form is worth it, as erofs-utils decides. */
static bool saves_space(const struct erofs_build *b, const struct zjob *j)
{
	u64 nidx = DIV_ROUND_UP(j->n->size, b->blksz);

	/* stored bytes count inline ones too; indexes at their full size */
	return j->seg.size + 16 + nidx * 8 < j->n->size;
}

static u8 *dup_bytes(const u8 *p, u64 len)
{
	u8 *d = malloc(max_t(u64, len, 1));

	if (d)
		memcpy(d, p, len);
	return d;
}

static int run_job(struct zworker *w, struct zjob *j)
{
	struct erofs_build *b = w->pass->b;
	const struct erofs_compress_opts *o = b->zi->opts;
	struct erofs_node *n = j->n;
	enum erofs_ztail tail = EROFS_ZTAIL_BLOCKS;
	struct erofs_sha256 *sha;
	struct erofs_data_src s;
	int ret;

	if (w->pass->packing)
		tail = EROFS_ZTAIL_BLOCKS;
	else if (o->fragments)
		tail = EROFS_ZTAIL_FRAGMENT;
	else if (o->ztailpacking)
		tail = EROFS_ZTAIL_INLINE;
	if (w->in.cap < j->len) {
		/* most jobs are one segment or less: grow once */
		u64 cap = max_t(u64, j->len, ZSEG_SIZE);

		free(w->in.p);
		w->in.p = malloc(cap);
		w->in.cap = w->in.p ? cap : 0;
		if (!w->in.p)
			return -ENOMEM;
	}
	/* one-segment files are hashed here, the others by the committer */
	sha = single(j) && n->has_fingerprint ? &w->sha : NULL;
	if (n->data_kind == EROFS_DATA_MEM) {
		memcpy(w->in.p, n->src.mem + j->off, j->len);
		if (sha)
			erofs_sha256_update(sha, w->in.p, j->len);
	} else {
		ret = erofs_src_open(b, n, &s);
		if (ret)
			return ret;
		ret = erofs_src_read_hashed(&s, w->in.p, j->len, j->off, sha);
		if (!ret && j->last)
			ret = erofs_src_check_end(&s, n->size);
		erofs_src_close(&s);
		if (ret)
			return ret;
	}
	if (sha)
		erofs_sha256_final(sha, n->fingerprint);
	if (single(j) && w->pass->dd)
		j->chash = content_hash(w->in.p, j->len);
	j->seg.data = w->out.p;
	j->seg.data_cap = w->out.cap;
	if (o->all_fragments && !w->pass->packing)
		ret = erofs_zsegment_fragment(w->in.p, j->len, j->off, &j->seg);
	else
		ret = erofs_zsegment_compress(&w->zw, n->L.zalg,
					      n->L.zpclusterblks, w->in.p,
					      j->len, j->off, j->last, tail,
					      &j->seg);
	w->out = (struct zbuf){ j->seg.data, j->seg.data_cap };
	j->seg.data = NULL;
	if (ret)
		return ret;
	/* the committer hashes the segments of a large file in order */
	if (!single(j) && n->has_fingerprint) {
		j->input = w->in;
		take_spare(w->pass, &w->in);
	}
	/*
	 * A file stored flat is copied from its source again. Files with a
	 * fragment stay compressed, as erofs-utils keeps them.
	 */
	if (single(j) && !(j->seg.next && tail_extent(&j->seg)->fragment) &&
	    !saves_space(b, j)) {
		j->flat = true;
		erofs_zsegment_free(&j->seg);
		return 0;
	}
	/*
	 * An output that fills most of the buffer takes the buffer along;
	 * a small one is copied out, so that jobs in flight hold about what
	 * they produced.
	 */
	if (j->seg.size * 2 >= w->out.cap) {
		j->seg.data = w->out.p;
		j->seg.data_cap = w->out.cap;
		take_spare(w->pass, &w->out);
		return 0;
	}
	j->seg.data = dup_bytes(w->out.p, j->seg.size);
	j->seg.data_cap = j->seg.size;
	return j->seg.data ? 0 : -ENOMEM;
}

static void *worker_main(void *arg)
{
	struct zworker *w = arg;
	struct zpass *p = w->pass;

	for (;;) {
		struct zjob *j;
		int ret;

		pthread_mutex_lock(&p->lock);
		/* the job the committer waits for may always start */
		while (!p->error && p->next < p->njobs &&
		       p->next > p->committed &&
		       (p->next >= p->committed + p->window ||
			p->inflight + p->jobs[p->next].len > p->budget))
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->error || p->next >= p->njobs) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		j = &p->jobs[p->next++];
		p->inflight += j->len;
		pthread_mutex_unlock(&p->lock);

		ret = run_job(w, j);

		pthread_mutex_lock(&p->lock);
		if (ret && !p->error)
			p->error = ret;
		j->done = true;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
	}
	return NULL;
}

/* The extents of the file being committed, across its segments. */
struct zfile {
	struct erofs_zextent *ext;
	u32 n, cap;
	u64 blocks;
	erofs_blk_t first_blk;
	u8 *idata; /* the inline cluster's bytes */
	u64 frag_off; /* where the fragment went in the packed inode */
};


static int packed_append(struct erofs_zpacked *pk, const u8 *p, u32 len)
{
	if (pk->size + len > pk->cap) {
		u64 cap = max_t(u64, pk->cap * 2, pk->size + len);
		u8 *nb = realloc(pk->buf, cap);

		if (!nb)
			return -ENOMEM;
		pk->buf = nb;
		pk->cap = cap;
	}
	memcpy(pk->buf + pk->size, p, len);
	pk->size += len;
	if (pk->size > UINT32_MAX)
		return erofs_fail(-EFBIG,
				  "packed inode beyond 4 GiB: use fewer fragments");
	return 0;
}

/* The offset of an identical fragment, or of these bytes appended. */
static int packed_add(struct erofs_zpacked *pk, const u8 *p, u32 len, u64 *off)
{
	u64 h = content_hash(p, len) ^ len, i;
	int ret;

	if (pk->tab_used * 2 >= pk->tab_cap) {
		u64 cap = pk->tab_cap ? pk->tab_cap * 2 : 1024;
		struct zfrag *nt = calloc(cap, sizeof(*nt));

		if (!nt)
			return -ENOMEM;
		for (u64 k = 0; k < pk->tab_cap; k++) {
			if (!pk->tab[k].len)
				continue;
			for (i = pk->tab[k].hash & (cap - 1); nt[i].len;
			     i = (i + 1) & (cap - 1))
				;
			nt[i] = pk->tab[k];
		}
		free(pk->tab);
		pk->tab = nt;
		pk->tab_cap = cap;
	}
	for (i = h & (pk->tab_cap - 1); pk->tab[i].len;
	     i = (i + 1) & (pk->tab_cap - 1)) {
		struct zfrag *f = &pk->tab[i];

		if (f->hash == h && f->len == len &&
		    !memcmp(pk->buf + f->off, p, len)) {
			*off = f->off;
			return 0;
		}
	}
	*off = pk->size;
	ret = packed_append(pk, p, len);
	if (ret)
		return ret;
	pk->tab[i] = (struct zfrag){ .hash = h, .off = *off, .len = len };
	pk->tab_used++;
	return 0;
}

static int write_blocks(struct erofs_build *b, const u8 *data, u64 len,
			erofs_blk_t *blk)
{
	int ret;

	if (!len)
		return 0;
	ret = erofs_output_write(b->out, data, len, erofs_pos(b, *blk));
	*blk += len >> b->opts->blkszbits;
	return ret;
}

/* -E fragdedupe: whether this fragment may reuse identical bytes. */
static bool may_share_fragment(const struct zpass *p,
			       const struct erofs_zextent *e)
{
	switch (p->b->zi->opts->fragdedupe) {
	case EROFS_FRAGDEDUPE_OFF:
		return false;
	case EROFS_FRAGDEDUPE_INODE:
		return !e->lstart; /* the whole file */
	}
	return true;
}

/* Append a segment's clusters and remember its extents. */
static int append_segment(struct zpass *p, struct zfile *f, struct zjob *j)
{
	struct erofs_build *b = p->b;
	struct erofs_zsegment *seg = &j->seg;
	u64 ondisk = seg->size;
	erofs_blk_t blk = b->next_blkaddr;
	int ret;

	if (seg->next && (tail_extent(seg)->inlined ||
			  tail_extent(seg)->fragment))
		ondisk -= tail_extent(seg)->plen;
	if (f->n + seg->next > f->cap) {
		u32 cap = max(f->cap * 2, f->n + seg->next);
		struct erofs_zextent *ne = realloc(f->ext, cap * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		f->ext = ne;
		f->cap = cap;
	}
	if (j->first)
		f->first_blk = blk;
	for (u32 i = 0; i < seg->next; i++) {
		struct erofs_zextent e = seg->ext[i];

		if (e.fragment && f->n && f->ext[f->n - 1].fragment) {
			/* the next part of a file packed whole: contiguous */
			ret = packed_append(p->packed, seg->data + e.poff,
					    e.plen);
			if (ret)
				return ret;
			f->ext[f->n - 1].llen += e.llen;
			continue;
		} else if (e.fragment) {
			/* only a complete fragment may be shared */
			if (j->last && may_share_fragment(p, &e))
				ret = packed_add(p->packed, seg->data + e.poff,
						 e.plen, &f->frag_off);
			else {
				f->frag_off = p->packed->size;
				ret = packed_append(p->packed,
						    seg->data + e.poff, e.plen);
			}
			if (ret)
				return ret;
		} else if (e.inlined) {
			f->idata = malloc(e.plen);
			if (!f->idata)
				return -ENOMEM;
			memcpy(f->idata, seg->data + e.poff, e.plen);
		} else {
			e.pblk = blk + (e.poff >> b->opts->blkszbits);
		}
		f->ext[f->n++] = e;
	}
	ret = write_blocks(b, seg->data, ondisk, &b->next_blkaddr);
	f->blocks += ondisk >> b->opts->blkszbits;
	return ret;
}

/*
 * Store a file that does not compress as a flat one. Its bytes were read a
 * moment ago, so copying them again from the source costs little and
 * spares keeping every such file in memory until its turn.
 */
static int commit_flat(struct erofs_build *b, struct zjob *j)
{
	struct erofs_node *n = j->n;
	struct erofs_node_layout *L = &n->L;
	struct erofs_data_src s;
	u64 body;
	int ret;

	erofs_layout_plan_flat(b, n);
	body = n->size - L->inline_size;
	/* the packed inode (fragments that did not compress) is in memory */
	if (n->data_kind == EROFS_DATA_MEM) {
		if (L->inline_size) {
			L->tail = malloc(L->inline_size);
			if (!L->tail)
				return -ENOMEM;
			memcpy(L->tail, n->src.mem + body, L->inline_size);
		}
		return body ? erofs_output_write(b->out, n->src.mem, body,
						 erofs_pos(b, L->blkaddr)) :
			      0;
	}
	ret = erofs_src_open(b, n, &s);
	if (ret)
		return ret;
	if (L->inline_size) {
		L->tail = malloc(L->inline_size);
		ret = L->tail ? erofs_src_read(&s, L->tail, L->inline_size,
					       body) :
				-ENOMEM;
	}
	if (!ret && body) {
		ret = erofs_src_copy(&s, b->out, 0, body,
				     erofs_pos(b, L->blkaddr), NULL, 0);
	}
	if (!ret)
		ret = erofs_src_check_end(&s, n->size);
	erofs_src_close(&s);
	return ret;
}

/*
 * 48BIT: encoded extents where lcluster indexes cannot address the
 * clusters (32-bit block numbers), or where they take no more room.
 */
static void choose_extents(const struct erofs_build *b,
			   const struct zfile *f, struct erofs_zmap_info *mi)
{
	struct erofs_zmap_info x = *mi;
	bool far = f->first_blk + f->blocks > UINT32_MAX;

	for (u32 i = 0; i < f->n; i++)
		far |= !f->ext[i].fragment && !f->ext[i].inlined &&
		       f->ext[i].pblk + (f->ext[i].plen >> b->opts->blkszbits) >
			       UINT32_MAX;
	x.extents = true;
	x.nextents = f->n;
	if (far || erofs_zmap_size(&x) <= erofs_zmap_size(mi))
		*mi = x;
}

/* Settle the map of a compressed file whose extents are all placed. */
static int finish_file(struct erofs_build *b, struct erofs_node *n,
		       struct zfile *f)
{
	struct erofs_node_layout *L = &n->L;
	struct erofs_zextent *last = &f->ext[f->n - 1];
	struct erofs_zmap_info mi = {
		.blkszbits = b->opts->blkszbits,
		.size = n->size,
		.compact = !b->zi->opts->legacy,
		.big_pcluster = b->zi->big_pcluster,
		.algorithm = erofs_compressor_disk_alg(
			b->zi->opts->algs[L->zalg].kind),
		.ibody_end = L->inode_size + L->xattr_size,
	};
	u8 *map;
	int ret;

	if (last->fragment) {
		mi.fragment = true;
		mi.fragment_off = f->frag_off;
		/* a file all in the packed inode needs only the header */
		mi.whole_fragment = f->n == 1;
		mi.compact = mi.compact && !mi.whole_fragment;
		b->feature_incompat |= EROFS_FEATURE_INCOMPAT_FRAGMENTS;
	} else if (last->inlined) {
		mi.idata_size = last->plen;
		/*
		 * The inline cluster must not cross a block boundary, and
		 * it needs lcluster indexes, whose addresses are 32-bit.
		 */
		if (mi.ibody_end + erofs_zmap_size(&mi) + last->plen >
			    b->blksz ||
		    f->first_blk + f->blocks > UINT32_MAX) {
			u8 *blk = calloc(1, b->blksz);

			if (!blk)
				return -ENOMEM;
			if (last->raw)
				memcpy(blk, f->idata, last->plen);
			else
				memcpy(blk + b->blksz - last->plen, f->idata,
				       last->plen);
			last->pblk = b->next_blkaddr;
			last->plen = b->blksz;
			last->inlined = false;
			ret = write_blocks(b, blk, b->blksz, &b->next_blkaddr);
			free(blk);
			if (ret)
				return ret;
			f->blocks++;
			mi.idata_size = 0;
			free(f->idata);
			f->idata = NULL;
		}
	}
	if (b->layout_48bit && !mi.idata_size && !mi.whole_fragment)
		choose_extents(b, f, &mi);
	map = malloc(erofs_zmap_size(&mi));
	if (!map)
		return -ENOMEM;
	ret = erofs_zmap_encode(&mi, f->ext, f->n, map);
	if (ret == -EAGAIN && !mi.extents) {
		mi.compact = false;
		free(map);
		map = malloc(erofs_zmap_size(&mi));
		if (!map)
			return -ENOMEM;
		ret = erofs_zmap_encode(&mi, f->ext, f->n, map);
	}
	if (ret) {
		free(map);
		return ret;
	}
	L->datalayout = mi.compact && !mi.extents ?
				EROFS_INODE_COMPRESSED_COMPACT :
				EROFS_INODE_COMPRESSED_FULL;
	L->extra = map;
	L->extra_size = erofs_zmap_size(&mi);
	L->inline_size = mi.idata_size;
	L->tail = f->idata;
	f->idata = NULL;
	L->compressed_blocks = f->blocks;
	L->nblocks = f->blocks;
	L->blkaddr = f->first_blk;
	if (mi.idata_size)
		b->feature_incompat |= EROFS_FEATURE_INCOMPAT_ZTAILPACKING;
	return 0;
}

/* Read "len" bytes of a node's content at "off". */
static int read_node(struct erofs_build *b, struct erofs_node *n, u8 *buf,
		     u64 len, u64 off)
{
	struct erofs_data_src s;
	int ret;

	if (n->data_kind == EROFS_DATA_MEM) {
		memcpy(buf, n->src.mem + off, len);
		return 0;
	}
	ret = erofs_src_open(b, n, &s);
	if (ret)
		return ret;
	ret = erofs_src_read(&s, buf, len, off);
	erofs_src_close(&s);
	return ret;
}

/* Whether two files of equal size hold the same bytes (1), or not (0). */
static int same_content(struct erofs_build *b, struct erofs_node *x,
			struct erofs_node *y)
{
	const u64 chunk = 1 << 20;
	u8 *bx = malloc(chunk), *by = malloc(chunk);
	int ret = 1;

	if (!bx || !by)
		ret = -ENOMEM;
	for (u64 off = 0; ret == 1 && off < x->size; off += chunk) {
		u64 len = min(chunk, x->size - off);

		ret = read_node(b, x, bx, len, off);
		if (!ret)
			ret = read_node(b, y, by, len, off);
		if (!ret)
			ret = !memcmp(bx, by, len);
	}
	free(bx);
	free(by);
	return ret;
}

static struct zdone *dd_slot(struct zdedupe *dd, u64 hash, u64 *i)
{
	*i = hash & (dd->cap - 1);
	return &dd->tab[*i];
}

static int dd_insert(struct zdedupe *dd, u64 hash, struct erofs_node *n,
		     const struct zfile *f)
{
	struct zdone *e;
	u64 i;

	if (dd->used * 2 >= dd->cap) {
		u64 cap = dd->cap ? dd->cap * 2 : 1024;
		struct zdone *nt = calloc(cap, sizeof(*nt));

		if (!nt)
			return -ENOMEM;
		for (u64 k = 0; k < dd->cap; k++) {
			if (!dd->tab[k].n)
				continue;
			for (i = dd->tab[k].hash & (cap - 1); nt[i].n;
			     i = (i + 1) & (cap - 1))
				;
			nt[i] = dd->tab[k];
		}
		free(dd->tab);
		dd->tab = nt;
		dd->cap = cap;
	}
	for (e = dd_slot(dd, hash, &i); e->n; e = &dd->tab[i])
		i = (i + 1) & (dd->cap - 1);
	*e = (struct zdone){
		.hash = hash,
		.n = n,
		.ext = malloc(f->n * sizeof(*f->ext)),
		.next = f->n,
		.blocks = f->blocks,
		.frag_off = f->frag_off,
		.first_blk = f->first_blk,
	};
	if (!e->ext) {
		e->n = NULL;
		return -ENOMEM;
	}
	memcpy(e->ext, f->ext, f->n * sizeof(*f->ext));
	dd->used++;
	return 0;
}

/*
 * An earlier file with the same bytes: take over its extents (and so its
 * clusters). Returns 1 when "f" now describes them, 0 when none matched.
 */
static int dd_adopt(struct zpass *p, struct zjob *j, struct zfile *f)
{
	struct zdedupe *dd = p->dd;
	struct zdone *e;
	u64 i;
	int ret;

	if (!dd->cap)
		return 0;
	for (e = dd_slot(dd, j->chash, &i); e->n; e = &dd->tab[i]) {
		struct erofs_zextent *last = &e->ext[e->next - 1];

		i = (i + 1) & (dd->cap - 1);
		if (e->hash != j->chash || e->n->size != j->n->size ||
		    e->n->L.zalg != j->n->L.zalg)
			continue;
		ret = same_content(p->b, e->n, j->n);
		if (ret < 0)
			return ret;
		if (!ret)
			continue;
		f->ext = malloc(e->next * sizeof(*f->ext));
		if (!f->ext)
			return -ENOMEM;
		memcpy(f->ext, e->ext, e->next * sizeof(*f->ext));
		f->n = f->cap = e->next;
		f->blocks = e->blocks;
		f->frag_off = e->frag_off;
		f->first_blk = e->first_blk;
		if (last->inlined) {
			f->idata = dup_bytes(e->n->L.tail, last->plen);
			if (!f->idata)
				return -ENOMEM;
		}
		p->b->feature_incompat |= EROFS_FEATURE_INCOMPAT_DEDUPE;
		return 1;
	}
	return 0;
}

static int commit_job(struct zpass *p, struct zjob *j, struct zfile *f,
		      struct erofs_sha256 *sha)
{
	struct erofs_build *b = p->b;
	struct erofs_node *n = j->n;
	int ret;

	if (j->flat) {
		n->L.zpending = false;
		return commit_flat(b, j);
	}
	if (j->first) {
		free(f->ext);
		free(f->idata);
		memset(f, 0, sizeof(*f));
	}
	if (!single(j) && n->has_fingerprint) {
		erofs_sha256_update(sha, j->input.p, j->len);
		if (j->last)
			erofs_sha256_final(sha, n->fingerprint);
	}
	if (single(j) && p->dd) {
		ret = dd_adopt(p, j, f);
		if (ret < 0)
			return ret;
		if (ret) {
			n->L.zpending = false;
			return finish_file(b, n, f);
		}
	}
	ret = append_segment(p, f, j);
	if (ret || !j->last)
		return ret;
	n->L.zpending = false;
	ret = finish_file(b, n, f);
	if (!ret && single(j) && p->dd)
		ret = dd_insert(p->dd, j->chash, n, f);
	return ret;
}

static void release_job(struct zpass *p, struct zjob *j)
{
	struct zbuf out = { j->seg.data, j->seg.data_cap };

	put_spare(p, &j->input);
	j->seg.data = NULL;
	put_spare(p, &out);
	erofs_zsegment_free(&j->seg);
}

static int make_jobs(struct zpass *p)
{
	struct erofs_tree *t = p->b->tree;
	u64 nj = 0;

	for (u64 i = 0; i < t->nr_order; i++)
		if (t->order[i]->L.zpending)
			nj += DIV_ROUND_UP(t->order[i]->size, ZSEG_SIZE);
	p->jobs = calloc(max_t(u64, nj, 1), sizeof(*p->jobs));
	if (!p->jobs)
		return -ENOMEM;
	for (u64 i = 0; i < t->nr_order; i++) {
		struct erofs_node *n = t->order[i];

		if (!n->L.zpending)
			continue;
		for (u64 off = 0; off < n->size; off += ZSEG_SIZE) {
			struct zjob *j = &p->jobs[p->njobs++];

			j->n = n;
			j->off = off;
			j->len = min_t(u64, ZSEG_SIZE, n->size - off);
			j->first = !off;
			j->last = off + j->len == n->size;
		}
	}
	return 0;
}

static int run_pass(struct erofs_build *b, struct erofs_zpacked *pk,
		    struct zdedupe *dd, bool packing)
{
	struct zpass p = {
		.b = b,
		.packed = pk,
		.dd = packing ? NULL : dd,
		.packing = packing,
	};
	struct zworker *w = NULL;
	pthread_t *th = NULL;
	struct erofs_sha256 sha = { 0 };
	struct zfile f = { 0 };
	unsigned int nw = 0, started = 0;
	int ret;

	ret = make_jobs(&p);
	if (ret || !p.njobs) {
		free(p.jobs);
		return ret;
	}
	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.cond, NULL);
	nw = erofs_data_workers(b, p.njobs);
	/* many small files in flight keep the workers busy */
	p.window = b->opts->async_queue_limit ? b->opts->async_queue_limit :
						1024;
	p.budget = (u64)(2 * nw + 2) * ZSEG_SIZE;
	w = calloc(nw, sizeof(*w));
	th = calloc(nw, sizeof(*th));
	if (!w || !th) {
		ret = -ENOMEM;
		goto out;
	}
	if (b->opts->ishare) {
		ret = erofs_sha256_init(&sha);
		if (ret)
			goto out;
	}
	for (unsigned int i = 0; i < nw; i++) {
		w[i].pass = &p;
		ret = erofs_zwork_init(&w[i].zw, b->zi);
		if (!ret && b->opts->ishare)
			ret = erofs_sha256_init(&w[i].sha);
		if (ret)
			goto out;
	}
	for (; started < nw; started++) {
		if (pthread_create(&th[started], NULL, worker_main,
				   &w[started])) {
			ret = -errno;
			break;
		}
	}
	for (u64 c = 0; !ret && c < p.njobs; c++) {
		struct zjob *j = &p.jobs[c];

		pthread_mutex_lock(&p.lock);
		while (!j->done && !p.error)
			pthread_cond_wait(&p.cond, &p.lock);
		ret = p.error;
		pthread_mutex_unlock(&p.lock);
		if (ret)
			break;
		erofs_progress("compressing (MiB)", (j->off + j->len) >> 20,
			       j->n->size >> 20);
		ret = commit_job(&p, j, &f, &sha);
		release_job(&p, j);
		/* clusters are placed in order: all below the next are final */
		if (!ret)
			erofs_output_settled(b->out,
					     erofs_pos(b, b->next_blkaddr));
		pthread_mutex_lock(&p.lock);
		p.committed = c + 1;
		p.inflight -= j->len;
		if (ret && !p.error)
			p.error = ret;
		pthread_cond_broadcast(&p.cond);
		pthread_mutex_unlock(&p.lock);
	}
	if (ret) {
		pthread_mutex_lock(&p.lock);
		if (!p.error)
			p.error = ret;
		pthread_cond_broadcast(&p.cond);
		pthread_mutex_unlock(&p.lock);
	}
	for (unsigned int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	erofs_progress_done();
out:
	for (u64 c = 0; c < p.njobs; c++)
		release_job(&p, &p.jobs[c]);
	for (unsigned int i = 0; w && i < nw; i++) {
		if (w[i].zw.cs)
			erofs_zwork_exit(&w[i].zw);
		if (w[i].sha.ctx)
			erofs_sha256_free(&w[i].sha);
		free(w[i].in.p);
		free(w[i].out.p);
	}
	while (p.nspare)
		free(p.spare[--p.nspare].p);
	if (sha.ctx)
		erofs_sha256_free(&sha);
	free(f.ext);
	free(f.idata);
	free(w);
	free(th);
	free(p.jobs);
	pthread_mutex_destroy(&p.lock);
	pthread_cond_destroy(&p.cond);
	return ret;
}

/*
 * The packed inode's data, gathered from the start of the data pass to
 * the end of the directories': the long prefix table (when it goes there)
 * first, 4-byte aligned, then fragments and compressed directories.
 */
static struct erofs_zpacked *packed_get(struct erofs_build *b)
{
	struct erofs_zpacked *pk = b->zpacked;
	u32 size;

	if (pk)
		return pk;
	pk = calloc(1, sizeof(*pk));
	if (!pk)
		return NULL;
	if (b->prefixes_in_packed &&
	    erofs_xattr_uses_long_prefixes(b->xattrs)) {
		pk->buf = erofs_xattr_prefix_table_alloc(b->xattrs, &size);
		if (!pk->buf) {
			free(pk);
			return NULL;
		}
		pk->size = pk->cap = size;
	}
	b->zpacked = pk;
	return pk;
}

int erofs_packed_add(struct erofs_build *b, const u8 *data, u32 len,
		     u64 *off)
{
	struct erofs_zpacked *pk = packed_get(b);

	if (!pk)
		return -ENOMEM;
	*off = pk->size;
	return packed_append(pk, data, len);
}

void erofs_packed_free(struct erofs_build *b)
{
	if (!b->zpacked)
		return;
	free(b->zpacked->buf);
	free(b->zpacked->tab);
	free(b->zpacked);
	b->zpacked = NULL;
}

/*
 * The packed inode is a regular file of its own, in no directory,
 * compressed like any other (without fragments) once all is in.
 */
int erofs_write_packed(struct erofs_build *b)
{
	const struct erofs_compress_opts *o = b->zi ? b->zi->opts : NULL;
	u32 pcluster = !o ? 0 :
		       o->packed_pclustersize ? o->packed_pclustersize :
						o->pclustersize;
	struct erofs_zpacked *pk = packed_get(b);
	struct erofs_node *n;

	if (!pk)
		return -ENOMEM;
	if (!pk->size)
		return 0;
	n = erofs_build_add_special(b, pk->buf, pk->size);
	if (!n)
		return -ENOMEM;
	pk->buf = NULL;
	b->packed = n;
	return erofs_build_write_special(b, n, 0,
					 pcluster >> b->opts->blkszbits);
}

int erofs_write_compressed_special(struct erofs_build *b)
{
	return run_pass(b, b->zpacked, NULL, true);
}

int erofs_write_compressed(struct erofs_build *b)
{
	struct erofs_zpacked *pk = packed_get(b);
	struct zdedupe dd = { 0 };
	const struct erofs_compress_opts *o = b->zi->opts;
	int ret;

	if (!pk)
		return -ENOMEM;
	b->feature_incompat |= EROFS_FEATURE_INCOMPAT_ZERO_PADDING;
	if (b->zi->need_cfgs)
		b->feature_incompat |= EROFS_FEATURE_INCOMPAT_COMPR_CFGS;
	if (b->zi->opts->ztailpacking)
		b->feature_incompat |= EROFS_FEATURE_INCOMPAT_ZTAILPACKING;
	if (b->zi->opts->fragments || b->zi->opts->all_fragments)
		b->feature_incompat |= EROFS_FEATURE_INCOMPAT_FRAGMENTS;
	/*
	 * Fragments imply sharing identical files (erofs-utils finds them
	 * anyway), unless -E^fragdedupe asks for none.
	 */
	ret = run_pass(b, pk,
		       o->dedupe || ((o->fragments || o->all_fragments) &&
				     o->fragdedupe != EROFS_FRAGDEDUPE_OFF) ?
			       &dd :
			       NULL,
		       false);
	for (u64 i = 0; i < dd.cap; i++)
		free(dd.tab[i].ext);
	free(dd.tab);
	return ret;
}
