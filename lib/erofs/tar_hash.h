/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fingerprints of data placed into the image in archive order (--sort=none),
 * computed by a thread of their own that reads each file back from the
 * image's page cache a little behind the reader writing it, so that hashing
 * does not lengthen the reader's loop.
 */
#ifndef EROFS_TAR_HASH_H
#define EROFS_TAR_HASH_H

#include "erofs/defs.h"

struct erofs_node;
struct erofs_output;
struct erofs_tar_hash;

/* Start the thread, reading back from the image "out". */
int erofs_tar_hash_start(struct erofs_tar_hash **h,
			 const struct erofs_output *out);

/*
 * The data of node "n" is being written at bytes [pos, pos + size) of the
 * image; the file added before it is complete. Fails with an error of the
 * thread's, recorded as erofs_tar_hash_finish() records it.
 */
int erofs_tar_hash_add(struct erofs_tar_hash *h, struct erofs_node *n, u64 pos,
		       u64 size);

/* The first "bytes" of the file added last are written. */
void erofs_tar_hash_written(struct erofs_tar_hash *h, u64 bytes);

/*
 * Wait for the thread and release everything. Unless "abort" is set, each
 * node added gets its fingerprint (fingerprint_known); returns 0 or a
 * recorded error.
 */
int erofs_tar_hash_finish(struct erofs_tar_hash *h, bool abort);

#endif
