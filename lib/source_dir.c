// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Directory source: scan a directory tree into the in-memory tree. Every
 * entry is looked at through the descriptor of its directory, and every
 * directory and file is opened again beneath the source root's descriptor
 * without following symlinks, then checked to be what the scan saw: a
 * user who can write somewhere in the source cannot swap a directory for
 * a symlink and have files from elsewhere read in its place.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "erofs/array.h"
#include "erofs/error.h"
#include "erofs/format.h"
#include "erofs/io.h"
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
	int rootfd; /* the source directory */
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

/* What the directory entry being looked at turned out to be. */
struct entry {
	char *name;
	struct stat st;
	struct erofs_node *node; /* a directory to descend into, or NULL */
};

static int file_source(struct scan *s, struct erofs_node *n, const char *path,
		       const struct stat *st)
{
	size_t len = strlen(path);
	struct erofs_src_file *f = malloc(sizeof(*f) + len + 1);

	if (!f)
		return -ENOMEM;
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	f->rel = s->srclen + 1;
	memcpy(f->path, path, len + 1);
	n->src.file = f;
	return 0;
}

#ifndef SYS_listxattrat
#define SYS_listxattrat 465 /* Linux 6.13, the same on every architecture */
#endif

/*
 * Whether entry "name" of "dfd" may have xattrs: most files have none,
 * and asking by name costs half of opening the file to ask.
 */
static bool may_have_xattrs(int dfd, const char *name, const char *path)
{
	static volatile bool no_listxattrat;
	ssize_t n = -1;

	if (!no_listxattrat) {
		n = syscall(SYS_listxattrat, dfd, name, AT_SYMLINK_NOFOLLOW,
			    NULL, 0);
		if (n < 0 && errno == ENOSYS)
			no_listxattrat = true;
	}
	if (no_listxattrat)
		n = llistxattr(path, NULL, 0);
	return n > 0 || (n < 0 && errno != ENOTSUP);
}

/*
 * The xattrs of entry "name" of "dfd", read from the file "st" describes:
 * through a descriptor that is checked to hold that very file.
 */
static int read_xattrs(struct scan *s, struct erofs_node *n, int dfd,
		       const char *name, const char *path,
		       const struct stat *st)
{
	struct stat now;
	int fd, ret;

	if (!may_have_xattrs(dfd, name, path))
		return 0;
	fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return erofs_fail(-errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &now)) {
		ret = erofs_fail(-errno, "%s: %s", path, strerror(errno));
	} else if (now.st_dev != st->st_dev || now.st_ino != st->st_ino) {
		ret = erofs_fail(-EAGAIN, "%s: replaced while being scanned",
				 path);
	} else {
		ret = erofs_xattr_read_file(s->o->xattrs, n, fd, path);
	}
	close(fd);
	return ret;
}

/*
 * Fill "n" from entry "name" of the directory open as "dfd" (the root:
 * "." of itself), "st" being what fstatat() said of it.
 */
static int fill_node(struct scan *s, struct erofs_node *n, const char *path,
		     int dfd, const char *name, const struct stat *st)
{
	int ret;

	n->uid = st->st_uid;
	n->gid = st->st_gid;
	n->mtime = st->st_mtim.tv_sec;
	n->mtime_nsec = st->st_mtim.tv_nsec;

	switch (st->st_mode & S_IFMT) {
	case S_IFREG:
		n->size = st->st_size;
		if (n->size) {
			n->data_kind = EROFS_DATA_FILE;
			ret = file_source(s, n, path, st);
			if (ret)
				return ret;
			n->maybe_sparse =
				(u64)st->st_blocks * 512 < (u64)st->st_size;
		}
		break;
	case S_IFLNK: {
		char *target = malloc(st->st_size + 1);
		ssize_t len;

		if (!target)
			return -ENOMEM;
		len = readlinkat(dfd, name, target, st->st_size + 1);
		if (len < 0 || len > st->st_size) {
			free(target);
			return erofs_fail(len < 0 ? -errno : -EAGAIN,
					  "%s: cannot read symlink: %s", path,
					  len < 0 ? strerror(errno) :
						    "it changed while being read");
		}
		if (len > EROFS_SYMLINK_MAXLEN) {
			free(target);
			return erofs_fail(-ENAMETOOLONG,
					  "%s: symlink target longer than %d bytes",
					  path, EROFS_SYMLINK_MAXLEN);
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
		return read_xattrs(s, n, dfd, name, path, st);
	return 0;
}

static int scan_dir(struct scan *s, struct erofs_node *dir, char *path,
		    size_t len, size_t cap, int dfd);

/*
 * Look at entry "e" of the directory open as "dfd" ("path" ends with that
 * directory, "len" bytes of it) and add it to "dir". A directory found is
 * left in e->node to be descended into once "dfd" is closed.
 */
static int add_entry(struct scan *s, struct erofs_node *dir, char *path,
		     size_t len, size_t cap, int dfd, struct entry *e)
{
	const char *name = e->name;
	size_t nlen = strlen(name);
	struct erofs_node *n, **linked = NULL;
	struct stat *st = &e->st;
	int ret;

	if (len + 1 + nlen + 1 > cap)
		return erofs_fail(-ENAMETOOLONG, "%s/%s: path too long", path,
				  name);
	path[len] = '/';
	memcpy(path + len + 1, name, nlen + 1);

	if (s->o->exclude && erofs_exclude_match(s->o->exclude,
						 path + s->srclen))
		goto out;
	if (fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW)) {
		ret = erofs_fail(-errno, "%s: %s", path, strerror(errno));
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
	ret = fill_node(s, n, path, dfd, name, st);
	if (ret)
		goto fail;
	ret = erofs_dir_add(s->tree, dir, name, nlen, n);
	if (ret)
		goto done;
	if ((++s->scanned & 1023) == 0)
		erofs_progress("scanning files", s->scanned, s->scanned);
	if (S_ISDIR(st->st_mode))
		e->node = n;
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

/*
 * Open directory "path" again beneath the source root: a descriptor, once
 * it is the directory "st" describes.
 */
static int open_subdir(struct scan *s, const char *path, const struct stat *st)
{
	struct stat now;
	int fd;

	fd = erofs_open_beneath(s->rootfd, path + s->srclen + 1,
				O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return erofs_fail(fd, "%s: cannot open directory: %s%s", path,
				  strerror(-fd),
				  fd == -ELOOP || fd == -ENOTDIR || fd == -EXDEV ?
					  " (replaced since it was scanned?)" :
					  "");
	if (fstat(fd, &now)) {
		int ret = -errno;

		close(fd);
		return erofs_fail(ret, "%s: %s", path, strerror(-ret));
	}
	if (now.st_dev != st->st_dev || now.st_ino != st->st_ino) {
		close(fd);
		return erofs_fail(-EAGAIN,
				  "%s: replaced by another directory while the source was scanned",
				  path);
	}
	return fd;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name,
		      ((const struct entry *)b)->name);
}

/* Scan the directory open as "dfd" (closed here) into "dir". */
static int scan_dir(struct scan *s, struct erofs_node *dir, char *path,
		    size_t len, size_t cap, int dfd)
{
	struct entry *ents = NULL;
	size_t n = 0;
	u64 ncap = 0;
	struct dirent *de;
	DIR *d;
	int ret = 0;

	d = fdopendir(dfd);
	if (!d) {
		ret = -errno;
		close(dfd);
		return erofs_fail(ret, "%s: cannot open directory: %s", path,
				  strerror(-ret));
	}
	errno = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		ret = erofs_grow_array(&ents, &ncap, n + 1, sizeof(*ents));
		if (ret)
			goto out;
		ents[n].name = strdup(de->d_name);
		ents[n].node = NULL;
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
	/* a stable order makes the scan, and hardlink choice, reproducible */
	if (n > 1) /* an empty directory has no array at all */
		qsort(ents, n, sizeof(*ents), entry_cmp);
	for (size_t i = 0; i < n && !ret; i++)
		ret = add_entry(s, dir, path, len, cap, dirfd(d), &ents[i]);
	/* all entries are in: no descriptor stays open below */
	closedir(d);
	d = NULL;
	for (size_t i = 0; i < n && !ret; i++) {
		size_t nlen = strlen(ents[i].name);
		int fd;

		if (!ents[i].node)
			continue;
		path[len] = '/';
		memcpy(path + len + 1, ents[i].name, nlen + 1);
		fd = open_subdir(s, path, &ents[i].st);
		ret = fd < 0 ? fd :
			       scan_dir(s, ents[i].node, path, len + 1 + nlen,
					cap, fd);
		path[len] = '\0';
	}
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
	int ret, fd;

	fd = open(srcdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return erofs_fail(-errno, "%s: %s", srcdir,
				  errno == ENOTDIR ? "not a directory" :
						     strerror(errno));
	if (fstat(fd, &st)) {
		ret = -errno;
		close(fd);
		return erofs_fail(ret, "%s: %s", srcdir, strerror(-ret));
	}
	if (tree->src_dirfd >= 0)
		close(tree->src_dirfd);
	tree->src_dirfd = s.rootfd = fd;
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
	ret = tree->root ? fill_node(&s, tree->root, path, fd, ".", &st) :
			   -ENOMEM;
	if (!ret) {
		fd = fcntl(s.rootfd, F_DUPFD_CLOEXEC, 0);
		ret = fd < 0 ? erofs_fail(-errno, "%s: %s", srcdir,
					  strerror(errno)) :
			       scan_dir(&s, tree->root, path, s.srclen, cap, fd);
	}
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

int erofs_source_open_file(const struct erofs_tree *tree,
			   const struct erofs_node *n, struct stat *st)
{
	const struct erofs_src_file *f = n->src.file;
	int fd;

	if (tree->src_dirfd < 0)
		return erofs_fail(-EBADF, "%s: internal: no source directory",
				  f->path);
	/* O_NONBLOCK: a FIFO swapped in must not hang the build */
	fd = erofs_open_beneath(tree->src_dirfd, f->path + f->rel,
				O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return erofs_fail(fd, "%s: cannot open: %s%s", f->path,
				  strerror(-fd),
				  fd == -ELOOP || fd == -ENOTDIR || fd == -EXDEV ?
					  " (a symlink where the scan saw a directory or file?)" :
					  "");
	if (fstat(fd, st)) {
		int ret = -errno;

		close(fd);
		return erofs_fail(ret, "%s: %s", f->path, strerror(-ret));
	}
	if (!S_ISREG(st->st_mode) || st->st_dev != f->dev ||
	    st->st_ino != f->ino) {
		close(fd);
		return erofs_fail(-EAGAIN,
				  "%s: not the file that was scanned (replaced since)",
				  f->path);
	}
	return fd;
}
