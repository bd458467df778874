/* SPDX-License-Identifier: MIT */
/* Metrics registry: per-thread sharded atomics updated lock-free, summed into Prometheus text. */
#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "util.h"
#include "grow.h"

/*
 * Layout. A counter series owns BL_METRICS_SHARDS cache lines, one atomic
 * cell each; a histogram series owns BL_METRICS_SHARDS blocks of
 * (nbuckets + 1) counts plus the sum, each block padded to a cache line. A
 * thread picks its shard once (round robin) and only ever adds to it, so
 * with up to BL_METRICS_SHARDS threads no two threads write the same line.
 * Histogram buckets are kept per bucket (not cumulative) and made cumulative
 * at scrape; _count is the +Inf total, so an exposition is always
 * consistent even while other threads observe.
 *
 * Gauges are one atomic double (bits in a uint64): they are set, rarely
 * added to, and need no sharding.
 */

#define BL_METRICS_SHARDS 16
#define CACHE_LINE        64

const double bl_metrics_buckets_propagation[] = {
    0.1, 0.25, 0.5,  1,    2.5,  5,    10,    30,    60,    120,   300,
    600, 900,  1800, 3600, 5400, 7200, 10800, 12600, 14400, 21600, 28800,
};
const size_t bl_metrics_buckets_propagation_n =
    sizeof bl_metrics_buckets_propagation / sizeof bl_metrics_buckets_propagation[0];
const double bl_metrics_buckets_duration[] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
};
const size_t bl_metrics_buckets_duration_n =
    sizeof bl_metrics_buckets_duration / sizeof bl_metrics_buckets_duration[0];
const double bl_metrics_buckets_bytes[] = {
    256,     1024,    4096,     16384,    65536,     262144,
    1048576, 4194304, 16777216, 67108864, 268435456, 1073741824,
};
const size_t bl_metrics_buckets_bytes_n =
    sizeof bl_metrics_buckets_bytes / sizeof bl_metrics_buckets_bytes[0];

struct bl_metrics_series {
    bl_metric_t *fam;
    char *values[BL_METRICS_MAX_LABELS];
    int active; /* exported; changed under the registry lock */
    /* counter: shards of one cell; histogram: shards of hstride cells */
    _Atomic uint64_t *cells;
    _Atomic uint64_t gauge; /* double bits */
    double (*fn)(void *arg);
    void *fn_arg;
};

struct bl_metric {
    bl_metrics_t *reg;
    char *name;
    char *help;
    bl_metrics_type_t type;
    char *labels[BL_METRICS_MAX_LABELS];
    size_t nlabels;
    unsigned max_series;
    double buckets[BL_METRICS_MAX_BUCKETS];
    size_t nbuckets;
    size_t hstride; /* cells per histogram shard: nbuckets + 1 counts, the sum, padding */
    bl_metrics_series_t **series;
    size_t nseries;
};

struct bl_metrics {
    pthread_mutex_t lock;
    bl_metric_t **fams;
    size_t nfams;
    bl_metrics_series_t *dropped; /* blsync_metrics_series_dropped_total */
    /* The logger's per-event counts, copied in at each render (catalogs set them). */
    bl_metric_t *log_events, *log_suppressed;
    pthread_mutex_t collect_lock; /* one copy at a time: each adds what the last did not */
};

static atomic_uint next_shard;
/* initial-exec: libblsync is linked, never dlopen()ed, so its TLS is static and
 * reaching it costs no __tls_get_addr call on the hot path. */
static _Thread_local int my_shard __attribute__((tls_model("initial-exec"))) = -1;

static inline size_t shard(void)
{
    if (my_shard < 0)
        my_shard = (int)(atomic_fetch_add_explicit(&next_shard, 1, memory_order_relaxed) %
                         BL_METRICS_SHARDS);
    return (size_t)my_shard;
}

static inline uint64_t dbits(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static inline double bitsd(uint64_t u)
{
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static void atomic_add_double(_Atomic uint64_t *cell, double d)
{
    uint64_t old = atomic_load_explicit(cell, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(cell, &old, dbits(bitsd(old) + d),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

static void *cache_alloc(size_t bytes)
{
    size_t n = (bytes + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;
    void *p = aligned_alloc(CACHE_LINE, n);
    if (p)
        memset(p, 0, n);
    return p;
}

static int valid_name(const char *s, int label)
{
    if (!s || !*s)
        return 0;
    for (const char *p = s; *p; p++) {
        int alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
                    (!label && *p == ':');
        int digit = *p >= '0' && *p <= '9';
        if (!alpha && !(digit && p != s))
            return 0;
    }
    if (label && s[0] == '_' && s[1] == '_')
        return 0; /* reserved by Prometheus */
    return 1;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

bl_metrics_t *bl_metrics_new(void)
{
    bl_metrics_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    pthread_mutex_init(&r->lock, NULL);
    pthread_mutex_init(&r->collect_lock, NULL);
    static const bl_metrics_desc_t dropped = {
        .name = "blsync_metrics_series_dropped_total",
        .help = "Label sets refused because a metric family reached its series limit.",
        .type = BL_METRICS_COUNTER,
    };
    bl_metric_t *m;
    if (bl_metrics_register(r, &dropped, &m) < 0) {
        bl_metrics_free(r);
        return NULL;
    }
    r->dropped = m->series[0];
    return r;
}

static void series_free(bl_metrics_series_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < BL_METRICS_MAX_LABELS; i++)
        free(s->values[i]);
    free(s->cells);
    free(s);
}

static void family_free(bl_metric_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nseries; i++)
        series_free(m->series[i]);
    free(m->series);
    for (size_t i = 0; i < m->nlabels; i++)
        free(m->labels[i]);
    free(m->name);
    free(m->help);
    free(m);
}

void bl_metrics_free(bl_metrics_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nfams; i++)
        family_free(r->fams[i]);
    free(r->fams);
    pthread_mutex_destroy(&r->lock);
    pthread_mutex_destroy(&r->collect_lock);
    free(r);
}

/* Creates a series with copies of values; the caller holds the lock. */
static bl_metrics_series_t *series_new(bl_metric_t *m, const char *const *values)
{
    bl_metrics_series_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->fam = m;
    for (size_t i = 0; i < m->nlabels; i++) {
        size_t n = strnlen(values[i], BL_METRICS_LABEL_MAX);
        s->values[i] = malloc(n + 1);
        if (!s->values[i])
            goto fail;
        for (size_t j = 0; j < n; j++) {
            unsigned char c = (unsigned char)values[i][j];
            s->values[i][j] = (c < 0x20 || c >= 0x7f) ? '_' : (char)c;
        }
        s->values[i][n] = 0;
    }
    if (m->type == BL_METRICS_COUNTER)
        s->cells = cache_alloc((size_t)BL_METRICS_SHARDS * CACHE_LINE);
    else if (m->type == BL_METRICS_HISTOGRAM)
        s->cells = cache_alloc((size_t)BL_METRICS_SHARDS * m->hstride * sizeof(uint64_t));
    if (m->type != BL_METRICS_GAUGE && !s->cells)
        goto fail;
    atomic_init(&s->gauge, dbits(0));
    s->active = 1;
    bl_metrics_series_t **grown = realloc(m->series, (m->nseries + 1) * sizeof *grown);
    if (!grown)
        goto fail;
    m->series = grown;
    m->series[m->nseries++] = s;
    return s;
fail:
    series_free(s);
    return NULL;
}

int bl_metrics_register(bl_metrics_t *r, const bl_metrics_desc_t *d, bl_metric_t **out)
{
    if (!r || !d || !out || !valid_name(d->name, 0) || !d->help)
        return BL_EINVAL;
    if (d->type != BL_METRICS_COUNTER && d->type != BL_METRICS_GAUGE &&
        d->type != BL_METRICS_HISTOGRAM)
        return BL_EINVAL;
    /* The exposition appends _bucket/_sum/_count; a counter must say _total. */
    if ((d->type == BL_METRICS_COUNTER) != ends_with(d->name, "_total"))
        return BL_EINVAL;
    size_t nl = 0;
    while (nl < BL_METRICS_MAX_LABELS && d->labels[nl]) {
        if (!valid_name(d->labels[nl], 1) ||
            (d->type == BL_METRICS_HISTOGRAM && !strcmp(d->labels[nl], "le")))
            return BL_EINVAL;
        for (size_t j = 0; j < nl; j++)
            if (!strcmp(d->labels[j], d->labels[nl]))
                return BL_EINVAL;
        nl++;
    }
    if (d->type == BL_METRICS_HISTOGRAM) {
        if (!d->buckets || d->nbuckets == 0 || d->nbuckets > BL_METRICS_MAX_BUCKETS)
            return BL_EINVAL;
        for (size_t i = 0; i < d->nbuckets; i++)
            if (!isfinite(d->buckets[i]) || (i > 0 && d->buckets[i] <= d->buckets[i - 1]))
                return BL_EINVAL;
    }

    bl_metric_t *m = calloc(1, sizeof *m);
    if (!m)
        return BL_ENOMEM;
    m->reg = r;
    m->type = d->type;
    m->nlabels = nl;
    m->max_series = d->max_series ? d->max_series : (nl ? 64 : 1);
    m->name = strdup(d->name);
    m->help = strdup(d->help);
    if (!m->name || !m->help)
        goto nomem;
    for (size_t i = 0; i < nl; i++)
        if (!(m->labels[i] = strdup(d->labels[i])))
            goto nomem;
    if (d->type == BL_METRICS_HISTOGRAM) {
        memcpy(m->buckets, d->buckets, d->nbuckets * sizeof(double));
        m->nbuckets = d->nbuckets;
        size_t per_line = CACHE_LINE / sizeof(uint64_t);
        m->hstride = (m->nbuckets + 2 + per_line - 1) / per_line * per_line;
    }

    int err = 0;
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->nfams; i++)
        if (!strcmp(r->fams[i]->name, m->name))
            err = BL_EEXIST;
    if (!err) {
        bl_metric_t **grown = realloc(r->fams, (r->nfams + 1) * sizeof *grown);
        if (grown) {
            r->fams = grown;
            r->fams[r->nfams++] = m;
            if (nl == 0 && !series_new(m, NULL)) {
                r->nfams--;
                err = BL_ENOMEM;
            }
        } else {
            err = BL_ENOMEM;
        }
    }
    pthread_mutex_unlock(&r->lock);
    if (err) {
        family_free(m);
        return err;
    }
    *out = m;
    return 0;
nomem:
    family_free(m);
    return BL_ENOMEM;
}

static int values_match(const bl_metrics_series_t *s, const char *const *values)
{
    for (size_t i = 0; i < s->fam->nlabels; i++) {
        const char *a = s->values[i], *b = values[i];
        size_t n = strnlen(b, BL_METRICS_LABEL_MAX);
        if (strlen(a) != n)
            return 0;
        for (size_t j = 0; j < n; j++) {
            unsigned char c = (unsigned char)b[j];
            if (a[j] != ((c < 0x20 || c >= 0x7f) ? '_' : (char)c))
                return 0;
        }
    }
    return 1;
}

bl_metrics_series_t *bl_metrics_series(bl_metric_t *m, const char *const *values)
{
    if (!m)
        return NULL;
    size_t n = 0;
    while (values && values[n])
        n++;
    if (n != m->nlabels)
        return NULL;
    bl_metrics_t *r = m->reg;
    bl_metrics_series_t *s = NULL;
    int full = 0;
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < m->nseries && !s; i++)
        if (values_match(m->series[i], values))
            s = m->series[i];
    if (s)
        s->active = 1;
    else if (m->nseries < m->max_series)
        s = series_new(m, values);
    else
        full = 1;
    pthread_mutex_unlock(&r->lock);
    if (full)
        bl_metrics_inc(r->dropped);
    return s;
}

void bl_metrics_add(bl_metrics_series_t *s, uint64_t n)
{
    if (!s || s->fam->type != BL_METRICS_COUNTER)
        return;
    _Atomic uint64_t *cell = s->cells + shard() * (CACHE_LINE / sizeof(uint64_t));
    atomic_fetch_add_explicit(cell, n, memory_order_relaxed);
}

void bl_metrics_inc(bl_metrics_series_t *s)
{
    bl_metrics_add(s, 1);
}

void bl_metrics_set(bl_metrics_series_t *s, double v)
{
    if (!s || s->fam->type != BL_METRICS_GAUGE)
        return;
    atomic_store_explicit(&s->gauge, dbits(v), memory_order_relaxed);
}

void bl_metrics_gauge_add(bl_metrics_series_t *s, double d)
{
    if (!s || s->fam->type != BL_METRICS_GAUGE)
        return;
    atomic_add_double(&s->gauge, d);
}

void bl_metrics_set_fn(bl_metrics_series_t *s, double (*fn)(void *arg), void *arg)
{
    if (!s || s->fam->type != BL_METRICS_GAUGE)
        return;
    pthread_mutex_lock(&s->fam->reg->lock);
    s->fn = fn;
    s->fn_arg = arg;
    pthread_mutex_unlock(&s->fam->reg->lock);
}

static double age_fn(void *arg)
{
    const _Atomic int64_t *since = arg;
    int64_t t = atomic_load_explicit(since, memory_order_relaxed);
    if (t == 0)
        return 0;
    int64_t d = bl_now_ms() - t;
    return d > 0 ? (double)d / 1000.0 : 0;
}

void bl_metrics_set_age(bl_metrics_series_t *s, const _Atomic int64_t *since_ms)
{
    bl_metrics_set_fn(s, since_ms ? age_fn : NULL, (void *)since_ms);
}

void bl_metrics_observe(bl_metrics_series_t *s, double v)
{
    if (!s || s->fam->type != BL_METRICS_HISTOGRAM || isnan(v))
        return;
    const bl_metric_t *m = s->fam;
    size_t b = 0;
    while (b < m->nbuckets && v > m->buckets[b])
        b++;
    _Atomic uint64_t *blk = s->cells + shard() * m->hstride;
    atomic_fetch_add_explicit(&blk[b], 1, memory_order_relaxed);
    atomic_add_double(&blk[m->nbuckets + 1], v);
}

static void series_reset(bl_metrics_series_t *s)
{
    const bl_metric_t *m = s->fam;
    size_t cells = 0;
    if (m->type == BL_METRICS_COUNTER)
        cells = (size_t)BL_METRICS_SHARDS * CACHE_LINE / sizeof(uint64_t);
    else if (m->type == BL_METRICS_HISTOGRAM)
        cells = (size_t)BL_METRICS_SHARDS * m->hstride;
    for (size_t i = 0; i < cells; i++)
        atomic_store_explicit(&s->cells[i], 0, memory_order_relaxed);
    atomic_store_explicit(&s->gauge, dbits(0), memory_order_relaxed);
    s->fn = NULL;
    s->fn_arg = NULL;
}

void bl_metrics_remove(bl_metrics_series_t *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->fam->reg->lock);
    s->active = 0;
    series_reset(s);
    pthread_mutex_unlock(&s->fam->reg->lock);
}

static uint64_t counter_sum(const bl_metrics_series_t *s)
{
    uint64_t t = 0;
    for (size_t i = 0; i < BL_METRICS_SHARDS; i++)
        t += atomic_load_explicit(&s->cells[i * (CACHE_LINE / sizeof(uint64_t))],
                                  memory_order_relaxed);
    return t;
}

/* Cumulative counts into cum[0..nbuckets] and the sum. */
static void hist_sum(const bl_metrics_series_t *s, uint64_t *cum, double *sum)
{
    const bl_metric_t *m = s->fam;
    double total = 0;
    memset(cum, 0, (m->nbuckets + 1) * sizeof *cum);
    for (size_t sh = 0; sh < BL_METRICS_SHARDS; sh++) {
        _Atomic uint64_t *blk = s->cells + sh * m->hstride;
        for (size_t b = 0; b <= m->nbuckets; b++)
            cum[b] += atomic_load_explicit(&blk[b], memory_order_relaxed);
        total += bitsd(atomic_load_explicit(&blk[m->nbuckets + 1], memory_order_relaxed));
    }
    for (size_t b = 1; b <= m->nbuckets; b++)
        cum[b] += cum[b - 1];
    *sum = total;
}

/* The gauge's value; the caller holds the lock if fn may be set. */
static double gauge_value(const bl_metrics_series_t *s)
{
    if (s->fn)
        return s->fn(s->fn_arg);
    return bitsd(atomic_load_explicit(&s->gauge, memory_order_relaxed));
}

double bl_metrics_get(bl_metrics_series_t *s)
{
    if (!s)
        return 0;
    switch (s->fam->type) {
    case BL_METRICS_COUNTER:
        return (double)counter_sum(s);
    case BL_METRICS_GAUGE: {
        pthread_mutex_lock(&s->fam->reg->lock);
        double v = gauge_value(s);
        pthread_mutex_unlock(&s->fam->reg->lock);
        return v;
    }
    case BL_METRICS_HISTOGRAM: {
        uint64_t cum[BL_METRICS_MAX_BUCKETS + 1];
        double sum;
        hist_sum(s, cum, &sum);
        return (double)cum[s->fam->nbuckets];
    }
    }
    return 0;
}

int bl_metrics_hist_read(bl_metrics_series_t *s, uint64_t *cum, size_t n, double *sum)
{
    if (!s || s->fam->type != BL_METRICS_HISTOGRAM)
        return BL_EINVAL;
    uint64_t all[BL_METRICS_MAX_BUCKETS + 1];
    double total;
    hist_sum(s, all, &total);
    if (n > s->fam->nbuckets + 1)
        n = s->fam->nbuckets + 1;
    memcpy(cum, all, n * sizeof *cum);
    if (sum)
        *sum = total;
    return (int)n;
}

/* A growable string for the exposition; allocation failure is sticky. */
typedef struct {
    char *p;
    size_t len, cap;
    int err;
} sb_t;

static void sb_grow(sb_t *b, size_t more)
{
    if (b->err)
        return;
    char *p = bl_grow_from(b->p, &b->cap, b->len + more + 1, 1, 4096);
    if (!p) {
        b->err = BL_ENOMEM;
        return;
    }
    b->p = p;
}

static void sb_put(sb_t *b, const char *s, size_t n)
{
    sb_grow(b, n);
    if (b->err)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void sb_str(sb_t *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void sb_printf(sb_t *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        b->err = BL_EINVAL;
        return;
    }
    sb_put(b, tmp, (size_t)n);
}

/* HELP text escapes \ and newline; label values also escape ". */
static void sb_escaped(sb_t *b, const char *s, int quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            sb_str(b, "\\\\");
        else if (*s == '\n')
            sb_str(b, "\\n");
        else if (quote && *s == '"')
            sb_str(b, "\\\"");
        else
            sb_put(b, s, 1);
    }
}

/* Shortest decimal that reads back as v, with Prometheus' spelling of infinities. */
static void sb_double(sb_t *b, double v)
{
    if (isnan(v)) {
        sb_str(b, "NaN");
        return;
    }
    if (isinf(v)) {
        sb_str(b, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    char tmp[40];
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    sb_str(b, tmp);
}

/* name{l1="v1",...[,le="x"]} */
static void sb_sample_name(sb_t *b, const bl_metrics_series_t *s, const char *suffix,
                           const double *le)
{
    const bl_metric_t *m = s->fam;
    sb_str(b, m->name);
    sb_str(b, suffix);
    if (m->nlabels == 0 && !le)
        return;
    sb_str(b, "{");
    for (size_t i = 0; i < m->nlabels; i++) {
        sb_str(b, i ? "," : "");
        sb_str(b, m->labels[i]);
        sb_str(b, "=\"");
        sb_escaped(b, s->values[i], 1);
        sb_str(b, "\"");
    }
    if (le) {
        sb_str(b, m->nlabels ? ",le=\"" : "le=\"");
        sb_double(b, *le);
        sb_str(b, "\"");
    }
    sb_str(b, "}");
}

static void render_series(sb_t *b, const bl_metrics_series_t *s)
{
    const bl_metric_t *m = s->fam;
    switch (m->type) {
    case BL_METRICS_COUNTER:
        sb_sample_name(b, s, "", NULL);
        sb_printf(b, " %llu\n", (unsigned long long)counter_sum(s));
        break;
    case BL_METRICS_GAUGE:
        sb_sample_name(b, s, "", NULL);
        sb_str(b, " ");
        sb_double(b, gauge_value(s));
        sb_str(b, "\n");
        break;
    case BL_METRICS_HISTOGRAM: {
        uint64_t cum[BL_METRICS_MAX_BUCKETS + 1];
        double sum;
        hist_sum(s, cum, &sum);
        for (size_t i = 0; i <= m->nbuckets; i++) {
            double le = i < m->nbuckets ? m->buckets[i] : INFINITY;
            sb_sample_name(b, s, "_bucket", &le);
            sb_printf(b, " %llu\n", (unsigned long long)cum[i]);
        }
        sb_sample_name(b, s, "_sum", NULL);
        sb_str(b, " ");
        sb_double(b, sum);
        sb_str(b, "\n");
        sb_sample_name(b, s, "_count", NULL);
        sb_printf(b, " %llu\n", (unsigned long long)cum[m->nbuckets]);
        break;
    }
    }
}

bl_metric_t *bl_metrics_find(bl_metrics_t *r, const char *name)
{
    bl_metric_t *m = NULL;
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->nfams && !m; i++)
        if (!strcmp(r->fams[i]->name, name))
            m = r->fams[i];
    pthread_mutex_unlock(&r->lock);
    return m;
}

typedef struct {
    char name[48];
    uint64_t logged, suppressed;
} log_kind_t;

typedef struct {
    log_kind_t *v;
    size_t n;
} log_copy_t;

static void log_kind_copy(void *arg, const char *event, uint64_t logged, uint64_t suppressed)
{
    log_copy_t *c = arg;
    if (c->n == BL_LOG_KINDS)
        return;
    log_kind_t *k = &c->v[c->n++];
    snprintf(k->name, sizeof k->name, "%s", event);
    k->logged = logged;
    k->suppressed = suppressed;
}

/* Brings a counter series up to total (counters only move forward). */
static void counter_catch_up(bl_metrics_series_t *s, uint64_t total)
{
    uint64_t cur = s ? counter_sum(s) : 0;
    if (total > cur)
        bl_metrics_add(s, total - cur);
}

/* Copies the logger's counts into the log families, outside the registry
 * lock (the logger's lock is never held while the registry's is taken). */
static void collect_log(bl_metrics_t *r)
{
    if (!r->log_events && !r->log_suppressed)
        return;
    log_copy_t c = {.v = malloc(BL_LOG_KINDS * sizeof *c.v)};
    if (!c.v)
        return;
    bl_log_each_kind(log_kind_copy, &c);
    pthread_mutex_lock(&r->collect_lock);
    for (size_t i = 0; i < c.n; i++) {
        counter_catch_up(bl_metrics_with(r->log_events, c.v[i].name), c.v[i].logged);
        if (c.v[i].suppressed)
            counter_catch_up(bl_metrics_with(r->log_suppressed, c.v[i].name), c.v[i].suppressed);
    }
    pthread_mutex_unlock(&r->collect_lock);
    free(c.v);
}

int bl_metrics_render(bl_metrics_t *r, char **out, size_t *len)
{
    static const char *const types[] = {"", "counter", "gauge", "histogram"};
    collect_log(r);
    sb_t b = {0};
    sb_grow(&b, 0);
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->nfams; i++) {
        const bl_metric_t *m = r->fams[i];
        size_t active = 0;
        for (size_t j = 0; j < m->nseries; j++)
            active += m->series[j]->active != 0;
        if (!active)
            continue; /* a labelled family before its first series */
        sb_str(&b, "# HELP ");
        sb_str(&b, m->name);
        sb_str(&b, " ");
        sb_escaped(&b, m->help, 0);
        sb_str(&b, "\n# TYPE ");
        sb_str(&b, m->name);
        sb_str(&b, " ");
        sb_str(&b, types[m->type]);
        sb_str(&b, "\n");
        for (size_t j = 0; j < m->nseries; j++)
            if (m->series[j]->active)
                render_series(&b, m->series[j]);
    }
    pthread_mutex_unlock(&r->lock);
    if (b.err) {
        free(b.p);
        return BL_ENOMEM;
    }
    *out = b.p;
    if (len)
        *len = b.len;
    return 0;
}

/*
 * The daemons' families: docs/METRICS.md documents each one and is checked
 * against this table by tests/ops. Changing a name here breaks dashboards
 * and alert rules (deploy/).
 */
typedef struct {
    size_t off; /* of the bl_metric_t * in the daemon's struct */
    bl_metrics_desc_t d;
} catalog_t;

#define NELEM(a)  (sizeof(a) / sizeof((a)[0]))
#define PROP      bl_metrics_buckets_propagation, NELEM(bl_metrics_buckets_propagation)
#define DUR       bl_metrics_buckets_duration, NELEM(bl_metrics_buckets_duration)
#define BYTES     bl_metrics_buckets_bytes, NELEM(bl_metrics_buckets_bytes)
#define FEEDS     16
#define MIRRORS   4096 /* feeds x mirrors */
#define NOBUCKETS NULL, 0

// clang-format off
/* One family per entry reads better than one field per line. */
/* Families both daemons have, under the same names. */
#define LOG_FAMILIES(F) \
    {F(log_events), {"blsync_log_events_total", \
        "Log events at or above the configured level, written or suppressed, by event name.", \
        BL_METRICS_COUNTER, {"event"}, BL_LOG_KINDS, NOBUCKETS}}, \
    {F(log_suppressed), {"blsync_log_suppressed_total", \
        "Err, warn and debug log lines not written by the flood limit, by event name.", \
        BL_METRICS_COUNTER, {"event"}, BL_LOG_KINDS, NOBUCKETS}}
#define HTTP_FAMILIES(F) \
    {F(http_refused), {"blsync_http_refused_total", \
        "HTTP connections and requests refused before a handler answered, by listener and reason.", \
        BL_METRICS_COUNTER, {"listener", "reason"}, 32, NOBUCKETS}}, \
    {F(http_connections), {"blsync_http_connections", \
        "Open HTTP connections, by listener.", \
        BL_METRICS_GAUGE, {"listener"}, 4, NOBUCKETS}}
#define MI(field) offsetof(bl_metrics_mirror_t, field)
static const catalog_t mirror_catalog[] = {
    {MI(build_info), {"blsync_build_info",
        "Always 1; the version label says which blsync runs.",
        BL_METRICS_GAUGE, {"version"}, 1, NOBUCKETS}},
    {MI(mirror_info), {"blsync_mirror_info",
        "Always 1; name is the certificate name the master knows this mirror by (its host name "
        "when it does not follow a master over TLS).",
        BL_METRICS_GAUGE, {"name"}, 1, NOBUCKETS}},
    {MI(window), {"blsync_propagation_window_seconds",
        "Configured window within which every delisting must reach every mirror.",
        BL_METRICS_GAUGE, {NULL}, 0, NOBUCKETS}},
    {MI(config_reloads), {"blsync_config_reloads_total",
        "Configuration reloads (SIGHUP) by result.",
        BL_METRICS_COUNTER, {"result"}, 2, NOBUCKETS}},
    {MI(serial), {"blsync_mirror_serial",
        "Serial of the state this mirror serves.",
        BL_METRICS_GAUGE, {"feed"}, FEEDS, NOBUCKETS}},
    {MI(master_serial), {"blsync_mirror_master_serial",
        "Master's serial as of the last valid heartbeat.",
        BL_METRICS_GAUGE, {"feed"}, FEEDS, NOBUCKETS}},
    {MI(behind), {"blsync_mirror_behind_seconds",
        "Age of the oldest master serial not applied here; 0 when current.",
        BL_METRICS_GAUGE, {"feed"}, FEEDS, NOBUCKETS}},
    {MI(heartbeat_age), {"blsync_mirror_heartbeat_age_seconds",
        "Seconds since the last valid heartbeat.",
        BL_METRICS_GAUGE, {"feed"}, FEEDS, NOBUCKETS}},
    {MI(stale), {"blsync_mirror_stale",
        "Freshness: 0 fresh, 1 stale (not current for stale_after), 2 frozen (no positive answers).",
        BL_METRICS_GAUGE, {"feed"}, FEEDS, NOBUCKETS}},
    {MI(connected), {"blsync_mirror_connected",
        "1 while the sync session with the master is up.",
        BL_METRICS_GAUGE, {"feed"}, FEEDS, NOBUCKETS}},
    {MI(trusted_key), {"blsync_mirror_trusted_key",
        "Always 1; one series per signing key trusted (trusted_key, or a key certificate).",
        BL_METRICS_GAUGE, {"feed", "key_id"}, 16 * FEEDS, NOBUCKETS}},
    {MI(signing_key), {"blsync_mirror_signing_key_info",
        "Always 1; key_id signed the last object or heartbeat this mirror verified.",
        BL_METRICS_GAUGE, {"feed", "key_id"}, 4 * FEEDS, NOBUCKETS}},
    {MI(reconnects), {"blsync_mirror_reconnects_total",
        "Sync sessions started after the first.",
        BL_METRICS_COUNTER, {"feed"}, FEEDS, NOBUCKETS}},
    {MI(delisting_prop), {"blsync_mirror_delisting_propagation_seconds",
        "Time from a delisting decided at the master to its apply on this mirror.",
        BL_METRICS_HISTOGRAM, {"feed"}, FEEDS, PROP}},
    {MI(listing_prop), {"blsync_mirror_listing_propagation_seconds",
        "Time from a listing decided at the master to its apply on this mirror.",
        BL_METRICS_HISTOGRAM, {"feed"}, FEEDS, PROP}},
    {MI(deltas_applied), {"blsync_mirror_deltas_applied_total",
        "Deltas verified and applied.",
        BL_METRICS_COUNTER, {"feed"}, FEEDS, NOBUCKETS}},
    {MI(snapshots_applied), {"blsync_mirror_snapshots_applied_total",
        "Snapshots verified and loaded.",
        BL_METRICS_COUNTER, {"feed"}, FEEDS, NOBUCKETS}},
    {MI(deltas_refused), {"blsync_mirror_deltas_refused_total",
        "Deltas refused, by reason.",
        BL_METRICS_COUNTER, {"feed", "reason"}, 1024, NOBUCKETS}},
    {MI(snapshots_refused), {"blsync_mirror_snapshots_refused_total",
        "Snapshots refused, by reason.",
        BL_METRICS_COUNTER, {"feed", "reason"}, 1024, NOBUCKETS}},
    {MI(apply_duration), {"blsync_mirror_apply_duration_seconds",
        "Time to verify, apply and persist a delta or snapshot.",
        BL_METRICS_HISTOGRAM, {"feed", "kind"}, 2 * FEEDS, DUR}},
    {MI(entries), {"blsync_mirror_entries",
        "Entries in the served state, by address family.",
        BL_METRICS_GAUGE, {"feed", "family"}, 2 * FEEDS, NOBUCKETS}},
    {MI(dns_queries), {"blsync_mirror_dns_queries_total",
        "DNS queries answered, by transport, type and rcode.",
        BL_METRICS_COUNTER, {"transport", "qtype", "rcode"}, 256, NOBUCKETS}},
    {MI(dns_listed), {"blsync_mirror_dns_listed_hits_total",
        "DNS answers that said an address is listed.",
        BL_METRICS_COUNTER, {"zone"}, FEEDS, NOBUCKETS}},
    {MI(dns_ttl), {"blsync_mirror_dns_positive_ttl_seconds",
        "TTL of positive answers; it counts against the propagation window.",
        BL_METRICS_GAUGE, {"zone"}, FEEDS, NOBUCKETS}},
    {MI(tcp_open), {"blsync_mirror_tcp_connections",
        "Open DNS TCP connections.",
        BL_METRICS_GAUGE, {NULL}, 0, NOBUCKETS}},
    {MI(tcp_accepted), {"blsync_mirror_tcp_connections_accepted_total",
        "DNS TCP connections accepted.",
        BL_METRICS_COUNTER, {NULL}, 0, NOBUCKETS}},
    {MI(tcp_refused), {"blsync_mirror_tcp_connections_refused_total",
        "DNS TCP connections closed at accept, by reason (client_limit, full, fd_limit).",
        BL_METRICS_COUNTER, {"reason"}, 4, NOBUCKETS}},
    {MI(tcp_closed), {"blsync_mirror_tcp_connections_closed_total",
        "DNS TCP connections the server closed, by reason (evicted, idle, query_timeout, slow_reader, not_dns).",
        BL_METRICS_COUNTER, {"reason"}, 8, NOBUCKETS}},
    {MI(tcp_accept_pauses), {"blsync_mirror_tcp_accept_pauses_total",
        "Pauses of the DNS TCP accept loop for want of descriptors or memory, by errno.",
        BL_METRICS_COUNTER, {"reason"}, 4, NOBUCKETS}},
    {MI(udp_batches), {"blsync_mirror_udp_batches_total",
        "UDP receive calls that returned queries (queries / batches = mean batch).",
        BL_METRICS_COUNTER, {NULL}, 0, NOBUCKETS}},
    {MI(udp_pauses), {"blsync_mirror_udp_coalesce_pauses_total",
        "Pauses taken under load to batch UDP queries (udp_coalesce_us).",
        BL_METRICS_COUNTER, {NULL}, 0, NOBUCKETS}},
    {MI(acl_denied), {"blsync_mirror_acl_denied_total",
        "DNS queries an access control list refused or dropped, by action (refused, dropped).",
        BL_METRICS_COUNTER, {"action"}, 2, NOBUCKETS}},
    {MI(rrl_limited), {"blsync_mirror_rrl_limited_total",
        "UDP answers over the response-rate limit, by action (dropped, slipped).",
        BL_METRICS_COUNTER, {"action"}, 2, NOBUCKETS}},
    {MI(current_age), {"blsync_mirror_current_age_seconds",
        "Seconds since this mirror last held everything its master had published (freshness).",
        BL_METRICS_GAUGE, {"feed"}, FEEDS, NOBUCKETS}},
    {MI(freeze_after), {"blsync_mirror_freeze_after_seconds",
        "Freshness age past which positive answers stop (window - ttl - expected propagation).",
        BL_METRICS_GAUGE, {"feed"}, FEEDS, NOBUCKETS}},
    {MI(state_writable), {"blsync_mirror_state_writable",
        "0 while the last write to the state directory failed (full disk, I/O error).",
        BL_METRICS_GAUGE, {"feed"}, FEEDS, NOBUCKETS}},
    {MI(state_write_errors), {"blsync_mirror_state_write_errors_total",
        "Writes to the state directory that failed, by error (no_space, io).",
        BL_METRICS_COUNTER, {"feed", "error"}, 4 * FEEDS, NOBUCKETS}},
    {MI(state_refused), {"blsync_mirror_state_files_refused_total",
        "Persisted objects refused when the state was restored at start, by reason.",
        BL_METRICS_COUNTER, {"feed", "reason"}, 16 * FEEDS, NOBUCKETS}},
    {MI(pull_requests), {"blsync_mirror_pull_requests_total",
        "HTTP transfers to URL upstreams, by upstream, kind (head, object) and result.",
        BL_METRICS_COUNTER, {"upstream", "kind", "result"}, 128, NOBUCKETS}},
    {MI(pull_refused), {"blsync_mirror_pull_refused_total",
        "Heads and objects from URL upstreams refused, by upstream, what and reason.",
        BL_METRICS_COUNTER, {"feed", "upstream", "what", "reason"}, 1024, NOBUCKETS}},
    {MI(pull_bytes), {"blsync_mirror_pull_bytes_total",
        "Bytes received from URL upstreams.",
        BL_METRICS_COUNTER, {"upstream"}, 16, NOBUCKETS}},
    LOG_FAMILIES(MI),
    HTTP_FAMILIES(MI),
    {MI(cert_expiry), {"blsync_mirror_certificate_expiry_timestamp_seconds",
        "When the [sync] client certificate in use expires (its notAfter, Unix time).",
        BL_METRICS_GAUGE, {NULL}, 0, NOBUCKETS}},
};

#define MA(field) offsetof(bl_metrics_master_t, field)
static const catalog_t master_catalog[] = {
    {MA(build_info), {"blsync_build_info",
        "Always 1; the version label says which blsync runs.",
        BL_METRICS_GAUGE, {"version"}, 1, NOBUCKETS}},
    {MA(window), {"blsync_propagation_window_seconds",
        "Configured window within which every delisting must reach every mirror.",
        BL_METRICS_GAUGE, {NULL}, 0, NOBUCKETS}},
    {MA(active_after), {"blsync_master_mirror_gone_after_seconds",
        "Absence after which a mirror is reported gone and leaves the delisting SLO.",
        BL_METRICS_GAUGE, {NULL}, 0, NOBUCKETS}},
    {MA(config_reloads), {"blsync_config_reloads_total",
        "Configuration reloads (SIGHUP) by result.",
        BL_METRICS_COUNTER, {"result"}, 2, NOBUCKETS}},
    {MA(serial), {"blsync_master_serial",
        "Last published serial.",
        BL_METRICS_GAUGE, {"feed"}, FEEDS, NOBUCKETS}},
    {MA(pending_changes), {"blsync_master_pending_changes",
        "Changes decided but not yet published.",
        BL_METRICS_GAUGE, {"feed"}, FEEDS, NOBUCKETS}},
    {MA(last_publish_age), {"blsync_master_last_publish_age_seconds",
        "Seconds since the last successful publish.",
        BL_METRICS_GAUGE, {"feed"}, FEEDS, NOBUCKETS}},
    {MA(publishes), {"blsync_master_publishes_total",
        "Publish attempts, by result.",
        BL_METRICS_COUNTER, {"feed", "result"}, 2 * FEEDS, NOBUCKETS}},
    {MA(publish_duration), {"blsync_master_publish_duration_seconds",
        "Time to build, sign and store one published delta (and snapshot).",
        BL_METRICS_HISTOGRAM, {"feed"}, FEEDS, DUR}},
    {MA(publish_bytes), {"blsync_master_publish_object_bytes",
        "Size of each signed object published.",
        BL_METRICS_HISTOGRAM, {"feed", "kind"}, 2 * FEEDS, BYTES}},
    {MA(heartbeats), {"blsync_master_heartbeats_sent_total",
        "Heartbeats sent to mirrors.",
        BL_METRICS_COUNTER, {"feed"}, FEEDS, NOBUCKETS}},
    {MA(mirrors_connected), {"blsync_master_mirrors_connected",
        "Mirrors with a sync session up.",
        BL_METRICS_GAUGE, {"feed"}, FEEDS, NOBUCKETS}},
    {MA(mirrors_active), {"blsync_master_mirrors_active",
        "Mirrors that count for the delisting SLO.",
        BL_METRICS_GAUGE, {"feed"}, FEEDS, NOBUCKETS}},
    {MA(mirrors_gone), {"blsync_master_mirrors_gone",
        "Known mirrors absent for longer than the gone limit.",
        BL_METRICS_GAUGE, {"feed"}, FEEDS, NOBUCKETS}},
    {MA(mirrors_revoked), {"blsync_master_mirrors_revoked",
        "Known mirrors whose certificate name is on [sync] revoked, not yet forgotten.",
        BL_METRICS_GAUGE, {"feed"}, FEEDS, NOBUCKETS}},
    {MA(mirror_connected), {"blsync_master_mirror_connected",
        "1 while this mirror's sync session is up.",
        BL_METRICS_GAUGE, {"feed", "mirror"}, MIRRORS, NOBUCKETS}},
    {MA(mirror_active), {"blsync_master_mirror_active",
        "1 if this mirror counts for the delisting SLO, 0 if gone.",
        BL_METRICS_GAUGE, {"feed", "mirror"}, MIRRORS, NOBUCKETS}},
    {MA(mirror_acked), {"blsync_master_mirror_acked_serial",
        "Last serial this mirror acknowledged.",
        BL_METRICS_GAUGE, {"feed", "mirror"}, MIRRORS, NOBUCKETS}},
    {MA(mirror_lag_serials), {"blsync_master_mirror_lag_serials",
        "Published serial minus this mirror's acknowledged one.",
        BL_METRICS_GAUGE, {"feed", "mirror"}, MIRRORS, NOBUCKETS}},
    {MA(mirror_lag), {"blsync_master_mirror_lag_seconds",
        "Age of the oldest published serial this mirror has not acknowledged; 0 when current.",
        BL_METRICS_GAUGE, {"feed", "mirror"}, MIRRORS, NOBUCKETS}},
    {MA(mirror_contact_age), {"blsync_master_mirror_contact_age_seconds",
        "Seconds since this mirror was last heard.",
        BL_METRICS_GAUGE, {"feed", "mirror"}, MIRRORS, NOBUCKETS}},
    {MA(mirror_key), {"blsync_master_mirror_key_info",
        "Always 1; key_id signed the object of the serial this mirror last acknowledged.",
        BL_METRICS_GAUGE, {"feed", "mirror", "key_id"}, 4 * MIRRORS, NOBUCKETS}},
    {MA(delisting_prop), {"blsync_master_delisting_propagation_seconds",
        "Time from a delisting decided to its acknowledgement by the last active mirror.",
        BL_METRICS_HISTOGRAM, {"feed"}, FEEDS, PROP}},
    {MA(oldest_delisting), {"blsync_master_oldest_delisting_propagating_seconds",
        "Age of the oldest delisting not yet acknowledged by every active mirror; 0 if none.",
        BL_METRICS_GAUGE, {"feed"}, FEEDS, NOBUCKETS}},
    {MA(oldest_delisting_serial), {"blsync_master_oldest_delisting_serial",
        "The first serial carrying the oldest propagating delisting (0: none, or not published).",
        BL_METRICS_GAUGE, {"feed"}, FEEDS, NOBUCKETS}},
    {MA(delistings_pending), {"blsync_master_delistings_propagating",
        "Delistings not yet acknowledged by every active mirror.",
        BL_METRICS_GAUGE, {"feed"}, FEEDS, NOBUCKETS}},
    {MA(delistings_decided), {"blsync_master_delistings_decided_total",
        "Delistings decided, by reason.",
        BL_METRICS_COUNTER, {"feed", "reason"}, 4 * FEEDS, NOBUCKETS}},
    {MA(window_broken), {"blsync_master_delistings_window_broken_total",
        "Delistings still propagating when the window ran out (counted when it runs out).",
        BL_METRICS_COUNTER, {"feed"}, FEEDS, NOBUCKETS}},
    {MA(reports_ingested), {"blsync_master_reports_ingested_total",
        "Spam reports accepted, by source.",
        BL_METRICS_COUNTER, {"source"}, 8, NOBUCKETS}},
    {MA(reports_refused), {"blsync_master_reports_refused_total",
        "Spam reports refused, by reason.",
        BL_METRICS_COUNTER, {"reason"}, 64, NOBUCKETS}},
    {MA(listings), {"blsync_master_listings",
        "Current listings, by address family.",
        BL_METRICS_GAUGE, {"feed", "family"}, 2 * FEEDS, NOBUCKETS}},
    {MA(mirror_sessions), {"blsync_master_mirror_sessions",
        "Live sync sessions of this mirror's certificate; more than 1 is one identity on two hosts.",
        BL_METRICS_GAUGE, {"feed", "mirror"}, MIRRORS, NOBUCKETS}},
    {MA(sync_refused), {"blsync_master_sync_refused_total",
        "Refused on the sync port, by stage (connection, protocol, mirror, spool) and reason.",
        BL_METRICS_COUNTER, {"stage", "reason"}, 128, NOBUCKETS}},
    {MA(sync_disconnects), {"blsync_master_sync_disconnects_total",
        "Sync sessions the master closed, by reason (slow, silent).",
        BL_METRICS_COUNTER, {"reason"}, 4, NOBUCKETS}},
    {MA(spool_quarantined), {"blsync_master_spool_quarantined_total",
        "Spool objects found damaged and moved to the quarantine, by what was wrong.",
        BL_METRICS_COUNTER, {"feed", "reason"}, 32 * FEEDS, NOBUCKETS}},
    LOG_FAMILIES(MA),
    HTTP_FAMILIES(MA),
    {MA(sync_handshakes), {"blsync_master_sync_handshakes",
        "Sync connections in their TLS handshake now.",
        BL_METRICS_GAUGE, {NULL}, 0, NOBUCKETS}},
    {MA(public_lookups), {"blsync_master_public_lookups_total",
        "Lookups on the public page and JSON, by result (listed, delisting, not_listed, invalid, error).",
        BL_METRICS_COUNTER, {"result"}, 8, NOBUCKETS}},
    {MA(public_refused), {"blsync_master_public_refused_total",
        "Public lookups and review requests refused, by reason.",
        BL_METRICS_COUNTER, {"reason"}, 16, NOBUCKETS}},
    {MA(spool_requests), {"blsync_master_spool_requests_total",
        "Requests for the spool's HTTP layout on the public listener, by kind (head, long_poll, delta, snapshot, keycert, other) and status.",
        BL_METRICS_COUNTER, {"kind", "status"}, 48, NOBUCKETS}},
    {MA(spool_long_polls), {"blsync_master_spool_long_polls",
        "Long polls of the spool's head held now.",
        BL_METRICS_GAUGE, {NULL}, 0, NOBUCKETS}},
    {MA(public_proxied), {"blsync_master_public_proxied_requests_in_flight",
        "Public requests from trusted proxies whose header is read and whose answer is not sent yet.",
        BL_METRICS_GAUGE, {NULL}, 0, NOBUCKETS}},
    {MA(reviews_filed), {"blsync_master_review_requests_filed_total",
        "Review requests filed, by category.",
        BL_METRICS_COUNTER, {"category"}, 8, NOBUCKETS}},
    {MA(reviews), {"blsync_master_review_requests",
        "Review requests in the store, by state.",
        BL_METRICS_GAUGE, {"state"}, 8, NOBUCKETS}},
    {MA(review_oldest), {"blsync_master_review_oldest_unanswered_seconds",
        "Age of the oldest review request waiting for an operator (state new); 0 if none.",
        BL_METRICS_GAUGE, {NULL}, 0, NOBUCKETS}},
    {MA(review_limit), {"blsync_master_review_response_limit_seconds",
        "Configured time within which operators answer a review request ([public] response_limit).",
        BL_METRICS_GAUGE, {NULL}, 0, NOBUCKETS}},
    {MA(cert_expiry), {"blsync_master_certificate_expiry_timestamp_seconds",
        "When the sync server's certificate in use expires (its notAfter, Unix time).",
        BL_METRICS_GAUGE, {NULL}, 0, NOBUCKETS}},
    {MA(mirror_cert_expiry), {"blsync_master_mirror_certificate_expiry_timestamp_seconds",
        "When the client certificate of this connected mirror expires (notAfter, Unix time).",
        BL_METRICS_GAUGE, {"mirror"}, MIRRORS, NOBUCKETS}},
    {MA(public_cert_expiry), {"blsync_master_public_certificate_expiry_timestamp_seconds",
        "When the public listener's HTTPS certificate expires (its notAfter, Unix time).",
        BL_METRICS_GAUGE, {NULL}, 0, NOBUCKETS}},
};
// clang-format on

static int register_catalog(bl_metrics_t *r, const catalog_t *c, size_t n, void *out)
{
    for (size_t i = 0; i < n; i++) {
        bl_metric_t **slot = (bl_metric_t **)((char *)out + c[i].off);
        int err = bl_metrics_register(r, &c[i].d, slot);
        if (err < 0)
            return err;
    }
    return 0;
}

int bl_metrics_mirror_register(bl_metrics_t *r, bl_metrics_mirror_t *m)
{
    memset(m, 0, sizeof *m);
    int rc = register_catalog(r, mirror_catalog, NELEM(mirror_catalog), m);
    r->log_events = m->log_events;
    r->log_suppressed = m->log_suppressed;
    return rc;
}

int bl_metrics_master_register(bl_metrics_t *r, bl_metrics_master_t *m)
{
    memset(m, 0, sizeof *m);
    int rc = register_catalog(r, master_catalog, NELEM(master_catalog), m);
    r->log_events = m->log_events;
    r->log_suppressed = m->log_suppressed;
    return rc;
}
