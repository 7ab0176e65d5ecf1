/* packet: the query path as one function over buffers. Parses a query,
 * finds the zone, decodes the address, asks the store (through a reader the
 * caller has begun), applies the policy and writes the answer into the
 * caller's buffer. No allocation, no I/O, no lock; the clock is passed in.
 * Unit and fuzz tests call packet_answer directly. Zone ACLs (acl.h) are
 * applied here, to the client named in the ctx; rate limiting is the
 * caller's (rrl.h), which answers a limited client with packet_answer_slip. */
#ifndef DNSBL_PACKET_H
#define DNSBL_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include "model.h"
#include "store.h"
#include "zone.h"

#define PACKET_UDP_PLAIN 512   /* UDP answer limit without EDNS */
#define PACKET_EDNS_SIZE 1232  /* what we advertise and the most we send over UDP */
#define PACKET_TCP_MAX 65535

enum packet_transport { PACKET_UDP, PACKET_TCP };

enum packet_outcome {
    PACKET_ANSWER, /* *outlen bytes in out are to be sent */
    PACKET_DROP,   /* send nothing (a response, or shorter than a header) */
    PACKET_XFR,    /* TCP: AXFR or IXFR of ctx->xfr_zone; nothing written, the
                    * caller streams the answer (xfr.h) */
};

/* Filled for logging and counters when ctx->info is set. */
struct packet_info {
    char qname[256];  /* question name as text, as sent; "" if none parsed */
    uint16_t qtype;
    uint8_t rcode;    /* rcode sent (16 = BADVERS) */
    bool truncated;   /* TC set */
    bool listed;
};

struct packet_ctx {
    const struct zoneset *zones;
    struct store_reader *reader;   /* begun by the caller; NULL = no store (all unlisted) */
    struct entry *covering;        /* scratch of covering_cap entries (per worker) */
    size_t covering_cap;
    struct history_day *history;   /* scratch of history_cap days (per worker); 0 = no scores */
    size_t history_cap;
    int64_t now;                   /* unix seconds */
    struct packet_info *info;      /* may be NULL */
    const struct addr_prefix *client; /* the querier, for zone ACLs; NULL = unknown: allowed */
    /* The querier's socket address, read only by IXFR over UDP when client
     * is NULL (the UDP path makes client only for ACLs and RRL). */
    const struct sockaddr *peer;
    unsigned peerlen;
    /* Queries answered SERVFAIL because the store could not be read; only
     * ever incremented here, the caller reports it. */
    uint64_t store_failures;
    const struct zone *xfr_zone; /* set with PACKET_XFR: the zone asked for */
};

/* Answer one query. out must hold at least PACKET_TCP_MAX bytes for TCP
 * and PACKET_EDNS_SIZE for UDP; the answer is cut to the client's UDP limit
 * (512 without EDNS, its EDNS size capped at 1232) with TC set when the
 * answer does not fit. Over UDP, ANY at a name of the zone file gets one
 * RRset (the SOA at the apex; RFC 8482), over TCP all of them. When the
 * store cannot be read for an address (a lookup or decoding error) the
 * answer is SERVFAIL and ctx->store_failures counts it: a guess either way
 * would be wrong for someone. Queries outside plain QUERY get what RFC
 * 8906 expects: NOTIMP for any other opcode (with none of QUERY's flags),
 * FORMERR echoing the question and OPT when they parsed, NOTAUTH with a
 * BADKEY TSIG for a signed query (RFC 8945: queries are not signed here).
 * AXFR and IXFR of a zone's apex over TCP return PACKET_XFR (the caller
 * streams them, xfr.h); IXFR over UDP of a zone with allow_transfer is
 * answered by xfr_answer_udp; other transfer questions are REFUSED. The
 * SOA in answers carries the zone's published serial (zone_serial). */
enum packet_outcome packet_answer(struct packet_ctx *ctx, enum packet_transport t,
                                  const uint8_t *in, size_t inlen, uint8_t *out, size_t outcap,
                                  size_t *outlen);

/* The UDP answer for a rate-limited client: the header and question with
 * TC set and no records (and an OPT when the query had one), so a real
 * client retries over TCP. It never looks at a zone or the store, so a
 * limited client never gets a listing. Drops what packet_answer drops. */
enum packet_outcome packet_answer_slip(struct packet_ctx *ctx, const uint8_t *in, size_t inlen,
                                       uint8_t *out, size_t outcap, size_t *outlen);

/* An rbldnsd subzone query (doc/formats.md 4.6): qname's labels before
 * apex_off are a full address (32 nibbles, else 4 octets) and then at
 * least one label of a subzone of zone (text, lower case). Fills addr
 * and ids with model_subzone_ids("<subzone>.<zone>", lower case); false
 * when the name is no such thing. */
bool packet_parse_subzone(const uint8_t *qname, size_t apex_off, const char *zone,
                          struct addr_prefix *addr, uint32_t ids[MODEL_SUBZONE_SETS]);

#endif
