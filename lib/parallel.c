// SPDX-License-Identifier: GPL-2.0-or-later
/* A thread pool for independent numbered jobs, with a progress line. */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "erofs/error.h"
#include "erofs/parallel.h"

struct pool {
	const struct erofs_parallel *p;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	u64 next, done, done_weight;
	int error;
};

struct pool_thread {
	struct pool *pool;
	void *w;
	pthread_t th;
};

static void *pool_main(void *arg)
{
	struct pool_thread *t = arg;
	struct pool *pool = t->pool;
	const struct erofs_parallel *p = pool->p;

	for (;;) {
		u64 i;
		int ret;

		pthread_mutex_lock(&pool->lock);
		if (pool->error || pool->next >= p->njobs) {
			pthread_mutex_unlock(&pool->lock);
			break;
		}
		i = pool->next++;
		pthread_mutex_unlock(&pool->lock);

		ret = p->run(p->ctx, t->w, i);

		pthread_mutex_lock(&pool->lock);
		if (ret && !pool->error)
			pool->error = ret;
		pool->done++;
		if (p->weight)
			pool->done_weight += p->weight(p->ctx, i);
		if (pool->error || pool->done == p->njobs)
			pthread_cond_signal(&pool->cond);
		pthread_mutex_unlock(&pool->lock);
	}
	return NULL;
}

int erofs_parallel_run(const struct erofs_parallel *p)
{
	struct pool pool = { .p = p };
	unsigned int n = p->nworkers ? p->nworkers : 1, started = 0;
	struct pool_thread *t;
	u8 *ws = NULL;
	int ret = 0;

	if (!p->njobs)
		return 0;
	if (n > p->njobs)
		n = p->njobs;
	t = calloc(n, sizeof(*t));
	if (p->wsize)
		ws = calloc(n, p->wsize);
	if (!t || (p->wsize && !ws)) {
		free(t);
		free(ws);
		return -ENOMEM;
	}
	pthread_mutex_init(&pool.lock, NULL);
	pthread_cond_init(&pool.cond, NULL);
	for (; started < n; started++) {
		t[started].pool = &pool;
		t[started].w = ws ? ws + started * p->wsize : NULL;
		if (p->winit) {
			ret = p->winit(p->ctx, t[started].w);
			if (ret)
				break;
		}
		if (erofs_thread_create(&t[started].th, pool_main,
					&t[started])) {
			ret = -EAGAIN;
			if (p->wexit)
				p->wexit(p->ctx, t[started].w);
			break;
		}
	}
	pthread_mutex_lock(&pool.lock);
	if (ret && !pool.error)
		pool.error = ret;
	while (started && !pool.error && pool.done < p->njobs) {
		struct timespec ts;

		if (p->what)
			erofs_progress(p->what,
				       p->weight ? pool.done_weight >> 20
						 : pool.done,
				       p->weight ? p->total >> 20 : p->njobs);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&pool.cond, &pool.lock, &ts);
	}
	pthread_mutex_unlock(&pool.lock);
	for (unsigned int i = 0; i < started; i++) {
		pthread_join(t[i].th, NULL);
		if (p->wexit)
			p->wexit(p->ctx, t[i].w);
	}
	if (p->what)
		erofs_progress_done();
	ret = pool.error;
	pthread_mutex_destroy(&pool.lock);
	pthread_cond_destroy(&pool.cond);
	free(t);
	free(ws);
	return ret;
}
