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
 *
 * What happens to a committed file's bytes besides that lives apart:
 * identical files (lib/dedupe.c), fragments for the packed inode
 * (lib/fragments.c), and the form of its map (lib/layout.c).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "erofs/array.h"
#include "erofs/dedupe.h"
#include "erofs/error.h"
#include "erofs/fingerprint.h"
#include "erofs/format.h"
#include "erofs/fragments.h"
#include "erofs/stages.h"

#define ZSEG_SIZE (16U << 20)
#define ZSPARE_MAX 4

struct zbuf {
	u8 *p;
	u64 cap;
};

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

struct zpass {
	struct erofs_build *b;
	struct erofs_fragments *packed;
	struct erofs_dedupe *dd; /* NULL: no files share clusters */
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
	return j->seg.size + Z_EROFS_FULL_INDEX_OFFSET +
		       nidx * sizeof(struct z_erofs_lcluster_index) <
	       j->n->size;
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
		j->chash = erofs_content_hash(w->in.p, j->len);
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
static int append_segment(struct zpass *p, struct erofs_zfile *f, struct zjob *j)
{
	struct erofs_build *b = p->b;
	struct erofs_zsegment *seg = &j->seg;
	u64 ondisk = seg->size;
	erofs_blk_t blk = b->next_blkaddr;
	int ret;

	if (seg->next && (tail_extent(seg)->inlined ||
			  tail_extent(seg)->fragment))
		ondisk -= tail_extent(seg)->plen;
	ret = erofs_grow_array(&f->ext, &f->cap, f->n + seg->next,
			       sizeof(*f->ext));
	if (ret)
		return ret;
	if (j->first)
		f->first_blk = blk;
	for (u32 i = 0; i < seg->next; i++) {
		struct erofs_zextent e = seg->ext[i];

		if (e.fragment && f->n && f->ext[f->n - 1].fragment) {
			/* the next part of a file packed whole: contiguous */
			ret = erofs_fragments_append(p->packed,
						     seg->data + e.poff, e.plen);
			if (ret)
				return ret;
			f->ext[f->n - 1].llen += e.llen;
			continue;
		} else if (e.fragment) {
			/* only a complete fragment may be shared */
			if (j->last && may_share_fragment(p, &e)) {
				ret = erofs_fragments_add_shared(
					p->packed, seg->data + e.poff, e.plen,
					&f->frag_off);
			} else {
				f->frag_off = erofs_fragments_size(p->packed);
				ret = erofs_fragments_append(
					p->packed, seg->data + e.poff, e.plen);
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

	erofs_layout_settle_flat(b, n);
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
 * Settle the layout of a compressed file whose extents are all placed; an
 * inline cluster that may not stay beside the inode gets a block of its
 * own first (uncompressed ones from the block start, compressed ones
 * ending at the block end, as the kernel reads them).
 */
static int finish_file(struct erofs_build *b, struct erofs_node *n,
		       struct erofs_zfile *f)
{
	struct erofs_zextent *last = &f->ext[f->n - 1];
	int ret;

	if (last->inlined && !erofs_layout_zinline_fits(b, n, f)) {
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
		free(f->idata);
		f->idata = NULL;
	}
	return erofs_layout_settle_compressed(b, n, f);
}

static int commit_job(struct zpass *p, struct zjob *j, struct erofs_zfile *f,
		      struct erofs_sha256 *sha)
{
	struct erofs_build *b = p->b;
	struct erofs_node *n = j->n;
	int ret;

	if (j->flat)
		return commit_flat(b, j);
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
		ret = erofs_dedupe_find(p->dd, b, n, j->chash, f);
		if (ret < 0)
			return ret;
		if (ret) {
			b->feature_incompat |= EROFS_FEATURE_INCOMPAT_DEDUPE;
			return finish_file(b, n, f);
		}
	}
	ret = append_segment(p, f, j);
	if (ret || !j->last)
		return ret;
	ret = finish_file(b, n, f);
	if (!ret && single(j) && p->dd)
		ret = erofs_dedupe_add(p->dd, j->chash, n, f);
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

static int run_pass(struct erofs_build *b, struct erofs_fragments *pk,
		    struct erofs_dedupe *dd, bool packing)
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
	struct erofs_zfile f = { 0 };
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
		if (erofs_thread_create(&th[started], worker_main,
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

int erofs_write_compressed_special(struct erofs_build *b)
{
	return run_pass(b, b->fragments, NULL, true);
}

int erofs_write_compressed(struct erofs_build *b)
{
	struct erofs_fragments *pk = erofs_fragments_get(b);
	const struct erofs_compress_opts *o = b->zi->opts;
	struct erofs_dedupe *dd = NULL;
	int ret;

	if (!pk)
		return -ENOMEM;
	b->feature_incompat |= EROFS_FEATURE_INCOMPAT_ZERO_PADDING;
	if (b->zi->need_cfgs)
		b->feature_incompat |= EROFS_FEATURE_INCOMPAT_COMPR_CFGS;
	if (o->ztailpacking)
		b->feature_incompat |= EROFS_FEATURE_INCOMPAT_ZTAILPACKING;
	if (o->fragments || o->all_fragments)
		b->feature_incompat |= EROFS_FEATURE_INCOMPAT_FRAGMENTS;
	/*
	 * Fragments imply sharing identical files (erofs-utils finds them
	 * anyway), unless -E^fragdedupe asks for none.
	 */
	if (o->dedupe || ((o->fragments || o->all_fragments) &&
			  o->fragdedupe != EROFS_FRAGDEDUPE_OFF)) {
		ret = erofs_dedupe_new(&dd);
		if (ret)
			return ret;
	}
	ret = run_pass(b, pk, dd, false);
	erofs_dedupe_free(dd);
	return ret;
}
