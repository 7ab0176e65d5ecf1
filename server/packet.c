/* packet: parse one query, decide, write one answer.
 *
 * This is the measured hot path, so the wire format is handled by hand
 * (through the bounds-checked cursor of wire.h) instead of by ldns: no
 * allocation, no copy of the packet beyond the answer itself. Every record
 * except A and TXT answers for addresses was rendered once at zone load
 * (zone.c); here they are copied behind a compression pointer. */
#include "packet.h"

#include <arpa/inet.h>
#include <string.h>
#include <time.h>

#include "acl.h"
#include "addr.h"
#include "dns.h"
#include "err.h"
#include "sock.h"
#include "tsig.h"
#include "verdict.h"
#include "wire.h"
#include "xfr.h"

#define OPT_RR_LEN 11 /* root name, type, class, ttl, rdlength */
#define TXT_MAX 1024  /* rendered TXT text: four character-strings at most */

/* What the parser learned from the query. */
struct query {
    uint16_t id;
    uint16_t flags;
    uint16_t qtype;
    uint16_t qclass;
    size_t qend;            /* offset just past the question in the packet */
    struct zone_qname name; /* as sent, with its label offsets */
    bool edns;
    bool edns_do;
    uint8_t edns_version;
    uint16_t edns_size;
    bool tsig;       /* the last additional record is a TSIG ... */
    size_t tsig_off; /* ... starting here in the packet */
};

/* What a BADKEY answer echoes of the query's TSIG record (RFC 8945 5.2):
 * the names as wire bytes, uncompressed, and the fixed fields as sent. */
struct tsig_echo {
    uint8_t key[255], alg[255];
    size_t key_len, alg_len;
    uint8_t time_fudge[8]; /* time signed (48 bits) and fudge */
    uint16_t original_id;
};

/* The answer being written: header fields kept aside and patched at the end. */
struct reply {
    struct wire w;
    uint8_t *buf;
    size_t limit; /* the most we may send on this transport */
    uint16_t flags;
    uint8_t rcode; /* full 12-bit value; the upper bits go to the OPT record */
    uint16_t an, ns, ar;
    bool udp;       /* ANY is answered minimally (RFC 8482) */
    bool acl_error; /* the zone's ACL says: answer addresses with its error code */
};

/* Unaligned network-order loads and stores: memcpy and ntohs/htons let
 * the compiler use one load or store and a byte swap where the byte-wise
 * form costs a shift and a store per byte. */
static inline uint16_t packet_load_u16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return ntohs(v);
}

static inline void packet_store_u16(uint8_t *p, uint16_t v)
{
    v = htons(v);
    memcpy(p, &v, 2);
}

static inline void packet_store_u32(uint8_t *p, uint32_t v)
{
    v = htonl(v);
    memcpy(p, &v, 4);
}

/* Read the question name: labels only (a pointer here is malformed), at
 * most 255 bytes. One walk over the length bytes records where each label
 * starts; the name stays where it is, in the case it was sent: the zone
 * lookup ignores case, the address labels are digits and either-case hex,
 * and the zone file's names get a lowered copy (packet_answer_zone).
 * Returns false on any malformation. */
static bool packet_parse_qname(struct wire *w, struct query *q)
{
    const uint8_t *p = w->pos;
    size_t avail = (size_t)(w->end - w->pos), len = 0, n = 0;
    /* Every length byte lies below 255 and inside the packet; then the
     * name, its root label included, is at most 255 bytes. */
    size_t limit = avail < 255 ? avail : 255;
    for (;;) {
        if (len >= limit)
            return false;
        uint8_t l = p[len];
        q->name.off[n++] = (uint8_t)len;
        if ((uint8_t)(l - 1) >= 63) { /* the root label, or a pointer / reserved bits */
            if (l != 0)
                return false;
            break;
        }
        len += (size_t)l + 1;
    }
    len++;
    q->name.wire = p;
    q->name.len = (uint16_t)len;
    q->name.n = (uint8_t)n;
    w->pos += len;
    return true;
}

/* The additional section of almost every query: nothing, or one OPT of
 * version 0 owned by the root (RFC 6891 6.1). False for anything else,
 * which packet_check_unusual reads with packet_parse_additional. */
static inline bool packet_parse_usual_opt(struct wire *w, uint16_t arcount, struct query *q)
{
    if (arcount == 0)
        return true;
    if (arcount != 1 || !wire_need(w, OPT_RR_LEN))
        return false;
    const uint8_t *p = w->pos;
    uint16_t rdlen = packet_load_u16(p + 9);
    if (p[0] != 0 || packet_load_u16(p + 1) != DNS_TYPE_OPT || p[6] != 0 ||
        (size_t)(w->end - p) - OPT_RR_LEN < rdlen)
        return false;
    w->pos += OPT_RR_LEN + rdlen;
    q->edns = true;
    q->edns_size = packet_load_u16(p + 3);
    q->edns_do = (packet_load_u16(p + 7) & DNS_EDNS_DO) != 0;
    return true;
}

/* Skip whole records: the answer and authority sections of a query (an
 * IXFR query carries the client's SOA in authority, RFC 1995 3). */
static bool packet_skip_records(struct wire *w, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        if (!wire_skip_name(w))
            return false;
        wire_skip(w, 8);
        wire_skip(w, wire_get_u16(w));
        if (w->err)
            return false;
    }
    return true;
}

/* Walk the additional section for an OPT record (RFC 6891) and a TSIG
 * record (RFC 8945). More than one OPT, or one not owned by the root, is a
 * format error and leaves no OPT to echo; so is a TSIG that is not the
 * last record (RFC 8945 5.1). */
static bool packet_parse_additional(struct wire *w, uint16_t arcount, struct query *q)
{
    for (uint16_t i = 0; i < arcount; i++) {
        const uint8_t *start = w->pos;
        bool root = w->pos < w->end && *w->pos == 0;
        if (!wire_skip_name(w))
            return false;
        uint16_t type = wire_get_u16(w);
        uint16_t cls = wire_get_u16(w);
        uint32_t ttl = wire_get_u32(w);
        uint16_t rdlen = wire_get_u16(w);
        wire_skip(w, rdlen);
        if (w->err)
            return false;
        if (type != DNS_TYPE_OPT) {
            if (type != DNS_TYPE_TSIG)
                continue;
            if (i != arcount - 1)
                return false;
            q->tsig = true;
            q->tsig_off = (size_t)(start - w->base);
            continue;
        }
        if (q->edns || !root) {
            q->edns = false;
            return false;
        }
        q->edns = true;
        q->edns_size = cls;
        q->edns_version = (uint8_t)(ttl >> 16);
        q->edns_do = (ttl & DNS_EDNS_DO) != 0;
    }
    return true;
}

/* Copy the name at off in msg to dst as uncompressed wire bytes, following
 * compression pointers (RFC 1035 4.1.4); *next is where it ends in msg.
 * False when malformed or longer than 255 bytes. */
static bool packet_expand_name(const uint8_t *msg, size_t msglen, size_t off, uint8_t dst[255],
                               size_t *dst_len, size_t *next)
{
    size_t len = 0;
    bool jumped = false;
    for (int hops = 0; hops < 64;) {
        if (off >= msglen)
            return false;
        uint8_t l = msg[off];
        if ((l & 0xc0) == 0xc0) {
            if (off + 1 >= msglen)
                return false;
            if (!jumped)
                *next = off + 2;
            jumped = true;
            off = ((size_t)(l & 0x3f) << 8) | msg[off + 1];
            hops++;
            continue;
        }
        if ((l & 0xc0) || len + l + 1 > 255 || off + l + 1 > msglen)
            return false;
        memcpy(dst + len, msg + off, (size_t)l + 1);
        len += (size_t)l + 1;
        off += (size_t)l + 1;
        if (l == 0) {
            if (!jumped)
                *next = off;
            *dst_len = len;
            return true;
        }
    }
    return false;
}

/* Read the fields a BADKEY answer echoes from the TSIG record at off
 * (RFC 8945 4.2: algorithm name, time signed, fudge, MAC size and MAC,
 * original ID, error, other length and data). False when the record does
 * not hold exactly those: a format error. */
static bool packet_parse_tsig(const uint8_t *in, size_t inlen, size_t off, struct tsig_echo *t)
{
    struct wire w;
    size_t pos;
    if (!packet_expand_name(in, inlen, off, t->key, &t->key_len, &pos))
        return false;
    wire_init_ro(&w, in, inlen);
    w.pos += pos;
    wire_skip(&w, 8); /* type, class, TTL */
    uint16_t rdlen = wire_get_u16(&w);
    if (!wire_need(&w, rdlen))
        return false;
    size_t rdend = wire_used(&w) + rdlen;
    if (!packet_expand_name(in, rdend, wire_used(&w), t->alg, &t->alg_len, &pos))
        return false;
    w.pos = w.base + pos;
    w.end = w.base + rdend;
    if (!wire_need(&w, sizeof(t->time_fudge)))
        return false;
    memcpy(t->time_fudge, w.pos, sizeof(t->time_fudge));
    w.pos += sizeof(t->time_fudge);
    wire_skip(&w, wire_get_u16(&w)); /* the MAC */
    t->original_id = wire_get_u16(&w);
    wire_skip(&w, 2);                /* error */
    wire_skip(&w, wire_get_u16(&w)); /* other data */
    return !w.err && w.pos == w.end;
}

static void reply_begin(struct reply *r, const struct query *q, uint8_t *out, size_t limit)
{
    r->buf = out;
    r->limit = limit;
    r->flags = (uint16_t)(DNS_FLAG_QR | (q->flags & (DNS_FLAG_OPCODE | DNS_FLAG_RD | DNS_FLAG_CD)));
    r->rcode = DNS_RCODE_NOERROR;
    r->an = r->ns = r->ar = 0;
    /* Keep room for the OPT record so it can always be added last. */
    wire_init(&r->w, out, limit - (q->edns ? OPT_RR_LEN : 0));
    wire_skip(&r->w, DNS_HEADER_LEN);
}

/* One pre-rendered record set, each record behind its owner: a compression
 * pointer to ptr when the owner is already in the packet, else (glue) the
 * owner written out. False if it did not fit. */
static bool reply_put_rrset(struct reply *r, uint16_t ptr, const struct zone_rrset *set)
{
    struct wire in;
    if (set->count == 1) {
        /* The usual case (the SOA in every negative answer): no walk. */
        if (ptr)
            wire_put_u16(&r->w, (uint16_t)(0xc000 | ptr));
        else
            wire_put_bytes(&r->w, set->owner, set->owner_len);
        wire_put_bytes(&r->w, set->rrs, set->rrs_len);
        return !r->w.err;
    }
    wire_init_ro(&in, set->rrs, set->rrs_len);
    for (uint16_t i = 0; i < set->count; i++) {
        uint8_t *start = in.pos;
        wire_skip(&in, 8);
        wire_skip(&in, wire_get_u16(&in));
        if (ptr)
            wire_put_u16(&r->w, (uint16_t)(0xc000 | ptr));
        else
            wire_put_bytes(&r->w, set->owner, set->owner_len);
        wire_put_bytes(&r->w, start, (size_t)(in.pos - start));
    }
    return !r->w.err;
}

/* Most answers are one A record: its 16 bytes take one bounds check. */
static void reply_put_a(struct reply *r, uint32_t ttl, uint32_t addr)
{
    static const uint8_t head[6] = {0xc0, DNS_HEADER_LEN, 0, DNS_TYPE_A, 0, DNS_CLASS_IN};
    if (!wire_need(&r->w, 16))
        return;
    uint8_t *p = r->w.pos;
    memcpy(p, head, sizeof head);
    packet_store_u32(p + 6, ttl);
    p[10] = 0;
    p[11] = 4;
    packet_store_u32(p + 12, addr);
    r->w.pos += 16;
    r->an++;
}

/* TXT text longer than 255 bytes goes out as several character-strings,
 * which clients concatenate (RFC 7208 3.3 does the same for SPF). */
static void reply_put_txt(struct reply *r, uint32_t ttl, const char *text, size_t len)
{
    size_t strings = len ? (len + 254) / 255 : 1;
    wire_put_u16(&r->w, 0xc000 | DNS_HEADER_LEN);
    wire_put_u16(&r->w, DNS_TYPE_TXT);
    wire_put_u16(&r->w, DNS_CLASS_IN);
    wire_put_u32(&r->w, ttl);
    wire_put_u16(&r->w, (uint16_t)(len + strings));
    size_t off = 0;
    do {
        size_t n = len - off > 255 ? 255 : len - off;
        wire_put_u8(&r->w, (uint8_t)n);
        wire_put_bytes(&r->w, text + off, n);
        off += n;
    } while (off < len);
    r->an++;
}

/* The SOA just written ends with serial, refresh, retry, expire and
 * minimum (RFC 1035 3.3.13): once the zone is published its serial is
 * the published one (zone.h), patched in here. */
static inline void reply_patch_serial(struct reply *r, const struct zone *z)
{
    uint64_t p = atomic_load_explicit(&((struct zone *)z)->pub, memory_order_relaxed);
    if (p != 0 && !r->w.err)
        packet_store_u32(r->w.pos - 20, (uint32_t)p);
}

static void reply_put_soa_authority(struct reply *r, const struct zone *z, size_t apex_off)
{
    if (reply_put_rrset(r, (uint16_t)(DNS_HEADER_LEN + apex_off), &z->soa_neg)) {
        r->ns++;
        reply_patch_serial(r, z);
    }
}

/* After reply_finish: the TSIG record of a NOTAUTH answer to a query
 * signed with a key we do not have, unsigned, MAC size 0, error BADKEY,
 * the rest echoed (RFC 8945 5.2, 5.3.2). It goes after the OPT: TSIG must
 * be the last record (RFC 8945 5.1). Returns the answer's new length. */
static size_t reply_add_tsig_badkey(struct reply *r, const struct tsig_echo *t, bool *truncated)
    __attribute__((noinline, cold));
static size_t reply_add_tsig_badkey(struct reply *r, const struct tsig_echo *t, bool *truncated)
{
    uint8_t *mark = r->w.pos;
    r->w.end = r->buf + r->limit;
    wire_put_bytes(&r->w, t->key, t->key_len);
    wire_put_u16(&r->w, DNS_TYPE_TSIG);
    wire_put_u16(&r->w, DNS_CLASS_ANY);
    wire_put_u32(&r->w, 0);
    wire_put_u16(&r->w, (uint16_t)(t->alg_len + sizeof(t->time_fudge) + 8));
    wire_put_bytes(&r->w, t->alg, t->alg_len);
    wire_put_bytes(&r->w, t->time_fudge, sizeof(t->time_fudge));
    wire_put_u16(&r->w, 0); /* MAC size */
    wire_put_u16(&r->w, t->original_id);
    wire_put_u16(&r->w, DNS_RCODE_BADKEY);
    wire_put_u16(&r->w, 0); /* other length */
    if (!r->w.err) {
        packet_store_u16(r->buf + 10, (uint16_t)(r->ar + 1));
        return wire_used(&r->w);
    }
    /* Long names over plain UDP: the client retries over TCP. */
    r->w.err = false;
    r->w.pos = mark;
    packet_store_u16(r->buf + 2, (uint16_t)(packet_load_u16(r->buf + 2) | DNS_FLAG_TC));
    *truncated = true;
    return wire_used(&r->w);
}

/* Close the answer: truncate if it overflowed, add OPT, patch the header. */
static size_t reply_finish(struct reply *r, const struct query *q, size_t qend, bool *truncated)
{
    if (r->w.err) {
        /* Whole sections go; the client retries over TCP (RFC 2181 9). */
        r->w.err = false;
        r->w.pos = r->buf + qend;
        r->an = r->ns = r->ar = 0;
        r->flags |= DNS_FLAG_TC;
        *truncated = true;
    }
    if (q->edns) {
        r->w.end = r->buf + r->limit;
        wire_put_u8(&r->w, 0);
        wire_put_u16(&r->w, DNS_TYPE_OPT);
        wire_put_u16(&r->w, PACKET_EDNS_SIZE);
        wire_put_u32(&r->w, ((uint32_t)(r->rcode >> 4) << 24) | (q->edns_do ? DNS_EDNS_DO : 0));
        wire_put_u16(&r->w, 0);
        r->ar++;
    }
    /* The buffer always holds a header (outcap >= 512): no bounds checks. */
    packet_store_u16(r->buf, q->id);
    packet_store_u16(r->buf + 2, (uint16_t)(r->flags | (r->rcode & 0x0f)));
    packet_store_u16(r->buf + 4, qend > DNS_HEADER_LEN ? 1 : 0);
    packet_store_u16(r->buf + 6, r->an);
    packet_store_u16(r->buf + 8, r->ns);
    packet_store_u16(r->buf + 10, r->ar);
    return wire_used(&r->w);
}

/* Answer a name that the zone file holds, or its empty non-terminal. */
static void packet_answer_file(struct reply *r, const struct query *q, const struct zone *z,
                               size_t apex_off, size_t first, size_t n)
{
    const struct zone_rrset *glue = NULL;
    r->flags |= DNS_FLAG_AA;
    if (q->qtype == DNS_TYPE_ANY && r->udp) {
        /* RFC 8482 4.1: one RRset is a valid answer to ANY, and a small
         * one gives a spoofed ANY flood nothing to amplify. */
        const struct zone_rrset *one = apex_off == 0 ? &z->soa : &z->sets[first];
        if (reply_put_rrset(r, DNS_HEADER_LEN, one)) {
            r->an = (uint16_t)(r->an + one->count);
            if (one->type == DNS_TYPE_SOA)
                reply_patch_serial(r, z);
        }
        return;
    }
    for (size_t i = first; i < first + n; i++) {
        const struct zone_rrset *set = &z->sets[i];
        if (q->qtype != DNS_TYPE_ANY && q->qtype != set->type)
            continue;
        if (reply_put_rrset(r, DNS_HEADER_LEN, set)) {
            r->an = (uint16_t)(r->an + set->count);
            if (set->type == DNS_TYPE_SOA)
                reply_patch_serial(r, z);
        }
        if (set->nadditional)
            glue = set;
    }
    if (r->an == 0) {
        reply_put_soa_authority(r, z, apex_off);
        return;
    }
    if (!glue || r->w.err)
        return;
    /* Glue is optional: if it does not fit, leave it out without TC. */
    uint8_t *mark = r->w.pos;
    uint16_t ar = r->ar;
    for (size_t k = 0; k < glue->nadditional; k++) {
        const struct zone_rrset *g = &z->sets[glue->additional[k]];
        if (reply_put_rrset(r, 0, g))
            r->ar = (uint16_t)(r->ar + g->count);
    }
    if (r->w.err) {
        r->w.err = false;
        r->w.pos = mark;
        r->ar = ar;
    }
}

/* Ask the verdict module about a full address: the test points, then
 * the store and the zone's policy. False when the store could not be
 * read: "no entries" would then be a guess. */
static bool packet_decide(struct packet_ctx *ctx, const struct zone *z,
                          const struct addr_prefix *addr, const uint32_t *sub, bool texts,
                          struct verdict *v)
{
    const struct verdict_scratch sc = {.covering = ctx->covering,
                                       .covering_cap = ctx->covering_cap,
                                       .history = ctx->history,
                                       .history_cap = ctx->history_cap};
    const struct verdict_query vq = {.addr = addr,
                                     .now = ctx->now,
                                     .flags = VERDICT_TESTPOINTS | (texts ? VERDICT_TEXTS : 0),
                                     .subzone = sub};
    return verdict_decide(&sc, ctx->reader, &z->policy, &vq, v) == DNSBL_OK;
}

/* Four one-character labels that are all hex digits read as an IPv4
 * address and as a partial IPv6 name at once. */
static bool packet_also_v6_partial(const uint8_t *qname, size_t len)
{
    if (len != 8)
        return false;
    for (size_t i = 0; i < 8; i += 2) {
        uint8_t c = qname[i + 1], lc = (uint8_t)(c | 0x20);
        if (qname[i] != 1 || !((c >= '0' && c <= '9') || (lc >= 'a' && lc <= 'f')))
            return false;
    }
    return true;
}

/* The zone's ACL error answer for an address: never a listing code, and
 * the same whatever the store holds (test points included). */
static void packet_answer_acl_error(struct reply *r, const struct query *q, const struct zone *z,
                                    size_t apex_off)
{
    const struct acl *acl = &z->acl;
    if (q->qtype == DNS_TYPE_A || q->qtype == DNS_TYPE_ANY)
        reply_put_a(r, acl->error_ttl, acl->error_code ? acl->error_code : ACL_DEFAULT_ERROR_CODE);
    if ((q->qtype == DNS_TYPE_TXT || q->qtype == DNS_TYPE_ANY) && acl->error_txt[0] != '\0')
        reply_put_txt(r, acl->error_ttl, acl->error_txt, strlen(acl->error_txt));
    if (r->an == 0)
        reply_put_soa_authority(r, z, apex_off);
}

/* A full address: test points, then the store and the zone's policy. */
static void packet_answer_addr(struct packet_ctx *ctx, struct reply *r, const struct query *q,
                               const struct zone *z, size_t apex_off,
                               const struct addr_prefix *addr, const uint32_t *sub)
{
    struct verdict v;
    r->flags |= DNS_FLAG_AA;
    if (r->acl_error) {
        packet_answer_acl_error(r, q, z, apex_off);
        return;
    }
    if (!packet_decide(ctx, z, addr, sub, q->qtype == DNS_TYPE_TXT || q->qtype == DNS_TYPE_ANY,
                       &v)) {
        /* Not authoritative for what we could not read: no AA, no SOA. */
        ctx->store_failures++;
        r->flags &= (uint16_t)~DNS_FLAG_AA;
        r->rcode = DNS_RCODE_SERVFAIL;
        return;
    }
    const struct decision *d = &v.d;
    if (ctx->info)
        ctx->info->listed = d->listed;
    if (!d->listed || d->n == 0) {
        /* 1.0.0.2.bl.example is both IPv4 2.0.0.1 and the first four
         * nibbles of 2001::/16: as an IPv6 empty non-terminal it exists. */
        if (!packet_also_v6_partial(q->name.wire, apex_off))
            r->rcode = DNS_RCODE_NXDOMAIN;
        reply_put_soa_authority(r, z, apex_off);
        return;
    }
    if (q->qtype == DNS_TYPE_A || q->qtype == DNS_TYPE_ANY) {
        for (unsigned i = 0; i < d->n; i++)
            reply_put_a(r, d->ttl, d->codes[i]);
    }
    if (q->qtype == DNS_TYPE_TXT || q->qtype == DNS_TYPE_ANY) {
        char text[TXT_MAX], ip[ADDR_TEXT_MAX];
        size_t len;
        /* The test point's text names no address: no need to format it. */
        if (d->why != WHY_TESTPOINT)
            addr_format(addr, ip, sizeof(ip));
        else
            ip[0] = '\0';
        for (unsigned i = 0; i < d->n; i++) {
            /* An imported listing may have no TXT at all (rbldnsd ":A:"). */
            if (verdict_render_txt(&z->policy, d, i, ip, z->name, text, sizeof(text), &len))
                reply_put_txt(r, d->ttl, text, len);
        }
    }
    if (r->an == 0)
        reply_put_soa_authority(r, z, apex_off);
}

/* Lower case, as the importer names its datasets. Only names that are
 * no address of the zone itself come here, so a usual query never pays
 * for it. */
bool packet_parse_subzone(const uint8_t *qname, size_t apex_off, const char *zone,
                          struct addr_prefix *addr, uint32_t ids[MODEL_SUBZONE_SETS])
{
    size_t off4 = 0, off32 = 0, off = 0;
    for (unsigned n = 0; off < apex_off; n++) {
        if (n == 4)
            off4 = off;
        if (n == 32)
            off32 = off;
        off += 1u + qname[off];
    }
    if (off32 && addr_from_qname(qname, off32, addr) == ADDR_QNAME_FULL)
        off = off32;
    else if (off4 && addr_from_qname(qname, off4, addr) == ADDR_QNAME_FULL)
        off = off4;
    else
        return false;
    char name[2 * ZONE_NAME_MAX];
    size_t len = 0, zlen = strlen(zone);
    while (off < apex_off) {
        uint8_t l = qname[off++];
        for (uint8_t i = 0; i < l; i++, off++) {
            uint8_t c = qname[off];
            name[len++] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
        }
        name[len++] = '.';
    }
    if (len + zlen > sizeof(name))
        return false;
    memcpy(name + len, zone, zlen);
    model_subzone_ids(name, len + zlen, ids);
    return true;
}

/* Inside zone z: the zone file's names first, then the address space. */
static void packet_answer_zone(struct packet_ctx *ctx, struct reply *r, const struct query *q,
                               const struct zone *z, size_t apex_off)
{
    /* Address queries are longer than any name of a usual zone file: one
     * comparison skips both lookups and the lowered copy they need. */
    if (q->name.len <= zone_owner_len_max(z)) {
        uint8_t lower[ZONE_NAME_MAX];
        for (size_t i = 0; i < q->name.len; i++) {
            uint8_t c = q->name.wire[i];
            lower[i] = (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
        }
        size_t first, n = zone_find_owner(z, lower, q->name.len, &first);
        if (n) {
            packet_answer_file(r, q, z, apex_off, first, n);
            return;
        }
        if (zone_has_below(z, lower, q->name.len)) {
            r->flags |= DNS_FLAG_AA;
            reply_put_soa_authority(r, z, apex_off);
            return;
        }
    }
    r->flags |= DNS_FLAG_AA;
    struct addr_prefix addr;
    uint32_t subids[MODEL_SUBZONE_SETS];
    const uint32_t *sub = NULL;
    switch (addr_from_qname(q->name.wire, apex_off, &addr)) {
    case ADDR_QNAME_FULL:
        break;
    case ADDR_QNAME_PARTIAL:
        /* Empty non-terminal: NXDOMAIN here would hide every listing below
         * from QNAME-minimising resolvers (RFC 8020, RFC 9156). */
        reply_put_soa_authority(r, z, apex_off);
        return;
    case ADDR_QNAME_INVALID:
        if (!packet_parse_subzone(q->name.wire, apex_off, z->name, &addr, subids)) {
            r->rcode = DNS_RCODE_NXDOMAIN;
            reply_put_soa_authority(r, z, apex_off);
            return;
        }
        sub = subids;
        break;
    }
    /* One call for both kinds of address query, so that it stays inlined
     * into the usual path. */
    packet_answer_addr(ctx, r, q, z, apex_off, &addr, sub);
}

static size_t packet_udp_limit(const struct query *q, enum packet_transport t, size_t outcap)
{
    size_t limit = PACKET_TCP_MAX;
    if (t == PACKET_UDP) {
        limit = PACKET_UDP_PLAIN;
        if (q->edns && q->edns_size > PACKET_UDP_PLAIN)
            limit = q->edns_size < PACKET_EDNS_SIZE ? q->edns_size : PACKET_EDNS_SIZE;
    }
    return limit < outcap ? limit : outcap;
}

static void packet_fill_info(struct packet_info *info, const uint8_t *in, const struct query *q,
                             bool have_question)
{
    info->qname[0] = '\0';
    info->qtype = have_question ? q->qtype : 0;
    if (!have_question)
        return;
    /* Text form of the name as sent (case kept), for the query log only. */
    size_t o = 0, i = DNS_HEADER_LEN;
    while (in[i] && o + 4 < sizeof(info->qname)) {
        uint8_t l = in[i++];
        for (uint8_t k = 0; k < l && o + 4 < sizeof(info->qname); k++) {
            uint8_t c = in[i + k];
            info->qname[o++] = (c > 0x20 && c < 0x7f) ? (char)c : '?';
        }
        i += l;
        info->qname[o++] = '.';
    }
    if (o == 0)
        info->qname[o++] = '.';
    info->qname[o] = '\0';
}

/* The zone, the client's ACL, then the answer inside the zone. */
static void packet_answer_question(struct packet_ctx *ctx, struct reply *r, const struct query *q)
{
    const struct zone *z = NULL;
    size_t apex_off = 0;
    if ((uint16_t)(q->qtype - DNS_TYPE_IXFR) <= DNS_TYPE_AXFR - DNS_TYPE_IXFR) {
        /* No zone transfers (RFC 5936, RFC 1995): refused, not an empty
         * answer a secondary would take for the zone. */
        r->rcode = DNS_RCODE_REFUSED;
        return;
    }
    if (q->qclass == DNS_CLASS_IN || q->qclass == DNS_CLASS_ANY)
        z = ctx->zones ? zoneset_find(ctx->zones, &q->name, &apex_off) : NULL;
    if (!z) {
        r->rcode = DNS_RCODE_REFUSED;
        return;
    }
    enum acl_action act = ACL_ALLOW;
    if (ctx->client && z->acl.n > 0)
        act = acl_match(&z->acl, ctx->client);
    if (act == ACL_REFUSE) {
        r->rcode = DNS_RCODE_REFUSED;
        return;
    }
    r->acl_error = act == ACL_ERROR;
    packet_answer_zone(ctx, r, q, z, apex_off);
}

/* The rcode for a query that is not one question, no answer or authority
 * records and at most an OPT of version 0 (the test in packet_run). The
 * sections are read again from the question's end (or the header's when
 * there is none), so that even an error answer can echo a valid OPT; an
 * IXFR query carries the client's SOA in authority (RFC 1995 3). */
static uint8_t packet_check_unusual(struct query *q, const uint8_t *in, size_t inlen,
                                    bool have_question, struct tsig_echo *tsig)
    __attribute__((noinline, cold));
static uint8_t packet_check_unusual(struct query *q, const uint8_t *in, size_t inlen,
                                    bool have_question, struct tsig_echo *tsig)
{
    uint16_t qdcount = packet_load_u16(in + 4), ancount = packet_load_u16(in + 6);
    uint16_t nscount = packet_load_u16(in + 8), arcount = packet_load_u16(in + 10);
    struct wire w;
    wire_init_ro(&w, in, inlen);
    w.pos += q->qend;
    q->edns = q->tsig = false;
    q->edns_version = 0;
    bool readable = (have_question || qdcount == 0) &&
                    packet_skip_records(&w, (uint32_t)ancount + nscount) &&
                    packet_parse_additional(&w, arcount, q);
    /* RFC 1035 4.1.1, RFC 8906 3.1.4: an opcode we do not implement is
     * NOTIMP, whatever the sections of that kind of message hold. */
    if (q->flags & DNS_FLAG_OPCODE)
        return DNS_RCODE_NOTIMP;
    if (!readable || !have_question || ancount || (nscount && q->qtype != DNS_TYPE_IXFR))
        return DNS_RCODE_FORMERR;
    /* No keys are configured: every key is unknown (RFC 8945 5.2). */
    if (q->tsig)
        return packet_parse_tsig(in, inlen, q->tsig_off, tsig) ? DNS_RCODE_NOTAUTH
                                                               : DNS_RCODE_FORMERR;
    if (q->edns_version > 0)
        return DNS_RCODE_BADVERS;
    return DNS_RCODE_NOERROR;
}

/* A signed query to a zone with a transfer_key (a secondary's SOA query
 * before IXFR, RFC 1995 and RFC 8945): checked with that key on a copy
 * (the check cuts the TSIG off). 1: it checks, answer and sign; 2: it
 * does not, answer NOTAUTH with the TSIG error in s; 0: not the zone's
 * business (BADKEY echo as for any key). */
#define PACKET_TSIG_COPY 4096
static int packet_tsig_check(struct packet_ctx *ctx, const struct query *q, const uint8_t *in,
                             size_t inlen, struct tsig_session *s, enum tsig_error *err)
    __attribute__((noinline, cold));
static int packet_tsig_check(struct packet_ctx *ctx, const struct query *q, const uint8_t *in,
                             size_t inlen, struct tsig_session *s, enum tsig_error *err)
{
    size_t apex_off;
    const struct zone *z =
        ctx->zones != NULL ? zoneset_find(ctx->zones, &q->name, &apex_off) : NULL;
    if (z == NULL || !z->xfr.has_key || inlen > PACKET_TSIG_COPY)
        return 0;
    uint8_t copy[PACKET_TSIG_COPY];
    size_t len = inlen;
    *err = TSIG_ERR_NONE;
    memcpy(copy, in, inlen);
    memset(s, 0, sizeof *s);
    /* The real clock, not the test clock: the peer checks the time. */
    int rc = tsig_verify_request(s, &z->xfr.key, 1, copy, &len, (int64_t)time(NULL), err);
    return rc == DNSBL_OK ? 1 : rc == DNSBL_EREFUSED ? 2 : 0;
}

/* After reply_finish: sign the answer (or write the TSIG error) with the
 * session packet_tsig_check set up. When the TSIG does not fit (plain
 * UDP), TC goes out instead, so the client asks again over TCP. */
static size_t reply_sign(struct reply *r, struct tsig_session *s, enum tsig_error err, size_t len,
                         bool *truncated) __attribute__((noinline, cold));
static size_t reply_sign(struct reply *r, struct tsig_session *s, enum tsig_error err, size_t len,
                         bool *truncated)
{
    size_t n = len;
    if (tsig_sign(s, r->buf, &n, r->limit, (int64_t)time(NULL), err) == DNSBL_OK)
        return n;
    packet_store_u16(r->buf + 2, (uint16_t)(packet_load_u16(r->buf + 2) | DNS_FLAG_TC));
    *truncated = true;
    return len;
}

/* AXFR or IXFR at a zone's apex (xfr.h): over TCP the caller streams it
 * (true, ctx->xfr_zone set); IXFR over UDP of a zone that allows
 * transfers is answered here (true, the answer in out). False: the usual
 * path refuses it. */
static bool packet_transfer(struct packet_ctx *ctx, enum packet_transport t, const struct query *q,
                            const uint8_t *in, size_t inlen, uint8_t *out, size_t outcap,
                            size_t *outlen) __attribute__((noinline, cold));
static bool packet_transfer(struct packet_ctx *ctx, enum packet_transport t, const struct query *q,
                            const uint8_t *in, size_t inlen, uint8_t *out, size_t outcap,
                            size_t *outlen)
{
    size_t apex_off = 1;
    const struct zone *z = NULL;
    if ((q->flags & DNS_FLAG_OPCODE) == 0 && q->qclass == DNS_CLASS_IN && ctx->zones != NULL)
        z = zoneset_find(ctx->zones, &q->name, &apex_off);
    if (z == NULL || apex_off != 0)
        return false;
    if (t == PACKET_UDP && (q->qtype != DNS_TYPE_IXFR || z->xfr.allow.n == 0))
        return false;
    if (ctx->info) {
        packet_fill_info(ctx->info, in, q, true);
        ctx->info->listed = false;
        ctx->info->rcode = 0;
        ctx->info->truncated = false;
    }
    if (t == PACKET_TCP) {
        ctx->xfr_zone = z;
        *outlen = 0;
        return true;
    }
    struct addr_prefix who;
    const struct addr_prefix *client = ctx->client;
    if (client == NULL && ctx->peer != NULL && sock_client(ctx->peer, ctx->peerlen, &who))
        client = &who;
    char peer[ADDR_TEXT_MAX] = "?";
    if (client != NULL)
        addr_format(client, peer, sizeof peer);
    size_t cap = packet_udp_limit(q, t, outcap);
    /* TSIG times are the real clock's, not the test clock's (xfr.h). */
    *outlen = xfr_answer_udp(z, client, peer, in, inlen, (int64_t)time(NULL), out, cap);
    if (ctx->info) {
        ctx->info->rcode = out[3] & 0x0f;
        ctx->info->truncated = (out[2] & 0x02) != 0;
    }
    return true;
}

static enum packet_outcome packet_run(struct packet_ctx *ctx, enum packet_transport t, bool slip,
                                      const uint8_t *in, size_t inlen, uint8_t *out, size_t outcap,
                                      size_t *outlen)
{
    struct query q;
    struct wire w;
    struct reply r;
    bool have_question = false, truncated = false;

    if (inlen < DNS_HEADER_LEN || outcap < PACKET_UDP_PLAIN)
        return PACKET_DROP;
    /* The header is there (inlen checked): read it without the cursor. */
    q.id = packet_load_u16(in);
    q.flags = packet_load_u16(in + 2);
    if (q.flags & DNS_FLAG_QR)
        return PACKET_DROP; /* never answer an answer: no reflection loops */
    uint16_t qdcount = packet_load_u16(in + 4), ancount = packet_load_u16(in + 6);
    uint16_t nscount = packet_load_u16(in + 8), arcount = packet_load_u16(in + 10);
    wire_init_ro(&w, in, inlen);
    w.pos += DNS_HEADER_LEN;
    q.edns = q.edns_do = false;
    q.edns_version = 0;
    q.edns_size = 0;
    q.qtype = q.qclass = 0;

    uint8_t rcode = DNS_RCODE_NOERROR;
    if (qdcount == 1 && packet_parse_qname(&w, &q) && wire_need(&w, 4)) {
        q.qtype = packet_load_u16(w.pos);
        q.qclass = packet_load_u16(w.pos + 2);
        w.pos += 4;
        have_question = true;
    }
    q.qend = have_question ? wire_used(&w) : DNS_HEADER_LEN;
    if (have_question && (uint16_t)(q.qtype - DNS_TYPE_IXFR) <= DNS_TYPE_AXFR - DNS_TYPE_IXFR &&
        packet_transfer(ctx, t, &q, in, inlen, out, outcap, outlen))
        return t == PACKET_TCP ? PACKET_XFR : PACKET_ANSWER;
    /* One test for everything ordinary queries never have; the rest is
     * sorted out off the hot path. */
    struct tsig_echo tsig;
    struct tsig_session ts;
    enum tsig_error terr = TSIG_ERR_NONE;
    int signed_by_zone = 0;
    if (!have_question || ancount || nscount || (q.flags & DNS_FLAG_OPCODE) ||
        !packet_parse_usual_opt(&w, arcount, &q))
        rcode = packet_check_unusual(&q, in, inlen, have_question, &tsig);
    if (rcode == DNS_RCODE_NOTAUTH && have_question && !slip &&
        (signed_by_zone = packet_tsig_check(ctx, &q, in, inlen, &ts, &terr)) == 1)
        rcode = q.edns_version > 0 ? DNS_RCODE_BADVERS : DNS_RCODE_NOERROR;

    reply_begin(&r, &q, out, packet_udp_limit(&q, t, outcap));
    wire_put_bytes(&r.w, in + DNS_HEADER_LEN, q.qend - DNS_HEADER_LEN);
    r.rcode = rcode;
    r.udp = t == PACKET_UDP;
    r.acl_error = false;
    if (ctx->info) {
        packet_fill_info(ctx->info, in, &q, have_question);
        ctx->info->listed = false;
    }

    if (slip) {
        r.flags |= DNS_FLAG_TC;
        truncated = true;
    } else if (rcode == DNS_RCODE_NOERROR) {
        packet_answer_question(ctx, &r, &q);
    } else if (rcode == DNS_RCODE_NOTIMP) {
        /* RD and CD mean something only for QUERY (RFC 8906 3.1.4). */
        r.flags &= (uint16_t)(DNS_FLAG_QR | DNS_FLAG_OPCODE);
    }

    *outlen = reply_finish(&r, &q, q.qend, &truncated);
    if (signed_by_zone != 0)
        *outlen = reply_sign(&r, &ts, terr, *outlen, &truncated);
    else if (rcode == DNS_RCODE_NOTAUTH && !slip)
        *outlen = reply_add_tsig_badkey(&r, &tsig, &truncated);
    if (ctx->info) {
        ctx->info->rcode = r.rcode;
        ctx->info->truncated = truncated;
    }
    return PACKET_ANSWER;
}

enum packet_outcome packet_answer(struct packet_ctx *ctx, enum packet_transport t,
                                  const uint8_t *in, size_t inlen, uint8_t *out, size_t outcap,
                                  size_t *outlen)
{
    return packet_run(ctx, t, false, in, inlen, out, outcap, outlen);
}

enum packet_outcome packet_answer_slip(struct packet_ctx *ctx, const uint8_t *in, size_t inlen,
                                       uint8_t *out, size_t outcap, size_t *outlen)
{
    return packet_run(ctx, PACKET_UDP, true, in, inlen, out, outcap, outlen);
}
