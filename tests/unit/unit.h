/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tiny unit test harness: each CHECK prints a PASS or FAIL line. */
#ifndef EROFS_TEST_UNIT_H
#define EROFS_TEST_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_failed;

#define CHECK(name, cond)                                                   \
	do {                                                                \
		if (cond) {                                                 \
			printf("PASS: %s\n", name);                         \
		} else {                                                    \
			printf("FAIL: %s: %s (%s:%d)\n", name, #cond,       \
			       __FILE__, __LINE__);                         \
			unit_failed = 1;                                    \
		}                                                           \
	} while (0)

#define UNIT_EXIT() return unit_failed

#endif
