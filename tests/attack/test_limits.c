/* SPDX-License-Identifier: MIT */
/* The defences' building blocks: the log flood limit, per-address counts, the descriptor budget. */
#include <arpa/inet.h>
#include <pthread.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "conn_limit.h"
#include "err.h"
#include "log.h"
#include "test.h"
#include "util.h"

static char logpath[] = "/tmp/bl-test-limits-XXXXXX";
static int logfd = -1, saved_stderr = -1;

/* on: the log (stderr) goes to logpath; off: back to the terminal, for the test's own output. */
static void capture(int on)
{
    fflush(stderr);
    dup2(on ? logfd : saved_stderr, 2);
}

/* Lines of the captured log that contain s. */
static int lines_with(const char *s)
{
    fflush(stderr);
    FILE *f = fopen(logpath, "r");
    ASSERT(f);
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, s) != NULL;
    fclose(f);
    return n;
}

typedef struct {
    const char *event;
    uint64_t logged, suppressed;
} kind_count_t;

static void find_kind(void *arg, const char *event, uint64_t logged, uint64_t suppressed)
{
    kind_count_t *k = arg;
    if (!strcmp(event, k->event)) {
        k->logged = logged;
        k->suppressed = suppressed;
    }
}

static kind_count_t counts(const char *event)
{
    kind_count_t k = {.event = event};
    bl_log_each_kind(find_kind, &k);
    return k;
}

/* Polls until the summary for kind appears (the window ends): at most 5 s. */
static int wait_summary(const char *kind, uint64_t n)
{
    char want[128];
    snprintf(want, sizeof want, "event=log_suppressed kind=%s suppressed=%llu ", kind,
             (unsigned long long)n);
    for (int i = 0; i < 500; i++) {
        capture(1);
        bl_log_flush_suppressed();
        capture(0);
        if (lines_with(want) == 1)
            return 1;
        usleep(10000);
    }
    return 0;
}

static void test_flood_is_summarised(void)
{
    bl_log_set_limit(5, 300);
    capture(1);
    for (int i = 0; i < 1000; i++)
        BL_WARN("test_flood", "i=%d", i);
    capture(0);
    ASSERT_EQ(lines_with("event=test_flood "), 5);
    kind_count_t k = counts("test_flood");
    ASSERT_EQ(k.logged, 1000);
    ASSERT_EQ(k.suppressed, 995);
    ASSERT(wait_summary("test_flood", 995));
    /* A new window: five more lines get through. */
    capture(1);
    for (int i = 0; i < 10; i++)
        BL_WARN("test_flood", "second=%d", i);
    capture(0);
    ASSERT_EQ(lines_with("event=test_flood second="), 5);
    ASSERT(wait_summary("test_flood", 5));
    ASSERT_EQ(lines_with("event=log_suppressed kind=test_flood "), 2);
}

static void test_kinds_are_separate(void)
{
    bl_log_set_limit(3, 60000);
    capture(1);
    for (int i = 0; i < 10; i++) {
        BL_ERR("test_kind_a", "i=%d", i);
        BL_DEBUG("test_kind_b", "i=%d", i); /* below the level: not even counted */
        BL_WARN("test_kind_c", "i=%d", i);
    }
    capture(0);
    ASSERT_EQ(lines_with("event=test_kind_a "), 3);
    ASSERT_EQ(lines_with("event=test_kind_b "), 0);
    ASSERT_EQ(lines_with("event=test_kind_c "), 3);
    ASSERT_EQ(counts("test_kind_b").logged, 0);
    ASSERT_EQ(counts("test_kind_c").suppressed, 7);
}

static void test_info_never_suppressed(void)
{
    bl_log_set_limit(2, 60000);
    capture(1);
    for (int i = 0; i < 100; i++)
        BL_INFO("test_info", "i=%d", i);
    capture(0);
    ASSERT_EQ(lines_with("event=test_info "), 100);
    ASSERT_EQ(counts("test_info").suppressed, 0);
}

static void test_limit_off(void)
{
    bl_log_set_limit(0, 0);
    capture(1);
    for (int i = 0; i < 100; i++)
        BL_WARN("test_unlimited", "i=%d", i);
    capture(0);
    ASSERT_EQ(lines_with("event=test_unlimited "), 100);
}

static void *flood_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20000; i++)
        BL_WARN("test_threads", "i=%d", i);
    return NULL;
}

/* Four threads at once: every line counted exactly once, the limit shared. */
static void test_threads(void)
{
    bl_log_set_limit(10, 60000);
    pthread_t t[4];
    capture(1);
    for (int i = 0; i < 4; i++)
        ASSERT(pthread_create(&t[i], NULL, flood_thread, NULL) == 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    capture(0);
    ASSERT_EQ(lines_with("event=test_threads "), 10);
    kind_count_t k = counts("test_threads");
    ASSERT_EQ(k.logged, 80000);
    ASSERT_EQ(k.suppressed, 79990);
}

/* Past BL_LOG_KINDS names, the rest count as "other": the table stays bounded. */
static void count_kinds(void *arg, const char *event, uint64_t logged, uint64_t suppressed)
{
    (void)event, (void)logged, (void)suppressed;
    (*(size_t *)arg)++;
}

static void test_kinds_bounded(void)
{
    bl_log_set_limit(1000, 60000);
    char name[32];
    capture(1);
    for (int i = 0; i < 2 * BL_LOG_KINDS; i++) {
        snprintf(name, sizeof name, "test_many_%d", i);
        BL_WARN(name, "i=%d", i);
    }
    capture(0);
    ASSERT(counts("other").logged > BL_LOG_KINDS);
    size_t n = 0;
    bl_log_each_kind(count_kinds, &n);
    ASSERT_EQ(n, BL_LOG_KINDS);
}
/* Random increments and decrements against a plain array, on a crowded small map. */
static void test_peer_counts(void)
{
    enum { ADDRS = 40, MAX = 32 };
    bl_peer_counts_t m;
    ASSERT_EQ(bl_peer_counts_init(&m, MAX), 0);
    bl_peer_t p[ADDRS];
    unsigned ref[ADDRS] = {0};
    for (int i = 0; i < ADDRS; i++) {
        memset(&p[i], 0, sizeof p[i]);
        p[i].af = i % 3 ? 4 : 6;
        p[i].a[0] = (uint8_t)(i * 37);
        p[i].a[15] = (uint8_t)i;
    }
    uint64_t seed = 42;
    size_t distinct = 0;
    for (int step = 0; step < 200000; step++) {
        int i = (int)(bl_test_rand(&seed) % ADDRS);
        if (bl_test_rand(&seed) % 2) {
            int rc = bl_peer_counts_inc(&m, &p[i]);
            if (!ref[i] && distinct == MAX) {
                ASSERT_EQ(rc, BL_ENOSPC);
                continue;
            }
            ASSERT_EQ(rc, 0);
            distinct += ref[i]++ == 0;
        } else if (ref[i]) {
            bl_peer_counts_dec(&m, &p[i]);
            distinct -= --ref[i] == 0;
        }
        int j = (int)(bl_test_rand(&seed) % ADDRS);
        ASSERT_EQ(bl_peer_counts_get(&m, &p[j]), ref[j]);
    }
    for (int i = 0; i < ADDRS; i++)
        ASSERT_EQ(bl_peer_counts_get(&m, &p[i]), ref[i]);
    bl_peer_counts_free(&m);
}

static void test_peer_keys(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0xc0000201)};
    struct sockaddr_in6 b = {.sin6_family = AF_INET6};
    b.sin6_addr.s6_addr[10] = b.sin6_addr.s6_addr[11] = 0xff;
    memcpy(&b.sin6_addr.s6_addr[12], &a.sin_addr, 4);
    bl_peer_t x, y;
    bl_peer_from_sockaddr(&x, (struct sockaddr *)&a);
    bl_peer_from_sockaddr(&y, (struct sockaddr *)&b);
    ASSERT(bl_peer_eq(&x, &y)); /* one client, whichever socket family it arrived on */
    char buf[64];
    ASSERT_STREQ(bl_peer_format(&y, buf, sizeof buf), "192.0.2.1");
}

static void test_fd_budget(void)
{
    struct rlimit old, rl;
    getrlimit(RLIMIT_NOFILE, &old);
    rl = old;
    rl.rlim_cur = 96;
    ASSERT(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    ASSERT_EQ(bl_fd_budget(0, 256, 4), 24);
    ASSERT_EQ(bl_fd_budget(10, 256, 4), 10);
    ASSERT_EQ(bl_fd_budget(1000, 256, 4), 24);
    rl.rlim_cur = 16;
    ASSERT(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    ASSERT_EQ(bl_fd_budget(0, 256, 4), 8);
    setrlimit(RLIMIT_NOFILE, &old);
}

int main(void)
{
    logfd = mkstemp(logpath);
    saved_stderr = dup(2);
    ASSERT(logfd >= 0 && saved_stderr >= 0);
    bl_log_init("test_limits", BL_LOG_INFO, 0);
    RUN(test_flood_is_summarised);
    RUN(test_kinds_are_separate);
    RUN(test_info_never_suppressed);
    RUN(test_limit_off);
    RUN(test_threads);
    RUN(test_kinds_bounded);
    RUN(test_peer_counts);
    RUN(test_peer_keys);
    RUN(test_fd_budget);
    unlink(logpath);
    return 0;
}
