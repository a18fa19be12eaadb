/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helpers shared by the fuzz targets: the input as a file the library can
 * open by path (a memfd), sinks for reports, a private scratch directory,
 * and a quiet library. The same targets run under libFuzzer (configure
 * --enable-fuzzing) and, in other builds, under fuzz/replay.c, which feeds
 * them saved inputs for the regression test.
 */
#ifndef EROFS_FUZZ_H
#define EROFS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The entry point libFuzzer calls for every input. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Bytes of a path naming a file descriptor ("/proc/self/fd/N"). */
#define FUZZ_PATH_MAX 64

/*
 * A memory file holding "data", and its path in "path". Returns the
 * descriptor (close it when done); aborts when the system refuses, as no
 * input can be tested then.
 */
int fuzz_memfd(const uint8_t *data, size_t size, char *path);
/*
 * The same through a pipe holding all of it, the writer end closed (a
 * memfd when the pipe cannot hold that much).
 */
int fuzz_pipe(const uint8_t *data, size_t size, char *path);

/* Write-only sinks for report text, opened once. */
FILE *fuzz_null_file(void);
int fuzz_null_fd(void);

/* A scratch directory of this process (on tmpfs when there is one). */
const char *fuzz_scratch_dir(void);
/* Remove everything below "dir", keeping "dir" itself. */
void fuzz_empty_dir(const char *dir);

/* Silence the library's messages and forget the last error. */
void fuzz_quiet(void);

#endif
