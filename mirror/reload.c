/* SPDX-License-Identifier: MIT */
/* The mirror's configuration as the command line makes it, and what SIGHUP applies. */
#include "reload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"

static int apply_set(mirror_config_t *c, const char *arg, char *err, size_t errlen)
{
    const char *eq = strchr(arg, '=');
    if (!eq) {
        snprintf(err, errlen, "--set %s: expected SECTION:KEY=VALUE", arg);
        return BL_ECONFIG;
    }
    char lhs[512];
    snprintf(lhs, sizeof lhs, "%.*s", (int)(eq - arg), arg);
    char *colon = strrchr(lhs, ':');
    if (!colon) {
        snprintf(err, errlen, "--set %s: expected SECTION:KEY=VALUE", arg);
        return BL_ECONFIG;
    }
    *colon = 0;
    char msg[512];
    int rc = mirror_config_set(c, lhs, colon + 1, eq + 1, msg, sizeof msg);
    if (rc)
        snprintf(err, errlen, "--set %s: %s", arg, msg);
    return rc;
}

int mirror_cli_load(const mirror_cli_t *cli, mirror_config_t *c, char *err, size_t errlen)
{
    mirror_config_init(c);
    int rc = mirror_config_load(c, cli->path, err, errlen);
    for (unsigned i = 0; !rc && i < cli->nsets; i++)
        rc = apply_set(c, cli->sets[i], err, errlen);
    if (!rc && cli->nlisten) {
        for (unsigned i = 0; i < c->nlisten; i++)
            free(c->listen[i]);
        c->nlisten = 0;
        for (unsigned i = 0; !rc && i < cli->nlisten; i++)
            rc = mirror_config_set(c, "server", "listen", cli->listens[i], err, errlen);
    }
    if (!rc && cli->threads)
        rc = mirror_config_set(c, "server", "threads", cli->threads, err, errlen);
    if (!rc && cli->loglevel)
        rc = mirror_config_set(c, "server", "log_level", cli->loglevel, err, errlen);
    if (!rc)
        rc = mirror_config_check(c, err, errlen);
    if (rc)
        mirror_config_close(c);
    return rc;
}

int mirror_reload(const mirror_cli_t *cli, mirror_zones_t *zs)
{
    static mirror_config_t nc; /* large (zones): not on the stack */
    mirror_config_t *conf = zs->conf;
    char err[1024];
    int rc = mirror_cli_load(cli, &nc, err, sizeof err);
    if (!rc && (rc = mirror_zones_reloadable(zs, &nc, err, sizeof err)))
        mirror_config_close(&nc);
    if (rc) {
        BL_ERR("reload_failed", "msg=%s", bl_log_q(err));
        return BL_ECONFIG;
    }
    int restart =
        nc.nlisten != conf->nlisten || nc.threads != conf->threads ||
        nc.sync.enabled != conf->sync.enabled ||
        (nc.sync.master && (!conf->sync.master || strcmp(nc.sync.master, conf->sync.master)));
    for (unsigned i = 0; !restart && i < nc.nlisten; i++)
        restart = strcmp(nc.listen[i], conf->listen[i]) != 0;
    bl_log_init("blsync-mirror", nc.log_level, nc.log_syslog);
    conf->log_level = nc.log_level;
    conf->log_syslog = nc.log_syslog;
    mirror_zones_reload(zs, &nc);
    conf->window_ms = nc.window_ms;
    conf->expected_prop_ms = nc.expected_prop_ms;
    mirror_zones_window_check(zs);
    mirror_config_close(&nc);
    if (restart)
        BL_WARN("reload_partial", "msg=%s",
                bl_log_q("listen addresses, threads and [sync] change only on restart"));
    int lv = conf->log_level;
    BL_INFO("reloaded", "file=%s log_level=%s log_syslog=%s", bl_log_q(cli->path),
            lv == BL_LOG_ERR    ? "err"
            : lv == BL_LOG_WARN ? "warn"
            : lv == BL_LOG_INFO ? "info"
                                : "debug",
            conf->log_syslog ? "yes" : "no");
    return 0;
}
