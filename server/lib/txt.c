/* txt: one lexer for the "$" template grammar and what is built on it
 * (see txt.h), plus the zone template's placeholders. */
#include "txt.h"

#include <stdio.h>
#include <string.h>

/* The lexer, inline here for the renderer, which the packet path runs. */
static inline enum txt_token_kind txt_lex(const char **cursor, unsigned flags,
                                          struct txt_token *tok)
{
    const char *t = *cursor;

    tok->text = t;
    tok->var = -1;
    if (*t == '\0') {
        tok->len = 0;
        return tok->kind = TXT_TOKEN_END;
    }
    if (*t != '$') {
        const char *next = strchr(t, '$');
        tok->len = next ? (size_t)(next - t) : strlen(t);
        *cursor = t + tok->len;
        return tok->kind = TXT_TOKEN_TEXT;
    }
    if (t[1] == '$') {
        tok->len = 1; /* the text is the one "$" it stands for */
        *cursor = t + 2;
        return tok->kind = TXT_TOKEN_DOLLAR;
    }
    if (t[1] >= '0' && t[1] <= '9') {
        tok->len = 2;
        tok->var = t[1] - '0';
        *cursor = t + 2;
        return tok->kind = TXT_TOKEN_VAR;
    }
    if ((flags & TXT_RBLDNSD_DATA) && t[1] == '=') {
        tok->len = 2;
        *cursor = t + 2;
        return tok->kind = TXT_TOKEN_BASE;
    }
    tok->len = 1; /* the character after the "$" stays */
    *cursor = t + 1;
    return tok->kind = TXT_TOKEN_ADDR;
}

enum txt_token_kind txt_template_next(const char **cursor, unsigned flags, struct txt_token *tok)
{
    return txt_lex(cursor, flags, tok);
}

/* Append s to buf at *len, keeping room for the NUL; cuts silently. */
static void txt_append(char *buf, size_t cap, size_t *len, const char *s, size_t slen)
{
    size_t room = cap - 1 - *len;
    if (slen > room)
        slen = room;
    memcpy(buf + *len, s, slen);
    *len += slen;
}

void txt_template_render(const char *tpl, const char *addr, char *buf, size_t cap, size_t *len)
{
    struct txt_token tok;
    size_t n = 0, alen = strlen(addr);

    if (cap == 0) {
        *len = 0;
        return;
    }
    while (n < cap - 1 && txt_lex(&tpl, 0, &tok) != TXT_TOKEN_END) {
        if (tok.kind == TXT_TOKEN_ADDR)
            txt_append(buf, cap, &n, addr, alen);
        else
            txt_append(buf, cap, &n, tok.text, tok.len); /* text, "$", "$N" as written */
    }
    buf[n] = '\0';
    *len = n;
}

void txt_builder_init(struct txt_builder *b, char *buf, size_t cap)
{
    *b = (struct txt_builder){.buf = buf, .cap = cap};
    if (cap)
        buf[0] = '\0';
    else
        b->cut = true;
}

static void txt_builder_put(struct txt_builder *b, const char *s, size_t n)
{
    if (b->cut)
        return;
    if (b->len + n > b->cap - 1) {
        b->cut = true;
        return;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

void txt_builder_text(struct txt_builder *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        /* Read back, "$" then "$" or a digit would be "$$" or "$N". */
        if (b->after_addr && (s[i] == '$' || (s[i] >= '0' && s[i] <= '9')))
            b->ambiguous = true;
        if (s[i] == '$')
            txt_builder_put(b, "$$", 2);
        else
            txt_builder_put(b, s + i, 1);
        b->after_addr = false;
    }
}

void txt_builder_addr(struct txt_builder *b)
{
    txt_builder_put(b, "$", 1);
    b->after_addr = true;
}

void txt_builder_rendered(struct txt_builder *b, const char *s, size_t n, char mark)
{
    while (n > 0) {
        const char *m = memchr(s, mark, n);
        size_t run = m ? (size_t)(m - s) : n;
        txt_builder_text(b, s, run);
        if (!m)
            return;
        txt_builder_addr(b);
        s += run + 1;
        n -= run + 1;
    }
}

void txt_fields_render(const char *t, const struct txt_fields *f, char *buf, size_t cap,
                       size_t *len)
{
    char code[16] = "";
    size_t n = 0;
    uint32_t c = f->code;

    if (cap == 0) {
        *len = 0;
        return;
    }
    while (*t && n < cap - 1) {
        if (*t == '{') {
            const char *close = strchr(t, '}');
            const char *val = NULL;
            if (close) {
                size_t nl = (size_t)(close - t - 1);
                if (nl == 2 && memcmp(t + 1, "ip", 2) == 0)
                    val = f->ip;
                else if (nl == 4 && memcmp(t + 1, "zone", 4) == 0)
                    val = f->zone;
                else if (nl == 4 && memcmp(t + 1, "code", 4) == 0) {
                    /* Formatted only when asked for: snprintf costs more
                     * than the rest of a usual template. */
                    if (!code[0])
                        snprintf(code, sizeof code, "%u.%u.%u.%u", (unsigned)(c >> 24),
                                 (unsigned)(c >> 16 & 0xff), (unsigned)(c >> 8 & 0xff),
                                 (unsigned)(c & 0xff));
                    val = code;
                } else if (nl == 6 && memcmp(t + 1, "reason", 6) == 0)
                    val = f->reason;
            }
            if (val) {
                txt_append(buf, cap, &n, val, strlen(val));
                t = close + 1;
                continue;
            }
        }
        /* Literal text up to the next placeholder candidate, unknown ones included. */
        const char *next = strchr(t + 1, '{');
        size_t run = next ? (size_t)(next - t) : strlen(t);
        txt_append(buf, cap, &n, t, run);
        t += run;
    }
    buf[n] = '\0';
    *len = n;
}
