/* SPDX-License-Identifier: MIT */
/* The master's HTTP API: libmicrohttpd glue and the request handlers (bodies are untrusted). */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "addr.h"
#include "config_util.h"
#include "err.h"
#include "http.h"
#include "http_guard.h"
#include "json.h"
#include "log.h"
#include "public_parse.h"
#include "reviews.h"
#include "util.h"

#define MAX_LIST 10000

/* ---- times ---- */

/* n decimal digits at *p as *v, advancing *p; 0 when one is not a digit. */
static int fixed_digits(const char **p, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9')
            return 0;
        *v = *v * 10 + (**p - '0');
    }
    return 1;
}

int master_parse_time(const char *s, int64_t *ms)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int Y, M, D, h, m, sec;
    const char *p = s;
    /* Exactly yyyy-mm-ddThh:mm:ss: no signs, blanks or short fields. */
    if (!fixed_digits(&p, 4, &Y) || *p++ != '-' || !fixed_digits(&p, 2, &M) || *p++ != '-' ||
        !fixed_digits(&p, 2, &D) || *p++ != 'T' || !fixed_digits(&p, 2, &h) || *p++ != ':' ||
        !fixed_digits(&p, 2, &m) || *p++ != ':' || !fixed_digits(&p, 2, &sec))
        return BL_EINVAL;
    int64_t frac = 0;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 3)
                frac = frac * 10 + (*p - '0');
        if (!digits)
            return BL_EINVAL;
        for (; digits < 3; digits++)
            frac *= 10;
    }
    if (strcmp(p, "Z") && strcmp(p, "z") && strcmp(p, "+00:00"))
        return BL_EINVAL;
    if (Y < 1970 || M < 1 || M > 12 || D < 1 || h > 23 || m > 59 || sec > 60)
        return BL_EINVAL;
    int leap = Y % 4 == 0 && (Y % 100 != 0 || Y % 400 == 0);
    if (D > mdays[M - 1] + (M == 2 && leap))
        return BL_EINVAL; /* not a day of that month (timegm would move it to the next) */
    struct tm tm = {.tm_year = Y - 1900,
                    .tm_mon = M - 1,
                    .tm_mday = D,
                    .tm_hour = h,
                    .tm_min = m,
                    .tm_sec = sec};
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return BL_EINVAL;
    *ms = (int64_t)t * 1000 + frac;
    return 0;
}

char *master_format_time(int64_t ms, char *buf, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

/* ---- reports ---- */

static void add_err(bl_buf_t *errs, size_t *nerr, size_t index, const char *ip, const char *why)
{
    if (*nerr)
        bl_buf_u8(errs, ',');
    master_json_printf(errs, "{\"index\":%zu,\"ip\":", index);
    if (ip)
        master_json_put_str(errs, ip);
    else
        master_json_printf(errs, "null");
    master_json_printf(errs, ",\"error\":");
    master_json_put_str(errs, why);
    bl_buf_u8(errs, '}');
    (*nerr)++;
}

static const char *report_from_json(const master_policy_t *p, const master_json_t *o,
                                    int64_t now_ms, master_report_t *r, const char **ipstr)
{
    const char *why = NULL;
    *ipstr = NULL;
    memset(r, 0, sizeof *r);
    if (o->type != MASTER_JSON_OBJ)
        return "a report must be a JSON object";
    /* The ip goes into every refusal of the report, whatever else is wrong. */
    const master_json_t *ip = master_json_get(o, "ip");
    if (ip && ip->type == MASTER_JSON_STR)
        *ipstr = ip->str;
    for (const master_json_t *m = o->child; m; m = m->next)
        if (strcmp(m->key, "ip") && strcmp(m->key, "source") && strcmp(m->key, "time") &&
            strcmp(m->key, "evidence"))
            return "unknown field (allowed: ip, source, time, evidence)";
    if (!ip)
        return "missing field: ip";
    if (ip->type != MASTER_JSON_STR)
        return "ip must be a string";
    if (master_policy_target(p, ip->str, 0, &r->key, &why))
        return why;
    const master_json_t *src = master_json_get(o, "source");
    if (!src)
        return "missing field: source";
    if (src->type != MASTER_JSON_STR || (r->source = master_source_parse(src->str)) < 0)
        return "unknown source: use \"user\" or \"spamtrap\"";
    const master_json_t *t = master_json_get(o, "time");
    r->t_ms = now_ms;
    if (t && t->type == MASTER_JSON_NUM) {
        if (!(t->num > 0 && t->num < 1e11))
            return "time must be Unix seconds";
        r->t_ms = (int64_t)llround(t->num * 1000.0);
    } else if (t && t->type == MASTER_JSON_STR) {
        if (master_parse_time(t->str, &r->t_ms))
            return "time must be Unix seconds or RFC 3339 UTC (2026-01-02T03:04:05Z)";
    } else if (t) {
        return "time must be Unix seconds or RFC 3339 UTC (2026-01-02T03:04:05Z)";
    }
    const master_json_t *ev = master_json_get(o, "evidence");
    if (ev && ev->type != MASTER_JSON_STR && ev->type != MASTER_JSON_NULL)
        return "evidence must be a string";
    r->evidence = ev && ev->type == MASTER_JSON_STR ? ev->str : NULL;
    r->received_ms = now_ms;
    if (master_policy_check_report(p, r, now_ms, &why))
        return why;
    return NULL;
}

int master_reports_parse(const master_policy_t *p, const uint8_t *body, size_t len, int64_t now_ms,
                         master_reports_t *out, bl_buf_t *errs, size_t *nerr, char *why,
                         size_t whylen)
{
    master_json_doc_t doc;
    memset(out, 0, sizeof *out);
    *nerr = 0;
    int rc = master_json_parse(body, len, NULL, &doc, why, whylen);
    if (rc)
        return BL_EPROTO;
    const master_json_t *root = doc.root, *items;
    size_t n;
    if (root->type == MASTER_JSON_ARR) {
        items = root->child;
        n = root->n;
    } else if (root->type == MASTER_JSON_OBJ) {
        items = root;
        n = 1;
    } else {
        snprintf(why, whylen, "body must be a report object or an array of them, not %s",
                 master_json_type_name(root->type));
        master_json_free(&doc);
        return BL_EPROTO;
    }
    if (n == 0) {
        snprintf(why, whylen, "empty array: no reports");
        master_json_free(&doc);
        return BL_EPROTO;
    }
    out->r = calloc(n, sizeof *out->r);
    out->whys = calloc(n, sizeof *out->whys);
    if (!out->r || !out->whys) {
        free(out->r);
        free(out->whys);
        master_json_free(&doc);
        snprintf(why, whylen, "out of memory");
        return BL_ENOMEM;
    }
    size_t i = 0;
    for (const master_json_t *it = items; it && i < n; it = it->next, i++) {
        const char *ip;
        master_report_t *r = &out->r[out->n];
        const char *bad = report_from_json(p, it, now_ms, r, &ip);
        if (bad) {
            add_err(errs, nerr, i, ip, bad);
            out->whys[out->nwhys++] = bad;
            continue;
        }
        if (r->evidence && !(r->evidence = strdup(r->evidence))) {
            add_err(errs, nerr, i, ip, "out of memory");
            continue;
        }
        out->n++;
        if (root->type == MASTER_JSON_OBJ)
            break;
    }
    master_json_free(&doc);
    return 0;
}

void master_reports_free(master_reports_t *r)
{
    for (size_t i = 0; i < r->n; i++)
        free((char *)r->r[i].evidence);
    free(r->r);
    free(r->whys);
    memset(r, 0, sizeof *r);
}

/* ---- request plumbing ---- */

static int error_json(bl_buf_t *out, int status, const char *why)
{
    out->len = 0;
    master_json_printf(out, "{\"error\":");
    master_json_put_str(out, why);
    master_json_printf(out, "}\n");
    return status;
}

/* A 405: "use WHAT" (GET, POST, DELETE or "GET or POST"), and in *allow the
 * methods for the Allow header that RFC 9110 requires of a 405. */
static int not_allowed(bl_buf_t *out, const char **allow, const char *what)
{
    *allow = !strcmp(what, "GET")           ? "GET, HEAD"
             : !strcmp(what, "GET or POST") ? "GET, HEAD, POST"
                                            : what;
    char why[32];
    snprintf(why, sizeof why, "use %s", what);
    return error_json(out, 405, why);
}

/* Constant-time comparison of the presented bearer token. The scheme is
 * case-insensitive and followed by one or more spaces (RFC 7235 2.1). */
static int token_ok(const char *token, const char *auth)
{
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
        return 0;
    const char *t = auth + 7;
    while (*t == ' ')
        t++;
    size_t a = strlen(t), b = strlen(token);
    unsigned char d = a != b;
    for (size_t i = 0; i < b; i++)
        d |= (unsigned char)(token[i] ^ (i < a ? t[i] : 0));
    return d == 0;
}

/* The requests that change state (and take a body): they need the full token. */
static int state_changing(const char *method, const char *path)
{
    if (!strcmp(method, "POST"))
        return !strcmp(path, "/v1/reports") || !strcmp(path, "/v1/listings") ||
               !strncmp(path, "/v1/reviews/", 12);
    return !strcmp(method, "DELETE") &&
           (!strncmp(path, "/v1/listings/", 13) || !strncmp(path, "/v1/mirrors/", 12));
}

/* 0 when the request carries a token that allows it; otherwise the status
 * (401, or 403 without a configured token) with out set. Every request but
 * /v1/health needs a token: reads show the whole list, its mirrors and the
 * review requests. Reads take the read-only token too. */
static int request_auth(master_http_ctx_t *ctx, const char *method, const char *path,
                        const char *auth, bl_buf_t *out)
{
    if (!strcmp(path, "/v1/health"))
        return 0;
    int change = state_changing(method, path), st = 0;
    int has_token = ctx->token && *ctx->token;
    int has_read = !change && ctx->read_token && *ctx->read_token;
    if (!has_token && !has_read)
        st = error_json(out, 403,
                        change ? "no API token configured: state changes are disabled"
                               : "no API token configured: the API is disabled");
    else if (!(has_token && token_ok(ctx->token, auth)) &&
             !(has_read && token_ok(ctx->read_token, auth)))
        st = error_json(out, 401, "missing or wrong bearer token");
    if (st && !strcmp(path, "/v1/reports"))
        master_metrics_refused(ctx->metrics, "bearer", 1);
    return st;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Finds name in a query string and percent-decodes its value into buf. */
static const char *query_get(const char *q, const char *name, char *buf, size_t n)
{
    size_t nl = strlen(name);
    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t seg = amp ? (size_t)(amp - q) : strlen(q);
        if (seg > nl && !strncmp(q, name, nl) && q[nl] == '=') {
            size_t o = 0, i;
            for (i = nl + 1; i < seg && o + 1 < n; i++) {
                if (q[i] == '%' && i + 2 < seg + 0 + 1 && hexval(q[i + 1]) >= 0 &&
                    hexval(q[i + 2]) >= 0) {
                    buf[o++] = (char)(hexval(q[i + 1]) * 16 + hexval(q[i + 2]));
                    i += 2;
                } else {
                    buf[o++] = q[i] == '+' ? ' ' : q[i];
                }
            }
            buf[o] = 0;
            if (i < seg)
                buf[0] = 0; /* longer than any valid value: refused whole, never cut short */
            return buf;
        }
        q = amp ? amp + 1 : NULL;
    }
    return NULL;
}

/* A limit=N query value (default 1000): N, or 0 unless it is digits only
 * within 1..MAX_LIST. */
static long query_limit(const char *lim)
{
    uint64_t v;
    if (!lim)
        return 1000;
    return bl_cfg_uint(lim, 1, MAX_LIST, &v, NULL) ? 0 : (long)v;
}

static void changed(master_http_ctx_t *ctx)
{
    if (ctx->changed)
        ctx->changed(ctx->changed_arg);
}

/* 503 (with Retry-After, see send_buf): nothing was stored; why names the
 * store's fault when it has one (the health check reports the same). */
static int store_fail(master_http_ctx_t *ctx, bl_buf_t *out, int rc)
{
    ctx->stats.store_errors_total++;
    char why[256];
    const char *fault = master_store_fault(ctx->store);
    if (fault)
        snprintf(why, sizeof why, "store unavailable: %s", fault);
    else
        snprintf(why, sizeof why, "store error: %s", bl_strerror(rc));
    return error_json(out, 503, why);
}

/* ---- handlers ---- */

static int h_reports(master_http_ctx_t *ctx, const uint8_t *body, size_t len, bl_buf_t *out)
{
    int64_t now = bl_now_ms();
    master_reports_t rs;
    bl_buf_t errs;
    bl_buf_init(&errs);
    size_t nerr;
    char why[160];
    int rc = master_reports_parse(ctx->policy, body, len, now, &rs, &errs, &nerr, why, sizeof why);
    if (rc) {
        bl_buf_close(&errs);
        pthread_mutex_lock(ctx->lock);
        ctx->stats.reports_refused_total++;
        pthread_mutex_unlock(ctx->lock);
        master_metrics_refused(ctx->metrics, strstr(why, "at byte") ? why : "field", 1);
        return error_json(out, 400, why);
    }
    if (nerr) {
        /* All or nothing: a 200 means every report of the request is stored. */
        pthread_mutex_lock(ctx->lock);
        ctx->stats.reports_refused_total += nerr;
        pthread_mutex_unlock(ctx->lock);
        for (size_t i = 0; i < rs.nwhys; i++)
            master_metrics_refused(ctx->metrics, rs.whys[i], 1);
        out->len = 0;
        master_json_printf(out,
                           "{\"error\":\"%zu of %zu reports refused; none stored\","
                           "\"refused\":[",
                           nerr, nerr + rs.n);
        bl_buf_put(out, errs.data, errs.len);
        master_json_printf(out, "]}\n");
        bl_buf_close(&errs);
        master_reports_free(&rs);
        return 422;
    }
    bl_buf_close(&errs);
    size_t listed = 0, extended = 0, grace = 0;
    pthread_mutex_lock(ctx->lock);
    rc = master_store_begin(ctx->store);
    for (size_t i = 0; !rc && i < rs.n; i++) {
        int oc;
        rc = master_policy_report(ctx->store, ctx->policy, &rs.r[i], now, &oc);
        listed += oc == MASTER_R_LISTED;
        extended += oc == MASTER_R_EXTENDED;
        grace += oc == MASTER_R_GRACE;
    }
    if (!rc)
        rc = master_store_commit(ctx->store);
    else
        master_store_rollback(ctx->store);
    if (rc) {
        int st = store_fail(ctx, out, rc);
        pthread_mutex_unlock(ctx->lock);
        master_reports_free(&rs);
        return st;
    }
    ctx->stats.reports_accepted_total += rs.n;
    for (size_t i = 0; i < rs.n; i++)
        master_metrics_reports(ctx->metrics, rs.r[i].source, 1);
    ctx->stats.listings_added_total += listed;
    if (listed || extended)
        changed(ctx);
    pthread_mutex_unlock(ctx->lock);
    out->len = 0;
    master_json_printf(out,
                       "{\"accepted\":%zu,\"listed\":%zu,\"extended\":%zu,\"in_grace\":%zu,"
                       "\"ids\":[",
                       rs.n, listed, extended, grace);
    /* The ids a challenged report is named by (the review form asks for it). */
    for (size_t i = 0; i < rs.n; i++)
        master_json_printf(out, "%s%lld", i ? "," : "", (long long)rs.r[i].id);
    master_json_printf(out, "]}\n");
    master_reports_free(&rs);
    return 200;
}

/* A time twice, as NAME (RFC 3339) and NAME_unix (seconds); both null for 0. */
static void put_time(bl_buf_t *out, const char *name, int64_t ms)
{
    char t[40];
    if (ms)
        master_json_printf(out, ",\"%s\":\"%s\",\"%s_unix\":%lld", name,
                           master_format_time(ms, t, sizeof t), name, (long long)(ms / 1000));
    else
        master_json_printf(out, ",\"%s\":null,\"%s_unix\":null", name, name);
}

static void put_listing(bl_buf_t *out, const master_listing_t *l)
{
    char pfx[BL_PREFIX_STRLEN], t[40];
    bl_prefix_format(&l->e.key, pfx, sizeof pfx);
    master_json_printf(out, "{\"prefix\":\"%s\",\"kind\":\"%s\",\"a\":%u,\"reason\":%u", pfx,
                       master_kind_name(l->kind), l->e.a, l->e.reason);
    master_json_printf(out, ",\"listed_since\":\"%s\",\"listed_since_unix\":%lld",
                       master_format_time(l->e.listed_at * 1000, t, sizeof t),
                       (long long)l->e.listed_at);
    if (l->e.expires_at >= MASTER_NEVER)
        master_json_printf(out, ",\"expires_at\":null,\"expires_at_unix\":null");
    else
        master_json_printf(out, ",\"expires_at\":\"%s\",\"expires_at_unix\":%lld",
                           master_format_time(l->e.expires_at * 1000, t, sizeof t),
                           (long long)l->e.expires_at);
    master_json_printf(out, "}");
}

static int h_lookup(master_http_ctx_t *ctx, const char *ip, bl_buf_t *out)
{
    bl_prefix_t addr;
    const char *why;
    if (master_policy_target(ctx->policy, ip, 0, &addr, &why))
        return error_json(out, 400, why);
    int64_t now = bl_now_ms();
    master_lookup_t lk;
    pthread_mutex_lock(ctx->lock);
    int rc = master_policy_lookup(ctx->store, ctx->policy, &addr, now, &lk);
    if (rc) {
        int st = store_fail(ctx, out, rc);
        pthread_mutex_unlock(ctx->lock);
        return st;
    }
    pthread_mutex_unlock(ctx->lock);
    char a[BL_PREFIX_STRLEN];
    bl_prefix_format(&addr, a, sizeof a);
    out->len = 0;
    master_json_printf(out, "{\"ip\":\"%s\",\"listed\":%s,\"listing\":", a,
                       lk.listed ? "true" : "false");
    if (lk.listed)
        put_listing(out, &lk.l);
    else
        master_json_printf(out, "null");
    put_time(out, "listed_since", lk.listed ? lk.l.e.listed_at * 1000 : 0);
    master_json_printf(out,
                       ",\"reports_counted\":%" PRIu64 ",\"score\":%g,\"reports_total\":%" PRIu64,
                       lk.reports_counted, lk.score, lk.reports_total);
    put_time(out, "last_report", lk.last_report_ms);
    /* One type for the seconds (a number, or null), the state beside them. */
    if (lk.seconds_to_delist >= 0)
        master_json_printf(out, ",\"seconds_to_delisting\":%lld", (long long)lk.seconds_to_delist);
    else
        master_json_printf(out, ",\"seconds_to_delisting\":null");
    master_json_printf(out, ",\"delisting_state\":\"%s\"",
                       lk.listed ? (lk.seconds_to_delist == -1 ? "until-removed" : "scheduled")
                       : lk.has_delisting ? (lk.propagated ? "delisted" : "propagating")
                                          : "not-listed");
    master_json_printf(out, ",\"delisting\":");
    if (lk.has_delisting && !lk.listed) {
        char t[40];
        master_json_printf(out, "{\"decided_at\":\"%s\",\"decided_at_ms\":%lld,\"cause\":",
                           master_format_time(lk.d.decided_ms, t, sizeof t),
                           (long long)lk.d.decided_ms);
        master_json_put_str(out, lk.d.cause);
        if (lk.published)
            master_json_printf(out, ",\"serial\":%" PRIu64, lk.d.serial);
        else
            master_json_printf(out, ",\"serial\":null");
        master_json_printf(out,
                           ",\"published\":%s,\"propagated\":%s,\"mirrors_acked\":%" PRIu64
                           ",\"mirrors_total\":%" PRIu64 "}",
                           lk.published ? "true" : "false", lk.propagated ? "true" : "false",
                           lk.mirrors_acked, lk.mirrors_total);
    } else {
        master_json_printf(out, "null");
    }
    put_time(out, "relisting_blocked_until", lk.grace_until_ms);
    master_json_printf(out, "}\n");
    return 200;
}

static const char *json_str(const master_json_t *o, const char *k)
{
    const master_json_t *v = master_json_get(o, k);
    return v && v->type == MASTER_JSON_STR ? v->str : NULL;
}

static int h_list_add(master_http_ctx_t *ctx, const uint8_t *body, size_t len, bl_buf_t *out)
{
    master_json_doc_t doc;
    char why[160];
    if (master_json_parse(body, len, NULL, &doc, why, sizeof why))
        return error_json(out, 400, why);
    const master_json_t *o = doc.root;
    const char *bad = NULL;
    bl_prefix_t key;
    int kind = MASTER_KIND_MANUAL, a = 0, reason = -1;
    int64_t dur = -1;
    const char *prefix = NULL, *comment = NULL, *actor = "api";
    if (o->type != MASTER_JSON_OBJ) {
        bad = "body must be a JSON object";
        goto done;
    }
    for (const master_json_t *m = o->child; m && !bad; m = m->next) {
        if (!strcmp(m->key, "prefix") || !strcmp(m->key, "kind") || !strcmp(m->key, "comment") ||
            !strcmp(m->key, "actor")) {
            if (m->type != MASTER_JSON_STR)
                bad = "prefix, kind, comment and actor must be strings";
        } else if (!strcmp(m->key, "a") || !strcmp(m->key, "reason") ||
                   !strcmp(m->key, "duration")) {
            if (m->type != MASTER_JSON_NUM || m->num != floor(m->num) || m->num < 0 ||
                m->num > 1e10)
                bad = "a, reason and duration must be non-negative integers";
        } else {
            bad = "unknown field (allowed: prefix, kind, a, reason, duration, comment, actor)";
        }
    }
    if (bad)
        goto done;
    if (!(prefix = json_str(o, "prefix"))) {
        bad = "missing field: prefix";
        goto done;
    }
    if (json_str(o, "kind") && (kind = master_kind_parse(json_str(o, "kind"))) < 0) {
        bad = "unknown kind: use \"policy\", \"manual\" or \"import\"";
        goto done;
    }
    const master_json_t *v;
    if ((v = master_json_get(o, "a")))
        a = v->num < 1 ? 1 : (int)v->num > 255 ? 256 : (int)v->num;
    if ((v = master_json_get(o, "reason")))
        reason = v->num > 65535 ? 65536 : (int)v->num;
    if ((v = master_json_get(o, "duration")))
        dur = (int64_t)v->num * 1000;
    comment = json_str(o, "comment");
    if (json_str(o, "actor"))
        actor = json_str(o, "actor");
    if (master_policy_target(ctx->policy, prefix, 1, &key, &bad))
        goto done;
    int64_t now = bl_now_ms();
    pthread_mutex_lock(ctx->lock);
    int rc = master_store_begin(ctx->store);
    if (!rc) {
        rc = master_policy_add(ctx->store, ctx->policy, &key, kind, a, reason, dur, actor, comment,
                               now, &bad);
        rc = rc ? (master_store_rollback(ctx->store), rc) : master_store_commit(ctx->store);
    }
    if (rc && !bad) {
        int st = store_fail(ctx, out, rc);
        pthread_mutex_unlock(ctx->lock);
        master_json_free(&doc);
        return st;
    }
    if (!rc) {
        ctx->stats.operator_actions_total++;
        changed(ctx);
    }
    master_listing_t l;
    int grc = rc ? rc : master_store_listing_get(ctx->store, &key, &l);
    pthread_mutex_unlock(ctx->lock);
    if (!grc) {
        out->len = 0;
        master_json_printf(out, "{\"listed\":");
        put_listing(out, &l);
        master_json_printf(out, "}\n");
        master_json_free(&doc);
        return 201;
    }
done:
    master_json_free(&doc);
    return error_json(out, bad ? 422 : 500, bad ? bad : "listing vanished");
}

/* An optional JSON object body: 0 (doc parsed when len), else the 400 answer. */
static int optional_body(const uint8_t *body, size_t len, master_json_doc_t *doc, bl_buf_t *out)
{
    char why[160];
    if (!len)
        return 0;
    if (master_json_parse(body, len, NULL, doc, why, sizeof why))
        return error_json(out, 400, why);
    if (doc->root->type != MASTER_JSON_OBJ) {
        master_json_free(doc);
        return error_json(out, 400, "body must be a JSON object");
    }
    return 0;
}

static int h_list_del(master_http_ctx_t *ctx, const char *prefix, const char *query,
                      const uint8_t *body, size_t len, bl_buf_t *out)
{
    char rbuf[64], cbuf[512], abuf[128];
    const char *reason = query_get(query, "reason", rbuf, sizeof rbuf);
    const char *comment = query_get(query, "comment", cbuf, sizeof cbuf);
    const char *actor = query_get(query, "actor", abuf, sizeof abuf);
    master_json_doc_t doc = {0};
    int bst = optional_body(body, len, &doc, out);
    if (bst)
        return bst;
    if (len) {
        if (json_str(doc.root, "reason"))
            reason = json_str(doc.root, "reason");
        if (json_str(doc.root, "comment"))
            comment = json_str(doc.root, "comment");
        if (json_str(doc.root, "actor"))
            actor = json_str(doc.root, "actor");
    }
    int st;
    bl_prefix_t key;
    const char *why;
    if (!reason) {
        st = error_json(out, 422, "a removal needs a reason: technical-error or user-error");
        goto out;
    }
    if (!master_policy_removal_reason_ok(reason)) {
        st = error_json(out, 422, "unknown removal reason: use technical-error or user-error");
        goto out;
    }
    /* Any well-formed prefix may be removed, listable or not: a listing
     * made before a rule existed (0.0.0.0, an IPv4-mapped key) must go too.
     * The key as written is tried first, then the key the rules map it to. */
    bl_prefix_t mapped;
    int prc = bl_prefix_parse(prefix, &key);
    if (prc) {
        st = error_json(out, 400,
                        prc == BL_EHOSTBITS ? "prefix has host bits set beyond its length (use "
                                              "the network address)"
                                            : "malformed IP address or CIDR prefix");
        goto out;
    }
    int has_mapped = bl_addr_check(prefix, BL_ADDR_PREFIX, 0, 0, &mapped, &why) == 0 &&
                     !bl_prefix_eq(&mapped, &key);
    int64_t now = bl_now_ms();
    pthread_mutex_lock(ctx->lock);
    int rc = master_store_begin(ctx->store);
    if (!rc) {
        rc = master_policy_remove(ctx->store, ctx->policy, &key, reason, actor ? actor : "api",
                                  comment, now);
        if (rc == BL_ENOTFOUND && has_mapped) {
            key = mapped;
            rc = master_policy_remove(ctx->store, ctx->policy, &key, reason, actor ? actor : "api",
                                      comment, now);
        }
        rc = rc ? (master_store_rollback(ctx->store), rc) : master_store_commit(ctx->store);
    }
    if (rc == BL_ENOTFOUND) {
        pthread_mutex_unlock(ctx->lock);
        st = error_json(out, 404, "not listed (an operator removes exact listed prefixes)");
        goto out;
    }
    if (rc) {
        st = store_fail(ctx, out, rc);
        pthread_mutex_unlock(ctx->lock);
        goto out;
    }
    ctx->stats.operator_actions_total++;
    master_metrics_delisted(ctx->metrics, "operator", 1);
    changed(ctx);
    pthread_mutex_unlock(ctx->lock);
    char p[BL_PREFIX_STRLEN], t[40];
    out->len = 0;
    master_json_printf(
        out,
        "{\"prefix\":\"%s\",\"removed\":true,\"reason\":\"%s\",\"decided_at\":\"%s\","
        "\"decided_at_ms\":%lld,\"relisting_blocked_until\":",
        bl_prefix_format(&key, p, sizeof p), reason, master_format_time(now, t, sizeof t),
        (long long)now);
    master_json_printf(out, "\"%s\"}\n",
                       master_format_time(now + ctx->policy->relist_grace_ms, t, sizeof t));
    st = 200;
out:
    master_json_free(&doc);
    return st;
}

typedef struct {
    bl_buf_t *out;
    size_t n, limit;
    bl_prefix_t last;
} list_ctx_t;

static int list_one(void *arg, const master_listing_t *l)
{
    list_ctx_t *c = arg;
    if (c->n == c->limit)
        return 1;
    if (c->n)
        bl_buf_u8(c->out, ',');
    put_listing(c->out, l);
    c->last = l->e.key;
    c->n++;
    return 0;
}

static int h_list_get(master_http_ctx_t *ctx, const char *query, bl_buf_t *out)
{
    char abuf[64], lbuf[16];
    const char *after = query_get(query, "after", abuf, sizeof abuf);
    const char *lim = query_get(query, "limit", lbuf, sizeof lbuf);
    bl_prefix_t ak;
    if (after && bl_prefix_parse(after, &ak))
        return error_json(out, 400, "after: malformed prefix");
    long limit = query_limit(lim);
    if (!limit)
        return error_json(out, 400, "limit must be between 1 and 10000");
    out->len = 0;
    master_json_printf(out, "{\"listings\":[");
    list_ctx_t c = {.out = out, .limit = (size_t)limit};
    pthread_mutex_lock(ctx->lock);
    int rc = master_store_listing_each(ctx->store, after ? &ak : NULL, list_one, &c);
    pthread_mutex_unlock(ctx->lock);
    if (rc < 0)
        return store_fail(ctx, out, rc);
    char p[BL_PREFIX_STRLEN];
    if (rc == 1)
        master_json_printf(out, "],\"next\":\"%s\"}\n", bl_prefix_format(&c.last, p, sizeof p));
    else
        master_json_printf(out, "],\"next\":null}\n");
    return 200;
}

typedef struct {
    master_http_ctx_t *ctx;
    bl_buf_t *out;
    int64_t now, active_ms;
    uint64_t last, min;
    int n;
} status_ctx_t;

/* A mirror's state: revoked (its certificate name is on [sync] revoked),
 * up (sync session up), stale (no session, heard from within
 * mirror_active: still counts for the window), gone (silent longer:
 * reported, no longer counted). */
static const char *mirror_state(master_http_ctx_t *ctx, const char *name, int up, int active)
{
    if (ctx->mirror_revoked && ctx->mirror_revoked(ctx->mirror_up_arg, name))
        return "revoked";
    return up ? "up" : active ? "stale" : "gone";
}

/* One mirror of /v1/status and /v1/mirrors. */
static void status_mirror(void *arg, const char *name, uint64_t acked, int64_t last_ms)
{
    status_ctx_t *c = arg;
    int sessions = c->ctx->mirror_up ? c->ctx->mirror_up(c->ctx->mirror_up_arg, name) : 0;
    int up = sessions > 0;
    int active = up || last_ms >= c->now - c->active_ms;
    if (active && acked < c->min)
        c->min = acked;
    int64_t t = acked < c->last ? master_store_serial_time(c->ctx->store, acked + 1) : 0;
    double lag_s = t && c->now > t ? (c->now - t) / 1000.0 : 0;
    char tb[40];
    if (c->n++)
        bl_buf_u8(c->out, ',');
    master_json_printf(c->out, "{\"name\":");
    master_json_put_str(c->out, name);
    master_json_printf(c->out,
                       ",\"state\":\"%s\",\"connected\":%s,\"acked_serial\":%" PRIu64
                       ",\"lag_serials\":%" PRIu64 ",\"lag_s\":%.3f"
                       ",\"last_contact\":\"%s\",\"last_contact_unix\":%lld"
                       ",\"contact_age_s\":%.3f,\"active\":%s,\"sessions\":%d",
                       mirror_state(c->ctx, name, up, active), up ? "true" : "false", acked,
                       acked < c->last ? c->last - acked : 0, lag_s,
                       master_format_time(last_ms, tb, sizeof tb), (long long)(last_ms / 1000),
                       c->now > last_ms ? (c->now - last_ms) / 1000.0 : 0.0,
                       active ? "true" : "false", sessions);
    /* The key that signed what it holds: a key rotation is done when every
     * active mirror shows the new one. */
    char key[17];
    if (c->ctx->mirror_key && c->ctx->mirror_key(c->ctx->mirror_up_arg, name, key))
        master_json_printf(c->out, ",\"key_id\":\"%s\"", key);
    else
        master_json_printf(c->out, ",\"key_id\":null");
    /* Each session's own serial: one certificate on two hosts shows as two rows. */
    master_http_session_t ss[8];
    int ns =
        c->ctx->mirror_sessions ? c->ctx->mirror_sessions(c->ctx->mirror_up_arg, name, ss, 8) : 0;
    master_json_printf(c->out, ",\"session_list\":[");
    for (int i = 0; i < ns && i < 8; i++) {
        master_json_printf(c->out, "%s{\"sid\":%" PRIu64 ",\"addr\":", i ? "," : "", ss[i].sid);
        master_json_put_str(c->out, ss[i].addr);
        master_json_printf(c->out, ",\"acked_serial\":%" PRIu64 "}", ss[i].acked);
    }
    master_json_printf(c->out, "]}");
}

static int h_status(master_http_ctx_t *ctx, const master_http_ctx_t *first, bl_buf_t *out)
{
    pthread_mutex_lock(ctx->lock);
    uint64_t serial = 0;
    uint8_t dg[BL_DIGEST_SIZE];
    int rc = master_store_load_meta(ctx->store);
    if (!rc)
        rc = master_store_last_serial(ctx->store, &serial, dg);
    if (rc) {
        int st = store_fail(ctx, out, rc);
        pthread_mutex_unlock(ctx->lock);
        return st;
    }
    char hex[65];
    out->len = 0;
    master_json_printf(out,
                       "{\"feed\":\"%s\",\"serial\":%" PRIu64 ",\"entries\":%" PRIu64
                       ",\"pending\":%" PRIu64 ",\"digest\":\"%s\"",
                       master_store_feed(ctx->store), serial, master_store_count(ctx->store),
                       master_store_pending_count(ctx->store),
                       bl_digest_hex(master_store_digest(ctx->store), hex));
    master_json_printf(out, ",\"feeds\":[");
    for (const master_http_ctx_t *f = first; f; f = f->next_feed)
        master_json_printf(out, "%s\"%s\"", f == first ? "" : ",", master_store_feed(f->store));
    master_json_printf(out, "]");
    master_json_printf(out,
                       ",\"reports_accepted_total\":%" PRIu64 ",\"reports_refused_total\":%" PRIu64
                       ",\"operator_actions_total\":%" PRIu64,
                       ctx->stats.reports_accepted_total, ctx->stats.reports_refused_total,
                       ctx->stats.operator_actions_total);
    if (ctx->pub) {
        const master_pub_stats_t *ps = master_publisher_stats(ctx->pub);
        master_json_printf(out,
                           ",\"publisher\":{\"deltas_total\":%" PRIu64
                           ",\"snapshots_total\":%" PRIu64 ",\"failures_total\":%" PRIu64
                           ",\"last_error\":\"%s\""
                           ",\"last_duration_ms\":%.3f,\"last_changes\":%" PRIu64 "}",
                           ps->deltas_total, ps->snapshots_total, ps->failures_total,
                           ps->last_error ? bl_errname(ps->last_error) : "",
                           ps->last_duration_ns / 1e6, ps->last_changes);
    }
    /* Mirrors and the oldest delisting still propagating (for blsyncctl status). */
    int64_t now = bl_now_ms();
    status_ctx_t sc = {.ctx = ctx,
                       .out = out,
                       .now = now,
                       .active_ms = ctx->policy->mirror_active_ms,
                       .last = serial,
                       .min = serial};
    master_json_printf(out, ",\"mirrors\":[");
    master_store_mirrors(ctx->store, status_mirror, &sc);
    uint64_t n = 0;
    int64_t oldest = 0;
    master_store_delistings_after(ctx->store, sc.min, &n, &oldest, NULL);
    char t[40];
    master_json_printf(
        out, "],\"mirror_active_s\":%.3f,\"window_s\":%.3f,\"delistings_propagating\":%" PRIu64,
        ctx->policy->mirror_active_ms / 1000.0, ctx->window_ms / 1000.0, n);
    if (n)
        master_json_printf(out,
                           ",\"oldest_propagating\":{\"decided_at\":\"%s\",\"decided_at_unix\":%lld"
                           ",\"age_s\":%.3f}",
                           master_format_time(oldest, t, sizeof t), (long long)(oldest / 1000),
                           now > oldest ? (now - oldest) / 1000.0 : 0.0);
    else
        master_json_printf(out, ",\"oldest_propagating\":null");
    pthread_mutex_unlock(ctx->lock);
    master_json_printf(out, "}\n");
    return 200;
}

/* GET /v1/mirrors: every mirror the master knows, as in /v1/status. */
static int h_mirrors(master_http_ctx_t *ctx, bl_buf_t *out)
{
    pthread_mutex_lock(ctx->lock);
    uint64_t serial = 0;
    uint8_t dg[BL_DIGEST_SIZE];
    int rc = master_store_last_serial(ctx->store, &serial, dg);
    status_ctx_t sc = {.ctx = ctx,
                       .out = out,
                       .now = bl_now_ms(),
                       .active_ms = ctx->policy->mirror_active_ms,
                       .last = serial,
                       .min = serial};
    out->len = 0;
    master_json_printf(out, "{\"serial\":%" PRIu64 ",\"mirror_active_s\":%.3f,\"mirrors\":[",
                       serial, ctx->policy->mirror_active_ms / 1000.0);
    if (!rc)
        rc = master_store_mirrors(ctx->store, status_mirror, &sc);
    if (rc) {
        int st = store_fail(ctx, out, rc);
        pthread_mutex_unlock(ctx->lock);
        return st;
    }
    pthread_mutex_unlock(ctx->lock);
    master_json_printf(out, "]}\n");
    return 200;
}

typedef struct {
    const char *name;
    int found;
    uint64_t acked;
    int64_t last_ms;
} mirror_find_t;

static void mirror_find(void *arg, const char *name, uint64_t acked, int64_t last_ms)
{
    mirror_find_t *f = arg;
    if (!strcmp(name, f->name)) {
        f->found = 1;
        f->acked = acked;
        f->last_ms = last_ms;
    }
}

/* DELETE /v1/mirrors/NAME: a retired or revoked mirror leaves status,
 * metrics and alerts; audited. A connected mirror is refused (409). */
static int h_mirror_forget(master_http_ctx_t *ctx, const char *name, const uint8_t *body,
                           size_t len, bl_buf_t *out)
{
    master_json_doc_t doc = {0};
    const char *actor = "api", *comment = NULL;
    int bst = optional_body(body, len, &doc, out);
    if (bst)
        return bst;
    if (len) {
        if (json_str(doc.root, "actor") && *json_str(doc.root, "actor"))
            actor = json_str(doc.root, "actor");
        comment = json_str(doc.root, "comment");
    }
    int64_t now = bl_now_ms();
    int st = 200;
    char why[320], tb[40], detail[160];
    pthread_mutex_lock(ctx->lock);
    mirror_find_t f = {.name = name};
    int rc = master_store_mirrors(ctx->store, mirror_find, &f);
    int sessions = ctx->mirror_up ? ctx->mirror_up(ctx->mirror_up_arg, name) : 0;
    int active = sessions > 0 || f.last_ms >= now - ctx->policy->mirror_active_ms;
    const char *state = mirror_state(ctx, name, sessions > 0, active);
    if (!rc && !f.found) {
        snprintf(why, sizeof why,
                 "the master knows no mirror named '%.64s' (blsyncctl mirrors lists them)", name);
        st = error_json(out, 404, why);
    } else if (!rc && sessions) {
        snprintf(why, sizeof why,
                 "mirror '%.64s' is connected (%d session%s): stop it, or revoke its certificate "
                 "([sync] revoked, then reload the master), then forget it",
                 name, sessions, sessions > 1 ? "s" : "");
        st = error_json(out, 409, why);
    } else if (!rc) {
        snprintf(detail, sizeof detail, "state=%s acked_serial=%" PRIu64 " last_contact=%s", state,
                 f.acked, master_format_time(f.last_ms, tb, sizeof tb));
        rc = master_store_begin(ctx->store);
        if (!rc && !(rc = master_store_mirror_forget(ctx->store, name)))
            rc = master_store_audit(ctx->store, now, actor, "mirror-forget", name, comment, detail);
        if (!rc)
            rc = master_store_commit(ctx->store);
        else
            master_store_rollback(ctx->store);
        if (!rc && ctx->mirror_forget)
            ctx->mirror_forget(ctx->mirror_up_arg, name);
        if (!rc)
            ctx->stats.operator_actions_total++;
    }
    if (rc)
        st = store_fail(ctx, out, rc);
    pthread_mutex_unlock(ctx->lock);
    if (st == 200) {
        out->len = 0;
        master_json_printf(out, "{\"forgotten\":");
        master_json_put_str(out, name);
        master_json_printf(out,
                           ",\"state\":\"%s\",\"acked_serial\":%" PRIu64
                           ",\"last_contact\":\"%s\",\"last_contact_unix\":%lld}\n",
                           state, f.acked, master_format_time(f.last_ms, tb, sizeof tb),
                           (long long)(f.last_ms / 1000));
    }
    master_json_free(&doc);
    return st;
}

/* ---- the audit log (blsyncctl audit) ---- */

/* Entries read under one hold of the lock: a search through a long log
 * (--ip) lets reports and acknowledgements in between. */
#define AUDIT_CHUNK 4096

typedef struct {
    bl_buf_t *out;
    const bl_prefix_t *ip; /* NULL: every entry */
    size_t n, limit;
    int64_t last_id;         /* the last entry answered */
    int64_t scanned, low_id; /* entries read in this chunk, the last one's id */
} audit_ctx_t;

/* Whether an audit entry concerns addr: a listing or removal of a prefix
 * that covers it, or a review request about it ("ip=ADDR" in the detail, or
 * the detail the address itself). */
static int audit_about(const master_audit_t *e, const bl_prefix_t *addr)
{
    bl_prefix_t p;
    if (e->target && !bl_prefix_parse_loose(e->target, &p) && bl_prefix_contains(&p, addr))
        return 1;
    const char *d = e->detail;
    if (!d)
        return 0;
    char a[BL_PREFIX_STRLEN];
    bl_addr_format(addr, a, sizeof a);
    if (!strcmp(d, a))
        return 1;
    size_t al = strlen(a);
    for (const char *q = strstr(d, "ip="); q; q = strstr(q + 1, "ip="))
        if ((q == d || q[-1] == ' ') && !strncmp(q + 3, a, al) && (q[3 + al] == ' ' || !q[3 + al]))
            return 1;
    return 0;
}

static void put_str_or_null(bl_buf_t *out, const char *name, const char *v)
{
    master_json_printf(out, ",\"%s\":", name);
    if (v)
        master_json_put_str(out, v);
    else
        master_json_printf(out, "null");
}

static int audit_one(void *arg, const master_audit_t *e)
{
    audit_ctx_t *c = arg;
    if (c->n == c->limit)
        return 1;
    c->scanned++;
    c->low_id = e->id;
    if (c->ip && !audit_about(e, c->ip))
        return 0;
    char t[40];
    master_json_printf(c->out, "%s{\"id\":%lld,\"time\":\"%s\",\"time_unix\":%lld", c->n ? "," : "",
                       (long long)e->id, master_format_time(e->t_ms, t, sizeof t),
                       (long long)(e->t_ms / 1000));
    put_str_or_null(c->out, "actor", e->actor);
    put_str_or_null(c->out, "action", e->action);
    put_str_or_null(c->out, "target", e->target);
    put_str_or_null(c->out, "reason", e->reason);
    put_str_or_null(c->out, "detail", e->detail);
    master_json_printf(c->out, "}");
    c->last_id = e->id;
    c->n++;
    return 0;
}

/* GET /v1/audit?since=TIME&ip=ADDR&limit=N&before=ID: newest first. */
static int h_audit(master_http_ctx_t *ctx, const char *query, bl_buf_t *out)
{
    char sbuf[64], ibuf[64], lbuf[16], bbuf[24];
    const char *since = query_get(query, "since", sbuf, sizeof sbuf);
    const char *ip = query_get(query, "ip", ibuf, sizeof ibuf);
    const char *lim = query_get(query, "limit", lbuf, sizeof lbuf);
    const char *before = query_get(query, "before", bbuf, sizeof bbuf);
    int64_t since_ms = 0, before_id = 0;
    uint64_t v;
    if (since && master_parse_time(since, &since_ms)) {
        if (bl_cfg_uint(since, 0, INT64_MAX / 1000, &v, NULL))
            return error_json(out, 400,
                              "since: RFC 3339 UTC (2026-01-02T03:04:05Z) or Unix seconds");
        since_ms = (int64_t)v * 1000;
    }
    if (before && bl_cfg_uint(before, 1, INT64_MAX, &v, NULL))
        return error_json(out, 400, "before: an entry id (a positive number)");
    if (before)
        before_id = (int64_t)v;
    bl_prefix_t addr;
    if (ip && (bl_prefix_parse(ip, &addr) || addr.len != bl_prefix_maxlen(&addr)))
        return error_json(out, 400, "ip: an IPv4 or IPv6 address (not a prefix)");
    long limit = query_limit(lim);
    if (!limit)
        return error_json(out, 400, "limit must be between 1 and 10000");
    out->len = 0;
    master_json_printf(out, "{\"entries\":[");
    audit_ctx_t c = {.out = out, .ip = ip ? &addr : NULL, .limit = (size_t)limit};
    int rc;
    do {
        c.scanned = 0;
        pthread_mutex_lock(ctx->lock);
        rc = master_store_audit_each(ctx->store, since_ms, before_id, AUDIT_CHUNK, audit_one, &c);
        pthread_mutex_unlock(ctx->lock);
        before_id = c.low_id;
    } while (!rc && c.scanned == AUDIT_CHUNK);
    if (rc < 0)
        return store_fail(ctx, out, rc);
    if (rc == 1)
        master_json_printf(out, "],\"next\":%lld}\n", (long long)c.last_id);
    else
        master_json_printf(out, "],\"next\":null}\n");
    return 200;
}

/* ---- review requests (blsyncctl reviews) ---- */

static int review_one(void *arg, const master_review_t *r)
{
    bl_buf_t *out = arg;
    if (out->data[out->len - 1] != '[')
        bl_buf_u8(out, ',');
    master_review_json(out, r, 1);
    return 0;
}

static int h_reviews_list(master_http_ctx_t *ctx, const char *query, bl_buf_t *out)
{
    char sbuf[40], lbuf[16];
    const char *state = query_get(query, "state", sbuf, sizeof sbuf);
    const char *lim = query_get(query, "limit", lbuf, sizeof lbuf);
    int want = -1;
    if (state && !strcmp(state, "all"))
        want = -2;
    else if (state && strcmp(state, "open")) {
        for (want = 0; want < MASTER_REVIEW_STATES; want++)
            if (!strcmp(state, master_review_state_name(want)))
                break;
        if (want == MASTER_REVIEW_STATES)
            return error_json(out, 400,
                              "state: use open, all, new, waiting-for-information, accepted, "
                              "rejected or answered-with-policy");
    }
    long limit = query_limit(lim);
    if (!limit)
        return error_json(out, 400, "limit must be between 1 and 10000");
    out->len = 0;
    master_json_printf(out, "{\"reviews\":[");
    pthread_mutex_lock(ctx->lock);
    int rc = master_review_each(ctx->store, want, (size_t)limit, review_one, out);
    pthread_mutex_unlock(ctx->lock);
    if (rc)
        return store_fail(ctx, out, rc);
    master_json_printf(out, "]}\n");
    return 200;
}

static int h_review_get(master_http_ctx_t *ctx, const char *ids, bl_buf_t *out)
{
    int64_t id;
    if (master_id_parse(ids, &id))
        return error_json(out, 400, "a review id is a positive number");
    master_review_t r;
    pthread_mutex_lock(ctx->lock);
    int rc = master_review_get(ctx->store, id, NULL, &r);
    pthread_mutex_unlock(ctx->lock);
    if (rc == BL_ENOTFOUND)
        return error_json(out, 404, "no such review request");
    if (rc)
        return store_fail(ctx, out, rc);
    out->len = 0;
    master_json_printf(out, "{\"review\":");
    master_review_json(out, &r, 1);
    master_json_printf(out, "}\n");
    master_review_clear(&r);
    return 200;
}

static int h_review_act(master_http_ctx_t *ctx, const char *ids, const uint8_t *body, size_t len,
                        bl_buf_t *out)
{
    int64_t id;
    if (master_id_parse(ids, &id))
        return error_json(out, 400, "a review id is a positive number");
    master_json_doc_t doc;
    char jwhy[160];
    if (master_json_parse(body, len, NULL, &doc, jwhy, sizeof jwhy))
        return error_json(out, 400, jwhy);
    if (doc.root->type != MASTER_JSON_OBJ) {
        master_json_free(&doc);
        return error_json(out, 400, "body must be a JSON object");
    }
    const char *action = json_str(doc.root, "action"), *note = json_str(doc.root, "note");
    const char *actor = json_str(doc.root, "actor");
    if (!actor || !*actor || strlen(actor) > 64)
        actor = "api";
    const char *why = NULL, *effect = NULL;
    int changed_ = 0;
    int64_t now = bl_now_ms();
    pthread_mutex_lock(ctx->lock);
    int rc = master_store_begin(ctx->store);
    if (!rc) {
        rc = master_review_act(ctx->store, ctx->policy, id, action ? action : "", actor, note, now,
                               &effect, &changed_, &why);
        rc = rc ? (master_store_rollback(ctx->store), rc) : master_store_commit(ctx->store);
    }
    if (!rc) {
        ctx->stats.operator_actions_total++;
        if (changed_) {
            if (action && !strcmp(action, "accept"))
                master_metrics_delisted(ctx->metrics, "operator", 1);
            changed(ctx);
        }
    }
    pthread_mutex_unlock(ctx->lock);
    int st;
    if (rc == BL_ENOTFOUND)
        st = error_json(out, 404, why ? why : "no such review request");
    else if (rc == BL_ESTATE)
        st = error_json(out, 409, why);
    else if (rc && why)
        st = error_json(out, 422, why);
    else if (rc)
        st = store_fail(ctx, out, rc);
    else {
        st = h_review_get(ctx, ids, out);
        if (st == 200) {
            out->len -= 2; /* "}\n" */
            master_json_printf(out, ",\"effect\":");
            master_json_put_str(out, effect);
            master_json_printf(out, "}\n");
        }
    }
    master_json_free(&doc);
    return st;
}

/* master_http_handle(), and in *allow the methods of a 405 (else NULL). */
static int handle(master_http_ctx_t *ctx, const char *method, const char *url, const char *auth,
                  const uint8_t *body, size_t len, bl_buf_t *out, const char **allow)
{
    *allow = NULL;
    char path[512];
    const char *q = strchr(url, '?');
    size_t pl = q ? (size_t)(q - url) : strlen(url);
    if (pl >= sizeof path)
        return error_json(out, 414, "URL too long");
    memcpy(path, url, pl);
    path[pl] = 0;
    const char *query = q ? q + 1 : "";
    master_http_ctx_t *first = ctx;
    int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    int post = !strcmp(method, "POST"), del = !strcmp(method, "DELETE");
    int st = request_auth(ctx, method, path, auth, out);
    if (st)
        return st;
    /* query_get() decodes into C strings, which a NUL byte would cut short. */
    if (strstr(query, "%00"))
        return error_json(out, 400, "a query value holds a NUL byte (%00)");
    /* After the token: a client without one learns no feed's name. */
    char feed[BL_FEED_MAX + 2];
    if (query_get(query, "feed", feed, sizeof feed)) {
        master_http_ctx_t *f = ctx;
        while (f && strcmp(master_store_feed(f->store), feed))
            f = f->next_feed;
        if (!f) {
            char why[BL_FEED_MAX + 40];
            snprintf(why, sizeof why, "no feed named '%.*s' here", BL_FEED_MAX, feed);
            return error_json(out, 404, why);
        }
        ctx = f;
    }
    if (!strcmp(path, "/v1/reports")) {
        if (!post)
            return not_allowed(out, allow, "POST");
        return h_reports(ctx, body, len, out);
    }
    if (!strncmp(path, "/v1/lookup/", 11)) {
        if (!get)
            return not_allowed(out, allow, "GET");
        return h_lookup(ctx, path + 11, out);
    }
    if (!strcmp(path, "/v1/listings")) {
        if (get)
            return h_list_get(ctx, query, out);
        if (!post)
            return not_allowed(out, allow, "GET or POST");
        return h_list_add(ctx, body, len, out);
    }
    if (!strncmp(path, "/v1/listings/", 13)) {
        if (!del)
            return not_allowed(out, allow, "DELETE");
        return h_list_del(ctx, path + 13, query, body, len, out);
    }
    if (!strcmp(path, "/v1/status")) {
        if (!get)
            return not_allowed(out, allow, "GET");
        return h_status(ctx, first, out);
    }
    if (!strcmp(path, "/v1/mirrors")) {
        if (!get)
            return not_allowed(out, allow, "GET");
        return h_mirrors(ctx, out);
    }
    if (!strncmp(path, "/v1/mirrors/", 12)) {
        if (!del)
            return not_allowed(out, allow, "DELETE");
        return h_mirror_forget(ctx, path + 12, body, len, out);
    }
    if (!strcmp(path, "/v1/audit")) {
        if (!get)
            return not_allowed(out, allow, "GET");
        return h_audit(ctx, query, out);
    }
    if (!strcmp(path, "/v1/reviews")) {
        if (!get)
            return not_allowed(out, allow, "GET");
        return h_reviews_list(ctx, query, out);
    }
    if (!strncmp(path, "/v1/reviews/", 12)) {
        if (get)
            return h_review_get(ctx, path + 12, out);
        if (!post)
            return not_allowed(out, allow, "GET or POST");
        return h_review_act(ctx, path + 12, body, len, out);
    }
    if (!strcmp(path, "/v1/health")) {
        if (!get)
            return not_allowed(out, allow, "GET");
        /* Read without the lock: the store's fault is an atomic, and a health check must
         * answer while a long write holds the lock. */
        const char *why = NULL;
        for (master_http_ctx_t *f = ctx; f && !why; f = f->next_feed)
            why = master_store_fault(f->store);
        out->len = 0;
        if (!why) {
            master_json_printf(out, "{\"ok\":true}\n");
            return 200;
        }
        master_json_printf(out, "{\"ok\":false,\"problem\":");
        master_json_put_str(out, why);
        master_json_printf(out, "}\n");
        return 503;
    }
    return error_json(out, 404, "no such endpoint");
}

int master_http_handle(master_http_ctx_t *ctx, const char *method, const char *url,
                       const char *auth, const uint8_t *body, size_t len, bl_buf_t *out)
{
    const char *allow;
    return handle(ctx, method, url, auth, body, len, out, &allow);
}

/* ---- libmicrohttpd glue ---- */

struct master_http {
    bl_http_guard_t *g;
    master_http_ctx_t *ctx;
};

typedef struct {
    bl_http_req_t h; /* first: bl_http_req_completed frees the whole */
    int started;     /* its header was handled (on_request's first call) */
} req_t;

/* Appends n bytes of s percent-encoded: a NUL byte becomes %00. */
static void put_encoded(bl_buf_t *q, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; p < (const unsigned char *)s + n; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_') {
            bl_buf_u8(q, *p);
        } else {
            bl_buf_u8(q, '%');
            bl_buf_u8(q, (uint8_t)hex[*p >> 4]);
            bl_buf_u8(q, (uint8_t)hex[*p & 15]);
        }
    }
}

/* Appends key=value to a query string, both percent-encoded whole (with
 * their lengths): a NUL byte in either becomes %00, which
 * master_http_handle() refuses. */
static enum MHD_Result append_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                  size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    bl_buf_t *q = cls;
    if (q->len)
        bl_buf_u8(q, '&');
    put_encoded(q, key, key_size);
    bl_buf_u8(q, '=');
    if (value)
        put_encoded(q, value, value_size);
    return MHD_YES;
}

/* The answer; allow: the Allow header of a 405 (NULL: none). */
static enum MHD_Result send_buf(struct MHD_Connection *conn, int status, bl_buf_t *b,
                                const char *allow)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(b->len, b->data, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/json");
    if (allow)
        MHD_add_response_header(r, "Allow", allow);
    /* Nothing was done (the store cannot be written, or memory ran out): a
     * client that sends again later loses nothing. */
    if (status == 503)
        MHD_add_response_header(r, "Retry-After", "5");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static void count_request(master_http_ctx_t *ctx, int status)
{
    pthread_mutex_lock(ctx->lock);
    ctx->stats.requests_total++;
    if (status >= 400 && status < 500)
        ctx->stats.requests_rejected_total++;
    pthread_mutex_unlock(ctx->lock);
}

static int too_large(master_http_t *h, const char *url, bl_buf_t *out)
{
    char why[96];
    snprintf(why, sizeof why, "request body larger than %zu bytes", h->ctx->max_body);
    if (!strcmp(url, "/v1/reports"))
        master_metrics_refused(h->ctx->metrics, why, 1);
    return error_json(out, 413, why);
}

/* The first call, with the headers only: a request that needs a token and
 * has none, that declares a body over max_body, or that no endpoint takes
 * a body for, is answered now, before a byte of its body is read
 * (libmicrohttpd then closes the connection). Only a request with the
 * token ever has its body read. */
static enum MHD_Result on_headers(master_http_t *h, struct MHD_Connection *conn, const char *url,
                                  const char *method, req_t *rq)
{
    rq->h.ignore_body = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    bl_buf_t out;
    const char *allow = NULL;
    bl_buf_init(&out);
    const char *auth =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    int status = request_auth(h->ctx, method, url, auth, &out);
    uint64_t declared;
    if (status) {
        bl_http_guard_refused(h->g, BL_HTTP_REFUSED_AUTH, "");
    } else if (rq->h.nul_path) {
        status = error_json(&out, 400, "the path holds a NUL byte (%00)");
    } else if (!rq->h.ignore_body && !state_changing(method, url)) {
        /* Only state changes take a body: any other method gets its 404 or 405 now. */
        status = handle(h->ctx, method, url, auth, NULL, 0, &out, &allow);
    } else if (!rq->h.ignore_body && bl_http_content_length(conn, &declared) == 0 &&
               declared > h->ctx->max_body) {
        status = too_large(h, url, &out);
        char detail[64];
        snprintf(detail, sizeof detail, "declared=%llu", (unsigned long long)declared);
        bl_http_guard_refused(h->g, BL_HTTP_REFUSED_TOO_LARGE, detail);
    }
    enum MHD_Result ret = MHD_YES;
    if (status) {
        rq->h.answered = 1;
        count_request(h->ctx, status);
        ret = send_buf(conn, status, &out, allow);
        bl_http_guard_answering(conn);
    }
    bl_buf_close(&out);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    master_http_t *h = cls;
    req_t *rq = *con_cls;
    if (!rq || !rq->started) {
        if (!rq && !(rq = calloc(1, sizeof *rq)))
            return MHD_NO;
        if (!rq->h.nul_path)
            bl_buf_init(&rq->h.body); /* a refused path's request has its body already */
        rq->started = 1;
        *con_cls = rq;
        return on_headers(h, conn, url, method, rq);
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (rq->h.answered || rq->h.ignore_body)
            return MHD_YES;
        if (rq->h.body.len + n > h->ctx->max_body) {
            /* A body without a declared length (chunked) that grows past
             * the limit: the connection ends here, nothing more is read. */
            rq->h.answered = 1;
            bl_http_guard_refused(h->g, BL_HTTP_REFUSED_TOO_LARGE, "declared=none");
            bl_buf_t out;
            bl_buf_init(&out);
            int status = too_large(h, url, &out);
            count_request(h->ctx, status);
            bl_buf_close(&out);
            return MHD_NO;
        }
        bl_buf_put(&rq->h.body, upload_data, n);
        return MHD_YES;
    }
    if (rq->h.answered)
        return MHD_YES;
    bl_buf_t out;
    const char *allow = NULL;
    bl_buf_init(&out);
    int status;
    if (rq->h.body.err) {
        status = error_json(&out, 503, "out of memory");
    } else {
        bl_buf_t full;
        bl_buf_init(&full);
        bl_buf_put(&full, url, strlen(url));
        bl_buf_t q;
        bl_buf_init(&q);
        MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND, append_arg, &q);
        if (q.len) {
            bl_buf_u8(&full, '?');
            bl_buf_put(&full, q.data, q.len);
        }
        bl_buf_u8(&full, 0);
        bl_buf_close(&q);
        const char *auth =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        status = full.err ? error_json(&out, 503, "out of memory")
                          : handle(h->ctx, method, (const char *)full.data, auth, rq->h.body.data,
                                   rq->h.body.len, &out, &allow);
        bl_buf_close(&full);
    }
    count_request(h->ctx, status);
    enum MHD_Result ret = send_buf(conn, status, &out, allow);
    bl_http_guard_answering(conn);
    bl_buf_close(&out);
    return ret;
}

/* libmicrohttpd decodes the path in place: a %00 in it would end the url
 * the handler sees, so "/v1/listings/192.0.2.50%00x" would name
 * 192.0.2.50. The raw URI is seen here first; a path with %00 gets a
 * request (of the listener's size, cls) marked to be refused. */
static void *uri_seen(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)conn;
    if (!master_path_has_nul(uri))
        return NULL;
    bl_http_req_t *rq = calloc(1, (size_t)(uintptr_t)cls);
    if (rq) {
        bl_buf_init(&rq->body);
        rq->nul_path = 1;
    }
    return rq;
}

int master_http_listen(const char *listener, const struct sockaddr *sa, unsigned threads,
                       const master_http_limits_t *lim, master_metrics_t *metrics,
                       const char *cert_pem, const char *key_pem, MHD_AccessHandlerCallback h,
                       void *cls, bl_http_guard_t **out)
{
    /* Suspend and resume: the public listener holds long polls without a thread each. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME;
    if (sa->sa_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (threads > 1)
        flags |= MHD_USE_EPOLL_LINUX_ONLY;
    struct MHD_OptionItem extra[5];
    size_t n = 0;
    extra[n++] =
        (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, threads > 1 ? threads : 0, NULL};
    if (cert_pem && key_pem) {
        flags |= MHD_USE_TLS;
        extra[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)cert_pem};
        extra[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)key_pem};
    }
    if (lim->req_size)
        extra[n++] = (struct MHD_OptionItem){MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)uri_seen,
                                             (void *)(uintptr_t)lim->req_size};
    extra[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    bl_metrics_t *reg = master_metrics_registry(metrics);
    bl_http_guard_conf_t gc = {
        .listener = listener,
        .max_conns = lim->max_conns,
        .max_per_addr = lim->max_conns_per_addr,
        .idle_timeout_s = lim->idle_timeout_s,
        .request_timeout_ms = lim->request_timeout_ms > 0 ? (uint64_t)lim->request_timeout_ms : 0,
        .refused = reg ? bl_metrics_find(reg, "blsync_http_refused_total") : NULL,
        .connections = reg ? bl_metrics_find(reg, "blsync_http_connections") : NULL,
        .exempt = lim->exempt,
        .exempt_cls = lim->exempt_cls,
        .completed = bl_http_req_completed,
    };
    return bl_http_guard_start(&gc, flags, sa, h, cls, extra, out);
}

int master_http_start(master_http_ctx_t *ctx, const char *host, uint16_t port, unsigned threads,
                      master_http_t **out)
{
    *out = NULL;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
    } else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
    } else {
        BL_ERR("http_listen", "host=%s error=%s", bl_log_q(host),
               bl_log_q("not a numeric IPv4 or IPv6 address"));
        return BL_EINVAL;
    }
    master_http_t *h = calloc(1, sizeof *h);
    if (!h)
        return BL_ENOMEM;
    h->ctx = ctx;
    master_http_limits_t lim = ctx->limits;
    lim.req_size = sizeof(req_t);
    int rc = master_http_listen("api", (struct sockaddr *)&ss, threads, &lim, ctx->metrics, NULL,
                                NULL, on_request, h, &h->g);
    if (rc) {
        BL_ERR("http_listen", "host=%s port=%u error=%s", bl_log_q(host), port,
               bl_log_q(errno ? strerror(errno) : "cannot start HTTP server"));
        free(h);
        return rc;
    }
    BL_INFO("http_listening", "host=%s port=%u threads=%u max_connections=%u", bl_log_q(host), port,
            threads, bl_http_guard_max_conns(h->g));
    *out = h;
    return 0;
}

void master_http_stop(master_http_t *h)
{
    if (!h)
        return;
    bl_http_guard_stop(h->g);
    free(h);
}
