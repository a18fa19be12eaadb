// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tar entry metadata: owner, modification time, xattrs and POSIX ACLs as
 * libarchive reports them, turned into what the tree holds, with the
 * corrections libarchive's view needs (said where they are made).
 */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "erofs/error.h"
#include "erofs/format.h"
#include "erofs/tar_meta.h"

#ifdef HAVE_LIBARCHIVE
#include <archive.h>
#include <archive_entry.h>

static int acl_entry_cmp(const void *x, const void *y)
{
	const struct erofs_acl_xattr_entry *a = x, *b = y;
	u16 ta = le16_to_cpu(a->e_tag), tb = le16_to_cpu(b->e_tag);
	u32 ia = le32_to_cpu(a->e_id), ib = le32_to_cpu(b->e_id);

	if (ta != tb)
		return ta < tb ? -1 : 1;
	return ia < ib ? -1 : ia > ib;
}

/*
 * GNU tar writes ACLs as text naming users and groups without their ids
 * (SCHILY.acl.*), so libarchive may give an id of -1 with a name. GNU tar
 * resolves such names on the host when it extracts; so do we, so that the
 * image matches what extracting the archive here would give.
 */
static int acl_id(const struct erofs_tar_meta *m, int tag, int id,
		  const char *name, u32 *out)
{
	char buf[16384], *end;
	unsigned long v;

	if (id >= 0) {
		*out = id;
		return 0;
	}
	if (name && *name) {
		errno = 0;
		v = strtoul(name, &end, 10);
		if (!*end && !errno && v < EROFS_ACL_UNDEFINED_ID) {
			*out = v;
			return 0;
		}
		if (tag == ARCHIVE_ENTRY_ACL_USER) {
			struct passwd pw, *res = NULL;

			if (!getpwnam_r(name, &pw, buf, sizeof(buf), &res) &&
			    res) {
				*out = pw.pw_uid;
				return 0;
			}
		} else {
			struct group gr, *res = NULL;

			if (!getgrnam_r(name, &gr, buf, sizeof(buf), &res) &&
			    res) {
				*out = gr.gr_gid;
				return 0;
			}
		}
	}
	erofs_warn("%s: ACL names %s '%s' without an id, and this host does not know it; the ACL is left out",
		   m->what,
		   tag == ARCHIVE_ENTRY_ACL_USER ? "user" : "group",
		   name ? name : "");
	return -ENOENT;
}

/*
 * Encode the entry's ACL of "type" as the kernel's xattr value. Returns
 * the value size, 0 without such an ACL, or a negative error. The access
 * ACL's mask, if any, is returned in *mask (libarchive folds the owning
 * group's permissions into the mode it reports, where stat has the mask).
 */
static int encode_acl(const struct erofs_tar_meta *m, struct archive_entry *e,
		      int type, struct erofs_acl_xattr_header **out, int *mask)
{
	struct erofs_acl_xattr_header *h;
	struct erofs_acl_xattr_entry *ent;
	int count, atype, perm, tag, id, n = 0;
	const char *name;

	*out = NULL;
	count = archive_entry_acl_reset(e, type);
	if (count <= 0)
		return 0;
	h = malloc(sizeof(*h) + count * sizeof(*ent));
	if (!h)
		return -ENOMEM;
	ent = (struct erofs_acl_xattr_entry *)(h + 1);
	h->a_version = cpu_to_le32(EROFS_ACL_XATTR_VERSION);
	while (n < count && archive_entry_acl_next(e, type, &atype, &perm, &tag,
						   &id, &name) == ARCHIVE_OK) {
		u32 xid = EROFS_ACL_UNDEFINED_ID;
		u16 xtag;

		switch (tag) {
		case ARCHIVE_ENTRY_ACL_USER_OBJ:
			xtag = EROFS_ACL_USER_OBJ;
			break;
		case ARCHIVE_ENTRY_ACL_USER:
		case ARCHIVE_ENTRY_ACL_GROUP:
			xtag = tag == ARCHIVE_ENTRY_ACL_USER ? EROFS_ACL_USER :
							       EROFS_ACL_GROUP;
			if (acl_id(m, tag, id, name, &xid)) {
				free(h);
				return 0;
			}
			break;
		case ARCHIVE_ENTRY_ACL_GROUP_OBJ:
			xtag = EROFS_ACL_GROUP_OBJ;
			break;
		case ARCHIVE_ENTRY_ACL_MASK:
			xtag = EROFS_ACL_MASK;
			if (mask)
				*mask = perm & 7;
			break;
		case ARCHIVE_ENTRY_ACL_OTHER:
			xtag = EROFS_ACL_OTHER;
			break;
		default:
			continue;
		}
		ent[n].e_tag = cpu_to_le16(xtag);
		ent[n].e_perm = cpu_to_le16(perm & 7);
		ent[n].e_id = cpu_to_le32(xid);
		n++;
	}
	/* the kernel accepts only the canonical order */
	qsort(ent, n, sizeof(*ent), acl_entry_cmp);
	*out = h;
	return sizeof(*h) + n * sizeof(*ent);
}

static int set_xattr(const struct erofs_tar_meta *m, struct erofs_node *n,
		     const char *name, const void *value, size_t len)
{
	int ret = erofs_xattr_set(m->xt, n, name, value, len);

	if (ret)
		return erofs_fail(ret, "%s: xattr %s: %s", m->what, name,
				  erofs_xattr_strerror(ret));
	return 0;
}

void erofs_tar_meta_drop_xattrs(struct erofs_xattr_table *xt,
				struct erofs_node *n)
{
	while (n->nxattrs)
		erofs_xattr_remove(xt, n, n->xattrs[0]->name);
}

int erofs_tar_meta_xattrs(const struct erofs_tar_meta *m,
			  struct archive_entry *e, struct erofs_node *n)
{
	static const struct {
		int type;
		const char *name;
	} acls[] = {
		{ ARCHIVE_ENTRY_ACL_TYPE_ACCESS, "system.posix_acl_access" },
		{ ARCHIVE_ENTRY_ACL_TYPE_DEFAULT, "system.posix_acl_default" },
	};
	const char *name;
	const void *value;
	size_t len;
	int mask = -1, ret;

	erofs_tar_meta_drop_xattrs(m->xt, n);
	if (m->read_xattrs) {
		archive_entry_xattr_reset(e);
		while (archive_entry_xattr_next(e, &name, &value, &len) ==
		       ARCHIVE_OK) {
			if (!name || !erofs_xattr_name_supported(name)) {
				erofs_warn("%s: xattr %s not supported by EROFS, skipped",
					   m->what,
					   name ? name : "(unnamed)");
				continue;
			}
			ret = set_xattr(m, n, name, value, len);
			if (ret)
				return ret;
		}
	}
	for (unsigned int i = 0; i < ARRAY_SIZE(acls); i++) {
		struct erofs_acl_xattr_header *h;
		bool have = false;

		ret = encode_acl(m, e, acls[i].type, &h,
				 i ? NULL : &mask);
		if (ret <= 0) {
			if (ret < 0)
				return ret;
			continue;
		}
		for (unsigned int k = 0; k < n->nxattrs; k++)
			if (!strcmp(n->xattrs[k]->name, acls[i].name))
				have = true;
		/* a raw xattr value is what the kernel gave: keep it */
		if (!have && m->read_xattrs)
			ret = set_xattr(m, n, acls[i].name, h, ret);
		else
			ret = 0;
		free(h);
		if (ret)
			return ret;
	}
	if (mask >= 0)
		n->mode = (n->mode & ~070) | (mask << 3);
	return 0;
}

/* The POSIX ustar header, for the probe below only. */
struct ustar_header {
	char name[100], mode[8], uid[8], gid[8], size[12], mtime[12];
	char chksum[8], typeflag, linkname[100], magic[6], version[2];
	char uname[32], gname[32], devmajor[8], devminor[8], prefix[155];
	char pad[12];
};

static void probe_header(struct ustar_header *h, const char *name, char type,
			 unsigned int size)
{
	const unsigned char *p = (const unsigned char *)h;
	unsigned int sum = 0;

	memset(h, 0, sizeof(*h));
	snprintf(h->name, sizeof(h->name), "%s", name);
	memcpy(h->mode, "0000644", 8);
	memcpy(h->uid, "0000000", 8);
	memcpy(h->gid, "0000000", 8);
	snprintf(h->size, sizeof(h->size), "%011o", size);
	memcpy(h->mtime, "00000000000", 12);
	h->typeflag = type;
	memcpy(h->magic, "ustar", 6);
	memcpy(h->version, "00", 2);
	memset(h->chksum, ' ', sizeof(h->chksum));
	for (size_t i = 0; i < sizeof(*h); i++)
		sum += p[i];
	snprintf(h->chksum, sizeof(h->chksum), "%06o", sum);
	h->chksum[7] = ' ';
}

/*
 * PAX stores times as signed decimal seconds: "-1.5" is 1.5 s before the
 * epoch, and GNU tar, Go and Python write it so. libarchive (3.6 to 3.8
 * at least) reads it as -1 s plus 0.5 s, i.e. one second off with the
 * fraction mirrored, and gives no access to the record itself. So times
 * before the epoch with a fraction are corrected, once a tiny archive has
 * shown that this libarchive reads them that way. A value between -1 and
 * 0 ("-0.5") loses its sign inside libarchive and cannot be recovered.
 */
static bool negative_fraction_misread(void)
{
	static const char rec[] = "14 mtime=-1.5\n";
	static int misread = -1;
	struct ustar_header blocks[5];
	struct archive_entry *e;
	struct archive *a;

	if (misread >= 0)
		return misread;
	misread = 0;
	_Static_assert(sizeof(struct ustar_header) == 512, "ustar header");
	memset(blocks, 0, sizeof(blocks));
	probe_header(&blocks[0], "PaxHeaders/probe", 'x', strlen(rec));
	memcpy(&blocks[1], rec, strlen(rec));
	probe_header(&blocks[2], "probe", '0', 0);
	a = archive_read_new();
	if (!a)
		return misread;
	archive_read_support_format_tar(a);
	if (archive_read_open_memory(a, blocks, sizeof(blocks)) == ARCHIVE_OK &&
	    archive_read_next_header(a, &e) == ARCHIVE_OK &&
	    archive_entry_mtime(e) == -1 &&
	    archive_entry_mtime_nsec(e) == 500000000)
		misread = 1;
	archive_read_free(a);
	return misread;
}

int erofs_tar_meta_owner_time(const struct erofs_tar_meta *m,
			      struct archive_entry *e, struct erofs_node *n)
{
	la_int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);

	if (uid < 0 || uid > UINT32_MAX || gid < 0 || gid > UINT32_MAX)
		return erofs_fail(-ERANGE, "%s: owner %lld:%lld out of range",
				  m->what, (long long)uid, (long long)gid);
	n->uid = uid;
	n->gid = gid;
	n->mtime = archive_entry_mtime(e);
	n->mtime_nsec = archive_entry_mtime_is_set(e) ?
				archive_entry_mtime_nsec(e) : 0;
	if (n->mtime_nsec >= 1000000000U)
		n->mtime_nsec = 0;
	if (n->mtime < 0 && n->mtime_nsec && negative_fraction_misread()) {
		n->mtime -= 1;
		n->mtime_nsec = 1000000000U - n->mtime_nsec;
	}
	return 0;
}

#endif
