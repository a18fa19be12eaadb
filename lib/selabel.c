// SPDX-License-Identifier: GPL-2.0-or-later
/* SELinux labels from a file contexts file (libselinux selabel). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "erofs/error.h"
#include "erofs/source.h"
#ifdef HAVE_SELINUX
#include <selinux/label.h>
#include <selinux/selinux.h>
#endif

#ifdef HAVE_SELINUX
static int label_node(struct selabel_handle *h, struct erofs_xattr_table *xt,
		      struct erofs_node *n, const char *mount_point)
{
	char path[PATH_MAX], full[PATH_MAX + 256];
	char *ctx = NULL;
	int ret;

	erofs_node_path(n, path, sizeof(path));
	/* the root is looked up as the mount point itself */
	if (!strcmp(path, "/") && strcmp(mount_point, "/"))
		snprintf(full, sizeof(full), "%s", mount_point);
	else
		snprintf(full, sizeof(full), "%s%s",
			 strcmp(mount_point, "/") ? mount_point : "", path);
	if (selabel_lookup(h, &ctx, full, n->mode)) {
		if (errno == ENOENT)
			return 0; /* no rule: keep what the source had */
		return erofs_fail(-errno, "%s: file contexts lookup failed: %s",
				  full, strerror(errno));
	}
	ret = erofs_xattr_set(xt, n, "security.selinux", ctx, strlen(ctx));
	freecon(ctx);
	if (ret)
		return erofs_fail(ret, "%s: cannot set SELinux label", full);
	return 0;
}
#endif

int erofs_apply_file_contexts(struct erofs_tree *tree,
			      struct erofs_xattr_table *xt, const char *file,
			      const char *mount_point)
{
#ifdef HAVE_SELINUX
	struct selinux_opt opt = { SELABEL_OPT_PATH, file };
	struct selabel_handle *h = selabel_open(SELABEL_CTX_FILE, &opt, 1);
	int ret = 0;

	if (!h)
		return erofs_fail(-errno ? -errno : -EINVAL,
				  "%s: cannot load file contexts: %s", file,
				  strerror(errno ? errno : EINVAL));
	for (struct erofs_node *n = tree->alloc_list; n && !ret;
	     n = n->next_alloc) {
		/* nodes unlinked from the tree have no path */
		if (n != tree->root && !n->name)
			continue;
		ret = label_node(h, xt, n, mount_point ? mount_point : "/");
	}
	selabel_close(h);
	return ret;
#else
	return erofs_fail(-EOPNOTSUPP,
			  "--file-contexts: built without libselinux");
#endif
}
