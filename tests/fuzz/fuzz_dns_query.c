/* SPDX-License-Identifier: MIT */
/* Fuzz target: the mirror's DNS query parser and answer builder (UDP, UDP batch and TCP paths)
 * and the query log's reading of the same bytes. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mirror/config.h"
#include "mirror/dns.h"
#include "mirror/index.h"
#include "mirror/querylog.h"
#include "runtime/log.h"

static mirror_zone_t zone;
static mirror_zdata_t data;
static mirror_zone_t *zones[1] = {&zone};

static void setup(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    bl_log_set_level(BL_LOG_ERR); /* the query log's lines are info: formatted, not written */
    mirror_zone_conf_t zc;
    memset(&zc, 0, sizeof zc);
    strcpy(zc.name, "bl.example.org");
    zc.ttl = 300;
    zc.soa_ttl = 3600;
    zc.neg_ttl = 60;
    zc.a = 2;
    zc.txt = "Listed $ $$ $";
    static char ns[] = "ns1.example.org";
    zc.ns[0] = ns;
    zc.nns = 1;
    char err[200];
    if (mirror_zone_init(&zone, &zc, err, sizeof err))
        abort();
    mirror_builder_t *b = mirror_builder_new();
    const char *pfx[] = {"1.2.3.4", "10.0.0.0/8", "192.0.2.0/24", "2001:db8::/32", "2001:db8::1"};
    for (int i = 0; i < 5; i++) {
        bl_entry_t e;
        memset(&e, 0, sizeof e);
        bl_prefix_parse(pfx[i], &e.key);
        e.a = (uint8_t)(2 + i);
        e.expires_at = 1 << 30;
        mirror_builder_add(b, &e, i == 4 ? MIRROR_EXCLUDED : 0);
    }
    if (mirror_builder_finish(b, &data.ix, NULL))
        abort();
    data.serial = 7;
    atomic_store(&zone.data, &data);
}

/* The UDP server answers a batch of queries (here buf and shorter cuts of it) in two passes
 * with prefetches; each answer is the one the single-query path gives. Each query is logged. */
static void batch(const mirror_dns_ctx_t *ctx, const uint8_t *buf, size_t len)
{
    enum { NJ = 6, CAP = 4096 };
    static uint8_t out[NJ][CAP], one[CAP];
    static mirror_qlog_t ql = {.sample = 1, .max_per_s = 0xffffffffu};
    mirror_dns_job_t jobs[NJ];
    size_t n = len ? 1 + buf[len - 1] % NJ : 1;
    for (size_t i = 0; i < n; i++)
        jobs[i] =
            (mirror_dns_job_t){.q = buf, .qlen = len > i * 7 ? len - i * 7 : 0, .out = out[i]};
    mirror_dns_answer_batch(ctx, jobs, n, CAP);
    for (size_t i = 0; i < n; i++) {
        mirror_dns_info_t info;
        size_t l = mirror_dns_answer_ex(ctx, jobs[i].q, jobs[i].qlen, one, CAP, 0, &info);
        if (jobs[i].len != l || memcmp(jobs[i].out, one, l) || jobs[i].info.rcode != info.rcode ||
            jobs[i].info.qtype != info.qtype || jobs[i].info.zone != info.zone ||
            jobs[i].info.listed != info.listed)
            abort();
        mirror_qlog_write(&ql, &jobs[i].peer, 0, jobs[i].q, jobs[i].qlen, &info, NULL, 1000);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
    static uint8_t out[65536];
    setup();
    mirror_dns_ctx_t ctx = {.zones = zones, .nzones = 1, .now = 1000, .udp_max = 1232};
    batch(&ctx, buf, len);
    for (int tcp = 0; tcp < 2; tcp++) {
        int rc = -1;
        size_t n = mirror_dns_answer(&ctx, buf, len, out, tcp ? sizeof out : 4096, tcp, &rc);
        if (!n)
            continue;
        if (n < 12 || (!tcp && n > 1232) || n > sizeof out)
            abort();
        if (memcmp(out, buf, 2) != 0 || !(out[2] & 0x80))
            abort(); /* every answer echoes the id and is a response */
    }
    return 0;
}
