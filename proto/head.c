/* SPDX-License-Identifier: MIT */
/* The signed head of a feed's HTTP layout: write, open, name and route its records. */
#include "head.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void rec_encode(const bl_head_rec_t *r, uint8_t *p)
{
    memset(p, 0, BL_HEAD_REC);
    p[0] = r->type;
    put64(p + 8, r->base_serial);
    put64(p + 16, r->serial);
    put64(p + 24, r->bytes);
    memcpy(p + 32, r->base_digest, BL_DIGEST_SIZE);
    memcpy(p + 64, r->sha256, 32);
}

void bl_head_rec(const bl_head_t *h, size_t i, bl_head_rec_t *r)
{
    const uint8_t *p = h->recs + i * BL_HEAD_REC;
    r->type = p[0];
    r->base_serial = get64(p + 8);
    r->serial = get64(p + 16);
    r->bytes = get64(p + 24);
    memcpy(r->base_digest, p + 32, BL_DIGEST_SIZE);
    memcpy(r->sha256, p + 64, 32);
}

/* Records order by type, serial, base serial, then hash (which makes them unique). */
static int rec_cmp(const void *a, const void *b)
{
    const bl_head_rec_t *x = a, *y = b;
    if (x->type != y->type)
        return x->type < y->type ? -1 : 1;
    if (x->serial != y->serial)
        return x->serial < y->serial ? -1 : 1;
    if (x->base_serial != y->base_serial)
        return x->base_serial < y->base_serial ? -1 : 1;
    return memcmp(x->sha256, y->sha256, 32);
}

static int rec_ok(const bl_head_rec_t *r, uint64_t head_serial)
{
    static const uint8_t zero[BL_DIGEST_SIZE];
    switch (r->type) {
    case BL_OBJ_DELTA:
        return r->serial > r->base_serial && r->serial <= head_serial;
    case BL_OBJ_SNAPSHOT:
        return r->serial && r->serial <= head_serial && !r->base_serial &&
               !memcmp(r->base_digest, zero, BL_DIGEST_SIZE);
    case BL_OBJ_KEYCERT:
        return !r->serial && !r->base_serial && !memcmp(r->base_digest, zero, BL_DIGEST_SIZE);
    default:
        return 0;
    }
}

int bl_head_write(const char *feed, uint64_t serial, const uint8_t digest[BL_DIGEST_SIZE],
                  uint64_t n_entries, uint64_t snap_serial,
                  const uint8_t snap_digest[BL_DIGEST_SIZE], bl_head_rec_t *r, size_t n,
                  int64_t now_ms, int64_t ttl_ms, const bl_key_t *key, bl_buf_t *out)
{
    if (n > BL_HEAD_MAX_REC || snap_serial > serial || strlen(feed) > BL_FEED_MAX)
        return BL_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!rec_ok(&r[i], serial))
            return BL_EINVAL;
    qsort(r, n, sizeof *r, rec_cmp);
    for (size_t i = 1; i < n; i++)
        if (!memcmp(r[i - 1].sha256, r[i].sha256, 32))
            return BL_EINVAL;
    bl_hdr_t h;
    memset(&h, 0, sizeof h);
    h.type = BL_OBJ_HEAD;
    snprintf(h.feed, sizeof h.feed, "%s", feed);
    h.base_serial = snap_serial;
    h.serial = serial;
    memcpy(h.base_digest, snap_digest, BL_DIGEST_SIZE);
    memcpy(h.digest, digest, BL_DIGEST_SIZE);
    h.created_ms = now_ms;
    h.expires_ms = now_ms + ttl_ms;
    h.n_added = n;
    h.n_entries = n_entries;
    h.raw_len = h.payload_len = (uint64_t)n * BL_HEAD_REC;
    size_t start = out->len;
    uint8_t *p = bl_buf_reserve(out, BL_OBJ_PREFIX + n * BL_HEAD_REC);
    if (!p)
        return BL_ENOMEM;
    uint8_t *pay = p + BL_OBJ_PREFIX;
    for (size_t i = 0; i < n; i++)
        rec_encode(&r[i], pay + i * BL_HEAD_REC);
    SHA256(pay, n * BL_HEAD_REC, h.payload_sha256);
    int rc = bl_obj_seal(&h, key, p);
    if (rc)
        return rc;
    out->len = start + BL_OBJ_PREFIX + n * BL_HEAD_REC;
    return 0;
}

int bl_head_open(const void *buf, size_t len, const bl_keyring_t *keys, bl_head_t *out,
                 size_t *err_off)
{
    size_t off_dummy;
    if (!err_off)
        err_off = &off_dummy;
    static const bl_limits_t lim = {
        .max_payload = (uint64_t)BL_HEAD_MAX_REC * BL_HEAD_REC,
        .max_raw = (uint64_t)BL_HEAD_MAX_REC * BL_HEAD_REC,
        .max_entries = UINT64_MAX,
        .max_block_raw = 0,
    };
    bl_obj_t obj;
    int rc = bl_obj_open(buf, len, keys, &lim, &obj, err_off);
    if (rc)
        return rc;
    const bl_hdr_t *h = &obj.hdr;
    if (h->type != BL_OBJ_HEAD) {
        *err_off = 5;
        return BL_ETYPE;
    }
    if (h->n_added > BL_HEAD_MAX_REC) {
        *err_off = 176;
        return BL_ETOOBIG;
    }
    if (h->payload_len != h->n_added * BL_HEAD_REC || h->n_removed) {
        *err_off = BL_OBJ_PREFIX;
        return BL_ECOUNT;
    }
    out->hdr = *h;
    out->n = (size_t)h->n_added;
    out->recs = obj.payload;
    bl_head_rec_t prev = {0}, r;
    for (size_t i = 0; i < out->n; i++) {
        const uint8_t *p = out->recs + i * BL_HEAD_REC;
        bl_head_rec(out, i, &r);
        *err_off = BL_OBJ_PREFIX + i * BL_HEAD_REC;
        for (int k = 1; k < 8; k++)
            if (p[k])
                return BL_EFIELD;
        if (!rec_ok(&r, h->serial))
            return BL_EFIELD;
        if (i && rec_cmp(&prev, &r) >= 0)
            return BL_EORDER;
        prev = r;
    }
    return 0;
}

void bl_head_rec_name(const bl_head_rec_t *r, char out[BL_HEAD_NAME])
{
    static const char hx[] = "0123456789abcdef";
    char hex[65];
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = hx[r->sha256[i] >> 4];
        hex[2 * i + 1] = hx[r->sha256[i] & 15];
    }
    hex[64] = 0;
    const char *ext = r->type == BL_OBJ_SNAPSHOT  ? "snap"
                      : r->type == BL_OBJ_KEYCERT ? "keycert"
                                                  : "delta";
    snprintf(out, BL_HEAD_NAME, "by-hash/%s.%s", hex, ext);
}

/* The delta that starts at serial (and digest, when given) and goes furthest. */
static ptrdiff_t furthest_from(const bl_head_t *h, uint64_t serial, const uint8_t *digest)
{
    ptrdiff_t best = -1;
    uint64_t best_to = 0;
    bl_head_rec_t r;
    for (size_t i = 0; i < h->n; i++) {
        bl_head_rec(h, i, &r);
        if (r.type != BL_OBJ_DELTA || r.base_serial != serial)
            continue;
        if (digest && memcmp(r.base_digest, digest, BL_DIGEST_SIZE))
            continue;
        if (r.serial > best_to) {
            best_to = r.serial;
            best = (ptrdiff_t)i;
        }
    }
    return best;
}

/* Appends the deltas from serial (digest for the first step) to the head. */
static int chain(const bl_head_t *h, uint64_t serial, const uint8_t *digest, size_t *idx, size_t *n)
{
    while (serial < h->hdr.serial) {
        ptrdiff_t i = furthest_from(h, serial, digest);
        if (i < 0 || *n >= h->n)
            return BL_ENOTFOUND;
        idx[(*n)++] = (size_t)i;
        bl_head_rec_t r;
        bl_head_rec(h, (size_t)i, &r);
        serial = r.serial;
        digest = NULL; /* a later base digest is checked when the delta applies */
    }
    return 0;
}

int bl_head_route(const bl_head_t *h, uint64_t serial, const uint8_t digest[BL_DIGEST_SIZE],
                  int want_snap, size_t *idx, size_t *n)
{
    *n = 0;
    if (!want_snap && serial == h->hdr.serial)
        return 0;
    if (!want_snap && serial && serial < h->hdr.serial && chain(h, serial, digest, idx, n) == 0)
        return 0;
    *n = 0;
    ptrdiff_t snap = -1;
    bl_head_rec_t r;
    for (size_t i = 0; i < h->n; i++) {
        bl_head_rec(h, i, &r);
        if (r.type == BL_OBJ_SNAPSHOT && r.serial == h->hdr.base_serial)
            snap = (ptrdiff_t)i;
    }
    if (snap < 0)
        return BL_ENOTFOUND;
    idx[(*n)++] = (size_t)snap;
    bl_head_rec(h, (size_t)snap, &r);
    int rc = chain(h, r.serial, NULL, idx, n);
    if (rc)
        *n = 0;
    return rc;
}
