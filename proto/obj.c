/* SPDX-License-Identifier: MIT */
/* Signed object headers: encode, decode, seal, open; heartbeats and key certificates. */
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "obj.h"

/* Header layout (little-endian), see docs/ARCHITECTURE.md. */
#define OFF_MAGIC    0
#define OFF_VERSION  4
#define OFF_TYPE     5
#define OFF_FLAGS    6
#define OFF_DOMAIN   8
#define DOMAIN_SIZE  16
#define OFF_FEED     24
#define OFF_KEYID    56
#define OFF_COUNTS   160
#define OFF_RAWLEN   184
#define OFF_PAYLEN   192
#define OFF_RESERVED 232

static const uint8_t magic[4] = {'B', 'L', 'S', 'Y'};

const bl_limits_t bl_limits_default = {
    .max_payload = 1ull << 30,    /* 1 GiB compressed */
    .max_raw = 4ull << 30,        /* 4 GiB decompressed */
    .max_entries = 200000000,     /* 200M records */
    .max_block_raw = 64ull << 20, /* 64 MiB per block */
};

const bl_limits_t bl_limits_spool = {
    .max_payload = 4ull << 30,
    .max_raw = 16ull << 30,
    .max_entries = 1ull << 32,
    .max_block_raw = 64ull << 20,
};

const char *bl_obj_domain(int type)
{
    switch (type) {
    case BL_OBJ_DELTA:
        return "blsync-delta-v1";
    case BL_OBJ_SNAPSHOT:
        return "blsync-snap-v1";
    case BL_OBJ_HEARTBEAT:
        return "blsync-hbeat-v1";
    case BL_OBJ_KEYCERT:
        return "blsync-keycrt-v1";
    case BL_OBJ_HEAD:
        return "blsync-head-v1";
    default:
        return NULL;
    }
}

const char *bl_obj_type_name(int type)
{
    switch (type) {
    case BL_OBJ_DELTA:
        return "delta";
    case BL_OBJ_SNAPSHOT:
        return "snapshot";
    case BL_OBJ_HEARTBEAT:
        return "heartbeat";
    case BL_OBJ_KEYCERT:
        return "keycert";
    case BL_OBJ_HEAD:
        return "head";
    default:
        return "unknown";
    }
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++, v >>= 8)
        p[i] = (uint8_t)v;
}

void bl_hdr_encode(const bl_hdr_t *h, uint8_t out[BL_HDR_SIZE])
{
    memset(out, 0, BL_HDR_SIZE);
    memcpy(out + OFF_MAGIC, magic, 4);
    out[OFF_VERSION] = h->version;
    out[OFF_TYPE] = h->type;
    out[OFF_FLAGS] = (uint8_t)h->flags;
    out[OFF_FLAGS + 1] = (uint8_t)(h->flags >> 8);
    const char *dom = bl_obj_domain(h->type);
    if (dom)
        memcpy(out + OFF_DOMAIN, dom, strlen(dom));
    memcpy(out + OFF_FEED, h->feed, strnlen(h->feed, BL_FEED_MAX));
    memcpy(out + OFF_KEYID, h->key_id, BL_KEYID_SIZE);
    uint8_t *p = out + 64;
    put64(p, h->base_serial), p += 8;
    put64(p, h->serial), p += 8;
    memcpy(p, h->base_digest, 32), p += 32;
    memcpy(p, h->digest, 32), p += 32;
    put64(p, (uint64_t)h->created_ms), p += 8;
    put64(p, (uint64_t)h->expires_ms), p += 8;
    put64(p, h->n_removed), p += 8;
    put64(p, h->n_added), p += 8;
    put64(p, h->n_entries), p += 8;
    put64(p, h->raw_len), p += 8;
    put64(p, h->payload_len), p += 8;
    memcpy(p, h->payload_sha256, 32);
}

/* A feed name is 1..32 bytes of [A-Za-z0-9._-], NUL-padded. */
static int feed_ok(const uint8_t *f)
{
    size_t n = strnlen((const char *)f, BL_FEED_MAX);
    if (n == 0)
        return 0;
    for (size_t i = 0; i < BL_FEED_MAX; i++) {
        uint8_t c = f[i];
        if (i >= n) {
            if (c)
                return 0;
        } else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '.' || c == '-' || c == '_')) {
            return 0;
        }
    }
    return 1;
}

int bl_hdr_decode(bl_rd_t *rd, bl_hdr_t *h)
{
    size_t start = bl_rd_off(rd);
    /* Say "not a blsync object" rather than "truncated" for short foreign files. */
    size_t avail = bl_rd_left(rd);
    if (avail && memcmp(rd->p, magic, avail < 4 ? avail : 4)) {
        bl_rd_fail(rd, BL_EMAGIC);
        return BL_EMAGIC;
    }
    const uint8_t *b = bl_rd_ptr(rd, BL_HDR_SIZE);
    if (!b)
        return bl_rd_err(rd);
    memset(h, 0, sizeof *h);
#define FAIL_AT(off, e)                                                                            \
    do {                                                                                           \
        rd->p = rd->start + start + (off);                                                         \
        bl_rd_fail(rd, e);                                                                         \
        return e;                                                                                  \
    } while (0)
    if (memcmp(b, magic, 4))
        FAIL_AT(OFF_MAGIC, BL_EMAGIC);
    h->version = b[OFF_VERSION];
    if (h->version != BL_FORMAT_VERSION)
        FAIL_AT(OFF_VERSION, BL_EVERSION);
    h->type = b[OFF_TYPE];
    const char *dom = bl_obj_domain(h->type);
    if (!dom)
        FAIL_AT(OFF_TYPE, BL_ETYPE);
    uint8_t want[DOMAIN_SIZE] = {0};
    memcpy(want, dom, strlen(dom));
    if (memcmp(b + OFF_DOMAIN, want, DOMAIN_SIZE))
        FAIL_AT(OFF_DOMAIN, BL_EDOMAIN);
    h->flags = (uint16_t)(b[OFF_FLAGS] | b[OFF_FLAGS + 1] << 8);
    if (h->flags)
        FAIL_AT(OFF_FLAGS, BL_EFIELD);
    if (!feed_ok(b + OFF_FEED))
        FAIL_AT(OFF_FEED, BL_EFIELD);
    memcpy(h->feed, b + OFF_FEED, BL_FEED_MAX);
    h->feed[BL_FEED_MAX] = 0;
    memcpy(h->key_id, b + OFF_KEYID, BL_KEYID_SIZE);
    for (int i = OFF_RESERVED; i < BL_HDR_SIZE; i++)
        if (b[i])
            FAIL_AT(i, BL_EFIELD);
    bl_rd_t f;
    bl_rd_init(&f, b + 64, BL_HDR_SIZE - 64);
    h->base_serial = bl_rd_u64(&f);
    h->serial = bl_rd_u64(&f);
    bl_rd_copy(&f, h->base_digest, 32);
    bl_rd_copy(&f, h->digest, 32);
    h->created_ms = (int64_t)bl_rd_u64(&f);
    h->expires_ms = (int64_t)bl_rd_u64(&f);
    h->n_removed = bl_rd_u64(&f);
    h->n_added = bl_rd_u64(&f);
    h->n_entries = bl_rd_u64(&f);
    h->raw_len = bl_rd_u64(&f);
    h->payload_len = bl_rd_u64(&f);
    bl_rd_copy(&f, h->payload_sha256, 32);
    /* Structural rules per type. */
    if (h->type == BL_OBJ_SNAPSHOT && (h->base_serial || h->n_removed))
        FAIL_AT(64, BL_EFIELD);
    if (h->type == BL_OBJ_DELTA && h->serial <= h->base_serial)
        FAIL_AT(72, BL_EFIELD);
    if (h->type == BL_OBJ_HEARTBEAT && (h->payload_len || h->raw_len))
        FAIL_AT(OFF_RAWLEN, BL_EFIELD);
    if (h->type == BL_OBJ_KEYCERT &&
        (h->payload_len != BL_PUBKEY_SIZE || h->raw_len != h->payload_len))
        FAIL_AT(OFF_RAWLEN, BL_EFIELD);
    if (h->type == BL_OBJ_HEAD && (h->raw_len != h->payload_len || h->base_serial > h->serial))
        FAIL_AT(OFF_RAWLEN, BL_EFIELD);
#undef FAIL_AT
    return 0;
}

int bl_obj_open(const void *buf, size_t len, const bl_keyring_t *keys, const bl_limits_t *lim,
                bl_obj_t *out, size_t *err_off)
{
    bl_rd_t rd;
    size_t off_dummy;
    if (!err_off)
        err_off = &off_dummy;
    if (!lim)
        lim = &bl_limits_default;
    bl_rd_init(&rd, buf, len);
    bl_hdr_t *h = &out->hdr;
    int rc = bl_hdr_decode(&rd, h);
    if (rc) {
        *err_off = rd.err_off;
        return rc;
    }
    /* The signature first: it covers every header field, so a damaged
     * header is reported as what it is (a bad signature), never as the
     * value a flipped bit happens to produce. */
    const uint8_t *sig = bl_rd_ptr(&rd, BL_SIG_SIZE);
    if (!sig) {
        *err_off = len;
        return BL_ETRUNC;
    }
    const bl_key_t *k = keys ? bl_keyring_find(keys, h->key_id) : NULL;
    if (!k) {
        *err_off = OFF_KEYID;
        return BL_EUNKNOWNKEY;
    }
    if (bl_key_verify(k, buf, BL_HDR_SIZE, sig)) {
        *err_off = BL_HDR_SIZE;
        return BL_ESIG;
    }
    /* Bound every declared length before anything uses it. */
    if (h->payload_len > lim->max_payload) {
        *err_off = OFF_PAYLEN;
        return BL_ETOOBIG;
    }
    if (h->raw_len > lim->max_raw) {
        *err_off = OFF_RAWLEN;
        return BL_ETOOBIG;
    }
    if (h->n_removed > lim->max_entries || h->n_added > lim->max_entries ||
        h->n_entries > lim->max_entries) {
        *err_off = OFF_COUNTS;
        return BL_ETOOBIG;
    }
    const uint8_t *payload = bl_rd_ptr(&rd, (size_t)h->payload_len);
    if (!payload) {
        *err_off = len;
        return BL_ETRUNC;
    }
    if (bl_rd_left(&rd)) {
        *err_off = bl_rd_off(&rd);
        return BL_ETRAILING;
    }
    uint8_t md[32];
    SHA256(payload, (size_t)h->payload_len, md);
    if (memcmp(md, h->payload_sha256, 32)) {
        *err_off = BL_OBJ_PREFIX;
        return BL_EPAYLOAD;
    }
    out->payload = payload;
    out->payload_len = (size_t)h->payload_len;
    return 0;
}

int bl_obj_check_fresh(const bl_hdr_t *h, int64_t now_ms)
{
    return now_ms > h->expires_ms ? BL_EEXPIRED : 0;
}

int bl_obj_seal(bl_hdr_t *h, const bl_key_t *key, uint8_t out[BL_OBJ_PREFIX])
{
    h->version = BL_FORMAT_VERSION;
    memcpy(h->key_id, bl_key_id(key), BL_KEYID_SIZE);
    bl_hdr_encode(h, out);
    return bl_key_sign(key, out, BL_HDR_SIZE, out + BL_HDR_SIZE);
}

static void hdr_init(bl_hdr_t *h, int type, const char *feed, int64_t now_ms, int64_t ttl_ms)
{
    memset(h, 0, sizeof *h);
    h->type = (uint8_t)type;
    snprintf(h->feed, sizeof h->feed, "%s", feed);
    h->created_ms = now_ms;
    h->expires_ms = now_ms + ttl_ms;
}

int bl_heartbeat_write(const char *feed, uint64_t serial, const uint8_t digest[BL_DIGEST_SIZE],
                       int64_t now_ms, int64_t ttl_ms, const bl_key_t *key,
                       uint8_t out[BL_OBJ_PREFIX])
{
    bl_hdr_t h;
    hdr_init(&h, BL_OBJ_HEARTBEAT, feed, now_ms, ttl_ms);
    h.base_serial = h.serial = serial;
    memcpy(h.base_digest, digest, BL_DIGEST_SIZE);
    memcpy(h.digest, digest, BL_DIGEST_SIZE);
    SHA256((const uint8_t *)"", 0, h.payload_sha256);
    return bl_obj_seal(&h, key, out);
}

int bl_keycert_write(const char *feed, const bl_key_t *new_key, int64_t now_ms, int64_t ttl_ms,
                     const bl_key_t *key, bl_buf_t *out)
{
    bl_hdr_t h;
    hdr_init(&h, BL_OBJ_KEYCERT, feed, now_ms, ttl_ms);
    h.raw_len = h.payload_len = BL_PUBKEY_SIZE;
    SHA256(bl_key_raw(new_key), BL_PUBKEY_SIZE, h.payload_sha256);
    uint8_t *p = bl_buf_reserve(out, BL_OBJ_PREFIX + BL_PUBKEY_SIZE);
    if (!p)
        return BL_ENOMEM;
    int rc = bl_obj_seal(&h, key, p);
    if (rc)
        return rc;
    memcpy(p + BL_OBJ_PREFIX, bl_key_raw(new_key), BL_PUBKEY_SIZE);
    out->len += BL_OBJ_PREFIX + BL_PUBKEY_SIZE;
    return 0;
}

int bl_keycert_read(const bl_obj_t *obj, bl_key_t **new_key)
{
    if (obj->hdr.type != BL_OBJ_KEYCERT || obj->payload_len != BL_PUBKEY_SIZE)
        return BL_ETYPE;
    return bl_key_from_raw(obj->payload, new_key);
}
