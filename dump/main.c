// SPDX-License-Identifier: GPL-2.0-or-later
/* dump.erofs: parse options, open the image and print the reports asked. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "erofs/dir_read.h"
#include "erofs/dump.h"
#include "erofs/error.h"
#include "erofs/image.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

enum {
	OPT_LS = 256,
	OPT_CAT,
	OPT_NID,
	OPT_PATH,
};

static const struct option long_options[] = {
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ "ls", no_argument, NULL, OPT_LS },
	{ "cat", no_argument, NULL, OPT_CAT },
	{ "nid", required_argument, NULL, OPT_NID },
	{ "path", required_argument, NULL, OPT_PATH },
	{ NULL, 0, NULL, 0 },
};

struct dump_config {
	bool superblock, stats, extents, ls, cat;
	bool nid_given;
	erofs_nid_t nid;
	const char *path;
	const char *image;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: dump.erofs [OPTIONS] IMAGE\n"
		"Show what the EROFS image IMAGE holds.\n"
		"\n"
		" -s              superblock: fields, features, fingerprints, the Linux\n"
		"                 version needed (the default without other options)\n"
		" -S              statistics over the whole tree\n"
		" --nid=#         show inode # (layout, size, owner, times, xattrs)\n"
		" --path=PATH     show the inode at PATH (wins over --nid)\n"
		" -e              show the extents of the inode (needs --nid or --path)\n"
		" --ls            list the directory (needs --nid or --path)\n"
		" --cat           write the file's content to standard output\n"
		"                 (needs --nid or --path)\n"
		" -d#             message level, 0 (quiet) to 9 (debug)\n"
		" -V, --version   print the version and exit\n"
		" -h, --help      print this help and exit\n");
}

static int usage_error(const char *msg)
{
	fprintf(stderr, "%s: %s\nTry 'dump.erofs --help' for more information.\n",
		erofs_progname, msg);
	return 1;
}

static int parse_args(struct dump_config *c, int argc, char **argv)
{
	unsigned long long v;
	char *end;
	int opt;

	while ((opt = getopt_long(argc, argv, "d:ehsSV", long_options,
				  NULL)) != -1) {
		switch (opt) {
		case 'd':
			v = strtoull(optarg, &end, 10);
			if (*end || end == optarg || v > 9)
				return usage_error("invalid -d value");
			erofs_msg_level = v;
			break;
		case 'e':
			c->extents = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 's':
			c->superblock = true;
			break;
		case 'S':
			c->stats = true;
			break;
		case 'V':
			printf("dump.erofs (erofs-share) %s\n", PACKAGE_VERSION);
			exit(0);
		case OPT_LS:
			c->ls = true;
			break;
		case OPT_CAT:
			c->cat = true;
			break;
		case OPT_NID:
			errno = 0;
			v = strtoull(optarg, &end, 0);
			if (errno || *end || end == optarg || *optarg == '-')
				return usage_error("invalid --nid value");
			c->nid = v;
			c->nid_given = true;
			break;
		case OPT_PATH:
			c->path = optarg;
			break;
		default:
			fprintf(stderr,
				"Try 'dump.erofs --help' for more information.\n");
			return 1;
		}
	}
	if (optind != argc - 1)
		return usage_error("exactly one IMAGE is needed");
	c->image = argv[optind];
	if ((c->extents || c->ls || c->cat) && !c->nid_given && !c->path)
		return usage_error("-e, --ls and --cat need --nid or --path");
	if (c->cat && (c->superblock || c->stats || c->extents || c->ls))
		return usage_error("--cat cannot be combined with other reports");
	if (!c->stats && !c->extents && !c->ls && !c->cat && !c->nid_given &&
	    !c->path)
		c->superblock = true;
	return 0;
}

static int failed(int ret)
{
	const char *msg = erofs_last_error();

	fprintf(stderr, "%s: %s\n", erofs_progname,
		msg ? msg : strerror(-ret));
	return 1;
}

int main(int argc, char **argv)
{
	struct erofs_image_opts opts = { 0 };
	struct dump_config c = { 0 };
	struct erofs_image img;
	erofs_nid_t nid;
	int ret;

	erofs_progname = "dump.erofs";
	ret = parse_args(&c, argc, argv);
	if (ret)
		return ret;
	ret = erofs_image_open(&img, c.image, &opts);
	if (ret == -EFSCORRUPTED) {
		/* a bad checksum should not hide what the image holds */
		char *msg = strdup(erofs_last_error() ? erofs_last_error() :
							"corrupted");

		opts.no_sbcrc = true;
		erofs_clear_error();
		if (msg && !erofs_image_open(&img, c.image, &opts)) {
			erofs_warn("%s; showing the image anyway", msg);
			ret = 0;
		} else {
			erofs_clear_error();
			erofs_fail(ret, "%s", msg ? msg : "corrupted");
		}
		free(msg);
	}
	if (ret)
		return failed(ret);

	nid = c.nid;
	if (c.path) {
		ret = erofs_lookup_path(&img, c.path, &nid);
		if (ret)
			goto out;
	}
	if (c.superblock) {
		ret = erofs_dump_superblock(&img, stdout);
		if (ret)
			goto out;
	}
	if (c.stats) {
		if (c.superblock)
			printf("\n");
		ret = erofs_dump_stats(&img, stdout);
		if (ret)
			goto out;
	}
	if (c.cat) {
		fflush(stdout);
		ret = erofs_dump_cat(&img, nid, STDOUT_FILENO);
		goto out;
	}
	if (c.path || c.nid_given) {
		if (c.superblock || c.stats)
			printf("\n");
		ret = erofs_dump_inode(&img, nid, c.path, stdout);
		if (ret)
			goto out;
	}
	if (c.extents) {
		printf("\n");
		ret = erofs_dump_extents(&img, nid, stdout);
		if (ret)
			goto out;
	}
	if (c.ls) {
		printf("\n");
		ret = erofs_dump_ls(&img, nid, stdout);
	}
out:
	erofs_image_close(&img);
	if (fflush(stdout) && !ret)
		ret = erofs_fail(-errno, "standard output: %s", strerror(errno));
	return ret ? failed(ret) : 0;
}
