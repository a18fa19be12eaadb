/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Image I/O. Output goes to an unnamed file in the destination's directory
 * that gets the destination's name only after everything was written and
 * synced, so a failed or killed build never leaves a half-written image. Input is bounds-checked
 * positional reads.
 */
#ifndef EROFS_IO_H
#define EROFS_IO_H

#include <pthread.h>
#include <sys/types.h>

#include "erofs/defs.h"

struct erofs_output {
	int fd;
	char *path; /* the destination */
	/* a named temporary, where the filesystem has no O_TMPFILE */
	char *tmppath;
	bool blockdev; /* written in place */
	bool durable; /* synced before the rename */
	u64 base; /* byte of the output where the image starts (--offset) */
	/* a thread that starts writeback, so that writers never wait for it */
	pthread_t flusher;
	bool flusher_running;
	bool flusher_stop;
	/* writeback is wanted below the first, was started below the second */
	u64 flush_requested, flush_started;
	int flush_err; /* a failed fdatasync of the thread */
	/* the image's device, whose filesystem shares blocks between files */
	bool clones;
	dev_t dev;
	pthread_mutex_t flush_lock;
	pthread_cond_t flush_cond;
};

/*
 * Without "durable" the image is renamed into place unsynced: a failed
 * build still leaves nothing behind, but a system crash soon after may
 * leave it incomplete. The image starts "base" bytes into the output; a
 * new file holds zeros (a hole) before it, a block device keeps its bytes.
 * Positions given to the calls below count from the image's start.
 */
int erofs_output_open(struct erofs_output *out, const char *path,
		      bool durable, u64 base);
int erofs_output_write(struct erofs_output *out, const void *buf, size_t len,
		       u64 pos);
/*
 * Copy "len" bytes of "srcfd" at "srcpos" to "pos": by copy_file_range()
 * where the image's filesystem can share the blocks with the source, else
 * through "buf" of "bufsz" bytes (NULL: a small one on the stack).
 */
int erofs_output_copy(struct erofs_output *out, int srcfd, u64 srcpos,
		      size_t len, u64 pos, void *buf, size_t bufsz);
/*
 * Nothing below "pos" will be written again before the commit: its
 * writeback may start now (a hint, never needed for correctness).
 */
void erofs_output_settled(struct erofs_output *out, u64 pos);
/* Set the final size, sync if durable, and move the image into place. */
int erofs_output_commit(struct erofs_output *out, u64 size);
/* Remove the temporary file; safe to call after commit or twice. */
void erofs_output_abort(struct erofs_output *out);
/*
 * For signal handlers (async-signal-safe): remove the named temporaries of
 * outputs not committed yet. Unnamed ones (O_TMPFILE) vanish by themselves.
 */
void erofs_output_unlink_temporaries(void);

struct erofs_input {
	int fd;
	u64 size;
	const char *path;
};

int erofs_input_open(struct erofs_input *in, const char *path);
void erofs_input_close(struct erofs_input *in);
/* Read exactly "len" bytes at "pos"; -EFSCORRUPTED past the end. */
int erofs_input_read(struct erofs_input *in, void *buf, size_t len, u64 pos);

/*
 * Open "rel" beneath directory "dirfd" with "flags" without following a
 * symlink in any component, the last included, and without leaving
 * "dirfd" through "..": a descriptor or -errno (-ELOOP for a symlink,
 * -EXDEV for an escape). openat2(2) where the kernel has it, else one
 * component at a time.
 */
int erofs_open_beneath(int dirfd, const char *rel, int flags);

/* Read exactly "len" bytes from "fd" at "pos"; short reads are -ENODATA. */
int erofs_pread_full(int fd, void *buf, size_t len, u64 pos);

#endif
