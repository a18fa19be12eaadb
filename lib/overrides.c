// SPDX-License-Identifier: GPL-2.0-or-later
/* Ownership and time overrides applied to a finished source tree. */
#include "erofs/source.h"

void erofs_apply_overrides(struct erofs_tree *tree,
			   const struct erofs_overrides *o)
{
	for (struct erofs_node *n = tree->alloc_list; n; n = n->next_alloc) {
		if (o->all_root) {
			n->uid = 0;
			n->gid = 0;
		}
		if (o->force_uid >= 0)
			n->uid = o->force_uid;
		if (o->force_gid >= 0)
			n->gid = o->force_gid;
		n->uid += o->uid_offset;
		n->gid += o->gid_offset;

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
	}
}
