/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Human-readable reports about an image for dump.erofs: the superblock,
 * statistics over the whole tree, one inode, its extents, a directory
 * listing, and a file's content. Each returns 0 or a negative errno with a
 * message recorded by erofs_fail().
 */
#ifndef EROFS_DUMP_H
#define EROFS_DUMP_H

#include <stdio.h>

#include "erofs/image.h"

int erofs_dump_superblock(struct erofs_image *img, FILE *out);
/* The block device attributes, as erofs-utils' dump --blkid-udev prints. */
int erofs_dump_blkid_udev(struct erofs_image *img, FILE *out);
int erofs_dump_stats(struct erofs_image *img, FILE *out);
/* "path" may be NULL: it is then searched for (for messages only). */
int erofs_dump_inode(struct erofs_image *img, erofs_nid_t nid,
		     const char *path, FILE *out);
int erofs_dump_extents(struct erofs_image *img, erofs_nid_t nid, FILE *out);
int erofs_dump_ls(struct erofs_image *img, erofs_nid_t nid, FILE *out);
/* Write the content of a file (or a symlink's target) to "fd". */
int erofs_dump_cat(struct erofs_image *img, erofs_nid_t nid, int fd);

/*
 * Print "len" bytes of a name taken from an image with control bytes and
 * backslashes escaped (\xNN, \\), so that a hostile name cannot send
 * commands to a terminal.
 */
void erofs_fputs_escaped(const char *s, size_t len, FILE *out);

#endif
