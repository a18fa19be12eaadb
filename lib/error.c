// SPDX-License-Identifier: GPL-2.0-or-later
/* Failure messages and leveled logging shared by all tools. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "erofs/error.h"

int erofs_msg_level = EROFS_MSG_WARN;
const char *erofs_progname = "erofs";

static pthread_mutex_t error_lock = PTHREAD_MUTEX_INITIALIZER;
/*
 * The message is as long as it needs to be: a path thousands of levels
 * deep comes first and the reason last. Only without memory for that is
 * it cut to the fixed buffer.
 */
static char error_buf[1024];
static char *error_msg;
static bool error_set;
/*
 * A call of the public API (lib/api.c) on this thread: failures are
 * recorded there instead of the process-wide latch, and nothing is
 * printed, so that a program with several images on several threads gets
 * each call's own message.
 */
static __thread struct erofs_error_scope *error_scope;

void erofs_error_scope_enter(struct erofs_error_scope *s)
{
	s->msg = NULL;
	s->set = false;
	s->prev = error_scope;
	error_scope = s;
}

void erofs_error_scope_leave(struct erofs_error_scope *s)
{
	error_scope = s->prev;
}

/* Workers started in a scope share it: its fields change under the lock. */
static void scope_record(struct erofs_error_scope *s, const char *fmt,
			 va_list ap)
{
	char *msg;

	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	pthread_mutex_lock(&error_lock);
	if (!s->set) {
		s->msg = msg;
		s->set = true;
		msg = NULL;
	}
	pthread_mutex_unlock(&error_lock);
	free(msg);
}

struct thread_start {
	void *(*fn)(void *);
	void *arg;
	struct erofs_error_scope *scope;
};

static void *thread_main(void *p)
{
	struct thread_start st = *(struct thread_start *)p;

	free(p);
	error_scope = st.scope;
	return st.fn(st.arg);
}

int erofs_thread_create(pthread_t *th, void *(*fn)(void *), void *arg)
{
	struct thread_start *st;
	int ret;

	if (!error_scope)
		return pthread_create(th, NULL, fn, arg);
	st = malloc(sizeof(*st));
	if (!st)
		return ENOMEM;
	*st = (struct thread_start){ fn, arg, error_scope };
	ret = pthread_create(th, NULL, thread_main, st);
	if (ret)
		free(st);
	return ret;
}

int erofs_fail(int err, const char *fmt, ...)
{
	va_list ap;

	if (error_scope) {
		va_start(ap, fmt);
		scope_record(error_scope, fmt, ap);
		va_end(ap);
		return err;
	}
	pthread_mutex_lock(&error_lock);
	if (!error_set) {
		va_start(ap, fmt);
		if (vasprintf(&error_msg, fmt, ap) < 0) {
			va_end(ap);
			error_msg = NULL;
			va_start(ap, fmt);
			vsnprintf(error_buf, sizeof(error_buf), fmt, ap);
		}
		va_end(ap);
		error_set = true;
	}
	pthread_mutex_unlock(&error_lock);
	return err;
}

const char *erofs_last_error(void)
{
	const char *msg = NULL;

	pthread_mutex_lock(&error_lock);
	if (error_scope && error_scope->set)
		msg = error_scope->msg ? error_scope->msg :
					 "out of memory for the message";
	else if (!error_scope && error_set)
		msg = error_msg ? error_msg : error_buf;
	pthread_mutex_unlock(&error_lock);
	return msg;
}

void erofs_clear_error(void)
{
	pthread_mutex_lock(&error_lock);
	if (error_scope) {
		free(error_scope->msg);
		error_scope->msg = NULL;
		error_scope->set = false;
		pthread_mutex_unlock(&error_lock);
		return;
	}
	error_set = false;
	error_buf[0] = '\0';
	free(error_msg);
	error_msg = NULL;
	pthread_mutex_unlock(&error_lock);
}

static bool progress_shown;

void erofs_msg(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > erofs_msg_level || error_scope)
		return;
	if (progress_shown)
		erofs_progress_done();
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", erofs_progname);
	if (level == EROFS_MSG_WARN)
		fputs("warning: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void erofs_progress(const char *what, u64 done, u64 total)
{
	static struct timespec last;
	struct timespec now;

	if (erofs_msg_level < EROFS_MSG_WARN || error_scope ||
	    !isatty(STDERR_FILENO))
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	/* redraw at most ten times a second, and always at the end */
	if (done != total && progress_shown &&
	    (now.tv_sec - last.tv_sec) * 1000000000L +
			    (now.tv_nsec - last.tv_nsec) <
		    100000000L)
		return;
	last = now;
	fprintf(stderr, "\r%s: %llu/%llu\033[K", what, (unsigned long long)done,
		(unsigned long long)total);
	progress_shown = true;
}

void erofs_progress_done(void)
{
	if (!progress_shown)
		return;
	fputs("\r\033[K", stderr);
	progress_shown = false;
}
