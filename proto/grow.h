/* SPDX-License-Identifier: MIT */
/* The one growable-array helper: capacity doubling with overflow checks. */
#ifndef BL_GROW_H
#define BL_GROW_H

#include <stdint.h>
#include <stdlib.h>

/*
 * Returns v grown to hold at least need elements of elem bytes (capacity
 * doubled, 16 at least), v itself when it already does, or NULL when memory
 * or size_t runs out (v is then untouched and still owned by the caller).
 * *cap is updated when v grows.
 *
 *     bl_entry_t *nv = bl_grow(v, &cap, n + 1, sizeof *v);
 *     if (!nv)
 *         return BL_ENOMEM;
 *     v = nv;
 *     v[n++] = e;
 */
static inline void *bl_grow(void *v, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap && v)
        return v;
    size_t nc = *cap ? *cap : 16;
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

#endif
