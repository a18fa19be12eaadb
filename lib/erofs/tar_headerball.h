/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * --tar=headerball: a tar stream without its regular files' data, handed
 * to the tar parser as a whole tar whose file data reads as zeroes.
 */
#ifndef EROFS_TAR_HEADERBALL_H
#define EROFS_TAR_HEADERBALL_H

#include <sys/types.h>

#include "erofs/defs.h"

struct erofs_headerball;
struct erofs_tar_stream;

int erofs_headerball_new(struct erofs_headerball **hb,
			 struct erofs_tar_stream *s);
void erofs_headerball_free(struct erofs_headerball *hb);
/*
 * Like erofs_tar_stream_read(): the next piece of the whole tar, valid
 * until the next call; 0 at the end, -1 on failure (see _error(), or the
 * stream's own error when that is NULL).
 */
ssize_t erofs_headerball_read(struct erofs_headerball *hb, const void **buf);
/* Skip up to "len" bytes of left-out data; returns the bytes skipped. */
u64 erofs_headerball_skip(struct erofs_headerball *hb, u64 len);
const char *erofs_headerball_error(const struct erofs_headerball *hb);

#endif
