/* SPDX-License-Identifier: MIT */
/* One line per event, key=value, to stderr (journald) or syslog. */
#ifndef BL_LOG_H
#define BL_LOG_H

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
/* Quotes s for a key=value line into buf (thread-local storage if buf is NULL). */
const char *bl_log_q(const char *s);

#define BL_ERR(ev, ...)   bl_log(BL_LOG_ERR, ev, __VA_ARGS__)
#define BL_WARN(ev, ...)  bl_log(BL_LOG_WARN, ev, __VA_ARGS__)
#define BL_INFO(ev, ...)  bl_log(BL_LOG_INFO, ev, __VA_ARGS__)
#define BL_DEBUG(ev, ...) bl_log(BL_LOG_DEBUG, ev, __VA_ARGS__)

#endif
