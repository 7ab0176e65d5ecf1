/* store_pub: the published view of each zone (doc/store-format.md,
 * "Published view"): the names and records a zone transfer carries, the
 * zone's serial, and a bounded journal of the changes between serials for
 * IXFR (RFC 1995). dnsblctl publish writes them; dnsbld reads them through
 * a begun store_reader. An iterator is the caller's, freed with
 * store_pub_iter_free; the pointers in a record it yields live until the
 * next call on it, and the reader must stay begun while it is used. */
#ifndef DNSBL_STORE_PUB_H
#define DNSBL_STORE_PUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* What the last publish of a zone left. */
struct store_pub_state {
    uint32_t serial;    /* the zone's SOA serial */
    int64_t published;  /* unix time of the publish that made serial */
    uint64_t names;     /* owner names in the published set */
    uint64_t records;   /* records in it */
    uint32_t oldest;    /* the oldest serial the journal reaches back to
                         * (== serial when the journal is empty) */
};

enum store_pub_kind {
    STORE_PUB_RR,      /* AXFR: one record of the set */
    STORE_PUB_DEL_SOA, /* IXFR: a change begins, from serial (RFC 1995 4) */
    STORE_PUB_DEL,     /* a record the change deletes */
    STORE_PUB_ADD_SOA, /* the change leads to serial */
    STORE_PUB_ADD,     /* a record it adds */
};

/* One record, class IN. For the SOA kinds only kind and serial are set:
 * the server writes its own apex SOA with that serial. */
struct store_pub_rr {
    enum store_pub_kind kind;
    uint32_t serial;
    const uint8_t *owner; /* wire form, lower case, absolute (the apex included) */
    uint16_t owner_len;
    uint16_t type;
    uint32_t ttl;
    const uint8_t *rdata;
    uint16_t rdlen;
};

struct store_pub_iter;

/* The state of zone (text, as in the config: "bl.example"); DNSBL_ENOENT
 * when it was never published. */
int store_reader_pub_state(struct store_reader *r, const char *zone, struct store_pub_state *out);

/* Every record of the published set (no apex SOA: the caller sends it
 * first and last). */
int store_pub_axfr_open(struct store_reader *r, const char *zone, struct store_pub_iter **out);

/* The changes from serial `from` to the current serial, oldest first;
 * DNSBL_ENOENT when the journal does not reach back to from (the caller
 * falls back to AXFR). */
int store_pub_ixfr_open(struct store_reader *r, const char *zone, uint32_t from,
                        struct store_pub_iter **out);

/* 1: *rr filled; 0: the end; < 0: a dnsbl_err. */
int store_pub_iter_next(struct store_pub_iter *it, struct store_pub_rr *rr);
void store_pub_iter_free(struct store_pub_iter *it);

/* ---- publishing (dnsblctl publish) ----
 * A zone's fresh answer set is gathered in a store_pub_set (the caller's,
 * freed with store_pub_set_free), then store_publish compares it with the
 * published one and, when it differs, writes the new set, a journal record
 * of the difference and serial + 1 (RFC 1982) in one write transaction.
 * The serial of a zone's first publish is the current unix time. */
struct store_pub_set;

/* An empty set for zone (text, as in the config). DNSBL_EINVAL for a
 * name that is not one. */
int store_pub_set_new(const char *zone, struct store_pub_set **out);
/* Adds a record (class IN); owner is absolute wire form, lower case, at
 * or under the zone (DNSBL_EINVAL otherwise). Records are copied. */
int store_pub_set_add(struct store_pub_set *set, const uint8_t *owner, size_t owner_len,
                      uint16_t type, uint32_t ttl, const uint8_t *rdata, size_t rdlen);
void store_pub_set_free(struct store_pub_set *set);

#define STORE_PUB_JOURNAL_DEFAULT 100 /* changes kept per zone for IXFR */

/* What a publish did. */
struct store_pub_result {
    struct store_pub_state state; /* after it */
    uint32_t old_serial;          /* before it (0 on the first publish) */
    bool first;                   /* the zone had never been published */
    bool changed;                 /* the serial moved */
    bool stale; /* skipped: a publish made from newer data (data_serial) is stored */
    uint64_t names_added, names_removed, names_changed;
    uint64_t records_added, records_removed;
};

/* Publishes set as its zone's answer set at time now, keeping at most
 * journal_max changes in the zone's journal (the oldest go; 0 keeps
 * none). An unchanged set writes nothing. data_serial is store_serial
 * read before the set was made: two publishes run at once (a timer, a
 * write command) commit in either order, and one made from older data
 * than the stored view's is skipped (out->stale) rather than undo the
 * other. Sorts set in place. */
int store_publish(struct store *s, struct store_pub_set *set, int64_t now, uint32_t journal_max,
                  uint64_t data_serial, struct store_pub_result *out, char *why, size_t whylen);

/* The config file of the last `dnsblctl publish --config` (a meta
 * record), which write commands publish with again: into path[cap], ""
 * when none is remembered. */
int store_pub_config_get(struct store *s, char *path, size_t cap);
int store_pub_config_set(struct store *s, const char *path, char *why, size_t whylen);

#endif
