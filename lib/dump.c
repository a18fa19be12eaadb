// SPDX-License-Identifier: GPL-2.0-or-later
/* Reports for dump.erofs: superblock, statistics, inodes, extents. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "erofs/data_read.h"
#include "erofs/device.h"
#include "erofs/dir_read.h"
#include "erofs/dump.h"
#include "erofs/error.h"
#include "erofs/fingerprint.h"
#include "erofs/format.h"
#include "erofs/inode_read.h"
#include "erofs/tree.h" /* erofs_mode_to_ftype() */
#include "erofs/walk.h"
#include "erofs/xattr.h"
#include "erofs/xattr_read.h"
#include "erofs/zmap.h"

void erofs_fputs_escaped(const char *s, size_t len, FILE *out)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = s[i];

		if (c == '\\')
			fputs("\\\\", out);
		else if (c < 0x20 || c == 0x7f)
			fprintf(out, "\\x%02x", c);
		else
			fputc(c, out);
	}
}

static void print_time(FILE *out, s64 sec, u32 nsec, bool with_nsec)
{
	time_t t = sec;
	struct tm tm;
	char buf[64];

	if (!gmtime_r(&t, &tm) ||
	    !strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm)) {
		fprintf(out, "%" PRId64 " s", sec);
		return;
	}
	if (with_nsec)
		fprintf(out, "%s.%09u UTC", buf, nsec);
	else
		fprintf(out, "%s UTC", buf);
}

/*
 * Feature names, in erofs-utils' order and spelling, and the upstream Linux
 * version erofs-utils reports for each (major * 100 + minor, 0: none).
 */
static const struct {
	bool compat;
	u16 linux_version;
	u32 bit;
	const char *name;
} feature_list[] = {
	{ true, 0, EROFS_FEATURE_COMPAT_SB_CHKSUM, "sb_csum" },
	{ true, 0, EROFS_FEATURE_COMPAT_MTIME, "mtime" },
	{ true, 0, EROFS_FEATURE_COMPAT_XATTR_FILTER, "xattr_filter" },
	{ true, 0, EROFS_FEATURE_COMPAT_SHARED_EA_IN_METABOX,
	  "shared_ea_in_metabox" },
	{ true, 0, EROFS_FEATURE_COMPAT_PLAIN_XATTR_PFX, "plain_xattr_pfx" },
	{ true, 0, EROFS_FEATURE_COMPAT_ISHARE_XATTRS, "ishare_xattrs" },
	{ false, 504, EROFS_FEATURE_INCOMPAT_ZERO_PADDING, "lz4_0padding" },
	{ false, 513, EROFS_FEATURE_INCOMPAT_COMPR_CFGS, "compr_cfgs" },
	{ false, 513, EROFS_FEATURE_INCOMPAT_BIG_PCLUSTER, "big_pcluster" },
	{ false, 515, EROFS_FEATURE_INCOMPAT_CHUNKED_FILE, "chunked_file" },
	{ false, 516, EROFS_FEATURE_INCOMPAT_DEVICE_TABLE, "device_table" },
	{ false, 517, EROFS_FEATURE_INCOMPAT_ZTAILPACKING, "ztailpacking" },
	{ false, 601, EROFS_FEATURE_INCOMPAT_FRAGMENTS, "fragments" },
	{ false, 601, EROFS_FEATURE_INCOMPAT_DEDUPE, "dedupe" },
	{ false, 604, EROFS_FEATURE_INCOMPAT_XATTR_PREFIXES,
	  "xattr_prefixes" },
	{ false, 615, EROFS_FEATURE_INCOMPAT_48BIT, "48bit" },
	{ false, 617, EROFS_FEATURE_INCOMPAT_METABOX, "metabox" },
};

static const char *const algorithm_names[] = {
	[Z_EROFS_COMPRESSION_LZ4] = "lz4",
	[Z_EROFS_COMPRESSION_LZMA] = "lzma",
	[Z_EROFS_COMPRESSION_DEFLATE] = "deflate",
	[Z_EROFS_COMPRESSION_ZSTD] = "zstd",
};

/* The device table, and where each device is read from. */
static void print_devices(const struct erofs_image *img, FILE *out)
{
	u64 total = img->sb.blocks;

	for (unsigned int i = 0; i < img->nr_devices; i++)
		total += img->devices[i].blocks;
	fprintf(out, "Extra devices:          %u", img->nr_devices);
	if (img->nr_devices)
		fprintf(out, " (table at byte %llu; %" PRIu64
			     " blocks with the primary device)",
			(unsigned long long)img->sb.devt_slotoff *
				EROFS_DEVT_SLOT_SIZE,
			total);
	fputc('\n', out);
	for (unsigned int i = 0; i < img->nr_devices; i++) {
		const struct erofs_device *d = &img->devices[i];

		fprintf(out, "  device %u: %" PRIu64 " blocks", i + 1, d->blocks);
		if (d->uniaddr)
			fprintf(out, " at unified block %" PRIu64, d->uniaddr);
		else
			fprintf(out, ", no unified address");
		if (d->tag[0]) {
			fputs(", tag \"", out);
			erofs_fputs_escaped(d->tag, strlen(d->tag), out);
			fputc('"', out);
		} else {
			fputs(", no tag", out);
		}
		fputs("\n    read from ", out);
		if (d->path) {
			erofs_fputs_escaped(d->path, strlen(d->path), out);
		} else if (d->missing) {
			fputs("nowhere: not in ", out);
			erofs_fputs_escaped(img->path, strlen(img->path), out);
			fputs(" (give it with --device=FILE)", out);
		} else {
			erofs_fputs_escaped(img->path, strlen(img->path), out);
			fprintf(out, " at byte %" PRIu64, d->offset);
		}
		if (!d->missing && d->avail < d->blocks << img->blkszbits)
			fprintf(out, " (only %" PRIu64 " bytes of it there)",
				d->avail);
		fputc('\n', out);
	}
}

/* ... and the version erofs-utils reports for each algorithm */
static const u16 algorithm_linux_version[] = {
	[Z_EROFS_COMPRESSION_LZ4] = 0,
	[Z_EROFS_COMPRESSION_LZMA] = 516,
	[Z_EROFS_COMPRESSION_DEFLATE] = 606,
	[Z_EROFS_COMPRESSION_ZSTD] = 610,
};

/* Print one set's known feature names, each followed by a space. */
static unsigned int print_feature_set(FILE *out, const struct erofs_sb_info *sb,
				      bool compat)
{
	u32 bits = compat ? sb->feature_compat : sb->feature_incompat;
	unsigned int linux_version = 0;

	for (size_t i = 0; i < ARRAY_SIZE(feature_list); i++) {
		if (feature_list[i].compat != compat ||
		    !(bits & feature_list[i].bit))
			continue;
		fprintf(out, "%s ", feature_list[i].name);
		linux_version = max_t(unsigned int, linux_version,
				      feature_list[i].linux_version);
	}
	return linux_version;
}

/*
 * The fields erofs-utils' dump.erofs -s prints, with its labels, order and
 * spacing, so that scripts reading them keep working.
 */
static void dump_eu_superblock(struct erofs_image *img, FILE *out)
{
	const struct erofs_sb_info *sb = &img->sb;
	bool cfgs = sb->feature_incompat & EROFS_FEATURE_INCOMPAT_COMPR_CFGS;
	unsigned int linux_version, incompat_version;
	time_t built = sb->epoch + sb->build_time;
	char when[64], uuid[40];
	bool comma = false;

	fprintf(out, "Filesystem magic number:                      0x%04X\n",
		EROFS_SUPER_MAGIC);
	fprintf(out, "Filesystem blocksize:                         %u\n",
		img->blksz);
	fprintf(out, "Filesystem blocks:                            %" PRIu64 "\n",
		sb->blocks);
	fprintf(out, "Filesystem inode metadata start block:        %" PRIu64 "\n",
		sb->meta_blkaddr);
	fprintf(out, "Filesystem shared xattr metadata start block: %" PRIu64 "\n",
		sb->xattr_blkaddr);
	fprintf(out, "Filesystem root nid:                          %" PRIu64 "\n",
		sb->root_nid);
	if ((sb->feature_incompat & EROFS_FEATURE_INCOMPAT_FRAGMENTS) &&
	    sb->packed_nid)
		fprintf(out, "Filesystem packed nid:                        %" PRIu64 "\n",
			sb->packed_nid);
	if (sb->feature_incompat & EROFS_FEATURE_INCOMPAT_METABOX)
		fprintf(out, "Filesystem metabox nid:                       %" PRIu64 "\n",
			sb->metabox_nid);
	if (cfgs) {
		fprintf(out, "Filesystem compr_algs:                        ");
		for (unsigned int i = 0; i < Z_EROFS_COMPRESSION_MAX; i++) {
			if (!(sb->available_compr_algs & (1U << i)))
				continue;
			fprintf(out, "%s%s", comma ? ", " : "",
				algorithm_names[i]);
			comma = true;
		}
		fprintf(out, "\n");
	} else {
		fprintf(out, "Filesystem lz4_max_distance:                  %u\n",
			sb->available_compr_algs);
	}
	fprintf(out, "Filesystem sb_size:                           %u\n",
		EROFS_SUPER_BASE_SIZE +
			sb->sb_extslots * EROFS_SB_EXTSLOT_SIZE);
	fprintf(out, "Filesystem inode count:                       %" PRIu64 "\n",
		sb->inos);
	/* ctime(3): local time, with its newline */
	if (!ctime_r(&built, when))
		snprintf(when, sizeof(when), "%" PRId64 "\n",
			 (s64)sb->epoch + sb->build_time);
	fprintf(out, "Filesystem created:                           %s", when);
	fprintf(out, "Filesystem compatible features:               ");
	linux_version = print_feature_set(out, sb, true);
	fprintf(out, "\nFilesystem incompatible features:             ");
	incompat_version = print_feature_set(out, sb, false);
	linux_version = max(linux_version, incompat_version);
	uuid_unparse_lower(sb->uuid, uuid);
	fprintf(out, "\nFilesystem UUID:                              %s", uuid);
	for (unsigned int i = 0; cfgs && i < Z_EROFS_COMPRESSION_MAX; i++)
		if (sb->available_compr_algs & (1U << i))
			linux_version = max_t(unsigned int, linux_version,
					      algorithm_linux_version[i]);
	if (linux_version)
		fprintf(out, "\nRequired upstream Linux kernel version:       %u.%u\n",
			linux_version / 100, linux_version % 100);
	else
		fprintf(out, "\n");
}

int erofs_dump_superblock(struct erofs_image *img, FILE *out)
{
	const struct erofs_sb_info *sb = &img->sb;
	const char *reason, *kernel = erofs_image_min_kernel(sb, &reason);
	u32 unknown_compat = sb->feature_compat, unknown_incompat =
							  sb->feature_incompat;

	dump_eu_superblock(img, out);
	/* this toolchain's own lines follow erofs-utils' */
	for (size_t i = 0; i < ARRAY_SIZE(feature_list); i++) {
		if (feature_list[i].compat)
			unknown_compat &= ~feature_list[i].bit;
		else
			unknown_incompat &= ~feature_list[i].bit;
	}
	fprintf(out, "Image:                  %s (%" PRIu64 " bytes)\n",
		img->path, img->size);
	if (sb->feature_compat & EROFS_FEATURE_COMPAT_SB_CHKSUM)
		fprintf(out, "Checksum:               0x%08x (%s)\n",
			sb->checksum,
			img->sb_csum_verified ? "verified" : "not verified");
	else
		fprintf(out, "Checksum:               none\n");
	if (unknown_compat || unknown_incompat)
		fprintf(out, "Unknown features:       compat 0x%x, incompat 0x%x\n",
			unknown_compat, unknown_incompat);
	fprintf(out, "Epoch:                  ");
	print_time(out, sb->epoch, sb->fixed_nsec, true);
	fprintf(out, "\nBuilt:                  ");
	print_time(out, sb->epoch + sb->build_time, 0, false);
	fprintf(out, "\nLabel:                  %s\n", sb->volume_name);
	if (sb->feature_incompat & EROFS_FEATURE_INCOMPAT_DEVICE_TABLE)
		print_devices(img, out);
	if (img->nr_prefixes) {
		bool plain = sb->feature_compat &
			     EROFS_FEATURE_COMPAT_PLAIN_XATTR_PFX;

		if (!plain && img->metabox)
			fprintf(out, "Long xattr prefixes:    %u at byte %" PRIu64 " of the metabox\n",
				img->nr_prefixes,
				(u64)sb->xattr_prefix_start * EROFS_XATTR_UNIT);
		else if (plain || !sb->packed_nid)
			fprintf(out, "Long xattr prefixes:    %u at byte %" PRIu64 "\n",
				img->nr_prefixes,
				(u64)sb->xattr_prefix_start * EROFS_XATTR_UNIT);
		else
			fprintf(out, "Long xattr prefixes:    %u at byte %" PRIu64 " of the packed inode\n",
				img->nr_prefixes,
				(u64)sb->xattr_prefix_start * EROFS_XATTR_UNIT);
		for (unsigned int i = 0; i < img->nr_prefixes; i++) {
			const char *base = erofs_xattr_prefix_string(
				img->prefixes[i].base_index);

			fprintf(out, "  %3u: %s%s\n", i, base ? base : "",
				img->prefixes[i].infix);
		}
	}
	if (img->ishare_name)
		fprintf(out, "Content fingerprints:   xattr \"%s\" (long prefix %u)\n",
			img->ishare_name, sb->ishare_xattr_prefix_id);
	else
		fprintf(out, "Content fingerprints:   none\n");
	fprintf(out, "Minimum Linux version:  %s (%s)\n", kernel, reason);
	if (img->ishare_name)
		fprintf(out, "Page cache sharing:     Linux 7.0 or later, mount options inode_share,domain_id=NAME\n");
	return 0;
}

int erofs_dump_blkid_udev(struct erofs_image *img, FILE *out)
{
	char uuid[40];

	uuid_unparse_lower(img->sb.uuid, uuid);
	fprintf(out,
		"ID_FS_UUID=%s\nID_FS_UUID_ENC=%s\nID_FS_TYPE=erofs\nID_FS_USAGE=filesystem\n",
		uuid, uuid);
	return 0;
}

/* Size classes: [0, 1 KiB), then doubling up to 32 MiB and beyond. */
#define SIZE_CLASSES 17

struct stats {
	struct erofs_image *img;
	u64 entries[EROFS_FT_MAX];
	u64 inodes, hardlinks;
	u64 layouts[EROFS_INODE_DATALAYOUT_MAX];
	u64 file_bytes, file_entries_bytes, stored_file_bytes;
	u64 dir_bytes, symlink_bytes; /* stored, outside inodes' records */
	u64 xattr_inodes, xattr_inline, xattr_shared_refs, fingerprints;
	u64 inline_xattr_bytes;
	u64 size_class[SIZE_CLASSES];
	u64 problems;
	int err;
};

static unsigned int size_class(u64 size)
{
	unsigned int c = 0;

	for (u64 kb = size >> 10; kb && c < SIZE_CLASSES - 1; kb >>= 1)
		c++;
	return c;
}

static int stats_xattr(void *arg, const struct erofs_xattr_ref *x)
{
	struct stats *s = arg;

	if (x->shared)
		s->xattr_shared_refs++;
	else
		s->xattr_inline++;
	if (s->img->ishare_name && !strcmp(x->name, s->img->ishare_name))
		s->fingerprints++;
	return 0;
}

static int stats_visit(void *arg, const struct erofs_walk_entry *e)
{
	struct stats *s = arg;
	const struct erofs_rinode *ri = e->inode;
	const char *why = "";
	u64 stored = 0;
	int ret;

	s->entries[erofs_mode_to_ftype(ri->i.mode)]++;
	if (S_ISREG(ri->i.mode)) {
		s->file_entries_bytes += ri->i.size;
		s->size_class[size_class(ri->i.size)]++;
	}
	if (e->seen) {
		s->hardlinks++;
		return 0;
	}
	s->inodes++;
	if (S_ISREG(ri->i.mode) || S_ISDIR(ri->i.mode) || S_ISLNK(ri->i.mode))
		s->layouts[ri->i.datalayout]++;
	ret = erofs_data_physical_bytes(s->img, ri, &stored, &why);
	if (ret)
		s->problems++;
	if (S_ISREG(ri->i.mode)) {
		s->file_bytes += ri->i.size;
		s->stored_file_bytes += stored;
	} else if (S_ISDIR(ri->i.mode)) {
		s->dir_bytes += stored;
	} else if (S_ISLNK(ri->i.mode)) {
		s->symlink_bytes += stored;
	}
	if (ri->xattr_isize) {
		s->xattr_inodes++;
		s->inline_xattr_bytes += ri->xattr_isize;
		if (erofs_xattr_foreach(s->img, ri, stats_xattr, s, &why))
			s->problems++;
	}
	return 0;
}

static void stats_problem(void *arg, const char *path, erofs_nid_t nid,
			  int err, const char *msg)
{
	struct stats *s = arg;

	if (err) {
		s->problems++;
		if (erofs_msg_level >= EROFS_MSG_ERR) {
			fprintf(stderr, "%s: ", erofs_progname);
			erofs_fputs_escaped(path, strlen(path), stderr);
			fprintf(stderr, ": %s\n", msg);
		}
	}
}

static const char *const ftype_names[EROFS_FT_MAX] = {
	[EROFS_FT_UNKNOWN] = "unknown",
	[EROFS_FT_REG_FILE] = "regular files",
	[EROFS_FT_DIR] = "directories",
	[EROFS_FT_CHRDEV] = "character devices",
	[EROFS_FT_BLKDEV] = "block devices",
	[EROFS_FT_FIFO] = "FIFOs",
	[EROFS_FT_SOCK] = "sockets",
	[EROFS_FT_SYMLINK] = "symlinks",
};

int erofs_dump_stats(struct erofs_image *img, FILE *out)
{
	const struct erofs_walk_ops ops = {
		.visit = stats_visit,
		.problem = stats_problem,
	};
	struct stats *s = calloc(1, sizeof(*s));
	struct erofs_walk_stats ws;
	u64 total = 0, data_bytes, reg = 0;
	int ret;

	if (!s)
		return -ENOMEM;
	s->img = img;
	ret = erofs_walk(img, img->sb.root_nid, "/", &ops, s, &ws);
	if (ret) {
		free(s);
		return erofs_fail(ret, "%s: cannot walk the tree: %s",
				  img->path, strerror(-ret));
	}
	for (unsigned int i = 0; i < EROFS_FT_MAX; i++)
		total += s->entries[i];
	fprintf(out, "Entries:                %" PRIu64 " (the root included)\n",
		total);
	for (unsigned int i = 1; i < EROFS_FT_MAX; i++)
		fprintf(out, "  %-20s  %" PRIu64 "\n", ftype_names[i],
			s->entries[i]);
	fprintf(out, "Inodes:                 %" PRIu64 "\n", s->inodes);
	fprintf(out, "Extra hard links:       %" PRIu64 "\n", s->hardlinks);
	fprintf(out, "Data layouts:\n");
	for (unsigned int i = 0; i < EROFS_INODE_DATALAYOUT_MAX; i++)
		fprintf(out, "  %-28s  %" PRIu64 "\n", erofs_datalayout_name(i),
			s->layouts[i]);
	reg = s->layouts[EROFS_INODE_COMPRESSED_FULL] +
	      s->layouts[EROFS_INODE_COMPRESSED_COMPACT];
	fprintf(out, "Compressed inodes:      %" PRIu64 "\n", reg);
	fprintf(out, "File content:           %" PRIu64 " bytes (%" PRIu64
		     " counting every hard link)\n",
		s->file_bytes, s->file_entries_bytes);
	fprintf(out, "File data stored:       %" PRIu64 " bytes\n",
		s->stored_file_bytes);
	fprintf(out, "Compression ratio:      %.2f%%\n",
		s->file_bytes ? 100.0 * s->stored_file_bytes / s->file_bytes :
				100.0);
	fprintf(out, "Directory data:         %" PRIu64 " bytes\n",
		s->dir_bytes);
	fprintf(out, "Symlink data:           %" PRIu64 " bytes\n",
		s->symlink_bytes);
	data_bytes = s->stored_file_bytes + s->dir_bytes + s->symlink_bytes;
	fprintf(out, "Image size:             %" PRIu64 " bytes\n",
		img->sb.blocks << img->blkszbits);
	fprintf(out, "Metadata and free:      %" PRIu64 " bytes\n",
		(img->sb.blocks << img->blkszbits) > data_bytes ?
			(img->sb.blocks << img->blkszbits) - data_bytes :
			0);
	fprintf(out, "Inodes with xattrs:     %" PRIu64 " (%" PRIu64
		     " bytes of inline xattr areas)\n",
		s->xattr_inodes, s->inline_xattr_bytes);
	fprintf(out, "Inline xattrs:          %" PRIu64 "\n", s->xattr_inline);
	fprintf(out, "Shared xattr references: %" PRIu64 "\n",
		s->xattr_shared_refs);
	fprintf(out, "Content fingerprints:   %" PRIu64 "\n", s->fingerprints);
	fprintf(out, "\nRegular file sizes (every hard link counted):\n");
	for (unsigned int i = 0; i < SIZE_CLASSES; i++) {
		u64 n = s->size_class[i];
		u64 files = s->entries[EROFS_FT_REG_FILE];
		unsigned int bar = files ? (unsigned int)(n * 40 / files) : 0;
		char range[40];

		if (!i)
			snprintf(range, sizeof(range), "      < 1 KiB");
		else if (i == SIZE_CLASSES - 1)
			snprintf(range, sizeof(range), ">= %6u KiB",
				 1U << (i - 1));
		else
			snprintf(range, sizeof(range), "%6u .. %u KiB",
				 1U << (i - 1), 1U << i);
		fprintf(out, "  %-20s %10" PRIu64 "  %6.2f%% |%-40.*s|\n", range,
			n, files ? 100.0 * n / files : 0.0, bar,
			"########################################");
	}
	if (s->problems)
		fprintf(out, "\n%" PRIu64 " problems found on the way (run fsck.erofs)\n",
			s->problems);
	free(s);
	return 0;
}

/* For --nid: the path of the first directory entry naming "nid". */
struct find_path {
	erofs_nid_t nid;
	char *path;
};

static int find_visit(void *arg, const struct erofs_walk_entry *e)
{
	struct find_path *f = arg;

	if (e->nid != f->nid)
		return 0;
	f->path = strdup(e->path);
	return -ECANCELED;
}

static char *path_of(struct erofs_image *img, erofs_nid_t nid)
{
	const struct erofs_walk_ops ops = { .visit = find_visit };
	struct find_path f = { .nid = nid };

	erofs_walk(img, img->sb.root_nid, "/", &ops, &f, NULL);
	return f.path;
}

static int read_inode(struct erofs_image *img, erofs_nid_t nid,
		      struct erofs_rinode *ri)
{
	const char *why = "";
	int ret = erofs_read_inode(img, nid, ri, &why);

	if (ret)
		return erofs_fail(ret, "nid %llu: %s", (unsigned long long)nid,
				  why);
	return 0;
}

static const char *type_name(u32 mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "regular file";
	case S_IFDIR:
		return "directory";
	case S_IFLNK:
		return "symlink";
	case S_IFCHR:
		return "character device";
	case S_IFBLK:
		return "block device";
	case S_IFIFO:
		return "FIFO";
	case S_IFSOCK:
		return "socket";
	}
	return "unknown";
}

static void mode_string(u32 mode, char *s)
{
	static const char rwx[] = "rwxrwxrwx";

	for (int i = 0; i < 9; i++)
		s[i] = mode & (0400 >> i) ? rwx[i] : '-';
	if (mode & S_ISUID)
		s[2] = mode & S_IXUSR ? 's' : 'S';
	if (mode & S_ISGID)
		s[5] = mode & S_IXGRP ? 's' : 'S';
	if (mode & S_ISVTX)
		s[8] = mode & S_IXOTH ? 't' : 'T';
	s[9] = '\0';
}

struct xattr_print {
	FILE *out;
	const char *fp_name;
};

static int print_xattr(void *arg, const struct erofs_xattr_ref *x)
{
	struct xattr_print *p = arg;
	u8 digest[EROFS_SHA256_SIZE];

	fprintf(p->out, "  ");
	erofs_fputs_escaped(x->name, x->name_len, p->out);
	fprintf(p->out, "%s (%u bytes)", x->shared ? " [shared]" : "",
		x->value_len);
	if (p->fp_name && !strcmp(x->name, p->fp_name) &&
	    !erofs_fingerprint_parse(x->value, x->value_len, digest)) {
		fprintf(p->out, ": sha256 ");
		for (unsigned int i = 0; i < sizeof(digest); i++)
			fprintf(p->out, "%02x", digest[i]);
	}
	fprintf(p->out, "\n");
	return 0;
}

/* A metadata address: "byte N", or "byte N of the metabox". */
static const char *meta_addr(u64 pos, char *buf, size_t size)
{
	snprintf(buf, size, "byte %" PRIu64 "%s", (u64)(pos & ~EROFS_MBOX_ADDR),
		 pos & EROFS_MBOX_ADDR ? " of the metabox" : "");
	return buf;
}

int erofs_dump_inode(struct erofs_image *img, erofs_nid_t nid,
		     const char *path, FILE *out)
{
	char at[64];
	struct xattr_print xp = { out, img->ishare_name };
	struct erofs_rinode ri;
	char *found = NULL, mode[10];
	const char *why = "";
	u64 stored = 0;
	int ret;

	ret = read_inode(img, nid, &ri);
	if (ret)
		return ret;
	if (!path)
		path = found = path_of(img, nid);
	mode_string(ri.i.mode, mode);
	fprintf(out, "Path:        ");
	if (path)
		erofs_fputs_escaped(path, strlen(path), out);
	else
		fprintf(out, "(not reachable from the root)");
	fputc('\n', out);
	fprintf(out, "NID:         %" PRIu64 " (at %s)\n", nid,
		meta_addr(ri.iloc, at, sizeof(at)));
	fprintf(out, "Type:        %s\n", type_name(ri.i.mode));
	fprintf(out, "Mode:        %04o (%s)\n", ri.i.mode & 07777, mode);
	fprintf(out, "Inode:       %s, %u bytes\n",
		ri.i.version ? "extended" : "compact", ri.inode_isize);
	fprintf(out, "Layout:      %s (%u)\n",
		erofs_datalayout_name(ri.i.datalayout), ri.i.datalayout);
	fprintf(out, "Size:        %" PRIu64 "\n", ri.i.size);
	if (!erofs_data_physical_bytes(img, &ri, &stored, &why))
		fprintf(out, "Stored:      %" PRIu64 " bytes\n", stored);
	else
		fprintf(out, "Stored:      unknown (%s)\n", why);
	fprintf(out, "Links:       %u\n", ri.i.nlink);
	fprintf(out, "Owner:       uid %u, gid %u\n", ri.i.uid, ri.i.gid);
	fprintf(out, "Modified:    ");
	print_time(out, ri.i.mtime, ri.i.mtime_nsec, true);
	fprintf(out, " (%" PRId64 ".%09u)\n", ri.i.mtime, ri.i.mtime_nsec);
	switch (ri.i.mode & S_IFMT) {
	case S_IFCHR:
	case S_IFBLK:
		fprintf(out, "Device:      %u:%u\n", erofs_dev_major(ri.i.i_u),
			erofs_dev_minor(ri.i.i_u));
		break;
	case S_IFREG:
	case S_IFDIR:
	case S_IFLNK:
		if ((ri.i.datalayout == EROFS_INODE_FLAT_PLAIN ||
		     ri.i.datalayout == EROFS_INODE_FLAT_INLINE) &&
		    ri.i.size > ri.tail_len)
			fprintf(out, "Start block: %" PRIu64 "%s\n", ri.startblk,
				ri.null_startblk ? " (none: all hole)" : "");
		if (ri.tail_len)
			fprintf(out, "Inline tail: %u bytes at %s\n",
				ri.tail_len,
				meta_addr(ri.tail_pos, at, sizeof(at)));
		if (ri.i.datalayout == EROFS_INODE_CHUNK_BASED)
			fprintf(out, "Chunks:      %" PRIu64 " of %llu bytes, %u-byte %s at %s\n",
				ri.nchunks, 1ULL << ri.chunkbits, ri.chunk_unit,
				ri.chunk_unit == 4 ? "block map" : "indexes",
				meta_addr(ri.chunk_pos, at, sizeof(at)));
		break;
	}
	if (S_ISLNK(ri.i.mode) && ri.i.size &&
	    ri.i.size <= EROFS_SYMLINK_MAXLEN && erofs_data_readable(&ri)) {
		char target[EROFS_SYMLINK_MAXLEN + 1];

		if (!erofs_read_data(img, &ri, target, ri.i.size, 0, &why)) {
			fprintf(out, "Target:      ");
			erofs_fputs_escaped(target, ri.i.size, out);
			fputc('\n', out);
		}
	}
	fprintf(out, "Xattrs:      %u bytes inline area\n", ri.xattr_isize);
	ret = erofs_xattr_foreach(img, &ri, print_xattr, &xp, &why);
	free(found);
	if (ret < 0)
		return erofs_fail(ret, "nid %llu: xattrs: %s",
				  (unsigned long long)nid, why);
	return 0;
}

/* How a compressed extent is stored, for -e. */
static const char *zfmt_name(unsigned int fmt)
{
	switch (fmt) {
	case Z_EROFS_COMPRESSION_LZ4:
		return "lz4";
	case Z_EROFS_COMPRESSION_LZMA:
		return "lzma";
	case Z_EROFS_COMPRESSION_DEFLATE:
		return "deflate";
	case Z_EROFS_COMPRESSION_ZSTD:
		return "zstd";
	case EROFS_ZFMT_SHIFTED:
		return "uncompressed";
	case EROFS_ZFMT_INTERLACED:
		return "uncompressed, interlaced";
	default:
		return "?";
	}
}

int erofs_dump_extents(struct erofs_image *img, erofs_nid_t nid, FILE *out)
{
	static const char *const kinds[] = {
		[EROFS_MAP_HOLE] = "hole",
		[EROFS_MAP_MAPPED] = "data",
		[EROFS_MAP_INLINE] = "inline",
		[EROFS_MAP_ENCODED] = "cluster",
	};
	struct erofs_rinode ri;
	const char *why = "";
	u64 pos = 0, n = 0;
	int ret = read_inode(img, nid, &ri);

	if (ret)
		return ret;
	if (!S_ISREG(ri.i.mode) && !S_ISDIR(ri.i.mode) && !S_ISLNK(ri.i.mode))
		return erofs_fail(-EINVAL, "nid %llu: %s has no data",
				  (unsigned long long)nid, type_name(ri.i.mode));
	fprintf(out, "%5s  %-26s %12s  %-26s %s\n", "ext", "logical range",
		"length", img->nr_devices ? "device bytes" : "image bytes",
		"kind");
	while (pos < ri.i.size) {
		struct erofs_map m;
		char lr[64], pr[64];

		ret = erofs_map_data(img, &ri, pos, &m, &why);
		if (ret)
			return erofs_fail(ret, "nid %llu: offset %" PRIu64 ": %s",
					  (unsigned long long)nid, pos, why);
		snprintf(lr, sizeof(lr), "%" PRIu64 "..%" PRIu64, m.la,
			 m.la + m.llen);
		if (m.kind == EROFS_MAP_HOLE)
			snprintf(pr, sizeof(pr), "-");
		else if (m.kind == EROFS_MAP_ENCODED &&
			 m.zwhere == EROFS_ZX_FRAGMENT)
			snprintf(pr, sizeof(pr), "packed inode +%" PRIu64, m.pa);
		else if (m.kind == EROFS_MAP_ENCODED)
			snprintf(pr, sizeof(pr), "%" PRIu64 "..%" PRIu64, m.pa,
				 m.pa + m.plen);
		else
			snprintf(pr, sizeof(pr), "%" PRIu64 "..%" PRIu64, m.pa,
				 m.pa + m.llen);
		fprintf(out, "%5" PRIu64 "  %-26s %12" PRIu64 "  %-26s %s", n,
			lr, m.llen, pr, kinds[m.kind]);
		if (m.kind == EROFS_MAP_ENCODED)
			fprintf(out, " (%s%s)", zfmt_name(m.zfmt),
				m.zwhere == EROFS_ZX_INLINE ? ", inline" :
				m.zwhere == EROFS_ZX_FRAGMENT ? ", fragment" :
								"");
		/* as erofs-utils marks extents on extra devices */
		if (m.kind == EROFS_MAP_MAPPED && m.dev)
			fprintf(out, "  # device %u", m.dev);
		fputc('\n', out);
		pos = m.la + m.llen;
		n++;
	}
	fprintf(out, "%" PRIu64 " extents\n", n);
	return 0;
}

int erofs_dump_ls(struct erofs_image *img, erofs_nid_t nid, FILE *out)
{
	struct erofs_dir_cursor c;
	struct erofs_rdirent d;
	struct erofs_rinode ri;
	const char *why = "";
	int ret = read_inode(img, nid, &ri);

	if (ret)
		return ret;
	if (!S_ISDIR(ri.i.mode))
		return erofs_fail(-ENOTDIR, "nid %llu: not a directory",
				  (unsigned long long)nid);
	ret = erofs_dir_open(&c, img, &ri);
	if (ret)
		return ret;
	fprintf(out, "%20s %4s  %s\n", "NID", "TYPE", "NAME");
	while ((ret = erofs_dir_next(&c, &d, &why)) > 0) {
		fprintf(out, "%20" PRIu64 " %4u  ", d.nid, d.file_type);
		erofs_fputs_escaped(d.name, d.name_len, out);
		fputc('\n', out);
	}
	erofs_dir_close(&c);
	if (ret < 0)
		return erofs_fail(ret, "nid %llu: %s", (unsigned long long)nid,
				  why);
	return 0;
}

int erofs_dump_cat(struct erofs_image *img, erofs_nid_t nid, int fd)
{
	struct erofs_rinode ri;
	const char *why = "";
	size_t bufsz = 1 << 20;
	u64 pos = 0;
	u8 *buf;
	int ret = read_inode(img, nid, &ri);

	if (ret)
		return ret;
	if (!S_ISREG(ri.i.mode) && !S_ISLNK(ri.i.mode))
		return erofs_fail(-EINVAL, "nid %llu: %s has no content to show",
				  (unsigned long long)nid, type_name(ri.i.mode));
	if (!erofs_data_readable(&ri))
		return erofs_fail(-EOPNOTSUPP,
				  "nid %llu: data layout %u, which this reader does not know",
				  (unsigned long long)nid, ri.i.datalayout);
	buf = malloc(bufsz);
	if (!buf)
		return -ENOMEM;
	while (pos < ri.i.size) {
		size_t n = min_t(u64, bufsz, ri.i.size - pos);
		u8 *p = buf;

		ret = erofs_read_data(img, &ri, buf, n, pos, &why);
		if (ret) {
			free(buf);
			return erofs_fail(ret, "nid %llu: offset %" PRIu64 ": %s",
					  (unsigned long long)nid, pos, why);
		}
		pos += n;
		while (n) {
			ssize_t w = write(fd, p, n);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				ret = w < 0 ? -errno : -EIO;
				free(buf);
				return erofs_fail(ret, "write: %s",
						  strerror(-ret));
			}
			p += w;
			n -= w;
		}
	}
	free(buf);
	return 0;
}
