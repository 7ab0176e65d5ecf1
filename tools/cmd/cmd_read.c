/* cmd_read: the commands that only read the store -- show (the report on
 * one address: what decides it, its score, evidence, trend and operator
 * history) and list (every entry and what it answers in each zone). Text
 * for people, --json for scripts; the JSON keys are part of the
 * interface. Neither creates the store: a directory without one reads as
 * empty. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "err.h"
#include "json.h"

#define CTL_OPTION_JSON                                                                            \
    {                                                                                              \
        "json", no_argument, NULL, 'j'                                                             \
    }

/* show's options: --json, --chart and the zone whose policy decides. */
struct ctl_show_options {
    bool json, chart, done;
    const char *zone, *zone_config;
    size_t evidence; /* --evidence N: the last N pieces of evidence; 0 = none shown */
};

/* --evidence N: at most this many, what an entry keeps (doc/store-format.md). */
#define CTL_EVIDENCE_MAX 1000

static int ctl_show_parse_options(struct ctl_ctx *ctx, int argc, char **argv,
                                  struct ctl_show_options *o)
{
    static const struct option opts[] = {
        CTL_OPTIONS_COMMON,
        CTL_OPTION_JSON,
        {"chart", no_argument, NULL, 'C'},
        {"zone", required_argument, NULL, 'z'},
        {"zone-config", required_argument, NULL, 'Z'},
        {"evidence", required_argument, NULL, CTL_OPT_CREATE + 20},
        {NULL, 0, NULL, 0},
    };

    for (;;) {
        int c = ctl_getopt(ctx, argc, argv, CTL_SHORTOPTS_COMMON "jCz:Z:", opts);
        char *end;
        switch (c) {
        case CTL_GETOPT_END:
            return CTL_EXIT_OK;
        case CTL_GETOPT_HELP:
            o->done = true;
            return CTL_EXIT_OK;
        case 'j':
            o->json = true;
            break;
        case 'C':
            o->chart = true;
            break;
        case 'z':
            o->zone = optarg;
            break;
        case 'Z':
            o->zone_config = optarg;
            break;
        case CTL_OPT_CREATE + 20:
            o->evidence = optarg[0] >= '0' && optarg[0] <= '9' ? strtoul(optarg, &end, 10) : 0;
            if (o->evidence < 1 || o->evidence > CTL_EVIDENCE_MAX || *end != '\0')
                return ctl_usage_error(ctx, "--evidence '%s': want a count, 1 to %d", optarg,
                                       CTL_EVIDENCE_MAX);
            break;
        default:
            return CTL_EXIT_USAGE;
        }
    }
}

/* The evidence trail shown: the newest records of every covering entry,
 * merged, oldest first. */
struct ctl_show_trail {
    struct evidence_record *rec; /* n of them, owned */
    size_t n;
};

static int ctl_evidence_cmp(const void *a, const void *b)
{
    const struct evidence_record *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* The last `want` pieces of evidence of the entries covering v's address. */
static int ctl_show_read_trail(struct store *s, const struct verdict *v, size_t want,
                               struct ctl_show_trail *tr)
{
    struct store_reader *r = NULL;
    int err = DNSBL_OK;

    tr->n = 0;
    if (!s || v->n == 0)
        return CTL_EXIT_OK;
    /* Room for the newest `want` so far and one entry's: memory stays
     * bounded however many entries cover the address. */
    tr->rec = calloc(2 * want, sizeof *tr->rec);
    if (!tr->rec) {
        ctl_error("reading the evidence: %s", dnsbl_strerror(DNSBL_ENOMEM));
        return CTL_EXIT_FAIL;
    }
    err = store_reader_open(s, &r);
    if (err == DNSBL_OK && store_reader_begin(r) != DNSBL_OK) {
        ctl_error("%s", store_reader_why(r));
        store_reader_close(r);
        return CTL_EXIT_FAIL;
    }
    for (size_t i = 0; i < v->n && err == DNSBL_OK; i++) {
        size_t got = 0;
        err = store_reader_evidence(r, &v->covering[i].prefix, want, tr->rec + tr->n, &got);
        tr->n += got;
        qsort(tr->rec, tr->n, sizeof *tr->rec, ctl_evidence_cmp);
        if (tr->n > want) {
            memmove(tr->rec, tr->rec + (tr->n - want), want * sizeof *tr->rec);
            tr->n = want;
        }
    }
    if (r) {
        store_reader_end(r);
        store_reader_close(r);
    }
    if (err != DNSBL_OK) {
        ctl_error("reading the evidence: %s", dnsbl_strerror(err));
        return CTL_EXIT_FAIL;
    }
    return CTL_EXIT_OK;
}

/* name=value, the value quoted when it holds a space or a quote (or is
 * empty), so a line splits back into its pairs. */
static void ctl_print_ident_pair(const char *name, const char *value)
{
    printf(" %s=", name);
    if (value[0] && !strpbrk(value, " \t\"\\")) {
        ctl_print_text(stdout, value);
        return;
    }
    putchar('"');
    for (const char *p = value; *p; p++) {
        if (*p == '"' || *p == '\\')
            putchar('\\');
        fputc((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p, stdout);
    }
    putchar('"');
}

static void ctl_print_show_trail(const struct ctl_show_trail *tr)
{
    char when[CTL_TEXT_SHORT];

    printf("evidence: %zu\n", tr->n);
    for (size_t i = 0; i < tr->n; i++) {
        const struct evidence_record *e = &tr->rec[i];
        ctl_format_time(e->time, when);
        printf("  %s %s", when, model_kind_name(e->kind));
        if (model_kind_counter(e->kind) >= 0 && e->weight != 1)
            printf(" x%g", e->weight); /* incidents, hits: an SNDS row has no weight */
        putchar(' ');
        ctl_print_text(stdout, e->dataset[0] ? e->dataset : "-");
        for (size_t j = 0; j < e->n; j++)
            ctl_print_ident_pair(e->name[j], e->value[j]);
        putchar('\n');
    }
}

static void ctl_print_trail_json(struct json_writer *w, const struct ctl_show_trail *tr)
{
    char when[CTL_TEXT_SHORT];

    json_key(w, "evidence");
    json_begin_array(w);
    for (size_t i = 0; i < tr->n; i++) {
        const struct evidence_record *e = &tr->rec[i];
        ctl_format_time(e->time, when);
        json_begin_object(w);
        json_member_string(w, "time", when);
        json_member_string(w, "kind", model_kind_name(e->kind));
        json_member_double(w, "weight", e->weight);
        json_member_string(w, "dataset", e->dataset);
        json_key(w, "ident");
        json_begin_object(w);
        for (size_t j = 0; j < e->n; j++)
            json_member_string(w, e->name[j], e->value[j]);
        json_end_object(w);
        json_end_object(w);
    }
    json_end_array(w);
}

/* One day of the trend: zero when the store has nothing for it. */
enum ctl_trend_series { CTL_TREND_COMPLAINTS, CTL_TREND_TRAPS, CTL_TREND_VOLUME, CTL_TREND_N };

struct ctl_trend_day {
    uint32_t day;
    uint64_t v[CTL_TREND_N];
};

/* What show prints, computed once for both output forms. Absent values
 * are NULL (JSON null). */
struct ctl_show_report {
    char address[ADDR_TEXT_MAX];
    const struct verdict *v;
    const struct zone_policy *zp;
    const struct entry *e;        /* decides, else holds the evidence, else the longest */
    const struct entry *evidence; /* counters, volume, history; may be NULL */
    const struct entry *snds;     /* the longest covering entry with SNDS data, or NULL */
    const char *prefix;
    bool listed, allowed;
    const char *code;
    const char *reason;
    const char *expires;
    const char *first_seen, *last_seen;
    const char *why, *state, *note;
    int64_t listed_since;             /* 0 when not listed or unknown */
    uint64_t complaints;              /* abuse + fraud + virus, lifetime */
    char sources[8 * MODEL_TEXT_MAX]; /* comma-separated union, longest entry first */
    struct ctl_trend_day trend[CTL_TREND_DAYS];
    char prefix_buf[ADDR_TEXT_MAX];
    char code_buf[CTL_TEXT_SHORT], expires_buf[CTL_TEXT_SHORT];
    char first_buf[CTL_TEXT_SHORT], last_buf[CTL_TEXT_SHORT];
    const struct ctl_oplog_line *oplog; /* operator history, oldest first (ctl_lookup_oplog) */
    size_t noplog;
};

/* A dataset's listing an operator decision overrides: its part, on the
 * longest covering entry holding one. */
struct ctl_override {
    const struct entry *e;
    unsigned part;
};

/* The listings of the zone's datasets that the operator's decision (an
 * allow, a delisting, a listing by hand) overrides, so show says what it
 * hides (README "Datasets"); at most cap, and how many. */
static size_t ctl_show_overrides(const struct verdict *v, const struct zone_policy *zp,
                                 struct ctl_override *out, size_t cap)
{
    uint8_t why = v->d.why;
    size_t n = 0;
    if (why != WHY_ALLOWED && why != WHY_DELISTED && why != WHY_MANUAL)
        return 0;
    for (size_t i = 0; i < v->n; i++) {
        const struct entry *e = &v->covering[i];
        for (unsigned j = 0; j < e->nparts && n < cap; j++) {
            if (!policy_serves(zp, e->parts[j].dataset))
                continue;
            bool seen = false;
            for (size_t k = 0; k < n && !seen; k++)
                seen = out[k].e->parts[out[k].part].dataset == e->parts[j].dataset;
            if (!seen)
                out[n++] = (struct ctl_override){e, j};
        }
    }
    /* Only what would list: an exclusion hides nothing. */
    size_t kept = 0;
    for (size_t k = 0; k < n; k++)
        if (out[k].e->parts[out[k].part].state == IMPORT_LISTED)
            out[kept++] = out[k];
    return kept;
}

static void ctl_show_override_code(const struct zone_policy *zp, const struct ctl_override *o,
                                   char *buf)
{
    uint32_t code = o->e->parts[o->part].code;
    ctl_format_code(code ? code : zp->code_imported, buf);
}

static const uint32_t ctl_no_counts[CNT_COUNT];

static const uint32_t *ctl_show_counts(const struct ctl_show_report *r)
{
    return r->evidence ? r->evidence->counts : ctl_no_counts;
}

/* Add each comma-separated name of list to out once. */
static void ctl_show_merge_sources(char *out, size_t cap, const char *list)
{
    while (*list) {
        size_t len = strcspn(list, ",");
        bool seen = false;
        for (const char *p = out; *p && !seen;) {
            size_t plen = strcspn(p, ",");
            seen = plen == len && memcmp(p, list, len) == 0;
            p += plen + (p[plen] == ',');
        }
        size_t used = strlen(out);
        if (!seen && len && used + len + 2 < cap) {
            if (used)
                out[used++] = ',';
            memcpy(out + used, list, len);
            out[used + len] = '\0';
        }
        list += len + (list[len] == ',');
    }
}

static void ctl_show_build_trend(struct ctl_show_report *r, int64_t now)
{
    const struct verdict *v = r->v;
    uint32_t today = (uint32_t)(now / MODEL_DAY);
    size_t k = 0;

    for (unsigned i = 0; i < CTL_TREND_DAYS; i++) {
        struct ctl_trend_day *t = &r->trend[i];
        memset(t, 0, sizeof *t);
        t->day = today - (CTL_TREND_DAYS - 1) + i;
        while (k < v->ndays && v->days[k].day < t->day)
            k++;
        if (k < v->ndays && v->days[k].day == t->day) {
            const struct history_day *d = &v->days[k];
            t->v[CTL_TREND_COMPLAINTS] =
                (uint64_t)d->counts[CNT_ABUSE] + d->counts[CNT_FRAUD] + d->counts[CNT_VIRUS];
            t->v[CTL_TREND_TRAPS] = d->counts[CNT_TRAP_HITS];
            t->v[CTL_TREND_VOLUME] = d->volume;
        }
    }
}

/* The delisting the score restarts from, as policy_decide sees it: the
 * longest entry with an operator state, if that state is a delisting. */
static int64_t ctl_show_score_since(const struct verdict *v)
{
    for (size_t i = 0; i < v->n; i++) {
        if (v->covering[i].state == ENTRY_NONE)
            continue;
        return v->covering[i].state == ENTRY_DELISTED ? v->covering[i].state_time : 0;
    }
    return 0;
}

/* When a listing by score began: the first day of the present run of
 * days over the threshold. Between two days with evidence the score only
 * decays, so it is lowest just before the later day: checking there
 * finds the day the run began. */
static int64_t ctl_show_score_run_start(const struct ctl_show_report *r)
{
    const struct verdict *v = r->v;
    int64_t since = ctl_show_score_since(v);
    struct score s;

    if (v->ndays == 0)
        return 0;
    size_t last = v->ndays - 1;
    int64_t start = (int64_t)v->days[last].day * MODEL_DAY;
    for (size_t k = last; k-- > 0;) {
        int64_t before_next = (int64_t)v->days[k + 1].day * MODEL_DAY - 1;
        policy_score(r->zp, v->days, k + 1, since, before_next, &s);
        if (s.value < r->zp->threshold)
            break;
        start = (int64_t)v->days[k].day * MODEL_DAY;
    }
    return start;
}

/* "Listed since": the operator's listing time for manual listings, the
 * time the imported data said so for imported ones, the start of the
 * SNDS activity window for SNDS verdicts, and for listings by score the
 * first day of the run of days over the threshold. */
static int64_t ctl_show_listed_since(const struct ctl_show_report *r)
{
    const struct decision *d = &r->v->d;

    if (!d->listed)
        return 0;
    switch (d->why) {
    case WHY_MANUAL:
        return d->decider ? d->decider->state_time : 0;
    case WHY_IMPORTED:
        return d->imported ? d->imported->parts[d->imported_part].time : 0;
    case WHY_SNDS:
        if (r->snds && r->snds->snds.colour == SNDS_RED && r->snds->snds.start)
            return r->snds->snds.start;
        return r->snds ? r->snds->snds_status_time : 0;
    case WHY_COMPLAINTS:
    case WHY_TRAPS:
        return ctl_show_score_run_start(r);
    }
    return 0;
}

static void ctl_show_build_report(const struct verdict *v, const struct zone_policy *zp,
                                  int64_t now, struct ctl_show_report *r)
{
    const struct entry *e = v->d.decider  ? v->d.decider
                            : v->evidence ? v->evidence
                            : v->n        ? &v->covering[0]
                                          : NULL;

    r->v = v;
    r->zp = zp;
    r->e = e;
    r->evidence = v->evidence;
    r->listed = v->d.listed;
    r->allowed = v->d.why == WHY_ALLOWED;
    r->why = model_why_name(v->d.why);
    for (size_t i = 0; i < v->n; i++) {
        const struct entry *c = &v->covering[i];
        if (!r->snds && (c->snds.colour != SNDS_NONE || c->snds_status != SNDS_STATUS_NONE))
            r->snds = c;
        ctl_show_merge_sources(r->sources, sizeof r->sources, c->sources);
    }
    const uint32_t *cnt = ctl_show_counts(r);
    r->complaints = (uint64_t)cnt[CNT_ABUSE] + cnt[CNT_FRAUD] + cnt[CNT_VIRUS];
    ctl_show_build_trend(r, now);
    if (r->listed) {
        uint32_t code = v->d.n ? v->d.codes[0] : v->d.code;
        ctl_format_code(code ? code : e ? ctl_resolve_entry_code(e) : 0, r->code_buf);
        r->code = r->code_buf;
        r->listed_since = ctl_show_listed_since(r);
    }
    if (!e)
        return;
    addr_format(&e->prefix, r->prefix_buf, sizeof r->prefix_buf);
    r->prefix = r->prefix_buf;
    r->state = model_state_name(e->state);
    r->reason = e->reason[0] ? e->reason : NULL;
    /* An imported listing's reason is its dataset's: its TXT template or
     * the reason the list gave. */
    if (v->d.why == WHY_IMPORTED && v->d.imported) {
        const struct entry_part_text *t = &v->d.imported->part_text[v->d.imported_part];
        r->reason = t->txt[0] ? t->txt : r->reason;
    }
    r->note = e->note[0] ? e->note : NULL;
    r->expires = ctl_format_time_opt(e->expires, r->expires_buf);
    r->first_seen = ctl_format_time_opt(e->first_seen, r->first_buf);
    r->last_seen = ctl_format_time_opt(e->last_seen, r->last_buf);
}

static const char *ctl_snds_colour_name(uint8_t colour)
{
    switch (colour) {
    case SNDS_GREEN:
        return "green";
    case SNDS_YELLOW:
        return "yellow";
    case SNDS_RED:
        return "red";
    }
    return NULL;
}

static const char *ctl_snds_status_name(uint8_t status)
{
    switch (status) {
    case SNDS_STATUS_JUNKED:
        return "junked";
    case SNDS_STATUS_BLOCKED:
        return "blocked";
    }
    return NULL;
}

/* complaints / volume, or NAN when there is no volume to divide by. */
static double ctl_show_complaint_rate(const struct ctl_show_report *r)
{
    if (!r->evidence || r->evidence->volume == 0)
        return NAN;
    return (double)r->complaints / (double)r->evidence->volume;
}

static void ctl_print_snds_json(struct json_writer *w, const struct entry *e)
{
    char start[CTL_TEXT_SHORT], end[CTL_TEXT_SHORT];
    const struct snds_row *row = &e->snds;
    char qual[2] = {row->rate_qual, '\0'};

    json_key(w, "snds");
    json_begin_object(w);
    json_member_string(w, "colour", ctl_snds_colour_name(row->colour));
    json_key(w, "complaint_rate");
    if (row->colour != SNDS_NONE && row->rate_qual) {
        json_begin_object(w);
        json_member_string(w, "qualifier", qual);
        json_member_double(w, "percent", row->rate_pct);
        json_end_object(w);
    } else {
        json_null(w);
    }
    json_member_uint(w, "rcpt", row->rcpt);
    json_member_uint(w, "data", row->data);
    json_member_uint(w, "recipients", row->recipients);
    json_member_uint(w, "trap_hits", row->trap_hits);
    json_member_string(w, "start", ctl_format_time_opt(row->start, start));
    json_member_string(w, "end", ctl_format_time_opt(row->end, end));
    json_member_string(w, "status", ctl_snds_status_name(e->snds_status));
    json_end_object(w);
}

/* "operator_history": every operator action on the address or a prefix
 * containing it, oldest first. */
static void ctl_print_oplog_json(struct json_writer *w, const struct ctl_show_report *r)
{
    char buf[CTL_TEXT_SHORT], text[ADDR_TEXT_MAX];

    json_key(w, "operator_history");
    json_begin_array(w);
    for (size_t i = 0; i < r->noplog; i++) {
        const struct ctl_oplog_line *o = &r->oplog[i];
        json_begin_object(w);
        ctl_format_time(o->rec.time, buf);
        json_member_string(w, "time", buf);
        json_member_string(w, "action", store_oplog_action_name(o->rec.action));
        addr_format(&o->prefix, text, sizeof text);
        json_member_string(w, "prefix", text);
        json_member_string(w, "by", o->rec.who[0] ? o->rec.who : NULL);
        if (o->rec.code) {
            ctl_format_code(o->rec.code, buf);
            json_member_string(w, "code", buf);
        } else {
            json_member_string(w, "code", NULL);
        }
        json_member_string(w, "expires", ctl_format_time_opt(o->rec.expires, buf));
        json_member_string(w, "reason", o->rec.reason[0] ? o->rec.reason : NULL);
        json_member_string(w, "dataset", o->rec.dataset[0] ? o->rec.dataset : NULL);
        json_end_object(w);
    }
    json_end_array(w);
}

static void ctl_print_show_json(const struct ctl_show_report *r, const struct ctl_show_trail *tr)
{
    static const char *const count_keys[CNT_COUNT] = {
        [CNT_ABUSE] = "abuse",         [CNT_FRAUD] = "fraud",
        [CNT_VIRUS] = "virus",         [CNT_OTHER] = "other",
        [CNT_NOT_SPAM] = "not_spam",   [CNT_AUTH_FAILURE] = "auth_failure",
        [CNT_TRAP_HITS] = "trap_hits",
    };
    const struct decision *d = &r->v->d;
    const uint32_t *cnt = ctl_show_counts(r);
    char buf[CTL_TEXT_SHORT];
    struct json_writer w;

    json_init(&w, stdout);
    json_begin_object(&w);
    json_member_string(&w, "address", r->address);
    json_member_string(&w, "prefix", r->prefix);
    json_member_bool(&w, "listed", r->listed);
    json_member_bool(&w, "allowed", r->allowed);
    json_member_string(&w, "code", r->code);
    json_member_string(&w, "reason", r->reason);
    json_member_string(&w, "expires", r->expires);
    json_member_string(&w, "first_seen", r->first_seen);
    json_member_string(&w, "last_seen", r->last_seen);
    json_member_string(&w, "why", r->why);
    struct ctl_override ov[ENTRY_PARTS_MAX * 4];
    size_t nov = ctl_show_overrides(r->v, r->zp, ov, sizeof ov / sizeof ov[0]);
    json_key(&w, "overrides");
    json_begin_array(&w);
    for (size_t i = 0; i < nov; i++) {
        char code[CTL_TEXT_SHORT], pfx[ADDR_TEXT_MAX];
        ctl_show_override_code(r->zp, &ov[i], code);
        addr_format(&ov[i].e->prefix, pfx, sizeof pfx);
        json_begin_object(&w);
        json_member_string(&w, "dataset", ov[i].e->part_text[ov[i].part].dataset);
        json_member_string(&w, "code", code);
        json_member_string(&w, "prefix", pfx);
        json_end_object(&w);
    }
    json_end_array(&w);
    json_member_string(&w, "state", r->state);
    json_member_bool(&w, "known", r->v->n > 0);
    json_member_double(&w, "score", d->score.value);
    json_member_double(&w, "threshold", r->zp->threshold);
    json_member_uint(&w, "complaints", r->complaints);
    json_key(&w, "counts");
    json_begin_object(&w);
    for (unsigned i = 0; i < CNT_COUNT; i++)
        json_member_uint(&w, count_keys[i], cnt[i]);
    json_end_object(&w);
    json_member_uint(&w, "volume", r->evidence ? r->evidence->volume : 0);
    json_member_double(&w, "complaint_rate", ctl_show_complaint_rate(r));
    json_member_string(&w, "light", model_light_name(policy_light(d)));
    json_key(&w, "codes");
    json_begin_array(&w);
    for (unsigned i = 0; d->listed && i < d->n; i++) {
        ctl_format_code(d->codes[i], buf);
        json_string(&w, buf);
    }
    json_end_array(&w);
    json_member_string(&w, "clears_at", ctl_format_time_opt(d->score.clears_at, buf));
    json_key(&w, "sources");
    json_begin_array(&w);
    for (const char *p = r->sources; *p;) {
        size_t len = strcspn(p, ",");
        char name[MODEL_TEXT_MAX];
        snprintf(name, sizeof name, "%.*s", (int)len, p);
        json_string(&w, name);
        p += len + (p[len] == ',');
    }
    json_end_array(&w);
    json_key(&w, "auth_failures");
    json_begin_object(&w);
    json_member_uint(&w, "spf", r->evidence ? r->evidence->auth_fail[AUTHC_SPF] : 0);
    json_member_uint(&w, "dkim", r->evidence ? r->evidence->auth_fail[AUTHC_DKIM] : 0);
    json_member_uint(&w, "dmarc", r->evidence ? r->evidence->auth_fail[AUTHC_DMARC] : 0);
    json_end_object(&w);
    if (r->snds)
        ctl_print_snds_json(&w, r->snds);
    else
        json_member_string(&w, "snds", NULL);
    json_key(&w, "history");
    json_begin_array(&w);
    for (unsigned i = 0; i < CTL_TREND_DAYS; i++) {
        const struct ctl_trend_day *t = &r->trend[i];
        ctl_format_day(t->day, buf);
        json_begin_object(&w);
        json_member_string(&w, "day", buf);
        json_member_uint(&w, "complaints", t->v[CTL_TREND_COMPLAINTS]);
        json_member_uint(&w, "trap_hits", t->v[CTL_TREND_TRAPS]);
        json_member_uint(&w, "volume", t->v[CTL_TREND_VOLUME]);
        json_end_object(&w);
    }
    json_end_array(&w);
    ctl_print_oplog_json(&w, r);
    if (tr)
        ctl_print_trail_json(&w, tr);
    json_end_object(&w);
    json_finish(&w);
}

static void ctl_print_show_line(const char *key, const char *value, const char *absent)
{
    printf("%s: ", key);
    ctl_print_text(stdout, value ? value : absent);
    putchar('\n');
}

/* One series as a sparkline scaled to its own maximum: a day with
 * nothing is the lowest block, any day with something at least the
 * second, so a single report still shows. */
static void ctl_print_sparkline(const char *name, const struct ctl_show_report *r,
                                enum ctl_trend_series series)
{
    static const char *const blocks[8] = {"\u2581", "\u2582", "\u2583", "\u2584",
                                          "\u2585", "\u2586", "\u2587", "\u2588"};
    uint64_t max = 0;

    for (unsigned i = 0; i < CTL_TREND_DAYS; i++) {
        uint64_t v = r->trend[i].v[series];
        if (v > max)
            max = v;
    }
    printf("  %-10s ", name);
    for (unsigned i = 0; i < CTL_TREND_DAYS; i++) {
        uint64_t v = r->trend[i].v[series];
        unsigned level = 0;
        if (v > 0)
            level = 1 + (unsigned)((double)(v - 1) * 6.0 / (double)(max > 1 ? max - 1 : 1) + 0.5);
        fputs(blocks[level > 7 ? 7 : level], stdout);
    }
    printf("  max %llu\n", (unsigned long long)max);
}

static void ctl_print_show_chart(const struct ctl_show_report *r)
{
    char first[CTL_TEXT_SHORT], last[CTL_TEXT_SHORT];

    ctl_format_day(r->trend[0].day, first);
    ctl_format_day(r->trend[CTL_TREND_DAYS - 1].day, last);
    printf("trend: %s .. %s, one block a day, each line scaled to its maximum\n", first, last);
    ctl_print_sparkline("complaints", r, CTL_TREND_COMPLAINTS);
    ctl_print_sparkline("trap hits", r, CTL_TREND_TRAPS);
    ctl_print_sparkline("volume", r, CTL_TREND_VOLUME);
}

static void ctl_print_show_score(const struct ctl_show_report *r)
{
    const struct decision *d = &r->v->d;
    char buf[CTL_TEXT_SHORT];

    printf("score: %.2f (threshold %.2f)\n", d->score.value, r->zp->threshold);
    if (d->score.clears_at)
        ctl_print_show_line("clears at", ctl_format_time_opt(d->score.clears_at, buf), "-");
    else
        ctl_print_show_line("clears at", NULL, "not over the threshold");
    printf("light: %s\n", model_light_name(policy_light(d)));
}

static void ctl_print_show_evidence(const struct ctl_show_report *r)
{
    const uint32_t *c = ctl_show_counts(r);
    uint64_t volume = r->evidence ? r->evidence->volume : 0;
    double rate = ctl_show_complaint_rate(r);

    printf("complaints: %llu (abuse %u, fraud %u, virus %u)\n", (unsigned long long)r->complaints,
           c[CNT_ABUSE], c[CNT_FRAUD], c[CNT_VIRUS]);
    printf("other reports: other %u, not spam %u, auth failure %u\n", c[CNT_OTHER], c[CNT_NOT_SPAM],
           c[CNT_AUTH_FAILURE]);
    printf("trap hits: %u\n", c[CNT_TRAP_HITS]);
    printf("volume: %llu\n", (unsigned long long)volume);
    if (isnan(rate))
        printf("complaint rate: - (no volume)\n");
    else
        printf("complaint rate: %.4f%% (%llu in %llu)\n", 100.0 * rate,
               (unsigned long long)r->complaints, (unsigned long long)volume);
    if (r->complaints == 0 || !r->evidence) {
        printf("auth failures: - (no complaints)\n");
        return;
    }
    const uint32_t *a = r->evidence->auth_fail;
    double n = (double)r->complaints;
    printf("auth failures: SPF %.0f%%, DKIM %.0f%%, DMARC %.0f%% of complaints\n",
           100.0 * a[AUTHC_SPF] / n, 100.0 * a[AUTHC_DKIM] / n, 100.0 * a[AUTHC_DMARC] / n);
}

static void ctl_print_show_snds(const struct ctl_show_report *r)
{
    char start[CTL_TEXT_SHORT], end[CTL_TEXT_SHORT];

    if (!r->snds)
        return;
    const struct entry *e = r->snds;
    const struct snds_row *row = &e->snds;
    const char *status = ctl_snds_status_name(e->snds_status);
    if (row->colour != SNDS_NONE) {
        printf("snds: %s, complaint rate ", ctl_snds_colour_name(row->colour));
        if (row->rate_qual == '<' || row->rate_qual == '>')
            printf("%c %.1f%%", row->rate_qual, row->rate_pct);
        else if (row->rate_qual)
            printf("%.1f%%", row->rate_pct);
        else
            printf("-");
        printf(", trap hits %u, recipients %u, %s .. %s\n", row->trap_hits, row->recipients,
               ctl_format_time_opt(row->start, start) ? start : "?",
               ctl_format_time_opt(row->end, end) ? end : "?");
    }
    if (status)
        printf("snds status: %s\n", status);
}

/* An operator action a "history:" line, oldest first (the text stays one
 * key: value line each): time, action, prefix, who, the code and expiry
 * when set, the dataset, the reason. "history: none" when there is none. */
static void ctl_print_show_oplog(const struct ctl_show_report *r)
{
    char buf[CTL_TEXT_SHORT], text[ADDR_TEXT_MAX];

    if (r->noplog == 0)
        ctl_print_show_line("history", NULL, "none");
    for (size_t i = 0; i < r->noplog; i++) {
        const struct oplog_rec *o = &r->oplog[i].rec;
        ctl_format_time(o->time, buf);
        addr_format(&r->oplog[i].prefix, text, sizeof text);
        printf("history: %s  %s  %s  by ", buf, store_oplog_action_name(o->action), text);
        ctl_print_text(stdout, o->who[0] ? o->who : "unknown");
        if (o->code) {
            ctl_format_code(o->code, buf);
            printf("  code %s", buf);
        }
        if (o->expires) {
            ctl_format_time(o->expires, buf);
            printf("  expires %s", buf);
        }
        if (o->dataset[0]) {
            printf("  dataset ");
            ctl_print_text(stdout, o->dataset);
        }
        if (o->reason[0]) {
            printf("  reason: ");
            ctl_print_text(stdout, o->reason);
        }
        putchar('\n');
    }
}

static void ctl_print_show_text(const struct ctl_show_report *r, bool chart)
{
    const struct decision *d = &r->v->d;
    char buf[CTL_TEXT_SHORT];

    ctl_print_show_line("address", r->address, "-");
    ctl_print_show_line("prefix", r->prefix, "none");
    ctl_print_show_line("known", r->v->n ? "yes" : "no", "-");
    ctl_print_show_line("listed", r->listed ? "yes" : "no", "-");
    ctl_print_show_line("allowed", r->allowed ? "yes" : "no", "-");
    ctl_print_show_line("why", r->why, "-");
    struct ctl_override ov[ENTRY_PARTS_MAX * 4];
    size_t nov = ctl_show_overrides(r->v, r->zp, ov, sizeof ov / sizeof ov[0]);
    if (nov) {
        printf("overrides: ");
        for (size_t i = 0; i < nov; i++) {
            char pfx[ADDR_TEXT_MAX];
            ctl_show_override_code(r->zp, &ov[i], buf);
            addr_format(&ov[i].e->prefix, pfx, sizeof pfx);
            printf("%s%s %s at %s", i ? ", " : "", ov[i].e->part_text[ov[i].part].dataset, buf,
                   pfx);
        }
        putchar('\n');
    }
    ctl_print_show_line("state", r->state, "unknown");
    ctl_print_show_line("code", r->code, "-");
    if (d->listed && d->n > 1) {
        printf("codes: ");
        for (unsigned i = 0; i < d->n; i++) {
            ctl_format_code(d->codes[i], buf);
            printf("%s%s (%s)", i ? ", " : "", buf, model_why_name(d->code_why[i]));
        }
        putchar('\n');
    }
    if (r->listed)
        ctl_print_show_line("listed since", ctl_format_time_opt(r->listed_since, buf), "unknown");
    ctl_print_show_line("reason", r->reason, "-");
    ctl_print_show_line(
        "expires", r->expires,
        r->e && (r->e->state == ENTRY_LISTED || r->e->state == ENTRY_ALLOWED) ? "never" : "-");
    ctl_print_show_score(r);
    ctl_print_show_evidence(r);
    ctl_print_show_snds(r);
    ctl_print_show_line("first seen", r->first_seen, "-");
    ctl_print_show_line("last seen", r->last_seen, "-");
    ctl_print_show_line("sources", r->sources[0] ? r->sources : NULL, "-");
    if (r->note)
        ctl_print_show_line("note", r->note, "-");
    ctl_print_show_oplog(r);
    if (chart)
        ctl_print_show_chart(r);
}

int ctl_cmd_show(struct ctl_ctx *ctx, int argc, char **argv)
{
    struct ctl_show_options o = {0};
    struct ctl_show_report *report = NULL;
    struct ctl_oplog_line *oplog = NULL;
    struct ctl_show_trail trail = {0};
    struct ctl_lookup *l = NULL;
    struct verdict v;
    struct ctl_zone zone;
    struct addr_prefix addr;
    struct store *s = NULL;
    const char *text;
    int rc = ctl_show_parse_options(ctx, argc, argv, &o);

    if (rc != CTL_EXIT_OK || o.done)
        return rc;
    rc = ctl_args_take_one(ctx, argc, argv, "ADDR", &text);
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = ctl_args_parse_address(ctx, text, &addr);
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = ctl_zone_resolve(ctx, o.zone_config, o.zone, &zone);
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = ctl_store_open_existing(ctx, STORE_RDONLY, &s);
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = ctl_lookup_open(s, &l);
    if (rc != CTL_EXIT_OK)
        goto out;
    rc = ctl_lookup_decide(l, &addr, &zone.policy, ctx->now, &v);
    if (rc != CTL_EXIT_OK)
        goto out;
    report = calloc(1, sizeof *report);
    if (!report) {
        ctl_error("looking up %s: %s", text, dnsbl_strerror(DNSBL_ENOMEM));
        rc = CTL_EXIT_FAIL;
        goto out;
    }
    addr_format(&addr, report->address, sizeof report->address);
    ctl_show_build_report(&v, &zone.policy, ctx->now, report);
    rc = ctl_lookup_oplog(l, &addr, &oplog, &report->noplog);
    if (rc != CTL_EXIT_OK)
        goto out;
    report->oplog = oplog;
    if (o.evidence) {
        rc = ctl_show_read_trail(s, &v, o.evidence, &trail);
        if (rc != CTL_EXIT_OK)
            goto out;
    }
    if (o.json)
        ctl_print_show_json(report, o.evidence ? &trail : NULL);
    else
        ctl_print_show_text(report, o.chart || isatty(STDOUT_FILENO));
    if (o.evidence && !o.json)
        ctl_print_show_trail(&trail);
out:
    free(oplog);
    free(trail.rec);
    free(report);
    ctl_lookup_close(l);
    if (s)
        store_close(s);
    return rc;
}

/* list: every entry, and what it answers in each zone now (verdict_decide
 * for the entry's whole prefix, as show decides one address). The store
 * is walked twice in text form, once to size the prefix column and once
 * to print, so memory stays flat however many entries there are. */
struct ctl_list_options {
    bool json, listed, done;
    const char *zone, *zone_config, *dataset, *why;
};

/* What one zone says about the entry being printed: a copy, as the
 * decision's pointers last only until the next decide. */
struct ctl_list_row {
    bool pass; /* kept by the filters */
    bool listed;
    uint8_t why;
    uint8_t n;
    uint32_t codes[DECISION_MAX];
    uint8_t code_why[DECISION_MAX];
};

struct ctl_list_walk {
    struct ctl_list_options o;
    struct ctl_zone *zones; /* nzones, owned */
    size_t nzones;
    bool zone_column; /* a zone has a name: rows name it */
    struct ctl_lookup *l;
    struct ctl_list_row *rows; /* one per zone */
    int64_t now;
    int prefix_width, zone_width;
    int rc; /* CTL_EXIT_FAIL once a decide failed (it said why) */
    struct json_writer w;
};

#define CTL_LIST_ROW_START "%-*s  "
#define CTL_LIST_ROW "%-8s  %-6s  %-15s  %-10s  %-20s  "

static int ctl_list_parse_options(struct ctl_ctx *ctx, int argc, char **argv,
                                  struct ctl_list_options *o)
{
    enum { OPT_LISTED = CTL_OPT_CREATE + 10, OPT_DATASET, OPT_WHY };
    static const struct option opts[] = {
        CTL_OPTIONS_COMMON,
        CTL_OPTION_JSON,
        {"zone", required_argument, NULL, 'z'},
        {"zone-config", required_argument, NULL, 'Z'},
        {"listed", no_argument, NULL, OPT_LISTED},
        {"dataset", required_argument, NULL, OPT_DATASET},
        {"why", required_argument, NULL, OPT_WHY},
        {NULL, 0, NULL, 0},
    };

    for (;;) {
        int c = ctl_getopt(ctx, argc, argv, CTL_SHORTOPTS_COMMON "jz:Z:", opts);
        switch (c) {
        case CTL_GETOPT_END:
            return ctl_args_none(ctx, argc, argv);
        case CTL_GETOPT_HELP:
            o->done = true;
            return CTL_EXIT_OK;
        case 'j':
            o->json = true;
            break;
        case 'z':
            o->zone = optarg;
            break;
        case 'Z':
            o->zone_config = optarg;
            break;
        case OPT_LISTED:
            o->listed = true;
            break;
        case OPT_DATASET:
            o->dataset = optarg;
            break;
        case OPT_WHY:
            o->why = optarg;
            break;
        default:
            return CTL_EXIT_USAGE;
        }
    }
}

/* The zones to decide in: --zone alone (with or without --zone-config)
 * is one zone, as show has it; --zone-config alone is every zone it
 * names; neither is one unnamed zone with the default policy. */
static int ctl_list_load_zones(const struct ctl_ctx *ctx, struct ctl_list_walk *walk)
{
    const struct ctl_list_options *o = &walk->o;

    if (!o->zone_config || o->zone) {
        walk->zones = calloc(1, sizeof *walk->zones);
        if (!walk->zones) {
            ctl_error("loading the zone: %s", dnsbl_strerror(DNSBL_ENOMEM));
            return CTL_EXIT_FAIL;
        }
        walk->nzones = 1;
        int rc = ctl_zone_resolve(ctx, o->zone_config, o->zone, &walk->zones[0]);
        /* --dataset judges by that dataset, so an rbldnsd subzone's one,
         * which a zone serves only when it names it (doc/formats.md 4.6),
         * shows what it answers in its subzone. */
        struct zone_policy *zp = &walk->zones[0].policy;
        if (rc == CTL_EXIT_OK && o->dataset && strcmp(o->dataset, "operator") != 0 &&
            zp->ndatasets == 0)
            policy_add_dataset(zp, o->dataset);
        return rc;
    }
    struct config c;
    char why[512] = "";
    config_init(&c);
    if (config_load_file(&c, o->zone_config, why, sizeof why) != DNSBL_OK) {
        ctl_error("%s", why[0] ? why : o->zone_config);
        config_free(&c);
        return CTL_EXIT_FAIL;
    }
    if (c.nzones == 0) {
        ctl_error("%s: the configuration names no zone", o->zone_config);
        config_free(&c);
        return CTL_EXIT_FAIL;
    }
    walk->zones = calloc(c.nzones, sizeof *walk->zones);
    if (!walk->zones) {
        ctl_error("loading the zones: %s", dnsbl_strerror(DNSBL_ENOMEM));
        config_free(&c);
        return CTL_EXIT_FAIL;
    }
    for (size_t i = 0; i < c.nzones; i++) {
        snprintf(walk->zones[i].name, sizeof walk->zones[i].name, "%s", c.zones[i].name);
        walk->zones[i].policy = c.zones[i].policy;
    }
    walk->nzones = c.nzones;
    config_free(&c);
    return CTL_EXIT_OK;
}

static bool ctl_list_why_matches(const char *text, const char *want)
{
    return text && strcasestr(text, want) != NULL;
}

/* --why: the decision's reasons by name (imported, complaints, ...), the
 * entry's own reason or that of the entry that decided. */
static bool ctl_list_row_why(const struct ctl_list_row *row, const struct entry *e,
                             const struct decision *d, const char *want)
{
    if (ctl_list_why_matches(model_why_name(row->why), want) ||
        ctl_list_why_matches(e->reason, want) ||
        (d->decider && ctl_list_why_matches(d->decider->reason, want)))
        return true;
    for (unsigned i = 0; i < row->n; i++)
        if (ctl_list_why_matches(model_why_name(row->code_why[i]), want))
            return true;
    return false;
}

/* Decide e in every zone into walk->rows; how many rows pass the
 * filters, or -1 when the store could not be read. */
static int ctl_list_decide_entry(struct ctl_list_walk *walk, const struct entry *e)
{
    struct verdict v;
    int pass = 0;

    for (size_t z = 0; z < walk->nzones; z++) {
        struct ctl_list_row *row = &walk->rows[z];
        if (ctl_lookup_decide(walk->l, &e->prefix, &walk->zones[z].policy, walk->now, &v) !=
            CTL_EXIT_OK)
            return -1;
        row->listed = v.d.listed;
        row->why = v.d.why;
        row->n = v.d.listed ? v.d.n : 0;
        memcpy(row->codes, v.d.codes, sizeof row->codes);
        memcpy(row->code_why, v.d.code_why, sizeof row->code_why);
        row->pass = (!walk->o.listed || row->listed) &&
                    (!walk->o.why || ctl_list_row_why(row, e, &v.d, walk->o.why));
        pass += row->pass;
    }
    return pass;
}

static int ctl_list_measure_entry(const struct entry *e, void *arg)
{
    struct ctl_list_walk *walk = arg;
    char text[ADDR_TEXT_MAX];
    int len = (int)addr_format(&e->prefix, text, sizeof text);

    if (len > walk->prefix_width)
        walk->prefix_width = len;
    return 0;
}

/* The A value the entry itself holds: the operator's, else the imported
 * data's (0 there is the zone's imported code). What it answers is in
 * the zones. */
static const char *ctl_list_format_code(const struct entry *e, char *buf)
{
    struct zone_policy zp;

    if (e->state == ENTRY_LISTED) {
        ctl_format_code(ctl_resolve_entry_code(e), buf);
        return buf;
    }
    for (unsigned i = 0; e->state == ENTRY_NONE && i < e->nparts; i++) {
        if (e->parts[i].state != IMPORT_LISTED)
            continue;
        policy_defaults(&zp);
        ctl_format_code(e->parts[i].code ? e->parts[i].code : zp.code_imported, buf);
        return buf;
    }
    return NULL;
}

static void ctl_print_row_json(struct json_writer *w, const struct ctl_zone *z,
                               const struct ctl_list_row *row)
{
    char code[CTL_TEXT_SHORT];

    json_begin_object(w);
    json_member_string(w, "zone", z->name[0] ? z->name : NULL);
    json_member_bool(w, "listed", row->listed);
    json_member_string(w, "why", model_why_name(row->why));
    json_key(w, "codes");
    json_begin_array(w);
    for (unsigned i = 0; i < row->n; i++) {
        ctl_format_code(row->codes[i], code);
        json_begin_object(w);
        json_member_string(w, "code", code);
        json_member_string(w, "why", model_why_name(row->code_why[i]));
        json_end_object(w);
    }
    json_end_array(w);
    json_end_object(w);
}

static void ctl_print_entry_json(struct ctl_list_walk *walk, const struct entry *e)
{
    struct json_writer *w = &walk->w;
    char prefix[ADDR_TEXT_MAX], code[CTL_TEXT_SHORT], exp[CTL_TEXT_SHORT];
    char first[CTL_TEXT_SHORT], last[CTL_TEXT_SHORT];

    addr_format(&e->prefix, prefix, sizeof prefix);
    json_begin_object(w);
    json_member_string(w, "prefix", prefix);
    json_member_string(w, "state", model_state_name(e->state));
    json_member_string(w, "code", ctl_list_format_code(e, code));
    json_member_string(w, "reason", e->reason[0] ? e->reason : NULL);
    json_member_string(w, "expires", ctl_format_time_opt(e->expires, exp));
    json_member_string(w, "first_seen", ctl_format_time_opt(e->first_seen, first));
    json_member_string(w, "last_seen", ctl_format_time_opt(e->last_seen, last));
    json_member_string(w, "dataset", e->nparts ? e->part_text[0].dataset : NULL);
    json_key(w, "zones");
    json_begin_array(w);
    for (size_t z = 0; z < walk->nzones; z++)
        if (walk->rows[z].pass)
            ctl_print_row_json(w, &walk->zones[z], &walk->rows[z]);
    json_end_array(w);
    json_end_object(w);
}

/* "127.0.0.2,127.0.0.4" and "manual,complaints" (or the reason it is not
 * listed) into bufs of CTL_LIST_JOINED. */
#define CTL_LIST_JOINED (DECISION_MAX * CTL_TEXT_SHORT)
static void ctl_list_join_row(const struct ctl_list_row *row, char *codes, char *whys)
{
    char code[CTL_TEXT_SHORT];
    size_t cn = 0, wn = 0;

    snprintf(codes, CTL_LIST_JOINED, "-");
    snprintf(whys, CTL_LIST_JOINED, "%s", row->why == WHY_NONE ? "-" : model_why_name(row->why));
    for (unsigned i = 0; i < row->n; i++) {
        ctl_format_code(row->codes[i], code);
        cn += (size_t)snprintf(codes + cn, CTL_LIST_JOINED - cn, "%s%s", i ? "," : "", code);
        /* one name per distinct reason, in the order of the codes */
        const char *name = model_why_name(row->code_why[i]);
        bool seen = false;
        for (unsigned j = 0; j < i; j++)
            seen |= row->code_why[j] == row->code_why[i];
        if (!seen)
            wn += (size_t)snprintf(whys + wn, CTL_LIST_JOINED - wn, "%s%s", wn ? "," : "", name);
        if (cn >= CTL_LIST_JOINED || wn >= CTL_LIST_JOINED)
            break;
    }
}

static void ctl_print_entry_text(const struct ctl_list_walk *walk, const struct entry *e)
{
    char prefix[ADDR_TEXT_MAX], exp[CTL_TEXT_SHORT];
    char codes[CTL_LIST_JOINED], whys[CTL_LIST_JOINED];
    const char *exp_text = ctl_format_time_opt(e->expires, exp);
    bool manual = e->state == ENTRY_LISTED || e->state == ENTRY_ALLOWED;

    addr_format(&e->prefix, prefix, sizeof prefix);
    for (size_t z = 0; z < walk->nzones; z++) {
        const struct ctl_list_row *row = &walk->rows[z];
        if (!row->pass)
            continue;
        ctl_list_join_row(row, codes, whys);
        printf(CTL_LIST_ROW_START, walk->prefix_width, prefix);
        if (walk->zone_column)
            printf(CTL_LIST_ROW_START, walk->zone_width,
                   walk->zones[z].name[0] ? walk->zones[z].name : "-");
        printf(CTL_LIST_ROW, model_state_name(e->state), row->listed ? "yes" : "no", codes, whys,
               exp_text ? exp_text
               : manual ? "never"
                        : "-");
        ctl_print_text(stdout, e->reason[0] ? e->reason : "-");
        putchar('\n');
    }
}

/* --dataset: a part of that dataset, or "operator" for an operator
 * decision. */
static bool ctl_list_in_dataset(const struct entry *e, const char *name)
{
    if (strcmp(name, "operator") == 0)
        return e->state != ENTRY_NONE;
    return model_part_find(e, model_dataset_id(name)) >= 0;
}

static int ctl_list_print_entry(const struct entry *e, void *arg)
{
    struct ctl_list_walk *walk = arg;

    /* After a failed decide (said already) the rest of the walk is idle. */
    if (walk->rc != CTL_EXIT_OK || (walk->o.dataset && !ctl_list_in_dataset(e, walk->o.dataset)))
        return 0;
    int pass = ctl_list_decide_entry(walk, e);
    if (pass < 0) {
        walk->rc = CTL_EXIT_FAIL;
        return 0;
    }
    if (pass == 0)
        return 0;
    if (walk->o.json)
        ctl_print_entry_json(walk, e);
    else
        ctl_print_entry_text(walk, e);
    return 0;
}

static void ctl_list_print_header(struct ctl_list_walk *walk)
{
    for (size_t z = 0; z < walk->nzones; z++) {
        int len = (int)strlen(walk->zones[z].name);
        if (walk->zones[z].name[0])
            walk->zone_column = true;
        if (len > walk->zone_width)
            walk->zone_width = len;
    }
    printf(CTL_LIST_ROW_START, walk->prefix_width, "PREFIX");
    if (walk->zone_column)
        printf(CTL_LIST_ROW_START, walk->zone_width, "ZONE");
    printf(CTL_LIST_ROW "REASON\n", "STATE", "LISTED", "CODE", "WHY", "EXPIRES");
}

int ctl_cmd_list(struct ctl_ctx *ctx, int argc, char **argv)
{
    struct ctl_list_walk walk = {.prefix_width = (int)sizeof "PREFIX" - 1,
                                 .zone_width = (int)sizeof "ZONE" - 1};
    struct store *s = NULL;
    int rc = ctl_list_parse_options(ctx, argc, argv, &walk.o);

    if (rc != CTL_EXIT_OK || walk.o.done)
        return rc;
    walk.now = ctx->now;
    rc = ctl_list_load_zones(ctx, &walk);
    if (rc != CTL_EXIT_OK)
        goto out;
    walk.rows = calloc(walk.nzones, sizeof *walk.rows);
    if (!walk.rows) {
        ctl_error("listing: %s", dnsbl_strerror(DNSBL_ENOMEM));
        rc = CTL_EXIT_FAIL;
        goto out;
    }
    rc = ctl_store_open_existing(ctx, STORE_RDONLY, &s);
    if (rc != CTL_EXIT_OK)
        goto out;
    rc = ctl_lookup_open(s, &walk.l);
    if (rc != CTL_EXIT_OK)
        goto out;
    if (walk.o.json) {
        json_init(&walk.w, stdout);
        json_begin_array(&walk.w);
    } else {
        rc = ctl_store_foreach(s, ctl_list_measure_entry, &walk, NULL);
        if (rc != CTL_EXIT_OK)
            goto out;
        ctl_list_print_header(&walk);
    }
    rc = ctl_store_foreach(s, ctl_list_print_entry, &walk, NULL);
    if (rc == CTL_EXIT_OK)
        rc = walk.rc;
    if (rc == CTL_EXIT_OK && walk.o.json) {
        json_end_array(&walk.w);
        json_finish(&walk.w);
    }
out:
    ctl_lookup_close(walk.l);
    if (s)
        store_close(s);
    free(walk.rows);
    free(walk.zones);
    return rc;
}
