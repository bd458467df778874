/* SPDX-License-Identifier: MIT */
/* Test tool: generates a signed snapshot, a chain of deltas, rbldnsd files and query lists. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "codec.h"
#include "err.h"
#include "key.h"
#include "obj.h"
#include "state.h"
#include "test.h"
#include "util.h"

/*
 * mirror_mkfeed --key PRIV --dir OUT --n N [--v6 N6] [--deltas K] [--changes M]
 *               [--seed S] [--feed NAME] [--lifetime SECONDS] [--queries NQ]
 *
 * Writes OUT/snapshot.obj (serial 1), OUT/delta-%06d.obj (serials 2..K+1,
 * each removing M/2 listed entries and adding M/2 new ones), OUT/set.ip4set
 * (the snapshot's IPv4 entries in rbldnsd ip4set syntax), OUT/queries.txt
 * (dnsperf format: half listed, half random addresses), OUT/final.txt
 * (listed and removed samples of the last state: "L addr a" / "U addr").
 */

static uint64_t rng;

static uint32_t rand_v4(void)
{
    for (;;) {
        uint32_t a = (uint32_t)bl_test_rand(&rng);
        uint8_t o = (uint8_t)(a >> 24);
        if (o == 0 || o == 10 || o == 127 || o >= 224)
            continue;
        return a;
    }
}

static int cmp_entry(const void *a, const void *b)
{
    return bl_prefix_cmp(&((const bl_entry_t *)a)->key, &((const bl_entry_t *)b)->key);
}
static int cmp_change(const void *a, const void *b)
{
    return bl_prefix_cmp(&((const bl_change_t *)a)->e.key, &((const bl_change_t *)b)->e.key);
}

static void mk_entry(bl_entry_t *e, int v6, int64_t now, int64_t life)
{
    memset(e, 0, sizeof *e);
    if (!v6) {
        bl_prefix_v4(&e->key, rand_v4(), 32);
    } else {
        e->key.af = BL_AF6;
        e->key.len = 64;
        e->key.addr[0] = 0x20;
        e->key.addr[1] = 0x01;
        e->key.addr[2] = 0x0d;
        e->key.addr[3] = 0xb8;
        uint64_t r = bl_test_rand(&rng);
        memcpy(e->key.addr + 4, &r, 4);
    }
    e->a = (uint8_t)(2 + bl_test_rand(&rng) % 4);
    e->reason = (uint16_t)(bl_test_rand(&rng) % 3);
    e->listed_at = now;
    e->expires_at = now + life;
}

static int write_obj(const char *path, bl_buf_t *b)
{
    int rc = bl_file_write_atomic(path, b->data, b->len, 0644);
    if (rc)
        fprintf(stderr, "mkfeed: %s: %s\n", path, bl_strerror(rc));
    return rc;
}

static void rev4(uint32_t a, char *out, size_t n)
{
    snprintf(out, n, "%u.%u.%u.%u", a & 255, (a >> 8) & 255, (a >> 16) & 255, a >> 24);
}

int main(int argc, char **argv)
{
    const char *keypath = NULL, *dir = NULL, *feed = "main";
    size_t n = 1000, n6 = 0, deltas = 0, changes = 100, nq = 0;
    int64_t life = 30 * 86400;
    rng = 42;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--key"))
            keypath = v;
        else if (!strcmp(a, "--dir"))
            dir = v;
        else if (!strcmp(a, "--n"))
            n = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--v6"))
            n6 = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--deltas"))
            deltas = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--changes"))
            changes = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--seed"))
            rng = strtoull(v, NULL, 10) | 1;
        else if (!strcmp(a, "--feed"))
            feed = v;
        else if (!strcmp(a, "--lifetime"))
            life = strtoll(v, NULL, 10);
        else if (!strcmp(a, "--queries"))
            nq = strtoull(v, NULL, 10);
        else {
            fprintf(stderr, "mkfeed: unknown argument %s\n", a);
            return 2;
        }
    }
    if (!keypath || !dir) {
        fprintf(stderr, "usage: mirror_mkfeed --key PRIV --dir OUT --n N [...]\n");
        return 2;
    }
    bl_key_t *key;
    int rc = bl_key_load(keypath, &key);
    if (rc) {
        fprintf(stderr, "mkfeed: %s: %s\n", keypath, bl_strerror(rc));
        return 1;
    }
    mkdir(dir, 0755);
    int64_t now_ms = bl_now_ms(), now = now_ms / 1000;
    /* unique sorted entries */
    size_t total = n + n6;
    bl_entry_t *e = malloc((total + 1) * sizeof *e);
    size_t m = 0;
    while (m < total) {
        size_t want = total - m;
        for (size_t i = 0; i < want; i++)
            mk_entry(&e[m + i], m + i >= n, now, life);
        m += want;
        qsort(e, m, sizeof *e, cmp_entry);
        size_t w = 0;
        for (size_t i = 0; i < m; i++)
            if (!w || !bl_prefix_eq(&e[w - 1].key, &e[i].key))
                e[w++] = e[i];
        m = w;
        if (m < total && m >= n) /* keep the v4/v6 split approximately */
            n = m > n6 ? m - n6 : m;
    }
    bl_state_t st;
    bl_state_init(&st, feed);
    rc = bl_state_apply_changes(&st, NULL, 0, NULL, 0);
    bl_change_t *add = malloc(m * sizeof *add);
    for (size_t i = 0; i < m; i++) {
        memset(&add[i], 0, sizeof add[i]);
        add[i].e = e[i];
        add[i].decided_ms = now_ms;
    }
    if ((rc = bl_state_apply_changes(&st, NULL, 0, add, m))) {
        fprintf(stderr, "mkfeed: %s\n", bl_strerror(rc));
        return 1;
    }
    free(add);
    bl_hdr_t h = {0};
    snprintf(h.feed, sizeof h.feed, "%s", feed);
    h.serial = 1;
    bl_digest_to_bytes(&st.digest, h.digest);
    h.created_ms = now_ms;
    h.expires_ms = now_ms + 7LL * 86400 * 1000;
    h.n_entries = st.n;
    bl_buf_t b;
    bl_buf_init(&b);
    char path[4096];
    if ((rc = bl_snapshot_write(&h, st.e, st.n, key, &b))) {
        fprintf(stderr, "mkfeed: snapshot: %s\n", bl_strerror(rc));
        return 1;
    }
    snprintf(path, sizeof path, "%s/snapshot.obj", dir);
    if (write_obj(path, &b))
        return 1;
    bl_buf_close(&b);
    st.serial = 1;

    /* rbldnsd ip4set of the snapshot's IPv4 entries, values like the feed's */
    snprintf(path, sizeof path, "%s/set.ip4set", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, ":127.0.0.2:Listed: $ (generated)\n");
    for (size_t i = 0; i < st.n; i++) {
        if (st.e[i].key.af != BL_AF4)
            continue;
        uint32_t a = bl_prefix_v4addr(&st.e[i].key);
        fprintf(f, "%u.%u.%u.%u :%u:Listed: $ (generated)\n", a >> 24, (a >> 16) & 255,
                (a >> 8) & 255, a & 255, st.e[i].a);
    }
    fclose(f);

    if (nq) {
        snprintf(path, sizeof path, "%s/queries.txt", dir);
        f = fopen(path, "w");
        for (size_t i = 0; i < nq; i++) {
            uint32_t a;
            if (i % 2 == 0) {
                const bl_entry_t *x;
                do
                    x = &st.e[bl_test_rand(&rng) % st.n];
                while (x->key.af != BL_AF4);
                a = bl_prefix_v4addr(&x->key);
            } else {
                a = rand_v4();
            }
            char r[32];
            rev4(a, r, sizeof r);
            fprintf(f, "%s.bl.example.org A\n", r);
        }
        fclose(f);
    }

    /* the delta chain: removals of listed entries, additions of new ones */
    bl_change_t *rem = malloc((changes + 1) * sizeof *rem);
    add = malloc((changes + 1) * sizeof *add);
    bl_prefix_t *removed = malloc((deltas * changes + 1) * sizeof *removed);
    size_t nremoved = 0;
    for (size_t d = 0; d < deltas; d++) {
        size_t nr = 0, na = 0;
        for (size_t i = 0; i < changes / 2 && st.n > nr; i++) {
            const bl_entry_t *x = &st.e[bl_test_rand(&rng) % st.n];
            int dup = 0;
            for (size_t k = 0; k < nr && !dup; k++)
                dup = bl_prefix_eq(&rem[k].e.key, &x->key);
            if (dup)
                continue;
            memset(&rem[nr], 0, sizeof rem[nr]);
            rem[nr].e = *x;
            rem[nr++].decided_ms = now_ms;
        }
        while (na < changes - changes / 2) {
            memset(&add[na], 0, sizeof add[na]);
            mk_entry(&add[na].e, bl_test_rand(&rng) % 8 == 0, now, life);
            if (bl_state_find(&st, &add[na].e.key) >= 0)
                continue;
            int dup = 0;
            for (size_t k = 0; k < na && !dup; k++)
                dup = bl_prefix_eq(&add[k].e.key, &add[na].e.key);
            if (dup)
                continue;
            add[na++].decided_ms = now_ms;
        }
        qsort(rem, nr, sizeof *rem, cmp_change);
        qsort(add, na, sizeof *add, cmp_change);
        bl_hdr_t dh = {0};
        snprintf(dh.feed, sizeof dh.feed, "%s", feed);
        dh.base_serial = st.serial;
        bl_digest_to_bytes(&st.digest, dh.base_digest);
        if ((rc = bl_state_apply_changes(&st, rem, nr, add, na))) {
            fprintf(stderr, "mkfeed: delta: %s\n", bl_strerror(rc));
            return 1;
        }
        for (size_t k = 0; k < nr; k++)
            removed[nremoved++] = rem[k].e.key;
        st.serial = dh.base_serial + 1;
        dh.serial = st.serial;
        bl_digest_to_bytes(&st.digest, dh.digest);
        dh.created_ms = now_ms;
        dh.expires_ms = now_ms + 7LL * 86400 * 1000;
        dh.n_entries = st.n;
        bl_buf_init(&b);
        if ((rc = bl_delta_write(&dh, rem, nr, add, na, key, &b))) {
            fprintf(stderr, "mkfeed: delta: %s\n", bl_strerror(rc));
            return 1;
        }
        snprintf(path, sizeof path, "%s/delta-%06zu.obj", dir, d + 1);
        if (write_obj(path, &b))
            return 1;
        bl_buf_close(&b);
    }

    /* samples of the final state */
    snprintf(path, sizeof path, "%s/final.txt", dir);
    f = fopen(path, "w");
    for (int i = 0; i < 200 && st.n; i++) {
        const bl_entry_t *x = &st.e[bl_test_rand(&rng) % st.n];
        char buf[BL_PREFIX_STRLEN];
        fprintf(f, "L %s %u\n", bl_addr_format(&x->key, buf, sizeof buf), x->a);
    }
    for (size_t i = 0; i < nremoved && i < 200; i++) {
        if (bl_state_find(&st, &removed[i]) >= 0)
            continue;
        char buf[BL_PREFIX_STRLEN];
        fprintf(f, "U %s\n", bl_addr_format(&removed[i], buf, sizeof buf));
    }
    fclose(f);
    printf("entries=%zu serial=%" PRIu64 " deltas=%zu\n", st.n, st.serial, deltas);
    bl_state_close(&st);
    bl_key_free(key);
    free(e);
    free(rem);
    free(add);
    free(removed);
    return 0;
}
