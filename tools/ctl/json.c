/* json: streaming writer. Values go straight to the stream, so listing a
 * store of any size needs no buffer; the only state is one "comma due" flag
 * per nesting level. */
#include "json.h"
#include "utf8.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

void json_init(struct json_writer *w, FILE *out)
{
    memset(w, 0, sizeof *w);
    w->out = out;
}

static void json_write_indent(struct json_writer *w)
{
    fputc('\n', w->out);
    for (unsigned i = 0; i < w->depth; i++)
        fputs("  ", w->out);
}

/* Separator and indentation before any value or key. */
static void json_begin_item(struct json_writer *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth == 0)
        return;
    if (w->has_items[w->depth - 1])
        fputc(',', w->out);
    w->has_items[w->depth - 1] = true;
    json_write_indent(w);
}

static void json_open(struct json_writer *w, char c)
{
    json_begin_item(w);
    fputc(c, w->out);
    /* Deeper nesting than JSON_DEPTH_MAX is a caller bug; the output stays
     * valid JSON, only the commas of the overflow levels are shared. */
    if (w->depth < JSON_DEPTH_MAX) {
        w->depth++;
        w->has_items[w->depth - 1] = false;
    }
}

static void json_close(struct json_writer *w, char c)
{
    if (w->depth == 0)
        return;
    bool had_items = w->has_items[w->depth - 1];
    w->depth--;
    if (had_items)
        json_write_indent(w);
    fputc(c, w->out);
}

void json_begin_object(struct json_writer *w)
{
    json_open(w, '{');
}

void json_end_object(struct json_writer *w)
{
    json_close(w, '}');
}

void json_begin_array(struct json_writer *w)
{
    json_open(w, '[');
}

void json_end_array(struct json_writer *w)
{
    json_close(w, ']');
}

static void json_write_escaped(FILE *out, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;

    fputc('"', out);
    while (*s) {
        unsigned char c = *s;
        size_t n = utf8_seq_len(s, 4); /* stops at the NUL, see utf8.h */
        if (n == 0) {
            fputs("\\ufffd", out);
            s++;
            continue;
        }
        if (n > 1) {
            fwrite(s, 1, n, out);
            s += n;
            continue;
        }
        s++;
        switch (c) {
        case '"':
            fputs("\\\"", out);
            break;
        case '\\':
            fputs("\\\\", out);
            break;
        case '\b':
            fputs("\\b", out);
            break;
        case '\f':
            fputs("\\f", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        case '\r':
            fputs("\\r", out);
            break;
        case '\t':
            fputs("\\t", out);
            break;
        default:
            if (c < 0x20 || c == 0x7f)
                fprintf(out, "\\u%04x", c);
            else
                fputc(c, out);
        }
    }
    fputc('"', out);
}

void json_key(struct json_writer *w, const char *key)
{
    json_begin_item(w);
    json_write_escaped(w->out, key);
    fputs(": ", w->out);
    w->after_key = true;
}

void json_string(struct json_writer *w, const char *s)
{
    if (!s) {
        json_null(w);
        return;
    }
    json_begin_item(w);
    json_write_escaped(w->out, s);
}

void json_null(struct json_writer *w)
{
    json_begin_item(w);
    fputs("null", w->out);
}

void json_bool(struct json_writer *w, bool v)
{
    json_begin_item(w);
    fputs(v ? "true" : "false", w->out);
}

void json_int(struct json_writer *w, int64_t v)
{
    json_begin_item(w);
    fprintf(w->out, "%" PRId64, v);
}

void json_uint(struct json_writer *w, uint64_t v)
{
    json_begin_item(w);
    fprintf(w->out, "%" PRIu64, v);
}

void json_double(struct json_writer *w, double v)
{
    if (!isfinite(v)) {
        json_null(w);
        return;
    }
    /* -0 would print as "-0", which reads as an oddity in a report. */
    if (v == 0)
        v = 0;
    json_begin_item(w);
    fprintf(w->out, "%.6g", v);
}

void json_member_string(struct json_writer *w, const char *key, const char *s)
{
    json_key(w, key);
    json_string(w, s);
}

void json_member_bool(struct json_writer *w, const char *key, bool v)
{
    json_key(w, key);
    json_bool(w, v);
}

void json_member_int(struct json_writer *w, const char *key, int64_t v)
{
    json_key(w, key);
    json_int(w, v);
}

void json_member_uint(struct json_writer *w, const char *key, uint64_t v)
{
    json_key(w, key);
    json_uint(w, v);
}

void json_member_double(struct json_writer *w, const char *key, double v)
{
    json_key(w, key);
    json_double(w, v);
}

void json_finish(struct json_writer *w)
{
    fputc('\n', w->out);
}
