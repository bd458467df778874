/* SPDX-License-Identifier: MIT */
/* Fuzz target: open, decode and apply an untrusted object (header, signature, payload). */
#include <stdint.h>
#include <string.h>

#include "fuzz_key.h"
#include "proto/codec.h"
#include "proto/obj.h"
#include "proto/state.h"

static const bl_limits_t lim = {
    .max_payload = 1 << 20, .max_raw = 8 << 20, .max_entries = 1 << 20, .max_block_raw = 4 << 20};

static int sink_block(void *ctx, const bl_change_t *rem, size_t nrem, const bl_change_t *add,
                      size_t nadd)
{
    (void)ctx, (void)rem, (void)add, (void)nrem, (void)nadd;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bl_keyring_t *ring;
    if (!ring) {
        ring = bl_keyring_new();
        bl_keyring_add(ring, bl_fuzz_pubkey());
    }
    bl_obj_t obj;
    if (bl_obj_open(data, size, ring, &lim, &obj, NULL) == 0) {
        bl_obj_decode(&obj, &lim, &(bl_sink_t){NULL, sink_block}, NULL);
        bl_state_t st;
        bl_state_init(&st, obj.hdr.feed);
        if (obj.hdr.type == BL_OBJ_SNAPSHOT)
            bl_state_load_snapshot(&st, &obj, &lim);
        else if (obj.hdr.type == BL_OBJ_DELTA)
            bl_state_apply_delta(&st, &obj, &lim);
        bl_state_close(&st);
        return 0;
    }
    /* The signature rarely survives mutation: decode the payload under an
     * unchecked header too, so the block parser is reached from whole objects. */
    bl_rd_t rd;
    bl_rd_init(&rd, data, size);
    if (bl_hdr_decode(&rd, &obj.hdr) || size < BL_OBJ_PREFIX)
        return 0;
    if (obj.hdr.raw_len > lim.max_raw || obj.hdr.n_added > lim.max_entries ||
        obj.hdr.n_removed > lim.max_entries)
        return 0;
    obj.payload = data + BL_OBJ_PREFIX;
    obj.payload_len = size - BL_OBJ_PREFIX;
    bl_obj_decode(&obj, &lim, &(bl_sink_t){NULL, sink_block}, NULL);
    return 0;
}
