/* zone: the zones one server answers for. A zone's apex data (SOA, NS,
 * glue, any other names) comes from a master-format file parsed by ldns, or
 * is synthesised; it is rendered to wire form once here, so answering never
 * formats a record. zoneset_build makes a read-only set shared by all
 * workers; zoneset_free frees it and every zone in it (after no worker can
 * still see it: see the server's reload). */
#ifndef DNSBL_ZONE_H
#define DNSBL_ZONE_H

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acl.h"
#include "config.h"
#include "policy.h"

#define ZONE_LABELS_MAX 128 /* labels of a 255-byte name, the root included */

/* A question name as the query parser hands it over: the wire form as
 * sent (any case, not copied) and where each label starts, so a zone apex
 * is found with one comparison per zone instead of one per label and
 * zone. Filled by the parser; wire points into the query. */
struct zone_qname {
    const uint8_t *wire;          /* ends with the root label */
    uint8_t off[ZONE_LABELS_MAX]; /* off[i]: where label i starts; off[n - 1] == len - 1 */
    uint16_t len;                 /* bytes in wire, root label included */
    uint8_t n;                    /* labels, root included */
};

/* One record set as pre-rendered wire: TYPE CLASS TTL RDLENGTH RDATA per RR,
 * without the owner (the answer writes a compression pointer to the name). */
struct zone_rrset {
    uint8_t owner[ZONE_NAME_MAX]; /* wire, lower case, absolute */
    uint16_t owner_len;
    uint16_t type;
    uint16_t count;  /* RRs in the set */
    uint32_t ttl;
    uint8_t *rrs;    /* count times (type class ttl rdlen rdata), owner left out */
    size_t rrs_len;
    uint32_t *additional; /* NS sets: indexes in zone->sets of the targets' A/AAAA (glue) */
    size_t nadditional;
};

struct zone {
    char name[ZONE_NAME_MAX];     /* text, lower case, no trailing dot */
    uint8_t apex[ZONE_NAME_MAX];  /* wire, lower case */
    uint16_t apex_len;
    uint8_t apex_labels;          /* labels of apex, root included */
    struct zone_policy policy;    /* what it serves */
    struct acl acl;               /* who may ask; empty = everybody */
    bool synthesised;             /* no zone file: SOA/NS were made up */
    uint32_t neg_ttl;             /* min(SOA TTL, SOA MINIMUM), RFC 2308 */
    struct zone_rrset soa;        /* the apex SOA (its ttl is the SOA TTL) */
    struct zone_rrset soa_neg;    /* the same SOA with ttl = neg_ttl, for authority */
    uint32_t file_serial;         /* the serial of the zone file's (or synthesised) SOA */
    struct zone_rrset *sets;      /* every RRset of the file, sorted by owner then type */
    size_t nsets;
    struct zone_xfr_config xfr; /* who may transfer it, whom to NOTIFY */
    /* The published serial (store_pub.h), set by the main thread (a timer
     * and every reload) and read by every answer that holds the SOA: 0 =
     * never published (the zone file's serial stands), else
     * ZONE_PUB_SET | serial. The only field of a zone that changes. */
    _Atomic uint64_t pub;
};

#define ZONE_PUB_SET (UINT64_C(1) << 32)

/* The serial the zone's SOA carries now. */
static inline uint32_t zone_serial(const struct zone *z)
{
    uint64_t p = atomic_load_explicit(&((struct zone *)z)->pub, memory_order_relaxed);
    return p ? (uint32_t)p : z->file_serial;
}

/* Set the published serial (main thread). */
static inline void zone_set_pub(const struct zone *z, uint32_t serial)
{
    atomic_store_explicit(&((struct zone *)z)->pub, ZONE_PUB_SET | serial, memory_order_relaxed);
}

struct zoneset {
    struct zone **zones;
    size_t n;
    bool acl; /* some zone has an ACL: answers depend on who asks */
};

/* Load one zone. On error returns a negative dnsbl_err and writes a sentence
 * naming the file and line to why. */
int zone_load(const struct zone_config *zc, struct zone **out, char *why, size_t whylen);
void zone_free(struct zone *z);

int zoneset_build(const struct zone_config *zcs, size_t n, struct zoneset **out, char *why,
                  size_t whylen);
void zoneset_free(struct zoneset *zs);

/* The zone whose apex is the longest suffix of qname (at a label
 * boundary, ASCII case ignored), or NULL. *apex_off gets the offset of the
 * apex inside qname. */
const struct zone *zoneset_find(const struct zoneset *zs, const struct zone_qname *qname,
                                size_t *apex_off);

/* RRsets at an exact owner name (wire, lower case): first index and count
 * in z->sets, 0 if none. */
size_t zone_find_owner(const struct zone *z, const uint8_t *owner, size_t len, size_t *first);

/* Does any name of the zone file lie strictly below owner (owner is then an
 * empty non-terminal if it has no records of its own)? */
bool zone_has_below(const struct zone *z, const uint8_t *owner, size_t len);

/* The length of the longest owner name of the zone file (sets are sorted
 * by length first): a longer name has no records and nothing below it. */
static inline size_t zone_owner_len_max(const struct zone *z)
{
    return z->nsets ? z->sets[z->nsets - 1].owner_len : 0;
}

#endif
