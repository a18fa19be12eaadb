// SPDX-License-Identifier: GPL-2.0-or-later
/* Helpers shared by the fuzz targets (see fuzz.h). */
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "erofs/error.h"
#include "fuzz.h"

/* All of "data" into "fd", or abort: no input can be tested then. */
static void write_all(int fd, const uint8_t *data, size_t size,
		      const char *what)
{
	size_t done = 0;

	while (done < size) {
		ssize_t n = write(fd, data + done, size - done);

		if (n <= 0) {
			perror(what);
			abort();
		}
		done += n;
	}
}

int fuzz_memfd(const uint8_t *data, size_t size, char *path)
{
	int fd = memfd_create("erofs-fuzz", MFD_CLOEXEC);

	if (fd < 0) {
		perror("memfd_create");
		abort();
	}
	write_all(fd, data, size, "memfd write");
	snprintf(path, FUZZ_PATH_MAX, "/proc/self/fd/%d", fd);
	return fd;
}

int fuzz_pipe(const uint8_t *data, size_t size, char *path)
{
	int fds[2];

	if (pipe2(fds, O_CLOEXEC)) {
		perror("pipe2");
		abort();
	}
	if (size > 65536 && fcntl(fds[1], F_SETPIPE_SZ, size) < (long)size) {
		close(fds[0]);
		close(fds[1]);
		return fuzz_memfd(data, size, path);
	}
	write_all(fds[1], data, size, "pipe write");
	close(fds[1]);
	snprintf(path, FUZZ_PATH_MAX, "/proc/self/fd/%d", fds[0]);
	return fds[0];
}

FILE *fuzz_null_file(void)
{
	static FILE *f;

	if (!f)
		f = fopen("/dev/null", "we");
	if (!f)
		abort();
	return f;
}

int fuzz_null_fd(void)
{
	static int fd = -1;

	if (fd < 0)
		fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		abort();
	return fd;
}

static char *scratch;

static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	if (ftw->level)
		remove(path);
	return 0;
}

void fuzz_empty_dir(const char *dir)
{
	/* entries may have been extracted without write permission */
	nftw(dir, remove_one, 32, FTW_DEPTH | FTW_PHYS);
}

static void remove_scratch(void)
{
	if (!scratch)
		return;
	fuzz_empty_dir(scratch);
	rmdir(scratch);
}

const char *fuzz_scratch_dir(void)
{
	const char *base;
	struct stat st;

	if (scratch)
		return scratch;
	base = getenv("TMPDIR");
	if (!base || !*base)
		base = !stat("/dev/shm", &st) && S_ISDIR(st.st_mode) ?
			       "/dev/shm" : "/tmp";
	if (asprintf(&scratch, "%s/erofs-fuzz.XXXXXX", base) < 0 ||
	    !mkdtemp(scratch)) {
		perror("scratch directory");
		abort();
	}
	atexit(remove_scratch);
	return scratch;
}

void fuzz_quiet(void)
{
	erofs_msg_level = 0;
	erofs_clear_error();
}
