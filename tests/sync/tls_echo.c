/* SPDX-License-Identifier: MIT */
/* A mutual-TLS echo server and client over runtime/tls, driven by tests/sync/test_tls.sh. */

/*
 * server: echoes every byte back; prints one line per event on stdout
 *   ("listening PORT", "connect NAME", "close NAME reason=...") so the script
 *   can tell what the server accepted. SIGHUP reloads the revoked list and
 *   closes connections of newly revoked names.
 * client: sends --bytes pseudo-random bytes, expects the same bytes back,
 *   prints "ok peer=NAME bytes=N ms=T" and exits 0, or "fail reason=..." and
 *   exits 1. --hold keeps the connection open until the server closes it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "err.h"
#include "log.h"
#include "tls.h"
#include "util.h"

static const char *opt(int argc, char **argv, const char *name, const char *def)
{
    for (int i = 2; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return argv[i + 1];
    return def;
}

static int flag(int argc, char **argv, const char *name)
{
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], name))
            return 1;
    return 0;
}

/* ---- server ---- */

static bl_tls_server_t *g_srv;
static bl_tls_ctx_t *g_ctx;

static void s_connect(bl_tls_conn_t *c, const char *peer)
{
    (void)c;
    printf("connect %s\n", peer);
    fflush(stdout);
}

static void s_data(bl_tls_conn_t *c, const uint8_t *p, size_t n)
{
    int rc = bl_tls_write(c, p, n);
    if (rc)
        bl_tls_close(c, bl_strerror(rc));
}

static void s_close(bl_tls_conn_t *c, const char *reason)
{
    printf("close %s reason=%s\n", bl_tls_peer_name(c)[0] ? bl_tls_peer_name(c) : "-", reason);
    fflush(stdout);
}

static void on_signal(uv_signal_t *s, int signum)
{
    if (signum == SIGHUP) {
        if (bl_tls_ctx_reload_revoked(g_ctx) == 0)
            bl_tls_server_kick_revoked(g_srv);
        printf("reloaded\n");
        fflush(stdout);
        return;
    }
    bl_tls_server_close(g_srv);
    uv_stop(s->loop);
}

static int run_server(int argc, char **argv)
{
    bl_tls_config_t cfg = {
        .cert_file = opt(argc, argv, "--cert", NULL),
        .key_file = opt(argc, argv, "--key", NULL),
        .ca_file = opt(argc, argv, "--ca", NULL),
        .pinned_file = opt(argc, argv, "--pinned", NULL),
        .revoked_file = opt(argc, argv, "--revoked", NULL),
    };
    if (bl_tls_ctx_new_server(&cfg, &g_ctx))
        return 2;
    uv_loop_t *loop = uv_default_loop();
    bl_tls_cb_t cb = {.on_connect = s_connect, .on_data = s_data, .on_close = s_close};
    int port = atoi(opt(argc, argv, "--port", "0"));
    if (bl_tls_listen(loop, g_ctx, opt(argc, argv, "--host", "127.0.0.1"), port, &cb, NULL, &g_srv))
        return 2;
    printf("listening %d\n", bl_tls_server_port(g_srv));
    fflush(stdout);
    uv_signal_t hup, term, intr;
    uv_signal_init(loop, &hup);
    uv_signal_init(loop, &term);
    uv_signal_init(loop, &intr);
    uv_signal_start(&hup, on_signal, SIGHUP);
    uv_signal_start(&term, on_signal, SIGTERM);
    uv_signal_start(&intr, on_signal, SIGINT);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&hup, NULL);
    uv_close((uv_handle_t *)&term, NULL);
    uv_close((uv_handle_t *)&intr, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    bl_tls_ctx_free(g_ctx);
    return 0;
}

/* ---- client ---- */

static struct {
    uint8_t *sent;
    size_t n, off, got;
    int ok, hold, done;
    char reason[512];
    char peer[256];
    uint64_t t0;
    uv_timer_t timer;
} cl;

static void c_pump(bl_tls_conn_t *c)
{
    while (cl.off < cl.n) {
        size_t chunk = cl.n - cl.off > 65536 ? 65536 : cl.n - cl.off;
        int rc = bl_tls_write(c, cl.sent + cl.off, chunk);
        if (rc == BL_ETOOBIG)
            return; /* on_drain resumes */
        if (rc)
            return;
        cl.off += chunk;
    }
}

static void c_connect(bl_tls_conn_t *c, const char *peer)
{
    snprintf(cl.peer, sizeof cl.peer, "%s", peer);
    c_pump(c);
}

static void c_data(bl_tls_conn_t *c, const uint8_t *p, size_t n)
{
    if (cl.got + n > cl.n || memcmp(cl.sent + cl.got, p, n) != 0) {
        bl_tls_close(c, "echo differs");
        return;
    }
    cl.got += n;
    if (cl.got == cl.n && !cl.hold) {
        cl.ok = 1;
        bl_tls_close(c, "done");
    }
}

static void c_close(bl_tls_conn_t *c, const char *reason)
{
    (void)c;
    if (cl.hold && cl.got == cl.n)
        cl.ok = 1;
    snprintf(cl.reason, sizeof cl.reason, "%s", reason);
    cl.done = 1;
    uv_timer_stop(&cl.timer);
    uv_close((uv_handle_t *)&cl.timer, NULL);
}

static void c_timeout(uv_timer_t *t)
{
    bl_tls_close(t->data, "client timeout");
}

static int run_client(int argc, char **argv)
{
    bl_tls_config_t cfg = {
        .cert_file = opt(argc, argv, "--cert", NULL),
        .key_file = opt(argc, argv, "--key", NULL),
        .ca_file = opt(argc, argv, "--ca", NULL),
    };
    bl_tls_ctx_t *ctx;
    if (bl_tls_ctx_new_client(&cfg, &ctx)) {
        printf("fail reason=config\n");
        return 2;
    }
    cl.n = strtoull(opt(argc, argv, "--bytes", "1000"), NULL, 10);
    cl.hold = flag(argc, argv, "--hold");
    cl.sent = malloc(cl.n ? cl.n : 1);
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < cl.n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        cl.sent[i] = (uint8_t)s;
    }
    uv_loop_t *loop = uv_default_loop();
    bl_tls_cb_t cb = {
        .on_connect = c_connect, .on_data = c_data, .on_close = c_close, .on_drain = c_pump};
    bl_tls_conn_t *c;
    cl.t0 = bl_mono_ns();
    int rc = bl_tls_connect(loop, ctx, opt(argc, argv, "--host", "127.0.0.1"),
                            atoi(opt(argc, argv, "--port", "0")),
                            opt(argc, argv, "--name", "localhost"), &cb, NULL, &c);
    if (rc) {
        printf("fail reason=%s\n", bl_strerror(rc));
        return 1;
    }
    uv_timer_init(loop, &cl.timer);
    cl.timer.data = c;
    uv_timer_start(&cl.timer, c_timeout,
                   strtoull(opt(argc, argv, "--timeout-ms", "10000"), NULL, 10), 0);
    uv_run(loop, UV_RUN_DEFAULT);
    double ms = (double)(bl_mono_ns() - cl.t0) / 1e6;
    if (cl.ok)
        printf("ok peer=%s bytes=%zu ms=%.1f reason=%s\n", cl.peer, cl.got, ms, cl.reason);
    else
        printf("fail peer=%s got=%zu reason=%s\n", cl.peer[0] ? cl.peer : "-", cl.got, cl.reason);
    free(cl.sent);
    bl_tls_ctx_free(ctx);
    return cl.ok ? 0 : 1;
}

/* ---- queue: a reader that stops reading must not grow the writer's memory ---- */

static struct {
    bl_tls_conn_t *srv_conn, *cli_conn;
    size_t total, written, received, max_queued, refusals, drains;
    uint64_t check, expect, t0, t_done;
    int closed;
    uv_timer_t resume, guard;
} q;

static uint8_t q_byte(size_t i)
{
    return (uint8_t)(i * 2654435761u >> 13);
}

static void q_pump(bl_tls_conn_t *c)
{
    uint8_t chunk[32768];
    while (q.written < q.total) {
        size_t n = q.total - q.written < sizeof chunk ? q.total - q.written : sizeof chunk;
        for (size_t i = 0; i < n; i++)
            chunk[i] = q_byte(q.written + i);
        int rc = bl_tls_write(c, chunk, n);
        size_t queued = bl_tls_queued(c);
        if (queued > q.max_queued)
            q.max_queued = queued;
        if (rc == BL_ETOOBIG) {
            q.refusals++;
            return;
        }
        if (rc) {
            fprintf(stderr, "write failed: %s\n", bl_strerror(rc));
            exit(1);
        }
        q.written += n;
    }
}

static void q_drain(bl_tls_conn_t *c)
{
    q.drains++;
    q_pump(c);
}

static void q_srv_connect(bl_tls_conn_t *c, const char *peer)
{
    (void)peer;
    q.srv_conn = c;
    q_pump(c);
}

static void q_cli_connect(bl_tls_conn_t *c, const char *peer)
{
    (void)peer;
    bl_tls_set_reading(c, 0); /* a stuck mirror */
}

static void q_cli_data(bl_tls_conn_t *c, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != q_byte(q.received + i)) {
            fprintf(stderr, "byte %zu differs\n", q.received + i);
            exit(1);
        }
    q.received += n;
    if (q.received == q.total) {
        q.t_done = bl_mono_ns();
        bl_tls_close(c, "done");
    }
}

static void q_close(bl_tls_conn_t *c, const char *reason)
{
    (void)c;
    (void)reason;
    if (++q.closed == 2) {
        uv_close((uv_handle_t *)&q.resume, NULL);
        uv_close((uv_handle_t *)&q.guard, NULL);
    }
}

static void q_resume(uv_timer_t *t)
{
    (void)t;
    /* The writer must have hit the limit while the reader was stopped. */
    printf("stalled: written=%zu queued_max=%zu refusals=%zu\n", q.written, q.max_queued,
           q.refusals);
    q.t0 = bl_mono_ns();
    bl_tls_set_reading(q.cli_conn, 1);
}

static void q_guard(uv_timer_t *t)
{
    (void)t;
    fprintf(stderr, "queue test timed out: received=%zu of %zu\n", q.received, q.total);
    exit(1);
}

static int run_queue(int argc, char **argv)
{
    const char *dir = opt(argc, argv, "--dir", ".");
    char cert[4096], key[4096], ca[4096], mcert[4096], mkey[4096];
    snprintf(cert, sizeof cert, "%s/master.pem", dir);
    snprintf(key, sizeof key, "%s/master.key", dir);
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    snprintf(mcert, sizeof mcert, "%s/mirror-m1.pem", dir);
    snprintf(mkey, sizeof mkey, "%s/mirror-m1.key", dir);
    size_t limit = 1u << 20;
    bl_tls_config_t scfg = {.cert_file = cert, .key_file = key, .ca_file = ca, .max_queue = limit};
    bl_tls_config_t ccfg = {.cert_file = mcert, .key_file = mkey, .ca_file = ca};
    bl_tls_ctx_t *sctx, *cctx;
    if (bl_tls_ctx_new_server(&scfg, &sctx) || bl_tls_ctx_new_client(&ccfg, &cctx))
        return 2;
    q.total = strtoull(opt(argc, argv, "--bytes", "67108864"), NULL, 10);
    uv_loop_t *loop = uv_default_loop();
    uv_timer_init(loop, &q.resume);
    uv_timer_init(loop, &q.guard);
    uv_timer_start(&q.guard, q_guard, 60000, 0);
    bl_tls_cb_t scb = {.on_connect = q_srv_connect, .on_close = q_close, .on_drain = q_drain};
    bl_tls_cb_t ccb = {.on_connect = q_cli_connect, .on_data = q_cli_data, .on_close = q_close};
    bl_tls_server_t *srv;
    int port = atoi(opt(argc, argv, "--port", "0"));
    if (bl_tls_listen(loop, sctx, "127.0.0.1", port, &scb, NULL, &srv) ||
        bl_tls_connect(loop, cctx, "127.0.0.1", bl_tls_server_port(srv), "master.test", &ccb, NULL,
                       &q.cli_conn))
        return 2;
    /* Give the writer a second against a stopped reader, then resume. */
    uv_timer_start(&q.resume, q_resume, 1000, 0);
    while (q.closed < 2 && uv_run(loop, UV_RUN_ONCE))
        ;
    bl_tls_server_close(srv);
    uv_run(loop, UV_RUN_DEFAULT);
    double secs = (double)(q.t_done - q.t0) / 1e9;
    printf("received=%zu of %zu queued_max=%zu limit=%zu refusals=%zu drains=%zu "
           "throughput_MBps=%.1f\n",
           q.received, q.total, q.max_queued, limit, q.refusals, q.drains,
           secs > 0 ? (double)q.total / 1e6 / secs : 0.0);
    bl_tls_ctx_free(sctx);
    bl_tls_ctx_free(cctx);
    int ok = q.received == q.total && q.max_queued <= limit && q.refusals > 0 && q.drains > 0;
    printf("%s\n", ok ? "queue ok" : "queue FAILED");
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    bl_log_init("tls_echo", BL_LOG_WARN, 0);
    if (argc >= 2 && !strcmp(argv[1], "server"))
        return run_server(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "queue"))
        return run_queue(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "client"))
        return run_client(argc, argv);
    fprintf(stderr, "usage: tls_echo server|client --cert F --key F --ca F --port N ...\n");
    return 2;
}
