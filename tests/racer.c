// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The other user of the race tests: swaps names under a running tool as
 * fast as the kernel allows, until killed. Prints "go" once it runs.
 *
 *   racer [-u UID:GID] exchange A B
 *       renameat2(RENAME_EXCHANGE) of A and B, over and over: each name
 *       always exists and is now one object, now the other.
 *   racer [-u UID:GID] symlinks DIR TARGET [N]
 *       every non-directory created in DIR (inotify), up to N (20000),
 *       is exchanged with a symlink to TARGET made beforehand, named
 *       .racer.NUMBER, as soon as it appears.
 *
 * With -u, privileges are dropped to UID:GID first.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static int usage(void)
{
	fprintf(stderr, "usage: racer [-u UID:GID] exchange A B\n"
			"       racer [-u UID:GID] symlinks DIR TARGET [N]\n");
	return 2;
}

static int exchange(const char *a, const char *b)
{
	if (syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE)) {
		perror("renameat2");
		return 1;
	}
	puts("go");
	fflush(stdout);
	for (;;)
		syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b,
			RENAME_EXCHANGE);
	return 0;
}

static int symlinks(const char *dir, const char *target, unsigned long pool)
{
	char buf[64 * 1024], spare[NAME_MAX + 32];
	unsigned long n;
	int in, dfd;

	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	if (dfd < 0) {
		perror(dir);
		return 1;
	}
	/* ready-made symlinks: one renameat2() puts each in place */
	for (n = 0; n < pool; n++) {
		snprintf(spare, sizeof(spare), ".racer.%lu", n);
		if (symlinkat(target, dfd, spare)) {
			perror("symlink");
			return 1;
		}
	}
	in = inotify_init();
	if (in < 0 || inotify_add_watch(in, dir, IN_CREATE) < 0) {
		perror(dir);
		return 1;
	}
	puts("go");
	fflush(stdout);
	for (n = 0; n < pool;) {
		ssize_t len = read(in, buf, sizeof(buf));

		if (len <= 0) {
			if (len < 0 && errno == EINTR)
				continue;
			perror("inotify");
			return 1;
		}
		for (char *p = buf; p < buf + len && n < pool;) {
			struct inotify_event *ev = (struct inotify_event *)p;

			p += sizeof(*ev) + ev->len;
			if (!ev->len || (ev->mask & IN_ISDIR))
				continue;
			snprintf(spare, sizeof(spare), ".racer.%lu", n);
			if (!syscall(SYS_renameat2, dfd, spare, dfd, ev->name,
				     RENAME_EXCHANGE))
				n++;
		}
	}
	pause();
	return 0;
}

int main(int argc, char **argv)
{
	int i = 1;

	if (argc > 2 && !strcmp(argv[1], "-u")) {
		unsigned int uid, gid;

		if (sscanf(argv[2], "%u:%u", &uid, &gid) != 2)
			return usage();
		if (setgroups(0, NULL) || setgid(gid) || setuid(uid)) {
			perror("dropping privileges");
			return 1;
		}
		i = 3;
	}
	if (argc - i == 3 && !strcmp(argv[i], "exchange"))
		return exchange(argv[i + 1], argv[i + 2]);
	if ((argc - i == 3 || argc - i == 4) && !strcmp(argv[i], "symlinks"))
		return symlinks(argv[i + 1], argv[i + 2],
				argc - i == 4 ? strtoul(argv[i + 3], NULL, 0)
					      : 20000);
	return usage();
}
