/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tar entry metadata for the tar reader: owner, modification time, xattrs
 * and POSIX ACLs of a libarchive entry, set on a tree node.
 */
#ifndef EROFS_TAR_META_H
#define EROFS_TAR_META_H

#include "erofs/tree.h"
#include "erofs/xattr.h"

struct archive_entry;

struct erofs_tar_meta {
	struct erofs_xattr_table *xt;
	bool read_xattrs; /* false: xattrs and ACLs are left out (-x -1) */
	const char *what; /* "TARBALL: entry 'NAME' (...)", for messages */
};

/* uid, gid and mtime with nanoseconds. */
int erofs_tar_meta_owner_time(const struct erofs_tar_meta *m,
			      struct archive_entry *e, struct erofs_node *n);

/*
 * Replace the node's xattrs with the entry's (SCHILY.xattr.*,
 * LIBARCHIVE.xattr.*, and POSIX ACLs as system.posix_acl_* values), and
 * set the group permission bits from the ACL mask when there is one.
 */
int erofs_tar_meta_xattrs(const struct erofs_tar_meta *m,
			  struct archive_entry *e, struct erofs_node *n);

/* Drop every xattr of "n" (their use counts go down). */
void erofs_tar_meta_drop_xattrs(struct erofs_xattr_table *xt,
				struct erofs_node *n);

#endif
