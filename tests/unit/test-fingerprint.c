// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of content fingerprints: SHA-256 against published test
 * vectors, the xattr value format, the long prefix table bytes, and a
 * whole build whose superblock, prefix table and fingerprint entries are
 * checked byte by byte.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "erofs/build.h"
#include "erofs/fingerprint.h"
#include "erofs/format.h"
#include "erofs/source.h"
#include "erofs/xattr.h"
#include "unit.h"

/*
 * Digests from FIPS 180-2 and NIST's examples, checked independently with
 * coreutils' sha256sum, which shares no code with OpenSSL.
 */
#define SHA_EMPTY \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA_A "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
#define SHA_ABC \
	"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_448 \
	"248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
#define SHA_ZERO_BLOCK \
	"ad7facb2586fc6e966c004d7d1d16b024f5805ff7cb47c7a85dabd8b48892ca7"
#define SHA_MILLION_A \
	"cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"

static void unhex(const char *hex, u8 *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned int v;

		sscanf(hex + 2 * i, "%2x", &v);
		out[i] = v;
	}
}

/* SHA-256 of "len" bytes fed in pieces of "piece" bytes (0: one piece). */
static bool digest_is(const void *data, size_t len, size_t piece,
		      const char *hex)
{
	struct erofs_sha256 s;
	u8 got[EROFS_SHA256_SIZE], want[EROFS_SHA256_SIZE];

	if (erofs_sha256_init(&s))
		return false;
	if (!piece)
		piece = len ? len : 1;
	for (size_t off = 0; off < len; off += piece)
		erofs_sha256_update(&s, (const u8 *)data + off,
				    min(piece, len - off));
	erofs_sha256_final(&s, got);
	erofs_sha256_free(&s);
	unhex(hex, want, sizeof(want));
	return !memcmp(got, want, sizeof(want));
}

static void test_sha256(void)
{
	static const char m448[] =
		"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	u8 *buf = malloc(1000000);
	struct erofs_sha256 s;
	u8 d1[32], d2[32];

	CHECK("sha256 of nothing", digest_is("", 0, 0, SHA_EMPTY));
	CHECK("sha256 of 1 byte", digest_is("a", 1, 0, SHA_A));
	CHECK("sha256 of abc", digest_is("abc", 3, 0, SHA_ABC));
	CHECK("sha256 of the 448-bit message",
	      digest_is(m448, strlen(m448), 0, SHA_448));
	CHECK("sha256 of the 448-bit message, 1-byte pieces",
	      digest_is(m448, strlen(m448), 1, SHA_448));
	if (!buf)
		return;
	memset(buf, 0, 4096);
	CHECK("sha256 of a zero block",
	      digest_is(buf, 4096, 0, SHA_ZERO_BLOCK));
	memset(buf, 'a', 1000000);
	CHECK("sha256 of a million a",
	      digest_is(buf, 1000000, 0, SHA_MILLION_A));
	/* pieces that straddle the 64-byte SHA-256 block in every phase */
	CHECK("sha256 of a million a, 4093-byte pieces",
	      digest_is(buf, 1000000, 4093, SHA_MILLION_A));
	CHECK("sha256 of a million a, 65536-byte pieces",
	      digest_is(buf, 1000000, 65536, SHA_MILLION_A));

	/* the context is ready for the next file after final */
	CHECK("sha256 init", !erofs_sha256_init(&s));
	erofs_sha256_update(&s, "abc", 3);
	erofs_sha256_final(&s, d1);
	erofs_sha256_update(&s, "abc", 3);
	erofs_sha256_final(&s, d2);
	erofs_sha256_free(&s);
	CHECK("sha256 context reusable after final", !memcmp(d1, d2, 32));
	free(buf);
}

static void test_value_format(void)
{
	u8 digest[32], value[64], back[32];
	unsigned int len;

	unhex(SHA_ABC, digest, 32);
	memset(value, 0xee, sizeof(value));
	len = erofs_fingerprint_value(digest, value);
	CHECK("fingerprint value is 39 bytes", len == 39);
	CHECK("fingerprint value starts with sha256:",
	      !memcmp(value, "sha256:", 7));
	CHECK("fingerprint value holds the raw digest",
	      !memcmp(value + 7, digest, 32));
	CHECK("fingerprint value writes nothing past 39 bytes",
	      value[39] == 0xee);
	CHECK("fingerprint value parses back",
	      !erofs_fingerprint_parse(value, len, back) &&
		      !memcmp(back, digest, 32));
	CHECK("fingerprint parse refuses a short value",
	      erofs_fingerprint_parse(value, 38, back) == -EINVAL);
	value[0] = 'S';
	CHECK("fingerprint parse refuses another tag",
	      erofs_fingerprint_parse(value, 39, back) == -EINVAL);
}

static void test_prefix_table(void)
{
	struct erofs_xattr_table t;
	u8 buf[256];
	unsigned int size;

	if (erofs_xattr_table_init(&t)) {
		CHECK("xattr table init", 0);
		return;
	}
	/* as mkfs registers them: --xattr-prefix first, the name last */
	CHECK("xattr-prefix user.foo. is prefix 0",
	      erofs_xattr_add_long_prefix(&t, "user.foo.") == 0);
	CHECK("xattr-prefix trusted.overlay. is prefix 1",
	      erofs_xattr_add_long_prefix(&t, "trusted.overlay.") == 1);
	CHECK("ishare hidden name registers",
	      !erofs_xattr_set_ishare_name(&t, "erofs.fingerprint.v1"));
	CHECK("ishare name is prefix 2", t.ishare_prefix == 2);
	CHECK("3 long prefixes", erofs_xattr_nr_long_prefixes(&t) == 3);
	size = erofs_xattr_prefix_table_size(&t);
	/* 4-aligned records of le16 len, base index, infix */
	CHECK("prefix table size", size == 8 + 12 + 24);
	memset(buf, 0xee, sizeof(buf));
	erofs_xattr_encode_prefix_table(&t, buf);
	CHECK("prefix 0 bytes", !memcmp(buf,
					"\x05\x00\x01"
					"foo."
					"\x00",
					8));
	CHECK("prefix 1 bytes", !memcmp(buf + 8,
					"\x09\x00\x04"
					"overlay."
					"\x00",
					12));
	CHECK("prefix 2 (hidden, base index 0) bytes",
	      !memcmp(buf + 20,
		      "\x15\x00\x00"
		      "erofs.fingerprint.v1"
		      "\x00",
		      24));
	CHECK("prefix table writes nothing past its size", buf[size] == 0xee);
	/* an --xattr-prefix equal to the name reuses its slot */
	CHECK("same prefix twice is one slot",
	      erofs_xattr_add_long_prefix(&t, "erofs.fingerprint.v1") == 2);
	erofs_xattr_table_free(&t);
}

static int write_file(const char *dir, const char *name, const void *data,
		      size_t len)
{
	char path[4096];
	int fd;
	bool ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	ok = write(fd, data, len) == (ssize_t)len;
	return close(fd) || !ok ? -1 : 0;
}

/* Occurrences of "pat" in "buf" (4-byte aligned, as xattr entries are). */
static unsigned int count_aligned(const u8 *buf, size_t len, const u8 *pat,
				  size_t plen)
{
	unsigned int n = 0;

	for (size_t i = 0; i + plen <= len; i += 4)
		n += !memcmp(buf + i, pat, plen);
	return n;
}

/* The on-disk entry: name_len 0, index 0x80|id, value size 39, value. */
static void fingerprint_entry(unsigned int id, const char *hex, u8 *out)
{
	out[0] = 0;
	out[1] = EROFS_XATTR_LONG_PREFIX | id;
	out[2] = EROFS_FINGERPRINT_VALUE_SIZE;
	out[3] = 0;
	memcpy(out + 4, "sha256:", 7);
	unhex(hex, out + 11, 32);
}

static void test_image(void)
{
	char dir[] = "/tmp/test-fingerprint.XXXXXX", src[64], img[64];
	struct erofs_xattr_table xt;
	struct erofs_tree tree;
	struct erofs_source_opts so = { .xattrs = &xt, .read_xattrs = true };
	struct erofs_build_opts bo = {
		.blkszbits = 12,
		.build_time = 1700000000,
		.ishare = true,
		.workers = 1,
	};
	struct erofs_super_block sb;
	u8 *image = NULL, *big = NULL, entry[43];
	long imglen = 0;
	FILE *f;
	u32 start;
	int ret;

	if (!mkdtemp(dir)) {
		CHECK("mkdtemp", 0);
		return;
	}
	snprintf(src, sizeof(src), "%s/src", dir);
	snprintf(img, sizeof(img), "%s/test.img", dir);
	big = malloc(1000000);
	if (!big || mkdir(src, 0755)) {
		CHECK("test tree", 0);
		goto out;
	}
	memset(big, 'a', 1000000);
	ret = write_file(src, "one", "a", 1);
	ret |= write_file(src, "abc", "abc", 3);
	ret |= write_file(src, "large", big, 1000000);
	memset(big, 0, 4096);
	ret |= write_file(src, "zeroblock", big, 4096);
	ret |= write_file(src, "empty", "", 0);
	snprintf(img, sizeof(img), "%s/src/sub", dir);
	ret |= mkdir(img, 0755);
	snprintf(img, sizeof(img), "%s/src/link", dir);
	ret |= symlink("one", img);
	snprintf(img, sizeof(img), "%s/test.img", dir);
	CHECK("test tree written", !ret);

	if (erofs_xattr_table_init(&xt) || erofs_tree_init(&tree)) {
		CHECK("init", 0);
		goto out;
	}
	erofs_xattr_add_long_prefix(&xt, "user.foo.");
	erofs_xattr_add_long_prefix(&xt, "trusted.overlay.");
	erofs_xattr_set_ishare_name(&xt, "trusted.erofs.fingerprint");
	ret = erofs_source_dir_scan(&tree, src, &so);
	if (!ret)
		ret = erofs_build_image(&tree, &xt, &bo, img);
	CHECK("image with fingerprints builds", !ret);
	erofs_tree_free(&tree);
	erofs_xattr_table_free(&xt);
	if (ret)
		goto out;

	f = fopen(img, "rb");
	if (f && !fseek(f, 0, SEEK_END) && (imglen = ftell(f)) > 4096) {
		image = malloc(imglen);
		rewind(f);
		if (image && fread(image, 1, imglen, f) != (size_t)imglen) {
			free(image);
			image = NULL;
		}
	}
	if (f)
		fclose(f);
	if (!image) {
		CHECK("image readable", 0);
		goto out;
	}
	memcpy(&sb, image + EROFS_SUPER_OFFSET, sizeof(sb));
	CHECK("image: compat ishare bit",
	      le32_to_cpu(sb.feature_compat) &
		      EROFS_FEATURE_COMPAT_ISHARE_XATTRS);
	CHECK("image: incompat xattr prefixes bit",
	      le32_to_cpu(sb.feature_incompat) &
		      EROFS_FEATURE_INCOMPAT_XATTR_PREFIXES);
	CHECK("image: 3 long prefixes", sb.xattr_prefix_count == 3);
	CHECK("image: ishare prefix id at byte 0x469", image[0x469] == 2);
	start = le32_to_cpu(sb.xattr_prefix_start) * 4;
	CHECK("image: prefix table inside the first block",
	      start >= EROFS_SUPER_OFFSET + EROFS_SUPER_BASE_SIZE &&
		      start + 40 <= 4096);
	if (start + 40 <= 4096)
		CHECK("image: prefix table bytes", !memcmp(image + start,
							   "\x05\x00\x01"
							   "foo."
							   "\x00"
							   "\x09\x00\x04"
							   "overlay."
							   "\x00"
							   "\x12\x00\x04"
							   "erofs.fingerprint",
							   40));

	fingerprint_entry(2, SHA_A, entry);
	CHECK("image: fingerprint entry of the 1-byte file",
	      count_aligned(image, imglen, entry, 43) == 1);
	fingerprint_entry(2, SHA_ABC, entry);
	CHECK("image: fingerprint entry of abc",
	      count_aligned(image, imglen, entry, 43) == 1);
	fingerprint_entry(2, SHA_ZERO_BLOCK, entry);
	CHECK("image: fingerprint entry of the zero block",
	      count_aligned(image, imglen, entry, 43) == 1);
	fingerprint_entry(2, SHA_MILLION_A, entry);
	CHECK("image: fingerprint entry of the million a",
	      count_aligned(image, imglen, entry, 43) == 1);
	/* 4 non-empty regular files; none for empty, dir, symlink, root */
	CHECK("image: exactly 4 fingerprint entries",
	      count_aligned(image, imglen, entry, 11) == 4);
	fingerprint_entry(2, SHA_EMPTY, entry);
	CHECK("image: no fingerprint of the empty file",
	      count_aligned(image, imglen, entry, 43) == 0);
out:
	free(image);
	free(big);
	snprintf(img, sizeof(img), "rm -rf '%s'", dir);
	if (system(img))
		CHECK("cleanup", 0);
}

int main(void)
{
	if (!erofs_sha256_available()) {
		printf("SKIP: fingerprint: built without OpenSSL libcrypto\n");
		return 0;
	}
	test_sha256();
	test_value_format();
	test_prefix_table();
	test_image();
	UNIT_EXIT();
}
