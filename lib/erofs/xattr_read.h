/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Extended attributes of an inode in an image: decode the inline area and
 * the shared entries it refers to, rebuild full names from short and long
 * prefixes, and check counts, sizes and the name filter on the way.
 */
#ifndef EROFS_XATTR_READ_H
#define EROFS_XATTR_READ_H

#include "erofs/inode_read.h"

/* Longest full name: a short prefix, a long infix and a suffix. */
#define EROFS_XATTR_FULLNAME_MAX (24 + 255 + 255)

struct erofs_xattr_ref {
	const char *name; /* full name, NUL-terminated */
	unsigned int name_len;
	const u8 *value;
	unsigned int value_len;
	u8 disk_index; /* e_name_index as stored */
	u8 base_index; /* EROFS_XATTR_INDEX_* the name belongs to, 0: none */
	bool shared; /* from the shared area */
	u32 shared_id; /* when shared */
};

/* Called per xattr, inline ones first; a non-zero return stops the loop. */
typedef int (*erofs_xattr_fn)(void *arg, const struct erofs_xattr_ref *x);

/*
 * Decode every xattr of "ri" and call "fn" for each. Zero-size padding
 * entries are skipped. Damage is -EFSCORRUPTED with the reason in *why.
 */
int erofs_xattr_foreach(struct erofs_image *img, const struct erofs_rinode *ri,
			erofs_xattr_fn fn, void *arg, const char **why);

/*
 * Value of the xattr named "name" (the first one, as the kernel does):
 * its length, copying at most "size" bytes to "buf"; -ENODATA if absent.
 */
int erofs_xattr_get(struct erofs_image *img, const struct erofs_rinode *ri,
		    const char *name, void *buf, size_t size, const char **why);

/* Whether user space can see and set a name of this index. */
bool erofs_xattr_index_visible(unsigned int base_index);

#endif
