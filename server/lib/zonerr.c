/* zonerr: a zone's answer set as records (zonerr.h). Zone files answer by
 * name, so a prefix becomes names on label boundaries (octets for IPv4,
 * nibbles for IPv6): the tree of those boundaries is walked from the root,
 * a node whose addresses all answer alike becomes one wildcard "*.NODE"
 * (RFC 4592), a host one name. A wildcard does not apply below a name that
 * exists (RFC 4592 section 2.2.1), so where a node answers otherwise than
 * the wildcard above it, it gets names of its own; one that answers
 * nothing gets only an HINFO record (as RFC 8482 uses it: data no DNSBL
 * client asks for), so an A or TXT question there gets no data.
 * doc/formats.md 4.8 has the differences to dnsbld this leaves. The
 * store's prefixes come in address order with every prefix before the
 * ones it covers, which the walk relies on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "err.h"
#include "grow.h"
#include "verdict.h"
#include "zonerr.h"

#define ZONERR_TXT_MAX 1024
#define ZONERR_TREND_DAYS 30       /* as dnsblctl show decides: the same history read */
#define ZONERR_NONE_ENTRY SIZE_MAX /* no stored entry decides: not listed */
#define ZONERR_OWNER_TEXT (ADDR_TEXT_MAX * 2 + ZONE_NAME_MAX + 4)

struct zonerr_gen {
    const struct zone_policy *zp;
    const char *zone;
    int64_t now;
    zonerr_emit_fn emit;
    void *arg;
    struct store_reader *reader; /* NULL: an empty store */
    struct addr_prefix *prefixes;
    size_t n, cap;
    struct entry covering[STORE_COVERING_MAX];
    struct history_day days[STORE_HISTORY_MAX];
    struct verdict v; /* the decision being written */
    int err;          /* collecting: an allocation failed */
};

int zonerr_name_to_wire(const char *text, uint8_t *out, size_t *len)
{
    size_t pos = 0;
    const char *s = text;

    if (*s == '.' && s[1] == '\0')
        s++;
    while (*s) {
        size_t lab = strcspn(s, ".");
        if (lab == 0 || lab > 63 || pos + 1 + lab + 1 > ZONERR_NAME_MAX)
            return DNSBL_EINVAL;
        out[pos++] = (uint8_t)lab;
        for (size_t i = 0; i < lab; i++) {
            char c = s[i];
            out[pos++] = (uint8_t)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        }
        s += lab;
        if (*s == '.')
            s++;
    }
    out[pos++] = 0;
    *len = pos;
    return DNSBL_OK;
}

static int zonerr_collect(const struct entry *e, void *arg)
{
    struct zonerr_gen *g = arg;

    g->err = grow_array((void **)&g->prefixes, &g->cap, g->n + 1, sizeof *g->prefixes, 1024);
    if (g->err)
        return 1;
    g->prefixes[g->n++] = e->prefix;
    return 0;
}

static int zonerr_emit(struct zonerr_gen *g, const char *owner, uint16_t type, uint32_t ttl,
                       const uint8_t *rdata, size_t rdlen)
{
    uint8_t wire[ZONERR_NAME_MAX];
    size_t len;

    if (rdlen > UINT16_MAX || zonerr_name_to_wire(owner, wire, &len) != DNSBL_OK)
        return DNSBL_ESPACE;
    struct zonerr_rr rr = {.owner = wire,
                           .owner_len = (uint16_t)len,
                           .type = type,
                           .ttl = ttl,
                           .rdata = rdata,
                           .rdlen = (uint16_t)rdlen};
    return g->emit(&rr, g->arg);
}

/* A and TXT of a decision at owner; the TXT names ip (an address, or for a
 * wildcard the deciding entry's prefix: one record cannot name every
 * address it answers for). TXT text goes in character-strings of at most
 * 255 bytes (RFC 1035 3.3.14). */
static int zonerr_records(struct zonerr_gen *g, const char *owner, const char *ip,
                          const struct decision *d)
{
    char txt[ZONERR_TXT_MAX];
    uint8_t rd[ZONERR_TXT_MAX + ZONERR_TXT_MAX / 255 + 2];
    size_t len;
    int rc = DNSBL_OK;

    for (unsigned i = 0; i < d->n && rc == DNSBL_OK; i++) {
        uint32_t c = d->codes[i];
        uint8_t a[4] = {(uint8_t)(c >> 24), (uint8_t)(c >> 16), (uint8_t)(c >> 8), (uint8_t)c};
        rc = zonerr_emit(g, owner, ZONERR_TYPE_A, d->ttl, a, sizeof a);
    }
    for (unsigned i = 0; i < d->n && rc == DNSBL_OK; i++) {
        if (!verdict_render_txt(g->zp, d, i, ip, g->zone, txt, sizeof txt, &len))
            continue;
        size_t pos = 0, at = 0;
        do {
            size_t k = len - pos > 255 ? 255 : len - pos;
            rd[at++] = (uint8_t)k;
            memcpy(rd + at, txt + pos, k);
            at += k;
            pos += k;
        } while (pos < len);
        rc = zonerr_emit(g, owner, ZONERR_TYPE_TXT, d->ttl, rd, at);
    }
    return rc;
}

/* The filler that makes a name exist with no A and no TXT. */
static int zonerr_filler(struct zonerr_gen *g, const char *owner)
{
    static const uint8_t hinfo[] = "\x05"
                                   "dnsbl"
                                   "\x0a"
                                   "not listed";
    return zonerr_emit(g, owner, ZONERR_TYPE_HINFO, g->zp->ttl, hinfo, sizeof hinfo - 1);
}

/* The RFC 5782 test point, as the server answers it. */
static int zonerr_testpoint(struct zonerr_gen *g)
{
    char owner[ZONERR_OWNER_TEXT], ip[ADDR_TEXT_MAX];
    uint8_t b[4] = {127, 0, 0, 2};
    struct addr_prefix tp;
    struct decision d;

    addr_from_bytes(&tp, ADDR_V4, b, 32);
    verdict_testpoint_decision(g->zp, &d);
    size_t len = addr_to_qname(&tp, g->zone, owner, sizeof owner - 1);
    if (len == 0)
        return DNSBL_ESPACE;
    owner[len] = '.';
    owner[len + 1] = '\0';
    addr_format(&tp, ip, sizeof ip);
    return zonerr_records(g, owner, ip, &d);
}

static unsigned zonerr_host_bits(const struct addr_prefix *p)
{
    return p->family == ADDR_V4 ? 32 : 128;
}

/* The owner name of an aligned node: its whole labels, then the zone;
 * "*." in front for a wildcard. */
static int zonerr_node_owner(const struct zonerr_gen *g, const struct addr_prefix *n, bool wild,
                             char *out, size_t cap)
{
    size_t pos = 0;
    int w;

    if (wild) {
        memcpy(out, "*.", 3);
        pos = 2;
    }
    if (n->family == ADDR_V4) {
        for (int i = n->plen / 8 - 1; i >= 0; i--) {
            w = snprintf(out + pos, cap - pos, "%u.", n->a[12 + i]);
            if (w < 0 || (size_t)w >= cap - pos)
                return DNSBL_ESPACE;
            pos += (size_t)w;
        }
    } else {
        for (int i = n->plen / 4 - 1; i >= 0; i--) {
            unsigned nib = i % 2 ? n->a[i / 2] & 0x0f : n->a[i / 2] >> 4;
            w = snprintf(out + pos, cap - pos, "%x.", nib);
            if (w < 0 || (size_t)w >= cap - pos)
                return DNSBL_ESPACE;
            pos += (size_t)w;
        }
    }
    w = snprintf(out + pos, cap - pos, "%s.", g->zone);
    return w < 0 || (size_t)w >= cap - pos ? DNSBL_ESPACE : DNSBL_OK;
}

/* What the zone answers for the whole prefix p (as dnsblctl show decides
 * it), into g->v. */
static int zonerr_decide_prefix(struct zonerr_gen *g, const struct addr_prefix *p)
{
    const struct verdict_scratch sc = {.covering = g->covering,
                                       .covering_cap = STORE_COVERING_MAX,
                                       .history = g->days,
                                       .history_cap = STORE_HISTORY_MAX};
    const struct verdict_query q = {.addr = p,
                                    .now = g->now,
                                    .flags = VERDICT_TEXTS | VERDICT_WHOLE_PREFIX,
                                    .trend_days = ZONERR_TREND_DAYS};

    if (g->reader) {
        int rc = store_reader_begin(g->reader);
        if (rc != DNSBL_OK)
            return rc;
    }
    int rc = verdict_decide(&sc, g->reader, g->zp, &q, &g->v);
    if (g->reader)
        store_reader_end(g->reader);
    return rc;
}

/* Is the decision of entry `from` (ZONERR_NONE_ENTRY: nothing) a listing?
 * Leaves it in g->v. */
static int zonerr_decide(struct zonerr_gen *g, size_t from, bool *listed)
{
    *listed = false;
    if (from == ZONERR_NONE_ENTRY)
        return DNSBL_OK;
    int rc = zonerr_decide_prefix(g, &g->prefixes[from]);
    if (rc == DNSBL_OK)
        *listed = g->v.d.listed && g->v.d.n > 0;
    return rc;
}

/* The step address bits of p after its first `from`: which child of the
 * node of length `from` holds p. */
static unsigned zonerr_child_index(const struct addr_prefix *p, unsigned from, unsigned step)
{
    unsigned base = p->family == ADDR_V4 ? 96 : 0, c = 0;

    for (unsigned bit = base + from; bit < base + from + step; bit++)
        c = c << 1 | (p->a[bit / 8] >> (7 - bit % 8) & 1);
    return c;
}

/* Names for the aligned node n, whose addresses outside the entries
 * [lo, hi) (all inside n and longer) answer as entry `from`. need: n
 * must exist (a wildcard above answers otherwise). *written counts the
 * names made. */
static int zonerr_node(struct zonerr_gen *g, const struct addr_prefix *n, size_t from, size_t lo,
                       size_t hi, bool need, size_t *written)
{
    char owner[ZONERR_OWNER_TEXT], ip[ADDR_TEXT_MAX];
    unsigned host = zonerr_host_bits(n);
    bool listed;
    size_t mine = 0;
    int rc = zonerr_decide(g, from, &listed);

    if (rc != DNSBL_OK)
        return rc;
    if (n->plen == host && verdict_testpoint(n) != VERDICT_TP_NONE)
        return DNSBL_OK; /* written first, as the server answers it */
    if (listed) {
        rc = zonerr_node_owner(g, n, n->plen < host, owner, sizeof owner);
        addr_format(n->plen == host ? n : &g->prefixes[from], ip, sizeof ip);
        if (rc == DNSBL_OK)
            rc = zonerr_records(g, owner, ip, &g->v.d);
        if (rc != DNSBL_OK)
            return rc;
        mine++;
    }
    if (lo < hi) {
        unsigned step = n->family == ADDR_V4 ? 8 : 4, level = n->plen + step;
        size_t stack[STORE_COVERING_MAX], depth = 0, j = lo;
        for (unsigned c = 0; c < 1u << step && rc == DNSBL_OK; c++) {
            /* Nothing spans this child: go to the next entry's. */
            if (depth == 0) {
                if (j >= hi)
                    break;
                c = zonerr_child_index(&g->prefixes[j], n->plen, step);
            }
            struct addr_prefix child = *n;
            unsigned bit = n->plen;
            /* The child's number goes into the step bits after n's. */
            for (unsigned k = 0; k < step; k++, bit++)
                if (c >> (step - 1 - k) & 1)
                    child.a[(n->family == ADDR_V4 ? 12 : 0) + bit / 8] |=
                        (uint8_t)(0x80 >> bit % 8);
            child.plen = (uint8_t)level;
            while (depth && !addr_covers(&g->prefixes[stack[depth - 1]], &child))
                depth--;
            /* Entries spanning whole children start on a child's boundary. */
            while (j < hi && g->prefixes[j].plen <= level && addr_covers(&g->prefixes[j], &child)) {
                if (depth < STORE_COVERING_MAX)
                    stack[depth++] = j;
                j++;
            }
            size_t a = j;
            while (j < hi && addr_covers(&child, &g->prefixes[j]))
                j++;
            size_t inherited = depth ? stack[depth - 1] : from;
            if (a == j && inherited == from)
                continue; /* answers as n: n's wildcard, or nothing, covers it */
            size_t got = 0;
            rc = zonerr_node(g, &child, inherited, a, j, listed, &got);
            mine += got;
        }
        if (rc != DNSBL_OK)
            return rc;
    }
    if (mine == 0 && need && n->plen > 0) {
        rc = zonerr_node_owner(g, n, false, owner, sizeof owner);
        if (rc == DNSBL_OK)
            rc = zonerr_filler(g, owner);
        if (rc != DNSBL_OK)
            return rc;
        mine++;
    }
    *written += mine;
    return DNSBL_OK;
}

/* Both families' trees, from their roots. */
static int zonerr_tree(struct zonerr_gen *g)
{
    static const uint8_t zeros[16];
    static const int families[] = {ADDR_V4, ADDR_V6}; /* the order of the store */
    size_t i = 0;

    for (size_t f = 0; f < 2; f++) {
        size_t lo = i, hi = i, from = ZONERR_NONE_ENTRY, written = 0;
        while (hi < g->n && g->prefixes[hi].family == families[f])
            hi++;
        i = hi;
        struct addr_prefix root;
        addr_from_bytes(&root, families[f], zeros, 0);
        if (lo < hi && g->prefixes[lo].plen == 0)
            from = lo++;
        int rc = zonerr_node(g, &root, from, lo, hi, false, &written);
        if (rc != DNSBL_OK)
            return rc;
    }
    return DNSBL_OK;
}

int zonerr_generate(struct store *s, const struct zone_policy *zp, const char *zone, int64_t now,
                    zonerr_emit_fn emit, void *arg)
{
    struct zonerr_gen *g = calloc(1, sizeof *g);
    int rc;

    if (!g)
        return DNSBL_ENOMEM;
    *g = (struct zonerr_gen){.zp = zp, .zone = zone, .now = now, .emit = emit, .arg = arg};
    rc = s ? store_foreach(s, zonerr_collect, g) : DNSBL_OK;
    if (g->err)
        rc = g->err;
    if (rc == DNSBL_OK && s)
        rc = store_reader_open(s, &g->reader);
    if (rc == DNSBL_OK)
        rc = zonerr_testpoint(g);
    if (rc == DNSBL_OK)
        rc = zonerr_tree(g);
    if (g->reader)
        store_reader_close(g->reader);
    free(g->prefixes);
    free(g);
    return rc;
}
