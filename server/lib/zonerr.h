/* zonerr: the records of a zone's answer set, the one home of how dnsbld's
 * answers become DNS names (doc/formats.md 4.8, doc/store-format.md
 * "Published view"): `dnsblctl export --format zone` prints them and
 * `dnsblctl publish` stores them for zone transfers. Nothing is kept
 * between calls; the pointers in a record live until the callback returns. */
#ifndef DNSBL_ZONERR_H
#define DNSBL_ZONERR_H

#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "store.h"

#define ZONERR_TYPE_A 1
#define ZONERR_TYPE_HINFO 13
#define ZONERR_TYPE_TXT 16
#define ZONERR_NAME_MAX 255 /* a wire name, RFC 1035 2.3.4 */

/* One record, class IN. */
struct zonerr_rr {
    const uint8_t *owner; /* wire form, lower case, absolute (the zone included) */
    uint16_t owner_len;
    uint16_t type;
    uint32_t ttl;
    const uint8_t *rdata;
    uint16_t rdlen;
};

/* Returns 0 to go on, a dnsbl_err (< 0) to stop with it. */
typedef int (*zonerr_emit_fn)(const struct zonerr_rr *rr, void *arg);

/* Every record zone (text, "bl.example", lower case, no trailing dot)
 * answers under policy zp at now for the entries of s (NULL: an empty
 * store), apex records excepted: the RFC 5782 test point first, then the
 * IPv4 and IPv6 trees. Octet (IPv4) or nibble (IPv6) aligned prefixes are
 * wildcards, other prefixes split into them; a name that must exist under
 * a wildcard but answers no listing holds only an HINFO filler. The
 * entries' prefixes are held in memory meanwhile. DNSBL_OK, a dnsbl_err,
 * or what emit stopped with. */
int zonerr_generate(struct store *s, const struct zone_policy *zp, const char *zone, int64_t now,
                    zonerr_emit_fn emit, void *arg);

/* A text name ("a.b", "a.b.", "" or "." for the root) into lower-case
 * wire form in out[ZONERR_NAME_MAX]; DNSBL_EINVAL for an empty label, a
 * label over 63 bytes or a name over 255. */
int zonerr_name_to_wire(const char *text, uint8_t *out, size_t *len);

#endif
