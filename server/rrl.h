/* rrl: response rate limiting per client prefix (the idea of BIND, Knot and
 * NSD RRL) for UDP answers. One table per worker: rrl_new allocates it
 * whole, rrl_free frees it; rrl_check never allocates or locks, so a table
 * belongs to one thread. The clock is passed in (milliseconds, monotonic). */
#ifndef DNSBL_RRL_H
#define DNSBL_RRL_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "config.h" /* struct rrl_settings */

#define RRL_BUCKETS 32768 /* per worker, 16 bytes each */

enum rrl_verdict {
    RRL_PASS, /* answer normally */
    RRL_DROP, /* send nothing */
    RRL_SLIP, /* send a truncated answer (TC, no records) so a real client retries over TCP */
};

struct rrl;

/* A table of buckets (a power of two; RRL_BUCKETS in the server) with
 * every budget full. seed keys the hash, so that nobody outside can aim
 * at the bucket of a victim. DNSBL_OK, DNSBL_EINVAL or DNSBL_ENOMEM. */
int rrl_new(const struct rrl_settings *s, size_t buckets, uint64_t seed, struct rrl **out);
void rrl_free(struct rrl *r);

/* The verdict for one answer to client (a full address) at now_ms. Each
 * prefix has a token bucket holding at most one second's worth (rate); a
 * pass takes a token. Prefixes whose hash collides share a bucket. */
enum rrl_verdict rrl_check(struct rrl *r, const struct addr_prefix *client, uint64_t now_ms);

/* The client's prefix as rrl counts it (for logs and tests). */
struct addr_prefix rrl_prefix(const struct rrl_settings *s, const struct addr_prefix *client);

#endif
