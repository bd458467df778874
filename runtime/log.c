/* SPDX-License-Identifier: MIT */
/* key=value event logging to stderr or syslog, one line per event. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

static const char *log_prog = "blsync";
static int log_level = BL_LOG_INFO;
static int log_syslog;

void bl_log_init(const char *prog, int level, int use_syslog)
{
    log_prog = prog;
    log_level = level;
    log_syslog = use_syslog;
    if (use_syslog)
        openlog(prog, LOG_PID, LOG_DAEMON);
}

void bl_log_set_level(int level)
{
    log_level = level;
}

static const char *level_name(int level)
{
    switch (level) {
    case BL_LOG_ERR:
        return "err";
    case BL_LOG_WARN:
        return "warn";
    case BL_LOG_INFO:
        return "info";
    default:
        return "debug";
    }
}

int bl_log_level_parse(const char *s)
{
    static const int levels[] = {BL_LOG_ERR, BL_LOG_WARN, BL_LOG_INFO, BL_LOG_DEBUG};
    for (unsigned i = 0; i < 4; i++)
        if (!strcmp(s, level_name(levels[i])))
            return levels[i];
    if (!strcmp(s, "error"))
        return BL_LOG_ERR;
    if (!strcmp(s, "warning"))
        return BL_LOG_WARN;
    return -1;
}

void bl_log(int level, const char *event, const char *fmt, ...)
{
    if (level > log_level)
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* One write per line so lines from threads never interleave. */
    if (log_syslog) {
        syslog(level, "level=%s event=%s%s%s", level_name(level), event, *msg ? " " : "", msg);
        return;
    }
    char ts[40];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t l = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + l, sizeof ts - l, ".%03ldZ", now.tv_nsec / 1000000);
    char line[2304];
    int n = snprintf(line, sizeof line, "ts=%s prog=%s level=%s event=%s%s%s\n", ts, log_prog,
                     level_name(level), event, *msg ? " " : "", msg);
    if (n > (int)sizeof line - 1)
        n = (int)sizeof line - 1, line[n - 1] = '\n';
    fwrite(line, 1, (size_t)n, stderr);
}

const char *bl_log_q(const char *s)
{
    static __thread char buf[4][512];
    static __thread unsigned slot;
    char *out = buf[slot++ % 4];
    size_t o = 0;
    int need = !*s;
    for (const char *p = s; *p; p++)
        if (*p == ' ' || *p == '"' || *p == '=' || (unsigned char)*p < 0x20)
            need = 1;
    if (!need) {
        snprintf(out, 512, "%s", s);
        return out;
    }
    out[o++] = '"';
    for (const char *p = s; *p && o < 505; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(out + o, 512 - o, "\\x%02x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o++] = '"';
    out[o] = 0;
    return out;
}
