// SPDX-License-Identifier: GPL-2.0-or-later
/* The device table: extra devices, where their bytes are, reading them. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "erofs/device.h"
#include "erofs/error.h"
#include "erofs/image.h"
#include "erofs/io.h"

static int table_fail(struct erofs_image *img, int err, const char *fmt, ...)
	__printf(3, 4);

static int table_fail(struct erofs_image *img, int err, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return erofs_fail(err, "%s: %s", img->path, msg);
}

/* The kernel's device_id_mask: the table's size rounded up, minus one. */
static u16 id_mask(unsigned int nr)
{
	u32 m = 1;

	while (m < nr + 1)
		m <<= 1;
	return m - 1;
}

static int read_slots(struct erofs_image *img)
{
	const struct erofs_sb_info *sb = &img->sb;
	bool wide = sb->feature_incompat & EROFS_FEATURE_INCOMPAT_48BIT;
	u64 pos = (u64)sb->devt_slotoff * EROFS_DEVT_SLOT_SIZE;
	u64 len = (u64)img->nr_devices * EROFS_DEVT_SLOT_SIZE;
	u64 sb_end = EROFS_SUPER_OFFSET + EROFS_SUPER_BASE_SIZE +
		     sb->sb_extslots * EROFS_SB_EXTSLOT_SIZE;
	u64 limit = img->size;
	struct erofs_deviceslot *slots;
	int ret;

	/* the table is metadata of the primary device, after the sb */
	if (sb->blocks && sb->blocks << img->blkszbits < limit)
		limit = sb->blocks << img->blkszbits;
	if (pos < sb_end)
		return table_fail(
			img, -EFSCORRUPTED,
			"device table at byte %llu overlaps the superblock",
			(unsigned long long)pos);
	if (pos > limit || len > limit - pos)
		return table_fail(
			img, -EFSCORRUPTED,
			"device table (%u slots at byte %llu) runs past the end of the primary device (%llu bytes)",
			img->nr_devices, (unsigned long long)pos,
			(unsigned long long)limit);
	slots = malloc(len);
	if (!slots)
		return -ENOMEM;
	ret = erofs_image_pread(img, slots, len, pos);
	if (ret) {
		free(slots);
		return table_fail(img, ret, "cannot read the device table: %s",
				  strerror(-ret));
	}
	for (unsigned int i = 0; i < img->nr_devices; i++) {
		struct erofs_device *d = &img->devices[i];
		const struct erofs_deviceslot *s = &slots[i];

		memcpy(d->tag, s->tag, EROFS_DEVICE_TAG_LEN);
		d->tag[EROFS_DEVICE_TAG_LEN] = '\0';
		d->blocks = le32_to_cpu(s->blocks_lo);
		d->uniaddr = le32_to_cpu(s->uniaddr_lo);
		/* the high halves mean something with 48-bit addresses only */
		if (wide) {
			d->blocks |= (u64)le16_to_cpu(s->blocks_hi) << 32;
			d->uniaddr |= (u64)le16_to_cpu(s->uniaddr_hi) << 32;
		}
	}
	free(slots);
	return 0;
}

static int range_cmp(const void *a, const void *b)
{
	const struct erofs_device_range *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->dev < y->dev ? -1 : x->dev > y->dev;
}

/*
 * Unified ranges of devices with an address, sorted. The kernel lets the
 * lowest slot win where ranges overlap; no tool writes such a table and
 * in flat mode it would make devices share bytes, so it is refused.
 */
static int build_ranges(struct erofs_image *img)
{
	unsigned int n = 0;

	img->ranges = calloc(img->nr_devices, sizeof(*img->ranges));
	if (!img->ranges)
		return -ENOMEM;
	for (unsigned int i = 0; i < img->nr_devices; i++) {
		const struct erofs_device *d = &img->devices[i];

		if (!d->uniaddr || !d->blocks)
			continue;
		img->ranges[n].start = d->uniaddr << img->blkszbits;
		img->ranges[n].end = (d->uniaddr + d->blocks) << img->blkszbits;
		img->ranges[n].dev = i + 1;
		n++;
	}
	qsort(img->ranges, n, sizeof(*img->ranges), range_cmp);
	img->nr_ranges = n;
	for (unsigned int k = 1; k < n; k++) {
		const struct erofs_device_range *a = &img->ranges[k - 1];
		const struct erofs_device_range *b = &img->ranges[k];

		if (b->start < a->end)
			return table_fail(
				img, -EFSCORRUPTED,
				"devices %u and %u overlap in the unified address space (blocks %llu..%llu and %llu..%llu)",
				a->dev, b->dev,
				(unsigned long long)(a->start >>
						     img->blkszbits),
				(unsigned long long)(a->end >> img->blkszbits),
				(unsigned long long)(b->start >>
						     img->blkszbits),
				(unsigned long long)(b->end >> img->blkszbits));
	}
	return 0;
}

static int open_file(struct erofs_image *img, unsigned int i, const char *path)
{
	struct erofs_device *d = &img->devices[i];
	u64 bytes = d->blocks << img->blkszbits, size;
	struct stat st;

	d->path = strdup(path);
	if (!d->path)
		return -ENOMEM;
	d->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (d->fd < 0 || fstat(d->fd, &st)) {
		int err = -errno;

		return erofs_fail(err, "%s: device %u: %s", path, i + 1,
				  strerror(-err));
	}
	if (S_ISBLK(st.st_mode)) {
		off_t end = lseek(d->fd, 0, SEEK_END);

		size = end < 0 ? 0 : (u64)end;
	} else if (S_ISREG(st.st_mode)) {
		size = st.st_size;
	} else {
		return erofs_fail(
			-EINVAL,
			"%s: device %u: not a regular file or block device",
			path, i + 1);
	}
	d->offset = 0;
	d->avail = min(size, bytes);
	if (asprintf(
		    &d->short_why,
		    "device %u (%s) holds %llu bytes, its slot says %llu blocks of %u",
		    i + 1, path, (unsigned long long)size,
		    (unsigned long long)d->blocks, img->blksz) < 0) {
		d->short_why = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* Flat mode: the device lies in the primary file at its unified address. */
static int place_flat(struct erofs_image *img, unsigned int i)
{
	struct erofs_device *d = &img->devices[i];
	u64 bytes = d->blocks << img->blkszbits;
	u64 start = d->uniaddr << img->blkszbits;
	int n;

	d->fd = -1;
	d->offset = img->offset + start;
	if (!d->uniaddr || (start >= img->size && bytes))
		n = asprintf(
			&d->missing,
			"extra device %u is not in %s: give it with --device=FILE",
			i + 1, img->path);
	else
		n = 0;
	if (n < 0) {
		d->missing = NULL;
		return -ENOMEM;
	}
	if (!d->missing)
		d->avail = min(bytes, img->size - start);
	if (asprintf(
		    &d->short_why,
		    "extra device %u is cut short in %s: it needs %llu bytes from byte %llu, the file holds %llu of them",
		    i + 1, img->path, (unsigned long long)bytes,
		    (unsigned long long)start,
		    (unsigned long long)d->avail) < 0) {
		d->short_why = NULL;
		return -ENOMEM;
	}
	return 0;
}

int erofs_devices_open(struct erofs_image *img, const char *const *paths,
		       unsigned int nr_paths)
{
	const struct erofs_sb_info *sb = &img->sb;
	unsigned int ondisk = 0;
	int ret;

	if (sb->feature_incompat & EROFS_FEATURE_INCOMPAT_DEVICE_TABLE)
		ondisk = sb->extra_devices;
	img->device_id_mask = id_mask(ondisk);
	if (nr_paths && nr_paths != ondisk)
		return table_fail(
			img, -EINVAL,
			"extra devices don't match (ondisk %u, given %u)",
			ondisk, nr_paths);
	if (!ondisk)
		return 0;
	img->devices = calloc(ondisk, sizeof(*img->devices));
	if (!img->devices)
		return -ENOMEM;
	img->nr_devices = ondisk;
	for (unsigned int i = 0; i < ondisk; i++)
		img->devices[i].fd = -1;
	img->flatdev = !nr_paths;
	ret = read_slots(img);
	if (!ret)
		ret = build_ranges(img);
	for (unsigned int i = 0; i < ondisk && !ret; i++)
		ret = nr_paths ? open_file(img, i, paths[i])
			       : place_flat(img, i);
	return ret;
}

void erofs_devices_close(struct erofs_image *img)
{
	for (unsigned int i = 0; i < img->nr_devices; i++) {
		struct erofs_device *d = &img->devices[i];

		if (d->fd >= 0)
			close(d->fd);
		free(d->path);
		free(d->missing);
		free(d->short_why);
	}
	free(img->devices);
	img->devices = NULL;
	img->nr_devices = 0;
	free(img->ranges);
	img->ranges = NULL;
	img->nr_ranges = 0;
}

static int corrupt(const char **why, const char *reason)
{
	*why = reason;
	return -EFSCORRUPTED;
}

int erofs_device_resolve(const struct erofs_image *img, unsigned int *dev,
			 u64 *pos, u64 *room, const char **why)
{
	unsigned int lo = 0, hi = img->nr_ranges;
	u64 limit = img->size;

	if (*dev) {
		u64 bytes;

		if (*dev > img->nr_devices)
			return corrupt(
				why,
				"data is on a device the device table does not have");
		bytes = img->devices[*dev - 1].blocks << img->blkszbits;
		if (*pos >= bytes)
			return corrupt(
				why,
				"data lies past the end of its extra device");
		*room = bytes - *pos;
		return 0;
	}
	/* the first range starting after pos */
	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (img->ranges[mid].start <= *pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && *pos < img->ranges[lo - 1].end) {
		const struct erofs_device_range *r = &img->ranges[lo - 1];

		*dev = r->dev;
		*room = r->end - *pos;
		*pos -= r->start;
		return 0;
	}
	if (lo < img->nr_ranges)
		limit = min(limit, img->ranges[lo].start);
	if (*pos >= limit)
		return corrupt(why, "data lies past the end of the image");
	*room = limit - *pos;
	return 0;
}

int erofs_device_read(const struct erofs_image *img, unsigned int dev,
		      void *buf, size_t len, u64 pos, const char **why)
{
	const struct erofs_device *d;
	int ret;

	if (!dev) {
		ret = erofs_image_pread(img, buf, len, pos);
		if (ret == -EFSCORRUPTED)
			*why = "data lies past the end of the image";
		else if (ret)
			*why = "cannot read data";
		return ret;
	}
	if (dev > img->nr_devices)
		return corrupt(
			why,
			"data is on a device the device table does not have");
	d = &img->devices[dev - 1];
	if (d->missing) {
		*why = d->missing;
		return -ENODEV;
	}
	if (pos > d->avail || len > d->avail - pos) {
		u64 bytes = d->blocks << img->blkszbits;

		if (pos <= bytes && len <= bytes - pos)
			return corrupt(why, d->short_why);
		return corrupt(why,
			       "data lies past the end of its extra device");
	}
	ret = erofs_pread_full(d->fd >= 0 ? d->fd : img->fd, buf, len,
			       d->offset + pos);
	if (ret == -ENODATA)
		return corrupt(why, d->short_why); /* shrunk since opened */
	if (ret)
		*why = "cannot read data from an extra device";
	return ret;
}

const char *erofs_device_name(const struct erofs_image *img, unsigned int dev,
			      char *buf, size_t len)
{
	if (!dev)
		snprintf(buf, len, "primary device");
	else if (dev <= img->nr_devices && img->devices[dev - 1].path)
		snprintf(buf, len, "device %u (%s)", dev,
			 img->devices[dev - 1].path);
	else
		snprintf(buf, len, "device %u (in %s)", dev, img->path);
	return buf;
}
