/* SPDX-License-Identifier: MIT */
/* The zones a mirror serves, each with its feed and keyring: loading, export, health, reload. */
#ifndef MIRROR_ZONES_H
#define MIRROR_ZONES_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "feed.h"
#include "key.h"
#include "mirror_metrics.h"
#include "qsbr.h"
#include "defences.h"
#include "zone.h"

/*
 * Zone i of the configuration is zones[i]. A feed zone's sources are
 * feeds[] (zones[i].src[]): a zone that follows the master ([sync]) shares
 * each feed with the other followed zones that name it, so that a feed is
 * followed and persisted once; a zone with a snapshot or spool_dir has a
 * feed of its own. The followed feeds share one keyring, so that a key
 * certificate reaches every one; every other zone has its own, from its
 * trusted_key files. After every successful apply the export files of the
 * feed's zones are written again and the apply is counted in the metrics.
 */
#define MIRROR_FEEDS_MAX (MIRROR_CONF_MAX_ZONES + MIRROR_SOURCES_MAX)
typedef struct {
    mirror_config_t *conf; /* the running configuration (not owned) */
    mirror_qsbr_t *qsbr;
    mirror_metrics_t *metrics; /* may be NULL; set before the first apply */
    mirror_zone_t zones[MIRROR_CONF_MAX_ZONES];
    mirror_zone_t *zone_ptrs[MIRROR_CONF_MAX_ZONES];
    mirror_feed_t feeds[MIRROR_FEEDS_MAX];
    unsigned nfeeds;
    bl_keyring_t *rings[MIRROR_CONF_MAX_ZONES]; /* zones not followed over [sync] */
    bl_keyring_t *sync_ring;                    /* every followed zone */
    unsigned nzones;
    mirror_defences_t def; /* the server's and the zones' ACLs, RRL, NSID, query log */
} mirror_zones_t;

/* Sets up every zone of conf with its feed and keyring (no data yet). On
 * error err says which zone or key file; mirror_zones_close releases what
 * was set up. */
int mirror_zones_init(mirror_zones_t *zs, mirror_config_t *conf, mirror_qsbr_t *qsbr, char *err,
                      size_t errlen);
void mirror_zones_close(mirror_zones_t *zs);
/* Loads zone i's local data: its rbldnsd files, or its snapshot file and
 * spool directory. A failure is logged; the zone keeps what it had. */
int mirror_zones_load(mirror_zones_t *zs, unsigned i, int64_t now_ms);
/* Writes zone i's export_rbldnsd file, if it has one. */
int mirror_zones_export(mirror_zones_t *zs, unsigned i);
/* Applies what is ready in each zone's spool directory (every tick). */
void mirror_zones_scan(mirror_zones_t *zs, int64_t now_ms);
/* /healthz: 1 and a message when a zone has no data, a feed of a zone has
 * none yet, or a zone or one of its feeds is frozen. */
int mirror_zones_health(const mirror_zones_t *zs, char *msg, size_t n);
/* Warns (event=window_budget) for each zone whose TTL of positive answers
 * plus the expected propagation does not fit the propagation window, and
 * sets the window gauge. */
void mirror_zones_window_check(const mirror_zones_t *zs);

/* A reload may change zone settings but not the zones, their feeds (and
 * their A values) or the kind of their source: 0, or BL_ECONFIG and why in
 * err. */
int mirror_zones_reloadable(const mirror_zones_t *zs, const mirror_config_t *nc, char *err,
                            size_t errlen);
/* Takes each zone's TTLs, TXT templates, rbldnsd files and export file from
 * nc (which receives the old lists), while DNS threads keep answering: the
 * old templates are freed after a grace period. Then reloads the rbldnsd
 * data and writes the export files. */
void mirror_zones_reload(mirror_zones_t *zs, mirror_config_t *nc);

#endif
