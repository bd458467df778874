/* SPDX-License-Identifier: MIT */
/* Quiescent-state based reclamation: free an old zone version once no DNS thread can hold it. */
#include "qsbr.h"

#include <string.h>
#include <time.h>

void mirror_qsbr_init(mirror_qsbr_t *q)
{
    memset(q, 0, sizeof *q);
    atomic_store(&q->gp, 1);
}

int mirror_qsbr_register(mirror_qsbr_t *q)
{
    int id = atomic_fetch_add(&q->nslots, 1);
    if (id >= MIRROR_QSBR_MAX)
        return -1;
    atomic_store(&q->slot[id].ctr, 0);
    return id;
}

void mirror_qsbr_synchronize(mirror_qsbr_t *q)
{
    atomic_thread_fence(memory_order_seq_cst);
    uint64_t g = atomic_fetch_add(&q->gp, 1) + 1;
    int n = atomic_load(&q->nslots);
    if (n > MIRROR_QSBR_MAX)
        n = MIRROR_QSBR_MAX;
    for (int i = 0; i < n; i++) {
        for (;;) {
            uint64_t c = atomic_load(&q->slot[i].ctr);
            if (c == 0 || c >= g)
                break;
            struct timespec ts = {0, 50000};
            nanosleep(&ts, NULL);
        }
    }
}
