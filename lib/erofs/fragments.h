/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The packed inode's data: file tails (-E fragments), whole files
 * (-E all-fragments) and directories (--zD) gathered in commit order, each
 * identical fragment stored once where -E fragdedupe allows, then written
 * as a regular file of its own in no directory, compressed like any other
 * (without fragments). With fragments the long xattr prefix table opens
 * it.
 */
#ifndef EROFS_FRAGMENTS_H
#define EROFS_FRAGMENTS_H

#include "erofs/defs.h"

struct erofs_build;
struct erofs_fragments;

/* The build's fragments, gathering from the first call; NULL: no memory. */
struct erofs_fragments *erofs_fragments_get(struct erofs_build *b);
/* Bytes gathered so far: where the next fragment will lie. */
u64 erofs_fragments_size(const struct erofs_fragments *fr);
/* Append "len" bytes (a new fragment, or the rest of the last one). */
int erofs_fragments_append(struct erofs_fragments *fr, const u8 *p, u32 len);
/*
 * The offset of an identical fragment gathered before, or of these bytes
 * appended now.
 */
int erofs_fragments_add_shared(struct erofs_fragments *fr, const u8 *p, u32 len,
			       u64 *off);
/* Gather "len" bytes for the packed inode; *off: where they will lie. */
int erofs_packed_add(struct erofs_build *b, const u8 *data, u32 len, u64 *off);
void erofs_packed_free(struct erofs_build *b);

#endif
