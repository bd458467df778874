/* SPDX-License-Identifier: MIT */
/* blsync-master's INI configuration: the option table, loading, checks and --print-config. */
#ifndef MASTER_CONFIG_H
#define MASTER_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "conf_schema.h"
#include "runas.h"
#include "obj.h"
#include "policy.h"
#include "publisher.h"
#include "sync_server.h"

/* Feeds one master publishes at most: its own and those of [master] feeds. */
#define MASTER_FEEDS_MAX 16

typedef struct {
    char feed[BL_FEED_MAX + 1];
    char db[PATH_MAX];
    char feed_files[4096]; /* [master] feeds: files of further feeds, space-separated */
    char description[256]; /* shown with the feed on the public page ("": none) */
    int sync_full;
    int log_level;
    int verify_digest; /* recompute the state digest at start-up */
    /* [http] */
    char listen[128];          /* host:port, [v6]:port */
    char token[256];           /* bearer token for state changes ("" refuses them) */
    char token_file[PATH_MAX]; /* read into token by master_config_load */
    char read_token[256];      /* bearer token for reads only ("": the token alone) */
    char read_token_file[PATH_MAX];
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
    char sync_listen[128]; /* sets sync.host, sync.port and sync_enabled */
    int sync_enabled;
    master_sync_conf_t sync;
    /* [metrics]: Prometheus /metrics on its own address; off unless set. */
    char metrics_listen[128];
    int64_t window_ms;        /* the delisting propagation window */
    int64_t mirror_ttl_ms;    /* the mirrors' positive TTL, spent from the window */
    int64_t expected_prop_ms; /* propagation the operator expects (the window check) */
    /* [public]: the public lookup and review listener (master/public.h); off unless set. */
    char public_listen[128];
    char public_cert[PATH_MAX], public_key[PATH_MAX];
    unsigned public_threads, public_max_conns, public_max_conns_per_addr;
    unsigned public_max_proxied; /* max_requests_per_proxied_client */
    char public_proxies[1024];   /* trusted_proxies (master_public_proxies_parse) */
    size_t public_max_body;
    int public_serve_spool;         /* serve_spool: the spool's HTTP layout under /spool/ */
    int64_t public_spool_wait_ms;   /* spool_long_poll_wait */
    unsigned public_spool_max_held; /* spool_long_polls */
    double lookup_rate, lookup_burst, request_rate, request_burst;
    uint64_t max_open_reviews;
    int64_t recent_delisting_ms, review_response_ms;
    /* [policy], [kind.*] */
    master_policy_t policy;
} master_config_t;

/* Every option of blsync-master (config.c); the manual and sample are generated from it. */
extern const bl_conf_schema_t master_conf_schema;

void master_config_defaults(master_config_t *c);
/* Loads path over the defaults and checks what spans options. On error
 * returns BL_ECONFIG (or BL_EIO) and writes "FILE:LINE: problem" to err. */
int master_config_load(const char *path, master_config_t *c, char *err, size_t errlen);
/* Loads the feed file path over a copy of the main configuration main_c
 * into out: a further feed of the same master. It may set what belongs to
 * one feed ([master] feed, db, sync, verify_digest_on_start, [publisher]
 * but spool and key, [policy], [kind.*]); the listeners and everything
 * else are the main file's, and a feed file that sets them differently is
 * refused (BL_ECONFIG, "FILE: ..." in err). */
int master_config_load_feed(const master_config_t *main_c, const char *path, master_config_t *out,
                            char *err, size_t errlen);
/* The feed files of c's [master] feeds, split at spaces into paths (each
 * at most PATH_MAX - 1 bytes); returns how many, or -1 past max. */
int master_config_feed_files(const master_config_t *c, char paths[][PATH_MAX], int max);
/* Loads every feed file of c's [master] feeds into out[i] (paths[i] its
 * path; both hold MASTER_FEEDS_MAX - 1) and checks that no two feeds share
 * a name or a db. Returns how many, or -1 with "FILE: problem" in err. */
int master_config_load_feeds(const master_config_t *c, master_config_t *out, char paths[][PATH_MAX],
                             char *err, size_t errlen);
/* Writes c as an INI file that loads back to it (--print-config): defaults
 * commented out, the API token never shown. */
int master_config_print(const master_config_t *c, FILE *f);
/* --check-config beyond the syntax: the signing key loads and is private,
 * the [sync] files are readable; writes the problem (and warnings: no API
 * token, the window budget) to out, prefixed with path. 0 when it may start. */
int master_config_check(const master_config_t *c, const char *path, FILE *out);
/* Logs event=window_budget when mirror_ttl plus expected_propagation does
 * not fit in window (at start-up and on reload). */
void master_config_window_warn(const master_config_t *c);
/* Parses a duration like every option does (bl_cfg_duration), for blsyncctl. */
int master_parse_duration(const char *s, int64_t *ms);
/* Splits "host:port" / "[v6]:port" (host names too, for blsyncctl --url). */
int master_parse_listen(const char *s, char *host, size_t hostlen, uint16_t *port);
/* What --check-config run as root checks the daemons' user can use: the files
 * c names and the directories the master writes in; the count written. */
size_t master_config_access(const master_config_t *c, bl_access_t *out, size_t cap);

#endif
