/* SPDX-License-Identifier: MIT */
/* Unit tests of the configuration value parsers and their file:line messages. */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "config_util.h"
#include "err.h"
#include "test.h"

static void test_duration(void)
{
    static const struct {
        const char *s;
        int64_t ms;
    } ok[] = {
        {"0", 0},           {"30", 30000},    {"30s", 30000},    {"4h", 14400000},
        {"1h30m", 5400000}, {"250ms", 250},   {"2d", 172800000}, {"1w", 604800000},
        {"1m1s1ms", 61001}, {"90m", 5400000},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t ms = -1;
        const char *why = NULL;
        if (bl_cfg_duration(ok[i].s, &ms, &why) != 0)
            BL_FAIL("duration '%s' refused: %s", ok[i].s, why);
        ASSERT_EQ(ms, ok[i].ms);
    }
    static const char *const bad[] = {"",
                                      "h",
                                      "4x",
                                      "-1s",
                                      "1h30",
                                      "1.5h",
                                      " 4h",
                                      "4h ",
                                      "4H",
                                      "s4",
                                      "99999999999999999999s",
                                      "106751991167301d"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = 0;
        const char *why = NULL;
        if (bl_cfg_duration(bad[i], &ms, &why) != BL_ECONFIG)
            BL_FAIL("duration '%s' accepted as %lld", bad[i], (long long)ms);
        ASSERT(why && *why);
    }
}

static void test_size_bool_uint(void)
{
    uint64_t b;
    const char *why;
    ASSERT_EQ(bl_cfg_size("4096", &b, &why), 0);
    ASSERT_EQ(b, 4096);
    ASSERT_EQ(bl_cfg_size("64k", &b, &why), 0);
    ASSERT_EQ(b, 65536);
    ASSERT_EQ(bl_cfg_size("64KiB", &b, &why), 0);
    ASSERT_EQ(b, 65536);
    ASSERT_EQ(bl_cfg_size("2MB", &b, &why), 0);
    ASSERT_EQ(b, 2000000);
    ASSERT_EQ(bl_cfg_size("1G", &b, &why), 0);
    ASSERT_EQ(b, 1ULL << 30);
    ASSERT_EQ(bl_cfg_size("16Q", &b, &why), BL_ECONFIG);
    ASSERT_EQ(bl_cfg_size("k", &b, &why), BL_ECONFIG);
    ASSERT_EQ(bl_cfg_size("99999999999T", &b, &why), BL_ECONFIG);
    int v = -1;
    ASSERT_EQ(bl_cfg_bool("Yes", &v, &why), 0);
    ASSERT_EQ(v, 1);
    ASSERT_EQ(bl_cfg_bool("off", &v, &why), 0);
    ASSERT_EQ(v, 0);
    ASSERT_EQ(bl_cfg_bool("maybe", &v, &why), BL_ECONFIG);
    ASSERT_EQ(bl_cfg_uint("53", 1, 65535, &b, &why), 0);
    ASSERT_EQ(b, 53);
    ASSERT_EQ(bl_cfg_uint("0", 1, 65535, &b, &why), BL_ECONFIG);
    ASSERT_EQ(bl_cfg_uint("5x", 0, 9, &b, &why), BL_ECONFIG);
}

static void listen_ok(const char *s, int def, const char *want)
{
    struct sockaddr_storage ss;
    socklen_t len;
    const char *why = NULL;
    char buf[BL_CFG_ADDRSTRLEN];
    if (bl_cfg_listen(s, def, &ss, &len, &why) != 0)
        BL_FAIL("listen '%s' refused: %s", s, why);
    ASSERT_STREQ(bl_cfg_addr_format((struct sockaddr *)&ss, buf, sizeof buf), want);
    ASSERT_EQ(len,
              ss.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
}

static void test_listen(void)
{
    listen_ok("127.0.0.1:5353", -1, "127.0.0.1:5353");
    listen_ok("[::1]:53", -1, "[::1]:53");
    listen_ok("[::]:0", -1, "[::]:0");
    listen_ok("0.0.0.0:53", -1, "0.0.0.0:53");
    listen_ok("127.0.0.1", 9153, "127.0.0.1:9153");
    listen_ok("::1", 53, "[::1]:53");
    listen_ok("[2001:db8::1]", 53, "[2001:db8::1]:53");
    static const char *const bad[] = {
        "",           "127.0.0.1", "localhost:53", "127.0.0.1:65536", "127.0.0.1:-1",
        "[::1]53",    "[::1",      "[::1]:",       "1.2.3:53",        "127.0.0.1:53x",
        "[1.2.3.4]x", ":53",       "[]:53",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sockaddr_storage ss;
        socklen_t len;
        const char *why = NULL;
        if (bl_cfg_listen(bad[i], -1, &ss, &len, &why) != BL_ECONFIG)
            BL_FAIL("listen '%s' accepted", bad[i]);
        ASSERT(why && *why);
    }
}

static void test_duration_format_and_window(void)
{
    static const struct {
        int64_t ms;
        const char *s;
    } f[] = {{0, "0s"},           {250, "250ms"},
             {30000, "30s"},      {14400000, "4h"},
             {5400000, "1h30m"},  {691200000, "1w1d"},
             {-1500, "-1s500ms"}, {INT64_MAX, "15250284452w3d7h12m55s807ms"}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        char buf[BL_CFG_DURSTRLEN];
        ASSERT_STREQ(bl_cfg_duration_format(f[i].ms, buf, sizeof buf), f[i].s);
        int64_t back;
        const char *why;
        if (f[i].ms >= 0) { /* what is written reads back */
            ASSERT_EQ(bl_cfg_duration(buf, &back, &why), 0);
            ASSERT_EQ(back, f[i].ms);
        }
    }
    char small[4];
    bl_cfg_duration_format(5400000, small, sizeof small); /* truncated, terminated */
    ASSERT(strlen(small) < sizeof small);

    char msg[200] = "";
    ASSERT_EQ(bl_cfg_window_check(14400000, 300000, 3600000, msg, sizeof msg), 0);
    ASSERT_EQ(bl_cfg_window_check(14400000, 10800000, 3600000, msg, sizeof msg), 0); /* exact */
    ASSERT_EQ(bl_cfg_window_check(14400000, 10800000, 7200000, msg, sizeof msg), 1);
    ASSERT_STREQ(msg,
                 "ttl 3h plus expected propagation 2h is 5h, more than the 4h propagation window");
    ASSERT_EQ(bl_cfg_window_check(600000, INT64_MAX, 1, msg, sizeof msg), 1); /* no overflow */
}

static void test_errorf(void)
{
    bl_cfg_err_t e;
    ASSERT_EQ(bl_cfg_errorf(&e, "/etc/blsync/mirror.conf", 12, "%s: %s", "ttl", "bad"), BL_ECONFIG);
    ASSERT_STREQ(e.msg, "/etc/blsync/mirror.conf:12: ttl: bad");
    bl_cfg_errorf(&e, "m.conf", 0, "missing [sync] section");
    ASSERT_STREQ(e.msg, "m.conf: missing [sync] section");
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    bl_cfg_errorf(&e, "f", 1, "%s", big); /* truncated, never overflows */
    ASSERT_EQ(strlen(e.msg), sizeof e.msg - 1);
}

int main(void)
{
    RUN(test_duration);
    RUN(test_size_bool_uint);
    RUN(test_listen);
    RUN(test_duration_format_and_window);
    RUN(test_errorf);
    return 0;
}
