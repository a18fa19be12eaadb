// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of lib/error.c: a failure inside an error scope stays in the
 * scope, and so does one of a worker thread started in the scope through
 * erofs_thread_create(), which prints nothing either; outside any scope
 * failures reach the process-wide message, as the tools expect.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "erofs/error.h"
#include "unit.h"

static void *fail_worker(void *arg)
{
	long id = (long)arg;

	erofs_warn("worker %ld: a warning a library call must not print", id);
	erofs_fail(-EIO, "worker %ld failed", id);
	return NULL;
}

/* Run "n" failing workers; whether all started and were joined. */
static bool run_workers(long n)
{
	pthread_t th[8];
	long started = 0;

	for (; started < n; started++)
		if (erofs_thread_create(&th[started], fail_worker,
					(void *)started))
			break;
	for (long i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	return started == n;
}

int main(void)
{
	struct erofs_error_scope s;
	char errf[] = "/tmp/erofs-test-error.XXXXXX";
	int fd = mkstemp(errf), saved = dup(2);
	struct stat st;
	bool ok;

	/* in a scope, on the caller's thread */
	erofs_error_scope_enter(&s);
	erofs_fail(-EINVAL, "in the scope");
	CHECK("scope-own", s.set && s.msg && !strcmp(s.msg, "in the scope") &&
				   !strcmp(erofs_last_error(), "in the scope"));
	erofs_error_scope_leave(&s);
	CHECK("scope-not-latch", !erofs_last_error());
	free(s.msg);

	/* workers of a scope: the first failure is the scope's, nothing shows */
	fflush(stderr);
	if (fd >= 0)
		dup2(fd, 2);
	erofs_error_scope_enter(&s);
	ok = run_workers(4);
	erofs_error_scope_leave(&s);
	fflush(stderr);
	if (saved >= 0)
		dup2(saved, 2);
	CHECK("workers-started", ok);
	CHECK("workers-scope", s.set && s.msg && !strncmp(s.msg, "worker ", 7) &&
				       strstr(s.msg, " failed"));
	CHECK("workers-not-latch", !erofs_last_error());
	CHECK("workers-print-nothing",
	      fd >= 0 && !fstat(fd, &st) && !st.st_size);
	free(s.msg);

	/* workers outside any scope: the process-wide message */
	erofs_msg_level = 0;
	ok = run_workers(1);
	CHECK("latch", ok && erofs_last_error() &&
			       !strcmp(erofs_last_error(), "worker 0 failed"));
	erofs_clear_error();
	CHECK("latch-cleared", !erofs_last_error());

	if (fd >= 0)
		close(fd);
	unlink(errf);
	UNIT_EXIT();
}
