/* SPDX-License-Identifier: MIT */
/* Fuzz target: the rbldnsd data file parser; the first byte picks the dataset type. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/entry.h"
#include "proto/rbldnsd_data.h"

static int rec(void *ctx, const bl_rbldnsd_rec_t *r)
{
    (void)ctx;
    if (bl_prefix_check(&r->key) != 0 || r->a4 == 0)
        abort(); /* every delivered prefix is canonical, every A value a listing */
    if (r->txt && strlen(r->txt) > 1024)
        abort();
    return 0;
}

static int skip(void *ctx, unsigned line, const char *msg)
{
    (void)ctx;
    (void)line;
    return msg == NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
    if (len < 1)
        return 0;
    /* half the inputs skip bad lines (the mirror's way), half stop at the first */
    bl_rbldnsd_meta_t m;
    memset(&m, 0, sizeof m);
    bl_rbldnsd_sink_t s = {NULL, rec, (buf[0] & 8) ? skip : NULL, &m};
    unsigned line;
    const char *msg;
    bl_rbldnsd_parse((const char *)buf + 1, len - 1, buf[0] % 5, &s, &line, &msg);
    return 0;
}
