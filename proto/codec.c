/* SPDX-License-Identifier: MIT */
/* Delta and snapshot payloads: column-coded blocks (Rice-coded IPv4 gaps,
 * front-coded IPv6 keys, varint columns), each compressed with zstd. The
 * decoder treats every byte as hostile: bounds first, allocation after. */
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "codec.h"
#include "err.h"
#include "grow.h"

#define ZSTD_LEVEL 3
#define RICE_ESC   24 /* unary quotients this long escape to a raw 32-bit gap */

/* ---- bit stream (LSB first) ---- */

typedef struct {
    bl_buf_t *b;
    uint64_t acc;
    int n;
} bitwr_t;

static void bw_put(bitwr_t *w, uint64_t v, int bits)
{
    w->acc |= v << w->n;
    w->n += bits;
    while (w->n >= 8) {
        bl_buf_u8(w->b, (uint8_t)w->acc);
        w->acc >>= 8;
        w->n -= 8;
    }
}

static void bw_flush(bitwr_t *w)
{
    if (w->n)
        bl_buf_u8(w->b, (uint8_t)w->acc);
    w->acc = 0;
    w->n = 0;
}

typedef struct {
    const uint8_t *p, *end;
    uint64_t acc; /* bits beyond nbits are zero */
    int nbits;
    int err;
} bitrd_t;

static inline void br_refill(bitrd_t *r)
{
    while (r->nbits <= 56 && r->p < r->end) {
        r->acc |= (uint64_t)*r->p++ << r->nbits;
        r->nbits += 8;
    }
}

static inline uint32_t br_get(bitrd_t *r, int k)
{
    if (k == 0)
        return 0;
    br_refill(r);
    if (r->nbits < k) {
        r->err = BL_ETRUNC;
        return 0;
    }
    uint32_t v = (uint32_t)(r->acc & ((1ull << k) - 1));
    r->acc >>= k;
    r->nbits -= k;
    return v;
}

/* Reads a unary count of one bits ended by a zero, or RICE_ESC ones. */
static inline unsigned br_unary(bitrd_t *r)
{
    br_refill(r);
    uint64_t inv = ~r->acc; /* bits past nbits are zero in acc, so one in inv */
    unsigned z = inv ? (unsigned)__builtin_ctzll(inv) : 64;
    if (z >= RICE_ESC) {
        if (r->nbits < RICE_ESC) {
            r->err = BL_ETRUNC;
            return 0;
        }
        r->acc >>= RICE_ESC;
        r->nbits -= RICE_ESC;
        return RICE_ESC;
    }
    if ((int)z >= r->nbits) {
        r->err = BL_ETRUNC;
        return 0;
    }
    r->acc >>= z + 1;
    r->nbits -= (int)z + 1;
    return z;
}

/* ---- key columns ---- */

static void enc_keys(bl_buf_t *out, const bl_change_t *c, size_t n)
{
    size_t n4 = 0;
    while (n4 < n && c[n4].e.key.af == BL_AF4)
        n4++;
    bl_buf_varint(out, n4);
    for (size_t i = 0; i < n4; i++)
        bl_buf_u8(out, c[i].e.key.len);
    if (n4) {
        uint64_t mean = bl_prefix_v4addr(&c[n4 - 1].e.key) / n4;
        int k = 0;
        while (k < 31 && (1ull << (k + 1)) <= mean * 69 / 100)
            k++;
        bl_buf_u8(out, (uint8_t)k);
        bl_buf_t bits;
        bl_buf_init(&bits);
        bitwr_t w = {&bits, 0, 0};
        uint32_t prev = 0;
        for (size_t i = 0; i < n4; i++) {
            uint32_t a = bl_prefix_v4addr(&c[i].e.key);
            uint32_t gap = a - prev;
            prev = a;
            uint32_t q = gap >> k;
            if (q < RICE_ESC) {
                bw_put(&w, (1ull << q) - 1, (int)q + 1); /* q ones, then a zero */
                bw_put(&w, gap & ((1ull << k) - 1), k);
            } else {
                bw_put(&w, (1ull << RICE_ESC) - 1, RICE_ESC);
                bw_put(&w, gap, 32);
            }
        }
        bw_flush(&w);
        if (bits.err)
            out->err = bits.err;
        bl_buf_varint(out, bits.len);
        bl_buf_put(out, bits.data, bits.len);
        bl_buf_close(&bits);
    }
    for (size_t i = n4; i < n; i++)
        bl_buf_u8(out, c[i].e.key.len);
    const uint8_t *prev6 = NULL;
    for (size_t i = n4; i < n; i++) {
        const uint8_t *a = c[i].e.key.addr;
        unsigned common = 0;
        if (prev6)
            while (common < 16 && a[common] == prev6[common])
                common++;
        bl_buf_u8(out, (uint8_t)common);
        bl_buf_put(out, a + common, 16 - common);
        prev6 = a;
    }
}

/* Keys valid and strictly increasing (BL_EDUP, BL_EORDER). */
static int check_sorted(const bl_change_t *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = bl_prefix_check(&c[i].e.key);
        if (rc)
            return rc;
        if (i) {
            int cmp = bl_prefix_cmp(&c[i - 1].e.key, &c[i].e.key);
            if (cmp >= 0)
                return cmp == 0 ? BL_EDUP : BL_EORDER;
        }
    }
    return 0;
}

/* Decodes n keys into c[].e.key, checking strict order and prefix validity. */
static int dec_keys(bl_rd_t *rd, bl_change_t *c, size_t n)
{
    uint64_t n4 = bl_rd_varint(rd);
    if (bl_rd_err(rd))
        return bl_rd_err(rd);
    if (n4 > n)
        return BL_ECOUNT;
    const uint8_t *lens4 = bl_rd_ptr(rd, (size_t)n4);
    if (!lens4)
        return bl_rd_err(rd);
    if (n4) {
        int k = bl_rd_u8(rd);
        uint64_t nbytes = bl_rd_varint(rd);
        if (bl_rd_err(rd))
            return bl_rd_err(rd);
        if (k > 31)
            return BL_EFIELD;
        if (nbytes > bl_rd_left(rd))
            return BL_ETRUNC;
        const uint8_t *bits = bl_rd_ptr(rd, (size_t)nbytes);
        bitrd_t br = {bits, bits + nbytes, 0, 0, 0};
        uint64_t addr = 0;
        for (size_t i = 0; i < n4; i++) {
            unsigned q = br_unary(&br);
            uint64_t gap;
            if (q == RICE_ESC)
                gap = br_get(&br, 32);
            else
                gap = (uint64_t)q << k | br_get(&br, k);
            if (br.err)
                return br.err;
            addr += gap;
            if (addr > UINT32_MAX)
                return BL_EFIELD;
            bl_prefix_t *p = &c[i].e.key;
            bl_prefix_v4(p, (uint32_t)addr, lens4[i]);
        }
        /* Only zero padding (< 8 bits) may follow the last key. */
        if (br.p != br.end || br.nbits >= 8 || br.acc)
            return BL_ETRAILING;
    }
    size_t n6 = (size_t)(n - n4);
    const uint8_t *lens6 = bl_rd_ptr(rd, n6);
    if (!lens6)
        return bl_rd_err(rd);
    for (size_t i = 0; i < n6; i++) {
        bl_prefix_t *p = &c[n4 + i].e.key;
        unsigned common = bl_rd_u8(rd);
        if (common > 16 || (i == 0 && common))
            return bl_rd_err(rd) ? bl_rd_err(rd) : BL_EFIELD;
        memset(p, 0, sizeof *p);
        p->af = BL_AF6;
        p->len = lens6[i];
        if (common)
            memcpy(p->addr, c[n4 + i - 1].e.key.addr, common);
        bl_rd_copy(rd, p->addr + common, 16 - common);
    }
    if (bl_rd_err(rd))
        return bl_rd_err(rd);
    return check_sorted(c, n);
}

/* ---- blocks ---- */

int bl_block_encode(const bl_change_t *rem, size_t nrem, const bl_change_t *add, size_t nadd,
                    int64_t base_ms, bl_buf_t *out)
{
    int rc = check_sorted(rem, nrem);
    if (!rc)
        rc = check_sorted(add, nadd);
    if (rc)
        return rc;
    for (size_t i = 0; i < nadd; i++)
        if ((rc = bl_entry_check(&add[i].e)))
            return rc;
    bl_buf_varint(out, nrem);
    bl_buf_varint(out, nadd);
    enc_keys(out, rem, nrem);
    for (size_t i = 0; i < nrem; i++)
        bl_buf_varint(out, bl_zigzag((int64_t)((uint64_t)rem[i].decided_ms - (uint64_t)base_ms)));
    enc_keys(out, add, nadd);
    for (size_t i = 0; i < nadd; i++)
        bl_buf_u8(out, add[i].e.a);
    for (size_t i = 0; i < nadd; i++)
        bl_buf_varint(out, add[i].e.reason);
    int64_t prev = 0;
    for (size_t i = 0; i < nadd; i++) {
        bl_buf_varint(out, bl_zigzag(add[i].e.listed_at - prev));
        prev = add[i].e.listed_at;
    }
    for (size_t i = 0; i < nadd; i++)
        bl_buf_varint(out, (uint64_t)(add[i].e.expires_at - add[i].e.listed_at));
    for (size_t i = 0; i < nadd; i++)
        bl_buf_varint(out, bl_zigzag((int64_t)((uint64_t)add[i].decided_ms - (uint64_t)base_ms)));
    return out->err;
}

/* base + zigzag delta in wrapping arithmetic: decided times are metadata and
 * a hostile value must not be undefined behaviour. */
static int64_t add_ms(int64_t base, uint64_t zz)
{
    return (int64_t)((uint64_t)base + (uint64_t)bl_unzigzag(zz));
}

int bl_block_decode(const uint8_t *raw, size_t len, int64_t base_ms, const bl_limits_t *lim,
                    bl_change_t **rem_out, size_t *nrem_out, bl_change_t **add_out,
                    size_t *nadd_out)
{
    bl_rd_t rd;
    bl_rd_init(&rd, raw, len);
    bl_change_t *rem = NULL, *add = NULL;
    uint64_t nrem = bl_rd_varint(&rd), nadd = bl_rd_varint(&rd);
    int rc = bl_rd_err(&rd);
    if (rc)
        goto fail;
    /* Every record costs at least one byte (its length byte): bound by input. */
    if (nrem > lim->max_entries || nadd > lim->max_entries || nrem + nadd > bl_rd_left(&rd)) {
        rc = nrem + nadd > bl_rd_left(&rd) ? BL_ETRUNC : BL_ETOOBIG;
        goto fail;
    }
    rem = calloc(nrem ? nrem : 1, sizeof *rem);
    add = calloc(nadd ? nadd : 1, sizeof *add);
    if (!rem || !add) {
        rc = BL_ENOMEM;
        goto fail;
    }
    if ((rc = dec_keys(&rd, rem, (size_t)nrem)))
        goto fail;
    for (size_t i = 0; i < nrem; i++)
        rem[i].decided_ms = add_ms(base_ms, bl_rd_varint(&rd));
    if ((rc = dec_keys(&rd, add, (size_t)nadd)))
        goto fail;
    for (size_t i = 0; i < nadd; i++) {
        add[i].e.a = bl_rd_u8(&rd);
        if (!add[i].e.a && !bl_rd_err(&rd)) {
            rc = BL_EFIELD;
            goto fail;
        }
    }
    for (size_t i = 0; i < nadd; i++) {
        uint64_t r = bl_rd_varint(&rd);
        if (r > UINT16_MAX) {
            rc = BL_EFIELD;
            goto fail;
        }
        add[i].e.reason = (uint16_t)r;
    }
    int64_t prev = 0;
    for (size_t i = 0; i < nadd; i++) {
        int64_t d = bl_unzigzag(bl_rd_varint(&rd));
        if (d < -BL_TIME_MAX || d > BL_TIME_MAX || prev + d < 0 || prev + d > BL_TIME_MAX) {
            rc = bl_rd_err(&rd) ? bl_rd_err(&rd) : BL_EFIELD;
            goto fail;
        }
        prev = add[i].e.listed_at = prev + d;
    }
    for (size_t i = 0; i < nadd; i++) {
        uint64_t d = bl_rd_varint(&rd);
        if (d > (uint64_t)(BL_TIME_MAX - add[i].e.listed_at)) {
            rc = bl_rd_err(&rd) ? bl_rd_err(&rd) : BL_EFIELD;
            goto fail;
        }
        add[i].e.expires_at = add[i].e.listed_at + (int64_t)d;
    }
    for (size_t i = 0; i < nadd; i++)
        add[i].decided_ms = add_ms(base_ms, bl_rd_varint(&rd));
    bl_rd_expect_end(&rd);
    if ((rc = bl_rd_err(&rd)))
        goto fail;
    *rem_out = rem;
    *nrem_out = (size_t)nrem;
    *add_out = add;
    *nadd_out = (size_t)nadd;
    return 0;
fail:
    free(rem);
    free(add);
    return rc;
}

/* Compresses raw into one block record: u32 raw_len, u32 comp_len, frame. */
static int put_block(bl_buf_t *out, const bl_buf_t *raw)
{
    if (raw->len > UINT32_MAX)
        return BL_ETOOBIG;
    size_t bound = ZSTD_compressBound(raw->len);
    uint8_t *p = bl_buf_reserve(out, 8 + bound);
    if (!p)
        return BL_ENOMEM;
    size_t n = ZSTD_compress(p + 8, bound, raw->data, raw->len, ZSTD_LEVEL);
    if (ZSTD_isError(n) || n > UINT32_MAX)
        return BL_EZSTD;
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(raw->len >> (8 * i));
        p[4 + i] = (uint8_t)(n >> (8 * i));
    }
    out->len += 8 + n;
    return 0;
}

/* Writes header+signature+payload for blocks already in payload. */
static int finish(bl_hdr_t *h, bl_buf_t *payload, uint64_t raw_total, const bl_key_t *key,
                  bl_buf_t *out)
{
    h->raw_len = raw_total;
    h->payload_len = payload->len;
    SHA256(payload->data ? payload->data : (const uint8_t *)"", payload->len, h->payload_sha256);
    uint8_t *p = bl_buf_reserve(out, BL_OBJ_PREFIX + payload->len);
    if (!p)
        return BL_ENOMEM;
    int rc = bl_obj_seal(h, key, p);
    if (rc)
        return rc;
    if (payload->len)
        memcpy(p + BL_OBJ_PREFIX, payload->data, payload->len);
    out->len += BL_OBJ_PREFIX + payload->len;
    return 0;
}

/* Emits blocks of at most BL_SNAP_BLOCK records: removal blocks first, then additions. */
static int write_blocks(const bl_change_t *rem, size_t nrem, const bl_change_t *add, size_t nadd,
                        int64_t base_ms, int always_one, bl_buf_t *payload, uint64_t *raw_total)
{
    bl_buf_t raw;
    bl_buf_init(&raw);
    int rc = 0;
    size_t r = 0, a = 0;
    int wrote = 0;
    while (r < nrem || a < nadd || (always_one && !wrote)) {
        size_t nr = 0, na = 0;
        if (r < nrem)
            nr = nrem - r < BL_SNAP_BLOCK ? nrem - r : BL_SNAP_BLOCK;
        else
            na = nadd - a < BL_SNAP_BLOCK ? nadd - a : BL_SNAP_BLOCK;
        raw.len = 0;
        if ((rc = bl_block_encode(rem + r, nr, add + a, na, base_ms, &raw)))
            break;
        if ((rc = put_block(payload, &raw)))
            break;
        *raw_total += raw.len;
        r += nr;
        a += na;
        wrote = 1;
    }
    bl_buf_close(&raw);
    return rc ? rc : payload->err;
}

/* Boundary keys of consecutive blocks must keep the order too. */
static int check_boundaries(const bl_change_t *c, size_t n)
{
    return check_sorted(c, n);
}

int bl_delta_write(bl_hdr_t *h, const bl_change_t *rem, size_t nrem, const bl_change_t *add,
                   size_t nadd, const bl_key_t *key, bl_buf_t *out)
{
    int rc = check_boundaries(rem, nrem);
    if (!rc)
        rc = check_boundaries(add, nadd);
    if (rc)
        return rc;
    h->type = BL_OBJ_DELTA;
    h->n_removed = nrem;
    h->n_added = nadd;
    bl_buf_t payload;
    bl_buf_init(&payload);
    uint64_t raw_total = 0;
    rc = write_blocks(rem, nrem, add, nadd, h->created_ms, 1, &payload, &raw_total);
    if (!rc)
        rc = finish(h, &payload, raw_total, key, out);
    bl_buf_close(&payload);
    return rc;
}

int bl_snapshot_write(bl_hdr_t *h, const bl_entry_t *e, size_t n, const bl_key_t *key,
                      bl_buf_t *out)
{
    h->type = BL_OBJ_SNAPSHOT;
    h->base_serial = 0;
    memset(h->base_digest, 0, sizeof h->base_digest);
    h->n_removed = 0;
    h->n_added = n;
    bl_buf_t payload, raw;
    bl_buf_init(&payload);
    bl_buf_init(&raw);
    bl_change_t *tmp = malloc(sizeof *tmp * (n < BL_SNAP_BLOCK ? (n ? n : 1) : BL_SNAP_BLOCK));
    uint64_t raw_total = 0;
    int rc = tmp ? 0 : BL_ENOMEM;
    for (size_t i = 0; !rc && i < n; i += BL_SNAP_BLOCK) {
        size_t m = n - i < BL_SNAP_BLOCK ? n - i : BL_SNAP_BLOCK;
        for (size_t j = 0; j < m; j++) {
            tmp[j].e = e[i + j];
            tmp[j].decided_ms = 0;
        }
        if (i && bl_prefix_cmp(&e[i - 1].key, &e[i].key) >= 0) {
            rc = bl_prefix_cmp(&e[i - 1].key, &e[i].key) ? BL_EORDER : BL_EDUP;
            break;
        }
        raw.len = 0;
        if (!(rc = bl_block_encode(NULL, 0, tmp, m, 0, &raw)) && !(rc = put_block(&payload, &raw)))
            raw_total += raw.len;
    }
    if (!rc)
        rc = payload.err ? payload.err : finish(h, &payload, raw_total, key, out);
    free(tmp);
    bl_buf_close(&raw);
    bl_buf_close(&payload);
    return rc;
}

/* ---- streaming decode ---- */

int bl_obj_decode(const bl_obj_t *obj, const bl_limits_t *lim, const bl_sink_t *sink,
                  size_t *err_off)
{
    const bl_hdr_t *h = &obj->hdr;
    size_t dummy;
    if (!err_off)
        err_off = &dummy;
    if (!lim)
        lim = &bl_limits_default;
    if (h->type != BL_OBJ_DELTA && h->type != BL_OBJ_SNAPSHOT)
        return BL_ETYPE;
    int64_t base_ms = h->type == BL_OBJ_DELTA ? h->created_ms : 0;
    bl_rd_t rd;
    bl_rd_init(&rd, obj->payload, obj->payload_len);
    ZSTD_DCtx *z = ZSTD_createDCtx();
    uint8_t *raw = NULL;
    size_t raw_cap = 0;
    uint64_t raw_total = 0, tot_rem = 0, tot_add = 0;
    bl_prefix_t last_rem, last_add;
    int have_rem = 0, have_add = 0, rc = z ? 0 : BL_ENOMEM;
    while (!rc && bl_rd_left(&rd)) {
        *err_off = bl_rd_off(&rd);
        uint32_t raw_len = bl_rd_u32(&rd), comp_len = bl_rd_u32(&rd);
        if ((rc = bl_rd_err(&rd)))
            break;
        if (raw_len > lim->max_block_raw || raw_total + raw_len > h->raw_len) {
            rc = raw_total + raw_len > h->raw_len ? BL_EBOMB : BL_ETOOBIG;
            break;
        }
        const uint8_t *frame = bl_rd_ptr(&rd, comp_len);
        if (!frame) {
            rc = BL_ETRUNC;
            break;
        }
        unsigned long long fcs = ZSTD_getFrameContentSize(frame, comp_len);
        if (fcs == ZSTD_CONTENTSIZE_ERROR) {
            rc = BL_EZSTD;
            break;
        }
        if (fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs > raw_len) {
            rc = BL_EBOMB;
            break;
        }
        if (raw_cap < raw_len || !raw) {
            free(raw);
            raw_cap = raw_len ? raw_len : 1;
            if (!(raw = malloc(raw_cap))) {
                rc = BL_ENOMEM;
                break;
            }
        }
        /* The output buffer is exactly the declared size: a frame that
         * inflates further fails here instead of allocating more. */
        size_t got = ZSTD_decompressDCtx(z, raw, raw_len, frame, comp_len);
        if (ZSTD_isError(got)) {
            rc = ZSTD_getErrorCode(got) == ZSTD_error_dstSize_tooSmall ? BL_EBOMB : BL_EZSTD;
            break;
        }
        if (got != raw_len) {
            rc = BL_EZSTD;
            break;
        }
        raw_total += raw_len;
        bl_change_t *rem, *add;
        size_t nrem, nadd;
        if ((rc = bl_block_decode(raw, raw_len, base_ms, lim, &rem, &nrem, &add, &nadd)))
            break;
        /* Across blocks: removals before additions, each in strict key order. */
        if (nrem && have_add)
            rc = BL_EORDER;
        else if (nrem && have_rem && bl_prefix_cmp(&last_rem, &rem[0].e.key) >= 0)
            rc = bl_prefix_cmp(&last_rem, &rem[0].e.key) ? BL_EORDER : BL_EDUP;
        else if (nadd && have_add && bl_prefix_cmp(&last_add, &add[0].e.key) >= 0)
            rc = bl_prefix_cmp(&last_add, &add[0].e.key) ? BL_EORDER : BL_EDUP;
        else if (tot_rem + nrem > h->n_removed || tot_add + nadd > h->n_added)
            rc = BL_ECOUNT;
        for (size_t i = 0; !rc && i < nadd; i++)
            rc = bl_entry_check(&add[i].e) == BL_EFIELD ? BL_EFIELD : 0;
        if (!rc) {
            if (nrem)
                last_rem = rem[nrem - 1].e.key, have_rem = 1;
            if (nadd)
                last_add = add[nadd - 1].e.key, have_add = 1;
            tot_rem += nrem;
            tot_add += nadd;
            if (sink && sink->block)
                rc = sink->block(sink->ctx, rem, nrem, add, nadd);
        }
        free(rem);
        free(add);
    }
    if (!rc) {
        *err_off = obj->payload_len;
        if (tot_rem != h->n_removed || tot_add != h->n_added)
            rc = BL_ECOUNT;
        else if (raw_total != h->raw_len)
            rc = BL_ECOUNT;
    }
    free(raw);
    ZSTD_freeDCtx(z);
    return rc;
}

/* ---- whole-object collection ---- */

typedef struct {
    bl_change_t *rem, *add;
    size_t nrem, nadd, caprem, capadd;
} collect_t;

static int append(bl_change_t **arr, size_t *n, size_t *cap, const bl_change_t *src, size_t m)
{
    if (!m)
        return 0;
    bl_change_t *na = bl_grow_from(*arr, cap, *n + m, sizeof *na, 1024);
    if (!na)
        return BL_ENOMEM;
    *arr = na;
    memcpy(*arr + *n, src, m * sizeof *src);
    *n += m;
    return 0;
}

static int collect_block(void *ctx, const bl_change_t *rem, size_t nrem, const bl_change_t *add,
                         size_t nadd)
{
    collect_t *c = ctx;
    int rc = append(&c->rem, &c->nrem, &c->caprem, rem, nrem);
    return rc ? rc : append(&c->add, &c->nadd, &c->capadd, add, nadd);
}

int bl_obj_collect(const bl_obj_t *obj, const bl_limits_t *lim, bl_change_t **rem, size_t *nrem,
                   bl_change_t **add, size_t *nadd)
{
    collect_t c = {0};
    int rc = bl_obj_decode(obj, lim, &(bl_sink_t){&c, collect_block}, NULL);
    *rem = c.rem;
    *nrem = c.nrem;
    *add = c.add;
    *nadd = c.nadd;
    return rc;
}
