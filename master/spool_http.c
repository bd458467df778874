/* SPDX-License-Identifier: MIT */
/* The spool's HTTP layout served from its files: head and by-hash objects, nothing else. */
#include "spool_http.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HEAD_CACHE   "max-age=1"
#define OBJECT_CACHE "public, max-age=31536000, immutable"

static int lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

int master_spool_http_name(const char *url, const char *feed, char *name, size_t n)
{
    size_t pl = strlen(MASTER_SPOOL_PREFIX), fl = strlen(feed);
    if (strncmp(url, MASTER_SPOOL_PREFIX, pl) || strncmp(url + pl, feed, fl) || url[pl + fl] != '/')
        return 0;
    const char *rest = url + pl + fl + 1;
    if (!strcmp(rest, "head"))
        return 1;
    if (strncmp(rest, "by-hash/", 8))
        return 0;
    rest += 8;
    if (strlen(rest) < 64 || !lower_hex(rest, 64))
        return 0;
    const char *ext = rest + 64;
    if (strcmp(ext, ".delta") && strcmp(ext, ".snap") && strcmp(ext, ".keycert"))
        return 0;
    if (n < 80)
        return 0;
    snprintf(name, n, "%s", rest);
    return 2;
}

static enum MHD_Result plain(struct MHD_Connection *conn, unsigned status, const char *text)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, "Allow", "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Whether an If-None-Match value names etag (weak comparison, or "*"). */
static int etag_matches(const char *inm, const char *etag)
{
    size_t el = strlen(etag);
    const char *s = inm;
    while (*s) {
        while (*s == ' ' || *s == '\t' || *s == ',')
            s++;
        if (*s == '*')
            return 1;
        if (!strncmp(s, "W/", 2))
            s += 2;
        const char *e = s;
        while (*e && *e != ',')
            e++;
        size_t l = (size_t)(e - s);
        while (l && (s[l - 1] == ' ' || s[l - 1] == '\t'))
            l--;
        if (l == el && !memcmp(s, etag, el))
            return 1;
        s = e;
    }
    return 0;
}

enum MHD_Result master_spool_http_answer(struct MHD_Connection *conn, const char *dir,
                                         const char *feed, const char *method, const char *url)
{
    char name[96], path[PATH_MAX];
    int kind = master_spool_http_name(url, feed, name, sizeof name);
    if (!kind)
        return plain(conn, MHD_HTTP_NOT_FOUND, "not found\n");
    if (strcmp(method, "GET") && strcmp(method, "HEAD"))
        return plain(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET or HEAD\n");
    if (kind == 1)
        snprintf(path, sizeof path, "%.4000s/head", dir);
    else
        snprintf(path, sizeof path, "%.3900s/by-hash/%.80s", dir, name);
    /* The head is replaced by rename: the open file is one whole head. */
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return plain(conn, MHD_HTTP_NOT_FOUND, "not found\n");
    }
    /* An object's name is its SHA-256; a head is told apart by its file
     * (a new one is a new inode written at a new time). */
    char etag[96];
    if (kind == 2)
        snprintf(etag, sizeof etag, "\"%.64s\"", name);
    else
        snprintf(etag, sizeof etag, "\"%" PRIx64 "-%" PRIx64 "-%" PRIx64 "\"", (uint64_t)st.st_ino,
                 (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec,
                 (uint64_t)st.st_size);
    char lm[64];
    struct tm tm;
    gmtime_r(&st.st_mtim.tv_sec, &tm);
    strftime(lm, sizeof lm, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    const char *inm = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "If-None-Match");
    int unchanged = inm && etag_matches(inm, etag);
    struct MHD_Response *r;
    if (unchanged) {
        close(fd);
        r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    } else {
        r = MHD_create_response_from_fd((uint64_t)st.st_size, fd); /* owns fd */
        if (!r)
            close(fd);
    }
    if (!r)
        return MHD_NO;
    if (!unchanged)
        MHD_add_response_header(r, "Content-Type", "application/octet-stream");
    MHD_add_response_header(r, "Cache-Control", kind == 1 ? HEAD_CACHE : OBJECT_CACHE);
    MHD_add_response_header(r, "ETag", etag);
    MHD_add_response_header(r, "Last-Modified", lm);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ret =
        MHD_queue_response(conn, unchanged ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}
