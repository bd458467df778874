/* SPDX-License-Identifier: MIT */
/* The fixed signing key of the object fuzz target, so seeds verify and the fuzzer goes deep. */
#ifndef BL_FUZZ_KEY_H
#define BL_FUZZ_KEY_H

#include <openssl/evp.h>
#include <stdlib.h>

#include "proto/key.h"

static const unsigned char bl_fuzz_seed[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                               12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                               23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

/* The public half of the fixed fuzzing key. */
static inline bl_key_t *bl_fuzz_pubkey(void)
{
    EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, bl_fuzz_seed, 32);
    unsigned char raw[32];
    size_t len = sizeof raw;
    EVP_PKEY_get_raw_public_key(pk, raw, &len);
    EVP_PKEY_free(pk);
    bl_key_t *k = NULL;
    if (bl_key_from_raw(raw, &k))
        abort();
    return k;
}

#endif
