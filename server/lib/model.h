/* model: the reputation model. What an entry in the store holds, how an
 * event changes it (model_apply_event), how a day of history is counted
 * (model_history_add); how those become a zone's answer is policy.h's.
 * Pure functions of their arguments and the clock passed in: no I/O, no
 * allocation; every struct here is a plain value owned by the caller. */
#ifndef DNSBL_MODEL_H
#define DNSBL_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define MODEL_TEXT_MAX 256 /* reason/note/source/TXT text, with the NUL */
#define MODEL_DAY 86400

/* Operator state of an entry. Manual states beat everything but allow. */
enum entry_state {
    ENTRY_NONE = 0,     /* known (history, counters) but no operator decision */
    ENTRY_LISTED = 1,   /* listed by an operator (dnsblctl add, CSV kind "list") */
    ENTRY_DELISTED = 2, /* delisted by an operator: evidence before state_time is ignored */
    ENTRY_ALLOWED = 3,  /* allowlisted: never listed, whatever covers it */
};

/* State that came with imported list data (rbldnsd, SNDS status, DROP). It
 * is kept apart from the operator state: an operator decision always wins,
 * and a re-import never undoes one. */
enum import_state {
    IMPORT_NONE = 0,
    IMPORT_LISTED = 1,   /* listed by the imported data: imp_code, imp_txt */
    IMPORT_EXCLUDED = 2, /* an exclusion of the imported data (rbldnsd "!") */
};

#define IMPORT_NO_TXT 0x01 /* part flags: the source gives this listing no TXT */
#define IMPORT_REASON 0x02 /* part flags: txt is a reason for the zone's TXT template */
/* part flags: the dataset answers in its own subzone only (rbldnsd
 * combined "$DATASET type sub", doc/formats.md 4.6), never in the zone */
#define IMPORT_SUBZONE 0x04

enum event_kind {
    EV_LIST = 0, /* operator listing: code, reason, expires */
    EV_DELIST,   /* operator delisting: reason = who/why */
    EV_ALLOW,    /* operator allow entry: reason, expires */
    EV_ABUSE,    /* ARF complaint kinds: weight = incidents */
    EV_FRAUD,
    EV_VIRUS,
    EV_OTHER,
    EV_NOT_SPAM, /* negative evidence */
    EV_AUTH_FAILURE,
    EV_TRAP_HIT,       /* weight = hits */
    EV_VOLUME,         /* weight = messages (recipients) seen */
    EV_IMPORT_LIST,    /* imported listing: code, ttl, txt (NULL = no TXT), reason, dataset */
    EV_IMPORT_EXCLUDE, /* imported exclusion: dataset */
    EV_SNDS,           /* an SNDS data row: snds */
    EV_SNDS_STATUS,    /* an SNDS IP-status row: snds_blocked, reason */
    EV_IMPORT_REMOVE,  /* a dataset's part leaves the entry (sync, remove): dataset */
    EV_OPERATOR_CLEAR, /* the operator's decision leaves the entry (remove --dataset operator) */
    EV_REMOVE,         /* everything leaves the entry, its history too (remove) */
    EV_OPLOG,          /* an operator-history record restored from an export (CSV "oplog"):
                          the entry is left alone, the record written as given (oplog_action,
                          time, code, expires, by, reason, dataset) */
    EV_KIND_COUNT
};

/* Counters of an entry and of a history day, indexed by evidence kind. */
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

/* The counter an event kind adds to, or -1 (EV_ABUSE..EV_TRAP_HIT map in order). */
int model_kind_counter(uint8_t kind);

/* Authentication outcome of the mail a complaint is about (ARF). */
enum auth_fail_bits { AUTH_FAIL_SPF = 1, AUTH_FAIL_DKIM = 2, AUTH_FAIL_DMARC = 4 };
enum auth_counter { AUTHC_SPF = 0, AUTHC_DKIM, AUTHC_DMARC, AUTHC_COUNT };

enum snds_colour { SNDS_NONE = 0, SNDS_GREEN, SNDS_YELLOW, SNDS_RED };
enum snds_status { SNDS_STATUS_NONE = 0, SNDS_STATUS_JUNKED, SNDS_STATUS_BLOCKED };

/* The last SNDS data row seen for an address (doc/formats.md 3.5). */
struct snds_row {
    uint8_t colour;      /* enum snds_colour */
    char rate_qual;      /* '<', '>', '=' or 0 when the complaint rate was empty */
    float rate_pct;      /* complaint rate in percent (0.1 for "< 0.1%") */
    uint32_t rcpt;       /* RCPT commands */
    uint32_t data;       /* DATA commands */
    uint32_t recipients; /* message recipients: the volume */
    uint32_t trap_hits;
    int64_t start, end; /* activity window, unix seconds, 0 = unknown */
};

/* A list dataset's word on one prefix (doc/store-format.md "Entry
 * values"): every dataset that lists or excludes a prefix has its own
 * part, so an address two datasets list answers both values, as rbldnsd
 * does. Names live in the entry's texts (part_text), the id beside the
 * part so a lookup that skips the texts can still pick the zone's. */
#define ENTRY_PARTS_MAX 4
#define MODEL_DATASET_MAX 64 /* a dataset name, with the NUL */

struct entry_part {
    uint32_t dataset; /* model_dataset_id of its name; 0 = a source that named none */
    uint8_t state;    /* enum import_state (never IMPORT_NONE in an entry) */
    uint8_t flags;    /* IMPORT_NO_TXT, IMPORT_REASON */
    uint32_t code;    /* A value; 0 = the zone's imported code */
    uint32_t ttl;     /* record TTL from the source; 0 = the zone's */
    int64_t time;     /* since when the dataset says so unchanged */
};

struct entry_part_text {
    char dataset[MODEL_DATASET_MAX]; /* the dataset's name ("" for id 0) */
    char txt[MODEL_TEXT_MAX];        /* rbldnsd-style template: "$" = queried address, "$$" = "$" */
};

/* One record of the store's `entries` database, decoded. The texts come
 * last, so the fixed fields (what a lookup for an A record needs, the
 * parts' dataset ids included) are one block that copies cheaply. */
struct entry {
    struct addr_prefix prefix;
    /* operator state */
    uint8_t state;      /* enum entry_state */
    uint32_t code;      /* manual listing A value, host order (0x7f000002); 0 = zone default */
    int64_t expires;    /* manual state expiry, unix seconds; 0 = never */
    int64_t state_time; /* when the operator state was last set */
    /* imported list data: parts[0..nparts), in dataset id order */
    uint8_t nparts;
    struct entry_part parts[ENTRY_PARTS_MAX];
    /* evidence, lifetime totals (the decaying score comes from history) */
    int64_t first_seen; /* first event time, unix seconds */
    int64_t last_seen;  /* last event time */
    uint32_t counts[CNT_COUNT];
    uint64_t volume;
    uint32_t auth_fail[AUTHC_COUNT]; /* complaints about mail that failed SPF, DKIM, DMARC */
    struct snds_row snds;            /* last SNDS data row (by activity start) */
    uint8_t snds_status;             /* enum snds_status from the IP-status export */
    int64_t snds_status_time;        /* when the latest status row was dated (its file) */
    /* texts */
    char reason[MODEL_TEXT_MAX];  /* why it is listed / allowed (operator or feed text) */
    char note[MODEL_TEXT_MAX];    /* the last operator action, e.g. "delisted: reason" */
    char sources[MODEL_TEXT_MAX]; /* comma-separated source names, each once */
    struct entry_part_text part_text[ENTRY_PARTS_MAX]; /* beside parts[i] */
};

/* The id of a dataset name: 32-bit FNV-1a, 0 for "" or NULL (and never 0
 * for a name). The store refuses a second name with the same id. */
uint32_t model_dataset_id(const char *name);

/* The datasets of one rbldnsd subzone (doc/formats.md 4.6): the first
 * $DATASET section bound to zone name Z is dataset "Z", the k-th (k >= 2)
 * "Z~k", so that two sections listing one address keep both values. A
 * subzone query serves ids[0..MODEL_SUBZONE_SETS) of its name. */
#define MODEL_SUBZONE_SETS ENTRY_PARTS_MAX
void model_subzone_ids(const char *zone, size_t len, uint32_t ids[MODEL_SUBZONE_SETS]);

/* The part of dataset id in e, or -1. */
int model_part_find(const struct entry *e, uint32_t dataset);

/* Removes part i of e (0 <= i < nparts), keeping the order. */
void model_part_remove(struct entry *e, unsigned i);

/* Does e still hold anything: an operator state, a part, evidence, SNDS
 * data? An entry that holds nothing is deleted by the store. */
bool model_entry_holds(const struct entry *e);

/* Does the entry hold evidence that makes a score (counters or volume)? */
bool model_has_evidence(const struct entry *e);

/* What identifies one piece of evidence (doc/store-format.md, "evidence"):
 * up to EVIDENCE_IDENT_MAX (name, value) pairs, e.g. ("message-id", ...),
 * ("jail", "sshd"). Names are short ASCII words; a value longer than
 * EVIDENCE_VALUE_MAX - 1 bytes is cut when stored. Borrowed like the
 * event's other pointers. */
#define EVIDENCE_IDENT_MAX 8
#define EVIDENCE_NAME_MAX 16   /* a name, with the NUL */
#define EVIDENCE_VALUE_MAX 256 /* a value, with the NUL */
struct evidence_pair {
    const char *name;
    const char *value;
};
struct evidence_ident {
    size_t n;
    struct evidence_pair pair[EVIDENCE_IDENT_MAX];
};

/* One event from the CLI or a feed parser. Pointers are borrowed for the
 * duration of the call that takes the event. */
struct event {
    struct addr_prefix prefix;
    uint8_t kind;                /* enum event_kind */
    double weight;               /* added to the counter (incidents, hits, messages) */
    int64_t time;                /* when it happened (report time, not import time) */
    uint32_t code;               /* EV_LIST / EV_IMPORT_LIST: A value, 0 = zone default */
    int64_t expires;             /* EV_LIST/EV_ALLOW: unix seconds, 0 = never */
    const char *reason;          /* may be NULL */
    const char *source;          /* feed or operator name, may be NULL */
    uint32_t ttl;                /* EV_IMPORT_LIST: TTL from the source, 0 = zone's */
    const char *txt;             /* EV_IMPORT_LIST: TXT template, NULL = no TXT record */
    const char *dataset;         /* EV_IMPORT_LIST/EXCLUDE: data set name, NULL = "" */
    uint8_t auth_failed;         /* complaint kinds: enum auth_fail_bits */
    const struct snds_row *snds; /* EV_SNDS */
    bool snds_blocked;           /* EV_SNDS_STATUS: blocked (listed) or junked (recorded) */
    const char *by;              /* EV_LIST/DELIST/ALLOW: who (operator history), NULL = unknown */
    /* The record this event stands for, for the evidence trail; NULL: the
     * event leaves no evidence record (model_event_has_evidence). */
    const struct evidence_ident *ident;
    uint64_t import_id; /* the import that brought it, 0 = none (kept with its evidence) */
    bool subzone;       /* EV_IMPORT_LIST/EXCLUDE: the dataset is a subzone's (IMPORT_SUBZONE) */
    uint8_t oplog_action; /* EV_OPLOG: enum oplog_action (store.h) */
    /* EV_LIST/DELIST/ALLOW: state restored from an export, which carries
     * the operator history as EV_OPLOG rows of its own: no record. */
    bool no_oplog;
};

/* Apply one event to an entry (a zeroed entry with prefix set if new).
 * False when it cannot: an imported listing of a fifth dataset on one
 * prefix (ENTRY_PARTS_MAX), e unchanged. */
bool model_apply_event(struct entry *e, const struct event *ev);

/* RFC 5782 section 5: 127.0.0.1 is never listed, so a client can tell a
 * working list from one that lists everything. DNSBL_EREFUSED (err.h) for
 * an event that would list it or a prefix covering it, with the reason in
 * why: "refusing to list <shown>..." (shown NULL = the event's prefix);
 * DNSBL_OK otherwise. store_apply enforces it; tools call it to report. */
int model_event_refusal(const struct event *ev, const char *shown, char *why, size_t whylen);

/* A listing code (an A record's value) from text: an IPv4 address inside
 * 127.0.0.0/8 that clients do not read as "not listed" (127.0.0.0 and
 * 127.0.0.1, RFC 5782) or as an error (127.255.255.252-255,
 * doc/formats.md 1.2, 1.3). NULL and *out in host order, or why not, to follow the text
 * ("is outside 127.0.0.0/8"). */
const char *model_code_parse(const char *text, uint32_t *out);

/* Is e's manual state (listed/allowed) still in force at now? */
bool model_manual_active(const struct entry *e, int64_t now);

/* One day of evidence for one entry (the store's `history` database). */
struct history_day {
    uint32_t day; /* unix time / 86400 */
    uint32_t counts[CNT_COUNT];
    uint64_t volume;
};

/* Add an event's evidence to its day (only counter and volume events). */
void model_history_add(struct history_day *d, const struct event *ev);
/* Does this event kind write history? */
bool model_event_has_history(const struct event *ev);
/* Does this event leave an evidence record: a kind that is evidence
 * (complaints, other, not-spam, auth failure, trap hit, SNDS data and
 * status rows; not volume, a count of mail seen) that came with
 * identifiers? A feed gives them to the event standing for its record,
 * not to the counters derived from it (an SNDS row's trap hits). */
bool model_event_has_evidence(const struct event *ev);

const char *model_state_name(uint8_t state); /* "none", "listed", ... */
const char *model_why_name(uint8_t why);     /* "manual", "allowed", ... */
const char *model_kind_name(uint8_t kind);   /* "abuse", "trap", "list", ... (CSV kinds) */
int model_kind_from_name(const char *name);  /* inverse for CSV; -1 if unknown */
const char *model_light_name(uint8_t light); /* "green", "yellow", "red" */

#endif
