/* SPDX-License-Identifier: MIT */
/* Fuzz target: decode one raw (decompressed) payload block. */
#include <stdint.h>
#include <stdlib.h>

#include "proto/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const bl_limits_t lim = {.max_payload = 1 << 20,
                                    .max_raw = 8 << 20,
                                    .max_entries = 1 << 20,
                                    .max_block_raw = 4 << 20};
    bl_change_t *rem, *add;
    size_t nrem, nadd;
    if (bl_block_decode(data, size, 1795000000000LL, &lim, &rem, &nrem, &add, &nadd) == 0) {
        /* Whatever decodes must re-encode to the same bytes: one encoding per content. */
        bl_buf_t b;
        bl_buf_init(&b);
        if (bl_block_encode(rem, nrem, add, nadd, 1795000000000LL, &b) != 0)
            abort();
        bl_buf_close(&b);
        free(rem);
        free(add);
    }
    return 0;
}
