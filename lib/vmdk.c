// SPDX-License-Identifier: GPL-2.0-or-later
/* VMDK descriptors (VMware's text format) of flat multi-file disks. */
#include <stdio.h>
#include <string.h>

#include "erofs/error.h"
#include "erofs/vmdk.h"

#define SECTOR 512
/* "twoGbMaxExtentFlat": no extent line covers more than 2 GiB */
#define MAX_EXTENT_SECTORS ((2ULL << 30) / SECTOR)
#define GEOMETRY_HEADS 16
#define GEOMETRY_SECTORS 63

static int write_extents(FILE *f, const struct erofs_vmdk_extent *e)
{
	u64 sectors = e->bytes / SECTOR, offset = 0;

	while (sectors) {
		u64 count = min(sectors, MAX_EXTENT_SECTORS);

		if (fprintf(f, "RW %llu FLAT \"%s\" %llu\n",
			    (unsigned long long)count, e->path,
			    (unsigned long long)offset) < 0)
			return -EIO;
		offset += count;
		sectors -= count;
	}
	return 0;
}

int erofs_write_vmdk_desc(const char *path, const u8 uuid[16],
			  const struct erofs_vmdk_extent *ext, unsigned int n)
{
	u64 total = 0;
	u32 cid;
	FILE *f;
	int ret = 0;

	for (unsigned int i = 0; i < n; i++) {
		if (ext[i].bytes % SECTOR || strchr(ext[i].path, '"'))
			return erofs_fail(-EINVAL,
					  "%s: cannot be a VMDK extent",
					  ext[i].path);
		total += ext[i].bytes / SECTOR;
	}
	f = fopen(path, "w");
	if (!f)
		return erofs_fail(-errno, "%s: %s", path, strerror(errno));
	/* the content id changes with the image, as its UUID does */
	memcpy(&cid, uuid, sizeof(cid));
	fprintf(f,
		"# Disk DescriptorFile\nversion=1\nCID=%08x\n"
		"parentCID=ffffffff\ncreateType=\"twoGbMaxExtentFlat\"\n\n"
		"# Extent description\n",
		cid);
	for (unsigned int i = 0; i < n && !ret; i++)
		ret = write_extents(f, &ext[i]);
	fprintf(f,
		"\n# The Disk Data Base\n#DDB\n\n"
		"ddb.virtualHWVersion = \"4\"\n"
		"ddb.geometry.cylinders = \"%llu\"\n"
		"ddb.geometry.heads = \"%u\"\n"
		"ddb.geometry.sectors = \"%u\"\n"
		"ddb.adapterType = \"ide\"\n",
		(unsigned long long)DIV_ROUND_UP(
			total, GEOMETRY_HEADS * GEOMETRY_SECTORS),
		GEOMETRY_HEADS, GEOMETRY_SECTORS);
	if (ferror(f))
		ret = -EIO;
	if (fclose(f) && !ret)
		ret = -errno;
	if (ret)
		return erofs_fail(ret, "%s: write failed: %s", path,
				  strerror(-ret));
	return 0;
}
