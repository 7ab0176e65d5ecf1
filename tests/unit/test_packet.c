/* Unit tests for packet_answer and zone loading: queries are built and
 * answers parsed with ldns, so the hand-written wire code is checked
 * against an independent implementation. The store part runs over a real
 * temporary LMDB store filled through store_apply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <ldns/ldns.h>
#include <lmdb.h>

#include "acl.h"
#include "addr.h"
#include "err.h"
#include "packet.h"
#include "store.h"
#include "zone.h"
#include "store_fixture.h"
#include "test_paths.h"

struct fixture {
    struct zoneset *zones;
    struct store *store;
    struct store_reader *reader;
    struct entry covering[STORE_COVERING_MAX];
    struct history_day history[STORE_HISTORY_MAX];
    char dir[64];
    char zonefile[128];
    uint8_t out[PACKET_TCP_MAX];
};

static const char *ZONE_TEXT = "$ORIGIN bl.example.\n"
                               "$TTL 3600\n"
                               "@ 3600 IN SOA ns1 hostmaster 2026112701 7200 1800 604800 600\n"
                               "@ 86400 IN NS ns1\n"
                               "@ 86400 IN NS ns2.bl.example.\n"
                               "@ IN TXT \"bl.example test zone\"\n"
                               "ns1 IN A 192.0.2.53\n"
                               "ns1 IN AAAA 2001:db8::53\n"
                               "ns2 IN A 198.51.100.53\n"
                               "www IN TXT \"see https://bl.example/\"\n"
                               "deep.sub IN TXT \"below an empty non-terminal\"\n";

static void fixture_add(struct fixture *f, const char *prefix, uint8_t kind, uint32_t code,
                        const char *reason)
{
    struct event ev = {0};
    char why[256];
    assert_int_equal(addr_parse(prefix, &ev.prefix, why, sizeof(why)), DNSBL_OK);
    ev.kind = kind;
    ev.weight = 1;
    ev.time = 1700000000;
    ev.code = code;
    ev.reason = reason;
    assert_int_equal(store_apply(f->store, &ev, NULL, 1, NULL, why, sizeof(why)), DNSBL_OK);
}

/* Imported list data and evidence, as the feeds would store them. */
static void fixture_import(struct fixture *f)
{
    static const struct snds_row red = {
        .colour = SNDS_RED, .recipients = 1000, .start = 1699990000};
    struct event ev[8];
    char why[256];
    memset(ev, 0, sizeof(ev));
    const char *prefixes[8] = {"203.0.113.128/25", "203.0.113.200",  "203.0.113.201",
                               "2001:db8:99::5",   "2001:db8:99::6", "2001:db8:99::7",
                               "2001:db8:99::7",   "2001:db8:99::5"};
    for (int i = 0; i < 8; i++) {
        assert_int_equal(addr_parse(prefixes[i], &ev[i].prefix, why, sizeof(why)), DNSBL_OK);
        ev[i].time = 1700000000;
        ev[i].weight = 1;
        ev[i].source = "test";
    }
    ev[0].kind = EV_IMPORT_LIST;
    ev[0].code = 0x7f000005;
    ev[0].ttl = 1800;
    ev[0].txt = "Imported: $ listed, $$5 fee? no";
    ev[1].kind = EV_IMPORT_LIST; /* rbldnsd ":6:" -- an A and no TXT */
    ev[1].code = 0x7f000006;
    ev[2].kind = EV_IMPORT_EXCLUDE;
    ev[3].kind = EV_ABUSE;
    ev[3].weight = 20;
    ev[4].kind = EV_TRAP_HIT;
    ev[4].weight = 2;
    ev[5].kind = EV_SNDS;
    ev[5].snds = &red;
    ev[6].kind = EV_TRAP_HIT;
    ev[7].kind = EV_VOLUME; /* 20 complaints in 1000 messages: the rate counts them fully */
    ev[7].weight = 1000;
    assert_int_equal(store_apply(f->store, ev, NULL, 8, NULL, why, sizeof(why)), DNSBL_OK);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char why[512];
    assert_non_null(test_mkdtemp(f->dir, sizeof(f->dir), "dnsbl-packet"));
    snprintf(f->zonefile, sizeof(f->zonefile), "%s/bl.example.zone", f->dir);
    FILE *fp = fopen(f->zonefile, "w");
    assert_non_null(fp);
    fputs(ZONE_TEXT, fp);
    fclose(fp);

    struct zone_config zc[4];
    memset(zc, 0, sizeof(zc));
    snprintf(zc[0].name, sizeof(zc[0].name), "bl.example");
    snprintf(zc[0].file, sizeof(zc[0].file), "%s", f->zonefile);
    policy_defaults(&zc[0].policy);
    snprintf(zc[1].name, sizeof(zc[1].name), "other.example.");
    policy_defaults(&zc[1].policy);
    zc[1].policy.ttl = 60;
    snprintf(zc[2].name, sizeof(zc[2].name), "score.example");
    policy_defaults(&zc[2].policy);
    zc[2].policy.kind = ZONE_SCORE;
    snprintf(zc[3].name, sizeof(zc[3].name), "wl.example");
    policy_defaults(&zc[3].policy);
    zc[3].policy.kind = ZONE_ALLOWLIST;
    assert_int_equal(zoneset_build(zc, 4, &f->zones, why, sizeof(why)), DNSBL_OK);

    char storedir[160];
    snprintf(storedir, sizeof(storedir), "%s/store", f->dir);
    assert_int_equal(store_open(storedir, STORE_CREATE, &f->store, why, sizeof(why)), DNSBL_OK);
    fixture_add(f, "192.0.2.0/24", EV_LIST, 0, "spam run");
    fixture_add(f, "203.0.113.7", EV_LIST, 0x7f000003, "trap hits");
    fixture_add(f, "198.51.100.0/24", EV_LIST, 0, "range");
    fixture_add(f, "198.51.100.9", EV_ALLOW, 0, "our partner");
    fixture_add(f, "2001:db8:1::/48", EV_LIST, 0, "v6 range");
    fixture_import(f);
    assert_int_equal(store_reader_open(f->store, &f->reader), DNSBL_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_fixture_release(f->reader, f->store, f->zones, f->dir);
    free(f);
    return 0;
}

/* The client the next answers are for (zone ACLs); NULL = unknown. */
static const struct addr_prefix *test_client;

/* The outcome alone (zone transfers over TCP: PACKET_XFR, nothing written). */
static enum packet_outcome outcome_raw(struct fixture *f, enum packet_transport t,
                                       const uint8_t *in, size_t len)
{
    struct packet_ctx ctx = {.zones = f->zones, .reader = f->reader, .now = 1700000100};
    size_t outlen = 1;
    assert_int_equal(store_reader_begin(f->reader), DNSBL_OK);
    enum packet_outcome o = packet_answer(&ctx, t, in, len, f->out, sizeof(f->out), &outlen);
    store_reader_end(f->reader);
    if (o == PACKET_XFR) {
        assert_int_equal(outlen, 0);
        assert_ptr_equal(ctx.xfr_zone, f->zones->zones[0]);
    }
    return o;
}

/* Run raw bytes through packet_answer; returns the answer length or 0 when dropped. */
static size_t answer_raw(struct fixture *f, enum packet_transport t, const uint8_t *in, size_t len)
{
    struct packet_ctx ctx = {
        .zones = f->zones,
        .reader = f->reader,
        .covering = f->covering,
        .covering_cap = STORE_COVERING_MAX,
        .history = f->history,
        .history_cap = STORE_HISTORY_MAX,
        .now = 1700000100,
        .client = test_client,
    };
    size_t outlen = 0;
    assert_int_equal(store_reader_begin(f->reader), DNSBL_OK);
    enum packet_outcome o = packet_answer(&ctx, t, in, len, f->out, sizeof(f->out), &outlen);
    store_reader_end(f->reader);
    if (o == PACKET_DROP)
        return 0;
    assert_true(outlen >= 12);
    return outlen;
}

static ldns_pkt *ask(struct fixture *f, const char *name, ldns_rr_type type,
                     enum packet_transport t, int edns_size)
{
    ldns_pkt *q = NULL;
    assert_int_equal(ldns_pkt_query_new_frm_str(&q, name, type, LDNS_RR_CLASS_IN, 0),
                     LDNS_STATUS_OK);
    ldns_pkt_set_id(q, 4242);
    if (edns_size) {
        ldns_pkt_set_edns_udp_size(q, (uint16_t)edns_size);
        ldns_pkt_set_edns_do(q, false);
    }
    uint8_t *wire = NULL;
    size_t len = 0;
    assert_int_equal(ldns_pkt2wire(&wire, q, &len), LDNS_STATUS_OK);
    ldns_pkt_free(q);
    size_t outlen = answer_raw(f, t, wire, len);
    free(wire);
    assert_true(outlen > 0);
    ldns_pkt *a = NULL;
    ldns_status st = ldns_wire2pkt(&a, f->out, outlen);
    if (st != LDNS_STATUS_OK)
        print_error("answer to %s/%d: %s\n", name, (int)type, ldns_get_errorstr_by_id(st));
    assert_int_equal(st, LDNS_STATUS_OK);
    assert_int_equal(ldns_pkt_id(a), 4242);
    assert_true(ldns_pkt_qr(a));
    assert_false(ldns_pkt_ra(a));
    return a;
}

static void assert_a(const ldns_pkt *a, const char *want)
{
    ldns_rr_list *an = ldns_pkt_answer(a);
    bool found = false;
    for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
        ldns_rr *rr = ldns_rr_list_rr(an, i);
        if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_A)
            continue;
        char *s = ldns_rdf2str(ldns_rr_rdf(rr, 0));
        found = found || strcmp(s, want) == 0;
        free(s);
    }
    if (!found) {
        char *text = ldns_pkt2str(a);
        print_error("no A %s in:\n%s\n", want, text);
        free(text);
    }
    assert_true(found);
}

static char *txt_of(const ldns_pkt *a)
{
    ldns_rr_list *an = ldns_pkt_answer(a);
    static char buf[2048];
    buf[0] = '\0';
    for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
        ldns_rr *rr = ldns_rr_list_rr(an, i);
        if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_TXT)
            continue;
        for (size_t k = 0; k < ldns_rr_rd_count(rr); k++) {
            const ldns_rdf *rd = ldns_rr_rdf(rr, k);
            size_t n = ldns_rdf_data(rd)[0];
            strncat(buf, (const char *)ldns_rdf_data(rd) + 1, n);
        }
    }
    return buf;
}

/* The SOA in authority, with the negative-caching TTL of RFC 2308. */
static void assert_soa_authority(const ldns_pkt *a, uint32_t ttl)
{
    ldns_rr_list *ns = ldns_pkt_authority(a);
    assert_int_equal(ldns_rr_list_rr_count(ns), 1);
    ldns_rr *soa = ldns_rr_list_rr(ns, 0);
    assert_int_equal(ldns_rr_get_type(soa), LDNS_RR_TYPE_SOA);
    assert_int_equal(ldns_rr_ttl(soa), ttl);
}

static void test_listed_a_txt_any(void **state)
{
    struct fixture *f = *state;
    ldns_pkt *a = ask(f, "7.2.0.192.bl.example.", LDNS_RR_TYPE_A, PACKET_UDP, 0);
    assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
    assert_true(ldns_pkt_aa(a));
    assert_int_equal(ldns_pkt_ancount(a), 1);
    assert_a(a, "127.0.0.2");
    assert_int_equal(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(a), 0)), 2100);
    ldns_pkt_free(a);

    a = ask(f, "7.2.0.192.bl.example.", LDNS_RR_TYPE_TXT, PACKET_UDP, 0);
    assert_string_equal(txt_of(a), "192.0.2.7 is listed in bl.example: spam run");
    ldns_pkt_free(a);

    a = ask(f, "7.2.0.192.bl.example.", LDNS_RR_TYPE_ANY, PACKET_TCP, 0);
    assert_int_equal(ldns_pkt_ancount(a), 2);
    assert_a(a, "127.0.0.2");
    assert_string_equal(txt_of(a), "192.0.2.7 is listed in bl.example: spam run");
    ldns_pkt_free(a);

    a = ask(f, "7.113.0.203.bl.example.", LDNS_RR_TYPE_A, PACKET_UDP, 0);
    assert_a(a, "127.0.0.3");
    ldns_pkt_free(a);
}

static void test_listed_other_type_nodata(void **state)
{
    struct fixture *f = *state;
    ldns_pkt *a = ask(f, "7.2.0.192.bl.example.", LDNS_RR_TYPE_AAAA, PACKET_UDP, 0);
    assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
    assert_int_equal(ldns_pkt_ancount(a), 0);
    assert_soa_authority(a, 600);
    ldns_pkt_free(a);
}

static void test_unlisted_and_invalid_nxdomain(void **state)
{
    struct fixture *f = *state;
    const char *names[] = {"7.3.0.192.bl.example.", "300.2.0.192.bl.example.",
                           "x.2.0.192.bl.example.", "1.7.2.0.192.bl.example.",
                           "foo.bl.example.",       "9.100.51.198.bl.example."};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        ldns_pkt *a = ask(f, names[i], LDNS_RR_TYPE_A, PACKET_UDP, 0);
        assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NXDOMAIN);
        assert_true(ldns_pkt_aa(a));
        assert_soa_authority(a, 600);
        ldns_pkt_free(a);
    }
}

static void test_partial_names_are_empty_nonterminals(void **state)
{
    struct fixture *f = *state;
    const char *names[] = {
        "2.0.192.bl.example.", "0.192.bl.example.",
        "192.bl.example.",     "8.b.d.0.1.0.0.2.bl.example.",
        "sub.bl.example.",     "1.0.0.2.bl.example." /* IPv4 2.0.0.1 and 2001::/16 */};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        ldns_pkt *a = ask(f, names[i], LDNS_RR_TYPE_A, PACKET_UDP, 0);
        assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
        assert_int_equal(ldns_pkt_ancount(a), 0);
        assert_soa_authority(a, 600);
        ldns_pkt_free(a);
    }
}

static void test_ipv6_and_mapped(void **state)
{
    struct fixture *f = *state;
    char name[256];
    struct addr_prefix p;
    assert_int_equal(addr_parse("2001:db8:1:2::99", &p, NULL, 0), DNSBL_OK);
    assert_true(addr_to_qname(&p, "bl.example.", name, sizeof(name)) > 0);
    ldns_pkt *a = ask(f, name, LDNS_RR_TYPE_TXT, PACKET_UDP, 0);
    assert_string_equal(txt_of(a), "2001:db8:1:2::99 is listed in bl.example: v6 range");
    ldns_pkt_free(a);
    /* ::ffff:192.0.2.99 as 32 nibbles finds the IPv4 listing. */
    a = ask(f, "3.6.2.0.0.0.0.c.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.bl.example.",
            LDNS_RR_TYPE_A, PACKET_UDP, 0);
    assert_a(a, "127.0.0.2");
    ldns_pkt_free(a);
}

static void test_testpoints_in_every_zone(void **state)
{
    struct fixture *f = *state;
    const char *zones[] = {"bl.example.", "other.example."};
    for (size_t i = 0; i < 2; i++) {
        char name[256];
        snprintf(name, sizeof(name), "2.0.0.127.%s", zones[i]);
        ldns_pkt *a = ask(f, name, LDNS_RR_TYPE_A, PACKET_UDP, 0);
        assert_a(a, "127.0.0.2");
        ldns_pkt_free(a);
        a = ask(f, name, LDNS_RR_TYPE_TXT, PACKET_UDP, 0);
        assert_true(strlen(txt_of(a)) > 0);
        ldns_pkt_free(a);
        snprintf(name, sizeof(name), "1.0.0.127.%s", zones[i]);
        a = ask(f, name, LDNS_RR_TYPE_A, PACKET_UDP, 0);
        assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NXDOMAIN);
        ldns_pkt_free(a);
        snprintf(name, sizeof(name),
                 "2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.%s", zones[i]);
        a = ask(f, name, LDNS_RR_TYPE_A, PACKET_UDP, 0);
        assert_a(a, "127.0.0.2");
        ldns_pkt_free(a);
        name[0] = '1';
        a = ask(f, name, LDNS_RR_TYPE_A, PACKET_UDP, 0);
        assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NXDOMAIN);
        ldns_pkt_free(a);
    }
}

static void test_apex_and_file_names(void **state)
{
    struct fixture *f = *state;
    ldns_pkt *a = ask(f, "bl.example.", LDNS_RR_TYPE_SOA, PACKET_UDP, 0);
    assert_int_equal(ldns_pkt_ancount(a), 1);
    assert_int_equal(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(a), 0)), 3600);
    ldns_pkt_free(a);

    a = ask(f, "BL.example.", LDNS_RR_TYPE_NS, PACKET_UDP, 0);
    assert_int_equal(ldns_pkt_ancount(a), 2);
    assert_int_equal(ldns_pkt_arcount(a), 3); /* ns1 A + AAAA, ns2 A */
    assert_true(ldns_pkt_aa(a));
    ldns_pkt_free(a);

    a = ask(f, "www.bl.example.", LDNS_RR_TYPE_TXT, PACKET_UDP, 0);
    assert_string_equal(txt_of(a), "see https://bl.example/");
    ldns_pkt_free(a);

    a = ask(f, "www.bl.example.", LDNS_RR_TYPE_A, PACKET_UDP, 0);
    assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
    assert_int_equal(ldns_pkt_ancount(a), 0);
    assert_soa_authority(a, 600);
    ldns_pkt_free(a);

    a = ask(f, "bl.example.", LDNS_RR_TYPE_ANY, PACKET_TCP, 0);
    assert_int_equal(ldns_pkt_ancount(a), 4); /* SOA, 2 NS, TXT */
    ldns_pkt_free(a);

    /* A synthesised zone still has its SOA and NS. */
    a = ask(f, "other.example.", LDNS_RR_TYPE_NS, PACKET_UDP, 0);
    assert_int_equal(ldns_pkt_ancount(a), 1);
    ldns_pkt_free(a);
}

static void test_refused_outside_zones(void **state)
{
    struct fixture *f = *state;
    const char *names[] = {"example.com.", "bl.example.com.", "example."};
    for (size_t i = 0; i < 3; i++) {
        ldns_pkt *a = ask(f, names[i], LDNS_RR_TYPE_A, PACKET_UDP, 0);
        assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_REFUSED);
        assert_false(ldns_pkt_aa(a));
        ldns_pkt_free(a);
    }
}

#define OPT_LEN 11 /* an OPT record without options */

/* A hand-made query: header fields and a question for 2.0.0.127.bl.example. */
static size_t raw_query(uint8_t *buf, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ar)
{
    static const uint8_t q[] = {1, '2', 1,   '0', 1,   '0', 3,   '1', '2', '7', 2, 'b', 'L',
                                7, 'e', 'x', 'A', 'm', 'p', 'l', 'e', 0,   0,   1, 0,   1};
    uint8_t hdr[12] = {0x12,
                       0x34,
                       (uint8_t)(flags >> 8),
                       (uint8_t)flags,
                       0,
                       (uint8_t)qd,
                       0,
                       (uint8_t)an,
                       0,
                       0,
                       0,
                       (uint8_t)ar};
    memcpy(buf, hdr, 12);
    memcpy(buf + 12, q, sizeof(q));
    return 12 + sizeof(q);
}

static void test_header_errors(void **state)
{
    struct fixture *f = *state;
    uint8_t in[512];
    size_t len = raw_query(in, 0x0100, 1, 0, 0);

    /* Question echoed byte for byte, with the case as sent. */
    size_t n = answer_raw(f, PACKET_UDP, in, len);
    assert_int_equal(n, len + 16);
    assert_memory_equal(f->out + 12, in + 12, len - 12);
    assert_int_equal(f->out[3] & 0x0f, 0);
    assert_true(f->out[2] & 0x01); /* RD copied */

    assert_int_equal(answer_raw(f, PACKET_UDP, in, 11), 0); /* short: dropped */
    len = raw_query(in, 0x8000, 1, 0, 0);
    assert_int_equal(answer_raw(f, PACKET_UDP, in, len), 0); /* QR set: dropped */

    len = raw_query(in, 4 << 11, 1, 0, 0); /* NOTIFY */
    n = answer_raw(f, PACKET_UDP, in, len);
    assert_int_equal(f->out[3] & 0x0f, LDNS_RCODE_NOTIMPL);
    assert_int_equal((f->out[2] >> 3) & 0x0f, 4);

    len = raw_query(in, 0, 2, 0, 0);
    n = answer_raw(f, PACKET_UDP, in, len);
    assert_int_equal(f->out[3] & 0x0f, LDNS_RCODE_FORMERR);
    assert_int_equal(n, 12);

    len = raw_query(in, 0, 0, 0, 0);
    answer_raw(f, PACKET_UDP, in, len);
    assert_int_equal(f->out[3] & 0x0f, LDNS_RCODE_FORMERR);

    len = raw_query(in, 0, 1, 0, 0);
    answer_raw(f, PACKET_UDP, in, len - 3); /* question cut short */
    assert_int_equal(f->out[3] & 0x0f, LDNS_RCODE_FORMERR);

    len = raw_query(in, 0, 1, 0, 0);
    in[12] = 0xc0; /* a compression pointer in the question */
    answer_raw(f, PACKET_UDP, in, len);
    assert_int_equal(f->out[3] & 0x0f, LDNS_RCODE_FORMERR);
}

static void test_edns(void **state)
{
    struct fixture *f = *state;
    ldns_pkt *a = ask(f, "2.0.0.127.bl.example.", LDNS_RR_TYPE_A, PACKET_UDP, 4096);
    assert_true(ldns_pkt_edns(a));
    assert_int_equal(ldns_pkt_edns_udp_size(a), PACKET_EDNS_SIZE);
    ldns_pkt_free(a);
    a = ask(f, "2.0.0.127.bl.example.", LDNS_RR_TYPE_A, PACKET_UDP, 0);
    assert_false(ldns_pkt_edns(a));
    ldns_pkt_free(a);

    /* Version 1: BADVERS = extended rcode 1, header rcode 0, OPT present. */
    uint8_t in[512];
    size_t len = raw_query(in, 0, 1, 0, 1);
    static const uint8_t opt[] = {0, 0, 41, 0x10, 0, 0, 1, 0, 0, 0, 6, 0, 99, 0, 2, 0xab, 0xcd};
    memcpy(in + len, opt, sizeof(opt));
    size_t n = answer_raw(f, PACKET_UDP, in, len + sizeof(opt));
    assert_int_equal(f->out[3] & 0x0f, 0);
    assert_int_equal(f->out[11], 1);
    assert_int_equal(f->out[n - 11 + 5], 1); /* extended rcode byte of the OPT TTL */

    /* Version 0 with an unknown option: answered normally. */
    in[len + 6] = 0;
    n = answer_raw(f, PACKET_UDP, in, len + sizeof(opt));
    assert_int_equal(f->out[3] & 0x0f, 0);
    assert_int_equal(f->out[7], 1);
    assert_int_equal(f->out[n - 11 + 5], 0);

    /* Two OPT records: FORMERR. */
    in[11] = 2;
    memcpy(in + len + sizeof(opt), opt, sizeof(opt));
    answer_raw(f, PACKET_UDP, in, len + 2 * sizeof(opt));
    assert_int_equal(f->out[3] & 0x0f, LDNS_RCODE_FORMERR);
}

static void test_truncation(void **state)
{
    struct fixture *f = *state;
    /* A zone whose apex TXT is too big for 512 bytes. */
    char path[128], why[256];
    snprintf(path, sizeof(path), "%s/big.zone", f->dir);
    FILE *fp = fopen(path, "w");
    fputs("$ORIGIN big.example.\n@ 3600 IN SOA ns hm 1 2 3 4 5\n@ IN NS ns\n@ IN TXT", fp);
    for (int i = 0; i < 6; i++)
        fputs(" \"0123456789012345678901234567890123456789012345678901234567890123456789"
              "01234567890123456789\"",
              fp);
    fputs("\n", fp);
    fclose(fp);
    struct zone_config zc = {0};
    snprintf(zc.name, sizeof(zc.name), "big.example");
    snprintf(zc.file, sizeof(zc.file), "%s", path);
    policy_defaults(&zc.policy);
    struct zoneset *keep = f->zones, *big = NULL;
    assert_int_equal(zoneset_build(&zc, 1, &big, why, sizeof(why)), DNSBL_OK);
    f->zones = big;
    ldns_pkt *a = ask(f, "big.example.", LDNS_RR_TYPE_TXT, PACKET_UDP, 0);
    assert_true(ldns_pkt_tc(a));
    assert_int_equal(ldns_pkt_ancount(a), 0);
    ldns_pkt_free(a);
    a = ask(f, "big.example.", LDNS_RR_TYPE_TXT, PACKET_UDP, 1232);
    assert_false(ldns_pkt_tc(a));
    assert_int_equal(ldns_pkt_ancount(a), 1);
    ldns_pkt_free(a);
    a = ask(f, "big.example.", LDNS_RR_TYPE_TXT, PACKET_TCP, 0);
    assert_false(ldns_pkt_tc(a));
    assert_int_equal(ldns_pkt_ancount(a), 1);
    ldns_pkt_free(a);
    f->zones = keep;
    zoneset_free(big);
}

static void test_zone_errors(void **state)
{
    struct fixture *f = *state;
    char path[128], why[512];
    struct zone_config zc = {0};
    struct zoneset *zs = NULL;
    snprintf(zc.name, sizeof(zc.name), "bl.example");
    policy_defaults(&zc.policy);

    snprintf(zc.file, sizeof(zc.file), "%s/missing.zone", f->dir);
    assert_int_not_equal(zoneset_build(&zc, 1, &zs, why, sizeof(why)), DNSBL_OK);
    assert_non_null(strstr(why, "missing.zone"));

    snprintf(path, sizeof(path), "%s/bad.zone", f->dir);
    FILE *fp = fopen(path, "w");
    fputs("$ORIGIN bl.example.\n@ 3600 IN SOA ns hm 1 2 3 4 5\n@ IN NS ns\nx IN A 300.1.1.1\n", fp);
    fclose(fp);
    snprintf(zc.file, sizeof(zc.file), "%s", path);
    assert_int_not_equal(zoneset_build(&zc, 1, &zs, why, sizeof(why)), DNSBL_OK);
    assert_non_null(strstr(why, "bad.zone:4"));

    fp = fopen(path, "w");
    fputs("$ORIGIN bl.example.\n@ 3600 IN SOA ns hm 1 2 3 4 5\nwww.other.test. IN A 192.0.2.1\n",
          fp);
    fclose(fp);
    assert_int_not_equal(zoneset_build(&zc, 1, &zs, why, sizeof(why)), DNSBL_OK);
    assert_non_null(strstr(why, "outside zone"));
}

static ldns_pkt *ask6(struct fixture *f, const char *ip, const char *zone, ldns_rr_type type)
{
    char name[256];
    struct addr_prefix p;
    assert_int_equal(addr_parse(ip, &p, NULL, 0), DNSBL_OK);
    assert_true(addr_to_qname(&p, zone, name, sizeof(name)) > 0);
    return ask(f, name, type, PACKET_UDP, 1232);
}

static size_t count_type(const ldns_pkt *a, ldns_rr_type t)
{
    size_t n = 0;
    for (size_t i = 0; i < ldns_rr_list_rr_count(ldns_pkt_answer(a)); i++)
        n += ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_answer(a), i)) == t;
    return n;
}

static void test_imported_lists(void **state)
{
    struct fixture *f = *state;
    ldns_pkt *a = ask(f, "130.113.0.203.bl.example.", LDNS_RR_TYPE_ANY, PACKET_UDP, 0);
    assert_a(a, "127.0.0.5");
    assert_int_equal(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(a), 0)), 1800);
    assert_string_equal(txt_of(a), "Imported: 203.0.113.130 listed, $5 fee? no");
    ldns_pkt_free(a);

    a = ask(f, "200.113.0.203.bl.example.", LDNS_RR_TYPE_A, PACKET_UDP, 0);
    assert_a(a, "127.0.0.6");
    ldns_pkt_free(a);
    a = ask(f, "200.113.0.203.bl.example.", LDNS_RR_TYPE_TXT, PACKET_UDP, 0);
    assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR); /* no TXT: NODATA */
    assert_int_equal(ldns_pkt_ancount(a), 0);
    assert_soa_authority(a, 600);
    ldns_pkt_free(a);

    a = ask(f, "201.113.0.203.bl.example.", LDNS_RR_TYPE_A, PACKET_UDP, 0);
    assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NXDOMAIN); /* the exclusion */
    ldns_pkt_free(a);
    a = ask(f, "7.113.0.203.bl.example.", LDNS_RR_TYPE_A, PACKET_UDP, 0);
    assert_a(a, "127.0.0.3"); /* the manual listing outside the /25 is untouched */
    ldns_pkt_free(a);
}

/* An rbldnsd combined section's listing, as feed_rbldnsd emits it. */
static void fixture_subzone_list(struct fixture *f, const char *prefix, const char *dataset,
                                 bool subzone, uint32_t code, const char *txt)
{
    struct event ev = {.kind = EV_IMPORT_LIST,
                       .time = 1700000000,
                       .code = code,
                       .txt = txt,
                       .reason = "rbldnsd ip4set",
                       .source = "rbldnsd",
                       .dataset = dataset,
                       .subzone = subzone};
    char why[256];
    assert_int_equal(addr_parse(prefix, &ev.prefix, why, sizeof(why)), DNSBL_OK);
    assert_int_equal(store_apply(f->store, &ev, NULL, 1, NULL, why, sizeof(why)), DNSBL_OK);
}

static void assert_nxdomain(struct fixture *f, const char *name)
{
    ldns_pkt *a = ask(f, name, LDNS_RR_TYPE_A, PACKET_UDP, 0);
    if (ldns_pkt_get_rcode(a) != LDNS_RCODE_NXDOMAIN)
        print_error("%s: rcode %d, want NXDOMAIN\n", name, (int)ldns_pkt_get_rcode(a));
    assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NXDOMAIN);
    assert_int_equal(ldns_pkt_ancount(a), 0);
    ldns_pkt_free(a);
}

/* doc/formats.md 4.6: a subzone answers its own datasets (two sections
 * bound to it: both values), the zone never answers a subzone's. */
static void test_subzones(void **state)
{
    struct fixture *f = *state;
    fixture_subzone_list(f, "203.0.113.22", "proxies.bl.example", true, 0x7f000002, "Proxy $");
    fixture_subzone_list(f, "203.0.113.22", "proxies.bl.example~2", true, 0x7f000009, NULL);
    fixture_subzone_list(f, "203.0.113.22", "bl.example", false, 0x7f000005, NULL);
    fixture_subzone_list(f, "2001:db8:77::/48", "proxies.bl.example", true, 0x7f00000a, "v6 $");
    fixture_subzone_list(f, "203.0.113.22", "proxies.score.example", true, 0x7f000002, NULL);

    ldns_pkt *a = ask(f, "22.113.0.203.proxies.bl.example.", LDNS_RR_TYPE_A, PACKET_UDP, 0);
    assert_int_equal(count_type(a, LDNS_RR_TYPE_A), 2);
    assert_a(a, "127.0.0.2");
    assert_a(a, "127.0.0.9");
    ldns_pkt_free(a);
    a = ask(f, "22.113.0.203.PROXIES.bl.example.", LDNS_RR_TYPE_TXT, PACKET_UDP, 0);
    assert_int_equal(count_type(a, LDNS_RR_TYPE_TXT), 1);
    assert_string_equal(txt_of(a), "Proxy 203.0.113.22");
    ldns_pkt_free(a);
    a = ask(f, "22.113.0.203.bl.example.", LDNS_RR_TYPE_A, PACKET_UDP, 0);
    assert_int_equal(count_type(a, LDNS_RR_TYPE_A), 1);
    assert_a(a, "127.0.0.5");
    ldns_pkt_free(a);
    a = ask6(f, "2001:db8:77::25", "proxies.bl.example.", LDNS_RR_TYPE_ANY);
    assert_a(a, "127.0.0.10");
    assert_string_equal(txt_of(a), "v6 2001:db8:77::25");
    ldns_pkt_free(a);
    a = ask6(f, "2001:db8:77::25", "bl.example.", LDNS_RR_TYPE_A);
    assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NXDOMAIN);
    ldns_pkt_free(a);

    assert_nxdomain(f, "22.113.0.203.relays.bl.example.");     /* no such subzone */
    assert_nxdomain(f, "22.113.0.203.x.proxies.bl.example.");  /* another name */
    assert_nxdomain(f, "23.113.0.203.proxies.bl.example.");    /* not listed there */
    assert_nxdomain(f, "2.0.0.127.proxies.bl.example.");      /* no test points */
    assert_nxdomain(f, "proxies.bl.example.");                /* doc/formats.md 4.6 */
    assert_nxdomain(f, "2.0.192.proxies.bl.example.");        /* as rbldnsd */
    assert_nxdomain(f, "22.113.0.203.proxies.score.example."); /* blocklists only */
    a = ask(f, "2.0.0.127.bl.example.", LDNS_RR_TYPE_A, PACKET_UDP, 0);
    assert_a(a, "127.0.0.2"); /* the zone's own test point is untouched */
    ldns_pkt_free(a);
}

/* Text name (relative, no trailing dot) to uncompressed wire labels. */
static size_t wire_of(const char *text, uint8_t *out)
{
    size_t n = 0;
    while (*text) {
        const char *dot = strchr(text, '.');
        size_t l = dot ? (size_t)(dot - text) : strlen(text);
        out[n++] = (uint8_t)l;
        memcpy(out + n, text, l);
        n += l;
        text += l + (dot ? 1 : 0);
    }
    return n;
}

static void test_parse_subzone(void **state)
{
    (void)state;
    uint8_t w[300];
    struct addr_prefix p;
    uint32_t ids[MODEL_SUBZONE_SETS];
    char ip[ADDR_TEXT_MAX];

    size_t n = wire_of("4.3.2.1.Sub", w);
    assert_true(packet_parse_subzone(w, n, "bl.example", &p, ids));
    addr_format(&p, ip, sizeof(ip));
    assert_string_equal(ip, "1.2.3.4");
    assert_int_equal(ids[0], model_dataset_id("sub.bl.example"));
    assert_int_equal(ids[1], model_dataset_id("sub.bl.example~2"));
    assert_int_equal(ids[MODEL_SUBZONE_SETS - 1], model_dataset_id("sub.bl.example~4"));

    n = wire_of("4.3.2.1.a.b", w);
    assert_true(packet_parse_subzone(w, n, "bl.example", &p, ids));
    assert_int_equal(ids[0], model_dataset_id("a.b.bl.example"));

    /* 32 nibbles first: this is an IPv6 address in subzone "x" */
    n = wire_of("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.x", w);
    assert_true(packet_parse_subzone(w, n, "bl.example", &p, ids));
    addr_format(&p, ip, sizeof(ip));
    assert_string_equal(ip, "2001:db8::1");
    assert_int_equal(ids[0], model_dataset_id("x.bl.example"));

    /* (a name of exactly 4 octets or 32 nibbles is the zone's own address
     * and never comes here) */
    const char *no[] = {"4.3.2.1", "sub", "3.2.1.sub", "4.3.2.x.sub", "256.3.2.1.sub"};
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        n = wire_of(no[i], w);
        if (packet_parse_subzone(w, n, "bl.example", &p, ids))
            fail_msg("%s parsed as a subzone query", no[i]);
    }
}

static void test_scores_and_several_codes(void **state)
{
    struct fixture *f = *state;
    ldns_pkt *a = ask6(f, "2001:db8:99::5", "bl.example.", LDNS_RR_TYPE_A);
    assert_a(a, "127.0.0.2"); /* 20 complaints in 1000 messages */
    ldns_pkt_free(a);
    a = ask6(f, "2001:db8:99::6", "bl.example.", LDNS_RR_TYPE_TXT);
    assert_non_null(strstr(txt_of(a), "2001:db8:99::6 is listed in bl.example"));
    ldns_pkt_free(a);
    a = ask6(f, "2001:db8:99::6", "bl.example.", LDNS_RR_TYPE_A);
    assert_a(a, "127.0.0.3"); /* trap hits */
    ldns_pkt_free(a);
    /* SNDS RED and a trap hit: both reasons, two A records and two TXT. */
    a = ask6(f, "2001:db8:99::7", "bl.example.", LDNS_RR_TYPE_ANY);
    assert_int_equal(count_type(a, LDNS_RR_TYPE_A), 2);
    assert_int_equal(count_type(a, LDNS_RR_TYPE_TXT), 2);
    assert_a(a, "127.0.0.4");
    assert_a(a, "127.0.0.3");
    ldns_pkt_free(a);
}

static void test_score_and_allowlist_zones(void **state)
{
    struct fixture *f = *state;
    ldns_pkt *a = ask6(f, "2001:db8:99::5", "score.example.", LDNS_RR_TYPE_A);
    assert_a(a, "127.0.4.34"); /* round(100 * 10 / (10 + 19.2)): 20 complaints, decayed 10 h */
    ldns_pkt_free(a);
    a = ask(f, "7.2.0.192.score.example.", LDNS_RR_TYPE_A, PACKET_UDP, 0);
    assert_a(a, "127.0.4.0"); /* listed by an operator */
    ldns_pkt_free(a);
    a = ask(f, "9.100.51.198.score.example.", LDNS_RR_TYPE_A, PACKET_UDP, 0);
    assert_a(a, "127.0.4.100"); /* allowed */
    ldns_pkt_free(a);
    a = ask(f, "99.113.0.203.score.example.", LDNS_RR_TYPE_A, PACKET_UDP, 0);
    assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NXDOMAIN); /* no data */
    ldns_pkt_free(a);

    a = ask(f, "9.100.51.198.wl.example.", LDNS_RR_TYPE_A, PACKET_UDP, 0);
    assert_a(a, "127.0.0.2");
    ldns_pkt_free(a);
    a = ask(f, "7.2.0.192.wl.example.", LDNS_RR_TYPE_A, PACKET_UDP, 0);
    assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NXDOMAIN);
    ldns_pkt_free(a);
    const char *zones[] = {"score.example.", "wl.example."};
    for (int i = 0; i < 2; i++) {
        char name[128];
        snprintf(name, sizeof(name), "2.0.0.127.%s", zones[i]);
        a = ask(f, name, LDNS_RR_TYPE_A, PACKET_UDP, 0);
        assert_a(a, "127.0.0.2");
        ldns_pkt_free(a);
    }
}

/* --- zone ACLs, ANY over UDP, the answer for rate-limited clients --- */

static void acl_rule(struct acl *a, const char *prefix, enum acl_action action)
{
    struct addr_prefix p;
    assert_int_equal(addr_parse(prefix, &p, NULL, 0), DNSBL_OK);
    assert_int_equal(acl_add(a, &p, action), DNSBL_OK);
}

/* bl.example (zone file) with an ACL, other.example without one, and
 * err.example refusing nothing but answering its own error code to all. */
static struct zoneset *acl_zones(struct fixture *f)
{
    struct zone_config zc[3];
    struct zoneset *zs = NULL;
    char why[256];
    memset(zc, 0, sizeof(zc));
    snprintf(zc[0].name, sizeof(zc[0].name), "bl.example");
    snprintf(zc[0].file, sizeof(zc[0].file), "%s", f->zonefile);
    snprintf(zc[1].name, sizeof(zc[1].name), "other.example");
    snprintf(zc[2].name, sizeof(zc[2].name), "err.example");
    for (int i = 0; i < 3; i++) {
        policy_defaults(&zc[i].policy);
        acl_init(&zc[i].acl);
    }
    acl_rule(&zc[0].acl, "198.51.100.0/24", ACL_REFUSE);
    acl_rule(&zc[0].acl, "203.0.113.0/24", ACL_ERROR);
    acl_rule(&zc[0].acl, "203.0.113.7", ACL_ALLOW);
    acl_rule(&zc[0].acl, "2001:db8::/32", ACL_ERROR);
    acl_rule(&zc[2].acl, "0.0.0.0/0", ACL_ERROR);
    zc[2].acl.error_code = 0x7fffffff;
    zc[2].acl.error_ttl = 30;
    snprintf(zc[2].acl.error_txt, sizeof(zc[2].acl.error_txt), "too many queries");
    assert_int_equal(zoneset_build(zc, 3, &zs, why, sizeof(why)), DNSBL_OK);
    return zs;
}

static ldns_pkt *ask_from(struct fixture *f, const char *client, const char *name,
                          ldns_rr_type type, enum packet_transport t)
{
    struct addr_prefix c;
    if (client)
        assert_int_equal(addr_parse(client, &c, NULL, 0), DNSBL_OK);
    test_client = client ? &c : NULL;
    ldns_pkt *a = ask(f, name, type, t, 0);
    test_client = NULL;
    return a;
}

static void assert_refused(ldns_pkt *a)
{
    assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_REFUSED);
    assert_false(ldns_pkt_aa(a));
    assert_int_equal(ldns_pkt_ancount(a), 0);
    assert_int_equal(ldns_pkt_nscount(a), 0);
    ldns_pkt_free(a);
}

static void test_acl_allow_refuse(void **state)
{
    struct fixture *f = *state;
    struct zoneset *keep = f->zones;
    f->zones = acl_zones(f);
    const char *allowed[] = {NULL, "192.0.2.1", "203.0.113.7", "2001:db9::1"};
    for (size_t i = 0; i < 4; i++) {
        ldns_pkt *a = ask_from(f, allowed[i], "7.2.0.192.bl.example.", LDNS_RR_TYPE_A, PACKET_UDP);
        assert_a(a, "127.0.0.2");
        ldns_pkt_free(a);
    }
    for (int t = PACKET_UDP; t <= PACKET_TCP; t++) {
        assert_refused(ask_from(f, "198.51.100.5", "7.2.0.192.bl.example.", LDNS_RR_TYPE_A,
                                (enum packet_transport)t));
        assert_refused(
            ask_from(f, "198.51.100.5", "bl.example.", LDNS_RR_TYPE_SOA, (enum packet_transport)t));
        assert_refused(ask_from(f, "::ffff:198.51.100.5", "2.0.0.127.bl.example.", LDNS_RR_TYPE_A,
                                (enum packet_transport)t));
    }
    /* The ACL is the zone's: another zone answers the same client. */
    ldns_pkt *a =
        ask_from(f, "198.51.100.5", "7.2.0.192.other.example.", LDNS_RR_TYPE_A, PACKET_UDP);
    assert_a(a, "127.0.0.2");
    ldns_pkt_free(a);
    zoneset_free(f->zones);
    f->zones = keep;
}

static void assert_error_answer(ldns_pkt *a, const char *code, uint32_t ttl, const char *txt)
{
    assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
    assert_true(ldns_pkt_aa(a));
    if (code) {
        assert_a(a, code);
        assert_int_equal(count_type(a, LDNS_RR_TYPE_A), 1);
    } else {
        assert_int_equal(count_type(a, LDNS_RR_TYPE_A), 0);
    }
    assert_string_equal(txt_of(a), txt ? txt : "");
    for (size_t i = 0; i < ldns_rr_list_rr_count(ldns_pkt_answer(a)); i++)
        assert_int_equal(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(a), i)), ttl);
    ldns_pkt_free(a);
}

static void test_acl_error_answers(void **state)
{
    struct fixture *f = *state;
    struct zoneset *keep = f->zones;
    f->zones = acl_zones(f);
    const char *txt = ACL_DEFAULT_ERROR_TXT;
    /* Listed, unlisted and the test points alike: never a listing code. */
    const char *names[] = {"7.2.0.192.bl.example.", "7.3.0.192.bl.example.",
                           "2.0.0.127.bl.example.", "1.0.0.127.bl.example."};
    for (size_t i = 0; i < 4; i++) {
        for (int t = PACKET_UDP; t <= PACKET_TCP; t++) {
            enum packet_transport tr = (enum packet_transport)t;
            assert_error_answer(ask_from(f, "203.0.113.5", names[i], LDNS_RR_TYPE_A, tr),
                                "127.255.255.254", 60, NULL);
            assert_error_answer(ask_from(f, "203.0.113.5", names[i], LDNS_RR_TYPE_TXT, tr), NULL,
                                60, txt);
            assert_error_answer(ask_from(f, "2001:db8:5::1", names[i], LDNS_RR_TYPE_ANY, tr),
                                "127.255.255.254", 60, txt);
        }
    }
    /* Other types: NODATA. The apex and partial names answer as usual. */
    ldns_pkt *a =
        ask_from(f, "203.0.113.5", "7.2.0.192.bl.example.", LDNS_RR_TYPE_AAAA, PACKET_UDP);
    assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
    assert_int_equal(ldns_pkt_ancount(a), 0);
    assert_soa_authority(a, 600);
    ldns_pkt_free(a);
    a = ask_from(f, "203.0.113.5", "bl.example.", LDNS_RR_TYPE_SOA, PACKET_UDP);
    assert_int_equal(ldns_pkt_ancount(a), 1);
    ldns_pkt_free(a);
    a = ask_from(f, "203.0.113.5", "2.0.192.bl.example.", LDNS_RR_TYPE_A, PACKET_UDP);
    assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
    assert_int_equal(ldns_pkt_ancount(a), 0);
    ldns_pkt_free(a);
    /* A zone's own error code, TTL and text. */
    assert_error_answer(
        ask_from(f, "192.0.2.1", "7.2.0.192.err.example.", LDNS_RR_TYPE_ANY, PACKET_UDP),
        "127.255.255.255", 30, "too many queries");
    zoneset_free(f->zones);
    f->zones = keep;
}

static void test_any_minimal_over_udp(void **state)
{
    struct fixture *f = *state;
    ldns_pkt *a = ask(f, "bl.example.", LDNS_RR_TYPE_ANY, PACKET_UDP, 1232);
    assert_int_equal(ldns_pkt_ancount(a), 1);
    assert_int_equal(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_answer(a), 0)), LDNS_RR_TYPE_SOA);
    assert_int_equal(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(a), 0)), 3600);
    assert_int_equal(ldns_pkt_arcount(a), 0); /* no glue (ldns keeps the OPT apart) */
    assert_true(ldns_pkt_edns(a));
    assert_false(ldns_pkt_tc(a));
    ldns_pkt_free(a);
    a = ask(f, "bl.example.", LDNS_RR_TYPE_ANY, PACKET_TCP, 0);
    assert_int_equal(ldns_pkt_ancount(a), 4);
    ldns_pkt_free(a);
    a = ask(f, "other.example.", LDNS_RR_TYPE_ANY, PACKET_UDP, 0);
    assert_int_equal(ldns_pkt_ancount(a), 1);
    assert_int_equal(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_answer(a), 0)), LDNS_RR_TYPE_SOA);
    ldns_pkt_free(a);
    /* ns1 has A and AAAA: one of them. */
    a = ask(f, "ns1.bl.example.", LDNS_RR_TYPE_ANY, PACKET_UDP, 0);
    assert_int_equal(ldns_pkt_ancount(a), 1);
    ldns_pkt_free(a);
    /* A listed address still gets its A and TXT: small, and what clients ask. */
    a = ask(f, "7.2.0.192.bl.example.", LDNS_RR_TYPE_ANY, PACKET_UDP, 0);
    assert_int_equal(ldns_pkt_ancount(a), 2);
    assert_a(a, "127.0.0.2");
    ldns_pkt_free(a);
}

static void test_slip_answer(void **state)
{
    struct fixture *f = *state;
    struct packet_info info;
    struct packet_ctx ctx = {.zones = f->zones, .reader = NULL, .info = &info};
    ldns_pkt *q = NULL;
    uint8_t *wire = NULL;
    size_t len = 0, outlen = 0;
    for (int edns = 0; edns < 2; edns++) {
        assert_int_equal(ldns_pkt_query_new_frm_str(&q, "7.2.0.192.bl.example.", LDNS_RR_TYPE_A,
                                                    LDNS_RR_CLASS_IN, LDNS_RD),
                         LDNS_STATUS_OK);
        ldns_pkt_set_id(q, 777);
        if (edns)
            ldns_pkt_set_edns_udp_size(q, 1232);
        assert_int_equal(ldns_pkt2wire(&wire, q, &len), LDNS_STATUS_OK);
        ldns_pkt_free(q);
        assert_int_equal(packet_answer_slip(&ctx, wire, len, f->out, PACKET_EDNS_SIZE, &outlen),
                         PACKET_ANSWER);
        ldns_pkt *a = NULL;
        assert_int_equal(ldns_wire2pkt(&a, f->out, outlen), LDNS_STATUS_OK);
        assert_int_equal(ldns_pkt_id(a), 777);
        assert_true(ldns_pkt_qr(a));
        assert_true(ldns_pkt_tc(a));
        assert_true(ldns_pkt_rd(a));
        assert_false(ldns_pkt_aa(a));
        assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
        assert_int_equal(ldns_pkt_qdcount(a), 1);
        assert_int_equal(ldns_pkt_ancount(a), 0);
        assert_int_equal(ldns_pkt_nscount(a), 0);
        assert_int_equal(ldns_pkt_edns(a), edns);
        assert_true(info.truncated);
        assert_false(info.listed);
        assert_string_equal(info.qname, "7.2.0.192.bl.example.");
        ldns_pkt_free(a);
        /* Never an answer to an answer, nor to a runt. */
        wire[2] |= 0x80;
        assert_int_equal(packet_answer_slip(&ctx, wire, len, f->out, PACKET_EDNS_SIZE, &outlen),
                         PACKET_DROP);
        assert_int_equal(packet_answer_slip(&ctx, wire, 11, f->out, PACKET_EDNS_SIZE, &outlen),
                         PACKET_DROP);
        free(wire);
    }
}

/* RFC 1035 4.1.1, RFC 8906 3.1.4: an opcode other than QUERY is NOTIMP
 * whatever the sections hold, with none of the flags that mean something
 * only for QUERY, the question and an OPT echoed when they parse. */
static void test_unknown_opcode_notimp(void **state)
{
    struct fixture *f = *state;
    /* A header-only opcode 15 query with every flag set: genreport's
     * "opcodeflg" test. */
    uint8_t hdr[12] = {0x12, 0x34, 0x7f, 0x70, 0, 0, 0, 0, 0, 0, 0, 0};
    size_t n = answer_raw(f, PACKET_UDP, hdr, sizeof(hdr));
    assert_int_equal(n, 12);
    assert_int_equal(f->out[0], 0x12);
    assert_int_equal(f->out[2], 0x80 | (15 << 3)); /* QR and the opcode only */
    assert_int_equal(f->out[3], LDNS_RCODE_NOTIMPL);
    for (int i = 4; i < 12; i++)
        assert_int_equal(f->out[i], 0);

    /* With a question: NOTIMP too, the question echoed, RD and CD not. */
    uint8_t in[512];
    size_t len = raw_query(in, (uint16_t)(15 << 11 | 0x0110), 1, 0, 0);
    n = answer_raw(f, PACKET_TCP, in, len);
    assert_int_equal(n, len);
    assert_int_equal(f->out[2], 0x80 | (15 << 3));
    assert_int_equal(f->out[3], LDNS_RCODE_NOTIMPL);
    assert_memory_equal(f->out + 4, "\0\1\0\0\0\0\0\0", 8);
    assert_memory_equal(f->out + 12, in + 12, len - 12);

    /* UPDATE with a zone and an update section (in authority): NOTIMP,
     * not FORMERR, and the OPT is echoed. */
    len = raw_query(in, 5 << 11, 1, 0, 1);
    static const uint8_t update[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1};
    static const uint8_t opt[] = {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0};
    memcpy(in + len, update, sizeof(update));
    memcpy(in + len + sizeof(update), opt, sizeof(opt));
    in[9] = 1; /* nscount */
    n = answer_raw(f, PACKET_UDP, in, len + sizeof(update) + sizeof(opt));
    assert_int_equal(f->out[3] & 0x0f, LDNS_RCODE_NOTIMPL);
    assert_int_equal((f->out[2] >> 3) & 0x0f, 5);
    assert_int_equal(n, len + OPT_LEN);
    assert_int_equal(f->out[11], 1);
    assert_int_equal(f->out[len + 2], 41);
}

/* FORMERR answers echo the question when it parsed and an OPT when the
 * query had one valid OPT (RFC 6891 7). */
static void test_formerr_echoes(void **state)
{
    struct fixture *f = *state;
    uint8_t in[512];
    static const uint8_t opt[] = {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t rr[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1};

    /* A record in the answer section of a query. */
    size_t len = raw_query(in, 0x0100, 1, 1, 1);
    memcpy(in + len, rr, sizeof(rr));
    memcpy(in + len + sizeof(rr), opt, sizeof(opt));
    size_t n = answer_raw(f, PACKET_UDP, in, len + sizeof(rr) + sizeof(opt));
    assert_int_equal(f->out[3] & 0x0f, LDNS_RCODE_FORMERR);
    assert_int_equal(n, len + OPT_LEN);
    assert_memory_equal(f->out + 4, "\0\1\0\0\0\0\0\1", 8);
    assert_memory_equal(f->out + 12, in + 12, len - 12);
    ldns_pkt *a = NULL;
    assert_int_equal(ldns_wire2pkt(&a, f->out, n), LDNS_STATUS_OK);
    assert_true(ldns_pkt_edns(a));
    assert_int_equal(ldns_pkt_edns_udp_size(a), PACKET_EDNS_SIZE);
    assert_false(ldns_pkt_aa(a));
    ldns_pkt_free(a);

    /* The same without the OPT: the question alone. */
    in[11] = 0;
    n = answer_raw(f, PACKET_UDP, in, len + sizeof(rr));
    assert_int_equal(f->out[3] & 0x0f, LDNS_RCODE_FORMERR);
    assert_int_equal(n, len);

    /* No question but an OPT: FORMERR with the OPT. */
    uint8_t hdr_opt[12 + sizeof(opt)] = {0x55, 0x66, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    memcpy(hdr_opt + 12, opt, sizeof(opt));
    n = answer_raw(f, PACKET_UDP, hdr_opt, sizeof(hdr_opt));
    assert_int_equal(f->out[3] & 0x0f, LDNS_RCODE_FORMERR);
    assert_int_equal(n, 12 + OPT_LEN);
    assert_int_equal(f->out[5], 0);
    assert_int_equal(f->out[11], 1);

    /* Two OPT records: FORMERR with the question, but no OPT to echo. */
    len = raw_query(in, 0, 1, 0, 2);
    memcpy(in + len, opt, sizeof(opt));
    memcpy(in + len + sizeof(opt), opt, sizeof(opt));
    n = answer_raw(f, PACKET_UDP, in, len + 2 * sizeof(opt));
    assert_int_equal(f->out[3] & 0x0f, LDNS_RCODE_FORMERR);
    assert_int_equal(n, len);
    assert_int_equal(f->out[11], 0);

    /* An OPT, then a record cut short: the OPT was valid, it is echoed. */
    memcpy(in + len + sizeof(opt), rr, 5);
    n = answer_raw(f, PACKET_UDP, in, len + sizeof(opt) + 5);
    assert_int_equal(f->out[3] & 0x0f, LDNS_RCODE_FORMERR);
    assert_int_equal(n, len + OPT_LEN);
}

/* A query signed with ldns, as a client with a key would send it. */
static size_t signed_query(uint8_t *buf, size_t cap, const char *key, const char *name,
                           ldns_rr_type type, bool edns)
{
    ldns_pkt *q = NULL;
    uint8_t *wire = NULL;
    size_t len = 0;
    assert_int_equal(ldns_pkt_query_new_frm_str(&q, name, type, LDNS_RR_CLASS_IN, 0),
                     LDNS_STATUS_OK);
    ldns_pkt_set_id(q, 4321);
    if (edns)
        ldns_pkt_set_edns_udp_size(q, 1232);
    assert_int_equal(ldns_pkt_tsig_sign(q, key, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 300,
                                        "hmac-sha256.", NULL),
                     LDNS_STATUS_OK);
    assert_int_equal(ldns_pkt2wire(&wire, q, &len), LDNS_STATUS_OK);
    assert_true(len <= cap);
    memcpy(buf, wire, len);
    free(wire);
    ldns_pkt_free(q);
    return len;
}

/* Where the TSIG record of a signed query starts: its owner begins with
 * the label "tsig-key". */
static size_t tsig_start(const uint8_t *in, size_t len)
{
    for (size_t i = 12; i + 9 <= len; i++)
        if (memcmp(in + i, "\x08tsig-key", 9) == 0)
            return i;
    fail_msg("no TSIG owner in the query");
    return 0;
}

/* RFC 8945 5.2, 5.3.2: with no keys configured, a signed query is NOTAUTH
 * with an unsigned TSIG whose error is BADKEY, echoing the key name,
 * algorithm, time signed, fudge and original ID; TSIG comes last. */
static void test_tsig_badkey(void **state)
{
    struct fixture *f = *state;
    uint8_t in[1024];
    for (int edns = 0; edns < 2; edns++) {
        size_t len = signed_query(in, sizeof(in), "tsig-key.", "7.2.0.192.bl.example.",
                                  LDNS_RR_TYPE_A, edns);
        size_t n = answer_raw(f, PACKET_UDP, in, len);
        ldns_pkt *a = NULL;
        assert_int_equal(ldns_wire2pkt(&a, f->out, n), LDNS_STATUS_OK);
        assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOTAUTH);
        assert_int_equal(ldns_pkt_id(a), 4321);
        assert_false(ldns_pkt_aa(a));
        assert_int_equal(ldns_pkt_qdcount(a), 1);
        assert_int_equal(ldns_pkt_ancount(a), 0);
        assert_int_equal(ldns_pkt_nscount(a), 0);
        assert_int_equal(ldns_pkt_edns(a), edns);
        assert_non_null(ldns_pkt_tsig(a));
        ldns_pkt_free(a);
        /* TSIG is the last record, so the last bytes of the answer; the
         * owner is 10 bytes, the rdata starts 10 bytes after it. */
        size_t qt = tsig_start(in, len), tsig_len = len - qt;
        assert_int_equal(tsig_len, 10 + 10 + 13 + 8 + 2 + 32 + 6);
        size_t at = n - (tsig_len - 32); /* the answer's MAC is empty */
        const uint8_t *t = f->out + at, *q = in + qt;
        assert_memory_equal(t, q, 10 + 8);             /* owner, type, class ANY, TTL 0 */
        assert_int_equal(t[18] << 8 | t[19], 13 + 16); /* rdlength */
        assert_memory_equal(t + 20, "\x0bhmac-sha256", 13);
        assert_memory_equal(t + 33, q + 33, 8);      /* time signed, fudge */
        assert_int_equal(t[41] << 8 | t[42], 0);     /* MAC size */
        assert_memory_equal(t + 43, q + 43 + 32, 2); /* original ID */
        assert_int_equal(t[45] << 8 | t[46], 17);    /* BADKEY */
        assert_int_equal(t[47] << 8 | t[48], 0);     /* other length */
        assert_int_equal(n, at + 49);
    }

    /* AXFR signed: BADKEY before REFUSED over UDP; over TCP the transfer
     * module checks it (xfr.h). */
    size_t len = signed_query(in, sizeof(in), "tsig-key.", "bl.example.", LDNS_RR_TYPE_AXFR, false);
    answer_raw(f, PACKET_UDP, in, len);
    assert_int_equal(f->out[3] & 0x0f, LDNS_RCODE_NOTAUTH);
    assert_int_equal(outcome_raw(f, PACKET_TCP, in, len), PACKET_XFR);

    /* ldns compresses a key name below the question's name: the answer
     * has it written out. */
    len = signed_query(in, sizeof(in), "tsig-key.bl.example.", "bl.example.", LDNS_RR_TYPE_SOA,
                       false);
    size_t qt = tsig_start(in, len);
    assert_memory_equal(in + qt + 9, "\xc0\x0c", 2);
    size_t n = answer_raw(f, PACKET_UDP, in, len);
    assert_int_equal(f->out[3] & 0x0f, LDNS_RCODE_NOTAUTH);
    assert_memory_equal(f->out + n - 49 - 11,
                        "\x08tsig-key\x02"
                        "bl\x07"
                        "example",
                        21);

    /* TSIG not the last record: FORMERR (RFC 8945 5.1). */
    static const uint8_t opt[] = {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0};
    uint8_t c[1024];
    memcpy(c, in, len);
    memcpy(c + len, opt, sizeof(opt));
    c[11] = 2;
    answer_raw(f, PACKET_UDP, c, len + sizeof(opt));
    assert_int_equal(f->out[3] & 0x0f, LDNS_RCODE_FORMERR);

    /* A TSIG whose rdata does not add up: FORMERR. */
    memcpy(c, in, len);
    c[len - 1] = 1; /* other length 1, with no other data */
    answer_raw(f, PACKET_UDP, c, len);
    assert_int_equal(f->out[3] & 0x0f, LDNS_RCODE_FORMERR);
}

/* A BADKEY answer that does not fit plain UDP (long key and algorithm
 * names) goes out without the TSIG and with TC, so the client retries
 * over TCP, where it fits. */
static void test_tsig_badkey_truncated(void **state)
{
    struct fixture *f = *state;
    uint8_t in[1024];
    size_t len = raw_query(in, 0, 1, 0, 1);
    size_t question_end = len;
    uint8_t name[250]; /* four labels of 49 bytes, one of 48, the root */
    memset(name, 'k', sizeof(name));
    for (size_t i = 0; i < 200; i += 50)
        name[i] = 49;
    name[200] = 48;
    name[249] = 0;
    memcpy(in + len, name, sizeof(name)); /* key name */
    len += sizeof(name);
    static const uint8_t fixed[] = {0, 250, 0, 255, 0, 0, 0, 0};
    memcpy(in + len, fixed, sizeof(fixed));
    len += sizeof(fixed);
    uint16_t rdlen = (uint16_t)(sizeof(name) + 16);
    in[len++] = (uint8_t)(rdlen >> 8);
    in[len++] = (uint8_t)rdlen;
    memcpy(in + len, name, sizeof(name)); /* algorithm */
    len += sizeof(name);
    static const uint8_t rest[] = {0, 0, 0x6a, 0, 0, 0, 1, 0x2c, 0, 0, 0x12, 0x34, 0, 0, 0, 0};
    memcpy(in + len, rest, sizeof(rest));
    len += sizeof(rest);

    size_t n = answer_raw(f, PACKET_UDP, in, len);
    assert_int_equal(f->out[3] & 0x0f, LDNS_RCODE_NOTAUTH);
    assert_true(f->out[2] & 0x02); /* TC */
    assert_int_equal(f->out[11], 0);
    assert_int_equal(n, question_end);

    n = answer_raw(f, PACKET_TCP, in, len);
    assert_int_equal(f->out[3] & 0x0f, LDNS_RCODE_NOTAUTH);
    assert_false(f->out[2] & 0x02);
    assert_int_equal(f->out[11], 1);
    assert_int_equal(n, question_end + sizeof(name) * 2 + 10 + 16);
    assert_memory_equal(f->out + question_end, name, sizeof(name));
}

/* RFC 5936, RFC 1995: a zone without allow_transfer has no transfers
 * over UDP, so AXFR and IXFR are REFUSED (not an empty NOERROR); over TCP
 * the transfer module answers them (PACKET_XFR; tests/e2e/test_xfr.py);
 * an IXFR query carries the client's SOA in authority and is not a
 * format error. */
static void test_transfers_refused(void **state)
{
    struct fixture *f = *state;
    const ldns_rr_type types[] = {LDNS_RR_TYPE_AXFR, LDNS_RR_TYPE_IXFR};
    for (size_t i = 0; i < 2; i++) {
        for (int tcp = 0; tcp < 1; tcp++) {
            ldns_pkt *a = ask(f, "bl.example.", types[i], PACKET_UDP, 0);
            assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_REFUSED);
            assert_false(ldns_pkt_aa(a));
            assert_int_equal(ldns_pkt_qdcount(a), 1);
            assert_int_equal(ldns_pkt_ancount(a) + ldns_pkt_nscount(a), 0);
            ldns_pkt_free(a);
        }
    }

    ldns_pkt *q = NULL;
    ldns_rr *soa = NULL;
    uint8_t *wire = NULL;
    size_t len = 0;
    assert_int_equal(
        ldns_pkt_query_new_frm_str(&q, "bl.example.", LDNS_RR_TYPE_IXFR, LDNS_RR_CLASS_IN, 0),
        LDNS_STATUS_OK);
    assert_int_equal(
        ldns_rr_new_frm_str(&soa, "bl.example. 0 IN SOA ns1.bl.example. host.bl.example. 5 1 1 1 1",
                            0, NULL, NULL),
        LDNS_STATUS_OK);
    ldns_pkt_push_rr(q, LDNS_SECTION_AUTHORITY, soa);
    ldns_pkt_set_edns_udp_size(q, 1232);
    assert_int_equal(ldns_pkt2wire(&wire, q, &len), LDNS_STATUS_OK);
    ldns_pkt_free(q);
    assert_int_equal(outcome_raw(f, PACKET_TCP, wire, len), PACKET_XFR);
    for (int tcp = 0; tcp < 1; tcp++) {
        size_t n = answer_raw(f, PACKET_UDP, wire, len);
        ldns_pkt *a = NULL;
        assert_int_equal(ldns_wire2pkt(&a, f->out, n), LDNS_STATUS_OK);
        assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_REFUSED);
        assert_int_equal(ldns_pkt_qdcount(a), 1);
        assert_int_equal(ldns_pkt_nscount(a), 0);
        assert_true(ldns_pkt_edns(a));
        ldns_pkt_free(a);
    }
    free(wire);
    /* The same SOA in the authority section of an A query: FORMERR. */
    wire = NULL;
    assert_int_equal(
        ldns_pkt_query_new_frm_str(&q, "bl.example.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 0),
        LDNS_STATUS_OK);
    assert_int_equal(
        ldns_rr_new_frm_str(&soa, "bl.example. 0 IN SOA ns1.bl.example. host.bl.example. 5 1 1 1 1",
                            0, NULL, NULL),
        LDNS_STATUS_OK);
    ldns_pkt_push_rr(q, LDNS_SECTION_AUTHORITY, soa);
    assert_int_equal(ldns_pkt2wire(&wire, q, &len), LDNS_STATUS_OK);
    ldns_pkt_free(q);
    answer_raw(f, PACKET_UDP, wire, len);
    assert_int_equal(f->out[3] & 0x0f, LDNS_RCODE_FORMERR);
    free(wire);
}

/* Overwrite every value of one named database of a closed store with a
 * byte no decoder accepts, as a broken writer or a bad disk would. */
static void corrupt_values(const char *dir, const char *db)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *cur;
    MDB_val k, v, bad = {1, "x"};
    size_t n = 0;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0640), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
    assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), n++)
        assert_int_equal(mdb_cursor_put(cur, &k, &bad, MDB_CURRENT), 0);
    mdb_cursor_close(cur);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    assert_true(n > 0);
}

/* One query against store dir; returns the rcode, *aa the AA bit. */
static int ask_store(struct fixture *f, const char *dir, const char *name, uint64_t *failures,
                     bool *aa)
{
    struct store *s;
    struct store_reader *r;
    char why[512];
    assert_int_equal(store_open(dir, STORE_RDONLY, &s, why, sizeof(why)), DNSBL_OK);
    assert_int_equal(store_reader_open(s, &r), DNSBL_OK);
    struct packet_ctx ctx = {
        .zones = f->zones,
        .reader = r,
        .covering = f->covering,
        .covering_cap = STORE_COVERING_MAX,
        .history = f->history,
        .history_cap = STORE_HISTORY_MAX,
        .now = 1700000100,
        .store_failures = *failures,
    };
    ldns_pkt *q = NULL, *a = NULL;
    uint8_t *wire = NULL;
    size_t len = 0, outlen = 0;
    assert_int_equal(ldns_pkt_query_new_frm_str(&q, name, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 0),
                     LDNS_STATUS_OK);
    assert_int_equal(ldns_pkt2wire(&wire, q, &len), LDNS_STATUS_OK);
    assert_int_equal(store_reader_begin(r), DNSBL_OK);
    assert_int_equal(packet_answer(&ctx, PACKET_UDP, wire, len, f->out, PACKET_EDNS_SIZE, &outlen),
                     PACKET_ANSWER);
    store_reader_end(r);
    assert_int_equal(ldns_wire2pkt(&a, f->out, outlen), LDNS_STATUS_OK);
    int rcode = ldns_pkt_get_rcode(a);
    *aa = ldns_pkt_aa(a);
    if (rcode == LDNS_RCODE_SERVFAIL)
        assert_int_equal(ldns_pkt_ancount(a) + ldns_pkt_nscount(a), 0);
    *failures = ctx.store_failures;
    ldns_pkt_free(a);
    ldns_pkt_free(q);
    free(wire);
    store_reader_close(r);
    store_close(s);
    return rcode;
}

/* A store that cannot be read is SERVFAIL and counted, never "not listed":
 * first a corrupt history (an address with evidence), then corrupt entries. */
static void test_store_failure_servfail(void **state)
{
    struct fixture *f = *state;
    char dir[160], why[512];
    struct store *s;
    uint64_t failures = 0;
    bool aa;
    snprintf(dir, sizeof(dir), "%s/corrupt", f->dir);
    assert_int_equal(store_open(dir, STORE_CREATE, &s, why, sizeof(why)), DNSBL_OK);
    struct event ev[2] = {{.kind = EV_LIST, .time = 1700000000},
                          {.kind = EV_ABUSE, .weight = 1, .time = 1700000000}};
    assert_int_equal(addr_parse("192.0.2.0/24", &ev[0].prefix, why, sizeof(why)), DNSBL_OK);
    assert_int_equal(addr_parse("203.0.113.7", &ev[1].prefix, why, sizeof(why)), DNSBL_OK);
    assert_int_equal(store_apply(s, ev, NULL, 2, NULL, why, sizeof(why)), DNSBL_OK);
    store_close(s);
    assert_int_equal(ask_store(f, dir, "7.113.0.203.bl.example.", &failures, &aa),
                     LDNS_RCODE_NXDOMAIN);
    assert_int_equal(failures, 0);

    corrupt_values(dir, "history");
    assert_int_equal(ask_store(f, dir, "7.113.0.203.bl.example.", &failures, &aa),
                     LDNS_RCODE_SERVFAIL);
    assert_false(aa);
    assert_int_equal(failures, 1);
    assert_int_equal(ask_store(f, dir, "7.2.0.192.bl.example.", &failures, &aa),
                     LDNS_RCODE_NOERROR);
    assert_int_equal(failures, 1);

    corrupt_values(dir, "entries");
    assert_int_equal(ask_store(f, dir, "7.2.0.192.bl.example.", &failures, &aa),
                     LDNS_RCODE_SERVFAIL);
    assert_int_equal(failures, 2);
    /* Nothing covers 10.0.0.1, so nothing corrupt is read: a plain NXDOMAIN. */
    assert_int_equal(ask_store(f, dir, "1.0.0.10.bl.example.", &failures, &aa),
                     LDNS_RCODE_NXDOMAIN);
    assert_true(aa);
    /* Test points never touch the store. */
    assert_int_equal(ask_store(f, dir, "2.0.0.127.bl.example.", &failures, &aa),
                     LDNS_RCODE_NOERROR);
    assert_int_equal(failures, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listed_a_txt_any),
        cmocka_unit_test(test_listed_other_type_nodata),
        cmocka_unit_test(test_unlisted_and_invalid_nxdomain),
        cmocka_unit_test(test_partial_names_are_empty_nonterminals),
        cmocka_unit_test(test_ipv6_and_mapped),
        cmocka_unit_test(test_testpoints_in_every_zone),
        cmocka_unit_test(test_apex_and_file_names),
        cmocka_unit_test(test_refused_outside_zones),
        cmocka_unit_test(test_header_errors),
        cmocka_unit_test(test_edns),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_zone_errors),
        cmocka_unit_test(test_imported_lists),
        cmocka_unit_test(test_subzones),
        cmocka_unit_test(test_parse_subzone),
        cmocka_unit_test(test_scores_and_several_codes),
        cmocka_unit_test(test_score_and_allowlist_zones),
        cmocka_unit_test(test_acl_allow_refuse),
        cmocka_unit_test(test_acl_error_answers),
        cmocka_unit_test(test_any_minimal_over_udp),
        cmocka_unit_test(test_slip_answer),
        cmocka_unit_test(test_store_failure_servfail),
        cmocka_unit_test(test_unknown_opcode_notimp),
        cmocka_unit_test(test_formerr_echoes),
        cmocka_unit_test(test_tsig_badkey),
        cmocka_unit_test(test_tsig_badkey_truncated),
        cmocka_unit_test(test_transfers_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
