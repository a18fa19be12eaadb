/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tar source: fill the in-memory tree from a tar archive (ustar, GNU, PAX;
 * plain or gzip/xz/zstd/... compressed, detected by magic), file data
 * spooled to an unlinked file beside the image.
 *
 * Rules the reader applies (documented here because they are choices):
 * - Paths are normalised lexically: leading '/' and "./", empty and "."
 *   components are dropped, "a/../b" becomes "b". A ".." that would climb
 *   above the root is an error naming the entry. Names are never resolved
 *   through symlinks: an entry below a non-directory ("a/etc/x" after the
 *   symlink "a -> /") is an error naming both.
 * - A later entry for an existing path replaces it; when both are
 *   directories the directory keeps its children and takes the new
 *   metadata (mode, owner, times, xattrs).
 * - Directories the archive does not list get mode 0755, owner 0:0 and the
 *   build time as mtime (so a fixed -T makes them reproducible).
 * - Hardlinks name an earlier entry; a link to a missing path or to a
 *   directory is an error.
 * - With aufs set, ".wh.NAME" becomes an overlayfs whiteout (character
 *   device 0/0 named NAME) and ".wh..wh..opq" makes its directory opaque
 *   (trusted.overlay.opaque=y); other ".wh..wh.*" names are aufs' own
 *   metadata and are skipped with everything below them. With ovlfs_strip
 *   the markers are dropped instead.
 * - An archive must end with the end-of-archive marker (two zero blocks):
 *   a stream cut at an entry boundary is reported as truncated.
 */
#ifndef EROFS_TAR_H
#define EROFS_TAR_H

#include "erofs/io.h"
#include "erofs/source.h"

struct erofs_tar_opts {
	/* xattr table, whether to keep xattrs, exclusion rules */
	const struct erofs_source_opts *source;
	/* the image being built: the spool file is created in its directory */
	const char *image_path;
	/* mtime of directories the archive implies but does not list */
	s64 dir_mtime;
	u32 dir_mtime_nsec;
	bool aufs; /* --aufs: translate aufs whiteouts to overlayfs ones */
	bool ovlfs_strip; /* --ovlfs-strip: drop whiteouts and opaque markers */
	/* --ungzip=FILE / --unxz=FILE: copy the decompressed stream here */
	const char *dump_path;
	/*
	 * --tar=i: file data stays in the tar stream, the image's extra
	 * device 1 (EROFS_DATA_EXTERNAL at the data's 512-byte block); sparse
	 * entries, whose data the stream does not hold in one run, are
	 * spooled and stored in the image instead.
	 */
	bool index;
	bool fingerprints; /* index: hash each file's data as it streams by */
	/*
	 * --sort=none: file data goes straight into the image "place_out",
	 * in archive order, from block "place_start" on, in blocks of
	 * 2^blkszbits bytes (EROFS_DATA_PLACED); sparse entries are spooled.
	 */
	struct erofs_output *place_out;
	erofs_blk_t place_start;
	unsigned int blkszbits;
	/* rvsp: file data is skipped, its space only reserved in the image */
	bool reserve;
	/*
	 * --tar=headerball: the stream holds no regular file data; files
	 * get their sizes, and read as zeroes (holes) in the image
	 */
	bool headerball;
};

/* What reading the archive found out besides the tree. */
struct erofs_tar_info {
	/* stream offset after the last entry's data and padding */
	u64 end;
	erofs_blk_t place_end; /* --sort=none: the block after placed data */
};

/* Whether this build can read tar archives (libarchive was available). */
bool erofs_tar_supported(void);

/*
 * Read the archive "tarball" ("-" or NULL: standard input) into the empty
 * "tree". Regular file data goes to tree->spool_fd (EROFS_DATA_SPOOL).
 * On failure the message names the entry and the byte offset.
 */
int erofs_source_tar_read(struct erofs_tree *tree, const char *tarball,
			  const struct erofs_tar_opts *opts,
			  struct erofs_tar_info *info);

#endif
