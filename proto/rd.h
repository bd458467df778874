/* SPDX-License-Identifier: MIT */
/* The one bounds-checked reader (and growable writer) for every untrusted byte. */
#ifndef BL_RD_H
#define BL_RD_H

#include <stddef.h>
#include <stdint.h>

/* A cursor over untrusted bytes. Reads past the end return zeros and record
 * the first error (BL_ETRUNC) with its offset; later reads keep failing, so a
 * parser may read a whole structure and check bl_rd_err() once. */
typedef struct {
    const uint8_t *start;
    const uint8_t *p;
    const uint8_t *end;
    int err;        /* first error, 0 if none */
    size_t err_off; /* offset of the first error */
} bl_rd_t;

/* The readers are inline: the DNS path parses every query with them. */
static inline void bl_rd_init(bl_rd_t *rd, const void *buf, size_t len)
{
    rd->start = rd->p = (const uint8_t *)buf;
    rd->end = rd->p + len;
    rd->err = 0;
    rd->err_off = 0;
}
static inline size_t bl_rd_left(const bl_rd_t *rd)
{
    return rd->err ? 0 : (size_t)(rd->end - rd->p);
}
static inline size_t bl_rd_off(const bl_rd_t *rd)
{
    return (size_t)(rd->p - rd->start);
}
static inline int bl_rd_err(const bl_rd_t *rd)
{
    return rd->err;
}
/* Records err at the current offset unless an error is already recorded. */
void bl_rd_fail(bl_rd_t *rd, int err);
/* Records truncation at the end of input (the slow path of bl_rd_take_). */
void bl_rd_trunc_(bl_rd_t *rd);
/* The next n bytes, skipped, or NULL (truncation recorded). */
static inline const uint8_t *bl_rd_take_(bl_rd_t *rd, size_t n)
{
    if (rd->err || (size_t)(rd->end - rd->p) < n) {
        bl_rd_trunc_(rd);
        return NULL;
    }
    const uint8_t *p = rd->p;
    rd->p += n;
    return p;
}
static inline uint8_t bl_rd_u8(bl_rd_t *rd)
{
    const uint8_t *p = bl_rd_take_(rd, 1);
    return p ? p[0] : 0;
}
static inline uint16_t bl_rd_u16(bl_rd_t *rd) /* little-endian */
{
    const uint8_t *p = bl_rd_take_(rd, 2);
    return p ? (uint16_t)(p[0] | p[1] << 8) : 0;
}
static inline uint32_t bl_rd_u32(bl_rd_t *rd)
{
    const uint8_t *p = bl_rd_take_(rd, 4);
    return p ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
             : 0;
}
uint64_t bl_rd_u64(bl_rd_t *rd);
static inline uint16_t bl_rd_u16be(bl_rd_t *rd) /* network order (DNS) */
{
    const uint8_t *p = bl_rd_take_(rd, 2);
    return p ? (uint16_t)(p[0] << 8 | p[1]) : 0;
}
static inline uint32_t bl_rd_u32be(bl_rd_t *rd)
{
    const uint8_t *p = bl_rd_take_(rd, 4);
    return p ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3] : 0;
}
/* LEB128 unsigned varint, at most 10 bytes; an overlong one fails with BL_EFIELD. */
uint64_t bl_rd_varint(bl_rd_t *rd);
/* Copies n bytes into dst (zero-filled on error). */
void bl_rd_copy(bl_rd_t *rd, void *dst, size_t n);
/* Returns a pointer to the next n bytes and skips them, or NULL on error. */
static inline const uint8_t *bl_rd_ptr(bl_rd_t *rd, size_t n)
{
    return bl_rd_take_(rd, n);
}
/* Fails with BL_ETRAILING if bytes remain. */
void bl_rd_expect_end(bl_rd_t *rd);

/* A growable output buffer. Allocation failure is sticky in err. */
typedef struct {
    uint8_t *data;
    size_t len;
    size_t cap;
    int err;
} bl_buf_t;

void bl_buf_init(bl_buf_t *b);
/* Frees the buffer's memory; the buffer may be reused after bl_buf_init. */
void bl_buf_close(bl_buf_t *b);
/* Makes room for n more bytes; returns a pointer to them or NULL (err set). */
uint8_t *bl_buf_reserve(bl_buf_t *b, size_t n);
void bl_buf_put(bl_buf_t *b, const void *p, size_t n);
void bl_buf_u8(bl_buf_t *b, uint8_t v);
void bl_buf_u16(bl_buf_t *b, uint16_t v);
void bl_buf_u32(bl_buf_t *b, uint32_t v);
void bl_buf_u64(bl_buf_t *b, uint64_t v);
void bl_buf_varint(bl_buf_t *b, uint64_t v);

static inline uint64_t bl_zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
static inline int64_t bl_unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

#endif
