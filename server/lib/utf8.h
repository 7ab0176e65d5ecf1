/* utf8: the one check of well-formed UTF-8 (RFC 3629 section 4), used where
 * outside bytes are judged (import refusing binary input) or written out
 * (warnings, JSON). Pure function over the caller's bytes; nothing owned. */
#ifndef DNSBL_UTF8_H
#define DNSBL_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length of the well-formed sequence at p (1 to 4), or 0 when it is
 * ill-formed or cut off by n: no overlong forms, no UTF-16 surrogates,
 * nothing past U+10FFFF. Reads no byte after the first that fails, so a
 * NUL-terminated string may pass n = 4. */
size_t utf8_seq_len(const uint8_t *p, size_t n);

#endif
