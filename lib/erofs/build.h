/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Building an image from an in-memory tree (lib/build.c runs the stages,
 * erofs/stages.h): what mkfs calls.
 *
 * Image layout: the superblock block (with the long xattr prefix table after
 * the superblock), then file data, directory and symlink blocks, then the
 * shared xattr area, then the metadata area holding every inode with its
 * xattrs, maps and inline tail. Data comes first so that its size can be
 * settled while it is written; metadata follows once every size is known.
 *
 * With -m the records lie in the metabox instead, the data of an inode of
 * its own (lib/metabox.c), compressed after the file data; the metadata
 * area then holds the metabox inode and the packed inode only. With --zD
 * directories are fragments of the packed inode; with --MZ=d their blocks
 * follow the file data together.
 */
#ifndef EROFS_BUILD_H
#define EROFS_BUILD_H

#include "erofs/build_opts.h"
#include "erofs/tree.h"
#include "erofs/xattr.h"

/*
 * Where the data area of an uncompressed image without extra devices
 * starts, for a source that places file data before the build: after the
 * superblock and the table of every long xattr prefix "xt" holds.
 */
erofs_blk_t erofs_build_data_start(const struct erofs_build_opts *opts,
				   const struct erofs_xattr_table *xt);

/* Build "path" from "tree"; on failure nothing is left at "path". */
int erofs_build_image(struct erofs_tree *tree, struct erofs_xattr_table *xt,
		      const struct erofs_build_opts *opts, const char *path);

#endif
