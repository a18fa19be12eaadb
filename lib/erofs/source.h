/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Sources fill the in-memory tree: a directory scanner (lib/source_dir.c),
 * the tar reader (lib/tar.c), and the rules every source shares: which
 * paths to leave out, ownership and time overrides, SELinux labels.
 */
#ifndef EROFS_SOURCE_H
#define EROFS_SOURCE_H

#include "erofs/defs.h"
#include "erofs/tree.h"
#include "erofs/xattr.h"

/* --exclude-path / --exclude-regex, matched on the path in the image
 * without its leading '/'. */
struct erofs_exclude;

int erofs_exclude_add_path(struct erofs_exclude **ex, const char *path);
int erofs_exclude_add_regex(struct erofs_exclude **ex, const char *regex);
bool erofs_exclude_match(const struct erofs_exclude *ex, const char *relpath);
void erofs_exclude_free(struct erofs_exclude *ex);

struct erofs_source_opts {
	struct erofs_xattr_table *xattrs;
	bool read_xattrs;
	const struct erofs_exclude *exclude;
	bool hard_dereference; /* every name of a hardlink its own inode */
};

/*
 * Scan directory "srcdir" into "tree" (the root is srcdir itself). The
 * tree keeps srcdir's descriptor to open the files beneath it.
 */
int erofs_source_dir_scan(struct erofs_tree *tree, const char *srcdir,
			  const struct erofs_source_opts *opts);

/*
 * Open the data of a regular file of a directory source (EROFS_DATA_FILE)
 * beneath the source directory, following no symlink on the way, and
 * check that it is the file the scan saw (device, inode, type): a
 * descriptor with its fstat() in "st", or -errno with a message naming
 * the file.
 */
struct stat;
int erofs_source_open_file(const struct erofs_tree *tree,
			   const struct erofs_node *n, struct stat *st);

enum erofs_time_policy {
	EROFS_TIME_KEEP, /* per-file mtimes as the source has them */
	EROFS_TIME_FIXED, /* every file gets the given time */
	EROFS_TIME_CLAMP, /* times after the given time become it */
};

struct erofs_overrides {
	bool all_root;
	s64 force_uid; /* -1: unset */
	s64 force_gid;
	u32 uid_offset;
	u32 gid_offset;
	enum erofs_time_policy time_policy;
	s64 time;
	u32 time_nsec;
	/*
	 * --ignore-mtime with 48-bit compact inodes: a time that fits after
	 * "fit_epoch" loses its nanoseconds only, others become "time".
	 */
	bool fit_compact;
	s64 fit_epoch;
};

/*
 * Apply ownership and time overrides to every node of the tree; an id
 * offset that would carry an id past 2^32 - 1 is an error naming the file.
 */
int erofs_apply_overrides(struct erofs_tree *tree,
			  const struct erofs_overrides *o);

/*
 * Label every node with security.selinux from the file contexts "file",
 * looking paths up as mount_point + path in the image.
 */
int erofs_apply_file_contexts(struct erofs_tree *tree,
			      struct erofs_xattr_table *xt, const char *file,
			      const char *mount_point);

#endif
