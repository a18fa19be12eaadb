// SPDX-License-Identifier: GPL-2.0-or-later
/* mkfs.erofs: parse options, then scan, override, label and build. */
#include <getopt.h>
#include <sys/stat.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "erofs/budget.h"
#include "erofs/build.h"
#include "erofs/compress.h"
#include "erofs/error.h"
#include "erofs/fingerprint.h"
#include "erofs/format.h"
#include "erofs/incremental.h"
#include "erofs/merge.h"
#include "erofs/ovlfs.h"
#include "erofs/source.h"
#include "erofs/tar.h"
#include "erofs/version.h"
#include "erofs/vmdk.h"

enum {
	OPT_EXCLUDE_PATH = 256,
	OPT_EXCLUDE_REGEX,
	OPT_FILE_CONTEXTS,
	OPT_FORCE_UID,
	OPT_FORCE_GID,
	OPT_ALL_ROOT,
	OPT_QUIET,
	OPT_IGNORE_MTIME,
	OPT_PRESERVE_MTIME,
	OPT_UID_OFFSET,
	OPT_GID_OFFSET,
	OPT_MOUNT_POINT,
	OPT_MKFS_TIME,
	OPT_ALL_TIME,
	OPT_XATTR_PREFIX,
	OPT_ISHARE,
	OPT_WORKERS,
	OPT_TAR,
	OPT_AUFS,
	OPT_OVLFS_STRIP,
	OPT_UNGZIP,
	OPT_UNXZ,
	OPT_MAX_EXTENT_BYTES,
	OPT_COMPRESS_HINTS,
	OPT_NO_FSYNC,
	OPT_HARD_DEREFERENCE,
	OPT_ROOT_XATTR_ISIZE,
	OPT_OFFSET,
	OPT_FSALIGNBLKS,
	OPT_ASYNC_QUEUE_LIMIT,
	OPT_ZFEATURE_BITS,
	OPT_S3,
	OPT_OCI,
	OPT_GZINFO,
	OPT_CHUNKSIZE,
	OPT_BLOBDEV,
	OPT_DSUNIT,
	OPT_SORT,
	OPT_CLEAN,
	OPT_INCREMENTAL,
	OPT_ISHARE_HOLES,
	OPT_VMDK_DESC,
	OPT_ZD,
	OPT_MZ,
};

static const struct option long_options[] = {
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ "exclude-path", required_argument, NULL, OPT_EXCLUDE_PATH },
	{ "exclude-regex", required_argument, NULL, OPT_EXCLUDE_REGEX },
	{ "file-contexts", required_argument, NULL, OPT_FILE_CONTEXTS },
	{ "force-uid", required_argument, NULL, OPT_FORCE_UID },
	{ "force-gid", required_argument, NULL, OPT_FORCE_GID },
	{ "all-root", no_argument, NULL, OPT_ALL_ROOT },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "ignore-mtime", no_argument, NULL, OPT_IGNORE_MTIME },
	{ "preserve-mtime", no_argument, NULL, OPT_PRESERVE_MTIME },
	{ "uid-offset", required_argument, NULL, OPT_UID_OFFSET },
	{ "gid-offset", required_argument, NULL, OPT_GID_OFFSET },
	{ "mount-point", required_argument, NULL, OPT_MOUNT_POINT },
	{ "mkfs-time", no_argument, NULL, OPT_MKFS_TIME },
	{ "all-time", no_argument, NULL, OPT_ALL_TIME },
	{ "xattr-prefix", required_argument, NULL, OPT_XATTR_PREFIX },
	{ "ishare", optional_argument, NULL, OPT_ISHARE },
	{ "xattr-inode-digest", optional_argument, NULL, OPT_ISHARE },
	{ "workers", required_argument, NULL, OPT_WORKERS },
	{ "tar", optional_argument, NULL, OPT_TAR },
	{ "aufs", no_argument, NULL, OPT_AUFS },
	{ "ovlfs-strip", optional_argument, NULL, OPT_OVLFS_STRIP },
	{ "ungzip", optional_argument, NULL, OPT_UNGZIP },
	{ "gzip", no_argument, NULL, OPT_UNGZIP },
	{ "unxz", optional_argument, NULL, OPT_UNXZ },
	{ "unlzma", optional_argument, NULL, OPT_UNXZ },
	{ "max-extent-bytes", required_argument, NULL, OPT_MAX_EXTENT_BYTES },
	{ "compress-hints", required_argument, NULL, OPT_COMPRESS_HINTS },
	{ "no-fsync", no_argument, NULL, OPT_NO_FSYNC },
	{ "hard-dereference", no_argument, NULL, OPT_HARD_DEREFERENCE },
	{ "root-xattr-isize", required_argument, NULL, OPT_ROOT_XATTR_ISIZE },
	{ "offset", required_argument, NULL, OPT_OFFSET },
	{ "fsalignblks", required_argument, NULL, OPT_FSALIGNBLKS },
	{ "async-queue-limit", required_argument, NULL, OPT_ASYNC_QUEUE_LIMIT },
	{ "zfeature-bits", required_argument, NULL, OPT_ZFEATURE_BITS },
	/* refused: see refuse_network() */
	{ "s3", required_argument, NULL, OPT_S3 },
	{ "oci", optional_argument, NULL, OPT_OCI },
	{ "gzinfo", optional_argument, NULL, OPT_GZINFO },
	{ "chunksize", required_argument, NULL, OPT_CHUNKSIZE },
	{ "blobdev", required_argument, NULL, OPT_BLOBDEV },
	{ "dsunit", required_argument, NULL, OPT_DSUNIT },
	{ "sort", required_argument, NULL, OPT_SORT },
	{ "clean", optional_argument, NULL, OPT_CLEAN },
	{ "incremental", optional_argument, NULL, OPT_INCREMENTAL },
	{ "ishare-holes", required_argument, NULL, OPT_ISHARE_HOLES },
	{ "vmdk-desc", required_argument, NULL, OPT_VMDK_DESC },
	{ "zD", optional_argument, NULL, OPT_ZD },
	{ "MZ", optional_argument, NULL, OPT_MZ },
	{ NULL, 0, NULL, 0 },
};

struct mkfs_config {
	struct erofs_build_opts build;
	struct erofs_overrides overrides;
	struct erofs_source_opts source;
	struct erofs_exclude *exclude;
	struct erofs_xattr_table xattrs;
	const char *image;
	const char *source_path;
	const char *file_contexts;
	char *mount_point; /* "/" and the path, without trailing '/' */
	const char *ishare_name;
	struct erofs_compress_opts compress;
	const char *compress_hints;
	bool quiet;
	bool timestamp_given;
	bool mkfs_time_only;
	bool ignore_mtime;
	bool tar; /* --tar: SOURCE is a tarball */
	struct erofs_tar_opts tar_opts;
	struct erofs_build_device tar_device; /* --tar=i: the tar itself */
	bool sort_none; /* --sort=none */
	/* rebuild mode: SOURCEs that are images, merged as layers */
	const char *const *layers;
	unsigned int nlayers;
	struct erofs_merge *merge;
	enum erofs_merge_data merge_data;
	bool clean_given;
	struct erofs_incr *incr; /* --incremental: the image appended to */
	bool incremental;
	bool reserve; /* rvsp: data space reserved, not written */
	bool uuid_given;
	const char *vmdk_desc;
	const char *metabox; /* -m's argument */
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: mkfs.erofs [OPTIONS] IMAGE SOURCE\n"
		"       mkfs.erofs --tar=f [OPTIONS] IMAGE [TARBALL]\n"
		"       mkfs.erofs [OPTIONS] IMAGE LAYER.erofs...  (merge, bottom first)\n"
		"Build an EROFS image IMAGE from the directory SOURCE, or from the\n"
		"tar archive TARBALL (standard input if '-' or absent).\n"
		"\n"
		" -b#                    block size: 512, 1024, 2048 or 4096 (default 4096)\n"
		" -C#                    physical cluster size in bytes for compression\n"
		"                        (a multiple of the block size; default one block)\n"
		" -d#                    message level, 0 (quiet) to 9 (debug)\n"
		" -E[^]X[=V][,...]       extended options, '^' turns one off:\n"
		"    48bit               48-bit block addresses (Linux 6.15+)\n"
		"    all-fragments[=#]   whole files into the packed inode (# its\n"
		"                        physical cluster size)\n"
		"    dedupe              identical compressed files share their clusters\n"
		"    dot-omitted         no \".\" directory entries (implies 48bit)\n"
		"    force-inode-compact every inode compact (implies --ignore-mtime)\n"
		"    force-inode-extended every inode extended\n"
		"    force-inode-blockmap, force-chunk-indexes\n"
		"                        chunk map form of chunk-based files\n"
		"    fragdedupe[=inode|full]  which fragments may share bytes\n"
		"    fragments[=#]       file tails into the packed inode\n"
		"    ^inline_data, noinline_data\n"
		"                        no inline tails for uncompressed files\n"
		"    legacy-compress     full lcluster indexes\n"
		"    nosbcrc             no superblock checksum\n"
		"    plain-xattr-prefixes  long xattr prefixes stored plainly\n"
		"    xattr-name-filter   xattr name Bloom filters (default on)\n"
		"    ztailpacking        inline the last compressed cluster\n"
		" -L LABEL               volume label (at most 15 bytes)\n"
		" -m#[:X]                compress metadata: inodes go into a metabox stored\n"
		"                        in #-byte physical clusters (X: its algorithm, a\n"
		"                        compressor or a -z index; implies 48bit)\n"
		" -T#                    fixed UNIX time: build time and, by default, every file's mtime\n"
		" -U UUID                filesystem UUID ('random' or 'clear' allowed)\n"
		" -x#                    share xattr pairs used by more than # inodes; -1 drops xattrs\n"
		" -zX[,level=Y][,dictsize=Z][:...]\n"
		"                        compress with X (lz4, lz4hc, lzma, zstd, deflate);\n"
		"                        alternatives after ':' are chosen per file by\n"
		"                        --compress-hints\n"
		" --blobdev=FILE         store chunk data in the extra device FILE\n"
		" --chunksize=#          chunk-based files with #-byte chunks (a power of\n"
		"                        two, at least the block size), each distinct chunk\n"
		"                        stored once, zero chunks as holes\n"
		" --compress-hints=FILE  per-path physical cluster size and algorithm\n"
		" --clean[=data|rvsp]    merging images: copy their data into IMAGE (data),\n"
		"                        or only reserve space for it (rvsp); without it\n"
		"                        the data stays in the images, IMAGE's devices\n"
		" --dsunit=#             start each file's chunks on a multiple of # blocks\n"
		" --incremental[=data|rvsp]\n"
		"                        add SOURCE (a directory or, with --tar=f, a tar)\n"
		"                        on top of the existing IMAGE; rvsp reserves the\n"
		"                        tar's file data instead of writing it\n"
		" --sort=<path|none>     tar data order: by path (default) or as in the\n"
		"                        archive (with -E^inline_data, no -z: written\n"
		"                        straight into the image)\n"
		" --max-extent-bytes=#   largest uncompressed extent in bytes\n"
		" --zD[=<0|1>]           compress directories: 1 (or none) puts each into\n"
		"                        the packed inode, 0 does not (default)\n"
		" --MZ[=<0|[id]>]        keep inode metadata (i) and directory data (d)\n"
		"                        together in a metadata zone (none: both)\n"
		" --all-root             make every file owned by root\n"
		" --all-time             apply -T to every file (default)\n"
		" --async-queue-limit=#  compression jobs in flight at most (default 1024)\n"
		" --exclude-path=PATH    leave out PATH (relative to SOURCE)\n"
		" --exclude-regex=RE     leave out paths matching RE\n"
		" --file-contexts=FILE   set SELinux labels from a file contexts FILE\n"
		" --force-uid=#          set every file's uid to #\n"
		" --force-gid=#          set every file's gid to #\n"
		" --fsalignblks=#        round the image size up to a multiple of # blocks\n"
		" --uid-offset=#         add # to every uid\n"
		" --gid-offset=#         add # to every gid\n"
		" --hard-dereference     every name of a hardlinked file becomes its own inode\n"
		" --ignore-mtime         use the build time instead of per-file mtimes\n"
		" --ishare[=NAME]        record SHA-256 content fingerprints for page cache\n"
		"                        sharing in xattr NAME (default " EROFS_ISHARE_DEFAULT_NAME ")\n"
		" --xattr-inode-digest[=NAME]  the same, as erofs-utils spells it\n"
		" --ishare-holes=#       hash at most # bytes of holes for fingerprints\n"
		"                        per build (default 16 GiB); files past it get none\n"
		" --mkfs-time            apply -T to the build time only\n"
		" --mount-point=PATH     prefix of in-image paths for --file-contexts\n"
		" --no-fsync             do not sync the image before renaming it into place\n"
		" --offset=#             write the image # bytes into IMAGE\n"
		" --preserve-mtime       keep per-file mtimes (default)\n"
		" --quiet                print nothing but errors\n"
		" --root-xattr-isize=#   room for at least # bytes of xattrs in the root inode\n"
		" --workers=#            data threads (default: available processors)\n"
		" --xattr-prefix=PREFIX  store xattr names starting with PREFIX compactly\n"
		" --zfeature-bits=#      set -E features by bits: legacy-compress, ztailpacking,\n"
		"                        fragments, all-fragments, dedupe, fragdedupe, 48bit,\n"
		"                        dot-omitted (bit 0 to 7)\n"
		" --vmdk-desc=FILE       merging images: write a VMDK descriptor joining\n"
		"                        IMAGE and its devices into one disk\n"
		" --tar=f                SOURCE is a tar archive, plain or compressed\n"
		" --tar=i                index only: file data stays in the tar, which\n"
		"                        becomes the image's extra device (512-byte blocks)\n"
		" --tar=headerball       the tar holds no file data: files read as zeroes\n"
		" --aufs                 turn aufs whiteouts (.wh.*) into overlayfs ones\n"
		" --ovlfs-strip[=<0|1>]  drop overlayfs whiteouts and opaque markers\n"
		" --ungzip[=FILE], --gzip, --unxz[=FILE], --unlzma[=FILE]\n"
		"                        accepted for erofs-utils; FILE receives the\n"
		"                        decompressed tar stream\n"
		" --s3, --oci, --gzinfo  refused: they need the network or write SOCI\n"
		"                        zinfo (see mkfs.erofs(1) for offline ways)\n"
		" -V, --version          print the version and exit\n"
		" -h, --help             print this help and exit\n");
}

static int parse_u64(const char *s, u64 max, u64 *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || v > max || *s == '-')
		return -EINVAL;
	*out = v;
	return 0;
}

static int bad_value(const char *opt, const char *val)
{
	return erofs_fail(-EINVAL, "invalid %s value '%s'", opt, val);
}

/*
 * -E features that take part in --zfeature-bits, in bit order; each gets
 * whether it is on and its value (NULL: none given).
 */
static int feat_legacy(struct mkfs_config *c, bool on, const char *v)
{
	c->compress.legacy = on;
	return v ? -EINVAL : 0;
}

static int feat_ztailpacking(struct mkfs_config *c, bool on, const char *v)
{
	c->compress.ztailpacking = on;
	return v ? -EINVAL : 0;
}

static int feat_fragments(struct mkfs_config *c, bool on, const char *v)
{
	u64 size;

	c->compress.fragments = on;
	if (!v)
		return 0;
	/* the packed inode's physical cluster size; checked with -b */
	if (!on || parse_u64(v, Z_EROFS_PCLUSTER_MAX_SIZE, &size) || !size)
		return -EINVAL;
	c->compress.packed_pclustersize = size;
	return 0;
}

static int feat_all_fragments(struct mkfs_config *c, bool on, const char *v)
{
	c->compress.all_fragments = on;
	return feat_fragments(c, on, v);
}

static int feat_dedupe(struct mkfs_config *c, bool on, const char *v)
{
	c->compress.dedupe = on;
	c->build.no_chunk_dedupe = !on;
	return v ? -EINVAL : 0;
}

static int feat_fragdedupe(struct mkfs_config *c, bool on, const char *v)
{
	if (!on)
		c->compress.fragdedupe = EROFS_FRAGDEDUPE_OFF;
	else if (v && !strcmp(v, "inode"))
		c->compress.fragdedupe = EROFS_FRAGDEDUPE_INODE;
	else if (!v || !strcmp(v, "full"))
		c->compress.fragdedupe = EROFS_FRAGDEDUPE_FULL;
	else
		return -EINVAL;
	return on || !v ? 0 : -EINVAL;
}

static int feat_48bit(struct mkfs_config *c, bool on, const char *v)
{
	c->build.layout_48bit = on;
	return v ? -EINVAL : 0;
}

static int feat_dot_omitted(struct mkfs_config *c, bool on, const char *v)
{
	c->build.dot_omitted = on;
	return v ? -EINVAL : 0;
}

static int feat_force_compact(struct mkfs_config *c, bool on, const char *v)
{
	if (on) {
		c->build.force_inode = EROFS_FORCE_INODE_COMPACT;
		/* as erofs-utils: until a later --preserve-mtime */
		c->ignore_mtime = true;
	} else if (c->build.force_inode == EROFS_FORCE_INODE_COMPACT) {
		c->build.force_inode = EROFS_FORCE_INODE_AUTO;
	}
	return v ? -EINVAL : 0;
}

static int feat_force_extended(struct mkfs_config *c, bool on, const char *v)
{
	if (on)
		c->build.force_inode = EROFS_FORCE_INODE_EXTENDED;
	else if (c->build.force_inode == EROFS_FORCE_INODE_EXTENDED)
		c->build.force_inode = EROFS_FORCE_INODE_AUTO;
	return v ? -EINVAL : 0;
}

static int feat_blockmap(struct mkfs_config *c, bool on, const char *v)
{
	c->build.force_inode_blockmap = on;
	if (on)
		c->build.force_chunk_indexes = false;
	return v ? -EINVAL : 0;
}

static int feat_chunk_indexes(struct mkfs_config *c, bool on, const char *v)
{
	c->build.force_chunk_indexes = on;
	if (on)
		c->build.force_inode_blockmap = false;
	return v ? -EINVAL : 0;
}

static int feat_inline_data(struct mkfs_config *c, bool on, const char *v)
{
	c->build.no_datainline = !on;
	return v ? -EINVAL : 0;
}

static int feat_noinline_data(struct mkfs_config *c, bool on, const char *v)
{
	return feat_inline_data(c, !on, v);
}

static int feat_nosbcrc(struct mkfs_config *c, bool on, const char *v)
{
	c->build.no_sbcrc = on;
	return v ? -EINVAL : 0;
}

static int feat_plain_prefixes(struct mkfs_config *c, bool on, const char *v)
{
	c->build.prefix_table = on ? EROFS_PREFIX_TABLE_PLAIN :
				     EROFS_PREFIX_TABLE_PACKED;
	return v ? -EINVAL : 0;
}

static int feat_name_filter(struct mkfs_config *c, bool on, const char *v)
{
	c->xattrs.name_filter = on;
	return v ? -EINVAL : 0;
}

typedef int (*feat_fn)(struct mkfs_config *c, bool on, const char *v);

static const struct {
	const char *name;
	feat_fn set;
} features[] = {
	/* --zfeature-bits order: bit 0 first */
	{ "legacy-compress", feat_legacy },
	{ "ztailpacking", feat_ztailpacking },
	{ "fragments", feat_fragments },
	{ "all-fragments", feat_all_fragments },
	{ "dedupe", feat_dedupe },
	{ "fragdedupe", feat_fragdedupe },
	{ "48bit", feat_48bit },
	{ "dot-omitted", feat_dot_omitted },
	/* the rest */
	{ "force-inode-compact", feat_force_compact },
	{ "force-inode-extended", feat_force_extended },
	{ "force-inode-blockmap", feat_blockmap },
	{ "force-chunk-indexes", feat_chunk_indexes },
	{ "inline_data", feat_inline_data },
	{ "noinline_data", feat_noinline_data },
	{ "nosbcrc", feat_nosbcrc },
	{ "plain-xattr-prefixes", feat_plain_prefixes },
	{ "xattr-name-filter", feat_name_filter },
};
#define NR_ZFEATURE_BITS 8

/* -E: comma-separated features, "^name" turns one off, "name=value" */
static int parse_extended(struct mkfs_config *c, const char *arg)
{
	const char *p = arg;

	do {
		size_t len = strcspn(p, ","), klen;
		const char *k = p, *eq;
		char val[64];
		bool on = true;
		size_t i;
		int ret;

		if (*k == '^') {
			on = false;
			k++;
		}
		eq = memchr(k, '=', p + len - k);
		klen = eq ? (size_t)(eq - k) : (size_t)(p + len - k);
		for (i = 0; i < ARRAY_SIZE(features); i++)
			if (klen == strlen(features[i].name) &&
			    !memcmp(k, features[i].name, klen))
				break;
		if (i == ARRAY_SIZE(features))
			return erofs_fail(-EINVAL,
					  "unknown extended option '%.*s'",
					  (int)len, p);
		if (eq) {
			size_t vlen = p + len - eq - 1;

			if (!vlen || vlen >= sizeof(val))
				return erofs_fail(-EINVAL,
						  "invalid value in extended option '%.*s'",
						  (int)len, p);
			memcpy(val, eq + 1, vlen);
			val[vlen] = '\0';
		}
		ret = features[i].set(c, on, eq ? val : NULL);
		if (ret)
			return erofs_fail(ret,
					  "extended option '%.*s': %s",
					  (int)len, p,
					  eq ? "invalid value" :
					       "needs a value");
		p += len;
	} while (*p++ == ',');
	return 0;
}

/* --zfeature-bits: bit i turns feature i on or off, up to the top bit set */
static int parse_zfeature_bits(struct mkfs_config *c, const char *arg)
{
	u64 bits;

	if (parse_u64(arg, UINT64_MAX, &bits))
		return bad_value("--zfeature-bits", arg);
	for (unsigned int i = 0; bits; i++, bits >>= 1) {
		if (i >= NR_ZFEATURE_BITS)
			return erofs_fail(-EINVAL,
					  "--zfeature-bits=%s: no feature for bit %u (bits 0 to %u)",
					  arg, i, NR_ZFEATURE_BITS - 1);
		features[i].set(c, bits & 1, NULL);
	}
	return 0;
}

/*
 * Options of erofs-utils this toolchain refuses: the build machines have
 * no network, and AWS SOCI zinfo is not written.
 */
static int refuse_network(int opt)
{
	switch (opt) {
	case OPT_S3:
		return erofs_fail(-EOPNOTSUPP,
				  "--s3 is not supported: it downloads objects over the network, which these builds do not use; download the objects (e.g. with 'aws s3 sync') into a directory and build from that directory, or pack them into a tarball for --tar=f");
	case OPT_OCI:
		return erofs_fail(-EOPNOTSUPP,
				  "--oci is not supported: it pulls the image from a registry over the network, which these builds do not use; download the layer blob (e.g. with 'skopeo copy' or 'oras blob fetch') and build with --tar=f LAYER.tar[.gz|.zst]");
	default:
		return erofs_fail(-EOPNOTSUPP,
				  "--gzinfo is not supported: this mkfs.erofs does not write AWS SOCI zinfo for random gzip access; build a full image with --tar=f instead");
	}
}

static void print_version(void)
{
	bool first = true;

	erofs_print_interface_version(stdout, "mkfs.erofs");
	printf("available compressors: ");
	for (unsigned int k = 0; k < EROFS_COMPRESSOR_NR; k++) {
		if (!erofs_compressor_available(k))
			continue;
		printf("%s%s", first ? "" : ", ", erofs_compressor_name(k));
		first = false;
	}
	printf("\n");
	erofs_print_project_version(stdout);
}

/*
 * --mount-point: with or without the leading '/' (Android passes
 * "system"), labels are looked up under "/" + the path.
 */
static int set_mount_point(struct mkfs_config *c, const char *arg)
{
	size_t len;

	while (*arg == '/')
		arg++;
	len = strlen(arg);
	while (len && arg[len - 1] == '/')
		len--;
	free(c->mount_point);
	c->mount_point = NULL;
	if (!len)
		return 0;
	c->mount_point = malloc(len + 2);
	if (!c->mount_point)
		return -ENOMEM;
	c->mount_point[0] = '/';
	memcpy(c->mount_point + 1, arg, len);
	c->mount_point[len + 1] = '\0';
	return 0;
}

/*
 * A directory, a tar archive, or images to merge (rebuild mode: any
 * SOURCE that is not a directory, and every SOURCE after the first).
 */
static int settle_sources(struct mkfs_config *c, const char *const *srcs,
			  unsigned int n)
{
	struct stat st;
	unsigned int blkszbits;
	int ret;

	if (c->tar)
		return 0;
	if (n == 1 && (stat(srcs[0], &st) || S_ISDIR(st.st_mode))) {
		if ((c->clean_given && !c->incremental) || c->vmdk_desc)
			return erofs_fail(-EINVAL,
					  "--clean and --vmdk-desc need images to merge as SOURCE");
		if (c->reserve)
			return erofs_fail(-EINVAL,
					  "--incremental=rvsp takes a tar (--tar=f), not a directory");
		return 0; /* a directory (or a missing one, reported later) */
	}
	if (c->incremental)
		return erofs_fail(-EOPNOTSUPP,
				  "--incremental appends a directory or a tar, not merged images");
	c->layers = srcs;
	c->nlayers = n;
	ret = erofs_merge_open(&c->merge, srcs, n, &blkszbits);
	if (ret && n == 1 && !S_ISDIR(st.st_mode) && erofs_last_error()) {
		/* most likely a mistake, not an image: say both */
		char *why = strdup(erofs_last_error());

		erofs_clear_error();
		erofs_fail(ret, "%s: not a directory, nor an image to merge (%s)",
			   srcs[0], why ? why : strerror(-ret));
		free(why);
	}
	if (ret)
		return ret;
	/* the layers' block size, whatever -b said */
	c->build.blkszbits = blkszbits;
	if (c->build.blobdev || c->build.chunkbits)
		return erofs_fail(-EINVAL,
				  "merging images takes neither --blobdev nor --chunksize");
	if (c->vmdk_desc && c->merge_data != EROFS_MERGE_BLOB_INDEX)
		return erofs_fail(-EINVAL,
				  "--vmdk-desc describes the devices of a merged image: it does not go with --clean");
	return 0;
}

/*
 * --MZ: which metadata is kept in the metadata zone, 'i' (inodes) and 'd'
 * (directory data); none given means both, "0" neither. Inode records
 * always have an area of their own here, so only 'd' changes the image.
 */
static int parse_metazone(struct mkfs_config *c, const char *arg)
{
	bool inodes = !arg, dirs = !arg;

	if (arg && !strcmp(arg, "0")) {
		c->build.dirs_in_metazone = false;
		return 0;
	}
	for (const char *p = arg; p && *p; p++) {
		if (*p == 'i')
			inodes = true;
		else if (*p == 'd')
			dirs = true;
		else
			return erofs_fail(-EINVAL, "invalid metazone flags `%s`",
					  arg);
	}
	if (dirs && !inodes)
		return erofs_fail(-EINVAL,
				  "inode metadata must be in the metadata zone if directory data is stored there");
	c->build.dirs_in_metazone = dirs;
	return 0;
}

/*
 * -m#[:ALG]: the metabox's physical cluster size, checked against the
 * block size as erofs-utils does (but it may pass -C), and its algorithm:
 * an index into -z's list, or a compressor added to it (without -z the
 * files are then compressed with it too, as erofs-utils does). Without
 * either and without -z the metabox is stored uncompressed.
 */
static int settle_metabox(struct mkfs_config *c)
{
	u32 blksz = 1U << c->build.blkszbits;
	char num[32], *colon, *end;
	unsigned int index = 0;
	u64 size;
	int ret;

	if (!c->metabox)
		return 0;
	colon = strchr(c->metabox, ':');
	snprintf(num, sizeof(num), "%.*s",
		 colon ? (int)(colon - c->metabox) : (int)strlen(c->metabox),
		 c->metabox);
	if (parse_u64(num, UINT64_MAX, &size) || !size)
		return erofs_fail(-EINVAL, "invalid metabox option %s", num);
	if (size < blksz || size % blksz || size > Z_EROFS_PCLUSTER_MAX_SIZE)
		return erofs_fail(-EINVAL,
				  "invalid pcluster size %llu for the metabox inode",
				  (unsigned long long)size);
	if (colon && colon[1] >= '0' && colon[1] <= '9') {
		unsigned long v = strtoul(colon + 1, &end, 0);

		if (*end)
			return erofs_fail(-EINVAL, "invalid metabox option %s",
					  c->metabox);
		if (v >= c->compress.nalgs)
			return erofs_fail(-EINVAL,
					  "-m%s: there is no compression algorithm %lu (-z gives %u)",
					  c->metabox, v, c->compress.nalgs);
		index = v;
	} else if (colon && colon[1]) {
		ret = erofs_compress_add_alg(&c->compress, colon + 1, &index);
		if (ret)
			return ret;
	}
	c->build.metabox = true;
	c->compress.metabox_pclustersize = size;
	c->compress.metabox_alg = index;
	return 0;
}

/* --chunksize, --blobdev and their company, as erofs-utils checks them. */
static int check_chunk_options(struct mkfs_config *c)
{
	struct erofs_build_opts *o = &c->build;

	if (o->chunkbits && o->chunkbits < o->blkszbits)
		return erofs_fail(-EINVAL,
				  "chunksize %llu must be larger than block size",
				  1ULL << o->chunkbits);
	if (o->chunkbits > o->blkszbits + EROFS_CHUNK_FORMAT_BLKBITS_MASK)
		return erofs_fail(-EINVAL,
				  "chunksize %llu is larger than 2^31 blocks",
				  1ULL << o->chunkbits);
	if (o->blobdev && !o->chunkbits)
		return erofs_fail(-EINVAL,
				  "--blobdev must be used together with --chunksize");
	if (o->blobdev && o->force_inode_blockmap)
		return erofs_fail(-EINVAL,
				  "--blobdev cannot work with block map currently");
	if (o->blobdev && !strcmp(o->blobdev, c->image))
		return erofs_fail(-EINVAL, "--blobdev %s: that is the image",
				  o->blobdev);
	if (o->chunkbits && o->dsunit > 1 &&
	    (1ULL << (o->chunkbits - o->blkszbits)) < o->dsunit)
		erofs_warn("chunksize %llu bytes is smaller than dsunit %u blocks, ignore dsunit !",
			   1ULL << o->chunkbits, o->dsunit);
	return 0;
}

static int parse_args(struct mkfs_config *c, int argc, char **argv)
{
	int opt, ret;
	u64 v;

	while ((opt = getopt_long(argc, argv, "b:C:d:E:hL:m:T:U:Vx:z:",
				  long_options,
				  NULL)) != -1) {
		switch (opt) {
		case 'b':
			if (parse_u64(optarg, EROFS_MAX_BLKSZ, &v) ||
			    v < (1U << EROFS_MIN_BLKSZBITS) || (v & (v - 1)))
				return bad_value("block size", optarg);
			c->build.blkszbits = __builtin_ctzll(v);
			break;
		case 'C':
			if (parse_u64(optarg, Z_EROFS_PCLUSTER_MAX_SIZE, &v) ||
			    !v)
				return bad_value("physical cluster size", optarg);
			c->compress.pclustersize = v;
			break;
		case 'E':
			ret = parse_extended(c, optarg);
			if (ret)
				return ret;
			break;
		case 'z':
			ret = erofs_compress_parse_algs(&c->compress, optarg);
			if (ret)
				return ret;
			break;
		case 'm':
			c->metabox = optarg;
			break;
		case OPT_ZD:
			if (optarg && strcmp(optarg, "0") && strcmp(optarg, "1"))
				return bad_value("--zD", optarg);
			c->build.compress_dirs = !optarg || !strcmp(optarg, "1");
			break;
		case OPT_MZ:
			ret = parse_metazone(c, optarg);
			if (ret)
				return ret;
			break;
		case OPT_MAX_EXTENT_BYTES:
			if (parse_u64(optarg, UINT32_MAX, &v))
				return bad_value("--max-extent-bytes", optarg);
			c->compress.max_extent_bytes = v;
			break;
		case OPT_COMPRESS_HINTS:
			c->compress_hints = optarg;
			break;
		case 'd':
			if (parse_u64(optarg, 9, &v))
				return bad_value("-d", optarg);
			erofs_msg_level = v;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'L':
			if (strlen(optarg) > 15)
				return erofs_fail(-EINVAL,
						  "volume label '%s' longer than 15 bytes",
						  optarg);
			strncpy(c->build.volume_name, optarg,
				sizeof(c->build.volume_name) - 1);
			break;
		case 'T':
			if (parse_u64(optarg, INT64_MAX, &v))
				return bad_value("-T", optarg);
			c->build.build_time = v;
			c->timestamp_given = true;
			break;
		case 'U':
			if (!strcmp(optarg, "clear"))
				memset(c->build.uuid, 0, 16);
			else if (!strcmp(optarg, "random"))
				uuid_generate(c->build.uuid);
			else if (uuid_parse(optarg, c->build.uuid))
				return bad_value("UUID", optarg);
			c->uuid_given = true;
			break;
		case 'V':
			print_version();
			exit(0);
		case 'x': {
			char *end;
			long t = strtol(optarg, &end, 0);

			if (*end || end == optarg)
				return bad_value("-x", optarg);
			c->xattrs.tolerance = t;
			c->xattrs.tolerance_set = true;
			break;
		}
		case OPT_EXCLUDE_PATH:
			ret = erofs_exclude_add_path(&c->exclude, optarg);
			if (ret)
				return ret;
			break;
		case OPT_EXCLUDE_REGEX:
			ret = erofs_exclude_add_regex(&c->exclude, optarg);
			if (ret)
				return ret;
			break;
		case OPT_FILE_CONTEXTS:
			c->file_contexts = optarg;
			break;
		case OPT_FORCE_UID:
			if (parse_u64(optarg, UINT32_MAX, &v))
				return bad_value("--force-uid", optarg);
			c->overrides.force_uid = v;
			break;
		case OPT_FORCE_GID:
			if (parse_u64(optarg, UINT32_MAX, &v))
				return bad_value("--force-gid", optarg);
			c->overrides.force_gid = v;
			break;
		case OPT_ALL_ROOT:
			c->overrides.all_root = true;
			break;
		case OPT_QUIET:
			c->quiet = true;
			erofs_msg_level = EROFS_MSG_ERR;
			break;
		case OPT_IGNORE_MTIME:
			c->ignore_mtime = true;
			break;
		case OPT_PRESERVE_MTIME:
			c->ignore_mtime = false;
			break;
		case OPT_UID_OFFSET:
			if (parse_u64(optarg, UINT32_MAX, &v))
				return bad_value("--uid-offset", optarg);
			c->overrides.uid_offset = v;
			break;
		case OPT_GID_OFFSET:
			if (parse_u64(optarg, UINT32_MAX, &v))
				return bad_value("--gid-offset", optarg);
			c->overrides.gid_offset = v;
			break;
		case OPT_MOUNT_POINT:
			ret = set_mount_point(c, optarg);
			if (ret)
				return ret;
			break;
		case OPT_MKFS_TIME:
			c->mkfs_time_only = true;
			break;
		case OPT_ALL_TIME:
			c->mkfs_time_only = false;
			break;
		case OPT_XATTR_PREFIX:
			ret = erofs_xattr_add_long_prefix(&c->xattrs, optarg);
			if (ret < 0)
				return ret;
			break;
		case OPT_ISHARE:
			c->ishare_name = optarg ? optarg :
						  EROFS_ISHARE_DEFAULT_NAME;
			break;
		case OPT_WORKERS:
			if (parse_u64(optarg, 1024, &v) || !v)
				return bad_value("--workers", optarg);
			c->build.workers = v;
			break;
		case OPT_NO_FSYNC:
			c->build.no_fsync = true;
			break;
		case OPT_HARD_DEREFERENCE:
			c->source.hard_dereference = true;
			break;
		case OPT_ROOT_XATTR_ISIZE:
			if (parse_u64(optarg, UINT16_MAX * 4U, &v))
				return bad_value("--root-xattr-isize", optarg);
			c->build.root_xattr_isize = v;
			break;
		case OPT_OFFSET:
			if (parse_u64(optarg, INT64_MAX / 2, &v))
				return bad_value("--offset", optarg);
			c->build.offset = v;
			break;
		case OPT_FSALIGNBLKS:
			if (parse_u64(optarg, 1U << 31, &v))
				return bad_value("--fsalignblks", optarg);
			c->build.fsalignblks = v;
			break;
		case OPT_ASYNC_QUEUE_LIMIT:
			if (parse_u64(optarg, 1U << 20, &v))
				return bad_value("--async-queue-limit", optarg);
			c->build.async_queue_limit = v;
			break;
		case OPT_ZFEATURE_BITS:
			ret = parse_zfeature_bits(c, optarg);
			if (ret)
				return ret;
			break;
		case OPT_S3:
		case OPT_OCI:
		case OPT_GZINFO:
			return refuse_network(opt);
		case OPT_CHUNKSIZE:
			if (parse_u64(optarg, 1ULL << 43, &v) || !v ||
			    (v & (v - 1)))
				return bad_value("--chunksize", optarg);
			c->build.chunkbits = __builtin_ctzll(v);
			break;
		case OPT_BLOBDEV:
			c->build.blobdev = optarg;
			break;
		case OPT_CLEAN:
		case OPT_INCREMENTAL:
			if (!optarg || !strcmp(optarg, "data"))
				c->merge_data = EROFS_MERGE_COPY;
			else if (!strcmp(optarg, "rvsp"))
				c->merge_data = EROFS_MERGE_RESERVE;
			else if (!strcmp(optarg, "0"))
				return erofs_fail(-EOPNOTSUPP,
						  "--%s=0 (zero-filled data) applies to --s3 sources only, which need the network",
						  opt == OPT_CLEAN ? "clean" :
								     "incremental");
			else
				return bad_value(opt == OPT_CLEAN ?
							 "--clean" :
							 "--incremental",
						 optarg);
			c->reserve = c->merge_data == EROFS_MERGE_RESERVE;
			c->incremental = opt == OPT_INCREMENTAL;
			c->clean_given = true;
			break;
		case OPT_ISHARE_HOLES:
			if (parse_u64(optarg, UINT64_MAX, &v))
				return bad_value("--ishare-holes", optarg);
			c->build.ishare_hole_limit = v;
			break;
		case OPT_VMDK_DESC:
			c->vmdk_desc = optarg;
			break;
		case OPT_SORT:
			if (strcmp(optarg, "path") && strcmp(optarg, "none"))
				return bad_value("--sort", optarg);
			c->sort_none = !strcmp(optarg, "none");
			break;
		case OPT_DSUNIT:
			if (parse_u64(optarg, UINT32_MAX, &v))
				return bad_value("--dsunit", optarg);
			c->build.dsunit = v;
			break;
		case OPT_TAR:
			if (optarg && !strcmp(optarg, "headerball"))
				c->tar_opts.headerball = true;
			else if (optarg && !strcmp(optarg, "i"))
				c->tar_opts.index = true;
			else if (optarg && strcmp(optarg, "f"))
				return bad_value("--tar", optarg);
			if (!erofs_tar_supported())
				return erofs_fail(-EOPNOTSUPP,
						  "--tar: built without libarchive");
			c->tar = true;
			break;
		case OPT_AUFS:
			c->tar_opts.aufs = true;
			break;
		case OPT_OVLFS_STRIP:
			if (optarg && strcmp(optarg, "0") && strcmp(optarg, "1"))
				return bad_value("--ovlfs-strip", optarg);
			c->tar_opts.ovlfs_strip = !optarg || !strcmp(optarg, "1");
			break;
		case OPT_UNGZIP:
		case OPT_UNXZ:
			/* the format is found from the data; FILE gets a copy */
			if (optarg)
				c->tar_opts.dump_path = optarg;
			break;
		default:
			/* getopt named the option */
			return erofs_fail(-EINVAL, "try 'mkfs.erofs --help' for more information");
		}
	}
	if (c->tar ? argc - optind < 1 || argc - optind > 2 :
		     argc - optind < 2)
		return erofs_fail(-EINVAL, c->tar ?
			"expected IMAGE [TARBALL]; try 'mkfs.erofs --help'" :
			"expected IMAGE and SOURCE; try 'mkfs.erofs --help'");
	c->image = argv[optind];
	c->source_path = optind + 1 < argc ? argv[optind + 1] : NULL;
	ret = settle_sources(c, (const char *const *)argv + optind + 1,
			     argc - optind - 1);
	if (ret)
		return ret;
	if (c->tar_opts.dump_path && !c->tar)
		return erofs_fail(-EINVAL, "--ungzip=FILE and --unxz=FILE need --tar");
	if (c->compress_hints && !c->compress.nalgs) {
		/* erofs-utils takes it and compresses nothing either */
		erofs_warn("--compress-hints=%s: nothing is compressed without -z",
			   c->compress_hints);
	} else if (c->compress_hints) {
		ret = erofs_compress_load_hints(&c->compress,
						c->compress_hints,
						1U << c->build.blkszbits);
		if (ret)
			return ret;
	}
	if (c->compress.packed_pclustersize &&
	    c->compress.packed_pclustersize % (1U << c->build.blkszbits))
		return erofs_fail(-EINVAL,
				  "-Efragments=%u: the packed inode's physical cluster size must be a multiple of the block size %u",
				  c->compress.packed_pclustersize,
				  1U << c->build.blkszbits);
	if (c->tar_opts.index) {
		/* tar data is 512-byte aligned: so are the blocks, whatever -b */
		c->build.blkszbits = 9;
		if (c->build.blobdev || c->build.chunkbits)
			return erofs_fail(-EINVAL,
					  "--tar=i keeps file data in the tar: it takes neither --blobdev nor --chunksize");
	}
	ret = settle_metabox(c);
	if (ret)
		return ret;
	if (c->compress.nalgs) {
		c->build.compress = &c->compress;
	} else if (c->compress.dedupe && !c->build.chunkbits &&
		   !c->tar_opts.index && !c->merge) {
		/* as erofs-utils does: blocks deduplicated as chunks */
		erofs_warn("Compression is not enabled.  Turn on chunk-based data deduplication instead.");
		c->build.chunkbits = c->build.blkszbits;
	}
	/* erofs-utils puts long prefixes in the packed inode with fragments */
	if (c->build.prefix_table == EROFS_PREFIX_TABLE_AUTO &&
	    (c->compress.fragments || c->compress.all_fragments))
		c->build.prefix_table = EROFS_PREFIX_TABLE_PACKED;
	return check_chunk_options(c);
}

/*
 * -T, SOURCE_DATE_EPOCH and the mtime options, as erofs-utils 1.9.4 reads
 * them: a set SOURCE_DATE_EPOCH wins over -T (dracut and Nix pass both)
 * and clamps newer mtimes to it, --all-time and --mkfs-time then change
 * nothing; -T alone sets every mtime unless --mkfs-time.
 */
static int settle_time(struct mkfs_config *c)
{
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	struct erofs_overrides *o = &c->overrides;

	if (sde) {
		u64 v;

		/* erofs-utils reads an empty value as 0 */
		if (*sde && parse_u64(sde, INT64_MAX, &v))
			return erofs_fail(-EINVAL,
					  "environment variable SOURCE_DATE_EPOCH '%s' is invalid",
					  sde);
		c->build.build_time = *sde ? v : 0;
		o->time_policy = EROFS_TIME_CLAMP;
	} else if (c->timestamp_given) {
		o->time_policy = c->mkfs_time_only ? EROFS_TIME_KEEP :
						     EROFS_TIME_FIXED;
	} else {
		c->build.build_time = time(NULL);
	}
	o->time = c->build.build_time;
	o->time_nsec = 0;
	c->build.build_time_nsec = 0;
	if (c->ignore_mtime) {
		/* times that would need extended inodes */
		if (erofs_build_48bit(&c->build)) {
			o->fit_compact = true;
			o->fit_epoch = erofs_build_epoch(&c->build);
		} else {
			o->time_policy = EROFS_TIME_FIXED;
		}
	}
	return 0;
}

/*
 * --incremental: the new layer follows the image it goes on, whose block
 * size, epoch, UUID (unless -U) and fingerprint name it takes.
 */
static int prepare_incremental(struct mkfs_config *c)
{
	const char *name;
	int ret;

	if (c->compress.nalgs || c->build.chunkbits || c->build.blobdev ||
	    c->tar_opts.index)
		return erofs_fail(-EOPNOTSUPP,
				  "--incremental appends uncompressed, unchunked data: it takes no -z, --chunksize, --blobdev or --tar=i");
	if (c->build.metabox || c->build.compress_dirs)
		return erofs_fail(-EOPNOTSUPP,
				  "--incremental appends plain metadata: it takes no -m or --zD");
	ret = erofs_incr_open(&c->incr, c->image);
	if (!ret)
		ret = erofs_incr_setup(c->incr, &c->build, &c->xattrs,
				       !c->uuid_given, &name);
	if (ret || !name)
		return ret;
	/* a share-ready image stays share-ready */
	if (c->ishare_name && strcmp(c->ishare_name, name))
		return erofs_fail(-EINVAL,
				  "%s records fingerprints as %s: the new files cannot use %s",
				  c->image, name, c->ishare_name);
	if (!c->ishare_name) {
		c->ishare_name = name;
		c->build.ishare = true;
		return erofs_xattr_set_ishare_name(&c->xattrs, name);
	}
	return 0;
}

static void cleanup_on_signal(int sig)
{
	erofs_output_unlink_temporaries();
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * --sort=none keeps the archive's data order: the tar reader writes file
 * data straight into the image, saving a copy through the spool. Like
 * erofs-utils, only for uncompressed images without inline tails.
 */
static bool places_tar_data(const struct mkfs_config *c)
{
	return c->tar && c->sort_none && c->build.no_datainline &&
	       !c->tar_opts.index && !c->compress.nalgs && !c->build.chunkbits;
}

/* The merged image, then each layer: the flat-device disk. */
static int write_vmdk_desc(struct mkfs_config *c)
{
	struct erofs_vmdk_extent *ext = calloc(c->nlayers + 1, sizeof(*ext));
	struct stat st;
	int ret;

	if (!ext)
		return -ENOMEM;
	if (stat(c->image, &st)) {
		free(ext);
		return erofs_fail(-errno, "%s: %s", c->image, strerror(errno));
	}
	ext[0] = (struct erofs_vmdk_extent){ c->image, st.st_size };
	for (unsigned int i = 0; i < c->nlayers; i++)
		ext[i + 1] = (struct erofs_vmdk_extent){
			c->layers[i], c->build.ext_devices[i].blocks
					      << c->build.blkszbits
		};
	ret = erofs_write_vmdk_desc(c->vmdk_desc, c->build.uuid, ext,
				    c->nlayers + 1);
	free(ext);
	return ret;
}

static int run(struct mkfs_config *c)
{
	struct erofs_output out = { .fd = -1 };
	struct erofs_tree tree;
	int ret;

	ret = erofs_tree_init(&tree);
	if (ret)
		return ret;
	c->source.xattrs = &c->xattrs;
	c->source.read_xattrs = !(c->xattrs.tolerance_set &&
				  c->xattrs.tolerance < 0);
	c->source.exclude = c->exclude;
	if (c->tar) {
		struct erofs_tar_info info = { 0 };

		c->tar_opts.source = &c->source;
		c->tar_opts.image_path = c->image;
		c->tar_opts.dir_mtime = c->build.build_time;
		c->tar_opts.dir_mtime_nsec = c->build.build_time_nsec;
		c->tar_opts.fingerprints = c->build.ishare;
		c->tar_opts.reserve = c->reserve;
		if (places_tar_data(c)) {
			ret = erofs_output_open(&out, c->image,
						!c->build.no_fsync,
						c->build.offset);
			if (ret)
				goto out;
			c->build.out = &out;
			c->tar_opts.place_out = &out;
			c->tar_opts.place_start =
				erofs_build_data_start(&c->build, &c->xattrs);
			c->tar_opts.blkszbits = c->build.blkszbits;
		}
		ret = erofs_source_tar_read(&tree, c->source_path, &c->tar_opts,
					    &info);
		c->build.placed_end = info.place_end;
		if (!ret && c->tar_opts.index) {
			/* the tar up to its last entry is device 1 */
			c->tar_device.blocks = DIV_ROUND_UP(
				info.end, 1U << c->build.blkszbits);
			c->build.ext_devices = &c->tar_device;
			c->build.ext_ndevices = 1;
		}
	} else if (c->merge) {
		struct erofs_merge_opts mo = {
			.source = &c->source,
			.data = c->merge_data,
			.fingerprints = c->build.ishare,
			.workers = c->build.workers,
		};

		ret = erofs_merge_read(c->merge, &tree, &mo,
				       &c->build.ext_devices,
				       &c->build.ext_ndevices);
	} else {
		ret = erofs_source_dir_scan(&tree, c->source_path, &c->source);
	}
	/* the old image's entries, before whiteouts go with --ovlfs-strip */
	if (!ret && c->incr)
		ret = erofs_incr_graft(c->incr, &tree, &c->xattrs, &c->build);
	if (!ret && c->tar_opts.ovlfs_strip)
		ret = erofs_ovlfs_strip(&tree, &c->xattrs);
	if (!ret)
		ret = erofs_apply_overrides(&tree, &c->overrides);
	if (!ret && c->file_contexts)
		ret = erofs_apply_file_contexts(&tree, &c->xattrs,
						c->file_contexts,
						c->mount_point);
	if (!ret)
		ret = erofs_build_image(&tree, &c->xattrs, &c->build, c->image);
	if (!ret && c->vmdk_desc)
		ret = write_vmdk_desc(c);
	if (!ret && !c->quiet) {
		char uuid[37];

		uuid_unparse(c->build.uuid, uuid);
		printf("%s: %llu inodes, UUID %s%s\n", c->image,
		       (unsigned long long)tree.nr_order, uuid,
		       c->build.ishare ? ", content fingerprints" : "");
	}
out:
	erofs_output_abort(&out);
	erofs_tree_free(&tree);
	return ret;
}

int main(int argc, char **argv)
{
	struct mkfs_config c = {
		.build = { .blkszbits = 12,
			   .ishare_hole_limit = EROFS_BUDGET_HOLE_HASH },
		.overrides = { .force_uid = -1, .force_gid = -1 },
	};
	int ret;

	erofs_progname = "mkfs.erofs";
	uuid_generate(c.build.uuid);
	ret = erofs_xattr_table_init(&c.xattrs);
	if (!ret)
		ret = parse_args(&c, argc, argv);
	if (!ret && c.ishare_name) {
		if (!erofs_sha256_available())
			ret = erofs_fail(-EOPNOTSUPP,
					 "--ishare: built without OpenSSL libcrypto");
		else
			ret = erofs_xattr_set_ishare_name(&c.xattrs,
							  c.ishare_name);
		c.build.ishare = true;
	}
	if (!ret)
		ret = settle_time(&c);
	if (!ret && c.incremental)
		ret = prepare_incremental(&c);
	if (!ret) {
		signal(SIGINT, cleanup_on_signal);
		signal(SIGTERM, cleanup_on_signal);
		signal(SIGHUP, cleanup_on_signal);
		ret = run(&c);
	}
	if (ret) {
		const char *msg = erofs_last_error();

		fprintf(stderr, "mkfs.erofs: %s\n",
			msg ? msg : strerror(-ret));
	}
	erofs_merge_close(c.merge);
	erofs_incr_close(c.incr);
	erofs_compress_opts_free(&c.compress);
	erofs_exclude_free(c.exclude);
	free(c.mount_point);
	erofs_xattr_table_free(&c.xattrs);
	return ret ? 1 : 0;
}
