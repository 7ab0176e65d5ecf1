/* Unit tests for err: every code has its own text, and a value that is no
 * code still gets one (messages never print NULL). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "err.h"

static const int codes[] = {
    DNSBL_OK,  DNSBL_ENOMEM,  DNSBL_EINVAL, DNSBL_ENOENT,   DNSBL_ESTORE,
    DNSBL_EIO, DNSBL_ESCHEMA, DNSBL_ESPACE, DNSBL_EREFUSED, DNSBL_EBUSY,
};
#define NCODES (sizeof codes / sizeof codes[0])

static void test_every_code_has_its_own_text(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCODES; i++) {
        const char *t = dnsbl_strerror(codes[i]);
        assert_non_null(t);
        assert_true(strlen(t) > 0);
        assert_string_not_equal(t, "unknown error");
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(t, dnsbl_strerror(codes[j]));
    }
    assert_string_equal(dnsbl_strerror(DNSBL_OK), "success");
    assert_string_equal(dnsbl_strerror(DNSBL_EREFUSED), "refused");
}

static void test_codes_are_zero_or_negative(void **state)
{
    (void)state;
    /* Functions return a code or a count: a code must never look like a count. */
    for (size_t i = 1; i < NCODES; i++)
        assert_true(codes[i] < 0);
}

static void test_unknown_values(void **state)
{
    (void)state;
    assert_string_equal(dnsbl_strerror(1), "unknown error");
    assert_string_equal(dnsbl_strerror(-100), "unknown error");
    assert_string_equal(dnsbl_strerror(DNSBL_EBUSY - 1), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_has_its_own_text),
        cmocka_unit_test(test_codes_are_zero_or_negative),
        cmocka_unit_test(test_unknown_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
