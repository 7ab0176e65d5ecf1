/* utf8: see utf8.h. The second byte's range carries the RFC 3629 rules
 * (its table of well-formed byte sequences); later bytes are plain
 * continuation bytes. */
#include "utf8.h"

size_t utf8_seq_len(const uint8_t *p, size_t n)
{
    uint8_t b = p[0];
    size_t need;
    uint8_t lo = 0x80, hi = 0xbf; /* the range of the second byte */

    if (b < 0x80)
        return 1;
    if (b >= 0xc2 && b <= 0xdf)
        need = 2;
    else if (b >= 0xe0 && b <= 0xef) {
        need = 3;
        lo = b == 0xe0 ? 0xa0 : 0x80; /* no overlong forms */
        hi = b == 0xed ? 0x9f : 0xbf; /* no UTF-16 surrogates */
    } else if (b >= 0xf0 && b <= 0xf4) {
        need = 4;
        lo = b == 0xf0 ? 0x90 : 0x80;
        hi = b == 0xf4 ? 0x8f : 0xbf; /* nothing past U+10FFFF */
    } else
        return 0;
    if (n < need || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return need;
}
