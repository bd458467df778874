/* SPDX-License-Identifier: MIT */
/* The listing policy: input validation, report scoring, expiry, operator actions, lookup. */
#ifndef MASTER_POLICY_H
#define MASTER_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* What a listing kind answers, and for how long (0: until removed). */
typedef struct {
    int a;
    int reason;
    int64_t duration_ms;
} master_kind_conf_t;

typedef struct {
    double weight[MASTER_SRC_N]; /* per report source */
    double threshold;            /* list when the weighted sum in the window reaches this */
    int64_t window_ms;           /* counting window of reports */
    int64_t duration_ms;         /* a policy listing ends this long after the last report */
    int64_t relist_grace_ms;     /* no policy re-listing this long after an operator removal */
    int64_t future_skew_ms;      /* report times further ahead than this are refused */
    int64_t max_age_ms;          /* report times older than this are refused */
    int min_len4, min_len6;      /* widest prefixes accepted */
    int64_t mirror_active_ms;    /* a mirror silent for longer is not counted in lookups */
    master_kind_conf_t kind[MASTER_KIND_N];
} master_policy_t;

/* Fills p with the defaults documented in docs/ARCHITECTURE.md. */
void master_policy_defaults(master_policy_t *p);

/* Parses and checks a listable address (allow_prefix 0) or prefix (1) by
 * the address rules of proto/addr.h, with the policy's min_prefix4/6.
 * Returns 0, or BL_EPREFIX / BL_EHOSTBITS / BL_EINVAL with *why set to a
 * static human sentence saying why the input is refused. */
int master_policy_target(const master_policy_t *p, const char *s, int allow_prefix,
                         bl_prefix_t *out, const char **why);

/* Validates a report; why as above (source, time). */
int master_policy_check_report(const master_policy_t *p, const master_report_t *r, int64_t now_ms,
                               const char **why);

/* What happened to a report or an operator action. */
enum { MASTER_R_STORED, MASTER_R_LISTED, MASTER_R_EXTENDED, MASTER_R_GRACE };

/* Stores a (checked) report and applies the policy at now_ms: lists the
 * address when the weighted reports in the window reach the threshold,
 * extends a policy listing to last report + duration. Inside a transaction.
 * *outcome (may be NULL) receives MASTER_R_*; r->id the stored report's id. */
int master_policy_report(master_store_t *s, const master_policy_t *p, master_report_t *r,
                         int64_t now_ms, int *outcome);

/* Delists what has expired at now_ms (inside a transaction). */
int master_policy_expire(master_store_t *s, int64_t now_ms, size_t *n);

/* Operator removal reasons. */
int master_policy_removal_reason_ok(const char *reason);

/* Operator listing of a prefix: a (2..255, 0 for the kind's default),
 * reason (-1 for the kind's default), duration_ms (-1 for the kind's
 * default, 0 until removed). Audited. Inside a transaction. */
int master_policy_add(master_store_t *s, const master_policy_t *p, const bl_prefix_t *key, int kind,
                      int a, int reason, int64_t duration_ms, const char *actor,
                      const char *comment, int64_t now_ms, const char **why);
/* Operator removal with a reason ("technical-error", "user-error"): the
 * listing goes now, the decision is recorded, the policy will not re-list
 * the prefix during the grace period, and reports before the removal no
 * longer count. BL_ENOTFOUND if nothing is listed under key. */
int master_policy_remove(master_store_t *s, const master_policy_t *p, const bl_prefix_t *key,
                         const char *reason, const char *actor, const char *comment,
                         int64_t now_ms);

/* Re-applies the policy to the listing of key after a report stopped
 * counting (a review discounted it), inside a transaction: a policy
 * listing whose remaining reports in the window fall under the threshold
 * is delisted (cause), else it expires duration after its latest remaining
 * report. Other kinds are kept. *delisted (may be NULL) says which. */
int master_policy_reevaluate(master_store_t *s, const master_policy_t *p, const bl_prefix_t *key,
                             const char *cause, int64_t now_ms, int *delisted);

/* The answer to "is it listed, and how long until it is not". */
typedef struct {
    bl_prefix_t addr;
    int listed;
    master_listing_t l;       /* if listed */
    uint64_t reports_counted; /* in the counting window (after any removal) */
    double score;
    uint64_t reports_total;
    int64_t last_report_ms;    /* 0 if none */
    int64_t seconds_to_delist; /* listed: remaining; -1: never; 0: delisting propagating */
    int has_delisting;         /* the latest delisting of this exact prefix */
    master_delisting_t d;
    uint64_t last_serial;                  /* published so far */
    int published;                         /* the delisting is in a published serial */
    uint64_t mirrors_total, mirrors_acked; /* active mirrors, those that have it */
    int propagated;                        /* published and acknowledged by every active mirror */
    int64_t grace_until_ms;                /* re-listing blocked until (0 if not) */
} master_lookup_t;

int master_policy_lookup(master_store_t *s, const master_policy_t *p, const bl_prefix_t *addr,
                         int64_t now_ms, master_lookup_t *out);

/* The same, without what only the operator sees (score, reports_counted,
 * grace_until_ms and last_serial stay 0): four statements fewer a lookup,
 * for the public page, which shows none of them. */
int master_policy_lookup_public(master_store_t *s, const master_policy_t *p,
                                const bl_prefix_t *addr, int64_t now_ms, master_lookup_t *out);

#endif
