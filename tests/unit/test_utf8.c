/* Unit tests for utf8: the boundaries of RFC 3629's table of well-formed
 * sequences, cut-off input, and not reading past a failing byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "utf8.h"

static size_t len_of(const char *s, size_t n)
{
    return utf8_seq_len((const uint8_t *)s, n);
}

static void test_well_formed(void **state)
{
    (void)state;
    assert_int_equal(len_of("a", 1), 1);
    assert_int_equal(len_of("\x7f", 1), 1);
    assert_int_equal(len_of("\xc2\x80", 2), 2);         /* U+0080 */
    assert_int_equal(len_of("\xdf\xbf", 2), 2);         /* U+07FF */
    assert_int_equal(len_of("\xe0\xa0\x80", 3), 3);     /* U+0800 */
    assert_int_equal(len_of("\xed\x9f\xbf", 3), 3);     /* U+D7FF */
    assert_int_equal(len_of("\xef\xbf\xbf", 3), 3);     /* U+FFFF */
    assert_int_equal(len_of("\xf0\x90\x80\x80", 4), 4); /* U+10000 */
    assert_int_equal(len_of("\xf4\x8f\xbf\xbf", 4), 4); /* U+10FFFF */
}

static void test_ill_formed(void **state)
{
    (void)state;
    assert_int_equal(len_of("\x80", 1), 0);     /* a lone continuation */
    assert_int_equal(len_of("\xc0\xaf", 2), 0); /* overlong '/' */
    assert_int_equal(len_of("\xc1\xbf", 2), 0);
    assert_int_equal(len_of("\xe0\x9f\xbf", 3), 0);     /* overlong */
    assert_int_equal(len_of("\xed\xa0\x80", 3), 0);     /* a surrogate */
    assert_int_equal(len_of("\xf0\x8f\xbf\xbf", 4), 0); /* overlong */
    assert_int_equal(len_of("\xf4\x90\x80\x80", 4), 0); /* past U+10FFFF */
    assert_int_equal(len_of("\xf5\x80\x80\x80", 4), 0);
    assert_int_equal(len_of("\xff", 1), 0);
    assert_int_equal(len_of("\xe2\x82\x41", 3), 0); /* a bad third byte */
}

static void test_cut_off(void **state)
{
    (void)state;
    assert_int_equal(len_of("\xe2\x82\xac", 2), 0); /* the euro sign, one byte short */
    assert_int_equal(len_of("\xc3\xa9", 1), 0);
    /* A NUL ends a string and is no continuation byte: nothing after it is
     * read (the bytes after it here would complete the sequence). */
    assert_int_equal(len_of("\xe2\x00\xac", 4), 0);
    assert_int_equal(len_of("\xf0\x9f\x00\x80", 4), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_well_formed),
        cmocka_unit_test(test_ill_formed),
        cmocka_unit_test(test_cut_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
