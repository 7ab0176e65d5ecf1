/* xfr_parse: a zone transfer as it arrives (AXFR, RFC 5936; IXFR,
 * RFC 1995), message by message, into what changed per address: names
 * under the zone back into prefixes (RFC 5782 octets and nibbles, a "*"
 * label for a whole prefix), A values as listing codes, TXT as the
 * listing text, names with only other records as exclusions. Pure: no
 * I/O, no clock. The parser owns its changes; xfr_parser_free frees
 * them, and the texts they point to. */
#ifndef DNSBL_XFR_PARSE_H
#define DNSBL_XFR_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "model.h"

struct xfr_soa {
    uint32_t serial, refresh, retry, expire, minimum;
};

enum xfr_style {
    XFR_FULL = 1, /* a whole zone: AXFR, or an IXFR answered AXFR-style */
    XFR_INCR,     /* IXFR differences */
    XFR_UPTODATE, /* an IXFR answered with the current SOA only */
};

/* A name keeps up to XFR_VALUES A values (and as many TXT): one per
 * dataset part an entry holds (ENTRY_PARTS_MAX); the first goes to the
 * pulled dataset, the others to DATASET~2, ~3, ~4, as two rbldnsd
 * sections of one name would. */
#define XFR_VALUES 4

/* Everything the transfer said about one name (one prefix): the A values
 * and TXT texts it added and deleted, as RRset changes (RFC 1995: adding a
 * value held changes nothing, deleting one not held neither), so the
 * result is what the store held, less del, plus add. A full transfer only
 * adds. */
struct xfr_change {
    struct addr_prefix prefix;
    uint32_t ttl;                  /* of the last A record added */
    uint8_t nadd, ndel, ntadd, ntdel;
    uint32_t add[XFR_VALUES];      /* A values, host order */
    uint32_t del[XFR_VALUES];
    char *tadd[XFR_VALUES];        /* TXT texts, "$" doubled (a dnsbld template) */
    char *tdel[XFR_VALUES];
    int other;                     /* other records (HINFO, ...) added less deleted */
};

struct xfr_parser;

/* zone: "bl.example" (no trailing dot needed). ixfr: we asked IXFR from
 * have_serial; else AXFR (have_serial, when have, must not be newer than
 * what arrives: a serial going backwards is refused). NULL without memory. */
struct xfr_parser *xfr_parser_new(const char *zone, bool ixfr, bool have, uint32_t have_serial);
void xfr_parser_free(struct xfr_parser *p);

/* One answer message, in order. DNSBL_OK, or DNSBL_EINVAL with why naming
 * the message (1-based) and the record; the parser then refuses more. */
int xfr_parser_feed(struct xfr_parser *p, const uint8_t *msg, size_t len, char *why, size_t whylen);

/* Has the closing SOA arrived? */
bool xfr_parser_done(const struct xfr_parser *p);

/* After done: the style, the new SOA, and the changes in prefix order. */
enum xfr_style xfr_parser_style(const struct xfr_parser *p);
const struct xfr_soa *xfr_parser_soa(const struct xfr_parser *p);
const struct xfr_change *xfr_parser_changes(const struct xfr_parser *p, size_t *n);
size_t xfr_parser_records(const struct xfr_parser *p); /* records read, SOAs included */
/* Records at names that are no address (ns1, www: zone data, not listings). */
size_t xfr_parser_skipped(const struct xfr_parser *p);

/* What the store held for a name's prefix in one dataset (slot k: the
 * pulled dataset, then DATASET~2..~4), for an incremental transfer
 * (zeroed for a full one or an unknown prefix). */
struct xfr_have {
    bool listed; /* an imported listing: code, txt */
    uint32_t code;
    uint32_t ttl;
    const char *txt; /* NULL: no TXT */
    bool excluded;   /* an imported exclusion */
};

/* The events that make the name what the transfer left it, at most one
 * per slot k, each for datasets[k]: EV_IMPORT_LIST for the k-th value (A
 * values in ascending order, TXT texts in byte order, paired by rank: a
 * zone does not say which text goes with which value), EV_IMPORT_EXCLUDE
 * in slot 0 for a name with no A but other records, EV_IMPORT_REMOVE
 * where a slot held something and holds nothing now (never for a full
 * transfer: the sync removes). old: XFR_VALUES slots, or NULL. Returns
 * how many were written to ev (XFR_VALUES slots). Pointers in ev borrow
 * from c, old and datasets. */
size_t xfr_change_events(const struct xfr_change *c, const struct xfr_have *old, bool full,
                         const char *const *datasets, int64_t now, struct event *ev);

/* The same for a dataset that keeps one value per name (slot 0 alone,
 * old one have or NULL): false when nothing is to be done. */
bool xfr_change_event(const struct xfr_change *c, const struct xfr_have *old, bool full,
                      const char *dataset, int64_t now, struct event *ev);

/* Serial arithmetic (RFC 1982): is a newer than b? */
bool xfr_serial_newer(uint32_t a, uint32_t b);

#endif
