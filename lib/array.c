// SPDX-License-Identifier: GPL-2.0-or-later
/* Growing arrays (erofs/array.h). */
#include <stdlib.h>
#include <string.h>

#include "erofs/array.h"

int erofs_grow_array(void *arrp, u64 *cap, u64 need, size_t elem)
{
	void *old, *arr;
	u64 c;

	if (need <= *cap)
		return 0;
	c = max_t(u64, *cap * 2, 16);
	if (c < need)
		c = need;
	if (elem && c > SIZE_MAX / elem)
		return -ENOMEM;
	/* the pointer is copied, not cast: "arrp" may point to any T * */
	memcpy(&old, arrp, sizeof(old));
	arr = realloc(old, c * elem);
	if (!arr)
		return -ENOMEM;
	memcpy(arrp, &arr, sizeof(arr));
	*cap = c;
	return 0;
}
