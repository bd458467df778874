/* SPDX-License-Identifier: MIT */
/* What every mirror holds: acknowledgements per session and per identity, propagation timing. */
#include "acks.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "grow.h"
#include "key.h"
#include "log.h"
#include "util.h"

#define CONTACT_STORE_MS 10000 /* a contact alone is written at most this often per mirror */

typedef struct {
    char name[256];
    uint64_t acked;        /* min over live sessions, else the last known */
    int64_t contact_ms;    /* last frame, or the stored last contact */
    uint64_t stored_acked; /* what the store holds */
    int64_t stored_contact_ms;
    int sessions;
    int dirty;
    int dup_logged;
    int has_key;
    uint8_t key_id[BL_KEYID_SIZE]; /* signed what the session holding acked accepted */
} ident_t;

typedef struct {
    uint64_t sid;
    size_t ident;
    uint64_t acked;
    int has_ack; /* a HELLO or ACK arrived: acked means something */
    int has_key;
    uint8_t key_id[BL_KEYID_SIZE]; /* signed the object of acked, as sent to this session */
    char addr[64];
} session_t;

struct master_acks {
    master_acks_conf_t c;
    char feed[64];
    uv_timer_t flush;
    ident_t *id;
    size_t nid, capid;
    session_t *ss;
    size_t nss, capss;
    uint64_t observed_upto; /* delistings of serials up to here are observed */
    int have_observed;
};

static ident_t *ident_get(master_acks_t *a, const char *name, int add)
{
    for (size_t i = 0; i < a->nid; i++)
        if (!strcmp(a->id[i].name, name))
            return &a->id[i];
    if (!add)
        return NULL;
    ident_t *nv = bl_grow(a->id, &a->capid, a->nid + 1, sizeof *a->id);
    if (!nv)
        return NULL;
    a->id = nv;
    ident_t *x = &a->id[a->nid++];
    memset(x, 0, sizeof *x);
    snprintf(x->name, sizeof x->name, "%s", name);
    return x;
}

static void load_one(void *ctx, const char *name, uint64_t acked, int64_t last_ms)
{
    ident_t *x = ident_get(ctx, name, 1);
    if (x) {
        x->acked = x->stored_acked = acked;
        x->contact_ms = x->stored_contact_ms = last_ms;
    }
}

static void on_flush(uv_timer_t *t);

int master_acks_new(uv_loop_t *loop, const master_acks_conf_t *c, master_acks_t **out)
{
    *out = NULL;
    master_acks_t *a = calloc(1, sizeof *a);
    if (!a)
        return BL_ENOMEM;
    a->c = *c;
    snprintf(a->feed, sizeof a->feed, "%s", c->feed);
    a->c.feed = a->feed;
    if (a->c.flush_ms <= 0)
        a->c.flush_ms = 10;
    pthread_mutex_lock(a->c.lock);
    int rc = master_store_mirrors(a->c.store, load_one, a);
    pthread_mutex_unlock(a->c.lock);
    if (rc) {
        free(a->id);
        free(a);
        return rc;
    }
    uv_timer_init(loop, &a->flush);
    a->flush.data = a;
    *out = a;
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    master_acks_t *a = h->data;
    free(a->id);
    free(a->ss);
    free(a);
}

void master_acks_free(master_acks_t *a)
{
    if (!a)
        return;
    pthread_mutex_lock(a->c.lock);
    master_acks_flush_locked(a);
    pthread_mutex_unlock(a->c.lock);
    uv_timer_stop(&a->flush);
    uv_close((uv_handle_t *)&a->flush, on_closed);
}

void master_acks_set_gone(master_acks_t *a, int64_t gone_ms)
{
    a->c.gone_ms = gone_ms;
}

static session_t *session_of(master_acks_t *a, uint64_t sid)
{
    for (size_t i = 0; i < a->nss; i++)
        if (a->ss[i].sid == sid)
            return &a->ss[i];
    return NULL;
}

/* The identity's serial: what every live session that said one holds; its
 * key: the one that signed what the session holding that serial accepted
 * (the last known one while that is unknown). */
static void ident_refresh(master_acks_t *a, ident_t *x)
{
    size_t xi = (size_t)(x - a->id);
    const session_t *low = NULL;
    for (size_t i = 0; i < a->nss; i++)
        if (a->ss[i].ident == xi && a->ss[i].has_ack && (!low || a->ss[i].acked < low->acked))
            low = &a->ss[i];
    if (!low)
        return;
    if (low->has_key) {
        x->has_key = 1;
        memcpy(x->key_id, low->key_id, BL_KEYID_SIZE);
    }
    if (low->acked != x->acked) {
        x->acked = low->acked;
        x->dirty = 1;
    }
}

static int ident_active(const master_acks_t *a, const ident_t *x, int64_t now_ms)
{
    return x->sessions > 0 || x->contact_ms >= now_ms - a->c.gone_ms;
}

uint64_t master_acks_min(const master_acks_t *a, uint64_t last, int64_t now_ms)
{
    uint64_t min = last;
    for (size_t i = 0; i < a->nid; i++)
        if (ident_active(a, &a->id[i], now_ms) && a->id[i].acked < min)
            min = a->id[i].acked;
    return min;
}

typedef struct {
    master_metrics_t *m;
    int64_t now_ms;
} obs_t;

static void observe(void *ctx, int64_t decided_ms)
{
    obs_t *o = ctx;
    master_metrics_propagated(o->m, o->now_ms - decided_ms);
}

/* Observes the propagation of every delisting that all active mirrors hold
 * now and did not before, at now_ms (lock held). */
static void propagate_locked(master_acks_t *a, int64_t now_ms)
{
    uint64_t last;
    uint8_t dg[BL_DIGEST_SIZE];
    if (master_store_last_serial(a->c.store, &last, dg))
        return;
    uint64_t min = master_acks_min(a, last, now_ms);
    if (!a->have_observed) {
        a->observed_upto = min; /* what was propagated before this process started */
        a->have_observed = 1;
        return;
    }
    if (min <= a->observed_upto)
        return;
    if (a->c.metrics) {
        obs_t o = {a->c.metrics, now_ms};
        master_store_delistings_between(a->c.store, a->observed_upto, min, observe, &o);
    }
    a->observed_upto = min;
}

int master_acks_flush_locked(master_acks_t *a)
{
    int any = 0, rc = 0;
    for (size_t i = 0; i < a->nid && !rc; i++) {
        ident_t *x = &a->id[i];
        if (!x->dirty)
            continue;
        if (!any && (rc = master_store_begin(a->c.store)))
            break;
        any = 1;
        rc = master_store_mirror_ack(a->c.store, x->name, x->acked, x->contact_ms);
    }
    if (any)
        rc = rc ? (master_store_rollback(a->c.store), rc) : master_store_commit(a->c.store);
    if (rc) {
        BL_WARN("mirror_acks_not_stored", "error=%s", bl_errname(rc));
        return rc;
    }
    for (size_t i = 0; i < a->nid; i++)
        if (a->id[i].dirty) {
            a->id[i].dirty = 0;
            a->id[i].stored_acked = a->id[i].acked;
            a->id[i].stored_contact_ms = a->id[i].contact_ms;
        }
    return 0;
}

static void on_flush(uv_timer_t *t)
{
    master_acks_t *a = t->data;
    pthread_mutex_lock(a->c.lock);
    master_acks_flush_locked(a);
    pthread_mutex_unlock(a->c.lock);
}

static void schedule_flush(master_acks_t *a)
{
    if (!uv_is_active((uv_handle_t *)&a->flush))
        uv_timer_start(&a->flush, on_flush, (uint64_t)a->c.flush_ms, 0);
}

static void session_locked(master_acks_t *a, uint64_t sid, const char *mirror, const char *addr,
                           int up, const char *reason)
{
    int64_t now = bl_now_ms();
    if (up) {
        ident_t *x = ident_get(a, mirror, 1);
        session_t *ns = x ? bl_grow(a->ss, &a->capss, a->nss + 1, sizeof *a->ss) : NULL;
        if (!ns)
            return;
        a->ss = ns;
        session_t *s = &a->ss[a->nss++];
        memset(s, 0, sizeof *s);
        s->sid = sid;
        s->ident = (size_t)(x - a->id);
        snprintf(s->addr, sizeof s->addr, "%s", addr ? addr : "");
        x->sessions++;
        x->contact_ms = now;
        x->dirty = 1;
        if (x->sessions > 1) {
            char others[256] = "";
            size_t off = 0;
            for (size_t i = 0; i + 1 < a->nss && off < sizeof others - 70; i++)
                if (a->ss[i].ident == s->ident)
                    off += (size_t)snprintf(others + off, sizeof others - off, "%s%s",
                                            off ? "," : "", a->ss[i].addr);
            BL_WARN("sync_duplicate_identity",
                    "mirror=%s sessions=%d addr=%s other_addrs=%s note=%s", bl_log_q(mirror),
                    x->sessions, bl_log_q(s->addr), bl_log_q(others),
                    bl_log_q("one certificate on two hosts, or an overlapping reconnect; each "
                             "session counts only for what every session holds"));
        }
        BL_INFO("mirror", "name=%s state=up sid=%" PRIu64 " addr=%s", bl_log_q(mirror), sid,
                bl_log_q(addr ? addr : "-"));
    } else {
        session_t *s = session_of(a, sid);
        if (!s)
            return;
        ident_t *x = &a->id[s->ident];
        *s = a->ss[--a->nss];
        x->sessions--;
        /* Gone is measured from the end of the session, not from the last ack. */
        x->contact_ms = now;
        x->dirty = 1;
        ident_refresh(a, x);
        BL_INFO("mirror", "name=%s state=down sid=%" PRIu64 " reason=%s", bl_log_q(mirror), sid,
                bl_log_q(reason ? reason : "-"));
    }
    schedule_flush(a);
}

void master_acks_on_session(void *ctx, uint64_t sid, const char *mirror, const char *addr, int up,
                            const char *reason)
{
    master_acks_t *a = ctx;
    pthread_mutex_lock(a->c.lock);
    session_locked(a, sid, mirror, addr, up, reason);
    pthread_mutex_unlock(a->c.lock);
}

void master_acks_on_ack(void *ctx, uint64_t sid, const char *feed, uint64_t serial,
                        const uint8_t *key_id, int64_t now_ms)
{
    master_acks_t *a = ctx;
    if (strcmp(feed, a->c.feed))
        return;
    pthread_mutex_lock(a->c.lock);
    session_t *s = session_of(a, sid);
    if (s) {
        ident_t *x = &a->id[s->ident];
        s->acked = serial;
        s->has_ack = 1;
        s->has_key = key_id != NULL;
        if (key_id)
            memcpy(s->key_id, key_id, BL_KEYID_SIZE);
        x->contact_ms = now_ms;
        uint64_t before = x->acked;
        ident_refresh(a, x);
        x->dirty = 1;
        if (x->acked > before)
            propagate_locked(a, now_ms);
        schedule_flush(a);
    }
    pthread_mutex_unlock(a->c.lock);
}

void master_acks_on_contact(void *ctx, uint64_t sid, int64_t now_ms)
{
    master_acks_t *a = ctx;
    pthread_mutex_lock(a->c.lock);
    session_t *s = session_of(a, sid);
    if (s) {
        ident_t *x = &a->id[s->ident];
        x->contact_ms = now_ms;
        if (now_ms - x->stored_contact_ms >= CONTACT_STORE_MS) {
            x->dirty = 1;
            schedule_flush(a);
        }
    }
    pthread_mutex_unlock(a->c.lock);
}

/* Drops the identities i < known with keep[i] 0 (none has a session). */
static void compact(master_acks_t *a, const uint8_t *keep, size_t known)
{
    size_t w = 0;
    for (size_t i = 0; i < a->nid; i++) {
        if (i < known && !keep[i])
            continue;
        if (w != i) {
            a->id[w] = a->id[i];
            for (size_t k = 0; k < a->nss; k++)
                if (a->ss[k].ident == i)
                    a->ss[k].ident = w;
        }
        w++;
    }
    a->nid = w;
}

int master_acks_forget_locked(master_acks_t *a, const char *mirror)
{
    ident_t *x = ident_get(a, mirror, 0);
    if (!x)
        return 0;
    if (x->sessions)
        return BL_ESTATE;
    uint8_t *keep = malloc(a->nid);
    if (!keep)
        return BL_ENOMEM;
    memset(keep, 1, a->nid);
    keep[x - a->id] = 0;
    compact(a, keep, a->nid);
    free(keep);
    return 0;
}

typedef struct {
    master_acks_t *a;
    uint8_t *seen;
} sync_t;

/* A stored mirror: mirrors without a live session follow the store, which
 * an operator or a restore may have changed. */
static void sync_one(void *ctx, const char *name, uint64_t acked, int64_t last_ms)
{
    sync_t *y = ctx;
    master_acks_t *a = y->a;
    size_t before = a->nid;
    ident_t *x = ident_get(a, name, 1);
    if (!x)
        return;
    size_t i = (size_t)(x - a->id);
    if (i < before && y->seen)
        y->seen[i] = 1;
    if (x->sessions || x->dirty)
        return;
    x->acked = x->stored_acked = acked;
    x->contact_ms = x->stored_contact_ms = last_ms;
}

void master_acks_tick(master_acks_t *a, int64_t now_ms)
{
    pthread_mutex_lock(a->c.lock);
    sync_t y = {a, calloc(a->nid ? a->nid : 1, 1)};
    size_t known = a->nid;
    if (y.seen && master_store_mirrors(a->c.store, sync_one, &y) == 0) {
        /* Forgotten in the store and not connected: forgotten here too. */
        for (size_t i = 0; i < known; i++)
            y.seen[i] |= a->id[i].sessions || a->id[i].dirty;
        compact(a, y.seen, known);
    }
    free(y.seen);
    propagate_locked(a, now_ms);
    pthread_mutex_unlock(a->c.lock);
}

void master_acks_each(const master_acks_t *a, int64_t now_ms,
                      void (*fn)(void *ctx, const master_ack_view_t *v), void *ctx)
{
    for (size_t i = 0; i < a->nid; i++) {
        const ident_t *x = &a->id[i];
        master_ack_view_t v = {.name = x->name,
                               .acked = x->acked,
                               .contact_ms = x->contact_ms,
                               .sessions = x->sessions,
                               .active = ident_active(a, x, now_ms),
                               .key_id = x->has_key ? x->key_id : NULL};
        fn(ctx, &v);
    }
}

int master_acks_key(const master_acks_t *a, const char *mirror, char hex[17])
{
    for (size_t i = 0; i < a->nid; i++)
        if (!strcmp(a->id[i].name, mirror) && a->id[i].has_key) {
            bl_keyid_hex(a->id[i].key_id, hex);
            return 1;
        }
    hex[0] = 0;
    return 0;
}

int master_acks_sessions(const master_acks_t *a, const char *mirror)
{
    for (size_t i = 0; i < a->nid; i++)
        if (!strcmp(a->id[i].name, mirror))
            return a->id[i].sessions;
    return 0;
}

int master_acks_session_list(const master_acks_t *a, const char *mirror, master_ack_session_t *out,
                             int max)
{
    int n = 0;
    for (size_t i = 0; i < a->nss; i++) {
        if (strcmp(a->id[a->ss[i].ident].name, mirror))
            continue;
        if (n < max) {
            out[n].sid = a->ss[i].sid;
            snprintf(out[n].addr, sizeof out[n].addr, "%s", a->ss[i].addr);
            out[n].acked = a->ss[i].has_ack ? a->ss[i].acked : 0;
        }
        n++;
    }
    return n;
}
