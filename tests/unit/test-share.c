// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of the share report's accounting: synthetic sets of files
 * with exactly known overlap, fed to the accumulator one file at a time,
 * against figures worked out by hand from the kernel's rules.
 */
#include <stdlib.h>

#include "erofs/share.h"
#include "unit.h"

#define K 4096ULL

struct set {
	struct erofs_share *s;
	const struct erofs_share_report *r;
};

static void start(struct set *t, u32 page_size, unsigned int top)
{
	struct erofs_share_opts o = { .page_size = page_size, .top = top };

	t->r = NULL;
	if (erofs_share_new(&t->s, &o))
		t->s = NULL;
}

static void image(struct set *t, const char *name, bool ready)
{
	if (t->s)
		erofs_share_add_image(
			t->s, name, ready ? "trusted.erofs.fingerprint" : NULL);
}

/* A file whose fingerprint is the one-letter value "fp" ('\0': none). */
static void file(struct set *t, const char *path, u64 size, char fp,
		 bool compressed)
{
	u8 value[39] = "sha256:";
	struct erofs_share_file f = {
		.path = path,
		.size = size,
		.compressed = compressed,
		.nofp = EROFS_SHARE_FP_ABSENT,
	};

	if (fp) {
		memset(value + 7, fp, 32);
		f.fp = value;
		f.fp_len = sizeof(value);
	}
	if (t->s)
		erofs_share_add_file(t->s, &f);
}

static bool finish(struct set *t)
{
	return t->s && !erofs_share_finish(t->s, &t->r);
}

static void done(struct set *t)
{
	erofs_share_free(t->s);
}

static void test_identical_pair(void)
{
	struct set t;

	start(&t, 0, 10);
	image(&t, "a", true);
	file(&t, "/x", 1, 'x', false);		/* 1 page */
	file(&t, "/y", 4096, 'y', false);	/* 1 page */
	file(&t, "/z", 4097, 'z', false);	/* 2 pages */
	file(&t, "/only-a", 10000, 'a', false); /* 3 pages */
	image(&t, "b", true);
	file(&t, "/x", 1, 'x', false);
	file(&t, "/y2", 4096, 'y', false); /* other name, same content */
	file(&t, "/z", 4097, 'z', false);
	file(&t, "/only-b", 5000, 'b', false); /* 2 pages */
	if (!finish(&t)) {
		CHECK("pair: report", 0);
		return done(&t);
	}
	CHECK("pair: total bytes",
	      t.r->total_bytes ==
		      1 + 4096 + 4097 + 10000 + 1 + 4096 + 4097 + 5000);
	CHECK("pair: no sharing = 7 + 6 pages", t.r->noshare_bytes == 13 * K);
	CHECK("pair: sharing = 9 pages", t.r->shared_bytes == 9 * K);
	CHECK("pair: saving 4 pages", t.r->saving_bytes == 4 * K);
	CHECK("pair: saving percent",
	      t.r->saving_percent > 30.76 && t.r->saving_percent < 30.77);
	CHECK("pair: 3 shared contents", t.r->shared_contents == 3);
	CHECK("pair: image a adds all 7 pages",
	      t.r->images[0].added_bytes == 7 * K);
	CHECK("pair: image b adds its 2 own pages",
	      t.r->images[1].added_bytes == 2 * K);
	CHECK("pair: shareable of b is 4 pages",
	      t.r->images[1].shareable_bytes == 4 * K);
	CHECK("pair: top is the 2-page content first",
	      t.r->nr_top == 3 && t.r->top[0].size == 4097 &&
		      t.r->top[0].saving_bytes == 2 * K);
	CHECK("pair: top samples in each image",
	      t.r->nr_top == 3 && !strcmp(t.r->top[1].sample[1], "/y2") &&
		      !strcmp(t.r->top[1].sample[0], "/y"));
	CHECK("pair: nothing lost",
	      !t.r->size_conflict_files && !t.r->class_conflict_files &&
		      !t.r->nofp_files && !t.r->notready_files);
	CHECK("pair: a rebuild gains nothing",
	      t.r->rebuild_shared_bytes == t.r->shared_bytes &&
		      !t.r->rebuild_guessed_files);
	done(&t);
}

/* The first inode with a value sets the copy's size and class. */
static void test_conflicts(void)
{
	struct set t;

	start(&t, 0, 10);
	image(&t, "a", true);
	file(&t, "/s", 8192, 's', false); /* the copy: 2 pages */
	file(&t, "/c", 4096, 'c', true);  /* compressed copy */
	image(&t, "b", true);
	file(&t, "/s", 9000, 's', false);    /* same value, 3 pages: private */
	file(&t, "/s-ok", 8192, 's', false); /* shares */
	file(&t, "/c", 4096, 'c', false);    /* uncompressed: private */
	file(&t, "/c2", 4096, 'c', false);   /* also private, even with /c */
	file(&t, "/c3", 4096, 'c', true);    /* compressed: shares */
	if (!finish(&t)) {
		CHECK("conflicts: report", 0);
		return done(&t);
	}
	CHECK("conflicts: no sharing 3 + 8 pages",
	      t.r->noshare_bytes == 11 * K);
	CHECK("conflicts: sharing keeps 3 privates + 2 copies",
	      t.r->shared_bytes == (3 + 1 + 1) * K + 3 * K);
	CHECK("conflicts: one size conflict of 3 pages",
	      t.r->size_conflict_files == 1 &&
		      t.r->size_conflict_bytes == 3 * K);
	CHECK("conflicts: two class conflicts of a page each",
	      t.r->class_conflict_files == 2 &&
		      t.r->class_conflict_bytes == 2 * K);
	CHECK("conflicts: 3 listed", t.r->nr_conflicts == 3);
	CHECK("conflicts: the size one names both files",
	      t.r->nr_conflicts && t.r->conflicts[0].size_differs &&
		      t.r->conflicts[0].size == 8192 &&
		      t.r->conflicts[0].other_size == 9000 &&
		      !strcmp(t.r->conflicts[0].path, "/s") &&
		      t.r->conflicts[0].image == 0 &&
		      t.r->conflicts[0].other_image == 1);
	CHECK("conflicts: the class one says which is compressed",
	      t.r->nr_conflicts > 1 && !t.r->conflicts[1].size_differs &&
		      t.r->conflicts[1].compressed &&
		      !t.r->conflicts[1].other_compressed);
	/* same content, matching layouts: all 4 'c' and 3 's' would share */
	CHECK("conflicts: a rebuild with one class holds 2 + 3 + 1 pages",
	      t.r->rebuild_shared_bytes == 6 * K);
	done(&t);
}

static void test_missing_fingerprints(void)
{
	struct set t;

	start(&t, 0, 0);
	image(&t, "ready", true);
	file(&t, "/f", 4096, 'f', false);
	file(&t, "/nofp", 4096, 0, false); /* share-ready, but none */
	file(&t, "/g", 8192, 'g', false);
	file(&t, "/empty", 0, 0, false); /* nothing to hold or lose */
	image(&t, "plain", false);
	file(&t, "/f", 4096, 'f', false); /* ignored: image not ready */
	file(&t, "/nofp", 4096, 0, false);
	file(&t, "/g", 8192, 0, false);
	file(&t, "/h", 4096, 0, false);
	if (!finish(&t)) {
		CHECK("missing: report", 0);
		return done(&t);
	}
	CHECK("missing: nothing shares",
	      t.r->saving_bytes == 0 && t.r->shared_contents == 0);
	CHECK("missing: one file without fingerprint in a ready image",
	      t.r->nofp_files == 1 && t.r->nofp_bytes == K);
	CHECK("missing: reason is absent",
	      t.r->images[0].nofp[EROFS_SHARE_FP_ABSENT] == 1);
	CHECK("missing: 4 files in the image that is not ready",
	      t.r->notready_files == 4 && t.r->notready_bytes == 5 * K);
	CHECK("missing: image flags",
	      t.r->images[0].fp_name && !t.r->images[1].fp_name);
	/* /f, /nofp, /g match by path and size; /h stays alone */
	CHECK("missing: rebuild estimate by path and size",
	      t.r->rebuild_shared_bytes == (1 + 1 + 2 + 1) * K);
	CHECK("missing: 3 files guessed", t.r->rebuild_guessed_files == 3);
	done(&t);
}

/* With content digests (verify), the estimate is exact. */
static void test_rebuild_with_content(void)
{
	u8 d1[32], d2[32], value[39] = "sha256:";
	struct erofs_share_file f = { .nofp = EROFS_SHARE_FP_ABSENT };
	struct set t;

	memset(d1, 1, 32);
	memset(d2, 2, 32);
	memcpy(value + 7, d1, 32);
	start(&t, 0, 0);
	image(&t, "ready", true);
	f.path = "/a";
	f.size = 4096;
	f.fp = value;
	f.fp_len = 39;
	f.content_sha256 = d1;
	erofs_share_add_file(t.s, &f);
	image(&t, "plain", false);
	f.fp = NULL;
	f.path = "/renamed"; /* same content, other path: found by content */
	erofs_share_add_file(t.s, &f);
	f.path = "/a"; /* same path and size, other content: no match */
	f.content_sha256 = d2;
	erofs_share_add_file(t.s, &f);
	if (!finish(&t)) {
		CHECK("content: report", 0);
		return done(&t);
	}
	CHECK("content: rebuild shares by content, not by path",
	      t.r->rebuild_shared_bytes == 2 * K &&
		      !t.r->rebuild_guessed_files);
	done(&t);
}

static void test_three_and_self(void)
{
	struct set t;

	start(&t, 0, 1);
	for (int i = 0; i < 3; i++) {
		char name[8];

		snprintf(name, sizeof(name), "i%d", i);
		image(&t, name, true);
		file(&t, "/common", 3 * K, 'c', false);
		file(&t, "/two", K, i < 2 ? 't' : 'u', false);
		file(&t, "/dup1", K, 'd', false); /* within the image too */
		file(&t, "/dup2", K, 'd', false);
	}
	if (!finish(&t)) {
		CHECK("three: report", 0);
		return done(&t);
	}
	CHECK("three: no sharing 3 x 6 pages", t.r->noshare_bytes == 18 * K);
	CHECK("three: sharing 3 + 1 + 1 + 1 pages", t.r->shared_bytes == 6 * K);
	CHECK("three: 3 shared contents", t.r->shared_contents == 3);
	CHECK("three: top is the common file saving 6 pages",
	      t.r->nr_top == 1 && t.r->top[0].saving_bytes == 6 * K &&
		      t.r->top[0].members == 3);
	CHECK("three: shareable pages per image",
	      t.r->images[0].shareable_bytes == 6 * K &&
		      t.r->images[2].shareable_bytes == 5 * K);
	done(&t);

	/* an image shared with itself holds everything once */
	start(&t, 0, 0);
	for (int i = 0; i < 2; i++) {
		image(&t, "same.img", true);
		file(&t, "/a", 5000, 'a', false);
		file(&t, "/b", 1, 'b', false);
		file(&t, "/e", 0, 0, false);
	}
	if (finish(&t))
		CHECK("self: saving is half",
		      t.r->noshare_bytes == 6 * K &&
			      t.r->shared_bytes == 3 * K &&
			      t.r->saving_percent == 50.0);
	else
		CHECK("self: report", 0);
	done(&t);
}

static void test_links_empty_pages(void)
{
	struct set t;

	start(&t, 16384, 0);
	image(&t, "a", true);
	file(&t, "/f", 20000, 'f', false); /* 2 pages of 16 KiB */
	erofs_share_add_link(t.s);	   /* a hard link to it */
	erofs_share_add_link(t.s);
	file(&t, "/empty", 0, 0, false);
	file(&t, "/empty-fp", 0, 'e', false); /* shares, holds nothing */
	erofs_share_add_dir(t.s, 100);
	erofs_share_add_dir(t.s, 20000);
	image(&t, "b", true);
	file(&t, "/empty-fp", 0, 'e', false);
	file(&t, "/f", 20000, 'f', false);
	if (!finish(&t)) {
		CHECK("links: report", 0);
		return done(&t);
	}
	CHECK("links: 16 KiB pages", t.r->page_size == 16384);
	CHECK("links: an inode counts once",
	      t.r->images[0].files == 3 && t.r->images[0].links == 5);
	CHECK("links: no sharing 2 + 2 pages of 16 KiB",
	      t.r->noshare_bytes == 4 * 16384);
	CHECK("links: sharing 2 pages", t.r->shared_bytes == 2 * 16384);
	CHECK("links: empty files lose nothing",
	      t.r->nofp_files == 0 && t.r->images[0].fingerprinted == 1);
	CHECK("links: directories in whole pages",
	      t.r->images[0].dirs == 2 && t.r->dir_bytes == 3 * 16384);
	done(&t);
}

static void device(struct set *t, u64 ino, const char *tag, u64 bytes)
{
	struct erofs_share_device d = { .file_dev = 1, .file_ino = ino,
					.tag = tag };

	if (t->s)
		erofs_share_add_device(t->s, &d, bytes);
}

static void extent(struct set *t, unsigned int dev, u64 pos, u64 len)
{
	if (t->s)
		erofs_share_add_extent(t->s, dev, pos, len);
}

/*
 * Storage: a's blob (file 200) is also b's device; a's second device and
 * c's carry the tag "T". Bytes in common: [4K, 8K) of each.
 */
static void test_storage(void)
{
	struct set t;

	start(&t, 0, 0);
	image(&t, "a", false);
	device(&t, 100, NULL, 2 * K);
	device(&t, 200, "", 0);
	device(&t, 400, "T", 0);
	extent(&t, 1, 0, K);
	extent(&t, 1, K, K); /* joins the one before */
	extent(&t, 1, 4 * K, K);
	extent(&t, 1, 0, K); /* used twice by a counts once */
	extent(&t, 2, K, 2 * K);
	image(&t, "b", false);
	device(&t, 101, NULL, K);
	device(&t, 200, NULL, 0);
	extent(&t, 1, K, 2 * K);
	image(&t, "c", false);
	device(&t, 102, NULL, K);
	device(&t, 500, "T", 0);
	extent(&t, 1, 0, 2 * K);
	if (!finish(&t)) {
		CHECK("storage: report", 0);
		done(&t);
		return;
	}
	CHECK("storage: each image's primary and device ranges",
	      t.r->images[0].storage_bytes == 7 * K &&
		      t.r->images[1].storage_bytes == 3 * K &&
		      t.r->images[2].storage_bytes == 3 * K);
	CHECK("storage: extra devices per image",
	      t.r->images[0].extra_devices == 2 &&
		      t.r->images[1].extra_devices == 1);
	CHECK("storage: referenced, held once, shared",
	      t.r->storage_referenced_bytes == 13 * K &&
		      t.r->storage_bytes == 11 * K &&
		      t.r->storage_shared_bytes == 2 * K);
	CHECK("storage: in common per image (same file; same tag)",
	      t.r->images[0].storage_shared_bytes == 2 * K &&
		      t.r->images[1].storage_shared_bytes == K &&
		      t.r->images[2].storage_shared_bytes == K);
	done(&t);

	/* one image twice: everything in common */
	start(&t, 0, 0);
	image(&t, "a", false);
	device(&t, 100, NULL, 4 * K);
	image(&t, "a", false);
	device(&t, 100, NULL, 4 * K);
	CHECK("storage: an image twice is stored once",
	      finish(&t) && t.r->storage_bytes == 4 * K &&
		      t.r->storage_shared_bytes == 4 * K &&
		      t.r->storage_referenced_bytes == 8 * K);
	done(&t);
}

int main(void)
{
	test_identical_pair();
	test_conflicts();
	test_missing_fingerprints();
	test_rebuild_with_content();
	test_three_and_self();
	test_links_empty_pages();
	test_storage();
	UNIT_EXIT();
}
