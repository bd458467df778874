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
    if (bl_prefix_check(&r->key) != 0 || r->a == 0)
        abort(); /* every delivered prefix is canonical, every A value a listing */
    if (r->txt && strlen(r->txt) > 1024)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
    if (len < 1)
        return 0;
    bl_rbldnsd_sink_t s = {NULL, rec};
    unsigned line;
    const char *msg;
    bl_rbldnsd_parse((const char *)buf + 1, len - 1, buf[0] % 5, &s, &line, &msg);
    return 0;
}
