/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Versions the tools report. Scripts gate on "mkfs.erofs --version" and
 * read the number after "(erofs-utils)": the first line names the
 * erofs-utils release whose options and output these tools implement,
 * a later one names this project.
 */
#ifndef EROFS_VERSION_H
#define EROFS_VERSION_H

#include <stdio.h>

#define EROFS_UTILS_INTERFACE_VERSION "1.9.4"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

/* "TOOL (erofs-utils) 1.9.4", the line version gates parse */
static inline void erofs_print_interface_version(FILE *f, const char *tool)
{
	fprintf(f, "%s (erofs-utils) %s\n", tool,
		EROFS_UTILS_INTERFACE_VERSION);
}

/* the line naming this project, printed last */
static inline void erofs_print_project_version(FILE *f)
{
	fprintf(f, "erofs-share %s (implements the erofs-utils %s interface)\n",
		PACKAGE_VERSION, EROFS_UTILS_INTERFACE_VERSION);
}

#endif
