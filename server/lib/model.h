/* model: the reputation model. What an entry in the store holds, how an
 * event changes it (model_apply_event), and how the entries covering an
 * address become an answer for a zone (policy_decide). Pure functions of
 * their arguments and the clock passed in: no I/O, no allocation; every
 * struct here is a plain value owned by the caller. */
#ifndef DNSBL_MODEL_H
#define DNSBL_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define MODEL_TEXT_MAX 256 /* reason/note/source text, with the NUL */

/* Operator state of an entry. Manual states beat scores; allow beats all. */
enum entry_state {
    ENTRY_NONE = 0,     /* known (history, counters) but no operator decision */
    ENTRY_LISTED = 1,   /* listed by an operator (dnsblctl add, imported list) */
    ENTRY_DELISTED = 2, /* delisted by an operator: not listed, history kept */
    ENTRY_ALLOWED = 3,  /* allowlisted: never listed, whatever covers it */
};

/* Event kinds. Counters in struct entry are indexed by the complaint-like
 * kinds (EV_ABUSE .. EV_TRAP_HIT); see model_kind_counter(). */
enum event_kind {
    EV_LIST = 0,   /* manual listing: code, reason, expires */
    EV_DELIST,     /* operator delisting: reason = who/why */
    EV_ALLOW,      /* allowlist entry: reason */
    EV_ABUSE,      /* ARF abuse complaint */
    EV_FRAUD,
    EV_VIRUS,
    EV_OTHER,
    EV_NOT_SPAM,   /* negative evidence */
    EV_AUTH_FAILURE,
    EV_TRAP_HIT,
    EV_VOLUME,     /* weight = messages seen */
    EV_KIND_COUNT
};

enum entry_counter {
    CNT_ABUSE = 0,
    CNT_FRAUD,
    CNT_VIRUS,
    CNT_OTHER,
    CNT_NOT_SPAM,
    CNT_AUTH_FAILURE,
    CNT_TRAP_HITS,
    CNT_COUNT
};

/* One record of the store's `entries` database, decoded. */
struct entry {
    struct addr_prefix prefix;
    uint8_t state;          /* enum entry_state */
    uint32_t code;          /* manual listing A value, host order (0x7f000002); 0 = zone default */
    int64_t expires;        /* manual state expiry, unix seconds; 0 = never */
    int64_t state_time;     /* when the operator state was last set */
    int64_t first_seen;     /* first event time, unix seconds */
    int64_t last_seen;      /* last event time */
    double score;           /* reputation score as of score_time (issue: feeds) */
    int64_t score_time;
    uint32_t counts[CNT_COUNT];
    uint64_t volume;
    char reason[MODEL_TEXT_MAX]; /* why it is listed / allowed (shown in TXT) */
    char note[MODEL_TEXT_MAX];   /* the last operator action, e.g. "delisted: reason" */
};

/* One event from the CLI or a feed parser. Pointers are borrowed for the
 * duration of the call that takes the event. */
struct event {
    struct addr_prefix prefix;
    uint8_t kind;       /* enum event_kind */
    double weight;      /* added to the score / counter (1 for a plain report) */
    int64_t time;       /* when it happened (report time, not import time) */
    uint32_t code;      /* EV_LIST: A value, 0 = zone default */
    int64_t expires;    /* EV_LIST/EV_ALLOW: unix seconds, 0 = never */
    const char *reason; /* may be NULL */
    const char *source; /* feed or operator name, may be NULL */
};

/* Apply one event to an entry (a zeroed entry with prefix set if new). */
void model_apply_event(struct entry *e, const struct event *ev);

/* Is e's manual state (listed/allowed) still in force at now? */
bool model_manual_active(const struct entry *e, int64_t now);

/* Per-zone policy, filled from config (config.h). Plain value. */
struct zone_policy {
    uint32_t code_manual;     /* A for manual listings without their own code: 127.0.0.2 */
    uint32_t ttl;             /* TTL of A/TXT answers, seconds */
    char txt_template[MODEL_TEXT_MAX]; /* {ip} {reason} {zone} {code} placeholders */
};

void policy_defaults(struct zone_policy *zp);

enum decision_why {
    WHY_NONE = 0,  /* nothing covers it, or nothing listing */
    WHY_MANUAL,    /* listed by an operator */
    WHY_ALLOWED,   /* an allow entry covers it */
    WHY_DELISTED,  /* an operator delisted it */
    WHY_EXPIRED,   /* a manual listing that has expired */
    WHY_TESTPOINT, /* RFC 5782 test point 127.0.0.2 */
};

struct decision {
    bool listed;
    uint32_t code;             /* A value, host order, when listed */
    uint8_t why;               /* enum decision_why */
    const struct entry *decider; /* the entry that decided, or NULL; points into the input array */
};

/* covering: every store entry covering the queried address, longest
 * prefix first (store_reader_covering). Precedence, in order:
 *   1. an allow entry anywhere in covering (shorter or longer) -> not listed;
 *   2. the longest entry with an operator state in force decides
 *      (listed -> listed with its code; delisted -> not listed);
 *   3. otherwise not listed (scores come with the feeds).
 * The RFC 5782 test points are the caller's (packet) business. */
void policy_decide(const struct entry *covering, size_t n, const struct zone_policy *zp,
                   int64_t now, struct decision *out);

/* Expand zp->txt_template for a listed decision: {ip} the queried address
 * as text, {reason} the decider's reason (or "listed"), {zone} the zone
 * name, {code} the A value. Writes at most cap-1 bytes plus NUL; returns
 * the length written (truncated at cap-1). */
size_t policy_render_txt(const struct zone_policy *zp, const struct decision *d, const char *ip,
                         const char *zone, char *buf, size_t cap);

const char *model_state_name(uint8_t state);   /* "none", "listed", ... */
const char *model_why_name(uint8_t why);       /* "manual", "allowed", ... */

#endif
