// SPDX-License-Identifier: GPL-2.0-or-later
/* Decoding and checking the xattrs of an inode read from an image. */
#include <stdlib.h>
#include <string.h>

#include "erofs/format.h"
#include "erofs/inode_read.h"
#include "erofs/xattr.h"
#include "erofs/xattr_read.h"

bool erofs_xattr_index_visible(unsigned int base_index)
{
	switch (base_index) {
	case EROFS_XATTR_INDEX_USER:
	case EROFS_XATTR_INDEX_POSIX_ACL_ACCESS:
	case EROFS_XATTR_INDEX_POSIX_ACL_DEFAULT:
	case EROFS_XATTR_INDEX_TRUSTED:
	case EROFS_XATTR_INDEX_SECURITY:
		return true;
	}
	return false;
}

struct xattr_ctx {
	struct erofs_image *img;
	const struct erofs_rinode *ri;
	u32 filter; /* set bits: names the inode must not have */
	bool use_filter;
	char name[EROFS_XATTR_FULLNAME_MAX + 1];
};

/* Build the full name of one entry and check it; entry bytes in "e". */
static int decode_entry(struct xattr_ctx *c, const u8 *e,
			struct erofs_xattr_ref *x, const char **why)
{
	const struct erofs_xattr_entry *h = (const void *)e;
	const char *prefix = "", *infix = "";
	unsigned int plen, ilen = 0, base;
	u8 index = h->e_name_index;

	if (index & EROFS_XATTR_LONG_PREFIX) {
		const struct erofs_image_prefix *p;
		unsigned int k = index & EROFS_XATTR_LONG_PREFIX_MASK;

		if (k >= c->img->nr_prefixes) {
			*why = "xattr refers to a long name prefix that does not exist";
			return -EFSCORRUPTED;
		}
		p = &c->img->prefixes[k];
		base = p->base_index;
		infix = p->infix;
		ilen = p->infix_len;
	} else {
		base = index;
		if (base > EROFS_XATTR_INDEX_SECURITY) {
			*why = "xattr has an unknown name index";
			return -EFSCORRUPTED;
		}
	}
	if (base >= 1 && base <= EROFS_XATTR_INDEX_SECURITY)
		prefix = erofs_xattr_prefix_string(base);
	plen = strlen(prefix);
	if ((base == EROFS_XATTR_INDEX_POSIX_ACL_ACCESS ||
	     base == EROFS_XATTR_INDEX_POSIX_ACL_DEFAULT) &&
	    (ilen || h->e_name_len)) {
		*why = "POSIX ACL xattr with a name suffix";
		return -EFSCORRUPTED;
	}
	memcpy(c->name, prefix, plen);
	memcpy(c->name + plen, infix, ilen);
	memcpy(c->name + plen + ilen, h->e_name, h->e_name_len);
	x->name_len = plen + ilen + h->e_name_len;
	c->name[x->name_len] = '\0';
	if (memchr(h->e_name, '\0', h->e_name_len)) {
		*why = "xattr name contains a NUL byte";
		return -EFSCORRUPTED;
	}
	if (!x->name_len) {
		*why = "xattr without a name";
		return -EFSCORRUPTED;
	}
	x->name = c->name;
	x->disk_index = index;
	x->base_index = base;
	x->value = e + sizeof(*h) + h->e_name_len;
	x->value_len = le16_to_cpu(h->e_value_size);
	if ((base == EROFS_XATTR_INDEX_POSIX_ACL_ACCESS ||
	     base == EROFS_XATTR_INDEX_POSIX_ACL_DEFAULT) &&
	    !erofs_acl_valid(x->value, x->value_len)) {
		*why = "malformed POSIX ACL";
		return -EFSCORRUPTED;
	}
#ifdef HAVE_XXHASH
	if (c->use_filter) {
		unsigned int bit = erofs_xattr_filter_bit(
			base, c->name + plen, x->name_len - plen);

		if (c->filter & (1U << bit)) {
			*why = "xattr name filter hides an xattr the inode has";
			return -EFSCORRUPTED;
		}
	}
#endif
	return 0;
}

static bool is_padding(const struct erofs_xattr_entry *h)
{
	return !h->e_name_len && !h->e_name_index && !h->e_value_size;
}

static int visit_shared(struct xattr_ctx *c, u32 id, u8 *ebuf,
			erofs_xattr_fn fn, void *arg, const char **why)
{
	struct erofs_image *img = c->img;
	u64 pos = erofs_image_shared_xattrs(img) + (u64)id * EROFS_XATTR_UNIT;
	struct erofs_xattr_entry *h = (void *)ebuf;
	struct erofs_xattr_ref x = { .shared = true, .shared_id = id };
	size_t esize;
	int ret;

	ret = erofs_image_read(img, h, sizeof(*h), pos);
	if (ret) {
		*why = "shared xattr lies past the end of the image";
		return ret;
	}
	esize = sizeof(*h) + h->e_name_len + le16_to_cpu(h->e_value_size);
	ret = erofs_image_read(img, ebuf + sizeof(*h), esize - sizeof(*h),
			       pos + sizeof(*h));
	if (ret) {
		*why = "shared xattr lies past the end of the image";
		return ret;
	}
	if (is_padding(h)) {
		*why = "shared xattr id refers to an empty entry";
		return -EFSCORRUPTED;
	}
	ret = decode_entry(c, ebuf, &x, why);
	if (ret)
		return ret;
	return fn(arg, &x);
}

int erofs_xattr_foreach(struct erofs_image *img, const struct erofs_rinode *ri,
			erofs_xattr_fn fn, void *arg, const char **why)
{
	struct xattr_ctx *c;
	struct erofs_xattr_ibody_header hdr;
	u8 *area = NULL, *ebuf = NULL;
	u32 off, size = ri->xattr_isize;
	int ret;

	if (!size)
		return 0;
	if (size <= sizeof(hdr)) {
		*why = "xattr area holds nothing but its header (icount 1)";
		return -EFSCORRUPTED;
	}
	c = malloc(sizeof(*c));
	area = malloc(size);
	ret = -ENOMEM;
	if (!c || !area)
		goto out;
	c->img = img;
	c->ri = ri;
	ret = erofs_image_read(img, area, size, ri->iloc + ri->inode_isize);
	if (ret) {
		*why = "cannot read the xattr area";
		goto out;
	}
	memcpy(&hdr, area, sizeof(hdr));
	c->filter = le32_to_cpu(hdr.h_name_filter);
	c->use_filter =
		(img->sb.feature_compat & EROFS_FEATURE_COMPAT_XATTR_FILTER) &&
		!img->xattr_filter_reserved;
	off = sizeof(hdr) + hdr.h_shared_count * sizeof(__le32);
	if (off > size) {
		*why = "more shared xattr ids than the xattr area holds";
		ret = -EFSCORRUPTED;
		goto out;
	}
	while (off < size) {
		const struct erofs_xattr_entry *h = (const void *)(area + off);
		struct erofs_xattr_ref x = { 0 };
		u32 esize;

		if (size - off < sizeof(*h)) {
			*why = "truncated xattr entry";
			ret = -EFSCORRUPTED;
			goto out;
		}
		esize = erofs_xattr_entry_size(h->e_name_len,
					       le16_to_cpu(h->e_value_size));
		if (esize > size - off) {
			*why = "xattr entry runs past the xattr area";
			ret = -EFSCORRUPTED;
			goto out;
		}
		if (!is_padding(h)) {
			/* the whole entry lies inside the area: checked above */
			ret = decode_entry(c, area + off, &x, why);
			if (!ret)
				ret = fn(arg, &x);
			if (ret)
				goto out;
		}
		off += esize;
	}
	if (hdr.h_shared_count) {
		/* room for any entry: header, 255-byte name, 64 KiB value */
		ebuf = malloc(sizeof(struct erofs_xattr_entry) + 255 + 65535);
		ret = -ENOMEM;
		if (!ebuf)
			goto out;
	}
	for (unsigned int i = 0; i < hdr.h_shared_count; i++) {
		__le32 id;

		memcpy(&id, area + sizeof(hdr) + i * sizeof(id), sizeof(id));
		ret = visit_shared(c, le32_to_cpu(id), ebuf, fn, arg, why);
		if (ret)
			goto out;
	}
	ret = 0;
out:
	free(ebuf);
	free(area);
	free(c);
	return ret;
}

struct get_ctx {
	const char *name;
	void *buf;
	size_t size;
	int found;
};

static int get_one(void *arg, const struct erofs_xattr_ref *x)
{
	struct get_ctx *g = arg;

	if (strcmp(x->name, g->name))
		return 0;
	memcpy(g->buf, x->value, min_t(size_t, g->size, x->value_len));
	g->found = x->value_len;
	return 1;
}

int erofs_xattr_get(struct erofs_image *img, const struct erofs_rinode *ri,
		    const char *name, void *buf, size_t size, const char **why)
{
	struct get_ctx g = { name, buf, size, -ENODATA };
	int ret = erofs_xattr_foreach(img, ri, get_one, &g, why);

	if (ret < 0)
		return ret;
	return g.found;
}
