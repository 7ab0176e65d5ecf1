/* Unit tests for the limits on hostile traffic, without sockets: rrl (the
 * token bucket per client prefix, slip, prefixes, the clock), connlimit
 * (TCP connection counts in all and per client) and acl (longest prefix
 * wins, default allow). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acl.h"
#include "addr.h"
#include "connlimit.h"
#include "err.h"
#include "rrl.h"

#define T0 1000000 /* any monotonic start; the tables start full */

static struct addr_prefix ip(const char *text)
{
    struct addr_prefix p;
    assert_int_equal(addr_parse(text, &p, NULL, 0), DNSBL_OK);
    return p;
}

static struct rrl *make(unsigned rate, unsigned slip, unsigned v4, unsigned v6)
{
    struct rrl_settings s = {.rate = rate, .slip = slip, .ipv4_prefix = v4, .ipv6_prefix = v6};
    struct rrl *r = NULL;
    assert_int_equal(rrl_new(&s, 1024, 42, &r), DNSBL_OK);
    return r;
}

/* Verdicts for n answers to client at one instant: passes, drops, slips. */
static void burst(struct rrl *r, const char *client, unsigned n, uint64_t now, unsigned out[3])
{
    struct addr_prefix c = ip(client);
    out[0] = out[1] = out[2] = 0;
    for (unsigned i = 0; i < n; i++) {
        enum rrl_verdict v = rrl_check(r, &c, now);
        out[v == RRL_PASS ? 0 : v == RRL_DROP ? 1 : 2]++;
    }
}

static void test_rrl_settings_checked(void **state)
{
    (void)state;
    struct rrl *r = NULL;
    struct rrl_settings ok = {.rate = 5, .slip = 2, .ipv4_prefix = 24, .ipv6_prefix = 56};
    struct rrl_settings s = ok;
    s.rate = 0;
    assert_int_equal(rrl_new(&s, 1024, 1, &r), DNSBL_EINVAL);
    s = ok;
    s.ipv4_prefix = 33;
    assert_int_equal(rrl_new(&s, 1024, 1, &r), DNSBL_EINVAL);
    s = ok;
    s.ipv6_prefix = 129;
    assert_int_equal(rrl_new(&s, 1024, 1, &r), DNSBL_EINVAL);
    assert_int_equal(rrl_new(&ok, 1000, 1, &r), DNSBL_EINVAL); /* not a power of two */
    assert_int_equal(rrl_new(&ok, 0, 1, &r), DNSBL_EINVAL);
    assert_int_equal(rrl_new(&ok, 1, 1, &r), DNSBL_OK);
    rrl_free(r);
    rrl_free(NULL);
}

static void test_rrl_burst_then_rate(void **state)
{
    (void)state;
    struct rrl *r = make(10, 2, 24, 56);
    unsigned v[3];
    /* A full second's worth at once, then nothing more in that instant. */
    burst(r, "192.0.2.7", 30, T0, v);
    assert_int_equal(v[0], 10);
    assert_int_equal(v[1] + v[2], 20);
    /* 100 ms later one more token (10 a second). */
    burst(r, "192.0.2.7", 5, T0 + 100, v);
    assert_int_equal(v[0], 1);
    /* 99 ms: not yet a whole token; the 100th ms makes it one. */
    burst(r, "192.0.2.7", 1, T0 + 199, v);
    assert_int_equal(v[0], 0);
    burst(r, "192.0.2.7", 1, T0 + 200, v);
    assert_int_equal(v[0], 1);
    /* A second of silence fills the bucket again, never beyond one second. */
    burst(r, "192.0.2.7", 50, T0 + 5000, v);
    assert_int_equal(v[0], 10);
    /* A clock that goes back refills nothing. */
    burst(r, "192.0.2.7", 5, T0, v);
    assert_int_equal(v[0], 0);
    rrl_free(r);
}

static void test_rrl_steady_rate(void **state)
{
    (void)state;
    struct rrl *r = make(50, 0, 24, 56);
    struct addr_prefix c = ip("198.51.100.1");
    unsigned pass = 0;
    /* 10 s of one query a millisecond: the first second's burst, then 50 a second. */
    for (uint64_t ms = 0; ms < 10000; ms++)
        pass += rrl_check(r, &c, T0 + ms) == RRL_PASS;
    assert_true(pass >= 50 + 9 * 50 && pass <= 50 + 10 * 50 + 1);
    rrl_free(r);
}

static void test_rrl_slip(void **state)
{
    (void)state;
    unsigned v[3];
    struct rrl *r = make(5, 2, 24, 56); /* every second limited answer truncated */
    burst(r, "192.0.2.7", 105, T0, v);
    assert_int_equal(v[0], 5);
    assert_int_equal(v[1], 50);
    assert_int_equal(v[2], 50);
    rrl_free(r);

    r = make(5, 0, 24, 56); /* slip 0: always drop */
    burst(r, "192.0.2.7", 105, T0, v);
    assert_int_equal(v[2], 0);
    assert_int_equal(v[1], 100);
    rrl_free(r);

    r = make(5, 1, 24, 56); /* slip 1: always truncate */
    burst(r, "192.0.2.7", 105, T0, v);
    assert_int_equal(v[1], 0);
    assert_int_equal(v[2], 100);
    rrl_free(r);

    r = make(5, 3, 24, 56);
    burst(r, "192.0.2.7", 35, T0, v);
    assert_int_equal(v[2], 10);
    assert_int_equal(v[1], 20);
    rrl_free(r);
}

static void test_rrl_prefixes(void **state)
{
    (void)state;
    unsigned v[3];
    struct rrl *r = make(10, 0, 24, 56);
    burst(r, "192.0.2.1", 10, T0, v);
    assert_int_equal(v[0], 10);
    /* Same /24: the budget is shared and spent. */
    burst(r, "192.0.2.200", 1, T0, v);
    assert_int_equal(v[0], 0);
    /* Another /24 has its own (unless its bucket collides; not with this seed). */
    burst(r, "192.0.3.1", 10, T0, v);
    assert_int_equal(v[0], 10);
    /* IPv6: one /56 shares, the next /56 does not. */
    burst(r, "2001:db8:0:1::1", 10, T0, v);
    assert_int_equal(v[0], 10);
    burst(r, "2001:db8:0:ff::2", 1, T0, v);
    assert_int_equal(v[0], 0);
    burst(r, "2001:db8:0:100::1", 10, T0, v);
    assert_int_equal(v[0], 10);
    /* An IPv4-mapped client is the IPv4 one. */
    burst(r, "::ffff:192.0.2.9", 1, T0, v);
    assert_int_equal(v[0], 0);
    rrl_free(r);

    r = make(10, 0, 32, 128);
    burst(r, "127.0.0.1", 20, T0, v);
    assert_int_equal(v[0], 10);
    burst(r, "127.0.0.2", 10, T0, v);
    assert_int_equal(v[0], 10);
    rrl_free(r);

    struct rrl_settings s = {.rate = 1, .ipv4_prefix = 24, .ipv6_prefix = 56};
    struct addr_prefix c = ip("192.0.2.77"), p = rrl_prefix(&s, &c);
    char text[ADDR_TEXT_MAX];
    addr_format(&p, text, sizeof text);
    assert_string_equal(text, "192.0.2.0/24");
    c = ip("2001:db8:aa:bbcc::1");
    p = rrl_prefix(&s, &c);
    addr_format(&p, text, sizeof text);
    assert_string_equal(text, "2001:db8:aa:bb00::/56");
}

/* A table of one bucket: every prefix collides, and they share it. */
static void test_rrl_collisions_share(void **state)
{
    (void)state;
    struct rrl_settings s = {.rate = 4, .slip = 0, .ipv4_prefix = 24, .ipv6_prefix = 56};
    struct rrl *r = NULL;
    unsigned v[3];
    assert_int_equal(rrl_new(&s, 1, 7, &r), DNSBL_OK);
    burst(r, "192.0.2.1", 2, T0, v);
    burst(r, "203.0.113.1", 4, T0, v);
    assert_int_equal(v[0], 2);
    rrl_free(r);
}

static void test_connlimit(void **state)
{
    (void)state;
    struct connlimit *c = NULL;
    assert_int_equal(connlimit_new(0, 1, &c), DNSBL_EINVAL);
    assert_int_equal(connlimit_new(5, 2, &c), DNSBL_OK);
    struct addr_prefix a = ip("192.0.2.1"), b = ip("192.0.2.2"), d = ip("192.0.2.3");
    struct addr_prefix v6a = ip("2001:db8::1"), v6b = ip("2001:db8::ffff:2");
    assert_int_equal(connlimit_acquire(c, &a), CONNLIMIT_OK);
    assert_int_equal(connlimit_acquire(c, &a), CONNLIMIT_OK);
    assert_int_equal(connlimit_acquire(c, &a), CONNLIMIT_CLIENT);
    assert_int_equal(connlimit_open(c, &a), 2);
    assert_int_equal(connlimit_acquire(c, &b), CONNLIMIT_OK);
    /* IPv6 counts per /64: two addresses of one /64 share. */
    assert_int_equal(connlimit_acquire(c, &v6a), CONNLIMIT_OK);
    assert_int_equal(connlimit_acquire(c, &v6b), CONNLIMIT_OK);
    assert_int_equal(connlimit_open(c, NULL), 5);
    assert_int_equal(connlimit_acquire(c, &d), CONNLIMIT_TOTAL);
    connlimit_release(c, &v6a);
    assert_int_equal(connlimit_acquire(c, &d), CONNLIMIT_OK);
    assert_int_equal(connlimit_acquire(c, &v6b), CONNLIMIT_TOTAL);
    connlimit_release(c, &a);
    connlimit_release(c, &a);
    connlimit_release(c, &a); /* one too many: ignored */
    assert_int_equal(connlimit_open(c, &a), 0);
    assert_int_equal(connlimit_open(c, NULL), 3);
    assert_int_equal(connlimit_open(c, &b), 1);
    assert_int_equal(connlimit_open(c, &d), 1);
    connlimit_free(c);
}

/* Many clients in a small table (at most half full, with runs of
 * collisions): deletions must keep every count findable. */
static void test_connlimit_churn(void **state)
{
    (void)state;
    struct connlimit *c = NULL;
    enum { N = 300, TOTAL = 256 };
    unsigned open[N] = {0}, total = 0;
    assert_int_equal(connlimit_new(TOTAL, 3, &c), DNSBL_OK);
    srand(12345);
    for (int round = 0; round < 50000; round++) {
        int k = rand() % N;
        struct addr_prefix p;
        uint8_t b[4] = {10, 0, (uint8_t)(k >> 8), (uint8_t)k};
        addr_from_bytes(&p, ADDR_V4, b, 32);
        if (rand() % 2 == 0) {
            enum connlimit_verdict v = connlimit_acquire(c, &p);
            assert_int_equal(v, open[k] >= 3     ? CONNLIMIT_CLIENT
                                : total >= TOTAL ? CONNLIMIT_TOTAL
                                                 : CONNLIMIT_OK);
            if (v == CONNLIMIT_OK) {
                open[k]++;
                total++;
            }
        } else if (open[k] > 0) {
            connlimit_release(c, &p);
            open[k]--;
            total--;
        }
        assert_int_equal(connlimit_open(c, &p), open[k]);
        assert_int_equal(connlimit_open(c, NULL), total);
    }
    for (int k = 0; k < N; k++) {
        struct addr_prefix p;
        uint8_t b[4] = {10, 0, (uint8_t)(k >> 8), (uint8_t)k};
        addr_from_bytes(&p, ADDR_V4, b, 32);
        assert_int_equal(connlimit_open(c, &p), open[k]);
    }
    connlimit_free(c);
}

static void test_acl_longest_prefix_wins(void **state)
{
    (void)state;
    struct acl a;
    acl_init(&a);
    assert_int_equal(a.error_code, 0x7ffffffe);
    assert_int_equal(a.error_ttl, 60);
    struct addr_prefix c = ip("192.0.2.7");
    assert_int_equal(acl_match(&a, &c), ACL_ALLOW); /* no rules: everybody */

    struct addr_prefix all4 = ip("0.0.0.0/0"), net = ip("192.0.2.0/24"), host = ip("192.0.2.7");
    struct addr_prefix all6 = ip("::/0"), v6net = ip("2001:db8::/32");
    assert_int_equal(acl_add(&a, &all4, ACL_REFUSE), DNSBL_OK);
    assert_int_equal(acl_add(&a, &host, ACL_ALLOW), DNSBL_OK);
    assert_int_equal(acl_add(&a, &net, ACL_ERROR), DNSBL_OK);
    assert_int_equal(acl_add(&a, &v6net, ACL_ERROR), DNSBL_OK);
    assert_int_equal(acl_add(&a, &net, ACL_ALLOW), DNSBL_EINVAL); /* twice */
    assert_int_equal(acl_match(&a, &c), ACL_ALLOW);
    c = ip("192.0.2.8");
    assert_int_equal(acl_match(&a, &c), ACL_ERROR);
    c = ip("198.51.100.1");
    assert_int_equal(acl_match(&a, &c), ACL_REFUSE);
    c = ip("::ffff:198.51.100.1");
    assert_int_equal(acl_match(&a, &c), ACL_REFUSE);
    c = ip("2001:db8::1");
    assert_int_equal(acl_match(&a, &c), ACL_ERROR);
    c = ip("2001:db9::1");
    assert_int_equal(acl_match(&a, &c), ACL_ALLOW); /* no IPv6 rule covers it */
    assert_int_equal(acl_add(&a, &all6, ACL_REFUSE), DNSBL_OK);
    assert_int_equal(acl_match(&a, &c), ACL_REFUSE);
    assert_string_equal(acl_action_name(ACL_ERROR), "error");

    for (int i = a.n; i < ACL_RULES_MAX; i++) {
        struct addr_prefix p;
        uint8_t b[4] = {10, (uint8_t)(i >> 8), (uint8_t)i, 0};
        addr_from_bytes(&p, ADDR_V4, b, 24);
        assert_int_equal(acl_add(&a, &p, ACL_ALLOW), DNSBL_OK);
    }
    assert_int_equal(acl_add(&a, &host, ACL_ALLOW), DNSBL_EINVAL);
    struct addr_prefix more = ip("203.0.113.0/24");
    assert_int_equal(acl_add(&a, &more, ACL_ALLOW), DNSBL_ESPACE);
    c = ip("192.0.2.7");
    assert_int_equal(acl_match(&a, &c), ACL_ALLOW);
    c = ip("192.0.2.9");
    assert_int_equal(acl_match(&a, &c), ACL_ERROR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rrl_settings_checked),
        cmocka_unit_test(test_rrl_burst_then_rate),
        cmocka_unit_test(test_rrl_steady_rate),
        cmocka_unit_test(test_rrl_slip),
        cmocka_unit_test(test_rrl_prefixes),
        cmocka_unit_test(test_rrl_collisions_share),
        cmocka_unit_test(test_connlimit),
        cmocka_unit_test(test_connlimit_churn),
        cmocka_unit_test(test_acl_longest_prefix_wins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
