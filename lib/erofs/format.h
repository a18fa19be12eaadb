/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The EROFS on-disk format: every structure, field and constant that is
 * written to or read from an image is defined here and nowhere else.
 *
 * All multi-byte fields are little-endian. The Linux kernel (fs/erofs) is
 * the authority for the meaning of each field.
 */
#ifndef EROFS_FORMAT_H
#define EROFS_FORMAT_H

#include "erofs/defs.h"

#define EROFS_SUPER_MAGIC 0xE0F5E1E2U
/* the superblock starts here, leaving room for boot sectors */
#define EROFS_SUPER_OFFSET 1024
#define EROFS_SUPER_BASE_SIZE 128
#define EROFS_SB_EXTSLOT_SIZE 16

#define EROFS_MIN_BLKSZBITS 9
#define EROFS_MAX_BLKSZBITS 12 /* the kernel needs blocks <= PAGE_SIZE */
#define EROFS_MAX_BLKSZ (1U << EROFS_MAX_BLKSZBITS)
/*
 * The kernel reads the superblock and its extension slots from the first
 * page (of EROFS_MAX_BLKSZ bytes here): they must end within it.
 */
#define EROFS_SUPER_MAX_SIZE (EROFS_MAX_BLKSZ - EROFS_SUPER_OFFSET)

/* compatible features: an older reader may ignore them */
#define EROFS_FEATURE_COMPAT_SB_CHKSUM 0x00000001
#define EROFS_FEATURE_COMPAT_MTIME 0x00000002
#define EROFS_FEATURE_COMPAT_XATTR_FILTER 0x00000004
#define EROFS_FEATURE_COMPAT_SHARED_EA_IN_METABOX 0x00000008
#define EROFS_FEATURE_COMPAT_PLAIN_XATTR_PFX 0x00000010
#define EROFS_FEATURE_COMPAT_ISHARE_XATTRS 0x00000020

/* incompatible features: a reader that lacks one must refuse the image */
#define EROFS_FEATURE_INCOMPAT_ZERO_PADDING 0x00000001
#define EROFS_FEATURE_INCOMPAT_COMPR_CFGS 0x00000002
#define EROFS_FEATURE_INCOMPAT_BIG_PCLUSTER 0x00000002
#define EROFS_FEATURE_INCOMPAT_CHUNKED_FILE 0x00000004
#define EROFS_FEATURE_INCOMPAT_DEVICE_TABLE 0x00000008
#define EROFS_FEATURE_INCOMPAT_COMPR_HEAD2 0x00000008
#define EROFS_FEATURE_INCOMPAT_ZTAILPACKING 0x00000010
#define EROFS_FEATURE_INCOMPAT_FRAGMENTS 0x00000020
#define EROFS_FEATURE_INCOMPAT_DEDUPE 0x00000020
#define EROFS_FEATURE_INCOMPAT_XATTR_PREFIXES 0x00000040
#define EROFS_FEATURE_INCOMPAT_48BIT 0x00000080
#define EROFS_FEATURE_INCOMPAT_METABOX 0x00000100
#define EROFS_ALL_FEATURE_INCOMPAT ((EROFS_FEATURE_INCOMPAT_METABOX << 1) - 1)

struct erofs_super_block {
	__le32 magic;
	__le32 checksum; /* crc32c of the superblock block, see super.c */
	__le32 feature_compat;
	u8 blkszbits;
	u8 sb_extslots; /* superblock size = 128 + sb_extslots * 16 */
	__le16 rootnid_2b; /* root nid, or blocks MSB with 48BIT */
	__le64 inos;
	__le64 epoch; /* base seconds of compact inode times */
	__le32 fixed_nsec; /* nanoseconds of compact inode times */
	__le32 blocks_lo;
	__le32 meta_blkaddr;
	__le32 xattr_blkaddr;
	u8 uuid[16];
	u8 volume_name[16];
	__le32 feature_incompat;
	__le16 available_compr_algs; /* or lz4_max_distance without cfgs */
	__le16 extra_devices;
	__le16 devt_slotoff;
	u8 dirblkbits;
	u8 xattr_prefix_count;
	__le32 xattr_prefix_start; /* in 4-byte units */
	__le64 packed_nid;
	u8 xattr_filter_reserved;
	u8 ishare_xattr_prefix_id; /* long prefix naming the fingerprint */
	u8 reserved[2];
	__le32 build_time; /* seconds after epoch when the image was made */
	__le64 rootnid_8b; /* root nid with 48BIT */
	__le64 reserved2;
	/* extension slot 1 (sb_extslots >= 1): INCOMPAT_METABOX */
	__le64 metabox_nid; /* the metabox inode, never in the metabox */
	__le64 reserved3;
};

/* data layouts, bits 1-3 of i_format */
enum {
	EROFS_INODE_FLAT_PLAIN = 0,
	EROFS_INODE_COMPRESSED_FULL = 1,
	EROFS_INODE_FLAT_INLINE = 2,
	EROFS_INODE_COMPRESSED_COMPACT = 3,
	EROFS_INODE_CHUNK_BASED = 4,
	EROFS_INODE_DATALAYOUT_MAX
};

static inline bool erofs_layout_is_compressed(unsigned int datalayout)
{
	return datalayout == EROFS_INODE_COMPRESSED_COMPACT ||
	       datalayout == EROFS_INODE_COMPRESSED_FULL;
}

#define EROFS_I_VERSION_BIT 0
#define EROFS_I_DATALAYOUT_BIT 1
#define EROFS_I_DATALAYOUT_MASK 0x07
#define EROFS_I_NLINK_1_BIT 4 /* compact non-directories only */
#define EROFS_I_DOT_OMITTED_BIT 4 /* directories only */
#define EROFS_I_ALL ((1 << (EROFS_I_NLINK_1_BIT + 1)) - 1)

#define EROFS_INODE_LAYOUT_COMPACT 0
#define EROFS_INODE_LAYOUT_EXTENDED 1

static inline u16 erofs_i_format(unsigned int version, unsigned int layout)
{
	return version << EROFS_I_VERSION_BIT | layout << EROFS_I_DATALAYOUT_BIT;
}

static inline unsigned int erofs_i_version(u16 ifmt)
{
	return (ifmt >> EROFS_I_VERSION_BIT) & 1;
}

static inline unsigned int erofs_i_datalayout(u16 ifmt)
{
	return (ifmt >> EROFS_I_DATALAYOUT_BIT) & EROFS_I_DATALAYOUT_MASK;
}

/* chunk-based files: i_u holds the chunk format */
#define EROFS_CHUNK_FORMAT_BLKBITS_MASK 0x001F
#define EROFS_CHUNK_FORMAT_INDEXES 0x0020
#define EROFS_CHUNK_FORMAT_48BIT 0x0040
#define EROFS_CHUNK_FORMAT_ALL ((EROFS_CHUNK_FORMAT_48BIT << 1) - 1)

struct erofs_inode_chunk_info {
	__le16 format;
	__le16 reserved;
};

union erofs_inode_i_u {
	__le32 blocks_lo; /* compressed inodes: blocks used */
	__le32 startblk_lo; /* flat inodes: first data block */
	__le32 rdev; /* device inodes: new_encode_dev() form */
	struct erofs_inode_chunk_info c;
};

struct erofs_inode_compact {
	__le16 i_format;
	__le16 i_xattr_icount;
	__le16 i_mode;
	__le16 i_nlink; /* or startblk/blocks MSB with NLINK_1 */
	__le32 i_size;
	__le32 i_mtime; /* seconds after the superblock epoch */
	union erofs_inode_i_u i_u;
	__le32 i_ino;
	__le16 i_uid;
	__le16 i_gid;
	__le32 i_reserved;
};

struct erofs_inode_extended {
	__le16 i_format;
	__le16 i_xattr_icount;
	__le16 i_mode;
	__le16 i_nb; /* startblk/blocks MSB with 48BIT */
	__le64 i_size;
	union erofs_inode_i_u i_u;
	__le32 i_ino;
	__le32 i_uid;
	__le32 i_gid;
	__le64 i_mtime;
	__le32 i_mtime_nsec;
	__le32 i_nlink;
	u8 i_reserved2[16];
};

#define EROFS_ISLOTBITS 5 /* nids count 32-byte slots */
#define EROFS_SLOTSIZE (1U << EROFS_ISLOTBITS)

/* Inline xattrs: this header, then shared ids, then entries. */
struct erofs_xattr_ibody_header {
	__le32 h_name_filter; /* a set bit means "no such name" */
	u8 h_shared_count;
	u8 h_reserved2[7];
	__le32 h_shared_xattrs[];
};

/* short name prefixes (e_name_index) */
#define EROFS_XATTR_INDEX_USER 1
#define EROFS_XATTR_INDEX_POSIX_ACL_ACCESS 2
#define EROFS_XATTR_INDEX_POSIX_ACL_DEFAULT 3
#define EROFS_XATTR_INDEX_TRUSTED 4
#define EROFS_XATTR_INDEX_LUSTRE 5
#define EROFS_XATTR_INDEX_SECURITY 6

/* e_name_index with this bit names a long prefix by its table index */
#define EROFS_XATTR_LONG_PREFIX 0x80
#define EROFS_XATTR_LONG_PREFIX_MASK 0x7f

#define EROFS_XATTR_FILTER_BITS 32
#define EROFS_XATTR_FILTER_DEFAULT UINT32_MAX
#define EROFS_XATTR_FILTER_SEED 0x25BBE08FU

struct erofs_xattr_entry {
	u8 e_name_len;
	u8 e_name_index;
	__le16 e_value_size;
	char e_name[]; /* then the value */
};

/* long prefix table entry: __le16 size, then this, 4-byte aligned */
struct erofs_xattr_long_prefix {
	u8 base_index;
	char infix[];
};

/*
 * Xattrs count in 4-byte units: the inline area's i_xattr_icount counts
 * its 12-byte header as one unit and every 4 bytes after it as another;
 * shared xattr ids and the superblock's xattr_prefix_start are offsets in
 * units.
 */
#define EROFS_XATTR_UNIT 4

static inline unsigned int erofs_xattr_ibody_size(u16 icount)
{
	if (!icount)
		return 0;
	return sizeof(struct erofs_xattr_ibody_header) +
	       (icount - 1) * EROFS_XATTR_UNIT;
}

/* The i_xattr_icount of an inline xattr area of "size" bytes (or none). */
static inline u16 erofs_xattr_icount(unsigned int size)
{
	if (!size)
		return 0;
	return (size - sizeof(struct erofs_xattr_ibody_header)) /
		       EROFS_XATTR_UNIT +
	       1;
}

static inline unsigned int erofs_xattr_entry_size(unsigned int name_len,
						  unsigned int value_size)
{
	return round_up(sizeof(struct erofs_xattr_entry) + name_len +
				value_size, 4);
}

#define EROFS_NULL_ADDR 0xFFFFFFFFU /* a hole in a chunk map */

struct erofs_inode_chunk_index {
	__le16 startblk_hi;
	__le16 device_id;
	__le32 startblk_lo;
};

/*
 * The device table (INCOMPAT_DEVICE_TABLE): sb.extra_devices slots of this
 * form at byte devt_slotoff * EROFS_DEVT_SLOT_SIZE of the primary device.
 * Chunk indexes name a slot by device_id (slot + 1; the kernel masks the
 * id to the table's size rounded up to a power of two); block addresses of
 * device 0 in [uniaddr, uniaddr + blocks) also lie on a slot's device, and
 * a reader given no devices finds each device at uniaddr in the primary
 * (the kernel's flat device mode).
 */
#define EROFS_DEVT_SLOT_SIZE 128
#define EROFS_DEVICE_TAG_LEN 64

struct erofs_deviceslot {
	u8 tag[EROFS_DEVICE_TAG_LEN]; /* NUL-padded: digest, uuid or blob id */
	__le32 blocks_lo; /* size of the device in blocks */
	__le32 uniaddr_lo; /* its start in the unified address space */
	__le16 blocks_hi; /* with 48BIT */
	__le16 uniaddr_hi; /* with 48BIT */
	u8 reserved[52];
};

/*
 * A nid with this bit set names an inode whose record lies in the metabox
 * (INCOMPAT_METABOX): the other bits count 32-byte slots of the metabox
 * inode's data, not of the metadata area.
 */
#define EROFS_DIRENT_NID_METABOX_BIT 63
#define EROFS_DIRENT_NID_MASK ((1ULL << EROFS_DIRENT_NID_METABOX_BIT) - 1)

static inline bool erofs_nid_in_metabox(u64 nid)
{
	return nid >> EROFS_DIRENT_NID_METABOX_BIT;
}

struct erofs_dirent {
	__le64 nid;
	__le16 nameoff;
	u8 file_type;
	u8 reserved;
} __packed;

/* dirent file types, the kernel's FT_* values */
enum {
	EROFS_FT_UNKNOWN,
	EROFS_FT_REG_FILE,
	EROFS_FT_DIR,
	EROFS_FT_CHRDEV,
	EROFS_FT_BLKDEV,
	EROFS_FT_FIFO,
	EROFS_FT_SOCK,
	EROFS_FT_SYMLINK,
	EROFS_FT_MAX
};

#define EROFS_NAME_LEN 255
/* the most entries a directory block holds: each with a 1-byte name */
#define EROFS_DIRENTS_PER_BLOCK(blksz) \
	((blksz) / (sizeof(struct erofs_dirent) + 1))
/*
 * The longest symlink target Linux reads back (the VFS reads targets
 * through one page, NUL-terminated): PATH_MAX - 1.
 */
#define EROFS_SYMLINK_MAXLEN 4095

/* ---- compressed files ---- */

#define Z_EROFS_PCLUSTER_MAX_SIZE (1024 * 1024)
#define Z_EROFS_PCLUSTER_MAX_DSIZE (12 * 1024 * 1024)

enum {
	Z_EROFS_COMPRESSION_LZ4 = 0,
	Z_EROFS_COMPRESSION_LZMA = 1,
	Z_EROFS_COMPRESSION_DEFLATE = 2,
	Z_EROFS_COMPRESSION_ZSTD = 3,
	Z_EROFS_COMPRESSION_MAX
};
#define Z_EROFS_ALL_COMPR_ALGS ((1 << Z_EROFS_COMPRESSION_MAX) - 1)

/* compression configs follow the superblock, each after a __le16 size */
struct z_erofs_lz4_cfgs {
	__le16 max_distance;
	__le16 max_pclusterblks;
	u8 reserved[10];
} __packed;

struct z_erofs_lzma_cfgs {
	__le32 dict_size;
	__le16 format;
	u8 reserved[8];
} __packed;

#define Z_EROFS_LZMA_MIN_DICT_SIZE 4096
#define Z_EROFS_LZMA_MAX_DICT_SIZE (8 * Z_EROFS_PCLUSTER_MAX_SIZE)

struct z_erofs_deflate_cfgs {
	u8 windowbits;
	u8 reserved[5];
} __packed;

struct z_erofs_zstd_cfgs {
	u8 format;
	u8 windowlog; /* window log minus 10 */
	u8 reserved[4];
} __packed;

#define Z_EROFS_ZSTD_MAX_DICT_SIZE Z_EROFS_PCLUSTER_MAX_SIZE
/* the largest deflate window (zlib's MAX_WBITS) the kernel inflates with */
#define Z_EROFS_DEFLATE_MAX_WINDOWBITS 15

#define Z_EROFS_ADVISE_COMPACTED_2B 0x0001 /* compact indexes */
#define Z_EROFS_ADVISE_EXTENTS 0x0001 /* full indexes */
#define Z_EROFS_ADVISE_BIG_PCLUSTER_1 0x0002
#define Z_EROFS_ADVISE_BIG_PCLUSTER_2 0x0004
#define Z_EROFS_ADVISE_INLINE_PCLUSTER 0x0008
#define Z_EROFS_ADVISE_INTERLACED_PCLUSTER 0x0010
#define Z_EROFS_ADVISE_FRAGMENT_PCLUSTER 0x0020
#define Z_EROFS_ADVISE_EXTRECSZ_BIT 1
#define Z_EROFS_ADVISE_EXTRECSZ_MASK 0x3

#define Z_EROFS_FRAGMENT_INODE_BIT 7

struct z_erofs_map_header {
	union {
		__le32 h_fragmentoff; /* fragment offset in the packed inode */
		struct {
			__le16 h_reserved1;
			__le16 h_idata_size; /* size of the inline pcluster */
		} __packed;
		__le32 h_extents_lo;
	} __packed;
	__le16 h_advise;
	u8 h_algorithmtype; /* bits 0-3: HEAD1, bits 4-7: HEAD2 */
	u8 h_clusterbits; /* bits 0-3: lclusterbits - blkszbits */
} __packed;

enum {
	Z_EROFS_LCLUSTER_TYPE_PLAIN = 0,
	Z_EROFS_LCLUSTER_TYPE_HEAD1 = 1,
	Z_EROFS_LCLUSTER_TYPE_NONHEAD = 2,
	Z_EROFS_LCLUSTER_TYPE_HEAD2 = 3,
	Z_EROFS_LCLUSTER_TYPE_MAX
};

#define Z_EROFS_LI_LCLUSTER_TYPE_MASK (Z_EROFS_LCLUSTER_TYPE_MAX - 1)
#define Z_EROFS_LI_PARTIAL_REF (1 << 15)
/* a head whose cluster holds no data: the extent reads as zeroes */
#define Z_EROFS_LI_HOLE (1 << 14)
#define Z_EROFS_LI_D0_CBLKCNT (1 << 11)

struct z_erofs_lcluster_index {
	__le16 di_advise;
	__le16 di_clusterofs;
	union {
		__le32 blkaddr; /* HEAD lclusters */
		__le16 delta[2]; /* NONHEAD: to own head, to next head */
	} di_u;
};

/* where the map header and full indexes start after the inode */
static inline erofs_off_t z_erofs_map_header_pos(erofs_off_t xattr_end)
{
	return round_up(xattr_end, 8);
}

/*
 * From the map header: compact indexes and extent records follow it
 * (records aligned to their size), full indexes follow 8 reserved bytes
 * after it; a map that is a whole fragment is the header and those bytes.
 */
#define Z_EROFS_COMPACT_INDEX_OFFSET sizeof(struct z_erofs_map_header)

/*
 * Compact indexes come in packs: 4B packs of 2 lclusters in 8 bytes, and
 * (Z_EROFS_ADVISE_COMPACTED_2B) 2B packs of 16 lclusters in 32 bytes,
 * which start 32-byte aligned. Each pack ends with the __le32 block
 * address its heads count from; the rest holds a slot per lcluster.
 */
#define Z_EROFS_COMPACT_4B_LCLUSTERS 2
#define Z_EROFS_COMPACT_4B_PACK_SIZE 8
#define Z_EROFS_COMPACT_2B_LCLUSTERS 16
#define Z_EROFS_COMPACT_2B_PACK_SIZE 32
#define Z_EROFS_FULL_INDEX_OFFSET (sizeof(struct z_erofs_map_header) + 8)

#define Z_EROFS_EXTENT_PLEN_PARTIAL (1U << 27)
#define Z_EROFS_EXTENT_PLEN_FMT_BIT 28
#define Z_EROFS_EXTENT_PLEN_MASK ((Z_EROFS_PCLUSTER_MAX_SIZE << 1) - 1)

struct z_erofs_extent {
	__le32 plen;
	__le32 pstart_lo;
	__le32 pstart_hi;
	__le32 lstart_lo;
	__le32 lstart_hi;
	u8 reserved[12];
};

/* one statement that the structures above are exactly the disk's */
_Static_assert(sizeof(struct erofs_super_block) == 144, "superblock");
_Static_assert(offsetof(struct erofs_super_block, ishare_xattr_prefix_id) ==
		       0x69,
	       "ishare prefix id");
_Static_assert(offsetof(struct erofs_super_block, build_time) == 108,
	       "build time");
_Static_assert(offsetof(struct erofs_super_block, metabox_nid) ==
		       EROFS_SUPER_BASE_SIZE,
	       "extension slot");
_Static_assert(sizeof(struct erofs_inode_compact) == 32, "compact inode");
_Static_assert(sizeof(struct erofs_inode_extended) == 64, "extended inode");
_Static_assert(sizeof(struct erofs_xattr_ibody_header) == 12, "ibody header");
_Static_assert(sizeof(struct erofs_xattr_entry) == 4, "xattr entry");
_Static_assert(sizeof(struct erofs_inode_chunk_info) == 4, "chunk info");
_Static_assert(sizeof(struct erofs_inode_chunk_index) == 8, "chunk index");
_Static_assert(sizeof(struct erofs_dirent) == 12, "dirent");
_Static_assert(sizeof(struct erofs_deviceslot) == EROFS_DEVT_SLOT_SIZE,
	       "device slot");
_Static_assert(sizeof(struct z_erofs_map_header) == 8, "map header");
_Static_assert(sizeof(struct z_erofs_lcluster_index) == 8, "lcluster index");
_Static_assert(sizeof(struct z_erofs_lz4_cfgs) == 14, "lz4 cfgs");
_Static_assert(sizeof(struct z_erofs_lzma_cfgs) == 14, "lzma cfgs");
_Static_assert(sizeof(struct z_erofs_deflate_cfgs) == 6, "deflate cfgs");
_Static_assert(sizeof(struct z_erofs_zstd_cfgs) == 6, "zstd cfgs");
_Static_assert(sizeof(struct z_erofs_extent) == 32, "extent");

/*
 * Values of system.posix_acl_access / system.posix_acl_default: the kernel
 * decodes them with its generic POSIX ACL xattr reader, so they are stored
 * in that little-endian form: a version header, then entries sorted by tag
 * and, for named users and groups, by id.
 */
#define EROFS_ACL_XATTR_VERSION 2
#define EROFS_ACL_UNDEFINED_ID 0xffffffffU

enum {
	EROFS_ACL_USER_OBJ = 0x01,
	EROFS_ACL_USER = 0x02,
	EROFS_ACL_GROUP_OBJ = 0x04,
	EROFS_ACL_GROUP = 0x08,
	EROFS_ACL_MASK = 0x10,
	EROFS_ACL_OTHER = 0x20,
};

struct erofs_acl_xattr_header {
	__le32 a_version;
};

struct erofs_acl_xattr_entry {
	__le16 e_tag;
	__le16 e_perm;
	__le32 e_id;
};

_Static_assert(sizeof(struct erofs_acl_xattr_header) == 4, "acl header");
_Static_assert(sizeof(struct erofs_acl_xattr_entry) == 8, "acl entry");

/* Linux's new_encode_dev(): 12-bit major, 20-bit minor split around it */
static inline u32 erofs_encode_dev(u32 major, u32 minor)
{
	return (minor & 0xff) | (major << 8) | ((minor & ~0xffU) << 12);
}

static inline u32 erofs_dev_major(u32 dev)
{
	return (dev & 0xfff00) >> 8;
}

static inline u32 erofs_dev_minor(u32 dev)
{
	return (dev & 0xff) | ((dev >> 12) & 0xfff00);
}

#endif
