/* Unit tests for TSIG (tsig.h): keys from text, signing and checking
 * requests and answer streams, with ldns's TSIG code (RFC 8945, written
 * by others) as the reference signer and checker in both directions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <ldns/ldns.h>

#include "err.h"
#include "tsig.h"

#define KEYNAME "xfr.example."
#define SECRET "c2VjcmV0LWtleS1mb3ItdHNpZy10ZXN0cy0xMjM0NTY="
#define OTHER_SECRET "b3RoZXItc2VjcmV0LWtleS1mb3ItdGVzdHMtOTg3NjU="

static const char *const ALG_TEXT[] = {"hmac-sha256", "hmac-sha1", "hmac-sha384", "hmac-sha512"};
/* ldns has no hmac-sha384: that one is only checked against itself. */
static const char *const ALG_LDNS[] = {"hmac-sha256.", "hmac-sha1.", NULL, "hmac-sha512."};

static void key_of(struct tsig_key *k, unsigned alg, const char *secret)
{
    char why[256];
    assert_int_equal(tsig_key_init(k, "Xfr.Example.", ALG_TEXT[alg], secret, why, sizeof why),
                     DNSBL_OK);
}

static ldns_pkt *query_pkt(uint16_t id)
{
    ldns_pkt *p = ldns_pkt_query_new(ldns_dname_new_frm_str("bl.example."), LDNS_RR_TYPE_AXFR,
                                     LDNS_RR_CLASS_IN, 0);
    ldns_pkt_set_id(p, id);
    return p;
}

static ldns_pkt *answer_pkt(uint16_t id, const char *rr)
{
    ldns_pkt *p = query_pkt(id);
    ldns_pkt_set_qr(p, true);
    ldns_pkt_set_aa(p, true);
    ldns_rr *r = NULL;
    assert_int_equal(ldns_rr_new_frm_str(&r, rr, 3600, NULL, NULL), LDNS_STATUS_OK);
    ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, r);
    return p;
}

static size_t to_wire(ldns_pkt *p, uint8_t *buf, size_t cap)
{
    uint8_t *w = NULL;
    size_t n = 0;
    assert_int_equal(ldns_pkt2wire(&w, p, &n), LDNS_STATUS_OK);
    assert_true(n <= cap);
    memcpy(buf, w, n);
    free(w);
    return n;
}

/* The MAC of a signed wire message as ldns wants it for the next one. */
static ldns_rdf *mac_of(const uint8_t *wire, size_t len)
{
    ldns_pkt *p = NULL;
    assert_int_equal(ldns_wire2pkt(&p, wire, len), LDNS_STATUS_OK);
    assert_non_null(ldns_pkt_tsig(p));
    ldns_rdf *m = ldns_rdf_clone(ldns_rr_rdf(ldns_pkt_tsig(p), 3));
    ldns_pkt_free(p);
    return m;
}

static void test_key_spec(void **state)
{
    (void)state;
    struct tsig_key k;
    char why[256];
    assert_int_equal(tsig_key_from_spec(&k, "hmac-sha512:Key.Example:" SECRET, why, sizeof why),
                     DNSBL_OK);
    assert_string_equal(k.name, "key.example");
    assert_int_equal(k.alg, TSIG_HMAC_SHA512);
    assert_int_equal(k.secret_len, 32);
    assert_memory_equal(k.secret, "secret-key-for-tsig-tests-123456", 32);
    assert_int_equal(k.name_wire_len, 13);
    assert_memory_equal(k.name_wire, "\3key\7example", 13);
    assert_int_equal(tsig_key_from_spec(&k, "key.example.:" SECRET, why, sizeof why), DNSBL_OK);
    assert_int_equal(k.alg, TSIG_HMAC_SHA256);
    assert_string_equal(k.name, "key.example");

    assert_int_equal(tsig_key_from_spec(&k, "hmac-md5:k:" SECRET, why, sizeof why), DNSBL_EINVAL);
    assert_non_null(strstr(why, "hmac-md5"));
    assert_int_equal(tsig_key_from_spec(&k, "k:not*base64", why, sizeof why), DNSBL_EINVAL);
    assert_null(strstr(why, "not*base64")); /* never the secret */
    assert_int_equal(tsig_key_from_spec(&k, "k", why, sizeof why), DNSBL_EINVAL);
    assert_int_equal(tsig_key_from_spec(&k, "a..b:" SECRET, why, sizeof why), DNSBL_EINVAL);
    assert_int_equal(tsig_key_from_spec(&k, "k:", why, sizeof why), DNSBL_EINVAL);
}

/* ldns signs a request, we check it; and the other way round. */
static void test_request_cross(void **state)
{
    (void)state;
    for (unsigned alg = 0; alg < 4; alg++) {
        if (!ALG_LDNS[alg])
            continue;
        struct tsig_key k;
        key_of(&k, alg, SECRET);
        uint8_t buf[1024];
        ldns_pkt *q = query_pkt(4242);
        assert_int_equal(ldns_pkt_tsig_sign(q, KEYNAME, SECRET, 300, ALG_LDNS[alg], NULL),
                         LDNS_STATUS_OK);
        size_t len = to_wire(q, buf, sizeof buf);
        ldns_pkt_free(q);
        size_t unsigned_len = to_wire(q = query_pkt(4242), buf + 512, 512);
        ldns_pkt_free(q);

        struct tsig_session s;
        enum tsig_error err;
        int64_t now = time(NULL);
        assert_int_equal(tsig_verify_request(&s, &k, 1, buf, &len, now, &err), DNSBL_OK);
        assert_int_equal(err, TSIG_ERR_NONE);
        assert_int_equal(len, unsigned_len); /* the TSIG record is cut off */
        assert_memory_equal(buf, buf + 512, len);
        assert_ptr_equal(s.key, &k);

        /* ours, checked by ldns */
        struct tsig_session c = {.key = &k};
        len = to_wire(q = query_pkt(77), buf, sizeof buf);
        ldns_pkt_free(q);
        assert_int_equal(tsig_sign(&c, buf, &len, sizeof buf, now, TSIG_ERR_NONE), DNSBL_OK);
        ldns_pkt *p = NULL;
        assert_int_equal(ldns_wire2pkt(&p, buf, len), LDNS_STATUS_OK);
        assert_true(ldns_pkt_tsig_verify(p, buf, len, KEYNAME, SECRET, NULL));
        assert_false(ldns_pkt_tsig_verify(p, buf, len, KEYNAME, OTHER_SECRET, NULL));
        ldns_pkt_free(p);
    }
}

static size_t ldns_request(uint8_t *buf, size_t cap, const char *secret, const char *alg)
{
    ldns_pkt *q = query_pkt(9);
    assert_int_equal(ldns_pkt_tsig_sign(q, KEYNAME, secret, 300, alg, NULL), LDNS_STATUS_OK);
    size_t len = to_wire(q, buf, cap);
    ldns_pkt_free(q);
    return len;
}

static void test_request_refused(void **state)
{
    (void)state;
    struct tsig_key keys[2];
    char why[128];
    assert_int_equal(tsig_key_init(&keys[0], "other.", NULL, SECRET, why, sizeof why), DNSBL_OK);
    key_of(&keys[1], 0, SECRET);
    uint8_t buf[1024], ans[1024];
    size_t len;
    struct tsig_session s;
    enum tsig_error err;
    int64_t now = time(NULL);

    /* wrong secret: BADSIG, answered unsigned */
    len = ldns_request(buf, sizeof buf, OTHER_SECRET, "hmac-sha256.");
    assert_int_equal(tsig_verify_request(&s, keys, 2, buf, &len, now, &err), DNSBL_EREFUSED);
    assert_int_equal(err, TSIG_BADSIG);
    size_t alen = len;
    memcpy(ans, buf, len);
    assert_int_equal(tsig_sign(&s, ans, &alen, sizeof ans, now, err), DNSBL_OK);
    ldns_pkt *p = NULL;
    assert_int_equal(ldns_wire2pkt(&p, ans, alen), LDNS_STATUS_OK);
    ldns_rr *t = ldns_pkt_tsig(p);
    assert_non_null(t);
    assert_int_equal(ldns_rdf2native_int16(ldns_rr_rdf(t, 5)), TSIG_BADSIG);
    assert_int_equal(ldns_rdf_size(ldns_rr_rdf(t, 3)), 2); /* no MAC */
    ldns_pkt_free(p);

    /* unknown name, and a known name with another algorithm: BADKEY */
    len = ldns_request(buf, sizeof buf, SECRET, "hmac-sha512.");
    assert_int_equal(tsig_verify_request(&s, keys, 2, buf, &len, now, &err), DNSBL_EREFUSED);
    assert_int_equal(err, TSIG_BADKEY);
    len = ldns_request(buf, sizeof buf, SECRET, "hmac-sha256.");
    assert_int_equal(tsig_verify_request(&s, keys, 0, buf, &len, now, &err), DNSBL_EREFUSED);
    assert_int_equal(err, TSIG_BADKEY);

    /* outside the fudge either way: BADTIME, answered signed with our time */
    for (int sign = -1; sign <= 1; sign += 2) {
        len = ldns_request(buf, sizeof buf, SECRET, "hmac-sha256.");
        assert_int_equal(tsig_verify_request(&s, keys, 2, buf, &len, now + sign * 301, &err),
                         DNSBL_EREFUSED);
        assert_int_equal(err, TSIG_BADTIME);
        len = ldns_request(buf, sizeof buf, SECRET, "hmac-sha256.");
        assert_int_equal(tsig_verify_request(&s, keys, 2, buf, &len, now + sign * 299, &err),
                         DNSBL_OK);
    }

    /* a flipped bit anywhere in the signed part: BADSIG */
    len = ldns_request(buf, sizeof buf, SECRET, "hmac-sha256.");
    for (size_t i = 2; i < 12; i++) {
        uint8_t copy[1024];
        size_t l = len;
        memcpy(copy, buf, len);
        copy[i == 10 || i == 11 ? 4 : i] ^= 0x20; /* keep counts intact */
        int rc = tsig_verify_request(&s, keys, 2, copy, &l, now, &err);
        assert_true(rc == DNSBL_EREFUSED || rc == DNSBL_EINVAL);
    }

    /* no TSIG at all */
    ldns_pkt *q = query_pkt(1);
    len = to_wire(q, buf, sizeof buf);
    ldns_pkt_free(q);
    assert_int_equal(tsig_verify_request(&s, keys, 2, buf, &len, now, &err), DNSBL_ENOENT);

    /* truncated MAC: cut the MAC to 16 bytes and fix lengths: BADTRUNC */
    len = ldns_request(buf, sizeof buf, SECRET, "hmac-sha256.");
    /* the TSIG rdata ends with MAC(32) ID(2) error(2) otherlen(2) */
    size_t mac_end = len - 6;
    size_t mac_start = mac_end - 32;
    buf[mac_start - 1] = 16; /* MAC size */
    memmove(buf + mac_start + 16, buf + mac_end, 6);
    len -= 16;
    /* rdlength: the two bytes before the algorithm name */
    size_t rdlen_at = mac_start - 25;
    uint16_t rdl = (uint16_t)((buf[rdlen_at] << 8) | buf[rdlen_at + 1]);
    rdl -= 16;
    buf[rdlen_at] = (uint8_t)(rdl >> 8);
    buf[rdlen_at + 1] = (uint8_t)rdl;
    uint8_t keep[1024];
    size_t l2 = len;
    memcpy(keep, buf, len);
    assert_int_equal(tsig_verify_request(&s, keys, 2, buf, &len, now, &err), DNSBL_EREFUSED);
    assert_int_equal(err, TSIG_BADTRUNC);
    /* shorter than max(10, half): malformed */
    keep[mac_start - 1] = 8;
    assert_int_equal(tsig_verify_request(&s, keys, 2, keep, &l2, now, &err), DNSBL_EINVAL);
}

/* We answer a stream; ldns checks each message against the one before. */
static void test_answers_checked_by_ldns(void **state)
{
    (void)state;
    for (unsigned alg = 0; alg < 4; alg++) {
        if (!ALG_LDNS[alg])
            continue;
        struct tsig_key k;
        key_of(&k, alg, SECRET);
        uint8_t buf[1024];
        int64_t now = time(NULL);
        ldns_pkt *q = query_pkt(5);
        assert_int_equal(ldns_pkt_tsig_sign(q, KEYNAME, SECRET, 300, ALG_LDNS[alg], NULL),
                         LDNS_STATUS_OK);
        size_t len = to_wire(q, buf, sizeof buf);
        ldns_pkt_free(q);
        ldns_rdf *prior = mac_of(buf, len);
        struct tsig_session s;
        enum tsig_error err;
        assert_int_equal(tsig_verify_request(&s, &k, 1, buf, &len, now, &err), DNSBL_OK);
        for (int i = 0; i < 4; i++) {
            ldns_pkt *a = answer_pkt(5, "bl.example. 3600 IN TXT \"part\"");
            len = to_wire(a, buf, sizeof buf);
            ldns_pkt_free(a);
            assert_int_equal(tsig_sign(&s, buf, &len, sizeof buf, now, TSIG_ERR_NONE), DNSBL_OK);
            ldns_pkt *p = NULL;
            assert_int_equal(ldns_wire2pkt(&p, buf, len), LDNS_STATUS_OK);
            assert_true(ldns_pkt_tsig_verify_next(p, buf, len, KEYNAME, SECRET, prior, i > 0));
            ldns_pkt_free(p);
            ldns_rdf_deep_free(prior);
            prior = mac_of(buf, len);
        }
        ldns_rdf_deep_free(prior);
    }
}

/* ldns answers a stream to our request; we check it. */
static void test_answers_from_ldns(void **state)
{
    (void)state;
    for (unsigned alg = 0; alg < 4; alg++) {
        if (!ALG_LDNS[alg])
            continue;
        struct tsig_key k;
        key_of(&k, alg, SECRET);
        uint8_t buf[1024];
        int64_t now = time(NULL);
        struct tsig_session c = {.key = &k};
        ldns_pkt *q = query_pkt(6);
        size_t len = to_wire(q, buf, sizeof buf);
        ldns_pkt_free(q);
        assert_int_equal(tsig_sign(&c, buf, &len, sizeof buf, now, TSIG_ERR_NONE), DNSBL_OK);
        ldns_rdf *prior = mac_of(buf, len);
        for (int i = 0; i < 3; i++) {
            ldns_pkt *a = answer_pkt(6, "bl.example. 3600 IN A 127.0.0.2");
            assert_int_equal(
                ldns_pkt_tsig_sign_next(a, KEYNAME, SECRET, 300, ALG_LDNS[alg], prior, i > 0),
                LDNS_STATUS_OK);
            len = to_wire(a, buf, sizeof buf);
            ldns_pkt_free(a);
            ldns_rdf_deep_free(prior);
            prior = mac_of(buf, len);
            size_t plain =
                to_wire(a = answer_pkt(6, "bl.example. 3600 IN A 127.0.0.2"), buf + 512, 512);
            ldns_pkt_free(a);
            enum tsig_error err;
            assert_int_equal(tsig_verify_answer(&c, buf, &len, now, i == 2, &err), DNSBL_OK);
            assert_int_equal(len, plain);
            assert_memory_equal(buf, buf + 512, plain);
        }
        assert_true(tsig_session_ended_signed(&c));
        ldns_rdf_deep_free(prior);

        /* an answer signed with another secret: BADSIG */
        struct tsig_session c2 = {.key = &k};
        len = to_wire(q = query_pkt(6), buf, sizeof buf);
        ldns_pkt_free(q);
        assert_int_equal(tsig_sign(&c2, buf, &len, sizeof buf, now, TSIG_ERR_NONE), DNSBL_OK);
        prior = mac_of(buf, len);
        ldns_pkt *a = answer_pkt(6, "bl.example. 3600 IN A 127.0.0.2");
        assert_int_equal(
            ldns_pkt_tsig_sign_next(a, KEYNAME, OTHER_SECRET, 300, ALG_LDNS[alg], prior, 0),
            LDNS_STATUS_OK);
        len = to_wire(a, buf, sizeof buf);
        ldns_pkt_free(a);
        enum tsig_error err;
        uint8_t copy[1024];
        size_t l2 = len;
        memcpy(copy, buf, len);
        assert_int_equal(tsig_verify_answer(&c2, copy, &l2, now, false, &err), DNSBL_EREFUSED);
        assert_int_equal(err, TSIG_BADSIG);
        ldns_rdf_deep_free(prior);
    }
}

/* Our server and our client, with unsigned messages in the middle. */
static void test_stream_unsigned_middle(void **state)
{
    (void)state;
    struct tsig_key k;
    key_of(&k, 0, SECRET);
    int64_t now = 1700000000;
    uint8_t req[512], msgs[6][512];
    size_t lens[6];
    ldns_pkt *q = query_pkt(8);
    size_t rlen = to_wire(q, req, sizeof req);
    ldns_pkt_free(q);
    struct tsig_session c = {.key = &k}, s;
    enum tsig_error err;
    assert_int_equal(tsig_sign(&c, req, &rlen, sizeof req, now, TSIG_ERR_NONE), DNSBL_OK);
    assert_int_equal(tsig_verify_request(&s, &k, 1, req, &rlen, now + 5, &err), DNSBL_OK);
    for (int i = 0; i < 6; i++) {
        char rr[64];
        snprintf(rr, sizeof rr, "%d.bl.example. 60 IN A 127.0.0.2", i);
        ldns_pkt *a = answer_pkt(8, rr);
        lens[i] = to_wire(a, msgs[i], sizeof msgs[i]);
        ldns_pkt_free(a);
        if (i == 0 || i == 3 || i == 5)
            assert_int_equal(tsig_sign(&s, msgs[i], &lens[i], 512, now + 5, TSIG_ERR_NONE),
                             DNSBL_OK);
        else
            tsig_sign_skip(&s, msgs[i], lens[i]);
    }
    /* all fine */
    struct tsig_session c1 = c;
    for (int i = 0; i < 6; i++) {
        uint8_t m[512];
        size_t l = lens[i];
        memcpy(m, msgs[i], l);
        assert_int_equal(tsig_verify_answer(&c1, m, &l, now + 10, i == 5, &err), DNSBL_OK);
        assert_int_equal(tsig_session_ended_signed(&c1), i == 0 || i == 3 || i == 5);
    }
    /* an unsigned middle message changed: the next signed one fails */
    struct tsig_session c2 = c;
    for (int i = 0; i < 4; i++) {
        uint8_t m[512];
        size_t l = lens[i];
        memcpy(m, msgs[i], l);
        if (i == 2)
            m[l - 1] ^= 1;
        int rc = tsig_verify_answer(&c2, m, &l, now + 10, false, &err);
        assert_int_equal(rc, i == 3 ? DNSBL_EREFUSED : DNSBL_OK);
    }
    assert_int_equal(err, TSIG_BADSIG);
    /* the first answer unsigned, or the last unsigned: refused */
    struct tsig_session c3 = c;
    uint8_t m[512];
    size_t l = lens[1];
    memcpy(m, msgs[1], l);
    assert_int_equal(tsig_verify_answer(&c3, m, &l, now, false, &err), DNSBL_EREFUSED);
    struct tsig_session c4 = c;
    l = lens[0];
    memcpy(m, msgs[0], l);
    assert_int_equal(tsig_verify_answer(&c4, m, &l, now, false, &err), DNSBL_OK);
    l = lens[1];
    memcpy(m, msgs[1], l);
    assert_int_equal(tsig_verify_answer(&c4, m, &l, now, true, &err), DNSBL_EREFUSED);
    /* the answer too late for its time: BADTIME */
    struct tsig_session c5 = c;
    l = lens[0];
    memcpy(m, msgs[0], l);
    assert_int_equal(tsig_verify_answer(&c5, m, &l, now + 1000, false, &err), DNSBL_EREFUSED);
    assert_int_equal(err, TSIG_BADTIME);
    /* a session without a key checks nothing */
    struct tsig_session none = {0};
    l = lens[0];
    memcpy(m, msgs[0], l);
    assert_int_equal(tsig_verify_answer(&none, m, &l, now, true, &err), DNSBL_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_spec),          cmocka_unit_test(test_request_cross),
        cmocka_unit_test(test_request_refused),   cmocka_unit_test(test_answers_checked_by_ldns),
        cmocka_unit_test(test_answers_from_ldns), cmocka_unit_test(test_stream_unsigned_middle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
