/* SPDX-License-Identifier: MIT */
/* blsync-mirror configuration: the option table, the checks that span options, --print-config. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acl.h"
#include "config_util.h"
#include "dns.h"
#include "err.h"
#include "log.h"
#include "server.h"
#include "sync_client.h"

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
     .doc = "Follow the master over mutual TLS 1.3 (push) and/or pull its spool's HTTP layout "
            "from URLs (upstream): every zone without snapshot, spool_dir or rbldnsd gets its "
            "feeds this way (each feed followed once, whichever zones serve it), their state "
            "restored from state_dir before any query is answered. blsyncctl certs on the master "
            "makes the certificates."},
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
     .doc = "One section per DNS zone, serving one feed (a spool_dir, a snapshot or [sync]), "
            "several feeds combined (over [sync]) or rbldnsd data files."},
};

/* An A value: 127.0.0.N or N, N from 1 to 255. */
static int parse_a(const char *v, unsigned *a, const char **why)
{
    uint64_t x;
    if (bl_cfg_uint(!strncmp(v, "127.0.0.", 8) ? v + 8 : v, 1, 255, &x, why))
        return BL_ECONFIG;
    *a = (unsigned)x;
    return 0;
}

/* a = 127.0.0.N or N. */
static int set_a(void *base, const char *key, const char *v, const char **why)
{
    (void)key;
    return parse_a(v, &((mirror_zone_conf_t *)base)->a, why);
}

static int get_a(const void *base, size_t i, char *key, size_t kn, char *val, size_t vn)
{
    if (i)
        return -1;
    snprintf(key, kn, "a");
    snprintf(val, vn, "127.0.0.%u", ((const mirror_zone_conf_t *)base)->a);
    return 0;
}

/* feed = NAME [NAME:A]...: the feeds a zone combines. Every feed after the
 * first names its A value; names and the A values given are distinct. */
static int set_feed(void *base, const char *key, const char *v, const char **why)
{
    mirror_zone_conf_t *z = base;
    char names[MIRROR_SOURCES_MAX][BL_FEED_MAX + 1];
    unsigned as[MIRROR_SOURCES_MAX], n = 0;
    (void)key;
    for (const char *p = v;;) {
        p += strspn(p, " \t,");
        if (!*p)
            break;
        size_t l = strcspn(p, " \t,");
        const char *colon = memchr(p, ':', l);
        size_t nl = colon ? (size_t)(colon - p) : l;
        if (n == MIRROR_SOURCES_MAX) {
            *why = "more than 16 feeds";
            return BL_ECONFIG;
        }
        if (!nl || nl > BL_FEED_MAX) {
            *why = "a feed name is empty or longer than 32 bytes";
            return BL_ECONFIG;
        }
        memcpy(names[n], p, nl);
        names[n][nl] = 0;
        as[n] = 0;
        if (colon) {
            char a[32];
            snprintf(a, sizeof a, "%.*s", (int)(l - nl - 1) < 31 ? (int)(l - nl - 1) : 31,
                     colon + 1);
            if (parse_a(a, &as[n], why)) {
                *why = "an A value is not 127.0.0.N with N from 1 to 255";
                return BL_ECONFIG;
            }
        } else if (n) {
            *why = "every feed after the first needs its own A value (NAME:127.0.0.N)";
            return BL_ECONFIG;
        }
        for (unsigned j = 0; j < n; j++) {
            if (!strcmp(names[j], names[n])) {
                *why = "a feed is listed twice";
                return BL_ECONFIG;
            }
            if (as[n] && as[j] == as[n]) {
                *why = "two feeds have the same A value";
                return BL_ECONFIG;
            }
        }
        n++;
        p += l;
    }
    if (!n) {
        *why = "no feed";
        return BL_ECONFIG;
    }
    memcpy(z->feeds, names, sizeof names[0] * n);
    memcpy(z->feed_a, as, sizeof as[0] * n);
    z->nfeeds = n;
    snprintf(z->feed, sizeof z->feed, "%s", names[0]);
    return 0;
}

static int get_feed(const void *base, size_t i, char *key, size_t kn, char *val, size_t vn)
{
    const mirror_zone_conf_t *z = base;
    if (i)
        return -1;
    snprintf(key, kn, "feed");
    size_t off = 0;
    val[0] = 0;
    for (unsigned k = 0; k < z->nfeeds && off < vn; k++) {
        int w = z->feed_a[k] ? snprintf(val + off, vn - off, "%s%s:127.0.0.%u", k ? " " : "",
                                        z->feeds[k], z->feed_a[k])
                             : snprintf(val + off, vn - off, "%s%s", k ? " " : "", z->feeds[k]);
        off += w > 0 ? (size_t)w : 0;
    }
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

static int upstream_ok(const char *v, const char **why)
{
    if (strcmp(v, "push") && strncmp(v, "http://", 7) && strncmp(v, "https://", 8)) {
        *why = "neither push nor an http:// or https:// URL";
        return BL_ECONFIG;
    }
    if (strlen(v) > 1024) {
        *why = "URL longer than 1024 bytes";
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

/* A file mode in octal, at most 0777, readable by its owner. */
static int octal_mode(const char *v, const char **why)
{
    char *end;
    unsigned long m = strtoul(v, &end, 8);
    if (!*v || *end || m > 0777 || !(m & 0400)) {
        *why = "not an octal mode from 0400 to 0777";
        return BL_ECONFIG;
    }
    return 0;
}

/* acl = ACTION PREFIX */
static int acl_line(const char *v, const char **why)
{
    mirror_acl_t a = {0};
    int rc = mirror_acl_add_line(&a, v, MIRROR_ACL_REFUSE, why);
    free(a.rules);
    return rc ? BL_ECONFIG : 0;
}

/* rrl_whitelist = PREFIX */
static int prefix(const char *v, const char **why)
{
    mirror_ip_t net;
    unsigned len;
    return mirror_acl_parse_prefix(v, &net, &len, why) ? BL_ECONFIG : 0;
}

static int short_text(const char *v, const char **why)
{
    if (strlen(v) > 128) {
        *why = "longer than 128 bytes";
        return BL_ECONFIG;
    }
    return 0;
}

static const bl_conf_name_t acl_actions[] = {
    {"refuse", MIRROR_ACL_REFUSE}, {"drop", MIRROR_ACL_DROP}, {NULL, 0}};

#define ACL_DOC                                                                                    \
    "ACTION is allow, deny (what acl_action says), refuse (answer REFUSED) or drop (answer "       \
    "nothing); PREFIX an IPv4 or IPv6 address with an optional /LEN, or any (every address). The " \
    "longest prefix that covers a client decides; a client no rule covers is answered, so an "     \
    "allow list is acl = deny any plus allow lines. The server's list and the zone's are both "    \
    "consulted and the stricter verdict wins (drop, then refuse). SIGHUP reloads both."
#define ACL_FILE_DOC                                                                               \
    "Lines PREFIX [:ACTION] as rbldnsd's acl dataset reads them: ignore or blackhole (drop), "     \
    "refuse, pass (allow); a line :ACTION sets the action of the lines after it (at first "        \
    "ignore). Lines with :empty or an A:TXT template, and bad lines, are skipped and logged "      \
    "(acl_line_skipped with file and line). The file's rules come before the acl lines, which "    \
    "replace them for the same prefix."

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
#define PUSH    (BL_CONF_HEAP | BL_CONF_NONEMPTY) /* required when upstream lists push */
#define STR_(x) #x
#define STR(x)  STR_(x) /* a default that is a numeric macro */
#define SECONDS(k, field, d, ...)                                                                  \
    Z(k, BL_CONF_DURATION, field, .unit = 1000, .def = d, .max = 0x7fffffffLL * 1000, __VA_ARGS__)

static const bl_conf_opt_t opts[] = {
    OL("server", "listen", BL_CONF_ADDR, listen, nlisten, .flags = BL_CONF_MULTI | BL_CONF_REQUIRED,
       .port = 53, .example = "127.0.0.1:53", .help = "DNS listen addresses, UDP and TCP on each.",
       .doc = "Port 53 needs CAP_NET_BIND_SERVICE, which the systemd unit grants; --listen "
              "replaces this list. Under systemd, blsync-mirror.socket holds these sockets "
              "across restarts: its ListenDatagram= and ListenStream= must be addresses of "
              "this list (blsync-mirror(8), RESTARTS)."),
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
      .doc = "When they are all open, a new connection from a client under its own limit "
             "evicts "
             "the connection that has waited longest, between queries or in the middle of "
             "one; "
             "it is refused only when every connection is busy writing answers. At start the "
             "limit is lowered, with a tcp_connections_limited warning, to what the "
             "descriptor "
             "limit (ulimit -n, LimitNOFILE) leaves room for: the descriptors open then and "
             "64 "
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
    O("server", "udp_coalesce_us", BL_CONF_UINT, udp_coalesce_us, .def = "0", .max = 10000,
      .arg = "microseconds",
      .help = "Under load, the longest pause a UDP thread takes so that queries queue up "
              "and one "
              "wake-up serves many (0: never).",
      .doc = "Off by default: a pause saves CPU only by making queries wait, and without "
             "it the "
             "mirror already answers a loaded 50k queries/s at well under half of "
             "rbldnsd's CPU "
             "per query with a client latency at most rbldnsd's "
             "(tests/bench/mirror/latency.sh). When set, the thread pauses only when its "
             "measured "
             "arrival rate makes at least 4 queries "
             "likely within that time (about 4,000 queries/s per thread at 1000), and only "
             "until "
             "about half of its 128-query receive vector has arrived, so a lightly loaded "
             "mirror "
             "adds no latency and a loaded one adds at most this much (each pause is "
             "shortened by "
             "the overshoot its sleeps showed) while spending less CPU per query. Clients "
             "that "
             "wait for their answers before sending more are detected (each half second "
             "starts "
             "with a 25 ms probe without pauses) and not paused for during the next 10 s, "
             "doubling up to 40 s while they keep waiting. See "
             "blsync_mirror_udp_coalesce_pauses_total."),
    OL("server", "acl", BL_CONF_STR, acl.acl, acl.nacl,
       .flags = BL_CONF_MULTI | BL_CONF_WHOLE | BL_CONF_HOT, .check = acl_line,
       .arg = "action prefix", .example = "deny 192.0.2.0/24", .expect = "ACTION PREFIX",
       .help = "Access control for every zone: one rule per line.", .doc = ACL_DOC),
    O("server", "acl_file", BL_CONF_PATH, acl.acl_file, .flags = BL_CONF_HEAP | BL_CONF_HOT,
      .example = "/etc/rbldnsd/acl",
      .help = "An rbldnsd acl dataset imported into the server's access control.",
      .doc = ACL_FILE_DOC),
    O("server", "acl_action", BL_CONF_ENUM, acl.acl_action, .def = "refuse", .names = acl_actions,
      .flags = BL_CONF_HOT,
      .help = "What a deny rule of the server's acl does: refuse (REFUSED) or drop (no "
              "answer)."),
    O("server", "rrl_rate", BL_CONF_UINT, rrl_rate, .def = "0", .max = 1000000, .arg = "answers/s",
      .help = "Response-rate limit: UDP answers per second per client prefix (0: off).",
      .doc = "Each client prefix (rrl_ipv4_prefix, rrl_ipv6_prefix) has a bucket of this many "
             "answers per second holding at most one second's worth; an answer that finds it "
             "empty is dropped, or every rrl_slip-th one sent truncated (TC) so that a real "
             "client retries over TCP, which is never limited. Buckets are a fixed table "
             "(rrl_table_size) indexed by a keyed hash: prefixes that collide share one. See "
             "blsync_mirror_rrl_limited_total. Restart to change any rrl option."),
    O("server", "rrl_slip", BL_CONF_UINT, rrl_slip, .def = "2", .max = 100,
      .help = "Every this many limited answers one goes out truncated (0: all are dropped; 1: "
              "none are)."),
    O("server", "rrl_ipv4_prefix", BL_CONF_UINT, rrl_ipv4_prefix, .def = "24", .min = 8, .max = 32,
      .help = "IPv4 clients share a rate-limit bucket per this prefix length."),
    O("server", "rrl_ipv6_prefix", BL_CONF_UINT, rrl_ipv6_prefix, .def = "56", .min = 32,
      .max = 128, .help = "IPv6 clients share a rate-limit bucket per this prefix length."),
    O("server", "rrl_table_size", BL_CONF_UINT, rrl_table_size, .def = "262144", .min = 1024,
      .max = 67108864, .help = "Rate-limit buckets (8 bytes each), rounded up to a power of two."),
    OL("server", "rrl_whitelist", BL_CONF_STR, rrl_whitelist, nrrl_whitelist,
       .flags = BL_CONF_MULTI, .check = prefix, .arg = "prefix", .example = "192.0.2.0/24",
       .help = "Client prefixes never rate-limited (your own resolvers)."),
    O("server", "nsid", BL_CONF_STR, nsid, .flags = BL_CONF_HEAP, .check = short_text,
      .arg = "text", .example = "mirror-fra-1",
      .help = "Sent as EDNS NSID (RFC 5001) to queries that ask for it (unset: none).",
      .doc = "dig +nsid shows it; up to 128 bytes. Restart to change it."),
    O("server", "identity", BL_CONF_STR, identity, .flags = BL_CONF_HEAP, .check = short_text,
      .arg = "text", .example = "mirror-fra-1",
      .help = "The TXT answer to id.server and hostname.bind in class CH (unset: REFUSED).",
      .doc = "dig CH TXT id.server shows it; up to 128 bytes. Restart to change it."),
    O("server", "query_log_sample", BL_CONF_UINT, query_log_sample, .def = "0", .max = 100000000,
      .arg = "n",
      .help = "Log one query in this many (event=query: client, proto, qname, qtype, rcode; 0: "
              "off).",
      .doc = "Each UDP thread and the TCP thread count their own queries. Lines go to the "
             "daemon's log (journald or syslog, which rotate it), at most "
             "query_log_max_per_second of them; the rest are counted in one "
             "query_log_suppressed line. Restart to change it."),
    O("server", "query_log_max_per_second", BL_CONF_UINT, query_log_max_per_s, .def = "100",
      .min = 1, .max = 100000, .help = "Query log lines per second at most."),
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
      .doc = "At start-up and on SIGHUP, a zone whose ttl plus expected_propagation "
             "exceeds the "
             "window is warned about (event=window_budget)."),

    Y("master", BL_CONF_ADDR, master, .flags = PUSH, .port = 7353, .check = nonzero_port,
      BL_CONF_LINE(mirror_config_t, sync.master_line), .example = "192.0.2.10:7353",
      .help = "Numeric address and port of the master's [sync] listener."),
    Y("server_name", BL_CONF_STR, server_name, .flags = PUSH, .check = host_name, .arg = "name",
      .example = "master.example.net", .help = "The name the master's certificate must carry."),
    Y("cert", BL_CONF_PATH, cert, .flags = PUSH, BL_CONF_LINE(mirror_config_t, sync.cert_line),
      .example = "/etc/blsync/tls/mirror.pem", .help = "This mirror's client certificate (PEM).",
      .doc = "Read again, with key and ca, on SIGHUP: a renewed certificate is presented at once "
             "(the session is made again). A file that does not load leaves the one in use."),
    Y("key", BL_CONF_PATH, key, .flags = PUSH, BL_CONF_LINE(mirror_config_t, sync.key_line),
      .example = "/etc/blsync/tls/mirror.key", .help = "Its private key (root:blsync 0640)."),
    Y("ca", BL_CONF_PATH, ca, .flags = PUSH, BL_CONF_LINE(mirror_config_t, sync.ca_line),
      .example = "/etc/blsync/tls/ca.pem", .help = "The CA that signed the master's certificate."),
    Y("state_dir", BL_CONF_PATH, state_dir, .flags = SYNCED,
      BL_CONF_LINE(mirror_config_t, sync.state_line), .example = "/var/lib/blsync-mirror/sync",
      .help = "Applied objects, one directory per feed, persisted before they are "
              "acknowledged."),
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
    OL("sync", "upstream", BL_CONF_STR, sync.upstream, sync.nupstream, .flags = BL_CONF_MULTI,
       .check = upstream_ok, .arg = "push|url", .example = "push https://cache.example.net/blsync",
       .help = "Where feeds come from, in order of preference: push (the master's listener) and "
               "HTTP(S) URLs of the spool's HTTP layout (unset: push).",
       .doc = "A URL names the directory that holds FEED/head, e.g. a static web server or an HTTP "
              "cache in front of the master's spool; the objects are signed, so plain HTTP "
              "is as safe as HTTPS. Each poll asks the URLs in this order and takes the first "
              "valid head and chain; a refused head or object, an HTTP error or a timeout moves "
              "to the next one. With push listed first, the URLs are polled for their heads "
              "(freshness) and objects are fetched from them only when the master has not "
              "brought a newer head's serial within a poll interval. master, server_name, "
              "cert, key and ca are needed only with push."),
    Y("poll_interval", BL_CONF_DURATION, poll_interval_ms, .def = "10s", .min = 100, .max = 3600000,
      .help = "Longest time between the starts of two polls of the URL upstreams.",
      .doc = "A change of the head is seen by the next poll within poll_interval."),
    Y("poll_jitter", BL_CONF_DURATION, poll_jitter_ms, .def = "2s", .max = 3600000,
      .help = "A random 0 to poll_jitter taken off each poll interval, so that mirrors spread.",
      .doc = "Polls start poll_interval minus a random 0 to poll_jitter apart (a jitter above "
             "poll_interval counts as poll_interval). With stale_after, keep poll_interval + "
             "the caches' max-age + the master's http_head_refresh below stale_after."),
    Y("long_poll", BL_CONF_BOOL, long_poll, .def = "no",
      .help = "Ask URL upstreams for FEED/head?after=SERIAL&round=N, which a master with "
              "serve_spool holds until a newer head (long poll).",
      .doc = "An upstream that answers with the Blsync-Long-Poll header holds the request "
             "until the head's serial is above the mirror's, the head is signed again or its "
             "wait is over; the mirror asks again at once, so a change reaches it within a "
             "round trip through the caches. An upstream that answers without the header (a "
             "static server, which ignores the query) or fails is polled every poll_interval "
             "instead, and asked again with a long poll every 6 polls. Each feed is held "
             "on its own (one pull client per feed)."),
    Y("pull_timeout", BL_CONF_DURATION, pull_timeout_ms, .def = "10s", .min = 100, .max = 600000,
      .help = "One HTTP transfer (head or object) at most, connection included."),
    Y("pull_ca", BL_CONF_PATH, pull_ca, .flags = BL_CONF_HEAP,
      .example = "/etc/ssl/certs/ca-certificates.crt",
      .help = "CA file for HTTPS upstreams (unset: the system store)."),

    ZC("feed", .set = set_feed, .get = get_feed, .def = "main", .arg = "name [name:127.0.0.n]...",
       BL_CONF_LINE(mirror_zone_conf_t, feed_line), .example = "main spamtrap:127.0.0.4",
       .expect = "NAME, or NAME NAME:127.0.0.N ... (one A value per feed after the first)",
       .help = "The master's feed this zone serves, or the feeds it combines, one A value each.",
       .doc = "With one feed a listed address answers the A value its listing carries (the "
              "master's [kind.*] a), else the zone's a. A zone that combines feeds answers, for "
              "an address listed in several of them, one A record per feed: 127.0.0.N of each "
              "feed given as NAME:127.0.0.N (which replaces its listings' own A value), and for "
              "the first feed, when given without one, what a single-feed zone answers. The A "
              "values must differ, the zone's a included. TXT answers hold one string per "
              "feed that lists the address, from reason.N (by the listing's reason id) or txt; "
              "feeds whose strings are the same share one (an RRset has no duplicate records), "
              "so give each feed's master its own [kind.*] reason ids and this zone a reason.N "
              "for each. Each feed is followed on its own over [sync] (its serial, heartbeats, "
              "stale and frozen state, state_dir/FEED): a frozen feed stops only its own "
              "positive answers. The SOA serial is the sum of the feeds' serials. A feed may "
              "also be served by other zones, alone or combined; it is followed once. Combined "
              "zones are followed over [sync] only, and have no export_rbldnsd."),
    Z("spool_dir", BL_CONF_PATH, spool_dir, .flags = BL_CONF_HEAP,
      .example = "/var/lib/blsync-mirror/main",
      .help = "Where verified deltas and snapshots are dropped for this zone (without "
              "[sync])."),
    Z("snapshot", BL_CONF_PATH, snapshot, .flags = BL_CONF_HEAP,
      .example = "/var/lib/blsync-mirror/main.snapshot",
      .help = "A signed snapshot to load at start (without [sync])."),
    ZL("trusted_key", BL_CONF_PATH, keys, nkeys, .flags = BL_CONF_MULTI,
       .example = "/etc/blsync/master.pub",
       .help = "Public signing keys trusted for the feed (a feed needs one).",
       .doc = "blsyncctl keygen on the master writes master.pub; list several during a key "
              "rotation."),
    SECONDS("ttl", ttl, "300", .flags = BL_CONF_HOT,
            BL_CONF_LINE(mirror_zone_conf_t, set_line[MIRROR_ZSET_TTL]),
            .help = "TTL of positive answers; it counts against the propagation window.",
            .doc = "A zone serving rbldnsd files without it answers as rbldnsd does: the first "
                   "$TTL of the files, else 35m (2100 s, rbldnsd's default)."),
    SECONDS("neg_ttl", neg_ttl, "300", .flags = BL_CONF_HOT,
            BL_CONF_LINE(mirror_zone_conf_t, set_line[MIRROR_ZSET_NEG_TTL]),
            .help = "Negative TTL and SOA minimum."),
    SECONDS("soa_minimum", neg_ttl, NULL, .flags = BL_CONF_HOT | BL_CONF_ALIAS,
            BL_CONF_LINE(mirror_zone_conf_t, set_line[MIRROR_ZSET_NEG_TTL]),
            .help = "Another name for neg_ttl."),
    SECONDS("soa_ttl", soa_ttl, "3600", .flags = BL_CONF_HOT,
            BL_CONF_LINE(mirror_zone_conf_t, set_line[MIRROR_ZSET_SOA_TTL]),
            .help = "TTL of the SOA and NS records."),
    SECONDS("soa_refresh", refresh, "3600",
            BL_CONF_LINE(mirror_zone_conf_t, set_line[MIRROR_ZSET_REFRESH]),
            .help = "SOA refresh timer."),
    SECONDS("soa_retry", retry, "600",
            BL_CONF_LINE(mirror_zone_conf_t, set_line[MIRROR_ZSET_RETRY]),
            .help = "SOA retry timer."),
    SECONDS("soa_expire", expire, "604800",
            BL_CONF_LINE(mirror_zone_conf_t, set_line[MIRROR_ZSET_EXPIRE]),
            .help = "SOA expire timer."),
    Z("soa_mname", BL_CONF_STR, mname,
      BL_CONF_LINE(mirror_zone_conf_t, set_line[MIRROR_ZSET_MNAME]), .arg = "name",
      .example = "ns1.example.net",
      .help = "SOA primary name server (unset: the first ns, or the zone)."),
    Z("soa_rname", BL_CONF_STR, rname,
      BL_CONF_LINE(mirror_zone_conf_t, set_line[MIRROR_ZSET_RNAME]), .arg = "name",
      .example = "hostmaster.example.net", .help = "SOA mailbox (unset: hostmaster.ZONE)."),
    ZL("ns", BL_CONF_STR, ns, nns, .flags = BL_CONF_MULTI, .arg = "name",
       BL_CONF_LINE(mirror_zone_conf_t, set_line[MIRROR_ZSET_NS]),
       .example = "ns1.example.net ns2.example.net", .help = "Name servers of the zone."),
    ZC("a", .set = set_a, .get = get_a, .def = "127.0.0.2", .arg = "127.0.0.n",
       .expect = "127.0.0.N or N, with N from 1 to 255",
       .help = "A record answered for listed addresses that carry no A value of their own."),
    Z("txt", BL_CONF_STR, txt, .flags = BL_CONF_HEAP | BL_CONF_HOT, .arg = "template",
      .example = "Listed; see https://bl.example.net/?ip=$",
      .help = "TXT answer; $ is replaced by the address."),
    ZC("reason.", .set = set_reason, .get = get_reason, .release = release_reason,
       .flags = BL_CONF_PREFIX | BL_CONF_HOT, .arg = "template",
       .example = "Listed for spam; see https://bl.example.net/?ip=$",
       .expect = "reason.N = TEMPLATE with N from 0 to 65535",
       .help = "TXT answer for reason id N (the master's [kind.*] reason)."),
    Z("export_rbldnsd", BL_CONF_PATH, export_rbldnsd, .flags = BL_CONF_HEAP | BL_CONF_HOT,
      .example = "/var/lib/blsync-mirror/bl.example.net.rbldnsd",
      .help = "Also write the served state as rbldnsd data after each apply (or load of the "
              "zone's rbldnsd files), at start and on SIGHUP.",
      .doc = "The file (ip4trie) and file.ip6 (ip6trie) are each written whole and renamed "
             "into "
             "place; serve them with rbldnsd ... ZONE:ip4trie:FILE ZONE:ip6trie:FILE.ip6."),
    Z("rbldnsd_check", BL_CONF_DURATION, rbldnsd_check_ms, .def = "1s", .flags = BL_CONF_HOT,
      .max = 86400000, .help = "How often to look for changed rbldnsd files (0: only on SIGHUP).",
      .doc = "A change (a file renamed over, written in place, removed) is loaded once the "
             "files stayed the same for one interval, all at once; a file that cannot be "
             "loaded leaves the zone serving its data (logged rbldnsd_reload_failed)."),
    Z("export_rbldnsd_mode", BL_CONF_STR, export_mode, .def = "0644", .check = octal_mode,
      .flags = BL_CONF_HOT, .arg = "mode", .expect = "an octal file mode such as 0640",
      .help = "Mode of the export_rbldnsd files, whatever the umask (rbldnsd runs as another "
              "user)."),
    Z("export_rbldnsd_group", BL_CONF_STR, export_group, .flags = BL_CONF_HOT, .arg = "group",
      .example = "rbldns",
      .help = "Group of the export_rbldnsd files (unset: the mirror's own group).",
      .doc = "The mirror must be a member of the group (SupplementaryGroups= in the unit) "
             "or run as root; a group that cannot be set fails the export, logged."),
    ZL("acl", BL_CONF_STR, acl.acl, acl.nacl, .flags = BL_CONF_MULTI | BL_CONF_WHOLE | BL_CONF_HOT,
       .check = acl_line, .arg = "action prefix", .example = "allow 198.51.100.0/24",
       .expect = "ACTION PREFIX", .help = "Access control for this zone: one rule per line.",
       .doc = "As [server] acl; queries for other zones are not affected."),
    Z("acl_file", BL_CONF_PATH, acl.acl_file, .flags = BL_CONF_HEAP | BL_CONF_HOT,
      .example = "/etc/rbldnsd/bl.acl",
      .help = "An rbldnsd acl dataset imported into this zone's access control."),
    Z("acl_action", BL_CONF_ENUM, acl.acl_action, .def = "refuse", .names = acl_actions,
      .flags = BL_CONF_HOT,
      .help = "What a deny rule of this zone's acl does: refuse (REFUSED) or drop (no "
              "answer)."),
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

/* Marks a zone setting given with --set as set (set_line has no line for
 * it), so that it stands over an rbldnsd file's $TTL, $SOA and $NS as the
 * same line in the file would. */
static void mark_cli_set(mirror_config_t *c, const char *section, const char *key)
{
    static const struct {
        const char *key;
        int which;
    } keys[] = {{"ttl", MIRROR_ZSET_TTL},
                {"neg_ttl", MIRROR_ZSET_NEG_TTL},
                {"soa_minimum", MIRROR_ZSET_NEG_TTL},
                {"soa_ttl", MIRROR_ZSET_SOA_TTL},
                {"soa_refresh", MIRROR_ZSET_REFRESH},
                {"soa_retry", MIRROR_ZSET_RETRY},
                {"soa_expire", MIRROR_ZSET_EXPIRE},
                {"soa_mname", MIRROR_ZSET_MNAME},
                {"soa_rname", MIRROR_ZSET_RNAME},
                {"ns", MIRROR_ZSET_NS}};
    while (*section == ' ' || *section == '\t')
        section++;
    if (strncmp(section, "zone", 4) || !c->nzones)
        return;
    const char *name = section + 4;
    while (*name == ' ' || *name == '\t')
        name++;
    size_t nl = strcspn(name, " \t");
    mirror_zone_conf_t *z = nl ? NULL : &c->zones[c->nzones - 1]; /* [zone]: the last one */
    for (unsigned i = 0; i < c->nzones && !z; i++)
        if (strlen(c->zones[i].name) == nl && !strncasecmp(c->zones[i].name, name, nl))
            z = &c->zones[i];
    for (size_t i = 0; z && i < sizeof keys / sizeof keys[0]; i++)
        if (!strcmp(key, keys[i].key))
            z->set_line[keys[i].which] = UINT_MAX;
}

int mirror_config_set(mirror_config_t *c, const char *section, const char *key, const char *val,
                      char *err, size_t errlen)
{
    bl_cfg_err_t e;
    int rc = bl_conf_set(&mirror_conf_schema, c, section, key, val, NULL, 0, &e);
    if (rc)
        snprintf(err, errlen, "%s", e.msg);
    else
        mark_cli_set(c, section, key);
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

int mirror_config_push(const mirror_config_t *c)
{
    if (!c->sync.nupstream)
        return 1;
    for (unsigned i = 0; i < c->sync.nupstream; i++)
        if (!strcmp(c->sync.upstream[i], "push"))
            return 1;
    return 0;
}

static int check_sync(const mirror_config_t *c, char *err, size_t errlen)
{
    const mirror_sync_file_conf_t *y = &c->sync;
    unsigned npush = 0;
    for (unsigned i = 0; i < y->nupstream; i++)
        npush += !strcmp(y->upstream[i], "push");
    if (npush > 1)
        BAD("%s:%u: [sync] upstream lists push twice", c->path, y->line);
    if (y->nupstream > 1 + 8 || y->nupstream - npush > 8)
        BAD("%s:%u: [sync] upstream: at most 8 URLs", c->path, y->line);
    int rc;
    if (mirror_config_push(c)) {
        if (!y->master)
            BAD("%s:%u: [sync] needs master = ADDRESS:PORT", c->path, y->line);
        if (!y->server_name)
            BAD("%s:%u: [sync] needs server_name = NAME (in the master's certificate)", c->path,
                y->line);
        if ((rc = check_file(c, "cert", y->cert, y->cert_line ? y->cert_line : y->line, err,
                             errlen)) ||
            (rc = check_file(c, "key", y->key, y->key_line ? y->key_line : y->line, err, errlen)) ||
            (rc = check_file(c, "ca", y->ca, y->ca_line ? y->ca_line : y->line, err, errlen)))
            return rc;
    }
    if (!y->state_dir)
        BAD("%s:%u: [sync] needs state_dir = DIR", c->path, y->line);
    if (y->pull_ca && (rc = check_file(c, "pull_ca", y->pull_ca, y->line, err, errlen)))
        return rc;
    /* A mirror cut off from its master must stop positive answers in time
     * for a delisting it missed to leave the resolvers' caches within the
     * window. */
    int64_t budget = mirror_config_freeze_budget(c);
    char w[BL_CFG_DURSTRLEN], t[BL_CFG_DURSTRLEN], b[BL_CFG_DURSTRLEN];
    if (budget <= y->stale_after_ms)
        BAD("%s:%u: window %s leaves no time to stay current: it must exceed the largest "
            "zone "
            "ttl plus expected_propagation plus stale_after (%s)",
            c->path, y->line, bl_cfg_duration_format(c->window_ms, w, sizeof w),
            bl_cfg_duration_format(c->window_ms - budget + y->stale_after_ms, t, sizeof t));
    if (y->freeze_after_ms && y->freeze_after_ms > budget)
        BAD("%s:%u: freeze_after %s cannot keep the %s window: a mirror cut off from its "
            "master "
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

/* A zone that combines feeds: followed over [sync], no export, every feed's
 * A value its own (the first feed's, when it gives none, is the zone's a). */
static int check_feeds(const mirror_config_t *c, const mirror_zone_conf_t *z, int synced, char *err,
                       size_t errlen)
{
    unsigned line = z->feed_line ? z->feed_line : z->line;
    if (z->nfeeds < 2)
        return 0;
    if (!synced)
        BAD("%s:%u: zone %s combines feeds: they come over [sync] only (no snapshot, spool_dir "
            "or rbldnsd)",
            c->path, line, z->name);
    if (z->export_rbldnsd)
        BAD("%s:%u: zone %s combines feeds: export_rbldnsd writes one feed's zone (export each "
            "feed's own zone and give rbldnsd one dataset per file)",
            c->path, line, z->name);
    unsigned a0 = z->feed_a[0] ? z->feed_a[0] : z->a;
    for (unsigned k = 1; k < z->nfeeds; k++)
        if (z->feed_a[k] == a0)
            BAD("%s:%u: zone %s: feed %s answers 127.0.0.%u, the A value of feed %s%s", c->path,
                line, z->name, z->feeds[k], a0, z->feeds[0], z->feed_a[0] ? "" : " (the zone's a)");
    return 0;
}

/* The distinct feed names of the zones that follow the master. */
static unsigned count_synced_feeds(const mirror_config_t *c)
{
    unsigned n = 0;
    for (unsigned i = 0; i < c->nzones; i++) {
        const mirror_zone_conf_t *z = &c->zones[i];
        for (unsigned k = 0; mirror_zone_conf_synced(c, z) && k < z->nfeeds; k++) {
            int seen = 0;
            for (unsigned j = 0; j < i && !seen; j++)
                for (unsigned m = 0;
                     mirror_zone_conf_synced(c, &c->zones[j]) && m < c->zones[j].nfeeds && !seen;
                     m++)
                    seen = !strcmp(c->zones[j].feeds[m], z->feeds[k]);
            for (unsigned m = 0; m < k && !seen; m++)
                seen = !strcmp(z->feeds[m], z->feeds[k]);
            n += !seen;
        }
    }
    return n;
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
            BAD("zone %s (line %u): no data source (snapshot, spool_dir, rbldnsd or "
                "[sync])",
                z->name, z->line);
        if (feed && z->nrbldnsd)
            BAD("zone %s (line %u): a zone serves either a feed or rbldnsd files, not both",
                z->name, z->line);
        if (feed && !z->nkeys)
            BAD("zone %s (line %u): a feed needs at least one trusted_key", z->name, z->line);
        int rc = check_feeds(c, z, synced, err, errlen);
        if (rc)
            return rc;
    }
    if (c->sync.enabled && count_synced_feeds(c) > MIRROR_SYNC_MAX_FEEDS)
        BAD("%s:%u: the zones follow more than %d feeds over [sync]", c->path, c->sync.line,
            MIRROR_SYNC_MAX_FEEDS);
    if (c->sync.enabled) {
        int rc = check_sync(c, err, errlen);
        if (rc)
            return rc;
        if (!nsynced)
            BAD("%s:%u: [sync] but no zone to follow (every zone has snapshot, spool_dir "
                "or "
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
