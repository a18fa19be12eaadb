// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Extraction into a directory without ever leaving it: every entry is
 * created relative to its parent's descriptor without following symlinks,
 * and owner, xattrs, mode and times are set through a descriptor of the
 * object just created, never by name: another user who can write in the
 * directory and swaps an entry for a symlink changes nothing elsewhere.
 */
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "erofs/array.h"
#include "erofs/error.h"
#include "erofs/extract.h"
#include "erofs/format.h"
#include "erofs/inode_read.h"
#include "erofs/xattr_read.h"

struct erofs_extractor {
	struct erofs_image *img;
	struct erofs_extract_opts opts;
	int *fds; /* fds[d]: the directory at depth d, -1 if not made */
	unsigned int nfds;
};

int erofs_extract_open(struct erofs_extractor **xp, struct erofs_image *img,
		       const struct erofs_extract_opts *opts)
{
	struct erofs_extractor *x = calloc(1, sizeof(*x));
	struct rlimit rl;

	if (!x)
		return -ENOMEM;
	x->img = img;
	x->opts = *opts;
	/* one descriptor per directory level being extracted */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	*xp = x;
	return 0;
}

void erofs_extract_close(struct erofs_extractor *x)
{
	if (!x)
		return;
	for (unsigned int i = 0; i < x->nfds; i++)
		if (x->fds[i] >= 0)
			close(x->fds[i]);
	free(x->fds);
	free(x);
}

static int set_fd(struct erofs_extractor *x, unsigned int depth, int fd)
{
	if (depth >= x->nfds) {
		u64 n = x->nfds;

		if (erofs_grow_array(&x->fds, &n, depth + 1, sizeof(*x->fds)))
			return -ENOMEM;
		for (u64 i = x->nfds; i < n; i++)
			x->fds[i] = -1;
		x->nfds = n;
	}
	if (x->fds[depth] >= 0)
		close(x->fds[depth]);
	x->fds[depth] = fd;
	return 0;
}

static bool name_safe(const char *name)
{
	return name[0] && strlen(name) <= EROFS_NAME_LEN &&
	       !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

/* Make room for a new entry "name" in "dfd" when overwriting is allowed. */
static int remove_existing(struct erofs_extractor *x, int dfd,
			   const char *name, bool keep_dir, bool *is_dir)
{
	struct stat st;

	*is_dir = false;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW))
		return errno == ENOENT ? 0 : -errno;
	if (keep_dir && S_ISDIR(st.st_mode)) {
		*is_dir = true;
		return 0;
	}
	if (!x->opts.overwrite)
		return -EEXIST;
	if (unlinkat(dfd, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0))
		return -errno;
	return 0;
}

/* Open directory "rel" (components below "root") refusing any symlink. */
static int open_beneath(int root, const char *rel)
{
	char comp[EROFS_NAME_LEN + 1];
	int fd = dup(root);

	if (fd < 0)
		return -errno;
	while (*rel) {
		const char *end = strchrnul(rel, '/');
		size_t len = end - rel;
		int nfd;

		if (!len || len > EROFS_NAME_LEN) {
			close(fd);
			return -EINVAL;
		}
		memcpy(comp, rel, len);
		comp[len] = '\0';
		if (!name_safe(comp)) {
			close(fd);
			return -EINVAL;
		}
		nfd = openat(fd, comp,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		if (nfd < 0)
			return -errno;
		fd = nfd;
		rel = *end ? end + 1 : end;
	}
	return fd;
}

static int make_hardlink(struct erofs_extractor *x, int pfd, const char *name,
			 const char *first, const char **why)
{
	const char *slash = strrchr(first, '/');
	char *dir;
	int sfd, ret;
	bool is_dir;

	dir = strndup(first, slash ? (size_t)(slash - first) : 0);
	if (!dir)
		return -ENOMEM;
	sfd = open_beneath(x->fds[0], dir);
	free(dir);
	if (sfd < 0) {
		*why = "cannot open the directory of the first link";
		return sfd;
	}
	ret = remove_existing(x, pfd, name, false, &is_dir);
	/* no AT_SYMLINK_FOLLOW: a symlink is linked, never followed */
	if (!ret && linkat(sfd, slash ? slash + 1 : first, pfd, name, 0))
		ret = -errno;
	close(sfd);
	if (ret)
		*why = ret == -EEXIST ? "exists (use --overwrite)" :
					"cannot create the hard link";
	return ret;
}

struct xattr_apply {
	struct erofs_extractor *x;
	int fd; /* set through this fd, or */
	char proc_path[32]; /* through the magic link of an O_PATH one */
	int err;
};

static int apply_one(void *arg, const struct erofs_xattr_ref *xr)
{
	struct xattr_apply *a = arg;
	const char *skip = a->x->img->ishare_name;
	int ret;

	/* hidden names cannot be set; the fingerprint belongs to the image */
	if (!erofs_xattr_index_visible(xr->base_index) ||
	    (skip && !strcmp(xr->name, skip)))
		return 0;
	if (a->fd >= 0)
		ret = fsetxattr(a->fd, xr->name, xr->value, xr->value_len, 0);
	else /* the link leads to the object itself, a symlink included */
		ret = setxattr(a->proc_path, xr->name, xr->value,
			       xr->value_len, 0);
	if (ret && !a->err)
		a->err = -errno;
	return 0;
}

/* Through "fd" (opened for I/O), or else "pfd" (O_PATH). */
static int apply_xattrs(struct erofs_extractor *x, const struct erofs_rinode *ri,
			int fd, int pfd, const char **why)
{
	struct xattr_apply a = { .x = x, .fd = fd };
	int ret;

	if (!x->opts.xattrs || !ri->xattr_isize)
		return 0;
	if (fd < 0)
		snprintf(a.proc_path, sizeof(a.proc_path), "/proc/self/fd/%d",
			 pfd);
	ret = erofs_xattr_foreach(x->img, ri, apply_one, &a, why);
	if (ret)
		return ret;
	if (a.err == -ENOENT && fd < 0 && access("/proc/self/fd", X_OK)) {
		*why = "cannot set xattrs of special files and symlinks without /proc mounted";
		return -EOPNOTSUPP;
	}
	if (a.err)
		*why = "cannot set an xattr";
	return a.err;
}

static mode_t final_mode(struct erofs_extractor *x, u32 mode)
{
	mode &= 07777;
	return x->opts.preserve_perms ? mode : mode & ~x->opts.umask;
}

static void inode_times(const struct erofs_rinode *ri, struct timespec ts[2])
{
	ts[0].tv_sec = ri->i.mtime;
	ts[0].tv_nsec = ri->i.mtime_nsec < 1000000000 ? ri->i.mtime_nsec : 0;
	ts[1] = ts[0];
}

/* Owner, xattrs, mode and times of an open file or directory. */
static int apply_fd(struct erofs_extractor *x, int fd,
		    const struct erofs_rinode *ri, const char **why)
{
	struct timespec ts[2];
	int ret;

	if (x->opts.preserve_owner && fchown(fd, ri->i.uid, ri->i.gid)) {
		*why = "cannot set the owner";
		return -errno;
	}
	ret = apply_xattrs(x, ri, fd, -1, why);
	if (ret)
		return ret;
	if (fchmod(fd, final_mode(x, ri->i.mode))) {
		*why = "cannot set the mode";
		return -errno;
	}
	inode_times(ri, ts);
	if (futimens(fd, ts)) {
		*why = "cannot set the modification time";
		return -errno;
	}
	return 0;
}

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452 /* Linux 6.6, the same on every architecture */
#endif

/* The mode of the object an O_PATH descriptor holds. */
static int chmod_path_fd(int pfd, mode_t mode)
{
	static volatile bool no_fchmodat2;
	char proc[32];

	if (!no_fchmodat2) {
		if (!syscall(SYS_fchmodat2, pfd, "", mode, AT_EMPTY_PATH))
			return 0;
		if (errno != ENOSYS && errno != EINVAL)
			return -errno;
		no_fchmodat2 = true;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	return chmod(proc, mode) ? -errno : 0;
}

/*
 * The same for an entry that cannot be opened for I/O (symlinks, devices,
 * FIFOs, sockets), through "pfd", an O_PATH descriptor of it.
 */
static int apply_path_fd(struct erofs_extractor *x, int pfd,
			 const struct erofs_rinode *ri, const char **why)
{
	struct timespec ts[2];
	int ret;

	if (x->opts.preserve_owner &&
	    fchownat(pfd, "", ri->i.uid, ri->i.gid, AT_EMPTY_PATH)) {
		*why = "cannot set the owner";
		return -errno;
	}
	ret = apply_xattrs(x, ri, -1, pfd, why);
	if (ret)
		return ret;
	/* symlinks have no mode of their own */
	if (!S_ISLNK(ri->i.mode)) {
		ret = chmod_path_fd(pfd, final_mode(x, ri->i.mode));
		if (ret) {
			*why = "cannot set the mode";
			return ret;
		}
	}
	inode_times(ri, ts);
	if (utimensat(pfd, "", ts, AT_EMPTY_PATH)) {
		*why = "cannot set the modification time";
		return -errno;
	}
	return 0;
}

/*
 * A descriptor of entry "name" just created in "dfd" as "mode" says,
 * refusing anything else another user may have put there meanwhile.
 */
static int open_created(int dfd, const char *name, u32 mode, const char **why)
{
	struct stat st;
	int fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0) {
		*why = "cannot open what was created";
		return -errno;
	}
	if (fstat(fd, &st)) {
		int ret = -errno;

		*why = "cannot open what was created";
		close(fd);
		return ret;
	}
	if ((st.st_mode & S_IFMT) != (mode & S_IFMT) || st.st_nlink != 1) {
		*why = "replaced by something else right after it was created";
		close(fd);
		return -EAGAIN;
	}
	return fd;
}

static int make_dir(struct erofs_extractor *x, int pfd, const char *name,
		    unsigned int depth, const char **why)
{
	bool is_dir;
	int ret, fd;

	if (mkdirat(pfd, name, 0700)) {
		if (errno != EEXIST) {
			*why = "cannot create the directory";
			return -errno;
		}
		ret = remove_existing(x, pfd, name, true, &is_dir);
		if (!ret && !is_dir && mkdirat(pfd, name, 0700))
			ret = -errno;
		if (ret) {
			*why = ret == -EEXIST ?
				       "exists and is not a directory (use --overwrite)" :
				       "cannot replace the existing entry";
			return ret;
		}
	}
	fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		*why = "cannot open the new directory";
		return -errno;
	}
	ret = set_fd(x, depth, fd);
	if (ret)
		close(fd);
	return ret;
}

/* Create a non-directory with "create"; replace an old one if allowed. */
static int create_entry(struct erofs_extractor *x, int pfd, const char *name,
			const struct erofs_rinode *ri, const char *target,
			int *fd, const char **why)
{
	bool retried = false, is_dir;
	u32 mode = ri->i.mode;
	int ret;

again:
	ret = 0;
	switch (mode & S_IFMT) {
	case S_IFREG:
		*fd = openat(pfd, name,
			     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				     O_CLOEXEC,
			     0600);
		if (*fd < 0)
			ret = -errno;
		break;
	case S_IFLNK:
		if (symlinkat(target, pfd, name))
			ret = -errno;
		break;
	default: {
		dev_t dev = 0;

		if (S_ISCHR(mode) || S_ISBLK(mode))
			dev = makedev(erofs_dev_major(ri->i.i_u),
				      erofs_dev_minor(ri->i.i_u));
		if (mknodat(pfd, name, (mode & S_IFMT) | 0600, dev))
			ret = -errno;
		break;
	}
	}
	if (ret == -EEXIST && !retried) {
		retried = true;
		ret = remove_existing(x, pfd, name, false, &is_dir);
		if (!ret)
			goto again;
	}
	if (ret)
		*why = ret == -EEXIST ? "exists (use --overwrite)" :
					"cannot create it";
	return ret;
}

int erofs_extract_entry(struct erofs_extractor *x,
			const struct erofs_walk_entry *e, const char *target,
			int *fd, const char **why)
{
	const struct erofs_rinode *ri = e->inode;
	char *copy = NULL;
	const char *name = e->name;
	int pfd, ret;

	*fd = -1;
	if (!e->depth) {
		if (S_ISDIR(ri->i.mode)) {
			int dfd;

			if (mkdir(x->opts.dir, 0700) && errno != EEXIST) {
				*why = "cannot create the extraction directory";
				return -errno;
			}
			dfd = open(x->opts.dir,
				   O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (dfd < 0) {
				*why = "cannot open the extraction directory";
				return -errno;
			}
			ret = set_fd(x, 0, dfd);
			if (ret)
				close(dfd);
			return ret;
		}
		/* a single file is extracted as DIR itself */
		copy = strdup(x->opts.dir);
		if (!copy)
			return -ENOMEM;
		pfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		free(copy);
		copy = strdup(x->opts.dir);
		if (pfd < 0 || !copy) {
			ret = pfd < 0 ? -errno : -ENOMEM;
			if (pfd >= 0)
				close(pfd);
			free(copy);
			*why = "cannot open the directory to extract into";
			return ret;
		}
		name = basename(copy);
	} else {
		if (e->depth - 1 >= x->nfds || x->fds[e->depth - 1] < 0)
			return 1; /* the parent could not be made */
		pfd = x->fds[e->depth - 1];
		if (S_ISDIR(ri->i.mode))
			/* the slot of this depth now belongs to this dir */
			set_fd(x, e->depth, -1);
	}
	if (!name_safe(name)) {
		*why = "unsafe file name";
		ret = -EINVAL;
		goto out;
	}

	if (S_ISDIR(ri->i.mode)) {
		ret = make_dir(x, pfd, name, e->depth, why);
	} else if (e->seen && e->first_relpath) {
		ret = make_hardlink(x, pfd, name, e->first_relpath, why);
	} else {
		ret = create_entry(x, pfd, name, ri, target, fd, why);
		if (!ret && !S_ISREG(ri->i.mode)) {
			int opath = open_created(pfd, name, ri->i.mode, why);

			ret = opath < 0 ? opath :
					  apply_path_fd(x, opath, ri, why);
			if (opath >= 0)
				close(opath);
		}
	}
out:
	if (!e->depth) {
		close(pfd);
		free(copy);
	}
	return ret;
}

int erofs_extract_leave(struct erofs_extractor *x,
			const struct erofs_walk_entry *e, const char **why)
{
	int ret;

	if (e->depth >= x->nfds || x->fds[e->depth] < 0)
		return 0;
	ret = apply_fd(x, x->fds[e->depth], e->inode, why);
	close(x->fds[e->depth]);
	x->fds[e->depth] = -1;
	return ret;
}

int erofs_extract_finish_file(struct erofs_extractor *x, int fd,
			      const struct erofs_rinode *ri, const char **why)
{
	int ret = 0;

	/* a trailing hole is not written: the size makes it */
	if (ftruncate(fd, ri->i.size)) {
		*why = "cannot set the file size";
		ret = -errno;
	}
	if (!ret)
		ret = apply_fd(x, fd, ri, why);
	if (close(fd) && !ret) {
		*why = "cannot write the file";
		ret = -errno;
	}
	return ret;
}
