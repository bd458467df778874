/* SPDX-License-Identifier: MIT */
/* blsync-mirror configuration: an INI file (inih) plus command-line overrides. */
#ifndef MIRROR_CONFIG_H
#define MIRROR_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "conf_schema.h"
#include "runas.h"
#include "obj.h"
#include "zone.h"

#define MIRROR_CONF_MAX_LIST  16
#define MIRROR_CONF_MAX_ZONES 16

/* One [zone NAME] section: the zone's DNS settings and its data sources. */
typedef struct mirror_zone_conf {
    char name[256];
    char feed[BL_FEED_MAX + 1];
    uint32_t ttl, soa_ttl, neg_ttl, refresh, retry, expire;
    char mname[256], rname[256];
    char *ns[MIRROR_NS_MAX];
    unsigned nns;
    unsigned a;
    char *txt;
    char **reason_txt; /* index = reason id */
    size_t nreason;
    char *snapshot;
    char *keys[MIRROR_CONF_MAX_LIST];
    unsigned nkeys;
    char *spool_dir;
    char *rbldnsd[MIRROR_CONF_MAX_LIST];
    unsigned nrbldnsd;
    char *export_rbldnsd; /* write the served state here as an rbldnsd ip4trie file */
    unsigned line;
} mirror_zone_conf_t;

/* The [sync] section: follow every feed zone from the master over mutual TLS. */
typedef struct {
    int enabled;                            /* the section is present */
    char *master;                           /* "127.0.0.1:7353" or "[::1]:7353" */
    char *server_name;                      /* name in the master's certificate */
    char *cert, *key, *ca;                  /* this mirror's certificate and key, the master's CA */
    char *state_dir;                        /* persisted objects, one directory per feed */
    int64_t stale_after_ms;                 /* no valid heartbeat for this long: stale */
    int64_t freeze_after_ms;                /* ... this long: frozen (0: the window's budget) */
    int64_t backoff_min_ms, backoff_max_ms; /* reconnect delays */
    unsigned line, master_line, cert_line, key_line, ca_line, state_line;
} mirror_sync_file_conf_t;

/* The whole configuration. Strings are owned and freed by mirror_config_close. */
typedef struct {
    char *listen[MIRROR_CONF_MAX_LIST];
    unsigned nlisten;
    unsigned threads;
    unsigned tcp_idle_ms;
    unsigned tcp_max_conns;
    unsigned tcp_max_per_client; /* per IPv4 address / IPv6 /64 */
    unsigned tcp_query_ms;       /* a query begun must arrive whole within this */
    unsigned tcp_pipeline;       /* answers queued unread before reading stops */
    unsigned udp_max;
    unsigned udp_coalesce_us;
    int udp_gso;
    char *metrics_listen; /* "127.0.0.1:9154", NULL: no metrics endpoint */
    int log_level;
    int log_syslog;           /* log to syslog instead of stderr */
    int64_t window_ms;        /* propagation window (issue 6), default 4h */
    int64_t expected_prop_ms; /* expected master-to-mirror propagation, default 30m */
    mirror_sync_file_conf_t sync;
    char path[512]; /* the configuration file, for file:line in later checks */
    mirror_zone_conf_t zones[MIRROR_CONF_MAX_ZONES];
    unsigned nzones;
} mirror_config_t;

/* Every option of blsync-mirror (config.c); the manual and sample are generated from it. */
extern const bl_conf_schema_t mirror_conf_schema;

/* Sets defaults (no zones, no listeners). */
void mirror_config_init(mirror_config_t *c);
void mirror_config_close(mirror_config_t *c);
/* Reads an INI file. On error returns BL_ECONFIG/BL_EIO and err holds
 * "file:line: problem". */
int mirror_config_load(mirror_config_t *c, const char *path, char *err, size_t errlen);
/* Applies one setting as if read from a file: section "server", "sync" or
 * "zone NAME" ("zone" alone means the first zone). Used for --set; err gets
 * "KEY = VALUE: problem; expected ...". */
int mirror_config_set(mirror_config_t *c, const char *section, const char *key, const char *val,
                      char *err, size_t errlen);
/* Checks the whole configuration for consistency (zones, sources, listeners,
 * addresses, readable sync certificate, key and CA files). */
int mirror_config_check(const mirror_config_t *c, char *err, size_t errlen);
/* Writes c as an INI file that loads back to it (--print-config), defaults
 * commented out. */
int mirror_config_print(const mirror_config_t *c, FILE *f);
/* The freeze budget of c's synced zones (bl_cfg_freeze_budget with the
 * largest ttl among them), and the freeze_after in effect: the configured
 * one, or the whole budget when unset. */
int64_t mirror_config_freeze_budget(const mirror_config_t *c);
int64_t mirror_config_freeze_after(const mirror_config_t *c);
/* 1 if zone z of c gets its feed from the master over [sync]. */
int mirror_zone_conf_synced(const mirror_config_t *c, const mirror_zone_conf_t *z);
/* What --check-config run as root checks the daemons' user can use: the files
 * c names and the directories the mirror writes in; the count written. */
size_t mirror_config_access(const mirror_config_t *c, bl_access_t *out, size_t cap);

#endif
