/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The compression configuration records after the superblock. */
#ifndef EROFS_ZCFGS_H
#define EROFS_ZCFGS_H

struct erofs_image;

/*
 * Check each record the superblock's algorithm mask announces the way the
 * kernel does at mount: 0, or -EFSCORRUPTED / -EOPNOTSUPP / an I/O error
 * with a static reason in *why.
 */
int erofs_check_compr_cfgs(const struct erofs_image *img, const char **why);

#endif
