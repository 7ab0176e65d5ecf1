/* Unit tests of the pull state (store_pull_*): it round-trips, and it is
 * written in the same transaction as the transfer it describes, so that a
 * write failing at any step (store_testing_fail_step) leaves the old data
 * and the old serial together. Each test works in its own directory under
 * one mkdtemp directory, removed at the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "addr.h"
#include "err.h"
#include "model.h"
#include "store.h"
#include "store_testing.h"

static char tmp_root[512];
static unsigned tmp_seq;

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path);
}

static int group_setup(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    int len = snprintf(tmp_root, sizeof tmp_root, "%s/test_store_pull.XXXXXX",
                       base && *base ? base : "/tmp");
    if (len < 0 || (size_t)len >= sizeof tmp_root)
        return -1;
    return mkdtemp(tmp_root) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    return nftw(tmp_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static struct store *create_store(void)
{
    char dir[600], why[512] = "";
    struct store *s = NULL;
    snprintf(dir, sizeof dir, "%s/%u", tmp_root, tmp_seq++);
    assert_int_equal(store_open(dir, STORE_CREATE, &s, why, sizeof why), DNSBL_OK);
    return s;
}

static struct event list_ev(const char *prefix, uint32_t code, const char *txt)
{
    struct event ev = {.kind = EV_IMPORT_LIST,
                       .time = 1000,
                       .code = code,
                       .txt = txt,
                       .dataset = "bl.example",
                       .source = "pull"};
    assert_int_equal(addr_parse(prefix, &ev.prefix, NULL, 0), DNSBL_OK);
    return ev;
}

static void event_at(void *arg, size_t i, struct event *ev)
{
    *ev = ((const struct event *)arg)[i];
}

/* The dataset's code on prefix, 0 when it holds none. */
static uint32_t code_of(struct store *s, const char *prefix)
{
    struct store_reader *r;
    struct entry e;
    struct addr_prefix p;
    uint32_t code = 0;
    assert_int_equal(addr_parse(prefix, &p, NULL, 0), DNSBL_OK);
    assert_int_equal(store_reader_open(s, &r), DNSBL_OK);
    assert_int_equal(store_reader_begin(r), DNSBL_OK);
    if (store_reader_get(r, &p, &e) == DNSBL_OK) {
        int at = model_part_find(&e, model_dataset_id("bl.example"));
        if (at >= 0)
            code = e.parts[at].code;
    }
    store_reader_end(r);
    store_reader_close(r);
    return code;
}

static uint32_t serial_of(struct store *s)
{
    struct store_pull_state st;
    char why[256];
    assert_int_equal(store_pull_get(s, "BL.example.", &st, why, sizeof why), DNSBL_OK);
    assert_true(st.have_serial);
    return st.serial;
}

static void test_round_trip(void **state)
{
    (void)state;
    struct store *s = create_store();
    struct store_pull_state st = {0}, got;
    char why[256];
    assert_int_equal(store_pull_get(s, "bl.example", &got, why, sizeof why), DNSBL_ENOENT);
    st.have_serial = true;
    st.serial = 0xfffffffe;
    st.refresh = 300;
    st.retry = 60;
    st.expire = 86400;
    st.minimum = 30;
    st.last_success = 1700000000;
    st.last_attempt = 1700000300;
    st.expired_at = 0;
    st.pulls = 7;
    st.import_id = 3;
    snprintf(st.dataset, sizeof st.dataset, "bl.example");
    snprintf(st.primary, sizeof st.primary, "[::1]:5300");
    snprintf(st.last_error, sizeof st.last_error, "connect: Connection refused");
    assert_int_equal(store_pull_put(s, "bl.example.", &st, why, sizeof why), DNSBL_OK);
    assert_int_equal(store_pull_get(s, "Bl.Example", &got, why, sizeof why), DNSBL_OK);
    assert_memory_equal(&got, &st, sizeof st);
    /* another zone is its own record */
    assert_int_equal(store_pull_get(s, "other.example", &got, why, sizeof why), DNSBL_ENOENT);
    assert_int_equal(store_pull_put(s, "", &st, why, sizeof why), DNSBL_EINVAL);
    store_close(s);
}

static const char *const DATASETS[] = {"bl.example"};

/* A write failing at each step in turn: the data and the serial stay
 * together, old or new, never one without the other. */
static void test_one_transaction(void **state)
{
    (void)state;
    struct store *s = create_store();
    char why[512];
    struct store_pull_state st = {.have_serial = true, .serial = 1, .expire = 3600};
    snprintf(st.dataset, sizeof st.dataset, "bl.example");
    struct event v1[] = {list_ev("192.0.2.0/24", 0x7f000002, "one"),
                         list_ev("203.0.113.9", 0x7f000003, NULL)};
    struct store_sync_stats ss;
    assert_int_equal(store_pull_full(s, "bl.example", &st, DATASETS, 1, 2, event_at, v1, 1000, &ss,
                                     why, sizeof why),
                     DNSBL_OK);
    assert_int_equal(serial_of(s), 1);
    assert_int_equal(code_of(s, "192.0.2.0/24"), 0x7f000002);

    /* IXFR to 2: the code of one changes, the other leaves */
    struct event d2[] = {list_ev("192.0.2.0/24", 0x7f000004, "one"),
                         list_ev("203.0.113.9", 0, NULL)};
    d2[1].kind = EV_IMPORT_REMOVE;
    st.serial = 2;
    int rc = DNSBL_EIO;
    unsigned nth;
    for (nth = 1; nth < 200 && rc != DNSBL_OK; nth++) {
        store_testing_fail_step(s, nth);
        rc = store_pull_incr(s, "bl.example", &st, d2, 2, NULL, why, sizeof why);
        store_testing_fail_step(s, 0);
        if (rc != DNSBL_OK) {
            assert_int_equal(serial_of(s), 1);
            assert_int_equal(code_of(s, "192.0.2.0/24"), 0x7f000002);
            assert_int_equal(code_of(s, "203.0.113.9"), 0x7f000003);
        }
    }
    assert_int_equal(rc, DNSBL_OK);
    assert_true(nth > 2); /* some step did fail first */
    assert_int_equal(serial_of(s), 2);
    assert_int_equal(code_of(s, "192.0.2.0/24"), 0x7f000004);
    assert_int_equal(code_of(s, "203.0.113.9"), 0);

    /* a whole zone (or the withdrawal of an expired one: no events) */
    st.serial = 3;
    st.expired_at = 5000;
    rc = DNSBL_EIO;
    for (nth = 1; nth < 200 && rc != DNSBL_OK; nth++) {
        store_testing_fail_step(s, nth);
        rc = store_pull_full(s, "bl.example", &st, DATASETS, 1, 0, event_at, v1, 5000, &ss, why,
                             sizeof why);
        store_testing_fail_step(s, 0);
        if (rc != DNSBL_OK) {
            assert_int_equal(serial_of(s), 2);
            assert_int_equal(code_of(s, "192.0.2.0/24"), 0x7f000004);
        }
    }
    assert_int_equal(rc, DNSBL_OK);
    assert_int_equal(ss.removed, 1);
    assert_int_equal(serial_of(s), 3);
    assert_int_equal(code_of(s, "192.0.2.0/24"), 0);

    /* no change in the data: the state is written all the same */
    st.serial = 4;
    assert_int_equal(store_pull_incr(s, "bl.example", &st, NULL, 0, NULL, why, sizeof why),
                     DNSBL_OK);
    assert_int_equal(serial_of(s), 4);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_one_transaction),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
