/* Unit tests of the operator history (doc/store-format.md, "oplog"): the
 * record codec survives a round trip and refuses malformed values; the
 * store writes a record for each operator event in the event's own write
 * transaction, keeps two actions of one second apart and in order, writes
 * none for other events, duplicates or a refused batch; the reader gives
 * one entry's history oldest first and the last cap records of a long
 * one; store_oplog_put records what remove and undo will; store_check
 * names a damaged record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORE_TESTS_NAME "test_store_oplog"
#include "store_int.h"
#include "store_testing.h"
#include "store_tests.h"

#define T0 1700000000

static void fill(char *dst, size_t size, char c)
{
    memset(dst, c, size - 1);
    dst[size - 1] = '\0';
    dst[0] = (char)(c - 32); /* the ends differ from the middle */
    dst[size - 2] = (char)(c - 32);
}

static void fill_rec(struct oplog_rec *r)
{
    memset(r, 0, sizeof *r);
    r->time = INT64_MAX;
    r->action = OPLOG_UNDO;
    r->code = 0x7f00000a;
    r->expires = -1234567890123LL;
    fill(r->who, sizeof r->who, 'w');
    fill(r->reason, sizeof r->reason, 'r');
    fill(r->dataset, sizeof r->dataset, 'd');
}

static void assert_rec_equal(const struct oplog_rec *a, const struct oplog_rec *b)
{
    assert_int_equal(a->time, b->time);
    assert_int_equal(a->action, b->action);
    assert_int_equal(a->code, b->code);
    assert_int_equal(a->expires, b->expires);
    assert_string_equal(a->who, b->who);
    assert_string_equal(a->reason, b->reason);
    assert_string_equal(a->dataset, b->dataset);
}

/* An encoded record of rec for the entry p, its key in okey. */
static size_t encode(const struct oplog_rec *rec, const char *p, uint32_t seq,
                     uint8_t okey[STORE_OKEY_LEN], uint8_t *val)
{
    uint8_t key[STORE_KEY_LEN];
    struct addr_prefix q = pfx(p);
    size_t len = 0;
    store_key_from_prefix(&q, key);
    store_okey(key, rec->time, seq, okey);
    assert_int_equal(store_encode_oplog(rec, val, STORE_OVAL_MAX, &len), DNSBL_OK);
    assert_true(len <= STORE_OVAL_MAX);
    return len;
}

static int decode(const uint8_t *okey, size_t klen, const uint8_t *val, size_t len,
                  struct oplog_rec *out)
{
    MDB_val k = {klen, (void *)(uintptr_t)okey}, v = {len, (void *)(uintptr_t)val};
    return store_decode_oplog(&k, &v, out);
}

/* Every field at its widest, every action, empty texts: all come back. */
static void test_codec_round_trip(void **state)
{
    (void)state;
    uint8_t okey[STORE_OKEY_LEN], val[STORE_OVAL_MAX];
    struct oplog_rec in, out;

    fill_rec(&in);
    size_t len = encode(&in, "2001:db8::/32", UINT32_MAX, okey, val);
    assert_int_equal(len, STORE_OVAL_MAX); /* every text at its longest */
    assert_int_equal(decode(okey, sizeof okey, val, len, &out), DNSBL_OK);
    assert_rec_equal(&in, &out);

    for (uint8_t a = OPLOG_LIST; a <= OPLOG_ACTION_MAX; a++) {
        memset(&in, 0, sizeof in);
        in.time = 1;
        in.action = a;
        len = encode(&in, "192.0.2.7", 0, okey, val);
        assert_int_equal(len, 1 + 1 + 4 + 8 + 3 * 2);
        memset(&out, 0x55, sizeof out);
        assert_int_equal(decode(okey, sizeof okey, val, len, &out), DNSBL_OK);
        assert_rec_equal(&in, &out);
        assert_string_not_equal(store_oplog_action_name(a), "?");
    }
    assert_string_equal(store_oplog_action_name(OPLOG_LIST), "list");
    assert_string_equal(store_oplog_action_name(OPLOG_DELIST), "delist");
    assert_string_equal(store_oplog_action_name(OPLOG_ALLOW), "allow");
    assert_string_equal(store_oplog_action_name(0), "?");
    assert_string_equal(store_oplog_action_name(OPLOG_ACTION_MAX + 1), "?");

    /* Longer texts than the fields hold are cut, not overrun. */
    struct oplog_rec big;
    fill_rec(&big);
    big.time = 5;
    big.who[sizeof big.who - 1] = 'x'; /* no NUL: strnlen stops at the field */
    len = encode(&big, "192.0.2.7", 0, okey, val);
    assert_int_equal(decode(okey, sizeof okey, val, len, &out), DNSBL_OK);
    assert_int_equal(strlen(out.who), sizeof out.who - 1);

    /* An action outside the enum is not written. */
    in.action = 0;
    assert_int_equal(store_encode_oplog(&in, val, sizeof val, &len), DNSBL_EINVAL);
    in.action = OPLOG_ACTION_MAX + 1;
    assert_int_equal(store_encode_oplog(&in, val, sizeof val, &len), DNSBL_EINVAL);
    /* A buffer too short says so. */
    in.action = OPLOG_LIST;
    assert_int_equal(store_encode_oplog(&in, val, 10, &len), DNSBL_ESPACE);
}

/* Short, long and corrupted values and keys are refused, never misread. */
static void test_codec_refuses_malformed(void **state)
{
    (void)state;
    uint8_t okey[STORE_OKEY_LEN], val[STORE_OVAL_MAX + 1], bad[STORE_OVAL_MAX + 1];
    struct oplog_rec in, out;

    fill_rec(&in);
    in.time = T0;
    size_t len = encode(&in, "192.0.2.0/24", 3, okey, val);
    assert_int_equal(decode(okey, sizeof okey, val, len, &out), DNSBL_OK);

    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(decode(okey, sizeof okey, val, cut, &out), DNSBL_ESCHEMA);
    val[len] = 0;
    assert_int_equal(decode(okey, sizeof okey, val, len + 1, &out), DNSBL_ESCHEMA);

    /* version, action */
    const size_t off_version = 0, off_action = 1, off_who = 1 + 1 + 4 + 8;
    memcpy(bad, val, len);
    bad[off_version] = 2;
    assert_int_equal(decode(okey, sizeof okey, bad, len, &out), DNSBL_ESCHEMA);
    bad[off_version] = 0;
    assert_int_equal(decode(okey, sizeof okey, bad, len, &out), DNSBL_ESCHEMA);
    memcpy(bad, val, len);
    bad[off_action] = 0;
    assert_int_equal(decode(okey, sizeof okey, bad, len, &out), DNSBL_ESCHEMA);
    bad[off_action] = OPLOG_ACTION_MAX + 1;
    assert_int_equal(decode(okey, sizeof okey, bad, len, &out), DNSBL_ESCHEMA);

    /* A text length past the field (who is 63 bytes at most) or past the
     * value; a NUL inside a text. */
    memcpy(bad, val, len);
    bad[off_who] = 0;
    bad[off_who + 1] = OPLOG_WHO_MAX;
    assert_int_equal(decode(okey, sizeof okey, bad, len, &out), DNSBL_ESCHEMA);
    memcpy(bad, val, len);
    bad[off_who] = 0xff;
    assert_int_equal(decode(okey, sizeof okey, bad, len, &out), DNSBL_ESCHEMA);
    memcpy(bad, val, len);
    bad[off_who + 2 + 5] = '\0';
    assert_int_equal(decode(okey, sizeof okey, bad, len, &out), DNSBL_ESCHEMA);

    /* The key: its length, and a time that no write gives (<= 0). */
    assert_int_equal(decode(okey, sizeof okey - 1, val, len, &out), DNSBL_ESCHEMA);
    uint8_t long_key[STORE_OKEY_LEN + 1] = {0};
    memcpy(long_key, okey, sizeof okey);
    assert_int_equal(decode(long_key, sizeof long_key, val, len, &out), DNSBL_ESCHEMA);
    uint8_t zero_time[STORE_OKEY_LEN];
    memcpy(zero_time, okey, sizeof okey);
    memset(zero_time + STORE_KEY_LEN, 0, 8);
    assert_int_equal(decode(zero_time, sizeof zero_time, val, len, &out), DNSBL_ESCHEMA);
    memset(zero_time + STORE_KEY_LEN, 0xff, 8); /* -1 */
    assert_int_equal(decode(zero_time, sizeof zero_time, val, len, &out), DNSBL_ESCHEMA);
}

/* p's history through a reader: the last cap records, *n the total. */
static size_t read_oplog(struct store *s, const char *p, struct oplog_rec *out, size_t cap)
{
    struct store_reader *r;
    struct addr_prefix q = pfx(p);
    size_t n = 999;
    assert_int_equal(store_reader_open(s, &r), DNSBL_OK);
    assert_int_equal(store_reader_begin(r), DNSBL_OK);
    assert_int_equal(store_reader_oplog(r, &q, out, cap, &n), DNSBL_OK);
    store_reader_end(r);
    store_reader_close(r);
    return n;
}

static struct event opev(uint8_t kind, const char *prefix, int64_t time, const char *reason,
                         const char *by)
{
    struct event ev = mkev(kind, prefix, time, reason);
    ev.by = by;
    return ev;
}

/* What dnsblctl add, delist and allow do, and what show reads back. */
static void test_store_writes_operator_events(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    struct store *s = create_store(dir, sizeof dir, "events");
    struct oplog_rec got[8];

    struct event add = opev(EV_LIST, "192.0.2.7", T0, "spam run", "alice");
    add.code = 0x7f000003;
    add.expires = T0 + 86400;
    apply_ok(s, &add, 1);
    struct event del = opev(EV_DELIST, "192.0.2.7", T0 + 60, "ticket 42", "bob");
    del.expires = T0 + 5; /* a delisting keeps no expiry: neither does its record */
    apply_ok(s, &del, 1);
    struct event alw = opev(EV_ALLOW, "192.0.2.7/32", T0 + 120, NULL, NULL);
    alw.expires = T0 + 7200;
    alw.dataset = "manual";
    apply_ok(s, &alw, 1);

    assert_int_equal(read_oplog(s, "192.0.2.7", got, 8), 3);
    assert_int_equal(got[0].time, T0);
    assert_int_equal(got[0].action, OPLOG_LIST);
    assert_int_equal(got[0].code, 0x7f000003);
    assert_int_equal(got[0].expires, T0 + 86400);
    assert_string_equal(got[0].who, "alice");
    assert_string_equal(got[0].reason, "spam run");
    assert_string_equal(got[0].dataset, "");
    assert_int_equal(got[1].time, T0 + 60);
    assert_int_equal(got[1].action, OPLOG_DELIST);
    assert_int_equal(got[1].code, 0);
    assert_int_equal(got[1].expires, 0);
    assert_string_equal(got[1].who, "bob");
    assert_string_equal(got[1].reason, "ticket 42");
    assert_int_equal(got[2].action, OPLOG_ALLOW);
    assert_int_equal(got[2].expires, T0 + 7200);
    assert_string_equal(got[2].who, "");
    assert_string_equal(got[2].reason, "");
    assert_string_equal(got[2].dataset, "manual");

    /* The note of a delisting names who (what dnsblctl delist showed
     * before the history). */
    struct store_reader *r;
    struct entry e;
    struct addr_prefix p = pfx("192.0.2.7");
    assert_int_equal(store_reader_open(s, &r), DNSBL_OK);
    assert_int_equal(store_reader_begin(r), DNSBL_OK);
    assert_int_equal(store_reader_get(r, &p, &e), DNSBL_OK);
    store_reader_end(r);
    store_reader_close(r);
    assert_string_equal(e.note, "allowed");
    struct event del2 = opev(EV_DELIST, "192.0.2.7", T0 + 180, "ticket 43", "carol");
    apply_ok(s, &del2, 1);
    assert_int_equal(store_reader_open(s, &r), DNSBL_OK);
    assert_int_equal(store_reader_begin(r), DNSBL_OK);
    assert_int_equal(store_reader_get(r, &p, &e), DNSBL_OK);
    store_reader_end(r);
    store_reader_close(r);
    assert_string_equal(e.note, "delisted: by carol: ticket 43");

    /* Neighbours and prefixes around it keep their own. */
    assert_int_equal(read_oplog(s, "192.0.2.0/24", got, 8), 0);
    assert_int_equal(read_oplog(s, "192.0.2.6", got, 8), 0);
    assert_int_equal(read_oplog(s, "192.0.2.8", got, 8), 0);
    assert_int_equal(problems_of(s), 0);
    store_close(s);
}

/* Two actions of one second, in one batch or two, keep both and their
 * order; a reader given less room gets the newest, oldest first. */
static void test_same_second_keeps_both(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    struct store *s = create_store(dir, sizeof dir, "second");
    struct oplog_rec got[8];

    struct event two[2] = {opev(EV_LIST, "198.51.100.0/24", T0, "first", "alice"),
                           opev(EV_ALLOW, "198.51.100.0/24", T0, "second", "alice")};
    apply_ok(s, two, 2);
    struct event third = opev(EV_LIST, "198.51.100.0/24", T0, "third", "bob");
    apply_ok(s, &third, 1);
    struct event again = opev(EV_LIST, "198.51.100.0/24", T0, "third", "bob");
    apply_ok(s, &again, 1); /* the very same action twice: two records */
    struct event earlier = opev(EV_DELIST, "198.51.100.0/24", T0 - 1, "earlier", "carol");
    apply_ok(s, &earlier, 1); /* dated before: sorts first */

    assert_int_equal(read_oplog(s, "198.51.100.0/24", got, 8), 5);
    const char *want[5] = {"earlier", "first", "second", "third", "third"};
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(got[i].reason, want[i]);
    assert_int_equal(got[0].time, T0 - 1);
    assert_int_equal(got[4].time, T0);

    /* The last two, oldest first; cap 0 counts. */
    memset(got, 0, sizeof got);
    assert_int_equal(read_oplog(s, "198.51.100.0/24", got, 2), 5);
    assert_string_equal(got[0].reason, "third");
    assert_string_equal(got[0].who, "bob");
    assert_string_equal(got[1].reason, "third");
    assert_string_equal(got[2].reason, ""); /* untouched */
    assert_int_equal(read_oplog(s, "198.51.100.0/24", got, 0), 5);
    assert_int_equal(read_oplog(s, "198.51.100.0/24", got, 1), 5);
    assert_int_equal(got[0].action, OPLOG_LIST);
    assert_int_equal(got[0].time, T0);
    /* Host bits past the length are cleared, as for entries. */
    struct store_reader *r;
    struct addr_prefix host = pfx("198.51.100.9");
    size_t n = 0;
    host.plen = 24;
    assert_int_equal(store_reader_open(s, &r), DNSBL_OK);
    assert_int_equal(store_reader_begin(r), DNSBL_OK);
    assert_int_equal(store_reader_oplog(r, &host, got, 8, &n), DNSBL_OK);
    assert_int_equal(n, 5);
    /* Not between begin and end: refused. */
    store_reader_end(r);
    assert_int_equal(store_reader_oplog(r, &host, got, 8, &n), DNSBL_EINVAL);
    store_reader_close(r);
    store_close(s);
}

/* Evidence, imported listings and duplicates write no history; a refused
 * batch writes none either. */
static void test_only_operator_events_write(void **state)
{
    (void)state;
    char dir[PATH_MAX], why[512];
    struct store *s = create_store(dir, sizeof dir, "only");
    struct oplog_rec got[4];

    struct event ev[3] = {mkev(EV_ABUSE, "203.0.113.5", T0, NULL),
                          mkev(EV_IMPORT_LIST, "203.0.113.5", T0, "drop"),
                          mkev(EV_IMPORT_EXCLUDE, "203.0.113.5", T0, NULL)};
    apply_ok(s, ev, 3);
    assert_int_equal(read_oplog(s, "203.0.113.5", got, 4), 0);

    /* A list event with a dedup key writes its history once however
     * often it comes: a duplicate applies nothing. */
    static const uint8_t key[32] = {7};
    const uint8_t *keys[1] = {key};
    struct event row = opev(EV_LIST, "203.0.113.5", T0, "csv", NULL);
    struct store_apply_stats st;
    assert_int_equal(store_apply(s, &row, keys, 1, &st, why, sizeof why), DNSBL_OK);
    assert_int_equal(store_apply(s, &row, keys, 1, &st, why, sizeof why), DNSBL_OK);
    assert_int_equal(st.duplicates, 1);
    assert_int_equal(read_oplog(s, "203.0.113.5", got, 4), 1);

    /* A batch the store refuses (it would list 127.0.0.1) is written
     * whole or not at all: no history of its first event either. */
    struct event bad[2] = {opev(EV_LIST, "203.0.113.6", T0, "fine", "alice"),
                           opev(EV_LIST, "127.0.0.0/8", T0, "refused", "alice")};
    assert_int_equal(store_apply(s, bad, NULL, 2, NULL, why, sizeof why), DNSBL_EREFUSED);
    assert_int_equal(read_oplog(s, "203.0.113.6", got, 4), 0);
    assert_int_equal(problems_of(s), 0);
    store_close(s);
}

/* The history is written in the event's own transaction: a disk error at
 * any step of the write (the history's among them) leaves neither the
 * entries nor their history, and the write that goes through has both. */
static void test_history_fails_with_its_write(void **state)
{
    (void)state;
    char dir[PATH_MAX], why[512];
    struct store *s = create_store(dir, sizeof dir, "steps");
    struct oplog_rec got[4];
    struct event ev[2] = {opev(EV_LIST, "192.0.2.0/24", T0, "wide", "alice"),
                          opev(EV_ALLOW, "192.0.2.7", T0, "ours", "bob")};
    unsigned failed = 0;

    for (unsigned step = 1; step < 100; step++) {
        store_testing_fail_step(s, step);
        int rc = store_apply(s, ev, NULL, 2, NULL, why, sizeof why);
        store_testing_fail_step(s, 0);
        if (rc == DNSBL_OK)
            break;
        failed++;
        assert_int_equal(rc, DNSBL_EIO);
        assert_int_equal(read_oplog(s, "192.0.2.0/24", got, 4), 0);
        assert_int_equal(read_oplog(s, "192.0.2.7", got, 4), 0);
        size_t n = 99;
        assert_int_equal(store_count(s, &n), DNSBL_OK);
        assert_int_equal(n, 0);
    }
    assert_true(failed >= 4); /* two entries, two history records at least */
    assert_int_equal(read_oplog(s, "192.0.2.0/24", got, 4), 1);
    assert_string_equal(got[0].who, "alice");
    assert_int_equal(read_oplog(s, "192.0.2.7", got, 4), 1);
    assert_string_equal(got[0].who, "bob");
    store_close(s);
}

/* store_oplog_put: what remove and undo record, in the caller's write
 * transaction, and an invalid record fails that transaction whole. */
static void test_put_in_a_transaction(void **state)
{
    (void)state;
    char dir[PATH_MAX], why[STORE_WHY_MAX] = "";
    struct store *s = create_store(dir, sizeof dir, "put");
    struct oplog_rec rec, got[4];
    uint8_t key[STORE_KEY_LEN];
    struct addr_prefix p = pfx("2001:db8::/48");
    store_key_from_prefix(&p, key);

    struct store_txn t;
    memset(&rec, 0, sizeof rec);
    rec.time = T0;
    rec.action = OPLOG_REMOVE;
    snprintf(rec.who, sizeof rec.who, "dave");
    snprintf(rec.dataset, sizeof rec.dataset, "drop");
    assert_int_equal(store_txn_begin(s, &t), DNSBL_OK);
    assert_int_equal(store_oplog_put(&t, key, &rec), DNSBL_OK);
    rec.action = OPLOG_UNDO;
    assert_int_equal(store_oplog_put(&t, key, &rec), DNSBL_OK);
    assert_int_equal(store_txn_end(&t, why, sizeof why), DNSBL_OK);
    assert_int_equal(read_oplog(s, "2001:db8::/48", got, 4), 2);
    assert_int_equal(got[0].action, OPLOG_REMOVE);
    assert_int_equal(got[1].action, OPLOG_UNDO);
    assert_string_equal(got[1].dataset, "drop");

    /* A bad action, then a bad time: the transaction keeps nothing. */
    assert_int_equal(store_txn_begin(s, &t), DNSBL_OK);
    rec.action = OPLOG_LIST;
    assert_int_equal(store_oplog_put(&t, key, &rec), DNSBL_OK);
    rec.action = 0;
    assert_int_equal(store_oplog_put(&t, key, &rec), DNSBL_EINVAL);
    assert_int_equal(store_txn_end(&t, why, sizeof why), DNSBL_EINVAL);
    assert_non_null(strstr(why, dir));
    assert_int_equal(store_txn_begin(s, &t), DNSBL_OK);
    rec.action = OPLOG_LIST;
    rec.time = 0;
    assert_int_equal(store_oplog_put(&t, key, &rec), DNSBL_EINVAL);
    assert_int_equal(store_txn_end(&t, why, sizeof why), DNSBL_EINVAL);
    assert_int_equal(read_oplog(s, "2001:db8::/48", got, 4), 2);
    /* A history without an entry is fine: removal keeps it. */
    assert_int_equal(problems_of(s), 0);
    store_close(s);
}

/* store_check names a record that does not decode and a key of the wrong
 * shape; a reader refuses the record rather than misread it. */
static void test_check_names_bad_records(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    struct store *s = create_store(dir, sizeof dir, "check");
    struct event add = opev(EV_LIST, "192.0.2.7", T0, "spam", "alice");
    apply_ok(s, &add, 1);
    store_close(s);

    uint8_t okey[STORE_OKEY_LEN], key[STORE_KEY_LEN];
    struct addr_prefix p = pfx("192.0.2.7");
    store_key_from_prefix(&p, key);
    store_okey(key, T0 + 1, 0, okey);
    raw_put(dir, "oplog", okey, sizeof okey, "\x01\x09", 2);
    raw_put(dir, "oplog", "short", 5, "", 0);

    char why[512] = "";
    assert_int_equal(store_open(dir, 0, &s, why, sizeof why), DNSBL_OK);
    assert_int_equal(problems_of(s), 2);
    struct store_reader *r;
    struct oplog_rec got[4];
    size_t n = 0;
    assert_int_equal(store_reader_open(s, &r), DNSBL_OK);
    assert_int_equal(store_reader_begin(r), DNSBL_OK);
    assert_int_equal(store_reader_oplog(r, &p, got, 4, &n), DNSBL_ESCHEMA);
    store_reader_end(r);
    store_reader_close(r);
    store_close(s);
}

/* What a CSV export restores: state rows marked no_oplog write no record,
 * an EV_OPLOG row writes its record as given (on an entry or none) and
 * changes no entry; store_oplog_foreach gives every record back. */
struct restored {
    size_t n;
    char first[ADDR_TEXT_MAX];
};

static int restored_collect(const struct addr_prefix *p, const struct oplog_rec *rec, void *arg)
{
    struct restored *c = arg;
    (void)rec;
    if (c->n++ == 0)
        addr_format(p, c->first, sizeof c->first);
    return 0;
}

static void test_restored_history(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    struct store *s = create_store(dir, sizeof dir, "restore");
    struct oplog_rec got[4];

    struct event st = opev(EV_LIST, "192.0.2.7", T0, "spam", "alice");
    st.no_oplog = true;
    apply_ok(s, &st, 1);
    assert_int_equal(read_oplog(s, "192.0.2.7", got, 4), 0);

    struct event rec[2] = {opev(EV_OPLOG, "192.0.2.7", T0 - 50, "first", "bob"),
                           opev(EV_OPLOG, "198.51.100.0/24", T0 - 10, "gone", "carol")};
    rec[0].oplog_action = OPLOG_LIST;
    rec[0].code = 0x7f00000a;
    rec[0].expires = T0 + 99;
    rec[1].oplog_action = OPLOG_REMOVE;
    rec[1].dataset = "drop";
    apply_ok(s, rec, 2);
    assert_int_equal(read_oplog(s, "192.0.2.7", got, 4), 1);
    assert_int_equal(got[0].time, T0 - 50);
    assert_int_equal(got[0].action, OPLOG_LIST);
    assert_int_equal(got[0].code, 0x7f00000a);
    assert_int_equal(got[0].expires, T0 + 99);
    assert_string_equal(got[0].who, "bob");
    assert_string_equal(got[0].reason, "first");
    assert_int_equal(read_oplog(s, "198.51.100.0/24", got, 4), 1);
    assert_string_equal(got[0].dataset, "drop");
    /* No entry for the record of a removed one, and the listed one as
     * the state row left it. */
    size_t entries = 0;
    assert_int_equal(store_count(s, &entries), DNSBL_OK);
    assert_int_equal(entries, 1);

    struct restored c = {0};
    assert_int_equal(store_oplog_foreach(s, restored_collect, &c), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.first, "192.0.2.7");

    /* An action outside the enum fails the batch. */
    rec[0].oplog_action = 0;
    char why[STORE_WHY_MAX] = "";
    struct store_apply_stats stats;
    assert_int_equal(store_apply(s, rec, NULL, 1, &stats, why, sizeof why), DNSBL_EINVAL);
    store_close(s);
}

static void test_check_names_bad_datasets(void **state)
{
    (void)state;
    char dir[PATH_MAX], why[512] = "";
    struct store *s = create_store(dir, sizeof dir, "checkds");
    struct dataset_note n = {.kind = DATASET_LIST, .last_import = T0};
    snprintf(n.name, sizeof n.name, "drop");
    assert_int_equal(store_dataset_note(s, &n, why, sizeof why), DNSBL_OK);
    assert_int_equal(problems_of(s), 0);
    store_close(s);
    raw_put(dir, "datasets", "\x00\x00\x00\x01", 4, "\x01\x01", 2);
    raw_put(dir, "datasets", "long key", 8, "", 0);
    assert_int_equal(store_open(dir, 0, &s, why, sizeof why), DNSBL_OK);
    assert_int_equal(problems_of(s), 2);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_round_trip),
        cmocka_unit_test(test_codec_refuses_malformed),
        cmocka_unit_test(test_store_writes_operator_events),
        cmocka_unit_test(test_same_second_keeps_both),
        cmocka_unit_test(test_only_operator_events_write),
        cmocka_unit_test(test_history_fails_with_its_write),
        cmocka_unit_test(test_put_in_a_transaction),
        cmocka_unit_test(test_check_names_bad_records),
        cmocka_unit_test(test_restored_history),
        cmocka_unit_test(test_check_names_bad_datasets),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
