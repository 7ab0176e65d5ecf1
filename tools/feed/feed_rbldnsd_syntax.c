/* feed_rbldnsd_syntax: the text of one rbldnsd line (doc/formats.md 4.1,
 * 4.2): keys (IPv4 prefixes, ranges and CIDRs, IPv6 prefixes), numbers,
 * times, $TIMESTAMP stamps and "A:TXT" values, parsed by hand as rbldnsd
 * itself does. Values are stored in the set they belong to (it owns them). */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "err.h"
#include "feed_rbldnsd_int.h"
#include "grow.h"

/* ---- small text helpers ---- */

/* The key as written, for messages: up to whitespace, at most 60 bytes. */
void rb_key_text(const char *key, char *out, size_t cap)
{
    size_t n = 0;
    while (key[n] && !rb_space(key[n]) && n < 60)
        n++;
    snprintf(out, cap, "%.*s%s", (int)n, key, key[n] && !rb_space(key[n]) ? "..." : "");
}

/* "soa", "ns", ...: the keyword in any case followed by whitespace; returns
 * the next word or NULL. */
char *rb_keyword(char *line, const char *kw)
{
    size_t n = strlen(kw);
    if (strncasecmp(line, kw, n) != 0 || !rb_space(line[n]))
        return NULL;
    return rb_skip_space(line + n);
}

/* ---- numbers and times (rbldnsd's parse_uint32 / parse_time) ---- */

static bool rb_token_end(char c)
{
    return c == '\0' || rb_space(c);
}

/* The decimal digits at s, at least one, up to UINT32_MAX; returns the
 * first byte after them or NULL. */
static char *rb_digits32(char *s, uint64_t *n)
{
    if (!isdigit((unsigned char)*s))
        return NULL;
    while (isdigit((unsigned char)*s)) {
        *n = *n * 10 + (uint64_t)(*s++ - '0');
        if (*n > UINT32_MAX)
            return NULL;
    }
    return s;
}

/* Decimal uint32 followed by whitespace or the end; returns the next word. */
char *rb_parse_u32(char *s, uint32_t *out)
{
    uint64_t n = 0;
    if (!(s = rb_digits32(s, &n)))
        return NULL;
    if (!rb_token_end(*s))
        return NULL;
    *out = (uint32_t)n;
    return rb_skip_space(s);
}

/* A time value: "3600", "30m", "1h", "2d", "1w". */
char *rb_parse_time(char *s, uint32_t *out)
{
    uint64_t n = 0, m = 1;
    if (!(s = rb_digits32(s, &n)))
        return NULL;
    switch (tolower((unsigned char)*s)) {
    case 'w':
        m = 7 * 86400;
        break;
    case 'd':
        m = 86400;
        break;
    case 'h':
        m = 3600;
        break;
    case 'm':
        m = 60;
        break;
    case 's':
        m = 1;
        break;
    default:
        m = 0;
        break;
    }
    if (m) {
        s++;
        n *= m;
        if (n > UINT32_MAX)
            return NULL;
    }
    if (!rb_token_end(*s))
        return NULL;
    *out = (uint32_t)n;
    return rb_skip_space(s);
}

/* One field of a $TIMESTAMP: at most `width` digits in [min, max], then an
 * optional ':' or '-'. */
static char *rb_stamp_field(char *s, unsigned *out, unsigned min, unsigned max, unsigned width)
{
    unsigned n = 0, w = 0;
    if (!isdigit((unsigned char)*s))
        return NULL;
    while (isdigit((unsigned char)*s) && w < width) {
        n = n * 10 + (unsigned)(*s++ - '0');
        w++;
    }
    if (n < min || n > max)
        return NULL;
    if (*s == ':' || *s == '-')
        s++;
    *out = n;
    return s;
}

/* "yyyy:mm:dd[:hh[:mi[:ss]]]" in UTC, or "0" / "-" / ":" for none. */
char *rb_parse_stamp(char *s, int64_t *out)
{
    if ((s[0] == '0' || s[0] == '-' || s[0] == ':') && rb_token_end(s[1])) {
        *out = 0;
        return rb_skip_space(s + 1);
    }
    static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned y, mo, d, h = 0, mi = 0, sec = 0;
    if (!(s = rb_stamp_field(s, &y, 1970, 9999, 4)) || !(s = rb_stamp_field(s, &mo, 1, 12, 2)) ||
        !(s = rb_stamp_field(s, &d, 1, mdays[mo - 1], 2)))
        return NULL;
    if (!rb_token_end(*s) && !(s = rb_stamp_field(s, &h, 0, 23, 2)))
        return NULL;
    if (!rb_token_end(*s) && !(s = rb_stamp_field(s, &mi, 0, 59, 2)))
        return NULL;
    if (!rb_token_end(*s) && !(s = rb_stamp_field(s, &sec, 0, 59, 2)))
        return NULL;
    if (!rb_token_end(*s))
        return NULL;
    struct tm tm = {.tm_year = (int)y - 1900,
                    .tm_mon = (int)mo - 1,
                    .tm_mday = (int)d,
                    .tm_hour = (int)h,
                    .tm_min = (int)mi,
                    .tm_sec = (int)sec};
    time_t t = timegm(&tm);
    if (tm.tm_mday != (int)d) /* 29 February of a common year */
        return NULL;
    *out = (int64_t)t;
    return rb_skip_space(s);
}

/* ---- IPv4 keys (rbldnsd's ip4prefix / ip4range / ip4cidr) ---- */

/* 1 to 4 dotted decimal octets: returns 8, 16, 24 or 32, -1 on error.
 * Short forms are prefixes: "192.0.2" is 192.0.2.0 with 24 bits. */
int rb_ip4prefix(const char *s, uint32_t *out, const char **end)
{
    uint32_t v = 0;
    int bits = 0;
    for (int i = 0; i < 4; i++) {
        if (!isdigit((unsigned char)*s)) {
            *end = s;
            return -1;
        }
        unsigned o = 0;
        while (isdigit((unsigned char)*s)) {
            o = o * 10 + (unsigned)(*s++ - '0');
            if (o > 255) {
                *end = s;
                return -1;
            }
        }
        v |= (uint32_t)o << (24 - 8 * i);
        bits += 8;
        if (*s != '.' || i == 3)
            break;
        s++;
    }
    *end = s;
    *out = v;
    return bits;
}

/* "/N" after a prefix: 0..32. */
static int rb_ip4bits(const char *s, const char **end)
{
    int bits = 0;
    if (!isdigit((unsigned char)*s)) {
        *end = s;
        return -1;
    }
    while (isdigit((unsigned char)*s)) {
        bits = bits * 10 + (*s++ - '0');
        if (bits > 32) {
            *end = s;
            return -1;
        }
    }
    *end = s;
    return bits;
}

/* A prefix or CIDR: returns the prefix length, -1 on error (*err says why). */
int rb_ip4cidr(const char *s, uint32_t *a, const char **end, enum rb_keyerr *err)
{
    *err = RB_KEY_SYNTAX;
    int bits = rb_ip4prefix(s, a, end);
    if (bits < 0)
        return -1;
    if (**end == '/')
        return rb_ip4bits(*end + 1, end);
    if (bits == 8) {
        *err = RB_KEY_BARE;
        return -1;
    }
    return bits;
}

/* A range, prefix or CIDR (ip4set): [*a, *b]; returns the prefix length
 * (32 for a range), -1 on error. A one-octet end replaces the last written
 * octet; a short end is filled with 255. */
int rb_ip4range(const char *s, uint32_t *a, uint32_t *b, const char **end, enum rb_keyerr *err)
{
    *err = RB_KEY_SYNTAX;
    int bits = rb_ip4prefix(s, a, end);
    if (bits < 0)
        return -1;
    if (**end != '-') {
        bits = rb_ip4cidr(s, a, end, err);
        if (bits >= 0)
            *b = *a | ~rb_mask4((unsigned)bits);
        return bits;
    }
    int bbits = rb_ip4prefix(*end + 1, b, end);
    if (bbits < 0)
        return -1;
    if (bbits == 8) {
        *b = (*b >> (bits - 8)) | (*a & rb_mask4((unsigned)bits - 8));
        bbits = bits;
    } else if (bbits != bits) {
        *err = RB_KEY_FORMS;
        return -1;
    }
    *b |= ~rb_mask4((unsigned)bbits);
    if (*a > *b) {
        *err = RB_KEY_ORDER;
        return -1;
    }
    return 32;
}

void rb_warn_key4(struct rb_parser *p, const char *key, enum rb_keyerr err, bool ranges)
{
    char k[72];
    rb_key_text(key, k, sizeof(k));
    switch (err) {
    case RB_KEY_BARE:
        rb_warn(p, "'%s' is a bare number: write %s/8 or a longer prefix; line skipped", k, k);
        break;
    case RB_KEY_ORDER:
        rb_warn(p, "range '%s' starts after its end; line skipped", k);
        break;
    case RB_KEY_FORMS:
        rb_warn(p,
                "range '%s': both ends need the same number of octets (or a one-octet end); "
                "line skipped",
                k);
        break;
    default:
        if (!ranges && strchr(k, '-'))
            rb_warn(p, "'%s': ranges (a-b) are only valid in ip4set; line skipped", k);
        else
            rb_warn(p, "'%s' is not an IPv4 %s; line skipped", k,
                    ranges ? "address, prefix, CIDR or range" : "address, prefix or CIDR");
        break;
    }
}

/* ---- IPv6 keys (rbldnsd's ip6prefix / ip6cidr) ---- */

/* Groups of up to 4 hex digits: N groups without "::" are 16*N bits; any
 * "::" form is 128 bits. Returns the bits, -1 on error. */
int rb_ip6prefix(const char *s, uint8_t a[16], const char **end)
{
    unsigned bytes = 0;
    int zstart = -1, ret = -1;
    memset(a, 0, 16);
    if (s[0] == ':' && s[1] == ':') {
        zstart = 0;
        s += 2;
    }
    for (;;) {
        unsigned v = 0;
        const char *ss = s;
        while (isxdigit((unsigned char)*s)) {
            char c = (char)tolower((unsigned char)*s);
            v = (v << 4) | (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10);
            if (v > 0xffff)
                break;
            s++;
        }
        if (ss == s || v > 0xffff)
            break;
        a[bytes++] = (uint8_t)(v >> 8);
        a[bytes++] = (uint8_t)v;
        if (*s != ':' || bytes + 2 > 16) {
            ret = (int)bytes * 8;
            break;
        }
        s++;
        if (zstart < 0 && *s == ':') {
            zstart = (int)bytes;
            s++;
        }
    }
    if (zstart >= 0) {
        unsigned nzeros = 16 - bytes;
        if (nzeros == 0) {
            ret = -1;
        } else {
            memmove(a + zstart + nzeros, a + zstart, bytes - (unsigned)zstart);
            memset(a + zstart, 0, nzeros);
            ret = 128;
        }
    }
    *end = s;
    return ret;
}

int rb_ip6cidr(const char *s, uint8_t a[16], const char **end, enum rb_keyerr *err)
{
    *err = RB_KEY_SYNTAX;
    int bits = rb_ip6prefix(s, a, end);
    if (bits >= 0 && **end == '/') {
        const char *t = *end + 1;
        if (!isdigit((unsigned char)*t))
            return -1;
        bits = 0;
        while (isdigit((unsigned char)*t)) {
            bits = bits * 10 + (*t++ - '0');
            if (bits > 128)
                return -1;
        }
        *end = t;
    } else if (bits == 16) {
        *err = RB_KEY_BARE;
        return -1;
    }
    return bits;
}

bool rb_ip6_host_bits(const uint8_t a[16], unsigned bits)
{
    for (unsigned i = 0; i < 16; i++) {
        unsigned keep = bits >= 8 * (i + 1) ? 8 : bits > 8 * i ? bits - 8 * i : 0;
        uint8_t host = keep == 8 ? 0 : (uint8_t)(0xffu >> keep);
        if (a[i] & host)
            return true;
    }
    return false;
}

/* ---- the "@ key=value" tail of rspamd's rbldnsd (doc/formats.md 4.5) ---- */

void rb_strip_rspamd_tail(struct rb_parser *p, char *s)
{
    for (char *at = strchr(s, '@'); at; at = strchr(at + 1, '@')) {
        if ((at != s && !rb_space(at[-1])) || !rb_space(at[1]))
            continue;
        char *params = rb_skip_space(at + 1);
        if (strncmp(params, "delay=", 6) != 0 && strncmp(params, "ts=", 3) != 0 &&
            strncmp(params, "key=", 4) != 0)
            continue;
        rb_warn(p, "rspamd entry parameters '@ %s' are not supported; stripped, entry imported",
                params);
        char *e = at;
        while (e > s && rb_space(e[-1]))
            e--;
        *e = '\0';
        return;
    }
}

/* ---- values (rbldnsd's parse_a_txt, doc/formats.md 4.2) ---- */

/* ":127.0.0.3" or ":3" (127.0.0.3): the inet_aton-style forms rbldnsd takes. */
static int rb_parse_a(const char *s, uint32_t *out, const char **end)
{
    uint32_t v;
    int bits = rb_ip4prefix(s, &v, end);
    switch (bits) {
    case 8:
        v >>= 24;
        break;
    case 16:
        v = (v & 0xff000000u) | ((v >> 16) & 255);
        break;
    case 24:
        v = (v & 0xffff0000u) | ((v >> 8) & 255);
        break;
    default:
        break;
    }
    if (bits < 0 || v == 0)
        return -1;
    if (bits == 8)
        v |= 0x7f000000u;
    *out = v;
    return 0;
}

int rb_value_add(struct rb_set *set, uint32_t a, const char *txt, size_t txtlen,
                 const struct rb_parser *p, int32_t *idx)
{
    if (set->nvals >= INT32_MAX || grow_array((void **)&set->vals, &set->capvals, set->nvals + 1,
                                              sizeof(*set->vals), RB_FIRST))
        return DNSBL_ENOMEM;
    struct rb_value *v = &set->vals[set->nvals];
    memset(v, 0, sizeof(*v));
    v->a = a;
    v->txt = strndup(txt, txtlen);
    if (!v->txt)
        return DNSBL_ENOMEM;
    if (p && p->lineno) {
        v->line = p->lineno;
        v->raw_off = (size_t)(p->raw - (const char *)p->in->data);
        v->raw_len = p->rawlen;
    }
    *idx = (int32_t)set->nvals++;
    return DNSBL_OK;
}

/* Parse a value that is not empty and not a comment, taking the missing A
 * or TXT from def. Returns 0 with *idx set, 1 if the line was warned about
 * and skipped, or a negative error. */
static int rb_parse_value(struct rb_parser *p, struct rb_set *set, char *s, int32_t def,
                          int32_t *idx)
{
    uint32_t a = set->vals[def].a;
    const char *txt = s;
    if (*s == ':') {
        const char *e;
        if (rb_parse_a(s + 1, &a, &e) != 0) {
            char k[72];
            rb_key_text(s, k, sizeof(k));
            rb_warn(p, "invalid A value '%s' (write :127.0.0.N or :N, not zero); line skipped", k);
            return 1;
        }
        e = rb_skip_space((char *)e);
        if (*e == ':') {
            txt = rb_skip_space((char *)e + 1);
        } else if (*e) {
            rb_warn(p, "unrecognised value '%s' (expected :A:TXT, :A, :A: or TXT); line skipped",
                    s);
            return 1;
        } else {
            txt = set->vals[def].txt; /* ":A" keeps the default TXT */
            return rb_value_add(set, a, txt, strlen(txt), p, idx);
        }
    }
    size_t len = strlen(txt);
    if (len > RB_TXT_MAX) {
        rb_warn(p, "TXT longer than %d bytes (%zu); cut to %d", RB_TXT_MAX, len, RB_TXT_MAX);
        len = RB_TXT_MAX;
    }
    return rb_value_add(set, a, txt, len, p, idx);
}

/* A ":A:TXT" default line: applies to the entries after it (ip4set, the
 * tries) or to the whole set (the trivial sets, first line only). */
int rb_default_line(struct rb_parser *p, struct rb_set *set, char *s)
{
    if (set->type->first_default_only && set->def_seen) {
        rb_warn(p, "%s takes only its first default line; this one is ignored", set->type->name);
        return DNSBL_OK;
    }
    int32_t idx;
    int rc = rb_parse_value(p, set, s, 0, &idx); /* a default line builds on the built-in one */
    if (rc != DNSBL_OK)
        return rc < 0 ? rc : DNSBL_OK;
    set->def = idx;
    set->def_seen = true;
    return DNSBL_OK;
}

/* The value of an entry line: the text after the key. */
int rb_entry_value(struct rb_parser *p, struct rb_set *set, char *rest, int32_t *idx)
{
    rest = rb_skip_space(rest);
    if (!*rest || rb_comment(*rest)) {
        *idx = set->def;
        return DNSBL_OK;
    }
    return rb_parse_value(p, set, rest, set->def, idx);
}

bool rb_values_equal(const struct rb_set *set, int32_t x, int32_t y)
{
    if (x == y)
        return true;
    if (x < 0 || y < 0)
        return false;
    return set->vals[x].a == set->vals[y].a && strcmp(set->vals[x].txt, set->vals[y].txt) == 0;
}
