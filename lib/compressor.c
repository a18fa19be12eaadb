// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Compressor selection: the -z syntax, the table of built-in compressors,
 * per-image settings (dictionary sizes, config records after the
 * superblock) and --compress-hints.
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "erofs/compress.h"
#include "erofs/error.h"
#include "erofs/format.h"

/*
 * The default lzma dictionary: four physical clusters, within the format's
 * bound, and never under 32 KiB (erofs-utils' choice: the same images).
 */
#define LZMA_DEFAULT_DICT_FLOOR 32768

static const struct erofs_compressor_ops *const compressors[EROFS_COMPRESSOR_NR] = {
#ifdef HAVE_LZ4
	[EROFS_COMPRESSOR_LZ4] = &erofs_lz4_ops,
	[EROFS_COMPRESSOR_LZ4HC] = &erofs_lz4hc_ops,
#endif
#ifdef HAVE_LZMA
	[EROFS_COMPRESSOR_LZMA] = &erofs_lzma_ops,
#endif
#ifdef HAVE_ZSTD
	[EROFS_COMPRESSOR_ZSTD] = &erofs_zstd_ops,
#endif
#if defined(HAVE_LIBDEFLATE) || defined(HAVE_ZLIB)
	[EROFS_COMPRESSOR_DEFLATE] = &erofs_deflate_ops,
#endif
#ifdef HAVE_LIBDEFLATE
	[EROFS_COMPRESSOR_LIBDEFLATE] = &erofs_libdeflate_ops,
#endif
};

static const char *const names[EROFS_COMPRESSOR_NR] = {
	[EROFS_COMPRESSOR_LZ4] = "lz4",
	[EROFS_COMPRESSOR_LZ4HC] = "lz4hc",
	[EROFS_COMPRESSOR_LZMA] = "lzma",
	[EROFS_COMPRESSOR_ZSTD] = "zstd",
	[EROFS_COMPRESSOR_DEFLATE] = "deflate",
	[EROFS_COMPRESSOR_LIBDEFLATE] = "libdeflate",
};

static const u8 disk_algs[EROFS_COMPRESSOR_NR] = {
	[EROFS_COMPRESSOR_LZ4] = Z_EROFS_COMPRESSION_LZ4,
	[EROFS_COMPRESSOR_LZ4HC] = Z_EROFS_COMPRESSION_LZ4,
	[EROFS_COMPRESSOR_LZMA] = Z_EROFS_COMPRESSION_LZMA,
	[EROFS_COMPRESSOR_ZSTD] = Z_EROFS_COMPRESSION_ZSTD,
	[EROFS_COMPRESSOR_DEFLATE] = Z_EROFS_COMPRESSION_DEFLATE,
	[EROFS_COMPRESSOR_LIBDEFLATE] = Z_EROFS_COMPRESSION_DEFLATE,
};

const char *erofs_compressor_name(unsigned int kind)
{
	return kind < EROFS_COMPRESSOR_NR ? names[kind] : "?";
}

bool erofs_compressor_available(unsigned int kind)
{
	return kind < ARRAY_SIZE(compressors) && compressors[kind];
}

unsigned int erofs_compressor_disk_alg(unsigned int kind)
{
	return disk_algs[kind];
}

static int parse_u32(const char *s, size_t len, u32 *out)
{
	char buf[32], *end;
	unsigned long long v;

	if (!len || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	v = strtoull(buf, &end, 0);
	if (errno || *buf == '-')
		return -EINVAL;
	if (*end == 'k' || *end == 'K')
		v <<= 10, end++;
	else if (*end == 'm' || *end == 'M')
		v <<= 20, end++;
	if (*end || v > UINT32_MAX)
		return -EINVAL;
	*out = v;
	return 0;
}

/* What a build without compressor "kind" lacked. */
static const char *unbuilt_hint(unsigned int kind)
{
	switch (kind) {
	case EROFS_COMPRESSOR_DEFLATE:
		return " (configure found neither libdeflate nor zlib)";
	case EROFS_COMPRESSOR_LIBDEFLATE:
		return " (configure did not find libdeflate; -zdeflate may still work)";
	default:
		return "";
	}
}

/* One alternative: NAME[,N][,level=N][,dictsize=S] */
static int parse_one(struct erofs_zparam *p, const char *s, size_t len)
{
	const char *comma = memchr(s, ',', len);
	size_t nlen = comma ? (size_t)(comma - s) : len;
	unsigned int k;

	for (k = 0; k < EROFS_COMPRESSOR_NR; k++)
		if (strlen(names[k]) == nlen && !memcmp(names[k], s, nlen))
			break;
	if (k == EROFS_COMPRESSOR_NR)
		return erofs_fail(-EINVAL, "unknown compressor '%.*s'",
				  (int)nlen, s);
	if (!erofs_compressor_available(k))
		return erofs_fail(-EOPNOTSUPP,
				  "compressor '%s' is not built in%s",
				  names[k], unbuilt_hint(k));
	p->kind = k;
	p->level = -1;
	p->dictsize = 0;
	while (comma) {
		const char *opt = comma + 1, *end = s + len;
		size_t olen;
		u32 v;

		comma = memchr(opt, ',', end - opt);
		olen = comma ? (size_t)(comma - opt) : (size_t)(end - opt);
		if (olen > 6 && !memcmp(opt, "level=", 6)) {
			if (parse_u32(opt + 6, olen - 6, &v) || v > INT32_MAX)
				goto bad;
			p->level = v;
		} else if (olen > 9 && !memcmp(opt, "dictsize=", 9)) {
			if (parse_u32(opt + 9, olen - 9, &v))
				goto bad;
			p->dictsize = v;
		} else if (olen && opt[0] >= '0' && opt[0] <= '9') {
			/* the older NAME,LEVEL spelling */
			if (parse_u32(opt, olen, &v) || v > INT32_MAX)
				goto bad;
			p->level = v;
		} else {
			goto bad;
		}
		continue;
bad:
		return erofs_fail(-EINVAL, "invalid compressor option '%.*s'",
				  (int)olen, opt);
	}
	if (p->level > compressors[k]->max_level)
		return erofs_fail(-EINVAL,
				  "%s: level %d out of range (maximum %d)",
				  names[k], p->level, compressors[k]->max_level);
	/* as in erofs-utils, whose deflate encoder has no level 0 */
	if (k == EROFS_COMPRESSOR_DEFLATE && !p->level)
		return erofs_fail(-EINVAL,
				  "deflate: level 0 (store only) is not supported, use 1..9");
	return 0;
}

int erofs_compress_add_alg(struct erofs_compress_opts *o, const char *arg,
			   unsigned int *index)
{
	struct erofs_zparam p;
	int ret = parse_one(&p, arg, strlen(arg));

	if (ret)
		return ret;
	for (*index = 0; *index < o->nalgs; ++*index)
		if (o->algs[*index].kind == p.kind &&
		    o->algs[*index].level == p.level &&
		    o->algs[*index].dictsize == p.dictsize)
			return 0;
	if (o->nalgs >= EROFS_MAX_COMPR_CFGS)
		return erofs_fail(-EINVAL,
				  "at most %d compression alternatives",
				  EROFS_MAX_COMPR_CFGS);
	o->algs[o->nalgs++] = p;
	return 0;
}

int erofs_compress_parse_algs(struct erofs_compress_opts *o, const char *arg)
{
	const char *s = arg;

	o->nalgs = 0;
	for (;;) {
		const char *colon = strchr(s, ':');
		size_t len = colon ? (size_t)(colon - s) : strlen(s);
		int ret;

		if (o->nalgs >= EROFS_MAX_COMPR_CFGS)
			return erofs_fail(-EINVAL,
					  "at most %d compression alternatives",
					  EROFS_MAX_COMPR_CFGS);
		ret = parse_one(&o->algs[o->nalgs], s, len);
		if (ret)
			return ret;
		o->nalgs++;
		if (!colon)
			break;
		s = colon + 1;
	}
	return 0;
}

int erofs_compress_load_hints(struct erofs_compress_opts *o, const char *path,
			      unsigned int blksz)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	unsigned int lineno = 0;
	int ret = 0;

	if (!f)
		return erofs_fail(-errno, "%s: %s", path, strerror(errno));
	while (getline(&line, &cap, f) >= 0) {
		char *tok[3], *save = NULL, *p;
		unsigned int n = 0;
		struct erofs_zhint *h;
		u32 size, alg = 0;
		int rc;

		lineno++;
		p = strchr(line, '\n');
		if (p)
			*p = '\0';
		p = line + strspn(line, " \t");
		if (!*p || *p == '#')
			continue;
		for (char *t = strtok_r(p, " \t", &save); t && n < 3;
		     t = strtok_r(NULL, " \t", &save))
			tok[n++] = t;
		if (n < 2 || parse_u32(tok[0], strlen(tok[0]), &size)) {
			ret = erofs_fail(-EINVAL,
					 "%s:%u: expected '<pcluster bytes> [algorithm index] <regex>'",
					 path, lineno);
			break;
		}
		/* as erofs-utils: such a line is left out, with a word */
		if (size % blksz) {
			erofs_warn("%s:%u: physical cluster size %u is not a multiple of the block size %u: line skipped",
				   path, lineno, size, blksz);
			continue;
		}
		if (n == 3 && (parse_u32(tok[1], strlen(tok[1]), &alg) ||
			       alg >= o->nalgs)) {
			ret = erofs_fail(-EINVAL,
					 "%s:%u: no compression alternative %s",
					 path, lineno, tok[1]);
			break;
		}
		if (size > Z_EROFS_PCLUSTER_MAX_SIZE) {
			ret = erofs_fail(-EINVAL,
					 "%s:%u: pcluster size %u exceeds %u",
					 path, lineno, size,
					 Z_EROFS_PCLUSTER_MAX_SIZE);
			break;
		}
		h = realloc(o->hints, (o->nhints + 1) * sizeof(*h));
		if (!h) {
			ret = -ENOMEM;
			break;
		}
		o->hints = h;
		h = &o->hints[o->nhints];
		h->regex = malloc(sizeof(regex_t));
		if (!h->regex) {
			ret = -ENOMEM;
			break;
		}
		rc = regcomp(h->regex, tok[n - 1], REG_EXTENDED | REG_NOSUB);
		if (rc) {
			char why[256];

			regerror(rc, h->regex, why, sizeof(why));
			free(h->regex);
			erofs_warn("%s:%u: bad regex '%s': %s: line skipped",
				   path, lineno, tok[n - 1], why);
			continue;
		}
		h->pclusterblks = size / blksz;
		h->alg = alg;
		o->nhints++;
	}
	free(line);
	fclose(f);
	return ret;
}

void erofs_compress_opts_free(struct erofs_compress_opts *o)
{
	for (unsigned int i = 0; i < o->nhints; i++) {
		regfree(o->hints[i].regex);
		free(o->hints[i].regex);
	}
	free(o->hints);
	o->hints = NULL;
	o->nhints = 0;
}

static unsigned int ilog2_u32(u32 v)
{
	return 31 - __builtin_clz(v);
}

int erofs_zimage_init(struct erofs_zimage *zi,
		      const struct erofs_compress_opts *opts,
		      unsigned int blkszbits)
{
	u32 blksz = 1U << blkszbits, maxblks;

	memset(zi, 0, sizeof(*zi));
	zi->opts = opts;
	zi->blkszbits = blkszbits;
	if (opts->pclustersize % blksz)
		return erofs_fail(-EINVAL,
				  "physical cluster size %u is not a multiple of the block size %u",
				  opts->pclustersize, blksz);
	if (opts->pclustersize > Z_EROFS_PCLUSTER_MAX_SIZE)
		return erofs_fail(-EINVAL,
				  "physical cluster size %u exceeds %u",
				  opts->pclustersize,
				  Z_EROFS_PCLUSTER_MAX_SIZE);
	maxblks = opts->pclustersize ? opts->pclustersize / blksz : 1;
	for (unsigned int i = 0; i < opts->nhints; i++)
		maxblks = max(maxblks, opts->hints[i].pclusterblks);
	/* -E fragments=#: the packed inode's own cluster size */
	if ((opts->fragments || opts->all_fragments) &&
	    opts->packed_pclustersize)
		maxblks = max(maxblks, opts->packed_pclustersize / blksz);
	/* -m#: the metabox's, which may be larger than -C too */
	maxblks = max(maxblks, opts->metabox_pclustersize / blksz);
	zi->max_pclusterblks = maxblks;
	zi->big_pcluster = maxblks > 1;
	zi->need_cfgs = zi->big_pcluster;
	for (unsigned int i = 0; i < opts->nalgs; i++) {
		const struct erofs_zparam *p = &opts->algs[i];
		u32 pcl = maxblks << blkszbits, d = p->dictsize;

		zi->available_algs |= 1U << disk_algs[p->kind];
		if (disk_algs[p->kind] != Z_EROFS_COMPRESSION_LZ4)
			zi->need_cfgs = true;
		switch (p->kind) {
		case EROFS_COMPRESSOR_LZMA:
			if (!d)
				d = max_t(u32, min_t(u32, pcl << 2,
						     Z_EROFS_LZMA_MAX_DICT_SIZE),
					  LZMA_DEFAULT_DICT_FLOOR);
			if (d < Z_EROFS_LZMA_MIN_DICT_SIZE ||
			    d > Z_EROFS_LZMA_MAX_DICT_SIZE)
				return erofs_fail(-EINVAL,
						  "lzma dictionary size %u out of range (%u..%u)",
						  d, Z_EROFS_LZMA_MIN_DICT_SIZE,
						  Z_EROFS_LZMA_MAX_DICT_SIZE);
			break;
		case EROFS_COMPRESSOR_ZSTD:
			if (!d)
				d = 1U << ilog2_u32(min_t(
					u32, pcl << 3,
					Z_EROFS_ZSTD_MAX_DICT_SIZE));
			if (d & (d - 1) || d < 1024 ||
			    d > Z_EROFS_ZSTD_MAX_DICT_SIZE)
				return erofs_fail(-EINVAL,
						  "zstd dictionary size %u must be a power of two up to %u",
						  d, Z_EROFS_ZSTD_MAX_DICT_SIZE);
			break;
		case EROFS_COMPRESSOR_DEFLATE:
			if (!d)
				d = EROFS_DEFLATE_MAX_WINDOW;
			if (d & (d - 1) || d < EROFS_DEFLATE_MIN_WINDOW ||
			    d > EROFS_DEFLATE_MAX_WINDOW)
				return erofs_fail(-EINVAL,
						  "deflate dictionary size %u must be a power of two from %u to %u",
						  d, EROFS_DEFLATE_MIN_WINDOW,
						  EROFS_DEFLATE_MAX_WINDOW);
#ifndef HAVE_ZLIB
			/* libdeflate always searches the whole 32 KiB */
			if (d != EROFS_DEFLATE_MAX_WINDOW)
				return erofs_fail(-EOPNOTSUPP,
						  "deflate dictionary sizes below %u need zlib, which this build lacks",
						  EROFS_DEFLATE_MAX_WINDOW);
#endif
			break;
		default:
			if (d)
				return erofs_fail(-EINVAL,
						  "%s has no dictionary size",
						  names[p->kind]);
			if (p->kind == EROFS_COMPRESSOR_LIBDEFLATE)
				d = EROFS_DEFLATE_MAX_WINDOW;
			break;
		}
		zi->dictsize[i] = d;
	}
	return 0;
}

/* The largest dictionary any alternative of "alg" uses. */
static u32 max_dict(const struct erofs_zimage *zi, unsigned int alg)
{
	u32 d = 0;

	for (unsigned int i = 0; i < zi->opts->nalgs; i++)
		if (disk_algs[zi->opts->algs[i].kind] == alg)
			d = max(d, zi->dictsize[i]);
	return d;
}

static u32 cfg_size(unsigned int alg)
{
	switch (alg) {
	case Z_EROFS_COMPRESSION_LZ4:
		return sizeof(struct z_erofs_lz4_cfgs);
	case Z_EROFS_COMPRESSION_LZMA:
		return sizeof(struct z_erofs_lzma_cfgs);
	case Z_EROFS_COMPRESSION_DEFLATE:
		return sizeof(struct z_erofs_deflate_cfgs);
	default:
		return sizeof(struct z_erofs_zstd_cfgs);
	}
}

u32 erofs_zimage_cfgs_size(const struct erofs_zimage *zi)
{
	u32 size = 0;

	if (!zi->need_cfgs)
		return 0;
	for (unsigned int alg = 0; alg < Z_EROFS_COMPRESSION_MAX; alg++)
		if (zi->available_algs & (1U << alg))
			size += round_up(2 + cfg_size(alg), 4);
	return size;
}

void erofs_zimage_encode_cfgs(const struct erofs_zimage *zi, u8 *buf)
{
	if (!zi->need_cfgs)
		return;
	for (unsigned int alg = 0; alg < Z_EROFS_COMPRESSION_MAX; alg++) {
		u32 size = cfg_size(alg);
		__le16 len = cpu_to_le16(size);

		if (!(zi->available_algs & (1U << alg)))
			continue;
		/* the kernel reads each record at a 4-byte boundary */
		memset(buf, 0, round_up(2 + size, 4));
		memcpy(buf, &len, 2);
		if (alg == Z_EROFS_COMPRESSION_LZ4) {
			struct z_erofs_lz4_cfgs c = {
				.max_distance = cpu_to_le16(UINT16_MAX),
				.max_pclusterblks =
					cpu_to_le16(zi->max_pclusterblks),
			};

			memcpy(buf + 2, &c, sizeof(c));
		} else if (alg == Z_EROFS_COMPRESSION_LZMA) {
			struct z_erofs_lzma_cfgs c = {
				.dict_size = cpu_to_le32(max_dict(zi, alg)),
			};

			memcpy(buf + 2, &c, sizeof(c));
		} else if (alg == Z_EROFS_COMPRESSION_ZSTD) {
			struct z_erofs_zstd_cfgs c = {
				.windowlog = ilog2_u32(max_dict(zi, alg)) - 10,
			};

			memcpy(buf + 2, &c, sizeof(c));
		} else if (alg == Z_EROFS_COMPRESSION_DEFLATE) {
			/* how far back any of the deflate alternatives looks */
			struct z_erofs_deflate_cfgs c = {
				.windowbits = ilog2_u32(max_dict(zi, alg)),
			};

			memcpy(buf + 2, &c, sizeof(c));
		}
		buf += round_up(2 + size, 4);
	}
}

bool erofs_zimage_choose(const struct erofs_zimage *zi, const char *path,
			 u8 *alg, u32 *pclusterblks)
{
	const struct erofs_compress_opts *o = zi->opts;

	*alg = 0;
	*pclusterblks = o->pclustersize ? o->pclustersize >> zi->blkszbits : 1;
	for (unsigned int i = 0; i < o->nhints; i++) {
		if (regexec(o->hints[i].regex, path, 0, NULL, 0))
			continue;
		*alg = o->hints[i].alg;
		*pclusterblks = o->hints[i].pclusterblks;
		break;
	}
	return *pclusterblks != 0;
}

int erofs_compressor_init(struct erofs_compressor *c,
			  const struct erofs_zparam *p, u32 dictsize)
{
	memset(c, 0, sizeof(*c));
	c->ops = compressors[p->kind];
	c->level = p->level < 0 ? c->ops->default_level : p->level;
	c->dictsize = dictsize;
	return c->ops->init ? c->ops->init(c) : 0;
}

void erofs_compressor_exit(struct erofs_compressor *c)
{
	if (c->ops && c->ops->exit)
		c->ops->exit(c);
	c->ops = NULL;
}
