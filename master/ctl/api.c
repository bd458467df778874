/* SPDX-License-Identifier: MIT */
/* blsyncctl report, list, lookup: talk to blsync-master's HTTP API. */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "addr.h"
#include "config.h"
#include "config_util.h"
#include "ctl.h"
#include "err.h"
#include "http.h"
#include "json.h"
#include "rd.h"
#include "util.h"

#define MAX_RESPONSE (64u << 20)

typedef struct {
    char host[128];
    char port[8];
    char token[256];
    char feed[BL_FEED_MAX + 1]; /* --feed: every request names it (?feed=); "": the first */
    int min_len4, min_len6;     /* the master's min_prefix4/6 with -c CONF; else 0 (its call) */
} api_t;

/* Common options: --url http://HOST:PORT, --token-file F (or BLSYNC_TOKEN),
 * -c CONF (takes listen and token from the master's configuration), --feed
 * NAME (a master of several feeds: the one to work on). Other arguments are
 * left in rest. */
static int api_opts(int argc, char **argv, api_t *a, char **rest, int *nrest)
{
    const char *url = NULL, *conf = NULL, *token_file = NULL;
    *nrest = 0;
    snprintf(a->host, sizeof a->host, "127.0.0.1");
    snprintf(a->port, sizeof a->port, "8053");
    a->token[0] = a->feed[0] = 0;
    a->min_len4 = a->min_len6 = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--url") && i + 1 < argc)
            url = argv[++i];
        else if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc)
            conf = argv[++i];
        else if (!strcmp(argv[i], "--token-file") && i + 1 < argc)
            token_file = argv[++i];
        else if (!strcmp(argv[i], "--feed") && i + 1 < argc) {
            const char *f = argv[++i];
            if (!*f || strlen(f) > BL_FEED_MAX ||
                f[strspn(f, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")]) {
                fprintf(stderr,
                        "blsyncctl: --feed: a feed name (letters, digits, '.', '_', '-', "
                        "at most %d)\n",
                        BL_FEED_MAX);
                return 2;
            }
            snprintf(a->feed, sizeof a->feed, "%s", f);
        } else
            rest[(*nrest)++] = argv[i];
    }
    if (conf) {
        master_config_t c;
        char err[512];
        master_config_defaults(&c);
        if (master_config_load(conf, &c, err, sizeof err)) {
            fprintf(stderr, "blsyncctl: %s\n", err);
            return 2;
        }
        uint16_t port;
        master_parse_listen(c.listen, a->host, sizeof a->host, &port);
        snprintf(a->port, sizeof a->port, "%u", port);
        snprintf(a->token, sizeof a->token, "%s", c.token);
        a->min_len4 = c.policy.min_len4;
        a->min_len6 = c.policy.min_len6;
    }
    if (url) {
        if (strncmp(url, "http://", 7)) {
            fprintf(stderr, "blsyncctl: --url must start with http://\n");
            return 2;
        }
        char hp[200];
        snprintf(hp, sizeof hp, "%s", url + 7);
        char *slash = strchr(hp, '/');
        if (slash)
            *slash = 0;
        uint16_t port;
        if (master_parse_listen(hp, a->host, sizeof a->host, &port)) {
            fprintf(stderr, "blsyncctl: --url: expected http://HOST:PORT\n");
            return 2;
        }
        snprintf(a->port, sizeof a->port, "%u", port);
    }
    const char *env = getenv("BLSYNC_TOKEN");
    if (env && *env && !a->token[0])
        snprintf(a->token, sizeof a->token, "%s", env);
    if (token_file) {
        FILE *f = fopen(token_file, "r");
        if (!f) {
            fprintf(stderr, "blsyncctl: %s: %s\n", token_file, strerror(errno));
            return 2;
        }
        size_t n = fread(a->token, 1, sizeof a->token - 1, f);
        fclose(f);
        a->token[n] = 0;
        while (n && (a->token[n - 1] == '\n' || a->token[n - 1] == '\r'))
            a->token[--n] = 0;
    }
    return 0;
}

/* The address rules (proto/addr.h) before anything is sent, so that a
 * refused address says why at once, in the master's words. */
static int addr_refused(const api_t *a, const char *cmd, const char *s, int flags)
{
    bl_prefix_t k;
    const char *why;
    if (!bl_addr_check(s, flags, a->min_len4, a->min_len6, &k, &why))
        return 0;
    fprintf(stderr, "%s: %s: %s\n", cmd, s, why);
    return 1;
}

/* One HTTP/1.1 request with Connection: close; returns the status or -1. */
static int api_call(const api_t *a, const char *method, const char *path, const char *body,
                    bl_buf_t *resp)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    if (getaddrinfo(a->host, a->port, &hints, &ai)) {
        fprintf(stderr, "blsyncctl: cannot resolve %s\n", a->host);
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM, 0);
    struct timeval tv = {.tv_sec = 60};
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        fprintf(stderr, "blsyncctl: cannot connect to %s:%s: %s\n", a->host, a->port,
                strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    bl_buf_t req;
    bl_buf_init(&req);
    size_t blen = body ? strlen(body) : 0;
    char line[1024];
    /* An IPv6 address goes in brackets in Host (RFC 9110 7.2), or the master refuses it. */
    int v6 = strchr(a->host, ':') != NULL;
    int n = snprintf(line, sizeof line,
                     "%s %s%s%s%s HTTP/1.1\r\nHost: %s%s%s:%s\r\nConnection: close\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n",
                     method, path,
                     !a->feed[0]         ? ""
                     : strchr(path, '?') ? "&"
                                         : "?",
                     a->feed[0] ? "feed=" : "", a->feed, v6 ? "[" : "", a->host, v6 ? "]" : "",
                     a->port, blen);
    bl_buf_put(&req, line, (size_t)n);
    if (a->token[0]) {
        n = snprintf(line, sizeof line, "Authorization: Bearer %s\r\n", a->token);
        bl_buf_put(&req, line, (size_t)n);
    }
    bl_buf_put(&req, "\r\n", 2);
    if (blen)
        bl_buf_put(&req, body, blen);
    size_t off = 0;
    while (off < req.len) {
        ssize_t w = write(fd, req.data + off, req.len - off);
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            break;
        }
        off += (size_t)w;
    }
    bl_buf_close(&req);
    bl_buf_t raw;
    bl_buf_init(&raw);
    for (;;) {
        uint8_t *p = bl_buf_reserve(&raw, 65536);
        if (!p)
            break;
        ssize_t r = read(fd, p, 65536);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        raw.len += (size_t)r;
        if (raw.len > MAX_RESPONSE)
            break;
    }
    close(fd);
    int status = -1;
    bl_buf_u8(&raw, 0);
    const char *s = (const char *)raw.data;
    if (s && sscanf(s, "HTTP/1.%*d %d", &status) == 1) {
        const char *b = strstr(s, "\r\n\r\n");
        /* Chunked bodies are not expected: the master sends Content-Length. */
        if (b)
            bl_buf_put(resp, b + 4, strlen(b + 4));
    } else {
        fprintf(stderr, "blsyncctl: no HTTP response from %s:%s\n", a->host, a->port);
        status = -1;
    }
    bl_buf_u8(resp, 0);
    resp->len--;
    bl_buf_close(&raw);
    return status;
}

/* What to do about a refused request, by HTTP status. */
static const char *hint(int status)
{
    switch (status) {
    case 401:
        return "the master wants its API token: run as root with -c /etc/blsync/master.conf, "
               "or pass --token-file FILE";
    case 403:
        return "the master refuses changes: it has no API token ([http] token_file)";
    case 404:
        return "not found";
    case 413:
        return "the request is larger than the master's [http] max_body";
    default:
        return status >= 500 ? "the master failed: see its log (journalctl -u blsync-master)"
                             : NULL;
    }
}

/* Prints the response and maps the status to an exit code: a refusal is one
 * line on stderr, the master's reason and what to do. */
static int finish(int status, bl_buf_t *resp)
{
    if (status < 0) {
        bl_buf_close(resp);
        return CTL_EXIT_ERROR;
    }
    if (status >= 200 && status < 300) {
        if (resp->len)
            fputs((const char *)resp->data, stdout);
        bl_buf_close(resp);
        return 0;
    }
    master_json_doc_t doc = {0};
    char why[128];
    const master_json_t *e = NULL;
    if (resp->len && !master_json_parse(resp->data, resp->len, NULL, &doc, why, sizeof why))
        e = master_json_get(doc.root, "error");
    const char *h = hint(status);
    if (e && e->type == MASTER_JSON_STR)
        fprintf(stderr, "blsyncctl: %.*s%s%s (HTTP %d)\n", (int)e->len, e->str, h ? "; " : "",
                h ? h : "", status);
    else
        fprintf(stderr, "blsyncctl: %s (HTTP %d)\n", h ? h : "the master refused the request",
                status);
    master_json_free(&doc);
    bl_buf_close(resp);
    return 1;
}

static double num_of(const master_json_t *o, const char *k)
{
    const master_json_t *v = master_json_get(o, k);
    return v && v->type == MASTER_JSON_NUM ? v->num : 0;
}

static const char *str_of(const master_json_t *o, const char *k)
{
    const master_json_t *v = master_json_get(o, k);
    return v && v->type == MASTER_JSON_STR ? v->str : "-";
}

/* Answers of one object per row: the default bounds are for requests. */
static const master_json_limits_t answer_limits = {
    .max_depth = 8, .max_members = 10000000, .max_values = 100000000, .max_str = 65536};

/* The master's answer: with --json as it came, else through print (the
 * parsed object). Exit 0 for a 2xx, 1 for a refusal (one line on stderr),
 * CTL_EXIT_ERROR without an answer. */
static int answer(int st, bl_buf_t *resp, int json, void (*print)(const master_json_t *r))
{
    if (st < 0) {
        bl_buf_close(resp);
        return CTL_EXIT_ERROR;
    }
    if (st < 200 || st >= 300 || json)
        return finish(st, resp);
    master_json_doc_t doc;
    char why[128];
    if (master_json_parse(resp->data, resp->len, &answer_limits, &doc, why, sizeof why)) {
        fprintf(stderr, "blsyncctl: the master's answer is not JSON: %s\n", why);
        bl_buf_close(resp);
        return CTL_EXIT_ERROR;
    }
    print(doc.root);
    master_json_free(&doc);
    bl_buf_close(resp);
    return 0;
}

static void print_report(const master_json_t *r)
{
    double n = num_of(r, "accepted");
    printf("accepted %.0f report%s", n, n == 1 ? "" : "s");
    const master_json_t *ids = master_json_get(r, "ids");
    for (const master_json_t *x = ids ? ids->child : NULL; x; x = x->next)
        printf("%s%.0f", x == ids->child ? " (id " : ", ", x->num);
    printf("%s: %.0f newly listed, %.0f extended, %.0f in the re-listing grace period\n",
           ids && ids->child ? ")" : "", num_of(r, "listed"), num_of(r, "extended"),
           num_of(r, "in_grace"));
}

/* A listing's end: "in 23 h 59 min (2026-12-03 11:00 UTC)", or never. */
static const char *expiry(const master_json_t *l, char *buf, size_t n)
{
    const master_json_t *x = master_json_get(l, "expires_at_unix");
    if (!x || x->type != MASTER_JSON_NUM)
        return "never (until an operator removes it)";
    return ctl_human_at(str_of(l, "expires_at"), buf, n);
}

/* A time to come as a stretch: "for 24 h (until 2026-12-03 11:59 UTC)". */
static const char *for_until(const char *rfc3339, char *buf, size_t n)
{
    int64_t ms;
    char d[48], t[40];
    if (master_parse_time(rfc3339, &ms))
        return rfc3339;
    snprintf(buf, n, "for %s (until %s)",
             ctl_human_duration((ms - bl_now_ms()) / 1000.0, d, sizeof d),
             ctl_human_time((long long)(ms / 1000), t, sizeof t));
    return buf;
}

static void print_listed(const master_json_t *r)
{
    const master_json_t *l = master_json_get(r, "listed");
    char h1[96], h2[96];
    printf("listed %s (%s, 127.0.0.%.0f, reason %.0f), since %s; delisted %s\n",
           str_of(l, "prefix"), str_of(l, "kind"), num_of(l, "a"), num_of(l, "reason"),
           ctl_human_at(str_of(l, "listed_since"), h1, sizeof h1), expiry(l, h2, sizeof h2));
}

static void print_removed(const master_json_t *r)
{
    char h[96];
    printf("removed %s (%s): the delisting propagates to the mirrors (blsyncctl lookup follows "
           "it); re-listing blocked %s\n",
           str_of(r, "prefix"), str_of(r, "reason"),
           for_until(str_of(r, "relisting_blocked_until"), h, sizeof h));
}

static void print_listings(const master_json_t *r)
{
    const master_json_t *ls = master_json_get(r, "listings"), *next = master_json_get(r, "next");
    char h1[96], h2[96];
    if (!ls || !ls->child)
        printf("no listings\n");
    else
        printf("%-20s %-7s %-11s %6s  %-36s %s\n", "PREFIX", "KIND", "ANSWER", "REASON", "LISTED",
               "EXPIRES");
    for (const master_json_t *l = ls ? ls->child : NULL; l; l = l->next) {
        char a[16];
        snprintf(a, sizeof a, "127.0.0.%.0f", num_of(l, "a"));
        printf("%-20s %-7s %-11s %6.0f  %-36s %s\n", str_of(l, "prefix"), str_of(l, "kind"), a,
               num_of(l, "reason"), ctl_human_at(str_of(l, "listed_since"), h1, sizeof h1),
               expiry(l, h2, sizeof h2));
    }
    if (next && next->type == MASTER_JSON_STR)
        fprintf(stderr, "(more: --after %s)\n", next->str);
}

int ctl_report(int argc, char **argv)
{
    api_t a;
    char *rest[64];
    int nrest;
    if (argc > 64 || api_opts(argc, argv, &a, rest, &nrest))
        return 2;
    const char *ip = NULL, *src = NULL, *when = NULL, *ev = NULL;
    int json = 0;
    const ctl_opt_t opts[] = {
        {"--json", NULL, &json}, {"--time", &when, NULL}, {"--evidence", &ev, NULL}, {NULL}};
    for (int i = 0; i < nrest; i++) {
        if (ctl_opt(opts, rest, nrest, &i))
            continue;
        if (!ip)
            ip = rest[i];
        else if (!src)
            src = rest[i];
        else {
            fprintf(stderr, "report: unexpected argument '%s'\n", rest[i]);
            return 2;
        }
    }
    if (!ip || !src) {
        fprintf(stderr,
                "usage: blsyncctl report IP user|spamtrap [--time UNIX|RFC3339] "
                "[--evidence ID] [--json] [--feed NAME] [-c CONF | --url URL --token-file F]\n");
        return 2;
    }
    if (addr_refused(&a, "report", ip, 0))
        return 1;
    bl_buf_t body;
    bl_buf_init(&body);
    master_json_printf(&body, "{\"ip\":");
    master_json_put_str(&body, ip);
    master_json_printf(&body, ",\"source\":");
    master_json_put_str(&body, src);
    if (when) {
        char *end;
        double t = strtod(when, &end);
        if (*end == 0 && end != when)
            master_json_printf(&body, ",\"time\":%.3f", t);
        else {
            master_json_printf(&body, ",\"time\":");
            master_json_put_str(&body, when);
        }
    }
    if (ev) {
        master_json_printf(&body, ",\"evidence\":");
        master_json_put_str(&body, ev);
    }
    master_json_printf(&body, "}");
    bl_buf_u8(&body, 0);
    bl_buf_t resp;
    bl_buf_init(&resp);
    int st = api_call(&a, "POST", "/v1/reports", (const char *)body.data, &resp);
    bl_buf_close(&body);
    return answer(st, &resp, json, print_report);
}

void ctl_urlenc(bl_buf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == ':') {
            bl_buf_u8(b, *p);
        } else {
            bl_buf_u8(b, '%');
            bl_buf_u8(b, (uint8_t)hex[*p >> 4]);
            bl_buf_u8(b, (uint8_t)hex[*p & 15]);
        }
    }
}

/* Closes a listing request body: optional comment, the acting user, NUL. */
static void end_listing_body(bl_buf_t *body, const char *comment)
{
    if (comment) {
        master_json_printf(body, ",\"comment\":");
        master_json_put_str(body, comment);
    }
    master_json_printf(body, ",\"actor\":");
    master_json_put_str(body, getenv("USER") ? getenv("USER") : "blsyncctl");
    master_json_printf(body, "}");
    bl_buf_u8(body, 0);
}

int ctl_list(int argc, char **argv)
{
    api_t a;
    char *rest[64];
    int nrest;
    if (argc > 64 || api_opts(argc, argv, &a, rest, &nrest))
        return 2;
    const char *usage =
        "usage: blsyncctl list add PREFIX [--kind manual|import|policy] [--a N] [--reason N] "
        "[--duration D] [--comment TEXT] [--json]\n"
        "       blsyncctl list remove PREFIX --reason technical-error|user-error [--comment TEXT] "
        "[--json]\n"
        "       blsyncctl list show [--after PREFIX] [--limit N] [--json]\n"
        "  (with -c CONF, or --url http://HOST:PORT and --token-file F; --feed NAME: that feed)\n";
    if (nrest < 1) {
        fputs(usage, stderr);
        return 2;
    }
    const char *op = rest[0], *prefix = NULL, *kind = NULL, *ans = NULL, *reason = NULL,
               *dur = NULL, *comment = NULL, *after = NULL, *limit = NULL;
    int json = 0;
    void (*print)(const master_json_t *) = print_listings;
    const ctl_opt_t opts[] = {
        {"--json", NULL, &json},     {"--kind", &kind, NULL},    {"--a", &ans, NULL},
        {"--reason", &reason, NULL}, {"--duration", &dur, NULL}, {"--comment", &comment, NULL},
        {"--after", &after, NULL},   {"--limit", &limit, NULL},  {NULL}};
    for (int i = 1; i < nrest; i++) {
        if (ctl_opt(opts, rest, nrest, &i))
            continue;
        if (!prefix)
            prefix = rest[i];
        else {
            fprintf(stderr, "list: unexpected argument '%s'\n%s", rest[i], usage);
            return 2;
        }
    }
    bl_buf_t body, path, resp;
    bl_buf_init(&body);
    bl_buf_init(&path);
    bl_buf_init(&resp);
    int st;
    if (!strcmp(op, "add") && prefix && addr_refused(&a, "list add", prefix, BL_ADDR_PREFIX)) {
        bl_buf_close(&body);
        bl_buf_close(&path);
        return 1;
    }
    if (!strcmp(op, "add") && prefix) {
        master_json_printf(&body, "{\"prefix\":");
        master_json_put_str(&body, prefix);
        if (kind) {
            master_json_printf(&body, ",\"kind\":");
            master_json_put_str(&body, kind);
        }
        uint64_t n;
        if (ans && bl_cfg_uint(ans, 2, 255, &n, NULL)) {
            fprintf(stderr, "list: --a '%s' is not a number from 2 to 255\n", ans);
            bl_buf_close(&body);
            bl_buf_close(&path);
            return 2;
        }
        if (ans)
            master_json_printf(&body, ",\"a\":%" PRIu64, n);
        if (reason && bl_cfg_uint(reason, 0, 65535, &n, NULL)) {
            fprintf(stderr, "list: --reason '%s' is not a number from 0 to 65535\n", reason);
            bl_buf_close(&body);
            bl_buf_close(&path);
            return 2;
        }
        if (reason)
            master_json_printf(&body, ",\"reason\":%" PRIu64, n);
        if (dur) {
            int64_t ms;
            if (master_parse_duration(dur, &ms)) {
                fprintf(stderr, "list: --duration '%s' is not a duration (30m, 24h, 7d, 0)\n", dur);
                return 2;
            }
            master_json_printf(&body, ",\"duration\":%lld", (long long)(ms / 1000));
        }
        end_listing_body(&body, comment);
        st = api_call(&a, "POST", "/v1/listings", (const char *)body.data, &resp);
        print = print_listed;
    } else if (!strcmp(op, "remove") && prefix && !reason) {
        fprintf(stderr,
                "blsyncctl list remove: --reason is missing: technical-error (the listing was "
                "wrong) or user-error (the host was cleaned up)\n");
        bl_buf_close(&body);
        bl_buf_close(&path);
        return 2;
    } else if (!strcmp(op, "remove") && prefix) {
        master_json_printf(&path, "/v1/listings/");
        ctl_urlenc(&path, prefix);
        bl_buf_u8(&path, 0);
        master_json_printf(&body, "{\"reason\":");
        master_json_put_str(&body, reason ? reason : "");
        end_listing_body(&body, comment);
        st = api_call(&a, "DELETE", (const char *)path.data, (const char *)body.data, &resp);
        print = print_removed;
    } else if (!strcmp(op, "show")) {
        master_json_printf(&path, "/v1/listings?limit=%s", limit ? limit : "1000");
        if (after) {
            master_json_printf(&path, "&after=");
            ctl_urlenc(&path, after);
        }
        bl_buf_u8(&path, 0);
        st = api_call(&a, "GET", (const char *)path.data, NULL, &resp);
    } else {
        fputs(usage, stderr);
        bl_buf_close(&body);
        bl_buf_close(&path);
        return 2;
    }
    bl_buf_close(&body);
    bl_buf_close(&path);
    return answer(st, &resp, json, print);
}

int ctl_lookup(int argc, char **argv)
{
    api_t a;
    char *rest[64];
    int nrest;
    if (argc > 64 || api_opts(argc, argv, &a, rest, &nrest))
        return 2;
    int json = 0;
    const char *ip = NULL;
    for (int i = 0; i < nrest; i++) {
        if (!strcmp(rest[i], "--json"))
            json = 1;
        else if (!ip)
            ip = rest[i];
        else {
            fprintf(stderr, "lookup: unexpected argument '%s'\n", rest[i]);
            return 2;
        }
    }
    if (!ip) {
        fprintf(stderr,
                "usage: blsyncctl lookup IP [--json] [--feed NAME] [-c CONF | --url URL]\n");
        return 2;
    }
    if (addr_refused(&a, "lookup", ip, 0))
        return 1;
    bl_buf_t path, resp;
    bl_buf_init(&path);
    bl_buf_init(&resp);
    master_json_printf(&path, "/v1/lookup/");
    ctl_urlenc(&path, ip);
    bl_buf_u8(&path, 0);
    int st = api_call(&a, "GET", (const char *)path.data, NULL, &resp);
    bl_buf_close(&path);
    if (st != 200)
        return finish(st, &resp) ? CTL_EXIT_ERROR : 0;
    master_json_doc_t doc;
    char why[128];
    if (master_json_parse(resp.data, resp.len, NULL, &doc, why, sizeof why)) {
        fprintf(stderr, "blsyncctl lookup: the master's answer is not JSON: %s\n", why);
        bl_buf_close(&resp);
        return CTL_EXIT_ERROR;
    }
    const master_json_t *r = doc.root, *v;
    const master_json_t *listing = master_json_get(r, "listing");
    int listed = (v = master_json_get(r, "listed")) && v->type == MASTER_JSON_TRUE;
    if (json) {
        /* The exit code says it for scripts, as grep's does. */
        fputs((const char *)resp.data, stdout);
        master_json_free(&doc);
        bl_buf_close(&resp);
        return listed ? 0 : 1;
    }
    char h[96];
    printf("%s: %s\n", ip, listed ? "LISTED" : "not listed");
    if (listed && listing) {
        printf("  prefix: %s (%s)\n  listed since: %s\n", str_of(listing, "prefix"),
               str_of(listing, "kind"), ctl_human_at(str_of(listing, "listed_since"), h, sizeof h));
    }
    printf("  reports counted: %.0f (score %g)\n", num_of(r, "reports_counted"),
           num_of(r, "score"));
    v = master_json_get(r, "last_report");
    printf("  last report: %s\n",
           v && v->type == MASTER_JSON_STR ? ctl_human_at(v->str, h, sizeof h) : "none");
    const char *dstate = str_of(r, "delisting_state");
    v = master_json_get(r, "seconds_to_delisting");
    if (!strcmp(dstate, "scheduled") && listing)
        printf("  time to delisting: %s\n",
               ctl_human_when(num_of(r, "seconds_to_delisting"),
                              (long long)num_of(listing, "expires_at_unix"), h, sizeof h));
    else if (!strcmp(dstate, "until-removed"))
        printf("  time to delisting: never (until an operator removes it)\n");
    else if (!strcmp(dstate, "propagating"))
        printf("  time to delisting: 0 (delisting decided, propagating)\n");
    const master_json_t *d = master_json_get(r, "delisting");
    if (d && d->type == MASTER_JSON_OBJ) {
        const master_json_t *pu = master_json_get(d, "published"),
                            *pr = master_json_get(d, "propagated");
        int published = pu && pu->type == MASTER_JSON_TRUE;
        int propagated = pr && pr->type == MASTER_JSON_TRUE;
        double acked = num_of(d, "mirrors_acked"), total = num_of(d, "mirrors_total");
        printf("  delisting: decided %s, cause %s\n",
               ctl_human_at(str_of(d, "decided_at"), h, sizeof h), str_of(d, "cause"));
        if (propagated)
            printf("  delisting propagated: %.0f of %.0f active mirrors have it\n", acked, total);
        else if (!published)
            printf("  delisting not yet published (0 of %.0f active mirrors have it)\n", total);
        else
            printf("  delisting propagating: %.0f of %.0f mirrors have it\n", acked, total);
    }
    v = master_json_get(r, "relisting_blocked_until");
    if (v && v->type == MASTER_JSON_STR)
        printf("  re-listing blocked %s\n", for_until(v->str, h, sizeof h));
    master_json_free(&doc);
    bl_buf_close(&resp);
    return listed ? 0 : 1;
}

int ctl_status(int argc, char **argv)
{
    api_t a;
    char *rest[64];
    int nrest;
    if (argc > 64 || api_opts(argc, argv, &a, rest, &nrest))
        return 2;
    int json = 0;
    for (int i = 0; i < nrest; i++) {
        if (!strcmp(rest[i], "--json")) {
            json = 1;
        } else {
            fprintf(stderr,
                    "usage: blsyncctl status [--json] [--feed NAME] [-c CONF | --url URL]\n");
            return 2;
        }
    }
    bl_buf_t resp;
    bl_buf_init(&resp);
    int st = api_call(&a, "GET", "/v1/status", NULL, &resp);
    if (st != 200)
        return finish(st, &resp) ? CTL_EXIT_ERROR : 0;
    /* One member per mirror: the default bound on members is for requests. */
    const master_json_limits_t lim = {
        .max_depth = 8, .max_members = 10000000, .max_values = 100000000, .max_str = 4096};
    master_json_doc_t doc;
    char why[128];
    if (master_json_parse(resp.data, resp.len, &lim, &doc, why, sizeof why)) {
        fprintf(stderr, "blsyncctl status: the master's answer is not JSON: %s\n", why);
        bl_buf_close(&resp);
        return CTL_EXIT_ERROR;
    }
    const master_json_t *r = doc.root;
    char b1[48], b2[96], b3[48];
    double window = num_of(r, "window_s"), gone = num_of(r, "mirror_active_s");
    const master_json_t *ms = master_json_get(r, "mirrors");
    const master_json_t *o = master_json_get(r, "oldest_propagating");
    /* 1 when a mirror is not up or a delisting is older than the window. */
    int behind = o && o->type == MASTER_JSON_OBJ && window > 0 && num_of(o, "age_s") > window;
    for (const master_json_t *x = ms && ms->type == MASTER_JSON_ARR ? ms->child : NULL; x;
         x = x->next)
        behind |= strcmp(str_of(x, "state"), "up") != 0;
    if (json) {
        fputs((const char *)resp.data, stdout);
        master_json_free(&doc);
        bl_buf_close(&resp);
        return behind;
    }
    printf("feed %s: serial %.0f, %.0f entries, %.0f changes pending\n", str_of(r, "feed"),
           num_of(r, "serial"), num_of(r, "entries"), num_of(r, "pending"));
    const master_json_t *fs = master_json_get(r, "feeds");
    if (fs && fs->type == MASTER_JSON_ARR && fs->n > 1) {
        printf("feeds of this master (--feed NAME):");
        for (const master_json_t *x = fs->child; x; x = x->next)
            printf(" %s", x->type == MASTER_JSON_STR ? x->str : "?");
        printf("\n");
    }
    printf("window %s; a mirror silent for %s is gone (reported, no longer counted)\n",
           window > 0 ? ctl_human_duration(window, b1, sizeof b1) : "?",
           ctl_human_duration(gone, b3, sizeof b3));
    size_t n = ms && ms->type == MASTER_JSON_ARR ? ms->n : 0;
    size_t nup = 0, nstale = 0, ngone = 0, nrevoked = 0;
    if (n) {
        printf("\n%-24s %-7s %12s %8s %-12s %-16s %s\n", "MIRROR", "STATE", "ACKED", "LAG",
               "LAG_TIME", "KEY", "LAST CONTACT");
        for (const master_json_t *x = ms->child; x; x = x->next) {
            const char *state = str_of(x, "state");
            nup += !strcmp(state, "up");
            nstale += !strcmp(state, "stale");
            ngone += !strcmp(state, "gone");
            nrevoked += !strcmp(state, "revoked");
            printf("%-24s %-7s %12.0f %8.0f %-12s %-16s %s\n", str_of(x, "name"), state,
                   num_of(x, "acked_serial"), num_of(x, "lag_serials"),
                   ctl_human_duration(num_of(x, "lag_s"), b1, sizeof b1), str_of(x, "key_id"),
                   ctl_human_when(-num_of(x, "contact_age_s"),
                                  (long long)num_of(x, "last_contact_unix"), b2, sizeof b2));
        }
        printf("\n");
    }
    printf("mirrors: %zu up, %zu stale, %zu gone", nup, nstale, ngone);
    if (nrevoked)
        printf(", %zu revoked", nrevoked);
    printf("\n");
    double np = num_of(r, "delistings_propagating");
    if (o && o->type == MASTER_JSON_OBJ) {
        double age = num_of(o, "age_s");
        int64_t decided_ms = 0;
        master_parse_time(str_of(o, "decided_at"), &decided_ms);
        printf("delistings propagating: %.0f; oldest decided %s", np,
               ctl_human_when(-age, (long long)(decided_ms / 1000), b2, sizeof b2));
        if (window > 0)
            printf(", %.1f%% of the %s window%s", 100.0 * age / window,
                   ctl_human_duration(window, b3, sizeof b3), age > window ? ": BROKEN" : "");
        printf("\n");
    } else {
        printf("delistings propagating: none\n");
    }
    master_json_free(&doc);
    bl_buf_close(&resp);
    return behind;
}

/* The common options and requests for subcommands in other files (ctl/reviews.c). */
struct ctl_api {
    api_t a;
};

ctl_api_t *ctl_api_open(int argc, char **argv, char **rest, int *nrest)
{
    ctl_api_t *c = calloc(1, sizeof *c);
    if (!c || argc > 64 || api_opts(argc, argv, &c->a, rest, nrest)) {
        free(c);
        return NULL;
    }
    return c;
}

int ctl_api_call(const ctl_api_t *c, const char *method, const char *path, const char *body,
                 bl_buf_t *resp)
{
    return api_call(&c->a, method, path, body, resp);
}

int ctl_api_finish(int status, bl_buf_t *resp)
{
    return finish(status, resp);
}
