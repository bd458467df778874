/* SPDX-License-Identifier: MIT */
/* Fuzz target: every configuration value parser on one untrusted value, and the same bytes as a
 * configuration file of each daemon: what loads prints and loads back to the same. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "master/config.h"
#include "mirror/config.h"
#include "runtime/conf_schema.h"
#include "runtime/config_util.h"

static void values(const char *s)
{
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
    uint64_t u, u2;
    if (bl_cfg_size(s, &u, &why) == 0) {
        char buf[BL_CFG_SIZESTRLEN];
        if (bl_cfg_size(bl_cfg_size_format(u, buf, sizeof buf), &u2, &why) || u2 != u)
            abort();
    }
    if (bl_cfg_uint(s, 0, 65535, &u, &why) == 0 && u > 65535)
        abort();
    double d, d2;
    if (bl_cfg_number(s, &d, &why) == 0) {
        char buf[BL_CFG_NUMSTRLEN];
        if (d < 0 || bl_cfg_number(bl_cfg_number_format(d, buf, sizeof buf), &d2, &why) || d2 != d)
            abort();
    }
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
}

static char *print(const bl_conf_schema_t *s, const void *conf)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f || bl_conf_print(s, conf, f, 0))
        abort();
    fclose(f);
    return buf;
}

static int load(const bl_conf_schema_t *s, void *conf, const void *data, size_t size)
{
    bl_cfg_err_t e;
    FILE *f = fmemopen((void *)data, size, "r");
    if (!f)
        abort();
    int rc = bl_conf_load_file(s, conf, f, "fuzz", &e);
    fclose(f);
    if (rc && !strstr(e.msg, "fuzz:"))
        abort(); /* every refusal names the file */
    return rc;
}

/* a and b are zeroed configurations of s; init applies the daemon's defaults. */
static void roundtrip(const bl_conf_schema_t *s, void *a, void *b, void (*init)(void *),
                      const uint8_t *data, size_t size)
{
    init(a);
    if (!load(s, a, data, size)) {
        char *p1 = print(s, a);
        init(b);
        if (load(s, b, p1, strlen(p1)))
            abort(); /* --print-config wrote a file that does not load */
        char *p2 = print(s, b);
        /* A secret prints as set ("#key = (set; ...)") but does not come back. */
        for (char *l = p1; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
            char *hidden = strstr(l, BL_CONF_HIDDEN "\n");
            if (*l == '#' && hidden && hidden < strchr(l, '\n'))
                memmove(hidden, hidden + strlen(BL_CONF_HIDDEN),
                        strlen(hidden + strlen(BL_CONF_HIDDEN)) + 1);
        }
        if (strcmp(p1, p2))
            abort(); /* ... or that loads to another configuration */
        free(p1);
        free(p2);
        bl_conf_free(s, b);
    }
    bl_conf_free(s, a);
}

static void master_init(void *c)
{
    master_config_defaults(c);
}

static void mirror_init(void *c)
{
    mirror_config_init(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static master_config_t ma, mb;
    static mirror_config_t ya, yb;
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = 0;
    values(s);
    free(s);
    if (size) {
        roundtrip(&master_conf_schema, &ma, &mb, master_init, data, size);
        roundtrip(&mirror_conf_schema, &ya, &yb, mirror_init, data, size);
    }
    return 0;
}
