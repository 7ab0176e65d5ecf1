/* The query path allocates nothing: the proof of the performance promise
 * "answers are written into a preallocated per-worker buffer; zero
 * allocations per query". This executable replaces malloc and friends
 * (glibc supports replacing them: each hook counts, then forwards to
 * glibc's own __libc_* allocator), so calls from LMDB, ldns and libc are
 * seen as well as ours. With a real store and zone set, warmed up once, it
 * answers thousands of queries of every kind the server meets (IPv4 and
 * IPv6, listed, scored with history, allowlisted, unlisted, apex data,
 * NXDOMAIN, REFUSED, ACL errors, truncation, EDNS and BADVERS, unknown
 * opcodes, TSIG, zone transfers, runts and mangled packets, UDP and TCP) in batches, with store_reader_begin and
 * store_reader_end around each batch as server/net.c does, while a writer
 * commits between rounds; then it requires zero calls of any allocation
 * function. The RRL stage of the UDP path (rrl_check, packet_answer_slip)
 * is counted the same way.
 *
 * AddressSanitizer owns malloc in the sanitizer build, so the hooks are
 * compiled out there and the tests skip (DNSBL_SANITIZED comes from
 * tests/CMakeLists.txt). The end-to-end counterpart on the real binary is
 * tests/e2e/test_noalloc.py. */
#include <execinfo.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <ldns/ldns.h>

#include "acl.h"
#include "addr.h"
#include "err.h"
#include "packet.h"
#include "rrl.h"
#include "store.h"
#include "zone.h"
#include "store_fixture.h"
#include "test_paths.h"

#if defined(DNSBL_SANITIZED) || defined(__SANITIZE_ADDRESS__)
#define NOALLOC_HOOKS 0
#else
#define NOALLOC_HOOKS 1
#endif

/* --- counting allocator --- */

enum alloc_kind { AK_MALLOC, AK_CALLOC, AK_REALLOC, AK_FREE, AK_ALIGNED, AK_COUNT };
static const char *const alloc_names[AK_COUNT] = {"malloc", "calloc", "realloc", "free",
                                                  "memalign/posix_memalign/aligned_alloc/valloc"};

static volatile bool counting;
static size_t alloc_calls[AK_COUNT];
static void *first_trace[32]; /* the stack of the first counted call */
static int first_depth;
#if NOALLOC_HOOKS
static __thread bool in_trace;

static void count_call(enum alloc_kind k)
{
    if (!counting || in_trace)
        return;
    alloc_calls[k]++;
    if (first_depth == 0) {
        in_trace = true;
        first_depth = backtrace(first_trace, 32);
        in_trace = false;
    }
}

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t align, size_t n);

void *malloc(size_t n)
{
    count_call(AK_MALLOC);
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    count_call(AK_CALLOC);
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    count_call(AK_REALLOC);
    return __libc_realloc(p, n);
}

void *reallocarray(void *p, size_t n, size_t size)
{
    count_call(AK_REALLOC);
    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    return __libc_realloc(p, n * size);
}

void free(void *p)
{
    count_call(AK_FREE); /* free(NULL) too: any call on the path is a finding */
    __libc_free(p);
}

void *memalign(size_t align, size_t n)
{
    count_call(AK_ALIGNED);
    return __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
    count_call(AK_ALIGNED);
    return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    count_call(AK_ALIGNED);
    if (align < sizeof(void *) || (align & (align - 1)) != 0)
        return 22; /* EINVAL */
    void *p = __libc_memalign(align, n);
    if (p == NULL)
        return 12; /* ENOMEM */
    *out = p;
    return 0;
}

void *valloc(size_t n)
{
    count_call(AK_ALIGNED);
    return __libc_memalign((size_t)sysconf(_SC_PAGESIZE), n);
}
#endif

static void counting_start(void)
{
    memset(alloc_calls, 0, sizeof(alloc_calls));
    first_depth = 0;
    counting = true;
}

/* Stop counting; returns the number of calls counted, and prints them
 * with the stack of the first one when report is set. */
static size_t counting_stop(const char *what, bool report)
{
    counting = false;
    size_t total = 0;
    for (int k = 0; k < AK_COUNT; k++)
        total += alloc_calls[k];
    if (total == 0 || !report)
        return total;
    print_error("%s: %zu allocation calls on the query path:", what, total);
    for (int k = 0; k < AK_COUNT; k++)
        if (alloc_calls[k] != 0)
            print_error(" %s %zu", alloc_names[k], alloc_calls[k]);
    print_error("\nstack of the first one (addr2line -f -e the binary on the +offsets):\n");
    backtrace_symbols_fd(first_trace, first_depth, STDERR_FILENO);
    return total;
}

static void skip_if_sanitized(void)
{
#if !NOALLOC_HOOKS
    print_message("skipped: the sanitizer runtime owns malloc; the plain build counts "
                  "allocations\n");
    skip();
#endif
}

/* --- fixture: a store, a zone set and a mix of queries made beforehand --- */

#define QUERIES_MAX 1024
#define ANSWER_KEEP 2048 /* warm-up answers kept for comparison (all answers here are smaller) */
#define BATCH 32         /* queries per store read, like a recvmmsg batch */
#define ROUNDS 40

enum { EXPECT_DROP = -1, EXPECT_ANY = -2 };

struct query {
    uint8_t wire[600];
    size_t len;
    enum packet_transport t;
    const struct addr_prefix *client;
    int rcode;  /* the answer's rcode (16 = BADVERS), EXPECT_DROP or EXPECT_ANY */
    int listed; /* 1 or 0 as packet_info says; -1: not checked */
    int tc;     /* TC expected (1) or not (0); -1: not checked */
    /* the warm-up answer, to compare the counted ones with */
    uint8_t answer[ANSWER_KEEP];
    size_t answer_len;
    bool dropped;
};

struct fixture {
    struct zoneset *zones;
    struct store *store;
    struct store_reader *reader;
    struct entry covering[STORE_COVERING_MAX];
    struct history_day history[STORE_HISTORY_MAX];
    struct packet_info info;
    struct packet_ctx ctx;
    char dir[64];
    char zonefile[128];
    struct addr_prefix clients[5];
    struct query q[QUERIES_MAX];
    size_t nq;
    uint8_t out[PACKET_TCP_MAX];
};

enum { CL_LISTED_NET, CL_REFUSED, CL_ERROR, CL_V6, CL_MAPPED_REFUSED };

static const char *ZONE_TEXT =
    "$ORIGIN bl.example.\n"
    "$TTL 3600\n"
    "@ 3600 IN SOA ns1 hostmaster 2026112701 7200 1800 604800 600\n"
    "@ 86400 IN NS ns1\n"
    "@ 86400 IN NS ns2.bl.example.\n"
    "@ IN TXT \"bl.example test zone\"\n"
    "ns1 IN A 192.0.2.53\n"
    "ns1 IN AAAA 2001:db8::53\n"
    "ns2 IN A 198.51.100.53\n"
    "www IN TXT \"see https://bl.example/\"\n"
    "deep.sub IN TXT \"below an empty non-terminal\"\n"
    "big IN TXT \"0123456789012345678901234567890123456789012345678901234567890123456789\""
    " \"0123456789012345678901234567890123456789012345678901234567890123456789\""
    " \"0123456789012345678901234567890123456789012345678901234567890123456789\""
    " \"0123456789012345678901234567890123456789012345678901234567890123456789\""
    " \"0123456789012345678901234567890123456789012345678901234567890123456789\""
    " \"0123456789012345678901234567890123456789012345678901234567890123456789\""
    " \"0123456789012345678901234567890123456789012345678901234567890123456789\"\n";

static void apply1(struct fixture *f, const char *prefix, uint8_t kind, uint32_t code,
                   uint32_t weight, const char *reason, int64_t when)
{
    struct event ev = {0};
    char why[256];
    assert_int_equal(addr_parse(prefix, &ev.prefix, why, sizeof(why)), DNSBL_OK);
    ev.kind = kind;
    ev.weight = weight;
    ev.time = when;
    ev.code = code;
    ev.reason = reason;
    ev.source = "test";
    assert_int_equal(store_apply(f->store, &ev, NULL, 1, NULL, why, sizeof(why)), DNSBL_OK);
}

static void fill_store(struct fixture *f)
{
    static const struct snds_row red = {
        .colour = SNDS_RED, .recipients = 1000, .start = 1699990000};
    apply1(f, "192.0.2.0/24", EV_LIST, 0, 1, "spam run", 1700000000);
    apply1(f, "203.0.113.7", EV_LIST, 0x7f000003, 1, "trap hits", 1700000000);
    apply1(f, "198.51.100.0/24", EV_LIST, 0, 1, "range", 1700000000);
    apply1(f, "198.51.100.9", EV_ALLOW, 0, 1, "our partner", 1700000000);
    apply1(f, "2001:db8:1::/48", EV_LIST, 0, 1, "v6 range", 1700000000);
    /* Evidence with history on several days: the score zone reads it. */
    for (int day = 0; day < 5; day++) {
        int64_t t = 1700000000 - (int64_t)day * 86400;
        apply1(f, "2001:db8:99::5", EV_ABUSE, 0, 4, NULL, t);
        apply1(f, "2001:db8:99::5", EV_VOLUME, 0, 200, NULL, t);
        apply1(f, "203.0.113.99", EV_TRAP_HIT, 0, 2, NULL, t);
        apply1(f, "203.0.113.99", EV_VOLUME, 0, 50, NULL, t);
    }
    struct event ev[2];
    char why[256];
    /* A flat index of what is there so far; the batch below is marked as
     * changed since, so the queries take both lookup paths. */
    assert_int_equal(store_flat_refresh(f->store, true, NULL, why, sizeof(why)), DNSBL_OK);
    memset(ev, 0, sizeof(ev));
    assert_int_equal(addr_parse("2001:db8:99::7", &ev[0].prefix, why, sizeof(why)), DNSBL_OK);
    ev[0].kind = EV_SNDS;
    ev[0].snds = &red;
    ev[0].time = 1700000000;
    ev[0].weight = 1;
    assert_int_equal(addr_parse("203.0.113.128/25", &ev[1].prefix, why, sizeof(why)), DNSBL_OK);
    ev[1].kind = EV_IMPORT_LIST;
    ev[1].code = 0x7f000005;
    ev[1].ttl = 1800;
    ev[1].txt = "Imported: $ listed";
    ev[1].time = 1700000000;
    ev[1].weight = 1;
    ev[1].source = "test";
    assert_int_equal(store_apply(f->store, ev, NULL, 2, NULL, why, sizeof(why)), DNSBL_OK);
}

static void acl_rule(struct acl *a, const char *prefix, enum acl_action action)
{
    struct addr_prefix p;
    assert_int_equal(addr_parse(prefix, &p, NULL, 0), DNSBL_OK);
    assert_int_equal(acl_add(a, &p, action), DNSBL_OK);
}

static void build_zones(struct fixture *f)
{
    char why[512];
    struct zone_config zc[5];
    memset(zc, 0, sizeof(zc));
    snprintf(zc[0].name, sizeof(zc[0].name), "bl.example");
    snprintf(zc[0].file, sizeof(zc[0].file), "%s", f->zonefile);
    snprintf(zc[1].name, sizeof(zc[1].name), "other.example");
    snprintf(zc[2].name, sizeof(zc[2].name), "score.example");
    snprintf(zc[3].name, sizeof(zc[3].name), "wl.example");
    snprintf(zc[4].name, sizeof(zc[4].name), "err.example");
    for (int i = 0; i < 5; i++) {
        policy_defaults(&zc[i].policy);
        acl_init(&zc[i].acl);
    }
    zc[1].policy.ttl = 60;
    zc[2].policy.kind = ZONE_SCORE;
    zc[3].policy.kind = ZONE_ALLOWLIST;
    acl_rule(&zc[0].acl, "10.9.8.0/24", ACL_REFUSE);
    acl_rule(&zc[0].acl, "10.9.9.0/24", ACL_ERROR);
    acl_rule(&zc[4].acl, "0.0.0.0/0", ACL_ERROR);
    acl_rule(&zc[4].acl, "::/0", ACL_ERROR);
    assert_int_equal(zoneset_build(zc, 5, &f->zones, why, sizeof(why)), DNSBL_OK);
}

static struct query *next_query(struct fixture *f)
{
    assert_true(f->nq < QUERIES_MAX);
    struct query *q = &f->q[f->nq++];
    memset(q, 0, sizeof(*q));
    q->rcode = EXPECT_ANY;
    q->listed = -1;
    q->tc = -1;
    return q;
}

/* A query made by ldns, as a resolver would send it. */
static struct query *add(struct fixture *f, const char *name, ldns_rr_type type,
                         enum packet_transport t, int edns, int rcode, int listed)
{
    ldns_pkt *p = NULL;
    uint8_t *wire = NULL;
    size_t len = 0;
    assert_int_equal(ldns_pkt_query_new_frm_str(&p, name, type, LDNS_RR_CLASS_IN, LDNS_RD),
                     LDNS_STATUS_OK);
    ldns_pkt_set_id(p, (uint16_t)(f->nq * 7 + 1));
    if (edns) {
        ldns_pkt_set_edns_udp_size(p, (uint16_t)edns);
        ldns_pkt_set_edns_do(p, edns == 4096);
    }
    assert_int_equal(ldns_pkt2wire(&wire, p, &len), LDNS_STATUS_OK);
    ldns_pkt_free(p);
    struct query *q = next_query(f);
    assert_true(len <= sizeof(q->wire));
    memcpy(q->wire, wire, len);
    free(wire);
    q->len = len;
    q->t = t;
    q->rcode = rcode;
    q->listed = listed;
    return q;
}

static struct query *add_v6(struct fixture *f, const char *ip, const char *zone, ldns_rr_type type,
                            enum packet_transport t, int edns, int rcode, int listed)
{
    char name[256];
    struct addr_prefix p;
    assert_int_equal(addr_parse(ip, &p, NULL, 0), DNSBL_OK);
    assert_true(addr_to_qname(&p, zone, name, sizeof(name)) > 0);
    return add(f, name, type, t, edns, rcode, listed);
}

/* A hand-made query for 2.0.0.127.bl.example with the given header fields. */
static struct query *add_raw(struct fixture *f, uint16_t flags, uint16_t qd, uint16_t ar,
                             size_t cut, int rcode)
{
    static const uint8_t question[] = {1, '2', 1,   '0', 1,   '0', 3,   '1', '2', '7', 2, 'b', 'l',
                                       7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0,   0,   1, 0,   1};
    struct query *q = next_query(f);
    uint8_t hdr[12] = {
        0x12, 0x34,       (uint8_t)(flags >> 8), (uint8_t)flags, 0, (uint8_t)qd, 0, 0, 0, 0,
        0,    (uint8_t)ar};
    memcpy(q->wire, hdr, 12);
    memcpy(q->wire + 12, question, sizeof(question));
    q->len = 12 + sizeof(question) - cut;
    q->t = PACKET_UDP;
    q->rcode = rcode;
    return q;
}

/* A query signed with TSIG by ldns (RFC 8945), optionally an IXFR query
 * with the client's SOA in authority (RFC 1995 3). */
static void add_signed(struct fixture *f, const char *name, ldns_rr_type type,
                       enum packet_transport t, int edns, bool with_soa)
{
    ldns_pkt *p = NULL;
    uint8_t *wire = NULL;
    size_t len = 0;
    assert_int_equal(ldns_pkt_query_new_frm_str(&p, name, type, LDNS_RR_CLASS_IN, 0),
                     LDNS_STATUS_OK);
    ldns_pkt_set_id(p, (uint16_t)(f->nq * 7 + 1));
    if (edns)
        ldns_pkt_set_edns_udp_size(p, (uint16_t)edns);
    if (with_soa) {
        ldns_rr *soa = NULL;
        assert_int_equal(ldns_rr_new_frm_str(&soa,
                                             "bl.example. 0 IN SOA ns1.bl.example. "
                                             "hostmaster.bl.example. 5 1 1 1 1",
                                             0, NULL, NULL),
                         LDNS_STATUS_OK);
        ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY, soa);
    }
    assert_int_equal(ldns_pkt_tsig_sign(p, "key.example.",
                                        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 300,
                                        "hmac-sha256.", NULL),
                     LDNS_STATUS_OK);
    assert_int_equal(ldns_pkt2wire(&wire, p, &len), LDNS_STATUS_OK);
    ldns_pkt_free(p);
    struct query *q = next_query(f);
    assert_true(len <= sizeof(q->wire));
    memcpy(q->wire, wire, len);
    free(wire);
    q->len = len;
    q->t = t;
    q->rcode = 9; /* NOTAUTH */
}

static void add_opt(struct query *q, uint8_t version)
{
    /* OPT: root, type 41, size 1232, version, an unknown option 99. */
    const uint8_t opt[] = {0, 0, 41, 0x04, 0xd0, 0, version, 0, 0, 0, 6, 0, 99, 0, 2, 0xab, 0xcd};
    memcpy(q->wire + q->len, opt, sizeof(opt));
    q->len += sizeof(opt);
}

static void make_queries(struct fixture *f)
{
    static const ldns_rr_type types[] = {LDNS_RR_TYPE_A, LDNS_RR_TYPE_TXT, LDNS_RR_TYPE_ANY,
                                         LDNS_RR_TYPE_AAAA};
    static const enum packet_transport ts[] = {PACKET_UDP, PACKET_TCP};
    static const int ednses[] = {0, 1232, 4096};
    for (size_t ti = 0; ti < 4; ti++) {
        for (size_t ri = 0; ri < 2; ri++) {
            for (size_t ei = 0; ei < 3; ei++) {
                ldns_rr_type ty = types[ti];
                enum packet_transport t = ts[ri];
                int e = ednses[ei];
                int hit = 1; /* for AAAA too: NODATA, but the address is listed */
                add(f, "7.2.0.192.bl.example.", ty, t, e, 0, hit);
                add(f, "7.113.0.203.bl.example.", ty, t, e, 0, hit);
                add(f, "200.113.0.203.bl.example.", ty, t, e, 0, hit); /* imported */
                add(f, "9.100.51.198.bl.example.", ty, t, e, 3, 0);    /* allowed */
                add(f, "7.3.0.192.bl.example.", ty, t, e, 3, 0);       /* unlisted */
                add(f, "5.0.0.10.other.example.", ty, t, e, 3, 0);
                add(f, "2.0.0.127.other.example.", ty, t, e, 0, hit); /* test point */
                add_v6(f, "2001:db8:1:2::99", "bl.example.", ty, t, e, 0, hit);
                add_v6(f, "2001:db8:99::7", "bl.example.", ty, t, e, 0, hit);
                add_v6(f, "2001:db8:2::1", "bl.example.", ty, t, e, 3, 0);
                add_v6(f, "::ffff:192.0.2.9", "bl.example.", ty, t, e, 0, hit);
                /* Scores computed from the history of five days. */
                add_v6(f, "2001:db8:99::5", "score.example.", ty, t, e, 0, hit);
                add(f, "99.113.0.203.score.example.", ty, t, e, 0, hit);
                add(f, "7.2.0.192.score.example.", ty, t, e, 0, hit);
                add(f, "1.1.1.10.score.example.", ty, t, e, 3, 0);
                add(f, "9.100.51.198.wl.example.", ty, t, e, 0, hit);
                add_v6(f, "2001:db8:3::1", "wl.example.", ty, t, e, 3, 0);
                add(f, "7.2.0.192.err.example.", ty, t, e, EXPECT_ANY, -1); /* ACL error */
            }
        }
    }
    /* Names of the zone file and its apex; partial names; outside the zones. */
    add(f, "bl.example.", LDNS_RR_TYPE_SOA, PACKET_UDP, 0, 0, 0);
    add(f, "bl.example.", LDNS_RR_TYPE_NS, PACKET_UDP, 1232, 0, 0);
    add(f, "bl.example.", LDNS_RR_TYPE_ANY, PACKET_UDP, 0, 0, 0);
    add(f, "bl.example.", LDNS_RR_TYPE_ANY, PACKET_TCP, 0, 0, 0);
    add(f, "other.example.", LDNS_RR_TYPE_SOA, PACKET_TCP, 1232, 0, 0);
    add(f, "other.example.", LDNS_RR_TYPE_NS, PACKET_UDP, 0, 0, 0);
    add(f, "ns1.bl.example.", LDNS_RR_TYPE_AAAA, PACKET_UDP, 0, 0, 0);
    add(f, "www.bl.example.", LDNS_RR_TYPE_TXT, PACKET_UDP, 0, 0, 0);
    add(f, "sub.bl.example.", LDNS_RR_TYPE_TXT, PACKET_UDP, 0, 0, 0);
    add(f, "nothere.bl.example.", LDNS_RR_TYPE_A, PACKET_UDP, 0, 3, 0);
    add(f, "2.0.192.bl.example.", LDNS_RR_TYPE_A, PACKET_UDP, 0, 0, 0);
    add(f, "8.b.d.0.1.0.0.2.bl.example.", LDNS_RR_TYPE_A, PACKET_UDP, 0, 0, 0);
    add(f, "1.7.2.0.192.bl.example.", LDNS_RR_TYPE_A, PACKET_UDP, 0, 3, 0);
    add(f, "300.2.0.192.bl.example.", LDNS_RR_TYPE_A, PACKET_UDP, 0, 3, 0);
    add(f, "7.2.0.192.nowhere.test.", LDNS_RR_TYPE_A, PACKET_UDP, 0, 5, 0);
    /* Truncation: too big for 512 bytes, fits 1232 and TCP. */
    add(f, "big.bl.example.", LDNS_RR_TYPE_TXT, PACKET_UDP, 0, 0, -1)->tc = 1;
    add(f, "big.bl.example.", LDNS_RR_TYPE_TXT, PACKET_UDP, 1232, 0, -1)->tc = 0;
    add(f, "big.bl.example.", LDNS_RR_TYPE_TXT, PACKET_TCP, 0, 0, -1)->tc = 0;
    /* Zone ACLs: refused, answered with the error code, allowed. */
    add(f, "7.2.0.192.bl.example.", LDNS_RR_TYPE_A, PACKET_UDP, 0, 5, 0)->client =
        &f->clients[CL_REFUSED];
    add(f, "7.2.0.192.bl.example.", LDNS_RR_TYPE_A, PACKET_TCP, 0, 5, 0)->client =
        &f->clients[CL_MAPPED_REFUSED];
    add(f, "7.3.0.192.bl.example.", LDNS_RR_TYPE_TXT, PACKET_UDP, 0, 0, -1)->client =
        &f->clients[CL_ERROR];
    add(f, "7.2.0.192.bl.example.", LDNS_RR_TYPE_ANY, PACKET_UDP, 0, 0, 1)->client =
        &f->clients[CL_LISTED_NET];
    add(f, "7.2.0.192.bl.example.", LDNS_RR_TYPE_A, PACKET_TCP, 0, 0, 1)->client =
        &f->clients[CL_V6];

    /* Malformed: runt, an answer, NOTIFY, two questions, none, cut short,
     * a compression pointer, unknown class, EDNS version 1, two OPTs. */
    add_raw(f, 0x0100, 1, 0, 0, 0);
    add_raw(f, 0x0100, 1, 0, 27, EXPECT_DROP);
    add_raw(f, 0x8000, 1, 0, 0, EXPECT_DROP);
    add_raw(f, 4 << 11, 1, 0, 0, 4);
    add_raw(f, 0, 2, 0, 0, 1);
    add_raw(f, 0, 0, 0, 0, 1);
    add_raw(f, 0, 1, 0, 3, 1);
    add_raw(f, 0, 1, 0, 0, 1)->wire[12] = 0xc0;
    struct query *q = add_raw(f, 0, 1, 0, 0, EXPECT_ANY);
    q->wire[12 + 25] = 3; /* class CH */
    add_opt(add_raw(f, 0, 1, 1, 0, 16), 1);
    add_opt(add_raw(f, 0, 1, 1, 0, 0), 0);
    q = add_raw(f, 0, 1, 2, 0, 1);
    add_opt(q, 0);
    add_opt(q, 0);
    q = add_raw(f, 0, 1, 1, 0, EXPECT_ANY);
    add_opt(q, 0);
    q->len -= 5; /* OPT cut short */
    /* What a compliance tester sends: a header-only unknown opcode with
     * every flag, a record in the answer section of a query (FORMERR that
     * echoes the OPT), zone transfers, a TSIG-signed query (no keys: NOTAUTH
     * with a BADKEY TSIG). */
    add_raw(f, 15 << 11 | 0x07f0, 0, 0, 26, 4);
    q = add_raw(f, 0, 1, 1, 0, 1);
    q->wire[7] = 1; /* ancount */
    static const uint8_t answer_rr[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1};
    memcpy(q->wire + q->len, answer_rr, sizeof(answer_rr));
    q->len += sizeof(answer_rr);
    add_opt(q, 0);
    add(f, "bl.example.", LDNS_RR_TYPE_AXFR, PACKET_UDP, 0, 5, 0);
    add(f, "bl.example.", LDNS_RR_TYPE_IXFR, PACKET_UDP, 1232, 5, 0);
    add_signed(f, "bl.example.", LDNS_RR_TYPE_SOA, PACKET_UDP, 1232, false);
    add_signed(f, "7.2.0.192.bl.example.", LDNS_RR_TYPE_A, PACKET_TCP, 0, false);
    add_signed(f, "bl.example.", LDNS_RR_TYPE_IXFR, PACKET_UDP, 0, true);
    /* Mangled copies of the good queries: random bytes, lengths, counts. */
    uint64_t x = 0x9e3779b97f4a7c15u;
    size_t good = f->nq;
    for (int i = 0; i < 96; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        const struct query *from = &f->q[x % good];
        q = next_query(f);
        memcpy(q->wire, from->wire, from->len);
        q->len = from->len;
        q->t = (i & 1) ? PACKET_TCP : PACKET_UDP;
        for (int k = 0; k < 1 + i % 4; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            q->wire[(x >> 8) % q->len] = (uint8_t)(x >> 40);
        }
        if (i % 5 == 0)
            q->len = (x >> 20) % (q->len + 1);
    }
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char why[512];
    assert_non_null(f);
    assert_non_null(test_mkdtemp(f->dir, sizeof(f->dir), "dnsbl-noalloc"));
    snprintf(f->zonefile, sizeof(f->zonefile), "%s/bl.example.zone", f->dir);
    FILE *fp = fopen(f->zonefile, "w");
    assert_non_null(fp);
    fputs(ZONE_TEXT, fp);
    fclose(fp);
    build_zones(f);

    char storedir[160];
    snprintf(storedir, sizeof(storedir), "%s/store", f->dir);
    /* With the lookup filter from the first entry, as a big store has it. */
    struct store_options opt;
    store_options_default(&opt);
    opt.filter_min = 0;
    assert_int_equal(store_open_opts(storedir, STORE_CREATE, &opt, &f->store, why, sizeof(why)),
                     DNSBL_OK);
    fill_store(f);
    assert_int_equal(store_reader_open(f->store, &f->reader), DNSBL_OK);

    const char *clients[5] = {"192.0.2.1", "10.9.8.7", "10.9.9.9", "2001:db8::1",
                              "::ffff:10.9.8.1"};
    for (int i = 0; i < 5; i++)
        assert_int_equal(addr_parse(clients[i], &f->clients[i], why, sizeof(why)), DNSBL_OK);
    make_queries(f);

    /* Per-worker scratch as net.c sets it up; query logging on (info). */
    f->ctx.zones = f->zones;
    f->ctx.reader = f->reader;
    f->ctx.covering = f->covering;
    f->ctx.covering_cap = STORE_COVERING_MAX;
    f->ctx.history = f->history;
    f->ctx.history_cap = STORE_HISTORY_MAX;
    f->ctx.info = &f->info;

    void *frames[4]; /* load the unwinder now, not inside a counted call */
    (void)backtrace(frames, 4);
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

/* --- the query path, in the order server/net.c calls it --- */

/* One query; the outcome is left in f->out / *outlen / f->info. */
static enum packet_outcome answer(struct fixture *f, const struct query *q, size_t *outlen)
{
    size_t cap = q->t == PACKET_TCP ? PACKET_TCP_MAX : PACKET_EDNS_SIZE;
    f->ctx.client = q->client;
    *outlen = 0;
    return packet_answer(&f->ctx, q->t, q->wire, q->len, f->out, cap, outlen);
}

/* Every query once, BATCH to a store read. The first pass keeps the
 * answers; later passes count those that differ from it. */
static size_t run_round(struct fixture *f, bool keep)
{
    size_t differ = 0;
    for (size_t start = 0; start < f->nq; start += BATCH) {
        if (store_reader_begin(f->reader) != DNSBL_OK)
            return SIZE_MAX;
        f->ctx.now = 1700000100;
        size_t end = start + BATCH < f->nq ? start + BATCH : f->nq;
        for (size_t i = start; i < end; i++) {
            struct query *q = &f->q[i];
            size_t outlen;
            enum packet_outcome o = answer(f, q, &outlen);
            if (keep) {
                q->dropped = o == PACKET_DROP;
                q->answer_len = outlen;
                if (outlen <= ANSWER_KEEP)
                    memcpy(q->answer, f->out, outlen);
            } else if ((o == PACKET_DROP) != q->dropped || outlen != q->answer_len ||
                       (outlen <= ANSWER_KEEP && memcmp(q->answer, f->out, outlen) != 0)) {
                differ++;
            }
        }
        store_reader_end(f->reader);
    }
    return differ;
}

/* The warm-up pass also checks that the mix reaches the paths it names. */
static void check_warmup(struct fixture *f)
{
    size_t listed = 0, nxdomain = 0, answered_tcp = 0, dropped = 0;
    for (size_t i = 0; i < f->nq; i++) {
        struct query *q = &f->q[i];
        size_t outlen;
        assert_int_equal(store_reader_begin(f->reader), DNSBL_OK);
        enum packet_outcome o = answer(f, q, &outlen);
        store_reader_end(f->reader);
        if (o == PACKET_DROP) {
            dropped++;
            if (q->rcode != EXPECT_ANY && q->rcode != EXPECT_DROP)
                fail_msg("query %zu dropped, rcode %d expected", i, q->rcode);
            continue;
        }
        assert_true(outlen <= ANSWER_KEEP);
        if (q->rcode == EXPECT_DROP)
            fail_msg("query %zu answered, a drop expected", i);
        if (q->rcode >= 0 && f->info.rcode != q->rcode)
            fail_msg("query %zu (%s): rcode %u, %d expected", i, f->info.qname, f->info.rcode,
                     q->rcode);
        if (q->listed >= 0 && f->info.listed != (q->listed == 1))
            fail_msg("query %zu (%s): listed %d, %d expected", i, f->info.qname, f->info.listed,
                     q->listed);
        if (q->tc >= 0 && f->info.truncated != (q->tc == 1))
            fail_msg("query %zu (%s): TC %d, %d expected", i, f->info.qname, f->info.truncated,
                     q->tc);
        listed += f->info.listed;
        nxdomain += f->info.rcode == 3;
        answered_tcp += q->t == PACKET_TCP;
    }
    assert_true(listed >= 200);
    assert_true(nxdomain >= 100);
    assert_true(answered_tcp >= 200);
    assert_true(dropped >= 2);
}

static void test_query_path_allocates_nothing(void **state)
{
    struct fixture *f = *state;
    skip_if_sanitized();
    check_warmup(f);
    assert_int_equal(run_round(f, true), 0);

    size_t total = 0, differ = 0;
    for (int round = 0; round < ROUNDS; round++) {
        if (round % 8 == 4) {
            /* A feed commits between batches: the next begin renews the
             * reader on a newer snapshot, with a new prefix length in use. */
            char prefix[32];
            snprintf(prefix, sizeof(prefix), "10.%d.0.0/%d", 100 + round, 9 + round % 16);
            apply1(f, prefix, EV_LIST, 0, 1, "between batches", 1700000000);
        }
        counting_start();
        size_t d = run_round(f, false);
        /* The first round that allocates is printed, with its stack. */
        total += counting_stop("packet_answer with store_reader_begin/end", total == 0);
        assert_int_not_equal(d, SIZE_MAX);
        differ += d;
    }
    print_message("%zu queries in %d rounds of %zu: %zu allocation calls\n", (size_t)ROUNDS * f->nq,
                  ROUNDS, f->nq, total);
    assert_int_equal(total, 0);
    assert_int_equal(differ, 0); /* and the counted answers are the warm-up's */
}

/* The UDP stage of net.c: the client's bucket first, then a normal answer
 * or the truncated one for a limited client. */
static void test_rrl_stage_allocates_nothing(void **state)
{
    struct fixture *f = *state;
    skip_if_sanitized();
    struct rrl_settings rs = {.rate = 20, .slip = 2, .ipv4_prefix = 24, .ipv6_prefix = 56};
    struct rrl *rrl = NULL;
    assert_int_equal(rrl_new(&rs, 1024, 42, &rrl), DNSBL_OK);
    size_t verdicts[3] = {0};
    uint64_t now_ms = 1000;

    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1)
            counting_start();
        for (size_t start = 0; start < 4000; start += BATCH) {
            if (store_reader_begin(f->reader) != DNSBL_OK)
                break;
            f->ctx.now = 1700000100;
            now_ms += 7;
            for (size_t i = start; i < start + BATCH; i++) {
                const struct query *q = &f->q[i % f->nq];
                const struct addr_prefix *client = &f->clients[i % 5];
                enum rrl_verdict v = rrl_check(rrl, client, now_ms);
                size_t outlen = 0;
                f->ctx.client = client;
                if (pass == 1)
                    verdicts[v]++;
                if (v == RRL_SLIP)
                    packet_answer_slip(&f->ctx, q->wire, q->len, f->out, PACKET_EDNS_SIZE, &outlen);
                else if (v == RRL_PASS)
                    packet_answer(&f->ctx, PACKET_UDP, q->wire, q->len, f->out, PACKET_EDNS_SIZE,
                                  &outlen);
            }
            store_reader_end(f->reader);
        }
    }
    size_t total = counting_stop("rrl_check and packet_answer_slip", true);
    rrl_free(rrl);
    assert_int_equal(total, 0);
    assert_true(verdicts[RRL_PASS] > 0);
    assert_true(verdicts[RRL_DROP] > 0);
    assert_true(verdicts[RRL_SLIP] > 0);
}

/* The counter itself works: a known allocation on the same path is seen
 * (so a zero above is not a hook that never runs). */
static void test_counter_sees_allocations(void **state)
{
    struct fixture *f = *state;
    skip_if_sanitized();
    /* The reader makes its cursors in its first begin: not counted. */
    assert_int_equal(store_reader_begin(f->reader), DNSBL_OK);
    store_reader_end(f->reader);
    counting_start();
    assert_int_equal(store_reader_begin(f->reader), DNSBL_OK);
    void *volatile p = malloc(16);
    size_t outlen;
    answer(f, &f->q[0], &outlen);
    free(p);
    store_reader_end(f->reader);
    counting = false;
    assert_int_equal(alloc_calls[AK_MALLOC], 1);
    assert_int_equal(alloc_calls[AK_FREE], 1);
    assert_true(first_depth > 0);
    counting_start();
    p = calloc(2, 8);
    p = realloc(p, 64);
    void *a = NULL;
    assert_int_equal(posix_memalign(&a, 64, 64), 0);
    free(a);
    free(p);
    counting = false;
    assert_int_equal(alloc_calls[AK_CALLOC], 1);
    assert_int_equal(alloc_calls[AK_REALLOC], 1);
    assert_int_equal(alloc_calls[AK_ALIGNED], 1);
    assert_int_equal(alloc_calls[AK_FREE], 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_sees_allocations),
        cmocka_unit_test(test_query_path_allocates_nothing),
        cmocka_unit_test(test_rrl_stage_allocates_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
