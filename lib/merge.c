// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Merging EROFS images into the in-memory tree (mkfs's rebuild mode): the
 * layers are walked from the top down, and each entry either joins the
 * tree or is hidden by what an upper layer put there. The rules are in
 * lib/erofs/merge.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "erofs/array.h"
#include "erofs/data_read.h"
#include "erofs/device.h"
#include "erofs/error.h"
#include "erofs/fingerprint.h"
#include "erofs/format.h"
#include "erofs/image.h"
#include "erofs/image_open.h"
#include "erofs/inode_read.h"
#include "erofs/merge.h"
#include "erofs/ovlfs.h"
#include "erofs/parallel.h"
#include "erofs/walk.h"
#include "erofs/xattr_read.h"

/* nid -> node, open addressing; 0 is never a nid of an inode we map */
struct nid_map {
	struct nid_slot {
		erofs_nid_t nid; /* + 1; 0: free */
		struct erofs_node *n;
	} * slots;
	u64 cap, used;
};

struct layer {
	struct erofs_image img;
	const char *path;
	unsigned int index; /* 0: the bottom layer, device 1 */
	bool open;
	/*
	 * A layer with extra devices (a tar index): "whole" when the layer
	 * file holds them too (containerd's [index][tar]), and then the
	 * merged image's device is that file; else the device is the
	 * layer's own device 1 (its bare tar), as erofs-utils names it.
	 */
	bool whole;
};

/* A regular file of a layer, read through the image reader. */
struct file_reader {
	struct erofs_data_reader r;
	struct layer *l;
	struct erofs_rinode ri;
	struct erofs_node *n;
	bool has_expected; /* the layer recorded a fingerprint */
	u8 expected[EROFS_SHA256_SIZE];
	char what[];
};

struct erofs_merge {
	struct layer *layers;
	unsigned int n;
	struct erofs_build_device *devs;
	struct file_reader **files;
	u64 nfiles, files_cap;

	/* while reading one layer */
	struct erofs_tree *tree;
	const struct erofs_merge_opts *o;
	struct layer *cur;
	bool top;	      /* the uppermost layer: the root's metadata */
	struct nid_map dirs;  /* the layer's directories -> merged nodes */
	struct nid_map links; /* its multiply linked inodes -> nodes */
	struct erofs_node **opaque_after; /* opaque once the layer is done */
	u64 nopaque, opaque_cap;
	int error;
};

static int map_grow(struct nid_map *m)
{
	u64 cap = m->cap ? m->cap * 2 : 256;
	struct nid_slot *s = calloc(cap, sizeof(*s));

	if (!s)
		return -ENOMEM;
	for (u64 i = 0; i < m->cap; i++) {
		u64 j;

		if (!m->slots[i].nid)
			continue;
		j = (m->slots[i].nid * 0x9E3779B97F4A7C15ULL) & (cap - 1);
		while (s[j].nid)
			j = (j + 1) & (cap - 1);
		s[j] = m->slots[i];
	}
	free(m->slots);
	m->slots = s;
	m->cap = cap;
	return 0;
}

static struct nid_slot *map_slot(struct nid_map *m, erofs_nid_t nid)
{
	u64 key = nid + 1, j = (key * 0x9E3779B97F4A7C15ULL) & (m->cap - 1);

	while (m->slots[j].nid && m->slots[j].nid != key)
		j = (j + 1) & (m->cap - 1);
	return &m->slots[j];
}

static struct erofs_node *map_get(struct nid_map *m, erofs_nid_t nid)
{
	struct nid_slot *s;

	if (!m->cap)
		return NULL;
	s = map_slot(m, nid);
	return s->nid ? s->n : NULL;
}

static int map_put(struct nid_map *m, erofs_nid_t nid, struct erofs_node *n)
{
	struct nid_slot *s;

	if ((m->used + 1) * 2 > m->cap) {
		int ret = map_grow(m);

		if (ret)
			return ret;
	}
	s = map_slot(m, nid);
	if (!s->nid)
		m->used++;
	s->nid = nid + 1;
	s->n = n;
	return 0;
}

static void map_clear(struct nid_map *m)
{
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

/* Which device the merged image names for a layer with extra devices. */
static int check_devices(struct layer *l)
{
	const struct erofs_image *img = &l->img;

	if (!img->nr_devices)
		return 0;
	l->whole = true;
	for (unsigned int i = 0; i < img->nr_devices; i++)
		if (img->devices[i].missing ||
		    img->devices[i].avail < img->devices[i].blocks
						    << img->blkszbits)
			l->whole = false;
	if (!l->whole && img->nr_devices > 1)
		return erofs_fail(
			-EOPNOTSUPP,
			"%s: %u extra devices not in the file: a layer to merge has one at most, or holds them after itself",
			l->path, img->nr_devices);
	return 0;
}

int erofs_merge_open(struct erofs_merge **out, const char *const *paths,
		     unsigned int n, unsigned int *blkszbits)
{
	struct erofs_merge *m = calloc(1, sizeof(*m));
	struct erofs_image_opts io = { 0 };
	int ret = 0;

	*out = m;
	if (!m)
		return -ENOMEM;
	if (n > UINT16_MAX - 1)
		return erofs_fail(-EINVAL, "%u layers: at most 65534", n);
	m->layers = calloc(n, sizeof(*m->layers));
	if (!m->layers)
		return -ENOMEM;
	m->n = n;
	for (unsigned int i = 0; i < n && !ret; i++) {
		struct layer *l = &m->layers[i];

		l->path = paths[i];
		l->index = i;
		ret = erofs_image_open(&l->img, paths[i], &io);
		l->open = !ret;
	}
	if (ret)
		return ret;
	for (unsigned int i = 0; i < n; i++) {
		ret = check_devices(&m->layers[i]);
		if (ret)
			return ret;
	}
	/* the top layer's block size, as erofs-utils takes it */
	*blkszbits = m->layers[n - 1].img.blkszbits;
	for (unsigned int i = 0; i < n; i++)
		if (m->layers[i].img.blkszbits != *blkszbits)
			return erofs_fail(
				-EINVAL,
				"%s: %u-byte blocks, but %s has %u-byte blocks: layers to merge must agree",
				paths[i], m->layers[i].img.blksz, paths[n - 1],
				1U << *blkszbits);
	return 0;
}

void erofs_merge_close(struct erofs_merge *m)
{
	if (!m)
		return;
	for (unsigned int i = 0; i < m->n; i++)
		if (m->layers[i].open)
			erofs_image_close(&m->layers[i].img);
	for (u64 i = 0; i < m->nfiles; i++)
		free(m->files[i]);
	free(m->files);
	free(m->layers);
	free(m->devs);
	map_clear(&m->dirs);
	map_clear(&m->links);
	free(m->opaque_after);
	free(m);
}

static int __printf(4, 5) layer_fail(struct erofs_merge *m, int err,
				     const char *path, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return erofs_fail(err, "%s: %s: %s", m->cur->path, path, why);
}

static int read_file(const struct erofs_data_reader *r, void *buf, size_t len,
		     u64 pos)
{
	const struct file_reader *f = container_of(r, struct file_reader, r);
	const char *why = "";
	int ret = erofs_read_data(&f->l->img, &f->ri, buf, len, pos, &why);

	if (ret)
		return erofs_fail(ret, "%s: %s", f->what, why);
	return 0;
}

static struct file_reader *new_file(struct erofs_merge *m, const char *path,
				    const struct erofs_rinode *ri,
				    struct erofs_node *n)
{
	size_t len = strlen(m->cur->path) + strlen(path) + 2;
	struct file_reader *f = calloc(1, sizeof(*f) + len);

	if (!f)
		return NULL;
	if (erofs_grow_array(&m->files, &m->files_cap, m->nfiles + 1,
			     sizeof(*m->files))) {
		free(f);
		return NULL;
	}
	snprintf(f->what, len, "%s:%s", m->cur->path, path);
	f->r.read = read_file;
	f->r.what = f->what;
	f->l = m->cur;
	f->ri = *ri;
	f->n = n;
	m->files[m->nfiles++] = f;
	return f;
}

/*
 * A mapped extent of the current layer as an offset on the merged image's
 * device for the layer: the layer file itself, where its own extra
 * devices lie after it; or its device 1 (a bare tar), for a layer whose
 * file holds no more than its index.
 */
static int layer_address(struct erofs_merge *m, const char *path,
			 struct erofs_map *map)
{
	const struct erofs_image *img = &m->cur->img;

	if (m->cur->whole) {
		if (map->dev)
			map->pa +=
				img->devices[map->dev - 1].offset - img->offset;
		map->dev = 0;
		return 0;
	}
	if (img->nr_devices && map->dev != 1)
		return layer_fail(
			m, -EOPNOTSUPP, path,
			"data in the layer's own blocks, while the merged image names its tar: append the tar to the layer, as containerd keeps it");
	return 0;
}

/*
 * Where a file's data lies in its layer, as chunks of the merged image on
 * the layer's device: the layer's own chunks, or one run for flat data.
 */
static int map_in_layer(struct erofs_merge *m, const char *path,
			const struct erofs_rinode *ri,
			struct erofs_ext_data **out)
{
	struct erofs_image *img = &m->cur->img;
	unsigned int cbits =
		ri->i.datalayout == EROFS_INODE_CHUNK_BASED ? ri->chunkbits : 0;
	u64 nchunks = cbits ? DIV_ROUND_UP(ri->i.size, 1ULL << cbits) : 1;
	struct erofs_ext_data *x;
	const char *why = "";
	u64 la = 0;

	if (erofs_layout_is_compressed(ri->i.datalayout) ||
	    ri->i.datalayout == EROFS_INODE_FLAT_INLINE)
		return layer_fail(
			m, -EOPNOTSUPP, path,
			"%s data cannot stay in the layer; build the layer with -E^inline_data and without -z, or merge with --clean=data",
			erofs_layout_is_compressed(ri->i.datalayout)
				? "compressed"
				: "tail-packed");
	x = erofs_ext_data_new(m->cur->index + 1, cbits, nchunks);
	if (!x)
		return -ENOMEM;
	for (u64 c = 0; c < nchunks; c++)
		x->blk[c] = EROFS_EXT_HOLE;
	while (la < ri->i.size) {
		struct erofs_map map;
		int ret = erofs_map_data(img, ri, la, &map, &why);

		if (ret) {
			erofs_ext_data_free(x);
			return layer_fail(m, ret, path, "%s", why);
		}
		if (map.kind == EROFS_MAP_MAPPED) {
			u64 first;

			ret = layer_address(m, path, &map);
			if (ret) {
				erofs_ext_data_free(x);
				return ret;
			}
			first = map.pa >> img->blkszbits;

			if (map.pa & (img->blksz - 1) ||
			    (!cbits && (map.la || map.llen != ri->i.size))) {
				erofs_ext_data_free(x);
				return layer_fail(
					m, -EOPNOTSUPP, path,
					"data that is not one run of blocks");
			}
			if (!cbits)
				x->blk1 = first;
			for (u64 p = map.la; cbits && p < map.la + map.llen;
			     p += 1ULL << cbits)
				x->blk[p >> cbits] = first + ((p - map.la) >>
							      img->blkszbits);
		} else if (map.kind != EROFS_MAP_HOLE) {
			erofs_ext_data_free(x);
			return layer_fail(m, -EOPNOTSUPP, path,
					  "data that cannot stay in the layer");
		}
		la = map.la + map.llen;
	}
	*out = x;
	return 0;
}

/* One xattr of a layer's inode onto the merged node. */
struct xattr_copy {
	struct erofs_merge *m;
	struct erofs_node *n;
	struct file_reader *f; /* where a layer's fingerprint goes */
	const char *path;
};

static int copy_xattr(void *arg, const struct erofs_xattr_ref *x)
{
	struct xattr_copy *c = arg;
	struct erofs_merge *m = c->m;
	const char *fp = m->cur->img.ishare_name;
	int ret;

	/* the layer's fingerprint is checked, then computed anew */
	if (fp && !strcmp(x->name, fp)) {
		if (c->f && !erofs_fingerprint_parse(x->value, x->value_len,
						     c->f->expected))
			c->f->has_expected = true;
		return 0;
	}
	ret = erofs_xattr_set(m->o->source->xattrs, c->n, x->name, x->value,
			      x->value_len);
	if (ret)
		return layer_fail(m, ret, c->path, "xattr %s: %s", x->name,
				  erofs_xattr_strerror(ret));
	return 0;
}

static int copy_xattrs(struct erofs_merge *m, const struct erofs_rinode *ri,
		       struct erofs_node *n, struct file_reader *f,
		       const char *path)
{
	struct xattr_copy c = { m, n, f, path };
	const char *why = "";
	int ret;

	if (!m->o->source->read_xattrs)
		return 0;
	ret = erofs_xattr_foreach(&m->cur->img, ri, copy_xattr, &c, &why);
	if (ret < 0 && !erofs_last_error())
		return layer_fail(m, ret, path, "%s", why);
	return ret;
}

static void copy_meta(struct erofs_node *n, const struct erofs_rinode *ri)
{
	n->mode = ri->i.mode;
	n->uid = ri->i.uid;
	n->gid = ri->i.gid;
	n->mtime = ri->i.mtime;
	n->mtime_nsec = ri->i.mtime_nsec;
	if (S_ISCHR(n->mode) || S_ISBLK(n->mode))
		n->rdev = ri->i.i_u;
}

static int import_data(struct erofs_merge *m, const char *path,
		       const struct erofs_rinode *ri, struct erofs_node *n)
{
	struct file_reader *f = NULL;
	int ret;

	n->size = ri->i.size;
	if (S_ISLNK(n->mode)) {
		const char *why = "";

		if (!n->size || n->size > EROFS_SYMLINK_MAXLEN)
			return layer_fail(m, -EFSCORRUPTED, path,
					  "symlink target of %llu bytes",
					  (unsigned long long)n->size);
		n->src.mem = calloc(1, n->size + 1);
		if (!n->src.mem)
			return -ENOMEM;
		n->data_kind = EROFS_DATA_MEM;
		ret = erofs_read_data(&m->cur->img, ri, n->src.mem, n->size, 0,
				      &why);
		if (ret)
			return layer_fail(m, ret, path, "%s", why);
		return copy_xattrs(m, ri, n, NULL, path);
	}
	if (!S_ISREG(n->mode) || !n->size)
		return copy_xattrs(m, ri, n, NULL, path);

	f = new_file(m, path, ri, n);
	if (!f)
		return -ENOMEM;
	switch (m->o->data) {
	case EROFS_MERGE_BLOB_INDEX:
		ret = map_in_layer(m, path, ri, &n->src.ext);
		if (ret)
			return ret;
		n->data_kind = EROFS_DATA_EXTERNAL;
		break;
	case EROFS_MERGE_COPY:
		n->data_kind = EROFS_DATA_READER;
		n->src.reader = &f->r;
		break;
	case EROFS_MERGE_RESERVE:
		n->data_kind = EROFS_DATA_RESERVED;
		break;
	}
	return copy_xattrs(m, ri, n, f, path);
}

/* A new node for an inode of the current layer (or its first link's). */
static int import_node(struct erofs_merge *m, const struct erofs_walk_entry *e,
		       struct erofs_node **out)
{
	const struct erofs_rinode *ri = e->inode;
	bool linked = !S_ISDIR(ri->i.mode) && ri->i.nlink > 1;
	struct erofs_node *n;
	int ret;

	if (linked) {
		n = map_get(&m->links, e->nid);
		if (n) {
			*out = n;
			return 0;
		}
	}
	n = erofs_node_new(m->tree, ri->i.mode);
	if (!n)
		return -ENOMEM;
	copy_meta(n, ri);
	ret = import_data(m, e->path, ri, n);
	if (!ret && linked)
		ret = map_put(&m->links, e->nid, n);
	*out = n;
	return ret;
}

static bool has_opaque_marker(struct erofs_merge *m,
			      const struct erofs_rinode *ri)
{
	char v[2];
	const char *why;
	int len = erofs_xattr_get(&m->cur->img, ri, EROFS_OVL_OPAQUE_XATTR, v,
				  sizeof(v), &why);

	return len == 1 && v[0] == 'y';
}

static int opaque_after_layer(struct erofs_merge *m, struct erofs_node *dir)
{
	int ret = erofs_grow_array(&m->opaque_after, &m->opaque_cap,
				   m->nopaque + 1, sizeof(*m->opaque_after));

	if (ret)
		return ret;
	m->opaque_after[m->nopaque++] = dir;
	return 0;
}

/* The uppermost layer's root gives the merged root its metadata. */
static int visit_root(struct erofs_merge *m, const struct erofs_walk_entry *e)
{
	struct erofs_node *root = m->tree->root;
	int ret;

	if (m->top) {
		copy_meta(root, e->inode);
		ret = copy_xattrs(m, e->inode, root, NULL, e->path);
		if (ret)
			return ret;
	}
	if (!root->opaque && has_opaque_marker(m, e->inode)) {
		ret = opaque_after_layer(m, root);
		if (ret)
			return ret;
	}
	return root->opaque ? EROFS_WALK_SKIP : map_put(&m->dirs, e->nid, root);
}

static int visit(void *arg, const struct erofs_walk_entry *e)
{
	struct erofs_merge *m = arg;
	const struct erofs_rinode *ri = e->inode;
	bool is_dir = S_ISDIR(ri->i.mode);
	struct erofs_node *dir, *n;
	struct erofs_dentry *d;
	size_t len = strlen(e->name);
	int ret;

	if (!e->depth)
		return visit_root(m, e);
	dir = map_get(&m->dirs, e->parent_nid);
	if (!dir)
		return is_dir ? EROFS_WALK_SKIP : 0; /* hidden */
	if (m->o->source->exclude &&
	    erofs_exclude_match(m->o->source->exclude, e->path + 1))
		return is_dir ? EROFS_WALK_SKIP : 0;
	d = erofs_dir_lookup(m->tree, dir, e->name, len);
	if (d) {
		struct erofs_node *upper = d->node;

		if (!erofs_node_is_dir(upper))
			return is_dir ? EROFS_WALK_SKIP : 0;
		if (!is_dir) {
			/*
			 * Below a whiteout or a file, overlayfs looks no
			 * further down: the upper directory hides the rest.
			 */
			return upper->opaque ? 0 : opaque_after_layer(m, upper);
		}
		if (upper->opaque)
			return EROFS_WALK_SKIP;
		if (has_opaque_marker(m, ri)) {
			ret = opaque_after_layer(m, upper);
			if (ret)
				return ret;
		}
		return map_put(&m->dirs, e->nid, upper);
	}
	ret = import_node(m, e, &n);
	if (ret)
		return ret;
	ret = erofs_dir_add(m->tree, dir, e->name, len, n);
	if (ret)
		return layer_fail(m, ret, e->path, "%s", strerror(-ret));
	if (!is_dir)
		return 0;
	/* a directory only this layer has keeps its own opaque marker */
	n->opaque = has_opaque_marker(m, ri);
	return map_put(&m->dirs, e->nid, n);
}

static void problem(void *arg, const char *path, erofs_nid_t nid, int err,
		    const char *msg)
{
	struct erofs_merge *m = arg;

	if (!err || m->error)
		return;
	m->error = layer_fail(m, err, path, "%s", msg);
}

static int read_layer(struct erofs_merge *m, struct layer *l)
{
	static const struct erofs_walk_ops ops = {
		.visit = visit,
		.problem = problem,
	};
	int ret;

	m->cur = l;
	m->error = 0;
	m->nopaque = 0;
	map_clear(&m->dirs);
	map_clear(&m->links);
	ret = erofs_walk(&l->img, l->img.sb.root_nid, "/", &ops, m, NULL);
	if (!ret)
		ret = m->error;
	for (u64 i = 0; !ret && i < m->nopaque; i++) {
		struct erofs_node *dir = m->opaque_after[i];

		if (dir->opaque)
			continue;
		dir->opaque = true;
		ret = erofs_xattr_set(m->o->source->xattrs, dir,
				      EROFS_OVL_OPAQUE_XATTR, "y", 1);
	}
	return ret;
}

/* Each file's fingerprint from its layer's data, checked against the
 * layer's own when it has one. */
struct hash_worker {
	struct erofs_sha256 sha;
	u8 *buf;
};

#define HASH_BUFSZ (256U << 10)

static int hash_winit(void *ctx, void *w)
{
	struct hash_worker *hw = w;

	hw->buf = malloc(HASH_BUFSZ);
	if (!hw->buf)
		return -ENOMEM;
	return erofs_sha256_init(&hw->sha);
}

static void hash_wexit(void *ctx, void *w)
{
	struct hash_worker *hw = w;

	free(hw->buf);
	if (hw->sha.ctx)
		erofs_sha256_free(&hw->sha);
}

static int hash_file(void *ctx, void *w, u64 i)
{
	struct erofs_merge *m = ctx;
	struct hash_worker *hw = w;
	struct file_reader *f = m->files[i];
	struct erofs_node *n = f->n;

	for (u64 pos = 0; pos < n->size;) {
		size_t len = min_t(u64, n->size - pos, HASH_BUFSZ);
		int ret = read_file(&f->r, hw->buf, len, pos);

		if (ret)
			return ret;
		erofs_sha256_update(&hw->sha, hw->buf, len);
		pos += len;
	}
	erofs_sha256_final(&hw->sha, n->fingerprint);
	if (f->has_expected &&
	    memcmp(f->expected, n->fingerprint, EROFS_SHA256_SIZE))
		return erofs_fail(
			-EFSCORRUPTED,
			"%s: the data does not match the fingerprint the layer records",
			f->what);
	n->fingerprint_known = true;
	return 0;
}

static u64 hash_weight(void *ctx, u64 i)
{
	struct erofs_merge *m = ctx;

	return m->files[i]->n->size;
}

static int hash_files(struct erofs_merge *m)
{
	struct erofs_parallel run = {
		.nworkers = m->o->workers ? m->o->workers
					  : sysconf(_SC_NPROCESSORS_ONLN),
		.njobs = m->nfiles,
		.ctx = m,
		.wsize = sizeof(struct hash_worker),
		.winit = hash_winit,
		.wexit = hash_wexit,
		.run = hash_file,
		.what = "hashing layer files (MiB)",
		.weight = hash_weight,
	};

	for (u64 i = 0; i < m->nfiles; i++)
		run.total += m->files[i]->n->size;
	return erofs_parallel_run(&run);
}

/*
 * A layer's slot: named by its own device's tag when it names its tar
 * that way, else by its UUID, as erofs-utils names them; as long as the
 * layer with the devices it holds, or its bare tar.
 */
static void layer_device(const struct layer *l, struct erofs_build_device *d)
{
	const struct erofs_image *img = &l->img;
	const u8 *u = img->sb.uuid;

	d->blocks = img->sb.blocks;
	if (img->nr_devices && !l->whole) {
		d->blocks = img->devices[0].blocks;
		if (img->devices[0].tag[0]) {
			memcpy(d->tag, img->devices[0].tag, sizeof(d->tag));
			return;
		}
	} else if (img->nr_devices) {
		const struct erofs_device *last =
			&img->devices[img->nr_devices - 1];

		d->blocks = max(d->blocks, last->uniaddr + last->blocks);
	}
	for (unsigned int i = 0; i < 16; i++)
		snprintf(d->tag + 2 * i, 3, "%02x", u[i]);
}

int erofs_merge_read(struct erofs_merge *m, struct erofs_tree *tree,
		     const struct erofs_merge_opts *o,
		     const struct erofs_build_device **devs,
		     unsigned int *ndevs)
{
	int ret = 0;

	if (tree->root)
		return erofs_fail(-EINVAL, "merge: the tree is not empty");
	tree->root = erofs_node_new(tree, S_IFDIR | 0755);
	if (!tree->root)
		return -ENOMEM;
	m->tree = tree;
	m->o = o;
	for (unsigned int i = m->n; i-- && !ret;) {
		m->top = i == m->n - 1;
		ret = read_layer(m, &m->layers[i]);
	}
	m->cur = NULL;
	if (!ret && o->fingerprints)
		ret = hash_files(m);
	*devs = NULL;
	*ndevs = 0;
	if (!ret && o->data == EROFS_MERGE_BLOB_INDEX) {
		m->devs = calloc(m->n, sizeof(*m->devs));
		if (!m->devs)
			return -ENOMEM;
		for (unsigned int i = 0; i < m->n; i++)
			layer_device(&m->layers[i], &m->devs[i]);
		*devs = m->devs;
		*ndevs = m->n;
	}
	return ret;
}
