/* SPDX-License-Identifier: MIT */
/* The public listener: lookup page and JSON, review request forms, rate limits, CSRF, headers. */
#include "public.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>

#include "addr.h"
#include "config_util.h"
#include "conn_limit.h"
#include "err.h"
#include "http.h"
#include "http_guard.h"
#include "json.h"
#include "log.h"
#include "public_parse.h"
#include "reviews.h"
#include "spool_http.h"
#include "tls.h"
#include "util.h"

/* ---- per-client token buckets ---- */

#define PUBLIC_NICE 10    /* scheduling priority of the public threads (nice) */
#define BUCKETS     65536 /* slots per limiter (power of two), 4-way probed */
#define PROBES      4

typedef struct {
    uint8_t key[17]; /* family, then the IPv4 address or the IPv6 /64 */
    uint8_t dry;     /* refused since its last allowed request */
    double tokens;
    int64_t t_ms;
} bucket_t;

typedef struct {
    pthread_mutex_t mu;
    bucket_t *b;
    double per_ms, burst;
} limiter_t;

static int limiter_init(limiter_t *l, double per_ms, double burst)
{
    pthread_mutex_init(&l->mu, NULL);
    l->per_ms = per_ms;
    l->burst = burst < 1 ? 1 : burst;
    l->b = per_ms > 0 ? calloc(BUCKETS, sizeof *l->b) : NULL;
    return per_ms > 0 && !l->b ? BL_ENOMEM : 0;
}

static void limiter_free(limiter_t *l)
{
    free(l->b);
    pthread_mutex_destroy(&l->mu);
}

/* A client's bucket key: the address, or for IPv6 its /64 (one host holds
 * a /64); an unknown client (af 0) has the zero key. */
static void client_key(const bl_prefix_t *a, uint8_t key[17])
{
    memset(key, 0, 17);
    if (a->af == BL_AF4) {
        key[0] = 4;
        memcpy(key + 1, a->addr, 4);
    } else if (a->af == BL_AF6) {
        key[0] = 6;
        memcpy(key + 1, a->addr, 8);
    }
}

/* Takes one token of the client's bucket: 1 if allowed. A full table
 * hands the least recently used slot of the probe set to the newcomer.
 * *first (refused only) says whether the client was allowed until now. */
static int limiter_take(limiter_t *l, const uint8_t key[17], int *first)
{
    if (l->per_ms <= 0)
        return 1;
    int64_t now = (int64_t)(bl_mono_ns() / 1000000);
    uint32_t h = 2166136261u;
    for (int i = 0; i < 17; i++)
        h = (h ^ key[i]) * 16777619u;
    pthread_mutex_lock(&l->mu);
    bucket_t *hit = NULL, *old = NULL;
    for (int j = 0; j < PROBES && !hit; j++) {
        bucket_t *b = &l->b[(h + (uint32_t)j) & (BUCKETS - 1)];
        if (!memcmp(b->key, key, 17) && b->t_ms)
            hit = b;
        else if (!old || b->t_ms < old->t_ms)
            old = b;
    }
    if (!hit) {
        hit = old;
        memcpy(hit->key, key, 17);
        hit->dry = 0;
        hit->tokens = l->burst;
        hit->t_ms = now;
    }
    hit->tokens += (double)(now - hit->t_ms) * l->per_ms;
    if (hit->tokens > l->burst)
        hit->tokens = l->burst;
    hit->t_ms = now ? now : 1;
    int ok = hit->tokens >= 1.0;
    if (ok)
        hit->tokens -= 1.0;
    *first = !ok && !hit->dry;
    hit->dry = !ok;
    pthread_mutex_unlock(&l->mu);
    return ok;
}

/* ---- the client: the peer, or the address a trusted proxy forwards ---- */

int master_public_proxies_parse(const char *s, bl_prefix_t *out, size_t max, size_t *n,
                                const char **why)
{
    *n = 0;
    while (s && *s) {
        size_t len = strcspn(s, ", \t");
        if (len) {
            char item[INET6_ADDRSTRLEN + 8];
            if (len >= sizeof item || *n == max) {
                *why = len >= sizeof item ? "not an address or prefix" : "too many entries";
                return BL_EINVAL;
            }
            memcpy(item, s, len);
            item[len] = 0;
            int rc = bl_prefix_parse(item, &out[*n]);
            if (rc) {
                *why = rc == BL_EHOSTBITS ? "bits set beyond the prefix length"
                                          : "not an address or prefix";
                return BL_EINVAL;
            }
            ++*n;
        }
        s += len;
        s += strspn(s, ", \t");
    }
    return 0;
}

static void addr_of_sockaddr(const struct sockaddr *sa, bl_prefix_t *out)
{
    memset(out, 0, sizeof *out);
    if (sa && sa->sa_family == AF_INET) {
        out->af = BL_AF4;
        out->len = 32;
        memcpy(out->addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa && sa->sa_family == AF_INET6) {
        master_addr_v6(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr, out);
    }
}

static int trusted(const master_public_conf_t *c, const bl_prefix_t *a)
{
    for (size_t i = 0; i < c->nproxies; i++)
        if (bl_prefix_contains(&c->proxies[i], a))
            return 1;
    return 0;
}

static enum MHD_Result xff_collect(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    bl_buf_t *b = cls;
    if (key && value && !strcasecmp(key, "X-Forwarded-For")) {
        if (b->len)
            bl_buf_u8(b, ',');
        bl_buf_put(b, value, strlen(value));
    }
    return MHD_YES;
}

/* A peer exempt from max_connections_per_address: a trusted proxy, whose
 * clients' requests in flight are bounded instead (hold()). */
static int proxy_peer(void *cls, const struct sockaddr *sa)
{
    bl_prefix_t a;
    addr_of_sockaddr(sa, &a);
    return trusted(cls, &a);
}

/* The client of a request: the peer; behind a trusted proxy, the right-most
 * address of X-Forwarded-For (every such header, in order) that is not a
 * trusted proxy itself. Each proxy appends the address it received the
 * request from, so what lies left of the last untrusted hop may be forged.
 * A hop that is no address ends the walk at the trusted hop right of it;
 * a chain of trusted hops only gives its left-most. Returns 1 when the
 * peer is a trusted proxy, else 0. */
static int client_of(const master_public_conf_t *c, struct MHD_Connection *conn, bl_prefix_t *out)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    addr_of_sockaddr(ci ? ci->client_addr : NULL, out);
    if (!c->nproxies || !trusted(c, out))
        return 0;
    bl_buf_t b;
    bl_buf_init(&b);
    MHD_get_connection_values(conn, MHD_HEADER_KIND, xff_collect, &b);
    const char *h = (const char *)b.data;
    size_t end = b.err ? 0 : b.len;
    while (end > 0) {
        size_t start = end;
        while (start > 0 && h[start - 1] != ',')
            start--;
        bl_prefix_t hop;
        if (end > start && master_hop_parse(h + start, end - start, &hop))
            break;
        if (end > start) {
            *out = hop;
            if (!trusted(c, &hop))
                break;
        }
        end = start ? start - 1 : 0;
    }
    bl_buf_close(&b);
    return 1;
}

/* ---- the server ---- */

typedef struct {
    pthread_mutex_t mu;
    master_store_t *s[MASTER_FEEDS_MAX]; /* a read-only connection to each feed's store */
} reader_t;

struct master_public {
    const master_public_conf_t *c;
    bl_http_guard_t *g;
    limiter_t lookups, requests;
    pthread_mutex_t held_mu;
    bl_peer_counts_t held; /* requests in flight per client behind a trusted proxy */
    reader_t *readers;
    unsigned nreaders;
    _Atomic unsigned next_reader;
    uint8_t secret[32]; /* CSRF: the hidden field is HMAC(secret, cookie) */
    int tls;
    char *cert_pem, *key_pem;
    /* SPOOL/FEED's HTTP layout of each feed, served while serve_spool is on. */
    master_spool_t *spools[MASTER_FEEDS_MAX];
    size_t nspools;
};

/* A request: its body, and for one through a trusted proxy the client key
 * whose in-flight count it holds until it ends (release()). */
typedef struct {
    bl_http_req_t h; /* first: bl_http_req_completed frees the whole */
    master_public_t *p;
    bl_peer_t key;  /* af 0: holds nothing */
    int spool_held; /* a long poll of the spool's head, suspended */
    int started;    /* its header was handled (on_request's first call) */
} preq_t;

#define RESP_ROOM 4096 /* bytes: a lookup page, its CSS or a JSON answer fit */

/* One answer. */
typedef struct {
    int status;
    int html;
    bl_buf_t b;
    char cookie[96];   /* a new CSRF cookie value to set, or "" */
    int retry_after;   /* seconds, 0: no header */
    const char *allow; /* the methods of a 405's Allow header */
} resp_t;

/* ---- output helpers ---- */

static void put(bl_buf_t *b, const char *s)
{
    bl_buf_put(b, s, strlen(s));
}

/* JSON strings that stay inert even if a browser sniffs them as HTML. */
static void jstr(bl_buf_t *b, const char *s)
{
    master_json_put_strf(b, s, MASTER_JSON_HTML_SAFE);
}

static void fmt(bl_buf_t *b, const char *f, ...) __attribute__((format(printf, 2, 3)));
static void fmt(bl_buf_t *b, const char *f, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(tmp, sizeof tmp, f, ap);
    va_end(ap);
    if (n > 0)
        bl_buf_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static const char *when(int64_t ms, char *buf, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%d %H:%M UTC", &tm);
    return buf;
}

const char *master_public_words(int64_t s, char *buf, size_t n)
{
    if (s < 60) {
        snprintf(buf, n, "in less than a minute");
    } else if (s < 3600) {
        int64_t m = (s + 30) / 60;
        snprintf(buf, n, "in about %" PRId64 " minute%s", m, m == 1 ? "" : "s");
    } else if (s < 48 * 3600) {
        int64_t h = (s + 1800) / 3600;
        snprintf(buf, n, "in about %" PRId64 " hour%s", h, h == 1 ? "" : "s");
    } else {
        snprintf(buf, n, "in about %" PRId64 " days", (s + 43200) / 86400);
    }
    return buf;
}

/* "4 h", "90 min": the propagation window in the page's words. */
static const char *window_words(int64_t ms, char *buf, size_t n)
{
    if (ms % 3600000 == 0)
        snprintf(buf, n, "%" PRId64 " h", ms / 3600000);
    else
        snprintf(buf, n, "%" PRId64 " min", (ms + 59999) / 60000);
    return buf;
}

/* "24 hours", "90 minutes": the policy's listing duration. */
static const char *hours_words(int64_t ms, char *buf, size_t n)
{
    if (ms % 3600000 == 0)
        snprintf(buf, n, "%" PRId64 " hour%s", ms / 3600000, ms == 3600000 ? "" : "s");
    else
        snprintf(buf, n, "%" PRId64 " minutes", (ms + 59999) / 60000);
    return buf;
}

static const char *page_css =
    "body{font-family:system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2430}"
    "main{max-width:46rem;margin:2rem auto;padding:0 1rem}"
    "h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:0}"
    "form.lookup{display:flex;gap:.5rem;margin:1rem 0}"
    "input,select,textarea{font:inherit;padding:.4rem;border:1px solid #aab;border-radius:4px}"
    "form.lookup input{flex:1}textarea{width:100%;min-height:5rem;box-sizing:border-box}"
    "form.review label{display:block;margin-top:.8rem;font-weight:600}"
    "form.review input,form.review select{width:100%;box-sizing:border-box}"
    "button{font:inherit;padding:.4rem 1rem;border:0;border-radius:4px;background:#2456a6;"
    "color:#fff;cursor:pointer}"
    "section{background:#fff;border-radius:6px;padding:1rem 1.2rem;margin:1rem 0;"
    "box-shadow:0 1px 3px rgba(0,0,0,.12)}"
    ".listed{border-left:6px solid #c0392b}.clear{border-left:6px solid #27ae60}"
    ".progress{border-left:6px solid #e6a700}.error{border-left:6px solid #c0392b}"
    "dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem}dt{font-weight:600}"
    "dd{margin:0}.hint{color:#556;font-size:.9rem}.token{font-family:monospace}"
    "footer{color:#667;font-size:.85rem;margin:2rem 0}";

static void page_start(bl_buf_t *b, const char *title)
{
    put(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>");
    master_html_esc(b, title);
    put(b, "</title><link rel=\"stylesheet\" href=\"/style.css\"></head><body><main>\n"
           "<h1>Blocklist lookup</h1>\n");
}

static void lookup_form(bl_buf_t *b, const char *ip)
{
    put(b, "<form class=\"lookup\" method=\"get\" action=\"/\">"
           "<label for=\"ip\" hidden>IP address</label><input id=\"ip\" name=\"ip\" "
           "maxlength=\"45\" placeholder=\"IPv4 or IPv6 address\" required value=\"");
    master_html_esc(b, ip);
    put(b, "\"><button type=\"submit\">Look up</button></form>\n");
}

static void page_end(bl_buf_t *b)
{
    put(b, "<footer>Addresses are listed when reports of spam from them meet the listing "
           "criteria, and delisted automatically when the reports stop. This page shows one "
           "address at a time.</footer></main></body></html>\n");
}

static int html_error(resp_t *r, int status, const char *title, const char *msg)
{
    r->status = status;
    r->html = 1;
    r->b.len = 0;
    page_start(&r->b, title);
    put(&r->b, "<section class=\"error\" id=\"error\"><h2>");
    master_html_esc(&r->b, title);
    put(&r->b, "</h2><p>");
    master_html_esc(&r->b, msg);
    put(&r->b, "</p><p><a href=\"/\">Back to the lookup</a></p></section>");
    page_end(&r->b);
    return status;
}

static int json_error(resp_t *r, int status, const char *field, const char *msg)
{
    r->status = status;
    r->html = 0;
    r->b.len = 0;
    put(&r->b, "{\"error\":");
    jstr(&r->b, msg);
    if (field) {
        put(&r->b, ",\"field\":");
        jstr(&r->b, field);
    }
    put(&r->b, "}\n");
    return status;
}

/* A 405: the methods the page takes (what: "GET", "POST" or "GET or POST")
 * in the text and in Allow, which RFC 9110 requires of a 405. */
static int not_allowed(resp_t *r, int json, const char *what)
{
    r->allow = !strcmp(what, "POST") ? "POST" : strchr(what, ' ') ? "GET, HEAD, POST" : "GET, HEAD";
    char msg[32];
    snprintf(msg, sizeof msg, "%s %s%s", json ? "use" : "Use", what, json ? "" : ".");
    if (json)
        return json_error(r, 405, NULL, msg);
    return html_error(r, 405, "Method not allowed", msg);
}

static void count_lookup(master_public_t *p, const char *result)
{
    master_metrics_public_lookup(p->c->metrics, result);
}

static void count_refused(master_public_t *p, const char *reason)
{
    master_metrics_public_refused(p->c->metrics, reason);
}

/* ---- lookups ---- */

/* A free reader (the round robin's first, else any free one, else the
 * round robin's), locked. */
static reader_t *reader_take(master_public_t *p)
{
    unsigned i = p->next_reader++ % p->nreaders;
    for (unsigned j = 0; j < p->nreaders; j++) {
        reader_t *r = &p->readers[(i + j) % p->nreaders];
        if (pthread_mutex_trylock(&r->mu) == 0)
            return r;
    }
    pthread_mutex_lock(&p->readers[i].mu);
    return &p->readers[i];
}

/* One lookup is one read transaction per feed on read-only connections: a
 * single snapshot of each store, its file locks taken once, and never a
 * writer's lock. lk[i] is feed i's answer. */
static int reader_lookup(master_public_t *p, const bl_prefix_t *a, master_lookup_t *lk)
{
    reader_t *r = reader_take(p);
    int rc = 0;
    for (size_t i = 0; i < p->c->nfeeds && !rc; i++) {
        rc = master_store_lookup_begin(r->s[i]);
        if (!rc)
            rc =
                master_policy_lookup_public(r->s[i], p->c->feeds[i].policy, a, bl_now_ms(), &lk[i]);
        master_store_read_end(r->s[i]);
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

/* What the public sees of a lookup. */
typedef struct {
    int listed, in_progress, recent;
    char ttd[160], reason[96], kind[16];
} view_t;

static void view_of(const master_public_t *p, const master_lookup_t *lk, int64_t now, view_t *v)
{
    memset(v, 0, sizeof *v);
    v->listed = lk->listed;
    char w[32];
    window_words(p->c->window_ms, w, sizeof w);
    int propagating = (lk->listed && lk->seconds_to_delist == 0) ||
                      (!lk->listed && lk->has_delisting && !lk->propagated);
    v->recent = !lk->listed && lk->has_delisting && lk->d.decided_ms >= now - p->c->recent_ms;
    if (propagating) {
        v->in_progress = 1;
        int n = snprintf(v->ttd, sizeof v->ttd,
                         "0 \xe2\x80\x94 delisting in progress: it may take up to %s to reach "
                         "every mirror and user",
                         w);
        if (!lk->listed && lk->mirrors_total && n > 0 && (size_t)n < sizeof v->ttd)
            snprintf(v->ttd + n, sizeof v->ttd - (size_t)n,
                     " (%" PRIu64 " of %" PRIu64 " active mirrors already have it)",
                     lk->mirrors_acked, lk->mirrors_total);
    } else if (lk->listed && lk->seconds_to_delist == -1) {
        snprintf(v->ttd, sizeof v->ttd,
                 "no automatic delisting: listed until the operators "
                 "remove it");
    } else if (lk->listed) {
        master_public_words(lk->seconds_to_delist, v->ttd, sizeof v->ttd);
    }
    if (lk->listed) {
        int k = lk->l.kind;
        snprintf(v->kind, sizeof v->kind, "%s",
                 k == MASTER_KIND_POLICY   ? "policy"
                 : k == MASTER_KIND_MANUAL ? "operator"
                                           : "import");
        snprintf(v->reason, sizeof v->reason, "%s",
                 k == MASTER_KIND_POLICY   ? "spam reports met the listing criteria"
                 : k == MASTER_KIND_MANUAL ? "listed by the blocklist's operators"
                                           : "carried over from an earlier list");
    }
}

static int parse_ip(master_public_t *p, const char *ip, bl_prefix_t *a, const char **why)
{
    if (!ip || !*ip) {
        *why = "enter an IPv4 or IPv6 address";
        return BL_EINVAL;
    }
    if (strlen(ip) > 45) {
        *why = "not an IP address (too long)";
        return BL_EINVAL;
    }
    return master_policy_target(p->c->feeds[0].policy, ip, 0, a, why);
}

static void json_time(bl_buf_t *b, const char *k, int64_t ms)
{
    char t[40];
    fmt(b, ",\"%s\":", k);
    if (ms)
        fmt(b, "\"%s\"", master_format_time(ms, t, sizeof t));
    else
        put(b, "null");
}

/* The feed a request names: none or "" is the first; -1 if no feed has that name. */
static int feed_index(const master_public_t *p, const char *name)
{
    if (!name || !*name)
        return 0;
    for (size_t i = 0; i < p->c->nfeeds; i++)
        if (!strcmp(p->c->feeds[i].name, name))
            return (int)i;
    return -1;
}

static const char *feed_name(const master_public_t *p, int fi)
{
    return p->c->feeds[fi].name;
}

/* "&feed=NAME" (amp: "&amp;feed=NAME", for HTML) when the page has several
 * feeds, the name percent-encoded; nothing with one feed. */
static void feed_query(const master_public_t *p, bl_buf_t *b, int fi, int amp)
{
    if (p->c->nfeeds < 2)
        return;
    put(b, amp ? "&amp;feed=" : "&feed=");
    for (const char *q = feed_name(p, fi); *q; q++) {
        unsigned char c = (unsigned char)*q;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~')
            bl_buf_u8(b, c);
        else
            fmt(b, "%%%02X", c);
    }
}

/* The lookup's result counted once per request: listed in a feed, else
 * being delisted in one, else not listed. */
static const char *lookup_result(const view_t *v, size_t n)
{
    int listed = 0, progress = 0;
    for (size_t i = 0; i < n; i++) {
        listed |= v[i].listed;
        progress |= v[i].in_progress;
    }
    return listed ? "listed" : progress ? "delisting" : "not_listed";
}

/* Looks a up in every feed (lk) and makes what the public sees of each (v);
 * counts the lookup by its result. Non-zero: a store could not be read. */
static int lookup_views(master_public_t *p, const bl_prefix_t *a, master_lookup_t *lk, view_t *v)
{
    int64_t now = bl_now_ms();
    if (reader_lookup(p, a, lk)) {
        count_lookup(p, "error");
        return BL_EIO;
    }
    for (size_t i = 0; i < p->c->nfeeds; i++)
        view_of(p, &lk[i], now, &v[i]);
    count_lookup(p, lookup_result(v, p->c->nfeeds));
    return 0;
}

/* One feed's answer as JSON members, from "listed" to "review_possible". */
static void json_view(bl_buf_t *b, const master_lookup_t *lk, const view_t *v)
{
    char s[BL_PREFIX_STRLEN];
    fmt(b, "\"listed\":%s,\"state\":\"%s\"", v->listed ? "true" : "false",
        v->in_progress ? "delisting"
        : v->listed    ? "listed"
                       : "not-listed");
    if (v->listed) {
        bl_prefix_format(&lk->l.e.key, s, sizeof s);
        fmt(b, ",\"matched_prefix\":\"%s\"", s);
        json_time(b, "listed_since", lk->l.e.listed_at * 1000);
        json_time(b, "last_report", lk->last_report_ms);
        if (lk->seconds_to_delist >= 0)
            fmt(b, ",\"seconds_to_delisting\":%lld", (long long)lk->seconds_to_delist);
        else
            put(b, ",\"seconds_to_delisting\":null");
        fmt(b, ",\"reason\":\"%s\",\"reason_text\":", v->kind);
        jstr(b, v->reason);
    } else {
        json_time(b, "last_report", lk->last_report_ms);
        put(b, ",\"seconds_to_delisting\":");
        put(b, v->in_progress ? "0" : "null");
        json_time(b, "delisted_at", v->recent || v->in_progress ? lk->d.decided_ms : 0);
    }
    put(b, ",\"time_to_delisting\":");
    if (v->ttd[0])
        jstr(b, v->ttd);
    else
        put(b, "null");
    if (v->in_progress && !v->listed && lk->mirrors_total)
        fmt(b, ",\"mirrors_active\":%" PRIu64 ",\"mirrors_with_delisting\":%" PRIu64,
            lk->mirrors_total, lk->mirrors_acked);
    fmt(b, ",\"review_possible\":%s", v->listed || v->recent ? "true" : "false");
}

/* The JSON: the first feed's answer at the top level; with several feeds
 * every feed's (the first too) in "feeds", each under its name. */
static int api_lookup(master_public_t *p, const char *ip, resp_t *r)
{
    bl_prefix_t a;
    const char *why = NULL;
    if (parse_ip(p, ip, &a, &why)) {
        count_lookup(p, "invalid");
        return json_error(r, 400, "ip", why);
    }
    master_lookup_t lk[MASTER_FEEDS_MAX];
    view_t v[MASTER_FEEDS_MAX];
    if (lookup_views(p, &a, lk, v))
        return json_error(r, 503, NULL, "the list cannot be read now; try again later");
    size_t n = p->c->nfeeds;
    char s[BL_PREFIX_STRLEN];
    bl_prefix_format(&a, s, sizeof s);
    r->status = 200;
    r->html = 0;
    fmt(&r->b, "{\"ip\":\"%s\",", s);
    json_view(&r->b, &lk[0], &v[0]);
    if (n > 1) {
        put(&r->b, ",\"feeds\":[");
        for (size_t i = 0; i < n; i++) {
            put(&r->b, i ? ",{\"feed\":" : "{\"feed\":");
            jstr(&r->b, p->c->feeds[i].name);
            if (*p->c->feeds[i].description) {
                put(&r->b, ",\"description\":");
                jstr(&r->b, p->c->feeds[i].description);
            }
            bl_buf_u8(&r->b, ',');
            json_view(&r->b, &lk[i], &v[i]);
            bl_buf_u8(&r->b, '}');
        }
        bl_buf_u8(&r->b, ']');
    }
    put(&r->b, "}\n");
    return 200;
}

/* A <dt>/<dd> pair; the dd's id is id followed by sfx (escaped). */
static void dl_sfx(bl_buf_t *b, const char *k, const char *v, const char *id, const char *sfx)
{
    put(b, "<dt>");
    master_html_esc(b, k);
    put(b, "</dt><dd");
    if (id) {
        fmt(b, " id=\"%s", id);
        master_html_esc(b, sfx);
        put(b, "\"");
    }
    put(b, ">");
    master_html_esc(b, v);
    put(b, "</dd>");
}

static void dl(bl_buf_t *b, const char *k, const char *v, const char *id)
{
    dl_sfx(b, k, v, id, "");
}

/* An element id with the feed's suffix: id="IDSFX". */
static void id_attr(bl_buf_t *b, const char *id, const char *sfx)
{
    fmt(b, " id=\"%s", id);
    master_html_esc(b, sfx);
    put(b, "\"");
}

/* One feed's result on the page. With one feed: the section as it always
 * was (ids result, status, ...); with several each section is named by its
 * feed (data-feed, a heading "FEED: ...", ids suffixed with "-FEED"). */
static void feed_section(master_public_t *p, int fi, const char *s, const master_lookup_t *lk,
                         const view_t *v, bl_buf_t *b)
{
    const master_public_feed_t *f = &p->c->feeds[fi];
    int several = p->c->nfeeds > 1;
    char sfx[BL_FEED_MAX + 2] = "", t[40];
    if (several)
        snprintf(sfx, sizeof sfx, "-%s", f->name);
    put(b, "<section");
    id_attr(b, "result", sfx);
    fmt(b, " class=\"%s\"", v->in_progress ? "progress" : v->listed ? "listed" : "clear");
    if (several) {
        put(b, " data-feed=\"");
        master_html_esc(b, f->name);
        put(b, "\"");
    }
    put(b, "><h2");
    id_attr(b, "status", sfx);
    put(b, ">");
    if (several) {
        master_html_esc(b, f->name);
        put(b, ": ");
    }
    master_html_esc(b, s);
    put(b, v->in_progress ? " is being delisted" : v->listed ? " is listed" : " is not listed");
    put(b, "</h2>");
    if (*f->description) {
        put(b, "<p class=\"hint\"");
        id_attr(b, "description", sfx);
        put(b, ">");
        master_html_esc(b, f->description);
        put(b, "</p>");
    }
    put(b, "<dl>");
    if (v->listed) {
        char m[BL_PREFIX_STRLEN];
        bl_prefix_format(&lk->l.e.key, m, sizeof m);
        if (strcmp(m, s))
            dl_sfx(b, "Matched prefix", m, "prefix", sfx);
        dl_sfx(b, "Listed since", when(lk->l.e.listed_at * 1000, t, sizeof t), "since", sfx);
        dl_sfx(b, "Last report",
               lk->last_report_ms ? when(lk->last_report_ms, t, sizeof t) : "none", "last", sfx);
        dl_sfx(b, "Reason", v->reason, "reason", sfx);
    } else if (v->recent || v->in_progress) {
        dl_sfx(b, "Delisted", when(lk->d.decided_ms, t, sizeof t), "delisted", sfx);
    }
    if (v->ttd[0])
        dl_sfx(b, "Time to delisting", v->ttd, "ttd", sfx);
    put(b, "</dl>");
    if (v->listed && lk->l.kind == MASTER_KIND_POLICY) {
        char d[32];
        fmt(b,
            "<p class=\"hint\">Listings end automatically when no new report arrives for %s: "
            "fixing the source of the spam is the way to delisting. Please do not ask for an "
            "early delisting.</p>",
            hours_words(f->policy->duration_ms, d, sizeof d));
    }
    if (v->listed || v->recent) {
        put(b, "<p>If you administer this address and believe the listing is an error, or "
               "you challenge a report you received: <a");
        id_attr(b, "review-link", sfx);
        put(b, " href=\"/review?ip=");
        master_html_esc(b, s);
        feed_query(p, b, fi, 1);
        put(b, "\">request a review</a>.</p>");
    }
    put(b, several ? "</section>\n" : "</section>");
}

static int page_lookup(master_public_t *p, const char *ip, resp_t *r)
{
    r->html = 1;
    r->status = 200;
    page_start(&r->b, ip && *ip ? "Blocklist lookup result" : "Blocklist lookup");
    lookup_form(&r->b, ip);
    if (!ip || !*ip) {
        put(&r->b, "<p class=\"hint\">Enter the address named in the refusal of your mail to see "
                   "whether it is listed and when it will be delisted.</p>");
        page_end(&r->b);
        return 200;
    }
    bl_prefix_t a;
    const char *why = NULL;
    if (parse_ip(p, ip, &a, &why)) {
        count_lookup(p, "invalid");
        r->status = 400;
        put(&r->b, "<section class=\"error\" id=\"result\"><h2>Not a listable address</h2><p>");
        master_html_esc(&r->b, why);
        put(&r->b, "</p></section>");
        page_end(&r->b);
        return 400;
    }
    master_lookup_t lk[MASTER_FEEDS_MAX];
    view_t v[MASTER_FEEDS_MAX];
    if (lookup_views(p, &a, lk, v))
        return html_error(r, 503, "Try again later", "The list cannot be read now.");
    size_t n = p->c->nfeeds;
    char s[BL_PREFIX_STRLEN];
    bl_prefix_format(&a, s, sizeof s);
    if (n > 1)
        put(&r->b, "\n");
    for (size_t i = 0; i < n; i++)
        feed_section(p, (int)i, s, &lk[i], &v[i], &r->b);
    page_end(&r->b);
    return 200;
}

/* ---- CSRF: a cookie nonce and the form's HMAC of it ---- */

static void csrf_of(const master_public_t *p, const char *cookie, char out[65])
{
    uint8_t mac[32];
    unsigned n = 0;
    HMAC(EVP_sha256(), p->secret, sizeof p->secret, (const unsigned char *)cookie, strlen(cookie),
         mac, &n);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

/* The cookie of this visitor, or a new one set in r. */
static const char *csrf_cookie(struct MHD_Connection *conn, resp_t *r)
{
    const char *c = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, "blsync_csrf");
    if (master_hex_token(c, 32))
        return c;
    uint8_t raw[16];
    RAND_bytes(raw, sizeof raw);
    for (int i = 0; i < 16; i++)
        snprintf(r->cookie + 2 * i, 3, "%02x", raw[i]);
    return r->cookie;
}

static int csrf_ok(const master_public_t *p, struct MHD_Connection *conn, const char *field)
{
    const char *c = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, "blsync_csrf");
    if (!master_hex_token(c, 32) || !field || strlen(field) != 64)
        return 0;
    char want[65];
    csrf_of(p, c, want);
    unsigned char d = 0;
    for (int i = 0; i < 64; i++)
        d |= (unsigned char)(want[i] ^ field[i]);
    return d == 0;
}

/* ---- forms ---- */

#define NUL_REFUSED "a value holds a NUL byte (%00): no field may contain one"

static void fill_form(master_review_form_t *f, const char *(*get)(const void *, const char *),
                      const void *src)
{
    f->ip = get(src, "ip");
    f->category = get(src, "category");
    f->report_id = get(src, "report_id");
    f->email = get(src, "email");
    f->name = get(src, "name");
    f->title = get(src, "title");
    f->relationship = get(src, "relationship");
    f->subject = get(src, "subject");
    f->reason = get(src, "reason");
    f->documentation = get(src, "documentation");
    f->url = get(src, "url");
}

typedef struct {
    const master_kv_t *kv;
    size_t n;
} kvs_t;

static const char *kv_get(const void *src, const char *k)
{
    const kvs_t *s = src;
    return master_form_get(s->kv, s->n, k);
}

static const char *json_get_str(const void *src, const char *k)
{
    const master_json_t *v = master_json_get(src, k);
    if (!v)
        return NULL;
    if (v->type == MASTER_JSON_STR)
        return v->str;
    return "\x01"; /* not a string: refused by the check as an invalid character */
}

/* A form field's label and its hint. */
static void label(bl_buf_t *b, const char *name, const char *text, const char *hint)
{
    fmt(b, "<label for=\"%s\">", name);
    master_html_esc(b, text);
    put(b, "</label>");
    if (hint) {
        put(b, "<span class=\"hint\">");
        master_html_esc(b, hint);
        put(b, "</span>");
    }
}

static void text_input(bl_buf_t *b, const char *name, const char *text, const char *hint,
                       const char *value, int max, int required)
{
    label(b, name, text, hint);
    fmt(b, "<input id=\"%s\" name=\"%s\" maxlength=\"%d\"%s value=\"", name, name, max,
        required ? " required" : "");
    master_html_esc(b, value);
    put(b, "\">");
}

static void textarea(bl_buf_t *b, const char *name, const char *text, const char *hint,
                     const char *value, int max)
{
    label(b, name, text, hint);
    fmt(b, "<textarea id=\"%s\" name=\"%s\" maxlength=\"%d\">", name, name, max);
    master_html_esc(b, value);
    put(b, "</textarea>");
}

/* The form's list select (several feeds only), feed fi selected. */
static void feed_select(const master_public_t *p, bl_buf_t *b, int fi)
{
    if (p->c->nfeeds < 2)
        return;
    label(b, "feed", "List", "The list that lists the address");
    put(b, "<select id=\"feed\" name=\"feed\">");
    for (size_t i = 0; i < p->c->nfeeds; i++) {
        const master_public_feed_t *f = &p->c->feeds[i];
        put(b, "<option value=\"");
        master_html_esc(b, f->name);
        put(b, (int)i == fi ? "\" selected>" : "\">");
        master_html_esc(b, f->name);
        if (*f->description) {
            put(b, " \xe2\x80\x94 ");
            master_html_esc(b, f->description);
        }
        put(b, "</option>");
    }
    put(b, "</select>");
}

/* The review form, with the fields f holds, for feed fi (its policy's words). */
static void review_form(master_public_t *p, struct MHD_Connection *conn, resp_t *r, int fi,
                        const master_review_form_t *f, const char *field, const char *why)
{
    char tok[65];
    csrf_of(p, csrf_cookie(conn, r), tok);
    bl_buf_t *b = &r->b;
    char d[32];
    page_start(b, "Request a review");
    fmt(b, "%s",
        "<section><h2>Request a review</h2><p>Ask for the review of a listing made in "
        "error (a technical error, or a user who reported mail that was not spam), or "
        "challenge one report you received. Write from a role account of the network "
        "(postmaster@, abuse@, ...). Requests are answered within one day. ");
    fmt(b,
        "Asking for an early delisting after a fix is not a review: listings end by "
        "themselves %s after the last report.</p>",
        hours_words(p->c->feeds[fi].policy->duration_ms, d, sizeof d));
    if (why) {
        put(b, "<p class=\"error\" id=\"form-error\"><strong>");
        master_html_esc(b, field ? field : "request");
        put(b, ":</strong> ");
        master_html_esc(b, why);
        put(b, "</p>");
    }
    put(b, "<form class=\"review\" method=\"post\" action=\"/review\">");
    fmt(b, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">", tok);
    text_input(b, "ip", "IP address", NULL, f->ip, 45, 1);
    feed_select(p, b, fi);
    put(b, "<label for=\"category\">What do you ask for?</label><select id=\"category\" "
           "name=\"category\">");
    static const char *const labels[MASTER_REVIEW_CATEGORIES] = {
        "Review: a technical error listed the address",
        "Review: a user reported mail that was not spam",
        "Challenge one report I received",
        "Early delisting: I fixed the problem",
    };
    for (int i = 0; i < MASTER_REVIEW_CATEGORIES; i++) {
        const char *n = master_review_category_name(i);
        fmt(b, "<option value=\"%s\"%s>", n,
            f->category && !strcmp(f->category, n) ? " selected" : "");
        master_html_esc(b, labels[i]);
        put(b, "</option>");
    }
    put(b, "</select>");
    text_input(b, "email", "Your role address", "postmaster@, abuse@ or another role account",
               f->email, MASTER_REVIEW_EMAIL_MAX, 1);
    text_input(b, "name", "Your name", NULL, f->name, MASTER_REVIEW_NAME_MAX, 1);
    text_input(b, "title", "Your title", NULL, f->title, MASTER_REVIEW_TITLE_MAX, 1);
    textarea(b, "relationship", "Your relationship to the address",
             "For a review: who you are for this network", f->relationship, MASTER_REVIEW_REL_MAX);
    text_input(b, "report_id", "Report id", "For a challenge: the id given in the report",
               f->report_id, 20, 0);
    text_input(b, "subject", "Subject line of the report",
               "For a challenge: the complete subject line", f->subject, MASTER_REVIEW_SUBJ_MAX, 0);
    textarea(b, "reason", "Why the listing or report is wrong",
             "Concisely; for a user error include the record of the closed-loop (double opt-in) "
             "confirmation",
             f->reason, MASTER_REVIEW_TEXT_MAX);
    textarea(b, "documentation", "Supporting documentation", NULL, f->documentation,
             MASTER_REVIEW_DOC_MAX);
    text_input(b, "url", "Link to a large file", "Put large evidence on a web server", f->url,
               MASTER_REVIEW_URL_MAX, 0);
    put(b, "<p><button type=\"submit\" id=\"send\">Send the request</button></p></form>"
           "</section>");
    page_end(b);
}

static int page_review_form(master_public_t *p, struct MHD_Connection *conn, const char *ip,
                            const char *feed, resp_t *r)
{
    master_review_form_t f = {.ip = ip && strlen(ip) <= 45 ? ip : ""};
    int fi = feed_index(p, feed);
    r->status = 200;
    r->html = 1;
    review_form(p, conn, r, fi < 0 ? 0 : fi, &f, NULL, NULL);
    return 200;
}

/* Files a checked form into feed fi's queue under that feed's lock; status
 * and texts out. fi -1 (the form names no feed of this page) is refused. */
static int file_review(master_public_t *p, int fi, const bl_prefix_t *client,
                       const master_review_form_t *f, int64_t *id, char *token, int *state,
                       const char **field, const char **why)
{
    if (fi < 0) {
        count_refused(p, "invalid");
        *field = "feed";
        *why = "no list of that name is published here";
        return 422;
    }
    const master_public_feed_t *fd = &p->c->feeds[fi];
    pthread_mutex_lock(fd->lock);
    int rc = master_store_begin(fd->store);
    if (!rc) {
        rc = master_review_file(fd->store, fd->policy, f, p->c->recent_ms, p->c->max_open,
                                bl_now_ms(), id, token, state, field, why);
        rc = rc ? (master_store_rollback(fd->store), rc) : master_store_commit(fd->store);
    }
    pthread_mutex_unlock(fd->lock);
    if (rc == BL_EINVAL) {
        count_refused(p, *field && !strcmp(*field, "ip") ? "not_eligible" : "invalid");
        return 422;
    }
    if (rc == MASTER_REVIEW_EFULL) {
        count_refused(p, "queue_full");
        *field = NULL;
        *why = "the review queue is full: operators are answering the requests already filed. "
               "Please try again tomorrow; your listing still ends by itself 24 hours after the "
               "last report.";
        return 503;
    }
    if (rc) {
        *field = NULL;
        *why = "the request could not be stored; try again later";
        return 503;
    }
    const char *cat = master_review_category_name(master_review_category_parse(f->category));
    master_metrics_review_filed(p->c->metrics, cat);
    char a[BL_PREFIX_STRLEN];
    BL_INFO("public_review_filed", "id=%lld category=%s client=%s feed=%s", (long long)*id, cat,
            client->af ? bl_addr_format(client, a, sizeof a) : "-", bl_log_q(fd->name));
    return 201;
}

/* The status page's URL of request id of feed fi (HTML-escaped with amp). */
static void status_link(const master_public_t *p, bl_buf_t *b, int fi, int64_t id,
                        const char *token, int amp)
{
    fmt(b, "/review/status?id=%lld%stoken=%s", (long long)id, amp ? "&amp;" : "&", token);
    feed_query(p, b, fi, amp);
}

static int post_review_form(master_public_t *p, struct MHD_Connection *conn,
                            const bl_prefix_t *client, char *body, size_t len, resp_t *r)
{
    master_kv_t kv[32];
    size_t n = master_form_parse(body, len, kv, 32);
    r->html = 1;
    if (n == MASTER_FORM_NUL)
        return html_error(r, 400, "Bad request", NUL_REFUSED);
    if (!csrf_ok(p, conn, master_form_get(kv, n, "csrf"))) {
        count_refused(p, "csrf");
        return html_error(r, 403, "The form expired",
                          "The form could not be verified (it is too old, or your browser "
                          "refused its cookie). Open the review form again and send it anew.");
    }
    master_review_form_t f;
    kvs_t src = {kv, n};
    fill_form(&f, kv_get, &src);
    int fi = feed_index(p, master_form_get(kv, n, "feed"));
    int64_t id = 0;
    char token[MASTER_REVIEW_TOKEN_LEN + 1];
    int state = 0;
    const char *field = NULL, *why = NULL;
    int st = file_review(p, fi, client, &f, &id, token, &state, &field, &why);
    if (st == 422 || st == 503) {
        r->status = st;
        review_form(p, conn, r, fi < 0 ? 0 : fi, &f, field, why);
        return st;
    }
    r->status = 201;
    bl_buf_t *b = &r->b;
    page_start(b, "Request filed");
    fmt(b, "<section id=\"filed\"><h2>Request %lld: ", (long long)id);
    master_html_esc(b, master_review_state_name(state));
    put(b, "</h2>");
    if (state == MASTER_REVIEW_POLICY) {
        put(b, "<p id=\"answer\">");
        master_html_esc(b, master_review_policy_text());
        put(b, "</p><p>Nothing was changed; the request is closed.</p>");
    } else {
        put(b, "<p>Your request is in the queue. Keep this link: it is the only way to see its "
               "state and our answer.</p>");
    }
    put(b, "<p><a id=\"status-link\" href=\"");
    status_link(p, b, fi, id, token, 1);
    fmt(b, "\">Request %lld, token <span class=\"token\">%s</span></a></p></section>",
        (long long)id, token);
    page_end(b);
    return 201;
}

static int post_review_json(master_public_t *p, const bl_prefix_t *client, const uint8_t *body,
                            size_t len, resp_t *r)
{
    master_json_doc_t doc;
    char why_[160];
    const master_json_limits_t lim = {
        .max_depth = 2, .max_members = 32, .max_values = 64, .max_str = 16384};
    if (master_json_parse(body, len, &lim, &doc, why_, sizeof why_)) {
        count_refused(p, "invalid");
        return json_error(r, 400, NULL, why_);
    }
    if (doc.root->type != MASTER_JSON_OBJ) {
        master_json_free(&doc);
        count_refused(p, "invalid");
        return json_error(r, 400, NULL, "body must be a JSON object");
    }
    master_review_form_t f;
    char rid[24] = "";
    fill_form(&f, json_get_str, doc.root);
    const master_json_t *v = master_json_get(doc.root, "report_id");
    if (v && v->type == MASTER_JSON_NUM && !master_report_id_num(v->num, rid))
        f.report_id = rid;
    const char *feed = json_get_str(doc.root, "feed");
    int fi = feed && *feed == 1 ? -1 : feed_index(p, feed);
    int64_t id = 0;
    char token[MASTER_REVIEW_TOKEN_LEN + 1];
    int state = 0;
    const char *field = NULL, *why = NULL;
    int st = file_review(p, fi, client, &f, &id, token, &state, &field, &why);
    if (st != 201) {
        master_json_free(&doc);
        return json_error(r, st, field, why);
    }
    r->status = 201;
    r->html = 0;
    fmt(&r->b, "{\"id\":%lld,\"token\":\"%s\",\"state\":\"%s\",\"answer\":", (long long)id, token,
        master_review_state_name(state));
    if (state == MASTER_REVIEW_POLICY)
        jstr(&r->b, master_review_policy_text());
    else
        put(&r->b, "null");
    if (p->c->nfeeds > 1) {
        put(&r->b, ",\"feed\":");
        jstr(&r->b, feed_name(p, fi));
    }
    put(&r->b, ",\"status_url\":\"");
    status_link(p, &r->b, fi, id, token, 0);
    put(&r->b, "\"}\n");
    master_json_free(&doc);
    return 201;
}

/* A request as its requester may see it (id and secret token) in the
 * feed named (none: every feed in turn, the token tells requests of the
 * same id apart); *fi its feed. */
static int get_review(master_public_t *p, const char *ids, const char *token, const char *feed,
                      master_review_t *rv, int *fi)
{
    int64_t id;
    if (master_id_parse(ids, &id) || !master_hex_token(token, MASTER_REVIEW_TOKEN_LEN))
        return BL_ENOTFOUND;
    int named = feed && *feed;
    int first = feed_index(p, feed);
    if (first < 0)
        return BL_ENOTFOUND;
    int rc = BL_ENOTFOUND, failed = 0;
    for (size_t i = (size_t)first; i < (named ? (size_t)first + 1 : p->c->nfeeds); i++) {
        const master_public_feed_t *f = &p->c->feeds[i];
        pthread_mutex_lock(f->lock);
        rc = master_review_get(f->store, id, token, rv);
        pthread_mutex_unlock(f->lock);
        if (!rc) {
            *fi = (int)i;
            return 0;
        }
        if (rc != BL_ENOTFOUND)
            failed = rc;
    }
    return failed ? failed : rc;
}

static int api_review_status(master_public_t *p, const char *ids, const char *token,
                             const char *feed, resp_t *r)
{
    master_review_t rv;
    int fi = 0;
    int rc = get_review(p, ids, token, feed, &rv, &fi);
    if (rc)
        return json_error(r, rc == BL_ENOTFOUND ? 404 : 503, NULL,
                          rc == BL_ENOTFOUND ? "no request with this id and token"
                                             : "try again later");
    r->status = 200;
    r->html = 0;
    char t1[40], t2[40];
    fmt(&r->b, "{\"id\":%lld,\"state\":\"%s\",\"category\":\"%s\",\"ip\":", (long long)rv.id,
        master_review_state_name(rv.state), master_review_category_name(rv.category));
    jstr(&r->b, rv.ip);
    if (p->c->nfeeds > 1) {
        put(&r->b, ",\"feed\":");
        jstr(&r->b, feed_name(p, fi));
    }
    fmt(&r->b, ",\"filed_at\":\"%s\",\"updated_at\":\"%s\",\"answer\":",
        master_format_time(rv.created_ms, t1, sizeof t1),
        master_format_time(rv.updated_ms, t2, sizeof t2));
    jstr(&r->b, rv.answer);
    put(&r->b, "}\n");
    master_review_clear(&rv);
    return 200;
}

static int page_review_status(master_public_t *p, struct MHD_Connection *conn, const char *ids,
                              const char *token, const char *feed, resp_t *r, const char *notice)
{
    master_review_t rv;
    int fi = 0;
    int rc = get_review(p, ids, token, feed, &rv, &fi);
    if (rc)
        return html_error(r, rc == BL_ENOTFOUND ? 404 : 503, "No such request",
                          "No request has this id and token. Use the link given when you filed "
                          "it.");
    r->status = 200;
    r->html = 1;
    bl_buf_t *b = &r->b;
    char t[40];
    page_start(b, "Review request");
    fmt(b, "<section id=\"request\"><h2>Request %lld</h2><dl>", (long long)rv.id);
    dl(b, "State", master_review_state_name(rv.state), "state");
    dl(b, "Address", rv.ip, "req-ip");
    if (p->c->nfeeds > 1)
        dl(b, "List", feed_name(p, fi), "feed");
    dl(b, "Kind", master_review_category_name(rv.category), "category");
    dl(b, "Filed", when(rv.created_ms, t, sizeof t), "filed");
    dl(b, "Last change", when(rv.updated_ms, t, sizeof t), "updated");
    if (*rv.answer)
        dl(b, rv.state == MASTER_REVIEW_WAITING ? "Question" : "Answer", rv.answer, "answer");
    put(b, "</dl>");
    if (notice) {
        put(b, "<p id=\"notice\">");
        master_html_esc(b, notice);
        put(b, "</p>");
    }
    if (rv.state == MASTER_REVIEW_WAITING) {
        char tok[65];
        csrf_of(p, csrf_cookie(conn, r), tok);
        put(b, "<form class=\"review\" method=\"post\" action=\"/review/reply\">");
        fmt(b, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">", tok);
        fmt(b, "<input type=\"hidden\" name=\"id\" value=\"%lld\">", (long long)rv.id);
        put(b, "<input type=\"hidden\" name=\"token\" value=\"");
        master_html_esc(b, token);
        put(b, "\">");
        if (p->c->nfeeds > 1) {
            put(b, "<input type=\"hidden\" name=\"feed\" value=\"");
            master_html_esc(b, feed_name(p, fi));
            put(b, "\">");
        }
        textarea(b, "text", "Your answer", NULL, "", MASTER_REVIEW_TEXT_MAX);
        put(b, "<p><button type=\"submit\">Send</button></p></form>");
    }
    put(b, "</section>");
    page_end(b);
    master_review_clear(&rv);
    return 200;
}

static int post_reply(master_public_t *p, struct MHD_Connection *conn, char *body, size_t len,
                      resp_t *r)
{
    master_kv_t kv[8];
    size_t n = master_form_parse(body, len, kv, 8);
    if (n == MASTER_FORM_NUL)
        return html_error(r, 400, "Bad request", NUL_REFUSED);
    if (!csrf_ok(p, conn, master_form_get(kv, n, "csrf"))) {
        count_refused(p, "csrf");
        return html_error(r, 403, "The form expired",
                          "The form could not be verified. Open the request's page again.");
    }
    const char *ids = master_form_get(kv, n, "id"), *token = master_form_get(kv, n, "token");
    master_review_t rv;
    int fi = 0;
    int rc = get_review(p, ids, token, master_form_get(kv, n, "feed"), &rv, &fi);
    if (rc)
        return html_error(r, 404, "No such request", "No request has this id and token.");
    master_review_clear(&rv);
    const master_public_feed_t *f = &p->c->feeds[fi];
    const char *why = NULL;
    pthread_mutex_lock(f->lock);
    rc = master_store_begin(f->store);
    if (!rc) {
        rc = master_review_reply(f->store, rv.id, token, master_form_get(kv, n, "text"),
                                 bl_now_ms(), &why);
        rc = rc ? (master_store_rollback(f->store), rc) : master_store_commit(f->store);
    }
    pthread_mutex_unlock(f->lock);
    if (rc && why) {
        count_refused(p, "invalid");
        page_review_status(p, conn, ids, token, f->name, r, why);
        r->status = 422;
        return 422;
    }
    if (rc)
        return html_error(r, 503, "Try again later", "The reply could not be stored.");
    return page_review_status(p, conn, ids, token, f->name, r, "Thank you: your answer was added.");
}

/* ---- routing ---- */

static const char *arg(struct MHD_Connection *c, const char *k)
{
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, k);
}

static enum MHD_Result nul_in_value(void *cls, enum MHD_ValueKind kind, const char *key,
                                    size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    if (strlen(key) != key_size || (value && strlen(value) != value_size)) {
        *(int *)cls = 1;
        return MHD_NO;
    }
    return MHD_YES;
}

/* 1 when a query name or value holds a NUL byte (%00): arg() would see it
 * cut short. */
static int query_has_nul(struct MHD_Connection *c)
{
    int nul = 0;
    MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, nul_in_value, &nul);
    return nul;
}

static int rate_limited(master_public_t *p, limiter_t *l, const bl_prefix_t *client, int json,
                        const char *what, resp_t *r)
{
    uint8_t key[17];
    client_key(client, key);
    int first = 0;
    if (limiter_take(l, key, &first))
        return 0;
    if (first) { /* once per client and flood, not once per refusal */
        char a[BL_PREFIX_STRLEN];
        BL_INFO("public_rate_limited", "client=%s what=%s",
                client->af ? bl_addr_format(client, a, sizeof a) : "-", what);
    }
    count_refused(p, l == &p->lookups ? "rate_limited_lookup" : "rate_limited_request");
    r->retry_after = l == &p->lookups ? 60 : 3600;
    char msg[160];
    snprintf(msg, sizeof msg, "too many %s from your address: wait a while and try again", what);
    if (json)
        return json_error(r, 429, NULL, msg);
    return html_error(r, 429, "Too many requests", msg);
}

/* The key a client's requests in flight count under: the address, or for
 * IPv6 its /64 (as the rate limits key it). */
static void held_key(const bl_prefix_t *client, bl_peer_t *k)
{
    uint8_t key[17];
    client_key(client, key);
    k->af = key[0];
    memcpy(k->a, key + 1, sizeof k->a);
}

/* bl_http_req_t.done of a request that holds a count: gives it back. */
static void release(void *arg)
{
    preq_t *rq = arg;
    master_public_t *p = rq->p;
    pthread_mutex_lock(&p->held_mu);
    bl_peer_counts_dec(&p->held, &rq->key);
    pthread_mutex_unlock(&p->held_mu);
    rq->key.af = 0;
    master_metrics_public_proxied(p->c->metrics, -1);
}

/* At a request's header, through a trusted proxy: counts it for its
 * forwarded client until it ends, or at max_proxied requests in flight
 * refuses it (429, 0 when it goes on). The proxy's own connections are
 * exempt from max_connections_per_address: this bounds what one client
 * behind it holds. A table with no room (more clients than connections
 * cannot be) lets the request through uncounted. */
static int hold(master_public_t *p, struct MHD_Connection *conn, const char *url, preq_t *rq,
                resp_t *r)
{
    bl_prefix_t client;
    if (!client_of(p->c, conn, &client))
        return 0;
    bl_peer_t k;
    held_key(&client, &k);
    pthread_mutex_lock(&p->held_mu);
    unsigned n = bl_peer_counts_get(&p->held, &k);
    int over = n >= p->c->max_proxied;
    int counted = !over && bl_peer_counts_inc(&p->held, &k) == 0;
    pthread_mutex_unlock(&p->held_mu);
    if (counted) {
        rq->p = p;
        rq->key = k;
        rq->h.done = release;
        rq->h.done_arg = rq;
        master_metrics_public_proxied(p->c->metrics, 1);
        return 0;
    }
    if (!over)
        return 0;
    /* A warning: a client's flood of these is summarised by the log's flood limit. */
    char a[BL_PREFIX_STRLEN];
    BL_WARN("public_in_flight_limited", "client=%s in_flight=%u",
            client.af ? bl_addr_format(&client, a, sizeof a) : "-", n);
    count_refused(p, "in_flight");
    r->retry_after = 1;
    const char *msg = "too many requests from your address at once: wait for the others to finish";
    if (!strncmp(url, "/api/", 5))
        return json_error(r, 429, NULL, msg);
    return html_error(r, 429, "Too many requests", msg);
}

static int route(master_public_t *p, struct MHD_Connection *conn, const char *method,
                 const char *url, preq_t *rq, resp_t *r)
{
    int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    int post = !strcmp(method, "POST");
    bl_prefix_t client;
    client_of(p->c, conn, &client);
    if (rq->h.nul_path || query_has_nul(conn)) {
        if (!strncmp(url, "/api/", 5))
            return json_error(r, 400, NULL, NUL_REFUSED);
        return html_error(r, 400, "Bad request", NUL_REFUSED);
    }
    if (!strcmp(url, "/style.css")) {
        if (!get)
            return not_allowed(r, 0, "GET");
        r->status = 200;
        r->html = 2;
        put(&r->b, page_css);
        return 200;
    }
    if (!strcmp(url, "/favicon.ico")) {
        r->status = 204; /* none: browsers ask for it on every page */
        r->html = 2;
        return 204;
    }
    if (!strcmp(url, "/")) {
        if (!get)
            return not_allowed(r, 0, "GET");
        const char *ip = arg(conn, "ip");
        if (ip && *ip && rate_limited(p, &p->lookups, &client, 0, "lookups", r))
            return r->status;
        return page_lookup(p, ip, r);
    }
    if (!strncmp(url, "/api/lookup/", 12)) {
        if (!get)
            return not_allowed(r, 1, "GET");
        if (rate_limited(p, &p->lookups, &client, 1, "lookups", r))
            return r->status;
        return api_lookup(p, url + 12, r);
    }
    if (!strcmp(url, "/review")) {
        if (get)
            return page_review_form(p, conn, arg(conn, "ip"), arg(conn, "feed"), r);
        if (!post)
            return not_allowed(r, 0, "GET or POST");
        if (rate_limited(p, &p->requests, &client, 0, "requests", r))
            return r->status;
        size_t len = rq->h.body.len;
        bl_buf_u8(&rq->h.body, 0);
        if (rq->h.body.err)
            return html_error(r, 503, "Try again later", "Out of memory.");
        return post_review_form(p, conn, &client, (char *)rq->h.body.data, len, r);
    }
    if (!strcmp(url, "/api/review")) {
        if (!post)
            return not_allowed(r, 1, "POST");
        const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
        if (!ct || strncasecmp(ct, "application/json", 16))
            return json_error(r, 415, NULL, "send Content-Type: application/json");
        if (rate_limited(p, &p->requests, &client, 1, "requests", r))
            return r->status;
        return post_review_json(p, &client, rq->h.body.data, rq->h.body.len, r);
    }
    if (!strcmp(url, "/review/status")) {
        if (!get)
            return not_allowed(r, 0, "GET");
        if (rate_limited(p, &p->lookups, &client, 0, "lookups", r))
            return r->status;
        return page_review_status(p, conn, arg(conn, "id"), arg(conn, "token"), arg(conn, "feed"),
                                  r, NULL);
    }
    if (!strncmp(url, "/api/review/", 12)) {
        if (!get)
            return not_allowed(r, 1, "GET");
        if (rate_limited(p, &p->lookups, &client, 1, "lookups", r))
            return r->status;
        return api_review_status(p, url + 12, arg(conn, "token"), arg(conn, "feed"), r);
    }
    if (!strcmp(url, "/review/reply")) {
        if (!post)
            return not_allowed(r, 0, "POST");
        if (rate_limited(p, &p->requests, &client, 0, "requests", r))
            return r->status;
        size_t len = rq->h.body.len;
        bl_buf_u8(&rq->h.body, 0);
        if (rq->h.body.err)
            return html_error(r, 503, "Try again later", "Out of memory.");
        return post_reply(p, conn, (char *)rq->h.body.data, len, r);
    }
    if (!strncmp(url, "/api/", 5))
        return json_error(r, 404, NULL, "no such endpoint");
    return html_error(r, 404, "Not found", "There is no such page here.");
}

/* The answer takes r's buffer (no copy; freed with the response). */
static enum MHD_Result send_resp(master_public_t *p, struct MHD_Connection *conn, resp_t *r)
{
    struct MHD_Response *m =
        MHD_create_response_from_buffer_with_free_callback(r->b.len, r->b.data, free);
    if (!m)
        return MHD_NO;
    bl_buf_init(&r->b);
    MHD_add_response_header(m, "Content-Type",
                            r->html == 2   ? "text/css; charset=utf-8"
                            : r->html == 1 ? "text/html; charset=utf-8"
                                           : "application/json");
    /* No script anywhere: the policy allows none, nor framing or foreign forms. */
    MHD_add_response_header(m, "Content-Security-Policy",
                            "default-src 'none'; style-src 'self'; img-src 'self'; "
                            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    MHD_add_response_header(m, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(m, "X-Frame-Options", "DENY");
    MHD_add_response_header(m, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(m, "Cross-Origin-Opener-Policy", "same-origin");
    MHD_add_response_header(m, "Cache-Control", r->html == 2 ? "max-age=3600" : "no-store");
    if (p->tls)
        MHD_add_response_header(m, "Strict-Transport-Security", "max-age=31536000");
    if (r->cookie[0]) {
        char c[160];
        snprintf(c, sizeof c, "blsync_csrf=%s; Path=/; HttpOnly; SameSite=Strict%s", r->cookie,
                 p->tls ? "; Secure" : "");
        MHD_add_response_header(m, "Set-Cookie", c);
    }
    if (r->allow)
        MHD_add_response_header(m, "Allow", r->allow);
    if (r->retry_after) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", r->retry_after);
        MHD_add_response_header(m, "Retry-After", ra);
    }
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r->status, m);
    MHD_destroy_response(m);
    bl_http_guard_answering(conn);
    return ret;
}

/* The layout a /spool/FEED/ URL names (the first feed's, which answers 404,
 * for any other URL). */
static master_spool_t *spool_of(master_public_t *p, const char *url)
{
    size_t pl = strlen(MASTER_SPOOL_PREFIX);
    if (!strncmp(url, MASTER_SPOOL_PREFIX, pl))
        for (size_t i = 1; i < p->nspools; i++) {
            const char *f = master_spool_feed(p->spools[i]);
            size_t fl = strlen(f);
            if (!strncmp(url + pl, f, fl) && url[pl + fl] == '/')
                return p->spools[i];
        }
    return p->spools[0];
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    master_public_t *p = cls;
    preq_t *rq = *con_cls;
    resp_t r = {0};
    /* The public threads yield the CPU to report ingestion and publishing:
     * a flood of lookups slows lookups, not the list. */
    static __thread int niced;
    if (!niced) {
        niced = 1;
        setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), PUBLIC_NICE);
    }
    bl_buf_init(&r.b);
    if (!rq || !rq->started) {
        if (!rq && !(rq = calloc(1, sizeof *rq)))
            return MHD_NO;
        if (!rq->h.nul_path)
            bl_buf_init(&rq->h.body); /* a refused path's request has its body already */
        rq->started = 1;
        *con_cls = rq;
        rq->h.ignore_body = strcmp(method, "POST") != 0;
        if (hold(p, conn, url, rq, &r)) {
            rq->h.answered = 1;
            enum MHD_Result ret = r.b.err ? MHD_NO : send_resp(p, conn, &r);
            bl_buf_close(&r.b);
            return ret;
        }
        uint64_t declared;
        if (!rq->h.ignore_body && bl_http_content_length(conn, &declared) == 0 &&
            declared > p->c->max_body) {
            rq->h.answered = 1;
            bl_http_guard_refused(p->g, BL_HTTP_REFUSED_TOO_LARGE, "declared");
            count_refused(p, "too_large");
            html_error(&r, 413, "Request too large", "The request is larger than allowed.");
            enum MHD_Result ret = send_resp(p, conn, &r);
            bl_buf_close(&r.b);
            return ret;
        }
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (rq->h.answered || rq->h.ignore_body)
            return MHD_YES;
        if (rq->h.body.len + n > p->c->max_body) {
            rq->h.answered = 1;
            bl_http_guard_refused(p->g, BL_HTTP_REFUSED_TOO_LARGE, "chunked");
            count_refused(p, "too_large");
            return MHD_NO;
        }
        bl_buf_put(&rq->h.body, upload, n);
        return MHD_YES;
    }
    if (rq->h.answered)
        return MHD_YES;
    /* The spool's objects are signed: anyone may fetch them, as often as a
     * cache or a mirror polls (no rate limit; the connection bounds apply). */
    master_spool_t *sp = spool_of(p, url);
    if (!rq->h.nul_path && (rq->spool_held || master_spool_serving(sp)) &&
        !strncmp(url, MASTER_SPOOL_PREFIX, strlen(MASTER_SPOOL_PREFIX))) {
        bl_buf_close(&r.b);
        enum MHD_Result ret = master_spool_answer(sp, conn, method, url, &rq->spool_held);
        if (rq->spool_held) /* held on purpose: not a slow client */
            bl_http_guard_extend(conn, (uint64_t)master_spool_wait_ms(sp));
        else /* an object of any size, to a mirror at any steady pace */
            bl_http_guard_answering(conn);
        return ret;
    }
    /* Room for a whole page at once: no reallocation while it is written. */
    bl_buf_reserve(&r.b, RESP_ROOM);
    if (rq->h.body.err)
        html_error(&r, 503, "Try again later", "Out of memory.");
    else
        route(p, conn, method, url, rq, &r);
    enum MHD_Result ret = r.b.err ? MHD_NO : send_resp(p, conn, &r);
    bl_buf_close(&r.b);
    return ret;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    bl_buf_t b;
    bl_buf_init(&b);
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0 && b.len < (1u << 20))
        bl_buf_put(&b, tmp, n);
    fclose(f);
    bl_buf_u8(&b, 0);
    if (b.err) {
        bl_buf_close(&b);
        return NULL;
    }
    return (char *)b.data;
}

master_public_conf_t *master_public_conf(const master_config_t *mc, master_public_conf_t *c,
                                         pthread_mutex_t *lock, master_store_t *store,
                                         master_metrics_t *metrics)
{
    *c = (master_public_conf_t){
        .metrics = metrics,
        .window_ms = mc->window_ms,
        .recent_ms = mc->recent_delisting_ms,
        .lookup_per_min = mc->lookup_rate,
        .lookup_burst = mc->lookup_burst,
        .request_per_hour = mc->request_rate,
        .request_burst = mc->request_burst,
        .max_open = mc->max_open_reviews,
        .max_body = mc->public_max_body,
        .max_proxied = mc->public_max_proxied,
        .threads = mc->public_threads,
        .limits = {.max_conns = mc->public_max_conns,
                   .max_conns_per_addr = mc->public_max_conns_per_addr,
                   .idle_timeout_s = (unsigned)(mc->http_idle_timeout_ms / 1000),
                   .request_timeout_ms = mc->http_request_timeout_ms,
                   .req_size = sizeof(preq_t)},
        .tls_cert = mc->public_cert,
        .tls_key = mc->public_key,
        .serve_spool = mc->public_serve_spool,
        .spool_wait_ms = mc->public_spool_wait_ms,
        .spool_max_held = mc->public_spool_max_held,
        .spool = mc->pub.spool};
    master_public_add_feed(c, mc, lock, store);
    const char *why;
    if (master_public_proxies_parse(mc->public_proxies, c->proxies, MASTER_PUBLIC_MAX_PROXIES,
                                    &c->nproxies, &why))
        c->nproxies = 0; /* refused when the configuration was loaded */
    if (c->nproxies) {
        c->limits.exempt = proxy_peer;
        c->limits.exempt_cls = c;
    }
    return c;
}

void master_public_add_feed(master_public_conf_t *c, const master_config_t *fc,
                            pthread_mutex_t *lock, master_store_t *store)
{
    if (c->nfeeds < MASTER_FEEDS_MAX)
        c->feeds[c->nfeeds++] = (master_public_feed_t){.name = fc->feed,
                                                       .description = fc->description,
                                                       .db_path = fc->db,
                                                       .policy = &fc->policy,
                                                       .lock = lock,
                                                       .store = store};
}

void master_public_set_spool(master_public_t *p, int on, int64_t wait_ms, unsigned max_held)
{
    for (size_t i = 0; p && i < p->nspools; i++)
        master_spool_configure(p->spools[i], on, wait_ms, max_held);
}

void master_public_stop(master_public_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nspools; i++)
        master_spool_stop(p->spools[i]); /* held long polls are answered before the server stops */
    bl_http_guard_stop(p->g);
    for (size_t i = 0; i < p->nspools; i++)
        master_spool_free(p->spools[i]);
    for (unsigned i = 0; i < p->nreaders; i++) {
        for (size_t k = 0; k < MASTER_FEEDS_MAX; k++)
            master_store_close(p->readers[i].s[k]);
        pthread_mutex_destroy(&p->readers[i].mu);
    }
    free(p->readers);
    limiter_free(&p->lookups);
    limiter_free(&p->requests);
    bl_peer_counts_free(&p->held);
    pthread_mutex_destroy(&p->held_mu);
    free(p->cert_pem);
    free(p->key_pem);
    free(p);
}

int master_public_start(const master_public_conf_t *c, const char *listen, master_public_t **out)
{
    *out = NULL;
    struct sockaddr_storage ss;
    socklen_t sl;
    const char *err = NULL;
    if (bl_cfg_listen(listen, -1, &ss, &sl, &err)) {
        BL_ERR("public_listen", "listen=%s error=%s", bl_log_q(listen),
               bl_log_q(err ? err : "bad address"));
        return BL_EINVAL;
    }
    master_public_t *p = calloc(1, sizeof *p);
    if (!p)
        return BL_ENOMEM;
    p->c = c;
    int rc = 0;
    for (size_t i = 0; i < c->nfeeds; i++) {
        const char *feed = c->feeds[i].name;
        char dir[PATH_MAX];
        if (snprintf(dir, sizeof dir, "%s/%s", c->spool ? c->spool : "", feed) >= (int)sizeof dir ||
            (rc = master_spool_new(dir, feed, c->metrics, &p->spools[i]))) {
            for (size_t k = 0; k < p->nspools; k++) {
                master_spool_stop(p->spools[k]);
                master_spool_free(p->spools[k]);
            }
            free(p);
            return rc ? rc : BL_EINVAL;
        }
        p->nspools = i + 1;
        master_spool_configure(p->spools[i], c->serve_spool, c->spool_wait_ms, c->spool_max_held);
    }
    pthread_mutex_init(&p->held_mu, NULL);
    /* A request in flight has a connection: no more clients than connections. */
    if (bl_peer_counts_init(&p->held, 2 * (size_t)c->limits.max_conns + 64) ||
        limiter_init(&p->lookups, c->lookup_per_min / 60000.0, c->lookup_burst) ||
        limiter_init(&p->requests, c->request_per_hour / 3600000.0, c->request_burst) ||
        RAND_bytes(p->secret, sizeof p->secret) != 1) {
        master_public_stop(p);
        return BL_ENOMEM;
    }
    p->nreaders = c->threads ? c->threads : 1;
    p->readers = calloc(p->nreaders, sizeof *p->readers);
    for (unsigned i = 0; p->readers && i < p->nreaders && !rc; i++) {
        pthread_mutex_init(&p->readers[i].mu, NULL);
        for (size_t k = 0; k < c->nfeeds && !rc; k++)
            rc = master_store_open_reader(c->feeds[k].db_path, c->feeds[k].name,
                                          &p->readers[i].s[k]);
        if (rc)
            p->nreaders = i + 1; /* its connections opened so far are closed too */
    }
    if (!p->readers || rc) {
        master_public_stop(p);
        return rc ? rc : BL_ENOMEM;
    }
    if (c->tls_cert && *c->tls_cert) {
        if (!(p->cert_pem = slurp(c->tls_cert)) || !(p->key_pem = slurp(c->tls_key))) {
            BL_ERR("public_tls", "cert=%s key=%s error=%s", bl_log_q(c->tls_cert),
                   bl_log_q(c->tls_key), bl_log_q(strerror(errno)));
            master_public_stop(p);
            return BL_EIO;
        }
        p->tls = 1;
        master_metrics_set_public_cert(c->metrics, bl_tls_pem_log_cert(c->tls_cert, p->cert_pem));
    }
    rc = master_http_listen("public", (struct sockaddr *)&ss, p->nreaders, &c->limits, c->metrics,
                            p->cert_pem, p->key_pem, on_request, p, &p->g);
    if (rc) {
        BL_ERR("public_listen", "listen=%s error=%s", bl_log_q(listen),
               bl_log_q(errno ? strerror(errno) : "cannot start HTTP server"));
        master_public_stop(p);
        return rc;
    }
    BL_INFO("public_listening", "listen=%s tls=%s threads=%u spool=%s", bl_log_q(listen),
            p->tls ? "yes" : "no", p->nreaders,
            master_spool_serving(p->spools[0]) ? MASTER_SPOOL_PREFIX : "no");
    *out = p;
    return 0;
}
