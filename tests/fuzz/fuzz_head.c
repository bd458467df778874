/* SPDX-License-Identifier: MIT */
/* Fuzz target: open an untrusted head and route every kind of mirror through it. */
#include <stdint.h>
#include <string.h>

#include "fuzz_key.h"
#include "proto/head.h"

static void routes(const bl_head_t *h)
{
    static size_t idx[BL_HEAD_MAX_REC];
    size_t n;
    uint8_t d[BL_DIGEST_SIZE] = {0};
    for (size_t i = 0; i < h->n && i < 64; i++) {
        bl_head_rec_t r;
        char name[BL_HEAD_NAME];
        bl_head_rec(h, i, &r);
        bl_head_rec_name(&r, name);
        bl_head_route(h, r.base_serial, r.base_digest, 0, idx, &n);
        bl_head_route(h, r.serial, d, 0, idx, &n);
    }
    bl_head_route(h, 0, d, 0, idx, &n);
    bl_head_route(h, h->hdr.serial, h->hdr.digest, 1, idx, &n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bl_keyring_t *ring;
    if (!ring) {
        ring = bl_keyring_new();
        bl_keyring_add(ring, bl_fuzz_pubkey());
    }
    bl_head_t h;
    if (bl_head_open(data, size, ring, &h, NULL) == 0) {
        routes(&h);
        return 0;
    }
    /* The signature rarely survives mutation: route over the raw records too. */
    bl_rd_t rd;
    bl_rd_init(&rd, data, size);
    if (bl_hdr_decode(&rd, &h.hdr) || size < BL_OBJ_PREFIX)
        return 0;
    h.n = (size - BL_OBJ_PREFIX) / BL_HEAD_REC;
    h.recs = data + BL_OBJ_PREFIX;
    routes(&h);
    return 0;
}
