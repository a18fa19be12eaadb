/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * File data of an inode in an image: mapping logical ranges to where they
 * are (image bytes, inline tail, hole) per data layout, and reading them.
 * Each layout has its own map function; compressed layouts map to whole
 * extents (lib/zextent.c) that erofs_read_data() decodes.
 */
#ifndef EROFS_DATA_READ_H
#define EROFS_DATA_READ_H

#include "erofs/inode_read.h"

enum erofs_map_kind {
	EROFS_MAP_HOLE, /* reads as zeros, nothing stored */
	EROFS_MAP_MAPPED, /* stored uncompressed at offset pa of device dev */
	EROFS_MAP_INLINE, /* stored in the metadata area at pa */
	EROFS_MAP_ENCODED, /* compressed (or packed): read with
			    * erofs_read_data() */
};

struct erofs_map {
	u64 la; /* logical start of the extent */
	u64 llen; /* its logical length, never past i_size */
	/*
	 * Where byte la is (MAPPED and INLINE): device 0, the image, or an
	 * extra device (lib/device.c), and the byte offset on it.
	 */
	unsigned int dev;
	u64 pa;
	u8 kind; /* enum erofs_map_kind */
	/* EROFS_MAP_ENCODED: how the extent is stored (erofs/zmap.h) */
	u32 plen; /* stored bytes */
	u8 zfmt; /* Z_EROFS_COMPRESSION_* or EROFS_ZFMT_* */
	u8 zwhere; /* enum erofs_zwhere */
};

/*
 * Map the extent that contains logical offset "la" (< i_size). Every
 * mapped byte is checked to lie inside its device: the image, or an extra
 * device as its device table slot gives its size.
 */
int erofs_map_data(struct erofs_image *img, const struct erofs_rinode *ri,
		   u64 la, struct erofs_map *m, const char **why);

/*
 * Read "len" bytes of content at "pos" (holes as zeros); must be in size.
 * Compressed content counts against img->budget (-EDQUOT past it).
 */
int erofs_read_data(struct erofs_image *img, const struct erofs_rinode *ri,
		    void *buf, size_t len, u64 pos, const char **why);

/*
 * Check that the compressed extent "m" decodes, without its bytes: a
 * cluster that decoded as far already in this run (img->budget) is not
 * decoded again, nor are the packed inode's clusters behind a fragment.
 * Any other kind of extent is left to the caller.
 */
int erofs_check_encoded(struct erofs_image *img, const struct erofs_rinode *ri,
			const struct erofs_map *m, const char **why);

/* Whether this reader can read the inode's data layout. */
bool erofs_data_readable(const struct erofs_rinode *ri);

/*
 * Image bytes an inode's data occupies (data blocks and the inline tail;
 * blocks shared by deduplicated chunks count once per reference).
 */
int erofs_data_physical_bytes(struct erofs_image *img,
			      const struct erofs_rinode *ri, u64 *bytes,
			      const char **why);

/* A human name of a data layout: "flat", "inline", "chunked", ... */
const char *erofs_datalayout_name(unsigned int datalayout);

#endif
