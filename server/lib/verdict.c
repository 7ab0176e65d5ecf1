/* verdict: the one place that turns the store's entries and history into a
 * zone's answer for an address (see verdict.h). The packet path runs it
 * for every address query, so it reads no more than the answer needs. */
#include "verdict.h"

#include <string.h>

#include "err.h"

enum verdict_testpoint verdict_testpoint(const struct addr_prefix *addr)
{
    static const uint8_t listed[4] = {127, 0, 0, 2}, never[4] = {127, 0, 0, 1};
    /* IPv4 keys sit in the last four bytes (addr.h), so ::ffff:127.0.0.1
     * is the same key. */
    if (addr->family != ADDR_V4 || addr->plen != 32)
        return VERDICT_TP_NONE;
    if (memcmp(addr->a + 12, never, 4) == 0)
        return VERDICT_TP_NEVER;
    if (memcmp(addr->a + 12, listed, 4) == 0)
        return VERDICT_TP_LISTED;
    return VERDICT_TP_NONE;
}

void verdict_testpoint_decision(const struct zone_policy *zp, struct decision *d)
{
    *d = (struct decision){.listed = true,
                           .n = 1,
                           .code = 0x7f000002,
                           .codes = {0x7f000002},
                           .why = WHY_TESTPOINT,
                           .code_why = {WHY_TESTPOINT},
                           .ttl = zp->ttl};
}

/* Keep only the entries that cover all of p, not just its first address. */
static size_t verdict_keep_covering(struct entry *covering, size_t n, const struct addr_prefix *p)
{
    size_t kept = 0;

    for (size_t i = 0; i < n; i++) {
        if (!addr_covers(&covering[i].prefix, p))
            continue;
        if (kept != i)
            covering[kept] = covering[i];
        kept++;
    }
    return kept;
}

/* The first history day to read: the zone's window, or trend_days back
 * (today included) when that is longer, within what the scratch holds. */
static uint32_t verdict_first_day(const struct zone_policy *zp, const struct verdict_query *q,
                                  size_t history_cap)
{
    int64_t today = q->now / MODEL_DAY;
    uint32_t back = zp->window_days;
    if (q->trend_days > 0 && q->trend_days - 1 > back) {
        back = q->trend_days - 1;
        if (history_cap > 0 && back > history_cap - 1)
            back = (uint32_t)(history_cap - 1);
    }
    return today > (int64_t)back ? (uint32_t)(today - back) : 0;
}

/* Covering entries, the evidence entry and its history. */
static int verdict_read(const struct verdict_scratch *sc, struct store_reader *r,
                        const struct verdict_query *q, struct verdict *v)
{
    struct addr_prefix first = *q->addr;
    size_t n = 0;
    int rc;

    if (q->flags & VERDICT_WHOLE_PREFIX)
        first.plen = first.family == ADDR_V4 ? 32 : 128;
    /* Only a TXT answer shows the entries' texts: an A question skips
     * copying them. */
    if (q->flags & VERDICT_TEXTS)
        rc = store_reader_covering(r, &first, sc->covering, sc->covering_cap, &n);
    else
        rc = store_reader_covering_lean(r, &first, sc->covering, sc->covering_cap, &n);
    if (rc != DNSBL_OK)
        return rc;
    if (q->flags & VERDICT_WHOLE_PREFIX)
        n = verdict_keep_covering(sc->covering, n, q->addr);
    v->n = n;
    /* History is read only for the one entry that holds evidence, so
     * addresses known from lists alone cost no range scan. */
    v->evidence = policy_evidence_entry(sc->covering, n);
    if (!v->evidence || sc->history_cap == 0)
        return DNSBL_OK;
    return store_reader_history(r, &v->evidence->prefix, v->first_day, sc->history, sc->history_cap,
                                &v->ndays);
}

int verdict_decide(const struct verdict_scratch *sc, struct store_reader *r,
                   const struct zone_policy *zp, const struct verdict_query *q, struct verdict *out)
{
    out->covering = sc->covering;
    out->days = sc->history;
    out->n = out->ndays = 0;
    out->evidence = NULL;
    if (q->flags & VERDICT_TESTPOINTS) {
        switch (verdict_testpoint(q->addr)) {
        case VERDICT_TP_NEVER:
            out->first_day = 0;
            out->d = (struct decision){.listed = false, .why = WHY_TESTPOINT, .ttl = zp->ttl};
            return DNSBL_OK;
        case VERDICT_TP_LISTED:
            out->first_day = 0;
            verdict_testpoint_decision(zp, &out->d);
            return DNSBL_OK;
        case VERDICT_TP_NONE:
            break;
        }
    }
    out->first_day = verdict_first_day(zp, q, sc->history_cap);
    if (r) {
        int rc = verdict_read(sc, r, q, out);
        if (rc != DNSBL_OK)
            return rc;
    }
    /* The policy sees the zone's window only; a longer trend read more. */
    int64_t window_start = q->now / MODEL_DAY - (int64_t)zp->window_days;
    size_t skip = 0;
    while (skip < out->ndays && (int64_t)out->days[skip].day < window_start)
        skip++;
    policy_decide(sc->covering, out->n, sc->history + skip, out->ndays - skip, zp, q->now, &out->d);
    return DNSBL_OK;
}

bool verdict_render_txt(const struct zone_policy *zp, const struct decision *d, unsigned i,
                        const char *ip, const char *zone, char *buf, size_t cap, size_t *len)
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
