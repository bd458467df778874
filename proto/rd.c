/* SPDX-License-Identifier: MIT */
/* The bounds-checked reader and the growable writer. */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "rd.h"
#include "grow.h"

void bl_rd_fail(bl_rd_t *rd, int err)
{
    if (!rd->err) {
        rd->err = err;
        rd->err_off = (size_t)(rd->p - rd->start);
    }
}

void bl_rd_trunc_(bl_rd_t *rd)
{
    if (!rd->err) {
        rd->err = BL_ETRUNC;
        rd->err_off = (size_t)(rd->end - rd->start);
    }
}

uint64_t bl_rd_u64(bl_rd_t *rd)
{
    uint64_t lo = bl_rd_u32(rd);
    uint64_t hi = bl_rd_u32(rd);
    return lo | hi << 32;
}

uint64_t bl_rd_varint(bl_rd_t *rd)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        const uint8_t *p = bl_rd_take_(rd, 1);
        if (!p)
            return 0;
        if (shift == 63 && (*p & 0x7e)) {
            bl_rd_fail(rd, BL_EFIELD);
            return 0;
        }
        v |= (uint64_t)(*p & 0x7f) << shift;
        if (!(*p & 0x80))
            return v;
    }
    bl_rd_fail(rd, BL_EFIELD);
    return 0;
}

void bl_rd_copy(bl_rd_t *rd, void *dst, size_t n)
{
    const uint8_t *p = bl_rd_take_(rd, n);
    if (p)
        memcpy(dst, p, n);
    else
        memset(dst, 0, n);
}

void bl_rd_expect_end(bl_rd_t *rd)
{
    if (!rd->err && rd->p != rd->end)
        bl_rd_fail(rd, BL_ETRAILING);
}

void bl_buf_init(bl_buf_t *b)
{
    memset(b, 0, sizeof *b);
}

void bl_buf_close(bl_buf_t *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

uint8_t *bl_buf_reserve(bl_buf_t *b, size_t n)
{
    if (b->err)
        return NULL;
    uint8_t *d = n <= SIZE_MAX - b->len ? bl_grow_from(b->data, &b->cap, b->len + n, 1, 256) : NULL;
    if (!d) {
        b->err = BL_ENOMEM;
        return NULL;
    }
    b->data = d;
    return b->data + b->len;
}

void bl_buf_put(bl_buf_t *b, const void *p, size_t n)
{
    uint8_t *d = bl_buf_reserve(b, n);
    if (d && n) {
        memcpy(d, p, n);
        b->len += n;
    }
}

void bl_buf_u8(bl_buf_t *b, uint8_t v)
{
    bl_buf_put(b, &v, 1);
}

void bl_buf_u16(bl_buf_t *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    bl_buf_put(b, x, 2);
}

void bl_buf_u32(bl_buf_t *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    bl_buf_put(b, x, 4);
}

void bl_buf_u64(bl_buf_t *b, uint64_t v)
{
    bl_buf_u32(b, (uint32_t)v);
    bl_buf_u32(b, (uint32_t)(v >> 32));
}

void bl_buf_varint(bl_buf_t *b, uint64_t v)
{
    uint8_t x[10];
    size_t n = 0;
    do {
        x[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            x[n] |= 0x80;
        n++;
    } while (v);
    bl_buf_put(b, x, n);
}
