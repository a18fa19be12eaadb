// SPDX-License-Identifier: GPL-2.0-or-later
/* Fingerprint manifests: writing them from images, reading them for reports. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "erofs/error.h"
#include "erofs/fingerprint.h"
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
	u64 unreadable, mismatched;
	char *first_unreadable;
	int verified; /* of the next file: 1, 0, -1; -2 none given */
	u64 (*ext)[3];
	size_t nr_ext, cap_ext;
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
	erofs_json_str(w->out, known ? (d->host ? d->host : this_host()) :
				       NULL);
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
	if (w->nr_ext == w->cap_ext) {
		size_t cap = w->cap_ext ? w->cap_ext * 2 : 16;
		void *n = realloc(w->ext, cap * sizeof(*w->ext));

		if (!n)
			return -ENOMEM;
		w->ext = n;
		w->cap_ext = cap;
	}
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
	fputs(",\"path\":", out);
	erofs_json_str(out, f->path);
	put_u64(out, "size", f->size);
	put_u64(out, "pages", pages(w, f->size));
	fprintf(out, ",\"class\":\"%s\",\"fingerprint\":",
		f->compressed ? "compressed" : "uncompressed");
	if (f->fp) {
		erofs_json_hex(out, f->fp, f->fp_len);
		fprintf(out, ",\"source\":\"recorded\",\"verified\":%s",
			verified == 1 ? "true" :
			verified == 0 ? "false" : "null");
		if (!verified)
			w->mismatched++;
		/* the content, when it says more than the fingerprint */
		if (f->content_sha256 && verified != 1) {
			fputs(",\"sha256\":", out);
			erofs_json_hex(out, f->content_sha256,
				       EROFS_SHA256_SIZE);
		}
	} else if (f->content_sha256) {
		erofs_json_hex(out, value,
			       erofs_fingerprint_value(f->content_sha256,
						       value));
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
		erofs_warn("%s: %llu files have no fingerprint: their content cannot be read (the first: %s)",
			   img->path, (unsigned long long)w->unreadable,
			   w->first_unreadable ? w->first_unreadable : "?");
	if (ferror(w->out))
		return erofs_fail(-EIO, "writing the manifest of %s failed",
				  img->path);
	return 0;
}

int erofs_manifest_write_images(char *const *paths,
				const struct erofs_image_opts *iopts,
				unsigned int n, const struct erofs_manifest_opts *o,
				FILE *out)
{
	struct erofs_share_opts so = {
		.page_size = o->page_size ? o->page_size : EROFS_SHARE_PAGE_SIZE,
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
	char *buf;
	size_t cap, start, end;
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
			size_t cap = l->cap * 2;
			char *b;

			if (l->cap >= MANIFEST_MAX_LINE)
				return erofs_fail(-EINVAL,
						  "%s: line %llu: longer than %u MiB",
						  l->path,
						  (unsigned long long)l->lineno + 1,
						  MANIFEST_MAX_LINE >> 20);
			b = realloc(l->buf, cap);
			if (!b)
				return -ENOMEM;
			l->buf = b;
			l->cap = cap;
		}
		n = read(l->fd, l->buf + l->end, l->cap - l->end);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return erofs_fail(-errno, "%s: %s", l->path,
					  strerror(errno));
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
	"kind",	       "image",	      "uuid",	    "manifest",
	"block_size",  "page_size",   "share_ready", "fingerprint_xattr",
	"verified",    "device",      "tag",	    "bytes",
	"file_host",   "file_dev",    "file_ino",    "file_offset",
	"path",	       "size",	      "pages",	    "class",
	"fingerprint", "source",      "sha256",	    "nofp",
	"extents",     "files",	      "links",	    "dirs",
};

struct mline {
	struct erofs_json_value v[M_NR];
	u32 seen; /* bit per member */
};

/* Per image block being read. */
struct reader {
	const char *path;
	struct erofs_share *s;
	const struct erofs_share_opts *o;
	u64 lineno;
	bool in_image;
	char *image, *uuid;
	u32 block_size, page_size;
	bool share_ready, verified;
	u64 devices, files, dirs;
	u64 unchecked; /* recorded fingerprints not checked (verify) */
	u64 images;
	u8 *fp;
};

static int fail_line(const struct reader *r, const char *fmt, const char *arg)
{
	char msg[256];

	snprintf(msg, sizeof(msg), fmt, arg);
	return erofs_fail(-EINVAL, "%s: line %llu: %s", r->path,
			  (unsigned long long)r->lineno, msg);
}

static int member_index(const char *key)
{
	/* by the first letter: a dozen members on each of millions of lines */
	static const u8 candidates[26][4] = {
		['b' - 'a'] = { M_BLOCK_SIZE, M_BYTES },
		['c' - 'a'] = { M_CLASS },
		['d' - 'a'] = { M_DEVICE, M_DIRS },
		['e' - 'a'] = { M_EXTENTS },
		['f' - 'a'] = { M_FINGERPRINT, M_FP_XATTR, M_FILE_HOST,
				M_FILES },
		['i' - 'a'] = { M_IMAGE },
		['k' - 'a'] = { M_KIND },
		['l' - 'a'] = { M_LINKS },
		['m' - 'a'] = { M_MANIFEST },
		['n' - 'a'] = { M_NOFP },
		['p' - 'a'] = { M_PATH, M_PAGES, M_PAGE_SIZE },
		['s' - 'a'] = { M_SIZE, M_SOURCE, M_SHA256, M_SHARE_READY },
		['t' - 'a'] = { M_TAG },
		['u' - 'a'] = { M_UUID },
		['v' - 'a'] = { M_VERIFIED },
	};
	const u8 *c;

	if (key[0] < 'a' || key[0] > 'z')
		return M_NR;
	c = candidates[key[0] - 'a'];
	/* the zeros after the candidates stand for M_KIND: compared too */
	for (int i = 0; i < 4; i++)
		if (!strcmp(key, member_names[c[i]]))
			return c[i];
	if (key[0] == 'f') {
		if (!strcmp(key, "file_dev"))
			return M_FILE_DEV;
		if (!strcmp(key, "file_ino"))
			return M_FILE_INO;
		if (!strcmp(key, "file_offset"))
			return M_FILE_OFFSET;
	}
	return M_NR;
}

static int parse_line(struct reader *r, char *text, size_t len,
		      struct mline *ml)
{
	struct erofs_json_cursor cur;
	struct erofs_json_value v;
	const char *key;
	int ret;

	ml->seen = 0;
	ret = erofs_json_begin_object(&cur, text, len);
	while (!ret) {
		int m;

		ret = erofs_json_next_member(&cur, &key, &v);
		if (ret <= 0)
			break;
		ret = 0;
		m = member_index(key);
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
	if (strcmp(image, r->image) || strcmp(uuid, r->uuid))
		return fail_line(r, "a line of image %s inside the lines of another",
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

	if (r->in_image)
		return fail_line(r, "image %s starts before the one before it ends (cut short?)",
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
		return erofs_fail(-EINVAL,
				  "%s: line %llu: manifest version %llu, this dump.erofs reads version %d",
				  r->path, (unsigned long long)r->lineno,
				  (unsigned long long)version,
				  EROFS_MANIFEST_VERSION);
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
		return fail_line(r, "%s", "block or page size not a power of two from 512");
	if (!ready != !fp_name)
		return fail_line(r, "%s", "share_ready and fingerprint_xattr disagree");
	free(r->image);
	free(r->uuid);
	r->image = strdup(image);
	r->uuid = strdup(uuid);
	if (!r->image || !r->uuid)
		return -ENOMEM;
	r->block_size = bsz;
	r->page_size = psz;
	r->share_ready = ready;
	r->verified = verified;
	r->devices = r->files = r->dirs = r->unchecked = 0;
	r->in_image = true;
	r->images++;
	return erofs_share_add_image(r->s, image, fp_name);
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
		return fail_line(r, "%s", "only the image itself (device 0) has \"bytes\"");
	/* a file known only on another machine is no file here */
	if (!known_dev || !known_ino || !host) {
		d.file_dev = d.file_ino = 0;
	} else if (!this_host() || strcmp(host, this_host())) {
		d.host = host;
	}
	r->devices++;
	return erofs_share_add_device(r->s, &d, bytes);
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
				return fail_line(r, "%s", "an extent is not [device, offset, length]");
			x[k++] = n.u64;
			ret = 0;
		}
		if (ret < 0)
			return fail_line(r, "extents: %s", in.why);
		if (k != 3 || !x[0] || x[0] >= r->devices || x[1] + x[2] < x[1])
			return fail_line(r, "%s", "an extent is not [device, offset, length] of an extra device");
		ret = erofs_share_add_extent(r->s, x[0], x[1], x[2]);
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
		return fail_line(r, "%s", "\"fingerprint\" and \"source\" disagree");
	fp_len = fp ? ml->v[M_FINGERPRINT].len / 2 : 0;
	if (fp && (!fp_len || fp_len > r->block_size ||
		   (ml->v[M_FINGERPRINT].len & 1) ||
		   erofs_json_unhex(fp, fp_len * 2, r->fp)))
		return fail_line(r, "%s", "\"fingerprint\" is not 1 byte up to a block in hexadecimal");
	if (sha && (ml->v[M_SHA256].len != 2 * EROFS_SHA256_SIZE ||
		    erofs_json_unhex(sha, 2 * EROFS_SHA256_SIZE, content)))
		return fail_line(r, "%s", "\"sha256\" is not 32 bytes in hexadecimal");
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
			return fail_line(r, "%s", "a recorded fingerprint in an image that is not share-ready");
		f.fp = r->fp;
		f.fp_len = fp_len;
		f.nofp = EROFS_SHARE_FP_OK;
		/* a match: the fingerprint is the content's */
		if (verified == 1 &&
		    erofs_fingerprint_parse(f.fp, fp_len, digest))
			return fail_line(r, "%s", "a verified fingerprint that is not a sha256: digest");
		if (r->o->verify && f.size) {
			if (verified == 1) {
				erofs_share_add_verified(r->s, true);
				f.content_sha256 = digest;
			} else if (verified == 0) {
				erofs_share_add_verified(r->s, false);
			} else {
				erofs_share_add_unverified(r->s);
				r->unchecked += !r->verified;
			}
			if (sha)
				f.content_sha256 = content;
		}
	} else if (source && !strcmp(source, "computed")) {
		if (erofs_fingerprint_parse(r->fp, fp_len, digest))
			return fail_line(r, "%s", "a computed fingerprint that is not a sha256: digest");
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
	return erofs_share_add_file(r->s, &f);
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
		return fail_line(r, "the counts of image %s do not match its lines",
				 r->image);
	if (!r->devices)
		return fail_line(r, "image %s has no device lines", r->image);
	for (u64 i = files; i < links; i++)
		erofs_share_add_link(r->s);
	if (r->unchecked)
		erofs_warn("%s: %s: made without --verify: %llu fingerprints count as not checked",
			   r->path, r->image, (unsigned long long)r->unchecked);
	r->in_image = false;
	return 0;
}

static int read_line(struct reader *r, char *text, size_t len)
{
	struct mline ml;
	const char *kind;
	int ret;

	ret = parse_line(r, text, len, &ml);
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
			return fail_line(r, "%s", "\"pages\" does not match \"size\"");
		r->dirs++;
		erofs_share_add_dir(r->s, size);
		return 0;
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

int erofs_manifest_read(const char *path, struct erofs_share *s,
			const struct erofs_share_opts *o)
{
	struct lines l = { .path = path, .cap = 1 << 20 };
	struct reader r = { .path = path, .s = s, .o = o };
	char *text = NULL;
	size_t len = 0;
	int ret;

	l.fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : 0;
	if (l.fd < 0)
		return erofs_fail(-errno, "%s: %s", path, strerror(errno));
	if (!strcmp(path, "-"))
		r.path = l.path = "standard input";
	l.buf = malloc(l.cap);
	r.fp = malloc(1U << 16);
	ret = l.buf && r.fp ? 0 : -ENOMEM;
	while (!ret && (ret = next_line(&l, &text, &len)) > 0) {
		r.lineno = l.lineno;
		ret = blank(text, len) ? 0 : read_line(&r, text, len);
	}
	if (!ret && r.in_image)
		ret = erofs_fail(-EINVAL,
				 "%s: image %s has no end line: the manifest is cut short",
				 r.path, r.image);
	if (!ret && !r.images)
		ret = erofs_fail(-EINVAL, "%s: no images in the manifest",
				 r.path);
	if (l.fd > 0)
		close(l.fd);
	free(l.buf);
	free(r.fp);
	free(r.image);
	free(r.uuid);
	return ret;
}
