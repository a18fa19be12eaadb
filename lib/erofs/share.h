/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Share reports: predict how much page cache Linux's EROFS page cache
 * sharing (mount options inode_share,domain_id=NAME) saves across a set of
 * images, and explain what does not share, from metadata and fingerprint
 * xattrs alone.
 *
 * The kernel's rules, modelled exactly: a regular file joins a shared page
 * cache copy when its image is share-ready (compat feature ishare_xattrs),
 * it carries the fingerprint xattr the image's superblock names (the first
 * entry with that full name, inline entries before shared ones) with a
 * value of 1..block size bytes, and the copy keyed by that value (plus the
 * domain, the same for the whole set) has the same i_size and the same
 * layout class (compressed or not). The first inode instantiated with a
 * value sets the size and class; images are taken in the order given and
 * each in directory order, as reading them all does. Everything else gets a
 * private copy.
 *
 * Counting follows the page cache: a file holds its size rounded up to
 * whole pages, each inode once however many hard links name it, empty
 * files nothing. Directories, which the kernel also caches, are counted
 * apart. Compressed files may make the kernel also cache compressed
 * blocks, and files with fragments the packed inode; that is not
 * modelled. Images with extra devices (blob devices, tar indexes, merged
 * layers) share by fingerprint like any other: where the data lies does
 * not matter to the kernel's sharing.
 *
 * Apart from the page cache, the report tells what the images already
 * share on storage: each image's primary device counts whole, its extra
 * devices by the byte ranges its files use, and bytes are common to two
 * images when they lie in the same ranges of the same device, known as the
 * same file (or the same place in one file) or by the same device tag.
 *
 * Two layers: an accumulator fed one file at a time (for any source, and
 * for tests), and erofs_share_scan_image(), which feeds it from an image
 * through the reader without touching file data unless "verify" is set.
 */
#ifndef EROFS_SHARE_H
#define EROFS_SHARE_H

#include <stdio.h>

#include "erofs/image.h"

#define EROFS_SHARE_PAGE_SIZE 4096

struct erofs_share_opts {
	u32 page_size;	  /* page cache granularity; 0: EROFS_SHARE_PAGE_SIZE */
	unsigned int top; /* shared contents to list, by bytes saved */
	/*
	 * Read file data: confirm each sha256 fingerprint against the content
	 * and key files without one by their content for the rebuild
	 * estimate.
	 */
	bool verify;
	/*
	 * Also read files without a usable fingerprint and give their
	 * content's SHA-256 (what dump.erofs --fingerprints records).
	 */
	bool hash_missing;
	/*
	 * Instead of the report (lib/share_matrix.c): the saving of every
	 * pair of images, and a grouping of the images onto "nodes" nodes
	 * or onto nodes of "node_memory" bytes of page cache.
	 */
	bool matrix;
	unsigned int nodes;
	u64 node_memory;
	/*
	 * Bounds on verify's work over the whole report (lib/budget.c):
	 * bytes of holes hashed, bytes of compressed data decoded; 0: the
	 * defaults (16 GiB; 1024 times the images' size, at least 1 GiB).
	 */
	u64 max_hole_hash, max_decompressed;
};

/* Why a non-empty regular file has no usable fingerprint. */
enum erofs_share_nofp {
	EROFS_SHARE_FP_OK,
	EROFS_SHARE_FP_NOT_READY,  /* the image is not share-ready */
	EROFS_SHARE_FP_ABSENT,	   /* no xattr with the fingerprint's name */
	EROFS_SHARE_FP_EMPTY,	   /* the value is empty */
	EROFS_SHARE_FP_TOO_LONG,   /* the value is longer than a block */
	EROFS_SHARE_FP_UNREADABLE, /* the xattrs are damaged */
	EROFS_SHARE_FP_NR
};

/* One regular file inode, as the accumulator takes it. */
struct erofs_share_file {
	const char *path; /* the first name it was reached by */
	u64 size;
	bool compressed; /* layout class */
	const u8 *fp;	 /* fingerprint value, NULL when none is usable */
	u32 fp_len;
	enum erofs_share_nofp nofp; /* why fp is NULL */
	/* SHA-256 of the content when known (verify), else NULL */
	const u8 *content_sha256;
};

/* Per image figures; bytes are page cache bytes unless said otherwise. */
struct erofs_share_image {
	char *name;
	char *fp_name;	/* fingerprint xattr name, NULL: not share-ready */
	u64 files;	/* regular file inodes */
	u64 links;	/* names of regular files (hard links included) */
	u64 bytes;	/* sum of their sizes */
	u64 page_bytes; /* held without sharing */
	/* held with sharing when the images are read in the order given */
	u64 added_bytes;
	/* of page_bytes, what shares a copy with another inode anywhere */
	u64 shareable_bytes;
	u64 fingerprinted; /* non-empty files with a usable fingerprint */
	u64 nofp_files, nofp_bytes;  /* non-empty files without one */
	u64 nofp[EROFS_SHARE_FP_NR]; /* files by reason */
	u64 compressed_files;
	u64 dir_bytes; /* directories' page cache */
	u64 dirs;
	/* verify */
	u64 verified, mismatched, unverified;
	/* left out of the figures: damaged parts, files past a bound */
	u64 left_damaged, left_over_bound;
	/* storage: the primary and what its files use of extra devices */
	unsigned int extra_devices;
	u64 storage_bytes;
	u64 storage_shared_bytes; /* of them, also used by other images */
};

/* A content held once for several inodes. */
struct erofs_share_content {
	u8 *fp;
	u32 fp_len;
	u64 size;
	bool compressed;
	u64 members;	  /* inodes holding this copy */
	u64 saving_bytes; /* page bytes * (members - 1) */
	u64 *per_image;	  /* members in each image */
	char **sample;	  /* a path in each image, NULL where none */
};

/* Inodes whose fingerprint found a copy of another size or class. */
struct erofs_share_conflict {
	u8 *fp;
	u32 fp_len;
	bool size_differs;    /* else the layout class differs */
	u64 size, other_size; /* the copy's and this inode's */
	bool compressed, other_compressed;
	unsigned int image, other_image; /* the copy's first inode, this one */
	char *path, *other_path;
};

struct erofs_share_report {
	u32 page_size;
	unsigned int nr_images;
	struct erofs_share_image *images;
	u64 files;	   /* regular file inodes over all images */
	u64 total_bytes;   /* sum of their sizes */
	u64 noshare_bytes; /* page cache without sharing */
	u64 shared_bytes;  /* page cache with sharing */
	u64 saving_bytes;
	double saving_percent; /* of noshare_bytes */
	u64 shared_contents;   /* copies held for two inodes or more */
	u64 dir_bytes;
	/* the top contents by bytes saved */
	struct erofs_share_content *top;
	unsigned int nr_top;
	/* what is lost */
	u64 size_conflict_files, size_conflict_bytes;
	u64 class_conflict_files, class_conflict_bytes;
	struct erofs_share_conflict *conflicts; /* the first few */
	unsigned int nr_conflicts;
	u64 nofp_files, nofp_bytes;	    /* in share-ready images */
	u64 notready_files, notready_bytes; /* in images that are not */
	/*
	 * Page cache with sharing if every image were rebuilt with
	 * fingerprints and identical contents got the same layout class:
	 * files without a fingerprint match by content when it was hashed
	 * (verify), otherwise by path and size: an estimate that counts a
	 * file changed in place as shared and a renamed one as not.
	 */
	u64 rebuild_shared_bytes;
	u64 rebuild_guessed_files; /* files matched by path and size */
	/* verify */
	u64 verified, mismatched, unverified;
	/*
	 * What the figures leave out: damaged parts of images (inodes,
	 * xattrs, maps that could not be read) and files verify did not
	 * read because a bound of the run was reached.
	 */
	u64 left_damaged, left_over_bound;
	/* storage */
	u64 storage_referenced_bytes; /* the images' storage_bytes summed */
	u64 storage_bytes;	      /* counting common bytes once */
	u64 storage_shared_bytes;     /* bytes used by two images or more */
};

/* Where a device of an image keeps its bytes, to find common storage. */
struct erofs_share_device {
	/* the file (or block device) holding it; 0, 0: unknown */
	u64 file_dev, file_ino;
	/* the machine they were seen on (a manifest's); NULL: this one */
	const char *host;
	u64 file_offset; /* where the device starts in that file */
	const char *tag; /* its device table tag; NULL or "": none */
};

struct erofs_share;

int erofs_share_new(struct erofs_share **s, const struct erofs_share_opts *o);

/*
 * Where an accumulator made by erofs_share_new_sink() passes what it is
 * fed, in order, keeping nothing: a manifest writer takes images that way
 * through erofs_share_scan_image() in flat memory. Each callback mirrors
 * the erofs_share_add_*() function of its name; "verified" is 1 or 0 for
 * erofs_share_add_verified() and -1 for erofs_share_add_unverified(), and
 * comes before the file it is about, as do the file's extents.
 */
struct erofs_share_sink {
	int (*image)(void *arg, const char *name, const char *fp_name);
	int (*device)(void *arg, const struct erofs_share_device *d,
		      u64 bytes);
	int (*extent)(void *arg, unsigned int dev, u64 pos, u64 len);
	int (*file)(void *arg, const struct erofs_share_file *f);
	void (*link)(void *arg);
	void (*dir)(void *arg, u64 size);
	void (*verified)(void *arg, int matched);
};

int erofs_share_new_sink(struct erofs_share **s,
			 const struct erofs_share_opts *o,
			 const struct erofs_share_sink *sink, void *arg);
void erofs_share_free(struct erofs_share *s);

/* Start the next image; fp_name NULL when it is not share-ready. */
int erofs_share_add_image(struct erofs_share *s, const char *name,
			  const char *fp_name);
/* A regular file inode of the current image, in reading order. */
int erofs_share_add_file(struct erofs_share *s,
			 const struct erofs_share_file *f);
/*
 * A hint that file f comes soon: its hash table slots are fetched into
 * the cache meanwhile (fleets of millions of files miss it every time).
 */
void erofs_share_prefetch(const struct erofs_share *s,
			  const struct erofs_share_file *f);
/* A hard link to a file already added (counted as a name only). */
void erofs_share_add_link(struct erofs_share *s);
/* A directory of the current image, of "size" bytes. */
void erofs_share_add_dir(struct erofs_share *s, u64 size);
/*
 * A device of the current image: first the primary, then its extra
 * devices in slot order. The primary counts whole ("bytes"); of extra
 * devices only the ranges given with erofs_share_add_extent().
 */
int erofs_share_add_device(struct erofs_share *s,
			   const struct erofs_share_device *d, u64 bytes);
/* File data of the current image in [pos, pos + len) of device "dev". */
int erofs_share_add_extent(struct erofs_share *s, unsigned int dev, u64 pos,
			   u64 len);
/* A file whose content did (or did not) match its fingerprint (verify). */
void erofs_share_add_verified(struct erofs_share *s, bool matched);
void erofs_share_add_unverified(struct erofs_share *s);
/* Parts of the current image left out: damaged, or past a bound. */
void erofs_share_add_left_out(struct erofs_share *s, u64 damaged,
			      u64 over_bound);

/*
 * Add every inode of an open image by walking it from the root. Damage
 * that stops the walk fails with a message recorded (erofs_fail()); damage
 * in one inode's xattrs makes that file count as unshareable.
 */
int erofs_share_scan_image(struct erofs_share *s, struct erofs_image *img);

/* Compute the figures; the report lives until erofs_share_free(). */
int erofs_share_finish(struct erofs_share *s,
		       const struct erofs_share_report **r);

/* A regular file inode as the accumulator keeps it. */
struct erofs_share_member {
	unsigned int image;
	u64 size;
	bool compressed;
	/* the copy of its fingerprint value (0..contents-1); -1: none */
	int64_t content;
};

/*
 * For analyses over the set after erofs_share_finish() (lib/share_matrix.c):
 * the copies keyed by fingerprint value, and every regular file inode in
 * the order added; a non-zero return of "fn" stops the walk and is
 * returned.
 */
unsigned int erofs_share_nr_images(const struct erofs_share *s);
u64 erofs_share_nr_contents(const struct erofs_share *s);
int erofs_share_foreach_file(const struct erofs_share *s,
			     int (*fn)(void *arg,
				       const struct erofs_share_member *m),
			     void *arg);

/* Print the report for people, or as one JSON object. */
void erofs_share_print(const struct erofs_share_report *r, FILE *out);
void erofs_share_print_json(const struct erofs_share_report *r, FILE *out);

#endif
