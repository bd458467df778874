/* SPDX-License-Identifier: MIT */
/* The DNS server: per-thread SO_REUSEPORT UDP sockets with batched I/O, and a TCP thread (libuv).
 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "coalesce.h"
#include "log.h"
#include "util.h"

/*
 * UDP: every listen address gets `threads` sockets bound with SO_REUSEPORT,
 * each served by its own thread in a recvmmsg/sendmmsg loop: one syscall
 * receives up to BATCH queries and one sends their answers, the kernel
 * spreads clients over the sockets, and the loop allocates nothing. (A
 * libuv loop per thread costs one recvmsg and one sendmsg per query plus
 * the event loop's bookkeeping; the batched loop is what meets the CPU
 * budget.) The thread is "online" for QSBR only while it handles a batch.
 *
 * TCP: one libuv loop thread accepts on every address, with a connection
 * limit, pipelined queries, an idle timeout that only a complete query
 * resets (so a client trickling bytes is dropped), and a bound on queued
 * output per connection. TCP answers try a direct write first and only
 * copy what the socket did not take.
 */

#define BATCH       128 /* receive vector; a pause waits for half of it at most */
#define GSO_SEGS    64  /* datagrams per GSO message (the kernel's limit before 6.x) */
#define RX_SIZE     4096
#define TCP_OUT_MAX (256 * 1024)

typedef struct {
    _Atomic uint64_t q, a, drop, batches, pauses, rc[6];
    char pad[64];
} counters_t;

typedef struct {
    mirror_server_t *s;
    int fd;
    int qid;
    pthread_t th;
    int started;
    counters_t ctr;
    uint8_t rx[BATCH][RX_SIZE];
    uint8_t tx[BATCH][4096];
    struct sockaddr_storage from[BATCH];
    struct mmsghdr rmsg[BATCH], smsg[BATCH];
    struct iovec riov[BATCH], siov[BATCH];
    mirror_dns_job_t jobs[BATCH];
    uint16_t tlen[BATCH]; /* answers to send, in order: their lengths */
    uint8_t tpeer[BATCH]; /* and the query each answers (rx, tx, from) */
    char cbuf[BATCH][CMSG_SPACE(sizeof(uint16_t))];
    int gso; /* UDP_SEGMENT works on this socket */
    mirror_coal_t coal;
} udp_thread_t;

typedef struct tcp_conn {
    uv_tcp_t h;
    uv_timer_t timer;
    mirror_server_t *s;
    size_t len;
    int closing;
    int handles_open;
    uint8_t buf[2 + 65535];
} tcp_conn_t;

struct mirror_server {
    mirror_server_conf_t conf;
    mirror_dns_ctx_t ctx_tmpl;
    _Atomic int64_t now;
    atomic_int stop;
    udp_thread_t **udp;
    size_t nudp;
    /* TCP */
    uv_loop_t loop;
    uv_async_t wake;
    uv_tcp_t *listeners;
    size_t nlisteners;
    pthread_t tcp_th;
    int tcp_started;
    int tcp_qid;
    unsigned nconns;
    counters_t tcp_ctr;
    _Atomic uint64_t tcp_conns, tcp_refused;
    uint8_t tcp_out[2 + 65535];
};

int mirror_parse_hostport(const char *s, struct sockaddr_storage *ss)
{
    char host[128];
    const char *port;
    memset(ss, 0, sizeof *ss);
    if (s[0] == '[') {
        const char *e = strchr(s, ']');
        if (!e || e[1] != ':' || (size_t)(e - s - 1) >= sizeof host)
            return -1;
        memcpy(host, s + 1, (size_t)(e - s - 1));
        host[e - s - 1] = 0;
        port = e + 2;
    } else {
        const char *c = strrchr(s, ':');
        if (!c || (size_t)(c - s) >= sizeof host)
            return -1;
        memcpy(host, s, (size_t)(c - s));
        host[c - s] = 0;
        port = c + 1;
    }
    char *end;
    long p = strtol(port, &end, 10);
    if (*end || p < 0 || p > 65535 || !*port)
        return -1;
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)p);
        return 0;
    }
    memset(ss, 0, sizeof *ss);
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)p);
        return 0;
    }
    return -1;
}

static socklen_t ss_len(const struct sockaddr_storage *ss)
{
    return ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

static void count_rc(counters_t *c, int rc)
{
    if (rc >= 0 && rc < 6)
        atomic_fetch_add_explicit(&c->rc[rc], 1, memory_order_relaxed);
}

/* ---- UDP ---- */

/* Answers j and k go to the same peer. */
static int same_peer(const udp_thread_t *t, int j, int k)
{
    const struct msghdr *rj = &t->rmsg[t->tpeer[j]].msg_hdr, *rk = &t->rmsg[t->tpeer[k]].msg_hdr;
    return rk->msg_namelen == rj->msg_namelen &&
           !memcmp(rk->msg_name, rj->msg_name, rj->msg_namelen);
}

/* Appends answer k to the message being built. */
static void take_reply(udp_thread_t *t, int k, uint8_t *used, int *iovn, int *cnt, size_t *total)
{
    t->siov[*iovn].iov_base = t->tx[t->tpeer[k]];
    t->siov[*iovn].iov_len = t->tlen[k];
    (*iovn)++;
    used[k] = 1;
    (*cnt)++;
    *total += t->tlen[k];
}

/* Builds the send vector: answers to the same peer with the same size go
 * out as one UDP GSO message (UDP_SEGMENT), which the kernel splits into
 * datagrams after one pass through the output path instead of one each
 * (here one datagram alone costs ~4.5 us of kernel CPU, four in one
 * message ~2.3 us each: tests/bench/mirror/udp_kernel_cost.c).
 * Returns the number of messages. */
static int group_replies(udp_thread_t *t, int out)
{
    uint8_t used[BATCH];
    memset(used, 0, (size_t)out);
    int nmsg = 0, iovn = 0;
    for (int j = 0; j < out; j++) {
        if (used[j])
            continue;
        const struct msghdr *rj = &t->rmsg[t->tpeer[j]].msg_hdr;
        struct msghdr *m = &t->smsg[nmsg].msg_hdr;
        m->msg_name = rj->msg_name;
        m->msg_namelen = rj->msg_namelen;
        m->msg_iov = &t->siov[iovn];
        m->msg_flags = 0;
        size_t total = 0;
        int cnt = 0;
        for (int k = j; k < out; k++) {
            if (used[k] || t->tlen[k] != t->tlen[j])
                continue;
            if (k != j && (!t->gso || !same_peer(t, j, k)))
                continue;
            if (total + t->tlen[k] > 60000 || cnt >= GSO_SEGS)
                break;
            take_reply(t, k, used, &iovn, &cnt, &total);
        }
        /* GSO's last segment may be shorter than the others: one smaller
         * answer to the same peer rides along (about 20% fewer messages
         * at 30 answers per batch, each one a pass through the IP stack). */
        for (int k = j + 1; t->gso && cnt < GSO_SEGS && k < out; k++) {
            if (used[k] || t->tlen[k] >= t->tlen[j] || total + t->tlen[k] > 60000 ||
                !same_peer(t, j, k))
                continue;
            take_reply(t, k, used, &iovn, &cnt, &total);
            break;
        }
        m->msg_iovlen = (size_t)cnt;
        if (cnt > 1) {
            m->msg_control = t->cbuf[nmsg];
            m->msg_controllen = sizeof t->cbuf[nmsg];
            struct cmsghdr *cm = CMSG_FIRSTHDR(m);
            cm->cmsg_level = SOL_UDP;
            cm->cmsg_type = UDP_SEGMENT;
            cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
            uint16_t seg = t->tlen[j];
            memcpy(CMSG_DATA(cm), &seg, sizeof seg);
        } else {
            m->msg_control = NULL;
            m->msg_controllen = 0;
        }
        nmsg++;
    }
    return nmsg;
}

/* Coalescing (coalesce.h): asks whether to pause after a batch, and does. */
static void coalesce(udp_thread_t *t, int n)
{
    mirror_server_t *s = t->s;
    int64_t now_us = (int64_t)(bl_mono_ns() / 1000);
    mirror_coal_judgement_t j;
    double us = mirror_coal_step(&t->coal, now_us, n, BATCH, s->conf.udp_coalesce_us, &j);
    if (j.judged)
        BL_DEBUG("udp_coalesce_judged",
                 "probe_qps=%.0f paused_qps=%.0f pauses=%u slower=%d off_s=%.1f", j.probe_qps,
                 j.paused_qps, j.pauses, j.slower, j.off_s);
    if (us <= 0)
        return;
    struct timespec ts = {0, (long)(us * 1000)};
    nanosleep(&ts, NULL);
    mirror_coal_slept(&t->coal, us, (double)((int64_t)(bl_mono_ns() / 1000) - now_us));
    atomic_fetch_add_explicit(&t->ctr.pauses, 1, memory_order_relaxed);
    if (s->conf.metrics)
        bl_metrics_inc(s->conf.metrics->udp_pauses);
}

static void *udp_main(void *arg)
{
    udp_thread_t *t = arg;
    mirror_server_t *s = t->s;
    mirror_dns_ctx_t ctx = s->ctx_tmpl;
    /* coalescing pauses are short: the default 50 us timer slack would be a
     * sixth of one (this thread only) */
    prctl(PR_SET_TIMERSLACK, 1000UL);
    for (int i = 0; i < BATCH; i++) {
        t->riov[i].iov_base = t->rx[i];
        t->riov[i].iov_len = RX_SIZE;
    }
    while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
        for (int i = 0; i < BATCH; i++) {
            struct msghdr *m = &t->rmsg[i].msg_hdr;
            m->msg_name = &t->from[i];
            m->msg_namelen = sizeof t->from[i];
            m->msg_iov = &t->riov[i];
            m->msg_iovlen = 1;
            m->msg_control = NULL;
            m->msg_controllen = 0;
            m->msg_flags = 0;
        }
        mirror_qsbr_offline(s->conf.qsbr, t->qid);
        int n = recvmmsg(t->fd, t->rmsg, BATCH, MSG_WAITFORONE, NULL);
        if (n <= 0)
            continue; /* timeout (checks stop), EINTR */
        mirror_qsbr_online(s->conf.qsbr, t->qid);
        ctx.now = atomic_load_explicit(&s->now, memory_order_relaxed);
        for (int i = 0; i < n; i++) {
            t->jobs[i].q = t->rx[i];
            t->jobs[i].qlen = t->rmsg[i].msg_len;
            t->jobs[i].out = t->tx[i];
        }
        mirror_dns_answer_batch(&ctx, t->jobs, (size_t)n, sizeof t->tx[0]);
        int out = 0;
        for (int i = 0; i < n; i++) {
            if (!t->jobs[i].len) {
                atomic_fetch_add_explicit(&t->ctr.drop, 1, memory_order_relaxed);
                continue;
            }
            count_rc(&t->ctr, t->jobs[i].info.rcode);
            mirror_metrics_query(s->conf.metrics, 0, &t->jobs[i].info);
            t->tlen[out] = (uint16_t)t->jobs[i].len;
            t->tpeer[out] = (uint8_t)i;
            out++;
        }
        mirror_qsbr_offline(s->conf.qsbr, t->qid);
        int nmsg = group_replies(t, out);
        atomic_fetch_add_explicit(&t->ctr.q, (uint64_t)n, memory_order_relaxed);
        atomic_fetch_add_explicit(&t->ctr.batches, 1, memory_order_relaxed);
        int sent = 0;
        while (sent < nmsg) {
            int r = sendmmsg(t->fd, t->smsg + sent, (unsigned)(nmsg - sent), 0);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                if (t->smsg[sent].msg_hdr.msg_controllen)
                    t->gso = 0; /* no UDP GSO after all: single datagrams from now on */
                sent++;         /* skip what the kernel refused (e.g. unreachable) */
                continue;
            }
            sent += r;
        }
        atomic_fetch_add_explicit(&t->ctr.a, (uint64_t)out, memory_order_relaxed);
        if (s->conf.metrics)
            bl_metrics_inc(s->conf.metrics->udp_batches);
        if (s->conf.udp_coalesce_us)
            coalesce(t, n);
    }
    mirror_qsbr_offline(s->conf.qsbr, t->qid);
    return NULL;
}

static int udp_socket(const struct sockaddr_storage *ss, char *err, size_t errlen, const char *a)
{
    int fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0) {
        snprintf(err, errlen, "%s: socket: %s", a, strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (ss->ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    struct timeval tv = {0, 200000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int rcvbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (bind(fd, (const struct sockaddr *)ss, ss_len(ss))) {
        snprintf(err, errlen, "%s: bind (udp): %s", a, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* SO_REUSEPORT lets a second process bind the same UDP port and take half
 * of its queries without any error. A plain bind first makes sure nobody
 * holds the port, so a clash is an error at start-up, not silent misrouting. */
static int udp_port_free(const struct sockaddr_storage *ss, char *err, size_t errlen, const char *a)
{
    in_port_t port = ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port
                                               : ((const struct sockaddr_in *)ss)->sin_port;
    if (!port)
        return 0;
    int fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0; /* the real socket() reports the problem */
    int one = 1;
    if (ss->ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    int rc = bind(fd, (const struct sockaddr *)ss, ss_len(ss));
    int e = errno;
    close(fd);
    if (rc && e == EADDRINUSE) {
        snprintf(err, errlen, "%s: bind (udp): %s (another server holds this port)", a,
                 strerror(e));
        return -1;
    }
    return 0;
}

/* ---- TCP ---- */

static void conn_free_cb(uv_handle_t *h)
{
    tcp_conn_t *c = h->data;
    if (--c->handles_open == 0) {
        c->s->nconns--;
        if (c->s->conf.metrics)
            atomic_fetch_sub(&c->s->conf.metrics->tcp_open_n, 1);
        free(c);
    }
}

static void conn_close(tcp_conn_t *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    uv_close((uv_handle_t *)&c->timer, conn_free_cb);
    uv_close((uv_handle_t *)&c->h, conn_free_cb);
}

static void idle_cb(uv_timer_t *t)
{
    conn_close(t->data);
}

static void alloc_cb(uv_handle_t *h, size_t sug, uv_buf_t *buf)
{
    tcp_conn_t *c = h->data;
    (void)sug;
    buf->base = (char *)c->buf + c->len;
    buf->len = sizeof c->buf - c->len;
}

typedef struct {
    uv_write_t req;
    size_t len;
    uint8_t data[];
} wreq_t;

static void write_cb(uv_write_t *req, int status)
{
    (void)status;
    free(req->data);
}

static int tcp_send(tcp_conn_t *c, const uint8_t *p, size_t n)
{
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
    size_t done = 0;
    if (uv_stream_get_write_queue_size((uv_stream_t *)&c->h) == 0) {
        int r = uv_try_write((uv_stream_t *)&c->h, &b, 1);
        if (r > 0)
            done = (size_t)r;
        else if (r != UV_EAGAIN)
            return -1;
    }
    if (done == n)
        return 0;
    if (uv_stream_get_write_queue_size((uv_stream_t *)&c->h) + n - done > TCP_OUT_MAX)
        return -1; /* the client does not read its answers */
    wreq_t *w = malloc(sizeof *w + n - done);
    if (!w)
        return -1;
    memcpy(w->data, p + done, n - done);
    w->len = n - done;
    w->req.data = w;
    b = uv_buf_init((char *)w->data, (unsigned)w->len);
    if (uv_write(&w->req, (uv_stream_t *)&c->h, &b, 1, write_cb)) {
        free(w);
        return -1;
    }
    return 0;
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    tcp_conn_t *c = st->data;
    mirror_server_t *s = c->s;
    (void)buf;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    c->len += (size_t)nread;
    size_t off = 0;
    int answered = 0;
    mirror_dns_ctx_t ctx = s->ctx_tmpl;
    ctx.now = atomic_load_explicit(&s->now, memory_order_relaxed);
    mirror_qsbr_online(s->conf.qsbr, s->tcp_qid);
    while (c->len - off >= 2) {
        size_t ml = (size_t)c->buf[off] << 8 | c->buf[off + 1];
        if (ml < 12) {
            /* no DNS message is that short: the peer is not speaking DNS */
            mirror_qsbr_offline(s->conf.qsbr, s->tcp_qid);
            conn_close(c);
            return;
        }
        if (c->len - off < 2 + ml)
            break;
        mirror_dns_info_t info;
        atomic_fetch_add_explicit(&s->tcp_ctr.q, 1, memory_order_relaxed);
        size_t n = mirror_dns_answer_ex(&ctx, c->buf + off + 2, ml, s->tcp_out + 2,
                                        sizeof s->tcp_out - 2, 1, &info);
        off += 2 + ml;
        answered = 1;
        if (!n)
            continue;
        count_rc(&s->tcp_ctr, info.rcode);
        mirror_metrics_query(s->conf.metrics, 1, &info);
        atomic_fetch_add_explicit(&s->tcp_ctr.a, 1, memory_order_relaxed);
        s->tcp_out[0] = (uint8_t)(n >> 8);
        s->tcp_out[1] = (uint8_t)n;
        if (tcp_send(c, s->tcp_out, n + 2)) {
            mirror_qsbr_offline(s->conf.qsbr, s->tcp_qid);
            conn_close(c);
            return;
        }
    }
    mirror_qsbr_offline(s->conf.qsbr, s->tcp_qid);
    if (off) {
        memmove(c->buf, c->buf + off, c->len - off);
        c->len -= off;
    }
    if (answered)
        uv_timer_again(&c->timer);
}

static void accept_cb(uv_stream_t *server, int status)
{
    mirror_server_t *s = server->data;
    if (status < 0)
        return;
    if (s->nconns >= s->conf.tcp_max_conns) {
        /* over the limit: accept and close at once so the backlog drains */
        uv_tcp_t *tmp = malloc(sizeof *tmp);
        if (!tmp)
            return;
        uv_tcp_init(&s->loop, tmp);
        if (uv_accept(server, (uv_stream_t *)tmp) == 0) {
            atomic_fetch_add_explicit(&s->tcp_refused, 1, memory_order_relaxed);
            if (s->conf.metrics)
                bl_metrics_inc(s->conf.metrics->tcp_refused);
        }
        uv_close((uv_handle_t *)tmp, (uv_close_cb)free);
        return;
    }
    tcp_conn_t *c = malloc(sizeof *c);
    if (!c)
        return;
    memset(c, 0, offsetof(tcp_conn_t, buf));
    c->s = s;
    uv_tcp_init(&s->loop, &c->h);
    uv_timer_init(&s->loop, &c->timer);
    c->h.data = c;
    c->timer.data = c;
    c->handles_open = 2;
    s->nconns++;
    if (s->conf.metrics)
        atomic_fetch_add(&s->conf.metrics->tcp_open_n, 1);
    if (uv_accept(server, (uv_stream_t *)&c->h)) {
        conn_close(c);
        return;
    }
    atomic_fetch_add_explicit(&s->tcp_conns, 1, memory_order_relaxed);
    if (s->conf.metrics)
        bl_metrics_inc(s->conf.metrics->tcp_accepted);
    uv_tcp_nodelay(&c->h, 1);
    uv_timer_start(&c->timer, idle_cb, s->conf.tcp_idle_ms, s->conf.tcp_idle_ms);
    uv_read_start((uv_stream_t *)&c->h, alloc_cb, read_cb);
}

static void wake_cb(uv_async_t *a)
{
    mirror_server_t *s = a->data;
    uv_stop(&s->loop); /* handles are closed by mirror_server_stop after the join */
}

static void *tcp_main(void *arg)
{
    mirror_server_t *s = arg;
    uv_run(&s->loop, UV_RUN_DEFAULT);
    return NULL;
}

static void walk_close_all(uv_handle_t *h, void *arg)
{
    if (uv_is_closing(h))
        return;
    if (h->data == arg)
        uv_close(h, NULL); /* listeners and the wake-up handle */
    else
        conn_close(h->data); /* connection sockets and their timers */
}

int mirror_server_start(const mirror_server_conf_t *conf, mirror_server_t **out, char *err,
                        size_t errlen)
{
    mirror_server_t *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->conf = *conf;
    s->ctx_tmpl.zones = conf->zones;
    s->ctx_tmpl.nzones = conf->nzones;
    s->ctx_tmpl.udp_max = (uint16_t)(conf->udp_max < 512 ? 512 : conf->udp_max);
    atomic_store(&s->now, (int64_t)time(NULL));
    s->udp = calloc((size_t)conf->nlisten * conf->threads, sizeof *s->udp);
    s->listeners = calloc(conf->nlisten, sizeof *s->listeners);
    if (!s->udp || !s->listeners || uv_loop_init(&s->loop)) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    uv_async_init(&s->loop, &s->wake, wake_cb);
    s->wake.data = s;
    s->tcp_qid = mirror_qsbr_register(conf->qsbr);
    for (unsigned i = 0; i < conf->nlisten; i++) {
        struct sockaddr_storage ss;
        if (mirror_parse_hostport(conf->listen[i], &ss)) {
            snprintf(err, errlen, "listen '%s': expected ADDR:PORT or [ADDR6]:PORT",
                     conf->listen[i]);
            goto fail;
        }
        if (udp_port_free(&ss, err, errlen, conf->listen[i]))
            goto fail;
        for (unsigned t = 0; t < conf->threads; t++) {
            udp_thread_t *u = calloc(1, sizeof *u);
            if (!u) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            s->udp[s->nudp++] = u;
            u->s = s;
            u->fd = udp_socket(&ss, err, errlen, conf->listen[i]);
            if (u->fd < 0)
                goto fail;
            int seg = 0;
            socklen_t sl = sizeof seg;
            u->gso = conf->udp_gso && getsockopt(u->fd, SOL_UDP, UDP_SEGMENT, &seg, &sl) == 0;
            u->qid = mirror_qsbr_register(conf->qsbr);
            if (u->qid < 0) {
                snprintf(err, errlen, "too many threads");
                goto fail;
            }
        }
        uv_tcp_t *l = &s->listeners[s->nlisteners++];
        uv_tcp_init(&s->loop, l);
        l->data = s;
        int r = uv_tcp_bind(l, (const struct sockaddr *)&ss,
                            ss.ss_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0);
        if (!r)
            r = uv_listen((uv_stream_t *)l, 128, accept_cb);
        if (r) {
            snprintf(err, errlen, "%s: listen (tcp): %s", conf->listen[i], uv_strerror(r));
            goto fail;
        }
    }
    for (size_t i = 0; i < s->nudp; i++) {
        if (pthread_create(&s->udp[i]->th, NULL, udp_main, s->udp[i])) {
            snprintf(err, errlen, "pthread_create: %s", strerror(errno));
            goto fail;
        }
        s->udp[i]->started = 1;
    }
    if (pthread_create(&s->tcp_th, NULL, tcp_main, s)) {
        snprintf(err, errlen, "pthread_create: %s", strerror(errno));
        goto fail;
    }
    s->tcp_started = 1;
    *out = s;
    return 0;
fail:
    mirror_server_stop(s);
    return -1;
}

void mirror_server_set_now(mirror_server_t *s, int64_t now_s)
{
    atomic_store_explicit(&s->now, now_s, memory_order_relaxed);
}

void mirror_server_stats(mirror_server_t *s, mirror_server_stats_t *st)
{
    memset(st, 0, sizeof *st);
    for (size_t i = 0; i < s->nudp; i++) {
        counters_t *c = &s->udp[i]->ctr;
        st->udp_queries += atomic_load_explicit(&c->q, memory_order_relaxed);
        st->udp_answers += atomic_load_explicit(&c->a, memory_order_relaxed);
        st->dropped += atomic_load_explicit(&c->drop, memory_order_relaxed);
        st->udp_batches += atomic_load_explicit(&c->batches, memory_order_relaxed);
        st->udp_pauses += atomic_load_explicit(&c->pauses, memory_order_relaxed);
        for (int r = 0; r < 6; r++)
            st->rcode[r] += atomic_load_explicit(&c->rc[r], memory_order_relaxed);
    }
    st->tcp_queries = atomic_load(&s->tcp_ctr.q);
    st->tcp_answers = atomic_load(&s->tcp_ctr.a);
    for (int r = 0; r < 6; r++)
        st->rcode[r] += atomic_load(&s->tcp_ctr.rc[r]);
    st->tcp_conns = atomic_load(&s->tcp_conns);
    st->tcp_refused_conns = atomic_load(&s->tcp_refused);
}

void mirror_server_stop(mirror_server_t *s)
{
    if (!s)
        return;
    atomic_store(&s->stop, 1);
    for (size_t i = 0; i < s->nudp; i++)
        if (s->udp[i] && s->udp[i]->fd > 0)
            shutdown(s->udp[i]->fd, SHUT_RDWR);
    for (size_t i = 0; i < s->nudp; i++) {
        udp_thread_t *u = s->udp[i];
        if (!u)
            continue;
        if (u->started)
            pthread_join(u->th, NULL);
        if (u->fd > 0)
            close(u->fd);
        free(u);
    }
    if (s->tcp_started) {
        uv_async_send(&s->wake);
        pthread_join(s->tcp_th, NULL);
    }
    if (s->listeners) {
        /* close everything left on the loop, then run it until the closes complete */
        uv_walk(&s->loop, walk_close_all, s);
        uv_run(&s->loop, UV_RUN_DEFAULT);
        uv_loop_close(&s->loop);
    }
    free(s->udp);
    free(s->listeners);
    free(s);
}
