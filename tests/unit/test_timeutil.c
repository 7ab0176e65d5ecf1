/* Unit tests for timeutil: RFC 3339 parse/format, durations, the --now
 * argument, and the clock time_set_now fixes (the system clock before). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "err.h"
#include "timeutil.h"

static void parse_ok(const char *s, int64_t want)
{
    int64_t t = -42;
    int rc = time_parse_rfc3339(s, &t);
    if (rc != DNSBL_OK)
        fail_msg("time_parse_rfc3339(%s) failed", s);
    if (t != want)
        fail_msg("time_parse_rfc3339(%s) = %lld, want %lld", s, (long long)t, (long long)want);
}

static void parse_bad(const char *s)
{
    int64_t t = -42;
    if (time_parse_rfc3339(s, &t) != DNSBL_EINVAL)
        fail_msg("time_parse_rfc3339(%s) accepted", s);
    assert_int_equal(t, -42);
}

static void test_rfc3339_parse(void **state)
{
    (void)state;
    parse_ok("2026-11-27T18:15:09Z", 1795803309);
    parse_ok("2026-11-27t18:15:09z", 1795803309);
    parse_ok("2026-11-27 18:15:09Z", 1795803309);
    parse_ok("2026-11-27T18:15:09+01:00", 1795799709);
    parse_ok("2026-11-27T17:15:09-01:00", 1795803309);
    parse_ok("2026-11-27T18:15:09.123456Z", 1795803309);
    parse_ok("2026-11-27", 1795803309 - (18 * 3600 + 15 * 60 + 9));
    parse_ok("2024-02-29", 1709164800);
    parse_ok("2000-03-01T00:00:00Z", 951868800);
    parse_ok("1970-01-01T00:00:00Z", 0);
    parse_ok("1969-12-31T23:59:59Z", -1);

    parse_bad("");
    parse_bad("2026-11-27T18:15:09"); /* no zone */
    parse_bad("2026-11-27T18:15Z");   /* no seconds */
    parse_bad("2026-13-01");
    parse_bad("2026-00-01");
    parse_bad("2026-02-29"); /* not a leap year */
    parse_bad("2026-04-31");
    parse_bad("2026-11-27T24:00:00Z");
    parse_bad("2026-11-27T18:60:00Z");
    parse_bad("2026-11-27T18:15:09+0100");
    parse_bad("2026-11-27T18:15:09Z ");
    parse_bad(" 2026-11-27");
    parse_bad("2026-1-27");
    parse_bad("2026-11-27T18:15:09.Z");
    parse_bad("1795803309");
    parse_bad("tomorrow");
}

static void test_rfc3339_format(void **state)
{
    (void)state;
    char buf[64];
    assert_int_equal(time_format_rfc3339(1795803309, buf, sizeof buf), 20);
    assert_string_equal(buf, "2026-11-27T18:15:09Z");
    time_format_rfc3339(0, buf, sizeof buf);
    assert_string_equal(buf, "1970-01-01T00:00:00Z");

    char small[11];
    assert_int_equal(time_format_rfc3339(1795803309, small, sizeof small), 10);
    assert_string_equal(small, "2026-11-27");

    /* Round trips, across leap days and the year boundary. */
    const int64_t samples[] = {0, 951782400, 1709164800, 1735689599, 1735689600, 4102444800};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        int64_t back = -1;
        time_format_rfc3339(samples[i], buf, sizeof buf);
        assert_int_equal(time_parse_rfc3339(buf, &back), DNSBL_OK);
        assert_int_equal(back, samples[i]);
    }
    for (int64_t t = 1700000000; t < 1700000000 + 400LL * 86400; t += 86400 + 3607) {
        int64_t back = -1;
        time_format_rfc3339(t, buf, sizeof buf);
        assert_int_equal(time_parse_rfc3339(buf, &back), DNSBL_OK);
        assert_int_equal(back, t);
    }
}

static void dur_ok(const char *s, int64_t want)
{
    int64_t d = -42;
    if (time_parse_duration(s, &d) != DNSBL_OK)
        fail_msg("time_parse_duration(%s) failed", s);
    if (d != want)
        fail_msg("time_parse_duration(%s) = %lld, want %lld", s, (long long)d, (long long)want);
}

static void dur_bad(const char *s)
{
    int64_t d = -42;
    if (time_parse_duration(s, &d) != DNSBL_EINVAL)
        fail_msg("time_parse_duration(%s) accepted", s);
    assert_int_equal(d, -42);
}

static void test_duration(void **state)
{
    (void)state;
    dur_ok("3600", 3600);
    dur_ok("1", 1);
    dur_ok("90s", 90);
    dur_ok("30m", 1800);
    dur_ok("12h", 43200);
    dur_ok("7d", 604800);
    dur_ok("2w", 1209600);
    dur_ok("1d12h", 129600);
    dur_ok("1h30m15s", 5415);
    dur_ok("1w1d1h1m1s", 604800 + 86400 + 3600 + 60 + 1);
    dur_ok("0d1s", 1);

    dur_bad("");
    dur_bad("0");
    dur_bad("0s");
    dur_bad("0d0h");
    dur_bad("-5");
    dur_bad("-5m");
    dur_bad("+5");
    dur_bad("5x");
    dur_bad("5M");
    dur_bad("d");
    dur_bad("1d30"); /* a bare number only alone */
    dur_bad("1 d");
    dur_bad(" 1d");
    dur_bad("1d ");
    dur_bad("1.5h");
    dur_bad("99999999999999999999");
    dur_bad("9999999999999999w");
}

static void test_now_argument(void **state)
{
    (void)state;
    int64_t t = -1;
    assert_int_equal(time_parse_now("12345", &t), DNSBL_OK);
    assert_int_equal(t, 12345);
    assert_int_equal(time_parse_now("0", &t), DNSBL_OK);
    assert_int_equal(t, 0);
    assert_int_equal(time_parse_now("2026-11-27T18:15:09+01:00", &t), DNSBL_OK);
    assert_int_equal(t, 1795799709);
    assert_int_equal(time_parse_now("2026-11-27", &t), DNSBL_OK);
    assert_int_equal(t, 1795737600);
    t = 7;
    assert_int_equal(time_parse_now("", &t), DNSBL_EINVAL);
    assert_int_equal(time_parse_now("garbage", &t), DNSBL_EINVAL);
    assert_int_equal(time_parse_now("-5", &t), DNSBL_EINVAL);
    assert_int_equal(time_parse_now("99999999999999999999", &t), DNSBL_EINVAL);
    assert_int_equal(t, 7);
}

/* Runs first: nothing has fixed the clock yet, so it is the system's; then
 * time_set_now fixes it for good (the last set wins). */
static void test_now_fixed(void **state)
{
    (void)state;
    int64_t before = (int64_t)time(NULL);
    int64_t got = time_now();
    assert_true(got >= before && got <= (int64_t)time(NULL));

    time_set_now(1795803309);
    assert_int_equal(time_now(), 1795803309);
    assert_int_equal(time_now(), 1795803309);
    time_set_now(12345);
    assert_int_equal(time_now(), 12345);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_now_fixed),
        cmocka_unit_test(test_rfc3339_parse),
        cmocka_unit_test(test_rfc3339_format),
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_now_argument),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
