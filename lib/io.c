// SPDX-License-Identifier: GPL-2.0-or-later
/* Image output through a temporary file and rename; checked image input. */
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

#include "erofs/error.h"
#include "erofs/format.h"
#include "erofs/io.h"

/*
 * Named temporaries (where the filesystem has no O_TMPFILE) that a signal
 * handler must remove: an image and a blob device at most.
 */
#define MAX_NAMED_TMP 4
static const char *volatile named_tmp[MAX_NAMED_TMP];

static void flusher_start(struct erofs_output *out);
static void flusher_stop(struct erofs_output *out);

void erofs_output_unlink_temporaries(void)
{
	for (unsigned int i = 0; i < MAX_NAMED_TMP; i++) {
		const char *p = named_tmp[i];

		if (p)
			unlink(p);
	}
}

static void named_tmp_set(const char *old, const char *new)
{
	for (unsigned int i = 0; i < MAX_NAMED_TMP; i++) {
		if (named_tmp[i] == old) {
			named_tmp[i] = new;
			return;
		}
	}
}

/* Sync the directory holding "path", so that its new entry lasts. */
static void sync_parent_dir(const char *path)
{
	char *copy = strdup(path);
	int fd;

	if (!copy)
		return;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(copy);
}

/* Whether files on fd's filesystem can share blocks; its device in "dev". */
static bool fs_clones(int fd, dev_t *dev)
{
	struct statfs sfs;
	struct stat st;

	if (fstatfs(fd, &sfs) || fstat(fd, &st))
		return false;
	*dev = st.st_dev;
	return sfs.f_type == BTRFS_SUPER_MAGIC || sfs.f_type == XFS_SUPER_MAGIC;
}

/* A block device is written in place: it cannot be renamed onto. */
static int open_blockdev(struct erofs_output *out)
{
	/*
	 * An old superblock over half-written data would still mount: it is
	 * wiped first, and the new one is written last.
	 */
	static const u8 wipe[EROFS_SUPER_BASE_SIZE];
	struct stat st;
	int ret;

	out->fd = open(out->path, O_WRONLY | O_CLOEXEC);
	if (out->fd < 0)
		return erofs_fail(-errno, "%s: %s", out->path, strerror(errno));
	/* the node may have been swapped since it was looked at */
	if (fstat(out->fd, &st) || !S_ISBLK(st.st_mode))
		return erofs_fail(-EINVAL, "%s: no longer a block device",
				  out->path);
	out->blockdev = true;
	ret = erofs_output_write(out, wipe, sizeof(wipe), EROFS_SUPER_OFFSET);
	if (!ret)
		flusher_start(out);
	return ret;
}

/*
 * Where the image goes: a missing name or a regular file is replaced, a
 * block device written in place, a symlink followed to one of those;
 * anything else (a directory, a character device such as /dev/null, a
 * FIFO, a socket) is refused before any work, as erofs-utils does.
 */
static int resolve_destination(struct erofs_output *out, const char *path,
			       bool *blockdev)
{
	struct stat st;

	*blockdev = false;
	if (lstat(path, &st)) {
		if (errno != ENOENT)
			return erofs_fail(-errno, "%s: %s", path,
					  strerror(errno));
		out->path = strdup(path);
		return out->path ? 0 : -ENOMEM;
	}
	if (S_ISLNK(st.st_mode)) {
		if (stat(path, &st)) {
			if (errno != ENOENT)
				return erofs_fail(-errno, "%s: %s", path,
						  strerror(errno));
			return erofs_fail(-EINVAL,
					  "%s: a dangling symbolic link: give the path it names",
					  path);
		}
		if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
			goto bad_type;
		/* the link stays: the image replaces what it names */
		out->path = realpath(path, NULL);
		if (!out->path)
			return erofs_fail(-errno, "%s: %s", path,
					  strerror(errno));
	} else {
		out->path = strdup(path);
		if (!out->path)
			return -ENOMEM;
	}
	if (S_ISREG(st.st_mode))
		return 0;
	if (S_ISBLK(st.st_mode)) {
		*blockdev = true;
		return 0;
	}
bad_type:
	if (S_ISDIR(st.st_mode))
		return erofs_fail(-EISDIR, "%s: %s", path, strerror(EISDIR));
	return erofs_fail(-EINVAL,
			  "%s: bad file type: the image must be a regular file or a block device",
			  path);
}

/*
 * An unnamed file in the destination's directory (O_TMPFILE): a build
 * that is killed leaves nothing behind. Filesystems without it get a
 * hidden name, removed on failure and by erofs_output_unlink_temporaries().
 */
static int open_temporary(struct erofs_output *out)
{
	char *dir, *base;
	mode_t mask;
	int ret;

	dir = strdup(out->path);
	base = strdup(out->path);
	if (!dir || !base) {
		free(dir);
		free(base);
		return -ENOMEM;
	}
	out->fd = open(dirname(dir), O_TMPFILE | O_RDWR | O_CLOEXEC, 0666);
	if (out->fd >= 0) {
		free(dir);
		free(base);
		goto opened;
	}
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
		ret = -errno;
		free(dir);
		free(base);
		return erofs_fail(ret, "%s: cannot create image: %s",
				  out->path, strerror(-ret));
	}
	ret = asprintf(&out->tmppath, "%s/.%s.XXXXXX", dir, basename(base));
	free(dir);
	free(base);
	if (ret < 0) {
		out->tmppath = NULL;
		return -ENOMEM;
	}
	out->fd = mkostemp(out->tmppath, O_CLOEXEC);
	if (out->fd < 0) {
		ret = -errno;
		free(out->tmppath);
		out->tmppath = NULL;
		return erofs_fail(ret, "%s: cannot create image: %s",
				  out->path, strerror(-ret));
	}
	named_tmp_set(NULL, out->tmppath);
	/* a new file's usual mode, not mkostemp()'s private 0600 */
	mask = umask(0);
	umask(mask);
	if (fchmod(out->fd, 0666 & ~mask)) {
		ret = -errno;
		return erofs_fail(ret, "%s: %s", out->path, strerror(-ret));
	}
opened:
	out->clones = fs_clones(out->fd, &out->dev);
	flusher_start(out);
	return 0;
}

static int output_open(struct erofs_output *out, const char *path)
{
	bool blockdev;
	int ret = resolve_destination(out, path, &blockdev);

	if (ret)
		return ret;
	return blockdev ? open_blockdev(out) : open_temporary(out);
}

/* On failure nothing is left behind: no file, no descriptor, no memory. */
int erofs_output_open(struct erofs_output *out, const char *path,
		      bool durable, u64 base)
{
	int ret;

	memset(out, 0, sizeof(*out));
	out->fd = -1;
	out->durable = durable;
	out->base = base;
	ret = output_open(out, path);
	if (ret)
		erofs_output_abort(out);
	return ret;
}

/*
 * The image is synced before it is renamed into place. Every step, a
 * thread of its own starts writeback of what the writers are done with and
 * then makes the file durable so far (fdatasync): the disk works while
 * sources are still being read, a virtual disk's host drains its cache as
 * the build goes on, and the final fsync finds little left to do (without
 * the fdatasync it took 0.4 s of a 1 GB build's 1 s here). Writeback is
 * started for settled ranges only: a folio still being filled that went
 * under writeback would make the next write into it wait for the disk
 * (fdatasync catches those few pages too, once a step). Both calls can
 * block for long, hence the thread: the workers that read, hash and
 * compress go on.
 */
#define WRITEBACK_STEP (32ULL << 20)

static void *flusher_main(void *arg)
{
	struct erofs_output *out = arg;
	int err;

	pthread_mutex_lock(&out->flush_lock);
	for (;;) {
		u64 from = out->flush_started, to;

		while (!out->flusher_stop && out->flush_requested == from)
			pthread_cond_wait(&out->flush_cond, &out->flush_lock);
		if (out->flusher_stop)
			break;
		to = out->flush_requested;
		out->flush_started = to;
		pthread_mutex_unlock(&out->flush_lock);
		sync_file_range(out->fd, out->base + from, to - from,
				SYNC_FILE_RANGE_WRITE);
		/* its failure is the commit's: a later fsync won't see it */
		err = fdatasync(out->fd) ? -errno : 0;
		pthread_mutex_lock(&out->flush_lock);
		if (err && !out->flush_err)
			out->flush_err = err;
	}
	pthread_mutex_unlock(&out->flush_lock);
	return NULL;
}

static void flusher_start(struct erofs_output *out)
{
	/* early writeback only serves the final sync */
	if (!out->durable)
		return;
	pthread_mutex_init(&out->flush_lock, NULL);
	pthread_cond_init(&out->flush_cond, NULL);
	out->flusher_running =
		!pthread_create(&out->flusher, NULL, flusher_main, out);
}

static void flusher_stop(struct erofs_output *out)
{
	if (!out->flusher_running)
		return;
	pthread_mutex_lock(&out->flush_lock);
	out->flusher_stop = true;
	pthread_cond_signal(&out->flush_cond);
	pthread_mutex_unlock(&out->flush_lock);
	pthread_join(out->flusher, NULL);
	out->flusher_running = false;
	pthread_mutex_destroy(&out->flush_lock);
	pthread_cond_destroy(&out->flush_cond);
}

void erofs_output_settled(struct erofs_output *out, u64 pos)
{
	/* without the thread, the fsync at the end does all the work */
	if (!out->flusher_running)
		return;
	pthread_mutex_lock(&out->flush_lock);
	if (pos >= out->flush_requested + WRITEBACK_STEP) {
		out->flush_requested = pos;
		pthread_cond_signal(&out->flush_cond);
	}
	pthread_mutex_unlock(&out->flush_lock);
}

static int output_error(struct erofs_output *out, int err)
{
	return erofs_fail(err, "%s: write failed: %s", out->path,
			  strerror(-err));
}

int erofs_output_write(struct erofs_output *out, const void *buf, size_t len,
		       u64 pos)
{
	const char *p = buf;

	pos += out->base;
	while (len) {
		ssize_t n = pwrite(out->fd, p, len, pos);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return output_error(out, -errno);
		}
		if (!n)
			return output_error(out, -ENOSPC);
		p += n;
		pos += n;
		len -= n;
	}
	return 0;
}

/*
 * Whether "srcfd" lies on the image's filesystem and that one shares blocks
 * between files: copy_file_range() then clones instead of copying. Where it
 * copies (ext4, tmpfs), it moves 64 KiB per round through a pipe and took
 * 0.94 s where reading and writing 256 KiB pieces took 0.72 s for 1 GB.
 */
static bool clones_from(const struct erofs_output *out, int srcfd)
{
	struct stat st;

	return out->clones && !fstat(srcfd, &st) && st.st_dev == out->dev;
}

int erofs_output_copy(struct erofs_output *out, int srcfd, u64 srcpos,
		      size_t len, u64 pos, void *buf, size_t bufsz)
{
	char small[65536];

#ifdef HAVE_COPY_FILE_RANGE
	bool clone = clones_from(out, srcfd);

	while (clone && len) {
		loff_t in = srcpos, o = pos + out->base;
		ssize_t n = copy_file_range(srcfd, &in, out->fd, &o, len, 0);

		if (n > 0) {
			srcpos += n;
			pos += n;
			len -= n;
			continue;
		}
		if (n == 0)
			return -ENODATA; /* the source got shorter */
		if (errno == EINTR)
			continue;
		if (errno != EXDEV && errno != EINVAL && errno != ENOSYS &&
		    errno != EOPNOTSUPP)
			return output_error(out, -errno);
		break; /* copy it ourselves */
	}
#endif
	if (!buf) {
		buf = small;
		bufsz = sizeof(small);
	}
	while (len) {
		size_t chunk = min_t(size_t, len, bufsz);
		int ret = erofs_pread_full(srcfd, buf, chunk, srcpos);

		if (ret)
			return ret;
		ret = erofs_output_write(out, buf, chunk, pos);
		if (ret)
			return ret;
		srcpos += chunk;
		pos += chunk;
		len -= chunk;
	}
	return 0;
}

/*
 * Give the unnamed file its name: linked straight to it when there is no
 * old image, else to a fresh name beside it that rename() then moves over
 * the old one, so that readers see the old image or the new, never none.
 */
static int link_into_place(struct erofs_output *out)
{
	char proc[64], *tmp = NULL;
	int ret = 0;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", out->fd);
	for (unsigned int attempt = 0; attempt < 100; attempt++) {
		const char *to = tmp ? tmp : out->path;

		if (!linkat(AT_FDCWD, proc, AT_FDCWD, to, AT_SYMLINK_FOLLOW) ||
		    !linkat(out->fd, "", AT_FDCWD, to, AT_EMPTY_PATH))
			break;
		ret = -errno;
		if (ret != -EEXIST)
			break;
		ret = 0;
		free(tmp);
		if (asprintf(&tmp, "%s.%08x", out->path,
			     (unsigned int)random()) < 0)
			return -ENOMEM;
	}
	if (!ret && tmp && rename(tmp, out->path)) {
		ret = -errno;
		unlink(tmp);
	}
	free(tmp);
	if (ret)
		return erofs_fail(ret, "%s: cannot move image into place: %s",
				  out->path, strerror(-ret));
	return 0;
}

int erofs_output_commit(struct erofs_output *out, u64 size)
{
	int ret = 0;

	flusher_stop(out);
	if (out->flush_err)
		return output_error(out, out->flush_err);
	if (!out->blockdev && ftruncate(out->fd, out->base + size))
		return output_error(out, -errno);
	if (out->durable && fsync(out->fd))
		return output_error(out, -errno);
	if (out->tmppath) {
		if (rename(out->tmppath, out->path))
			return erofs_fail(-errno, "%s: cannot move image into place: %s",
					  out->path, strerror(errno));
		named_tmp_set(out->tmppath, NULL);
		free(out->tmppath);
		out->tmppath = NULL;
	} else if (!out->blockdev) {
		ret = link_into_place(out);
		if (ret)
			return ret;
	}
	/* the directory entry is part of what a crash must keep */
	if (out->durable && !out->blockdev)
		sync_parent_dir(out->path);
	if (close(out->fd)) {
		out->fd = -1;
		return output_error(out, -errno);
	}
	out->fd = -1;
	return 0;
}

void erofs_output_abort(struct erofs_output *out)
{
	flusher_stop(out);
	if (out->fd >= 0)
		close(out->fd);
	out->fd = -1;
	if (out->tmppath) {
		named_tmp_set(out->tmppath, NULL);
		unlink(out->tmppath);
		free(out->tmppath);
		out->tmppath = NULL;
	}
	free(out->path);
	out->path = NULL;
}

/* The component walk, for kernels without openat2(2). */
static int open_walk(int dirfd, const char *rel, int flags)
{
	char comp[NAME_MAX + 1];
	int fd = dirfd;

	for (;;) {
		const char *end = strchrnul(rel, '/');
		size_t len = end - rel;
		bool last = !*end;
		int nfd;

		if (len > NAME_MAX) {
			nfd = -ENAMETOOLONG;
			goto out;
		}
		memcpy(comp, rel, len);
		comp[len] = '\0';
		if (!strcmp(comp, "..")) {
			nfd = -EXDEV;
			goto out;
		}
		/* "" and "." stay where they are */
		nfd = openat(fd, len ? comp : ".",
			     last ? flags | O_NOFOLLOW | O_CLOEXEC :
				    O_PATH | O_DIRECTORY | O_NOFOLLOW |
					    O_CLOEXEC);
		if (nfd < 0)
			nfd = -errno;
out:
		if (fd != dirfd)
			close(fd);
		if (nfd < 0 || last)
			return nfd;
		fd = nfd;
		rel = end + 1;
	}
}

int erofs_open_beneath(int dirfd, const char *rel, int flags)
{
#ifdef SYS_openat2
	static volatile bool no_openat2;
	int fd = dirfd;

	while (!no_openat2) {
		struct open_how how = {
			.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
				   RESOLVE_NO_MAGICLINKS,
		};
		size_t len = strlen(rel);
		const char *piece = rel, *next = NULL;
		char buf[PATH_MAX];
		int nfd, tries = 0;

		/* openat2 takes PATH_MAX bytes: longer paths go in pieces */
		if (len >= PATH_MAX) {
			const char *slash = memrchr(rel, '/', PATH_MAX - 1);

			if (!slash || slash == rel) {
				if (fd != dirfd)
					close(fd);
				return -ENAMETOOLONG;
			}
			memcpy(buf, rel, slash - rel);
			buf[slash - rel] = '\0';
			piece = buf;
			next = slash + 1;
		}
		how.flags = next ? O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC :
				   (u64)(flags | O_NOFOLLOW | O_CLOEXEC);
		do /* "..": a rename elsewhere may ask for a retry */
			nfd = syscall(SYS_openat2, fd, piece, &how, sizeof(how));
		while (nfd < 0 && errno == EAGAIN && ++tries < 8);
		if (nfd < 0)
			nfd = -errno;
		if (nfd == -ENOSYS && fd == dirfd) {
			no_openat2 = true;
			break;
		}
		if (fd != dirfd)
			close(fd);
		if (nfd < 0 || !next)
			return nfd;
		fd = nfd;
		rel = next;
	}
#endif
	return open_walk(dirfd, rel, flags);
}

int erofs_pread_full(int fd, void *buf, size_t len, u64 pos)
{
	char *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, pos);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!n)
			return -ENODATA;
		p += n;
		pos += n;
		len -= n;
	}
	return 0;
}

int erofs_input_open(struct erofs_input *in, const char *path)
{
	struct stat st;

	in->path = path;
	in->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (in->fd < 0)
		return erofs_fail(-errno, "%s: %s", path, strerror(errno));
	if (fstat(in->fd, &st)) {
		int ret = -errno;

		close(in->fd);
		return erofs_fail(ret, "%s: %s", path, strerror(-ret));
	}
	if (S_ISBLK(st.st_mode)) {
		off_t end = lseek(in->fd, 0, SEEK_END);

		in->size = end < 0 ? 0 : (u64)end;
	} else if (S_ISREG(st.st_mode)) {
		in->size = st.st_size;
	} else {
		close(in->fd);
		return erofs_fail(-EINVAL, "%s: not a regular file or block device",
				  path);
	}
	return 0;
}

void erofs_input_close(struct erofs_input *in)
{
	if (in->fd >= 0)
		close(in->fd);
	in->fd = -1;
}

int erofs_input_read(struct erofs_input *in, void *buf, size_t len, u64 pos)
{
	int ret;

	if (pos > in->size || len > in->size - pos)
		return -EFSCORRUPTED;
	ret = erofs_pread_full(in->fd, buf, len, pos);
	if (ret == -ENODATA)
		return -EFSCORRUPTED;
	return ret;
}
