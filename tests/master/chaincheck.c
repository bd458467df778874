/* SPDX-License-Identifier: MIT */
/* master_chaincheck: checks a master's spool against its store (serials, signatures, rebuilt
 * state). */
#include <dirent.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "key.h"
#include "obj.h"
#include "state.h"
#include "store.h"
#include "util.h"

/* Usage: master_chaincheck DB SPOOLDIR PUBKEY [ACKED_IDS_FILE]
 * - every delta and snapshot file in SPOOLDIR verifies with PUBKEY and is recorded in the store;
 * - delta serials are contiguous (no gap, no repeat) up to the last serial;
 * - from the first snapshot (or the empty state when delta 1 is kept) the
 *   deltas rebuild a state equal, entry for entry, to the store's listings,
 *   and every snapshot equals the rebuilt state at its serial;
 * - every evidence id in ACKED_IDS_FILE is a stored report. */

static int fails;
#define CHECK(c, ...)                                                                              \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "chaincheck: " __VA_ARGS__);                                           \
            fprintf(stderr, "\n");                                                                 \
            fails++;                                                                               \
        }                                                                                          \
    } while (0)

static int open_file(const char *path, const bl_keyring_t *ring, uint8_t **buf, bl_obj_t *obj)
{
    size_t len;
    *buf = NULL;
    int rc = bl_file_read(path, 1u << 30, buf, &len);
    if (rc)
        return rc;
    rc = bl_obj_open(*buf, len, ring, NULL, obj, NULL);
    if (rc) {
        free(*buf);
        *buf = NULL;
    }
    return rc;
}

typedef struct {
    const bl_state_t *st;
    size_t i;
    int mismatch;
} cmp_t;

static int cmp_one(void *arg, const master_listing_t *l)
{
    cmp_t *c = arg;
    if (c->i >= c->st->n) {
        c->mismatch++;
        return 0;
    }
    const bl_entry_t *e = &c->st->e[c->i++];
    if (!bl_prefix_eq(&e->key, &l->e.key) || e->a != l->e.a || e->reason != l->e.reason ||
        e->listed_at != l->e.listed_at || e->expires_at != l->e.expires_at) {
        char a[BL_PREFIX_STRLEN], b[BL_PREFIX_STRLEN];
        if (c->mismatch < 5)
            fprintf(stderr, "chaincheck: entry %zu: spool %s exp=%lld, store %s exp=%lld\n",
                    c->i - 1, bl_prefix_format(&e->key, a, sizeof a), (long long)e->expires_at,
                    bl_prefix_format(&l->e.key, b, sizeof b), (long long)l->e.expires_at);
        c->mismatch++;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: master_chaincheck DB SPOOLDIR PUBKEY [ACKED_IDS]\n");
        return 2;
    }
    bl_keyring_t *ring = bl_keyring_new();
    if (bl_keyring_add_file(ring, argv[3])) {
        fprintf(stderr, "chaincheck: cannot load %s\n", argv[3]);
        return 2;
    }
    master_store_t *s;
    int rc = master_store_open(argv[1], "main", 0, &s);
    if (rc) {
        fprintf(stderr, "chaincheck: store: %s\n", bl_strerror(rc));
        return 2;
    }
    master_object_t *o;
    size_t n;
    uint64_t last;
    uint8_t last_digest[BL_DIGEST_SIZE];
    if (master_store_objects(s, &o, &n) || master_store_last_serial(s, &last, last_digest)) {
        fprintf(stderr, "chaincheck: cannot read objects\n");
        return 2;
    }
    CHECK(master_store_pending_count(s) == 0, "pending changes remain: publish did not finish");

    /* Every spool file is a recorded, verifying object. */
    DIR *d = opendir(argv[2]);
    CHECK(d, "cannot open %s", argv[2]);
    struct dirent *de;
    size_t files = 0;
    while (d && (de = readdir(d))) {
        size_t nl = strlen(de->d_name);
        if (de->d_name[0] == '.' || !((nl > 6 && !strcmp(de->d_name + nl - 6, ".delta")) ||
                                      (nl > 5 && !strcmp(de->d_name + nl - 5, ".snap"))))
            continue; /* the quarantine and merged directories, key certificates */
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[2], de->d_name);
        files++;
        int rec = 0;
        for (size_t i = 0; i < n; i++)
            rec |= !strcmp(strrchr(o[i].path, '/') + 1, de->d_name);
        CHECK(rec, "%s: in the spool but not recorded in the store", path);
        uint8_t *buf;
        bl_obj_t obj;
        rc = open_file(path, ring, &buf, &obj);
        CHECK(rc == 0, "%s: does not verify: %s", path, bl_strerror(rc));
        free(buf);
    }
    if (d)
        closedir(d);
    CHECK(files == n, "spool holds %zu files, store records %zu objects", files, n);

    /* Serials: contiguous deltas ending at the last serial. */
    uint64_t first_delta = 0, prev = 0, ndelta = 0;
    for (size_t i = 0; i < n; i++) {
        if (o[i].type != BL_OBJ_DELTA)
            continue;
        if (ndelta)
            CHECK(o[i].serial == prev + 1, "serial gap or repeat: %" PRIu64 " after %" PRIu64,
                  o[i].serial, prev);
        else
            first_delta = o[i].serial;
        CHECK(o[i].base_serial + 1 == o[i].serial, "delta %" PRIu64 " has base %" PRIu64,
              o[i].serial, o[i].base_serial);
        prev = o[i].serial;
        ndelta++;
    }
    /* A feed's first serial is its empty snapshot: no delta ends there. */
    int snap_at_last = 0;
    for (size_t i = 0; i < n; i++)
        snap_at_last |= o[i].type == BL_OBJ_SNAPSHOT && o[i].serial == last;
    if (last)
        CHECK((ndelta && prev == last) || (!ndelta && snap_at_last),
              "last delta %" PRIu64 " != last serial %" PRIu64, prev, last);

    /* Rebuild. */
    bl_state_t st;
    bl_state_init(&st, "main");
    size_t start = 0;
    int started = first_delta == 1 || last == 0;
    if (!started) {
        for (size_t i = 0; i < n && !started; i++) {
            if (o[i].type != BL_OBJ_SNAPSHOT || (ndelta && o[i].serial + 1 < first_delta))
                continue;
            uint8_t *buf;
            bl_obj_t obj;
            rc = open_file(o[i].path, ring, &buf, &obj);
            if (!rc)
                rc = bl_state_load_snapshot(&st, &obj, NULL);
            free(buf);
            CHECK(rc == 0, "snapshot %" PRIu64 ": %s", o[i].serial, bl_strerror(rc));
            started = rc == 0;
            start = i + 1;
        }
    }
    CHECK(started, "no starting point: neither serial 1 nor a snapshot before the deltas");
    size_t applied = 0, snaps = 0;
    for (size_t i = start; started && i < n; i++) {
        uint8_t *buf;
        bl_obj_t obj;
        if (o[i].serial <= st.serial && o[i].type == BL_OBJ_DELTA)
            continue;
        rc = open_file(o[i].path, ring, &buf, &obj);
        if (rc) {
            CHECK(0, "%s: %s", o[i].path, bl_strerror(rc));
            continue;
        }
        if (o[i].type == BL_OBJ_DELTA) {
            rc = bl_state_apply_delta(&st, &obj, NULL);
            CHECK(rc == 0, "delta %" PRIu64 " does not apply: %s", o[i].serial, bl_strerror(rc));
            applied += rc == 0;
        } else {
            bl_state_t sn;
            bl_state_init(&sn, "main");
            rc = bl_state_load_snapshot(&sn, &obj, NULL);
            CHECK(rc == 0 && sn.serial == st.serial && bl_digest_eq(&sn.digest, &st.digest) &&
                      sn.n == st.n,
                  "snapshot %" PRIu64 " differs from the rebuilt state (%s)", o[i].serial,
                  bl_strerror(rc));
            bl_state_close(&sn);
            snaps++;
        }
        free(buf);
    }
    CHECK(st.serial == last, "rebuilt serial %" PRIu64 " != last serial %" PRIu64, st.serial, last);
    bl_digest_t ld;
    bl_digest_from_bytes(&ld, last_digest);
    CHECK(bl_digest_eq(&ld, &st.digest), "rebuilt digest differs from the last published digest");
    bl_digest_t full;
    uint64_t cnt;
    rc = master_store_digest_full(s, &full, &cnt);
    CHECK(rc == 0 && bl_digest_eq(&full, &st.digest) && cnt == st.n,
          "store listings (%" PRIu64 ") differ from the rebuilt state (%zu)", cnt, st.n);
    master_store_load_meta(s);
    CHECK(bl_digest_eq(&full, master_store_digest(s)), "incremental digest != bl_digest_of");
    cmp_t c = {.st = &st};
    master_store_listing_each(s, NULL, cmp_one, &c);
    CHECK(!c.mismatch && c.i == st.n, "%d entries differ between store and rebuilt state",
          c.mismatch);

    /* Acknowledged reports. */
    size_t acked = 0, lost = 0;
    if (argc > 4) {
        FILE *f = fopen(argv[4], "r");
        sqlite3 *db;
        sqlite3_stmt *q;
        CHECK(f, "cannot open %s", argv[4]);
        sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READONLY, NULL);
        sqlite3_prepare_v2(db, "SELECT count(*) FROM reports WHERE evidence=?1", -1, &q, NULL);
        char line[256];
        while (f && fgets(line, sizeof line, f)) {
            line[strcspn(line, "\r\n")] = 0;
            if (!*line)
                continue;
            acked++;
            sqlite3_reset(q);
            sqlite3_bind_text(q, 1, line, -1, SQLITE_TRANSIENT);
            if (sqlite3_step(q) != SQLITE_ROW || sqlite3_column_int(q, 0) < 1) {
                if (lost < 5)
                    fprintf(stderr, "chaincheck: acknowledged report %s lost\n", line);
                lost++;
            }
        }
        CHECK(lost == 0, "%zu of %zu acknowledged reports lost", lost, acked);
        sqlite3_finalize(q);
        sqlite3_close(db);
        if (f)
            fclose(f);
    }
    printf("chaincheck: %zu objects, %" PRIu64 " deltas (from %" PRIu64 "), %zu applied, %zu "
           "snapshots compared, serial %" PRIu64 ", %zu entries, %zu acked reports checked: %s\n",
           n, ndelta, first_delta, applied, snaps, last, st.n, acked, fails ? "FAIL" : "ok");
    bl_state_close(&st);
    free(o);
    master_store_close(s);
    bl_keyring_free(ring);
    return fails ? 1 : 0;
}
