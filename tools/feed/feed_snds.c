/* feed_snds: Microsoft SNDS exports (doc/formats.md section 3). One parser for
 * both files, because operators download them side by side and the shape
 * of a row tells them apart (3.4): an IP-status row has exactly 4 fields
 * and two IPv4 addresses; everything else is a data row. A data row must
 * have one IPv4 address and a filter colour; every other field is tolerant
 * (0 or null with a warning), as 3.1 asks. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "feed.h"
#include "feed_csvsplit.h"
#include "timeutil.h"

#define SNDS_MAX_FIELDS 32

enum snds_col {
    C_IP,
    C_START,
    C_END,
    C_RCPT,
    C_DATA,
    C_RECIPIENTS,
    C_FILTER,
    C_RATE,
    C_TSTART,
    C_TEND,
    C_TRAPS,
    C_HELO,
    C_P1,
    C_COMMENTS,
    C_COUNT
};

/* Header names after normalisation (3.1). The two "period" names mark a
 * merged start/end column. */
static const struct {
    const char *name;
    int col;
} snds_aliases[] = {
    {"ip", C_IP},
    {"ip address", C_IP},
    {"activity start", C_START},
    {"activity period start", C_START},
    {"activity period", C_START},
    {"activity end", C_END},
    {"activity period end", C_END},
    {"rcpt commands", C_RCPT},
    {"data commands", C_DATA},
    {"message recipients", C_RECIPIENTS},
    {"filter result", C_FILTER},
    {"complaint rate", C_RATE},
    {"trap message start", C_TSTART},
    {"trap message period start", C_TSTART},
    {"trap message period", C_TSTART},
    {"trap message end", C_TEND},
    {"trap message period end", C_TEND},
    {"trap hits", C_TRAPS},
    {"sample helo", C_HELO},
    {"jmr p1 sender", C_P1},
    {"sample mail from", C_P1},
    {"comments", C_COMMENTS},
};

struct snds_layout {
    int col[C_COUNT];
    bool merged_activity; /* one "activity period" cell holds start (and maybe end) */
    bool merged_trap;
};

enum snds_mode { MODE_UNKNOWN = 0, MODE_DATA, MODE_STATUS };

struct snds_parse {
    struct csv_lines l;
    const struct feed_options *opt;
    const char *source;
    bool header_done; /* the first content line was looked at */
    bool have_header;
    struct snds_layout hdr;
    int mode;
    char *f[SNDS_MAX_FIELDS];
    size_t n;      /* fields on the line (may exceed the stored ones) */
    size_t stored; /* min(n, SNDS_MAX_FIELDS) */
};

static void snds_fixed_layout(struct snds_layout *lay, bool merged)
{
    memset(lay, 0, sizeof *lay);
    for (int i = 0; i < C_COUNT; i++)
        lay->col[i] = i;
    if (merged) {
        /* IP, activity period, RCPT, DATA, recipients, filter, rate,
         * trap period, trap hits, HELO, P1 sender, comments. */
        static const int m[C_COUNT] = {0, 1, -1, 2, 3, 4, 5, 6, 7, -1, 8, 9, 10, 11};
        memcpy(lay->col, m, sizeof m);
        lay->merged_activity = lay->merged_trap = true;
    }
}

/* Lower case, runs of spaces, '_' and '-' collapsed to one space (3.1). */
static void snds_normalise(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    bool gap = false;
    for (; *in && n + 2 < cap; in++) {
        char c = *in;
        if (c == ' ' || c == '_' || c == '-' || c == '\t') {
            gap = n > 0;
            continue;
        }
        if (gap)
            out[n++] = ' ';
        gap = false;
        out[n++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[n] = '\0';
}

static int snds_alias(const char *field)
{
    char norm[64];
    snds_normalise(field, norm, sizeof norm);
    for (size_t i = 0; i < sizeof snds_aliases / sizeof snds_aliases[0]; i++)
        if (strcmp(norm, snds_aliases[i].name) == 0)
            return snds_aliases[i].col;
    return -1;
}

static bool snds_is_ipv4(const char *s)
{
    struct addr_prefix p;
    return !strchr(s, '/') && !strchr(s, ':') && addr_parse(s, &p, NULL, 0) == DNSBL_OK &&
           p.family == ADDR_V4 && p.plen == 32;
}

static uint8_t snds_colour(const char *s)
{
    if (strcasecmp(s, "green") == 0)
        return SNDS_GREEN;
    if (strcasecmp(s, "yellow") == 0)
        return SNDS_YELLOW;
    if (strcasecmp(s, "red") == 0)
        return SNDS_RED;
    return SNDS_NONE;
}

static bool snds_has_digit(char *const *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (const char *p = f[i]; *p; p++)
            if (*p >= '0' && *p <= '9')
                return true;
    return false;
}

static bool snds_status_shape(char *const *f, size_t n)
{
    return n == 4 && snds_is_ipv4(f[0]) && snds_is_ipv4(f[1]);
}

static bool snds_data_shape(char *const *f, size_t n, size_t stored)
{
    if (n < 11 || n > 14)
        return false;
    for (size_t i = 1; i < stored; i++)
        if (snds_colour(f[i]) != SNDS_NONE)
            return true;
    return false;
}

/* minw..maxw decimal digits. */
static bool snds_take_int(const char **s, int minw, int maxw, int *out)
{
    int v = 0, w = 0;
    while (w < maxw && (*s)[0] >= '0' && (*s)[0] <= '9') {
        v = v * 10 + ((*s)[0] - '0');
        (*s)++;
        w++;
    }
    if (w < minw)
        return false;
    *out = v;
    return true;
}

/* "M/D/YYYY h:mm AM/PM" (seconds and a 24-hour clock tolerated), or an
 * ISO 8601 time. Times are taken as UTC: doc/formats.md 3.1 records Pacific
 * time as community belief only (UNCERTAIN), and a wrong guess of a few
 * hours matters less than a clock that moves with daylight saving. */
static bool snds_parse_date(const char *s, int64_t *out)
{
    char iso[40];
    int mon, day, year, hour = 0, min = 0, sec = 0;
    const char *p = s;
    if (csv_parse_time(s, out))
        return true;
    if (strlen(s) < 30) {
        snprintf(iso, sizeof iso, "%sZ", s);
        if (csv_parse_time(iso, out))
            return true;
    }
    if (!snds_take_int(&p, 1, 2, &mon) || *p++ != '/' || !snds_take_int(&p, 1, 2, &day) ||
        *p++ != '/' || !snds_take_int(&p, 4, 4, &year))
        return false;
    while (*p == ' ')
        p++;
    if (*p) {
        if (!snds_take_int(&p, 1, 2, &hour) || *p++ != ':' || !snds_take_int(&p, 2, 2, &min))
            return false;
        if (*p == ':' && (p++, !snds_take_int(&p, 2, 2, &sec)))
            return false;
        while (*p == ' ')
            p++;
        if (*p) {
            bool pm;
            if ((p[0] == 'A' || p[0] == 'a') && (p[1] == 'M' || p[1] == 'm'))
                pm = false;
            else if ((p[0] == 'P' || p[0] == 'p') && (p[1] == 'M' || p[1] == 'm'))
                pm = true;
            else
                return false;
            if (p[2] != '\0' || hour < 1 || hour > 12)
                return false;
            hour = hour % 12 + (pm ? 12 : 0);
        }
    }
    if (hour > 23 || min > 59 || sec > 59)
        return false;
    snprintf(iso, sizeof iso, "%04d-%02d-%02dT%02d:%02d:%02dZ", year, mon, day, hour, min, sec);
    return csv_parse_time(iso, out);
}

/* 3.3: "< 0.1%" -> ('<', 0.1); "0.4%" -> ('=', 0.4); "A-B%" -> ('<', B);
 * ">X%" -> ('>', X); empty or N/A -> null (qual 0). */
static bool snds_parse_rate(const char *s, char *qual, float *pct)
{
    char buf[64];
    size_t n = 0;
    *qual = 0;
    *pct = 0;
    if (!*s || strcasecmp(s, "n/a") == 0 || strcasecmp(s, "na") == 0)
        return true;
    for (; *s && n + 1 < sizeof buf; s++)
        if (*s != ' ' && *s != '\t')
            buf[n++] = *s;
    if (*s)
        return false;
    buf[n] = '\0';
    if (n > 0 && buf[n - 1] == '%')
        buf[--n] = '\0';
    char q = '=';
    char *num = buf;
    double v;
    if (buf[0] == '<' || buf[0] == '>') {
        q = buf[0];
        num++;
    } else {
        char *dash = strchr(buf, '-');
        if (dash) {
            *dash = '\0';
            if (dash > buf && dash[-1] == '%')
                dash[-1] = '\0';
            if (!csv_parse_decimal(buf, &v))
                return false;
            q = '<';
            num = dash + 1;
        }
    }
    if (!csv_parse_decimal(num, &v) || v > 100)
        return false;
    *qual = q;
    *pct = (float)v;
    return true;
}

/* The cell of column c, or NULL when the row or the header has no such
 * column: an absent column is no reason for a warning, an empty cell is. */
static const char *snds_field(const struct snds_parse *sp, const struct snds_layout *lay, int c)
{
    int i = lay->col[c];
    if (i < 0 || (size_t)i >= sp->stored)
        return NULL;
    return sp->f[i];
}

static const char *snds_text(const struct snds_parse *sp, const struct snds_layout *lay, int c)
{
    const char *f = snds_field(sp, lay, c);
    return f ? f : "";
}

static uint32_t snds_count(struct snds_parse *sp, const char *text, const char *what, bool empty_ok)
{
    uint64_t v;
    if (!text)
        return 0;
    if (!*text) {
        if (!empty_ok)
            csv_warn(&sp->l, "empty %s; taken as 0", what);
        return 0;
    }
    if (!csv_parse_u64(text, true, &v)) {
        csv_warn(&sp->l, "%s '%s' is not a number; taken as 0", what, text);
        return 0;
    }
    if (v > UINT32_MAX) {
        csv_warn(&sp->l, "%s '%s' is too large; taken as %u", what, text, UINT32_MAX);
        return UINT32_MAX;
    }
    return (uint32_t)v;
}

static int64_t snds_date(struct snds_parse *sp, const char *text, const char *what)
{
    int64_t t;
    if (!text || !*text)
        return 0;
    if (snds_parse_date(text, &t) && t > 0)
        return t;
    csv_warn(&sp->l, "%s '%s' is not a date (M/D/YYYY h:mm AM/PM); taken as unknown", what, text);
    return 0;
}

/* A merged period cell: "start" or "start - end". */
static void snds_period(struct snds_parse *sp, const char *cell, const char *what, int64_t *start,
                        int64_t *end)
{
    char buf[128];
    if (!cell) {
        *start = *end = 0;
        return;
    }
    snprintf(buf, sizeof buf, "%s", cell);
    char *dash = strchr(buf, '-');
    if (dash && strchr(buf, '/')) {
        *dash = '\0';
        *start = snds_date(sp, csv_trim(buf), what);
        *end = snds_date(sp, csv_trim(dash + 1), what);
    } else {
        *start = snds_date(sp, cell, what);
        *end = 0;
    }
}

static bool snds_check_ip(struct snds_parse *sp, const char *text, const char *what,
                          struct addr_prefix *out)
{
    char why[256];
    if (!*text) {
        csv_reject(&sp->l, "no %s", what);
        return false;
    }
    if (strchr(text, '-')) {
        csv_reject(&sp->l,
                   "%s '%s' is an address range; a data row has one IPv4 address (ranges "
                   "belong to the IP-status export)",
                   what, text);
        return false;
    }
    if (addr_parse(text, out, why, sizeof why) != DNSBL_OK) {
        csv_reject(&sp->l, "%s: %s", what, why);
        return false;
    }
    if (out->family != ADDR_V4 || strchr(text, ':')) {
        csv_reject(&sp->l, "%s '%s' is not an IPv4 address (SNDS is IPv4 only)", what, text);
        return false;
    }
    if (strchr(text, '/')) {
        csv_reject(&sp->l, "%s '%s' is a prefix, not a single IPv4 address", what, text);
        return false;
    }
    return true;
}

/* 3.5: the complaints a row stands for, its complaint rate times its
 * recipients. "< 0.1%" is under what SNDS resolves, not a measure, and
 * counts none; ">X%" counts X; no rate counts none. */
static uint64_t snds_complaints(const struct snds_row *row)
{
    if (row->rate_qual != '=' && row->rate_qual != '>')
        return 0;
    if (!(row->rate_pct > 0))
        return 0;
    return (uint64_t)llround((double)row->rate_pct / 100.0 * (double)row->recipients);
}

static int snds_data_row(struct snds_parse *sp)
{
    struct snds_layout fixed;
    const struct snds_layout *lay = &sp->hdr;
    if (!sp->have_header) {
        /* Headerless with one merged period column: the colour sits one
         * field early. */
        bool merged = sp->stored >= 12 && snds_colour(sp->f[6]) == SNDS_NONE &&
                      snds_colour(sp->f[5]) != SNDS_NONE;
        snds_fixed_layout(&fixed, merged);
        lay = &fixed;
    }

    struct addr_prefix ip;
    const char *iptext = snds_text(sp, lay, C_IP);
    if (!snds_check_ip(sp, iptext, "IP address", &ip))
        return 0;
    const char *colour = snds_text(sp, lay, C_FILTER);
    struct snds_row row = {.colour = snds_colour(colour)};
    if (row.colour == SNDS_NONE) {
        if (*colour)
            csv_reject(&sp->l, "filter result '%s' is not GREEN, YELLOW or RED", colour);
        else
            csv_reject(&sp->l, "no filter result (GREEN, YELLOW or RED)");
        return 0;
    }
    sp->mode = MODE_DATA;

    row.rcpt = snds_count(sp, snds_field(sp, lay, C_RCPT), "RCPT commands", false);
    row.data = snds_count(sp, snds_field(sp, lay, C_DATA), "DATA commands", false);
    row.recipients = snds_count(sp, snds_field(sp, lay, C_RECIPIENTS), "message recipients", false);
    row.trap_hits = snds_count(sp, snds_field(sp, lay, C_TRAPS), "trap hits", true);
    const char *rate = snds_text(sp, lay, C_RATE);
    if (!snds_parse_rate(rate, &row.rate_qual, &row.rate_pct))
        csv_warn(&sp->l, "complaint rate '%s' is not understood; taken as unknown", rate);

    const char *start_text = snds_text(sp, lay, C_START);
    const char *end_text = snds_text(sp, lay, C_END);
    int64_t tstart, tend;
    if (lay->merged_activity)
        snds_period(sp, snds_field(sp, lay, C_START), "activity period", &row.start, &row.end);
    else {
        row.start = snds_date(sp, start_text, "activity start");
        row.end = snds_date(sp, end_text, "activity end");
    }
    if (lay->merged_trap)
        snds_period(sp, snds_field(sp, lay, C_TSTART), "trap message period", &tstart, &tend);
    else {
        tstart = snds_date(sp, snds_field(sp, lay, C_TSTART), "trap message start");
        tend = snds_date(sp, snds_field(sp, lay, C_TEND), "trap message end");
    }
    (void)tend; /* read for its warning only: hits are dated by the period start */

    int64_t when = row.start ? row.start : row.end ? row.end : sp->opt->file_mtime;
    /* 3.5: one row per (IP, activity window); trap hits counted once per window. */
    char ipnorm[ADDR_TEXT_MAX];
    addr_format(&ip, ipnorm, sizeof ipnorm);
    const char *keyparts[4] = {"snds", ipnorm, start_text, end_text};
    uint8_t rowkey[FEED_DEDUP_LEN], key[FEED_DEDUP_LEN];
    csv_dedup_strings(rowkey, keyparts, 4);

    struct event ev = {
        .prefix = ip, .kind = EV_SNDS, .time = when, .source = sp->source, .snds = &row};
    /* The row stands on the evidence trail for itself and the counts
     * below: its period and colour name it. */
    char period[2 * 32 + 2] = "", a[32] = "?", b[32] = "?";
    if (row.start)
        time_format_rfc3339(row.start, a, sizeof a);
    if (row.end)
        time_format_rfc3339(row.end, b, sizeof b);
    if (row.start || row.end)
        snprintf(period, sizeof period, "%s/%s", a, b);
    static const char *const colours[] = {"", "green", "yellow", "red"};
    struct evidence_ident ident = {.n = 1, .pair = {{"colour", colours[row.colour]}}};
    if (period[0])
        ident.pair[ident.n++] = (struct evidence_pair){"period", period};
    ev.ident = &ident;
    int rc;
    feed_dedup_derive(key, rowkey, 0);
    if ((rc = csv_emit(&sp->l, &ev, key)) != 0)
        return rc;
    if (row.recipients > 0) {
        struct event vol = {.prefix = ip,
                            .kind = EV_VOLUME,
                            .weight = row.recipients,
                            .time = when,
                            .source = sp->source};
        feed_dedup_derive(key, rowkey, 1);
        if ((rc = csv_emit(&sp->l, &vol, key)) != 0)
            return rc;
    }
    if (row.trap_hits > 0) {
        struct event trap = {.prefix = ip,
                             .kind = EV_TRAP_HIT,
                             .weight = row.trap_hits,
                             .time = tstart ? tstart : when,
                             .source = sp->source};
        feed_dedup_derive(key, rowkey, 2);
        if ((rc = csv_emit(&sp->l, &trap, key)) != 0)
            return rc;
    }
    uint64_t complaints = snds_complaints(&row);
    if (complaints > 0) {
        struct event abuse = {.prefix = ip,
                              .kind = EV_ABUSE,
                              .weight = (double)complaints,
                              .time = when,
                              .source = sp->source};
        feed_dedup_derive(key, rowkey, 3);
        if ((rc = csv_emit(&sp->l, &abuse, key)) != 0)
            return rc;
    }
    return 0;
}

static uint32_t snds_v4(const struct addr_prefix *p)
{
    return (uint32_t)p->a[12] << 24 | (uint32_t)p->a[13] << 16 | (uint32_t)p->a[14] << 8 | p->a[15];
}

/* The fewest CIDR prefixes covering exactly [first, last]: at each step the
 * largest block aligned at the current address that still fits. */
static int snds_emit_range(struct snds_parse *sp, uint32_t first, uint32_t last, bool blocked,
                           const char *reason)
{
    uint64_t cur = first, end = last;
    while (cur <= end) {
        unsigned plen = 32;
        while (plen > 0) {
            uint64_t size = 1ULL << (33 - plen);
            if ((cur & (size - 1)) != 0 || cur + size - 1 > end)
                break;
            plen--;
        }
        uint8_t b[4] = {(uint8_t)(cur >> 24), (uint8_t)(cur >> 16), (uint8_t)(cur >> 8),
                        (uint8_t)cur};
        struct evidence_ident ident = {.n = 1,
                                       .pair = {{"status", blocked ? "blocked" : "junked"}}};
        if (reason)
            ident.pair[ident.n++] = (struct evidence_pair){"reason", reason};
        struct event ev = {.kind = EV_SNDS_STATUS,
                           .time = sp->opt->file_mtime,
                           .reason = reason,
                           .source = sp->source,
                           .snds_blocked = blocked,
                           .ident = &ident};
        addr_from_bytes(&ev.prefix, ADDR_V4, b, plen);
        int rc = csv_emit(&sp->l, &ev, NULL);
        if (rc != 0)
            return rc;
        cur += 1ULL << (32 - plen);
    }
    return 0;
}

static int snds_status_row(struct snds_parse *sp)
{
    struct addr_prefix first, last;
    if (sp->n < 3) {
        csv_reject(&sp->l, "an IP-status row has 4 fields (first IP, last IP, blocked, reason)");
        return 0;
    }
    if (!snds_check_ip(sp, sp->f[0], "first IP", &first) ||
        !snds_check_ip(sp, sp->f[1], "last IP", &last))
        return 0;
    uint32_t a = snds_v4(&first), b = snds_v4(&last);
    if (b < a) {
        csv_reject(&sp->l, "range %s-%s ends before it starts", sp->f[0], sp->f[1]);
        return 0;
    }
    sp->mode = MODE_STATUS;
    const char *bl = sp->f[2];
    bool blocked = strcasecmp(bl, "yes") == 0 || strcasecmp(bl, "true") == 0;
    if (!blocked && strcasecmp(bl, "no") != 0 && strcasecmp(bl, "false") != 0)
        csv_warn(&sp->l, "blocked value '%s' is not Yes/No/True/False; taken as junked", bl);
    /* A reason with unquoted commas arrives split: join it back. */
    char reason[MODEL_TEXT_MAX] = "";
    size_t len = 0;
    for (size_t i = 3; i < sp->stored && len + 1 < sizeof reason; i++)
        len +=
            (size_t)snprintf(reason + len, sizeof reason - len, "%s%s", i > 3 ? "," : "", sp->f[i]);
    return snds_emit_range(sp, a, b, blocked, reason[0] ? reason : NULL);
}

/* 3.1: the first line is a header when its first field is not an address.
 * A bad address on a data row ("192.0.2.300") must still be rejected as a
 * row, so a header also needs a known column name or no digit at all. */
static bool snds_try_header(struct snds_parse *sp)
{
    if (snds_is_ipv4(sp->f[0]) || sp->f[0][0] == '\0')
        return false;
    int known = 0;
    for (size_t i = 0; i < sp->stored; i++)
        if (snds_alias(sp->f[i]) >= 0)
            known++;
    if (known == 0 && snds_has_digit(sp->f, sp->stored))
        return false;

    struct snds_layout *lay = &sp->hdr;
    memset(lay, 0, sizeof *lay);
    for (int c = 0; c < C_COUNT; c++)
        lay->col[c] = -1;
    for (size_t i = 0; i < sp->stored; i++) {
        char norm[64];
        int c = snds_alias(sp->f[i]);
        if (c < 0 || lay->col[c] >= 0)
            continue;
        lay->col[c] = (int)i;
        snds_normalise(sp->f[i], norm, sizeof norm);
        if (strcmp(norm, "activity period") == 0)
            lay->merged_activity = true;
        if (strcmp(norm, "trap message period") == 0)
            lay->merged_trap = true;
    }
    if (lay->col[C_IP] >= 0 && lay->col[C_FILTER] >= 0) {
        sp->have_header = true;
    } else if (sp->n <= 4) {
        sp->mode = MODE_STATUS; /* a header over the IP-status export */
    } else {
        csv_warn(&sp->l, "header names no IP and filter result columns; using the fixed "
                         "14-column order");
    }
    return true;
}

static int snds_parse(const struct feed_input *in, const struct feed_options *opt,
                      struct feed_sink *sink)
{
    struct snds_parse sp;
    memset(&sp, 0, sizeof sp);
    csv_lines_init(&sp.l, in, sink);
    sp.opt = opt;
    sp.source = opt->source ? opt->source : "snds";
    int rc;
    while ((rc = csv_lines_next(&sp.l)) == 1) {
        if (csv_line_skippable(sp.l.line))
            continue;
        sp.n = csv_lines_split(&sp.l, sp.f, SNDS_MAX_FIELDS);
        sp.stored = sp.n < SNDS_MAX_FIELDS ? sp.n : SNDS_MAX_FIELDS;
        for (size_t i = 0; i < sp.stored; i++)
            sp.f[i] = csv_trim(sp.f[i]);
        if (!sp.header_done) {
            sp.header_done = true;
            if (snds_try_header(&sp))
                continue;
        }
        bool ips = sp.stored >= 2 && snds_is_ipv4(sp.f[0]) && snds_is_ipv4(sp.f[1]);
        if (snds_status_shape(sp.f, sp.n) || (sp.mode == MODE_STATUS && (sp.n <= 4 || ips)))
            rc = snds_status_row(&sp);
        else
            rc = snds_data_row(&sp);
        csv_record_done(&sp.l);
        if (rc != 0)
            break;
    }
    csv_lines_free(&sp.l);
    return rc;
}

/* Confidence from the first content lines: rows of either SNDS shape. */
static int snds_detect(const uint8_t *data, size_t len)
{
    struct feed_input in = {.name = "detect", .data = data, .len = len};
    struct csv_lines l;
    char *f[SNDS_MAX_FIELDS];
    int good = 0, other = 0, header = 0, seen = 0;
    csv_lines_init(&l, &in, NULL);
    while (seen < 10 && l.lineno < 50 && csv_lines_next(&l) == 1) {
        if (csv_line_skippable(l.line))
            continue;
        size_t n = csv_lines_split(&l, f, SNDS_MAX_FIELDS);
        size_t stored = n < SNDS_MAX_FIELDS ? n : SNDS_MAX_FIELDS;
        for (size_t i = 0; i < stored; i++)
            f[i] = csv_trim(f[i]);
        if (seen++ == 0 && !snds_is_ipv4(f[0])) {
            int ip = 0, filter = 0;
            for (size_t i = 0; i < stored; i++) {
                int c = snds_alias(f[i]);
                ip |= c == C_IP;
                filter |= c == C_FILTER;
            }
            if (ip && filter) {
                header = 1;
                continue;
            }
        }
        if (snds_status_shape(f, n) || snds_data_shape(f, n, stored))
            good++;
        else
            other++;
    }
    csv_lines_free(&l);
    if (good == 0)
        return header ? 50 : 0;
    if (other == 0)
        return 90;
    return good > other ? 60 : 20;
}

const struct feed_ops feed_ops_snds = {
    .name = "snds",
    .detect = snds_detect,
    .parse = snds_parse,
};
