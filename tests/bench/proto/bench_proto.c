/* SPDX-License-Identifier: MIT */
/* Benchmarks of the proto formats: 10M snapshot, 10k-change delta size, signatures, digest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "digest.h"
#include "err.h"
#include "key.h"
#include "obj.h"
#include "state.h"
#include "util.h"

static uint64_t rng = 0x12345678abcdefULL;
static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ULL;
}

static double secs(uint64_t t0)
{
    return (double)(bl_mono_ns() - t0) / 1e9;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* n unique random IPv4 /32 entries, sorted, listed within the last day. */
static bl_entry_t *random_state(size_t *n, int64_t now)
{
    uint32_t *a = malloc(*n * sizeof *a);
    for (size_t i = 0; i < *n; i++)
        a[i] = (uint32_t)rnd();
    qsort(a, *n, sizeof *a, cmp_u32);
    size_t m = 0;
    for (size_t i = 0; i < *n; i++)
        if (!m || a[m - 1] != a[i])
            a[m++] = a[i];
    bl_entry_t *e = calloc(m, sizeof *e);
    for (size_t i = 0; i < m; i++) {
        bl_prefix_v4(&e[i].key, a[i], 32);
        e[i].a = 2;
        e[i].listed_at = now - (int64_t)(rnd() % 86400);
        e[i].expires_at = e[i].listed_at + 86400;
    }
    free(a);
    *n = m;
    return e;
}

static void bench_snapshot(bl_key_t *k, bl_keyring_t *ring, size_t want)
{
    int64_t now = bl_now_ms() / 1000;
    size_t n = want;
    bl_entry_t *e = random_state(&n, now);
    bl_digest_t dg;
    uint64_t t0 = bl_mono_ns();
    bl_digest_of(&dg, e, n);
    double t_digest = secs(t0);
    bl_hdr_t h = {0};
    snprintf(h.feed, sizeof h.feed, "main");
    h.serial = 1;
    h.created_ms = now * 1000;
    h.expires_ms = h.created_ms + 86400000;
    bl_digest_to_bytes(&dg, h.digest);
    h.n_entries = n;
    bl_buf_t buf;
    bl_buf_init(&buf);
    t0 = bl_mono_ns();
    int rc = bl_snapshot_write(&h, e, n, k, &buf);
    double t_write = secs(t0);
    free(e);
    bl_state_t st;
    bl_state_init(&st, "main");
    t0 = bl_mono_ns();
    bl_obj_t obj;
    if (!rc)
        rc = bl_obj_open(buf.data, buf.len, ring, NULL, &obj, NULL);
    if (!rc)
        rc = bl_state_load_snapshot(&st, &obj, NULL);
    double t_load = secs(t0);
    if (rc) {
        fprintf(stderr, "snapshot: %s\n", bl_strerror(rc));
        exit(1);
    }
    printf("snapshot entries=%zu bytes=%zu bytes_per_entry=%.2f write_sign_s=%.3f "
           "verify_load_s=%.3f full_digest_s=%.3f target_verify_load_s=2\n",
           n, buf.len, (double)buf.len / (double)n, t_write, t_load, t_digest);
    bl_state_close(&st);
    bl_buf_close(&buf);
}

static int cmp_change(const void *a, const void *b)
{
    return bl_prefix_cmp(&((const bl_change_t *)a)->e.key, &((const bl_change_t *)b)->e.key);
}

/* 5,000 removals + 5,000 additions of random /32 on a 1,000,000-entry state. */
static void bench_delta(bl_key_t *k, int spread_ms)
{
    int64_t now = bl_now_ms() / 1000;
    size_t n = 1000000;
    bl_entry_t *e = random_state(&n, now);
    bl_change_t *rem = calloc(5000, sizeof *rem), *add = calloc(5000, sizeof *add);
    size_t nr = 0, na = 0;
    while (nr < 5000) { /* distinct existing keys */
        size_t i = rnd() % n;
        if (e[i].a == 2) {
            e[i].a = 3;
            rem[nr].e.key = e[i].key;
            rem[nr++].decided_ms = now * 1000 + (spread_ms ? (int64_t)(rnd() % spread_ms) : 0);
        }
    }
    for (; na < 5000; na++) {
        bl_prefix_v4(&add[na].e.key, (uint32_t)rnd(), 32);
        add[na].e.a = 2;
        add[na].e.listed_at = now;
        add[na].e.expires_at = now + 86400;
        add[na].decided_ms = now * 1000 + (spread_ms ? (int64_t)(rnd() % spread_ms) : 0);
    }
    qsort(rem, nr, sizeof *rem, cmp_change);
    qsort(add, na, sizeof *add, cmp_change);
    bl_hdr_t h = {0};
    snprintf(h.feed, sizeof h.feed, "main");
    h.base_serial = 1;
    h.serial = 2;
    h.created_ms = now * 1000;
    h.expires_ms = h.created_ms + 86400000;
    h.n_entries = n;
    bl_buf_t buf;
    bl_buf_init(&buf);
    uint64_t t0 = bl_mono_ns();
    int rc = bl_delta_write(&h, rem, nr, add, na, k, &buf);
    double t = secs(t0);
    if (rc) {
        fprintf(stderr, "delta: %s\n", bl_strerror(rc));
        exit(1);
    }
    printf("delta changes=%zu decided_spread_ms=%d bytes=%zu bytes_per_change=%.3f "
           "payload_per_change=%.3f write_s=%.4f target_bytes_per_change=3\n",
           nr + na, spread_ms, buf.len, (double)buf.len / (double)(nr + na),
           (double)h.payload_len / (double)(nr + na), t);
    bl_buf_close(&buf);
    free(e);
    free(rem);
    free(add);
}

static void bench_sig_digest(bl_key_t *k, bl_keyring_t *ring)
{
    uint8_t hb[BL_OBJ_PREFIX], dg[32] = {0};
    int iters = 20000;
    uint64_t t0 = bl_mono_ns();
    for (int i = 0; i < iters; i++)
        bl_heartbeat_write("main", (uint64_t)i, dg, 0, 1000, k, hb);
    double t_sign = secs(t0) / iters;
    bl_obj_t obj;
    t0 = bl_mono_ns();
    for (int i = 0; i < iters; i++)
        if (bl_obj_open(hb, sizeof hb, ring, NULL, &obj, NULL))
            exit(1);
    double t_verify = secs(t0) / iters;
    bl_entry_t e = {0};
    bl_prefix_v4(&e.key, 0x0a000001, 32);
    e.a = 2;
    bl_digest_t d;
    bl_digest_zero(&d);
    int n = 2000000;
    t0 = bl_mono_ns();
    for (int i = 0; i < n; i++) {
        e.key.addr[3] = (uint8_t)i;
        e.listed_at = i;
        bl_digest_add(&d, &e);
    }
    double t_dg = secs(t0) / n;
    printf("sign_us=%.1f verify_us=%.1f digest_update_ns=%.0f\n", t_sign * 1e6, t_verify * 1e6,
           t_dg * 1e9);
}

int main(int argc, char **argv)
{
    size_t snap_n = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000;
    bl_key_t *k, *pub;
    bl_key_generate(&k);
    bl_key_from_raw(bl_key_raw(k), &pub);
    bl_keyring_t *ring = bl_keyring_new();
    bl_keyring_add(ring, pub);
    bench_sig_digest(k, ring);
    bench_delta(k, 0);
    bench_delta(k, 1000);
    bench_snapshot(k, ring, snap_n);
    bl_keyring_free(ring);
    bl_key_free(k);
    return 0;
}
