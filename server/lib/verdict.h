/* verdict: what zone Z says about address A at time T, and why. It owns the
 * chain covering entries -> evidence entry -> its history -> policy_decide,
 * and the RFC 5782 test points. No allocation: the caller lends scratch
 * arrays, and every pointer in a struct verdict points into them. */
#ifndef DNSBL_VERDICT_H
#define DNSBL_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "policy.h"
#include "store.h"

/* The text of the RFC 5782 test point 127.0.0.2's TXT answer. */
#define VERDICT_TESTPOINT_TXT "RFC 5782 test point: always listed"

/* The caller's scratch: covering_cap entries and history_cap days
 * (history_cap 0 = no scores). */
struct verdict_scratch {
    struct entry *covering;
    size_t covering_cap;
    struct history_day *history;
    size_t history_cap;
};

enum verdict_flags {
    VERDICT_TEXTS = 1,      /* copy the entries' texts (a TXT answer, show) */
    VERDICT_TESTPOINTS = 2, /* the RFC 5782 test points answer, whatever the store holds */
    VERDICT_WHOLE_PREFIX =
        4, /* keep only entries covering all of a prefix, not its first address */
};

/* The question: an address (or, with VERDICT_WHOLE_PREFIX, a prefix) at
 * now. History is read from the zone's window start, or trend_days back
 * when that reaches further (show draws a trend); the policy always sees
 * the window only, as the server does. */
struct verdict_query {
    const struct addr_prefix *addr;
    int64_t now;
    unsigned flags;      /* enum verdict_flags */
    uint32_t trend_days; /* days of history wanted besides the window, today included; 0 = none */
};

/* The answer. covering[0..n) longest first, evidence (or NULL) and
 * days[0..ndays) (oldest first, from first_day on) point into the scratch
 * and stay valid until its next use; d's entry pointers point there too. */
struct verdict {
    struct decision d;
    const struct entry *covering;
    size_t n;
    const struct entry *evidence;
    const struct history_day *days;
    size_t ndays;
    uint32_t first_day;
};

/* RFC 5782 section 5: 127.0.0.2 is always listed, 127.0.0.1 never. */
enum verdict_testpoint { VERDICT_TP_NONE = 0, VERDICT_TP_LISTED, VERDICT_TP_NEVER };
enum verdict_testpoint verdict_testpoint(const struct addr_prefix *addr);

/* The decision for the always-listed test point under a zone's policy. */
void verdict_testpoint_decision(const struct zone_policy *zp, struct decision *d);

/* Decide q for zone policy zp, reading through r (begun by the caller;
 * NULL = an empty store). Returns DNSBL_OK, or the store's error code when
 * it could not be read (then "not listed" would be a guess). */
int verdict_decide(const struct verdict_scratch *sc, struct store_reader *r,
                   const struct zone_policy *zp, const struct verdict_query *q,
                   struct verdict *out);

/* TXT for A record i of a listed decision: the test point's text, or
 * policy_render_txt's. Same contract as policy_render_txt. */
bool verdict_render_txt(const struct zone_policy *zp, const struct decision *d, unsigned i,
                        const char *ip, const char *zone, char *buf, size_t cap, size_t *len);

#endif
