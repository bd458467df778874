/* SPDX-License-Identifier: MIT */
/* Helpers shared by the proto tests: keys, random entries, writing and opening objects. */
#ifndef BL_TEST_PROTO_COMMON_H
#define BL_TEST_PROTO_COMMON_H

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec.h"
#include "err.h"
#include "key.h"
#include "obj.h"
#include "state.h"
#include "test.h"

#define T0_MS 1795000000000LL

static inline bl_key_t *test_key(void)
{
    bl_key_t *k;
    ASSERT_EQ(bl_key_generate(&k), 0);
    return k;
}

static inline bl_keyring_t *test_ring(const bl_key_t *k)
{
    bl_keyring_t *r = bl_keyring_new();
    bl_key_t *pub;
    ASSERT_EQ(bl_key_from_raw(bl_key_raw(k), &pub), 0);
    ASSERT_EQ(bl_keyring_add(r, pub), 0);
    return r;
}

/* A random valid entry: IPv4 or IPv6, host or CIDR. */
static inline void test_rand_entry(uint64_t *seed, bl_entry_t *e, int v6_percent, int cidr_percent)
{
    memset(e, 0, sizeof *e);
    int v6 = (int)(bl_test_rand(seed) % 100) < v6_percent;
    int cidr = (int)(bl_test_rand(seed) % 100) < cidr_percent;
    e->key.af = v6 ? BL_AF6 : BL_AF4;
    int max = v6 ? 128 : 32;
    e->key.len = (uint8_t)(cidr ? 8 + bl_test_rand(seed) % (unsigned)(max - 8) : (uint64_t)max);
    for (int i = 0; i < (v6 ? 16 : 4); i++)
        e->key.addr[i] = (uint8_t)bl_test_rand(seed);
    /* clear host bits */
    for (int b = e->key.len; b < max; b++)
        e->key.addr[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
    e->a = (uint8_t)(2 + bl_test_rand(seed) % 10);
    e->reason = (uint16_t)(bl_test_rand(seed) % 4);
    e->listed_at = T0_MS / 1000 + (int64_t)(bl_test_rand(seed) % 86400);
    e->expires_at = e->listed_at + 86400;
}

static int test_cmp_change(const void *a, const void *b)
{
    return bl_prefix_cmp(&((const bl_change_t *)a)->e.key, &((const bl_change_t *)b)->e.key);
}

/* Sorts and removes duplicate keys; returns the new count. */
static inline size_t test_sort_unique(bl_change_t *c, size_t n)
{
    qsort(c, n, sizeof *c, test_cmp_change);
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        if (!o || !bl_prefix_eq(&c[o - 1].e.key, &c[i].e.key))
            c[o++] = c[i];
    return o;
}

/* Writes a delta from s's current state; applies it to a copy of the digest. */
static inline void test_hdr_for(bl_hdr_t *h, const bl_state_t *s, uint64_t serial)
{
    memset(h, 0, sizeof *h);
    snprintf(h->feed, sizeof h->feed, "%s", s->feed);
    h->base_serial = s->serial;
    bl_digest_to_bytes(&s->digest, h->base_digest);
    h->serial = serial;
    h->created_ms = T0_MS;
    h->expires_ms = T0_MS + 86400000;
}

#endif
