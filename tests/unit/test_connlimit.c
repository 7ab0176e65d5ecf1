/* Unit tests for connlimit's part in shedding idle TCP connections: which
 * limit a refused client hits (its own is checked first, so TOTAL means it
 * would fit if a slot were freed), and connlimit_replace, which hands one
 * connection's slot to a new client in one step. The counting itself is
 * tested in test_rrl.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "addr.h"
#include "connlimit.h"
#include "err.h"

static struct addr_prefix ip(const char *text)
{
    struct addr_prefix p;
    assert_int_equal(addr_parse(text, &p, NULL, 0), DNSBL_OK);
    return p;
}

static struct addr_prefix client(int k)
{
    struct addr_prefix p;
    uint8_t b[4] = {10, 1, (uint8_t)(k >> 8), (uint8_t)k};
    addr_from_bytes(&p, ADDR_V4, b, 32);
    return p;
}

static void test_connlimit_client_limit_first(void **state)
{
    (void)state;
    struct connlimit *c = NULL;
    assert_int_equal(connlimit_new(3, 2, &c), DNSBL_OK);
    struct addr_prefix a = ip("192.0.2.1"), b = ip("192.0.2.2");
    assert_int_equal(connlimit_acquire(c, &a), CONNLIMIT_OK);
    assert_int_equal(connlimit_acquire(c, &a), CONNLIMIT_OK);
    assert_int_equal(connlimit_acquire(c, &b), CONNLIMIT_OK);
    /* Full, and a has its two: a is over its own limit, b only the total. */
    assert_int_equal(connlimit_acquire(c, &a), CONNLIMIT_CLIENT);
    assert_int_equal(connlimit_acquire(c, &b), CONNLIMIT_TOTAL);
    assert_int_equal(connlimit_open(c, NULL), 3);
    connlimit_free(c);
}

static void test_connlimit_replace(void **state)
{
    (void)state;
    struct connlimit *c = NULL;
    assert_int_equal(connlimit_new(3, 2, &c), DNSBL_OK);
    struct addr_prefix a = ip("192.0.2.1"), b = ip("192.0.2.2"), d = ip("192.0.2.3");
    struct addr_prefix v6a = ip("2001:db8::1"), v6b = ip("2001:db8::2");
    assert_int_equal(connlimit_acquire(c, &a), CONNLIMIT_OK);
    assert_int_equal(connlimit_acquire(c, &a), CONNLIMIT_OK);
    assert_int_equal(connlimit_acquire(c, &b), CONNLIMIT_OK);
    assert_int_equal(connlimit_acquire(c, &d), CONNLIMIT_TOTAL);
    /* One of a's slots goes to d: the total stays, the counts move. */
    assert_int_equal(connlimit_replace(c, &a, &d), CONNLIMIT_OK);
    assert_int_equal(connlimit_open(c, NULL), 3);
    assert_int_equal(connlimit_open(c, &a), 1);
    assert_int_equal(connlimit_open(c, &d), 1);
    assert_int_equal(connlimit_replace(c, &b, &d), CONNLIMIT_OK);
    assert_int_equal(connlimit_open(c, &b), 0);
    assert_int_equal(connlimit_open(c, &d), 2);
    /* d has its two: refused, and nothing changes. */
    assert_int_equal(connlimit_replace(c, &a, &d), CONNLIMIT_CLIENT);
    assert_int_equal(connlimit_open(c, &a), 1);
    assert_int_equal(connlimit_open(c, &d), 2);
    assert_int_equal(connlimit_open(c, NULL), 3);
    /* ... unless the slot it takes over is its own. */
    assert_int_equal(connlimit_replace(c, &d, &d), CONNLIMIT_OK);
    assert_int_equal(connlimit_open(c, &d), 2);
    /* IPv6 per /64: v6b shares v6a's count. */
    assert_int_equal(connlimit_replace(c, &a, &v6a), CONNLIMIT_OK);
    assert_int_equal(connlimit_replace(c, &d, &v6b), CONNLIMIT_OK);
    assert_int_equal(connlimit_open(c, &v6a), 2);
    assert_int_equal(connlimit_replace(c, &d, &v6b), CONNLIMIT_CLIENT);
    assert_int_equal(connlimit_open(c, &a), 0);
    assert_int_equal(connlimit_open(c, &d), 1);
    assert_int_equal(connlimit_open(c, NULL), 3);
    connlimit_free(c);
}

/* A full table churned by replacing random connections with random
 * clients, as a flood being shed would: the counts must match a model and
 * stay findable through the deletions replace makes. */
static void test_connlimit_replace_churn(void **state)
{
    (void)state;
    enum { N = 200, TOTAL = 100, PER = 3 };
    struct connlimit *c = NULL;
    unsigned open[N] = {0};
    int held[TOTAL];
    assert_int_equal(connlimit_new(TOTAL, PER, &c), DNSBL_OK);
    for (int i = 0, k = 0; i < TOTAL; k++) {
        struct addr_prefix p = client(k % N);
        if (connlimit_acquire(c, &p) == CONNLIMIT_OK) {
            open[k % N]++;
            held[i++] = k % N;
        }
    }
    srand(4242);
    for (int round = 0; round < 20000; round++) {
        int slot = rand() % TOTAL, k = rand() % N;
        int was = held[slot];
        struct addr_prefix old = client(was), p = client(k);
        enum connlimit_verdict want = CONNLIMIT_TOTAL;
        if (connlimit_acquire(c, &p) == CONNLIMIT_CLIENT)
            want = CONNLIMIT_CLIENT;
        unsigned have = open[k] - (was == k ? 1 : 0);
        enum connlimit_verdict v = connlimit_replace(c, &old, &p);
        assert_int_equal(v, have >= PER ? CONNLIMIT_CLIENT : CONNLIMIT_OK);
        assert_true(want == CONNLIMIT_CLIENT ? open[k] >= PER : open[k] < PER);
        if (v == CONNLIMIT_OK) {
            open[was]--;
            open[k]++;
            held[slot] = k;
        }
        assert_int_equal(connlimit_open(c, NULL), TOTAL);
        assert_int_equal(connlimit_open(c, &p), open[k]);
        assert_int_equal(connlimit_open(c, &old), open[was]);
    }
    for (int k = 0; k < N; k++) {
        struct addr_prefix p = client(k);
        assert_int_equal(connlimit_open(c, &p), open[k]);
    }
    connlimit_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connlimit_client_limit_first),
        cmocka_unit_test(test_connlimit_replace),
        cmocka_unit_test(test_connlimit_replace_churn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
