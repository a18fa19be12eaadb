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

#define ZSEG_SIZE (16U << 20)

struct zjob {
	struct erofs_node *n;
	u64 off;
	u32 len;
	bool first, last;
	bool done;
	bool flat; /* compression saves nothing: store it uncompressed */
	u8 *input; /* kept when the committer hashes the bytes */
	struct erofs_zsegment seg;
};

struct zpass {
	struct erofs_build *b;
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
};

struct zworker {
	struct zpass *pass;
	struct erofs_zwork zw;
	struct erofs_sha256 sha;
	/* reused buffers: fresh ones per job cost a page fault per page */
	u8 *in, *out;
	u64 in_cap, out_cap;
};

static bool single(const struct zjob *j)
{
	return j->first && j->last;
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
	struct erofs_node *n = j->n;
	struct erofs_data_src s;
	int ret;

	if (w->in_cap < j->len) {
		free(w->in);
		w->in = malloc(j->len);
		if (!w->in) {
			w->in_cap = 0;
			return -ENOMEM;
		}
		w->in_cap = j->len;
	}
	ret = erofs_src_open(b, n, &s);
	if (ret)
		return ret;
	ret = erofs_src_read(&s, w->in, j->len, j->off);
	if (!ret && j->last)
		ret = erofs_src_check_end(&s, n->size);
	erofs_src_close(&s);
	if (ret)
		return ret;
	if (single(j) && n->has_fingerprint) {
		erofs_sha256_update(&w->sha, w->in, j->len);
		erofs_sha256_final(&w->sha, n->fingerprint);
	}
	j->seg.data = w->out;
	j->seg.data_cap = w->out_cap;
	ret = erofs_zsegment_compress(&w->zw, n->L.zalg, n->L.zpclusterblks,
				      w->in, j->len, j->off, j->last,
				      b->zi->opts->ztailpacking, &j->seg);
	w->out = j->seg.data;
	w->out_cap = j->seg.data_cap;
	j->seg.data = NULL;
	if (ret)
		return ret;
	/* the committer hashes the segments of a large file in order */
	if (!single(j) && n->has_fingerprint) {
		j->input = dup_bytes(w->in, j->len);
		if (!j->input)
			return -ENOMEM;
	}
	/* a file stored flat is copied from its source again */
	if (single(j) && !saves_space(b, j)) {
		j->flat = true;
		erofs_zsegment_free(&j->seg);
		return 0;
	}
	j->seg.data = dup_bytes(w->out, j->seg.size);
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
};

static int write_blocks(struct erofs_build *b, const u8 *data, u64 len,
			erofs_blk_t *blk)
{
	int ret;

	if (!len)
		return 0;
	ret = erofs_output_write(&b->out, data, len, erofs_pos(b, *blk));
	*blk += len >> b->opts->blkszbits;
	return ret;
}

/* Append a segment's clusters and remember its extents. */
static int append_segment(struct erofs_build *b, struct zfile *f,
			  struct zjob *j)
{
	struct erofs_zsegment *seg = &j->seg;
	u64 ondisk = seg->size;
	erofs_blk_t blk = b->next_blkaddr;
	int ret;

	if (seg->next && seg->ext[seg->next - 1].inlined)
		ondisk -= seg->ext[seg->next - 1].plen;
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

		if (e.inlined) {
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
		ret = erofs_output_copy(&b->out, s.fd, s.base, body,
					erofs_pos(b, L->blkaddr));
		if (ret == -ENODATA)
			ret = erofs_fail(-EAGAIN,
					 "%s: file shrank while being read",
					 s.path);
		else if (ret && !erofs_last_error())
			ret = erofs_fail(ret, "%s: read failed: %s", s.path,
					 strerror(-ret));
	}
	if (!ret)
		ret = erofs_src_check_end(&s, n->size);
	erofs_src_close(&s);
	return ret;
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

	if (last->inlined) {
		mi.idata_size = last->plen;
		/* the inline cluster must not cross a block boundary */
		if (mi.ibody_end + erofs_zmap_size(&mi) + last->plen >
		    b->blksz) {
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
	map = malloc(erofs_zmap_size(&mi));
	if (!map)
		return -ENOMEM;
	ret = erofs_zmap_encode(&mi, f->ext, f->n, map);
	if (ret == -EAGAIN) {
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
	L->datalayout = mi.compact ? EROFS_INODE_COMPRESSED_COMPACT :
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
		erofs_sha256_update(sha, j->input, j->len);
		if (j->last)
			erofs_sha256_final(sha, n->fingerprint);
	}
	ret = append_segment(b, f, j);
	if (ret || !j->last)
		return ret;
	n->L.zpending = false;
	return finish_file(b, n, f);
}

static void release_job(struct zjob *j)
{
	free(j->input);
	j->input = NULL;
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

int erofs_write_compressed(struct erofs_build *b)
{
	struct zpass p = { .b = b };
	struct zworker *w = NULL;
	pthread_t *th = NULL;
	struct erofs_sha256 sha = { 0 };
	struct zfile f = { 0 };
	unsigned int nw = 0, started = 0;
	int ret;

	b->feature_incompat |= EROFS_FEATURE_INCOMPAT_ZERO_PADDING;
	if (b->zi->need_cfgs)
		b->feature_incompat |= EROFS_FEATURE_INCOMPAT_COMPR_CFGS;
	if (b->zi->opts->ztailpacking)
		b->feature_incompat |= EROFS_FEATURE_INCOMPAT_ZTAILPACKING;
	ret = make_jobs(&p);
	if (ret || !p.njobs) {
		free(p.jobs);
		return ret;
	}
	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.cond, NULL);
	nw = erofs_data_workers(b, p.njobs);
	/* many small files in flight keep the workers busy */
	p.window = 1024;
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
		release_job(j);
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
		release_job(&p.jobs[c]);
	for (unsigned int i = 0; w && i < nw; i++) {
		if (w[i].zw.cs)
			erofs_zwork_exit(&w[i].zw);
		if (w[i].sha.ctx)
			erofs_sha256_free(&w[i].sha);
		free(w[i].in);
		free(w[i].out);
	}
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
