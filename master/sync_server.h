/* SPDX-License-Identifier: MIT */
/* The master's sync server: serves the spool's signed objects to mirrors over mutual TLS. */
#ifndef MASTER_SYNC_SERVER_H
#define MASTER_SYNC_SERVER_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "tls.h"

/*
 * Mirrors connect, authenticate with their client certificate (the CN is the
 * mirror's name) and send one HELLO per feed with the serial and digest they
 * hold. The server answers from the spool (spool/FEED/SERIAL.delta,
 * SERIAL.snap, and any *.keycert sent first): the chain of deltas from the
 * mirror's state, or the newest snapshot when the chain is broken or larger
 * than the snapshot, then every new object as soon as the publisher reports
 * it. Each connection keeps only a cursor per feed (the last serial sent), so
 * a slow mirror costs the master a bounded queue and nothing more: it gets the
 * next object when its queue drains, and a snapshot once it has fallen past
 * the history. A signed heartbeat of every feed goes out every interval.
 * Everything runs on one libuv loop; only master_sync_pub_hook is thread-safe.
 */
typedef struct master_sync master_sync_t;

typedef struct {
    char host[64];                 /* listen address (numeric) */
    int port;                      /* 0 picks a free port (see master_sync_port) */
    char spool[PATH_MAX];          /* spool root: one directory per feed */
    char key_path[PATH_MAX];       /* Ed25519 private key signing heartbeats */
    char cert_file[PATH_MAX];      /* TLS server certificate */
    char tls_key_file[PATH_MAX];   /* its private key */
    char ca_file[PATH_MAX];        /* CA of mirror client certificates */
    char pinned_file[PATH_MAX];    /* optional pinned client certificate hashes */
    char revoked_file[PATH_MAX];   /* optional revoked mirror names */
    int64_t heartbeat_interval_ms; /* 0: 5000 */
    int64_t heartbeat_ttl_ms;      /* signed expiry of a heartbeat; 0: 6 intervals */
    size_t max_queue;              /* per-connection write queue; 0: 8 MiB */
    int sndbuf;                    /* per-connection kernel send buffer; 0: kernel default */
    size_t max_mirrors;            /* connections at most; 0: 10000 */
    int64_t stuck_ms;              /* queue over half full this long: disconnect; 0: 60000 */
    int64_t poll_ms;               /* rescan the spool this often (another process
                                      publishes into it); 0: only the hook */
    /* Before a mirror has authenticated (runtime/tls.h; 0: its defaults). */
    int64_t handshake_timeout_ms;   /* the whole TLS handshake */
    size_t max_handshakes;          /* connections in their handshake at once */
    size_t max_handshakes_per_addr; /* ... from one client address */
} master_sync_conf_t;

void master_sync_conf_defaults(master_sync_conf_t *c);

/* Callbacks into the rest of the master; run on the loop thread. */
typedef struct {
    void *ctx;
    /* A mirror acknowledged serial of feed (also called with the serial of its HELLO). */
    void (*on_ack)(void *ctx, const char *mirror, const char *feed, uint64_t serial,
                   int64_t now_ms);
    /* A mirror connected (up = 1) or went away (up = 0, reason says why). */
    void (*on_mirror)(void *ctx, const char *mirror, int up, const char *reason);
    /* A mirror needs a snapshot newer than any in the spool (its history is
     * gone, or its state diverged): publish one (master_publisher_snapshot).
     * Optional; called once until a new snapshot appears. */
    void (*want_snapshot)(void *ctx, const char *feed);
} master_sync_hooks_t;

/* Loads the TLS context and the signing key, scans the spool, listens.
 * Errors: BL_ECONFIG, BL_EKEY, BL_EIO (logged). */
int master_sync_new(uv_loop_t *loop, const master_sync_conf_t *c, const master_sync_hooks_t *h,
                    master_sync_t **out);
/* Closes every connection and the listener; the server memory is released
 * once the loop has run the close callbacks. NULL is a no-op. */
void master_sync_free(master_sync_t *s);
int master_sync_port(const master_sync_t *s);

/* The publisher's hook (master_pub_hook_t): a new object is durably in the
 * spool. Thread-safe and non-blocking; the loop picks it up and pushes it. */
void master_sync_pub_hook(void *ctx, int type, uint64_t serial, const char *path, uint64_t bytes);
/* Rescans the spool (e.g. after pruning or an external copy) and pushes. Loop thread. */
int master_sync_rescan(master_sync_t *s);
/* Re-reads the revoked list (closing revoked mirrors), rescans the spool
 * (pushing new key certificates), then re-reads the signing key. Loop thread. */
int master_sync_reload(master_sync_t *s);

/* What the server knows of one connected mirror and feed. */
typedef struct {
    char mirror[256];
    char feed[40];
    char addr[64];
    uint64_t sent_serial;
    uint64_t acked_serial;
    int64_t last_contact_ms;
    size_t queued;
} master_sync_peer_t;

/* Fills up to max entries; returns how many connected (mirror, feed) pairs exist. */
size_t master_sync_peers(const master_sync_t *s, master_sync_peer_t *out, size_t max);

/* Totals for /metrics. */
typedef struct {
    uint64_t connections_total, refused_total, objects_sent, bytes_sent, snapshots_sent,
        heartbeats_sent, acks_total, errors_received, disconnects_slow;
    size_t connected;
} master_sync_stats_t;
const master_sync_stats_t *master_sync_stats(const master_sync_t *s);
/* The TLS listener, for its refusals before a session (bl_tls_server_refusals). */
const bl_tls_server_t *master_sync_listener(const master_sync_t *s);

#endif
