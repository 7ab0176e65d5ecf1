/* Unit tests for addr: parsing and its error texts, printing, masking,
 * ordering, and the reversed query-name forms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "err.h"

static struct addr_prefix parse_ok(const char *text)
{
    struct addr_prefix p;
    char why[256] = "";
    int rc = addr_parse(text, &p, why, sizeof why);
    if (rc != DNSBL_OK)
        fail_msg("addr_parse(%s) failed: %s", text, why);
    return p;
}

static void check_fmt(const char *in, int family, unsigned plen, const char *want)
{
    struct addr_prefix p = parse_ok(in);
    char buf[ADDR_TEXT_MAX];
    assert_int_equal(p.family, family);
    assert_int_equal(p.plen, plen);
    size_t n = addr_format(&p, buf, sizeof buf);
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
}

static void test_parse_valid(void **state)
{
    (void)state;
    check_fmt("192.0.2.7", ADDR_V4, 32, "192.0.2.7");
    check_fmt("192.0.2.0/24", ADDR_V4, 24, "192.0.2.0/24");
    check_fmt("0.0.0.0/0", ADDR_V4, 0, "0.0.0.0/0");
    check_fmt("10.0.0.0/8", ADDR_V4, 8, "10.0.0.0/8");
    check_fmt("192.0.2.7/32", ADDR_V4, 32, "192.0.2.7");
    check_fmt("2001:db8::/32", ADDR_V6, 32, "2001:db8::/32");
    check_fmt("2001:DB8:0:0:0:0:0:1", ADDR_V6, 128, "2001:db8::1");
    check_fmt("2001:0db8:0000:0000:0001:0000:0000:0001", ADDR_V6, 128, "2001:db8::1:0:0:1");
    check_fmt("2001:db8:0:0:1:0:0:1/128", ADDR_V6, 128, "2001:db8::1:0:0:1");
    check_fmt("::", ADDR_V6, 128, "::");
    check_fmt("::/0", ADDR_V6, 0, "::/0");
    check_fmt("::1", ADDR_V6, 128, "::1");
    check_fmt("fe80::/10", ADDR_V6, 10, "fe80::/10");

    struct addr_prefix p = parse_ok("192.0.2.7");
    static const uint8_t want[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7};
    assert_memory_equal(p.a, want, 16);
}

static void test_parse_mapped(void **state)
{
    (void)state;
    check_fmt("::ffff:1.2.3.4", ADDR_V4, 32, "1.2.3.4");
    check_fmt("::FFFF:7F00:2", ADDR_V4, 32, "127.0.0.2");
    check_fmt("::ffff:192.0.2.0/120", ADDR_V4, 24, "192.0.2.0/24");
    check_fmt("::ffff:0:0/96", ADDR_V4, 0, "0.0.0.0/0");
    /* Shorter than /96 is not inside the mapped space: stays IPv6. */
    check_fmt("::/95", ADDR_V6, 95, "::/95");
}

static void check_err(const char *in, const char *want)
{
    struct addr_prefix p;
    memset(&p, 0xaa, sizeof p);
    struct addr_prefix before = p;
    char why[256] = "";
    assert_int_equal(addr_parse(in, &p, why, sizeof why), DNSBL_EINVAL);
    assert_string_equal(why, want);
    assert_memory_equal(&p, &before, sizeof p); /* untouched on error */
}

static void test_parse_errors(void **state)
{
    (void)state;
    check_err("300.1.2.3", "'300.1.2.3' is not an IPv4/IPv6 address or prefix");
    check_err("", "'' is not an IPv4/IPv6 address or prefix");
    check_err("1.2.3", "'1.2.3' is not an IPv4/IPv6 address or prefix");
    check_err("1.2.3.4.5", "'1.2.3.4.5' is not an IPv4/IPv6 address or prefix");
    check_err(" 1.2.3.4", "' 1.2.3.4' is not an IPv4/IPv6 address or prefix");
    check_err("1.2.3.4 ", "'1.2.3.4 ' is not an IPv4/IPv6 address or prefix");
    check_err("1.2.3.4x", "'1.2.3.4x' is not an IPv4/IPv6 address or prefix");
    check_err("1.2.3.4/", "'1.2.3.4/' is not an IPv4/IPv6 address or prefix");
    check_err("1.2.3.4/ 8", "'1.2.3.4/ 8' is not an IPv4/IPv6 address or prefix");
    check_err("1.2.3.4/+8", "'1.2.3.4/+8' is not an IPv4/IPv6 address or prefix");
    check_err("1.2.3.4/-1", "'1.2.3.4/-1' is not an IPv4/IPv6 address or prefix");
    check_err("1.2.3.4/32x", "'1.2.3.4/32x' is not an IPv4/IPv6 address or prefix");
    check_err("1.2.3.4/3/2", "'1.2.3.4/3/2' is not an IPv4/IPv6 address or prefix");
    check_err("/24", "'/24' is not an IPv4/IPv6 address or prefix");
    check_err("example.com", "'example.com' is not an IPv4/IPv6 address or prefix");
    check_err("2001:db8::g", "'2001:db8::g' is not an IPv4/IPv6 address or prefix");
    check_err("2001:db8:::1", "'2001:db8:::1' is not an IPv4/IPv6 address or prefix");
    check_err("192.0.2.0/33", "'192.0.2.0/33' has a prefix length out of range (0-32)");
    check_err("192.0.2.0/99999999999999999999",
              "'192.0.2.0/99999999999999999999' has a prefix length out of range (0-32)");
    check_err("2001:db8::/129", "'2001:db8::/129' has a prefix length out of range (0-128)");
    check_err("192.0.2.7/24", "'192.0.2.7/24' has host bits set; did you mean 192.0.2.0/24?");
    check_err("2001:db8::1/32", "'2001:db8::1/32' has host bits set; did you mean 2001:db8::/32?");
    check_err("10.1.0.0/9", "'10.1.0.0/9' has host bits set; did you mean 10.0.0.0/9?");

    /* why may be NULL, or tiny: still NUL-terminated. */
    struct addr_prefix p;
    assert_int_equal(addr_parse("nope", &p, NULL, 0), DNSBL_EINVAL);
    char small[8];
    assert_int_equal(addr_parse("nope", &p, small, sizeof small), DNSBL_EINVAL);
    assert_string_equal(small, "'nope' ");
}

static void test_format_small_buffer(void **state)
{
    (void)state;
    struct addr_prefix p = parse_ok("192.0.2.0/24");
    char buf[6];
    assert_int_equal(addr_format(&p, buf, sizeof buf), 5);
    assert_string_equal(buf, "192.0");
}

static void test_mask_truncate_covers(void **state)
{
    (void)state;
    struct addr_prefix p = parse_ok("192.0.2.77");
    struct addr_prefix t = addr_truncate(&p, 25);
    char buf[ADDR_TEXT_MAX];
    addr_format(&t, buf, sizeof buf);
    assert_string_equal(buf, "192.0.2.0/25");
    t = addr_truncate(&p, 0);
    addr_format(&t, buf, sizeof buf);
    assert_string_equal(buf, "0.0.0.0/0");
    /* The mapped prefix stays: a V4 /0 is not the same key as a V6 /0. */
    assert_int_equal(t.a[10], 0xff);
    assert_int_equal(t.a[11], 0xff);

    struct addr_prefix net = parse_ok("192.0.2.0/24");
    struct addr_prefix other = parse_ok("192.0.3.1");
    struct addr_prefix v6 = parse_ok("2001:db8::1");
    struct addr_prefix v6net = parse_ok("2001:db8::/33");
    assert_true(addr_covers(&net, &p));
    assert_true(addr_covers(&net, &net));
    assert_false(addr_covers(&p, &net));
    assert_false(addr_covers(&net, &other));
    assert_false(addr_covers(&net, &v6));
    assert_true(addr_covers(&v6net, &v6));
    struct addr_prefix all4 = parse_ok("0.0.0.0/0");
    assert_true(addr_covers(&all4, &p));
    assert_false(addr_covers(&all4, &v6));

    uint8_t raw[16] = {0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0xff, 0xff,
                       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    struct addr_prefix b;
    addr_from_bytes(&b, ADDR_V6, raw, 36);
    addr_format(&b, buf, sizeof buf);
    assert_string_equal(buf, "2001:db8:f000::/36");
    uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 2};
    addr_from_bytes(&b, ADDR_V6, mapped, 128);
    assert_int_equal(b.family, ADDR_V4);
    assert_int_equal(b.plen, 32);
    uint8_t four[4] = {198, 51, 100, 9};
    addr_from_bytes(&b, ADDR_V4, four, 30);
    addr_format(&b, buf, sizeof buf);
    assert_string_equal(buf, "198.51.100.8/30");
}

static void test_compare(void **state)
{
    (void)state;
    struct addr_prefix a = parse_ok("10.0.0.0/8");
    struct addr_prefix b = parse_ok("10.0.0.0/16");
    struct addr_prefix c = parse_ok("10.0.0.1");
    struct addr_prefix d = parse_ok("::1");
    struct addr_prefix e = parse_ok("255.255.255.255");
    assert_int_equal(addr_compare(&a, &a), 0);
    assert_true(addr_compare(&a, &b) < 0);
    assert_true(addr_compare(&b, &a) > 0);
    assert_true(addr_compare(&b, &c) < 0);
    assert_true(addr_compare(&e, &d) < 0); /* V4 before V6 */
    assert_true(addr_compare(&d, &e) > 0);
}

/* Build wire labels from a dotted name ("" -> empty). */
static size_t wire_from_dotted(const char *name, uint8_t *out, size_t cap)
{
    size_t n = 0;
    const char *s = name;
    if (!*s)
        return 0;
    for (;;) {
        const char *dot = strchr(s, '.');
        size_t l = dot ? (size_t)(dot - s) : strlen(s);
        assert_true(n + 1 + l <= cap);
        out[n++] = (uint8_t)l;
        memcpy(out + n, s, l);
        n += l;
        if (!dot)
            break;
        s = dot + 1;
    }
    return n;
}

static enum addr_qname qname(const char *dotted, struct addr_prefix *out)
{
    uint8_t wire[512];
    size_t n = wire_from_dotted(dotted, wire, sizeof wire);
    return addr_from_qname(wire, n, out);
}

static void expect_full(const char *dotted, const char *want)
{
    struct addr_prefix p;
    memset(&p, 0, sizeof p);
    enum addr_qname r = qname(dotted, &p);
    if (r != ADDR_QNAME_FULL)
        fail_msg("%s: want FULL, got %d", dotted, (int)r);
    char buf[ADDR_TEXT_MAX];
    addr_format(&p, buf, sizeof buf);
    assert_string_equal(buf, want);
}

static void expect_kind(const char *dotted, enum addr_qname want)
{
    struct addr_prefix p;
    enum addr_qname r = qname(dotted, &p);
    if (r != want)
        fail_msg("'%s': want %d, got %d", dotted, (int)want, (int)r);
}

#define NIB32_DB8_1 "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2"

static void test_qname_full(void **state)
{
    (void)state;
    expect_full("7.2.0.192", "192.0.2.7");
    expect_full("2.0.0.127", "127.0.0.2");
    expect_full("007.02.000.192", "192.0.2.7"); /* leading zeros accepted */
    expect_full("255.255.255.255", "255.255.255.255");
    expect_full("0.0.0.0", "0.0.0.0");
    expect_full(NIB32_DB8_1, "2001:db8::1");
    expect_full("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2", "2001:db8::1");
    expect_full("F.E.D.C.B.A.9.8.7.6.5.4.3.2.1.0.f.e.d.c.b.a.9.8.7.6.5.4.3.2.1.0",
                "123:4567:89ab:cdef:123:4567:89ab:cdef");
    /* RFC 5782 IPv6 test point ::FFFF:7F00:2 is the IPv4 127.0.0.2. */
    struct addr_prefix p;
    assert_int_equal(qname("2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0", &p),
                     ADDR_QNAME_FULL);
    assert_int_equal(p.family, ADDR_V4);
    assert_int_equal(p.plen, 32);
    struct addr_prefix tp = parse_ok("127.0.0.2");
    assert_int_equal(addr_compare(&p, &tp), 0);
}

static void test_qname_partial(void **state)
{
    (void)state;
    expect_kind("2.0.192", ADDR_QNAME_PARTIAL);
    expect_kind("192", ADDR_QNAME_PARTIAL);
    expect_kind("255.010", ADDR_QNAME_PARTIAL);
    expect_kind("a", ADDR_QNAME_PARTIAL);
    expect_kind("A.B", ADDR_QNAME_PARTIAL);
    expect_kind("a.b.c.d", ADDR_QNAME_PARTIAL); /* 4 nibbles: partial IPv6 */
    expect_kind("1.2.3.4.5", ADDR_QNAME_PARTIAL);
    expect_kind("8.b.d.0.1.0.0.2", ADDR_QNAME_PARTIAL);
    /* 31 nibbles */
    expect_kind("0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2",
                ADDR_QNAME_PARTIAL);
}

static void test_qname_invalid(void **state)
{
    (void)state;
    expect_kind("", ADDR_QNAME_INVALID); /* apex */
    expect_kind("300.2.0.192", ADDR_QNAME_INVALID);
    expect_kind("256", ADDR_QNAME_INVALID);
    expect_kind("x", ADDR_QNAME_INVALID);
    expect_kind("x.2.0.192", ADDR_QNAME_INVALID);
    expect_kind("g", ADDR_QNAME_INVALID);
    expect_kind("0001.2.0.192", ADDR_QNAME_INVALID);
    expect_kind("-1.2.0.192", ADDR_QNAME_INVALID);
    expect_kind("10.a", ADDR_QNAME_INVALID);         /* mixed families */
    expect_kind("10.2.0.192.5", ADDR_QNAME_INVALID); /* 5 labels, not nibbles */
    expect_kind("1.2.3.4.10", ADDR_QNAME_INVALID);   /* 5+ labels with a non-nibble */
    expect_kind("www.2.0.192", ADDR_QNAME_INVALID);
    expect_kind("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.0",
                ADDR_QNAME_INVALID); /* 33 labels */
    expect_kind("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2x",
                ADDR_QNAME_INVALID);

    /* Malformed wire: empty label, a length running past the end. */
    struct addr_prefix p;
    const uint8_t empty_label[] = {1, '1', 0, 1, '2'};
    assert_int_equal(addr_from_qname(empty_label, sizeof empty_label, &p), ADDR_QNAME_INVALID);
    const uint8_t overrun[] = {1, '1', 5, '2'};
    assert_int_equal(addr_from_qname(overrun, sizeof overrun, &p), ADDR_QNAME_INVALID);
}

static void check_roundtrip(const char *text, const char *zone, const char *want_name)
{
    struct addr_prefix p = parse_ok(text), q;
    char name[300];
    size_t n = addr_to_qname(&p, zone, name, sizeof name);
    assert_int_equal(n, strlen(want_name));
    assert_string_equal(name, want_name);
    /* Strip the zone and decode the labels back. */
    char front[300];
    size_t zl = strlen(zone);
    size_t fl = zl ? n - zl - 1 : n;
    memcpy(front, name, fl);
    front[fl] = '\0';
    assert_int_equal(qname(front, &q), ADDR_QNAME_FULL);
    assert_int_equal(addr_compare(&p, &q), 0);
}

static void test_qname_roundtrip(void **state)
{
    (void)state;
    check_roundtrip("192.0.2.7", "bl.example", "7.2.0.192.bl.example");
    check_roundtrip("10.0.100.255", "bl.example", "255.100.0.10.bl.example");
    check_roundtrip("0.0.0.0", "z", "0.0.0.0.z");
    check_roundtrip("1.2.3.4", "", "4.3.2.1");
    check_roundtrip("2001:db8::1", "bl.example", NIB32_DB8_1 ".bl.example");
    check_roundtrip("::ffff:127.0.0.2", "bl.example", "2.0.0.127.bl.example");

    struct addr_prefix p = parse_ok("192.0.2.7");
    char small[20];
    assert_int_equal(addr_to_qname(&p, "bl.example", small, sizeof small), 0);
    char exact[21];
    assert_int_equal(addr_to_qname(&p, "bl.example", exact, sizeof exact), 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),          cmocka_unit_test(test_parse_mapped),
        cmocka_unit_test(test_parse_errors),         cmocka_unit_test(test_format_small_buffer),
        cmocka_unit_test(test_mask_truncate_covers), cmocka_unit_test(test_compare),
        cmocka_unit_test(test_qname_full),           cmocka_unit_test(test_qname_partial),
        cmocka_unit_test(test_qname_invalid),        cmocka_unit_test(test_qname_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
