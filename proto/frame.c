/* SPDX-License-Identifier: MIT */
/* Sync protocol framing: length-prefixed messages between a mirror and the master. */

/*
 * Every byte here comes from the network and is untrusted: headers are
 * checked against per-type limits before payload bytes are kept, payloads
 * are read through bl_rd_t, and the reader's buffer never holds more than
 * one frame plus the bytes of one feed call.
 */
#include "frame.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "grow.h"

const char *bl_frame_type_name(int type)
{
    switch (type) {
    case BL_FRAME_HELLO:
        return "hello";
    case BL_FRAME_OBJECT:
        return "object";
    case BL_FRAME_HEARTBEAT:
        return "heartbeat";
    case BL_FRAME_ACK:
        return "ack";
    case BL_FRAME_ERROR:
        return "error";
    }
    return "unknown";
}

static int feed_ok(const char *feed, size_t n)
{
    if (n == 0 || n > BL_FEED_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)feed[i] <= 0x20 || (unsigned char)feed[i] >= 0x7f)
            return 0;
    return 1;
}

void bl_frame_header(uint8_t out[BL_FRAME_HDR], int type, uint32_t len)
{
    out[0] = (uint8_t)type;
    out[1] = (uint8_t)len;
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)(len >> 16);
    out[4] = (uint8_t)(len >> 24);
}

/* Reserves the header, returns its offset; bl_frame_end fills the length. */
static size_t frame_begin(bl_buf_t *out, int type)
{
    size_t at = out->len;
    uint8_t hdr[BL_FRAME_HDR];
    bl_frame_header(hdr, type, 0);
    bl_buf_put(out, hdr, sizeof hdr);
    return at;
}

static int frame_end(bl_buf_t *out, size_t at)
{
    if (out->err)
        return out->err;
    size_t len = out->len - at - BL_FRAME_HDR;
    bl_frame_header(out->data + at, out->data[at], (uint32_t)len);
    return 0;
}

static void put_feed(bl_buf_t *out, const char *feed)
{
    size_t n = strlen(feed);
    bl_buf_u8(out, (uint8_t)n);
    bl_buf_put(out, feed, n);
}

int bl_frame_put_hello(bl_buf_t *out, const bl_frame_hello_t *h)
{
    if (!feed_ok(h->feed, strlen(h->feed)))
        return BL_EINVAL;
    size_t at = frame_begin(out, BL_FRAME_HELLO);
    bl_buf_u16(out, h->version);
    bl_buf_u16(out, h->flags);
    put_feed(out, h->feed);
    bl_buf_u64(out, h->serial);
    bl_buf_put(out, h->digest, BL_DIGEST_SIZE);
    return frame_end(out, at);
}

int bl_frame_put_ack(bl_buf_t *out, const bl_frame_ack_t *a)
{
    if (!feed_ok(a->feed, strlen(a->feed)))
        return BL_EINVAL;
    size_t at = frame_begin(out, BL_FRAME_ACK);
    put_feed(out, a->feed);
    bl_buf_u64(out, a->serial);
    bl_buf_put(out, a->digest, BL_DIGEST_SIZE);
    return frame_end(out, at);
}

int bl_frame_put_error(bl_buf_t *out, int code, const char *text)
{
    size_t n = strlen(text);
    if (n > BL_FRAME_TEXT_MAX)
        n = BL_FRAME_TEXT_MAX;
    size_t at = frame_begin(out, BL_FRAME_ERROR);
    bl_buf_u16(out, (uint16_t)(code < 0 ? -code : code));
    bl_buf_u16(out, (uint16_t)n);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)text[i];
        bl_buf_u8(out, ch < 0x20 || ch >= 0x7f ? '?' : ch);
    }
    return frame_end(out, at);
}

int bl_frame_put_object(bl_buf_t *out, int type, const void *obj, size_t len)
{
    if ((type != BL_FRAME_OBJECT && type != BL_FRAME_HEARTBEAT) || len > UINT32_MAX)
        return BL_EINVAL;
    uint8_t hdr[BL_FRAME_HDR];
    bl_frame_header(hdr, type, (uint32_t)len);
    bl_buf_put(out, hdr, sizeof hdr);
    bl_buf_put(out, obj, len);
    return out->err;
}

/* ---- payload decoders ---- */

static void get_feed(bl_rd_t *rd, char out[BL_FEED_MAX + 1])
{
    uint8_t n = bl_rd_u8(rd);
    const uint8_t *p = bl_rd_ptr(rd, n);
    out[0] = 0;
    if (!p)
        return;
    if (!feed_ok((const char *)p, n)) {
        bl_rd_fail(rd, BL_EFIELD);
        return;
    }
    memcpy(out, p, n);
    out[n] = 0;
}

int bl_frame_decode_hello(const uint8_t *p, size_t n, bl_frame_hello_t *out)
{
    bl_rd_t rd;
    bl_rd_init(&rd, p, n);
    memset(out, 0, sizeof *out);
    out->version = bl_rd_u16(&rd);
    out->flags = bl_rd_u16(&rd);
    get_feed(&rd, out->feed);
    out->serial = bl_rd_u64(&rd);
    bl_rd_copy(&rd, out->digest, BL_DIGEST_SIZE);
    bl_rd_expect_end(&rd);
    if (!bl_rd_err(&rd) && out->version == 0)
        return BL_EVERSION;
    return bl_rd_err(&rd);
}

int bl_frame_decode_ack(const uint8_t *p, size_t n, bl_frame_ack_t *out)
{
    bl_rd_t rd;
    bl_rd_init(&rd, p, n);
    memset(out, 0, sizeof *out);
    get_feed(&rd, out->feed);
    out->serial = bl_rd_u64(&rd);
    bl_rd_copy(&rd, out->digest, BL_DIGEST_SIZE);
    bl_rd_expect_end(&rd);
    return bl_rd_err(&rd);
}

int bl_frame_decode_error(const uint8_t *p, size_t n, bl_frame_error_t *out)
{
    bl_rd_t rd;
    bl_rd_init(&rd, p, n);
    memset(out, 0, sizeof *out);
    out->code = bl_rd_u16(&rd);
    uint16_t len = bl_rd_u16(&rd);
    if (len > BL_FRAME_TEXT_MAX)
        bl_rd_fail(&rd, BL_ETOOBIG);
    const uint8_t *t = bl_rd_ptr(&rd, len);
    bl_rd_expect_end(&rd);
    if (bl_rd_err(&rd))
        return bl_rd_err(&rd);
    /* Text ends up in logs: keep it printable. */
    for (size_t i = 0; i < len; i++)
        out->text[i] = t[i] < 0x20 || t[i] >= 0x7f ? '?' : (char)t[i];
    out->text[len] = 0;
    return 0;
}

/* ---- stream reader ---- */

void bl_frame_reader_init(bl_frame_reader_t *r, size_t max_object)
{
    memset(r, 0, sizeof *r);
    r->max_object = max_object ? max_object : BL_FRAME_MAX_DEFAULT;
}

void bl_frame_reader_close(bl_frame_reader_t *r)
{
    free(r->buf);
    memset(r, 0, sizeof *r);
}

/* Limit of a frame type's payload, or 0 for an unknown type. */
static size_t type_limit(const bl_frame_reader_t *r, uint8_t type)
{
    switch (type) {
    case BL_FRAME_HELLO:
    case BL_FRAME_ACK:
    case BL_FRAME_ERROR:
        return BL_FRAME_SMALL_MAX;
    case BL_FRAME_HEARTBEAT:
        return BL_OBJ_PREFIX;
    case BL_FRAME_OBJECT:
        return r->max_object;
    }
    return 0;
}

/* Checks the header at off if it is complete. */
static int check_header(bl_frame_reader_t *r, const uint8_t *h)
{
    size_t lim = type_limit(r, h[0]);
    if (!lim)
        return BL_ETYPE;
    uint32_t len =
        (uint32_t)h[1] | (uint32_t)h[2] << 8 | (uint32_t)h[3] << 16 | (uint32_t)h[4] << 24;
    if (len > lim)
        return BL_ETOOBIG;
    return 0;
}

int bl_frame_reader_feed(bl_frame_reader_t *r, const void *p, size_t n)
{
    if (r->err)
        return r->err;
    if (!n)
        return 0;
    /* The caller drains after every feed, so what is left here is one partial frame. */
    if (r->off) {
        memmove(r->buf, r->buf + r->off, r->len - r->off);
        r->len -= r->off;
        r->off = 0;
    }
    /* A large buffer left behind by a snapshot is given back once drained. */
    if (r->len == 0 && r->cap > (1u << 20) && n < (1u << 20)) {
        free(r->buf);
        r->buf = NULL;
        r->cap = 0;
    }
    /* Validate the pending header with the new bytes before keeping them. */
    if (r->len < BL_FRAME_HDR && r->len + n >= BL_FRAME_HDR) {
        uint8_t h[BL_FRAME_HDR];
        if (r->len)
            memcpy(h, r->buf, r->len);
        memcpy(h + r->len, p, BL_FRAME_HDR - r->len);
        int rc = check_header(r, h);
        if (rc)
            return r->err = rc;
    }
    /* Keep at most the rest of the current frame plus what follows it in
     * this call; the frames that follow are checked by bl_frame_next. */
    uint8_t *nb = bl_grow_from(r->buf, &r->cap, r->len + n, 1, 4096);
    if (!nb)
        return r->err = BL_ENOMEM;
    r->buf = nb;
    memcpy(r->buf + r->len, p, n);
    r->len += n;
    return 0;
}

int bl_frame_next(bl_frame_reader_t *r, bl_frame_t *f)
{
    if (r->err)
        return r->err;
    size_t avail = r->len - r->off;
    if (avail < BL_FRAME_HDR)
        return 0;
    const uint8_t *h = r->buf + r->off;
    int rc = check_header(r, h);
    if (rc)
        return r->err = rc;
    size_t len = (size_t)h[1] | (size_t)h[2] << 8 | (size_t)h[3] << 16 | (size_t)h[4] << 24;
    if (avail - BL_FRAME_HDR < len)
        return 0;
    f->type = h[0];
    f->payload = h + BL_FRAME_HDR;
    f->len = len;
    r->off += BL_FRAME_HDR + len;
    if (r->off == r->len)
        r->off = r->len = 0;
    return 1;
}
