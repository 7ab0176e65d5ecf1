/* feed: the parser table and the dedup key helpers. SHA-256 comes from
 * GLib (already linked through GMime) rather than a hand-written digest. */
#include "feed.h"

#include <string.h>

#include <glib.h>

/* Order matters only for auto-detection ties: the specific formats first,
 * the plain list (which any file of bare addresses resembles) last. */
const struct feed_ops *const feed_parsers[] = {
    &feed_ops_arf,      &feed_ops_mbox, &feed_ops_snds,
    &feed_ops_rbldnsd,  &feed_ops_csv,  &feed_ops_traps,
    &feed_ops_fail2ban, &feed_ops_list, NULL,
};

const struct feed_ops *feed_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; feed_parsers[i]; i++)
        if (strcmp(feed_parsers[i]->name, name) == 0)
            return feed_parsers[i];
    return NULL;
}

void feed_dedup_key(uint8_t out[FEED_DEDUP_LEN], const void *const *parts, const size_t *lens,
                    size_t n)
{
    GChecksum *cs = g_checksum_new(G_CHECKSUM_SHA256);
    gsize len = FEED_DEDUP_LEN;
    for (size_t i = 0; i < n; i++)
        if (lens[i] > 0)
            g_checksum_update(cs, parts[i], (gssize)lens[i]);
    g_checksum_get_digest(cs, out, &len);
    g_checksum_free(cs);
}

void feed_dedup_derive(uint8_t out[FEED_DEDUP_LEN], const uint8_t key[FEED_DEDUP_LEN], unsigned idx)
{
    uint8_t be[4] = {(uint8_t)(idx >> 24), (uint8_t)(idx >> 16), (uint8_t)(idx >> 8), (uint8_t)idx};
    const void *parts[2] = {key, be};
    size_t lens[2] = {FEED_DEDUP_LEN, sizeof be};
    feed_dedup_key(out, parts, lens, 2);
}
