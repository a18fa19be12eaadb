/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The in-memory tree a source (directory or tar) produces and the layout
 * consumes: nodes with their metadata and where their data comes from,
 * directories with named entries. Nothing here depends on the image.
 */
#ifndef EROFS_TREE_H
#define EROFS_TREE_H

#include <sys/types.h>

#include "erofs/defs.h"

struct erofs_xattr_item;

enum erofs_data_kind {
	EROFS_DATA_NONE, /* directories, devices, fifos, sockets, empty */
	EROFS_DATA_FILE, /* a file in the source tree: src.file */
	EROFS_DATA_SPOOL, /* bytes at src.off of the tree's spool file */
	EROFS_DATA_MEM, /* bytes in memory: src.mem (symlink targets) */
	EROFS_DATA_EXTERNAL, /* on an extra device: src.ext (tar index) */
	EROFS_DATA_PLACED, /* in the image already, at byte src.off */
	EROFS_DATA_READER, /* read on demand through src.reader */
	EROFS_DATA_RESERVED, /* blocks reserved, never written (zeroes) */
};

/*
 * Data a source reads on demand (a file of an image being merged): the
 * source owns it and keeps it valid until the tree is freed.
 */
struct erofs_data_reader {
	/* "len" bytes at "pos": 0, or a negative errno with a message */
	int (*read)(const struct erofs_data_reader *r, void *buf, size_t len,
		    u64 pos);
	const char *what; /* names the data in messages */
};

/*
 * Data that stays where it is, on an extra device of the image: the tar
 * stream of a tar index, or a layer of a merged image. The image only
 * records where each chunk lies; the build never reads these bytes.
 */
#define EROFS_EXT_HOLE UINT64_MAX

struct erofs_ext_data {
	u16 device; /* device id: 1 for the first extra device */
	u8 chunkbits; /* log2 of the chunk size in bytes */
	u64 nchunks;
	u64 *blk; /* per chunk: block on the device, or EROFS_EXT_HOLE */
	u64 blk1; /* the only chunk's block, when blk points here */
};

/*
 * A regular file of a directory source: opened again for its data beneath
 * the source directory's descriptor (erofs_tree.src_dirfd), never along
 * its whole path, and checked to be the file the scan saw.
 */
struct erofs_src_file {
	u64 dev, ino; /* as the scan saw it */
	u32 rel; /* where, in path, the part below the source directory starts */
	char path[]; /* the whole path, for messages */
};

struct erofs_node;

struct erofs_dentry {
	struct erofs_node *node;
	char *name;
	u8 namelen; /* 1..255 */
};

/* What the layout decides for a node; written by lib/layout.c only. */
struct erofs_node_layout {
	erofs_nid_t nid;
	erofs_blk_t blkaddr; /* first data block, or chunk map base */
	u64 nblocks; /* data blocks outside the metadata area */
	u64 meta_pos; /* byte offset of the record in the metadata area
		       * (or in the metabox) */
	u32 inode_size; /* 32 or 64 */
	u32 xattr_size; /* inline xattr body */
	u32 extra_size; /* chunk map or compression indexes */
	u32 inline_size; /* tail data inside the metadata area */
	u8 version; /* EROFS_INODE_LAYOUT_* */
	u8 datalayout; /* EROFS_INODE_* */
	u8 chunkbits; /* chunk-based files: log2(chunk size / block) */
	u8 *tail; /* inline tail bytes (inline_size of them) */
	u8 *extra; /* chunk map or compression indexes */
	u16 i_u_format; /* chunk format for chunk-based files */
	u32 compressed_blocks;
	/* compression pending: the data pass settles the layout */
	bool zpending;
	/* chunks pending (--chunksize): the chunk pass settles the layout */
	bool cpending;
	/* in the image appended to already: nid fixed, nothing written */
	bool retained;
	/* -m: the record lies in the metabox, meta_pos counts from its start */
	bool in_metabox;
	/* --zD: a directory whose data is a fragment of the packed inode */
	bool zdir;
	/* --MZ=d: directory blocks come with the other directories' */
	bool zone_pending;
	u8 zalg; /* compression alternative */
	u32 zpclusterblks; /* physical cluster size in blocks */
};

struct erofs_node {
	u32 mode;
	u32 uid;
	u32 gid;
	u32 nlink; /* computed by erofs_tree_finalize() */
	u64 size;
	s64 mtime;
	u32 mtime_nsec;
	u32 rdev; /* erofs_encode_dev() form */
	u32 ino; /* 1-based order number, for the on-disk i_ino */

	/* interned (name, value) pairs, sorted by erofs_xattr_sort() */
	struct erofs_xattr_item **xattrs;
	u16 nxattrs;
	bool has_fingerprint; /* gets a content fingerprint xattr */
	u8 fingerprint[32]; /* SHA-256 of the content */
	bool fingerprint_known; /* the source computed it already */
	bool opaque; /* overlayfs: lower layers do not show through */
	bool implied; /* a directory the source implied, without metadata */

	u8 data_kind; /* enum erofs_data_kind */
	bool maybe_sparse; /* the source reports fewer blocks than size */
	union {
		struct erofs_src_file *file;
		u64 off;
		char *mem;
		struct erofs_ext_data *ext;
		const struct erofs_data_reader *reader;
	} src;

	/* directories */
	struct erofs_node *parent;
	struct erofs_dentry *dents; /* without "." and ".." */
	u32 ndents;
	u64 dents_cap;
	u32 subdirs;

	/* first name and its directory, for messages */
	const char *name;
	struct erofs_node *name_dir;

	struct erofs_node *next_alloc; /* all nodes, for freeing */
	struct erofs_node_layout L;
};

struct erofs_tree_hash;

struct erofs_tree {
	struct erofs_node *root;
	struct erofs_node *alloc_list;
	u64 nr_nodes;
	/* nodes in layout order (root first, breadth-first), after finalize */
	struct erofs_node **order;
	u64 nr_order;
	struct erofs_tree_hash *hash; /* (dir, name) lookups while building */
	int spool_fd; /* tar input keeps file data here */
	/* the extra device 1 (a tar file), to read external data from */
	int ext_fd;
	/* a directory source's root, which its files are opened beneath */
	int src_dirfd;
};

int erofs_tree_init(struct erofs_tree *tree);
void erofs_tree_free(struct erofs_tree *tree);
struct erofs_node *erofs_node_new(struct erofs_tree *tree, u32 mode);
/* An external data map of "nchunks" chunks (entries left to the caller). */
struct erofs_ext_data *erofs_ext_data_new(u16 device, u8 chunkbits,
					  u64 nchunks);
void erofs_ext_data_free(struct erofs_ext_data *x);

/*
 * Add "name" to directory "dir". The name must be a valid single path
 * component. -EEXIST if it exists.
 */
int erofs_dir_add(struct erofs_tree *tree, struct erofs_node *dir,
		  const char *name, size_t len, struct erofs_node *node);
/* The entry "name" in "dir", or NULL. */
struct erofs_dentry *erofs_dir_lookup(struct erofs_tree *tree,
				      struct erofs_node *dir, const char *name,
				      size_t len);
/* Drop the entry "name" from "dir" (the node is kept for other links). */
int erofs_dir_remove(struct erofs_tree *tree, struct erofs_node *dir,
		     const char *name, size_t len);
/* Why "name" cannot be an entry name, or NULL when it can. */
const char *erofs_name_invalid(const char *name, size_t len);

/*
 * Sort every directory, count links and subdirectories, and list the nodes
 * reachable from the root in layout order.
 */
int erofs_tree_finalize(struct erofs_tree *tree);

/* The node's path from the root ("/" for the root), for messages. */
char *erofs_node_path(const struct erofs_node *node, char *buf, size_t size);

static inline bool erofs_node_is_dir(const struct erofs_node *node)
{
	return (node->mode & 0170000) == 0040000;
}

/* The dirent file type (EROFS_FT_*) of a mode. */
unsigned int erofs_mode_to_ftype(u32 mode);

/* Byte order of names, as the kernel's directory lookup compares them. */
int erofs_name_cmp(const char *a, unsigned int alen, const char *b,
		   unsigned int blen);

#endif
