/* model: how events change an entry and a history day, and the names of
 * the model's enums. Pure functions: nothing allocates, no clock is read.
 * The policy half (scores, decisions, TXT) is in policy.c. */
#include "model.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "policy.h" /* enum decision_why, for model_why_name */

static const char *model_text_or_empty(const char *s)
{
    return s ? s : "";
}

/* Append src to the string dst[0..*len) of size cap, cut at cap - 1 bytes
 * as snprintf would: an import applies millions of events, and snprintf's
 * set-up cost more than the copies. */
static void model_text_append(char *dst, size_t cap, size_t *len, const char *src)
{
    size_t room = cap - 1 - *len;
    size_t n = strnlen(src, room);
    memcpy(dst + *len, src, n);
    *len += n;
    dst[*len] = '\0';
}

/* snprintf(dst, cap, "%s", src) without snprintf. */
static void model_text_copy(char *dst, size_t cap, const char *src)
{
    size_t len = 0;
    model_text_append(dst, cap, &len, src);
}

static void model_set_note(struct entry *e, const char *action, const char *reason)
{
    size_t len = 0;
    model_text_append(e->note, sizeof e->note, &len, action);
    if (reason && reason[0]) {
        model_text_append(e->note, sizeof e->note, &len, ": ");
        model_text_append(e->note, sizeof e->note, &len, reason);
    }
}

/* A delisting's note names who did it: "delisted: by alice: ticket 42"
 * (README, dnsblctl delist). */
static void model_set_note_by(struct entry *e, const char *action, const char *by,
                              const char *reason)
{
    size_t len = 0;
    if (!by || !by[0]) {
        model_set_note(e, action, reason);
        return;
    }
    model_text_append(e->note, sizeof e->note, &len, action);
    model_text_append(e->note, sizeof e->note, &len, ": by ");
    model_text_append(e->note, sizeof e->note, &len, by);
    if (reason && reason[0]) {
        model_text_append(e->note, sizeof e->note, &len, ": ");
        model_text_append(e->note, sizeof e->note, &len, reason);
    }
}

/* Weights are doubles (feeds may scale them); counters are whole reports,
 * so round and saturate rather than wrap. NaN and negatives add nothing. */
static uint64_t model_weight_to_count(double w)
{
    if (!(w > 0))
        return 0;
    if (w >= 9.0e18) /* beyond llround's range */
        return UINT64_MAX;
    return (uint64_t)llround(w);
}

static uint32_t model_add_count32(uint32_t c, uint64_t add)
{
    return add >= (uint64_t)(UINT32_MAX - c) ? UINT32_MAX : c + (uint32_t)add;
}

static uint64_t model_add_count64(uint64_t c, uint64_t add)
{
    return add > UINT64_MAX - c ? UINT64_MAX : c + add;
}

int model_kind_counter(uint8_t kind)
{
    if (kind >= EV_ABUSE && kind <= EV_TRAP_HIT)
        return kind - EV_ABUSE;
    return -1;
}

/* The kinds that make complaints in the sense of doc/formats.md 2.10: only
 * these count towards the SPF/DKIM/DMARC failure counters, so that the
 * failure share of complaints stays within 0..1. */
static bool model_kind_is_complaint(uint8_t kind)
{
    return kind == EV_ABUSE || kind == EV_FRAUD || kind == EV_VIRUS;
}

/* Is the comma-separated list holding name as one of its items? */
static bool model_sources_have(const char *list, const char *name, size_t nlen)
{
    const char *p = list;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == nlen && memcmp(p, name, nlen) == 0)
            return true;
        if (!comma)
            break;
        p = comma + 1;
    }
    return false;
}

/* A name that does not fit whole is left out rather than cut, so the list
 * never holds a fragment that later reads as a different source. A comma
 * inside a name would split it, so it becomes ';'. */
static void model_sources_add(char *list, size_t cap, const char *source)
{
    char name[MODEL_TEXT_MAX];
    if (!source || !source[0])
        return;
    size_t nlen = strlen(source);
    if (nlen >= sizeof name)
        nlen = sizeof name - 1;
    for (size_t i = 0; i < nlen; i++)
        name[i] = source[i] == ',' ? ';' : source[i];
    name[nlen] = '\0';
    if (model_sources_have(list, name, nlen))
        return;
    size_t len = strlen(list);
    size_t need = nlen + (len ? 1 : 0);
    if (len + need >= cap)
        return;
    if (len)
        list[len++] = ',';
    memcpy(list + len, name, nlen + 1);
}

uint32_t model_dataset_id(const char *name)
{
    if (!name || !name[0])
        return 0;
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h ? h : 1;
}

void model_subzone_ids(const char *zone, size_t len, uint32_t ids[MODEL_SUBZONE_SETS])
{
    /* model_dataset_id of "zone", then of "zone~2".. from the same state:
     * one pass over the name per query. */
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)zone[i]) * 16777619u;
    ids[0] = h ? h : 1;
    for (unsigned k = 1; k < MODEL_SUBZONE_SETS; k++) {
        uint32_t s = (h ^ '~') * 16777619u;
        s = (s ^ (unsigned char)('1' + k)) * 16777619u;
        ids[k] = s ? s : 1;
    }
}

int model_part_find(const struct entry *e, uint32_t dataset)
{
    for (unsigned i = 0; i < e->nparts && i < ENTRY_PARTS_MAX; i++) {
        if (e->parts[i].dataset == dataset)
            return (int)i;
    }
    return -1;
}

void model_part_remove(struct entry *e, unsigned i)
{
    if (i >= e->nparts)
        return;
    for (unsigned j = i; j + 1 < e->nparts; j++) {
        e->parts[j] = e->parts[j + 1];
        e->part_text[j] = e->part_text[j + 1];
    }
    e->nparts--;
    memset(&e->parts[e->nparts], 0, sizeof e->parts[0]);
    memset(&e->part_text[e->nparts], 0, sizeof e->part_text[0]);
}

bool model_entry_holds(const struct entry *e)
{
    return e->state != ENTRY_NONE || e->nparts > 0 || model_has_evidence(e) ||
           e->snds.colour != SNDS_NONE || e->snds_status != SNDS_STATUS_NONE;
}

/* The part of ev's dataset, made (in id order) when there is none and
 * room for one; NULL when there is no room. */
static int model_part_slot(struct entry *e, const struct event *ev)
{
    uint32_t id = model_dataset_id(ev->dataset);
    int i = model_part_find(e, id);
    if (i >= 0)
        return i;
    if (e->nparts >= ENTRY_PARTS_MAX)
        return -1;
    unsigned at = e->nparts;
    while (at > 0 && e->parts[at - 1].dataset > id) {
        e->parts[at] = e->parts[at - 1];
        e->part_text[at] = e->part_text[at - 1];
        at--;
    }
    memset(&e->parts[at], 0, sizeof e->parts[at]);
    memset(&e->part_text[at], 0, sizeof e->part_text[at]);
    e->parts[at].dataset = id;
    model_text_copy(e->part_text[at].dataset, sizeof e->part_text[at].dataset,
                    model_text_or_empty(ev->dataset));
    e->nparts++;
    return (int)at;
}

/* A part that says again what it said keeps its time (listed since), so
 * re-importing an unchanged list leaves its entries as they were. The TXT:
 * none when the source gives none (txt NULL, rbldnsd ":6:"), its template,
 * or, for a source with a reason but an empty template (a DROP list), the
 * reason for the zone's own template (IMPORT_REASON). */
static bool model_apply_import(struct entry *e, const struct event *ev, uint8_t state)
{
    int i = model_part_slot(e, ev);
    if (i < 0)
        return false;
    struct entry_part np = {.dataset = e->parts[i].dataset,
                            .state = state,
                            .flags = ev->subzone ? IMPORT_SUBZONE : 0,
                            .time = ev->time};
    char txt[MODEL_TEXT_MAX] = "";
    if (state == IMPORT_LISTED) {
        np.code = ev->code;
        np.ttl = ev->ttl;
        if (!ev->txt) {
            np.flags |= IMPORT_NO_TXT;
        } else if (ev->txt[0]) {
            model_text_copy(txt, sizeof txt, ev->txt);
        } else if (ev->reason && ev->reason[0]) {
            np.flags |= IMPORT_REASON;
            model_text_copy(txt, sizeof txt, ev->reason);
        }
    }
    struct entry_part *old = &e->parts[i];
    bool same = old->state == np.state && old->flags == np.flags && old->code == np.code &&
                old->ttl == np.ttl && strcmp(e->part_text[i].txt, txt) == 0;
    if (same && old->time != 0 && old->time <= np.time)
        np.time = old->time;
    *old = np;
    memcpy(e->part_text[i].txt, txt, sizeof txt);
    return true;
}

static void model_apply_counter(struct entry *e, const struct event *ev)
{
    uint64_t add = model_weight_to_count(ev->weight);
    int c = model_kind_counter(ev->kind);
    e->counts[c] = model_add_count32(e->counts[c], add);
    if (model_kind_is_complaint(ev->kind)) {
        if (ev->auth_failed & AUTH_FAIL_SPF)
            e->auth_fail[AUTHC_SPF] = model_add_count32(e->auth_fail[AUTHC_SPF], add);
        if (ev->auth_failed & AUTH_FAIL_DKIM)
            e->auth_fail[AUTHC_DKIM] = model_add_count32(e->auth_fail[AUTHC_DKIM], add);
        if (ev->auth_failed & AUTH_FAIL_DMARC)
            e->auth_fail[AUTHC_DMARC] = model_add_count32(e->auth_fail[AUTHC_DMARC], add);
    }
}

bool model_apply_event(struct entry *e, const struct event *ev)
{
    switch (ev->kind) {
    case EV_LIST:
        e->state = ENTRY_LISTED;
        e->code = ev->code;
        e->expires = ev->expires;
        e->state_time = ev->time;
        model_text_copy(e->reason, sizeof e->reason, model_text_or_empty(ev->reason));
        model_set_note(e, "listed", ev->reason);
        break;
    case EV_DELIST:
        /* reason stays the last listing reason, so history shows why it was listed. */
        e->state = ENTRY_DELISTED;
        e->expires = 0;
        e->state_time = ev->time;
        model_set_note_by(e, "delisted", ev->by, ev->reason);
        break;
    case EV_ALLOW:
        e->state = ENTRY_ALLOWED;
        e->expires = ev->expires;
        e->state_time = ev->time;
        model_text_copy(e->reason, sizeof e->reason, model_text_or_empty(ev->reason));
        model_set_note(e, "allowed", ev->reason);
        break;
    case EV_ABUSE:
    case EV_FRAUD:
    case EV_VIRUS:
    case EV_OTHER:
    case EV_NOT_SPAM:
    case EV_AUTH_FAILURE:
    case EV_TRAP_HIT:
        model_apply_counter(e, ev);
        break;
    case EV_VOLUME:
        e->volume = model_add_count64(e->volume, model_weight_to_count(ev->weight));
        break;
    case EV_IMPORT_LIST:
    case EV_IMPORT_EXCLUDE:
        /* List data is state, not an event seen: its parts keep their own
         * time, and the entry's stay as they were (doc/store-format.md). */
        if (!model_apply_import(e, ev,
                                ev->kind == EV_IMPORT_LIST ? IMPORT_LISTED : IMPORT_EXCLUDED))
            return false;
        model_sources_add(e->sources, sizeof e->sources, ev->source);
        return true;
    case EV_OPERATOR_CLEAR:
        e->state = ENTRY_NONE;
        e->code = 0;
        e->expires = 0;
        e->state_time = 0;
        e->reason[0] = e->note[0] = '\0';
        return true;
    case EV_OPLOG:
        return true; /* history only: the store writes the record */
    case EV_REMOVE: {
        struct addr_prefix p = e->prefix;
        memset(e, 0, sizeof *e);
        e->prefix = p;
        return true;
    }
    case EV_IMPORT_REMOVE: {
        int i = model_part_find(e, model_dataset_id(ev->dataset));
        if (i >= 0)
            model_part_remove(e, (unsigned)i);
        return true;
    }
    case EV_SNDS:
        /* Rows may arrive in any order (several exports, re-imports): the
         * latest activity window is the one that describes the address now.
         * Its volume and trap hits arrive as their own events. */
        if (ev->snds && ev->snds->start >= e->snds.start)
            e->snds = *ev->snds;
        break;
    case EV_SNDS_STATUS:
        /* As for rows, the latest dated status describes the range now; its
         * date lets a blocked status age out (doc/formats.md 3.5). */
        if (ev->time < e->snds_status_time)
            break;
        e->snds_status = ev->snds_blocked ? SNDS_STATUS_BLOCKED : SNDS_STATUS_JUNKED;
        e->snds_status_time = ev->time;
        if (ev->reason)
            model_text_copy(e->reason, sizeof e->reason, ev->reason);
        break;
    default:
        return true; /* unknown kind: not an event of this model, leave e alone */
    }
    if (e->first_seen == 0 || ev->time < e->first_seen)
        e->first_seen = ev->time;
    if (ev->time > e->last_seen)
        e->last_seen = ev->time;
    model_sources_add(e->sources, sizeof e->sources, ev->source);
    return true;
}

bool model_has_evidence(const struct entry *e)
{
    /* OR-ed without a branch per counter: this runs for every covering
     * entry of every query, and most entries hold no evidence at all. */
    uint64_t any = e->volume;
    for (unsigned i = 0; i < CNT_COUNT; i++)
        any |= e->counts[i];
    return any != 0;
}

bool model_manual_active(const struct entry *e, int64_t now)
{
    if (e->state != ENTRY_LISTED && e->state != ENTRY_ALLOWED)
        return false;
    return e->expires == 0 || e->expires > now;
}

bool model_event_has_history(const struct event *ev)
{
    return model_kind_counter(ev->kind) >= 0 || ev->kind == EV_VOLUME;
}

bool model_event_has_evidence(const struct event *ev)
{
    if (!ev->ident)
        return false;
    return (ev->kind >= EV_ABUSE && ev->kind <= EV_TRAP_HIT) || ev->kind == EV_SNDS ||
           ev->kind == EV_SNDS_STATUS;
}

void model_history_add(struct history_day *d, const struct event *ev)
{
    uint64_t add = model_weight_to_count(ev->weight);
    int c = model_kind_counter(ev->kind);
    if (c >= 0)
        d->counts[c] = model_add_count32(d->counts[c], add);
    else if (ev->kind == EV_VOLUME)
        d->volume = model_add_count64(d->volume, add);
}

const char *model_state_name(uint8_t state)
{
    switch (state) {
    case ENTRY_NONE:
        return "none";
    case ENTRY_LISTED:
        return "listed";
    case ENTRY_DELISTED:
        return "delisted";
    case ENTRY_ALLOWED:
        return "allowed";
    }
    return "unknown";
}

const char *model_why_name(uint8_t why)
{
    static const char *const names[] = {
        [WHY_NONE] = "none",         [WHY_MANUAL] = "manual",
        [WHY_ALLOWED] = "allowed",   [WHY_DELISTED] = "delisted",
        [WHY_EXPIRED] = "expired",   [WHY_TESTPOINT] = "testpoint",
        [WHY_IMPORTED] = "imported", [WHY_EXCLUDED] = "excluded",
        [WHY_SNDS] = "snds",         [WHY_COMPLAINTS] = "complaints",
        [WHY_TRAPS] = "traps",       [WHY_SCORE] = "score",
    };
    if (why < sizeof names / sizeof names[0] && names[why])
        return names[why];
    return "unknown";
}

/* CSV names first (doc/formats.md 5), then the kinds only the tools produce. */
static const char *const kind_names[EV_KIND_COUNT] = {
    [EV_ABUSE] = "abuse",
    [EV_FRAUD] = "fraud",
    [EV_VIRUS] = "virus",
    [EV_OTHER] = "other",
    [EV_NOT_SPAM] = "not_spam",
    [EV_AUTH_FAILURE] = "auth_failure",
    [EV_TRAP_HIT] = "trap",
    [EV_VOLUME] = "volume",
    [EV_LIST] = "list",
    [EV_ALLOW] = "allow",
    [EV_DELIST] = "delist",
    [EV_IMPORT_LIST] = "import_list",
    [EV_IMPORT_EXCLUDE] = "import_exclude",
    [EV_SNDS] = "snds",
    [EV_SNDS_STATUS] = "snds_status",
    [EV_OPLOG] = "oplog",
};

const char *model_kind_name(uint8_t kind)
{
    if (kind < EV_KIND_COUNT && kind_names[kind])
        return kind_names[kind];
    return "unknown";
}

/* Case-insensitive, and '-' reads as '_': operators write the ARF
 * Feedback-Type spelling ("not-spam", "auth-failure") as often as ours. */
int model_kind_from_name(const char *name)
{
    char norm[32];
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len >= sizeof norm)
        return -1;
    for (size_t i = 0; i <= len; i++)
        norm[i] = name[i] == '-' ? '_' : name[i];
    for (int k = 0; k < EV_KIND_COUNT; k++) {
        if (kind_names[k] && strcasecmp(norm, kind_names[k]) == 0)
            return k;
    }
    return -1;
}

const char *model_light_name(uint8_t light)
{
    switch (light) {
    case 0:
        return "green";
    case 1:
        return "yellow";
    case 2:
        return "red";
    }
    return "unknown";
}

int model_event_refusal(const struct event *ev, const char *shown, char *why, size_t whylen)
{
    static const uint8_t never[4] = {127, 0, 0, 1};
    static const char tail[] = "the RFC 5782 test point that must never be listed";
    struct addr_prefix tp;
    char text[ADDR_TEXT_MAX];

    bool lists = ev->kind == EV_LIST || ev->kind == EV_IMPORT_LIST ||
                 (ev->kind == EV_SNDS_STATUS && ev->snds_blocked);
    if (!lists)
        return DNSBL_OK;
    /* ::ffff:127.0.0.1 has the same IPv4 key (addr.h), and only IPv4
     * prefixes can cover it. */
    addr_from_bytes(&tp, ADDR_V4, never, 32);
    if (!addr_covers(&ev->prefix, &tp))
        return DNSBL_OK;
    if (!shown) {
        addr_format(&ev->prefix, text, sizeof text);
        shown = text;
    }
    if (why && whylen) {
        if (ev->prefix.plen != tp.plen)
            snprintf(why, whylen, "refusing to list %s: it covers 127.0.0.1, %s", shown, tail);
        else if (strcmp(shown, "127.0.0.1") == 0)
            snprintf(why, whylen, "refusing to list 127.0.0.1, %s", tail);
        else
            snprintf(why, whylen, "refusing to list %s: it is 127.0.0.1, %s", shown, tail);
    }
    return DNSBL_EREFUSED;
}

const char *model_code_parse(const char *text, uint32_t *out)
{
    struct in_addr a;

    if (inet_pton(AF_INET, text, &a) != 1)
        return "is not an IPv4 address like 127.0.0.2";
    uint32_t v = ntohl(a.s_addr);
    if (v >> 24 != 127)
        return "is outside 127.0.0.0/8";
    if (v <= 0x7f000001)
        return "is not allowed: it is reserved, 127.0.0.1 means \"not listed\" (RFC 5782) and "
               "127.0.0.0 is no answer either";
    if (v >= 0x7ffffffc)
        return "is not allowed: it is reserved, 127.255.255.252-255 are DNSBL error replies";
    *out = v;
    return NULL;
}
