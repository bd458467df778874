/* SPDX-License-Identifier: MIT */
/* What one sleep and wake-up costs the thread that sleeps: nanosleep, ppoll
 * and a periodic timerfd for 300 us (what a coalescing pause does), next to a
 * null system call. A UDP server that blocks once per query pays this per
 * query; one that blocks once per batch pays it per batch. Prints the CPU
 * time (CLOCK_THREAD_CPUTIME_ID) and wall time per call.
 * Usage: wake_cost [COUNT]   (default 3000) */
#define _GNU_SOURCE
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static double clk(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 3000;
    if (n < 1)
        n = 3000;
    struct timespec ts = {0, 300000};
    double c0 = clk(CLOCK_THREAD_CPUTIME_ID), w0 = clk(CLOCK_MONOTONIC);
    for (int i = 0; i < n; i++)
        nanosleep(&ts, NULL);
    printf("nanosleep 300 us: %.2f us CPU, %.0f us wall per call\n",
           (clk(CLOCK_THREAD_CPUTIME_ID) - c0) / n, (clk(CLOCK_MONOTONIC) - w0) / n);
    c0 = clk(CLOCK_THREAD_CPUTIME_ID), w0 = clk(CLOCK_MONOTONIC);
    for (int i = 0; i < n; i++)
        ppoll(NULL, 0, &ts, NULL);
    printf("ppoll 300 us: %.2f us CPU, %.0f us wall per call\n",
           (clk(CLOCK_THREAD_CPUTIME_ID) - c0) / n, (clk(CLOCK_MONOTONIC) - w0) / n);
    int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec it = {{0, 300000}, {0, 300000}};
    if (tfd < 0 || timerfd_settime(tfd, 0, &it, NULL)) {
        perror("timerfd");
        return 1;
    }
    uint64_t x;
    c0 = clk(CLOCK_THREAD_CPUTIME_ID), w0 = clk(CLOCK_MONOTONIC);
    for (int i = 0; i < n; i++)
        if (read(tfd, &x, sizeof x) != sizeof x)
            return 1;
    printf("timerfd every 300 us: %.2f us CPU, %.0f us wall per call\n",
           (clk(CLOCK_THREAD_CPUTIME_ID) - c0) / n, (clk(CLOCK_MONOTONIC) - w0) / n);
    c0 = clk(CLOCK_THREAD_CPUTIME_ID);
    for (int i = 0; i < n * 10; i++)
        syscall(SYS_getppid);
    printf("null system call: %.2f us CPU per call\n",
           (clk(CLOCK_THREAD_CPUTIME_ID) - c0) / (n * 10));
    return 0;
}
