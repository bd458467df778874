/* SPDX-License-Identifier: MIT */
/* Response-rate limiting (see rrl.h). */
#include "rrl.h"

#include <stdlib.h>
#include <string.h>

mirror_rrl_t *mirror_rrl_new(const mirror_rrl_conf_t *conf)
{
    mirror_rrl_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->conf = *conf;
    if (r->conf.rate < 1)
        r->conf.rate = 1;
    if (r->conf.rate > 1000000)
        r->conf.rate = 1000000;
    uint64_t n = 1024;
    while (n < conf->table_size && n < (1ULL << 28))
        n <<= 1;
    r->mask = n - 1;
    r->buckets = calloc(n, sizeof *r->buckets);
    if (!r->buckets) {
        free(r);
        return NULL;
    }
    return r;
}

void mirror_rrl_free(mirror_rrl_t *r)
{
    if (!r)
        return;
    free((void *)r->buckets);
    free(r);
}

/* A keyed mix of the prefix (splitmix64's finaliser over both halves). */
static uint64_t hash(const mirror_ip_t *k, uint64_t seed)
{
    uint64_t h = k->hi ^ seed;
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
    h ^= k->lo + 0x9e3779b97f4a7c15ULL;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
    return h ^ (h >> 31);
}

int mirror_rrl_check(mirror_rrl_t *r, const mirror_ip_t *ip, uint64_t now_ms)
{
    if (mirror_acl_match(r->conf.whitelist, ip) == MIRROR_ACL_ALLOW)
        return MIRROR_RRL_PASS;
    int v4 = ip->hi == 0 && (ip->lo >> 32) == 0xffff;
    mirror_ip_t k = mirror_ip_mask(*ip, v4 ? 96 + r->conf.ipv4_prefix : r->conf.ipv6_prefix);
    _Atomic uint64_t *b = &r->buckets[hash(&k, r->conf.seed) & r->mask];
    const uint32_t full = r->conf.rate * 1000u; /* one second's worth, in thousandths */
    uint32_t now = (uint32_t)now_ms;
    uint64_t old = atomic_load_explicit(b, memory_order_relaxed);
    for (;;) {
        uint32_t t = (uint32_t)(old >> 32), tok = (uint32_t)old;
        if (!old) /* never used: full */
            tok = full;
        uint32_t el = now - t, stamp = now;
        if ((int32_t)el < 0 && (int32_t)el > -60000) {
            /* another thread's clock read was later than ours (a bucket
             * idle for 24 days or more looks like this too, further back:
             * that one is full) */
            el = 0;
            stamp = t;
        }
        uint64_t refill = old ? (uint64_t)el * r->conf.rate : 0;
        uint64_t have = tok + refill > full ? full : tok + refill;
        int ok = have >= 1000;
        uint64_t left = ok ? have - 1000 : have;
        uint64_t nw = (uint64_t)stamp << 32 | left;
        if (!nw)
            nw = 1; /* 0 means never used */
        if (atomic_compare_exchange_weak_explicit(b, &old, nw, memory_order_relaxed,
                                                  memory_order_relaxed)) {
            if (ok)
                return MIRROR_RRL_PASS;
            break;
        }
    }
    uint64_t n = atomic_fetch_add_explicit(&r->limited, 1, memory_order_relaxed) + 1;
    return r->conf.slip && n % r->conf.slip == 0 ? MIRROR_RRL_SLIP : MIRROR_RRL_DROP;
}

size_t mirror_rrl_truncate(uint8_t *p, size_t len)
{
    if (len < 12 || (p[4] << 8 | p[5]) != 1)
        return 0;
    size_t off = 12;
    for (;;) {
        if (off >= len)
            return 0;
        uint8_t l = p[off];
        if (l == 0) {
            off++;
            break;
        }
        if (l & 0xc0)
            return 0;
        off += 1 + l;
    }
    if (off + 4 > len)
        return 0;
    p[2] |= 0x02; /* TC */
    memset(p + 6, 0, 6);
    return off + 4;
}
