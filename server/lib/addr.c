/* addr: address and prefix parsing/printing, and the RFC 5782 reversed
 * query-name forms. addr_from_qname runs once per query, so it is one pass
 * over the labels with no allocation, no locale and no stdio. */
#include "addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

static const uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static unsigned family_bits(int family)
{
    return family == ADDR_V4 ? 32 : 128;
}

/* V4 prefixes live in the last 32 bits of the mapped space. */
static unsigned bit_offset(int family)
{
    return family == ADDR_V4 ? 96 : 0;
}

void addr_mask(struct addr_prefix *p)
{
    unsigned bits = family_bits(p->family);
    if (p->plen > bits)
        p->plen = (uint8_t)bits;
    unsigned keep = bit_offset(p->family) + p->plen;
    unsigned byte = keep / 8;
    if (byte >= 16)
        return;
    if (keep % 8) {
        p->a[byte] &= (uint8_t)(0xff << (8 - keep % 8));
        byte++;
    }
    memset(p->a + byte, 0, 16 - byte);
}

static bool is_mapped(const uint8_t *a16)
{
    return memcmp(a16, mapped_prefix, sizeof mapped_prefix) == 0;
}

void addr_from_bytes(struct addr_prefix *out, int family, const uint8_t *bytes, unsigned plen)
{
    memset(out, 0, sizeof *out);
    if (family == ADDR_V4) {
        memcpy(out->a, mapped_prefix, sizeof mapped_prefix);
        memcpy(out->a + 12, bytes, 4);
        out->family = ADDR_V4;
        out->plen = (uint8_t)(plen > 32 ? 32 : plen);
    } else {
        memcpy(out->a, bytes, 16);
        if (plen > 128)
            plen = 128;
        if (plen >= 96 && is_mapped(bytes)) {
            out->family = ADDR_V4;
            out->plen = (uint8_t)(plen - 96);
        } else {
            out->family = ADDR_V6;
            out->plen = (uint8_t)plen;
        }
    }
    addr_mask(out);
}

struct addr_prefix addr_truncate(const struct addr_prefix *p, unsigned plen)
{
    struct addr_prefix t = *p;
    if (plen < t.plen)
        t.plen = (uint8_t)plen;
    addr_mask(&t);
    return t;
}

bool addr_covers(const struct addr_prefix *outer, const struct addr_prefix *inner)
{
    if (outer->family != inner->family || outer->plen > inner->plen)
        return false;
    unsigned bits = bit_offset(outer->family) + outer->plen;
    unsigned whole = bits / 8;
    if (memcmp(outer->a, inner->a, whole) != 0)
        return false;
    if (bits % 8 == 0)
        return true;
    uint8_t m = (uint8_t)(0xff << (8 - bits % 8));
    return ((outer->a[whole] ^ inner->a[whole]) & m) == 0;
}

int addr_compare(const struct addr_prefix *x, const struct addr_prefix *y)
{
    if (x->family != y->family)
        return x->family < y->family ? -1 : 1;
    int c = memcmp(x->a, y->a, 16);
    if (c != 0)
        return c < 0 ? -1 : 1;
    if (x->plen != y->plen)
        return x->plen < y->plen ? -1 : 1;
    return 0;
}

size_t addr_format(const struct addr_prefix *p, char *buf, size_t cap)
{
    char tmp[ADDR_TEXT_MAX];
    if (cap == 0)
        return 0;
    bool v4 = p->family == ADDR_V4;
    if (!inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? p->a + 12 : p->a, tmp, sizeof tmp))
        tmp[0] = '\0';
    size_t n = strlen(tmp);
    if (p->plen != family_bits(p->family))
        n += (size_t)snprintf(tmp + n, sizeof tmp - n, "/%u", (unsigned)p->plen);
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, tmp, n);
    buf[n] = '\0';
    return n;
}

static int parse_fail(char *why, size_t whylen, const char *text)
{
    if (why && whylen)
        snprintf(why, whylen, "'%s' is not an IPv4/IPv6 address or prefix", text);
    return DNSBL_EINVAL;
}

int addr_parse(const char *text, struct addr_prefix *out, char *why, size_t whylen)
{
    char host[ADDR_TEXT_MAX];
    if (!text)
        text = "";
    const char *slash = strchr(text, '/');
    size_t hlen = slash ? (size_t)(slash - text) : strlen(text);
    if (hlen == 0 || hlen >= sizeof host)
        return parse_fail(why, whylen, text);
    memcpy(host, text, hlen);
    host[hlen] = '\0';

    uint8_t bytes[16];
    int family = strchr(host, ':') ? ADDR_V6 : ADDR_V4;
    if (inet_pton(family == ADDR_V6 ? AF_INET6 : AF_INET, host, bytes) != 1)
        return parse_fail(why, whylen, text);

    unsigned maxlen = family_bits(family);
    unsigned plen = maxlen;
    if (slash) {
        const char *d = slash + 1;
        if (*d == '\0')
            return parse_fail(why, whylen, text);
        unsigned long v = 0;
        for (; *d; d++) {
            if (*d < '0' || *d > '9')
                return parse_fail(why, whylen, text);
            if (v <= 1000)
                v = v * 10 + (unsigned)(*d - '0');
        }
        if (v > maxlen) {
            if (why && whylen)
                snprintf(why, whylen, "'%s' has a prefix length out of range (0-%u)", text, maxlen);
            return DNSBL_EINVAL;
        }
        plen = (unsigned)v;
    }

    struct addr_prefix p;
    addr_from_bytes(&p, family, bytes, plen);
    /* Host bits: compare the masked result with what was written. */
    const uint8_t *orig = bytes;
    const uint8_t *masked = family == ADDR_V4 ? p.a + 12 : p.a;
    if (memcmp(orig, masked, family == ADDR_V4 ? 4 : 16) != 0) {
        if (why && whylen) {
            char fixed[ADDR_TEXT_MAX];
            addr_format(&p, fixed, sizeof fixed);
            snprintf(why, whylen, "'%s' has host bits set; did you mean %s?", text, fixed);
        }
        return DNSBL_EINVAL;
    }
    *out = p;
    return DNSBL_OK;
}

/* -1 if c is not a hex digit. */
static int hex_value(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

enum addr_qname addr_from_qname(const uint8_t *labels, size_t len, struct addr_prefix *out)
{
    uint8_t octets[4] = {0};
    uint8_t nib[16] = {0};
    unsigned count = 0;
    bool all_octets = true, all_nibbles = true;
    size_t i = 0;

    if (len == 0)
        return ADDR_QNAME_INVALID;
    while (i < len) {
        unsigned l = labels[i++];
        if (l == 0 || l > len - i || count >= 32)
            return ADDR_QNAME_INVALID;
        const uint8_t *s = labels + i;
        i += l;

        /* The first label is the least significant octet / nibble. */
        bool octet_ok = false;
        if (all_octets && l <= 3 && count < 4) {
            unsigned v = 0;
            octet_ok = true;
            for (unsigned k = 0; k < l; k++) {
                if (s[k] < '0' || s[k] > '9') {
                    octet_ok = false;
                    break;
                }
                v = v * 10 + (unsigned)(s[k] - '0');
            }
            if (octet_ok && v > 255)
                octet_ok = false;
            if (octet_ok)
                octets[3 - count] = (uint8_t)v;
        }
        bool nibble_ok = false;
        if (all_nibbles && l == 1) {
            int h = hex_value(s[0]);
            if (h >= 0) {
                nibble_ok = true;
                unsigned pos = 31 - count; /* nibble index, most significant first */
                nib[pos / 2] |= (uint8_t)(pos % 2 ? h : h << 4);
            }
        }
        all_octets = all_octets && octet_ok;
        all_nibbles = all_nibbles && nibble_ok;
        if (!all_octets && !all_nibbles)
            return ADDR_QNAME_INVALID;
        count++;
    }

    if (count == 4 && all_octets) {
        addr_from_bytes(out, ADDR_V4, octets, 32);
        return ADDR_QNAME_FULL;
    }
    if (count == 32 && all_nibbles) {
        addr_from_bytes(out, ADDR_V6, nib, 128);
        return ADDR_QNAME_FULL;
    }
    if ((all_octets && count <= 3) || (all_nibbles && count <= 31))
        return ADDR_QNAME_PARTIAL;
    return ADDR_QNAME_INVALID;
}

size_t addr_to_qname(const struct addr_prefix *p, const char *zone, char *buf, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[128 + 1];
    size_t n = 0;

    if (p->family == ADDR_V4) {
        for (int k = 15; k >= 12; k--) {
            unsigned v = p->a[k];
            if (v >= 100)
                tmp[n++] = (char)('0' + v / 100);
            if (v >= 10)
                tmp[n++] = (char)('0' + v / 10 % 10);
            tmp[n++] = (char)('0' + v % 10);
            tmp[n++] = '.';
        }
    } else {
        for (int k = 15; k >= 0; k--) {
            tmp[n++] = hex[p->a[k] & 0xf];
            tmp[n++] = '.';
            tmp[n++] = hex[p->a[k] >> 4];
            tmp[n++] = '.';
        }
    }
    size_t zlen = zone ? strlen(zone) : 0;
    if (zlen == 0)
        n--; /* no zone: drop the trailing dot */
    if (n + zlen >= cap)
        return 0;
    memcpy(buf, tmp, n);
    if (zlen)
        memcpy(buf + n, zone, zlen);
    buf[n + zlen] = '\0';
    return n + zlen;
}
