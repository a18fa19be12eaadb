// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A main for the fuzz targets in builds without libFuzzer: run the target
 * once on every file named (directories: every file in them), as libFuzzer
 * replays a corpus, so that saved crash inputs stay tested by the normal
 * and the sanitizer builds alike.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	size_t size = 0, cap = 0, n;

	if (!f) {
		perror(path);
		return 1;
	}
	do {
		if (size == cap) {
			uint8_t *nd;

			cap = cap ? cap * 2 : 65536;
			nd = realloc(data, cap);
			if (!nd) {
				fclose(f);
				free(data);
				fprintf(stderr, "%s: out of memory\n", path);
				return 1;
			}
			data = nd;
		}
		n = fread(data + size, 1, cap - size, f);
		size += n;
	} while (n);
	if (ferror(f)) {
		perror(path);
		fclose(f);
		free(data);
		return 1;
	}
	fclose(f);
	fprintf(stderr, "replay: %s (%zu bytes)\n", path, size);
	LLVMFuzzerTestOneInput(data, size);
	free(data);
	return 0;
}

static int run_path(const char *path)
{
	struct dirent **names;
	struct stat st;
	int n, ret = 0;

	if (stat(path, &st)) {
		perror(path);
		return 1;
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path);
	n = scandir(path, &names, NULL, alphasort);
	if (n < 0) {
		perror(path);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		char *p;

		if (names[i]->d_name[0] != '.' &&
		    asprintf(&p, "%s/%s", path, names[i]->d_name) >= 0) {
			if (!stat(p, &st) && S_ISREG(st.st_mode))
				ret |= run_file(p);
			free(p);
		}
		free(names[i]);
	}
	free(names);
	return ret;
}

int main(int argc, char **argv)
{
	int ret = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++)
		ret |= run_path(argv[i]);
	return ret;
}
