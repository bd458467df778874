/* SPDX-License-Identifier: MIT */
/* The master's HTTP API (libmicrohttpd): reports, lookups and operator listings. */
#ifndef MASTER_HTTP_H
#define MASTER_HTTP_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "http_guard.h"
#include "master_metrics.h"
#include "policy.h"
#include "rd.h"
#include "publisher.h"
#include "store.h"

/* The bounds of one of the master's HTTP listeners before any handler runs
 * (runtime/http_guard.h; 0: its defaults). */
typedef struct {
    unsigned max_conns, max_conns_per_addr, idle_timeout_s;
    int64_t request_timeout_ms; /* <= 0: the default */
    /* Peers exempt from max_conns_per_addr (bl_http_guard_conf_t.exempt); NULL: none. */
    int (*exempt)(void *cls, const struct sockaddr *sa);
    void *exempt_cls;
    /* The size of the listener's request (a struct whose first member is a
     * bl_http_req_t). A request whose raw path holds %00, which
     * libmicrohttpd's in-place decoding would hide, reaches the handler as
     * its first *con_cls: req_size zeroed bytes, the body initialised and
     * h.nul_path set. 0: paths are not checked. */
    size_t req_size;
} master_http_limits_t;

/* Starts the guarded libmicrohttpd server of one of the master's listeners
 * (listener: "api", "public") on sa: with threads > 1 a pool of that many
 * epoll threads, else one polling thread; the bounds lim; refusals and
 * connections counted in the registry of metrics (may be NULL); request
 * bodies gathered in a bl_http_req_t (bl_http_req_completed frees it); TLS
 * when cert_pem and key_pem are given (both NULL: plain HTTP). Returns what
 * bl_http_guard_start returns (errno kept). */
int master_http_listen(const char *listener, const struct sockaddr *sa, unsigned threads,
                       const master_http_limits_t *lim, master_metrics_t *metrics,
                       const char *cert_pem, const char *key_pem, MHD_AccessHandlerCallback h,
                       void *cls, bl_http_guard_t **out);

/* Counters for logs and /metrics (updated under the lock). */
typedef struct {
    uint64_t reports_accepted_total;
    uint64_t reports_refused_total;
    uint64_t listings_added_total; /* by the policy */
    uint64_t operator_actions_total;
    uint64_t requests_total;
    uint64_t requests_rejected_total; /* 4xx */
    uint64_t store_errors_total;      /* 5xx */
} master_http_stats_t;

/* What the API works on. Every handler takes lock around store access;
 * changed(arg) is called (lock held) after a committed change so the
 * caller can schedule a publish. */
/* One live sync session of a mirror, for /v1/status. */
typedef struct {
    uint64_t sid;
    char addr[64];
    uint64_t acked;
} master_http_session_t;

typedef struct master_http_ctx {
    pthread_mutex_t *lock;
    master_store_t *store;
    const master_policy_t *policy;
    /* The next feed of a master of several (NULL: none): a request with
     * ?feed=NAME works on the feed of that name, one without it on the first.
     * The token, max_body and limits are the first feed's. */
    struct master_http_ctx *next_feed;
    master_publisher_t *pub; /* may be NULL: status omits publisher data */
    const char *token;       /* "" or NULL: state changes are refused */
    const char *read_token;  /* "" or NULL: reads need token */
    size_t max_body;
    void (*changed)(void *arg);
    void *changed_arg;
    master_metrics_t *metrics; /* may be NULL */
    /* Optional, called with lock held: how many sync sessions of mirror are
     * up (a mirror with a session counts as active; more than one is one
     * certificate on two hosts). */
    int (*mirror_up)(void *arg, const char *mirror);
    void *mirror_up_arg;
    /* Optional, lock held: up to max live sessions of mirror as
     * {sid, addr, acked}; returns how many there are. */
    int (*mirror_sessions)(void *arg, const char *mirror, master_http_session_t *out, int max);
    /* Optional, lock held: 1 and the hex id (16 digits) of the signing key of
     * the object mirror last acknowledged, 0 when unknown. */
    int (*mirror_key)(void *arg, const char *mirror, char hex[17]);
    /* Optional, any thread: whether mirror's certificate is revoked ([sync] revoked). */
    int (*mirror_revoked)(void *arg, const char *mirror);
    /* Optional, lock held: forgets mirror outside the store (its
     * acknowledgements); BL_ESTATE while it has a live session. */
    int (*mirror_forget)(void *arg, const char *mirror);
    int64_t window_ms; /* the propagation window, shown by status (0: not shown) */
    master_http_limits_t limits;
    master_http_stats_t stats;
} master_http_ctx_t;

typedef struct master_http master_http_t;

/* Starts serving on host:port (numeric address) with threads worker
 * threads. ctx must outlive the server. */
int master_http_start(master_http_ctx_t *ctx, const char *host, uint16_t port, unsigned threads,
                      master_http_t **out);
/* Stops accepting, waits for running requests and frees the server. */
void master_http_stop(master_http_t *h);

/* Request handling without the network (tests, fuzzing): method, url
 * (path and optional ?query), Authorization header value (may be NULL),
 * body. Appends the JSON response to out and returns the HTTP status. */
int master_http_handle(master_http_ctx_t *ctx, const char *method, const char *url,
                       const char *auth, const uint8_t *body, size_t len, bl_buf_t *out);

/* Parses a JSON body of reports (one object or an array) into r (caller
 * frees *r and the strings through master_reports_free). Each refused item
 * adds "index: why" to errs. Returns 0, or BL_EPROTO when the body is
 * unusable as a whole (reason in why). */
typedef struct {
    master_report_t *r;
    size_t n;
    const char **whys; /* the refusal message of each refused item (static strings) */
    size_t nwhys;
} master_reports_t;
int master_reports_parse(const master_policy_t *p, const uint8_t *body, size_t len, int64_t now_ms,
                         master_reports_t *out, bl_buf_t *errs, size_t *nerr, char *why,
                         size_t whylen);
void master_reports_free(master_reports_t *r);

/* Parses an RFC 3339 UTC time ("2026-11-27T03:00:00Z", fraction allowed)
 * to Unix milliseconds. */
int master_parse_time(const char *s, int64_t *ms);
/* Formats Unix milliseconds as RFC 3339 UTC; needs 32 bytes. */
char *master_format_time(int64_t ms, char *buf, size_t n);

#endif
