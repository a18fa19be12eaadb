// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * --tar=headerball: a tar stream whose regular files' data was left out
 * (every header is followed by the next one). The tar parser expects the
 * data, so this layer hands it a whole tar: the headers and extension
 * records as they come, and after each regular file header as many zeroes
 * as the file's data would take, from one static buffer.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "erofs/array.h"
#include "erofs/tar_headerball.h"
#include "erofs/tar_stream.h"

#define TAR_BLOCK 512
/* the largest PAX header taken, with its NUL */
#define PAX_MAX (16U << 20)

struct erofs_headerball {
	struct erofs_tar_stream *s;
	const u8 *in; /* the stream block not handed on yet */
	size_t in_len;
	u8 hdr[TAR_BLOCK]; /* a header split between stream blocks */
	size_t hdr_len;
	u64 pass;  /* input bytes to hand on as they are: extension data */
	u64 zeros; /* zero bytes to hand on: the data left out */
	u64 pos;   /* input bytes handed on, for messages */
	/* the data of a PAX header, whose "size" record wins */
	char *pax;
	size_t pax_len;
	u64 pax_cap;
	bool collect_pax;
	u64 pax_size;
	bool pax_size_set;
	char err[160];
};

static const u8 zero_data[64 << 10];

int erofs_headerball_new(struct erofs_headerball **out,
			 struct erofs_tar_stream *s)
{
	struct erofs_headerball *hb = calloc(1, sizeof(*hb));

	*out = hb;
	if (!hb)
		return -ENOMEM;
	hb->s = s;
	return 0;
}

void erofs_headerball_free(struct erofs_headerball *hb)
{
	if (hb)
		free(hb->pax);
	free(hb);
}

const char *erofs_headerball_error(const struct erofs_headerball *hb)
{
	return hb->err[0] ? hb->err : NULL;
}

/* A tar number field: octal digits, or base-256 when the top bit is set. */
static bool tar_number(const u8 *p, size_t len, u64 *out)
{
	u64 v = 0;
	size_t i = 0;

	if (p[0] & 0x80) {
		if (p[0] != 0x80)
			return false; /* negative, or too large */
		for (i = 1; i < len; i++) {
			if (v >> 56)
				return false;
			v = v << 8 | p[i];
		}
		*out = v;
		return true;
	}
	while (i < len && p[i] == ' ')
		i++;
	for (; i < len && p[i] >= '0' && p[i] <= '7'; i++) {
		if (v >> 60)
			return false;
		v = v * 8 + (p[i] - '0');
	}
	if (i < len && p[i] != ' ' && p[i] != '\0')
		return false;
	*out = v;
	return true;
}

/* The header checksum: its own field counts as spaces. */
static bool header_checksum_ok(const u8 *h)
{
	u64 sum = 0, stored;

	for (unsigned int i = 0; i < TAR_BLOCK; i++)
		sum += (i >= 148 && i < 156) ? ' ' : h[i];
	return tar_number(h + 148, 8, &stored) && stored == sum;
}

/* The "size" record of a PAX header's data, which the next entry takes. */
static void pax_records(struct erofs_headerball *hb)
{
	size_t at = 0;

	while (at < hb->pax_len) {
		char *end, *rec = hb->pax + at;
		unsigned long long n = strtoull(rec, &end, 10);

		if (end == rec || *end != ' ' || !n || n > hb->pax_len - at)
			break; /* the tar parser says what is wrong with it */
		if (!strncmp(end + 1, "size=", 5)) {
			char *v = end + 6, *e;

			hb->pax_size = strtoull(v, &e, 10);
			hb->pax_size_set = e != v;
		}
		at += n;
	}
}

static int __printf(2, 3)
	fail(struct erofs_headerball *hb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(hb->err, sizeof(hb->err), fmt, ap);
	va_end(ap);
	return -1;
}

/* What a header is followed by; 0, or -1 for a header that cannot be. */
static int plan_after(struct erofs_headerball *hb, const u8 *h)
{
	u64 size = 0;
	u8 type = h[156];
	bool zero = true;

	for (unsigned int i = 0; i < TAR_BLOCK && zero; i++)
		zero = !h[i];
	if (zero)
		return 0; /* the end-of-archive blocks */
	if (!header_checksum_ok(h) || !tar_number(h + 124, 12, &size))
		return fail(
			hb,
			"byte %llu holds no tar header: --tar=headerball wants headers without the files' data",
			(unsigned long long)hb->pos);
	switch (type) {
	case 'x': /* PAX extension: its records are there */
	case 'g':
	case 'L': /* GNU long name and link: there too */
	case 'K':
		hb->pass = round_up(size, TAR_BLOCK);
		hb->collect_pax = type == 'x';
		hb->pax_len = 0;
		return 0;
	case '0':
	case '\0':
	case '7':
		if (hb->pax_size_set)
			size = hb->pax_size;
		hb->zeros = round_up(size, TAR_BLOCK);
		break;
	case 'S':
		return fail(
			hb,
			"a GNU sparse entry at byte %llu: its map is in the data a headerball leaves out",
			(unsigned long long)hb->pos);
	default:
		break;
	}
	hb->pax_size_set = false;
	return 0;
}

static int pax_append(struct erofs_headerball *hb, const u8 *p, size_t len)
{
	/* PAX headers of a layer are small; a huge one is no header */
	if (hb->pax_len + len + 1 > PAX_MAX)
		return fail(hb, "a PAX header over 16 MiB at byte %llu",
			    (unsigned long long)hb->pos);
	if (erofs_grow_array(&hb->pax, &hb->pax_cap, hb->pax_len + len + 1, 1))
		return fail(hb, "out of memory");
	memcpy(hb->pax + hb->pax_len, p, len);
	hb->pax_len += len;
	hb->pax[hb->pax_len] = '\0';
	return 0;
}

ssize_t erofs_headerball_read(struct erofs_headerball *hb, const void **buf)
{
	for (;;) {
		const u8 *h;
		size_t n;

		if (hb->zeros) {
			n = min_t(u64, hb->zeros, sizeof(zero_data));
			hb->zeros -= n;
			*buf = zero_data;
			return n;
		}
		if (!hb->in_len) {
			ssize_t got = erofs_tar_stream_read(
				hb->s, (const void **)&hb->in);

			if (got <= 0) {
				/* a header cut short is the parser's to see */
				if (!got && hb->hdr_len) {
					*buf = hb->hdr;
					n = hb->hdr_len;
					hb->hdr_len = 0;
					return n;
				}
				return got;
			}
			hb->in_len = got;
		}
		if (hb->pass) {
			n = min_t(u64, hb->pass, hb->in_len);
			if (hb->collect_pax && pax_append(hb, hb->in, n))
				return -1;
			*buf = hb->in;
			hb->in += n;
			hb->in_len -= n;
			hb->pass -= n;
			hb->pos += n;
			if (!hb->pass && hb->collect_pax) {
				pax_records(hb);
				hb->collect_pax = false;
			}
			return n;
		}
		/* a header: in place when whole, gathered when split */
		if (!hb->hdr_len && hb->in_len >= TAR_BLOCK) {
			h = hb->in;
			hb->in += TAR_BLOCK;
			hb->in_len -= TAR_BLOCK;
		} else {
			n = min(TAR_BLOCK - hb->hdr_len, hb->in_len);
			memcpy(hb->hdr + hb->hdr_len, hb->in, n);
			hb->hdr_len += n;
			hb->in += n;
			hb->in_len -= n;
			if (hb->hdr_len < TAR_BLOCK)
				continue;
			h = hb->hdr;
			hb->hdr_len = 0;
		}
		if (plan_after(hb, h))
			return -1;
		hb->pos += TAR_BLOCK;
		*buf = h;
		return TAR_BLOCK;
	}
}

u64 erofs_headerball_skip(struct erofs_headerball *hb, u64 len)
{
	/* only what was left out: the input itself is read, not skipped */
	len = min(len, hb->zeros);
	hb->zeros -= len;
	return len;
}
