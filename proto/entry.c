/* SPDX-License-Identifier: MIT */
/* Prefix keys: ordering, parsing, formatting and containment. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entry.h"
#include "err.h"

int bl_prefix_cmp(const bl_prefix_t *a, const bl_prefix_t *b)
{
    if (a->af != b->af)
        return a->af < b->af ? -1 : 1;
    int c = memcmp(a->addr, b->addr, a->af == BL_AF4 ? 4 : 16);
    if (c)
        return c < 0 ? -1 : 1;
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return 0;
}

/* Returns 1 if any bit at position >= len is set in addr (nbytes long). */
static int has_host_bits(const uint8_t *addr, int nbytes, int len)
{
    for (int i = len / 8; i < nbytes; i++) {
        uint8_t mask = (i == len / 8 && len % 8) ? (uint8_t)(0xff >> (len % 8)) : 0xff;
        if (addr[i] & mask)
            return 1;
    }
    return 0;
}

static void clear_host_bits(uint8_t *addr, int nbytes, int len)
{
    for (int i = len / 8; i < nbytes; i++)
        addr[i] &= (i == len / 8 && len % 8) ? (uint8_t)(0xff << (8 - len % 8)) : 0;
}

int bl_prefix_check(const bl_prefix_t *p)
{
    if (p->af == BL_AF4) {
        if (p->len > 32)
            return BL_EPREFIX;
        for (int i = 4; i < 16; i++)
            if (p->addr[i])
                return BL_EPREFIX;
        return has_host_bits(p->addr, 4, p->len) ? BL_EHOSTBITS : 0;
    }
    if (p->af == BL_AF6) {
        if (p->len > 128)
            return BL_EPREFIX;
        return has_host_bits(p->addr, 16, p->len) ? BL_EHOSTBITS : 0;
    }
    return BL_EPREFIX;
}

static int parse(const char *s, bl_prefix_t *out, int loose)
{
    char buf[INET6_ADDRSTRLEN + 8];
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof buf)
        return BL_EPREFIX;
    memcpy(buf, s, n + 1);
    memset(out, 0, sizeof *out);
    char *slash = strchr(buf, '/');
    long len = -1;
    if (slash) {
        *slash = 0;
        const char *l = slash + 1;
        if (!*l || strlen(l) > 3)
            return BL_EPREFIX;
        len = 0;
        for (; *l; l++) {
            if (*l < '0' || *l > '9')
                return BL_EPREFIX;
            len = len * 10 + (*l - '0');
        }
    }
    if (inet_pton(AF_INET, buf, out->addr) == 1) {
        out->af = BL_AF4;
        if (len > 32)
            return BL_EPREFIX;
        out->len = (uint8_t)(len < 0 ? 32 : len);
    } else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        out->af = BL_AF6;
        if (len > 128)
            return BL_EPREFIX;
        out->len = (uint8_t)(len < 0 ? 128 : len);
    } else {
        return BL_EPREFIX;
    }
    if (loose)
        clear_host_bits(out->addr, out->af == BL_AF4 ? 4 : 16, out->len);
    return bl_prefix_check(out);
}

int bl_prefix_parse(const char *s, bl_prefix_t *out)
{
    return parse(s, out, 0);
}

int bl_prefix_parse_loose(const char *s, bl_prefix_t *out)
{
    return parse(s, out, 1);
}

char *bl_addr_format(const bl_prefix_t *p, char *buf, size_t n)
{
    if (!inet_ntop(p->af == BL_AF4 ? AF_INET : AF_INET6, p->addr, buf, (socklen_t)n))
        snprintf(buf, n, "?");
    return buf;
}

char *bl_prefix_format(const bl_prefix_t *p, char *buf, size_t n)
{
    bl_addr_format(p, buf, n);
    if (p->len != bl_prefix_maxlen(p)) {
        size_t l = strlen(buf);
        snprintf(buf + l, n - l, "/%u", p->len);
    }
    return buf;
}

int bl_prefix_contains(const bl_prefix_t *p, const bl_prefix_t *addr)
{
    if (p->af != addr->af || addr->len < p->len)
        return 0;
    int full = p->len / 8, rest = p->len % 8;
    if (memcmp(p->addr, addr->addr, (size_t)full))
        return 0;
    if (rest) {
        uint8_t mask = (uint8_t)(0xff << (8 - rest));
        if ((p->addr[full] & mask) != (addr->addr[full] & mask))
            return 0;
    }
    return 1;
}

void bl_prefix_v4(bl_prefix_t *p, uint32_t addr, uint8_t len)
{
    memset(p, 0, sizeof *p);
    p->af = BL_AF4;
    p->len = len;
    p->addr[0] = (uint8_t)(addr >> 24);
    p->addr[1] = (uint8_t)(addr >> 16);
    p->addr[2] = (uint8_t)(addr >> 8);
    p->addr[3] = (uint8_t)addr;
}

int bl_entry_check(const bl_entry_t *e)
{
    int r = bl_prefix_check(&e->key);
    if (r)
        return r;
    if (e->a == 0 || e->listed_at < 0 || e->expires_at < e->listed_at ||
        e->expires_at > BL_TIME_MAX)
        return BL_EFIELD;
    return 0;
}
