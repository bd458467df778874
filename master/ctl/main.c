/* SPDX-License-Identifier: MIT */
/* blsyncctl: the control tool; dispatches to one subcommand per module. */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "json.h"
#include "version.h"

static const ctl_cmd_t cmds[] = {
    {"report", ctl_report,
     "report IP user|spamtrap [--time T] [--evidence ID] [--json] [-c CONF]   send a spam report "
     "to the master"},
    {"list", ctl_list,
     "list add|remove|show PREFIX [--reason R] [--json] [-c CONF]   operator listings on the "
     "master"},
    {"lookup", ctl_lookup, "lookup IP [--json] [-c CONF]   listed?, since when, time to delisting"},
    {"status", ctl_status,
     "status [--json] [-c CONF]   mirrors (up/stale/gone/revoked, lag), the oldest delisting "
     "propagating"},
    {"mirrors", ctl_mirrors,
     "mirrors [forget NAME [--comment TEXT]] [--json] [-c CONF]   the mirrors the master knows "
     "(up/stale/gone/revoked); forget a retired one"},
    {"audit", ctl_audit,
     "audit [--since TIME] [--ip ADDR] [--limit N] [--json] [-c CONF]   the master's audit log"},
    {"reviews", ctl_reviews,
     "reviews list|show|accept|reject|ask [ID] [--note TEXT] [--json]   review requests"},
    {"import-reports", ctl_import_reports,
     "import-reports FILE (-c CONF | --db DB) [--json]   load JSON-lines reports into the store"},
    {"import-rbldnsd", ctl_import_rbldnsd,
     "import-rbldnsd FILE (-c CONF | --db DB) [--type KIND] [--a N] [--replace] [--strict] "
     "[--json]   load an rbldnsd data file as listings"},
    {"certs", ctl_certs,
     "certs --dir DIR [--master-name NAME] [--mirror NAME...] [--json]   create a CA and TLS "
     "certificates"},
    {"keygen", ctl_keygen,
     "keygen [--out DIR] [--name NAME] [--json]   write NAME.key (private) and NAME.pub (NAME: "
     "master)"},
    {"token", ctl_token,
     "token --out FILE [--json]   write a random API token ([http] token_file)"},
    {"verify", ctl_verify,
     "verify FILE --key PUB [--key PUB2...] [--json]   check a delta/snapshot/key certificate, "
     "print its header (and the key a certificate certifies)"},
    {"keycert", ctl_keycert,
     "keycert --old-key OLD.key --new-key NEW.pub --out FILE [--feed F] [--valid SECONDS] "
     "[--json]   "
     "sign a new signing key with the current one (key rotation)"},
    {"dump", ctl_dump, "dump FILE [--key PUB] [--json]   print the entries of a delta/snapshot"},
    {"mkdelta", ctl_mkdelta,
     "mkdelta --key PRIV --out FILE [--feed F] [--serial N] [--snapshot] "
     "[+PREFIX[=A[,REASON]]|-PREFIX...] [--json]   "
     "write a signed object (demo/testing)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: blsyncctl COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        fprintf(f, "  %s\n", cmds[i].usage);
}

/* The commands that print a longer --help of their own. */
static int own_help(const char *name)
{
    return !strcmp(name, "keygen") || !strcmp(name, "token") || !strcmp(name, "certs") ||
           !strcmp(name, "mirrors") || !strcmp(name, "audit");
}

int ctl_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return 1;
    return 0;
}

int ctl_opt(const ctl_opt_t *opts, char **rest, int nrest, int *i)
{
    for (const ctl_opt_t *o = opts; o->name; o++) {
        if (strcmp(rest[*i], o->name))
            continue;
        if (o->flag) {
            *o->flag = 1;
            return 1;
        }
        if (*i + 1 >= nrest)
            return 0;
        *o->val = rest[++*i];
        return 1;
    }
    return 0;
}

void ctl_json_key(bl_buf_t *b, const char *key)
{
    char last = b->len ? (char)b->data[b->len - 1] : '{';
    master_json_printf(b, "%s", last == '{' || last == '[' ? "" : ",");
    master_json_put_str(b, key);
    master_json_printf(b, ":");
}

void ctl_json_str(bl_buf_t *b, const char *key, const char *val)
{
    ctl_json_key(b, key);
    if (val)
        master_json_put_str(b, val);
    else
        master_json_printf(b, "null");
}

void ctl_json_int(bl_buf_t *b, const char *key, long long val)
{
    ctl_json_key(b, key);
    master_json_printf(b, "%lld", val);
}

void ctl_json_bool(bl_buf_t *b, const char *key, int val)
{
    ctl_json_key(b, key);
    master_json_printf(b, "%s", val ? "true" : "false");
}

void ctl_json_flush(bl_buf_t *b)
{
    if (b->len)
        fwrite(b->data, 1, b->len, stdout);
    b->len = 0;
}

void ctl_json_begin(bl_buf_t *b)
{
    bl_buf_init(b);
    master_json_printf(b, "{");
}

void ctl_json_end(bl_buf_t *b)
{
    master_json_printf(b, "}\n");
    ctl_json_flush(b);
    bl_buf_close(b);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("blsyncctl " BLSYNC_VERSION "\n");
        return 0;
    }
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(argv[1], cmds[i].name)) {
            if (ctl_wants_help(argc - 1, argv + 1)) {
                /* Help is printed here, before the command connects anywhere. */
                char *help[] = {argv[1], "--help", NULL};
                if (own_help(cmds[i].name))
                    return cmds[i].run(2, help);
                printf("usage: blsyncctl %s\n(exit codes and --json output: blsyncctl(1))\n",
                       cmds[i].usage);
                return 0;
            }
            return cmds[i].run(argc - 1, argv + 1);
        }
    fprintf(stderr, "blsyncctl: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
