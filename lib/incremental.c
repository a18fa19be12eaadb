// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Incremental builds: read the image being appended to, put its entries
 * under the new layer's directories, and find the ".." entries the build
 * must patch. The rules are in lib/erofs/incremental.h.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "erofs/array.h"
#include "erofs/data_read.h"
#include "erofs/dir_read.h"
#include "erofs/error.h"
#include "erofs/format.h"
#include "erofs/image.h"
#include "erofs/image_open.h"
#include "erofs/incremental.h"
#include "erofs/inode_read.h"
#include "erofs/ovlfs.h"
#include "erofs/walk.h"
#include "erofs/xattr_read.h"

struct erofs_incr {
	struct erofs_image img;
	bool open;
	struct erofs_build_base base;
	u64 patches_cap;
	struct erofs_tree *tree;
	struct erofs_xattr_table *xt;
	u64 budget; /* old entries still allowed: a loop cannot run away */
};

static int incr_fail(struct erofs_incr *in, int err, const char *what)
{
	return erofs_fail(err, "%s: cannot append to it: %s", in->img.path,
			  what);
}

int erofs_incr_open(struct erofs_incr **out, const char *path)
{
	struct erofs_image_opts io = { 0 };
	struct erofs_incr *in = calloc(1, sizeof(*in));
	const struct erofs_sb_info *sb;
	struct erofs_rinode root;
	const char *why = "";
	int ret;

	*out = in;
	if (!in)
		return -ENOMEM;
	in->base.fd = -1;
	ret = erofs_image_open(&in->img, path, &io);
	if (ret)
		return ret;
	in->open = true;
	sb = &in->img.sb;
	if (sb->feature_incompat & EROFS_FEATURE_INCOMPAT_METABOX)
		return incr_fail(in, -EOPNOTSUPP,
				 "its metadata is compressed (metabox)");
	if (sb->extra_devices)
		return incr_fail(
			in, -EOPNOTSUPP,
			"it has extra devices, which the appended blocks would overlap");
	if (sb->xattr_prefix_count &&
	    !(sb->feature_compat & EROFS_FEATURE_COMPAT_PLAIN_XATTR_PFX))
		return incr_fail(
			in, -EOPNOTSUPP,
			"its long xattr prefixes are kept in the packed inode");
	if ((u64)sb->blocks << in->img.blkszbits > in->img.size)
		return incr_fail(in, -EFSCORRUPTED,
				 "it is shorter than its superblock says");
	ret = erofs_read_inode(&in->img, sb->root_nid, &root, &why);
	if (ret)
		return incr_fail(in, ret, why);
	in->base.sb = *sb;
	in->base.fd = in->img.fd;
	in->base.nr_prefixes = sb->xattr_prefix_count;
	in->base.root_iloc = root.iloc;
	in->base.root_record = root.meta_end - root.iloc + root.tail_len;
	in->base.head_len = erofs_sb_csum_len(in->img.blkszbits);
	in->base.head = malloc(in->base.head_len);
	if (!in->base.head)
		return -ENOMEM;
	ret = erofs_image_pread(&in->img, in->base.head, in->base.head_len,
				EROFS_SUPER_OFFSET);
	if (ret)
		return incr_fail(in, ret, "cannot read its superblock block");
	in->budget = sb->inos * 4 + 1024;
	return 0;
}

void erofs_incr_close(struct erofs_incr *in)
{
	if (!in)
		return;
	if (in->open)
		erofs_image_close(&in->img);
	free(in->base.head);
	free(in->base.patches);
	free(in);
}

int erofs_incr_setup(struct erofs_incr *in, struct erofs_build_opts *opts,
		     struct erofs_xattr_table *xt, bool keep_uuid,
		     const char **ishare_name)
{
	const char **names;
	int ret;

	opts->blkszbits = in->img.blkszbits;
	/* compact inodes count their times from the old epoch */
	opts->build_time = in->img.sb.epoch;
	opts->build_time_nsec = in->img.sb.fixed_nsec;
	*ishare_name = in->img.ishare_name;
	if (keep_uuid)
		memcpy(opts->uuid, in->img.sb.uuid, sizeof(opts->uuid));
	/* new inodes name the old prefixes by the old table's indexes */
	names = calloc(in->img.nr_prefixes + 1, sizeof(*names));
	if (!names)
		return -ENOMEM;
	for (unsigned int i = 0; i < in->img.nr_prefixes; i++) {
		const struct erofs_image_prefix *p = &in->img.prefixes[i];
		const char *base = erofs_xattr_prefix_string(p->base_index);
		char *full;

		if (asprintf(&full, "%s%s", base ? base : "", p->infix) < 0) {
			ret = -ENOMEM;
			goto out;
		}
		names[i] = full;
	}
	ret = erofs_xattr_put_prefixes_first(xt, names, in->img.nr_prefixes);
out:
	for (unsigned int i = 0; i < in->img.nr_prefixes; i++)
		free((char *)names[i]);
	free(names);
	if (ret)
		return ret;
	/* new inodes cannot share xattrs: the old shared area is full */
	if (!xt->tolerance_set || xt->tolerance >= 0) {
		xt->tolerance = LONG_MAX;
		xt->tolerance_set = true;
	}
	return 0;
}

/* Where the nid of a directory's ".." entry lies in the image. */
static int find_dotdot(struct erofs_incr *in, const struct erofs_rinode *dir,
		       u64 *pos, const char **why)
{
	struct erofs_image *img = &in->img;
	u8 *buf = malloc(img->blksz);
	int ret = -EFSCORRUPTED;

	*why = "no \"..\" entry";
	if (!buf)
		return -ENOMEM;
	for (u64 la = 0; la < dir->i.size;) {
		struct erofs_map m;
		u64 len;

		ret = erofs_map_data(img, dir, la, &m, why);
		if (ret)
			break;
		if (m.kind != EROFS_MAP_MAPPED && m.kind != EROFS_MAP_INLINE) {
			*why = "directory data that is not stored plainly";
			ret = -EOPNOTSUPP;
			break;
		}
		/* a directory block at a time: dirents never cross blocks */
		len = min_t(u64, m.llen - (la - m.la), img->blksz);
		ret = erofs_image_read(img, buf, len, m.pa + (la - m.la));
		if (ret) {
			*why = "cannot read the directory";
			break;
		}
		if (len >= sizeof(struct erofs_dirent)) {
			struct erofs_dirent d;
			unsigned int n;

			memcpy(&d, buf, sizeof(d));
			n = le16_to_cpu(d.nameoff) / sizeof(d);
			for (unsigned int i = 0; i < n && i * sizeof(d) < len;
			     i++) {
				unsigned int off, end;

				memcpy(&d, buf + i * sizeof(d), sizeof(d));
				off = le16_to_cpu(d.nameoff);
				end = len;
				if (i + 1 < n) {
					struct erofs_dirent nx;

					memcpy(&nx, buf + (i + 1) * sizeof(d),
					       sizeof(nx));
					end = le16_to_cpu(nx.nameoff);
				}
				if (off < end && end <= len && end - off >= 2 &&
				    buf[off] == '.' && buf[off + 1] == '.' &&
				    (end - off == 2 || !buf[off + 2])) {
					*pos = m.pa + (la - m.la) +
					       i * sizeof(d);
					free(buf);
					return 0;
				}
			}
		}
		ret = -EFSCORRUPTED;
		*why = "no \"..\" entry";
		la += len;
	}
	free(buf);
	return ret;
}

static int add_patch(struct erofs_incr *in, u64 pos,
		     const struct erofs_node *parent)
{
	struct erofs_build_base *b = &in->base;

	int ret = erofs_grow_array(&b->patches, &in->patches_cap,
				   b->npatches + 1, sizeof(*b->patches));

	if (ret)
		return ret;
	b->patches[b->npatches++] = (struct erofs_dotdot_patch){ pos, parent };
	return 0;
}

struct meta_copy {
	struct erofs_incr *in;
	struct erofs_node *n;
};

static int copy_xattr(void *arg, const struct erofs_xattr_ref *x)
{
	struct meta_copy *c = arg;
	int ret = erofs_xattr_set(c->in->xt, c->n, x->name, x->value,
				  x->value_len);

	if (ret)
		return erofs_fail(ret, "%s: xattr %s: %s", c->in->img.path,
				  x->name, erofs_xattr_strerror(ret));
	return 0;
}

/* A directory the new layer implies takes the old one's metadata. */
static int take_old_meta(struct erofs_incr *in, struct erofs_node *n,
			 const struct erofs_rinode *ri)
{
	struct meta_copy c = { in, n };
	const char *why = "";
	int ret;

	n->mode = ri->i.mode;
	n->uid = ri->i.uid;
	n->gid = ri->i.gid;
	n->mtime = ri->i.mtime;
	n->mtime_nsec = ri->i.mtime_nsec;
	ret = erofs_xattr_foreach(&in->img, ri, copy_xattr, &c, &why);
	if (ret < 0 && !erofs_last_error())
		return incr_fail(in, ret, why);
	return ret;
}

static int graft_dir(struct erofs_incr *in, const struct erofs_rinode *old,
		     struct erofs_node *dir, unsigned int depth);

static int graft_entry(struct erofs_incr *in, struct erofs_node *dir,
		       const struct erofs_rdirent *e, unsigned int depth)
{
	struct erofs_tree *t = in->tree;
	struct erofs_dentry *d = erofs_dir_lookup(t, dir, e->name, e->name_len);
	struct erofs_rinode ri;
	struct erofs_node *n;
	const char *why = "";
	u64 pos;
	int ret;

	if (!in->budget--)
		return incr_fail(
			in, -EFSCORRUPTED,
			"more entries than its inodes allow (a loop?)");
	if (d && !(erofs_node_is_dir(d->node) && e->file_type == EROFS_FT_DIR))
		return 0; /* the new layer's entry wins */
	ret = erofs_read_inode(&in->img, e->nid, &ri, &why);
	if (ret)
		return incr_fail(in, ret, why);
	if (d) {
		/* both directories: the old one's entries join the new */
		if (d->node->implied) {
			ret = take_old_meta(in, d->node, &ri);
			if (ret)
				return ret;
			d->node->implied = false;
		}
		return graft_dir(in, &ri, d->node, depth + 1);
	}
	/* kept as it is: its record, its data, its whole subtree */
	n = erofs_node_new(t, ri.i.mode);
	if (!n)
		return -ENOMEM;
	n->L.retained = true;
	n->L.nid = e->nid;
	ret = erofs_dir_add(t, dir, e->name, e->name_len, n);
	if (ret)
		return incr_fail(in, ret, "cannot keep an entry");
	if (!S_ISDIR(ri.i.mode))
		return 0;
	ret = find_dotdot(in, &ri, &pos, &why);
	if (ret)
		return incr_fail(in, ret, why);
	return add_patch(in, pos, dir);
}

static int graft_dir(struct erofs_incr *in, const struct erofs_rinode *old,
		     struct erofs_node *dir, unsigned int depth)
{
	struct erofs_dir_cursor c;
	struct erofs_rdirent e;
	const char *why = "";
	int ret;

	if (dir->opaque)
		return 0; /* the new layer hides what was below */
	if (depth > EROFS_WALK_MAX_DEPTH)
		return incr_fail(in, -ELOOP, "directories nested too deep");
	ret = erofs_dir_open(&c, &in->img, old);
	if (ret)
		return incr_fail(in, ret, "cannot read a directory");
	while ((ret = erofs_dir_next(&c, &e, &why)) > 0) {
		if (erofs_dirent_is_dot(&e))
			continue;
		ret = graft_entry(in, dir, &e, depth);
		if (ret)
			break;
	}
	erofs_dir_close(&c);
	if (ret < 0 && !erofs_last_error())
		return incr_fail(in, ret, why);
	return ret;
}

int erofs_incr_graft(struct erofs_incr *in, struct erofs_tree *tree,
		     struct erofs_xattr_table *xt,
		     struct erofs_build_opts *opts)
{
	struct erofs_rinode root;
	const char *why = "";
	int ret;

	in->tree = tree;
	in->xt = xt;
	ret = erofs_read_inode(&in->img, in->img.sb.root_nid, &root, &why);
	if (ret)
		return incr_fail(in, ret, why);
	if (tree->root->implied) {
		ret = take_old_meta(in, tree->root, &root);
		if (ret)
			return ret;
	}
	ret = graft_dir(in, &root, tree->root, 0);
	if (!ret)
		opts->base = &in->base;
	return ret;
}
