/* SPDX-License-Identifier: MIT */
/* The spool's HTTP layout served from its files: head and by-hash objects, nothing else. */
#include "spool_http.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "http_guard.h"
#include "log.h"
#include "obj.h"
#include "rd.h"
#include "util.h"

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
    if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
        MHD_add_response_header(r, "Retry-After", "1");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Whether an If-None-Match value names etag (weak comparison, or "*"). */
static int etag_matches(const char *inm, const char *etag)
{
    size_t el = strlen(etag), l;
    const char *s;
    while ((s = bl_http_list_next(&inm, &l))) {
        if (l == 1 && *s == '*')
            return 1;
        if (l >= 2 && !strncmp(s, "W/", 2)) {
            s += 2;
            l -= 2;
        }
        if (l == el && !memcmp(s, etag, el))
            return 1;
    }
    return 0;
}

typedef struct {
    const char *etag;
    int match;
} inm_t;

static enum MHD_Result inm_seen(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    inm_t *m = cls;
    (void)kind;
    if (!strcasecmp(key, "If-None-Match") && value && etag_matches(value, m->etag))
        m->match = 1;
    return m->match ? MHD_NO : MHD_YES;
}

/* Whether the request's If-None-Match names etag: every such field, as the
 * one list they make (RFC 9110 5.3), a cache or proxy in front may send two. */
static int none_match(struct MHD_Connection *conn, const char *etag)
{
    inm_t m = {.etag = etag};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, inm_seen, &m);
    return m.match;
}

/* How one answer went, for metrics: the object kind and the status. */
typedef struct {
    const char *kind;
    unsigned status;
} outcome_t;

static const char *kind_of(int kind, const char *name)
{
    if (kind == 1)
        return "head";
    if (kind != 2)
        return "other";
    const char *ext = name + 64;
    return !strcmp(ext, ".delta") ? "delta" : !strcmp(ext, ".snap") ? "snapshot" : "keycert";
}

/* The answer of the layout; lp_wait_s > 0 marks the answer to a long poll
 * (the header, and cache_control for the head in place of HEAD_CACHE). */
static enum MHD_Result answer(struct MHD_Connection *conn, const char *dir, const char *feed,
                              const char *method, const char *url, int lp_wait_s,
                              const char *cache_control, outcome_t *out)
{
    char name[96], path[PATH_MAX];
    int kind = master_spool_http_name(url, feed, name, sizeof name);
    out->kind = kind_of(kind, name);
    out->status = MHD_HTTP_NOT_FOUND;
    if (!kind)
        return plain(conn, MHD_HTTP_NOT_FOUND, "not found\n");
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        out->status = MHD_HTTP_METHOD_NOT_ALLOWED;
        return plain(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET or HEAD\n");
    }
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
    int unchanged = none_match(conn, etag);
    /* A 304 is built like the 200 (libmicrohttpd sends no body with it): its
     * Content-Length is then the 200's, as RFC 9110 8.6 requires of one that
     * has it, and never a 0 a cache could take for the object's length. */
    struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)st.st_size, fd); /* owns fd */
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    if (!unchanged)
        MHD_add_response_header(r, "Content-Type", "application/octet-stream");
    MHD_add_response_header(r, "Cache-Control",
                            kind == 2       ? OBJECT_CACHE
                            : cache_control ? cache_control
                                            : HEAD_CACHE);
    MHD_add_response_header(r, "ETag", etag);
    MHD_add_response_header(r, "Last-Modified", lm);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (lp_wait_s > 0) {
        char w[16];
        snprintf(w, sizeof w, "%d", lp_wait_s);
        MHD_add_response_header(r, "Blsync-Long-Poll", w);
    }
    out->status = unchanged ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK;
    enum MHD_Result ret = MHD_queue_response(conn, out->status, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result master_spool_http_answer(struct MHD_Connection *conn, const char *dir,
                                         const char *feed, const char *method, const char *url)
{
    outcome_t o;
    return answer(conn, dir, feed, method, url, 0, NULL, &o);
}

/* ---- long polls ------------------------------------------------------------- */

/* A held request. */
typedef struct waiter {
    struct MHD_Connection *conn;
    uint64_t after;
    uint64_t gen;     /* the head's generation when it was held */
    int64_t deadline; /* bl_mono_ns() / 1000000 */
    struct waiter *next;
} waiter_t;

struct master_spool {
    char dir[PATH_MAX], head[PATH_MAX];
    char feed[BL_FEED_MAX + 1];
    master_metrics_t *metrics;
    _Atomic int on;
    _Atomic int64_t wait_ms;
    _Atomic unsigned max_held;
    pthread_mutex_t mu;
    waiter_t *waiters;   /* under mu */
    unsigned held;       /* under mu */
    uint64_t serial;     /* the newest serial read, under mu */
    uint64_t ident, gen; /* the head file's identity, and how often it changed: under mu */
    int stopping;        /* under mu: nothing is held any more */
    int wake[2];         /* a pipe: a request was held, or quit */
    _Atomic int quit;    /* the watcher ends */
    pthread_t thread;
    int thread_up;
};

static int64_t mono_ms(void)
{
    return (int64_t)(bl_mono_ns() / 1000000u);
}

/* The serial of the head file now (0 when there is none or it does not
 * read), and its identity (inode and mtime: a new signature is a new file). */
static uint64_t head_serial(const char *path, uint64_t *ident)
{
    uint8_t buf[BL_HDR_SIZE];
    *ident = 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct stat st;
    if (!fstat(fd, &st))
        *ident = ((uint64_t)st.st_ino * 1000003u) ^
                 ((uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec);
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    bl_rd_t rd;
    bl_hdr_t h;
    bl_rd_init(&rd, buf, n > 0 ? (size_t)n : 0);
    if (n != (ssize_t)sizeof buf || bl_hdr_decode(&rd, &h))
        return 0;
    return h.serial;
}

/* Takes in what the head file holds now. Under mu. */
static void head_now(master_spool_t *s)
{
    uint64_t ident;
    uint64_t serial = head_serial(s->head, &ident);
    if (serial > s->serial)
        s->serial = serial;
    if (ident != s->ident) {
        s->ident = ident;
        s->gen++;
    }
}

/* Resumes the waiters the serial or the clock releases (all when stopping
 * or off). Under mu. */
static void release(master_spool_t *s, int64_t now, int all)
{
    for (waiter_t **w = &s->waiters; *w;) {
        waiter_t *x = *w;
        if (all || s->serial > x->after || s->gen != x->gen || now >= x->deadline) {
            *w = x->next;
            MHD_resume_connection(x->conn);
            free(x);
            s->held--;
            master_metrics_spool_held(s->metrics, -1);
        } else {
            w = &x->next;
        }
    }
}

static void *watcher(void *arg)
{
    master_spool_t *s = arg;
    int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC), wd = -1;
    for (;;) {
        if (in >= 0 && wd < 0)
            wd = inotify_add_watch(in, s->dir, IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE);
        /* With nothing held, only a new hold (the pipe) or stop matters: an
         * idle master does not wake. Held requests have deadlines, and the
         * 250 ms pass is also the check where inotify is missing. */
        pthread_mutex_lock(&s->mu);
        int idle = !s->waiters && in >= 0;
        pthread_mutex_unlock(&s->mu);
        struct pollfd p[2] = {{.fd = s->wake[0], .events = POLLIN}, {.fd = in, .events = POLLIN}};
        int n = poll(p, in >= 0 ? 2 : 1, idle ? -1 : 250);
        if (n > 0 && p[0].revents) {
            char b[64];
            while (read(s->wake[0], b, sizeof b) > 0) {
            }
            if (atomic_load(&s->quit))
                break;
        }
        if (n > 0 && in >= 0 && p[1].revents) {
            char buf[4096];
            while (read(in, buf, sizeof buf) > 0) {
            }
        }
        pthread_mutex_lock(&s->mu);
        if (s->waiters) { /* else a request to hold reads the head itself */
            head_now(s);
            release(s, mono_ms(), !atomic_load(&s->on));
        }
        pthread_mutex_unlock(&s->mu);
    }
    if (in >= 0)
        close(in);
    return NULL;
}

int master_spool_new(const char *dir, const char *feed, master_metrics_t *metrics,
                     master_spool_t **out)
{
    *out = NULL;
    master_spool_t *s = calloc(1, sizeof *s);
    if (!s)
        return BL_ENOMEM;
    if (snprintf(s->dir, sizeof s->dir, "%s", dir) >= (int)sizeof s->dir ||
        snprintf(s->head, sizeof s->head, "%s/head", dir) >= (int)sizeof s->head) {
        free(s);
        return BL_EINVAL;
    }
    snprintf(s->feed, sizeof s->feed, "%s", feed);
    s->metrics = metrics;
    pthread_mutex_init(&s->mu, NULL);
    head_now(s);
    if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK)) {
        pthread_mutex_destroy(&s->mu);
        free(s);
        return BL_EIO;
    }
    if (pthread_create(&s->thread, NULL, watcher, s)) {
        master_spool_free(s);
        return BL_EIO;
    }
    s->thread_up = 1;
    *out = s;
    return 0;
}

void master_spool_configure(master_spool_t *s, int on, int64_t wait_ms, unsigned max_held)
{
    atomic_store(&s->wait_ms, wait_ms);
    atomic_store(&s->max_held, max_held);
    atomic_store(&s->on, on);
}

int master_spool_serving(master_spool_t *s)
{
    return s && atomic_load(&s->on);
}

int64_t master_spool_wait_ms(master_spool_t *s)
{
    return atomic_load(&s->wait_ms);
}

unsigned master_spool_held(master_spool_t *s)
{
    pthread_mutex_lock(&s->mu);
    unsigned n = s->held;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* The after= of a long poll: 1 and *after, 0 for none, -1 for a bad one. */
static int after_of(struct MHD_Connection *conn, uint64_t *after)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "after");
    if (!v)
        return 0;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (!*v || *end || errno || *v == '-' || *v == '+' || *v == ' ')
        return -1;
    *after = x;
    return 1;
}

/* A long poll's answer: a newer head briefly (a later one may come), the
 * current one at the end of the wait for as long as the wait (the URL's
 * round is over: later askers move on to the next). */
static void lp_cache_control(char *cc, size_t n, int newer, int wait_s)
{
    if (newer)
        snprintf(cc, n, "%s", HEAD_CACHE);
    else
        snprintf(cc, n, "max-age=%d", wait_s);
}

static enum MHD_Result counted(master_spool_t *s, enum MHD_Result ret, const outcome_t *o)
{
    char st[8];
    snprintf(st, sizeof st, "%u", o->status);
    master_metrics_spool_request(s->metrics, o->kind, st);
    return ret;
}

const char *master_spool_feed(const master_spool_t *s)
{
    return s->feed;
}

enum MHD_Result master_spool_answer(master_spool_t *s, struct MHD_Connection *conn,
                                    const char *method, const char *url, int *held)
{
    outcome_t o = {"other", MHD_HTTP_NOT_FOUND};
    char name[96];
    uint64_t after = 0;
    int lp = master_spool_http_name(url, s->feed, name, sizeof name) == 1 && !strcmp(method, "GET")
                 ? after_of(conn, &after)
                 : 0;
    int64_t wait_ms = atomic_load(&s->wait_ms);
    if (lp < 0) {
        o.status = MHD_HTTP_BAD_REQUEST;
        o.kind = "long_poll";
        return counted(s, plain(conn, MHD_HTTP_BAD_REQUEST, "after: a serial\n"), &o);
    }
    if (lp == 0 || wait_ms <= 0)
        return counted(s, answer(conn, s->dir, s->feed, method, url, 0, NULL, &o), &o);
    int wait_s = (int)((wait_ms + 999) / 1000);
    char cc[48];
    if (!*held) {
        /* Under mu, against the watcher's serial too: a head replaced between
         * this read and the hold is seen by the watcher's next pass. */
        pthread_mutex_lock(&s->mu);
        head_now(s);
        int newer = s->serial > after;
        if (!newer && !s->stopping && atomic_load(&s->on)) {
            waiter_t *w = s->held < atomic_load(&s->max_held) ? calloc(1, sizeof *w) : NULL;
            if (!w) {
                pthread_mutex_unlock(&s->mu);
                o.status = MHD_HTTP_SERVICE_UNAVAILABLE;
                o.kind = "long_poll";
                return counted(s, plain(conn, o.status, "too many long polls\n"), &o);
            }
            w->conn = conn;
            w->after = after;
            w->gen = s->gen;
            w->deadline = mono_ms() + wait_ms;
            w->next = s->waiters;
            s->waiters = w;
            s->held++;
            *held = 1;
            MHD_suspend_connection(conn);
            pthread_mutex_unlock(&s->mu);
            ssize_t wn = write(s->wake[1], "h", 1); /* the watcher times the hold */
            (void)wn;
            master_metrics_spool_held(s->metrics, 1);
            return MHD_YES;
        }
        pthread_mutex_unlock(&s->mu);
        lp_cache_control(cc, sizeof cc, newer, wait_s);
    } else {
        /* Resumed: a newer head, the deadline, or the server stopping. */
        *held = 0;
        uint64_t ident;
        lp_cache_control(cc, sizeof cc, head_serial(s->head, &ident) > after, wait_s);
    }
    enum MHD_Result ret = answer(conn, s->dir, s->feed, method, url, wait_s, cc, &o);
    o.kind = "long_poll";
    return counted(s, ret, &o);
}

void master_spool_stop(master_spool_t *s)
{
    if (!s)
        return;
    if (s->thread_up) {
        atomic_store(&s->quit, 1);
        ssize_t n = write(s->wake[1], "q", 1);
        (void)n;
        pthread_join(s->thread, NULL);
        s->thread_up = 0;
    }
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    release(s, mono_ms(), 1);
    pthread_mutex_unlock(&s->mu);
}

void master_spool_free(master_spool_t *s)
{
    if (!s)
        return;
    master_spool_stop(s);
    close(s->wake[0]);
    close(s->wake[1]);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
