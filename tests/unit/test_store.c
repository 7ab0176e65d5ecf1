/* Unit tests for the store: the value codec, opening and schema checks,
 * applying events, longest-prefix lookups, dedup, serial, reader
 * isolation and iteration order. Each test works in its own directory
 * under one mkdtemp directory, removed at the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <limits.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "err.h"
#include "model.h"
#include "store.h"

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
    int len =
        snprintf(tmp_root, sizeof tmp_root, "%s/test_store.XXXXXX", base && *base ? base : "/tmp");
    if (len < 0 || (size_t)len >= sizeof tmp_root)
        return -1;
    return mkdtemp(tmp_root) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    return nftw(tmp_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh, not yet existing directory path for one test. */
static void fresh_dir(char *buf, size_t cap, const char *name)
{
    int len = snprintf(buf, cap, "%s/%u-%s", tmp_root, tmp_seq++, name);
    assert_true(len > 0 && (size_t)len < cap);
}

static struct store *create_store(char *dir, size_t cap, const char *name)
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

static struct addr_prefix pfx(const char *text)
{
    struct addr_prefix p;
    char why[256] = "";
    int rc = addr_parse(text, &p, why, sizeof why);
    if (rc != DNSBL_OK)
        print_error("addr_parse(%s): %s\n", text, why);
    assert_int_equal(rc, DNSBL_OK);
    return p;
}

static struct event mkev(uint8_t kind, const char *prefix, int64_t time, const char *reason)
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

static void apply_ok(struct store *s, const struct event *ev, size_t n)
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

static void list(struct store *s, const char *prefix, const char *reason)
{
    struct event ev = mkev(EV_LIST, prefix, 1700000000, reason);
    apply_ok(s, &ev, 1);
}

static uint64_t serial_of(struct store *s)
{
    uint64_t serial = UINT64_MAX;
    assert_int_equal(store_serial(s, &serial), DNSBL_OK);
    return serial;
}

/* The covering entries of addr as "prefix,prefix,..." text. */
static void covering_text(struct store_reader *r, const char *addr, size_t cap, char *out,
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
        /* every hit is a real covering prefix with its data decoded */
        assert_true(addr_covers(&found[i].prefix, &a));
        assert_int_equal(found[i].state, ENTRY_LISTED);
        assert_string_equal(found[i].reason, t);
        size_t used = strlen(out);
        snprintf(out + used, outcap - used, "%s%s", i ? "," : "", t);
    }
}

static void assert_covering(struct store_reader *r, const char *addr, const char *want)
{
    char got[2048];
    covering_text(r, addr, STORE_COVERING_MAX, got, sizeof got);
    assert_string_equal(got, want);
}

/* ---- codec ---- */

static void fill_entry(struct entry *e)
{
    memset(e, 0, sizeof *e);
    e->prefix = pfx("2001:db8::/32");
    e->state = ENTRY_ALLOWED;
    e->code = 0x7f00000a;
    e->expires = -1234567890123LL;
    e->state_time = INT64_MAX;
    e->first_seen = INT64_MIN;
    e->last_seen = 1700000001;
    e->score = -3.75e-5;
    e->score_time = 1700000002;
    for (size_t i = 0; i < CNT_COUNT; i++)
        e->counts[i] = UINT32_MAX - (uint32_t)i;
    e->volume = UINT64_MAX - 7;
    memset(e->reason, 'r', MODEL_TEXT_MAX - 1);
    memset(e->note, 'n', MODEL_TEXT_MAX - 1);
    e->reason[0] = 'R';
    e->note[MODEL_TEXT_MAX - 2] = 'N';
}

static void assert_entry_equal(const struct entry *a, const struct entry *b)
{
    assert_int_equal(a->prefix.family, b->prefix.family);
    assert_int_equal(a->prefix.plen, b->prefix.plen);
    assert_memory_equal(a->prefix.a, b->prefix.a, 16);
    assert_int_equal(a->state, b->state);
    assert_int_equal(a->code, b->code);
    assert_true(a->expires == b->expires);
    assert_true(a->state_time == b->state_time);
    assert_true(a->first_seen == b->first_seen);
    assert_true(a->last_seen == b->last_seen);
    assert_memory_equal(&a->score, &b->score, sizeof a->score);
    assert_true(a->score_time == b->score_time);
    assert_memory_equal(a->counts, b->counts, sizeof a->counts);
    assert_true(a->volume == b->volume);
    assert_string_equal(a->reason, b->reason);
    assert_string_equal(a->note, b->note);
}

static void test_codec_roundtrip(void **state)
{
    (void)state;
    struct entry in, out;
    uint8_t buf[STORE_ENTRY_VALUE_MAX];
    size_t len = 0;

    fill_entry(&in);
    assert_int_equal(store_encode_entry(&in, buf, sizeof buf, &len), DNSBL_OK);
    assert_int_equal(len, STORE_ENTRY_VALUE_MAX); /* both strings at max length */
    assert_int_equal(buf[0], 1);                  /* value version */
    memset(&out, 0xa5, sizeof out);
    out.prefix = in.prefix;
    assert_int_equal(store_decode_entry(buf, len, &out), DNSBL_OK);
    assert_entry_equal(&in, &out);
    assert_int_equal(strlen(out.reason), MODEL_TEXT_MAX - 1);

    /* empty strings and zeros round-trip too */
    memset(&in, 0, sizeof in);
    in.prefix = pfx("192.0.2.1");
    assert_int_equal(store_encode_entry(&in, buf, sizeof buf, &len), DNSBL_OK);
    assert_int_equal(len, STORE_ENTRY_VALUE_MAX - 2 * (MODEL_TEXT_MAX - 1));
    memset(&out, 0xa5, sizeof out);
    out.prefix = in.prefix;
    assert_int_equal(store_decode_entry(buf, len, &out), DNSBL_OK);
    assert_entry_equal(&in, &out);

    /* a buffer too small is refused, not overrun */
    fill_entry(&in);
    assert_int_equal(store_encode_entry(&in, buf, sizeof buf - 1, &len), DNSBL_ESPACE);
}

static void test_codec_rejects_garbage(void **state)
{
    (void)state;
    struct entry in, out, before;
    uint8_t buf[STORE_ENTRY_VALUE_MAX + 1];
    size_t len = 0;

    fill_entry(&in);
    assert_int_equal(store_encode_entry(&in, buf, sizeof buf, &len), DNSBL_OK);
    memset(&before, 0x5a, sizeof before);

    /* every truncation, including the empty value */
    for (size_t cut = 0; cut < len; cut++) {
        out = before;
        assert_int_equal(store_decode_entry(buf, cut, &out), DNSBL_ESCHEMA);
        assert_memory_equal(&out, &before, sizeof out); /* untouched on failure */
    }
    /* a trailing byte */
    buf[len] = 0;
    assert_int_equal(store_decode_entry(buf, len + 1, &out), DNSBL_ESCHEMA);

    /* an unknown value version */
    buf[0] = 2;
    assert_int_equal(store_decode_entry(buf, len, &out), DNSBL_ESCHEMA);
    buf[0] = 1;

    /* an unknown state */
    buf[1] = 9;
    assert_int_equal(store_decode_entry(buf, len, &out), DNSBL_ESCHEMA);
    buf[1] = ENTRY_LISTED;
    assert_int_equal(store_decode_entry(buf, len, &out), DNSBL_OK);

    /* a string length past MODEL_TEXT_MAX - 1, in an otherwise right-sized value */
    size_t reason_off = 1 + 1 + 4 + 6 * 8 + CNT_COUNT * 4 + 8;
    assert_int_equal((buf[reason_off] << 8) | buf[reason_off + 1], MODEL_TEXT_MAX - 1);
    buf[reason_off + 1] = (uint8_t)MODEL_TEXT_MAX;
    assert_int_equal(store_decode_entry(buf, len, &out), DNSBL_ESCHEMA);
    buf[reason_off + 1] = (uint8_t)(MODEL_TEXT_MAX - 1);

    /* a NUL inside a string */
    buf[reason_off + 2 + 10] = 0;
    assert_int_equal(store_decode_entry(buf, len, &out), DNSBL_ESCHEMA);

    /* random bytes never decode past the end (ASan would catch it) */
    srand(42);
    for (int i = 0; i < 2000; i++) {
        size_t n = (size_t)rand() % sizeof buf;
        for (size_t j = 0; j < n; j++)
            buf[j] = (uint8_t)rand();
        buf[0] = 1;
        int rc = store_decode_entry(buf, n, &out);
        assert_true(rc == DNSBL_OK || rc == DNSBL_ESCHEMA);
    }
}

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

/* Writes straight into a closed store's meta, as another program would. */
static void raw_put(const char *dir, const char *db, const void *key, size_t klen, const void *val,
                    size_t vlen)
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

static void test_schema_mismatch(void **state)
{
    (void)state;
    char dir[PATH_MAX], why[PATH_MAX + 256];
    struct store *s = create_store(dir, sizeof dir, "schema");
    store_close(s);

    const uint8_t v2[4] = {0, 0, 0, 2};
    raw_put(dir, "meta", "schema", 6, v2, sizeof v2);
    s = (struct store *)1;
    why[0] = '\0';
    assert_int_equal(store_open(dir, 0, &s, why, sizeof why), DNSBL_ESCHEMA);
    assert_null(s);
    assert_non_null(strstr(why, dir));
    assert_non_null(strstr(why, "version 2"));
    assert_non_null(strstr(why, "version 1"));
    why[0] = '\0';
    assert_int_equal(store_open(dir, STORE_RDONLY, &s, why, sizeof why), DNSBL_ESCHEMA);
    assert_non_null(strstr(why, "version 2"));
    assert_non_null(strstr(why, "version 1"));

    /* a malformed version record is a schema error too */
    raw_put(dir, "meta", "schema", 6, v2, 3);
    assert_int_equal(store_open(dir, STORE_RDONLY, &s, why, sizeof why), DNSBL_ESCHEMA);

    /* and back to 1 the store opens again */
    const uint8_t v1[4] = {0, 0, 0, 1};
    raw_put(dir, "meta", "schema", 6, v1, sizeof v1);
    assert_int_equal(store_open(dir, STORE_RDONLY, &s, why, sizeof why), DNSBL_OK);
    store_close(s);
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
    struct store_apply_stats st = {7, 7};
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
    list(s, "0.0.0.0/0", "0.0.0.0/0");
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
        list(s, "192.0.2.1", "x");
        assert_int_equal(serial_of(s), (uint64_t)i);
    }
    store_close(s);
    assert_int_equal(store_open(dir, STORE_RDONLY, &s, why, sizeof why), DNSBL_OK);
    assert_int_equal(serial_of(s), 5);
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
        list(s, scrambled[i], scrambled[i]);

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
        cmocka_unit_test(test_codec_roundtrip),
        cmocka_unit_test(test_codec_rejects_garbage),
        cmocka_unit_test(test_open_missing),
        cmocka_unit_test(test_create_open_reopen),
        cmocka_unit_test(test_schema_mismatch),
        cmocka_unit_test(test_apply_list_delist_allow),
        cmocka_unit_test(test_apply_invalid_event),
        cmocka_unit_test(test_apply_all_or_nothing),
        cmocka_unit_test(test_covering_v4),
        cmocka_unit_test(test_covering_v6),
        cmocka_unit_test(test_covering_mapped),
        cmocka_unit_test(test_dedup),
        cmocka_unit_test(test_serial),
        cmocka_unit_test(test_reader_isolation),
        cmocka_unit_test(test_foreach_order),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
