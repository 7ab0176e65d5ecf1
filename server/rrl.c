/* rrl: a token bucket per hashed client prefix. Budgets are kept in
 * thousandths of an answer so that refilling at rate per second is exact
 * integer arithmetic per millisecond. */
#include "rrl.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

#define RRL_MILLI 1000u /* one answer, in the units of a bucket's budget */

struct rrl_bucket {
    uint64_t stamp;   /* ms of the last refill */
    uint32_t tokens;  /* thousandths of an answer, at most rate * 1000 */
    uint32_t limited; /* limited answers so far, for the slip */
};

struct rrl {
    struct rrl_settings s;
    uint64_t seed;
    size_t mask; /* buckets - 1 */
    uint32_t cap;
    struct rrl_bucket *b;
};

int rrl_new(const struct rrl_settings *s, size_t buckets, uint64_t seed, struct rrl **out)
{
    if (s->rate == 0 || s->rate > RRL_RATE_MAX || s->slip > RRL_SLIP_MAX || s->ipv4_prefix > 32 ||
        s->ipv6_prefix > 128 || buckets == 0 || (buckets & (buckets - 1)) != 0)
        return DNSBL_EINVAL;
    struct rrl *r = calloc(1, sizeof *r);
    if (r == NULL || (r->b = calloc(buckets, sizeof *r->b)) == NULL) {
        free(r);
        return DNSBL_ENOMEM;
    }
    r->s = *s;
    r->seed = seed;
    r->mask = buckets - 1;
    r->cap = s->rate * RRL_MILLI;
    for (size_t i = 0; i < buckets; i++)
        r->b[i].tokens = r->cap;
    *out = r;
    return DNSBL_OK;
}

void rrl_free(struct rrl *r)
{
    if (r == NULL)
        return;
    free(r->b);
    free(r);
}

struct addr_prefix rrl_prefix(const struct rrl_settings *s, const struct addr_prefix *client)
{
    unsigned plen = client->family == ADDR_V4 ? s->ipv4_prefix : s->ipv6_prefix;
    return addr_truncate(client, plen < client->plen ? plen : client->plen);
}

/* splitmix64's finaliser: every input bit moves every output bit. */
static uint64_t rrl_mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

enum rrl_verdict rrl_check(struct rrl *r, const struct addr_prefix *client, uint64_t now_ms)
{
    struct addr_prefix key = rrl_prefix(&r->s, client);
    uint64_t w0, w1;
    memcpy(&w0, key.a, 8);
    memcpy(&w1, key.a + 8, 8);
    uint64_t h = rrl_mix(rrl_mix(w0 ^ r->seed) ^ w1 ^ key.family);
    struct rrl_bucket *b = &r->b[h & r->mask];

    /* A clock that went back refills nothing; a second or more refills all. */
    uint64_t elapsed = now_ms > b->stamp ? now_ms - b->stamp : 0;
    uint64_t tokens = b->tokens + (elapsed >= RRL_MILLI ? r->cap : elapsed * r->s.rate);
    b->tokens = tokens > r->cap ? r->cap : (uint32_t)tokens;
    if (now_ms > b->stamp)
        b->stamp = now_ms;
    if (b->tokens >= RRL_MILLI) {
        b->tokens -= RRL_MILLI;
        return RRL_PASS;
    }
    b->limited++;
    return r->s.slip != 0 && b->limited % r->s.slip == 0 ? RRL_SLIP : RRL_DROP;
}
