/* SPDX-License-Identifier: MIT */
/* Shared configuration value parsers (durations, sizes, booleans, listen addresses) and file:line
 * errors. */
#ifndef BL_CONFIG_UTIL_H
#define BL_CONFIG_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * The parsers take one untrusted value string (as inih hands it over, already
 * trimmed), do no I/O and no name resolution, and return 0 or BL_ECONFIG with
 * *why pointing at a static, human-readable problem ("unknown unit 'x'").
 * The caller knows the file, line and key, and formats the message once with
 * bl_cfg_errorf.
 */

/* Durations: one or more NUMBER UNIT terms with units ms, s, m, h, d, w
 * (lower case): "30s", "4h", "1h30m", "250ms", "2d", "1w"; a bare number is
 * seconds. Stored in milliseconds, at most about 292 years. */
int bl_cfg_duration(const char *s, int64_t *ms, const char **why);
/* Sizes: "4096", "64k", "64KiB", "16M", "1G" (k/M/G/T are powers of 1024;
 * "kB"/"MB"/... are powers of 1000). */
int bl_cfg_size(const char *s, uint64_t *bytes, const char **why);
/* Booleans: yes/no, true/false, on/off, 1/0 (any case). */
int bl_cfg_bool(const char *s, int *v, const char **why);
/* An unsigned decimal within [min, max]; no sign, no suffix ("2s" is refused). */
int bl_cfg_uint(const char *s, uint64_t min, uint64_t max, uint64_t *v, const char **why);
/* A non-negative decimal number: "2", "0.5", "12.25" (no sign, no exponent,
 * at most BL_CFG_NUMBER_DECIMALS digits after the point). */
#define BL_CFG_NUMBER_DECIMALS 9
int bl_cfg_number(const char *s, double *v, const char **why);
/* Writes the shortest text bl_cfg_number reads back as v (v as parsed by it). */
#define BL_CFG_NUMSTRLEN 40
char *bl_cfg_number_format(double v, char *buf, size_t n);
/* Writes a size the way bl_cfg_size reads it: "4M", "64K", "1000" (the
 * largest power-of-1024 unit that divides it). */
#define BL_CFG_SIZESTRLEN 24
char *bl_cfg_size_format(uint64_t bytes, char *buf, size_t n);

/* A listen address: "127.0.0.1:5353", "[::1]:53", "0.0.0.0:53", "[::]:53",
 * or an address alone ("127.0.0.1", "::1") which takes default_port (a
 * missing port is an error if default_port < 0). Port 0 asks for any free
 * port. Fills *ss and *len. */
int bl_cfg_listen(const char *s, int default_port, struct sockaddr_storage *ss, socklen_t *len,
                  const char **why);
/* Writes "127.0.0.1:53" or "[::1]:53" into buf (at least BL_CFG_ADDRSTRLEN bytes). */
#define BL_CFG_ADDRSTRLEN 56
char *bl_cfg_addr_format(const struct sockaddr *sa, char *buf, size_t n);

/* Writes a duration the way bl_cfg_duration reads it ("4h", "1h30m",
 * "250ms", "0s"); needs at most BL_CFG_DURSTRLEN bytes. Negative values get a '-'. */
#define BL_CFG_DURSTRLEN 48
char *bl_cfg_duration_format(int64_t ms, char *buf, size_t n);

/* The start-up and reload check of the propagation window: a delisting
 * must reach every mirror and then outlive the TTL of positive answers
 * within the window.
 * Returns 0 when ttl + expected propagation fit window, or 1 and a message
 * for a warning ("ttl 3h plus expected propagation 2h is 5h, more than the
 * 4h propagation window") into msg. */
int bl_cfg_window_check(int64_t window_ms, int64_t ttl_ms, int64_t expected_ms, char *msg,
                        size_t n);

/* How long a mirror may go without being current (without holding what a
 * recent heartbeat of its master announced) and still answer positively
 * while keeping the window: window - ttl - expected propagation. A
 * delisting decided just after the mirror was last current must leave the
 * mirror's answers (frozen, if nothing else) and the resolvers' caches
 * (ttl) within the window; expected propagation is the margin for
 * publishing, transit and clock skew. 0 or less when the settings leave no
 * budget at all. */
int64_t bl_cfg_freeze_budget(int64_t window_ms, int64_t ttl_ms, int64_t expected_ms);

/* A configuration error message: "FILE:LINE: PROBLEM". */
typedef struct {
    char msg[512];
} bl_cfg_err_t;
/* Formats "file:line: " and fmt into e (line 0 omits the line number, file
 * NULL the whole prefix: a command-line value) and returns BL_ECONFIG, so
 * that a parser can `return bl_cfg_errorf(...)`. */
int bl_cfg_errorf(bl_cfg_err_t *e, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
