/* feed_csvsplit: line walking and RFC 4180 splitting for the line-based
 * parsers. A field never spans lines: none of the feeds we read puts a line
 * break inside a quoted field, and a stray quote must cost one row, not
 * swallow the rest of the file. An unterminated quote runs to the line end. */
#include "feed_csvsplit.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "timeutil.h"

void csv_lines_init(struct csv_lines *l, const struct feed_input *in, struct feed_sink *sink)
{
    memset(l, 0, sizeof *l);
    l->in = in;
    l->sink = sink;
    if (in->len >= 3 && memcmp(in->data, "\xef\xbb\xbf", 3) == 0)
        l->pos = 3;
}

void csv_lines_free(struct csv_lines *l)
{
    free(l->line);
    free(l->scratch);
    l->line = l->scratch = NULL;
    l->cap = 0;
}

int csv_lines_next(struct csv_lines *l)
{
    const struct feed_input *in = l->in;
    if (l->pos >= in->len)
        return 0;
    const uint8_t *start = in->data + l->pos;
    size_t left = in->len - l->pos;
    const uint8_t *nl = memchr(start, '\n', left);
    size_t len = nl ? (size_t)(nl - start) : left;
    l->pos += nl ? len + 1 : len;
    if (len > 0 && start[len - 1] == '\r')
        len--;
    if (len + 1 > l->cap) {
        size_t cap = len + 1 < 256 ? 256 : len + 1;
        char *line = realloc(l->line, cap);
        if (!line)
            return DNSBL_ENOMEM;
        l->line = line;
        char *scratch = realloc(l->scratch, cap);
        if (!scratch)
            return DNSBL_ENOMEM;
        l->scratch = scratch;
        l->cap = cap;
    }
    memcpy(l->line, start, len);
    l->line[len] = '\0';
    l->raw = (const char *)start;
    l->raw_len = len;
    l->lineno++;
    return 1;
}

bool csv_line_skippable(const char *line)
{
    while (*line == ' ' || *line == '\t')
        line++;
    return *line == '\0' || *line == '#' || *line == ';';
}

/* The output never outgrows the line: every input byte gives at most one
 * output byte and every separator is replaced by the field's NUL. */
size_t csv_lines_split(struct csv_lines *l, char **fields, size_t max)
{
    const char *p = l->line;
    char *out = l->scratch;
    size_t n = 0;
    for (;;) {
        char *start = out;
        const char *q = p;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q == '"') {
            p = q + 1;
            while (*p) {
                if (*p == '"') {
                    if (p[1] != '"') {
                        p++;
                        break;
                    }
                    p++;
                }
                *out++ = *p++;
            }
        }
        while (*p && *p != ',')
            *out++ = *p++;
        *out++ = '\0';
        if (n < max)
            fields[n] = start;
        n++;
        if (*p != ',')
            return n;
        p++;
    }
}

char *csv_trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    s[n] = '\0';
    return s;
}

void csv_lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

bool csv_parse_u64(const char *s, bool commas, uint64_t *out)
{
    uint64_t v = 0;
    bool digit = false;
    for (; *s; s++) {
        if (commas && *s == ',' && digit)
            continue;
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
        digit = true;
    }
    if (!digit)
        return false;
    *out = v;
    return true;
}

bool csv_parse_decimal(const char *s, double *out)
{
    double v = 0, scale = 1;
    bool digit = false, frac = false;
    for (; *s; s++) {
        if (*s == '.' && !frac) {
            frac = true;
            continue;
        }
        if (*s < '0' || *s > '9')
            return false;
        if (frac) {
            scale /= 10;
            v += (*s - '0') * scale;
        } else {
            v = v * 10 + (*s - '0');
        }
        digit = true;
    }
    if (!digit || v > 1e300)
        return false;
    *out = v;
    return true;
}

bool csv_parse_time(const char *s, int64_t *out)
{
    uint64_t u;
    if (csv_parse_u64(s, false, &u)) {
        if (u > (uint64_t)INT64_MAX)
            return false;
        *out = (int64_t)u;
        return true;
    }
    if (time_parse_rfc3339(s, out) == DNSBL_OK)
        return true;
    /* A time without a zone ("2025-06-01 10:00:00", as spreadsheets and
     * databases write it) is read as UTC (doc/formats.md 5): with a "Z"
     * added it parses exactly when it had a time and no offset. */
    char zoned[64];
    size_t n = strlen(s);
    if (n < 10 || n + 2 > sizeof zoned)
        return false;
    memcpy(zoned, s, n);
    memcpy(zoned + n, "Z", 2);
    return time_parse_rfc3339(zoned, out) == DNSBL_OK;
}

void csv_dedup_strings(uint8_t out[FEED_DEDUP_LEN], const char *const *strings, size_t n)
{
    const void *parts[8];
    size_t lens[8];
    if (n > 8)
        n = 8;
    for (size_t i = 0; i < n; i++) {
        parts[i] = strings[i];
        lens[i] = strlen(strings[i]) + 1;
    }
    feed_dedup_key(out, parts, lens, n);
}

int csv_emit(struct csv_lines *l, const struct event *ev, const uint8_t *dedup)
{
    if (!l->sink || !l->sink->event)
        return 0;
    return l->sink->event(l->sink->arg, ev, dedup);
}

static void csv_report(struct csv_lines *l, bool reject, const char *fmt, va_list ap)
{
    if (!l->sink)
        return;
    void (*fn)(void *, const struct feed_origin *, const char *) =
        reject ? l->sink->reject : l->sink->warn;
    if (!fn)
        return;
    char why[512];
    vsnprintf(why, sizeof why, fmt, ap);
    struct feed_origin o = {.file = l->in->name ? l->in->name : "-",
                            .line = l->lineno,
                            .raw = l->raw,
                            .raw_len = l->raw_len};
    fn(l->sink->arg, &o, why);
}

void csv_reject(struct csv_lines *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    csv_report(l, true, fmt, ap);
    va_end(ap);
}

void csv_warn(struct csv_lines *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    csv_report(l, false, fmt, ap);
    va_end(ap);
}

void csv_record_done(struct csv_lines *l)
{
    if (l->sink && l->sink->progress)
        l->sink->progress(l->sink->arg, l->pos);
}
