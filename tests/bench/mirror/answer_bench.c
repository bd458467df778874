/* SPDX-License-Identifier: MIT */
/*
 * User-space cost of one DNS answer, without the kernel: loads an rbldnsd
 * ip4set file the way the mirror does, turns a dnsperf query list into wire
 * queries and answers them in batches: one by one (mirror_dns_answer_ex),
 * and the way a UDP thread does (mirror_dns_answer_batch: one parse, index
 * prefetch across the batch). Prints nanoseconds per answer for both,
 * alternating, and the median of each.
 *
 *   answer_bench ZONE FILE[,FILE...] QUERIES [BATCH [ROUNDS]]
 *
 * Several files make a zone of one index each, the shape of a zone that
 * combines feeds (every index is asked for every address).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "dns.h"
#include "feed.h"
#include "qsbr.h"

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One query in wire format: id, RD, the name, type A/TXT/AAAA. */
static size_t mkquery(const char *name, const char *type, uint16_t id, uint8_t *q)
{
    static const uint8_t hdr[12] = {0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    memcpy(q, hdr, 12);
    q[0] = (uint8_t)(id >> 8);
    q[1] = (uint8_t)id;
    uint8_t w[256];
    unsigned nl;
    unsigned n = mirror_dns_name_to_wire(name, w, &nl);
    if (!n)
        return 0;
    memcpy(q + 12, w, n);
    uint16_t t = !strcmp(type, "TXT") ? 16 : !strcmp(type, "AAAA") ? 28 : 1;
    q[12 + n] = (uint8_t)(t >> 8);
    q[13 + n] = (uint8_t)t;
    q[14 + n] = 0;
    q[15 + n] = 1;
    return 16 + n;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s ZONE IP4SET-FILE[,FILE...] QUERIES [BATCH [ROUNDS]]\n", argv[0]);
        return 2;
    }
    int batch = argc > 4 ? atoi(argv[4]) : 32, rounds = argc > 5 ? atoi(argv[5]) : 5;
    if (batch < 1 || batch > 64 || rounds < 1) {
        fprintf(stderr, "BATCH is 1..64, ROUNDS at least 1\n");
        return 2;
    }
    static mirror_qsbr_t qs;
    mirror_qsbr_init(&qs);
    int qid = mirror_qsbr_register(&qs);
    static mirror_zone_t z;
    mirror_zone_conf_t zc;
    memset(&zc, 0, sizeof zc);
    snprintf(zc.name, sizeof zc.name, "%s", argv[1]);
    zc.ttl = 300;
    zc.soa_ttl = 3600;
    zc.neg_ttl = 60;
    zc.a = 2;
    zc.txt = "Listed: $";
    char err[512];
    if (mirror_zone_init(&z, &zc, err, sizeof err)) {
        fprintf(stderr, "zone: %s\n", err);
        return 1;
    }
    static char spec[MIRROR_CONF_MAX_LIST][4096];
    for (const char *p = argv[2]; *p && zc.nrbldnsd < MIRROR_CONF_MAX_LIST;) {
        size_t l = strcspn(p, ",");
        snprintf(spec[zc.nrbldnsd], sizeof spec[0], "ip4set:%.*s", (int)l, p);
        zc.rbldnsd[zc.nrbldnsd] = spec[zc.nrbldnsd];
        zc.nrbldnsd++;
        p += l + (p[l] == ',');
    }
    double t0 = now_ns();
    if (mirror_import_rbldnsd(&z, &qs, &zc, err, sizeof err)) {
        fprintf(stderr, "import: %s\n", err);
        return 1;
    }
    fprintf(stderr, "loaded %s in %.2f s\n", argv[2], (now_ns() - t0) / 1e9);

    FILE *f = fopen(argv[3], "r");
    if (!f) {
        perror(argv[3]);
        return 1;
    }
    size_t cap = 1 << 16, nq = 0;
    uint8_t(*q)[300] = malloc(cap * sizeof *q);
    uint16_t *ql = malloc(cap * sizeof *ql);
    char line[512], name[300], type[16];
    while (q && ql && fgets(line, sizeof line, f)) {
        if (sscanf(line, "%299s %15s", name, type) != 2)
            continue;
        if (nq == cap) {
            cap *= 2;
            q = realloc(q, cap * sizeof *q);
            ql = realloc(ql, cap * sizeof *ql);
            if (!q || !ql)
                break;
        }
        size_t l = mkquery(name, type, (uint16_t)nq, q[nq]);
        if (l)
            ql[nq++] = (uint16_t)l;
    }
    fclose(f);
    if (!q || !ql || !nq) {
        fprintf(stderr, "no queries read from %s\n", argv[3]);
        return 1;
    }

    mirror_zone_t *zones[1] = {&z};
    mirror_dns_ctx_t ctx = {
        .zones = zones, .nzones = 1, .now = (int64_t)time(NULL), .udp_max = MIRROR_UDP_MAX_DEFAULT};
    static uint8_t out[64][4096];
    double *res[2] = {calloc((size_t)rounds, sizeof(double)),
                      calloc((size_t)rounds, sizeof(double))};
    unsigned long long sum = 0;
    mirror_qsbr_online(&qs, qid);
    for (int r = 0; r < rounds; r++) {
        for (int pf = 0; pf < 2; pf++) {
            double s = now_ns();
            for (size_t b = 0; b < nq; b += (size_t)batch) {
                size_t n = nq - b < (size_t)batch ? nq - b : (size_t)batch;
                if (pf) { /* what a UDP thread does */
                    mirror_dns_job_t jobs[64];
                    for (size_t i = 0; i < n; i++)
                        jobs[i] =
                            (mirror_dns_job_t){.q = q[b + i], .qlen = ql[b + i], .out = out[i]};
                    mirror_dns_answer_batch(&ctx, jobs, n, sizeof out[0]);
                    for (size_t i = 0; i < n; i++)
                        sum += jobs[i].len + (unsigned)jobs[i].info.listed;
                    continue;
                }
                for (size_t i = 0; i < n; i++) {
                    mirror_dns_info_t info;
                    sum += mirror_dns_answer_ex(&ctx, q[b + i], ql[b + i], out[i], sizeof out[i], 0,
                                                &info);
                    sum += (unsigned)info.listed;
                }
            }
            res[pf][r] = (now_ns() - s) / (double)nq;
            printf("round %d %s: %.1f ns/answer\n", r + 1, pf ? "batch " : "single", res[pf][r]);
        }
    }
    mirror_qsbr_offline(&qs, qid);
    qsort(res[0], (size_t)rounds, sizeof(double), cmpd);
    qsort(res[1], (size_t)rounds, sizeof(double), cmpd);
    printf("median over %d rounds, %zu queries, batch %d: one by one %.1f ns, batch %.1f ns (%.2fx)"
           " [checksum %llu]\n",
           rounds, nq, batch, res[0][rounds / 2], res[1][rounds / 2],
           res[1][rounds / 2] / res[0][rounds / 2], sum);
    return 0;
}
