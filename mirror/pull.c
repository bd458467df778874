/* SPDX-License-Identifier: MIT */
/* The mirror's pull client: heads and hash-named objects over HTTP(S), on the libuv loop. */
#include "pull.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "head.h"
#include "log.h"
#include "util.h"

#define HEAD_MAX  ((size_t)BL_OBJ_PREFIX + (size_t)BL_HEAD_MAX_REC * BL_HEAD_REC)
#define ETAG_MAX  256
#define URL_MAX   2048
#define ROUTE_MAX 4096
/* Long polls: a hold the mirror waits for beyond pull_timeout (the master's
 * spool_long_poll_wait is at most 60 s); an answer back sooner than QUICK_MS
 * with nothing newer was a round already over; so many in a row, or an
 * upstream that does not hold, and it is polled for REPROBE polls. */
#define LP_HOLD_MS  65000
#define LP_QUICK_MS 1000
#define LP_QUICKS   8
#define LP_REPROBE  6

typedef struct {
    char etag[ETAG_MAX];
    uint8_t *head; /* the last 200 body, answered again on a 304 */
    size_t head_len;
} ucache_t;

typedef struct {
    char name[BL_FEED_MAX + 1];
    int level;
    int64_t current_ms;   /* wall clock as of which the state was known current */
    int64_t behind_since; /* a head newer than the state seen since (0: not behind) */
    int64_t last_created; /* signing time of the newest valid head */
    int want_snap;
} pfeed_t;

/* A socket curl watches, and its uv_poll. */
typedef struct psock {
    uv_poll_t poll;
    curl_socket_t fd;
    mirror_pull_t *p;
    struct psock *next; /* the open ones, closed at the latest by mirror_pull_free */
} psock_t;

enum { STEP_HEAD, STEP_OBJECT, STEP_KEYCERT };

struct mirror_pull {
    mirror_pull_conf_t c;
    char *urls[MIRROR_PULL_MAX_URLS];
    char *ca_file;
    mirror_sync_hooks_t h;
    bl_keyring_t *keys;
    bl_limits_t lim;
    uv_loop_t *loop;
    uv_timer_t poll_timer, curl_timer;
    int handles;
    int closing;
    psock_t *socks;
    CURLM *multi;
    CURL *easy;
    struct curl_slist *hdrs;
    pfeed_t feeds[MIRROR_SYNC_MAX_FEEDS];
    ucache_t cache[MIRROR_PULL_MAX_URLS][MIRROR_SYNC_MAX_FEEDS];
    /* Long polls per upstream: 1 it holds, 0 not known yet, < 0 polls left
     * before it is tried again; the round and serial of the URL; quick
     * answers in a row. */
    int lp_state[MIRROR_PULL_MAX_URLS];
    uint64_t lp_after[MIRROR_PULL_MAX_URLS], lp_round[MIRROR_PULL_MAX_URLS];
    int lp_quick[MIRROR_PULL_MAX_URLS];
    int lp_inflight;  /* the head in flight is a long poll */
    int lp_header;    /* its answer carries Blsync-Long-Poll */
    int lp_again;     /* the poll ends with the next one at once */
    uint64_t lp_sent; /* uv_now() when it was sent */
    mirror_pull_upstream_stats_t st[MIRROR_PULL_MAX_URLS];
    uint64_t rng;
    uint64_t poll_started; /* uv_now() when the current poll began */
    /* The transfer in flight and where the poll stands. */
    int busy;
    size_t fi, ui;
    int step;
    bl_buf_t body;
    char etag[ETAG_MAX];
    uint8_t *head; /* the head being followed (a copy) */
    size_t head_len;
    bl_head_t hd;
    size_t route[ROUTE_MAX], nroute, ri;
    bl_head_rec_t want; /* the object in flight */
    int keycerts_tried; /* key certificates fetched for this head (a bound, not a set) */
};

static void start_feed(mirror_pull_t *p);
static void fetch_head(mirror_pull_t *p);
static void on_poll_timer(uv_timer_t *t);

const char *mirror_pull_result_name(int r)
{
    static const char *n[] = {"ok", "not_modified", "http_error", "failed", "refused"};
    return r >= 0 && r < MIRROR_PULL_NRESULTS ? n[r] : "unknown";
}

static uint64_t rnd(mirror_pull_t *p)
{
    p->rng ^= p->rng << 13;
    p->rng ^= p->rng >> 7;
    p->rng ^= p->rng << 17;
    return p->rng;
}

/* ---- freshness ------------------------------------------------------------ */

static int level_of(const mirror_pull_t *p, const pfeed_t *f, int64_t now)
{
    int64_t age = now > f->current_ms ? now - f->current_ms : 0;
    if (age > p->c.freeze_after_ms)
        return MIRROR_FROZEN;
    if (age > p->c.stale_after_ms)
        return MIRROR_STALE;
    return MIRROR_FRESH;
}

static void update_level(mirror_pull_t *p, pfeed_t *f)
{
    int level = level_of(p, f, bl_now_ms());
    if (level == f->level)
        return;
    f->level = level;
    static const char *names[] = {"fresh", "stale", "frozen"};
    if (level == MIRROR_FRESH)
        BL_INFO("pull_freshness", "feed=%s level=%s", bl_log_q(f->name), names[level]);
    else
        BL_WARN("pull_freshness", "feed=%s level=%s", bl_log_q(f->name), names[level]);
    if (p->h.on_freshness)
        p->h.on_freshness(p->h.ctx, f->name, level);
}

/* The state holds what a head signed at created announced. */
static void note_current(mirror_pull_t *p, pfeed_t *f, int64_t created)
{
    int64_t now = bl_now_ms();
    int64_t at = created < now ? created : now;
    if (at > f->current_ms)
        f->current_ms = at;
    f->behind_since = 0;
    update_level(p, f);
}

/* ---- the poll, one feed and one upstream at a time -------------------------- */

static void event(mirror_pull_t *p, const char *what, int result, int err, uint64_t bytes)
{
    p->st[p->ui].requests[p->step == STEP_HEAD ? 0 : 1][result]++;
    p->st[p->ui].bytes += bytes;
    if (p->c.on_event)
        p->c.on_event(p->h.ctx, p->urls[p->ui], p->feeds[p->fi].name, what, result, err, bytes);
}

static void refused(mirror_pull_t *p, const char *what, int err, uint64_t serial)
{
    event(p, what, MIRROR_PULL_REFUSED, err, 0);
    BL_WARN("pull_refused", "upstream=%s feed=%s what=%s serial=%" PRIu64 " error=%s reason=%s",
            bl_log_q(p->urls[p->ui]), bl_log_q(p->feeds[p->fi].name), what, serial, bl_errname(err),
            bl_log_q(bl_strerror(err)));
    /* A head is no delta or snapshot: only the pull family counts it. */
    if (p->h.on_refused && strcmp(what, "head"))
        p->h.on_refused(p->h.ctx, p->feeds[p->fi].name, what, err);
}

/* This upstream failed this feed's poll: the next one, from its head. */
static void next_upstream(mirror_pull_t *p)
{
    p->st[p->ui].ok = 0;
    if (p->lp_inflight)
        p->lp_state[p->ui] = -LP_REPROBE; /* polled for a while */
    p->lp_inflight = 0;
    p->lp_again = 0; /* a failure waits for the next poll: never a loop */
    p->ui++;
    p->keycerts_tried = 0;
    fetch_head(p);
}

static void feed_done(mirror_pull_t *p)
{
    p->fi++;
    start_feed(p);
}

/* The next poll starts a gap after this one started: interval minus a
 * random 0..jitter (jitter at most the interval), so that mirrors spread and
 * a change of the head is seen by the next poll within the interval. */
static void schedule(mirror_pull_t *p)
{
    if (p->lp_again) {
        uv_timer_start(&p->poll_timer, on_poll_timer, 0, 0);
        return;
    }
    uint64_t gap = (uint64_t)p->c.interval_ms;
    if (p->c.jitter_ms > 0)
        gap -= rnd(p) % (uint64_t)(p->c.jitter_ms + 1);
    uint64_t spent = uv_now(p->loop) - p->poll_started;
    uv_timer_start(&p->poll_timer, on_poll_timer, gap > spent ? gap - spent : 0, 0);
}

static int start_transfer(mirror_pull_t *p, const char *url, const char *etag)
{
    curl_easy_setopt(p->easy, CURLOPT_TIMEOUT_MS,
                     (long)(p->c.timeout_ms + (p->lp_inflight ? LP_HOLD_MS : 0)));
    p->lp_header = 0;
    p->lp_sent = uv_now(p->loop);
    p->body.len = 0;
    p->body.err = 0;
    p->etag[0] = 0;
    curl_slist_free_all(p->hdrs);
    p->hdrs = NULL;
    if (etag && *etag) {
        char h[ETAG_MAX + 32];
        snprintf(h, sizeof h, "If-None-Match: %s", etag);
        p->hdrs = curl_slist_append(NULL, h);
    }
    curl_easy_setopt(p->easy, CURLOPT_URL, url);
    curl_easy_setopt(p->easy, CURLOPT_HTTPHEADER, p->hdrs);
    p->busy = 1;
    CURLMcode mc = curl_multi_add_handle(p->multi, p->easy);
    if (mc != CURLM_OK) {
        p->busy = 0;
        BL_ERR("pull_transfer", "url=%s error=%s", bl_log_q(url), curl_multi_strerror(mc));
        return BL_EIO;
    }
    return 0;
}

static void fetch_head(mirror_pull_t *p)
{
    if (p->ui >= p->c.nurls) {
        BL_WARN("pull_no_upstream", "feed=%s reason=%s", bl_log_q(p->feeds[p->fi].name),
                bl_log_q("no upstream gave a valid head this poll"));
        feed_done(p);
        return;
    }
    char url[URL_MAX];
    int n = snprintf(url, sizeof url, "%s/%s/head", p->urls[p->ui], p->feeds[p->fi].name);
    p->lp_inflight = 0;
    uint64_t serial = 0;
    uint8_t dg[BL_DIGEST_SIZE];
    if (p->c.long_poll && p->c.nfeeds == 1 && p->lp_state[p->ui] >= 0 && n > 0 &&
        (size_t)n < sizeof url && !p->feeds[p->fi].want_snap &&
        p->h.get_state(p->h.ctx, p->feeds[p->fi].name, &serial, dg) == 0) {
        if (serial != p->lp_after[p->ui]) {
            p->lp_after[p->ui] = serial;
            p->lp_round[p->ui] = 0;
        }
        snprintf(url + n, sizeof url - (size_t)n, "?after=%" PRIu64 "&round=%" PRIu64, serial,
                 p->lp_round[p->ui]);
        p->lp_inflight = 1;
    }
    p->step = STEP_HEAD;
    if (start_transfer(p, url, p->cache[p->ui][p->fi].etag))
        next_upstream(p);
}

/* Fetches p->want (a record of the head) with the step it belongs to. */
static void fetch_rec(mirror_pull_t *p, int step)
{
    char name[BL_HEAD_NAME], url[URL_MAX];
    bl_head_rec_name(&p->want, name);
    snprintf(url, sizeof url, "%s/%s/%s", p->urls[p->ui], p->feeds[p->fi].name, name);
    p->step = step;
    if (start_transfer(p, url, NULL))
        next_upstream(p);
}

static void fetch_object(mirror_pull_t *p)
{
    bl_head_rec(&p->hd, p->route[p->ri], &p->want);
    fetch_rec(p, STEP_OBJECT);
}

/* A head signed by a key not trusted yet: the key certificates it lists
 * (read before the signature is known good: they must verify on their own,
 * signed by a trusted key) may bring that key. 1 if one is being fetched. */
static int fetch_keycert(mirror_pull_t *p)
{
    bl_rd_t rd;
    bl_head_t h;
    bl_rd_init(&rd, p->head, p->head_len);
    if (bl_hdr_decode(&rd, &h.hdr) || h.hdr.type != BL_OBJ_HEAD || p->head_len < BL_OBJ_PREFIX)
        return 0;
    h.recs = p->head + BL_OBJ_PREFIX;
    h.n = (p->head_len - BL_OBJ_PREFIX) / BL_HEAD_REC;
    int seen = 0;
    for (size_t i = 0; i < h.n; i++) {
        bl_head_rec(&h, i, &p->want);
        if (p->want.type == BL_OBJ_KEYCERT && p->want.bytes <= 4096 &&
            seen++ == p->keycerts_tried) {
            p->keycerts_tried++;
            fetch_rec(p, STEP_KEYCERT);
            return 1;
        }
    }
    return 0;
}

static void got_keycert(mirror_pull_t *p)
{
    pfeed_t *f = &p->feeds[p->fi];
    uint8_t md[32];
    SHA256(p->body.data, p->body.len, md);
    bl_obj_t obj;
    bl_key_t *k = NULL;
    int rc = p->body.len != p->want.bytes || memcmp(md, p->want.sha256, 32) ? BL_EPAYLOAD : 0;
    if (!rc)
        rc = bl_obj_open(p->body.data, p->body.len, p->keys, &p->lim, &obj, NULL);
    if (!rc && strcmp(obj.hdr.feed, f->name))
        rc = BL_EFEED;
    if (!rc)
        rc = bl_obj_check_fresh(&obj.hdr, bl_now_ms());
    if (!rc)
        rc = bl_keycert_read(&obj, &k);
    uint8_t id[BL_KEYID_SIZE];
    if (!rc) {
        memcpy(id, bl_key_id(k), sizeof id);
        rc = bl_keyring_add(p->keys, k);
    }
    if (rc) {
        refused(p, "keycert", rc, 0);
        if (!fetch_keycert(p))
            next_upstream(p);
        return;
    }
    const bl_key_t *nk = bl_keyring_find(p->keys, id);
    char hex[17] = "";
    BL_INFO("pull_new_key", "feed=%s key_id=%s", bl_log_q(f->name),
            nk ? bl_key_id_hex(nk, hex) : "?");
    if (nk && p->h.on_new_key)
        p->h.on_new_key(p->h.ctx, f->name, nk, p->body.data, p->body.len);
    fetch_head(p); /* the same upstream again: its head verifies now */
}

static void start_feed(mirror_pull_t *p)
{
    if (p->fi >= p->c.nfeeds) {
        for (size_t i = 0; i < p->c.nfeeds; i++)
            update_level(p, &p->feeds[i]);
        schedule(p);
        return;
    }
    p->ui = 0;
    fetch_head(p);
}

static void on_poll_timer(uv_timer_t *t)
{
    mirror_pull_t *p = t->data;
    if (p->busy || p->closing)
        return;
    p->poll_started = uv_now(p->loop);
    p->lp_again = 0;
    for (size_t i = 0; i < p->c.nurls; i++)
        if (p->lp_state[i] < 0)
            p->lp_state[i]++;
    p->fi = 0;
    start_feed(p);
}

/* Opens the head in p->head against the state; 0 and a route, or a refusal. */
static int judge_head(mirror_pull_t *p, pfeed_t *f)
{
    int rc = bl_head_open(p->head, p->head_len, p->keys, &p->hd, NULL);
    if (!rc && strcmp(p->hd.hdr.feed, f->name))
        rc = BL_EFEED;
    if (!rc)
        rc = bl_obj_check_fresh(&p->hd.hdr, bl_now_ms());
    if (!rc && p->hd.hdr.created_ms < f->last_created - p->c.stale_after_ms)
        rc = BL_EROLLBACK; /* older than a head already seen, by more than a cache may lag */
    uint64_t serial = 0;
    uint8_t digest[BL_DIGEST_SIZE] = {0};
    if (!rc && (rc = p->h.get_state(p->h.ctx, f->name, &serial, digest)) == 0) {
        if (p->hd.hdr.serial < serial)
            rc = BL_EROLLBACK;
        else if (p->hd.hdr.serial == serial && memcmp(p->hd.hdr.digest, digest, BL_DIGEST_SIZE))
            rc = BL_EFORK;
    }
    if (rc)
        return rc;
    if (p->hd.hdr.created_ms > f->last_created)
        f->last_created = p->hd.hdr.created_ms;
    p->nroute = 0;
    p->ri = 0;
    if (p->hd.n > ROUTE_MAX)
        return BL_ETOOBIG;
    if (serial == p->hd.hdr.serial && !f->want_snap)
        return 0;
    int64_t now = bl_now_ms();
    if (!f->behind_since)
        f->behind_since = now;
    if (!f->want_snap && p->c.preferred_current && p->c.preferred_current(p->h.ctx, f->name) &&
        now - f->behind_since < p->c.interval_ms)
        return 0; /* the preferred upstream brings it: wait a poll */
    rc = bl_head_route(&p->hd, serial, digest, f->want_snap, p->route, &p->nroute);
    return rc == BL_ENOTFOUND ? BL_EBASESERIAL : rc;
}

/* A valid head answered the long poll in flight: whether this upstream
 * holds, the next round, and whether the next poll starts at once. */
static void long_poll_answered(mirror_pull_t *p)
{
    if (!p->lp_inflight)
        return;
    p->lp_inflight = 0;
    size_t u = p->ui;
    if (!p->lp_header) { /* a static server: it ignores the query */
        p->lp_state[u] = -LP_REPROBE;
        return;
    }
    p->lp_state[u] = 1;
    if (p->hd.hdr.serial > p->lp_after[u]) {
        p->lp_quick[u] = 0;
        /* Not when the objects wait for the preferred push upstream: the
         * same question would be answered at once again. */
        p->lp_again = p->nroute > 0;
        return;
    }
    p->lp_round[u]++;
    if (uv_now(p->loop) - p->lp_sent >= LP_QUICK_MS)
        p->lp_quick[u] = 0;
    else if (++p->lp_quick[u] > LP_QUICKS) {
        p->lp_quick[u] = 0;
        return; /* a whole interval before the next */
    }
    p->lp_again = 1;
}

static void got_head(mirror_pull_t *p, long status)
{
    ucache_t *u = &p->cache[p->ui][p->fi];
    pfeed_t *f = &p->feeds[p->fi];
    if (status == 304 && u->head) {
        event(p, "head", MIRROR_PULL_NOT_MODIFIED, 0, p->body.len);
    } else {
        event(p, "head", MIRROR_PULL_OK, 0, p->body.len);
        uint8_t *copy = malloc(p->body.len ? p->body.len : 1);
        if (!copy) {
            next_upstream(p);
            return;
        }
        memcpy(copy, p->body.data, p->body.len);
        free(u->head);
        u->head = copy;
        u->head_len = p->body.len;
        snprintf(u->etag, sizeof u->etag, "%s", p->etag);
    }
    free(p->head);
    p->head = malloc(u->head_len ? u->head_len : 1);
    if (!p->head) {
        next_upstream(p);
        return;
    }
    memcpy(p->head, u->head, u->head_len);
    p->head_len = u->head_len;
    int rc = judge_head(p, f);
    if (rc == BL_EUNKNOWNKEY && fetch_keycert(p))
        return;
    p->keycerts_tried = 0;
    if (rc) {
        refused(p, "head", rc, p->hd.hdr.serial);
        u->etag[0] = 0; /* ask again in full next time */
        next_upstream(p);
        return;
    }
    p->st[p->ui].ok = 1;
    long_poll_answered(p);
    if (p->h.on_heartbeat) /* the master's serial as of the head, for lag metrics */
        p->h.on_heartbeat(p->h.ctx, f->name, p->hd.hdr.serial, p->hd.hdr.created_ms,
                          p->hd.hdr.key_id);
    if (!p->nroute) {
        uint64_t serial = 0;
        uint8_t dg[BL_DIGEST_SIZE];
        if (p->h.get_state(p->h.ctx, f->name, &serial, dg) == 0 && serial == p->hd.hdr.serial)
            note_current(p, f, p->hd.hdr.created_ms);
        feed_done(p);
        return;
    }
    fetch_object(p);
}

/* Why an object that is not the one the head names was served. */
static int misfit(mirror_pull_t *p, const uint8_t *data, size_t len)
{
    bl_obj_t obj;
    int rc = bl_obj_open(data, len, p->keys, &p->lim, &obj, NULL);
    if (rc)
        return rc;
    if (strcmp(obj.hdr.feed, p->feeds[p->fi].name))
        return BL_EFEED;
    if (obj.hdr.serial < p->want.serial)
        return BL_EROLLBACK;
    return len < p->want.bytes ? BL_ETRUNC : BL_EPAYLOAD;
}

static void got_object(mirror_pull_t *p)
{
    pfeed_t *f = &p->feeds[p->fi];
    const uint8_t *data = p->body.data;
    size_t len = p->body.len;
    const char *what = bl_obj_type_name(p->want.type);
    event(p, "object", MIRROR_PULL_OK, 0, len);
    uint8_t md[32];
    SHA256(data, len, md);
    int rc = 0;
    if (len != p->want.bytes || memcmp(md, p->want.sha256, 32))
        rc = misfit(p, data, len);
    bl_obj_t obj;
    if (!rc)
        rc = bl_obj_open(data, len, p->keys, &p->lim, &obj, NULL);
    if (!rc && strcmp(obj.hdr.feed, f->name))
        rc = BL_EFEED;
    if (!rc)
        rc = bl_obj_check_fresh(&obj.hdr, bl_now_ms());
    if (!rc && obj.hdr.type != BL_OBJ_DELTA && obj.hdr.type != BL_OBJ_SNAPSHOT)
        rc = BL_ETYPE;
    if (!rc)
        rc = p->h.apply(p->h.ctx, &obj, data, len);
    if (rc) {
        refused(p, what, rc, p->want.serial);
        if (rc == BL_EDIGEST || rc == BL_EFORK || rc == BL_EABSENT || rc == BL_EBASEDIGEST)
            f->want_snap = 1; /* our state and the chain disagree */
        next_upstream(p);
        return;
    }
    if (obj.hdr.type == BL_OBJ_SNAPSHOT)
        f->want_snap = 0;
    if (++p->ri < p->nroute) {
        fetch_object(p);
        return;
    }
    note_current(p, f, p->hd.hdr.created_ms);
    feed_done(p);
}

/* ---- curl on libuv ------------------------------------------------------------ */

static void transfer_done(mirror_pull_t *p, CURLcode res)
{
    long status = 0;
    curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_off_t dl = 0;
    curl_easy_getinfo(p->easy, CURLINFO_SIZE_DOWNLOAD_T, &dl);
    curl_multi_remove_handle(p->multi, p->easy);
    p->busy = 0;
    int kind = p->step == STEP_HEAD ? 0 : 1;
    if (p->closing)
        return;
    if (res != CURLE_OK || p->body.err || (status != 200 && !(kind == 0 && status == 304))) {
        int http = res == CURLE_OK && !p->body.err;
        event(p, kind ? "object" : "head", http ? MIRROR_PULL_HTTP_ERROR : MIRROR_PULL_FAILED, 0,
              (uint64_t)dl);
        BL_WARN("pull_failed", "upstream=%s feed=%s what=%s status=%ld error=%s",
                bl_log_q(p->urls[p->ui]), bl_log_q(p->feeds[p->fi].name), kind ? "object" : "head",
                status, bl_log_q(p->body.err ? "too large" : curl_easy_strerror(res)));
        next_upstream(p);
        return;
    }
    if (p->step == STEP_HEAD)
        got_head(p, status);
    else if (p->step == STEP_KEYCERT)
        got_keycert(p);
    else
        got_object(p);
}

static void check_multi(mirror_pull_t *p)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(p->multi, &left)))
        if (m->msg == CURLMSG_DONE && m->easy_handle == p->easy)
            transfer_done(p, m->data.result);
}

static void on_curl_timer(uv_timer_t *t)
{
    mirror_pull_t *p = t->data;
    int running;
    curl_multi_socket_action(p->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_multi(p);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    mirror_pull_t *p = userp;
    (void)multi;
    if (timeout_ms < 0)
        uv_timer_stop(&p->curl_timer);
    else
        uv_timer_start(&p->curl_timer, on_curl_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    psock_t *s = h->data;
    mirror_pull_t *p = s->p;
    int flags = 0, running;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (!status && (events & UV_READABLE))
        flags |= CURL_CSELECT_IN;
    if (!status && (events & UV_WRITABLE))
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(p->multi, s->fd, flags, &running);
    check_multi(p);
}

static void on_handle_closed(uv_handle_t *h)
{
    psock_t *s = h->data;
    mirror_pull_t *p = s->p;
    free(s);
    if (--p->handles == 0 && p->closing)
        free(p);
}

static void sock_close(psock_t *s)
{
    mirror_pull_t *p = s->p;
    for (psock_t **pp = &p->socks; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, on_handle_closed);
}

static int socket_cb(CURL *easy, curl_socket_t fd, int action, void *userp, void *socketp)
{
    mirror_pull_t *p = userp;
    psock_t *s = socketp;
    (void)easy;
    if (action == CURL_POLL_REMOVE) {
        if (s) {
            curl_multi_assign(p->multi, fd, NULL);
            sock_close(s);
        }
        return 0;
    }
    if (!s) {
        if (!(s = calloc(1, sizeof *s)))
            return -1;
        s->fd = fd;
        s->p = p;
        if (uv_poll_init_socket(p->loop, &s->poll, fd)) {
            free(s);
            return -1;
        }
        s->poll.data = s;
        p->handles++;
        s->next = p->socks;
        p->socks = s;
        curl_multi_assign(p->multi, fd, s);
    }
    int ev = 0;
    if (action != CURL_POLL_OUT)
        ev |= UV_READABLE;
    if (action != CURL_POLL_IN)
        ev |= UV_WRITABLE;
    uv_poll_start(&s->poll, ev, on_poll);
    return 0;
}

static size_t on_body(char *data, size_t size, size_t n, void *userp)
{
    mirror_pull_t *p = userp;
    size_t len = size * n;
    size_t max = p->step == STEP_HEAD ? HEAD_MAX : p->c.max_object;
    if (p->body.len + len > max) {
        p->body.err = BL_ETOOBIG;
        return 0; /* aborts the transfer */
    }
    bl_buf_put(&p->body, data, len);
    return p->body.err ? 0 : len;
}

static size_t on_header(char *data, size_t size, size_t n, void *userp)
{
    mirror_pull_t *p = userp;
    size_t len = size * n;
    if (len > 16 && !strncasecmp(data, "blsync-long-poll:", 17))
        p->lp_header = 1;
    if (len > 5 && !strncasecmp(data, "etag:", 5)) {
        const char *v = data + 5;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t l = len - (size_t)(v - data);
        while (l && (v[l - 1] == '\r' || v[l - 1] == '\n' || v[l - 1] == ' '))
            l--;
        if (l < sizeof p->etag)
            snprintf(p->etag, sizeof p->etag, "%.*s", (int)l, v);
    }
    return len;
}

/* ---- life cycle ------------------------------------------------------------------ */

static void on_timer_closed(uv_handle_t *h)
{
    mirror_pull_t *p = h->data;
    if (--p->handles == 0 && p->closing)
        free(p);
}

int mirror_pull_new(uv_loop_t *loop, const mirror_pull_conf_t *c, const mirror_sync_hooks_t *h,
                    bl_keyring_t *keys, const bl_limits_t *lim, mirror_pull_t **out)
{
    *out = NULL;
    if (!c->nurls || c->nurls > MIRROR_PULL_MAX_URLS || !c->nfeeds ||
        c->nfeeds > MIRROR_SYNC_MAX_FEEDS || !h->get_state || !h->apply)
        return BL_EINVAL;
    static int curl_ready;
    if (!curl_ready && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return BL_ENOMEM;
    curl_ready = 1;
    mirror_pull_t *p = calloc(1, sizeof *p);
    if (!p)
        return BL_ENOMEM;
    p->c = *c;
    p->h = *h;
    p->keys = keys;
    p->lim = lim ? *lim : bl_limits_default;
    p->loop = loop;
    if (!p->c.interval_ms)
        p->c.interval_ms = 10000;
    if (p->c.jitter_ms > p->c.interval_ms)
        p->c.jitter_ms = p->c.interval_ms;
    if (!p->c.timeout_ms)
        p->c.timeout_ms = 10000;
    if (!p->c.stale_after_ms)
        p->c.stale_after_ms = 30000;
    if (!p->c.freeze_after_ms)
        p->c.freeze_after_ms = 10 * p->c.stale_after_ms;
    if (!p->c.max_object)
        p->c.max_object = (size_t)1 << 30;
    p->rng = (uint64_t)bl_mono_ns() ^ ((uint64_t)(uintptr_t)p << 16) ^ 0x9e3779b97f4a7c15ull;
    int64_t now = bl_now_ms();
    for (size_t i = 0; i < c->nurls; i++) {
        size_t l = strlen(c->urls[i]);
        while (l && c->urls[i][l - 1] == '/')
            l--;
        if (!(p->urls[i] = strndup(c->urls[i], l)))
            goto nomem;
    }
    if (c->ca_file && !(p->ca_file = strdup(c->ca_file)))
        goto nomem;
    for (size_t i = 0; i < c->nfeeds; i++) {
        snprintf(p->feeds[i].name, sizeof p->feeds[i].name, "%s", c->feeds[i]);
        p->feeds[i].current_ms = c->current_as_of_ms[i] ? c->current_as_of_ms[i] : now;
        p->feeds[i].level = MIRROR_FRESH;
    }
    bl_buf_init(&p->body);
    if (!(p->multi = curl_multi_init()) || !(p->easy = curl_easy_init()))
        goto nomem;
    curl_multi_setopt(p->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(p->multi, CURLMOPT_SOCKETDATA, p);
    curl_multi_setopt(p->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(p->multi, CURLMOPT_TIMERDATA, p);
    CURL *e = p->easy;
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, p);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, p);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)p->c.timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)p->c.timeout_ms);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "blsync-mirror");
    if (p->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, p->ca_file);
    uv_timer_init(loop, &p->poll_timer);
    uv_timer_init(loop, &p->curl_timer);
    p->poll_timer.data = p->curl_timer.data = p;
    p->handles = 2;
    uv_timer_start(&p->poll_timer, on_poll_timer, 0, 0);
    *out = p;
    return 0;
nomem:
    for (size_t i = 0; i < MIRROR_PULL_MAX_URLS; i++)
        free(p->urls[i]);
    free(p->ca_file);
    if (p->easy)
        curl_easy_cleanup(p->easy);
    if (p->multi)
        curl_multi_cleanup(p->multi);
    free(p);
    return BL_ENOMEM;
}

void mirror_pull_free(mirror_pull_t *p)
{
    if (!p)
        return;
    p->closing = 1;
    if (p->busy)
        curl_multi_remove_handle(p->multi, p->easy); /* closes its sockets: socket_cb REMOVE */
    curl_easy_cleanup(p->easy);
    curl_multi_cleanup(p->multi);
    while (p->socks) /* sockets curl did not say it removed */
        sock_close(p->socks);
    curl_slist_free_all(p->hdrs);
    bl_buf_close(&p->body);
    free(p->head);
    for (size_t i = 0; i < MIRROR_PULL_MAX_URLS; i++) {
        free(p->urls[i]);
        for (size_t j = 0; j < MIRROR_SYNC_MAX_FEEDS; j++)
            free(p->cache[i][j].head);
    }
    free(p->ca_file);
    uv_timer_stop(&p->poll_timer);
    uv_timer_stop(&p->curl_timer);
    uv_close((uv_handle_t *)&p->poll_timer, on_timer_closed);
    uv_close((uv_handle_t *)&p->curl_timer, on_timer_closed);
}

static pfeed_t *feed_of(const mirror_pull_t *p, const char *feed)
{
    for (size_t i = 0; i < p->c.nfeeds; i++)
        if (!strcmp(p->feeds[i].name, feed))
            return (pfeed_t *)&p->feeds[i];
    return NULL;
}

void mirror_pull_want_snapshot(mirror_pull_t *p, const char *feed)
{
    pfeed_t *f = p ? feed_of(p, feed) : NULL;
    if (f)
        f->want_snap = 1;
}

int mirror_pull_freshness(const mirror_pull_t *p, const char *feed)
{
    const pfeed_t *f = feed_of(p, feed);
    return f ? level_of(p, f, bl_now_ms()) : -1;
}

int64_t mirror_pull_current_age_ms(const mirror_pull_t *p, const char *feed)
{
    const pfeed_t *f = feed_of(p, feed);
    if (!f)
        return -1;
    int64_t now = bl_now_ms();
    return now > f->current_ms ? now - f->current_ms : 0;
}

const mirror_pull_upstream_stats_t *mirror_pull_stats(const mirror_pull_t *p, size_t upstream)
{
    return upstream < p->c.nurls ? &p->st[upstream] : NULL;
}
