/* Fuzz target for the flat index (flat.c), two ways. The input read as a
 * list of prefixes and values is built into a blob, which must verify
 * clean and answer every address the input names exactly as a scan of
 * the list does. The input read as a blob itself must never make
 * flat_view_open, flat_view_verify or a lookup read outside it, loop or
 * shift out of range, whatever it claims. Built with libFuzzer when
 * DNSBL_FUZZ is on, otherwise linked with replay.c so the corpus runs as
 * an ordinary test. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "err.h"
#include "flat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_MAX 256  /* entries read from one input */
#define FZ_HITS 129 /* prefix lengths 0..128 */

struct fz_entry {
    struct addr_prefix p;
    const uint8_t *val;
    size_t len;
};

static int fz_cmp(const void *a, const void *b)
{
    return addr_compare(&((const struct fz_entry *)a)->p, &((const struct fz_entry *)b)->p);
}

/* One record: a byte whose top bit picks the family and the rest the
 * length (modulo the family's width + 1), 4 or 16 address bytes, a value
 * length byte (0..7) and that many value bytes. */
static size_t fz_parse(const uint8_t *data, size_t size, struct fz_entry *e)
{
    size_t n = 0, i = 0;
    while (n < FZ_MAX && i < size) {
        uint8_t head = data[i++];
        bool v6 = head & 0x80;
        size_t alen = v6 ? 16 : 4;
        if (i + alen + 1 > size)
            break;
        unsigned plen = (head & 0x7f) % (v6 ? 129 : 33);
        addr_from_bytes(&e[n].p, v6 ? ADDR_V6 : ADDR_V4, data + i, plen);
        i += alen;
        e[n].len = data[i++] & 7;
        if (i + e[n].len > size)
            break;
        e[n].val = data + i;
        i += e[n].len;
        n++;
    }
    qsort(e, n, sizeof *e, fz_cmp);
    size_t m = 0;
    for (size_t j = 0; j < n; j++) {
        if (m == 0 || addr_compare(&e[m - 1].p, &e[j].p) != 0)
            e[m++] = e[j];
    }
    return m;
}

static void fz_count_problem(void *arg, const char *what)
{
    (void)what;
    (*(size_t *)arg)++;
}

/* The hits for addr must be exactly the covering entries, longest first. */
static void fz_check_lookup(const struct flat_view *v, const struct fz_entry *e, size_t n,
                            const struct addr_prefix *addr)
{
    struct flat_hit hits[FZ_HITS];
    size_t got;
    if (flat_view_covering(v, addr, hits, FZ_HITS, &got) != DNSBL_OK)
        abort();
    size_t want = 0;
    for (size_t i = n; i-- > 0;) {
        if (!addr_covers(&e[i].p, addr))
            continue;
        /* Entries in key order: a covering one later in the list is the
         * longer prefix, so the hits come in reverse list order. */
        if (want >= got || addr_compare(&hits[want].prefix, &e[i].p) != 0 ||
            hits[want].len != e[i].len ||
            (e[i].len && memcmp(hits[want].val, e[i].val, e[i].len) != 0))
            abort();
        want++;
    }
    if (want != got)
        abort();
}

static void fz_build(const uint8_t *data, size_t size)
{
    static struct fz_entry e[FZ_MAX];
    size_t n = fz_parse(data, size, e);
    struct flat_builder *b;
    if (flat_builder_new(&b) != DNSBL_OK)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (flat_builder_add(b, &e[i].p, e[i].val, e[i].len) != DNSBL_OK)
            abort();
    }
    size_t len = flat_builder_size(b);
    uint8_t *blob = malloc(len + 1);
    if (!blob)
        abort();
    /* One byte in: the view must not depend on alignment. */
    flat_builder_write(b, blob + 1);
    struct flat_view v;
    size_t problems = 0;
    if (!flat_view_open(&v, blob + 1, len) || flat_view_verify(&v, fz_count_problem, &problems) ||
        problems)
        abort();
    for (size_t i = 0; i < n; i++) {
        /* The first and last address of each entry, and one past it. */
        struct addr_prefix a = e[i].p;
        unsigned full = a.family == ADDR_V4 ? 32 : 128, first = a.family == ADDR_V4 ? 12 : 0;
        a.plen = (uint8_t)full;
        fz_check_lookup(&v, e, n, &a);
        for (unsigned bit = a.family == ADDR_V4 ? 96 + e[i].p.plen : e[i].p.plen; bit < 128; bit++)
            a.a[bit / 8] |= (uint8_t)(0x80u >> bit % 8);
        fz_check_lookup(&v, e, n, &a);
        for (unsigned k = 16; k-- > first;) {
            if (++a.a[k] != 0)
                break;
        }
        if (a.family == ADDR_V6 || memcmp(a.a, e[i].p.a, 12) == 0)
            fz_check_lookup(&v, e, n, &a);
    }
    free(blob);
    flat_builder_free(b);
}

/* The input as a blob: whatever it says, no crash. */
static void fz_blob(const uint8_t *data, size_t size)
{
    uint8_t *copy = calloc(1, size ? size : 1);
    if (!copy)
        abort();
    if (size)
        memcpy(copy, data, size);
    struct flat_view v;
    if (flat_view_open(&v, copy, size)) {
        size_t problems = 0;
        flat_view_verify(&v, fz_count_problem, &problems);
        struct flat_hit hits[FZ_HITS];
        size_t got;
        for (size_t i = 0; i + 16 <= size && i < 64 * 16; i += 16) {
            struct addr_prefix a;
            addr_from_bytes(&a, ADDR_V6, data + i, 128);
            (void)flat_view_covering(&v, &a, hits, FZ_HITS, &got);
            addr_from_bytes(&a, ADDR_V4, data + i, 32);
            (void)flat_view_covering(&v, &a, hits, FZ_HITS, &got);
        }
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_build(data, size);
    fz_blob(data, size);
    return 0;
}
