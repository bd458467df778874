/* SPDX-License-Identifier: MIT */
/* A small strict JSON parser: the bytes come from HTTP clients and files and are untrusted. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json.h"

const master_json_limits_t master_json_limits_default = {
    .max_depth = 32,
    .max_members = 256,
    .max_values = 4u << 20,
    .max_str = 64u << 10,
};

/* The arena: values and strings are carved out of blocks freed together. */
struct master_json_block {
    master_json_block_t *next;
    size_t used, cap;
    max_align_t data[];
};

typedef struct {
    bl_rd_t rd;
    const master_json_limits_t *lim;
    master_json_doc_t *doc;
    size_t values;
    char *err;
    size_t errlen;
    int rc;
} parser_t;

static void *arena_alloc(master_json_doc_t *doc, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    master_json_block_t *b = doc->blocks;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 16384 ? n : 16384;
        b = malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->next = doc->blocks;
        b->used = 0;
        b->cap = cap;
        doc->blocks = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    return p;
}

static int fail(parser_t *ps, int rc, const char *why)
{
    if (!ps->rc) {
        ps->rc = rc;
        if (ps->err && ps->errlen)
            snprintf(ps->err, ps->errlen, "%s at byte %zu", why, bl_rd_off(&ps->rd));
    }
    return ps->rc;
}

static int peek(parser_t *ps)
{
    return bl_rd_left(&ps->rd) ? *ps->rd.p : -1;
}

static void skip_ws(parser_t *ps)
{
    int c;
    while ((c = peek(ps)) == ' ' || c == '\t' || c == '\n' || c == '\r')
        ps->rd.p++;
}

static int expect_lit(parser_t *ps, const char *lit)
{
    size_t n = strlen(lit);
    const uint8_t *p = bl_rd_left(&ps->rd) >= n ? ps->rd.p : NULL;
    if (!p || memcmp(p, lit, n) != 0)
        return fail(ps, BL_EPROTO, "invalid literal");
    ps->rd.p += n;
    return 0;
}

static int hex4(parser_t *ps, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int c = peek(ps);
        if (c < 0)
            return fail(ps, BL_EPROTO, "truncated \\u escape");
        ps->rd.p++;
        if (c >= '0' && c <= '9')
            v = v * 16 + (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v = v * 16 + (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v = v * 16 + (unsigned)(c - 'A' + 10);
        else
            return fail(ps, BL_EPROTO, "bad hex digit in \\u escape");
    }
    *out = v;
    return 0;
}

/* Length of a valid UTF-8 sequence at p (left bytes available), 0 if invalid. */
static size_t utf8_len(const uint8_t *p, size_t left)
{
    uint8_t c = p[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (left < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Parses a string (the opening quote is next); the decoded form is never
 * longer than the encoded one, so one allocation of the raw span suffices. */
static int parse_string(parser_t *ps, const char **out, size_t *outlen)
{
    ps->rd.p++; /* '"' */
    const uint8_t *start = ps->rd.p;
    size_t raw = 0;
    for (;;) {
        if (raw >= bl_rd_left(&ps->rd))
            return fail(ps, BL_EPROTO, "unterminated string");
        uint8_t c = start[raw];
        if (c == '"')
            break;
        if (c == '\\')
            raw++;
        raw++;
    }
    if (raw > ps->lim->max_str)
        return fail(ps, BL_ETOOBIG, "string too long");
    char *o = arena_alloc(ps->doc, raw + 1);
    if (!o)
        return fail(ps, BL_ENOMEM, "out of memory");
    size_t n = 0;
    for (;;) {
        int c = peek(ps);
        if (c == '"') {
            ps->rd.p++;
            break;
        }
        if (c < 0x20)
            return fail(ps, BL_EPROTO, "control character in string");
        if (c == '\\') {
            ps->rd.p++;
            int e = peek(ps);
            ps->rd.p++;
            switch (e) {
            case '"':
                o[n++] = '"';
                break;
            case '\\':
                o[n++] = '\\';
                break;
            case '/':
                o[n++] = '/';
                break;
            case 'b':
                o[n++] = '\b';
                break;
            case 'f':
                o[n++] = '\f';
                break;
            case 'n':
                o[n++] = '\n';
                break;
            case 'r':
                o[n++] = '\r';
                break;
            case 't':
                o[n++] = '\t';
                break;
            case 'u': {
                unsigned cp, lo;
                if (hex4(ps, &cp))
                    return ps->rc;
                if (cp >= 0xdc00 && cp <= 0xdfff)
                    return fail(ps, BL_EPROTO, "lone low surrogate");
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    if (bl_rd_left(&ps->rd) < 2 || ps->rd.p[0] != '\\' || ps->rd.p[1] != 'u')
                        return fail(ps, BL_EPROTO, "lone high surrogate");
                    ps->rd.p += 2;
                    if (hex4(ps, &lo))
                        return ps->rc;
                    if (lo < 0xdc00 || lo > 0xdfff)
                        return fail(ps, BL_EPROTO, "bad surrogate pair");
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                }
                if (cp == 0)
                    return fail(ps, BL_EPROTO, "NUL character in string");
                /* \uXXXX is 6 bytes, its UTF-8 at most 3; a pair is 12 for 4. */
                n += put_utf8(o + n, cp);
                break;
            }
            default:
                return fail(ps, BL_EPROTO, "invalid escape in string");
            }
            continue;
        }
        size_t u = utf8_len(ps->rd.p, bl_rd_left(&ps->rd));
        if (!u)
            return fail(ps, BL_EPROTO, "invalid UTF-8 in string");
        memcpy(o + n, ps->rd.p, u);
        n += u;
        ps->rd.p += u;
    }
    o[n] = 0;
    *out = o;
    *outlen = n;
    return 0;
}

static int parse_number(parser_t *ps, double *out)
{
    const uint8_t *s = ps->rd.p, *p = s, *end = ps->rd.end;
    if (p < end && *p == '-')
        p++;
    if (p >= end)
        return fail(ps, BL_EPROTO, "truncated number");
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    } else {
        return fail(ps, BL_EPROTO, "invalid number");
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9')
            return fail(ps, BL_EPROTO, "digit expected after decimal point");
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || *p < '0' || *p > '9')
            return fail(ps, BL_EPROTO, "digit expected in exponent");
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    char tmp[64];
    size_t n = (size_t)(p - s);
    if (n >= sizeof tmp)
        return fail(ps, BL_EPROTO, "number too long");
    memcpy(tmp, s, n);
    tmp[n] = 0;
    double v = strtod(tmp, NULL);
    if (!isfinite(v))
        return fail(ps, BL_EPROTO, "number out of range");
    *out = v;
    ps->rd.p = p;
    return 0;
}

static master_json_t *new_value(parser_t *ps, int type)
{
    if (++ps->values > ps->lim->max_values) {
        fail(ps, BL_ETOOBIG, "too many values");
        return NULL;
    }
    master_json_t *v = arena_alloc(ps->doc, sizeof *v);
    if (!v) {
        fail(ps, BL_ENOMEM, "out of memory");
        return NULL;
    }
    memset(v, 0, sizeof *v);
    v->type = type;
    return v;
}

static int parse_value(parser_t *ps, unsigned depth, master_json_t **out);

static int parse_container(parser_t *ps, unsigned depth, int obj, master_json_t *v)
{
    if (depth >= ps->lim->max_depth)
        return fail(ps, BL_EPROTO, "nesting too deep");
    ps->rd.p++; /* '[' or '{' */
    master_json_t **tail = &v->child;
    skip_ws(ps);
    if (peek(ps) == (obj ? '}' : ']')) {
        ps->rd.p++;
        return 0;
    }
    for (;;) {
        const char *key = NULL;
        size_t klen;
        skip_ws(ps);
        if (obj) {
            if (peek(ps) != '"')
                return fail(ps, BL_EPROTO, "member name expected");
            if (parse_string(ps, &key, &klen))
                return ps->rc;
            for (const master_json_t *m = v->child; m; m = m->next)
                if (!strcmp(m->key, key))
                    return fail(ps, BL_EPROTO, "duplicate member name");
            if (v->n >= ps->lim->max_members)
                return fail(ps, BL_ETOOBIG, "too many members in object");
            skip_ws(ps);
            if (peek(ps) != ':')
                return fail(ps, BL_EPROTO, "':' expected");
            ps->rd.p++;
        }
        master_json_t *m;
        if (parse_value(ps, depth + 1, &m))
            return ps->rc;
        m->key = key;
        *tail = m;
        tail = &m->next;
        v->n++;
        skip_ws(ps);
        int c = peek(ps);
        if (c == ',') {
            ps->rd.p++;
            continue;
        }
        if (c == (obj ? '}' : ']')) {
            ps->rd.p++;
            return 0;
        }
        return fail(ps, BL_EPROTO, obj ? "',' or '}' expected" : "',' or ']' expected");
    }
}

static int parse_value(parser_t *ps, unsigned depth, master_json_t **out)
{
    skip_ws(ps);
    int c = peek(ps);
    master_json_t *v;
    switch (c) {
    case -1:
        return fail(ps, BL_EPROTO, "value expected, input ends");
    case '{':
    case '[':
        if (!(v = new_value(ps, c == '{' ? MASTER_JSON_OBJ : MASTER_JSON_ARR)))
            return ps->rc;
        if (parse_container(ps, depth, c == '{', v))
            return ps->rc;
        break;
    case '"':
        if (!(v = new_value(ps, MASTER_JSON_STR)))
            return ps->rc;
        if (parse_string(ps, &v->str, &v->len))
            return ps->rc;
        break;
    case 't':
    case 'f':
    case 'n':
        if (!(v = new_value(ps, c == 't'   ? MASTER_JSON_TRUE
                                : c == 'f' ? MASTER_JSON_FALSE
                                           : MASTER_JSON_NULL)))
            return ps->rc;
        if (expect_lit(ps, c == 't' ? "true" : c == 'f' ? "false" : "null"))
            return ps->rc;
        break;
    default:
        if (c != '-' && (c < '0' || c > '9'))
            return fail(ps, BL_EPROTO, "unexpected character");
        if (!(v = new_value(ps, MASTER_JSON_NUM)))
            return ps->rc;
        if (parse_number(ps, &v->num))
            return ps->rc;
        break;
    }
    *out = v;
    return 0;
}

int master_json_parse(const void *buf, size_t len, const master_json_limits_t *lim,
                      master_json_doc_t *doc, char *err, size_t errlen)
{
    parser_t ps = {
        .lim = lim ? lim : &master_json_limits_default, .doc = doc, .err = err, .errlen = errlen};
    doc->root = NULL;
    doc->blocks = NULL;
    bl_rd_init(&ps.rd, buf, len);
    if (err && errlen)
        err[0] = 0;
    master_json_t *root = NULL;
    if (parse_value(&ps, 0, &root) == 0) {
        skip_ws(&ps);
        if (bl_rd_left(&ps.rd))
            fail(&ps, BL_EPROTO, "trailing bytes after the JSON value");
    }
    if (ps.rc) {
        master_json_free(doc);
        return ps.rc;
    }
    doc->root = root;
    return 0;
}

void master_json_free(master_json_doc_t *doc)
{
    master_json_block_t *b = doc->blocks;
    while (b) {
        master_json_block_t *next = b->next;
        free(b);
        b = next;
    }
    doc->blocks = NULL;
    doc->root = NULL;
}

const master_json_t *master_json_get(const master_json_t *o, const char *key)
{
    if (!o || o->type != MASTER_JSON_OBJ)
        return NULL;
    for (const master_json_t *m = o->child; m; m = m->next)
        if (!strcmp(m->key, key))
            return m;
    return NULL;
}

const char *master_json_type_name(int type)
{
    static const char *names[] = {"null", "false", "true", "number", "string", "array", "object"};
    return type >= 0 && type <= MASTER_JSON_OBJ ? names[type] : "?";
}

void master_json_put_strf(bl_buf_t *b, const char *s, unsigned flags)
{
    int html = (flags & MASTER_JSON_HTML_SAFE) != 0;
    bl_buf_u8(b, '"');
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\') {
            bl_buf_u8(b, '\\');
            bl_buf_u8(b, *p);
        } else if (*p < 0x20 || (html && (*p == '<' || *p == '>' || *p == '&'))) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            bl_buf_put(b, esc, 6);
        } else {
            bl_buf_u8(b, *p);
        }
    }
    bl_buf_u8(b, '"');
}

void master_json_put_str(bl_buf_t *b, const char *s)
{
    master_json_put_strf(b, s, 0);
}

void master_json_printf(bl_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    uint8_t *p = bl_buf_reserve(b, (size_t)n + 1);
    if (!p)
        return;
    va_start(ap, fmt);
    vsnprintf((char *)p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}
