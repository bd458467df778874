/* SPDX-License-Identifier: MIT */
/* The DNS server: per-thread SO_REUSEPORT UDP sockets with batched I/O, and a TCP thread (libuv);
 * or the sockets a service manager passed (systemd socket activation).
 */
#include "server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "coalesce.h"
#include "log.h"
#include "tcp_clients.h"
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
 * TCP: one libuv loop thread accepts on every address and answers
 * pipelined queries. No client can take every connection: each client (an
 * IPv4 address, an IPv6 /64) may hold tcp_max_per_client; when
 * tcp_max_conns are open a new client's connection evicts the longest idle
 * one; a query begun must be complete within tcp_query_ms (a client
 * trickling bytes is dropped) and tcp_idle_ms runs between queries; a client
 * that does not read its answers has at most tcp_pipeline of them queued
 * before its further queries wait; and when descriptors run out, accepting
 * pauses and resumes by itself. TCP answers try a direct write first and
 * only copy what the socket did not take.
 *
 * Sockets passed by systemd (a .socket unit) replace the server's own for
 * the address and protocol they are bound to: every UDP thread of that
 * address reads the one inherited socket (recvmmsg from several threads on
 * one socket is safe), and the inherited TCP listener is accepted on as it
 * is. The socket unit holds them open while the service restarts, so the
 * queries and connections that arrive meanwhile wait in their queues for
 * the next process instead of being refused. No SO_REUSEPORT sockets of
 * the server's own are added next to them: they would take a share of the
 * queries and lose what is queued on them at a restart.
 */

#define BATCH               128 /* receive vector; a pause waits for half of it at most */
#define GSO_SEGS            64  /* datagrams per GSO message (the kernel's limit before 6.x) */
#define RX_SIZE             4096
#define TCP_OUT_MAX         (256 * 1024)
#define TCP_BACKLOG         128
#define TCP_ACCEPT_BURST    64    /* connections accepted per wake-up */
#define TCP_ACCEPT_PAUSE_MS 100   /* how long accepting pauses when descriptors run out */
#define TCP_TURN            32    /* queries answered for one connection before the others' turn */
#define TCP_BATCH           16384 /* answers of one turn are written together up to this */

typedef struct {
    _Atomic uint64_t q, a, drop, batches, pauses, rc[6];
    _Atomic uint64_t acl_refused, acl_dropped, rrl_dropped, rrl_slipped;
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
    int gso;       /* UDP_SEGMENT works on this socket */
    int inherited; /* fd is an inherited socket, shared with the address's other threads */
    mirror_coal_t coal;
    unsigned qlog_n; /* queries since the last one logged (query_log_sample) */
} udp_thread_t;

enum { CONN_IDLE, CONN_PARTIAL, CONN_BUSY }; /* what a connection waits for */

typedef struct tcp_conn tcp_conn_t;
typedef struct {
    tcp_conn_t *head, *tail; /* oldest first */
} conn_list_t;

struct tcp_conn {
    uv_tcp_t h;
    uv_timer_t timer;
    mirror_server_t *s;
    conn_list_t *list; /* s->idle or s->partial, by state; NULL when busy */
    tcp_conn_t *prev, *next;
    int state;      /* CONN_* */
    uint64_t since; /* uv_now when it entered that state */
    mirror_client_key_t client;
    mirror_ip_t peer; /* the client's address, for the ACLs and the query log */
    unsigned queued;  /* writes in libuv's write queue */
    int reading;
    int backlog;            /* complete queries left for its next turn */
    int eof;                /* the client shut down its side: no more queries come */
    tcp_conn_t *ready_next; /* in s->ready while backlog */
    size_t len;
    int closing;
    int handles_open;
    uint8_t buf[2 + 65535];
};

typedef struct {
    uv_poll_t poll;
    int fd;
    int inherited; /* fd is an inherited socket */
    mirror_server_t *s;
} tcp_listener_t;

struct mirror_server {
    mirror_server_conf_t conf;
    mirror_dns_ctx_t ctx_tmpl;
    _Atomic int64_t now;
    atomic_int stop;
    udp_thread_t **udp;
    size_t nudp;
    /* TCP */
    uv_loop_t loop;
    int loop_ok; /* loop initialised: mirror_server_stop closes its handles */
    uv_async_t wake;
    tcp_listener_t *listeners;
    size_t nlisteners;
    pthread_t tcp_th;
    int tcp_started;
    int tcp_qid;
    unsigned nconns; /* open, not closing */
    unsigned max_conns, per_client, query_ms, pipeline;
    mirror_clients_t clients;
    conn_list_t idle, partial;
    uv_timer_t accept_retry;
    int reserve_fd;       /* freed for a moment to turn away a client when out of descriptors */
    int64_t pause_start;  /* ms (bl_mono_ns) when accepting first paused; 0: it runs */
    unsigned pause_count; /* pauses since then */
    counters_t tcp_ctr;
    _Atomic uint64_t tcp_conns, tcp_refused, tcp_evicted, tcp_timeouts, tcp_accept_pauses;
    uint8_t tcp_out[2 + 65535];
    uint8_t tcp_batch[TCP_BATCH];        /* answers of one turn, written together */
    uv_idle_t ready_idle;                /* runs the turns of connections with a backlog */
    tcp_conn_t *ready;                   /* those connections, in turn order */
    unsigned tcp_qlog_n;                 /* TCP queries since the last one logged */
    int inherited[MIRROR_INHERITED_MAX]; /* the passed sockets, closed at stop */
    unsigned ninherited;
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

/* The wall clock in ms for the query log: its seconds are the log
 * timestamps' seconds, so "lines per second" holds for what an operator
 * reads. */
static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Counts what an ACL did to a query (info->denied). */
static void count_denied(mirror_server_t *s, counters_t *c, const mirror_dns_info_t *info)
{
    if (!info->denied)
        return;
    int drop = info->denied == MIRROR_ACL_DROP;
    atomic_fetch_add_explicit(drop ? &c->acl_dropped : &c->acl_refused, 1, memory_order_relaxed);
    if (s->conf.metrics)
        bl_metrics_inc(s->conf.metrics->acl_denied[drop]);
}

/* The defences after a UDP query was answered (or not): ACL counters, the
 * rate limit (which may drop the answer or truncate it), the query log. */
static void defend_udp(udp_thread_t *t, mirror_defences_t *def, mirror_dns_job_t *j,
                       uint64_t now_ms)
{
    mirror_server_t *s = t->s;
    const char *action = NULL;
    count_denied(s, &t->ctr, &j->info);
    if (def->rrl && j->len) { /* REFUSED answers too: they reflect as well */
        int v = mirror_rrl_check(def->rrl, &j->peer, now_ms);
        if (v == MIRROR_RRL_SLIP)
            j->len = mirror_rrl_truncate(j->out, j->len);
        if (v == MIRROR_RRL_SLIP && j->len) {
            action = "rrl_slipped";
            atomic_fetch_add_explicit(&t->ctr.rrl_slipped, 1, memory_order_relaxed);
            if (s->conf.metrics)
                bl_metrics_inc(s->conf.metrics->rrl_limited[1]);
        } else if (v != MIRROR_RRL_PASS) {
            action = "rrl_dropped";
            j->len = 0;
            atomic_fetch_add_explicit(&t->ctr.rrl_dropped, 1, memory_order_relaxed);
            if (s->conf.metrics)
                bl_metrics_inc(s->conf.metrics->rrl_limited[0]);
        }
    }
    if (def->qlog.sample && mirror_qlog_sampled(&def->qlog, &t->qlog_n))
        mirror_qlog_write(&def->qlog, &j->peer, 0, j->q, j->qlen, &j->info, action, wall_ms());
}

/* The signal that interrupts a UDP thread's receive (or its coalescing
 * pause) when the server stops. The threads block without a timeout, so
 * that an idle server does not wake up: a periodic wake-up costs ~0.1 ms of
 * CPU on a busy VM, as much as several queries. */
#define UDP_STOP_SIGNAL (SIGRTMIN + 1)

static void udp_stop_handler(int sig)
{
    (void)sig; /* its only effect: the blocking call returns EINTR */
}

/* Joins UDP thread u once the stop flag is set: a signal that arrives between
 * its check of the flag and its receive is lost, so it is sent again until
 * the thread has ended. */
static void udp_join(udp_thread_t *u)
{
    for (;;) {
        pthread_kill(u->th, UDP_STOP_SIGNAL);
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts); /* a step of the wall clock cannot stretch it */
        ts.tv_nsec += 20 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        if (pthread_clockjoin_np(u->th, NULL, CLOCK_MONOTONIC, &ts) != ETIMEDOUT)
            return;
    }
}

static void *udp_main(void *arg)
{
    udp_thread_t *t = arg;
    mirror_server_t *s = t->s;
    mirror_defences_t *def = s->conf.defences;
    mirror_dns_ctx_t ctx = s->ctx_tmpl;
    sigset_t stop_sig;
    sigemptyset(&stop_sig);
    sigaddset(&stop_sig, UDP_STOP_SIGNAL);
    pthread_sigmask(SIG_UNBLOCK, &stop_sig, NULL);
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
            continue; /* EINTR (mirror_server_stop's signal: checks stop) */
        mirror_qsbr_online(s->conf.qsbr, t->qid);
        ctx.now = atomic_load_explicit(&s->now, memory_order_relaxed);
        for (int i = 0; i < n; i++) {
            t->jobs[i].q = t->rx[i];
            t->jobs[i].qlen = t->rmsg[i].msg_len;
            t->jobs[i].out = t->tx[i];
            mirror_ip_from_sockaddr((const struct sockaddr *)&t->from[i], &t->jobs[i].peer);
        }
        mirror_dns_answer_batch(&ctx, t->jobs, (size_t)n, sizeof t->tx[0]);
        uint64_t now_ms = def && def->rrl ? bl_mono_ns() / 1000000 : 0;
        int out = 0;
        for (int i = 0; i < n; i++) {
            if (def)
                defend_udp(t, def, &t->jobs[i], now_ms);
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
    int rcvbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (bind(fd, (const struct sockaddr *)ss, ss_len(ss))) {
        snprintf(err, errlen, "%s: bind (udp): %s", a, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* Prepares an inherited UDP socket for the threads' loop: blocking reads
 * without a timeout (systemd passes non-blocking sockets; the flag is the
 * socket's, shared with the socket unit, which does not read from it; a
 * timeout an earlier process set is cleared: the threads learn of the stop
 * from mirror_server_stop's signal, not by waking up every so often), and
 * the receive buffer raised when it
 * is smaller than the server's own sockets' (a socket unit's
 * ReceiveBuffer= is usually larger, set with SO_RCVBUFFORCE, and stays). */
static int udp_adopt(int fd, char *err, size_t errlen, const char *a)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK)) {
        snprintf(err, errlen, "%s: inherited udp socket: %s", a, strerror(errno));
        return -1;
    }
    struct timeval tv = {0, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int rcvbuf = 4 << 20, cur = 0;
    socklen_t cl = sizeof cur;
    if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &cur, &cl) || cur < 2 * rcvbuf) /* reads double */
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    return 0;
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

/*
 * What each connection waits for decides how long it may wait and whether it
 * may be evicted:
 *   idle     between queries: tcp_idle_ms; in s->idle, oldest first.
 *   partial  the rest of a query begun: tcp_query_ms from its first byte
 *            (a client trickling a query is closed, slowloris); in
 *            s->partial, oldest first.
 *   busy     answers queued that the client has not read: tcp_idle_ms from
 *            the last answer; never evicted.
 * The server accepts on its own descriptors (uv_poll) rather than with
 * uv_listen, so that it can stop accepting when descriptors run out and
 * start again by itself.
 */

static void conn_free_cb(uv_handle_t *h)
{
    tcp_conn_t *c = h->data;
    if (--c->handles_open == 0)
        free(c);
}

static void list_append(conn_list_t *l, tcp_conn_t *c)
{
    c->list = l;
    c->next = NULL;
    c->prev = l->tail;
    if (l->tail)
        l->tail->next = c;
    else
        l->head = c;
    l->tail = c;
}

static void list_remove(tcp_conn_t *c)
{
    conn_list_t *l = c->list;
    if (!l)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        l->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        l->tail = c->prev;
    c->list = NULL;
    c->prev = c->next = NULL;
}

/* Closes c; reason is a MIRROR_TCP_CLOSE_* to count, or -1 (the client
 * closed, or the server stops). */
static void conn_close(tcp_conn_t *c, int reason)
{
    mirror_server_t *s = c->s;
    if (c->closing)
        return;
    c->closing = 1;
    list_remove(c);
    for (tcp_conn_t **p = &s->ready; *p; p = &(*p)->ready_next)
        if (*p == c) {
            *p = c->ready_next;
            break;
        }
    s->nconns--;
    mirror_clients_del(&s->clients, &c->client);
    if (s->conf.metrics) {
        atomic_fetch_sub(&s->conf.metrics->tcp_open_n, 1);
        if (reason >= 0)
            bl_metrics_inc(s->conf.metrics->tcp_closed[reason]);
    }
    if (reason == MIRROR_TCP_CLOSE_EVICTED)
        atomic_fetch_add_explicit(&s->tcp_evicted, 1, memory_order_relaxed);
    else if (reason >= 0 && reason != MIRROR_TCP_CLOSE_NOT_DNS)
        atomic_fetch_add_explicit(&s->tcp_timeouts, 1, memory_order_relaxed);
    uv_close((uv_handle_t *)&c->timer, conn_free_cb);
    uv_close((uv_handle_t *)&c->h, conn_free_cb);
}

static void timer_cb(uv_timer_t *t)
{
    tcp_conn_t *c = t->data;
    conn_close(c, c->state == CONN_IDLE      ? MIRROR_TCP_CLOSE_IDLE
                  : c->state == CONN_PARTIAL ? MIRROR_TCP_CLOSE_QUERY_TIMEOUT
                                             : MIRROR_TCP_CLOSE_SLOW_READER);
}

static void alloc_cb(uv_handle_t *h, size_t sug, uv_buf_t *buf)
{
    tcp_conn_t *c = h->data;
    (void)sug;
    buf->base = (char *)c->buf + c->len;
    buf->len = sizeof c->buf - c->len;
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

/* Sets what c waits for next (after bytes arrived, answers were sent or
 * written out; answered: a query was answered since the last call): reads
 * only while fewer than tcp_pipeline answers are queued, and starts the
 * timer of the new wait unless it goes on waiting for the same thing. A
 * client that shut down its side is closed once its answers are written. */
static void conn_settle(tcp_conn_t *c, int answered)
{
    mirror_server_t *s = c->s;
    if (c->eof && !c->queued && !c->backlog) {
        conn_close(c, -1); /* every answer written: the client has what it asked */
        return;
    }
    int want_read = c->queued < s->pipeline && !c->backlog && !c->eof;
    if (want_read != c->reading) {
        if (want_read)
            uv_read_start((uv_stream_t *)&c->h, alloc_cb, read_cb);
        else
            uv_read_stop((uv_stream_t *)&c->h);
        c->reading = want_read;
    }
    int state = c->queued ? CONN_BUSY : c->len ? CONN_PARTIAL : CONN_IDLE;
    if (state == c->state && !answered)
        return;
    list_remove(c);
    c->state = state;
    c->since = uv_now(&s->loop);
    if (state == CONN_IDLE)
        list_append(&s->idle, c);
    else if (state == CONN_PARTIAL)
        list_append(&s->partial, c);
    uv_timer_start(&c->timer, timer_cb, state == CONN_PARTIAL ? s->query_ms : s->conf.tcp_idle_ms,
                   0);
}

typedef struct {
    uv_write_t req;
    size_t len;
    uint8_t data[];
} wreq_t;

static void conn_serve(tcp_conn_t *c);

static void write_cb(uv_write_t *req, int status)
{
    tcp_conn_t *c = req->handle->data;
    free(req->data);
    c->queued--;
    if (c->closing)
        return;
    if (status < 0) {
        conn_close(c, -1);
        return;
    }
    conn_serve(c); /* queries left buffered while the pipeline was full */
}

static int tcp_send(tcp_conn_t *c, const uint8_t *p, size_t n)
{
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
    size_t done = 0;
    if (!c->queued) {
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
    c->queued++;
    return 0;
}

static void ready_cb(uv_idle_t *h);

/* c has complete queries left after its turn: it gets another turn once
 * every other connection with work had one, and reads nothing meanwhile
 * (its client's TCP window closes: back-pressure instead of buffering). */
static void ready_push(tcp_conn_t *c)
{
    mirror_server_t *s = c->s;
    if (c->backlog)
        return; /* already waiting for its turn */
    c->backlog = 1;
    c->ready_next = NULL;
    tcp_conn_t **p = &s->ready;
    while (*p)
        p = &(*p)->ready_next;
    *p = c;
    if (!uv_is_active((uv_handle_t *)&s->ready_idle))
        uv_idle_start(&s->ready_idle, ready_cb);
}

/* Answers up to TCP_TURN complete queries in c's buffer while fewer than
 * tcp_pipeline writes wait, writing a turn's answers together, then
 * settles c. One connection never holds the thread for more than a turn:
 * a client pipelining thousands of queries is answered in turns with
 * everybody else. */
static void conn_serve(tcp_conn_t *c)
{
    mirror_server_t *s = c->s;
    size_t off = 0, blen = 0;
    int answered = 0, close_reason = -2, turn = 0;
    mirror_dns_ctx_t ctx = s->ctx_tmpl;
    ctx.now = atomic_load_explicit(&s->now, memory_order_relaxed);
    ctx.peer = &c->peer;
    mirror_defences_t *def = s->conf.defences;
    mirror_qsbr_online(s->conf.qsbr, s->tcp_qid);
    while (c->len - off >= 2 && c->queued < s->pipeline) {
        size_t ml = (size_t)c->buf[off] << 8 | c->buf[off + 1];
        if (ml < 12) {
            /* no DNS message is that short: the peer is not speaking DNS */
            close_reason = MIRROR_TCP_CLOSE_NOT_DNS;
            break;
        }
        if (c->len - off < 2 + ml)
            break;
        if (turn++ == TCP_TURN) {
            ready_push(c);
            break;
        }
        mirror_dns_info_t info;
        atomic_fetch_add_explicit(&s->tcp_ctr.q, 1, memory_order_relaxed);
        size_t n = mirror_dns_answer_ex(&ctx, c->buf + off + 2, ml, s->tcp_out + 2,
                                        sizeof s->tcp_out - 2, 1, &info);
        if (def) {
            count_denied(s, &s->tcp_ctr, &info);
            if (def->qlog.sample && mirror_qlog_sampled(&def->qlog, &s->tcp_qlog_n))
                mirror_qlog_write(&def->qlog, &c->peer, 1, c->buf + off + 2, ml, &info, NULL,
                                  wall_ms());
        }
        off += 2 + ml;
        answered = 1;
        if (!n)
            continue;
        count_rc(&s->tcp_ctr, info.rcode);
        mirror_metrics_query(s->conf.metrics, 1, &info);
        atomic_fetch_add_explicit(&s->tcp_ctr.a, 1, memory_order_relaxed);
        s->tcp_out[0] = (uint8_t)(n >> 8);
        s->tcp_out[1] = (uint8_t)n;
        if (blen + n + 2 > sizeof s->tcp_batch && blen) {
            if (tcp_send(c, s->tcp_batch, blen)) {
                close_reason = MIRROR_TCP_CLOSE_SLOW_READER;
                break;
            }
            blen = 0;
        }
        if (n + 2 > sizeof s->tcp_batch) { /* a large answer goes on its own */
            if (tcp_send(c, s->tcp_out, n + 2)) {
                close_reason = MIRROR_TCP_CLOSE_SLOW_READER;
                break;
            }
            continue;
        }
        memcpy(s->tcp_batch + blen, s->tcp_out, n + 2);
        blen += n + 2;
    }
    mirror_qsbr_offline(s->conf.qsbr, s->tcp_qid);
    if (close_reason == -2 && blen && tcp_send(c, s->tcp_batch, blen))
        close_reason = MIRROR_TCP_CLOSE_SLOW_READER;
    if (close_reason != -2) {
        conn_close(c, close_reason);
        return;
    }
    if (off) {
        memmove(c->buf, c->buf + off, c->len - off);
        c->len -= off;
    }
    conn_settle(c, answered);
}

/* The next turn of every connection that had a backlog. */
static void ready_cb(uv_idle_t *h)
{
    mirror_server_t *s = h->data;
    tcp_conn_t *c = s->ready;
    s->ready = NULL;
    while (c) {
        tcp_conn_t *next = c->ready_next;
        c->ready_next = NULL;
        c->backlog = 0;
        if (!c->closing)
            conn_serve(c); /* may queue c again, behind the others */
        c = next;
    }
    if (!s->ready)
        uv_idle_stop(&s->ready_idle);
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    tcp_conn_t *c = st->data;
    (void)buf;
    if (nread == UV_EOF) {
        /* a half-close ends the queries, not the answers:
         * the ones queued are written before the connection closes */
        c->eof = 1;
        uv_read_stop(st);
        c->reading = 0;
        conn_settle(c, 0);
        return;
    }
    if (nread < 0) {
        conn_close(c, -1); /* reset */
        return;
    }
    if (nread == 0)
        return;
    c->len += (size_t)nread;
    conn_serve(c);
}

static void count_refused(mirror_server_t *s, int reason)
{
    atomic_fetch_add_explicit(&s->tcp_refused, 1, memory_order_relaxed);
    if (s->conf.metrics)
        bl_metrics_inc(s->conf.metrics->tcp_refused[reason]);
}

/* Makes room for one connection: closes the one that has waited longest,
 * for its next query (idle) or for the rest of one (partial). So a client
 * that just connected is not the first to go when attackers hold stalled
 * queries, and neither is one between queries when they hold idle
 * connections. Returns 0 when every connection is busy writing. */
static int evict_one(mirror_server_t *s)
{
    tcp_conn_t *i = s->idle.head, *p = s->partial.head;
    tcp_conn_t *v = !p || (i && i->since <= p->since) ? i : p;
    if (!v)
        return 0;
    conn_close(v, MIRROR_TCP_CLOSE_EVICTED);
    return 1;
}

/* Takes an accepted descriptor: refuses it (closes it at once) when its
 * client is at its limit, or when every slot is taken and none can be
 * evicted; otherwise serves it. */
static void conn_open(mirror_server_t *s, int fd, const struct sockaddr_storage *ss)
{
    mirror_client_key_t k;
    if (mirror_client_key((const struct sockaddr *)ss, &k)) {
        close(fd);
        return;
    }
    if (mirror_clients_count(&s->clients, &k) >= s->per_client) {
        close(fd);
        count_refused(s, MIRROR_TCP_REFUSE_CLIENT);
        return;
    }
    if (s->nconns >= s->max_conns && !evict_one(s)) {
        close(fd);
        count_refused(s, MIRROR_TCP_REFUSE_FULL);
        return;
    }
    tcp_conn_t *c = malloc(sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    memset(c, 0, offsetof(tcp_conn_t, buf));
    c->s = s;
    c->client = k;
    mirror_ip_from_sockaddr((const struct sockaddr *)ss, &c->peer);
    c->state = -1;
    uv_tcp_init(&s->loop, &c->h);
    uv_timer_init(&s->loop, &c->timer);
    c->h.data = c;
    c->timer.data = c;
    c->handles_open = 2;
    s->nconns++;
    mirror_clients_add(&s->clients, &k);
    if (s->conf.metrics)
        atomic_fetch_add(&s->conf.metrics->tcp_open_n, 1);
    if (uv_tcp_open(&c->h, fd)) {
        close(fd);
        conn_close(c, -1);
        return;
    }
    atomic_fetch_add_explicit(&s->tcp_conns, 1, memory_order_relaxed);
    if (s->conf.metrics)
        bl_metrics_inc(s->conf.metrics->tcp_accepted);
    uv_tcp_nodelay(&c->h, 1);
    conn_settle(c, 0);
}

static void listen_cb(uv_poll_t *p, int status, int events);

static void accept_resume_cb(uv_timer_t *t)
{
    mirror_server_t *s = t->data;
    for (size_t i = 0; i < s->nlisteners; i++)
        uv_poll_start(&s->listeners[i].poll, UV_READABLE, listen_cb);
}

/* accept() failed for want of descriptors (err EMFILE, ENFILE) or kernel
 * memory: stops polling the listeners for TCP_ACCEPT_PAUSE_MS, so the loop
 * does not spin on a connection it cannot take while it serves the open
 * ones (UDP needs no new descriptors). With the reserve descriptor freed for
 * a moment, the oldest waiting connection is accepted and closed, so that
 * its client learns at once instead of waiting in the backlog. */
static void accept_pause(mirror_server_t *s, tcp_listener_t *l, int err)
{
    int why = err == EMFILE   ? MIRROR_TCP_PAUSE_EMFILE
              : err == ENFILE ? MIRROR_TCP_PAUSE_ENFILE
                              : MIRROR_TCP_PAUSE_ENOMEM;
    if (s->reserve_fd >= 0 && (err == EMFILE || err == ENFILE)) {
        close(s->reserve_fd);
        int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
            close(fd);
            count_refused(s, MIRROR_TCP_REFUSE_FD);
        }
        s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    for (size_t i = 0; i < s->nlisteners; i++)
        uv_poll_stop(&s->listeners[i].poll);
    uv_timer_start(&s->accept_retry, accept_resume_cb, TCP_ACCEPT_PAUSE_MS, 0);
    atomic_fetch_add_explicit(&s->tcp_accept_pauses, 1, memory_order_relaxed);
    if (s->conf.metrics)
        bl_metrics_inc(s->conf.metrics->tcp_accept_pauses[why]);
    /* one warning per episode, however many pauses it takes */
    if (!s->pause_start) {
        s->pause_start = (int64_t)(bl_mono_ns() / 1000000) | 1;
        BL_WARN("tcp_accept_paused", "err=%s open=%u pause_ms=%d", strerror(err), s->nconns,
                TCP_ACCEPT_PAUSE_MS);
    }
    s->pause_count++;
}

static void listen_cb(uv_poll_t *p, int status, int events)
{
    tcp_listener_t *l = p->data;
    mirror_server_t *s = l->s;
    (void)events;
    if (status < 0)
        return;
    /* a bounded burst per wake-up: open connections get their turn */
    for (int i = 0; i < TCP_ACCEPT_BURST; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            if (s->pause_start) {
                BL_INFO("tcp_accept_resumed", "paused_ms=%" PRId64 " pauses=%u open=%u",
                        (int64_t)(bl_mono_ns() / 1000000) - s->pause_start, s->pause_count,
                        s->nconns);
                s->pause_start = 0;
                s->pause_count = 0;
            }
            conn_open(s, fd, &ss);
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            accept_pause(s, l, errno);
            return;
        }
        /* ECONNABORTED, EINTR, a network error on the new socket: next */
    }
}

/* A listening TCP socket: the inherited one (fd >= 0), made non-blocking
 * for the accept loop, or one of its own; 0 or -1 with err set. */
static int tcp_listen(mirror_server_t *s, const struct sockaddr_storage *ss, const char *a, int fd,
                      char *err, size_t errlen)
{
    tcp_listener_t *l = &s->listeners[s->nlisteners];
    int one = 1;
    l->s = s;
    if (fd >= 0) {
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK)) {
            snprintf(err, errlen, "%s: inherited tcp socket: %s", a, strerror(errno));
            return -1;
        }
        l->fd = fd;
        l->inherited = 1;
        goto poll;
    }
    l->fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (l->fd < 0) {
        snprintf(err, errlen, "%s: socket (tcp): %s", a, strerror(errno));
        return -1;
    }
    setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss->ss_family == AF_INET6)
        setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(l->fd, (const struct sockaddr *)ss, ss_len(ss)) || listen(l->fd, TCP_BACKLOG)) {
        snprintf(err, errlen, "%s: listen (tcp): %s", a, strerror(errno));
        close(l->fd);
        return -1;
    }
poll:
    uv_poll_init_socket(&s->loop, &l->poll, l->fd);
    l->poll.data = l;
    s->nlisteners++;
    uv_poll_start(&l->poll, UV_READABLE, listen_cb);
    return 0;
}

/* How many connections the descriptor limit leaves room for: RLIMIT_NOFILE
 * less the descriptors open now and MIRROR_TCP_FD_RESERVE for the rest of
 * the daemon (sync, metrics, persistence, the reserve descriptor). */
static unsigned tcp_fd_room(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY)
        return UINT_MAX;
    long open_now = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        while (readdir(d))
            open_now++;
        closedir(d);
        open_now -= 3; /* ".", ".." and the directory's own descriptor */
    }
    long room = (long)rl.rlim_cur - open_now - MIRROR_TCP_FD_RESERVE;
    return room < 1 ? 1 : room > (long)UINT_MAX ? UINT_MAX : (unsigned)room;
}

/* A seed for the client table's hash, unknown outside the process. */
static uint64_t seed64(void)
{
    uint64_t v;
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) != (ssize_t)sizeof v)
        v = bl_mono_ns() ^ (uint64_t)getpid() << 32;
    return v;
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
    if (h->data == arg || h->type == UV_POLL)
        uv_close(h, NULL); /* listeners, the wake-up handle and the accept timer */
    else
        conn_close(h->data, -1); /* connection sockets and their timers */
}

/* ---- sockets passed by the service manager ---- */

int mirror_server_inherited(mirror_inherited_t *out, unsigned max, char *err, size_t errlen)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    const char *names = getenv("LISTEN_FDNAMES");
    long n = 0;
    int rc = 0;
    if (pid && fds) {
        char *e1, *e2;
        long p = strtol(pid, &e1, 10), k = strtol(fds, &e2, 10);
        if (!*pid || *e1 || !*fds || *e2 || k < 0) {
            snprintf(err, errlen, "LISTEN_PID=%s LISTEN_FDS=%s: not numbers", pid, fds);
            rc = -1;
        } else if (p == (long)getpid()) { /* else they were meant for another process */
            if (k > (long)max) {
                snprintf(err, errlen, "LISTEN_FDS=%ld: more than %u sockets", k, max);
                rc = -1;
            } else {
                n = k;
            }
        }
    }
    for (long i = 0; !rc && i < n; i++) {
        mirror_inherited_t *in = &out[i];
        in->fd = 3 + (int)i;
        in->name[0] = 0;
        if (names) { /* "a:b:c": the i-th is the name of descriptor 3 + i */
            size_t len = strcspn(names, ":");
            snprintf(in->name, sizeof in->name, "%.*s", (int)len, names);
            names = names[len] ? names + len + 1 : NULL;
        }
        if (fcntl(in->fd, F_SETFD, FD_CLOEXEC)) {
            snprintf(err, errlen, "inherited descriptor %d: %s", in->fd, strerror(errno));
            rc = -1;
        }
    }
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    return rc ? -1 : (int)n;
}

static int same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return 0;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return a->ss_family == AF_INET6 && x->sin6_port == y->sin6_port &&
           !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr);
}

/* "1.2.3.4:53", "[::1]:53", as the listen setting writes them. */
static void addr_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
    char h[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const void *)ss;
        inet_ntop(AF_INET, &a->sin_addr, h, sizeof h);
        snprintf(buf, len, "%s:%u", h, ntohs(a->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const void *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, h, sizeof h);
        snprintf(buf, len, "[%s]:%u", h, ntohs(a->sin6_port));
    } else {
        snprintf(buf, len, "(address family %d)", ss->ss_family);
    }
}

/* Gives each inherited socket to the listen address it is bound to: udp[i]
 * and tcp[i] get the descriptor of address i (they stay -1 where none was
 * passed). A socket bound to no listen address, of another type, a second
 * one for the same address and protocol, or a TCP socket not listening is
 * an error that names it. */
static int match_inherited(mirror_server_t *s, const struct sockaddr_storage *addrs, int *udp,
                           int *tcp, char *err, size_t errlen)
{
    for (unsigned k = 0; k < s->conf.ninherited; k++) {
        const mirror_inherited_t *in = &s->conf.inherited[k];
        const char *name = in->name[0] ? in->name : "-";
        int type = 0, acc = 0;
        socklen_t tl = sizeof type, al = sizeof acc, sl = sizeof(struct sockaddr_storage);
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof ss);
        if (getsockopt(in->fd, SOL_SOCKET, SO_TYPE, &type, &tl) ||
            getsockname(in->fd, (struct sockaddr *)&ss, &sl)) {
            snprintf(err, errlen, "inherited descriptor %d (%s): %s", in->fd, name,
                     strerror(errno));
            return -1;
        }
        char a[INET6_ADDRSTRLEN + 16];
        addr_str(&ss, a, sizeof a);
        const char *proto = type == SOCK_DGRAM ? "udp" : type == SOCK_STREAM ? "tcp" : NULL;
        if (!proto) {
            snprintf(err, errlen, "inherited socket %d (%s, %s): neither UDP nor TCP", in->fd, name,
                     a);
            return -1;
        }
        unsigned i = 0;
        while (i < s->conf.nlisten && !same_addr(&addrs[i], &ss))
            i++;
        if (i == s->conf.nlisten) {
            snprintf(err, errlen,
                     "inherited socket %d (%s, %s %s) matches no listen address: the socket "
                     "unit's addresses must be listen addresses",
                     in->fd, name, proto, a);
            return -1;
        }
        int *slot = type == SOCK_DGRAM ? &udp[i] : &tcp[i];
        if (*slot >= 0) {
            snprintf(err, errlen, "inherited sockets %d and %d: both %s %s", *slot, in->fd, proto,
                     a);
            return -1;
        }
        if (type == SOCK_STREAM &&
            (getsockopt(in->fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &al) || !acc)) {
            snprintf(err, errlen, "inherited socket %d (%s, tcp %s): not listening", in->fd, name,
                     a);
            return -1;
        }
        *slot = in->fd;
        BL_INFO("socket_inherited", "fd=%d name=%s proto=%s addr=%s", in->fd, bl_log_q(name), proto,
                a);
    }
    return 0;
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
    s->reserve_fd = -1;
    /* the passed sockets are the server's from here, whatever happens */
    for (unsigned k = 0; k < conf->ninherited && k < MIRROR_INHERITED_MAX; k++)
        s->inherited[s->ninherited++] = conf->inherited[k].fd;
    s->conf.ninherited = s->ninherited;
    if (!s->conf.tcp_idle_ms)
        s->conf.tcp_idle_ms = 10000;
    s->per_client =
        conf->tcp_max_per_client ? conf->tcp_max_per_client : MIRROR_TCP_PER_CLIENT_DEFAULT;
    s->query_ms = conf->tcp_query_ms ? conf->tcp_query_ms : MIRROR_TCP_QUERY_MS_DEFAULT;
    if (s->query_ms > s->conf.tcp_idle_ms)
        s->query_ms = s->conf.tcp_idle_ms; /* a query begun never has longer than an idle wait */
    s->pipeline = conf->tcp_pipeline ? conf->tcp_pipeline : MIRROR_TCP_PIPELINE_DEFAULT;
    s->max_conns = conf->tcp_max_conns ? conf->tcp_max_conns : 1;
    unsigned room = tcp_fd_room();
    if (s->max_conns > room) {
        BL_WARN("tcp_connections_limited", "tcp_max_connections=%u effective=%u reason=%s",
                s->max_conns, room,
                bl_log_q("the descriptor limit (ulimit -n) leaves no room for more"));
        s->max_conns = room;
    }
    s->ctx_tmpl.zones = conf->zones;
    s->ctx_tmpl.nzones = conf->nzones;
    s->ctx_tmpl.udp_max = (uint16_t)(conf->udp_max < 512 ? 512 : conf->udp_max);
    mirror_defences_t *def = conf->defences;
    if (def) {
        s->ctx_tmpl.acl = &def->acl;
        if (def->nsid_len) {
            s->ctx_tmpl.nsid = def->nsid;
            s->ctx_tmpl.nsid_len = def->nsid_len;
        }
        if (def->has_identity) {
            s->ctx_tmpl.identity = def->identity;
            s->ctx_tmpl.identity_len = def->identity_len;
        }
    }
    atomic_store(&s->now, (int64_t)time(NULL));
    s->udp = calloc((size_t)conf->nlisten * conf->threads, sizeof *s->udp);
    s->listeners = calloc(conf->nlisten, sizeof *s->listeners);
    /* per listen address: its parsed form, its inherited UDP and TCP sockets */
    struct sockaddr_storage *addrs = calloc(conf->nlisten ? conf->nlisten : 1, sizeof *addrs);
    int *inh = malloc(2 * (conf->nlisten ? conf->nlisten : 1) * sizeof *inh);
    if (!s->udp || !s->listeners || !addrs || !inh ||
        mirror_clients_init(&s->clients, s->max_conns, seed64()) || uv_loop_init(&s->loop)) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    s->loop_ok = 1;
    uv_async_init(&s->loop, &s->wake, wake_cb);
    uv_idle_init(&s->loop, &s->ready_idle);
    s->ready_idle.data = s;
    s->wake.data = s;
    uv_timer_init(&s->loop, &s->accept_retry);
    s->accept_retry.data = s;
    s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    s->tcp_qid = mirror_qsbr_register(conf->qsbr);
    for (unsigned i = 0; i < conf->nlisten; i++) {
        inh[i] = inh[conf->nlisten + i] = -1;
        if (mirror_parse_hostport(conf->listen[i], &addrs[i])) {
            snprintf(err, errlen, "listen '%s': expected ADDR:PORT or [ADDR6]:PORT",
                     conf->listen[i]);
            goto fail;
        }
    }
    int *inh_udp = inh, *inh_tcp = inh + conf->nlisten;
    if (match_inherited(s, addrs, inh_udp, inh_tcp, err, errlen))
        goto fail;
    for (unsigned i = 0; i < conf->nlisten; i++) {
        const struct sockaddr_storage *ss = &addrs[i];
        if (inh_udp[i] >= 0 ? udp_adopt(inh_udp[i], err, errlen, conf->listen[i])
                            : udp_port_free(ss, err, errlen, conf->listen[i]))
            goto fail;
        for (unsigned t = 0; t < conf->threads; t++) {
            udp_thread_t *u = calloc(1, sizeof *u);
            if (!u) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            s->udp[s->nudp++] = u;
            u->s = s;
            u->inherited = inh_udp[i] >= 0;
            u->fd = u->inherited ? inh_udp[i] : udp_socket(ss, err, errlen, conf->listen[i]);
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
        if (tcp_listen(s, ss, conf->listen[i], inh_tcp[i], err, errlen))
            goto fail;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = udp_stop_handler; /* no SA_RESTART: the receive returns */
    sigemptyset(&sa.sa_mask);
    sigaction(UDP_STOP_SIGNAL, &sa, NULL);
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
    free(addrs);
    free(inh);
    *out = s;
    return 0;
fail:
    free(addrs);
    free(inh);
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
        st->rrl_dropped += atomic_load_explicit(&c->rrl_dropped, memory_order_relaxed);
        st->rrl_slipped += atomic_load_explicit(&c->rrl_slipped, memory_order_relaxed);
        for (int r = 0; r < 6; r++)
            st->rcode[r] += atomic_load_explicit(&c->rc[r], memory_order_relaxed);
    }
    for (size_t i = 0; i <= s->nudp; i++) {
        counters_t *c = i < s->nudp ? &s->udp[i]->ctr : &s->tcp_ctr;
        st->acl_refused += atomic_load_explicit(&c->acl_refused, memory_order_relaxed);
        st->acl_dropped += atomic_load_explicit(&c->acl_dropped, memory_order_relaxed);
    }
    st->tcp_queries = atomic_load(&s->tcp_ctr.q);
    st->tcp_answers = atomic_load(&s->tcp_ctr.a);
    for (int r = 0; r < 6; r++)
        st->rcode[r] += atomic_load(&s->tcp_ctr.rc[r]);
    st->tcp_conns = atomic_load(&s->tcp_conns);
    st->tcp_refused_conns = atomic_load(&s->tcp_refused);
    st->tcp_evicted = atomic_load(&s->tcp_evicted);
    st->tcp_timeouts = atomic_load(&s->tcp_timeouts);
    st->tcp_accept_pauses = atomic_load(&s->tcp_accept_pauses);
    st->tcp_max_conns = s->max_conns;
}

void mirror_server_stop(mirror_server_t *s)
{
    if (!s)
        return;
    atomic_store(&s->stop, 1);
    /* Shutting a socket down wakes its threads at once; an inherited one
     * stays as it is for the next process (udp_join's signal wakes its
     * threads). */
    for (size_t i = 0; i < s->nudp; i++)
        if (s->udp[i] && s->udp[i]->fd > 0 && !s->udp[i]->inherited)
            shutdown(s->udp[i]->fd, SHUT_RDWR);
    for (size_t i = 0; i < s->nudp; i++) {
        udp_thread_t *u = s->udp[i];
        if (!u)
            continue;
        if (u->started)
            udp_join(u);
        if (u->fd > 0 && !u->inherited)
            close(u->fd);
        free(u);
    }
    if (s->tcp_started) {
        uv_async_send(&s->wake);
        pthread_join(s->tcp_th, NULL);
    }
    if (s->loop_ok) {
        /* close everything left on the loop, then run it until the closes complete */
        uv_walk(&s->loop, walk_close_all, s);
        uv_run(&s->loop, UV_RUN_DEFAULT);
        uv_loop_close(&s->loop);
    }
    for (size_t i = 0; i < s->nlisteners; i++)
        if (!s->listeners[i].inherited)
            close(s->listeners[i].fd);
    for (unsigned k = 0; k < s->ninherited; k++)
        close(s->inherited[k]); /* this process's copy: the socket unit keeps its own */
    if (s->reserve_fd >= 0)
        close(s->reserve_fd);
    mirror_clients_free(&s->clients);
    free(s->udp);
    free(s->listeners);
    free(s);
}
