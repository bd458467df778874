/* SPDX-License-Identifier: MIT */
/* blsyncctl mirrors and audit: the mirrors the master knows, forgetting one, the audit log. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ctl.h"
#include "http.h"
#include "json.h"
#include "util.h"

/* Answers with one member per mirror or audit entry: the default bounds are for requests. */
static const master_json_limits_t big = {
    .max_depth = 8, .max_members = 10000000, .max_values = 100000000, .max_str = 65536};

static double num_of(const master_json_t *o, const char *k)
{
    const master_json_t *v = master_json_get(o, k);
    return v && v->type == MASTER_JSON_NUM ? v->num : 0;
}

static const char *str_of(const master_json_t *o, const char *k, const char *none)
{
    const master_json_t *v = master_json_get(o, k);
    return v && v->type == MASTER_JSON_STR ? v->str : none;
}

/* The answer of a request: 0 with doc parsed (and resp kept for --json),
 * else the exit code after saying why (3: no answer, 1: refused). */
static int answer(int st, bl_buf_t *resp, master_json_doc_t *doc, const char *cmd)
{
    if (st < 0) {
        bl_buf_close(resp);
        return CTL_EXIT_ERROR;
    }
    if (st < 200 || st >= 300)
        return ctl_api_finish(st, resp);
    char why[128];
    if (master_json_parse(resp->data, resp->len, &big, doc, why, sizeof why)) {
        fprintf(stderr, "blsyncctl %s: the master's answer is not JSON: %s\n", cmd, why);
        bl_buf_close(resp);
        return CTL_EXIT_ERROR;
    }
    return 0;
}

static const char mirrors_usage[] =
    "usage: blsyncctl mirrors [--json] [--feed NAME] [-c CONF | --url URL --token-file F]\n"
    "       blsyncctl mirrors forget NAME [--comment TEXT] [--json] [-c CONF | ...]\n"
    "  lists the mirrors the master knows (state up, stale, gone or revoked, serial, lag,\n"
    "  last contact); forget removes a retired or revoked mirror from status, metrics and\n"
    "  alerts (audited). Exit: 0 every mirror up (list) or forgotten, 1 some mirror not up\n"
    "  or forget refused, 2 usage, 3 no answer from the master.\n";

static int mirrors_list(ctl_api_t *a, int json)
{
    bl_buf_t resp;
    bl_buf_init(&resp);
    master_json_doc_t doc;
    int rc = answer(ctl_api_call(a, "GET", "/v1/mirrors", NULL, &resp), &resp, &doc, "mirrors");
    if (rc)
        return rc;
    const master_json_t *ms = master_json_get(doc.root, "mirrors");
    ms = ms && ms->type == MASTER_JSON_ARR ? ms : NULL;
    int behind = 0;
    for (const master_json_t *x = ms ? ms->child : NULL; x; x = x->next)
        behind |= strcmp(str_of(x, "state", ""), "up") != 0;
    if (json) {
        fputs((const char *)resp.data, stdout);
    } else if (!ms || !ms->n) {
        printf("no mirrors known (serial %.0f)\n", num_of(doc.root, "serial"));
    } else {
        static const char *const states[] = {"up", "stale", "gone", "revoked"};
        size_t count[4] = {0};
        char b1[48], b2[96], lag[64];
        printf("%-24s %-8s %10s %-22s %-16s %s\n", "MIRROR", "STATE", "SERIAL", "LAG", "KEY",
               "LAST CONTACT");
        for (const master_json_t *x = ms->child; x; x = x->next) {
            const char *state = str_of(x, "state", "?");
            for (size_t i = 0; i < 4; i++)
                count[i] += !strcmp(state, states[i]);
            double ls = num_of(x, "lag_serials");
            if (ls > 0)
                snprintf(lag, sizeof lag, "%.0f (%s)", ls,
                         ctl_human_duration(num_of(x, "lag_s"), b1, sizeof b1));
            else
                snprintf(lag, sizeof lag, "0");
            printf("%-24s %-8s %10.0f %-22s %-16s %s\n", str_of(x, "name", "?"), state,
                   num_of(x, "acked_serial"), lag, str_of(x, "key_id", "-"),
                   ctl_human_when(-num_of(x, "contact_age_s"),
                                  (long long)num_of(x, "last_contact_unix"), b2, sizeof b2));
        }
        printf("\n%zu mirrors: %zu up, %zu stale, %zu gone, %zu revoked (master serial %.0f)\n",
               ms->n, count[0], count[1], count[2], count[3], num_of(doc.root, "serial"));
        if (count[2] || count[3])
            printf("a retired or revoked mirror leaves status, metrics and alerts with: "
                   "blsyncctl mirrors forget NAME\n");
    }
    master_json_free(&doc);
    bl_buf_close(&resp);
    return behind;
}

static int mirrors_forget(ctl_api_t *a, const char *name, const char *comment, int json)
{
    bl_buf_t path, body, resp;
    bl_buf_init(&path);
    bl_buf_init(&body);
    bl_buf_init(&resp);
    master_json_printf(&path, "/v1/mirrors/");
    ctl_urlenc(&path, name);
    bl_buf_u8(&path, 0);
    master_json_printf(&body, "{\"actor\":");
    master_json_put_str(&body, getenv("USER") ? getenv("USER") : "blsyncctl");
    if (comment) {
        master_json_printf(&body, ",\"comment\":");
        master_json_put_str(&body, comment);
    }
    master_json_printf(&body, "}");
    bl_buf_u8(&body, 0);
    master_json_doc_t doc;
    int rc =
        answer(ctl_api_call(a, "DELETE", (const char *)path.data, (const char *)body.data, &resp),
               &resp, &doc, "mirrors forget");
    bl_buf_close(&path);
    bl_buf_close(&body);
    if (rc)
        return rc;
    if (json) {
        fputs((const char *)resp.data, stdout);
    } else {
        char when[96];
        double t = num_of(doc.root, "last_contact_unix");
        printf("forgot mirror %s (%s, serial %.0f, last contact %s): it is no longer in status, "
               "metrics or alerts\n",
               name, str_of(doc.root, "state", "?"), num_of(doc.root, "acked_serial"),
               ctl_human_when(t - bl_now_ms() / 1000.0, (long long)t, when, sizeof when));
    }
    master_json_free(&doc);
    bl_buf_close(&resp);
    return 0;
}

/* --help prints usage (*rc 0); else the API options are parsed (*rc 2 when
 * they are wrong). NULL when the command is done. */
static ctl_api_t *open_api(int argc, char **argv, const char *usage, char **rest, int *nrest,
                           int *rc)
{
    *rc = 0;
    if (ctl_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return NULL;
    }
    ctl_api_t *a = ctl_api_open(argc, argv, rest, nrest);
    *rc = a ? 0 : 2;
    return a;
}

int ctl_mirrors(int argc, char **argv)
{
    char *rest[64];
    int nrest, rc;
    ctl_api_t *a = open_api(argc, argv, mirrors_usage, rest, &nrest, &rc);
    if (!a)
        return rc;
    int json = 0, forget = 0;
    const char *name = NULL, *comment = NULL;
    const ctl_opt_t opts[] = {{"--json", NULL, &json}, {"--comment", &comment, NULL}, {NULL}};
    for (int i = 0; i < nrest; i++) {
        if (ctl_opt(opts, rest, nrest, &i))
            continue;
        if (i == 0 && !strcmp(rest[i], "forget"))
            forget = 1;
        else if (forget && !name && rest[i][0] != '-')
            name = rest[i];
        else {
            fprintf(stderr, "blsyncctl mirrors: unexpected argument '%s'\n%s", rest[i],
                    mirrors_usage);
            free(a);
            return 2;
        }
    }
    if (forget && !name) {
        fprintf(stderr, "blsyncctl mirrors forget: the mirror's NAME is missing\n%s",
                mirrors_usage);
        rc = 2;
    } else if (!forget && comment) {
        fprintf(stderr, "blsyncctl mirrors: --comment goes with forget\n%s", mirrors_usage);
        rc = 2;
    } else {
        rc = forget ? mirrors_forget(a, name, comment, json) : mirrors_list(a, json);
    }
    free(a);
    return rc;
}

static const char audit_usage[] =
    "usage: blsyncctl audit [--since TIME] [--ip ADDR] [--limit N] [--before ID] [--json]\n"
    "                       [--feed NAME] [-c CONF | --url URL --token-file F]\n"
    "  the master's audit log, oldest first: listings, removals, review requests and\n"
    "  answers, forgotten mirrors. TIME is RFC 3339 (2026-12-01T00:00:00Z), a date\n"
    "  (2026-12-01, UTC) or a duration ago (24h, 7d); ADDR keeps the entries about one\n"
    "  address. Exit: 0, 1 refused, 2 usage, 3 no answer from the master.\n";

/* TIME as Unix milliseconds: RFC 3339, a UTC date, or a duration before now. */
static int parse_since(const char *s, int64_t *ms)
{
    char buf[40];
    int64_t d;
    if (!master_parse_time(s, ms))
        return 0;
    if (strlen(s) == 10 && snprintf(buf, sizeof buf, "%sT00:00:00Z", s) > 0 &&
        !master_parse_time(buf, ms))
        return 0;
    if (!master_parse_duration(s, &d) && d >= 0) {
        *ms = bl_now_ms() - d;
        return 0;
    }
    return -1;
}

static void print_entry(const master_json_t *e)
{
    char t[40];
    const char *reason = str_of(e, "reason", ""), *detail = str_of(e, "detail", "");
    printf("%s  %-12s %-14s %-20s %s%s%s\n",
           ctl_human_time((long long)num_of(e, "time_unix"), t, sizeof t), str_of(e, "actor", "-"),
           str_of(e, "action", "?"), str_of(e, "target", "-"), reason,
           *reason && *detail ? "; " : "", detail);
}

int ctl_audit(int argc, char **argv)
{
    char *rest[64];
    int nrest, rc;
    ctl_api_t *a = open_api(argc, argv, audit_usage, rest, &nrest, &rc);
    if (!a)
        return rc;
    int json = 0;
    const char *since = NULL, *ip = NULL, *limit = NULL, *before = NULL;
    const ctl_opt_t opts[] = {{"--json", NULL, &json},     {"--since", &since, NULL},
                              {"--ip", &ip, NULL},         {"--limit", &limit, NULL},
                              {"--before", &before, NULL}, {NULL}};
    for (int i = 0; i < nrest; i++) {
        if (!ctl_opt(opts, rest, nrest, &i)) {
            fprintf(stderr, "blsyncctl audit: unexpected argument '%s'\n%s", rest[i], audit_usage);
            free(a);
            return 2;
        }
    }
    int64_t since_ms = 0;
    if (since && parse_since(since, &since_ms)) {
        fprintf(stderr,
                "blsyncctl audit: --since '%s' is not a time: use 2026-12-01T00:00:00Z, "
                "2026-12-01 or a duration ago (24h, 7d)\n",
                since);
        free(a);
        return 2;
    }
    bl_buf_t path, resp;
    bl_buf_init(&path);
    bl_buf_init(&resp);
    char t[40];
    master_json_printf(&path, "/v1/audit?limit=%s", limit ? limit : "1000");
    if (since)
        master_json_printf(&path, "&since=%s", master_format_time(since_ms, t, sizeof t));
    if (ip) {
        master_json_printf(&path, "&ip=");
        ctl_urlenc(&path, ip);
    }
    if (before) {
        master_json_printf(&path, "&before=");
        ctl_urlenc(&path, before);
    }
    bl_buf_u8(&path, 0);
    master_json_doc_t doc;
    rc = answer(ctl_api_call(a, "GET", (const char *)path.data, NULL, &resp), &resp, &doc, "audit");
    bl_buf_close(&path);
    free(a);
    if (rc)
        return rc;
    const master_json_t *es = master_json_get(doc.root, "entries"),
                        *next = master_json_get(doc.root, "next");
    if (json) {
        fputs((const char *)resp.data, stdout);
    } else if (es && es->type == MASTER_JSON_ARR) {
        /* The master answers newest first; a log reads oldest first. */
        const master_json_t **v = calloc(es->n ? es->n : 1, sizeof *v);
        size_t n = 0;
        for (const master_json_t *e = es->child; v && e; e = e->next)
            v[n++] = e;
        if (!n)
            printf("no audit entries%s\n", since || ip ? " match" : "");
        while (n)
            print_entry(v[--n]);
        free(v);
        if (next && next->type == MASTER_JSON_NUM)
            fprintf(stderr, "(older entries: --before %.0f)\n", next->num);
    }
    master_json_free(&doc);
    bl_buf_close(&resp);
    return 0;
}
