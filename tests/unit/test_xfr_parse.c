/* Unit tests for the transfer parser (xfr_parse.h): AXFR and IXFR streams
 * built with ldns as wire messages, names back into prefixes (wildcards,
 * hosts, nibbles, exclusions), and the stream errors that must fail a
 * pull with the message and record named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ldns/ldns.h>

#include "addr.h"
#include "err.h"
#include "xfr_parse.h"

#define SOA(n) "bl.example. 300 IN SOA ns.bl.example. h.bl.example. " #n " 3600 600 86400 300"

/* One answer message holding the records given, NULL-terminated. */
static size_t msg_of(uint8_t *buf, size_t cap, const char *const *rrs)
{
    ldns_pkt *p = ldns_pkt_query_new(ldns_dname_new_frm_str("bl.example."), LDNS_RR_TYPE_AXFR,
                                     LDNS_RR_CLASS_IN, 0);
    ldns_pkt_set_id(p, 7);
    ldns_pkt_set_qr(p, true);
    for (; *rrs; rrs++) {
        ldns_rr *r = NULL;
        assert_int_equal(ldns_rr_new_frm_str(&r, *rrs, 300, NULL, NULL), LDNS_STATUS_OK);
        ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, r);
    }
    uint8_t *w = NULL;
    size_t n = 0;
    assert_int_equal(ldns_pkt2wire(&w, p, &n), LDNS_STATUS_OK);
    assert_true(n <= cap);
    memcpy(buf, w, n);
    free(w);
    ldns_pkt_free(p);
    return n;
}

static int feed(struct xfr_parser *x, const char *const *rrs, char *why, size_t whylen)
{
    uint8_t buf[8192];
    size_t n = msg_of(buf, sizeof buf, rrs);
    return xfr_parser_feed(x, buf, n, why, whylen);
}

static const struct xfr_change *find(const struct xfr_parser *x, const char *prefix)
{
    struct addr_prefix p;
    assert_int_equal(addr_parse(prefix, &p, NULL, 0), DNSBL_OK);
    size_t n;
    const struct xfr_change *c = xfr_parser_changes(x, &n);
    for (size_t i = 0; i < n; i++)
        if (addr_compare(&c[i].prefix, &p) == 0)
            return &c[i];
    return NULL;
}

static void test_axfr_names(void **state)
{
    (void)state;
    char why[1024] = "";
    struct xfr_parser *x = xfr_parser_new("bl.example", false, false, 0);
    const char *const m1[] = {SOA(5),
                              "bl.example. 300 IN NS ns.example.",
                              "bl.example. 300 IN TXT \"apex\"",
                              "ns1.bl.example. 300 IN A 192.0.2.53",
                              "www.bl.example. 300 IN TXT \"policy\"",
                              "*.2.0.192.bl.example. 300 IN A 127.0.0.2",
                              "7.2.0.192.bl.example. 300 IN HINFO \"dnsbl\" \"not listed\"",
                              "*.51.198.bl.example. 300 IN A 127.0.0.3",
                              "*.10.bl.example. 600 IN A 127.0.0.4",
                              "9.113.0.203.bl.example. 300 IN A 127.0.0.5",
                              NULL};
    const char *const m2[] = {
        "*.2.0.192.bl.example. 300 IN TXT \"listed $ see\" \" more\"",
        "*.8.B.D.0.1.0.0.2.bl.example. 300 IN A 127.0.0.2",
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example. 300 IN A "
        "127.0.0.9",
        "3.0.192.bl.example. 300 IN HINFO \"dnsbl\" \"not listed\"",
        "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example. 300 IN HINFO "
        "\"a\" \"b\"",
        SOA(5),
        NULL};
    assert_int_equal(feed(x, m1, why, sizeof why), DNSBL_OK);
    assert_false(xfr_parser_done(x));
    assert_int_equal(feed(x, m2, why, sizeof why), DNSBL_OK);
    assert_true(xfr_parser_done(x));
    assert_int_equal(xfr_parser_style(x), XFR_FULL);
    assert_int_equal(xfr_parser_soa(x)->serial, 5);
    assert_int_equal(xfr_parser_soa(x)->expire, 86400);
    assert_int_equal(xfr_parser_records(x), 16);
    assert_int_equal(xfr_parser_skipped(x), 2); /* glue and www: zone data, no listings */
    size_t n;
    xfr_parser_changes(x, &n);
    assert_int_equal(n, 9);

    const struct xfr_change *c = find(x, "192.0.2.0/24");
    assert_non_null(c);
    assert_int_equal(c->nadd, 1);
    assert_int_equal(c->add[0], 0x7f000002);
    assert_int_equal(c->ntadd, 1);
    assert_string_equal(c->tadd[0], "listed $$ see more"); /* "$" kept literal */
    struct event ev;
    assert_true(xfr_change_event(c, NULL, true, "bl.example", 1000, &ev));
    assert_int_equal(ev.kind, EV_IMPORT_LIST);
    assert_int_equal(ev.code, 0x7f000002);
    assert_string_equal(ev.txt, "listed $$ see more");
    assert_string_equal(ev.dataset, "bl.example");
    assert_int_equal(ev.time, 1000);

    c = find(x, "192.0.2.7");
    assert_non_null(c);
    assert_true(xfr_change_event(c, NULL, true, "d", 1000, &ev));
    assert_int_equal(ev.kind, EV_IMPORT_EXCLUDE);
    /* a name short of an address with only an HINFO: its whole prefix */
    assert_non_null(find(x, "192.0.3.0/24"));
    c = find(x, "198.51.0.0/16");
    assert_non_null(c);
    assert_true(xfr_change_event(c, NULL, true, "d", 1000, &ev));
    assert_int_equal(ev.kind, EV_IMPORT_LIST);
    assert_null(ev.txt); /* no TXT record: none */
    c = find(x, "10.0.0.0/8");
    assert_non_null(c);
    assert_int_equal(c->ttl, 600);
    assert_non_null(find(x, "203.0.113.9"));
    assert_non_null(find(x, "2001:db8::/32"));
    c = find(x, "2001:db8::1");
    assert_non_null(c);
    assert_int_equal(c->add[0], 0x7f000009);
    c = find(x, "2001:db8::2");
    assert_non_null(c);
    assert_true(xfr_change_event(c, NULL, true, "d", 1000, &ev));
    assert_int_equal(ev.kind, EV_IMPORT_EXCLUDE);
    /* in prefix order */
    const struct xfr_change *all = xfr_parser_changes(x, &n);
    for (size_t i = 1; i < n; i++)
        assert_true(addr_compare(&all[i - 1].prefix, &all[i].prefix) < 0);
    xfr_parser_free(x);
}

/* A name with two values (two datasets of a dnsbld primary): one event
 * per value slot; an IXFR that deletes one value removes its slot only. */
static void test_values(void **state)
{
    (void)state;
    char why[1024] = "";
    static const char *const ds[XFR_VALUES] = {"d", "d~2", "d~3", "d~4"};
    struct event ev[XFR_VALUES];
    struct xfr_parser *x = xfr_parser_new("bl.example", false, false, 0);
    const char *const m[] = {SOA(5),
                             "*.2.0.192.bl.example. 300 IN A 127.0.0.7",
                             "*.2.0.192.bl.example. 300 IN A 127.0.0.2",
                             "*.2.0.192.bl.example. 300 IN TXT \"second\"",
                             "*.2.0.192.bl.example. 300 IN TXT \"first\"",
                             "*.2.0.192.bl.example. 300 IN A 127.0.0.2", /* again: one value */
                             SOA(5),
                             NULL};
    assert_int_equal(feed(x, m, why, sizeof why), DNSBL_OK);
    const struct xfr_change *c = find(x, "192.0.2.0/24");
    assert_non_null(c);
    assert_int_equal(c->nadd, 2);
    assert_int_equal(xfr_change_events(c, NULL, true, ds, 9, ev), 2);
    assert_int_equal(ev[0].kind, EV_IMPORT_LIST);
    assert_int_equal(ev[0].code, 0x7f000002); /* ascending codes, texts in byte order */
    assert_string_equal(ev[0].txt, "first");
    assert_string_equal(ev[0].dataset, "d");
    assert_int_equal(ev[1].code, 0x7f000007);
    assert_string_equal(ev[1].txt, "second");
    assert_string_equal(ev[1].dataset, "d~2");
    xfr_parser_free(x);

    /* 5 -> 6: 127.0.0.7 and its text leave, 127.0.0.3 comes */
    x = xfr_parser_new("bl.example", true, true, 5);
    const char *const d[] = {SOA(6),
                             SOA(5),
                             "*.2.0.192.bl.example. 300 IN A 127.0.0.7",
                             "*.2.0.192.bl.example. 300 IN TXT \"second\"",
                             SOA(6),
                             "*.2.0.192.bl.example. 300 IN A 127.0.0.3",
                             SOA(6),
                             NULL};
    assert_int_equal(feed(x, d, why, sizeof why), DNSBL_OK);
    c = find(x, "192.0.2.0/24");
    struct xfr_have had[XFR_VALUES] = {{.listed = true, .code = 0x7f000002, .txt = "first"},
                                       {.listed = true, .code = 0x7f000007, .txt = "second"}};
    assert_int_equal(xfr_change_events(c, had, false, ds, 9, ev), 2);
    assert_int_equal(ev[0].code, 0x7f000002);
    assert_string_equal(ev[0].txt, "first");
    assert_int_equal(ev[1].kind, EV_IMPORT_LIST);
    assert_int_equal(ev[1].code, 0x7f000003);
    assert_null(ev[1].txt);
    assert_string_equal(ev[1].dataset, "d~2");
    xfr_parser_free(x);

    /* 6 -> 7: the second value leaves alone: its slot is removed */
    x = xfr_parser_new("bl.example", true, true, 6);
    const char *const e[] = {SOA(7), SOA(6), "*.2.0.192.bl.example. 300 IN A 127.0.0.3",
                             SOA(7), SOA(7), NULL};
    assert_int_equal(feed(x, e, why, sizeof why), DNSBL_OK);
    c = find(x, "192.0.2.0/24");
    struct xfr_have two[XFR_VALUES] = {{.listed = true, .code = 0x7f000002, .txt = "first"},
                                       {.listed = true, .code = 0x7f000003}};
    assert_int_equal(xfr_change_events(c, two, false, ds, 9, ev), 2);
    assert_int_equal(ev[0].kind, EV_IMPORT_LIST);
    assert_int_equal(ev[1].kind, EV_IMPORT_REMOVE);
    assert_string_equal(ev[1].dataset, "d~2");
    xfr_parser_free(x);

    /* more values than a name keeps */
    x = xfr_parser_new("bl.example", false, false, 0);
    const char *const many[] = {SOA(5),
                                "*.2.0.192.bl.example. 300 IN A 127.0.0.2",
                                "*.2.0.192.bl.example. 300 IN A 127.0.0.3",
                                "*.2.0.192.bl.example. 300 IN A 127.0.0.4",
                                "*.2.0.192.bl.example. 300 IN A 127.0.0.5",
                                "*.2.0.192.bl.example. 300 IN A 127.0.0.6",
                                SOA(5),
                                NULL};
    assert_int_equal(feed(x, many, why, sizeof why), DNSBL_EINVAL);
    assert_non_null(strstr(why, "record 6: '*.2.0.192.bl.example.' has more A values"));
    xfr_parser_free(x);
}

/* One bad stream: fails with a why holding every needle. */
static void bad(bool ixfr, bool have, uint32_t serial, const char *const *m1, const char *const *m2,
                const char *n1, const char *n2)
{
    char why[1024] = "";
    struct xfr_parser *x = xfr_parser_new("bl.example.", ixfr, have, serial);
    int rc = feed(x, m1, why, sizeof why);
    if (rc == DNSBL_OK && m2)
        rc = feed(x, m2, why, sizeof why);
    if (rc == DNSBL_OK)
        fail_msg("accepted, wanted an error with '%s'", n1);
    if (!strstr(why, n1) || (n2 && !strstr(why, n2)))
        fail_msg("why '%s' lacks '%s' or '%s'", why, n1, n2 ? n2 : "");
    /* after a failure, nothing more is taken */
    const char *const more[] = {SOA(1), NULL};
    assert_int_equal(feed(x, more, why, sizeof why), DNSBL_EINVAL);
    xfr_parser_free(x);
}

static void test_axfr_errors(void **state)
{
    (void)state;
    const char *const outside[] = {SOA(1), "x.other.example. 300 IN A 127.0.0.2", SOA(1), NULL};
    bad(false, false, 0, outside, NULL, "message 1: record 2", "'x.other.example.' is outside");
    const char *const suffix[] = {SOA(1), "x.abl.example. 300 IN A 127.0.0.2", SOA(1), NULL};
    bad(false, false, 0, suffix, NULL, "record 2", "outside the zone");
    const char *const www[] = {SOA(1), "1.300.bl.example. 300 IN A 127.0.0.2", SOA(1), NULL};
    bad(false, false, 0, www, NULL, "'1.300.bl.example.' does not map to an address", NULL);
    const char *const five[] = {SOA(1), "1.2.3.4.5.bl.example. 300 IN A 127.0.0.2", NULL};
    bad(false, false, 0, five, NULL, "record 2", "no whole address");
    const char *const octet[] = {SOA(1), "*.300.2.0.bl.example. 300 IN A 127.0.0.2", NULL};
    bad(false, false, 0, octet, NULL, "record 2", "does not map");
    const char *const partial_a[] = {SOA(1), "2.0.192.bl.example. 300 IN A 127.0.0.2", NULL};
    bad(false, false, 0, partial_a, NULL, "record 2", "no whole address");
    const char *const code[] = {SOA(1), "*.2.0.192.bl.example. 300 IN A 192.0.2.1", NULL};
    bad(false, false, 0, code, NULL, "record 2", "127.0.0.0/8");
    const char *const lo[] = {SOA(1), "*.0.0.127.bl.example. 300 IN A 127.0.0.2", NULL};
    bad(false, false, 0, lo, NULL, "record 2: refusing to list *.0.0.127.bl.example.", "127.0.0.1");
    const char *const first[] = {"*.2.0.192.bl.example. 300 IN A 127.0.0.2", SOA(1), NULL};
    bad(false, false, 0, first, NULL, "message 1: record 1", "does not start with the zone's SOA");
    const char *const other_soa[] = {"other.example. 300 IN SOA a. b. 1 1 1 1 1", NULL};
    bad(false, false, 0, other_soa, NULL, "record 1", "not of the zone");
    const char *const m1[] = {SOA(4), "*.2.0.192.bl.example. 300 IN A 127.0.0.2", NULL};
    const char *const last[] = {SOA(5), NULL};
    bad(false, false, 0, m1, last, "message 2: the last SOA has serial 5, the first 4", NULL);
    const char *const twice[] = {SOA(4), "*.2.0.192.bl.example. 300 IN A 127.0.0.2", SOA(4),
                                 "*.3.0.192.bl.example. 300 IN A 127.0.0.2", NULL};
    bad(false, false, 0, twice, NULL, "record 3", "after the closing SOA");
    const char *const back[] = {SOA(5), NULL};
    bad(false, true, 9, back, NULL, "serial going backwards: the primary has 5, we have 9", NULL);
}

static void test_truncated(void **state)
{
    (void)state;
    uint8_t buf[4096];
    char why[512];
    const char *const m[] = {SOA(1), "*.2.0.192.bl.example. 300 IN A 127.0.0.2", SOA(1), NULL};
    size_t n = msg_of(buf, sizeof buf, m);
    for (size_t cut = 0; cut < n; cut++) {
        struct xfr_parser *x = xfr_parser_new("bl.example", false, false, 0);
        assert_int_equal(xfr_parser_feed(x, buf, cut, why, sizeof why), DNSBL_EINVAL);
        assert_non_null(strstr(why, "message 1"));
        xfr_parser_free(x);
    }
    struct xfr_parser *x = xfr_parser_new("bl.example", false, false, 0);
    buf[2] |= 0x02; /* TC */
    assert_int_equal(xfr_parser_feed(x, buf, n, why, sizeof why), DNSBL_EINVAL);
    assert_non_null(strstr(why, "truncated"));
    xfr_parser_free(x);
    x = xfr_parser_new("bl.example", false, false, 0);
    buf[2] &= (uint8_t)~0x02;
    buf[3] = (uint8_t)((buf[3] & 0xf0) | 5); /* REFUSED */
    assert_int_equal(xfr_parser_feed(x, buf, n, why, sizeof why), DNSBL_EINVAL);
    assert_non_null(strstr(why, "REFUSED"));
    xfr_parser_free(x);
}

static void test_ixfr(void **state)
{
    (void)state;
    char why[1024] = "";
    struct xfr_parser *x = xfr_parser_new("bl.example", true, true, 1);
    /* 1 -> 2: 192.0.2.0/24 changes code; 2 -> 3: 203.0.113.9 leaves, a /16 comes */
    const char *const m1[] = {SOA(3),
                              SOA(1),
                              "*.2.0.192.bl.example. 300 IN A 127.0.0.2",
                              SOA(2),
                              "*.2.0.192.bl.example. 300 IN A 127.0.0.3",
                              NULL};
    const char *const m2[] = {SOA(2),
                              "9.113.0.203.bl.example. 300 IN A 127.0.0.5",
                              "9.113.0.203.bl.example. 300 IN TXT \"gone\"",
                              "7.2.0.192.bl.example. 300 IN HINFO \"dnsbl\" \"not listed\"",
                              SOA(3),
                              "*.51.198.bl.example. 300 IN A 127.0.0.6",
                              SOA(3),
                              NULL};
    assert_int_equal(feed(x, m1, why, sizeof why), DNSBL_OK);
    assert_int_equal(feed(x, m2, why, sizeof why), DNSBL_OK);
    assert_true(xfr_parser_done(x));
    assert_int_equal(xfr_parser_style(x), XFR_INCR);
    assert_int_equal(xfr_parser_soa(x)->serial, 3);
    struct event ev;
    /* the code changed; the TXT the store holds stays */
    const struct xfr_change *c = find(x, "192.0.2.0/24");
    assert_non_null(c);
    struct xfr_have have = {.listed = true, .code = 0x7f000002, .txt = "kept"};
    assert_true(xfr_change_event(c, &have, false, "d", 50, &ev));
    assert_int_equal(ev.kind, EV_IMPORT_LIST);
    assert_int_equal(ev.code, 0x7f000003);
    assert_string_equal(ev.txt, "kept");
    /* a listing leaves */
    c = find(x, "203.0.113.9");
    assert_non_null(c);
    struct xfr_have had = {.listed = true, .code = 0x7f000005, .txt = "gone"};
    assert_true(xfr_change_event(c, &had, false, "d", 50, &ev));
    assert_int_equal(ev.kind, EV_IMPORT_REMOVE);
    /* an exclusion leaves */
    c = find(x, "192.0.2.7");
    struct xfr_have excl = {.excluded = true};
    assert_true(xfr_change_event(c, &excl, false, "d", 50, &ev));
    assert_int_equal(ev.kind, EV_IMPORT_REMOVE);
    /* the deletion of something the store does not hold: nothing to do */
    struct xfr_have nothing = {0};
    assert_false(xfr_change_event(c, &nothing, false, "d", 50, &ev));
    c = find(x, "198.51.0.0/16");
    assert_true(xfr_change_event(c, &nothing, false, "d", 50, &ev));
    assert_int_equal(ev.kind, EV_IMPORT_LIST);
    xfr_parser_free(x);

    /* up to date: the current SOA alone */
    x = xfr_parser_new("bl.example", true, true, 3);
    const char *const cur[] = {SOA(3), NULL};
    assert_int_equal(feed(x, cur, why, sizeof why), DNSBL_OK);
    assert_true(xfr_parser_done(x));
    assert_int_equal(xfr_parser_style(x), XFR_UPTODATE);
    xfr_parser_free(x);

    /* answered AXFR-style: a whole zone */
    x = xfr_parser_new("bl.example", true, true, 1);
    const char *const full[] = {SOA(3), "*.2.0.192.bl.example. 300 IN A 127.0.0.2", SOA(3), NULL};
    assert_int_equal(feed(x, full, why, sizeof why), DNSBL_OK);
    assert_true(xfr_parser_done(x));
    assert_int_equal(xfr_parser_style(x), XFR_FULL);
    xfr_parser_free(x);

    /* differences from a serial we do not have */
    const char *const wrong[] = {SOA(3), SOA(2), SOA(3), SOA(3), NULL};
    bad(true, true, 1, wrong, NULL, "IXFR differences start at serial 2, we have 1", NULL);
    /* a difference going backwards */
    const char *const backstep[] = {SOA(3), SOA(1), SOA(1), NULL};
    bad(true, true, 1, backstep, NULL, "from serial 1 to 1 goes backwards", NULL);
    /* past the end */
    const char *const past[] = {SOA(3), SOA(1), SOA(4), NULL};
    bad(true, true, 1, past, NULL, "goes backwards", NULL);
    /* the last SOA not the first */
    const char *const lastbad[] = {SOA(3), SOA(1), SOA(3), SOA(4), NULL};
    bad(true, true, 1, lastbad, NULL, "the last SOA has serial 4, the first 3", NULL);
    /* serial arithmetic across the wrap (RFC 1982) */
    assert_true(xfr_serial_newer(1, 0xfffffff0u));
    assert_false(xfr_serial_newer(0xfffffff0u, 1));
    assert_false(xfr_serial_newer(7, 7));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_axfr_names),  cmocka_unit_test(test_values),
        cmocka_unit_test(test_axfr_errors), cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_ixfr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
