/* SPDX-License-Identifier: MIT */
/* The state digest: sum mod 2^256 of SHA-256 over each entry's canonical bytes. */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_* is the fast path (no EVP fetch per call) */
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "digest.h"
#include "sha256ni.h"

static void put64be(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* family(1) len(1) addr(16) a(1) reason(2, BE) listed_at(8, BE) expires_at(8, BE). */
void bl_entry_canon(const bl_entry_t *e, uint8_t out[BL_ENTRY_CANON_SIZE])
{
    out[0] = e->key.af;
    out[1] = e->key.len;
    memcpy(out + 2, e->key.addr, 16);
    out[18] = e->a;
    out[19] = (uint8_t)(e->reason >> 8);
    out[20] = (uint8_t)e->reason;
    put64be(out + 21, (uint64_t)e->listed_at);
    put64be(out + 29, (uint64_t)e->expires_at);
}

static void entry_hash(const bl_entry_t *e, uint64_t h[4])
{
    uint8_t canon[BL_ENTRY_CANON_SIZE], md[32];
    bl_entry_canon(e, canon);
    if (bl_sha256ni_available()) {
        bl_sha256ni_short(canon, sizeof canon, md);
    } else {
        SHA256_CTX c;
        SHA256_Init(&c);
        SHA256_Update(&c, canon, sizeof canon);
        SHA256_Final(md, &c);
    }
    for (int i = 0; i < 4; i++) {
        uint64_t v = 0;
        for (int j = 7; j >= 0; j--)
            v = v << 8 | md[i * 8 + j];
        h[i] = v;
    }
}

void bl_digest_add(bl_digest_t *d, const bl_entry_t *e)
{
    uint64_t h[4];
    entry_hash(e, h);
    unsigned __int128 carry = 0;
    for (int i = 0; i < 4; i++) {
        carry += (unsigned __int128)d->w[i] + h[i];
        d->w[i] = (uint64_t)carry;
        carry >>= 64;
    }
}

void bl_digest_sub(bl_digest_t *d, const bl_entry_t *e)
{
    uint64_t h[4];
    entry_hash(e, h);
    uint64_t borrow = 0;
    for (int i = 0; i < 4; i++) {
        uint64_t x = d->w[i], y = h[i];
        uint64_t r = x - y - borrow;
        borrow = (x < y) || (x - y < borrow);
        d->w[i] = r;
    }
}

void bl_digest_of(bl_digest_t *d, const bl_entry_t *e, size_t n)
{
    bl_digest_zero(d);
    for (size_t i = 0; i < n; i++)
        bl_digest_add(d, &e[i]);
}

void bl_digest_merge(bl_digest_t *d, const bl_digest_t *x)
{
    unsigned __int128 carry = 0;
    for (int i = 0; i < 4; i++) {
        carry += (unsigned __int128)d->w[i] + x->w[i];
        d->w[i] = (uint64_t)carry;
        carry >>= 64;
    }
}

static void *job_run(void *arg)
{
    bl_digest_job_t *j = arg;
    bl_digest_zero(&j->d);
    for (size_t i = 0; i < j->n; i++)
        bl_digest_add(&j->d, (const bl_entry_t *)(const void *)(j->first + i * j->stride));
    return NULL;
}

void bl_digest_job_start(bl_digest_job_t *j, const bl_entry_t *first, size_t stride, size_t n)
{
    j->first = (const unsigned char *)first;
    j->stride = stride;
    j->n = n;
    j->running = pthread_create(&j->th, NULL, job_run, j) == 0;
    if (!j->running)
        job_run(j);
}

void bl_digest_job_finish(bl_digest_job_t *j, bl_digest_t *d)
{
    if (j->running)
        pthread_join(j->th, NULL);
    j->running = 0;
    bl_digest_merge(d, &j->d);
}

void bl_digest_of_parallel(bl_digest_t *d, const bl_entry_t *e, size_t n, int threads)
{
    enum { MAXT = 16 };
    if (threads > MAXT)
        threads = MAXT;
    if (threads < 2 || n < 100000) {
        bl_digest_of(d, e, n);
        return;
    }
    bl_digest_job_t jobs[MAXT];
    size_t per = n / (size_t)threads;
    for (int t = 1; t < threads; t++) /* the calling thread takes part 0 */
        bl_digest_job_start(&jobs[t], e + per * (size_t)t, sizeof *e,
                            t == threads - 1 ? n - per * (size_t)t : per);
    bl_digest_of(d, e, per);
    for (int t = 1; t < threads; t++)
        bl_digest_job_finish(&jobs[t], d);
}

void bl_digest_to_bytes(const bl_digest_t *d, uint8_t out[BL_DIGEST_SIZE])
{
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++)
            out[i * 8 + j] = (uint8_t)(d->w[i] >> (8 * j));
}

void bl_digest_from_bytes(bl_digest_t *d, const uint8_t in[BL_DIGEST_SIZE])
{
    for (int i = 0; i < 4; i++) {
        uint64_t v = 0;
        for (int j = 7; j >= 0; j--)
            v = v << 8 | in[i * 8 + j];
        d->w[i] = v;
    }
}

int bl_digest_eq(const bl_digest_t *a, const bl_digest_t *b)
{
    return !memcmp(a->w, b->w, sizeof a->w);
}

char *bl_digest_hex(const bl_digest_t *d, char out[65])
{
    uint8_t b[32];
    bl_digest_to_bytes(d, b);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
    return out;
}
