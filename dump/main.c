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
#include "erofs/image_open.h"
#include "erofs/manifest.h"
#include "erofs/share.h"
#include "erofs/share_report.h"
#include "erofs/version.h"

enum {
	OPT_LS = 256,
	OPT_CAT,
	OPT_NID,
	OPT_PATH,
	OPT_SHARE_REPORT,
	OPT_JSON,
	OPT_TOP,
	OPT_PAGE_SIZE,
	OPT_VERIFY,
	OPT_OFFSET,
	OPT_DEVICE,
	OPT_BLKID_UDEV,
	OPT_FINGERPRINTS,
	OPT_MATRIX,
	OPT_NODES,
	OPT_NODE_MEMORY,
	OPT_ISHARE_HOLES,
	OPT_MAX_DECOMPRESSED,
};

static const struct option long_options[] = {
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ "ls", no_argument, NULL, OPT_LS },
	{ "cat", no_argument, NULL, OPT_CAT },
	{ "nid", required_argument, NULL, OPT_NID },
	{ "path", required_argument, NULL, OPT_PATH },
	{ "share-report", no_argument, NULL, OPT_SHARE_REPORT },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "top", required_argument, NULL, OPT_TOP },
	{ "page-size", required_argument, NULL, OPT_PAGE_SIZE },
	{ "verify", no_argument, NULL, OPT_VERIFY },
	{ "offset", required_argument, NULL, OPT_OFFSET },
	{ "device", required_argument, NULL, OPT_DEVICE },
	{ "blkid-udev", no_argument, NULL, OPT_BLKID_UDEV },
	{ "fingerprints", no_argument, NULL, OPT_FINGERPRINTS },
	{ "matrix", no_argument, NULL, OPT_MATRIX },
	{ "nodes", required_argument, NULL, OPT_NODES },
	{ "node-memory", required_argument, NULL, OPT_NODE_MEMORY },
	{ "ishare-holes", required_argument, NULL, OPT_ISHARE_HOLES },
	{ "max-decompressed", required_argument, NULL, OPT_MAX_DECOMPRESSED },
	{ NULL, 0, NULL, 0 },
};

/* An IMAGE argument and the --device options that follow it. */
struct dump_input {
	char *path;
	const char **devices;
	unsigned int nr_devices;
};

struct dump_config {
	bool superblock, stats, extents, ls, cat;
	bool blkid_udev; /* that alone, as erofs-utils prints it */
	bool nid_given;
	erofs_nid_t nid;
	const char *path;
	const char *image;
	struct erofs_image_opts image_opts; /* --offset, --device */
	/* --share-report (or --fingerprints) over inputs[0..nr_inputs) */
	bool share_report, json, share_opts, fingerprints, sets_opts;
	bool top_given;
	struct erofs_share_opts share;
	struct dump_input *inputs;
	unsigned int nr_inputs;
	/* --device options before any IMAGE */
	struct dump_input lead;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: dump.erofs [OPTIONS] IMAGE\n"
		"       dump.erofs --share-report [--json] [--top=N] [--page-size=N]\n"
		"                  [--verify] [--matrix] [--nodes=N | --node-memory=SIZE]\n"
		"                  INPUT [--device=FILE...] INPUT...\n"
		"       dump.erofs --fingerprints [--verify] [--page-size=N]\n"
		"                  IMAGE [--device=FILE...]...\n"
		"Show what the EROFS image IMAGE holds, or how much page cache\n"
		"sharing saves across several images; an INPUT is an image or a\n"
		"manifest written by --fingerprints (\"-\": standard input).\n"
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
		" --share-report  page cache with and without sharing (inode_share) across\n"
		"                 the images, what shares and what does not\n"
		" --json          print the share report as one JSON object\n"
		" --matrix        instead of the report, the saving of every pair of\n"
		"                 images mounted together\n"
		" --nodes=N       instead of the report, a grouping of the images onto N\n"
		"                 nodes (each with at most a 1/N share of the images,\n"
		"                 rounded up) that shares most\n"
		" --node-memory=SIZE  the same onto as few nodes of SIZE bytes of page\n"
		"                 cache as it can (K, M, G, T: powers of 1024)\n"
		" --fingerprints  write a manifest of the images (JSON Lines): every\n"
		"                 regular file's path, size, pages, layout class and\n"
		"                 fingerprint, computed where the image has none\n"
		" --top=N         list the N shared contents saving most (default 10)\n"
		" --page-size=N   page size to count with (default 4096)\n"
		" --verify        also read the files and check their fingerprints\n"
		"                 (with --fingerprints: recorded in the manifest)\n"
		" --ishare-holes=#, --max-decompressed=#\n"
		"                 bounds on --verify's work over all the images: bytes\n"
		"                 of holes hashed (default 16 GiB), bytes of compressed\n"
		"                 data decoded (default 1024 times the images' size, at\n"
		"                 least 1 GiB)\n"
		" --offset=#      the image starts # bytes into IMAGE\n"
		" --device=FILE   an extra device of the image, once per device in the\n"
		"                 order of its device table (without any, they are read\n"
		"                 from IMAGE itself); with --share-report, of the IMAGE\n"
		"                 named before it\n"
		" --blkid-udev    print the UUID and type as udev's blkid import reads\n"
		"                 them (ID_FS_*=...), and nothing else\n"
		" -d#             message level, 0 (quiet) to 9 (debug)\n"
		" -V, --version   print the version and exit\n"
		" -h, --help      print this help and exit\n");
}

/* A size in bytes, with K, M, G or T for powers of 1024. */
static int parse_size(const char *arg, u64 *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno || end == arg || *arg == '-')
		return -EINVAL;
	switch (*end) {
	case 'T':
		shift += 10;
		/* fall through */
	case 'G':
		shift += 10;
		/* fall through */
	case 'M':
		shift += 10;
		/* fall through */
	case 'K':
		shift += 10;
		end++;
		break;
	}
	if (*end || !v || v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = (u64)v << shift;
	return 0;
}

static int usage_error(const char *msg)
{
	fprintf(stderr, "%s: %s\nTry 'dump.erofs --help' for more information.\n",
		erofs_progname, msg);
	return 1;
}

static int add_device(struct dump_input *in, const char *path)
{
	const char **d;

	if (in->nr_devices >= UINT16_MAX)
		return usage_error("too many --device options");
	d = realloc(in->devices, (in->nr_devices + 1) * sizeof(*d));
	if (!d)
		return usage_error(strerror(ENOMEM));
	d[in->nr_devices++] = path;
	in->devices = d;
	return 0;
}

static int add_input(struct dump_config *c, char *path)
{
	struct dump_input *n;

	n = realloc(c->inputs, (c->nr_inputs + 1) * sizeof(*n));
	if (!n)
		return usage_error(strerror(ENOMEM));
	memset(&n[c->nr_inputs], 0, sizeof(*n));
	n[c->nr_inputs++].path = path;
	c->inputs = n;
	return 0;
}

static void free_inputs(struct dump_config *c)
{
	for (unsigned int i = 0; i < c->nr_inputs; i++)
		free(c->inputs[i].devices);
	free(c->inputs);
	free(c->lead.devices);
}

/*
 * IMAGE arguments come back in order ("-" first in the option string), so
 * that each --device can go with the IMAGE named before it.
 */
static int parse_args(struct dump_config *c, int argc, char **argv)
{
	unsigned long long v;
	char *end;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, "-d:ehsSV", long_options,
				  NULL)) != -1) {
		switch (opt) {
		case 1:
			ret = add_input(c, optarg);
			if (ret)
				return ret;
			break;
		case OPT_DEVICE:
			if (!*optarg)
				return usage_error("--device= needs a file");
			ret = add_device(c->nr_inputs ?
						 &c->inputs[c->nr_inputs - 1] :
						 &c->lead,
					 optarg);
			if (ret)
				return ret;
			break;
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
			erofs_print_interface_version(stdout, "dump.erofs");
			erofs_print_project_version(stdout);
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
		case OPT_SHARE_REPORT:
			c->share_report = true;
			break;
		case OPT_JSON:
			c->json = true;
			c->share_opts = true;
			break;
		case OPT_TOP:
		case OPT_PAGE_SIZE:
			c->share_opts = true;
			errno = 0;
			v = strtoull(optarg, &end, 0);
			if (errno || *end || end == optarg || *optarg == '-' ||
			    v > (opt == OPT_TOP ? 1000000 : 1U << 30) ||
			    (opt == OPT_PAGE_SIZE && (v < 512 || (v & (v - 1)))))
				return usage_error(opt == OPT_TOP ?
					"invalid --top value" :
					"invalid --page-size value (a power of two from 512)");
			c->top_given |= opt == OPT_TOP;
			if (opt == OPT_TOP)
				c->share.top = v;
			else
				c->share.page_size = v;
			break;
		case OPT_VERIFY:
			c->share.verify = true;
			break;
		case OPT_FINGERPRINTS:
			c->fingerprints = true;
			break;
		case OPT_MATRIX:
			c->share.matrix = true;
			c->sets_opts = true;
			break;
		case OPT_NODES:
			errno = 0;
			v = strtoull(optarg, &end, 10);
			if (errno || *end || end == optarg || *optarg == '-' ||
			    !v || v > UINT32_MAX)
				return usage_error("invalid --nodes value");
			c->share.nodes = v;
			c->sets_opts = true;
			break;
		case OPT_NODE_MEMORY:
			if (parse_size(optarg, &c->share.node_memory))
				return usage_error("invalid --node-memory value (bytes, or a number with K, M, G or T)");
			c->sets_opts = true;
			break;
		case OPT_BLKID_UDEV:
			c->blkid_udev = true;
			break;
		case OPT_ISHARE_HOLES:
		case OPT_MAX_DECOMPRESSED:
			errno = 0;
			v = strtoull(optarg, &end, 0);
			if (errno || *end || end == optarg || *optarg == '-' ||
			    !v)
				return usage_error(opt == OPT_ISHARE_HOLES ?
					"invalid --ishare-holes value" :
					"invalid --max-decompressed value");
			if (opt == OPT_ISHARE_HOLES)
				c->share.max_hole_hash = v;
			else
				c->share.max_decompressed = v;
			c->share_opts = true;
			break;
		case OPT_OFFSET:
			errno = 0;
			v = strtoull(optarg, &end, 0);
			if (errno || *end || end == optarg || *optarg == '-' ||
			    v > INT64_MAX)
				return usage_error("invalid --offset value");
			c->image_opts.offset = v;
			break;
		default:
			fprintf(stderr,
				"Try 'dump.erofs --help' for more information.\n");
			return 1;
		}
	}
	/* after "--" */
	for (; optind < argc; optind++) {
		ret = add_input(c, argv[optind]);
		if (ret)
			return ret;
	}
	if (c->share_report || c->fingerprints) {
		const char *what = c->share_report ? "--share-report" :
						     "--fingerprints";

		if (c->share_report && c->fingerprints)
			return usage_error("--share-report and --fingerprints are separate runs");
		char msg[96];

		if (c->superblock || c->stats || c->extents || c->ls ||
		    c->cat || c->nid_given || c->path || c->blkid_udev) {
			snprintf(msg, sizeof(msg),
				 "%s cannot be combined with other reports",
				 what);
			return usage_error(msg);
		}
		if (c->image_opts.offset) {
			snprintf(msg, sizeof(msg),
				 "--offset cannot be combined with %s", what);
			return usage_error(msg);
		}
		if (c->lead.nr_devices)
			return usage_error("each --device=FILE follows the IMAGE it belongs to");
		if (c->fingerprints && (c->json || c->sets_opts || c->top_given))
			return usage_error("--json, --top, --matrix, --nodes and --node-memory go with --share-report");
		if (c->share.nodes && c->share.node_memory)
			return usage_error("--nodes and --node-memory are two ways of grouping: give one");
		if (!c->nr_inputs)
			return usage_error(c->share_report ?
				"--share-report needs two images or more (the same one twice is fine)" :
				"--fingerprints needs an IMAGE");
		return 0;
	}
	if (c->share_opts || c->share.verify || c->sets_opts)
		return usage_error("--json, --top, --page-size, --verify and its bounds, --matrix, --nodes and --node-memory go with --share-report");
	if (c->nr_inputs != 1)
		return usage_error("exactly one IMAGE is needed");
	c->image = c->inputs[0].path;
	/* one image: its devices, wherever they were given */
	for (unsigned int i = 0; i < c->inputs[0].nr_devices; i++) {
		ret = add_device(&c->lead, c->inputs[0].devices[i]);
		if (ret)
			return ret;
	}
	c->image_opts.devices = c->lead.devices;
	c->image_opts.nr_devices = c->lead.nr_devices;
	if (c->blkid_udev)
		return 0; /* erofs-utils prints that alone, whatever else */
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

static int fingerprints(struct dump_config *c)
{
	char **paths = calloc(c->nr_inputs, sizeof(*paths));
	struct erofs_image_opts *io = calloc(c->nr_inputs, sizeof(*io));
	struct erofs_manifest_opts mo = {
		.page_size = c->share.page_size,
		.verify = c->share.verify,
	};
	int ret = -ENOMEM;

	if (paths && io) {
		for (unsigned int i = 0; i < c->nr_inputs; i++) {
			paths[i] = c->inputs[i].path;
			io[i].devices = c->inputs[i].devices;
			io[i].nr_devices = c->inputs[i].nr_devices;
		}
		ret = erofs_manifest_write_images(paths, io, c->nr_inputs, &mo,
						  stdout);
	}
	free(paths);
	free(io);
	if (fflush(stdout) && !ret)
		ret = erofs_fail(-errno, "standard output: %s",
				 strerror(errno));
	return ret ? failed(ret) : 0;
}

static int share_report(struct dump_config *c)
{
	char **paths = calloc(c->nr_inputs, sizeof(*paths));
	struct erofs_image_opts *io = calloc(c->nr_inputs, sizeof(*io));
	int ret = -ENOMEM;

	if (paths && io) {
		for (unsigned int i = 0; i < c->nr_inputs; i++) {
			paths[i] = c->inputs[i].path;
			io[i].devices = c->inputs[i].devices;
			io[i].nr_devices = c->inputs[i].nr_devices;
		}
		ret = erofs_share_report_images(paths, io, c->nr_inputs,
						&c->share, c->json, stdout);
	}
	free(paths);
	free(io);
	if (fflush(stdout) && !ret)
		ret = erofs_fail(-errno, "standard output: %s",
				 strerror(errno));
	return ret ? failed(ret) : 0;
}

int main(int argc, char **argv)
{
	struct dump_config c = { .share = { .top = 10 } };
	struct erofs_image img;
	erofs_nid_t nid;
	int ret;

	erofs_progname = "dump.erofs";
	ret = parse_args(&c, argc, argv);
	if (ret) {
		free_inputs(&c);
		return ret;
	}
	if (c.share_report || c.fingerprints) {
		ret = c.share_report ? share_report(&c) : fingerprints(&c);
		free_inputs(&c);
		return ret;
	}
	ret = erofs_image_open(&img, c.image, &c.image_opts);
	if (ret == -EFSCORRUPTED) {
		/* a bad checksum should not hide what the image holds */
		char *msg = strdup(erofs_last_error() ? erofs_last_error() :
							"corrupted");

		c.image_opts.no_sbcrc = true;
		erofs_clear_error();
		if (msg && !erofs_image_open(&img, c.image, &c.image_opts)) {
			erofs_warn("%s; showing the image anyway", msg);
			ret = 0;
		} else {
			erofs_clear_error();
			erofs_fail(ret, "%s", msg ? msg : "corrupted");
		}
		free(msg);
	}
	if (ret) {
		free_inputs(&c);
		return failed(ret);
	}
	if (c.blkid_udev) {
		ret = erofs_dump_blkid_udev(&img, stdout);
		goto out;
	}

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
	free_inputs(&c);
	if (fflush(stdout) && !ret)
		ret = erofs_fail(-errno, "standard output: %s", strerror(errno));
	return ret ? failed(ret) : 0;
}
