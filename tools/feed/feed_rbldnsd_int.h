/* feed_rbldnsd_int: what the three parts of the rbldnsd importer share (not
 * for use outside tools/feed/feed_rbldnsd*.c): the parser and data set
 * structures, the small text tests, and each part's entry points. The
 * parser (feed_rbldnsd.c) owns every rb_set and frees them with rb_set_free;
 * strings handed in are copied. */
#ifndef DNSBL_FEED_RBLDNSD_INT_H
#define DNSBL_FEED_RBLDNSD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "feed.h"
#include "model.h"

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
    bool entry_line;  /* it is an entry: a record for the summary (doc/formats.md 5) */
    size_t entries;   /* entry lines so far */
    size_t entry_end; /* input offset after the last entry line */
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

enum rb_keyerr {
    RB_KEY_SYNTAX,
    RB_KEY_BARE,  /* "203": a bare number */
    RB_KEY_ORDER, /* range start after its end */
    RB_KEY_FORMS, /* range sides of different lengths */
};

/* rbldnsd's whitespace, plus the CR of CRLF files. */
static inline bool rb_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static inline bool rb_comment(char c)
{
    return c == '#' || c == ';';
}

static inline char *rb_skip_space(char *s)
{
    while (rb_space(*s))
        s++;
    return s;
}

/* After a key only these may follow (doc/formats.md 4.1). */
static inline bool rb_key_end_ok(char c)
{
    return c == '\0' || rb_space(c) || rb_comment(c) || c == ':';
}

static inline uint32_t rb_mask4(unsigned bits)
{
    return bits == 0 ? 0 : 0xffffffffu << (32 - bits);
}

/* feed_rbldnsd.c: reports about the line being read. */
__attribute__((format(printf, 2, 3))) void rb_warn(struct rb_parser *p, const char *fmt, ...);

/* feed_rbldnsd_syntax.c: keys, numbers, times and values of one line. */
void rb_key_text(const char *key, char *out, size_t cap);
char *rb_keyword(char *line, const char *kw);
char *rb_parse_u32(char *s, uint32_t *out);
char *rb_parse_time(char *s, uint32_t *out);
char *rb_parse_stamp(char *s, int64_t *out);
int rb_ip4prefix(const char *s, uint32_t *out, const char **end);
int rb_ip4cidr(const char *s, uint32_t *a, const char **end, enum rb_keyerr *err);
int rb_ip4range(const char *s, uint32_t *a, uint32_t *b, const char **end, enum rb_keyerr *err);
void rb_warn_key4(struct rb_parser *p, const char *key, enum rb_keyerr err, bool ranges);
int rb_ip6prefix(const char *s, uint8_t a[16], const char **end);
int rb_ip6cidr(const char *s, uint8_t a[16], const char **end, enum rb_keyerr *err);
bool rb_ip6_host_bits(const uint8_t a[16], unsigned bits);
void rb_strip_rspamd_tail(struct rb_parser *p, char *s);
int rb_value_add(struct rb_set *set, uint32_t a, const char *txt, size_t txtlen,
                 const struct rb_parser *p, int32_t *idx);
int rb_default_line(struct rb_parser *p, struct rb_set *set, char *s);
int rb_entry_value(struct rb_parser *p, struct rb_set *set, char *rest, int32_t *idx);
bool rb_values_equal(const struct rb_set *set, int32_t x, int32_t y);

/* feed_rbldnsd_set.c: the per-set prefix table and each type's entry lines. */
int rb_line_ip4set(struct rb_parser *p, struct rb_set *set, char *s);
/* Once the set is read: prefixes nested in one of their own block level
 * take what rbldnsd's blocks give them (doc/formats.md 4.4). */
int rb_ip4set_resolve(struct rb_parser *p, struct rb_set *set);
void rb_trie_drain(struct rb_parser *p);
int rb_line_ip4trie(struct rb_parser *p, struct rb_set *set, char *s);
int rb_line_ip6trie(struct rb_parser *p, struct rb_set *set, char *s);
int rb_line_ip4tset(struct rb_parser *p, struct rb_set *set, char *s);
int rb_line_ip6tset(struct rb_parser *p, struct rb_set *set, char *s);
void rb_set_free(struct rb_set *set);
int rb_set_new(struct rb_parser *p, const struct rb_dstype *t, struct rb_set **out);
int rb_set_add_zone(struct rb_set *set, const char *name);
bool rb_name_normalise(const char *in, char *out, size_t cap);

#endif
