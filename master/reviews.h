/* SPDX-License-Identifier: MIT */
/* Review requests: the public asks for a listing's review or challenges a report; operators answer.
 */
#ifndef MASTER_REVIEWS_H
#define MASTER_REVIEWS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "policy.h"
#include "rd.h"
#include "store.h"

/*
 * A request is filed from the public listener (master/public.c) into the
 * store's reviews table and worked by operators through the admin API
 * (blsyncctl reviews). States:
 *
 *   new --ask--> waiting-for-information --reply--> new
 *   new | waiting-for-information --accept--> accepted
 *                                 --reject--> rejected
 *   filed as early-delisting ------------------> answered-with-policy
 *
 * Categories: technical-error and user-error ask for the review of a
 * listing (accepting removes it: the operator removal, reason = category);
 * challenge names one report by id (accepting discounts that report and
 * re-evaluates the listing under the policy); early-delisting is no review:
 * it is answered with the policy at once and changes nothing. Every change
 * is in the audit log with the operator and the note.
 */

enum {
    MASTER_REVIEW_NEW,
    MASTER_REVIEW_WAITING,
    MASTER_REVIEW_ACCEPTED,
    MASTER_REVIEW_REJECTED,
    MASTER_REVIEW_POLICY,
    MASTER_REVIEW_STATES
};
enum {
    MASTER_REVIEW_TECHNICAL,
    MASTER_REVIEW_USER,
    MASTER_REVIEW_CHALLENGE,
    MASTER_REVIEW_EARLY,
    MASTER_REVIEW_CATEGORIES
};
const char *master_review_state_name(int state);
const char *master_review_category_name(int category);
int master_review_category_parse(const char *s); /* -1 if unknown */

/* Field limits in bytes (each field of the form, UTF-8). */
#define MASTER_REVIEW_EMAIL_MAX 254
#define MASTER_REVIEW_NAME_MAX  100
#define MASTER_REVIEW_TITLE_MAX 100
#define MASTER_REVIEW_REL_MAX   1000
#define MASTER_REVIEW_SUBJ_MAX  998
#define MASTER_REVIEW_TEXT_MAX  4000
#define MASTER_REVIEW_DOC_MAX   8000
#define MASTER_REVIEW_URL_MAX   2000
#define MASTER_REVIEW_NOTE_MAX  4000
#define MASTER_REVIEW_TOKEN_LEN 32 /* hex characters of the requester's secret */

/* The queue is full: a new request is refused until operators answer some. */
#define MASTER_REVIEW_EFULL BL_ETOOBIG

/* What a requester sends (every string may be NULL: absent). */
typedef struct {
    const char *ip, *category, *report_id, *email, *name, *title, *relationship, *subject, *reason,
        *documentation, *url;
} master_review_form_t;

/* A stored request (strings owned by the struct; master_review_clear frees). */
typedef struct {
    int64_t id, created_ms, updated_ms, report_id;
    int state, category;
    char ip[64], prefix[64];
    char *email, *name, *title, *relationship, *subject, *reason, *documentation, *url, *answer,
        *operator_;
} master_review_t;
void master_review_clear(master_review_t *r);

/* The policy answer of early-delisting requests, for the given listing duration. */
const char *master_review_policy_text(void);

/* Checks a form on its own (no store): category, lengths, the role address
 * (postmaster@, abuse@, ... of a domain), the URL (http/https), no control
 * characters, valid UTF-8; the report id for a challenge. Returns 0, or
 * BL_EINVAL with *field (the form field) and *why (a sentence) set. */
int master_review_check(const master_policy_t *p, const master_review_form_t *f, const char **field,
                        const char **why);

/* Files a checked form (inside a transaction): the address must be listed
 * or delisted within recent_ms; a challenge's report must be one of the
 * address's and not discounted yet; at most max_open requests may be open
 * (new or waiting) at once (MASTER_REVIEW_EFULL). An early-delisting request is
 * answered with the policy and closed. Returns 0 with *id, the secret
 * token (MASTER_REVIEW_TOKEN_LEN + 1 bytes) and *state; BL_EINVAL with
 * *field and *why for a request the store refuses. */
int master_review_file(master_store_t *s, const master_policy_t *p, const master_review_form_t *f,
                       int64_t recent_ms, uint64_t max_open, int64_t now_ms, int64_t *id,
                       char *token, int *state, const char **field, const char **why);

/* Reads request id (BL_ENOTFOUND if none). With token non-NULL the token
 * must match too (constant time; BL_ENOTFOUND otherwise). */
int master_review_get(master_store_t *s, int64_t id, const char *token, master_review_t *out);

/* Calls fn for each request in state (-1: every open one, -2: all), oldest
 * first, at most limit; fn returning non-zero stops. */
int master_review_each(master_store_t *s, int state, size_t limit,
                       int (*fn)(void *ctx, const master_review_t *r), void *ctx);

/* An operator's answer (inside a transaction): action "accept", "reject"
 * or "ask" (asks the requester for information; the note is the question).
 * accept on a listing review removes the listing covering the address
 * (operator removal, reason = category); on a challenge discounts the
 * report and re-evaluates the listing. *effect (may be NULL) receives a
 * static sentence of what happened to the listing; *changed whether the
 * listings changed (publish). BL_EINVAL with *why for a request that
 * cannot take the action (closed, unknown action, note too long). */
int master_review_act(master_store_t *s, const master_policy_t *p, int64_t id, const char *action,
                      const char *operator_, const char *note, int64_t now_ms, const char **effect,
                      int *changed, const char **why);

/* The requester adds the information asked for (state waiting -> new). */
int master_review_reply(master_store_t *s, int64_t id, const char *token, const char *text,
                        int64_t now_ms, const char **why);

/* Writes r as a JSON object: full (operators) with every field; else what
 * the requester sees (no e-mail or names echoed back beyond the request). */
void master_review_json(bl_buf_t *out, const master_review_t *r, int full);

/* Counts per state and the oldest unanswered request (state new) by the
 * time it entered that state (0 if none). */
int master_review_stats(master_store_t *s, uint64_t count[MASTER_REVIEW_STATES],
                        int64_t *oldest_new_ms);

#endif
