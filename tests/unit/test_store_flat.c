/* Unit tests for the store, randomised against a plain reference: nested
 * prefixes applied in shuffled batches and looked up through the tree and
 * the flat index (with and without a filter), a bad flat changes record,
 * and random batches with their per-day counts and dedup. Each test works
 * in its own directory under one mkdtemp directory, removed at the end
 * (store_tests.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "err.h"
#include "model.h"
#include "store.h"
#include "store_testing.h"

#define STORE_TESTS_NAME "test_store_flat"
#include "store_tests.h"

/* Random nested prefixes, applied in shuffled batches (so containers
 * often come after what they contain), against a brute-force search. */
#define RAND_PREFIXES 600
static uint32_t rand_next(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

static void rand_prefix(uint32_t *x, bool v6, struct addr_prefix *p)
{
    uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8};
    if (v6) {
        /* 2001:db8::/32 with few distinct bits, so prefixes nest often */
        a[4] = (uint8_t)(rand_next(x) & 3);
        a[8] = (uint8_t)(rand_next(x) & 0x81);
        a[15] = (uint8_t)(rand_next(x) & 7);
        /* now and then shorter than /32, which the filter cannot bit-map */
        unsigned len = rand_next(x) % 200 == 0 ? 16 + rand_next(x) % 16 : 32 + rand_next(x) % 97;
        addr_from_bytes(p, ADDR_V6, a, len);
    } else {
        uint8_t b[4] = {10, (uint8_t)(rand_next(x) & 3), (uint8_t)(rand_next(x) & 0x83),
                        (uint8_t)(rand_next(x) & 0x0f)};
        addr_from_bytes(p, ADDR_V4, b, 8 + rand_next(x) % 25);
    }
    addr_mask(p);
}

/* The index of the prefix equal to p in all[0..n), or n. */
static size_t find_prefix(const struct addr_prefix *all, size_t n, const struct addr_prefix *p)
{
    for (size_t i = 0; i < n; i++) {
        if (all[i].family == p->family && all[i].plen == p->plen && memcmp(all[i].a, p->a, 16) == 0)
            return i;
    }
    return n;
}

/* filter_min: the store's filter_min ("0": filtered from the first
 * entry; NULL: the default, which 600 entries never reach).
 * flat: a flat index from the first write, rebuilt (or not) at random
 * between batches, and batches that also change entries already in it,
 * looked up by one reader kept across all of them -- so answers come from
 * the index, from the B-tree where changes are marked, and from pointers
 * the reader must forget when the snapshot moves on. */
static void covering_random(const char *filter_min, uint32_t seed, bool flat)
{
    char dir[PATH_MAX], why[512];
    struct store_options opt;
    store_options_default(&opt);
    if (filter_min)
        opt.filter_min = strtoul(filter_min, NULL, 10);
    if (flat) {
        /* Due after a few changes, so most rebuilds merge the old index
         * with what changed. */
        opt.flat_min = 0;
        opt.flat_changes = 8;
    }
    store_testing_defaults(&opt);
    struct store *s = create_store(dir, sizeof dir, "lpmrand");
    store_testing_defaults(NULL);
    static struct addr_prefix all[RAND_PREFIXES];
    static char reasons[RAND_PREFIXES][ADDR_TEXT_MAX];
    static char relist[RAND_PREFIXES][ADDR_TEXT_MAX];
    static struct event ev[RAND_PREFIXES + 8];
    size_t n = 0, rebuilt = 0, merged = 0, relisted = 0, removed = 0;
    uint32_t x = seed, y = seed ^ 0x9e3779b9u; /* y: removals, apart from the rest */
    struct store_reader *r;
    assert_int_equal(store_reader_open(s, &r), DNSBL_OK);

    while (n < RAND_PREFIXES) {
        /* a batch of new distinct prefixes, in random (unsorted) order */
        size_t start = n, want = n + 1 + rand_next(&x) % 97;
        if (want > RAND_PREFIXES)
            want = RAND_PREFIXES;
        while (n < want) {
            struct addr_prefix p;
            rand_prefix(&x, rand_next(&x) % 3 == 0, &p);
            if (find_prefix(all, n, &p) < n)
                continue;
            all[n] = p;
            addr_format(&p, reasons[n], sizeof reasons[n]);
            ev[n - start] = mkev(EV_LIST, reasons[n], 1700000000, reasons[n]);
            n++;
        }
        size_t m = n - start;
        /* Entries already there listed again for another reason: their
         * values change after the index has them. */
        for (int k = 0; flat && start > 0 && k < 3; k++) {
            size_t i = rand_next(&x) % start;
            snprintf(relist[i], sizeof relist[i], "%.40s again %zu", reasons[i], relisted++);
            memcpy(reasons[i], relist[i], sizeof reasons[i]);
            ev[m] = mkev(EV_LIST, "::/0", 1700000000, reasons[i]);
            ev[m].prefix = all[i];
            m++;
        }
        apply_ok(s, ev, m);
        /* Entries removed whole: the entries inside them lose their
         * length, lookups (index or not) stop finding them, and a
         * later batch may add the same prefix back. */
        struct event rm[3];
        size_t nr = 0;
        /* Without the flat index only: a removal marks all it covered
         * changed, and the merges of the flat runs need unmarked parts
         * (test_remove_flat has removals through the index). */
        for (int k = 0; !flat && n > 10 && n + 50 < RAND_PREFIXES && k < 3; k++, nr++) {
            size_t i = rand_next(&y) % n;

            rm[nr] = mkev(EV_REMOVE, "::/0", 1700000000, NULL);
            rm[nr].prefix = all[i];
            all[i] = all[n - 1];
            memcpy(reasons[i], reasons[n - 1], sizeof reasons[i]);
            n--;
            removed++;
        }
        if (nr)
            apply_ok(s, rm, nr);
        if (flat && rand_next(&x) % 3 == 0) {
            struct store_flat_stats st;
            assert_int_equal(store_flat_refresh(s, rand_next(&x) % 4 == 0, &st, why, sizeof why),
                             DNSBL_OK);
            rebuilt += st.rebuilt;
            /* A merge that took some entries from the old index. */
            merged += st.rebuilt && st.incremental && st.from_tree < st.entries;
        }
        assert_int_equal(problems_of(s), 0);

        assert_int_equal(store_reader_begin(r), DNSBL_OK);
        for (int q = 0; q < 300; q++) {
            /* an address near the data: a random prefix's start with noise */
            struct addr_prefix a = all[rand_next(&x) % n];
            unsigned full = a.family == ADDR_V4 ? 32 : 128;
            unsigned flip = rand_next(&x) % (full + 8);
            if (flip < full) {
                unsigned bit = (a.family == ADDR_V4 ? 96 : 0) + flip;
                a.a[bit / 8] ^= (uint8_t)(0x80 >> bit % 8);
            }
            a.plen = (uint8_t)full;

            struct entry found[STORE_COVERING_MAX];
            size_t got = 0;
            bool lean = flat && q % 2;
            assert_int_equal(
                lean ? store_reader_covering_lean(r, &a, found, STORE_COVERING_MAX, &got)
                     : store_reader_covering(r, &a, found, STORE_COVERING_MAX, &got),
                DNSBL_OK);
            size_t expect = 0;
            for (size_t i = 0; i < n; i++)
                expect += addr_covers(&all[i], &a);
            assert_int_equal(got, expect);
            for (size_t i = 0; i < got; i++) {
                size_t at = find_prefix(all, n, &found[i].prefix);
                assert_true(at < n);
                assert_string_equal(lean ? "" : reasons[at], found[i].reason);
                assert_int_equal(found[i].state, ENTRY_LISTED);
                assert_true(addr_covers(&found[i].prefix, &a));
                if (i > 0)
                    assert_true(found[i].prefix.plen < found[i - 1].prefix.plen);
            }
        }
        store_reader_end(r);
    }
    store_reader_close(r);
    assert_true(flat || removed > 20);
    /* The flat runs must have taken both paths. */
    if (flat) {
        assert_true(rebuilt > 0);
        assert_true(merged > 0);
    }
    store_close(s);
}

static void test_covering_random(void **state)
{
    (void)state;
    covering_random(NULL, 2463534242u, false);
}

/* The same through the filter, with and without IPv6 prefixes shorter
 * than /32 (which switch its IPv6 half off). */
static void test_covering_random_filtered(void **state)
{
    (void)state;
    covering_random("0", 2463534242u, false);
    covering_random("0", 88172645u, false);
}

/* The same through the flat index, with and without the filter. */
static void test_covering_random_flat(void **state)
{
    (void)state;
    covering_random("0", 2463534242u, true);
    covering_random(NULL, 88172645u, true);
    covering_random("0", 521288629u, true);
}

/* Entries removed after the flat index has them: lookups stop finding
 * them at once (the B-tree answers where they were), the entries inside
 * a removed one lose its length, and a rebuild drops them for good. */
static void test_remove_flat(void **state)
{
    (void)state;
    char dir[PATH_MAX], why[512];
    struct store_options opt;
    store_options_default(&opt);
    opt.flat_min = 0;
    opt.filter_min = 0;
    store_testing_defaults(&opt);
    struct store *s = create_store(dir, sizeof dir, "rmflat");
    store_testing_defaults(NULL);
    const char *all[] = {"10.0.0.0/16",   "10.0.1.0/24", "10.0.1.7",       "10.0.2.9",
                         "2001:db8::/48", "2001:db8::1", "2001:db8:1::/64"};
    struct event ev[7];
    for (size_t i = 0; i < 7; i++)
        ev[i] = mkev(EV_LIST, all[i], 1700000000, all[i]);
    apply_ok(s, ev, 7);
    struct store_flat_stats st;
    assert_int_equal(store_flat_refresh(s, true, &st, why, sizeof why), DNSBL_OK);
    assert_true(st.rebuilt);

    struct store_reader *r;
    assert_int_equal(store_reader_open(s, &r), DNSBL_OK);
    const struct {
        const char *addr;
        size_t before, after;
    } q[] = {{"10.0.1.7", 3, 2}, {"10.0.1.8", 2, 1},    {"10.0.2.9", 2, 1},
             {"10.0.3.1", 1, 1}, {"2001:db8::1", 2, 1}, {"2001:db8::2", 1, 0}};
    for (int round = 0; round < 3; round++) {
        if (round == 1) {
            struct event rm[3] = {mkev(EV_REMOVE, "10.0.1.0/24", 1700000001, NULL),
                                  mkev(EV_REMOVE, "10.0.2.9", 1700000001, NULL),
                                  mkev(EV_REMOVE, "2001:db8::/48", 1700000001, NULL)};
            apply_ok(s, rm, 3);
        } else if (round == 2) {
            assert_int_equal(store_flat_refresh(s, false, &st, why, sizeof why), DNSBL_OK);
            assert_int_equal(st.entries, 4);
        }
        assert_int_equal(problems_of(s), 0);
        assert_int_equal(store_reader_begin(r), DNSBL_OK);
        for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
            struct addr_prefix a = pfx(q[i].addr);
            struct entry found[STORE_COVERING_MAX];
            size_t got = 0;
            assert_int_equal(store_reader_covering_lean(r, &a, found, STORE_COVERING_MAX, &got),
                             DNSBL_OK);
            assert_int_equal(got, round ? q[i].after : q[i].before);
        }
        store_reader_end(r);
    }
    /* A removal of what is not there writes nothing. */
    uint64_t serial;
    assert_int_equal(store_serial(s, &serial), DNSBL_OK);
    struct event again = mkev(EV_REMOVE, "10.0.2.9", 1700000002, NULL);
    apply_ok(s, &again, 1);
    uint64_t after;
    assert_int_equal(store_serial(s, &after), DNSBL_OK);
    assert_int_equal(after, serial);
    store_reader_close(r);
    store_close(s);
}

/* A changes record of the wrong size (written behind the store's back):
 * the next write replaces it with one that marks everything, even
 * before any rebuild, so the store checks clean again and lookups keep
 * to the B-tree. */
static void test_flat_bad_changes_record(void **state)
{
    (void)state;
    char dir[PATH_MAX], why[512];
    struct store *s = create_store(dir, sizeof dir, "flatbad");
    list(s, "192.0.2.0/24", "192.0.2.0/24");
    list(s, "198.51.100.7", "198.51.100.7");
    assert_int_equal(store_flat_refresh(s, true, NULL, why, sizeof why), DNSBL_OK);
    store_close(s);
    const uint8_t junk[10] = {0};
    raw_put(dir, "meta", "flatdirty", 9, junk, sizeof junk);
    assert_int_equal(store_open(dir, 0, &s, why, sizeof why), DNSBL_OK);
    assert_true(problems_of(s) > 0);
    list(s, "203.0.113.5", "203.0.113.5");
    assert_int_equal(problems_of(s), 0);

    struct store_reader *r;
    assert_int_equal(store_reader_open(s, &r), DNSBL_OK);
    assert_int_equal(store_reader_begin(r), DNSBL_OK);
    assert_covering(r, "192.0.2.9", "192.0.2.0/24");
    assert_covering(r, "203.0.113.5", "203.0.113.5");
    store_reader_end(r);
    store_reader_close(r);
    store_close(s);
}

/* Random batches against a plain reference: per-entry and per-day counts,
 * dedup across and within batches, keys inserted before, among and after
 * the stored ones. */
#define RB_KEYS 48
#define RB_DAYS 6
#define RB_POOL 900

static void test_apply_random_batches(void **state)
{
    (void)state;
    char dir[PATH_MAX], why[512], text[ADDR_TEXT_MAX];
    struct store *s = create_store(dir, sizeof dir, "random");
    struct addr_prefix keys[RB_KEYS];
    uint32_t want_abuse[RB_KEYS][RB_DAYS], want_volume[RB_KEYS][RB_DAYS];
    static uint8_t pool[RB_POOL][32];
    bool seen[RB_POOL];
    struct event ev[400];
    const uint8_t *dk[400];

    memset(want_abuse, 0, sizeof want_abuse);
    memset(want_volume, 0, sizeof want_volume);
    memset(seen, 0, sizeof seen);
    srand(7);
    for (size_t i = 0; i < RB_KEYS; i++) {
        bool again;
        do { /* distinct prefixes, so the reference needs no merging */
            uint8_t raw[16];
            for (size_t j = 0; j < sizeof raw; j++)
                raw[j] = (uint8_t)(rand() % 4); /* few distinct bytes: near neighbours */
            if (i % 3 == 0)
                addr_from_bytes(&keys[i], ADDR_V6, raw, (unsigned)(112 + rand() % 17));
            else
                addr_from_bytes(&keys[i], ADDR_V4, raw + 12, (unsigned)(24 + rand() % 9));
            again = false;
            for (size_t j = 0; j < i; j++)
                again = again || memcmp(&keys[j], &keys[i], sizeof keys[i]) == 0;
        } while (again);
    }
    for (size_t i = 0; i < RB_POOL; i++) {
        memset(pool[i], 0x33, 32); /* long shared prefixes, as in the tie test */
        pool[i][i % 3 == 0 ? 31 : 5] = (uint8_t)i;
        pool[i][30] = (uint8_t)(i >> 8);
    }
    for (int batch = 0; batch < 6; batch++) {
        size_t n = 50 + (size_t)rand() % 350;
        bool in_batch[RB_POOL];
        size_t want_applied = 0;
        memset(in_batch, 0, sizeof in_batch);
        for (size_t i = 0; i < n; i++) {
            size_t k = (size_t)rand() % RB_KEYS, d = (size_t)rand() % RB_DAYS;
            bool volume = rand() % 4 == 0;
            memset(&ev[i], 0, sizeof ev[i]);
            ev[i].prefix = keys[k];
            ev[i].kind = volume ? EV_VOLUME : EV_ABUSE;
            ev[i].weight = volume ? 10 : 1;
            ev[i].time = at(DAY0 + (uint32_t)d, rand() % MODEL_DAY);
            ev[i].source = "random";
            size_t pk = (size_t)rand() % RB_POOL;
            dk[i] = rand() % 5 ? pool[pk] : NULL;
            if (dk[i] && (seen[pk] || in_batch[pk]))
                continue; /* a duplicate: adds nothing */
            if (dk[i])
                in_batch[pk] = true;
            want_applied++;
            if (volume)
                want_volume[k][d] += 10;
            else
                want_abuse[k][d]++;
        }
        struct store_apply_stats st;
        assert_int_equal(store_apply(s, ev, dk, n, &st, why, sizeof why), DNSBL_OK);
        assert_int_equal(st.applied, want_applied);
        assert_int_equal(st.applied + st.duplicates, n);
        for (size_t i = 0; i < RB_POOL; i++)
            seen[i] = seen[i] || in_batch[i];
    }

    struct store_reader *r;
    struct history_day d[RB_DAYS + 1];
    struct entry e;
    assert_int_equal(store_reader_open(s, &r), DNSBL_OK);
    assert_int_equal(store_reader_begin(r), DNSBL_OK);
    for (size_t k = 0; k < RB_KEYS; k++) {
        size_t n = 99, want_days = 0;
        uint32_t total = 0;
        addr_format(&keys[k], text, sizeof text);
        assert_int_equal(store_reader_history(r, &keys[k], 0, d, RB_DAYS + 1, &n), DNSBL_OK);
        size_t got = 0;
        for (size_t day = 0; day < RB_DAYS; day++) {
            total += want_abuse[k][day];
            if (want_abuse[k][day] == 0 && want_volume[k][day] == 0)
                continue;
            want_days++;
            assert_true(got < n);
            assert_int_equal(d[got].day, DAY0 + day);
            assert_int_equal(d[got].counts[CNT_ABUSE], want_abuse[k][day]);
            assert_true(d[got].volume == want_volume[k][day]);
            got++;
        }
        if (n != want_days)
            print_error("%s: %zu days, want %zu\n", text, n, want_days);
        assert_int_equal(n, want_days);
        int rc = store_reader_get(r, &keys[k], &e);
        if (want_days == 0) {
            assert_int_equal(rc, DNSBL_ENOENT);
            continue;
        }
        assert_int_equal(rc, DNSBL_OK);
        assert_int_equal(e.counts[CNT_ABUSE], total);
    }
    store_reader_end(r);
    store_reader_close(r);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_covering_random),
        cmocka_unit_test(test_covering_random_filtered),
        cmocka_unit_test(test_covering_random_flat),
        cmocka_unit_test(test_remove_flat),
        cmocka_unit_test(test_flat_bad_changes_record),
        cmocka_unit_test(test_apply_random_batches),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
