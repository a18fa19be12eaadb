// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of the on-disk encoders: superblock, inodes, dirents, crc. */
#include <stdlib.h>
#include <sys/stat.h>

#include "erofs/crc32c.h"
#include "erofs/dir.h"
#include "erofs/format.h"
#include "erofs/inode.h"
#include "erofs/super.h"
#include "erofs/tree.h"
#include "unit.h"

static void test_crc32c(void)
{
	/* the standard check value of CRC-32C over "123456789" */
	u32 crc = erofs_crc32c(~0U, "123456789", 9) ^ ~0U;

	CHECK("crc32c check value", crc == 0xE3069283);
}

static void test_superblock(void)
{
	struct erofs_sb_info in = {
		.feature_compat = EROFS_FEATURE_COMPAT_SB_CHKSUM |
				  EROFS_FEATURE_COMPAT_ISHARE_XATTRS,
		.feature_incompat = EROFS_FEATURE_INCOMPAT_XATTR_PREFIXES,
		.blkszbits = 12,
		.root_nid = 1234,
		.inos = 99,
		.epoch = 1700000000,
		.fixed_nsec = 5,
		.blocks = 4242,
		.meta_blkaddr = 17,
		.xattr_blkaddr = 16,
		.volume_name = "label",
		.xattr_prefix_count = 2,
		.xattr_prefix_start = 0x120,
		.ishare_xattr_prefix_id = 1,
	}, out;
	u8 block[4096] = { 0 };
	const char *why = NULL;
	u8 *sb = block + EROFS_SUPER_OFFSET;
	u32 le;

	memset(in.uuid, 0xab, 16);
	erofs_sb_encode(&in, sb);
	memcpy(&le, sb, 4);
	CHECK("sb magic at offset 1024", le32_to_cpu(le) == EROFS_SUPER_MAGIC);
	CHECK("sb ishare prefix id at byte 0x69", sb[0x69] == 1);
	CHECK("sb blkszbits at byte 12", sb[12] == 12);
	memcpy(&le, sb + 92, 4);
	CHECK("sb xattr_prefix_start at byte 92", le32_to_cpu(le) == 0x120);
	CHECK("sb decodes", !erofs_sb_decode(sb, 3072, &out, &why));
	CHECK("sb round trip root nid", out.root_nid == 1234);
	CHECK("sb round trip blocks", out.blocks == 4242);
	CHECK("sb round trip epoch", out.epoch == 1700000000 &&
					     out.fixed_nsec == 5);
	CHECK("sb round trip label", !strcmp(out.volume_name, "label"));
	CHECK("sb round trip features",
	      out.feature_compat == in.feature_compat &&
		      out.feature_incompat == in.feature_incompat);

	/* the checksum ignores the stored checksum field itself */
	u32 c1 = erofs_sb_checksum(sb, erofs_sb_csum_len(12));
	in.checksum = c1;
	erofs_sb_encode(&in, sb);
	CHECK("sb checksum independent of the field",
	      erofs_sb_checksum(sb, erofs_sb_csum_len(12)) == c1);
	sb[200] ^= 1;
	CHECK("sb checksum covers the rest of the block",
	      erofs_sb_checksum(sb, erofs_sb_csum_len(12)) != c1);
	CHECK("sb checksum length for 512-byte blocks",
	      erofs_sb_csum_len(9) == 512);
	CHECK("sb checksum length for 4096-byte blocks",
	      erofs_sb_csum_len(12) == 3072);

	sb[0] ^= 0xff;
	CHECK("sb bad magic refused", erofs_sb_decode(sb, 3072, &out, &why) ==
						-EFSCORRUPTED);
}

static void test_inodes(void)
{
	struct erofs_sb_info sbi = { .epoch = 1000, .fixed_nsec = 7 };
	struct erofs_inode_info c = {
		.version = EROFS_INODE_LAYOUT_COMPACT,
		.datalayout = EROFS_INODE_FLAT_INLINE,
		.xattr_icount = 3,
		.mode = S_IFREG | 04755,
		.uid = 65535,
		.gid = 7,
		.nlink = 2,
		.size = 12345,
		.i_u = 77,
		.ino = 5,
	}, e = {
		.version = EROFS_INODE_LAYOUT_EXTENDED,
		.datalayout = EROFS_INODE_FLAT_PLAIN,
		.mode = S_IFCHR | 0600,
		.uid = 100000,
		.gid = 200000,
		.nlink = 70000,
		.size = 5ULL << 32,
		.mtime = -5,
		.mtime_nsec = 999999999,
		.i_u = erofs_encode_dev(259, 65537),
		.ino = 6,
	}, out;
	u8 buf[64];
	const char *why;

	erofs_inode_encode(&c, buf);
	CHECK("compact inode i_format", buf[0] == (EROFS_INODE_FLAT_INLINE << 1));
	CHECK("compact inode decodes", !erofs_inode_decode(&sbi, buf, 32, &out, &why));
	CHECK("compact inode round trip",
	      out.mode == c.mode && out.uid == c.uid && out.gid == c.gid &&
		      out.nlink == 2 && out.size == 12345 && out.i_u == 77 &&
		      out.xattr_icount == 3 && out.ino == 5);
	CHECK("compact inode time is the epoch",
	      out.mtime == 1000 && out.mtime_nsec == 7);

	erofs_inode_encode(&e, buf);
	CHECK("extended inode version bit", buf[0] & 1);
	CHECK("extended inode needs 64 bytes",
	      erofs_inode_decode(&sbi, buf, 32, &out, &why) == -EFSCORRUPTED);
	CHECK("extended inode decodes", !erofs_inode_decode(&sbi, buf, 64, &out, &why));
	CHECK("extended inode round trip",
	      out.uid == 100000 && out.gid == 200000 && out.nlink == 70000 &&
		      out.size == (5ULL << 32) && out.mtime == -5 &&
		      out.mtime_nsec == 999999999);
	CHECK("rdev encoding",
	      erofs_dev_major(out.i_u) == 259 && erofs_dev_minor(out.i_u) == 65537);
	CHECK("rdev is new_encode_dev", erofs_encode_dev(8, 1) == 0x801);

	buf[4] = 0; buf[5] = 0; /* mode without a file type */
	CHECK("inode without file type refused",
	      erofs_inode_decode(&sbi, buf, 64, &out, &why) == -EFSCORRUPTED);
}

static void test_dirents(void)
{
	struct erofs_tree t;
	struct erofs_node *root, *kids[300];
	u8 *buf;
	u64 size;
	char name[32];
	int ok = 1;

	erofs_tree_init(&t);
	root = erofs_node_new(&t, S_IFDIR | 0755);
	t.root = root;
	for (int i = 0; i < 300; i++) {
		kids[i] = erofs_node_new(&t, S_IFREG | 0644);
		snprintf(name, sizeof(name), "entry-%03d", 299 - i);
		erofs_dir_add(&t, root, name, strlen(name), kids[i]);
	}
	erofs_tree_finalize(&t);
	for (u64 i = 0; i < t.nr_order; i++)
		t.order[i]->L.nid = 100 + i;

	/* 302 entries of 21 bytes: 195 per 4096-byte block */
	size = erofs_dir_data_size(root, 4096, false);
	CHECK("dir size spans two blocks", size == 4096 + 107 * 21);
	buf = calloc(1, 8192);
	erofs_dir_encode(root, 4096, false, buf);
	struct erofs_dirent de;
	memcpy(&de, buf, sizeof(de));
	CHECK("first dirent nameoff counts the block's entries",
	      le16_to_cpu(de.nameoff) == 195 * 12);
	CHECK("first entry is '.'", buf[195 * 12] == '.' &&
					    buf[195 * 12 + 1] == '.');
	CHECK("'.' points at the directory", le64_to_cpu(de.nid) == 100 &&
						     de.file_type == EROFS_FT_DIR);
	/* names sorted across both blocks */
	char prev[64] = "";
	for (int blk = 0; blk < 2; blk++) {
		u8 *b = buf + blk * 4096;
		unsigned int n, end = blk ? size - 4096 : 4096;

		memcpy(&de, b, sizeof(de));
		n = le16_to_cpu(de.nameoff) / 12;
		for (unsigned int k = 0; k < n; k++) {
			struct erofs_dirent d, d2;
			unsigned int off, next;
			char nm[64];

			memcpy(&d, b + k * 12, 12);
			off = le16_to_cpu(d.nameoff);
			if (k + 1 < n) {
				memcpy(&d2, b + (k + 1) * 12, 12);
				next = le16_to_cpu(d2.nameoff);
			} else {
				next = off + strnlen((char *)b + off, end - off);
			}
			memcpy(nm, b + off, next - off);
			nm[next - off] = 0;
			if (strcmp(prev, nm) >= 0)
				ok = 0;
			strcpy(prev, nm);
		}
	}
	CHECK("dirents sorted across blocks", ok);
	free(buf);
	erofs_tree_free(&t);
}

int main(void)
{
	test_crc32c();
	test_superblock();
	test_inodes();
	test_dirents();
	UNIT_EXIT();
}
