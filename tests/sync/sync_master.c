/* SPDX-License-Identifier: MIT */
/* A standalone sync server over a master's spool directory (master/sync_server), for the sync
 * tests. */

/*
 * blsync-master publishes into its spool; this process serves that spool to
 * mirrors, noticing new objects by polling the directory. On stdout it
 * prints one line per mirror event and acknowledgement ("ack MIRROR FEED
 * SERIAL MS") so that scripts can measure propagation. It signs the
 * heartbeats itself with --key; SIGHUP reloads the revoked list and the key.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "err.h"
#include "key.h"
#include "obj.h"
#include "log.h"
#include "sync_server.h"
#include "util.h"

static master_sync_t *g_sync;
static bl_key_t *g_key;
static bl_keyring_t *g_ring;
static const char *g_key_path;
static struct {
    uint64_t sid;
    char name[256];
} g_sess[4096];

/* The signing key: read at start and on SIGHUP (its public half verifies the spool). */
static int load_key(void)
{
    bl_key_t *k = NULL, *pub = NULL;
    int rc = bl_key_load(g_key_path, &k);
    if (!rc && !bl_key_is_private(k))
        rc = BL_EKEY;
    if (!rc && !(rc = bl_key_from_raw(bl_key_raw(k), &pub)) &&
        !bl_keyring_find(g_ring, bl_key_id(k)))
        rc = bl_keyring_add(g_ring, pub), pub = NULL;
    bl_key_free(pub);
    if (rc) {
        bl_key_free(k);
        return rc;
    }
    bl_key_free(g_key);
    g_key = k;
    return 0;
}

static const char *name_of(uint64_t sid)
{
    for (size_t i = 0; i < sizeof g_sess / sizeof g_sess[0]; i++)
        if (g_sess[i].sid == sid)
            return g_sess[i].name;
    return "?";
}

static void on_session(void *ctx, uint64_t sid, const char *mirror, const char *addr, int up,
                       const char *reason)
{
    (void)ctx;
    (void)addr;
    size_t slot = sid % (sizeof g_sess / sizeof g_sess[0]);
    if (up) {
        g_sess[slot].sid = sid;
        snprintf(g_sess[slot].name, sizeof g_sess[slot].name, "%s", mirror);
    } else if (g_sess[slot].sid == sid) {
        g_sess[slot].sid = 0;
    }
    printf("%s %s %s\n", up ? "up" : "down", mirror, reason);
    fflush(stdout);
}

static void on_ack(void *ctx, uint64_t sid, const char *feed, uint64_t serial,
                   const uint8_t *key_id, int64_t now_ms)
{
    (void)ctx;
    (void)key_id;
    printf("ack %s %s %llu %lld\n", name_of(sid), feed, (unsigned long long)serial,
           (long long)now_ms);
    fflush(stdout);
}

static int heartbeat(void *ctx, const char *feed, uint64_t serial,
                     const uint8_t digest[BL_DIGEST_SIZE], int64_t now_ms, int64_t ttl_ms,
                     uint8_t out[BL_OBJ_PREFIX])
{
    (void)ctx;
    return bl_heartbeat_write(feed, serial, digest, now_ms, ttl_ms, g_key, out);
}

static void on_signal(uv_signal_t *h, int signum)
{
    if (signum == SIGHUP) {
        master_sync_reload(g_sync);
        int rc = load_key();
        printf("reloaded%s\n", rc ? " (key unchanged)" : "");
        fflush(stdout);
        return;
    }
    uv_stop(h->loop);
}

static int copy(char *dst, size_t n, const char *src)
{
    return snprintf(dst, n, "%s", src) >= (int)n ? -1 : 0;
}

int main(int argc, char **argv)
{
    master_sync_conf_t c;
    master_sync_conf_defaults(&c);
    c.port = 0;
    snprintf(c.host, sizeof c.host, "127.0.0.1");
    const char *level = "info";
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        int bad = 0;
        if (!strcmp(a, "--spool"))
            bad = copy(c.spool, sizeof c.spool, v);
        else if (!strcmp(a, "--key"))
            g_key_path = v;
        else if (!strcmp(a, "--cert"))
            bad = copy(c.cert_file, sizeof c.cert_file, v);
        else if (!strcmp(a, "--tls-key"))
            bad = copy(c.tls_key_file, sizeof c.tls_key_file, v);
        else if (!strcmp(a, "--ca"))
            bad = copy(c.ca_file, sizeof c.ca_file, v);
        else if (!strcmp(a, "--pinned"))
            bad = copy(c.pinned_file, sizeof c.pinned_file, v);
        else if (!strcmp(a, "--revoked"))
            bad = copy(c.revoked_file, sizeof c.revoked_file, v);
        else if (!strcmp(a, "--host"))
            bad = copy(c.host, sizeof c.host, v);
        else if (!strcmp(a, "--port"))
            c.port = atoi(v);
        else if (!strcmp(a, "--hb-ms"))
            c.heartbeat_interval_ms = atoll(v);
        else if (!strcmp(a, "--sndbuf"))
            c.sndbuf = atoi(v);
        else if (!strcmp(a, "--stuck-ms"))
            c.stuck_ms = atoll(v);
        else if (!strcmp(a, "--poll-ms"))
            c.poll_ms = atoll(v);
        else if (!strcmp(a, "--max-queue"))
            c.max_queue = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--log-level"))
            level = v;
        else
            bad = 1;
        if (bad) {
            fprintf(stderr, "sync_master: bad argument %s\n", a);
            return 2;
        }
    }
    bl_log_init("sync_master", bl_log_level_parse(level), 0);
    uv_loop_t *loop = uv_default_loop();
    if (!g_key_path || !(g_ring = bl_keyring_new()) || load_key()) {
        fprintf(stderr, "sync_master: --key: no usable private signing key\n");
        return 2;
    }
    c.keys = g_ring;
    master_sync_hooks_t h = {.on_session = on_session, .on_ack = on_ack, .heartbeat = heartbeat};
    int rc = master_sync_new(loop, &c, &h, &g_sync);
    if (rc) {
        fprintf(stderr, "sync_master: %s\n", bl_strerror(rc));
        return 1;
    }
    printf("listening %d\n", master_sync_port(g_sync));
    fflush(stdout);
    uv_signal_t sh, st, si;
    uv_signal_init(loop, &sh);
    uv_signal_init(loop, &st);
    uv_signal_init(loop, &si);
    uv_signal_start(&sh, on_signal, SIGHUP);
    uv_signal_start(&st, on_signal, SIGTERM);
    uv_signal_start(&si, on_signal, SIGINT);
    uv_run(loop, UV_RUN_DEFAULT);
    master_sync_free(g_sync);
    uv_close((uv_handle_t *)&sh, NULL);
    uv_close((uv_handle_t *)&st, NULL);
    uv_close((uv_handle_t *)&si, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    bl_key_free(g_key);
    bl_keyring_free(g_ring);
    return 0;
}
