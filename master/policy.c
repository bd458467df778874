/* SPDX-License-Identifier: MIT */
/* The listing policy: what may be listed, when reports list an address, and when it ends. */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "err.h"
#include "log.h"
#include "policy.h"

void master_policy_defaults(master_policy_t *p)
{
    memset(p, 0, sizeof *p);
    p->weight[MASTER_SRC_USER] = 1.0;
    p->weight[MASTER_SRC_SPAMTRAP] = 2.0;
    p->threshold = 2.0;
    p->window_ms = 24LL * 3600 * 1000;
    p->duration_ms = 24LL * 3600 * 1000;
    p->relist_grace_ms = 24LL * 3600 * 1000;
    p->future_skew_ms = 5LL * 60 * 1000;
    p->max_age_ms = 7LL * 24 * 3600 * 1000;
    p->min_len4 = 8;
    p->min_len6 = 32;
    p->mirror_active_ms = 4LL * 3600 * 1000;
    p->kind[MASTER_KIND_POLICY] = (master_kind_conf_t){.a = 2, .reason = 1, .duration_ms = 0};
    p->kind[MASTER_KIND_MANUAL] = (master_kind_conf_t){.a = 2, .reason = 2, .duration_ms = 0};
    p->kind[MASTER_KIND_IMPORT] = (master_kind_conf_t){.a = 2, .reason = 3, .duration_ms = 0};
}

int master_policy_target(const master_policy_t *p, const char *s, int allow_prefix,
                         bl_prefix_t *out, const char **why)
{
    return bl_addr_check(s, allow_prefix ? BL_ADDR_PREFIX : 0, p->min_len4, p->min_len6, out, why);
}

int master_policy_check_report(const master_policy_t *p, const master_report_t *r, int64_t now_ms,
                               const char **why)
{
    if (r->source < 0 || r->source >= MASTER_SRC_N) {
        *why = "unknown source: use \"user\" or \"spamtrap\"";
        return BL_EINVAL;
    }
    if (r->t_ms > now_ms + p->future_skew_ms) {
        *why = "report time is in the future";
        return BL_EINVAL;
    }
    if (r->t_ms < now_ms - p->max_age_ms) {
        *why = "report time is older than the accepted age (max_report_age)";
        return BL_EINVAL;
    }
    if (r->evidence && strlen(r->evidence) > 256) {
        *why = "evidence id longer than 256 bytes";
        return BL_EINVAL;
    }
    return 0;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static double score_of(const master_policy_t *p, const uint64_t count[MASTER_SRC_N],
                       uint64_t *total)
{
    double sc = 0;
    *total = 0;
    for (int i = 0; i < MASTER_SRC_N; i++) {
        sc += p->weight[i] * (double)count[i];
        *total += count[i];
    }
    return sc;
}

int master_policy_report(master_store_t *s, const master_policy_t *p, master_report_t *r,
                         int64_t now_ms, int *outcome)
{
    int rc, dummy;
    if (!outcome)
        outcome = &dummy;
    *outcome = MASTER_R_STORED;
    if ((rc = master_store_report_add(s, r)))
        return rc;
    master_listing_t l;
    rc = master_store_listing_get(s, &r->key, &l);
    if (rc == 0) {
        if (l.kind != MASTER_KIND_POLICY)
            return 0;
        int64_t exp = (r->t_ms + p->duration_ms) / 1000;
        if (exp <= l.e.expires_at && r->t_ms <= l.last_report_ms)
            return 0;
        if (exp > l.e.expires_at) {
            l.e.expires_at = exp;
            l.decided_ms = now_ms;
            *outcome = MASTER_R_EXTENDED;
        }
        l.last_report_ms = max64(l.last_report_ms, r->t_ms);
        return master_store_listing_put(s, &l);
    }
    if (rc != BL_ENOTFOUND)
        return rc;
    int64_t from = now_ms - p->window_ms, removed;
    rc = master_store_removal_get(s, &r->key, &removed);
    if (rc == 0) {
        if (now_ms < removed + p->relist_grace_ms) {
            *outcome = MASTER_R_GRACE;
            return 0;
        }
        from = max64(from, removed);
    } else if (rc != BL_ENOTFOUND) {
        return rc;
    }
    uint64_t count[MASTER_SRC_N], total;
    int64_t last;
    if ((rc =
             master_store_report_count(s, &r->key, from, now_ms + p->future_skew_ms, count, &last)))
        return rc;
    if (score_of(p, count, &total) + 1e-9 < p->threshold)
        return 0;
    int64_t exp = (last + p->duration_ms) / 1000;
    if (exp <= now_ms / 1000)
        return 0; /* the reports are too old to keep it listed even for a second */
    const master_kind_conf_t *k = &p->kind[MASTER_KIND_POLICY];
    memset(&l, 0, sizeof l);
    l.e.key = r->key;
    l.e.a = (uint8_t)k->a;
    l.e.reason = (uint16_t)k->reason;
    l.e.listed_at = now_ms / 1000;
    l.e.expires_at = exp;
    l.kind = MASTER_KIND_POLICY;
    l.decided_ms = now_ms;
    l.last_report_ms = last;
    if ((rc = master_store_listing_put(s, &l)))
        return rc;
    *outcome = MASTER_R_LISTED;
    return 0;
}

int master_policy_expire(master_store_t *s, int64_t now_ms, size_t *n)
{
    return master_store_expire(s, now_ms, n);
}

int master_policy_removal_reason_ok(const char *reason)
{
    return reason && (!strcmp(reason, "technical-error") || !strcmp(reason, "user-error"));
}

int master_policy_add(master_store_t *s, const master_policy_t *p, const bl_prefix_t *key, int kind,
                      int a, int reason, int64_t duration_ms, const char *actor,
                      const char *comment, int64_t now_ms, const char **why)
{
    *why = NULL;
    if (kind < 0 || kind >= MASTER_KIND_N) {
        *why = "unknown kind: use \"policy\", \"manual\" or \"import\"";
        return BL_EINVAL;
    }
    const master_kind_conf_t *k = &p->kind[kind];
    if (a == 0)
        a = k->a;
    if (a < 2 || a > 255) {
        *why = "a must be between 2 and 255 (the answer is 127.0.0.a)";
        return BL_EINVAL;
    }
    if (reason < 0)
        reason = k->reason;
    if (reason > 65535) {
        *why = "reason must be between 0 and 65535";
        return BL_EINVAL;
    }
    if (duration_ms < 0)
        duration_ms = kind == MASTER_KIND_POLICY ? p->duration_ms : k->duration_ms;
    master_listing_t l;
    memset(&l, 0, sizeof l);
    l.e.key = *key;
    l.e.a = (uint8_t)a;
    l.e.reason = (uint16_t)reason;
    l.e.listed_at = now_ms / 1000;
    l.e.expires_at = duration_ms ? (now_ms + duration_ms) / 1000 : MASTER_NEVER;
    if (l.e.expires_at <= l.e.listed_at)
        l.e.expires_at = l.e.listed_at + 1;
    l.kind = kind;
    l.decided_ms = now_ms;
    master_listing_t old;
    int rc = master_store_listing_get(s, key, &old);
    if (rc == 0) {
        l.e.listed_at = old.e.listed_at; /* a replacement keeps "listed since" */
        l.last_report_ms = old.last_report_ms;
        if (l.e.expires_at < l.e.listed_at)
            l.e.expires_at = l.e.listed_at;
    } else if (rc != BL_ENOTFOUND) {
        return rc;
    }
    char target[BL_PREFIX_STRLEN], detail[96];
    bl_prefix_format(key, target, sizeof target);
    snprintf(detail, sizeof detail, "kind=%s a=%d reason=%d expires_at=%lld",
             master_kind_name(kind), a, reason, (long long)l.e.expires_at);
    if ((rc = master_store_listing_put(s, &l)) || (rc = master_store_removal_del(s, key)) ||
        (rc = master_store_audit(s, now_ms, actor, "list", target, comment, detail)))
        return rc;
    return 0;
}

int master_policy_remove(master_store_t *s, const master_policy_t *p, const bl_prefix_t *key,
                         const char *reason, const char *actor, const char *comment, int64_t now_ms)
{
    (void)p;
    if (!master_policy_removal_reason_ok(reason))
        return BL_EINVAL;
    char cause[48], target[BL_PREFIX_STRLEN];
    snprintf(cause, sizeof cause, "operator:%s", reason);
    bl_prefix_format(key, target, sizeof target);
    int rc = master_store_listing_del(s, key, now_ms, cause, NULL);
    if (rc)
        return rc;
    if ((rc = master_store_removal_put(s, key, now_ms, reason)) ||
        (rc = master_store_audit(s, now_ms, actor, "remove", target, reason, comment)))
        return rc;
    return 0;
}

int master_policy_reevaluate(master_store_t *s, const master_policy_t *p, const bl_prefix_t *key,
                             const char *cause, int64_t now_ms, int *delisted)
{
    int dummy;
    if (!delisted)
        delisted = &dummy;
    *delisted = 0;
    master_listing_t l;
    int rc = master_store_listing_get(s, key, &l);
    if (rc == BL_ENOTFOUND)
        return 0;
    if (rc || l.kind != MASTER_KIND_POLICY)
        return rc;
    int64_t from = now_ms - p->window_ms, removed;
    rc = master_store_removal_get(s, key, &removed);
    if (rc == 0)
        from = max64(from, removed);
    else if (rc != BL_ENOTFOUND)
        return rc;
    uint64_t count[MASTER_SRC_N], total;
    int64_t last;
    if ((rc = master_store_report_count(s, key, from, now_ms + p->future_skew_ms, count, &last)))
        return rc;
    int64_t exp = (last + p->duration_ms) / 1000;
    if (score_of(p, count, &total) + 1e-9 < p->threshold || exp <= now_ms / 1000) {
        *delisted = 1;
        return master_store_listing_del(s, key, now_ms, cause, NULL);
    }
    if (exp == l.e.expires_at && last == l.last_report_ms)
        return 0;
    l.e.expires_at = exp;
    l.last_report_ms = last;
    l.decided_ms = now_ms;
    return master_store_listing_put(s, &l);
}

/* The score, the removal's grace and the last serial: what the operator's
 * lookup shows beyond the public one. */
static int lookup_detail(master_store_t *s, const master_policy_t *p, const bl_prefix_t *addr,
                         int64_t now_ms, master_lookup_t *out)
{
    int64_t from = now_ms - p->window_ms, removed;
    int rc = master_store_removal_get(s, addr, &removed);
    if (rc == 0) {
        from = max64(from, removed);
        if (now_ms < removed + p->relist_grace_ms)
            out->grace_until_ms = removed + p->relist_grace_ms;
    } else if (rc != BL_ENOTFOUND) {
        return rc;
    }
    uint64_t count[MASTER_SRC_N];
    int64_t last;
    if ((rc = master_store_report_count(s, addr, from, now_ms + p->future_skew_ms, count, &last)))
        return rc;
    out->score = score_of(p, count, &out->reports_counted);
    uint8_t dg[BL_DIGEST_SIZE];
    return master_store_last_serial(s, &out->last_serial, dg);
}

static int lookup(master_store_t *s, const master_policy_t *p, const bl_prefix_t *addr,
                  int64_t now_ms, int detail, master_lookup_t *out)
{
    memset(out, 0, sizeof *out);
    out->addr = *addr;
    out->seconds_to_delist = -2;
    int rc = master_store_listing_cover(s, addr, &out->l);
    if (rc && rc != BL_ENOTFOUND)
        return rc;
    out->listed = rc == 0;
    if (detail && (rc = lookup_detail(s, p, addr, now_ms, out)))
        return rc;
    if ((rc = master_store_report_last(s, addr, &out->last_report_ms, &out->reports_total)))
        return rc;
    if (out->listed) {
        if (out->l.e.expires_at >= MASTER_NEVER)
            out->seconds_to_delist = -1;
        else
            out->seconds_to_delist = max64(0, out->l.e.expires_at - now_ms / 1000);
        return 0;
    }
    /* The latest delisting of any prefix covering addr. */
    rc = master_store_delisting_cover(s, addr, &out->d);
    if (rc && rc != BL_ENOTFOUND)
        return rc;
    out->has_delisting = rc == 0;
    if (!out->has_delisting)
        return 0;
    out->published = out->d.serial != 0 || out->d.noop;
    if ((rc = master_store_mirror_count(s, now_ms - p->mirror_active_ms,
                                        out->published ? out->d.serial : UINT64_MAX / 2,
                                        &out->mirrors_total, &out->mirrors_acked)))
        return rc;
    out->propagated = out->d.noop || (out->published && out->mirrors_acked == out->mirrors_total);
    if (!out->propagated)
        out->seconds_to_delist = 0;
    return 0;
}

int master_policy_lookup(master_store_t *s, const master_policy_t *p, const bl_prefix_t *addr,
                         int64_t now_ms, master_lookup_t *out)
{
    return lookup(s, p, addr, now_ms, 1, out);
}

int master_policy_lookup_public(master_store_t *s, const master_policy_t *p,
                                const bl_prefix_t *addr, int64_t now_ms, master_lookup_t *out)
{
    return lookup(s, p, addr, now_ms, 0, out);
}
