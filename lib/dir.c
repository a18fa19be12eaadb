// SPDX-License-Identifier: GPL-2.0-or-later
/* Directory block encoding for the writer. */
#include <string.h>

#include "erofs/dir.h"
#include "erofs/format.h"

struct dir_entry {
	const char *name;
	unsigned int len;
	const struct erofs_node *node;
};

/* Walk the entries in byte order with "." and ".." merged in. */
struct dir_iter {
	const struct erofs_node *dir;
	u32 i;
	unsigned int dots; /* how many of ".", ".." were emitted (or
			    * 1 from the start: "." is omitted) */
};

static bool dir_next(struct dir_iter *it, struct dir_entry *e)
{
	static const char *const dots[] = { ".", ".." };
	const struct erofs_dentry *d =
		it->i < it->dir->ndents ? &it->dir->dents[it->i] : NULL;

	if (it->dots < 2 &&
	    (!d || erofs_name_cmp(dots[it->dots], it->dots + 1, d->name,
				  d->namelen) < 0)) {
		e->name = dots[it->dots];
		e->len = it->dots + 1;
		e->node = it->dots ? it->dir->parent : it->dir;
		it->dots++;
		return true;
	}
	if (!d)
		return false;
	e->name = d->name;
	e->len = d->namelen;
	e->node = d->node;
	it->i++;
	return true;
}

u64 erofs_dir_data_size(const struct erofs_node *dir, unsigned int blksz,
			bool dot_omitted)
{
	struct dir_iter it = { .dir = dir, .dots = dot_omitted };
	struct dir_entry e;
	u64 full = 0;
	unsigned int used = 0;

	while (dir_next(&it, &e)) {
		unsigned int need = sizeof(struct erofs_dirent) + e.len;

		if (used + need > blksz) {
			full++;
			used = 0;
		}
		used += need;
	}
	return full * blksz + used;
}

static void flush_block(u8 *blk, const struct dir_entry *ents,
			unsigned int n)
{
	unsigned int nameoff = n * sizeof(struct erofs_dirent);

	for (unsigned int k = 0; k < n; k++) {
		struct erofs_dirent de = {
			.nid = cpu_to_le64(ents[k].node->L.nid),
			.nameoff = cpu_to_le16(nameoff),
			.file_type = erofs_mode_to_ftype(ents[k].node->mode),
		};

		memcpy(blk + k * sizeof(de), &de, sizeof(de));
		memcpy(blk + nameoff, ents[k].name, ents[k].len);
		nameoff += ents[k].len;
	}
}

void erofs_dir_encode(const struct erofs_node *dir, unsigned int blksz,
		      bool dot_omitted, u8 *buf)
{
	struct dir_entry ents[EROFS_DIRENTS_PER_BLOCK(EROFS_MAX_BLKSZ) + 1];
	struct dir_iter it = { .dir = dir, .dots = dot_omitted };
	struct dir_entry e;
	unsigned int n = 0, used = 0;
	u8 *blk = buf;

	while (dir_next(&it, &e)) {
		unsigned int need = sizeof(struct erofs_dirent) + e.len;

		if (used + need > blksz) {
			memset(blk, 0, blksz);
			flush_block(blk, ents, n);
			blk += blksz;
			n = 0;
			used = 0;
		}
		ents[n++] = e;
		used += need;
	}
	memset(blk, 0, used);
	flush_block(blk, ents, n);
}
