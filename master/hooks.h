/* SPDX-License-Identifier: MIT */
/* The callbacks that join modules which do not know each other: sync server and API to the rest. */
#ifndef MASTER_HOOKS_H
#define MASTER_HOOKS_H

#include <pthread.h>

#include "acks.h"
#include "config.h"
#include "http.h"
#include "master_metrics.h"
#include "publisher.h"
#include "schedule.h"
#include "store.h"
#include "sync_server.h"

/*
 * The sync server asks the publisher for heartbeats, merged deltas, the
 * head, snapshots, repairs of damaged objects and a jump past a mirror that
 * is ahead; each call is made for the master's one feed (others get
 * BL_EFEED or nothing), under the store's lock where the publisher writes,
 * and a repair or snapshot that leaves nothing pending lets a due snapshot
 * start. Sessions, acknowledgements and contacts go to acks, refusals to
 * the metrics. The API learns of mirror sessions from acks and reports its
 * changes to the schedule.
 */
typedef struct {
    const char *feed;
    pthread_mutex_t *lock;
    master_store_t *store;
    master_publisher_t *pub;
    master_metrics_t *metrics; /* may be NULL */
    master_acks_t *acks;
    master_sched_t *sched;
    master_sync_t *sync; /* may be NULL: no sync server, no revoked list */
} master_hooks_t;

/*
 * A master of several feeds: the sync server's calls go to the hooks of the
 * feed they name, and each feed's acknowledgements learn of a session at
 * its first HELLO or ACK of that feed, so a mirror that follows some of the
 * feeds is a mirror of those feeds only (it neither counts nor holds back
 * delistings in the others). Refusals go to the first feed's metrics, which
 * hold the listeners' series. Loop thread only.
 */
typedef struct {
    master_hooks_t *feeds[MASTER_FEEDS_MAX];
    size_t nfeeds;
    struct master_route *s; /* live sessions, by increasing sid */
    size_t n, cap;
} master_hooks_router_t;

/* The sync server's hooks for the feeds of r (ctx r, which must outlive the server). */
master_sync_hooks_t master_hooks_router(master_hooks_router_t *r);
void master_hooks_router_free(master_hooks_router_t *r);

/* The sync server's hooks, ctx h (which must outlive the server). */
master_sync_hooks_t master_hooks_sync(master_hooks_t *h);
/* Fills the API's changed and mirror hooks with ctx h. */
void master_hooks_http(master_hooks_t *h, master_http_ctx_t *api);

#endif
