/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The extents of a compressed inode in an image: its map read as a
 * stream (through the codec of erofs/zmap.h) and checked as the kernel
 * checks it, and an extent's stored bytes read and decompressed.
 */
#ifndef EROFS_ZEXTENT_H
#define EROFS_ZEXTENT_H

#include "erofs/inode_read.h"
#include "erofs/zmap.h"

/*
 * The extent of a compressed inode containing "la" (< i_size). The map is
 * read as a stream: a cursor per thread (three of them, for a file, the
 * metabox inode its record is in and the packed inode holding fragments)
 * walks the indexes front to back and checks each extent (heads, cluster
 * sizes, bounds) as it reaches it; its memory does not grow with the map.
 * An offset before the cursor starts it over, so reads should go front to
 * back.
 */
int erofs_zextent_lookup(struct erofs_image *img,
			 const struct erofs_rinode *ri, u64 la,
			 struct erofs_zx *x, const char **why);
/*
 * The packed inode, checked to hold "len" bytes of fragments at "off"
 * and to be safe to read them from (no fragments of its own, no larger
 * than the image unless compressed).
 */
int erofs_zextent_packed(struct erofs_image *img, u64 off, u64 len,
			 struct erofs_rinode *packed, const char **why);
/*
 * Decode extent "x" (stored in a cluster, inline or a hole, not a
 * fragment: the caller reads those from the packed inode) into "out"
 * (x->llen bytes).
 */
int erofs_zextent_read(struct erofs_image *img, const struct erofs_zx *x,
		       u8 *out, const char **why);
/* Compressed bytes a compressed inode's extents occupy (for statistics). */
int erofs_zextent_stored_bytes(struct erofs_image *img,
			       const struct erofs_rinode *ri, u64 *bytes,
			       const char **why);

#endif
