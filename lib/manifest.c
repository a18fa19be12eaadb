// SPDX-License-Identifier: GPL-2.0-or-later
/* Fingerprint manifests: writing them from images, reading them for reports. */
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "erofs/array.h"
#include "erofs/error.h"
#include "erofs/fingerprint.h"
#include "erofs/image_open.h"
#include "erofs/json.h"
#include "erofs/manifest.h"
#include "erofs/xattr.h"

/* A line longer than this is refused (paths 2048 deep, long extent lists). */
#define MANIFEST_MAX_LINE (64U << 20)
/* Sizes above this are refused: no file is that large, sums stay exact. */
#define MANIFEST_MAX_SIZE (1ULL << 56)

static const char *const nofp_names[EROFS_SHARE_FP_NR] = {
	[EROFS_SHARE_FP_ABSENT] = "absent",
	[EROFS_SHARE_FP_EMPTY] = "empty",
	[EROFS_SHARE_FP_TOO_LONG] = "too_long",
	[EROFS_SHARE_FP_UNREADABLE] = "unreadable",
};

/*
 * This machine, for the files devices are read from: /etc/machine-id, or
 * the host name. A device's file number means nothing on another machine.
 */
static const char *this_host(void)
{
	static char host[256];
	static bool done;
	ssize_t n = 0;
	int fd;

	if (done)
		return host[0] ? host : NULL;
	done = true;
	fd = open("/etc/machine-id", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, host, sizeof(host) - 1);
		close(fd);
	}
	if (n < 0)
		n = 0;
	while (n > 0 && (host[n - 1] == '\n' || host[n - 1] == ' '))
		n--;
	host[n] = '\0';
	if (!n && gethostname(host, sizeof(host) - 1))
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	return host[0] ? host : NULL;
}

/* --- writing -------------------------------------------------------------- */

struct writer {
	FILE *out;
	const struct erofs_image *img;
	u32 page_size;
	bool verify;
	bool share_ready;
	char *ident; /* "image":...,"uuid":"..." of the current image */
	size_t ident_len;
	u64 files, links, dirs;
	u64 seq; /* file lines written in this run, for ordering elsewhere */
	u64 unreadable, mismatched;
	char *first_unreadable;
	int verified; /* of the next file: 1, 0, -1; -2 none given */
	u64 (*ext)[3];
	size_t nr_ext;
	u64 cap_ext;
	unsigned int nr_devs;
};

static u64 pages(const struct writer *w, u64 size)
{
	return size / w->page_size + !!(size % w->page_size);
}

static void put_u64(FILE *out, const char *key, u64 v)
{
	fprintf(out, ",\"%s\":%llu", key, (unsigned long long)v);
}

static void begin_line(struct writer *w, const char *kind)
{
	fprintf(w->out, "{\"kind\":\"%s\",", kind);
	fwrite(w->ident, 1, w->ident_len, w->out);
}

static int w_image(void *arg, const char *name, const char *fp_name)
{
	struct writer *w = arg;
	char uuid[40];
	FILE *m;

	uuid_unparse_lower(w->img->sb.uuid, uuid);
	free(w->ident);
	w->ident = NULL;
	m = open_memstream(&w->ident, &w->ident_len);
	if (!m)
		return -ENOMEM;
	fputs("\"image\":", m);
	erofs_json_str(m, name);
	fprintf(m, ",\"uuid\":\"%s\"", uuid);
	if (fclose(m))
		return -ENOMEM;
	w->share_ready = fp_name;
	begin_line(w, "image");
	fprintf(w->out, ",\"manifest\":%d", EROFS_MANIFEST_VERSION);
	put_u64(w->out, "block_size", w->img->blksz);
	put_u64(w->out, "page_size", w->page_size);
	fprintf(w->out, ",\"share_ready\":%s,\"fingerprint_xattr\":",
		fp_name ? "true" : "false");
	erofs_json_str(w->out, fp_name);
	fprintf(w->out, ",\"verified\":%s}\n", w->verify ? "true" : "false");
	return 0;
}

static int w_device(void *arg, const struct erofs_share_device *d, u64 bytes)
{
	struct writer *w = arg;
	bool known = d->file_dev || d->file_ino;

	begin_line(w, "device");
	put_u64(w->out, "device", w->nr_devs);
	fputs(",\"tag\":", w->out);
	erofs_json_str(w->out, d->tag && d->tag[0] ? d->tag : NULL);
	if (w->nr_devs)
		fputs(",\"bytes\":null", w->out);
	else
		put_u64(w->out, "bytes", bytes);
	fputs(",\"file_host\":", w->out);
	erofs_json_str(w->out,
		       known ? (d->host ? d->host : this_host()) : NULL);
	if (known) {
		put_u64(w->out, "file_dev", d->file_dev);
		put_u64(w->out, "file_ino", d->file_ino);
	} else {
		fputs(",\"file_dev\":null,\"file_ino\":null", w->out);
	}
	put_u64(w->out, "file_offset", d->file_offset);
	fputs("}\n", w->out);
	w->nr_devs++;
	return 0;
}

static int w_extent(void *arg, unsigned int dev, u64 pos, u64 len)
{
	struct writer *w = arg;

	if (w->nr_ext && w->ext[w->nr_ext - 1][0] == dev &&
	    w->ext[w->nr_ext - 1][1] + w->ext[w->nr_ext - 1][2] == pos) {
		w->ext[w->nr_ext - 1][2] += len;
		return 0;
	}
	if (erofs_grow_array(&w->ext, &w->cap_ext, w->nr_ext + 1,
			     sizeof(*w->ext)))
		return -ENOMEM;
	w->ext[w->nr_ext][0] = dev;
	w->ext[w->nr_ext][1] = pos;
	w->ext[w->nr_ext][2] = len;
	w->nr_ext++;
	return 0;
}

static int w_file(void *arg, const struct erofs_share_file *f)
{
	struct writer *w = arg;
	FILE *out = w->out;
	u8 value[EROFS_FINGERPRINT_VALUE_SIZE];
	int verified = w->verified;

	w->verified = -2;
	w->files++;
	w->links++;
	begin_line(w, "file");
	put_u64(out, "seq", w->seq++);
	fputs(",\"path\":", out);
	erofs_json_str(out, f->path);
	put_u64(out, "size", f->size);
	put_u64(out, "pages", pages(w, f->size));
	fprintf(out, ",\"class\":\"%s\",\"fingerprint\":",
		f->compressed ? "compressed" : "uncompressed");
	if (f->fp) {
		erofs_json_hex(out, f->fp, f->fp_len);
		fprintf(out, ",\"source\":\"recorded\",\"verified\":%s",
			verified == 1	? "true"
			: verified == 0 ? "false"
					: "null");
		if (!verified)
			w->mismatched++;
		/* the content, when it says more than the fingerprint */
		if (f->content_sha256 && verified != 1) {
			fputs(",\"sha256\":", out);
			erofs_json_hex(out, f->content_sha256,
				       EROFS_SHA256_SIZE);
		}
	} else if (f->content_sha256) {
		erofs_json_hex(
			out, value,
			erofs_fingerprint_value(f->content_sha256, value));
		fputs(",\"source\":\"computed\",\"verified\":true", out);
	} else {
		fputs("null,\"source\":null,\"verified\":null", out);
		if (f->size && !w->unreadable++)
			w->first_unreadable = strdup(f->path ? f->path : "");
	}
	if (w->share_ready && f->size && !f->fp &&
	    f->nofp < EROFS_SHARE_FP_NR && nofp_names[f->nofp])
		fprintf(out, ",\"nofp\":\"%s\"", nofp_names[f->nofp]);
	if (w->nr_ext) {
		fputs(",\"extents\":[", out);
		for (size_t i = 0; i < w->nr_ext; i++)
			fprintf(out, "%s[%llu,%llu,%llu]", i ? "," : "",
				(unsigned long long)w->ext[i][0],
				(unsigned long long)w->ext[i][1],
				(unsigned long long)w->ext[i][2]);
		fputc(']', out);
		w->nr_ext = 0;
	}
	fputs("}\n", out);
	return 0;
}

static void w_link(void *arg)
{
	((struct writer *)arg)->links++;
}

static void w_dir(void *arg, u64 size)
{
	struct writer *w = arg;

	w->dirs++;
	begin_line(w, "dir");
	put_u64(w->out, "size", size);
	put_u64(w->out, "pages", pages(w, size));
	fputs("}\n", w->out);
}

static void w_verified(void *arg, int matched)
{
	((struct writer *)arg)->verified = matched;
}

static const struct erofs_share_sink manifest_sink = {
	.image = w_image,
	.device = w_device,
	.extent = w_extent,
	.file = w_file,
	.link = w_link,
	.dir = w_dir,
	.verified = w_verified,
};

static int write_image(struct writer *w, struct erofs_share *s,
		       struct erofs_image *img)
{
	int ret;

	w->img = img;
	w->files = w->links = w->dirs = w->unreadable = 0;
	w->nr_devs = 0;
	w->nr_ext = 0;
	w->verified = -2;
	free(w->first_unreadable);
	w->first_unreadable = NULL;
	ret = erofs_share_scan_image(s, img);
	if (ret)
		return ret;
	begin_line(w, "end");
	put_u64(w->out, "files", w->files);
	put_u64(w->out, "links", w->links);
	put_u64(w->out, "dirs", w->dirs);
	fputs("}\n", w->out);
	if (w->unreadable)
		erofs_warn(
			"%s: %llu files have no fingerprint: their content cannot be read (the first: %s)",
			img->path, (unsigned long long)w->unreadable,
			w->first_unreadable ? w->first_unreadable : "?");
	if (ferror(w->out))
		return erofs_fail(-EIO, "writing the manifest of %s failed",
				  img->path);
	return 0;
}

int erofs_manifest_write_images(char *const *paths,
				const struct erofs_image_opts *iopts,
				unsigned int n,
				const struct erofs_manifest_opts *o, FILE *out)
{
	struct erofs_share_opts so = {
		.page_size =
			o->page_size ? o->page_size : EROFS_SHARE_PAGE_SIZE,
		.verify = o->verify,
		.hash_missing = true,
	};
	struct writer w = {
		.out = out,
		.page_size = so.page_size,
		.verify = o->verify,
	};
	struct erofs_share *s;
	int ret;

	ret = erofs_share_new_sink(&s, &so, &manifest_sink, &w);
	if (ret)
		return ret;
	for (unsigned int i = 0; i < n && !ret; i++) {
		struct erofs_image img;
		struct erofs_image_opts io = { 0 };

		ret = erofs_image_open(&img, paths[i], iopts ? &iopts[i] : &io);
		if (ret)
			break;
		ret = write_image(&w, s, &img);
		erofs_image_close(&img);
	}
	erofs_share_free(s);
	free(w.ident);
	free(w.ext);
	free(w.first_unreadable);
	if (!ret && w.mismatched)
		ret = erofs_fail(
			-EBADMSG,
			"%llu fingerprints do not match the content of their files",
			(unsigned long long)w.mismatched);
	return ret;
}

/* --- reading -------------------------------------------------------------- */

int erofs_manifest_probe(const char *path)
{
	u8 buf[EROFS_SUPER_OFFSET + 4];
	__le32 magic;
	ssize_t n;
	int fd;

	if (!strcmp(path, "-"))
		return 1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return erofs_fail(-errno, "%s: %s", path, strerror(errno));
	n = pread(fd, buf, sizeof(buf), 0);
	close(fd);
	if (n < 0)
		return erofs_fail(-errno, "%s: %s", path, strerror(errno));
	/* an image's magic wins over whatever stands before it */
	memcpy(&magic, buf + EROFS_SUPER_OFFSET, sizeof(magic));
	if (n == sizeof(buf) && le32_to_cpu(magic) == EROFS_SUPER_MAGIC)
		return 0;
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == '{')
			return 1;
		if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\n' &&
		    buf[i] != '\r')
			return 0;
	}
	return 0;
}

struct lines {
	int fd;
	const char *path;
	char *msg; /* where a failure is said */
	size_t msg_size;
	char *buf;
	u64 cap;
	size_t start, end;
	u64 lineno;
	bool eof;
};

/* The next line without its newline: 1, 0 at the end, or an error. */
static int next_line(struct lines *l, char **line, size_t *len)
{
	for (;;) {
		char *nl = memchr(l->buf + l->start, '\n', l->end - l->start);
		ssize_t n;

		if (nl || (l->eof && l->end > l->start)) {
			size_t e = nl ? (size_t)(nl - l->buf) : l->end;

			*line = l->buf + l->start;
			*len = e - l->start;
			l->start = nl ? e + 1 : e;
			l->lineno++;
			return 1;
		}
		if (l->eof)
			return 0;
		if (l->start) {
			memmove(l->buf, l->buf + l->start, l->end - l->start);
			l->end -= l->start;
			l->start = 0;
		}
		if (l->end == l->cap) {
			if (l->cap >= MANIFEST_MAX_LINE) {
				snprintf(l->msg, l->msg_size,
					 "%s: line %llu: longer than %u MiB",
					 l->path,
					 (unsigned long long)l->lineno + 1,
					 MANIFEST_MAX_LINE >> 20);
				return -EINVAL;
			}
			if (erofs_grow_array(&l->buf, &l->cap, l->cap + 1, 1))
				return -ENOMEM;
		}
		n = read(l->fd, l->buf + l->end, l->cap - l->end);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(l->msg, l->msg_size, "%s: %s", l->path,
				 strerror(errno));
			return -errno;
		}
		if (!n)
			l->eof = true;
		l->end += n;
	}
}

/* The members of a line the reader knows; the others are skipped. */
enum {
	M_KIND,
	M_IMAGE,
	M_UUID,
	M_MANIFEST,
	M_BLOCK_SIZE,
	M_PAGE_SIZE,
	M_SHARE_READY,
	M_FP_XATTR,
	M_VERIFIED,
	M_DEVICE,
	M_TAG,
	M_BYTES,
	M_FILE_HOST,
	M_FILE_DEV,
	M_FILE_INO,
	M_FILE_OFFSET,
	M_PATH,
	M_SIZE,
	M_PAGES,
	M_CLASS,
	M_FINGERPRINT,
	M_SOURCE,
	M_SHA256,
	M_NOFP,
	M_EXTENTS,
	M_FILES,
	M_LINKS,
	M_DIRS,
	M_NR
};

static const char *const member_names[M_NR] = {
	"kind",	       "image",	    "uuid",	   "manifest",
	"block_size",  "page_size", "share_ready", "fingerprint_xattr",
	"verified",    "device",    "tag",	   "bytes",
	"file_host",   "file_dev",  "file_ino",	   "file_offset",
	"path",	       "size",	    "pages",	   "class",
	"fingerprint", "source",    "sha256",	   "nofp",
	"extents",     "files",	    "links",	   "dirs",
};

struct mline {
	struct erofs_json_value v[M_NR];
	u32 seen; /* bit per member */
};

/*
 * What reading asks of the accumulator, queued: threads parse and check
 * the lines (most of the work), each its share of the manifests, while the
 * calling thread adds what they got to the accumulator, manifest after
 * manifest in the order given, each in the order of its lines.
 */
enum op_kind {
	OP_IMAGE,    /* str[0] name, str[1] fingerprint xattr */
	OP_DEVICE,   /* str[0] tag, str[1] host; n: bytes, dev, ino, offset */
	OP_EXTENT,   /* n: device, pos, len */
	OP_VERIFIED, /* flag: 1, 0, -1 */
	OP_FILE,     /* str: path, fp, content; n[0] size */
	OP_DIR,	     /* n[0] size */
	OP_LINK,
	OP_END, /* of a manifest: n[0] -errno or 0, str[0] the message */
};

struct op {
	u8 kind;
	int8_t flag;
	u8 compressed, nofp;
	u32 fp_len;
	u32 str[3]; /* offset + 1 into the batch's bytes; 0: NULL */
	u64 n[4];
};

#define BATCH_OPS 4096
#define NR_BATCHES 4

struct batch {
	struct op ops[BATCH_OPS];
	unsigned int nr;
	char *bytes;
	size_t used;
	u64 cap;
	bool full; /* the consumer's to apply */
};

/* Batches from one parsing thread to the calling one. */
struct queue {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct batch *b[NR_BATCHES];
	unsigned int cur;      /* the producer's batch */
	unsigned int ck, cpos; /* the consumer's batch, and its next op */
	bool stop;	       /* the consumer failed: stop parsing */
	bool threaded;
	struct erofs_share *s;
	int status; /* of applying, without a thread */
};

/* Per image block being read. */
struct reader {
	const char *path;
	struct queue *q;
	const struct erofs_share_opts *o;
	char msg[512]; /* the failure, recorded in order by the consumer */
	u64 lineno;
	bool in_image;
	char *image, *uuid;
	size_t image_len, uuid_len;
	/* {"kind":"file","image":...,"uuid":..., as the writer puts it */
	char *file_prefix;
	size_t file_prefix_len;
	u32 block_size, page_size;
	bool share_ready, verified;
	u64 devices, files, dirs;
	u64 unchecked; /* recorded fingerprints not checked (verify) */
	u64 images;
	u8 *fp;
};

static int __printf(3, 4) rfail(struct reader *r, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	return err;
}

static int fail_line(struct reader *r, const char *fmt, const char *arg)
{
	char msg[256];

	snprintf(msg, sizeof(msg), fmt, arg);
	return rfail(r, -EINVAL, "%s: line %llu: %s", r->path,
		     (unsigned long long)r->lineno, msg);
}

static int apply_ops(struct queue *q, struct batch *b, unsigned int *pos);

/* Hand the producer's batch to the consumer and take the next one. */
static int flush(struct queue *q)
{
	struct batch *b = q->b[q->cur];
	bool stop;

	if (!q->threaded) {
		unsigned int pos = 0;

		while (!q->status && pos < b->nr)
			q->status = min(apply_ops(q, b, &pos), 0);
		b->nr = 0;
		b->used = 0;
		return q->status < 0 ? -ECANCELED : 0;
	}
	pthread_mutex_lock(&q->lock);
	b->full = true;
	pthread_cond_broadcast(&q->cond);
	q->cur = (q->cur + 1) % NR_BATCHES;
	while (q->b[q->cur]->full && !q->stop)
		pthread_cond_wait(&q->cond, &q->lock);
	stop = q->stop;
	pthread_mutex_unlock(&q->lock);
	b = q->b[q->cur];
	b->nr = 0;
	b->used = 0;
	return stop ? -ECANCELED : 0;
}

static int new_op(struct reader *r, enum op_kind kind, struct op **out)
{
	struct batch *b = r->q->b[r->q->cur];
	int ret;

	if (b->nr == BATCH_OPS || b->used > (4U << 20)) {
		ret = flush(r->q);
		if (ret)
			return ret;
		b = r->q->b[r->q->cur];
	}
	*out = &b->ops[b->nr++];
	memset(*out, 0, sizeof(**out));
	(*out)->kind = kind;
	return 0;
}

/* Copy "len" bytes into the batch of op; where to find them in *at. */
static int put_bytes(struct reader *r, u32 *at, const void *p, size_t len,
		     bool nul)
{
	struct batch *b = r->q->b[r->q->cur];

	if (!p) {
		*at = 0;
		return 0;
	}
	if (erofs_grow_array(&b->bytes, &b->cap, b->used + len + 1, 1))
		return -ENOMEM;
	memcpy(b->bytes + b->used, p, len);
	if (nul)
		b->bytes[b->used + len] = '\0';
	*at = b->used + 1;
	b->used += len + nul;
	return 0;
}

static int put_str(struct reader *r, u32 *at, const char *str)
{
	return put_bytes(r, at, str, str ? strlen(str) : 0, true);
}

static int emit_image(struct reader *r, const char *name, const char *fp_name)
{
	struct op *op;
	int ret = new_op(r, OP_IMAGE, &op);

	if (!ret)
		ret = put_str(r, &op->str[0], name);
	if (!ret)
		ret = put_str(r, &op->str[1], fp_name);
	return ret;
}

static int emit_device(struct reader *r, const struct erofs_share_device *d,
		       u64 bytes)
{
	struct op *op;
	int ret = new_op(r, OP_DEVICE, &op);

	if (!ret)
		ret = put_str(r, &op->str[0], d->tag);
	if (!ret)
		ret = put_str(r, &op->str[1], d->host);
	if (ret)
		return ret;
	op->n[0] = bytes;
	op->n[1] = d->file_dev;
	op->n[2] = d->file_ino;
	op->n[3] = d->file_offset;
	return 0;
}

static int emit_extent(struct reader *r, u64 dev, u64 pos, u64 len)
{
	struct op *op;
	int ret = new_op(r, OP_EXTENT, &op);

	if (ret)
		return ret;
	op->n[0] = dev;
	op->n[1] = pos;
	op->n[2] = len;
	return 0;
}

static int emit_verified(struct reader *r, int matched)
{
	struct op *op;
	int ret = new_op(r, OP_VERIFIED, &op);

	if (!ret)
		op->flag = matched;
	return ret;
}

static int emit_file(struct reader *r, const struct erofs_share_file *f)
{
	struct op *op;
	int ret = new_op(r, OP_FILE, &op);

	if (!ret)
		ret = put_str(r, &op->str[0], f->path);
	if (!ret)
		ret = put_bytes(r, &op->str[1], f->fp, f->fp_len, false);
	if (!ret)
		ret = put_bytes(r, &op->str[2], f->content_sha256,
				EROFS_SHA256_SIZE, false);
	if (ret)
		return ret;
	op->n[0] = f->size;
	op->compressed = f->compressed;
	op->nofp = f->nofp;
	op->fp_len = f->fp_len;
	return 0;
}

static int emit_simple(struct reader *r, enum op_kind kind, u64 n)
{
	struct op *op;
	int ret = new_op(r, kind, &op);

	if (!ret)
		op->n[0] = n;
	return ret;
}

#define BYTES(b, at) ((at) ? (b)->bytes + (at)-1 : NULL)

/* The file an OP_FILE carries. */
static void op_file(const struct batch *b, const struct op *op,
		    struct erofs_share_file *f)
{
	f->path = BYTES(b, op->str[0]);
	f->fp = (const u8 *)BYTES(b, op->str[1]);
	f->fp_len = op->fp_len;
	f->content_sha256 = (const u8 *)BYTES(b, op->str[2]);
	f->size = op->n[0];
	f->compressed = op->compressed;
	f->nofp = op->nofp;
}

/* How far ahead files are announced to the accumulator's cache. */
#define PREFETCH_AHEAD 12

/*
 * Apply ops of batch b from *pos on: 1 after the end of a manifest, 0 at
 * the end of the batch, or an error; *pos says where it stopped.
 */
static int apply_ops(struct queue *q, struct batch *b, unsigned int *pos)
{
	struct erofs_share *s = q->s;
	int ret = 0;

	for (unsigned int i = *pos; i < b->nr && !ret; *pos = ++i) {
		const struct op *op = &b->ops[i];
		struct erofs_share_device d;
		struct erofs_share_file f;

		if (i + PREFETCH_AHEAD < b->nr &&
		    b->ops[i + PREFETCH_AHEAD].kind == OP_FILE) {
			op_file(b, &b->ops[i + PREFETCH_AHEAD], &f);
			erofs_share_prefetch(s, &f);
		}
		switch (op->kind) {
		case OP_IMAGE:
			ret = erofs_share_add_image(s, BYTES(b, op->str[0]),
						    BYTES(b, op->str[1]));
			break;
		case OP_DEVICE:
			d.tag = BYTES(b, op->str[0]);
			d.host = BYTES(b, op->str[1]);
			d.file_dev = op->n[1];
			d.file_ino = op->n[2];
			d.file_offset = op->n[3];
			ret = erofs_share_add_device(s, &d, op->n[0]);
			break;
		case OP_EXTENT:
			ret = erofs_share_add_extent(s, op->n[0], op->n[1],
						     op->n[2]);
			break;
		case OP_VERIFIED:
			if (op->flag < 0)
				erofs_share_add_unverified(s);
			else
				erofs_share_add_verified(s, op->flag);
			break;
		case OP_FILE:
			op_file(b, op, &f);
			ret = erofs_share_add_file(s, &f);
			break;
		case OP_DIR:
			erofs_share_add_dir(s, op->n[0]);
			break;
		case OP_LINK:
			erofs_share_add_link(s);
			break;
		case OP_END:
			ret = (int)op->n[0];
			if (ret)
				erofs_fail(ret, "%s", BYTES(b, op->str[0]));
			*pos = i + 1;
			return ret ? ret : 1;
		}
	}
	return ret;
}

/* Which member a key names: a dozen keys on each of millions of lines. */
static unsigned int member_hash(const char *key, size_t len)
{
	return (len * 31 + (u8)key[0] * 7 + (u8)key[len - 1]) & 255;
}

static int member_index(const char *key, size_t len)
{
	static u8 table[256], lens[M_NR]; /* member + 1 */
	static bool ready;
	unsigned int h;

	if (!ready) {
		for (int m = 0; m < M_NR; m++) {
			lens[m] = strlen(member_names[m]);
			h = member_hash(member_names[m], lens[m]);
			while (table[h])
				h = (h + 1) & 255;
			table[h] = m + 1;
		}
		ready = true;
	}
	if (!len)
		return M_NR;
	for (h = member_hash(key, len); table[h]; h = (h + 1) & 255) {
		int m = table[h] - 1;

		if (lens[m] == len && !memcmp(key, member_names[m], len))
			return m;
	}
	return M_NR;
}

/*
 * The members of the line as text in ml; the ones in its first "skip"
 * bytes (a prefix the caller knows, ending after a comma) are not read.
 */
static int parse_line(struct reader *r, char *text, size_t len, size_t skip,
		      struct mline *ml)
{
	struct erofs_json_cursor cur;
	struct erofs_json_value v;
	const char *key;
	size_t key_len;
	int ret;

	ml->seen = 0;
	ret = erofs_json_begin_object(&cur, text, len);
	if (!ret && skip) {
		cur.p = text + skip;
		cur.first = true; /* no comma before the next key */
		if (cur.p >= cur.end || *cur.p != '"')
			return fail_line(r, "%s", "expected a key");
	}
	while (!ret) {
		int m;

		ret = erofs_json_next_member(&cur, &key, &key_len, &v);
		if (ret <= 0)
			break;
		ret = 0;
		m = member_index(key, key_len);
		if (m == M_NR)
			continue;
		if (ml->seen & (1U << m))
			return fail_line(r, "member \"%s\" given twice",
					 member_names[m]);
		ml->seen |= 1U << m;
		ml->v[m] = v;
	}
	if (ret < 0)
		return fail_line(r, "%s", cur.why ? cur.why : "bad JSON");
	return 0;
}

/* Member m as a string: required, or NULL for null when "nullable". */
static int get_str(struct reader *r, struct mline *ml, int m, bool nullable,
		   const char **out)
{
	if (!(ml->seen & (1U << m)))
		return fail_line(r, "no \"%s\" member", member_names[m]);
	if (nullable && ml->v[m].type == EROFS_JSON_NULL) {
		*out = NULL;
		return 0;
	}
	if (ml->v[m].type != EROFS_JSON_STRING)
		return fail_line(r, "\"%s\" is not a string", member_names[m]);
	*out = ml->v[m].str;
	return 0;
}

/* Member m as a number from 0 to "max"; -1 in *present for null. */
static int get_u64(struct reader *r, struct mline *ml, int m, u64 max,
		   bool nullable, u64 *out, bool *present)
{
	const struct erofs_json_value *v = &ml->v[m];

	if (!(ml->seen & (1U << m)))
		return fail_line(r, "no \"%s\" member", member_names[m]);
	if (nullable && v->type == EROFS_JSON_NULL) {
		*present = false;
		*out = 0;
		return 0;
	}
	if (v->type != EROFS_JSON_NUMBER || !v->is_u64 || v->u64 > max)
		return fail_line(r, "\"%s\" is not a number in range",
				 member_names[m]);
	if (present)
		*present = true;
	*out = v->u64;
	return 0;
}

/* Member m as true, false (1, 0) or, when "nullable", null (-1). */
static int get_bool(struct reader *r, struct mline *ml, int m, bool nullable,
		    int *out)
{
	const struct erofs_json_value *v = &ml->v[m];

	if (!(ml->seen & (1U << m)))
		return fail_line(r, "no \"%s\" member", member_names[m]);
	if (v->type == EROFS_JSON_TRUE || v->type == EROFS_JSON_FALSE) {
		*out = v->type == EROFS_JSON_TRUE;
		return 0;
	}
	if (nullable && v->type == EROFS_JSON_NULL) {
		*out = -1;
		return 0;
	}
	return fail_line(r, "\"%s\" is not true or false", member_names[m]);
}

/* The image and uuid members of a line within a block: the block's. */
static int check_ident(struct reader *r, struct mline *ml)
{
	const char *image, *uuid;
	int ret;

	ret = get_str(r, ml, M_IMAGE, false, &image);
	if (!ret)
		ret = get_str(r, ml, M_UUID, false, &uuid);
	if (ret)
		return ret;
	if (ml->v[M_IMAGE].len != r->image_len ||
	    ml->v[M_UUID].len != r->uuid_len ||
	    memcmp(image, r->image, r->image_len) ||
	    memcmp(uuid, r->uuid, r->uuid_len))
		return fail_line(
			r, "a line of image %s inside the lines of another",
			image);
	return 0;
}

static u64 page_count(u64 size, u32 page_size)
{
	return size / page_size + !!(size % page_size);
}

static int read_image_line(struct reader *r, struct mline *ml)
{
	const char *image, *uuid, *fp_name;
	u64 version, bsz, psz;
	int ready, verified, ret;
	FILE *m;

	if (r->in_image)
		return fail_line(
			r,
			"image %s starts before the one before it ends (cut short?)",
			r->image);
	ret = get_str(r, ml, M_IMAGE, false, &image);
	if (!ret)
		ret = get_str(r, ml, M_UUID, false, &uuid);
	if (!ret)
		ret = get_u64(r, ml, M_MANIFEST, UINT32_MAX, false, &version,
			      NULL);
	if (ret)
		return ret;
	if (version != EROFS_MANIFEST_VERSION)
		return rfail(
			r, -EINVAL,
			"%s: line %llu: manifest version %llu, this dump.erofs reads version %d",
			r->path, (unsigned long long)r->lineno,
			(unsigned long long)version, EROFS_MANIFEST_VERSION);
	ret = get_u64(r, ml, M_BLOCK_SIZE, 1U << 16, false, &bsz, NULL);
	if (!ret)
		ret = get_u64(r, ml, M_PAGE_SIZE, 1U << 30, false, &psz, NULL);
	if (!ret)
		ret = get_bool(r, ml, M_SHARE_READY, false, &ready);
	if (!ret)
		ret = get_str(r, ml, M_FP_XATTR, true, &fp_name);
	if (!ret)
		ret = get_bool(r, ml, M_VERIFIED, false, &verified);
	if (ret)
		return ret;
	if (bsz < 512 || (bsz & (bsz - 1)) || psz < 512 || (psz & (psz - 1)))
		return fail_line(
			r, "%s",
			"block or page size not a power of two from 512");
	if (!ready != !fp_name)
		return fail_line(r, "%s",
				 "share_ready and fingerprint_xattr disagree");
	free(r->image);
	free(r->uuid);
	r->image = strdup(image);
	r->uuid = strdup(uuid);
	if (!r->image || !r->uuid)
		return -ENOMEM;
	r->image_len = ml->v[M_IMAGE].len;
	r->uuid_len = ml->v[M_UUID].len;
	free(r->file_prefix);
	r->file_prefix = NULL;
	m = open_memstream(&r->file_prefix, &r->file_prefix_len);
	if (!m)
		return -ENOMEM;
	fputs("{\"kind\":\"file\",\"image\":", m);
	erofs_json_str(m, image);
	fputs(",\"uuid\":", m);
	erofs_json_str(m, uuid);
	fputc(',', m);
	if (fclose(m))
		return -ENOMEM;
	r->block_size = bsz;
	r->page_size = psz;
	r->share_ready = ready;
	r->verified = verified;
	r->devices = r->files = r->dirs = r->unchecked = 0;
	r->in_image = true;
	r->images++;
	return emit_image(r, image, fp_name);
}

static int read_device_line(struct reader *r, struct mline *ml)
{
	struct erofs_share_device d = { 0 };
	const char *host;
	u64 dev = 0, bytes = 0;
	bool has_bytes, known_dev, known_ino;
	int ret;

	ret = get_u64(r, ml, M_DEVICE, UINT16_MAX, false, &dev, NULL);
	if (ret)
		return ret;
	if (dev != r->devices || r->files || r->dirs)
		return fail_line(r, "%s", "devices out of order");
	ret = get_str(r, ml, M_TAG, true, &d.tag);
	if (!ret)
		ret = get_u64(r, ml, M_BYTES, UINT64_MAX, true, &bytes,
			      &has_bytes);
	if (!ret)
		ret = get_str(r, ml, M_FILE_HOST, true, &host);
	if (!ret)
		ret = get_u64(r, ml, M_FILE_DEV, UINT64_MAX, true, &d.file_dev,
			      &known_dev);
	if (!ret)
		ret = get_u64(r, ml, M_FILE_INO, UINT64_MAX, true, &d.file_ino,
			      &known_ino);
	if (!ret)
		ret = get_u64(r, ml, M_FILE_OFFSET, UINT64_MAX, false,
			      &d.file_offset, NULL);
	if (ret)
		return ret;
	if (!dev != has_bytes)
		return fail_line(
			r, "%s",
			"only the image itself (device 0) has \"bytes\"");
	/* a file known only on another machine is no file here */
	if (!known_dev || !known_ino || !host) {
		d.file_dev = d.file_ino = 0;
	} else if (!this_host() || strcmp(host, this_host())) {
		d.host = host;
	}
	r->devices++;
	return emit_device(r, &d, bytes);
}

static int read_extents(struct reader *r, const struct erofs_json_value *list)
{
	struct erofs_json_cursor cur, in;
	struct erofs_json_value e, n;
	int ret;

	ret = erofs_json_begin_array(&cur, list);
	while (!ret && (ret = erofs_json_next_element(&cur, &e)) > 0) {
		u64 x[3];
		int k = 0;

		ret = erofs_json_begin_array(&in, &e);
		while (!ret && (ret = erofs_json_next_element(&in, &n)) > 0) {
			if (k == 3 || n.type != EROFS_JSON_NUMBER || !n.is_u64)
				return fail_line(
					r, "%s",
					"an extent is not [device, offset, length]");
			x[k++] = n.u64;
			ret = 0;
		}
		if (ret < 0)
			return fail_line(r, "extents: %s", in.why);
		if (k != 3 || !x[0] || x[0] >= r->devices || x[1] + x[2] < x[1])
			return fail_line(
				r, "%s",
				"an extent is not [device, offset, length] of an extra device");
		ret = emit_extent(r, x[0], x[1], x[2]);
		if (ret)
			return ret;
	}
	if (ret < 0)
		return cur.why ? fail_line(r, "extents: %s", cur.why) : ret;
	return 0;
}

static int read_file_line(struct reader *r, struct mline *ml)
{
	struct erofs_share_file f = { .nofp = EROFS_SHARE_FP_ABSENT };
	const char *cls, *fp, *source, *sha = NULL, *nofp = NULL;
	u8 digest[EROFS_SHA256_SIZE], content[EROFS_SHA256_SIZE];
	u64 pages;
	size_t fp_len;
	int verified, ret;

	ret = get_str(r, ml, M_PATH, false, &f.path);
	if (!ret)
		ret = get_u64(r, ml, M_SIZE, MANIFEST_MAX_SIZE, false, &f.size,
			      NULL);
	if (!ret)
		ret = get_u64(r, ml, M_PAGES, UINT64_MAX, false, &pages, NULL);
	if (!ret)
		ret = get_str(r, ml, M_CLASS, false, &cls);
	if (!ret)
		ret = get_str(r, ml, M_FINGERPRINT, true, &fp);
	if (!ret)
		ret = get_str(r, ml, M_SOURCE, true, &source);
	if (!ret)
		ret = get_bool(r, ml, M_VERIFIED, true, &verified);
	if (!ret && (ml->seen & (1U << M_SHA256)))
		ret = get_str(r, ml, M_SHA256, true, &sha);
	if (!ret && (ml->seen & (1U << M_NOFP)))
		ret = get_str(r, ml, M_NOFP, true, &nofp);
	if (ret)
		return ret;
	if (pages != page_count(f.size, r->page_size))
		return fail_line(r, "%s", "\"pages\" does not match \"size\"");
	if (!strcmp(cls, "compressed"))
		f.compressed = true;
	else if (strcmp(cls, "uncompressed"))
		return fail_line(r, "unknown class \"%s\"", cls);
	if (!fp != !source)
		return fail_line(r, "%s",
				 "\"fingerprint\" and \"source\" disagree");
	fp_len = fp ? ml->v[M_FINGERPRINT].len / 2 : 0;
	if (fp && (!fp_len || fp_len > r->block_size ||
		   (ml->v[M_FINGERPRINT].len & 1) ||
		   erofs_json_unhex(fp, fp_len * 2, r->fp)))
		return fail_line(
			r, "%s",
			"\"fingerprint\" is not 1 byte up to a block in hexadecimal");
	if (sha && (ml->v[M_SHA256].len != 2 * EROFS_SHA256_SIZE ||
		    erofs_json_unhex(sha, 2 * EROFS_SHA256_SIZE, content)))
		return fail_line(r, "%s",
				 "\"sha256\" is not 32 bytes in hexadecimal");
	if (nofp) {
		int k;

		for (k = EROFS_SHARE_FP_ABSENT; k < EROFS_SHARE_FP_NR; k++)
			if (!strcmp(nofp, nofp_names[k]))
				break;
		if (k == EROFS_SHARE_FP_NR)
			return fail_line(r, "unknown \"nofp\" \"%s\"", nofp);
		f.nofp = k;
	}
	if (source && !strcmp(source, "recorded")) {
		if (!r->share_ready)
			return fail_line(
				r, "%s",
				"a recorded fingerprint in an image that is not share-ready");
		f.fp = r->fp;
		f.fp_len = fp_len;
		f.nofp = EROFS_SHARE_FP_OK;
		/* a match: the fingerprint is the content's */
		if (verified == 1 &&
		    erofs_fingerprint_parse(f.fp, fp_len, digest))
			return fail_line(
				r, "%s",
				"a verified fingerprint that is not a sha256: digest");
		if (r->o->verify && f.size) {
			ret = emit_verified(r, verified);
			if (ret)
				return ret;
			if (verified == 1)
				f.content_sha256 = digest;
			else if (verified < 0)
				r->unchecked += !r->verified;
			if (sha)
				f.content_sha256 = content;
		}
	} else if (source && !strcmp(source, "computed")) {
		if (erofs_fingerprint_parse(r->fp, fp_len, digest))
			return fail_line(
				r, "%s",
				"a computed fingerprint that is not a sha256: digest");
		/* a report with --verify would have hashed the file too */
		if (r->o->verify && f.size)
			f.content_sha256 = digest;
	} else if (source) {
		return fail_line(r, "unknown source \"%s\"", source);
	}
	if (ml->seen & (1U << M_EXTENTS)) {
		ret = read_extents(r, &ml->v[M_EXTENTS]);
		if (ret)
			return ret;
	}
	r->files++;
	return emit_file(r, &f);
}

static int read_end_line(struct reader *r, struct mline *ml)
{
	u64 files, links, dirs;
	int ret;

	ret = get_u64(r, ml, M_FILES, UINT64_MAX, false, &files, NULL);
	if (!ret)
		ret = get_u64(r, ml, M_LINKS, UINT64_MAX, false, &links, NULL);
	if (!ret)
		ret = get_u64(r, ml, M_DIRS, UINT64_MAX, false, &dirs, NULL);
	if (ret)
		return ret;
	if (files != r->files || dirs != r->dirs || links < files)
		return fail_line(
			r, "the counts of image %s do not match its lines",
			r->image);
	if (!r->devices)
		return fail_line(r, "image %s has no device lines", r->image);
	for (u64 i = files; i < links && !ret; i++)
		ret = emit_simple(r, OP_LINK, 0);
	if (ret)
		return ret;
	if (r->unchecked)
		erofs_warn(
			"%s: %s: made without --verify: %llu fingerprints count as not checked",
			r->path, r->image, (unsigned long long)r->unchecked);
	r->in_image = false;
	return 0;
}

static int read_line(struct reader *r, char *text, size_t len)
{
	struct mline ml;
	const char *kind;
	int ret;

	/*
	 * A file line that starts as dump.erofs writes them for the current
	 * image: its kind, image and uuid are known without reading them.
	 */
	if (r->in_image && len > r->file_prefix_len &&
	    !memcmp(text, r->file_prefix, r->file_prefix_len)) {
		ret = parse_line(r, text, len, r->file_prefix_len, &ml);
		if (ret)
			return ret;
		if (ml.seen & (1U << M_KIND | 1U << M_IMAGE | 1U << M_UUID))
			return fail_line(
				r, "%s",
				"member \"kind\", \"image\" or \"uuid\" given twice");
		if (!r->devices)
			return fail_line(r, "%s", "a file before the devices");
		return read_file_line(r, &ml);
	}
	ret = parse_line(r, text, len, 0, &ml);
	if (!ret)
		ret = get_str(r, &ml, M_KIND, false, &kind);
	if (ret)
		return ret;
	if (!strcmp(kind, "image"))
		return read_image_line(r, &ml);
	if (!r->in_image)
		return fail_line(r, "a \"%s\" line outside an image's lines",
				 kind);
	ret = check_ident(r, &ml);
	if (ret)
		return ret;
	if (!strcmp(kind, "file")) {
		if (!r->devices)
			return fail_line(r, "%s", "a file before the devices");
		return read_file_line(r, &ml);
	}
	if (!strcmp(kind, "dir")) {
		u64 size, pages;

		ret = get_u64(r, &ml, M_SIZE, MANIFEST_MAX_SIZE, false, &size,
			      NULL);
		if (!ret)
			ret = get_u64(r, &ml, M_PAGES, UINT64_MAX, false,
				      &pages, NULL);
		if (ret)
			return ret;
		if (pages != page_count(size, r->page_size))
			return fail_line(r, "%s",
					 "\"pages\" does not match \"size\"");
		r->dirs++;
		return emit_simple(r, OP_DIR, size);
	}
	if (!strcmp(kind, "device"))
		return read_device_line(r, &ml);
	if (!strcmp(kind, "end"))
		return read_end_line(r, &ml);
	return fail_line(r, "unknown kind \"%s\"", kind);
}

static bool blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/* The lines of a manifest, parsed and checked into the queue. */
static int parse_all(struct reader *r, struct lines *l)
{
	char *text = NULL;
	size_t len = 0;
	int ret = 0;

	while (!ret && (ret = next_line(l, &text, &len)) > 0) {
		r->lineno = l->lineno;
		ret = blank(text, len) ? 0 : read_line(r, text, len);
	}
	if (!ret && r->in_image)
		ret = rfail(
			r, -EINVAL,
			"%s: image %s has no end line: the manifest is cut short",
			r->path, r->image);
	if (!ret && !r->images)
		ret = rfail(r, -EINVAL, "%s: no images in the manifest",
			    r->path);
	return ret;
}

/* A parsing thread: manifests first, first + step, ... of the list. */
struct producer {
	struct queue q;
	char *const *paths;
	unsigned int n, first, step;
	const struct erofs_share_opts *o;
	char msg[512];
	pthread_t thread;
	bool started;
};

/* One manifest: open, parse, close. */
static int read_one(struct producer *p, const char *path, u8 *fp, char *buf)
{
	struct reader r = { .path = path, .q = &p->q, .o = p->o, .fp = fp };
	struct lines l = { .path = path, .cap = 1 << 20, .buf = buf };
	int ret;

	l.msg = r.msg;
	l.msg_size = sizeof(r.msg);
	l.fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : 0;
	if (l.fd < 0) {
		ret = -errno;
		snprintf(p->msg, sizeof(p->msg), "%s: %s", path,
			 strerror(errno));
		return ret;
	}
	if (!strcmp(path, "-"))
		r.path = l.path = "standard input";
	ret = parse_all(&r, &l);
	if (ret && ret != -ECANCELED)
		snprintf(p->msg, sizeof(p->msg), "%s",
			 r.msg[0] ? r.msg : strerror(-ret));
	if (l.fd > 0)
		close(l.fd);
	/* the line buffer may have grown: keep it for the next manifest */
	if (l.buf != buf)
		free(l.buf);
	free(r.image);
	free(r.uuid);
	free(r.file_prefix);
	return ret;
}

static void *produce(void *arg)
{
	struct producer *p = arg;
	struct reader r = { .q = &p->q };
	u8 *fp = malloc(1U << 16);
	char *buf = malloc(1 << 20);
	struct op *op;
	int ret = fp && buf ? 0 : -ENOMEM;

	for (unsigned int i = p->first; i < p->n; i += p->step) {
		if (!ret)
			ret = read_one(p, p->paths[i], fp, buf);
		if (ret == -ECANCELED) /* the consumer stopped */
			break;
		if (ret && !p->msg[0])
			snprintf(p->msg, sizeof(p->msg), "%s", strerror(-ret));
		/* each manifest ends with how it ended, in order */
		if (new_op(&r, OP_END, &op))
			break;
		op->n[0] = (u64)(int64_t)ret;
		if (ret && put_str(&r, &op->str[0], p->msg))
			break;
		if (ret)
			break;
	}
	if (ret != -ECANCELED)
		flush(&p->q);
	free(fp);
	free(buf);
	return NULL;
}

/*
 * Apply the ops of queue q up to the end of its next manifest: 0, or an
 * error (and every producer is told to stop).
 */
static int consume_one(struct queue *q)
{
	for (;;) {
		struct batch *b = q->b[q->ck];
		int ret;

		pthread_mutex_lock(&q->lock);
		while (!b->full)
			pthread_cond_wait(&q->cond, &q->lock);
		pthread_mutex_unlock(&q->lock);
		ret = apply_ops(q, b, &q->cpos);
		if (q->cpos == b->nr) {
			pthread_mutex_lock(&q->lock);
			b->full = false;
			pthread_cond_broadcast(&q->cond);
			pthread_mutex_unlock(&q->lock);
			q->ck = (q->ck + 1) % NR_BATCHES;
			q->cpos = 0;
		}
		if (ret)
			return ret > 0 ? 0 : ret;
	}
}

static void stop_all(struct producer *p, unsigned int np)
{
	for (unsigned int t = 0; t < np; t++) {
		pthread_mutex_lock(&p[t].q.lock);
		p[t].q.stop = true;
		pthread_cond_broadcast(&p[t].q.cond);
		pthread_mutex_unlock(&p[t].q.lock);
	}
}

int erofs_manifest_read(char *const *paths, unsigned int n,
			struct erofs_share *s, const struct erofs_share_opts *o)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned int np = cpus > 1 ? min_t(long, cpus, 4) : 1;
	struct producer *p;
	int ret = 0;

	member_index("kind", 4); /* its table, before threads use it */
	np = min(np, n);
	/* standard input is read once, by one thread */
	for (unsigned int i = 0; i < n; i++)
		if (!strcmp(paths[i], "-"))
			np = 1;
	p = calloc(np, sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (unsigned int t = 0; t < np && !ret; t++) {
		p[t].paths = paths;
		p[t].n = n;
		p[t].first = t;
		p[t].step = np;
		p[t].o = o;
		pthread_mutex_init(&p[t].q.lock, NULL);
		pthread_cond_init(&p[t].q.cond, NULL);
		p[t].q.s = s;
		p[t].q.threaded = true;
		for (int k = 0; k < NR_BATCHES && !ret; k++) {
			p[t].q.b[k] = calloc(1, sizeof(*p[t].q.b[k]));
			if (!p[t].q.b[k])
				ret = -ENOMEM;
		}
	}
	for (unsigned int t = 0; t < np && !ret; t++) {
		if (erofs_thread_create(&p[t].thread, produce, &p[t])) {
			/* no threads: one parser, each batch applied full */
			stop_all(p, t);
			for (unsigned int u = 0; u < t; u++)
				pthread_join(p[u].thread, NULL);
			for (unsigned int u = 0; u < np; u++)
				p[u].started = false;
			p[0].q.threaded = false;
			p[0].q.stop = false;
			p[0].step = 1;
			produce(&p[0]);
			ret = p[0].q.status;
			goto out;
		}
		p[t].started = true;
	}
	for (unsigned int i = 0; i < n && !ret; i++) {
		ret = consume_one(&p[i % np].q);
		if (ret)
			stop_all(p, np);
	}
out:
	for (unsigned int t = 0; t < np; t++) {
		if (p[t].started)
			pthread_join(p[t].thread, NULL);
		for (int k = 0; k < NR_BATCHES; k++)
			if (p[t].q.b[k]) {
				free(p[t].q.b[k]->bytes);
				free(p[t].q.b[k]);
			}
		pthread_mutex_destroy(&p[t].q.lock);
		pthread_cond_destroy(&p[t].q.cond);
	}
	free(p);
	return ret;
}
