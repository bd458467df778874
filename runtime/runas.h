/* SPDX-License-Identifier: MIT */
/* --check-config run as root: can the daemons' user read (and write) what the configuration names?
 */
#ifndef BL_RUNAS_H
#define BL_RUNAS_H

#include <stddef.h>

/* The user the systemd units run both daemons as (deploy/systemd/blsync.sysusers). */
#define BL_DAEMON_USER "blsync"

typedef struct {
    const char *what; /* "[publisher] key" */
    const char *path; /* NULL or "" is skipped */
    int dir;          /* 1: a directory the daemon writes in; 2: a file it creates there */
} bl_access_t;

/*
 * The user --check-config checks as, for the configuration file conf: user
 * when given (--user), else BL_DAEMON_USER when run as root and conf lies in
 * a directory of that user's group (the package's /etc/blsync, root:blsync
 * 0750), else NULL (nothing to check: a private or test layout).
 */
const char *bl_access_user(const char *conf, const char *user);

/*
 * Run as root, checks each path as USER would see it: in a child process
 * that takes USER's uid, gid and supplementary groups, a file must open for
 * reading, a directory must allow writing and searching, and a created
 * file's directory must allow writing. A directory that does not exist yet
 * is not a problem (systemd's StateDirectory creates it for the user). Each
 * problem is one line on stderr, "PREFIX: WHAT PATH: USER cannot ...: HOW TO
 * FIX". Returns the number of problems; 0 when not root or USER does not
 * exist (nothing to check on a build machine).
 */
/* user NULL: nothing to check, 0. */
int bl_access_check_as(const char *user, const bl_access_t *a, size_t n, const char *prefix);

#endif
