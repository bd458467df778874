/* SPDX-License-Identifier: MIT */
/* Reference state: sorted entries with the rules a mirror enforces on apply. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "grow.h"
#include "state.h"

void bl_state_init(bl_state_t *s, const char *feed)
{
    memset(s, 0, sizeof *s);
    snprintf(s->feed, sizeof s->feed, "%s", feed ? feed : "");
}

void bl_state_close(bl_state_t *s)
{
    free(s->e);
    s->e = NULL;
    s->n = s->cap = 0;
}

ptrdiff_t bl_state_find(const bl_state_t *s, const bl_prefix_t *key)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = bl_prefix_cmp(&s->e[mid].key, key);
        if (c == 0)
            return (ptrdiff_t)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* Merges sorted removals then additions into a new array; updates digest.
 * On error nothing in s changes. */
static int merge(bl_state_t *s, const bl_change_t *rem, size_t nrem, const bl_change_t *add,
                 size_t nadd, bl_digest_t *dg)
{
    for (size_t i = 0; i < nrem; i++)
        if (bl_state_find(s, &rem[i].e.key) < 0)
            return BL_EABSENT;
    size_t cap = s->n + nadd;
    bl_entry_t *out = malloc((cap ? cap : 1) * sizeof *out);
    if (!out)
        return BL_ENOMEM;
    size_t i = 0, r = 0, a = 0, o = 0;
    while (i < s->n || a < nadd) {
        int c;
        if (i == s->n)
            c = 1;
        else if (a == nadd)
            c = -1;
        else
            c = bl_prefix_cmp(&s->e[i].key, &add[a].e.key);
        if (c <= 0) {
            /* existing entry: dropped if removed or replaced */
            int removed = r < nrem && bl_prefix_eq(&rem[r].e.key, &s->e[i].key);
            if (removed)
                r++;
            if (removed || c == 0)
                bl_digest_sub(dg, &s->e[i]);
            else
                out[o++] = s->e[i];
            i++;
            if (c < 0)
                continue;
        }
        out[o++] = add[a].e;
        bl_digest_add(dg, &add[a].e);
        a++;
    }
    free(s->e);
    s->e = out;
    s->n = o;
    s->cap = cap;
    return 0;
}

int bl_state_apply_changes(bl_state_t *s, const bl_change_t *rem, size_t nrem,
                           const bl_change_t *add, size_t nadd)
{
    return merge(s, rem, nrem, add, nadd, &s->digest);
}

int bl_state_apply_delta(bl_state_t *s, const bl_obj_t *obj, const bl_limits_t *lim)
{
    const bl_hdr_t *h = &obj->hdr;
    if (h->type != BL_OBJ_DELTA)
        return BL_ETYPE;
    if (strcmp(h->feed, s->feed))
        return BL_EFEED;
    uint8_t cur[BL_DIGEST_SIZE];
    bl_digest_to_bytes(&s->digest, cur);
    if (h->serial == s->serial)
        return memcmp(h->digest, cur, BL_DIGEST_SIZE) ? BL_EFORK : BL_EROLLBACK;
    if (h->serial < s->serial)
        return BL_EROLLBACK;
    if (h->base_serial != s->serial)
        return BL_EBASESERIAL;
    if (memcmp(h->base_digest, cur, BL_DIGEST_SIZE))
        return BL_EBASEDIGEST;
    bl_change_t *rem = NULL, *add = NULL;
    size_t nrem = 0, nadd = 0;
    int rc = bl_obj_collect(obj, lim, &rem, &nrem, &add, &nadd);
    if (!rc) {
        bl_state_t next = *s;
        next.e = NULL;
        next.n = next.cap = 0;
        /* Apply on a copy so that a failed digest check leaves s as it was. */
        bl_entry_t *copy = malloc((s->n ? s->n : 1) * sizeof *copy);
        if (!copy) {
            rc = BL_ENOMEM;
        } else {
            if (s->n)
                memcpy(copy, s->e, s->n * sizeof *copy);
            next.e = copy;
            next.n = next.cap = s->n;
            rc = merge(&next, rem, nrem, add, nadd, &next.digest);
            uint8_t after[BL_DIGEST_SIZE];
            bl_digest_to_bytes(&next.digest, after);
            if (!rc && memcmp(after, h->digest, BL_DIGEST_SIZE))
                rc = BL_EDIGEST;
            if (!rc && next.n != h->n_entries)
                rc = BL_ECOUNT;
            if (rc) {
                free(next.e);
            } else {
                next.serial = h->serial;
                free(s->e);
                *s = next;
            }
        }
    }
    free(rem);
    free(add);
    return rc;
}

typedef struct {
    bl_state_t *s;
    bl_digest_t dg;
} snapload_t;

static int snap_block(void *ctx, const bl_change_t *rem, size_t nrem, const bl_change_t *add,
                      size_t nadd)
{
    snapload_t *l = ctx;
    (void)rem;
    if (nrem)
        return BL_EFIELD;
    bl_state_t *s = l->s;
    bl_entry_t *ne = bl_grow(s->e, &s->cap, s->n + nadd, sizeof *s->e);
    if (!ne)
        return BL_ENOMEM;
    s->e = ne;
    for (size_t i = 0; i < nadd; i++)
        s->e[s->n++] = add[i].e;
    return 0;
}

int bl_state_load_snapshot(bl_state_t *s, const bl_obj_t *obj, const bl_limits_t *lim)
{
    const bl_hdr_t *h = &obj->hdr;
    if (h->type != BL_OBJ_SNAPSHOT)
        return BL_ETYPE;
    if (s->feed[0] && strcmp(h->feed, s->feed))
        return BL_EFEED;
    uint8_t cur[BL_DIGEST_SIZE];
    bl_digest_to_bytes(&s->digest, cur);
    if (h->serial < s->serial)
        return BL_EROLLBACK;
    if (h->serial == s->serial && s->serial && memcmp(h->digest, cur, BL_DIGEST_SIZE))
        return BL_EFORK;
    if (h->n_added != h->n_entries)
        return BL_ECOUNT;
    bl_state_t next;
    bl_state_init(&next, h->feed);
    /* Reserve the declared count up front when the payload could hold it
     * (every entry costs at least one raw byte), saving the regrowth copies. */
    if (h->n_entries && h->n_entries <= h->raw_len) {
        next.e = malloc((size_t)h->n_entries * sizeof *next.e);
        next.cap = next.e ? (size_t)h->n_entries : 0;
    }
    snapload_t l = {&next, {{0}}};
    bl_sink_t sink = {&l, snap_block};
    int rc = bl_obj_decode(obj, lim, &sink, NULL);
    if (!rc)
        bl_digest_of_parallel(&l.dg, next.e, next.n, 2);
    uint8_t after[BL_DIGEST_SIZE];
    bl_digest_to_bytes(&l.dg, after);
    if (!rc && memcmp(after, h->digest, BL_DIGEST_SIZE))
        rc = BL_EDIGEST;
    if (rc) {
        bl_state_close(&next);
        return rc;
    }
    next.serial = h->serial;
    next.digest = l.dg;
    bl_state_close(s);
    *s = next;
    return 0;
}
