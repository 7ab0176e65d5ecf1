/* feed_csv: the two CSV feeds of doc/formats.md section 5 that carry a header
 * line: "csv", the generic operator CSV (address_or_prefix,kind,weight,
 * time,reason), and "traps", the spam-trap hit log (timestamp,ip,helo,
 * mail_from,rcpt_to). Columns are found by header name, so a reordered or
 * extended file still imports; a file without the header is read in the
 * documented order, with a warning. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "feed.h"
#include "feed_csvsplit.h"
#include "store.h" /* enum oplog_action and its names, for "oplog" rows */

#define CSVF_MAX_FIELDS 32
#define CSVF_MAX_COLS 16

struct csvf_name {
    const char *name;
    int col;
};

struct csvf_parse;

/* One CSV feed: its columns and what a row becomes. */
struct csvf_kind {
    const char *name;  /* default source name */
    const char *order; /* the documented header, for messages */
    const struct csvf_name *names;
    size_t nnames;
    int ncols;
    const int *fixed; /* column index of each column without a header */
    int (*row)(struct csvf_parse *cp);
};

struct csvf_parse {
    struct csv_lines l;
    const struct feed_options *opt;
    const struct csvf_kind *kind;
    const char *source;
    int col[CSVF_MAX_COLS];
    char *f[CSVF_MAX_FIELDS];
    size_t stored;
};

static const char *csvf_get(const struct csvf_parse *cp, int c)
{
    int i = cp->col[c];
    if (i < 0 || (size_t)i >= cp->stored)
        return "";
    return cp->f[i];
}

static int csvf_lookup(const struct csvf_kind *k, const char *field)
{
    char norm[64];
    snprintf(norm, sizeof norm, "%s", field);
    csv_lower(norm);
    for (size_t i = 0; i < k->nnames; i++)
        if (strcmp(norm, k->names[i].name) == 0)
            return k->names[i].col;
    return -1;
}

/* How many fields of a line are column names of k. */
static int csvf_header_hits(const struct csvf_kind *k, char *const *f, size_t n)
{
    int hits = 0;
    for (size_t i = 0; i < n; i++)
        hits += csvf_lookup(k, f[i]) >= 0;
    return hits;
}

static void csvf_fixed_order(struct csvf_parse *cp)
{
    for (int c = 0; c < cp->kind->ncols; c++)
        cp->col[c] = cp->kind->fixed[c];
}

/* The first content line: a header (mapped by name) or already a row. */
static bool csvf_header(struct csvf_parse *cp)
{
    const struct csvf_kind *k = cp->kind;
    bool has_address = false;
    for (size_t i = 0; i < cp->stored && !has_address; i++) {
        struct addr_prefix p;
        has_address = addr_parse(cp->f[i], &p, NULL, 0) == DNSBL_OK;
    }
    if (has_address || csvf_header_hits(k, cp->f, cp->stored) == 0) {
        csvf_fixed_order(cp);
        csv_warn(&cp->l, "no header line; assuming the columns %s", k->order);
        return false;
    }
    for (int c = 0; c < k->ncols; c++)
        cp->col[c] = -1;
    for (size_t i = 0; i < cp->stored; i++) {
        int c = csvf_lookup(k, cp->f[i]);
        if (c < 0)
            csv_warn(&cp->l, "unknown column '%s' ignored", cp->f[i]);
        else if (cp->col[c] < 0)
            cp->col[c] = (int)i;
    }
    /* Columns 0 and 1 are the ones no row can do without. */
    if (cp->col[0] < 0 || cp->col[1] < 0) {
        csv_warn(&cp->l, "header lacks %s or %s; assuming the columns %s", k->names[0].name,
                 k->names[1].name, k->order);
        csvf_fixed_order(cp);
    }
    return true;
}

static int csvf_parse(const struct feed_input *in, const struct feed_options *opt,
                      struct feed_sink *sink, const struct csvf_kind *kind)
{
    struct csvf_parse cp;
    memset(&cp, 0, sizeof cp);
    csv_lines_init(&cp.l, in, sink);
    cp.opt = opt;
    cp.kind = kind;
    cp.source = opt->source ? opt->source : kind->name;
    bool first = true;
    int rc;
    while ((rc = csv_lines_next(&cp.l)) == 1) {
        if (csv_line_skippable(cp.l.line))
            continue;
        size_t n = csv_lines_split(&cp.l, cp.f, CSVF_MAX_FIELDS);
        cp.stored = n < CSVF_MAX_FIELDS ? n : CSVF_MAX_FIELDS;
        for (size_t i = 0; i < cp.stored; i++)
            cp.f[i] = csv_trim(cp.f[i]);
        if (first) {
            first = false;
            if (csvf_header(&cp))
                continue;
        }
        rc = kind->row(&cp);
        csv_record_done(&cp.l);
        if (rc != 0)
            break;
    }
    csv_lines_free(&cp.l);
    return rc;
}

/* Parse an address column; reject the row with addr_parse's text. */
static bool csvf_address(struct csvf_parse *cp, const char *what, struct addr_prefix *out)
{
    char why[256];
    const char *text = csvf_get(cp, 0);
    if (!*text) {
        csv_reject(&cp->l, "no %s", what);
        return false;
    }
    if (addr_parse(text, out, why, sizeof why) != DNSBL_OK) {
        csv_reject(&cp->l, "%s", why);
        return false;
    }
    return true;
}

/* ---- generic operator CSV ---- */

/* The state columns after reason (code, expires, ttl, txt, dataset) and
 * the export's columns after them (source, by, action, auth, snds) are
 * optional: dnsblctl export --format csv writes them so an entry's
 * operator and imported state, its evidence and the operator history
 * import back whole (doc/formats.md 5). */
enum {
    G_ADDR,
    G_KIND,
    G_WEIGHT,
    G_TIME,
    G_REASON,
    G_CODE,
    G_EXPIRES,
    G_TTL,
    G_TXT,
    G_DATASET,
    G_SOURCE,
    G_BY,
    G_ACTION,
    G_AUTH,
    G_SNDS,
    G_COUNT
};

static const struct csvf_name generic_names[] = {
    {"address_or_prefix", G_ADDR},
    {"kind", G_KIND},
    {"weight", G_WEIGHT},
    {"time", G_TIME},
    {"reason", G_REASON},
    {"code", G_CODE},
    {"expires", G_EXPIRES},
    {"ttl", G_TTL},
    {"txt", G_TXT},
    {"dataset", G_DATASET},
    {"source", G_SOURCE},
    {"by", G_BY},
    {"action", G_ACTION},
    {"auth", G_AUTH},
    {"snds", G_SNDS},
    {"address", G_ADDR},
    {"prefix", G_ADDR},
    {"ip", G_ADDR},
    {"timestamp", G_TIME},
};

static bool generic_kind_ok(int kind)
{
    return (kind >= EV_ABUSE && kind <= EV_VOLUME) || kind == EV_LIST || kind == EV_ALLOW ||
           kind == EV_DELIST || kind == EV_IMPORT_LIST || kind == EV_IMPORT_EXCLUDE ||
           kind == EV_SNDS || kind == EV_SNDS_STATUS || kind == EV_OPLOG;
}

/* The action column: an oplog row's action (list, delist, allow, remove,
 * undo); "state" on a list, allow or delist row restores state without a
 * record of its own (the export writes the history as oplog rows). */
static bool generic_action(struct csvf_parse *cp, struct event *ev)
{
    const char *action = csvf_get(cp, G_ACTION);
    bool op = ev->kind == EV_LIST || ev->kind == EV_ALLOW || ev->kind == EV_DELIST;

    if (ev->kind == EV_OPLOG) {
        for (uint8_t a = OPLOG_LIST; a <= OPLOG_ACTION_MAX; a++)
            if (strcmp(action, store_oplog_action_name(a)) == 0)
                ev->oplog_action = a;
        if (!ev->oplog_action)
            csv_reject(&cp->l,
                       "an oplog row needs the action list, delist, allow, remove or "
                       "undo, not '%s'",
                       action);
        return ev->oplog_action != 0;
    }
    if (!*action)
        return true;
    if (op && strcmp(action, "state") == 0) {
        ev->no_oplog = true;
        return true;
    }
    csv_reject(&cp->l, "action '%s' is for oplog rows (and 'state' for list, allow and delist)",
               action);
    return false;
}

/* The auth column of a complaint (abuse, fraud, virus): what its mail
 * failed, "spf", "dkim", "dmarc" joined by '+'. */
static bool generic_auth(struct csvf_parse *cp, struct event *ev)
{
    const char *auth = csvf_get(cp, G_AUTH);
    char buf[64];

    if (!*auth)
        return true;
    if (ev->kind != EV_ABUSE && ev->kind != EV_FRAUD && ev->kind != EV_VIRUS) {
        csv_reject(&cp->l, "auth '%s' is for abuse, fraud and virus rows", auth);
        return false;
    }
    snprintf(buf, sizeof buf, "%s", auth);
    csv_lower(buf);
    for (char *save = NULL, *w = strtok_r(buf, "+ ", &save); w; w = strtok_r(NULL, "+ ", &save)) {
        if (strcmp(w, "spf") == 0)
            ev->auth_failed |= AUTH_FAIL_SPF;
        else if (strcmp(w, "dkim") == 0)
            ev->auth_failed |= AUTH_FAIL_DKIM;
        else if (strcmp(w, "dmarc") == 0)
            ev->auth_failed |= AUTH_FAIL_DMARC;
        else {
            csv_reject(&cp->l, "auth '%s' is not spf, dkim and dmarc joined by '+'", auth);
            return false;
        }
    }
    return true;
}

static const char *const generic_colours[] = {"", "green", "yellow", "red"};

/* An snds row's column: "COLOUR RATE RCPT DATA RECIPIENTS TRAPS START
 * END", RATE "-" or a qualifier and a percentage ("<0.1", "=2.5"), START
 * and END unix seconds (0 unknown), as the export writes the last SNDS
 * row of an entry. */
static bool generic_snds_row(const char *text, struct snds_row *row)
{
    char colour[16], rate[32];
    unsigned long long n[7];
    memset(row, 0, sizeof *row);
    if (sscanf(text, "%15s %31s %llu %llu %llu %llu %lld %lld", colour, rate, &n[0], &n[1], &n[2],
               &n[3], (long long *)&n[4], (long long *)&n[5]) != 8)
        return false;
    for (uint8_t c = SNDS_GREEN; c <= SNDS_RED; c++)
        if (strcmp(colour, generic_colours[c]) == 0)
            row->colour = c;
    if (row->colour == SNDS_NONE)
        return false;
    if (strcmp(rate, "-") != 0) {
        char *end;
        if (rate[0] != '<' && rate[0] != '>' && rate[0] != '=')
            return false;
        row->rate_qual = rate[0];
        row->rate_pct = strtof(rate + 1, &end);
        if (end == rate + 1 || *end)
            return false;
    }
    for (int i = 0; i < 4; i++)
        if (n[i] > UINT32_MAX)
            return false;
    row->rcpt = (uint32_t)n[0];
    row->data = (uint32_t)n[1];
    row->recipients = (uint32_t)n[2];
    row->trap_hits = (uint32_t)n[3];
    row->start = (int64_t)n[4];
    row->end = (int64_t)n[5];
    return true;
}

/* The snds column of an snds row (its data) or an snds_status row
 * ("blocked" or "junked"). */
static bool generic_snds(struct csvf_parse *cp, struct event *ev, struct snds_row *row)
{
    const char *text = csvf_get(cp, G_SNDS);

    if (ev->kind == EV_SNDS) {
        if (!generic_snds_row(text, row)) {
            csv_reject(&cp->l, "snds '%s' is not COLOUR RATE RCPT DATA RECIPIENTS TRAPS START END",
                       text);
            return false;
        }
        ev->snds = row;
    } else if (ev->kind == EV_SNDS_STATUS) {
        if (strcmp(text, "blocked") != 0 && strcmp(text, "junked") != 0) {
            csv_reject(&cp->l, "snds '%s' of an snds_status row is not blocked or junked", text);
            return false;
        }
        ev->snds_blocked = text[0] == 'b';
    } else if (*text) {
        csv_reject(&cp->l, "snds '%s' is for snds and snds_status rows", text);
        return false;
    }
    return true;
}

/* The optional state columns into ev; false (rejected) on a bad value. */
static bool generic_state(struct csvf_parse *cp, struct event *ev)
{
    const char *code = csvf_get(cp, G_CODE), *expires = csvf_get(cp, G_EXPIRES);
    const char *ttl = csvf_get(cp, G_TTL), *txt = csvf_get(cp, G_TXT);
    const char *dataset = csvf_get(cp, G_DATASET);

    if (*code) {
        const char *why = model_code_parse(code, &ev->code);
        if (why) {
            csv_reject(&cp->l, "code '%s' %s", code, why);
            return false;
        }
    }
    if (*expires && !csv_parse_time(expires, &ev->expires)) {
        csv_reject(&cp->l, "expires '%s' is not RFC 3339 or unix seconds", expires);
        return false;
    }
    if (*ttl) {
        double v;
        if (!csv_parse_decimal(ttl, &v) || v != (double)(uint32_t)v) {
            csv_reject(&cp->l, "ttl '%s' is not a whole number of seconds", ttl);
            return false;
        }
        ev->ttl = (uint32_t)v;
    }
    /* An imported listing without TXT has none (rbldnsd ":code:"). */
    ev->txt = *txt ? txt : NULL;
    ev->dataset = *dataset ? dataset : NULL;
    return true;
}

static int generic_row(struct csvf_parse *cp)
{
    struct event ev = {.source = cp->source};
    if (!csvf_address(cp, "address_or_prefix", &ev.prefix))
        return 0;

    char kindname[32];
    const char *ktext = csvf_get(cp, G_KIND);
    /* Cut as snprintf would; snprintf itself was a tenth of a row's cost. */
    size_t klen = strnlen(ktext, sizeof kindname - 1);
    memcpy(kindname, ktext, klen);
    kindname[klen] = '\0';
    csv_lower(kindname);
    int kind = *ktext ? model_kind_from_name(kindname) : -1;
    if (!generic_kind_ok(kind)) {
        if (*ktext)
            csv_reject(&cp->l,
                       "unknown kind '%s' (abuse, fraud, virus, other, not_spam, "
                       "auth_failure, trap, volume, list, allow, delist, import_list, "
                       "import_exclude, snds, snds_status, oplog)",
                       ktext);
        else
            csv_reject(&cp->l, "no kind");
        return 0;
    }
    ev.kind = (uint8_t)kind;
    bool state = kind == EV_LIST || kind == EV_ALLOW || kind == EV_DELIST ||
                 kind == EV_IMPORT_LIST || kind == EV_IMPORT_EXCLUDE || kind == EV_SNDS ||
                 kind == EV_SNDS_STATUS;
    struct snds_row row;
    if (!generic_state(cp, &ev) || !generic_action(cp, &ev) || !generic_auth(cp, &ev) ||
        !generic_snds(cp, &ev, &row))
        return 0;
    const char *source = csvf_get(cp, G_SOURCE), *by = csvf_get(cp, G_BY);
    if (*source)
        ev.source = source;
    ev.by = *by ? by : NULL;

    const char *wtext = csvf_get(cp, G_WEIGHT);
    ev.weight = 1;
    if (*wtext && !csv_parse_decimal(wtext, &ev.weight)) {
        csv_reject(&cp->l, "weight '%s' is not a number >= 0", wtext);
        return 0;
    }

    const char *ttext = csvf_get(cp, G_TIME);
    if (!*ttext) {
        if (!state || kind == EV_SNDS_STATUS) {
            csv_reject(&cp->l, "no time (RFC 3339 or unix seconds); only list and allow rows "
                               "default to now");
            return 0;
        }
        ev.time = cp->opt->now;
    } else if (!csv_parse_time(ttext, &ev.time)) {
        csv_reject(&cp->l, "time '%s' is not RFC 3339 or unix seconds", ttext);
        return 0;
    }
    const char *reason = csvf_get(cp, G_REASON);
    ev.reason = *reason ? reason : NULL;

    /* List and allow rows set state, which repeats harmlessly; evidence
     * must count once per (file, row) however often it is imported, and
     * an operator-history record once per row whatever the file. */
    if (state)
        return csv_emit(&cp->l, &ev, NULL);
    uint8_t key[FEED_DEDUP_LEN];
    if (kind == EV_OPLOG) {
        const char *oparts[2] = {"oplog", cp->l.line};
        csv_dedup_strings(key, oparts, 2);
        return csv_emit(&cp->l, &ev, key);
    }
    /* On the evidence trail a row is known by its reason, if it has one. */
    struct evidence_ident ident = {0};
    if (ev.reason)
        ident.pair[ident.n++] = (struct evidence_pair){"reason", ev.reason};
    ev.ident = &ident;
    const char *parts[3] = {"csv", cp->l.in->name ? cp->l.in->name : "-", cp->l.line};
    csv_dedup_strings(key, parts, 3);
    return csv_emit(&cp->l, &ev, key);
}

static const int generic_fixed[G_COUNT] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};

static const struct csvf_kind generic_kind = {
    .name = "csv",
    .order = "address_or_prefix,kind,weight,time,reason",
    .names = generic_names,
    .nnames = sizeof generic_names / sizeof generic_names[0],
    .ncols = G_COUNT,
    .fixed = generic_fixed,
    .row = generic_row,
};

/* ---- spam-trap hits ---- */

/* Columns 0 and 1 are the required ones (csvf_header), so ip comes first. */
enum { T_IP, T_TIME, T_RCPT, T_HELO, T_FROM, T_COUNT };

static const struct csvf_name trap_names[] = {
    {"ip", T_IP},          {"timestamp", T_TIME}, {"rcpt_to", T_RCPT}, {"helo", T_HELO},
    {"mail_from", T_FROM}, {"address", T_IP},     {"time", T_TIME},
};

static int trap_row(struct csvf_parse *cp)
{
    struct event ev = {.kind = EV_TRAP_HIT, .weight = 1, .source = cp->source};
    if (!csvf_address(cp, "ip", &ev.prefix))
        return 0;
    if (ev.prefix.plen != (ev.prefix.family == ADDR_V4 ? 32 : 128)) {
        csv_reject(&cp->l, "'%s' is a prefix; a trap hit comes from one address",
                   csvf_get(cp, T_IP));
        return 0;
    }
    const char *ttext = csvf_get(cp, T_TIME);
    if (!*ttext) {
        csv_reject(&cp->l, "no timestamp (RFC 3339 or unix seconds)");
        return 0;
    }
    if (!csv_parse_time(ttext, &ev.time)) {
        csv_reject(&cp->l, "timestamp '%s' is not RFC 3339 or unix seconds", ttext);
        return 0;
    }
    /* doc/formats.md 5: one hit per (ip, timestamp, rcpt_to); normalised so
     * that the same hit written two ways is still one. */
    char ip[ADDR_TEXT_MAX], when[24];
    addr_format(&ev.prefix, ip, sizeof ip);
    snprintf(when, sizeof when, "%lld", (long long)ev.time);
    const char *parts[4] = {"traps", ip, when, csvf_get(cp, T_RCPT)};
    uint8_t key[FEED_DEDUP_LEN];
    csv_dedup_strings(key, parts, 4);
    /* The trail names the hit by its SMTP envelope. */
    static const struct {
        const char *name;
        int col;
    } envelope[] = {{"helo", T_HELO}, {"mail-from", T_FROM}, {"rcpt-to", T_RCPT}};
    struct evidence_ident ident = {0};
    for (size_t i = 0; i < sizeof envelope / sizeof envelope[0]; i++) {
        const char *v = csvf_get(cp, envelope[i].col);
        if (*v)
            ident.pair[ident.n++] = (struct evidence_pair){envelope[i].name, v};
    }
    ev.ident = &ident;
    return csv_emit(&cp->l, &ev, key);
}

/* The documented order timestamp,ip,helo,mail_from,rcpt_to. */
static const int trap_fixed[T_COUNT] = {1, 0, 4, 2, 3};

static const struct csvf_kind trap_kind = {
    .name = "traps",
    .order = "timestamp,ip,helo,mail_from,rcpt_to",
    .names = trap_names,
    .nnames = sizeof trap_names / sizeof trap_names[0],
    .ncols = T_COUNT,
    .fixed = trap_fixed,
    .row = trap_row,
};

static int trap_parse(const struct feed_input *in, const struct feed_options *opt,
                      struct feed_sink *sink)
{
    return csvf_parse(in, opt, sink, &trap_kind);
}

static int generic_parse(const struct feed_input *in, const struct feed_options *opt,
                         struct feed_sink *sink)
{
    return csvf_parse(in, opt, sink, &generic_kind);
}

/* The first content line against a kind's header: 95 when every field is
 * one of its columns and the first two required ones are there. */
static int csvf_detect(const uint8_t *data, size_t len, const struct csvf_kind *k)
{
    struct feed_input in = {.name = "detect", .data = data, .len = len};
    struct csv_lines l;
    char *f[CSVF_MAX_FIELDS];
    int score = 0;
    csv_lines_init(&l, &in, NULL);
    while (l.lineno < 20 && csv_lines_next(&l) == 1) {
        if (csv_line_skippable(l.line))
            continue;
        size_t n = csv_lines_split(&l, f, CSVF_MAX_FIELDS);
        size_t stored = n < CSVF_MAX_FIELDS ? n : CSVF_MAX_FIELDS;
        bool req[2] = {false, false};
        for (size_t i = 0; i < stored; i++) {
            f[i] = csv_trim(f[i]);
            int c = csvf_lookup(k, f[i]);
            if (c == 0 || c == 1)
                req[c] = true;
        }
        int hits = csvf_header_hits(k, f, stored);
        if (req[0] && req[1])
            score = (size_t)hits == n && hits >= 3 ? 95 : 70;
        break;
    }
    csv_lines_free(&l);
    return score;
}

static int generic_detect(const uint8_t *data, size_t len)
{
    return csvf_detect(data, len, &generic_kind);
}

static int trap_detect(const uint8_t *data, size_t len)
{
    return csvf_detect(data, len, &trap_kind);
}

const struct feed_ops feed_ops_csv = {
    .name = "csv",
    .detect = generic_detect,
    .parse = generic_parse,
};

const struct feed_ops feed_ops_traps = {
    .name = "traps",
    .detect = trap_detect,
    .parse = trap_parse,
};
