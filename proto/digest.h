/* SPDX-License-Identifier: MIT */
/* The incremental state digest: a sum mod 2^256 of SHA-256 over each entry. */
#ifndef BL_DIGEST_H
#define BL_DIGEST_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "entry.h"

#define BL_DIGEST_SIZE 32

/* The digest of a set of entries is the sum, modulo 2^256, of SHA-256 over
 * each entry's canonical encoding. Adding or removing one entry costs one
 * hash, so a delta of n changes updates the digest in O(n), and the result
 * equals a full recomputation over the new state. The empty state is zero. */
typedef struct {
    uint64_t w[4]; /* little-endian limbs */
} bl_digest_t;

static inline void bl_digest_zero(bl_digest_t *d)
{
    d->w[0] = d->w[1] = d->w[2] = d->w[3] = 0;
}
void bl_digest_add(bl_digest_t *d, const bl_entry_t *e);
void bl_digest_sub(bl_digest_t *d, const bl_entry_t *e);
/* Digest of n entries from scratch. */
void bl_digest_of(bl_digest_t *d, const bl_entry_t *e, size_t n);
/* The same, spread over up to `threads` threads for large n (snapshot loads). */
void bl_digest_of_parallel(bl_digest_t *d, const bl_entry_t *e, size_t n, int threads);
/* A digest computed by a helper thread while the caller does other work:
 * n entries, the first at `first`, each `stride` bytes after the previous
 * (so an array of structs that hold an entry needs no copy). When no
 * thread can be started, bl_digest_job_start computes it before returning.
 * bl_digest_job_finish waits for it and adds it to *d. */
typedef struct {
    const unsigned char *first;
    size_t stride, n;
    bl_digest_t d;
    pthread_t th;
    int running;
} bl_digest_job_t;
void bl_digest_job_start(bl_digest_job_t *j, const bl_entry_t *first, size_t stride, size_t n);
void bl_digest_job_finish(bl_digest_job_t *j, bl_digest_t *d);
/* d += x (mod 2^256): combines digests of disjoint sets. */
void bl_digest_merge(bl_digest_t *d, const bl_digest_t *x);
void bl_digest_to_bytes(const bl_digest_t *d, uint8_t out[BL_DIGEST_SIZE]);
void bl_digest_from_bytes(bl_digest_t *d, const uint8_t in[BL_DIGEST_SIZE]);
int bl_digest_eq(const bl_digest_t *a, const bl_digest_t *b);
/* Lower-case hex, needs 65 bytes. */
char *bl_digest_hex(const bl_digest_t *d, char out[65]);
/* Canonical 37-byte encoding hashed by the digest (documented in ARCHITECTURE.md). */
#define BL_ENTRY_CANON_SIZE 37
void bl_entry_canon(const bl_entry_t *e, uint8_t out[BL_ENTRY_CANON_SIZE]);

#endif
