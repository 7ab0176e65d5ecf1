/* Unit tests for feed (feed.c): the parser table and the dedup key
 * helpers (SHA-256 over parts, and one key per event of a record). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "feed.h"

static void test_table_and_keys(void **state)
{
    (void)state;
    static const char *const names[] = {"snds", "csv", "list", "traps", "fail2ban"};
    for (size_t i = 0; i < 5; i++) {
        const struct feed_ops *o = feed_find(names[i]);
        assert_non_null(o);
        assert_string_equal(o->name, names[i]);
    }
    assert_ptr_equal(feed_find("csv"), &feed_ops_csv);
    assert_null(feed_find("nope"));
    assert_null(feed_find(NULL));
    size_t n = 0;
    while (feed_parsers[n])
        n++;
    assert_true(n >= 8);

    /* SHA-256("abc"), split over parts. */
    static const uint8_t abc[FEED_DEDUP_LEN] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
                                                0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
                                                0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
                                                0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    uint8_t k[FEED_DEDUP_LEN], d0[FEED_DEDUP_LEN], d1[FEED_DEDUP_LEN], d[FEED_DEDUP_LEN];
    const void *parts[3] = {"a", "", "bc"};
    size_t lens[3] = {1, 0, 2};
    feed_dedup_key(k, parts, lens, 3);
    assert_memory_equal(k, abc, FEED_DEDUP_LEN);
    feed_dedup_derive(d0, k, 0);
    feed_dedup_derive(d1, k, 1);
    assert_memory_not_equal(d0, d1, FEED_DEDUP_LEN);
    /* derive = SHA-256(key || idx as 4 bytes big-endian) */
    uint8_t buf[FEED_DEDUP_LEN + 4];
    memcpy(buf, k, FEED_DEDUP_LEN);
    memcpy(buf + FEED_DEDUP_LEN, "\x00\x00\x01\x02", 4);
    const void *p1[1] = {buf};
    size_t l1[1] = {sizeof buf};
    feed_dedup_key(d, p1, l1, 1);
    feed_dedup_derive(d1, k, 0x102);
    assert_memory_equal(d, d1, FEED_DEDUP_LEN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_and_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
