/* SPDX-License-Identifier: MIT */
/* Following the master: a persisted store per followed feed, the sync client, their metrics. */
#ifndef MIRROR_FOLLOW_H
#define MIRROR_FOLLOW_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "sync_client.h"
#include "zones.h"

/*
 * Every feed that a zone follows from the [sync] master gets one store under
 * state_dir (persist.h), restored before any query is answered. The sync
 * client asks for what each store lacks; each object it verified is
 * persisted, then applied (a store that wants a fresh snapshot asks for
 * one). Freshness reaches the feed's zones (a frozen feed's listings give
 * no positive answers, in a combined zone too) and the metrics: connection, master serial and lag,
 * heartbeat age, propagation of each change from its decision at the master, refused objects, and
 * the health of the state directory. Every tick the time as of which each feed was current is kept
 * in its state directory, so a restart without the master does not look fresh.
 */
typedef struct mirror_follow mirror_follow_t;

/* --check-config: the [sync] TLS files load as a client context (the key
 * matches the certificate). 0 without [sync]. */
int mirror_follow_check(const mirror_config_t *c, char *err, size_t errlen);
/* Opens and restores a store per followed feed of zs (none without
 * [sync]); zs->metrics must be set. On error err says which state_dir. */
int mirror_follow_open(mirror_zones_t *zs, mirror_follow_t **out, char *err, size_t errlen);
/* Starts the sync client on loop (nothing without followed zones). */
int mirror_follow_start(mirror_follow_t *f, uv_loop_t *loop, char *err, size_t errlen);
/* Loop thread, every tick: gauges and the persisted current time. */
void mirror_follow_tick(mirror_follow_t *f, int64_t now_ms);
/* SIGHUP: the [sync] client reads its certificate, key and CA files again
 * (mirror_sync_reload_tls); 0 without a sync client. */
int mirror_follow_reload_tls(mirror_follow_t *f);
/* The sync client or the pull client runs (the ticks keep their state current). */
int mirror_follow_active(const mirror_follow_t *f);
/* /healthz: 1 and a message when a state directory is not writable. */
int mirror_follow_health(const mirror_follow_t *f, char *msg, size_t n);
/* Stops the sync client (its handles close on the next loop run). */
void mirror_follow_stop(mirror_follow_t *f);
/* Stops and releases f. NULL is a no-op. */
void mirror_follow_free(mirror_follow_t *f);

#endif
