/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * JSON as the reports and manifests write and read it. Writing: strings
 * whose bytes need not be UTF-8 (paths are bytes: a byte that is not part
 * of a UTF-8 sequence is written \u00XX) and byte strings in hexadecimal.
 * Reading: one object at a time from a line held in memory, member by
 * member, strictly (RFC 8259 grammar, nesting at most 64 deep), with no
 * allocation: strings are decoded in place, and \u0080 to \u00ff come
 * back as the single bytes the writer escaped that way.
 */
#ifndef EROFS_JSON_H
#define EROFS_JSON_H

#include <stdio.h>

#include "erofs/defs.h"

/* A JSON string, or null for NULL. */
void erofs_json_str(FILE *out, const char *s);
/* "len" bytes as a string of lower-case hexadecimal digits. */
void erofs_json_hex(FILE *out, const u8 *b, size_t len);

enum erofs_json_type {
	EROFS_JSON_NULL,
	EROFS_JSON_FALSE,
	EROFS_JSON_TRUE,
	EROFS_JSON_NUMBER,
	EROFS_JSON_STRING,
	EROFS_JSON_ARRAY,
	EROFS_JSON_OBJECT,
};

struct erofs_json_value {
	enum erofs_json_type type;
	/* STRING: decoded and NUL-terminated (NUL is refused inside) */
	char *str;
	size_t len;
	/* NUMBER: whether it is an integer from 0 to 2^64 - 1, and which */
	bool is_u64;
	u64 u64;
	/* ARRAY and OBJECT: their text, for erofs_json_next_element() */
	char *raw;
	size_t raw_len;
};

/* Where reading is in a line; "why" says what was wrong on failure. */
struct erofs_json_cursor {
	char *p, *end;
	bool first; /* no member or element read yet */
	const char *why;
};

/*
 * Start reading the object that [line, line + len) holds: nothing but
 * blanks may stand around it. Returns 0, or -EINVAL with cur->why.
 */
int erofs_json_begin_object(struct erofs_json_cursor *cur, char *line,
			    size_t len);
/*
 * The next member of the object: 1 with its key (and the key's length)
 * and value, 0 after the last one (and the end of the line checked),
 * -EINVAL with cur->why.
 */
int erofs_json_next_member(struct erofs_json_cursor *cur, const char **key,
			   size_t *key_len, struct erofs_json_value *v);
/* Read the elements of an ARRAY value; same returns as above. */
int erofs_json_begin_array(struct erofs_json_cursor *cur,
			   const struct erofs_json_value *array);
int erofs_json_next_element(struct erofs_json_cursor *cur,
			    struct erofs_json_value *v);

/* Decode hexadecimal digits into "out" (len / 2 bytes); -EINVAL if odd. */
int erofs_json_unhex(const char *hex, size_t len, u8 *out);

#endif
