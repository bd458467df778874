/* SPDX-License-Identifier: MIT */
/* The mirror's configuration as the command line makes it, and what SIGHUP applies. */
#ifndef MIRROR_RELOAD_H
#define MIRROR_RELOAD_H

#include <stddef.h>

#include "config.h"
#include "zones.h"

#define MIRROR_CLI_MAX_SETS 64

/* The command line's configuration overrides, applied over the file at
 * start and on every reload. */
typedef struct {
    const char *path;                          /* -c */
    const char *listens[MIRROR_CONF_MAX_LIST]; /* -l: replace the file's list */
    unsigned nlisten;
    const char *sets[MIRROR_CLI_MAX_SETS]; /* --set SECTION:KEY=VALUE */
    unsigned nsets;
    const char *threads, *loglevel; /* -t, --log-level; NULL: the file's */
} mirror_cli_t;

/* Reads the file, applies the command line over it and checks the result.
 * On error c is closed and err says why (FILE:LINE or --set ARG). */
int mirror_cli_load(const mirror_cli_t *cli, mirror_config_t *c, char *err, size_t errlen);

/*
 * SIGHUP: reads the file again (with the same command-line overrides) and
 * applies what can change under load: log level and syslog, each zone's
 * TTLs and TXT templates, rbldnsd imports and the export file
 * (mirror_zones_reload). Listen addresses, threads, [sync], zones and feeds
 * need a restart (logged); the [sync] certificate files are read again by
 * the caller when this returns 0. An invalid file changes nothing (returns
 * BL_ECONFIG). DNS threads keep answering throughout.
 */
int mirror_reload(const mirror_cli_t *cli, mirror_zones_t *zs);

#endif
