/* grow: room in a caller-owned array that grows by doubling. The caller
 * owns *p (malloc'd or NULL) and frees it; nothing else is allocated. */
#ifndef DNSBL_GROW_H
#define DNSBL_GROW_H

#include <stddef.h>

/* Room for need elements of elem bytes in *p, whose room is *cap: on
 * growth the capacity doubles from first (or from *cap) until it fits.
 * DNSBL_OK, or DNSBL_ENOMEM (the size would overflow, or realloc failed)
 * with *p and *cap untouched. */
int grow_array(void **p, size_t *cap, size_t need, size_t elem, size_t first);

#endif
