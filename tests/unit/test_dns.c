/* Unit tests for the DNS numbers' names (dns.h): the names the query log
 * prints, checked against ldns's own tables where ldns has one, so a typo
 * in either shows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <ldns/ldns.h>

#include "dns.h"

static void test_type_names(void **state)
{
    (void)state;
    assert_string_equal(dns_type_name(DNS_TYPE_A), "A");
    assert_string_equal(dns_type_name(DNS_TYPE_TXT), "TXT");
    assert_string_equal(dns_type_name(DNS_TYPE_AAAA), "AAAA");
    assert_string_equal(dns_type_name(DNS_TYPE_ANY), "ANY"); /* was TYPE255 in the log */
    assert_string_equal(dns_type_name(DNS_TYPE_AXFR), "AXFR");
    assert_string_equal(dns_type_name(DNS_TYPE_IXFR), "IXFR");
    assert_string_equal(dns_type_name(DNS_TYPE_TSIG), "TSIG");
    assert_string_equal(dns_type_name(249), "TKEY");
    assert_string_equal(dns_type_name(257), "CAA");
    assert_string_equal(dns_type_name(65), "HTTPS");
    assert_string_equal(dns_type_name(32769), "DLV");
    assert_null(dns_type_name(0));
    assert_null(dns_type_name(666));
    assert_null(dns_type_name(258));
    assert_null(dns_type_name(65535));
    /* Every name given agrees with ldns where ldns knows the type. */
    for (unsigned t = 0; t < 65536; t++) {
        const char *ours = dns_type_name((uint16_t)t);
        const ldns_rr_descriptor *d = ldns_rr_descript((uint16_t)t);
        if (ours == NULL || d == NULL || d->_name == NULL || d->_type != t)
            continue;
        if (strcmp(ours, d->_name) != 0)
            fail_msg("type %u: %s here, %s in ldns", t, ours, d->_name);
    }
}

static void test_class_names(void **state)
{
    (void)state;
    assert_string_equal(dns_class_name(DNS_CLASS_IN), "IN");
    assert_string_equal(dns_class_name(DNS_CLASS_CH), "CH");
    assert_string_equal(dns_class_name(DNS_CLASS_NONE), "NONE");
    assert_string_equal(dns_class_name(DNS_CLASS_ANY), "ANY");
    assert_null(dns_class_name(0));
    assert_null(dns_class_name(2));
    assert_null(dns_class_name(256));
}

static void test_rcode_names(void **state)
{
    (void)state;
    assert_string_equal(dns_rcode_name(DNS_RCODE_NOERROR), "NOERROR");
    assert_string_equal(dns_rcode_name(DNS_RCODE_FORMERR), "FORMERR");
    assert_string_equal(dns_rcode_name(DNS_RCODE_NOTIMP), "NOTIMP");
    assert_string_equal(dns_rcode_name(DNS_RCODE_REFUSED), "REFUSED");
    assert_string_equal(dns_rcode_name(DNS_RCODE_NOTAUTH), "NOTAUTH");
    assert_string_equal(dns_rcode_name(DNS_RCODE_BADVERS), "BADVERS");
    assert_string_equal(dns_rcode_name(DNS_RCODE_BADKEY), "BADKEY");
    assert_string_equal(dns_rcode_name(23), "BADCOOKIE");
    assert_null(dns_rcode_name(12));
    assert_null(dns_rcode_name(24));
    assert_null(dns_rcode_name(4095));
    /* The header rcodes agree with ldns's table, spelled its way. */
    static const struct {
        uint16_t rcode;
        const char *ldns;
    } same[] = {{0, "NOERROR"}, {1, "FORMERR"}, {2, "SERVFAIL"}, {3, "NXDOMAIN"},
                {4, "NOTIMPL"}, {5, "REFUSED"}, {6, "YXDOMAIN"}, {7, "YXRRSET"},
                {8, "NXRRSET"}, {9, "NOTAUTH"}, {10, "NOTZONE"}};
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        ldns_lookup_table *l = ldns_lookup_by_id(ldns_rcodes, same[i].rcode);
        assert_non_null(l);
        assert_string_equal(l->name, same[i].ldns);
        assert_non_null(dns_rcode_name(same[i].rcode));
    }
}

static void test_opcode_names(void **state)
{
    (void)state;
    assert_string_equal(dns_opcode_name(DNS_OPCODE_QUERY), "QUERY");
    assert_string_equal(dns_opcode_name(DNS_OPCODE_IQUERY), "IQUERY");
    assert_string_equal(dns_opcode_name(DNS_OPCODE_STATUS), "STATUS");
    assert_string_equal(dns_opcode_name(DNS_OPCODE_NOTIFY), "NOTIFY");
    assert_string_equal(dns_opcode_name(DNS_OPCODE_UPDATE), "UPDATE");
    assert_null(dns_opcode_name(3));
    assert_null(dns_opcode_name(15));
    assert_null(dns_opcode_name(255));
    assert_int_equal(dns_flags_opcode(0x7800 | 0x0100), 15);
    assert_int_equal(dns_flags_opcode(DNS_FLAG_QR | (5 << 11) | DNS_FLAG_CD), 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_class_names),
        cmocka_unit_test(test_rcode_names),
        cmocka_unit_test(test_opcode_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
