/* SPDX-License-Identifier: MIT */
/* The spool's HTTP layout (FEED/head, FEED/by-hash/) served by the master's own listener. */
#ifndef MASTER_SPOOL_HTTP_H
#define MASTER_SPOOL_HTTP_H

#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

#include "master_metrics.h"

/* The URL prefix of the layout: a mirror's [sync] upstream is
 * http(s)://HOST:PORT/spool, and it asks for /spool/FEED/head and
 * /spool/FEED/by-hash/HEX.EXT. */
#define MASTER_SPOOL_PREFIX "/spool/"

/* What a request for url names in the spool directory dir (SPOOL/FEED) of
 * feed: 1 the head, 2 a by-hash object (its file name in name, n >= 80),
 * 0 nothing this layout serves. Only the exact names the publisher writes
 * pass: "/spool/FEED/head" and "/spool/FEED/by-hash/" followed by 64
 * lowercase hex digits and ".delta", ".snap" or ".keycert". */
int master_spool_http_name(const char *url, const char *feed, char *name, size_t n);

/* Answers a request whose url starts with MASTER_SPOOL_PREFIX from dir
 * (SPOOL/FEED of feed): GET and HEAD of the head and the by-hash objects,
 * from the open file (no copy), Content-Type application/octet-stream,
 * Cache-Control "max-age=1" for the head and "public, max-age=31536000,
 * immutable" for objects, an ETag (the hash for objects) and Last-Modified,
 * 304 when If-None-Match names the ETag; 404 for any other name, 405 for
 * other methods. Returns what MHD_queue_response returns. */
enum MHD_Result master_spool_http_answer(struct MHD_Connection *conn, const char *dir,
                                         const char *feed, const char *method, const char *url);

/*
 * The layout of one feed with long polls and metrics (the public listener's).
 * GET /spool/FEED/head?after=SERIAL (any further query, such as the round
 * number a mirror adds, only makes the URL a cache key of its own) is held
 * while the head's serial is not above SERIAL, until the head is signed
 * again (http_head_refresh: a held mirror stays current) or for at most
 * wait_ms, then answered with the current head as above plus
 * "Blsync-Long-Poll: SECONDS" (the wait; it tells a mirror that this
 * upstream holds). Any head newer than SERIAL answers that URL, so an HTTP
 * cache may keep the answer: one newer than SERIAL with max-age=1, one that
 * is not (the head signed again, or the wait over) with max-age of the wait,
 * so that mirrors asking the same URL later get it at once and move on to
 * their next round. Held requests are suspended (libmicrohttpd
 * suspend/resume, no thread each); a watcher thread resumes them when the
 * head file is replaced (inotify, and a check every 250 ms) or at their
 * deadline. At most max_held at once; past it 503 with Retry-After: 1.
 * wait_ms 0: answered at once, without the header (as a static server).
 */
typedef struct master_spool master_spool_t;

/* dir: SPOOL/FEED of feed. Starts the watcher thread. metrics may be NULL.
 * Errors: BL_ENOMEM, BL_EIO (no thread). */
int master_spool_new(const char *dir, const char *feed, master_metrics_t *metrics,
                     master_spool_t **out);
/* Serving on or off, and the long polls' bounds (hot: SIGHUP). Turning it off
 * answers the held requests at once. */
void master_spool_configure(master_spool_t *s, int on, int64_t wait_ms, unsigned max_held);
int master_spool_serving(master_spool_t *s);
/* The feed s serves. */
const char *master_spool_feed(const master_spool_t *s);
int64_t master_spool_wait_ms(master_spool_t *s);
/* Answers (or holds) a request under MASTER_SPOOL_PREFIX. *held is the
 * request's own flag (0 at its first call): set while it is suspended; a
 * request resumed is answered at once. */
enum MHD_Result master_spool_answer(master_spool_t *s, struct MHD_Connection *conn,
                                    const char *method, const char *url, int *held);
/* Long polls held now. */
unsigned master_spool_held(master_spool_t *s);
/* Resumes every held request (they are answered at once) and stops the
 * watcher: call before stopping the HTTP server, then master_spool_free. */
void master_spool_stop(master_spool_t *s);
void master_spool_free(master_spool_t *s);

#endif
