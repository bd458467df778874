/* SPDX-License-Identifier: MIT */
/* blsyncctl subcommands: each takes the arguments after its name, returns an exit code. */
#ifndef BL_CTL_H
#define BL_CTL_H

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
    const char *usage;                 /* one line: arguments and purpose */
} ctl_cmd_t;

/* lookup and status: no answer from the master (unreachable, refused, bad
 * reply); 0 and 1 are their answers (listed / not listed, all current / some
 * behind), 2 a usage error. */
#define CTL_EXIT_ERROR 3

/* Whether -h or --help is among argv[1..argc-1]. */
int ctl_wants_help(int argc, char **argv);

/* A subcommand's option: a flag (flag set to 1) or one that takes the next argument (val). */
typedef struct {
    const char *name;
    const char **val;
    int *flag;
} ctl_opt_t;
/* When rest[*i] is one of opts (ended by a NULL name) and, for a valued option, a value
 * follows: stores it, moves *i past what it took and returns 1; else 0. */
int ctl_opt(const ctl_opt_t *opts, char **rest, int nrest, int *i);

/* --json of the commands that work offline: one JSON object on stdout, built
 * with master/json.h's writers. ctl_json_key appends "KEY": after a comma
 * unless it opens an object or array; ctl_json_str the member KEY with the
 * string val (null when NULL); ctl_json_int and ctl_json_bool likewise;
 * ctl_json_flush writes b out and empties it, so that a long dump never
 * needs all of itself in memory. */
#include "rd.h"
void ctl_json_key(bl_buf_t *b, const char *key);
void ctl_json_str(bl_buf_t *b, const char *key, const char *val);
void ctl_json_int(bl_buf_t *b, const char *key, long long val);
void ctl_json_bool(bl_buf_t *b, const char *key, int val);
void ctl_json_flush(bl_buf_t *b);
/* A one-object answer: begin initialises b and opens the object; end
 * closes it, prints it with a newline and frees b. */
void ctl_json_begin(bl_buf_t *b);
void ctl_json_end(bl_buf_t *b);

/* Objects and keys (ctl/obj.c). */
int ctl_keygen(int argc, char **argv);
int ctl_verify(int argc, char **argv);
int ctl_dump(int argc, char **argv);
int ctl_mkdelta(int argc, char **argv);
int ctl_keycert(int argc, char **argv);
int ctl_token(int argc, char **argv);

/* TLS certificates for operators without a PKI (ctl/certs.c). */
int ctl_certs(int argc, char **argv);

/* The group of the daemons' user (deploy/systemd/blsync.sysusers). */
#define CTL_DAEMON_GROUP "blsync"
/* Makes a secret file a daemon reads root:GROUP 0640 (the owner stays when
 * not run as root). GROUP NULL: CTL_DAEMON_GROUP when the file's directory
 * belongs to it (the package's /etc/blsync, root:blsync 0750), else the file
 * stays as written (0600) and 0 is returned. 1 when changed, -1 (said on
 * stderr) when it cannot be. */
int ctl_daemon_file(const char *path, const char *group);

/* Master API and offline imports (ctl/api.c, ctl/import.c). */
int ctl_report(int argc, char **argv);
int ctl_list(int argc, char **argv);
int ctl_lookup(int argc, char **argv);
int ctl_status(int argc, char **argv);
int ctl_import_reports(int argc, char **argv);
int ctl_import_rbldnsd(int argc, char **argv);

/* Review requests from the public page (ctl/reviews.c). */
int ctl_reviews(int argc, char **argv);

/* The mirrors the master knows, forgetting one, the audit log (ctl/mirrors.c). */
int ctl_mirrors(int argc, char **argv);
int ctl_audit(int argc, char **argv);

/* Times in text output (ctl/human.c). A duration: "42 s", "5 min 3 s",
 * "12 min", "23 h 59 min", "3 d 4 h" (the sign is ignored). */
char *ctl_human_duration(double s, char *buf, size_t n);
/* "2026-12-03 11:00 UTC" */
char *ctl_human_time(long long unix_s, char *buf, size_t n);
/* A point delta_s from now at unix_s: "in 23 h 59 min (2026-12-03 11:00
 * UTC)", "5 min 3 s ago (...)", "now (...)". */
char *ctl_human_when(double delta_s, long long unix_s, char *buf, size_t n);
/* ctl_human_when of an RFC 3339 UTC time against this host's clock (the
 * text itself when it is not one). */
char *ctl_human_at(const char *rfc3339, char *buf, size_t n);

/* The master API for subcommands outside ctl/api.c: open parses the common
 * options (-c CONF, --url, --token-file; NULL and a message on error, at
 * most 64 arguments), leaving the others in rest; call sends one request
 * and returns the HTTP status (-1: no answer); finish prints the answer
 * and maps the status to an exit code. */
#include "rd.h"
typedef struct ctl_api ctl_api_t;
ctl_api_t *ctl_api_open(int argc, char **argv, char **rest, int *nrest);
int ctl_api_call(const ctl_api_t *c, const char *method, const char *path, const char *body,
                 bl_buf_t *resp);
int ctl_api_finish(int status, bl_buf_t *resp);
/* Appends s percent-encoded for a URL path or query. */
void ctl_urlenc(bl_buf_t *b, const char *s);

#endif
