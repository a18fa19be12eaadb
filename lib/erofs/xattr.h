/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Extended attributes for the writer: every (name, value) pair is interned
 * once per build, names are split into an on-disk prefix (one of the short
 * standard prefixes or a long prefix from the table) and a suffix, pairs
 * that recur go to the shared area, and each inode's xattr body is encoded
 * with its name filter.
 */
#ifndef EROFS_XATTR_H
#define EROFS_XATTR_H

#include "erofs/defs.h"
#include "erofs/tree.h"

#define EROFS_XATTR_MAX_LONG_PREFIXES 128
#define EROFS_XATTR_VALUE_MAX 65535U
/* "sha256:" and 32 raw digest bytes */
#define EROFS_FINGERPRINT_TAG "sha256:"
#define EROFS_FINGERPRINT_VALUE_SIZE 39

struct erofs_xattr_item {
	char *name; /* full name, NUL-terminated */
	u8 *value;
	u32 value_len;
	u16 name_len;
	u8 base_index; /* standard prefix (EROFS_XATTR_INDEX_*), 0 if none */
	u8 disk_index; /* e_name_index: base index or 0x80 | long prefix */
	u8 prefix_len; /* bytes of name the on-disk prefix stands for */
	u32 refcount;
	s64 shared_id; /* in 4-byte units from the shared area, or -1 */
	u32 hash;
	struct erofs_xattr_item *next;
};

struct erofs_xattr_long_prefix_def {
	char *prefix; /* full prefix string, e.g. "trusted.overlay." */
	u8 base_index;
	u8 base_len;
	bool used;
};

struct erofs_xattr_table {
	struct erofs_xattr_item **buckets;
	u64 nbuckets;
	u64 count;
	struct erofs_xattr_long_prefix_def prefixes[EROFS_XATTR_MAX_LONG_PREFIXES];
	unsigned int nr_prefixes;
	int ishare_prefix; /* long prefix of the fingerprint, or -1 */
	/* shared area, in id order */
	struct erofs_xattr_item **shared;
	u64 nr_shared;
	u64 shared_size; /* bytes */
	bool name_filter; /* write the per-inode name Bloom filter */
	long tolerance; /* -x: share pairs used more often; <0 drops xattrs */
	bool tolerance_set;
};

int erofs_xattr_table_init(struct erofs_xattr_table *t);
void erofs_xattr_table_free(struct erofs_xattr_table *t);

/* Register a long name prefix (--xattr-prefix). Returns its index. */
int erofs_xattr_add_long_prefix(struct erofs_xattr_table *t,
				const char *prefix);
/*
 * Make "names" the first long prefixes, in that order (an image appended
 * to numbers its prefixes so). Only before any xattr is set.
 */
int erofs_xattr_put_prefixes_first(struct erofs_xattr_table *t,
				   const char *const *names, unsigned int n);
/* Register the fingerprint name (--ishare=NAME) as a long prefix. */
int erofs_xattr_set_ishare_name(struct erofs_xattr_table *t, const char *name);

/*
 * Set (or replace) xattr "name" on "node". -E2BIG: value over 65535 bytes,
 * -ERANGE: name too long, -ENOSPC: too many xattrs on the node,
 * -EBADMSG: a system.posix_acl_* value that is not a POSIX ACL.
 */
int erofs_xattr_set(struct erofs_xattr_table *t, struct erofs_node *node,
		    const char *name, const void *value, size_t len);
/* Remove xattr "name" from "node"; 0 whether or not it was there. */
void erofs_xattr_remove(struct erofs_xattr_table *t, struct erofs_node *node,
			const char *name);
/*
 * Read every supported xattr of the file that "fd" (O_PATH will do) refers
 * to, through /proc/self/fd; where /proc is not mounted, of the file at
 * "path" without following a symlink there, failing unless that is still
 * the file "fd" holds. "path" names the file in messages.
 */
int erofs_xattr_read_file(struct erofs_xattr_table *t, struct erofs_node *node,
			  int fd, const char *path);
/* Whether "value" is a POSIX ACL blob as the kernel reads one. */
bool erofs_acl_valid(const void *value, size_t len);
/* What an error of erofs_xattr_set() means, for messages. */
const char *erofs_xattr_strerror(int err);
/* Whether the writer can store an xattr with this name. */
bool erofs_xattr_name_supported(const char *name);

/*
 * After the tree is complete: choose shared pairs, enable the features the
 * names need, and compute every node's inline xattr body size.
 */
int erofs_xattr_plan(struct erofs_xattr_table *t, struct erofs_tree *tree);

/* Size of the node's xattr body as planned (0 without xattrs). */
unsigned int erofs_xattr_ibody_bytes(const struct erofs_xattr_table *t,
				     const struct erofs_node *node);
/* Encode the node's xattr body into "buf" (erofs_xattr_ibody_bytes). */
void erofs_xattr_encode_ibody(const struct erofs_xattr_table *t,
			      const struct erofs_node *node, u8 *buf);
/* Encode the shared area (t->shared_size bytes). */
void erofs_xattr_encode_shared(const struct erofs_xattr_table *t, u8 *buf);
/* Size and encoding of the long prefix table (only used prefixes). */
unsigned int erofs_xattr_prefix_table_size(const struct erofs_xattr_table *t);
void erofs_xattr_encode_prefix_table(const struct erofs_xattr_table *t,
				     u8 *buf);
/* The same in a buffer of its own (for the packed inode), or NULL. */
u8 *erofs_xattr_prefix_table_alloc(const struct erofs_xattr_table *t,
				   u32 *size);
/* Number of long prefixes written, and the fingerprint's index in them. */
unsigned int erofs_xattr_nr_long_prefixes(const struct erofs_xattr_table *t);
bool erofs_xattr_uses_long_prefixes(const struct erofs_xattr_table *t);

/* The standard prefix string of a short index, or NULL. */
const char *erofs_xattr_prefix_string(unsigned int index);
/* Longest standard prefix of "name": its index (0 if none) and length. */
unsigned int erofs_xattr_match_prefix(const char *name, unsigned int *len);
/* The filter bit of a name whose standard prefix is "base_index". */
unsigned int erofs_xattr_filter_bit(unsigned int base_index,
				    const char *suffix, size_t len);

#endif
