/* Unit tests for acl: the longest covering prefix decides, no rule means
 * allow, a prefix gets one rule, the table is bounded, and the defaults of
 * the error answer (README "Configuration file", acl). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "acl.h"
#include "addr.h"
#include "err.h"

static struct addr_prefix pfx(const char *text)
{
    struct addr_prefix p;
    char why[128];
    if (addr_parse(text, &p, why, sizeof why) != DNSBL_OK)
        fail_msg("addr_parse %s: %s", text, why);
    return p;
}

static int add(struct acl *a, const char *text, enum acl_action action)
{
    struct addr_prefix p = pfx(text);
    return acl_add(a, &p, action);
}

static enum acl_action match(const struct acl *a, const char *client)
{
    struct addr_prefix c = pfx(client);
    return acl_match(a, &c);
}

static void test_init_allows_everybody(void **state)
{
    (void)state;
    struct acl a;
    memset(&a, 0xee, sizeof a);
    acl_init(&a);
    assert_int_equal(a.n, 0);
    assert_int_equal(a.error_code, ACL_DEFAULT_ERROR_CODE);
    assert_int_equal(a.error_code, 0x7ffffffe); /* 127.255.255.254 */
    assert_int_equal(a.error_ttl, ACL_DEFAULT_ERROR_TTL);
    assert_string_equal(a.error_txt, ACL_DEFAULT_ERROR_TXT);
    assert_int_equal(match(&a, "192.0.2.1"), ACL_ALLOW);
    assert_int_equal(match(&a, "2001:db8::1"), ACL_ALLOW);
}

static void test_longest_prefix_decides(void **state)
{
    (void)state;
    struct acl a;
    acl_init(&a);
    /* added shortest first: the order of adding must not matter */
    assert_int_equal(add(&a, "0.0.0.0/0", ACL_ERROR), DNSBL_OK);
    assert_int_equal(add(&a, "198.51.100.0/24", ACL_REFUSE), DNSBL_OK);
    assert_int_equal(add(&a, "198.51.100.7", ACL_ALLOW), DNSBL_OK);
    assert_int_equal(add(&a, "198.51.100.128/25", ACL_ALLOW), DNSBL_OK);
    assert_int_equal(add(&a, "2001:db8::/32", ACL_REFUSE), DNSBL_OK);
    assert_int_equal(a.n, 5);
    for (size_t i = 1; i < a.n; i++)
        assert_true(a.rules[i - 1].prefix.plen >= a.rules[i].prefix.plen);

    assert_int_equal(match(&a, "198.51.100.7"), ACL_ALLOW);
    assert_int_equal(match(&a, "198.51.100.8"), ACL_REFUSE);
    assert_int_equal(match(&a, "198.51.100.200"), ACL_ALLOW);
    assert_int_equal(match(&a, "203.0.113.1"), ACL_ERROR);
    assert_int_equal(match(&a, "2001:db8:1::1"), ACL_REFUSE);
    /* no IPv6 rule covers this one: the IPv4 /0 does not either */
    assert_int_equal(match(&a, "2001:db9::1"), ACL_ALLOW);
}

static void test_one_rule_per_prefix(void **state)
{
    (void)state;
    struct acl a;
    acl_init(&a);
    assert_int_equal(add(&a, "192.0.2.0/24", ACL_REFUSE), DNSBL_OK);
    /* the same prefix, handed over with host bits set: still the same prefix */
    struct addr_prefix host = pfx("192.0.2.99");
    host.plen = 24;
    assert_int_equal(acl_add(&a, &host, ACL_ALLOW), DNSBL_EINVAL);
    assert_int_equal(a.n, 1);
    assert_int_equal(match(&a, "192.0.2.99"), ACL_REFUSE);
    /* the stored rule is masked */
    struct addr_prefix want = pfx("192.0.2.0/24");
    assert_int_equal(addr_compare(&a.rules[0].prefix, &want), 0);
}

static void test_table_is_bounded(void **state)
{
    (void)state;
    static struct acl a;
    acl_init(&a);
    char text[64];
    for (unsigned i = 0; i < ACL_RULES_MAX; i++) {
        snprintf(text, sizeof text, "10.%u.%u.0/24", i / 256, i % 256);
        assert_int_equal(add(&a, text, i % 2 ? ACL_REFUSE : ACL_ERROR), DNSBL_OK);
    }
    assert_int_equal(add(&a, "192.0.2.0/24", ACL_REFUSE), DNSBL_ESPACE);
    assert_int_equal(a.n, ACL_RULES_MAX);
    assert_int_equal(match(&a, "10.0.1.5"), ACL_REFUSE);
    assert_int_equal(match(&a, "10.0.2.5"), ACL_ERROR);
    assert_int_equal(match(&a, "192.0.2.1"), ACL_ALLOW);
}

static void test_action_names(void **state)
{
    (void)state;
    assert_string_equal(acl_action_name(ACL_ALLOW), "allow");
    assert_string_equal(acl_action_name(ACL_REFUSE), "refuse");
    assert_string_equal(acl_action_name(ACL_ERROR), "error");
    assert_string_equal(acl_action_name((enum acl_action)42), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_allows_everybody),
        cmocka_unit_test(test_longest_prefix_decides),
        cmocka_unit_test(test_one_rule_per_prefix),
        cmocka_unit_test(test_table_is_bounded),
        cmocka_unit_test(test_action_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
