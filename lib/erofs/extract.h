/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Extracting an image's tree into a directory DIR. Everything is created
 * relative to directory descriptors opened without following symlinks, so
 * whatever names, symlinks or hard links an image holds, nothing outside
 * DIR is created, followed or written: names are checked again here, new
 * files are created exclusively, and an existing entry is only replaced
 * (with overwrite) after it was removed.
 */
#ifndef EROFS_EXTRACT_H
#define EROFS_EXTRACT_H

#include <sys/types.h>

#include "erofs/inode_read.h"
#include "erofs/walk.h"

struct erofs_extract_opts {
	const char *dir;
	bool overwrite; /* replace entries that exist in DIR */
	bool preserve_owner; /* chown to the image's uid/gid */
	bool preserve_perms; /* exact modes, else masked by umask */
	bool xattrs; /* restore xattrs user space can set */
	mode_t umask;
};

struct erofs_extractor;

/* Open (creating it if missing) DIR. Records a message on failure. */
int erofs_extract_open(struct erofs_extractor **xp, struct erofs_image *img,
		       const struct erofs_extract_opts *opts);
/* Close directory descriptors; nothing else is touched afterwards. */
void erofs_extract_close(struct erofs_extractor *x);

/*
 * Create the entry the walk is at. Directories are opened for their
 * children; a regular file comes back open in *fd for its data (the caller
 * then calls erofs_extract_finish_file()), -1 for a hard link made to an
 * earlier path. "target" is a symlink's target. Returns 0, or a negative
 * errno with a reason in *why (then nothing below a directory is made).
 */
int erofs_extract_entry(struct erofs_extractor *x,
			const struct erofs_walk_entry *e, const char *target,
			int *fd, const char **why);
/* Owner, mode, xattrs and times of a directory, after its children. */
int erofs_extract_leave(struct erofs_extractor *x,
			const struct erofs_walk_entry *e, const char **why);
/*
 * Finish a regular file whose data was written to "fd": size, owner,
 * mode, xattrs, times; closes fd. Safe to call from worker threads.
 */
int erofs_extract_finish_file(struct erofs_extractor *x, int fd,
			      const struct erofs_rinode *ri, const char **why);

#endif
