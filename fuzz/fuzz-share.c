// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: dump.erofs --share-report over two images. The input is a
 * little-endian u32 length n, then n bytes of image A, then image B (the
 * length is clamped to what there is). Both are scanned with their
 * fingerprints verified against the content, and the report is printed
 * for people and as JSON.
 */
#include <string.h>
#include <unistd.h>

#include "erofs/share.h"
#include "erofs/share_report.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct erofs_share_opts opts = { .top = 5, .verify = true };
	char a[FUZZ_PATH_MAX], b[FUZZ_PATH_MAX];
	char *paths[2] = { a, b };
	uint32_t n = 0;
	int fa, fb;

	if (size < 4)
		return 0;
	memcpy(&n, data, 4);
	n = le32_to_cpu(n);
	data += 4;
	size -= 4;
	if (n > size)
		n = size;
	fuzz_quiet();
	fa = fuzz_memfd(data, n, a);
	fb = fuzz_memfd(data + n, size - n, b);
	erofs_share_report_images(paths, NULL, 2, &opts, false, fuzz_null_file());
	fuzz_quiet();
	erofs_share_report_images(paths, NULL, 2, &opts, true, fuzz_null_file());
	close(fa);
	close(fb);
	return 0;
}
