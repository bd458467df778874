/* SPDX-License-Identifier: MIT */
/* Writes what the option tables generate: blsync.conf(5)'s option lists and the sample configs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_schema.h"
#include "master/config.h"
#include "mirror/config.h"

/*
 *   config_docs man FILE        FILE with each block between
 *                               .\" BEGIN GENERATED blsync-DAEMON and
 *                               .\" END GENERATED blsync-DAEMON
 *                               replaced by that daemon's option list
 *   config_docs sample master   deploy/blsync-master.conf
 *   config_docs sample mirror   deploy/blsync-mirror.conf
 * tests/config/docs.sh compares the output with the committed files and
 * writes them with --update.
 */

static const char master_head[] =
    "# SPDX-License-Identifier: MIT\n"
    "# Sample /etc/blsync/master.conf: the set-up of docs/OPERATIONS.md (a signing key,\n"
    "# an API token, TLS files from blsyncctl certs --dir /etc/blsync/tls); every other\n"
    "# option with its default, commented out.\n"
    "# Generated from the option table in master/config.c (tests/config/docs.sh --update).\n"
    "#\n"
    "# See blsync.conf(5) and blsync-master(8). Values: durations \"30s\", \"4h\", \"1h30m\";\n"
    "# sizes \"64K\", \"4MiB\"; booleans yes/no; addresses \"127.0.0.1:8053\" or\n"
    "# \"[::1]:8053\". Problems are reported as FILE:LINE: problem;\n"
    "# `blsync-master --check-config -c FILE` checks a file and\n"
    "# `blsync-master --print-config -c FILE` prints the configuration it makes.\n";
/* The settings the master's sample makes (the rest stays at its defaults). */
static const char master_seed[] = "[http]\n"
                                  "token_file = /etc/blsync/api.token\n"
                                  "[metrics]\n"
                                  "listen = 127.0.0.1:9153\n"
                                  "[sync]\n"
                                  "listen = 0.0.0.0:7353\n"
                                  "cert = /etc/blsync/tls/master.pem\n"
                                  "tls_key = /etc/blsync/tls/master.key\n"
                                  "ca = /etc/blsync/tls/ca.pem\n";

static const char mirror_head[] =
    "# SPDX-License-Identifier: MIT\n"
    "# Sample /etc/blsync/mirror.conf: one zone served from the master's feed over [sync]\n"
    "# (docs/OPERATIONS.md: set [sync] master and server_name to your master's); every\n"
    "# other option with its default, commented out.\n"
    "# Generated from the option table in mirror/config.c (tests/config/docs.sh --update).\n"
    "#\n"
    "# See blsync.conf(5) and blsync-mirror(8). Values: durations \"30s\", \"4h\", \"1h30m\";\n"
    "# booleans yes/no; addresses \"127.0.0.1:53\" or \"[::1]:53\". Problems are reported as\n"
    "# FILE:LINE: problem; `blsync-mirror --check-config -c FILE` checks a file and\n"
    "# `blsync-mirror --print-config -c FILE` prints the configuration it makes.\n"
    "# The TLS files in /etc/blsync/tls/ are this mirror's pair and the CA that\n"
    "# `blsyncctl certs` made on the master; /etc/blsync/master.pub is the master's\n"
    "# public signing key.\n";
static const char mirror_seed[] = "[server]\n"
                                  "listen = 127.0.0.1:53\n"
                                  "metrics_listen = 127.0.0.1:9154\n"
                                  "[sync]\n"
                                  "master = 192.0.2.10:7353\n"
                                  "server_name = master.example.net\n"
                                  "cert = /etc/blsync/tls/mirror.pem\n"
                                  "key = /etc/blsync/tls/mirror.key\n"
                                  "ca = /etc/blsync/tls/ca.pem\n"
                                  "state_dir = /var/lib/blsync-mirror/sync\n"
                                  "[zone bl.example.net]\n"
                                  "trusted_key = /etc/blsync/master.pub\n";

static int sample(const bl_conf_schema_t *s, void *conf, const char *head, const char *seed)
{
    bl_cfg_err_t e;
    FILE *f = fmemopen((void *)seed, strlen(seed), "r");
    if (!f || bl_conf_load_file(s, conf, f, "seed", &e)) {
        fprintf(stderr, "config_docs: %s seed: %s\n", s->daemon, f ? e.msg : "fmemopen");
        return 1;
    }
    fclose(f);
    fputs(head, stdout);
    int rc = bl_conf_print(s, conf, stdout, BL_CONF_PRINT_SAMPLE);
    bl_conf_free(s, conf);
    return rc ? 1 : 0;
}

/* Copies the page, replacing each generated block with the schema's list. */
static int man(const char *path)
{
    static const bl_conf_schema_t *const schemas[] = {&master_conf_schema, &mirror_conf_schema};
    FILE *f = fopen(path, "r");
    char line[4096];
    const bl_conf_schema_t *in = NULL;
    int seen = 0;
    if (!f) {
        perror(path);
        return 1;
    }
    while (fgets(line, sizeof line, f)) {
        if (in && !strncmp(line, ".\\\" END GENERATED ", 18)) {
            bl_conf_print_man(in, stdout);
            in = NULL;
        }
        if (!in)
            fputs(line, stdout);
        for (size_t i = 0; i < 2 && !strncmp(line, ".\\\" BEGIN GENERATED ", 20); i++)
            if (!strncmp(line + 20, schemas[i]->daemon, strlen(schemas[i]->daemon))) {
                in = schemas[i];
                seen |= 1 << i;
            }
    }
    fclose(f);
    if (in || seen != 3) {
        fprintf(stderr, "config_docs: %s: needs one BEGIN/END GENERATED block per daemon\n", path);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static master_config_t mc;
    static mirror_config_t yc;
    if (argc == 3 && !strcmp(argv[1], "man"))
        return man(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "sample") && !strcmp(argv[2], "master")) {
        master_config_defaults(&mc);
        return sample(&master_conf_schema, &mc, master_head, master_seed);
    }
    if (argc == 3 && !strcmp(argv[1], "sample") && !strcmp(argv[2], "mirror")) {
        mirror_config_init(&yc);
        return sample(&mirror_conf_schema, &yc, mirror_head, mirror_seed);
    }
    fprintf(stderr, "usage: config_docs man FILE | sample master|mirror\n");
    return 2;
}
