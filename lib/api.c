// SPDX-License-Identifier: GPL-2.0-or-later
/* The public API's version query and per-call errors (include/liberofs.h). */
#include <stdlib.h>
#include <string.h>

#include "api.h"

LIBEROFS_EXPORT unsigned int liberofs_version_number(void)
{
	return LIBEROFS_VERSION_NUMBER;
}

LIBEROFS_EXPORT const char *liberofs_version_string(void)
{
	return PACKAGE_VERSION;
}

/* The scope's message, or strerror's for a failure that recorded none. */
static char *take_message(struct erofs_error_scope *s, int ret)
{
	char *msg = s->msg;

	s->msg = NULL;
	if (!msg && !s->set)
		msg = strdup(strerror(-ret));
	return msg;
}

int liberofs_leave_errmsg(struct erofs_error_scope *s, int ret, char **errmsg)
{
	erofs_error_scope_leave(s);
	if (errmsg)
		*errmsg = ret < 0 ? take_message(s, ret) : NULL;
	free(s->msg);
	return ret;
}

int liberofs_leave_image(struct erofs_error_scope *s, int ret,
			 struct liberofs_image *h)
{
	erofs_error_scope_leave(s);
	if (ret < 0) {
		char *msg = take_message(s, ret);

		pthread_mutex_lock(&h->lock);
		free(h->msg);
		h->msg = msg;
		pthread_mutex_unlock(&h->lock);
	}
	free(s->msg);
	return ret;
}

/*
 * The message is copied for the thread that asks: another thread's failure
 * on the same handle may replace the handle's own meanwhile.
 */
static pthread_key_t errmsg_key;
static pthread_once_t errmsg_once = PTHREAD_ONCE_INIT;

static void errmsg_key_create(void)
{
	pthread_key_create(&errmsg_key, free);
}

LIBEROFS_EXPORT const char *liberofs_errmsg(const liberofs_image *img)
{
	struct liberofs_image *h = (struct liberofs_image *)img;
	char *copy;

	if (!h)
		return "no image handle";
	pthread_once(&errmsg_once, errmsg_key_create);
	pthread_mutex_lock(&h->lock);
	copy = strdup(h->msg ? h->msg : "");
	pthread_mutex_unlock(&h->lock);
	free(pthread_getspecific(errmsg_key));
	pthread_setspecific(errmsg_key, copy);
	return copy ? copy : "out of memory for the message";
}
