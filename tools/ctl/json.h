/* json: a small streaming JSON writer over a stdio stream, indented two
 * spaces per level. Strings are escaped per RFC 8259 and invalid UTF-8 is
 * replaced by U+FFFD, so the output is always valid JSON whatever the store
 * holds. The writer is a plain value; the caller owns it and the FILE. */
#ifndef DNSBL_JSON_H
#define DNSBL_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_DEPTH_MAX 16

struct json_writer {
    FILE *out;
    unsigned depth;
    bool has_items[JSON_DEPTH_MAX]; /* a comma is due before the next item at this level */
    bool after_key;                 /* the next value completes a "key": pair */
};

void json_init(struct json_writer *w, FILE *out);

void json_begin_object(struct json_writer *w);
void json_end_object(struct json_writer *w);
void json_begin_array(struct json_writer *w);
void json_end_array(struct json_writer *w);

/* Inside an object: the key of the next value. */
void json_key(struct json_writer *w, const char *key);

void json_string(struct json_writer *w, const char *s); /* NULL writes null */
void json_null(struct json_writer *w);
void json_bool(struct json_writer *w, bool v);
void json_int(struct json_writer *w, int64_t v);
void json_uint(struct json_writer *w, uint64_t v);
/* Six significant digits, enough for scores and rates; NaN and infinities
 * (which JSON cannot carry) are written as null. */
void json_double(struct json_writer *w, double v);

/* "key": value in one call. */
void json_member_string(struct json_writer *w, const char *key, const char *s);
void json_member_bool(struct json_writer *w, const char *key, bool v);
void json_member_int(struct json_writer *w, const char *key, int64_t v);
void json_member_uint(struct json_writer *w, const char *key, uint64_t v);
void json_member_double(struct json_writer *w, const char *key, double v);

/* Ends the document with a newline. */
void json_finish(struct json_writer *w);

#endif
