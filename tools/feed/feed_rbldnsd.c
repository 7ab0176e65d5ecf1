/* feed_rbldnsd: rbldnsd dataset files (doc/formats.md section 4) into imported
 * list events. One pass reads every line; each dataset (the file, or each
 * $DATASET section of a combined file) collects its entries in a table
 * keyed by prefix, so that duplicates and ip4set's per-block rules are
 * resolved within the file. Only at the end, when $TTL, $n and $= are known
 * for good (rbldnsd applies them at query time, wherever they stand in the
 * file), does every entry become one event, its TXT template already
 * substituted except for "$" (the queried address) and "$$" (a dollar).
 * The key and value syntax is rbldnsd's own, so it is parsed here by hand;
 * domain names and the apex records go through ldns.
 *
 * Longer than most modules (about 1,800 lines) because the rbldnsd format
 * is one grammar with per-type variants: splitting it would spread one
 * line syntax over several files. */
#include "feed_rbldnsd.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <ldns/ldns.h>

#include "addr.h"
#include "err.h"
#include "grow.h"
#include "model.h"
#include "timeutil.h"
#include "txt.h"

#define RB_TXT_MAX 255 /* rbldnsd keeps at most 255 bytes of TXT */
#define RB_TEMPLATE_MAX (MODEL_TEXT_MAX - 1)
#define RB_NVARS 11 /* $0..$9, then the base template $= */
#define RB_VAR_BASE 10
#define RB_NS_MAX 32             /* rbldnsd serves at most 32 NS names */
#define RB_NAME_MAX 256          /* a domain name in text, with its NUL */
#define RB_DATASET_MAX 64        /* sizeof entry.imp_dataset */
#define RB_DEFAULT_A 0x7f000002u /* A value without any default line */
#define RB_DEFAULT_ZONE_TTL 3600 /* apex TTL when the data gives 0 */
#define RB_WHY_MAX 512
#define RB_FIRST 16 /* first room of a parser array */
#define RB_AHEAD 16 /* trie lines read ahead of their table lookup (see rb_trie_add) */

#define RB_VAL_EXCLUDED (-1) /* item value: an exclusion */
#define RB_VAL_SETDEF (-2)   /* item value: the set's one default (ip4tset, ip6tset) */

struct rb_parser;
struct rb_set;

enum rb_role {
    RB_IMPORT,   /* list data we import */
    RB_COMBINED, /* sections of other types */
    RB_SKIP,     /* not list data (ACLs, apex records): skipped with a notice */
    RB_DOMAIN,   /* domain-name data: rejected, dnsbld lists addresses only */
};

/* One dataset type: how its entry lines read (doc/formats.md 4.4). */
struct rb_dstype {
    const char *name;
    uint8_t role;
    bool first_default_only; /* the trivial sets: only the first ":" line counts */
    int (*line)(struct rb_parser *p, struct rb_set *set, char *s);
};

/* An A value and its raw TXT text as written (before substitution). */
struct rb_value {
    uint32_t a;
    char *txt;      /* "" when the entry gives no TXT */
    char *resolved; /* template after substitution; NULL = no TXT record */
    bool done;      /* resolved is computed */
    long line;      /* where it was written, for warnings; 0 = built in */
    size_t raw_off, raw_len;
};

/* One prefix of a dataset: listed with a value, or excluded. */
struct rb_item {
    struct addr_prefix prefix;
    int32_t val; /* index into values, RB_VAL_EXCLUDED or RB_VAL_SETDEF */
    long line;
};

/* One dataset: the whole file, or one $DATASET section. */
struct rb_set {
    const struct rb_dstype *type;
    bool skip;                     /* unsupported section: lines are swallowed */
    char (*zones)[RB_DATASET_MAX]; /* data set names the entries go to */
    size_t nzones, capzones;
    uint32_t ttl;          /* $TTL, 0 = the zone's */
    char *vars[RB_NVARS];  /* $0..$9 and $= (first assignment wins) */
    struct rb_value *vals; /* vals[0] is the built-in default */
    size_t nvals, capvals;
    int32_t def;   /* the current default value */
    bool def_seen; /* a default line was accepted */
    struct rb_item *items;
    size_t nitems, capitems;
    uint64_t *slots; /* open-addressing index: hash high half << 32 | item + 1, 0 = free */
    size_t nslots;
    bool cut_warned;         /* template length warning given once */
    struct rb_value base_at; /* where $= was set, for warnings about built-in values */
};

struct rb_soa {
    bool valid;
    uint32_t ttl;
    char mname[RB_NAME_MAX], rname[RB_NAME_MAX];
    uint32_t serial, refresh, retry, expire, minimum;
};

/* A trie line read, its lookup in the prefix table still to come. */
struct rb_pending {
    struct rb_set *set;
    struct addr_prefix k;
    int32_t val;
    long lineno;
    const char *raw;
    size_t rawlen;
};

struct rb_parser {
    const struct feed_input *in;
    const struct feed_options *opt;
    struct feed_sink *sink; /* NULL while only the apex is read: nothing is reported */
    const char *source;
    const struct rb_dstype *top;
    char base[RB_DATASET_MAX]; /* the zone, normalised; "" if none was given */
    /* trie lines whose table lookup is pending, oldest first */
    struct rb_pending ahead[RB_AHEAD];
    size_t ahead_first, ahead_n;
    bool draining;
    int ahead_err; /* the first error of a deferred lookup */
    /* the line being read */
    long lineno;
    const char *raw;
    size_t rawlen;
    char *buf;
    size_t bufcap;
    /* datasets */
    struct rb_set **sets;
    size_t nsets, capsets;
    struct rb_set *cur;      /* where entry lines go; NULL in a combined common part */
    bool in_section;         /* combined: a $DATASET line was read */
    char *vars[RB_NVARS];    /* combined common part: $n inherited by sections */
    struct rb_value base_at; /* where the common part set $= */
    uint32_t ttl;            /* combined common part: $TTL inherited by sections */
    bool ttl_given;          /* a top-level $TTL was read (apex TTL default) */
    uint64_t maxrange4;      /* 0 = no limit */
    int64_t stamp, expires;
    long stamp_line;
    size_t stamp_off, stamp_len;
    /* the apex */
    struct rb_soa soa;
    char soa_err[RB_WHY_MAX];
    char (*ns)[RB_NAME_MAX];
    size_t nns;
    bool ns_seen;
    uint32_t ns_ttl;
};

static int rb_line_ip4set(struct rb_parser *p, struct rb_set *set, char *s);
static int rb_line_ip4tset(struct rb_parser *p, struct rb_set *set, char *s);
static int rb_line_ip4trie(struct rb_parser *p, struct rb_set *set, char *s);
static int rb_line_ip6trie(struct rb_parser *p, struct rb_set *set, char *s);
static int rb_line_ip6tset(struct rb_parser *p, struct rb_set *set, char *s);

static const struct rb_dstype rb_types[] = {
    {"ip4set", RB_IMPORT, false, rb_line_ip4set},
    {"ip4tset", RB_IMPORT, true, rb_line_ip4tset},
    {"ip4trie", RB_IMPORT, false, rb_line_ip4trie},
    {"ip6trie", RB_IMPORT, false, rb_line_ip6trie},
    {"ip6tset", RB_IMPORT, true, rb_line_ip6tset},
    {"combined", RB_COMBINED, false, NULL},
    {"dnset", RB_DOMAIN, false, NULL},
    {"dnhash", RB_DOMAIN, false, NULL},
    {"acl", RB_SKIP, false, NULL},
    {"aclkey", RB_SKIP, false, NULL},
    {"generic", RB_SKIP, false, NULL},
};

static const struct rb_dstype *rb_type_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof(rb_types) / sizeof(rb_types[0]); i++)
        if (strcasecmp(name, rb_types[i].name) == 0)
            return &rb_types[i];
    return NULL;
}

/* ---- small text helpers ---- */

/* rbldnsd's whitespace, plus the CR of CRLF files. */
static bool rb_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static bool rb_comment(char c)
{
    return c == '#' || c == ';';
}

static char *rb_skip_space(char *s)
{
    while (rb_space(*s))
        s++;
    return s;
}

/* After a key only these may follow (doc/formats.md 4.1). */
static bool rb_key_end_ok(char c)
{
    return c == '\0' || rb_space(c) || rb_comment(c) || c == ':';
}

/* The key as written, for messages: up to whitespace, at most 60 bytes. */
static void rb_key_text(const char *key, char *out, size_t cap)
{
    size_t n = 0;
    while (key[n] && !rb_space(key[n]) && n < 60)
        n++;
    snprintf(out, cap, "%.*s%s", (int)n, key, key[n] && !rb_space(key[n]) ? "..." : "");
}

/* "soa", "ns", ...: the keyword in any case followed by whitespace; returns
 * the next word or NULL. */
static char *rb_keyword(char *line, const char *kw)
{
    size_t n = strlen(kw);
    if (strncasecmp(line, kw, n) != 0 || !rb_space(line[n]))
        return NULL;
    return rb_skip_space(line + n);
}

/* ---- reporting ---- */

static void rb_trie_drain(struct rb_parser *p);

static void rb_report(struct rb_parser *p, bool reject, long line, const char *raw, size_t rawlen,
                      const char *why)
{
    /* The lines read ahead come first, so that reports keep line order. */
    if (p->ahead_n && !p->draining)
        rb_trie_drain(p);
    if (!p->sink)
        return;
    struct feed_origin o = {
        .file = p->in->name, .line = line, .message_id = NULL, .raw = raw, .raw_len = rawlen};
    if (reject && p->sink->reject)
        p->sink->reject(p->sink->arg, &o, why);
    else if (!reject && p->sink->warn)
        p->sink->warn(p->sink->arg, &o, why);
}

/* A warning about the line being read. */
__attribute__((format(printf, 2, 3))) static void rb_warn(struct rb_parser *p, const char *fmt, ...)
{
    if (!p->sink)
        return;
    char why[RB_WHY_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    rb_report(p, false, p->lineno, p->raw, p->rawlen, why);
}

/* A warning about an earlier line (found when the data set is complete). */
__attribute__((format(printf, 3, 4))) static void
rb_warn_value(struct rb_parser *p, const struct rb_value *v, const char *fmt, ...)
{
    if (!p->sink)
        return;
    char why[RB_WHY_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    const char *raw = v->line ? (const char *)p->in->data + v->raw_off : NULL;
    rb_report(p, false, v->line, raw, v->line ? v->raw_len : 0, why);
}

/* The whole file is refused: raw is the file, for the reject directory. */
__attribute__((format(printf, 2, 3))) static void rb_reject_file(struct rb_parser *p,
                                                                 const char *fmt, ...)
{
    char why[RB_WHY_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    rb_report(p, true, 0, (const char *)p->in->data, p->in->len, why);
}

/* ---- numbers and times (rbldnsd's parse_uint32 / parse_time) ---- */

static bool rb_token_end(char c)
{
    return c == '\0' || rb_space(c);
}

/* Decimal uint32 followed by whitespace or the end; returns the next word. */
static char *rb_parse_u32(char *s, uint32_t *out)
{
    uint64_t n = 0;
    if (!isdigit((unsigned char)*s))
        return NULL;
    while (isdigit((unsigned char)*s)) {
        n = n * 10 + (uint64_t)(*s++ - '0');
        if (n > UINT32_MAX)
            return NULL;
    }
    if (!rb_token_end(*s))
        return NULL;
    *out = (uint32_t)n;
    return rb_skip_space(s);
}

/* A time value: "3600", "30m", "1h", "2d", "1w". */
static char *rb_parse_time(char *s, uint32_t *out)
{
    uint64_t n = 0, m = 1;
    if (!isdigit((unsigned char)*s))
        return NULL;
    while (isdigit((unsigned char)*s)) {
        n = n * 10 + (uint64_t)(*s++ - '0');
        if (n > UINT32_MAX)
            return NULL;
    }
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
static char *rb_parse_stamp(char *s, int64_t *out)
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

enum rb_keyerr {
    RB_KEY_SYNTAX,
    RB_KEY_BARE,  /* "203": a bare number */
    RB_KEY_ORDER, /* range start after its end */
    RB_KEY_FORMS, /* range sides of different lengths */
};

static uint32_t rb_mask4(unsigned bits)
{
    return bits == 0 ? 0 : 0xffffffffu << (32 - bits);
}

/* 1 to 4 dotted decimal octets: returns 8, 16, 24 or 32, -1 on error.
 * Short forms are prefixes: "192.0.2" is 192.0.2.0 with 24 bits. */
static int rb_ip4prefix(const char *s, uint32_t *out, const char **end)
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
static int rb_ip4cidr(const char *s, uint32_t *a, const char **end, enum rb_keyerr *err)
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
static int rb_ip4range(const char *s, uint32_t *a, uint32_t *b, const char **end,
                       enum rb_keyerr *err)
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

static void rb_warn_key4(struct rb_parser *p, const char *key, enum rb_keyerr err, bool ranges)
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
static int rb_ip6prefix(const char *s, uint8_t a[16], const char **end)
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

static int rb_ip6cidr(const char *s, uint8_t a[16], const char **end, enum rb_keyerr *err)
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

static bool rb_ip6_host_bits(const uint8_t a[16], unsigned bits)
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

static void rb_strip_rspamd_tail(struct rb_parser *p, char *s)
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

static int rb_value_add(struct rb_set *set, uint32_t a, const char *txt, size_t txtlen,
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
static int rb_default_line(struct rb_parser *p, struct rb_set *set, char *s)
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
static int rb_entry_value(struct rb_parser *p, struct rb_set *set, char *rest, int32_t *idx)
{
    rest = rb_skip_space(rest);
    if (!*rest || rb_comment(*rest)) {
        *idx = set->def;
        return DNSBL_OK;
    }
    return rb_parse_value(p, set, rest, set->def, idx);
}

static bool rb_values_equal(const struct rb_set *set, int32_t x, int32_t y)
{
    if (x == y)
        return true;
    if (x < 0 || y < 0)
        return false;
    return set->vals[x].a == set->vals[y].a && strcmp(set->vals[x].txt, set->vals[y].txt) == 0;
}

/* ---- the per-set prefix table ---- */

/* A multiply-xorshift mix of the prefix's 18 bytes: a byte-at-a-time
 * hash was a fifth of a big import's parse time. */
static uint64_t rb_hash(const struct addr_prefix *k)
{
    uint64_t w0, w1;
    memcpy(&w0, k->a, 8);
    memcpy(&w1, k->a + 8, 8);
    uint64_t h = w0 ^ (w1 * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)k->family << 8 | k->plen);
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    h ^= h >> 32;
    return h;
}

static bool rb_same(const struct addr_prefix *x, const struct addr_prefix *y)
{
    return x->family == y->family && x->plen == y->plen && memcmp(x->a, y->a, 16) == 0;
}

/* The slot's tag: the hash's high half, compared before the item is read,
 * so a probe past another prefix costs no visit to the (big, cold) item
 * array. */
static uint64_t rb_slot_tag(uint64_t h)
{
    return h & 0xffffffff00000000ull;
}

static struct rb_item *rb_find(struct rb_set *set, const struct addr_prefix *k)
{
    if (!set->nslots)
        return NULL;
    uint64_t h = rb_hash(k), tag = rb_slot_tag(h);
    size_t mask = set->nslots - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        uint64_t slot = set->slots[i];
        if (!slot)
            return NULL;
        if ((slot & 0xffffffff00000000ull) != tag)
            continue;
        struct rb_item *it = &set->items[(uint32_t)slot - 1];
        if (rb_same(&it->prefix, k))
            return it;
    }
}

static void rb_slot_put(uint64_t *slots, size_t nslots, const struct addr_prefix *k, uint32_t v)
{
    uint64_t h = rb_hash(k);
    size_t mask = nslots - 1;
    size_t i = h & mask;
    while (slots[i])
        i = (i + 1) & mask;
    slots[i] = rb_slot_tag(h) | v;
}

/* Append an item the table does not hold yet. */
static int rb_insert(struct rb_set *set, const struct addr_prefix *k, int32_t val, long line)
{
    if (set->nitems >= UINT32_MAX - 1 || grow_array((void **)&set->items, &set->capitems,
                                                    set->nitems + 1, sizeof(*set->items), RB_FIRST))
        return DNSBL_ENOMEM;
    if ((set->nitems + 1) * 2 > set->nslots) {
        size_t n = set->nslots ? set->nslots * 2 : 64;
        uint64_t *slots = calloc(n, sizeof(*slots));
        if (!slots)
            return DNSBL_ENOMEM;
        for (size_t i = 0; i < set->nitems; i++)
            rb_slot_put(slots, n, &set->items[i].prefix, (uint32_t)i + 1);
        free(set->slots);
        set->slots = slots;
        set->nslots = n;
    }
    set->items[set->nitems] = (struct rb_item){.prefix = *k, .val = val, .line = line};
    set->nitems++;
    rb_slot_put(set->slots, set->nslots, k, (uint32_t)set->nitems);
    return DNSBL_OK;
}

/* ---- ip4set: octet-aligned blocks, exclusion beats listing per block ---- */

struct rb_clash {
    size_t count;
    struct addr_prefix first;
    long first_line;
};

static int rb_ip4set_block(struct rb_parser *p, struct rb_set *set, uint32_t addr, unsigned plen,
                           int32_t val, struct rb_clash *clash)
{
    uint8_t b[4] = {(uint8_t)(addr >> 24), (uint8_t)(addr >> 16), (uint8_t)(addr >> 8),
                    (uint8_t)addr};
    struct addr_prefix k;
    addr_from_bytes(&k, ADDR_V4, b, plen);
    struct rb_item *it = rb_find(set, &k);
    if (!it)
        return rb_insert(set, &k, val, p->lineno);
    if (val == RB_VAL_EXCLUDED) {
        it->val = RB_VAL_EXCLUDED;
        it->line = p->lineno;
    } else if (it->val != RB_VAL_EXCLUDED && !rb_values_equal(set, it->val, val)) {
        if (clash->count++ == 0) {
            clash->first = k;
            clash->first_line = it->line;
        }
    }
    return DNSBL_OK;
}

/* count blocks of 2^shift addresses from start (in units of 2^shift). */
static int rb_ip4set_run(struct rb_parser *p, struct rb_set *set, uint32_t start, uint64_t count,
                         unsigned shift, int32_t val, struct rb_clash *clash)
{
    for (uint64_t i = 0; i < count; i++) {
        int rc = rb_ip4set_block(p, set, (uint32_t)((start + i) << shift), 32 - shift, val, clash);
        if (rc)
            return rc;
    }
    return DNSBL_OK;
}

/* [a, b] as the fewest /32, /24, /16 and /8 blocks, the way rbldnsd stores
 * an ip4set entry: partial octets at each end, whole ones one level up. */
static int rb_ip4set_expand(struct rb_parser *p, struct rb_set *set, uint64_t a, uint64_t b,
                            int32_t val, struct rb_clash *clash)
{
    int rc;
    for (unsigned shift = 0; shift < 24; shift += 8) {
        if (a > b)
            return DNSBL_OK;
        if ((a | 255u) >= b) {
            if (b - a == 255u)
                return rb_ip4set_run(p, set, (uint32_t)(a >> 8), 1, shift + 8, val, clash);
            return rb_ip4set_run(p, set, (uint32_t)a, b - a + 1, shift, val, clash);
        }
        if (a & 255u) {
            if ((rc = rb_ip4set_run(p, set, (uint32_t)a, 256u - (a & 255u), shift, val, clash)))
                return rc;
            a = (a >> 8) + 1;
        } else {
            a >>= 8;
        }
        if ((b & 255u) != 255u) {
            if ((rc = rb_ip4set_run(p, set, (uint32_t)(b & ~(uint64_t)255u), (b & 255u) + 1, shift,
                                    val, clash)))
                return rc;
            if ((b >> 8) == 0)
                return DNSBL_OK;
            b = (b >> 8) - 1;
        } else {
            b >>= 8;
        }
    }
    return a > b ? DNSBL_OK : rb_ip4set_run(p, set, (uint32_t)a, b - a + 1, 24, val, clash);
}

static bool rb_maxrange_ok(struct rb_parser *p, uint64_t size, const char *key)
{
    if (!p->maxrange4 || size <= p->maxrange4)
        return true;
    char k[72];
    rb_key_text(key, k, sizeof(k));
    rb_warn(p, "'%s' covers %llu addresses, more than $MAXRANGE4 (%llu); line skipped", k,
            (unsigned long long)size, (unsigned long long)p->maxrange4);
    return false;
}

static void rb_warn_host_bits(struct rb_parser *p, const char *key, const struct addr_prefix *k)
{
    char kt[72], fixed[ADDR_TEXT_MAX];
    rb_key_text(key, kt, sizeof(kt));
    addr_format(k, fixed, sizeof(fixed));
    rb_warn(p, "'%s' has host bits set (did you mean %s?); line skipped", kt, fixed);
}

static int rb_line_ip4set(struct rb_parser *p, struct rb_set *set, char *s)
{
    if (*s == ':')
        return rb_default_line(p, set, s);
    bool excl = *s == '!';
    if (excl)
        s = rb_skip_space(s + 1);
    const char *key = s, *end;
    uint32_t a, b;
    enum rb_keyerr err;
    int bits = rb_ip4range(s, &a, &b, &end, &err);
    if (bits < 0 || !rb_key_end_ok(*end)) {
        rb_warn_key4(p, key, err, true);
        return DNSBL_OK;
    }
    if (a & ~rb_mask4((unsigned)bits)) {
        uint8_t o[4] = {(uint8_t)(a >> 24), (uint8_t)(a >> 16), (uint8_t)(a >> 8), (uint8_t)a};
        struct addr_prefix k;
        addr_from_bytes(&k, ADDR_V4, o, (unsigned)bits);
        rb_warn_host_bits(p, key, &k);
        return DNSBL_OK;
    }
    if (!rb_maxrange_ok(p, (uint64_t)b - a + 1, key))
        return DNSBL_OK;
    int32_t val = RB_VAL_EXCLUDED;
    if (!excl) {
        int rc = rb_entry_value(p, set, (char *)end, &val);
        if (rc)
            return rc < 0 ? rc : DNSBL_OK;
    }
    struct rb_clash clash = {0};
    int rc = rb_ip4set_expand(p, set, a, b, val, &clash);
    if (rc == DNSBL_OK && clash.count) {
        char first[ADDR_TEXT_MAX];
        addr_format(&clash.first, first, sizeof(first));
        rb_warn(p,
                "%zu block(s) of this entry, first %s, are already listed with another value "
                "(line %ld); rbldnsd would answer with both records, only the first is kept",
                clash.count, first, clash.first_line);
    }
    return rc;
}

/* ---- the tries: longest prefix decides, duplicates keep the first ---- */

/* The table lookup of a line read earlier, reported as that line. */
static int rb_trie_apply(struct rb_parser *p, const struct rb_pending *e)
{
    long lineno = p->lineno;
    const char *raw = p->raw;
    size_t rawlen = p->rawlen;
    p->lineno = e->lineno;
    p->raw = e->raw;
    p->rawlen = e->rawlen;
    int rc = DNSBL_OK;
    const struct rb_item *it = rb_find(e->set, &e->k);
    if (it) {
        char t[ADDR_TEXT_MAX];
        addr_format(&e->k, t, sizeof(t));
        rb_warn(p, "%s is already given on line %ld; the first one is kept", t, it->line);
    } else {
        rc = rb_insert(e->set, &e->k, e->val, e->lineno);
    }
    p->lineno = lineno;
    p->raw = raw;
    p->rawlen = rawlen;
    return rc;
}

static int rb_trie_pop(struct rb_parser *p)
{
    struct rb_pending e = p->ahead[p->ahead_first];
    p->ahead_first = (p->ahead_first + 1) % RB_AHEAD;
    p->ahead_n--;
    int rc = rb_trie_apply(p, &e);
    if (rc && !p->ahead_err)
        p->ahead_err = rc;
    return rc;
}

/* Every pending lookup, in line order; an error is kept in ahead_err. */
static void rb_trie_drain(struct rb_parser *p)
{
    p->draining = true;
    while (p->ahead_n)
        rb_trie_pop(p);
    p->draining = false;
}

/* A trie line's prefix goes to the table RB_AHEAD lines later: its slot
 * is fetched from memory now, while the lines between are parsed. In a
 * 10M-line file the table is far bigger than the caches, and a lookup
 * waiting on its slot was a seventh of the import's time. */
static int rb_trie_add(struct rb_parser *p, struct rb_set *set, const struct addr_prefix *k,
                       int32_t val)
{
    if (p->ahead_n == RB_AHEAD) {
        p->draining = true;
        rb_trie_pop(p);
        p->draining = false;
    }
    if (set->nslots)
        __builtin_prefetch(&set->slots[rb_hash(k) & (set->nslots - 1)]);
    p->ahead[(p->ahead_first + p->ahead_n) % RB_AHEAD] = (struct rb_pending){
        .set = set, .k = *k, .val = val, .lineno = p->lineno, .raw = p->raw, .rawlen = p->rawlen};
    p->ahead_n++;
    return p->ahead_err;
}

static int rb_line_ip4trie(struct rb_parser *p, struct rb_set *set, char *s)
{
    if (*s == ':')
        return rb_default_line(p, set, s);
    bool excl = *s == '!';
    if (excl)
        s = rb_skip_space(s + 1);
    const char *key = s, *end;
    uint32_t a;
    enum rb_keyerr err;
    int bits = rb_ip4cidr(s, &a, &end, &err);
    if (bits < 0 || !rb_key_end_ok(*end)) {
        rb_warn_key4(p, key, err, false);
        return DNSBL_OK;
    }
    uint8_t o[4] = {(uint8_t)(a >> 24), (uint8_t)(a >> 16), (uint8_t)(a >> 8), (uint8_t)a};
    struct addr_prefix k;
    addr_from_bytes(&k, ADDR_V4, o, (unsigned)bits);
    if (a & ~rb_mask4((unsigned)bits)) {
        rb_warn_host_bits(p, key, &k);
        return DNSBL_OK;
    }
    if (!rb_maxrange_ok(p, (uint64_t)1 << (32 - bits), key))
        return DNSBL_OK;
    rb_strip_rspamd_tail(p, (char *)end);
    int32_t val = RB_VAL_EXCLUDED;
    if (!excl) {
        int rc = rb_entry_value(p, set, (char *)end, &val);
        if (rc)
            return rc < 0 ? rc : DNSBL_OK;
    }
    return rb_trie_add(p, set, &k, val);
}

static int rb_line_ip6trie(struct rb_parser *p, struct rb_set *set, char *s)
{
    if (s[0] == ':' && s[1] != ':') /* "::1" is an address, not a default line */
        return rb_default_line(p, set, s);
    bool excl = *s == '!';
    if (excl)
        s = rb_skip_space(s + 1);
    const char *key = s, *end;
    uint8_t a[16];
    enum rb_keyerr err;
    int bits = rb_ip6cidr(s, a, &end, &err);
    char k[72];
    if (bits < 0 || !rb_key_end_ok(*end)) {
        rb_key_text(key, k, sizeof(k));
        if (err == RB_KEY_BARE)
            rb_warn(p, "'%s' is a bare number: write %s/16 or more groups; line skipped", k, k);
        else
            rb_warn(p, "'%s' is not an IPv6 address, prefix or CIDR; line skipped", k);
        return DNSBL_OK;
    }
    struct addr_prefix pfx;
    addr_from_bytes(&pfx, ADDR_V6, a, (unsigned)bits);
    if (rb_ip6_host_bits(a, (unsigned)bits)) {
        rb_warn_host_bits(p, key, &pfx);
        return DNSBL_OK;
    }
    rb_strip_rspamd_tail(p, (char *)end);
    int32_t val = RB_VAL_EXCLUDED;
    if (!excl) {
        int rc = rb_entry_value(p, set, (char *)end, &val);
        if (rc)
            return rc < 0 ? rc : DNSBL_OK;
    }
    return rb_trie_add(p, set, &pfx, val);
}

/* ---- the trivial sets: fixed sizes, one default, duplicates merge ---- */

static int rb_tset_add(struct rb_parser *p, struct rb_set *set, const struct addr_prefix *k,
                       int32_t val)
{
    return rb_find(set, k) ? DNSBL_OK : rb_insert(set, k, val, p->lineno);
}

static int rb_line_ip4tset(struct rb_parser *p, struct rb_set *set, char *s)
{
    if (*s == ':')
        return rb_default_line(p, set, s);
    const char *end;
    uint32_t a;
    if (rb_ip4prefix(s, &a, &end) != 32 || !rb_key_end_ok(*end)) {
        char k[72];
        rb_key_text(s, k, sizeof(k));
        rb_warn(p,
                "'%s': ip4tset entries are single IPv4 addresses (a.b.c.d), without prefixes, "
                "ranges or exclusions; line skipped",
                k);
        return DNSBL_OK;
    }
    uint8_t o[4] = {(uint8_t)(a >> 24), (uint8_t)(a >> 16), (uint8_t)(a >> 8), (uint8_t)a};
    struct addr_prefix k;
    addr_from_bytes(&k, ADDR_V4, o, 32);
    return rb_tset_add(p, set, &k, RB_VAL_SETDEF); /* text after the address is ignored */
}

static int rb_line_ip6tset(struct rb_parser *p, struct rb_set *set, char *s)
{
    if (*s == ':')
        return rb_default_line(p, set, s);
    bool excl = *s == '!';
    if (excl)
        s = rb_skip_space(s + 1);
    const char *key = s, *end;
    uint8_t a[16];
    int bits = rb_ip6prefix(s, a, &end);
    char k[72];
    rb_key_text(key, k, sizeof(k));
    if (bits < 0 || !rb_key_end_ok(*end)) {
        rb_warn(p, "'%s' is not an IPv6 address or prefix; line skipped", k);
        return DNSBL_OK;
    }
    if (bits != (excl ? 128 : 64)) {
        if (excl)
            rb_warn(p, "'%s': ip6tset exclusions are single addresses (/128); line skipped", k);
        else
            rb_warn(p,
                    "'%s': ip6tset entries are /64 prefixes written as four groups "
                    "(2001:db8:aa:1); line skipped",
                    k);
        return DNSBL_OK;
    }
    struct addr_prefix pfx;
    addr_from_bytes(&pfx, ADDR_V6, a, (unsigned)bits);
    return rb_tset_add(p, set, &pfx, excl ? RB_VAL_EXCLUDED : RB_VAL_SETDEF);
}

/* ---- data sets ---- */

static void rb_set_free(struct rb_set *set)
{
    if (!set)
        return;
    free(set->zones);
    for (int i = 0; i < RB_NVARS; i++)
        free(set->vars[i]);
    for (size_t i = 0; i < set->nvals; i++) {
        free(set->vals[i].txt);
        free(set->vals[i].resolved);
    }
    free(set->vals);
    free(set->items);
    free(set->slots);
    free(set);
}

/* A new set of type t inheriting the common part's $TTL and $n. */
static int rb_set_new(struct rb_parser *p, const struct rb_dstype *t, struct rb_set **out)
{
    struct rb_set *set = calloc(1, sizeof(*set));
    if (!set)
        return DNSBL_ENOMEM;
    set->type = t;
    set->ttl = p->ttl;
    set->base_at = p->base_at;
    int32_t idx;
    int rc = rb_value_add(set, RB_DEFAULT_A, "", 0, NULL, &idx);
    for (int i = 0; rc == DNSBL_OK && i < RB_NVARS; i++)
        if (p->vars[i] && !(set->vars[i] = strdup(p->vars[i])))
            rc = DNSBL_ENOMEM;
    if (rc == DNSBL_OK)
        rc = grow_array((void **)&p->sets, &p->capsets, p->nsets + 1, sizeof(*p->sets), RB_FIRST);
    if (rc != DNSBL_OK) {
        rb_set_free(set);
        return rc;
    }
    p->sets[p->nsets++] = set;
    *out = set;
    return DNSBL_OK;
}

static int rb_set_add_zone(struct rb_set *set, const char *name)
{
    if (grow_array((void **)&set->zones, &set->capzones, set->nzones + 1, sizeof(*set->zones),
                   RB_FIRST))
        return DNSBL_ENOMEM;
    snprintf(set->zones[set->nzones++], RB_DATASET_MAX, "%s", name);
    return DNSBL_OK;
}

/* Lower case, no trailing dot; false if it is not a host-style name. */
static bool rb_name_normalise(const char *in, char *out, size_t cap)
{
    size_t n = strlen(in);
    if (n && in[n - 1] == '.')
        n--;
    if (n == 0 || n >= cap)
        return false;
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        char c = (char)tolower((unsigned char)in[i]);
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if (isalnum((unsigned char)c) || c == '-' || c == '_') {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
        out[i] = c;
    }
    out[n] = '\0';
    return true;
}

/* ---- special lines (doc/formats.md 4.1) ---- */

static char **rb_vars(struct rb_parser *p)
{
    return p->cur ? p->cur->vars : p->vars;
}

/* A domain name token of $SOA / $NS: cut at whitespace, checked by ldns. */
static char *rb_parse_dname(char *s, char *out)
{
    char *e = s;
    while (*e && !rb_space(*e))
        e++;
    size_t n = (size_t)(e - s);
    if (n == 0 || n >= RB_NAME_MAX - 1)
        return NULL;
    memcpy(out, s, n);
    out[n] = '\0';
    ldns_rdf *d = ldns_dname_new_frm_str(out);
    if (!d)
        return NULL;
    ldns_rdf_deep_free(d);
    if (n > 1 && out[n - 1] == '.')
        out[n - 1] = '\0';
    return rb_skip_space(e);
}

static void rb_directive_soa(struct rb_parser *p, char *w)
{
    struct rb_soa soa = {0};
    uint32_t *num[] = {&soa.refresh, &soa.retry, &soa.expire, &soa.minimum};
    bool ok = (w = rb_parse_time(w, &soa.ttl)) && (w = rb_parse_dname(w, soa.mname)) &&
              (w = rb_parse_dname(w, soa.rname)) && (w = rb_parse_u32(w, &soa.serial));
    for (int i = 0; ok && i < 4; i++)
        ok = (w = rb_parse_time(w, num[i])) != NULL;
    if (!ok || *w) {
        const char *text = "invalid $SOA line: expected '$SOA ttl origin-dn person-dn serial "
                           "refresh retry expire minttl'";
        if (!p->soa_err[0])
            snprintf(p->soa_err, sizeof(p->soa_err), "line %ld: %s", p->lineno, text);
        rb_warn(p, "%s; line skipped", text);
        return;
    }
    if (p->soa.valid) {
        rb_warn(p, "only the first $SOA line counts; this one is ignored");
        return;
    }
    if (soa.ttl == 0)
        soa.ttl = p->ttl_given && p->ttl ? p->ttl : RB_DEFAULT_ZONE_TTL;
    soa.valid = true;
    p->soa = soa;
}

static void rb_directive_ns(struct rb_parser *p, char *w)
{
    uint32_t ttl;
    char name[RB_NAME_MAX];
    char(*names)[RB_NAME_MAX] = NULL;
    size_t n = 0, cap = 0;
    bool ok = (w = rb_parse_time(w, &ttl)) != NULL && *w;
    while (ok && *w) {
        if (*w == '-') { /* a disabled name */
            while (*w && !rb_space(*w))
                w++;
            w = rb_skip_space(w);
            continue;
        }
        if (!(w = rb_parse_dname(w, name))) {
            ok = false;
            break;
        }
        if (n == RB_NS_MAX) {
            rb_warn(p, "more than %d names in $NS; the rest are ignored", RB_NS_MAX);
            break;
        }
        if (grow_array((void **)&names, &cap, n + 1, sizeof(*names), RB_FIRST)) {
            ok = false;
            break;
        }
        memcpy(names[n++], name, sizeof(name));
    }
    if (!ok) {
        free(names);
        rb_warn(p, "invalid $NS line: expected '$NS ttl name...'; line skipped");
        return;
    }
    if (p->ns_seen) {
        free(names);
        rb_warn(p, "only the first $NS line counts; this one is ignored");
        return;
    }
    p->ns_seen = true;
    p->ns = names;
    p->nns = n;
    p->ns_ttl = ttl ? ttl : p->ttl_given && p->ttl ? p->ttl : RB_DEFAULT_ZONE_TTL;
}

static void rb_directive_maxrange(struct rb_parser *p, char *w)
{
    bool cidr = *w == '/';
    uint32_t r;
    if (!(w = rb_parse_u32(w + cidr, &r)) || *w || r == 0 || (cidr && r > 32)) {
        rb_warn(p, "invalid $MAXRANGE4 line: expected '$MAXRANGE4 /N' or a count; line skipped");
        return;
    }
    uint64_t size = cidr ? (uint64_t)1 << (32 - r) : r;
    if (p->maxrange4 && p->maxrange4 < size)
        rb_warn(p, "$MAXRANGE4 can only shrink: %llu stays, %llu ignored",
                (unsigned long long)p->maxrange4, (unsigned long long)size);
    else
        p->maxrange4 = size;
}

static void rb_directive_timestamp(struct rb_parser *p, char *w)
{
    int64_t stamp, expires = 0;
    bool ok = (w = rb_parse_stamp(w, &stamp)) != NULL;
    if (ok && *w == '+') {
        uint32_t rel;
        ok = (w = rb_parse_time(w + 1, &rel)) && !*w && stamp && rel;
        expires = stamp + rel;
    } else if (ok && *w) {
        ok = (w = rb_parse_stamp(w, &expires)) && !*w;
    }
    if (!ok) {
        rb_warn(p, "invalid $TIMESTAMP line: expected '$TIMESTAMP yyyy:mm:dd[:hh[:mi[:ss]]] "
                   "[expires]'; line skipped");
        return;
    }
    if (stamp > p->stamp)
        p->stamp = stamp;
    p->stamp_line = p->lineno;
    p->stamp_off = (size_t)(p->raw - (const char *)p->in->data);
    p->stamp_len = p->rawlen;
    if (expires && (!p->expires || expires < p->expires))
        p->expires = expires;
}

static int rb_directive_dataset(struct rb_parser *p, char *w)
{
    if (p->top->role != RB_COMBINED) {
        rb_warn(p, "$DATASET is only valid in a combined dataset; line skipped");
        return DNSBL_OK;
    }
    p->in_section = true;
    if (!p->sink) /* reading the apex only */
        return DNSBL_OK;
    for (char *c = w; *c; c++) /* a comment only after whitespace */
        if (rb_comment(*c) && (c == w || rb_space(c[-1]))) {
            *c = '\0';
            break;
        }
    char *save = NULL, *tok = strtok_r(w, " \t\r", &save);
    char *label = tok ? strchr(tok, ':') : NULL;
    if (label)
        *label++ = '\0';
    const struct rb_dstype *t = rb_type_find(tok);
    struct rb_set *set;
    int rc = rb_set_new(p, t ? t : &rb_types[0], &set);
    if (rc)
        return rc;
    p->cur = set;
    set->skip = true;
    if (!t) {
        rb_warn(p, "unknown dataset type '%s' in $DATASET; section skipped", tok ? tok : "");
        return DNSBL_OK;
    }
    switch (t->role) {
    case RB_COMBINED:
        rb_warn(p, "a combined dataset cannot be nested; section skipped");
        return DNSBL_OK;
    case RB_SKIP:
        rb_warn(p, "%s section%s%s skipped: it is not list data", t->name, label ? " " : "",
                label ? label : "");
        return DNSBL_OK;
    case RB_DOMAIN:
        rb_report(p, true, p->lineno, p->raw, p->rawlen,
                  "domain datasets are not supported (dnsbld lists IP addresses); "
                  "section skipped");
        return DNSBL_OK;
    default:
        break;
    }
    set->skip = false;
    bool any = false;
    while ((tok = strtok_r(NULL, " \t\r", &save))) {
        any = true;
        char sub[RB_DATASET_MAX], full[RB_DATASET_MAX * 2 + 2];
        if (strcmp(tok, "@") == 0) {
            snprintf(full, sizeof(full), "%s", p->base);
        } else if (!rb_name_normalise(tok, sub, sizeof(sub))) {
            rb_warn(p, "invalid subzone name '%.60s'; skipped", tok);
            continue;
        } else {
            snprintf(full, sizeof(full), "%s.%s", sub, p->base);
        }
        if (strlen(full) >= RB_DATASET_MAX) {
            rb_warn(p, "zone name %.80s is longer than %d characters; subzone skipped", full,
                    RB_DATASET_MAX - 1);
            continue;
        }
        if ((rc = rb_set_add_zone(set, full)))
            return rc;
    }
    if (!any)
        rb_warn(p, "no subzone given in $DATASET; the data of this section is ignored");
    return DNSBL_OK;
}

static int rb_directive(struct rb_parser *p, char *w)
{
    char *arg;
    if ((arg = rb_keyword(w, "soa"))) {
        rb_directive_soa(p, arg);
    } else if ((arg = rb_keyword(w, "ns")) || (arg = rb_keyword(w, "nameserver"))) {
        rb_directive_ns(p, arg);
    } else if ((arg = rb_keyword(w, "ttl"))) {
        uint32_t ttl;
        if (!(arg = rb_parse_time(arg, &ttl)) || *arg) {
            rb_warn(p, "invalid $TTL line: expected '$TTL time'; line skipped");
        } else if (p->in_section) { /* a combined section's own */
            if (p->cur)
                p->cur->ttl = ttl;
        } else { /* the file's, or the common part's that sections inherit */
            p->ttl = ttl;
            p->ttl_given = true;
            if (p->cur)
                p->cur->ttl = ttl;
        }
    } else if ((arg = rb_keyword(w, "maxrange4"))) {
        rb_directive_maxrange(p, arg);
    } else if ((isdigit((unsigned char)w[0]) || w[0] == '=') && rb_space(w[1])) {
        int n = w[0] == '=' ? RB_VAR_BASE : w[0] - '0';
        char **vars = rb_vars(p);
        arg = rb_skip_space(w + 1);
        if (!*arg)
            rb_warn(p, "$%c needs a value; line skipped", w[0]);
        else if (vars[n])
            rb_warn(p, "$%c is already set (the first assignment counts); line ignored", w[0]);
        else if (!(vars[n] = strdup(arg)))
            return DNSBL_ENOMEM;
        else if (n == RB_VAR_BASE)
            *(p->cur ? &p->cur->base_at : &p->base_at) =
                (struct rb_value){.line = p->lineno,
                                  .raw_off = (size_t)(p->raw - (const char *)p->in->data),
                                  .raw_len = p->rawlen};
    } else if ((arg = rb_keyword(w, "dataset"))) {
        return rb_directive_dataset(p, arg);
    } else if ((arg = rb_keyword(w, "timestamp"))) {
        rb_directive_timestamp(p, arg);
    } else {
        char k[72];
        rb_key_text(w, k, sizeof(k));
        rb_warn(p, "unrecognised special line '$%s'; line skipped", k);
    }
    return DNSBL_OK;
}

/* ---- the line loop ---- */

static int rb_line(struct rb_parser *p, char *s)
{
    s = rb_skip_space(s);
    char *e = s + strlen(s);
    while (e > s && rb_space(e[-1]))
        *--e = '\0';
    if (!*s)
        return DNSBL_OK;
    if (s[0] == '$')
        return rb_directive(p, s + 1);
    if ((rb_comment(s[0]) || s[0] == ':') && s[1] == '$')
        return rb_directive(p, s + 2);
    if (rb_comment(s[0]) || !p->sink)
        return DNSBL_OK;
    if (!p->cur) {
        rb_warn(p, "entry outside any $DATASET section of a combined dataset; line skipped");
        return DNSBL_OK;
    }
    if (p->cur->skip)
        return DNSBL_OK;
    return p->cur->type->line(p, p->cur, s);
}

static int rb_scan(struct rb_parser *p)
{
    const char *data = (const char *)p->in->data;
    size_t len = p->in->len, pos = 0;
    if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
        pos = 3;
    while (pos < len) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (data + pos)) : len - pos;
        if (grow_array((void **)&p->buf, &p->bufcap, n + 1, 1, RB_FIRST))
            return DNSBL_ENOMEM;
        memcpy(p->buf, data + pos, n);
        p->buf[n] = '\0'; /* an embedded NUL ends the line, as in rbldnsd */
        p->lineno++;
        p->raw = data + pos;
        p->rawlen = n && data[pos + n - 1] == '\r' ? n - 1 : n; /* CRLF ends the line */
        int rc = rb_line(p, p->buf);
        if (rc)
            return rc;
        pos += n + (nl ? 1 : 0);
        if (p->sink && p->sink->progress)
            p->sink->progress(p->sink->arg, pos);
    }
    rb_trie_drain(p);
    p->lineno = 0;
    return p->ahead_err;
}

/* ---- TXT substitution at import time (rbldnsd's txtsubst) ---- */

/* $n and $= are final only now: rbldnsd substitutes when answering, with
 * whatever the file set anywhere. "$" stays for the server: the result is
 * a stored template (txt.h). */
static const char *rb_resolve(struct rb_parser *p, struct rb_set *set, struct rb_value *v)
{
    if (v->done)
        return v->resolved;
    v->done = true;
    const char *txt = v->txt, *sx = NULL; /* sx: what "$=" stands for; NULL = the address */
    const char *base = set->vars[RB_VAR_BASE];
    if (txt[0] == '=') {
        sx = ++txt;
    } else if (base && *base) {
        sx = *txt ? txt : NULL;
        txt = base;
    } else {
        sx = txt;
    }
    char buf[RB_TEMPLATE_MAX + 1];
    struct txt_builder t;
    struct txt_token tok;
    txt_builder_init(&t, buf, sizeof buf);
    while (txt_template_next(&txt, TXT_RBLDNSD_DATA, &tok) != TXT_TOKEN_END) {
        switch (tok.kind) {
        case TXT_TOKEN_VAR: {
            const char *var = set->vars[tok.var];
            /* undefined: kept as "$n" */
            txt_builder_text(&t, var ? var : tok.text, var ? strlen(var) : tok.len);
            break;
        }
        case TXT_TOKEN_BASE:
            if (sx)
                txt_builder_text(&t, sx, strlen(sx));
            else
                txt_builder_addr(&t);
            break;
        case TXT_TOKEN_ADDR:
            txt_builder_addr(&t);
            break;
        default: /* text, and "$$" as the one "$" it stands for */
            txt_builder_text(&t, tok.text, tok.len);
            break;
        }
    }
    const struct rb_value *at = v->line ? v : &set->base_at; /* built in: blame $= */
    if (t.cut && !set->cut_warned) {
        set->cut_warned = true;
        rb_warn_value(p, at, "TXT longer than %d bytes after $n/$= substitution; cut",
                      RB_TEMPLATE_MAX);
    }
    if (t.ambiguous)
        rb_warn_value(p, at,
                      "TXT has a literal '$' or digit right after the address, which the "
                      "server's template cannot express; that TXT will differ from rbldnsd's");
    if (t.len == 0)
        return NULL; /* rbldnsd sends no TXT record for empty text */
    v->resolved = strdup(buf);
    return v->resolved; /* NULL when out of memory: the entry goes without TXT */
}

/* ---- events ---- */

static int rb_set_emit(struct rb_parser *p, struct rb_set *set)
{
    char reason[64];
    snprintf(reason, sizeof(reason), "rbldnsd %s", set->type->name);
    for (size_t z = 0; z < set->nzones; z++) {
        const char *dataset = set->zones[z][0] ? set->zones[z] : NULL;
        for (size_t i = 0; i < set->nitems; i++) {
            const struct rb_item *it = &set->items[i];
            struct event ev = {.prefix = it->prefix,
                               .time = p->opt->file_mtime,
                               .source = p->source,
                               .dataset = dataset};
            if (it->val == RB_VAL_EXCLUDED) {
                ev.kind = EV_IMPORT_EXCLUDE;
            } else {
                struct rb_value *v = &set->vals[it->val == RB_VAL_SETDEF ? set->def : it->val];
                ev.kind = EV_IMPORT_LIST;
                ev.code = v->a;
                ev.ttl = set->ttl;
                ev.txt = rb_resolve(p, set, v);
                ev.reason = ev.txt ? ev.txt : reason;
            }
            int rc = p->sink->event(p->sink->arg, &ev, NULL);
            if (rc)
                return rc;
        }
    }
    return DNSBL_OK;
}

static void rb_parser_free(struct rb_parser *p)
{
    for (size_t i = 0; i < p->nsets; i++)
        rb_set_free(p->sets[i]);
    free(p->sets);
    for (int i = 0; i < RB_NVARS; i++)
        free(p->vars[i]);
    free(p->ns);
    free(p->buf);
}

/* The data's $TIMESTAMP, checked as rbldnsd does when it loads; false if
 * the file is refused. */
static bool rb_check_stamp(struct rb_parser *p)
{
    int64_t now = p->opt->now;
    char t[40];
    if (now > 0 && p->stamp > now) {
        time_format_rfc3339(p->stamp, t, sizeof(t));
        rb_reject_file(p,
                       "data timestamp %s (line %ld) is in the future; rbldnsd refuses to "
                       "load such data",
                       t, p->stamp_line);
        return false;
    }
    if (p->expires && now > 0 && p->expires <= now) {
        time_format_rfc3339(p->expires, t, sizeof(t));
        rb_reject_file(p, "data expired at %s ($TIMESTAMP); rbldnsd no longer serves it", t);
        return false;
    }
    if (p->expires) {
        time_format_rfc3339(p->expires, t, sizeof(t));
        rb_warn_value(p,
                      &(struct rb_value){
                          .line = p->stamp_line, .raw_off = p->stamp_off, .raw_len = p->stamp_len},
                      "the data expires at %s; imported entries stay until the next import", t);
    }
    return true;
}

static int rb_detect(const uint8_t *data, size_t len)
{
    (void)data;
    (void)len;
    return 0; /* the types share one syntax: the type comes from the command line */
}

static int rb_parser_init(struct rb_parser *p, const struct feed_input *in,
                          const struct feed_options *opt, struct feed_sink *sink,
                          const struct rb_dstype *t)
{
    memset(p, 0, sizeof(*p));
    p->in = in;
    p->opt = opt;
    p->sink = sink;
    p->top = t;
    p->source = opt->source && *opt->source ? opt->source : "rbldnsd";
    if (opt->zone && *opt->zone && !rb_name_normalise(opt->zone, p->base, sizeof(p->base)))
        return DNSBL_EINVAL;
    return DNSBL_OK;
}

/* Can the file be read as list data? false when it is refused or skipped,
 * with *rc the parser's result. */
static bool rb_parse_accepts(struct rb_parser *p, const struct rb_dstype *t, bool zone_ok, int *rc)
{
    const struct feed_options *opt = p->opt;
    if (!zone_ok) {
        rb_reject_file(p,
                       "zone name '%.80s' cannot name an imported data set (a host name of at "
                       "most %d characters)",
                       opt->zone, RB_DATASET_MAX - 1);
    } else if (!t) {
        rb_reject_file(p,
                       "rbldnsd dataset type %s%.40s%s: give one of ip4set, ip4tset, ip4trie, "
                       "ip6trie, ip6tset, combined (--format rbldnsd:TYPE)",
                       opt->subtype ? "'" : "missing", opt->subtype ? opt->subtype : "",
                       opt->subtype ? "' is unknown" : "");
        *rc = DNSBL_EINVAL;
    } else if (t->role == RB_DOMAIN) {
        rb_reject_file(p,
                       "domain datasets are not supported (rbldnsd %s): dnsbld lists IP "
                       "addresses only",
                       t->name);
    } else if (t->role == RB_SKIP) {
        rb_report(p, false, 0, NULL, 0,
                  strcmp(t->name, "generic") == 0
                      ? "rbldnsd generic data holds apex records, not list data: file skipped "
                        "(see --emit-zone)"
                      : "rbldnsd acl data is a client access list, not list data: file skipped");
    } else if (t->role == RB_COMBINED && !p->base[0]) {
        rb_reject_file(p, "a combined dataset needs its base zone (--zone NAME)");
    } else {
        return true;
    }
    return false;
}

static int rb_parse(const struct feed_input *in, const struct feed_options *opt,
                    struct feed_sink *sink)
{
    const struct rb_dstype *t = rb_type_find(opt->subtype);
    struct rb_parser p;
    bool zone_ok = rb_parser_init(&p, in, opt, sink, t ? t : &rb_types[0]) == DNSBL_OK;
    int rc = DNSBL_OK;
    if (rb_parse_accepts(&p, t, zone_ok, &rc)) {
        if (t->role == RB_IMPORT) {
            rc = rb_set_new(&p, t, &p.cur);
            if (rc == DNSBL_OK)
                rc = rb_set_add_zone(p.cur, p.base);
        }
        if (rc == DNSBL_OK)
            rc = rb_scan(&p);
        if (rc == DNSBL_OK && rb_check_stamp(&p))
            for (size_t i = 0; rc == DNSBL_OK && i < p.nsets; i++)
                if (!p.sets[i]->skip)
                    rc = rb_set_emit(&p, p.sets[i]);
    }
    if (sink->progress)
        sink->progress(sink->arg, in->len);
    rb_parser_free(&p);
    return rc;
}

const struct feed_ops feed_ops_rbldnsd = {
    .name = "rbldnsd",
    .detect = rb_detect,
    .parse = rb_parse,
};

/* ---- the apex zone file ---- */

static int rb_print_rr(FILE *out, const char *text, char *why, size_t whylen)
{
    ldns_rr *rr = NULL;
    ldns_status st = ldns_rr_new_frm_str(&rr, text, RB_DEFAULT_ZONE_TTL, NULL, NULL);
    if (st != LDNS_STATUS_OK) {
        snprintf(why, whylen, "cannot build '%s': %s", text, ldns_get_errorstr_by_id(st));
        return DNSBL_EINVAL;
    }
    ldns_rr_print(out, rr);
    ldns_rr_free(rr);
    return DNSBL_OK;
}

static void rb_absolute(const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s", name, strcmp(name, ".") == 0 ? "" : ".");
}

int feed_rbldnsd_emit_zone(const struct feed_input *in, const struct feed_options *opt, FILE *out,
                           char *why, size_t whylen)
{
    struct rb_parser p;
    const struct rb_dstype *t = rb_type_find(opt->subtype);
    if (rb_parser_init(&p, in, opt, NULL, t ? t : &rb_types[0]) != DNSBL_OK || !p.base[0]) {
        snprintf(why, whylen, "--emit-zone needs the zone name (--zone NAME)%s",
                 opt->zone && *opt->zone ? ", and a valid one" : "");
        return DNSBL_EINVAL;
    }
    int rc = rb_scan(&p);
    if (rc == DNSBL_OK && !p.soa.valid) {
        snprintf(why, whylen,
                 "%s: no valid $SOA line%s%s: rbldnsd data names the SOA with "
                 "'$SOA ttl origin-dn person-dn serial refresh retry expire minttl'",
                 in->name, p.soa_err[0] ? " (" : "", p.soa_err[0] ? p.soa_err : "");
        if (p.soa_err[0])
            snprintf(why + strlen(why), whylen - strlen(why), ")");
        rc = DNSBL_EINVAL;
    }
    if (rc == DNSBL_OK) {
        char text[4 * RB_NAME_MAX], mname[RB_NAME_MAX + 1], rname[RB_NAME_MAX + 1];
        int64_t serial = p.soa.serial ? p.soa.serial : opt->file_mtime;
        if (serial <= 0 || serial > UINT32_MAX)
            serial = 1;
        rb_absolute(p.soa.mname, mname, sizeof(mname));
        rb_absolute(p.soa.rname, rname, sizeof(rname));
        fprintf(out, "; apex of %s from rbldnsd $SOA/$NS data\n$ORIGIN %s.\n$TTL %u\n", p.base,
                p.base, p.ttl_given && p.ttl ? p.ttl : RB_DEFAULT_ZONE_TTL);
        snprintf(text, sizeof(text), "%s. %u IN SOA %s %s %lld %u %u %u %u", p.base, p.soa.ttl,
                 mname, rname, (long long)serial, p.soa.refresh, p.soa.retry, p.soa.expire,
                 p.soa.minimum);
        rc = rb_print_rr(out, text, why, whylen);
        for (size_t i = 0; rc == DNSBL_OK && i < p.nns; i++) {
            rb_absolute(p.ns[i], mname, sizeof(mname));
            snprintf(text, sizeof(text), "%s. %u IN NS %s", p.base, p.ns_ttl, mname);
            rc = rb_print_rr(out, text, why, whylen);
        }
        if (rc == DNSBL_OK && !p.ns_seen)
            fprintf(out, "; no $NS line in the data\n");
        if (rc == DNSBL_OK && (fflush(out) != 0 || ferror(out))) {
            snprintf(why, whylen, "writing the zone file failed");
            rc = DNSBL_EIO;
        }
    }
    rb_parser_free(&p);
    return rc;
}
