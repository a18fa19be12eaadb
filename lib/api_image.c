// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Images through the public API (include/liberofs.h): open and close, the
 * tree walked, files' data and xattrs read, fingerprints verified.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api.h"
#include "erofs/data_read.h"
#include "erofs/dir_read.h"
#include "erofs/fingerprint.h"
#include "erofs/walk.h"
#include "erofs/xattr.h"
#include "erofs/xattr_read.h"

#define READ_CHUNK (1U << 20)

LIBEROFS_EXPORT int liberofs_open(liberofs_image **img, const char *path,
				  const struct liberofs_open_options *opts,
				  char **errmsg)
{
	struct erofs_image_opts io = { 0 };
	struct erofs_error_scope scope;
	struct liberofs_image *h = NULL;
	int ret = 0;

	erofs_error_scope_enter(&scope);
	if (!img || !path)
		ret = erofs_fail(-EINVAL, "liberofs_open: NULL argument");
	if (!ret) {
		*img = NULL;
		h = calloc(1, sizeof(*h));
		if (!h)
			ret = erofs_fail(-ENOMEM, "%s: out of memory", path);
	}
	if (!ret) {
		if (opts) {
			io.devices = opts->devices;
			io.nr_devices = opts->nr_devices;
			io.offset = opts->offset;
			io.no_sbcrc = opts->no_sbcrc;
		}
		ret = erofs_image_open(&h->img, path, &io);
	}
	if (!ret) {
		pthread_mutex_init(&h->lock, NULL);
		*img = h;
	} else {
		free(h);
	}
	return liberofs_leave_errmsg(&scope, ret, errmsg);
}

LIBEROFS_EXPORT void liberofs_close(liberofs_image *img)
{
	if (!img)
		return;
	erofs_image_close(&img->img);
	pthread_mutex_destroy(&img->lock);
	free(img->msg);
	free(img);
}

LIBEROFS_EXPORT const char *liberofs_fingerprint_name(const liberofs_image *img)
{
	return img ? img->img.ishare_name : NULL;
}

static void fill_entry(struct liberofs_entry *e, const char *path,
		       const struct erofs_rinode *ri, bool hardlink)
{
	memset(e, 0, sizeof(*e));
	e->path = path;
	e->nid = ri->nid;
	e->mode = ri->i.mode;
	e->size = ri->i.size;
	e->nlink = ri->i.nlink;
	e->uid = ri->i.uid;
	e->gid = ri->i.gid;
	e->mtime = ri->i.mtime;
	e->mtime_nsec = ri->i.mtime_nsec;
	e->hardlink = hardlink;
}

/* A walk over the tree: the caller's visit per name, the first damage. */
struct api_walk {
	struct erofs_image *img;
	int (*visit)(struct api_walk *w, const struct erofs_walk_entry *e);
	liberofs_walk_fn fn;
	void *arg;
	int stop;   /* the caller's non-zero return */
	int damage; /* the first problem's errno */
	struct liberofs_verify_result *res;
	struct erofs_sha256 sha;
	u8 *buf;
};

static int walk_visit(void *arg, const struct erofs_walk_entry *e)
{
	struct api_walk *w = arg;
	int ret = w->visit(w, e);

	if (ret) {
		w->stop = ret;
		return -ECANCELED;
	}
	return 0;
}

static void walk_problem(void *arg, const char *path, erofs_nid_t nid, int err,
			 const char *msg)
{
	struct api_walk *w = arg;

	if (err >= 0 || w->damage)
		return;
	w->damage = err;
	erofs_fail(err, "%s: %s", path, msg);
}

static int walk(struct api_walk *w)
{
	static const struct erofs_walk_ops ops = {
		.visit = walk_visit,
		.problem = walk_problem,
	};
	int ret = erofs_walk(w->img, w->img->sb.root_nid, "/", &ops, w, NULL);

	if (ret == -ECANCELED && w->stop)
		return w->stop;
	if (ret)
		return erofs_fail(ret, "%s: %s", w->img->path, strerror(-ret));
	return w->damage;
}

static int user_visit(struct api_walk *w, const struct erofs_walk_entry *e)
{
	struct liberofs_entry le;

	fill_entry(&le, e->path, e->inode, e->seen > 0);
	return w->fn(w->arg, &le);
}

LIBEROFS_EXPORT int liberofs_walk(liberofs_image *img, liberofs_walk_fn fn,
				  void *arg)
{
	struct api_walk w = {
		.img = &img->img,
		.visit = user_visit,
		.fn = fn,
		.arg = arg,
	};
	struct erofs_error_scope scope;

	erofs_error_scope_enter(&scope);
	return liberofs_leave_image(&scope, walk(&w), img);
}

LIBEROFS_EXPORT int liberofs_lookup(liberofs_image *img, const char *path,
				    uint64_t *nid)
{
	struct erofs_error_scope scope;
	erofs_nid_t n;
	int ret;

	erofs_error_scope_enter(&scope);
	ret = erofs_lookup_path(&img->img, path, &n);
	if (!ret)
		*nid = n;
	return liberofs_leave_image(&scope, ret, img);
}

static int read_inode(struct erofs_image *img, uint64_t nid,
		      struct erofs_rinode *ri)
{
	const char *why = NULL;
	int ret = erofs_read_inode(img, nid, ri, &why);

	if (ret)
		return erofs_fail(ret, "%s: inode %llu: %s", img->path,
				  (unsigned long long)nid,
				  why ? why : strerror(-ret));
	return 0;
}

LIBEROFS_EXPORT int liberofs_stat(liberofs_image *img, uint64_t nid,
				  struct liberofs_entry *e)
{
	struct erofs_error_scope scope;
	struct erofs_rinode ri;
	int ret;

	erofs_error_scope_enter(&scope);
	ret = read_inode(&img->img, nid, &ri);
	if (!ret)
		fill_entry(e, NULL, &ri, false);
	return liberofs_leave_image(&scope, ret, img);
}

static int read_data(struct erofs_image *img, const struct erofs_rinode *ri,
		     void *buf, size_t len, u64 pos)
{
	const char *why = NULL;
	int ret = erofs_read_data(img, ri, buf, len, pos, &why);

	if (ret)
		return erofs_fail(ret, "%s: inode %llu: data at %llu: %s",
				  img->path, (unsigned long long)ri->nid,
				  (unsigned long long)pos,
				  why ? why : strerror(-ret));
	return 0;
}

LIBEROFS_EXPORT int liberofs_read(liberofs_image *img, uint64_t nid, void *buf,
				  size_t len, uint64_t offset, size_t *done)
{
	struct erofs_error_scope scope;
	struct erofs_rinode ri;
	int ret;

	erofs_error_scope_enter(&scope);
	*done = 0;
	ret = read_inode(&img->img, nid, &ri);
	if (!ret && S_ISDIR(ri.i.mode))
		ret = erofs_fail(-EISDIR, "inode %llu is a directory",
				 (unsigned long long)nid);
	else if (!ret && !S_ISREG(ri.i.mode) && !S_ISLNK(ri.i.mode))
		ret = erofs_fail(-EINVAL, "inode %llu has no content to read",
				 (unsigned long long)nid);
	if (!ret && offset < ri.i.size) {
		if (len > ri.i.size - offset)
			len = ri.i.size - offset;
		ret = read_data(&img->img, &ri, buf, len, offset);
		if (!ret)
			*done = len;
	}
	return liberofs_leave_image(&scope, ret, img);
}

struct api_xattrs {
	liberofs_xattr_fn fn;
	void *arg;
	int stop;
};

static int xattr_one(void *arg, const struct erofs_xattr_ref *x)
{
	struct api_xattrs *a = arg;

	a->stop = a->fn(a->arg, x->name, x->value, x->value_len);
	return a->stop;
}

LIBEROFS_EXPORT int liberofs_listxattr(liberofs_image *img, uint64_t nid,
				       liberofs_xattr_fn fn, void *arg)
{
	struct api_xattrs a = { .fn = fn, .arg = arg };
	struct erofs_error_scope scope;
	struct erofs_rinode ri;
	const char *why = NULL;
	int ret;

	erofs_error_scope_enter(&scope);
	ret = read_inode(&img->img, nid, &ri);
	if (!ret) {
		ret = erofs_xattr_foreach(&img->img, &ri, xattr_one, &a, &why);
		if (a.stop)
			ret = a.stop;
		else if (ret)
			ret = erofs_fail(ret, "%s: inode %llu: xattrs: %s",
					 img->img.path, (unsigned long long)nid,
					 why ? why : strerror(-ret));
	}
	return liberofs_leave_image(&scope, ret, img);
}

LIBEROFS_EXPORT int liberofs_getxattr(liberofs_image *img, uint64_t nid,
				      const char *name, void *buf, size_t size,
				      size_t *value_len)
{
	struct erofs_error_scope scope;
	struct erofs_rinode ri;
	const char *why = NULL;
	int ret;

	erofs_error_scope_enter(&scope);
	ret = read_inode(&img->img, nid, &ri);
	if (!ret) {
		ret = erofs_xattr_get(&img->img, &ri, name, buf, size, &why);
		if (ret == -ENODATA) {
			ret = erofs_fail(ret, "inode %llu has no xattr %s",
					 (unsigned long long)nid, name);
		} else if (ret < 0) {
			ret = erofs_fail(ret, "%s: inode %llu: xattrs: %s",
					 img->img.path, (unsigned long long)nid,
					 why ? why : strerror(-ret));
		} else {
			*value_len = ret;
			ret = (size_t)ret > size
				      ? erofs_fail(
						-ERANGE,
						"xattr %s: %zu bytes, room for %zu",
						name, *value_len, size)
				      : 0;
		}
	}
	return liberofs_leave_image(&scope, ret, img);
}

/*
 * Verify one regular file: its content's SHA-256 against the fingerprint
 * xattr the image names. A file whose content cannot be read counts as
 * mismatched.
 */
static int verify_file(struct api_walk *w, const char *path,
		       const struct erofs_rinode *ri)
{
	struct liberofs_verify_result *res = w->res;
	u8 value[EROFS_FINGERPRINT_VALUE_SIZE + 1];
	u8 want[EROFS_SHA256_SIZE], got[EROFS_SHA256_SIZE];
	const char *why = NULL;
	int ret, bad = 0;
	u64 pos;

	if (!S_ISREG(ri->i.mode) || !ri->i.size)
		return 0;
	res->files++;
	ret = w->img->ishare_name
		      ? erofs_xattr_get(w->img, ri, w->img->ishare_name, value,
					sizeof(value), &why)
		      : -ENODATA;
	if (ret < 0 && ret != -ENODATA) {
		bad = erofs_fail(ret, "%s: xattrs: %s", path,
				 why ? why : strerror(-ret));
	} else if (ret < 0 || ret > (int)sizeof(value) ||
		   erofs_fingerprint_parse(value, ret, want)) {
		res->unfingerprinted++;
		return 0;
	}
	for (pos = 0; !bad && pos < ri->i.size; pos += READ_CHUNK) {
		size_t len = ri->i.size - pos < READ_CHUNK ? ri->i.size - pos
							   : READ_CHUNK;

		bad = read_data(w->img, ri, w->buf, len, pos);
		if (!bad)
			erofs_sha256_update(&w->sha, w->buf, len);
	}
	if (!bad) {
		erofs_sha256_final(&w->sha, got);
		if (!memcmp(want, got, sizeof(got))) {
			res->matched++;
			return 0;
		}
		erofs_fail(-EBADMSG,
			   "%s: the fingerprint does not match the content",
			   path);
	} else {
		/* a fresh hash for the next file */
		erofs_sha256_final(&w->sha, got);
	}
	res->mismatched++;
	if (!res->first_failure) {
		res->first_failure = strdup(path);
		if (!res->first_failure)
			return -ENOMEM;
	}
	return 0;
}

static int verify_visit(struct api_walk *w, const struct erofs_walk_entry *e)
{
	return e->seen ? 0 : verify_file(w, e->path, e->inode);
}

static int verify(struct liberofs_image *h, const char *path,
		  struct liberofs_verify_result *res)
{
	struct api_walk w = {
		.img = &h->img,
		.visit = verify_visit,
		.res = res,
	};
	struct erofs_rinode ri;
	erofs_nid_t nid;
	int ret;

	ret = erofs_sha256_init(&w.sha);
	if (ret)
		return erofs_fail(
			ret, "SHA-256: %s",
			ret == -EOPNOTSUPP
				? "liberofs was built without OpenSSL libcrypto"
				: strerror(-ret));
	w.buf = malloc(READ_CHUNK);
	if (!w.buf)
		ret = erofs_fail(-ENOMEM, "out of memory");
	else if (!path || !strcmp(path, "/"))
		ret = walk(&w);
	else {
		ret = erofs_lookup_path(w.img, path, &nid);
		if (!ret)
			ret = read_inode(w.img, nid, &ri);
		if (!ret && !S_ISREG(ri.i.mode))
			ret = erofs_fail(-EINVAL, "%s: not a regular file",
					 path);
		if (!ret)
			ret = verify_file(&w, path, &ri);
	}
	free(w.buf);
	erofs_sha256_free(&w.sha);
	if (!ret && res->mismatched)
		ret = -EBADMSG;
	return ret;
}

LIBEROFS_EXPORT int liberofs_verify(liberofs_image *img, const char *path,
				    struct liberofs_verify_result *res)
{
	struct erofs_error_scope scope;

	memset(res, 0, sizeof(*res));
	erofs_error_scope_enter(&scope);
	return liberofs_leave_image(&scope, verify(img, path, res), img);
}
