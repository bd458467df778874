/* SPDX-License-Identifier: MIT */
/* The DNS server: per-thread SO_REUSEPORT UDP sockets with batched I/O, and a TCP thread (libuv).
 */
#ifndef MIRROR_SERVER_H
#define MIRROR_SERVER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "dns.h"
#include "mirror_metrics.h"
#include "qsbr.h"

typedef struct {
    char *const *listen; /* "127.0.0.1:5353", "[::1]:5353" */
    unsigned nlisten;
    unsigned threads; /* UDP threads per listen address */
    unsigned tcp_idle_ms;
    unsigned tcp_max_conns;
    unsigned udp_max;
    unsigned udp_coalesce_us; /* pause under load to batch queries (0: never) */
    int udp_gso;              /* send same-size answers to one peer with UDP GSO */
    mirror_zone_t *const *zones;
    size_t nzones;
    mirror_qsbr_t *qsbr;
    mirror_metrics_t *metrics; /* may be NULL */
} mirror_server_conf_t;

/* Counters summed over threads (relaxed reads). */
typedef struct {
    uint64_t udp_queries, udp_answers, tcp_queries, tcp_answers, tcp_conns, tcp_refused_conns;
    uint64_t rcode[6];
    uint64_t dropped;
    uint64_t udp_batches; /* recvmmsg calls that returned queries */
    uint64_t udp_pauses;  /* coalescing pauses taken */
} mirror_server_stats_t;

typedef struct mirror_server mirror_server_t;

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
