/* Unit tests for wire: big-endian integers round-trip, the cursor never
 * runs past its end, and the error is sticky (every later operation does
 * nothing, reads give zeros). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "wire.h"

static void test_round_trip_big_endian(void **state)
{
    (void)state;
    uint8_t buf[32];
    struct wire w;
    wire_init(&w, buf, sizeof buf);
    wire_put_u8(&w, 0xab);
    wire_put_u16(&w, 0x0102);
    wire_put_u32(&w, 0x03040506);
    wire_put_u64(&w, 0x0708090a0b0c0d0eull);
    wire_put_bytes(&w, "xyz", 3);
    wire_put_bytes(&w, NULL, 0);
    assert_false(w.err);
    assert_int_equal(wire_used(&w), 1 + 2 + 4 + 8 + 3);
    assert_int_equal(wire_left(&w), sizeof buf - 18);
    const uint8_t want[] = {0xab, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 'x', 'y', 'z'};
    assert_memory_equal(buf, want, sizeof want);

    struct wire r;
    wire_init_ro(&r, buf, wire_used(&w));
    assert_int_equal(wire_get_u8(&r), 0xab);
    assert_int_equal(wire_get_u16(&r), 0x0102);
    assert_int_equal(wire_get_u32(&r), 0x03040506);
    assert_true(wire_get_u64(&r) == 0x0708090a0b0c0d0eull);
    char s[3];
    wire_get_bytes(&r, s, 3);
    assert_memory_equal(s, "xyz", 3);
    assert_false(r.err);
    assert_int_equal(wire_left(&r), 0);
}

static void test_encoded_keys_sort_as_numbers(void **state)
{
    (void)state;
    /* LMDB compares keys with memcmp: big-endian keeps numeric order. */
    const uint32_t v[] = {0, 1, 255, 256, 65535, 65536, 0x7fffffff, 0xffffffff};
    uint8_t prev[4] = {0}, cur[4];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        struct wire w;
        wire_init(&w, cur, sizeof cur);
        wire_put_u32(&w, v[i]);
        if (i)
            assert_true(memcmp(prev, cur, 4) < 0);
        memcpy(prev, cur, 4);
    }
}

static void test_write_past_end_is_sticky(void **state)
{
    (void)state;
    uint8_t buf[8];
    memset(buf, 0xee, sizeof buf);
    struct wire w;
    wire_init(&w, buf, 5);
    wire_put_u32(&w, 0x11223344);
    wire_put_u16(&w, 0x5566); /* needs 2, 1 left: fails, writes nothing */
    assert_true(w.err);
    assert_int_equal(buf[4], 0xee);
    wire_put_u8(&w, 0x77); /* would fit, but the error is sticky */
    assert_int_equal(buf[4], 0xee);
    assert_int_equal(wire_used(&w), 4);
    assert_int_equal(wire_left(&w), 0);
    assert_int_equal(buf[5], 0xee);
    /* patching after an error does nothing either */
    wire_patch_u16(&w, 0, 0xffff);
    assert_int_equal(buf[0], 0x11);
}

static void test_read_past_end_gives_zeros(void **state)
{
    (void)state;
    const uint8_t buf[] = {0x12, 0x34, 0x56};
    struct wire r;
    wire_init_ro(&r, buf, sizeof buf);
    assert_int_equal(wire_get_u16(&r), 0x1234);
    assert_int_equal(wire_get_u16(&r), 0); /* one byte left */
    assert_true(r.err);
    assert_int_equal(wire_get_u8(&r), 0); /* sticky: the last byte is not read */
    uint8_t out[4];
    memset(out, 0xee, sizeof out);
    wire_get_bytes(&r, out, sizeof out);
    assert_int_equal(out[0], 0);
    assert_int_equal(out[3], 0);
    assert_true(wire_get_u64(&r) == 0);

    wire_init_ro(&r, buf, sizeof buf);
    wire_skip(&r, 2);
    assert_int_equal(wire_get_u8(&r), 0x56);
    wire_skip(&r, 1);
    assert_true(r.err);
}

static void test_patch(void **state)
{
    (void)state;
    uint8_t buf[6];
    struct wire w;
    wire_init(&w, buf, sizeof buf);
    wire_put_u16(&w, 0); /* a count to fill in later */
    wire_put_u32(&w, 0xaabbccdd);
    wire_patch_u16(&w, 0, 0x0102);
    assert_int_equal(buf[0], 1);
    assert_int_equal(buf[1], 2);
    assert_int_equal(wire_used(&w), 6);
    wire_patch_u16(&w, 5, 0xffff); /* would run past the end: ignored */
    assert_int_equal(buf[5], 0xdd);
    assert_false(w.err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_big_endian),
        cmocka_unit_test(test_encoded_keys_sort_as_numbers),
        cmocka_unit_test(test_write_past_end_is_sticky),
        cmocka_unit_test(test_read_past_end_gives_zeros),
        cmocka_unit_test(test_patch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
