/* SPDX-License-Identifier: MIT */
/* Review requests: checks of what the public sends, the queue in the store, operators' answers. */
#include "reviews.h"

#include <ctype.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "config_util.h"
#include "http.h"
#include "json.h"
#include "log.h"

static const char *const state_names[MASTER_REVIEW_STATES] = {
    "new", "waiting-for-information", "accepted", "rejected", "answered-with-policy"};
static const char *const category_names[MASTER_REVIEW_CATEGORIES] = {
    "technical-error", "user-error", "challenge", "early-delisting"};

const char *master_review_state_name(int state)
{
    return state >= 0 && state < MASTER_REVIEW_STATES ? state_names[state] : "?";
}

const char *master_review_category_name(int category)
{
    return category >= 0 && category < MASTER_REVIEW_CATEGORIES ? category_names[category] : "?";
}

int master_review_category_parse(const char *s)
{
    for (int i = 0; s && i < MASTER_REVIEW_CATEGORIES; i++)
        if (!strcmp(s, category_names[i]))
            return i;
    return -1;
}

static int state_parse(const char *s)
{
    for (int i = 0; s && i < MASTER_REVIEW_STATES; i++)
        if (!strcmp(s, state_names[i]))
            return i;
    return -1;
}

const char *master_review_policy_text(void)
{
    return "Listings end automatically: an address is delisted when no new report has arrived "
           "for the listing duration (24 hours by default) after the last one. Fixing the "
           "problem is the way to delisting; an early delisting is not granted on request, and "
           "exceptions to the policy are not made. Once the address shows \"0\" time to "
           "delisting, the delisting may take up to the propagation window to reach every "
           "mirror and user.";
}

void master_review_clear(master_review_t *r)
{
    char **f[] = {&r->email,  &r->name,          &r->title, &r->relationship, &r->subject,
                  &r->reason, &r->documentation, &r->url,   &r->answer,       &r->operator_};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        free(*f[i]);
        *f[i] = NULL;
    }
}

/* ---- checks ---- */

/* Valid UTF-8 without control characters (newline and tab allowed where multi-line). */
static int text_ok(const char *s, int multiline)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        if (c < 0x80) {
            if ((c < 0x20 && !(multiline && (c == '\n' || c == '\r' || c == '\t'))) || c == 0x7f)
                return 0;
            p++;
            continue;
        }
        int n = (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : -1;
        if (n < 0 || c == 0xc0 || c == 0xc1 || c > 0xf4)
            return 0;
        unsigned cp = c & (0x3f >> n);
        for (int i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (p[i] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || (cp >= 0xd800 && cp < 0xe000) ||
            (cp >= 0x80 && cp < 0xa0) || cp > 0x10ffff) /* overlong, surrogate, C1, past Unicode */
            return 0;
        p += n + 1;
    }
    return 1;
}

/* Local parts of role accounts: mail to them reaches whoever runs the network. */
static const char *const roles[] = {
    "postmaster", "abuse",         "hostmaster", "noc",     "security",
    "admin",      "administrator", "webmaster",  "support", "sysadmin",
    "netadmin",   "ipadmin",       "dnsadmin",   "it",      NULL};

static int role_address(const char *e, const char **why)
{
    const char *at = strrchr(e, '@');
    if (!at || at == e || !at[1]) {
        *why = "not an e-mail address (local@domain)";
        return 0;
    }
    size_t ll = (size_t)(at - e);
    const char *plus = memchr(e, '+', ll); /* postmaster+blsync@ is postmaster@ */
    size_t base = plus ? (size_t)(plus - e) : ll;
    for (size_t i = 0; i < ll; i++)
        if (!isalnum((unsigned char)e[i]) && !strchr(".-_+", e[i])) {
            *why = "the address may hold only letters, digits, '.', '-', '_' and '+' before '@'";
            return 0;
        }
    /* A host name (RFC 1123): labels of 1-63 letters, digits and inner '-',
     * at least two of them, 253 bytes at most, and a top level that is not
     * all digits (postmaster@192.0.2.1 is not a domain). */
    const char *d = at + 1;
    size_t labels = 0, dl = strlen(d);
    int digits = 0;
    for (const char *l = d; dl <= 253;) {
        size_t n = strcspn(l, ".");
        if (!n || n > 63 || l[0] == '-' || l[n - 1] == '-') {
            *why = "the domain after '@' is malformed";
            return 0;
        }
        digits = 1;
        for (size_t i = 0; i < n; i++) {
            if (!isalnum((unsigned char)l[i]) && l[i] != '-') {
                *why = "the domain after '@' may hold only letters, digits, '-' and '.'";
                return 0;
            }
            digits &= isdigit((unsigned char)l[i]) != 0;
        }
        labels++;
        if (!l[n])
            break;
        l += n + 1;
    }
    if (dl > 253) {
        *why = "the domain after '@' is malformed";
        return 0;
    }
    if (labels < 2 || digits) {
        *why = "the domain after '@' must be a full domain name (example.net)";
        return 0;
    }
    for (int i = 0; roles[i]; i++)
        if (strlen(roles[i]) == base && !strncasecmp(e, roles[i], base))
            return 1;
    *why = "write from a role account of the network (postmaster@, abuse@, hostmaster@, noc@, "
           "security@, admin@, ...), not a personal address";
    return 0;
}

static int url_ok(const char *u)
{
    if (strncasecmp(u, "https://", 8) && strncasecmp(u, "http://", 7))
        return 0;
    for (const unsigned char *p = (const unsigned char *)u; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f || *p == '"' || *p == '<' || *p == '>' || *p == '\\')
            return 0;
    return strlen(u) > 10;
}

static int field_bad(const char *v, size_t max, int multiline, int required, const char *name,
                     const char **field, const char **why)
{
    if (!v || !*v) {
        if (!required)
            return 0;
        *field = name;
        *why = "this field is required";
        return 1;
    }
    if (strlen(v) > max) {
        *field = name;
        *why = "too long for this field";
        return 1;
    }
    if (!text_ok(v, multiline)) {
        *field = name;
        *why = multiline ? "invalid characters (control characters or invalid UTF-8)"
                         : "invalid characters (line breaks, control characters or invalid UTF-8)";
        return 1;
    }
    return 0;
}

int master_review_check(const master_policy_t *p, const master_review_form_t *f, const char **field,
                        const char **why)
{
    bl_prefix_t a;
    *field = *why = NULL;
    if (!f->ip || !*f->ip) {
        *field = "ip";
        *why = "this field is required";
        return BL_EINVAL;
    }
    if (strlen(f->ip) > 63 || master_policy_target(p, f->ip, 0, &a, why)) {
        *field = "ip";
        if (!*why)
            *why = "not an IP address";
        return BL_EINVAL;
    }
    int cat = master_review_category_parse(f->category);
    if (cat < 0) {
        *field = "category";
        *why = "choose technical-error, user-error, challenge or early-delisting";
        return BL_EINVAL;
    }
    int challenge = cat == MASTER_REVIEW_CHALLENGE;
    if (field_bad(f->email, MASTER_REVIEW_EMAIL_MAX, 0, 1, "email", field, why) ||
        field_bad(f->name, MASTER_REVIEW_NAME_MAX, 0, 1, "name", field, why) ||
        field_bad(f->title, MASTER_REVIEW_TITLE_MAX, 0, 1, "title", field, why) ||
        field_bad(f->relationship, MASTER_REVIEW_REL_MAX, 1, !challenge, "relationship", field,
                  why) ||
        field_bad(f->subject, MASTER_REVIEW_SUBJ_MAX, 0, challenge, "subject", field, why) ||
        field_bad(f->reason, MASTER_REVIEW_TEXT_MAX, 1, cat != MASTER_REVIEW_EARLY, "reason", field,
                  why) ||
        field_bad(f->documentation, MASTER_REVIEW_DOC_MAX, 1, 0, "documentation", field, why) ||
        field_bad(f->url, MASTER_REVIEW_URL_MAX, 0, 0, "url", field, why) ||
        field_bad(f->report_id, 20, 0, challenge, "report_id", field, why))
        return BL_EINVAL;
    if (!role_address(f->email, why)) {
        *field = "email";
        return BL_EINVAL;
    }
    if (f->url && *f->url && !url_ok(f->url)) {
        *field = "url";
        *why = "a link must be a plain http:// or https:// URL";
        return BL_EINVAL;
    }
    if (challenge) {
        uint64_t id; /* digits only: no sign, space or overflow to wrap to another id */
        if (bl_cfg_uint(f->report_id, 1, INT64_MAX, &id, NULL)) {
            *field = "report_id";
            *why = "the report id is the number given in the report you received";
            return BL_EINVAL;
        }
    } else if (f->report_id && *f->report_id) {
        *field = "report_id";
        *why = "a report id belongs to a challenge of that report";
        return BL_EINVAL;
    }
    return 0;
}

/* ---- the store ---- */

static sqlite3 *db_of(master_store_t *s)
{
    return master_store_db(s);
}

static int sq_fail(master_store_t *s, const char *what, sqlite3_stmt *st)
{
    BL_ERR("store_error", "op=%s error=%s", what, bl_log_q(sqlite3_errmsg(db_of(s))));
    if (st)
        sqlite3_finalize(st);
    return sqlite3_errcode(db_of(s)) == SQLITE_FULL ? BL_ENOSPC : BL_EIO;
}

static int prep(master_store_t *s, const char *q, sqlite3_stmt **st)
{
    return sqlite3_prepare_v2(db_of(s), q, -1, st, NULL) == SQLITE_OK ? 0
                                                                      : sq_fail(s, "prepare", NULL);
}

static void hash_token(const char *token, uint8_t out[SHA256_DIGEST_LENGTH])
{
    SHA256((const unsigned char *)token, strlen(token), out);
}

/* Steps a one-row query: 0 on its row, else finalizes st and returns
 * BL_ENOTFOUND (no row) or the store error. */
static int step_one(master_store_t *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return 0;
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? BL_ENOTFOUND : sq_fail(s, what, NULL);
}

static uint64_t open_count(master_store_t *s)
{
    sqlite3_stmt *st;
    uint64_t n = 0;
    if (prep(s, "SELECT count(*) FROM reviews WHERE state IN ('new','waiting-for-information')",
             &st))
        return UINT64_MAX;
    if (sqlite3_step(st) == SQLITE_ROW)
        n = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* The address's report with id, not discounted: 0, BL_ENOTFOUND, or a store error. */
static int report_of(master_store_t *s, int64_t id, const bl_prefix_t *addr)
{
    sqlite3_stmt *st;
    int rc = prep(s,
                  "SELECT key FROM reports WHERE id=?1 AND id NOT IN (SELECT report_id FROM "
                  "discounted)",
                  &st);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    if ((rc = step_one(s, st, "report_of")))
        return rc;
    bl_prefix_t k;
    rc = master_key_decode(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0), &k);
    sqlite3_finalize(st);
    return !rc && bl_prefix_eq(&k, addr) ? 0 : BL_ENOTFOUND;
}

static const char *nz(const char *s)
{
    return s ? s : "";
}

int master_review_file(master_store_t *s, const master_policy_t *p, const master_review_form_t *f,
                       int64_t recent_ms, uint64_t max_open, int64_t now_ms, int64_t *id,
                       char *token, int *state, const char **field, const char **why)
{
    *field = *why = NULL;
    int rc = master_review_check(p, f, field, why);
    if (rc)
        return rc;
    bl_prefix_t a;
    master_policy_target(p, f->ip, 0, &a, why);
    int cat = master_review_category_parse(f->category);
    master_lookup_t lk;
    if ((rc = master_policy_lookup(s, p, &a, now_ms, &lk)))
        return rc;
    int recent = lk.has_delisting && lk.d.decided_ms >= now_ms - recent_ms;
    if (!lk.listed && !recent) {
        *field = "ip";
        *why = "this address is not listed and was not listed recently: there is nothing to "
               "review";
        return BL_EINVAL;
    }
    int64_t rid = 0;
    if (cat == MASTER_REVIEW_CHALLENGE) {
        rid = strtoll(f->report_id, NULL, 10);
        rc = report_of(s, rid, &a);
        if (rc == BL_ENOTFOUND) {
            *field = "report_id";
            *why = "no report with this id was made about this address (or it was already "
                   "discounted)";
            return BL_EINVAL;
        }
        if (rc)
            return rc;
    }
    int st_ = cat == MASTER_REVIEW_EARLY ? MASTER_REVIEW_POLICY : MASTER_REVIEW_NEW;
    if (st_ == MASTER_REVIEW_NEW && open_count(s) >= max_open)
        return MASTER_REVIEW_EFULL;
    uint8_t raw[MASTER_REVIEW_TOKEN_LEN / 2];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return BL_EIO;
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(token + 2 * i, 3, "%02x", raw[i]);
    uint8_t h[SHA256_DIGEST_LENGTH];
    hash_token(token, h);
    char ip[BL_PREFIX_STRLEN], pfx[BL_PREFIX_STRLEN] = "";
    bl_prefix_format(&a, ip, sizeof ip);
    if (lk.listed)
        bl_prefix_format(&lk.l.e.key, pfx, sizeof pfx);
    sqlite3_stmt *q;
    if ((rc = prep(s,
                   "INSERT INTO reviews(created_ms,updated_ms,state,category,ip,prefix,report_id,"
                   "token_hash,email,name,title,relationship,subject,reason,documentation,url,"
                   "answer,operator) VALUES(?1,?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,"
                   "?16,'')",
                   &q)))
        return rc;
    sqlite3_bind_int64(q, 1, now_ms);
    sqlite3_bind_text(q, 2, state_names[st_], -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, category_names[cat], -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, ip, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, pfx, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 6, rid);
    sqlite3_bind_blob(q, 7, h, sizeof h, SQLITE_STATIC);
    const char *vals[] = {f->email,   f->name,   f->title,         f->relationship,
                          f->subject, f->reason, f->documentation, f->url};
    for (int i = 0; i < 8; i++)
        sqlite3_bind_text(q, 8 + i, nz(vals[i]), -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 16, st_ == MASTER_REVIEW_POLICY ? master_review_policy_text() : "", -1,
                      SQLITE_STATIC);
    if (sqlite3_step(q) != SQLITE_DONE)
        return sq_fail(s, "review_file", q);
    sqlite3_finalize(q);
    *id = sqlite3_last_insert_rowid(db_of(s));
    *state = st_;
    char target[96], detail[96];
    snprintf(target, sizeof target, "review:%lld", (long long)*id);
    snprintf(detail, sizeof detail, "ip=%s category=%s report=%lld state=%s", ip,
             category_names[cat], (long long)rid, state_names[st_]);
    return master_store_audit(s, now_ms, "public", "review-filed", target, category_names[cat],
                              detail);
}

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return strdup(t ? (const char *)t : "");
}

#define REVIEW_COLS                                                                                \
    "id,created_ms,updated_ms,state,category,ip,prefix,report_id,email,name,title,relationship,"   \
    "subject,reason,documentation,url,answer,operator,token_hash"

static int row_to_review(sqlite3_stmt *st, master_review_t *r)
{
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(st, 0);
    r->created_ms = sqlite3_column_int64(st, 1);
    r->updated_ms = sqlite3_column_int64(st, 2);
    r->state = state_parse((const char *)sqlite3_column_text(st, 3));
    r->category = master_review_category_parse((const char *)sqlite3_column_text(st, 4));
    snprintf(r->ip, sizeof r->ip, "%s", (const char *)sqlite3_column_text(st, 5));
    snprintf(r->prefix, sizeof r->prefix, "%s", (const char *)sqlite3_column_text(st, 6));
    r->report_id = sqlite3_column_int64(st, 7);
    char **f[] = {&r->email,  &r->name,          &r->title, &r->relationship, &r->subject,
                  &r->reason, &r->documentation, &r->url,   &r->answer,       &r->operator_};
    for (int i = 0; i < 10; i++)
        if (!(*f[i] = col_dup(st, 8 + i))) {
            master_review_clear(r);
            return BL_ENOMEM;
        }
    return 0;
}

int master_review_get(master_store_t *s, int64_t id, const char *token, master_review_t *out)
{
    sqlite3_stmt *st;
    int rc = prep(s, "SELECT " REVIEW_COLS " FROM reviews WHERE id=?1", &st);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    if ((rc = step_one(s, st, "review_get")))
        return rc;
    if (token) {
        uint8_t h[SHA256_DIGEST_LENGTH];
        hash_token(token, h);
        const uint8_t *have = sqlite3_column_blob(st, 18);
        unsigned char d = sqlite3_column_bytes(st, 18) != (int)sizeof h;
        for (size_t i = 0; !d && i < sizeof h; i++)
            d |= have[i] ^ h[i];
        if (d || strlen(token) != MASTER_REVIEW_TOKEN_LEN) {
            sqlite3_finalize(st);
            return BL_ENOTFOUND;
        }
    }
    rc = row_to_review(st, out);
    sqlite3_finalize(st);
    return rc;
}

int master_review_each(master_store_t *s, int state, size_t limit,
                       int (*fn)(void *ctx, const master_review_t *r), void *ctx)
{
    sqlite3_stmt *st;
    const char *q = state == -1   ? "SELECT " REVIEW_COLS " FROM reviews WHERE state IN "
                                    "('new','waiting-for-information') ORDER BY id LIMIT ?2"
                    : state == -2 ? "SELECT " REVIEW_COLS " FROM reviews ORDER BY id LIMIT ?2"
                                  : "SELECT " REVIEW_COLS
                                    " FROM reviews WHERE state=?1 ORDER BY id LIMIT ?2";
    int rc = prep(s, q, &st);
    if (rc)
        return rc;
    if (state >= 0)
        sqlite3_bind_text(st, 1, master_review_state_name(state), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)limit);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        master_review_t r;
        int e = row_to_review(st, &r);
        if (e) {
            sqlite3_finalize(st);
            return e;
        }
        e = fn(ctx, &r);
        master_review_clear(&r);
        if (e) {
            sqlite3_finalize(st);
            return e;
        }
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : sq_fail(s, "review_each", NULL);
}

static int set_state(master_store_t *s, int64_t id, int state, const char *answer,
                     const char *operator_, int64_t now_ms)
{
    sqlite3_stmt *st;
    int rc = prep(
        s, "UPDATE reviews SET state=?2, updated_ms=?3, answer=?4, operator=?5 WHERE id=?1", &st);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, state_names[state], -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now_ms);
    sqlite3_bind_text(st, 4, answer, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, operator_, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        return sq_fail(s, "review_state", st);
    sqlite3_finalize(st);
    return 0;
}

/* accept of a challenge: the report stops counting, the policy looks again. */
static int discount(master_store_t *s, const master_policy_t *p, const master_review_t *r,
                    int64_t now_ms, const char **effect, int *changed)
{
    sqlite3_stmt *st;
    int rc =
        prep(s, "INSERT OR IGNORE INTO discounted(report_id,t_ms,review_id) VALUES(?1,?2,?3)", &st);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, r->report_id);
    sqlite3_bind_int64(st, 2, now_ms);
    sqlite3_bind_int64(st, 3, r->id);
    if (sqlite3_step(st) != SQLITE_DONE)
        return sq_fail(s, "discount", st);
    sqlite3_finalize(st);
    bl_prefix_t a;
    const char *why;
    if (master_policy_target(p, r->ip, 0, &a, &why)) {
        *effect = "the report no longer counts";
        return 0;
    }
    int delisted = 0;
    if ((rc = master_policy_reevaluate(s, p, &a, "review:challenge", now_ms, &delisted)))
        return rc;
    master_listing_t l;
    rc = master_store_listing_get(s, &a, &l);
    if (delisted) {
        *effect = "the report no longer counts; the listing fell under the threshold and is "
                  "delisted";
        *changed = 1;
    } else if (rc == 0) {
        *effect = "the report no longer counts; the other reports keep the address listed";
        *changed = 1;
    } else {
        *effect = "the report no longer counts";
    }
    return rc == BL_ENOTFOUND ? 0 : rc;
}

/* accept of a listing review: the operator removal of the listing covering the address. */
static int remove_listing(master_store_t *s, const master_policy_t *p, const master_review_t *r,
                          const char *operator_, const char *note, int64_t now_ms,
                          const char **effect, int *changed)
{
    bl_prefix_t a;
    const char *why;
    master_listing_t l;
    if (master_policy_target(p, r->ip, 0, &a, &why))
        return BL_EINVAL;
    int rc = master_store_listing_cover(s, &a, &l);
    if (rc == BL_ENOTFOUND) {
        *effect = "the address is no longer listed: nothing to remove";
        return 0;
    }
    if (rc)
        return rc;
    char comment[MASTER_REVIEW_NOTE_MAX + 64];
    snprintf(comment, sizeof comment, "review %lld: %s", (long long)r->id, note);
    if ((rc = master_policy_remove(s, p, &l.e.key, master_review_category_name(r->category),
                                   operator_, comment, now_ms)))
        return rc;
    *effect = "the listing is removed";
    *changed = 1;
    return 0;
}

int master_review_act(master_store_t *s, const master_policy_t *p, int64_t id, const char *action,
                      const char *operator_, const char *note, int64_t now_ms, const char **effect,
                      int *changed, const char **why)
{
    const char *eff_dummy;
    int ch_dummy;
    if (!effect)
        effect = &eff_dummy;
    if (!changed)
        changed = &ch_dummy;
    *effect = "none";
    *changed = 0;
    *why = NULL;
    int to = !strcmp(action, "accept")   ? MASTER_REVIEW_ACCEPTED
             : !strcmp(action, "reject") ? MASTER_REVIEW_REJECTED
             : !strcmp(action, "ask")    ? MASTER_REVIEW_WAITING
                                         : -1;
    if (to < 0) {
        *why = "unknown action: use accept, reject or ask";
        return BL_EINVAL;
    }
    if (!note || !*note) {
        *why = "a note is required: it is the answer the requester reads";
        return BL_EINVAL;
    }
    if (strlen(note) > MASTER_REVIEW_NOTE_MAX || !text_ok(note, 1)) {
        *why = "the note is too long or holds control characters";
        return BL_EINVAL;
    }
    master_review_t r;
    int rc = master_review_get(s, id, NULL, &r);
    if (rc == BL_ENOTFOUND) {
        *why = "no such review request";
        return BL_ENOTFOUND;
    }
    if (rc)
        return rc;
    if (r.state != MASTER_REVIEW_NEW && r.state != MASTER_REVIEW_WAITING) {
        *why = "this request is closed";
        master_review_clear(&r);
        return BL_ESTATE;
    }
    if (to == MASTER_REVIEW_ACCEPTED)
        rc = r.category == MASTER_REVIEW_CHALLENGE
                 ? discount(s, p, &r, now_ms, effect, changed)
                 : remove_listing(s, p, &r, operator_, note, now_ms, effect, changed);
    if (!rc)
        rc = set_state(s, id, to, note, operator_, now_ms);
    if (!rc) {
        char target[64], detail[256];
        snprintf(target, sizeof target, "review:%lld", (long long)id);
        snprintf(detail, sizeof detail, "ip=%s category=%s from=%s to=%s effect=%s", r.ip,
                 master_review_category_name(r.category), master_review_state_name(r.state),
                 state_names[to], *effect);
        rc = master_store_audit(s, now_ms, operator_, action, target, note, detail);
    }
    master_review_clear(&r);
    return rc;
}

int master_review_reply(master_store_t *s, int64_t id, const char *token, const char *text,
                        int64_t now_ms, const char **why)
{
    *why = NULL;
    if (!text || !*text || strlen(text) > MASTER_REVIEW_TEXT_MAX || !text_ok(text, 1)) {
        *why = "the reply is empty, too long or holds control characters";
        return BL_EINVAL;
    }
    master_review_t r;
    int rc = master_review_get(s, id, token, &r);
    if (rc)
        return rc;
    if (r.state != MASTER_REVIEW_WAITING) {
        master_review_clear(&r);
        *why = "this request is not waiting for information";
        return BL_ESTATE;
    }
    size_t n = strlen(r.documentation) + strlen(text) + 64;
    char *doc = malloc(n);
    if (!doc) {
        master_review_clear(&r);
        return BL_ENOMEM;
    }
    snprintf(doc, n, "%s%s[reply] %s", r.documentation, *r.documentation ? "\n\n" : "", text);
    sqlite3_stmt *st;
    rc =
        prep(s, "UPDATE reviews SET state='new', updated_ms=?2, documentation=?3 WHERE id=?1", &st);
    if (!rc) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, now_ms);
        sqlite3_bind_text(st, 3, doc, -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? (sqlite3_finalize(st), 0)
                                             : sq_fail(s, "review_reply", st);
    }
    if (!rc) {
        char target[64];
        snprintf(target, sizeof target, "review:%lld", (long long)id);
        rc = master_store_audit(s, now_ms, "public", "review-reply", target, NULL, r.ip);
    }
    free(doc);
    master_review_clear(&r);
    return rc;
}

int master_review_stats(master_store_t *s, uint64_t count[MASTER_REVIEW_STATES],
                        int64_t *oldest_new_ms)
{
    for (int i = 0; i < MASTER_REVIEW_STATES; i++)
        count[i] = 0;
    *oldest_new_ms = 0;
    sqlite3_stmt *st;
    int rc = prep(s, "SELECT state,count(*),min(updated_ms) FROM reviews GROUP BY state", &st);
    if (rc)
        return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int k = state_parse((const char *)sqlite3_column_text(st, 0));
        if (k < 0)
            continue;
        count[k] = (uint64_t)sqlite3_column_int64(st, 1);
        if (k == MASTER_REVIEW_NEW)
            *oldest_new_ms = sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : sq_fail(s, "review_stats", NULL);
}

void master_review_json(bl_buf_t *out, const master_review_t *r, int full)
{
    char t1[40], t2[40];
    master_json_printf(
        out, "{\"id\":%lld,\"state\":\"%s\",\"category\":\"%s\",\"ip\":", (long long)r->id,
        master_review_state_name(r->state), master_review_category_name(r->category));
    master_json_put_str(out, r->ip);
    master_json_printf(
        out,
        ",\"filed_at\":\"%s\",\"filed_at_unix\":%lld,\"updated_at\":\"%s\""
        ",\"updated_at_unix\":%lld",
        master_format_time(r->created_ms, t1, sizeof t1), (long long)(r->created_ms / 1000),
        master_format_time(r->updated_ms, t2, sizeof t2), (long long)(r->updated_ms / 1000));
    if (r->report_id)
        master_json_printf(out, ",\"report_id\":%lld", (long long)r->report_id);
    master_json_printf(out, ",\"answer\":");
    master_json_put_str(out, r->answer);
    if (full) {
        const struct {
            const char *k, *v;
        } f[] = {{"listing", r->prefix},
                 {"email", r->email},
                 {"name", r->name},
                 {"title", r->title},
                 {"relationship", r->relationship},
                 {"subject", r->subject},
                 {"reason", r->reason},
                 {"documentation", r->documentation},
                 {"url", r->url},
                 {"operator", r->operator_}};
        for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
            master_json_printf(out, ",\"%s\":", f[i].k);
            master_json_put_str(out, f[i].v);
        }
    }
    master_json_printf(out, "}");
}
