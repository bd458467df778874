/* SPDX-License-Identifier: MIT */
/* The signed head of a feed's HTTP layout: what a pulling mirror may fetch, and under which name.
 */
#ifndef BL_HEAD_H
#define BL_HEAD_H

#include <stddef.h>
#include <stdint.h>

#include "obj.h"
#include "rd.h"

/*
 * A head is a signed object of type BL_OBJ_HEAD (domain "blsync-head-v1")
 * whose header says: serial and digest of the feed's last published state,
 * n_entries of that state, base_serial and base_digest of the newest
 * snapshot, created_ms and a short expires_ms (the pull path's heartbeat),
 * n_added = the number of records of the payload. The payload (stored, not
 * compressed: raw_len == payload_len) is n_added records of BL_HEAD_REC
 * bytes, each naming one immutable object by the SHA-256 of its whole file:
 *
 *   0  u8   type (BL_OBJ_DELTA, BL_OBJ_SNAPSHOT or BL_OBJ_KEYCERT)
 *   1  7    zero
 *   8  u64  base_serial (a delta's; 0 otherwise)
 *   16 u64  serial (the state after; 0 for a key certificate)
 *   24 u64  bytes of the file
 *   32 32   base_digest (a delta's; zero otherwise)
 *   64 32   SHA-256 of the file: its name is by-hash/HEX.EXT
 *
 * All integers little-endian. Records are sorted by (type, serial,
 * base_serial) and unique by hash; no object claims a serial past the head.
 */

#define BL_HEAD_REC     96
#define BL_HEAD_MAX_REC 65536 /* records in one head at most */
#define BL_HEAD_NAME    88    /* "by-hash/" + 64 hex + ".keycert" + NUL fits */

typedef struct {
    uint8_t type;
    uint64_t base_serial, serial, bytes;
    uint8_t base_digest[BL_DIGEST_SIZE];
    uint8_t sha256[32];
} bl_head_rec_t;

/* An opened head: its verified header and records pointing into the caller's buffer. */
typedef struct {
    bl_hdr_t hdr;
    size_t n;
    const uint8_t *recs;
} bl_head_t;

/* Writes a head announcing (serial, digest, n_entries) with the newest
 * snapshot (snap_serial, snap_digest) and the n records of r (sorted here),
 * valid for ttl_ms from now_ms, signed with key, to out.
 * BL_EINVAL for a record that breaks the rules above. */
int bl_head_write(const char *feed, uint64_t serial, const uint8_t digest[BL_DIGEST_SIZE],
                  uint64_t n_entries, uint64_t snap_serial,
                  const uint8_t snap_digest[BL_DIGEST_SIZE], bl_head_rec_t *r, size_t n,
                  int64_t now_ms, int64_t ttl_ms, const bl_key_t *key, bl_buf_t *out);

/* Opens an untrusted head: bl_obj_open with keys (signature, lengths,
 * payload hash), then the type (BL_ETYPE), the record count against the
 * header and BL_HEAD_MAX_REC (BL_ECOUNT, BL_ETOOBIG) and every record
 * (BL_EFIELD: unknown type, nonzero padding, a serial past the head, a
 * delta that goes backwards, a snapshot with a base, records out of order
 * or repeated: BL_EORDER). Does not check expiry. */
int bl_head_open(const void *buf, size_t len, const bl_keyring_t *keys, bl_head_t *out,
                 size_t *err_off);

/* Record i of an opened head. */
void bl_head_rec(const bl_head_t *h, size_t i, bl_head_rec_t *r);

/* The object's name relative to the feed's directory: "by-hash/HEX.delta",
 * ".snap" or ".keycert". */
void bl_head_rec_name(const bl_head_rec_t *r, char out[BL_HEAD_NAME]);

/* The chain a mirror holding (serial, digest) takes to the head: the
 * records to fetch and apply in order, into idx[0..*n) (idx has room for
 * h->n). Prefers one merged delta from exactly its state, then the chain of
 * deltas from it; a mirror with no state (serial 0), or whose state no delta
 * starts from, gets the newest snapshot and the deltas after it. want_snap
 * forces the snapshot route. *n = 0 when the mirror holds the head.
 * BL_ENOTFOUND when no route exists. */
int bl_head_route(const bl_head_t *h, uint64_t serial, const uint8_t digest[BL_DIGEST_SIZE],
                  int want_snap, size_t *idx, size_t *n);

#endif
