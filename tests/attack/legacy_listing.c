/* SPDX-License-Identifier: MIT */
/* Writes listings the way a master without the address rules could have: straight into a store. */
#include <stdio.h>

#include "err.h"
#include "policy.h"
#include "store.h"
#include "util.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s DB PREFIX...\n", argv[0]);
        return 2;
    }
    master_policy_t p;
    master_policy_defaults(&p);
    master_store_t *s;
    int rc = master_store_open(argv[1], "main", 0, &s);
    if (rc) {
        fprintf(stderr, "%s: %s\n", argv[1], bl_strerror(rc));
        return 1;
    }
    rc = master_store_begin(s);
    for (int i = 2; i < argc && !rc; i++) {
        bl_prefix_t k;
        const char *why;
        if ((rc = bl_prefix_parse(argv[i], &k)))
            fprintf(stderr, "%s: %s\n", argv[i], bl_strerror(rc));
        else
            rc = master_policy_add(s, &p, &k, MASTER_KIND_MANUAL, 0, -1, 0, "legacy", NULL,
                                   bl_now_ms(), &why);
    }
    rc = rc ? (master_store_rollback(s), rc) : master_store_commit(s);
    master_store_close(s);
    if (rc)
        fprintf(stderr, "legacy listing: %s\n", bl_strerror(rc));
    return rc ? 1 : 0;
}
