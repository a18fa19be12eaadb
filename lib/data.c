// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The data pass: every source byte is read once, fingerprinted in the same
 * pass, and written at the address the layout gave it. Addresses are fixed
 * before the pass starts, so worker threads write in any order and the
 * image is the same for any number of workers.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "erofs/array.h"
#include "erofs/chunk.h"
#include "erofs/error.h"
#include "erofs/fingerprint.h"
#include "erofs/format.h"
#include "erofs/source.h"
#include "erofs/stages.h"

/*
 * A worker reads a piece into its buffer, hashes it and writes it out: a
 * buffer that stays in the core's cache between the three costs one memory
 * pass instead of three. A 1 GB --ishare build took 1.5 s with 1 MiB
 * pieces, 1.1 s with 256 KiB (medians of 6 alternating runs).
 */
#define DATA_BUFSZ (256U << 10)

struct data_pass {
	struct erofs_build *b;
	struct erofs_node **jobs;
	bool *finished; /* per job */
	u64 njobs;
	u64 next; /* next job to take */
	u64 done;
	u64 settled; /* jobs before this one are all finished */
	u64 total_bytes;
	u64 done_bytes;
	int error;
	pthread_mutex_t lock;
	pthread_cond_t progress;
};

struct data_worker {
	struct data_pass *pass;
	struct erofs_sha256 sha;
	u8 *buf;
};

int erofs_src_open(struct erofs_build *b, struct erofs_node *n,
		   struct erofs_data_src *s)
{
	struct stat st;

	s->own = false;
	s->base = 0;
	s->reader = NULL;
	if (n->data_kind == EROFS_DATA_READER) {
		s->fd = -1;
		s->reader = n->src.reader;
		s->path = s->reader->what;
		return 0;
	}
	if (n->data_kind == EROFS_DATA_SPOOL) {
		s->fd = b->tree->spool_fd;
		s->base = n->src.off;
		s->path = "(spooled tar data)";
		return 0;
	}
	s->path = n->src.file->path;
	s->fd = erofs_source_open_file(b->tree, n, &st);
	if (s->fd < 0)
		return s->fd;
	s->own = true;
	if ((u64)st.st_size != n->size) {
		close(s->fd);
		return erofs_fail(-EAGAIN,
				  "%s: changed since it was scanned (size %llu, now %llu)",
				  s->path, (unsigned long long)n->size,
				  (unsigned long long)st.st_size);
	}
	/* we read each file once, front to back */
	posix_fadvise(s->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	return 0;
}

int erofs_src_read(struct erofs_data_src *s, void *buf, size_t len, u64 pos)
{
	int ret;

	if (s->reader)
		return s->reader->read(s->reader, buf, len, pos);
	ret = erofs_pread_full(s->fd, buf, len, s->base + pos);

	if (ret == -ENODATA)
		return erofs_fail(-EAGAIN, "%s: file shrank while being read",
				  s->path);
	if (ret)
		return erofs_fail(ret, "%s: read failed: %s", s->path,
				  strerror(-ret));
	return 0;
}

int erofs_src_read_hashed(struct erofs_data_src *s, void *buf, size_t len,
			  u64 pos, struct erofs_sha256 *sha)
{
	if (!sha)
		return erofs_src_read(s, buf, len, pos);
	for (size_t done = 0; done < len;) {
		size_t piece = min_t(size_t, len - done, DATA_BUFSZ);
		int ret = erofs_src_read(s, (u8 *)buf + done, piece,
					 pos + done);

		if (ret)
			return ret;
		erofs_sha256_update(sha, (u8 *)buf + done, piece);
		done += piece;
	}
	return 0;
}

int erofs_src_copy(struct erofs_data_src *s, struct erofs_output *out,
		   u64 from, u64 len, u64 pos, void *buf, size_t bufsz)
{
	u8 small[65536];
	int ret;

	if (!s->reader) {
		ret = erofs_output_copy(out, s->fd, s->base + from, len, pos,
					buf, bufsz);
		if (ret == -ENODATA)
			return erofs_fail(-EAGAIN,
					  "%s: file shrank while being read",
					  s->path);
		/* output errors are recorded already; name source ones */
		if (ret && !erofs_last_error())
			return erofs_fail(ret, "%s: read failed: %s", s->path,
					  strerror(-ret));
		return ret;
	}
	if (!buf) {
		buf = small;
		bufsz = sizeof(small);
	}
	while (len) {
		size_t n = min_t(u64, len, bufsz);

		ret = erofs_src_read(s, buf, n, from);
		if (!ret)
			ret = erofs_output_write(out, buf, n, pos);
		if (ret)
			return ret;
		from += n;
		pos += n;
		len -= n;
	}
	return 0;
}

/* A source file must end where it ended when it was scanned. */
int erofs_src_check_end(struct erofs_data_src *s, u64 size)
{
	char c;
	ssize_t n;

	if (!s->own)
		return 0;
	n = pread(s->fd, &c, 1, size);
	if (n > 0)
		return erofs_fail(-EAGAIN, "%s: file grew while being read",
				  s->path);
	return 0;
}

void erofs_src_close(struct erofs_data_src *s)
{
	if (s->own)
		close(s->fd);
}

/*
 * The data ranges of a file with holes, from SEEK_DATA/SEEK_HOLE: "size"
 * bytes at "base" of "fd" (a source file at 0, or a node's slice of the
 * tar spool), as offsets from "base".
 */
int erofs_src_data_ranges(int fd, u64 base, u64 size, const char *what,
			    struct erofs_data_range **out, u64 *count)
{
	struct erofs_data_range *r = NULL;
	u64 n = 0, cap = 0;
	off_t pos = base;
	u64 end = base + size;

	while ((u64)pos < end) {
		off_t data = lseek(fd, pos, SEEK_DATA), hole;

		if (data < 0) {
			if (errno == ENXIO)
				break; /* only a hole remains */
			if (errno == EINVAL || errno == EOPNOTSUPP) {
				data = pos; /* no hole support: all data */
				hole = end;
			} else {
				int ret = -errno;

				free(r);
				return erofs_fail(ret, "%s: seek: %s", what,
						  strerror(-ret));
			}
		} else {
			hole = lseek(fd, data, SEEK_HOLE);
			if (hole < 0)
				hole = end;
		}
		if ((u64)data >= end)
			break;
		if ((u64)hole > end)
			hole = end;
		if (erofs_grow_array(&r, &cap, n + 1, sizeof(*r))) {
			free(r);
			return -ENOMEM;
		}
		r[n].start = data - base;
		r[n].end = hole - base;
		n++;
		pos = hole;
	}
	*out = r;
	*count = n;
	return 0;
}

/* Whether [start, end) meets any data range; ranges are sorted. */
bool erofs_ranges_meet(const struct erofs_data_range *r, u64 n, u64 *cursor,
		     u64 start, u64 end)
{
	while (*cursor < n && r[*cursor].end <= start)
		(*cursor)++;
	return *cursor < n && r[*cursor].start < end;
}

/*
 * Copy bytes [from, to) of the source to "pos" in the image, hashing them
 * when a fingerprint is wanted.
 */
static int copy_range(struct data_worker *w, struct erofs_node *n,
		      struct erofs_data_src *s, u64 from, u64 to, u64 pos)
{
	struct erofs_build *b = w->pass->b;
	int ret;

	if (!n->has_fingerprint) {
		/* nothing to look at: let the kernel clone the blocks, if it can */
		return erofs_src_copy(s, b->out, from, to - from, pos, w->buf,
				      DATA_BUFSZ);
	}
	while (from < to) {
		size_t len = min_t(u64, to - from, DATA_BUFSZ);

		ret = erofs_src_read(s, w->buf, len, from);
		if (ret)
			return ret;
		erofs_sha256_update(&w->sha, w->buf, len);
		ret = erofs_output_write(b->out, w->buf, len, pos);
		if (ret)
			return ret;
		from += len;
		pos += len;
	}
	return 0;
}

static int read_tail(struct data_worker *w, struct erofs_node *n,
		     struct erofs_data_src *s, u64 from)
{
	struct erofs_node_layout *L = &n->L;
	int ret;

	L->tail = malloc(L->inline_size);
	if (!L->tail)
		return -ENOMEM;
	ret = erofs_src_read(s, L->tail, L->inline_size, from);
	if (ret)
		return ret;
	if (n->has_fingerprint)
		erofs_sha256_update(&w->sha, L->tail, L->inline_size);
	return 0;
}

static int write_flat(struct data_worker *w, struct erofs_node *n)
{
	struct erofs_build *b = w->pass->b;
	struct erofs_node_layout *L = &n->L;
	u64 body = n->size - L->inline_size;
	struct erofs_data_src s;
	int ret;

	ret = erofs_src_open(b, n, &s);
	if (ret)
		return ret;
	ret = copy_range(w, n, &s, 0, body, erofs_pos(b, L->blkaddr));
	if (!ret && L->inline_size)
		ret = read_tail(w, n, &s, body);
	if (!ret)
		ret = erofs_src_check_end(&s, n->size);
	erofs_src_close(&s);
	return ret;
}

static int write_chunked(struct data_worker *w, struct erofs_node *n)
{
	static const u8 zeroes[65536];
	struct erofs_build *b = w->pass->b;
	struct erofs_node_layout *L = &n->L;
	u64 csize = (u64)b->blksz << L->chunkbits;
	u64 nchunks = DIV_ROUND_UP(n->size, csize);
	struct erofs_data_src s;
	int ret;

	ret = erofs_src_open(b, n, &s);
	if (ret)
		return ret;
	for (u64 c = 0; c < nchunks && !ret; c++) {
		u64 start = c * csize, end = min(start + csize, n->size);
		u64 blk = erofs_chunk_layout_blk(n, b->opts->blkszbits, c);

		if (blk != EROFS_EXT_HOLE) {
			ret = copy_range(w, n, &s, start, end,
					 erofs_pos(b, blk));
			continue;
		}
		/* a hole reads as zeroes, and the fingerprint covers them */
		for (u64 p = start; n->has_fingerprint && p < end;
		     p += sizeof(zeroes))
			erofs_sha256_update(&w->sha, zeroes,
					    min_t(u64, end - p, sizeof(zeroes)));
	}
	if (!ret)
		ret = erofs_src_check_end(&s, n->size);
	erofs_src_close(&s);
	return ret;
}

/* Bytes held in memory: symlink targets, the packed inode's prefixes. */
static int write_mem(struct data_worker *w, struct erofs_node *n)
{
	struct erofs_build *b = w->pass->b;
	struct erofs_node_layout *L = &n->L;
	u64 body = n->size - L->inline_size;

	/* a target longer than a block has data blocks and an inline tail */
	if (L->inline_size) {
		L->tail = malloc(L->inline_size);
		if (!L->tail)
			return -ENOMEM;
		memcpy(L->tail, n->src.mem + body, L->inline_size);
	}
	if (!body)
		return 0;
	return erofs_output_write(b->out, n->src.mem, body,
				  erofs_pos(b, L->blkaddr));
}

/* Hash "len" bytes of "fd" at "pos" into the file's fingerprint. */
static int hash_range(struct data_worker *w, int fd, u64 pos, u64 len,
		      const char *what)
{
	while (len) {
		size_t n = min_t(u64, len, DATA_BUFSZ);
		int ret = erofs_pread_full(fd, w->buf, n, pos);

		if (ret)
			return erofs_fail(ret == -ENODATA ? -EIO : ret,
					  "%s: %s at byte %llu", what,
					  ret == -ENODATA ? "ends early" :
							    strerror(-ret),
					  (unsigned long long)pos);
		erofs_sha256_update(&w->sha, w->buf, n);
		pos += n;
		len -= n;
	}
	return 0;
}

/*
 * Data the build does not write, read only for its fingerprint: on an
 * extra device the tree can read (a tar file), or placed in the image
 * already by the source.
 */
static int hash_unwritten(struct data_worker *w, struct erofs_node *n)
{
	struct erofs_build *b = w->pass->b;
	const struct erofs_ext_data *x = n->src.ext;
	unsigned int blkbits = b->opts->blkszbits;
	u64 csize;

	if (n->data_kind == EROFS_DATA_PLACED)
		return hash_range(w, b->out->fd, n->src.off, n->size,
				  b->out->path);
	if (b->tree->ext_fd < 0 || x->device != 1)
		return erofs_fail(-EINVAL, "no source for the data of an extra device");
	if (!x->chunkbits) /* one run */
		return hash_range(w, b->tree->ext_fd, x->blk1 << blkbits,
				  n->size, "extra device 1");
	csize = 1ULL << x->chunkbits;
	for (u64 c = 0; c < x->nchunks; c++) {
		u64 len = min(csize, n->size - c * csize);
		int ret;

		if (x->blk[c] == EROFS_EXT_HOLE) {
			memset(w->buf, 0, min_t(u64, len, DATA_BUFSZ));
			for (u64 done = 0; done < len; done += DATA_BUFSZ)
				erofs_sha256_update(&w->sha, w->buf,
						    min_t(u64, len - done,
							  DATA_BUFSZ));
			continue;
		}
		ret = hash_range(w, b->tree->ext_fd, x->blk[c] << blkbits,
				 len, "extra device 1");
		if (ret)
			return ret;
	}
	return 0;
}

static int process(struct data_worker *w, struct erofs_node *n)
{
	int ret;

	if (S_ISLNK(n->mode) || n->data_kind == EROFS_DATA_MEM)
		return write_mem(w, n);
	if (n->data_kind == EROFS_DATA_EXTERNAL ||
	    n->data_kind == EROFS_DATA_PLACED)
		ret = hash_unwritten(w, n);
	else if (n->L.datalayout == EROFS_INODE_CHUNK_BASED)
		ret = write_chunked(w, n);
	else
		ret = write_flat(w, n);
	if (!ret && n->has_fingerprint)
		erofs_sha256_final(&w->sha, n->fingerprint);
	/*
	 * Spooled data is read once: dropping it now keeps its pages from
	 * being written back to disk, which would double the I/O of a build.
	 */
	if (!ret && n->data_kind == EROFS_DATA_SPOOL)
		fallocate(w->pass->b->tree->spool_fd,
			  FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, n->src.off,
			  round_up(n->size, 4096));
	return ret;
}

/*
 * Jobs are in layout order, so their data lies in ascending order too: what
 * is below the first unfinished job's data will not be written again.
 */
static void settle(struct data_pass *p)
{
	struct erofs_build *b = p->b;
	struct erofs_node *n;
	u64 s = p->settled;

	while (s < p->njobs && p->finished[s])
		s++;
	if (s == p->settled)
		return;
	p->settled = s;
	if (s == p->njobs)
		return; /* the commit syncs the rest */
	n = p->jobs[s];
	if (n->L.datalayout != EROFS_INODE_CHUNK_BASED && n->L.nblocks)
		erofs_output_settled(b->out, erofs_pos(b, n->L.blkaddr));
}

static void *worker_main(void *arg)
{
	struct data_worker *w = arg;
	struct data_pass *p = w->pass;

	for (;;) {
		struct erofs_node *n;
		u64 i;
		int ret;

		pthread_mutex_lock(&p->lock);
		if (p->error || p->next >= p->njobs) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		i = p->next++;
		n = p->jobs[i];
		pthread_mutex_unlock(&p->lock);

		ret = process(w, n);

		pthread_mutex_lock(&p->lock);
		if (ret && !p->error)
			p->error = ret;
		p->finished[i] = true;
		settle(p);
		p->done++;
		p->done_bytes += n->size;
		/* the progress line is redrawn on a timer; wake it only to end */
		if (p->error || p->done == p->njobs)
			pthread_cond_signal(&p->progress);
		pthread_mutex_unlock(&p->lock);
	}
	return NULL;
}

unsigned int erofs_data_workers(const struct erofs_build *b, u64 njobs)
{
	long n = b->opts->workers;

	if (!n)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	if ((u64)n > njobs)
		n = njobs ? njobs : 1;
	return n;
}

int erofs_write_data(struct erofs_build *b)
{
	struct erofs_tree *t = b->tree;
	struct data_pass p = { .b = b };
	struct data_worker *w = NULL;
	pthread_t *th = NULL;
	unsigned int nw, started = 0;
	int ret = 0;

	p.jobs = malloc(t->nr_order * sizeof(*p.jobs));
	p.finished = calloc(t->nr_order, sizeof(*p.finished));
	if (!p.jobs || !p.finished) {
		free(p.jobs);
		free(p.finished);
		return -ENOMEM;
	}
	for (u64 i = 0; i < t->nr_order; i++) {
		struct erofs_node *n = t->order[i];

		if (n->L.zpending || n->L.cpending ||
		    n->data_kind == EROFS_DATA_RESERVED)
			continue;
		/* data written already is only read for its fingerprint */
		if ((n->data_kind == EROFS_DATA_EXTERNAL ||
		     n->data_kind == EROFS_DATA_PLACED) &&
		    (!n->has_fingerprint || n->fingerprint_known))
			continue;
		if ((S_ISREG(n->mode) && n->size) || S_ISLNK(n->mode)) {
			p.jobs[p.njobs++] = n;
			p.total_bytes += n->size;
		}
	}
	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.progress, NULL);
	nw = erofs_data_workers(b, p.njobs);
	w = calloc(nw, sizeof(*w));
	th = calloc(nw, sizeof(*th));
	if (!w || !th) {
		ret = -ENOMEM;
		goto out;
	}
	for (unsigned int i = 0; i < nw; i++) {
		w[i].pass = &p;
		w[i].buf = malloc(DATA_BUFSZ);
		if (!w[i].buf) {
			ret = -ENOMEM;
			goto out;
		}
		if (b->opts->ishare) {
			ret = erofs_sha256_init(&w[i].sha);
			if (ret)
				goto out;
		}
	}
	for (; started < nw; started++) {
		if (erofs_thread_create(&th[started], worker_main,
					&w[started])) {
			ret = -errno;
			break;
		}
	}
	/* report progress while the workers run */
	pthread_mutex_lock(&p.lock);
	while (!ret && !p.error && p.done < p.njobs) {
		struct timespec ts;

		erofs_progress("writing data (MiB)", p.done_bytes >> 20,
			       p.total_bytes >> 20);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&p.progress, &p.lock, &ts);
	}
	pthread_mutex_unlock(&p.lock);
	for (unsigned int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	erofs_progress_done();
	if (!ret)
		ret = p.error;
out:
	for (unsigned int i = 0; w && i < nw; i++) {
		free(w[i].buf);
		if (w[i].sha.ctx)
			erofs_sha256_free(&w[i].sha);
	}
	free(w);
	free(th);
	free(p.jobs);
	free(p.finished);
	pthread_mutex_destroy(&p.lock);
	pthread_cond_destroy(&p.progress);
	return ret;
}
