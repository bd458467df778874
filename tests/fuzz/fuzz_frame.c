/* SPDX-License-Identifier: MIT */
/* Fuzz target: the sync protocol's frame reassembly and message decoders on untrusted bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/err.h"
#include "proto/frame.h"

/* Decoded messages must re-encode to the bytes they came from. */
static void roundtrip(const bl_frame_t *f)
{
    bl_buf_t b;
    bl_buf_init(&b);
    int rc = 1;
    if (f->type == BL_FRAME_HELLO) {
        bl_frame_hello_t h;
        if (bl_frame_decode_hello(f->payload, f->len, &h) == 0)
            rc = bl_frame_put_hello(&b, &h);
    } else if (f->type == BL_FRAME_ACK) {
        bl_frame_ack_t a;
        if (bl_frame_decode_ack(f->payload, f->len, &a) == 0)
            rc = bl_frame_put_ack(&b, &a);
    } else if (f->type == BL_FRAME_ERROR) {
        bl_frame_error_t e;
        if (bl_frame_decode_error(f->payload, f->len, &e) == 0 &&
            memchr(e.text, '?', strlen(e.text)) == NULL && strlen(e.text) == (size_t)(f->len - 4))
            rc = bl_frame_put_error(&b, e.code, e.text);
    }
    if (rc == 0 &&
        (b.len != f->len + BL_FRAME_HDR || memcmp(b.data + BL_FRAME_HDR, f->payload, f->len) != 0))
        abort();
    bl_buf_close(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    /* The first byte picks how the stream is cut into feed calls. */
    size_t step = (size_t)data[0] % 17 + 1;
    data++;
    size--;
    bl_frame_reader_t r;
    bl_frame_reader_init(&r, 1u << 16);
    size_t off = 0;
    while (off < size) {
        size_t n = size - off < step ? size - off : step;
        if (bl_frame_reader_feed(&r, data + off, n))
            break;
        off += n;
        bl_frame_t f;
        int rc;
        while ((rc = bl_frame_next(&r, &f)) == 1) {
            if (f.len > (1u << 16))
                abort();
            roundtrip(&f);
        }
        if (rc < 0)
            break;
        /* Bounded: one frame plus one feed call. */
        if (bl_frame_reader_buffered(&r) > BL_FRAME_HDR + (1u << 16) + step)
            abort();
    }
    bl_frame_reader_close(&r);
    return 0;
}
