/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Directories of an image: iterate the entries of a directory block by
 * block, checking every block (name offsets, lengths, valid names, file
 * types) and that names ascend strictly across the whole directory, and
 * look paths up.
 */
#ifndef EROFS_DIR_READ_H
#define EROFS_DIR_READ_H

#include "erofs/format.h"
#include "erofs/inode_read.h"

struct erofs_rdirent {
	erofs_nid_t nid;
	const char *name; /* not NUL-terminated; valid until the next call */
	u8 name_len; /* 1..255 */
	u8 file_type; /* EROFS_FT_*, below EROFS_FT_MAX */
};

/* Iteration state over one directory. */
struct erofs_dir_cursor {
	struct erofs_image *img;
	struct erofs_rinode dir;
	u64 blk, nblocks;
	u8 *buf; /* the current block */
	struct erofs_rdirent *ents; /* its entries */
	unsigned int nents, next;
	u8 prev[EROFS_NAME_LEN]; /* last name of the previous block */
	u8 prev_len;
};

int erofs_dir_open(struct erofs_dir_cursor *c, struct erofs_image *img,
		   const struct erofs_rinode *dir);
/*
 * The next entry ("." and ".." included): 1 and *d filled, 0 at the end,
 * or a negative errno with *why for a damaged block; the cursor then
 * stays at the end.
 */
int erofs_dir_next(struct erofs_dir_cursor *c, struct erofs_rdirent *d,
		   const char **why);
void erofs_dir_close(struct erofs_dir_cursor *c);

/* Whether an entry is "." or "..". */
static inline bool erofs_dirent_is_dot(const struct erofs_rdirent *d)
{
	return d->name[0] == '.' &&
	       (d->name_len == 1 || (d->name_len == 2 && d->name[1] == '.'));
}

/* Find "name" in directory "dir": 0 and *nid, -ENOENT, or damage. */
int erofs_dir_find(struct erofs_image *img, const struct erofs_rinode *dir,
		   const char *name, size_t len, erofs_nid_t *nid,
		   const char **why);

/*
 * Resolve an absolute or root-relative path ("/" is the root). Symlinks
 * are not followed. Records a message with erofs_fail() on failure.
 */
int erofs_lookup_path(struct erofs_image *img, const char *path,
		      erofs_nid_t *nid);

#endif
