/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fingerprint manifests: what the share report needs of an image, as JSON
 * Lines (dump.erofs --fingerprints), so that reports over a fleet can be
 * made from manifests kept in a registry without the images, and the same
 * lines can be loaded by other engines (DuckDB, Spark).
 *
 * One image is a block of lines in this order: an "image" line, one
 * "device" line per device (the image itself first), then a "file" line per
 * regular file inode (hard links once) and a "dir" line per directory as
 * the tree is walked, and an "end" line with the counts, so that a manifest
 * cut short is refused. Manifests of several images are their blocks one
 * after the other (cat works). dump.erofs(1) documents every member.
 *
 * Writing streams: nothing is kept per file. Reading feeds the share
 * report's accumulator exactly the calls that scanning the image would,
 * in the same order, so both give the same figures.
 */
#ifndef EROFS_MANIFEST_H
#define EROFS_MANIFEST_H

#include <stdio.h>

#include "erofs/image_open.h"
#include "erofs/share.h"

/* The version in the "manifest" member of image lines. */
#define EROFS_MANIFEST_VERSION 1

struct erofs_manifest_opts {
	u32 page_size; /* for the "pages" members; 0: EROFS_SHARE_PAGE_SIZE */
	/* also read files with a recorded fingerprint and check it */
	bool verify;
};

/*
 * Write the manifest of images "paths" (each opened with its "iopts", NULL:
 * no device files) to "out". Files without a usable recorded fingerprint
 * are read to compute one. Fails when an image cannot be read; with
 * -EBADMSG after writing everything when verify found fingerprints that do
 * not match their files' content.
 */
int erofs_manifest_write_images(char *const *paths,
				const struct erofs_image_opts *iopts,
				unsigned int n,
				const struct erofs_manifest_opts *o, FILE *out);

/*
 * Whether the file "path" is a manifest rather than an image: it starts
 * with '{' after blanks ("-", standard input, always is). 1, 0, or a
 * negative errno with a message recorded.
 */
int erofs_manifest_probe(const char *path);

/*
 * Feed the images of the manifests "paths" ("-": standard input), in
 * order, to the accumulator "s", opened with options "o" (its page size
 * and verify); a thread parses while the caller adds.
 * With verify, the checks recorded in the manifest count as the report's
 * own; without, they are ignored as a report without --verify would not
 * make them. Fails with -EINVAL and a message naming the line when the
 * manifest is damaged or cut short.
 */
int erofs_manifest_read(char *const *paths, unsigned int n,
			struct erofs_share *s,
			const struct erofs_share_opts *o);

#endif
