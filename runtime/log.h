/* SPDX-License-Identifier: MIT */
/* One line per event, key=value, to stderr (journald) or syslog, with floods summarised. */
#ifndef BL_LOG_H
#define BL_LOG_H

#include <stdint.h>

enum { BL_LOG_ERR = 3, BL_LOG_WARN = 4, BL_LOG_INFO = 6, BL_LOG_DEBUG = 7 };

/* Sets the program name, minimum level and whether to use syslog. */
void bl_log_init(const char *prog, int level, int use_syslog);
void bl_log_set_level(int level);
/* Parses "err", "warn", "info", "debug"; -1 if unknown. */
int bl_log_level_parse(const char *s);
/* Logs "level=L event=EVENT <fmt...>". fmt carries further key=value pairs;
 * values that may hold spaces should go through bl_log_q. */
void bl_log(int level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Quotes s for a key=value line, in thread-local storage (the last four results stay valid). */
const char *bl_log_q(const char *s);

/*
 * Flood limit. Err, warn and debug lines are what hostile or broken peers
 * cause, so each event kind (the event name) writes at most burst of them
 * per window; the rest are counted, and once the window has ended the next
 * log line of any kind is preceded by one summary line per flooded kind:
 *   level=warn event=log_suppressed kind=EVENT suppressed=N window_s=10
 * Info lines narrate the daemon's own work (publishes, applies, mirrors up
 * and down) and are never suppressed. The default is 20 lines per 10 s;
 * burst 0 turns the limit off.
 */
#define BL_LOG_BURST     20
#define BL_LOG_WINDOW_MS 10000
void bl_log_set_limit(unsigned burst, unsigned window_ms);
/* Writes the summaries of windows that have ended now, without a log line. */
void bl_log_flush_suppressed(void);

/* Event kinds are tracked up to BL_LOG_KINDS names; later names count as "other". */
#define BL_LOG_KINDS 256
/* Calls fn for every event kind seen so far (in first-seen order): the
 * lines at or above the level (written or not) and those suppressed. fn
 * runs under the logger's lock: it must not log. */
void bl_log_each_kind(void (*fn)(void *arg, const char *event, uint64_t logged,
                                 uint64_t suppressed),
                      void *arg);

#define BL_ERR(ev, ...)   bl_log(BL_LOG_ERR, ev, __VA_ARGS__)
#define BL_WARN(ev, ...)  bl_log(BL_LOG_WARN, ev, __VA_ARGS__)
#define BL_INFO(ev, ...)  bl_log(BL_LOG_INFO, ev, __VA_ARGS__)
#define BL_DEBUG(ev, ...) bl_log(BL_LOG_DEBUG, ev, __VA_ARGS__)

#endif
