/* SPDX-License-Identifier: MIT */
/* blsync-mirror configuration: the option table, the checks that span options, --print-config. */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_util.h"
#include "dns.h"
#include "err.h"
#include "log.h"
#include "server.h"

/* Zone names compare in lower case, without the trailing dot. */
static void zone_name(char *name)
{
    size_t l = strlen(name);
    while (l && name[l - 1] == '.')
        name[--l] = 0;
    for (char *p = name; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p + 32);
}

static const bl_conf_section_t sections[] = {
    {.name = "server", .doc = "DNS service, logging and metrics."},
    {.name = "sync",
     .present_off = offsetof(mirror_config_t, sync.enabled) + 1,
     .line_off = offsetof(mirror_config_t, sync.line) + 1,
     .doc = "Follow the master over mutual TLS 1.3: every zone without snapshot, spool_dir or "
            "rbldnsd gets its feed from the master (one zone per feed), its state restored from "
            "state_dir before any query is answered. blsyncctl certs on the master makes the "
            "certificates."},
    {.name = "zone",
     .arr_off = offsetof(mirror_config_t, zones),
     .elem_size = sizeof(mirror_zone_conf_t),
     .count_off = offsetof(mirror_config_t, nzones) + 1,
     .cap = MIRROR_CONF_MAX_ZONES,
     .name_off = offsetof(mirror_zone_conf_t, name),
     .name_size = sizeof(((mirror_zone_conf_t *)0)->name),
     .line_off = offsetof(mirror_zone_conf_t, line) + 1,
     .normalize = zone_name,
     .inst_arg = "name",
     .doc = "One section per DNS zone, serving one feed (a spool_dir, a snapshot or [sync]) or "
            "rbldnsd data files."},
};

/* a = 127.0.0.N or N. */
static int set_a(void *base, const char *key, const char *v, const char **why)
{
    mirror_zone_conf_t *z = base;
    uint64_t x;
    (void)key;
    if (bl_cfg_uint(!strncmp(v, "127.0.0.", 8) ? v + 8 : v, 1, 255, &x, why))
        return BL_ECONFIG;
    z->a = (unsigned)x;
    return 0;
}

static int get_a(const void *base, size_t i, char *key, size_t kn, char *val, size_t vn)
{
    if (i)
        return -1;
    snprintf(key, kn, "a");
    snprintf(val, vn, "127.0.0.%u", ((const mirror_zone_conf_t *)base)->a);
    return 0;
}

/* reason.N = TEMPLATE, N from 0 to 65535. */
static int set_reason(void *base, const char *key, const char *v, const char **why)
{
    mirror_zone_conf_t *z = base;
    uint64_t id;
    if (bl_cfg_uint(key + strlen("reason."), 0, 65535, &id, NULL)) {
        *why = "the reason id is not a number from 0 to 65535";
        return BL_ECONFIG;
    }
    if (id >= z->nreason) {
        char **nr = realloc(z->reason_txt, (id + 1) * sizeof *nr);
        if (!nr) {
            *why = "out of memory";
            return BL_ECONFIG;
        }
        memset(nr + z->nreason, 0, (id + 1 - z->nreason) * sizeof *nr);
        z->reason_txt = nr;
        z->nreason = id + 1;
    }
    char *t = strdup(v);
    if (!t) {
        *why = "out of memory";
        return BL_ECONFIG;
    }
    free(z->reason_txt[id]);
    z->reason_txt[id] = t;
    return 0;
}

static int get_reason(const void *base, size_t i, char *key, size_t kn, char *val, size_t vn)
{
    const mirror_zone_conf_t *z = base;
    for (size_t id = 0; id < z->nreason; id++)
        if (z->reason_txt[id] && i-- == 0) {
            snprintf(key, kn, "reason.%zu", id);
            snprintf(val, vn, "%s", z->reason_txt[id]);
            return 0;
        }
    return -1;
}

static void release_reason(void *base)
{
    mirror_zone_conf_t *z = base;
    for (size_t i = 0; i < z->nreason; i++)
        free(z->reason_txt[i]);
    free(z->reason_txt);
    z->reason_txt = NULL;
    z->nreason = 0;
}

static int nonzero_port(const char *v, const char **why)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (bl_cfg_listen(v, 7353, &ss, &len, why))
        return BL_ECONFIG;
    uint16_t port = ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port;
    if (!port) {
        *why = "port 0";
        return BL_ECONFIG;
    }
    return 0;
}

static int host_name(const char *v, const char **why)
{
    if (strlen(v) > 255 || strpbrk(v, " \t/")) {
        *why = "not a host name";
        return BL_ECONFIG;
    }
    return 0;
}

static int kind_file(const char *v, const char **why)
{
    if (!strchr(v, ':')) {
        *why = "no KIND:";
        return BL_ECONFIG;
    }
    return 0;
}

/*
 * Every option of blsync-mirror, once. Adding one is one entry:
 *
 *     O("server", "key", BL_CONF_TYPE, field, .def = "TEXT", .help = "One line."),
 *
 * with field a member of mirror_config_t (Z(...) for one of
 * mirror_zone_conf_t, OL/ZL for a repeatable char *[] and its count); the
 * type is one of conf_schema.h's (DURATION, SIZE, UINT, BOOL, STR, PATH,
 * ADDR, ...); .def is the default as written in the file. Optional: .min and
 * .max (milliseconds for durations), .unit = 1000 for a duration kept in
 * seconds, .flags (BL_CONF_HOT when reload() in main.c applies it on SIGHUP;
 * BL_CONF_HEAP for a char * field), .example, .doc (more for the manual).
 * Checks that span options go in mirror_config_check. Then `bash
 * tests/config/docs.sh --update` regenerates blsync.conf(5)'s list and
 * deploy/blsync-mirror.conf (test config_docs fails until it has run).
 */
#define O(sec, k, t, field, ...)                                                                   \
    {                                                                                              \
        .section = sec, .key = k, .type = t, BL_CONF_AT(mirror_config_t, field), __VA_ARGS__       \
    }
#define OL(sec, k, t, arr, n, ...)                                                                 \
    {                                                                                              \
        .section = sec, .key = k, .type = t, BL_CONF_LIST(mirror_config_t, arr, n), __VA_ARGS__    \
    }
#define Y(k, t, field, ...) O("sync", k, t, sync.field, __VA_ARGS__)
#define Z(k, t, field, ...)                                                                        \
    {                                                                                              \
        .section = "zone", .key = k, .type = t, BL_CONF_AT(mirror_zone_conf_t, field), __VA_ARGS__ \
    }
#define ZL(k, t, arr, n, ...)                                                                      \
    {                                                                                              \
        .section = "zone", .key = k, .type = t, BL_CONF_LIST(mirror_zone_conf_t, arr, n),          \
        __VA_ARGS__                                                                                \
    }
#define ZC(k, ...)                                                                                 \
    {                                                                                              \
        .section = "zone", .key = k, .type = BL_CONF_CUSTOM, __VA_ARGS__                           \
    }
#define SYNCED  (BL_CONF_HEAP | BL_CONF_NONEMPTY | BL_CONF_REQUIRED)
#define STR_(x) #x
#define STR(x)  STR_(x) /* a default that is a numeric macro */
#define SECONDS(k, field, d, ...)                                                                  \
    Z(k, BL_CONF_DURATION, field, .unit = 1000, .def = d, .max = 0x7fffffffLL * 1000, __VA_ARGS__)

static const bl_conf_opt_t opts[] = {
    OL("server", "listen", BL_CONF_ADDR, listen, nlisten, .flags = BL_CONF_MULTI | BL_CONF_REQUIRED,
       .port = 53, .example = "127.0.0.1:53", .help = "DNS listen addresses, UDP and TCP on each.",
       .doc = "Port 53 needs CAP_NET_BIND_SERVICE, which the systemd unit grants; --listen "
              "replaces this list."),
    O("server", "threads", BL_CONF_UINT, threads, .def = "2", .min = 1, .max = 64,
      .help = "UDP threads per listen address."),
    O("server", "tcp_idle_timeout", BL_CONF_DURATION, tcp_idle_ms, .def = "10s", .min = 1,
      .max = 3600000,
      .help = "How long a DNS TCP connection may wait between queries, and answers may stay "
              "unread, before the mirror closes it."),
    O("server", "tcp_idle_timeout_ms", BL_CONF_UINT, tcp_idle_ms, .flags = BL_CONF_ALIAS, .min = 1,
      .max = 3600000, .help = "tcp_idle_timeout in milliseconds (an older spelling)."),
    O("server", "tcp_max_connections", BL_CONF_UINT, tcp_max_conns, .def = "512", .min = 1,
      .max = 1000000, .help = "Open DNS TCP connections at most.",
      .doc = "When they are all open, a new connection from a client under its own limit evicts "
             "the connection that has waited longest, between queries or in the middle of one; "
             "it is refused only when every connection is busy writing answers. At start the "
             "limit is lowered, with a tcp_connections_limited warning, to what the descriptor "
             "limit (ulimit -n, LimitNOFILE) leaves room for: the descriptors open then and 64 "
             "more for the rest of the daemon."),
    O("server", "tcp_max_connections_per_client", BL_CONF_UINT, tcp_max_per_client,
      .def = STR(MIRROR_TCP_PER_CLIENT_DEFAULT), .min = 1, .max = 65535,
      .help = "Open DNS TCP connections one client (an IPv4 address, an IPv6 /64) may hold.",
      .doc = "The one past it is closed at once; one host or site holds a whole /64."),
    O("server", "tcp_query_timeout_ms", BL_CONF_UINT, tcp_query_ms,
      .def = STR(MIRROR_TCP_QUERY_MS_DEFAULT), .min = 100, .max = 60000, .arg = "ms",
      .help = "A query begun on a DNS TCP connection must be complete within this.",
      .doc = "A byte of its length prefix or of the message begins it; else the connection is "
             "closed. Never longer than tcp_idle_timeout."),
    O("server", "tcp_max_pipelined", BL_CONF_UINT, tcp_pipeline,
      .def = STR(MIRROR_TCP_PIPELINE_DEFAULT), .min = 1, .max = 1024,
      .help = "Answers queued unread on one DNS TCP connection before the mirror stops reading "
              "its further queries until the client reads."),
    O("server", "udp_max_payload", BL_CONF_UINT, udp_max, .def = "1232", .min = 512, .max = 4096,
      .arg = "bytes", .help = "Largest UDP answer with EDNS."),
    O("server", "udp_gso", BL_CONF_BOOL, udp_gso, .def = "yes",
      .help = "Batch same-size UDP answers to one peer with UDP GSO.",
      .doc = "One smaller answer may be the last segment."),
    O("server", "udp_coalesce_us", BL_CONF_UINT, udp_coalesce_us, .def = "1000", .max = 10000,
      .arg = "microseconds",
      .help = "Under load, the longest pause a UDP thread takes so that queries queue up and one "
              "wake-up serves many (0: never).",
      .doc = "The thread pauses only when its measured arrival rate makes at least 4 queries "
             "likely within that time (about 4,000 queries/s per thread at 1000), and only until "
             "about half of its 128-query receive vector has arrived, so a lightly loaded mirror "
             "adds no latency and a loaded one adds at most this much (each pause is shortened by "
             "the overshoot its sleeps showed) while spending less CPU per query. Clients that "
             "wait for their answers before sending more are detected (each half second starts "
             "with a 25 ms probe without pauses) and not paused for during the next 10 s, "
             "doubling up to 40 s while they keep waiting. See "
             "blsync_mirror_udp_coalesce_pauses_total."),
    O("server", "metrics_listen", BL_CONF_ADDR, metrics_listen, .flags = BL_CONF_HEAP, .port = 9154,
      .example = "127.0.0.1:9154",
      .help = "Address of Prometheus /metrics and /healthz (docs/METRICS.md); unset: none."),
    O("server", "log_level", BL_CONF_ENUM, log_level, .def = "info", .names = bl_conf_log_levels,
      .flags = BL_CONF_HOT,
      .help = "Least severe event logged; one line per event, key=value, no key material."),
    O("server", "log_syslog", BL_CONF_BOOL, log_syslog, .def = "no", .flags = BL_CONF_HOT,
      .help = "Log to syslog (facility daemon) instead of standard error."),
    O("server", "window", BL_CONF_DURATION, window_ms, .def = "4h", .min = 1000,
      .flags = BL_CONF_HOT,
      .help = "The propagation window a delisting must fit in (exported as "
              "blsync_propagation_window_seconds)."),
    O("server", "expected_propagation", BL_CONF_DURATION, expected_prop_ms, .def = "30m",
      .min = 1000, .flags = BL_CONF_HOT,
      .help = "The propagation from the master to this mirror you expect.",
      .doc = "At start-up and on SIGHUP, a zone whose ttl plus expected_propagation exceeds the "
             "window is warned about (event=window_budget)."),

    Y("master", BL_CONF_ADDR, master, .flags = SYNCED, .port = 7353, .check = nonzero_port,
      BL_CONF_LINE(mirror_config_t, sync.master_line), .example = "192.0.2.10:7353",
      .help = "Numeric address and port of the master's [sync] listener."),
    Y("server_name", BL_CONF_STR, server_name, .flags = SYNCED, .check = host_name, .arg = "name",
      .example = "master.example.net", .help = "The name the master's certificate must carry."),
    Y("cert", BL_CONF_PATH, cert, .flags = SYNCED, BL_CONF_LINE(mirror_config_t, sync.cert_line),
      .example = "/etc/blsync/tls/mirror.pem", .help = "This mirror's client certificate (PEM)."),
    Y("key", BL_CONF_PATH, key, .flags = SYNCED, BL_CONF_LINE(mirror_config_t, sync.key_line),
      .example = "/etc/blsync/tls/mirror.key", .help = "Its private key (root:blsync 0640)."),
    Y("ca", BL_CONF_PATH, ca, .flags = SYNCED, BL_CONF_LINE(mirror_config_t, sync.ca_line),
      .example = "/etc/blsync/tls/ca.pem", .help = "The CA that signed the master's certificate."),
    Y("state_dir", BL_CONF_PATH, state_dir, .flags = SYNCED,
      BL_CONF_LINE(mirror_config_t, sync.state_line), .example = "/var/lib/blsync-mirror/sync",
      .help = "Applied objects, one directory per feed, persisted before they are acknowledged."),
    Y("stale_after", BL_CONF_DURATION, stale_after_ms, .def = "30s", .min = 1,
      .help = "Not current with the master (not holding what a recent heartbeat announced) for "
              "this long: stale."),
    Y("freeze_after", BL_CONF_DURATION, freeze_after_ms, .min = 1,
      .help = "Not current for this long: frozen, the zone gives no positive answer.",
      .doc = "Unset, it is the window's budget: window minus the largest ttl of the zones "
             "following the master minus expected_propagation (3h25m with the defaults); a "
             "larger value is refused, as is a window that leaves no budget beyond "
             "stale_after."),
    Y("backoff_min", BL_CONF_DURATION, backoff_min_ms, .def = "500ms", .min = 1,
      .help = "Shortest reconnect delay (exponential with jitter)."),
    Y("backoff_max", BL_CONF_DURATION, backoff_max_ms, .def = "30s", .min = 1,
      .help = "Longest reconnect delay."),

    Z("feed", BL_CONF_STR, feed, .def = "main", .flags = BL_CONF_NONEMPTY, .arg = "name",
      .help = "The master's feed this zone serves."),
    Z("spool_dir", BL_CONF_PATH, spool_dir, .flags = BL_CONF_HEAP,
      .example = "/var/lib/blsync-mirror/main",
      .help = "Where verified deltas and snapshots are dropped for this zone (without [sync])."),
    Z("snapshot", BL_CONF_PATH, snapshot, .flags = BL_CONF_HEAP,
      .example = "/var/lib/blsync-mirror/main.snapshot",
      .help = "A signed snapshot to load at start (without [sync])."),
    ZL("trusted_key", BL_CONF_PATH, keys, nkeys, .flags = BL_CONF_MULTI,
       .example = "/etc/blsync/master.pub",
       .help = "Public signing keys trusted for the feed (a feed needs one).",
       .doc = "blsyncctl keygen on the master writes master.pub; list several during a key "
              "rotation."),
    SECONDS("ttl", ttl, "300", .flags = BL_CONF_HOT,
            .help = "TTL of positive answers; it counts against the propagation window."),
    SECONDS("neg_ttl", neg_ttl, "300", .flags = BL_CONF_HOT,
            .help = "Negative TTL and SOA minimum."),
    SECONDS("soa_minimum", neg_ttl, NULL, .flags = BL_CONF_HOT | BL_CONF_ALIAS,
            .help = "Another name for neg_ttl."),
    SECONDS("soa_ttl", soa_ttl, "3600", .flags = BL_CONF_HOT,
            .help = "TTL of the SOA and NS records."),
    SECONDS("soa_refresh", refresh, "3600", .help = "SOA refresh timer."),
    SECONDS("soa_retry", retry, "600", .help = "SOA retry timer."),
    SECONDS("soa_expire", expire, "604800", .help = "SOA expire timer."),
    Z("soa_mname", BL_CONF_STR, mname, .arg = "name", .example = "ns1.example.net",
      .help = "SOA primary name server (unset: the first ns, or the zone)."),
    Z("soa_rname", BL_CONF_STR, rname, .arg = "name", .example = "hostmaster.example.net",
      .help = "SOA mailbox (unset: hostmaster.ZONE)."),
    ZL("ns", BL_CONF_STR, ns, nns, .flags = BL_CONF_MULTI, .arg = "name",
       .example = "ns1.example.net ns2.example.net", .help = "Name servers of the zone."),
    ZC("a", .set = set_a, .get = get_a, .def = "127.0.0.2", .arg = "127.0.0.n",
       .expect = "127.0.0.N or N, with N from 1 to 255",
       .help = "A record answered for listed addresses that carry no A value of their own."),
    Z("txt", BL_CONF_STR, txt, .flags = BL_CONF_HEAP | BL_CONF_HOT, .arg = "template",
      .example = "Listed; see https://bl.example.net/lookup?ip=$",
      .help = "TXT answer; $ is replaced by the address."),
    ZC("reason.", .set = set_reason, .get = get_reason, .release = release_reason,
       .flags = BL_CONF_PREFIX | BL_CONF_HOT, .arg = "template",
       .example = "Listed for spam; see https://bl.example.net/lookup?ip=$",
       .expect = "reason.N = TEMPLATE with N from 0 to 65535",
       .help = "TXT answer for reason id N (the master's [kind.*] reason)."),
    Z("export_rbldnsd", BL_CONF_PATH, export_rbldnsd, .flags = BL_CONF_HEAP | BL_CONF_HOT,
      .example = "/var/lib/blsync-mirror/bl.example.net.rbldnsd",
      .help = "Also write the served state as rbldnsd data after each apply, at start and on "
              "SIGHUP.",
      .doc = "The file (ip4trie) and file.ip6 (ip6trie) are each written whole and renamed into "
             "place; serve them with rbldnsd ... ZONE:ip4trie:FILE ZONE:ip6trie:FILE.ip6."),
    ZL("rbldnsd", BL_CONF_STR, rbldnsd, nrbldnsd,
       .flags = BL_CONF_MULTI | BL_CONF_WHOLE | BL_CONF_NONEMPTY | BL_CONF_HOT, .check = kind_file,
       .arg = "kind:file", .example = "ip4set:/var/lib/rbldnsd/list",
       .expect = "KIND:FILE such as ip4set:/var/lib/rbldnsd/list",
       .help = "Instead of a feed, serve rbldnsd data files (ip4set, ip4trie, ...)."),
};

const bl_conf_schema_t mirror_conf_schema =
    BL_CONF_SCHEMA("blsync-mirror", mirror_config_t, sections, opts);

void mirror_config_init(mirror_config_t *c)
{
    memset(c, 0, sizeof *c);
    bl_conf_defaults(&mirror_conf_schema, c);
}

void mirror_config_close(mirror_config_t *c)
{
    bl_conf_free(&mirror_conf_schema, c);
    memset(c, 0, sizeof *c);
}

int mirror_config_set(mirror_config_t *c, const char *section, const char *key, const char *val,
                      char *err, size_t errlen)
{
    bl_cfg_err_t e;
    int rc = bl_conf_set(&mirror_conf_schema, c, section, key, val, NULL, 0, &e);
    if (rc)
        snprintf(err, errlen, "%s", e.msg);
    return rc;
}

int mirror_config_load(mirror_config_t *c, const char *path, char *err, size_t errlen)
{
    bl_cfg_err_t e;
    snprintf(c->path, sizeof c->path, "%s", path);
    int rc = bl_conf_load(&mirror_conf_schema, c, path, &e);
    if (rc)
        snprintf(err, errlen, "%s", e.msg);
    return rc;
}

int mirror_config_print(const mirror_config_t *c, FILE *f)
{
    fprintf(f, "# blsync-mirror --print-config: the effective configuration.\n"
               "# Commented-out lines hold defaults.\n");
    return bl_conf_print(&mirror_conf_schema, c, f, 0);
}

#define BAD(...)                                                                                   \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        return BL_ECONFIG;                                                                         \
    } while (0)

/* Opens a file named by [sync] for reading, to say now (not at the first
 * connection) that it is missing or unreadable. */
static int check_file(const mirror_config_t *c, const char *what, const char *path, unsigned line,
                      char *err, size_t errlen)
{
    if (!path)
        BAD("%s:%u: [sync] needs %s = FILE", c->path, line, what);
    FILE *f = fopen(path, "r");
    if (!f)
        BAD("%s:%u: %s %s: %s", c->path, line, what, path, strerror(errno));
    char buf[64];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    int bad = ferror(f);
    fclose(f);
    buf[n] = 0;
    if (bad)
        BAD("%s:%u: %s %s: unreadable", c->path, line, what, path);
    if (!strstr(buf, "-----BEGIN "))
        BAD("%s:%u: %s %s: not a PEM file", c->path, line, what, path);
    return 0;
}

static int check_sync(const mirror_config_t *c, char *err, size_t errlen)
{
    const mirror_sync_file_conf_t *y = &c->sync;
    if (!y->master)
        BAD("%s:%u: [sync] needs master = ADDRESS:PORT", c->path, y->line);
    if (!y->server_name)
        BAD("%s:%u: [sync] needs server_name = NAME (in the master's certificate)", c->path,
            y->line);
    if (!y->state_dir)
        BAD("%s:%u: [sync] needs state_dir = DIR", c->path, y->line);
    int rc;
    if ((rc = check_file(c, "cert", y->cert, y->cert_line ? y->cert_line : y->line, err, errlen)) ||
        (rc = check_file(c, "key", y->key, y->key_line ? y->key_line : y->line, err, errlen)) ||
        (rc = check_file(c, "ca", y->ca, y->ca_line ? y->ca_line : y->line, err, errlen)))
        return rc;
    /* A mirror cut off from its master must stop positive answers in time
     * for a delisting it missed to leave the resolvers' caches within the
     * window. */
    int64_t budget = mirror_config_freeze_budget(c);
    char w[BL_CFG_DURSTRLEN], t[BL_CFG_DURSTRLEN], b[BL_CFG_DURSTRLEN];
    if (budget <= y->stale_after_ms)
        BAD("%s:%u: window %s leaves no time to stay current: it must exceed the largest zone "
            "ttl plus expected_propagation plus stale_after (%s)",
            c->path, y->line, bl_cfg_duration_format(c->window_ms, w, sizeof w),
            bl_cfg_duration_format(c->window_ms - budget + y->stale_after_ms, t, sizeof t));
    if (y->freeze_after_ms && y->freeze_after_ms > budget)
        BAD("%s:%u: freeze_after %s cannot keep the %s window: a mirror cut off from its master "
            "could answer a delisted address for longer; at most %s (window - ttl - "
            "expected_propagation), or leave it unset",
            c->path, y->line, bl_cfg_duration_format(y->freeze_after_ms, t, sizeof t),
            bl_cfg_duration_format(c->window_ms, w, sizeof w),
            bl_cfg_duration_format(budget, b, sizeof b));
    if (y->freeze_after_ms && y->freeze_after_ms <= y->stale_after_ms)
        BAD("%s:%u: freeze_after must be longer than stale_after", c->path, y->line);
    if (y->backoff_max_ms < y->backoff_min_ms)
        BAD("%s:%u: backoff_max must not be shorter than backoff_min", c->path, y->line);
    return 0;
}

/* A zone served from the master over [sync]: a feed zone with no local source. */
int mirror_zone_conf_synced(const mirror_config_t *c, const mirror_zone_conf_t *z)
{
    return c->sync.enabled && !z->snapshot && !z->spool_dir && !z->nrbldnsd;
}

int mirror_config_check(const mirror_config_t *c, char *err, size_t errlen)
{
    if (!c->nzones)
        BAD("no [zone NAME] section");
    if (!c->nlisten)
        BAD("no listen address ([server] listen = 127.0.0.1:53)");
    int nsynced = 0;
    for (unsigned i = 0; i < c->nzones; i++) {
        const mirror_zone_conf_t *z = &c->zones[i];
        uint8_t w[256];
        if (!mirror_dns_name_to_wire(z->name, w, NULL))
            BAD("%s:%u: zone '%s': not a valid domain name", c->path, z->line, z->name);
        int synced = mirror_zone_conf_synced(c, z);
        nsynced += synced;
        int feed = z->snapshot || z->spool_dir || synced;
        if (!feed && !z->nrbldnsd)
            BAD("zone %s (line %u): no data source (snapshot, spool_dir, rbldnsd or [sync])",
                z->name, z->line);
        if (feed && z->nrbldnsd)
            BAD("zone %s (line %u): a zone serves either a feed or rbldnsd files, not both",
                z->name, z->line);
        if (feed && !z->nkeys)
            BAD("zone %s (line %u): a feed needs at least one trusted_key", z->name, z->line);
        for (unsigned j = 0; j < i; j++)
            if (synced && mirror_zone_conf_synced(c, &c->zones[j]) &&
                !strcmp(c->zones[j].feed, z->feed))
                BAD("zone %s (line %u): feed %s is already followed by zone %s", z->name, z->line,
                    z->feed, c->zones[j].name);
    }
    if (c->sync.enabled) {
        int rc = check_sync(c, err, errlen);
        if (rc)
            return rc;
        if (!nsynced)
            BAD("%s:%u: [sync] but no zone to follow (every zone has snapshot, spool_dir or "
                "rbldnsd)",
                c->path, c->sync.line);
    }
    return 0;
}

int64_t mirror_config_freeze_budget(const mirror_config_t *c)
{
    int64_t ttl = 0;
    for (unsigned i = 0; i < c->nzones; i++)
        if (mirror_zone_conf_synced(c, &c->zones[i]) && (int64_t)c->zones[i].ttl * 1000 > ttl)
            ttl = (int64_t)c->zones[i].ttl * 1000;
    return bl_cfg_freeze_budget(c->window_ms, ttl, c->expected_prop_ms);
}

int64_t mirror_config_freeze_after(const mirror_config_t *c)
{
    return c->sync.freeze_after_ms ? c->sync.freeze_after_ms : mirror_config_freeze_budget(c);
}

size_t mirror_config_access(const mirror_config_t *c, bl_access_t *out, size_t cap)
{
    size_t n = 0;
#define ADD(w, p, d)                                                                               \
    do {                                                                                           \
        if (n < cap)                                                                               \
            out[n++] = (bl_access_t){(w), (p), (d)};                                               \
    } while (0)
    if (c->sync.enabled) {
        ADD("[sync] cert", c->sync.cert, 0);
        ADD("[sync] key", c->sync.key, 0);
        ADD("[sync] ca", c->sync.ca, 0);
        ADD("[sync] state_dir", c->sync.state_dir, 1);
    }
    for (unsigned i = 0; i < c->nzones; i++) {
        const mirror_zone_conf_t *z = &c->zones[i];
        for (unsigned k = 0; k < z->nkeys; k++)
            ADD("[zone] trusted_key", z->keys[k], 0);
        ADD("[zone] snapshot", z->snapshot, 0);
        ADD("[zone] spool_dir", z->spool_dir, 1);
        ADD("[zone] export_rbldnsd", z->export_rbldnsd, 2);
        for (unsigned k = 0; k < z->nrbldnsd; k++) {
            const char *colon = strchr(z->rbldnsd[k], ':');
            ADD("[zone] rbldnsd", colon ? colon + 1 : z->rbldnsd[k], 0);
        }
    }
#undef ADD
    return n;
}
