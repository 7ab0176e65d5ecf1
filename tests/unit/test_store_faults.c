/* Unit tests for the store under faults: the map growing under a batch
 * that does not fit (a map size option starts it tiny), with readers
 * of the same process and of another process reading throughout; a map
 * full at its limit; and store_check on a consistent store and on one
 * corrupted record by record. Each test works in its own directory under
 * one mkdtemp directory, removed at the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <limits.h>
#include <lmdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "addr.h"
#include "err.h"
#include "model.h"
#include "store.h"
#include "store_testing.h"
#include "test_paths.h"

#define BATCH 2000
#define T0 1748000000

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
    return test_mkdtemp(tmp_root, sizeof tmp_root, "test_store_faults") ? 0 : -1;
}

/* The map of the stores opened from now on: "INITIAL[,MAX]", or NULL for
 * the default (through the tests' hook, store_testing.h). */
static void map_size(const char *text)
{
    struct store_options o;
    char why[256] = "";
    store_testing_defaults(NULL);
    store_options_default(&o);
    if (text)
        assert_int_equal(store_options_map_size(&o, text, why, sizeof why), DNSBL_OK);
    store_testing_defaults(&o);
}

/* A lookup filter from the first entry (on), or from the default count. */
static void filter_from_first(bool on)
{
    struct store_options o;
    store_testing_defaults(NULL);
    store_options_default(&o);
    if (on)
        o.filter_min = 0;
    store_testing_defaults(&o);
}

static int group_teardown(void **state)
{
    (void)state;
    map_size(NULL);
    return nftw(tmp_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void fresh_dir(char *buf, size_t cap, const char *name)
{
    int len = snprintf(buf, cap, "%s/%u-%s", tmp_root, tmp_seq++, name);
    assert_true(len > 0 && (size_t)len < cap);
}

static struct store *open_store(const char *dir, int flags)
{
    struct store *s = NULL;
    char why[512] = "";
    int rc = store_open(dir, flags, &s, why, sizeof why);
    if (rc != DNSBL_OK)
        print_error("store_open: %s\n", why);
    assert_int_equal(rc, DNSBL_OK);
    return s;
}

/* Event i of a test import: abuse reports for 10.x.y.z, one a second,
 * each with history, so entries, history and seen all grow. */
static void make_event(size_t i, struct event *ev, uint8_t key[32])
{
    memset(ev, 0, sizeof *ev);
    uint8_t a[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
    addr_from_bytes(&ev->prefix, ADDR_V4, a, 32);
    ev->kind = EV_ABUSE;
    ev->weight = 1;
    ev->time = T0 + (int64_t)i * 60;
    ev->reason = "a reason long enough to take some room in every entry value";
    ev->source = "test";
    memset(key, 0, 32);
    memcpy(key, &i, sizeof i);
    key[31] = 0x5a;
}

/* Apply events [from, to) in batches; returns the first error. */
static int import_range(struct store *s, size_t from, size_t to, char *why, size_t whylen)
{
    static struct event ev[BATCH];
    static uint8_t keys[BATCH][32];
    static const uint8_t *kp[BATCH];
    for (size_t i = from; i < to;) {
        size_t n = 0;
        for (; n < BATCH && i < to; n++, i++) {
            make_event(i, &ev[n], keys[n]);
            kp[n] = keys[n];
        }
        struct store_apply_stats st;
        int rc = store_apply(s, ev, kp, n, &st, why, whylen);
        if (rc != DNSBL_OK)
            return rc;
        assert_int_equal(st.applied, n);
    }
    return DNSBL_OK;
}

/* The map size recorded in the file, as another process would find it. */
static size_t recorded_mapsize(const char *dir)
{
    MDB_env *env;
    MDB_envinfo info;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0640), 0);
    assert_int_equal(mdb_env_info(env, &info), 0);
    mdb_env_close(env);
    return info.me_mapsize;
}

struct problems {
    size_t n;
    char text[64][512];
};

static void collect_problem(void *arg, const char *what)
{
    struct problems *p = arg;
    if (p->n < 64)
        snprintf(p->text[p->n], sizeof p->text[p->n], "%s", what);
    p->n++;
}

static bool has_problem(const struct problems *p, const char *a, const char *b)
{
    for (size_t i = 0; i < p->n && i < 64; i++)
        if (strstr(p->text[i], a) && (!b || strstr(p->text[i], b)))
            return true;
    return false;
}

static size_t check_store(struct store *s, struct problems *p)
{
    size_t n = 99;
    memset(p, 0, sizeof *p);
    assert_int_equal(store_check(s, collect_problem, p, &n), DNSBL_OK);
    assert_int_equal(n, p->n);
    for (size_t i = 0; i < p->n && i < 64; i++)
        print_message("problem: %s\n", p->text[i]);
    return n;
}

/* Every event i in [0, n) is there, with one abuse report. */
static void assert_all_there(struct store *s, size_t n)
{
    struct store_reader *r;
    struct entry e;
    size_t count = 0;
    assert_int_equal(store_count(s, &count), DNSBL_OK);
    assert_int_equal(count, n);
    assert_int_equal(store_reader_open(s, &r), DNSBL_OK);
    assert_int_equal(store_reader_begin(r), DNSBL_OK);
    for (size_t i = 0; i < n; i += n / 97 + 1) {
        struct event ev;
        uint8_t key[32];
        make_event(i, &ev, key);
        assert_int_equal(store_reader_get(r, &ev.prefix, &e), DNSBL_OK);
        assert_int_equal(e.counts[CNT_ABUSE], 1);
    }
    store_reader_end(r);
    store_reader_close(r);
}

static void test_map_grows(void **state)
{
    (void)state;
    char dir[PATH_MAX], why[512] = "";
    struct problems p;
    fresh_dir(dir, sizeof dir, "grows");
    map_size("1m");
    struct store *s = open_store(dir, STORE_CREATE);
    assert_int_equal(recorded_mapsize(dir), 1 << 20);

    /* About 20 MiB of data: five doublings at least. */
    int rc = import_range(s, 0, 60000, why, sizeof why);
    if (rc != DNSBL_OK)
        print_error("import: %s\n", why);
    assert_int_equal(rc, DNSBL_OK);
    assert_all_there(s, 60000);
    assert_int_equal(check_store(s, &p), 0);
    store_close(s);
    size_t grown = recorded_mapsize(dir);
    print_message("map grew from 1 MiB to %zu MiB\n", grown >> 20);
    assert_true(grown >= (size_t)16 << 20);

    /* Reopened, the store keeps its grown map (a writer does not shrink it
     * back to the initial size it was opened with) and goes on. */
    s = open_store(dir, STORE_CREATE);
    assert_int_equal(import_range(s, 60000, 61000, why, sizeof why), DNSBL_OK);
    assert_all_there(s, 61000);
    store_close(s);
    assert_true(recorded_mapsize(dir) >= grown);
    map_size(NULL);
}

static void test_map_full_at_limit(void **state)
{
    (void)state;
    char dir[PATH_MAX], why[512] = "";
    struct problems p;
    uint64_t before, after;
    fresh_dir(dir, sizeof dir, "limit");
    map_size("256k,1m");
    struct store *s = open_store(dir, STORE_CREATE);
    assert_int_equal(import_range(s, 0, 200, why, sizeof why), DNSBL_OK);
    assert_int_equal(store_serial(s, &before), DNSBL_OK);

    /* Far more than 1 MiB: the store refuses the batch whole, says why,
     * and keeps every earlier batch intact. */
    int rc = DNSBL_OK;
    for (size_t from = 200; rc == DNSBL_OK && from < 40000; from += BATCH)
        rc = import_range(s, from, from + BATCH, why, sizeof why);
    assert_int_equal(rc, DNSBL_EBUSY);
    print_message("refused: %s\n", why);
    assert_non_null(strstr(why, "limit of 1 MiB"));
    assert_int_equal(store_serial(s, &after), DNSBL_OK);
    assert_true(after >= before);
    size_t count;
    assert_int_equal(store_count(s, &count), DNSBL_OK);
    assert_int_equal(count % BATCH, 200); /* whole batches only */
    assert_int_equal(check_store(s, &p), 0);
    store_close(s);

    map_size(NULL);
    struct store_options o;
    store_options_default(&o);
    assert_int_equal(store_options_map_size(&o, "1m,512k", why, sizeof why), DNSBL_EINVAL);
    assert_non_null(strstr(why, "map size '1m,512k'"));
    assert_int_equal(store_options_map_size(&o, "lots", why, sizeof why), DNSBL_EINVAL);
    assert_int_equal(store_options_map_size(&o, "1m,", why, sizeof why), DNSBL_EINVAL);
    /* Options filled in by hand are checked as well. */
    o.map_initial = (size_t)1 << 20;
    o.map_max = (size_t)512 << 10;
    s = (struct store *)1;
    assert_int_equal(store_open_opts(dir, 0, &o, &s, why, sizeof why), DNSBL_EINVAL);
    assert_null(s);
    assert_non_null(strstr(why, "map size"));
}

/* Readers that look up addresses until told to stop, counting lookups
 * and failures: what a dnsbld worker does, minus the sockets. */
struct reader_loop {
    struct store *s;
    atomic_bool *stop;
    size_t lookups, failures;
    pthread_t thread;
};

static void *reader_main(void *arg)
{
    struct reader_loop *l = arg;
    struct store_reader *r;
    struct entry found[STORE_COVERING_MAX];
    if (store_reader_open(l->s, &r) != DNSBL_OK) {
        l->failures++;
        return NULL;
    }
    for (size_t i = 0; !atomic_load(l->stop); i++) {
        if (store_reader_begin(r) != DNSBL_OK) {
            l->failures++;
            continue;
        }
        for (size_t j = 0; j < 16; j++) {
            struct event ev;
            uint8_t key[32];
            size_t n;
            make_event((i * 16 + j) % 30000, &ev, key);
            if (store_reader_covering(r, &ev.prefix, found, STORE_COVERING_MAX, &n) != DNSBL_OK)
                l->failures++;
            l->lookups++;
        }
        store_reader_end(r);
    }
    store_reader_close(r);
    return NULL;
}

static void start_readers(struct reader_loop *loops, size_t n, struct store *s, atomic_bool *stop)
{
    for (size_t i = 0; i < n; i++) {
        loops[i] = (struct reader_loop){.s = s, .stop = stop};
        assert_int_equal(pthread_create(&loops[i].thread, NULL, reader_main, &loops[i]), 0);
    }
}

static void stop_readers(struct reader_loop *loops, size_t n, atomic_bool *stop)
{
    atomic_store(stop, true);
    for (size_t i = 0; i < n; i++) {
        pthread_join(loops[i].thread, NULL);
        print_message("reader %zu: %zu lookups, %zu failures\n", i, loops[i].lookups,
                      loops[i].failures);
        assert_true(loops[i].lookups > 0);
        assert_int_equal(loops[i].failures, 0);
    }
}

/* The writer grows the map while readers of the same struct store read:
 * each remap waits for their transactions to end. */
static void test_map_grows_under_readers_same_process(void **state)
{
    (void)state;
    char dir[PATH_MAX], why[512] = "";
    struct reader_loop loops[3];
    atomic_bool stop = false;
    fresh_dir(dir, sizeof dir, "grows-threads");
    map_size("1m");
    struct store *s = open_store(dir, STORE_CREATE);
    start_readers(loops, 3, s, &stop);
    int rc = import_range(s, 0, 30000, why, sizeof why);
    stop_readers(loops, 3, &stop);
    if (rc != DNSBL_OK)
        print_error("import: %s\n", why);
    assert_int_equal(rc, DNSBL_OK);
    assert_all_there(s, 30000);
    store_close(s);
    assert_true(recorded_mapsize(dir) >= (size_t)8 << 20);
    map_size(NULL);
}

/* Another process grows the map while this one's readers read, as an
 * import does under dnsbld: the readers meet MDB_MAP_RESIZED, and the one
 * that adopts the new size first waits for the others' transactions. */
static void test_map_grows_under_readers_other_process(void **state)
{
    (void)state;
    char dir[PATH_MAX], why[512] = "";
    struct reader_loop loops[3];
    atomic_bool stop = false;
    int go[2];
    fresh_dir(dir, sizeof dir, "grows-process");
    map_size("1m");
    store_close(open_store(dir, STORE_CREATE));

    /* The writer is forked before any thread starts, and waits for a go. */
    assert_int_equal(pipe(go), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char c;
        close(go[1]);
        if (read(go[0], &c, 1) != 1)
            _exit(3);
        struct store *w = NULL;
        if (store_open(dir, STORE_CREATE, &w, why, sizeof why) != DNSBL_OK)
            _exit(4);
        int rc = import_range(w, 0, 30000, why, sizeof why);
        store_close(w);
        if (rc != DNSBL_OK)
            fprintf(stderr, "writer: %s\n", why);
        _exit(rc == DNSBL_OK ? 0 : 5);
    }
    close(go[0]);
    struct store *s = open_store(dir, STORE_RDONLY);
    start_readers(loops, 3, s, &stop);
    assert_int_equal(write(go[1], "g", 1), 1);
    close(go[1]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    stop_readers(loops, 3, &stop);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* The readers of this process see everything the writer committed. */
    assert_all_there(s, 30000);
    store_close(s);
    map_size(NULL);
}

/* Writes into a closed store as another (broken) program would. */
static void raw_write(const char *dir, const char *db, const void *key, size_t klen,
                      const void *val, size_t vlen)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0640), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
    MDB_val k = {klen, (void *)(uintptr_t)key}, v = {vlen, (void *)(uintptr_t)val};
    if (val)
        assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    else
        assert_int_equal(mdb_del(txn, dbi, &k, NULL), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void v4key(const char *a4, uint8_t plen, uint8_t key[18])
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    key[0] = ADDR_V4;
    memcpy(key + 1, mapped, 12);
    memcpy(key + 13, a4, 4);
    key[17] = plen;
}

/* Overwrites the first n bytes of an existing value, in a closed store. */
static void raw_set_first_bytes(const char *dir, const char *db, const void *key, size_t klen,
                                const void *bytes, size_t n)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    uint8_t buf[4096];
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0640), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
    MDB_val k = {klen, (void *)(uintptr_t)key}, v;
    assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
    assert_true(v.mv_size >= n && v.mv_size <= sizeof buf);
    memcpy(buf, v.mv_data, v.mv_size);
    memcpy(buf, bytes, n);
    v.mv_data = buf;
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void test_check(void **state)
{
    (void)state;
    char dir[PATH_MAX], why[512] = "";
    struct problems p;
    fresh_dir(dir, sizeof dir, "check");
    filter_from_first(true);
    struct store *s = open_store(dir, STORE_CREATE);
    filter_from_first(false);

    /* Empty, then with entries of several lengths and history. */
    assert_int_equal(check_store(s, &p), 0);
    assert_int_equal(import_range(s, 0, 20, why, sizeof why), DNSBL_OK);
    struct event ev[2];
    memset(ev, 0, sizeof ev);
    assert_int_equal(addr_parse("192.0.2.0/24", &ev[0].prefix, why, sizeof why), DNSBL_OK);
    assert_int_equal(addr_parse("2001:db8::/32", &ev[1].prefix, why, sizeof why), DNSBL_OK);
    ev[0].kind = ev[1].kind = EV_LIST;
    ev[0].time = ev[1].time = T0;
    assert_int_equal(store_apply(s, ev, NULL, 2, NULL, why, sizeof why), DNSBL_OK);
    assert_int_equal(check_store(s, &p), 0);
    store_close(s);

    /* One problem of each kind. */
    uint8_t key[18], hkey[22], seen[31] = {1}, ones5[5] = {0xff, 0xff, 0xff, 0xff, 0xff};
    v4key("\xc0\x00\x02\x00", 24, key);
    raw_write(dir, "entries", key, sizeof key, "\x01garbage", 8);
    v4key("\xcb\x00\x71\x07", 32, hkey);
    memcpy(hkey + 18, "\x00\x00\x50\x00", 4);
    uint8_t hval[36] = {0};
    raw_write(dir, "history", hkey, sizeof hkey, hval, sizeof hval);
    raw_write(dir, "seen", seen, sizeof seen, "\0\0\0\0\0\0\0\1", 8);
    v4key("\xc6\x33\x64\x01", 8, key); /* 198.51.100.1/8: host bits */
    raw_write(dir, "entries", key, sizeof key, "x", 1);
    raw_write(dir, "meta", "serial", 6, NULL, 0);
    /* a filter that says nothing is in any /24 */
    static uint8_t zero_filter4[1 << 21];
    raw_write(dir, "meta", "filter4", 7, zero_filter4, sizeof zero_filter4);
    /* 10.0.0.18: an ancestors bitmap claiming every length */
    v4key("\x0a\x00\x00\x12", 32, key);
    raw_set_first_bytes(dir, "entries", key, sizeof key, ones5, sizeof ones5);

    s = open_store(dir, STORE_RDONLY);
    size_t n = check_store(s, &p);
    assert_true(n >= 8);
    assert_true(has_problem(&p, "entries: 192.0.2.0/24", "does not decode"));
    assert_true(has_problem(&p, "history: 203.0.113.7", "no entry"));
    assert_true(has_problem(&p, "seen: key", "31 bytes"));
    assert_true(has_problem(&p, "entries: key", "host bits"));
    assert_true(has_problem(&p, "meta: no serial", NULL));
    assert_true(has_problem(&p, "entries: 10.0.0.18", "containing it are wrong"));
    assert_false(has_problem(&p, "entries: 10.0.0.17", NULL));
    assert_true(has_problem(&p, "meta: filter4: 10.0.0.0/24 holds entries", "would miss"));
    assert_true(has_problem(&p, "meta: filter4: 192.0.2.0/24", NULL));
    assert_false(has_problem(&p, "filter6", NULL));
    assert_false(has_problem(&p, "2001:db8::/32", NULL));
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_grows),
        cmocka_unit_test(test_map_full_at_limit),
        cmocka_unit_test(test_map_grows_under_readers_same_process),
        cmocka_unit_test(test_map_grows_under_readers_other_process),
        cmocka_unit_test(test_check),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
