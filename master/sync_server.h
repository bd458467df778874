/* SPDX-License-Identifier: MIT */
/* The master's sync server: serves verified, already-signed spool objects to mirrors over mTLS. */
#ifndef MASTER_SYNC_SERVER_H
#define MASTER_SYNC_SERVER_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "key.h"
#include "obj.h"
#include "tls.h"

/*
 * Mirrors connect, authenticate with their client certificate (the CN is the
 * mirror's name) and send one HELLO per feed with the serial and digest they
 * hold. The server answers from the spool (spool/FEED/SERIAL.delta,
 * SERIAL.snap, and any *.keycert sent first): the chain of deltas from the
 * mirror's state, one merged delta when the chain is long (the merged hook),
 * or the newest snapshot when the chain is broken or larger than the
 * snapshot, then every new object as soon as the publisher reports it. Each
 * connection keeps only a cursor per feed (the last serial sent), so a slow
 * mirror costs the master a bounded queue and nothing more. A signed
 * heartbeat of every feed (the heartbeat hook) goes out every interval.
 *
 * The server holds no signing key and serves nothing it has not verified:
 * every object is verified against the trusted keys when it enters the
 * index (signature, payload hash, and a name that matches its header), and
 * again while it is sent (its header bytes against the indexed ones, its
 * payload hash computed over the bytes read, the last chunk held back until
 * the hash matches). An object that fails is dropped from the index and
 * reported (the damaged hook), and a connection that was being sent it is
 * closed before the frame completes, so no mirror ever receives it whole.
 *
 * Every session has its own id: acknowledgements are reported per session,
 * so two sessions presenting the same certificate are never confused. A
 * mirror that answers heartbeats (HELLO flag BL_HELLO_HB_ACK) and sends
 * nothing for silent_ms is closed as gone or hung.
 *
 * Everything runs on one libuv loop; only master_sync_pub_hook is
 * thread-safe.
 */
typedef struct master_sync master_sync_t;

typedef struct {
    char host[64];                 /* listen address (numeric) */
    int port;                      /* 0 picks a free port (see master_sync_port) */
    char spool[PATH_MAX];          /* spool root: one directory per feed */
    const bl_keyring_t *keys;      /* verifies every served object (not owned; required) */
    char cert_file[PATH_MAX];      /* TLS server certificate */
    char tls_key_file[PATH_MAX];   /* its private key */
    char ca_file[PATH_MAX];        /* CA of mirror client certificates */
    char pinned_file[PATH_MAX];    /* optional pinned client certificate hashes */
    char revoked_file[PATH_MAX];   /* optional revoked mirror names */
    int64_t heartbeat_interval_ms; /* 0: 5000 */
    int64_t heartbeat_ttl_ms;      /* signed expiry of a heartbeat; 0: 6 intervals */
    int64_t silent_ms;             /* no frame for this long from a mirror that answers
                                      heartbeats: closed; 0: 4 intervals, 10 s at least */
    size_t max_queue;              /* per-connection write queue; 0: 8 MiB */
    int sndbuf;                    /* per-connection kernel send buffer; 0: kernel default */
    size_t max_mirrors;            /* connections at most; 0: 10000 */
    int64_t stuck_ms;              /* queue over half full this long: disconnect; 0: 60000 */
    int64_t poll_ms;               /* rescan the spool this often (another process
                                      publishes into it); 0: only the hook */
    size_t merge_min;              /* chains of this many deltas go out merged; 0: 4 */
    /* Before a mirror has authenticated (runtime/tls.h; 0: its defaults). */
    int64_t handshake_timeout_ms;   /* the whole TLS handshake */
    size_t max_handshakes;          /* connections in their handshake at once */
    size_t max_handshakes_per_addr; /* ... from one client address */
} master_sync_conf_t;

void master_sync_conf_defaults(master_sync_conf_t *c);

/* Callbacks into the rest of the master; all run on the loop thread. */
typedef struct {
    void *ctx;
    /* A session of mirror (its certificate name) from addr came up (up = 1)
     * or ended (up = 0, reason says why). sid is unique for the process. */
    void (*on_session)(void *ctx, uint64_t sid, const char *mirror, const char *addr, int up,
                       const char *reason);
    /* Session sid holds serial of feed (an ACK, or the serial of its HELLO;
     * 0 for a mirror ahead of the master). key_id: the signing key of the
     * object of that serial the mirror accepted (as sent to this session,
     * else as in the spool), NULL when unknown. now_ms: when the frame arrived. */
    void (*on_ack)(void *ctx, uint64_t sid, const char *feed, uint64_t serial,
                   const uint8_t *key_id, int64_t now_ms);
    /* A frame arrived from session sid (liveness). Optional. */
    void (*on_contact)(void *ctx, uint64_t sid, int64_t now_ms);
    /* A mirror needs a snapshot newer than any in the spool (its history is
     * gone, or its state diverged): publish one of the head. Optional; called
     * again after 30 s if none has appeared. */
    void (*want_snapshot)(void *ctx, const char *feed);
    /* Signs a heartbeat of feed announcing (serial, digest) into out. Required. */
    int (*heartbeat)(void *ctx, const char *feed, uint64_t serial,
                     const uint8_t digest[BL_DIGEST_SIZE], int64_t now_ms, int64_t ttl_ms,
                     uint8_t out[BL_OBJ_PREFIX]);
    /* The path of a signed delta from (serial, digest) to the head of feed
     * made of at least min_deltas deltas; non-zero when there is none (the
     * chain goes out instead). Optional. */
    int (*merged)(void *ctx, const char *feed, uint64_t serial,
                  const uint8_t digest[BL_DIGEST_SIZE], size_t min_deltas, char *path,
                  size_t pathlen);
    /* The object of serial/type at path failed verification (err): it is no
     * longer served; the owner repairs the spool. Optional. */
    void (*damaged)(void *ctx, const char *feed, uint64_t serial, int type, const char *path,
                    int err);
    /* A mirror holds serial of feed, later than the head (the master was
     * restored from an older backup): the owner may publish past it.
     * Optional. */
    void (*ahead)(void *ctx, const char *feed, uint64_t serial);
    /* The head of feed as its publisher knows it (serial, digest); 0, or
     * non-zero to use the newest object of the spool. Optional. */
    int (*head)(void *ctx, const char *feed, uint64_t *serial, uint8_t digest[BL_DIGEST_SIZE]);
    /* Something was refused, for the metrics: a connection before its
     * session (reason from the TLS layer), a protocol error, or an object a
     * mirror reported refusing (what = "mirror", reason = the error name).
     * Optional. */
    void (*on_refused)(void *ctx, const char *what, const char *reason);
} master_sync_hooks_t;

/* Loads the TLS context, scans and verifies the spool, listens.
 * Errors: BL_ECONFIG, BL_EINVAL (no keys or heartbeat hook), BL_EIO (logged). */
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
/* Re-reads the certificate, key and CA (the next handshakes use them; on
 * error the old ones stay), the revoked list (closing revoked mirrors), rescans the spool
 * (pushing new key certificates) and signs the next heartbeats afresh (a
 * new signing key). Loop thread. */
int master_sync_reload(master_sync_t *s);
/* Whether mirror's certificate name is on the revoked list in effect. Any thread. */
int master_sync_revoked(master_sync_t *s, const char *mirror);

/* What the server knows of one session and feed. */
typedef struct {
    uint64_t sid;
    char mirror[256];
    char feed[40];
    char addr[64];
    uint64_t sent_serial;
    uint64_t acked_serial;
    int64_t last_contact_ms; /* arrival of the last frame from the mirror */
    int answers_heartbeats;  /* its silence means it is gone (BL_HELLO_HB_ACK) */
    size_t queued;
} master_sync_peer_t;

/* Fills up to max entries; returns how many (session, feed) pairs exist. */
size_t master_sync_peers(const master_sync_t *s, master_sync_peer_t *out, size_t max);

/* Totals for /metrics. */
typedef struct {
    uint64_t connections_total, refused_total, objects_sent, bytes_sent, snapshots_sent,
        heartbeats_sent, acks_total, errors_received, disconnects_slow, disconnects_silent,
        objects_damaged;
    size_t connected;
} master_sync_stats_t;
const master_sync_stats_t *master_sync_stats(const master_sync_t *s);
/* Heartbeats of feed sent to mirrors (0 for a feed no mirror asked for). */
uint64_t master_sync_feed_heartbeats(const master_sync_t *s, const char *feed);
/* notAfter (Unix seconds) of the server certificate in use. */
int64_t master_sync_cert_not_after(const master_sync_t *s);
/* Calls fn for every session up, with its mirror's certificate notAfter (a
 * mirror with several sessions comes several times). Loop thread. */
void master_sync_each_mirror_cert(const master_sync_t *s,
                                  void (*fn)(void *ctx, const char *mirror, int64_t not_after),
                                  void *ctx);
/* The TLS listener, for its refusals before a session (bl_tls_server_refusals). */
const bl_tls_server_t *master_sync_listener(const master_sync_t *s);

#endif
