/* SPDX-License-Identifier: MIT */
/* The signed head: round trip, every refusal, routes a pulling mirror takes. */
#include <openssl/sha.h>

#include "common.h"
#include "head.h"

static bl_head_rec_t rec(int type, uint64_t base, uint64_t serial, uint8_t tag)
{
    bl_head_rec_t r;
    memset(&r, 0, sizeof r);
    r.type = (uint8_t)type;
    r.base_serial = base;
    r.serial = serial;
    r.bytes = 100 + tag;
    if (type == BL_OBJ_DELTA)
        memset(r.base_digest, (int)base, BL_DIGEST_SIZE);
    memset(r.sha256, tag, 32);
    return r;
}

static uint8_t dg(uint64_t serial, uint8_t out[BL_DIGEST_SIZE])
{
    memset(out, (int)serial, BL_DIGEST_SIZE);
    return out[0];
}

/* Head of serial 10: snapshot 8, deltas 8..10, a merged 3->10, a keycert. */
static void write_std(const bl_key_t *k, bl_buf_t *b)
{
    bl_head_rec_t r[] = {rec(BL_OBJ_DELTA, 9, 10, 1),   rec(BL_OBJ_DELTA, 8, 9, 2),
                         rec(BL_OBJ_SNAPSHOT, 0, 8, 3), rec(BL_OBJ_DELTA, 3, 10, 4),
                         rec(BL_OBJ_KEYCERT, 0, 0, 5),  rec(BL_OBJ_SNAPSHOT, 0, 4, 6)};
    uint8_t d[BL_DIGEST_SIZE], s[BL_DIGEST_SIZE];
    dg(10, d);
    dg(8, s);
    ASSERT_EQ(bl_head_write("main", 10, d, 42, 8, s, r, 6, T0_MS, 5000, k, b), 0);
}

/* A key, its ring and the standard head, opened. */
typedef struct {
    bl_key_t *k;
    bl_keyring_t *ring;
    bl_buf_t b;
    bl_head_t h;
} fx_t;

static void fx_open(fx_t *f)
{
    f->k = test_key();
    f->ring = test_ring(f->k);
    bl_buf_init(&f->b);
    write_std(f->k, &f->b);
    ASSERT_EQ(bl_head_open(f->b.data, f->b.len, f->ring, &f->h, NULL), 0);
}

static void fx_close(fx_t *f)
{
    bl_buf_close(&f->b);
    bl_keyring_free(f->ring);
    bl_key_free(f->k);
}

static void test_roundtrip(void)
{
    fx_t f;
    fx_open(&f);
    bl_head_t h = f.h;
    ASSERT_EQ(h.hdr.type, BL_OBJ_HEAD);
    ASSERT_STREQ(h.hdr.feed, "main");
    ASSERT_EQ(h.hdr.serial, 10);
    ASSERT_EQ(h.hdr.base_serial, 8);
    ASSERT_EQ(h.hdr.n_entries, 42);
    ASSERT_EQ(h.hdr.expires_ms, T0_MS + 5000);
    ASSERT_EQ(h.n, 6);
    bl_head_rec_t r;
    bl_head_rec(&h, 0, &r); /* sorted: deltas by serial first */
    ASSERT_EQ(r.type, BL_OBJ_DELTA);
    ASSERT_EQ(r.serial, 9);
    char name[BL_HEAD_NAME];
    bl_head_rec_name(&r, name);
    ASSERT_STREQ(name,
                 "by-hash/0202020202020202020202020202020202020202020202020202020202020202.delta");
    bl_head_rec(&h, 5, &r);
    ASSERT_EQ(r.type, BL_OBJ_KEYCERT);
    bl_head_rec_name(&r, name);
    ASSERT(strstr(name, ".keycert") != NULL);
    ASSERT_EQ(bl_obj_check_fresh(&h.hdr, T0_MS + 5000), 0);
    ASSERT_EQ(bl_obj_check_fresh(&h.hdr, T0_MS + 5001), BL_EEXPIRED);
    fx_close(&f);
}

static void route_is(const bl_head_t *h, uint64_t serial, int want_snap, int rc_want,
                     const uint64_t *serials, size_t nwant)
{
    size_t idx[16], n = 99;
    uint8_t d[BL_DIGEST_SIZE];
    dg(serial, d);
    ASSERT_EQ(bl_head_route(h, serial, d, want_snap, idx, &n), rc_want);
    ASSERT_EQ(n, nwant);
    for (size_t i = 0; i < n; i++) {
        bl_head_rec_t r;
        bl_head_rec(h, idx[i], &r);
        ASSERT_EQ(r.serial, serials[i]);
    }
}

static void test_route(void)
{
    fx_t f;
    fx_open(&f);
    bl_head_t h = f.h;
    route_is(&h, 10, 0, 0, NULL, 0);                  /* current */
    route_is(&h, 9, 0, 0, (uint64_t[]){10}, 1);       /* the last delta */
    route_is(&h, 8, 0, 0, (uint64_t[]){9, 10}, 2);    /* the chain */
    route_is(&h, 3, 0, 0, (uint64_t[]){10}, 1);       /* the merged delta */
    route_is(&h, 5, 0, 0, (uint64_t[]){8, 9, 10}, 3); /* no delta: snapshot */
    route_is(&h, 0, 0, 0, (uint64_t[]){8, 9, 10}, 3); /* empty mirror */
    route_is(&h, 9, 1, 0, (uint64_t[]){8, 9, 10}, 3); /* asked for a snapshot */
    route_is(&h, 10, 1, 0, (uint64_t[]){8, 9, 10}, 3);
    /* A merged delta from another state of serial 3 (a fork) is not taken. */
    size_t idx[16], n;
    uint8_t other[BL_DIGEST_SIZE];
    memset(other, 0xee, sizeof other);
    ASSERT_EQ(bl_head_route(&h, 3, other, 0, idx, &n), 0);
    ASSERT_EQ(n, 3);
    /* A head whose newest snapshot is not listed has no route for an empty mirror. */
    bl_buf_t b;
    bl_buf_init(&b);
    bl_head_rec_t r[] = {rec(BL_OBJ_DELTA, 9, 10, 1)};
    uint8_t d[BL_DIGEST_SIZE];
    dg(10, d);
    ASSERT_EQ(bl_head_write("main", 10, d, 1, 8, d, r, 1, T0_MS, 5000, f.k, &b), 0);
    ASSERT_EQ(bl_head_open(b.data, b.len, f.ring, &h, NULL), 0);
    route_is(&h, 0, 0, BL_ENOTFOUND, NULL, 0);
    route_is(&h, 9, 0, 0, (uint64_t[]){10}, 1);
    bl_buf_close(&b);
    fx_close(&f);
}

/* Re-signs a head whose payload was edited, so that only the record rules can refuse it. */
static void reseal(bl_buf_t *b, const bl_key_t *k)
{
    bl_rd_t rd;
    bl_hdr_t h;
    bl_rd_init(&rd, b->data, b->len);
    ASSERT_EQ(bl_hdr_decode(&rd, &h), 0);
    SHA256(b->data + BL_OBJ_PREFIX, b->len - BL_OBJ_PREFIX, h.payload_sha256);
    ASSERT_EQ(bl_obj_seal(&h, k, b->data), 0);
}

static void test_refuse(void)
{
    bl_key_t *k = test_key(), *other = test_key();
    bl_keyring_t *ring = test_ring(k);
    bl_buf_t b;
    bl_head_t h;
    size_t off;
    /* Truncated, trailing bytes, flipped header, flipped payload, foreign key. */
    bl_buf_init(&b);
    write_std(k, &b);
    ASSERT_EQ(bl_head_open(b.data, b.len - 1, ring, &h, NULL), BL_ETRUNC);
    ASSERT_EQ(bl_head_open(b.data, BL_OBJ_PREFIX - 1, ring, &h, NULL), BL_ETRUNC);
    b.data[100] ^= 1;
    ASSERT_EQ(bl_head_open(b.data, b.len, ring, &h, NULL), BL_ESIG);
    b.data[100] ^= 1;
    b.data[b.len - 1] ^= 1;
    ASSERT_EQ(bl_head_open(b.data, b.len, ring, &h, NULL), BL_EPAYLOAD);
    b.data[b.len - 1] ^= 1;
    bl_buf_close(&b);
    bl_buf_init(&b);
    write_std(other, &b);
    ASSERT_EQ(bl_head_open(b.data, b.len, ring, &h, NULL), BL_EUNKNOWNKEY);
    bl_buf_close(&b);
    /* Another object type is not a head. */
    uint8_t hb[BL_OBJ_PREFIX], d[BL_DIGEST_SIZE];
    dg(3, d);
    ASSERT_EQ(bl_heartbeat_write("main", 3, d, T0_MS, 1000, k, hb), 0);
    ASSERT_EQ(bl_head_open(hb, sizeof hb, ring, &h, NULL), BL_ETYPE);
    /* Record rules, each under a valid signature. */
    struct {
        size_t at;
        uint8_t val;
        int want;
    } cases[] = {
        {0, 9, BL_EFIELD},                /* unknown type */
        {3, 1, BL_EFIELD},                /* nonzero padding */
        {16, 11, BL_EFIELD},              /* delta 9 -> 11: past the head */
        {8, 9 + 1, BL_EFIELD},            /* delta 10 -> 9... base after serial */
        {BL_HEAD_REC + 16, 8, BL_EORDER}, /* two records out of order */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        bl_buf_init(&b);
        write_std(k, &b);
        b.data[BL_OBJ_PREFIX + cases[i].at] = cases[i].val;
        reseal(&b, k);
        ASSERT_EQ(bl_head_open(b.data, b.len, ring, &h, &off), cases[i].want);
        ASSERT(off >= BL_OBJ_PREFIX);
        bl_buf_close(&b);
    }
    /* The writer refuses what the reader would. */
    bl_buf_init(&b);
    bl_head_rec_t bad[] = {rec(BL_OBJ_DELTA, 9, 12, 1)};
    ASSERT_EQ(bl_head_write("main", 10, d, 1, 8, d, bad, 1, T0_MS, 5000, k, &b), BL_EINVAL);
    bl_head_rec_t dup[] = {rec(BL_OBJ_DELTA, 8, 9, 1), rec(BL_OBJ_DELTA, 9, 10, 1)};
    ASSERT_EQ(bl_head_write("main", 10, d, 1, 8, d, dup, 2, T0_MS, 5000, k, &b), BL_EINVAL);
    ASSERT_EQ(bl_head_write("main", 10, d, 1, 11, d, NULL, 0, T0_MS, 5000, k, &b), BL_EINVAL);
    bl_buf_close(&b);
    bl_keyring_free(ring);
    bl_key_free(k);
    bl_key_free(other);
}

int main(void)
{
    RUN(test_roundtrip);
    RUN(test_route);
    RUN(test_refuse);
    return 0;
}
