/* addr: IPv4/IPv6 addresses and prefixes, their text forms, and the
 * reversed query-name forms of RFC 5782 (octets for IPv4, nibbles for IPv6).
 * Plain values only: nothing here allocates, callers own every buffer. */
#ifndef DNSBL_ADDR_H
#define DNSBL_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum addr_family { ADDR_V4 = 4, ADDR_V6 = 6 };

/* A prefix (an address is a prefix of full length). a[] always holds 16
 * bytes: an IPv4 prefix is kept IPv4-mapped (::ffff:a.b.c.d), so one key
 * space serves both families. plen counts in the family's own space: 0..32
 * for ADDR_V4, 0..128 for ADDR_V6. Host bits beyond plen are always zero
 * in a value produced by this module. An IPv6 prefix inside ::ffff:0:0/96
 * is normalised to ADDR_V4 (RFC 5782 test point ::FFFF:7F00:2 is 127.0.0.2). */
struct addr_prefix {
    uint8_t family;
    uint8_t plen;
    uint8_t a[16];
};

#define ADDR_TEXT_MAX 64 /* enough for any prefix in text, with its NUL */

/* Parse "192.0.2.7", "192.0.2.0/24", "2001:db8::/32", "::ffff:1.2.3.4".
 * On error returns DNSBL_EINVAL and writes a sentence to why, e.g.
 *   '300.1.2.3' is not an IPv4/IPv6 address or prefix
 *   '192.0.2.7/24' has host bits set; did you mean 192.0.2.0/24?
 * why may be NULL. */
int addr_parse(const char *text, struct addr_prefix *out, char *why, size_t whylen);

/* Text form: "192.0.2.7" for a full-length prefix, "192.0.2.0/24" otherwise;
 * IPv6 compressed lower case (RFC 5952). Returns the length written. */
size_t addr_format(const struct addr_prefix *p, char *buf, size_t cap);

/* Build from raw bytes: 4 bytes for ADDR_V4, 16 for ADDR_V6 (mapped IPv6
 * input normalises to V4); host bits past plen are cleared. */
void addr_from_bytes(struct addr_prefix *out, int family, const uint8_t *bytes, unsigned plen);

/* Clear host bits past plen. */
void addr_mask(struct addr_prefix *p);

/* Copy of p cut to plen (plen <= p->plen), host bits cleared. */
struct addr_prefix addr_truncate(const struct addr_prefix *p, unsigned plen);

/* Does outer cover inner (same family, outer->plen <= inner->plen, same bits)? */
bool addr_covers(const struct addr_prefix *outer, const struct addr_prefix *inner);

/* Total order: family (V4 first), then address bytes, then plen. */
int addr_compare(const struct addr_prefix *x, const struct addr_prefix *y);

/* What the labels in front of a zone name mean. */
enum addr_qname {
    ADDR_QNAME_FULL,    /* a whole key: 4 octets or 32 nibbles; *out is filled */
    ADDR_QNAME_PARTIAL, /* 1..3 octets or 1..31 nibbles: an empty non-terminal */
    ADDR_QNAME_INVALID, /* anything else: the name does not exist */
};

/* labels: uncompressed wire-format labels (length byte + bytes each), len
 * bytes long, ending right before the zone's apex name. len == 0 is the
 * apex itself and returns ADDR_QNAME_INVALID (the caller handles the apex).
 * Labels are matched case-insensitively (hex nibbles may be upper case);
 * octets may have leading zeros (as rbldnsd accepts). */
enum addr_qname addr_from_qname(const uint8_t *labels, size_t len, struct addr_prefix *out);

/* The reversed query name for a full address in front of zone ("bl.example"):
 * "7.2.0.192.bl.example". IPv4 gives 4 octet labels. Returns length written,
 * 0 if it did not fit. */
size_t addr_to_qname(const struct addr_prefix *p, const char *zone, char *buf, size_t cap);

#endif
