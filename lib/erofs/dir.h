/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Directory data: blocks of 12-byte dirents followed by their names, every
 * name in byte order across the whole directory, "." and ".." included
 * ("." may be left out: the kernel then makes it up).
 */
#ifndef EROFS_DIR_H
#define EROFS_DIR_H

#include "erofs/defs.h"
#include "erofs/tree.h"

/*
 * Bytes of directory data (i_size) for "dir" with blocks of "blksz";
 * "dot_omitted": without the "." entry (EROFS_I_DOT_OMITTED_BIT).
 */
u64 erofs_dir_data_size(const struct erofs_node *dir, unsigned int blksz,
			bool dot_omitted);
/* Encode the directory data of "dir" (nids must be laid out) into "buf". */
void erofs_dir_encode(const struct erofs_node *dir, unsigned int blksz,
		      bool dot_omitted, u8 *buf);

#endif
