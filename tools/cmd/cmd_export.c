/* cmd_export: `dnsblctl export`, what a zone answers now, in a form other
 * software loads: rbldnsd data (for rbldnsd mirrors), a master-format
 * zone file rendered with ldns, or CSV that imports back. The store's
 * prefixes come in address order with every prefix before the ones it
 * covers, so a stack of enclosing prefixes tells what longest-prefix
 * matching would answer without the entry at hand: an entry that is not
 * listed inside one that is becomes an exclusion, others need no line.
 * With --output the file is replaced atomically (temp file + rename), so
 * a server reloading it never sees half a file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "ctl.h"
#include "err.h"
#include "grow.h"
#include "txt.h"
#include "zonerr.h"

/* The apex dnsbld synthesises without a zone file (zone.c). */
#define EXPORT_SYNTH_TTL 3600
#define EXPORT_SYNTH_MINIMUM 600

#define EXPORT_TXT_MAX 1024

enum export_format { EXPORT_NONE, EXPORT_RBLDNSD, EXPORT_ZONE, EXPORT_CSV };

struct export_args {
    enum export_format format;
    const char *zone, *output, *zone_file, *zone_config;
    bool done;
};

struct export_level {
    struct addr_prefix p;
    bool listed;
    uint8_t nvals; /* the A values its prefix answers */
};

struct export_ctx {
    const struct ctl_ctx *ctx;
    struct export_args a;
    struct ctl_zone zone;
    struct ctl_lookup *l;
    FILE *out;
    struct addr_prefix *prefixes;
    size_t n, cap;
    bool has_v6;
    bool multi; /* some entry may answer two values: rbldnsd needs a dataset per value */
    /* rbldnsd: the second, third, ... value of each prefix, per family, in a
     * dataset of its own (one value per prefix in a trie), appended at the
     * end */
    FILE *extra[2][DECISION_MAX];
    struct export_level stack[STORE_COVERING_MAX];
    size_t depth;
    struct store *store;
    struct store_reader *reader; /* csv: history days */
    struct history_day days[64]; /* csv: a run of an entry's days */
    char now_text[CTL_TEXT_SHORT];
    int err; /* collecting: an allocation failed */
};

static int export_collect(const struct entry *e, void *arg)
{
    struct export_ctx *x = arg;

    x->err = grow_array((void **)&x->prefixes, &x->cap, x->n + 1, sizeof *x->prefixes, 1024);
    if (x->err)
        return 1;
    x->prefixes[x->n++] = e->prefix;
    if (e->prefix.family == ADDR_V6)
        x->has_v6 = true;
    /* What can give a prefix more than one value (policy.h): two datasets,
     * a dataset beside evidence or SNDS, complaints beside traps. */
    if (e->nparts > 1 || model_has_evidence(e) ||
        (e->nparts && (e->snds.colour != SNDS_NONE || e->snds_status != SNDS_STATUS_NONE)))
        x->multi = true;
    return 0;
}

/* ---- rbldnsd ---------------------------------------------------------- */

/* The TXT of code i as a stored template (txt.h), which rbldnsd reads
 * the same way: rendered with a mark byte for the address, then written
 * back with the literal text escaped. */
static bool export_txt_template(const struct ctl_zone *z, const struct decision *d, unsigned i,
                                char *out, size_t cap)
{
    char raw[EXPORT_TXT_MAX];
    struct txt_builder b;
    size_t len;

    if (!verdict_render_txt(&z->policy, d, i, "\x01", z->name, raw, sizeof raw, &len))
        return false;
    txt_builder_init(&b, out, cap);
    txt_builder_rendered(&b, raw, len, '\x01');
    /* One line per entry: a line break would end it. */
    for (char *c = out; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = ' ';
    return true;
}

static void export_rbldnsd_value(FILE *out, struct export_ctx *x, const char *key,
                                 const struct decision *d, unsigned i)
{
    char code[CTL_TEXT_SHORT], txt[2 * EXPORT_TXT_MAX];

    ctl_format_code(d->codes[i], code);
    if (export_txt_template(&x->zone, d, i, txt, sizeof txt))
        fprintf(out, "%s :%s:%s\n", key, code, txt);
    else
        fprintf(out, "%s :%s:\n", key, code);
}

static void export_rbldnsd_listed(struct export_ctx *x, const char *key, const struct decision *d)
{
    export_rbldnsd_value(x->out, x, key, d, 0);
}

/* Value k (k >= 1) of a prefix in the k-th extra dataset of its family, or
 * its exclusion there when the prefix containing it answers a k-th value
 * and it does not: rbldnsd answers each dataset's longest match. */
static int export_rbldnsd_extra(struct export_ctx *x, const struct addr_prefix *p, const char *key,
                                const struct decision *d, bool listed, uint8_t parent_nvals)
{
    int fam = p->family == ADDR_V6;
    uint8_t nvals = listed ? d->n : 0;
    for (unsigned k = 1; k < DECISION_MAX; k++) {
        if (nvals <= k && parent_nvals <= k)
            continue;
        if (!x->extra[fam][k] && !(x->extra[fam][k] = tmpfile())) {
            ctl_error("export: a temporary file: %s", strerror(errno));
            return CTL_EXIT_FAIL;
        }
        if (nvals > k)
            export_rbldnsd_value(x->extra[fam][k], x, key, d, k);
        else
            fprintf(x->extra[fam][k], "!%s\n", key);
    }
    return CTL_EXIT_OK;
}

/* The extra datasets after the main ones, as combined sections of the
 * base zone. */
static int export_rbldnsd_end(struct export_ctx *x)
{
    static const char *const types[2] = {"ip4trie", "ip6trie"};
    char buf[8192];
    int rc = CTL_EXIT_OK;
    for (int fam = 0; fam < 2; fam++) {
        for (unsigned k = 1; k < DECISION_MAX; k++) {
            FILE *f = x->extra[fam][k];
            if (!f)
                continue;
            fprintf(x->out, "\n# value %u of prefixes that answer more than one\n", k + 1);
            fprintf(x->out, "$DATASET %s @\n$TTL %u\n", types[fam], x->zone.policy.ttl);
            rewind(f);
            size_t got;
            while ((got = fread(buf, 1, sizeof buf, f)) > 0)
                if (fwrite(buf, 1, got, x->out) != got)
                    rc = CTL_EXIT_FAIL;
            if (ferror(f))
                rc = CTL_EXIT_FAIL;
            fclose(f);
            x->extra[fam][k] = NULL;
        }
    }
    if (rc != CTL_EXIT_OK)
        ctl_error("export: copying the extra datasets: %s", strerror(errno));
    return rc;
}

static void export_rbldnsd_section(struct export_ctx *x, const char *type)
{
    if (x->has_v6 || x->multi)
        fprintf(x->out, "\n$DATASET %s @\n", type);
    fprintf(x->out, "$TTL %u\n", x->zone.policy.ttl);
}

static int export_apex_load(struct export_ctx *x, ldns_rr_list **out);

/* An rdf as rbldnsd reads a name or number: no trailing dot. */
static void export_rbldnsd_rdf(FILE *out, const ldns_rdf *rdf)
{
    char *text = rdf ? ldns_rdf2str(rdf) : NULL;
    size_t len = text ? strlen(text) : 0;

    if (len > 1 && text[len - 1] == '.')
        text[len - 1] = '\0';
    fprintf(out, " %s", text ? text : "0");
    free(text);
}

/* $SOA and $NS from the apex: rbldnsd answers SOA and NS queries and
 * puts the SOA in negative answers only when the data names them. */
static int export_rbldnsd_apex(struct export_ctx *x)
{
    ldns_rr_list *apex = NULL;
    int rc = export_apex_load(x, &apex);
    if (rc != CTL_EXIT_OK)
        return rc;
    const ldns_rr *soa = ldns_rr_list_rr(apex, 0);
    fprintf(x->out, "$SOA %u", ldns_rr_ttl(soa));
    for (size_t i = 0; i < 7; i++)
        export_rbldnsd_rdf(x->out, ldns_rr_rdf(soa, i));
    fputc('\n', x->out);
    bool ns = false;
    for (size_t i = 0; i < ldns_rr_list_rr_count(apex); i++) {
        const ldns_rr *rr = ldns_rr_list_rr(apex, i);
        if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_NS ||
            ldns_dname_compare(ldns_rr_owner(rr), ldns_rr_owner(soa)) != 0)
            continue;
        if (!ns)
            fprintf(x->out, "$NS %u", ldns_rr_ttl(rr));
        ns = true;
        export_rbldnsd_rdf(x->out, ldns_rr_rdf(rr, 0));
    }
    if (ns)
        fputc('\n', x->out);
    ldns_rr_list_deep_free(apex);
    return CTL_EXIT_OK;
}

static int export_rbldnsd_begin(struct export_ctx *x)
{
    struct decision tp;

    fprintf(x->out,
            "# rbldnsd data written by dnsblctl export at %s\n"
            "# zone %s: what it answers now for every stored entry.\n"
            "# Load it as dataset type %s, e.g. rbldnsd ... %s:%s:FILE\n",
            x->now_text, x->zone.name[0] ? x->zone.name : "(none given)",
            x->has_v6 || x->multi ? "combined" : "ip4trie", x->zone.name[0] ? x->zone.name : "ZONE",
            x->has_v6 || x->multi ? "combined" : "ip4trie");
    int rc = export_rbldnsd_apex(x);
    if (rc != CTL_EXIT_OK)
        return rc;
    export_rbldnsd_section(x, "ip4trie");
    verdict_testpoint_decision(&x->zone.policy, &tp);
    fputs("# RFC 5782 test points: 127.0.0.2 always listed, 127.0.0.1 never\n", x->out);
    export_rbldnsd_listed(x, "127.0.0.2", &tp);
    fputs("!127.0.0.1\n", x->out);
    return CTL_EXIT_OK;
}

static int export_rbldnsd_entry(struct export_ctx *x, const struct addr_prefix *p,
                                const struct decision *d, bool listed, bool parent_listed,
                                uint8_t parent_nvals)
{
    char key[ADDR_TEXT_MAX + 1];

    key[0] = '!';
    addr_format(p, key + 1, sizeof key - 1);
    if (listed)
        export_rbldnsd_listed(x, key + 1, d);
    else if (parent_listed)
        fprintf(x->out, "%s\n", key);
    return export_rbldnsd_extra(x, p, key + 1, d, listed, parent_nvals);
}

/* ---- csv -------------------------------------------------------------- */

/* One RFC 4180 field: quoted when it holds a comma or a quote; line
 * breaks become spaces so a row stays one line. */
static void export_csv_field(FILE *out, const char *s)
{
    bool quote = strpbrk(s, ",\"") != NULL;

    if (quote)
        fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputs("\"\"", out);
        else
            fputc((unsigned char)*s < 0x20 ? ' ' : *s, out);
    }
    if (quote)
        fputc('"', out);
}

/* The export's columns after the state ones: the row's source (the
 * entry's sources come back in order), who (oplog), the action (oplog;
 * "state" on operator rows), what a complaint's mail failed, SNDS data. */
struct export_csv_extra {
    const char *source, *by, *action, *auth, *snds;
};

/* One row: the prefix, kind, weight, time, reason, then the state
 * columns (code, expires, ttl, txt, dataset; "" when unset) and the extra
 * ones. */
static void export_csv_row(struct export_ctx *x, const struct addr_prefix *p, const char *kind,
                           uint64_t weight, int64_t time, const char *reason, uint32_t code,
                           int64_t expires, uint32_t ttl, const char *txt, const char *dataset,
                           const struct export_csv_extra *more)
{
    char text[ADDR_TEXT_MAX], when[CTL_TEXT_SHORT], num[CTL_TEXT_SHORT];

    addr_format(p, text, sizeof text);
    ctl_format_time(time ? time : x->ctx->now, when);
    fprintf(x->out, "%s,%s,%llu,%s,", text, kind, (unsigned long long)weight, when);
    export_csv_field(x->out, reason);
    fputc(',', x->out);
    if (code) {
        ctl_format_code(code, num);
        fputs(num, x->out);
    }
    fputc(',', x->out);
    if (expires) {
        ctl_format_time(expires, when);
        fputs(when, x->out);
    }
    fputc(',', x->out);
    if (ttl)
        fprintf(x->out, "%u", ttl);
    fputc(',', x->out);
    export_csv_field(x->out, txt);
    fputc(',', x->out);
    export_csv_field(x->out, dataset);
    const char *extra[] = {more->source, more->by, more->action, more->auth, more->snds};
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        fputc(',', x->out);
        export_csv_field(x->out, extra[i] ? extra[i] : "");
    }
    fputc('\n', x->out);
}

static void export_csv_begin(struct export_ctx *x)
{
    fputs("address_or_prefix,kind,weight,time,reason,code,expires,ttl,txt,dataset,source,by,"
          "action,auth,snds\n",
          x->out);
}

/* Source i of the entry's comma-separated sources into buf, NULL past
 * the last. */
static const char *export_csv_source(const struct entry *e, unsigned i, char *buf, size_t cap)
{
    const char *p = e->sources;
    for (; i > 0 && *p; i--)
        p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',');
    if (!*p)
        return NULL;
    size_t len = strcspn(p, ",");
    if (len >= cap)
        len = cap - 1;
    memcpy(buf, p, len);
    buf[len] = '\0';
    return buf;
}

/* When the entry was first and last seen, and its sources in order:
 * volume rows of weight 0 (they count nothing), one per source at
 * first_seen, then one at last_seen. Every later row keeps to that span
 * and names the first source, so neither changes. */
static void export_csv_seen(struct export_ctx *x, const struct entry *e, const char *first)
{
    char name[MODEL_TEXT_MAX];
    struct export_csv_extra more = {.source = first};

    if (e->first_seen == 0)
        return;
    for (unsigned i = 0; i == 0 || export_csv_source(e, i, name, sizeof name); i++) {
        more.source = i ? name : first;
        export_csv_row(x, &e->prefix, "volume", 0, e->first_seen, "", 0, 0, 0, "", "", &more);
    }
    more.source = first;
    if (e->last_seen != e->first_seen)
        export_csv_row(x, &e->prefix, "volume", 0, e->last_seen, "", 0, 0, 0, "", "", &more);
}

/* "spf+dkim" of bits. */
static const char *export_csv_auth_text(uint8_t bits, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%s%s%s%s", bits & AUTH_FAIL_SPF ? "spf" : "",
             bits & AUTH_FAIL_SPF && bits & (AUTH_FAIL_DKIM | AUTH_FAIL_DMARC) ? "+" : "",
             bits & AUTH_FAIL_DKIM ? "dkim" : "",
             bits & AUTH_FAIL_DKIM && bits & AUTH_FAIL_DMARC ? "+" : "",
             bits & AUTH_FAIL_DMARC ? "dmarc" : "");
    return buf;
}

/* A complaint row of a day, split so that the failures still owed
 * (need[], the entry's SPF/DKIM/DMARC counts) are carried by the first
 * complaints: each piece marks the failures still owed, as many as the
 * smallest of them. */
static void export_csv_complaint(struct export_ctx *x, const struct entry *e, const char *kind,
                                 uint64_t weight, int64_t time, uint64_t need[AUTHC_COUNT],
                                 struct export_csv_extra *more)
{
    static const uint8_t bit[AUTHC_COUNT] = {AUTH_FAIL_SPF, AUTH_FAIL_DKIM, AUTH_FAIL_DMARC};
    char auth[32];

    while (weight > 0) {
        uint8_t bits = 0;
        uint64_t part = weight;
        for (int i = 0; i < AUTHC_COUNT; i++) {
            if (need[i] == 0)
                continue;
            bits |= bit[i];
            if (need[i] < part)
                part = need[i];
        }
        for (int i = 0; i < AUTHC_COUNT; i++)
            if (bits & bit[i])
                need[i] -= part;
        more->auth = export_csv_auth_text(bits, auth, sizeof auth);
        export_csv_row(x, &e->prefix, kind, part, time, "", 0, 0, 0, "", "", more);
        weight -= part;
    }
    more->auth = NULL;
}

/* The entry's evidence: a row per counter and day of its history (the
 * counters are the sums of its days), dated inside the day and inside
 * first_seen..last_seen. */
static int export_csv_history(struct export_ctx *x, const struct entry *e, const char *first)
{
    static const uint8_t kinds[CNT_COUNT] = {EV_ABUSE,    EV_FRAUD,        EV_VIRUS,   EV_OTHER,
                                             EV_NOT_SPAM, EV_AUTH_FAILURE, EV_TRAP_HIT};
    struct export_csv_extra more = {.source = first};
    uint64_t need[AUTHC_COUNT] = {e->auth_fail[AUTHC_SPF], e->auth_fail[AUTHC_DKIM],
                                  e->auth_fail[AUTHC_DMARC]};
    uint32_t from = 0;
    size_t n;

    if (!model_has_evidence(e))
        return DNSBL_OK;
    do {
        int err = store_reader_history(x->reader, &e->prefix, from, x->days,
                                       sizeof x->days / sizeof x->days[0], &n);
        if (err != DNSBL_OK)
            return err;
        for (size_t i = 0; i < n; i++) {
            const struct history_day *d = &x->days[i];
            int64_t t = (int64_t)d->day * MODEL_DAY + MODEL_DAY / 2;
            if (t < e->first_seen)
                t = e->first_seen;
            if (e->last_seen && t > e->last_seen)
                t = e->last_seen;
            for (int c = 0; c < CNT_COUNT; c++) {
                if (!d->counts[c])
                    continue;
                const char *kind = model_kind_name(kinds[c]);
                if (c == CNT_ABUSE || c == CNT_FRAUD || c == CNT_VIRUS)
                    export_csv_complaint(x, e, kind, d->counts[c], t, need, &more);
                else
                    export_csv_row(x, &e->prefix, kind, d->counts[c], t, "", 0, 0, 0, "", "",
                                   &more);
            }
            if (d->volume)
                export_csv_row(x, &e->prefix, "volume", d->volume, t, "", 0, 0, 0, "", "", &more);
            from = d->day + 1;
        }
    } while (n == sizeof x->days / sizeof x->days[0]);
    return DNSBL_OK;
}

/* The last SNDS row and status; the status row carries the entry's
 * reason when no operator state will set it. */
static void export_csv_snds(struct export_ctx *x, const struct entry *e, const char *first)
{
    static const char *const colours[] = {"", "green", "yellow", "red"};
    struct export_csv_extra more = {.source = first};
    char text[160], rate[32];
    int64_t when = e->first_seen ? e->first_seen : x->ctx->now;

    if (e->snds.colour != SNDS_NONE && e->snds.colour <= SNDS_RED) {
        const struct snds_row *r = &e->snds;
        if (r->rate_qual)
            snprintf(rate, sizeof rate, "%c%.9g", r->rate_qual, (double)r->rate_pct);
        else
            snprintf(rate, sizeof rate, "-");
        snprintf(text, sizeof text, "%s %s %u %u %u %u %lld %lld", colours[r->colour], rate,
                 r->rcpt, r->data, r->recipients, r->trap_hits, (long long)r->start,
                 (long long)r->end);
        more.snds = text;
        export_csv_row(x, &e->prefix, "snds", 1, when, "", 0, 0, 0, "", "", &more);
    }
    if (e->snds_status != SNDS_STATUS_NONE) {
        more.snds = e->snds_status == SNDS_STATUS_BLOCKED ? "blocked" : "junked";
        export_csv_row(x, &e->prefix, "snds_status", 1, e->snds_status_time,
                       e->state == ENTRY_NONE ? e->reason : "", 0, 0, 0, "", "", &more);
    }
}

/* Part i of the entry, as an import_list or import_exclude row. */
static void export_csv_part(struct export_ctx *x, const struct entry *e, unsigned i,
                            const char *op_reason, const struct export_csv_extra *more)
{
    const struct entry_part *pt = &e->parts[i];
    const struct entry_part_text *tx = &e->part_text[i];

    if (pt->state == IMPORT_LISTED) {
        bool plain = !(pt->flags & (IMPORT_NO_TXT | IMPORT_REASON));
        export_csv_row(x, &e->prefix, "import_list", 1, pt->time,
                       pt->flags & IMPORT_REASON ? tx->txt : op_reason, pt->code, 0, pt->ttl,
                       plain ? tx->txt : "", tx->dataset, more);
    } else {
        export_csv_row(x, &e->prefix, "import_exclude", 1, pt->time, op_reason, 0, 0, 0, "",
                       tx->dataset, more);
    }
}

/* An entry's rows: when it was seen and its sources, its dataset parts,
 * its SNDS data, then its operator state (the later word on the shared
 * reason), then its evidence day by day. */
static int export_csv_entry(const struct entry *e, void *arg)
{
    struct export_ctx *x = arg;
    char first[MODEL_TEXT_MAX], nth[MODEL_TEXT_MAX];
    const char *src = export_csv_source(e, 0, first, sizeof first);
    const char *op_reason = e->state != ENTRY_NONE ? "" : e->reason;
    struct export_csv_extra more = {.source = src};

    if (!src)
        src = more.source = ""; /* the importing source's name will do */
    export_csv_seen(x, e, src);
    for (unsigned i = 0; i < e->nparts; i++) {
        /* Never seen (list data alone): the first part's row, which
         * repeats harmlessly, gives the sources in order. */
        unsigned copies = 1;
        if (i == 0 && e->first_seen == 0)
            while (export_csv_source(e, copies, nth, sizeof nth))
                copies++;
        for (unsigned j = 0; j < copies; j++) {
            more.source = j ? export_csv_source(e, j, nth, sizeof nth) : src;
            export_csv_part(x, e, i, op_reason, &more);
        }
    }
    more.source = src;
    export_csv_snds(x, e, src);
    /* The operator history is written whole at the end (oplog rows):
     * these rows restore the state alone. */
    more.action = "state";
    if (e->state == ENTRY_LISTED)
        export_csv_row(x, &e->prefix, "list", 1, e->state_time, e->reason, e->code, e->expires, 0,
                       "", "", &more);
    else if (e->state == ENTRY_ALLOWED)
        export_csv_row(x, &e->prefix, "allow", 1, e->state_time, e->reason, 0, e->expires, 0, "",
                       "", &more);
    else if (e->state == ENTRY_DELISTED) {
        /* A delisting keeps what it undid: the listing, then its end. */
        export_csv_row(x, &e->prefix, "list", 1, e->state_time, e->reason, e->code, e->expires, 0,
                       "", "", &more);
        export_csv_row(x, &e->prefix, "delist", 1, e->state_time, "", 0, 0, 0, "", "", &more);
    }
    int err = export_csv_history(x, e, src);
    if (err != DNSBL_OK) {
        char text[ADDR_TEXT_MAX];
        addr_format(&e->prefix, text, sizeof text);
        ctl_error("reading the history of %s: %s", text, dnsbl_strerror(err));
        return 1;
    }
    return 0;
}

/* One operator-history record, as an oplog row. */
static int export_csv_oplog(const struct addr_prefix *p, const struct oplog_rec *rec, void *arg)
{
    struct export_ctx *x = arg;
    struct export_csv_extra more = {.by = rec->who, .action = store_oplog_action_name(rec->action)};

    export_csv_row(x, p, "oplog", 1, rec->time, rec->reason, rec->code, rec->expires, 0, "",
                   rec->dataset, &more);
    return 0;
}

/* Entry by entry, then the whole operator history (records outlive
 * their entries). Streams: one entry and 64 history days at a time. */
static int export_csv(struct export_ctx *x)
{
    export_csv_begin(x);
    if (!x->store)
        return CTL_EXIT_OK;
    int err = store_reader_open(x->store, &x->reader);
    if (err == DNSBL_OK && store_reader_begin(x->reader) != DNSBL_OK) {
        ctl_error("reading the store: %s", store_reader_why(x->reader));
        return CTL_EXIT_FAIL;
    }
    if (err != DNSBL_OK) {
        ctl_error("reading the store: %s", dnsbl_strerror(err));
        return CTL_EXIT_FAIL;
    }
    int rc = ctl_store_foreach(x->store, export_csv_entry, x, NULL);
    store_reader_end(x->reader);
    if (rc != CTL_EXIT_OK)
        return rc;
    err = store_oplog_foreach(x->store, export_csv_oplog, x);
    if (err != 0) {
        ctl_error("reading the operator history: %s", dnsbl_strerror(err < 0 ? err : DNSBL_EIO));
        return CTL_EXIT_FAIL;
    }
    return CTL_EXIT_OK;
}

/* ---- zone ------------------------------------------------------------- */

static int export_print_rr(struct export_ctx *x, ldns_rr *rr)
{
    if (!rr)
        return DNSBL_ENOMEM;
    ldns_rr_print(x->out, rr);
    ldns_rr_free(rr);
    return DNSBL_OK;
}

/* One record of the answer set (zonerr.h) printed as ldns prints it:
 * read back from its wire form, so ldns quotes and escapes the text. */
static int export_zone_emit(const struct zonerr_rr *z, void *arg)
{
    struct export_ctx *x = arg;
    uint8_t wire[ZONERR_NAME_MAX + 10 + UINT16_MAX];
    size_t pos = 0;
    ldns_rr *rr = NULL;

    memcpy(wire, z->owner, z->owner_len);
    pos = z->owner_len;
    const uint8_t fixed[10] = {(uint8_t)(z->type >> 8), (uint8_t)z->type, 0, LDNS_RR_CLASS_IN,
                               (uint8_t)(z->ttl >> 24), (uint8_t)(z->ttl >> 16),
                               (uint8_t)(z->ttl >> 8), (uint8_t)z->ttl,
                               (uint8_t)(z->rdlen >> 8), (uint8_t)z->rdlen};
    memcpy(wire + pos, fixed, sizeof fixed);
    pos += sizeof fixed;
    memcpy(wire + pos, z->rdata, z->rdlen);
    pos += z->rdlen;
    size_t at = 0;
    if (ldns_wire2rr(&rr, wire, pos, &at, LDNS_SECTION_ANSWER) != LDNS_STATUS_OK)
        return DNSBL_ENOMEM;
    return export_print_rr(x, rr);
}

/* The apex records of the zone file: its SOA first, then the rest. */
static int export_apex_file(struct export_ctx *x, const char *path, ldns_rr_list *out)
{
    char origin_text[ZONE_NAME_MAX + 2];
    ldns_zone *lz = NULL;
    int line = 0;
    FILE *fp = fopen(path, "r");

    if (!fp) {
        ctl_error("%s: %s", path, strerror(errno));
        return CTL_EXIT_FAIL;
    }
    snprintf(origin_text, sizeof origin_text, "%s.", x->zone.name);
    ldns_rdf *origin = ldns_dname_new_frm_str(origin_text);
    ldns_status st =
        ldns_zone_new_frm_fp_l(&lz, fp, origin, EXPORT_SYNTH_TTL, LDNS_RR_CLASS_IN, &line);
    fclose(fp);
    ldns_rdf_deep_free(origin);
    if (st != LDNS_STATUS_OK) {
        ctl_error("%s:%d: %s", path, line, ldns_get_errorstr_by_id(st));
        return CTL_EXIT_FAIL;
    }
    if (!ldns_zone_soa(lz)) {
        ctl_error("%s: no SOA record for %s", path, x->zone.name);
        ldns_zone_deep_free(lz);
        return CTL_EXIT_FAIL;
    }
    ldns_rr_list_push_rr(out, ldns_rr_clone(ldns_zone_soa(lz)));
    for (size_t i = 0; i < ldns_rr_list_rr_count(ldns_zone_rrs(lz)); i++)
        ldns_rr_list_push_rr(out, ldns_rr_clone(ldns_rr_list_rr(ldns_zone_rrs(lz), i)));
    ldns_zone_deep_free(lz);
    return CTL_EXIT_OK;
}

/* The apex as dnsbld synthesises it, with the export time as serial. */
static int export_apex_synth(struct export_ctx *x, ldns_rr_list *out)
{
    char text[3 * ZONE_NAME_MAX + 128];
    const char *z = x->zone.name;
    ldns_rr *rr = NULL;

    snprintf(text, sizeof text, "%s. %d IN SOA ns.%s. hostmaster.%s. %lu 3600 600 604800 %d", z,
             EXPORT_SYNTH_TTL, z, z, (unsigned long)(x->ctx->now & 0xffffffff),
             EXPORT_SYNTH_MINIMUM);
    if (ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL) != LDNS_STATUS_OK) {
        ctl_error("zone %s: cannot make its SOA record", z);
        return CTL_EXIT_FAIL;
    }
    ldns_rr_list_push_rr(out, rr);
    snprintf(text, sizeof text, "%s. %d IN NS ns.%s.", z, EXPORT_SYNTH_TTL, z);
    rr = NULL;
    if (ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL) != LDNS_STATUS_OK) {
        ctl_error("zone %s: cannot make its NS record", z);
        return CTL_EXIT_FAIL;
    }
    ldns_rr_list_push_rr(out, rr);
    return CTL_EXIT_OK;
}

/* The zone's apex records, SOA first: from --zone-file, else the file
 * the zone config names, else as dnsbld synthesises them (zone.c). */
static int export_apex_load(struct export_ctx *x, ldns_rr_list **out)
{
    const char *file = x->a.zone_file ? x->a.zone_file : x->zone.file;
    ldns_rr_list *list = ldns_rr_list_new();

    *out = NULL;
    if (!list) {
        ctl_error("export: %s", dnsbl_strerror(DNSBL_ENOMEM));
        return CTL_EXIT_FAIL;
    }
    int rc = file && file[0] ? export_apex_file(x, file, list) : export_apex_synth(x, list);
    if (rc != CTL_EXIT_OK) {
        ldns_rr_list_deep_free(list);
        return rc;
    }
    *out = list;
    return CTL_EXIT_OK;
}

static int export_zone_begin(struct export_ctx *x)
{
    ldns_rr_list *apex = NULL;

    fprintf(x->out,
            "; zone %s written by dnsblctl export at %s: what it answers now.\n"
            "; Prefixes on label boundaries are wildcards, others split into them;\n"
            "; names that answer nothing under a wildcard hold only an HINFO.\n",
            x->zone.name, x->now_text);
    int rc = export_apex_load(x, &apex);
    if (rc != CTL_EXIT_OK)
        return rc;
    ldns_rr_list_print(x->out, apex);
    ldns_rr_list_deep_free(apex);
    return CTL_EXIT_OK;
}

/* The answer set's records (zonerr.h: how prefixes become names). */
static int export_zone_tree(struct export_ctx *x)
{
    int rc = zonerr_generate(x->store, &x->zone.policy, x->zone.name, x->ctx->now,
                             export_zone_emit, x);
    if (rc != DNSBL_OK) {
        ctl_error("zone %s: writing its records: %s", x->zone.name, dnsbl_strerror(rc));
        return CTL_EXIT_FAIL;
    }
    return CTL_EXIT_OK;
}

/* ---- the walk ----------------------------------------------------------- */

static int export_walk(struct export_ctx *x)
{
    struct verdict v;
    int rc = CTL_EXIT_OK;

    for (size_t i = 0; i < x->n && rc == CTL_EXIT_OK; i++) {
        const struct addr_prefix *p = &x->prefixes[i];
        while (x->depth && !addr_covers(&x->stack[x->depth - 1].p, p))
            x->depth--;
        bool parent_listed = x->depth && x->stack[x->depth - 1].listed;
        uint8_t parent_nvals = x->depth ? x->stack[x->depth - 1].nvals : 0;
        /* The test points are the server's, whatever the store says. */
        if (verdict_testpoint(p) != VERDICT_TP_NONE)
            continue;
        if (x->a.format == EXPORT_RBLDNSD && p->family == ADDR_V6 &&
            (i == 0 || x->prefixes[i - 1].family != ADDR_V6))
            export_rbldnsd_section(x, "ip6trie");
        rc = ctl_lookup_decide(x->l, p, &x->zone.policy, x->ctx->now, &v);
        if (rc != CTL_EXIT_OK)
            break;
        bool listed = v.d.listed && v.d.n > 0;
        switch (x->a.format) {
        case EXPORT_RBLDNSD:
            rc = export_rbldnsd_entry(x, p, &v.d, listed, parent_listed, parent_nvals);
            break;
        case EXPORT_CSV:  /* export_csv_entry, from the entries */
        case EXPORT_ZONE: /* export_zone_tree */
        case EXPORT_NONE:
            break;
        }
        if (x->depth < STORE_COVERING_MAX)
            x->stack[x->depth++] =
                (struct export_level){.p = *p, .listed = listed, .nvals = listed ? v.d.n : 0};
    }
    if (rc == CTL_EXIT_OK && x->a.format == EXPORT_RBLDNSD)
        rc = export_rbldnsd_end(x);
    return rc;
}

static int export_parse_args(struct ctl_ctx *ctx, int argc, char **argv, struct export_args *a)
{
    static const struct option opts[] = {
        CTL_OPTIONS_COMMON,
        {"format", required_argument, NULL, 'f'},
        {"zone", required_argument, NULL, 'z'},
        {"output", required_argument, NULL, 'o'},
        {"zone-file", required_argument, NULL, 'F'},
        {"zone-config", required_argument, NULL, 'Z'},
        {NULL, 0, NULL, 0},
    };

    for (;;) {
        int c = ctl_getopt(ctx, argc, argv, CTL_SHORTOPTS_COMMON "f:z:o:F:Z:", opts);
        switch (c) {
        case CTL_GETOPT_END:
            if (ctl_args_none(ctx, argc, argv) != CTL_EXIT_OK)
                return CTL_EXIT_USAGE;
            if (a->format == EXPORT_NONE)
                return ctl_usage_error(ctx, "missing --format rbldnsd|zone|csv");
            /* The zone names the apex and is {zone} in the TXT. */
            if (a->format != EXPORT_CSV && !a->zone)
                return ctl_usage_error(ctx, "--format %s needs --zone NAME",
                                       a->format == EXPORT_ZONE ? "zone" : "rbldnsd");
            if (a->zone_file && a->format == EXPORT_CSV)
                return ctl_usage_error(ctx, "--zone-file is for --format zone or rbldnsd");
            return CTL_EXIT_OK;
        case CTL_GETOPT_HELP:
            a->done = true;
            return CTL_EXIT_OK;
        case 'f':
            if (strcmp(optarg, "rbldnsd") == 0)
                a->format = EXPORT_RBLDNSD;
            else if (strcmp(optarg, "zone") == 0)
                a->format = EXPORT_ZONE;
            else if (strcmp(optarg, "csv") == 0)
                a->format = EXPORT_CSV;
            else
                return ctl_usage_error(ctx, "unknown format '%s' (rbldnsd, zone or csv)", optarg);
            break;
        case 'z':
            a->zone = optarg;
            break;
        case 'o':
            a->output = optarg;
            break;
        case 'F':
            a->zone_file = optarg;
            break;
        case 'Z':
            a->zone_config = optarg;
            break;
        default:
            return CTL_EXIT_USAGE;
        }
    }
}

/* Zone names as dnsbld keeps them: lower case, no trailing dot. */
static void export_normalise_zone(struct ctl_zone *z)
{
    size_t len = strlen(z->name);
    while (len > 0 && z->name[len - 1] == '.')
        z->name[--len] = '\0';
    for (char *s = z->name; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

static int export_write(struct export_ctx *x)
{
    int rc;

    switch (x->a.format) {
    case EXPORT_RBLDNSD:
        rc = export_rbldnsd_begin(x);
        if (rc != CTL_EXIT_OK)
            return rc;
        break;
    case EXPORT_CSV:
        return export_csv(x);
    case EXPORT_ZONE:
        rc = export_zone_begin(x);
        return rc == CTL_EXIT_OK ? export_zone_tree(x) : rc;
    case EXPORT_NONE:
        break;
    }
    return export_walk(x);
}

/* Into a temp file beside --output, renamed over it only when whole. */
static int export_to_file(struct export_ctx *x)
{
    char tmp[PATH_MAX];
    const char *path = x->a.output;

    if ((size_t)snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= sizeof tmp) {
        ctl_error("--output %s: %s", path, strerror(ENAMETOOLONG));
        return CTL_EXIT_FAIL;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        ctl_error("--output %s: %s", path, strerror(errno));
        return CTL_EXIT_FAIL;
    }
    x->out = fdopen(fd, "w");
    if (!x->out) {
        ctl_error("--output %s: %s", path, strerror(errno));
        close(fd);
        unlink(tmp);
        return CTL_EXIT_FAIL;
    }
    int rc = export_write(x);
    if (rc == CTL_EXIT_OK && (fflush(x->out) != 0 || ferror(x->out) || fsync(fd) != 0)) {
        ctl_error("writing %s: %s", tmp, strerror(errno));
        rc = CTL_EXIT_FAIL;
    }
    if (fclose(x->out) != 0 && rc == CTL_EXIT_OK) {
        ctl_error("writing %s: %s", tmp, strerror(errno));
        rc = CTL_EXIT_FAIL;
    }
    x->out = NULL;
    if (rc == CTL_EXIT_OK && (chmod(tmp, 0644) != 0 || rename(tmp, path) != 0)) {
        ctl_error("--output %s: %s", path, strerror(errno));
        rc = CTL_EXIT_FAIL;
    }
    if (rc != CTL_EXIT_OK)
        unlink(tmp);
    return rc;
}

int ctl_cmd_export(struct ctl_ctx *ctx, int argc, char **argv)
{
    struct export_ctx *x = calloc(1, sizeof *x);
    struct store *s = NULL;
    int rc;

    if (!x) {
        ctl_error("export: %s", dnsbl_strerror(DNSBL_ENOMEM));
        return CTL_EXIT_FAIL;
    }
    x->ctx = ctx;
    rc = export_parse_args(ctx, argc, argv, &x->a);
    if (rc != CTL_EXIT_OK || x->a.done)
        goto out;
    rc = ctl_zone_resolve(ctx, x->a.zone_config, x->a.zone, &x->zone);
    if (rc != CTL_EXIT_OK)
        goto out;
    export_normalise_zone(&x->zone);
    ctl_format_time(ctx->now, x->now_text);
    rc = ctl_store_open_existing(ctx, STORE_RDONLY, &s);
    if (rc != CTL_EXIT_OK)
        goto out;
    /* rbldnsd decides each entry among the ones around it; CSV streams
     * entry by entry, and zonerr collects the zone's prefixes itself. */
    if (x->a.format == EXPORT_RBLDNSD)
        rc = ctl_store_foreach(s, export_collect, x, &x->err);
    if (rc != CTL_EXIT_OK)
        goto out;
    x->store = s;
    rc = ctl_lookup_open(s, &x->l);
    if (rc != CTL_EXIT_OK)
        goto out;
    if (x->a.output) {
        rc = export_to_file(x);
    } else {
        x->out = stdout;
        rc = export_write(x);
    }
out:
    for (int fam = 0; fam < 2; fam++)
        for (unsigned k = 0; k < DECISION_MAX; k++)
            if (x->extra[fam][k])
                fclose(x->extra[fam][k]);
    ctl_lookup_close(x->l);
    if (x->reader)
        store_reader_close(x->reader);
    if (s)
        store_close(s);
    free(x->prefixes);
    free(x);
    return rc;
}
