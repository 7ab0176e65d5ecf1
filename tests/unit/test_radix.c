/* Unit tests for radix: records sorted by a key inside them, byte range
 * [first, last) only, stable for equal keys, and checked against qsort on
 * random keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "radix.h"

#define KEY 6

struct rec {
    uint32_t seq; /* input order, for stability */
    uint8_t pad;
    uint8_t key[KEY];
    uint8_t tail;
};

static uint32_t count[KEY][256];

static struct rec *sort(struct rec *rec, struct rec *tmp, size_t n, size_t first, size_t last)
{
    struct radix_sort rs = {
        .rec = rec,
        .tmp = tmp,
        .n = n,
        .size = sizeof *rec,
        .key = offsetof(struct rec, key),
        .first = first,
        .last = last,
        .count = count,
    };
    radix_sort_records(&rs);
    return rs.rec;
}

static int rec_cmp(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    int c = memcmp(x->key, y->key, KEY);
    if (c)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static uint64_t rng = 88172645463325252ull;
static uint32_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

static void test_random_keys_like_qsort(void **state)
{
    (void)state;
    enum { N = 5000 };
    static struct rec rec[N], tmp[N], want[N];
    for (size_t i = 0; i < N; i++) {
        rec[i].seq = (uint32_t)i;
        rec[i].pad = 0xAA;
        rec[i].tail = (uint8_t)i;
        for (size_t d = 0; d < KEY; d++)
            rec[i].key[d] = (uint8_t)(next_random() % (d < 2 ? 4 : 256)); /* many ties up front */
    }
    memcpy(want, rec, sizeof rec);
    qsort(want, N, sizeof want[0], rec_cmp);
    struct rec *out = sort(rec, tmp, N, 0, KEY);
    assert_true(out == rec || out == tmp);
    assert_memory_equal(out, want, sizeof want); /* whole records, ties in input order */
}

static void test_only_the_byte_range_counts(void **state)
{
    (void)state;
    /* Bytes 0 and 1 differ, but only [2, 4) is sorted on: records with the
     * same bytes 2..3 keep their order. */
    struct rec rec[4] = {0}, tmp[4];
    const uint8_t keys[4][KEY] = {
        {9, 9, 0, 2, 0, 0}, {1, 1, 0, 1, 7, 7}, {5, 5, 0, 2, 0, 0}, {0, 0, 0, 1, 0, 0}};
    for (uint32_t i = 0; i < 4; i++) {
        rec[i].seq = i;
        memcpy(rec[i].key, keys[i], KEY);
    }
    struct rec *out = sort(rec, tmp, 4, 2, 4);
    const uint32_t order[4] = {1, 3, 0, 2};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(out[i].seq, order[i]);
}

static void test_small_and_uniform_inputs(void **state)
{
    (void)state;
    struct rec rec[3] = {0}, tmp[3];
    /* zero and one record: nothing to do, rec stays where it was */
    assert_ptr_equal(sort(rec, tmp, 0, 0, KEY), rec);
    rec[0].key[0] = 7;
    assert_ptr_equal(sort(rec, tmp, 1, 0, KEY), rec);
    assert_int_equal(rec[0].key[0], 7);

    /* every key the same: no pass runs, the order is the input's */
    for (uint32_t i = 0; i < 3; i++) {
        rec[i].seq = i;
        memset(rec[i].key, 0x5c, KEY);
    }
    assert_ptr_equal(sort(rec, tmp, 3, 0, KEY), rec);
    for (uint32_t i = 0; i < 3; i++)
        assert_int_equal(rec[i].seq, i);

    /* one differing byte: one pass, the result in tmp */
    rec[0].key[KEY - 1] = 0xff;
    struct rec *out = sort(rec, tmp, 3, 0, KEY);
    assert_ptr_equal(out, tmp);
    assert_int_equal(out[0].seq, 1);
    assert_int_equal(out[1].seq, 2);
    assert_int_equal(out[2].seq, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_keys_like_qsort),
        cmocka_unit_test(test_only_the_byte_range_counts),
        cmocka_unit_test(test_small_and_uniform_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
