// SPDX-License-Identifier: GPL-2.0-or-later
/* Table-driven CRC32C: reflected polynomial 0x82F63B78. */
#include <pthread.h>

#include "erofs/crc32c.h"

static u32 crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc32c_init(void)
{
	for (u32 i = 0; i < 256; i++) {
		u32 c = i;

		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (c & 1 ? 0x82F63B78U : 0);
		crc_table[i] = c;
	}
}

u32 erofs_crc32c(u32 crc, const void *data, size_t len)
{
	const u8 *p = data;

	pthread_once(&crc_once, crc32c_init);
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}
