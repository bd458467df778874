/* SPDX-License-Identifier: MIT */
/* Quiescent-state based reclamation: free an old zone version once no DNS thread can hold it. */
#ifndef MIRROR_QSBR_H
#define MIRROR_QSBR_H

#include <stdatomic.h>
#include <stdint.h>

#define MIRROR_QSBR_MAX 256

/*
 * Each reader thread owns a slot. While "online" it may hold pointers to
 * published data; it goes online before it loads zone data for a batch of
 * packets and offline before it blocks. The writer publishes a new pointer,
 * then mirror_qsbr_synchronize() waits until every slot is offline or has
 * been online since the publication; only then is the old version freed.
 * Readers pay two stores per batch and never wait.
 */
typedef struct {
    _Atomic uint64_t ctr; /* 0 = offline, else the grace period seen when going online */
    char pad[56];
} mirror_qsbr_slot_t;

typedef struct {
    _Atomic uint64_t gp;
    atomic_int nslots;
    mirror_qsbr_slot_t slot[MIRROR_QSBR_MAX];
} mirror_qsbr_t;

void mirror_qsbr_init(mirror_qsbr_t *q);
/* Returns a slot id for a reader thread (offline), or -1 when full. */
int mirror_qsbr_register(mirror_qsbr_t *q);

static inline void mirror_qsbr_online(mirror_qsbr_t *q, int id)
{
    atomic_store(&q->slot[id].ctr, atomic_load(&q->gp));
    atomic_thread_fence(memory_order_seq_cst);
}
static inline void mirror_qsbr_offline(mirror_qsbr_t *q, int id)
{
    atomic_store_explicit(&q->slot[id].ctr, 0, memory_order_release);
}

/* Writer: waits until no reader can hold a pointer unpublished before the call. */
void mirror_qsbr_synchronize(mirror_qsbr_t *q);

#endif
