/* SPDX-License-Identifier: MIT */
/* SIGHUP on the master: the options that apply at once, the signing key, the sync server's files.
 */
#include "reload.h"

#include "config_util.h"
#include "err.h"
#include "log.h"

static void reload_config(const master_reload_t *r)
{
    static master_config_t nc; /* large (paths): not on the stack */
    char err[512];
    master_config_defaults(&nc);
    if (master_config_load(r->conf_path, &nc, err, sizeof err)) {
        BL_ERR("reload_failed", "error=%s", bl_log_q(err));
        master_metrics_reloaded(r->metrics, 0);
        return;
    }
    master_config_t *c = r->c;
    char changed[512];
    if (bl_conf_restart_changes(&master_conf_schema, c, &nc, changed, sizeof changed))
        BL_WARN("reload_partial", "restart_needed=%s", bl_log_q(changed));
    pthread_mutex_lock(r->lock);
    c->window_ms = nc.window_ms;
    c->mirror_ttl_ms = nc.mirror_ttl_ms;
    c->expected_prop_ms = nc.expected_prop_ms;
    c->policy.mirror_active_ms = nc.policy.mirror_active_ms;
    r->api->window_ms = nc.window_ms;
    if (r->public_window_ms)
        *r->public_window_ms = nc.window_ms;
    master_metrics_set_review_limit(r->metrics, c->review_response_ms = nc.review_response_ms);
    master_metrics_set_limits(r->metrics, c->window_ms, c->policy.mirror_active_ms);
    if (r->acks)
        master_acks_set_gone(r->acks, c->policy.mirror_active_ms);
    c->public_serve_spool = nc.public_serve_spool;
    c->public_spool_wait_ms = nc.public_spool_wait_ms;
    c->public_spool_max_held = nc.public_spool_max_held;
    master_public_set_spool(r->public_, c->public_serve_spool, c->public_spool_wait_ms,
                            c->public_spool_max_held);
    pthread_mutex_unlock(r->lock);
    master_metrics_reloaded(r->metrics, 1);
    char w[BL_CFG_DURSTRLEN], g[BL_CFG_DURSTRLEN];
    BL_INFO("reloaded", "what=config window=%s mirror_active=%s serve_spool=%s",
            bl_cfg_duration_format(c->window_ms, w, sizeof w),
            bl_cfg_duration_format(c->policy.mirror_active_ms, g, sizeof g),
            c->public_serve_spool && r->public_ ? "yes" : "no");
    master_config_window_warn(c);
}

void master_reload(const master_reload_t *r)
{
    reload_config(r);
    pthread_mutex_lock(r->lock);
    int rk = master_publisher_reload_key(r->pub);
    pthread_mutex_unlock(r->lock);
    BL_INFO("reloaded", "what=key result=%s", rk ? bl_errname(rk) : "ok");
    if (r->sync) {
        int rc = master_sync_reload(r->sync);
        BL_INFO("reloaded", "what=sync result=%s", rc ? bl_errname(rc) : "ok");
    }
}
