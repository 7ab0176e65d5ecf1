/* Unit tests of the store's write transaction and its sticky error (a
 * failing step aborts the whole transaction with the first reason and
 * leaves the store as it was), of the reason a reader that cannot begin
 * gives, and of store_apply_sorted (keyless state handed over in any
 * order, committed in the store's key order). Each test works in its own
 * directory under one mkdtemp directory, removed at the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "addr.h"
#include "err.h"
#include "model.h"
#include "store.h"
#include "store_int.h"
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
    int len = snprintf(tmp_root, sizeof tmp_root, "%s/test_store_txn.XXXXXX",
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

static struct store *create_store(char *dir, size_t cap, const char *name,
                                  const struct store_options *opt)
{
    struct store *s = NULL;
    char why[512] = "";
    int len = snprintf(dir, cap, "%s/%u-%s", tmp_root, tmp_seq++, name);
    assert_true(len > 0 && (size_t)len < cap);
    int rc = store_open_opts(dir, STORE_CREATE, opt, &s, why, sizeof why);
    if (rc != DNSBL_OK)
        print_error("store_open: %s\n", why);
    assert_int_equal(rc, DNSBL_OK);
    return s;
}

static struct event mkev(uint8_t kind, const char *prefix, int64_t time)
{
    struct event ev;
    char why[256] = "";
    memset(&ev, 0, sizeof ev);
    assert_int_equal(addr_parse(prefix, &ev.prefix, why, sizeof why), DNSBL_OK);
    ev.kind = kind;
    ev.weight = 1;
    ev.time = time;
    ev.reason = prefix;
    ev.source = "test";
    return ev;
}

static uint64_t serial_of(struct store *s)
{
    uint64_t serial = UINT64_MAX;
    assert_int_equal(store_serial(s, &serial), DNSBL_OK);
    return serial;
}

static void count_problem(void *arg, const char *what)
{
    print_error("problem: %s\n", what);
    (*(size_t *)arg)++;
}

static size_t problems_of(struct store *s)
{
    size_t n = 0, seen = 0;
    assert_int_equal(store_check(s, count_problem, &seen, &n), DNSBL_OK);
    return n;
}

/* Every entry as "prefix=reason;" text, in the store's order. */
struct dump {
    char text[8192];
};

static int dump_one(const struct entry *e, void *arg)
{
    struct dump *d = arg;
    char p[ADDR_TEXT_MAX];
    addr_format(&e->prefix, p, sizeof p);
    size_t used = strlen(d->text);
    snprintf(d->text + used, sizeof d->text - used, "%s=%s/%u/%lld;", p, e->reason, e->state,
             (long long)e->last_seen);
    return 0;
}

static void dump_of(struct store *s, struct dump *d)
{
    d->text[0] = '\0';
    assert_int_equal(store_foreach(s, dump_one, d), DNSBL_OK);
}

/* The mechanism itself: the first failure is kept, later ones and later
 * steps are ignored, and the end aborts with the first reason. */
static void test_txn_first_failure_wins(void **state)
{
    (void)state;
    char dir[PATH_MAX], why[STORE_WHY_MAX] = "";
    struct store *s = create_store(dir, sizeof dir, "first", NULL);
    struct event ev = mkev(EV_LIST, "192.0.2.0/24", 1700000000);
    assert_int_equal(store_apply(s, &ev, NULL, 1, NULL, why, sizeof why), DNSBL_OK);
    uint64_t before = serial_of(s);

    struct store_txn t;
    assert_int_equal(store_txn_begin(s, &t), DNSBL_OK);
    /* A step that works, and is then thrown away with the rest. */
    assert_int_equal(store_txn_step(&t, store_put_u64(s, t.txn, "serial", 999), "write serial"),
                     DNSBL_OK);
    assert_true(store_txn_ok(&t));
    assert_int_equal(store_txn_fail(&t, DNSBL_ESCHEMA, "the first failure, step %d", 2),
                     DNSBL_ESCHEMA);
    assert_false(store_txn_ok(&t));
    assert_int_equal(store_txn_fail(&t, DNSBL_EIO, "a second failure"), DNSBL_ESCHEMA);
    assert_int_equal(store_txn_step(&t, MDB_NOTFOUND, "a third"), DNSBL_ESCHEMA);
    assert_int_equal(store_txn_end(&t, why, sizeof why), DNSBL_ESCHEMA);
    print_message("ended with: %s\n", why);
    assert_non_null(strstr(why, dir));
    assert_non_null(strstr(why, "the first failure, step 2"));
    assert_null(strstr(why, "second"));
    assert_null(strstr(why, "third"));
    assert_int_equal(serial_of(s), before);

    /* The store takes the next write as usual. */
    ev = mkev(EV_LIST, "198.51.100.7", 1700000001);
    assert_int_equal(store_apply(s, &ev, NULL, 1, NULL, why, sizeof why), DNSBL_OK);
    assert_int_equal(serial_of(s), before + 1);
    store_close(s);
}

/* A disk error injected at each step of a write in turn (new entries,
 * entries inside them, history, the filter, the flat index's marks, the
 * serial, the commit): the write fails with that step's reason and the
 * store is as it was, until the write runs out of steps to fail. */
static void test_apply_fails_at_every_step(void **state)
{
    (void)state;
    char dir[PATH_MAX], why[STORE_WHY_MAX];
    struct store_options opt;
    store_options_default(&opt);
    opt.filter_min = opt.flat_min = 0;
    struct store *s = create_store(dir, sizeof dir, "steps", &opt);
    struct event first[3] = {mkev(EV_LIST, "10.0.0.0/8", 1700000000),
                             mkev(EV_ABUSE, "10.1.2.3", 1700000000),
                             mkev(EV_LIST, "2001:db8::/32", 1700000000)};
    assert_int_equal(store_apply(s, first, NULL, 3, NULL, why, sizeof why), DNSBL_OK);
    assert_int_equal(store_flat_refresh(s, true, NULL, why, sizeof why), DNSBL_OK);

    /* New entries before, inside and after the old ones, evidence with
     * history, a change to an old entry, dedup keys. */
    struct event batch[5] = {
        mkev(EV_LIST, "10.0.0.0/16", 1700100000), mkev(EV_ABUSE, "10.1.2.3", 1700100000),
        mkev(EV_TRAP_HIT, "10.9.9.9", 1700100000), mkev(EV_LIST, "203.0.113.0/24", 1700100000),
        mkev(EV_DELIST, "2001:db8::/32", 1700100000)};
    static const uint8_t k1[32] = {1}, k2[32] = {2};
    const uint8_t *keys[5] = {NULL, k1, k2, NULL, NULL};
    struct dump before, after;
    dump_of(s, &before);
    uint64_t serial = serial_of(s);
    unsigned failed = 0;
    for (unsigned step = 1; step < 200; step++) {
        why[0] = '\0';
        store_testing_fail_step(s, step);
        struct store_apply_stats st;
        int rc = store_apply(s, batch, keys, 5, &st, why, sizeof why);
        store_testing_fail_step(s, 0);
        if (rc == DNSBL_OK)
            break; /* fewer steps than this: the write went through */
        failed++;
        assert_int_equal(rc, DNSBL_EIO);
        assert_non_null(strstr(why, dir));
        assert_non_null(strstr(why, strerror(EIO)));
        dump_of(s, &after);
        assert_string_equal(after.text, before.text);
        assert_int_equal(serial_of(s), serial);
        assert_int_equal(problems_of(s), 0);
    }
    print_message("a write of 5 events failed at each of its %u steps\n", failed);
    assert_true(failed >= 8);
    assert_int_equal(serial_of(s), serial + 1);
    dump_of(s, &after);
    assert_string_not_equal(after.text, before.text);
    assert_int_equal(problems_of(s), 0);

    /* A flat rebuild the same way: failed, it leaves the old index. */
    for (unsigned step = 1; step < 50; step++) {
        store_testing_fail_step(s, step);
        struct store_flat_stats st;
        int rc = store_flat_refresh(s, true, &st, why, sizeof why);
        store_testing_fail_step(s, 0);
        if (rc == DNSBL_OK)
            break;
        assert_int_equal(rc, DNSBL_EIO);
        assert_false(st.rebuilt);
        assert_int_equal(problems_of(s), 0);
    }
    store_close(s);
}

/* A sync is one write transaction: failed at any step (the sweep,
 * the removals, an entry deleted with the entries inside it, the
 * filter, the flat marks, the serial) the old set is whole; then it goes
 * through at once, removals and additions together. */
static struct event sync_in[3];
static void sync_at(void *arg, size_t i, struct event *ev)
{
    (void)arg;
    *ev = sync_in[i];
}

static void test_sync_fails_at_every_step(void **state)
{
    (void)state;
    char dir[PATH_MAX], why[STORE_WHY_MAX];
    struct store_options opt;
    store_options_default(&opt);
    opt.filter_min = opt.flat_min = 0;
    struct store *s = create_store(dir, sizeof dir, "sync", &opt);
    const char *old[] = {"10.0.0.0/16", "10.0.1.7", "10.0.2.0/24", "2001:db8::/48"};
    struct event ev[4];
    for (size_t i = 0; i < 4; i++) {
        ev[i] = mkev(EV_IMPORT_LIST, old[i], 1700000000);
        ev[i].dataset = "drop";
    }
    assert_int_equal(store_apply(s, ev, NULL, 4, NULL, why, sizeof why), DNSBL_OK);
    assert_int_equal(store_flat_refresh(s, true, NULL, why, sizeof why), DNSBL_OK);
    /* The new truth: the /16 (holding 10.0.1.7) and the IPv6 /48 leave. */
    const char *now[] = {"10.0.1.7", "10.0.2.0/24", "203.0.113.0/24"};
    for (size_t i = 0; i < 3; i++) {
        sync_in[i] = mkev(EV_IMPORT_LIST, now[i], 1700100000);
        sync_in[i].dataset = "drop";
    }
    const char *names[] = {"drop"};
    struct store_sync_options o = {.now = 1700100000, .max_share = 1};
    struct dump before, after;
    dump_of(s, &before);
    uint64_t serial = serial_of(s);
    unsigned failed = 0;
    struct store_sync_stats st;
    for (unsigned step = 1; step < 200; step++) {
        why[0] = '\0';
        store_testing_fail_step(s, step);
        int rc = store_apply_sync(s, names, 1, 3, sync_at, NULL, &o, &st, why, sizeof why);
        store_testing_fail_step(s, 0);
        if (rc == DNSBL_OK)
            break;
        failed++;
        assert_int_equal(rc, DNSBL_EIO);
        dump_of(s, &after);
        assert_string_equal(after.text, before.text);
        assert_int_equal(serial_of(s), serial);
        assert_int_equal(problems_of(s), 0);
    }
    print_message("a sync failed at each of its %u steps\n", failed);
    assert_true(failed >= 8);
    assert_int_equal(st.before, 4);
    assert_int_equal(st.removed, 2);
    assert_int_equal(serial_of(s), serial + 1);
    dump_of(s, &after);
    assert_string_equal(after.text, "10.0.1.7=/0/0;10.0.2.0/24=/0/0;203.0.113.0/24=/0/0;");
    assert_int_equal(problems_of(s), 0);

    /* Over the limit: refused whole. */
    o.max_share = 0.5;
    sync_in[0] = mkev(EV_IMPORT_LIST, "198.51.100.1", 1700200000);
    sync_in[0].dataset = "drop";
    assert_int_equal(store_apply_sync(s, names, 1, 1, sync_at, NULL, &o, &st, why, sizeof why),
                     DNSBL_EREFUSED);
    assert_non_null(strstr(why, "would remove 3 of the 3 entries"));
    dump_of(s, &before);
    assert_string_equal(after.text, before.text);
    store_close(s);
}

/* A reader that cannot begin says why: here every reader slot is taken. */
static void test_reader_begin_says_why(void **state)
{
    (void)state;
    char dir[PATH_MAX], why[STORE_WHY_MAX] = "";
    struct store *s = create_store(dir, sizeof dir, "readers", NULL);
    struct event ev = mkev(EV_LIST, "192.0.2.0/24", 1700000000);
    assert_int_equal(store_apply(s, &ev, NULL, 1, NULL, why, sizeof why), DNSBL_OK);

    enum { MAX_READERS = STORE_MAXREADERS + 8 };
    static struct store_reader *r[MAX_READERS];
    size_t n = 0;
    int rc = DNSBL_OK;
    for (; n < MAX_READERS; n++) {
        assert_int_equal(store_reader_open(s, &r[n]), DNSBL_OK);
        rc = store_reader_begin(r[n]);
        if (rc != DNSBL_OK)
            break;
        assert_string_equal(store_reader_why(r[n]), "");
    }
    assert_true(n < MAX_READERS);
    assert_int_equal(rc, DNSBL_EBUSY);
    const char *said = store_reader_why(r[n]);
    print_message("reader %zu: %s\n", n, said);
    assert_non_null(strstr(said, dir));
    assert_non_null(strstr(said, "begin read transaction"));
    assert_non_null(strstr(said, "MDB_READERS_FULL"));

    /* One slot freed, the same reader begins, and its reason is gone. */
    store_reader_close(r[0]);
    assert_int_equal(store_reader_begin(r[n]), DNSBL_OK);
    assert_string_equal(store_reader_why(r[n]), "");
    for (size_t i = 1; i <= n; i++)
        store_reader_close(r[i]);
    store_close(s);
}

/* store_apply_sorted: events in any order (IPv6 and IPv4 mixed, repeats
 * of one prefix) land as store_apply would leave them, in few
 * transactions, each prefix's events in the order given. */
struct held {
    struct event ev[64];
    size_t calls;
};

static void held_at(void *arg, size_t i, struct event *ev)
{
    struct held *h = arg;
    h->calls++;
    *ev = h->ev[i];
}

static void test_apply_sorted(void **state)
{
    (void)state;
    char dir[PATH_MAX], dir2[PATH_MAX], why[STORE_WHY_MAX] = "";
    /* 128.0.0.0/1, not 0.0.0.0/0: no listing may cover 127.0.0.1 (model.h). */
    static const char *const prefixes[] = {"2001:db8::/48", "10.0.0.1",   "192.0.2.0/24",
                                           "::/0",          "10.0.0.0/8", "128.0.0.0/1",
                                           "2001:db8::1",   "192.0.2.7"};
    static struct held h;
    size_t n = 0;
    for (unsigned round = 0; round < 3; round++) {
        for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
            /* The last round delists what the first listed: order matters. */
            h.ev[n] =
                mkev(round == 2 && i % 2 ? EV_DELIST : EV_LIST, prefixes[i], 1700000000 + round);
            n++;
        }
    }
    struct store *s = create_store(dir, sizeof dir, "sorted", NULL);
    struct store *ref = create_store(dir2, sizeof dir2, "sorted-ref", NULL);
    struct store_apply_stats st;
    uint64_t before = serial_of(s);
    assert_int_equal(store_apply_sorted(s, n, held_at, &h, 5, &st, why, sizeof why), DNSBL_OK);
    assert_int_equal(st.applied, n);
    assert_int_equal(h.calls, 2 * n);
    /* Five per transaction, a prefix's three events never apart: more
     * than n / 5 transactions, fewer than one per event. */
    uint64_t txns = serial_of(s) - before;
    assert_true(txns >= n / 5 && txns < n);
    assert_int_equal(store_apply(ref, h.ev, NULL, n, NULL, why, sizeof why), DNSBL_OK);
    struct dump got, want;
    dump_of(s, &got);
    dump_of(ref, &want);
    assert_string_equal(got.text, want.text);
    assert_int_equal(problems_of(s), 0);

    /* Nothing to do, and a bad batch size. */
    assert_int_equal(store_apply_sorted(s, 0, held_at, &h, 5, &st, why, sizeof why), DNSBL_OK);
    assert_int_equal(st.applied, 0);
    assert_int_equal(store_apply_sorted(s, n, held_at, &h, 0, &st, why, sizeof why), DNSBL_EINVAL);
    store_close(s);
    store_close(ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_txn_first_failure_wins),
        cmocka_unit_test(test_apply_fails_at_every_step),
        cmocka_unit_test(test_reader_begin_says_why),
        cmocka_unit_test(test_apply_sorted),
        cmocka_unit_test(test_sync_fails_at_every_step),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
