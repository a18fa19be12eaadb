// SPDX-License-Identifier: GPL-2.0-or-later
/* Extended attributes: interning, prefixes, sharing and encoding. */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "erofs/error.h"
#include "erofs/format.h"
#include "erofs/xattr.h"
#ifdef HAVE_XXHASH
#include <xxhash.h>
#endif

static const struct {
	const char *prefix;
	unsigned int len;
} std_prefixes[] = {
	[EROFS_XATTR_INDEX_USER] = { "user.", 5 },
	[EROFS_XATTR_INDEX_POSIX_ACL_ACCESS] = { "system.posix_acl_access", 23 },
	[EROFS_XATTR_INDEX_POSIX_ACL_DEFAULT] = { "system.posix_acl_default",
						  24 },
	[EROFS_XATTR_INDEX_TRUSTED] = { "trusted.", 8 },
	[EROFS_XATTR_INDEX_LUSTRE] = { "lustre.", 7 },
	[EROFS_XATTR_INDEX_SECURITY] = { "security.", 9 },
};

const char *erofs_xattr_prefix_string(unsigned int index)
{
	if (index >= ARRAY_SIZE(std_prefixes))
		return NULL;
	return std_prefixes[index].prefix;
}

unsigned int erofs_xattr_match_prefix(const char *name, unsigned int *len)
{
	for (unsigned int i = 1; i < ARRAY_SIZE(std_prefixes); i++) {
		if (!strncmp(name, std_prefixes[i].prefix,
			     std_prefixes[i].len)) {
			*len = std_prefixes[i].len;
			return i;
		}
	}
	*len = 0;
	return 0;
}

bool erofs_xattr_name_supported(const char *name)
{
	unsigned int len, idx = erofs_xattr_match_prefix(name, &len);

	switch (idx) {
	case EROFS_XATTR_INDEX_POSIX_ACL_ACCESS:
	case EROFS_XATTR_INDEX_POSIX_ACL_DEFAULT:
		return name[len] == '\0';
	case EROFS_XATTR_INDEX_USER:
	case EROFS_XATTR_INDEX_TRUSTED:
	case EROFS_XATTR_INDEX_SECURITY:
		return name[len] != '\0';
	}
	return false;
}

unsigned int erofs_xattr_filter_bit(unsigned int base_index,
				    const char *suffix, size_t len)
{
#ifdef HAVE_XXHASH
	return XXH32(suffix, len, EROFS_XATTR_FILTER_SEED + base_index) &
	       (EROFS_XATTR_FILTER_BITS - 1);
#else
	return 0;
#endif
}

int erofs_xattr_table_init(struct erofs_xattr_table *t)
{
	memset(t, 0, sizeof(*t));
	t->nbuckets = 4096;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	t->ishare_prefix = -1;
#ifdef HAVE_XXHASH
	t->name_filter = true;
#endif
	return 0;
}

void erofs_xattr_table_free(struct erofs_xattr_table *t)
{
	for (u64 i = 0; i < t->nbuckets; i++) {
		struct erofs_xattr_item *it = t->buckets[i];

		while (it) {
			struct erofs_xattr_item *n = it->next;

			free(it->name);
			free(it->value);
			free(it);
			it = n;
		}
	}
	for (unsigned int i = 0; i < t->nr_prefixes; i++)
		free(t->prefixes[i].prefix);
	free(t->buckets);
	free(t->shared);
	memset(t, 0, sizeof(*t));
}

int erofs_xattr_add_long_prefix(struct erofs_xattr_table *t,
				const char *prefix)
{
	struct erofs_xattr_long_prefix_def *p;
	unsigned int base_len, base, len = strlen(prefix);

	for (unsigned int i = 0; i < t->nr_prefixes; i++)
		if (!strcmp(t->prefixes[i].prefix, prefix))
			return i;
	if (t->nr_prefixes >= EROFS_XATTR_MAX_LONG_PREFIXES)
		return erofs_fail(-ENOSPC, "too many xattr prefixes (at most %d)",
				  EROFS_XATTR_MAX_LONG_PREFIXES);
	base = erofs_xattr_match_prefix(prefix, &base_len);
	/* the infix is stored after a u8 base index, under a u16 size */
	if (len - base_len > 255 || !len)
		return erofs_fail(-EINVAL, "invalid xattr prefix '%s'", prefix);
	p = &t->prefixes[t->nr_prefixes];
	p->prefix = strdup(prefix);
	if (!p->prefix)
		return -ENOMEM;
	p->base_index = base;
	p->base_len = base_len;
	return t->nr_prefixes++;
}

int erofs_xattr_put_prefixes_first(struct erofs_xattr_table *t,
				   const char *const *names, unsigned int n)
{
	struct erofs_xattr_long_prefix_def tmp;
	int id;

	if (t->count)
		return erofs_fail(-EINVAL, "xattr prefixes reordered after xattrs were set");
	for (unsigned int i = 0; i < n; i++) {
		id = erofs_xattr_add_long_prefix(t, names[i]);
		if (id < 0)
			return id;
		if ((unsigned int)id == i)
			continue;
		/* swap it into place; the fingerprint's index follows it */
		tmp = t->prefixes[i];
		t->prefixes[i] = t->prefixes[id];
		t->prefixes[id] = tmp;
		if (t->ishare_prefix == id)
			t->ishare_prefix = i;
		else if (t->ishare_prefix == (int)i)
			t->ishare_prefix = id;
	}
	return 0;
}

int erofs_xattr_set_ishare_name(struct erofs_xattr_table *t, const char *name)
{
	int id = erofs_xattr_add_long_prefix(t, name);

	if (id < 0)
		return id;
	t->ishare_prefix = id;
	t->prefixes[id].used = true;
	return 0;
}

static u32 item_hash(const char *name, size_t nlen, const void *value,
		     size_t vlen)
{
	u64 h = 1469598103934665603ULL;

	for (size_t i = 0; i < nlen; i++)
		h = (h ^ (u8)name[i]) * 1099511628211ULL;
	h = (h ^ 0xff) * 1099511628211ULL;
	for (size_t i = 0; i < vlen; i++)
		h = (h ^ ((const u8 *)value)[i]) * 1099511628211ULL;
	return (u32)(h ^ (h >> 32));
}

static void resolve_prefix(struct erofs_xattr_table *t,
			   struct erofs_xattr_item *it)
{
	unsigned int base_len, best = 0;
	int best_id = -1;

	it->base_index = erofs_xattr_match_prefix(it->name, &base_len);
	it->disk_index = it->base_index;
	it->prefix_len = base_len;
	for (unsigned int i = 0; i < t->nr_prefixes; i++) {
		const char *p = t->prefixes[i].prefix;
		size_t plen = strlen(p);

		if (plen > best && plen <= it->name_len &&
		    !memcmp(it->name, p, plen)) {
			best = plen;
			best_id = i;
		}
	}
	if (best_id >= 0 && best > base_len) {
		it->disk_index = EROFS_XATTR_LONG_PREFIX | best_id;
		it->prefix_len = best;
		it->base_index = t->prefixes[best_id].base_index;
		t->prefixes[best_id].used = true;
	}
}

static int grow_buckets(struct erofs_xattr_table *t)
{
	u64 nb = t->nbuckets * 2;
	struct erofs_xattr_item **b = calloc(nb, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (u64 i = 0; i < t->nbuckets; i++) {
		struct erofs_xattr_item *it = t->buckets[i];

		while (it) {
			struct erofs_xattr_item *n = it->next;

			it->next = b[it->hash % nb];
			b[it->hash % nb] = it;
			it = n;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = nb;
	return 0;
}

static int intern(struct erofs_xattr_table *t, const char *name,
		  const void *value, size_t vlen,
		  struct erofs_xattr_item **out)
{
	size_t nlen = strlen(name);
	u32 h = item_hash(name, nlen, value, vlen);
	struct erofs_xattr_item *it;

	for (it = t->buckets[h % t->nbuckets]; it; it = it->next) {
		if (it->hash == h && it->name_len == nlen &&
		    it->value_len == vlen && !memcmp(it->name, name, nlen) &&
		    !memcmp(it->value, value, vlen)) {
			*out = it;
			return 0;
		}
	}
	if (nlen > UINT16_MAX)
		return -ERANGE;
	it = calloc(1, sizeof(*it));
	if (!it)
		return -ENOMEM;
	it->name = strdup(name);
	it->value = malloc(vlen ? vlen : 1);
	if (!it->name || !it->value) {
		free(it->name);
		free(it->value);
		free(it);
		return -ENOMEM;
	}
	memcpy(it->value, value, vlen);
	it->name_len = nlen;
	it->value_len = vlen;
	it->hash = h;
	it->shared_id = -1;
	resolve_prefix(t, it);
	if (it->name_len - it->prefix_len > 255) {
		free(it->name);
		free(it->value);
		free(it);
		return -ERANGE;
	}
	it->next = t->buckets[h % t->nbuckets];
	t->buckets[h % t->nbuckets] = it;
	if (++t->count > t->nbuckets * 2)
		grow_buckets(t);
	*out = it;
	return 0;
}

static int find_on_node(const struct erofs_node *node, const char *name)
{
	for (unsigned int i = 0; i < node->nxattrs; i++)
		if (!strcmp(node->xattrs[i]->name, name))
			return i;
	return -1;
}

void erofs_xattr_remove(struct erofs_xattr_table *t, struct erofs_node *node,
			const char *name)
{
	int i = find_on_node(node, name);

	if (i < 0)
		return;
	node->xattrs[i]->refcount--;
	memmove(&node->xattrs[i], &node->xattrs[i + 1],
		(node->nxattrs - i - 1) * sizeof(*node->xattrs));
	node->nxattrs--;
}

static int item_cmp(const void *x, const void *y)
{
	const struct erofs_xattr_item *a = *(struct erofs_xattr_item **)x;
	const struct erofs_xattr_item *b = *(struct erofs_xattr_item **)y;
	int r = strcmp(a->name, b->name);

	if (r)
		return r;
	r = memcmp(a->value, b->value, min(a->value_len, b->value_len));
	if (r)
		return r;
	return a->value_len < b->value_len ? -1 : a->value_len > b->value_len;
}

bool erofs_acl_valid(const void *value, size_t len)
{
	const u8 *v = value;
	__le32 version;

	if (len < 4 || (len - 4) % 8)
		return false;
	memcpy(&version, v, 4);
	if (le32_to_cpu(version) != EROFS_ACL_XATTR_VERSION)
		return false;
	for (size_t off = 4; off < len; off += 8) {
		__le16 tag;

		memcpy(&tag, v + off, 2);
		switch (le16_to_cpu(tag)) {
		case EROFS_ACL_USER_OBJ:
		case EROFS_ACL_USER:
		case EROFS_ACL_GROUP_OBJ:
		case EROFS_ACL_GROUP:
		case EROFS_ACL_MASK:
		case EROFS_ACL_OTHER:
			break;
		default:
			return false;
		}
	}
	return true;
}

int erofs_xattr_set(struct erofs_xattr_table *t, struct erofs_node *node,
		    const char *name, const void *value, size_t len)
{
	struct erofs_xattr_item *it, **nx;
	int ret, i;

	if (len > EROFS_XATTR_VALUE_MAX)
		return -E2BIG;
	/* the kernel refuses to use them: a file nobody else may open */
	if ((!strcmp(name, "system.posix_acl_access") ||
	     !strcmp(name, "system.posix_acl_default")) &&
	    !erofs_acl_valid(value, len))
		return -EBADMSG;
	ret = intern(t, name, value, len, &it);
	if (ret)
		return ret;
	i = find_on_node(node, name);
	if (i >= 0) {
		node->xattrs[i]->refcount--;
		node->xattrs[i] = it;
		it->refcount++;
		return 0;
	}
	if (node->nxattrs == UINT16_MAX)
		return -ENOSPC;
	nx = realloc(node->xattrs, (node->nxattrs + 1) * sizeof(*nx));
	if (!nx)
		return -ENOMEM;
	node->xattrs = nx;
	/* keep the canonical order so that builds are reproducible */
	for (i = node->nxattrs; i > 0 && item_cmp(&nx[i - 1], &it) > 0; i--)
		nx[i] = nx[i - 1];
	nx[i] = it;
	node->nxattrs++;
	it->refcount++;
	return 0;
}

const char *erofs_xattr_strerror(int err)
{
	switch (err) {
	case -E2BIG:
		return "value larger than 65535 bytes";
	case -ERANGE:
		return "name too long";
	case -ENOSPC:
		return "too many xattrs";
	case -EBADMSG:
		return "not a POSIX ACL as Linux stores one (version 2, then 8-byte entries with known tags)";
	}
	return strerror(-err);
}

static bool proc_fd_mounted(void)
{
	static int mounted = -1;

	if (mounted < 0)
		mounted = !access("/proc/self/fd", X_OK);
	return mounted;
}

/* The l*xattr calls on a path, or the plain ones on a magic link. */
static ssize_t list_names(const char *p, bool follow, char *buf, size_t size)
{
	return follow ? listxattr(p, buf, size) : llistxattr(p, buf, size);
}

static ssize_t get_value(const char *p, bool follow, const char *name,
			 void *buf, size_t size)
{
	return follow ? getxattr(p, name, buf, size) :
			lgetxattr(p, name, buf, size);
}

int erofs_xattr_read_file(struct erofs_xattr_table *t, struct erofs_node *node,
			  int fd, const char *path)
{
	ssize_t listlen, vlen;
	char *names = NULL, *value = NULL, via[32];
	const char *at = path;
	size_t valcap = 0;
	bool follow = false;
	int ret = 0;

	/*
	 * The magic link leads to the very object the descriptor holds, a
	 * symlink included, whatever happened to its name meanwhile.
	 */
	if (fd >= 0 && proc_fd_mounted()) {
		snprintf(via, sizeof(via), "/proc/self/fd/%d", fd);
		at = via;
		follow = true;
	}
	listlen = list_names(at, follow, NULL, 0);
	if (listlen < 0) {
		if (errno == ENOTSUP || errno == ENOSYS)
			return 0;
		return erofs_fail(-errno, "%s: cannot list xattrs: %s", path,
				  strerror(errno));
	}
	if (!listlen)
		return 0;
	names = malloc(listlen);
	if (!names)
		return -ENOMEM;
	listlen = list_names(at, follow, names, listlen);
	if (listlen < 0) {
		ret = erofs_fail(-errno, "%s: cannot list xattrs: %s", path,
				 strerror(errno));
		goto out;
	}
	for (char *n = names; n < names + listlen; n += strlen(n) + 1) {
		if (!erofs_xattr_name_supported(n)) {
			erofs_warn("%s: xattr %s not supported by EROFS, skipped",
				   path, n);
			continue;
		}
		vlen = get_value(at, follow, n, NULL, 0);
		if (vlen < 0) {
			if (errno == ENODATA)
				continue; /* removed meanwhile */
			ret = erofs_fail(-errno, "%s: cannot read xattr %s: %s",
					 path, n, strerror(errno));
			goto out;
		}
		if ((size_t)vlen > EROFS_XATTR_VALUE_MAX) {
			ret = erofs_fail(-E2BIG, "%s: xattr %s: %s", path, n,
					 erofs_xattr_strerror(-E2BIG));
			goto out;
		}
		if ((size_t)vlen + 1 > valcap) {
			char *nv = realloc(value, vlen + 1);

			if (!nv) {
				ret = -ENOMEM;
				goto out;
			}
			value = nv;
			valcap = vlen + 1;
		}
		vlen = get_value(at, follow, n, value, vlen);
		if (vlen < 0) {
			ret = erofs_fail(-errno, "%s: cannot read xattr %s: %s",
					 path, n, strerror(errno));
			goto out;
		}
		ret = erofs_xattr_set(t, node, n, value, vlen);
		if (ret) {
			erofs_fail(ret, "%s: xattr %s: %s", path, n,
				   erofs_xattr_strerror(ret));
			goto out;
		}
	}
out:
	free(names);
	free(value);
	if (!ret && fd >= 0 && !follow) {
		struct stat was, now;

		if (fstat(fd, &was) || lstat(path, &now) ||
		    was.st_dev != now.st_dev || was.st_ino != now.st_ino)
			ret = erofs_fail(-EAGAIN,
					 "%s: replaced while its xattrs were read",
					 path);
	}
	return ret;
}

static unsigned int item_entry_size(const struct erofs_xattr_item *it)
{
	return erofs_xattr_entry_size(it->name_len - it->prefix_len,
				      it->value_len);
}

/* whether sharing "it" saves space under the default policy */
static bool worth_sharing(const struct erofs_xattr_table *t,
			  const struct erofs_xattr_item *it)
{
	u64 inline_cost, shared_cost;

	if (t->tolerance_set)
		return it->refcount > (u64)t->tolerance;
	if (it->refcount < 2)
		return false;
	inline_cost = (u64)it->refcount * item_entry_size(it);
	shared_cost = item_entry_size(it) + 4ULL * it->refcount;
	return shared_cost < inline_cost;
}

static unsigned int fingerprint_entry_size(void)
{
	return erofs_xattr_entry_size(0, EROFS_FINGERPRINT_VALUE_SIZE);
}

int erofs_xattr_plan(struct erofs_xattr_table *t, struct erofs_tree *tree)
{
	u64 n = 0, off = 0;

	if (t->tolerance_set && t->tolerance < 0) {
		for (u64 i = 0; i < tree->nr_order; i++) {
			struct erofs_node *node = tree->order[i];

			for (unsigned int k = 0; k < node->nxattrs; k++)
				node->xattrs[k]->refcount--;
			node->nxattrs = 0;
		}
	}

	free(t->shared);
	t->shared = NULL;
	for (u64 b = 0; b < t->nbuckets; b++)
		for (struct erofs_xattr_item *it = t->buckets[b]; it;
		     it = it->next) {
			it->shared_id = -1;
			if (it->refcount && worth_sharing(t, it))
				n++;
		}
	if (n) {
		t->shared = malloc(n * sizeof(*t->shared));
		if (!t->shared)
			return -ENOMEM;
	}
	t->nr_shared = 0;
	for (u64 b = 0; b < t->nbuckets; b++)
		for (struct erofs_xattr_item *it = t->buckets[b]; it;
		     it = it->next)
			if (it->refcount && worth_sharing(t, it))
				t->shared[t->nr_shared++] = it;
	if (t->nr_shared > 1) /* NULL when nothing is shared */
		qsort(t->shared, t->nr_shared, sizeof(*t->shared),
		      item_cmp);
	for (u64 i = 0; i < t->nr_shared; i++) {
		if (off / EROFS_XATTR_UNIT > UINT32_MAX)
			return erofs_fail(-EFBIG, "shared xattr area too large");
		t->shared[i]->shared_id = off / EROFS_XATTR_UNIT;
		off += item_entry_size(t->shared[i]);
	}
	t->shared_size = off;
	return 0;
}

unsigned int erofs_xattr_ibody_bytes(const struct erofs_xattr_table *t,
				     const struct erofs_node *node)
{
	unsigned int size = 0, nshared = 0;

	if (!node->nxattrs && !node->has_fingerprint)
		return 0;
	for (unsigned int i = 0; i < node->nxattrs; i++) {
		const struct erofs_xattr_item *it = node->xattrs[i];

		if (it->shared_id >= 0 && nshared < 255) {
			nshared++;
			size += 4;
		} else {
			size += item_entry_size(it);
		}
	}
	if (node->has_fingerprint)
		size += fingerprint_entry_size();
	return sizeof(struct erofs_xattr_ibody_header) + size;
}

static u8 *put_entry(u8 *p, unsigned int index, const char *suffix,
		     unsigned int slen, const void *value, unsigned int vlen)
{
	struct erofs_xattr_entry e = {
		.e_name_len = slen,
		.e_name_index = index,
		.e_value_size = cpu_to_le16(vlen),
	};
	unsigned int size = erofs_xattr_entry_size(slen, vlen);

	memcpy(p, &e, sizeof(e));
	memcpy(p + sizeof(e), suffix, slen);
	memcpy(p + sizeof(e) + slen, value, vlen);
	memset(p + sizeof(e) + slen + vlen, 0,
	       size - sizeof(e) - slen - vlen);
	return p + size;
}

static u8 *put_item(u8 *p, const struct erofs_xattr_item *it)
{
	return put_entry(p, it->disk_index, it->name + it->prefix_len,
			 it->name_len - it->prefix_len, it->value,
			 it->value_len);
}

void erofs_xattr_encode_ibody(const struct erofs_xattr_table *t,
			      const struct erofs_node *node, u8 *buf)
{
	struct erofs_xattr_ibody_header *h = (void *)buf;
	unsigned int nshared = 0;
	u32 present = 0;
	u8 *p;

	memset(h, 0, sizeof(*h));
	for (unsigned int i = 0; i < node->nxattrs; i++) {
		const struct erofs_xattr_item *it = node->xattrs[i];
		unsigned int bl;

		erofs_xattr_match_prefix(it->name, &bl);
		present |= 1U << erofs_xattr_filter_bit(it->base_index,
							 it->name + bl,
							 it->name_len - bl);
	}
	if (node->has_fingerprint) {
		const struct erofs_xattr_long_prefix_def *pd =
			&t->prefixes[t->ishare_prefix];

		present |= 1U << erofs_xattr_filter_bit(
				   pd->base_index, pd->prefix + pd->base_len,
				   strlen(pd->prefix) - pd->base_len);
	}
	h->h_name_filter = cpu_to_le32(
		t->name_filter ? EROFS_XATTR_FILTER_DEFAULT & ~present : 0);

	p = buf + sizeof(*h);
	for (unsigned int i = 0; i < node->nxattrs; i++) {
		const struct erofs_xattr_item *it = node->xattrs[i];

		if (it->shared_id >= 0 && nshared < 255) {
			__le32 id = cpu_to_le32(it->shared_id);

			memcpy(p, &id, 4);
			p += 4;
			nshared++;
		}
	}
	h->h_shared_count = nshared;
	nshared = 0;
	for (unsigned int i = 0; i < node->nxattrs; i++) {
		const struct erofs_xattr_item *it = node->xattrs[i];

		if (it->shared_id >= 0 && nshared < 255) {
			nshared++;
			continue;
		}
		p = put_item(p, it);
	}
	if (node->has_fingerprint) {
		u8 value[EROFS_FINGERPRINT_VALUE_SIZE];

		memcpy(value, EROFS_FINGERPRINT_TAG, 7);
		memcpy(value + 7, node->fingerprint, 32);
		p = put_entry(p, EROFS_XATTR_LONG_PREFIX | t->ishare_prefix,
			      "", 0, value, sizeof(value));
	}
}

void erofs_xattr_encode_shared(const struct erofs_xattr_table *t, u8 *buf)
{
	u8 *p = buf;

	for (u64 i = 0; i < t->nr_shared; i++)
		p = put_item(p, t->shared[i]);
}

bool erofs_xattr_uses_long_prefixes(const struct erofs_xattr_table *t)
{
	return t->nr_prefixes > 0;
}

unsigned int erofs_xattr_nr_long_prefixes(const struct erofs_xattr_table *t)
{
	return t->nr_prefixes;
}

unsigned int erofs_xattr_prefix_table_size(const struct erofs_xattr_table *t)
{
	unsigned int size = 0;

	for (unsigned int i = 0; i < t->nr_prefixes; i++) {
		const struct erofs_xattr_long_prefix_def *p = &t->prefixes[i];

		/* __le16 size, base index, infix; each entry 4-byte aligned */
		size += round_up(2 + 1 + strlen(p->prefix) - p->base_len, 4);
	}
	return size;
}

void erofs_xattr_encode_prefix_table(const struct erofs_xattr_table *t,
				     u8 *buf)
{
	u8 *p = buf;

	for (unsigned int i = 0; i < t->nr_prefixes; i++) {
		const struct erofs_xattr_long_prefix_def *d = &t->prefixes[i];
		unsigned int infix = strlen(d->prefix) - d->base_len;
		unsigned int size = round_up(2 + 1 + infix, 4);
		__le16 len = cpu_to_le16(1 + infix);

		memset(p, 0, size);
		memcpy(p, &len, 2);
		p[2] = d->base_index;
		memcpy(p + 3, d->prefix + d->base_len, infix);
		p += size;
	}
}

u8 *erofs_xattr_prefix_table_alloc(const struct erofs_xattr_table *t,
				   u32 *size)
{
	u8 *buf;

	*size = erofs_xattr_prefix_table_size(t);
	buf = calloc(1, max_t(u32, *size, 1));
	if (buf)
		erofs_xattr_encode_prefix_table(t, buf);
	return buf;
}
