/* SPDX-License-Identifier: MIT */
/* What every mirror holds: acknowledgements per session and per identity, propagation timing. */
#ifndef MASTER_ACKS_H
#define MASTER_ACKS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "master_metrics.h"
#include "store.h"

/*
 * A mirror's identity is its certificate name; it may have several sessions
 * at once (a reconnect that overlaps the old connection, or one certificate
 * used on two hosts). Each session keeps its own acknowledged serial, and
 * an identity holds only what all its live sessions hold (the smallest), so
 * an acknowledgement of one session never counts for another. More than one
 * live session is reported (log, metric, alert).
 *
 * An acknowledgement is written to the store within flush_ms (one
 * transaction for all that arrived meanwhile), not on a periodic tick, and
 * when it makes every active mirror hold a delisting, the delisting's
 * propagation (decided -> acknowledged by the last active mirror) is
 * observed at the acknowledgement's arrival time. A mirror's contact time is
 * the arrival of its last frame (mirrors answer heartbeats), so a hung
 * mirror ages even while its TCP connection stays open.
 *
 * The hooks run on the loop thread and take the store's lock themselves
 * (the HTTP threads read the same tables under it); the query functions
 * below are called with that lock held.
 */
typedef struct master_acks master_acks_t;

typedef struct {
    const char *feed;
    master_store_t *store;
    pthread_mutex_t *lock;     /* guards the store */
    master_metrics_t *metrics; /* may be NULL */
    int64_t gone_ms;           /* silent this long (no session): no longer counted */
    int64_t flush_ms;          /* acknowledgements reach the store within this; 0: 10 ms */
} master_acks_conf_t;

/* Loads the known mirrors from the store. */
int master_acks_new(uv_loop_t *loop, const master_acks_conf_t *c, master_acks_t **out);
/* Writes what is pending and releases a once the loop has closed its timer. */
void master_acks_free(master_acks_t *a);
void master_acks_set_gone(master_acks_t *a, int64_t gone_ms);

/* The sync server's hooks (master_sync_hooks_t: on_session, on_ack, on_contact). */
void master_acks_on_session(void *a, uint64_t sid, const char *mirror, const char *addr, int up,
                            const char *reason);
void master_acks_on_ack(void *a, uint64_t sid, const char *feed, uint64_t serial,
                        const uint8_t *key_id, int64_t now_ms);
void master_acks_on_contact(void *a, uint64_t sid, int64_t now_ms);

/* Every tick (lock not held): mirrors without a live session follow the
 * store (an operator may have changed or removed them), and mirrors that
 * went past gone_ms stop holding back the propagation of delistings. */
void master_acks_tick(master_acks_t *a, int64_t now_ms);
/* Forgets mirror (blsyncctl mirrors forget; lock held, the store's row is
 * the caller's): BL_ESTATE while it has a live session, else 0, known or
 * not. It comes back if it connects again. */
int master_acks_forget_locked(master_acks_t *a, const char *mirror);
/* Writes pending acknowledgements now (lock held). */
int master_acks_flush_locked(master_acks_t *a);

/* One mirror as the acknowledgements show it. */
typedef struct {
    const char *name;
    uint64_t acked;        /* serial every live session holds (the last known one without) */
    int64_t contact_ms;    /* arrival of its last frame, or the stored last contact */
    int sessions;          /* live sessions now */
    int active;            /* counted for propagation: a session, or contact within gone_ms */
    const uint8_t *key_id; /* signing key of the object at acked (8 bytes), NULL: unknown */
} master_ack_view_t;

/* Calls fn for every known mirror (lock held). */
void master_acks_each(const master_acks_t *a, int64_t now_ms,
                      void (*fn)(void *ctx, const master_ack_view_t *v), void *ctx);
/* The signing key of the object a mirror holds, as in master_ack_view_t:
 * 1 and its id in hex, or 0 when unknown (lock held). The key is known from
 * the mirror's acknowledgements in this process, not from the store. */
int master_acks_key(const master_acks_t *a, const char *mirror, char hex[17]);
/* Live sessions of mirror now (lock held). */
int master_acks_sessions(const master_acks_t *a, const char *mirror);
/* One live session of a mirror. */
typedef struct {
    uint64_t sid;
    char addr[64];
    uint64_t acked; /* what this session acknowledged (0 before its HELLO) */
} master_ack_session_t;
/* Fills up to max sessions of mirror (lock held); returns how many it has. */
int master_acks_session_list(const master_acks_t *a, const char *mirror, master_ack_session_t *out,
                             int max);
/* The serial every active mirror holds (the last serial when none is active). */
uint64_t master_acks_min(const master_acks_t *a, uint64_t last, int64_t now_ms);

#endif
