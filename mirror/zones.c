/* SPDX-License-Identifier: MIT */
/* The zones a mirror serves, each with its feed and keyring: loading, export, health, reload. */
#include "zones.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_util.h"
#include "err.h"
#include "export.h"
#include "log.h"
#include "util.h"

static void on_apply(void *arg, mirror_feed_t *f, int rc, const mirror_apply_info_t *info)
{
    mirror_zones_t *zs = arg;
    mirror_metrics_on_apply(zs->metrics, f, rc, info);
    for (unsigned k = 0; !rc && k < f->nzones; k++)
        mirror_zones_export(zs, (unsigned)(f->zones[k].zone - zs->zones));
}

/* The followed feed named name, set up on first use. */
static mirror_feed_t *feed_of(mirror_zones_t *zs, const char *name, bl_keyring_t *ring, int synced)
{
    for (unsigned i = 0; synced && i < zs->nfeeds; i++)
        if (zs->feeds[i].synced && !strcmp(zs->feeds[i].name, name))
            return &zs->feeds[i];
    if (zs->nfeeds == MIRROR_FEEDS_MAX)
        return NULL;
    mirror_feed_t *f = &zs->feeds[zs->nfeeds];
    if (mirror_feed_init(f, zs->qsbr, name, ring))
        return NULL;
    zs->nfeeds++;
    f->synced = synced;
    f->on_apply = on_apply;
    f->on_apply_arg = zs;
    return f;
}

int mirror_zones_init(mirror_zones_t *zs, mirror_config_t *conf, mirror_qsbr_t *qsbr, char *err,
                      size_t errlen)
{
    zs->conf = conf;
    zs->qsbr = qsbr;
    for (unsigned i = 0; i < conf->nzones; i++) {
        mirror_zone_conf_t *zc = &conf->zones[i];
        if (mirror_zone_init(&zs->zones[i], zc, err, errlen))
            return BL_ECONFIG;
        zs->zone_ptrs[i] = &zs->zones[i];
        zs->nzones = i + 1;
        int synced = mirror_zone_conf_synced(conf, zc);
        if (synced && !zs->sync_ring)
            zs->sync_ring = bl_keyring_new();
        bl_keyring_t *ring = synced ? zs->sync_ring : (zs->rings[i] = bl_keyring_new());
        if (!ring) {
            snprintf(err, errlen, "out of memory");
            return BL_ENOMEM;
        }
        for (unsigned k = 0; k < zc->nkeys; k++) {
            int rc = bl_keyring_add_file(ring, zc->keys[k]);
            if (rc) {
                snprintf(err, errlen, "zone %s: trusted_key %s: %s", zc->name, zc->keys[k],
                         rc == BL_EIO ? strerror(errno) : bl_strerror(rc));
                return rc;
            }
        }
        if (zc->nrbldnsd)
            continue;
        for (unsigned k = 0; k < zc->nfeeds; k++) {
            mirror_feed_t *f = feed_of(zs, zc->feeds[k], ring, synced);
            if (!f || mirror_feed_attach(f, &zs->zones[i], zc->feed_a[k])) {
                snprintf(err, errlen, "zone %s: feed %s: %s", zc->name, zc->feeds[k],
                         f ? "served by too many zones" : "too many feeds, or out of memory");
                return BL_ECONFIG;
            }
        }
    }
    return 0;
}

void mirror_zones_close(mirror_zones_t *zs)
{
    for (unsigned i = 0; i < zs->nzones; i++) {
        mirror_zone_close(&zs->zones[i]);
        bl_keyring_free(zs->rings[i]);
        zs->rings[i] = NULL;
    }
    for (unsigned i = 0; i < zs->nfeeds; i++)
        mirror_feed_close(&zs->feeds[i]);
    zs->nfeeds = 0;
    bl_keyring_free(zs->sync_ring);
    zs->sync_ring = NULL;
    zs->nzones = 0;
}

int mirror_zones_load(mirror_zones_t *zs, unsigned i, int64_t now_ms)
{
    mirror_zone_conf_t *zc = &zs->conf->zones[i];
    mirror_zone_t *z = &zs->zones[i];
    char err[600];
    if (zc->nrbldnsd) {
        int rc = mirror_import_rbldnsd(z, zs->qsbr, zc, err, sizeof err);
        if (rc) {
            BL_ERR("import_failed", "zone=%s msg=%s", z->name, bl_log_q(err));
            return rc;
        }
        return 0;
    }
    mirror_feed_t *f = z->src[0];
    if (!f)
        return 0;
    if (zc->snapshot) {
        mirror_apply_info_t info;
        int rc = mirror_apply_file(f, zc->snapshot, now_ms, &info);
        if (rc) {
            BL_ERR("snapshot_failed", "zone=%s file=%s err=%s msg=%s", z->name,
                   bl_log_q(zc->snapshot), bl_errname(rc),
                   bl_log_q(rc == BL_EIO ? strerror(errno) : bl_strerror(rc)));
            return rc;
        }
        BL_INFO("snapshot_loaded", "zone=%s feed=%s serial=%" PRIu64 " entries=%zu us=%" PRIu64,
                z->name, f->name, info.serial, info.n_entries, info.elapsed_us);
    }
    if (zc->spool_dir)
        mirror_spool_scan(f, zc->spool_dir, now_ms);
    return 0;
}

int mirror_zones_export(mirror_zones_t *zs, unsigned i)
{
    const mirror_zone_conf_t *zc = &zs->conf->zones[i];
    return mirror_export_rbldnsd(&zs->zones[i], zc->export_rbldnsd,
                                 (unsigned)strtoul(zc->export_mode, NULL, 8), zc->export_group);
}

void mirror_zones_scan(mirror_zones_t *zs, int64_t now_ms)
{
    for (unsigned i = 0; i < zs->nzones; i++) {
        if (zs->conf->zones[i].spool_dir && zs->zones[i].src[0])
            mirror_spool_scan(zs->zones[i].src[0], zs->conf->zones[i].spool_dir, now_ms);
        const mirror_zdata_t *d = atomic_load(&zs->zones[i].data);
        mirror_rbldnsd_poll(&zs->zones[i], zs->qsbr, &zs->conf->zones[i], now_ms);
        if (atomic_load(&zs->zones[i].data) != d) /* the files were loaded again */
            mirror_zones_export(zs, i);
    }
}

int mirror_zones_health(const mirror_zones_t *zs, char *msg, size_t n)
{
    for (unsigned i = 0; i < zs->nzones; i++) {
        if (!atomic_load(&zs->zones[i].data)) {
            snprintf(msg, n, "zone %s has no data", zs->zones[i].name);
            return 1;
        }
        const mirror_zdata_t *d = atomic_load(&zs->zones[i].data);
        if (d->expires_at && bl_now_ms() / 1000 > d->expires_at) {
            snprintf(msg, n, "zone %s: its rbldnsd data expired ($TIMESTAMP), no positive answers",
                     zs->zones[i].name);
            return 1;
        }
        const mirror_zone_t *z = &zs->zones[i];
        unsigned fz = (unsigned)atomic_load(&z->no_positive);
        if (fz && z->nsrc < 2) {
            snprintf(msg, n,
                     "zone %s is frozen: not current with the master for longer than "
                     "freeze_after, no positive answers",
                     z->name);
            return 1;
        }
        for (unsigned k = 0; z->nsrc > 1 && k < z->nsrc; k++) {
            if (fz >> k & 1) {
                snprintf(msg, n,
                         "zone %s: feed %s is frozen: not current with the master for longer "
                         "than freeze_after, no positive answers from it",
                         z->name, z->src[k]->name);
                return 1;
            }
            if (d->unloaded >> k & 1) {
                snprintf(msg, n, "zone %s: feed %s has no data", z->name, z->src[k]->name);
                return 1;
            }
        }
    }
    return 0;
}

void mirror_zones_window_check(const mirror_zones_t *zs)
{
    char msg[256];
    const mirror_config_t *c = zs->conf;
    for (unsigned i = 0; i < zs->nzones; i++)
        if (bl_cfg_window_check(c->window_ms, (int64_t)atomic_load(&zs->zones[i].ttl) * 1000,
                                c->expected_prop_ms, msg, sizeof msg))
            BL_WARN("window_budget", "zone=%s msg=%s", zs->zones[i].name, bl_log_q(msg));
    if (zs->metrics)
        bl_metrics_set(bl_metrics_with(zs->metrics->fam.window, NULL),
                       (double)c->window_ms / 1000.0);
}

/* Two zone configurations name the same feeds with the same A values. */
static int same_feeds(const mirror_zone_conf_t *a, const mirror_zone_conf_t *b)
{
    if (a->nfeeds != b->nfeeds)
        return 0;
    for (unsigned k = 0; k < a->nfeeds; k++)
        if (strcmp(a->feeds[k], b->feeds[k]) || a->feed_a[k] != b->feed_a[k])
            return 0;
    return 1;
}

int mirror_zones_reloadable(const mirror_zones_t *zs, const mirror_config_t *nc, char *err,
                            size_t errlen)
{
    for (unsigned i = 0; i < nc->nzones; i++)
        if (i >= zs->nzones || strcmp(nc->zones[i].name, zs->zones[i].name) ||
            !same_feeds(&nc->zones[i], &zs->conf->zones[i]) ||
            !nc->zones[i].nrbldnsd != !zs->conf->zones[i].nrbldnsd) {
            snprintf(err, errlen, "zone %s: zones, feeds and sources need a restart",
                     nc->zones[i].name);
            return BL_ECONFIG;
        }
    if (nc->nzones != zs->nzones) {
        snprintf(err, errlen, "the set of zones changed: restart needed");
        return BL_ECONFIG;
    }
    return 0;
}

/* Swaps the string lists of two zone configurations (rbldnsd imports). */
static void swap_rbldnsd(mirror_zone_conf_t *a, mirror_zone_conf_t *b)
{
    char *tmp[MIRROR_CONF_MAX_LIST];
    unsigned n = a->nrbldnsd;
    memcpy(tmp, a->rbldnsd, sizeof tmp);
    memcpy(a->rbldnsd, b->rbldnsd, sizeof tmp);
    memcpy(b->rbldnsd, tmp, sizeof tmp);
    a->nrbldnsd = b->nrbldnsd;
    b->nrbldnsd = n;
    int64_t ck = a->rbldnsd_check_ms;
    a->rbldnsd_check_ms = b->rbldnsd_check_ms;
    b->rbldnsd_check_ms = ck;
    char *e = a->export_rbldnsd;
    a->export_rbldnsd = b->export_rbldnsd;
    b->export_rbldnsd = e;
    memcpy(a->export_mode, b->export_mode, sizeof a->export_mode);
    memcpy(a->export_group, b->export_group, sizeof a->export_group);
}

void mirror_zones_reload(mirror_zones_t *zs, mirror_config_t *nc)
{
    char *old_txt[MIRROR_CONF_MAX_ZONES] = {0};
    char **old_reason[MIRROR_CONF_MAX_ZONES] = {0};
    size_t old_n[MIRROR_CONF_MAX_ZONES] = {0};
    for (unsigned i = 0; i < zs->nzones; i++) {
        mirror_zone_t *z = &zs->zones[i];
        if (mirror_zone_reload(z, &nc->zones[i], &old_txt[i], &old_reason[i], &old_n[i]))
            BL_ERR("reload_failed", "zone=%s msg=\"out of memory\"", z->name);
        if (zs->metrics)
            bl_metrics_set(bl_metrics_with(zs->metrics->fam.dns_ttl, z->name),
                           atomic_load(&z->ttl));
        swap_rbldnsd(&zs->conf->zones[i], &nc->zones[i]);
    }
    mirror_qsbr_synchronize(zs->qsbr); /* no DNS thread holds an old template now */
    char err[1024];
    if (mirror_defences_reload(&zs->def, nc, zs->zones, zs->nzones, zs->qsbr, err, sizeof err))
        BL_ERR("reload_failed", "msg=%s", bl_log_q(err)); /* the old ACLs stay */
    for (unsigned i = 0; i < zs->nzones; i++) {
        free(old_txt[i]);
        for (size_t k = 0; k < old_n[i]; k++)
            free(old_reason[i][k]);
        free(old_reason[i]);
    }
    int64_t now_ms = bl_now_ms();
    for (unsigned i = 0; i < zs->nzones; i++) {
        if (zs->conf->zones[i].nrbldnsd)
            mirror_zones_load(zs, i, now_ms); /* keeps the old data if the files are bad */
        mirror_zones_export(zs, i);
        BL_INFO("zone_reloaded", "zone=%s ttl=%u neg_ttl=%u soa_ttl=%u", zs->zones[i].name,
                atomic_load(&zs->zones[i].ttl), atomic_load(&zs->zones[i].neg_ttl),
                atomic_load(&zs->zones[i].soa_ttl));
    }
}
