/* grow: doubling capacity for the arrays that builders and parsers fill. */
#include "grow.h"

#include <stdint.h>
#include <stdlib.h>

#include "err.h"

int grow_array(void **p, size_t *cap, size_t need, size_t elem, size_t first)
{
    if (need <= *cap)
        return DNSBL_OK;
    size_t next = *cap ? *cap : (first ? first : 1);
    while (next < need) {
        if (next > SIZE_MAX / 2 / elem)
            return DNSBL_ENOMEM;
        next *= 2;
    }
    void *q = realloc(*p, next * elem);
    if (!q)
        return DNSBL_ENOMEM;
    *p = q;
    *cap = next;
    return DNSBL_OK;
}
