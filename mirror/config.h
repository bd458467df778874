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
#define MIRROR_CONF_MAX_ACL   256 /* acl lines per section (acl_file for more) */

/* Who a server or a zone answers (acl.h): "ACTION PREFIX" lines, an rbldnsd
 * acl dataset, and what a plain deny does. */
typedef struct {
    char *acl[MIRROR_CONF_MAX_ACL];
    unsigned nacl;
    char *acl_file;
    int acl_action; /* MIRROR_ACL_REFUSE or MIRROR_ACL_DROP */
} mirror_acl_conf_t;

/* Zone settings an rbldnsd file's $TTL, $SOA and $NS may give when the
 * [zone] section does not set them (mirror_zone_conf_t.set_line). */
enum {
    MIRROR_ZSET_TTL,
    MIRROR_ZSET_SOA_TTL,
    MIRROR_ZSET_NEG_TTL,
    MIRROR_ZSET_REFRESH,
    MIRROR_ZSET_RETRY,
    MIRROR_ZSET_EXPIRE,
    MIRROR_ZSET_MNAME,
    MIRROR_ZSET_RNAME,
    MIRROR_ZSET_NS,
    MIRROR_ZSET_N
};

/* One [zone NAME] section: the zone's DNS settings and its data sources. */
typedef struct mirror_zone_conf {
    char name[256];
    char feed[BL_FEED_MAX + 1]; /* the first (or only) feed: feeds[0] */
    /* feed = NAME [NAME:A]...: the feeds the zone combines, each with the
     * last octet of the 127.0.0.A its listings answer (0: the listings' own
     * A value, else the zone's a: only the first feed may leave it out) */
    char feeds[MIRROR_SOURCES_MAX][BL_FEED_MAX + 1];
    unsigned feed_a[MIRROR_SOURCES_MAX];
    unsigned nfeeds;
    unsigned feed_line; /* the line of feed =; 0: the default */
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
    int64_t rbldnsd_check_ms;         /* look for changed files this often; 0: only on SIGHUP */
    char *export_rbldnsd;             /* write the served state here as an rbldnsd ip4trie file */
    char export_mode[8];              /* export file mode, octal ("0644") */
    char export_group[64];            /* export file group; "": the process's */
    unsigned set_line[MIRROR_ZSET_N]; /* the line that set it; 0: the default */
    mirror_acl_conf_t acl;
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
    char *upstream[MIRROR_CONF_MAX_LIST];   /* "push" or http(s) URLs, in order of preference */
    unsigned nupstream;
    int64_t poll_interval_ms, poll_jitter_ms, pull_timeout_ms; /* the pull client's */
    int long_poll; /* long_poll: head?after=SERIAL where an upstream holds it */
    char *pull_ca; /* NULL: the system store */
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
    mirror_acl_conf_t acl;
    unsigned rrl_rate, rrl_slip, rrl_ipv4_prefix, rrl_ipv6_prefix, rrl_table_size;
    char *rrl_whitelist[MIRROR_CONF_MAX_ACL];
    unsigned nrrl_whitelist;
    char *nsid;     /* EDNS NSID payload (text), NULL: none */
    char *identity; /* id.server / hostname.bind CH TXT, NULL: refused */
    unsigned query_log_sample, query_log_max_per_s;
    char *metrics_listen; /* "127.0.0.1:9154", NULL: no metrics endpoint */
    int log_level;
    int log_syslog;           /* log to syslog instead of stderr */
    int64_t window_ms;        /* a delisting reaches every mirror and outlives
                                 positive TTLs within this, default 4h */
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
/* 1 if zone z of c gets its feeds from the master over [sync]. */
int mirror_zone_conf_synced(const mirror_config_t *c, const mirror_zone_conf_t *z);
/* 1 if [sync] follows the master's push listener (upstream unset, or listing "push"). */
int mirror_config_push(const mirror_config_t *c);
/* What --check-config run as root checks the daemons' user can use: the files
 * c names and the directories the mirror writes in; the count written. */
size_t mirror_config_access(const mirror_config_t *c, bl_access_t *out, size_t cap);

#endif
