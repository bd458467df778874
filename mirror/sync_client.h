/* SPDX-License-Identifier: MIT */
/* The mirror's sync client: one mutual-TLS connection to the master, verified objects in, ACKs out.
 */
#ifndef MIRROR_SYNC_CLIENT_H
#define MIRROR_SYNC_CLIENT_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "digest.h"
#include "key.h"
#include "obj.h"

/*
 * The client connects, says HELLO for each feed with the serial and digest
 * the mirror has persisted, and then receives objects. Each object is opened
 * with the mirror's keyring and limits (signature, hash, bounded lengths),
 * refused past its signed expiry, and handed to the mirror's apply hook,
 * which enforces the state rules (base serial and digest, rollback, fork,
 * digest after apply) and persists atomically; only then is the serial
 * acknowledged.
 *
 * A refusal never loops: a delta for another base makes the client ask
 * again from its state (HELLO) once, and a second one asks for a snapshot;
 * an object that does not open (damaged, truncated, foreign key), a digest
 * mismatch, a fork or an expired object ask for a snapshot at once and tell
 * the master what was refused (an ERROR frame), so that it checks its copy;
 * an error of the mirror itself (full disk) only retries later. Resyncs are
 * spaced by a gap that grows while they do not lead to an apply.
 *
 * Heartbeats are verified like objects and answered with an ACK of what the
 * mirror holds (the master's liveness signal). A feed is fresh while the
 * mirror is current: it holds the serial of a recent heartbeat. Not current
 * for stale_after, it turns stale; for freeze_after, frozen (the caller
 * stops positive answers). A connected mirror stuck behind ages like a cut
 * off one. Reconnects back off exponentially with jitter. Everything runs
 * on one libuv loop.
 */
typedef struct mirror_sync mirror_sync_t;

#define MIRROR_SYNC_MAX_FEEDS 16

enum { MIRROR_FRESH = 0, MIRROR_STALE = 1, MIRROR_FROZEN = 2 };

typedef struct {
    char host[256]; /* master address (numeric) */
    int port;
    char server_name[256];    /* name the master's certificate must carry */
    char cert_file[PATH_MAX]; /* this mirror's client certificate */
    char key_file[PATH_MAX];  /* its private key */
    char ca_file[PATH_MAX];   /* CA of the master's certificate */
    const char *feeds[MIRROR_SYNC_MAX_FEEDS];
    size_t nfeeds;
    int64_t backoff_min_ms; /* 0: 500 */
    int64_t backoff_max_ms; /* 0: 30000 */
    /* Freshness: the time since this mirror last held everything the master
     * had published (a valid heartbeat announcing no more than its serial). */
    int64_t stale_after_ms;  /* not current for this long: stale; 0: 30000 */
    int64_t freeze_after_ms; /* ... for this long: frozen (no positive answers); 0: 10 x stale */
    size_t max_object;       /* largest object accepted; 0: from limits */
    /* Wall-clock time as of which each feed's persisted state was known
     * current (0: now), e.g. from the state directory after a restart. */
    int64_t current_as_of_ms[MIRROR_SYNC_MAX_FEEDS];
} mirror_sync_conf_t;

void mirror_sync_conf_defaults(mirror_sync_conf_t *c);

/* The mirror's side of the protocol. Every hook runs on the loop thread. */
typedef struct {
    void *ctx;
    /* The persisted serial and digest of feed (0 and zeros when it has none). */
    int (*get_state)(void *ctx, const char *feed, uint64_t *serial, uint8_t digest[BL_DIGEST_SIZE]);
    /* Applies a verified delta or snapshot with every mirror rule (base serial and digest,
     * rollback, fork, digest after apply) and persists the new state atomically before returning 0.
     * On error the mirror must still serve its last good state; the BL_E* code decides what the
     * client asks for next. buf[0..len) is the whole object, obj its opened header (already
     * verified against the keyring). */
    int (*apply)(void *ctx, const bl_obj_t *obj, const uint8_t *buf, size_t len);
    /* Freshness of feed changed (MIRROR_FRESH, MIRROR_STALE, MIRROR_FROZEN). */
    void (*on_freshness)(void *ctx, const char *feed, int level);
    /* A key certificate (buf[0..len)) made new_key trusted for feed (it is in
     * the keyring now); persist it so that a restart still trusts it. Optional. */
    void (*on_new_key)(void *ctx, const char *feed, const bl_key_t *new_key, const uint8_t *buf,
                       size_t len);
    /* An object or heartbeat was refused (for logs and metrics). Optional. */
    void (*on_refused)(void *ctx, const char *feed, const char *what, int err);
    /* A valid heartbeat: the master's serial of feed (for lag metrics) and
     * the key that signed it. Optional. */
    void (*on_heartbeat)(void *ctx, const char *feed, uint64_t master_serial, int64_t created_ms,
                         const uint8_t key_id[BL_KEYID_SIZE]);
} mirror_sync_hooks_t;

/* Starts connecting. keys stays owned by the caller and must outlive the
 * client; key certificates add to it. Errors: BL_ECONFIG (TLS files), BL_EINVAL. */
int mirror_sync_new(uv_loop_t *loop, const mirror_sync_conf_t *c, const mirror_sync_hooks_t *h,
                    bl_keyring_t *keys, const bl_limits_t *lim, mirror_sync_t **out);
/* Disconnects and releases the client once the loop has closed its handles. NULL is a no-op. */
void mirror_sync_free(mirror_sync_t *s);
/* Reads the certificate, key and CA files again (SIGHUP): the next handshake
 * uses them, and a session up is closed and made again when the certificate
 * changed, so that the master sees the new one. On error (logged) the files
 * in use stay and BL_ECONFIG is returned. */
int mirror_sync_reload_tls(mirror_sync_t *s);
/* notAfter (Unix seconds) of the client certificate in use. */
int64_t mirror_sync_cert_not_after(const mirror_sync_t *s);
/* Tells the master the state changed outside the protocol (e.g. a restore): sends HELLO again. */
void mirror_sync_resync(mirror_sync_t *s, const char *feed);

/* Asks the master for a snapshot of feed (e.g. to compact persisted deltas). */
void mirror_sync_want_snapshot(mirror_sync_t *s, const char *feed);

/* Freshness of a feed now (MIRROR_*), or -1 if the feed is not followed. */
int mirror_sync_freshness(const mirror_sync_t *s, const char *feed);
/* Milliseconds since the last valid heartbeat of feed arrived (-1 if none yet). */
int64_t mirror_sync_heartbeat_age_ms(const mirror_sync_t *s, const char *feed);
/* Milliseconds since feed was last known current (the freshness age). */
int64_t mirror_sync_current_age_ms(const mirror_sync_t *s, const char *feed);

typedef struct {
    uint64_t connects, disconnects, objects_applied, objects_refused, heartbeats,
        heartbeats_refused, resyncs, snapshots_requested, bytes_received;
    int connected;
    int64_t next_retry_ms; /* backoff delay of the pending reconnect */
    char last_error[160];  /* why the last connection ended or the last refusal */
} mirror_sync_stats_t;
const mirror_sync_stats_t *mirror_sync_stats(const mirror_sync_t *s);

#endif
