/* dns: names of the protocol's numbers, from the IANA "Domain Name System
 * (DNS) Parameters" registry. Tables indexed by number keep each name next
 * to its value; only the query log asks, once per logged query. */
#include "dns.h"

#include <stddef.h>

#define DNS_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Data types up to 127 (RFC 1035 3.2.2 onwards). */
static const char *const dns_types[] = {
    [1] = "A",         [2] = "NS",          [3] = "MD",          [4] = "MF",      [5] = "CNAME",
    [6] = "SOA",       [7] = "MB",          [8] = "MG",          [9] = "MR",      [10] = "NULL",
    [11] = "WKS",      [12] = "PTR",        [13] = "HINFO",      [14] = "MINFO",  [15] = "MX",
    [16] = "TXT",      [17] = "RP",         [18] = "AFSDB",      [19] = "X25",    [20] = "ISDN",
    [21] = "RT",       [22] = "NSAP",       [23] = "NSAP-PTR",   [24] = "SIG",    [25] = "KEY",
    [26] = "PX",       [27] = "GPOS",       [28] = "AAAA",       [29] = "LOC",    [30] = "NXT",
    [33] = "SRV",      [35] = "NAPTR",      [36] = "KX",         [37] = "CERT",   [38] = "A6",
    [39] = "DNAME",    [41] = "OPT",        [42] = "APL",        [43] = "DS",     [44] = "SSHFP",
    [45] = "IPSECKEY", [46] = "RRSIG",      [47] = "NSEC",       [48] = "DNSKEY", [49] = "DHCID",
    [50] = "NSEC3",    [51] = "NSEC3PARAM", [52] = "TLSA",       [53] = "SMIMEA", [55] = "HIP",
    [59] = "CDS",      [60] = "CDNSKEY",    [61] = "OPENPGPKEY", [62] = "CSYNC",  [63] = "ZONEMD",
    [64] = "SVCB",     [65] = "HTTPS",      [99] = "SPF",        [104] = "NID",   [105] = "L32",
    [106] = "L64",     [107] = "LP",        [108] = "EUI48",     [109] = "EUI64",
};

/* TKEY, TSIG, the meta and question types of RFC 1035 3.2.3, URI, CAA. */
static const char *const dns_types_249[] = {
    [0] = "TKEY",  [1] = "TSIG", [2] = "IXFR", [3] = "AXFR", [4] = "MAILB",
    [5] = "MAILA", [6] = "ANY",  [7] = "URI",  [8] = "CAA",
};

const char *dns_type_name(uint16_t type)
{
    if (type < DNS_COUNT(dns_types))
        return dns_types[type];
    if (type >= 249 && type - 249u < DNS_COUNT(dns_types_249))
        return dns_types_249[type - 249];
    if (type == 32768)
        return "TA";
    if (type == 32769)
        return "DLV";
    return NULL;
}

static const char *const dns_classes[] = {
    [1] = "IN", [3] = "CH", [4] = "HS", [254] = "NONE", [255] = "ANY",
};

const char *dns_class_name(uint16_t cls)
{
    return cls < DNS_COUNT(dns_classes) ? dns_classes[cls] : NULL;
}

/* 16 is BADVERS with an OPT and BADSIG in a TSIG record (RFC 8945 3):
 * the log reports what the header and OPT carry, so BADVERS. */
static const char *const dns_rcodes[] = {
    [0] = "NOERROR",  [1] = "FORMERR",    [2] = "SERVFAIL", [3] = "NXDOMAIN",  [4] = "NOTIMP",
    [5] = "REFUSED",  [6] = "YXDOMAIN",   [7] = "YXRRSET",  [8] = "NXRRSET",   [9] = "NOTAUTH",
    [10] = "NOTZONE", [11] = "DSOTYPENI", [16] = "BADVERS", [17] = "BADKEY",   [18] = "BADTIME",
    [19] = "BADMODE", [20] = "BADNAME",   [21] = "BADALG",  [22] = "BADTRUNC", [23] = "BADCOOKIE",
};

const char *dns_rcode_name(uint16_t rcode)
{
    return rcode < DNS_COUNT(dns_rcodes) ? dns_rcodes[rcode] : NULL;
}

static const char *const dns_opcodes[] = {
    [0] = "QUERY", [1] = "IQUERY", [2] = "STATUS", [4] = "NOTIFY", [5] = "UPDATE", [6] = "DSO",
};

const char *dns_opcode_name(uint8_t opcode)
{
    return opcode < DNS_COUNT(dns_opcodes) ? dns_opcodes[opcode] : NULL;
}
