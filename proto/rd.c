/* SPDX-License-Identifier: MIT */
/* The bounds-checked reader and the growable writer. */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "rd.h"

void bl_rd_init(bl_rd_t *rd, const void *buf, size_t len)
{
    rd->start = rd->p = buf;
    rd->end = rd->p + len;
    rd->err = 0;
    rd->err_off = 0;
}

void bl_rd_fail(bl_rd_t *rd, int err)
{
    if (!rd->err) {
        rd->err = err;
        rd->err_off = (size_t)(rd->p - rd->start);
    }
}

/* Returns the next n bytes or NULL, recording truncation at the end of input. */
static const uint8_t *take(bl_rd_t *rd, size_t n)
{
    if (rd->err)
        return NULL;
    if ((size_t)(rd->end - rd->p) < n) {
        rd->err = BL_ETRUNC;
        rd->err_off = (size_t)(rd->end - rd->start);
        return NULL;
    }
    const uint8_t *p = rd->p;
    rd->p += n;
    return p;
}

uint8_t bl_rd_u8(bl_rd_t *rd)
{
    const uint8_t *p = take(rd, 1);
    return p ? p[0] : 0;
}

uint16_t bl_rd_u16(bl_rd_t *rd)
{
    const uint8_t *p = take(rd, 2);
    return p ? (uint16_t)(p[0] | p[1] << 8) : 0;
}

uint32_t bl_rd_u32(bl_rd_t *rd)
{
    const uint8_t *p = take(rd, 4);
    return p ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
             : 0;
}

uint64_t bl_rd_u64(bl_rd_t *rd)
{
    uint64_t lo = bl_rd_u32(rd);
    uint64_t hi = bl_rd_u32(rd);
    return lo | hi << 32;
}

uint16_t bl_rd_u16be(bl_rd_t *rd)
{
    const uint8_t *p = take(rd, 2);
    return p ? (uint16_t)(p[0] << 8 | p[1]) : 0;
}

uint32_t bl_rd_u32be(bl_rd_t *rd)
{
    const uint8_t *p = take(rd, 4);
    return p ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3] : 0;
}

uint64_t bl_rd_varint(bl_rd_t *rd)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        const uint8_t *p = take(rd, 1);
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
    const uint8_t *p = take(rd, n);
    if (p)
        memcpy(dst, p, n);
    else
        memset(dst, 0, n);
}

const uint8_t *bl_rd_ptr(bl_rd_t *rd, size_t n)
{
    return take(rd, n);
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
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n) {
            if (cap > SIZE_MAX / 2) {
                b->err = BL_ENOMEM;
                return NULL;
            }
            cap *= 2;
        }
        uint8_t *d = realloc(b->data, cap);
        if (!d) {
            b->err = BL_ENOMEM;
            return NULL;
        }
        b->data = d;
        b->cap = cap;
    }
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
