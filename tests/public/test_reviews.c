/* SPDX-License-Identifier: MIT */
/* Review requests on a real store: the checks of each field, the queue, the operator's answers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "public.h"
#include "reviews.h"
#include "store_fixture.h"
#include "test.h"

static master_policy_t pol;

static master_review_form_t form(const char *ip, const char *category)
{
    return (master_review_form_t){.ip = ip,
                                  .category = category,
                                  .email = "postmaster@example.net",
                                  .name = "Ann",
                                  .title = "Admin",
                                  .relationship = "Our network.",
                                  .reason = "Listed in error."};
}

static const char *refused_field(master_review_form_t f)
{
    const char *field, *why;
    return master_review_check(&pol, &f, &field, &why) ? field : NULL;
}

static void test_checks(void)
{
    master_review_form_t f = form("192.0.2.1", "technical-error");
    ASSERT(!refused_field(f));
    const char *ok_mail[] = {"Postmaster@Example.NET", "abuse+blsync@mail.example.org",
                             "noc@example.co.uk", NULL};
    for (int i = 0; ok_mail[i]; i++) {
        f.email = ok_mail[i];
        ASSERT(!refused_field(f));
    }
    const char *bad_mail[] = {"john.doe@example.net",
                              "postmaster@localhost",
                              "postmaster@",
                              "@example.net",
                              "post master@example.net",
                              "postmaster@exa..mple.net",
                              "postmaster@example.net.",
                              "postmasterexample.net",
                              NULL};
    for (int i = 0; bad_mail[i]; i++) {
        f.email = bad_mail[i];
        ASSERT_STREQ(refused_field(f), "email");
    }
    f = form("192.0.2.1", "technical-error");
    f.name = "Zo\xc3\xab \xc3\x9cnal"; /* valid UTF-8 */
    ASSERT(!refused_field(f));
    const char *bad_text[] = {"a\xc0\xaf", "a\xc2\x85", "a\xed\xa0\x80", "a\xff", "a\nb",
                              "a\x1b[2J",  NULL};
    for (int i = 0; bad_text[i]; i++) {
        f.name = bad_text[i];
        ASSERT_STREQ(refused_field(f), "name");
    }
    f = form("192.0.2.1", "technical-error");
    f.reason = "line one\nline two\ttabbed"; /* multi-line fields keep lines */
    ASSERT(!refused_field(f));
    char big[MASTER_REVIEW_TEXT_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    f.reason = big;
    ASSERT_STREQ(refused_field(f), "reason");
    big[MASTER_REVIEW_TEXT_MAX] = 0;
    ASSERT(!refused_field(f));
    f = form("192.0.2.1", "challenge");
    ASSERT_STREQ(refused_field(f), "subject");
    f.subject = "Your newsletter";
    ASSERT_STREQ(refused_field(f), "report_id");
    f.report_id = "12x";
    ASSERT_STREQ(refused_field(f), "report_id");
    f.report_id = "12";
    ASSERT(!refused_field(f));
    f = form("192.0.2.1", "technical-error");
    f.url = "javascript:alert(1)";
    ASSERT_STREQ(refused_field(f), "url");
    f.url = "https://example.net/evidence.pdf";
    ASSERT(!refused_field(f));
    f = form("127.0.0.1", "technical-error");
    ASSERT_STREQ(refused_field(f), "ip");
    f = form("192.0.2.1", "delist-me");
    ASSERT_STREQ(refused_field(f), "category");
    f = form("192.0.2.1", "early-delisting");
    f.reason = NULL; /* the policy answers it: no reason needed */
    ASSERT(!refused_field(f));
}

static void test_words(void)
{
    char b[64];
    ASSERT_STREQ(master_public_words(0, b, sizeof b), "in less than a minute");
    ASSERT_STREQ(master_public_words(90, b, sizeof b), "in about 2 minutes");
    ASSERT_STREQ(master_public_words(3600, b, sizeof b), "in about 1 hour");
    ASSERT_STREQ(master_public_words(23 * 3600 + 600, b, sizeof b), "in about 23 hours");
    ASSERT_STREQ(master_public_words(86399, b, sizeof b), "in about 24 hours");
    ASSERT_STREQ(master_public_words(5 * 86400, b, sizeof b), "in about 5 days");
}

static int64_t report(master_store_t *s, const char *ip, int64_t t)
{
    master_report_t r = {.source = MASTER_SRC_USER, .t_ms = t, .received_ms = t};
    ASSERT_EQ(bl_prefix_parse(ip, &r.key), 0);
    ASSERT_EQ(master_store_begin(s), 0);
    ASSERT_EQ(master_policy_report(s, &pol, &r, t, NULL), 0);
    ASSERT_EQ(master_store_commit(s), 0);
    ASSERT(r.id > 0);
    return r.id;
}

static int file(master_store_t *s, master_review_form_t f, int64_t now, uint64_t max_open,
                int64_t *id, char *token, int *state)
{
    const char *field, *why;
    ASSERT_EQ(master_store_begin(s), 0);
    int rc = master_review_file(s, &pol, &f, 7LL * 86400000, max_open, now, id, token, state,
                                &field, &why);
    if (rc)
        master_store_rollback(s);
    else
        ASSERT_EQ(master_store_commit(s), 0);
    return rc;
}

static int act(master_store_t *s, int64_t id, const char *action, int64_t now, const char **effect)
{
    const char *why;
    int changed;
    ASSERT_EQ(master_store_begin(s), 0);
    int rc = master_review_act(s, &pol, id, action, "op", "note", now, effect, &changed, &why);
    if (rc)
        master_store_rollback(s);
    else
        ASSERT_EQ(master_store_commit(s), 0);
    return rc;
}

static int listed(master_store_t *s, const char *ip, int64_t now)
{
    bl_prefix_t a;
    master_lookup_t lk;
    ASSERT_EQ(bl_prefix_parse(ip, &a), 0);
    ASSERT_EQ(master_policy_lookup(s, &pol, &a, now, &lk), 0);
    return lk.listed;
}

static void test_queue(void)
{
    master_store_t *s = fresh_store("queue");
    int64_t t = 1800000000000LL, id, id2;
    char tok[MASTER_REVIEW_TOKEN_LEN + 1];
    int state;
    /* Not listed, never listed: nothing to review. */
    ASSERT_EQ(file(s, form("192.0.2.7", "technical-error"), t, 10, &id, tok, &state), BL_EINVAL);
    /* Two reports list it; a challenge of the first brings it under the threshold. */
    int64_t r1 = report(s, "192.0.2.7", t), r2 = report(s, "192.0.2.7", t + 1000);
    ASSERT(r2 > r1 && listed(s, "192.0.2.7", t + 2000));
    master_review_form_t f = form("192.0.2.7", "challenge");
    char rid[24];
    f.subject = "Newsletter";
    snprintf(rid, sizeof rid, "%lld", (long long)r1);
    f.report_id = rid;
    ASSERT_EQ(file(s, f, t + 2000, 10, &id, tok, &state), 0);
    ASSERT_EQ(state, MASTER_REVIEW_NEW);
    ASSERT_EQ(strlen(tok), MASTER_REVIEW_TOKEN_LEN);
    master_review_t rv;
    ASSERT_EQ(master_review_get(s, id, tok, &rv), 0);
    ASSERT_EQ(rv.report_id, r1);
    master_review_clear(&rv);
    ASSERT_EQ(master_review_get(s, id, "00000000000000000000000000000000", &rv), BL_ENOTFOUND);
    /* A report of another address cannot be challenged for this one. */
    report(s, "192.0.2.8", t);
    snprintf(rid, sizeof rid, "%lld", (long long)r1 + 2);
    ASSERT_EQ(file(s, f, t + 2000, 10, &id2, tok, &state), BL_EINVAL);
    const char *effect;
    ASSERT_EQ(act(s, id, "accept", t + 3000, &effect), 0);
    ASSERT(strstr(effect, "delisted"));
    ASSERT(!listed(s, "192.0.2.7", t + 3000));
    ASSERT_EQ(act(s, id, "reject", t + 3000, &effect), BL_ESTATE); /* closed */
    /* The discounted report no longer counts: one more report does not list again. */
    report(s, "192.0.2.9", t);
    report(s, "192.0.2.7", t + 4000);
    ASSERT(listed(s, "192.0.2.7", t + 4000)); /* r2 and the new one reach the threshold */
    /* The bound: open requests up to max_open, then refused; early delisting still answered. */
    for (int i = 0; i < 2; i++)
        ASSERT_EQ(file(s, form("192.0.2.7", "user-error"), t + 5000, 2, &id2, tok, &state), 0);
    ASSERT_EQ(file(s, form("192.0.2.7", "user-error"), t + 5000, 2, &id2, tok, &state),
              MASTER_REVIEW_EFULL);
    ASSERT_EQ(file(s, form("192.0.2.7", "early-delisting"), t + 5000, 2, &id2, tok, &state), 0);
    ASSERT_EQ(state, MASTER_REVIEW_POLICY);
    uint64_t n[MASTER_REVIEW_STATES];
    int64_t oldest;
    ASSERT_EQ(master_review_stats(s, n, &oldest), 0);
    ASSERT_EQ(n[MASTER_REVIEW_NEW], 2);
    ASSERT_EQ(n[MASTER_REVIEW_ACCEPTED], 1);
    ASSERT_EQ(n[MASTER_REVIEW_POLICY], 1);
    ASSERT_EQ(oldest, t + 5000);
    master_store_close(s);
}

int main(void)
{
    store_fixture_init("bl-reviews");
    bl_log_init("public_reviews", BL_LOG_WARN, 0);
    master_policy_defaults(&pol);
    RUN(test_checks);
    RUN(test_words);
    RUN(test_queue);
    return store_fixture_done();
}
