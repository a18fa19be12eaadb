/* SPDX-License-Identifier: GPL-2.0-or-later */
/* liberofs: the public API of the erofs-share library (liberofs(3)). */
#ifndef LIBEROFS_H
#define LIBEROFS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Introduction
 *
 * liberofs reads EROFS images and computes what the erofs-share tools
 * compute for page cache sharing (the kernel's mount options
 * inode_share,domain_id=NAME):
 *   - the SHA-256 content fingerprint of a file, descriptor or buffer, as
 *     the xattr "mkfs.erofs --ishare" stores for each regular file;
 *   - images opened read-only (with their extra devices), their trees
 *     walked, files' data and xattrs read;
 *   - the fingerprints in an image verified against the files' content;
 *   - the share report of "dump.erofs --share-report" for N images, as a
 *     structure and as the exact JSON "dump.erofs --share-report --json"
 *     prints.
 *
 * Errors: every function that can fail returns 0 or a negative errno
 * (-ENOMEM, -EINVAL, -ENOENT, -EIO, -EUCLEAN for a damaged image,
 * -EOPNOTSUPP for an image or build lacking a feature, ...). Calls on an
 * image handle leave a message naming the path and the reason, read with
 * liberofs_errmsg(); calls without a handle take "char **errmsg": when it
 * is not NULL and the call fails, *errmsg is set to a message the caller
 * releases with free() (or NULL when there was no memory for it), and to
 * NULL on success. Nothing is printed, nothing exits, and no error state
 * is shared between calls or threads.
 *
 * Thread safety: functions without a handle may run on any number of
 * threads at once. Distinct handles may be used on distinct threads at
 * once. One liberofs_image may serve reads (liberofs_walk, liberofs_lookup,
 * liberofs_stat, liberofs_read, liberofs_listxattr, liberofs_getxattr,
 * liberofs_verify) on several threads at once; its message
 * (liberofs_errmsg) is then that of whichever of them failed last: give
 * each thread its own handle when each failure's message matters.
 * liberofs_close() must not overlap any other call on its handle.
 * A liberofs_share_report is read-only after it is made and may be read
 * from any number of threads.
 *
 * Paths inside an image are absolute ("/" is the root, "/etc/passwd"),
 * symlinks are not followed. Inodes are named by their nid, the number the
 * image's directories refer to them by.
 */

/* Version of this library, as major * 10000 + minor * 100 + patch. */
#define LIBEROFS_VERSION_MAJOR 0
#define LIBEROFS_VERSION_MINOR 1
#define LIBEROFS_VERSION_PATCH 0
#define LIBEROFS_VERSION_NUMBER                                          \
	(LIBEROFS_VERSION_MAJOR * 10000 + LIBEROFS_VERSION_MINOR * 100 + \
	 LIBEROFS_VERSION_PATCH)

/*
 * liberofs_version_number() - the version of the library in use
 *
 * Return: LIBEROFS_VERSION_NUMBER of the library linked at run time, to
 * compare with the one compiled against. Thread-safe.
 */
unsigned int liberofs_version_number(void);

/*
 * liberofs_version_string() - the version of the library in use
 *
 * Return: a static string such as "0.1.0". Thread-safe.
 */
const char *liberofs_version_string(void);

/*
 * Fingerprints
 *
 * The fingerprint of a file is the SHA-256 of its whole content (holes
 * read as zeros). mkfs.erofs --ishare stores it in an xattr of each
 * regular file with data; its value is the 7 bytes "sha256:" followed by
 * the 32 raw digest bytes (39 bytes, not text). The xattr is named
 * "trusted.erofs.fingerprint" unless --ishare=NAME chose another name; an
 * image names it in its superblock (liberofs_fingerprint_name()).
 */
#define LIBEROFS_DIGEST_SIZE 32
#define LIBEROFS_FINGERPRINT_VALUE_SIZE 39
#define LIBEROFS_FINGERPRINT_DEFAULT_NAME "trusted.erofs.fingerprint"

struct liberofs_fingerprint {
	uint8_t digest[LIBEROFS_DIGEST_SIZE]; /* SHA-256 of the content */
	/* the xattr value mkfs.erofs --ishare stores: "sha256:" + digest */
	uint8_t value[LIBEROFS_FINGERPRINT_VALUE_SIZE];
	size_t value_len; /* LIBEROFS_FINGERPRINT_VALUE_SIZE */
	/* LIBEROFS_FINGERPRINT_DEFAULT_NAME, the xattr's default name */
	const char *name;
	uint64_t size; /* bytes of content hashed */
};

/*
 * liberofs_fingerprint_buffer() - fingerprint "len" bytes at "buf"
 * @buf: the content (may be NULL when len is 0)
 * @len: its length
 * @fp: filled in on success
 * @errmsg: NULL, or where a message goes on failure (free() it)
 *
 * Return: 0, -EINVAL for a NULL argument, -EOPNOTSUPP when the library
 * was built without OpenSSL libcrypto, -ENOMEM. Thread-safe.
 */
int liberofs_fingerprint_buffer(const void *buf, size_t len,
				struct liberofs_fingerprint *fp, char **errmsg);

/*
 * liberofs_fingerprint_fd() - fingerprint the content of an open file
 * @fd: a regular file open for reading; it is read from offset 0 to its
 *	end with pread(), so its file offset does not change
 * @fp: filled in on success
 * @errmsg: NULL, or where a message goes on failure (free() it)
 *
 * Return: 0, -EINVAL when fd is not a regular file, the -errno of a
 * failed read, -EOPNOTSUPP without libcrypto, -ENOMEM. Thread-safe.
 */
int liberofs_fingerprint_fd(int fd, struct liberofs_fingerprint *fp,
			    char **errmsg);

/*
 * liberofs_fingerprint_path() - fingerprint the content of a file
 * @path: a regular file (symlinks are followed, as open() does)
 * @fp: filled in on success
 * @errmsg: NULL, or where a message naming path goes on failure
 *
 * Return: as liberofs_fingerprint_fd(), plus the -errno of open().
 * Thread-safe.
 */
int liberofs_fingerprint_path(const char *path, struct liberofs_fingerprint *fp,
			      char **errmsg);

/*
 * Images
 */
typedef struct liberofs_image liberofs_image;

struct liberofs_open_options {
	/*
	 * Files holding the image's extra devices (blob devices, the layers
	 * of a merged image, the tar files of a tar index), in the order of
	 * its device table, as dump.erofs --device=FILE takes them; 0: none,
	 * the devices are read from the image file itself.
	 */
	const char *const *devices;
	unsigned int nr_devices;
	uint64_t offset; /* bytes before the image in the file */
	int no_sbcrc;	 /* non-zero: do not check the superblock checksum */
};

/*
 * liberofs_open() - open an image for reading
 * @img: set to the new handle on success, NULL on failure
 * @path: the image file or block device
 * @opts: NULL for defaults (no extra devices, offset 0)
 * @errmsg: NULL, or where a message goes on failure (free() it)
 *
 * The superblock, its checksum, the device table and the xattr prefix
 * table are checked; an image with features this reader lacks is refused
 * naming them. Release the handle with liberofs_close().
 *
 * Return: 0; -ENOENT, -EACCES and such from open(); -EUCLEAN for a
 * damaged image; -EOPNOTSUPP for features this reader lacks; -EINVAL for
 * a number of device files that is not the image's or an offset past its
 * end; -ENOMEM. Thread-safe.
 */
int liberofs_open(liberofs_image **img, const char *path,
		  const struct liberofs_open_options *opts, char **errmsg);

/*
 * liberofs_close() - release an image handle
 * @img: a handle from liberofs_open(), or NULL
 *
 * Must not overlap any other call on the same handle.
 */
void liberofs_close(liberofs_image *img);

/*
 * liberofs_errmsg() - the message of the latest failed call on a handle
 * @img: a handle
 *
 * Return: the message of the latest call on img that failed, on any
 * thread; "" when none failed. The string belongs to the library and
 * stays valid on this thread until its next liberofs_errmsg() call (it is
 * a copy: failures on other threads do not change it). Thread-safe.
 */
const char *liberofs_errmsg(const liberofs_image *img);

/*
 * liberofs_fingerprint_name() - the full name of an image's fingerprint
 * xattr
 * @img: a handle
 *
 * Return: a string owned by the handle, such as
 * "trusted.erofs.fingerprint", or NULL when the image is not share-ready
 * (built without --ishare). Thread-safe.
 */
const char *liberofs_fingerprint_name(const liberofs_image *img);

/* What liberofs_walk() and liberofs_stat() tell about an inode. */
struct liberofs_entry {
	const char *path; /* absolute path in the image, "/" for the root */
	uint64_t nid;
	uint32_t mode; /* file type and permissions, as st_mode */
	uint64_t size; /* bytes of content (a symlink: its target's length) */
	uint32_t nlink, uid, gid;
	int64_t mtime; /* seconds after the epoch */
	uint32_t mtime_nsec;
	/* non-zero when this inode was reached by an earlier name */
	int hardlink;
};

/*
 * liberofs_walk_fn - called by liberofs_walk() for each name in the tree
 * @arg: the walk's "arg"
 * @e: the entry; its strings are valid only during the call
 *
 * Return: 0 to go on; anything else stops the walk, which returns it.
 */
typedef int (*liberofs_walk_fn)(void *arg, const struct liberofs_entry *e);

/*
 * liberofs_walk() - visit every name in an image's tree
 * @img: a handle
 * @fn: called for each name, parents before their children, the root
 *	first; each directory's entries in the order the image stores them
 *	(sorted by name)
 * @arg: passed to fn
 *
 * A damaged part (a directory that cannot be read, a loop, a wrong link
 * count) is left out and the walk goes on where it safely can; the walk
 * then returns the first problem's error with a message naming its path.
 *
 * Return: 0 after the whole tree; fn's non-zero return; -EUCLEAN for
 * damage (-EOPNOTSUPP for a part this reader cannot read, -EIO); -ENOMEM.
 * May run on several threads at once on one handle.
 */
int liberofs_walk(liberofs_image *img, liberofs_walk_fn fn, void *arg);

/*
 * liberofs_lookup() - the nid of a path in an image
 * @img: a handle
 * @path: an absolute path ("/" is the root); symlinks are not followed
 * @nid: set on success
 *
 * Return: 0; -ENOENT; -ENOTDIR when a component before the last is not a
 * directory; -EUCLEAN for damage on the way.
 */
int liberofs_lookup(liberofs_image *img, const char *path, uint64_t *nid);

/*
 * liberofs_stat() - what an inode is
 * @img: a handle
 * @nid: the inode
 * @e: filled in; e->path is NULL (an inode may have several names) and
 *	e->hardlink 0
 *
 * Return: 0; -EUCLEAN when nid names no valid inode.
 */
int liberofs_stat(liberofs_image *img, uint64_t nid, struct liberofs_entry *e);

/*
 * liberofs_read() - read a file's content
 * @img: a handle
 * @nid: a regular file or a symlink (its target)
 * @buf: where the bytes go
 * @len: bytes wanted
 * @offset: where in the content to start
 * @done: set to the bytes read: fewer than len only at the end of the
 *	content (0 at or past it)
 *
 * Holes read as zeros; compressed content is decoded.
 *
 * Return: 0; -EISDIR for a directory; -EINVAL for a device, fifo or
 * socket; -EUCLEAN for damaged data; -EOPNOTSUPP for a compression this
 * build lacks; -EIO.
 */
int liberofs_read(liberofs_image *img, uint64_t nid, void *buf, size_t len,
		  uint64_t offset, size_t *done);

/*
 * liberofs_xattr_fn - called by liberofs_listxattr() for each xattr
 * @arg: the call's "arg"
 * @name: the full name, such as "user.comment"; names of no standard
 *	namespace (a fingerprint named "erofs.fingerprint.v1") come as
 *	they are stored
 * @value: its value (bytes, not necessarily text), valid during the call
 * @value_len: its length
 *
 * Return: 0 to go on; anything else stops the listing, which returns it.
 */
typedef int (*liberofs_xattr_fn)(void *arg, const char *name, const void *value,
				 size_t value_len);

/*
 * liberofs_listxattr() - every xattr of an inode
 * @img: a handle
 * @nid: the inode
 * @fn: called for each xattr, in the order stored (inline ones first)
 * @arg: passed to fn
 *
 * Return: 0; fn's non-zero return; -EUCLEAN for damaged xattrs.
 */
int liberofs_listxattr(liberofs_image *img, uint64_t nid, liberofs_xattr_fn fn,
		       void *arg);

/*
 * liberofs_getxattr() - the value of one xattr of an inode
 * @img: a handle
 * @nid: the inode
 * @name: its full name (the first xattr of that name counts, as the
 *	kernel's getxattr)
 * @buf: where the value goes (may be NULL when size is 0)
 * @size: room at buf
 * @value_len: set to the value's length, also with -ERANGE
 *
 * Return: 0; -ENODATA when the inode has no such xattr; -ERANGE when the
 * value is longer than size (buf then holds its first size bytes);
 * -EUCLEAN for damage.
 */
int liberofs_getxattr(liberofs_image *img, uint64_t nid, const char *name,
		      void *buf, size_t size, size_t *value_len);

/* The outcome of liberofs_verify(). */
struct liberofs_verify_result {
	uint64_t files;		  /* regular files with content looked at */
	uint64_t matched;	  /* whose fingerprint matches their content */
	uint64_t mismatched;	  /* whose fingerprint does not */
	uint64_t unfingerprinted; /* without a fingerprint of the sha256 kind */
	/*
	 * The path of the first file whose fingerprint does not match or
	 * whose content could not be read, NULL when none; the caller
	 * releases it with free().
	 */
	char *first_failure;
};

/*
 * liberofs_verify() - check fingerprints against the content
 * @img: a handle
 * @path: one file, or NULL or "/" for every regular file in the image
 * @res: filled in, also on failure when the walk went through
 *
 * Reads the whole content of each file and compares its SHA-256 with the
 * fingerprint xattr the image names. Files without one are counted, not
 * failed (in an image that is not share-ready, every file). An image
 * whose files fail to read is counted as mismatched and named.
 *
 * Return: 0 when every fingerprint looked at matches; -EBADMSG when one
 * does not (or its content could not be read), with a message naming the
 * first such file; -EOPNOTSUPP without libcrypto; -ENOENT, -EUCLEAN as
 * liberofs_lookup() and liberofs_walk(); -ENOMEM.
 */
int liberofs_verify(liberofs_image *img, const char *path,
		    struct liberofs_verify_result *res);

/*
 * Share reports
 *
 * What page cache sharing saves when the given images are mounted with
 * inode_share in one domain, and what they already share on storage: the
 * report of dump.erofs --share-report. See dump.erofs(1) for what each
 * figure means; the JSON's members are named as the fields below.
 */
typedef struct liberofs_share_report liberofs_share_report;

/* One input of a share report. */
struct liberofs_share_input {
	const char *path; /* an image (or a manifest of dump.erofs
			   * --fingerprints standing for one) */
	/* its extra devices, as for liberofs_open() */
	const char *const *devices;
	unsigned int nr_devices;
};

struct liberofs_share_options {
	uint32_t page_size; /* page cache granularity; 0: 4096 */
	/* shared contents to list, by bytes saved; dump.erofs's default: 10 */
	unsigned int top;
	/*
	 * Non-zero: read every file's data, check each fingerprint against
	 * the content and match files without one by their content (as
	 * dump.erofs --verify).
	 */
	int verify;
};

/* Figures per image; bytes are page cache bytes unless said otherwise. */
struct liberofs_share_image {
	const char *name;	      /* the input's path */
	const char *fingerprint_name; /* NULL: the image is not share-ready */
	uint64_t files;		      /* regular file inodes */
	uint64_t links;		      /* names of regular files */
	uint64_t bytes;		      /* sum of their sizes */
	uint64_t page_bytes;	      /* held without sharing */
	uint64_t added_bytes; /* held with sharing, images in the order given */
	uint64_t shareable_bytes; /* of page_bytes, what shares a copy */
	uint64_t fingerprinted; /* non-empty files with a usable fingerprint */
	uint64_t nofp_files, nofp_bytes; /* non-empty files without one */
	uint64_t compressed_files;
	uint64_t dirs, dir_bytes;
	uint64_t verified, mismatched, unverified;
	uint64_t storage_bytes;	       /* image and extra device bytes used */
	uint64_t storage_shared_bytes; /* of them, also used by another */
};

/* The report's totals. */
struct liberofs_share_totals {
	uint32_t page_size;
	unsigned int nr_images;
	const struct liberofs_share_image *images; /* nr_images of them */
	uint64_t files;		  /* regular file inodes over all images */
	uint64_t total_bytes;	  /* sum of their sizes */
	uint64_t noshare_bytes;	  /* page cache without sharing */
	uint64_t shared_bytes;	  /* page cache with sharing */
	uint64_t saving_bytes;	  /* noshare_bytes - shared_bytes */
	double saving_percent;	  /* of noshare_bytes */
	uint64_t shared_contents; /* copies held for two inodes or more */
	uint64_t dir_bytes;
	uint64_t size_conflict_files, size_conflict_bytes;
	uint64_t class_conflict_files, class_conflict_bytes;
	uint64_t nofp_files, nofp_bytes;	 /* in share-ready images */
	uint64_t notready_files, notready_bytes; /* in images that are not */
	/* with sharing, if every image were rebuilt with fingerprints */
	uint64_t rebuild_shared_bytes;
	uint64_t verified, mismatched, unverified;
	uint64_t left_damaged, left_over_bound; /* left out of the figures */
	uint64_t storage_referenced_bytes; /* images' storage_bytes summed */
	uint64_t storage_bytes;		   /* counting common bytes once */
	uint64_t storage_shared_bytes;	   /* used by two images or more */
};

/*
 * liberofs_share_report_new() - the share report of N images
 * @report: set to the new report on success, NULL on failure
 * @inputs: the images, in order (the same one may be given twice)
 * @n: how many; at least 2
 * @opts: NULL for dump.erofs's defaults (page size 4096, top 10, no
 *	verify)
 * @errmsg: NULL, or where a message goes on failure (free() it)
 *
 * The images are read one after the other, as dump.erofs --share-report
 * reads them, with the same figures as a result. Release the report with
 * liberofs_share_report_free().
 *
 * Return: 0; -EINVAL for fewer than 2 inputs; the errors of
 * liberofs_open() for an image that cannot be opened, -EUCLEAN for one
 * whose tree cannot be walked; -ENOMEM. A report whose figures show
 * mismatched fingerprints or parts left out is still made (0): look at
 * its totals. Thread-safe.
 */
int liberofs_share_report_new(liberofs_share_report **report,
			      const struct liberofs_share_input *inputs,
			      unsigned int n,
			      const struct liberofs_share_options *opts,
			      char **errmsg);

/*
 * liberofs_share_report_totals() - the figures of a report
 * @report: a report
 *
 * Return: the totals and per-image figures, owned by the report.
 */
const struct liberofs_share_totals *
liberofs_share_report_totals(const liberofs_share_report *report);

/*
 * liberofs_share_report_json() - the report as JSON
 * @report: a report
 * @len: NULL, or set to the length of the text
 *
 * Return: the exact text dump.erofs --share-report --json prints for the
 * same images and options (one JSON object and a newline), owned by the
 * report and NUL-terminated.
 */
const char *liberofs_share_report_json(const liberofs_share_report *report,
				       size_t *len);

/*
 * liberofs_share_report_text() - the report for people
 * @report: a report
 * @len: NULL, or set to the length of the text
 *
 * Return: the exact text dump.erofs --share-report prints, owned by the
 * report.
 */
const char *liberofs_share_report_text(const liberofs_share_report *report,
				       size_t *len);

/*
 * liberofs_share_report_free() - release a report
 * @report: a report, or NULL
 */
void liberofs_share_report_free(liberofs_share_report *report);

#ifdef __cplusplus
}
#endif

#endif
