/* SPDX-License-Identifier: MIT */
/* The floor of the CPU-per-query benchmark: a UDP "server" that does no DNS
 * work at all. It answers each query with the query itself (QR set, rcode
 * REFUSED), through the same recvmmsg/sendmmsg calls as blsync-mirror, so its
 * CPU time per answered query is what the kernel's socket path alone costs on
 * loopback, including the client's receive path that the sender pays for.
 * Usage: udp_floor PORT [PAUSE_US]   (binds 127.0.0.1; runs until killed) */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: udp_floor PORT [PAUSE_US]\n");
        return 2;
    }
    int port = atoi(argv[1]);
    long pause_us = argc > 2 ? atol(argv[2]) : 0;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a)) {
        perror("udp_floor: bind");
        return 1;
    }
    static unsigned char buf[BATCH][512];
    struct sockaddr_in from[BATCH];
    struct iovec iov[BATCH];
    struct mmsghdr m[BATCH];
    for (;;) {
        for (int i = 0; i < BATCH; i++) {
            iov[i] = (struct iovec){buf[i], sizeof buf[i]};
            memset(&m[i], 0, sizeof m[i]);
            m[i].msg_hdr.msg_name = &from[i];
            m[i].msg_hdr.msg_namelen = sizeof from[i];
            m[i].msg_hdr.msg_iov = &iov[i];
            m[i].msg_hdr.msg_iovlen = 1;
        }
        int n = recvmmsg(fd, m, BATCH, MSG_WAITFORONE, NULL);
        if (n <= 0)
            continue;
        for (int i = 0; i < n; i++) {
            if (m[i].msg_len >= 4) {
                buf[i][2] |= 0x80;                                   /* QR */
                buf[i][3] = (unsigned char)((buf[i][3] & 0xf0) | 5); /* REFUSED */
            }
            iov[i].iov_len = m[i].msg_len;
        }
        for (int s = 0; s < n;) {
            int r = sendmmsg(fd, m + s, (unsigned)(n - s), 0);
            if (r <= 0)
                break;
            s += r;
        }
        if (pause_us) {
            struct timespec ts = {0, pause_us * 1000};
            nanosleep(&ts, NULL);
        }
    }
}
