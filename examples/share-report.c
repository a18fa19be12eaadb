/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * An example of liberofs(3): fingerprint files as mkfs.erofs --ishare
 * does, then print the share report of two images or more as JSON, the
 * same text dump.erofs --share-report --json prints.
 *
 *   cc -o share-report share-report.c $(pkg-config --cflags --libs liberofs)
 *   ./share-report [-f FILE]... IMAGE IMAGE...
 *
 * Each -f FILE goes to standard error as "FILE: NAME=0xVALUE", the xattr
 * mkfs.erofs --ishare stores for that content, as getfattr -e hex shows it
 * on a mounted image; the report goes to standard output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <liberofs.h>

static int fingerprint(const char *path)
{
	struct liberofs_fingerprint fp;
	char *msg;
	size_t i;

	if (liberofs_fingerprint_path(path, &fp, &msg)) {
		fprintf(stderr, "share-report: %s\n", msg ? msg : "failed");
		free(msg);
		return 1;
	}
	fprintf(stderr, "%s: %s=0x", path, fp.name);
	for (i = 0; i < fp.value_len; i++)
		fprintf(stderr, "%02x", fp.value[i]);
	fputc('\n', stderr);
	return 0;
}

int main(int argc, char **argv)
{
	struct liberofs_share_input *in;
	const struct liberofs_share_totals *t;
	liberofs_share_report *r;
	unsigned int n = 0;
	const char *json;
	size_t len;
	char *msg;
	int i;

	if (liberofs_version_number() / 100 != LIBEROFS_VERSION_NUMBER / 100) {
		fprintf(stderr,
			"share-report: built for liberofs %d.%d, running with %s\n",
			LIBEROFS_VERSION_MAJOR, LIBEROFS_VERSION_MINOR,
			liberofs_version_string());
		return 1;
	}
	in = calloc(argc, sizeof(*in));
	if (!in)
		return 1;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-f") && i + 1 < argc) {
			if (fingerprint(argv[++i]))
				return 1;
			continue;
		}
		in[n++].path = argv[i]; /* no extra devices */
	}
	if (!n) /* only fingerprints asked for */
		return 0;
	/* NULL options: dump.erofs's defaults (4096-byte pages, top 10) */
	if (liberofs_share_report_new(&r, in, n, NULL, &msg)) {
		fprintf(stderr, "share-report: %s\n", msg ? msg : "failed");
		free(msg);
		return 1;
	}
	json = liberofs_share_report_json(r, &len);
	fwrite(json, 1, len, stdout);
	t = liberofs_share_report_totals(r);
	fprintf(stderr, "%u images: %llu of %llu page cache bytes saved\n",
		t->nr_images, (unsigned long long)t->saving_bytes,
		(unsigned long long)t->noshare_bytes);
	liberofs_share_report_free(r);
	free(in);
	return fflush(stdout) ? 1 : 0;
}
