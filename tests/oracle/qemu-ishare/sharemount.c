// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * sharemount: guest helper for the page cache sharing harness (static binary).
 *
 *   sharemount mount DEV DIR [DATA]  mount(2) DEV on DIR, erofs, read-only
 *   sharemount umount DIR            umount(2) DIR
 *   sharemount read PATH...          read every regular file under PATH
 *                                    fully; prints "FILES=n BYTES=m ERRORS=e"
 *
 * busybox mount cannot pass an arbitrary data string for erofs without a
 * loop device, and busybox cat copies with sendfile(2), which goes around the
 * shared page cache; this reads with plain read(2) into one fixed buffer, as
 * an application would.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_BUF_SIZE (128 * 1024)

static char read_buf[READ_BUF_SIZE];
static unsigned long long nr_files, nr_bytes, nr_errors;

static void report_error(const char *what, const char *path)
{
	fprintf(stderr, "sharemount: %s %s: %s\n", what, path, strerror(errno));
	nr_errors++;
}

static void read_file(int dirfd, const char *name, const char *path)
{
	ssize_t n;
	int fd;

	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		report_error("open", path);
		return;
	}
	for (;;) {
		n = read(fd, read_buf, sizeof(read_buf));
		if (n > 0) {
			nr_bytes += n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			report_error("read", path);
		break;
	}
	nr_files++;
	close(fd);
}

/* Recursion depth is the tree depth: a few dozen levels at most here. */
static void walk(int dirfd, const char *path)
{
	char child[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *dir;
	int fd;

	dir = fdopendir(dirfd);
	if (!dir) {
		report_error("opendir", path);
		close(dirfd);
		return;
	}
	while ((errno = 0, de = readdir(dir))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(child, sizeof(child), "%s/%s", path, de->d_name);
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW)) {
			report_error("stat", child);
			continue;
		}
		if (S_ISREG(st.st_mode)) {
			read_file(dirfd, de->d_name, child);
		} else if (S_ISDIR(st.st_mode)) {
			fd = openat(dirfd, de->d_name,
				    O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					    O_CLOEXEC);
			if (fd < 0)
				report_error("open", child);
			else
				walk(fd, child);
		}
	}
	if (errno)
		report_error("readdir", path);
	closedir(dir);
}

static int do_read(int argc, char **argv)
{
	int i, fd;

	for (i = 0; i < argc; i++) {
		fd = open(argv[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			report_error("open", argv[i]);
			continue;
		}
		walk(fd, argv[i]);
	}
	printf("FILES=%llu BYTES=%llu ERRORS=%llu\n", nr_files, nr_bytes,
	       nr_errors);
	return nr_errors ? 1 : 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: sharemount mount DEV DIR [DATA]\n"
			"       sharemount umount DIR\n"
			"       sharemount read PATH...\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && argc <= 5 && !strcmp(argv[1], "mount")) {
		const char *data = argc == 5 ? argv[4] : NULL;

		if (mount(argv[2], argv[3], "erofs", MS_RDONLY, data)) {
			fprintf(stderr, "sharemount: mount %s on %s (%s): %s\n",
				argv[2], argv[3], data ? data : "",
				strerror(errno));
			return 1;
		}
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "umount")) {
		if (umount(argv[2])) {
			report_error("umount", argv[2]);
			return 1;
		}
		return 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "read"))
		return do_read(argc - 2, argv + 2);
	return usage();
}
