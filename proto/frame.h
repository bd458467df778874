/* SPDX-License-Identifier: MIT */
/* Sync protocol framing: length-prefixed messages between a mirror and the master. */
#ifndef BL_FRAME_H
#define BL_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "obj.h"
#include "rd.h"

/*
 * A frame is type (u8), payload length (u32, little-endian), payload. The
 * length is checked against the type's limit as soon as the 5 header bytes
 * are in, before anything is buffered for the payload.
 *
 *   HELLO     mirror -> master  u16 version, u16 flags, feed, u64 serial, digest
 *   OBJECT    master -> mirror  one signed delta, snapshot or key certificate
 *   HEARTBEAT master -> mirror  one signed heartbeat object (BL_OBJ_PREFIX bytes)
 *   ACK       mirror -> master  feed, u64 serial, digest of the applied state
 *   ERROR     either way        u16 code (a positive BL_E* value), u16 length, text
 *
 * A feed is u8 length (1..BL_FEED_MAX) and printable ASCII bytes. A mirror
 * sends one HELLO per feed it follows; a HELLO for a feed already followed
 * restarts it from the serial given (that is how a mirror asks to resync).
 */

#define BL_PROTO_VERSION     1
#define BL_FRAME_HDR         5
#define BL_FRAME_TEXT_MAX    1024
#define BL_FRAME_SMALL_MAX   2048 /* HELLO, ACK, ERROR */
#define BL_FRAME_MAX_DEFAULT (512u << 20)

enum bl_frame_type {
    BL_FRAME_HELLO = 1,
    BL_FRAME_OBJECT = 2,
    BL_FRAME_HEARTBEAT = 3,
    BL_FRAME_ACK = 4,
    BL_FRAME_ERROR = 5,
};

/* HELLO flags. */
#define BL_HELLO_WANT_SNAPSHOT 0x0001 /* the mirror's state is unusable: send a snapshot */
#define BL_HELLO_HB_ACK                                                                            \
    0x0002 /* the mirror answers every heartbeat with an ACK, so its                               \
              silence means it is gone or hung */

typedef struct {
    uint16_t version;
    uint16_t flags;
    char feed[BL_FEED_MAX + 1];
    uint64_t serial;
    uint8_t digest[BL_DIGEST_SIZE];
} bl_frame_hello_t;

typedef struct {
    char feed[BL_FEED_MAX + 1];
    uint64_t serial;
    uint8_t digest[BL_DIGEST_SIZE];
} bl_frame_ack_t;

typedef struct {
    uint16_t code;
    char text[BL_FRAME_TEXT_MAX + 1];
} bl_frame_error_t;

/* One decoded frame; payload points into the reader's buffer and stays valid
 * until the next bl_frame_reader_feed or bl_frame_next call. */
typedef struct {
    uint8_t type;
    const uint8_t *payload;
    size_t len;
} bl_frame_t;

const char *bl_frame_type_name(int type);

/* Encoders append one complete frame to out (errors are sticky in out->err).
 * Feed names that are empty, too long or not printable give BL_EINVAL. */
int bl_frame_put_hello(bl_buf_t *out, const bl_frame_hello_t *h);
int bl_frame_put_ack(bl_buf_t *out, const bl_frame_ack_t *a);
int bl_frame_put_error(bl_buf_t *out, int code, const char *text);
/* OBJECT or HEARTBEAT carrying obj[0..len) unchanged. */
int bl_frame_put_object(bl_buf_t *out, int type, const void *obj, size_t len);
/* Only the 5 header bytes: lets a large object be sent without copying it. */
void bl_frame_header(uint8_t out[BL_FRAME_HDR], int type, uint32_t len);

/* Decoders of one frame's payload: every field bounded, no trailing bytes. */
int bl_frame_decode_hello(const uint8_t *p, size_t n, bl_frame_hello_t *out);
int bl_frame_decode_ack(const uint8_t *p, size_t n, bl_frame_ack_t *out);
int bl_frame_decode_error(const uint8_t *p, size_t n, bl_frame_error_t *out);

/* Reassembles frames from a byte stream (the decrypted TLS data). */
typedef struct {
    uint8_t *buf;
    size_t off, len, cap; /* unread bytes are buf[off..len) */
    size_t max_object;    /* largest OBJECT payload accepted */
    int err;              /* first error, sticky */
} bl_frame_reader_t;

/* max_object 0 means BL_FRAME_MAX_DEFAULT. */
void bl_frame_reader_init(bl_frame_reader_t *r, size_t max_object);
void bl_frame_reader_close(bl_frame_reader_t *r);
/* Appends received bytes. Refuses a frame header of an unknown type
 * (BL_ETYPE) or over its limit (BL_ETOOBIG) before buffering its payload.
 * The caller drains complete frames with bl_frame_next after every feed. */
int bl_frame_reader_feed(bl_frame_reader_t *r, const void *p, size_t n);
/* 1 and *f when a whole frame is buffered, 0 when more bytes are needed, or
 * the sticky negative error. */
int bl_frame_next(bl_frame_reader_t *r, bl_frame_t *f);
/* Bytes buffered (for memory accounting). */
static inline size_t bl_frame_reader_buffered(const bl_frame_reader_t *r)
{
    return r->len - r->off;
}

#endif
