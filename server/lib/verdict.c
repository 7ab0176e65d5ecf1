/* verdict: the parts of the chain off the packet path's usual way (see
 * verdict.h, where verdict_decide is inline). */
#include "verdict.h"

#include <string.h>

#include "err.h"

void verdict_testpoint_decision(const struct zone_policy *zp, struct decision *d)
{
    *d = (struct decision){.listed = true,
                           .n = 1,
                           .code = VERDICT_TESTPOINT,
                           .codes = {VERDICT_TESTPOINT},
                           .why = WHY_TESTPOINT,
                           .code_why = {WHY_TESTPOINT},
                           .ttl = zp->ttl};
}

size_t verdict_keep_covering(struct entry *covering, size_t n, const struct addr_prefix *p)
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

uint32_t verdict_first_day(const struct zone_policy *zp, const struct verdict_query *q,
                           size_t history_cap)
{
    int64_t today = q->now / MODEL_DAY;
    uint32_t back = zp->window_days;
    if (q->trend_days > 0 && q->trend_days - 1 > back) {
        back = q->trend_days - 1;
        if (back > history_cap - 1)
            back = (uint32_t)(history_cap - 1);
    }
    return today > (int64_t)back ? (uint32_t)(today - back) : 0;
}

int verdict_decide_subzone(const struct verdict_scratch *sc, struct store_reader *r,
                           const struct zone_policy *zp, const struct verdict_query *q,
                           struct verdict *out)
{
    const struct addr_prefix *find = q->addr;
    struct addr_prefix first;
    size_t n = 0;

    if (r) {
        if (q->flags & VERDICT_WHOLE_PREFIX) {
            first = *q->addr;
            first.plen = first.family == ADDR_V4 ? 32 : 128;
            find = &first;
        }
        int rc = (q->flags & VERDICT_TEXTS)
                     ? store_reader_covering(r, find, sc->covering, sc->covering_cap, &n)
                     : store_reader_covering_lean(r, find, sc->covering, sc->covering_cap, &n);
        if (rc != DNSBL_OK)
            return rc;
        if (q->flags & VERDICT_WHOLE_PREFIX)
            n = verdict_keep_covering(sc->covering, n, q->addr);
    }
    out->n = n;
    policy_decide_subzone(sc->covering, n, q->subzone, zp, q->now, &out->d);
    return DNSBL_OK;
}
