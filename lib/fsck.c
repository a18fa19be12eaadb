// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The image check: a walk that decodes metadata on this thread and hands
 * every regular file to worker threads that read its data in large pieces,
 * hash it for the fingerprint in the same pass and write it out when
 * extracting.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "erofs/budget.h"
#include "erofs/data_read.h"
#include "erofs/device.h"
#include "erofs/dir_read.h"
#include "erofs/error.h"
#include "erofs/fingerprint.h"
#include "erofs/format.h"
#include "erofs/fsck.h"
#include "erofs/inode_read.h"
#include "erofs/walk.h"
#include "erofs/xattr.h"
#include "erofs/xattr_read.h"

#define DATA_BUF_SIZE (256U << 10)
#define QUEUE_SIZE 8 /* batches */
#define BATCH_FILES 64
#define BATCH_BYTES (4U << 20)
#define MAX_WORKERS 64

struct job {
	struct erofs_rinode ri;
	char *path;
	int fd; /* extraction target, -1 when only checking */
	bool verify; /* compare with "digest" */
	u8 digest[EROFS_SHA256_SIZE];
	u8 *tail; /* the inline tail, read while its block was at hand */
};

/* Small files travel in groups so that threads rarely meet at the lock. */
struct batch {
	struct job *jobs[BATCH_FILES];
	unsigned int n;
	u64 bytes;
};

struct worker {
	struct fsck *c;
	pthread_t thread;
	u8 *buf;
	struct erofs_sha256 sha;
	bool sha_ready;
	u64 verified; /* fingerprints that matched */
};

struct fsck {
	struct erofs_image *img;
	const struct erofs_fsck_opts *opts;
	struct erofs_fsck_result *res;
	struct erofs_extractor *x;
	const char *fp_name; /* fingerprint xattr to verify, or NULL */
	bool fp_required; /* non-empty files must have one */
	bool fp_demanded; /* --xattr-inode-digest: a missing one is damage */

	pthread_mutex_t lock; /* reports, problem counts and the queue */
	pthread_cond_t not_empty, not_full;
	struct batch *queue[QUEUE_SIZE];
	struct batch *filling; /* being filled by the walk */
	unsigned int head, count;
	bool stopping;
	/* extraction: files open for data, bounded by the fd limit */
	unsigned int open_fds, max_open_fds;
	pthread_cond_t fd_room;
	struct worker *workers;
	unsigned int nworkers, started;
	struct worker inline_worker; /* without threads */
	struct erofs_budget budget;
	/* reads refused by the budget: said once, then counted */
	u64 over_budget;
};

static enum erofs_fsck_level level_of(int err)
{
	if (!err)
		return EROFS_FSCK_WARNING;
	if (err == -EFSCORRUPTED)
		return EROFS_FSCK_CORRUPT;
	/* unsupported, on an extra device that was not given, over a bound */
	if (err == -EOPNOTSUPP || err == -ENODEV || err == -EDQUOT)
		return EROFS_FSCK_UNCHECKED;
	return EROFS_FSCK_ERROR;
}

static void report_locked(struct fsck *c, enum erofs_fsck_level level,
			  const char *path, erofs_nid_t nid, const char *msg)
{
	c->res->problems[level]++;
	if (c->opts->report)
		c->opts->report(c->opts->report_arg, level, path, nid, msg);
}

static void __printf(5, 6) report(struct fsck *c, enum erofs_fsck_level level,
				  const char *path, erofs_nid_t nid,
				  const char *fmt, ...)
{
	char msg[640];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&c->lock);
	report_locked(c, level, path, nid, msg);
	pthread_mutex_unlock(&c->lock);
}

/* A data read failed: said with where; past a bound only the first time. */
static void data_failed(struct fsck *c, const char *path, erofs_nid_t nid,
			int err, u64 pos, const char *why)
{
	if (err == -EDQUOT) {
		bool first;

		pthread_mutex_lock(&c->lock);
		first = !c->over_budget++;
		if (!first)
			c->res->problems[EROFS_FSCK_UNCHECKED]++;
		pthread_mutex_unlock(&c->lock);
		if (!first)
			return;
	}
	report(c, level_of(err), path, nid, "nid %llu: data at offset %llu: %s",
	       (unsigned long long)nid, (unsigned long long)pos, why);
}

static void walk_problem(void *arg, const char *path, erofs_nid_t nid, int err,
			 const char *msg)
{
	struct fsck *c = arg;

	pthread_mutex_lock(&c->lock);
	report_locked(c, level_of(err), path, nid, msg);
	pthread_mutex_unlock(&c->lock);
}

/* Report an operational failure of extraction with the errno text. */
static void extract_failed(struct fsck *c, const char *path, erofs_nid_t nid,
			   int err, const char *why)
{
	report(c, err == -EFSCORRUPTED ? EROFS_FSCK_CORRUPT : EROFS_FSCK_ERROR,
	       path, nid, "nid %llu: extract: %s: %s", (unsigned long long)nid,
	       why, strerror(-err));
}

static int worker_init(struct worker *w, struct fsck *c)
{
	w->c = c;
	w->buf = malloc(DATA_BUF_SIZE);
	if (!w->buf)
		return -ENOMEM;
	if (c->fp_name && erofs_sha256_available()) {
		int ret = erofs_sha256_init(&w->sha);

		if (ret)
			return ret;
		w->sha_ready = true;
	}
	return 0;
}

static void worker_free(struct worker *w)
{
	free(w->buf);
	w->buf = NULL;
	if (w->sha_ready)
		erofs_sha256_free(&w->sha);
	w->sha_ready = false;
}

static int write_full(int fd, const u8 *p, size_t len, u64 pos)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, pos);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!n)
			return -ENOSPC;
		p += n;
		pos += n;
		len -= n;
	}
	return 0;
}

static void hash_zeros(struct erofs_sha256 *sha, u64 len)
{
	static const u8 zeros[65536];

	while (len) {
		size_t n = min_t(u64, len, sizeof(zeros));

		erofs_sha256_update(sha, zeros, n);
		len -= n;
	}
}

static void hex(char *out, const u8 *in, size_t len)
{
	for (size_t i = 0; i < len; i++)
		sprintf(out + 2 * i, "%02x", in[i]);
}

/* Read all of one file's data: checks, hashes and writes as it goes. */
static void process_job(struct worker *w, struct job *j)
{
	struct fsck *c = w->c;
	struct erofs_image *img = c->img;
	unsigned long long nid = j->ri.nid;
	bool hashing = j->verify && w->sha_ready, ok = true;
	bool hash_skipped = false;
	int fd = j->fd;
	u64 pos = 0, size = j->ri.i.size;
	const char *why = "";
	int ret;

	while (ok && pos < size) {
		struct erofs_map m;
		u64 end;

		ret = erofs_map_data(img, &j->ri, pos, &m, &why);
		if (ret) {
			data_failed(c, j->path, nid, ret, pos, why);
			ok = false;
			break;
		}
		end = m.la + m.llen;
		if (m.kind == EROFS_MAP_ENCODED && !hashing && fd < 0) {
			/* nothing needs the bytes: each cluster decoded once */
			ret = erofs_check_encoded(img, &j->ri, &m, &why);
			if (ret) {
				data_failed(c, j->path, nid, ret, pos, why);
				ok = false;
				break;
			}
			pos = end;
			continue;
		}
		while (pos < end) {
			size_t n = min_t(u64, end - pos, DATA_BUF_SIZE);
			u64 at = m.pa + (pos - m.la);

			if (m.kind == EROFS_MAP_HOLE) {
				/* nothing to read or write: only the hash */
				n = end - pos;
				if (hashing && !hash_skipped &&
				    erofs_budget_hash_holes(img->budget, n,
							    &why)) {
					hash_skipped = true;
					report(c, EROFS_FSCK_UNCHECKED, j->path,
					       nid,
					       "nid %llu: fingerprint not verified: %s",
					       nid, why);
				}
				if (hashing && !hash_skipped)
					hash_zeros(&w->sha, n);
				pos += n;
				continue;
			}
			if (m.kind == EROFS_MAP_ENCODED) {
				/* compressed: decoded (once per extent) */
				ret = erofs_read_data(img, &j->ri, w->buf, n,
						      pos, &why);
				if (ret) {
					data_failed(c, j->path, nid, ret, pos,
						    why);
					ok = false;
					break;
				}
			} else if (m.kind == EROFS_MAP_INLINE && j->tail) {
				memcpy(w->buf, j->tail + (pos - m.la), n);
				ret = 0;
			} else if (m.kind == EROFS_MAP_INLINE) {
				ret = erofs_image_read(img, w->buf, n, at);
				why = ret == -EFSCORRUPTED ?
					      "lies past the end of the image" :
					      strerror(-ret);
			} else {
				ret = erofs_device_read(img, m.dev, w->buf, n,
							at, &why);
			}
			if (ret) {
				data_failed(c, j->path, nid, ret, pos, why);
				ok = false;
				break;
			}
			if (hashing && !hash_skipped)
				erofs_sha256_update(&w->sha, w->buf, n);
			if (fd >= 0) {
				ret = write_full(fd, w->buf, n, pos);
				if (ret) {
					extract_failed(c, j->path, nid, ret,
						       "cannot write the file");
					close(fd);
					fd = -1;
				}
			}
			pos += n;
		}
	}

	if (hashing) {
		u8 got[EROFS_SHA256_SIZE];

		erofs_sha256_final(&w->sha, got);
		if (hash_skipped) {
			/* reported above */
		} else if (ok && memcmp(got, j->digest, sizeof(got))) {
			char want_hex[65], got_hex[65];

			hex(want_hex, j->digest, sizeof(got));
			hex(got_hex, got, sizeof(got));
			report(c, EROFS_FSCK_CORRUPT, j->path, nid,
			       "nid %llu: content does not match its fingerprint (recorded sha256 %s, content sha256 %s)",
			       nid, want_hex, got_hex);
		} else if (ok) {
			w->verified++;
		}
	}
	if (j->fd >= 0) {
		pthread_mutex_lock(&c->lock);
		c->open_fds--;
		pthread_cond_signal(&c->fd_room);
		pthread_mutex_unlock(&c->lock);
	}
	if (fd >= 0) {
		if (ok) {
			ret = erofs_extract_finish_file(c->x, fd, &j->ri, &why);
			if (ret)
				extract_failed(c, j->path, nid, ret, why);
		} else {
			close(fd);
		}
	}
	free(j->tail);
	free(j->path);
	free(j);
}

static void process_batch(struct worker *w, struct batch *b)
{
	for (unsigned int i = 0; i < b->n; i++)
		process_job(w, b->jobs[i]);
	free(b);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct fsck *c = w->c;

	for (;;) {
		struct batch *b;

		pthread_mutex_lock(&c->lock);
		while (!c->count && !c->stopping)
			pthread_cond_wait(&c->not_empty, &c->lock);
		if (!c->count) {
			pthread_mutex_unlock(&c->lock);
			return NULL;
		}
		b = c->queue[c->head];
		c->head = (c->head + 1) % QUEUE_SIZE;
		c->count--;
		pthread_cond_signal(&c->not_full);
		pthread_mutex_unlock(&c->lock);
		process_batch(w, b);
	}
}

static int start_workers(struct fsck *c)
{
	unsigned int n = c->opts->workers;
	int ret;

	if (!n) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		n = cpus > 0 ? cpus : 1;
	}
	n = min(n, MAX_WORKERS);
	ret = worker_init(&c->inline_worker, c);
	if (ret || n <= 1)
		return ret;
	c->workers = calloc(n, sizeof(*c->workers));
	if (!c->workers)
		return -ENOMEM;
	c->nworkers = n;
	for (unsigned int i = 0; i < n; i++) {
		ret = worker_init(&c->workers[i], c);
		if (ret)
			return ret;
		ret = -erofs_thread_create(&c->workers[i].thread, worker_main,
					   &c->workers[i]);
		if (ret)
			return ret;
		c->started++;
	}
	return 0;
}

static void submit_batch(struct fsck *c)
{
	struct batch *b = c->filling;

	c->filling = NULL;
	if (!b)
		return;
	if (!c->started) {
		process_batch(&c->inline_worker, b);
		return;
	}
	pthread_mutex_lock(&c->lock);
	while (c->count == QUEUE_SIZE)
		pthread_cond_wait(&c->not_full, &c->lock);
	c->queue[(c->head + c->count) % QUEUE_SIZE] = b;
	c->count++;
	pthread_cond_signal(&c->not_empty);
	pthread_mutex_unlock(&c->lock);
}

static void stop_workers(struct fsck *c)
{
	submit_batch(c);
	pthread_mutex_lock(&c->lock);
	c->stopping = true;
	pthread_cond_broadcast(&c->not_empty);
	pthread_mutex_unlock(&c->lock);
	for (unsigned int i = 0; i < c->started; i++)
		pthread_join(c->workers[i].thread, NULL);
	for (unsigned int i = 0; i < c->nworkers; i++) {
		c->res->fingerprints_verified += c->workers[i].verified;
		worker_free(&c->workers[i]);
	}
	free(c->workers);
	c->workers = NULL;
	c->res->fingerprints_verified += c->inline_worker.verified;
	worker_free(&c->inline_worker);
}

static int submit(struct fsck *c, struct job *j)
{
	if (!c->filling) {
		c->filling = calloc(1, sizeof(*c->filling));
		if (!c->filling)
			return -ENOMEM;
	}
	c->filling->jobs[c->filling->n++] = j;
	c->filling->bytes += j->ri.i.size;
	if (c->filling->n == BATCH_FILES || c->filling->bytes >= BATCH_BYTES)
		submit_batch(c);
	return 0;
}

/*
 * Before a file is created for extraction: wait while too many wait for
 * their data, handing the batch being filled to the workers first.
 */
static void wait_fd_room(struct fsck *c)
{
	if (c->open_fds < c->max_open_fds)
		return;
	submit_batch(c);
	pthread_mutex_lock(&c->lock);
	while (c->open_fds >= c->max_open_fds)
		pthread_cond_wait(&c->fd_room, &c->lock);
	pthread_mutex_unlock(&c->lock);
}

static int queue_data(struct fsck *c, const struct erofs_rinode *ri,
		      const char *path, int fd, const u8 *digest)
{
	struct job *j = calloc(1, sizeof(*j));
	int ret = -ENOMEM;

	if (fd >= 0) {
		pthread_mutex_lock(&c->lock);
		c->open_fds++;
		pthread_mutex_unlock(&c->lock);
	}

	if (!j || !(j->path = strdup(path)))
		goto fail;
	j->ri = *ri;
	j->fd = fd;
	j->verify = digest;
	if (digest)
		memcpy(j->digest, digest, EROFS_SHA256_SIZE);
	if (ri->tail_len) {
		j->tail = malloc(ri->tail_len);
		if (!j->tail)
			goto fail;
		/*
		 * An unreadable tail is left to the worker to report. Read
		 * past the metadata cache: a tail is read once, and would
		 * only push inodes and directories out of it.
		 */
		if (erofs_image_pread(c->img, j->tail, ri->tail_len,
				      ri->tail_pos)) {
			free(j->tail);
			j->tail = NULL;
		}
	}
	ret = submit(c, j);
	if (!ret)
		return 0;
fail:
	if (j) {
		free(j->tail);
		free(j->path);
	}
	free(j);
	if (fd >= 0) {
		close(fd);
		pthread_mutex_lock(&c->lock);
		c->open_fds--;
		pthread_mutex_unlock(&c->lock);
	}
	return ret;
}

/* One pass over an inode's xattrs decodes them all and finds the print. */
struct xattr_scan {
	const char *fp_name;
	int fp_len; /* -ENODATA until found */
	u8 fp_value[EROFS_FINGERPRINT_VALUE_SIZE];
};

static int scan_xattr(void *arg, const struct erofs_xattr_ref *x)
{
	struct xattr_scan *s = arg;

	if (s->fp_name && s->fp_len == -ENODATA && !strcmp(x->name, s->fp_name)) {
		s->fp_len = x->value_len;
		memcpy(s->fp_value, x->value,
		       min_t(size_t, x->value_len, sizeof(s->fp_value)));
	}
	return 0;
}

/* The recorded fingerprint: 1 with *digest, 0 when there is none to check. */
static int take_fingerprint(struct fsck *c, const struct erofs_walk_entry *e,
			    const struct xattr_scan *s, u8 *digest)
{
	const struct erofs_rinode *ri = e->inode;

	if (!c->fp_name)
		return 0;
	if (s->fp_len == -ENODATA) {
		/*
		 * mkfs.erofs leaves out the fingerprint of a file whose holes
		 * would pass --ishare-holes, and says so: such a file cannot
		 * be verified (and does not share), which is not damage
		 * unless every fingerprint was asked for.
		 */
		if (ri->i.size && c->fp_required)
			report(c, c->fp_demanded ? EROFS_FSCK_CORRUPT :
						   EROFS_FSCK_UNCHECKED,
			       e->path, e->nid,
			       "nid %llu: no content fingerprint (xattr %s): its content cannot be verified",
			       (unsigned long long)e->nid, c->fp_name);
		return 0;
	}
	if (erofs_fingerprint_parse(s->fp_value, s->fp_len, digest)) {
		report(c, EROFS_FSCK_CORRUPT, e->path, e->nid,
		       "nid %llu: fingerprint xattr %s is not \"sha256:\" and 32 bytes (%d bytes)",
		       (unsigned long long)e->nid, c->fp_name, s->fp_len);
		return 0;
	}
	if (!erofs_sha256_available()) {
		report(c, EROFS_FSCK_UNCHECKED, e->path, e->nid,
		       "nid %llu: fingerprint not verified: built without SHA-256 support",
		       (unsigned long long)e->nid);
		return 0;
	}
	return 1;
}

static int check_symlink(struct fsck *c, const struct erofs_walk_entry *e,
			 char *target)
{
	const struct erofs_rinode *ri = e->inode;
	unsigned long long nid = e->nid;
	const char *why = "";
	int ret;

	if (!ri->i.size || ri->i.size > EROFS_SYMLINK_MAXLEN) {
		report(c, EROFS_FSCK_CORRUPT, e->path, nid,
		       "nid %llu: symlink target of %llu bytes", nid,
		       (unsigned long long)ri->i.size);
		return -EFSCORRUPTED;
	}
	if (!erofs_data_readable(ri)) {
		report(c, EROFS_FSCK_UNCHECKED, e->path, nid,
		       "nid %llu: symlink in data layout %u, which this reader does not know: not checked",
		       nid, ri->i.datalayout);
		return -EOPNOTSUPP;
	}
	ret = erofs_read_data(c->img, ri, target, ri->i.size, 0, &why);
	if (ret) {
		report(c, level_of(ret), e->path, nid, "nid %llu: %s", nid,
		       why);
		return ret;
	}
	target[ri->i.size] = '\0';
	if (strlen(target) != ri->i.size) {
		report(c, EROFS_FSCK_CORRUPT, e->path, nid,
		       "nid %llu: symlink target contains a NUL byte", nid);
		return -EFSCORRUPTED;
	}
	return 0;
}

/* Results the walk alone writes need no lock. */
static void count_inode(struct fsck *c, const struct erofs_rinode *ri)
{
	struct erofs_fsck_result *r = c->res;

	r->inodes++;
	switch (ri->i.mode & S_IFMT) {
	case S_IFDIR:
		r->dirs++;
		break;
	case S_IFREG:
		r->files++;
		break;
	case S_IFLNK:
		r->symlinks++;
		break;
	default:
		r->specials++;
		break;
	}
}

static int fsck_visit(void *arg, const struct erofs_walk_entry *e)
{
	struct fsck *c = arg;
	const struct erofs_rinode *ri = e->inode;
	unsigned long long nid = e->nid;
	char target[EROFS_SYMLINK_MAXLEN + 1];
	u8 digest[EROFS_SHA256_SIZE];
	struct xattr_scan scan = { .fp_len = -ENODATA };
	const char *why = "";
	bool extract = c->x;
	int fd = -1, ret, has_fp = 0;

	if (e->seen) {
		/* a hard link: checked at its first name */
		if (!extract)
			return 0;
		if (e->first_relpath) {
			ret = erofs_extract_entry(c->x, e, NULL, &fd, &why);
			if (ret < 0)
				extract_failed(c, e->path, nid, ret, why);
			return 0;
		}
		/* link count 1, yet linked twice: extract it again */
	} else {
		count_inode(c, ri);
		if (S_ISREG(ri->i.mode))
			scan.fp_name = c->fp_name;
		ret = erofs_xattr_foreach(c->img, ri, scan_xattr, &scan, &why);
		if (ret) {
			report(c, level_of(ret), e->path, nid,
			       "nid %llu: xattrs: %s", nid, why);
			scan.fp_len = -ENODATA;
		}
	}

	switch (ri->i.mode & S_IFMT) {
	case S_IFLNK:
		if (check_symlink(c, e, target))
			extract = false;
		break;
	case S_IFREG:
		if (!e->seen)
			has_fp = take_fingerprint(c, e, &scan, digest);
		if (!erofs_data_readable(ri)) {
			u64 stored = 0;

			erofs_data_physical_bytes(c->img, ri, &stored, &why);
			c->res->unchecked_files++;
			c->res->content_bytes += ri->i.size;
			c->res->stored_bytes += stored;
			report(c, EROFS_FSCK_UNCHECKED, e->path, nid,
			       "nid %llu: data layout %u, which this reader does not know: not checked",
			       nid, ri->i.datalayout);
			extract = false;
			break;
		}
		if (!e->seen) {
			u64 stored = ri->i.size;

			/* compressed files count the blocks they occupy */
			if (erofs_layout_is_compressed(ri->i.datalayout) &&
			    erofs_data_physical_bytes(c->img, ri, &stored,
						      &why))
				stored = ri->i.size;
			c->res->content_bytes += ri->i.size;
			c->res->stored_bytes += stored;
		}
		break;
	default:
		break;
	}

	if (extract) {
		if (S_ISREG(ri->i.mode))
			wait_fd_room(c);
		ret = erofs_extract_entry(c->x, e, target, &fd, &why);
		if (ret < 0)
			extract_failed(c, e->path, nid, ret, why);
	}
	if (S_ISREG(ri->i.mode) && erofs_data_readable(ri) &&
	    (!e->seen || fd >= 0)) {
		ret = queue_data(c, ri, e->path, fd, has_fp ? digest : NULL);
		if (ret)
			return ret;
	}
	return 0;
}

static int fsck_leave(void *arg, const struct erofs_walk_entry *e)
{
	struct fsck *c = arg;
	const char *why = "";
	int ret;

	if (!c->x)
		return 0;
	ret = erofs_extract_leave(c->x, e, &why);
	if (ret)
		extract_failed(c, e->path, e->nid, ret, why);
	return 0;
}

/* Whole-image facts only the superblock and the full walk can compare. */
static void check_image(struct fsck *c, const struct erofs_walk_stats *st,
			bool full)
{
	struct erofs_image *img = c->img;
	const struct erofs_sb_info *sb = &img->sb;

	if (sb->blocks && sb->blocks > (img->size >> img->blkszbits))
		report(c, EROFS_FSCK_CORRUPT, img->path, sb->root_nid,
		       "image has %llu bytes but the superblock says %llu blocks of %u bytes (truncated?)",
		       (unsigned long long)img->size,
		       (unsigned long long)sb->blocks, img->blksz);
	if (sb->xattr_prefix_count &&
	    !(sb->feature_incompat & EROFS_FEATURE_INCOMPAT_XATTR_PREFIXES))
		report(c, EROFS_FSCK_WARNING, img->path, sb->root_nid,
		       "long xattr name prefixes without the xattr_prefixes feature: older kernels misread xattrs");
	/* the packed inode and the metabox are counted but in no directory */
	if (full && !st->problems && sb->inos &&
	    sb->inos != st->inodes + !!img->metabox +
				!!(sb->packed_nid &&
				   (sb->feature_incompat &
				    EROFS_FEATURE_INCOMPAT_FRAGMENTS)))
		report(c, EROFS_FSCK_WARNING, img->path, sb->root_nid,
		       "superblock counts %llu inodes, the tree has %llu",
		       (unsigned long long)sb->inos,
		       (unsigned long long)st->inodes);
}

/*
 * Extra devices that cannot be read whole: said once here; each file with
 * data where they are missing is reported as not checked, each read past
 * where they end as corruption.
 */
#define DEVICE_WARNINGS 16 /* a table may list 65535 devices */

static void check_devices(struct fsck *c)
{
	struct erofs_image *img = c->img;
	unsigned int warned = 0, more = 0;

	for (unsigned int i = 0; i < img->nr_devices; i++) {
		const struct erofs_device *d = &img->devices[i];

		if (!d->missing && d->avail >= d->blocks << img->blkszbits)
			continue;
		if (warned++ >= DEVICE_WARNINGS)
			more++;
		else if (d->missing && !d->uniaddr)
			report(c, EROFS_FSCK_WARNING, img->path,
			       img->sb.root_nid,
			       "extra device %u has no unified address, so the image file cannot hold it: files with data on it cannot be checked; give it with --device=FILE",
			       i + 1);
		else if (d->missing)
			report(c, EROFS_FSCK_WARNING, img->path,
			       img->sb.root_nid,
			       "extra device %u would start at byte %llu of the image file, which has %llu bytes: files with data on it cannot be checked; give it with --device=FILE",
			       i + 1,
			       (unsigned long long)(d->uniaddr
						    << img->blkszbits),
			       (unsigned long long)img->size);
		else
			report(c, EROFS_FSCK_WARNING, img->path,
			       img->sb.root_nid, "%s", d->short_why);
	}
	if (more)
		report(c, EROFS_FSCK_WARNING, img->path, img->sb.root_nid,
		       "%u more extra devices are missing or cut short", more);
}

static void check_packed(struct fsck *c)
{
	struct erofs_image *img = c->img;
	struct erofs_rinode ri;
	const char *why = "";
	unsigned long long nid = img->sb.packed_nid;
	int ret;

	if (!(img->sb.feature_incompat & EROFS_FEATURE_INCOMPAT_FRAGMENTS) ||
	    !nid)
		return;
	ret = erofs_read_inode(img, nid, &ri, &why);
	if (ret) {
		report(c, level_of(ret), "<packed inode>", nid,
		       "nid %llu: %s", nid, why);
		return;
	}
	if (!S_ISREG(ri.i.mode)) {
		report(c, EROFS_FSCK_CORRUPT, "<packed inode>", nid,
		       "nid %llu: the packed inode is not a regular file (mode 0%o)",
		       nid, ri.i.mode);
		return;
	}
	if (!erofs_data_readable(&ri)) {
		report(c, EROFS_FSCK_UNCHECKED, "<packed inode>", nid,
		       "nid %llu: data layout %u, which this reader does not know: not checked",
		       nid, ri.i.datalayout);
		return;
	}
	queue_data(c, &ri, "<packed inode>", -1, NULL);
}

/* The metabox's data, decoded whole: every record it holds can be read. */
static void check_metabox(struct fsck *c)
{
	struct erofs_image *img = c->img;

	if (img->metabox)
		queue_data(c, img->metabox, "<metabox inode>", -1, NULL);
}

/* The bytes the image keeps on all its devices, for the default bounds. */
static u64 image_bytes(const struct erofs_image *img)
{
	u64 total = img->size;

	for (unsigned int i = 0; i < img->nr_devices; i++)
		total += img->devices[i].avail;
	return total;
}

int erofs_fsck(struct erofs_image *img, const struct erofs_fsck_opts *opts,
	       struct erofs_fsck_result *res)
{
	struct fsck c = { .img = img, .opts = opts, .res = res };
	const struct erofs_walk_ops ops = {
		.visit = fsck_visit,
		.leave = fsck_leave,
		.problem = walk_problem,
	};
	struct erofs_walk_stats st = { 0 };
	erofs_nid_t start = img->sb.root_nid;
	bool share_ready =
		img->sb.feature_compat & EROFS_FEATURE_COMPAT_ISHARE_XATTRS;
	int ret;

	memset(res, 0, sizeof(*res));
	if (opts->path) {
		ret = erofs_lookup_path(img, opts->path, &start);
		if (ret)
			return ret;
	} else if (opts->nid_given) {
		u64 base = img->sb.meta_blkaddr << img->blkszbits;

		/* a number that cannot name an inode of this image was
		 * asked wrongly; one that names a damaged inode is checked */
		start = opts->nid;
		if ((start >> EROFS_DIRENT_NID_METABOX_BIT) ?
			    !(img->sb.feature_incompat &
			      EROFS_FEATURE_INCOMPAT_METABOX) :
			    start > (img->size >> EROFS_ISLOTBITS) ||
				    !erofs_image_contains(
					    img, base + (start << EROFS_ISLOTBITS),
					    sizeof(struct erofs_inode_compact)))
			return erofs_fail(-EINVAL,
					  "--nid=%llu: no such inode: it would lie past the end of the image (%llu bytes), or in a metadata box it does not have",
					  (unsigned long long)start,
					  (unsigned long long)img->size);
	}

	erofs_budget_init(&c.budget, opts->max_decompressed,
			  opts->max_hole_hash, image_bytes(img));
	img->budget = &c.budget;
	pthread_mutex_init(&c.lock, NULL);
	pthread_cond_init(&c.not_empty, NULL);
	pthread_cond_init(&c.not_full, NULL);
	pthread_cond_init(&c.fd_room, NULL);

	if (opts->fingerprints == EROFS_FSCK_FP_REQUIRE || share_ready) {
		c.fp_name = opts->fingerprint_name ? opts->fingerprint_name :
						     img->ishare_name;
		c.fp_required = true;
		c.fp_demanded = opts->fingerprints == EROFS_FSCK_FP_REQUIRE;
		if (!c.fp_name)
			report(&c, EROFS_FSCK_CORRUPT, img->path, start,
			       "the image records no content fingerprints (no fingerprint xattr name); name one with --xattr-inode-digest=NAME");
	}

	if (opts->extract) {
		struct rlimit rl;

		ret = erofs_extract_open(&c.x, img, opts->extract);
		if (ret)
			goto out;
		/* half the descriptors for files, the rest for directories */
		c.max_open_fds = 512;
		if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY)
			c.max_open_fds = rl.rlim_cur / 2;
		c.max_open_fds = min(max(c.max_open_fds, 8U), 4096U);
	}
	ret = start_workers(&c);
	if (ret) {
		erofs_fail(ret, "cannot start data threads: %s", strerror(-ret));
		stop_workers(&c);
		goto out;
	}
	check_devices(&c);
	if (start == img->sb.root_nid && !opts->path) {
		check_packed(&c);
		check_metabox(&c);
	}
	ret = erofs_walk(img, start, opts->path, &ops, &c, &st);
	stop_workers(&c);
	if (ret)
		erofs_fail(ret, "%s: the check stopped: %s", img->path,
			   strerror(-ret));
	else
		check_image(&c, &st, start == img->sb.root_nid);
	if (c.over_budget > 1)
		report(&c, EROFS_FSCK_UNCHECKED, img->path, img->sb.root_nid,
		       "%llu more data reads refused at the same bound",
		       (unsigned long long)c.over_budget - 1);
out:
	img->budget = NULL;
	erofs_budget_free(&c.budget);
	erofs_extract_close(c.x);
	pthread_cond_destroy(&c.not_empty);
	pthread_cond_destroy(&c.not_full);
	pthread_cond_destroy(&c.fd_room);
	pthread_mutex_destroy(&c.lock);
	return ret;
}
