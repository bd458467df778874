/* SPDX-License-Identifier: MIT */
/* blsync-master's INI configuration (inih): every problem names its file and line. */
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "err.h"
#include "log.h"

void master_config_defaults(master_config_t *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->feed, sizeof c->feed, "main");
    snprintf(c->db, sizeof c->db, "/var/lib/blsync/master.db");
    c->log_level = BL_LOG_INFO;
    c->verify_digest = 1;
    snprintf(c->listen, sizeof c->listen, "127.0.0.1:8053");
    c->max_body = 4u << 20;
    c->http_threads = 2;
    master_pub_conf_defaults(&c->pub);
    c->publish_delay_ms = 100;
    c->publish_max_delay_ms = 1000;
    c->retry_max_ms = 30000;
    c->tick_ms = 1000;
    c->report_retention_ms = 30LL * 24 * 3600 * 1000;
    master_policy_defaults(&c->policy);
    master_sync_conf_defaults(&c->sync);
    c->window_ms = 4LL * 3600 * 1000;
    c->mirror_ttl_ms = 300 * 1000; /* blsync-mirror's default ttl */
    c->expected_prop_ms = 30 * 60 * 1000;
}

int master_parse_duration(const char *s, int64_t *ms)
{
    /* One or more NUMBER[UNIT] terms: "90", "250ms", "1h30m", "1d12h". */
    double total = 0;
    int terms = 0;
    while (*s) {
        char *end;
        if (!isdigit((unsigned char)*s))
            return BL_EINVAL;
        errno = 0;
        double v = strtod(s, &end);
        if (errno || v < 0)
            return BL_EINVAL;
        double mul;
        if (!strncmp(end, "ms", 2)) {
            mul = 1;
            end += 2;
        } else if (*end == 's') {
            mul = 1000;
            end++;
        } else if (*end == 'm') {
            mul = 60e3;
            end++;
        } else if (*end == 'h') {
            mul = 3600e3;
            end++;
        } else if (*end == 'd') {
            mul = 86400e3;
            end++;
        } else if (!*end && !terms) {
            mul = 1000; /* a bare number is seconds */
        } else {
            return BL_EINVAL;
        }
        total += v * mul;
        terms++;
        s = end;
    }
    if (!terms || total > 1e15)
        return BL_EINVAL;
    *ms = (int64_t)(total + 0.5);
    return 0;
}

int master_parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)*s))
        return BL_EINVAL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return BL_EINVAL;
    unsigned shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10;
    else if (*end == 'M')
        shift = 20;
    else if (*end == 'G')
        shift = 30;
    else if (*end)
        return BL_EINVAL;
    if (shift && end[1])
        return BL_EINVAL;
    if (v > (UINT64_MAX >> shift))
        return BL_EINVAL;
    *out = (uint64_t)v << shift;
    return 0;
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
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < 0 || p > 65535 || end == colon + 1)
        return BL_EINVAL;
    *port = (uint16_t)p;
    return 0;
}

typedef struct {
    master_config_t *c;
    const char *path;
    char *err;
    size_t errlen;
    char problem[256];
    char token_file[PATH_MAX];
} load_t;

#define PROBLEM(...) (snprintf(L->problem, sizeof L->problem, __VA_ARGS__), 0)

static int set_str(load_t *L, char *dst, size_t n, const char *v, const char *name)
{
    if (strlen(v) >= n)
        return PROBLEM("%s: value too long (at most %zu bytes)", name, n - 1);
    memcpy(dst, v, strlen(v) + 1);
    return 1;
}

static int set_dur(load_t *L, int64_t *dst, const char *v, const char *name)
{
    if (master_parse_duration(v, dst))
        return PROBLEM("%s: '%s' is not a duration (e.g. 250ms, 30s, 15m, 24h, 7d)", name, v);
    return 1;
}

/* A duration of at least min_ms. */
static int set_dur_min(load_t *L, int64_t *dst, const char *v, const char *name, int64_t min_ms)
{
    if (!set_dur(L, dst, v, name))
        return 0;
    if (*dst < min_ms)
        return PROBLEM("%s: '%s' is shorter than %lldms", name, v, (long long)min_ms);
    return 1;
}

static int set_int(load_t *L, long *dst, const char *v, const char *name, long lo, long hi)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return PROBLEM("%s: '%s' is not an integer in %ld..%ld", name, v, lo, hi);
    *dst = x;
    return 1;
}

static int set_num(load_t *L, double *dst, const char *v, const char *name)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || x < 0 || x > 1e9)
        return PROBLEM("%s: '%s' is not a non-negative number", name, v);
    *dst = x;
    return 1;
}

static int set_bool(load_t *L, int *dst, const char *v, const char *name)
{
    if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "on"))
        *dst = 1;
    else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "off"))
        *dst = 0;
    else
        return PROBLEM("%s: '%s' is not yes or no", name, v);
    return 1;
}

static int handler(void *user, const char *sec, const char *name, const char *v)
{
    load_t *L = user;
    master_config_t *c = L->c;
    long x;
    uint64_t u;
    if (!strcmp(sec, "master")) {
        if (!strcmp(name, "feed")) {
            if (!*v)
                return PROBLEM("feed: empty");
            return set_str(L, c->feed, sizeof c->feed, v, name);
        }
        if (!strcmp(name, "db"))
            return set_str(L, c->db, sizeof c->db, v, name);
        if (!strcmp(name, "sync")) {
            if (strcmp(v, "full") && strcmp(v, "normal"))
                return PROBLEM("sync: '%s' is not full or normal", v);
            c->sync_full = !strcmp(v, "full");
            return 1;
        }
        if (!strcmp(name, "log_level")) {
            int l = bl_log_level_parse(v);
            if (l < 0)
                return PROBLEM("log_level: '%s' is not err, warn, info or debug", v);
            c->log_level = l;
            return 1;
        }
        if (!strcmp(name, "verify_digest_on_start"))
            return set_bool(L, &c->verify_digest, v, name);
    } else if (!strcmp(sec, "http")) {
        if (!strcmp(name, "listen")) {
            char host[100];
            uint16_t port;
            if (master_parse_listen(v, host, sizeof host, &port))
                return PROBLEM("listen: '%s' is not host:port or [v6]:port", v);
            return set_str(L, c->listen, sizeof c->listen, v, name);
        }
        if (!strcmp(name, "token"))
            return set_str(L, c->token, sizeof c->token, v, name);
        if (!strcmp(name, "token_file"))
            return set_str(L, L->token_file, sizeof L->token_file, v, name);
        if (!strcmp(name, "max_body")) {
            if (master_parse_size(v, &u) || u < 1024 || u > (1ULL << 30))
                return PROBLEM("max_body: '%s' is not a size between 1K and 1G", v);
            c->max_body = (size_t)u;
            return 1;
        }
        if (!strcmp(name, "threads")) {
            if (!set_int(L, &x, v, name, 1, 64))
                return 0;
            c->http_threads = (unsigned)x;
            return 1;
        }
        if (!strcmp(name, "max_connections")) {
            if (!set_int(L, &x, v, name, 1, 100000))
                return 0;
            c->http_max_conns = (unsigned)x;
            return 1;
        }
        if (!strcmp(name, "max_connections_per_address")) {
            if (!set_int(L, &x, v, name, 1, 100000))
                return 0;
            c->http_max_conns_per_addr = (unsigned)x;
            return 1;
        }
        if (!strcmp(name, "idle_timeout"))
            return set_dur_min(L, &c->http_idle_timeout_ms, v, name, 1000);
        if (!strcmp(name, "request_timeout"))
            return set_dur_min(L, &c->http_request_timeout_ms, v, name, 100);
    } else if (!strcmp(sec, "publisher")) {
        if (!strcmp(name, "spool"))
            return set_str(L, c->pub.spool, sizeof c->pub.spool, v, name);
        if (!strcmp(name, "key"))
            return set_str(L, c->pub.key_path, sizeof c->pub.key_path, v, name);
        if (!strcmp(name, "delay"))
            return set_dur(L, &c->publish_delay_ms, v, name);
        if (!strcmp(name, "max_delay"))
            return set_dur(L, &c->publish_max_delay_ms, v, name);
        if (!strcmp(name, "retry_max"))
            return set_dur(L, &c->retry_max_ms, v, name);
        if (!strcmp(name, "object_ttl"))
            return set_dur(L, &c->pub.object_ttl_ms, v, name);
        if (!strcmp(name, "snapshot_every")) {
            if (!set_int(L, &x, v, name, 0, 1000000))
                return 0;
            c->pub.snapshot_every = (unsigned)x;
            return 1;
        }
        if (!strcmp(name, "history_count")) {
            if (!set_int(L, &x, v, name, 2, 100000000))
                return 0;
            c->pub.history_count = (uint64_t)x;
            return 1;
        }
        if (!strcmp(name, "async_snapshot_entries")) {
            if (!set_int(L, &x, v, name, 0, 2000000000))
                return 0;
            c->pub.async_snapshot_entries = (uint64_t)x;
            return 1;
        }
        if (!strcmp(name, "history_bytes")) {
            if (master_parse_size(v, &u) || u < 4096)
                return PROBLEM("history_bytes: '%s' is not a size of at least 4K", v);
            c->pub.history_bytes = u;
            return 1;
        }
    } else if (!strcmp(sec, "metrics")) {
        if (!strcmp(name, "listen")) {
            char host[100];
            uint16_t port;
            if (master_parse_listen(v, host, sizeof host, &port))
                return PROBLEM("listen: '%s' is not host:port or [v6]:port", v);
            return set_str(L, c->metrics_listen, sizeof c->metrics_listen, v, name);
        }
        if (!strcmp(name, "window")) {
            if (!set_dur(L, &c->window_ms, v, name))
                return 0;
            return c->window_ms >= 1000 ? 1 : PROBLEM("window: '%s' is shorter than 1s", v);
        }
        if (!strcmp(name, "mirror_ttl"))
            return set_dur(L, &c->mirror_ttl_ms, v, name);
        if (!strcmp(name, "expected_propagation"))
            return set_dur(L, &c->expected_prop_ms, v, name);
    } else if (!strcmp(sec, "sync")) {
        master_sync_conf_t *y = &c->sync;
        if (!strcmp(name, "listen")) {
            uint16_t port;
            if (master_parse_listen(v, y->host, sizeof y->host, &port))
                return PROBLEM("listen: '%s' is not host:port or [v6]:port", v);
            y->port = port;
            c->sync_enabled = 1;
            return 1;
        }
        if (!strcmp(name, "cert"))
            return set_str(L, y->cert_file, sizeof y->cert_file, v, name);
        if (!strcmp(name, "tls_key"))
            return set_str(L, y->tls_key_file, sizeof y->tls_key_file, v, name);
        if (!strcmp(name, "ca"))
            return set_str(L, y->ca_file, sizeof y->ca_file, v, name);
        if (!strcmp(name, "pinned"))
            return set_str(L, y->pinned_file, sizeof y->pinned_file, v, name);
        if (!strcmp(name, "revoked"))
            return set_str(L, y->revoked_file, sizeof y->revoked_file, v, name);
        if (!strcmp(name, "heartbeat_interval"))
            return set_dur(L, &y->heartbeat_interval_ms, v, name);
        if (!strcmp(name, "heartbeat_ttl"))
            return set_dur(L, &y->heartbeat_ttl_ms, v, name);
        if (!strcmp(name, "stuck"))
            return set_dur(L, &y->stuck_ms, v, name);
        if (!strcmp(name, "silent_after"))
            return set_dur(L, &y->silent_ms, v, name);
        if (!strcmp(name, "max_queue")) {
            if (master_parse_size(v, &u) || u < 4096)
                return PROBLEM("max_queue: '%s' is not a size of at least 4K", v);
            y->max_queue = (size_t)u;
            return 1;
        }
        if (!strcmp(name, "max_mirrors")) {
            if (!set_int(L, &x, v, name, 1, 1000000))
                return 0;
            y->max_mirrors = (size_t)x;
            return 1;
        }
        if (!strcmp(name, "handshake_timeout"))
            return set_dur_min(L, &y->handshake_timeout_ms, v, name, 100);
        if (!strcmp(name, "max_handshakes")) {
            if (!set_int(L, &x, v, name, 1, 1000000))
                return 0;
            y->max_handshakes = (size_t)x;
            return 1;
        }
        if (!strcmp(name, "max_handshakes_per_address")) {
            if (!set_int(L, &x, v, name, 1, 1000000))
                return 0;
            y->max_handshakes_per_addr = (size_t)x;
            return 1;
        }
    } else if (!strcmp(sec, "policy")) {
        master_policy_t *p = &c->policy;
        if (!strcmp(name, "threshold"))
            return set_num(L, &p->threshold, v, name);
        if (!strcmp(name, "weight_user"))
            return set_num(L, &p->weight[MASTER_SRC_USER], v, name);
        if (!strcmp(name, "weight_spamtrap"))
            return set_num(L, &p->weight[MASTER_SRC_SPAMTRAP], v, name);
        if (!strcmp(name, "window"))
            return set_dur(L, &p->window_ms, v, name);
        if (!strcmp(name, "duration"))
            return set_dur(L, &p->duration_ms, v, name);
        if (!strcmp(name, "relist_grace"))
            return set_dur(L, &p->relist_grace_ms, v, name);
        if (!strcmp(name, "future_skew"))
            return set_dur(L, &p->future_skew_ms, v, name);
        if (!strcmp(name, "max_report_age"))
            return set_dur(L, &p->max_age_ms, v, name);
        if (!strcmp(name, "mirror_active"))
            return set_dur(L, &p->mirror_active_ms, v, name);
        if (!strcmp(name, "report_retention"))
            return set_dur(L, &c->report_retention_ms, v, name);
        if (!strcmp(name, "expire_interval"))
            return set_dur(L, &c->tick_ms, v, name);
        if (!strcmp(name, "min_prefix4")) {
            if (!set_int(L, &x, v, name, 0, 32))
                return 0;
            p->min_len4 = (int)x;
            return 1;
        }
        if (!strcmp(name, "min_prefix6")) {
            if (!set_int(L, &x, v, name, 0, 128))
                return 0;
            p->min_len6 = (int)x;
            return 1;
        }
    } else if (!strncmp(sec, "kind.", 5)) {
        int k = master_kind_parse(sec + 5);
        if (k < 0)
            return PROBLEM("[%s]: unknown listing kind (policy, manual, import)", sec);
        master_kind_conf_t *kc = &c->policy.kind[k];
        if (!strcmp(name, "a")) {
            if (!set_int(L, &x, v, name, 2, 255))
                return 0;
            kc->a = (int)x;
            return 1;
        }
        if (!strcmp(name, "reason")) {
            if (!set_int(L, &x, v, name, 0, 65535))
                return 0;
            kc->reason = (int)x;
            return 1;
        }
        if (!strcmp(name, "duration") && k != MASTER_KIND_POLICY)
            return set_dur(L, &kc->duration_ms, v, name);
    } else {
        return PROBLEM("unknown section [%s]", sec);
    }
    return PROBLEM("unknown key '%s' in [%s]", name, sec);
}

static int read_token(load_t *L)
{
    FILE *f = fopen(L->token_file, "r");
    if (!f) {
        snprintf(L->err, L->errlen, "%s: token_file %s: %s", L->path, L->token_file,
                 strerror(errno));
        return BL_ECONFIG;
    }
    char buf[sizeof L->c->token + 2];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = 0;
    if (!n || n >= sizeof L->c->token) {
        snprintf(L->err, L->errlen, "%s: token_file %s: empty or longer than %zu bytes", L->path,
                 L->token_file, sizeof L->c->token - 1);
        return BL_ECONFIG;
    }
    memcpy(L->c->token, buf, n + 1);
    return 0;
}

int master_config_load(const char *path, master_config_t *c, char *err, size_t errlen)
{
    load_t L = {.c = c, .path = path, .err = err, .errlen = errlen};
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return BL_EIO;
    }
    int line = ini_parse_file(f, handler, &L);
    fclose(f);
    if (line) {
        snprintf(err, errlen, "%s:%d: %s", path, line,
                 L.problem[0] ? L.problem : "syntax error (expected [section] or key = value)");
        return BL_ECONFIG;
    }
    if (L.token_file[0] && read_token(&L))
        return BL_ECONFIG;
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
    if (c->tick_ms < 10) {
        snprintf(err, errlen, "%s: policy expire_interval must be at least 10ms", path);
        return BL_ECONFIG;
    }
    return 0;
}
