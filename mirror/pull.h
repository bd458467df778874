/* SPDX-License-Identifier: MIT */
/* The mirror's pull client: a feed's signed head and hash-named objects over HTTP(S), from any
 * cache. */
#ifndef MIRROR_PULL_H
#define MIRROR_PULL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "sync_client.h"

/*
 * Every poll (polls start interval minus a random 0..jitter apart, so a
 * change of the head is seen within the interval) the client asks each
 * upstream URL in order of preference for URL/FEED/head (conditional: an
 * unchanged head costs a 304), opens it with the mirror's keyring and
 * refuses one that is foreign (BL_EFEED), expired (BL_EEXPIRED), older than
 * the state held (BL_EROLLBACK) or of the same serial and another digest
 * (BL_EFORK). A valid head newer than the state gives the route
 * (bl_head_route): each object is fetched from URL/FEED/by-hash/SHA256.EXT,
 * must have the size and SHA-256 the head names (else it is opened to say
 * why: truncated, foreign, another object), and then goes through the same
 * checks and apply hook as an object pushed by the master. Any refusal, HTTP
 * error or timeout moves to the next upstream for this poll; the next poll
 * starts again from the first. The freshness rules are the push path's: a
 * valid head announcing the serial held makes the feed current as of the
 * head's signing time.
 *
 * With long_poll and one feed (the mirror runs one client per feed when long
 * polls are on: one feed's held request never delays another's), the head
 * is asked as FEED/head?after=SERIAL&round=N (SERIAL the state held): an upstream that
 * answers with the header Blsync-Long-Poll holds it until a newer head, a
 * new signature or its wait (master/spool_http.h), and the next poll starts
 * at once. N counts the answers that brought nothing newer since SERIAL was
 * reached: every mirror at SERIAL asks the same URL in the same round, so a
 * cache coalesces them into one request upstream, and one that asks a round
 * already answered (a cached answer, back at once) moves to the next. More
 * than 8 such quick answers in a row, an answer without the header (a static
 * server ignores the query) or an error: that upstream is polled every
 * interval, and tried with a long poll again 6 polls later.
 *
 * Transfers run on the mirror's libuv loop through the curl multi socket
 * API (uv_poll per socket, one uv_timer), with keep-alive, HTTP/2 when
 * the server offers it, a timeout per transfer and TLS verification against
 * ca_file or the system store.
 */
typedef struct mirror_pull mirror_pull_t;

#define MIRROR_PULL_MAX_URLS 8

typedef struct {
    const char *urls[MIRROR_PULL_MAX_URLS]; /* base URLs: the spool directory, FEED/head below */
    size_t nurls;
    const char *feeds[MIRROR_SYNC_MAX_FEEDS];
    size_t nfeeds;
    int64_t interval_ms; /* the longest gap between two polls' starts; 0: 10000 */
    int64_t jitter_ms;   /* a random 0..jitter (at most interval) taken off each gap */
    int64_t timeout_ms;  /* one transfer at most; 0: 10000 */
    int long_poll;       /* long polls (below) where an upstream holds them; nfeeds 1 only */
    int64_t stale_after_ms, freeze_after_ms;
    const char *ca_file; /* NULL: the system store */
    size_t max_object;   /* largest object fetched; 0: 1 GiB */
    int64_t current_as_of_ms[MIRROR_SYNC_MAX_FEEDS];
    /* A preferred upstream (the push master) holds feed current: fetch heads
     * only (the freshness they give), and objects only once the mirror has
     * stayed behind a head for a whole poll interval. May be NULL. */
    int (*preferred_current)(void *ctx, const char *feed);
    /* Every transfer (kind "head" or "object", result MIRROR_PULL_*, bytes
     * received) and every refusal (result MIRROR_PULL_REFUSED, what "head",
     * "delta" or "snapshot", err), for metrics. May be NULL. */
    void (*on_event)(void *ctx, const char *upstream, const char *feed, const char *what,
                     int result, int err, uint64_t bytes);
} mirror_pull_conf_t;

/* Starts polling on loop (the first poll at once). The hooks are the push
 * client's, with the same meaning; on_refused's what is "head", "delta",
 * "snapshot" or "keycert". Errors: BL_EINVAL, BL_ENOMEM. */
int mirror_pull_new(uv_loop_t *loop, const mirror_pull_conf_t *c, const mirror_sync_hooks_t *h,
                    bl_keyring_t *keys, const bl_limits_t *lim, mirror_pull_t **out);
/* Stops and releases once the loop has closed its handles. NULL is a no-op. */
void mirror_pull_free(mirror_pull_t *p);
/* The next poll fetches a snapshot of feed. */
void mirror_pull_want_snapshot(mirror_pull_t *p, const char *feed);
/* Freshness of feed now (MIRROR_*), or -1 if not followed. */
int mirror_pull_freshness(const mirror_pull_t *p, const char *feed);
/* Milliseconds since feed was last known current, or -1. */
int64_t mirror_pull_current_age_ms(const mirror_pull_t *p, const char *feed);

/* Per upstream, for metrics: transfers by kind (0 head, 1 object) and result. */
enum {
    MIRROR_PULL_OK,
    MIRROR_PULL_NOT_MODIFIED,
    MIRROR_PULL_HTTP_ERROR,
    MIRROR_PULL_FAILED,
    MIRROR_PULL_REFUSED,
    MIRROR_PULL_NRESULTS
};
typedef struct {
    uint64_t requests[2][MIRROR_PULL_NRESULTS];
    uint64_t bytes;
    int ok; /* the last head from it was valid */
} mirror_pull_upstream_stats_t;
const mirror_pull_upstream_stats_t *mirror_pull_stats(const mirror_pull_t *p, size_t upstream);
const char *mirror_pull_result_name(int result);

#endif
