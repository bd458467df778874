/* SPDX-License-Identifier: MIT */
/* master_bench_fill: puts N policy listings (20.0.0.0 upwards) straight into a master store, as
 * published. */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "err.h"
#include "store.h"

/* Usage: master_bench_fill DB N EXPIRES_AT_UNIX [FEED]
 * The listings, the state digest and the count are written in one
 * transaction, and the state is recorded as already published at serial 1
 * (no object file), so the master starts with N listings and nothing
 * pending. FEED (default main) is the feed the store is for. For
 * benchmarks only. */
int main(int argc, char **argv)
{
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: master_bench_fill DB N EXPIRES_AT_UNIX [FEED]\n");
        return 2;
    }
    uint64_t n = strtoull(argv[2], NULL, 10);
    int64_t exp = strtoll(argv[3], NULL, 10);
    master_store_t *s;
    int rc = master_store_open(argv[1], argc == 5 ? argv[4] : "main", 0, &s);
    if (rc) {
        fprintf(stderr, "store: %s\n", bl_strerror(rc));
        return 1;
    }
    master_store_close(s);
    sqlite3 *db;
    sqlite3_open(argv[1], &db);
    sqlite3_exec(db, "PRAGMA synchronous=OFF; BEGIN", NULL, NULL, NULL);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db,
                       "INSERT INTO listings(key,a,reason,listed_at,expires_at,kind,decided_ms,"
                       "last_report_ms) VALUES(?1,2,1,?2,?3,0,?4,?4)",
                       -1, &st, NULL);
    bl_digest_t d;
    bl_digest_zero(&d);
    int64_t listed = exp - 3600;
    for (uint64_t i = 0; i < n; i++) {
        bl_entry_t e;
        memset(&e, 0, sizeof e);
        bl_prefix_v4(&e.key, (20u << 24) + (uint32_t)i, 32);
        e.a = 2;
        e.reason = 1;
        e.listed_at = listed;
        e.expires_at = exp;
        bl_digest_add(&d, &e);
        uint8_t k[18];
        size_t kl = master_key_encode(&e.key, k);
        sqlite3_reset(st);
        sqlite3_bind_blob(st, 1, k, (int)kl, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, listed);
        sqlite3_bind_int64(st, 3, exp);
        sqlite3_bind_int64(st, 4, listed * 1000);
        if (sqlite3_step(st) != SQLITE_DONE) {
            fprintf(stderr, "insert: %s\n", sqlite3_errmsg(db));
            return 1;
        }
    }
    sqlite3_finalize(st);
    uint8_t b[BL_DIGEST_SIZE];
    bl_digest_to_bytes(&d, b);
    sqlite3_prepare_v2(db, "UPDATE meta SET v=?2 WHERE k=?1", -1, &st, NULL);
    const char *keys[] = {"digest", "last_digest"};
    for (int i = 0; i < 2; i++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, keys[i], -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, b, sizeof b, SQLITE_STATIC);
        sqlite3_step(st);
    }
    sqlite3_finalize(st);
    char q[300];
    snprintf(q, sizeof q,
             "UPDATE meta SET v=%" PRIu64 " WHERE k='count'; UPDATE meta SET v=%" PRIu64
             " WHERE k='count4'; UPDATE meta SET v=1 WHERE k='last_serial'; COMMIT",
             n, n);
    if (sqlite3_exec(db, q, NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "commit: %s\n", sqlite3_errmsg(db));
        return 1;
    }
    sqlite3_close(db);
    printf("filled %" PRIu64 " listings expiring at %lld\n", n, (long long)exp);
    return 0;
}
