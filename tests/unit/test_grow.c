/* Unit tests for grow: doubling from the first size or the current room,
 * nothing done when the room suffices, and an overflowing size refused
 * with the array left as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>

#include "err.h"
#include "grow.h"

static void test_first_growth(void **state)
{
    (void)state;
    int *a = NULL;
    size_t cap = 0;
    assert_int_equal(grow_array((void **)&a, &cap, 1, sizeof *a, 16), DNSBL_OK);
    assert_non_null(a);
    assert_int_equal(cap, 16);
    free(a);

    /* first 0 means 1, doubled until it fits */
    a = NULL;
    cap = 0;
    assert_int_equal(grow_array((void **)&a, &cap, 5, sizeof *a, 0), DNSBL_OK);
    assert_int_equal(cap, 8);
    free(a);

    /* a need beyond first doubles first */
    a = NULL;
    cap = 0;
    assert_int_equal(grow_array((void **)&a, &cap, 100, sizeof *a, 16), DNSBL_OK);
    assert_int_equal(cap, 128);
    free(a);
}

static void test_doubles_and_keeps_contents(void **state)
{
    (void)state;
    int *a = NULL;
    size_t cap = 0, n = 0;
    for (int i = 0; i < 1000; i++) {
        size_t before = cap;
        assert_int_equal(grow_array((void **)&a, &cap, n + 1, sizeof *a, 4), DNSBL_OK);
        assert_true(cap >= n + 1);
        if (before)
            assert_true(cap == before || cap == 2 * before);
        a[n++] = i;
    }
    assert_int_equal(cap, 1024);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(a[i], i);

    /* enough room: nothing moves */
    int *same = a;
    assert_int_equal(grow_array((void **)&a, &cap, 1024, sizeof *a, 4), DNSBL_OK);
    assert_ptr_equal(a, same);
    assert_int_equal(cap, 1024);
    assert_int_equal(grow_array((void **)&a, &cap, 0, sizeof *a, 4), DNSBL_OK);
    assert_int_equal(cap, 1024);
    free(a);
}

static void test_overflow_is_refused(void **state)
{
    (void)state;
    char *a = malloc(8);
    assert_non_null(a);
    size_t cap = 8;
    assert_int_equal(grow_array((void **)&a, &cap, SIZE_MAX, 1, 8), DNSBL_ENOMEM);
    assert_int_equal(cap, 8);
    assert_int_equal(grow_array((void **)&a, &cap, SIZE_MAX / 64, 64, 8), DNSBL_ENOMEM);
    assert_int_equal(cap, 8);
    a[7] = 'x'; /* still the caller's 8 bytes */
    free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_growth),
        cmocka_unit_test(test_doubles_and_keeps_contents),
        cmocka_unit_test(test_overflow_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
