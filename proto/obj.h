/* SPDX-License-Identifier: MIT */
/* Signed objects: the fixed header, its signature, and opening an untrusted object. */
#ifndef BL_OBJ_H
#define BL_OBJ_H

#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "key.h"
#include "rd.h"

#define BL_HDR_SIZE       256 /* signed header bytes */
#define BL_OBJ_PREFIX     (BL_HDR_SIZE + BL_SIG_SIZE)
#define BL_FEED_MAX       32 /* feed name bytes, NUL-padded */
#define BL_FORMAT_VERSION 1

enum bl_obj_type {
    BL_OBJ_DELTA = 1,
    BL_OBJ_SNAPSHOT = 2,
    BL_OBJ_HEARTBEAT = 3,
    BL_OBJ_KEYCERT = 4, /* payload: a new public key, signed by a trusted one */
    BL_OBJ_HEAD = 5,    /* payload: the objects a pull mirror may fetch (head.h) */
};

/* The decoded header. Every field is covered by the signature. */
typedef struct {
    uint8_t version;
    uint8_t type;
    uint16_t flags;
    char feed[BL_FEED_MAX + 1]; /* NUL-terminated */
    uint8_t key_id[BL_KEYID_SIZE];
    uint64_t base_serial; /* delta: state it applies to; snapshot: 0 */
    uint64_t serial;      /* state after */
    uint8_t base_digest[BL_DIGEST_SIZE];
    uint8_t digest[BL_DIGEST_SIZE];
    int64_t created_ms;
    int64_t expires_ms; /* refuse after this (freeze protection) */
    uint64_t n_removed; /* delta removals */
    uint64_t n_added;   /* delta additions/replacements, snapshot entries */
    uint64_t n_entries; /* entries in the state after */
    uint64_t raw_len;   /* payload size after decompression */
    uint64_t payload_len;
    uint8_t payload_sha256[32];
} bl_hdr_t;

/* Limits checked before anything is allocated or decompressed. */
typedef struct {
    uint64_t max_payload;   /* compressed payload bytes */
    uint64_t max_raw;       /* decompressed payload bytes */
    uint64_t max_entries;   /* records in one object / entries in a state */
    uint64_t max_block_raw; /* decompressed bytes of one block */
} bl_limits_t;
extern const bl_limits_t bl_limits_default;
/* What a master accepts reading back its own spool: four times the default. */
extern const bl_limits_t bl_limits_spool;

/* Domain separation string of a type (16 bytes, NUL-padded in the header). */
const char *bl_obj_domain(int type);
const char *bl_obj_type_name(int type);

/* Encodes h into out (computes nothing: fill every field first). */
void bl_hdr_encode(const bl_hdr_t *h, uint8_t out[BL_HDR_SIZE]);
/* Decodes and sanity-checks a header (magic, version, domain, feed name). */
int bl_hdr_decode(bl_rd_t *rd, bl_hdr_t *h);

/* An opened, verified object: header plus a pointer into the caller's buffer. */
typedef struct {
    bl_hdr_t hdr;
    const uint8_t *payload;
    size_t payload_len;
} bl_obj_t;

/* Opens an untrusted object in buf: decodes the header, finds the signing
 * key in keys (BL_EUNKNOWNKEY), checks the signature over the header
 * (BL_ESIG), then the declared lengths against lim (BL_ETOOBIG) and against
 * len (BL_ETRUNC, BL_ETRAILING), then the payload hash (BL_EPAYLOAD): the
 * payload is neither hashed nor trusted before the header is known
 * authentic, and a damaged header is always BL_ESIG. Allocates nothing. *err_off (may be NULL)
 * receives the byte offset an error refers to. Does not check expiry: see bl_obj_check_fresh. */
int bl_obj_open(const void *buf, size_t len, const bl_keyring_t *keys, const bl_limits_t *lim,
                bl_obj_t *out, size_t *err_off);
/* BL_EEXPIRED if now_ms is past the header's expiry. */
int bl_obj_check_fresh(const bl_hdr_t *h, int64_t now_ms);

/* Signs h (whose payload fields must be set) with key and writes the
 * header and signature to out[BL_OBJ_PREFIX]. Sets h->key_id. */
int bl_obj_seal(bl_hdr_t *h, const bl_key_t *key, uint8_t out[BL_OBJ_PREFIX]);

/* Heartbeat: a signed header with no payload. */
int bl_heartbeat_write(const char *feed, uint64_t serial, const uint8_t digest[BL_DIGEST_SIZE],
                       int64_t now_ms, int64_t ttl_ms, const bl_key_t *key,
                       uint8_t out[BL_OBJ_PREFIX]);

/* Key certificate: new_key's raw public key signed by key. */
int bl_keycert_write(const char *feed, const bl_key_t *new_key, int64_t now_ms, int64_t ttl_ms,
                     const bl_key_t *key, bl_buf_t *out);
/* Reads the public key out of an opened, verified key certificate. */
int bl_keycert_read(const bl_obj_t *obj, bl_key_t **new_key);

#endif
