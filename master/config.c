/* SPDX-License-Identifier: MIT */
/* blsync-master's configuration: the option table, the checks that span options, --print-config. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "key.h"
#include "log.h"
#include "public.h"
#include "tls.h"

static const bl_conf_name_t sync_modes[] = {{"normal", 0}, {"full", 1}, {NULL, 0}};
static const bl_conf_section_t sections[] = {
    {.name = "master"},
    {.name = "http",
     .doc = "The admin and report API (docs/OPERATIONS.md); keep it on loopback or a private "
            "network, the public page is [public]. Every request but /v1/health needs a token "
            "(reads may use read_token). A request that lacks it is answered 401 (403 without a "
            "configured token), and one declaring a "
            "body larger than max_body 413, from its header alone: no byte of its body is read. "
            "blsync_http_refused_total counts what the bounds below refuse, by reason."},
    {.name = "public",
     .doc =
         "The public lookup and review page (docs/OPERATIONS.md): one address at a time, as "
         "HTML at / and JSON at /api/lookup/IP, and the review request form; off unless "
         "listen is set. It never names mirrors or shows reporters, nor lists the blocklist "
         "unless serve_spool is on. Point "
         "the mirrors' TXT template at it (txt = Listed; see https://HOST/?ip=$). Its "
         "idle and request timeouts are those of [http]; lookups and requests have per-client rate "
         "limits (a client is an IPv4 address or an IPv6 /64), answered 429 past them. With "
         "several feeds ([master] feeds) a lookup shows the address in each feed, and a review "
         "request names the feed of the listing."},
    {.name = "publisher",
     .doc = "Signed deltas and snapshots of the feed, written into the spool the sync server "
            "serves."},
    {.name = "policy",
     .doc = "An address is listed when the weighted reports within window reach threshold; the "
            "listing expires duration after the last report."},
    {.name = "kind.policy",
     .doc = "Listings the policy makes: their A value 127.0.0.a and TXT "
            "reason id."},
    {.name = "kind.manual", .doc = "Listings an operator adds through the API or blsyncctl."},
    {.name = "kind.import", .doc = "Listings blsyncctl import adds."},
    {.name = "metrics",
     .doc = "Prometheus /metrics and /healthz (docs/METRICS.md) on their own address, off when "
            "listen is unset; keep it on loopback unless Prometheus runs elsewhere. The window "
            "budget is checked at start-up, by --check-config and on SIGHUP: mirror_ttl plus "
            "expected_propagation must fit in window, or a warning (event=window_budget) is "
            "logged."},
    {.name = "sync",
     .doc = "The sync server mirrors subscribe to over mutual TLS 1.3 (blsyncctl certs creates a "
            "CA and the certificates), off unless listen is set. It serves the [publisher] spool "
            "and signs heartbeats with the [publisher] key."},
};

/* trusted_proxies = PREFIX, ... */
static int proxies(const char *v, const char **why)
{
    bl_prefix_t p[MASTER_PUBLIC_MAX_PROXIES];
    size_t n;
    return master_public_proxies_parse(v, p, MASTER_PUBLIC_MAX_PROXIES, &n, why) ? BL_ECONFIG : 0;
}

/*
 * Every option of blsync-master, once. Adding one is one entry:
 *
 *     O("section", "key", BL_CONF_TYPE, field, .def = "TEXT", .help = "One line."),
 *
 * field is a member of master_config_t (config.h); the type is one of
 * conf_schema.h's (DURATION, SIZE, UINT, BOOL, STR, PATH, ADDR, ...); .def is
 * the default as written in the file. Optional: .min and .max (milliseconds
 * for durations, bytes for sizes), .flags (BL_CONF_HOT when reload_config in
 * main.c applies it on SIGHUP), .example, .doc (more for the manual). Checks
 * that span options go in master_config_load. Then `bash
 * tests/config/docs.sh --update` regenerates blsync.conf(5)'s list and
 * deploy/blsync-master.conf (test config_docs fails until it has run).
 */
#define O(sec, k, t, field, ...)                                                                   \
    {                                                                                              \
        .section = sec, .key = k, .type = t, BL_CONF_AT(master_config_t, field), __VA_ARGS__       \
    }
#define KIND(sec, i, reason_def)                                                                   \
    O(sec, "a", BL_CONF_UINT, policy.kind[i].a, .def = "2", .min = 2, .max = 255,                  \
      .help = "A value of these listings: the answer is 127.0.0.a."),                              \
        O(sec, "reason", BL_CONF_UINT, policy.kind[i].reason, .def = reason_def, .max = 65535,     \
          .help = "TXT reason id of these listings (the mirrors' reason.N templates).")
#define KIND_DURATION(sec, i)                                                                      \
    O(sec, "duration", BL_CONF_DURATION, policy.kind[i].duration_ms, .def = "0",                   \
      .help = "How long these listings last (0: until removed).")

static const bl_conf_opt_t opts[] = {
    O("master", "feed", BL_CONF_STR, feed, .def = "main", .flags = BL_CONF_NONEMPTY, .arg = "name",
      .help = "Name of the feed this master publishes."),
    O("master", "db", BL_CONF_PATH, db, .def = "/var/lib/blsync/master.db",
      .help = "SQLite store (the systemd unit's StateDirectory is /var/lib/blsync)."),
    O("master", "sync", BL_CONF_ENUM, sync_full, .def = "normal", .names = sync_modes,
      .help = "SQLite synchronous mode (full: every commit survives a power loss)."),
    O("master", "log_level", BL_CONF_ENUM, log_level, .def = "info", .names = bl_conf_log_levels,
      .help = "Least severe event logged (one line per event, key=value)."),
    O("master", "feeds", BL_CONF_STR, feed_files, .arg = "file ...",
      .example = "/etc/blsync/feeds.d/spamtrap.conf",
      .help = "Files of further feeds this master publishes, separated by spaces.",
      .doc = "A feed file is a master configuration read over this one: it sets its own "
             "[master] feed and db and may set [master] description, sync and "
             "verify_digest_on_start, "
             "[publisher] (but spool and key: every feed is signed with this file's key into "
             "this file's spool), [policy] and [kind.*]. The listeners are this file's: the API "
             "takes ?feed=NAME, the sync server and the spool's HTTP layout serve every feed, "
             "/metrics labels each feed's series. At most 16 feeds in all."),
    O("master", "description", BL_CONF_STR, description, .arg = "text",
      .example = "Spam traps only: listed at the first trap hit",
      .help = "What this feed lists, in a sentence the public page shows with it.",
      .doc = "Shown under the feed's name on the public lookup page and in its JSON "
             "(\"description\"); a feed file's own (a feed file does not take the main "
             "configuration's). Read at start-up."),
    O("master", "verify_digest_on_start", BL_CONF_BOOL, verify_digest, .def = "yes",
      .help = "Recompute the state digest from the store at start-up."),

    O("http", "listen", BL_CONF_ADDR, listen, .def = "127.0.0.1:8053",
      .help = "Address of the API (loopback by default)."),
    O("http", "token", BL_CONF_STR, token, .flags = BL_CONF_SECRET,
      .help = "Bearer token required for every request but /v1/health, reads included.",
      .doc = "--print-config never shows it; prefer token_file."),
    O("http", "token_file", BL_CONF_PATH, token_file, .example = "/etc/blsync/api.token",
      .help = "Read the token from this file instead (keep it root:blsync 0640)."),
    O("http", "read_token", BL_CONF_STR, read_token, .flags = BL_CONF_SECRET,
      .help = "Bearer token that may only read (lookups, listings, status, reviews).",
      .doc = "For dashboards and scripts that must not change anything; token also reads. "
             "Without a token of either kind every request but /v1/health is refused."),
    O("http", "read_token_file", BL_CONF_PATH, read_token_file,
      .example = "/etc/blsync/api-read.token", .help = "Read read_token from this file instead."),
    O("http", "max_body", BL_CONF_SIZE, max_body, .def = "4M", .min = 1024, .max = 1 << 30,
      .help = "Largest request body."),
    O("http", "threads", BL_CONF_UINT, http_threads, .def = "2", .min = 1, .max = 64,
      .help = "HTTP threads."),
    O("http", "max_connections", BL_CONF_UINT, http_max_conns, .def = "256", .min = 1,
      .max = 100000,
      .help = "Connections at once before any request is checked (at most a quarter of the "
              "descriptor limit).",
      .doc = "At the limit a newcomer takes the place of the oldest idle or slow connection of "
             "the busiest client address."),
    O("http", "max_connections_per_address", BL_CONF_UINT, http_max_conns_per_addr, .def = "16",
      .min = 1, .max = 100000, .help = "Connections at once from one client address."),
    O("http", "request_timeout", BL_CONF_DURATION, http_request_timeout_ms, .def = "30s",
      .min = 100, .help = "Time a whole request (header and body) may take.",
      .doc = "Counted from the connection's opening or the previous answer; a slower client is "
             "disconnected, however steadily it sends. Sending the answer is not counted."),
    O("http", "idle_timeout", BL_CONF_DURATION, http_idle_timeout_ms, .def = "10s", .min = 1000,
      .help = "An idle connection is closed after this long.",
      .doc = "While an answer is sent, a reader that takes none of it for this long is closed; "
             "one that reads on, however slowly, is not."),

    O("public", "listen", BL_CONF_ADDR, public_listen, .example = "0.0.0.0:8080",
      .help = "Address of the public lookup and review page (unset: none)."),
    O("public", "tls_cert", BL_CONF_PATH, public_cert, .example = "/etc/blsync/tls/public.pem",
      .help = "Certificate chain (PEM) for HTTPS; with tls_key the page is served over TLS only.",
      .doc = "Read at start: a renewed certificate takes effect at the next restart."),
    O("public", "tls_key", BL_CONF_PATH, public_key, .example = "/etc/blsync/tls/public.key",
      .help = "Private key (PEM) of tls_cert."),
    O("public", "threads", BL_CONF_UINT, public_threads, .def = "2", .min = 1, .max = 64,
      .help = "HTTP threads of the public listener (each with its own store reader)."),
    O("public", "max_connections", BL_CONF_UINT, public_max_conns, .def = "256", .min = 1,
      .max = 100000, .help = "Connections at once on the public listener."),
    O("public", "max_connections_per_address", BL_CONF_UINT, public_max_conns_per_addr, .def = "8",
      .min = 1, .max = 100000, .help = "Connections at once from one client address."),
    O("public", "trusted_proxies", BL_CONF_STR, public_proxies, .check = proxies,
      .arg = "prefix, ...", .example = "127.0.0.1, 10.0.0.0/8",
      .help = "Reverse proxies in front of the page, whose X-Forwarded-For is believed (unset: "
              "none).",
      .doc = "When a request comes from one of these addresses or prefixes, its client is the "
             "right-most address of X-Forwarded-For that is not itself a trusted proxy; rate "
             "limits and logs use that address. From any other peer the header is ignored. "
             "The proxies are exempt from max_connections_per_address (max_connections still "
             "bounds them); each of their clients is bounded by "
             "max_requests_per_proxied_client instead."),
    O("public", "max_requests_per_proxied_client", BL_CONF_UINT, public_max_proxied, .def = "8",
      .min = 1, .max = 100000,
      .help = "Requests in flight at once from one client behind a trusted proxy.",
      .doc = "The client is the forwarded address (an IPv6 one by its /64). A request counts "
             "from its header's arrival to the end of its answer; past the limit it is answered "
             "429 with Retry-After: 1 at once. Clients connecting directly are bounded by "
             "max_connections_per_address."),
    O("public", "max_body", BL_CONF_SIZE, public_max_body, .def = "64K", .min = 4096,
      .max = 1 << 20, .help = "Largest request body (a review request with every field full)."),
    O("public", "lookup_rate", BL_CONF_NUMBER, lookup_rate, .def = "60", .min = 0, .max = 100000000,
      .help = "Lookups per minute one client may make (0: no limit)."),
    O("public", "lookup_burst", BL_CONF_NUMBER, lookup_burst, .def = "30", .min = 1,
      .max = 100000000, .help = "Lookups one client may make at once before lookup_rate applies."),
    O("public", "request_rate", BL_CONF_NUMBER, request_rate, .def = "6", .min = 0,
      .max = 100000000, .help = "Review requests per hour one client may file (0: no limit)."),
    O("public", "request_burst", BL_CONF_NUMBER, request_burst, .def = "3", .min = 1,
      .max = 100000000, .help = "Review requests one client may file at once."),
    O("public", "max_open_requests", BL_CONF_UINT, max_open_reviews, .def = "1000", .min = 1,
      .max = 100000000, .help = "Open review requests at most; past it new ones are refused (503).",
      .doc = "The oldest are kept: operators answer them, then requests are taken again. With "
             "several feeds, each feed's queue holds this many."),
    O("public", "recent_delisting", BL_CONF_DURATION, recent_delisting_ms, .def = "7d",
      .help = "A delisting this recent is shown and may still be reviewed."),
    O("public", "response_limit", BL_CONF_DURATION, review_response_ms, .def = "24h",
      .flags = BL_CONF_HOT,
      .help = "Operators answer a request within this (the alert BlsyncReviewUnanswered).",
      .doc = "Exported as blsync_master_review_response_limit_seconds."),
    O("public", "serve_spool", BL_CONF_BOOL, public_serve_spool, .def = "no", .flags = BL_CONF_HOT,
      .help = "Serve the spool's HTTP layout at /spool/ for pulling mirrors and caches.",
      .doc = "GET and HEAD of /spool/FEED/head and /spool/FEED/by-hash/HEX.EXT, read from "
             "the files [publisher] http writes (required); a mirror's [sync] upstream is then "
             "http(s)://HOST:PORT/spool. Off by default: it hands the whole list (every "
             "snapshot) to anyone who reaches the page, which a public list wants and a "
             "private one does not. Not rate limited; the connection bounds apply. Put HTTP "
             "caches in front for many mirrors (docs/OPERATIONS.md). Applies on SIGHUP; "
             "blsync_master_spool_requests_total counts the requests by kind and status."),
    O("public", "spool_long_poll_wait", BL_CONF_DURATION, public_spool_wait_ms, .def = "30s",
      .max = 60000, .flags = BL_CONF_HOT,
      .help = "Longest hold of a long poll, GET /spool/FEED/head?after=SERIAL (0: none).",
      .doc = "The request is answered as soon as the head's serial is above SERIAL, when the "
             "head is signed again (http_head_refresh) or at the end of this wait, with the "
             "current head; either answer may be cached under its "
             "URL (docs/ARCHITECTURE.md), so caches in front coalesce the mirrors' long polls. "
             "Keep it below the caches' proxy_read_timeout and proxy_cache_lock_timeout. "
             "Applies on SIGHUP."),
    O("public", "spool_long_polls", BL_CONF_UINT, public_spool_max_held, .def = "128", .min = 1,
      .max = 1000000, .flags = BL_CONF_HOT,
      .help = "Long polls held at once; past it they are answered 503 (Retry-After: 1).",
      .doc = "Each holds a connection of max_connections: keep it below that. "
             "blsync_master_spool_long_polls is the number held now. Applies on SIGHUP."),

    O("publisher", "spool", BL_CONF_PATH, pub.spool, .def = "/var/lib/blsync/spool",
      .help = "Published objects, one directory per feed."),
    O("publisher", "key", BL_CONF_PATH, pub.key_path, .def = "/etc/blsync/master.key",
      .help = "Ed25519 signing key (blsyncctl keygen); root:blsync 0640."),
    O("publisher", "delay", BL_CONF_DURATION, publish_delay_ms, .def = "100ms",
      .help = "Quiet time that ends a batch of changes."),
    O("publisher", "max_delay", BL_CONF_DURATION, publish_max_delay_ms, .def = "1s",
      .help = "Longest a batch waits after its first change (not shorter than delay)."),
    O("publisher", "retry_max", BL_CONF_DURATION, retry_max_ms, .def = "30s",
      .help = "Backoff ceiling after a failed publish."),
    O("publisher", "object_ttl", BL_CONF_DURATION, pub.object_ttl_ms, .def = "7d",
      .help = "Signed expiry of each object, the mirrors' freeze protection."),
    O("publisher", "snapshot_every", BL_CONF_UINT, pub.snapshot_every, .def = "64", .max = 1000000,
      .help = "Publish a snapshot every n deltas (0: only when none exists)."),
    O("publisher", "history_count", BL_CONF_UINT, pub.history_count, .def = "1024", .min = 2,
      .max = 100000000, .help = "Objects the spool keeps at most for mirrors catching up.",
      .doc = "The newest snapshot and delta always stay; a mirror behind the history gets a "
             "snapshot."),
    O("publisher", "history_bytes", BL_CONF_SIZE, pub.history_bytes, .def = "1G", .min = 4096,
      .help = "Bytes of objects the spool keeps at most."),
    O("publisher", "async_snapshot_entries", BL_CONF_UINT, pub.async_snapshot_entries,
      .def = "100000", .max = 2000000000,
      .help = "States this large are snapshotted off the store lock, so ingestion does not pause."),
    O("publisher", "http", BL_CONF_BOOL, pub.http, .def = "yes",
      .help = "Write the spool's HTTP layout (FEED/head, FEED/by-hash/) for pulling mirrors.",
      .doc = "Point any static web server or HTTP cache at the spool directory; mirrors pull "
             "with [sync] upstream = URL. The layout and its Cache-Control guidance are in "
             "docs/ARCHITECTURE.md."),
    O("publisher", "http_head_ttl", BL_CONF_DURATION, pub.http_head_ttl_ms, .def = "60s",
      .min = 1000, .max = 86400000,
      .help = "Signed expiry of the head: a mirror refuses a head older than this.",
      .doc = "It bounds how long a cache can serve an old head unnoticed; keep it above the "
             "mirrors' poll interval plus the caches' max-age plus http_head_refresh."),
    O("publisher", "http_head_refresh", BL_CONF_DURATION, pub.http_head_refresh_ms, .def = "5s",
      .min = 100, .max = 3600000,
      .help = "The head is signed again this often, the pull path's heartbeat."),
    O("publisher", "http_merge_points", BL_CONF_UINT, pub.http_merge_points, .def = "8", .max = 16,
      .help = "Merged catch-up deltas to the head from head-2, head-4, ... head-2^N.",
      .doc = "A mirror n serials behind fetches at most n/2 deltas and one merged delta; each "
             "publish rebuilds them from up to 2^(N+1) deltas."),

    O("policy", "threshold", BL_CONF_NUMBER, policy.threshold, .def = "2", .max = 1000000000,
      .help = "Weighted reports within window that list an address (above 0)."),
    O("policy", "weight_user", BL_CONF_NUMBER, policy.weight[MASTER_SRC_USER], .def = "1",
      .max = 1000000000, .help = "Weight of a user report."),
    O("policy", "weight_spamtrap", BL_CONF_NUMBER, policy.weight[MASTER_SRC_SPAMTRAP], .def = "2",
      .max = 1000000000, .help = "Weight of a spamtrap hit."),
    O("policy", "window", BL_CONF_DURATION, policy.window_ms, .def = "24h",
      .help = "Reports count towards threshold for this long."),
    O("policy", "duration", BL_CONF_DURATION, policy.duration_ms, .def = "24h",
      .help = "A policy listing expires this long after the last report."),
    O("policy", "relist_grace", BL_CONF_DURATION, policy.relist_grace_ms, .def = "24h",
      .help = "No policy re-listing this long after an operator removed a listing."),
    O("policy", "future_skew", BL_CONF_DURATION, policy.future_skew_ms, .def = "5m",
      .help = "How far in the future a report time may be."),
    O("policy", "max_report_age", BL_CONF_DURATION, policy.max_age_ms, .def = "7d",
      .help = "Older reports are refused."),
    O("policy", "mirror_active", BL_CONF_DURATION, policy.mirror_active_ms, .def = "4h",
      .flags = BL_CONF_HOT,
      .help = "A mirror silent for longer is reported gone and leaves the delisting SLO.",
      .doc = "See blsync_master_mirror_active and the alert BlsyncMirrorGone."),
    O("policy", "report_retention", BL_CONF_DURATION, report_retention_ms, .def = "30d",
      .help = "Reports older than this are deleted."),
    O("policy", "expire_interval", BL_CONF_DURATION, tick_ms, .def = "1s", .min = 10,
      .help = "Expiry check interval."),
    O("policy", "min_prefix4", BL_CONF_UINT, policy.min_len4, .def = "8", .max = 32,
      .help = "Shortest IPv4 prefix that may be listed."),
    O("policy", "min_prefix6", BL_CONF_UINT, policy.min_len6, .def = "32", .max = 128,
      .help = "Shortest IPv6 prefix that may be listed."),

    KIND("kind.policy", MASTER_KIND_POLICY, "1"),
    KIND("kind.manual", MASTER_KIND_MANUAL, "2"),
    KIND_DURATION("kind.manual", MASTER_KIND_MANUAL),
    KIND("kind.import", MASTER_KIND_IMPORT, "3"),
    KIND_DURATION("kind.import", MASTER_KIND_IMPORT),

    O("metrics", "listen", BL_CONF_ADDR, metrics_listen, .example = "127.0.0.1:9153",
      .help = "Address of /metrics and /healthz (unset: none)."),
    O("metrics", "window", BL_CONF_DURATION, window_ms, .def = "4h", .min = 1000,
      .flags = BL_CONF_HOT,
      .help = "The delisting propagation window: every active mirror must have a delisting "
              "within it.",
      .doc = "Exported as blsync_propagation_window_seconds; "
             "blsync_master_delistings_window_broken_total and the alert rules measure against "
             "it."),
    O("metrics", "mirror_ttl", BL_CONF_DURATION, mirror_ttl_ms, .def = "5m", .flags = BL_CONF_HOT,
      .help = "The mirrors' TTL of positive answers (their [zone] ttl), spent from the window.",
      .doc = "Resolvers may keep answering \"listed\" this long after a mirror applied a "
             "delisting."),
    O("metrics", "expected_propagation", BL_CONF_DURATION, expected_prop_ms, .def = "30m",
      .flags = BL_CONF_HOT,
      .help = "The propagation to the mirrors you expect (the window budget)."),

    O("sync", "listen", BL_CONF_ADDR, sync_listen, .example = "0.0.0.0:7353",
      .help = "Address of the sync server (unset: no sync server)."),
    O("sync", "cert", BL_CONF_PATH, sync.cert_file, .example = "/etc/blsync/tls/master.pem",
      .help = "This master's certificate (required with listen).",
      .doc = "Read again, with tls_key and ca, on SIGHUP: the next handshakes present the new "
             "certificate, sessions up keep theirs. Files that do not load leave the ones in use."),
    O("sync", "tls_key", BL_CONF_PATH, sync.tls_key_file, .example = "/etc/blsync/tls/master.key",
      .help = "Its private key (required with listen)."),
    O("sync", "ca", BL_CONF_PATH, sync.ca_file, .example = "/etc/blsync/tls/ca.pem",
      .help = "CA of the mirrors' client certificates (a mirror's name is their CN)."),
    O("sync", "pinned", BL_CONF_PATH, sync.pinned_file, .example = "/etc/blsync/tls/pinned",
      .help = "Instead of (or with) ca: a file of pinned client certificate SHA-256 hashes."),
    O("sync", "revoked", BL_CONF_PATH, sync.revoked_file, .example = "/etc/blsync/tls/revoked",
      .help = "Mirror names refused, one per line.",
      .doc = "The file is read again on SIGHUP, which closes the sessions of newly revoked "
             "mirrors."),
    O("sync", "heartbeat_interval", BL_CONF_DURATION, sync.heartbeat_interval_ms, .def = "5s",
      .help = "A signed heartbeat per feed this often."),
    O("sync", "heartbeat_ttl", BL_CONF_DURATION, sync.heartbeat_ttl_ms, .def = "0",
      .help = "How long a heartbeat is valid (0: six intervals)."),
    O("sync", "silent_after", BL_CONF_DURATION, sync.silent_ms, .def = "0",
      .help = "A mirror that sends nothing for this long while heartbeats go out is closed as "
              "gone or hung (0: four heartbeat intervals, at least 10s)."),
    O("sync", "max_queue", BL_CONF_SIZE, sync.max_queue, .def = "8M", .min = 4096,
      .help = "Write queue per mirror."),
    O("sync", "stuck", BL_CONF_DURATION, sync.stuck_ms, .def = "60s",
      .help = "A mirror whose queue stays over half full for this long is disconnected."),
    O("sync", "max_mirrors", BL_CONF_UINT, sync.max_mirrors, .def = "10000", .min = 1,
      .max = 1000000, .help = "Connected mirrors at most."),
    O("sync", "handshake_timeout", BL_CONF_DURATION, sync.handshake_timeout_ms, .def = "10s",
      .min = 100, .help = "Deadline of a whole TLS handshake, before a mirror has authenticated."),
    O("sync", "max_handshakes", BL_CONF_UINT, sync.max_handshakes, .def = "256", .min = 1,
      .max = 1000000,
      .help = "TLS handshakes in progress at once (at most a quarter of the descriptor limit).",
      .doc = "At the limit a newcomer takes the place of the oldest handshake of the address "
             "holding most of them, or, coming from an address a mirror authenticated from "
             "before, of the oldest handshake from an address no mirror ever did; otherwise it "
             "is closed at once. blsync_master_sync_refused_total{stage=\"connection\"} counts "
             "the refusals. When the process runs out of file descriptors the sync listener "
             "accepts and closes what waits, pauses (100 ms, doubling to 2 s) and resumes by "
             "itself."),
    O("sync", "max_handshakes_per_address", BL_CONF_UINT, sync.max_handshakes_per_addr, .def = "0",
      .max = 1000000,
      .help = "TLS handshakes in progress at once from one address (0: a quarter of "
              "max_handshakes, at least 8)."),
};

const bl_conf_schema_t master_conf_schema =
    BL_CONF_SCHEMA("blsync-master", master_config_t, sections, opts);

void master_config_defaults(master_config_t *c)
{
    memset(c, 0, sizeof *c);
    /* The modules' defaults cover their fields that are no option. */
    master_pub_conf_defaults(&c->pub);
    master_policy_defaults(&c->policy);
    master_sync_conf_defaults(&c->sync);
    bl_conf_defaults(&master_conf_schema, c);
}

int master_parse_duration(const char *s, int64_t *ms)
{
    return bl_cfg_duration(s, ms, NULL) ? BL_EINVAL : 0;
}

int master_parse_listen(const char *s, char *host, size_t hostlen, uint16_t *port)
{
    const char *colon;
    size_t hl;
    if (*s == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':')
            return BL_EINVAL;
        hl = (size_t)(rb - s - 1);
        s++;
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return BL_EINVAL;
        hl = (size_t)(colon - s);
    }
    if (hl == 0 || hl >= hostlen)
        return BL_EINVAL;
    memcpy(host, s, hl);
    host[hl] = 0;
    uint64_t p;
    if (bl_cfg_uint(colon + 1, 0, 65535, &p, NULL))
        return BL_EINVAL;
    *port = (uint16_t)p;
    return 0;
}

static int read_token(const char *file, char *token, size_t size, const char *path, char *err,
                      size_t errlen)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        snprintf(err, errlen, "%s: token file %s: %s", path, file, strerror(errno));
        return BL_ECONFIG;
    }
    char buf[258];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = 0;
    if (!n || n >= size) {
        snprintf(err, errlen, "%s: token file %s: empty or longer than %zu bytes", path, file,
                 size - 1);
        return BL_ECONFIG;
    }
    memcpy(token, buf, n + 1);
    return 0;
}

/* [sync] listen (checked by the table) into the sync server's host and port. */
static void sync_address(master_config_t *c)
{
    struct sockaddr_storage ss;
    socklen_t len;
    c->sync_enabled = c->sync_listen[0] != 0;
    if (!c->sync_enabled || bl_cfg_listen(c->sync_listen, -1, &ss, &len, NULL))
        return;
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &v6->sin6_addr, c->sync.host, sizeof c->sync.host);
        c->sync.port = ntohs(v6->sin6_port);
    } else {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &v4->sin_addr, c->sync.host, sizeof c->sync.host);
        c->sync.port = ntohs(v4->sin_port);
    }
}

int master_config_feed_files(const master_config_t *c, char paths[][PATH_MAX], int max)
{
    int n = 0;
    for (const char *p = c->feed_files; *p;) {
        p += strspn(p, " \t");
        size_t len = strcspn(p, " \t");
        if (!len)
            break;
        if (n == max || len >= PATH_MAX)
            return -1;
        memcpy(paths[n], p, len);
        paths[n++][len] = 0;
        p += len;
    }
    return n;
}

int master_config_load_feed(const master_config_t *main_c, const char *path, master_config_t *out,
                            char *err, size_t errlen)
{
    *out = *main_c;
    out->description[0] = 0; /* the main feed's sentence does not describe this one */
    int rc = master_config_load(path, out, err, errlen);
    if (rc)
        return rc;
    static const char *const shared[] = {"http", "public", "metrics", "sync", NULL};
    char what[400];
    if (bl_conf_section_changes(&master_conf_schema, main_c, out, shared, what, sizeof what)) {
        snprintf(err, errlen, "%s: %s belong in the main configuration (a feed file sets one feed)",
                 path, what);
        return BL_ECONFIG;
    }
    const char *own = strcmp(out->feed_files, main_c->feed_files)       ? "[master] feeds"
                      : strcmp(out->pub.spool, main_c->pub.spool)       ? "[publisher] spool"
                      : strcmp(out->pub.key_path, main_c->pub.key_path) ? "[publisher] key"
                      : out->log_level != main_c->log_level             ? "[master] log_level"
                                                                        : NULL;
    if (own) {
        snprintf(err, errlen, "%s: %s belongs in the main configuration", path, own);
        return BL_ECONFIG;
    }
    return 0;
}

int master_config_load_feeds(const master_config_t *c, master_config_t *out, char paths[][PATH_MAX],
                             char *err, size_t errlen)
{
    int n = master_config_feed_files(c, paths, MASTER_FEEDS_MAX - 1);
    if (n < 0) {
        snprintf(err, errlen, "[master] feeds: more than %d files, or a path too long",
                 MASTER_FEEDS_MAX - 1);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (master_config_load_feed(c, paths[i], &out[i], err, errlen))
            return -1;
        for (int k = -1; k < i; k++) {
            const master_config_t *o = k < 0 ? c : &out[k];
            const char *what = !strcmp(o->feed, out[i].feed) ? "feed"
                               : !strcmp(o->db, out[i].db)   ? "db"
                                                             : NULL;
            if (what) {
                snprintf(err, errlen, "%s: [master] %s is also %s's", paths[i], what,
                         k < 0 ? "the main configuration" : paths[k]);
                return -1;
            }
        }
    }
    return n;
}

int master_config_load(const char *path, master_config_t *c, char *err, size_t errlen)
{
    bl_cfg_err_t e;
    int rc = bl_conf_load(&master_conf_schema, c, path, &e);
    if (rc) {
        snprintf(err, errlen, "%s", e.msg);
        return rc;
    }
    if (c->token_file[0] && read_token(c->token_file, c->token, sizeof c->token, path, err, errlen))
        return BL_ECONFIG;
    if (c->read_token_file[0] &&
        read_token(c->read_token_file, c->read_token, sizeof c->read_token, path, err, errlen))
        return BL_ECONFIG;
    if (!c->public_cert[0] != !c->public_key[0]) {
        snprintf(err, errlen, "%s: [public] needs both tls_cert and tls_key, or neither", path);
        return BL_ECONFIG;
    }
    if (c->public_serve_spool && !c->pub.http) {
        snprintf(err, errlen, "%s: [public] serve_spool needs [publisher] http = yes", path);
        return BL_ECONFIG;
    }
    sync_address(c);
    if (c->sync_enabled && (!c->sync.cert_file[0] || !c->sync.tls_key_file[0] ||
                            (!c->sync.ca_file[0] && !c->sync.pinned_file[0]))) {
        snprintf(err, errlen, "%s: [sync] needs cert, tls_key and ca (or pinned)", path);
        return BL_ECONFIG;
    }
    snprintf(c->sync.spool, sizeof c->sync.spool, "%s", c->pub.spool);
    if (c->publish_max_delay_ms < c->publish_delay_ms) {
        snprintf(err, errlen, "%s: publisher max_delay is shorter than delay", path);
        return BL_ECONFIG;
    }
    if (c->policy.threshold <= 0) {
        snprintf(err, errlen, "%s: policy threshold must be above 0", path);
        return BL_ECONFIG;
    }
    return 0;
}

int master_config_print(const master_config_t *c, FILE *f)
{
    fprintf(f, "# blsync-master --print-config: the effective configuration.\n"
               "# Commented-out lines hold defaults; the API token is never shown.\n");
    return bl_conf_print(&master_conf_schema, c, f, 0);
}

int master_config_check(const master_config_t *c, const char *path, FILE *out)
{
    bl_key_t *k = NULL;
    errno = 0;
    int rc = bl_key_load(c->pub.key_path, &k);
    if (rc || !bl_key_is_private(k)) {
        fprintf(out, "blsync-master: %s: key %s: %s\n", path, c->pub.key_path,
                rc == BL_EIO && errno ? strerror(errno)
                : rc                  ? bl_strerror(rc)
                                      : "not a private key (the public half?)");
        bl_key_free(k);
        return BL_EKEY;
    }
    bl_key_free(k);
    /* The sync server's files must be readable (their content is checked at start). */
    const char *files[][2] = {{"cert", c->sync.cert_file},
                              {"tls_key", c->sync.tls_key_file},
                              {"ca", c->sync.ca_file},
                              {"pinned", c->sync.pinned_file},
                              {"revoked", c->sync.revoked_file}};
    for (size_t i = 0; c->sync_enabled && i < sizeof files / sizeof files[0]; i++) {
        if (!files[i][1][0])
            continue;
        FILE *f = fopen(files[i][1], "r");
        if (!f) {
            fprintf(out, "blsync-master: %s: [sync] %s %s: %s\n", path, files[i][0], files[i][1],
                    strerror(errno));
            return BL_EIO;
        }
        fclose(f);
    }
    /* The certificate, its key and the CA load together (what start-up and a
     * SIGHUP do): systemctl reload runs this check before the signal. */
    if (c->sync_enabled) {
        bl_tls_config_t tc = {.cert_file = c->sync.cert_file,
                              .key_file = c->sync.tls_key_file,
                              .ca_file = c->sync.ca_file[0] ? c->sync.ca_file : NULL,
                              .pinned_file = c->sync.pinned_file[0] ? c->sync.pinned_file : NULL};
        bl_tls_ctx_t *ctx = NULL;
        if (bl_tls_ctx_new_server(&tc, &ctx)) {
            fprintf(out, "blsync-master: %s: [sync] cert %s, tls_key %s or ca %s unusable\n", path,
                    c->sync.cert_file, c->sync.tls_key_file, c->sync.ca_file);
            return BL_ECONFIG;
        }
        bl_tls_ctx_free(ctx);
    }
    if (!c->token[0])
        fprintf(out,
                "blsync-master: %s: warning: no API token: state changes through "
                "the API are disabled\n",
                path);
    char msg[256];
    if (bl_cfg_window_check(c->window_ms, c->mirror_ttl_ms, c->expected_prop_ms, msg, sizeof msg))
        fprintf(out, "blsync-master: %s: warning: %s\n", path, msg);
    return 0;
}

void master_config_window_warn(const master_config_t *c)
{
    char msg[256];
    if (bl_cfg_window_check(c->window_ms, c->mirror_ttl_ms, c->expected_prop_ms, msg, sizeof msg))
        BL_WARN("window_budget", "problem=%s", bl_log_q(msg));
}

size_t master_config_access(const master_config_t *c, bl_access_t *out, size_t cap)
{
    const bl_access_t all[] = {
        {"[publisher] key", c->pub.key_path, 0},
        {"[http] token_file", c->token_file, 0},
        {"[master] db", c->db, 2},
        {"[publisher] spool", c->pub.spool, 1},
        {"[sync] cert", c->sync_enabled ? c->sync.cert_file : NULL, 0},
        {"[sync] tls_key", c->sync_enabled ? c->sync.tls_key_file : NULL, 0},
        {"[sync] ca", c->sync_enabled ? c->sync.ca_file : NULL, 0},
        {"[sync] pinned", c->sync_enabled ? c->sync.pinned_file : NULL, 0},
        {"[sync] revoked", c->sync_enabled ? c->sync.revoked_file : NULL, 0},
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0] && n < cap; i++)
        out[n++] = all[i];
    return n;
}
