/* Unit tests for feed_csvsplit, what the line parsers share: lines (LF,
 * CRLF, a BOM, no final newline, a NUL inside), RFC 4180 fields, the
 * number and time forms, dedup keys over strings, and the sink calls with
 * the line's origin. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "feed.h"
#include "feed_capture.h"
#include "feed_csvsplit.h"

static struct capture cap;

static struct feed_input input(const char *name, const char *data, size_t len)
{
    struct feed_input in = {.name = name, .data = (const uint8_t *)data, .len = len};
    return in;
}

static void test_lines(void **state)
{
    (void)state;
    static const char data[] = "\xef\xbb\xbfone\r\ntwo\n\nthr\0ee\r\nlast";
    struct feed_input in = input("x", data, sizeof data - 1);
    struct csv_lines l;
    csv_lines_init(&l, &in, NULL);
    static const struct {
        const char *line;
        size_t raw_len;
    } want[] = {{"one", 3}, {"two", 3}, {"", 0}, {"thr", 6}, {"last", 4}};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(csv_lines_next(&l), 1);
        assert_int_equal(l.lineno, (long)i + 1);
        assert_string_equal(l.line, want[i].line); /* the BOM and the CR are gone */
        assert_int_equal(l.raw_len, want[i].raw_len);
        if (i == 3) /* raw is the line in the input, the NUL and all */
            assert_memory_equal(l.raw, "thr\0ee", 6);
    }
    assert_int_equal(csv_lines_next(&l), 0);
    assert_int_equal(csv_lines_next(&l), 0);
    csv_lines_free(&l);
    assert_null(l.line);

    /* a long line grows the buffers; an empty input has no line */
    static char big[5000];
    memset(big, 'a', sizeof big - 1);
    in = input("big", big, sizeof big - 1);
    csv_lines_init(&l, &in, NULL);
    assert_int_equal(csv_lines_next(&l), 1);
    assert_int_equal(strlen(l.line), sizeof big - 1);
    csv_lines_free(&l);
    in = input("empty", "", 0);
    csv_lines_init(&l, &in, NULL);
    assert_int_equal(csv_lines_next(&l), 0);
    csv_lines_free(&l);
}

static size_t split(const char *text, char **f, size_t max, struct csv_lines *l,
                    struct feed_input *in)
{
    *in = input("x", text, strlen(text));
    csv_lines_init(l, in, NULL);
    assert_int_equal(csv_lines_next(l), 1);
    return csv_lines_split(l, f, max);
}

static void test_split(void **state)
{
    (void)state;
    struct csv_lines l;
    struct feed_input in;
    char *f[8];
    assert_int_equal(split("a,b,,d", f, 8, &l, &in), 4);
    assert_string_equal(f[0], "a");
    assert_string_equal(f[2], "");
    assert_string_equal(f[3], "d");
    csv_lines_free(&l);

    /* quotes: separators inside, "" for a quote, blanks before the quote
     * skipped, others kept (fields are not trimmed) */
    assert_int_equal(split("\"x, y\", \"say \"\"hi\"\"\" , plain ,\"\"", f, 8, &l, &in), 4);
    assert_string_equal(f[0], "x, y");
    assert_string_equal(f[1], "say \"hi\" ");
    assert_string_equal(f[2], " plain ");
    assert_string_equal(f[3], "");
    csv_lines_free(&l);

    /* an unclosed quote runs to the end of the line */
    assert_int_equal(split("\"open, still", f, 8, &l, &in), 1);
    assert_string_equal(f[0], "open, still");
    csv_lines_free(&l);

    /* more fields than room: counted, the first max stored */
    f[2] = NULL;
    assert_int_equal(split("1,2,3,4,5", f, 2, &l, &in), 5);
    assert_string_equal(f[1], "2");
    assert_null(f[2]);
    csv_lines_free(&l);

    assert_int_equal(split("\n", f, 8, &l, &in), 1); /* an empty line: one empty field */
    assert_string_equal(f[0], "");
    csv_lines_free(&l);
}

static void test_text_helpers(void **state)
{
    (void)state;
    assert_true(csv_line_skippable(""));
    assert_true(csv_line_skippable(" \t"));
    assert_true(csv_line_skippable("  # note"));
    assert_true(csv_line_skippable("; DROP"));
    assert_false(csv_line_skippable(" 192.0.2.1 # note"));

    char s[] = " \t Mixed Case\t ";
    char *t = csv_trim(s);
    assert_string_equal(t, "Mixed Case");
    csv_lower(t);
    assert_string_equal(t, "mixed case");
    char e[] = "   ";
    assert_string_equal(csv_trim(e), "");
}

static void test_numbers_and_times(void **state)
{
    (void)state;
    uint64_t u = 7;
    assert_true(csv_parse_u64("0", false, &u) && u == 0);
    assert_true(csv_parse_u64("18446744073709551615", false, &u) && u == UINT64_MAX);
    assert_false(csv_parse_u64("18446744073709551616", false, &u));
    assert_true(csv_parse_u64("1,234,567", true, &u) && u == 1234567);
    assert_false(csv_parse_u64("1,234", false, &u));
    assert_false(csv_parse_u64(",1", true, &u)); /* a separator needs a digit before it */
    assert_false(csv_parse_u64("", false, &u));
    assert_false(csv_parse_u64(",", true, &u));
    assert_false(csv_parse_u64("-1", false, &u));
    assert_false(csv_parse_u64(" 1", false, &u));

    double d = -1;
    assert_true(csv_parse_decimal("12", &d));
    assert_float_equal(d, 12, 0);
    assert_true(csv_parse_decimal("0.5", &d));
    assert_float_equal(d, 0.5, 1e-15);
    assert_true(csv_parse_decimal(".25", &d));
    assert_float_equal(d, 0.25, 1e-15);
    assert_true(csv_parse_decimal("3.", &d));
    assert_float_equal(d, 3, 0);
    assert_false(csv_parse_decimal(".", &d));
    assert_false(csv_parse_decimal("1.2.3", &d));
    assert_false(csv_parse_decimal("1e3", &d));
    assert_false(csv_parse_decimal("-1", &d));
    assert_false(csv_parse_decimal("1,5", &d)); /* not the locale's comma */

    int64_t t = 0;
    assert_true(csv_parse_time("1748772000", &t) && t == 1748772000);
    assert_true(csv_parse_time("2025-06-01T10:00:00Z", &t) && t == 1748772000);
    assert_true(csv_parse_time("2025-06-01T12:00:00+02:00", &t) && t == 1748772000);
    assert_false(csv_parse_time("9223372036854775808", &t)); /* beyond int64 */
    assert_false(csv_parse_time("yesterday", &t));
    /* No zone: UTC (doc/formats.md 5), as spreadsheets and databases write it. */
    assert_true(csv_parse_time("2025-06-01 10:00:00", &t) && t == 1748772000);
    assert_true(csv_parse_time("2025-06-01T10:00:00", &t) && t == 1748772000);
    assert_true(csv_parse_time("2025-06-01 10:00:00.250", &t) && t == 1748772000);
    assert_true(csv_parse_time("2025-06-01", &t) && t == 1748736000);
    assert_false(csv_parse_time("2025-06-01 10:00", &t));
    assert_false(csv_parse_time("2025-06-01 10:00:00 +02", &t));
    assert_false(csv_parse_time("2025-06-01 25:00:00", &t));
    assert_false(csv_parse_time("", &t));
}

static void test_dedup_strings(void **state)
{
    (void)state;
    uint8_t a[FEED_DEDUP_LEN], b[FEED_DEDUP_LEN], c[FEED_DEDUP_LEN];
    const char *ab_c[] = {"ab", "c"}, *a_bc[] = {"a", "bc"};
    csv_dedup_strings(a, ab_c, 2);
    csv_dedup_strings(b, a_bc, 2);
    assert_memory_not_equal(a, b, FEED_DEDUP_LEN); /* the NUL separates the strings */
    csv_dedup_strings(c, ab_c, 2);
    assert_memory_equal(a, c, FEED_DEDUP_LEN);
    /* the same as feed_dedup_key over the strings with their NULs */
    const void *parts[2] = {"ab", "c"};
    size_t lens[2] = {3, 2};
    feed_dedup_key(c, parts, lens, 2);
    assert_memory_equal(a, c, FEED_DEDUP_LEN);
}

static void test_sink_calls(void **state)
{
    (void)state;
    memset(&cap, 0, sizeof cap);
    struct feed_sink sink = {.event = cap_event_cb,
                             .reject = cap_reject_cb,
                             .warn = cap_warn_cb,
                             .progress = cap_progress_cb,
                             .arg = &cap};
    const char *text = "first\r\nsecond line\n";
    struct feed_input in = input("in.csv", text, strlen(text));
    struct csv_lines l;
    csv_lines_init(&l, &in, &sink);
    assert_int_equal(csv_lines_next(&l), 1);
    csv_warn(&l, "odd value %d", 42);
    csv_record_done(&l);
    assert_int_equal(csv_lines_next(&l), 1);
    csv_reject(&l, "bad %s", "row");
    csv_record_done(&l);
    struct event ev = {.kind = EV_ABUSE, .weight = 1, .time = 1};
    assert_int_equal(addr_parse("192.0.2.1", &ev.prefix, NULL, 0), DNSBL_OK);
    assert_int_equal(csv_emit(&l, &ev, NULL), 0);
    csv_lines_free(&l);

    assert_int_equal(cap.nwarn, 1);
    assert_string_equal(cap.warn[0].file, "in.csv");
    assert_int_equal(cap.warn[0].line, 1);
    assert_string_equal(cap.warn[0].why, "odd value 42");
    assert_string_equal(cap.warn[0].raw, "first");
    assert_int_equal(cap.nrej, 1);
    assert_int_equal(cap.rej[0].line, 2);
    assert_string_equal(cap.rej[0].why, "bad row");
    assert_string_equal(cap.rej[0].raw, "second line");
    assert_int_equal(cap.records, 2);
    assert_int_equal(cap.last_bytes, strlen(text));
    assert_int_equal(cap.nev, 1);

    /* no sink (the detectors): every call is a no-op */
    csv_lines_init(&l, &in, NULL);
    assert_int_equal(csv_lines_next(&l), 1);
    csv_reject(&l, "ignored");
    csv_warn(&l, "ignored");
    csv_record_done(&l);
    assert_int_equal(csv_emit(&l, &ev, NULL), 0);
    csv_lines_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_text_helpers),
        cmocka_unit_test(test_numbers_and_times),
        cmocka_unit_test(test_dedup_strings),
        cmocka_unit_test(test_sink_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
