/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Walking the directory tree of an image, parents before children, with
 * loop detection (a directory reached twice), bounded depth, hard link
 * tracking and the checks that need the tree: "." and "..", dirent file
 * types against inodes, link counts. Problems go to a callback and the
 * walk goes on where it safely can; nothing here prints.
 */
#ifndef EROFS_WALK_H
#define EROFS_WALK_H

#include "erofs/inode_read.h"

/* Deepest directory nesting the walk follows. */
#define EROFS_WALK_MAX_DEPTH 2048

struct erofs_walk_entry {
	const char *path; /* full path in the image, "/" for the root */
	const char *relpath; /* below the walk's start, "" for the start */
	const char *name; /* last component, "" for the start */
	erofs_nid_t nid;
	erofs_nid_t parent_nid;
	unsigned int depth; /* 0 for the start */
	u8 file_type; /* from the directory entry */
	const struct erofs_rinode *inode;
	u32 seen; /* earlier visits of this nid: a hard link when > 0 */
	/* relpath of the first visit when seen > 0 and it was kept */
	const char *first_relpath;
};

/* Return values of the visit callback besides 0 and negative errnos. */
#define EROFS_WALK_SKIP 1 /* do not descend into this directory */

struct erofs_walk_ops {
	/* every inode reached; a negative return ends the walk */
	int (*visit)(void *arg, const struct erofs_walk_entry *e);
	/* after the children of a visited directory; may be NULL */
	int (*leave)(void *arg, const struct erofs_walk_entry *e);
	/*
	 * A problem at "path": err is -EFSCORRUPTED for damage,
	 * -EOPNOTSUPP for what cannot be checked, another negative errno
	 * for operational errors, 0 for a warning.
	 */
	void (*problem)(void *arg, const char *path, erofs_nid_t nid, int err,
			const char *msg);
};

struct erofs_walk_stats {
	u64 inodes; /* distinct inodes reached */
	u64 entries; /* directory entries followed, the start included */
	u64 dirs;
	u64 problems;
};

/*
 * Walk from inode "start" (the root: img->sb.root_nid), naming it
 * "start_path" in messages. Returns 0 when the walk went through (problems
 * were reported through ops->problem), or the negative errno that stopped
 * it (a callback's, or -ENOMEM).
 */
int erofs_walk(struct erofs_image *img, erofs_nid_t start,
	       const char *start_path, const struct erofs_walk_ops *ops,
	       void *arg, struct erofs_walk_stats *stats);

#endif
