/* policy: the zone half of the reputation model (model.h). What a zone
 * serves (struct zone_policy), how history days become a decaying score and
 * the entries covering an address an answer (struct decision), and its TXT.
 * Pure functions of their arguments and the clock passed in; nothing
 * allocates, every pointer in a decision points into the caller's array. */
#ifndef DNSBL_POLICY_H
#define DNSBL_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* Per-zone policy, filled from config (config.h). Plain value. */
enum zone_kind { ZONE_BLOCKLIST = 0, ZONE_SCORE, ZONE_ALLOWLIST };

struct zone_policy {
    uint8_t kind;                      /* enum zone_kind */
    uint32_t ttl;                      /* TTL of A/TXT answers, seconds */
    char txt_template[MODEL_TEXT_MAX]; /* {ip} {reason} {zone} {code} placeholders */
    /* return codes per dominant reason */
    uint32_t code_manual;     /* 127.0.0.2 */
    uint32_t code_complaints; /* 127.0.0.2 */
    uint32_t code_traps;      /* 127.0.0.3 */
    uint32_t code_imported;   /* 127.0.0.4: SNDS RED/blocked, lists without their own code */
    uint32_t code_allow;      /* allowlist zone answer: 127.0.0.2 */
    /* the score */
    double weight[CNT_COUNT]; /* per counter; not_spam's weight is subtracted */
    double half_life;         /* seconds, default 7 days */
    double threshold;         /* listed when score >= threshold (default 10) */
    double rate_reference;    /* complaint rate at which complaints count fully (0.001) */
    uint32_t window_days;     /* history days looked at (default 90) */
    bool snds_red_lists;      /* SNDS RED lists with code_imported (default true) */
    int64_t snds_max_age;     /* RED and blocked list this long after the row (status) that
                                 said so, seconds (default 7 days; doc/formats.md 3.5) */
    char datasets[8][MODEL_DATASET_MAX]; /* list datasets served; none given = all */
    /* their model_subzone_ids (policy_add_dataset): the name's id and those
     * of "name~k", the further combined sections bound to it */
    uint32_t dataset_ids[8][MODEL_SUBZONE_SETS];
    uint8_t ndatasets;
};

void policy_defaults(struct zone_policy *zp);

/* Adds a dataset the zone serves (with its ids: the name's, and those of
 * the further rbldnsd combined sections bound to the same zone name,
 * model_subzone_ids); false when it already serves 8 or the name is too
 * long. */
bool policy_add_dataset(struct zone_policy *zp, const char *name);

/* Does the zone serve dataset id? Every dataset when it names none, and
 * a part of no dataset (id 0) in every zone. */
bool policy_serves(const struct zone_policy *zp, uint32_t dataset);

enum decision_why {
    WHY_NONE = 0,   /* nothing covers it, or nothing listing */
    WHY_MANUAL,     /* listed by an operator */
    WHY_ALLOWED,    /* an allow entry covers it */
    WHY_DELISTED,   /* an operator delisted it (and no new evidence lists it) */
    WHY_EXPIRED,    /* a manual listing that has expired (and nothing else lists it) */
    WHY_TESTPOINT,  /* RFC 5782 test point 127.0.0.2 */
    WHY_IMPORTED,   /* imported list data */
    WHY_EXCLUDED,   /* an exclusion of imported list data */
    WHY_SNDS,       /* SNDS filter result RED or IP status blocked */
    WHY_COMPLAINTS, /* score over threshold, mostly complaints */
    WHY_TRAPS,      /* score over threshold, mostly trap hits */
    WHY_SCORE,      /* score zone: an address with data */
};

#define DECISION_MAX 4 /* A records one answer may carry */

/* The score of the entry holding an address's evidence, at a time. */
struct score {
    double value;       /* the score: rate-scaled complaints + traps, decayed */
    double complaints;  /* decayed abuse+fraud+virus(+other, auth weights) after weights */
    double traps;       /* decayed trap hits after weight */
    double volume;      /* decayed volume */
    double rate_factor; /* 0..1 applied to complaints */
    int64_t clears_at;  /* when value falls under the threshold with nothing new; 0 = not over */
    uint8_t light;      /* 0 green, 1 yellow, 2 red (see policy_light) */
};

struct decision {
    bool listed;
    bool allowed;
    uint8_t why; /* enum decision_why: the dominant reason */
    uint8_t n;   /* A records: codes[0..n) with their reasons */
    uint32_t codes[DECISION_MAX];
    uint8_t code_why[DECISION_MAX];
    uint32_t code;                /* codes[0] when listed */
    uint32_t ttl;                 /* answer TTL: the imported entry's TTL or the zone's */
    const struct entry *decider;  /* the entry that decided, or NULL; points into the input */
    const struct entry *imported; /* the entry of the first imported listing, or NULL */
    uint8_t imported_part;        /* its part */
    /* WHY_IMPORTED codes: the entry and part that gave codes[i] */
    const struct entry *code_entry[DECISION_MAX];
    uint8_t code_part[DECISION_MAX];
    const struct entry *evidence; /* the entry whose history made the score, or NULL */
    bool snds_red;                /* the SNDS code is for a RED row (else a blocked status) */
    struct score score;
};

/* The covering entry (longest first) whose evidence makes the score: the
 * longest one with model_has_evidence, or NULL. The caller fetches its
 * history (store_reader_history) and passes it to policy_decide. */
const struct entry *policy_evidence_entry(const struct entry *covering, size_t n);

/* Score of history days (any order) at now, ignoring days before `since`
 * (a delisting time; 0 = all). */
void policy_score(const struct zone_policy *zp, const struct history_day *days, size_t ndays,
                  int64_t since, int64_t now, struct score *out);

/* covering: every store entry covering the queried address, longest
 * prefix first (store_reader_covering); days: the history of
 * policy_evidence_entry(covering, n). Precedence for a blocklist zone:
 *   1. an allow entry in force anywhere in covering -> not listed;
 *   2. the longest entry with an operator state in force decides: listed ->
 *      the manual code; delisted -> not listed unless evidence after the
 *      delisting scores over the threshold (then 4. applies to that);
 *   3. imported data: for each dataset the zone serves (a subzone's,
 *      IMPORT_SUBZONE, only when named in `datasets`), the longest entry with a part of it decides
 * that dataset's word, listed (its code, TTL, TXT) or excluded (as rbldnsd answers each dataset
 * alone); SNDS RED (last row) or IP status blocked -> code_imported;
 *   4. score >= threshold -> code_complaints and/or code_traps (each part
 *      over the threshold on its own gets its code; else the larger part's).
 *   Codes from 3 and 4 add up (distinct values, at most DECISION_MAX).
 * Score zone: any data -> one code 127.0.4.X, X = policy_score_octet.
 * Allowlist zone: an allow entry in force -> code_allow (or the entry's code).
 * The RFC 5782 test points are verdict.h's. */
void policy_decide(const struct entry *covering, size_t n, const struct history_day *days,
                   size_t ndays, const struct zone_policy *zp, int64_t now, struct decision *out);

/* policy_decide with evidence = policy_evidence_entry(covering, n), which
 * the caller found already to read its history (verdict.h). */
void policy_decide_evidence(const struct entry *covering, size_t n, const struct entry *evidence,
                            const struct history_day *days, size_t ndays,
                            const struct zone_policy *zp, int64_t now, struct decision *out);

/* A query at an rbldnsd subzone of the zone (doc/formats.md 4.6): sub
 * holds model_subzone_ids of its name ("proxies.bl.example"). Only parts
 * of those datasets (flagged IMPORT_SUBZONE) answer, each dataset's word
 * from its longest entry, as in step 3; an operator's allow or delisting
 * covering the address wins there too, while manual listings, SNDS and
 * scores answer in the zone itself only (README "Subzones"). Blocklist
 * zones only: other kinds answer nothing in a subzone. */
void policy_decide_subzone(const struct entry *covering, size_t n, const uint32_t *sub,
                           const struct zone_policy *zp, int64_t now, struct decision *out);

/* The traffic light of `dnsblctl show` (README "Traffic light"): the
 * score's light, but red whenever the decision lists the address, so a
 * listed address is never shown green. */
uint8_t policy_light(const struct decision *d);

/* Does an SNDS RED row or blocked status of e list at now? Both age out
 * snds_max_age after the row's activity (the status's date) unless a
 * newer row or status says so again (doc/formats.md 3.5). */
bool policy_snds_active(const struct zone_policy *zp, const struct entry *e, int64_t now);

/* 0 (worst) .. 100 (best) for a score zone: round(100 * T / (T + score)). */
uint8_t policy_score_octet(const struct zone_policy *zp, double score);

/* TXT for A record i of a listed decision. Manual, SNDS and score reasons
 * expand zp->txt_template ({ip} the queried address as text, {reason} the
 * reason, {zone}, {code}); imported listings expand their own template
 * (imp_txt: "$" = ip, "$$" = "$") and may have none (returns false).
 * Writes at most cap-1 bytes plus NUL into buf, *len gets the length. */
bool policy_render_txt(const struct zone_policy *zp, const struct decision *d, unsigned i,
                       const char *ip, const char *zone, char *buf, size_t cap, size_t *len);

#endif
