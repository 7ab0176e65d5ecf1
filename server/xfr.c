/* xfr: zone transfers out. A transfer is a stream of messages, each built
 * when the connection asks for the next one (net_tcp.c writes one when the
 * output has drained), so a zone of any size takes one message of memory
 * and never holds a worker for longer than one message.
 *
 * Owner names are compressed (RFC 1035 4.1.4) against the name written
 * just before: the published set comes sorted, so neighbours share most
 * labels, and a message of XFR_MSG_SOFT bytes keeps every name in reach of
 * a pointer. */
#include "xfr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acl.h"
#include "dns.h"
#include "err.h"
#include "log.h"
#include "store_pub.h"
#include "tsig.h"
#include "wire.h"

#define XFR_LABELS 128

/* --- one message --- */

/* A message being written, with the compression state of the last owner
 * name: where each of its labels is in the message (0: out of a
 * pointer's reach). */
struct xfr_msg {
    uint8_t *buf;
    size_t len, cap;
    uint16_t an;
    uint8_t last[255];
    uint8_t last_start[XFR_LABELS]; /* label i of last starts at last[last_start[i]] */
    uint16_t last_off[XFR_LABELS];  /* and is at this offset in the message, 0 = none */
    unsigned last_n;                /* labels of last, the root's included */
};

static void xfr_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void xfr_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint16_t xfr_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* Label starts of a wire name (root label included); 0 if malformed. */
static unsigned xfr_labels(const uint8_t *name, size_t len, uint8_t start[XFR_LABELS])
{
    unsigned n = 0;
    size_t off = 0;
    while (off < len && n < XFR_LABELS) {
        start[n++] = (uint8_t)off;
        if (name[off] == 0)
            return off + 1 == len ? n : 0;
        if (name[off] > 63)
            return 0;
        off += (size_t)name[off] + 1;
    }
    return 0;
}

/* Header and question (qname as given, qtype, class IN); the question's
 * labels seed the compression state. */
static void xfr_msg_begin(struct xfr_msg *m, uint8_t *buf, size_t cap, uint16_t id, uint16_t flags,
                          const uint8_t *qname, size_t qlen, uint16_t qtype)
{
    m->buf = buf;
    m->cap = cap;
    m->an = 0;
    memset(buf, 0, DNS_HEADER_LEN);
    xfr_put16(buf, id);
    xfr_put16(buf + 2, flags);
    xfr_put16(buf + 4, 1);
    memcpy(buf + DNS_HEADER_LEN, qname, qlen);
    xfr_put16(buf + DNS_HEADER_LEN + qlen, qtype);
    xfr_put16(buf + DNS_HEADER_LEN + qlen + 2, DNS_CLASS_IN);
    m->len = DNS_HEADER_LEN + qlen + 4;
    memcpy(m->last, qname, qlen);
    m->last_n = xfr_labels(qname, qlen, m->last_start);
    for (unsigned i = 0; i < m->last_n; i++)
        m->last_off[i] = (uint16_t)(DNS_HEADER_LEN + m->last_start[i]);
}

static bool xfr_label_eq(const uint8_t *a, const uint8_t *b)
{
    if (a[0] != b[0])
        return false;
    for (uint8_t i = 1; i <= a[0]; i++) {
        uint8_t x = a[i], y = b[i];
        x = (x >= 'A' && x <= 'Z') ? (uint8_t)(x + 32) : x;
        y = (y >= 'A' && y <= 'Z') ? (uint8_t)(y + 32) : y;
        if (x != y)
            return false;
    }
    return true;
}

/* One record: owner (compressed against the last owner), then rr and
 * rest (together: type class ttl rdlength rdata). False, with the message
 * as it was, when it does not fit under limit. */
static bool xfr_msg_put2(struct xfr_msg *m, size_t limit, const uint8_t *owner, size_t olen,
                         const uint8_t *rr, size_t rrlen, const uint8_t *rest, size_t restlen)
{
    uint8_t start[XFR_LABELS];
    uint16_t off[XFR_LABELS];
    unsigned n = xfr_labels(owner, olen, start);
    if (n == 0)
        return false;
    /* The longest common suffix, label by label from the root. */
    unsigned i = n - 1, j = m->last_n - 1;
    while (i > 0 && j > 0 && xfr_label_eq(owner + start[i - 1], m->last + m->last_start[j - 1]))
        i--, j--;
    /* The longest part of it within a pointer's reach. */
    unsigned ci = i, cj = j;
    while (ci < n - 1 && m->last_off[cj] == 0)
        ci++, cj++;
    size_t need = (ci < n - 1 ? (size_t)start[ci] + 2 : olen) + rrlen + restlen;
    if (m->len + need > limit)
        return false;
    uint8_t *p = m->buf + m->len;
    size_t at = m->len;
    for (unsigned k = 0; k < ci; k++) {
        off[k] = at + start[k] < 0x4000 ? (uint16_t)(at + start[k]) : 0;
    }
    if (ci < n - 1) {
        memcpy(p, owner, start[ci]);
        xfr_put16(p + start[ci], (uint16_t)(0xc000 | m->last_off[cj]));
        p += start[ci] + 2;
        for (unsigned k = ci; k < n; k++)
            off[k] = m->last_off[cj + (k - ci)];
    } else {
        memcpy(p, owner, olen);
        p += olen;
        off[n - 1] = 0;
    }
    memcpy(p, rr, rrlen);
    if (restlen > 0)
        memcpy(p + rrlen, rest, restlen);
    m->len += need;
    m->an++;
    memcpy(m->last, owner, olen);
    memcpy(m->last_start, start, n);
    memcpy(m->last_off, off, n * sizeof off[0]);
    m->last_n = n;
    return true;
}

static bool xfr_msg_put(struct xfr_msg *m, size_t limit, const uint8_t *owner, size_t olen,
                        const uint8_t *rr, size_t rrlen)
{
    return xfr_msg_put2(m, limit, owner, olen, rr, rrlen, NULL, 0);
}

/* Close the message: rcode, counts, and an OPT (RFC 6891) when the
 * request had one (room for it is always kept: XFR_TSIG_ROOM). */
static size_t xfr_msg_end(struct xfr_msg *m, uint8_t rcode, bool edns)
{
    xfr_put16(m->buf + 2, (uint16_t)((xfr_get16(m->buf + 2) & ~0x000f) | (rcode & 0x0f)));
    xfr_put16(m->buf + 6, m->an);
    if (edns && m->len + 11 <= m->cap) {
        static const uint8_t opt[11] = {0, 0, DNS_TYPE_OPT, 1232 >> 8, 1232 & 0xff, 0, 0, 0, 0,
                                        0, 0};
        memcpy(m->buf + m->len, opt, sizeof opt);
        m->len += sizeof opt;
        xfr_put16(m->buf + 10, 1);
    }
    return m->len;
}

/* --- the request --- */

int xfr_parse_request(const uint8_t *msg, size_t len, struct xfr_request *req)
{
    struct wire w;
    memset(req, 0, sizeof *req);
    if (len < DNS_HEADER_LEN)
        return DNSBL_EINVAL;
    wire_init_ro(&w, msg, len);
    req->id = wire_get_u16(&w);
    req->flags = wire_get_u16(&w);
    uint16_t qd = wire_get_u16(&w), an = wire_get_u16(&w);
    uint16_t ns = wire_get_u16(&w), ar = wire_get_u16(&w);
    if ((req->flags & (DNS_FLAG_QR | DNS_FLAG_OPCODE)) != 0 || qd != 1 || an != 0)
        return DNSBL_EINVAL;
    /* The question: labels only, as packet.c reads it. */
    for (int guard = 0;; guard++) {
        uint8_t l = wire_get_u8(&w);
        if (w.err || guard > 127 || (l & 0xc0))
            return DNSBL_EINVAL;
        if (l == 0)
            break;
        wire_skip(&w, l);
    }
    req->qtype = wire_get_u16(&w);
    wire_skip(&w, 2);
    if (w.err || (req->qtype != DNS_TYPE_AXFR && req->qtype != DNS_TYPE_IXFR))
        return DNSBL_EINVAL;
    req->qend = wire_used(&w);
    if (req->qtype == DNS_TYPE_AXFR && ns != 0)
        return DNSBL_EINVAL;
    if (req->qtype == DNS_TYPE_IXFR) {
        /* The client's SOA in authority (RFC 1995 3). */
        if (ns != 1 || !wire_skip_name(&w))
            return DNSBL_EINVAL;
        uint16_t type = wire_get_u16(&w);
        wire_skip(&w, 6);
        uint16_t rdlen = wire_get_u16(&w);
        if (w.err || type != DNS_TYPE_SOA || !wire_need(&w, rdlen))
            return DNSBL_EINVAL;
        const uint8_t *rdend = w.pos + rdlen;
        if (!wire_skip_name(&w) || !wire_skip_name(&w) || w.pos + 20 != rdend)
            return DNSBL_EINVAL;
        req->serial = wire_get_u32(&w);
        req->has_serial = true;
        w.pos = (uint8_t *)(uintptr_t)rdend;
    }
    /* Additional: note an OPT; the TSIG is tsig_verify_request's. */
    for (uint16_t i = 0; i < ar; i++) {
        if (!wire_skip_name(&w))
            return DNSBL_EINVAL;
        uint16_t type = wire_get_u16(&w);
        wire_skip(&w, 6);
        wire_skip(&w, wire_get_u16(&w));
        if (w.err)
            return DNSBL_EINVAL;
        if (type == DNS_TYPE_OPT)
            req->edns = true;
    }
    return DNSBL_OK;
}

bool xfr_serial_ge(uint32_t a, uint32_t b)
{
    return a == b || (uint32_t)(a - b) < UINT32_C(0x80000000);
}

/* --- access --- */

static const char *xfr_tsig_error(enum tsig_error e)
{
    switch (e) {
    case TSIG_BADSIG:
        return "BADSIG";
    case TSIG_BADKEY:
        return "BADKEY";
    case TSIG_BADTIME:
        return "BADTIME";
    case TSIG_BADTRUNC:
        return "BADTRUNC";
    default:
        return "error";
    }
}

/* The rcode the request earns before any data: NOERROR to go on. s is
 * set up to sign the answers (or to write the TSIG error). msg is the
 * caller's copy: the TSIG record is cut off it. */
static uint8_t xfr_check(const struct zone *z, const struct addr_prefix *client, const char *peer,
                         const char *what, uint8_t *msg, size_t *len, int64_t now,
                         struct tsig_session *s, enum tsig_error *terr)
{
    const struct zone_xfr_config *x = &z->xfr;
    memset(s, 0, sizeof *s);
    *terr = TSIG_ERR_NONE;
    int rc = tsig_verify_request(s, x->has_key ? &x->key : NULL, x->has_key ? 1 : 0, msg, len, now,
                                 terr);
    if (rc == DNSBL_EINVAL) {
        memset(s, 0, sizeof *s);
        log_warn("xfr: refused %s of %s to %s: malformed TSIG record (FORMERR)", what, z->name,
                 peer);
        return DNS_RCODE_FORMERR;
    }
    if (rc == DNSBL_EREFUSED) {
        log_warn("xfr: refused %s of %s to %s: TSIG %s%s", what, z->name, peer,
                 xfr_tsig_error(*terr), x->has_key ? "" : " (no transfer_key for this zone)");
        return DNS_RCODE_NOTAUTH;
    }
    bool signed_ok = rc == DNSBL_OK;
    if (!signed_ok)
        memset(s, 0, sizeof *s);
    bool allowed = false;
    for (uint16_t i = 0; client != NULL && i < x->allow.n; i++)
        if (x->allow.rules[i].action == ACL_ALLOW && addr_covers(&x->allow.rules[i].prefix, client))
            allowed = true;
    if (!allowed) {
        log_warn("xfr: refused %s of %s to %s: %s", what, z->name, peer,
                 x->allow.n ? "not in allow_transfer" : "the zone has no allow_transfer");
        return DNS_RCODE_REFUSED;
    }
    if (x->has_key && !signed_ok) {
        log_warn("xfr: refused %s of %s to %s: not signed with transfer_key %s", what, z->name,
                 peer, x->key.name);
        return DNS_RCODE_REFUSED;
    }
    return DNS_RCODE_NOERROR;
}

/* --- the stream --- */

enum xfr_phase {
    XP_FIRST, /* the opening SOA */
    XP_FILE,  /* AXFR: the zone file's records but its SOA */
    XP_STORE, /* AXFR: the published set; IXFR: the journal's changes */
    XP_LAST,  /* the closing SOA */
    XP_DONE,
};

struct xfr {
    uint16_t id, flags, qtype;
    bool edns;
    uint8_t apex[ZONE_NAME_MAX];
    uint16_t apex_len;
    char zone[ZONE_NAME_MAX];
    char peer[64];
    uint8_t *soa; /* the zone's SOA rr (type ... rdata), serial patched per use */
    size_t soa_len;
    uint8_t *file; /* the zone file's records: u16 owner len, owner, u16 rr len, rr */
    size_t file_len, file_pos;
    uint8_t rcode;    /* != NOERROR: one message with it, no records */
    bool single;      /* IXFR of a current client: the SOA alone */
    bool incremental; /* IXFR from the journal */
    bool real;        /* counts against XFR_PER_WORKER */
    enum xfr_phase phase;
    uint32_t serial;
    struct tsig_session tsig;
    enum tsig_error terr;
    struct store_reader *reader;
    struct store_pub_iter *it;
    struct store_pub_rr rr; /* yielded but not yet written */
    bool rr_pending;
    uint64_t records, bytes, messages;
};

static void xfr_soa_with_serial(struct xfr *x, uint32_t serial)
{
    xfr_put32(x->soa + x->soa_len - 20, serial);
}

/* Copy the zone's records (but the SOA) and the SOA itself. */
static int xfr_copy_zone(struct xfr *x, const struct zone *z)
{
    x->soa = malloc(z->soa.rrs_len);
    if (x->soa == NULL)
        return DNSBL_ENOMEM;
    memcpy(x->soa, z->soa.rrs, z->soa.rrs_len);
    x->soa_len = z->soa.rrs_len;
    size_t total = 0;
    for (size_t i = 0; i < z->nsets; i++)
        total += z->sets[i].count * (4 + (size_t)z->sets[i].owner_len) + z->sets[i].rrs_len;
    x->file = malloc(total ? total : 1);
    if (x->file == NULL)
        return DNSBL_ENOMEM;
    for (size_t i = 0; i < z->nsets; i++) {
        const struct zone_rrset *set = &z->sets[i];
        if (set->type == DNS_TYPE_SOA)
            continue;
        struct wire in;
        wire_init_ro(&in, set->rrs, set->rrs_len);
        for (uint16_t k = 0; k < set->count; k++) {
            const uint8_t *start = in.pos;
            wire_skip(&in, 8);
            wire_skip(&in, wire_get_u16(&in));
            if (in.err)
                break;
            size_t rl = (size_t)(in.pos - start);
            uint8_t *p = x->file + x->file_len;
            xfr_put16(p, set->owner_len);
            memcpy(p + 2, set->owner, set->owner_len);
            xfr_put16(p + 2 + set->owner_len, (uint16_t)rl);
            memcpy(p + 4 + set->owner_len, start, rl);
            x->file_len += 4 + set->owner_len + rl;
        }
    }
    return DNSBL_OK;
}

static const char *xfr_name(uint16_t qtype)
{
    return qtype == DNS_TYPE_AXFR ? "AXFR" : "IXFR";
}

/* Open the snapshot and decide what the stream carries. */
static void xfr_plan(struct xfr *x, struct store *store, const struct xfr_request *req)
{
    struct store_pub_state st;
    int rc = store_reader_open(store, &x->reader);
    if (rc == DNSBL_OK && (rc = store_reader_begin(x->reader)) != DNSBL_OK) {
        store_reader_close(x->reader);
        x->reader = NULL;
    }
    if (rc == DNSBL_OK)
        rc = store_reader_pub_state(x->reader, x->zone, &st);
    if (rc == DNSBL_ENOENT) {
        log_warn("xfr: %s of %s to %s: the zone was never published (run dnsblctl publish); "
                 "SERVFAIL",
                 xfr_name(x->qtype), x->zone, x->peer);
        x->rcode = DNS_RCODE_SERVFAIL;
        return;
    }
    if (rc != DNSBL_OK) {
        log_error("xfr: %s of %s to %s: cannot read the store: %s; SERVFAIL", xfr_name(x->qtype),
                  x->zone, x->peer, dnsbl_strerror(rc));
        x->rcode = DNS_RCODE_SERVFAIL;
        return;
    }
    x->serial = st.serial;
    x->real = true;
    if (x->qtype == DNS_TYPE_IXFR && req->has_serial) {
        if (xfr_serial_ge(req->serial, st.serial)) {
            x->single = true;
            log_info("xfr: IXFR of %s to %s: current at serial %u", x->zone, x->peer, st.serial);
            return;
        }
        rc = store_pub_ixfr_open(x->reader, x->zone, req->serial, &x->it);
        if (rc == DNSBL_OK) {
            x->incremental = true;
            log_info("xfr: IXFR of %s to %s: serial %u to %u from the journal", x->zone, x->peer,
                     req->serial, st.serial);
            return;
        }
        if (rc != DNSBL_ENOENT)
            goto fail;
        log_info("xfr: IXFR of %s to %s: serial %u is older than the journal (%u): the whole zone",
                 x->zone, x->peer, req->serial, st.oldest);
    }
    rc = store_pub_axfr_open(x->reader, x->zone, &x->it);
    if (rc != DNSBL_OK)
        goto fail;
    log_info("xfr: %s of %s to %s: serial %u, %llu records", xfr_name(x->qtype), x->zone, x->peer,
             st.serial, (unsigned long long)st.records);
    return;
fail:
    log_error("xfr: %s of %s to %s: cannot read the published set: %s; SERVFAIL",
              xfr_name(x->qtype), x->zone, x->peer, dnsbl_strerror(rc));
    x->rcode = DNS_RCODE_SERVFAIL;
    x->real = false;
}

struct xfr *xfr_begin(struct store *store, const struct zone *z, const struct addr_prefix *client,
                      const char *peer, const uint8_t *msg, size_t len, int64_t now, bool busy)
{
    struct xfr *x = calloc(1, sizeof *x);
    uint8_t *copy = malloc(len ? len : 1);
    if (x == NULL || copy == NULL || xfr_copy_zone(x, z) != DNSBL_OK) {
        free(copy);
        xfr_free(x);
        return NULL;
    }
    memcpy(copy, msg, len);
    memcpy(x->apex, z->apex, z->apex_len);
    x->apex_len = z->apex_len;
    snprintf(x->zone, sizeof x->zone, "%s", z->name);
    snprintf(x->peer, sizeof x->peer, "%s", peer);
    struct xfr_request req;
    x->qtype = DNS_TYPE_AXFR;
    if (xfr_parse_request(copy, len, &req) != DNSBL_OK) {
        x->id = len >= 2 ? xfr_get16(msg) : 0;
        x->rcode = DNS_RCODE_FORMERR;
        log_warn("xfr: refused a transfer of %s to %s: malformed request (FORMERR)", z->name, peer);
        free(copy);
        return x;
    }
    x->id = req.id;
    x->flags = req.flags;
    x->qtype = req.qtype;
    x->edns = req.edns;
    x->rcode = xfr_check(z, client, peer, xfr_name(req.qtype), copy, &len, now, &x->tsig, &x->terr);
    free(copy);
    if (x->rcode == DNS_RCODE_NOERROR && busy) {
        log_warn("xfr: refused %s of %s to %s: %d transfers are running on this worker",
                 xfr_name(req.qtype), z->name, peer, XFR_PER_WORKER);
        x->rcode = DNS_RCODE_REFUSED;
    }
    if (x->rcode == DNS_RCODE_NOERROR)
        xfr_plan(x, store, &req);
    return x;
}

/* The SOA with serial at the apex. */
static bool xfr_put_soa(struct xfr *x, struct xfr_msg *m, size_t limit, uint32_t serial)
{
    xfr_soa_with_serial(x, serial);
    return xfr_msg_put(m, limit, x->apex, x->apex_len, x->soa, x->soa_len);
}

/* A record of the published view (or a journal change). */
static bool xfr_put_pub(struct xfr *x, struct xfr_msg *m, size_t limit,
                        const struct store_pub_rr *rr)
{
    if (rr->kind == STORE_PUB_DEL_SOA || rr->kind == STORE_PUB_ADD_SOA)
        return xfr_put_soa(x, m, limit, rr->serial);
    uint8_t head[10];
    xfr_put16(head, rr->type);
    xfr_put16(head + 2, DNS_CLASS_IN);
    xfr_put32(head + 4, rr->ttl);
    xfr_put16(head + 8, rr->rdlen);
    return xfr_msg_put2(m, limit, rr->owner, rr->owner_len, head, sizeof head, rr->rdata,
                        rr->rdlen);
}

/* Fill m with records until the soft size; 0 when it holds what it can,
 * < 0 on a store error or a record too big for any message. */
static int xfr_fill(struct xfr *x, struct xfr_msg *m)
{
    const size_t limit = XFR_MSG_CAP - XFR_TSIG_ROOM;
    while (x->phase != XP_DONE) {
        if (m->len >= XFR_MSG_SOFT)
            return 0;
        bool ok = true;
        switch (x->phase) {
        case XP_FIRST:
            ok = xfr_put_soa(x, m, limit, x->serial);
            if (ok)
                x->phase = x->single ? XP_DONE : x->incremental ? XP_STORE : XP_FILE;
            break;
        case XP_FILE: {
            if (x->file_pos >= x->file_len) {
                x->phase = XP_STORE;
                break;
            }
            const uint8_t *p = x->file + x->file_pos;
            uint16_t ol = xfr_get16(p), rl = xfr_get16(p + 2 + ol);
            ok = xfr_msg_put(m, limit, p + 2, ol, p + 4 + ol, rl);
            if (ok)
                x->file_pos += 4 + (size_t)ol + rl;
            break;
        }
        case XP_STORE:
            if (!x->rr_pending) {
                int rc = store_pub_iter_next(x->it, &x->rr);
                if (rc < 0)
                    return rc;
                if (rc == 0) {
                    x->phase = XP_LAST;
                    break;
                }
                x->rr_pending = true;
            }
            ok = xfr_put_pub(x, m, limit, &x->rr);
            if (ok)
                x->rr_pending = false;
            break;
        case XP_LAST:
            ok = xfr_put_soa(x, m, limit, x->serial);
            if (ok)
                x->phase = XP_DONE;
            break;
        case XP_DONE:
            break;
        }
        if (!ok)
            return m->an == 0 ? DNSBL_EINVAL : 0;
    }
    return 0;
}

int xfr_next(struct xfr *x, uint8_t *out, size_t *outlen)
{
    if (x->phase == XP_DONE)
        return 0;
    struct xfr_msg m;
    uint16_t flags = (uint16_t)(DNS_FLAG_QR | (x->flags & DNS_FLAG_RD));
    if (x->rcode == DNS_RCODE_NOERROR)
        flags |= DNS_FLAG_AA;
    xfr_msg_begin(&m, out, XFR_MSG_CAP, x->id, flags, x->apex, x->apex_len, x->qtype);
    if (x->rcode != DNS_RCODE_NOERROR) {
        x->phase = XP_DONE;
    } else {
        int rc = xfr_fill(x, &m);
        if (rc < 0) {
            log_error("xfr: %s of %s to %s: stopped after %llu records: %s", xfr_name(x->qtype),
                      x->zone, x->peer, (unsigned long long)x->records, dnsbl_strerror(rc));
            return rc;
        }
    }
    x->records += m.an;
    size_t len = xfr_msg_end(&m, x->rcode, x->edns);
    if (x->tsig.key != NULL || x->terr != TSIG_ERR_NONE) {
        /* Each message is signed at its own time (a long transfer outlasts
         * the fudge), on the real clock as the peer checks it, never --now's. */
        if (tsig_sign(&x->tsig, out, &len, XFR_MSG_CAP, (int64_t)time(NULL), x->terr) != DNSBL_OK)
            return DNSBL_EINVAL;
    }
    x->messages++;
    x->bytes += len;
    if (x->phase == XP_DONE && x->real)
        log_info("xfr: %s of %s to %s: done, serial %u, %llu records in %llu messages, %llu bytes",
                 xfr_name(x->qtype), x->zone, x->peer, x->serial, (unsigned long long)x->records,
                 (unsigned long long)x->messages, (unsigned long long)x->bytes);
    *outlen = len;
    return 1;
}

bool xfr_counts(const struct xfr *x)
{
    return x->real;
}

uint8_t xfr_rcode(const struct xfr *x)
{
    return x->terr != TSIG_ERR_NONE ? DNS_RCODE_NOTAUTH : x->rcode;
}

void xfr_free(struct xfr *x)
{
    if (x == NULL)
        return;
    if (x->it != NULL)
        store_pub_iter_free(x->it);
    if (x->reader != NULL) {
        store_reader_end(x->reader);
        store_reader_close(x->reader);
    }
    free(x->soa);
    free(x->file);
    volatile uint8_t *t = (volatile uint8_t *)&x->tsig;
    for (size_t i = 0; i < sizeof x->tsig; i++)
        t[i] = 0;
    free(x);
}

/* --- UDP --- */

size_t xfr_answer_udp(const struct zone *z, const struct addr_prefix *client, const char *peer,
                      const uint8_t *msg, size_t len, int64_t now, uint8_t *out, size_t outcap)
{
    uint8_t copy[4096];
    struct xfr_request req;
    struct xfr_msg m;
    struct tsig_session s;
    enum tsig_error terr = TSIG_ERR_NONE;
    uint8_t rcode;
    memset(&s, 0, sizeof s);
    size_t clen = len;
    if (len > sizeof copy || xfr_parse_request(msg, len, &req) != DNSBL_OK) {
        rcode = DNS_RCODE_FORMERR;
        req.id = len >= 2 ? xfr_get16(msg) : 0;
        req.flags = len >= 4 ? xfr_get16(msg + 2) : 0;
        req.qtype = DNS_TYPE_IXFR;
        req.edns = false;
        log_warn("xfr: refused an IXFR of %s to %s over UDP: malformed request (FORMERR)", z->name,
                 peer);
    } else {
        memcpy(copy, msg, len);
        rcode = xfr_check(z, client, peer, "IXFR over UDP", copy, &clen, now, &s, &terr);
    }
    uint16_t flags = (uint16_t)(DNS_FLAG_QR | (req.flags & DNS_FLAG_RD));
    uint32_t serial = zone_serial(z);
    bool published = atomic_load_explicit(&((struct zone *)z)->pub, memory_order_relaxed) != 0;
    if (rcode == DNS_RCODE_NOERROR && !published) {
        log_warn("xfr: IXFR of %s to %s over UDP: the zone was never published; SERVFAIL", z->name,
                 peer);
        rcode = DNS_RCODE_SERVFAIL;
    }
    if (rcode == DNS_RCODE_NOERROR)
        flags |= DNS_FLAG_AA;
    bool current =
        rcode == DNS_RCODE_NOERROR && req.has_serial && xfr_serial_ge(req.serial, serial);
    if (rcode == DNS_RCODE_NOERROR && !current)
        flags |= DNS_FLAG_TC; /* RFC 1995 2: the client asks again over TCP */
    size_t cap = outcap;
    xfr_msg_begin(&m, out, cap, req.id, flags, z->apex, z->apex_len, req.qtype);
    if (current) {
        uint8_t soa[512];
        if (z->soa.rrs_len <= sizeof soa) {
            memcpy(soa, z->soa.rrs, z->soa.rrs_len);
            xfr_put32(soa + z->soa.rrs_len - 20, serial);
            xfr_msg_put(&m, cap - XFR_TSIG_ROOM / 2, z->apex, z->apex_len, soa, z->soa.rrs_len);
        }
    }
    size_t n = xfr_msg_end(&m, rcode, req.edns);
    if (s.key != NULL || terr != TSIG_ERR_NONE) {
        if (tsig_sign(&s, out, &n, cap, now, terr) != DNSBL_OK) {
            /* The TSIG does not fit: TC, the client retries over TCP. */
            xfr_put16(out + 2, (uint16_t)(xfr_get16(out + 2) | DNS_FLAG_TC));
        }
    }
    return n;
}

/* --- NOTIFY --- */

size_t xfr_build_notify(const struct zone *z, uint32_t serial, uint16_t id,
                        const struct tsig_key *key, int64_t now, uint8_t *out, size_t cap)
{
    struct xfr_msg m;
    uint8_t soa[1024];
    if (cap < (size_t)DNS_HEADER_LEN + z->apex_len + 4 || z->soa.rrs_len > sizeof soa)
        return 0;
    xfr_msg_begin(&m, out, cap, id, (uint16_t)(DNS_OPCODE_NOTIFY << 11 | DNS_FLAG_AA), z->apex,
                  z->apex_len, DNS_TYPE_SOA);
    memcpy(soa, z->soa.rrs, z->soa.rrs_len);
    xfr_put32(soa + z->soa.rrs_len - 20, serial);
    /* RFC 1996 3.7: the SOA in answer tells the secondary the new serial. */
    if (!xfr_msg_put(&m, cap - (key ? XFR_TSIG_ROOM / 2 : 0), z->apex, z->apex_len, soa,
                     z->soa.rrs_len))
        return 0;
    size_t n = xfr_msg_end(&m, DNS_RCODE_NOERROR, false);
    if (key != NULL) {
        struct tsig_session s;
        memset(&s, 0, sizeof s);
        s.key = key;
        if (tsig_sign(&s, out, &n, cap, now, TSIG_ERR_NONE) != DNSBL_OK)
            return 0;
    }
    return n;
}
