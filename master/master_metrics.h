/* SPDX-License-Identifier: MIT */
/* The master's Prometheus metrics (docs/METRICS.md): fed by the API, the publisher and a tick. */
#ifndef MASTER_MASTER_METRICS_H
#define MASTER_MASTER_METRICS_H

#include <stdint.h>

#include "metrics.h"
#include "publisher.h"
#include "store.h"
#include "sync_server.h"

typedef struct master_metrics master_metrics_t;

/* Registers the master's families for feed. window_ms is the propagation
 * window, gone_ms the absence after which a mirror stops counting. */
int master_metrics_new(const char *feed, int64_t window_ms, int64_t gone_ms,
                       master_metrics_t **out);
/* The series of a further feed of the same master in main_m's registry
 * (main_m NULL: *out NULL, no metrics). Free it before main_m. */
int master_metrics_new_feed(master_metrics_t *main_m, const char *feed, master_metrics_t **out);
void master_metrics_free(master_metrics_t *m);
bl_metrics_t *master_metrics_registry(master_metrics_t *m);

/* Events (any thread; NULL m is a no-op). */
void master_metrics_reports(master_metrics_t *m, int source, uint64_t n);
void master_metrics_refused(master_metrics_t *m, const char *why, uint64_t n);
void master_metrics_delisted(master_metrics_t *m, const char *reason, uint64_t n);
/* After a publisher run or snapshot job: ok, the stats before and after. */
void master_metrics_published(master_metrics_t *m, int rc, const master_pub_stats_t *before,
                              const master_pub_stats_t *after);

struct master_acks;
/* Refreshes serial, pending, listings, mirror and propagation gauges from
 * the store and the acknowledgements (acks may be NULL: no mirrors). Loop
 * thread, store lock held. sync may be NULL; it also says which mirrors are
 * revoked. The review gauges (unlabelled) sum every feed's queue as each
 * feed's tick last saw it. */
void master_metrics_tick(master_metrics_t *m, master_store_t *s, master_sync_t *sync,
                         const struct master_acks *acks, int64_t now_ms);
/* A delisting reached the last active mirror age_ms after it was decided. */
void master_metrics_propagated(master_metrics_t *m, int64_t age_ms);
/* The sync server refused something (master_sync_hooks_t.on_refused). */
void master_metrics_sync_refused(master_metrics_t *m, const char *stage, const char *reason);
/* A spool object was quarantined (reason: bl_errname of what was wrong). */
void master_metrics_quarantined(master_metrics_t *m, const char *reason);

/* A reload changed the window or the gone limit (loop thread, lock held). */
void master_metrics_set_limits(master_metrics_t *m, int64_t window_ms, int64_t gone_ms);
/* Counts a configuration reload: ok or error. */
void master_metrics_reloaded(master_metrics_t *m, int ok);

/* The public listener (master/public.c): a lookup by result, a refusal by
 * reason, a review request filed by category (fixed words, any thread). */
void master_metrics_public_lookup(master_metrics_t *m, const char *result);
void master_metrics_public_refused(master_metrics_t *m, const char *reason);
/* A request through a trusted proxy entered (+1) or left (-1) the handler's hands. */
void master_metrics_public_proxied(master_metrics_t *m, int d);
/* The spool's HTTP layout: a request answered (kind head, long_poll, delta,
 * snapshot, keycert or other; status its HTTP status), and long polls held
 * (d +1 or -1). */
void master_metrics_spool_request(master_metrics_t *m, const char *kind, const char *status);
void master_metrics_spool_held(master_metrics_t *m, int d);
void master_metrics_review_filed(master_metrics_t *m, const char *category);
/* [public] response_limit, exported for the alert on unanswered requests. */
void master_metrics_set_review_limit(master_metrics_t *m, int64_t limit_ms);
/* notAfter (Unix seconds) of the public listener's HTTPS certificate. */
void master_metrics_set_public_cert(master_metrics_t *m, int64_t not_after);

/* The policy word of a refusal message (bounded label values). */
const char *master_refusal_word(const char *why);

#endif
