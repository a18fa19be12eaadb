// SPDX-License-Identifier: GPL-2.0-or-later
/* Tree walk with loop, depth and hard link tracking. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "erofs/array.h"
#include "erofs/dir_read.h"
#include "erofs/format.h"
#include "erofs/inode_read.h"
#include "erofs/tree.h" /* erofs_mode_to_ftype() */
#include "erofs/walk.h"

/* nid -> (link count seen, first path): open addressing, linear probing */
struct nid_map {
	u64 *keys; /* nid + 1; 0 marks a free slot */
	u32 *counts;
	char **first;
	u64 cap, used;
};

static u64 nid_hash(u64 nid)
{
	nid ^= nid >> 33;
	nid *= 0xff51afd7ed558ccdULL;
	nid ^= nid >> 33;
	return nid;
}

static void map_free(struct nid_map *m)
{
	if (m->first)
		for (u64 i = 0; i < m->cap; i++)
			free(m->first[i]);
	free(m->keys);
	free(m->counts);
	free(m->first);
	memset(m, 0, sizeof(*m));
}

static int map_grow(struct nid_map *m, bool with_paths)
{
	struct nid_map n = { .cap = m->cap ? m->cap * 2 : 1024 };

	n.keys = calloc(n.cap, sizeof(*n.keys));
	n.counts = calloc(n.cap, sizeof(*n.counts));
	if (with_paths)
		n.first = calloc(n.cap, sizeof(*n.first));
	if (!n.keys || !n.counts || (with_paths && !n.first)) {
		map_free(&n);
		return -ENOMEM;
	}
	for (u64 i = 0; i < m->cap; i++) {
		u64 j;

		if (!m->keys[i])
			continue;
		for (j = nid_hash(m->keys[i]) & (n.cap - 1); n.keys[j];
		     j = (j + 1) & (n.cap - 1))
			;
		n.keys[j] = m->keys[i];
		n.counts[j] = m->counts[i];
		if (with_paths)
			n.first[j] = m->first[i];
	}
	n.used = m->used;
	free(m->keys);
	free(m->counts);
	free(m->first);
	*m = n;
	return 0;
}

/* The slot of "nid", inserted with count 0 if new; -ENOMEM. */
static s64 map_slot(struct nid_map *m, erofs_nid_t nid, bool with_paths)
{
	u64 j;

	if ((m->used + 1) * 2 > m->cap && map_grow(m, with_paths))
		return -ENOMEM;
	for (j = nid_hash(nid + 1) & (m->cap - 1); m->keys[j];
	     j = (j + 1) & (m->cap - 1))
		if (m->keys[j] == nid + 1)
			return j;
	m->keys[j] = nid + 1;
	m->used++;
	return j;
}

struct frame {
	struct erofs_dir_cursor cur;
	erofs_nid_t parent_nid;
	size_t path_len; /* of this directory's path */
	size_t rel_off; /* where relpath starts in the path buffer */
	u8 file_type;
	bool dot, dotdot; /* seen */
	bool damaged; /* a block could not be read or parsed */
	u32 subdirs;
};

struct walker {
	struct erofs_image *img;
	const struct erofs_walk_ops *ops;
	void *arg;
	struct erofs_walk_stats *stats;
	struct nid_map dirs, files;
	/*
	 * Files with one link, seen already: a bit per nid the image can
	 * have (its untouched pages cost nothing), where a map entry per
	 * file cost 40 bytes. Files with more links are in "files".
	 */
	u8 *once;
	u64 once_bits;
	bool once_failed;
	struct frame *frames;
	unsigned int depth;
	u64 frames_cap;
	char *path;
	u64 path_cap;
	size_t start_len; /* path length of the start */
	bool full; /* from the root: every link is seen */
};

static void __printf(5, 6) problem(struct walker *w, const char *path,
				   erofs_nid_t nid, int err, const char *fmt,
				   ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	w->stats->problems++;
	if (w->ops->problem)
		w->ops->problem(w->arg, path, nid, err, msg);
}

static int path_reserve(struct walker *w, size_t len)
{
	return erofs_grow_array(&w->path, &w->path_cap, len + 1, 1);
}

static const char *relpath_at(struct walker *w, size_t len)
{
	/* the start is "", children follow the start's path and a '/' */
	if (len <= w->start_len)
		return w->path + len;
	return w->path + w->start_len + (w->start_len > 1 ? 1 : 0);
}

static void dir_done(struct walker *w, struct frame *f, erofs_nid_t nid)
{
	const struct erofs_rinode *ri = &f->cur.dir;
	bool omitted = ri->i.format_flags & (1 << EROFS_I_DOT_OMITTED_BIT);
	char *path = w->path;

	path[f->path_len] = '\0';
	if (f->damaged)
		return;
	if (!f->dot && !omitted)
		problem(w, path, nid, 0, "nid %llu: directory has no '.' entry",
			(unsigned long long)nid);
	if (!f->dotdot)
		problem(w, path, nid, 0,
			"nid %llu: directory has no '..' entry",
			(unsigned long long)nid);
	if (ri->i.nlink != 2 + f->subdirs && ri->i.nlink != 1)
		problem(w, path, nid, 0,
			"nid %llu: directory link count %u, expected %u",
			(unsigned long long)nid, ri->i.nlink, 2 + f->subdirs);
}

static int push_dir(struct walker *w, const struct erofs_rinode *ri,
		    erofs_nid_t parent, size_t path_len, u8 ftype)
{
	struct frame *f;
	int ret;

	ret = erofs_grow_array(&w->frames, &w->frames_cap, w->depth + 1,
			       sizeof(*w->frames));
	if (ret)
		return ret;
	f = &w->frames[w->depth];
	memset(f, 0, sizeof(*f));
	ret = erofs_dir_open(&f->cur, w->img, ri);
	if (ret)
		return ret;
	f->parent_nid = parent;
	f->path_len = path_len;
	f->file_type = ftype;
	w->depth++;
	return 0;
}

static int leave_dir(struct walker *w)
{
	struct frame *f = &w->frames[w->depth - 1];
	struct erofs_walk_entry e = { 0 };
	int ret = 0;

	dir_done(w, f, f->cur.dir.nid);
	if (w->ops->leave) {
		char *slash = strrchr(w->path, '/');

		e.path = w->path;
		e.relpath = relpath_at(w, f->path_len);
		e.name = w->depth == 1 ? "" : (slash ? slash + 1 : w->path);
		e.nid = f->cur.dir.nid;
		e.parent_nid = f->parent_nid;
		e.depth = w->depth - 1;
		e.file_type = f->file_type;
		e.inode = &f->cur.dir;
		ret = w->ops->leave(w->arg, &e);
	}
	erofs_dir_close(&f->cur);
	w->depth--;
	if (w->depth)
		w->path[w->frames[w->depth - 1].path_len] = '\0';
	return ret;
}

static int check_dot(struct walker *w, struct frame *f,
		     const struct erofs_rdirent *d)
{
	erofs_nid_t self = f->cur.dir.nid;

	if (d->name_len == 1) {
		f->dot = true;
		if (f->cur.dir.i.format_flags & (1 << EROFS_I_DOT_OMITTED_BIT))
			problem(w, w->path, self, -EFSCORRUPTED,
				"nid %llu: '.' is stored in a directory marked as omitting it",
				(unsigned long long)self);
		if (d->nid != self)
			problem(w, w->path, self, -EFSCORRUPTED,
				"nid %llu: '.' points to nid %llu instead of the directory itself",
				(unsigned long long)self,
				(unsigned long long)d->nid);
		return 0;
	}
	f->dotdot = true;
	/* the parent of a subtree's start is not known */
	if (w->depth == 1 && !w->full)
		return 0;
	if (d->nid != f->parent_nid)
		problem(w, w->path, self, -EFSCORRUPTED,
			"nid %llu: '..' points to nid %llu instead of the parent nid %llu",
			(unsigned long long)self, (unsigned long long)d->nid,
			(unsigned long long)f->parent_nid);
	return 0;
}

static int visit_child(struct walker *w, struct frame *f,
		       const struct erofs_rdirent *d)
{
	struct erofs_walk_entry e = { 0 };
	struct erofs_rinode ri;
	size_t base = f->path_len, len;
	const char *why = "";
	s64 slot = -1;
	int ret;

	/* "/" + name, except right after the root's "/" */
	len = base + (w->path[base - 1] != '/') + d->name_len;
	ret = path_reserve(w, len);
	if (ret)
		return ret;
	if (w->path[base - 1] != '/')
		w->path[base++] = '/';
	memcpy(w->path + base, d->name, d->name_len);
	w->path[len] = '\0';
	w->stats->entries++;

	ret = erofs_read_inode(w->img, d->nid, &ri, &why);
	if (ret) {
		problem(w, w->path, d->nid, ret, "nid %llu: %s",
			(unsigned long long)d->nid, why);
		return 0;
	}
	if (erofs_mode_to_ftype(ri.i.mode) != d->file_type)
		problem(w, w->path, d->nid, -EFSCORRUPTED,
			"nid %llu: directory entry says file type %u, the inode has mode 0%o",
			(unsigned long long)d->nid, d->file_type, ri.i.mode);

	e.path = w->path;
	e.relpath = relpath_at(w, len);
	e.name = w->path + base;
	e.nid = d->nid;
	e.parent_nid = f->cur.dir.nid;
	e.depth = w->depth;
	e.file_type = d->file_type;
	e.inode = &ri;

	if (S_ISDIR(ri.i.mode)) {
		slot = map_slot(&w->dirs, d->nid, false);
		if (slot < 0)
			return slot;
		if (w->dirs.counts[slot]++) {
			problem(w, w->path, d->nid, -EFSCORRUPTED,
				"nid %llu: directory reached a second time (a loop or a hard-linked directory)",
				(unsigned long long)d->nid);
			return 0;
		}
		f->subdirs++;
		if (w->depth >= EROFS_WALK_MAX_DEPTH) {
			problem(w, w->path, d->nid, -EOPNOTSUPP,
				"nid %llu: directories nested deeper than %u levels are not followed",
				(unsigned long long)d->nid,
				EROFS_WALK_MAX_DEPTH);
			return 0;
		}
		w->stats->inodes++;
		w->stats->dirs++;
		ret = w->ops->visit(w->arg, &e);
		if (ret < 0)
			return ret;
		if (ret == EROFS_WALK_SKIP)
			return 0;
		return push_dir(w, &ri, f->cur.dir.nid, len, d->file_type);
	}

	if (ri.i.nlink == 1 && !w->once && !w->once_failed) {
		w->once_bits = (w->img->size >> EROFS_ISLOTBITS) + 1;
		w->once = calloc(DIV_ROUND_UP(w->once_bits, 8), 1);
		w->once_failed = !w->once;
	}
	if (ri.i.nlink == 1 && w->once && d->nid < w->once_bits) {
		u8 bit = 1 << (d->nid & 7);

		e.seen = !!(w->once[d->nid >> 3] & bit);
		w->once[d->nid >> 3] |= bit;
		e.first_relpath = NULL;
	} else {
		slot = map_slot(&w->files, d->nid, true);
		if (slot < 0)
			return slot;
		e.seen = w->files.counts[slot]++;
		e.first_relpath = w->files.first[slot];
	}
	if (e.seen && e.seen == ri.i.nlink)
		problem(w, w->path, d->nid, 0,
			"nid %llu: more directory entries refer to it than its link count %u",
			(unsigned long long)d->nid, ri.i.nlink);
	if (!e.seen) {
		w->stats->inodes++;
		if (ri.i.nlink > 1 && slot >= 0) {
			w->files.first[slot] = strdup(e.relpath);
			if (!w->files.first[slot])
				return -ENOMEM;
		}
	}
	ret = w->ops->visit(w->arg, &e);
	return ret < 0 ? ret : 0;
}

static int walk_loop(struct walker *w)
{
	while (w->depth) {
		struct frame *f = &w->frames[w->depth - 1];
		struct erofs_rdirent d;
		const char *why = "";
		int ret;

		w->path[f->path_len] = '\0';
		ret = erofs_dir_next(&f->cur, &d, &why);
		if (ret < 0) {
			f->damaged = true;
			if (ret == -ENOMEM)
				return ret;
			problem(w, w->path, f->cur.dir.nid, ret, "nid %llu: %s",
				(unsigned long long)f->cur.dir.nid, why);
			ret = 0;
		}
		if (!ret) {
			ret = leave_dir(w);
			if (ret < 0)
				return ret;
			continue;
		}
		if (erofs_dirent_is_dot(&d)) {
			check_dot(w, f, &d);
			continue;
		}
		ret = visit_child(w, f, &d);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Link counts can only be judged when the whole tree was read intact. */
static void check_links(struct walker *w)
{
	for (u64 i = 0; i < w->files.cap; i++) {
		struct erofs_rinode ri;
		const char *why;
		erofs_nid_t nid;

		if (!w->files.keys[i])
			continue;
		nid = w->files.keys[i] - 1;
		if (erofs_read_inode(w->img, nid, &ri, &why))
			continue;
		/* too many entries were reported where they were found */
		if (ri.i.nlink <= w->files.counts[i])
			continue;
		problem(w, w->files.first[i] ? w->files.first[i] : "", nid, 0,
			"nid %llu: link count %u, but only %u directory entries refer to it",
			(unsigned long long)nid, ri.i.nlink,
			w->files.counts[i]);
	}
}

int erofs_walk(struct erofs_image *img, erofs_nid_t start,
	       const char *start_path, const struct erofs_walk_ops *ops,
	       void *arg, struct erofs_walk_stats *stats)
{
	struct erofs_walk_stats dummy;
	struct walker w = {
		.img = img,
		.ops = ops,
		.arg = arg,
		.stats = stats ? stats : &dummy,
		.full = start == img->sb.root_nid,
	};
	struct erofs_walk_entry e = { 0 };
	struct erofs_rinode ri;
	const char *why = "";
	char fallback[48];
	s64 slot;
	int ret;

	memset(w.stats, 0, sizeof(*w.stats));
	if (!start_path) {
		snprintf(fallback, sizeof(fallback), w.full ? "/" : "<nid %llu>",
			 (unsigned long long)start);
		start_path = fallback;
	}
	w.start_len = strlen(start_path);
	ret = path_reserve(&w, w.start_len);
	if (ret)
		return ret;
	memcpy(w.path, start_path, w.start_len + 1);

	ret = erofs_read_inode(img, start, &ri, &why);
	if (ret) {
		problem(&w, w.path, start, ret, "nid %llu: %s",
			(unsigned long long)start, why);
		ret = 0;
		goto out;
	}
	if (w.full && !S_ISDIR(ri.i.mode)) {
		problem(&w, w.path, start, -EFSCORRUPTED,
			"nid %llu: the root is not a directory (mode 0%o)",
			(unsigned long long)start, ri.i.mode);
		goto out;
	}
	e.path = w.path;
	e.relpath = "";
	e.name = "";
	e.nid = start;
	e.parent_nid = start;
	e.file_type = erofs_mode_to_ftype(ri.i.mode);
	e.inode = &ri;
	w.stats->inodes++;
	w.stats->entries++;
	if (S_ISDIR(ri.i.mode)) {
		slot = map_slot(&w.dirs, start, false);
		if (slot < 0) {
			ret = slot;
			goto out;
		}
		w.dirs.counts[slot]++;
		w.stats->dirs++;
	}
	ret = ops->visit(arg, &e);
	if (ret < 0)
		goto out;
	if (S_ISDIR(ri.i.mode) && ret != EROFS_WALK_SKIP) {
		ret = push_dir(&w, &ri, start, w.start_len, e.file_type);
		if (!ret)
			ret = walk_loop(&w);
		if (ret < 0)
			goto out;
	}
	ret = 0;
	if (w.full && !w.stats->problems)
		check_links(&w);
out:
	while (w.depth) {
		erofs_dir_close(&w.frames[w.depth - 1].cur);
		w.depth--;
	}
	free(w.frames);
	free(w.path);
	map_free(&w.dirs);
	map_free(&w.files);
	free(w.once);
	return ret;
}
