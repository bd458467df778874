/* SPDX-License-Identifier: MIT */
/* SIGHUP on the master: the options that apply at once, the signing key, the sync server's files.
 */
#ifndef MASTER_RELOAD_H
#define MASTER_RELOAD_H

#include <pthread.h>

#include "acks.h"
#include "config.h"
#include "http.h"
#include "master_metrics.h"
#include "public.h"
#include "publisher.h"
#include "sync_server.h"

/*
 * The [metrics] window budget, the gone limit (mirror_active) and [public]
 * serve_spool with its long polls' bounds take effect at once (the options marked BL_CONF_HOT in
 * config.c); everything else in the file needs a restart, and a change to it is logged
 * (reload_partial). A file that does not load keeps the running
 * configuration. The publisher reads its key file again and the sync server
 * its revoked list and spool. Each step is logged (event=reloaded).
 */
typedef struct {
    const char *conf_path;
    master_config_t *c;        /* the running configuration: its hot options change */
    master_http_ctx_t *api;    /* the API's copy of the window */
    int64_t *public_window_ms; /* the public page's copy of the window (may be NULL) */
    pthread_mutex_t *lock;     /* guards c's hot options, the API and the publisher */
    master_metrics_t *metrics; /* may be NULL */
    master_acks_t *acks;       /* may be NULL */
    master_publisher_t *pub;
    master_sync_t *sync;      /* may be NULL */
    master_public_t *public_; /* serve_spool and its long polls (may be NULL) */
} master_reload_t;

/* Loop thread. r[0] is the first feed's, with the main configuration file;
 * r[1..n-1] further feeds', each with its feed file (read over the main
 * configuration), no sync server and no public listener. */
void master_reload(const master_reload_t *r, size_t n);

#endif
