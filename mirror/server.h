/* SPDX-License-Identifier: MIT */
/* The DNS server: per-thread SO_REUSEPORT UDP sockets with batched I/O, and a TCP thread (libuv);
 * or the sockets a service manager passed (systemd socket activation).
 */
#ifndef MIRROR_SERVER_H
#define MIRROR_SERVER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "defences.h"
#include "dns.h"
#include "mirror_metrics.h"
#include "qsbr.h"

#define MIRROR_TCP_PER_CLIENT_DEFAULT 10
#define MIRROR_TCP_QUERY_MS_DEFAULT   2000
#define MIRROR_TCP_PIPELINE_DEFAULT   64
#define MIRROR_TCP_FD_RESERVE         64

/* A socket passed by the service manager (systemd's LISTEN_FDS protocol). */
typedef struct {
    int fd;
    char name[64]; /* its LISTEN_FDNAMES entry (the socket unit's FileDescriptorName=) */
} mirror_inherited_t;

#define MIRROR_INHERITED_MAX 64

typedef struct {
    char *const *listen; /* "127.0.0.1:5353", "[::1]:5353" */
    unsigned nlisten;
    unsigned threads; /* UDP threads per listen address */
    unsigned tcp_idle_ms;
    /* Open TCP connections at most; lowered at start to what RLIMIT_NOFILE
     * leaves room for (the descriptors open then and MIRROR_TCP_FD_RESERVE
     * more for everything else). When they are all open, a new connection
     * from a client under its own limit evicts the longest idle one (or else
     * the one stalled longest in a partial query) instead of being refused. */
    unsigned tcp_max_conns;
    /* Open TCP connections per client (an IPv4 address, an IPv6 /64): the
     * connection past it is closed at once. 0: MIRROR_TCP_PER_CLIENT_DEFAULT. */
    unsigned tcp_max_per_client;
    /* A query begun (a byte of its length prefix or of the message) must be
     * complete within this, else the connection is closed; the idle timeout
     * runs between queries (and bounds this too). 0: MIRROR_TCP_QUERY_MS_DEFAULT. */
    unsigned tcp_query_ms;
    /* Answers queued unsent per connection (the client is not reading them)
     * before the server stops reading its further queries until it does.
     * 0: MIRROR_TCP_PIPELINE_DEFAULT. */
    unsigned tcp_pipeline;
    unsigned udp_max;
    unsigned udp_coalesce_us; /* pause under load to batch queries (0: never) */
    int udp_gso;              /* send same-size answers to one peer with UDP GSO */
    mirror_zone_t *const *zones;
    size_t nzones;
    mirror_qsbr_t *qsbr;
    mirror_metrics_t *metrics;   /* may be NULL */
    mirror_defences_t *defences; /* ACL, RRL, NSID, identity, query log; may be NULL */
    /* Sockets passed by the service manager (mirror_server_inherited): each
     * must be a UDP socket or a listening TCP socket bound to one of the
     * listen addresses, and serves it instead of sockets of the server's
     * own. The server owns them (closes its copies at stop). */
    const mirror_inherited_t *inherited;
    unsigned ninherited;
} mirror_server_conf_t;

/* Counters summed over threads (relaxed reads). */
typedef struct {
    uint64_t udp_queries, udp_answers, tcp_queries, tcp_answers, tcp_conns, tcp_refused_conns;
    uint64_t tcp_evicted;       /* connections closed to make room for another client */
    uint64_t tcp_timeouts;      /* closed: idle, query not complete in time, answers unread */
    uint64_t tcp_accept_pauses; /* accept paused for want of descriptors */
    unsigned tcp_max_conns;     /* the limit in force (after the descriptor limit) */
    uint64_t rcode[6];
    uint64_t dropped;
    uint64_t udp_batches;              /* recvmmsg calls that returned queries */
    uint64_t udp_pauses;               /* coalescing pauses taken */
    uint64_t acl_refused, acl_dropped; /* queries an ACL turned away */
    uint64_t rrl_dropped, rrl_slipped; /* UDP answers over the rate limit */
} mirror_server_stats_t;

typedef struct mirror_server mirror_server_t;

/* The sockets systemd passed to this process (LISTEN_PID is its pid,
 * LISTEN_FDS descriptors from 3, LISTEN_FDNAMES their names), marked
 * close-on-exec; the three variables are unset, so that no child takes them
 * for its own. Returns how many (0: none passed), or -1 with err set. */
int mirror_server_inherited(mirror_inherited_t *out, unsigned max, char *err, size_t errlen);
/* Binds every socket and starts the threads. err gets a message on failure. */
int mirror_server_start(const mirror_server_conf_t *conf, mirror_server_t **out, char *err,
                        size_t errlen);
/* Sets the cached Unix time (seconds) used for expiry checks; the owner
 * refreshes it from a timer (bl_now_ms honours the test clock). */
void mirror_server_set_now(mirror_server_t *s, int64_t now_s);
void mirror_server_stats(mirror_server_t *s, mirror_server_stats_t *st);
/* Stops and joins every thread, closes sockets, frees s. NULL is a no-op. */
void mirror_server_stop(mirror_server_t *s);

/* Parses "1.2.3.4:53", "[::1]:53" into a sockaddr_storage; returns 0 or -1. */
struct sockaddr_storage;
int mirror_parse_hostport(const char *s, struct sockaddr_storage *ss);

#endif
