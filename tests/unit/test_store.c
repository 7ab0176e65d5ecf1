/* Unit tests for the store: the value codec, opening and schema checks,
 * applying events, longest-prefix lookups, dedup, serial, history
 * records and their ranges, reader isolation and iteration order (the
 * value codec is tested in test_store_codec.c, the randomised checks and
 * the flat index in test_store_flat.c). Each
 * test works in its own directory under one mkdtemp directory, removed at
 * the end (store_tests.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "err.h"
#include "model.h"
#include "store.h"
#include "store_testing.h"
#include "store_tests.h"

/* ---- opening ---- */

static void test_open_missing(void **state)
{
    (void)state;
    char dir[PATH_MAX], want[PATH_MAX + 64], why[PATH_MAX + 128];
    struct store *s = (struct store *)1;

    fresh_dir(dir, sizeof dir, "missing/deeper");
    snprintf(want, sizeof want, "%s: no store here (create one with dnsblctl)", dir);

    why[0] = '\0';
    assert_int_equal(store_open(dir, 0, &s, why, sizeof why), DNSBL_ENOENT);
    assert_null(s);
    assert_string_equal(why, want);

    why[0] = '\0';
    assert_int_equal(store_open(dir, STORE_RDONLY, &s, why, sizeof why), DNSBL_ENOENT);
    assert_string_equal(why, want);

    /* read-only never creates, even when asked to */
    why[0] = '\0';
    assert_int_equal(store_open(dir, STORE_RDONLY | STORE_CREATE, &s, why, sizeof why),
                     DNSBL_ENOENT);
    assert_string_equal(why, want);
    assert_false(store_exists(dir));
    assert_int_equal(access(dir, F_OK), -1);

    /* an existing but empty directory is no store either */
    fresh_dir(dir, sizeof dir, "empty");
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(want, sizeof want, "%s: no store here (create one with dnsblctl)", dir);
    assert_int_equal(store_open(dir, STORE_RDONLY, &s, why, sizeof why), DNSBL_ENOENT);
    assert_string_equal(why, want);
}

static void test_create_open_reopen(void **state)
{
    (void)state;
    char dir[PATH_MAX], why[512];
    struct store *s;

    fresh_dir(dir, sizeof dir, "a/b/c"); /* mkdir -p */
    assert_int_equal(store_open(dir, STORE_CREATE, &s, why, sizeof why), DNSBL_OK);
    assert_true(store_exists(dir));
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777 & ~0750, 0);
    assert_int_equal(serial_of(s), 0);
    list(s, "192.0.2.0/24", "192.0.2.0/24");
    store_close(s);

    /* writer again, without CREATE */
    assert_int_equal(store_open(dir, 0, &s, why, sizeof why), DNSBL_OK);
    assert_int_equal(serial_of(s), 1);
    store_close(s);

    /* CREATE on an existing store keeps its data */
    assert_int_equal(store_open(dir, STORE_CREATE, &s, why, sizeof why), DNSBL_OK);
    assert_int_equal(serial_of(s), 1);
    store_close(s);

    /* read-only: sees the data, refuses writes */
    assert_int_equal(store_open(dir, STORE_RDONLY, &s, why, sizeof why), DNSBL_OK);
    assert_int_equal(serial_of(s), 1);
    struct store_reader *r;
    struct entry e;
    struct addr_prefix p = pfx("192.0.2.0/24");
    assert_int_equal(store_reader_open(s, &r), DNSBL_OK);
    assert_int_equal(store_reader_begin(r), DNSBL_OK);
    assert_int_equal(store_reader_get(r, &p, &e), DNSBL_OK);
    assert_int_equal(e.state, ENTRY_LISTED);
    store_reader_end(r);
    store_reader_close(r);

    struct event ev = mkev(EV_LIST, "198.51.100.1", 1, "x");
    why[0] = '\0';
    assert_int_equal(store_apply(s, &ev, NULL, 1, NULL, why, sizeof why), DNSBL_EINVAL);
    assert_non_null(strstr(why, "read-only"));
    store_close(s);
}

static void test_schema_mismatch(void **state)
{
    (void)state;
    char dir[PATH_MAX], why[PATH_MAX + 256];
    struct store *s = create_store(dir, sizeof dir, "schema");
    store_close(s);

    /* a version from the future */
    const uint8_t v7[4] = {0, 0, 0, 7};
    raw_put(dir, "meta", "schema", 6, v7, sizeof v7);
    s = (struct store *)1;
    why[0] = '\0';
    assert_int_equal(store_open(dir, 0, &s, why, sizeof why), DNSBL_ESCHEMA);
    assert_null(s);
    assert_non_null(strstr(why, dir));
    assert_non_null(strstr(why, "version 7"));
    assert_non_null(strstr(why, "version 6"));
    why[0] = '\0';
    assert_int_equal(store_open(dir, STORE_RDONLY, &s, why, sizeof why), DNSBL_ESCHEMA);
    assert_non_null(strstr(why, "version 7"));
    assert_non_null(strstr(why, "version 6"));

    /* a malformed version record is a schema error too */
    raw_put(dir, "meta", "schema", 6, v7, 3);
    assert_int_equal(store_open(dir, STORE_RDONLY, &s, why, sizeof why), DNSBL_ESCHEMA);

    /* and back to 6 the store opens again */
    const uint8_t v6[4] = {0, 0, 0, 6};
    raw_put(dir, "meta", "schema", 6, v6, sizeof v6);
    assert_int_equal(store_open(dir, STORE_RDONLY, &s, why, sizeof why), DNSBL_OK);
    store_close(s);
}

/* Turns a closed store back into an older version: the entries values
 * without their ancestors bitmaps, and in version 1 the prefix-length
 * bitmaps in meta, in version 2 a cover database of its own. */
static void make_old_version(const char *dir, uint8_t version)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta, entries, cover;
    MDB_cursor *cur;
    MDB_val k, v;
    uint8_t buf[4096];
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0640), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    assert_int_equal(mdb_dbi_open(txn, "entries", 0, &entries), 0);
    assert_int_equal(mdb_cursor_open(txn, entries, &cur), 0);
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        size_t an = ((const uint8_t *)k.mv_data)[0] == ADDR_V4 ? 5 : 17;
        assert_true(v.mv_size > an && v.mv_size - an <= sizeof buf);
        memcpy(buf, (const uint8_t *)v.mv_data + an, v.mv_size - an);
        uint8_t key[18]; /* k points into the page, which the smaller value reshapes */
        memcpy(key, k.mv_data, sizeof key);
        MDB_val nk = {sizeof key, key}, nv = {v.mv_size - an, buf};
        assert_int_equal(mdb_cursor_put(cur, &nk, &nv, MDB_CURRENT), 0);
    }
    mdb_cursor_close(cur);
    const uint8_t ver[4] = {0, 0, 0, version}, lens4[5] = {0, 0, 0x80, 0x80, 0x80}, lens6[17] = {0};
    k = (MDB_val){6, (void *)"schema"};
    v = (MDB_val){sizeof ver, (void *)ver};
    assert_int_equal(mdb_put(txn, meta, &k, &v, 0), 0);
    if (version == 1) {
        k = (MDB_val){5, (void *)"lens4"};
        v = (MDB_val){sizeof lens4, (void *)lens4};
        assert_int_equal(mdb_put(txn, meta, &k, &v, 0), 0);
        k = (MDB_val){5, (void *)"lens6"};
        v = (MDB_val){sizeof lens6, (void *)lens6};
        assert_int_equal(mdb_put(txn, meta, &k, &v, 0), 0);
    } else {
        assert_int_equal(mdb_dbi_open(txn, "cover", MDB_CREATE, &cover), 0);
        k = (MDB_val){5, (void *)"cover"};
        v = (MDB_val){5, (void *)"\0\0\0\0\0"};
        assert_int_equal(mdb_put(txn, cover, &k, &v, 0), 0);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* Does the closed store in dir still hold anything of the old layouts? */
static bool has_old_layout(const char *dir)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta, cover;
    MDB_val k = {5, (void *)"lens4"}, v;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0640), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    bool old = mdb_get(txn, meta, &k, &v) == 0 || mdb_dbi_open(txn, "cover", 0, &cover) == 0;
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return old;
}

static void test_upgrade_from_older_versions(void **state)
{
    (void)state;
    char dir[PATH_MAX], why[PATH_MAX + 256] = "";
    struct store *s = create_store(dir, sizeof dir, "upgrade");
    list(s, "10.1.2.3", "10.1.2.3");
    list(s, "10.1.0.0/16", "10.1.0.0/16");
    list(s, "10.1.2.0/24", "10.1.2.0/24");
    list(s, "2001:db8::/32", "2001:db8::/32");
    list(s, "2001:db8::1", "2001:db8::1");
    uint64_t serial = serial_of(s);
    store_close(s);
    make_old_version(dir, 1);
    assert_true(has_old_layout(dir));

    /* The server opens read-only: the store is upgraded for it. */
    assert_int_equal(store_open(dir, STORE_RDONLY, &s, why, sizeof why), DNSBL_OK);
    assert_int_equal(problems_of(s), 0);
    assert_int_equal(serial_of(s), serial);
    struct store_reader *r;
    assert_int_equal(store_reader_open(s, &r), DNSBL_OK);
    assert_int_equal(store_reader_begin(r), DNSBL_OK);
    assert_covering(r, "10.1.2.3", "10.1.2.3,10.1.2.0/24,10.1.0.0/16");
    assert_covering(r, "10.1.2.4", "10.1.2.0/24,10.1.0.0/16");
    assert_covering(r, "2001:db8::1", "2001:db8::1,2001:db8::/32");
    assert_covering(r, "2001:db8::2", "2001:db8::/32");
    store_reader_end(r);
    store_reader_close(r);
    store_close(s);
    assert_false(has_old_layout(dir));

    /* A writer upgrades too (here from version 2), and what it adds is
     * seen by lookups. */
    make_old_version(dir, 2);
    assert_true(has_old_layout(dir));
    s = NULL;
    assert_int_equal(store_open(dir, 0, &s, why, sizeof why), DNSBL_OK);
    list(s, "10.0.0.0/8", "10.0.0.0/8");
    assert_int_equal(problems_of(s), 0);
    assert_int_equal(store_reader_open(s, &r), DNSBL_OK);
    assert_int_equal(store_reader_begin(r), DNSBL_OK);
    assert_covering(r, "10.1.2.3", "10.1.2.3,10.1.2.0/24,10.1.0.0/16,10.0.0.0/8");
    store_reader_end(r);
    store_reader_close(r);
    store_close(s);
    assert_false(has_old_layout(dir));

    /* Without write access the reader says what is needed. */
    make_old_version(dir, 1);
    char data[PATH_MAX + 16];
    snprintf(data, sizeof data, "%s/data.mdb", dir);
    if (geteuid() != 0) {
        assert_int_equal(chmod(data, 0440), 0);
        why[0] = '\0';
        assert_int_not_equal(store_open(dir, STORE_RDONLY, &s, why, sizeof why), DNSBL_OK);
        assert_non_null(strstr(why, "older schema version"));
        assert_non_null(strstr(why, "write access"));
        assert_int_equal(chmod(data, 0640), 0);
    }
}

/* ---- applying ---- */

static void test_apply_list_delist_allow(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    struct store *s = create_store(dir, sizeof dir, "apply");
    struct store_reader *r;
    struct entry e;

    struct event ev[3];
    ev[0] = mkev(EV_LIST, "192.0.2.0/24", 1700000000, "spam run");
    ev[0].code = 0x7f000004;
    ev[0].expires = 1800000000;
    ev[1] = mkev(EV_ALLOW, "198.51.100.7", 1700000100, "our mail server");
    ev[2] = mkev(EV_LIST, "2001:db8::/48", 1700000200, NULL);
    apply_ok(s, ev, 3);

    struct event d = mkev(EV_DELIST, "192.0.2.0/24", 1700000300, "ticket 42");
    apply_ok(s, &d, 1);
    assert_int_equal(serial_of(s), 2);

    assert_int_equal(store_reader_open(s, &r), DNSBL_OK);
    assert_int_equal(store_reader_begin(r), DNSBL_OK);

    struct addr_prefix p = pfx("192.0.2.0/24");
    assert_int_equal(store_reader_get(r, &p, &e), DNSBL_OK);
    assert_int_equal(e.state, ENTRY_DELISTED);
    assert_int_equal(e.code, 0x7f000004);
    assert_string_equal(e.reason, "spam run"); /* kept from the listing */
    assert_string_equal(e.note, "delisted: ticket 42");
    assert_true(e.state_time == 1700000300);
    assert_true(e.first_seen == 1700000000);
    assert_true(e.last_seen == 1700000300);
    assert_int_equal(e.prefix.family, ADDR_V4);
    assert_int_equal(e.prefix.plen, 24);

    p = pfx("198.51.100.7");
    assert_int_equal(store_reader_get(r, &p, &e), DNSBL_OK);
    assert_int_equal(e.state, ENTRY_ALLOWED);
    assert_string_equal(e.reason, "our mail server");
    assert_string_equal(e.note, "allowed: our mail server");

    p = pfx("2001:db8::/48");
    assert_int_equal(store_reader_get(r, &p, &e), DNSBL_OK);
    assert_int_equal(e.state, ENTRY_LISTED);
    assert_string_equal(e.reason, "");
    assert_string_equal(e.note, "listed");

    /* same address, other lengths: absent */
    p = pfx("192.0.2.0/25");
    assert_int_equal(store_reader_get(r, &p, &e), DNSBL_ENOENT);
    p = pfx("2001:db8::/32");
    assert_int_equal(store_reader_get(r, &p, &e), DNSBL_ENOENT);

    store_reader_end(r);
    store_reader_close(r);

    /* relisting and counters accumulate on the same record */
    struct event more[3];
    more[0] = mkev(EV_ABUSE, "198.51.100.7", 1690000000, NULL);
    more[1] = mkev(EV_ABUSE, "198.51.100.7", 1710000000, NULL);
    more[2] = mkev(EV_VOLUME, "198.51.100.7", 1710000000, NULL);
    more[2].weight = 1000;
    apply_ok(s, more, 3);
    assert_int_equal(store_reader_open(s, &r), DNSBL_OK);
    assert_int_equal(store_reader_begin(r), DNSBL_OK);
    p = pfx("198.51.100.7");
    assert_int_equal(store_reader_get(r, &p, &e), DNSBL_OK);
    assert_int_equal(e.state, ENTRY_ALLOWED);
    assert_int_equal(e.counts[CNT_ABUSE], 2);
    assert_true(e.volume == 1000);
    assert_true(e.first_seen == 1690000000);
    assert_true(e.last_seen == 1710000000);
    store_reader_end(r);
    store_reader_close(r);
    store_close(s);
}

static void test_apply_invalid_event(void **state)
{
    (void)state;
    char dir[PATH_MAX], why[512];
    struct store *s = create_store(dir, sizeof dir, "invalid");
    struct event ev[2];
    ev[0] = mkev(EV_LIST, "192.0.2.1", 1, "ok");
    ev[1] = mkev(EV_LIST, "192.0.2.2", 1, "bad");
    ev[1].prefix.plen = 33;
    why[0] = '\0';
    assert_int_equal(store_apply(s, ev, NULL, 2, NULL, why, sizeof why), DNSBL_EINVAL);
    assert_non_null(strstr(why, "event 1"));
    ev[1] = mkev(EV_KIND_COUNT, "192.0.2.2", 1, "bad");
    ev[1].kind = EV_KIND_COUNT;
    assert_int_equal(store_apply(s, ev, NULL, 2, NULL, why, sizeof why), DNSBL_EINVAL);
    assert_int_equal(serial_of(s), 0);
    store_close(s);
}

static void test_apply_all_or_nothing(void **state)
{
    (void)state;
    char dir[PATH_MAX], why[512];
    struct store *s = create_store(dir, sizeof dir, "atomic");
    list(s, "192.0.2.9", "192.0.2.9");
    store_close(s);

    /* corrupt one stored value behind the store's back */
    struct addr_prefix bad = pfx("192.0.2.9");
    uint8_t key[18];
    key[0] = bad.family;
    memcpy(key + 1, bad.a, 16);
    key[17] = bad.plen;
    const uint8_t garbage[5] = {1, 1, 0, 0, 0};
    raw_put(dir, "entries", key, sizeof key, garbage, sizeof garbage);

    assert_int_equal(store_open(dir, 0, &s, why, sizeof why), DNSBL_OK);
    const uint8_t k1[32] = {1};
    const uint8_t *dedup[3] = {k1, NULL, NULL};
    struct event ev[3];
    ev[0] = mkev(EV_LIST, "203.0.113.1", 1, "first");
    ev[1] = mkev(EV_LIST, "2001:db8::1", 1, "second");
    ev[2] = mkev(EV_LIST, "192.0.2.9", 1, "on the garbage");
    struct store_apply_stats st = {7, 7, 7};
    why[0] = '\0';
    assert_int_equal(store_apply(s, ev, dedup, 3, &st, why, sizeof why), DNSBL_ESCHEMA);
    assert_non_null(strstr(why, "192.0.2.9"));
    assert_int_equal(st.applied, 0);
    assert_int_equal(serial_of(s), 1);

    /* nothing of the batch landed: not the entries, not the dedup key, not the lengths */
    struct store_reader *r;
    struct entry e;
    assert_int_equal(store_reader_open(s, &r), DNSBL_OK);
    assert_int_equal(store_reader_begin(r), DNSBL_OK);
    struct addr_prefix p = pfx("203.0.113.1");
    assert_int_equal(store_reader_get(r, &p, &e), DNSBL_ENOENT);
    p = pfx("2001:db8::1");
    assert_int_equal(store_reader_get(r, &p, &e), DNSBL_ENOENT);
    /* the garbage itself is reported, not read past */
    assert_int_equal(store_reader_get(r, &bad, &e), DNSBL_ESCHEMA);
    size_t n = 0;
    assert_int_equal(store_reader_covering(r, &bad, &e, 1, &n), DNSBL_ESCHEMA);
    store_reader_end(r);
    store_reader_close(r);

    ev[2] = mkev(EV_LIST, "192.0.2.10", 1, "fine");
    assert_int_equal(store_apply(s, ev, dedup, 3, &st, why, sizeof why), DNSBL_OK);
    assert_int_equal(st.applied, 3);
    assert_int_equal(st.duplicates, 0);
    store_close(s);
}

/* ---- longest-prefix match ---- */

static void test_covering_v4(void **state)
{
    (void)state;
    char dir[PATH_MAX], got[512];
    struct store *s = create_store(dir, sizeof dir, "lpm4");
    struct store_reader *r;

    /* reason = the prefix text, so covering_text can check each hit */
    list(s, "10.1.2.3", "10.1.2.3");
    list(s, "10.1.0.0/16", "10.1.0.0/16");
    list(s, "10.1.2.0/24", "10.1.2.0/24");
    list(s, "11.0.0.0/8", "11.0.0.0/8");
    list(s, "10.1.2.4", "10.1.2.4");
    list(s, "10.1.2.0/25", "10.1.2.0/25");
    list(s, "10.1.2.128/25", "10.1.2.128/25");
    list(s, "2001:db8::/32", "2001:db8::/32"); /* other family: never a hit */

    assert_int_equal(store_reader_open(s, &r), DNSBL_OK);
    assert_int_equal(store_reader_begin(r), DNSBL_OK);
    assert_covering(r, "10.1.2.3", "10.1.2.3,10.1.2.0/25,10.1.2.0/24,10.1.0.0/16");
    assert_covering(r, "10.1.2.4", "10.1.2.4,10.1.2.0/25,10.1.2.0/24,10.1.0.0/16");
    assert_covering(r, "10.1.2.200", "10.1.2.128/25,10.1.2.0/24,10.1.0.0/16");
    assert_covering(r, "10.1.9.9", "10.1.0.0/16");
    assert_covering(r, "11.255.0.1", "11.0.0.0/8");
    assert_covering(r, "12.0.0.1", "");
    assert_covering(r, "0.0.0.0", "");

    /* cap: the longest ones first */
    covering_text(r, "10.1.2.3", 2, got, sizeof got);
    assert_string_equal(got, "10.1.2.3,10.1.2.0/25");
    covering_text(r, "10.1.2.3", 0, got, sizeof got);
    assert_string_equal(got, "");

    /* a query prefix shorter than full length only sees lengths up to its own */
    assert_covering(r, "10.1.2.0/24", "10.1.2.0/24,10.1.0.0/16");
    store_reader_end(r);

    /* /0 covers everything in its family, and comes last */
    allow(s, "0.0.0.0/0", "0.0.0.0/0");
    assert_int_equal(store_reader_begin(r), DNSBL_OK);
    assert_covering(r, "10.1.2.3", "10.1.2.3,10.1.2.0/25,10.1.2.0/24,10.1.0.0/16,0.0.0.0/0");
    assert_covering(r, "12.0.0.1", "0.0.0.0/0");
    assert_covering(r, "2001:db8::1", "2001:db8::/32");
    assert_covering(r, "2001:db9::1", "");
    store_reader_end(r);

    /* covering before begin is refused */
    struct entry e;
    size_t n = 5;
    struct addr_prefix a = pfx("10.1.2.3");
    assert_int_equal(store_reader_covering(r, &a, &e, 1, &n), DNSBL_EINVAL);
    assert_int_equal(n, 0);
    store_reader_close(r);
    store_close(s);
}

static void test_covering_v6(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    struct store *s = create_store(dir, sizeof dir, "lpm6");
    struct store_reader *r;

    list(s, "2001:db8:1:2::5", "2001:db8:1:2::5");
    list(s, "2001:db8::/32", "2001:db8::/32");
    list(s, "2001:db8:1:2::/64", "2001:db8:1:2::/64");
    list(s, "2001:db8:1::/48", "2001:db8:1::/48");
    list(s, "2001:db8:1:2::6", "2001:db8:1:2::6");
    list(s, "10.0.0.0/8", "10.0.0.0/8");

    assert_int_equal(store_reader_open(s, &r), DNSBL_OK);
    assert_int_equal(store_reader_begin(r), DNSBL_OK);
    assert_covering(r, "2001:db8:1:2::5",
                    "2001:db8:1:2::5,2001:db8:1:2::/64,2001:db8:1::/48,2001:db8::/32");
    assert_covering(r, "2001:db8:1:2:ffff::1", "2001:db8:1:2::/64,2001:db8:1::/48,2001:db8::/32");
    assert_covering(r, "2001:db8:1:3::1", "2001:db8:1::/48,2001:db8::/32");
    assert_covering(r, "2001:db8:ffff::1", "2001:db8::/32");
    assert_covering(r, "2001:db9::", "");
    assert_covering(r, "10.2.3.4", "10.0.0.0/8");
    store_reader_end(r);
    store_reader_close(r);
    store_close(s);
}

/* An A question needs no texts: the lean lookup leaves them empty and
 * gives everything else as the full one does. */
static void test_covering_lean(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    struct store *s = create_store(dir, sizeof dir, "lean");
    struct store_reader *r;
    struct event ev[2];
    ev[0] = mkev(EV_IMPORT_LIST, "192.0.2.0/24", 1700000000, "a reason");
    ev[0].txt = "listed: $";
    ev[0].dataset = "drop";
    ev[0].code = 0x7f00000a;
    ev[1] = mkev(EV_LIST, "192.0.2.7", 1700000000, "by hand");
    apply_ok(s, ev, 2);

    struct entry full[4], lean[4];
    size_t nf = 0, nl = 0;
    memset(full, 0, sizeof full); /* the bytes decoding leaves alone compare equal */
    memset(lean, 0, sizeof lean);
    struct addr_prefix a = pfx("192.0.2.7");
    assert_int_equal(store_reader_open(s, &r), DNSBL_OK);
    assert_int_equal(store_reader_begin(r), DNSBL_OK);
    assert_int_equal(store_reader_covering(r, &a, full, 4, &nf), DNSBL_OK);
    assert_int_equal(store_reader_covering_lean(r, &a, lean, 4, &nl), DNSBL_OK);
    assert_int_equal(nf, 2);
    assert_int_equal(nl, 2);
    assert_string_equal(full[0].reason, "by hand");
    assert_string_equal(full[1].part_text[0].txt, "listed: $");
    for (size_t i = 0; i < 2; i++) {
        assert_string_equal(lean[i].reason, "");
        assert_string_equal(lean[i].note, "");
        assert_string_equal(lean[i].part_text[0].txt, "");
        assert_string_equal(lean[i].sources, "");
        assert_string_equal(lean[i].part_text[0].dataset, "");
        /* the rest is the same: the parts' ids come without their names */
        memcpy(lean[i].reason, full[i].reason, sizeof lean[i].reason);
        memcpy(lean[i].note, full[i].note, sizeof lean[i].note);
        memcpy(lean[i].sources, full[i].sources, sizeof lean[i].sources);
        memcpy(lean[i].part_text, full[i].part_text, sizeof lean[i].part_text);
        assert_memory_equal(&lean[i], &full[i], sizeof full[i]);
    }
    assert_string_equal(full[1].part_text[0].dataset, "drop");
    assert_int_equal(lean[1].parts[0].code, 0x7f00000a);
    assert_int_equal(lean[1].parts[0].dataset, model_dataset_id("drop"));
    store_reader_end(r);
    store_reader_close(r);
    store_close(s);
}

static void test_covering_mapped(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    struct store *s = create_store(dir, sizeof dir, "mapped");
    struct store_reader *r;

    list(s, "192.0.2.0/24", "192.0.2.0/24");
    list(s, "127.0.0.2", "127.0.0.2");
    assert_int_equal(store_reader_open(s, &r), DNSBL_OK);
    assert_int_equal(store_reader_begin(r), DNSBL_OK);
    assert_covering(r, "::ffff:192.0.2.9", "192.0.2.0/24");
    assert_covering(r, "::FFFF:7F00:2", "127.0.0.2");

    /* an address built from 16 mapped bytes is the same key */
    struct addr_prefix a;
    const uint8_t raw[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 77};
    addr_from_bytes(&a, ADDR_V6, raw, 128);
    struct entry e[4];
    size_t n = 0;
    assert_int_equal(store_reader_covering(r, &a, e, 4, &n), DNSBL_OK);
    assert_int_equal(n, 1);
    assert_string_equal(e[0].reason, "192.0.2.0/24");
    store_reader_end(r);
    store_reader_close(r);
    store_close(s);
}

/* ---- dedup and serial ---- */

static void test_dedup(void **state)
{
    (void)state;
    char dir[PATH_MAX], why[512];
    struct store *s = create_store(dir, sizeof dir, "dedup");
    struct store_apply_stats st;
    uint8_t k1[32], k2[32], k3[32];
    memset(k1, 1, sizeof k1);
    memset(k2, 2, sizeof k2);
    memset(k3, 3, sizeof k3);

    struct event ev[2];
    ev[0] = mkev(EV_ABUSE, "192.0.2.1", 1700000000, NULL);
    ev[1] = mkev(EV_ABUSE, "192.0.2.1", 1700000001, NULL);
    const uint8_t *keys[2] = {k1, k2};
    assert_int_equal(store_apply(s, ev, keys, 2, &st, why, sizeof why), DNSBL_OK);
    assert_int_equal(st.applied, 2);
    assert_int_equal(st.duplicates, 0);
    assert_int_equal(serial_of(s), 1);

    /* the same batch again changes nothing, not even the serial */
    assert_int_equal(store_apply(s, ev, keys, 2, &st, why, sizeof why), DNSBL_OK);
    assert_int_equal(st.applied, 0);
    assert_int_equal(st.duplicates, 2);
    assert_int_equal(serial_of(s), 1);

    /* one old key, one event without a key: the latter always applies */
    const uint8_t *mixed[2] = {k2, NULL};
    assert_int_equal(store_apply(s, ev, mixed, 2, &st, why, sizeof why), DNSBL_OK);
    assert_int_equal(st.applied, 1);
    assert_int_equal(st.duplicates, 1);
    assert_int_equal(serial_of(s), 2);

    /* a key repeated inside one batch counts once */
    const uint8_t *twice[2] = {k3, k3};
    assert_int_equal(store_apply(s, ev, twice, 2, &st, why, sizeof why), DNSBL_OK);
    assert_int_equal(st.applied, 1);
    assert_int_equal(st.duplicates, 1);
    assert_int_equal(serial_of(s), 3);

    /* an empty batch */
    assert_int_equal(store_apply(s, ev, NULL, 0, &st, why, sizeof why), DNSBL_OK);
    assert_int_equal(st.applied, 0);
    assert_int_equal(serial_of(s), 3);

    /* 2 + 1 + 1 abuse reports reached the entry */
    struct store_reader *r;
    struct entry e;
    struct addr_prefix p = pfx("192.0.2.1");
    assert_int_equal(store_reader_open(s, &r), DNSBL_OK);
    assert_int_equal(store_reader_begin(r), DNSBL_OK);
    assert_int_equal(store_reader_get(r, &p, &e), DNSBL_OK);
    assert_int_equal(e.counts[CNT_ABUSE], 4);
    store_reader_end(r);
    store_reader_close(r);

    /* keys survive reopening */
    store_close(s);
    assert_int_equal(store_open(dir, 0, &s, why, sizeof why), DNSBL_OK);
    assert_int_equal(store_apply(s, ev, keys, 2, &st, why, sizeof why), DNSBL_OK);
    assert_int_equal(st.duplicates, 2);
    assert_int_equal(serial_of(s), 3);
    store_close(s);
}

static void test_serial(void **state)
{
    (void)state;
    char dir[PATH_MAX], why[512];
    struct store *s = create_store(dir, sizeof dir, "serial");
    assert_int_equal(serial_of(s), 0);
    for (int i = 1; i <= 5; i++) {
        char reason[8];
        snprintf(reason, sizeof reason, "x%d", i);
        list(s, "192.0.2.1", reason);
        assert_int_equal(serial_of(s), (uint64_t)i);
    }
    /* The same word again leaves the entry as it was, but an operator
     * action is recorded in the operator history: a new serial. */
    list(s, "192.0.2.1", "x5");
    assert_int_equal(serial_of(s), 6);
    store_close(s);
    assert_int_equal(store_open(dir, STORE_RDONLY, &s, why, sizeof why), DNSBL_OK);
    assert_int_equal(serial_of(s), 6);
    store_close(s);
}

/* ---- history ---- */

/* The history of prefix from first_day, at most cap days (<= 64). */
static size_t history_of(struct store *s, const char *prefix, uint32_t first_day, size_t cap,
                         struct history_day *out)
{
    struct store_reader *r;
    struct addr_prefix p = pfx(prefix);
    size_t n = 999;
    assert_true(cap <= 64);
    assert_int_equal(store_reader_open(s, &r), DNSBL_OK);
    assert_int_equal(store_reader_begin(r), DNSBL_OK);
    assert_int_equal(store_reader_history(r, &p, first_day, out, cap, &n), DNSBL_OK);
    assert_true(n <= cap);
    store_reader_end(r);
    store_reader_close(r);
    return n;
}

/* "day:abuse/traps/volume,..." for compact comparisons. */
static void history_text(struct store *s, const char *prefix, uint32_t first_day, size_t cap,
                         char *out, size_t outcap)
{
    struct history_day d[64];
    size_t n = history_of(s, prefix, first_day, cap, d);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t used = strlen(out);
        if (i > 0)
            assert_true(d[i].day > d[i - 1].day); /* oldest first, one record a day */
        snprintf(out + used, outcap - used, "%s%lld:%u/%u/%llu", i ? "," : "",
                 (long long)d[i].day - DAY0, d[i].counts[CNT_ABUSE], d[i].counts[CNT_TRAP_HITS],
                 (unsigned long long)d[i].volume);
    }
}

static void assert_history(struct store *s, const char *prefix, uint32_t first_day, size_t cap,
                           const char *want)
{
    char got[1024];
    history_text(s, prefix, first_day, cap, got, sizeof got);
    assert_string_equal(got, want);
}

static void test_history_apply(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    struct store *s = create_store(dir, sizeof dir, "history");
    struct event ev[10];

    ev[0] = mkev(EV_ABUSE, "192.0.2.7", at(DAY0, 0), NULL);
    ev[1] = mkev(EV_ABUSE, "192.0.2.7", at(DAY0, MODEL_DAY - 1), NULL);
    ev[1].weight = 2;
    ev[2] = mkev(EV_TRAP_HIT, "192.0.2.7", at(DAY0, 3600), NULL);
    ev[3] = mkev(EV_VOLUME, "192.0.2.7", at(DAY0, 7200), NULL);
    ev[3].weight = 1000;
    ev[4] = mkev(EV_ABUSE, "192.0.2.7", at(DAY0 + 1, 0), NULL);  /* the next day */
    ev[5] = mkev(EV_ABUSE, "192.0.2.7", at(DAY0 - 5, 10), NULL); /* out of order */
    /* events without history: an operator listing and an imported one */
    ev[6] = mkev(EV_LIST, "192.0.2.7", at(DAY0 + 3, 0), "manual");
    ev[7] = mkev(EV_IMPORT_LIST, "192.0.2.7", at(DAY0 + 4, 0), NULL);
    ev[8] = mkev(EV_LIST, "198.51.100.1", at(DAY0, 0), "only listed");
    /* host bits are cleared before the history key is made */
    ev[9] = mkev(EV_ABUSE, "192.0.2.0/24", at(DAY0, 5), NULL);
    ev[9].prefix.a[15] = 99;
    for (size_t i = 0; i < 6; i++)
        assert_true(model_event_has_history(&ev[i]));
    for (size_t i = 6; i < 9; i++)
        assert_false(model_event_has_history(&ev[i]));
    apply_ok(s, ev, 10);

    assert_history(s, "192.0.2.7", 0, 64, "-5:1/0/0,0:3/1/1000,1:1/0/0");
    assert_history(s, "198.51.100.1", 0, 64, "");
    assert_history(s, "192.0.2.0/24", 0, 64, "0:1/0/0");
    assert_history(s, "203.0.113.1", 0, 64, ""); /* nothing stored at all */

    /* a later batch adds to the same day's record */
    ev[0] = mkev(EV_ABUSE, "192.0.2.7", at(DAY0, 100), NULL);
    ev[0].weight = 4;
    ev[1] = mkev(EV_VOLUME, "192.0.2.7", at(DAY0 + 2, 100), NULL);
    ev[1].weight = 5;
    apply_ok(s, ev, 2);
    assert_history(s, "192.0.2.7", 0, 64, "-5:1/0/0,0:7/1/1000,1:1/0/0,2:0/0/5");

    /* the other counters land in their own slots */
    struct history_day d[4];
    ev[0] = mkev(EV_FRAUD, "2001:db8::1", at(DAY0, 0), NULL);
    ev[1] = mkev(EV_NOT_SPAM, "2001:db8::1", at(DAY0, 1), NULL);
    ev[2] = mkev(EV_AUTH_FAILURE, "2001:db8::1", at(DAY0, 2), NULL);
    ev[2].weight = 3;
    apply_ok(s, ev, 3);
    assert_int_equal(history_of(s, "2001:db8::1", 0, 4, d), 1);
    assert_int_equal(d[0].day, DAY0);
    assert_int_equal(d[0].counts[CNT_FRAUD], 1);
    assert_int_equal(d[0].counts[CNT_NOT_SPAM], 1);
    assert_int_equal(d[0].counts[CNT_AUTH_FAILURE], 3);
    assert_int_equal(d[0].counts[CNT_ABUSE], 0);
    assert_true(d[0].volume == 0);
    store_close(s);
}

static void test_history_range(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    struct store *s = create_store(dir, sizeof dir, "hrange");
    struct event ev[64];
    size_t n = 0;

    /* neighbours in key order: .7 and .8; /24 and /32 of 192.0.2.0; each
     * with days on both sides of the others' */
    const struct {
        const char *prefix;
        uint32_t first, count, step;
    } plan[] = {
        {"192.0.2.7", DAY0, 10, 1},        {"192.0.2.8", DAY0 - 3, 8, 2},
        {"192.0.2.0/24", DAY0 + 1, 5, 3},  {"192.0.2.0", DAY0 - 1, 6, 1},
        {"192.0.2.6/31", DAY0 + 50, 2, 1}, {"::ffff:192.0.2.7", DAY0 + 90, 1, 1},
    };
    for (size_t i = 0; i < sizeof plan / sizeof plan[0]; i++)
        for (uint32_t j = 0; j < plan[i].count; j++)
            ev[n++] = mkev(EV_ABUSE, plan[i].prefix, at(plan[i].first + j * plan[i].step, 0), NULL);
    apply_ok(s, ev, n);

    assert_history(s, "192.0.2.7", 0, 64,
                   "0:1/0/0,1:1/0/0,2:1/0/0,3:1/0/0,4:1/0/0,5:1/0/0,6:1/0/0,7:1/0/0,8:1/0/0,"
                   "9:1/0/0,90:1/0/0"); /* the mapped address is the same key */
    assert_history(s, "192.0.2.8", 0, 64,
                   "-3:1/0/0,-1:1/0/0,1:1/0/0,3:1/0/0,5:1/0/0,7:1/0/0,9:1/0/0,11:1/0/0");
    assert_history(s, "192.0.2.0/24", 0, 64, "1:1/0/0,4:1/0/0,7:1/0/0,10:1/0/0,13:1/0/0");
    assert_history(s, "192.0.2.0", 0, 64, "-1:1/0/0,0:1/0/0,1:1/0/0,2:1/0/0,3:1/0/0,4:1/0/0");
    assert_history(s, "192.0.2.6/31", 0, 64, "50:1/0/0,51:1/0/0");
    assert_history(s, "192.0.2.0/25", 0, 64, "");
    assert_history(s, "192.0.2.9", 0, 64, "");

    /* first_day: inclusive, and an entry's days past it stay its own */
    assert_history(s, "192.0.2.7", DAY0 + 8, 64, "8:1/0/0,9:1/0/0,90:1/0/0");
    assert_history(s, "192.0.2.7", DAY0 + 91, 64, ""); /* not .8's later days */
    assert_history(s, "192.0.2.8", DAY0 + 10, 64, "11:1/0/0");
    assert_history(s, "192.0.2.8", DAY0 + 12, 64, "");
    assert_history(s, "192.0.2.0/24", DAY0 + 11, 64, "13:1/0/0");
    assert_history(s, "192.0.2.0/24", DAY0 + 14, 64, ""); /* not the /32's */
    assert_history(s, "192.0.2.0", DAY0 + 4, 64, "4:1/0/0");
    assert_history(s, "192.0.2.0", DAY0 + 5, 64, ""); /* not 192.0.2.6/31's */
    assert_history(s, "192.0.2.7", UINT32_MAX, 64, "");

    /* cap: the oldest days from first_day */
    assert_history(s, "192.0.2.7", DAY0 + 2, 3, "2:1/0/0,3:1/0/0,4:1/0/0");
    assert_history(s, "192.0.2.8", 0, 1, "-3:1/0/0");
    assert_history(s, "192.0.2.8", 0, 0, "");

    /* one reader, many lookups across begin/end while a writer adds days */
    struct store_reader *r;
    struct history_day d[STORE_HISTORY_MAX];
    struct addr_prefix p7 = pfx("192.0.2.7"), p8 = pfx("192.0.2.8");
    assert_int_equal(store_reader_open(s, &r), DNSBL_OK);
    assert_int_equal(store_reader_history(r, &p7, 0, d, 4, &n), DNSBL_EINVAL); /* not begun */
    assert_int_equal(n, 0);
    for (uint32_t i = 0; i < 5; i++) {
        assert_int_equal(store_reader_begin(r), DNSBL_OK);
        assert_int_equal(store_reader_history(r, &p7, 0, d, STORE_HISTORY_MAX, &n), DNSBL_OK);
        assert_int_equal(n, 11 + i);
        assert_int_equal(store_reader_history(r, &p8, DAY0 + 11, d, 2, &n), DNSBL_OK);
        assert_int_equal(n, 1);
        /* committed while the reader is open: not seen until the next begin */
        struct event one = mkev(EV_TRAP_HIT, "192.0.2.7", at(DAY0 + 200 + i, 0), NULL);
        apply_ok(s, &one, 1);
        assert_int_equal(store_reader_history(r, &p7, 0, d, STORE_HISTORY_MAX, &n), DNSBL_OK);
        assert_int_equal(n, 11 + i);
        store_reader_end(r);
    }
    assert_int_equal(store_reader_begin(r), DNSBL_OK);
    assert_int_equal(store_reader_history(r, &p7, DAY0 + 200, d, STORE_HISTORY_MAX, &n), DNSBL_OK);
    assert_int_equal(n, 5);
    assert_int_equal(d[4].day, DAY0 + 204);
    assert_int_equal(d[4].counts[CNT_TRAP_HITS], 1);
    /* host bits in the asked prefix are cleared, as for the stored ones */
    struct addr_prefix hostbits = pfx("192.0.2.6/31");
    hostbits.a[15] = 7;
    assert_int_equal(store_reader_history(r, &hostbits, 0, d, 4, &n), DNSBL_OK);
    assert_int_equal(n, 2);
    assert_int_equal(d[0].day, DAY0 + 50);
    struct addr_prefix bad = p7;
    bad.plen = 33;
    assert_int_equal(store_reader_history(r, &bad, 0, d, 4, &n), DNSBL_EINVAL);
    store_reader_end(r);
    store_reader_close(r);
    store_close(s);
}

static void test_history_dedup(void **state)
{
    (void)state;
    char dir[PATH_MAX], why[512];
    struct store *s = create_store(dir, sizeof dir, "hdedup");
    struct store_apply_stats st;
    uint8_t k1[32], k2[32], k3[32];
    memset(k1, 1, sizeof k1);
    memset(k2, 2, sizeof k2);
    memset(k3, 3, sizeof k3);

    struct event ev[3];
    ev[0] = mkev(EV_ABUSE, "192.0.2.1", at(DAY0, 0), NULL);
    ev[1] = mkev(EV_VOLUME, "192.0.2.1", at(DAY0, 1), NULL);
    ev[1].weight = 500;
    ev[2] = mkev(EV_ABUSE, "192.0.2.1", at(DAY0 + 1, 0), NULL);
    const uint8_t *keys[3] = {k1, k2, k3};
    assert_int_equal(store_apply(s, ev, keys, 2, &st, why, sizeof why), DNSBL_OK);
    assert_int_equal(st.applied, 2);
    assert_history(s, "192.0.2.1", 0, 64, "0:1/0/500");

    /* the same events again: no history added */
    assert_int_equal(store_apply(s, ev, keys, 2, &st, why, sizeof why), DNSBL_OK);
    assert_int_equal(st.duplicates, 2);
    assert_history(s, "192.0.2.1", 0, 64, "0:1/0/500");

    /* duplicates mixed with a new event: only the new one counts */
    assert_int_equal(store_apply(s, ev, keys, 3, &st, why, sizeof why), DNSBL_OK);
    assert_int_equal(st.applied, 1);
    assert_int_equal(st.duplicates, 2);
    assert_history(s, "192.0.2.1", 0, 64, "0:1/0/500,1:1/0/0");

    /* a key repeated inside one batch adds once */
    uint8_t k4[32];
    memset(k4, 4, sizeof k4);
    const uint8_t *twice[2] = {k4, k4};
    ev[0] = mkev(EV_TRAP_HIT, "192.0.2.1", at(DAY0, 2), NULL);
    ev[1] = ev[0];
    assert_int_equal(store_apply(s, ev, twice, 2, &st, why, sizeof why), DNSBL_OK);
    assert_int_equal(st.applied, 1);
    assert_history(s, "192.0.2.1", 0, 64, "0:1/1/500,1:1/0/0");
    store_close(s);
}

static void test_apply_time_refused(void **state)
{
    (void)state;
    char dir[PATH_MAX], why[512];
    struct store *s = create_store(dir, sizeof dir, "time0");
    struct store_apply_stats st = {7, 7, 7};
    struct event ev[3];
    const int64_t bad[] = {0, -1, INT64_MIN, (int64_t)UINT32_MAX * MODEL_DAY + MODEL_DAY};
    const uint8_t kinds[] = {EV_ABUSE, EV_LIST, EV_VOLUME, EV_IMPORT_LIST};

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ev[0] = mkev(EV_ABUSE, "192.0.2.1", at(DAY0, 0), NULL);
        ev[1] = mkev(EV_LIST, "192.0.2.2", at(DAY0, 0), "ok");
        ev[2] = mkev(kinds[i], "192.0.2.3", bad[i], "undated");
        why[0] = '\0';
        assert_int_equal(store_apply(s, ev, NULL, 3, &st, why, sizeof why), DNSBL_EINVAL);
        assert_non_null(strstr(why, "event 2"));
        assert_non_null(strstr(why, "time"));
        assert_int_equal(st.applied, 0);
    }
    /* the first bad event is the one named */
    ev[0].time = 0;
    assert_int_equal(store_apply(s, ev, NULL, 3, &st, why, sizeof why), DNSBL_EINVAL);
    assert_non_null(strstr(why, "event 0"));

    /* nothing of any refused batch landed */
    assert_int_equal(serial_of(s), 0);
    size_t count = 9;
    assert_int_equal(store_count(s, &count), DNSBL_OK);
    assert_int_equal(count, 0);
    assert_history(s, "192.0.2.1", 0, 64, "");

    /* the first second of the epoch is a time */
    ev[0] = mkev(EV_ABUSE, "192.0.2.1", 1, NULL);
    apply_ok(s, ev, 1);
    assert_history(s, "192.0.2.1", 0, 64, "-20000:1/0/0");
    store_close(s);
}

static void test_history_corrupt(void **state)
{
    (void)state;
    char dir[PATH_MAX], why[512];
    struct store *s = create_store(dir, sizeof dir, "hcorrupt");
    struct event ev = mkev(EV_ABUSE, "192.0.2.5", at(DAY0, 0), NULL);
    apply_ok(s, &ev, 1);
    store_close(s);

    struct addr_prefix p = pfx("192.0.2.5");
    uint8_t key[22] = {0};
    key[0] = p.family;
    memcpy(key + 1, p.a, 16);
    key[17] = p.plen;
    key[18] = (uint8_t)(DAY0 >> 24);
    key[19] = (uint8_t)(DAY0 >> 16);
    key[20] = (uint8_t)(DAY0 >> 8);
    key[21] = (uint8_t)DAY0;
    const uint8_t shortval[5] = {0};
    raw_put(dir, "history", key, sizeof key, shortval, sizeof shortval);

    assert_int_equal(store_open(dir, 0, &s, why, sizeof why), DNSBL_OK);
    why[0] = '\0';
    assert_int_equal(store_apply(s, &ev, NULL, 1, NULL, why, sizeof why), DNSBL_ESCHEMA);
    assert_non_null(strstr(why, "192.0.2.5"));
    assert_int_equal(serial_of(s), 1);

    struct store_reader *r;
    struct history_day d[4];
    size_t n;
    assert_int_equal(store_reader_open(s, &r), DNSBL_OK);
    assert_int_equal(store_reader_begin(r), DNSBL_OK);
    assert_int_equal(store_reader_history(r, &p, 0, d, 4, &n), DNSBL_ESCHEMA);
    store_reader_end(r);
    store_reader_close(r);

    /* other days of the same entry are unaffected */
    ev.time = at(DAY0 + 1, 0);
    apply_ok(s, &ev, 1);
    assert_history(s, "192.0.2.5", DAY0 + 1, 64, "1:1/0/0");
    store_close(s);
}

static void test_count(void **state)
{
    (void)state;
    char dir[PATH_MAX], why[512];
    struct store *s = create_store(dir, sizeof dir, "count");
    size_t count = 99;
    assert_int_equal(store_count(s, &count), DNSBL_OK);
    assert_int_equal(count, 0);

    list(s, "192.0.2.1", "x");
    list(s, "192.0.2.0/24", "x");
    list(s, "2001:db8::/32", "x");
    list(s, "192.0.2.1", "again");                                    /* the same entry */
    struct event ev = mkev(EV_ABUSE, "192.0.2.1", at(DAY0, 0), NULL); /* history is not counted */
    apply_ok(s, &ev, 1);
    assert_int_equal(store_count(s, &count), DNSBL_OK);
    assert_int_equal(count, 3);
    store_close(s);

    assert_int_equal(store_open(dir, STORE_RDONLY, &s, why, sizeof why), DNSBL_OK);
    assert_int_equal(store_count(s, &count), DNSBL_OK);
    assert_int_equal(count, 3);
    store_close(s);
}

/* ---- batch order ---- */

static void test_apply_batch_order(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    struct store *s = create_store(dir, sizeof dir, "order");
    struct store_reader *r;
    struct entry e;
    struct addr_prefix p;

    /* an existing store: new keys land before, between, at and after these */
    list(s, "10.0.0.5", "10.0.0.5");
    list(s, "10.0.0.7", "10.0.0.7");

    /* interleaved events: each entry's own still apply in the order given */
    struct event ev[12];
    ev[0] = mkev(EV_LIST, "10.0.0.9", at(DAY0, 1), "first");       /* past the last key */
    ev[1] = mkev(EV_DELIST, "10.0.0.5", at(DAY0, 2), "d1");        /* existing */
    ev[2] = mkev(EV_LIST, "10.0.0.1", at(DAY0, 3), "before");      /* before the first */
    ev[3] = mkev(EV_DELIST, "10.0.0.9", at(DAY0, 4), "then gone"); /* same entry as 0 */
    ev[4] = mkev(EV_LIST, "10.0.0.6", at(DAY0, 5), "between");
    ev[5] = mkev(EV_LIST, "10.0.0.5", at(DAY0, 6), "relisted");
    ev[6] = mkev(EV_LIST, "2001:db8::1", at(DAY0, 7), "v6");
    ev[7] = mkev(EV_LIST, "10.0.0.0/24", at(DAY0, 8), "the /24");
    ev[8] = mkev(EV_ABUSE, "10.0.0.7", at(DAY0, 9), NULL);
    ev[9] = mkev(EV_LIST, "10.0.0.9", at(DAY0, 10), "and back");
    ev[10] = mkev(EV_ABUSE, "10.0.0.7", at(DAY0 + 1, 0), NULL);
    ev[11] = mkev(EV_ALLOW, "0.0.0.0/0", at(DAY0, 11), "all");
    apply_ok(s, ev, 12);

    assert_int_equal(store_reader_open(s, &r), DNSBL_OK);
    assert_int_equal(store_reader_begin(r), DNSBL_OK);
    p = pfx("10.0.0.9");
    assert_int_equal(store_reader_get(r, &p, &e), DNSBL_OK);
    assert_int_equal(e.state, ENTRY_LISTED);
    assert_string_equal(e.reason, "and back");
    assert_true(e.first_seen == at(DAY0, 1));
    p = pfx("10.0.0.5");
    assert_int_equal(store_reader_get(r, &p, &e), DNSBL_OK);
    assert_int_equal(e.state, ENTRY_LISTED);
    assert_string_equal(e.reason, "relisted");
    p = pfx("10.0.0.7");
    assert_int_equal(store_reader_get(r, &p, &e), DNSBL_OK);
    assert_int_equal(e.state, ENTRY_LISTED);
    assert_string_equal(e.reason, "10.0.0.7");
    assert_int_equal(e.counts[CNT_ABUSE], 2);
    store_reader_end(r);
    store_reader_close(r);
    assert_history(s, "10.0.0.7", 0, 64, "0:1/0/0,1:1/0/0");

    size_t count = 0;
    assert_int_equal(store_count(s, &count), DNSBL_OK);
    assert_int_equal(count, 8);
    /* every entry is where key order puts it */
    struct addr_prefix want[8];
    const char *order[8] = {"0.0.0.0/0", "10.0.0.0/24", "10.0.0.1", "10.0.0.5",
                            "10.0.0.6",  "10.0.0.7",    "10.0.0.9", "2001:db8::1"};
    for (size_t i = 0; i < 8; i++)
        want[i] = pfx(order[i]);
    assert_int_equal(store_reader_open(s, &r), DNSBL_OK);
    assert_int_equal(store_reader_begin(r), DNSBL_OK);
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(store_reader_get(r, &want[i], &e), DNSBL_OK);
    char got[512];
    covering_text_any(r, "10.0.0.9", got, sizeof got);
    assert_string_equal(got, "10.0.0.9,10.0.0.0/24,0.0.0.0/0");
    store_reader_end(r);
    store_reader_close(r);
    store_close(s);
}

static void test_dedup_key_ties(void **state)
{
    (void)state;
    char dir[PATH_MAX], why[512];
    struct store *s = create_store(dir, sizeof dir, "dedupties");
    struct store_apply_stats st;
    uint8_t ka[32], kb[32], kc[32], kd[32];

    /* keys that agree on far more than the bytes they are sorted by first */
    memset(ka, 0x42, sizeof ka);
    memcpy(kb, ka, sizeof kb);
    kb[31] = 0x41; /* sorts before ka */
    memcpy(kc, ka, sizeof kc);
    kc[8] = 0x43;
    memcpy(kd, ka, sizeof kd);
    kd[7] = 0x41;

    struct event ev[6];
    ev[0] = mkev(EV_ABUSE, "192.0.2.1", at(DAY0, 0), NULL); /* ka: applies */
    ev[1] = mkev(EV_ABUSE, "192.0.2.2", at(DAY0, 0), NULL); /* kb: applies */
    ev[2] = mkev(EV_ABUSE, "192.0.2.3", at(DAY0, 0), NULL); /* ka again: duplicate */
    ev[3] = mkev(EV_ABUSE, "192.0.2.4", at(DAY0, 0), NULL); /* kb again: duplicate */
    ev[4] = mkev(EV_ABUSE, "192.0.2.5", at(DAY0, 0), NULL); /* kc: applies */
    ev[5] = mkev(EV_ABUSE, "192.0.2.6", at(DAY0, 0), NULL); /* kd: applies */
    const uint8_t *keys[6] = {ka, kb, ka, kb, kc, kd};
    assert_int_equal(store_apply(s, ev, keys, 6, &st, why, sizeof why), DNSBL_OK);
    assert_int_equal(st.applied, 4);
    assert_int_equal(st.duplicates, 2);
    assert_history(s, "192.0.2.1", 0, 64, "0:1/0/0");
    assert_history(s, "192.0.2.2", 0, 64, "0:1/0/0");
    assert_history(s, "192.0.2.3", 0, 64, "");
    assert_history(s, "192.0.2.4", 0, 64, "");
    assert_history(s, "192.0.2.5", 0, 64, "0:1/0/0");
    assert_history(s, "192.0.2.6", 0, 64, "0:1/0/0");

    /* against the stored keys: neighbours of them are new, they are not */
    uint8_t ke[32], kf[32];
    memcpy(ke, ka, sizeof ke);
    ke[31] = 0x43;
    memset(kf, 0xff, sizeof kf);                               /* past every stored key */
    ev[0] = mkev(EV_ABUSE, "198.51.100.1", at(DAY0, 0), NULL); /* ke: applies */
    ev[1] = mkev(EV_ABUSE, "198.51.100.2", at(DAY0, 0), NULL); /* kd: duplicate */
    ev[2] = mkev(EV_ABUSE, "198.51.100.3", at(DAY0, 0), NULL); /* kf: applies */
    ev[3] = mkev(EV_ABUSE, "198.51.100.4", at(DAY0, 0), NULL); /* kf again */
    const uint8_t *keys2[4] = {ke, kd, kf, kf};
    assert_int_equal(store_apply(s, ev, keys2, 4, &st, why, sizeof why), DNSBL_OK);
    assert_int_equal(st.applied, 2);
    assert_int_equal(st.duplicates, 2);
    assert_history(s, "198.51.100.1", 0, 64, "0:1/0/0");
    assert_history(s, "198.51.100.2", 0, 64, "");
    assert_history(s, "198.51.100.3", 0, 64, "0:1/0/0");
    assert_history(s, "198.51.100.4", 0, 64, "");
    store_close(s);
}

/* ---- readers ---- */

static void test_reader_isolation(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    struct store *s = create_store(dir, sizeof dir, "isolation");
    struct store_reader *r1, *r2;
    struct entry e[STORE_COVERING_MAX];
    size_t n;
    struct addr_prefix a = pfx("198.51.100.20");

    list(s, "198.51.100.0/24", "198.51.100.0/24");
    assert_int_equal(store_reader_open(s, &r1), DNSBL_OK);
    assert_int_equal(store_reader_open(s, &r2), DNSBL_OK);
    assert_int_equal(store_reader_begin(r1), DNSBL_OK);

    /* a commit while r1 is open: a new prefix length and a change */
    struct event ev[2];
    ev[0] = mkev(EV_LIST, "198.51.100.20", 1, "198.51.100.20");
    ev[1] = mkev(EV_DELIST, "198.51.100.0/24", 2, "gone");
    apply_ok(s, ev, 2);

    assert_int_equal(store_reader_covering(r1, &a, e, STORE_COVERING_MAX, &n), DNSBL_OK);
    assert_int_equal(n, 1);
    assert_int_equal(e[0].state, ENTRY_LISTED); /* the old snapshot */
    assert_int_equal(e[0].prefix.plen, 24);
    assert_int_equal(store_reader_get(r1, &a, e), DNSBL_ENOENT);

    /* a reader begun after the commit sees it, while r1 still does not */
    assert_int_equal(store_reader_begin(r2), DNSBL_OK);
    assert_int_equal(store_reader_covering(r2, &a, e, STORE_COVERING_MAX, &n), DNSBL_OK);
    assert_int_equal(n, 2);
    assert_int_equal(e[0].prefix.plen, 32);
    assert_int_equal(e[1].state, ENTRY_DELISTED);
    assert_int_equal(store_reader_covering(r1, &a, e, STORE_COVERING_MAX, &n), DNSBL_OK);
    assert_int_equal(n, 1);
    store_reader_end(r2);

    /* end + begin moves r1 to the latest commit */
    store_reader_end(r1);
    assert_int_equal(store_reader_begin(r1), DNSBL_OK);
    assert_int_equal(store_reader_covering(r1, &a, e, STORE_COVERING_MAX, &n), DNSBL_OK);
    assert_int_equal(n, 2);
    assert_int_equal(e[0].state, ENTRY_LISTED);
    assert_int_equal(e[0].prefix.plen, 32);
    assert_int_equal(e[1].state, ENTRY_DELISTED);
    store_reader_end(r1);

    /* entries copied out stay valid after end */
    assert_string_equal(e[0].reason, "198.51.100.20");
    assert_string_equal(e[1].note, "delisted: gone");

    /* many cycles reuse the one transaction; writes interleave freely */
    for (int i = 0; i < 200; i++) {
        assert_int_equal(store_reader_begin(r1), DNSBL_OK);
        if (i % 50 == 0)
            list(s, "203.0.113.0/24", "203.0.113.0/24");
        store_reader_end(r1);
    }
    store_reader_end(r1); /* twice is harmless */
    store_reader_close(r2);
    store_reader_close(r1);
    store_close(s);
}

/* ---- iteration ---- */

struct collect {
    char text[1024];
    size_t n;
    size_t stop_at;
};

static int collect_cb(const struct entry *e, void *arg)
{
    struct collect *c = arg;
    char t[ADDR_TEXT_MAX];
    addr_format(&e->prefix, t, sizeof t);
    assert_string_equal(e->reason, t);
    size_t used = strlen(c->text);
    snprintf(c->text + used, sizeof c->text - used, "%s%s", c->n ? "," : "", t);
    c->n++;
    return c->n == c->stop_at ? 77 : 0;
}

static void test_foreach_order(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    struct store *s = create_store(dir, sizeof dir, "foreach");
    const char *scrambled[] = {"2001:db8::/32", "10.0.0.0/8",    "::/0",          "192.0.2.1",
                               "10.0.0.0/16",   "2001:db8::1",   "9.255.255.255", "0.0.0.0/0",
                               "10.0.0.1",      "2001:db8::/48", "fe80::1"};
    struct collect c;

    memset(&c, 0, sizeof c);
    assert_int_equal(store_foreach(s, collect_cb, &c), 0);
    assert_int_equal(c.n, 0);

    for (size_t i = 0; i < sizeof scrambled / sizeof scrambled[0]; i++)
        allow(s, scrambled[i], scrambled[i]);

    memset(&c, 0, sizeof c);
    assert_int_equal(store_foreach(s, collect_cb, &c), 0);
    assert_string_equal(c.text, "0.0.0.0/0,9.255.255.255,10.0.0.0/8,10.0.0.0/16,10.0.0.1,"
                                "192.0.2.1,::/0,2001:db8::/32,2001:db8::/48,2001:db8::1,fe80::1");

    /* the callback's non-zero value stops the walk and is returned */
    memset(&c, 0, sizeof c);
    c.stop_at = 3;
    assert_int_equal(store_foreach(s, collect_cb, &c), 77);
    assert_string_equal(c.text, "0.0.0.0/0,9.255.255.255,10.0.0.0/8");
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_missing),
        cmocka_unit_test(test_create_open_reopen),
        cmocka_unit_test(test_schema_mismatch),
        cmocka_unit_test(test_upgrade_from_older_versions),
        cmocka_unit_test(test_covering_lean),
        cmocka_unit_test(test_apply_list_delist_allow),
        cmocka_unit_test(test_apply_invalid_event),
        cmocka_unit_test(test_apply_all_or_nothing),
        cmocka_unit_test(test_covering_v4),
        cmocka_unit_test(test_covering_v6),
        cmocka_unit_test(test_covering_mapped),
        cmocka_unit_test(test_dedup),
        cmocka_unit_test(test_serial),
        cmocka_unit_test(test_history_apply),
        cmocka_unit_test(test_history_range),
        cmocka_unit_test(test_history_dedup),
        cmocka_unit_test(test_apply_time_refused),
        cmocka_unit_test(test_history_corrupt),
        cmocka_unit_test(test_count),
        cmocka_unit_test(test_apply_batch_order),
        cmocka_unit_test(test_dedup_key_ties),
        cmocka_unit_test(test_reader_isolation),
        cmocka_unit_test(test_foreach_order),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
