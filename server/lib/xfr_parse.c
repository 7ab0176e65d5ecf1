/* xfr_parse: zone transfer messages into per-prefix changes (xfr_parse.h).
 * The stream rules are RFC 5936 (AXFR: SOA, records, the same SOA) and
 * RFC 1995 (IXFR: new SOA, then per version the old SOA and what left,
 * the next SOA and what came, and the new SOA again; or AXFR-style). */
#include "xfr_parse.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "grow.h"
#include "wire.h"

#define T_A 1
#define T_SOA 6
#define T_TXT 16
#define C_IN 1
#define NAME_TEXT_MAX 1024

enum phase {
    PH_START = 0, /* nothing yet: the first record must be the SOA */
    PH_SECOND,    /* after the first SOA: tells AXFR-style from incremental */
    PH_FULL,      /* a whole zone's records */
    PH_DEL,       /* IXFR: records leaving */
    PH_ADD,       /* IXFR: records coming */
    PH_DONE,
};

struct xfr_parser {
    uint8_t zone[255]; /* wire, lower case */
    size_t zone_len;
    char zone_text[256];
    bool ixfr, have;
    uint32_t have_serial;
    enum phase ph;
    enum xfr_style style;
    struct xfr_soa soa;   /* the first SOA: the version the transfer ends at */
    uint32_t step_serial; /* IXFR: the version of the current difference */
    unsigned msgno;
    size_t records;
    size_t skipped; /* records at names that are not addresses (glue, www) */
    bool failed;
    struct xfr_change *ch;
    size_t nch, capch;
    uint32_t *slot; /* hash of prefix -> index + 1 into ch */
    size_t nslot;
};

bool xfr_serial_newer(uint32_t a, uint32_t b)
{
    return a != b && (uint32_t)(a - b) < 0x80000000u;
}

/* Text name to lower-case wire form. */
static bool zone_to_wire(const char *text, uint8_t *w, size_t *wl)
{
    size_t tl = strlen(text), o = 0, lab = 0;
    if (tl && text[tl - 1] == '.')
        tl--;
    if (tl == 0) {
        w[0] = 0;
        *wl = 1;
        return true;
    }
    if (tl + 2 > 255)
        return false;
    for (size_t i = 0; i <= tl; i++) {
        if (i == tl || text[i] == '.') {
            size_t ll = i - lab;
            if (ll == 0 || ll > 63)
                return false;
            w[o++] = (uint8_t)ll;
            for (size_t j = lab; j < i; j++)
                w[o++] = (uint8_t)tolower((unsigned char)text[j]);
            lab = i + 1;
        }
    }
    w[o++] = 0;
    *wl = o;
    return true;
}

struct xfr_parser *xfr_parser_new(const char *zone, bool ixfr, bool have, uint32_t have_serial)
{
    struct xfr_parser *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    if (!zone_to_wire(zone, p->zone, &p->zone_len)) {
        free(p);
        return NULL;
    }
    snprintf(p->zone_text, sizeof p->zone_text, "%s", zone);
    size_t l = strlen(p->zone_text);
    if (l && p->zone_text[l - 1] == '.')
        p->zone_text[l - 1] = '\0';
    p->ixfr = ixfr;
    p->have = have;
    p->have_serial = have_serial;
    return p;
}

void xfr_parser_free(struct xfr_parser *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nch; i++) {
        struct xfr_change *c = &p->ch[i];
        for (unsigned k = 0; k < c->ntadd; k++)
            free(c->tadd[k]);
        for (unsigned k = 0; k < c->ntdel; k++)
            free(c->tdel[k]);
    }
    free(p->ch);
    free(p->slot);
    free(p);
}

bool xfr_parser_done(const struct xfr_parser *p)
{
    return p->ph == PH_DONE;
}

enum xfr_style xfr_parser_style(const struct xfr_parser *p)
{
    return p->style;
}

const struct xfr_soa *xfr_parser_soa(const struct xfr_parser *p)
{
    return &p->soa;
}

size_t xfr_parser_skipped(const struct xfr_parser *p)
{
    return p->skipped;
}

static int hexval(uint8_t c);

_Static_assert(XFR_VALUES == ENTRY_PARTS_MAX, "one dataset part per value a name keeps");

/* Is some label of the relative name lab neither decimal, one hex digit
 * nor "*"? Such a name (ns1, www: the zone file's own data beside the
 * listings, RFC 5782 keeps them apart) is no attempt at an address. */
static bool labels_not_address(const uint8_t *lab, size_t len)
{
    for (size_t at = 0; at < len; at += 1 + (size_t)lab[at]) {
        size_t n = lab[at];
        bool digits = n > 0;
        for (size_t j = 0; j < n; j++)
            digits = digits && isdigit(lab[at + 1 + j]);
        if (!digits && !(n == 1 && (lab[at + 1] == '*' || hexval(lab[at + 1]) >= 0)))
            return true;
    }
    return false;
}

size_t xfr_parser_records(const struct xfr_parser *p)
{
    return p->records;
}

static int cmp_change(const void *x, const void *y)
{
    return addr_compare(&((const struct xfr_change *)x)->prefix,
                        &((const struct xfr_change *)y)->prefix);
}

const struct xfr_change *xfr_parser_changes(const struct xfr_parser *p, size_t *n)
{
    /* Sorted once, at the end: the hash's indexes are not needed then. */
    struct xfr_parser *m = (struct xfr_parser *)(uintptr_t)p;
    if (m->slot && m->ph == PH_DONE) {
        qsort(m->ch, m->nch, sizeof *m->ch, cmp_change);
        free(m->slot);
        m->slot = NULL;
        m->nslot = 0;
    }
    *n = p->nch;
    return p->ch;
}

/* ---- names ---- */

/* A possibly compressed name at *pos into lower-case wire form. */
static bool read_name(const uint8_t *msg, size_t len, size_t *pos, uint8_t *out, size_t *olen)
{
    size_t at = *pos, o = 0;
    bool jumped = false;
    unsigned hops = 0;
    for (;;) {
        if (at >= len)
            return false;
        uint8_t l = msg[at];
        if ((l & 0xc0) == 0xc0) {
            if (at + 1 >= len || ++hops > 128)
                return false;
            size_t to = ((size_t)(l & 0x3f) << 8) | msg[at + 1];
            if (!jumped)
                *pos = at + 2;
            jumped = true;
            if (to >= at)
                return false;
            at = to;
            continue;
        }
        if ((l & 0xc0) || at + 1 + l > len || o + 1 + l > 255)
            return false;
        out[o++] = l;
        for (size_t i = 0; i < l; i++)
            out[o++] = (uint8_t)tolower(msg[at + 1 + i]);
        at += 1 + (size_t)l;
        if (l == 0)
            break;
    }
    if (!jumped)
        *pos = at;
    *olen = o;
    return true;
}

static void name_text(const uint8_t *w, char *out, size_t cap)
{
    size_t o = 0;
    if (w[0] == 0) {
        snprintf(out, cap, ".");
        return;
    }
    while (*w && o + 1 < cap) {
        uint8_t l = *w++;
        for (unsigned i = 0; i < l && o + 5 < cap; i++, w++) {
            if (*w > 32 && *w < 127 && *w != '.' && *w != '\\')
                out[o++] = (char)*w;
            else
                o += (size_t)snprintf(out + o, cap - o, "\\%03u", *w);
        }
        if (o + 1 < cap)
            out[o++] = '.';
    }
    out[o] = '\0';
}

/* Is name (wire) in the zone: its labels before the zone's, in *rel_len. */
static bool in_zone(const struct xfr_parser *p, const uint8_t *name, size_t nlen, size_t *rel_len)
{
    if (nlen < p->zone_len || memcmp(name + nlen - p->zone_len, p->zone, p->zone_len) != 0)
        return false;
    /* the match must start at a label boundary */
    size_t at = 0, want = nlen - p->zone_len;
    while (at < want)
        at += 1 + (size_t)name[at];
    if (at != want)
        return false;
    *rel_len = want;
    return true;
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Labels (wire, before the zone) into a prefix: "*" first for a whole
 * prefix, then reversed octets (IPv4, 1 to 4) or nibbles (IPv6, 1 to 32);
 * 1 to 3 decimal labels are IPv4. A name without "*" and short of a whole
 * address stands for its prefix too: records there (an HINFO) stop a
 * wildcard above from covering anything below it (RFC 4592 2.2.1). */
static bool labels_prefix(const uint8_t *lab, size_t len, struct addr_prefix *out, bool *wild)
{
    const uint8_t *lp[40];
    size_t n = 0, at = 0;
    *wild = false;
    while (at < len) {
        if (n == 40)
            return false;
        lp[n++] = lab + at;
        at += 1 + (size_t)lab[at];
    }
    size_t first = 0;
    if (n && lp[0][0] == 1 && lp[0][1] == '*') {
        *wild = true;
        first = 1;
    }
    size_t k = n - first; /* address labels, most specific first */
    if (k == 0)
        return false;
    bool v4 = k <= 4;
    uint8_t b[16] = {0};
    for (size_t i = 0; v4 && i < k; i++) {
        const uint8_t *l = lp[first + i];
        unsigned v = 0;
        if (l[0] == 0 || l[0] > 3)
            v4 = false;
        for (unsigned j = 0; v4 && j < l[0]; j++) {
            if (!isdigit(l[1 + j]))
                v4 = false;
            v = v * 10 + (unsigned)(l[1 + j] - '0');
        }
        if (v > 255)
            v4 = false;
        b[k - 1 - i] = (uint8_t)v;
    }
    if (v4 && (k < 4 || !*wild)) {
        addr_from_bytes(out, ADDR_V4, b, (unsigned)(8 * k));
        return true;
    }
    if (k > 32 || (k == 32 && *wild))
        return false;
    memset(b, 0, sizeof b);
    for (size_t i = 0; i < k; i++) {
        const uint8_t *l = lp[first + i];
        int h = l[0] == 1 ? hexval(l[1]) : -1;
        if (h < 0)
            return false;
        size_t nib = k - 1 - i; /* nibble index from the top */
        b[nib / 2] |= (uint8_t)(nib % 2 ? h : h << 4);
    }
    addr_from_bytes(out, ADDR_V6, b, (unsigned)(4 * k));
    /* An IPv4-mapped prefix normalises to IPv4; only a whole one is kept. */
    return out->family == ADDR_V6 || out->plen % 8 == 0;
}

/* ---- the changes ---- */

static size_t hash_prefix(const struct addr_prefix *pf)
{
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < 16; i++)
        h = (h ^ pf->a[i]) * 1099511628211ull;
    h = (h ^ pf->plen) * 1099511628211ull;
    h = (h ^ pf->family) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29));
}

static bool same_prefix(const struct addr_prefix *x, const struct addr_prefix *y)
{
    return x->family == y->family && x->plen == y->plen && memcmp(x->a, y->a, 16) == 0;
}

static int rehash(struct xfr_parser *p, size_t nslot)
{
    uint32_t *s = calloc(nslot, sizeof *s);
    if (!s)
        return DNSBL_ENOMEM;
    for (size_t i = 0; i < p->nch; i++) {
        size_t h = hash_prefix(&p->ch[i].prefix) & (nslot - 1);
        while (s[h])
            h = (h + 1) & (nslot - 1);
        s[h] = (uint32_t)(i + 1);
    }
    free(p->slot);
    p->slot = s;
    p->nslot = nslot;
    return DNSBL_OK;
}

static struct xfr_change *change_of(struct xfr_parser *p, const struct addr_prefix *pf)
{
    if (p->nch + 1 > p->nslot / 2 && rehash(p, p->nslot ? 2 * p->nslot : 1024) != DNSBL_OK)
        return NULL;
    size_t h = hash_prefix(pf) & (p->nslot - 1);
    while (p->slot[h]) {
        struct xfr_change *c = &p->ch[p->slot[h] - 1];
        if (same_prefix(&c->prefix, pf))
            return c;
        h = (h + 1) & (p->nslot - 1);
    }
    if (p->nch >= UINT32_MAX - 1 ||
        grow_array((void **)&p->ch, &p->capch, p->nch + 1, sizeof *p->ch, 1024) != DNSBL_OK)
        return NULL;
    struct xfr_change *c = &p->ch[p->nch++];
    memset(c, 0, sizeof *c);
    c->prefix = *pf;
    p->slot[h] = (uint32_t)p->nch;
    return c;
}

/* TXT rdata (character-strings) into a template: joined as they come,
 * "$" doubled, cut to what an entry holds. */
static char *txt_template(const uint8_t *rd, size_t rdlen, bool *ok)
{
    char buf[MODEL_TEXT_MAX];
    size_t o = 0, at = 0;
    *ok = true;
    while (at < rdlen) {
        size_t l = rd[at++];
        if (at + l > rdlen) {
            *ok = false;
            return NULL;
        }
        for (size_t i = 0; i < l; i++) {
            char c = (char)rd[at + i];
            size_t need = c == '$' ? 2 : 1;
            if (o + need < sizeof buf) {
                buf[o++] = c;
                if (c == '$')
                    buf[o++] = '$';
            }
        }
        at += l;
    }
    buf[o] = '\0';
    return strdup(buf);
}

static int fail(struct xfr_parser *p, char *why, size_t whylen, const char *fmt, const char *a,
                const char *b)
{
    char msg[4096];
    snprintf(msg, sizeof msg, fmt, a, b);
    if (why)
        snprintf(why, whylen, "message %u: %s", p->msgno, msg);
    p->failed = true;
    return DNSBL_EINVAL;
}

static bool read_soa(const uint8_t *msg, size_t len, size_t at, size_t rdlen, struct xfr_soa *s)
{
    uint8_t nm[255];
    size_t nl, pos = at;
    if (!read_name(msg, len, &pos, nm, &nl) || !read_name(msg, len, &pos, nm, &nl))
        return false;
    if (pos + 20 != at + rdlen)
        return false;
    struct wire w;
    wire_init_ro(&w, msg + pos, 20);
    s->serial = wire_get_u32(&w);
    s->refresh = wire_get_u32(&w);
    s->retry = wire_get_u32(&w);
    s->expire = wire_get_u32(&w);
    s->minimum = wire_get_u32(&w);
    return true;
}

/* RRset changes (RFC 1995): an addition cancels an earlier deletion of
 * the value and a deletion an earlier addition, so the result is always
 * "held, less del, plus add" whatever the order. false: more distinct
 * values than a name keeps. */
static bool codes_drop(uint32_t *v, uint8_t *n, uint32_t x)
{
    for (unsigned i = 0; i < *n; i++)
        if (v[i] == x) {
            v[i] = v[--*n];
            return true;
        }
    return false;
}

static bool codes_put(uint32_t *v, uint8_t *n, uint32_t x)
{
    for (unsigned i = 0; i < *n; i++)
        if (v[i] == x)
            return true;
    if (*n == XFR_VALUES)
        return false;
    v[(*n)++] = x;
    return true;
}

static bool change_code(struct xfr_change *c, uint32_t code, bool del, uint32_t ttl)
{
    if (del) {
        codes_drop(c->add, &c->nadd, code);
        return codes_put(c->del, &c->ndel, code);
    }
    codes_drop(c->del, &c->ndel, code);
    c->ttl = ttl;
    return codes_put(c->add, &c->nadd, code);
}

static void texts_drop(char **v, uint8_t *n, const char *t)
{
    for (unsigned i = 0; i < *n; i++)
        if (strcmp(v[i], t) == 0) {
            free(v[i]);
            v[i] = v[--*n];
            return;
        }
}

/* Takes t (freed here when it is not kept). */
static bool texts_put(char **v, uint8_t *n, char *t)
{
    for (unsigned i = 0; i < *n; i++)
        if (strcmp(v[i], t) == 0) {
            free(t);
            return true;
        }
    if (*n == XFR_VALUES) {
        free(t);
        return false;
    }
    v[(*n)++] = t;
    return true;
}

static bool change_text(struct xfr_change *c, char *t, bool del)
{
    if (del) {
        texts_drop(c->tadd, &c->ntadd, t);
        return texts_put(c->tdel, &c->ntdel, t);
    }
    texts_drop(c->tdel, &c->ntdel, t);
    return texts_put(c->tadd, &c->ntadd, t);
}

/* One record that is not the zone's SOA, in phase ph. */
static int take_record(struct xfr_parser *p, const uint8_t *name, size_t nlen, uint16_t type,
                       uint32_t ttl, const uint8_t *rd, size_t rdlen, const char *what, char *why,
                       size_t whylen)
{
    char nt[NAME_TEXT_MAX];
    size_t rel;
    if (!in_zone(p, name, nlen, &rel)) {
        name_text(name, nt, sizeof nt);
        return fail(p, why, whylen, "%s: '%s' is outside the zone", what, nt);
    }
    if (rel == 0)
        return DNSBL_OK; /* the apex's own records (NS, TXT, ...) say nothing of addresses */
    struct addr_prefix pf;
    bool wild;
    name_text(name, nt, sizeof nt);
    if (labels_not_address(name, rel)) {
        p->skipped++;
        return DNSBL_OK;
    }
    if (!labels_prefix(name, rel, &pf, &wild))
        return fail(p, why, whylen, "%s: '%s' does not map to an address or prefix", what, nt);
    bool del = p->ph == PH_DEL;
    if (type == T_A && !wild && pf.plen != (pf.family == ADDR_V4 ? 32 : 128))
        return fail(p, why, whylen, "%s: '%s' has an A record but is no whole address", what, nt);
    struct xfr_change *c = change_of(p, &pf);
    if (!c)
        return fail(p, why, whylen, "%s: out of memory at '%s'", what, nt);
    if (type == T_A) {
        if (rdlen != 4)
            return fail(p, why, whylen, "%s: '%s': A record of the wrong length", what, nt);
        uint32_t code =
            ((uint32_t)rd[0] << 24) | ((uint32_t)rd[1] << 16) | ((uint32_t)rd[2] << 8) | rd[3];
        char ct[20];
        snprintf(ct, sizeof ct, "%u.%u.%u.%u", rd[0], rd[1], rd[2], rd[3]);
        uint32_t parsed;
        const char *bad = model_code_parse(ct, &parsed);
        if (bad && !del) {
            char m[NAME_TEXT_MAX + 128];
            snprintf(m, sizeof m, "'%s' A %s: the code %s", nt, ct, bad);
            return fail(p, why, whylen, "%s: %s", what, m);
        }
        /* RFC 5782 5: 127.0.0.1 is never listed; say which record would. */
        struct event probe = {.prefix = pf, .kind = EV_IMPORT_LIST, .time = 1};
        char refused[200];
        if (!del && model_event_refusal(&probe, nt, refused, sizeof refused) != DNSBL_OK)
            return fail(p, why, whylen, "%s: %s", what, refused);
        if (!change_code(c, code, del, ttl))
            return fail(p, why, whylen, "%s: '%s' has more A values than the 4 a name keeps", what,
                        nt);
    } else if (type == T_TXT) {
        bool ok;
        char *t = txt_template(rd, rdlen, &ok);
        if (!ok)
            return fail(p, why, whylen, "%s: '%s': malformed TXT record", what, nt);
        if (!t)
            return fail(p, why, whylen, "%s: out of memory at '%s'", what, nt);
        if (!change_text(c, t, del))
            return fail(p, why, whylen, "%s: '%s' has more TXT records than the 4 a name keeps",
                        what, nt);
    } else {
        c->other += del ? -1 : 1;
    }
    return DNSBL_OK;
}

/* An SOA of the zone at the apex, in the current phase. */
static int take_soa(struct xfr_parser *p, const struct xfr_soa *s, bool last, const char *what,
                    char *why, size_t whylen)
{
    char a[16], b[16];
    snprintf(a, sizeof a, "%u", s->serial);
    switch (p->ph) {
    case PH_START:
        p->soa = *s;
        snprintf(b, sizeof b, "%u", p->have_serial);
        if (p->have && xfr_serial_newer(p->have_serial, s->serial))
            return fail(p, why, whylen, "serial going backwards: the primary has %s, we have %s", a,
                        b);
        if (p->ixfr && p->have && s->serial == p->have_serial && last) {
            p->style = XFR_UPTODATE;
            p->ph = PH_DONE;
            return DNSBL_OK;
        }
        p->ph = PH_SECOND;
        return DNSBL_OK;
    case PH_SECOND:
        if (s->serial == p->soa.serial && last) { /* an empty zone, AXFR-style */
            p->style = XFR_FULL;
            p->ph = PH_DONE;
            return DNSBL_OK;
        }
        if (!p->ixfr)
            return fail(p, why, whylen, "%s: SOA serial %s in the middle of an AXFR%s", what, a);
        snprintf(b, sizeof b, "%u", p->have_serial);
        if (!p->have || s->serial != p->have_serial)
            return fail(p, why, whylen, "IXFR differences start at serial %s, we have %s", a, b);
        p->style = XFR_INCR;
        p->step_serial = s->serial;
        p->ph = PH_DEL;
        return DNSBL_OK;
    case PH_FULL:
        snprintf(b, sizeof b, "%u", p->soa.serial);
        if (s->serial != p->soa.serial)
            return fail(p, why, whylen, "the last SOA has serial %s, the first %s", a, b);
        if (!last)
            return fail(p, why, whylen, "%s: records after the closing SOA%s", what, "");
        p->ph = PH_DONE;
        return DNSBL_OK;
    case PH_DEL:
        /* the version this difference leads to: newer, not past the end */
        snprintf(b, sizeof b, "%u", p->step_serial);
        if (!xfr_serial_newer(s->serial, p->step_serial) ||
            xfr_serial_newer(s->serial, p->soa.serial))
            return fail(p, why, whylen, "IXFR difference from serial %s to %s goes backwards", b,
                        a);
        p->step_serial = s->serial;
        p->ph = PH_ADD;
        return DNSBL_OK;
    case PH_ADD:
        if (p->step_serial == p->soa.serial) {
            snprintf(b, sizeof b, "%u", p->soa.serial);
            if (s->serial != p->soa.serial)
                return fail(p, why, whylen, "the last SOA has serial %s, the first %s", a, b);
            if (!last)
                return fail(p, why, whylen, "%s: records after the closing SOA%s", what, "");
            p->ph = PH_DONE;
            return DNSBL_OK;
        }
        snprintf(b, sizeof b, "%u", p->step_serial);
        if (s->serial != p->step_serial)
            return fail(p, why, whylen, "IXFR difference starts at serial %s, expected %s", a, b);
        p->ph = PH_DEL;
        return DNSBL_OK;
    case PH_DONE:
        break;
    }
    return fail(p, why, whylen, "%s: records after the closing SOA%s", what, "");
}

int xfr_parser_feed(struct xfr_parser *p, const uint8_t *msg, size_t len, char *why, size_t whylen)
{
    char what[64];
    p->msgno++;
    if (p->failed)
        return fail(p, why, whylen, "the transfer already failed%s%s", "", "");
    if (p->ph == PH_DONE)
        return fail(p, why, whylen, "a message after the closing SOA%s%s", "", "");
    if (len < 12)
        return fail(p, why, whylen, "truncated message (%s bytes)%s", len ? "under 12" : "0", "");
    struct wire w;
    wire_init_ro(&w, msg, len);
    w.pos += 2;
    uint16_t flags = wire_get_u16(&w);
    uint16_t qd = wire_get_u16(&w), an = wire_get_u16(&w);
    if (!(flags & 0x8000))
        return fail(p, why, whylen, "not an answer (QR clear)%s%s", "", "");
    if (flags & 0x0200)
        return fail(p, why, whylen, "truncated message (TC set)%s%s", "", "");
    if (flags & 0x000f) {
        static const char *const rc[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                         "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
                                         "NXRRSET", "NOTAUTH", "NOTZONE"};
        unsigned r = flags & 0x000f;
        return fail(p, why, whylen, "the primary answered %s%s", r < 11 ? rc[r] : "an error", "");
    }
    size_t pos = 12;
    uint8_t nm[255];
    size_t nl;
    for (unsigned i = 0; i < qd; i++) {
        if (!read_name(msg, len, &pos, nm, &nl) || pos + 4 > len)
            return fail(p, why, whylen, "truncated message (question)%s%s", "", "");
        pos += 4;
    }
    if (an == 0)
        return fail(p, why, whylen, "no records%s%s", "", "");
    for (unsigned i = 0; i < an; i++) {
        snprintf(what, sizeof what, "record %u", i + 1);
        if (p->ph == PH_DONE)
            return fail(p, why, whylen, "%s: records after the closing SOA%s", what, "");
        if (!read_name(msg, len, &pos, nm, &nl) || pos + 10 > len)
            return fail(p, why, whylen, "%s: truncated message%s", what, "");
        wire_init_ro(&w, msg + pos, 10);
        uint16_t type = wire_get_u16(&w), cls = wire_get_u16(&w);
        uint32_t ttl = wire_get_u32(&w);
        uint16_t rdlen = wire_get_u16(&w);
        pos += 10;
        if (pos + rdlen > len)
            return fail(p, why, whylen, "%s: truncated message%s", what, "");
        p->records++;
        /* A TSIG or OPT record may follow in other sections: only the
         * answer section counts for the last record. */
        bool last = i + 1 == an;
        if (cls != C_IN) {
            char nt[NAME_TEXT_MAX];
            name_text(nm, nt, sizeof nt);
            return fail(p, why, whylen, "%s: '%s' is not of class IN", what, nt);
        }
        int rc;
        if (type == T_SOA) {
            size_t rel;
            struct xfr_soa s;
            char nt[NAME_TEXT_MAX];
            name_text(nm, nt, sizeof nt);
            if (!in_zone(p, nm, nl, &rel) || rel != 0)
                return fail(p, why, whylen, "%s: SOA of '%s', not of the zone", what, nt);
            if (!read_soa(msg, len, pos, rdlen, &s))
                return fail(p, why, whylen, "%s: malformed SOA of '%s'", what, nt);
            rc = take_soa(p, &s, last, what, why, whylen);
        } else if (p->ph == PH_START) {
            return fail(p, why, whylen, "%s: the transfer does not start with the zone's SOA%s",
                        what, "");
        } else {
            if (p->ph == PH_SECOND) {
                p->style = XFR_FULL;
                p->ph = PH_FULL;
            }
            rc = take_record(p, nm, nl, type, ttl, msg + pos, rdlen, what, why, whylen);
        }
        if (rc != DNSBL_OK)
            return rc;
        pos += rdlen;
    }
    return DNSBL_OK;
}

static int code_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int text_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

size_t xfr_change_events(const struct xfr_change *c, const struct xfr_have *old, bool full,
                         const char *const *datasets, int64_t now, struct event *ev)
{
    static const struct xfr_have none[XFR_VALUES];
    if (full || !old)
        old = none;
    /* What the store held, less what left, plus what came. */
    uint32_t codes[2 * XFR_VALUES];
    const char *texts[2 * XFR_VALUES];
    uint8_t nc = 0, nt = 0;
    uint32_t ttl = c->nadd ? c->ttl : 0;
    for (unsigned k = 0; k < XFR_VALUES; k++) {
        if (old[k].listed) {
            bool gone = false;
            for (unsigned i = 0; i < c->ndel; i++)
                gone = gone || c->del[i] == old[k].code;
            if (!gone)
                codes[nc++] = old[k].code;
            if (!c->nadd && !ttl)
                ttl = old[k].ttl;
        }
        if (old[k].txt) {
            bool gone = false;
            for (unsigned i = 0; i < c->ntdel; i++)
                gone = gone || strcmp(c->tdel[i], old[k].txt) == 0;
            if (!gone)
                texts[nt++] = old[k].txt;
        }
    }
    for (unsigned i = 0; i < c->nadd; i++) {
        bool held = false;
        for (unsigned j = 0; j < nc; j++)
            held = held || codes[j] == c->add[i];
        if (!held)
            codes[nc++] = c->add[i];
    }
    for (unsigned i = 0; i < c->ntadd; i++) {
        bool held = false;
        for (unsigned j = 0; j < nt; j++)
            held = held || strcmp(texts[j], c->tadd[i]) == 0;
        if (!held)
            texts[nt++] = c->tadd[i];
    }
    qsort(codes, nc, sizeof *codes, code_cmp);
    qsort(texts, nt, sizeof *texts, text_cmp);
    if (nc > XFR_VALUES)
        nc = XFR_VALUES; /* more than a name keeps: the lowest codes */
    if (nt > XFR_VALUES)
        nt = XFR_VALUES;
    int other = c->other + (old[0].excluded ? 1 : 0);
    size_t n = 0;
    for (unsigned k = 0; k < XFR_VALUES; k++) {
        struct event *e = &ev[n];
        memset(e, 0, sizeof *e);
        e->prefix = c->prefix;
        e->time = now;
        e->dataset = datasets[k];
        e->source = "pull";
        if (k < nc) {
            e->kind = EV_IMPORT_LIST;
            e->code = codes[k];
            e->ttl = ttl;
            e->txt = k < nt ? texts[k] : NULL;
        } else if (k == 0 && (other > 0 || nt > 0)) {
            /* Names that answer no A: not listed here, inside a wildcard. */
            e->kind = EV_IMPORT_EXCLUDE;
        } else if (!full && (old[k].listed || old[k].excluded)) {
            e->kind = EV_IMPORT_REMOVE;
        } else {
            continue;
        }
        n++;
    }
    return n;
}

bool xfr_change_event(const struct xfr_change *c, const struct xfr_have *old, bool full,
                      const char *dataset, int64_t now, struct event *ev)
{
    struct xfr_have olds[XFR_VALUES] = {{0}};
    const char *const ds[XFR_VALUES] = {dataset, dataset, dataset, dataset};
    struct event evs[XFR_VALUES];
    if (old)
        olds[0] = *old;
    size_t n = xfr_change_events(c, olds, full, ds, now, evs);
    if (n == 0)
        return false;
    *ev = evs[0];
    return true;
}
