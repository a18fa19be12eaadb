// SPDX-License-Identifier: GPL-2.0-or-later
/* Reading and checking directory blocks; path lookup. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "erofs/data_read.h"
#include "erofs/dir_read.h"
#include "erofs/error.h"
#include "erofs/format.h"
#include "erofs/inode_read.h"

/* Byte order, a prefix first: the order directories are sorted in. */
static int name_cmp(const u8 *a, unsigned int alen, const u8 *b,
		    unsigned int blen)
{
	int r = memcmp(a, b, min(alen, blen));

	if (r)
		return r;
	return alen < blen ? -1 : alen > blen;
}

int erofs_dir_open(struct erofs_dir_cursor *c, struct erofs_image *img,
		   const struct erofs_rinode *dir)
{
	memset(c, 0, sizeof(*c));
	c->img = img;
	c->dir = *dir;
	c->nblocks = erofs_inode_nblocks(img, dir);
	c->buf = malloc(img->blksz);
	/* every entry takes a 12-byte dirent and at least one name byte */
	c->ents = malloc((img->blksz / 13 + 1) * sizeof(*c->ents));
	if (!c->buf || !c->ents) {
		erofs_dir_close(c);
		return -ENOMEM;
	}
	return 0;
}

void erofs_dir_close(struct erofs_dir_cursor *c)
{
	free(c->buf);
	free(c->ents);
	c->buf = NULL;
	c->ents = NULL;
}

static int parse_block(struct erofs_dir_cursor *c, u32 len, const char **why)
{
	const struct erofs_dirent *de = (const void *)c->buf;
	const u8 *prev = c->prev;
	unsigned int n, prev_len = c->prev_len;
	u16 nameoff0;

	if (len < sizeof(*de)) {
		*why = "directory block too short for an entry";
		return -EFSCORRUPTED;
	}
	nameoff0 = le16_to_cpu(de[0].nameoff);
	if (nameoff0 < sizeof(*de) || nameoff0 % sizeof(*de) ||
	    nameoff0 >= len) {
		*why = "invalid name offset of a directory block's first entry";
		return -EFSCORRUPTED;
	}
	n = nameoff0 / sizeof(*de);
	for (unsigned int i = 0; i < n; i++) {
		struct erofs_rdirent *d = &c->ents[i];
		u16 off = le16_to_cpu(de[i].nameoff);
		size_t nl;

		if (i + 1 < n) {
			u16 end = le16_to_cpu(de[i + 1].nameoff);

			if (end <= off || end > len) {
				*why = "directory entry name offsets out of order";
				return -EFSCORRUPTED;
			}
			nl = end - off;
			if (memchr(c->buf + off, '\0', nl)) {
				*why = "file name contains a NUL byte";
				return -EFSCORRUPTED;
			}
		} else {
			if (off >= len) {
				*why = "directory entry name past the block";
				return -EFSCORRUPTED;
			}
			nl = strnlen((const char *)c->buf + off, len - off);
		}
		if (!nl) {
			*why = "empty file name";
			return -EFSCORRUPTED;
		}
		if (nl > EROFS_NAME_LEN) {
			*why = "file name longer than 255 bytes";
			return -EFSCORRUPTED;
		}
		if (memchr(c->buf + off, '/', nl)) {
			*why = "file name contains '/'";
			return -EFSCORRUPTED;
		}
		if (de[i].file_type >= EROFS_FT_MAX) {
			*why = "directory entry with an unknown file type";
			return -EFSCORRUPTED;
		}
		if (prev_len && name_cmp(prev, prev_len, c->buf + off, nl) >= 0) {
			*why = "directory entries not in strictly ascending name order";
			return -EFSCORRUPTED;
		}
		d->nid = le64_to_cpu(de[i].nid);
		d->name = (const char *)c->buf + off;
		d->name_len = nl;
		d->file_type = de[i].file_type;
		prev = c->buf + off;
		prev_len = nl;
	}
	memcpy(c->prev, prev, prev_len);
	c->prev_len = prev_len;
	c->nents = n;
	c->next = 0;
	return 0;
}

int erofs_dir_next(struct erofs_dir_cursor *c, struct erofs_rdirent *d,
		   const char **why)
{
	while (c->next >= c->nents) {
		u64 pos = c->blk << c->img->blkszbits;
		u32 len;
		int ret;

		if (c->blk >= c->nblocks)
			return 0;
		len = min_t(u64, c->img->blksz, c->dir.i.size - pos);
		ret = erofs_read_data(c->img, &c->dir, c->buf, len, pos, why);
		if (!ret)
			ret = parse_block(c, len, why);
		if (ret) {
			c->blk = c->nblocks;
			c->nents = c->next = 0;
			return ret;
		}
		c->blk++;
	}
	*d = c->ents[c->next++];
	return 1;
}

int erofs_dir_find(struct erofs_image *img, const struct erofs_rinode *dir,
		   const char *name, size_t len, erofs_nid_t *nid,
		   const char **why)
{
	struct erofs_dir_cursor c;
	struct erofs_rdirent d;
	int ret;

	ret = erofs_dir_open(&c, img, dir);
	if (ret)
		return ret;
	while ((ret = erofs_dir_next(&c, &d, why)) > 0) {
		int r = name_cmp((const u8 *)d.name, d.name_len,
				 (const u8 *)name, len);

		if (!r) {
			*nid = d.nid;
			break;
		}
		if (r > 0) { /* sorted: it is not there */
			ret = 0;
			break;
		}
	}
	erofs_dir_close(&c);
	if (ret > 0)
		return 0;
	if (!ret) {
		*why = "no such file or directory";
		return -ENOENT;
	}
	return ret;
}

int erofs_lookup_path(struct erofs_image *img, const char *path,
		      erofs_nid_t *nid)
{
	erofs_nid_t cur = img->sb.root_nid;
	const char *p = path, *why = "";
	int ret;

	while (*p) {
		struct erofs_rinode ri;
		const char *end;
		size_t len;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		end = strchrnul(p, '/');
		len = end - p;
		ret = erofs_read_inode(img, cur, &ri, &why);
		if (ret)
			return erofs_fail(ret, "%s: nid %llu: %s", path,
					  (unsigned long long)cur, why);
		if (!S_ISDIR(ri.i.mode))
			return erofs_fail(-ENOTDIR, "%s: %.*s: not a directory",
					  path, (int)(p - path), path);
		if (len > EROFS_NAME_LEN)
			return erofs_fail(-ENAMETOOLONG, "%s: name too long",
					  path);
		/* "." need not be stored (DOT_OMITTED) */
		if (!(len == 1 && *p == '.')) {
			ret = erofs_dir_find(img, &ri, p, len, &cur, &why);
			if (ret)
				return erofs_fail(ret, "%s: %.*s: %s", path,
						  (int)(end - path), path, why);
		}
		p = end;
	}
	*nid = cur;
	return 0;
}
