/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Growing arrays: the one way the library makes room for more elements. */
#ifndef EROFS_ARRAY_H
#define EROFS_ARRAY_H

#include "erofs/defs.h"

/*
 * Make room for "need" elements of "elem" bytes in the array whose pointer
 * lies at "arrp" (the address of a T *, passed as void *) and that has
 * room for *cap of them. The room at least doubles (16 elements at first),
 * so that adding elements one at a time costs linear time in all. Returns
 * 0, or -ENOMEM with the array and *cap as they were.
 */
int erofs_grow_array(void *arrp, u64 *cap, u64 need, size_t elem);

#endif
