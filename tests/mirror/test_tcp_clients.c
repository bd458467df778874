/* SPDX-License-Identifier: MIT */
/* Unit tests of the per-client TCP connection table: keys (IPv4, IPv6 /64,
 * IPv4-mapped), and counts that match a plain array through random opens and
 * closes, with colliding keys and slots freed in every order. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "test.h"

#include "tcp_clients.h"

/* The key of an IPv4 or IPv6 address written as text. */
static mirror_client_key_t key(const char *a)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (strchr(a, ':')) {
        s6->sin6_family = AF_INET6;
        ASSERT_EQ(inet_pton(AF_INET6, a, &s6->sin6_addr), 1);
    } else {
        s4->sin_family = AF_INET;
        ASSERT_EQ(inet_pton(AF_INET, a, &s4->sin_addr), 1);
    }
    mirror_client_key_t k;
    ASSERT_EQ(mirror_client_key((struct sockaddr *)&ss, &k), 0);
    return k;
}

static void test_keys(void)
{
    mirror_client_key_t a = key("127.0.0.2"), b = key("127.0.0.3"), m = key("::ffff:127.0.0.2");
    ASSERT(memcmp(&a, &b, sizeof a));
    ASSERT_MEMEQ(&a, &m, sizeof a); /* IPv4-mapped: the same client */
    mirror_client_key_t x = key("2001:db8:1:2::1"), y = key("2001:db8:1:2:ffff::9"),
                        z = key("2001:db8:1:3::1");
    ASSERT_MEMEQ(&x, &y, sizeof x); /* one /64 */
    ASSERT(memcmp(&x, &z, sizeof x));
    struct sockaddr un = {.sa_family = AF_UNIX};
    ASSERT_EQ(mirror_client_key(&un, &x), -1);
}

static void test_counts(void)
{
    enum { MAXC = 100, KEYS = 300 };
    mirror_clients_t t;
    /* 300 keys coming and going in a table sized for 100 clients: long
     * probe runs, slots freed in every order */
    ASSERT_EQ(mirror_clients_init(&t, MAXC, 0), 0);
    mirror_client_key_t keys[KEYS];
    for (int i = 0; i < KEYS; i++) {
        char a[32];
        snprintf(a, sizeof a, "10.%d.%d.1", i / 256, i % 256);
        keys[i] = key(a);
    }
    unsigned model[KEYS] = {0};
    unsigned open = 0, clients = 0;
    uint64_t s = 42;
    for (int step = 0; step < 200000; step++) {
        int i = (int)(bl_test_rand(&s) % KEYS);
        int add = bl_test_rand(&s) % 2 && open < 400;
        if (add && (model[i] || clients < MAXC)) {
            ASSERT_EQ(mirror_clients_add(&t, &keys[i]), model[i] + 1);
            clients += !model[i];
            model[i]++;
            open++;
        } else if (!add && model[i]) {
            mirror_clients_del(&t, &keys[i]);
            model[i]--;
            clients -= !model[i];
            open--;
        }
        int j = (int)(bl_test_rand(&s) % KEYS);
        ASSERT_EQ(mirror_clients_count(&t, &keys[j]), model[j]);
        ASSERT_EQ(t.used, clients);
    }
    for (int i = 0; i < KEYS; i++)
        ASSERT_EQ(mirror_clients_count(&t, &keys[i]), model[i]);
    mirror_clients_free(&t);
}

static void test_full(void)
{
    mirror_clients_t t;
    ASSERT_EQ(mirror_clients_init(&t, 4, 7), 0);
    /* capacity 16: half of it is the most it takes */
    int added = 0;
    for (int i = 0; i < 20; i++) {
        char a[32];
        snprintf(a, sizeof a, "192.0.2.%d", i);
        mirror_client_key_t k = key(a);
        if (mirror_clients_add(&t, &k))
            added++;
    }
    ASSERT_EQ(added, 8);
    mirror_clients_free(&t);
}

int main(void)
{
    RUN(test_keys);
    RUN(test_counts);
    RUN(test_full);
    return 0;
}
