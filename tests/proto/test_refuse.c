/* SPDX-License-Identifier: MIT */
/* Every bad object is refused with its own error, and hostile sizes allocate nothing. */
#include <openssl/sha.h>
#include <zstd.h>

#include "common.h"

/* ---- allocation accounting (plain builds; ASan owns malloc otherwise) ---- */
#if defined(__SANITIZE_ADDRESS__)
#define COUNT_ALLOCS 0
#else
#define COUNT_ALLOCS 1
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
static size_t alloc_max, alloc_count;
static int alloc_watch;
static void note(size_t n)
{
    if (alloc_watch) {
        alloc_count++;
        if (n > alloc_max)
            alloc_max = n;
    }
}
void *malloc(size_t n)
{
    note(n);
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b)
{
    note(a * b);
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n)
{
    note(n);
    return __libc_realloc(p, n);
}
#endif
static void watch(void)
{
#if COUNT_ALLOCS
    alloc_max = alloc_count = 0;
    alloc_watch = 1;
#endif
}
/* Asserts that since watch() no single allocation exceeded max bytes. */
static void watched_max(size_t max)
{
#if COUNT_ALLOCS
    alloc_watch = 0;
    if (alloc_max > max)
        BL_FAIL("allocated %zu bytes, bound %zu", alloc_max, max);
#else
    (void)max;
#endif
}

static bl_key_t *key1, *key2;
static bl_keyring_t *ring;

/* Seals an object of type t around a hand-made payload. */
static void seal_raw(bl_hdr_t *h, const uint8_t *payload, size_t len, uint64_t raw_len,
                     const bl_key_t *k, bl_buf_t *out)
{
    h->payload_len = len;
    h->raw_len = raw_len;
    SHA256(payload, len, h->payload_sha256);
    out->len = 0;
    uint8_t *p = bl_buf_reserve(out, BL_OBJ_PREFIX + len);
    ASSERT_EQ(bl_obj_seal(h, k, p), 0);
    memcpy(p + BL_OBJ_PREFIX, payload, len);
    out->len = BL_OBJ_PREFIX + len;
}

static void block_append(bl_buf_t *payload, const void *frame, size_t flen, uint32_t raw_len)
{
    bl_buf_u32(payload, raw_len);
    bl_buf_u32(payload, (uint32_t)flen);
    bl_buf_put(payload, frame, flen);
}

static void hdr_basic(bl_hdr_t *h, int type)
{
    memset(h, 0, sizeof *h);
    h->type = (uint8_t)type;
    snprintf(h->feed, sizeof h->feed, "main");
    h->serial = 1;
    h->created_ms = T0_MS;
    h->expires_ms = T0_MS + 60000;
}

/* A small valid delta used by the bit-flip tests. */
static void small_delta(bl_buf_t *out, bl_hdr_t *h)
{
    bl_change_t add[3];
    memset(add, 0, sizeof add);
    bl_prefix_parse("10.0.0.0/8", &add[0].e.key);
    bl_prefix_parse("192.0.2.1", &add[1].e.key);
    bl_prefix_parse("2001:db8::/48", &add[2].e.key);
    for (int i = 0; i < 3; i++) {
        add[i].e.a = 2;
        add[i].e.listed_at = T0_MS / 1000;
        add[i].e.expires_at = T0_MS / 1000 + 86400;
        add[i].decided_ms = T0_MS;
    }
    hdr_basic(h, BL_OBJ_DELTA);
    bl_state_t s;
    bl_state_init(&s, "main");
    bl_state_apply_changes(&s, NULL, 0, add, 3);
    bl_digest_to_bytes(&s.digest, h->digest);
    h->n_entries = 3;
    out->len = 0;
    ASSERT_EQ(bl_delta_write(h, NULL, 0, add, 3, key1, out), 0);
    bl_state_close(&s);
}

static void test_bitflips(void)
{
    bl_buf_t buf;
    bl_buf_init(&buf);
    bl_hdr_t h;
    small_delta(&buf, &h);
    bl_obj_t obj;
    ASSERT_EQ(bl_obj_open(buf.data, buf.len, ring, NULL, &obj, NULL), 0);
    uint8_t *copy = malloc(buf.len);
    for (size_t byte = 0; byte < buf.len; byte++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, buf.data, buf.len);
            copy[byte] ^= (uint8_t)(1 << bit);
            size_t off = 0;
            int rc = bl_obj_open(copy, buf.len, ring, NULL, &obj, &off);
            int ok;
            if (byte < 4)
                ok = rc == BL_EMAGIC;
            else if (byte == 4)
                ok = rc == BL_EVERSION;
            else if (byte == 5)
                ok = rc == BL_ETYPE || rc == BL_EDOMAIN || rc == BL_EFIELD;
            else if (byte < 8)
                ok = rc == BL_EFIELD;
            else if (byte < 24)
                ok = rc == BL_EDOMAIN;
            else if (byte < 56)
                ok = rc == BL_EFIELD || rc == BL_ESIG;
            else if (byte < 64)
                ok = rc == BL_EUNKNOWNKEY;
            else if (byte >= 160 && byte < 200)
                ok = rc == BL_ESIG; /* lengths: the signature is checked before they are used */
            else if (byte < 232)
                ok = rc == BL_ESIG || rc == BL_EFIELD;
            else if (byte < BL_HDR_SIZE)
                ok = rc == BL_EFIELD;
            else if (byte < BL_OBJ_PREFIX)
                ok = rc == BL_ESIG;
            else
                ok = rc == BL_EPAYLOAD;
            if (!ok)
                BL_FAIL("flip byte %zu bit %d: got %s", byte, bit, bl_strerror(rc));
        }
    }
    free(copy);
    bl_buf_close(&buf);
}

static void test_truncated_every_length(void)
{
    bl_buf_t buf;
    bl_buf_init(&buf);
    bl_hdr_t h;
    small_delta(&buf, &h);
    bl_obj_t obj;
    for (size_t len = 0; len < buf.len; len++) {
        uint8_t *p = malloc(len ? len : 1); /* exact size so ASan sees any overread */
        memcpy(p, buf.data, len);
        size_t off = 0;
        int rc = bl_obj_open(p, len, ring, NULL, &obj, &off);
        if (rc != BL_ETRUNC)
            BL_FAIL("length %zu: got %s", len, bl_strerror(rc));
        ASSERT_EQ(off, len);
        free(p);
    }
    /* One byte too many is refused as well. */
    bl_buf_u8(&buf, 0);
    ASSERT_EQ(bl_obj_open(buf.data, buf.len, ring, NULL, &obj, NULL), BL_ETRAILING);
    bl_buf_close(&buf);
}

static void test_other_key(void)
{
    bl_buf_t buf;
    bl_buf_init(&buf);
    bl_hdr_t h;
    hdr_basic(&h, BL_OBJ_DELTA);
    ASSERT_EQ(bl_delta_write(&h, NULL, 0, NULL, 0, key2, &buf), 0);
    bl_obj_t obj;
    ASSERT_EQ(bl_obj_open(buf.data, buf.len, ring, NULL, &obj, NULL), BL_EUNKNOWNKEY);
    /* Signed by key2 while naming key1's id: a forgery. */
    uint8_t hdr[BL_HDR_SIZE];
    h.version = BL_FORMAT_VERSION;
    memcpy(h.key_id, bl_key_id(key1), BL_KEYID_SIZE);
    bl_hdr_encode(&h, hdr);
    memcpy(buf.data, hdr, BL_HDR_SIZE);
    ASSERT_EQ(bl_key_sign(key2, hdr, BL_HDR_SIZE, buf.data + BL_HDR_SIZE), 0);
    ASSERT_EQ(bl_obj_open(buf.data, buf.len, ring, NULL, &obj, NULL), BL_ESIG);
    bl_buf_close(&buf);
}

static void test_apply_rules(void)
{
    bl_state_t s;
    bl_state_init(&s, "main");
    bl_buf_t buf;
    bl_buf_init(&buf);
    bl_hdr_t h;
    small_delta(&buf, &h);
    bl_obj_t obj;
    ASSERT_EQ(bl_obj_open(buf.data, buf.len, ring, NULL, &obj, NULL), 0);
    ASSERT_EQ(bl_state_apply_delta(&s, &obj, NULL), 0);
    bl_buf_t first;
    bl_buf_init(&first);
    bl_buf_put(&first, buf.data, buf.len);
    ASSERT_EQ(s.serial, 1);
    ASSERT_EQ(s.n, 3);
    bl_digest_t good = s.digest;
    /* Replaying the same delta: refused, nothing changes. */
    ASSERT_EQ(bl_state_apply_delta(&s, &obj, NULL), BL_EROLLBACK);

    bl_change_t c;
    memset(&c, 0, sizeof c);
    bl_prefix_parse("198.51.100.7", &c.e.key);
    c.e.a = 3;
    c.e.listed_at = c.e.expires_at = 5;
#define TRY(expect, mutate)                                                                        \
    do {                                                                                           \
        bl_hdr_t hh;                                                                               \
        test_hdr_for(&hh, &s, s.serial + 1);                                                       \
        bl_state_t tmp;                                                                            \
        bl_state_init(&tmp, "main");                                                               \
        tmp.e = malloc(s.n * sizeof *tmp.e);                                                       \
        memcpy(tmp.e, s.e, s.n * sizeof *tmp.e);                                                   \
        tmp.n = tmp.cap = s.n;                                                                     \
        tmp.digest = s.digest;                                                                     \
        bl_state_apply_changes(&tmp, NULL, 0, &c, 1);                                              \
        bl_digest_to_bytes(&tmp.digest, hh.digest);                                                \
        hh.n_entries = tmp.n;                                                                      \
        bl_state_close(&tmp);                                                                      \
        const bl_change_t *rm = NULL;                                                              \
        size_t nrm = 0;                                                                            \
        mutate;                                                                                    \
        buf.len = 0;                                                                               \
        ASSERT_EQ(bl_delta_write(&hh, rm, nrm, &c, 1, key1, &buf), 0);                             \
        ASSERT_EQ(bl_obj_open(buf.data, buf.len, ring, NULL, &obj, NULL), 0);                      \
        int rc_ = bl_state_apply_delta(&s, &obj, NULL);                                            \
        if (rc_ != (expect))                                                                       \
            BL_FAIL("%s: got %s", #mutate, bl_strerror(rc_));                                      \
        ASSERT_EQ(s.serial, 1);                                                                    \
        ASSERT_EQ(s.n, 3);                                                                         \
        ASSERT(bl_digest_eq(&s.digest, &good));                                                    \
    } while (0)
    TRY(BL_EBASESERIAL, hh.base_serial = 0);
    TRY(BL_EBASEDIGEST, hh.base_digest[3] ^= 1);
    TRY(BL_EDIGEST, hh.digest[0] ^= 1);
    TRY(BL_ECOUNT, hh.n_entries++);
    TRY(BL_EFORK, (hh.serial = 1, hh.base_serial = 0));
    TRY(BL_EFEED, snprintf(hh.feed, sizeof hh.feed, "other"));
    static bl_change_t absent;
    bl_prefix_parse("203.0.113.9", &absent.e.key);
    TRY(BL_EABSENT, (rm = &absent, nrm = 1));
#undef TRY
    /* A good delta to serial 2, then the first one replayed: an older serial. */
    bl_hdr_t h2;
    test_hdr_for(&h2, &s, 2);
    bl_digest_to_bytes(&s.digest, h2.digest);
    h2.n_entries = s.n;
    buf.len = 0;
    ASSERT_EQ(bl_delta_write(&h2, NULL, 0, NULL, 0, key1, &buf), 0);
    ASSERT_EQ(bl_obj_open(buf.data, buf.len, ring, NULL, &obj, NULL), 0);
    ASSERT_EQ(bl_state_apply_delta(&s, &obj, NULL), 0);
    ASSERT_EQ(bl_obj_open(first.data, first.len, ring, NULL, &obj, NULL), 0);
    ASSERT_EQ(bl_state_apply_delta(&s, &obj, NULL), BL_EROLLBACK);
    ASSERT_EQ(s.serial, 2);
    bl_buf_close(&first);
    bl_buf_close(&buf);
    bl_state_close(&s);
}

static void test_lengths_over_limit(void)
{
    bl_hdr_t h;
    hdr_basic(&h, BL_OBJ_DELTA);
    bl_buf_t buf;
    bl_buf_init(&buf);
    uint8_t payload[8] = {0};
    seal_raw(&h, payload, sizeof payload, 8, key1, &buf);
    /* Re-sign with absurd declared sizes: refused before the payload is read
     * and before anything sized by them is allocated (the signature check's
     * own few small allocations inside OpenSSL are the only ones). */
    bl_obj_t obj;
    uint64_t *fields[] = {&h.payload_len, &h.raw_len, &h.n_entries, &h.n_added, &h.n_removed};
    for (unsigned i = 0; i < 5; i++) {
        bl_hdr_t hh = h;
        uint64_t *f = (uint64_t *)((char *)&hh + ((char *)fields[i] - (char *)&h));
        *f = 1ull << 60;
        uint8_t pre[BL_OBJ_PREFIX];
        ASSERT_EQ(bl_obj_seal(&hh, key1, pre), 0);
        memcpy(buf.data, pre, sizeof pre);
        watch();
        int rc = bl_obj_open(buf.data, buf.len, ring, NULL, &obj, NULL);
        watched_max(8192);
        ASSERT_EQ(rc, BL_ETOOBIG);
    }
    /* A block declaring more records than its bytes could hold: no big allocation. */
    bl_buf_t raw, pl;
    bl_buf_init(&raw);
    bl_buf_init(&pl);
    bl_buf_varint(&raw, 0);
    bl_buf_varint(&raw, 150000000); /* 150M additions claimed in a few bytes */
    bl_buf_u8(&raw, 0);
    size_t cap = ZSTD_compressBound(raw.len);
    uint8_t *fr = malloc(cap);
    size_t fl = ZSTD_compress(fr, cap, raw.data, raw.len, 1);
    block_append(&pl, fr, fl, (uint32_t)raw.len);
    hdr_basic(&h, BL_OBJ_DELTA);
    h.n_added = 150000000;
    seal_raw(&h, pl.data, pl.len, raw.len, key1, &buf);
    ASSERT_EQ(bl_obj_open(buf.data, buf.len, ring, NULL, &obj, NULL), 0);
    watch();
    int rc = bl_obj_decode(&obj, NULL, NULL, NULL);
    watched_max(1 << 20);
    ASSERT_EQ(rc, BL_ETRUNC);
    /* A block over the per-block limit. */
    bl_limits_t lim = bl_limits_default;
    lim.max_block_raw = raw.len - 1;
    ASSERT_EQ(bl_obj_decode(&obj, &lim, NULL, NULL), BL_ETOOBIG);
    free(fr);
    bl_buf_close(&raw);
    bl_buf_close(&pl);
    bl_buf_close(&buf);
}

static void test_decompression_bomb(void)
{
    size_t big = 8 << 20;
    uint8_t *zeros = calloc(1, big);
    size_t cap = ZSTD_compressBound(big);
    uint8_t *fr = malloc(cap);
    bl_buf_t pl, buf;
    bl_buf_init(&pl);
    bl_buf_init(&buf);
    bl_obj_t obj;
    bl_hdr_t h;
    /* Frame that states its 8 MiB content size, block declares 100 bytes. */
    size_t fl = ZSTD_compress(fr, cap, zeros, big, 3);
    block_append(&pl, fr, fl, 100);
    hdr_basic(&h, BL_OBJ_DELTA);
    seal_raw(&h, pl.data, pl.len, 100, key1, &buf);
    ASSERT_EQ(bl_obj_open(buf.data, buf.len, ring, NULL, &obj, NULL), 0);
    watch();
    int rc = bl_obj_decode(&obj, NULL, NULL, NULL);
    watched_max(1 << 20);
    ASSERT_EQ(rc, BL_EBOMB);
    /* Frame without a content size: stops at the declared 100 bytes. */
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0);
    ZSTD_inBuffer in = {zeros, big, 0};
    ZSTD_outBuffer out = {fr, cap, 0};
    ZSTD_compressStream2(cc, &out, &in, ZSTD_e_end);
    ZSTD_freeCCtx(cc);
    ASSERT_EQ(ZSTD_getFrameContentSize(fr, out.pos), ZSTD_CONTENTSIZE_UNKNOWN);
    pl.len = 0;
    block_append(&pl, fr, out.pos, 100);
    seal_raw(&h, pl.data, pl.len, 100, key1, &buf);
    ASSERT_EQ(bl_obj_open(buf.data, buf.len, ring, NULL, &obj, NULL), 0);
    watch();
    rc = bl_obj_decode(&obj, NULL, NULL, NULL);
    watched_max(1 << 20);
    ASSERT_EQ(rc, BL_EBOMB);
    /* Blocks whose sizes add up past the header's raw length. */
    pl.len = 0;
    fl = ZSTD_compress(fr, cap, zeros, 4, 3); /* 4 zero bytes: a valid empty block */
    block_append(&pl, fr, fl, 4);
    block_append(&pl, fr, fl, 4);
    seal_raw(&h, pl.data, pl.len, 6, key1, &buf);
    ASSERT_EQ(bl_obj_open(buf.data, buf.len, ring, NULL, &obj, NULL), 0);
    ASSERT_EQ(bl_obj_decode(&obj, NULL, NULL, NULL), BL_EBOMB);
    free(zeros);
    free(fr);
    bl_buf_close(&pl);
    bl_buf_close(&buf);
}

/* Returns the payload offsets of each block of an object in buf. */
static size_t block_offsets(const bl_buf_t *buf, size_t *offs, size_t max)
{
    size_t n = 0, off = BL_OBJ_PREFIX;
    while (off < buf->len && n < max) {
        offs[n++] = off;
        uint32_t cl = buf->data[off + 4] | buf->data[off + 5] << 8 | buf->data[off + 6] << 16 |
                      (uint32_t)buf->data[off + 7] << 24;
        off += 8 + cl;
    }
    offs[n] = off;
    return n;
}

static void test_snapshot_block_order(void)
{
    size_t n = 2 * BL_SNAP_BLOCK + 10;
    bl_entry_t *e = calloc(n, sizeof *e);
    for (size_t i = 0; i < n; i++) {
        bl_prefix_v4(&e[i].key, (uint32_t)(0x0a000000 + i * 3), 32);
        e[i].a = 2;
    }
    bl_hdr_t h;
    hdr_basic(&h, BL_OBJ_SNAPSHOT);
    h.n_entries = n;
    bl_buf_t buf, pl, out;
    bl_buf_init(&buf);
    bl_buf_init(&pl);
    bl_buf_init(&out);
    ASSERT_EQ(bl_snapshot_write(&h, e, n, key1, &buf), 0);
    size_t offs[8];
    ASSERT_EQ(block_offsets(&buf, offs, 7), 3);
    /* Swap blocks 0 and 1, re-sign: every block verifies, the order does not. */
    bl_buf_put(&pl, buf.data + offs[1], offs[2] - offs[1]);
    bl_buf_put(&pl, buf.data + offs[0], offs[1] - offs[0]);
    bl_buf_put(&pl, buf.data + offs[2], offs[3] - offs[2]);
    seal_raw(&h, pl.data, pl.len, h.raw_len, key1, &out);
    bl_obj_t obj;
    ASSERT_EQ(bl_obj_open(out.data, out.len, ring, NULL, &obj, NULL), 0);
    ASSERT_EQ(bl_obj_decode(&obj, NULL, NULL, NULL), BL_EORDER);
    /* Block 0 repeated: the boundary key is a duplicate. */
    pl.len = 0;
    bl_buf_put(&pl, buf.data + offs[0], offs[1] - offs[0]);
    bl_buf_put(&pl, buf.data + offs[0], offs[1] - offs[0]);
    bl_buf_put(&pl, buf.data + offs[2], offs[3] - offs[2]);
    seal_raw(&h, pl.data, pl.len, h.raw_len, key1, &out);
    ASSERT_EQ(bl_obj_open(out.data, out.len, ring, NULL, &obj, NULL), 0);
    int rc = bl_obj_decode(&obj, NULL, NULL, NULL);
    ASSERT(rc == BL_EDUP || rc == BL_EORDER);
    /* Block missing: count differs from the header. */
    pl.len = 0;
    bl_buf_put(&pl, buf.data + offs[0], offs[2] - offs[0]);
    seal_raw(&h, pl.data, pl.len, h.raw_len, key1, &out);
    ASSERT_EQ(bl_obj_open(out.data, out.len, ring, NULL, &obj, NULL), 0);
    ASSERT_EQ(bl_obj_decode(&obj, NULL, NULL, NULL), BL_ECOUNT);
    free(e);
    bl_buf_close(&buf);
    bl_buf_close(&pl);
    bl_buf_close(&out);
}

/* A hand-built block holding the same IPv4 key twice. */
static void test_duplicate_keys(void)
{
    bl_buf_t raw;
    bl_buf_init(&raw);
    bl_buf_varint(&raw, 0); /* removals */
    bl_buf_varint(&raw, 2); /* additions */
    bl_buf_varint(&raw, 0); /* removal keys: none */
    bl_buf_varint(&raw, 2); /* two IPv4 keys */
    bl_buf_u8(&raw, 32);
    bl_buf_u8(&raw, 32);
    bl_buf_u8(&raw, 0);     /* rice k = 0 */
    bl_buf_varint(&raw, 1); /* 1 byte of bits */
    bl_buf_u8(&raw, 0x1f);  /* gap 5 (11111 0), gap 0 (0) */
    uint8_t rest[] = {2, 2, 0, 0, 0, 0, 0, 0, 0, 0};
    bl_buf_put(&raw, rest, sizeof rest);
    bl_change_t *rem, *add;
    size_t nrem, nadd;
    ASSERT_EQ(bl_block_decode(raw.data, raw.len, 0, &bl_limits_default, &rem, &nrem, &add, &nadd),
              BL_EDUP);
    /* Same block with gap 1 decodes: the encoding itself is right. */
    raw.data[raw.len - sizeof rest - 1] = 0x5f; /* 11111 0 10 */
    ASSERT_EQ(bl_block_decode(raw.data, raw.len, 0, &bl_limits_default, &rem, &nrem, &add, &nadd),
              0);
    ASSERT_EQ(nadd, 2);
    ASSERT_EQ(bl_prefix_v4addr(&add[0].e.key), 5);
    ASSERT_EQ(bl_prefix_v4addr(&add[1].e.key), 6);
    free(rem);
    free(add);
    /* A key with host bits set is refused too. */
    raw.data[4] = 24; /* 0.0.0.5/24 */
    ASSERT_EQ(bl_block_decode(raw.data, raw.len, 0, &bl_limits_default, &rem, &nrem, &add, &nadd),
              BL_EHOSTBITS);
    bl_buf_close(&raw);
}

static void test_wrong_type_and_expiry(void)
{
    uint8_t hb[BL_OBJ_PREFIX], dg[32] = {0};
    ASSERT_EQ(bl_heartbeat_write("main", 5, dg, T0_MS, 1000, key1, hb), 0);
    bl_obj_t obj;
    ASSERT_EQ(bl_obj_open(hb, sizeof hb, ring, NULL, &obj, NULL), 0);
    ASSERT_EQ(bl_obj_decode(&obj, NULL, NULL, NULL), BL_ETYPE);
    ASSERT_EQ(bl_obj_check_fresh(&obj.hdr, T0_MS + 1001), BL_EEXPIRED);
    bl_state_t s;
    bl_state_init(&s, "main");
    ASSERT_EQ(bl_state_apply_delta(&s, &obj, NULL), BL_ETYPE);
    bl_state_close(&s);
}

int main(void)
{
    key1 = test_key();
    key2 = test_key();
    ring = test_ring(key1);
    RUN(test_bitflips);
    RUN(test_truncated_every_length);
    RUN(test_other_key);
    RUN(test_apply_rules);
    RUN(test_lengths_over_limit);
    RUN(test_decompression_bomb);
    RUN(test_snapshot_block_order);
    RUN(test_duplicate_keys);
    RUN(test_wrong_type_and_expiry);
    bl_keyring_free(ring);
    bl_key_free(key1);
    bl_key_free(key2);
    return 0;
}
