/* SPDX-License-Identifier: MIT */
/* The spool's HTTP layout (FEED/head, FEED/by-hash/) served by the master's own listener. */
#ifndef MASTER_SPOOL_HTTP_H
#define MASTER_SPOOL_HTTP_H

#include <microhttpd.h>
#include <stddef.h>

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

#endif
