/* connlimit: an open-addressing table keyed by client address, at least
 * twice as large as the most clients that can be counted at once, so it
 * never fills and probes stay short. Deleting shifts the entries behind
 * back (no tombstones to pile up). */
#include "connlimit.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "err.h"

struct connlimit_slot {
    struct addr_prefix key;
    uint32_t count; /* 0 = empty slot */
};

struct connlimit {
    pthread_mutex_t lock;
    unsigned max_total, max_per_client, open;
    size_t mask;
    struct connlimit_slot *slots;
};

int connlimit_new(unsigned max_total, unsigned max_per_client, struct connlimit **out)
{
    if (max_total == 0 || max_per_client == 0 || max_total > (1u << 24))
        return DNSBL_EINVAL;
    size_t size = 16;
    while (size < 2 * (size_t)max_total)
        size *= 2;
    struct connlimit *c = calloc(1, sizeof *c);
    if (c == NULL || (c->slots = calloc(size, sizeof *c->slots)) == NULL) {
        free(c);
        return DNSBL_ENOMEM;
    }
    pthread_mutex_init(&c->lock, NULL);
    c->max_total = max_total;
    c->max_per_client = max_per_client;
    c->mask = size - 1;
    *out = c;
    return DNSBL_OK;
}

void connlimit_free(struct connlimit *c)
{
    if (c == NULL)
        return;
    pthread_mutex_destroy(&c->lock);
    free(c->slots);
    free(c);
}

static struct addr_prefix connlimit_key(const struct addr_prefix *client)
{
    if (client->family == ADDR_V6 && client->plen > 64)
        return addr_truncate(client, 64);
    return *client;
}

/* FNV-1a: the table is small and bounded, so a plain hash is enough. */
static size_t connlimit_home(const struct connlimit *c, const struct addr_prefix *k)
{
    uint32_t h = 2166136261u;
    h = (h ^ k->family) * 16777619u;
    h = (h ^ k->plen) * 16777619u;
    for (int i = 0; i < 16; i++)
        h = (h ^ k->a[i]) * 16777619u;
    return h & c->mask;
}

/* The slot holding k, or the empty slot where it would go. */
static size_t connlimit_find(const struct connlimit *c, const struct addr_prefix *k)
{
    size_t i = connlimit_home(c, k);
    while (c->slots[i].count != 0 && addr_compare(&c->slots[i].key, k) != 0)
        i = (i + 1) & c->mask;
    return i;
}

/* Under the lock. The per-client limit is checked first: CONNLIMIT_TOTAL
 * then means the client would be let in if there were room, which is when
 * a caller may make room (connlimit_replace). */
static enum connlimit_verdict connlimit_add_locked(struct connlimit *c, const struct addr_prefix *k)
{
    size_t i = connlimit_find(c, k);
    if (c->slots[i].count >= c->max_per_client)
        return CONNLIMIT_CLIENT;
    if (c->open >= c->max_total)
        return CONNLIMIT_TOTAL;
    c->slots[i].key = *k;
    c->slots[i].count++;
    c->open++;
    return CONNLIMIT_OK;
}

static void connlimit_remove_locked(struct connlimit *c, const struct addr_prefix *k)
{
    size_t i = connlimit_find(c, k);
    if (c->slots[i].count == 0)
        return;
    c->open--;
    if (--c->slots[i].count > 0)
        return;
    /* Move back every entry of the run behind i that would no longer be
     * found past the hole. */
    for (size_t j = (i + 1) & c->mask; c->slots[j].count != 0; j = (j + 1) & c->mask) {
        size_t home = connlimit_home(c, &c->slots[j].key);
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            c->slots[i] = c->slots[j];
            c->slots[j].count = 0;
            i = j;
        }
    }
}

enum connlimit_verdict connlimit_acquire(struct connlimit *c, const struct addr_prefix *client)
{
    struct addr_prefix k = connlimit_key(client);
    pthread_mutex_lock(&c->lock);
    enum connlimit_verdict v = connlimit_add_locked(c, &k);
    pthread_mutex_unlock(&c->lock);
    return v;
}

enum connlimit_verdict connlimit_replace(struct connlimit *c, const struct addr_prefix *old,
                                         const struct addr_prefix *client)
{
    struct addr_prefix ko = connlimit_key(old), k = connlimit_key(client);
    pthread_mutex_lock(&c->lock);
    /* The new client's own limit first, counting the slot it takes over
     * when both are the same client: nothing changes when it is refused. */
    unsigned have = c->slots[connlimit_find(c, &k)].count;
    if (addr_compare(&ko, &k) == 0 && have > 0)
        have--;
    enum connlimit_verdict v = CONNLIMIT_CLIENT;
    if (have < c->max_per_client) {
        connlimit_remove_locked(c, &ko);
        v = connlimit_add_locked(c, &k); /* OK: one was just freed under the lock */
    }
    pthread_mutex_unlock(&c->lock);
    return v;
}

void connlimit_release(struct connlimit *c, const struct addr_prefix *client)
{
    struct addr_prefix k = connlimit_key(client);
    pthread_mutex_lock(&c->lock);
    connlimit_remove_locked(c, &k);
    pthread_mutex_unlock(&c->lock);
}

unsigned connlimit_open(struct connlimit *c, const struct addr_prefix *client)
{
    pthread_mutex_lock(&c->lock);
    unsigned n = c->open;
    if (client != NULL) {
        struct addr_prefix k = connlimit_key(client);
        n = c->slots[connlimit_find(c, &k)].count;
    }
    pthread_mutex_unlock(&c->lock);
    return n;
}
