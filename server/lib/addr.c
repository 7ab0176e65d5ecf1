/* addr: address and prefix parsing/printing, and the RFC 5782 reversed
 * query-name forms. addr_from_qname runs once per query, so it is a tight
 * pass over the labels with no allocation, no locale and no stdio. */
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

/* 0x10 | value for a hex digit of either case, 0 for any other byte: the
 * flag bit survives an AND over every digit only when all of them are hex. */
#define HEX_OK 0x10
static const uint8_t hex_digit[256] = {
    ['0'] = 0x10, ['1'] = 0x11, ['2'] = 0x12, ['3'] = 0x13, ['4'] = 0x14, ['5'] = 0x15,
    ['6'] = 0x16, ['7'] = 0x17, ['8'] = 0x18, ['9'] = 0x19, ['a'] = 0x1a, ['b'] = 0x1b,
    ['c'] = 0x1c, ['d'] = 0x1d, ['e'] = 0x1e, ['f'] = 0x1f, ['A'] = 0x1a, ['B'] = 0x1b,
    ['C'] = 0x1c, ['D'] = 0x1d, ['E'] = 0x1e, ['F'] = 0x1f,
};

/* Are labels an IPv4 name: at most four labels of 1..3 decimal digits,
 * each at most 255? The octets go to oct[] least significant label first
 * (RFC 5782: 7.2.0.192 is 192.0.2.7); *count gets how many. */
static bool qname_octets(const uint8_t *labels, size_t len, uint8_t oct[4], unsigned *count)
{
    unsigned c = 0;
    for (size_t i = 0; i < len; c++) {
        unsigned l = labels[i++];
        /* l - 1 > 2 rejects both an empty label and one over 3 digits. */
        if (l - 1 > 2 || l > len - i || c == 4)
            return false;
        /* One to three digits, unrolled: no loop per digit. */
        const uint8_t *s = labels + i;
        unsigned v = (unsigned)s[0] - '0';
        if (v > 9)
            return false;
        if (l > 1) {
            unsigned d = (unsigned)s[1] - '0';
            if (d > 9)
                return false;
            v = v * 10 + d;
            if (l > 2) {
                d = (unsigned)s[2] - '0';
                if (d > 9)
                    return false;
                v = v * 10 + d;
                if (v > 255)
                    return false;
            }
        }
        oct[3 - c] = (uint8_t)v;
        i += l;
    }
    *count = c;
    return true;
}

/* Are labels an IPv6 nibble name: 1..32 labels of one hex digit each,
 * least significant first? With 32 of them the address goes to a16. */
static bool qname_nibbles(const uint8_t *labels, size_t len, uint8_t a16[16])
{
    /* Every label is two bytes, length 1 then the digit: check the length
     * bytes eight at a time (the masks are bytes, so any byte order). */
    static const uint8_t ones[8] = {1, 0, 1, 0, 1, 0, 1, 0},
                         even[8] = {0xff, 0, 0xff, 0, 0xff, 0, 0xff, 0};
    uint64_t want, mask, x;
    if (len % 2 || len > 64)
        return false;
    memcpy(&want, ones, 8);
    memcpy(&mask, even, 8);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        memcpy(&x, labels + i, 8);
        if ((x & mask) != want)
            return false;
    }
    for (; i < len; i += 2) {
        if (labels[i] != 1)
            return false;
    }
    uint8_t all = HEX_OK;
    if (len < 64) {
        for (i = 1; i < len; i += 2)
            all &= hex_digit[labels[i]];
        return all & HEX_OK;
    }
    /* Byte 15 - j holds the digits of labels 2j + 1 (high) and 2j (low). */
    for (unsigned j = 0; j < 16; j++) {
        uint8_t lo = hex_digit[labels[4 * j + 1]], hi = hex_digit[labels[4 * j + 3]];
        all &= lo & hi;
        a16[15 - j] = (uint8_t)((hi << 4) | (lo & 0x0f));
    }
    return all & HEX_OK;
}

/* This runs for every query: one pass for the IPv4 form, a second only
 * when that fails, and the address written directly (it is full length,
 * so there is nothing to mask). */
enum addr_qname addr_from_qname(const uint8_t *labels, size_t len, struct addr_prefix *out)
{
    uint8_t oct[4], a16[16];
    unsigned count;

    if (len == 0)
        return ADDR_QNAME_INVALID;
    /* Four labels of three digits take 16 bytes: longer is no IPv4 name. */
    if (len <= 16 && qname_octets(labels, len, oct, &count)) {
        if (count < 4)
            return ADDR_QNAME_PARTIAL;
        out->family = ADDR_V4;
        out->plen = 32;
        memcpy(out->a, mapped_prefix, sizeof mapped_prefix);
        memcpy(out->a + 12, oct, 4);
        return ADDR_QNAME_FULL;
    }
    if (!qname_nibbles(labels, len, a16))
        return ADDR_QNAME_INVALID;
    if (len < 64)
        return ADDR_QNAME_PARTIAL;
    memcpy(out->a, a16, 16);
    if (is_mapped(a16)) {
        out->family = ADDR_V4;
        out->plen = 32;
    } else {
        out->family = ADDR_V6;
        out->plen = 128;
    }
    return ADDR_QNAME_FULL;
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
