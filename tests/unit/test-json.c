// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of lib/json.c: what the writer escapes comes back the same
 * through the reader (paths are bytes, UTF-8 or not), and the reader
 * refuses what is not JSON.
 */
#include <stdlib.h>

#include "erofs/json.h"
#include "unit.h"

/* Write s as a member, read it back: whether the bytes are the same. */
static bool round_trip(const char *s)
{
	char *buf = NULL, *key;
	struct erofs_json_cursor c;
	struct erofs_json_value v;
	const char *k;
	size_t len, klen;
	bool ok;
	FILE *m = open_memstream(&buf, &len);

	if (!m)
		return false;
	fputs("{\"k\":", m);
	erofs_json_str(m, s);
	fputs("}", m);
	fclose(m);
	ok = !erofs_json_begin_object(&c, buf, len) &&
	     erofs_json_next_member(&c, &k, &klen, &v) == 1 &&
	     v.type == EROFS_JSON_STRING && v.len == strlen(s) &&
	     !memcmp(v.str, s, v.len) &&
	     erofs_json_next_member(&c, &k, &klen, &v) == 0;
	key = buf;
	free(key);
	return ok;
}

/* Whether a line reads as an object, every member and value included. */
static bool reads(const char *text)
{
	char *buf = strdup(text);
	struct erofs_json_cursor c;
	struct erofs_json_value v;
	const char *k;
	size_t klen;
	int ret;

	if (!buf)
		return false;
	ret = erofs_json_begin_object(&c, buf, strlen(buf));
	while (!ret && (ret = erofs_json_next_member(&c, &k, &klen, &v)) > 0)
		ret = 0;
	free(buf);
	return ret == 0;
}

int main(void)
{
	struct erofs_json_cursor c, a;
	struct erofs_json_value v, e;
	char line[] =
		"{\"n\":18446744073709551615,\"big\":18446744073709551616,"
		"\"neg\":-1,\"f\":1.5e3,\"arr\":[[1,2,3],[4,5,6]],"
		"\"s\":\"a\\u00e9\\u0100\\ud83d\\ude00\\n\"}";
	const char *k;
	size_t klen;
	u8 out[4];
	int ret, n = 0;

	CHECK("json: plain path",
	      round_trip("/usr/lib/x86_64-linux-gnu/libc.so.6"));
	CHECK("json: quote, backslash, controls",
	      round_trip("q\"b\\n\nl\033[31m\x7f"));
	CHECK("json: UTF-8 as it is",
	      round_trip("caf\xc3\xa9 \xf0\x9f\x98\x80"));
	CHECK("json: bytes that are not UTF-8",
	      round_trip("\xff\xfe x \xc3 \xe2\x82"));
	CHECK("json: long string", round_trip("0123456789abcdef0123456789abcdef"
					      "0123456789abcdef0123456789\"x"));

	ret = erofs_json_begin_object(&c, line, strlen(line));
	while (!ret && (ret = erofs_json_next_member(&c, &k, &klen, &v)) > 0) {
		ret = 0;
		n++;
		if (!strcmp(k, "n"))
			CHECK("json: 2^64 - 1 is a u64",
			      v.is_u64 && v.u64 == UINT64_MAX);
		else if (!strcmp(k, "big"))
			CHECK("json: 2^64 is a number but no u64",
			      v.type == EROFS_JSON_NUMBER && !v.is_u64);
		else if (!strcmp(k, "neg") || !strcmp(k, "f"))
			CHECK("json: -1 and 1.5e3 are no u64",
			      v.type == EROFS_JSON_NUMBER && !v.is_u64);
		else if (!strcmp(k, "s"))
			CHECK("json: \\u0080 to \\u00ff are bytes, the rest and surrogate pairs UTF-8",
			      v.len == 9 &&
				      !memcmp(v.str,
					      "a\xe9\xc4\x80\xf0\x9f\x98\x80\n",
					      9));
		else if (!strcmp(k, "arr")) {
			struct erofs_json_value in;
			u64 sum = 0;
			int rows = 0;

			erofs_json_begin_array(&a, &v);
			while (erofs_json_next_element(&a, &e) > 0) {
				struct erofs_json_cursor b;

				rows++;
				erofs_json_begin_array(&b, &e);
				while (erofs_json_next_element(&b, &in) > 0)
					sum += in.u64;
			}
			CHECK("json: nested arrays", rows == 2 && sum == 21);
		}
	}
	CHECK("json: six members, end of object", ret == 0 && n == 6);

	CHECK("json: blanks around",
	      reads("  { \"a\" : [ ] , \"b\" : { } }  "));
	CHECK("json: empty object", reads("{}"));
	CHECK("json: not an object", !reads("[1]"));
	CHECK("json: trailing comma", !reads("{\"a\":1,}"));
	CHECK("json: missing comma", !reads("{\"a\":1 \"b\":2}"));
	CHECK("json: text after", !reads("{\"a\":1} x"));
	CHECK("json: cut short", !reads("{\"a\":\"xy"));
	CHECK("json: raw control character", !reads("{\"a\":\"x\ty\"}"));
	CHECK("json: NUL escape", !reads("{\"a\":\"x\\u0000\"}"));
	CHECK("json: lone surrogate", !reads("{\"a\":\"\\ud800x\"}"));
	CHECK("json: bad escape", !reads("{\"a\":\"\\q\"}"));
	CHECK("json: leading zero", !reads("{\"a\":01}"));
	CHECK("json: bare word", !reads("{\"a\":nul}"));
	{
		char deep[300];
		int d;

		for (d = 0; d < 100; d++)
			deep[d] = '[';
		deep[d] = '\0';
		strcat(deep, "1");
		memset(deep + strlen(deep), ']', 100);
		deep[201] = '\0';
		char line2[400];

		snprintf(line2, sizeof(line2), "{\"a\":%s}", deep);
		CHECK("json: nesting past 64 refused", !reads(line2));
	}
	CHECK("json: unhex", !erofs_json_unhex("00fFa7", 6, out) &&
				     out[0] == 0 && out[1] == 0xff &&
				     out[2] == 0xa7);
	CHECK("json: unhex refuses odd and non-digits",
	      erofs_json_unhex("abc", 3, out) &&
		      erofs_json_unhex("0g", 2, out));
	UNIT_EXIT();
}
