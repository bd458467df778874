/* SPDX-License-Identifier: MIT */
/* What one UDP datagram costs the kernel here, with nothing else going on: a
 * single thread sends 64 datagrams of a typical answer's size to its own
 * loopback socket with one sendmmsg and reads them back with one recvmmsg,
 * over and over. No wake-up, no context switch, no DNS work: per datagram it
 * is exactly the kernel work a DNS server pays for one query on loopback
 * (receive the query; send the answer, including the client's receive path
 * that the sender runs). Prints CPU microseconds per datagram, five rounds.
 * Usage: udp_kernel_cost [SIZE]   (default 80 bytes) */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define BATCH 64
#define N     (BATCH * 4000)

static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    size_t size = argc > 1 ? (size_t)atoi(argv[1]) : 80;
    if (size < 1 || size > 1400) {
        fprintf(stderr, "SIZE is 1..1400\n");
        return 2;
    }
    int r = socket(AF_INET, SOCK_DGRAM, 0), s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    int big = 8 << 20;
    if (r < 0 || s < 0 || bind(r, (struct sockaddr *)&a, sizeof a) ||
        getsockname(r, (struct sockaddr *)&a, &al)) {
        perror("socket");
        return 1;
    }
    setsockopt(r, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    static char out[1400], in[BATCH][1500];
    memset(out, 0x5a, sizeof out);
    struct mmsghdr sm[BATCH], rm[BATCH];
    struct iovec siov[BATCH], riov[BATCH];
    memset(sm, 0, sizeof sm);
    memset(rm, 0, sizeof rm);
    for (int i = 0; i < BATCH; i++) {
        siov[i] = (struct iovec){out, size};
        sm[i].msg_hdr.msg_iov = &siov[i];
        sm[i].msg_hdr.msg_iovlen = 1;
        sm[i].msg_hdr.msg_name = &a;
        sm[i].msg_hdr.msg_namelen = sizeof a;
        riov[i] = (struct iovec){in[i], sizeof in[i]};
        rm[i].msg_hdr.msg_iov = &riov[i];
        rm[i].msg_hdr.msg_iovlen = 1;
    }
    for (int round = 1; round <= 5; round++) {
        long got = 0;
        double c0 = cpu_s();
        for (int i = 0; i < N / BATCH; i++) {
            if (sendmmsg(s, sm, BATCH, 0) != BATCH) {
                perror("sendmmsg");
                return 1;
            }
            int n = recvmmsg(r, rm, BATCH, MSG_DONTWAIT, NULL);
            got += n > 0 ? n : 0;
        }
        double c1 = cpu_s();
        if (got == 0) {
            fprintf(stderr, "nothing received\n");
            return 1;
        }
        printf("round %d: %.2f us CPU per datagram (%ld sent and received, %zu bytes)\n", round,
               (c1 - c0) * 1e6 / (double)got, got, size);
    }
    return 0;
}
