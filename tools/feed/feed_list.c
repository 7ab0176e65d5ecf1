/* feed_list: the line feeds of doc/formats.md section 5 that are not CSV:
 * "list", plain IP/CIDR lists in the DROP style (text or Spamhaus' JSON
 * lines), imported as list data; and "fail2ban", ban lines of fail2ban's
 * log, counted as "other" evidence per IP and jail. */
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "feed.h"
#include "feed_csvsplit.h"
#include "txt.h"

static bool list_is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* ---- plain lists ---- */

/* The string value of "key" in one JSON object line, unescaped for the few
 * escapes an address or SBL id could carry. The DROP JSON lines are flat
 * objects of strings and numbers, so a full JSON parser buys nothing. */
static bool list_json_field(const char *line, const char *key, char *out, size_t cap)
{
    char pat[32];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(line, pat);
    if (!p)
        return false;
    p += strlen(pat);
    while (list_is_space(*p))
        p++;
    if (*p++ != ':')
        return false;
    while (list_is_space(*p))
        p++;
    if (*p++ != '"')
        return false;
    size_t n = 0;
    while (*p && *p != '"') {
        if (*p == '\\' && p[1])
            p++;
        if (n + 1 < cap)
            out[n++] = *p;
        p++;
    }
    if (*p != '"')
        return false;
    out[n] = '\0';
    return true;
}

/* One listed prefix: text is the line's own words ("" if none). */
static int list_emit(struct csv_lines *l, const struct feed_options *opt, const char *source,
                     const char *addr, const char *text)
{
    struct event ev = {
        .kind = EV_IMPORT_LIST, .code = opt->list_code, .time = opt->file_mtime, .source = source};
    char why[256], reason[MODEL_TEXT_MAX], txt[MODEL_TEXT_MAX];
    if (addr_parse(addr, &ev.prefix, why, sizeof why) != DNSBL_OK) {
        csv_reject(l, "%s", why);
        return 0;
    }
    const char *given = opt->list_reason && opt->list_reason[0] ? opt->list_reason : text;
    /* An empty TXT makes the zone's template answer; NULL would mean none. */
    struct txt_builder tb; /* imported TXT is a template (txt.h): its "$" is literal here */
    txt_builder_init(&tb, txt, sizeof txt);
    txt_builder_text(&tb, given, strlen(given));
    ev.txt = txt;
    if (*given)
        snprintf(reason, sizeof reason, "%s", given);
    else
        snprintf(reason, sizeof reason, "listed by %s", source);
    ev.reason = reason;
    return csv_emit(l, &ev, NULL);
}

static int list_json_line(struct csv_lines *l, const struct feed_options *opt, const char *source,
                          const char *line)
{
    char cidr[128], sblid[128] = "", type[32];
    if (!list_json_field(line, "cidr", cidr, sizeof cidr)) {
        /* The last line of Spamhaus' JSON files describes the file. */
        if (list_json_field(line, "type", type, sizeof type) && strcmp(type, "metadata") == 0)
            return 0;
        csv_reject(l, "JSON line has no \"cidr\" field");
        csv_record_done(l);
        return 0;
    }
    list_json_field(line, "sblid", sblid, sizeof sblid);
    int rc = list_emit(l, opt, source, cidr, sblid);
    csv_record_done(l);
    return rc;
}

static int list_text_line(struct csv_lines *l, const struct feed_options *opt, const char *source,
                          char *line)
{
    char *p = line;
    while (list_is_space(*p))
        p++;
    char *addr = p;
    while (*p && !list_is_space(*p) && *p != ';' && *p != '#')
        p++;
    char *rest = p;
    if (*p) {
        *p = '\0';
        rest = p + 1;
    }
    while (list_is_space(*rest) || *rest == ';' || *rest == '#')
        rest++;
    int rc = list_emit(l, opt, source, addr, csv_trim(rest));
    csv_record_done(l);
    return rc;
}

static int list_parse(const struct feed_input *in, const struct feed_options *opt,
                      struct feed_sink *sink)
{
    struct csv_lines l;
    const char *source = opt->source ? opt->source : "list";
    int rc;
    csv_lines_init(&l, in, sink);
    while ((rc = csv_lines_next(&l)) == 1) {
        if (csv_line_skippable(l.line))
            continue;
        char *p = l.line;
        while (list_is_space(*p))
            p++;
        rc = *p == '{' ? list_json_line(&l, opt, source, p) : list_text_line(&l, opt, source, p);
        if (rc != 0)
            break;
    }
    csv_lines_free(&l);
    return rc;
}

/* Most content lines are a bare address or prefix (or a DROP JSON line).
 * rbldnsd data looks alike, so its markers ($ directives, :A:TXT values,
 * ! exclusions) rule a list out. */
static int list_detect(const uint8_t *data, size_t len)
{
    struct feed_input in = {.name = "detect", .data = data, .len = len};
    struct csv_lines l;
    int good = 0, total = 0;
    char cidr[128];
    csv_lines_init(&l, &in, NULL);
    while (total < 50 && l.lineno < 200 && csv_lines_next(&l) == 1) {
        if (csv_line_skippable(l.line))
            continue;
        char *p = l.line;
        while (list_is_space(*p))
            p++;
        if (*p == '$' || *p == ':' || *p == '!') {
            good = 0;
            break;
        }
        struct addr_prefix pfx;
        if (*p == '{') {
            /* DROP JSON: an object with a "cidr" string is a row of the
             * format even when its prefix is bad (the parser rejects that
             * row); the closing metadata object is part of the file, not a
             * row against it (doc/formats.md 5). */
            char type[32];
            if (list_json_field(p, "cidr", cidr, sizeof cidr)) {
                good++;
                total++;
            } else if (!(list_json_field(p, "type", type, sizeof type) &&
                         strcmp(type, "metadata") == 0)) {
                total++;
            }
            continue;
        }
        total++;
        char *addr = p;
        while (*p && !list_is_space(*p) && *p != ';' && *p != '#')
            p++;
        char end = *p;
        *p = '\0';
        bool ok = addr_parse(addr, &pfx, NULL, 0) == DNSBL_OK;
        *p = end;
        while (list_is_space(*p))
            p++;
        good += ok && *p != ':';
    }
    csv_lines_free(&l);
    if (good == 0)
        return 0;
    if (good == total)
        return 70;
    return good * 10 >= total * 8 ? 55 : 0;
}

/* ---- fail2ban ---- */

struct f2b_line {
    char stamp[24]; /* RFC 3339 form of the log's time */
    const char *logger;
    size_t logger_len;
    const char *jail; /* NULL when the line names no jail */
    size_t jail_len;
    const char *msg;
};

static bool f2b_digits(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    return true;
}

/* "%(asctime)s %(name)-24s [%(process)d]: %(levelname)-7s %(message)s";
 * older fail2ban wrote "name: LEVEL" without the process. */
static bool f2b_split(const char *line, struct f2b_line *out)
{
    const char *p = line;
    memset(out, 0, sizeof *out);
    if (strlen(p) < 19 || !f2b_digits(p, 4) || p[4] != '-' || !f2b_digits(p + 5, 2) ||
        p[7] != '-' || !f2b_digits(p + 8, 2) || p[10] != ' ' || !f2b_digits(p + 11, 2) ||
        p[13] != ':' || !f2b_digits(p + 14, 2) || p[16] != ':' || !f2b_digits(p + 17, 2))
        return false;
    /* fail2ban logs local time with no zone; it is taken as UTC, the only
     * reading that does not depend on the importing host's settings. */
    snprintf(out->stamp, sizeof out->stamp, "%.10sT%.8sZ", p, p + 11);
    p += 19;
    if ((*p == ',' || *p == '.') && p[1] >= '0' && p[1] <= '9')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    while (list_is_space(*p))
        p++;
    out->logger = p;
    while (*p && !list_is_space(*p))
        p++;
    out->logger_len = (size_t)(p - out->logger);
    if (out->logger_len > 0 && out->logger[out->logger_len - 1] == ':')
        out->logger_len--;
    if (out->logger_len < 9 || strncmp(out->logger, "fail2ban.", 9) != 0)
        return false;
    while (list_is_space(*p))
        p++;
    if (*p == '[') {
        while (*p && *p != ']')
            p++;
        if (*p == ']')
            p++;
        if (*p == ':')
            p++;
        while (list_is_space(*p))
            p++;
    }
    while (*p && !list_is_space(*p)) /* level */
        p++;
    while (list_is_space(*p))
        p++;
    if (*p == '[') {
        const char *close = strchr(p, ']');
        if (close) {
            out->jail = p + 1;
            out->jail_len = (size_t)(close - p - 1);
            p = close + 1;
        }
    }
    while (list_is_space(*p))
        p++;
    out->msg = p;
    return true;
}

/* The address of a "Ban ADDR" or "Restore Ban ADDR" message, or NULL for
 * the messages that carry no ban (Unban, Found, "already banned", ...). */
static const char *f2b_banned(const char *msg, size_t *len)
{
    if (strncmp(msg, "Restore ", 8) == 0)
        msg += 8;
    if (strncmp(msg, "Ban ", 4) != 0)
        return NULL;
    msg += 4;
    while (list_is_space(*msg))
        msg++;
    const char *end = msg;
    while (*end && !list_is_space(*end))
        end++;
    *len = (size_t)(end - msg);
    return *len ? msg : NULL;
}

static int f2b_parse(const struct feed_input *in, const struct feed_options *opt,
                     struct feed_sink *sink)
{
    struct csv_lines l;
    const char *source = opt->source ? opt->source : "fail2ban";
    int rc;
    csv_lines_init(&l, in, sink);
    while ((rc = csv_lines_next(&l)) == 1) {
        if (csv_line_skippable(l.line))
            continue;
        struct f2b_line fl;
        if (!f2b_split(l.line, &fl)) {
            csv_warn(&l, "not a fail2ban log line; skipped");
            continue;
        }
        size_t alen;
        const char *addr = fl.jail ? f2b_banned(fl.msg, &alen) : NULL;
        if (!addr) {
            /* A log line without a ban is still a record of the log, read
             * and ignored: a quiet day's log is no wrong input. */
            csv_record_done(&l);
            continue;
        }
        char text[ADDR_TEXT_MAX + 8], why[256], reason[MODEL_TEXT_MAX];
        rc = 0;
        struct event ev = {.kind = EV_OTHER, .weight = 1, .source = source};
        snprintf(text, sizeof text, "%.*s", (int)(alen < ADDR_TEXT_MAX ? alen : ADDR_TEXT_MAX),
                 addr);
        if (addr_parse(text, &ev.prefix, why, sizeof why) != DNSBL_OK) {
            csv_reject(&l, "%s", why);
        } else if (!csv_parse_time(fl.stamp, &ev.time)) {
            csv_reject(&l, "log time '%.19s' is not a valid date", l.line);
        } else {
            snprintf(reason, sizeof reason, "fail2ban %.*s",
                     (int)(fl.jail_len < 200 ? fl.jail_len : 200), fl.jail);
            ev.reason = reason;
            char jail[EVIDENCE_VALUE_MAX];
            snprintf(jail, sizeof jail, "%.*s",
                     (int)(fl.jail_len < sizeof jail - 1 ? fl.jail_len : sizeof jail - 1), fl.jail);
            struct evidence_ident ident = {.n = 1, .pair = {{"jail", jail}}};
            ev.ident = &ident;
            const char *parts[2] = {"fail2ban", l.line};
            uint8_t key[FEED_DEDUP_LEN];
            csv_dedup_strings(key, parts, 2);
            rc = csv_emit(&l, &ev, key);
        }
        csv_record_done(&l);
        if (rc != 0)
            break;
    }
    csv_lines_free(&l);
    return rc;
}

static int f2b_detect(const uint8_t *data, size_t len)
{
    struct feed_input in = {.name = "detect", .data = data, .len = len};
    struct csv_lines l;
    int good = 0, total = 0;
    csv_lines_init(&l, &in, NULL);
    while (total < 20 && l.lineno < 100 && csv_lines_next(&l) == 1) {
        if (csv_line_skippable(l.line))
            continue;
        struct f2b_line fl;
        total++;
        good += f2b_split(l.line, &fl);
    }
    csv_lines_free(&l);
    if (good == 0)
        return 0;
    return good * 2 >= total ? 95 : 40;
}

const struct feed_ops feed_ops_list = {
    .name = "list",
    .detect = list_detect,
    .parse = list_parse,
};

const struct feed_ops feed_ops_fail2ban = {
    .name = "fail2ban",
    .detect = f2b_detect,
    .parse = f2b_parse,
};
