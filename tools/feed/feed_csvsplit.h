/* feed_csvsplit: what the line-based parsers (SNDS, CSV, traps, lists,
 * fail2ban) share: walking an input line by line, RFC 4180 field splitting,
 * times and numbers in their text forms, dedup keys over strings, and
 * handing events, rejects and warnings to the sink with the line's origin.
 * A struct csv_lines owns two buffers (csv_lines_free releases them); the
 * line text and the fields point into them and live until the next line. */
#ifndef DNSBL_FEED_CSVSPLIT_H
#define DNSBL_FEED_CSVSPLIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "feed.h"

struct csv_lines {
    const struct feed_input *in;
    struct feed_sink *sink; /* may be NULL (detect functions) */
    size_t pos;             /* offset of the next line in in->data */
    long lineno;            /* current line, 1-based */
    const char *raw;        /* current line in the input, without its line end */
    size_t raw_len;
    char *line;    /* current line as a C string (a NUL in the input ends it) */
    char *scratch; /* split fields */
    size_t cap;
};

void csv_lines_init(struct csv_lines *l, const struct feed_input *in, struct feed_sink *sink);
/* Next line (LF or CRLF ends it; a UTF-8 BOM before line 1 is skipped).
 * 1 = a line is ready, 0 = end of input, DNSBL_ENOMEM. */
int csv_lines_next(struct csv_lines *l);
void csv_lines_free(struct csv_lines *l);

/* Is the line blank or a comment (first non-blank character '#' or ';')? */
bool csv_line_skippable(const char *line);

/* Split the current line as RFC 4180 CSV into fields (NUL-terminated,
 * quotes removed, "" unescaped, not trimmed). Returns the number of fields
 * on the line, which may exceed max: only the first max are stored. */
size_t csv_lines_split(struct csv_lines *l, char **fields, size_t max);

/* Trim spaces and tabs on both sides, in place. */
char *csv_trim(char *s);
/* Lower-case ASCII in place. */
void csv_lower(char *s);

/* Unsigned decimal, digits only (plus ',' group separators when commas is
 * true). false if empty, not a number or beyond UINT64_MAX. */
bool csv_parse_u64(const char *s, bool commas, uint64_t *out);
/* Decimal with an optional fraction ("12", "0.5", ".5"), no sign, no
 * exponent, independent of the locale. */
bool csv_parse_decimal(const char *s, double *out);
/* Unix seconds (digits only) or RFC 3339. */
bool csv_parse_time(const char *s, int64_t *out);

/* SHA-256 over the strings, each with its terminating NUL so that
 * ("ab","c") and ("a","bc") differ. */
void csv_dedup_strings(uint8_t out[FEED_DEDUP_LEN], const char *const *strings, size_t n);

/* The sink calls for the current line. csv_emit returns the sink's answer
 * (non-zero = stop). csv_record_done reports one record read (progress). */
int csv_emit(struct csv_lines *l, const struct event *ev, const uint8_t *dedup);
void csv_reject(struct csv_lines *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void csv_warn(struct csv_lines *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void csv_record_done(struct csv_lines *l);

#endif
