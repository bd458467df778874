/* SPDX-License-Identifier: MIT */
/* Unit tests of proto/frame: message round trips, stream reassembly and every refusal. */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "frame.h"
#include "test.h"

static void test_roundtrip_split(void)
{
    bl_buf_t b;
    bl_buf_init(&b);
    bl_frame_hello_t h = {.version = BL_PROTO_VERSION,
                          .flags = BL_HELLO_WANT_SNAPSHOT,
                          .serial = 0x0102030405060708ull};
    strcpy(h.feed, "main");
    for (int i = 0; i < BL_DIGEST_SIZE; i++)
        h.digest[i] = (uint8_t)i;
    bl_frame_ack_t a = {.serial = 99};
    strcpy(a.feed, "policy.list");
    memset(a.digest, 0xab, sizeof a.digest);
    uint8_t obj[70000];
    for (size_t i = 0; i < sizeof obj; i++)
        obj[i] = (uint8_t)(i * 7);
    uint8_t hb[BL_OBJ_PREFIX];
    memset(hb, 0x5a, sizeof hb);
    ASSERT_EQ(bl_frame_put_hello(&b, &h), 0);
    ASSERT_EQ(bl_frame_put_object(&b, BL_FRAME_OBJECT, obj, sizeof obj), 0);
    ASSERT_EQ(bl_frame_put_object(&b, BL_FRAME_HEARTBEAT, hb, sizeof hb), 0);
    ASSERT_EQ(bl_frame_put_ack(&b, &a), 0);
    ASSERT_EQ(bl_frame_put_error(&b, BL_EBASESERIAL, "base serial\nmismatch"), 0);

    /* Every cut of the stream into feed calls yields the same five frames. */
    size_t steps[] = {1, 2, 3, 5, 7, 4096, 65536, b.len};
    for (size_t si = 0; si < sizeof steps / sizeof steps[0]; si++) {
        bl_frame_reader_t r;
        bl_frame_reader_init(&r, 1u << 20);
        int seen = 0;
        for (size_t off = 0; off < b.len;) {
            size_t n = b.len - off < steps[si] ? b.len - off : steps[si];
            ASSERT_EQ(bl_frame_reader_feed(&r, b.data + off, n), 0);
            off += n;
            bl_frame_t f;
            int rc;
            while ((rc = bl_frame_next(&r, &f)) == 1) {
                switch (seen++) {
                case 0: {
                    bl_frame_hello_t g;
                    ASSERT_EQ(f.type, BL_FRAME_HELLO);
                    ASSERT_EQ(bl_frame_decode_hello(f.payload, f.len, &g), 0);
                    ASSERT_EQ(g.version, BL_PROTO_VERSION);
                    ASSERT_EQ(g.flags, BL_HELLO_WANT_SNAPSHOT);
                    ASSERT_STREQ(g.feed, "main");
                    ASSERT(g.serial == h.serial);
                    ASSERT_MEMEQ(g.digest, h.digest, BL_DIGEST_SIZE);
                    break;
                }
                case 1:
                    ASSERT_EQ(f.type, BL_FRAME_OBJECT);
                    ASSERT_EQ(f.len, sizeof obj);
                    ASSERT_MEMEQ(f.payload, obj, sizeof obj);
                    break;
                case 2:
                    ASSERT_EQ(f.type, BL_FRAME_HEARTBEAT);
                    ASSERT_EQ(f.len, BL_OBJ_PREFIX);
                    break;
                case 3: {
                    bl_frame_ack_t g;
                    ASSERT_EQ(f.type, BL_FRAME_ACK);
                    ASSERT_EQ(bl_frame_decode_ack(f.payload, f.len, &g), 0);
                    ASSERT_STREQ(g.feed, "policy.list");
                    ASSERT_EQ(g.serial, 99);
                    ASSERT_MEMEQ(g.digest, a.digest, BL_DIGEST_SIZE);
                    break;
                }
                case 4: {
                    bl_frame_error_t e;
                    ASSERT_EQ(f.type, BL_FRAME_ERROR);
                    ASSERT_EQ(bl_frame_decode_error(f.payload, f.len, &e), 0);
                    ASSERT_EQ(e.code, -BL_EBASESERIAL);
                    ASSERT_STREQ(e.text, "base serial?mismatch");
                    break;
                }
                default:
                    BL_FAIL("extra frame");
                }
            }
            ASSERT_EQ(rc, 0);
            ASSERT(bl_frame_reader_buffered(&r) <= BL_FRAME_HDR + sizeof obj + steps[si]);
        }
        ASSERT_EQ(seen, 5);
        ASSERT_EQ(bl_frame_reader_buffered(&r), 0);
        bl_frame_reader_close(&r);
    }
    bl_buf_close(&b);
}

/* A header over its limit is refused when it arrives, before any payload is kept. */
static void test_limits(void)
{
    uint8_t hdr[BL_FRAME_HDR];
    bl_frame_reader_t r;

    bl_frame_reader_init(&r, 1000);
    bl_frame_header(hdr, BL_FRAME_OBJECT, 1001);
    ASSERT_EQ(bl_frame_reader_feed(&r, hdr, 3), 0);
    ASSERT_EQ(bl_frame_reader_feed(&r, hdr + 3, 2), BL_ETOOBIG);
    ASSERT_EQ(bl_frame_reader_buffered(&r), 3); /* the refused bytes were not kept */
    bl_frame_t f;
    ASSERT_EQ(bl_frame_next(&r, &f), BL_ETOOBIG); /* sticky */
    ASSERT_EQ(bl_frame_reader_feed(&r, "x", 1), BL_ETOOBIG);
    bl_frame_reader_close(&r);

    bl_frame_reader_init(&r, 1000);
    bl_frame_header(hdr, BL_FRAME_OBJECT, 1000);
    ASSERT_EQ(bl_frame_reader_feed(&r, hdr, 5), 0);
    ASSERT_EQ(bl_frame_next(&r, &f), 0);
    bl_frame_reader_close(&r);

    bl_frame_reader_init(&r, 0);
    bl_frame_header(hdr, BL_FRAME_HELLO, BL_FRAME_SMALL_MAX + 1);
    ASSERT_EQ(bl_frame_reader_feed(&r, hdr, 5), BL_ETOOBIG);
    bl_frame_reader_close(&r);

    bl_frame_reader_init(&r, 0);
    bl_frame_header(hdr, BL_FRAME_HEARTBEAT, BL_OBJ_PREFIX + 1);
    ASSERT_EQ(bl_frame_reader_feed(&r, hdr, 5), BL_ETOOBIG);
    bl_frame_reader_close(&r);

    bl_frame_reader_init(&r, 0);
    bl_frame_header(hdr, 0, 0);
    ASSERT_EQ(bl_frame_reader_feed(&r, hdr, 5), BL_ETYPE);
    bl_frame_reader_close(&r);

    /* A bad header after a good frame in the same feed is caught by next. */
    bl_frame_reader_init(&r, 0);
    uint8_t two[10];
    bl_frame_header(two, BL_FRAME_OBJECT, 0);
    bl_frame_header(two + 5, 77, 0);
    ASSERT_EQ(bl_frame_reader_feed(&r, two, sizeof two), 0);
    ASSERT_EQ(bl_frame_next(&r, &f), 1);
    ASSERT_EQ(f.len, 0);
    ASSERT_EQ(bl_frame_next(&r, &f), BL_ETYPE);
    bl_frame_reader_close(&r);
}

static void test_decode_refusals(void)
{
    bl_buf_t b;
    bl_buf_init(&b);
    bl_frame_ack_t a = {.serial = 1};
    strcpy(a.feed, "main");
    ASSERT_EQ(bl_frame_put_ack(&b, &a), 0);
    bl_frame_ack_t g;
    const uint8_t *p = b.data + BL_FRAME_HDR;
    size_t n = b.len - BL_FRAME_HDR;
    ASSERT_EQ(bl_frame_decode_ack(p, n, &g), 0);
    ASSERT_EQ(bl_frame_decode_ack(p, n - 1, &g), BL_ETRUNC);
    uint8_t longer[128];
    memcpy(longer, p, n);
    longer[n] = 0;
    ASSERT_EQ(bl_frame_decode_ack(longer, n + 1, &g), BL_ETRAILING);
    longer[0] = BL_FEED_MAX + 1; /* feed length over the limit */
    ASSERT(bl_frame_decode_ack(longer, n, &g) < 0);
    memcpy(longer, p, n);
    longer[2] = ' '; /* "m in" */
    ASSERT_EQ(bl_frame_decode_ack(longer, n, &g), BL_EFIELD);
    bl_buf_close(&b);

    /* Encoders refuse feed names the decoders would refuse. */
    bl_buf_init(&b);
    strcpy(a.feed, "");
    ASSERT_EQ(bl_frame_put_ack(&b, &a), BL_EINVAL);
    strcpy(a.feed, "a\tb");
    ASSERT_EQ(bl_frame_put_ack(&b, &a), BL_EINVAL);
    bl_frame_hello_t h = {.version = 0};
    strcpy(h.feed, "main");
    ASSERT_EQ(bl_frame_put_hello(&b, &h), 0);
    bl_frame_hello_t hg;
    ASSERT_EQ(bl_frame_decode_hello(b.data + BL_FRAME_HDR, b.len - BL_FRAME_HDR, &hg), BL_EVERSION);
    ASSERT_EQ(bl_frame_put_object(&b, BL_FRAME_ACK, "x", 1), BL_EINVAL);
    bl_buf_close(&b);

    uint8_t e[8] = {1, 0, 0xff, 0xff};
    bl_frame_error_t ge;
    ASSERT_EQ(bl_frame_decode_error(e, sizeof e, &ge), BL_ETOOBIG);
}

int main(void)
{
    RUN(test_roundtrip_split);
    RUN(test_limits);
    RUN(test_decode_refusals);
    return 0;
}
