// SPDX-License-Identifier: GPL-2.0-or-later
/* JSON: strings and hex for the reports, one object per line for manifests. */
#include <errno.h>
#include <string.h>

#include "erofs/json.h"

#define JSON_MAX_DEPTH 64

void erofs_json_str(FILE *out, const char *s)
{
	const u8 *p = (const u8 *)s;

	if (!s) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	while (*p) {
		unsigned int n = 0;

		if (*p >= 0xc2 && *p <= 0xf4)
			n = *p >= 0xf0 ? 3 : *p >= 0xe0 ? 2 : 1;
		for (unsigned int i = 1; i <= n; i++)
			if ((p[i] & 0xc0) != 0x80)
				n = 0;
		if (n) {
			fwrite(p, 1, n + 1, out);
			p += n + 1;
			continue;
		}
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(out, "\\u%04x", *p);
		else
			fputc(*p, out);
		p++;
	}
	fputc('"', out);
}

void erofs_json_hex(FILE *out, const u8 *b, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	char buf[128];
	size_t n = 0;

	fputc('"', out);
	for (size_t i = 0; i < len; i++) {
		buf[n++] = digits[b[i] >> 4];
		buf[n++] = digits[b[i] & 15];
		if (n == sizeof(buf)) {
			fwrite(buf, 1, n, out);
			n = 0;
		}
	}
	fwrite(buf, 1, n, out);
	fputc('"', out);
}

/* Digit values plus one; 0 for what is not a hexadecimal digit. */
static const u8 hex_digit[256] = {
	['0'] = 1,  ['1'] = 2,	['2'] = 3,  ['3'] = 4,	['4'] = 5,  ['5'] = 6,
	['6'] = 7,  ['7'] = 8,	['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12,
	['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16, ['A'] = 11, ['B'] = 12,
	['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

static int hexval(int c)
{
	return hex_digit[(u8)c] - 1;
}

int erofs_json_unhex(const char *hex, size_t len, u8 *out)
{
	bool bad = false;

	if (len & 1)
		return -EINVAL;
	for (size_t i = 0; i < len; i += 2) {
		u8 hi = hex_digit[(u8)hex[i]], lo = hex_digit[(u8)hex[i + 1]];

		bad |= !hi | !lo;
		out[i / 2] = ((hi - 1) & 15) << 4 | ((lo - 1) & 15);
	}
	return bad ? -EINVAL : 0;
}

static int bad(struct erofs_json_cursor *c, const char *why)
{
	c->why = why;
	return -EINVAL;
}

static void skip_ws(struct erofs_json_cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' ||
				 *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

/* Four hex digits at p (p + 4 <= end checked by the caller). */
static int hex4(const char *p)
{
	int v = 0;

	for (int i = 0; i < 4; i++) {
		int d = hexval((u8)p[i]);

		if (d < 0)
			return -1;
		v = v << 4 | d;
	}
	return v;
}

/* Bytes that end a run of plain string bytes: quote, backslash, controls. */
static const u8 plain_end[256] = {
	[0 ... 0x1f] = 1,
	['"'] = 1,
	['\\'] = 1,
};

/*
 * The string at c->p (its opening quote), decoded in place when "decode"
 * is set: into v->str, NUL-terminated. Else only checked and skipped.
 */
static int read_string(struct erofs_json_cursor *c, struct erofs_json_value *v,
		       bool decode)
{
	char *w = ++c->p, *start = w;

	/* most strings have nothing to decode: find their end first */
	while (c->end - c->p >= 8) {
		const u64 ones = 0x0101010101010101ULL, highs = ones << 7;
		u64 w, q, bs;

		memcpy(&w, c->p, 8);
		q = w ^ (ones * '"');
		bs = w ^ (ones * '\\');
		/* a zero byte in q or bs, or a byte below 0x20 in w */
		if (((q - ones) & ~q) & highs || ((bs - ones) & ~bs) & highs ||
		    ((w - ones * 0x20) & ~w) & highs)
			break;
		c->p += 8;
	}
	while (c->p < c->end && !plain_end[(u8)*c->p])
		c->p++;
	w = c->p;
	for (;;) {
		u8 ch;
		int u;

		if (c->p >= c->end)
			return bad(c, "unterminated string");
		ch = *c->p;
		if (ch == '"')
			break;
		if (ch < 0x20)
			return bad(c, "control character in a string");
		if (ch != '\\') {
			if (decode)
				*w++ = ch;
			c->p++;
			continue;
		}
		if (c->end - c->p < 2)
			return bad(c, "unterminated string");
		ch = c->p[1];
		c->p += 2;
		switch (ch) {
		case '"':
		case '\\':
		case '/':
			break;
		case 'b':
			ch = '\b';
			break;
		case 'f':
			ch = '\f';
			break;
		case 'n':
			ch = '\n';
			break;
		case 'r':
			ch = '\r';
			break;
		case 't':
			ch = '\t';
			break;
		case 'u':
			if (c->end - c->p < 4 || (u = hex4(c->p)) < 0)
				return bad(c, "bad \\u escape");
			c->p += 4;
			if (u >= 0xd800 && u < 0xdc00) {
				int lo;

				if (c->end - c->p < 6 || c->p[0] != '\\' ||
				    c->p[1] != 'u' ||
				    (lo = hex4(c->p + 2)) < 0xdc00 ||
				    lo >= 0xe000)
					return bad(
						c,
						"unpaired surrogate in a string");
				c->p += 6;
				u = 0x10000 + ((u - 0xd800) << 10) +
				    (lo - 0xdc00);
			} else if (u >= 0xdc00 && u < 0xe000) {
				return bad(c, "unpaired surrogate in a string");
			}
			if (!u)
				return bad(c, "NUL in a string");
			if (!decode)
				continue;
			/* the writer's escapes of bytes that are not UTF-8 */
			if (u < 0x100) {
				*w++ = u;
			} else if (u < 0x800) {
				*w++ = 0xc0 | u >> 6;
				*w++ = 0x80 | (u & 0x3f);
			} else if (u < 0x10000) {
				*w++ = 0xe0 | u >> 12;
				*w++ = 0x80 | ((u >> 6) & 0x3f);
				*w++ = 0x80 | (u & 0x3f);
			} else {
				*w++ = 0xf0 | u >> 18;
				*w++ = 0x80 | ((u >> 12) & 0x3f);
				*w++ = 0x80 | ((u >> 6) & 0x3f);
				*w++ = 0x80 | (u & 0x3f);
			}
			continue;
		default:
			return bad(c, "bad escape in a string");
		}
		if (decode)
			*w++ = ch;
	}
	c->p++; /* the closing quote, which the NUL may overwrite */
	if (decode) {
		*w = '\0';
		v->type = EROFS_JSON_STRING;
		v->str = start;
		v->len = w - start;
	}
	return 0;
}

static int read_number(struct erofs_json_cursor *c, struct erofs_json_value *v)
{
	const char *p = c->p;
	bool neg = false, integer = true, overflow = false;
	u64 n = 0;

	if (p < c->end && *p == '-') {
		neg = true;
		p++;
	}
	if (p >= c->end || *p < '0' || *p > '9')
		return bad(c, "bad number");
	if (*p == '0' && p + 1 < c->end && p[1] >= '0' && p[1] <= '9')
		return bad(c, "number with a leading zero");
	for (; p < c->end && *p >= '0' && *p <= '9'; p++) {
		if (n > (UINT64_MAX - (*p - '0')) / 10)
			overflow = true;
		n = n * 10 + (*p - '0');
	}
	if (p < c->end && *p == '.') {
		integer = false;
		if (++p >= c->end || *p < '0' || *p > '9')
			return bad(c, "bad number");
		while (p < c->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < c->end && (*p == 'e' || *p == 'E')) {
		integer = false;
		p++;
		if (p < c->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= c->end || *p < '0' || *p > '9')
			return bad(c, "bad number");
		while (p < c->end && *p >= '0' && *p <= '9')
			p++;
	}
	v->type = EROFS_JSON_NUMBER;
	v->is_u64 = integer && !neg && !overflow;
	v->u64 = v->is_u64 ? n : 0;
	c->p = (char *)p;
	return 0;
}

static int read_value(struct erofs_json_cursor *c, struct erofs_json_value *v,
		      bool decode, int depth);

/* Skip an array or object, checking it; c->p is at its bracket. */
static int skip_container(struct erofs_json_cursor *c, int depth)
{
	char close = *c->p == '[' ? ']' : '}';
	struct erofs_json_value v;
	bool first = true;
	int ret;

	if (depth >= JSON_MAX_DEPTH)
		return bad(c, "nested too deep");
	c->p++;
	for (;;) {
		skip_ws(c);
		if (c->p >= c->end)
			return bad(c, "unterminated array or object");
		if (*c->p == close && first) {
			c->p++;
			return 0;
		}
		if (!first) {
			if (*c->p == close) {
				c->p++;
				return 0;
			}
			if (*c->p != ',')
				return bad(
					c,
					"expected ',' or the end of an array or object");
			c->p++;
			skip_ws(c);
		}
		first = false;
		if (close == '}') {
			if (c->p >= c->end || *c->p != '"')
				return bad(c, "expected a key");
			ret = read_string(c, NULL, false);
			if (ret)
				return ret;
			skip_ws(c);
			if (c->p >= c->end || *c->p != ':')
				return bad(c, "expected ':'");
			c->p++;
			skip_ws(c);
		}
		ret = read_value(c, &v, false, depth + 1);
		if (ret)
			return ret;
	}
}

static int read_literal(struct erofs_json_cursor *c, const char *word,
			enum erofs_json_type type, struct erofs_json_value *v)
{
	size_t n = strlen(word);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n))
		return bad(c, "unexpected character");
	c->p += n;
	v->type = type;
	return 0;
}

static int read_value(struct erofs_json_cursor *c, struct erofs_json_value *v,
		      bool decode, int depth)
{
	char *start = c->p;
	int ret;

	if (c->p >= c->end)
		return bad(c, "missing value");
	switch (*c->p) {
	case '"':
		ret = read_string(c, v, decode);
		if (!ret && !decode)
			v->type = EROFS_JSON_STRING;
		return ret;
	case '[':
	case '{':
		ret = skip_container(c, depth);
		if (ret)
			return ret;
		v->type = *start == '[' ? EROFS_JSON_ARRAY : EROFS_JSON_OBJECT;
		v->raw = start;
		v->raw_len = c->p - start;
		return 0;
	case 't':
		return read_literal(c, "true", EROFS_JSON_TRUE, v);
	case 'f':
		return read_literal(c, "false", EROFS_JSON_FALSE, v);
	case 'n':
		return read_literal(c, "null", EROFS_JSON_NULL, v);
	default:
		return read_number(c, v);
	}
}

int erofs_json_begin_object(struct erofs_json_cursor *cur, char *line,
			    size_t len)
{
	cur->p = line;
	cur->end = line + len;
	cur->why = NULL;
	skip_ws(cur);
	if (cur->p >= cur->end || *cur->p != '{')
		return bad(cur, "not a JSON object");
	cur->p++;
	cur->first = true;
	return 0;
}

int erofs_json_next_member(struct erofs_json_cursor *cur, const char **key,
			   size_t *key_len, struct erofs_json_value *v)
{
	struct erofs_json_value k;
	bool first = cur->first;
	int ret;

	skip_ws(cur);
	if (cur->p >= cur->end)
		return bad(cur, "unterminated object");
	if (*cur->p == '}') {
		cur->p++;
		skip_ws(cur);
		if (cur->p != cur->end)
			return bad(cur, "text after the object");
		return 0;
	}
	if (!first) {
		if (*cur->p != ',')
			return bad(cur, "expected ',' or '}'");
		cur->p++;
		skip_ws(cur);
	}
	if (cur->p >= cur->end || *cur->p != '"')
		return bad(cur, "expected a key");
	ret = read_string(cur, &k, true);
	if (ret)
		return ret;
	skip_ws(cur);
	if (cur->p >= cur->end || *cur->p != ':')
		return bad(cur, "expected ':'");
	cur->p++;
	skip_ws(cur);
	ret = read_value(cur, v, true, 1);
	if (ret)
		return ret;
	cur->first = false;
	*key = k.str;
	*key_len = k.len;
	return 1;
}

int erofs_json_begin_array(struct erofs_json_cursor *cur,
			   const struct erofs_json_value *array)
{
	if (array->type != EROFS_JSON_ARRAY)
		return bad(cur, "not an array");
	cur->p = array->raw + 1;
	cur->end = array->raw + array->raw_len;
	cur->why = NULL;
	cur->first = true;
	return 0;
}

int erofs_json_next_element(struct erofs_json_cursor *cur,
			    struct erofs_json_value *v)
{
	bool first = cur->first;

	skip_ws(cur);
	if (cur->p >= cur->end)
		return bad(cur, "unterminated array");
	if (*cur->p == ']') {
		cur->p++;
		return 0;
	}
	if (!first) {
		if (*cur->p != ',')
			return bad(cur, "expected ',' or ']'");
		cur->p++;
		skip_ws(cur);
	}
	cur->first = false;
	return read_value(cur, v, true, 1) ?: 1;
}
