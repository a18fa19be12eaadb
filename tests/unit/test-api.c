// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The public API (include/liberofs.h) through the shared library, as
 * another program uses it: fingerprints of a buffer, descriptor and path
 * agree; an image built by mkfs.erofs --ishare walks, reads and lists
 * xattrs as its source tree holds them; verify passes, and fails naming
 * the file whose fingerprint was damaged; the share report's JSON is
 * dump.erofs's; each failure's message is that call's own, across calls
 * and threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <liberofs.h>

#include "unit.h"

#define BIG_SIZE (3U << 20)

static char dir[64], tree[128], img[128], bad_img[128];
static unsigned char *big;

static int run(const char *cmd)
{
	int ret = system(cmd);

	if (ret)
		printf("# %s: status %d\n", cmd, ret);
	return ret;
}

static int write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	if (len && fwrite(data, 1, len, f) != len) {
		fclose(f);
		return -1;
	}
	return fclose(f);
}

static int make_tree(void)
{
	char p[256], q[256];

	big = malloc(BIG_SIZE);
	if (!big)
		return -1;
	for (unsigned int i = 0; i < BIG_SIZE; i++)
		big[i] = (i * 2654435761U) >> 13 ^ i / 4096;
	snprintf(tree, sizeof(tree), "%s/tree", dir);
	snprintf(p, sizeof(p), "%s/d", tree);
	if (mkdir(tree, 0755) || mkdir(p, 0755))
		return -1;
	snprintf(p, sizeof(p), "%s/a", tree);
	if (write_file(p, "hello\n", 6))
		return -1;
	snprintf(q, sizeof(q), "%s/c", tree);
	if (link(p, q))
		return -1;
	snprintf(p, sizeof(p), "%s/d/b", tree);
	if (write_file(p, big, BIG_SIZE))
		return -1;
	snprintf(p, sizeof(p), "%s/e", tree);
	if (write_file(p, "", 0))
		return -1;
	snprintf(p, sizeof(p), "%s/l", tree);
	return symlink("a", p);
}

struct seen {
	unsigned int n, hardlinks;
	char paths[16][32];
	uint64_t big_size;
};

static int collect(void *arg, const struct liberofs_entry *e)
{
	struct seen *s = arg;

	if (s->n < 16)
		snprintf(s->paths[s->n], sizeof(s->paths[0]), "%s", e->path);
	s->n++;
	s->hardlinks += !!e->hardlink;
	if (!strcmp(e->path, "/d/b"))
		s->big_size = e->size;
	return 0;
}

static int stop_at_d(void *arg, const struct liberofs_entry *e)
{
	return strcmp(e->path, "/d") ? 0 : 42;
}

struct xattrs {
	const char *want;
	int found;
	size_t len;
};

static int find_xattr(void *arg, const char *name, const void *value,
		      size_t len)
{
	struct xattrs *x = arg;

	if (!strcmp(name, x->want)) {
		x->found++;
		x->len = len;
	}
	return 0;
}

static void test_fingerprints(struct liberofs_fingerprint *fp_big)
{
	struct liberofs_fingerprint a, b;
	char path[256], *msg = (char *)1;
	int fd;

	CHECK("fingerprint-buffer",
	      !liberofs_fingerprint_buffer(big, BIG_SIZE, &a, &msg) && !msg);
	snprintf(path, sizeof(path), "%s/d/b", tree);
	CHECK("fingerprint-path", !liberofs_fingerprint_path(path, &b, NULL));
	CHECK("fingerprint-path-equal",
	      !memcmp(&a.digest, &b.digest, sizeof(a.digest)) &&
		      b.size == BIG_SIZE);
	fd = open(path, O_RDONLY);
	lseek(fd, 1000, SEEK_SET);
	CHECK("fingerprint-fd", !liberofs_fingerprint_fd(fd, &b, NULL) &&
					!memcmp(a.value, b.value, 39) &&
					lseek(fd, 0, SEEK_CUR) == 1000);
	close(fd);
	CHECK("fingerprint-value",
	      a.value_len == 39 && !memcmp(a.value, "sha256:", 7) &&
		      !memcmp(a.value + 7, a.digest, 32) &&
		      !strcmp(a.name, "trusted.erofs.fingerprint"));
	/* SHA-256("") */
	CHECK("fingerprint-empty",
	      !liberofs_fingerprint_buffer(NULL, 0, &b, NULL) &&
		      b.digest[0] == 0xe3 && b.digest[31] == 0x55);
	CHECK("fingerprint-dir-fails",
	      liberofs_fingerprint_path(dir, &b, &msg) == -EINVAL && msg &&
		      strstr(msg, dir) && strstr(msg, "regular"));
	free(msg);
	*fp_big = a;
}

static void test_image(const struct liberofs_fingerprint *fp_big)
{
	struct liberofs_verify_result res;
	struct xattrs x = { 0 };
	struct liberofs_entry e;
	struct seen s = { 0 };
	liberofs_image *h;
	unsigned char *buf;
	uint64_t nid, dnid;
	unsigned char v[64];
	size_t done, len;
	char *msg;
	int ret;

	ret = liberofs_open(&h, img, NULL, &msg);
	CHECK("open", !ret && h && !msg);
	if (ret) {
		printf("# %s\n", msg);
		return;
	}
	CHECK("errmsg-empty", !strcmp(liberofs_errmsg(h), ""));
	CHECK("fingerprint-name", liberofs_fingerprint_name(h) &&
					  !strcmp(liberofs_fingerprint_name(h),
						  "trusted.erofs.fingerprint"));
	CHECK("walk", !liberofs_walk(h, collect, &s));
	CHECK("walk-names", s.n == 7 && !strcmp(s.paths[0], "/") &&
				    s.hardlinks == 1 && s.big_size == BIG_SIZE);
	CHECK("walk-stops", liberofs_walk(h, stop_at_d, NULL) == 42);

	CHECK("lookup", !liberofs_lookup(h, "/d/b", &nid));
	CHECK("stat", !liberofs_stat(h, nid, &e) && S_ISREG(e.mode) &&
			      e.size == BIG_SIZE && e.nlink == 1 && !e.path);
	buf = malloc(BIG_SIZE);
	ret = 0;
	for (uint64_t pos = 0; buf && !ret && pos < BIG_SIZE; pos += done) {
		ret = liberofs_read(h, nid, buf + pos, 100003, pos, &done);
		if (!done)
			break;
	}
	CHECK("read", buf && !ret && !memcmp(buf, big, BIG_SIZE));
	CHECK("read-at-end",
	      !liberofs_read(h, nid, buf, 10, BIG_SIZE, &done) && !done);
	free(buf);
	CHECK("read-dir",
	      !liberofs_lookup(h, "/d", &dnid) &&
		      liberofs_read(h, dnid, v, 1, 0, &done) == -EISDIR);

	CHECK("getxattr",
	      !liberofs_getxattr(h, nid, "trusted.erofs.fingerprint", v,
				 sizeof(v), &len) &&
		      len == 39 && !memcmp(v, fp_big->value, 39));
	CHECK("getxattr-range",
	      liberofs_getxattr(h, nid, "trusted.erofs.fingerprint", v, 10,
				&len) == -ERANGE &&
		      len == 39);
	CHECK("getxattr-absent",
	      liberofs_getxattr(h, nid, "user.none", v, sizeof(v), &len) ==
		      -ENODATA);
	x.want = "trusted.erofs.fingerprint";
	CHECK("listxattr", !liberofs_listxattr(h, nid, find_xattr, &x) &&
				   x.found == 1 && x.len == 39);

	CHECK("verify-all", !liberofs_verify(h, NULL, &res) && res.files == 2 &&
				    res.matched == 2 && !res.mismatched &&
				    !res.first_failure);
	CHECK("verify-one", !liberofs_verify(h, "/d/b", &res) &&
				    res.files == 1 && res.matched == 1);

	/* each failure's own message, not the first one's */
	CHECK("errmsg-lookup", liberofs_lookup(h, "/nope", &nid) == -ENOENT &&
				       strstr(liberofs_errmsg(h), "nope"));
	CHECK("errmsg-next", liberofs_lookup(h, "/zzz", &nid) == -ENOENT &&
				     strstr(liberofs_errmsg(h), "zzz") &&
				     !strstr(liberofs_errmsg(h), "nope"));
	liberofs_close(h);
}

/* the fingerprint of /d/b damaged in a copy of the image */
static void test_verify_fails(const struct liberofs_fingerprint *fp_big)
{
	struct liberofs_verify_result res;
	unsigned char *data, *hit = NULL;
	liberofs_image *h;
	struct stat st;
	int fd, ret;

	fd = open(img, O_RDONLY);
	if (fd < 0 || fstat(fd, &st))
		return;
	data = malloc(st.st_size);
	if (data && read(fd, data, st.st_size) == st.st_size)
		hit = memmem(data, st.st_size, fp_big->value, 39);
	close(fd);
	CHECK("fingerprint-in-image", hit);
	if (!hit) {
		free(data);
		return;
	}
	hit[38] ^= 1;
	write_file(bad_img, data, st.st_size);
	free(data);
	CHECK("open-damaged", !liberofs_open(&h, bad_img, NULL, NULL));
	if (!h)
		return;
	ret = liberofs_verify(h, NULL, &res);
	CHECK("verify-mismatch",
	      ret == -EBADMSG && res.mismatched == 1 && res.matched == 1 &&
		      res.first_failure && !strcmp(res.first_failure, "/d/b") &&
		      strstr(liberofs_errmsg(h), "/d/b"));
	free(res.first_failure);
	liberofs_close(h);
}

static void test_share(void)
{
	struct liberofs_share_input in[2] = { { .path = img },
					      { .path = img } };
	const struct liberofs_share_totals *t;
	liberofs_share_report *r;
	char cmd[512], *msg, *want = NULL;
	size_t len, want_len = 0, n;
	const char *json;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "\"%s\" --share-report --json %s %s",
		 getenv("DUMP"), img, img);
	p = popen(cmd, "r");
	if (p) {
		want = malloc(1 << 20);
		while (want && (n = fread(want + want_len, 1,
					  (1 << 20) - want_len, p)) > 0)
			want_len += n;
		pclose(p);
	}
	CHECK("share-report",
	      !liberofs_share_report_new(&r, in, 2, NULL, &msg));
	if (!r)
		return;
	json = liberofs_share_report_json(r, &len);
	CHECK("share-report-json",
	      want && len == want_len && !memcmp(json, want, len));
	t = liberofs_share_report_totals(r);
	CHECK("share-report-totals",
	      t->nr_images == 2 && t->images[1].files == 3 &&
		      t->saving_bytes == t->noshare_bytes / 2 &&
		      !strcmp(t->images[0].name, img));
	CHECK("share-report-text", liberofs_share_report_text(r, &len) && len);
	liberofs_share_report_free(r);
	free(want);
	CHECK("share-report-one",
	      liberofs_share_report_new(&r, in, 1, NULL, &msg) == -EINVAL &&
		      !r && msg && strstr(msg, "two"));
	free(msg);
}

/*
 * Manifests are read by worker threads: a failure in one of them is still
 * the call's message, naming the manifest and its line, and a report made
 * from manifests prints nothing on the program's standard error.
 */
static void test_share_manifests(void)
{
	char good[160], bad[160], errf[160], cmd[1024], *msg = NULL;
	int saved, fd;
	struct stat st;
	struct liberofs_share_input in[2] = { { .path = good },
					      { .path = bad } };
	liberofs_share_report *r;
	int ret;

	snprintf(good, sizeof(good), "%s/good.manifest", dir);
	snprintf(bad, sizeof(bad), "%s/bad.manifest", dir);
	/* the bad one: a record without its image after the first five */
	snprintf(cmd, sizeof(cmd),
		 "\"%s\" --fingerprints %s >%s && { head -n 5 %s; "
		 "echo '{\"kind\":\"file\",\"path\":\"/x\"}'; "
		 "tail -n +6 %s; } >%s",
		 getenv("DUMP"), img, good, good, good, bad);
	CHECK("manifests-made", !run(cmd));
	ret = liberofs_share_report_new(&r, in, 2, NULL, &msg);
	CHECK("manifest-worker-message",
	      ret < 0 && !r && msg && strstr(msg, bad) &&
		      strstr(msg, "line 6"));
	if (msg && (!strstr(msg, bad) || !strstr(msg, "line 6")))
		printf("# message: %s\n", msg);
	free(msg);
	if (r)
		liberofs_share_report_free(r);
	in[1].path = good;
	snprintf(errf, sizeof(errf), "%s/stderr", dir);
	fflush(stderr);
	saved = dup(2);
	fd = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0)
		dup2(fd, 2);
	ret = liberofs_share_report_new(&r, in, 2, NULL, &msg);
	fflush(stderr);
	if (saved >= 0)
		dup2(saved, 2);
	CHECK("manifests-report", !ret && r && !msg);
	CHECK("manifests-print-nothing",
	      fd >= 0 && saved >= 0 && !stat(errf, &st) && !st.st_size);
	if (fd >= 0)
		close(fd);
	if (saved >= 0)
		close(saved);
	free(msg);
	if (r)
		liberofs_share_report_free(r);
}

/* Failures on several threads at once: each gets its own message. */
static void *thread_main(void *arg)
{
	long id = (long)arg, wrong = 0;
	struct liberofs_fingerprint fp;
	liberofs_image *h;
	char path[128], *msg;

	for (int i = 0; i < 300; i++) {
		snprintf(path, sizeof(path), "%s/missing-%ld-%d", dir, id, i);
		if (liberofs_open(&h, path, NULL, &msg) != -ENOENT || !msg ||
		    !strstr(msg, path))
			wrong++;
		free(msg);
		if (liberofs_fingerprint_buffer("x", 1, &fp, &msg) || msg)
			wrong++;
	}
	return (void *)wrong;
}

/* One handle on several threads: reads agree, messages stay readable. */
static liberofs_image *shared;

static void *shared_main(void *arg)
{
	long id = (long)arg, wrong = 0;
	unsigned char buf[65536];
	char path[64];
	uint64_t nid;
	size_t done;

	if (liberofs_lookup(shared, "/d/b", &nid))
		return (void *)1L;
	for (int i = 0; i < 100; i++) {
		uint64_t pos =
			(id * 7919 + i * 104729) % (BIG_SIZE - sizeof(buf));

		if (liberofs_read(shared, nid, buf, sizeof(buf), pos, &done) ||
		    done != sizeof(buf) || memcmp(buf, big + pos, done))
			wrong++;
		snprintf(path, sizeof(path), "/missing-%ld-%d", id, i);
		if (liberofs_lookup(shared, path, &nid) != -ENOENT ||
		    !strstr(liberofs_errmsg(shared), "/missing-"))
			wrong++;
		if (liberofs_lookup(shared, "/d/b", &nid))
			wrong++;
	}
	return (void *)wrong;
}

static void test_shared_handle(void)
{
	pthread_t t[4];
	long wrong = 0;
	void *r;

	if (liberofs_open(&shared, img, NULL, NULL))
		return;
	for (long i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, shared_main, (void *)i);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], &r);
		wrong += (long)r;
	}
	CHECK("one-handle-threads", !wrong);
	liberofs_close(shared);
}

static void test_threads(void)
{
	pthread_t t[4];
	long wrong = 0;
	void *r;

	for (long i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, thread_main, (void *)i);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], &r);
		wrong += (long)r;
	}
	CHECK("errmsg-threads", !wrong);
}

int main(void)
{
	struct liberofs_fingerprint fp_big;
	const char *mkfs = getenv("MKFS");
	char cmd[512];

	CHECK("version", liberofs_version_number() == LIBEROFS_VERSION_NUMBER &&
				 liberofs_version_string()[0]);
	if (!mkfs || !getenv("DUMP")) {
		printf("SKIP: api: MKFS and DUMP name the tools (tests/run-tests.sh sets them)\n");
		return unit_failed;
	}
	snprintf(dir, sizeof(dir), "/tmp/erofs-api.XXXXXX");
	if (!mkdtemp(dir) || make_tree()) {
		printf("FAIL: api-setup: %s\n", strerror(errno));
		return 1;
	}
	snprintf(img, sizeof(img), "%s/i.img", dir);
	snprintf(bad_img, sizeof(bad_img), "%s/bad.img", dir);
	snprintf(cmd, sizeof(cmd),
		 "\"%s\" -T0 -Uclear --ishare %s %s >/dev/null", mkfs, img,
		 tree);
	if (run(cmd)) {
		printf("SKIP: api: mkfs.erofs --ishare failed (no libcrypto?)\n");
	} else {
		test_fingerprints(&fp_big);
		test_image(&fp_big);
		test_verify_fails(&fp_big);
		test_share();
		test_share_manifests();
		test_shared_handle();
	}
	test_threads();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	run(cmd);
	free(big);
	UNIT_EXIT();
}
