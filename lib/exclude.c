// SPDX-License-Identifier: GPL-2.0-or-later
/* Exclusion rules: literal paths and POSIX extended regexes. */
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "erofs/error.h"
#include "erofs/source.h"

struct erofs_exclude {
	struct erofs_exclude *next;
	char *path; /* literal rule, or NULL for a regex */
	regex_t re;
};

static const char *strip_slashes(const char *p)
{
	while (*p == '/')
		p++;
	return p;
}

int erofs_exclude_add_path(struct erofs_exclude **ex, const char *path)
{
	struct erofs_exclude *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->path = strdup(strip_slashes(path));
	if (!r->path) {
		free(r);
		return -ENOMEM;
	}
	/* "dir/" and "dir" name the same entry */
	for (size_t l = strlen(r->path); l && r->path[l - 1] == '/'; l--)
		r->path[l - 1] = '\0';
	r->next = *ex;
	*ex = r;
	return 0;
}

int erofs_exclude_add_regex(struct erofs_exclude **ex, const char *regex)
{
	struct erofs_exclude *r = calloc(1, sizeof(*r));
	int ret;

	if (!r)
		return -ENOMEM;
	ret = regcomp(&r->re, regex, REG_EXTENDED | REG_NOSUB);
	if (ret) {
		char msg[256];

		regerror(ret, &r->re, msg, sizeof(msg));
		free(r);
		return erofs_fail(-EINVAL, "invalid --exclude-regex '%s': %s",
				  regex, msg);
	}
	r->next = *ex;
	*ex = r;
	return 0;
}

bool erofs_exclude_match(const struct erofs_exclude *ex, const char *relpath)
{
	relpath = strip_slashes(relpath);
	for (; ex; ex = ex->next) {
		if (ex->path ? !strcmp(ex->path, relpath) :
			       !regexec(&ex->re, relpath, 0, NULL, 0))
			return true;
	}
	return false;
}

void erofs_exclude_free(struct erofs_exclude *ex)
{
	while (ex) {
		struct erofs_exclude *n = ex->next;

		if (ex->path)
			free(ex->path);
		else
			regfree(&ex->re);
		free(ex);
		ex = n;
	}
}
