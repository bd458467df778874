/* SPDX-License-Identifier: MIT */
/* Round trips of every object format: deltas, snapshots, heartbeats, key certificates. */
#include "common.h"

typedef struct {
    bl_change_t *rem, *add;
    size_t nrem, nadd, cap;
    int blocks;
} got_t;

static int got_block(void *ctx, const bl_change_t *rem, size_t nrem, const bl_change_t *add,
                     size_t nadd)
{
    got_t *g = ctx;
    g->rem = realloc(g->rem, (g->nrem + nrem + 1) * sizeof *rem);
    g->add = realloc(g->add, (g->nadd + nadd + 1) * sizeof *add);
    memcpy(g->rem + g->nrem, rem, nrem * sizeof *rem);
    memcpy(g->add + g->nadd, add, nadd * sizeof *add);
    g->nrem += nrem;
    g->nadd += nadd;
    g->blocks++;
    return 0;
}

static void same_changes(const bl_change_t *a, const bl_change_t *b, size_t n, int full)
{
    for (size_t i = 0; i < n; i++) {
        ASSERT(bl_prefix_eq(&a[i].e.key, &b[i].e.key));
        ASSERT_EQ(a[i].decided_ms, b[i].decided_ms);
        if (full) {
            ASSERT_EQ(a[i].e.a, b[i].e.a);
            ASSERT_EQ(a[i].e.reason, b[i].e.reason);
            ASSERT_EQ(a[i].e.listed_at, b[i].e.listed_at);
            ASSERT_EQ(a[i].e.expires_at, b[i].e.expires_at);
        }
    }
}

/* Writes a delta of the given changes, opens and decodes it, compares. */
static void delta_roundtrip(bl_change_t *rem, size_t nrem, bl_change_t *add, size_t nadd)
{
    bl_key_t *k = test_key();
    bl_keyring_t *ring = test_ring(k);
    bl_hdr_t h = {0};
    snprintf(h.feed, sizeof h.feed, "main");
    h.base_serial = 7;
    h.serial = 8;
    h.created_ms = T0_MS;
    h.expires_ms = T0_MS + 1000;
    h.n_entries = 12345;
    memset(h.base_digest, 0xab, 32);
    memset(h.digest, 0xcd, 32);
    bl_buf_t buf;
    bl_buf_init(&buf);
    ASSERT_EQ(bl_delta_write(&h, rem, nrem, add, nadd, k, &buf), 0);
    bl_obj_t obj;
    ASSERT_EQ(bl_obj_open(buf.data, buf.len, ring, NULL, &obj, NULL), 0);
    ASSERT_EQ(obj.hdr.type, BL_OBJ_DELTA);
    ASSERT_STREQ(obj.hdr.feed, "main");
    ASSERT_EQ(obj.hdr.base_serial, 7);
    ASSERT_EQ(obj.hdr.serial, 8);
    ASSERT_EQ(obj.hdr.n_removed, nrem);
    ASSERT_EQ(obj.hdr.n_added, nadd);
    ASSERT_EQ(obj.hdr.n_entries, 12345);
    ASSERT_EQ(obj.hdr.created_ms, T0_MS);
    ASSERT_EQ(obj.hdr.expires_ms, T0_MS + 1000);
    ASSERT_MEMEQ(obj.hdr.base_digest, h.base_digest, 32);
    ASSERT_MEMEQ(obj.hdr.digest, h.digest, 32);
    ASSERT_MEMEQ(obj.hdr.key_id, bl_key_id(k), BL_KEYID_SIZE);
    got_t g = {0};
    ASSERT_EQ(bl_obj_decode(&obj, NULL, &(bl_sink_t){&g, got_block}, NULL), 0);
    ASSERT_EQ(g.nrem, nrem);
    ASSERT_EQ(g.nadd, nadd);
    same_changes(rem, g.rem, nrem, 0);
    same_changes(add, g.add, nadd, 1);
    ASSERT_EQ(bl_obj_check_fresh(&obj.hdr, T0_MS + 1000), 0);
    ASSERT_EQ(bl_obj_check_fresh(&obj.hdr, T0_MS + 1001), BL_EEXPIRED);
    free(g.rem);
    free(g.add);
    bl_buf_close(&buf);
    bl_keyring_free(ring);
    bl_key_free(k);
}

static void test_delta_mixed(void)
{
    uint64_t seed = 42;
    size_t n = 5000;
    bl_change_t *rem = calloc(n, sizeof *rem), *add = calloc(n, sizeof *add);
    for (size_t i = 0; i < n; i++) {
        test_rand_entry(&seed, &rem[i].e, 30, 30);
        test_rand_entry(&seed, &add[i].e, 30, 30);
        rem[i].decided_ms = T0_MS + (int64_t)(bl_test_rand(&seed) % 5000) - 2500;
        add[i].decided_ms = T0_MS + (int64_t)(bl_test_rand(&seed) % 5000);
    }
    size_t nr = test_sort_unique(rem, n), na = test_sort_unique(add, n);
    delta_roundtrip(rem, nr, add, na);
    free(rem);
    free(add);
}

static void test_delta_edges(void)
{
    const char *keys[] = {
        "0.0.0.0/0",       "0.0.0.0",     "1.2.3.0/24",
        "1.2.3.0",         "1.2.3.4",     "127.0.0.2",
        "255.255.255.255", "::/0",        "::ffff:7f00:2",
        "2001:db8::/32",   "2001:db8::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"};
    size_t n = sizeof keys / sizeof keys[0];
    bl_change_t add[16], rem[16];
    memset(add, 0, sizeof add);
    memset(rem, 0, sizeof rem);
    for (size_t i = 0; i < n; i++) {
        ASSERT_EQ(bl_prefix_parse(keys[i], &add[i].e.key), 0);
        rem[i].e.key = add[i].e.key;
        add[i].e.a = i % 2 ? 255 : 1;
        add[i].e.reason = i % 2 ? 65535 : 0;
        add[i].e.listed_at = i % 3 ? 0 : 4102444800LL;
        add[i].e.expires_at = add[i].e.listed_at + (i % 2 ? 0 : 10LL * 365 * 86400);
        add[i].decided_ms = i % 2 ? 0 : T0_MS * 2;
        rem[i].decided_ms = T0_MS - (int64_t)i;
    }
    delta_roundtrip(rem, n, add, n);
    delta_roundtrip(rem, n, add, 0);
    delta_roundtrip(rem, 0, add, n);
}

static void test_delta_empty(void)
{
    delta_roundtrip(NULL, 0, NULL, 0);
}

static void test_delta_unsorted_refused(void)
{
    bl_key_t *k = test_key();
    bl_change_t add[2];
    memset(add, 0, sizeof add);
    bl_prefix_parse("2.0.0.0", &add[0].e.key);
    bl_prefix_parse("1.0.0.0", &add[1].e.key);
    add[0].e.a = add[1].e.a = 2;
    bl_hdr_t h = {0};
    snprintf(h.feed, sizeof h.feed, "main");
    h.serial = 1;
    bl_buf_t buf;
    bl_buf_init(&buf);
    ASSERT_EQ(bl_delta_write(&h, NULL, 0, add, 2, k, &buf), BL_EORDER);
    add[1] = add[0];
    ASSERT_EQ(bl_delta_write(&h, NULL, 0, add, 2, k, &buf), BL_EDUP);
    bl_buf_close(&buf);
    bl_key_free(k);
}

/* A snapshot over several blocks loads back into an identical state. */
static void snapshot_roundtrip(size_t n)
{
    uint64_t seed = 7 + n;
    bl_change_t *c = calloc(n ? n : 1, sizeof *c);
    for (size_t i = 0; i < n; i++)
        test_rand_entry(&seed, &c[i].e, 20, 10);
    n = test_sort_unique(c, n);
    bl_state_t src;
    bl_state_init(&src, "main");
    ASSERT_EQ(bl_state_apply_changes(&src, NULL, 0, c, n), 0);
    bl_key_t *k = test_key();
    bl_keyring_t *ring = test_ring(k);
    bl_hdr_t h;
    test_hdr_for(&h, &src, 99);
    bl_digest_to_bytes(&src.digest, h.digest);
    h.n_entries = src.n;
    bl_buf_t buf;
    bl_buf_init(&buf);
    ASSERT_EQ(bl_snapshot_write(&h, src.e, src.n, k, &buf), 0);
    bl_obj_t obj;
    ASSERT_EQ(bl_obj_open(buf.data, buf.len, ring, NULL, &obj, NULL), 0);
    got_t g = {0};
    ASSERT_EQ(bl_obj_decode(&obj, NULL, &(bl_sink_t){&g, got_block}, NULL), 0);
    ASSERT_EQ(g.blocks, (int)((n + BL_SNAP_BLOCK - 1) / BL_SNAP_BLOCK));
    bl_state_t dst;
    bl_state_init(&dst, "main");
    ASSERT_EQ(bl_state_load_snapshot(&dst, &obj, NULL), 0);
    ASSERT_EQ(dst.n, src.n);
    ASSERT_EQ(dst.serial, 99);
    ASSERT(bl_digest_eq(&dst.digest, &src.digest));
    for (size_t i = 0; i < n; i++) {
        ASSERT(bl_prefix_eq(&dst.e[i].key, &src.e[i].key));
        ASSERT_EQ(dst.e[i].a, src.e[i].a);
        ASSERT_EQ(dst.e[i].expires_at, src.e[i].expires_at);
    }
    free(g.rem);
    free(g.add);
    free(c);
    bl_state_close(&src);
    bl_state_close(&dst);
    bl_buf_close(&buf);
    bl_keyring_free(ring);
    bl_key_free(k);
}

static void test_snapshot(void)
{
    snapshot_roundtrip(0);
    snapshot_roundtrip(1);
    snapshot_roundtrip(1000);
    snapshot_roundtrip(3 * BL_SNAP_BLOCK + 17);
}

/* The largest allowed sizes pass; one more is refused before decoding. */
static void test_limits(void)
{
    bl_key_t *k = test_key();
    bl_keyring_t *ring = test_ring(k);
    uint64_t seed = 3;
    size_t n = 1000;
    bl_change_t *c = calloc(n, sizeof *c);
    for (size_t i = 0; i < n; i++)
        test_rand_entry(&seed, &c[i].e, 0, 0);
    n = test_sort_unique(c, n);
    bl_hdr_t h = {0};
    snprintf(h.feed, sizeof h.feed, "main");
    h.serial = 1;
    h.n_entries = n;
    bl_buf_t buf;
    bl_buf_init(&buf);
    ASSERT_EQ(bl_delta_write(&h, NULL, 0, c, n, k, &buf), 0);
    bl_obj_t obj;
    bl_limits_t lim = {.max_payload = h.payload_len,
                       .max_raw = h.raw_len,
                       .max_entries = n,
                       .max_block_raw = h.raw_len};
    ASSERT_EQ(bl_obj_open(buf.data, buf.len, ring, &lim, &obj, NULL), 0);
    ASSERT_EQ(bl_obj_decode(&obj, &lim, NULL, NULL), 0);
    bl_limits_t l2 = lim;
    l2.max_payload--;
    ASSERT_EQ(bl_obj_open(buf.data, buf.len, ring, &l2, &obj, NULL), BL_ETOOBIG);
    l2 = lim;
    l2.max_raw--;
    ASSERT_EQ(bl_obj_open(buf.data, buf.len, ring, &l2, &obj, NULL), BL_ETOOBIG);
    l2 = lim;
    l2.max_entries--;
    ASSERT_EQ(bl_obj_open(buf.data, buf.len, ring, &l2, &obj, NULL), BL_ETOOBIG);
    l2 = lim;
    l2.max_block_raw--;
    ASSERT_EQ(bl_obj_open(buf.data, buf.len, ring, &l2, &obj, NULL), 0);
    ASSERT_EQ(bl_obj_decode(&obj, &l2, NULL, NULL), BL_ETOOBIG);
    free(c);
    bl_buf_close(&buf);
    bl_keyring_free(ring);
    bl_key_free(k);
}

static void test_heartbeat_keycert(void)
{
    bl_key_t *k = test_key(), *k2 = test_key();
    bl_keyring_t *ring = test_ring(k);
    uint8_t hb[BL_OBJ_PREFIX], dg[32];
    memset(dg, 0x5a, sizeof dg);
    ASSERT_EQ(bl_heartbeat_write("main", 77, dg, T0_MS, 15000, k, hb), 0);
    bl_obj_t obj;
    ASSERT_EQ(bl_obj_open(hb, sizeof hb, ring, NULL, &obj, NULL), 0);
    ASSERT_EQ(obj.hdr.type, BL_OBJ_HEARTBEAT);
    ASSERT_EQ(obj.hdr.serial, 77);
    ASSERT_MEMEQ(obj.hdr.digest, dg, 32);
    ASSERT_EQ(obj.hdr.expires_ms, T0_MS + 15000);
    /* Rotation: the new key, signed by the old, becomes trusted. */
    bl_buf_t buf;
    bl_buf_init(&buf);
    ASSERT_EQ(bl_keycert_write("main", k2, T0_MS, 86400000, k, &buf), 0);
    ASSERT_EQ(bl_obj_open(buf.data, buf.len, ring, NULL, &obj, NULL), 0);
    bl_key_t *got;
    ASSERT_EQ(bl_keycert_read(&obj, &got), 0);
    ASSERT_MEMEQ(bl_key_raw(got), bl_key_raw(k2), 32);
    ASSERT_EQ(bl_keyring_add(ring, got), 0);
    ASSERT_EQ(bl_heartbeat_write("main", 78, dg, T0_MS, 15000, k2, hb), 0);
    ASSERT_EQ(bl_obj_open(hb, sizeof hb, ring, NULL, &obj, NULL), 0);
    bl_buf_close(&buf);
    bl_keyring_free(ring);
    bl_key_free(k);
    bl_key_free(k2);
}

static void test_key_files(void)
{
    char dir[] = "/tmp/bl_keytest_XXXXXX";
    ASSERT(mkdtemp(dir));
    char priv[256], pub[256];
    snprintf(priv, sizeof priv, "%s/k.key", dir);
    snprintf(pub, sizeof pub, "%s/k.pub", dir);
    bl_key_t *k = test_key(), *a, *b;
    ASSERT_EQ(bl_key_save(k, priv, pub), 0);
    ASSERT_EQ(bl_key_load(priv, &a), 0);
    ASSERT_EQ(bl_key_load(pub, &b), 0);
    ASSERT(bl_key_is_private(a));
    ASSERT(!bl_key_is_private(b));
    ASSERT_MEMEQ(bl_key_id(a), bl_key_id(k), 8);
    ASSERT_MEMEQ(bl_key_id(b), bl_key_id(k), 8);
    uint8_t sig[64];
    ASSERT_EQ(bl_key_sign(a, "msg", 3, sig), 0);
    ASSERT_EQ(bl_key_verify(b, "msg", 3, sig), 0);
    ASSERT_EQ(bl_key_verify(b, "msh", 3, sig), BL_ESIG);
    ASSERT_EQ(bl_key_sign(b, "msg", 3, sig), BL_EKEY); /* public key cannot sign */
    bl_key_t *x;
    ASSERT_EQ(bl_key_load("/nonexistent/key.pem", &x), BL_EIO);
    FILE *f = fopen(priv, "w");
    fputs("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n", f);
    fclose(f);
    ASSERT_EQ(bl_key_load(priv, &x), BL_EKEY);
    bl_key_free(a);
    bl_key_free(b);
    bl_key_free(k);
    remove(priv);
    remove(pub);
    rmdir(dir);
}

int main(void)
{
    RUN(test_delta_mixed);
    RUN(test_delta_edges);
    RUN(test_delta_empty);
    RUN(test_delta_unsorted_refused);
    RUN(test_snapshot);
    RUN(test_limits);
    RUN(test_heartbeat_keycert);
    RUN(test_key_files);
    return 0;
}
