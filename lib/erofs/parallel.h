/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A pool of threads that runs numbered jobs, each once, in any order, and
 * shows progress on a terminal meanwhile. Jobs must not depend on the
 * order they run in: whatever decides image addresses happens before or
 * after, so that the image is the same for any number of threads.
 */
#ifndef EROFS_PARALLEL_H
#define EROFS_PARALLEL_H

#include "erofs/defs.h"

struct erofs_parallel {
	unsigned int nworkers; /* threads; at most the number of jobs */
	u64 njobs;
	void *ctx;
	/* per-thread state of "wsize" bytes, set up and torn down by these */
	size_t wsize;
	int (*winit)(void *ctx, void *w);
	void (*wexit)(void *ctx, void *w);
	/* job "i"; a negative errno stops the others at their next job */
	int (*run)(void *ctx, void *w, u64 i);
	/* optional: how much of "total" job "i" is, for the progress line */
	const char *what;
	u64 (*weight)(void *ctx, u64 i);
	u64 total;
};

/* Run every job; returns 0 or the first job's (or setup's) error. */
int erofs_parallel_run(const struct erofs_parallel *p);

#endif
