/* verdict: what zone Z says about address A at time T, and why. It owns the
 * chain covering entries -> evidence entry -> its history -> policy_decide,
 * and the RFC 5782 test points. No allocation: the caller lends scratch
 * arrays, and every pointer in a struct verdict points into them. The hot
 * part is inline here; verdict.c holds the rest. */
#ifndef DNSBL_VERDICT_H
#define DNSBL_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "err.h"
#include "model.h"
#include "policy.h"
#include "store.h"

/* The RFC 5782 test point 127.0.0.2 (host order) and its TXT answer. */
#define VERDICT_TESTPOINT 0x7f000002u
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
    /* An rbldnsd subzone's model_subzone_ids (MODEL_SUBZONE_SETS of them),
     * or NULL for the zone itself (policy_decide_subzone). */
    const uint32_t *subzone;
};

/* The answer. covering[0..n) longest first, evidence (or NULL) and
 * days[0..ndays) (oldest first, from first_day on; first_day is 0 when no
 * history was read) point into the scratch
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

/* Inline: the packet path asks for every address. IPv4 keys sit in the
 * last four bytes (addr.h), so ::ffff:127.0.0.1 is the same key. */
static inline enum verdict_testpoint verdict_testpoint(const struct addr_prefix *addr)
{
    if (addr->family != ADDR_V4 || addr->plen != 32 || addr->a[12] != 127 || addr->a[13] != 0 ||
        addr->a[14] != 0)
        return VERDICT_TP_NONE;
    return addr->a[15] == 1   ? VERDICT_TP_NEVER
           : addr->a[15] == 2 ? VERDICT_TP_LISTED
                              : VERDICT_TP_NONE;
}

/* The decision for the always-listed test point under a zone's policy. */
void verdict_testpoint_decision(const struct zone_policy *zp, struct decision *d);

/* Keep only the entries of covering[0..n) that cover all of p, not just
 * its first address; returns how many, moved to the front. */
size_t verdict_keep_covering(struct entry *covering, size_t n, const struct addr_prefix *p);

/* The first history day to read for q: the zone's window, or trend_days
 * back (today included) when that is longer, within history_cap days. */
uint32_t verdict_first_day(const struct zone_policy *zp, const struct verdict_query *q,
                           size_t history_cap);

/* verdict_decide for a subzone query: the covering entries and
 * policy_decide_subzone; no test points, no history (a subzone answers
 * its datasets only, as rbldnsd). */
int verdict_decide_subzone(const struct verdict_scratch *sc, struct store_reader *r,
                           const struct zone_policy *zp, const struct verdict_query *q,
                           struct verdict *out);

/* Covering entries, the evidence entry and its history (verdict_decide's
 * store half). */
static inline int verdict_read(const struct verdict_scratch *sc, struct store_reader *r,
                               const struct zone_policy *zp, const struct verdict_query *q,
                               struct verdict *v)
{
    const struct addr_prefix *find = q->addr;
    struct addr_prefix first;
    size_t n = 0;
    int rc;

    if (q->flags & VERDICT_WHOLE_PREFIX) {
        first = *q->addr;
        first.plen = first.family == ADDR_V4 ? 32 : 128;
        find = &first;
    }
    /* Only a TXT answer shows the entries' texts: an A question skips
     * copying them. */
    if (q->flags & VERDICT_TEXTS)
        rc = store_reader_covering(r, find, sc->covering, sc->covering_cap, &n);
    else
        rc = store_reader_covering_lean(r, find, sc->covering, sc->covering_cap, &n);
    if (rc != DNSBL_OK)
        return rc;
    if (q->flags & VERDICT_WHOLE_PREFIX)
        n = verdict_keep_covering(sc->covering, n, q->addr);
    v->n = n;
    /* History is read only for the one entry that holds evidence, so
     * addresses known from lists alone cost no range scan. */
    v->evidence = n ? policy_evidence_entry(sc->covering, n) : NULL;
    if (!v->evidence || sc->history_cap == 0)
        return DNSBL_OK;
    v->first_day = verdict_first_day(zp, q, sc->history_cap);
    return store_reader_history(r, &v->evidence->prefix, v->first_day, sc->history, sc->history_cap,
                                &v->ndays);
}

/* Decide q for zone policy zp, reading through r (begun by the caller;
 * NULL = an empty store). Returns DNSBL_OK, or the store's error code when
 * it could not be read (then "not listed" would be a guess). Inline: the
 * packet path runs it for every address query, and a call's set-up was a
 * measurable part of that. */
static inline int verdict_decide(const struct verdict_scratch *sc, struct store_reader *r,
                                 const struct zone_policy *zp, const struct verdict_query *q,
                                 struct verdict *out)
{
    out->covering = sc->covering;
    out->days = sc->history;
    out->n = out->ndays = 0;
    out->evidence = NULL;
    out->first_day = 0;
    if (q->subzone)
        return verdict_decide_subzone(sc, r, zp, q, out);
    if (q->flags & VERDICT_TESTPOINTS) {
        switch (verdict_testpoint(q->addr)) {
        case VERDICT_TP_NEVER:
            out->d = (struct decision){.listed = false, .why = WHY_TESTPOINT, .ttl = zp->ttl};
            return DNSBL_OK;
        case VERDICT_TP_LISTED:
            verdict_testpoint_decision(zp, &out->d);
            return DNSBL_OK;
        case VERDICT_TP_NONE:
            break;
        }
    }
    if (r) {
        int rc = verdict_read(sc, r, zp, q, out);
        if (rc != DNSBL_OK)
            return rc;
    }
    /* The policy sees the zone's window only; a longer trend read more. */
    size_t skip = 0;
    if (out->ndays > 0 && q->trend_days > 0) {
        int64_t window_start = q->now / MODEL_DAY - (int64_t)zp->window_days;
        while (skip < out->ndays && (int64_t)out->days[skip].day < window_start)
            skip++;
    }
    policy_decide_evidence(sc->covering, out->n, out->evidence, sc->history + skip,
                           out->ndays - skip, zp, q->now, &out->d);
    return DNSBL_OK;
}

/* TXT for A record i of a listed decision: the test point's text, or
 * policy_render_txt's. Same contract as policy_render_txt. Inline: the
 * packet path calls it for every TXT answer. */
static inline bool verdict_render_txt(const struct zone_policy *zp, const struct decision *d,
                                      unsigned i, const char *ip, const char *zone, char *buf,
                                      size_t cap, size_t *len)
{
    if (d && d->why == WHY_TESTPOINT && d->listed && cap > 0) {
        size_t n = sizeof(VERDICT_TESTPOINT_TXT) - 1;
        if (n > cap - 1)
            n = cap - 1;
        memcpy(buf, VERDICT_TESTPOINT_TXT, n);
        buf[n] = '\0';
        if (len)
            *len = n;
        return i == 0;
    }
    return policy_render_txt(zp, d, i, ip, zone, buf, cap, len);
}

#endif
