/* SPDX-License-Identifier: MIT */
/* Unit tests of the master core: JSON parser, input validation, policy on an explicit clock,
 * publisher chain. */
#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "key.h"
#include "obj.h"
#include "policy.h"
#include "publisher.h"
#include "state.h"
#include "store.h"
#include "store_fixture.h"
#include "test.h"
#include "util.h"

#define H  (3600LL * 1000)
#define T0 1800000000000LL

static master_report_t rep(const char *ip, int src, int64_t t)
{
    master_report_t r = {.source = src, .t_ms = t, .received_ms = t};
    ASSERT_EQ(bl_prefix_parse(ip, &r.key), 0);
    return r;
}

static int report(master_store_t *s, const master_policy_t *p, const char *ip, int src, int64_t t)
{
    master_report_t r = rep(ip, src, t);
    int oc;
    ASSERT_EQ(master_store_begin(s), 0);
    ASSERT_EQ(master_policy_report(s, p, &r, t, &oc), 0);
    ASSERT_EQ(master_store_commit(s), 0);
    return oc;
}

static master_lookup_t lookup(master_store_t *s, const master_policy_t *p, const char *ip,
                              int64_t now)
{
    master_lookup_t lk;
    bl_prefix_t a;
    ASSERT_EQ(bl_prefix_parse(ip, &a), 0);
    ASSERT_EQ(master_policy_lookup(s, p, &a, now, &lk), 0);
    return lk;
}

/* The public lookup answers what the page shows as the operator's does,
 * and leaves the operator's fields (score, grace, last serial) at 0. */
static void same_public(master_store_t *s, const master_policy_t *p, const char *ip, int64_t now)
{
    master_lookup_t full = lookup(s, p, ip, now), pub;
    bl_prefix_t a;
    ASSERT_EQ(bl_prefix_parse(ip, &a), 0);
    ASSERT_EQ(master_policy_lookup_public(s, p, &a, now, &pub), 0);
    ASSERT_EQ(pub.listed, full.listed);
    if (full.listed) {
        ASSERT(bl_prefix_eq(&pub.l.e.key, &full.l.e.key));
        ASSERT_EQ(pub.l.e.listed_at, full.l.e.listed_at);
        ASSERT_EQ(pub.l.e.expires_at, full.l.e.expires_at);
        ASSERT_EQ(pub.l.kind, full.l.kind);
    }
    ASSERT_EQ(pub.last_report_ms, full.last_report_ms);
    ASSERT_EQ(pub.reports_total, full.reports_total);
    ASSERT_EQ(pub.seconds_to_delist, full.seconds_to_delist);
    ASSERT_EQ(pub.has_delisting, full.has_delisting);
    ASSERT_EQ(pub.d.decided_ms, full.d.decided_ms);
    ASSERT_EQ(pub.published, full.published);
    ASSERT_EQ(pub.propagated, full.propagated);
    ASSERT_EQ(pub.mirrors_total, full.mirrors_total);
    ASSERT_EQ(pub.mirrors_acked, full.mirrors_acked);
    ASSERT(pub.score == 0 && pub.reports_counted == 0);
    ASSERT(pub.grace_until_ms == 0 && pub.last_serial == 0);
}

static void test_json(void)
{
    static const char *good[] = {"{}",
                                 "[]",
                                 "0",
                                 "-1.5e3",
                                 "\"a\\u00e9\\ud83d\\ude00\"",
                                 " {\"a\":[1,true,false,null,{\"b\":\"c\"}]} ",
                                 "\"\xc3\xa9\""};
    static const char *bad[] = {"",
                                "{",
                                "[1,]",
                                "{\"a\":1,}",
                                "01",
                                "1.",
                                "-",
                                "\"\\x\"",
                                "\"\\ud800\"",
                                "tru",
                                "{a:1}",
                                "[1] [2]",
                                "\"\x01\"",
                                "\"\xff\"",
                                "1e",
                                "\"\\u0000\"",
                                "{\"a\":1,\"a\":2}",
                                "\"\xed\xa0\x80\"",
                                "NaN"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        master_json_doc_t d;
        char err[128];
        int rc = master_json_parse(good[i], strlen(good[i]), NULL, &d, err, sizeof err);
        if (rc)
            BL_FAIL("good JSON %s refused: %s", good[i], err);
        master_json_free(&d);
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        master_json_doc_t d;
        char err[128];
        int rc = master_json_parse(bad[i], strlen(bad[i]), NULL, &d, err, sizeof err);
        if (!rc)
            BL_FAIL("bad JSON '%s' accepted", bad[i]);
        ASSERT(strstr(err, "at byte") != NULL);
    }
    /* Depth bound. */
    char deep[200];
    memset(deep, '[', sizeof deep);
    master_json_doc_t d;
    char err[128];
    ASSERT(master_json_parse(deep, sizeof deep, NULL, &d, err, sizeof err) != 0);
    ASSERT(strstr(err, "nesting too deep") != NULL);
    const char *s = "{\"ip\":\"1.2.3.4\",\"n\":[1,2,3]}";
    ASSERT_EQ(master_json_parse(s, strlen(s), NULL, &d, err, sizeof err), 0);
    ASSERT_STREQ(master_json_get(d.root, "ip")->str, "1.2.3.4");
    ASSERT_EQ(master_json_get(d.root, "n")->n, 3);
    master_json_free(&d);
    /* The writer escapes quotes, backslashes and control characters; with
     * MASTER_JSON_HTML_SAFE also '<', '>' and '&'; NULL writes "". */
    bl_buf_t b;
    bl_buf_init(&b);
    master_json_put_str(&b, "<a href=\"x\">&\\\n</a>");
    master_json_put_strf(&b, "<a href=\"x\">&\\\n</a>", MASTER_JSON_HTML_SAFE);
    master_json_put_strf(&b, NULL, 0);
    bl_buf_u8(&b, 0);
    ASSERT_STREQ((const char *)b.data, "\"<a href=\\\"x\\\">&\\\\\\u000a</a>\""
                                       "\"\\u003ca href=\\\"x\\\"\\u003e\\u0026\\\\\\u000a"
                                       "\\u003c/a\\u003e\"\"\"");
    bl_buf_close(&b);
}

static void test_refused_targets(void)
{
    master_policy_t p;
    master_policy_defaults(&p);
    struct {
        const char *in;
        int prefix;
        const char *msg;
    } cases[] = {
        {"example.com", 0, "domain name"},
        {"mail.example.org", 1, "domain name"},
        {"spammer@example.com", 0, "e-mail address"},
        {"127.0.0.1", 0, "127.0.0.0/8 is loopback"},
        {"127.1.2.3", 0, "127.0.0.0/8 is loopback"},
        {"127.0.0.0/8", 1, "127.0.0.0/8 is loopback"},
        {"0.0.0.0/0", 1, "the whole IPv4 address space"},
        {"::1", 0, "loopback"},
        {"::ffff:127.0.0.1", 0, "loopback"},
        {"1.2.3.4/24", 1, "host bits"},
        {"1.2.3", 0, "malformed"},
        {"1.2.3.4.5", 0, "malformed"},
        {"300.1.2.3", 0, "malformed"},
        {"1.2.3.0/33", 1, "malformed"},
        {"2001:db8::/129", 1, "malformed"},
        {"2001:db8:::1", 0, "malformed"},
        {"", 0, "empty"},
        {"1.2.3.0/24", 0, "not a prefix"},
        {"10.0.0.0/7", 1, "wider than"},
        {"2001::/16", 1, "wider than"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        bl_prefix_t k;
        const char *why = NULL;
        int rc = master_policy_target(&p, cases[i].in, cases[i].prefix, &k, &why);
        if (!rc || !why || !strstr(why, cases[i].msg))
            BL_FAIL("'%s': rc=%d why=%s (want '%s')", cases[i].in, rc, why ? why : "(none)",
                    cases[i].msg);
    }
    static const char *ok[] = {"127.0.0.2",        "192.0.2.1",       "2001:db8::1",
                               "::ffff:127.0.0.2", "198.51.100.0/24", "2001:db8::/32"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        bl_prefix_t k;
        const char *why = NULL;
        if (master_policy_target(&p, ok[i], 1, &k, &why))
            BL_FAIL("'%s' refused: %s", ok[i], why);
    }
    /* Report fields. */
    master_report_t r = rep("192.0.2.1", MASTER_SRC_USER, T0 + H);
    const char *why;
    ASSERT(master_policy_check_report(&p, &r, T0, &why) != 0);
    ASSERT(strstr(why, "future"));
    r.t_ms = T0 - 8 * 24 * H;
    ASSERT(master_policy_check_report(&p, &r, T0, &why) != 0);
    ASSERT(strstr(why, "older"));
    r.t_ms = T0;
    r.source = 7;
    ASSERT(master_policy_check_report(&p, &r, T0, &why) != 0);
    ASSERT(strstr(why, "unknown source"));
    /* The JSON layer names the field. */
    static const struct {
        const char *body, *msg;
    } js[] = {
        {"{\"source\":\"user\"}", "missing field: ip"},
        {"{\"ip\":\"192.0.2.1\"}", "missing field: source"},
        {"{\"ip\":\"192.0.2.1\",\"source\":\"robot\"}", "unknown source"},
        {"{\"ip\":1,\"source\":\"user\"}", "ip must be a string"},
        {"{\"ip\":\"192.0.2.1\",\"source\":\"user\",\"colour\":1}", "unknown field"},
        {"{\"ip\":\"192.0.2.1\",\"source\":\"user\",\"time\":\"yesterday\"}", "RFC 3339"},
        /* Signs, blanks and days past the month's end are not RFC 3339, not other times. */
        {"{\"ip\":\"192.0.2.1\",\"source\":\"user\",\"time\":\"2027-01-15T-1:-1:-1Z\"}",
         "RFC 3339"},
        {"{\"ip\":\"192.0.2.1\",\"source\":\"user\",\"time\":\"2027-01-15T 1:+2: 3Z\"}",
         "RFC 3339"},
        {"{\"ip\":\"192.0.2.1\",\"source\":\"user\",\"time\":\"2027-01-+9T01:02:03Z\"}",
         "RFC 3339"},
        {"{\"ip\":\"192.0.2.1\",\"source\":\"user\",\"time\":\"2026-02-31T01:02:03Z\"}",
         "RFC 3339"},
        {"{\"ip\":\"a@b.example\",\"source\":\"user\"}", "e-mail"},
        {"[1]", "must be a JSON object"},
    };
    for (size_t i = 0; i < sizeof js / sizeof *js; i++) {
        master_reports_t rs;
        bl_buf_t errs;
        bl_buf_init(&errs);
        size_t nerr;
        char w[160];
        ASSERT_EQ(master_reports_parse(&p, (const uint8_t *)js[i].body, strlen(js[i].body), T0, &rs,
                                       &errs, &nerr, w, sizeof w),
                  0);
        ASSERT_EQ(nerr, 1);
        bl_buf_u8(&errs, 0);
        if (!strstr((char *)errs.data, js[i].msg))
            BL_FAIL("%s: got %s, want %s", js[i].body, (char *)errs.data, js[i].msg);
        bl_buf_close(&errs);
        master_reports_free(&rs);
    }
    int64_t ms;
    ASSERT_EQ(master_parse_time("2027-01-15T08:00:00Z", &ms), 0);
    ASSERT_EQ(ms, T0);
    ASSERT_EQ(master_parse_time("2027-01-15T08:00:00.25+00:00", &ms), 0);
    ASSERT_EQ(ms, T0 + 250);
    ASSERT_EQ(master_parse_time("2024-02-29T00:00:00Z", &ms), 0);
    ASSERT(master_parse_time("2023-02-29T00:00:00Z", &ms) != 0);
    ASSERT(master_parse_time("2027-04-31T00:00:00Z", &ms) != 0);
    ASSERT(master_parse_time("2027-01-15T08:00:0Z", &ms) != 0);
}

static void test_threshold_weights(void)
{
    master_store_t *s = fresh_store("threshold");
    master_policy_t p;
    master_policy_defaults(&p);
    p.threshold = 3;
    p.weight[MASTER_SRC_USER] = 1;
    p.weight[MASTER_SRC_SPAMTRAP] = 2;
    /* Users: 2 reports stay below 3, the third lists. */
    ASSERT_EQ(report(s, &p, "192.0.2.1", MASTER_SRC_USER, T0), MASTER_R_STORED);
    ASSERT_EQ(report(s, &p, "192.0.2.1", MASTER_SRC_USER, T0 + 1000), MASTER_R_STORED);
    master_lookup_t lk = lookup(s, &p, "192.0.2.1", T0 + 2000);
    ASSERT(!lk.listed);
    ASSERT_EQ(lk.reports_counted, 2);
    ASSERT_EQ(report(s, &p, "192.0.2.1", MASTER_SRC_USER, T0 + 2000), MASTER_R_LISTED);
    lk = lookup(s, &p, "192.0.2.1", T0 + 3000);
    ASSERT(lk.listed);
    ASSERT_EQ(lk.reports_counted, 3);
    same_public(s, &p, "192.0.2.1", T0 + 3000);
    same_public(s, &p, "192.0.2.21", T0 + 3000); /* never reported */
    ASSERT_EQ(lk.l.e.listed_at, (T0 + 2000) / 1000);
    ASSERT_EQ(lk.l.e.a, 2);
    ASSERT_EQ(lk.l.e.reason, 1);
    /* Spamtrap weighs 2: one spamtrap hit is below 3, plus one user report lists. */
    ASSERT_EQ(report(s, &p, "192.0.2.2", MASTER_SRC_SPAMTRAP, T0), MASTER_R_STORED);
    ASSERT_EQ(report(s, &p, "192.0.2.2", MASTER_SRC_USER, T0 + 1), MASTER_R_LISTED);
    /* Reports outside the counting window do not count. */
    ASSERT_EQ(report(s, &p, "192.0.2.3", MASTER_SRC_SPAMTRAP, T0), MASTER_R_STORED);
    ASSERT_EQ(report(s, &p, "192.0.2.3", MASTER_SRC_USER, T0 + 25 * H), MASTER_R_STORED);
    ASSERT_EQ(report(s, &p, "192.0.2.3", MASTER_SRC_USER, T0 + 25 * H + 1), MASTER_R_STORED);
    ASSERT_EQ(report(s, &p, "192.0.2.3", MASTER_SRC_USER, T0 + 25 * H + 2), MASTER_R_LISTED);
    /* IPv6 as well. */
    ASSERT_EQ(report(s, &p, "2001:db8::5", MASTER_SRC_SPAMTRAP, T0), MASTER_R_STORED);
    ASSERT_EQ(report(s, &p, "2001:db8::5", MASTER_SRC_SPAMTRAP, T0), MASTER_R_LISTED);
    master_store_close(s);
}

static void test_expiry_extension(void)
{
    master_store_t *s = fresh_store("expiry");
    master_policy_t p;
    master_policy_defaults(&p); /* threshold 2, user 1, duration 24 h */
    report(s, &p, "192.0.2.10", MASTER_SRC_USER, T0);
    ASSERT_EQ(report(s, &p, "192.0.2.10", MASTER_SRC_USER, T0), MASTER_R_LISTED);
    master_lookup_t lk = lookup(s, &p, "192.0.2.10", T0);
    ASSERT_EQ(lk.seconds_to_delist, 24 * 3600);
    /* Published as serial 1 (what the publisher records). */
    master_object_t o1 = {.serial = 1, .type = BL_OBJ_DELTA, .path = "x"};
    ASSERT_EQ(master_store_begin(s), 0);
    ASSERT_EQ(master_store_published(s, &o1), 0);
    ASSERT_EQ(master_store_commit(s), 0);
    lk = lookup(s, &p, "192.0.2.10", T0 + 10 * H);
    ASSERT_EQ(lk.seconds_to_delist, 14 * 3600);
    /* A new report extends to 24 h after it. */
    ASSERT_EQ(report(s, &p, "192.0.2.10", MASTER_SRC_USER, T0 + 10 * H), MASTER_R_EXTENDED);
    lk = lookup(s, &p, "192.0.2.10", T0 + 10 * H);
    ASSERT_EQ(lk.seconds_to_delist, 24 * 3600);
    ASSERT_EQ(lk.last_report_ms, T0 + 10 * H);
    ASSERT_EQ(lk.l.e.listed_at, T0 / 1000); /* listed since does not move */
    /* One second before: still listed; at the time: delisted, decision recorded. */
    size_t n;
    ASSERT_EQ(master_store_begin(s), 0);
    ASSERT_EQ(master_policy_expire(s, T0 + 34 * H - 1000, &n), 0);
    ASSERT_EQ(master_store_commit(s), 0);
    ASSERT_EQ(n, 0);
    ASSERT(lookup(s, &p, "192.0.2.10", T0 + 34 * H - 1000).listed);
    ASSERT_EQ(master_store_begin(s), 0);
    ASSERT_EQ(master_policy_expire(s, T0 + 34 * H, &n), 0);
    ASSERT_EQ(master_store_commit(s), 0);
    ASSERT_EQ(n, 1);
    lk = lookup(s, &p, "192.0.2.10", T0 + 34 * H + 5);
    ASSERT(!lk.listed);
    ASSERT(lk.has_delisting);
    ASSERT_EQ(lk.d.decided_ms, T0 + 34 * H);
    ASSERT_STREQ(lk.d.cause, "expired");
    ASSERT_EQ(lk.seconds_to_delist, 0); /* decided, not yet published */
    ASSERT(!lk.published);
    /* Published, one active mirror has not acknowledged: still "0". */
    ASSERT_EQ(master_store_begin(s), 0);
    ASSERT_EQ(master_store_mirror_ack(s, "m1", 1, T0 + 34 * H), 0);
    master_object_t o = {.serial = 2, .type = BL_OBJ_DELTA, .path = "x"};
    ASSERT_EQ(master_store_published(s, &o), 0);
    ASSERT_EQ(master_store_commit(s), 0);
    lk = lookup(s, &p, "192.0.2.10", T0 + 34 * H + 10);
    ASSERT(lk.published);
    ASSERT_EQ(lk.d.serial, 2);
    ASSERT_EQ(lk.mirrors_total, 1);
    ASSERT_EQ(lk.mirrors_acked, 0);
    ASSERT_EQ(lk.seconds_to_delist, 0);
    ASSERT(!lk.propagated);
    ASSERT_EQ(master_store_begin(s), 0);
    ASSERT_EQ(master_store_mirror_ack(s, "m1", 2, T0 + 34 * H + 20), 0);
    ASSERT_EQ(master_store_commit(s), 0);
    lk = lookup(s, &p, "192.0.2.10", T0 + 34 * H + 30);
    ASSERT(lk.propagated);
    ASSERT_EQ(lk.seconds_to_delist, -2);
    /* Listed and delisted before any serial carried it: nothing propagates. */
    report(s, &p, "192.0.2.12", MASTER_SRC_USER, T0 + 35 * H);
    ASSERT_EQ(report(s, &p, "192.0.2.12", MASTER_SRC_USER, T0 + 35 * H), MASTER_R_LISTED);
    bl_prefix_t k12;
    bl_prefix_parse("192.0.2.12", &k12);
    ASSERT_EQ(master_store_begin(s), 0);
    ASSERT_EQ(master_policy_remove(s, &p, &k12, "technical-error", "op", NULL, T0 + 35 * H), 0);
    ASSERT_EQ(master_store_commit(s), 0);
    lk = lookup(s, &p, "192.0.2.12", T0 + 35 * H);
    ASSERT(lk.d.noop && lk.propagated);
    ASSERT_EQ(lk.seconds_to_delist, -2);
    ASSERT_EQ(master_store_pending_count(s), 0);
    /* Reports too old to keep a listing for even a second do not list. */
    report(s, &p, "192.0.2.11", MASTER_SRC_USER, T0);
    ASSERT_EQ(report(s, &p, "192.0.2.11", MASTER_SRC_USER, T0), MASTER_R_LISTED);
    master_store_close(s);
}

static void test_operator(void)
{
    master_store_t *s = fresh_store("operator");
    master_policy_t p;
    master_policy_defaults(&p);
    p.relist_grace_ms = 6 * H;
    report(s, &p, "192.0.2.20", MASTER_SRC_USER, T0);
    ASSERT_EQ(report(s, &p, "192.0.2.20", MASTER_SRC_USER, T0), MASTER_R_LISTED);
    bl_prefix_t k;
    bl_prefix_parse("192.0.2.20", &k);
    ASSERT_EQ(master_store_begin(s), 0);
    ASSERT_EQ(master_policy_remove(s, &p, &k, "please", "op", NULL, T0 + H), BL_EINVAL);
    ASSERT_EQ(master_policy_remove(s, &p, &k, "user-error", "op", "double opt-in shown", T0 + H),
              0);
    ASSERT_EQ(master_store_commit(s), 0);
    master_lookup_t lk = lookup(s, &p, "192.0.2.20", T0 + H);
    ASSERT(!lk.listed);
    ASSERT_STREQ(lk.d.cause, "operator:user-error");
    ASSERT_EQ(lk.d.decided_ms, T0 + H);
    ASSERT_EQ(lk.grace_until_ms, T0 + 7 * H);
    ASSERT_EQ(lk.reports_counted, 0);         /* reviewed reports no longer count */
    same_public(s, &p, "192.0.2.20", T0 + H); /* delisted, in its grace */
    /* During the grace period reports are stored but do not re-list. */
    ASSERT_EQ(report(s, &p, "192.0.2.20", MASTER_SRC_SPAMTRAP, T0 + 2 * H), MASTER_R_GRACE);
    ASSERT_EQ(report(s, &p, "192.0.2.20", MASTER_SRC_SPAMTRAP, T0 + 3 * H), MASTER_R_GRACE);
    ASSERT(!lookup(s, &p, "192.0.2.20", T0 + 3 * H).listed);
    /* After it, reports since the removal count again. */
    ASSERT_EQ(report(s, &p, "192.0.2.20", MASTER_SRC_USER, T0 + 8 * H), MASTER_R_LISTED);
    lk = lookup(s, &p, "192.0.2.20", T0 + 8 * H);
    ASSERT(lk.listed);
    ASSERT_EQ(lk.reports_counted, 3);
    same_public(s, &p, "192.0.2.20", T0 + 8 * H);
    /* Removing what is not listed. */
    bl_prefix_parse("192.0.2.99", &k);
    ASSERT_EQ(master_store_begin(s), 0);
    ASSERT_EQ(master_policy_remove(s, &p, &k, "technical-error", "op", NULL, T0), BL_ENOTFOUND);
    master_store_rollback(s);
    /* Operator listing of a prefix, covering lookups, a bad A value. */
    const char *why;
    bl_prefix_parse("198.51.100.0/24", &k);
    ASSERT_EQ(master_store_begin(s), 0);
    ASSERT_EQ(master_policy_add(s, &p, &k, MASTER_KIND_MANUAL, 1, -1, -1, "op", NULL, T0, &why),
              BL_EINVAL);
    ASSERT(strstr(why, "between 2 and 255"));
    ASSERT_EQ(master_policy_add(s, &p, &k, MASTER_KIND_MANUAL, 4, 9, 0, "op", "feed", T0, &why), 0);
    ASSERT_EQ(master_store_commit(s), 0);
    lk = lookup(s, &p, "198.51.100.77", T0 + 1000 * H);
    ASSERT(lk.listed);
    ASSERT_EQ(lk.l.e.a, 4);
    ASSERT_EQ(lk.l.e.reason, 9);
    ASSERT_EQ(lk.seconds_to_delist, -1);
    ASSERT_EQ(lk.l.e.key.len, 24);
    same_public(s, &p, "198.51.100.77", T0 + 1000 * H);
    master_store_close(s);
    /* The audit log holds both actions with their reasons. */
    char path[512], cmd[700];
    snprintf(path, sizeof path, "%s/operator.db", store_dir);
    snprintf(cmd, sizeof cmd,
             "test \"$(sqlite3 %s \"SELECT action||':'||target||':'||coalesce(reason,'') FROM "
             "audit ORDER BY id\" | tr '\\n' ' ')\" = 'remove:192.0.2.20:user-error "
             "list:198.51.100.0/24:feed '",
             path);
    ASSERT_EQ(system(cmd), 0);
}

/* Spool objects (NNN.delta, NNN.snap) in d; the HTTP layout's head is not one. */
static int count_files(const char *d)
{
    DIR *dd = opendir(d);
    int n = 0;
    struct dirent *de;
    while (dd && (de = readdir(dd)))
        n += de->d_name[0] != '.' && de->d_type == DT_REG && strcmp(de->d_name, "head");
    if (dd)
        closedir(dd);
    return n;
}

static void test_publisher_chain(void)
{
    master_store_t *s = fresh_store("chain");
    master_policy_t p;
    master_policy_defaults(&p);
    p.threshold = 1;
    p.duration_ms = 3 * H;
    char keyp[512], pubp[512];
    snprintf(keyp, sizeof keyp, "%s/k.key", store_dir);
    snprintf(pubp, sizeof pubp, "%s/k.pub", store_dir);
    bl_key_t *key;
    ASSERT_EQ(bl_key_generate(&key), 0);
    ASSERT_EQ(bl_key_save(key, keyp, pubp), 0);
    master_pub_conf_t c;
    master_pub_conf_defaults(&c);
    snprintf(c.spool, sizeof c.spool, "%s/spool", store_dir);
    snprintf(c.key_path, sizeof c.key_path, "%s", keyp);
    c.snapshot_every = 4;
    c.history_count = 8;
    master_publisher_t *pub;
    ASSERT_EQ(master_publisher_new(&c, s, &pub), 0);
    /* A new feed starts with its empty snapshot as serial 1. */
    ASSERT_EQ(master_publisher_recover(pub, T0), 0);
    bl_keyring_t *ring = bl_keyring_new();
    bl_keyring_add_file(ring, pubp);
    bl_state_t st;
    bl_state_init(&st, "main");
    {
        char path[4200];
        snprintf(path, sizeof path, "%s/main/%020d.snap", c.spool, 1);
        uint8_t *buf;
        size_t len;
        ASSERT_EQ(bl_file_read(path, 1 << 26, &buf, &len), 0);
        bl_obj_t obj;
        ASSERT_EQ(bl_obj_open(buf, len, ring, NULL, &obj, NULL), 0);
        ASSERT_EQ(obj.hdr.serial, 1);
        ASSERT_EQ(obj.hdr.n_entries, 0);
        ASSERT_EQ(bl_state_load_snapshot(&st, &obj, NULL), 0);
        free(buf);
    }
    uint64_t seed = 42, serial;
    int64_t now = T0;
    for (int round = 1; round <= 20; round++) {
        /* A random mix: new reports (listing, extending), expiry, removals. */
        ASSERT_EQ(master_store_begin(s), 0);
        for (int i = 0; i < 40; i++) {
            char ip[32];
            snprintf(ip, sizeof ip, "10.0.%d.%d", (int)(bl_test_rand(&seed) % 4),
                     (int)(bl_test_rand(&seed) % 50));
            master_report_t r = rep(ip, MASTER_SRC_USER, now);
            ASSERT_EQ(master_policy_report(s, &p, &r, now, NULL), 0);
            if (bl_test_rand(&seed) % 10 == 0) {
                master_policy_remove(s, &p, &r.key, "technical-error", "t", NULL, now);
            }
        }
        size_t n;
        ASSERT_EQ(master_policy_expire(s, now, &n), 0);
        ASSERT_EQ(master_store_commit(s), 0);
        ASSERT_EQ(master_publisher_run(pub, now, &serial), 0);
        ASSERT_EQ(serial, (uint64_t)round + 1);
        /* Apply what was published, as a mirror would. */
        char path[4200];
        snprintf(path, sizeof path, "%s/main/%020llu.delta", c.spool, (unsigned long long)serial);
        uint8_t *buf;
        size_t len;
        ASSERT_EQ(bl_file_read(path, 1 << 26, &buf, &len), 0);
        bl_obj_t obj;
        ASSERT_EQ(bl_obj_open(buf, len, ring, NULL, &obj, NULL), 0);
        ASSERT_EQ(bl_state_apply_delta(&st, &obj, NULL), 0);
        free(buf);
        /* The incremental digest equals bl_digest_of over the listings. */
        bl_digest_t full;
        uint64_t cnt;
        ASSERT_EQ(master_store_digest_full(s, &full, &cnt), 0);
        master_store_load_meta(s);
        ASSERT(bl_digest_eq(&full, master_store_digest(s)));
        ASSERT(bl_digest_eq(&full, &st.digest));
        ASSERT_EQ(cnt, st.n);
        now += H / 2;
    }
    /* Nothing pending: nothing published. */
    ASSERT_EQ(master_publisher_run(pub, now, &serial), 0);
    ASSERT_EQ(serial, 0);
    /* Bounded history: at most 8 objects, the newest snapshot is kept. */
    char sd[4200];
    snprintf(sd, sizeof sd, "%s/main", c.spool);
    ASSERT(count_files(sd) <= 8);
    ASSERT_EQ(master_publisher_stats(pub)->snapshots_total, 6); /* 1 (first), 4, 8, 12, 16, 20 */
    char snap[4300];
    snprintf(snap, sizeof snap, "%s/%020d.snap", sd, 20);
    ASSERT_EQ(access(snap, R_OK), 0);
    /* The key is read once: losing the file later changes nothing. */
    char moved[600];
    snprintf(moved, sizeof moved, "%s/k.moved", store_dir);
    ASSERT_EQ(rename(keyp, moved), 0);
    ASSERT(master_publisher_reload_key(pub) < 0); /* a reload that fails keeps the key */
    /* A spool that cannot be written: the publish fails, nothing changes, the retry works. */
    ASSERT_EQ(master_store_begin(s), 0);
    master_report_t r = rep("10.9.9.9", MASTER_SRC_USER, now);
    ASSERT_EQ(master_policy_report(s, &p, &r, now, NULL), 0);
    ASSERT_EQ(master_store_commit(s), 0);
    char sd_moved[4300];
    snprintf(sd_moved, sizeof sd_moved, "%s.moved", sd);
    int before = count_files(sd);
    ASSERT_EQ(rename(sd, sd_moved), 0);
    FILE *blocker = fopen(sd, "w"); /* a file where the spool directory was */
    ASSERT(blocker != NULL);
    fclose(blocker);
    ASSERT(master_publisher_run(pub, now, &serial) < 0);
    ASSERT_EQ(master_publisher_stats(pub)->failures_total, 1);
    ASSERT_EQ(unlink(sd), 0);
    ASSERT_EQ(rename(sd_moved, sd), 0);
    ASSERT_EQ(count_files(sd), before);
    ASSERT(master_store_pending_count(s) == 1);
    ASSERT_EQ(master_publisher_run(pub, now, &serial), 0);
    ASSERT_EQ(serial, 22);
    rename(moved, keyp);
    master_publisher_free(pub);
    /* Recovery names a damaged object by what the file is: the older delta 21
     * copied over delta 22 (a different size: 22 holds one change) is a replay,
     * a byte appended to delta 21 is trailing data. */
    char d21[4300], d22[4300];
    snprintf(d21, sizeof d21, "%s/%020d.delta", sd, 21);
    snprintf(d22, sizeof d22, "%s/%020d.delta", sd, 22);
    uint8_t *old;
    size_t old_len;
    ASSERT_EQ(bl_file_read(d21, 1 << 26, &old, &old_len), 0);
    struct stat sb;
    ASSERT_EQ(stat(d22, &sb), 0);
    ASSERT((size_t)sb.st_size != old_len);
    ASSERT_EQ(bl_file_write_atomic(d22, old, old_len, 0644), 0);
    free(old);
    FILE *f = fopen(d21, "ab");
    ASSERT(f != NULL);
    fputc(0, f);
    fclose(f);
    ASSERT_EQ(master_publisher_new(&c, s, &pub), 0);
    ASSERT_EQ(master_publisher_recover(pub, now), 0);
    const master_pub_stats_t *ps = master_publisher_stats(pub);
    ASSERT_EQ(ps->quarantined_total, 2);
    ASSERT_EQ(ps->quarantined_by[-BL_EROLLBACK], 1);
    ASSERT_EQ(ps->quarantined_by[-BL_ETRAILING], 1);
    bl_state_close(&st);
    bl_keyring_free(ring);
    bl_key_free(key);
    master_publisher_free(pub);
    master_store_close(s);
}

/* History bounded by bytes: the oldest objects go, the newest snapshot and delta stay. */
static void test_history_bytes(void)
{
    master_store_t *s = fresh_store("histbytes");
    master_policy_t p;
    master_policy_defaults(&p);
    p.threshold = 1;
    char keyp[512];
    snprintf(keyp, sizeof keyp, "%s/hb.key", store_dir);
    bl_key_t *key;
    ASSERT_EQ(bl_key_generate(&key), 0);
    ASSERT_EQ(bl_key_save(key, keyp, NULL), 0);
    bl_key_free(key);
    master_pub_conf_t c;
    master_pub_conf_defaults(&c);
    snprintf(c.spool, sizeof c.spool, "%s/spool-hb", store_dir);
    snprintf(c.key_path, sizeof c.key_path, "%s", keyp);
    c.snapshot_every = 3;
    c.history_bytes = 1500;
    master_publisher_t *pub;
    ASSERT_EQ(master_publisher_new(&c, s, &pub), 0);
    for (int i = 0; i < 10; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "192.0.2.%d", i + 1);
        report(s, &p, ip, MASTER_SRC_SPAMTRAP, T0);
        uint64_t serial;
        ASSERT_EQ(master_publisher_run(pub, T0, &serial), 0);
        ASSERT_EQ(serial, (uint64_t)i + 1);
    }
    master_object_t *o;
    size_t n;
    ASSERT_EQ(master_store_objects(s, &o, &n), 0);
    uint64_t bytes = 0, keep = 0;
    int snap9 = 0, delta10 = 0;
    for (size_t i = 0; i < n; i++) {
        bytes += o[i].bytes;
        snap9 |= o[i].type == BL_OBJ_SNAPSHOT && o[i].serial == 9;
        delta10 |= o[i].type == BL_OBJ_DELTA && o[i].serial == 10;
        if ((o[i].type == BL_OBJ_SNAPSHOT && o[i].serial == 9) ||
            (o[i].type == BL_OBJ_DELTA && o[i].serial == 10))
            keep += o[i].bytes;
        ASSERT_EQ(access(o[i].path, R_OK), 0);
    }
    ASSERT(snap9 && delta10);
    ASSERT(bytes <= (keep > 1500 ? keep : 1500));
    ASSERT(n < 14); /* 10 deltas + 4 snapshots were published */
    ASSERT(master_publisher_stats(pub)->pruned_total > 0);
    char sd[4200];
    snprintf(sd, sizeof sd, "%s/main", c.spool);
    ASSERT_EQ(count_files(sd), (int)n);
    free(o);
    master_publisher_free(pub);
    master_store_close(s);
}

static void test_report_retention(void)
{
    master_store_t *s = fresh_store("retention");
    bl_prefix_t k;
    bl_prefix_parse("192.0.2.1", &k);
    ASSERT_EQ(master_store_begin(s), 0);
    for (int i = 0; i < 100; i++) {
        master_report_t r = {.key = k, .t_ms = T0 + i, .received_ms = T0 + i};
        ASSERT_EQ(master_store_report_add(s, &r), 0);
    }
    ASSERT_EQ(master_store_commit(s), 0);
    size_t n;
    ASSERT_EQ(master_store_begin(s), 0);
    ASSERT_EQ(master_store_report_prune(s, T0 + 60, &n), 0);
    ASSERT_EQ(master_store_commit(s), 0);
    ASSERT_EQ(n, 60);
    int64_t last;
    uint64_t total;
    ASSERT_EQ(master_store_report_last(s, &k, &last, &total), 0);
    ASSERT_EQ(total, 40);
    ASSERT_EQ(last, T0 + 99);
    /* Everything older: the table empties. */
    ASSERT_EQ(master_store_begin(s), 0);
    ASSERT_EQ(master_store_report_prune(s, T0 + 1000, &n), 0);
    ASSERT_EQ(master_store_commit(s), 0);
    ASSERT_EQ(n, 40);
    master_store_close(s);
}

static void test_http_handle(void)
{
    master_store_t *s = fresh_store("http");
    master_policy_t p;
    master_policy_defaults(&p);
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    master_http_ctx_t ctx = {
        .lock = &lock, .store = s, .policy = &p, .token = "", .max_body = 1024};
    bl_buf_t out;
    bl_buf_init(&out);
    const char *body = "{\"ip\":\"192.0.2.1\",\"source\":\"user\"}";
    /* No token configured: everything but /v1/health is refused, reads too. */
    ASSERT_EQ(master_http_handle(&ctx, "POST", "/v1/reports", "Bearer x", (const uint8_t *)body,
                                 strlen(body), &out),
              403);
    ASSERT_EQ(master_http_handle(&ctx, "GET", "/v1/lookup/192.0.2.1", NULL, NULL, 0, &out), 403);
    ASSERT_EQ(master_http_handle(&ctx, "GET", "/v1/health", NULL, NULL, 0, &out), 200);
    /* A read-only token reads and changes nothing. */
    ctx.read_token = "peek";
    ASSERT_EQ(master_http_handle(&ctx, "GET", "/v1/lookup/192.0.2.1", "Bearer peek", NULL, 0, &out),
              200);
    ASSERT_EQ(master_http_handle(&ctx, "GET", "/v1/status", NULL, NULL, 0, &out), 401);
    ASSERT_EQ(master_http_handle(&ctx, "POST", "/v1/reports", "Bearer peek", (const uint8_t *)body,
                                 strlen(body), &out),
              403);
    ctx.token = "sesame";
    ASSERT_EQ(master_http_handle(&ctx, "POST", "/v1/reports", "Bearer peek", (const uint8_t *)body,
                                 strlen(body), &out),
              401);
    ASSERT_EQ(master_http_handle(&ctx, "GET", "/v1/listings", "Bearer sesame", NULL, 0, &out), 200);
    ASSERT_EQ(master_http_handle(&ctx, "POST", "/v1/reports", "Bearer sesam", (const uint8_t *)body,
                                 strlen(body), &out),
              401);
    ASSERT_EQ(master_http_handle(&ctx, "POST", "/v1/reports", "Bearer sesame",
                                 (const uint8_t *)body, strlen(body), &out),
              200);
    ASSERT_EQ(master_http_handle(&ctx, "DELETE", "/v1/listings/192.0.2.1?reason=user-error",
                                 "Bearer sesame", NULL, 0, &out),
              404);
    bl_buf_close(&out);
    master_store_close(s);
}

/* Whether this process holds a file (open, maybe unlinked) whose path starts with prefix. */
static int holds_file_in(const char *prefix)
{
    DIR *d = opendir("/proc/self/fd");
    ASSERT(d);
    struct dirent *e;
    int found = 0;
    while (!found && (e = readdir(d))) {
        char link[300], target[PATH_MAX];
        snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n > 0) {
            target[n] = 0;
            found = !strncmp(target, prefix, strlen(prefix));
        }
    }
    closedir(d);
    return found;
}

/* master_store_temp_dir: SQLite's temporary files (a temp table spilled out of a tiny cache)
 * go in the store's directory, so that a read-only root with no /tmp suffices. */
static void test_store_temp_dir(void)
{
    char dir[] = "/tmp/blm-tempdir.XXXXXX", db[64], prefix[64];
    ASSERT(mkdtemp(dir));
    snprintf(db, sizeof db, "%s/master.db", dir);
    snprintf(prefix, sizeof prefix, "%s/etilqs_", dir);
    ASSERT_EQ(master_store_temp_dir(db), 0);
    ASSERT_STREQ(sqlite3_temp_directory, dir);
    ASSERT(!holds_file_in(prefix));
    sqlite3 *c;
    ASSERT_EQ(sqlite3_open(db, &c), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(c,
                           "PRAGMA temp_store=FILE; PRAGMA cache_size=10; CREATE TEMP TABLE t(x);"
                           "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                           "WHERE i < 20000) INSERT INTO t SELECT randomblob(100) FROM n",
                           NULL, NULL, NULL),
              SQLITE_OK);
    ASSERT(holds_file_in(prefix));
    sqlite3_close(c);
    sqlite3_free(sqlite3_temp_directory);
    sqlite3_temp_directory = NULL;
    unlink(db);
    ASSERT_EQ(rmdir(dir), 0);
}

/* addr cut to its first len bits. */
static bl_prefix_t cut(const bl_prefix_t *a, int len)
{
    bl_prefix_t p = *a;
    p.len = (uint8_t)len;
    for (int i = 0; i < bl_prefix_maxlen(a); i++)
        if (i >= len)
            p.addr[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
    return p;
}

/* A random prefix near a few bases of the family: covering, nested and
 * neighbouring keys are common. */
static bl_prefix_t near_prefix(uint64_t *rs, int af, int len)
{
    bl_prefix_t a;
    memset(&a, 0, sizeof a);
    a.af = (uint8_t)af;
    a.len = (uint8_t)bl_prefix_maxlen(&a);
    int n = af == BL_AF4 ? 4 : 16;
    a.addr[0] = af == BL_AF4 ? 10 : 0x20;
    a.addr[1] = (uint8_t)(bl_test_rand(rs) % 16);
    for (int i = 2; i < n; i++)
        a.addr[i] = (uint8_t)(bl_test_rand(rs) % 4 == 0 ? bl_test_rand(rs) : bl_test_rand(rs) % 3);
    return cut(&a, len);
}

/* Covering-prefix lookups (listing and latest delisting) agree with probing
 * every length, on the writer and on a read-only reader. */
static void test_cover_lookups(void)
{
    master_store_t *s = fresh_store("cover");
    uint64_t rs = 12345;
    static const int lens4[] = {16, 20, 23, 24, 28, 31, 32, 32, 32, 32};
    static const int lens6[] = {24, 47, 48, 56, 63, 64, 96, 120, 127, 128, 128};
    ASSERT_EQ(master_store_begin(s), 0);
    for (int i = 0; i < 3000; i++) {
        int v4 = i % 2;
        int len = v4 ? lens4[bl_test_rand(&rs) % 10] : lens6[bl_test_rand(&rs) % 11];
        master_listing_t l;
        memset(&l, 0, sizeof l);
        l.e.key = near_prefix(&rs, v4 ? BL_AF4 : BL_AF6, len);
        l.e.a = 2;
        l.e.listed_at = 1000 + i;
        l.e.expires_at = 100000;
        l.decided_ms = 1000000 + i;
        ASSERT_EQ(master_store_listing_put(s, &l), 0);
        /* Delist a third (some twice, at times that do not follow the key
         * order): the latest of several covering delistings must win. */
        if (i % 3 == 0) {
            int64_t t = (int64_t)(bl_test_rand(&rs) % 5000);
            int rc = master_store_listing_del(s, &l.e.key, t, "expired", NULL);
            ASSERT(rc == 0 || rc == BL_ENOTFOUND);
        }
    }
    ASSERT_EQ(master_store_commit(s), 0);
    char path[512];
    snprintf(path, sizeof path, "%s/cover.db", store_dir);
    master_store_t *r;
    ASSERT_EQ(master_store_open_reader(path, "main", &r), 0);
    ASSERT_EQ(master_store_open_reader(path, "other", &(master_store_t *){NULL}), BL_EFEED);
    int listed = 0, delisted = 0;
    for (int i = 0; i < 4000; i++) {
        int v4 = i % 2;
        bl_prefix_t a = near_prefix(&rs, v4 ? BL_AF4 : BL_AF6, v4 ? 32 : 128);
        if (i % 7 == 0) /* a prefix: its covering keys are no longer than it */
            a = cut(&a, v4 ? lens4[i % 10] : lens6[i % 11]);
        master_listing_t want, got;
        int want_rc = BL_ENOTFOUND;
        for (int len = a.len; len >= 0 && want_rc == BL_ENOTFOUND; len--) {
            bl_prefix_t k = cut(&a, len);
            want_rc = master_store_listing_get(s, &k, &want);
        }
        master_delisting_t wd = {0}, gd;
        int wd_found = 0;
        for (int len = bl_prefix_maxlen(&a); len >= 0; len--) {
            bl_prefix_t k = cut(&a, len);
            master_delisting_t d;
            if (master_store_delisting_last(s, &k, &d) == 0 &&
                (!wd_found || d.decided_ms > wd.decided_ms)) {
                wd = d;
                wd_found = 1;
            }
        }
        listed += want_rc == 0;
        delisted += wd_found;
        for (int j = 0; j < 2; j++) {
            master_store_t *q = j ? r : s;
            if (j)
                ASSERT_EQ(master_store_lookup_begin(r), 0);
            ASSERT_EQ(master_store_listing_cover(q, &a, &got), want_rc);
            if (!want_rc) {
                ASSERT(bl_prefix_eq(&got.e.key, &want.e.key));
                ASSERT_EQ(got.e.listed_at, want.e.listed_at);
                ASSERT_EQ(got.decided_ms, want.decided_ms);
            }
            ASSERT_EQ(master_store_delisting_cover(q, &a, &gd), wd_found ? 0 : BL_ENOTFOUND);
            if (wd_found) {
                ASSERT_EQ(gd.decided_ms, wd.decided_ms);
                ASSERT_STREQ(gd.cause, wd.cause);
            }
            if (j)
                master_store_read_end(r);
        }
    }
    ASSERT(listed > 400 && listed < 3600); /* both answers are well exercised */
    ASSERT(delisted > 400);
    master_store_close(r);
    master_store_close(s);
}

int main(void)
{
    store_fixture_init("blm-core");
    bl_log_init("master_core", BL_LOG_WARN, 0);
    RUN(test_json);
    RUN(test_refused_targets);
    RUN(test_threshold_weights);
    RUN(test_expiry_extension);
    RUN(test_operator);
    RUN(test_publisher_chain);
    RUN(test_history_bytes);
    RUN(test_report_retention);
    RUN(test_http_handle);
    RUN(test_store_temp_dir);
    RUN(test_cover_lookups);
    return store_fixture_done();
}
