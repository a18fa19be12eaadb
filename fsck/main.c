// SPDX-License-Identifier: GPL-2.0-or-later
/* fsck.erofs: parse options, check (and extract) an image, print results. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "erofs/dump.h" /* erofs_fputs_escaped() */
#include "erofs/error.h"
#include "erofs/fsck.h"
#include "erofs/decompress.h"
#include "erofs/format.h"
#include "erofs/image.h"
#include "erofs/image_open.h"
#include "erofs/version.h"

/* Exit status bits, as fsck(8) defines them. */
#define EXIT_CLEAN 0
#define EXIT_UNCORRECTED 4
#define EXIT_OPERATIONAL 8
#define EXIT_USAGE 16

enum {
	OPT_EXTRACT = 256,
	OPT_NID,
	OPT_PATH,
	OPT_NO_SBCRC,
	OPT_DIGEST,
	OPT_XATTRS,
	OPT_NO_XATTRS,
	OPT_FORCE,
	OPT_OVERWRITE,
	OPT_PRESERVE,
	OPT_PRESERVE_OWNER,
	OPT_PRESERVE_PERMS,
	OPT_NO_PRESERVE,
	OPT_NO_PRESERVE_OWNER,
	OPT_NO_PRESERVE_PERMS,
	OPT_WORKERS,
	OPT_OFFSET,
	OPT_DEVICE,
	OPT_ISHARE_HOLES,
	OPT_MAX_DECOMPRESSED,
};

static const struct option long_options[] = {
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ "extract", optional_argument, NULL, OPT_EXTRACT },
	{ "nid", required_argument, NULL, OPT_NID },
	{ "path", required_argument, NULL, OPT_PATH },
	{ "no-sbcrc", no_argument, NULL, OPT_NO_SBCRC },
	{ "xattr-inode-digest", optional_argument, NULL, OPT_DIGEST },
	{ "xattrs", no_argument, NULL, OPT_XATTRS },
	{ "no-xattrs", no_argument, NULL, OPT_NO_XATTRS },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "overwrite", no_argument, NULL, OPT_OVERWRITE },
	{ "preserve", no_argument, NULL, OPT_PRESERVE },
	{ "preserve-owner", no_argument, NULL, OPT_PRESERVE_OWNER },
	{ "preserve-perms", no_argument, NULL, OPT_PRESERVE_PERMS },
	{ "no-preserve", no_argument, NULL, OPT_NO_PRESERVE },
	{ "no-preserve-owner", no_argument, NULL, OPT_NO_PRESERVE_OWNER },
	{ "no-preserve-perms", no_argument, NULL, OPT_NO_PRESERVE_PERMS },
	{ "workers", required_argument, NULL, OPT_WORKERS },
	{ "offset", required_argument, NULL, OPT_OFFSET },
	{ "device", required_argument, NULL, OPT_DEVICE },
	{ "ishare-holes", required_argument, NULL, OPT_ISHARE_HOLES },
	{ "max-decompressed", required_argument, NULL, OPT_MAX_DECOMPRESSED },
	{ NULL, 0, NULL, 0 },
};

struct fsck_config {
	struct erofs_image_opts image;
	const char **devices; /* --device, in slot order */
	struct erofs_fsck_opts check;
	struct erofs_extract_opts extract;
	const char *image_path;
	bool extracting;
	bool print_ratio;
	bool extract_opts_given; /* options that need --extract=DIR */
	bool force;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: fsck.erofs [OPTIONS] IMAGE\n"
		"Check the EROFS image IMAGE: superblock, every inode, directory and xattr,\n"
		"and every byte of file data; optionally extract its contents.\n"
		"\n"
		" -d#                    message level, 0 (quiet) to 9 (debug); default 2\n"
		" -p                     print the compression ratio of all files\n"
		" --extract[=DIR]        also extract the tree into DIR (without DIR: check only)\n"
		" --nid=#                check or extract the subtree of inode #\n"
		" --path=PATH            check or extract the subtree at PATH (wins over --nid)\n"
		" --no-sbcrc             do not verify the superblock checksum\n"
		" --offset=#             the image starts # bytes into IMAGE\n"
		" --device=FILE          an extra device of the image, once per device in\n"
		"                        the order of its device table (without any, they\n"
		"                        are read from IMAGE itself, after its metadata)\n"
		" --xattr-inode-digest[=NAME]\n"
		"                        verify every file's content fingerprint, also in\n"
		"                        images not marked share-ready; NAME overrides the\n"
		"                        image's fingerprint xattr name\n"
		" --[no-]xattrs          restore xattrs when extracting (default: no)\n"
		" --workers=#            data threads (default: available processors)\n"
		" --ishare-holes=#       hash at most # bytes of holes in all to verify\n"
		"                        fingerprints (default 16 GiB, as mkfs.erofs)\n"
		" --max-decompressed=#   decode at most # bytes of compressed data in all\n"
		"                        (default 1024 times the image size, at least 1 GiB)\n"
		" -a, -A, -y             accepted and ignored, as other fsck programs take them\n"
		" -V, --version          print the version and exit\n"
		" -h, --help             print this help and exit\n"
		"\n"
		"Extraction options (need --extract=DIR):\n"
		" --force                allow extracting into /\n"
		" --overwrite            replace entries that already exist in DIR\n"
		" --[no-]preserve        both of the following\n"
		" --[no-]preserve-owner  set owners from the image (default when root)\n"
		" --[no-]preserve-perms  keep exact modes instead of applying the umask\n"
		"                        (default when root)\n"
		"\n"
		"Exit status: 0 clean, 4 corruption found, 8 operational error or parts\n"
		"that could not be checked (a bound above reached), 16 usage error; added\n"
		"when several apply.\n");
}

static void print_version(void)
{
	static const char *const names[] = {
		[Z_EROFS_COMPRESSION_LZ4] = "lz4, lz4hc",
		[Z_EROFS_COMPRESSION_LZMA] = "lzma",
		[Z_EROFS_COMPRESSION_DEFLATE] = "deflate",
		[Z_EROFS_COMPRESSION_ZSTD] = "zstd",
	};
	bool first = true;

	erofs_print_interface_version(stdout, "fsck.erofs");
	printf("available decompressors: ");
	for (unsigned int i = 0; i < Z_EROFS_COMPRESSION_MAX; i++) {
		if (!erofs_decompress_available(i))
			continue;
		printf("%s%s", first ? "" : ", ", names[i]);
		first = false;
	}
	printf("\n");
	erofs_print_project_version(stdout);
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", erofs_progname);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'fsck.erofs --help' for more information.\n");
	return EXIT_USAGE;
}

static bool parse_u64(const char *s, u64 max, u64 *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-' || v > max)
		return false;
	*out = v;
	return true;
}

/* 0 to go on, or the exit status. */
static int parse_args(struct fsck_config *c, int argc, char **argv)
{
	bool root = geteuid() == 0;
	int opt;
	u64 v;

	c->extract.preserve_owner = c->extract.preserve_perms = root;
	while ((opt = getopt_long(argc, argv, "aAd:hpVy", long_options,
				  NULL)) != -1) {
		switch (opt) {
		case 'a':
		case 'A':
		case 'y':
			break;
		case 'd':
			if (!parse_u64(optarg, 9, &v))
				return usage_error("invalid -d value '%s'",
						   optarg);
			erofs_msg_level = v;
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_CLEAN);
		case 'p':
			c->print_ratio = true;
			break;
		case 'V':
			print_version();
			exit(EXIT_CLEAN);
		case OPT_EXTRACT:
			if (optarg && !*optarg)
				return usage_error("%s--extract= needs a directory",
						   "");
			c->extracting = optarg;
			c->extract.dir = optarg;
			break;
		case OPT_NID:
			if (!parse_u64(optarg, UINT64_MAX, &v))
				return usage_error("invalid --nid value '%s'",
						   optarg);
			c->check.nid = v;
			c->check.nid_given = true;
			break;
		case OPT_PATH:
			c->check.path = optarg;
			break;
		case OPT_NO_SBCRC:
			c->image.no_sbcrc = true;
			break;
		case OPT_DIGEST:
			c->check.fingerprints = EROFS_FSCK_FP_REQUIRE;
			if (optarg && !*optarg)
				return usage_error("%s--xattr-inode-digest= needs a name",
						   "");
			c->check.fingerprint_name = optarg;
			break;
		case OPT_XATTRS:
			c->extract.xattrs = true;
			break;
		case OPT_NO_XATTRS:
			c->extract.xattrs = false;
			break;
		case OPT_FORCE:
			c->force = true;
			c->extract_opts_given = true;
			break;
		case OPT_OVERWRITE:
			c->extract.overwrite = true;
			c->extract_opts_given = true;
			break;
		case OPT_PRESERVE:
		case OPT_NO_PRESERVE:
			c->extract.preserve_owner = opt == OPT_PRESERVE;
			c->extract.preserve_perms = opt == OPT_PRESERVE;
			c->extract_opts_given = true;
			break;
		case OPT_PRESERVE_OWNER:
		case OPT_NO_PRESERVE_OWNER:
			c->extract.preserve_owner = opt == OPT_PRESERVE_OWNER;
			c->extract_opts_given = true;
			break;
		case OPT_PRESERVE_PERMS:
		case OPT_NO_PRESERVE_PERMS:
			c->extract.preserve_perms = opt == OPT_PRESERVE_PERMS;
			c->extract_opts_given = true;
			break;
		case OPT_OFFSET:
			if (!parse_u64(optarg, INT64_MAX, &v))
				return usage_error("invalid --offset value '%s'",
						   optarg);
			c->image.offset = v;
			break;
		case OPT_DEVICE: {
			const char **d;

			if (!*optarg)
				return usage_error("%s--device= needs a file", "");
			if (c->image.nr_devices >= UINT16_MAX)
				return usage_error("%stoo many --device options",
						   "");
			d = realloc(c->devices,
				    (c->image.nr_devices + 1) * sizeof(*d));
			if (!d) {
				fprintf(stderr, "%s: %s\n", erofs_progname,
					strerror(ENOMEM));
				return EXIT_OPERATIONAL;
			}
			d[c->image.nr_devices++] = optarg;
			c->devices = d;
			c->image.devices = d;
			break;
		}
		case OPT_ISHARE_HOLES:
		case OPT_MAX_DECOMPRESSED:
			if (!parse_u64(optarg, UINT64_MAX, &v) || !v)
				return usage_error(opt == OPT_ISHARE_HOLES ?
							   "invalid --ishare-holes value '%s'" :
							   "invalid --max-decompressed value '%s'",
						   optarg);
			if (opt == OPT_ISHARE_HOLES)
				c->check.max_hole_hash = v;
			else
				c->check.max_decompressed = v;
			break;
		case OPT_WORKERS:
			if (!parse_u64(optarg, 1024, &v) || !v)
				return usage_error("invalid --workers value '%s'",
						   optarg);
			c->check.workers = v;
			break;
		default:
			fprintf(stderr,
				"Try 'fsck.erofs --help' for more information.\n");
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1)
		return usage_error("%sexactly one IMAGE is needed", "");
	c->image_path = argv[optind];
	if (c->extract_opts_given && !c->extracting)
		return usage_error("%s--force, --overwrite and --[no-]preserve* need --extract=DIR",
				   "");
	return 0;
}

/* Extracting over / is allowed on request only. */
static int check_extract_dir(struct fsck_config *c)
{
	char resolved[PATH_MAX];

	if (realpath(c->extract.dir, resolved) && !strcmp(resolved, "/") &&
	    !c->force)
		return usage_error("%s--extract=/ needs --force", "");
	return 0;
}

static const char *const level_names[] = {
	[EROFS_FSCK_WARNING] = "warning",
	[EROFS_FSCK_CORRUPT] = "corrupt",
	[EROFS_FSCK_UNCHECKED] = "not checked",
	[EROFS_FSCK_ERROR] = "error",
};

static void print_problem(void *arg, enum erofs_fsck_level level,
			  const char *path, erofs_nid_t nid, const char *msg)
{
	int need = level == EROFS_FSCK_WARNING ? EROFS_MSG_WARN : EROFS_MSG_ERR;

	if (erofs_msg_level < need)
		return;
	erofs_progress_done();
	fprintf(stderr, "%s: %s: ", erofs_progname, level_names[level]);
	erofs_fputs_escaped(path, strlen(path), stderr);
	fputs(": ", stderr);
	/* messages may quote names from the image too */
	erofs_fputs_escaped(msg, strlen(msg), stderr);
	fputc('\n', stderr);
}

static int status_of_error(int err)
{
	return err == -EFSCORRUPTED ? EXIT_UNCORRECTED : EXIT_OPERATIONAL;
}

/* Opening fails with -EINVAL for what was asked wrongly (devices, offset). */
static int status_of_open_error(int err)
{
	return err == -EINVAL ? EXIT_USAGE : status_of_error(err);
}

int main(int argc, char **argv)
{
	struct fsck_config c = { 0 };
	struct erofs_fsck_result r;
	struct erofs_image img;
	mode_t mask;
	int status, ret;

	erofs_progname = "fsck.erofs";
	status = parse_args(&c, argc, argv);
	if (status)
		return status;
	if (c.extracting) {
		status = check_extract_dir(&c);
		if (status)
			return status;
		mask = umask(0);
		umask(mask);
		c.extract.umask = mask;
		c.check.extract = &c.extract;
	}
	c.check.report = print_problem;

	ret = erofs_image_open(&img, c.image_path, &c.image);
	if (ret) {
		fprintf(stderr, "%s: %s\n", erofs_progname,
			erofs_last_error() ? erofs_last_error() :
					     strerror(-ret));
		free(c.devices);
		return status_of_open_error(ret);
	}
	ret = erofs_fsck(&img, &c.check, &r);
	erofs_image_close(&img);
	free(c.devices);
	if (ret) {
		fprintf(stderr, "%s: %s\n", erofs_progname,
			erofs_last_error() ? erofs_last_error() :
					     strerror(-ret));
		if (ret == -EINVAL)
			return EXIT_USAGE;
		return status_of_error(ret) |
		       (r.problems[EROFS_FSCK_CORRUPT] ? EXIT_UNCORRECTED : 0);
	}

	status = EXIT_CLEAN;
	if (r.problems[EROFS_FSCK_CORRUPT])
		status |= EXIT_UNCORRECTED;
	if (r.problems[EROFS_FSCK_UNCHECKED] || r.problems[EROFS_FSCK_ERROR])
		status |= EXIT_OPERATIONAL;

	if (erofs_msg_level >= EROFS_MSG_WARN) {
		printf("%s: %llu inodes (%llu directories, %llu files, %llu symlinks, %llu special), %llu bytes of file data",
		       c.image_path, (unsigned long long)r.inodes,
		       (unsigned long long)r.dirs, (unsigned long long)r.files,
		       (unsigned long long)r.symlinks,
		       (unsigned long long)r.specials,
		       (unsigned long long)r.content_bytes);
		if (r.fingerprints_verified)
			printf(", %llu fingerprints verified",
			       (unsigned long long)r.fingerprints_verified);
		printf("\n");
		if (r.unchecked_files)
			printf("%llu files were not checked: their data layout is one this fsck.erofs does not know\n",
			       (unsigned long long)r.unchecked_files);
		if (status & EXIT_UNCORRECTED)
			printf("Found %llu problems: the image is corrupted\n",
			       (unsigned long long)r.problems[EROFS_FSCK_CORRUPT]);
		else if (status)
			printf("No corruption found, but %llu parts could not be checked or extracted\n",
			       (unsigned long long)(r.problems[EROFS_FSCK_UNCHECKED] +
						    r.problems[EROFS_FSCK_ERROR]));
		else if (c.extracting)
			printf("No errors found; extracted to %s\n",
			       c.extract.dir);
		else
			printf("No errors found\n");
	}
	if (c.print_ratio && r.content_bytes)
		printf("Compression ratio: %.2f%%\n",
		       100.0 * r.stored_bytes / r.content_bytes);
	else if (c.print_ratio)
		printf("Compression ratio: 100.00%%\n");
	return status;
}
