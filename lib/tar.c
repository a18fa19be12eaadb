// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tar source: libarchive parses the archive (lib/tar_stream.c feeds it the
 * decompressed bytes); this file maps its entries onto the in-memory tree
 * and spools file data to an unlinked file beside the image. The rules it
 * applies are listed in lib/erofs/tar.h.
 */
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "erofs/array.h"
#include "erofs/error.h"
#include "erofs/fingerprint.h"
#include "erofs/format.h"
#include "erofs/ovlfs.h"
#include "erofs/tar.h"
#include "erofs/tar_hash.h"
#include "erofs/tar_headerball.h"
#include "erofs/tar_meta.h"
#include "erofs/tar_stream.h"

#ifdef HAVE_LIBARCHIVE
#include <archive.h>
#include <archive_entry.h>

/* spool offsets: holes of sparse files stay aligned to filesystem blocks */
#define SPOOL_ALIGN 4096
#define EROFS_TAR_BLOCK 512
#define AUFS_WH_PREFIX ".wh."
#define AUFS_META_PREFIX ".wh..wh."
#define AUFS_OPAQUE ".wh..wh..opq"

struct tar_path {
	char *buf; /* a copy of the path, components NUL-terminated in place */
	size_t cap;
	char **comp;
	u32 n;
	u64 ncap;
};

struct tar_read {
	struct erofs_tree *tree;
	const struct erofs_tar_opts *o;
	struct erofs_xattr_table *xt;
	const char *name; /* the tarball, for messages */
	int fd;
	bool own_fd;
	u64 in_size; /* 0 when not a regular file */

	struct archive *a; /* the tar parser, fed by "stream" */
	struct erofs_tar_stream *stream;
	/* the block handed to libarchive last, to look at a bad header */
	const u8 *blk;
	u64 blk_pos, blk_len, fed; /* fed: tar stream bytes handed on */

	u64 spool_end;
	struct tar_path path, link;
	const char *entry; /* current entry's name as the archive has it */
	char *prev_entry;
	u64 entry_pos; /* its header's offset in the tar stream */
	u64 last_end; /* tar stream offset after the last entry's data */
	u64 nentries;
	u64 bytes; /* file data bytes read, for progress */
	struct erofs_tar_meta meta;
	char *what; /* meta.what: the entry, for messages */
	size_t what_cap;
	struct erofs_sha256 sha; /* index mode with fingerprints */
	struct erofs_headerball *hb; /* --tar=headerball */
	struct erofs_tar_hash *hash; /* --sort=none with fingerprints */
	u64 place_next; /* --sort=none: image offset of the next file's data */
};

/* Offsets: in the (decompressed) tar stream and, if compressed, the input. */
static void stream_pos(struct tar_read *r, char *buf, size_t size)
{
	la_int64_t tarpos = r->a ? archive_filter_bytes(r->a, 0) : -1;
	u64 inpos = r->stream ? erofs_tar_stream_input_pos(r->stream) : 0;
	const char *filter = r->stream ? erofs_tar_stream_filter(r->stream) :
					 "none";

	if (tarpos < 0)
		tarpos = 0;
	if (strcmp(filter, "none"))
		snprintf(buf, size, "byte %llu of the tar stream, about byte %llu of the %s input",
			 (unsigned long long)tarpos, (unsigned long long)inpos,
			 filter);
	else
		snprintf(buf, size, "byte %llu", (unsigned long long)tarpos);
}

static int __printf(3, 4) entry_fail(struct tar_read *r, int err,
				     const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return erofs_fail(err, "%s: entry '%s' (header at byte %llu): %s",
			  r->name, r->entry, (unsigned long long)r->entry_pos,
			  why);
}

/*
 * A libarchive failure, with where in the stream it happened. When the
 * compressed stream is corrupt, that is the cause of whatever the parser
 * tripped over, though gzip's check may come only at the end of the
 * member: the stream is read on to find out, and named first.
 */
static const char *stream_cause(struct tar_read *r, const char *msg)
{
	const char *cause;
	const void *buf;

	if (!r->stream)
		return NULL;
	while (!erofs_tar_stream_error(r->stream) &&
	       erofs_tar_stream_read(r->stream, &buf) > 0)
		;
	cause = erofs_tar_stream_error(r->stream);
	return cause && strcmp(cause, msg) ? cause : NULL;
}

static int archive_fail(struct tar_read *r, struct archive *a)
{
	const char *msg = archive_error_string(a), *cause;
	int e = archive_errno(a);
	char pos[128], where[640];

	stream_pos(r, pos, sizeof(pos));
	if (!msg)
		msg = "unreadable archive";
	e = e > 0 ? -e : -EIO;
	cause = stream_cause(r, msg);
	if (r->entry)
		snprintf(where, sizeof(where), "%s, in entry '%s' (%s)", msg,
			 r->entry, pos);
	else if (r->prev_entry)
		snprintf(where, sizeof(where), "%s, after entry '%s' (%s)", msg,
			 r->prev_entry, pos);
	else
		snprintf(where, sizeof(where), "%s (%s)", msg, pos);
	if (cause)
		return erofs_fail(-EIO, "%s: %s; before that was found: %s",
				  r->name, cause, where);
	return erofs_fail(e, "%s: %s", r->name, where);
}

static int spool_open(const char *image_path, int *out)
{
	char *copy = image_path ? strdup(image_path) : NULL;
	const char *dir;
	struct stat st;
	int fd, ret = 0;

	if (image_path && !copy)
		return -ENOMEM;
	/*
	 * Beside the image, so that the space is taken where the image goes;
	 * a block device's directory is a memory filesystem, so not there.
	 */
	if (!copy || (!stat(image_path, &st) && S_ISBLK(st.st_mode))) {
		dir = getenv("TMPDIR");
		if (!dir || !*dir)
			dir = "/var/tmp";
	} else {
		dir = dirname(copy);
	}
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR ||
		       errno == EINVAL)) {
		char *tmpl;

		if (asprintf(&tmpl, "%s/.erofs-spool.XXXXXX", dir) < 0) {
			free(copy);
			return -ENOMEM;
		}
		fd = mkostemp(tmpl, O_CLOEXEC);
		ret = -errno;
		if (fd >= 0)
			unlink(tmpl);
		free(tmpl);
	} else {
		ret = -errno;
	}
	if (fd < 0)
		ret = erofs_fail(ret, "%s: cannot create the spool file: %s",
				 dir, strerror(-ret));
	else
		ret = 0;
	free(copy);
	*out = fd;
	return ret;
}

static int spool_write(struct tar_read *r, const void *buf, size_t len,
		       u64 pos)
{
	const char *p = buf;

	while (len) {
		ssize_t n = pwrite(r->tree->spool_fd, p, len, pos);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return entry_fail(r, n < 0 ? -errno : -ENOSPC,
					  "cannot write the spool file: %s",
					  strerror(n < 0 ? errno : ENOSPC));
		p += n;
		pos += n;
		len -= n;
	}
	return 0;
}

/* libarchive's read callback: the stream's decompressed blocks */
static la_ssize_t stream_read(struct archive *a, void *cookie, const void **buf)
{
	struct tar_read *r = cookie;
	ssize_t n = r->hb ? erofs_headerball_read(r->hb, buf) :
			    erofs_tar_stream_read(r->stream, buf);

	if (n < 0) {
		const char *why = r->hb ? erofs_headerball_error(r->hb) : NULL;

		archive_set_error(a, EIO, "%s",
				  why ? why : erofs_tar_stream_error(r->stream));
		r->blk = NULL;
		return n;
	}
	r->blk = *buf;
	r->blk_pos = r->fed;
	r->blk_len = n;
	r->fed += n;
	return n;
}

/* libarchive's skip callback: data it does not need is not even read */
static la_int64_t stream_skip(struct archive *a, void *cookie,
			      la_int64_t request)
{
	struct tar_read *r = cookie;
	u64 n = 0;

	if (request > 0)
		n = r->hb ? erofs_headerball_skip(r->hb, request) :
			    erofs_tar_stream_skip(r->stream, request);
	r->blk = NULL;
	r->fed += n;
	return n;
}

/* A header's checksum as written and as its bytes sum up (unsigned). */
static bool header_sums(const u8 *h, unsigned long *recorded,
			unsigned long *computed, unsigned long *signed_sum)
{
	char field[9];
	char *end;

	memcpy(field, h + 148, 8);
	field[8] = '\0';
	*recorded = strtoul(field, &end, 8);
	*computed = *signed_sum = 8 * ' ';
	for (unsigned int i = 0; i < 512; i++) {
		if (i >= 148 && i < 156)
			continue;
		*computed += h[i];
		*signed_sum += (signed char)h[i];
	}
	return end != field;
}

/*
 * What is wrong with the headers from "pos" on, as far as the last block
 * handed to libarchive holds them, in "why": a header whose checksum is
 * wrong (the usual reason libarchive calls an archive damaged), or, once
 * the stream is known to be tar, bytes where a header should be that are
 * none. Extended headers (PAX, GNU long names) that are right are stepped
 * over. False when nothing is found.
 */
static bool find_bad_header(struct tar_read *r, u64 pos, char *why,
			    size_t size)
{
	while (r->blk && pos >= r->blk_pos &&
	       pos + 512 <= r->blk_pos + r->blk_len) {
		const u8 *h = r->blk + (pos - r->blk_pos);
		unsigned long recorded, computed, ssum;
		char len[13];

		if (!h[0]) /* an end block */
			return false;
		/* before any entry, only what names itself a tar header */
		if (!r->prev_entry && memcmp(h + 257, "ustar", 5))
			return false;
		if (!header_sums(h, &recorded, &computed, &ssum)) {
			snprintf(why, size,
				 "byte %llu holds no tar header (no checksum)",
				 (unsigned long long)pos);
			return true;
		}
		if (recorded != computed && recorded != ssum) {
			snprintf(why, size,
				 "bad header checksum at byte %llu (recorded %lo, the header sums to %lo)",
				 (unsigned long long)pos, recorded, computed);
			return true;
		}
		if (!strchr("xgLK", h[156]))
			return false;
		memcpy(len, h + 124, 12);
		len[12] = '\0';
		pos += 512 + round_up(strtoull(len, NULL, 8), 512ULL);
	}
	return false;
}

/*
 * libarchive refused a header: say why when the header shows it, after
 * the compressed stream's own error if it has one (the cause).
 */
static int header_fail(struct tar_read *r, u64 from, const char *msg)
{
	char why[160], where[256], pos[128];
	const char *cause;

	if (!find_bad_header(r, from, why, sizeof(why))) {
		if (!msg)
			return archive_fail(r, r->a);
		stream_pos(r, pos, sizeof(pos));
		return erofs_fail(-EINVAL, "%s: %s (%s)", r->name, msg, pos);
	}
	if (r->prev_entry)
		snprintf(where, sizeof(where), "%s, after entry '%s'", why,
			 r->prev_entry);
	else
		snprintf(where, sizeof(where), "%s", why);
	cause = stream_cause(r, where);
	if (cause)
		return erofs_fail(-EIO, "%s: %s; before that was found: %s",
				  r->name, cause, where);
	return erofs_fail(-EINVAL, "%s: %s", r->name, where);
}

static int archive_setup(struct tar_read *r, const char *tarball)
{
	struct stat st;
	int ret;

	if (!tarball || !strcmp(tarball, "-")) {
		r->fd = STDIN_FILENO;
		r->name = "(standard input)";
	} else {
		r->fd = open(tarball, O_RDONLY | O_CLOEXEC);
		if (r->fd < 0)
			return erofs_fail(-errno, "%s: %s", tarball,
					  strerror(errno));
		r->own_fd = true;
		r->name = tarball;
	}
	if (!fstat(r->fd, &st) && S_ISREG(st.st_mode)) {
		r->in_size = st.st_size;
		posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	}
	ret = erofs_tar_stream_open(&r->stream, r->fd, r->name,
				    r->o->dump_path);
	if (ret)
		return ret;
	r->a = archive_read_new();
	if (!r->a)
		return -ENOMEM;
	/* every tar dialect, and nothing else: cpio or zip is not a layer */
	archive_read_support_format_tar(r->a);
	if (r->o->headerball) {
		ret = erofs_headerball_new(&r->hb, r->stream);
		if (ret)
			return ret;
	}
	if (archive_read_open2(r->a, r, NULL, stream_read, stream_skip, NULL))
		return header_fail(r, 0, NULL);
	return 0;
}

/*
 * Read the stream to its end after the archive: what follows the tar end
 * marker belongs in a dump, and gzip's CRC is only checked at the end.
 */
static int stream_drain(struct tar_read *r)
{
	const void *buf;
	ssize_t n;

	while ((n = erofs_tar_stream_read(r->stream, &buf)) > 0)
		;
	if (n < 0)
		return erofs_fail(-EIO, "%s: %s, after the end of the archive",
				  r->name, erofs_tar_stream_error(r->stream));
	return 0;
}

/*
 * Split "p" into components: "" and "." dropped, ".." taking back the
 * previous one. Lexical on purpose: the tree has no symlinks to follow yet,
 * and following them would let an archive reach outside the root.
 */
static int split_path(struct tar_read *r, const char *p, struct tar_path *tp,
		      const char *what)
{
	size_t len = strlen(p);
	char *s;

	if (len + 1 > tp->cap) {
		char *nb = realloc(tp->buf, len + 1);

		if (!nb)
			return -ENOMEM;
		tp->buf = nb;
		tp->cap = len + 1;
	}
	memcpy(tp->buf, p, len + 1);
	tp->n = 0;
	for (s = tp->buf; *s;) {
		char *c = s, *slash = strchr(s, '/');
		size_t clen;

		if (slash) {
			*slash = '\0';
			s = slash + 1;
		} else {
			s += strlen(s);
		}
		clen = strlen(c);
		if (!clen || !strcmp(c, "."))
			continue;
		if (!strcmp(c, "..")) {
			if (!tp->n)
				return entry_fail(r, -EPERM,
						  "%s '%s' leads outside the archive root",
						  what, p);
			tp->n--;
			continue;
		}
		if (clen > EROFS_NAME_LEN)
			return entry_fail(r, -ENAMETOOLONG,
					  "%s has a name longer than %d bytes",
					  what, EROFS_NAME_LEN);
		if (erofs_grow_array(&tp->comp, &tp->ncap, tp->n + 1,
				     sizeof(*tp->comp)))
			return -ENOMEM;
		tp->comp[tp->n++] = c;
	}
	return 0;
}

static bool has_prefix(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static const char *type_name(u32 mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "a regular file";
	case S_IFLNK:
		return "a symlink";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	case S_IFIFO:
		return "a fifo";
	case S_IFSOCK:
		return "a socket";
	}
	return "not a directory";
}

static int add_dentry(struct tar_read *r, struct erofs_node *dir,
		      const char *name, struct erofs_node *n)
{
	int ret = erofs_dir_add(r->tree, dir, name, strlen(name), n);

	if (ret)
		return entry_fail(r, ret, "cannot add '%s': %s", name,
				  strerror(-ret));
	return 0;
}

/* Put node "n" where entry "d" of "dir" was; the old node is dropped. */
static void replace_dentry(struct erofs_node *dir, struct erofs_dentry *d,
			   struct erofs_node *n)
{
	if (d->node->name == d->name) {
		d->node->name = NULL;
		d->node->name_dir = NULL;
	}
	d->node = n;
	if (!n->name) {
		n->name = d->name;
		n->name_dir = dir;
	}
	if (erofs_node_is_dir(n))
		n->parent = dir;
}

/* ".wh..wh..opq" stays as an entry until the end, then becomes the xattr */
static int mark_opaque(struct tar_read *r, struct erofs_node *dir)
{
	struct erofs_node *m;

	if (erofs_dir_lookup(r->tree, dir, AUFS_OPAQUE, strlen(AUFS_OPAQUE)))
		return 0;
	m = erofs_node_new(r->tree, S_IFREG);
	if (!m)
		return -ENOMEM;
	return add_dentry(r, dir, AUFS_OPAQUE, m);
}

static struct erofs_node *implied_dir(struct tar_read *r)
{
	struct erofs_node *n = erofs_node_new(r->tree, S_IFDIR | 0755);

	if (n) {
		n->mtime = r->o->dir_mtime;
		n->mtime_nsec = r->o->dir_mtime_nsec;
		n->implied = true;
	}
	return n;
}

/*
 * The directory holding the first "upto" components of "tp", created with
 * default metadata where missing when "create" is set. Returns 1 when an
 * aufs metadata directory is on the way (the entry is skipped).
 */
static int walk_dirs(struct tar_read *r, struct tar_path *tp, u32 upto,
		     bool create, const char *what, struct erofs_node **out)
{
	struct erofs_node *dir = r->tree->root;

	for (u32 i = 0; i < upto; i++) {
		const char *c = tp->comp[i];
		struct erofs_dentry *d;

		if (r->o->aufs && create && has_prefix(c, AUFS_WH_PREFIX)) {
			if (has_prefix(c, AUFS_META_PREFIX))
				return 1;
			return entry_fail(r, -EINVAL,
					  "whiteout '%s' used as a directory",
					  c);
		}
		d = erofs_dir_lookup(r->tree, dir, c, strlen(c));
		if (!d) {
			struct erofs_node *n;
			int ret;

			if (!create)
				return entry_fail(r, -ENOENT,
						  "%s: directory '%s' not in the archive",
						  what, c);
			n = implied_dir(r);
			if (!n)
				return -ENOMEM;
			ret = add_dentry(r, dir, c, n);
			if (ret)
				return ret;
			dir = n;
			continue;
		}
		if (create && r->o->aufs && erofs_ovlfs_is_whiteout(d->node)) {
			/*
			 * A whiteout and entries below its name: the lower
			 * directory is gone and this layer makes a new one,
			 * which overlayfs shows as an opaque directory.
			 */
			struct erofs_node *n = implied_dir(r);
			int ret;

			if (!n)
				return -ENOMEM;
			replace_dentry(dir, d, n);
			ret = mark_opaque(r, n);
			if (ret)
				return ret;
			dir = n;
			continue;
		}
		if (!erofs_node_is_dir(d->node))
			/* never through a symlink: it could point anywhere */
			return entry_fail(r, -ENOTDIR,
					  "%s: '%s' on its path is %s", what,
					  c, type_name(d->node->mode));
		dir = d->node;
	}
	*out = dir;
	return 0;
}

static void progress(struct tar_read *r)
{
	u64 pos = erofs_tar_stream_input_pos(r->stream);

	erofs_progress("reading tar (MiB)", pos >> 20,
		       (r->in_size ? r->in_size : pos) >> 20);
}

/*
 * Copy the entry's data to the spool; holes of sparse entries stay holes.
 * *got: how many data bytes the archive held.
 */
static int spool_data(struct tar_read *r, struct archive_entry *e,
		      struct erofs_node *n, u64 size, u64 *got)
{
	u64 base = r->spool_end, expect = 0;
	bool gaps = archive_entry_sparse_count(e) > 0;

	*got = 0;

	for (;;) {
		const void *buf;
		size_t len;
		la_int64_t off;
		int ret = archive_read_data_block(r->a, &buf, &len, &off);

		if (ret == ARCHIVE_EOF)
			break;
		if (ret < ARCHIVE_WARN)
			return archive_fail(r, r->a);
		if (off < 0 || (u64)off > size || len > size - off)
			return entry_fail(r, -EINVAL,
					  "data at %lld+%zu beyond its size %llu",
					  (long long)off, len,
					  (unsigned long long)size);
		if ((u64)off != expect)
			gaps = true;
		if (len) {
			ret = spool_write(r, buf, len, base + off);
			if (ret)
				return ret;
		}
		expect = off + len;
		*got += len;
		r->bytes += len;
		if ((r->bytes >> 26) != ((r->bytes - len) >> 26))
			progress(r);
	}
	if (expect != size)
		gaps = true;
	n->size = size;
	if (!size)
		return 0;
	n->data_kind = EROFS_DATA_SPOOL;
	n->src.off = base;
	n->maybe_sparse = gaps;
	r->spool_end = round_up(base + size, SPOOL_ALIGN);
	return 0;
}

/*
 * --tar=i: the data stays where it is in the stream; it is read only to
 * compute the fingerprint of a stream that cannot be read again, and
 * skipped otherwise.
 */
static int index_data(struct tar_read *r, struct archive_entry *e,
		      struct erofs_node *n, u64 size)
{
	u64 pos = archive_filter_bytes(r->a, 0), expect = 0;

	n->size = size;
	if (!size)
		return 0;
	if (pos % EROFS_TAR_BLOCK)
		return entry_fail(r, -EIO, "invalid tar data alignment");
	while (r->sha.ctx) {
		const void *buf;
		size_t len;
		la_int64_t off;
		int ret = archive_read_data_block(r->a, &buf, &len, &off);

		if (ret == ARCHIVE_EOF)
			break;
		if (ret < ARCHIVE_WARN)
			return archive_fail(r, r->a);
		if (off < 0 || (u64)off != expect || len > size - off)
			return entry_fail(r, -EINVAL,
					  "data at %lld+%zu is not the next of its %llu bytes",
					  (long long)off, len,
					  (unsigned long long)size);
		erofs_sha256_update(&r->sha, buf, len);
		expect += len;
		r->bytes += len;
		if ((r->bytes >> 26) != ((r->bytes - len) >> 26))
			progress(r);
	}
	if (r->sha.ctx) {
		if (expect != size)
			return entry_fail(r, -EIO,
					  "%llu of %llu data bytes in the archive",
					  (unsigned long long)expect,
					  (unsigned long long)size);
		erofs_sha256_final(&r->sha, n->fingerprint);
		n->fingerprint_known = true;
	}
	n->src.ext = erofs_ext_data_new(1, 0, 1);
	if (!n->src.ext)
		return -ENOMEM;
	n->src.ext->blk1 = pos / EROFS_TAR_BLOCK;
	n->data_kind = EROFS_DATA_EXTERNAL;
	return 0;
}

/* --tar=headerball: the size alone, the data a hole as long. */
static int headerball_data(struct erofs_node *n, u64 size)
{
	n->size = size;
	if (!size)
		return 0;
	n->src.ext = erofs_ext_data_new(0, 0, 1);
	if (!n->src.ext)
		return -ENOMEM;
	n->src.ext->blk1 = EROFS_EXT_HOLE;
	n->data_kind = EROFS_DATA_EXTERNAL;
	return 0;
}

/*
 * --sort=none: the data goes to the image now, in archive order, hashed
 * behind the writing for fingerprints (lib/tar_hash.c).
 */
static int place_data(struct tar_read *r, struct erofs_node *n, u64 size)
{
	u64 base = r->place_next, expect = 0;

	n->size = size;
	if (!size)
		return 0;
	if (r->hash) {
		int ret = erofs_tar_hash_add(r->hash, n, base, size);

		if (ret)
			return ret;
	}
	for (;;) {
		const void *buf;
		size_t len;
		la_int64_t off;
		int ret = archive_read_data_block(r->a, &buf, &len, &off);

		if (ret == ARCHIVE_EOF)
			break;
		if (ret < ARCHIVE_WARN)
			return archive_fail(r, r->a);
		if (off < 0 || (u64)off != expect || len > size - off)
			return entry_fail(r, -EINVAL,
					  "data at %lld+%zu is not the next of its %llu bytes",
					  (long long)off, len,
					  (unsigned long long)size);
		ret = erofs_output_write(r->o->place_out, buf, len, base + off);
		if (ret)
			return ret;
		expect += len;
		if (r->hash)
			erofs_tar_hash_written(r->hash, expect);
		r->bytes += len;
		if ((r->bytes >> 26) != ((r->bytes - len) >> 26))
			progress(r);
	}
	if (expect != size)
		return entry_fail(r, -EIO, "%llu of %llu data bytes in the archive",
				  (unsigned long long)expect,
				  (unsigned long long)size);
	n->data_kind = EROFS_DATA_PLACED;
	n->src.off = base;
	r->place_next = round_up(base + size, 1ULL << r->o->blkszbits);
	/* a synced image's writeback starts while the archive is read */
	erofs_output_settled(r->o->place_out, r->place_next);
	return 0;
}

static int fill_node(struct tar_read *r, struct archive_entry *e,
		     struct erofs_node *n)
{
	u32 type = archive_entry_filetype(e);
	u64 got;
	int ret;

	n->mode = type | (archive_entry_mode(e) & 07777);
	n->implied = false;
	ret = erofs_tar_meta_owner_time(&r->meta, e, n);
	if (ret)
		return ret;
	switch (type) {
	case AE_IFREG:
		if (archive_entry_size_is_set(e) && archive_entry_size(e) < 0)
			return entry_fail(r, -EINVAL, "negative size");
		if (r->o->headerball) {
			ret = headerball_data(n, archive_entry_size(e));
		} else if (r->o->reserve) {
			n->size = archive_entry_size(e);
			n->data_kind = n->size ? EROFS_DATA_RESERVED :
						 EROFS_DATA_NONE;
			ret = 0;
		} else if (r->o->index && !archive_entry_sparse_count(e))
			ret = index_data(r, e, n, archive_entry_size(e));
		else if (r->o->place_out && !archive_entry_sparse_count(e))
			ret = place_data(r, n, archive_entry_size(e));
		else
			ret = spool_data(r, e, n, archive_entry_size(e), &got);
		break;
	case AE_IFLNK: {
		const char *t = archive_entry_symlink(e);
		size_t len = t ? strlen(t) : 0;

		if (!len)
			return entry_fail(r, -EINVAL, "symlink without a target");
		if (len > EROFS_SYMLINK_MAXLEN)
			return entry_fail(r, -ENAMETOOLONG,
					  "symlink target longer than %d bytes",
					  EROFS_SYMLINK_MAXLEN);
		n->src.mem = strdup(t);
		if (!n->src.mem)
			return -ENOMEM;
		n->data_kind = EROFS_DATA_MEM;
		n->size = len;
		break;
	}
	case AE_IFCHR:
	case AE_IFBLK: {
		la_int64_t maj = archive_entry_rdevmajor(e);
		la_int64_t min = archive_entry_rdevminor(e);

		if (maj < 0 || maj > 0xfff || min < 0 || min > 0xfffff)
			return entry_fail(r, -ERANGE,
					  "device %lld:%lld cannot be stored",
					  (long long)maj, (long long)min);
		n->rdev = erofs_encode_dev(maj, min);
		break;
	}
	case AE_IFDIR:
	case AE_IFIFO:
	case AE_IFSOCK:
		break;
	default:
		return entry_fail(r, -EINVAL, "unsupported entry type (mode %o)",
				  (unsigned int)archive_entry_mode(e));
	}
	if (ret)
		return ret;
	return erofs_tar_meta_xattrs(&r->meta, e, n);
}

static int add_hardlink(struct tar_read *r, struct archive_entry *e,
			struct erofs_node *dir, const char *name,
			struct erofs_dentry *d, const char *target)
{
	struct erofs_node *dst, *tdir;
	struct erofs_dentry *td;
	int ret;

	ret = split_path(r, target, &r->link, "hardlink target");
	if (ret)
		return ret;
	if (!r->link.n)
		return entry_fail(r, -EISDIR,
				  "hardlink to the root directory");
	ret = walk_dirs(r, &r->link, r->link.n - 1, false, "hardlink target",
			&tdir);
	if (ret)
		return ret;
	td = erofs_dir_lookup(r->tree, tdir, r->link.comp[r->link.n - 1],
			      strlen(r->link.comp[r->link.n - 1]));
	if (!td)
		return entry_fail(r, -ENOENT, "hardlink target '%s' not found",
				  target);
	dst = td->node;
	if (erofs_node_is_dir(dst))
		return entry_fail(r, -EISDIR,
				  "hardlink target '%s' is a directory",
				  target);
	/*
	 * A link entry may carry data (PAX allows it): then it is the file's
	 * new content. Old writers put the target's size in link headers
	 * without any data: libarchive then gives none, and nothing changes.
	 */
	if (S_ISREG(dst->mode) && archive_entry_size_is_set(e) &&
	    archive_entry_size(e) > 0) {
		struct erofs_node tmp = { .mode = dst->mode };
		u64 got;

		ret = spool_data(r, e, &tmp, archive_entry_size(e), &got);
		if (ret)
			return ret;
		if (got) {
			dst->size = tmp.size;
			dst->data_kind = tmp.data_kind;
			dst->src.off = tmp.src.off;
			dst->maybe_sparse = tmp.maybe_sparse;
		}
	}
	if (d) {
		if (d->node != dst)
			replace_dentry(dir, d, dst);
		return 0;
	}
	return add_dentry(r, dir, name, dst);
}

static int add_whiteout(struct tar_read *r, struct archive_entry *e,
			struct erofs_node *dir, const char *name,
			struct erofs_dentry *d)
{
	struct erofs_node *n;
	int ret;

	if (d) {
		/*
		 * Whiteouts only act on lower layers. Beside a directory of
		 * this layer, that means the lower one's contents are gone:
		 * an opaque directory. Beside anything else, the entry
		 * itself hides the lower one already.
		 */
		if (erofs_node_is_dir(d->node))
			return mark_opaque(r, d->node);
		return 0;
	}
	/*
	 * A 0/0 character device with no permission bits, as overlayfs and
	 * erofs-utils make them; owner and time come from the header.
	 */
	n = erofs_node_new(r->tree, S_IFCHR);
	if (!n)
		return -ENOMEM;
	ret = erofs_tar_meta_owner_time(&r->meta, e, n);
	if (ret)
		return ret;
	return add_dentry(r, dir, name, n);
}

static int set_what(struct tar_read *r)
{
	int n;

	for (;;) {
		n = snprintf(r->what, r->what_cap,
			     "%s: entry '%s' (header at byte %llu)", r->name,
			     r->entry, (unsigned long long)r->entry_pos);
		if (n >= 0 && (size_t)n < r->what_cap)
			break;
		free(r->what);
		r->what_cap = n + 1;
		r->what = malloc(r->what_cap);
		if (!r->what)
			return -ENOMEM;
	}
	r->meta.what = r->what;
	return 0;
}

static int add_entry(struct tar_read *r, struct archive_entry *e)
{
	const char *hardlink = archive_entry_hardlink(e);
	struct erofs_node *dir, *n;
	struct erofs_dentry *d;
	const char *name;
	bool whiteout = false;
	int ret;

	ret = split_path(r, r->entry, &r->path, "path");
	if (ret)
		return ret;
	if (!r->path.n) {
		/* "./" or "/": the root's own metadata */
		if (hardlink || archive_entry_filetype(e) != AE_IFDIR)
			return entry_fail(r, -ENOTDIR,
					  "the root must be a directory");
		return fill_node(r, e, r->tree->root);
	}
	ret = walk_dirs(r, &r->path, r->path.n - 1, true, "path", &dir);
	if (ret)
		return ret < 0 ? ret : 0;
	name = r->path.comp[r->path.n - 1];

	if (r->o->aufs && has_prefix(name, AUFS_WH_PREFIX)) {
		if (!strcmp(name, AUFS_OPAQUE))
			return mark_opaque(r, dir);
		if (has_prefix(name, AUFS_META_PREFIX))
			return 0; /* aufs' own bookkeeping */
		name += strlen(AUFS_WH_PREFIX);
		if (!*name || erofs_name_invalid(name, strlen(name)))
			return entry_fail(r, -EINVAL, "invalid whiteout name");
		/* kept even when stripped: they hide an old image's entries */
		whiteout = true;
	}
	d = erofs_dir_lookup(r->tree, dir, name, strlen(name));
	if (whiteout)
		return add_whiteout(r, e, dir, name, d);
	if (hardlink)
		return add_hardlink(r, e, dir, name, d, hardlink);

	if (d && erofs_node_is_dir(d->node) &&
	    archive_entry_filetype(e) == AE_IFDIR)
		/* the same directory again: new metadata, same children */
		return fill_node(r, e, d->node);

	n = erofs_node_new(r->tree, archive_entry_filetype(e));
	if (!n)
		return -ENOMEM;
	ret = fill_node(r, e, n);
	if (ret)
		return ret;
	if (!d)
		return add_dentry(r, dir, name, n);
	if (r->o->aufs && erofs_ovlfs_is_whiteout(d->node) && erofs_node_is_dir(n)) {
		/* a whiteout and a directory of the same name: see above */
		ret = mark_opaque(r, n);
		if (ret)
			return ret;
	}
	replace_dentry(dir, d, n);
	return 0;
}

struct walk_frame {
	struct erofs_node *dir;
	u32 next;
	size_t plen;
};

static int take_opaque_marker(struct tar_read *r, struct erofs_node *dir)
{
	static const char y = 'y';

	if (!r->o->aufs ||
	    erofs_dir_remove(r->tree, dir, AUFS_OPAQUE, strlen(AUFS_OPAQUE)))
		return 0;
	dir->opaque = true;
	return erofs_xattr_set(r->xt, dir, EROFS_OVL_OPAQUE_XATTR, &y, 1);
}

/*
 * Like erofs-utils, a directory holding whiteouts made from aufs ones gets
 * an empty trusted.overlay.origin: overlayfs then never lists it directly
 * (kernel commit b79e05aaa166), which would show the whiteouts where the
 * directory is not merged with a lower one.
 */
static int mark_whiteout_dir(struct tar_read *r, struct erofs_node *dir)
{
	for (u32 i = 0; i < dir->ndents; i++)
		if (erofs_ovlfs_is_whiteout(dir->dents[i].node))
			return erofs_xattr_set(r->xt, dir,
					       EROFS_OVL_ORIGIN_XATTR, "", 0);
	return 0;
}

/*
 * After the last entry: turn opaque markers into xattrs and mark
 * directories holding whiteouts, apply the exclusion rules the way the
 * directory scan does (a path and everything below it), give every node
 * its first name in tree order, and drop the xattrs of nodes that later
 * entries replaced so that they count for nothing. nlink serves as the
 * reachability count here; finalize recomputes it.
 */
static int settle_tree(struct tar_read *r)
{
	const struct erofs_exclude *ex = r->o->source->exclude;
	struct walk_frame *stack = NULL;
	size_t depth = 0;
	u64 cap = 0, pcap = PATH_MAX;
	char *path = malloc(pcap);
	int ret = 0;

	if (!path)
		return -ENOMEM;
	for (struct erofs_node *n = r->tree->alloc_list; n; n = n->next_alloc) {
		n->nlink = 0;
		n->name = NULL;
		n->name_dir = NULL;
	}
	r->tree->root->nlink = 1;
	ret = take_opaque_marker(r, r->tree->root);
	path[0] = '\0';
	if (!ret) {
		ret = erofs_grow_array(&stack, &cap, 1, sizeof(*stack));
		if (!ret)
			stack[depth++] = (struct walk_frame){ r->tree->root, 0, 0 };
	}
	while (!ret && depth) {
		struct walk_frame *f = &stack[depth - 1];
		struct erofs_dentry *d;
		struct erofs_node *c;
		size_t plen;

		if (f->next >= f->dir->ndents) {
			if (r->o->aufs && !r->o->ovlfs_strip)
				ret = mark_whiteout_dir(r, f->dir);
			depth--;
			continue;
		}
		d = &f->dir->dents[f->next];
		plen = f->plen + (f->plen ? 1 : 0) + d->namelen;
		ret = erofs_grow_array(&path, &pcap, plen + 1, 1);
		if (ret)
			break;
		if (f->plen)
			path[f->plen] = '/';
		memcpy(path + f->plen + (f->plen ? 1 : 0), d->name, d->namelen);
		path[plen] = '\0';
		if (ex && erofs_exclude_match(ex, path)) {
			/* the last entry moves here: look at this slot again */
			ret = erofs_dir_remove(r->tree, f->dir, d->name,
					       d->namelen);
			continue;
		}
		f->next++;
		c = d->node;
		if (!c->name) {
			c->name = d->name;
			c->name_dir = f->dir;
		}
		if (c->nlink++ || !erofs_node_is_dir(c))
			continue;
		c->parent = f->dir;
		ret = take_opaque_marker(r, c);
		if (ret)
			break;
		ret = erofs_grow_array(&stack, &cap, depth + 1, sizeof(*stack));
		if (ret)
			break;
		stack[depth++] = (struct walk_frame){ c, 0, plen };
	}
	free(stack);
	free(path);
	if (ret)
		return ret;
	for (struct erofs_node *n = r->tree->alloc_list; n; n = n->next_alloc)
		if (!n->nlink)
			erofs_tar_meta_drop_xattrs(r->xt, n);
	return 0;
}

static int read_archive(struct tar_read *r)
{
	struct archive_entry *e;
	int ret;

	for (;;) {
		const char *warning;

		archive_clear_error(r->a);
		ret = archive_read_next_header(r->a, &e);
		if (ret == ARCHIVE_EOF)
			break;
		/* RETRY: libarchive skipped a header it found damaged */
		if (ret < ARCHIVE_WARN || ret == ARCHIVE_RETRY)
			return header_fail(r, r->last_end, NULL);
		r->entry_pos = archive_read_header_position(r->a);
		r->entry = archive_entry_pathname(e);
		if (!r->entry) {
			static const char msg[] = "entry without a usable path";
			const char *cause;
			char pos[128];

			stream_pos(r, pos, sizeof(pos));
			cause = stream_cause(r, msg);
			if (cause)
				return erofs_fail(-EIO, "%s: %s; before that was found: %s (%s)",
						  r->name, cause, msg, pos);
			return header_fail(r, r->last_end, msg);
		}
		warning = archive_error_string(r->a);
		ret = set_what(r);
		if (ret)
			return ret;
		/*
		 * libarchive says an ACL in text form (SCHILY.acl.*) did not
		 * parse only by leaving this message: the entry would lose its
		 * ACL without a word.
		 */
		if (warning && strstr(warning, ".acl."))
			return erofs_fail(-EINVAL, "%s: its ACL does not parse (libarchive: %s)",
					  r->what, warning);
		/* names that are not valid in the C locale: kept as bytes */
		if (warning)
			erofs_dbg("%s: %s", r->what, warning);
		ret = add_entry(r, e);
		if (ret) {
			if (!erofs_last_error())
				entry_fail(r, ret, "%s", strerror(-ret));
			return ret;
		}
		/* consume any data left (and the padding): see last_end */
		if (archive_read_data_skip(r->a) < ARCHIVE_WARN)
			return archive_fail(r, r->a);
		r->last_end = archive_filter_bytes(r->a, 0);
		free(r->prev_entry);
		r->prev_entry = strdup(r->entry);
		r->entry = NULL;
		if (!r->prev_entry)
			return -ENOMEM;
		if (!(++r->nentries & 255))
			progress(r);
	}
	/*
	 * libarchive accepts a stream that stops at an entry boundary (some
	 * writers omit the end marker); a layer cut there would silently
	 * lose files, so the two zero blocks are required.
	 */
	if (r->prev_entry && archive_filter_bytes(r->a, 0) == r->last_end) {
		char pos[128];

		stream_pos(r, pos, sizeof(pos));
		return erofs_fail(-EIO, "%s: truncated archive: no end-of-archive marker after entry '%s' (%s)",
				  r->name, r->prev_entry, pos);
	}
	return stream_drain(r);
}

bool erofs_tar_supported(void)
{
	return true;
}

int erofs_source_tar_read(struct erofs_tree *tree, const char *tarball,
			  const struct erofs_tar_opts *opts,
			  struct erofs_tar_info *info)
{
	struct tar_read r = {
		.tree = tree,
		.o = opts,
		.xt = opts->source->xattrs,
		.fd = -1,
		.meta = {
			.xt = opts->source->xattrs,
			.read_xattrs = opts->source->read_xattrs,
		},
	};
	int ret, ret2;

	if (tree->root)
		return erofs_fail(-EINVAL, "tar source: the tree is not empty");
	r.place_next = (u64)opts->place_start << opts->blkszbits;
	tree->root = implied_dir(&r);
	if (!tree->root)
		return -ENOMEM;
	ret = spool_open(opts->image_path, &tree->spool_fd);
	if (!ret)
		ret = archive_setup(&r, tarball);
	if (!ret && opts->place_out && opts->fingerprints)
		ret = erofs_tar_hash_start(&r.hash, opts->place_out);
	if (!ret && opts->index && opts->fingerprints) {
		/*
		 * A tar file is hashed later, by the data pass's threads; a
		 * stream has to be hashed as it goes by.
		 */
		if (erofs_tar_stream_seekable(r.stream)) {
			tree->ext_fd = fcntl(r.fd, F_DUPFD_CLOEXEC, 0);
			if (tree->ext_fd < 0)
				ret = erofs_fail(-errno, "%s: %s", r.name,
						 strerror(errno));
		} else {
			ret = erofs_sha256_init(&r.sha);
		}
	}
	if (!ret)
		ret = read_archive(&r);
	ret2 = erofs_tar_hash_finish(r.hash, ret != 0);
	if (!ret)
		ret = ret2;
	erofs_progress_done();
	/* a trailing hole of the last file still has to read as zeroes */
	if (!ret && ftruncate(tree->spool_fd, r.spool_end))
		ret = erofs_fail(-errno, "spool file: %s", strerror(errno));
	if (!ret)
		ret = settle_tree(&r);
	if (info) {
		info->end = r.last_end;
		info->place_end = r.place_next >> opts->blkszbits;
	}
	if (r.sha.ctx)
		erofs_sha256_free(&r.sha);
	erofs_headerball_free(r.hb);
	if (r.a)
		archive_read_free(r.a);
	if (erofs_tar_stream_close(r.stream) && !ret)
		ret = -EIO;
	if (r.own_fd)
		close(r.fd);
	free(r.path.buf);
	free(r.path.comp);
	free(r.link.buf);
	free(r.link.comp);
	free(r.prev_entry);
	free(r.what);
	return ret;
}

#else /* !HAVE_LIBARCHIVE */

bool erofs_tar_supported(void)
{
	return false;
}

int erofs_source_tar_read(struct erofs_tree *tree, const char *tarball,
			  const struct erofs_tar_opts *opts,
			  struct erofs_tar_info *info)
{
	return erofs_fail(-EOPNOTSUPP, "--tar: built without libarchive");
}

#endif
