/* Unit tests for verdict_decide over a real temporary store: the RFC 5782
 * test points, allow over list, a score listing from history, the
 * history window against show's longer trend, and keeping only entries
 * that cover a whole prefix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "err.h"
#include "store.h"
#include "verdict.h"

#define T0 1700000000
#define NOW (T0 + 40 * MODEL_DAY)

struct fixture {
    char dir[512];
    struct store *store;
    struct store_reader *reader;
    struct entry covering[STORE_COVERING_MAX];
    struct history_day history[STORE_HISTORY_MAX];
    struct verdict_scratch sc;
    struct zone_policy zp;
};

static struct addr_prefix pfx(const char *text)
{
    struct addr_prefix p;
    char why[128];
    assert_int_equal(addr_parse(text, &p, why, sizeof why), DNSBL_OK);
    return p;
}

static void add(struct fixture *f, const char *prefix, uint8_t kind, double weight, int64_t t)
{
    struct event ev = {.prefix = pfx(prefix), .kind = kind, .weight = weight, .time = t};
    char why[512] = "";
    ev.reason = prefix;
    int rc = store_apply(f->store, &ev, NULL, 1, NULL, why, sizeof why);
    if (rc != DNSBL_OK)
        print_error("store_apply %s: %s\n", prefix, why);
    assert_int_equal(rc, DNSBL_OK);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");
    char why[512];
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "%s/dnsbl-verdict-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(store_open(f->dir, STORE_CREATE, &f->store, why, sizeof why), DNSBL_OK);
    add(f, "192.0.2.0/24", EV_LIST, 1, T0);
    add(f, "192.0.2.7", EV_ALLOW, 1, T0);
    add(f, "198.51.100.0/24", EV_ALLOW, 1, T0);
    add(f, "198.51.100.9", EV_LIST, 1, T0);
    add(f, "203.0.113.9", EV_ABUSE, 20, NOW - MODEL_DAY);        /* inside the window */
    add(f, "203.0.113.10", EV_ABUSE, 100, NOW - 20 * MODEL_DAY); /* outside a 10-day one */
    add(f, "127.0.0.1", EV_ABUSE, 20, NOW - MODEL_DAY);          /* evidence is not a listing */
    add(f, "10.0.0.0/16", EV_LIST, 1, T0);
    add(f, "10.0.0.0/25", EV_LIST, 1, T0);
    assert_int_equal(store_reader_open(f->store, &f->reader), DNSBL_OK);
    assert_int_equal(store_reader_begin(f->reader), DNSBL_OK);
    f->sc = (struct verdict_scratch){.covering = f->covering,
                                     .covering_cap = STORE_COVERING_MAX,
                                     .history = f->history,
                                     .history_cap = STORE_HISTORY_MAX};
    policy_defaults(&f->zp);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[600];
    store_reader_end(f->reader);
    store_reader_close(f->reader);
    store_close(f->store);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static struct verdict decide(struct fixture *f, const char *addr, unsigned flags,
                             uint32_t trend_days)
{
    struct addr_prefix a = pfx(addr);
    struct verdict_query q = {.addr = &a, .now = NOW, .flags = flags, .trend_days = trend_days};
    struct verdict v;
    assert_int_equal(verdict_decide(&f->sc, f->reader, &f->zp, &q, &v), DNSBL_OK);
    return v;
}

static void test_testpoints(void **state)
{
    struct fixture *f = *state;
    struct verdict v = decide(f, "127.0.0.2", VERDICT_TESTPOINTS, 0);
    assert_true(v.d.listed);
    assert_int_equal(v.d.n, 1);
    assert_int_equal(v.d.codes[0], 0x7f000002);
    assert_int_equal(v.d.why, WHY_TESTPOINT);
    assert_int_equal(v.n, 0); /* the store is not asked */
    /* ::ffff:127.0.0.2 is the same key */
    v = decide(f, "::ffff:127.0.0.2", VERDICT_TESTPOINTS, 0);
    assert_true(v.d.listed);
    /* 127.0.0.1 has evidence that lists it in a score zone, but never is. */
    f->zp.kind = ZONE_SCORE;
    v = decide(f, "127.0.0.1", 0, 0);
    assert_true(v.d.listed);
    v = decide(f, "127.0.0.1", VERDICT_TESTPOINTS, 0);
    assert_false(v.d.listed);
    assert_int_equal(v.d.n, 0);
    /* Without the flag 127.0.0.2 is what the store says: nothing. */
    f->zp.kind = ZONE_BLOCKLIST;
    v = decide(f, "127.0.0.2", 0, 0);
    assert_false(v.d.listed);
    assert_int_equal(verdict_testpoint(&(struct addr_prefix){0}), VERDICT_TP_NONE);
    struct addr_prefix p = pfx("127.0.0.0/30");
    assert_int_equal(verdict_testpoint(&p), VERDICT_TP_NONE);
}

static void test_testpoint_txt(void **state)
{
    struct fixture *f = *state;
    struct verdict v = decide(f, "127.0.0.2", VERDICT_TESTPOINTS, 0);
    char buf[128];
    size_t len = 0;
    assert_true(
        verdict_render_txt(&f->zp, &v.d, 0, "127.0.0.2", "bl.example", buf, sizeof buf, &len));
    assert_string_equal(buf, VERDICT_TESTPOINT_TXT);
    assert_int_equal(len, strlen(VERDICT_TESTPOINT_TXT));
    assert_false(
        verdict_render_txt(&f->zp, &v.d, 1, "127.0.0.2", "bl.example", buf, sizeof buf, &len));
}

static void test_allow_over_list(void **state)
{
    struct fixture *f = *state;
    struct verdict v = decide(f, "192.0.2.7", VERDICT_TESTPOINTS, 0);
    assert_false(v.d.listed);
    assert_true(v.d.allowed);
    assert_int_equal(v.n, 2);
    v = decide(f, "192.0.2.8", VERDICT_TESTPOINTS, 0);
    assert_true(v.d.listed);
    assert_int_equal(v.d.why, WHY_MANUAL);
    /* an allowed /24 beats a listing of one of its addresses */
    v = decide(f, "198.51.100.9", VERDICT_TESTPOINTS, 0);
    assert_false(v.d.listed);
    assert_true(v.d.allowed);
}

static void test_score_from_history(void **state)
{
    struct fixture *f = *state;
    struct verdict v = decide(f, "203.0.113.9", VERDICT_TESTPOINTS, 0);
    assert_true(v.d.listed);
    assert_int_equal(v.d.why, WHY_COMPLAINTS);
    assert_non_null(v.evidence);
    assert_int_equal(v.ndays, 1);
    assert_true(v.d.score.value >= f->zp.threshold);
    /* No history scratch: no score, nothing lists it. */
    f->sc.history_cap = 0;
    v = decide(f, "203.0.113.9", VERDICT_TESTPOINTS, 0);
    assert_false(v.d.listed);
    f->sc.history_cap = STORE_HISTORY_MAX;
}

static void test_window_and_trend(void **state)
{
    struct fixture *f = *state;
    f->zp.window_days = 10;
    /* 20 days ago is outside the window: not read, not listed. */
    struct verdict v = decide(f, "203.0.113.10", 0, 0);
    assert_false(v.d.listed);
    assert_int_equal(v.ndays, 0);
    assert_int_equal(v.first_day, NOW / MODEL_DAY - 10);
    /* show's 30-day trend reads the day, but the policy still sees 10. */
    v = decide(f, "203.0.113.10", VERDICT_TEXTS, 30);
    assert_int_equal(v.ndays, 1);
    assert_int_equal(v.first_day, NOW / MODEL_DAY - 29);
    assert_false(v.d.listed);
    f->zp.window_days = 90;
    v = decide(f, "203.0.113.10", 0, 0);
    assert_true(v.d.listed);
}

static void test_whole_prefix(void **state)
{
    struct fixture *f = *state;
    /* The /25 covers the /24's first address, not the /24. */
    struct verdict v = decide(f, "10.0.0.0/24", VERDICT_TEXTS | VERDICT_WHOLE_PREFIX, 0);
    assert_int_equal(v.n, 1);
    assert_int_equal(v.covering[0].prefix.plen, 16);
    assert_string_equal(v.covering[0].reason, "10.0.0.0/16");
    assert_true(v.d.listed);
    v = decide(f, "10.0.0.1", VERDICT_TEXTS | VERDICT_WHOLE_PREFIX, 0);
    assert_int_equal(v.n, 2);
    assert_int_equal(v.covering[0].prefix.plen, 25);
}

static void test_texts_only_when_asked(void **state)
{
    struct fixture *f = *state;
    struct verdict v = decide(f, "192.0.2.8", VERDICT_TEXTS, 0);
    assert_int_equal(v.n, 1);
    assert_string_equal(v.covering[0].reason, "192.0.2.0/24");
    char buf[256];
    size_t len;
    assert_true(
        verdict_render_txt(&f->zp, &v.d, 0, "192.0.2.8", "bl.example", buf, sizeof buf, &len));
    assert_string_equal(buf, "192.0.2.8 is listed in bl.example: 192.0.2.0/24");
}

static void test_no_store_and_store_errors(void **state)
{
    struct fixture *f = *state;
    struct addr_prefix a = pfx("192.0.2.8");
    struct verdict_query q = {.addr = &a, .now = NOW, .flags = VERDICT_TESTPOINTS};
    struct verdict v;
    /* No store: nothing covers anything. */
    assert_int_equal(verdict_decide(&f->sc, NULL, &f->zp, &q, &v), DNSBL_OK);
    assert_false(v.d.listed);
    assert_int_equal(v.n, 0);
    /* A reader that cannot answer is an error, not "not listed". */
    store_reader_end(f->reader);
    assert_int_not_equal(verdict_decide(&f->sc, f->reader, &f->zp, &q, &v), DNSBL_OK);
    /* The test points need no store. */
    a = pfx("127.0.0.2");
    assert_int_equal(verdict_decide(&f->sc, f->reader, &f->zp, &q, &v), DNSBL_OK);
    assert_true(v.d.listed);
    assert_int_equal(store_reader_begin(f->reader), DNSBL_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_testpoints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_testpoint_txt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allow_over_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_score_from_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_and_trend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_whole_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_texts_only_when_asked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_store_and_store_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
