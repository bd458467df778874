/* SPDX-License-Identifier: MIT */
/* The mirror's sync client: one mutual-TLS connection to the master, verified objects in, ACKs out.
 */
#include "sync_client.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "frame.h"
#include "log.h"
#include "tls.h"
#include "util.h"

#define RESYNC_MIN_GAP_MS 2000   /* at most one resync HELLO per feed this often ... */
#define RESYNC_MAX_GAP_MS 300000 /* ... growing to this while resyncs do not help */
/* Wrong-base refusals this soon after a local failure are objects built on the
 * state we could not store: no sign of a disagreement with the master. */
#define LOCAL_FAIL_SPAN_MS (3 * RESYNC_MIN_GAP_MS)
#define STABLE_MS          10000 /* a connection this old resets the backoff */
#define BEHIND_RESYNC      2     /* heartbeats announcing a serial we lack: ask again */
#define BEHIND_SNAPSHOT    6     /* ... still lacking it: ask for a snapshot */

typedef struct {
    char name[BL_FEED_MAX + 1];
    int level;
    /* Monotonic time as of which this mirror held everything the master had
     * published: a heartbeat announcing a serial it holds, moved back by how
     * old the heartbeat already was when it arrived. Freshness is measured
     * from here, so a mirror that is connected but stuck behind ages too. */
    uint64_t current_ns;
    uint64_t hb_serial;      /* serial announced by the last valid heartbeat */
    uint64_t hb_as_of_ns;    /* monotonic time that heartbeat describes */
    int64_t last_hb_created; /* signed creation time of that heartbeat */
    uint64_t last_hb_rx_ns;  /* when it arrived */
    uint64_t last_resync_ns; /* monotonic time of the last resync HELLO */
    int64_t resync_gap_ms;   /* current minimum gap between resyncs */
    int pending_resync;      /* 1: a HELLO, 2: a snapshot request, held back by the gap */
    int behind;              /* heartbeats in a row announcing a serial we lack */
    int base_refusals;       /* wrong-base refusals since the last apply */
    uint64_t local_fail_ns;  /* when an apply last failed on our disk or memory (0: not since
                                the last apply) */
} cfeed_t;

struct mirror_sync {
    mirror_sync_conf_t c;
    mirror_sync_hooks_t h;
    uv_loop_t *loop;
    bl_keyring_t *keys;
    bl_limits_t lim;
    bl_tls_ctx_t *tls;
    bl_tls_conn_t *conn;
    int up;
    bl_frame_reader_t rd;
    uv_timer_t retry;
    uv_timer_t fresh;
    int handles;
    int closing;
    unsigned attempts;
    uint64_t connected_ns;
    uint64_t last_rx_ns; /* last bytes from the master */
    uint64_t rng;
    cfeed_t feeds[MIRROR_SYNC_MAX_FEEDS];
    size_t nfeeds;
    mirror_sync_stats_t st;
};

void mirror_sync_conf_defaults(mirror_sync_conf_t *c)
{
    memset(c, 0, sizeof *c);
    c->port = 7353;
    c->backoff_min_ms = 500;
    c->backoff_max_ms = 30000;
    c->stale_after_ms = 30000;
    c->freeze_after_ms = 300000;
}

static uint64_t ms_to_ns(int64_t ms)
{
    return ms > 0 ? (uint64_t)ms * 1000000u : 0;
}

/* The monotonic time a wall-clock time of the master describes: a time in
 * the future (clock skew) counts as now. */
static uint64_t as_of_ns(int64_t wall_ms)
{
    uint64_t now = bl_mono_ns();
    uint64_t age = ms_to_ns(bl_now_ms() - wall_ms);
    return age < now ? now - age : 0;
}

/* The mirror holds serial now: it is current as of the last heartbeat that
 * announced no more than that. */
static void note_current(cfeed_t *f, uint64_t serial)
{
    if (f->hb_as_of_ns && serial >= f->hb_serial && f->hb_as_of_ns > f->current_ns)
        f->current_ns = f->hb_as_of_ns;
}

static cfeed_t *feed_of(mirror_sync_t *s, const char *name)
{
    for (size_t i = 0; i < s->nfeeds; i++)
        if (!strcmp(s->feeds[i].name, name))
            return &s->feeds[i];
    return NULL;
}

static void schedule_reconnect(mirror_sync_t *s);

static void send_frame(mirror_sync_t *s, bl_buf_t *b)
{
    if (!b->err && s->conn && s->up) {
        int rc = bl_tls_write(s->conn, b->data, b->len);
        if (rc && rc != BL_ESTATE)
            bl_tls_close(s->conn, "cannot queue a message to the master");
    }
    bl_buf_close(b);
}

static void send_hello(mirror_sync_t *s, cfeed_t *f, uint16_t flags)
{
    bl_frame_hello_t h = {.version = BL_PROTO_VERSION, .flags = flags | BL_HELLO_HB_ACK};
    snprintf(h.feed, sizeof h.feed, "%s", f->name);
    if (s->h.get_state && s->h.get_state(s->h.ctx, f->name, &h.serial, h.digest) != 0) {
        h.serial = 0;
        memset(h.digest, 0, sizeof h.digest);
        h.flags |= BL_HELLO_WANT_SNAPSHOT;
    }
    f->last_resync_ns = bl_mono_ns();
    BL_INFO("sync_hello", "feed=%s serial=%" PRIu64 " snapshot=%d", bl_log_q(f->name), h.serial,
            (h.flags & BL_HELLO_WANT_SNAPSHOT) != 0);
    bl_buf_t b;
    bl_buf_init(&b);
    bl_frame_put_hello(&b, &h);
    send_frame(s, &b);
}

/* Asks the master to start over from our state (or from a snapshot), at most
 * once per gap so that objects already in flight do not each trigger
 * another request. The gap grows with each snapshot request that does not
 * lead to an apply and resets with the next object applied. */
static void resync(mirror_sync_t *s, cfeed_t *f, int snapshot)
{
    uint64_t now = bl_mono_ns();
    if (f->last_resync_ns && now - f->last_resync_ns < ms_to_ns(f->resync_gap_ms)) {
        /* Not lost: the freshness timer sends it once the gap has passed. */
        if (f->pending_resync < 1 + snapshot)
            f->pending_resync = 1 + snapshot;
        return;
    }
    f->pending_resync = 0;
    s->st.resyncs++;
    if (snapshot)
        s->st.snapshots_requested++;
    send_hello(s, f, snapshot ? BL_HELLO_WANT_SNAPSHOT : 0);
    if (snapshot) /* a snapshot costs the master: ask less often while they do not help */
        f->resync_gap_ms =
            f->resync_gap_ms * 2 > RESYNC_MAX_GAP_MS ? RESYNC_MAX_GAP_MS : f->resync_gap_ms * 2;
}

/* Tells the master what we refused, so that it checks the object it sent. */
static void report(mirror_sync_t *s, const char *what, uint64_t serial, int err)
{
    char text[BL_FRAME_TEXT_MAX];
    snprintf(text, sizeof text, "refused %s serial=%" PRIu64 ": %s", what, serial,
             bl_strerror(err));
    bl_buf_t b;
    bl_buf_init(&b);
    bl_frame_put_error(&b, -err, text);
    send_frame(s, &b);
}

/* Errors of this mirror (its disk, its memory), not of what it received. */
static int local_error(int err)
{
    return err == BL_ENOSPC || err == BL_EIO || err == BL_ENOMEM;
}

static void refused(mirror_sync_t *s, const char *feed, const char *what, int err, uint64_t serial)
{
    s->st.objects_refused++;
    snprintf(s->st.last_error, sizeof s->st.last_error, "%s refused: %s", what, bl_errname(err));
    BL_WARN("sync_refused", "feed=%s what=%s serial=%" PRIu64 " error=%s reason=%s",
            bl_log_q(feed ? feed : "-"), what, serial, bl_errname(err), bl_log_q(bl_strerror(err)));
    if (s->h.on_refused)
        s->h.on_refused(s->h.ctx, feed ? feed : "", what, err);
}

static void handle_object(mirror_sync_t *s, const uint8_t *p, size_t n)
{
    bl_obj_t obj;
    size_t off = 0;
    memset(&obj, 0, sizeof obj);
    int rc = bl_obj_open(p, n, s->keys, &s->lim, &obj, &off);
    if (rc) {
        /* Damaged, truncated, foreign: a resend of the same object cannot
         * help, so the master hears what was wrong (it checks its copy) and
         * we ask for a snapshot (with a growing gap while that does not help). */
        cfeed_t *f = obj.hdr.feed[0] ? feed_of(s, obj.hdr.feed) : NULL;
        refused(s, f ? f->name : NULL, "object", rc, obj.hdr.serial);
        if (local_error(rc))
            return;
        report(s, bl_obj_type_name(obj.hdr.type), obj.hdr.serial, rc);
        for (size_t i = 0; i < s->nfeeds; i++)
            if (!f || f == &s->feeds[i])
                resync(s, &s->feeds[i], 1);
        return;
    }
    const bl_hdr_t *hd = &obj.hdr;
    cfeed_t *f = feed_of(s, hd->feed);
    if (!f) {
        refused(s, hd->feed, bl_obj_type_name(hd->type), BL_EFEED, hd->serial);
        return;
    }
    if ((rc = bl_obj_check_fresh(hd, bl_now_ms())) != 0) {
        refused(s, f->name, bl_obj_type_name(hd->type), rc, hd->serial);
        if (hd->type != BL_OBJ_KEYCERT) {
            report(s, bl_obj_type_name(hd->type), hd->serial, rc);
            resync(s, f, 1); /* only a fresh snapshot replaces an expired chain */
        }
        return;
    }
    if (hd->type == BL_OBJ_KEYCERT) {
        bl_key_t *k = NULL;
        if ((rc = bl_keycert_read(&obj, &k)) != 0) {
            refused(s, f->name, "keycert", rc, 0);
            return;
        }
        uint8_t id[BL_KEYID_SIZE];
        memcpy(id, bl_key_id(k), sizeof id);
        int known = bl_keyring_find(s->keys, id) != NULL;
        if ((rc = bl_keyring_add(s->keys, k)) != 0) {
            refused(s, f->name, "keycert", rc, 0);
            return;
        }
        if (!known) {
            char hex[17] = "";
            const bl_key_t *nk = bl_keyring_find(s->keys, id);
            BL_INFO("sync_new_key", "feed=%s key_id=%s", bl_log_q(f->name),
                    nk ? bl_key_id_hex(nk, hex) : "?");
            if (nk && s->h.on_new_key)
                s->h.on_new_key(s->h.ctx, f->name, nk, p, n);
        }
        return;
    }
    if (hd->type != BL_OBJ_DELTA && hd->type != BL_OBJ_SNAPSHOT) {
        refused(s, f->name, bl_obj_type_name(hd->type), BL_ETYPE, hd->serial);
        return;
    }
    rc = s->h.apply(s->h.ctx, &obj, p, n);
    if (rc) {
        refused(s, f->name, bl_obj_type_name(hd->type), rc, hd->serial);
        if (rc == BL_EROLLBACK) {
            /* A replayed or duplicate older object: nothing to ask for. */
        } else if (local_error(rc)) {
            /* Our disk or memory: the object was fine. Ask again after the
             * shortest gap, for as long as it lasts, so that the first
             * retry after the disk is freed heals; a snapshot would not help. */
            f->local_fail_ns = bl_mono_ns();
            f->base_refusals = 0;
            f->resync_gap_ms = RESYNC_MIN_GAP_MS;
            resync(s, f, 0);
        } else if ((rc == BL_EBASESERIAL || rc == BL_EBASEDIGEST) &&
                   ((f->local_fail_ns &&
                     bl_mono_ns() - f->local_fail_ns < ms_to_ns(LOCAL_FAIL_SPAN_MS)) ||
                    f->base_refusals++ < 1)) {
            /* Objects in flight for a state we left (or could not store):
             * start over from ours. */
            resync(s, f, 0);
        } else {
            /* Fork, digest mismatch, absent key, undecodable payload, or a
             * wrong base again: our state and the master's disagree. */
            report(s, bl_obj_type_name(hd->type), hd->serial, rc);
            resync(s, f, 1);
        }
        return;
    }
    s->st.objects_applied++;
    s->attempts = 0;
    f->behind = 0;
    f->base_refusals = 0;
    f->local_fail_ns = 0;
    f->resync_gap_ms = RESYNC_MIN_GAP_MS;
    note_current(f, hd->serial);
    if (f->pending_resync == 1)
        f->pending_resync = 0; /* moving again: a plain resync is moot */
    bl_frame_ack_t a = {.serial = hd->serial};
    snprintf(a.feed, sizeof a.feed, "%s", f->name);
    memcpy(a.digest, hd->digest, BL_DIGEST_SIZE);
    bl_buf_t b;
    bl_buf_init(&b);
    bl_frame_put_ack(&b, &a);
    send_frame(s, &b);
}

static int level_of(const mirror_sync_t *s, const cfeed_t *f, uint64_t now_ns)
{
    int64_t age = now_ns > f->current_ns ? (int64_t)((now_ns - f->current_ns) / 1000000u) : 0;
    if (age > s->c.freeze_after_ms)
        return MIRROR_FROZEN;
    if (age > s->c.stale_after_ms)
        return MIRROR_STALE;
    return MIRROR_FRESH;
}

static const char *level_name(int level)
{
    return level == MIRROR_FRESH ? "fresh" : level == MIRROR_STALE ? "stale" : "frozen";
}

static void update_level(mirror_sync_t *s, cfeed_t *f)
{
    int level = level_of(s, f, bl_mono_ns());
    if (level == f->level)
        return;
    f->level = level;
    if (level == MIRROR_FRESH)
        BL_INFO("sync_freshness", "feed=%s level=%s", bl_log_q(f->name), level_name(level));
    else
        BL_WARN("sync_freshness", "feed=%s level=%s", bl_log_q(f->name), level_name(level));
    if (s->h.on_freshness)
        s->h.on_freshness(s->h.ctx, f->name, level);
}

static void handle_heartbeat(mirror_sync_t *s, const uint8_t *p, size_t n)
{
    bl_obj_t obj;
    int rc = bl_obj_open(p, n, s->keys, &s->lim, &obj, NULL);
    const char *feed = rc ? NULL : obj.hdr.feed;
    if (!rc && obj.hdr.type != BL_OBJ_HEARTBEAT)
        rc = BL_ETYPE;
    cfeed_t *f = feed ? feed_of(s, feed) : NULL;
    if (!rc && !f)
        rc = BL_EFEED;
    if (!rc)
        rc = bl_obj_check_fresh(&obj.hdr, bl_now_ms());
    if (!rc && obj.hdr.created_ms < f->last_hb_created)
        rc = BL_EROLLBACK; /* an old heartbeat replayed */
    if (rc) {
        s->st.heartbeats_refused++;
        refused(s, feed, "heartbeat", rc, 0);
        return;
    }
    s->st.heartbeats++;
    f->last_hb_rx_ns = bl_mono_ns();
    f->last_hb_created = obj.hdr.created_ms;
    f->hb_serial = obj.hdr.serial;
    f->hb_as_of_ns = as_of_ns(obj.hdr.created_ms);
    uint64_t mine = 0;
    uint8_t d[BL_DIGEST_SIZE];
    int have = s->h.get_state && s->h.get_state(s->h.ctx, f->name, &mine, d) == 0;
    if (have)
        note_current(f, mine);
    update_level(s, f);
    if (s->h.on_heartbeat)
        s->h.on_heartbeat(s->h.ctx, f->name, obj.hdr.serial, obj.hdr.created_ms, obj.hdr.key_id);
    /* Every heartbeat is answered with what we hold: the master tells a
     * live mirror from a hung one by these answers. */
    if (have) {
        bl_frame_ack_t a = {.serial = mine};
        snprintf(a.feed, sizeof a.feed, "%s", f->name);
        memcpy(a.digest, d, BL_DIGEST_SIZE);
        bl_buf_t b;
        bl_buf_init(&b);
        bl_frame_put_ack(&b, &a);
        send_frame(s, &b);
    }
    /* The master is past us and nothing came for a few heartbeats: ask
     * again (covers a push that was refused or lost), then for a snapshot. */
    if (have && obj.hdr.serial > mine) {
        f->behind++;
        if (f->behind == BEHIND_RESYNC)
            resync(s, f, 0);
        else if (f->behind >= BEHIND_SNAPSHOT) {
            f->behind = BEHIND_RESYNC;
            resync(s, f, 1);
        }
    } else {
        f->behind = 0;
    }
}

static void on_data(bl_tls_conn_t *t, const uint8_t *p, size_t n)
{
    mirror_sync_t *s = bl_tls_conn_data(t);
    s->st.bytes_received += n;
    s->last_rx_ns = bl_mono_ns();
    int rc = bl_frame_reader_feed(&s->rd, p, n);
    bl_frame_t f;
    while (rc == 0 && (rc = bl_frame_next(&s->rd, &f)) == 1) {
        rc = 0;
        if (f.type == BL_FRAME_OBJECT) {
            handle_object(s, f.payload, f.len);
        } else if (f.type == BL_FRAME_HEARTBEAT) {
            handle_heartbeat(s, f.payload, f.len);
        } else if (f.type == BL_FRAME_ERROR) {
            bl_frame_error_t e;
            if ((rc = bl_frame_decode_error(f.payload, f.len, &e)) == 0)
                BL_WARN("sync_master_error", "code=%s text=%s", bl_errname(-(int)e.code),
                        bl_log_q(e.text));
        } else {
            rc = BL_EPROTO;
        }
        if (s->conn != t || !s->up)
            return;
    }
    if (rc < 0) {
        char reason[96];
        snprintf(reason, sizeof reason, "protocol error: %s", bl_errname(rc));
        bl_tls_close(t, reason);
    }
}

static void on_connect(bl_tls_conn_t *t, const char *peer)
{
    mirror_sync_t *s = bl_tls_conn_data(t);
    s->up = 1;
    s->st.connected = 1;
    s->st.connects++;
    s->connected_ns = bl_mono_ns();
    s->last_rx_ns = s->connected_ns;
    BL_INFO("sync_connected", "master=%s addr=%s", bl_log_q(peer), bl_log_q(bl_tls_peer_addr(t)));
    for (size_t i = 0; i < s->nfeeds; i++) {
        int snap = s->feeds[i].pending_resync == 2;
        s->feeds[i].pending_resync = 0;
        send_hello(s, &s->feeds[i], snap ? BL_HELLO_WANT_SNAPSHOT : 0);
    }
}

static void on_close(bl_tls_conn_t *t, const char *reason)
{
    mirror_sync_t *s = bl_tls_conn_data(t);
    if (s->conn != t)
        return;
    int was_up = s->up;
    s->conn = NULL;
    s->up = 0;
    s->st.connected = 0;
    s->st.disconnects++;
    snprintf(s->st.last_error, sizeof s->st.last_error, "%s", reason);
    bl_frame_reader_close(&s->rd);
    bl_frame_reader_init(&s->rd, s->c.max_object);
    if (was_up && bl_mono_ns() - s->connected_ns > STABLE_MS * 1000000ull)
        s->attempts = 0;
    if (s->closing)
        return;
    BL_WARN("sync_disconnected", "was_up=%d reason=%s", was_up, bl_log_q(reason));
    schedule_reconnect(s);
}

static void do_connect(mirror_sync_t *s)
{
    bl_tls_cb_t cb = {.on_connect = on_connect, .on_data = on_data, .on_close = on_close};
    bl_tls_conn_t *t = NULL;
    int rc = bl_tls_connect(s->loop, s->tls, s->c.host, s->c.port, s->c.server_name, &cb, s, &t);
    if (rc) {
        snprintf(s->st.last_error, sizeof s->st.last_error, "connect: %s", bl_strerror(rc));
        schedule_reconnect(s);
        return;
    }
    s->conn = t;
}

static void on_retry(uv_timer_t *t)
{
    mirror_sync_t *s = t->data;
    if (!s->closing && !s->conn)
        do_connect(s);
}

static uint64_t rnd(mirror_sync_t *s)
{
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return s->rng;
}

static void schedule_reconnect(mirror_sync_t *s)
{
    int64_t d = s->c.backoff_min_ms;
    for (unsigned i = 0; i < s->attempts && d < s->c.backoff_max_ms; i++)
        d *= 2;
    if (d > s->c.backoff_max_ms)
        d = s->c.backoff_max_ms;
    /* Full jitter over the upper half: many mirrors cut at once do not return at once. */
    int64_t delay = d / 2 + (int64_t)(rnd(s) % (uint64_t)(d / 2 + 1));
    if (s->attempts < 64)
        s->attempts++;
    s->st.next_retry_ms = delay;
    BL_INFO("sync_reconnect", "in_ms=%" PRId64 " attempt=%u", delay, s->attempts);
    uv_timer_start(&s->retry, on_retry, (uint64_t)delay, 0);
}

static void on_fresh_timer(uv_timer_t *t)
{
    mirror_sync_t *s = t->data;
    for (size_t i = 0; i < s->nfeeds; i++) {
        update_level(s, &s->feeds[i]);
        if (s->feeds[i].pending_resync && s->up)
            resync(s, &s->feeds[i], s->feeds[i].pending_resync == 2);
    }
    /* A master that sends nothing, not even heartbeats, is gone or the link
     * is half open: reconnect rather than wait for TCP to notice. */
    if (s->conn && s->up && bl_mono_ns() - s->last_rx_ns > (uint64_t)s->c.stale_after_ms * 1000000u)
        bl_tls_close(s->conn, "master silent");
}

int mirror_sync_new(uv_loop_t *loop, const mirror_sync_conf_t *c, const mirror_sync_hooks_t *h,
                    bl_keyring_t *keys, const bl_limits_t *lim, mirror_sync_t **out)
{
    *out = NULL;
    if (!c->nfeeds || c->nfeeds > MIRROR_SYNC_MAX_FEEDS || !h || !h->apply || !keys)
        return BL_EINVAL;
    mirror_sync_t *s = calloc(1, sizeof *s);
    if (!s)
        return BL_ENOMEM;
    s->c = *c;
    s->h = *h;
    s->loop = loop;
    s->keys = keys;
    s->lim = lim ? *lim : bl_limits_default;
    if (s->c.backoff_min_ms <= 0)
        s->c.backoff_min_ms = 500;
    if (s->c.backoff_max_ms < s->c.backoff_min_ms)
        s->c.backoff_max_ms = s->c.backoff_min_ms > 30000 ? s->c.backoff_min_ms : 30000;
    if (s->c.stale_after_ms <= 0)
        s->c.stale_after_ms = 30000;
    if (s->c.freeze_after_ms < s->c.stale_after_ms)
        s->c.freeze_after_ms = s->c.stale_after_ms * 10;
    if (!s->c.max_object) {
        uint64_t m = s->lim.max_payload + BL_OBJ_PREFIX;
        s->c.max_object = m > UINT32_MAX ? UINT32_MAX : (size_t)m;
    }
    if (!s->c.server_name[0])
        snprintf(s->c.server_name, sizeof s->c.server_name, "%s", s->c.host);
    uint64_t now = bl_mono_ns();
    for (size_t i = 0; i < c->nfeeds; i++) {
        if (!c->feeds[i] || !c->feeds[i][0] || strlen(c->feeds[i]) > BL_FEED_MAX) {
            free(s);
            return BL_EINVAL;
        }
        snprintf(s->feeds[i].name, sizeof s->feeds[i].name, "%s", c->feeds[i]);
        /* Current as of what the persisted state says; a mirror with no
         * state has nothing to answer positively from anyway. */
        s->feeds[i].current_ns = c->current_as_of_ms[i] ? as_of_ns(c->current_as_of_ms[i]) : now;
        s->feeds[i].resync_gap_ms = RESYNC_MIN_GAP_MS;
        s->c.feeds[i] = s->feeds[i].name;
    }
    s->nfeeds = c->nfeeds;
    s->rng = now ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ull;
    bl_tls_config_t tc = {
        .cert_file = c->cert_file, .key_file = c->key_file, .ca_file = c->ca_file};
    int rc = bl_tls_ctx_new_client(&tc, &s->tls);
    if (rc) {
        free(s);
        return rc;
    }
    bl_tls_ctx_log_cert(s->tls);
    bl_frame_reader_init(&s->rd, s->c.max_object);
    uv_timer_init(loop, &s->retry);
    uv_timer_init(loop, &s->fresh);
    s->retry.data = s;
    s->fresh.data = s;
    s->handles = 2;
    uint64_t tick = (uint64_t)(s->c.stale_after_ms / 4 > 1000 ? 1000 : s->c.stale_after_ms / 4);
    uv_timer_start(&s->fresh, on_fresh_timer, tick ? tick : 1, tick ? tick : 1);
    do_connect(s);
    *out = s;
    return 0;
}

static void on_handle_closed(uv_handle_t *hd)
{
    mirror_sync_t *s = hd->data;
    if (--s->handles == 0) {
        bl_frame_reader_close(&s->rd);
        bl_tls_ctx_free(s->tls);
        free(s);
    }
}

void mirror_sync_free(mirror_sync_t *s)
{
    if (!s || s->closing)
        return;
    s->closing = 1;
    if (s->conn)
        bl_tls_close(s->conn, "mirror shutting down");
    uv_timer_stop(&s->retry);
    uv_timer_stop(&s->fresh);
    uv_close((uv_handle_t *)&s->retry, on_handle_closed);
    uv_close((uv_handle_t *)&s->fresh, on_handle_closed);
}

int mirror_sync_reload_tls(mirror_sync_t *s)
{
    int changed = 0;
    int rc = bl_tls_ctx_reload_certs(s->tls, &changed);
    /* The master learns a client certificate at the handshake: a renewed one
     * is presented at once by reconnecting (the session resumes from the
     * serial held). */
    if (!rc && changed && s->conn)
        bl_tls_close(s->conn, "client certificate renewed");
    return rc;
}

int64_t mirror_sync_cert_not_after(const mirror_sync_t *s)
{
    return bl_tls_ctx_not_after(s->tls);
}

void mirror_sync_resync(mirror_sync_t *s, const char *feed)
{
    cfeed_t *f = feed_of(s, feed);
    if (f && s->up)
        send_hello(s, f, 0);
}

void mirror_sync_want_snapshot(mirror_sync_t *s, const char *feed)
{
    cfeed_t *f = feed_of(s, feed);
    if (f && s->up)
        resync(s, f, 1);
}

int mirror_sync_freshness(const mirror_sync_t *s, const char *feed)
{
    for (size_t i = 0; i < s->nfeeds; i++)
        if (!strcmp(s->feeds[i].name, feed))
            return level_of(s, &s->feeds[i], bl_mono_ns());
    return -1;
}

int64_t mirror_sync_heartbeat_age_ms(const mirror_sync_t *s, const char *feed)
{
    for (size_t i = 0; i < s->nfeeds; i++)
        if (!strcmp(s->feeds[i].name, feed))
            return s->feeds[i].last_hb_rx_ns
                       ? (int64_t)((bl_mono_ns() - s->feeds[i].last_hb_rx_ns) / 1000000u)
                       : -1;
    return -1;
}

int64_t mirror_sync_current_age_ms(const mirror_sync_t *s, const char *feed)
{
    for (size_t i = 0; i < s->nfeeds; i++)
        if (!strcmp(s->feeds[i].name, feed)) {
            uint64_t now = bl_mono_ns(), c = s->feeds[i].current_ns;
            return now > c ? (int64_t)((now - c) / 1000000u) : 0;
        }
    return -1;
}

const mirror_sync_stats_t *mirror_sync_stats(const mirror_sync_t *s)
{
    return &s->st;
}
