/* model_fixture: entries, events, history days and zone policies written
 * in a line each, for the model and policy tests. Header-only, plain values
 * (nothing allocated); include after cmocka.h, model.h and policy.h. */
#ifndef DNSBL_TEST_MODEL_FIXTURE_H
#define DNSBL_TEST_MODEL_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "err.h"

#define NOW 1800000000LL /* 08:00 UTC of day 20833 */
#define DAY0 20833u
#define NOON ((int64_t)DAY0 * MODEL_DAY + MODEL_DAY / 2) /* day 0's own evidence time */
#define HALF (7 * MODEL_DAY)
#define A(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (d))

static inline struct addr_prefix pfx(const char *text)
{
    struct addr_prefix p;
    char why[128];
    if (addr_parse(text, &p, why, sizeof why) != DNSBL_OK)
        fail_msg("%s", why);
    return p;
}

static inline struct entry mk(const char *prefix, uint8_t state, uint32_t code, int64_t expires,
                              const char *reason)
{
    struct entry e;
    memset(&e, 0, sizeof e);
    e.prefix = pfx(prefix);
    e.state = state;
    e.code = code;
    e.expires = expires;
    snprintf(e.reason, sizeof e.reason, "%s", reason);
    return e;
}

static inline struct event ev_make(uint8_t kind, int64_t t, const char *reason)
{
    struct event ev;
    memset(&ev, 0, sizeof ev);
    ev.prefix = pfx("192.0.2.7");
    ev.kind = kind;
    ev.weight = 1;
    ev.time = t;
    ev.reason = reason;
    return ev;
}

static inline struct history_day hday(uint32_t day, uint32_t abuse, uint32_t traps, uint64_t volume)
{
    struct history_day d;
    memset(&d, 0, sizeof d);
    d.day = day;
    d.counts[CNT_ABUSE] = abuse;
    d.counts[CNT_TRAP_HITS] = traps;
    d.volume = volume;
    return d;
}

/* An entry that holds evidence (lifetime counters mirror the days). */
static inline void give_evidence(struct entry *e, uint32_t abuse, uint32_t traps, uint64_t volume)
{
    e->counts[CNT_ABUSE] += abuse;
    e->counts[CNT_TRAP_HITS] += traps;
    e->volume += volume;
}

static inline struct zone_policy zone(uint8_t kind)
{
    struct zone_policy zp;
    policy_defaults(&zp);
    zp.kind = kind;
    return zp;
}

#endif
