/* feed_rbldnsd_set: one dataset's prefix table and the entry lines of each
 * type (doc/formats.md 4.4): ip4set's prefixes kept as written and resolved
 * to answer as rbldnsd's octet-aligned blocks do, the tries'
 * longest-prefix entries with their table lookups read ahead, and the
 * trivial sets. A set owns its table, values and names (rb_set_free). */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "err.h"
#include "feed_rbldnsd_int.h"
#include "grow.h"

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

/* ---- what entry lines share ---- */

static void rb_prefix4(struct addr_prefix *k, uint32_t a, unsigned bits)
{
    uint8_t o[4] = {(uint8_t)(a >> 24), (uint8_t)(a >> 16), (uint8_t)(a >> 8), (uint8_t)a};
    addr_from_bytes(k, ADDR_V4, o, bits);
}

/* A leading "!" makes the line an exclusion; s moves past it. */
static bool rb_take_excl(char **s)
{
    if (**s != '!')
        return false;
    *s = rb_skip_space(*s + 1);
    return true;
}

/* The value of an entry, or RB_VAL_EXCLUDED; rb_entry_value's result. */
static int rb_entry_or_excl(struct rb_parser *p, struct rb_set *set, bool excl, char *rest,
                            int32_t *val)
{
    if (excl) {
        *val = RB_VAL_EXCLUDED;
        return DNSBL_OK;
    }
    return rb_entry_value(p, set, rest, val);
}

/* ---- ip4set: prefixes as written, answering as rbldnsd's blocks ---- */

struct rb_clash {
    size_t count;
    struct addr_prefix first;
    long first_line;
};

/* One prefix into the table; the same prefix twice: an exclusion beats a
 * listing, the first listing's value stays (rbldnsd's rule per block). */
static int rb_ip4set_block(struct rb_parser *p, struct rb_set *set, uint32_t addr, unsigned plen,
                           int32_t val, struct rb_clash *clash)
{
    struct addr_prefix k;
    rb_prefix4(&k, addr, plen);
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

/* [a, b] as the fewest CIDR prefixes, each kept as the one entry it is:
 * at each step the largest aligned block that still fits. */
static int rb_ip4set_cidrs(struct rb_parser *p, struct rb_set *set, uint64_t a, uint64_t b,
                           int32_t val, struct rb_clash *clash)
{
    while (a <= b) {
        unsigned plen = 32;
        while (plen > 0) {
            uint64_t size = 1ULL << (33 - plen);
            if ((a & (size - 1)) != 0 || a + size - 1 > b)
                break;
            plen--;
        }
        int rc = rb_ip4set_block(p, set, (uint32_t)a, plen, val, clash);
        if (rc)
            return rc;
        a += 1ULL << (32 - plen);
    }
    return DNSBL_OK;
}

/* rbldnsd cuts an ip4set entry into /8, /16, /24 or /32 blocks: a prefix
 * of length len lands in blocks of this length (doc/formats.md 4.4). */
static unsigned rb_ip4set_level(unsigned len)
{
    return len == 0 ? 8 : (len + 7) / 8 * 8;
}

static int rb_ip4set_by_length(const void *x, const void *y)
{
    const struct rb_item *a = *(const struct rb_item *const *)x;
    const struct rb_item *b = *(const struct rb_item *const *)y;
    if (a->prefix.plen != b->prefix.plen)
        return a->prefix.plen < b->prefix.plen ? -1 : 1;
    return a->line < b->line ? -1 : a->line > b->line;
}

/* The longest entry around it at its own block level, or NULL. */
static struct rb_item *rb_ip4set_same_level_parent(struct rb_set *set, const struct rb_item *it)
{
    unsigned len = it->prefix.plen, level = rb_ip4set_level(len);
    unsigned lo = level == 8 ? 0 : level - 7;
    for (unsigned l = len; l-- > lo;) {
        struct addr_prefix k = addr_truncate(&it->prefix, l);
        struct rb_item *up = rb_find(set, &k);
        if (up)
            return up;
    }
    return NULL;
}

/* The warning of a clash found once the set is read, on the later line. */
static void rb_ip4set_warn_clash(struct rb_parser *p, const struct rb_item *it,
                                 const struct rb_item *up)
{
    const struct rb_item *first = up->line < it->line ? up : it;
    const struct rb_item *later = first == up ? it : up;
    char a[ADDR_TEXT_MAX], b[ADDR_TEXT_MAX];
    long keep = p->lineno;
    addr_format(&later->prefix, a, sizeof(a));
    addr_format(&first->prefix, b, sizeof(b));
    p->lineno = later->line;
    p->raw = NULL;
    p->rawlen = 0;
    rb_warn(p,
            "%s and %s (line %ld) list the same addresses with other values; rbldnsd would "
            "answer with both records, only the first is kept",
            a, b, first->line);
    p->lineno = keep;
}

int rb_ip4set_resolve(struct rb_parser *p, struct rb_set *set)
{
    if (set->nitems < 2)
        return DNSBL_OK;
    struct rb_item **order = malloc(set->nitems * sizeof(*order));
    if (!order)
        return DNSBL_ENOMEM;
    for (size_t i = 0; i < set->nitems; i++)
        order[i] = &set->items[i];
    /* Shortest first: the prefix around one is resolved before it. */
    qsort(order, set->nitems, sizeof(*order), rb_ip4set_by_length);
    for (size_t i = 0; i < set->nitems; i++) {
        struct rb_item *it = order[i], *up = rb_ip4set_same_level_parent(set, it);
        if (!up || it->val == RB_VAL_EXCLUDED)
            continue; /* a longer exclusion wins by its length alone */
        if (up->val == RB_VAL_EXCLUDED) {
            it->val = RB_VAL_EXCLUDED;
            continue;
        }
        if (rb_values_equal(set, it->val, up->val))
            continue;
        rb_ip4set_warn_clash(p, it, up);
        if (up->line < it->line) {
            it->val = up->val;
            it->line = up->line;
        }
    }
    free(order);
    return DNSBL_OK;
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

int rb_line_ip4set(struct rb_parser *p, struct rb_set *set, char *s)
{
    if (*s == ':')
        return rb_default_line(p, set, s);
    bool excl = rb_take_excl(&s);
    const char *key = s, *end;
    uint32_t a, b;
    enum rb_keyerr err;
    int bits = rb_ip4range(s, &a, &b, &end, &err);
    if (bits < 0 || !rb_key_end_ok(*end)) {
        rb_warn_key4(p, key, err, true);
        return DNSBL_OK;
    }
    if (a & ~rb_mask4((unsigned)bits)) {
        struct addr_prefix k;
        rb_prefix4(&k, a, (unsigned)bits);
        rb_warn_host_bits(p, key, &k);
        return DNSBL_OK;
    }
    if (!rb_maxrange_ok(p, (uint64_t)b - a + 1, key))
        return DNSBL_OK;
    int32_t val;
    int rc = rb_entry_or_excl(p, set, excl, (char *)end, &val);
    if (rc)
        return rc < 0 ? rc : DNSBL_OK;
    struct rb_clash clash = {0};
    rc = rb_ip4set_cidrs(p, set, a, b, val, &clash);
    if (rc == DNSBL_OK && clash.count) {
        char first[ADDR_TEXT_MAX];
        addr_format(&clash.first, first, sizeof(first));
        rb_warn(p,
                "%zu prefix(es) of this entry, first %s, are already listed with another value "
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
void rb_trie_drain(struct rb_parser *p)
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

/* The rest of a trie line after its key: an exclusion, or the value. */
static int rb_trie_entry(struct rb_parser *p, struct rb_set *set, const struct addr_prefix *k,
                         bool excl, char *rest)
{
    rb_strip_rspamd_tail(p, rest);
    int32_t val;
    int rc = rb_entry_or_excl(p, set, excl, rest, &val);
    if (rc)
        return rc < 0 ? rc : DNSBL_OK;
    return rb_trie_add(p, set, k, val);
}

int rb_line_ip4trie(struct rb_parser *p, struct rb_set *set, char *s)
{
    if (*s == ':')
        return rb_default_line(p, set, s);
    bool excl = rb_take_excl(&s);
    const char *key = s, *end;
    uint32_t a;
    enum rb_keyerr err;
    int bits = rb_ip4cidr(s, &a, &end, &err);
    if (bits < 0 || !rb_key_end_ok(*end)) {
        rb_warn_key4(p, key, err, false);
        return DNSBL_OK;
    }
    struct addr_prefix k;
    rb_prefix4(&k, a, (unsigned)bits);
    if (a & ~rb_mask4((unsigned)bits)) {
        rb_warn_host_bits(p, key, &k);
        return DNSBL_OK;
    }
    if (!rb_maxrange_ok(p, (uint64_t)1 << (32 - bits), key))
        return DNSBL_OK;
    return rb_trie_entry(p, set, &k, excl, (char *)end);
}

int rb_line_ip6trie(struct rb_parser *p, struct rb_set *set, char *s)
{
    if (s[0] == ':' && s[1] != ':') /* "::1" is an address, not a default line */
        return rb_default_line(p, set, s);
    bool excl = rb_take_excl(&s);
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
    return rb_trie_entry(p, set, &pfx, excl, (char *)end);
}

/* ---- the trivial sets: fixed sizes, one default, duplicates merge ---- */

static int rb_tset_add(struct rb_parser *p, struct rb_set *set, const struct addr_prefix *k,
                       int32_t val)
{
    return rb_find(set, k) ? DNSBL_OK : rb_insert(set, k, val, p->lineno);
}

int rb_line_ip4tset(struct rb_parser *p, struct rb_set *set, char *s)
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
    struct addr_prefix k;
    rb_prefix4(&k, a, 32);
    return rb_tset_add(p, set, &k, RB_VAL_SETDEF); /* text after the address is ignored */
}

int rb_line_ip6tset(struct rb_parser *p, struct rb_set *set, char *s)
{
    if (*s == ':')
        return rb_default_line(p, set, s);
    bool excl = rb_take_excl(&s);
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

void rb_set_free(struct rb_set *set)
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
int rb_set_new(struct rb_parser *p, const struct rb_dstype *t, struct rb_set **out)
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

int rb_set_add_zone(struct rb_set *set, const char *name)
{
    if (grow_array((void **)&set->zones, &set->capzones, set->nzones + 1, sizeof(*set->zones),
                   RB_FIRST))
        return DNSBL_ENOMEM;
    snprintf(set->zones[set->nzones++], RB_DATASET_MAX, "%s", name);
    return DNSBL_OK;
}

/* Lower case, no trailing dot; false if it is not a host-style name. */
bool rb_name_normalise(const char *in, char *out, size_t cap)
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
