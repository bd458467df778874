/* SPDX-License-Identifier: MIT */
/* The configuration schema: loads, sets, prints and documents the options a table declares. */
#include "conf_schema.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "log.h"

#define FIELD(base, off)  ((char *)(base) + (off))
#define CFIELD(base, off) ((const char *)(base) + (off))

enum { KEYLEN = 128, VALLEN = 1024, PAIRSLEN = 16384, WRAP = 78 };
/* inih's limits: a line is read into a buffer of INI_BUF bytes (with its
 * newline and NUL), a section name into 50 (ini.c's MAX_SECTION). An inih
 * that takes its line limit at run time (Debian's) gets 4096 bytes, enough
 * for any value; another keeps its compiled-in INI_MAX_LINE. */
#ifdef BL_INIH_RUNTIME_LINE
#define INI_BUF 4096
#else
#define INI_BUF INI_MAX_LINE
#endif
#define INI_LINE_MAX    (INI_BUF - 2)
#define INI_SECTION_MAX 50

static int fail(const char **why, const char *msg)
{
    if (why)
        *why = msg;
    return BL_ECONFIG;
}

const bl_conf_name_t bl_conf_log_levels[] = {
    {"err", BL_LOG_ERR},
    {"warn", BL_LOG_WARN},
    {"info", BL_LOG_INFO},
    {"debug", BL_LOG_DEBUG},
    {"error", BL_LOG_ERR},
    {"warning", BL_LOG_WARN},
    {NULL, 0},
};

/* ---- fields ---------------------------------------------------------- */

static uint64_t get_uint(const void *p, size_t size)
{
    uint8_t a;
    uint16_t b;
    uint32_t c;
    uint64_t d;
    switch (size) {
    case 1:
        memcpy(&a, p, 1);
        return a;
    case 2:
        memcpy(&b, p, 2);
        return b;
    case 4:
        memcpy(&c, p, 4);
        return c;
    default:
        memcpy(&d, p, 8);
        return d;
    }
}

static void put_uint(void *p, size_t size, uint64_t v)
{
    uint8_t a = (uint8_t)v;
    uint16_t b = (uint16_t)v;
    uint32_t c = (uint32_t)v;
    switch (size) {
    case 1:
        memcpy(p, &a, 1);
        break;
    case 2:
        memcpy(p, &b, 2);
        break;
    case 4:
        memcpy(p, &c, 4);
        break;
    default:
        memcpy(p, &v, 8);
    }
}

/* A signed int field (BOOL, ENUM). */
static int get_int(const void *p, size_t size)
{
    uint64_t v = get_uint(p, size);
    if (size < 8 && (v >> (8 * size - 1)) & 1)
        v |= ~0ULL << (8 * size);
    return (int)(int64_t)v;
}

/* The largest value a field of this size holds, signed or not. */
static uint64_t field_limit(size_t size)
{
    if (!size)
        return 0; /* CUSTOM: no field of its own */
    return size >= 8 ? (uint64_t)INT64_MAX : (1ULL << (8 * size - 1)) - 1;
}

static uint64_t unit_of(const bl_conf_opt_t *o)
{
    return o->unit > 1 ? o->unit : 1;
}

/* What the field can hold, in the option's terms (milliseconds for durations). */
static uint64_t natural_max(const bl_conf_opt_t *o)
{
    uint64_t lim = field_limit(o->size);
    if (o->type == BL_CONF_DURATION)
        lim = lim > (uint64_t)INT64_MAX / unit_of(o) ? (uint64_t)INT64_MAX : lim * unit_of(o);
    return lim;
}

static uint64_t max_of(const bl_conf_opt_t *o)
{
    uint64_t lim = natural_max(o);
    return o->max > 0 && (uint64_t)o->max < lim ? (uint64_t)o->max : lim;
}

static int is_text(const bl_conf_opt_t *o)
{
    return o->type == BL_CONF_STR || o->type == BL_CONF_PATH || o->type == BL_CONF_ADDR;
}

/* A value of the option's type, written as it is read ("4h", "64K"). */
static void format_plain(const bl_conf_opt_t *o, uint64_t v, char *buf, size_t n)
{
    if (o->type == BL_CONF_DURATION)
        bl_cfg_duration_format((int64_t)v, buf, n);
    else if (o->type == BL_CONF_SIZE)
        bl_cfg_size_format(v, buf, n);
    else
        snprintf(buf, n, "%llu", (unsigned long long)v);
}

/* "from 1 to 64", "at least 1s", "at most 4096" or "" (the field's limits). */
static void range_of(const bl_conf_opt_t *o, char *buf, size_t n)
{
    char a[BL_CFG_DURSTRLEN], b[BL_CFG_DURSTRLEN];
    buf[0] = 0;
    if (o->type == BL_CONF_NUMBER) {
        if (o->max > 0)
            snprintf(buf, n, "from %lld to %lld", (long long)o->min, (long long)o->max);
        return;
    }
    if (o->type != BL_CONF_DURATION && o->type != BL_CONF_SIZE && o->type != BL_CONF_UINT)
        return;
    uint64_t mx = max_of(o);
    int has_max = mx < natural_max(o);
    format_plain(o, (uint64_t)o->min, a, sizeof a);
    format_plain(o, mx, b, sizeof b);
    if (o->type == BL_CONF_UINT || (o->min > 0 && has_max))
        snprintf(buf, n, "from %s to %s", a, b);
    else if (o->min > 0)
        snprintf(buf, n, "at least %s", a);
    else if (has_max)
        snprintf(buf, n, "at most %s", b);
}

/* Joins the first name of each distinct value: "err, warn, info or debug". */
static void enum_names(const bl_conf_opt_t *o, const char *sep, const char *last, char *buf,
                       size_t n)
{
    size_t off = 0, count = 0, total = 0;
    buf[0] = 0;
    for (size_t i = 0; o->names && o->names[i].name; i++) {
        int dup = 0;
        for (size_t j = 0; j < i; j++)
            dup |= o->names[j].value == o->names[i].value;
        total += !dup;
    }
    for (size_t i = 0; o->names && o->names[i].name && off < n; i++) {
        int dup = 0;
        for (size_t j = 0; j < i; j++)
            dup |= o->names[j].value == o->names[i].value;
        if (dup)
            continue;
        const char *s = count == 0 ? "" : count + 1 == total ? last : sep;
        off += (size_t)snprintf(buf + off, n - off, "%s%s", s, o->names[i].name);
        count++;
    }
}

/* What a value of o looks like, for error messages. */
/* What a value of o looks like, for error messages. */
static void expect_of(const bl_conf_opt_t *o, char *buf, size_t n)
{
    char r[128], rr[140], names[256];
    range_of(o, r, sizeof r);
    /* " from 1s to 1h", " of at least 1s" or "" */
    snprintf(rr, sizeof rr, "%s%s%s", r[0] ? " " : "", !strncmp(r, "at ", 3) ? "of " : "", r);
    const char *comma = r[0] ? "," : "";
    if (o->expect) {
        snprintf(buf, n, "%s", o->expect);
        return;
    }
    switch (o->type) {
    case BL_CONF_STR:
    case BL_CONF_PATH:
        if (o->flags & (BL_CONF_HEAP | BL_CONF_MULTI))
            snprintf(buf, n, "%s", o->flags & BL_CONF_NONEMPTY ? "a non-empty value" : "text");
        else
            snprintf(buf, n, "%s of at most %zu bytes",
                     o->flags & BL_CONF_NONEMPTY ? "a non-empty value" : "text", o->size - 1);
        break;
    case BL_CONF_ADDR:
        if (o->port)
            snprintf(buf, n,
                     "a numeric IP address and an optional port (default %d), such as 127.0.0.1 "
                     "or [::1]:%d",
                     o->port, o->port);
        else
            snprintf(buf, n, "a numeric IP address and port such as 127.0.0.1:8053 or [::1]:8053");
        break;
    case BL_CONF_DURATION:
        snprintf(buf, n, "a duration%s%s such as 90s, 15m, 1h30m%s", rr, comma,
                 unit_of(o) == 1000 ? " (whole seconds)" : "");
        break;
    case BL_CONF_SIZE:
        snprintf(buf, n, "a size%s%s such as 4096, 64K, 4MiB", rr, comma);
        break;
    case BL_CONF_UINT:
        snprintf(buf, n, "a whole number%s", rr);
        break;
    case BL_CONF_NUMBER:
        snprintf(buf, n, "a number%s%s such as 2 or 0.5", rr, comma);
        break;
    case BL_CONF_BOOL:
        snprintf(buf, n, "yes or no (or true/false, on/off, 1/0)");
        break;
    case BL_CONF_ENUM:
        enum_names(o, ", ", " or ", names, sizeof names);
        snprintf(buf, n, "%s", names);
        break;
    default:
        snprintf(buf, n, "a valid value");
    }
}

/* ---- setting one value ----------------------------------------------- */

static int check_text(const bl_conf_opt_t *o, const char *v, const char **why)
{
    if (o->type == BL_CONF_ADDR) {
        struct sockaddr_storage ss;
        socklen_t len;
        if (bl_cfg_listen(v, o->port ? o->port : -1, &ss, &len, why))
            return BL_ECONFIG;
    }
    if (o->check && o->check(v, why))
        return BL_ECONFIG;
    return 0;
}

static int set_text(const bl_conf_opt_t *o, void *base, const char *v, const char **why)
{
    if (!*v && (o->flags & BL_CONF_NONEMPTY))
        return fail(why, "empty");
    if (*v && check_text(o, v, why))
        return BL_ECONFIG;
    if (o->flags & BL_CONF_HEAP) {
        char *d = NULL;
        if (*v && !(d = strdup(v)))
            return fail(why, "out of memory");
        char **dst = (char **)FIELD(base, o->off);
        free(*dst);
        *dst = d;
        return 0;
    }
    size_t len = strlen(v);
    if (len >= o->size)
        return fail(why, "too long");
    memcpy(FIELD(base, o->off), v, len + 1);
    return 0;
}

/* Appends each value of v (split at blanks and commas unless WHOLE) to the
 * option's list; checks them all before adding any. Every character inih
 * trims (isspace) separates, so that no value starts or ends with one. */
#define SEPARATORS " \t\n\v\f\r,"
static int set_multi(const bl_conf_opt_t *o, void *base, const char *v, const char **why)
{
    char **arr = (char **)FIELD(base, o->off);
    unsigned *cnt = (unsigned *)FIELD(base, o->count_off - 1);
    size_t cap = o->size / sizeof(char *);
    char *copy = strdup(v);
    char *tok[64];
    size_t n = 0, more = 0;
    int rc = 0;
    if (!copy)
        return fail(why, "out of memory");
    if (o->flags & BL_CONF_WHOLE) {
        if (*copy)
            tok[n++] = copy;
    } else {
        char *save;
        for (char *t = strtok_r(copy, SEPARATORS, &save); t; t = strtok_r(NULL, SEPARATORS, &save))
            if (n < 64)
                tok[n++] = t;
            else
                more++;
    }
    if (!n && (o->flags & BL_CONF_NONEMPTY))
        rc = fail(why, "empty");
    for (size_t i = 0; !rc && i < n; i++)
        rc = check_text(o, tok[i], why);
    if (!rc && *cnt + n + more > cap)
        rc = fail(why, "too many values");
    for (size_t i = 0; !rc && i < n; i++) {
        if (!(arr[*cnt] = strdup(tok[i])))
            rc = fail(why, "out of memory");
        else
            (*cnt)++;
    }
    free(copy);
    return rc;
}

/* Parses v into the option's field; why says what is wrong. */
static int set_value(const bl_conf_opt_t *o, void *base, const char *key, const char *v,
                     const char **why)
{
    void *p = FIELD(base, o->off);
    uint64_t u;
    int64_t ms;
    double d;
    int b;
    if (o->type == BL_CONF_CUSTOM)
        return o->set(base, key, v, why);
    if (o->flags & BL_CONF_MULTI)
        return set_multi(o, base, v, why);
    if (is_text(o))
        return set_text(o, base, v, why);
    switch (o->type) {
    case BL_CONF_DURATION:
        if (bl_cfg_duration(v, &ms, why))
            return BL_ECONFIG;
        if (ms < o->min || (uint64_t)ms > max_of(o))
            return fail(why, "out of range");
        if ((uint64_t)ms % unit_of(o))
            return fail(why, "not a whole number of seconds");
        put_uint(p, o->size, (uint64_t)ms / unit_of(o));
        return 0;
    case BL_CONF_SIZE:
        if (bl_cfg_size(v, &u, why))
            return BL_ECONFIG;
        if (u < (uint64_t)o->min || u > max_of(o))
            return fail(why, "out of range");
        put_uint(p, o->size, u);
        return 0;
    case BL_CONF_UINT:
        if (bl_cfg_uint(v, (uint64_t)o->min, max_of(o), &u, why))
            return BL_ECONFIG;
        put_uint(p, o->size, u);
        return 0;
    case BL_CONF_NUMBER:
        if (bl_cfg_number(v, &d, why))
            return BL_ECONFIG;
        if (d < (double)o->min || (o->max > 0 && d > (double)o->max))
            return fail(why, "out of range");
        memcpy(p, &d, sizeof d);
        return 0;
    case BL_CONF_BOOL:
        if (bl_cfg_bool(v, &b, why))
            return BL_ECONFIG;
        put_uint(p, o->size, (uint64_t)b);
        return 0;
    case BL_CONF_ENUM:
        for (size_t i = 0; o->names && o->names[i].name; i++)
            if (!strcasecmp(v, o->names[i].name)) {
                put_uint(p, o->size, (uint64_t)(int64_t)o->names[i].value);
                return 0;
            }
        return fail(why, "unknown word");
    default:
        return fail(why, "unknown option type");
    }
}

/* ---- sections -------------------------------------------------------- */

static int section_is(const bl_conf_opt_t *o, const bl_conf_section_t *S)
{
    return !strcmp(o->section, S->name);
}

static void section_defaults(const bl_conf_schema_t *s, const bl_conf_section_t *S, void *base)
{
    for (size_t i = 0; i < s->nopts; i++) {
        const bl_conf_opt_t *o = &s->opts[i];
        const char *why;
        if (section_is(o, S) && o->def && !(o->flags & BL_CONF_ALIAS))
            set_value(o, base, o->key, o->def, &why);
    }
}

/* Frees what one option owns in base. */
static void opt_free(const bl_conf_opt_t *o, void *base)
{
    if (o->flags & BL_CONF_ALIAS)
        return;
    if (o->type == BL_CONF_CUSTOM) {
        if (o->release)
            o->release(base);
    } else if (o->flags & BL_CONF_MULTI) {
        char **arr = (char **)FIELD(base, o->off);
        unsigned *cnt = (unsigned *)FIELD(base, o->count_off - 1);
        for (unsigned k = 0; k < *cnt; k++) {
            free(arr[k]);
            arr[k] = NULL;
        }
        *cnt = 0;
    } else if (o->flags & BL_CONF_HEAP) {
        char **p = (char **)FIELD(base, o->off);
        free(*p);
        *p = NULL;
    }
}

static void section_free(const bl_conf_schema_t *s, const bl_conf_section_t *S, void *base)
{
    for (size_t i = 0; i < s->nopts; i++)
        if (section_is(&s->opts[i], S))
            opt_free(&s->opts[i], base);
}

static unsigned *inst_count(const bl_conf_section_t *S, const void *conf)
{
    return (unsigned *)CFIELD(conf, S->count_off - 1);
}

static void *inst_at(const bl_conf_section_t *S, const void *conf, size_t i)
{
    return (void *)CFIELD(conf, S->arr_off + i * S->elem_size);
}

void bl_conf_defaults(const bl_conf_schema_t *s, void *conf)
{
    for (size_t i = 0; i < s->nsections; i++)
        if (!s->sections[i].cap)
            section_defaults(s, &s->sections[i], conf);
}

void bl_conf_free(const bl_conf_schema_t *s, void *conf)
{
    for (size_t i = 0; i < s->nsections; i++) {
        const bl_conf_section_t *S = &s->sections[i];
        if (!S->cap) {
            section_free(s, S, conf);
            continue;
        }
        for (unsigned k = 0; k < *inst_count(S, conf); k++)
            section_free(s, S, inst_at(S, conf, k));
    }
}

/* The section a bracketed name refers to; *inst gets a repeatable section's
 * instance name (possibly ""), NULL otherwise. */
static const bl_conf_section_t *find_section(const bl_conf_schema_t *s, const char *sec,
                                             const char **inst)
{
    for (size_t i = 0; i < s->nsections; i++) {
        const bl_conf_section_t *S = &s->sections[i];
        size_t l = strlen(S->name);
        if (strncmp(sec, S->name, l))
            continue;
        if (!S->cap && !sec[l]) {
            *inst = NULL;
            return S;
        }
        if (S->cap && (!sec[l] || sec[l] == ' ' || sec[l] == '\t')) {
            for (*inst = sec + l; **inst == ' ' || **inst == '\t'; (*inst)++)
                ;
            return S;
        }
    }
    return NULL;
}

/* The struct of instance inst of S, created with its defaults on first use. */
static void *instance(const bl_conf_schema_t *s, const bl_conf_section_t *S, void *conf,
                      const char *inst, const char *file, unsigned line, bl_cfg_err_t *e)
{
    char name[256];
    snprintf(name, sizeof name, "%s", inst);
    /* Normalised and trimmed until it no longer changes ("x. ." is "x"), as a
     * name written back between brackets would be read. */
    char prev[sizeof name];
    do {
        memcpy(prev, name, sizeof name);
        if (S->normalize)
            S->normalize(name);
        for (size_t l = strlen(name); l && (name[l - 1] == ' ' || name[l - 1] == '\t');)
            name[--l] = 0;
    } while (strcmp(prev, name));
    unsigned *cnt = inst_count(S, conf);
    if (!*name) {
        if (*cnt)
            return inst_at(S, conf, 0);
        bl_cfg_errorf(e, file, line, "[%s] needs a name: no [%s %s] section yet", S->name, S->name,
                      S->inst_arg ? S->inst_arg : "NAME");
        return NULL;
    }
    for (unsigned i = 0; i < *cnt; i++)
        if (!strcmp(CFIELD(inst_at(S, conf, i), S->name_off), name))
            return inst_at(S, conf, i);
    if (*cnt >= S->cap) {
        bl_cfg_errorf(e, file, line, "[%s %s]: more than %zu [%s] sections", S->name, name, S->cap,
                      S->name);
        return NULL;
    }
    if (strlen(name) >= S->name_size) {
        bl_cfg_errorf(e, file, line, "[%s %s]: name longer than %zu bytes", S->name, name,
                      S->name_size - 1);
        return NULL;
    }
    void *el = inst_at(S, conf, *cnt);
    memset(el, 0, S->elem_size);
    section_defaults(s, S, el);
    memcpy(FIELD(el, S->name_off), name, strlen(name) + 1);
    if (S->line_off)
        *(unsigned *)FIELD(el, S->line_off - 1) = line;
    (*cnt)++;
    return el;
}

static const bl_conf_opt_t *find_opt(const bl_conf_schema_t *s, const bl_conf_section_t *S,
                                     const char *key)
{
    for (size_t i = 0; i < s->nopts; i++) {
        const bl_conf_opt_t *o = &s->opts[i];
        if (S && !section_is(o, S))
            continue;
        if (!strcmp(o->key, key))
            return o;
        size_t l = strlen(o->key);
        if ((o->flags & BL_CONF_PREFIX) && !strncmp(o->key, key, l) && key[l])
            return o;
    }
    return NULL;
}

/* "unknown key 'window' in [http]", naming the sections that have it. */
static int unknown_key(const bl_conf_schema_t *s, const char *key, const char *sec,
                       const char *file, unsigned line, bl_cfg_err_t *e)
{
    char where[256] = "";
    size_t off = 0, found = 0;
    for (size_t i = 0; i < s->nsections && off < sizeof where; i++) {
        const bl_conf_section_t *S = &s->sections[i];
        if (!find_opt(s, S, key))
            continue;
        off += (size_t)snprintf(where + off, sizeof where - off, "%s[%s%s%s]",
                                found ? " or " : " (it belongs in ", S->name, S->cap ? " " : "",
                                S->cap ? (S->inst_arg ? S->inst_arg : "NAME") : "");
        found++;
    }
    return bl_cfg_errorf(e, file, line, "unknown key '%s' in [%s]%s%s", key, sec, where,
                         found ? ")" : "");
}

int bl_conf_set(const bl_conf_schema_t *s, void *conf, const char *section, const char *key,
                const char *val, const char *file, unsigned line, bl_cfg_err_t *e)
{
    char sec[256];
    const char *inst = NULL;
    while (*section == ' ' || *section == '\t')
        section++;
    snprintf(sec, sizeof sec, "%s", section);
    for (size_t l = strlen(sec); l && (sec[l - 1] == ' ' || sec[l - 1] == '\t');)
        sec[--l] = 0;
    const bl_conf_section_t *S = find_section(s, sec, &inst);
    if (!S)
        return bl_cfg_errorf(e, file, line, "unknown section [%s]", sec);
    const bl_conf_opt_t *o = find_opt(s, S, key);
    if (!o)
        return unknown_key(s, key, sec, file, line, e);
    void *base = conf;
    if (S->cap && !(base = instance(s, S, conf, inst, file, line, e)))
        return BL_ECONFIG;
    if (!S->cap && S->present_off)
        *(int *)FIELD(conf, S->present_off - 1) = 1;
    if (!S->cap && S->line_off && !*(unsigned *)FIELD(conf, S->line_off - 1))
        *(unsigned *)FIELD(conf, S->line_off - 1) = line;
    const char *why = NULL;
    /* inih cuts a value at a ';' after a blank, except on a continuation
     * line; such a value could not be written back (--print-config). */
    int rc = BL_ECONFIG;
    if (strstr(val, " ;") || strstr(val, "\t;"))
        why = "a ';' after a blank starts a comment";
    else
        rc = set_value(o, base, key, val, &why);
    if (rc) {
        char expect[256];
        expect_of(o, expect, sizeof expect);
        size_t vl = strlen(val);
        return bl_cfg_errorf(e, file, line, "%s = %.*s%s: %s; expected %s", key,
                             vl > 80 ? 77 : (int)vl, val, vl > 80 ? "..." : "",
                             why ? why : "invalid", expect);
    }
    if (o->line_off)
        *(unsigned *)FIELD(base, o->line_off - 1) = line;
    return 0;
}

/* ---- files ----------------------------------------------------------- */

typedef struct {
    const bl_conf_schema_t *s;
    void *conf;
    FILE *f;
    const char *name;
    unsigned line, errline;
    int rc;
    bl_cfg_err_t *e;
} load_t;

/* inih's reader: counts lines, so that every message names its line, and
 * refuses a line that fills inih's buffer (which would split it in two). */
static char *reader(char *str, int num, void *stream)
{
    load_t *L = stream;
    if (L->rc || !fgets(str, num, L->f))
        return NULL;
    L->line++;
    /* inih keeps 49 bytes of a section name and would silently cut a longer one. */
    const char *p = str + strspn(str, " \t");
    if (*p == '[' && strcspn(p + 1, "]\n") >= INI_SECTION_MAX) {
        L->rc = bl_cfg_errorf(L->e, L->name, L->line, "section name longer than %d characters",
                              INI_SECTION_MAX - 1);
        L->errline = L->line;
        return NULL;
    }
    size_t n = strlen(str);
    if (n + 1 == (size_t)num && str[n - 1] != '\n') {
        L->rc = bl_cfg_errorf(L->e, L->name, L->line, "line longer than %d characters", num - 2);
        L->errline = L->line;
        return NULL;
    }
    return str;
}

static int handler(void *user, const char *section, const char *key, const char *val)
{
    load_t *L = user;
    if (L->rc)
        return 0;
    int rc = bl_conf_set(L->s, L->conf, section, key, val, L->name, L->line, L->e);
    if (rc) {
        L->rc = rc;
        L->errline = L->line;
        return 0;
    }
    return 1;
}

int bl_conf_load_file(const bl_conf_schema_t *s, void *conf, FILE *f, const char *name,
                      bl_cfg_err_t *e)
{
    load_t L = {.s = s, .conf = conf, .f = f, .name = name, .e = e};
#ifdef BL_INIH_RUNTIME_LINE
    ini_use_stack = 0; /* one heap buffer of INI_BUF bytes */
    ini_allow_realloc = 0;
    ini_max_line = INI_BUF;
    ini_initial_alloc = INI_BUF;
#endif
    int r = ini_parse_stream(reader, &L, handler, &L);
    if (r > 0 && (!L.rc || (unsigned)r < L.errline))
        return bl_cfg_errorf(e, name, (unsigned)r,
                             "syntax error (expected [section] or key = value)");
    if (L.rc)
        return L.rc;
    if (r < 0)
        return bl_cfg_errorf(e, name, 0, "out of memory");
    if (ferror(f))
        return bl_cfg_errorf(e, name, 0, "read error");
    return 0;
}

int bl_conf_load(const bl_conf_schema_t *s, void *conf, const char *path, bl_cfg_err_t *e)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        bl_cfg_errorf(e, path, 0, "%s", strerror(errno));
        return BL_EIO;
    }
    int rc = bl_conf_load_file(s, conf, f, path, e);
    fclose(f);
    return rc;
}

/* ---- printing -------------------------------------------------------- */

/* The i-th "key = value" pair of o in base: 0, or -1 after the last. */
static int get_pair(const bl_conf_opt_t *o, const void *base, size_t i, char *key, size_t kn,
                    char *val, size_t vn)
{
    const void *p = CFIELD(base, o->off);
    double d;
    if (o->type == BL_CONF_CUSTOM)
        return o->get(base, i, key, kn, val, vn);
    snprintf(key, kn, "%s", o->key);
    if (o->flags & BL_CONF_MULTI) {
        if (i >= *(const unsigned *)CFIELD(base, o->count_off - 1))
            return -1;
        snprintf(val, vn, "%s", ((char *const *)p)[i]);
        return 0;
    }
    if (i)
        return -1;
    /* 0 outside the range of an option with no default: not set (a daemon
     * derives the value, as the mirror's freeze_after). */
    if ((o->type == BL_CONF_DURATION || o->type == BL_CONF_SIZE || o->type == BL_CONF_UINT) &&
        !o->def && o->min > 0 && !get_uint(p, o->size))
        return -1;
    switch (o->type) {
    case BL_CONF_STR:
    case BL_CONF_PATH:
    case BL_CONF_ADDR:
        if (!(o->flags & BL_CONF_HEAP))
            snprintf(val, vn, "%s", (const char *)p);
        else if (*(char *const *)p)
            snprintf(val, vn, "%s", *(char *const *)p);
        else
            return -1;
        return 0;
    case BL_CONF_DURATION:
        bl_cfg_duration_format((int64_t)(get_uint(p, o->size) * unit_of(o)), val, vn);
        return 0;
    case BL_CONF_SIZE:
        bl_cfg_size_format(get_uint(p, o->size), val, vn);
        return 0;
    case BL_CONF_UINT:
        snprintf(val, vn, "%llu", (unsigned long long)get_uint(p, o->size));
        return 0;
    case BL_CONF_NUMBER:
        memcpy(&d, p, sizeof d);
        bl_cfg_number_format(d, val, vn);
        return 0;
    case BL_CONF_BOOL:
        snprintf(val, vn, "%s", get_int(p, o->size) ? "yes" : "no");
        return 0;
    case BL_CONF_ENUM:
        for (size_t k = 0; o->names && o->names[k].name; k++)
            if (o->names[k].value == get_int(p, o->size)) {
                snprintf(val, vn, "%s", o->names[k].name);
                return 0;
            }
        snprintf(val, vn, "%d", get_int(p, o->size));
        return 0;
    default:
        return -1;
    }
}

/* Every pair of o in base as "key=value\n" lines (for comparisons). */
static char *all_pairs(const bl_conf_opt_t *o, const void *base)
{
    char *buf = malloc(PAIRSLEN), key[KEYLEN], val[VALLEN];
    size_t off = 0;
    if (!buf)
        return NULL;
    buf[0] = 0;
    for (size_t i = 0; off < PAIRSLEN && !get_pair(o, base, i, key, sizeof key, val, sizeof val);
         i++)
        off += (size_t)snprintf(buf + off, PAIRSLEN - off, "%s=%s\n", key, val);
    return buf;
}

static int same_value(const bl_conf_opt_t *o, const void *a, const void *b)
{
    char *x = all_pairs(o, a), *y = all_pairs(o, b);
    int same = x && y && !strcmp(x, y);
    free(x);
    free(y);
    return same;
}

/* Writes text as "# " comment lines of at most WRAP columns. */
static void comment(FILE *f, const char *text)
{
    const char *p = text;
    while (p && *p) {
        while (*p == ' ')
            p++;
        size_t len = strlen(p), cut = len;
        if (len > WRAP - 2) {
            cut = WRAP - 2;
            while (cut > 0 && p[cut] != ' ')
                cut--;
            if (!cut)
                cut = strcspn(p, " ");
        }
        fprintf(f, "# %.*s\n", (int)cut, p);
        p += cut;
    }
}

/* The key as documented: "reason.N" for a prefix. */
static void doc_key(const bl_conf_opt_t *o, char *buf, size_t n)
{
    snprintf(buf, n, "%s%s", o->key, (o->flags & BL_CONF_PREFIX) ? "N" : "");
}

/* off: the section is commented out; force: print the value even if it is
 * the default (a section needs one key to exist when read back). */
static void print_opt(FILE *f, const bl_conf_opt_t *o, const void *base, const void *ref, int off,
                      int force, unsigned how)
{
    char key[KEYLEN], val[VALLEN], dk[KEYLEN];
    if (o->flags & BL_CONF_ALIAS)
        return;
    if (how & BL_CONF_PRINT_SAMPLE) {
        comment(f, o->help);
        comment(f, o->doc);
    }
    doc_key(o, dk, sizeof dk);
    int isdef = !force && (off || same_value(o, base, ref));
    int scalar = !(o->flags & (BL_CONF_MULTI | BL_CONF_PREFIX));
    /* No value, or a text option's empty one. */
    int unset = get_pair(o, base, 0, key, sizeof key, val, sizeof val) ||
                (scalar && !val[0] && get_pair(o, base, 1, key, sizeof key, val, sizeof val));
    const char *c = isdef ? "#" : "";
    if (o->flags & BL_CONF_SECRET) {
        fprintf(f, "#%s =%s\n", dk, unset ? "" : BL_CONF_HIDDEN);
        return;
    }
    if (unset) {
        if ((how & BL_CONF_PRINT_SAMPLE) && o->example)
            fprintf(f, "#%s = %s\n", dk, o->example);
        else
            fprintf(f, "%s%s =\n", c, dk);
        return;
    }
    for (size_t i = 0; !get_pair(o, base, i, key, sizeof key, val, sizeof val); i++) {
        const char *v = isdef && scalar && o->def ? o->def : val;
        /* Without spaces, a value that filled a line of the file still fits and
         * one that starts with ';' is no comment (inih: ';' after a space). */
        const char *eq =
            strlen(c) + strlen(key) + 3 + strlen(v) > INI_LINE_MAX || *v == ';' ? "=" : " = ";
        fprintf(f, "%s%s%s%s\n", c, key, eq, v);
    }
}

static void print_section(FILE *f, const bl_conf_schema_t *s, const bl_conf_section_t *S,
                          const void *base, const void *ref, const char *inst, int off,
                          unsigned how)
{
    fputc('\n', f);
    if (how & BL_CONF_PRINT_SAMPLE)
        comment(f, S->doc);
    fprintf(f, "%s[%s%s%s]\n", off ? "#" : "", S->name, inst ? " " : "", inst ? inst : "");
    /* An instance, or a section whose presence counts, that holds only
     * defaults keeps one set option so that it exists when read back. */
    int keep = (inst || S->present_off) && !off;
    size_t forced = s->nopts;
    char key[KEYLEN], val[VALLEN];
    for (size_t i = 0; keep && i < s->nopts; i++) {
        const bl_conf_opt_t *o = &s->opts[i];
        if (!section_is(o, S) || (o->flags & BL_CONF_ALIAS))
            continue;
        keep = same_value(o, base, ref);
        if (forced == s->nopts && !(o->flags & BL_CONF_SECRET) &&
            !get_pair(o, base, 0, key, sizeof key, val, sizeof val) && val[0])
            forced = i;
    }
    for (size_t i = 0; i < s->nopts; i++)
        if (section_is(&s->opts[i], S))
            print_opt(f, &s->opts[i], base, ref, off, keep && i == forced, how);
}

int bl_conf_print(const bl_conf_schema_t *s, const void *conf, FILE *f, unsigned how)
{
    void *ref = calloc(1, s->conf_size);
    if (!ref)
        return BL_ENOMEM;
    bl_conf_defaults(s, ref);
    for (size_t i = 0; i < s->nsections; i++) {
        const bl_conf_section_t *S = &s->sections[i];
        if (!S->cap) {
            int off = S->present_off && !*(const int *)CFIELD(conf, S->present_off - 1);
            print_section(f, s, S, conf, ref, NULL, off, how);
            continue;
        }
        void *eref = calloc(1, S->elem_size);
        if (!eref)
            break;
        section_defaults(s, S, eref);
        for (unsigned k = 0; k < *inst_count(S, conf); k++) {
            const void *el = inst_at(S, conf, k);
            print_section(f, s, S, el, eref, CFIELD(el, S->name_off), 0, how);
        }
        section_free(s, S, eref);
        free(eref);
    }
    bl_conf_free(s, ref);
    free(ref);
    return ferror(f) ? BL_EIO : 0;
}

size_t bl_conf_section_changes(const bl_conf_schema_t *s, const void *a, const void *b,
                               const char *const *sections, char *buf, size_t n)
{
    size_t count = 0, off = 0;
    if (n)
        buf[0] = 0;
    for (size_t j = 0; j < s->nopts; j++) {
        const bl_conf_opt_t *o = &s->opts[j];
        int listed = 0;
        for (const char *const *sec = sections; *sec && !listed; sec++)
            listed = !strcmp(o->section, *sec);
        if (!listed || (o->flags & BL_CONF_ALIAS) || same_value(o, a, b))
            continue;
        if (off < n)
            off += (size_t)snprintf(buf + off, n - off, "%s[%s] %s", count ? ", " : "", o->section,
                                    o->key);
        count++;
    }
    return count;
}

size_t bl_conf_restart_changes(const bl_conf_schema_t *s, const void *a, const void *b, char *buf,
                               size_t n)
{
    size_t count = 0, off = 0;
    if (n)
        buf[0] = 0;
    for (size_t i = 0; i < s->nsections; i++) {
        const bl_conf_section_t *S = &s->sections[i];
        size_t na = S->cap ? *inst_count(S, a) : 1, nb = S->cap ? *inst_count(S, b) : 1;
        for (size_t k = 0; k < na || k < nb; k++) {
            const void *x = S->cap ? inst_at(S, a, k) : a, *y = S->cap ? inst_at(S, b, k) : b;
            const char *inst = S->cap && k < nb ? CFIELD(y, S->name_off) : NULL;
            for (size_t j = 0; j < s->nopts; j++) {
                const bl_conf_opt_t *o = &s->opts[j];
                if (!section_is(o, S) || (o->flags & (BL_CONF_HOT | BL_CONF_ALIAS)))
                    continue;
                if (k < na && k < nb && same_value(o, x, y) &&
                    (!S->cap || !strcmp(CFIELD(x, S->name_off), CFIELD(y, S->name_off))))
                    continue;
                if (off < n)
                    off += (size_t)snprintf(buf + off, n - off, "%s[%s%s%s] %s", count ? ", " : "",
                                            S->name, inst ? " " : "", inst ? inst : "", o->key);
                count++;
                if (k >= na || k >= nb)
                    break; /* an added or removed instance counts once */
            }
        }
    }
    return count;
}

/* ---- the manual ------------------------------------------------------ */

/* Writes text for roff: backslashes escaped, no line starting with a dot. */
static void roff(FILE *f, const char *text)
{
    int bol = 1;
    for (const char *p = text; *p; p++) {
        if (bol && (*p == '.' || *p == '\''))
            fputs("\\&", f);
        if (*p == '\\')
            fputs("\\e", f);
        else
            fputc(*p, f);
        bol = *p == '\n';
    }
    if (!bol)
        fputc('\n', f);
}

/* A value for an inline roff font run: backslashes and hyphens escaped. */
static const char *roff_word(const char *text, char *buf, size_t n)
{
    size_t off = 0;
    for (const char *p = text; *p && off + 3 < n; p++) {
        if (*p == '\\' || *p == '-')
            buf[off++] = '\\';
        buf[off++] = *p == '\\' ? 'e' : *p;
    }
    buf[off] = 0;
    return buf;
}

static void add_fact(char *buf, size_t *off, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void add_fact(char *buf, size_t *off, size_t n, const char *fmt, ...)
{
    if (*off >= n)
        return;
    if (*off)
        *off += (size_t)snprintf(buf + *off, n - *off, "; ");
    va_list ap;
    va_start(ap, fmt);
    if (*off < n)
        *off += (size_t)vsnprintf(buf + *off, n - *off, fmt, ap);
    va_end(ap);
}

static const char *arg_of(const bl_conf_opt_t *o)
{
    static const char *const args[] = {
        [BL_CONF_STR] = "text",          [BL_CONF_PATH] = "path",    [BL_CONF_ADDR] = "address",
        [BL_CONF_DURATION] = "duration", [BL_CONF_SIZE] = "size",    [BL_CONF_UINT] = "n",
        [BL_CONF_NUMBER] = "number",     [BL_CONF_BOOL] = "boolean", [BL_CONF_CUSTOM] = "value",
    };
    if (o->arg)
        return o->arg;
    return o->type < sizeof args / sizeof args[0] && args[o->type] ? args[o->type] : "value";
}

static void man_opt(FILE *f, const bl_conf_opt_t *o)
{
    char w[KEYLEN];
    fprintf(f, ".TP\n\\fB%s", roff_word(o->key, w, sizeof w));
    if (o->flags & BL_CONF_PREFIX)
        fputs("\\fIN", f);
    fputs("\\fR = ", f);
    if (o->type == BL_CONF_ENUM) {
        char names[256];
        enum_names(o, "\\fR|\\fB", "\\fR|\\fB", names, sizeof names);
        fprintf(f, "\\fB%s\\fR", names);
    } else {
        fprintf(f, "\\fI%s\\fR", arg_of(o));
    }
    fputs(o->flags & BL_CONF_MULTI ? " ...\n" : "\n", f);
    roff(f, o->help);
    if (o->doc)
        roff(f, o->doc);
    /* One sentence of facts: default, range, repeatable, required, reload. */
    char facts[512], range[128], v[VALLEN];
    size_t off = 0;
    range_of(o, range, sizeof range);
    facts[0] = 0;
    if (o->def && *o->def)
        add_fact(facts, &off, sizeof facts, "default \\fB\\%%%s\\fR",
                 roff_word(o->def, v, sizeof v));
    else if (o->example)
        add_fact(facts, &off, sizeof facts, "for example \\fB\\%%%s\\fR",
                 roff_word(o->example, v, sizeof v));
    if (range[0])
        add_fact(facts, &off, sizeof facts, "%s", range);
    if (o->type == BL_CONF_ADDR && o->port)
        add_fact(facts, &off, sizeof facts, "the port defaults to %d", o->port);
    if (o->type == BL_CONF_DURATION && unit_of(o) == 1000)
        add_fact(facts, &off, sizeof facts, "whole seconds");
    if (o->flags & BL_CONF_MULTI)
        add_fact(facts, &off, sizeof facts, "%s",
                 o->flags & BL_CONF_WHOLE ? "repeat the key for more values"
                                          : "repeat the key or separate values with spaces");
    if (o->flags & BL_CONF_REQUIRED)
        add_fact(facts, &off, sizeof facts, "required");
    if (o->flags & BL_CONF_HOT)
        add_fact(facts, &off, sizeof facts, "reloaded on \\fBSIGHUP\\fR");
    if (facts[0]) {
        facts[0] = (char)(facts[0] - 'a' + 'A');
        fprintf(f, "%s.\n", facts);
    }
}

int bl_conf_print_man(const bl_conf_schema_t *s, FILE *f)
{
    size_t nhot = 0, k = 0;
    for (size_t i = 0; i < s->nopts; i++)
        nhot += (s->opts[i].flags & (BL_CONF_HOT | BL_CONF_ALIAS)) == BL_CONF_HOT;
    fputs(".PP\n", f);
    if (nhot) {
        fputs(".B SIGHUP\nreloads\n", f);
        for (size_t i = 0; i < s->nopts; i++) {
            const bl_conf_opt_t *o = &s->opts[i];
            char dk[KEYLEN], w[KEYLEN];
            if ((o->flags & (BL_CONF_HOT | BL_CONF_ALIAS)) != BL_CONF_HOT)
                continue;
            doc_key(o, dk, sizeof dk);
            k++;
            fprintf(f, "%s.BR %s %s\n", k == nhot && k > 1 ? "and\n" : "",
                    roff_word(dk, w, sizeof w), k == nhot ? ";" : ",");
        }
        fputs("every other option takes effect on restart.\n", f);
    } else {
        fputs("Every option takes effect on restart.\n", f);
    }
    for (size_t i = 0; i < s->nsections; i++) {
        const bl_conf_section_t *S = &s->sections[i];
        if (S->cap)
            fprintf(f, ".SS [%s \\fI%s\\fP]\n", S->name, S->inst_arg ? S->inst_arg : "name");
        else
            fprintf(f, ".SS [%s]\n", S->name);
        if (S->doc)
            roff(f, S->doc);
        for (size_t j = 0; j < s->nopts; j++)
            if (section_is(&s->opts[j], S))
                man_opt(f, &s->opts[j]);
    }
    return ferror(f) ? BL_EIO : 0;
}

/* ---- the table's own check ------------------------------------------- */

int bl_conf_schema_check(const bl_conf_schema_t *s, char *err, size_t n)
{
    size_t scratch = s->conf_size;
    for (size_t i = 0; i < s->nsections; i++)
        if (s->sections[i].elem_size > scratch)
            scratch = s->sections[i].elem_size;
    void *base = calloc(1, scratch);
    int rc = 0;
    if (!base)
        return BL_ENOMEM;
#define BAD(...) (snprintf(err, n, __VA_ARGS__), rc = BL_ECONFIG)
    for (size_t i = 0; !rc && i < s->nopts; i++) {
        const bl_conf_opt_t *o = &s->opts[i];
        const char *inst, *why = NULL;
        const bl_conf_section_t *S = find_section(s, o->section, &inst);
        if (!S || strcmp(S->name, o->section))
            BAD("%s: section [%s] is not declared", o->key, o->section);
        else if (!o->key[0] || !o->help || !o->help[0] || strchr(o->help, '\n'))
            BAD("[%s] %s: needs a key and one line of help", o->section, o->key);
        else if (o->type < BL_CONF_STR || o->type > BL_CONF_CUSTOM)
            BAD("[%s] %s: no type", o->section, o->key);
        else if ((o->flags & BL_CONF_MULTI) && (!is_text(o) || !o->count_off))
            BAD("[%s] %s: only text options repeat, with BL_CONF_LIST", o->section, o->key);
        else if ((o->flags & BL_CONF_HEAP) && (!is_text(o) || o->size != sizeof(char *)))
            BAD("[%s] %s: BL_CONF_HEAP needs a char * field", o->section, o->key);
        else if (o->type == BL_CONF_CUSTOM ? !o->set || !o->get : (o->flags & BL_CONF_PREFIX) != 0)
            BAD("[%s] %s: CUSTOM needs set and get; only CUSTOM takes a prefix", o->section,
                o->key);
        else if (o->type == BL_CONF_ENUM && (!o->names || !o->names[0].name))
            BAD("[%s] %s: an enum needs names", o->section, o->key);
        else if (o->type == BL_CONF_NUMBER && o->size != sizeof(double))
            BAD("[%s] %s: a number needs a double field", o->section, o->key);
        else if (o->max > 0 && (uint64_t)o->max > natural_max(o) && o->type != BL_CONF_NUMBER)
            BAD("[%s] %s: max does not fit the field", o->section, o->key);
        else if (o->max > 0 && o->min > o->max)
            BAD("[%s] %s: min above max", o->section, o->key);
        else if (o->def && set_value(o, base, o->key, o->def, &why))
            BAD("[%s] %s: default '%s' does not parse: %s", o->section, o->key, o->def,
                why ? why : "");
        for (size_t j = 0; !rc && j < i; j++)
            if (!strcmp(s->opts[j].section, o->section) && !strcmp(s->opts[j].key, o->key))
                BAD("[%s] %s is declared twice", o->section, o->key);
        opt_free(o, base);
        memset(base, 0, scratch);
    }
#undef BAD
    free(base);
    return rc;
}
