/* store_tests: what the store's unit test files share: one scratch
 * directory per test binary (removed by group_teardown), stores created in
 * it, events written in a line each, the covering entries of an address as
 * text, and raw writes into a closed store. Header-only; include after
 * cmocka.h; STORE_TESTS_NAME, defined before, names the scratch directory
 * (default "test_store"). Every store made here is closed by the test that
 * made it. */
#ifndef DNSBL_TEST_STORE_TESTS_H
#define DNSBL_TEST_STORE_TESTS_H

#include <ftw.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "addr.h"
#include "err.h"
#include "model.h"
#include "store.h"
#include "test_paths.h"

#ifndef STORE_TESTS_NAME
#define STORE_TESTS_NAME "test_store"
#endif

static char tmp_root[512];
static unsigned tmp_seq;

static inline int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path);
}

static inline int group_setup(void **state)
{
    (void)state;
    return test_mkdtemp(tmp_root, sizeof tmp_root, STORE_TESTS_NAME) ? 0 : -1;
}

static inline int group_teardown(void **state)
{
    (void)state;
    return nftw(tmp_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh, not yet existing directory path for one test. */
static inline void fresh_dir(char *buf, size_t cap, const char *name)
{
    int len = snprintf(buf, cap, "%s/%u-%s", tmp_root, tmp_seq++, name);
    assert_true(len > 0 && (size_t)len < cap);
}

static inline struct store *create_store(char *dir, size_t cap, const char *name)
{
    struct store *s = NULL;
    char why[512] = "";
    fresh_dir(dir, cap, name);
    int rc = store_open(dir, STORE_CREATE, &s, why, sizeof why);
    if (rc != DNSBL_OK)
        print_error("store_open: %s\n", why);
    assert_int_equal(rc, DNSBL_OK);
    assert_non_null(s);
    return s;
}

static inline struct addr_prefix pfx(const char *text)
{
    struct addr_prefix p;
    char why[256] = "";
    int rc = addr_parse(text, &p, why, sizeof why);
    if (rc != DNSBL_OK)
        print_error("addr_parse(%s): %s\n", text, why);
    assert_int_equal(rc, DNSBL_OK);
    return p;
}

static inline struct event mkev(uint8_t kind, const char *prefix, int64_t time, const char *reason)
{
    struct event ev;
    memset(&ev, 0, sizeof ev);
    ev.prefix = pfx(prefix);
    ev.kind = kind;
    ev.weight = 1;
    ev.time = time;
    ev.reason = reason;
    ev.source = "test";
    return ev;
}

static inline void apply_ok(struct store *s, const struct event *ev, size_t n)
{
    char why[512] = "";
    struct store_apply_stats st;
    int rc = store_apply(s, ev, NULL, n, &st, why, sizeof why);
    if (rc != DNSBL_OK)
        print_error("store_apply: %s\n", why);
    assert_int_equal(rc, DNSBL_OK);
    assert_int_equal(st.applied, n);
    assert_int_equal(st.duplicates, 0);
}

static inline void list(struct store *s, const char *prefix, const char *reason)
{
    struct event ev = mkev(EV_LIST, prefix, 1700000000, reason);
    apply_ok(s, &ev, 1);
}

/* An entry of any prefix: a listing of one covering 127.0.0.1 (a /0) is
 * refused (model_event_refusal), an allow entry is not. */
static inline void allow(struct store *s, const char *prefix, const char *reason)
{
    struct event ev = mkev(EV_ALLOW, prefix, 1700000000, reason);
    apply_ok(s, &ev, 1);
}

static inline uint64_t serial_of(struct store *s)
{
    uint64_t serial = UINT64_MAX;
    assert_int_equal(store_serial(s, &serial), DNSBL_OK);
    return serial;
}

/* The covering entries of addr as "prefix,prefix,..." text. */
static inline void covering_text(struct store_reader *r, const char *addr, size_t cap, char *out,
                                 size_t outcap)
{
    struct entry found[STORE_COVERING_MAX];
    struct addr_prefix a = pfx(addr);
    size_t n = 99;
    assert_true(cap <= STORE_COVERING_MAX);
    assert_int_equal(store_reader_covering(r, &a, found, cap, &n), DNSBL_OK);
    assert_true(n <= cap);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char t[ADDR_TEXT_MAX];
        addr_format(&found[i].prefix, t, sizeof t);
        /* every hit is a real covering prefix with its data decoded (a /0
         * is an allow entry: no listing may cover 127.0.0.1) */
        assert_true(addr_covers(&found[i].prefix, &a));
        assert_int_equal(found[i].state, found[i].prefix.plen ? ENTRY_LISTED : ENTRY_ALLOWED);
        assert_string_equal(found[i].reason, t);
        size_t used = strlen(out);
        snprintf(out + used, outcap - used, "%s%s", i ? "," : "", t);
    }
}

/* The covering entries of addr as text, whatever they hold. */
static inline void covering_text_any(struct store_reader *r, const char *addr, char *out,
                                     size_t outcap)
{
    struct entry found[STORE_COVERING_MAX];
    struct addr_prefix a = pfx(addr);
    size_t n = 0;
    assert_int_equal(store_reader_covering(r, &a, found, STORE_COVERING_MAX, &n), DNSBL_OK);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char t[ADDR_TEXT_MAX];
        addr_format(&found[i].prefix, t, sizeof t);
        size_t used = strlen(out);
        snprintf(out + used, outcap - used, "%s%s", i ? "," : "", t);
    }
}

static inline void assert_covering(struct store_reader *r, const char *addr, const char *want)
{
    char got[2048];
    covering_text(r, addr, STORE_COVERING_MAX, got, sizeof got);
    assert_string_equal(got, want);
}

/* Writes straight into a closed store's meta, as another program would. */
static inline void raw_put(const char *dir, const char *db, const void *key, size_t klen,
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
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static inline void count_problem(void *arg, const char *what)
{
    print_error("problem: %s\n", what);
    (*(size_t *)arg)++;
}

static inline size_t problems_of(struct store *s)
{
    size_t n = 0, seen = 0;
    assert_int_equal(store_check(s, count_problem, &seen, &n), DNSBL_OK);
    assert_int_equal(n, seen);
    return n;
}

#define DAY0 20000u /* 2024-10-04 */

static inline int64_t at(uint32_t day, int64_t seconds)
{
    return (int64_t)day * MODEL_DAY + seconds;
}

#endif
