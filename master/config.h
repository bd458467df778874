/* SPDX-License-Identifier: MIT */
/* blsync-master's INI configuration: defaults, parsing (inih) and checks. */
#ifndef MASTER_CONFIG_H
#define MASTER_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "obj.h"
#include "policy.h"
#include "publisher.h"
#include "sync_server.h"

typedef struct {
    char feed[BL_FEED_MAX + 1];
    char db[PATH_MAX];
    int sync_full;
    int log_level;
    int verify_digest; /* recompute the state digest at start-up */
    /* [http] */
    char listen[128]; /* host:port, [v6]:port */
    char token[256];  /* bearer token for state changes ("" refuses them) */
    size_t max_body;
    unsigned http_threads;
    /* Bounds before any handler (runtime/http_guard.h; 0: its defaults). */
    unsigned http_max_conns, http_max_conns_per_addr;
    int64_t http_idle_timeout_ms, http_request_timeout_ms;
    /* [publisher] */
    master_pub_conf_t pub;
    int64_t publish_delay_ms; /* quiet time that ends a batch of changes */
    int64_t
        publish_max_delay_ms;    /* a batch is published at most this long after its first change */
    int64_t retry_max_ms;        /* backoff ceiling after a failed publish */
    int64_t tick_ms;             /* expiry check interval */
    int64_t report_retention_ms; /* reports older than this are deleted */
    /* [sync]: the TLS server mirrors subscribe to (sync_server.h); off
     * unless listen is set. spool and key come from [publisher]. */
    int sync_enabled;
    master_sync_conf_t sync;
    /* [metrics]: Prometheus /metrics on its own address; off unless set. */
    char metrics_listen[128];
    int64_t window_ms;        /* the delisting propagation window */
    int64_t mirror_ttl_ms;    /* the mirrors' positive TTL, spent from the window */
    int64_t expected_prop_ms; /* propagation the operator expects (the window check) */
    /* [policy], [kind.*] */
    master_policy_t policy;
} master_config_t;

void master_config_defaults(master_config_t *c);
/* Loads path over the defaults. On error returns BL_ECONFIG (or BL_EIO) and
 * writes "FILE:LINE: problem" to err. */
int master_config_load(const char *path, master_config_t *c, char *err, size_t errlen);
/* Parses "250ms", "30s", "15m", "24h", "7d" (a bare number is seconds). */
int master_parse_duration(const char *s, int64_t *ms);
/* Parses "4096", "64K", "4M", "1G". */
int master_parse_size(const char *s, uint64_t *out);
/* Splits "host:port" / "[v6]:port". */
int master_parse_listen(const char *s, char *host, size_t hostlen, uint16_t *port);

#endif
