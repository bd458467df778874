/* SPDX-License-Identifier: MIT */
/* Unit tests of the metrics registry: types, bounds, threads, exposition text, catalogs. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "err.h"
#include "metrics.h"
#include "test.h"

static char *render(bl_metrics_t *r)
{
    char *s = NULL;
    size_t n = 0;
    ASSERT_EQ(bl_metrics_render(r, &s, &n), 0);
    ASSERT_EQ(strlen(s), n);
    return s;
}

static void test_register_validation(void)
{
    bl_metrics_t *r = bl_metrics_new();
    ASSERT(r);
    bl_metric_t *m = NULL;
    static const double b[] = {1, 2};
    static const double unsorted[] = {2, 1};
    bl_metrics_desc_t d = {"x_total", "h", BL_METRICS_COUNTER, {NULL}, 0, NULL, 0};
    ASSERT_EQ(bl_metrics_register(r, &d, &m), 0);
    ASSERT_EQ(bl_metrics_register(r, &d, &m), BL_EEXIST);
    bl_metrics_desc_t bad[] = {
        {"no_suffix", "h", BL_METRICS_COUNTER, {NULL}, 0, NULL, 0},
        {"g_total", "h", BL_METRICS_GAUGE, {NULL}, 0, NULL, 0},
        {"9name", "h", BL_METRICS_GAUGE, {NULL}, 0, NULL, 0},
        {"a-b", "h", BL_METRICS_GAUGE, {NULL}, 0, NULL, 0},
        {"g", NULL, BL_METRICS_GAUGE, {NULL}, 0, NULL, 0},
        {"g", "h", 0, {NULL}, 0, NULL, 0},
        {"g", "h", BL_METRICS_GAUGE, {"__reserved"}, 0, NULL, 0},
        {"g", "h", BL_METRICS_GAUGE, {"a", "a"}, 0, NULL, 0},
        {"h", "h", BL_METRICS_HISTOGRAM, {"le"}, 0, b, 2},
        {"h", "h", BL_METRICS_HISTOGRAM, {NULL}, 0, NULL, 0},
        {"h", "h", BL_METRICS_HISTOGRAM, {NULL}, 0, unsorted, 2},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int err = bl_metrics_register(r, &bad[i], &m);
        if (err != BL_EINVAL)
            BL_FAIL("bad[%zu] (%s) registered: %d", i, bad[i].name ? bad[i].name : "", err);
    }
    bl_metrics_free(r);
    bl_metrics_free(NULL);
}

static void test_types_and_render(void)
{
    bl_metrics_t *r = bl_metrics_new();
    bl_metric_t *c, *g, *h;
    static const double b[] = {0.1, 1, 2.5};
    bl_metrics_desc_t dc = {"t_requests_total",
                            "Requests\\served\nnow",
                            BL_METRICS_COUNTER,
                            {"code", "path"},
                            4,
                            NULL,
                            0};
    bl_metrics_desc_t dg = {"t_temperature_celsius", "T.", BL_METRICS_GAUGE, {NULL}, 0, NULL, 0};
    bl_metrics_desc_t dh = {"t_latency_seconds", "L.", BL_METRICS_HISTOGRAM, {"feed"}, 0, b, 3};
    ASSERT_EQ(bl_metrics_register(r, &dc, &c), 0);
    ASSERT_EQ(bl_metrics_register(r, &dg, &g), 0);
    ASSERT_EQ(bl_metrics_register(r, &dh, &h), 0);

    bl_metrics_series_t *ok = bl_metrics_with(c, "200", "/a\"b\\c\nd");
    ASSERT(ok);
    ASSERT(ok == bl_metrics_with(c, "200", "/a\"b\\c\nd")); /* same handle */
    ASSERT(!bl_metrics_with(c, "200"));                     /* wrong label count */
    bl_metrics_inc(ok);
    bl_metrics_add(ok, 41);
    ASSERT_EQ(bl_metrics_get(ok), 42);
    bl_metrics_set(ok, 7); /* wrong type: ignored */
    ASSERT_EQ(bl_metrics_get(ok), 42);

    bl_metrics_series_t *gs = bl_metrics_series(g, NULL);
    bl_metrics_set(gs, 20.5);
    bl_metrics_gauge_add(gs, -0.25);
    ASSERT(bl_metrics_get(gs) == 20.25);

    bl_metrics_series_t *hs = bl_metrics_with(h, "main");
    bl_metrics_observe(hs, 0.1); /* the bound itself is in its bucket */
    bl_metrics_observe(hs, 0.5);
    bl_metrics_observe(hs, 3);
    bl_metrics_observe(hs, NAN);
    uint64_t cum[4];
    double sum;
    ASSERT_EQ(bl_metrics_hist_read(hs, cum, 4, &sum), 4);
    ASSERT_EQ(cum[0], 1);
    ASSERT_EQ(cum[1], 2);
    ASSERT_EQ(cum[2], 2);
    ASSERT_EQ(cum[3], 3);
    ASSERT(fabs(sum - 3.6) < 1e-9);
    ASSERT_EQ(bl_metrics_get(hs), 3);
    ASSERT_EQ(bl_metrics_hist_read(gs, cum, 4, &sum), BL_EINVAL);

    char *text = render(r);
    const char *want = "# HELP blsync_metrics_series_dropped_total Label sets refused because a "
                       "metric family reached its series limit.\n"
                       "# TYPE blsync_metrics_series_dropped_total counter\n"
                       "blsync_metrics_series_dropped_total 0\n"
                       "# HELP t_requests_total Requests\\\\served\\nnow\n"
                       "# TYPE t_requests_total counter\n"
                       "t_requests_total{code=\"200\",path=\"/a\\\"b\\\\c_d\"} 42\n"
                       "# HELP t_temperature_celsius T.\n"
                       "# TYPE t_temperature_celsius gauge\n"
                       "t_temperature_celsius 20.25\n"
                       "# HELP t_latency_seconds L.\n"
                       "# TYPE t_latency_seconds histogram\n"
                       "t_latency_seconds_bucket{feed=\"main\",le=\"0.1\"} 1\n"
                       "t_latency_seconds_bucket{feed=\"main\",le=\"1\"} 2\n"
                       "t_latency_seconds_bucket{feed=\"main\",le=\"2.5\"} 2\n"
                       "t_latency_seconds_bucket{feed=\"main\",le=\"+Inf\"} 3\n"
                       "t_latency_seconds_sum{feed=\"main\"} 3.6\n"
                       "t_latency_seconds_count{feed=\"main\"} 3\n";
    ASSERT_STREQ(text, want);
    free(text);
    bl_metrics_free(r);
}

static double fn_value(void *arg)
{
    return *(double *)arg * 2;
}

static void test_gauge_fn_and_remove(void)
{
    bl_metrics_t *r = bl_metrics_new();
    bl_metric_t *g;
    bl_metrics_desc_t d = {"t_age_seconds", "A.", BL_METRICS_GAUGE, {"mirror"}, 0, NULL, 0};
    ASSERT_EQ(bl_metrics_register(r, &d, &g), 0);
    char *text = render(r);
    ASSERT(!strstr(text, "t_age_seconds")); /* no series yet: family not exported */
    free(text);
    double x = 21;
    bl_metrics_series_t *s = bl_metrics_with(g, "m1");
    bl_metrics_set_fn(s, fn_value, &x);
    ASSERT(bl_metrics_get(s) == 42);
    text = render(r);
    ASSERT(strstr(text, "t_age_seconds{mirror=\"m1\"} 42\n"));
    free(text);
    bl_metrics_remove(s);
    text = render(r);
    ASSERT(!strstr(text, "m1"));
    free(text);
    bl_metrics_set(s, 5); /* kept, not exported */
    ASSERT(bl_metrics_with(g, "m1") == s);
    text = render(r);
    ASSERT(strstr(text, "t_age_seconds{mirror=\"m1\"} 5\n"));
    free(text);
    bl_metrics_free(r);
}

static void test_age_gauge(void)
{
    char path[] = "/tmp/bl_metrics_clockXXXXXX";
    int fd = mkstemp(path);
    ASSERT(fd >= 0);
    ASSERT(write(fd, "1000000\n", 8) == 8);
    close(fd);
    setenv("BLSYNC_TEST_CLOCK", path, 1); /* before the first bl_now_ms() */
    bl_metrics_t *r = bl_metrics_new();
    bl_metric_t *g;
    bl_metrics_desc_t d = {"t_since_seconds", "S.", BL_METRICS_GAUGE, {NULL}, 0, NULL, 0};
    ASSERT_EQ(bl_metrics_register(r, &d, &g), 0);
    bl_metrics_series_t *s = bl_metrics_series(g, NULL);
    static _Atomic int64_t since;
    atomic_store(&since, 0);
    bl_metrics_set_age(s, &since);
    ASSERT(bl_metrics_get(s) == 0); /* nothing to age */
    atomic_store(&since, 997500);
    ASSERT(bl_metrics_get(s) == 2.5);
    atomic_store(&since, 1000500); /* in the future: clamped */
    ASSERT(bl_metrics_get(s) == 0);
    FILE *f = fopen(path, "w");
    ASSERT(f);
    fputs("1004500", f);
    fclose(f);
    ASSERT(bl_metrics_get(s) == 4); /* the clock moved */
    char *text = render(r);
    ASSERT(strstr(text, "t_since_seconds 4\n"));
    free(text);
    bl_metrics_set_age(s, NULL);
    bl_metrics_set(s, 9);
    ASSERT(bl_metrics_get(s) == 9);
    bl_metrics_free(r);
    unlink(path);
}

static void test_cardinality_bound(void)
{
    bl_metrics_t *r = bl_metrics_new();
    bl_metric_t *c;
    bl_metrics_desc_t d = {"t_hits_total", "H.", BL_METRICS_COUNTER, {"who"}, 2, NULL, 0};
    ASSERT_EQ(bl_metrics_register(r, &d, &c), 0);
    ASSERT(bl_metrics_with(c, "a"));
    ASSERT(bl_metrics_with(c, "b"));
    bl_metrics_series_t *over = bl_metrics_with(c, "c");
    ASSERT(!over);
    ASSERT(!bl_metrics_with(c, "d"));
    bl_metrics_inc(over); /* NULL-safe */
    bl_metrics_observe(NULL, 1);
    bl_metrics_set(NULL, 1);
    bl_metrics_set_fn(NULL, NULL, NULL);
    bl_metrics_remove(NULL);
    ASSERT_EQ(bl_metrics_get(NULL), 0);
    char *text = render(r);
    ASSERT(strstr(text, "blsync_metrics_series_dropped_total 2\n"));
    ASSERT(!strstr(text, "who=\"c\""));
    free(text);
    /* Long values are truncated, and the truncated value finds the same series. */
    bl_metrics_desc_t d2 = {"t_long", "L.", BL_METRICS_GAUGE, {"v"}, 0, NULL, 0};
    bl_metric_t *g;
    ASSERT_EQ(bl_metrics_register(r, &d2, &g), 0);
    char big[BL_METRICS_LABEL_MAX + 50];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    bl_metrics_series_t *s = bl_metrics_with(g, big);
    ASSERT(s && s == bl_metrics_with(g, big));
    bl_metrics_free(r);
}

enum { THREADS = 8, ITER = 200000 };
static bl_metrics_series_t *tc, *th;

static void *worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < ITER; i++) {
        bl_metrics_inc(tc);
        bl_metrics_observe(th, (double)(i % 4));
    }
    return NULL;
}

static void test_threads(void)
{
    bl_metrics_t *r = bl_metrics_new();
    bl_metric_t *c, *h;
    static const double b[] = {0.5, 1.5, 2.5};
    bl_metrics_desc_t dc = {"t_q_total", "Q.", BL_METRICS_COUNTER, {NULL}, 0, NULL, 0};
    bl_metrics_desc_t dh = {"t_v", "V.", BL_METRICS_HISTOGRAM, {NULL}, 0, b, 3};
    ASSERT_EQ(bl_metrics_register(r, &dc, &c), 0);
    ASSERT_EQ(bl_metrics_register(r, &dh, &h), 0);
    tc = bl_metrics_series(c, NULL);
    th = bl_metrics_series(h, NULL);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        ASSERT_EQ(pthread_create(&t[i], NULL, worker, NULL), 0);
    /* Scrapes while the workers count must always be consistent. */
    for (int k = 0; k < 50; k++) {
        uint64_t cum[4];
        double sum;
        bl_metrics_hist_read(th, cum, 4, &sum);
        ASSERT(cum[0] <= cum[1] && cum[1] <= cum[2] && cum[2] <= cum[3]);
        free(render(r));
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    ASSERT_EQ(bl_metrics_get(tc), (long long)THREADS * ITER);
    uint64_t cum[4];
    double sum;
    bl_metrics_hist_read(th, cum, 4, &sum);
    ASSERT_EQ(cum[0], THREADS * ITER / 4);
    ASSERT_EQ(cum[3], THREADS * ITER);
    ASSERT(sum == (double)THREADS * ITER / 4 * (0 + 1 + 2 + 3));
    bl_metrics_free(r);
}

static void test_catalogs(void)
{
    bl_metrics_t *r = bl_metrics_new();
    bl_metrics_mirror_t mi;
    ASSERT_EQ(bl_metrics_mirror_register(r, &mi), 0);
    ASSERT(mi.serial && mi.tcp_refused && mi.delisting_prop);
    /* Every field is filled. */
    bl_metric_t **f = (bl_metric_t **)&mi;
    for (size_t i = 0; i < sizeof mi / sizeof *f; i++)
        ASSERT(f[i]);
    ASSERT_EQ(bl_metrics_mirror_register(r, &mi), BL_EEXIST);
    bl_metrics_t *r2 = bl_metrics_new();
    bl_metrics_master_t ma;
    ASSERT_EQ(bl_metrics_master_register(r2, &ma), 0);
    f = (bl_metric_t **)&ma;
    for (size_t i = 0; i < sizeof ma / sizeof *f; i++)
        ASSERT(f[i]);
    /* The propagation buckets span 0.1 s to 8 h and include 4 h. */
    ASSERT(bl_metrics_buckets_propagation[0] == 0.1);
    ASSERT(bl_metrics_buckets_propagation[bl_metrics_buckets_propagation_n - 1] == 8 * 3600);
    int has4h = 0;
    for (size_t i = 0; i < bl_metrics_buckets_propagation_n; i++)
        has4h |= bl_metrics_buckets_propagation[i] == 4 * 3600;
    ASSERT(has4h);
    bl_metrics_free(r);
    bl_metrics_free(r2);
}

int main(void)
{
    RUN(test_register_validation);
    RUN(test_types_and_render);
    RUN(test_gauge_fn_and_remove);
    RUN(test_age_gauge);
    RUN(test_cardinality_bound);
    RUN(test_threads);
    RUN(test_catalogs);
    return 0;
}
