/* Unit tests for the imports log and undo (doc/store-format.md, "imports"
 * and "undo"): on random stores, an import of random events (operator
 * actions, list parts, removals, evidence with dedup keys, history)
 * followed by its undo leaves entries, history, evidence, the operator
 * history and the dedup keys byte for byte as before; an undo killed
 * after some batches finishes when run again; an undo after a later
 * import keeps what the later one did; the log's records and errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "err.h"
#include "model.h"
#include "store.h"
#include "store_int.h"
#include "store_testing.h"
#define STORE_TESTS_NAME "test_store_undo"
#include "store_tests.h"

/* ---- a whole-store snapshot: every record of the databases undo restores ---- */

struct snap {
    uint8_t *buf;
    size_t len, cap;
};

static void snap_put(struct snap *sn, const void *p, size_t n)
{
    if (sn->len + n + 8 > sn->cap) {
        sn->cap = (sn->len + n + 8) * 2;
        sn->buf = realloc(sn->buf, sn->cap);
        assert_non_null(sn->buf);
    }
    uint64_t len = n;
    memcpy(sn->buf + sn->len, &len, 8);
    memcpy(sn->buf + sn->len + 8, p, n);
    sn->len += 8 + n;
}

static struct snap snapshot(struct store *s)
{
    struct snap sn = {0};
    MDB_dbi dbs[] = {s->entries, s->history, s->evidence, s->oplog, s->seen};
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn), 0);
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        MDB_cursor *cur;
        MDB_val k, v;
        assert_int_equal(mdb_cursor_open(txn, dbs[i], &cur), 0);
        snap_put(&sn, "--db--", 6);
        for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            snap_put(&sn, k.mv_data, k.mv_size);
            snap_put(&sn, v.mv_data, v.mv_size);
        }
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    return sn;
}

static bool snap_equal(const struct snap *a, const struct snap *b)
{
    return a->len == b->len && memcmp(a->buf, b->buf, a->len) == 0;
}

static size_t undo_records(struct store *s)
{
    MDB_txn *txn;
    MDB_stat st;
    assert_int_equal(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_stat(txn, s->undo, &st), 0);
    mdb_txn_abort(txn);
    return st.ms_entries;
}

/* ---- random events ---- */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

#define BATCH 60
static const struct evidence_ident ident = {
    .n = 2, .pair = {{"message-id", "m@example.com"}, {"feedback-type", "abuse"}}};
static const char *const datasets[] = {"drop", "spamhaus", "local"};
static const char *const reasons[] = {"spam", "botnet", NULL, "trap"};

struct batch {
    struct event ev[BATCH];
    uint8_t keys[BATCH][32];
    const uint8_t *dedup[BATCH];
    char text[BATCH][ADDR_TEXT_MAX];
    struct snds_row snds[BATCH];
};

/* An address out of a small space and a prefix length, so events meet
 * on entries and nest. */
static unsigned random_prefix(char *out, size_t cap)
{
    static const unsigned lens4[] = {16, 20, 24, 28, 32, 32, 32};
    static const unsigned lens6[] = {32, 48, 64, 128};
    if (rnd(5) == 0) {
        snprintf(out, cap, "2001:db8:%x::%x", rnd(4), rnd(4));
        return lens6[rnd(4)];
    }
    snprintf(out, cap, "10.%u.%u.%u", rnd(2), rnd(3) * 16, rnd(4));
    return lens4[rnd(7)];
}

static void random_batch(struct batch *b, size_t n, int64_t t0, bool keys)
{
    static const uint8_t kinds[] = {
        EV_LIST,        EV_DELIST,      EV_ALLOW,          EV_ABUSE,
        EV_ABUSE,       EV_TRAP_HIT,    EV_VOLUME,         EV_IMPORT_LIST,
        EV_IMPORT_LIST, EV_IMPORT_LIST, EV_IMPORT_EXCLUDE, EV_IMPORT_REMOVE,
        EV_REMOVE,      EV_SNDS,        EV_NOT_SPAM,       EV_OPERATOR_CLEAR};
    for (size_t i = 0; i < n; i++) {
        unsigned plen = random_prefix(b->text[i], sizeof b->text[i]);
        uint8_t kind = kinds[rnd(sizeof kinds)];
        struct event *ev = &b->ev[i];
        *ev = mkev(kind, b->text[i], t0 + (int64_t)rnd(40) * MODEL_DAY + rnd(3), reasons[rnd(4)]);
        ev->prefix.plen = (uint8_t)plen;
        addr_mask(&ev->prefix);
        ev->weight = 1 + rnd(3);
        ev->dataset = datasets[rnd(3)];
        ev->code = rnd(2) ? 0x7f000002 + rnd(3) : 0;
        ev->txt = rnd(2) ? "listed: $" : NULL;
        ev->by = "tester";
        if (kind == EV_SNDS) {
            memset(&b->snds[i], 0, sizeof b->snds[i]);
            b->snds[i].colour = (uint8_t)(1 + rnd(3));
            b->snds[i].recipients = rnd(1000);
            b->snds[i].start = ev->time;
            ev->snds = &b->snds[i];
        }
        if (kind == EV_ABUSE || kind == EV_TRAP_HIT || kind == EV_NOT_SPAM || kind == EV_SNDS)
            ev->ident = rnd(3) ? &ident : NULL;
        b->dedup[i] = NULL;
        if (keys && rnd(2)) {
            for (int j = 0; j < 32; j++)
                b->keys[i][j] = (uint8_t)rnd(j < 31 ? 256 : 3); /* some repeat */
            b->dedup[i] = b->keys[i];
        }
    }
}

static void apply_batch(struct store *s, struct batch *b, size_t n)
{
    char why[512] = "";
    int rc = store_apply(s, b->ev, b->dedup, n, NULL, why, sizeof why);
    if (rc != DNSBL_OK)
        print_error("store_apply: %s\n", why);
    assert_int_equal(rc, DNSBL_OK);
}

static void random_store(struct store *s, int64_t t0, unsigned batches)
{
    static struct batch b;
    for (unsigned i = 0; i < batches; i++) {
        random_batch(&b, BATCH, t0, true);
        apply_batch(s, &b, BATCH);
    }
}

static uint64_t begin_import(struct store *s, const char *source)
{
    struct import_info info;
    char why[512] = "";
    memset(&info, 0, sizeof info);
    snprintf(info.who, sizeof info.who, "tester");
    snprintf(info.source, sizeof info.source, "%s", source);
    snprintf(info.format, sizeof info.format, "csv");
    snprintf(info.files, sizeof info.files, "a.csv, b.csv");
    int rc = store_import_begin(s, &info, why, sizeof why);
    if (rc != DNSBL_OK)
        print_error("store_import_begin: %s\n", why);
    assert_int_equal(rc, DNSBL_OK);
    assert_int_equal(store_import_current(s), info.id);
    return info.id;
}

static void end_import(struct store *s)
{
    char why[512] = "";
    struct import_info info;
    assert_int_equal(store_import_get(s, store_import_current(s), &info), DNSBL_OK);
    info.counts = (struct import_counts){
        .read = 10, .imported = 9, .duplicates = 1, .rejected = 0, .changed = 8};
    snprintf(info.format, sizeof info.format, "csv, arf");
    assert_int_equal(store_import_end(s, &info, why, sizeof why), DNSBL_OK);
    assert_int_equal(store_import_current(s), 0);
}

static void undo_ok(struct store *s, uint64_t id)
{
    char why[512] = "";
    struct store_undo_stats st;
    int rc = store_undo(s, id, &st, why, sizeof why);
    if (rc != DNSBL_OK)
        print_error("store_undo: %s\n", why);
    assert_int_equal(rc, DNSBL_OK);
}

static void assert_state(struct store *s, uint64_t id, uint8_t state)
{
    struct import_info info;
    assert_int_equal(store_import_get(s, id, &info), DNSBL_OK);
    assert_int_equal(info.state, state);
}

/* Import + undo, on random stores: the store is as before, byte for byte. */
static void test_undo_restores_exactly(void **state)
{
    (void)state;
    static struct batch b;
    for (uint64_t seed = 1; seed <= 25; seed++) {
        char dir[512];
        rng_state = seed * 0x9e3779b97f4a7c15ull;
        struct store *s = create_store(dir, sizeof dir, "exact");
        /* Old evidence, which the import's newer records prune. */
        random_store(s, at(DAY0, 0), 3);
        random_store(s, at(DAY0 + 60, 0), 3);
        assert_int_equal(problems_of(s), 0);
        struct snap before = snapshot(s);
        uint64_t serial = serial_of(s);
        uint64_t id = begin_import(s, "random");
        for (unsigned i = 0; i < 4; i++) {
            random_batch(&b, BATCH, at(DAY0 + 150, 0), true);
            apply_batch(s, &b, BATCH);
        }
        end_import(s);
        assert_state(s, id, IMPORT_DONE);
        struct snap during = snapshot(s);
        assert_false(snap_equal(&before, &during));
        if (seed % 2)
            store_testing_undo_batch(s, 1 + seed % 7);
        undo_ok(s, id);
        struct snap after = snapshot(s);
        if (!snap_equal(&before, &after))
            print_error("seed %llu: the store differs after the undo\n", (unsigned long long)seed);
        assert_true(snap_equal(&before, &after));
        assert_true(serial_of(s) > serial);
        assert_int_equal(problems_of(s), 0);
        assert_int_equal(undo_records(s), 0);
        assert_state(s, id, IMPORT_UNDONE);
        free(before.buf);
        free(during.buf);
        free(after.buf);
        store_close(s);
    }
}

/* An undo that fails after some batches (a disk error, a kill) leaves the
 * import undoing; run again, it finishes, and the store is as before. */
static void test_undo_resumes(void **state)
{
    (void)state;
    static struct batch b;
    for (uint64_t seed = 100; seed < 110; seed++) {
        char dir[512], why[512] = "";
        rng_state = seed * 0x9e3779b97f4a7c15ull;
        struct store *s = create_store(dir, sizeof dir, "resume");
        random_store(s, at(DAY0, 0), 4);
        struct snap before = snapshot(s);
        uint64_t id = begin_import(s, "random");
        for (unsigned i = 0; i < 3; i++) {
            random_batch(&b, BATCH, at(DAY0 + 20, 0), true);
            apply_batch(s, &b, BATCH);
        }
        end_import(s);
        assert_int_equal(problems_of(s), 0);
        size_t records = undo_records(s);
        assert_true(records > 20);
        store_testing_undo_batch(s, 5);
        store_testing_fail_step(s, 40 + (unsigned)seed % 30);
        assert_int_not_equal(store_undo(s, id, NULL, why, sizeof why), DNSBL_OK);
        store_testing_fail_step(s, 0);
        assert_state(s, id, IMPORT_UNDOING);
        size_t left = undo_records(s);
        assert_true(left > 0 && left < records);
        /* what the store is in between is consistent */
        assert_int_equal(problems_of(s), 0);
        store_close(s);
        assert_int_equal(store_open(dir, 0, &s, why, sizeof why), DNSBL_OK);
        undo_ok(s, id);
        assert_state(s, id, IMPORT_UNDONE);
        struct snap after = snapshot(s);
        assert_true(snap_equal(&before, &after));
        assert_int_equal(problems_of(s), 0);
        free(before.buf);
        free(after.buf);
        store_close(s);
    }
}

/* A prune drops an import's undo records (and no other import's), marks
 * it pruned first, so a prune killed midway is never taken for an
 * undoable import, and finishes when run again; the data stays. */
static void test_prune(void **state)
{
    (void)state;
    static struct batch b;
    char dir[512], why[512] = "";
    rng_state = 77;
    struct store *s = create_store(dir, sizeof dir, "prune");
    random_store(s, at(DAY0, 0), 4);
    uint64_t first = begin_import(s, "first");
    random_batch(&b, BATCH, at(DAY0 + 20, 0), true);
    apply_batch(s, &b, BATCH);
    end_import(s);
    size_t of_first = undo_records(s);
    uint64_t second = begin_import(s, "second");
    random_batch(&b, BATCH, at(DAY0 + 21, 0), true);
    apply_batch(s, &b, BATCH);
    end_import(s);
    size_t both = undo_records(s);
    assert_true(of_first > 10 && both > of_first);
    struct snap before = snapshot(s);

    /* Killed after its first batch: pruned already, some records left. */
    store_testing_undo_batch(s, 3);
    store_testing_fail_step(s, 12);
    uint64_t dropped = 0;
    assert_int_not_equal(store_import_prune(s, first, &dropped, why, sizeof why), DNSBL_OK);
    store_testing_fail_step(s, 0);
    assert_state(s, first, IMPORT_PRUNED);
    assert_true(undo_records(s) < both && undo_records(s) > both - of_first);
    assert_int_equal(store_undo(s, first, NULL, why, sizeof why), DNSBL_EINVAL);
    assert_non_null(strstr(why, "pruned"));
    assert_int_equal(problems_of(s), 0);
    /* Run again, it finishes; the other import keeps its records. */
    assert_int_equal(store_import_prune(s, first, &dropped, why, sizeof why), DNSBL_OK);
    assert_int_equal(undo_records(s), both - of_first);
    /* The prune changed no data: every database but the log and undo is
     * as before. */
    struct snap after = snapshot(s);
    assert_true(snap_equal(&before, &after));
    free(before.buf);
    free(after.buf);
    /* Only a done import is pruned; the other still undoes. */
    assert_int_equal(store_import_prune(s, 999, NULL, why, sizeof why), DNSBL_ENOENT);
    undo_ok(s, second);
    assert_int_equal(store_import_prune(s, second, NULL, why, sizeof why), DNSBL_EINVAL);
    assert_int_equal(undo_records(s), 0);
    assert_int_equal(problems_of(s), 0);
    store_close(s);
}

static struct event ev_on(uint8_t kind, const char *prefix, int64_t time, const char *dataset)
{
    struct event ev = mkev(kind, prefix, time, "why");
    ev.dataset = dataset;
    ev.source = dataset;
    ev.ident = kind == EV_ABUSE ? &ident : NULL;
    return ev;
}

/* Undo of an import that a later import wrote over: the later one's
 * parts, counts, history and evidence stay; the undone one's go. */
static void test_undo_keeps_later_import(void **state)
{
    (void)state;
    char dx[512], dy[512];
    const char *prefixes[] = {"10.0.0.1", "10.0.0.0/24", "10.0.1.0/28", "2001:db8::/48"};
    const size_t np = sizeof prefixes / sizeof prefixes[0];
    struct store *x = create_store(dx, sizeof dx, "later-x");
    struct store *y = create_store(dy, sizeof dy, "later-y");
    struct event base[4], a[8], later[8];
    for (size_t i = 0; i < np; i++) {
        base[i] = ev_on(EV_ABUSE, prefixes[i], at(DAY0, 10), "base");
        a[2 * i] = ev_on(EV_IMPORT_LIST, prefixes[i], at(DAY0 + 1, 10), "alpha");
        a[2 * i + 1] = ev_on(EV_ABUSE, prefixes[i], at(DAY0 + 1, 20), "alpha");
        later[2 * i] = ev_on(EV_IMPORT_LIST, prefixes[i], at(DAY0 + 1, 30), "beta");
        later[2 * i + 1] = ev_on(EV_ABUSE, prefixes[i], at(DAY0 + 1, 40), "beta");
    }
    apply_ok(x, base, np);
    apply_ok(y, base, np);
    uint64_t ida = begin_import(x, "alpha");
    apply_ok(x, a, 2 * np);
    end_import(x);
    uint64_t idb = begin_import(x, "beta");
    apply_ok(x, later, 2 * np);
    end_import(x);
    assert_true(idb == ida + 1);
    apply_ok(y, later, 2 * np);
    undo_ok(x, ida);
    assert_state(x, idb, IMPORT_DONE);

    struct store_reader *rx, *ry;
    assert_int_equal(store_reader_open(x, &rx), DNSBL_OK);
    assert_int_equal(store_reader_open(y, &ry), DNSBL_OK);
    assert_int_equal(store_reader_begin(rx), DNSBL_OK);
    assert_int_equal(store_reader_begin(ry), DNSBL_OK);
    for (size_t i = 0; i < np; i++) {
        struct addr_prefix p = pfx(prefixes[i]);
        static struct entry ex, ey;
        assert_int_equal(store_reader_get(rx, &p, &ex), DNSBL_OK);
        assert_int_equal(store_reader_get(ry, &p, &ey), DNSBL_OK);
        assert_int_equal(ex.nparts, 1);
        assert_string_equal(ex.part_text[0].dataset, "beta");
        assert_memory_equal(ex.parts, ey.parts, sizeof ex.parts);
        assert_memory_equal(ex.counts, ey.counts, sizeof ex.counts);
        struct history_day hx[8], hy[8];
        size_t nx, ny;
        assert_int_equal(store_reader_history(rx, &p, 0, hx, 8, &nx), DNSBL_OK);
        assert_int_equal(store_reader_history(ry, &p, 0, hy, 8, &ny), DNSBL_OK);
        assert_int_equal(nx, ny);
        assert_memory_equal(hx, hy, nx * sizeof hx[0]);
        static struct evidence_record vx[8], vy[8];
        assert_int_equal(store_reader_evidence(rx, &p, 8, vx, &nx), DNSBL_OK);
        assert_int_equal(store_reader_evidence(ry, &p, 8, vy, &ny), DNSBL_OK);
        assert_int_equal(nx, 2); /* base's and beta's */
        assert_int_equal(nx, ny);
        assert_int_equal(vx[0].import_id, 0);
        assert_int_equal(vx[1].import_id, idb);
        assert_string_equal(vx[1].dataset, "beta");
    }
    store_reader_end(rx);
    store_reader_end(ry);
    store_reader_close(rx);
    store_reader_close(ry);
    assert_int_equal(problems_of(x), 0);
    store_close(x);
    store_close(y);
}

static int count_import(const struct import_info *info, void *arg)
{
    struct import_info *last = arg;
    *last = *info;
    last->counts.read += 1000; /* marks that the callback ran */
    return 0;
}

/* The log's record, and the errors: unknown, undone already, undo while
 * an import is open, a second open import. */
static void test_log_and_errors(void **state)
{
    (void)state;
    char dir[512], why[512] = "";
    struct store *s = create_store(dir, sizeof dir, "log");
    uint64_t id = begin_import(s, "feed");
    assert_int_equal(id, 1);
    struct import_info again = {0};
    assert_int_equal(store_import_begin(s, &again, why, sizeof why), DNSBL_EINVAL);
    assert_int_equal(store_undo(s, id, NULL, why, sizeof why), DNSBL_EINVAL);
    list(s, "192.0.2.0/24", "spam");
    end_import(s);
    struct import_info info;
    assert_int_equal(store_import_get(s, id, &info), DNSBL_OK);
    assert_int_equal(info.id, 1);
    assert_int_equal(info.state, IMPORT_DONE);
    assert_string_equal(info.who, "tester");
    assert_string_equal(info.source, "feed");
    assert_string_equal(info.format, "csv, arf");
    assert_string_equal(info.files, "a.csv, b.csv");
    assert_true(info.time > 1700000000);
    assert_int_equal(info.counts.read, 10);
    assert_int_equal(info.counts.duplicates, 1);
    assert_int_equal(info.counts.changed, 8);
    struct import_info last = {0};
    assert_int_equal(store_imports(s, count_import, &last), 0);
    assert_int_equal(last.id, 1);
    assert_int_equal(last.counts.read, 1010);
    /* a write outside an import keeps no undo record */
    size_t records = undo_records(s);
    list(s, "198.51.100.0/24", "spam");
    assert_int_equal(undo_records(s), records);

    assert_int_equal(store_undo(s, 99, NULL, why, sizeof why), DNSBL_ENOENT);
    assert_non_null(strstr(why, "no import 99"));
    undo_ok(s, id);
    assert_int_equal(store_undo(s, id, NULL, why, sizeof why), DNSBL_EINVAL);
    assert_non_null(strstr(why, "undone already"));
    assert_string_equal(store_import_state_name(IMPORT_UNDONE), "undone");
    assert_int_equal(begin_import(s, "next"), 2);
    end_import(s);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_undo_restores_exactly),
        cmocka_unit_test(test_undo_resumes),
        cmocka_unit_test(test_undo_keeps_later_import),
        cmocka_unit_test(test_log_and_errors),
        cmocka_unit_test(test_prune),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
