/* SPDX-License-Identifier: MIT */
/* The one growable-array helper: capacity doubling with overflow checks. */
#ifndef BL_GROW_H
#define BL_GROW_H

#include <stdint.h>
#include <stdlib.h>

/*
 * Returns v grown to hold at least need elements of elem bytes (capacity
 * doubled, first elements at least), v itself when it already does, or NULL when memory
 * or size_t runs out (v is then untouched and still owned by the caller).
 * *cap is updated when v grows.
 *
 *     bl_entry_t *nv = bl_grow(v, &cap, n + 1, sizeof *v);
 *     if (!nv)
 *         return BL_ENOMEM;
 *     v = nv;
 *     v[n++] = e;
 *
 * A buffer whose first use is known to be large starts there:
 * bl_grow_from(buf, &cap, len + n, 1, 4096).
 */
static inline void *bl_grow_from(void *v, size_t *cap, size_t need, size_t elem, size_t first)
{
    if (need <= *cap && v)
        return v;
    size_t nc = *cap ? *cap : first ? first : 1;
    while (nc < need) {
        if (nc > SIZE_MAX / 2)
            return NULL;
        nc *= 2;
    }
    if (elem && nc > SIZE_MAX / elem)
        return NULL;
    void *nv = realloc(v, nc * elem);
    if (!nv)
        return NULL;
    *cap = nc;
    return nv;
}

/* bl_grow_from with a first capacity of 16 elements. */
static inline void *bl_grow(void *v, size_t *cap, size_t need, size_t elem)
{
    return bl_grow_from(v, cap, need, elem, 16);
}

#endif
