/* tsig: RFC 8945 transaction signatures over wire messages. HMAC (RFC 2104)
 * is built here over libcrypto's SHA functions so that the running inner
 * hash of a stream lives in the caller's session: nothing allocates. */
#define OPENSSL_SUPPRESS_DEPRECATED 1 /* the SHA*_Init family: no allocation */
#include "tsig.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "err.h"
#include "wire.h"

#define TYPE_TSIG 250
#define CLASS_ANY 255
#define FUDGE 300       /* RFC 8945 10: the recommended value */
#define MAX_UNSIGNED 99 /* RFC 8945 5.3.1: at most 99 unsigned in a row */

union hctx {
    SHA_CTX s1;
    SHA256_CTX s256;
    SHA512_CTX s512;
};
_Static_assert(sizeof(union hctx) <= sizeof(((struct tsig_session *)0)->hstate),
               "tsig_session.hstate too small for a SHA state");

struct alg_info {
    enum tsig_alg alg;
    const char *name;
    const uint8_t *wire;
    uint16_t wire_len;
    size_t mac_len;
    size_t block;
};

/* Algorithm names in wire form (RFC 8945 6). */
static const uint8_t W_SHA256[] = "\x0bhmac-sha256";
static const uint8_t W_SHA1[] = "\x09hmac-sha1";
static const uint8_t W_SHA384[] = "\x0bhmac-sha384";
static const uint8_t W_SHA512[] = "\x0bhmac-sha512";

static const struct alg_info ALGS[] = {
    {TSIG_HMAC_SHA256, "hmac-sha256", W_SHA256, sizeof W_SHA256, 32, 64},
    {TSIG_HMAC_SHA1, "hmac-sha1", W_SHA1, sizeof W_SHA1, 20, 64},
    {TSIG_HMAC_SHA384, "hmac-sha384", W_SHA384, sizeof W_SHA384, 48, 128},
    {TSIG_HMAC_SHA512, "hmac-sha512", W_SHA512, sizeof W_SHA512, 64, 128},
};

static const struct alg_info *alg_find(enum tsig_alg alg)
{
    for (size_t i = 0; i < sizeof ALGS / sizeof ALGS[0]; i++)
        if (ALGS[i].alg == alg)
            return &ALGS[i];
    return NULL;
}

static const struct alg_info *alg_find_wire(const uint8_t *w, size_t len)
{
    for (size_t i = 0; i < sizeof ALGS / sizeof ALGS[0]; i++)
        if (ALGS[i].wire_len == len && memcmp(ALGS[i].wire, w, len) == 0)
            return &ALGS[i];
    return NULL;
}

const char *tsig_alg_name(enum tsig_alg alg)
{
    const struct alg_info *a = alg_find(alg);
    return a ? a->name : "unknown";
}

const char *tsig_error_name(enum tsig_error err)
{
    switch (err) {
    case TSIG_BADSIG:
        return "BADSIG";
    case TSIG_BADKEY:
        return "BADKEY";
    case TSIG_BADTIME:
        return "BADTIME";
    case TSIG_BADTRUNC:
        return "BADTRUNC";
    default:
        return NULL;
    }
}

/* ---- hashing ---- */

static void h_init(union hctx *h, enum tsig_alg alg)
{
    switch (alg) {
    case TSIG_HMAC_SHA1:
        SHA1_Init(&h->s1);
        break;
    case TSIG_HMAC_SHA384:
        SHA384_Init(&h->s512);
        break;
    case TSIG_HMAC_SHA512:
        SHA512_Init(&h->s512);
        break;
    default:
        SHA256_Init(&h->s256);
        break;
    }
}

static void h_update(union hctx *h, enum tsig_alg alg, const void *p, size_t n)
{
    switch (alg) {
    case TSIG_HMAC_SHA1:
        SHA1_Update(&h->s1, p, n);
        break;
    case TSIG_HMAC_SHA384:
        SHA384_Update(&h->s512, p, n);
        break;
    case TSIG_HMAC_SHA512:
        SHA512_Update(&h->s512, p, n);
        break;
    default:
        SHA256_Update(&h->s256, p, n);
        break;
    }
}

static void h_final(union hctx *h, enum tsig_alg alg, uint8_t *out)
{
    switch (alg) {
    case TSIG_HMAC_SHA1:
        SHA1_Final(out, &h->s1);
        break;
    case TSIG_HMAC_SHA384:
        SHA384_Final(out, &h->s512);
        break;
    case TSIG_HMAC_SHA512:
        SHA512_Final(out, &h->s512);
        break;
    default:
        SHA256_Final(out, &h->s256);
        break;
    }
}

/* K0 of RFC 2104: the key, hashed when longer than a block, zero padded. */
static void hmac_pad(const struct tsig_key *k, const struct alg_info *a, uint8_t pad, uint8_t *out)
{
    uint8_t k0[128] = {0};
    if (k->secret_len > a->block) {
        union hctx h;
        h_init(&h, a->alg);
        h_update(&h, a->alg, k->secret, k->secret_len);
        h_final(&h, a->alg, k0);
    } else {
        memcpy(k0, k->secret, k->secret_len);
    }
    for (size_t i = 0; i < a->block; i++)
        out[i] = k0[i] ^ pad;
    OPENSSL_cleanse(k0, sizeof k0);
}

static union hctx *sess_h(struct tsig_session *s)
{
    return (union hctx *)(void *)s->hstate;
}

/* Start the inner hash of the next MAC, fed with the prior MAC when there
 * is one (RFC 8945 4.3.1, 4.3.3: MAC size then MAC). */
static void inner_start(struct tsig_session *s, const struct alg_info *a, bool with_prior)
{
    uint8_t ipad[128];
    hmac_pad(s->key, a, 0x36, ipad);
    h_init(sess_h(s), a->alg);
    h_update(sess_h(s), a->alg, ipad, a->block);
    OPENSSL_cleanse(ipad, sizeof ipad);
    if (with_prior) {
        uint8_t l[2] = {(uint8_t)(s->mac_len >> 8), (uint8_t)s->mac_len};
        h_update(sess_h(s), a->alg, l, 2);
        h_update(sess_h(s), a->alg, s->mac, s->mac_len);
    }
}

static void inner_finish(struct tsig_session *s, const struct alg_info *a, uint8_t *mac)
{
    uint8_t in[64], opad[128];
    union hctx h;
    h_final(sess_h(s), a->alg, in);
    hmac_pad(s->key, a, 0x5c, opad);
    h_init(&h, a->alg);
    h_update(&h, a->alg, opad, a->block);
    h_update(&h, a->alg, in, a->mac_len);
    h_final(&h, a->alg, mac);
    OPENSSL_cleanse(opad, sizeof opad);
}

/* The TSIG variables (RFC 8945 4.3.3) after the message, or only the
 * timers for the later messages of a stream (4.3.1). */
static void feed_vars(struct tsig_session *s, const struct alg_info *a, bool full,
                      uint64_t time_signed, uint16_t fudge, uint16_t error, const uint8_t *other,
                      uint16_t other_len)
{
    uint8_t buf[16];
    struct wire w;
    union hctx *h = sess_h(s);
    if (full) {
        h_update(h, a->alg, s->key->name_wire, s->key->name_wire_len);
        wire_init(&w, buf, sizeof buf);
        wire_put_u16(&w, CLASS_ANY);
        wire_put_u32(&w, 0);
        h_update(h, a->alg, buf, wire_used(&w));
        h_update(h, a->alg, a->wire, a->wire_len);
    }
    wire_init(&w, buf, sizeof buf);
    wire_put_u16(&w, (uint16_t)(time_signed >> 32));
    wire_put_u32(&w, (uint32_t)time_signed);
    wire_put_u16(&w, fudge);
    if (full) {
        wire_put_u16(&w, error);
        wire_put_u16(&w, other_len);
    }
    h_update(h, a->alg, buf, wire_used(&w));
    if (full && other_len)
        h_update(h, a->alg, other, other_len);
}

/* ---- keys ---- */

static int b64_val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* RFC 4648 base64, padding optional, white space ignored. */
static int b64_decode(const char *in, uint8_t *out, size_t cap, size_t *outlen)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    bool pad = false;
    for (const char *p = in; *p; p++) {
        if (isspace((unsigned char)*p))
            continue;
        if (*p == '=') {
            pad = true;
            continue;
        }
        int v = b64_val((unsigned char)*p);
        if (v < 0 || pad)
            return DNSBL_EINVAL;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n >= cap)
                return DNSBL_ESPACE;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    if (bits >= 6)
        return DNSBL_EINVAL; /* a lone sixth of a byte */
    *outlen = n;
    return DNSBL_OK;
}

/* Text name to lower-case wire form; a trailing dot is optional. */
static int name_to_wire(const char *text, uint8_t *wire, uint16_t *wlen, char *lower, size_t lcap)
{
    size_t tl = strlen(text);
    if (tl && text[tl - 1] == '.')
        tl--;
    if (tl == 0 || tl + 1 > lcap || tl + 2 > 255)
        return DNSBL_EINVAL;
    size_t out = 0, lab = 0;
    for (size_t i = 0; i <= tl; i++) {
        if (i == tl || text[i] == '.') {
            size_t ll = i - lab;
            if (ll == 0 || ll > 63)
                return DNSBL_EINVAL;
            wire[out++] = (uint8_t)ll;
            for (size_t j = lab; j < i; j++)
                wire[out++] = (uint8_t)tolower((unsigned char)text[j]);
            lab = i + 1;
        }
    }
    wire[out++] = 0;
    *wlen = (uint16_t)out;
    for (size_t i = 0; i < tl; i++)
        lower[i] = (char)tolower((unsigned char)text[i]);
    lower[tl] = '\0';
    return DNSBL_OK;
}

int tsig_key_init(struct tsig_key *k, const char *name, const char *alg, const char *secret_b64,
                  char *why, size_t whylen)
{
    memset(k, 0, sizeof *k);
    const struct alg_info *a = NULL;
    const char *an = alg ? alg : "hmac-sha256";
    for (size_t i = 0; i < sizeof ALGS / sizeof ALGS[0]; i++) {
        size_t l = strlen(ALGS[i].name);
        if (strncasecmp(an, ALGS[i].name, l) == 0 && (an[l] == '\0' || strcmp(an + l, ".") == 0))
            a = &ALGS[i];
    }
    if (!name || name_to_wire(name, k->name_wire, &k->name_wire_len, k->name, sizeof k->name)) {
        if (why)
            snprintf(why, whylen, "TSIG key name '%s' is not a domain name", name ? name : "");
        return DNSBL_EINVAL;
    }
    if (!a) {
        if (why)
            snprintf(why, whylen,
                     "TSIG key '%s': algorithm '%s' is not one of hmac-sha256, hmac-sha1, "
                     "hmac-sha384, hmac-sha512",
                     k->name, an);
        return DNSBL_EINVAL;
    }
    k->alg = a->alg;
    int rc = secret_b64 ? b64_decode(secret_b64, k->secret, sizeof k->secret, &k->secret_len)
                        : DNSBL_EINVAL;
    if (rc != DNSBL_OK || k->secret_len == 0) {
        if (why)
            snprintf(why, whylen, "TSIG key '%s': the secret is not base64 of 1 to %d bytes",
                     k->name, TSIG_SECRET_MAX);
        OPENSSL_cleanse(k->secret, sizeof k->secret);
        k->secret_len = 0;
        return DNSBL_EINVAL;
    }
    return DNSBL_OK;
}

int tsig_key_from_spec(struct tsig_key *k, const char *spec, char *why, size_t whylen)
{
    char buf[TSIG_NAME_MAX + 64];
    const char *c1 = strchr(spec, ':');
    const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c1) {
        if (why)
            snprintf(why, whylen, "TSIG key is not [ALG:]NAME:SECRET");
        return DNSBL_EINVAL;
    }
    if (c2) {
        size_t al = (size_t)(c1 - spec), nl = (size_t)(c2 - c1 - 1);
        if (al + nl + 2 > sizeof buf) {
            if (why)
                snprintf(why, whylen, "TSIG key name too long");
            return DNSBL_EINVAL;
        }
        memcpy(buf, spec, al);
        buf[al] = '\0';
        memcpy(buf + al + 1, c1 + 1, nl);
        buf[al + 1 + nl] = '\0';
        return tsig_key_init(k, buf + al + 1, buf, c2 + 1, why, whylen);
    }
    size_t nl = (size_t)(c1 - spec);
    if (nl + 1 > sizeof buf) {
        if (why)
            snprintf(why, whylen, "TSIG key name too long");
        return DNSBL_EINVAL;
    }
    memcpy(buf, spec, nl);
    buf[nl] = '\0';
    return tsig_key_init(k, buf, NULL, c1 + 1, why, whylen);
}

/* ---- message walking ---- */

/* Read a possibly compressed name at w into lower-case wire form. */
static int read_name(struct wire *w, const uint8_t *msg, size_t len, uint8_t *out, uint16_t *olen)
{
    size_t pos = (size_t)(w->pos - msg), o = 0;
    bool jumped = false;
    unsigned hops = 0;
    for (;;) {
        if (pos >= len)
            return DNSBL_EINVAL;
        uint8_t l = msg[pos];
        if ((l & 0xc0) == 0xc0) {
            if (pos + 1 >= len || ++hops > 64)
                return DNSBL_EINVAL;
            size_t to = ((size_t)(l & 0x3f) << 8) | msg[pos + 1];
            if (!jumped)
                w->pos = (uint8_t *)(uintptr_t)(msg + pos + 2);
            jumped = true;
            if (to >= pos)
                return DNSBL_EINVAL; /* only backwards: no loops */
            pos = to;
            continue;
        }
        if (l & 0xc0)
            return DNSBL_EINVAL;
        if (pos + 1 + l > len || o + 1 + l > 255)
            return DNSBL_EINVAL;
        out[o++] = l;
        for (size_t i = 0; i < l; i++)
            out[o++] = (uint8_t)tolower(msg[pos + 1 + i]);
        pos += 1 + (size_t)l;
        if (l == 0)
            break;
    }
    if (!jumped)
        w->pos = (uint8_t *)(uintptr_t)(msg + pos);
    *olen = (uint16_t)o;
    return DNSBL_OK;
}

struct tsig_rr {
    size_t start; /* offset of the record in the message */
    uint8_t name[255];
    uint16_t name_len;
    uint8_t alg[255];
    uint16_t alg_len;
    uint64_t time_signed;
    uint16_t fudge;
    uint16_t mac_len;
    const uint8_t *mac;
    uint16_t orig_id;
    uint16_t error;
    uint16_t other_len;
    const uint8_t *other;
};

/* Find the TSIG record: it must be the last record of the message
 * (RFC 8945 5.1). ENOENT when there is none, EINVAL when malformed. */
static int tsig_find(const uint8_t *msg, size_t len, struct tsig_rr *t)
{
    struct wire w;
    uint8_t nm[255];
    uint16_t nl;
    if (len < 12)
        return DNSBL_EINVAL;
    wire_init_ro(&w, msg, len);
    w.pos += 4;
    unsigned qd = wire_get_u16(&w);
    unsigned rrs = wire_get_u16(&w);
    rrs += wire_get_u16(&w);
    unsigned ar = wire_get_u16(&w);
    rrs += ar;
    for (unsigned i = 0; i < qd; i++) {
        if (read_name(&w, msg, len, nm, &nl))
            return DNSBL_EINVAL;
        wire_get_u32(&w);
    }
    for (unsigned i = 0; i < rrs; i++) {
        size_t start = wire_used(&w);
        if (w.err || read_name(&w, msg, len, nm, &nl))
            return DNSBL_EINVAL;
        uint16_t type = wire_get_u16(&w);
        uint16_t cls = wire_get_u16(&w);
        uint32_t ttl = wire_get_u32(&w);
        uint16_t rdlen = wire_get_u16(&w);
        if (w.err || wire_left(&w) < rdlen)
            return DNSBL_EINVAL;
        if (type != TYPE_TSIG) {
            w.pos += rdlen;
            continue;
        }
        /* Only the last record, in the additional section, may be TSIG. */
        if (i != rrs - 1 || ar == 0 || cls != CLASS_ANY || ttl != 0)
            return DNSBL_EINVAL;
        t->start = start;
        memcpy(t->name, nm, nl);
        t->name_len = nl;
        struct wire r;
        wire_init_ro(&r, w.pos, rdlen);
        /* The algorithm name is never compressed (RFC 8945 4.2). */
        size_t o = 0;
        for (;;) {
            uint8_t l = wire_get_u8(&r);
            if (r.err || (l & 0xc0) || o + 1 + l > 255 || wire_left(&r) < l)
                return DNSBL_EINVAL;
            t->alg[o++] = l;
            for (unsigned j = 0; j < l; j++)
                t->alg[o++] = (uint8_t)tolower(wire_get_u8(&r));
            if (l == 0)
                break;
        }
        t->alg_len = (uint16_t)o;
        uint64_t hi = wire_get_u16(&r);
        t->time_signed = (hi << 32) | wire_get_u32(&r);
        t->fudge = wire_get_u16(&r);
        t->mac_len = wire_get_u16(&r);
        if (wire_left(&r) < t->mac_len)
            return DNSBL_EINVAL;
        t->mac = r.pos;
        r.pos += t->mac_len;
        t->orig_id = wire_get_u16(&r);
        t->error = wire_get_u16(&r);
        t->other_len = wire_get_u16(&r);
        if (r.err || wire_left(&r) != t->other_len)
            return DNSBL_EINVAL;
        t->other = r.pos;
        return DNSBL_OK;
    }
    if (w.err)
        return DNSBL_EINVAL;
    return DNSBL_ENOENT;
}

/* Feed the message as it was signed: the original ID, ARCOUNT without the
 * TSIG record, and not the record itself (RFC 8945 4.3.3). */
static void feed_message(struct tsig_session *s, const struct alg_info *a, const uint8_t *msg,
                         size_t tsig_start, uint16_t orig_id)
{
    uint8_t hdr[12];
    memcpy(hdr, msg, 12);
    hdr[0] = (uint8_t)(orig_id >> 8);
    hdr[1] = (uint8_t)orig_id;
    uint16_t ar = (uint16_t)((hdr[10] << 8) | hdr[11]);
    ar--;
    hdr[10] = (uint8_t)(ar >> 8);
    hdr[11] = (uint8_t)ar;
    h_update(sess_h(s), a->alg, hdr, 12);
    h_update(sess_h(s), a->alg, msg + 12, tsig_start - 12);
}

static void cut_tsig(uint8_t *msg, size_t *len, size_t start)
{
    uint16_t ar = (uint16_t)((msg[10] << 8) | msg[11]);
    ar--;
    msg[10] = (uint8_t)(ar >> 8);
    msg[11] = (uint8_t)ar;
    *len = start;
}

static bool time_ok(uint64_t signed_at, uint16_t fudge, int64_t now)
{
    int64_t d = now - (int64_t)signed_at;
    return d <= fudge && -d <= fudge;
}

/* MAC length rules (RFC 8945 5.2.2.1): longer than the hash or shorter
 * than max(10, half) is malformed; a truncated one that is otherwise
 * allowed is still refused here (local policy: full MACs only). */
static int mac_len_check(const struct alg_info *a, uint16_t ml, enum tsig_error *err)
{
    size_t min = a->mac_len / 2 > 10 ? a->mac_len / 2 : 10;
    if (ml > a->mac_len || ml < min)
        return DNSBL_EINVAL;
    if (ml < a->mac_len) {
        *err = TSIG_BADTRUNC;
        return DNSBL_EREFUSED;
    }
    return DNSBL_OK;
}

static bool mac_equal(const uint8_t *x, const uint8_t *y, size_t n)
{
    return CRYPTO_memcmp(x, y, n) == 0;
}

/* ---- server side ---- */

int tsig_verify_request(struct tsig_session *s, const struct tsig_key *keys, size_t nkeys,
                        uint8_t *msg, size_t *len, int64_t now, enum tsig_error *err)
{
    struct tsig_rr t;
    memset(s, 0, sizeof *s);
    *err = TSIG_ERR_NONE;
    int rc = tsig_find(msg, *len, &t);
    if (rc != DNSBL_OK)
        return rc;
    memcpy(s->err_name, t.name, t.name_len);
    s->err_name_len = t.name_len;
    memcpy(s->err_alg, t.alg, t.alg_len);
    s->err_alg_len = t.alg_len;
    s->req_time = t.time_signed;
    const struct alg_info *a = alg_find_wire(t.alg, t.alg_len);
    const struct tsig_key *k = NULL;
    for (size_t i = 0; a && i < nkeys; i++)
        if (keys[i].name_wire_len == t.name_len &&
            memcmp(keys[i].name_wire, t.name, t.name_len) == 0 && keys[i].alg == a->alg)
            k = &keys[i];
    s->messages = 1;
    if (!k) {
        *err = TSIG_BADKEY;
        s->error = TSIG_BADKEY;
        cut_tsig(msg, len, t.start);
        return DNSBL_EREFUSED;
    }
    s->key = k;
    rc = mac_len_check(a, t.mac_len, err);
    if (rc == DNSBL_EINVAL) {
        s->key = NULL;
        return rc;
    }
    inner_start(s, a, false);
    feed_message(s, a, msg, t.start, t.orig_id);
    feed_vars(s, a, true, t.time_signed, t.fudge, t.error, t.other, t.other_len);
    uint8_t mac[TSIG_MAC_MAX];
    inner_finish(s, a, mac);
    cut_tsig(msg, len, t.start);
    if (!mac_equal(mac, t.mac, t.mac_len)) {
        *err = TSIG_BADSIG;
        s->error = TSIG_BADSIG;
        return DNSBL_EREFUSED;
    }
    /* The request MAC is what the first answer covers. */
    memcpy(s->mac, t.mac, t.mac_len);
    s->mac_len = t.mac_len;
    if (!time_ok(t.time_signed, t.fudge, now)) {
        *err = TSIG_BADTIME;
        s->error = TSIG_BADTIME;
        return DNSBL_EREFUSED;
    }
    if (rc == DNSBL_EREFUSED) { /* BADTRUNC, answered signed */
        s->error = TSIG_BADTRUNC;
        return rc;
    }
    return DNSBL_OK;
}

/* Write the TSIG record at the end of msg. */
static int put_record(uint8_t *msg, size_t *len, size_t cap, const uint8_t *name, uint16_t name_len,
                      const uint8_t *alg, uint16_t alg_len, uint64_t time_signed,
                      const uint8_t *mac, size_t mac_len, uint16_t orig_id, uint16_t error,
                      const uint8_t *other, uint16_t other_len)
{
    struct wire w;
    if (*len < 12 || *len > cap)
        return DNSBL_EINVAL;
    wire_init(&w, msg + *len, cap - *len);
    wire_put_bytes(&w, name, name_len);
    wire_put_u16(&w, TYPE_TSIG);
    wire_put_u16(&w, CLASS_ANY);
    wire_put_u32(&w, 0);
    wire_put_u16(&w, (uint16_t)(alg_len + 16 + mac_len + other_len));
    wire_put_bytes(&w, alg, alg_len);
    wire_put_u16(&w, (uint16_t)(time_signed >> 32));
    wire_put_u32(&w, (uint32_t)time_signed);
    wire_put_u16(&w, FUDGE);
    wire_put_u16(&w, (uint16_t)mac_len);
    wire_put_bytes(&w, mac, mac_len);
    wire_put_u16(&w, orig_id);
    wire_put_u16(&w, error);
    wire_put_u16(&w, other_len);
    wire_put_bytes(&w, other, other_len);
    if (w.err)
        return DNSBL_ESPACE;
    *len += wire_used(&w);
    uint16_t ar = (uint16_t)((msg[10] << 8) | msg[11]);
    ar++;
    msg[10] = (uint8_t)(ar >> 8);
    msg[11] = (uint8_t)ar;
    return DNSBL_OK;
}

int tsig_sign(struct tsig_session *s, uint8_t *msg, size_t *len, size_t cap, int64_t now,
              enum tsig_error err)
{
    if (*len < 12 || *len > cap)
        return DNSBL_EINVAL;
    uint16_t id = (uint16_t)((msg[0] << 8) | msg[1]);
    if (err == TSIG_ERR_NONE)
        err = s->error;
    if (!s->key && !s->err_name_len)
        return DNSBL_OK; /* no TSIG in this exchange */
    if (err == TSIG_BADKEY || err == TSIG_BADSIG || !s->key) {
        /* Unsigned error answer (RFC 8945 5.3.2): the request's names. */
        s->messages++;
        return put_record(msg, len, cap, s->err_name, s->err_name_len, s->err_alg, s->err_alg_len,
                          (uint64_t)now, NULL, 0, id, (uint16_t)err, NULL, 0);
    }
    const struct alg_info *a = alg_find(s->key->alg);
    if (!a)
        return DNSBL_EINVAL;
    uint64_t t = (uint64_t)now;
    uint8_t other[6];
    uint16_t other_len = 0;
    if (err == TSIG_BADTIME) {
        /* RFC 8945 5.2.3: the request's time, ours in Other Data. */
        t = s->req_time;
        for (int i = 0; i < 6; i++)
            other[i] = (uint8_t)((uint64_t)now >> (40 - 8 * i));
        other_len = 6;
    }
    bool request = s->messages == 0;
    bool full = s->messages <= 1;
    if (full)
        inner_start(s, a, !request);
    /* else: started after the prior MAC, fed with the unsigned since. */
    h_update(sess_h(s), a->alg, msg, *len);
    feed_vars(s, a, full, t, FUDGE, (uint16_t)err, other, other_len);
    uint8_t mac[TSIG_MAC_MAX];
    inner_finish(s, a, mac);
    int rc = put_record(msg, len, cap, s->key->name_wire, s->key->name_wire_len, a->wire,
                        a->wire_len, t, mac, a->mac_len, id, (uint16_t)err, other, other_len);
    if (rc != DNSBL_OK)
        return rc;
    memcpy(s->mac, mac, a->mac_len);
    s->mac_len = a->mac_len;
    s->messages++;
    s->unsigned_run = 0;
    inner_start(s, a, true);
    return DNSBL_OK;
}

void tsig_sign_skip(struct tsig_session *s, const uint8_t *msg, size_t len)
{
    const struct alg_info *a = s->key ? alg_find(s->key->alg) : NULL;
    if (!a || s->messages < 2)
        return; /* no TSIG, or the first answer: that one is always signed */
    h_update(sess_h(s), a->alg, msg, len);
    s->messages++;
    s->unsigned_run++;
}

/* ---- client side ---- */

int tsig_verify_answer(struct tsig_session *s, uint8_t *msg, size_t *len, int64_t now, bool last,
                       enum tsig_error *err)
{
    *err = TSIG_ERR_NONE;
    if (!s->key)
        return DNSBL_OK;
    const struct alg_info *a = alg_find(s->key->alg);
    if (!a || s->messages == 0)
        return DNSBL_EINVAL; /* the request was not signed by this session */
    struct tsig_rr t;
    int rc = tsig_find(msg, *len, &t);
    if (rc == DNSBL_EINVAL)
        return rc;
    if (rc == DNSBL_ENOENT) {
        /* Unsigned: allowed only in the middle of a stream (5.3.1). */
        if (s->messages == 1 || last || s->unsigned_run >= MAX_UNSIGNED) {
            *err = TSIG_BADSIG;
            return DNSBL_EREFUSED;
        }
        h_update(sess_h(s), a->alg, msg, *len);
        s->messages++;
        s->unsigned_run++;
        return DNSBL_OK;
    }
    if (t.name_len != s->key->name_wire_len || memcmp(t.name, s->key->name_wire, t.name_len) != 0 ||
        t.alg_len != a->wire_len || memcmp(t.alg, a->wire, t.alg_len) != 0) {
        *err = TSIG_BADKEY;
        return DNSBL_EREFUSED;
    }
    if (t.error != TSIG_ERR_NONE) {
        /* The server refused us (its error), signed or not. */
        *err = (enum tsig_error)t.error;
        return DNSBL_EREFUSED;
    }
    rc = mac_len_check(a, t.mac_len, err);
    if (rc != DNSBL_OK)
        return rc;
    bool full = s->messages == 1;
    if (full)
        inner_start(s, a, true); /* the request MAC */
    feed_message(s, a, msg, t.start, t.orig_id);
    feed_vars(s, a, full, t.time_signed, t.fudge, t.error, t.other, t.other_len);
    uint8_t mac[TSIG_MAC_MAX];
    inner_finish(s, a, mac);
    if (!mac_equal(mac, t.mac, t.mac_len)) {
        *err = TSIG_BADSIG;
        return DNSBL_EREFUSED;
    }
    if (!time_ok(t.time_signed, t.fudge, now)) {
        *err = TSIG_BADTIME;
        return DNSBL_EREFUSED;
    }
    cut_tsig(msg, len, t.start);
    memcpy(s->mac, t.mac, t.mac_len);
    s->mac_len = t.mac_len;
    s->messages++;
    s->unsigned_run = 0;
    inner_start(s, a, true);
    return DNSBL_OK;
}

bool tsig_session_ended_signed(const struct tsig_session *s)
{
    return !s->key || (s->messages > 1 && s->unsigned_run == 0);
}
