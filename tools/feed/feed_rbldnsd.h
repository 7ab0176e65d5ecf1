/* feed_rbldnsd: the rbldnsd dataset importer (doc/formats.md section 4), whose
 * parser is feed_ops_rbldnsd in feed.h, plus the apex zone file its $SOA and
 * $NS lines describe. Nothing here keeps state between calls; the caller
 * owns the input, the options and the output stream. */
#ifndef DNSBL_FEED_RBLDNSD_H
#define DNSBL_FEED_RBLDNSD_H

#include <stddef.h>
#include <stdio.h>

#include "feed.h"

/* Write a master-format zone file for the apex opt->zone from the first
 * valid $SOA and $NS lines of the rbldnsd data in `in` (any dataset type),
 * records built and printed with ldns. SOA serial 0 becomes
 * opt->file_mtime; a TTL of 0 becomes the data's $TTL when one was given
 * before, else 3600. Returns DNSBL_OK, DNSBL_EINVAL (no zone name, no valid
 * $SOA: why says which), DNSBL_ENOMEM or DNSBL_EIO (writing out failed). */
int feed_rbldnsd_emit_zone(const struct feed_input *in, const struct feed_options *opt, FILE *out,
                           char *why, size_t whylen);

#endif
