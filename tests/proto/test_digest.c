/* SPDX-License-Identifier: MIT */
/* Property test: the incremental digest equals a full recomputation after random deltas. */
#include <openssl/evp.h>

#include "common.h"

static void one_seed(uint64_t seed, bl_key_t *k, bl_keyring_t *ring)
{
    bl_state_t st;
    bl_state_init(&st, "main");
    bl_buf_t buf;
    bl_buf_init(&buf);
    for (int step = 0; step < 12; step++) {
        /* Remove a random subset of present keys, add/replace random entries. */
        size_t nadd = bl_test_rand(&seed) % 200, nrem = 0;
        bl_change_t *rem = calloc(st.n + 1, sizeof *rem), *add = calloc(nadd + 1, sizeof *add);
        for (size_t i = 0; i < st.n; i++)
            if (bl_test_rand(&seed) % 4 == 0)
                rem[nrem++].e.key = st.e[i].key;
        for (size_t i = 0; i < nadd; i++) {
            if (st.n && bl_test_rand(&seed) % 3 == 0) { /* replacement of a present key */
                add[i].e = st.e[bl_test_rand(&seed) % st.n];
                add[i].e.expires_at += 3600;
            } else {
                test_rand_entry(&seed, &add[i].e, 25, 25);
            }
        }
        nadd = test_sort_unique(add, nadd);
        bl_hdr_t h;
        test_hdr_for(&h, &st, st.serial + 1 + bl_test_rand(&seed) % 3);
        /* The expected result, computed the slow way. */
        bl_state_t want;
        bl_state_init(&want, "main");
        want.e = malloc((st.n + 1) * sizeof *want.e);
        if (st.n)
            memcpy(want.e, st.e, st.n * sizeof *want.e);
        want.n = want.cap = st.n;
        ASSERT_EQ(bl_state_apply_changes(&want, rem, nrem, add, nadd), 0);
        bl_digest_t full;
        bl_digest_of(&full, want.e, want.n);
        bl_digest_to_bytes(&full, h.digest);
        h.n_entries = want.n;
        buf.len = 0;
        ASSERT_EQ(bl_delta_write(&h, rem, nrem, add, nadd, k, &buf), 0);
        bl_obj_t obj;
        ASSERT_EQ(bl_obj_open(buf.data, buf.len, ring, NULL, &obj, NULL), 0);
        /* The incremental apply verifies the signed full-recompute digest. */
        int rc = bl_state_apply_delta(&st, &obj, NULL);
        if (rc)
            BL_FAIL("seed %llu step %d: %s", (unsigned long long)seed, step, bl_strerror(rc));
        bl_digest_of(&full, st.e, st.n);
        ASSERT(bl_digest_eq(&full, &st.digest));
        ASSERT_EQ(st.n, want.n);
        bl_state_close(&want);
        free(rem);
        free(add);
    }
    bl_buf_close(&buf);
    bl_state_close(&st);
}

static void test_incremental_equals_full(void)
{
    bl_key_t *k = test_key();
    bl_keyring_t *ring = test_ring(k);
    for (uint64_t seed = 1; seed <= 200; seed++)
        one_seed(seed * 0x9e3779b97f4a7c15ULL, k, ring);
    bl_keyring_free(ring);
    bl_key_free(k);
}

/* Order independence: the digest of a set does not depend on insertion order. */
static void test_commutative(void)
{
    uint64_t seed = 99;
    bl_entry_t e[64];
    for (int i = 0; i < 64; i++)
        test_rand_entry(&seed, &e[i], 50, 50);
    bl_digest_t a, b;
    bl_digest_of(&a, e, 64);
    bl_digest_zero(&b);
    for (int i = 63; i >= 0; i--)
        bl_digest_add(&b, &e[i]);
    ASSERT(bl_digest_eq(&a, &b));
    /* Removing what was added returns to the start; any field change moves it. */
    bl_digest_sub(&b, &e[5]);
    ASSERT(!bl_digest_eq(&a, &b));
    bl_digest_add(&b, &e[5]);
    ASSERT(bl_digest_eq(&a, &b));
    for (int f = 0; f < 4; f++) {
        bl_entry_t x = e[0];
        if (f == 0)
            x.a++;
        if (f == 1)
            x.reason++;
        if (f == 2)
            x.expires_at++;
        if (f == 3)
            x.listed_at--;
        bl_digest_t c = a;
        bl_digest_sub(&c, &e[0]);
        bl_digest_add(&c, &x);
        ASSERT(!bl_digest_eq(&a, &c));
    }
    bl_digest_t z;
    bl_digest_zero(&z);
    for (int i = 0; i < 64; i++)
        bl_digest_sub(&a, &e[i]);
    ASSERT(bl_digest_eq(&a, &z));
}

/* The digest of one entry is SHA-256 of its canonical bytes (whatever code path computes it). */
static void test_matches_openssl(void)
{
    uint64_t seed = 5;
    for (int i = 0; i < 2000; i++) {
        bl_entry_t e;
        test_rand_entry(&seed, &e, 50, 50);
        uint8_t canon[BL_ENTRY_CANON_SIZE], md[32], got[32];
        bl_entry_canon(&e, canon);
        EVP_Digest(canon, sizeof canon, md, NULL, EVP_sha256(), NULL);
        bl_digest_t d;
        bl_digest_of(&d, &e, 1);
        bl_digest_to_bytes(&d, got);
        ASSERT_MEMEQ(got, md, 32);
    }
}

/* Spread over threads (a snapshot load), the digest is the same: every
 * thread count, a count that does not divide n, and a helper job over
 * entries held inside bigger structs (stride). */
static void test_parallel_and_jobs(void)
{
    enum { N = 250001 };
    bl_entry_t *e = malloc(N * sizeof *e);
    struct wrap {
        uint64_t before;
        bl_entry_t e;
        uint32_t after;
    } *w = malloc(N * sizeof *w);
    ASSERT(e && w);
    uint64_t seed = 7;
    for (size_t i = 0; i < N; i++) {
        test_rand_entry(&seed, &e[i], 50, 50);
        w[i].e = e[i];
    }
    bl_digest_t full, d;
    bl_digest_of(&full, e, N);
    for (int t = 1; t <= 5; t++) {
        bl_digest_of_parallel(&d, e, N, t);
        if (!bl_digest_eq(&d, &full))
            BL_FAIL("bl_digest_of_parallel with %d threads differs", t);
    }
    bl_digest_job_t job;
    bl_digest_job_start(&job, &w[0].e, sizeof w[0], N / 3);
    bl_digest_of(&d, e + N / 3, N - N / 3);
    bl_digest_job_finish(&job, &d);
    ASSERT(bl_digest_eq(&d, &full));
    free(e);
    free(w);
}

int main(void)
{
    RUN(test_matches_openssl);
    RUN(test_incremental_equals_full);
    RUN(test_commutative);
    RUN(test_parallel_and_jobs);
    return 0;
}
