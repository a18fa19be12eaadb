/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Decoding one physical cluster of a compressed file: lz4, MicroLZMA, zstd
 * or raw deflate data (after its zero padding) into the extent's bytes.
 */
#ifndef EROFS_DECOMPRESS_H
#define EROFS_DECOMPRESS_H

#include "erofs/defs.h"

/* Whether this build can decode Z_EROFS_COMPRESSION_* "alg". */
bool erofs_decompress_available(unsigned int alg);

/*
 * Decode the cluster "in" (inlen bytes as stored) into exactly "outlen"
 * bytes at "out". "zero_padding": the data is right-aligned after zeros
 * that start within the first "blksz" bytes. "partial": the stream holds
 * more than "outlen" bytes and only that prefix is wanted. Returns
 * -EFSCORRUPTED (with a reason in "why") for data that does not decode to
 * exactly that, -EOPNOTSUPP for an algorithm this build lacks.
 */
int erofs_decompress(unsigned int alg, const u8 *in, u32 inlen, u8 *out,
		     u32 outlen, bool zero_padding, bool partial, u32 blksz,
		     const char **why);

#endif
