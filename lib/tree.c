// SPDX-License-Identifier: GPL-2.0-or-later
/* The in-memory tree: nodes, directory entries, lookups and final order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "erofs/array.h"
#include "erofs/error.h"
#include "erofs/format.h"
#include "erofs/tree.h"

/* (directory, name) -> index into the directory's entries */
struct hash_slot {
	struct erofs_node *dir;
	u32 index;
	u32 hash;
	struct hash_slot *next;
};

struct erofs_tree_hash {
	struct hash_slot **buckets;
	u64 nbuckets;
	u64 count;
};

static u32 name_hash(const struct erofs_node *dir, const char *name,
		     size_t len)
{
	u64 h = 1469598103934665603ULL ^ (uintptr_t)dir;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (u8)name[i]) * 1099511628211ULL;
	return (u32)(h ^ (h >> 32));
}

int erofs_tree_init(struct erofs_tree *tree)
{
	memset(tree, 0, sizeof(*tree));
	tree->spool_fd = -1;
	tree->ext_fd = -1;
	tree->src_dirfd = -1;
	tree->hash = calloc(1, sizeof(*tree->hash));
	if (!tree->hash)
		return -ENOMEM;
	tree->hash->nbuckets = 1024;
	tree->hash->buckets =
		calloc(tree->hash->nbuckets, sizeof(*tree->hash->buckets));
	if (!tree->hash->buckets)
		return -ENOMEM;
	return 0;
}

static void hash_free(struct erofs_tree_hash *h)
{
	if (!h)
		return;
	for (u64 i = 0; i < h->nbuckets; i++) {
		struct hash_slot *s = h->buckets[i];

		while (s) {
			struct hash_slot *n = s->next;

			free(s);
			s = n;
		}
	}
	free(h->buckets);
	free(h);
}

void erofs_tree_free(struct erofs_tree *tree)
{
	struct erofs_node *n = tree->alloc_list;

	while (n) {
		struct erofs_node *next = n->next_alloc;

		for (u32 i = 0; i < n->ndents; i++)
			free(n->dents[i].name);
		free(n->dents);
		free(n->xattrs);
		if (n->data_kind == EROFS_DATA_FILE)
			free(n->src.file);
		else if (n->data_kind == EROFS_DATA_MEM)
			free(n->src.mem);
		else if (n->data_kind == EROFS_DATA_EXTERNAL)
			erofs_ext_data_free(n->src.ext);
		free(n->L.tail);
		free(n->L.extra);
		free(n);
		n = next;
	}
	hash_free(tree->hash);
	free(tree->order);
	if (tree->spool_fd >= 0)
		close(tree->spool_fd);
	if (tree->ext_fd >= 0)
		close(tree->ext_fd);
	if (tree->src_dirfd >= 0)
		close(tree->src_dirfd);
	memset(tree, 0, sizeof(*tree));
	tree->spool_fd = -1;
	tree->src_dirfd = -1;
	tree->ext_fd = -1;
}

struct erofs_ext_data *erofs_ext_data_new(u16 device, u8 chunkbits,
					  u64 nchunks)
{
	struct erofs_ext_data *x = calloc(1, sizeof(*x));

	if (!x)
		return NULL;
	x->device = device;
	x->chunkbits = chunkbits;
	x->nchunks = nchunks;
	if (nchunks <= 1) {
		x->blk = &x->blk1;
		return x;
	}
	x->blk = malloc(nchunks * sizeof(*x->blk));
	if (!x->blk) {
		free(x);
		return NULL;
	}
	return x;
}

void erofs_ext_data_free(struct erofs_ext_data *x)
{
	if (!x)
		return;
	if (x->blk != &x->blk1)
		free(x->blk);
	free(x);
}

struct erofs_node *erofs_node_new(struct erofs_tree *tree, u32 mode)
{
	struct erofs_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->mode = mode;
	n->next_alloc = tree->alloc_list;
	tree->alloc_list = n;
	tree->nr_nodes++;
	return n;
}

const char *erofs_name_invalid(const char *name, size_t len)
{
	if (!len)
		return "empty name";
	if (len > EROFS_NAME_LEN)
		return "name longer than 255 bytes";
	if (memchr(name, '/', len))
		return "name contains '/'";
	if (memchr(name, '\0', len))
		return "name contains a NUL byte";
	if ((len == 1 && name[0] == '.') ||
	    (len == 2 && name[0] == '.' && name[1] == '.'))
		return "name is '.' or '..'";
	return NULL;
}

static int hash_grow(struct erofs_tree_hash *h)
{
	u64 nb = h->nbuckets * 2;
	struct hash_slot **b = calloc(nb, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (u64 i = 0; i < h->nbuckets; i++) {
		struct hash_slot *s = h->buckets[i];

		while (s) {
			struct hash_slot *n = s->next;

			s->next = b[s->hash % nb];
			b[s->hash % nb] = s;
			s = n;
		}
	}
	free(h->buckets);
	h->buckets = b;
	h->nbuckets = nb;
	return 0;
}

static struct hash_slot **hash_find(struct erofs_tree *tree,
				    struct erofs_node *dir, const char *name,
				    size_t len, u32 hash)
{
	struct erofs_tree_hash *h = tree->hash;
	struct hash_slot **pp = &h->buckets[hash % h->nbuckets];

	for (; *pp; pp = &(*pp)->next) {
		struct hash_slot *s = *pp;
		struct erofs_dentry *d;

		if (s->hash != hash || s->dir != dir)
			continue;
		d = &dir->dents[s->index];
		if (d->namelen == len && !memcmp(d->name, name, len))
			return pp;
	}
	return pp;
}

struct erofs_dentry *erofs_dir_lookup(struct erofs_tree *tree,
				      struct erofs_node *dir, const char *name,
				      size_t len)
{
	struct hash_slot **pp;

	if (!tree->hash)
		return NULL;
	pp = hash_find(tree, dir, name, len, name_hash(dir, name, len));
	return *pp ? &dir->dents[(*pp)->index] : NULL;
}

int erofs_dir_add(struct erofs_tree *tree, struct erofs_node *dir,
		  const char *name, size_t len, struct erofs_node *node)
{
	u32 hash = name_hash(dir, name, len);
	struct hash_slot **pp, *slot;
	struct erofs_dentry *d;
	const char *why = erofs_name_invalid(name, len);

	if (why)
		return -EINVAL;
	if (!tree->hash)
		return -EINVAL;
	pp = hash_find(tree, dir, name, len, hash);
	if (*pp)
		return -EEXIST;
	if (erofs_grow_array(&dir->dents, &dir->dents_cap, dir->ndents + 1,
			     sizeof(*dir->dents)))
		return -ENOMEM;
	slot = malloc(sizeof(*slot));
	if (!slot)
		return -ENOMEM;
	d = &dir->dents[dir->ndents];
	d->name = malloc(len + 1);
	if (!d->name) {
		free(slot);
		return -ENOMEM;
	}
	memcpy(d->name, name, len);
	d->name[len] = '\0';
	d->namelen = len;
	d->node = node;
	slot->dir = dir;
	slot->index = dir->ndents++;
	slot->hash = hash;
	slot->next = NULL;
	*pp = slot;
	if (!node->name) {
		node->name = d->name;
		node->name_dir = dir;
	}
	if (erofs_node_is_dir(node))
		node->parent = dir;
	if (++tree->hash->count > tree->hash->nbuckets * 2)
		return hash_grow(tree->hash);
	return 0;
}

int erofs_dir_remove(struct erofs_tree *tree, struct erofs_node *dir,
		     const char *name, size_t len)
{
	u32 hash = name_hash(dir, name, len);
	struct hash_slot **pp = hash_find(tree, dir, name, len, hash);
	struct hash_slot *slot = *pp;
	u32 idx, last;

	if (!slot)
		return -ENOENT;
	idx = slot->index;
	*pp = slot->next;
	free(slot);
	tree->hash->count--;

	if (dir->dents[idx].node->name == dir->dents[idx].name)
		dir->dents[idx].node->name = NULL;
	free(dir->dents[idx].name);
	last = --dir->ndents;
	if (idx != last) {
		struct erofs_dentry *m = &dir->dents[last];
		struct hash_slot **mp =
			hash_find(tree, dir, m->name, m->namelen,
				  name_hash(dir, m->name, m->namelen));

		dir->dents[idx] = *m;
		(*mp)->index = idx;
	}
	return 0;
}

int erofs_name_cmp(const char *a, unsigned int alen, const char *b,
		   unsigned int blen)
{
	int r = memcmp(a, b, min(alen, blen));

	if (r)
		return r;
	return alen < blen ? -1 : alen > blen;
}

static int dentry_cmp(const void *x, const void *y)
{
	const struct erofs_dentry *a = x, *b = y;

	return erofs_name_cmp(a->name, a->namelen, b->name, b->namelen);
}

unsigned int erofs_mode_to_ftype(u32 mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return EROFS_FT_REG_FILE;
	case S_IFDIR:
		return EROFS_FT_DIR;
	case S_IFCHR:
		return EROFS_FT_CHRDEV;
	case S_IFBLK:
		return EROFS_FT_BLKDEV;
	case S_IFIFO:
		return EROFS_FT_FIFO;
	case S_IFSOCK:
		return EROFS_FT_SOCK;
	case S_IFLNK:
		return EROFS_FT_SYMLINK;
	}
	return EROFS_FT_UNKNOWN;
}

int erofs_tree_finalize(struct erofs_tree *tree)
{
	struct erofs_node **order;
	u64 head = 0, tail = 0;

	if (!tree->root || !erofs_node_is_dir(tree->root))
		return erofs_fail(-EINVAL, "the tree has no root directory");

	/* the hash indexes entries by position, which sorting changes */
	hash_free(tree->hash);
	tree->hash = NULL;

	order = malloc(tree->nr_nodes * sizeof(*order));
	if (!order)
		return -ENOMEM;
	for (struct erofs_node *n = tree->alloc_list; n; n = n->next_alloc) {
		n->nlink = 0;
		n->ino = 0;
	}

	tree->root->parent = tree->root;
	tree->root->ino = 1;
	order[tail++] = tree->root;
	while (head < tail) {
		struct erofs_node *dir = order[head++];

		dir->subdirs = 0;
		if (dir->ndents > 1) /* dents is NULL while empty */
			qsort(dir->dents, dir->ndents, sizeof(*dir->dents),
			      dentry_cmp);
		for (u32 i = 0; i < dir->ndents; i++) {
			struct erofs_node *c = dir->dents[i].node;

			if (erofs_node_is_dir(c)) {
				dir->subdirs++;
				c->parent = dir;
			}
			c->nlink++;
			if (c->ino)
				continue; /* another link to a visited node */
			if (tail == tree->nr_nodes) {
				free(order);
				return erofs_fail(-EINVAL, "directory loop in tree");
			}
			c->ino = tail + 1;
			order[tail++] = c;
		}
	}
	for (u64 i = 0; i < tail; i++) {
		struct erofs_node *n = order[i];

		if (erofs_node_is_dir(n))
			n->nlink = 2 + n->subdirs;
	}
	tree->order = order;
	tree->nr_order = tail;
	return 0;
}

char *erofs_node_path(const struct erofs_node *node, char *buf, size_t size)
{
	const struct erofs_node *chain[4096];
	unsigned int depth = 0;
	size_t pos = 0;

	if (size < 2)
		return buf;
	while (node && node->name && depth < ARRAY_SIZE(chain)) {
		chain[depth++] = node;
		node = node->name_dir;
	}
	if (!depth) {
		buf[0] = '/';
		buf[1] = '\0';
		return buf;
	}
	buf[0] = '\0';
	while (depth--) {
		int n = snprintf(buf + pos, size - pos, "/%s",
				 chain[depth]->name);

		if (n < 0 || (size_t)n >= size - pos)
			break;
		pos += n;
	}
	return buf;
}
