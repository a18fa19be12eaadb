/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Errors and messages. Library functions return 0 or a negative errno; the
 * first failure also records one message naming the path and the reason,
 * which the tool prints once at the top.
 */
#ifndef EROFS_ERROR_H
#define EROFS_ERROR_H

#include <pthread.h>

#include "erofs/defs.h"

/* Record "fmt" as the failure message unless one is recorded; return err. */
int erofs_fail(int err, const char *fmt, ...) __printf(2, 3);
/* The recorded message, or NULL. */
const char *erofs_last_error(void);
void erofs_clear_error(void);

/*
 * Between enter and leave, failures on this thread are recorded in "s"
 * (the first one; s->msg is then the caller's to free, NULL without
 * memory for it) and messages are not printed: the library's API calls
 * (lib/api.c) so, to keep errors to the call. Scopes nest.
 */
struct erofs_error_scope {
	bool set;
	char *msg;
	struct erofs_error_scope *prev;
};
void erofs_error_scope_enter(struct erofs_error_scope *s);
void erofs_error_scope_leave(struct erofs_error_scope *s);

/*
 * pthread_create() for the library's worker threads: a worker started in
 * a scope records its failures in that scope, and prints nothing, as its
 * caller would. The scope must outlive the thread (the caller joins it
 * before leaving). Returns 0 or a positive errno, as pthread_create().
 */
int erofs_thread_create(pthread_t *th, void *(*fn)(void *), void *arg);

/* Message levels, as erofs-utils' -d#: 0 quiet .. 9 debug. */
enum {
	EROFS_MSG_ERR = 1,
	EROFS_MSG_WARN = 2,
	EROFS_MSG_INFO = 3,
	EROFS_MSG_DBG = 7,
};

extern int erofs_msg_level;
extern const char *erofs_progname;

void erofs_msg(int level, const char *fmt, ...) __printf(2, 3);
#define erofs_warn(...) erofs_msg(EROFS_MSG_WARN, __VA_ARGS__)
#define erofs_info(...) erofs_msg(EROFS_MSG_INFO, __VA_ARGS__)
#define erofs_dbg(...) erofs_msg(EROFS_MSG_DBG, __VA_ARGS__)

/* Progress on a terminal: "what: done/total" redrawn in place. */
void erofs_progress(const char *what, u64 done, u64 total);
void erofs_progress_done(void);

#endif
