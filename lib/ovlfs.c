// SPDX-License-Identifier: GPL-2.0-or-later
/* Overlayfs metadata: strip whiteouts and opaque markers (--ovlfs-strip). */
#include <string.h>

#include "erofs/error.h"
#include "erofs/ovlfs.h"

/* nodes no entry names any more (replaced or removed) are left alone */
static bool in_tree(const struct erofs_tree *tree, const struct erofs_node *n)
{
	return n == tree->root || n->name;
}

int erofs_ovlfs_strip(struct erofs_tree *tree, struct erofs_xattr_table *xt)
{
	for (struct erofs_node *n = tree->alloc_list; n; n = n->next_alloc) {
		if (!in_tree(tree, n))
			continue;
		erofs_xattr_remove(xt, n, EROFS_OVL_OPAQUE_XATTR);
		if (!erofs_node_is_dir(n))
			continue;
		for (u32 i = 0; i < n->ndents;) {
			struct erofs_dentry *d = &n->dents[i];
			struct erofs_node *w = d->node;
			int ret;

			if (!erofs_ovlfs_is_whiteout(w)) {
				i++;
				continue;
			}
			/* the last entry moves into slot i */
			ret = erofs_dir_remove(tree, n, d->name, d->namelen);
			if (ret)
				return erofs_fail(ret, "cannot strip a whiteout: %s",
						  strerror(-ret));
			/* every link of a whiteout goes: its xattrs count no more */
			while (w->nxattrs)
				erofs_xattr_remove(xt, w, w->xattrs[0]->name);
		}
	}
	return 0;
}
