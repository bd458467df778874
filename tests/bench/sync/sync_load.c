/* SPDX-License-Identifier: MIT */
/* Load tool: many simulated mirrors speaking the real sync protocol over real TLS to one master. */

/*
 * prepare: writes a signed snapshot of N random /32 entries as serial 1 into
 *   SPOOL/FEED/.
 * run: opens --conns mutual-TLS connections to the sync server, each saying
 *   HELLO at the spool's head; once every connection is up, publishes
 *   --publishes deltas (one new entry each, chained from the head, written
 *   atomically into the spool) every --interval-ms. Every connection opens
 *   each object it receives (signature and payload hash, as a mirror does)
 *   and acknowledges it. Prints, per publish and overall, the latency from
 *   the file landing in the spool to each connection holding the verified
 *   object: p50, p99, max. The sync server's own "ack" lines give the
 *   latency to the acknowledgement (see run.sh).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "codec.h"
#include "digest.h"
#include "err.h"
#include "frame.h"
#include "key.h"
#include "log.h"
#include "obj.h"
#include "state.h"
#include "tls.h"
#include "util.h"

static const char *opt(int argc, char **argv, const char *name, const char *def)
{
    for (int i = 2; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return argv[i + 1];
    return def;
}

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void random_entry(bl_entry_t *e, int64_t now_s)
{
    memset(e, 0, sizeof *e);
    bl_prefix_v4(&e->key, (uint32_t)rnd(), 32); /* the whole space: compresses like real data */
    e->a = 2;
    e->reason = 1;
    e->listed_at = now_s;
    e->expires_at = now_s + 86400;
}

static int cmp_entry(const void *a, const void *b)
{
    return bl_prefix_cmp(&((const bl_entry_t *)a)->key, &((const bl_entry_t *)b)->key);
}

/* ---- head of the spool ---- */

typedef struct {
    uint64_t serial, n_entries;
    uint8_t digest[BL_DIGEST_SIZE];
} head_t;

static int read_head(const char *dir, head_t *h)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "ls %s | grep -E '^[0-9]+\\.(delta|snap)$' | sort | tail -1", dir);
    FILE *p = popen(cmd, "r");
    char name[256] = "";
    if (!p || !fgets(name, sizeof name, p)) {
        if (p)
            pclose(p);
        return BL_ENOTFOUND;
    }
    pclose(p);
    name[strcspn(name, "\n")] = 0;
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    uint8_t *data;
    size_t len;
    int rc = bl_file_read(path, 1u << 30, &data, &len);
    if (rc)
        return rc;
    bl_rd_t rd;
    bl_hdr_t hd;
    bl_rd_init(&rd, data, len);
    rc = bl_hdr_decode(&rd, &hd);
    free(data);
    if (rc)
        return rc;
    h->serial = hd.serial;
    h->n_entries = hd.n_entries;
    memcpy(h->digest, hd.digest, BL_DIGEST_SIZE);
    return 0;
}

static int prepare(int argc, char **argv)
{
    const char *spool = opt(argc, argv, "--spool", NULL), *feed = opt(argc, argv, "--feed", "main");
    size_t n = strtoull(opt(argc, argv, "--entries", "10000"), NULL, 10);
    bl_key_t *key;
    if (!spool || bl_key_load(opt(argc, argv, "--key", ""), &key))
        return 2;
    int64_t now = bl_now_ms();
    bl_entry_t *e = malloc((n ? n : 1) * sizeof *e);
    for (size_t i = 0; i < n; i++)
        random_entry(&e[i], now / 1000);
    qsort(e, n, sizeof *e, cmp_entry);
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (!w || bl_prefix_cmp(&e[w - 1].key, &e[i].key))
            e[w++] = e[i];
    bl_hdr_t h = {0};
    snprintf(h.feed, sizeof h.feed, "%s", feed);
    h.serial = 1;
    h.created_ms = now;
    h.expires_ms = now + 7 * 86400000LL;
    h.n_entries = w;
    bl_digest_t d;
    bl_digest_of(&d, e, w);
    bl_digest_to_bytes(&d, h.digest);
    bl_buf_t b;
    bl_buf_init(&b);
    int rc = bl_snapshot_write(&h, e, w, key, &b);
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/%s", spool, feed);
    snprintf(path, sizeof path, "%s/%020d.snap", dir, 1);
    if (!rc)
        rc = bl_mkdir_p(dir, 0755);
    if (!rc)
        rc = bl_file_write_atomic(path, b.data, b.len, 0644);
    char first[BL_PREFIX_STRLEN] = "-";
    if (w)
        bl_addr_format(&e[w / 2].key, first, sizeof first);
    printf("snapshot entries=%zu bytes=%zu rc=%s listed=%s\n", w, b.len, bl_errname(rc), first);
    bl_buf_close(&b);
    free(e);
    bl_key_free(key);
    return rc ? 1 : 0;
}

/* ---- run ---- */

typedef struct {
    bl_tls_conn_t *tls;
    bl_frame_reader_t rd;
    int up;
    int stuck; /* asks for a snapshot, then never reads */
} lconn_t;

static struct {
    lconn_t *c;
    size_t n, up, closed, nstuck;
    char feed[BL_FEED_MAX + 1];
    head_t head;
    bl_keyring_t *ring;
    bl_key_t *key;
    char dir[4096];
    int publishes, done_pub;
    int64_t interval_ms, hold_ms;
    uint64_t t_pub[4096];      /* monotonic ns of each publish */
    uint64_t pub_serial[4096]; /* serial of each publish */
    double *lat;               /* ms, [publish][conn] */
    size_t *got;               /* receipts per publish */
    uint64_t verify_fail;
    uv_timer_t timer;
    uv_loop_t *loop;
} L;

static void l_connect(bl_tls_conn_t *t, const char *peer)
{
    (void)peer;
    lconn_t *c = bl_tls_conn_data(t);
    c->up = 1;
    if (!c->stuck)
        L.up++;
    bl_frame_hello_t h = {.version = BL_PROTO_VERSION, .serial = L.head.serial};
    if (c->stuck) {
        h.serial = 0;
        h.flags = BL_HELLO_WANT_SNAPSHOT;
    }
    snprintf(h.feed, sizeof h.feed, "%s", L.feed);
    memcpy(h.digest, L.head.digest, BL_DIGEST_SIZE);
    bl_buf_t b;
    bl_buf_init(&b);
    bl_frame_put_hello(&b, &h);
    bl_tls_write(t, b.data, b.len);
    bl_buf_close(&b);
    if (c->stuck)
        bl_tls_set_reading(t, 0);
}

static void l_data(bl_tls_conn_t *t, const uint8_t *p, size_t n)
{
    lconn_t *c = bl_tls_conn_data(t);
    uint64_t now = bl_mono_ns();
    bl_frame_reader_feed(&c->rd, p, n);
    bl_frame_t f;
    while (bl_frame_next(&c->rd, &f) == 1) {
        if (f.type != BL_FRAME_OBJECT)
            continue;
        bl_obj_t obj;
        if (bl_obj_open(f.payload, f.len, L.ring, NULL, &obj, NULL)) {
            L.verify_fail++;
            continue;
        }
        for (int i = 0; i < L.done_pub; i++) {
            if (L.pub_serial[i] != obj.hdr.serial || L.got[i] >= L.n)
                continue;
            L.lat[(size_t)i * L.n + L.got[i]++] = (double)(now - L.t_pub[i]) / 1e6;
        }
        bl_frame_ack_t a = {.serial = obj.hdr.serial};
        snprintf(a.feed, sizeof a.feed, "%s", L.feed);
        memcpy(a.digest, obj.hdr.digest, BL_DIGEST_SIZE);
        bl_buf_t b;
        bl_buf_init(&b);
        bl_frame_put_ack(&b, &a);
        bl_tls_write(t, b.data, b.len);
        bl_buf_close(&b);
    }
}

static void l_close(bl_tls_conn_t *t, const char *reason)
{
    lconn_t *c = bl_tls_conn_data(t);
    if (c->stuck)
        printf("stuck connection closed: %s\n", reason);
    else if (c->up)
        L.up--;
    else
        fprintf(stderr, "connection failed: %s\n", reason);
    c->up = 0;
    c->tls = NULL;
    L.closed++;
}

static int publish_one(void)
{
    int64_t now = bl_now_ms();
    bl_change_t add;
    memset(&add, 0, sizeof add);
    random_entry(&add.e, now / 1000);
    add.decided_ms = now;
    bl_digest_t d;
    bl_digest_from_bytes(&d, L.head.digest);
    bl_digest_add(&d, &add.e); /* a random key: assume new (1 in 16M collides) */
    bl_hdr_t h = {0};
    snprintf(h.feed, sizeof h.feed, "%s", L.feed);
    h.base_serial = L.head.serial;
    memcpy(h.base_digest, L.head.digest, BL_DIGEST_SIZE);
    h.serial = L.head.serial + 1;
    bl_digest_to_bytes(&d, h.digest);
    h.created_ms = now;
    h.expires_ms = now + 7 * 86400000LL;
    h.n_entries = L.head.n_entries + 1;
    bl_buf_t b;
    bl_buf_init(&b);
    int rc = bl_delta_write(&h, NULL, 0, &add, 1, L.key, &b);
    char path[4200];
    snprintf(path, sizeof path, "%s/%020" PRIu64 ".delta", L.dir, h.serial);
    if (!rc) {
        L.pub_serial[L.done_pub] = h.serial;
        L.t_pub[L.done_pub] = bl_mono_ns();
        L.done_pub++; /* counted before the write: receipts may come before we return */
        rc = bl_file_write_atomic(path, b.data, b.len, 0644);
        L.t_pub[L.done_pub - 1] = bl_mono_ns(); /* the file is in place now */
    }
    bl_buf_close(&b);
    if (rc)
        return rc;
    L.head.serial = h.serial;
    L.head.n_entries = h.n_entries;
    memcpy(L.head.digest, h.digest, BL_DIGEST_SIZE);
    return 0;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
    if (!n)
        return -1;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i];
}

static void on_timer(uv_timer_t *t)
{
    static uint64_t started_wait;
    if (L.up < L.n - L.nstuck && L.done_pub == 0) {
        if (!started_wait)
            started_wait = bl_mono_ns();
        if (bl_mono_ns() - started_wait > 60000000000ull) {
            fprintf(stderr, "only %zu of %zu connections up\n", L.up, L.n);
            uv_stop(t->loop);
        }
        return;
    }
    /* Wait for every receipt of the last publish (or 10 s) before the next. */
    if (L.done_pub > 0) {
        int last = L.done_pub - 1;
        if (L.got[last] < L.up && bl_mono_ns() - L.t_pub[last] < 10000000000ull)
            return;
        if (bl_mono_ns() - L.t_pub[last] < (uint64_t)L.interval_ms * 1000000u)
            return;
    }
    if (L.done_pub == L.publishes) {
        /* Optionally stay connected a while (the stuck ones keep their queues full). */
        if (bl_mono_ns() - L.t_pub[L.done_pub - 1] >= (uint64_t)L.hold_ms * 1000000u)
            uv_stop(t->loop);
        return;
    }
    if (publish_one()) {
        fprintf(stderr, "publish failed\n");
        uv_stop(t->loop);
    }
}

static int run(int argc, char **argv)
{
    const char *spool = opt(argc, argv, "--spool", NULL);
    snprintf(L.feed, sizeof L.feed, "%s", opt(argc, argv, "--feed", "main"));
    L.n = strtoull(opt(argc, argv, "--conns", "100"), NULL, 10);
    L.publishes = atoi(opt(argc, argv, "--publishes", "20"));
    L.interval_ms = atoll(opt(argc, argv, "--interval-ms", "200"));
    L.nstuck = strtoull(opt(argc, argv, "--stuck", "0"), NULL, 10);
    L.hold_ms = atoll(opt(argc, argv, "--hold-ms", "0"));
    if (!spool || L.publishes < 1 || L.publishes > 4096 || !L.n)
        return 2;
    snprintf(L.dir, sizeof L.dir, "%s/%s", spool, L.feed);
    if (read_head(L.dir, &L.head) || bl_key_load(opt(argc, argv, "--key", ""), &L.key))
        return 2;
    L.ring = bl_keyring_new();
    bl_key_t *pub;
    bl_key_from_raw(bl_key_raw(L.key), &pub);
    bl_keyring_add(L.ring, pub);
    bl_tls_config_t cfg = {.cert_file = opt(argc, argv, "--cert", NULL),
                           .key_file = opt(argc, argv, "--tls-key", NULL),
                           .ca_file = opt(argc, argv, "--ca", NULL),
                           .handshake_timeout_ms = 60000};
    bl_tls_ctx_t *ctx;
    if (bl_tls_ctx_new_client(&cfg, &ctx))
        return 2;
    L.c = calloc(L.n, sizeof *L.c);
    L.lat = calloc((size_t)L.publishes * L.n, sizeof *L.lat);
    L.got = calloc((size_t)L.publishes, sizeof *L.got);
    L.loop = uv_default_loop();
    bl_tls_cb_t cb = {.on_connect = l_connect, .on_data = l_data, .on_close = l_close};
    int port = atoi(opt(argc, argv, "--port", "0"));
    uint64_t t0 = bl_mono_ns();
    for (size_t i = 0; i < L.n; i++) {
        L.c[i].stuck = i < L.nstuck;
        bl_frame_reader_init(&L.c[i].rd, 0);
        if (bl_tls_connect(L.loop, ctx, "127.0.0.1", port, opt(argc, argv, "--name", "master.test"),
                           &cb, &L.c[i], &L.c[i].tls)) {
            fprintf(stderr, "connect %zu failed\n", i);
            return 1;
        }
    }
    uv_timer_init(L.loop, &L.timer);
    uv_timer_start(&L.timer, on_timer, 200, 5);
    /* Connections up: report the handshake time once. */
    while (L.up < L.n - L.nstuck && L.closed == 0 && uv_run(L.loop, UV_RUN_ONCE))
        ;
    printf("connections=%zu up=%zu connect_all_ms=%.0f\n", L.n, L.up,
           (double)(bl_mono_ns() - t0) / 1e6);
    fflush(stdout);
    uv_run(L.loop, UV_RUN_DEFAULT);
    size_t total = 0;
    double *all = malloc((size_t)L.publishes * L.n * sizeof *all);
    for (int i = 0; i < L.done_pub; i++) {
        double *v = L.lat + (size_t)i * L.n;
        qsort(v, L.got[i], sizeof *v, cmp_d);
        memcpy(all + total, v, L.got[i] * sizeof *v);
        total += L.got[i];
        printf("publish serial=%" PRIu64 " received=%zu/%zu p50_ms=%.1f p99_ms=%.1f max_ms=%.1f\n",
               L.pub_serial[i], L.got[i], L.n - L.nstuck, pct(v, L.got[i], 0.5),
               pct(v, L.got[i], 0.99), L.got[i] ? v[L.got[i] - 1] : -1.0);
    }
    qsort(all, total, sizeof *all, cmp_d);
    int ok = L.done_pub == L.publishes && L.verify_fail == 0;
    for (int i = 0; i < L.done_pub; i++)
        ok &= L.got[i] == L.n - L.nstuck;
    printf("overall publishes=%d receipts=%zu verify_failures=%" PRIu64
           " p50_ms=%.1f p99_ms=%.1f max_ms=%.1f\n",
           L.done_pub, total, L.verify_fail, pct(all, total, 0.5), pct(all, total, 0.99),
           total ? all[total - 1] : -1.0);
    for (size_t i = 0; i < L.n; i++)
        if (L.c[i].tls)
            bl_tls_close(L.c[i].tls, "done");
    uv_close((uv_handle_t *)&L.timer, NULL);
    uv_run(L.loop, UV_RUN_DEFAULT);
    for (size_t i = 0; i < L.n; i++)
        bl_frame_reader_close(&L.c[i].rd);
    bl_tls_ctx_free(ctx);
    free(all);
    free(L.c);
    free(L.lat);
    free(L.got);
    bl_keyring_free(L.ring);
    bl_key_free(L.key);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    bl_log_init("sync_load", BL_LOG_WARN, 0);
    if (argc >= 2 && !strcmp(argv[1], "prepare"))
        return prepare(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "run"))
        return run(argc, argv);
    fprintf(stderr, "usage: sync_load prepare|run ...\n");
    return 2;
}
