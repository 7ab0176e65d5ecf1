/* flat: the blob the store keeps beside its B-tree so that a lookup is a
 * binary search over an array instead of a descent through pages.
 *
 * Layout (host byte order: the blob lives in the store's own file, which
 * LMDB never moves between machines anyway):
 *   header, 64 bytes: magic "DNSBLFL1", u32 version 1, u32 header size 64,
 *     u64 n4, u64 n6, u64 vals_len, u32 jbits, zeros;
 *   jump: 2^jbits + 1 u32 (then 4 zero bytes if that count is odd): jump[h]
 *     is the first IPv4 key whose address has h as its top jbits bits, so
 *     a search starts in a bucket of about FLAT_BUCKET keys instead of the
 *     whole array (jbits grows with n4, at most 24: 4 bytes per 16 keys);
 *   k4: n4 u64 keys, IPv4 address << 8 | prefix length, ascending -- so one
 *     integer compare orders them as the store's keys are ordered;
 *   k6: n6 keys of three u64: the address's high and low halves (as big-
 *     endian numbers) and the prefix length, ascending;
 *   l4, l6: per entry two u32: the index of its parent (the nearest entry
 *     before it that contains it, FLAT_NONE for none) and the offset of its
 *     value in vals;
 *   vals: u16 length + value bytes, each distinct value once.
 *
 * Why parents answer a lookup: take the last entry E at or before (address,
 * longest length). An entry C covering the address starts at or before it,
 * so it sorts at or before E; E starts inside C, and prefixes are nested
 * or disjoint, so E is C or lies inside C. The covering entries are thus on
 * E's chain of parents: the first of them that covers the address, and
 * every parent after it. List data repeats a handful of values (the same
 * code, TTL and text for a whole file), so values are stored once each. */
#include "flat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "grow.h"

#define FLAT_MAGIC "DNSBLFL1"
#define FLAT_VERSION 1u
#define FLAT_HEADER 64u
#define FLAT_STACK 129    /* prefix lengths 0..128: the deepest nesting */
#define FLAT_FIRST 1024   /* first room of a builder array */
#define FLAT_BUCKET 16    /* IPv4 keys per jump bucket, about */
#define FLAT_JBITS_MAX 24 /* 64 MiB of table at 268M IPv4 keys: 1.5% of their size */

struct flat_slot {
    uint32_t off1; /* value offset + 1; 0 = empty */
    uint32_t hash;
};

struct flat_builder {
    uint64_t *k4, *k6;
    uint32_t *l4, *l6;
    size_t n4, n6, cap4, cap6;
    uint8_t *vals;
    size_t vals_len, vals_cap, nvals;
    struct flat_slot *slots; /* open addressing over the distinct values */
    size_t nslots;
    uint32_t stack[FLAT_STACK]; /* the entries containing the last one added */
    uint32_t last_off;          /* the value the last entry got */
    size_t last_len;
    size_t depth;
    uint8_t last_family;
};

static uint64_t flat_load_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void flat_store_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint32_t flat_v4_of(const struct addr_prefix *p)
{
    return (uint32_t)p->a[12] << 24 | (uint32_t)p->a[13] << 16 | (uint32_t)p->a[14] << 8 | p->a[15];
}

/* Does the IPv4 prefix (start, plen) contain addr? */
static bool flat_in4(uint32_t start, unsigned plen, uint32_t addr)
{
    /* A length past 32 comes only from a damaged blob: no shift by it. */
    return plen == 0 || (plen <= 32 && ((start ^ addr) >> (32 - plen)) == 0);
}

/* The same for IPv6, the address as two halves. */
static bool flat_in6(uint64_t shi, uint64_t slo, unsigned plen, uint64_t hi, uint64_t lo)
{
    if (plen == 0)
        return true;
    if (plen <= 64)
        return ((shi ^ hi) >> (64 - plen)) == 0;
    return plen <= 128 && shi == hi && ((slo ^ lo) >> (128 - plen)) == 0;
}

/* Host bits past plen are clear. */
static bool flat_masked4(uint32_t start, unsigned plen)
{
    return plen <= 32 && (plen == 32 || (start & (0xffffffffu >> plen)) == 0);
}

static bool flat_masked6(uint64_t hi, uint64_t lo, unsigned plen)
{
    if (plen > 128)
        return false;
    if (plen < 64 && (hi & (UINT64_MAX >> plen)) != 0)
        return false;
    return plen >= 128 || lo == 0 || (plen > 64 && (lo & (UINT64_MAX >> (plen - 64))) == 0);
}

/* ---- builder ---- */

int flat_builder_new(struct flat_builder **out)
{
    struct flat_builder *b = calloc(1, sizeof *b);
    *out = b;
    return b ? DNSBL_OK : DNSBL_ENOMEM;
}

void flat_builder_free(struct flat_builder *b)
{
    if (!b)
        return;
    free(b->k4);
    free(b->k6);
    free(b->l4);
    free(b->l6);
    free(b->vals);
    free(b->slots);
    free(b);
}

/* Room for need keys (ksize bytes each) and their links (8 bytes each),
 * grown together. */
static bool flat_reserve(void **keys, void **links, size_t *cap, size_t need, size_t ksize)
{
    if (need <= *cap)
        return true;
    size_t kcap = *cap, lcap = *cap;
    if (grow_array(keys, &kcap, need, ksize, FLAT_FIRST) != DNSBL_OK)
        return false;
    if (grow_array(links, &lcap, kcap, 8, FLAT_FIRST) != DNSBL_OK)
        return false; /* keys grown, cap not: the next call grows links only */
    *cap = kcap;
    return true;
}

static uint32_t flat_hash(const void *val, size_t len)
{
    /* Eight bytes a step, each word multiplied in (FNV's idea at word
     * size): values are 20 to 100 bytes, hashed once per entry. */
    const uint8_t *p = val;
    uint64_t h = 14695981039346656037u ^ len;
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 1099511628211u;
        h ^= h >> 29;
    }
    for (; len; p++, len--)
        h = (h ^ *p) * 1099511628211u;
    return (uint32_t)(h ^ h >> 32);
}

static bool flat_slots_grow(struct flat_builder *b)
{
    size_t n = b->nslots ? b->nslots * 2 : 1024;
    struct flat_slot *s = calloc(n, sizeof *s);
    if (!s)
        return false;
    for (size_t i = 0; i < b->nslots; i++) {
        if (!b->slots[i].off1)
            continue;
        size_t j = b->slots[i].hash & (n - 1);
        while (s[j].off1)
            j = (j + 1) & (n - 1);
        s[j] = b->slots[i];
    }
    free(b->slots);
    b->slots = s;
    b->nslots = n;
    return true;
}

/* The offset of val in vals, added if new; false when out of memory or
 * when vals would pass 4 GiB. */
static bool flat_value_find(struct flat_builder *b, const void *val, size_t len, uint32_t *off)
{
    if ((b->nvals + 1) * 2 > b->nslots && !flat_slots_grow(b))
        return false;
    uint32_t h = flat_hash(val, len);
    size_t j = h & (b->nslots - 1);
    for (; b->slots[j].off1; j = (j + 1) & (b->nslots - 1)) {
        if (b->slots[j].hash != h)
            continue;
        const uint8_t *have = b->vals + b->slots[j].off1 - 1;
        uint16_t hlen;
        memcpy(&hlen, have, 2);
        /* An empty val may be NULL, which memcmp must not see. */
        if (hlen == len && (len == 0 || memcmp(have + 2, val, len) == 0)) {
            *off = b->slots[j].off1 - 1;
            return true;
        }
    }
    size_t at = b->vals_len;
    if (at + 2 + len >= UINT32_MAX ||
        grow_array((void **)&b->vals, &b->vals_cap, at + 2 + len, 1, FLAT_FIRST) != DNSBL_OK)
        return false;
    uint16_t l16 = (uint16_t)len;
    memcpy(b->vals + at, &l16, 2);
    if (len)
        memcpy(b->vals + at + 2, val, len);
    b->vals_len = at + 2 + len;
    b->slots[j] = (struct flat_slot){.off1 = (uint32_t)at + 1, .hash = h};
    b->nvals++;
    *off = (uint32_t)at;
    return true;
}

static bool flat_value_intern(struct flat_builder *b, const void *val, size_t len, uint32_t *off)
{
    /* Entries in key order mostly repeat the value before them (one list
     * file, one value): no hash for those. */
    if (b->nvals && len == b->last_len &&
        (len == 0 || memcmp(b->vals + b->last_off + 2, val, len) == 0)) {
        *off = b->last_off;
        return true;
    }
    if (!flat_value_find(b, val, len, off))
        return false;
    b->last_off = *off;
    b->last_len = len;
    return true;
}

/* Links entry n of a family (its keys' room reserved): its parent is the
 * top of the stack of entries containing it, and it becomes the top. */
static int flat_builder_link(struct flat_builder *b, uint32_t *links, size_t n, uint32_t off)
{
    if (b->depth == FLAT_STACK)
        return DNSBL_EINVAL; /* deeper than prefixes nest: not in order */
    links[2 * n] = b->depth ? b->stack[b->depth - 1] : FLAT_NONE;
    links[2 * n + 1] = off;
    b->stack[b->depth++] = (uint32_t)n;
    return DNSBL_OK;
}

int flat_builder_add(struct flat_builder *b, const struct addr_prefix *p, const void *val,
                     size_t len)
{
    if (len > FLAT_VALUE_MAX || (p->family != ADDR_V4 && p->family != ADDR_V6))
        return DNSBL_EINVAL;
    if (b->last_family == ADDR_V6 && p->family == ADDR_V4)
        return DNSBL_EINVAL;
    if (b->n4 + b->n6 >= FLAT_ENTRIES_MAX)
        return DNSBL_ENOMEM;

    uint32_t off;
    if (p->family == ADDR_V4) {
        uint32_t a = flat_v4_of(p);
        uint64_t key = (uint64_t)a << 8 | p->plen;
        if (!flat_masked4(a, p->plen) || (b->n4 && key <= b->k4[b->n4 - 1]))
            return DNSBL_EINVAL;
        while (b->depth) {
            uint64_t top = b->k4[b->stack[b->depth - 1]];
            if (flat_in4((uint32_t)(top >> 8), top & 0xff, a))
                break;
            b->depth--;
        }
        if (!flat_reserve((void **)&b->k4, (void **)&b->l4, &b->cap4, b->n4 + 1, 8) ||
            !flat_value_intern(b, val, len, &off))
            return DNSBL_ENOMEM;
        int err = flat_builder_link(b, b->l4, b->n4, off);
        if (err != DNSBL_OK)
            return err;
        b->k4[b->n4++] = key;
    } else {
        uint64_t hi = flat_load_be64(p->a), lo = flat_load_be64(p->a + 8);
        if (!flat_masked6(hi, lo, p->plen))
            return DNSBL_EINVAL;
        if (b->n6) {
            const uint64_t *k = b->k6 + 3 * (b->n6 - 1);
            if (hi < k[0] || (hi == k[0] && (lo < k[1] || (lo == k[1] && p->plen <= k[2]))))
                return DNSBL_EINVAL;
        }
        /* Only now: an IPv6 entry rejected above must leave the IPv4 stack
         * to the IPv4 entries that may still come. */
        if (b->last_family != ADDR_V6)
            b->depth = 0;
        while (b->depth) {
            const uint64_t *top = b->k6 + 3 * b->stack[b->depth - 1];
            if (flat_in6(top[0], top[1], (unsigned)top[2], hi, lo))
                break;
            b->depth--;
        }
        if (!flat_reserve((void **)&b->k6, (void **)&b->l6, &b->cap6, b->n6 + 1, 24) ||
            !flat_value_intern(b, val, len, &off))
            return DNSBL_ENOMEM;
        int err = flat_builder_link(b, b->l6, b->n6, off);
        if (err != DNSBL_OK)
            return err;
        uint64_t *k = b->k6 + 3 * b->n6;
        k[0] = hi;
        k[1] = lo;
        k[2] = p->plen;
        b->n6++;
    }
    b->last_family = p->family;
    return DNSBL_OK;
}

static size_t flat_pad8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

static unsigned flat_jbits(size_t n4)
{
    unsigned bits = 0;
    while (bits < FLAT_JBITS_MAX && ((size_t)FLAT_BUCKET << bits) < n4)
        bits++;
    return bits;
}

static size_t flat_jump_bytes(unsigned jbits)
{
    return flat_pad8((((size_t)1 << jbits) + 1) * 4);
}

size_t flat_builder_size(const struct flat_builder *b)
{
    return FLAT_HEADER + flat_jump_bytes(flat_jbits(b->n4)) + b->n4 * 16 + b->n6 * 32 +
           flat_pad8(b->vals_len);
}

size_t flat_builder_values(const struct flat_builder *b)
{
    return b->nvals;
}

void flat_builder_write(const struct flat_builder *b, void *dst)
{
    uint8_t *p = dst;
    uint32_t version = FLAT_VERSION, hsize = FLAT_HEADER;
    uint64_t n4 = b->n4, n6 = b->n6, vl = b->vals_len;
    memset(p, 0, FLAT_HEADER);
    memcpy(p, FLAT_MAGIC, 8);
    memcpy(p + 8, &version, 4);
    memcpy(p + 12, &hsize, 4);
    memcpy(p + 16, &n4, 8);
    memcpy(p + 24, &n6, 8);
    memcpy(p + 32, &vl, 8);
    unsigned jbits = flat_jbits(b->n4);
    uint32_t jb = jbits;
    memcpy(p + 40, &jb, 4);
    p += FLAT_HEADER;
    /* One sweep: bucket h starts at the first key at or above h's first
     * address. */
    size_t i = 0, buckets = (size_t)1 << jbits;
    for (size_t h = 0; h <= buckets; h++) {
        uint64_t first = h == buckets ? UINT64_MAX : (uint64_t)h << (40 - jbits);
        while (i < b->n4 && b->k4[i] < first)
            i++;
        uint32_t at = h == buckets ? (uint32_t)b->n4 : (uint32_t)i;
        memcpy(p + 4 * h, &at, 4);
    }
    memset(p + 4 * (buckets + 1), 0, flat_jump_bytes(jbits) - 4 * (buckets + 1));
    p += flat_jump_bytes(jbits);
    if (b->n4)
        memcpy(p, b->k4, b->n4 * 8);
    p += b->n4 * 8;
    if (b->n6)
        memcpy(p, b->k6, b->n6 * 24);
    p += b->n6 * 24;
    if (b->n4)
        memcpy(p, b->l4, b->n4 * 8);
    p += b->n4 * 8;
    if (b->n6)
        memcpy(p, b->l6, b->n6 * 8);
    p += b->n6 * 8;
    if (b->vals_len)
        memcpy(p, b->vals, b->vals_len);
    memset(p + b->vals_len, 0, flat_pad8(b->vals_len) - b->vals_len);
}

/* ---- view ---- */

static inline uint64_t flat_ld64(const uint8_t *base, size_t i)
{
    uint64_t x;
    memcpy(&x, base + 8 * i, 8);
    return x;
}

static inline uint32_t flat_ld32(const uint8_t *base, size_t i)
{
    uint32_t x;
    memcpy(&x, base + 4 * i, 4);
    return x;
}

bool flat_view_open(struct flat_view *v, const void *blob, size_t len)
{
    const uint8_t *p = blob;
    uint32_t version, hsize, jbits;
    uint64_t n4, n6, vl;
    memset(v, 0, sizeof *v);
    if (len < FLAT_HEADER || memcmp(p, FLAT_MAGIC, 8) != 0)
        return false;
    memcpy(&version, p + 8, 4);
    memcpy(&hsize, p + 12, 4);
    memcpy(&n4, p + 16, 8);
    memcpy(&n6, p + 24, 8);
    memcpy(&vl, p + 32, 8);
    memcpy(&jbits, p + 40, 4);
    if (version != FLAT_VERSION || hsize != FLAT_HEADER || n4 > FLAT_ENTRIES_MAX ||
        n6 > FLAT_ENTRIES_MAX || vl > UINT32_MAX || jbits > FLAT_JBITS_MAX)
        return false;
    /* Each term is below 2^38, so the sum cannot wrap. */
    uint64_t need = FLAT_HEADER + flat_jump_bytes(jbits) + n4 * 16 + n6 * 32 + vl;
    if (need > len)
        return false;
    v->n4 = (size_t)n4;
    v->n6 = (size_t)n6;
    v->jbits = jbits;
    p += FLAT_HEADER;
    v->jump = p;
    p += flat_jump_bytes(jbits);
    v->k4 = p;
    p += v->n4 * 8;
    v->k6 = p;
    p += v->n6 * 24;
    v->l4 = p;
    p += v->n4 * 8;
    v->l6 = p;
    p += v->n6 * 8;
    v->vals = p;
    v->vals_len = (size_t)vl;
    return true;
}

static int flat_value_at(const struct flat_view *v, uint32_t off, const uint8_t **val, size_t *len)
{
    uint16_t l16;
    if ((size_t)off + 2 > v->vals_len)
        return DNSBL_ESCHEMA;
    memcpy(&l16, v->vals + off, 2);
    if ((size_t)off + 2 + l16 > v->vals_len)
        return DNSBL_ESCHEMA;
    *val = v->vals + off + 2;
    *len = l16;
    return DNSBL_OK;
}

/* The last IPv4 key at or below t, or SIZE_MAX. Branch-free halving: the
 * loop runs log2(n) times whatever the keys, and the compiler turns the
 * select into a conditional move. */
/* The last IPv4 key at or below the full address a, or SIZE_MAX; *bad
 * when the jump table points outside the keys. */
static size_t flat_floor4(const struct flat_view *v, uint32_t a, bool *bad)
{
    const uint8_t *k = v->k4;
    uint64_t t = (uint64_t)a << 8 | 32;
    size_t h = v->jbits ? a >> (32 - v->jbits) : 0;
    size_t lo = flat_ld32(v->jump, h), hi = flat_ld32(v->jump, h + 1);
    if (lo > hi || hi > v->n4) {
        *bad = true;
        return SIZE_MAX;
    }
    /* Keys before the bucket are all below t, keys after it above. */
    if (lo == hi || flat_ld64(k, lo) > t)
        return lo ? lo - 1 : SIZE_MAX;
    size_t base = lo, n = hi - lo;
    while (n > 1) {
        size_t half = n / 2;
        base = flat_ld64(k, base + half) <= t ? base + half : base;
        n -= half;
    }
    return base;
}

/* Is IPv6 key i at or below (hi, lo, plen)? */
static bool flat_le6(const uint8_t *k, size_t i, uint64_t hi, uint64_t lo, uint64_t plen)
{
    uint64_t khi = flat_ld64(k, 3 * i), klo = flat_ld64(k, 3 * i + 1);
    return khi < hi || (khi == hi && (klo < lo || (klo == lo && flat_ld64(k, 3 * i + 2) <= plen)));
}

static size_t flat_floor6(const uint8_t *k, size_t n, uint64_t hi, uint64_t lo)
{
    if (n == 0 || !flat_le6(k, 0, hi, lo, 128))
        return SIZE_MAX;
    size_t base = 0;
    while (n > 1) {
        size_t half = n / 2;
        base = flat_le6(k, base + half, hi, lo, 128) ? base + half : base;
        n -= half;
    }
    return base;
}

static void flat_prefix4(uint64_t key, struct addr_prefix *p)
{
    uint32_t a = (uint32_t)(key >> 8);
    p->family = ADDR_V4;
    p->plen = (uint8_t)(key & 0xff);
    memset(p->a, 0, 10);
    p->a[10] = p->a[11] = 0xff;
    p->a[12] = (uint8_t)(a >> 24);
    p->a[13] = (uint8_t)(a >> 16);
    p->a[14] = (uint8_t)(a >> 8);
    p->a[15] = (uint8_t)a;
}

static void flat_prefix6(const uint8_t *k, size_t i, struct addr_prefix *p)
{
    p->family = ADDR_V6;
    p->plen = (uint8_t)flat_ld64(k, 3 * i + 2);
    flat_store_be64(p->a, flat_ld64(k, 3 * i));
    flat_store_be64(p->a + 8, flat_ld64(k, 3 * i + 1));
}

int flat_view_covering(const struct flat_view *v, const struct addr_prefix *addr,
                       struct flat_hit *out, size_t cap, size_t *n)
{
    *n = 0;
    bool v4 = addr->family == ADDR_V4;
    if (addr->plen != (v4 ? 32 : 128) || (!v4 && addr->family != ADDR_V6))
        return DNSBL_EINVAL;
    const uint8_t *links = v4 ? v->l4 : v->l6;
    uint32_t a = 0;
    uint64_t hi = 0, lo = 0;
    size_t e;
    if (v4) {
        bool bad = false;
        a = flat_v4_of(addr);
        e = flat_floor4(v, a, &bad);
        if (bad)
            return DNSBL_ESCHEMA;
    } else {
        hi = flat_load_be64(addr->a);
        lo = flat_load_be64(addr->a + 8);
        e = flat_floor6(v->k6, v->n6, hi, lo);
    }
    /* Up E's chain to the first entry that covers the address. */
    while (e != SIZE_MAX) {
        bool in;
        if (v4) {
            uint64_t k = flat_ld64(v->k4, e);
            in = flat_in4((uint32_t)(k >> 8), k & 0xff, a);
        } else {
            in = flat_in6(flat_ld64(v->k6, 3 * e), flat_ld64(v->k6, 3 * e + 1),
                          (unsigned)flat_ld64(v->k6, 3 * e + 2), hi, lo);
        }
        if (in)
            break;
        uint32_t up = flat_ld32(links, 2 * e);
        if (up != FLAT_NONE && up >= e)
            return DNSBL_ESCHEMA; /* a cycle, or past the array */
        e = up == FLAT_NONE ? SIZE_MAX : up;
    }
    for (; e != SIZE_MAX && *n < cap; (*n)++) {
        struct flat_hit *h = &out[*n];
        if (v4)
            flat_prefix4(flat_ld64(v->k4, e), &h->prefix);
        else
            flat_prefix6(v->k6, e, &h->prefix);
        int err = flat_value_at(v, flat_ld32(links, 2 * e + 1), &h->val, &h->len);
        if (err != DNSBL_OK)
            return err;
        uint32_t up = flat_ld32(links, 2 * e);
        if (up != FLAT_NONE && up >= e)
            return DNSBL_ESCHEMA;
        e = up == FLAT_NONE ? SIZE_MAX : up;
    }
    return DNSBL_OK;
}

size_t flat_view_count(const struct flat_view *v, uint8_t family)
{
    return family == ADDR_V4 ? v->n4 : family == ADDR_V6 ? v->n6 : 0;
}

int flat_view_entry(const struct flat_view *v, uint8_t family, size_t i, struct addr_prefix *p,
                    uint32_t *parent, const uint8_t **val, size_t *len)
{
    if (i >= flat_view_count(v, family))
        return DNSBL_EINVAL;
    const uint8_t *links = family == ADDR_V4 ? v->l4 : v->l6;
    if (family == ADDR_V4)
        flat_prefix4(flat_ld64(v->k4, i), p);
    else
        flat_prefix6(v->k6, i, p);
    *parent = flat_ld32(links, 2 * i);
    return flat_value_at(v, flat_ld32(links, 2 * i + 1), val, len);
}

static void flat_report(void (*problem)(void *, const char *), void *arg, uint8_t family, size_t i,
                        const struct addr_prefix *p, const char *what)
{
    char text[ADDR_TEXT_MAX], line[256];
    addr_format(p, text, sizeof text);
    snprintf(line, sizeof line, "flat index: IPv%u entry %zu (%s): %s", family, i, text, what);
    problem(arg, line);
}

static size_t flat_verify_family(const struct flat_view *v, uint8_t family,
                                 void (*problem)(void *, const char *), void *arg)
{
    uint32_t stack[FLAT_STACK];
    size_t depth = 0, found = 0, n = flat_view_count(v, family);
    struct addr_prefix prev = {0}, p;
    for (size_t i = 0; i < n; i++) {
        uint32_t parent = FLAT_NONE;
        const uint8_t *val;
        size_t len;
        char what[128];
        if (flat_view_entry(v, family, i, &p, &parent, &val, &len) != DNSBL_OK) {
            flat_report(problem, arg, family, i, &p, "its value lies outside the blob");
            found++;
        }
        unsigned bits = family == ADDR_V4 ? 32 : 128;
        /* p narrows the stored fields (IPv4 address to 32 bits, IPv6
         * length to 8), but the search compares and the walk shifts by them
         * whole: a stray high bit would pass unseen. */
        bool masked = p.plen <= bits && (family == ADDR_V4 ? flat_ld64(v->k4, i) >> 40 == 0
                                                           : flat_ld64(v->k6, 3 * i + 2) <= 128);
        if (masked) {
            struct addr_prefix m = p;
            addr_mask(&m);
            masked = memcmp(m.a, p.a, 16) == 0;
        }
        if (!masked) {
            flat_report(problem, arg, family, i, &p, "not a valid prefix");
            found++;
            continue;
        }
        if (i > 0 && addr_compare(&prev, &p) >= 0) {
            flat_report(problem, arg, family, i, &p, "out of order");
            found++;
        }
        prev = p;
        while (depth) {
            struct addr_prefix top;
            uint32_t unused;
            const uint8_t *uv;
            size_t ul;
            (void)flat_view_entry(v, family, stack[depth - 1], &top, &unused, &uv, &ul);
            if (addr_covers(&top, &p))
                break;
            depth--;
        }
        uint32_t want = depth ? stack[depth - 1] : FLAT_NONE;
        if (parent != want) {
            snprintf(what, sizeof what, "parent %ld, the nearest entry containing it is %ld",
                     parent == FLAT_NONE ? -1L : (long)parent,
                     want == FLAT_NONE ? -1L : (long)want);
            flat_report(problem, arg, family, i, &p, what);
            found++;
        }
        if (depth < FLAT_STACK)
            stack[depth++] = (uint32_t)i;
    }
    return found;
}

/* Every bucket starts where its first key is: a wrong start makes
 * lookups in it miss entries or find ones outside it. */
static size_t flat_verify_jump(const struct flat_view *v, void (*problem)(void *, const char *),
                               void *arg)
{
    size_t found = 0, buckets = (size_t)1 << v->jbits, i = 0;
    for (size_t h = 0; h <= buckets; h++) {
        uint64_t first = h == buckets ? UINT64_MAX : (uint64_t)h << (40 - v->jbits);
        while (i < v->n4 && flat_ld64(v->k4, i) < first)
            i++;
        size_t want = h == buckets ? v->n4 : i, have = flat_ld32(v->jump, h);
        if (have != want && found++ < 5) {
            char line[160];
            snprintf(line, sizeof line,
                     "flat index: IPv4 jump bucket %zu starts at entry %zu, its first key is "
                     "entry %zu",
                     h, have, want);
            problem(arg, line);
        }
    }
    return found;
}

size_t flat_view_verify(const struct flat_view *v, void (*problem)(void *arg, const char *what),
                        void *arg)
{
    return flat_verify_family(v, ADDR_V4, problem, arg) +
           flat_verify_family(v, ADDR_V6, problem, arg) + flat_verify_jump(v, problem, arg);
}
