/* Unit tests for tcpframe: the length prefix of DNS over TCP, read from
 * buffers that hold less than, exactly, and more than one frame. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "tcpframe.h"

static void test_size(void **state)
{
    (void)state;
    const uint8_t b[] = {0x01, 0x02};
    assert_int_equal(tcpframe_size(b, 0), 0);
    assert_int_equal(tcpframe_size(b, 1), 0);
    assert_int_equal(tcpframe_size(b, 2), 2 + 0x0102);
    const uint8_t max[] = {0xff, 0xff};
    assert_int_equal(tcpframe_size(max, 2), TCPFRAME_MAX);
}

static void test_next(void **state)
{
    (void)state;
    /* two frames, the second cut short */
    const uint8_t b[] = {0, 3, 'a', 'b', 'c', 0, 4, 'x', 'y'};
    struct tcpframe f;
    for (size_t len = 0; len < 5; len++)
        assert_false(tcpframe_next(b, len, &f));
    assert_true(tcpframe_next(b, 5, &f));
    assert_ptr_equal(f.msg, b + 2);
    assert_int_equal(f.len, 3);
    assert_int_equal(f.used, 5);
    assert_true(tcpframe_next(b, sizeof b, &f)); /* more than one frame: the first */
    assert_int_equal(f.used, 5);
    assert_false(tcpframe_next(b + 5, sizeof b - 5, &f));

    /* an empty message is a frame too: the caller decides what it means */
    const uint8_t empty[] = {0, 0, 0, 1, 'z'};
    assert_true(tcpframe_next(empty, sizeof empty, &f));
    assert_int_equal(f.len, 0);
    assert_int_equal(f.used, 2);
    assert_true(tcpframe_next(empty + 2, 3, &f));
    assert_int_equal(f.len, 1);
    assert_int_equal(f.msg[0], 'z');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_size),
        cmocka_unit_test(test_next),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
