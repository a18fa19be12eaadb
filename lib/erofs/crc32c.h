/* SPDX-License-Identifier: GPL-2.0-or-later */
/* CRC32C (Castagnoli), as the superblock checksum uses it. */
#ifndef EROFS_CRC32C_H
#define EROFS_CRC32C_H

#include "erofs/defs.h"

/* Update "crc" with "len" bytes; no pre- or post-inversion is applied. */
u32 erofs_crc32c(u32 crc, const void *data, size_t len);

#endif
