/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The byte stream under the tar reader: a plain tar file read in place, or
 * a file or pipe read (a plain tar) or decompressed (gzip with zlib, which
 * checks each member's CRC and length; any other compression libarchive
 * detects by its magic) in a thread of its own, handed on in large blocks,
 * optionally copied to a dump file on the way.
 */
#ifndef EROFS_TAR_STREAM_H
#define EROFS_TAR_STREAM_H

#include <sys/types.h>

#include "erofs/defs.h"

struct erofs_tar_stream;

/*
 * Start reading "fd" ("name" for messages); when "dump_path" is set the
 * decompressed bytes are also written there. The descriptor stays the
 * caller's.
 */
int erofs_tar_stream_open(struct erofs_tar_stream **out, int fd,
			  const char *name, const char *dump_path);

/*
 * The next block of decompressed bytes, valid until the next call: its
 * length, 0 at the end, or -1 when the stream failed (see _error()).
 */
ssize_t erofs_tar_stream_read(struct erofs_tar_stream *s, const void **buf);

/*
 * A plain tar in a regular file (and no dump) is read in place: data can
 * be skipped without reading it, and read again later from the same file
 * at the same offsets. Skip returns the bytes skipped (fewer at the end).
 */
bool erofs_tar_stream_seekable(struct erofs_tar_stream *s);
u64 erofs_tar_stream_skip(struct erofs_tar_stream *s, u64 len);

/* Why the stream failed, with the input offset; NULL if it did not. */
const char *erofs_tar_stream_error(struct erofs_tar_stream *s);

/* Bytes of the input consumed so far (compressed bytes, if compressed). */
u64 erofs_tar_stream_input_pos(struct erofs_tar_stream *s);

/* The compression found, "none" for a plain archive. */
const char *erofs_tar_stream_filter(struct erofs_tar_stream *s);

/*
 * Stop the thread and release everything. Returns 0, or -EIO when the
 * dump file could not be completed (the message is recorded).
 */
int erofs_tar_stream_close(struct erofs_tar_stream *s);

#endif
