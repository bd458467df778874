/* SPDX-License-Identifier: MIT */
/* Delta and snapshot payloads: sorted, column-coded, zstd-compressed blocks. */
#ifndef BL_CODEC_H
#define BL_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "entry.h"
#include "obj.h"
#include "rd.h"

#define BL_SNAP_BLOCK 65536 /* entries per snapshot block */

/* Writes a signed delta. h supplies feed, serials, digests, times and
 * n_entries; counts and payload fields are filled in. rem and add must each
 * be strictly sorted by key (BL_EORDER / BL_EDUP otherwise). The object
 * (header, signature, payload) is appended to out. */
int bl_delta_write(bl_hdr_t *h, const bl_change_t *rem, size_t nrem, const bl_change_t *add,
                   size_t nadd, const bl_key_t *key, bl_buf_t *out);

/* Writes a signed snapshot of n strictly sorted entries in blocks of
 * BL_SNAP_BLOCK. h->base_serial and base_digest should be zero. */
int bl_snapshot_write(bl_hdr_t *h, const bl_entry_t *e, size_t n, const bl_key_t *key,
                      bl_buf_t *out);

/* Receives decoded records block by block, in key order. Arrays are valid
 * only during the call. A non-zero return stops decoding and is returned. */
typedef struct {
    void *ctx;
    int (*block)(void *ctx, const bl_change_t *rem, size_t nrem, const bl_change_t *add,
                 size_t nadd);
} bl_sink_t;

/* Decodes the payload of an opened object (bl_obj_open) and feeds sink.
 * Checks every bound before allocating, refuses decompression bombs
 * (BL_EBOMB), records out of order (BL_EORDER), duplicates (BL_EDUP), blocks
 * out of order, counts that differ from the header (BL_ECOUNT), invalid
 * fields (BL_EFIELD, BL_EPREFIX, BL_EHOSTBITS). *err_off, if not NULL, gets
 * the payload offset of the failing block. */
int bl_obj_decode(const bl_obj_t *obj, const bl_limits_t *lim, const bl_sink_t *sink,
                  size_t *err_off);

/* Decodes a whole object into two arrays of changes (caller frees both, also
 * on error), for applying a delta all or nothing. */
int bl_obj_collect(const bl_obj_t *obj, const bl_limits_t *lim, bl_change_t **rem, size_t *nrem,
                   bl_change_t **add, size_t *nadd);

/* Encodes/decodes one raw (uncompressed) block: exposed for tests and fuzzing.
 * bl_block_decode allocates the arrays (caller frees *rem and *add). */
int bl_block_encode(const bl_change_t *rem, size_t nrem, const bl_change_t *add, size_t nadd,
                    int64_t base_ms, bl_buf_t *out);
int bl_block_decode(const uint8_t *raw, size_t len, int64_t base_ms, const bl_limits_t *lim,
                    bl_change_t **rem, size_t *nrem, bl_change_t **add, size_t *nadd);

#endif
