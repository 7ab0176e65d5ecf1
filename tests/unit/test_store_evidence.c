/* Unit tests for the evidence trail (doc/store-format.md, "evidence"): the
 * record codec round-trips and refuses garbage; store_apply writes one
 * record per identified evidence event in its transaction, and prunes an
 * entry's records by age and by count; store_reader_evidence gives the
 * newest, oldest first; store_check reads them. */
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
#define STORE_TESTS_NAME "test_store_evidence"
#include "store_tests.h"

#define T0 1748822400 /* 2025-06-02T00:00:00Z */

static const struct evidence_ident arf_ident = {
    .n = 3,
    .pair = {{"message-id", "orig-1@example.com"}, {"feedback-type", "abuse"}, {"spf", "fail"}},
};

static void test_codec_roundtrip(void **state)
{
    (void)state;
    uint8_t buf[STORE_EVIDENCE_VALUE_MAX];
    char long_value[600], source[400];
    struct evidence_ident id = {.n = EVIDENCE_IDENT_MAX};
    static const char *const names[EVIDENCE_IDENT_MAX] = {
        "a", "bb", "message-id", "reporter", "x", "y", "z", "fifteen-bytes-x"};
    /* 254 bytes of 'v' and a 2-byte character across the cut: the cut
     * goes back to the character's start, never through it. */
    memset(long_value, 'v', sizeof long_value);
    memcpy(long_value + 254, "\xc3\xa9", 2);
    long_value[sizeof long_value - 1] = '\0';
    memset(source, 's', sizeof source);
    source[sizeof source - 1] = '\0';
    for (size_t i = 0; i < EVIDENCE_IDENT_MAX; i++)
        id.pair[i] = (struct evidence_pair){names[i], i == 3 ? long_value : "value"};
    struct event ev = mkev(EV_FRAUD, "192.0.2.1", T0, NULL);
    ev.weight = 4.5;
    ev.import_id = UINT64_MAX - 1;
    ev.source = source;
    ev.ident = &id;
    size_t len = 0;
    assert_int_equal(store_encode_evidence(&ev, buf, sizeof buf, &len), DNSBL_OK);
    assert_true(len <= sizeof buf);

    struct evidence_record rec;
    memset(&rec, 0xaa, sizeof rec);
    assert_int_equal(store_decode_evidence(buf, len, &rec), DNSBL_OK);
    assert_int_equal(rec.kind, EV_FRAUD);
    assert_true(rec.weight == 4.5);
    assert_true(rec.import_id == UINT64_MAX - 1);
    assert_int_equal(strlen(rec.dataset), MODEL_TEXT_MAX - 1);
    assert_int_equal(rec.n, EVIDENCE_IDENT_MAX);
    for (size_t i = 0; i < EVIDENCE_IDENT_MAX; i++)
        assert_string_equal(rec.name[i], names[i]);
    assert_string_equal(rec.value[0], "value");
    assert_int_equal(strlen(rec.value[3]), 254);
    assert_int_equal(strspn(rec.value[3], "v"), 254);

    /* No identifiers and no source: an empty list, an empty dataset. */
    struct evidence_ident none = {0};
    ev.source = NULL;
    ev.ident = &none;
    assert_int_equal(store_encode_evidence(&ev, buf, sizeof buf, &len), DNSBL_OK);
    assert_int_equal(store_decode_evidence(buf, len, &rec), DNSBL_OK);
    assert_int_equal(rec.n, 0);
    assert_string_equal(rec.dataset, "");

    /* Caller bugs: too many pairs, an empty or too long name. */
    id.n = EVIDENCE_IDENT_MAX + 1;
    ev.ident = &id;
    assert_int_equal(store_encode_evidence(&ev, buf, sizeof buf, &len), DNSBL_EINVAL);
    struct evidence_ident bad = {.n = 1, .pair = {{"", "v"}}};
    ev.ident = &bad;
    assert_int_equal(store_encode_evidence(&ev, buf, sizeof buf, &len), DNSBL_EINVAL);
    bad.pair[0].name = "sixteen-bytes-xx";
    assert_int_equal(store_encode_evidence(&ev, buf, sizeof buf, &len), DNSBL_EINVAL);
    /* Too small a buffer. */
    ev.ident = &arf_ident;
    assert_int_equal(store_encode_evidence(&ev, buf, 10, &len), DNSBL_ESPACE);
}

static void test_codec_rejects_garbage(void **state)
{
    (void)state;
    uint8_t buf[STORE_EVIDENCE_VALUE_MAX + 1];
    struct evidence_record rec;
    struct event ev = mkev(EV_ABUSE, "192.0.2.1", T0, NULL);
    ev.ident = &arf_ident;
    size_t len = 0;
    assert_int_equal(store_encode_evidence(&ev, buf, sizeof buf, &len), DNSBL_OK);
    assert_int_equal(store_decode_evidence(buf, len, &rec), DNSBL_OK);

    /* Every truncation, and one byte too many. */
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(store_decode_evidence(buf, cut, &rec), DNSBL_ESCHEMA);
    buf[len] = 0;
    assert_int_equal(store_decode_evidence(buf, len + 1, &rec), DNSBL_ESCHEMA);

    /* Layout: version, kind, weight (8), import id (8), source length (2)
     * and bytes ("test"), pair count, then the pairs. */
    size_t off_kind = 1, off_src = 18, off_count = off_src + 2 + 4, off_name = off_count + 2;
    uint8_t copy[sizeof buf];
    memcpy(copy, buf, len);
    copy[0] = 2; /* unknown version */
    assert_int_equal(store_decode_evidence(copy, len, &rec), DNSBL_ESCHEMA);
    memcpy(copy, buf, len);
    copy[off_kind] = EV_KIND_COUNT;
    assert_int_equal(store_decode_evidence(copy, len, &rec), DNSBL_ESCHEMA);
    memcpy(copy, buf, len);
    copy[off_src + 2] = '\0'; /* a NUL inside the source */
    assert_int_equal(store_decode_evidence(copy, len, &rec), DNSBL_ESCHEMA);
    memcpy(copy, buf, len);
    copy[off_src + 1] = 0xff; /* source length past the end */
    assert_int_equal(store_decode_evidence(copy, len, &rec), DNSBL_ESCHEMA);
    memcpy(copy, buf, len);
    copy[off_count] = EVIDENCE_IDENT_MAX + 1;
    assert_int_equal(store_decode_evidence(copy, len, &rec), DNSBL_ESCHEMA);
    memcpy(copy, buf, len);
    copy[off_count] = 2; /* fewer pairs than the bytes hold */
    assert_int_equal(store_decode_evidence(copy, len, &rec), DNSBL_ESCHEMA);
    memcpy(copy, buf, len);
    copy[off_name - 1] = 0; /* an empty name */
    assert_int_equal(store_decode_evidence(copy, len, &rec), DNSBL_ESCHEMA);
    memcpy(copy, buf, len);
    copy[off_name - 1] = EVIDENCE_NAME_MAX; /* a name too long for its field */
    assert_int_equal(store_decode_evidence(copy, len, &rec), DNSBL_ESCHEMA);
}

static struct store *open_with(char *dir, size_t cap, const char *name, uint32_t days, size_t max)
{
    struct store_options o;
    struct store *s = NULL;
    char why[512] = "";
    store_options_default(&o);
    assert_int_equal(o.evidence_days, 90);
    assert_int_equal(o.evidence_max, 1000);
    if (days)
        o.evidence_days = days;
    if (max)
        o.evidence_max = max;
    fresh_dir(dir, cap, name);
    int rc = store_open_opts(dir, STORE_CREATE, &o, &s, why, sizeof why);
    if (rc != DNSBL_OK)
        print_error("store_open_opts: %s\n", why);
    assert_int_equal(rc, DNSBL_OK);
    return s;
}

/* The trail of p: up to cap records, oldest first. */
static size_t trail(struct store *s, const char *p, size_t cap, struct evidence_record *out)
{
    struct store_reader *r = NULL;
    struct addr_prefix a = pfx(p);
    size_t n = 999;
    assert_int_equal(store_reader_open(s, &r), DNSBL_OK);
    assert_int_equal(store_reader_begin(r), DNSBL_OK);
    assert_int_equal(store_reader_evidence(r, &a, cap, out, &n), DNSBL_OK);
    store_reader_end(r);
    store_reader_close(r);
    assert_true(n <= cap);
    return n;
}

static void no_problem(void *arg, const char *what)
{
    (void)arg;
    print_error("store_check: %s\n", what);
}

static void assert_checks(struct store *s)
{
    size_t problems = 99;
    assert_int_equal(store_check(s, no_problem, NULL, &problems), DNSBL_OK);
    assert_int_equal(problems, 0);
}

static void test_write_and_read(void **state)
{
    (void)state;
    char dir[600];
    struct store *s = open_with(dir, sizeof dir, "write", 0, 0);
    struct evidence_record *rec = calloc(8, sizeof *rec);
    assert_non_null(rec);
    struct evidence_ident trap = {.n = 1, .pair = {{"helo", "mx.example"}}};

    struct event ev[6];
    ev[0] = mkev(EV_ABUSE, "192.0.2.1", T0 + 20, NULL);
    ev[0].ident = &arf_ident;
    ev[0].source = "fbl";
    ev[1] = mkev(EV_TRAP_HIT, "192.0.2.1", T0 + 10, NULL);
    ev[1].ident = &trap;
    ev[2] = mkev(EV_TRAP_HIT, "192.0.2.1", T0 + 10, NULL); /* same time: its own record */
    ev[2].ident = &trap;
    ev[2].weight = 3;
    ev[3] = mkev(EV_VOLUME, "192.0.2.1", T0, NULL); /* volume: never a record */
    ev[3].ident = &trap;
    ev[4] = mkev(EV_ABUSE, "192.0.2.1", T0, NULL); /* no identifiers: no record */
    ev[5] = mkev(EV_OTHER, "192.0.2.2", T0, NULL); /* another entry */
    ev[5].ident = &trap;
    apply_ok(s, ev, 6);

    assert_int_equal(trail(s, "192.0.2.1", 8, rec), 3);
    assert_int_equal(rec[0].time, T0 + 10);
    assert_int_equal(rec[0].seq, 0);
    assert_int_equal(rec[1].time, T0 + 10);
    assert_int_equal(rec[1].seq, 1);
    assert_true(rec[1].weight == 3);
    assert_int_equal(rec[1].kind, EV_TRAP_HIT);
    assert_string_equal(rec[1].name[0], "helo");
    assert_string_equal(rec[1].value[0], "mx.example");
    assert_int_equal(rec[2].time, T0 + 20);
    assert_int_equal(rec[2].kind, EV_ABUSE);
    assert_string_equal(rec[2].dataset, "fbl");
    assert_int_equal(rec[2].n, 3);
    assert_string_equal(rec[2].value[0], "orig-1@example.com");
    assert_string_equal(rec[2].value[2], "fail");

    /* The newest 2, oldest first. */
    assert_int_equal(trail(s, "192.0.2.1", 2, rec), 2);
    assert_int_equal(rec[0].seq, 1);
    assert_int_equal(rec[1].time, T0 + 20);
    assert_int_equal(trail(s, "192.0.2.2", 8, rec), 1);
    assert_int_equal(trail(s, "192.0.2.3", 8, rec), 0);
    assert_int_equal(trail(s, "192.0.2.0/24", 8, rec), 0);

    /* A duplicate (its dedup key seen) writes nothing; a later batch with
     * the same time takes the next sequence number. */
    uint8_t key[32] = {1};
    const uint8_t *keys[1] = {key};
    struct store_apply_stats st;
    char why[512] = "";
    assert_int_equal(store_apply(s, &ev[0], keys, 1, &st, why, sizeof why), DNSBL_OK);
    assert_int_equal(store_apply(s, &ev[0], keys, 1, &st, why, sizeof why), DNSBL_OK);
    assert_int_equal(st.duplicates, 1);
    assert_int_equal(trail(s, "192.0.2.1", 8, rec), 4);
    assert_int_equal(rec[3].time, T0 + 20);
    assert_int_equal(rec[3].seq, 1);
    assert_checks(s);
    free(rec);
    store_close(s);
}

static void test_prune_by_age(void **state)
{
    (void)state;
    char dir[600];
    struct store *s = open_with(dir, sizeof dir, "age", 10, 0);
    struct evidence_record *rec = calloc(8, sizeof *rec);
    assert_non_null(rec);

    struct event ev = mkev(EV_ABUSE, "2001:db8::1", T0, NULL);
    ev.ident = &arf_ident;
    apply_ok(s, &ev, 1);
    ev.time = T0 + 9 * MODEL_DAY;
    apply_ok(s, &ev, 1);
    assert_int_equal(trail(s, "2001:db8::1", 8, rec), 2);

    /* 10 days and a second after the first: it is past the retention. */
    ev.time = T0 + 10 * MODEL_DAY + 1;
    apply_ok(s, &ev, 1);
    assert_int_equal(trail(s, "2001:db8::1", 8, rec), 2);
    assert_int_equal(rec[0].time, T0 + 9 * MODEL_DAY);

    /* A report older than the retention behind the newest is not kept;
     * the entry still counts it. */
    ev.time = T0;
    apply_ok(s, &ev, 1);
    assert_int_equal(trail(s, "2001:db8::1", 8, rec), 2);
    assert_int_equal(rec[0].time, T0 + 9 * MODEL_DAY);
    struct store_reader *r = NULL;
    struct entry e;
    struct addr_prefix a = pfx("2001:db8::1");
    assert_int_equal(store_reader_open(s, &r), DNSBL_OK);
    assert_int_equal(store_reader_begin(r), DNSBL_OK);
    assert_int_equal(store_reader_get(r, &a, &e), DNSBL_OK);
    assert_int_equal(e.counts[CNT_ABUSE], 4);
    store_reader_end(r);
    store_reader_close(r);
    assert_checks(s);
    free(rec);
    store_close(s);
}

static void test_prune_by_count(void **state)
{
    (void)state;
    char dir[600];
    struct store *s = open_with(dir, sizeof dir, "count", 0, 3);
    struct evidence_record *rec = calloc(8, sizeof *rec);
    assert_non_null(rec);
    struct event ev[5];
    for (int i = 0; i < 5; i++) {
        ev[i] = mkev(EV_TRAP_HIT, "198.51.100.7", T0 + i, NULL);
        ev[i].ident = &arf_ident;
    }
    /* Five in one batch: the newest three stay. */
    apply_ok(s, ev, 5);
    assert_int_equal(trail(s, "198.51.100.7", 8, rec), 3);
    assert_int_equal(rec[0].time, T0 + 2);
    assert_int_equal(rec[2].time, T0 + 4);
    /* One more, in a batch of its own: the oldest goes. */
    ev[0].time = T0 + 100;
    apply_ok(s, ev, 1);
    assert_int_equal(trail(s, "198.51.100.7", 8, rec), 3);
    assert_int_equal(rec[0].time, T0 + 3);
    assert_int_equal(rec[2].time, T0 + 100);
    /* Another entry's trail is its own. */
    ev[1] = mkev(EV_TRAP_HIT, "198.51.100.6", T0, NULL);
    ev[1].ident = &arf_ident;
    apply_ok(s, &ev[1], 1);
    assert_int_equal(trail(s, "198.51.100.6", 8, rec), 1);
    assert_int_equal(trail(s, "198.51.100.7", 8, rec), 3);
    assert_checks(s);
    free(rec);
    store_close(s);
}

static void test_evidence_days_option(void **state)
{
    (void)state;
    struct store_options o;
    char why[256];
    store_options_default(&o);
    assert_int_equal(store_options_evidence_days(&o, "30", why, sizeof why), DNSBL_OK);
    assert_int_equal(o.evidence_days, 30);
    assert_int_equal(store_options_evidence_days(&o, "0", why, sizeof why), DNSBL_EINVAL);
    assert_int_equal(store_options_evidence_days(&o, "-1", why, sizeof why), DNSBL_EINVAL);
    assert_int_equal(store_options_evidence_days(&o, "7d", why, sizeof why), DNSBL_EINVAL);
    assert_int_equal(store_options_evidence_days(&o, "36501", why, sizeof why), DNSBL_EINVAL);
    assert_non_null(strstr(why, "36501"));
    assert_int_equal(o.evidence_days, 30);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_roundtrip), cmocka_unit_test(test_codec_rejects_garbage),
        cmocka_unit_test(test_write_and_read),  cmocka_unit_test(test_prune_by_age),
        cmocka_unit_test(test_prune_by_count),  cmocka_unit_test(test_evidence_days_option),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
