/* Fuzz target for address parsing: the input as text (a NUL-terminated
 * copy) through addr_parse, and as raw wire labels through
 * addr_from_qname, with round trips: a parsed prefix formats and parses
 * back to itself, and a full address read from a query name makes that
 * name again with addr_to_qname. Built with libFuzzer when DNSBL_FUZZ is
 * on, otherwise linked with replay.c so the corpus runs as an ordinary
 * test. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool fz_valid(const struct addr_prefix *p)
{
    struct addr_prefix m = *p;
    if (!((p->family == ADDR_V4 && p->plen <= 32) || (p->family == ADDR_V6 && p->plen <= 128)))
        return false;
    addr_mask(&m);
    return memcmp(&m, p, sizeof m) == 0;
}

static bool fz_same(const struct addr_prefix *a, const struct addr_prefix *b)
{
    return a->family == b->family && a->plen == b->plen && memcmp(a->a, b->a, 16) == 0;
}

static void fz_text(const uint8_t *data, size_t size)
{
    char text[512], why[256], again[ADDR_TEXT_MAX];
    struct addr_prefix p, q;
    size_t n = size < sizeof text - 1 ? size : sizeof text - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    if (addr_parse(text, &p, why, sizeof why) != 0) {
        if (why[0] == '\0')
            abort();
        return;
    }
    size_t len = addr_format(&p, again, sizeof again);
    if (!fz_valid(&p) || len == 0 || len >= sizeof again || strlen(again) != len ||
        addr_parse(again, &q, why, sizeof why) != 0 || !fz_same(&p, &q) ||
        addr_compare(&p, &q) != 0 || !addr_covers(&p, &q))
        abort();
}

/* "7.2.0.192.bl.example" back into wire labels, without the zone. */
static size_t fz_labels(const char *name, size_t namelen, uint8_t *out, size_t cap)
{
    size_t used = 0;
    const char *p = name, *end = name + namelen;
    while (p < end) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        size_t l = (size_t)((dot ? dot : end) - p);
        if (l == 0 || l > 63 || used + 1 + l > cap)
            abort();
        out[used++] = (uint8_t)l;
        memcpy(out + used, p, l);
        used += l;
        p += l + 1;
    }
    return used;
}

static void fz_qname(const uint8_t *data, size_t size)
{
    struct addr_prefix p, q;
    char name[300];
    uint8_t labels[256];
    enum addr_qname kind = addr_from_qname(data, size, &p);
    if (kind != ADDR_QNAME_FULL)
        return;
    if (!fz_valid(&p) || p.plen != (p.family == ADDR_V4 ? 32 : 128))
        abort();
    static const char zone[] = "bl.example";
    size_t len = addr_to_qname(&p, zone, name, sizeof name);
    if (len <= sizeof zone || len >= sizeof name || name[len - sizeof zone] != '.')
        abort();
    size_t llen = fz_labels(name, len - sizeof zone, labels, sizeof labels);
    if (addr_from_qname(labels, llen, &q) != ADDR_QNAME_FULL || !fz_same(&p, &q))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_text(data, size);
    fz_qname(data, size);
    return 0;
}
