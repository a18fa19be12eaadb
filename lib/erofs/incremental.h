/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Incremental builds (--incremental): a new layer (a directory or a tar)
 * goes on top of an existing image. The image's blocks stay as they are
 * but for the superblock and the ".." entries of directories whose parent
 * changed; new data and inodes are appended. Directories the layer
 * touches are written anew, holding the layer's entries and the old
 * image's untouched ones, which keep their nids; whole untouched subtrees
 * are not rewritten. The same overlayfs rules as merging hide old entries
 * under whiteouts, opaque directories and new entries of the same name.
 *
 * The build happens in a copy of the image (cloned where the filesystem
 * can), renamed over it at the end: a failed append leaves the old image
 * as it was, and readers see the old image or the new one, never a mix.
 */
#ifndef EROFS_INCREMENTAL_H
#define EROFS_INCREMENTAL_H

#include "erofs/build_opts.h"
#include "erofs/tree.h"
#include "erofs/xattr.h"

struct erofs_incr;

/*
 * Open the image at "path" to append to. Refuses what cannot take an
 * append: metadata compression, long xattr prefixes kept in the packed
 * inode.
 */
int erofs_incr_open(struct erofs_incr **out, const char *path);
void erofs_incr_close(struct erofs_incr *in);

/*
 * Make the new build follow the old image: its block size, epoch and (with
 * "keep_uuid") UUID into "opts", its long xattr prefixes first in "xt"
 * (before any xattr is set), and its fingerprint name (*ishare_name, NULL
 * if it records none), which the new files must use too.
 */
int erofs_incr_setup(struct erofs_incr *in, struct erofs_build_opts *opts,
		     struct erofs_xattr_table *xt, bool keep_uuid,
		     const char **ishare_name);

/*
 * Put the old image's entries under the new tree's directories (after the
 * source read it, before stripping overlayfs markers) and give "opts" what
 * the build needs to append (opts->base).
 */
int erofs_incr_graft(struct erofs_incr *in, struct erofs_tree *tree,
		     struct erofs_xattr_table *xt,
		     struct erofs_build_opts *opts);

#endif
