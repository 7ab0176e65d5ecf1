/* Unit tests for xfr (zone transfers out): the request parser, serial
 * arithmetic, the NOTIFY message, IXFR over UDP and the refusals a
 * stream begins with. The streams themselves, from a published store,
 * are tests/e2e/test_xfr.py's. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <ldns/ldns.h>

#include "addr.h"
#include "config.h"
#include "dns.h"
#include "err.h"
#include "log.h"
#include "policy.h"
#include "tsig.h"
#include "xfr.h"
#include "zone.h"

static const char *const SECRET = "dHJhbnNmZXItc2VjcmV0LW9mLTMyLWJ5dGVzLWxvbmc=";

/* A query for zone as ldns writes it; serial >= 0 adds the IXFR SOA. */
static size_t make_query(uint8_t *out, size_t cap, const char *zone, ldns_rr_type type, long serial,
                         bool edns)
{
    ldns_pkt *q = NULL;
    assert_int_equal(ldns_pkt_query_new_frm_str(&q, zone, type, LDNS_RR_CLASS_IN, 0),
                     LDNS_STATUS_OK);
    if (serial >= 0) {
        char text[256];
        ldns_rr *soa = NULL;
        snprintf(text, sizeof text, "%s 0 IN SOA ns.%s host.%s %ld 1 1 1 1", zone, zone, zone,
                 serial);
        assert_int_equal(ldns_rr_new_frm_str(&soa, text, 0, NULL, NULL), LDNS_STATUS_OK);
        ldns_pkt_push_rr(q, LDNS_SECTION_AUTHORITY, soa);
    }
    if (edns)
        ldns_pkt_set_edns_udp_size(q, 1232);
    ldns_pkt_set_id(q, 0x1234);
    uint8_t *wire = NULL;
    size_t len = 0;
    assert_int_equal(ldns_pkt2wire(&wire, q, &len), LDNS_STATUS_OK);
    assert_true(len <= cap);
    memcpy(out, wire, len);
    free(wire);
    ldns_pkt_free(q);
    return len;
}

static struct zone *make_zone(bool with_key)
{
    struct zone_config zc;
    memset(&zc, 0, sizeof zc);
    snprintf(zc.name, sizeof zc.name, "bl.example");
    policy_defaults(&zc.policy);
    acl_init(&zc.acl);
    acl_init(&zc.xfr.allow);
    struct addr_prefix p;
    assert_int_equal(addr_parse("127.0.0.0/8", &p, NULL, 0), DNSBL_OK);
    assert_int_equal(acl_add(&zc.xfr.allow, &p, ACL_ALLOW), DNSBL_OK);
    if (with_key) {
        char why[256];
        assert_int_equal(tsig_key_init(&zc.xfr.key, "xfr", NULL, SECRET, why, sizeof why),
                         DNSBL_OK);
        zc.xfr.has_key = true;
    }
    struct zone *z = NULL;
    char why[512];
    assert_int_equal(zone_load(&zc, &z, why, sizeof why), DNSBL_OK);
    return z;
}

static void test_parse_request(void **state)
{
    (void)state;
    uint8_t q[512];
    struct xfr_request r;
    size_t n = make_query(q, sizeof q, "bl.example.", LDNS_RR_TYPE_AXFR, -1, false);
    assert_int_equal(xfr_parse_request(q, n, &r), DNSBL_OK);
    assert_int_equal(r.id, 0x1234);
    assert_int_equal(r.qtype, DNS_TYPE_AXFR);
    assert_false(r.has_serial);
    assert_false(r.edns);
    assert_int_equal(r.qend, 12 + 12 + 4);

    n = make_query(q, sizeof q, "bl.example.", LDNS_RR_TYPE_IXFR, 4000000000L, true);
    assert_int_equal(xfr_parse_request(q, n, &r), DNSBL_OK);
    assert_int_equal(r.qtype, DNS_TYPE_IXFR);
    assert_true(r.has_serial);
    assert_int_equal(r.serial, 4000000000u);
    assert_true(r.edns);

    /* Every cut of it is malformed, never read past. */
    for (size_t cut = 0; cut < n; cut++)
        assert_int_equal(xfr_parse_request(q, cut, &r), DNSBL_EINVAL);
    /* IXFR without its SOA; AXFR with one; a response; two questions. */
    uint8_t c[512];
    memcpy(c, q, n);
    c[9] = 0;
    assert_int_equal(xfr_parse_request(c, n, &r), DNSBL_EINVAL);
    n = make_query(q, sizeof q, "bl.example.", LDNS_RR_TYPE_AXFR, 5, false);
    assert_int_equal(xfr_parse_request(q, n, &r), DNSBL_EINVAL);
    n = make_query(q, sizeof q, "bl.example.", LDNS_RR_TYPE_AXFR, -1, false);
    q[2] |= 0x80;
    assert_int_equal(xfr_parse_request(q, n, &r), DNSBL_EINVAL);
    q[2] &= 0x7f;
    q[5] = 2;
    assert_int_equal(xfr_parse_request(q, n, &r), DNSBL_EINVAL);
    /* Not a transfer at all. */
    n = make_query(q, sizeof q, "bl.example.", LDNS_RR_TYPE_SOA, -1, false);
    assert_int_equal(xfr_parse_request(q, n, &r), DNSBL_EINVAL);
}

static void test_serial_arithmetic(void **state)
{
    (void)state;
    assert_true(xfr_serial_ge(5, 5));
    assert_true(xfr_serial_ge(6, 5));
    assert_false(xfr_serial_ge(5, 6));
    /* RFC 1982: 1 comes after 0xffffffff. */
    assert_true(xfr_serial_ge(1, 0xffffffffu));
    assert_false(xfr_serial_ge(0xffffffffu, 1));
}

static void test_notify_message(void **state)
{
    (void)state;
    struct zone *z = make_zone(false);
    uint8_t out[1024];
    size_t n = xfr_build_notify(z, 77, 0xbeef, NULL, 0, out, sizeof out);
    assert_true(n > 12);
    ldns_pkt *p = NULL;
    assert_int_equal(ldns_wire2pkt(&p, out, n), LDNS_STATUS_OK);
    assert_int_equal(ldns_pkt_id(p), 0xbeef);
    assert_int_equal(ldns_pkt_get_opcode(p), LDNS_PACKET_NOTIFY);
    assert_true(ldns_pkt_aa(p));
    assert_false(ldns_pkt_qr(p));
    assert_int_equal(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_question(p), 0)), LDNS_RR_TYPE_SOA);
    ldns_rr *soa = ldns_rr_list_rr(ldns_pkt_answer(p), 0);
    assert_int_equal(ldns_rdf2native_int32(ldns_rr_rdf(soa, 2)), 77);
    ldns_pkt_free(p);
    zone_free(z);

    /* Signed: one TSIG record at the end, checked by the verifier. */
    z = make_zone(true);
    n = xfr_build_notify(z, 78, 1, &z->xfr.key, 1700000000, out, sizeof out);
    assert_true(n > 12);
    assert_int_equal(out[11], 1);
    struct tsig_session s;
    memset(&s, 0, sizeof s);
    enum tsig_error err;
    size_t len = n;
    assert_int_equal(tsig_verify_request(&s, &z->xfr.key, 1, out, &len, 1700000000, &err),
                     DNSBL_OK);
    zone_free(z);
}

static void test_ixfr_over_udp(void **state)
{
    (void)state;
    struct zone *z = make_zone(false);
    struct addr_prefix in, out_client;
    assert_int_equal(addr_parse("127.0.0.1", &in, NULL, 0), DNSBL_OK);
    assert_int_equal(addr_parse("192.0.2.1", &out_client, NULL, 0), DNSBL_OK);
    uint8_t q[512], a[1232];
    size_t n = make_query(q, sizeof q, "bl.example.", LDNS_RR_TYPE_IXFR, 42, true);

    /* Never published: SERVFAIL. */
    size_t len = xfr_answer_udp(z, &in, "127.0.0.1", q, n, 0, a, sizeof a);
    assert_int_equal(a[3] & 0x0f, LDNS_RCODE_SERVFAIL);

    zone_set_pub(z, 42);
    assert_int_equal(zone_serial(z), 42);
    len = xfr_answer_udp(z, &in, "127.0.0.1", q, n, 0, a, sizeof a);
    ldns_pkt *p = NULL;
    assert_int_equal(ldns_wire2pkt(&p, a, len), LDNS_STATUS_OK);
    assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
    assert_true(ldns_pkt_aa(p));
    assert_false(ldns_pkt_tc(p));
    assert_int_equal(ldns_pkt_ancount(p), 1);
    assert_int_equal(ldns_rdf2native_int32(ldns_rr_rdf(ldns_rr_list_rr(ldns_pkt_answer(p), 0), 2)),
                     42);
    assert_true(ldns_pkt_edns(p));
    ldns_pkt_free(p);

    /* Behind: TC and nothing else, so that it asks over TCP. */
    zone_set_pub(z, 43);
    len = xfr_answer_udp(z, &in, "127.0.0.1", q, n, 0, a, sizeof a);
    assert_int_equal(a[3] & 0x0f, LDNS_RCODE_NOERROR);
    assert_true(a[2] & 0x02);
    assert_int_equal(a[6] << 8 | a[7], 0);

    /* Outside allow_transfer; no client known; malformed. */
    xfr_answer_udp(z, &out_client, "192.0.2.1", q, n, 0, a, sizeof a);
    assert_int_equal(a[3] & 0x0f, LDNS_RCODE_REFUSED);
    xfr_answer_udp(z, NULL, "?", q, n, 0, a, sizeof a);
    assert_int_equal(a[3] & 0x0f, LDNS_RCODE_REFUSED);
    len = xfr_answer_udp(z, &in, "127.0.0.1", q, n - 3, 0, a, sizeof a);
    assert_int_equal(a[3] & 0x0f, LDNS_RCODE_FORMERR);
    assert_int_equal(a[0] << 8 | a[1], 0x1234);
    zone_free(z);

    /* A zone with a transfer key: unsigned is refused. */
    z = make_zone(true);
    zone_set_pub(z, 42);
    xfr_answer_udp(z, &in, "127.0.0.1", q, n, 0, a, sizeof a);
    assert_int_equal(a[3] & 0x0f, LDNS_RCODE_REFUSED);
    zone_free(z);
}

/* A refused stream is one message; the store is never touched. */
static void test_refusal_is_one_message(void **state)
{
    (void)state;
    struct zone *z = make_zone(false);
    struct addr_prefix outside;
    assert_int_equal(addr_parse("10.0.0.1", &outside, NULL, 0), DNSBL_OK);
    uint8_t q[512];
    static uint8_t m[XFR_MSG_CAP];
    size_t n = make_query(q, sizeof q, "bl.example.", LDNS_RR_TYPE_AXFR, -1, true);
    struct xfr *x = xfr_begin(NULL, z, &outside, "10.0.0.1#53", q, n, 0, false);
    assert_non_null(x);
    assert_false(xfr_counts(x));
    assert_int_equal(xfr_rcode(x), LDNS_RCODE_REFUSED);
    size_t len = 0;
    assert_int_equal(xfr_next(x, m, &len), 1);
    assert_int_equal(m[3] & 0x0f, LDNS_RCODE_REFUSED);
    assert_int_equal(m[0] << 8 | m[1], 0x1234);
    assert_int_equal(m[11], 1); /* the OPT echoed */
    assert_int_equal(xfr_next(x, m, &len), 0);
    xfr_free(x);

    /* Busy: refused too, even for an allowed client. */
    struct addr_prefix in;
    assert_int_equal(addr_parse("127.0.0.1", &in, NULL, 0), DNSBL_OK);
    x = xfr_begin(NULL, z, &in, "127.0.0.1#53", q, n, 0, true);
    assert_int_equal(xfr_rcode(x), LDNS_RCODE_REFUSED);
    xfr_free(x);

    /* Garbage: FORMERR with the ID it had. */
    q[5] = 0;
    x = xfr_begin(NULL, z, &in, "127.0.0.1#53", q, n, 0, false);
    assert_int_equal(xfr_next(x, m, &len), 1);
    assert_int_equal(m[3] & 0x0f, LDNS_RCODE_FORMERR);
    xfr_free(x);
    zone_free(z);
}

int main(void)
{
    log_init("test_xfr_out", LOG_LEVEL_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_request),          cmocka_unit_test(test_serial_arithmetic),
        cmocka_unit_test(test_notify_message),         cmocka_unit_test(test_ixfr_over_udp),
        cmocka_unit_test(test_refusal_is_one_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
