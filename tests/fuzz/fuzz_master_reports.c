/* SPDX-License-Identifier: MIT */
/* Fuzz target: a POST /v1/reports body through parsing and the listing-policy input checks; the
 * same bytes as a report's (or audit query's) RFC 3339 time. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "http.h"
#include "policy.h"

/* A time master_parse_time accepts is the instant its fields name: formatted back, it reads the
 * same (a leap second aside, which formats as the next minute). */
static void check_time(const uint8_t *data, size_t size)
{
    char s[64], back[32];
    int64_t ms;
    if (size >= sizeof s)
        return;
    memcpy(s, data, size);
    s[size] = 0;
    if (master_parse_time(s, &ms) != 0)
        return;
    master_format_time(ms, back, sizeof back);
    if (strncmp(s + 17, "60", 2) && strncmp(s, back, 19))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_time(data, size);
    static master_policy_t p;
    static int init;
    if (!init) {
        master_policy_defaults(&p);
        init = 1;
    }
    master_reports_t rs;
    bl_buf_t errs;
    bl_buf_init(&errs);
    size_t nerr;
    char why[160];
    int rc =
        master_reports_parse(&p, data, size, 1800000000000LL, &rs, &errs, &nerr, why, sizeof why);
    if (rc == 0) {
        for (size_t i = 0; i < rs.n; i++) {
            /* Whatever passed is a listable single address with a known source. */
            const char *w;
            if (bl_prefix_check(&rs.r[i].key) ||
                rs.r[i].key.len != bl_prefix_maxlen(&rs.r[i].key) ||
                master_policy_check_report(&p, &rs.r[i], 1800000000000LL, &w))
                abort();
            if (rs.r[i].key.af == BL_AF4 && rs.r[i].key.addr[0] == 127 &&
                !(rs.r[i].key.addr[1] == 0 && rs.r[i].key.addr[2] == 0 && rs.r[i].key.addr[3] == 2))
                abort();
        }
        master_reports_free(&rs);
    }
    bl_buf_close(&errs);
    return 0;
}
