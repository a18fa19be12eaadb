// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Chunk-based files: chunk maps and indexes, and the chunk pass of mkfs
 * (--chunksize, --blobdev) that stores each distinct chunk once.
 *
 * The pass runs in three steps so that addresses never depend on thread
 * timing: worker threads hash every chunk (and the file's fingerprint in
 * the same read), the calling thread then walks the files in tree order
 * and decides which chunks are stored where, and worker threads finally
 * copy the stored chunks. The copy reads the sources a second time, from
 * the page cache for all but the largest trees.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "erofs/array.h"
#include "erofs/chunk.h"
#include "erofs/error.h"
#include "erofs/fingerprint.h"
#include "erofs/parallel.h"
#include "erofs/stages.h"

/* Read and hash in pieces that stay in the core's cache. */
#define CHUNK_BUFSZ (256U << 10)

static void chunk_entry_encode(u8 *p, bool indexes, u16 device, u64 blk)
{
	if (!indexes) {
		__le32 v = cpu_to_le32(blk == EROFS_EXT_HOLE ? EROFS_NULL_ADDR
							     : (u32)blk);

		memcpy(p, &v, sizeof(v));
	} else {
		struct erofs_inode_chunk_index ci = {
			.device_id =
				cpu_to_le16(blk == EROFS_EXT_HOLE ? 0 : device),
			.startblk_lo = cpu_to_le32(blk == EROFS_EXT_HOLE
							   ? EROFS_NULL_ADDR
							   : (u32)blk),
		};

		memcpy(p, &ci, sizeof(ci));
	}
}

int erofs_chunk_set_layout(struct erofs_build *b, struct erofs_node *n,
			   unsigned int chunkbits, const u64 *blk, u64 nchunks,
			   u16 device, bool indexes)
{
	struct erofs_node_layout *L = &n->L;
	unsigned int blkbits = b->opts->blkszbits, unit, pad = 0;
	u64 bytes;
	char path[PATH_MAX];

	if (device)
		indexes = true;
	unit = erofs_chunk_unit(indexes);
	for (u64 i = 0; i < nchunks; i++)
		if (blk[i] != EROFS_EXT_HOLE && blk[i] >= EROFS_NULL_ADDR)
			return erofs_fail(
				-EFBIG,
				"%s: chunk at block %llu: 32-bit block addresses end at 4294967294",
				erofs_node_path(n, path, sizeof(path)),
				(unsigned long long)blk[i]);
	/* the kernel finds the map at the next multiple of its entry size */
	if (indexes && (L->inode_size + L->xattr_size) % unit)
		pad = unit - (L->inode_size + L->xattr_size) % unit;
	bytes = pad + nchunks * unit;
	if (bytes > UINT32_MAX / 2)
		return erofs_fail(-EFBIG, "%s: chunk map too large",
				  erofs_node_path(n, path, sizeof(path)));
	free(L->extra);
	L->extra = calloc(1, bytes);
	if (!L->extra)
		return -ENOMEM;
	for (u64 i = 0; i < nchunks; i++)
		chunk_entry_encode(L->extra + pad + i * unit, indexes, device,
				   blk[i]);
	L->extra_size = bytes;
	L->datalayout = EROFS_INODE_CHUNK_BASED;
	L->chunkbits = chunkbits - blkbits;
	L->i_u_format =
		L->chunkbits | (indexes ? EROFS_CHUNK_FORMAT_INDEXES : 0);
	L->inline_size = 0;
	L->nblocks = 0;
	L->blkaddr = 0;
	b->feature_incompat |= EROFS_FEATURE_INCOMPAT_CHUNKED_FILE;
	return 0;
}

u64 erofs_chunk_layout_blk(const struct erofs_node *n, unsigned int blkszbits,
			   u64 i)
{
	const struct erofs_node_layout *L = &n->L;
	bool indexes = L->i_u_format & EROFS_CHUNK_FORMAT_INDEXES;
	unsigned int unit = erofs_chunk_unit(indexes);
	u64 nchunks = DIV_ROUND_UP(n->size, 1ULL << (L->chunkbits + blkszbits));
	const u8 *p = L->extra + (L->extra_size - nchunks * unit) + i * unit;
	u32 lo;

	if (indexes) {
		struct erofs_inode_chunk_index ci;

		memcpy(&ci, p, sizeof(ci));
		lo = le32_to_cpu(ci.startblk_lo);
	} else {
		__le32 v;

		memcpy(&v, p, sizeof(v));
		lo = le32_to_cpu(v);
	}
	return lo == EROFS_NULL_ADDR ? EROFS_EXT_HOLE : lo;
}

static unsigned int ceil_log2(u64 v)
{
	unsigned int bits = 0;

	while (bits < 63 && (1ULL << bits) < v)
		bits++;
	return bits;
}

/* The largest chunk the format allows: 2^31 blocks. */
static unsigned int max_chunkbits(const struct erofs_build *b)
{
	return b->opts->blkszbits + EROFS_CHUNK_FORMAT_BLKBITS_MASK;
}

int erofs_chunk_plan_external(struct erofs_build *b, struct erofs_node *n)
{
	struct erofs_ext_data *x = n->src.ext;
	unsigned int bits = x->chunkbits;
	u64 *blk = x->blk, nchunks = x->nchunks;
	int ret;

	if (!bits) {
		/*
		 * One run from blk1 (or one hole): chunks as large as the
		 * format allows.
		 */
		u64 cblocks;

		bits = max_t(unsigned int, ceil_log2(n->size),
			     b->opts->blkszbits);
		bits = min(bits, max_chunkbits(b));
		nchunks = DIV_ROUND_UP(n->size, 1ULL << bits);
		cblocks = 1ULL << (bits - b->opts->blkszbits);
		blk = malloc(nchunks * sizeof(*blk));
		if (!blk)
			return -ENOMEM;
		for (u64 i = 0; i < nchunks; i++)
			blk[i] = x->blk1 == EROFS_EXT_HOLE
					 ? EROFS_EXT_HOLE
					 : x->blk1 + i * cblocks;
	}
	if (nchunks != DIV_ROUND_UP(n->size, 1ULL << bits))
		return erofs_fail(
			-EINVAL,
			"external data map of %llu chunks does not cover %llu bytes",
			(unsigned long long)nchunks,
			(unsigned long long)n->size);
	/* chunks on an extra device need indexes; the image's, a map */
	ret = erofs_chunk_set_layout(b, n, bits, blk, nchunks, x->device,
				     x->device || b->opts->force_chunk_indexes);
	if (blk != x->blk)
		free(blk);
	return ret;
}

/*
 * ---- the chunk pass ----
 * Hash every chunk of the files the layout left pending (cpending),
 * choose which are stored (once each, holes for zeroes, in tree order:
 * the image does not depend on thread timing), merge runs into larger
 * chunks, and copy the stored chunks to the image or the blob device.
 */

struct chunk_file {
	struct erofs_node *n;
	u64 nchunks;
	u8 (*digest)[EROFS_SHA256_SIZE];
	bool *zero; /* reads as zeroes: a hole */
	u64 *blk;   /* chosen blocks, EROFS_EXT_HOLE for holes */
};

/* A stored chunk: chunk "chunk" of file "f" goes to block "blk". */
struct chunk_copy {
	struct chunk_file *f;
	u64 chunk;
	u64 blk;
};

struct chunk_pass {
	struct erofs_build *b;
	unsigned int chunkbits;
	u64 csize;
	struct chunk_file *files;
	u64 nfiles;
	struct chunk_copy *copies;
	u64 ncopies;
	struct erofs_output *dst; /* the image or the blob */
	u16 device;		  /* 0, or the blob device's id */
	bool indexes;
	u64 dedupe_bytes; /* chunk bytes not stored twice */
};

struct chunk_worker {
	struct erofs_sha256 chunk_sha, file_sha;
	u8 *buf;
};

static int worker_init(void *ctx, void *w)
{
	struct chunk_pass *p = ctx;
	struct chunk_worker *cw = w;
	int ret;

	cw->buf = malloc(CHUNK_BUFSZ);
	if (!cw->buf)
		return -ENOMEM;
	if (p->b->opts->no_chunk_dedupe)
		ret = 0;
	else
		ret = erofs_sha256_init(&cw->chunk_sha);
	if (!ret && p->b->opts->ishare)
		ret = erofs_sha256_init(&cw->file_sha);
	return ret;
}

static int copier_init(void *ctx, void *w)
{
	struct chunk_worker *cw = w;

	cw->buf = malloc(CHUNK_BUFSZ);
	return cw->buf ? 0 : -ENOMEM;
}

static void worker_exit(void *ctx, void *w)
{
	struct chunk_worker *cw = w;

	free(cw->buf);
	if (cw->chunk_sha.ctx)
		erofs_sha256_free(&cw->chunk_sha);
	if (cw->file_sha.ctx)
		erofs_sha256_free(&cw->file_sha);
}

static bool all_zero(const u8 *p, size_t len)
{
	static const u8 zeroes[256];

	while (len >= sizeof(zeroes)) {
		if (memcmp(p, zeroes, sizeof(zeroes)))
			return false;
		p += sizeof(zeroes);
		len -= sizeof(zeroes);
	}
	return !len || !memcmp(p, zeroes, len);
}

/* Hash "len" zero bytes into the file's fingerprint. */
static void hash_zeroes(struct chunk_worker *w, u64 len)
{
	static const u8 zeroes[65536];

	while (len) {
		size_t n = min_t(u64, len, sizeof(zeroes));

		erofs_sha256_update(&w->file_sha, zeroes, n);
		len -= n;
	}
}

/* Step one, per file: which chunks hold data, and their digests. */
static int hash_file(void *ctx, void *wp, u64 i)
{
	struct chunk_pass *p = ctx;
	struct chunk_worker *w = wp;
	struct chunk_file *f = &p->files[i];
	struct erofs_node *n = f->n;
	struct erofs_data_range one = { 0, n->size }, *r = &one;
	bool dedupe = !p->b->opts->no_chunk_dedupe;
	struct erofs_data_src s;
	u64 nr = 1, cursor = 0;
	int ret;

	ret = erofs_src_open(p->b, n, &s);
	if (ret)
		return ret;
	if (n->maybe_sparse) {
		ret = erofs_src_data_ranges(s.fd, s.base, n->size, s.path, &r,
					    &nr);
		if (ret) {
			erofs_src_close(&s);
			return ret;
		}
	}
	for (u64 c = 0; c < f->nchunks && !ret; c++) {
		u64 start = c * p->csize, end = min(start + p->csize, n->size);
		bool zero = true;

		if (!erofs_ranges_meet(r, nr, &cursor, start, end)) {
			f->zero[c] = true;
			if (n->has_fingerprint)
				hash_zeroes(w, end - start);
			continue;
		}
		for (u64 pos = start; pos < end && !ret;) {
			size_t len = min_t(u64, end - pos, CHUNK_BUFSZ);

			ret = erofs_src_read(&s, w->buf, len, pos);
			if (ret)
				break;
			if (dedupe)
				erofs_sha256_update(&w->chunk_sha, w->buf, len);
			if (n->has_fingerprint)
				erofs_sha256_update(&w->file_sha, w->buf, len);
			if (zero)
				zero = all_zero(w->buf, len);
			pos += len;
		}
		if (dedupe)
			erofs_sha256_final(&w->chunk_sha, f->digest[c]);
		f->zero[c] = zero;
	}
	if (!ret)
		ret = erofs_src_check_end(&s, n->size);
	if (!ret && n->has_fingerprint) {
		erofs_sha256_final(&w->file_sha, n->fingerprint);
		n->fingerprint_known = true;
	}
	if (r != &one)
		free(r);
	erofs_src_close(&s);
	return ret;
}

static u64 file_weight(void *ctx, u64 i)
{
	struct chunk_pass *p = ctx;

	return p->files[i].n->size;
}

/* Stored chunks by digest, for dedupe: open addressing on the digest. */
struct chunk_table {
	struct chunk_slot {
		const u8 *digest; /* NULL: free */
		u64 blk;
	} * slots;
	u64 cap, used;
};

static u64 digest_hash(const u8 *d)
{
	u64 h;

	memcpy(&h, d, sizeof(h)); /* SHA-256 bytes are uniform already */
	return h;
}

static int table_grow(struct chunk_table *t)
{
	u64 cap = t->cap ? t->cap * 2 : 1024;
	struct chunk_slot *s = calloc(cap, sizeof(*s));

	if (!s)
		return -ENOMEM;
	for (u64 i = 0; i < t->cap; i++) {
		u64 j;

		if (!t->slots[i].digest)
			continue;
		j = digest_hash(t->slots[i].digest) & (cap - 1);
		while (s[j].digest)
			j = (j + 1) & (cap - 1);
		s[j] = t->slots[i];
	}
	free(t->slots);
	t->slots = s;
	t->cap = cap;
	return 0;
}

/* The slot for "digest": found (digest set) or free. */
static struct chunk_slot *table_find(struct chunk_table *t, const u8 *digest)
{
	u64 j = digest_hash(digest) & (t->cap - 1);

	while (t->slots[j].digest &&
	       memcmp(t->slots[j].digest, digest, EROFS_SHA256_SIZE))
		j = (j + 1) & (t->cap - 1);
	return &t->slots[j];
}

static int add_copy(struct chunk_pass *p, u64 *cap, struct chunk_file *f, u64 c,
		    u64 blk)
{
	int ret = erofs_grow_array(&p->copies, cap, p->ncopies + 1,
				   sizeof(*p->copies));

	if (ret)
		return ret;
	p->copies[p->ncopies++] = (struct chunk_copy){ f, c, blk };
	return 0;
}

/*
 * Step two, in tree order: holes for zero chunks, an earlier chunk for a
 * digest seen before, new blocks for the rest.
 */
static int choose_blocks(struct chunk_pass *p)
{
	struct erofs_build *b = p->b;
	struct chunk_table t = { 0 };
	u64 *cursor = p->device ? &b->blob_blocks : &b->next_blkaddr;
	u64 cblocks = p->csize >> b->opts->blkszbits, copies_cap = 0;
	bool dedupe = !b->opts->no_chunk_dedupe;
	u32 dsunit = b->opts->dsunit;
	int ret = 0;

	if (dedupe)
		ret = table_grow(&t);
	for (u64 i = 0; i < p->nfiles && !ret; i++) {
		struct chunk_file *f = &p->files[i];
		bool aligned = false;

		for (u64 c = 0; c < f->nchunks && !ret; c++) {
			u64 len = min(p->csize, f->n->size - c * p->csize);
			struct chunk_slot *s = NULL;

			if (f->zero[c]) {
				f->blk[c] = EROFS_EXT_HOLE;
				continue;
			}
			if (dedupe) {
				s = table_find(&t, f->digest[c]);
				if (s->digest) {
					f->blk[c] = s->blk;
					p->dedupe_bytes += len;
					continue;
				}
			}
			/* a file's stored run starts on a stripe unit */
			if (!aligned && dsunit > 1 && dsunit <= cblocks)
				*cursor = round_up(*cursor, dsunit);
			aligned = true;
			f->blk[c] = *cursor;
			*cursor += DIV_ROUND_UP(len, b->blksz);
			ret = add_copy(p, &copies_cap, f, c, f->blk[c]);
			if (!ret && s) {
				s->digest = f->digest[c];
				s->blk = f->blk[c];
				if (++t.used * 2 > t.cap)
					ret = table_grow(&t);
			}
		}
	}
	free(t.slots);
	return ret;
}

/*
 * The largest chunk that still maps each chunk to one run of blocks (or
 * one hole): fewer map entries for files stored whole.
 */
static unsigned int merged_bits(const struct chunk_pass *p,
				const struct chunk_file *f)
{
	unsigned int k = 0;
	u64 cblocks = p->csize >> p->b->opts->blkszbits;

	while (p->chunkbits + k < max_chunkbits(p->b) &&
	       (1ULL << k) < f->nchunks) {
		u64 group = 1ULL << (k + 1);
		bool ok = true;

		for (u64 g = 0; g < f->nchunks && ok; g += group) {
			u64 first = f->blk[g];

			for (u64 j = 1; j < group && g + j < f->nchunks; j++) {
				u64 want = first == EROFS_EXT_HOLE
						   ? EROFS_EXT_HOLE
						   : first + j * cblocks;

				if (f->blk[g + j] != want) {
					ok = false;
					break;
				}
			}
		}
		if (!ok)
			break;
		k++;
	}
	return k;
}

static int settle_layouts(struct chunk_pass *p)
{
	for (u64 i = 0; i < p->nfiles; i++) {
		struct chunk_file *f = &p->files[i];
		unsigned int k = merged_bits(p, f);
		u64 n = DIV_ROUND_UP(f->nchunks, 1ULL << k);
		int ret;

		/* the first chunk of each group names the group */
		for (u64 j = 0; j < n; j++)
			f->blk[j] = f->blk[j << k];
		ret = erofs_chunk_set_layout(p->b, f->n, p->chunkbits + k,
					     f->blk, n, p->device, p->indexes);
		if (ret)
			return ret;
		f->n->L.cpending = false;
	}
	return 0;
}

/* Step three: one stored chunk. */
static int copy_chunk(void *ctx, void *wp, u64 i)
{
	struct chunk_pass *p = ctx;
	struct chunk_worker *w = wp;
	struct chunk_copy *cc = &p->copies[i];
	struct erofs_node *n = cc->f->n;
	u64 start = cc->chunk * p->csize;
	u64 len = min(p->csize, n->size - start);
	u64 pos = cc->blk << p->b->opts->blkszbits;
	struct erofs_data_src s;
	int ret;

	ret = erofs_src_open(p->b, n, &s);
	if (ret)
		return ret;
	ret = erofs_src_copy(&s, p->dst, start, len, pos, w->buf, CHUNK_BUFSZ);
	erofs_src_close(&s);
	return ret;
}

static u64 copy_weight(void *ctx, u64 i)
{
	struct chunk_pass *p = ctx;
	struct chunk_copy *cc = &p->copies[i];

	return min(p->csize, cc->f->n->size - cc->chunk * p->csize);
}

static void free_files(struct chunk_pass *p)
{
	for (u64 i = 0; i < p->nfiles; i++) {
		free(p->files[i].digest);
		free(p->files[i].zero);
		free(p->files[i].blk);
	}
	free(p->files);
	free(p->copies);
}

static int collect_files(struct chunk_pass *p)
{
	struct erofs_tree *t = p->b->tree;
	bool dedupe = !p->b->opts->no_chunk_dedupe;

	for (u64 i = 0; i < t->nr_order; i++)
		p->nfiles += t->order[i]->L.cpending;
	if (!p->nfiles)
		return 0;
	p->files = calloc(p->nfiles, sizeof(*p->files));
	if (!p->files)
		return -ENOMEM;
	p->nfiles = 0;
	for (u64 i = 0; i < t->nr_order; i++) {
		struct erofs_node *n = t->order[i];
		struct chunk_file *f;

		if (!n->L.cpending)
			continue;
		f = &p->files[p->nfiles++];
		f->n = n;
		f->nchunks = DIV_ROUND_UP(n->size, p->csize);
		f->zero = calloc(f->nchunks, sizeof(*f->zero));
		f->blk = malloc(f->nchunks * sizeof(*f->blk));
		if (dedupe)
			f->digest = malloc(f->nchunks * sizeof(*f->digest));
		if (!f->zero || !f->blk || (dedupe && !f->digest))
			return -ENOMEM;
	}
	return 0;
}

int erofs_write_chunked(struct erofs_build *b)
{
	struct chunk_pass p = {
		.b = b,
		.chunkbits = b->opts->chunkbits,
		.csize = 1ULL << b->opts->chunkbits,
		.dst = b->out,
		.indexes = b->opts->force_chunk_indexes,
	};
	struct erofs_parallel run = {
		.ctx = &p,
		.wsize = sizeof(struct chunk_worker),
		.winit = worker_init,
		.wexit = worker_exit,
	};
	int ret;

	if (!b->opts->chunkbits)
		return 0;
	if (b->opts->blobdev) {
		p.dst = &b->blob;
		p.device = b->ndevs; /* the blob is the last device */
	}
	ret = collect_files(&p);
	if (ret || !p.nfiles)
		goto out;
	if (!b->opts->no_chunk_dedupe && !erofs_sha256_available()) {
		ret = erofs_fail(
			-EOPNOTSUPP,
			"--chunksize: deduplicating chunks needs SHA-256, and this build has no OpenSSL libcrypto (use -E^dedupe)");
		goto out;
	}
	run.njobs = p.nfiles;
	run.nworkers = erofs_data_workers(b, p.nfiles);
	run.run = hash_file;
	run.what = "hashing chunks (MiB)";
	run.weight = file_weight;
	for (u64 i = 0; i < p.nfiles; i++)
		run.total += p.files[i].n->size;
	ret = erofs_parallel_run(&run);
	if (!ret)
		ret = choose_blocks(&p);
	if (!ret)
		ret = settle_layouts(&p);
	if (ret)
		goto out;
	run.njobs = p.ncopies;
	run.nworkers = erofs_data_workers(b, p.ncopies);
	run.winit = copier_init; /* a buffer, no digests */
	run.run = copy_chunk;
	run.what = "writing chunks (MiB)";
	run.weight = copy_weight;
	run.total = 0;
	for (u64 i = 0; i < p.ncopies; i++)
		run.total += copy_weight(&p, i);
	ret = erofs_parallel_run(&run);
	if (!ret && p.dedupe_bytes)
		erofs_info("chunks: %llu bytes deduplicated",
			   (unsigned long long)p.dedupe_bytes);
out:
	free_files(&p);
	return ret;
}
