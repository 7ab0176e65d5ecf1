/* xfr: zone transfers out of dnsbld (README, "Zone transfers"): AXFR
 * (RFC 5936) and IXFR (RFC 1995) over TCP as a stream of messages built
 * one at a time from the published view (store_pub.h), IXFR over UDP,
 * and the checks before any of it: the request's form, its TSIG (RFC
 * 8945) and the zone's allow_transfer. A struct xfr is one transfer; it
 * copies what it needs of the zone (a reload may free the zone while it
 * runs) and holds its own store reader, begun for the whole transfer so
 * that it is one snapshot; xfr_free ends and frees all of it. */
#ifndef DNSBLD_XFR_H
#define DNSBLD_XFR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "store.h"
#include "zone.h"

#define XFR_MSG_CAP 65535 /* a TCP message at most (RFC 1035 4.2.2) */
#define XFR_MSG_SOFT                                                                               \
    16384                 /* a message ends after this much: compression pointers                  \
                           * reach 16383 bytes (RFC 1035 4.1.4) */
#define XFR_TSIG_ROOM 600 /* kept free in each message for its TSIG record */
#define XFR_PER_WORKER 4  /* transfers at once per worker; more are REFUSED */

struct xfr;

/* What a transfer request holds (the parts xfr uses). */
struct xfr_request {
    uint16_t id;
    uint16_t flags;
    uint16_t qtype;  /* DNS_TYPE_AXFR or DNS_TYPE_IXFR */
    size_t qend;     /* the question ends here */
    bool has_serial; /* IXFR: the client's SOA serial (RFC 1995 3) */
    uint32_t serial;
    bool edns; /* an OPT record came: every answer message has one */
};

/* Parse a transfer request: one question, no answers, for IXFR one SOA in
 * authority (its serial kept), anything in additional (OPT, TSIG: the
 * TSIG is checked by tsig_verify_request). DNSBL_EINVAL when malformed. */
int xfr_parse_request(const uint8_t *msg, size_t len, struct xfr_request *req);

/* RFC 1982 serial arithmetic: is a at or after b? */
bool xfr_serial_ge(uint32_t a, uint32_t b);

/* Every `now` here is the real clock (time(NULL)), never dnsbld's --now:
 * a TSIG's time is checked by the peer against its own (RFC 8945 5.2.3). */

/* Start answering a transfer request for zone z (its apex is the
 * question) over TCP from client (peer: its text, for the log). busy:
 * the worker has XFR_PER_WORKER transfers running (REFUSED). The result
 * is always a stream (a refusal is one message): NULL only when out of
 * memory. Refusals and transfers are logged here. */
struct xfr *xfr_begin(struct store *store, const struct zone *z, const struct addr_prefix *client,
                      const char *peer, const uint8_t *msg, size_t len, int64_t now, bool busy);

/* The next message of the stream into out (XFR_MSG_CAP bytes): 1 with
 * *outlen set, 0 when the stream is over, < 0 when the store failed in
 * the middle (the caller closes the connection: a half transfer must
 * not look whole). */
int xfr_next(struct xfr *x, uint8_t *out, size_t *outlen);

/* Was this transfer a real one (not a refusal), for the worker's count. */
bool xfr_counts(const struct xfr *x);

/* The rcode of the stream's first message, for the query log. */
uint8_t xfr_rcode(const struct xfr *x);

void xfr_free(struct xfr *x);

/* IXFR over UDP (RFC 1995 2): the same checks, then one SOA when the
 * client is current, else an empty answer with TC so that it asks again
 * over TCP. out holds outcap bytes (at least 512); returns the answer's
 * length. No allocation, no store access: the serial is the zone's. */
size_t xfr_answer_udp(const struct zone *z, const struct addr_prefix *client, const char *peer,
                      const uint8_t *msg, size_t len, int64_t now, uint8_t *out, size_t outcap);

/* The NOTIFY message (RFC 1996 3.7) for zone z at serial: opcode NOTIFY,
 * AA, the SOA question and the SOA in answer, signed when key is not
 * NULL. Returns its length, 0 if it does not fit cap. */
size_t xfr_build_notify(const struct zone *z, uint32_t serial, uint16_t id,
                        const struct tsig_key *key, int64_t now, uint8_t *out, size_t cap);

#endif
