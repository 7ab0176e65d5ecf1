/* policy: the zone half of the model. How history days become a decaying
 * score, how the entries covering an address become an answer for a zone
 * kind, and the TXT of that answer. Pure functions of their arguments and
 * the clock passed in; nothing allocates, every pointer in a decision
 * points into the caller's covering array. */
#include "policy.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "txt.h"

#define SCORE_ZONE_BASE 0x7f000400u /* 127.0.4.X */
#define CLEARS_MAX 3.2e9            /* ~100 years: caps degenerate policies */

void policy_defaults(struct zone_policy *zp)
{
    memset(zp, 0, sizeof *zp);
    zp->kind = ZONE_BLOCKLIST;
    zp->ttl = 2100;
    snprintf(zp->txt_template, sizeof zp->txt_template, "%s", "{ip} is listed in {zone}: {reason}");
    zp->code_manual = 0x7f000002;
    zp->code_complaints = 0x7f000002;
    zp->code_traps = 0x7f000003;
    zp->code_imported = 0x7f000004;
    zp->code_allow = 0x7f000002;
    zp->weight[CNT_ABUSE] = 1;
    zp->weight[CNT_FRAUD] = 1;
    zp->weight[CNT_VIRUS] = 1;
    zp->weight[CNT_OTHER] = 0.5;
    zp->weight[CNT_NOT_SPAM] = 1;
    zp->weight[CNT_AUTH_FAILURE] = 0.5;
    zp->weight[CNT_TRAP_HITS] =
        15; /* one hit lists for about four days (7-day half-life, threshold 10) */
    zp->half_life = 7.0 * MODEL_DAY;
    zp->threshold = 10;
    zp->rate_reference = 0.001;
    zp->window_days = 90;
    zp->snds_red_lists = true;
    zp->snds_max_age = 7 * MODEL_DAY;
}

/* Floor division, so a time before 1970 still lands in its own day. */
static int64_t policy_day_of(int64_t t)
{
    int64_t d = t / MODEL_DAY;
    return (t % MODEL_DAY < 0) ? d - 1 : d;
}

/* A day's evidence counts as if it all happened at noon; a day ahead of
 * the clock (a feed with a skewed clock) counts fully, never more. */
static double policy_decay(const struct zone_policy *zp, int64_t age)
{
    if (age <= 0 || !(zp->half_life > 0))
        return 1.0;
    return exp2(-(double)age / zp->half_life);
}

static bool policy_day_counts(const struct zone_policy *zp, const struct history_day *d,
                              int64_t since, int64_t now)
{
    int64_t mid = (int64_t)d->day * MODEL_DAY + MODEL_DAY / 2;
    if (mid < since)
        return false;
    /* A delisting clears the evidence of its whole day: the store keeps
     * days, not times, so the day cannot be split at the delisting. */
    if (since != 0 && (int64_t)d->day == policy_day_of(since))
        return false;
    /* window_days 0 means no window (look at every day given). */
    if (zp->window_days && (int64_t)d->day <= policy_day_of(now) - (int64_t)zp->window_days)
        return false;
    return true;
}

void policy_score(const struct zone_policy *zp, const struct history_day *days, size_t ndays,
                  int64_t since, int64_t now, struct score *out)
{
    const double *w = zp->weight;
    double raw = 0, c = 0, vol = 0, hits = 0;

    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < ndays; i++) {
        const struct history_day *d = &days[i];
        if (!policy_day_counts(zp, d, since, now))
            continue;
        double f = policy_decay(zp, now - ((int64_t)d->day * MODEL_DAY + MODEL_DAY / 2));
        const uint32_t *k = d->counts;
        raw += f * ((double)k[CNT_ABUSE] + k[CNT_FRAUD] + k[CNT_VIRUS]);
        c += f * (w[CNT_ABUSE] * k[CNT_ABUSE] + w[CNT_FRAUD] * k[CNT_FRAUD] +
                  w[CNT_VIRUS] * k[CNT_VIRUS] + w[CNT_OTHER] * k[CNT_OTHER] +
                  w[CNT_AUTH_FAILURE] * k[CNT_AUTH_FAILURE] - w[CNT_NOT_SPAM] * k[CNT_NOT_SPAM]);
        vol += f * (double)d->volume;
        hits += f * k[CNT_TRAP_HITS];
    }
    if (!(c > 0))
        c = 0;
    /* Complaints count fully once they reach rate_reference of the volume;
     * below it they shrink in proportion (50 in 1e6 counts 5 %). */
    double rate = 1;
    if (vol > 0 && zp->rate_reference > 0) {
        rate = raw / vol / zp->rate_reference;
        if (rate > 1)
            rate = 1;
    }
    out->rate_factor = rate;
    out->complaints = rate * c;
    out->traps = w[CNT_TRAP_HITS] * hits;
    out->volume = vol;
    out->value = out->complaints + out->traps;

    double t = zp->threshold;
    if (out->value >= t) {
        /* All days decay together, so value * 2^(-x/h) = t solves exactly. */
        double x = CLEARS_MAX;
        if (zp->half_life > 0 && t > 0)
            x = zp->half_life * log2(out->value / t);
        if (!(x < CLEARS_MAX))
            x = CLEARS_MAX;
        out->clears_at = now + (int64_t)ceil(x);
        out->light = 2;
    } else {
        out->light = out->value >= t / 2 ? 1 : 0;
    }
}

uint8_t policy_light(const struct decision *d)
{
    return d->listed ? 2 : d->score.light;
}

uint8_t policy_score_octet(const struct zone_policy *zp, double score)
{
    double t = zp->threshold, s = score > 0 ? score : 0;
    if (!(t > 0))
        return s > 0 ? 0 : 100;
    double x = round(100.0 * t / (t + s));
    if (!(x > 0))
        return 0;
    return x >= 100 ? 100 : (uint8_t)x;
}

const struct entry *policy_evidence_entry(const struct entry *covering, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (model_has_evidence(&covering[i]))
            return &covering[i];
    }
    return NULL;
}

bool policy_add_dataset(struct zone_policy *zp, const char *name)
{
    size_t cap = sizeof zp->datasets / sizeof zp->datasets[0];
    if (zp->ndatasets >= cap || strlen(name) >= sizeof zp->datasets[0])
        return false;
    snprintf(zp->datasets[zp->ndatasets], sizeof zp->datasets[0], "%s", name);
    if (name[0])
        model_subzone_ids(name, strlen(name), zp->dataset_ids[zp->ndatasets]);
    else
        memset(zp->dataset_ids[zp->ndatasets], 0, sizeof zp->dataset_ids[0]);
    zp->ndatasets++;
    return true;
}

bool policy_serves(const struct zone_policy *zp, uint32_t dataset)
{
    if (zp->ndatasets == 0 || dataset == 0)
        return true;
    size_t nd = zp->ndatasets;
    if (nd > sizeof zp->dataset_ids / sizeof zp->dataset_ids[0])
        nd = sizeof zp->dataset_ids / sizeof zp->dataset_ids[0];
    for (size_t i = 0; i < nd; i++) {
        for (unsigned k = 0; k < MODEL_SUBZONE_SETS; k++) {
            if (zp->dataset_ids[i][k] == dataset)
                return true;
        }
    }
    return false;
}

/* Is a verdict dated `when` still fresh at now? An undated one (0: a row
 * without dates, a status stored before statuses were dated) counts from
 * the entry's last event; with no date at all there is nothing to age. */
static bool policy_snds_fresh(const struct zone_policy *zp, const struct entry *e, int64_t when,
                              int64_t now)
{
    if (when == 0)
        when = e->last_seen;
    return when == 0 || !(zp->snds_max_age > 0) || now - when < zp->snds_max_age;
}

/* A row's activity ended at its end (else its start): that is when SNDS
 * last saw the address RED. */
static bool policy_snds_red(const struct zone_policy *zp, const struct entry *e, int64_t now)
{
    int64_t when = e->snds.end ? e->snds.end : e->snds.start;
    return zp->snds_red_lists && e->snds.colour == SNDS_RED && policy_snds_fresh(zp, e, when, now);
}

static bool policy_snds_blocked(const struct zone_policy *zp, const struct entry *e, int64_t now)
{
    return e->snds_status == SNDS_STATUS_BLOCKED &&
           policy_snds_fresh(zp, e, e->snds_status_time, now);
}

bool policy_snds_active(const struct zone_policy *zp, const struct entry *e, int64_t now)
{
    return policy_snds_red(zp, e, now) || policy_snds_blocked(zp, e, now);
}

/* The evidence entry's SNDS data first (it holds the address's own rows),
 * then any covering entry, longest first (IP-status ranges). */
static const struct entry *policy_snds_entry(const struct zone_policy *zp,
                                             const struct entry *covering, size_t n,
                                             const struct entry *evidence, int64_t now)
{
    if (evidence && policy_snds_active(zp, evidence, now))
        return evidence;
    for (size_t i = 0; i < n; i++) {
        if (policy_snds_active(zp, &covering[i], now))
            return &covering[i];
    }
    return NULL;
}

static const struct entry *policy_snds_known(const struct entry *covering, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (covering[i].snds.colour != SNDS_NONE || covering[i].snds_status != SNDS_STATUS_NONE)
            return &covering[i];
    }
    return NULL;
}

/* What the operator entries say: the longest allow in force anywhere, and
 * the longest operator state that decides (a listing in force or a
 * delisting; an expired listing is remembered and passed over). */
struct policy_operator {
    const struct entry *allow, *manual, *delisted, *expired;
};

/* Inlined into both callers: out of line (two callers) it cost every
 * query a call. */
static inline __attribute__((always_inline)) void policy_find_operator(const struct entry *covering,
                                                                       size_t n, int64_t now,
                                                                       struct policy_operator *op)
{
    memset(op, 0, sizeof *op);
    for (size_t i = 0; i < n; i++) {
        const struct entry *e = &covering[i];
        if (e->state == ENTRY_ALLOWED && model_manual_active(e, now)) {
            op->allow = e;
            break;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const struct entry *e = &covering[i];
        if (e->state == ENTRY_LISTED) {
            if (model_manual_active(e, now)) {
                op->manual = e;
                return;
            }
            if (!op->expired)
                op->expired = e;
        } else if (e->state == ENTRY_DELISTED) {
            op->delisted = e;
            return;
        }
    }
}

/* Adds an A record unless its value is already there (one reason per
 * value: the first step that gave it). */
static void policy_add_code(struct decision *d, uint32_t code, uint8_t why, const struct entry *e)
{
    for (unsigned i = 0; i < d->n; i++) {
        if (d->codes[i] == code)
            return;
    }
    if (d->n >= DECISION_MAX)
        return;
    if (d->n == 0)
        d->decider = e;
    d->codes[d->n] = code;
    d->code_why[d->n] = why;
    d->code_entry[d->n] = e;
    d->code_part[d->n] = 0;
    d->n++;
}

/* Does a query at the subzone whose model_subzone_ids are sub see part
 * pt? Only its own datasets'; in the zone itself (sub NULL) the zone's
 * datasets, and a subzone's only when the zone names it in `datasets`
 * (a zone of its own for it; doc/formats.md 4.6). */
static inline bool policy_part_served(const struct zone_policy *zp, const uint32_t *sub,
                                      const struct entry_part *pt)
{
    if (!sub)
        return policy_serves(zp, pt->dataset) &&
               (!(pt->flags & IMPORT_SUBZONE) || (zp->ndatasets > 0 && pt->dataset != 0));
    for (unsigned k = 0; k < MODEL_SUBZONE_SETS; k++) {
        if (sub[k] == pt->dataset)
            return (pt->flags & IMPORT_SUBZONE) != 0;
    }
    return false;
}

/* Step 3 (model.h): every served dataset's word comes from the longest
 * entry holding a part of it. Returns the excluding entry when some
 * dataset excludes the address and none lists it. */
static const struct entry *policy_collect_parts(const struct entry *covering, size_t n,
                                                const struct zone_policy *zp, const uint32_t *sub,
                                                struct decision *d)
{
    uint32_t decided[ENTRY_PARTS_MAX * 4];
    size_t ndecided = 0;
    const struct entry *excluded = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct entry *e = &covering[i];
        for (unsigned j = 0; j < e->nparts && j < ENTRY_PARTS_MAX; j++) {
            const struct entry_part *pt = &e->parts[j];
            if (!policy_part_served(zp, sub, pt))
                continue;
            bool seen = false;
            for (size_t k = 0; k < ndecided && !seen; k++)
                seen = decided[k] == pt->dataset;
            if (seen)
                continue;
            if (ndecided < sizeof decided / sizeof decided[0])
                decided[ndecided++] = pt->dataset;
            if (pt->state != IMPORT_LISTED) {
                if (!excluded)
                    excluded = e;
                continue;
            }
            unsigned before = d->n;
            policy_add_code(d, pt->code ? pt->code : zp->code_imported, WHY_IMPORTED, e);
            if (d->n > before)
                d->code_part[before] = (uint8_t)j;
            if (!d->imported) {
                d->imported = e;
                d->imported_part = (uint8_t)j;
                if (pt->ttl)
                    d->ttl = pt->ttl;
            }
        }
    }
    return excluded;
}

/* Adds the SNDS code for s, noting whether a RED row gave it (its TXT). */
static void policy_add_snds_code(struct decision *d, uint32_t code, const struct zone_policy *zp,
                                 const struct entry *s, int64_t now)
{
    unsigned before = d->n;
    policy_add_code(d, code, WHY_SNDS, s);
    if (d->n > before)
        d->snds_red = policy_snds_red(zp, s, now);
}

static void policy_add_score_codes(const struct zone_policy *zp, struct decision *d)
{
    const struct score *s = &d->score;
    if (!d->evidence || !(s->value >= zp->threshold))
        return;
    bool by_complaints = s->complaints >= zp->threshold;
    bool by_traps = s->traps >= zp->threshold;
    if (!by_complaints && !by_traps) {
        by_complaints = s->complaints >= s->traps;
        by_traps = !by_complaints;
    }
    if (by_complaints)
        policy_add_code(d, zp->code_complaints, WHY_COMPLAINTS, d->evidence);
    if (by_traps)
        policy_add_code(d, zp->code_traps, WHY_TRAPS, d->evidence);
}

/* Steps 3 and 4 of the blocklist precedence (model.h). Returns the
 * excluding entry when imported data excludes the address. */
static const struct entry *policy_collect(const struct entry *covering, size_t n,
                                          const struct zone_policy *zp,
                                          const struct policy_operator *op, int64_t now,
                                          struct decision *d)
{
    const struct entry *excluded = NULL;
    /* A delisting is the operator's word against imported data and SNDS;
     * only fresh evidence (the score since the delisting) may list again. */
    if (!op->delisted) {
        excluded = policy_collect_parts(covering, n, zp, NULL, d);
        const struct entry *s = policy_snds_entry(zp, covering, n, d->evidence, now);
        if (s)
            policy_add_snds_code(d, zp->code_imported, zp, s, now);
    }
    policy_add_score_codes(zp, d);
    return excluded;
}

static void policy_decide_blocklist(const struct entry *covering, size_t n,
                                    const struct zone_policy *zp, const struct policy_operator *op,
                                    int64_t now, struct decision *d)
{
    if (op->allow) {
        d->why = WHY_ALLOWED;
        d->decider = op->allow;
        return;
    }
    if (op->manual) {
        policy_add_code(d, op->manual->code ? op->manual->code : zp->code_manual, WHY_MANUAL,
                        op->manual);
        return;
    }
    const struct entry *excluded = policy_collect(covering, n, zp, op, now, d);
    if (d->n)
        return;
    if (op->delisted) {
        d->why = WHY_DELISTED;
        d->decider = op->delisted;
    } else if (op->expired) {
        d->why = WHY_EXPIRED;
        d->decider = op->expired;
    } else if (excluded) {
        d->why = WHY_EXCLUDED;
        d->decider = excluded;
    } else {
        d->decider = n ? &covering[0] : NULL;
    }
}

/* A Sender Score-style answer: 127.0.4.X, 100 best. Whatever would list
 * the address in a blocklist for SNDS (RED, blocked) answers 0, so the
 * score zone never calls good what the blocklist lists. */
static void policy_decide_score(const struct entry *covering, size_t n,
                                const struct zone_policy *zp, const struct policy_operator *op,
                                int64_t now, struct decision *d)
{
    if (op->allow) {
        policy_add_code(d, SCORE_ZONE_BASE | 100, WHY_ALLOWED, op->allow);
        return;
    }
    if (op->manual) {
        policy_add_code(d, SCORE_ZONE_BASE, WHY_MANUAL, op->manual);
        return;
    }
    const struct entry *s =
        op->delisted ? NULL : policy_snds_entry(zp, covering, n, d->evidence, now);
    const struct entry *known = d->evidence ? d->evidence : policy_snds_known(covering, n);
    if (s)
        policy_add_snds_code(d, SCORE_ZONE_BASE, zp, s, now);
    else if (known)
        policy_add_code(d, SCORE_ZONE_BASE | policy_score_octet(zp, d->score.value), WHY_SCORE,
                        known);
    else if (op->delisted) {
        d->why = WHY_DELISTED;
        d->decider = op->delisted;
    }
}

void policy_decide(const struct entry *covering, size_t n, const struct history_day *days,
                   size_t ndays, const struct zone_policy *zp, int64_t now, struct decision *out)
{
    policy_decide_evidence(covering, n, n ? policy_evidence_entry(covering, n) : NULL, days, ndays,
                           zp, now, out);
}

void policy_decide_evidence(const struct entry *covering, size_t n, const struct entry *evidence,
                            const struct history_day *days, size_t ndays,
                            const struct zone_policy *zp, int64_t now, struct decision *out)
{
    struct policy_operator op;

    memset(out, 0, sizeof *out);
    out->ttl = zp->ttl;
    if (n == 0)
        return; /* nothing covers the address: no zone kind lists it (half the queries) */
    policy_find_operator(covering, n, now, &op);
    out->allowed = op.allow != NULL;
    out->evidence = evidence;
    if (out->evidence) {
        int64_t since = 0;
        if (out->evidence->state == ENTRY_DELISTED)
            since = out->evidence->state_time;
        if (op.delisted && op.delisted->state_time > since)
            since = op.delisted->state_time;
        policy_score(zp, days, ndays, since, now, &out->score);
    }

    switch (zp->kind) {
    case ZONE_SCORE:
        policy_decide_score(covering, n, zp, &op, now, out);
        break;
    case ZONE_ALLOWLIST:
        if (op.allow)
            policy_add_code(out, op.allow->code ? op.allow->code : zp->code_allow, WHY_ALLOWED,
                            op.allow);
        break;
    default:
        policy_decide_blocklist(covering, n, zp, &op, now, out);
        break;
    }
    if (out->n) {
        out->listed = true;
        out->code = out->codes[0];
        out->why = out->code_why[0];
    }
}

void policy_decide_subzone(const struct entry *covering, size_t n, const uint32_t *sub,
                           const struct zone_policy *zp, int64_t now, struct decision *out)
{
    struct policy_operator op;

    memset(out, 0, sizeof *out);
    out->ttl = zp->ttl;
    if (n == 0 || zp->kind != ZONE_BLOCKLIST)
        return;
    policy_find_operator(covering, n, now, &op);
    out->allowed = op.allow != NULL;
    if (op.allow || op.delisted) {
        /* The operator's "not listed" holds in every subzone too. */
        out->why = op.allow ? WHY_ALLOWED : WHY_DELISTED;
        out->decider = op.allow ? op.allow : op.delisted;
        return;
    }
    const struct entry *excluded = policy_collect_parts(covering, n, zp, sub, out);
    if (out->n) {
        out->listed = true;
        out->code = out->codes[0];
        out->why = out->code_why[0];
    } else if (excluded) {
        out->why = WHY_EXCLUDED;
        out->decider = excluded;
    }
}

static const char *policy_entry_reason(const struct entry *e, const char *fallback)
{
    return e && e->reason[0] ? e->reason : fallback;
}

/* Which SNDS entry gave the code: the decider when it was the first code,
 * else the evidence entry (its own rows); an IP-status range elsewhere in
 * covering is out of reach here and gets the generic text. */
static void policy_reason_snds(const struct decision *d, unsigned i, char *r, size_t cap)
{
    const struct entry *e = i == 0 ? d->decider : d->evidence;
    if (d->snds_red)
        snprintf(r, cap, "SNDS filter result RED");
    else if (e && e->snds_status == SNDS_STATUS_BLOCKED)
        snprintf(r, cap, "%s", policy_entry_reason(e, "SNDS IP status blocked"));
    else
        snprintf(r, cap, "SNDS filter result RED or IP status blocked");
}

static void policy_reason_complaints(const struct decision *d, char *r, size_t cap)
{
    const struct entry *e = d->evidence;
    if (!e) {
        snprintf(r, cap, "complaints");
        return;
    }
    uint64_t n = (uint64_t)e->counts[CNT_ABUSE] + e->counts[CNT_FRAUD] + e->counts[CNT_VIRUS];
    int64_t days = e->last_seen > e->first_seen ? (e->last_seen - e->first_seen) / MODEL_DAY : 0;
    int w = snprintf(r, cap, "%" PRIu64 " complaints in %" PRId64 " days", n, days + 1);
    if (e->volume > 0 && w > 0 && (size_t)w < cap)
        snprintf(r + w, cap - (size_t)w, " (%.3f%% of %" PRIu64 " messages)",
                 100.0 * (double)n / (double)e->volume, e->volume);
}

bool policy_render_txt(const struct zone_policy *zp, const struct decision *d, unsigned i,
                       const char *ip, const char *zone, char *buf, size_t cap, size_t *len)
{
    char reason[MODEL_TEXT_MAX];
    const char *why = reason;
    size_t n = 0;

    if (len)
        *len = 0;
    if (!buf || cap == 0)
        return false;
    buf[0] = '\0';
    if (!d || i >= d->n || i >= DECISION_MAX)
        return false;
    ip = ip ? ip : "";
    zone = zone ? zone : "";

    switch (d->code_why[i]) {
    case WHY_IMPORTED: {
        const struct entry *e = d->code_entry[i];
        unsigned j = d->code_part[i];
        if (!e || j >= e->nparts || j >= ENTRY_PARTS_MAX || (e->parts[j].flags & IMPORT_NO_TXT))
            return false;
        const char *txt = e->part_text[j].txt;
        if (txt[0] && !(e->parts[j].flags & IMPORT_REASON)) {
            txt_template_render(txt, ip, buf, cap, &n);
            if (len)
                *len = n;
            return true;
        }
        /* A source that gave a reason but no template (a DROP list): the
         * zone's template says it; a version 2 value kept it as the entry's
         * reason. */
        why = txt[0] ? txt : policy_entry_reason(e, "listed");
        break;
    }
    case WHY_MANUAL:
        why = policy_entry_reason(d->decider, "listed");
        break;
    case WHY_ALLOWED:
        why = policy_entry_reason(d->decider, "allowed");
        break;
    case WHY_SNDS:
        policy_reason_snds(d, i, reason, sizeof reason);
        break;
    case WHY_COMPLAINTS:
        policy_reason_complaints(d, reason, sizeof reason);
        break;
    case WHY_TRAPS:
        snprintf(reason, sizeof reason, "%" PRIu32 " spam trap hits",
                 d->evidence ? d->evidence->counts[CNT_TRAP_HITS] : 0);
        break;
    case WHY_SCORE:
        snprintf(reason, sizeof reason, "reputation %u/100, score %.1f",
                 (unsigned)(d->codes[i] & 0xff), d->score.value);
        break;
    default:
        return false; /* test points and the rest are the caller's */
    }
    const struct txt_fields f = {.ip = ip, .reason = why, .zone = zone, .code = d->codes[i]};
    txt_fields_render(zp->txt_template, &f, buf, cap, &n);
    if (len)
        *len = n;
    return true;
}
