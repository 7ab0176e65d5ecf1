#include "radix.h"

#include <string.h>

static const uint8_t *radix_key(const struct radix_sort *rs, const uint8_t *base, size_t i)
{
    return base + i * rs->size + rs->key;
}

void radix_sort_records(struct radix_sort *rs)
{
    size_t n = rs->n, size = rs->size;
    if (n < 2)
        return;
    memset(rs->count + rs->first, 0, (rs->last - rs->first) * sizeof rs->count[0]);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *k = radix_key(rs, rs->rec, i);
        for (size_t d = rs->first; d < rs->last; d++)
            rs->count[d][k[d]]++;
    }
    for (size_t d = rs->last; d-- > rs->first;) {
        uint32_t *c = rs->count[d];
        if (c[radix_key(rs, rs->rec, 0)[d]] == n)
            continue; /* one value for everyone: order unchanged */
        uint32_t sum = 0;
        for (unsigned v = 0; v < 256; v++) {
            uint32_t here = c[v];
            c[v] = sum;
            sum += here;
        }
        uint8_t *from = rs->rec, *to = rs->tmp;
        for (size_t i = 0; i < n; i++)
            memcpy(to + (size_t)c[radix_key(rs, from, i)[d]]++ * size, from + i * size, size);
        rs->rec = to;
        rs->tmp = from;
    }
}
