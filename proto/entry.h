/* SPDX-License-Identifier: MIT */
/* The entry model: an IPv4/IPv6 prefix key and what a listed prefix answers. */
#ifndef BL_ENTRY_H
#define BL_ENTRY_H

#include <stddef.h>
#include <stdint.h>

#define BL_AF4 4
#define BL_AF6 6

/* A prefix key. IPv4 addresses live in addr[0..3], the rest is zero. Bits
 * beyond len are always zero (bl_prefix_parse refuses them). */
typedef struct {
    uint8_t af;  /* BL_AF4 or BL_AF6 */
    uint8_t len; /* 0..32 or 0..128 */
    uint8_t addr[16];
} bl_prefix_t;

/* One listing. Times are Unix seconds. a is the last octet of 127.0.0.a. */
typedef struct {
    bl_prefix_t key;
    uint8_t a;
    uint16_t reason;
    int64_t listed_at;
    int64_t expires_at;
} bl_entry_t;

/* A change carried by a delta: for a removal only e.key is meaningful.
 * decided_ms is when the master decided the change (Unix milliseconds); it
 * is metadata for propagation metrics and not part of the state digest. */
typedef struct {
    bl_entry_t e;
    int64_t decided_ms;
} bl_change_t;

/* Total order: IPv4 before IPv6, then address bytes, then length. */
int bl_prefix_cmp(const bl_prefix_t *a, const bl_prefix_t *b);
static inline int bl_prefix_eq(const bl_prefix_t *a, const bl_prefix_t *b)
{
    return bl_prefix_cmp(a, b) == 0;
}

/* Parses "1.2.3.4", "1.2.3.0/24", "2001:db8::/32" (a plain address gets the
 * full length). Returns 0, BL_EPREFIX (malformed) or BL_EHOSTBITS. */
int bl_prefix_parse(const char *s, bl_prefix_t *out);
/* Like bl_prefix_parse but clears host bits instead of refusing them. */
int bl_prefix_parse_loose(const char *s, bl_prefix_t *out);
/* Writes "1.2.3.4" for a full-length key, else "1.2.3.0/24". Needs 50 bytes. */
#define BL_PREFIX_STRLEN 50
char *bl_prefix_format(const bl_prefix_t *p, char *buf, size_t n);
/* Address only, without /len. */
char *bl_addr_format(const bl_prefix_t *p, char *buf, size_t n);
/* Maximum length for the family (32 or 128). */
static inline int bl_prefix_maxlen(const bl_prefix_t *p)
{
    return p->af == BL_AF4 ? 32 : 128;
}
/* Returns 1 if addr (a full-length key of the same family) lies inside p. */
int bl_prefix_contains(const bl_prefix_t *p, const bl_prefix_t *addr);
/* Checks af, len range and host bits: 0, BL_EPREFIX or BL_EHOSTBITS. */
int bl_prefix_check(const bl_prefix_t *p);
/* Builds an IPv4 key from a host-order address. */
void bl_prefix_v4(bl_prefix_t *p, uint32_t addr, uint8_t len);
static inline uint32_t bl_prefix_v4addr(const bl_prefix_t *p)
{
    return (uint32_t)p->addr[0] << 24 | (uint32_t)p->addr[1] << 16 | (uint32_t)p->addr[2] << 8 |
           p->addr[3];
}

/* Entry times are Unix seconds in [0, BL_TIME_MAX] (about year 36800). */
#define BL_TIME_MAX (1LL << 40)

/* Checks an entry's fields: prefix, a in 1..255, 0 <= listed_at <= expires_at <= BL_TIME_MAX. */
int bl_entry_check(const bl_entry_t *e);

#endif
