/* SPDX-License-Identifier: MIT */
/* SIGHUP on the master: the options that apply at once, the signing key, the sync server's files.
 */
#include "reload.h"

#include <string.h>

#include "config_util.h"
#include "err.h"
#include "log.h"

/* Applies the hot options of nc (loaded) to r's running configuration; the
 * log lines name the feed when the master has several. */
static void apply_config(const master_reload_t *r, const master_config_t *nc, int several)
{
    master_config_t *c = r->c;
    char changed[512];
    if (bl_conf_restart_changes(&master_conf_schema, c, nc, changed, sizeof changed))
        BL_WARN("reload_partial", "restart_needed=%s%s%s", bl_log_q(changed),
                several ? " feed=" : "", several ? bl_log_q(c->feed) : "");
    pthread_mutex_lock(r->lock);
    c->window_ms = nc->window_ms;
    c->mirror_ttl_ms = nc->mirror_ttl_ms;
    c->expected_prop_ms = nc->expected_prop_ms;
    c->policy.mirror_active_ms = nc->policy.mirror_active_ms;
    r->api->window_ms = nc->window_ms;
    if (r->public_window_ms)
        *r->public_window_ms = nc->window_ms;
    c->review_response_ms = nc->review_response_ms;
    master_metrics_set_review_limit(r->metrics, c->review_response_ms); /* the first feed's */
    master_metrics_set_limits(r->metrics, c->window_ms, c->policy.mirror_active_ms);
    if (r->acks)
        master_acks_set_gone(r->acks, c->policy.mirror_active_ms);
    c->public_serve_spool = nc->public_serve_spool;
    c->public_spool_wait_ms = nc->public_spool_wait_ms;
    c->public_spool_max_held = nc->public_spool_max_held;
    master_public_set_spool(r->public_, c->public_serve_spool, c->public_spool_wait_ms,
                            c->public_spool_max_held);
    pthread_mutex_unlock(r->lock);
    char w[BL_CFG_DURSTRLEN], g[BL_CFG_DURSTRLEN];
    BL_INFO("reloaded", "what=config window=%s mirror_active=%s serve_spool=%s%s%s",
            bl_cfg_duration_format(c->window_ms, w, sizeof w),
            bl_cfg_duration_format(c->policy.mirror_active_ms, g, sizeof g),
            c->public_serve_spool && r->public_ ? "yes" : "no", several ? " feed=" : "",
            several ? bl_log_q(c->feed) : "");
}

/* Loads the main file and every feed file: all of them or none apply. */
static void reload_config(const master_reload_t *r, size_t n)
{
    static master_config_t nc[MASTER_FEEDS_MAX]; /* large (paths): not on the stack */
    char err[512];
    master_config_defaults(&nc[0]);
    int rc = master_config_load(r[0].conf_path, &nc[0], err, sizeof err);
    for (size_t i = 1; !rc && i < n; i++)
        rc = master_config_load_feed(&nc[0], r[i].conf_path, &nc[i], err, sizeof err);
    if (!rc && strcmp(nc[0].feed_files, r[0].c->feed_files))
        BL_WARN("reload_partial", "restart_needed=%s", bl_log_q("[master] feeds"));
    if (rc) {
        BL_ERR("reload_failed", "error=%s", bl_log_q(err));
        master_metrics_reloaded(r[0].metrics, 0);
        return;
    }
    for (size_t i = 0; i < n; i++)
        apply_config(&r[i], &nc[i], n > 1);
    master_metrics_reloaded(r[0].metrics, 1);
    master_config_window_warn(r[0].c);
}

void master_reload(const master_reload_t *r, size_t n)
{
    reload_config(r, n);
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_lock(r[i].lock);
        int rk = master_publisher_reload_key(r[i].pub);
        pthread_mutex_unlock(r[i].lock);
        BL_INFO("reloaded", "what=key feed=%s result=%s", bl_log_q(r[i].c->feed),
                rk ? bl_errname(rk) : "ok");
    }
    if (r[0].sync) {
        int rc = master_sync_reload(r[0].sync);
        BL_INFO("reloaded", "what=sync result=%s", rc ? bl_errname(rc) : "ok");
    }
}
