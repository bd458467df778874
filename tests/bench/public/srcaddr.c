/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD shim for the public page benchmark: every IPv4 TCP connection
 * to a loopback address is made from its own source address in
 * 127.S.0.0/16 (S = BENCH_SRC_NET, default 10), taken in turn, so that a
 * load tool with one address (wrk) looks like many clients to the server's
 * per-client rate limits and connection counts. Other sockets are left alone.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

static _Atomic unsigned next_host;

int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
    static int (*real)(int, const struct sockaddr *, socklen_t);
    if (!real)
        real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
    int type = 0;
    socklen_t tl = sizeof type;
    if (sa && sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in) &&
        (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127 &&
        getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_STREAM) {
        const char *net = getenv("BENCH_SRC_NET");
        unsigned s = net ? (unsigned)atoi(net) & 255 : 10;
        unsigned h = next_host++ % 65534 + 1; /* 127.S.0.1 .. 127.S.255.254 */
        struct sockaddr_in src = {.sin_family = AF_INET};
        src.sin_addr.s_addr = htonl((127u << 24) | (s << 16) | h);
        int one = 1;
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        bind(fd, (const struct sockaddr *)&src, sizeof src); /* on failure: the usual source */
    }
    return real(fd, sa, len);
}
