/* dns: the DNS protocol's numbers (types, classes, rcodes, opcodes, header
 * flags) and their text names, for the packet code and the query log.
 * Names are static strings: nothing here allocates, nobody frees them. */
#ifndef DNSBL_DNS_H
#define DNSBL_DNS_H

#include <stdint.h>

#define DNS_HEADER_LEN 12

/* RR types (RFC 1035 3.2.2, 3.2.3 and the IANA registry); only those the
 * server answers, refuses or must recognise in a query have a constant. */
#define DNS_TYPE_A 1
#define DNS_TYPE_NS 2
#define DNS_TYPE_SOA 6
#define DNS_TYPE_TXT 16
#define DNS_TYPE_AAAA 28
#define DNS_TYPE_OPT 41   /* RFC 6891 */
#define DNS_TYPE_TSIG 250 /* RFC 8945 */
#define DNS_TYPE_IXFR 251 /* RFC 1995 */
#define DNS_TYPE_AXFR 252 /* RFC 5936 */
#define DNS_TYPE_ANY 255

#define DNS_CLASS_IN 1
#define DNS_CLASS_CH 3
#define DNS_CLASS_NONE 254 /* RFC 2136 */
#define DNS_CLASS_ANY 255

/* RCODEs: 0-15 fit the header, the rest need an OPT (RFC 6891) or are
 * TSIG errors carried in the TSIG record (RFC 8945 5.3). */
#define DNS_RCODE_NOERROR 0
#define DNS_RCODE_FORMERR 1
#define DNS_RCODE_SERVFAIL 2
#define DNS_RCODE_NXDOMAIN 3
#define DNS_RCODE_NOTIMP 4
#define DNS_RCODE_REFUSED 5
#define DNS_RCODE_NOTAUTH 9
#define DNS_RCODE_BADVERS 16 /* BADSIG in a TSIG record */
#define DNS_RCODE_BADKEY 17
#define DNS_RCODE_BADTIME 18

#define DNS_OPCODE_QUERY 0
#define DNS_OPCODE_IQUERY 1 /* obsolete, RFC 3425 */
#define DNS_OPCODE_STATUS 2
#define DNS_OPCODE_NOTIFY 4 /* RFC 1996 */
#define DNS_OPCODE_UPDATE 5 /* RFC 2136 */

/* Header flags, as the 16-bit word after the ID (RFC 1035 4.1.1, RFC 4035). */
#define DNS_FLAG_QR 0x8000
#define DNS_FLAG_OPCODE 0x7800
#define DNS_FLAG_AA 0x0400
#define DNS_FLAG_TC 0x0200
#define DNS_FLAG_RD 0x0100
#define DNS_FLAG_RA 0x0080
#define DNS_FLAG_Z 0x0040
#define DNS_FLAG_AD 0x0020
#define DNS_FLAG_CD 0x0010
#define DNS_EDNS_DO 0x8000 /* in the OPT record's TTL */

static inline uint8_t dns_flags_opcode(uint16_t flags)
{
    return (uint8_t)((flags & DNS_FLAG_OPCODE) >> 11);
}

/* The mnemonic ("A", "ANY", "NOTAUTH", "QUERY", "IN"), or NULL for a value
 * without one: callers print the RFC 3597 form (TYPE65280) themselves. */
const char *dns_type_name(uint16_t type);
const char *dns_class_name(uint16_t cls);
const char *dns_rcode_name(uint16_t rcode);
const char *dns_opcode_name(uint8_t opcode);

#endif
