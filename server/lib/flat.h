/* flat: the read-optimised copy of the store's entries that lookups search
 * instead of the B-tree: one blob of sorted fixed-width keys, each entry's
 * parent (the nearest entry containing it) and its value bytes, stored once
 * per distinct value. A flat_builder owns its arrays until
 * flat_builder_free; a flat_view only points into a blob the caller keeps
 * mapped, and allocates nothing. */
#ifndef DNSBL_FLAT_H
#define DNSBL_FLAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define FLAT_VALUE_MAX 65535u /* longest value bytes an entry may have */
#define FLAT_NONE UINT32_MAX  /* no parent */
#define FLAT_ENTRIES_MAX 0xfffffffeu

struct flat_builder;

int flat_builder_new(struct flat_builder **out); /* DNSBL_OK or DNSBL_ENOMEM */
void flat_builder_free(struct flat_builder *b);

/* Adds one entry; entries come in the store's key order (IPv4 before
 * IPv6, then address bytes, then prefix length), each prefix once.
 * DNSBL_EINVAL for an invalid prefix (host bits set, length out of range),
 * one out of order or repeated, or a value longer than FLAT_VALUE_MAX;
 * DNSBL_ENOMEM. The value bytes are copied (or matched to an equal value
 * already added). */
int flat_builder_add(struct flat_builder *b, const struct addr_prefix *p, const void *val,
                     size_t len);

/* The blob's size in bytes, and the number of distinct values in it. */
size_t flat_builder_size(const struct flat_builder *b);
size_t flat_builder_values(const struct flat_builder *b);

/* Writes the blob (flat_builder_size bytes) into dst. */
void flat_builder_write(const struct flat_builder *b, void *dst);

/* A blob, opened. Fields are for this module and its tests; the arrays
 * may lie at any alignment (LMDB keeps a small value inside a page), so
 * they are read through memcpy, which is one load on the usual CPUs. */
struct flat_view {
    size_t n4, n6;          /* entries per family */
    const uint8_t *k4;      /* n4 u64 keys: IPv4 address << 8 | prefix length */
    const uint8_t *k6;      /* n6 keys of 3 u64: address high, low, length */
    const uint8_t *l4, *l6; /* 2 u32 per entry: parent index, value offset */
    const uint8_t *vals;    /* values: each u16 length (host order) + bytes */
    size_t vals_len;
    const uint8_t *jump; /* 2^jbits + 1 u32: where each IPv4 bucket starts */
    unsigned jbits;
};

/* Checks the header and that every array lies inside len bytes; false when
 * blob is not a flat blob of this version (the caller then does without).
 * O(1): flat_view_verify checks the rest. */
bool flat_view_open(struct flat_view *v, const void *blob, size_t len);

/* One covering entry: its prefix and value bytes (pointing into the blob). */
struct flat_hit {
    struct addr_prefix prefix;
    const uint8_t *val;
    size_t len;
};

/* The entries covering the full-length address addr, longest prefix first,
 * into out[0..cap); *n gets how many. DNSBL_ESCHEMA when the blob
 * contradicts itself (a parent that does not come before its child, a
 * value outside the blob), DNSBL_EINVAL for an address that is not of full
 * length. No allocation. */
int flat_view_covering(const struct flat_view *v, const struct addr_prefix *addr,
                       struct flat_hit *out, size_t cap, size_t *n);

/* The entries of a family, by index, for checks and dumps. */
size_t flat_view_count(const struct flat_view *v, uint8_t family);
/* Entry i of family: prefix, parent index (FLAT_NONE when none) and value
 * bytes. DNSBL_EINVAL for i out of range, DNSBL_ESCHEMA for a value
 * outside the blob. */
int flat_view_entry(const struct flat_view *v, uint8_t family, size_t i, struct addr_prefix *p,
                    uint32_t *parent, const uint8_t **val, size_t *len);

/* Everything flat_view_open does not check: keys valid and strictly
 * ascending, every parent the nearest earlier entry containing its child,
 * every value inside the blob. problem(arg, what) is called for each
 * problem (what names the family and entry); returns how many. */
size_t flat_view_verify(const struct flat_view *v, void (*problem)(void *arg, const char *what),
                        void *arg);

#endif
