/* txt: the TXT template grammar of listings (rbldnsd's, doc/formats.md 4.2),
 * read by one lexer (txt_template_next), expanded by txt_template_render
 * and written by txt_builder; and the zone template's {placeholders}.
 * No allocation: the caller owns every buffer. */
#ifndef DNSBL_TXT_H
#define DNSBL_TXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A stored template: "$$" is a "$"; "$" and a digit is kept as written (a
 * variable the importer did not define, left literal as rbldnsd does);
 * any other "$" is the queried address, the character after it kept.
 * rbldnsd data files also have "$=" (TXT_RBLDNSD_DATA), the text the base
 * template's "$=" stands for, which the importer replaces. */
enum txt_token_kind {
    TXT_TOKEN_END = 0,
    TXT_TOKEN_TEXT,   /* literal text: text[0..len), no "$" in it */
    TXT_TOKEN_DOLLAR, /* "$$": a literal "$" */
    TXT_TOKEN_VAR,    /* "$N": var = N; text[0..len) is the "$N" as written */
    TXT_TOKEN_BASE,   /* "$=" (TXT_RBLDNSD_DATA only) */
    TXT_TOKEN_ADDR,   /* "$": the queried address */
};

struct txt_token {
    enum txt_token_kind kind;
    const char *text;
    size_t len;
    int var;
};

#define TXT_RBLDNSD_DATA 1 /* txt_template_next flag: read "$=" as TXT_TOKEN_BASE */

/* The next token at *cursor, which moves past it; TXT_TOKEN_END at the
 * end of the string. */
enum txt_token_kind txt_template_next(const char **cursor, unsigned flags, struct txt_token *tok);

/* Expand a stored template with addr: at most cap-1 bytes plus NUL into
 * buf (cut silently), *len gets the length. */
void txt_template_render(const char *tpl, const char *addr, char *buf, size_t cap, size_t *len);

/* Writes a stored template into buf[cap]: literal text gets its "$"
 * doubled, the address is a "$". A piece that does not fit is left out
 * with everything after it (cut). ambiguous: a literal "$" or digit came
 * right after the address, which the grammar cannot express (it reads
 * "$$" or "$N"). */
struct txt_builder {
    char *buf;
    size_t cap;
    size_t len;
    bool cut;
    bool after_addr;
    bool ambiguous;
};
void txt_builder_init(struct txt_builder *b, char *buf, size_t cap);
void txt_builder_text(struct txt_builder *b, const char *s, size_t n);
void txt_builder_addr(struct txt_builder *b);
/* Text rendered with the byte mark where the address went, back into a
 * template: mark becomes the address, the rest literal text. */
void txt_builder_rendered(struct txt_builder *b, const char *s, size_t n, char mark);

/* A zone's template (config: txt): "{ip}", "{reason}", "{zone}" and
 * "{code}" (code as a dotted quad) are replaced, any other text (unknown
 * placeholders included) is kept. Writes like txt_template_render. */
struct txt_fields {
    const char *ip, *reason, *zone;
    uint32_t code;
};
void txt_fields_render(const char *tpl, const struct txt_fields *f, char *buf, size_t cap,
                       size_t *len);

#endif
