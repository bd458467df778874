/* SPDX-License-Identifier: MIT */
/* key=value event logging to stderr or syslog, one line per event, floods summarised per kind. */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
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

/* ---- flood limit ---- */

typedef struct {
    char name[48];
    uint64_t logged, suppressed;
    uint64_t window_start_ms;
    unsigned in_window; /* limited lines written in the current window */
    uint64_t pending;   /* suppressed in the current window, not yet summarised */
} kind_t;

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static kind_t kinds[BL_LOG_KINDS];
static size_t nkinds;
static uint16_t slots[2 * BL_LOG_KINDS]; /* index + 1 into kinds, by name hash */
static unsigned limit_burst = BL_LOG_BURST, limit_window_ms = BL_LOG_WINDOW_MS;
static uint64_t next_sweep_ms = UINT64_MAX; /* earliest end of a window with pending lines */

static uint64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* The kind of event (lock held): found by name, added, or the last slot ("other") when full. */
static kind_t *kind_of(const char *event)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)event; *p; p++)
        h = (h ^ *p) * 16777619u;
    for (size_t i = 0;; i++) {
        uint16_t *slot = &slots[(h + i) % (2 * BL_LOG_KINDS)];
        if (*slot) {
            kind_t *k = &kinds[*slot - 1];
            if (!strncmp(k->name, event, sizeof k->name - 1))
                return k;
            continue;
        }
        if (nkinds == BL_LOG_KINDS - 1) {
            kind_t *other = &kinds[BL_LOG_KINDS - 1];
            if (!other->name[0])
                snprintf(other->name, sizeof other->name, "other");
            return other;
        }
        *slot = (uint16_t)(nkinds + 1);
        kind_t *k = &kinds[nkinds++];
        snprintf(k->name, sizeof k->name, "%s", event);
        return k;
    }
}

static void write_line(int level, const char *event, const char *msg)
{
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

/* Summarises every window that has ended by now (lock held). */
static void sweep(uint64_t now)
{
    if (now < next_sweep_ms)
        return;
    next_sweep_ms = UINT64_MAX;
    for (size_t i = 0; i < BL_LOG_KINDS; i++) {
        kind_t *k = &kinds[i];
        if (!k->pending)
            continue;
        uint64_t end = k->window_start_ms + limit_window_ms;
        if (now < end) {
            if (end < next_sweep_ms)
                next_sweep_ms = end;
            continue;
        }
        char msg[160];
        snprintf(msg, sizeof msg, "kind=%.47s suppressed=%llu window_s=%g", k->name,
                 (unsigned long long)k->pending, limit_window_ms / 1000.0);
        write_line(BL_LOG_WARN, "log_suppressed", msg);
        k->pending = 0;
    }
}

/* Whether a line of kind k at level may be written now (lock held). */
static int admit(kind_t *k, int level, uint64_t now)
{
    k->logged++;
    if (level == BL_LOG_INFO || !limit_burst)
        return 1;
    if (now - k->window_start_ms >= limit_window_ms || !k->window_start_ms) {
        k->window_start_ms = now ? now : 1;
        k->in_window = 0;
    }
    if (k->in_window < limit_burst) {
        k->in_window++;
        return 1;
    }
    k->suppressed++;
    k->pending++;
    uint64_t end = k->window_start_ms + limit_window_ms;
    if (end < next_sweep_ms)
        next_sweep_ms = end;
    return 0;
}

void bl_log_set_limit(unsigned burst, unsigned window_ms)
{
    pthread_mutex_lock(&log_mu);
    limit_burst = burst;
    limit_window_ms = window_ms ? window_ms : BL_LOG_WINDOW_MS;
    pthread_mutex_unlock(&log_mu);
}

void bl_log_flush_suppressed(void)
{
    pthread_mutex_lock(&log_mu);
    sweep(mono_ms());
    pthread_mutex_unlock(&log_mu);
}

void bl_log_each_kind(void (*fn)(void *arg, const char *event, uint64_t logged,
                                 uint64_t suppressed),
                      void *arg)
{
    pthread_mutex_lock(&log_mu);
    for (size_t i = 0; i < BL_LOG_KINDS; i++)
        if (kinds[i].name[0])
            fn(arg, kinds[i].name, kinds[i].logged, kinds[i].suppressed);
    pthread_mutex_unlock(&log_mu);
}

void bl_log(int level, const char *event, const char *fmt, ...)
{
    if (level > log_level)
        return;
    uint64_t now = mono_ms();
    pthread_mutex_lock(&log_mu);
    sweep(now);
    if (!admit(kind_of(event), level, now)) {
        pthread_mutex_unlock(&log_mu);
        return;
    }
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    write_line(level, event, msg);
    pthread_mutex_unlock(&log_mu);
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
