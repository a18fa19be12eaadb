// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: dump.erofs's reports on the input image: the superblock,
 * statistics over the tree, and for the root, the packed inode and the
 * first entries of the root directory: inode details (with the search for
 * a path when none is given), extents, listings, content, and path lookups.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "erofs/budget.h"
#include "erofs/dir_read.h"
#include "erofs/dump.h"
#include "erofs/image.h"
#include "erofs/image_open.h"
#include "erofs/inode_read.h"
#include "fuzz.h"

#define MAX_NIDS 16
/*
 * --cat writes what the file holds, holes and all, as cat does: a few
 * bytes can claim exabytes of them. Larger files are left out here, and
 * compressed data is decoded within a budget.
 */
#define CAT_MAX (64U << 20)

static void report_nid(struct erofs_image *img, erofs_nid_t nid, FILE *out)
{
	struct erofs_rinode ri;
	const char *why;

	erofs_dump_inode(img, nid, NULL, out);
	erofs_dump_extents(img, nid, out);
	erofs_dump_ls(img, nid, out);
	if (!erofs_read_inode(img, nid, &ri, &why) && ri.i.size <= CAT_MAX)
		erofs_dump_cat(img, nid, fuzz_null_fd());
	fuzz_quiet();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct erofs_image_opts iopts = { .no_sbcrc = true };
	struct erofs_rdirent d;
	struct erofs_dir_cursor c;
	struct erofs_rinode root;
	struct erofs_budget budget;
	struct erofs_image img;
	erofs_nid_t nids[MAX_NIDS];
	char names[MAX_NIDS][EROFS_NAME_LEN + 2];
	unsigned int n = 0;
	FILE *out = fuzz_null_file();
	char path[FUZZ_PATH_MAX];
	const char *why;
	int fd;

	fuzz_quiet();
	fd = fuzz_memfd(data, size, path);
	if (erofs_image_open(&img, path, &iopts)) {
		close(fd);
		return 0;
	}
	erofs_budget_init(&budget, 4 * CAT_MAX, CAT_MAX, size);
	img.budget = &budget;
	erofs_dump_superblock(&img, out);
	erofs_dump_stats(&img, out);
	fuzz_quiet();
	report_nid(&img, img.sb.root_nid, out);
	if (img.sb.packed_nid)
		report_nid(&img, img.sb.packed_nid, out);

	if (!erofs_read_inode(&img, img.sb.root_nid, &root, &why) &&
	    S_ISDIR(root.i.mode) && !erofs_dir_open(&c, &img, &root)) {
		while (n < MAX_NIDS && erofs_dir_next(&c, &d, &why) > 0) {
			if (erofs_dirent_is_dot(&d))
				continue;
			nids[n] = d.nid;
			names[n][0] = '/';
			memcpy(names[n] + 1, d.name, d.name_len);
			names[n][d.name_len + 1] = '\0';
			n++;
		}
		erofs_dir_close(&c);
	}
	for (unsigned int i = 0; i < n; i++) {
		erofs_nid_t found;

		report_nid(&img, nids[i], out);
		/* the lookup must find what the listing showed */
		if (!erofs_lookup_path(&img, names[i], &found) &&
		    found != nids[i]) {
			fprintf(stderr, "lookup of %s gave nid %llu, not %llu\n",
				names[i], (unsigned long long)found,
				(unsigned long long)nids[i]);
			__builtin_trap();
		}
		fuzz_quiet();
	}
	erofs_image_close(&img);
	erofs_budget_free(&budget);
	close(fd);
	return 0;
}
