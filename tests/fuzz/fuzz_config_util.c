/* SPDX-License-Identifier: MIT */
/* Fuzz target: every configuration value parser on one untrusted, NUL-terminated value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/config_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = 0;
    const char *why = NULL;
    int64_t ms;
    if (bl_cfg_duration(s, &ms, &why) == 0) {
        /* Accepted durations are never negative and format back to the same value. */
        char buf[BL_CFG_DURSTRLEN];
        int64_t back;
        if (ms < 0 || bl_cfg_duration(bl_cfg_duration_format(ms, buf, sizeof buf), &back, &why) ||
            back != ms)
            abort();
    }
    uint64_t u;
    bl_cfg_size(s, &u, &why);
    bl_cfg_uint(s, 0, 65535, &u, &why);
    int b;
    bl_cfg_bool(s, &b, &why);
    struct sockaddr_storage ss;
    socklen_t len;
    if (bl_cfg_listen(s, 53, &ss, &len, &why) == 0) {
        /* What was accepted formats and parses back to the same address. */
        char buf[BL_CFG_ADDRSTRLEN];
        struct sockaddr_storage ss2;
        socklen_t len2;
        bl_cfg_addr_format((struct sockaddr *)&ss, buf, sizeof buf);
        if (bl_cfg_listen(buf, -1, &ss2, &len2, &why) != 0 || len2 != len ||
            memcmp(&ss, &ss2, len) != 0)
            abort();
    }
    free(s);
    return 0;
}
