/* SPDX-License-Identifier: MIT */
/* A libmicrohttpd server bounded before any handler runs: connections, time, memory, log lines. */
#ifndef BL_HTTP_GUARD_H
#define BL_HTTP_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#include "metrics.h"
#include "rd.h"

/*
 * What a client without credentials can hold, and for how long:
 *  - max_per_addr connections from one client address; more are closed at
 *    once (reason "address_limit"); a peer the server exempts (exempt(),
 *    e.g. a trusted reverse proxy whose clients it bounds itself) is held
 *    only by max_conns, and as the address holding the most it is the
 *    first the eviction below picks from;
 *  - max_conns connections at once on the listener; at the limit a
 *    newcomer takes the place of the oldest connection of the address
 *    holding the most, which is shut down ("evicted"): one that is idle or
 *    still sending its header if there is any, else one whose body or
 *    answer is still under way. A flood from many addresses thus holds the
 *    limit but cannot keep a client that sends its request at once from
 *    being answered. ("too_many": the newcomer is closed at once, when
 *    every connection is untracked, which only lack of memory causes);
 *  - a whole-request deadline: a request must have arrived in full and its
 *    answer gone out within request_timeout_ms of the connection opening,
 *    or of the previous answer on a kept-alive connection; a connection
 *    past it is shut down whatever it is doing (reason "deadline"), so a
 *    client sending a byte a second holds its slot no longer than that;
 *  - idle_timeout_s without a byte either way closes the connection; while
 *    an answer goes out, idle_timeout_s without the peer acknowledging a
 *    byte of it (libmicrohttpd's own timeout counts only its writes, which a
 *    full send buffer stops however steadily the reader drains it);
 *  - memory_limit bytes of buffer per connection for the request header,
 *    and memory_limit / 256 query arguments (more: 414, the connection
 *    closed);
 *  - a request whose header breaks RFC 9112's rules (a malformed or
 *    folded field line, a control character in a value; Host missing in
 *    HTTP/1.1, repeated or invalid; Content-Length fields that disagree;
 *    a Transfer-Encoding other than chunked alone) is answered 400 (501
 *    for a coding other than chunked) before the handler sees it, and the
 *    connection closed;
 *  - the handler sees the path of an absolute-form target
 *    ("GET http://host/v1/health" as "/v1/health"), which RFC 9112 3.2.2
 *    has a server accept.
 * libmicrohttpd's own messages go to the log (event http_server), where
 * the flood limit of log.h applies. Refusals are counted per reason in the
 * family refused {listener, reason} and the open connections in the gauge
 * connections {listener}.
 */
typedef enum {
    BL_HTTP_REFUSED_ADDR,      /* "address_limit" */
    BL_HTTP_REFUSED_FULL,      /* "too_many" */
    BL_HTTP_REFUSED_EVICTED,   /* "evicted" */
    BL_HTTP_REFUSED_DEADLINE,  /* "deadline" */
    BL_HTTP_REFUSED_TOO_LARGE, /* "too_large": a body over the limit (the server decides) */
    BL_HTTP_REFUSED_AUTH,      /* "unauthorized": no or a wrong token (the server decides) */
    BL_HTTP_REFUSED_N
} bl_http_refusal_t;

/* The label value of a refusal reason. */
const char *bl_http_refusal_name(bl_http_refusal_t r);

#define BL_HTTP_MAX_CONNS       256
#define BL_HTTP_MAX_PER_ADDR    16
#define BL_HTTP_IDLE_TIMEOUT_S  10
#define BL_HTTP_REQUEST_TIMEOUT 30000
#define BL_HTTP_MEMORY_LIMIT    (32u << 10)

typedef struct {
    const char *listener;        /* label value and log name: "api", "metrics" */
    unsigned max_conns;          /* 0: BL_HTTP_MAX_CONNS, at most a quarter of RLIMIT_NOFILE */
    unsigned max_per_addr;       /* 0: BL_HTTP_MAX_PER_ADDR */
    unsigned idle_timeout_s;     /* 0: BL_HTTP_IDLE_TIMEOUT_S */
    uint64_t request_timeout_ms; /* 0: BL_HTTP_REQUEST_TIMEOUT */
    size_t memory_limit;         /* 0: BL_HTTP_MEMORY_LIMIT */
    bl_metric_t *refused;        /* counter family {listener, reason}; NULL: not exported */
    bl_metric_t *connections;    /* gauge family {listener}; NULL: not exported */
    /* Peers exempt from max_per_addr (1: exempt); NULL: none. Called at accept. */
    int (*exempt)(void *cls, const struct sockaddr *sa);
    void *exempt_cls;
    /* The server's own completion callback (MHD_OPTION_NOTIFY_COMPLETED), optional. */
    MHD_RequestCompletedCallback completed;
    void *completed_cls;
} bl_http_guard_conf_t;

typedef struct bl_http_guard bl_http_guard_t;

/* Starts a libmicrohttpd daemon listening on sa, with flags (MHD_USE_*;
 * the guard adds MHD_USE_ERROR_LOG and MHD_USE_ITC), the access handler h
 * and its cls, and the caller's further options extra (NULL or an array
 * ending in MHD_OPTION_END; it must not set the options the guard sets but
 * MHD_OPTION_URI_LOG_CALLBACK, which the guard's own calls).
 * Returns 0 and *out, BL_ENOMEM, or BL_EIO when libmicrohttpd cannot start
 * (errno kept). */
int bl_http_guard_start(const bl_http_guard_conf_t *c, unsigned flags, const struct sockaddr *sa,
                        MHD_AccessHandlerCallback h, void *cls, const struct MHD_OptionItem *extra,
                        bl_http_guard_t **out);
struct MHD_Daemon *bl_http_guard_daemon(const bl_http_guard_t *g);
/* The limits in force (after defaults and the descriptor bound). */
unsigned bl_http_guard_max_conns(const bl_http_guard_t *g);
/* Counts a refusal decided by the handler (and logs it, flood-limited). */
void bl_http_guard_refused(bl_http_guard_t *g, bl_http_refusal_t why, const char *detail);
uint64_t bl_http_guard_count(const bl_http_guard_t *g, bl_http_refusal_t why);
/* A request held on purpose (a long poll of ms at most): its deadline moves
 * to ms plus request_timeout_ms from now. Like bl_http_guard_answering it
 * needs no guard pointer (a request may arrive before bl_http_guard_start
 * has returned one). Any thread. */
void bl_http_guard_extend(struct MHD_Connection *conn, uint64_t ms);
/* The handler queued conn's answer: the request is over, and its deadline
 * with it until the answer is sent (a large one to a steady but slow reader
 * may take longer than request_timeout_ms; one that acknowledges none of it
 * for idle_timeout_s is closed). It needs no guard pointer: a request may
 * be answered before bl_http_guard_start has returned one. Called from the
 * handler (libmicrohttpd's thread of conn). */
void bl_http_guard_answering(struct MHD_Connection *conn);
/* Stops the deadline thread and the daemon (waiting for handlers running
 * now), then frees g. NULL is a no-op. */
void bl_http_guard_stop(bl_http_guard_t *g);

/* A request's body as it arrives, for handlers that take one (the master's
 * API, the public page): allocated at the first call of the handler,
 * freed by bl_http_req_completed (set it as bl_http_guard_conf_t.completed),
 * which first calls done(done_arg) when the handler set it: however the
 * request ends (answered, timed out, cut, aborted by the client). */
typedef struct {
    bl_buf_t body;
    int answered;    /* a refusal went out before the body: ignore what follows */
    int ignore_body; /* a method that takes no body */
    int nul_path;    /* the raw path holds %00 (the server saw it before decoding): refuse */
    void (*done)(void *arg);
    void *done_arg;
} bl_http_req_t;
void bl_http_req_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                           enum MHD_RequestTerminationCode toe);

/* The next element of a list field value (RFC 9110 5.6.1) at *s: its start
 * and *len, without the whitespace around it, empty elements skipped; *s
 * moves past it. NULL at the end. */
const char *bl_http_list_next(const char **s, size_t *len);

/* The declared Content-Length of the request being handled: 0 and *len, or
 * -1 when there is none (chunked or no body). A value too large for 64 bits
 * reads as UINT64_MAX. */
int bl_http_content_length(struct MHD_Connection *c, uint64_t *len);

#endif
