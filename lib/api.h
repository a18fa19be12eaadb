/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the files of the public API (lib/api*.c, include/liberofs.h) share:
 * the exported mark, the image handle, and turning a call's recorded
 * failure into its message.
 */
#ifndef LIBEROFS_API_H
#define LIBEROFS_API_H

#include <pthread.h>

#include "erofs/error.h"
#include "erofs/image_open.h"
#include "liberofs.h"

/* everything else in the library is built with hidden visibility */
#define LIBEROFS_EXPORT __attribute__((visibility("default")))

struct liberofs_image {
	struct erofs_image img;
	/* the latest failure's message (liberofs_errmsg) */
	pthread_mutex_t lock;
	char *msg;
};

/*
 * Each API call runs in an error scope of its own (erofs/error.h), so
 * that the library's recorded failures stay with the call. The leave
 * functions end it and hand the message on: to *errmsg, or to the handle.
 * Without a recorded message, "ret"'s strerror() stands for it.
 */
int liberofs_leave_errmsg(struct erofs_error_scope *s, int ret, char **errmsg);
int liberofs_leave_image(struct erofs_error_scope *s, int ret,
			 struct liberofs_image *h);

#endif
