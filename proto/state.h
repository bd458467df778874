/* SPDX-License-Identifier: MIT */
/* A reference state: sorted entries, serial and digest, with the mirror's apply rules. */
#ifndef BL_STATE_H
#define BL_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "digest.h"
#include "entry.h"

/* The state of one feed: what a mirror holds. Entries are kept sorted in one
 * array; applying a delta merges into a new array (O(n + changes)) while the
 * digest is updated in O(changes). Used by tools, tests and the master's
 * publisher; the mirror's query index is built from the same records. */
typedef struct {
    char feed[BL_FEED_MAX + 1];
    uint64_t serial;
    bl_digest_t digest;
    bl_entry_t *e;
    size_t n;
    size_t cap;
} bl_state_t;

void bl_state_init(bl_state_t *s, const char *feed);
void bl_state_close(bl_state_t *s);
/* Index of key, or -1. */
ptrdiff_t bl_state_find(const bl_state_t *s, const bl_prefix_t *key);

/* Applies a verified delta object (bl_obj_open) with every mirror rule:
 * feed (BL_EFEED), rollback (BL_EROLLBACK), fork (BL_EFORK), base serial
 * (BL_EBASESERIAL), base digest (BL_EBASEDIGEST), absent removal key
 * (BL_EABSENT), digest after apply (BL_EDIGEST). On any error s is unchanged. */
int bl_state_apply_delta(bl_state_t *s, const bl_obj_t *obj, const bl_limits_t *lim);
/* Replaces s with a verified snapshot (checks feed, rollback, digest, count). */
int bl_state_load_snapshot(bl_state_t *s, const bl_obj_t *obj, const bl_limits_t *lim);
/* Applies already-decoded sorted changes (no checks beyond BL_EABSENT). */
int bl_state_apply_changes(bl_state_t *s, const bl_change_t *rem, size_t nrem,
                           const bl_change_t *add, size_t nadd);

#endif
