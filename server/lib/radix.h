/* radix: a stable LSD radix sort of fixed-size records by a byte string
 * inside each, for the batches the store and the importer sort by key.
 * Allocates nothing: the caller owns the records, the spare array and the
 * histograms. */
#ifndef DNSBL_RADIX_H
#define DNSBL_RADIX_H

#include <stddef.h>
#include <stdint.h>

struct radix_sort {
    void *rec; /* n records of size bytes; the sorted order ends here */
    void *tmp; /* room for n more (may be swapped with rec) */
    size_t n, size;
    size_t key;             /* offset of the key in a record */
    size_t first, last;     /* sort by key bytes [first, last) */
    uint32_t (*count)[256]; /* last rows of scratch histograms */
};

/* Sorts by the key bytes, ties kept in their order; a byte that is the
 * same in every record costs no pass. rec and tmp may change places. */
void radix_sort_records(struct radix_sort *rs);

#endif
