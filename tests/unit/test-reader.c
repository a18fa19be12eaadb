// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of the image reader on hand-made images: superblock checks,
 * inode positions, directory block validation, xattr decoding and chunk
 * maps, each with the damage it must refuse.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "erofs/data_read.h"
#include "erofs/device.h"
#include "erofs/dir_read.h"
#include "erofs/error.h"
#include "erofs/format.h"
#include "erofs/image.h"
#include "erofs/image_open.h"
#include "erofs/inode.h"
#include "erofs/inode_read.h"
#include "erofs/super.h"
#include "erofs/xattr_read.h"
#include "unit.h"

#define BS 4096
#define NBLOCKS 16
#define META_BLK 1 /* nid n is at BS + 32 n */

static u8 image[NBLOCKS * BS];
static char tmpdir[] = "/tmp/test-reader.XXXXXX";
static char path[64];
static struct erofs_sb_info sb;

static void reset(void)
{
	memset(image, 0, sizeof(image));
	memset(&sb, 0, sizeof(sb));
	sb.blkszbits = 12;
	sb.blocks = NBLOCKS;
	sb.meta_blkaddr = META_BLK;
	sb.xattr_blkaddr = 8;
	sb.root_nid = 1;
	sb.inos = 1;
	sb.feature_compat = EROFS_FEATURE_COMPAT_MTIME;
}

static void put_sb(void)
{
	u8 *p = image + EROFS_SUPER_OFFSET;

	sb.checksum = 0;
	erofs_sb_encode(&sb, p);
	if (sb.feature_compat & EROFS_FEATURE_COMPAT_SB_CHKSUM) {
		sb.checksum = erofs_sb_checksum(p, erofs_sb_csum_len(12));
		erofs_sb_encode(&sb, p);
	}
}

static u64 iloc(erofs_nid_t nid)
{
	return META_BLK * BS + nid * 32;
}

/* An inode of "mode" at "nid"; returns where its ibody ends. */
static u64 put_inode(erofs_nid_t nid, u32 mode, u8 layout, u64 size, u32 i_u,
		     u16 icount)
{
	struct erofs_inode_info ii = {
		.version = EROFS_INODE_LAYOUT_COMPACT,
		.datalayout = layout,
		.xattr_icount = icount,
		.mode = mode,
		.nlink = S_ISDIR(mode) ? 2 : 1,
		.size = size,
		.i_u = i_u,
	};

	erofs_inode_encode(&ii, image + iloc(nid));
	return iloc(nid) + 32 + erofs_xattr_ibody_size(icount);
}

static int open_image(struct erofs_image *img, size_t size, bool nocrc)
{
	struct erofs_image_opts o = { .no_sbcrc = nocrc };
	FILE *f = fopen(path, "wb");

	fwrite(image, 1, size, f);
	fclose(f);
	erofs_clear_error();
	return erofs_image_open(img, path, &o);
}

/* A directory block with these names (in the given order) at "at". */
static u32 put_dirents(u8 *at, const char *const *names, const erofs_nid_t *nids,
		       const u8 *types, unsigned int n)
{
	struct erofs_dirent *de = (void *)at;
	u32 off = n * sizeof(*de);

	for (unsigned int i = 0; i < n; i++) {
		size_t len = strlen(names[i]);

		de[i].nid = cpu_to_le64(nids[i]);
		de[i].nameoff = cpu_to_le16(off);
		de[i].file_type = types[i];
		memcpy(at + off, names[i], len);
		off += len;
	}
	return off;
}

static void test_superblock(void)
{
	struct erofs_image img;
	int ret;

	reset();
	put_inode(1, S_IFDIR | 0755, EROFS_INODE_FLAT_PLAIN, 0, 0, 0);
	sb.feature_compat |= EROFS_FEATURE_COMPAT_SB_CHKSUM;
	put_sb();
	ret = open_image(&img, sizeof(image), false);
	CHECK("reader: valid image opens", !ret);
	if (!ret) {
		CHECK("reader: checksum verified", img.sb_csum_verified);
		erofs_image_close(&img);
	}

	image[3000] ^= 1; /* inside the checksummed part of block 0 */
	CHECK("reader: checksum mismatch refused as corruption",
	      open_image(&img, sizeof(image), false) == -EFSCORRUPTED);
	CHECK("reader: the refusal names the checksum",
	      erofs_last_error() && strstr(erofs_last_error(), "checksum"));
	ret = open_image(&img, sizeof(image), true);
	CHECK("reader: --no-sbcrc skips the checksum", !ret);
	if (!ret)
		erofs_image_close(&img);

	reset();
	sb.feature_incompat = 0x400;
	put_sb();
	CHECK("reader: unknown incompat feature refused",
	      open_image(&img, sizeof(image), false) == -EOPNOTSUPP);
	CHECK("reader: the refusal names the bits",
	      erofs_last_error() && strstr(erofs_last_error(), "0x400"));

	reset();
	sb.feature_incompat = EROFS_FEATURE_INCOMPAT_METABOX;
	put_sb();
	ret = open_image(&img, sizeof(image), false);
	CHECK("reader: metabox without the superblock slot naming it refused",
	      ret == -EFSCORRUPTED &&
		      strstr(erofs_last_error(), "extension slot"));

	reset();
	sb.feature_incompat = EROFS_FEATURE_INCOMPAT_METABOX;
	sb.sb_extslots = 1;
	sb.metabox_nid = 1ULL << EROFS_DIRENT_NID_METABOX_BIT | 36;
	put_sb();
	ret = open_image(&img, sizeof(image), false);
	CHECK("reader: metabox nid inside the metabox refused as a loop",
	      ret == -EFSCORRUPTED && strstr(erofs_last_error(), "loop"));

	reset();
	sb.packed_nid = 1ULL << EROFS_DIRENT_NID_METABOX_BIT;
	put_sb();
	ret = open_image(&img, sizeof(image), false);
	CHECK("reader: packed inode nid inside a metabox refused",
	      ret == -EFSCORRUPTED && strstr(erofs_last_error(), "metabox"));

	reset();
	sb.dirblkbits = 1;
	put_sb();
	CHECK("reader: large directory blocks refused",
	      open_image(&img, sizeof(image), false) == -EOPNOTSUPP);

	reset();
	sb.feature_compat |= EROFS_FEATURE_COMPAT_ISHARE_XATTRS;
	put_sb();
	CHECK("reader: fingerprint prefix id without a prefix table refused",
	      open_image(&img, sizeof(image), false) == -EFSCORRUPTED);

	reset();
	put_sb();
	CHECK("reader: image cut inside the superblock refused",
	      open_image(&img, EROFS_SUPER_OFFSET + 64, false) ==
		      -EFSCORRUPTED);
	image[EROFS_SUPER_OFFSET] ^= 0xff;
	CHECK("reader: bad magic refused",
	      open_image(&img, sizeof(image), false) == -EFSCORRUPTED);
}

static void put_prefix(u64 pos, u8 base, const char *infix)
{
	u16 len = 1 + strlen(infix);
	__le16 le = cpu_to_le16(len);

	memcpy(image + pos, &le, 2);
	image[pos + 2] = base;
	memcpy(image + pos + 3, infix, len - 1);
}

static void test_prefixes(void)
{
	struct erofs_image img;
	int ret;

	reset();
	sb.feature_compat |= EROFS_FEATURE_COMPAT_PLAIN_XATTR_PFX |
			     EROFS_FEATURE_COMPAT_ISHARE_XATTRS;
	sb.feature_incompat = EROFS_FEATURE_INCOMPAT_XATTR_PREFIXES;
	sb.xattr_prefix_count = 2;
	sb.xattr_prefix_start = 0x500 / 4;
	sb.ishare_xattr_prefix_id = 1;
	put_prefix(0x500, EROFS_XATTR_INDEX_USER, "project.");
	/* 2 + 1 + 8 = 11 bytes, the next record starts 4-aligned at 12 */
	put_prefix(0x50c, EROFS_XATTR_INDEX_TRUSTED, "erofs.fingerprint");
	put_sb();
	ret = open_image(&img, sizeof(image), false);
	CHECK("prefixes: table loads", !ret);
	if (!ret) {
		CHECK("prefixes: both records",
		      img.nr_prefixes == 2 &&
			      !strcmp(img.prefixes[0].infix, "project.") &&
			      img.prefixes[1].base_index ==
				      EROFS_XATTR_INDEX_TRUSTED);
		CHECK("prefixes: fingerprint name built from the record",
		      img.ishare_name &&
			      !strcmp(img.ishare_name,
				      "trusted.erofs.fingerprint"));
		erofs_image_close(&img);
	}
	image[0x50c] = 0;
	image[0x50d] = 0; /* a zero length */
	CHECK("prefixes: zero-length record refused",
	      open_image(&img, sizeof(image), false) == -EFSCORRUPTED);
	put_prefix(0x50c, EROFS_XATTR_INDEX_TRUSTED, "erofs.fingerprint");
	image[0x510] = '\0';
	CHECK("prefixes: NUL inside an infix refused",
	      open_image(&img, sizeof(image), false) == -EFSCORRUPTED);
	sb.xattr_prefix_start = (sizeof(image) - 4) / 4;
	put_sb();
	CHECK("prefixes: table past the end refused",
	      open_image(&img, sizeof(image), false) == -EFSCORRUPTED);
}

static void test_inodes(void)
{
	struct erofs_image img;
	struct erofs_rinode ri;
	const char *why;
	int ret;

	reset();
	put_inode(1, S_IFDIR | 0755, EROFS_INODE_FLAT_PLAIN, 0, 0, 0);
	/* nid 2: 100-byte inline file right after its inode */
	put_inode(2, S_IFREG | 0644, EROFS_INODE_FLAT_INLINE, 100, 0, 0);
	/* nid 126: the last but one slot of the block; its tail crosses */
	put_inode(126, S_IFREG | 0644, EROFS_INODE_FLAT_INLINE, 40, 0, 0);
	/* nid 125: a tail that ends exactly at the block end */
	put_inode(125, S_IFREG | 0644, EROFS_INODE_FLAT_INLINE, 64, 0, 0);
	/* nid 4: flat data running past the image */
	put_inode(4, S_IFREG | 0644, EROFS_INODE_FLAT_PLAIN, 3 * BS,
		  NBLOCKS - 2, 0);
	/* nid 5: flat data exactly at the end */
	put_inode(5, S_IFREG | 0644, EROFS_INODE_FLAT_PLAIN, 2 * BS,
		  NBLOCKS - 2, 0);
	/* nid 6: an unknown chunk format bit */
	put_inode(6, S_IFREG | 0644, EROFS_INODE_CHUNK_BASED, BS, 0x80, 0);
	/* nid 7: a bogus file type */
	put_inode(7, 0170000 | 0644, EROFS_INODE_FLAT_PLAIN, 0, 0, 0);
	/* nid 8: FLAT_PLAIN whose start block is the null address */
	put_inode(8, S_IFREG | 0644, EROFS_INODE_FLAT_PLAIN, 5 * BS,
		  EROFS_NULL_ADDR, 0);
	put_sb();
	if (open_image(&img, sizeof(image), false)) {
		CHECK("inodes: image opens", 0);
		return;
	}
	ret = erofs_read_inode(&img, 2, &ri, &why);
	CHECK("inodes: inline file decodes", !ret);
	CHECK("inodes: inline tail right after the inode",
	      ri.tail_pos == iloc(2) + 32 && ri.tail_len == 100);
	CHECK("inodes: tail crossing a block refused",
	      erofs_read_inode(&img, 126, &ri, &why) == -EFSCORRUPTED &&
		      strstr(why, "crosses"));
	CHECK("inodes: tail ending at the block end accepted",
	      !erofs_read_inode(&img, 125, &ri, &why));
	CHECK("inodes: data past the end refused",
	      erofs_read_inode(&img, 4, &ri, &why) == -EFSCORRUPTED);
	CHECK("inodes: data ending at the image end accepted",
	      !erofs_read_inode(&img, 5, &ri, &why));
	CHECK("inodes: unknown chunk format is unsupported",
	      erofs_read_inode(&img, 6, &ri, &why) == -EOPNOTSUPP);
	CHECK("inodes: bogus file type refused",
	      erofs_read_inode(&img, 7, &ri, &why) == -EFSCORRUPTED);
	CHECK("inodes: nid past the end refused",
	      erofs_read_inode(&img, sizeof(image) / 32, &ri, &why) ==
		      -EFSCORRUPTED);
	CHECK("inodes: huge nid refused without overflow",
	      erofs_read_inode(&img, UINT64_MAX >> 1, &ri, &why) ==
		      -EFSCORRUPTED);
	ret = erofs_read_inode(&img, 8, &ri, &why);
	CHECK("inodes: null start block is a hole", !ret && ri.null_startblk);
	if (!ret) {
		u8 buf[BS], zero[BS] = { 0 };

		CHECK("inodes: hole reads as zeros",
		      !erofs_read_data(&img, &ri, buf, BS, BS, &why) &&
			      !memcmp(buf, zero, BS));
	}
	erofs_image_close(&img);
}

/* A root directory at nid 1 with inline entries; returns open status. */
static int dir_image(struct erofs_image *img, const char *const *names,
		     unsigned int n, u8 bad_type)
{
	erofs_nid_t nids[16];
	u8 types[16];
	u64 pos;
	u32 len;

	reset();
	for (unsigned int i = 0; i < n; i++) {
		nids[i] = 1;
		types[i] = EROFS_FT_DIR;
	}
	if (bad_type)
		types[n - 1] = bad_type;
	/* the inline tail follows the inode; size decided below */
	pos = iloc(1) + 32;
	len = put_dirents(image + pos, names, nids, types, n);
	put_inode(1, S_IFDIR | 0755, EROFS_INODE_FLAT_INLINE, len, 0, 0);
	put_sb();
	return open_image(img, sizeof(image), false);
}

/* Iterate the root: the number of entries, or the error. */
static int list_root(struct erofs_image *img, char *out, size_t size)
{
	struct erofs_dir_cursor c;
	struct erofs_rdirent d;
	struct erofs_rinode ri;
	const char *why;
	int ret, n = 0;

	out[0] = '\0';
	ret = erofs_read_inode(img, 1, &ri, &why);
	if (ret)
		return ret;
	if (erofs_dir_open(&c, img, &ri))
		return -ENOMEM;
	while ((ret = erofs_dir_next(&c, &d, &why)) > 0) {
		strncat(out, d.name, min_t(size_t, d.name_len,
					    size - strlen(out) - 2));
		strcat(out, ",");
		n++;
	}
	erofs_dir_close(&c);
	return ret < 0 ? ret : n;
}

static void test_dirs(void)
{
	static const char *const good[] = { ".", "..", "a", "b-long-name", "c" };
	static const char *const unsorted[] = { ".", "..", "b", "a" };
	static const char *const dup[] = { ".", "..", "a", "a" };
	static const char *const slash[] = { ".", "..", "a/b" };
	struct erofs_image img;
	char list[256];
	erofs_nid_t nid;
	const char *why;
	struct erofs_rinode ri;

	if (dir_image(&img, good, 5, 0)) {
		CHECK("dirs: image opens", 0);
		return;
	}
	CHECK("dirs: entries listed in order",
	      list_root(&img, list, sizeof(list)) == 5 &&
		      !strcmp(list, ".,..,a,b-long-name,c,"));
	erofs_read_inode(&img, 1, &ri, &why);
	CHECK("dirs: lookup finds a name",
	      !erofs_dir_find(&img, &ri, "b-long-name", 11, &nid, &why) &&
		      nid == 1);
	CHECK("dirs: lookup of a missing name",
	      erofs_dir_find(&img, &ri, "bb", 2, &nid, &why) == -ENOENT);
	CHECK("dirs: path lookup", !erofs_lookup_path(&img, "/./a", &nid));
	erofs_image_close(&img);

	dir_image(&img, unsorted, 4, 0);
	CHECK("dirs: unsorted names refused",
	      list_root(&img, list, sizeof(list)) == -EFSCORRUPTED);
	erofs_image_close(&img);
	dir_image(&img, dup, 4, 0);
	CHECK("dirs: duplicate names refused",
	      list_root(&img, list, sizeof(list)) == -EFSCORRUPTED);
	erofs_image_close(&img);
	dir_image(&img, slash, 3, 0);
	CHECK("dirs: '/' in a name refused",
	      list_root(&img, list, sizeof(list)) == -EFSCORRUPTED);
	erofs_image_close(&img);
	dir_image(&img, good, 5, EROFS_FT_MAX);
	CHECK("dirs: unknown file type refused",
	      list_root(&img, list, sizeof(list)) == -EFSCORRUPTED);
	erofs_image_close(&img);

	/* "a\0b" cannot go through strlen: patch the NUL in afterwards */
	dir_image(&img, good, 5, 0);
	erofs_image_close(&img);
	image[iloc(1) + 32 + 5 * 12 + 3 + 1] = '\0'; /* in "b-long-name" */
	open_image(&img, sizeof(image), false);
	CHECK("dirs: NUL inside a name refused",
	      list_root(&img, list, sizeof(list)) == -EFSCORRUPTED);
	erofs_image_close(&img);

	dir_image(&img, good, 5, 0);
	erofs_image_close(&img);
	image[iloc(1) + 32 + 8] = 7; /* first nameoff not a multiple of 12 */
	open_image(&img, sizeof(image), false);
	CHECK("dirs: odd first name offset refused",
	      list_root(&img, list, sizeof(list)) == -EFSCORRUPTED);
	erofs_image_close(&img);

	dir_image(&img, good, 5, 0);
	erofs_image_close(&img);
	/* entry 3 and 4 offsets equal: an empty name */
	memcpy(image + iloc(1) + 32 + 4 * 12 + 8,
	       image + iloc(1) + 32 + 3 * 12 + 8, 2);
	open_image(&img, sizeof(image), false);
	CHECK("dirs: empty name refused",
	      list_root(&img, list, sizeof(list)) == -EFSCORRUPTED);
	erofs_image_close(&img);
}

/* Xattr entries after a header with "shared" ids; returns bytes used. */
static u32 put_xattr(u8 *at, u8 index, const char *name, const char *value)
{
	struct erofs_xattr_entry *e = (void *)at;
	size_t nl = strlen(name), vl = strlen(value);

	e->e_name_len = nl;
	e->e_name_index = index;
	e->e_value_size = cpu_to_le16(vl);
	memcpy(at + 4, name, nl);
	memcpy(at + 4 + nl, value, vl);
	return erofs_xattr_entry_size(nl, vl);
}

struct xlist {
	char text[512];
	int n;
};

static int collect(void *arg, const struct erofs_xattr_ref *x)
{
	struct xlist *l = arg;
	size_t len = strlen(l->text);

	snprintf(l->text + len, sizeof(l->text) - len, "%s%s=%.*s;",
		 x->shared ? "*" : "", x->name, (int)x->value_len, x->value);
	l->n++;
	return 0;
}

static int xattrs_of(struct erofs_image *img, erofs_nid_t nid, struct xlist *l)
{
	struct erofs_rinode ri;
	const char *why;
	int ret = erofs_read_inode(img, nid, &ri, &why);

	memset(l, 0, sizeof(*l));
	if (ret)
		return ret;
	return erofs_xattr_foreach(img, &ri, collect, l, &why);
}

static void test_xattrs(void)
{
	struct erofs_xattr_ibody_header *h;
	struct erofs_image img;
	struct xlist l;
	u64 shared = 8 * BS;
	u32 off, total;
	u8 *body;
	__le32 id;

	reset();
	sb.feature_compat |= EROFS_FEATURE_COMPAT_PLAIN_XATTR_PFX;
	sb.feature_incompat = EROFS_FEATURE_INCOMPAT_XATTR_PREFIXES;
	sb.xattr_prefix_count = 1;
	sb.xattr_prefix_start = 0x500 / 4;
	put_prefix(0x500, EROFS_XATTR_INDEX_TRUSTED, "overlay.");
	put_inode(1, S_IFDIR | 0755, EROFS_INODE_FLAT_PLAIN, 0, 0, 0);
	/* shared entry 0 */
	put_xattr(image + shared, EROFS_XATTR_INDEX_SECURITY, "selinux", "ctx");

	/* nid 2: one shared id, a padding entry, a user xattr, a long one */
	body = image + iloc(2) + 32;
	h = (void *)body;
	h->h_name_filter = 0;
	h->h_shared_count = 1;
	id = cpu_to_le32(0);
	memcpy(body + 12, &id, 4);
	off = 16;
	off += 4; /* all-zero padding entry */
	off += put_xattr(body + off, EROFS_XATTR_INDEX_USER, "k", "v1");
	off += put_xattr(body + off, EROFS_XATTR_LONG_PREFIX | 0, "opaque",
			 "y");
	total = off;
	put_inode(2, S_IFREG | 0644, EROFS_INODE_FLAT_PLAIN, 0, 0,
		  1 + (total - 12) / 4);
	put_sb();
	if (open_image(&img, sizeof(image), false)) {
		CHECK("xattrs: image opens", 0);
		return;
	}
	CHECK("xattrs: inline, long-prefix and shared entries decode",
	      !xattrs_of(&img, 2, &l) && l.n == 3 &&
		      !strcmp(l.text,
			      "user.k=v1;trusted.overlay.opaque=y;*security.selinux=ctx;"));
	erofs_image_close(&img);

	/* the area one entry shorter: the last entry overruns it */
	put_inode(2, S_IFREG | 0644, EROFS_INODE_FLAT_PLAIN, 0, 0,
		  (total - 12) / 4);
	open_image(&img, sizeof(image), false);
	CHECK("xattrs: entry running past the area refused",
	      xattrs_of(&img, 2, &l) == -EFSCORRUPTED);
	erofs_image_close(&img);

	put_inode(2, S_IFREG | 0644, EROFS_INODE_FLAT_PLAIN, 0, 0, 1);
	open_image(&img, sizeof(image), false);
	CHECK("xattrs: header-only area (icount 1) refused",
	      xattrs_of(&img, 2, &l) == -EFSCORRUPTED);
	erofs_image_close(&img);

	put_inode(2, S_IFREG | 0644, EROFS_INODE_FLAT_PLAIN, 0, 0,
		  1 + (total - 12) / 4);
	body[20 + 1] = 0x80 | 5; /* long prefix 5 does not exist */
	open_image(&img, sizeof(image), false);
	CHECK("xattrs: missing long prefix refused",
	      xattrs_of(&img, 2, &l) == -EFSCORRUPTED);
	erofs_image_close(&img);
	body[20 + 1] = 9; /* no such short prefix */
	open_image(&img, sizeof(image), false);
	CHECK("xattrs: unknown name index refused",
	      xattrs_of(&img, 2, &l) == -EFSCORRUPTED);
	erofs_image_close(&img);
	body[20 + 1] = EROFS_XATTR_INDEX_USER;

	h->h_shared_count = 200; /* more ids than the area holds */
	open_image(&img, sizeof(image), false);
	CHECK("xattrs: shared count beyond the area refused",
	      xattrs_of(&img, 2, &l) == -EFSCORRUPTED);
	erofs_image_close(&img);
	h->h_shared_count = 1;
	id = cpu_to_le32(UINT32_MAX);
	memcpy(body + 12, &id, 4);
	open_image(&img, sizeof(image), false);
	CHECK("xattrs: shared id past the image refused",
	      xattrs_of(&img, 2, &l) == -EFSCORRUPTED);
	erofs_image_close(&img);

#ifdef HAVE_XXHASH
	id = cpu_to_le32(0);
	memcpy(body + 12, &id, 4);
	h->h_name_filter = cpu_to_le32(UINT32_MAX); /* "has nothing" */
	sb.feature_compat |= EROFS_FEATURE_COMPAT_XATTR_FILTER;
	put_sb();
	open_image(&img, sizeof(image), false);
	CHECK("xattrs: name filter hiding a present name refused",
	      xattrs_of(&img, 2, &l) == -EFSCORRUPTED);
	erofs_image_close(&img);
#endif
}

static void test_chunks(void)
{
	struct erofs_image img;
	struct erofs_rinode ri;
	struct erofs_map m;
	const char *why;
	__le32 map[6];
	u64 pos;
	int ret;

	reset();
	sb.feature_incompat = EROFS_FEATURE_INCOMPAT_CHUNKED_FILE;
	put_inode(1, S_IFDIR | 0755, EROFS_INODE_FLAT_PLAIN, 0, 0, 0);
	/* nid 2: six one-block chunks: 4 5 hole hole 9 3 */
	pos = put_inode(2, S_IFREG | 0644, EROFS_INODE_CHUNK_BASED,
			6 * BS - 100, 0, 0);
	map[0] = cpu_to_le32(4);
	map[1] = cpu_to_le32(5);
	map[2] = cpu_to_le32(EROFS_NULL_ADDR);
	map[3] = cpu_to_le32(EROFS_NULL_ADDR);
	map[4] = cpu_to_le32(9);
	map[5] = cpu_to_le32(NBLOCKS - 1);
	memcpy(image + pos, map, sizeof(map));
	memset(image + 4 * BS, 'a', 2 * BS);
	memset(image + 9 * BS, 'b', BS);
	put_sb();
	if (open_image(&img, sizeof(image), false) ||
	    erofs_read_inode(&img, 2, &ri, &why)) {
		CHECK("chunks: image opens", 0);
		return;
	}
	ret = erofs_map_data(&img, &ri, 100, &m, &why);
	CHECK("chunks: contiguous chunks merge into one extent",
	      !ret && m.kind == EROFS_MAP_MAPPED && m.la == 0 &&
		      m.llen == 2 * BS && m.pa == 4 * BS);
	ret = erofs_map_data(&img, &ri, 2 * BS + 1, &m, &why);
	CHECK("chunks: adjacent holes merge",
	      !ret && m.kind == EROFS_MAP_HOLE && m.la == 2 * BS &&
		      m.llen == 2 * BS);
	ret = erofs_map_data(&img, &ri, 6 * BS - 101, &m, &why);
	CHECK("chunks: the last extent stops at i_size",
	      !ret && m.la == 5 * BS && m.llen == BS - 100);
	erofs_image_close(&img);

	map[5] = cpu_to_le32(NBLOCKS);
	memcpy(image + pos, map, sizeof(map));
	open_image(&img, sizeof(image), false);
	erofs_read_inode(&img, 2, &ri, &why);
	CHECK("chunks: chunk past the image refused",
	      erofs_map_data(&img, &ri, 5 * BS, &m, &why) == -EFSCORRUPTED);
	erofs_image_close(&img);

	/* 8-byte indexes with a 48-bit address whose top half is set */
	{
		struct erofs_inode_chunk_index ci[2] = { 0 };

		pos = put_inode(2, S_IFREG | 0644, EROFS_INODE_CHUNK_BASED,
				2 * BS,
				EROFS_CHUNK_FORMAT_INDEXES |
					EROFS_CHUNK_FORMAT_48BIT,
				0);
		pos = round_up(pos, 8);
		ci[0].startblk_lo = cpu_to_le32(4);
		ci[1].startblk_lo = cpu_to_le32(4);
		ci[1].startblk_hi = cpu_to_le16(1);
		memcpy(image + pos, ci, sizeof(ci));
		open_image(&img, sizeof(image), false);
		erofs_read_inode(&img, 2, &ri, &why);
		ret = erofs_map_data(&img, &ri, 0, &m, &why);
		CHECK("chunks: 48-bit indexes are not merged across the high half",
		      !ret && m.llen == BS);
		CHECK("chunks: 48-bit address past the image refused",
		      erofs_map_data(&img, &ri, BS, &m, &why) ==
			      -EFSCORRUPTED);
		erofs_image_close(&img);
	}
}

/* Slot i of the device table at devt_slotoff 9 (byte 1152). */
static void put_slot(unsigned int i, u32 blocks, u32 uniaddr, u16 blocks_hi,
		     const char *tag)
{
	struct erofs_deviceslot ds = {
		.blocks_lo = cpu_to_le32(blocks),
		.uniaddr_lo = cpu_to_le32(uniaddr),
		.blocks_hi = cpu_to_le16(blocks_hi),
	};

	memcpy(ds.tag, tag, strlen(tag));
	memcpy(image + 9 * EROFS_DEVT_SLOT_SIZE + i * sizeof(ds), &ds,
	       sizeof(ds));
}

/*
 * Three extra devices after an 8-block primary: 1 at unified block 8 (4
 * blocks), 2 without a unified address, 3 at block 12 (2 blocks, with a
 * blocks_hi that only 48-bit images read).
 */
static void reset_devices(void)
{
	reset();
	sb.blocks = 8;
	sb.feature_incompat = EROFS_FEATURE_INCOMPAT_CHUNKED_FILE |
			      EROFS_FEATURE_INCOMPAT_DEVICE_TABLE;
	sb.extra_devices = 3;
	sb.devt_slotoff = 9;
	put_inode(1, S_IFDIR | 0755, EROFS_INODE_FLAT_PLAIN, 0, 0, 0);
	put_slot(0, 4, 8, 0, "");
	put_slot(1, 2, 0, 0, "blob-two");
	put_slot(2, 2, 12, 1, "");
	for (unsigned int b = 8; b < NBLOCKS; b++)
		memset(image + b * BS, 'A' + b, BS);
	put_sb();
}

static void put_index(u64 pos, unsigned int i, u16 hi, u16 dev, u32 lo)
{
	struct erofs_inode_chunk_index ci = {
		.startblk_hi = cpu_to_le16(hi),
		.device_id = cpu_to_le16(dev),
		.startblk_lo = cpu_to_le32(lo),
	};

	memcpy(image + pos + i * sizeof(ci), &ci, sizeof(ci));
}

static void test_devices(void)
{
	const char *dev_paths[3];
	char dpath[3][80];
	struct erofs_image_opts o = { 0 };
	struct erofs_image img;
	struct erofs_rinode ri;
	struct erofs_map m;
	const char *why = "";
	unsigned int dev;
	u64 pos, room;
	u8 buf[16];
	int ret;

	reset_devices();
	/* nid 2: seven one-block chunks as 8-byte indexes */
	pos = put_inode(2, S_IFREG | 0644, EROFS_INODE_CHUNK_BASED, 7 * BS,
			EROFS_CHUNK_FORMAT_INDEXES, 0);
	pos = round_up(pos, 8);
	put_index(pos, 0, 0, 0xab01, 1); /* nydus' bits above the id */
	put_index(pos, 1, 0x55, 1, 2);	 /* startblk_hi is not 48-bit */
	put_index(pos, 2, 0, 3, 0);
	put_index(pos, 3, 0, 0, 13);	 /* device 3 by unified address */
	put_index(pos, 4, 0, 0, 5);	 /* the primary */
	put_index(pos, 5, 0, 2, 1);
	put_index(pos, 6, 0, 1, 4);	 /* past device 1's 4 blocks */
	ret = open_image(&img, sizeof(image), false);
	CHECK("devices: an image with a device table opens", !ret);
	if (ret)
		return;
	CHECK("devices: three devices, mask 3, flat mode",
	      img.nr_devices == 3 && img.device_id_mask == 3 && img.flatdev);
	CHECK("devices: blocks_hi is ignored without 48-bit",
	      img.devices[2].blocks == 2);
	CHECK("devices: the tag is read",
	      !strcmp(img.devices[1].tag, "blob-two"));

	dev = 0, pos = 9 * BS;
	ret = erofs_device_resolve(&img, &dev, &pos, &room, &why);
	CHECK("devices: a unified address moves to its device",
	      !ret && dev == 1 && pos == BS && room == 3 * BS);
	dev = 0, pos = 5 * BS;
	ret = erofs_device_resolve(&img, &dev, &pos, &room, &why);
	CHECK("devices: the primary ends where a unified range starts",
	      !ret && dev == 0 && pos == 5 * BS && room == 3 * BS);
	dev = 0, pos = 14 * BS;
	ret = erofs_device_resolve(&img, &dev, &pos, &room, &why);
	CHECK("devices: past the ranges, the primary again",
	      !ret && dev == 0 && room == 2 * BS);
	dev = 3, pos = 2 * BS;
	CHECK("devices: an address past its device is corrupt",
	      erofs_device_resolve(&img, &dev, &pos, &room, &why) ==
		      -EFSCORRUPTED);
	dev = 4, pos = 0;
	CHECK("devices: a device the table lacks is corrupt",
	      erofs_device_resolve(&img, &dev, &pos, &room, &why) ==
		      -EFSCORRUPTED);
	ret = erofs_device_read(&img, 1, buf, sizeof(buf), BS, &why);
	CHECK("devices: flat mode reads a device from the image",
	      !ret && buf[0] == 'A' + 9);
	ret = erofs_device_read(&img, 2, buf, sizeof(buf), 0, &why);
	CHECK("devices: a device without a unified address is missing",
	      ret == -ENODEV && strstr(why, "extra device 2 is not in"));

	ret = erofs_read_inode(&img, 2, &ri, &why);
	CHECK("devices: chunk-based inode reads", !ret);
	ret = erofs_map_data(&img, &ri, 0, &m, &why);
	CHECK("devices: masked device id; startblk_hi ignored; runs merge",
	      !ret && m.kind == EROFS_MAP_MAPPED && m.dev == 1 &&
		      m.pa == BS && m.llen == 2 * BS);
	ret = erofs_map_data(&img, &ri, 2 * BS, &m, &why);
	CHECK("devices: a chunk of device 3",
	      !ret && m.dev == 3 && m.pa == 0 && m.llen == BS);
	ret = erofs_map_data(&img, &ri, 3 * BS, &m, &why);
	CHECK("devices: a device-0 chunk at a unified address is on device 3",
	      !ret && m.dev == 3 && m.pa == BS && m.llen == BS);
	ret = erofs_map_data(&img, &ri, 4 * BS, &m, &why);
	CHECK("devices: a primary chunk stays on the primary",
	      !ret && m.dev == 0 && m.pa == 5 * BS && m.llen == BS);
	ret = erofs_map_data(&img, &ri, 6 * BS, &m, &why);
	CHECK("devices: a chunk past its device's end is corrupt",
	      ret == -EFSCORRUPTED);
	ret = erofs_read_data(&img, &ri, buf, sizeof(buf), 3 * BS, &why);
	CHECK("devices: data of device 3 read through the image",
	      !ret && buf[0] == 'A' + 13);
	ret = erofs_read_data(&img, &ri, buf, sizeof(buf), 5 * BS, &why);
	CHECK("devices: data of a missing device is -ENODEV", ret == -ENODEV);
	erofs_image_close(&img);

	/* with files of their own */
	for (unsigned int i = 0; i < 3; i++) {
		FILE *f;

		snprintf(dpath[i], sizeof(dpath[i]), "%s/dev%u", tmpdir, i + 1);
		f = fopen(dpath[i], "wb");
		for (unsigned int b = 0; b < 4; b++) {
			memset(buf, '0' + 10 * i + b, sizeof(buf));
			for (unsigned int k = 0; k < BS / sizeof(buf); k++)
				fwrite(buf, 1, sizeof(buf), f);
		}
		fclose(f);
		dev_paths[i] = dpath[i];
	}
	o.devices = dev_paths;
	o.nr_devices = 2;
	erofs_clear_error();
	CHECK("devices: a wrong count of files is refused",
	      erofs_image_open(&img, path, &o) == -EINVAL &&
		      erofs_last_error() &&
		      strstr(erofs_last_error(),
			     "extra devices don't match (ondisk 3, given 2)"));
	o.nr_devices = 3;
	ret = erofs_image_open(&img, path, &o);
	CHECK("devices: files given for all three", !ret && !img.flatdev);
	if (!ret) {
		ret = erofs_read_inode(&img, 2, &ri, &why);
		ret = ret ?: erofs_read_data(&img, &ri, buf, sizeof(buf),
					     5 * BS, &why);
		CHECK("devices: a device read from its file",
		      !ret && buf[0] == '0' + 10 + 1);
		ret = erofs_device_read(&img, 3, buf, sizeof(buf), BS, &why);
		CHECK("devices: the file of device 3", !ret &&
						      buf[0] == '0' + 21);
		erofs_image_close(&img);
	}
	for (unsigned int i = 0; i < 3; i++)
		unlink(dpath[i]);

	reset_devices();
	sb.extra_devices = 2;
	pos = put_inode(2, S_IFREG | 0644, EROFS_INODE_CHUNK_BASED, BS,
			EROFS_CHUNK_FORMAT_INDEXES, 0);
	put_index(round_up(pos, 8), 0, 0, 3, 0);
	put_sb();
	ret = open_image(&img, sizeof(image), false);
	if (!ret && !erofs_read_inode(&img, 2, &ri, &why))
		CHECK("devices: device id 3 of 2 (mask 3) is corrupt",
		      erofs_map_data(&img, &ri, 0, &m, &why) == -EFSCORRUPTED);
	else
		CHECK("devices: two-device image opens", 0);
	if (!ret)
		erofs_image_close(&img);

	reset_devices();
	put_slot(2, 2, 9, 0, "");
	put_sb();
	CHECK("devices: overlapping unified ranges are corrupt",
	      open_image(&img, sizeof(image), false) == -EFSCORRUPTED &&
		      strstr(erofs_last_error(), "overlap"));
	reset_devices();
	sb.extra_devices = 200; /* 25600 bytes of slots in 8 blocks: fits */
	put_sb();
	ret = open_image(&img, sizeof(image), false);
	CHECK("devices: 200 slots inside the primary open", !ret);
	if (!ret)
		erofs_image_close(&img);
	sb.extra_devices = 300; /* 38400 bytes: past the primary's 8 blocks */
	put_sb();
	CHECK("devices: a table past the primary is corrupt",
	      open_image(&img, sizeof(image), false) == -EFSCORRUPTED &&
		      strstr(erofs_last_error(), "runs past the end"));
	reset_devices();
	sb.devt_slotoff = 8;
	put_sb();
	CHECK("devices: a table over the superblock is corrupt",
	      open_image(&img, sizeof(image), false) == -EFSCORRUPTED);
	reset_devices();
	sb.feature_incompat &= ~EROFS_FEATURE_INCOMPAT_DEVICE_TABLE;
	put_sb();
	ret = open_image(&img, sizeof(image), false);
	CHECK("devices: extra_devices without the feature is not read",
	      !ret && img.nr_devices == 0 && img.device_id_mask == 0);
	if (!ret)
		erofs_image_close(&img);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		printf("FAIL: reader: cannot make a temporary directory\n");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/img", tmpdir);
	test_superblock();
	test_prefixes();
	test_inodes();
	test_dirs();
	test_xattrs();
	test_chunks();
	test_devices();
	unlink(path);
	rmdir(tmpdir);
	UNIT_EXIT();
}
