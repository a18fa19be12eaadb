// SPDX-License-Identifier: GPL-2.0-or-later
/* Ownership and time overrides applied to a finished source tree. */
#include <limits.h>

#include "erofs/error.h"
#include "erofs/source.h"

/* An id moved past 2^32 - 1 would wrap to another owner. */
static int add_offset(const struct erofs_node *n, u32 *id, u32 offset,
		      const char *what)
{
	char path[PATH_MAX];

	if ((u64)*id + offset > UINT32_MAX)
		return erofs_fail(-ERANGE, "%s: %s %u plus the offset %u is past 4294967295",
				  erofs_node_path(n, path, sizeof(path)), what,
				  *id, offset);
	*id += offset;
	return 0;
}

int erofs_apply_overrides(struct erofs_tree *tree,
			  const struct erofs_overrides *o)
{
	for (struct erofs_node *n = tree->alloc_list; n; n = n->next_alloc) {
		int ret;

		if (o->all_root) {
			n->uid = 0;
			n->gid = 0;
		}
		if (o->force_uid >= 0)
			n->uid = o->force_uid;
		if (o->force_gid >= 0)
			n->gid = o->force_gid;
		ret = add_offset(n, &n->uid, o->uid_offset, "uid");
		if (!ret)
			ret = add_offset(n, &n->gid, o->gid_offset, "gid");
		if (ret)
			return ret;

		switch (o->time_policy) {
		case EROFS_TIME_KEEP:
			break;
		case EROFS_TIME_FIXED:
			n->mtime = o->time;
			n->mtime_nsec = o->time_nsec;
			break;
		case EROFS_TIME_CLAMP:
			if (n->mtime > o->time ||
			    (n->mtime == o->time && n->mtime_nsec > o->time_nsec)) {
				n->mtime = o->time;
				n->mtime_nsec = o->time_nsec;
			}
			break;
		}
		if (o->fit_compact) {
			if (n->mtime < o->fit_epoch ||
			    n->mtime - o->fit_epoch > UINT32_MAX)
				n->mtime = o->time;
			n->mtime_nsec = o->time_nsec;
		}
	}
	return 0;
}
