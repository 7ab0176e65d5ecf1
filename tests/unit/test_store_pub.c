/* Unit tests of the published view (store_pub.h): a first publish, the
 * serial that moves only when the set changed, the difference AXFR and
 * IXFR read back, the bounded journal, zones never published, a schema 5
 * store read-only, a fault at every step of a publish, and zonerr's
 * records of a small store. Each test works in its own directory under
 * one mkdtemp directory, removed at the end. */
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
#include "policy.h"
#include "store.h"
#include "store_int.h"
#include "store_pub.h"
#include "store_testing.h"
#include "zonerr.h"

#define ZONE "bl.example"
#define T0 1700000000

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
    int len = snprintf(tmp_root, sizeof tmp_root, "%s/test_store_pub.XXXXXX",
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

static struct store *create_store(char *dir, size_t cap, const char *name)
{
    struct store *s = NULL;
    char why[512] = "";
    int len = snprintf(dir, cap, "%s/%u-%s", tmp_root, tmp_seq++, name);
    assert_true(len > 0 && (size_t)len < cap);
    int rc = store_open_opts(dir, STORE_CREATE, NULL, &s, why, sizeof why);
    if (rc != DNSBL_OK)
        print_error("store_open: %s\n", why);
    assert_int_equal(rc, DNSBL_OK);
    return s;
}

/* A record as text: "OWNER TYPE RDATA", owner relative to ZONE ("@" is
 * the apex), type A (rdata an address), TXT (rdata one string) or HINFO. */
static void set_add_text(struct store_pub_set *set, const char *line)
{
    char owner[256], type[16], data[256], full[512];
    uint8_t wire[ZONERR_NAME_MAX], rd[300];
    size_t wlen, rdlen = 0;

    assert_int_equal(sscanf(line, "%255s %15s %255[^\n]", owner, type, data), 3);
    if (strcmp(owner, "@") == 0)
        snprintf(full, sizeof full, "%s", ZONE);
    else
        snprintf(full, sizeof full, "%s.%s", owner, ZONE);
    assert_int_equal(zonerr_name_to_wire(full, wire, &wlen), DNSBL_OK);
    uint16_t t = 0;
    if (strcmp(type, "A") == 0) {
        unsigned a, b, c, d;
        assert_int_equal(sscanf(data, "%u.%u.%u.%u", &a, &b, &c, &d), 4);
        rd[0] = (uint8_t)a, rd[1] = (uint8_t)b, rd[2] = (uint8_t)c, rd[3] = (uint8_t)d;
        rdlen = 4;
        t = ZONERR_TYPE_A;
    } else {
        rd[0] = (uint8_t)strlen(data);
        memcpy(rd + 1, data, rd[0]);
        rdlen = 1 + rd[0];
        t = strcmp(type, "TXT") == 0 ? ZONERR_TYPE_TXT : ZONERR_TYPE_HINFO;
    }
    assert_int_equal(store_pub_set_add(set, wire, wlen, t, 3600, rd, rdlen), DNSBL_OK);
}

/* Publishes the records lines[0..n) at now. */
static uint64_t data_serial = 1;

static struct store_pub_result publish(struct store *s, const char *const *lines, size_t n,
                                       int64_t now, uint32_t journal_max)
{
    struct store_pub_set *set;
    struct store_pub_result res;
    char why[512] = "";
    assert_int_equal(store_pub_set_new(ZONE, &set), DNSBL_OK);
    for (size_t i = 0; i < n; i++)
        set_add_text(set, lines[i]);
    int rc = store_publish(s, set, now, journal_max, data_serial, &res, why, sizeof why);
    if (rc != DNSBL_OK)
        print_error("store_publish: %s\n", why);
    assert_int_equal(rc, DNSBL_OK);
    store_pub_set_free(set);
    return res;
}

/* A record read back as text: "KIND SERIAL OWNER TYPE RDATA-HEX;". */
static void rr_text(const struct store_pub_rr *rr, char *out, size_t cap)
{
    static const char *const kinds[] = {"rr", "del-soa", "del", "add-soa", "add"};
    size_t pos = (size_t)snprintf(out, cap, "%s %u", kinds[rr->kind], rr->serial);
    if (rr->kind == STORE_PUB_DEL_SOA || rr->kind == STORE_PUB_ADD_SOA) {
        snprintf(out + pos, cap - pos, ";");
        return;
    }
    pos += (size_t)snprintf(out + pos, cap - pos, " ");
    /* The owner as dotted labels. */
    for (size_t i = 0; i < rr->owner_len && rr->owner[i];) {
        uint8_t l = rr->owner[i];
        pos += (size_t)snprintf(out + pos, cap - pos, "%.*s.", l, (const char *)rr->owner + i + 1);
        i += 1 + l;
    }
    pos += (size_t)snprintf(out + pos, cap - pos, " %u %u ", rr->type, rr->ttl);
    for (unsigned i = 0; i < rr->rdlen; i++)
        pos += (size_t)snprintf(out + pos, cap - pos, "%02x", rr->rdata[i]);
    snprintf(out + pos, cap - pos, ";");
}

/* Everything an iterator yields, as text. */
static size_t drain(struct store_pub_iter *it, char *out, size_t cap)
{
    struct store_pub_rr rr;
    char line[1024];
    size_t n = 0;
    int rc;
    out[0] = '\0';
    while ((rc = store_pub_iter_next(it, &rr)) == 1) {
        rr_text(&rr, line, sizeof line);
        size_t used = strlen(out);
        assert_true(used + strlen(line) + 1 < cap);
        memcpy(out + used, line, strlen(line) + 1);
        n++;
    }
    assert_int_equal(rc, 0);
    store_pub_iter_free(it);
    return n;
}

static size_t axfr_text(struct store *s, char *out, size_t cap)
{
    struct store_reader *r;
    struct store_pub_iter *it;
    assert_int_equal(store_reader_open(s, &r), DNSBL_OK);
    assert_int_equal(store_reader_begin(r), DNSBL_OK);
    assert_int_equal(store_pub_axfr_open(r, ZONE, &it), DNSBL_OK);
    size_t n = drain(it, out, cap);
    store_reader_end(r);
    store_reader_close(r);
    return n;
}

/* DNSBL_OK and the text, or the error of ixfr_open. */
static int ixfr_text(struct store *s, uint32_t from, char *out, size_t cap, size_t *n)
{
    struct store_reader *r;
    struct store_pub_iter *it;
    assert_int_equal(store_reader_open(s, &r), DNSBL_OK);
    assert_int_equal(store_reader_begin(r), DNSBL_OK);
    int rc = store_pub_ixfr_open(r, ZONE, from, &it);
    if (rc == DNSBL_OK)
        *n = drain(it, out, cap);
    store_reader_end(r);
    store_reader_close(r);
    return rc;
}

static int state_of(struct store *s, struct store_pub_state *st)
{
    struct store_reader *r;
    assert_int_equal(store_reader_open(s, &r), DNSBL_OK);
    assert_int_equal(store_reader_begin(r), DNSBL_OK);
    int rc = store_reader_pub_state(r, ZONE, st);
    store_reader_end(r);
    store_reader_close(r);
    return rc;
}

static const char *const set_a[] = {
    "2.0.0.127 A 127.0.0.2", "2.0.0.127 TXT test point",   "*.2.0.192 A 127.0.0.2",
    "*.2.0.192 TXT listed",  "7.2.0.192 HINFO not listed", "*.10 A 127.0.0.3",
};
/* set_a with *.10 gone, 7.2.0.192 listed now, a TXT changed, one name new. */
static const char *const set_b[] = {
    "2.0.0.127 A 127.0.0.2",      "2.0.0.127 TXT test point", "*.2.0.192 A 127.0.0.2",
    "*.2.0.192 TXT listed again", "7.2.0.192 A 127.0.0.2",    "*.100.51.198 A 127.0.0.4",
};

static void test_first_publish_and_unchanged(void **state)
{
    (void)state;
    char dir[PATH_MAX], text[8192];
    struct store *s = create_store(dir, sizeof dir, "first");
    struct store_pub_state st;

    assert_int_equal(state_of(s, &st), DNSBL_ENOENT);
    struct store_pub_result res = publish(s, set_a, 6, T0, 100);
    assert_true(res.first);
    assert_true(res.changed);
    assert_int_equal(res.state.serial, T0);
    assert_int_equal(res.state.names, 4);
    assert_int_equal(res.state.records, 6);
    assert_int_equal(res.state.oldest, T0);
    assert_int_equal(res.names_added, 4);
    assert_int_equal(state_of(s, &st), DNSBL_OK);
    assert_int_equal(st.serial, T0);
    assert_int_equal(st.published, T0);
    assert_int_equal(axfr_text(s, text, sizeof text), 6);
    assert_non_null(strstr(text, "rr 1700000000 *.2.0.192.bl.example. 1 3600 7f000002;"));

    /* The same set later, in another order and with a duplicate: nothing moves. */
    const char *const again[] = {"*.10 A 127.0.0.3",           "*.2.0.192 TXT listed",
                                 "7.2.0.192 HINFO not listed", "2.0.0.127 TXT test point",
                                 "2.0.0.127 A 127.0.0.2",      "*.2.0.192 A 127.0.0.2",
                                 "*.2.0.192 A 127.0.0.2"};
    res = publish(s, again, 7, T0 + 600, 100);
    assert_false(res.first);
    assert_false(res.changed);
    assert_int_equal(res.state.serial, T0);
    assert_int_equal(state_of(s, &st), DNSBL_OK);
    assert_int_equal(st.published, T0);
    assert_int_equal(st.oldest, T0);
    store_close(s);
}

static void test_diff_axfr_ixfr(void **state)
{
    (void)state;
    char dir[PATH_MAX], text[8192];
    struct store *s = create_store(dir, sizeof dir, "diff");
    size_t n = 0;

    publish(s, set_a, 6, T0, 100);
    struct store_pub_result res = publish(s, set_b, 6, T0 + 60, 100);
    assert_true(res.changed);
    assert_int_equal(res.old_serial, T0);
    assert_int_equal(res.state.serial, T0 + 1);
    assert_int_equal(res.state.oldest, T0);
    assert_int_equal(res.names_added, 1);
    assert_int_equal(res.names_removed, 1);
    assert_int_equal(res.names_changed, 2);
    assert_int_equal(res.records_removed, 3); /* *.10 A, the old TXT, the HINFO */
    assert_int_equal(res.records_added, 3);   /* the new TXT, 7.2.0.192 A, *.100.51.198 A */
    assert_int_equal(res.state.names, 4);
    assert_int_equal(res.state.records, 6);

    assert_int_equal(axfr_text(s, text, sizeof text), 6);
    assert_null(strstr(text, "*.10.bl"));
    assert_null(strstr(text, " 13 ")); /* no HINFO left */
    assert_non_null(strstr(text, "rr 1700000001 *.100.51.198.bl.example. 1 3600 7f000004;"));

    assert_int_equal(ixfr_text(s, T0, text, sizeof text, &n), DNSBL_OK);
    assert_int_equal(n, 2 + 3 + 3);
    /* RFC 1995 order: the old SOA, what goes, the new SOA, what comes. */
    /* Owners in the store's order: wire labels, length bytes first. */
    const char *want = "del-soa 1700000000;"
                       "del 1700000000 *.2.0.192.bl.example. 16 3600 066c6973746564;"
                       "del 1700000000 *.10.bl.example. 1 3600 7f000003;"
                       "del 1700000000 7.2.0.192.bl.example. 13 3600 0a6e6f74206c6973746564;"
                       "add-soa 1700000001;"
                       "add 1700000001 *.2.0.192.bl.example. 16 3600 "
                       "0c6c697374656420616761696e;"
                       "add 1700000001 *.100.51.198.bl.example. 1 3600 7f000004;"
                       "add 1700000001 7.2.0.192.bl.example. 1 3600 7f000002;";
    assert_string_equal(text, want);
    /* Current: nothing to send. */
    assert_int_equal(ixfr_text(s, T0 + 1, text, sizeof text, &n), DNSBL_OK);
    assert_int_equal(n, 0);
    /* A serial the journal never had. */
    assert_int_equal(ixfr_text(s, T0 - 5, text, sizeof text, &n), DNSBL_ENOENT);
    store_close(s);
}

/* A set made from older data than the stored view's is not published. */
static void test_stale_publish_skipped(void **state)
{
    (void)state;
    char dir[PATH_MAX], text[8192];
    struct store *s = create_store(dir, sizeof dir, "stale");
    data_serial = 10;
    publish(s, set_a, 6, T0, 100);
    data_serial = 9;
    struct store_pub_result res = publish(s, set_b, 6, T0 + 60, 100);
    assert_true(res.stale);
    assert_false(res.changed);
    assert_int_equal(res.state.serial, T0);
    assert_non_null((axfr_text(s, text, sizeof text), strstr(text, "*.10.bl.example.")));
    /* Data as new as the stored view's publishes. */
    data_serial = 10;
    res = publish(s, set_b, 6, T0 + 60, 100);
    assert_false(res.stale);
    assert_int_equal(res.state.serial, T0 + 1);
    data_serial = 1;
    store_close(s);
}

static void test_journal_bounded(void **state)
{
    (void)state;
    char dir[PATH_MAX], text[16384];
    struct store *s = create_store(dir, sizeof dir, "journal");
    size_t n = 0;
    char lines[8][64];
    const char *set[2] = {"2.0.0.127 A 127.0.0.2", lines[0]};

    publish(s, set, 1, T0, 3);
    /* Six changes, each one name more and one less. */
    struct store_pub_result res;
    for (int i = 0; i < 6; i++) {
        snprintf(lines[0], sizeof lines[0], "%d.2.0.192 A 127.0.0.2", i);
        res = publish(s, set, 2, T0 + 10 * (i + 1), 3);
        assert_true(res.changed);
        assert_int_equal(res.state.serial, T0 + 1 + (uint32_t)i);
    }
    assert_int_equal(res.state.serial, T0 + 6);
    assert_int_equal(res.state.oldest, T0 + 3); /* three changes kept */
    assert_int_equal(ixfr_text(s, T0 + 2, text, sizeof text, &n), DNSBL_ENOENT);
    assert_int_equal(ixfr_text(s, T0, text, sizeof text, &n), DNSBL_ENOENT);
    assert_int_equal(ixfr_text(s, T0 + 3, text, sizeof text, &n), DNSBL_OK);
    /* 3 changes: the first removes nothing-but-2 and adds 3, and so on. */
    assert_int_equal(n, 3 * 4);
    assert_non_null(strstr(text, "del-soa 1700000003;del 1700000003 2.2.0.192."));
    assert_non_null(strstr(text, "add-soa 1700000006;add 1700000006 5.2.0.192."));
    /* From the middle: only the last two. */
    assert_int_equal(ixfr_text(s, T0 + 4, text, sizeof text, &n), DNSBL_OK);
    assert_int_equal(n, 2 * 4);
    assert_null(strstr(text, "del-soa 1700000003;"));

    /* A smaller bound drops more at the next change; 0 keeps none. */
    snprintf(lines[0], sizeof lines[0], "77.2.0.192 A 127.0.0.2");
    res = publish(s, set, 2, T0 + 100, 0);
    assert_int_equal(res.state.serial, T0 + 7);
    assert_int_equal(res.state.oldest, T0 + 7);
    assert_int_equal(ixfr_text(s, T0 + 6, text, sizeof text, &n), DNSBL_ENOENT);
    store_close(s);
}

/* Serial arithmetic wraps (RFC 1982): 2^32 - 1 + 1 is 0. */
static void test_serial_wraps(void **state)
{
    (void)state;
    char dir[PATH_MAX], text[4096];
    struct store *s = create_store(dir, sizeof dir, "wrap");
    const char *a[] = {"1.2.0.192 A 127.0.0.2"}, *b[] = {"2.2.0.192 A 127.0.0.2"};
    size_t n;
    publish(s, a, 1, 0xffffffffLL, 10);
    struct store_pub_result res = publish(s, b, 1, 0xffffffffLL + 5, 10);
    assert_int_equal(res.state.serial, 0);
    assert_int_equal(ixfr_text(s, 0xffffffffu, text, sizeof text, &n), DNSBL_OK);
    assert_int_equal(n, 4);
    store_close(s);
}

static void test_never_published(void **state)
{
    (void)state;
    char dir[PATH_MAX], text[8192];
    struct store *s = create_store(dir, sizeof dir, "never");
    struct store_reader *r;
    struct store_pub_iter *it = (struct store_pub_iter *)1;
    struct store_pub_state st;

    publish(s, set_a, 6, T0, 100);
    assert_int_equal(store_reader_open(s, &r), DNSBL_OK);
    assert_int_equal(store_reader_begin(r), DNSBL_OK);
    assert_int_equal(store_reader_pub_state(r, "other.example", &st), DNSBL_ENOENT);
    assert_int_equal(store_pub_axfr_open(r, "other.example", &it), DNSBL_ENOENT);
    assert_null(it);
    assert_int_equal(store_pub_ixfr_open(r, "other.example", 1, &it), DNSBL_ENOENT);
    /* The name as the config may write it. */
    assert_int_equal(store_reader_pub_state(r, "BL.Example.", &st), DNSBL_OK);
    assert_int_equal(st.serial, T0);
    store_reader_end(r);
    store_reader_close(r);
    /* A second zone gets its own id: the first one's set stays apart. */
    struct store_pub_set *set;
    struct store_pub_result res;
    char why[256];
    uint8_t wire[ZONERR_NAME_MAX];
    size_t wlen;
    assert_int_equal(store_pub_set_new("other.example", &set), DNSBL_OK);
    assert_int_equal(zonerr_name_to_wire("x.other.example", wire, &wlen), DNSBL_OK);
    assert_int_equal(
        store_pub_set_add(set, wire, wlen, ZONERR_TYPE_A, 60, (const uint8_t *)"\x7f\0\0\x02", 4),
        DNSBL_OK);
    /* An owner outside the zone is refused. */
    assert_int_equal(zonerr_name_to_wire("x.bl.example", wire, &wlen), DNSBL_OK);
    assert_int_equal(
        store_pub_set_add(set, wire, wlen, ZONERR_TYPE_A, 60, (const uint8_t *)"\x7f\0\0\x02", 4),
        DNSBL_EINVAL);
    assert_int_equal(store_publish(s, set, T0 + 5, 10, 1, &res, why, sizeof why), DNSBL_OK);
    store_pub_set_free(set);
    assert_int_equal(axfr_text(s, text, sizeof text), 6);
    store_close(s);
}

/* A schema 5 store (no published view) opens read-only as never
 * published, and a writer upgrades it. */
static void test_schema5_read_only(void **state)
{
    (void)state;
    char dir[PATH_MAX], why[512] = "";
    struct store *s = create_store(dir, sizeof dir, "schema5");
    struct store_txn t;
    assert_int_equal(store_txn_begin(s, &t), DNSBL_OK);
    store_txn_step(&t, mdb_drop(t.txn, s->pubstate, 1), "drop");
    store_txn_step(&t, mdb_drop(t.txn, s->pubset, 1), "drop");
    store_txn_step(&t, mdb_drop(t.txn, s->pubjournal, 1), "drop");
    uint8_t five[4] = {0, 0, 0, 5};
    MDB_val k = store_meta_key("schema"), v = store_val(five, 4);
    store_txn_step(&t, mdb_put(t.txn, s->meta, &k, &v, 0), "schema");
    assert_int_equal(store_txn_end(&t, why, sizeof why), DNSBL_OK);
    store_close(s);

    assert_int_equal(store_open(dir, STORE_RDONLY, &s, why, sizeof why), DNSBL_OK);
    struct store_pub_state st;
    assert_int_equal(state_of(s, &st), DNSBL_ENOENT);
    struct store_reader *r;
    struct store_pub_iter *it;
    assert_int_equal(store_reader_open(s, &r), DNSBL_OK);
    assert_int_equal(store_reader_begin(r), DNSBL_OK);
    assert_int_equal(store_pub_axfr_open(r, ZONE, &it), DNSBL_ENOENT);
    assert_int_equal(store_pub_ixfr_open(r, ZONE, 5, &it), DNSBL_ENOENT);
    store_reader_end(r);
    store_reader_close(r);
    store_close(s);

    assert_int_equal(store_open(dir, 0, &s, why, sizeof why), DNSBL_OK);
    struct store_pub_result res = publish(s, set_a, 6, T0, 100);
    assert_int_equal(res.state.serial, T0);
    store_close(s);
}

/* A publish that fails at any step leaves the old view whole. */
static void test_fault_every_step(void **state)
{
    (void)state;
    char dir[PATH_MAX], before[8192], after[8192], why[512];
    struct store *s = create_store(dir, sizeof dir, "faults");
    publish(s, set_a, 6, T0, 100);
    size_t n = axfr_text(s, before, sizeof before);
    unsigned step;
    for (step = 1; step < 200; step++) {
        struct store_pub_set *set;
        struct store_pub_result res;
        assert_int_equal(store_pub_set_new(ZONE, &set), DNSBL_OK);
        for (size_t i = 0; i < 6; i++)
            set_add_text(set, set_b[i]);
        store_testing_fail_step(s, step);
        int rc = store_publish(s, set, T0 + 60, 100, 1, &res, why, sizeof why);
        store_testing_fail_step(s, 0);
        store_pub_set_free(set);
        if (rc == DNSBL_OK)
            break;
        struct store_pub_state st;
        assert_int_equal(state_of(s, &st), DNSBL_OK);
        assert_int_equal(st.serial, T0);
        assert_int_equal(axfr_text(s, after, sizeof after), n);
        assert_string_equal(after, before);
    }
    assert_true(step > 3); /* the publish has steps that failed */
    assert_true(step < 200);
    struct store_pub_state st;
    assert_int_equal(state_of(s, &st), DNSBL_OK);
    assert_int_equal(st.serial, T0 + 1);
    store_close(s);
}

struct collect {
    char text[8192];
    size_t n;
};

static int collect_rr(const struct zonerr_rr *rr, void *arg)
{
    struct collect *c = arg;
    struct store_pub_rr p = {.kind = STORE_PUB_RR,
                             .owner = rr->owner,
                             .owner_len = rr->owner_len,
                             .type = rr->type,
                             .ttl = rr->ttl,
                             .rdata = rr->rdata,
                             .rdlen = rr->rdlen};
    char line[1024];
    rr_text(&p, line, sizeof line);
    size_t used = strlen(c->text);
    snprintf(c->text + used, sizeof c->text - used, "%s", line);
    c->n++;
    return 0;
}

/* zonerr: a /24 is a wildcard, a delisted host under it an HINFO. */
static void test_zonerr_records(void **state)
{
    (void)state;
    char dir[PATH_MAX], why[512];
    struct store *s = create_store(dir, sizeof dir, "zonerr");
    struct zone_policy zp;
    struct collect c = {0};
    policy_defaults(&zp);

    assert_int_equal(zonerr_generate(NULL, &zp, ZONE, T0, collect_rr, &c), DNSBL_OK);
    assert_int_equal(c.n, 2); /* the test point's A and TXT */
    assert_non_null(strstr(c.text, "rr 0 2.0.0.127.bl.example. 1 "));

    struct event ev[2];
    memset(ev, 0, sizeof ev);
    assert_int_equal(addr_parse("192.0.2.0/24", &ev[0].prefix, why, sizeof why), DNSBL_OK);
    assert_int_equal(addr_parse("192.0.2.7", &ev[1].prefix, why, sizeof why), DNSBL_OK);
    ev[0].kind = EV_LIST;
    ev[1].kind = EV_ALLOW;
    for (int i = 0; i < 2; i++) {
        ev[i].weight = 1;
        ev[i].time = T0;
        ev[i].reason = "r";
        ev[i].source = "test";
    }
    assert_int_equal(store_apply(s, ev, NULL, 2, NULL, why, sizeof why), DNSBL_OK);
    memset(&c, 0, sizeof c);
    assert_int_equal(zonerr_generate(s, &zp, ZONE, T0 + 1, collect_rr, &c), DNSBL_OK);
    assert_non_null(strstr(c.text, "*.2.0.192.bl.example. 1 "));
    assert_non_null(strstr(c.text, "7.2.0.192.bl.example. 13 "));
    assert_null(strstr(c.text, "7.2.0.192.bl.example. 1 "));
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_publish_and_unchanged),
        cmocka_unit_test(test_diff_axfr_ixfr),
        cmocka_unit_test(test_stale_publish_skipped),
        cmocka_unit_test(test_journal_bounded),
        cmocka_unit_test(test_serial_wraps),
        cmocka_unit_test(test_never_published),
        cmocka_unit_test(test_schema5_read_only),
        cmocka_unit_test(test_fault_every_step),
        cmocka_unit_test(test_zonerr_records),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
