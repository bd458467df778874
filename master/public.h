/* SPDX-License-Identifier: MIT */
/* The public listener: one address's listing status (HTML and JSON) and review requests. */
#ifndef MASTER_PUBLIC_H
#define MASTER_PUBLIC_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "http.h"
#include "master_metrics.h"
#include "policy.h"
#include "store.h"

/*
 * Served apart from the admin API, for people whose mail is refused:
 *   GET  /?ip=IP                  the page: a lookup form and the result
 *   GET  /api/lookup/IP           the same as JSON
 *   GET  /review?ip=IP[&feed=F]   the review request form
 *   POST /review                  the form sent (CSRF token and cookie)
 *   POST /api/review              the same as JSON
 *   GET  /review/status?id=N&token=T[&feed=F]   a request's state (HTML), and
 *   GET  /api/review/N?token=T[&feed=F]         as JSON
 *   POST /review/reply            information an operator asked for
 *   GET  /spool/FEED/head, /spool/FEED/by-hash/HEX.EXT   the spool's HTTP
 *                                 layout for pulling mirrors and caches,
 *                                 with serve_spool (not rate limited);
 *                                 head?after=SERIAL is a long poll
 *                                 (master/spool_http.h)
 * With several feeds a lookup shows the address in every feed, the first
 * first; a request names the feed of the listing (field feed; default the
 * first) and goes into that feed's queue; a request's id is its feed's, so
 * the status URLs of further feeds carry feed=F (without it every feed is
 * tried: the token tells them apart).
 * Lookups read through their own store connections (one per thread and
 * feed), never under a feed's lock: a flood of lookups does not stall
 * ingestion. Filing a request takes its feed's lock (a write). Per-client token buckets
 * bound lookups and requests (429); the queue is bounded (503). The client
 * is the peer's address, or, when the peer is a trusted proxy, the
 * right-most address of X-Forwarded-For that is not a trusted proxy.
 * Trusted proxies are exempt from the connections-per-address limit; each
 * client behind one has at most max_proxied requests in flight (header
 * read, answer not yet sent; more are answered 429 at their header).
 */
#define MASTER_PUBLIC_MAX_PROXIES 64
/* One feed the page shows: lookups read its store through their own
 * connections; requests about its listings go into its review queue. */
typedef struct {
    const char *name, *description; /* description: "" for none */
    const char *db_path;            /* for the lookup readers */
    const master_policy_t *policy;
    pthread_mutex_t *lock; /* the feed's store lock (filing, operator state) */
    master_store_t *store;
} master_public_feed_t;

typedef struct {
    /* feeds[0] is the master's first feed: the JSON's top-level fields and
     * the default of the review form; with one feed the page names none. */
    master_public_feed_t feeds[MASTER_FEEDS_MAX];
    size_t nfeeds;
    master_metrics_t *metrics; /* may be NULL */
    int64_t window_ms;         /* the propagation window ("up to 4 h") */
    int64_t recent_ms;         /* a delisting this recent is shown and reviewable */
    double lookup_per_min, lookup_burst, request_per_hour, request_burst; /* 0 rate: no limit */
    uint64_t max_open; /* open requests per feed's queue */
    size_t max_body;
    unsigned max_proxied; /* requests in flight per client behind a trusted proxy */
    unsigned threads;
    master_http_limits_t limits;
    const char *tls_cert, *tls_key;                 /* PEM files; both empty: plain HTTP */
    bl_prefix_t proxies[MASTER_PUBLIC_MAX_PROXIES]; /* trusted_proxies */
    size_t nproxies;
    int serve_spool;         /* serve_spool: the HTTP layout under /spool/ (master/spool_http.h) */
    int64_t spool_wait_ms;   /* spool_long_poll_wait: a long poll's longest hold; 0: none */
    unsigned spool_max_held; /* spool_long_polls: long polls held at once */
    const char *spool;       /* [publisher] spool; each feed's layout is in SPOOL/FEED */
} master_public_conf_t;

typedef struct master_public master_public_t;

/* Fills c from the master's [public] options, with mc's feed as the first
 * (its store and lock), and returns it. */
master_public_conf_t *master_public_conf(const master_config_t *mc, master_public_conf_t *c,
                                         pthread_mutex_t *lock, master_store_t *store,
                                         master_metrics_t *metrics);
/* Adds a further feed (its feed file's configuration fc, its store and lock). */
void master_public_add_feed(master_public_conf_t *c, const master_config_t *fc,
                            pthread_mutex_t *lock, master_store_t *store);

/* Parses a trusted_proxies list: addresses and prefixes ("127.0.0.1,
 * 10.0.0.0/8") separated by commas or spaces, at most max of them. Returns
 * 0, or BL_EINVAL with *why a static sentence. */
int master_public_proxies_parse(const char *s, bl_prefix_t *out, size_t max, size_t *n,
                                const char **why);

/* Starts the listener on listen ("host:port"); c must outlive it. */
int master_public_start(const master_public_conf_t *c, const char *listen, master_public_t **out);
void master_public_stop(master_public_t *p);
/* serve_spool and the long polls' bounds changed (SIGHUP); NULL is a no-op. */
void master_public_set_spool(master_public_t *p, int on, int64_t wait_ms, unsigned max_held);

/* Human words for a time to delisting ("in about 23 hours"); n >= 48. */
const char *master_public_words(int64_t seconds, char *buf, size_t n);

#endif
