/* SPDX-License-Identifier: MIT */
/* blsyncctl reviews: list, show and answer the review requests filed on the public page. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "json.h"

static const char *usage =
    "usage: blsyncctl reviews list [--state open|all|new|waiting-for-information|accepted|"
    "rejected|answered-with-policy] [--json]\n"
    "       blsyncctl reviews show ID [--json]\n"
    "       blsyncctl reviews accept|reject|ask ID --note TEXT [--json]\n"
    "  accept on a listing review removes the listing; on a challenge it discounts the report\n"
    "  and re-evaluates the listing. The note is the answer (or question) the requester reads.\n"
    "  (with -c CONF, or --url http://HOST:PORT and --token-file F; --feed NAME: that feed)\n";

static const char *str_of(const master_json_t *o, const char *k)
{
    const master_json_t *v = master_json_get(o, k);
    return v && v->type == MASTER_JSON_STR ? v->str : "";
}

/* One line per request: what an operator scans the queue by. */
static void print_row(const master_json_t *r)
{
    const master_json_t *id = master_json_get(r, "id");
    char h[96];
    printf("%-6.0f %-24s %-16s %-18s %-36s %s\n", id ? id->num : 0, str_of(r, "state"),
           str_of(r, "category"), str_of(r, "ip"), ctl_human_at(str_of(r, "filed_at"), h, sizeof h),
           str_of(r, "email"));
}

static void print_full(const master_json_t *r)
{
    static const char *const keys[] = {
        "state",         "category", "ip",       "listing",      "filed_at", "updated_at",
        "email",         "name",     "title",    "relationship", "subject",  "reason",
        "documentation", "url",      "operator", "answer",       NULL};
    const master_json_t *id = master_json_get(r, "id"), *rid = master_json_get(r, "report_id");
    printf("request %.0f\n", id ? id->num : 0);
    if (rid && rid->type == MASTER_JSON_NUM)
        printf("  %-13s %.0f\n", "report_id:", rid->num);
    for (int i = 0; keys[i]; i++) {
        const char *v = str_of(r, keys[i]);
        char h[96];
        if (!strcmp(keys[i], "filed_at") || !strcmp(keys[i], "updated_at"))
            v = *v ? ctl_human_at(v, h, sizeof h) : v;
        if (*v)
            printf("  %s:%*s %s\n", keys[i], (int)(13 - strlen(keys[i])), "", v);
    }
}

static int show(int st, bl_buf_t *resp, int json, int list)
{
    if (json || st != 200)
        return ctl_api_finish(st, resp);
    master_json_doc_t doc;
    char why[128];
    const master_json_limits_t lim = {
        .max_depth = 8, .max_members = 100000, .max_values = 10000000, .max_str = 65536};
    if (master_json_parse(resp->data, resp->len, &lim, &doc, why, sizeof why)) {
        fprintf(stderr, "reviews: bad response: %s\n", why);
        bl_buf_close(resp);
        return 1;
    }
    if (list) {
        const master_json_t *a = master_json_get(doc.root, "reviews");
        printf("%-6s %-24s %-16s %-18s %-36s %s\n", "ID", "STATE", "CATEGORY", "IP", "FILED",
               "FROM");
        for (const master_json_t *r = a ? a->child : NULL; r; r = r->next)
            print_row(r);
    } else {
        print_full(master_json_get(doc.root, "review"));
        const char *eff = str_of(doc.root, "effect");
        if (*eff)
            printf("effect: %s\n", eff);
    }
    master_json_free(&doc);
    bl_buf_close(resp);
    return 0;
}

int ctl_reviews(int argc, char **argv)
{
    char *rest[64];
    int nrest;
    ctl_api_t *a = ctl_api_open(argc, argv, rest, &nrest);
    if (!a)
        return 2;
    const char *op = nrest ? rest[0] : NULL, *id = NULL, *note = NULL, *state = "open";
    int json = 0;
    const ctl_opt_t opts[] = {
        {"--note", &note, NULL}, {"--state", &state, NULL}, {"--json", NULL, &json}, {NULL}};
    for (int i = 1; i < nrest; i++) {
        if (ctl_opt(opts, rest, nrest, &i))
            continue;
        if (!id && strspn(rest[i], "0123456789") == strlen(rest[i]) && *rest[i])
            id = rest[i];
        else {
            fprintf(stderr, "reviews: unexpected argument '%s'\n%s", rest[i], usage);
            free(a);
            return 2;
        }
    }
    bl_buf_t path, body, resp;
    bl_buf_init(&path);
    bl_buf_init(&body);
    bl_buf_init(&resp);
    int rc = 2, act = op && (!strcmp(op, "accept") || !strcmp(op, "reject") || !strcmp(op, "ask"));
    if (op && !strcmp(op, "list")) {
        master_json_printf(&path, "/v1/reviews?state=%s", state);
        bl_buf_u8(&path, 0);
        rc = show(ctl_api_call(a, "GET", (const char *)path.data, NULL, &resp), &resp, json, 1);
    } else if (op && !strcmp(op, "show") && id) {
        master_json_printf(&path, "/v1/reviews/%s", id);
        bl_buf_u8(&path, 0);
        rc = show(ctl_api_call(a, "GET", (const char *)path.data, NULL, &resp), &resp, json, 0);
    } else if (act && id && note) {
        master_json_printf(&path, "/v1/reviews/%s", id);
        bl_buf_u8(&path, 0);
        master_json_printf(&body, "{\"action\":");
        master_json_put_str(&body, op);
        master_json_printf(&body, ",\"note\":");
        master_json_put_str(&body, note);
        master_json_printf(&body, ",\"actor\":");
        master_json_put_str(&body, getenv("USER") ? getenv("USER") : "blsyncctl");
        master_json_printf(&body, "}");
        bl_buf_u8(&body, 0);
        rc = show(ctl_api_call(a, "POST", (const char *)path.data, (const char *)body.data, &resp),
                  &resp, json, 0);
    } else {
        fputs(act && id && !note ? "reviews: --note is required: it is the answer the requester "
                                   "reads\n"
                                 : "",
              stderr);
        fputs(usage, stderr);
        bl_buf_close(&resp);
    }
    bl_buf_close(&path);
    bl_buf_close(&body);
    free(a);
    return rc;
}
