// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: dump.erofs --share-report over a fingerprint manifest. The
 * input is the manifest, read twice (so that it makes a set whatever it
 * holds), with and without --verify, printed for people and as JSON, then
 * as the pairwise matrix with a grouping onto two nodes and onto nodes of
 * a small budget.
 */
#include <string.h>
#include <unistd.h>

#include "erofs/share.h"
#include "erofs/share_report.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct erofs_share_opts plain = { .top = 5 };
	struct erofs_share_opts verify = { .top = 5, .verify = true };
	struct erofs_share_opts nodes = { .matrix = true, .nodes = 2 };
	struct erofs_share_opts budget = { .node_memory = 1 << 20 };
	char path[FUZZ_PATH_MAX];
	char *paths[2] = { path, path };
	int fd;

	fuzz_quiet();
	fd = fuzz_memfd(data, size, path);
	erofs_share_report_images(paths, NULL, 2, &plain, false,
				  fuzz_null_file());
	fuzz_quiet();
	erofs_share_report_images(paths, NULL, 2, &verify, true,
				  fuzz_null_file());
	fuzz_quiet();
	erofs_share_report_images(paths, NULL, 2, &nodes, false,
				  fuzz_null_file());
	fuzz_quiet();
	erofs_share_report_images(paths, NULL, 2, &budget, true,
				  fuzz_null_file());
	close(fd);
	return 0;
}
