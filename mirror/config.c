/* SPDX-License-Identifier: MIT */
/* blsync-mirror configuration: an INI file (inih) plus command-line overrides. */
#include "config.h"

/*
 * [server]
 *   listen = 127.0.0.1:53 [::1]:53    repeatable; UDP and TCP on each
 *   threads = 2                       UDP threads per listen address
 *   tcp_idle_timeout = 10             seconds (or tcp_idle_timeout_ms)
 *   tcp_max_connections = 512
 *   tcp_max_connections_per_client = 10   per IPv4 address / IPv6 /64
 *   tcp_query_timeout_ms = 2000       a query begun must arrive whole within
 *   tcp_max_pipelined = 64            answers queued unread before reading stops
 *   udp_max_payload = 1232            largest UDP answer (EDNS), 512..4096
 *   udp_gso = yes                     batch same-size answers with UDP GSO
 *   udp_coalesce_us = 1000            pause under load to batch queries
 *   metrics_listen = 127.0.0.1:9154   Prometheus /metrics and /healthz
 *   log_level = info
 *   log_syslog = no                   yes: log to syslog (daemon facility)
 *   window = 4h                       propagation window (warned at start and
 *   expected_propagation = 30m        reload when ttl + expected exceed it)
 * [sync]                              follow the feeds from the master
 *   master = 127.0.0.1:7353           numeric address of the master's sync server
 *   server_name = master.example.org  name the master's certificate must carry
 *   cert, key, ca = FILE              this mirror's certificate and key, the CA
 *   state_dir = DIR                   persisted objects, resumed after restart
 *   stale_after = 30s, backoff_min = 500ms, backoff_max = 30s
 *   freeze_after = window - ttl - expected_propagation (at most that)
 * [zone bl.example.org]               one per served zone (= one feed)
 *   feed = main                       feed name in signed objects
 *   ttl = 300, neg_ttl = 300, soa_ttl = 3600, soa_refresh/retry/expire
 *   soa_mname, soa_rname, ns = NAME...
 *   a = 2                             A for entries without one (127.0.0.a)
 *   txt = Listed: see https://example.org/?ip=$     default TXT template
 *   reason.N = TEMPLATE               TXT template of reason id N
 *   snapshot = FILE, trusted_key = PUB..., spool_dir = DIR   a signed feed
 *   rbldnsd = KIND:FILE...            or rbldnsd data files (ip4set, ...)
 *   export_rbldnsd = FILE             write the served state as an rbldnsd
 *                                     ip4trie file after each apply
 * With [sync], a zone without snapshot, spool_dir or rbldnsd gets its feed
 * from the master. Times accept s, m, h, d suffixes ([sync]: also ms).
 */

#include <errno.h>
#include <ini.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_util.h"
#include "err.h"
#include "feed.h"
#include "server.h"
#include "log.h"

void mirror_config_init(mirror_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->threads = 2;
    c->tcp_idle_ms = 10000;
    c->tcp_max_conns = 512;
    c->tcp_max_per_client = MIRROR_TCP_PER_CLIENT_DEFAULT;
    c->tcp_query_ms = MIRROR_TCP_QUERY_MS_DEFAULT;
    c->tcp_pipeline = MIRROR_TCP_PIPELINE_DEFAULT;
    c->udp_max = MIRROR_UDP_MAX_DEFAULT;
    c->udp_coalesce_us = 1000;
    c->udp_gso = 1;
    c->log_level = BL_LOG_INFO;
    c->window_ms = 4LL * 3600 * 1000;
    c->expected_prop_ms = 30LL * 60 * 1000;
    c->sync.stale_after_ms = 30000;
    c->sync.freeze_after_ms = 0; /* derived from the window (mirror_config_freeze_after) */
    c->sync.backoff_min_ms = 500;
    c->sync.backoff_max_ms = 30000;
}

static void zone_conf_close(mirror_zone_conf_t *z)
{
    for (unsigned i = 0; i < z->nns; i++)
        free(z->ns[i]);
    free(z->txt);
    for (size_t i = 0; i < z->nreason; i++)
        free(z->reason_txt[i]);
    free(z->reason_txt);
    free(z->snapshot);
    for (unsigned i = 0; i < z->nkeys; i++)
        free(z->keys[i]);
    free(z->spool_dir);
    for (unsigned i = 0; i < z->nrbldnsd; i++)
        free(z->rbldnsd[i]);
    free(z->export_rbldnsd);
}

void mirror_config_close(mirror_config_t *c)
{
    for (unsigned i = 0; i < c->nlisten; i++)
        free(c->listen[i]);
    free(c->metrics_listen);
    free(c->sync.master);
    free(c->sync.server_name);
    free(c->sync.cert);
    free(c->sync.key);
    free(c->sync.ca);
    free(c->sync.state_dir);
    for (unsigned i = 0; i < c->nzones; i++)
        zone_conf_close(&c->zones[i]);
    memset(c, 0, sizeof *c);
}

static int parse_uint(const char *v, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    if (!*v || *v == '-')
        return -1;
    unsigned long x = strtoul(v, &end, 10);
    /* optional time suffix: s, m, h, d */
    unsigned long mul = 1;
    if (*end == 's')
        end++;
    else if (*end == 'm')
        mul = 60, end++;
    else if (*end == 'h')
        mul = 3600, end++;
    else if (*end == 'd')
        mul = 86400, end++;
    if (errno || *end || x > max / mul)
        return -1;
    *out = x * mul;
    return 0;
}

static int add_list(char **list, unsigned *n, const char *v)
{
    /* whitespace-separated values; repeated keys append */
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", v);
    for (char *save, *t = strtok_r(buf, " \t,", &save); t; t = strtok_r(NULL, " \t,", &save)) {
        if (*n >= MIRROR_CONF_MAX_LIST)
            return -1;
        list[(*n)++] = strdup(t);
    }
    return 0;
}

static void zone_defaults(mirror_zone_conf_t *z, const char *name, unsigned line)
{
    memset(z, 0, sizeof *z);
    snprintf(z->name, sizeof z->name, "%s", name);
    snprintf(z->feed, sizeof z->feed, "main");
    z->ttl = 300;
    z->soa_ttl = 3600;
    z->neg_ttl = 300;
    z->refresh = 3600;
    z->retry = 600;
    z->expire = 604800;
    z->a = 2;
    z->line = line;
}

static mirror_zone_conf_t *zone_for(mirror_config_t *c, const char *section, unsigned line,
                                    int create)
{
    const char *name = section + 4;
    while (*name == ' ' || *name == '\t')
        name++;
    size_t l = strlen(name);
    while (l && name[l - 1] == '.')
        l--;
    char nb[256];
    snprintf(nb, sizeof nb, "%.*s", (int)l, name);
    for (char *p = nb; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p + 32);
    if (!*nb)
        return c->nzones ? &c->zones[0] : NULL;
    for (unsigned i = 0; i < c->nzones; i++)
        if (!strcmp(c->zones[i].name, nb))
            return &c->zones[i];
    if (!create || c->nzones >= MIRROR_CONF_MAX_ZONES)
        return NULL;
    zone_defaults(&c->zones[c->nzones], nb, line);
    return &c->zones[c->nzones++];
}

#define BAD(...)                                                                                   \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        return BL_ECONFIG;                                                                         \
    } while (0)

static int set_u32(const char *key, const char *val, unsigned long max, uint32_t *out, char *err,
                   size_t errlen)
{
    unsigned long x;
    if (parse_uint(val, max, &x))
        BAD("%s: '%s' is not a number in 0..%lu", key, val, max);
    *out = (uint32_t)x;
    return 0;
}

static int set_zone(mirror_zone_conf_t *z, const char *key, const char *val, char *err,
                    size_t errlen)
{
    if (!strcmp(key, "feed")) {
        if (!*val || strlen(val) > BL_FEED_MAX)
            BAD("feed: name must be 1..%d bytes", BL_FEED_MAX);
        snprintf(z->feed, sizeof z->feed, "%s", val);
    } else if (!strcmp(key, "ttl")) {
        return set_u32(key, val, 0x7fffffff, &z->ttl, err, errlen);
    } else if (!strcmp(key, "soa_ttl")) {
        return set_u32(key, val, 0x7fffffff, &z->soa_ttl, err, errlen);
    } else if (!strcmp(key, "neg_ttl") || !strcmp(key, "soa_minimum")) {
        return set_u32(key, val, 0x7fffffff, &z->neg_ttl, err, errlen);
    } else if (!strcmp(key, "soa_refresh")) {
        return set_u32(key, val, 0x7fffffff, &z->refresh, err, errlen);
    } else if (!strcmp(key, "soa_retry")) {
        return set_u32(key, val, 0x7fffffff, &z->retry, err, errlen);
    } else if (!strcmp(key, "soa_expire")) {
        return set_u32(key, val, 0x7fffffff, &z->expire, err, errlen);
    } else if (!strcmp(key, "soa_mname")) {
        snprintf(z->mname, sizeof z->mname, "%s", val);
    } else if (!strcmp(key, "soa_rname")) {
        snprintf(z->rname, sizeof z->rname, "%s", val);
    } else if (!strcmp(key, "ns")) {
        char *tmp[MIRROR_CONF_MAX_LIST];
        unsigned n = 0;
        if (add_list(tmp, &n, val) || z->nns + n > MIRROR_NS_MAX) {
            for (unsigned i = 0; i < n; i++)
                free(tmp[i]);
            BAD("ns: at most %d name servers", MIRROR_NS_MAX);
        }
        for (unsigned i = 0; i < n; i++)
            z->ns[z->nns++] = tmp[i];
    } else if (!strcmp(key, "a")) {
        unsigned long x;
        const char *v = !strncmp(val, "127.0.0.", 8) ? val + 8 : val;
        if (parse_uint(v, 255, &x) || x == 0)
            BAD("a: '%s' is not 127.0.0.x with x in 1..255", val);
        z->a = (unsigned)x;
    } else if (!strcmp(key, "txt")) {
        free(z->txt);
        z->txt = *val ? strdup(val) : NULL;
    } else if (!strncmp(key, "reason.", 7)) {
        unsigned long id;
        if (parse_uint(key + 7, 65535, &id))
            BAD("%s: reason id must be 0..65535", key);
        if (id >= z->nreason) {
            char **nr = realloc(z->reason_txt, (id + 1) * sizeof *nr);
            if (!nr)
                BAD("out of memory");
            memset(nr + z->nreason, 0, (id + 1 - z->nreason) * sizeof *nr);
            z->reason_txt = nr;
            z->nreason = id + 1;
        }
        free(z->reason_txt[id]);
        z->reason_txt[id] = strdup(val);
    } else if (!strcmp(key, "snapshot")) {
        free(z->snapshot);
        z->snapshot = strdup(val);
    } else if (!strcmp(key, "trusted_key")) {
        if (add_list(z->keys, &z->nkeys, val))
            BAD("trusted_key: at most %d keys", MIRROR_CONF_MAX_LIST);
    } else if (!strcmp(key, "spool_dir")) {
        free(z->spool_dir);
        z->spool_dir = strdup(val);
    } else if (!strcmp(key, "export_rbldnsd")) {
        free(z->export_rbldnsd);
        z->export_rbldnsd = *val ? strdup(val) : NULL;
    } else if (!strcmp(key, "rbldnsd")) {
        if (!strchr(val, ':'))
            BAD("rbldnsd: expected KIND:FILE (e.g. ip4set:/var/lib/rbldnsd/list)");
        if (z->nrbldnsd >= MIRROR_CONF_MAX_LIST)
            BAD("rbldnsd: at most %d files", MIRROR_CONF_MAX_LIST);
        z->rbldnsd[z->nrbldnsd++] = strdup(val);
    } else {
        BAD("unknown zone setting '%s'", key);
    }
    return 0;
}

static int set_str(char **dst, const char *key, const char *val, char *err, size_t errlen)
{
    if (!*val)
        BAD("%s: empty value", key);
    free(*dst);
    *dst = strdup(val);
    return 0;
}

static int set_sync(mirror_sync_file_conf_t *y, const char *key, const char *val, unsigned line,
                    char *err, size_t errlen)
{
    const char *why = NULL;
    int64_t *ms = NULL;
    y->enabled = 1;
    if (!y->line)
        y->line = line;
    if (!strcmp(key, "master")) {
        struct sockaddr_storage ss;
        socklen_t len;
        if (bl_cfg_listen(val, 7353, &ss, &len, &why) ||
            (ss.ss_family == AF_INET && ((struct sockaddr_in *)&ss)->sin_port == 0))
            BAD("master: '%s' is not a numeric address[:port] (%s)", val, why ? why : "port 0");
        y->master_line = line;
        return set_str(&y->master, key, val, err, errlen);
    } else if (!strcmp(key, "server_name")) {
        if (!*val || strlen(val) > 255 || strpbrk(val, " \t/"))
            BAD("server_name: '%s' is not a host name", val);
        return set_str(&y->server_name, key, val, err, errlen);
    } else if (!strcmp(key, "cert")) {
        y->cert_line = line;
        return set_str(&y->cert, key, val, err, errlen);
    } else if (!strcmp(key, "key")) {
        y->key_line = line;
        return set_str(&y->key, key, val, err, errlen);
    } else if (!strcmp(key, "ca")) {
        y->ca_line = line;
        return set_str(&y->ca, key, val, err, errlen);
    } else if (!strcmp(key, "state_dir")) {
        y->state_line = line;
        return set_str(&y->state_dir, key, val, err, errlen);
    } else if (!strcmp(key, "stale_after")) {
        ms = &y->stale_after_ms;
    } else if (!strcmp(key, "freeze_after")) {
        ms = &y->freeze_after_ms;
    } else if (!strcmp(key, "backoff_min")) {
        ms = &y->backoff_min_ms;
    } else if (!strcmp(key, "backoff_max")) {
        ms = &y->backoff_max_ms;
    } else {
        BAD("unknown sync setting '%s'", key);
    }
    if (bl_cfg_duration(val, ms, &why) || *ms <= 0)
        BAD("%s: '%s' is not a positive duration (%s)", key, val, why ? why : "zero");
    return 0;
}

static int set_any(mirror_config_t *c, const char *section, const char *key, const char *val,
                   unsigned line, char *err, size_t errlen);

int mirror_config_set(mirror_config_t *c, const char *section, const char *key, const char *val,
                      char *err, size_t errlen)
{
    return set_any(c, section, key, val, 0, err, errlen);
}

static int set_any(mirror_config_t *c, const char *section, const char *key, const char *val,
                   unsigned line, char *err, size_t errlen)
{
    if (!strcmp(section, "sync"))
        return set_sync(&c->sync, key, val, line, err, errlen);
    if (!strcmp(section, "server")) {
        unsigned long x;
        if (!strcmp(key, "listen")) {
            if (add_list(c->listen, &c->nlisten, val))
                BAD("listen: at most %d addresses", MIRROR_CONF_MAX_LIST);
        } else if (!strcmp(key, "threads")) {
            if (parse_uint(val, 64, &x) || x == 0)
                BAD("threads: '%s' is not in 1..64", val);
            c->threads = (unsigned)x;
        } else if (!strcmp(key, "tcp_idle_timeout")) {
            if (parse_uint(val, 3600, &x) || x == 0)
                BAD("tcp_idle_timeout: '%s' is not 1..3600 seconds", val);
            c->tcp_idle_ms = (unsigned)x * 1000;
        } else if (!strcmp(key, "tcp_idle_timeout_ms")) {
            if (parse_uint(val, 3600000, &x) || x == 0)
                BAD("tcp_idle_timeout_ms: '%s' is not 1..3600000", val);
            c->tcp_idle_ms = (unsigned)x;
        } else if (!strcmp(key, "tcp_max_connections")) {
            if (parse_uint(val, 1000000, &x) || x == 0)
                BAD("tcp_max_connections: '%s' is not 1..1000000", val);
            c->tcp_max_conns = (unsigned)x;
        } else if (!strcmp(key, "tcp_max_connections_per_client")) {
            if (parse_uint(val, 65535, &x) || x == 0)
                BAD("tcp_max_connections_per_client: '%s' is not 1..65535", val);
            c->tcp_max_per_client = (unsigned)x;
        } else if (!strcmp(key, "tcp_query_timeout_ms")) {
            if (parse_uint(val, 60000, &x) || x < 100)
                BAD("tcp_query_timeout_ms: '%s' is not 100..60000", val);
            c->tcp_query_ms = (unsigned)x;
        } else if (!strcmp(key, "tcp_max_pipelined")) {
            if (parse_uint(val, 1024, &x) || x == 0)
                BAD("tcp_max_pipelined: '%s' is not 1..1024", val);
            c->tcp_pipeline = (unsigned)x;
        } else if (!strcmp(key, "udp_max_payload")) {
            if (parse_uint(val, 4096, &x) || x < 512)
                BAD("udp_max_payload: '%s' is not 512..4096", val);
            c->udp_max = (unsigned)x;
        } else if (!strcmp(key, "udp_coalesce_us")) {
            if (parse_uint(val, 10000, &x))
                BAD("udp_coalesce_us: '%s' is not 0..10000", val);
            c->udp_coalesce_us = (unsigned)x;
        } else if (!strcmp(key, "metrics_listen")) {
            free(c->metrics_listen);
            c->metrics_listen = *val ? strdup(val) : NULL;
        } else if (!strcmp(key, "udp_gso")) {
            if (strcmp(val, "yes") && strcmp(val, "no"))
                BAD("udp_gso: '%s' is not yes or no", val);
            c->udp_gso = !strcmp(val, "yes");
        } else if (!strcmp(key, "log_level")) {
            int l = bl_log_level_parse(val);
            if (l < 0)
                BAD("log_level: '%s' is not err, warn, info or debug", val);
            c->log_level = l;
        } else if (!strcmp(key, "window") || !strcmp(key, "expected_propagation")) {
            int64_t ms;
            const char *why = NULL;
            if (bl_cfg_duration(val, &ms, &why) || ms < 1000)
                BAD("%s: '%s' is not a duration of at least 1s", key, val);
            *(!strcmp(key, "window") ? &c->window_ms : &c->expected_prop_ms) = ms;
        } else if (!strcmp(key, "log_syslog")) {
            if (strcmp(val, "yes") && strcmp(val, "no"))
                BAD("log_syslog: '%s' is not yes or no", val);
            c->log_syslog = !strcmp(val, "yes");
        } else {
            BAD("unknown server setting '%s'", key);
        }
        return 0;
    }
    if (!strncmp(section, "zone", 4) && (section[4] == 0 || section[4] == ' ')) {
        mirror_zone_conf_t *z = zone_for(c, section, 0, 1);
        if (!z)
            BAD("no such zone or too many zones (at most %d)", MIRROR_CONF_MAX_ZONES);
        return set_zone(z, key, val, err, errlen);
    }
    BAD("unknown section [%s]", section);
}

/* inih plumbing: a line-counting reader so that every error names file:line. */
typedef struct {
    FILE *f;
    unsigned line;
    mirror_config_t *c;
    char *err;
    size_t errlen;
    int rc;
    const char *path;
} ini_ctx_t;

static char *ini_reader_fn(char *str, int num, void *stream)
{
    ini_ctx_t *x = stream;
    char *r = fgets(str, num, x->f);
    if (r)
        x->line++;
    return r;
}

static int ini_handler_fn(void *user, const char *section, const char *name, const char *value)
{
    ini_ctx_t *x = user;
    if (x->rc)
        return 0;
    char msg[512];
    if (!strncmp(section, "zone", 4) && (section[4] == 0 || section[4] == ' ') &&
        !zone_for(x->c, section, x->line, 0))
        zone_for(x->c, section, x->line, 1);
    int rc = set_any(x->c, section, name, value, x->line, msg, sizeof msg);
    if (rc) {
        snprintf(x->err, x->errlen, "%s:%u: %s", x->path, x->line, msg);
        x->rc = rc;
        return 0;
    }
    return 1;
}

int mirror_config_load(mirror_config_t *c, const char *path, char *err, size_t errlen)
{
    ini_ctx_t x = {fopen(path, "r"), 0, c, err, errlen, 0, path};
    snprintf(c->path, sizeof c->path, "%s", path);
    if (!x.f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return BL_EIO;
    }
    int r = ini_parse_stream(ini_reader_fn, &x, ini_handler_fn, &x);
    fclose(x.f);
    if (x.rc)
        return x.rc;
    if (r > 0) {
        snprintf(err, errlen, "%s:%d: syntax error (expected [section] or key = value)", path, r);
        return BL_ECONFIG;
    }
    if (r < 0) {
        snprintf(err, errlen, "%s: cannot parse", path);
        return BL_ECONFIG;
    }
    return 0;
}

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
    for (unsigned i = 0; i < c->nlisten; i++) {
        struct sockaddr_storage ss;
        socklen_t len;
        const char *why = "";
        if (bl_cfg_listen(c->listen[i], 53, &ss, &len, &why))
            BAD("listen: '%s' is not an address[:port] (%s)", c->listen[i], why);
    }
    if (c->metrics_listen) {
        struct sockaddr_storage ss;
        socklen_t len;
        const char *why = "";
        if (bl_cfg_listen(c->metrics_listen, 9154, &ss, &len, &why))
            BAD("metrics_listen: '%s' is not an address[:port] (%s)", c->metrics_listen, why);
    }
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
        for (unsigned j = 0; j < i; j++) {
            if (!strcmp(c->zones[j].name, z->name))
                BAD("zone %s declared twice", z->name);
            if (synced && mirror_zone_conf_synced(c, &c->zones[j]) &&
                !strcmp(c->zones[j].feed, z->feed))
                BAD("zone %s (line %u): feed %s is already followed by zone %s", z->name, z->line,
                    z->feed, c->zones[j].name);
        }
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
