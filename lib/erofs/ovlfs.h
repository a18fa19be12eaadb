/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Overlayfs metadata in a finished source tree: whiteouts (character
 * devices 0/0) and opaque directories (trusted.overlay.opaque), stripped
 * on request (--ovlfs-strip) so that the image is a plain filesystem.
 */
#ifndef EROFS_OVLFS_H
#define EROFS_OVLFS_H

#include "erofs/tree.h"
#include "erofs/xattr.h"

#define EROFS_OVL_OPAQUE_XATTR "trusted.overlay.opaque"
#define EROFS_OVL_ORIGIN_XATTR "trusted.overlay.origin"

/* Whether "n" is an overlayfs whiteout. */
static inline bool erofs_ovlfs_is_whiteout(const struct erofs_node *n)
{
	return (n->mode & 0170000) == 0020000 && !n->rdev;
}

/*
 * Drop every whiteout entry and every trusted.overlay.opaque xattr. Call
 * before erofs_build_image() (it needs the tree's name lookups).
 */
int erofs_ovlfs_strip(struct erofs_tree *tree, struct erofs_xattr_table *xt);

#endif
