// SPDX-License-Identifier: GPL-2.0-or-later
/* Directory source: scan a directory tree into the in-memory tree. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "erofs/error.h"
#include "erofs/format.h"
#include "erofs/source.h"

struct link_slot {
	dev_t dev;
	ino_t ino;
	struct erofs_node *node;
	struct link_slot *next;
};

struct scan {
	struct erofs_tree *tree;
	const struct erofs_source_opts *o;
	struct link_slot **links; /* hardlinked files seen so far */
	size_t nlinks_buckets;
	size_t srclen; /* length of the source dir prefix in paths */
	u64 scanned;
};

static struct erofs_node **link_find(struct scan *s, dev_t dev, ino_t ino)
{
	size_t h = ((size_t)dev * 31 + (size_t)ino) % s->nlinks_buckets;
	struct link_slot *l;

	for (l = s->links[h]; l; l = l->next)
		if (l->dev == dev && l->ino == ino)
			return &l->node;
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->dev = dev;
	l->ino = ino;
	l->next = s->links[h];
	s->links[h] = l;
	return &l->node;
}

static int fill_node(struct scan *s, struct erofs_node *n, const char *path,
		     const struct stat *st)
{
	n->uid = st->st_uid;
	n->gid = st->st_gid;
	n->mtime = st->st_mtim.tv_sec;
	n->mtime_nsec = st->st_mtim.tv_nsec;

	switch (st->st_mode & S_IFMT) {
	case S_IFREG:
		n->size = st->st_size;
		if (n->size) {
			n->data_kind = EROFS_DATA_FILE;
			n->src.path = strdup(path);
			if (!n->src.path)
				return -ENOMEM;
			n->maybe_sparse =
				(u64)st->st_blocks * 512 < (u64)st->st_size;
		}
		break;
	case S_IFLNK: {
		char *target = malloc(st->st_size + 1);
		ssize_t len;

		if (!target)
			return -ENOMEM;
		len = readlink(path, target, st->st_size + 1);
		if (len < 0 || len > st->st_size) {
			free(target);
			return erofs_fail(len < 0 ? -errno : -EAGAIN,
					  "%s: cannot read symlink: %s", path,
					  len < 0 ? strerror(errno) :
						    "it changed while being read");
		}
		if (len >= 4096) {
			free(target);
			return erofs_fail(-ENAMETOOLONG,
					  "%s: symlink target longer than 4095 bytes",
					  path);
		}
		n->data_kind = EROFS_DATA_MEM;
		n->src.mem = target;
		n->size = len;
		break;
	}
	case S_IFCHR:
	case S_IFBLK:
		n->rdev = erofs_encode_dev(major(st->st_rdev),
					   minor(st->st_rdev));
		break;
	case S_IFDIR:
	case S_IFIFO:
	case S_IFSOCK:
		break;
	default:
		return erofs_fail(-EINVAL, "%s: unsupported file type", path);
	}
	if (s->o->read_xattrs)
		return erofs_xattr_read_file(s->o->xattrs, n, path);
	return 0;
}

static int scan_dir(struct scan *s, struct erofs_node *dir, char *path,
		    size_t len, size_t cap);

/* A directory entry with what fstatat() said of it (0 or an errno). */
struct entry {
	char *name;
	int err;
	struct stat st;
};

static int add_entry(struct scan *s, struct erofs_node *dir, char *path,
		     size_t len, size_t cap, const struct entry *e)
{
	const char *name = e->name;
	size_t nlen = strlen(name);
	struct erofs_node *n, **linked = NULL;
	const struct stat *st = &e->st;
	int ret;

	if (len + 1 + nlen + 1 > cap)
		return erofs_fail(-ENAMETOOLONG, "%s/%s: path too long", path,
				  name);
	path[len] = '/';
	memcpy(path + len + 1, name, nlen + 1);

	if (s->o->exclude && erofs_exclude_match(s->o->exclude,
						 path + s->srclen))
		goto out;
	if (e->err) {
		ret = erofs_fail(-e->err, "%s: %s", path, strerror(e->err));
		goto fail;
	}
	if (!S_ISDIR(st->st_mode) && st->st_nlink > 1 &&
	    !s->o->hard_dereference) {
		linked = link_find(s, st->st_dev, st->st_ino);
		if (!linked) {
			ret = -ENOMEM;
			goto fail;
		}
		if (*linked) {
			ret = erofs_dir_add(s->tree, dir, name, nlen, *linked);
			goto done;
		}
	}
	n = erofs_node_new(s->tree, st->st_mode);
	if (!n) {
		ret = -ENOMEM;
		goto fail;
	}
	if (linked)
		*linked = n;
	ret = fill_node(s, n, path, st);
	if (ret)
		goto fail;
	ret = erofs_dir_add(s->tree, dir, name, nlen, n);
	if (ret)
		goto done;
	if ((++s->scanned & 1023) == 0)
		erofs_progress("scanning files", s->scanned, s->scanned);
	if (S_ISDIR(st->st_mode))
		ret = scan_dir(s, n, path, len + 1 + nlen, cap);
done:
	if (ret && !erofs_last_error())
		erofs_fail(ret, "%s: %s", path, strerror(-ret));
fail:
	path[len] = '\0';
	return ret;
out:
	path[len] = '\0';
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name,
		      ((const struct entry *)b)->name);
}

static int scan_dir(struct scan *s, struct erofs_node *dir, char *path,
		    size_t len, size_t cap)
{
	struct entry *ents = NULL;
	size_t n = 0, ncap = 0;
	struct dirent *de;
	DIR *d;
	int ret = 0;

	d = opendir(path);
	if (!d)
		return erofs_fail(-errno, "%s: cannot open directory: %s", path,
				  strerror(errno));
	errno = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == ncap) {
			struct entry *ne;

			ncap = ncap ? ncap * 2 : 32;
			ne = realloc(ents, ncap * sizeof(*ne));
			if (!ne) {
				ret = -ENOMEM;
				goto out;
			}
			ents = ne;
		}
		ents[n].name = strdup(de->d_name);
		if (!ents[n].name) {
			ret = -ENOMEM;
			goto out;
		}
		n++;
		errno = 0;
	}
	if (errno) {
		ret = erofs_fail(-errno, "%s: cannot read directory: %s", path,
				 strerror(errno));
		goto out;
	}
	/*
	 * Each entry is looked up from its directory rather than along its
	 * whole path, and all of them before the descent: no descriptor
	 * stays open below.
	 */
	for (size_t i = 0; i < n; i++) {
		ents[i].err = 0;
		if (fstatat(dirfd(d), ents[i].name, &ents[i].st,
			    AT_SYMLINK_NOFOLLOW))
			ents[i].err = errno;
	}
	closedir(d);
	d = NULL;
	/* a stable order makes the scan, and hardlink choice, reproducible */
	if (n > 1) /* an empty directory has no array at all */
		qsort(ents, n, sizeof(*ents), entry_cmp);
	for (size_t i = 0; i < n && !ret; i++)
		ret = add_entry(s, dir, path, len, cap, &ents[i]);
out:
	if (d)
		closedir(d);
	for (size_t i = 0; i < n; i++)
		free(ents[i].name);
	free(ents);
	return ret;
}

int erofs_source_dir_scan(struct erofs_tree *tree, const char *srcdir,
			  const struct erofs_source_opts *opts)
{
	struct scan s = { .tree = tree, .o = opts, .nlinks_buckets = 65536 };
	size_t cap = 65536;
	struct stat st;
	char *path;
	int ret;

	if (stat(srcdir, &st))
		return erofs_fail(-errno, "%s: %s", srcdir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return erofs_fail(-ENOTDIR, "%s: not a directory", srcdir);
	path = malloc(cap);
	s.links = calloc(s.nlinks_buckets, sizeof(*s.links));
	if (!path || !s.links) {
		free(path);
		free(s.links);
		return -ENOMEM;
	}
	snprintf(path, cap, "%s", srcdir);
	s.srclen = strlen(path);
	while (s.srclen > 1 && path[s.srclen - 1] == '/')
		path[--s.srclen] = '\0';

	tree->root = erofs_node_new(tree, st.st_mode);
	ret = tree->root ? fill_node(&s, tree->root, path, &st) : -ENOMEM;
	if (!ret)
		ret = scan_dir(&s, tree->root, path, s.srclen, cap);
	erofs_progress_done();
	for (size_t i = 0; i < s.nlinks_buckets; i++) {
		struct link_slot *l = s.links[i];

		while (l) {
			struct link_slot *nx = l->next;

			free(l);
			l = nx;
		}
	}
	free(s.links);
	free(path);
	return ret;
}
