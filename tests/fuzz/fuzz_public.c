/* SPDX-License-Identifier: MIT */
/* Fuzz target: what the master's public listener parses of a request (form and JSON review
 * bodies, status ids and tokens, a lookup's address, X-Forwarded-For hops, HTML escaping, the
 * raw path's %00), with
 * checks of what each parser accepts. The first byte chooses the parser, the rest is its input. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "policy.h"
#include "proto/addr.h"
#include "public_parse.h"
#include "reviews.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_public: %s:%d: %s\n", __FILE__, __LINE__, #c);                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static master_policy_t policy;

/* Strict UTF-8 (RFC 3629): no overlong form, surrogate or code point past U+10FFFF. */
static int utf8_strict(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p, cp, n;
        if (c < 0x80) {
            p++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            n = 1, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
            n = 2, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
            n = 3, cp = c & 0x07;
        else
            return 0;
        for (unsigned i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (p[i] & 0x3fu);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp < 0xe000))
            return 0;
        p += n + 1;
    }
    return 1;
}

static int digits(const char *s, size_t max)
{
    size_t n = strspn(s, "0123456789");
    return n > 0 && n <= max && !s[n];
}

/* An accepted address is one full-length key that formats and parses back to itself. */
static void address_round_trip(const char *s, const bl_prefix_t *a)
{
    char t[BL_PREFIX_STRLEN];
    bl_prefix_t b;
    const char *why = NULL;
    CHECK(!strchr(s, '/'));
    CHECK(a->len == bl_prefix_maxlen(a));
    bl_prefix_format(a, t, sizeof t);
    CHECK(master_policy_target(&policy, t, 0, &b, &why) == 0);
    CHECK(b.af == a->af && b.len == a->len && !memcmp(b.addr, a->addr, sizeof a->addr));
}

/* What master_review_check accepts keeps to the documented field rules. */
static void check_review(const master_review_form_t *f)
{
    const char *field = NULL, *why = NULL;
    if (master_review_check(&policy, f, &field, &why)) {
        CHECK(field && why);
        return;
    }
    bl_prefix_t a;
    CHECK(master_policy_target(&policy, f->ip, 0, &a, &why) == 0);
    address_round_trip(f->ip, &a);
    int cat = master_review_category_parse(f->category);
    CHECK(cat >= 0);
    const char *text[] = {f->email,  f->name,          f->title, f->relationship, f->subject,
                          f->reason, f->documentation, f->url,   f->report_id};
    const size_t max[] = {MASTER_REVIEW_EMAIL_MAX, MASTER_REVIEW_NAME_MAX, MASTER_REVIEW_TITLE_MAX,
                          MASTER_REVIEW_REL_MAX,   MASTER_REVIEW_SUBJ_MAX, MASTER_REVIEW_TEXT_MAX,
                          MASTER_REVIEW_DOC_MAX,   MASTER_REVIEW_URL_MAX,  20};
    for (size_t i = 0; i < sizeof text / sizeof text[0]; i++)
        if (text[i]) {
            CHECK(strlen(text[i]) <= max[i]);
            CHECK(utf8_strict(text[i]));
        }
    const char *at = strrchr(f->email, '@');
    CHECK(at && at > f->email && strchr(at, '.'));
    if (f->url && *f->url)
        CHECK(!strncasecmp(f->url, "http://", 7) || !strncasecmp(f->url, "https://", 8));
    if (cat == MASTER_REVIEW_CHALLENGE) {
        /* The id the store looks up is the number the requester wrote. */
        int64_t id = 0;
        CHECK(digits(f->report_id, 20));
        CHECK(master_id_parse(f->report_id, &id) == 0 && id > 0);
    } else {
        CHECK(!f->report_id || !*f->report_id);
    }
}

/* A status page's id and token. */
static void check_id_token(const char *ids, const char *token)
{
    int64_t id;
    if (ids && master_id_parse(ids, &id) == 0) {
        CHECK(id > 0 && digits(ids, strlen(ids)));
        char t[24];
        snprintf(t, sizeof t, "%lld", (long long)id);
        CHECK(!strcmp(t, ids + strspn(ids, "0")));
    }
    if (master_hex_token(token, MASTER_REVIEW_TOKEN_LEN))
        CHECK(strlen(token) == MASTER_REVIEW_TOKEN_LEN &&
              strspn(token, "0123456789abcdef") == MASTER_REVIEW_TOKEN_LEN);
}

static void fuzz_form(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = 0;
    master_kv_t kv[32];
    size_t n = master_form_parse(buf, size, kv, 32);
    if (n == MASTER_FORM_NUL) {
        free(buf);
        return;
    }
    /* No NUL byte, raw or encoded, passes to be cut at. */
    CHECK(!memchr(data, 0, size));
    CHECK(n <= 32);
    for (size_t i = 0; i < n; i++) {
        CHECK(kv[i].k >= buf && kv[i].k <= buf + size);
        CHECK(kv[i].v >= buf && kv[i].v + strlen(kv[i].v) <= buf + size);
    }
    master_review_form_t f = {0};
    const char **dst[] = {&f.ip,     &f.category,      &f.report_id,    &f.email,
                          &f.name,   &f.title,         &f.relationship, &f.subject,
                          &f.reason, &f.documentation, &f.url};
    const char *names[] = {"ip",     "category",      "report_id",    "email",
                           "name",   "title",         "relationship", "subject",
                           "reason", "documentation", "url"};
    for (size_t i = 0; i < sizeof dst / sizeof dst[0]; i++)
        *dst[i] = master_form_get(kv, n, names[i]);
    check_review(&f);
    check_id_token(master_form_get(kv, n, "id"), master_form_get(kv, n, "token"));
    free(buf);
}

static const char *json_str(const master_json_t *o, const char *k)
{
    const master_json_t *v = master_json_get(o, k);
    return !v ? NULL : v->type == MASTER_JSON_STR ? v->str : "\x01";
}

static void fuzz_json(const uint8_t *data, size_t size)
{
    const master_json_limits_t lim = {
        .max_depth = 2, .max_members = 32, .max_values = 64, .max_str = 16384};
    master_json_doc_t doc;
    char why[160];
    if (master_json_parse(data, size, &lim, &doc, why, sizeof why))
        return;
    if (doc.root->type == MASTER_JSON_OBJ) {
        const master_json_t *o = doc.root;
        master_review_form_t f = {
            .ip = json_str(o, "ip"),
            .category = json_str(o, "category"),
            .report_id = json_str(o, "report_id"),
            .email = json_str(o, "email"),
            .name = json_str(o, "name"),
            .title = json_str(o, "title"),
            .relationship = json_str(o, "relationship"),
            .subject = json_str(o, "subject"),
            .reason = json_str(o, "reason"),
            .documentation = json_str(o, "documentation"),
            .url = json_str(o, "url"),
        };
        char rid[24];
        const master_json_t *v = master_json_get(o, "report_id");
        if (v && v->type == MASTER_JSON_NUM && !master_report_id_num(v->num, rid)) {
            /* The id filed is exactly the number sent. */
            int64_t id = 0;
            CHECK(master_id_parse(rid, &id) == 0 && (double)id == v->num);
            f.report_id = rid;
        }
        check_review(&f);
    }
    master_json_free(&doc);
}

/* The lookup's address: at most 45 bytes, one address by the listing rules. */
static void fuzz_lookup(const uint8_t *data, size_t size)
{
    char ip[64];
    if (size >= sizeof ip || memchr(data, 0, size))
        return;
    memcpy(ip, data, size);
    ip[size] = 0;
    bl_prefix_t a;
    const char *why = NULL;
    if (size > 45 || master_policy_target(&policy, ip, 0, &a, &why)) {
        CHECK(size > 45 || why);
        return;
    }
    address_round_trip(ip, &a);
}

/* An accepted hop is an address, "[IPv6]" or "[IPv6]:PORT" or "IPv4:PORT", PORT 1 to 5 digits. */
static void hop_shape(const char *s, size_t n, const bl_prefix_t *a)
{
    char t[80];
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    CHECK(n < sizeof t);
    memcpy(t, s, n);
    t[n] = 0;
    char *addr = t, *port = NULL;
    if (*t == '[') {
        char *rb = strchr(t, ']');
        CHECK(rb);
        *rb = 0;
        addr = t + 1;
        if (rb[1]) {
            CHECK(rb[1] == ':');
            port = rb + 2;
        }
        uint8_t b[16];
        CHECK(inet_pton(AF_INET6, addr, b) == 1 || inet_pton(AF_INET, addr, b) == 1);
    } else if (strchr(t, '.') && strchr(t, ':') && strchr(t, ':') == strrchr(t, ':')) {
        port = strchr(t, ':');
        *port++ = 0;
    }
    if (port)
        CHECK(digits(port, 5));
    bl_prefix_t b;
    char f[INET6_ADDRSTRLEN];
    bl_addr_format(a, f, sizeof f);
    CHECK(master_hop_parse(f, strlen(f), &b) == 0);
    CHECK(b.af == a->af && b.len == a->len && !memcmp(b.addr, a->addr, sizeof a->addr));
}

/* X-Forwarded-For: every hop between commas, as the client walk reads it. */
static void fuzz_xff(const uint8_t *data, size_t size)
{
    const char *h = (const char *)data;
    size_t end = size;
    while (end > 0) {
        size_t start = end;
        while (start > 0 && h[start - 1] != ',')
            start--;
        bl_prefix_t hop;
        if (end > start && master_hop_parse(h + start, end - start, &hop) == 0) {
            CHECK(!memchr(h + start, 0, end - start));
            hop_shape(h + start, end - start, &hop);
        }
        end = start ? start - 1 : 0;
    }
}

/* Escaped text holds no markup character and unescapes to the input. */
static void fuzz_esc(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    bl_buf_t b;
    bl_buf_init(&b);
    master_html_esc(&b, s);
    bl_buf_u8(&b, 0);
    if (!b.err) {
        const char *o = (const char *)b.data;
        CHECK(!strpbrk(o, "<>\"'"));
        static const char *const ent[][2] = {
            {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#39;", "'"}};
        const char *in = s;
        while (*o) {
            if (*o == '&') {
                size_t k = 0;
                while (k < 5 && strncmp(o, ent[k][0], strlen(ent[k][0])))
                    k++;
                CHECK(k < 5);
                CHECK(*in == ent[k][1][0]);
                o += strlen(ent[k][0]);
            } else {
                CHECK(*in == *o);
                o++;
            }
            in++;
        }
        CHECK(!*in);
    }
    bl_buf_close(&b);
    free(s);
}

/* A raw request URI: its path is said to hold a NUL exactly when decoding it gives one. */
static void fuzz_path(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    if (!memchr(data, 0, size)) {
        int nul = master_path_has_nul(s);
        s[strcspn(s, "?")] = 0;
        size_t n = MHD_http_unescape(s);
        CHECK(nul == (strlen(s) != n));
    }
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!policy.duration_ms)
        master_policy_defaults(&policy);
    if (size < 1)
        return 0;
    static void (*const parser[])(const uint8_t *, size_t) = {fuzz_form, fuzz_json, fuzz_lookup,
                                                              fuzz_xff,  fuzz_esc,  fuzz_path};
    parser[data[0] % (sizeof parser / sizeof parser[0])](data + 1, size - 1);
    return 0;
}
