/* SPDX-License-Identifier: MIT */
/* A tiny test harness: asserts print both sides and abort the test binary. */
#ifndef BL_TEST_H
#define BL_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BL_FAIL(...)                                                                               \
    do {                                                                                           \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                            \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        abort();                                                                                   \
    } while (0)
#define ASSERT(c)                                                                                  \
    do {                                                                                           \
        if (!(c))                                                                                  \
            BL_FAIL("assertion failed: %s", #c);                                                   \
    } while (0)
#define ASSERT_EQ(a, b)                                                                            \
    do {                                                                                           \
        long long _a = (long long)(a), _b = (long long)(b);                                        \
        if (_a != _b)                                                                              \
            BL_FAIL("%s == %s: %lld != %lld", #a, #b, _a, _b);                                     \
    } while (0)
#define ASSERT_STREQ(a, b)                                                                         \
    do {                                                                                           \
        const char *_a = (a), *_b = (b);                                                           \
        if (!_a || !_b || strcmp(_a, _b) != 0)                                                     \
            BL_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, _a ? _a : "(null)", _b ? _b : "(null)"); \
    } while (0)
#define ASSERT_MEMEQ(a, b, n) ASSERT(memcmp((a), (b), (n)) == 0)

/* Runs one named test function and prints its name. */
#define RUN(fn)                                                                                    \
    do {                                                                                           \
        fprintf(stderr, "test %s ... ", #fn);                                                      \
        fn();                                                                                      \
        fprintf(stderr, "ok\n");                                                                   \
    } while (0)

/* xorshift64* for reproducible property tests. */
static inline uint64_t bl_test_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

#endif
