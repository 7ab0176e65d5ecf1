/* store_pull: the state of dnsblctl pull per zone, as the meta record
 * "pull:ZONE" (doc/store-format.md "Meta records"), and the writes that
 * apply a transfer together with it in one transaction (store.h). */
#include <stdio.h>
#include <string.h>

#include "store_int.h"
#include "wire.h"

#define PULL_VERSION 1
#define PULL_VALUE_MAX (1 + 1 + 5 * 4 + 5 * 8 + 3 * (2 + STORE_PULL_TEXT_MAX))
#define PULL_KEY_MAX 300 /* "pull:" and a zone name */

static int pull_key(const char *zone, char *key, size_t cap)
{
    char z[256];
    size_t l = strlen(zone);
    if (l && zone[l - 1] == '.')
        l--;
    if (l == 0 || l >= sizeof z)
        return DNSBL_EINVAL;
    for (size_t i = 0; i < l; i++)
        z[i] = (char)(zone[i] >= 'A' && zone[i] <= 'Z' ? zone[i] + 32 : zone[i]);
    z[l] = '\0';
    snprintf(key, cap, "pull:%s", z);
    return DNSBL_OK;
}

static void put_text(struct wire *w, const char *t)
{
    size_t l = strnlen(t, STORE_PULL_TEXT_MAX - 1);
    wire_put_u16(w, (uint16_t)l);
    wire_put_bytes(w, t, l);
}

static void get_text(struct wire *w, char *out, size_t cap)
{
    uint16_t l = wire_get_u16(w);
    if (l >= cap || wire_left(w) < l) {
        w->err = true;
        out[0] = '\0';
        return;
    }
    wire_get_bytes(w, out, l);
    out[l] = '\0';
}

static size_t pull_encode(const struct store_pull_state *st, uint8_t *buf, size_t cap)
{
    struct wire w;
    wire_init(&w, buf, cap);
    wire_put_u8(&w, PULL_VERSION);
    wire_put_u8(&w, st->have_serial ? 1 : 0);
    wire_put_u32(&w, st->serial);
    wire_put_u32(&w, st->refresh);
    wire_put_u32(&w, st->retry);
    wire_put_u32(&w, st->expire);
    wire_put_u32(&w, st->minimum);
    wire_put_u64(&w, (uint64_t)st->last_success);
    wire_put_u64(&w, (uint64_t)st->last_attempt);
    wire_put_u64(&w, (uint64_t)st->expired_at);
    wire_put_u64(&w, st->pulls);
    wire_put_u64(&w, st->import_id);
    put_text(&w, st->dataset);
    put_text(&w, st->primary);
    put_text(&w, st->last_error);
    return w.err ? 0 : wire_used(&w);
}

static int pull_decode(const void *val, size_t len, struct store_pull_state *st)
{
    struct wire w;
    memset(st, 0, sizeof *st);
    wire_init_ro(&w, val, len);
    if (wire_get_u8(&w) != PULL_VERSION)
        return DNSBL_ESCHEMA;
    st->have_serial = wire_get_u8(&w) != 0;
    st->serial = wire_get_u32(&w);
    st->refresh = wire_get_u32(&w);
    st->retry = wire_get_u32(&w);
    st->expire = wire_get_u32(&w);
    st->minimum = wire_get_u32(&w);
    st->last_success = (int64_t)wire_get_u64(&w);
    st->last_attempt = (int64_t)wire_get_u64(&w);
    st->expired_at = (int64_t)wire_get_u64(&w);
    st->pulls = wire_get_u64(&w);
    st->import_id = wire_get_u64(&w);
    get_text(&w, st->dataset, sizeof st->dataset);
    get_text(&w, st->primary, sizeof st->primary);
    get_text(&w, st->last_error, sizeof st->last_error);
    return w.err ? DNSBL_ESCHEMA : DNSBL_OK;
}

int store_pull_get(struct store *s, const char *zone, struct store_pull_state *out, char *why,
                   size_t whylen)
{
    char key[PULL_KEY_MAX];
    if (pull_key(zone, key, sizeof key) != DNSBL_OK) {
        store_set_why(why, whylen, "'%s' is not a zone name", zone);
        return DNSBL_EINVAL;
    }
    MDB_txn *txn = NULL;
    int rc = store_loose_begin(s, &txn);
    if (rc != MDB_SUCCESS) {
        store_set_why(why, whylen, "%s: %s", s->dir, mdb_strerror(rc));
        return store_map_err(rc);
    }
    MDB_val k = store_meta_key(key), v;
    rc = mdb_get(txn, s->meta, &k, &v);
    int err = DNSBL_OK;
    if (rc == MDB_NOTFOUND)
        err = DNSBL_ENOENT;
    else if (rc != MDB_SUCCESS)
        err = store_map_err(rc);
    else
        err = pull_decode(v.mv_data, v.mv_size, out);
    store_loose_end(s, txn);
    if (err != DNSBL_OK && err != DNSBL_ENOENT)
        store_set_why(why, whylen, "%s: the pull state of %s cannot be read", s->dir, zone);
    return err;
}

struct pull_put_args {
    MDB_val k, v;
};

/* The meta record of zone's pull state st: key and value in the caller's
 * buffers (key of PULL_KEY_MAX, buf of PULL_VALUE_MAX). */
static int pull_record(const char *zone, const struct store_pull_state *st, char *key, uint8_t *buf,
                       size_t *len, char *why, size_t whylen)
{
    *len = pull_encode(st, buf, PULL_VALUE_MAX);
    if (pull_key(zone, key, PULL_KEY_MAX) != DNSBL_OK || *len == 0) {
        store_set_why(why, whylen, "'%s' is not a zone name", zone);
        return DNSBL_EINVAL;
    }
    return DNSBL_OK;
}

static int pull_put_once(struct store *s, void *arg, char *why, size_t whylen)
{
    struct pull_put_args *a = arg;
    struct store_txn t;
    if (store_txn_begin(s, &t) == DNSBL_OK)
        store_txn_step(&t, mdb_put(t.txn, s->meta, &a->k, &a->v, 0), "write the pull state");
    return store_txn_end(&t, why, whylen);
}

int store_pull_put(struct store *s, const char *zone, const struct store_pull_state *st, char *why,
                   size_t whylen)
{
    char key[PULL_KEY_MAX];
    uint8_t buf[PULL_VALUE_MAX];
    size_t len;
    if (pull_record(zone, st, key, buf, &len, why, whylen) != DNSBL_OK)
        return DNSBL_EINVAL;
    if (s->flags & STORE_RDONLY) {
        store_set_why(why, whylen, "%s: the store is open read-only", s->dir);
        return DNSBL_EINVAL;
    }
    struct pull_put_args a = {store_meta_key(key), store_val(buf, len)};
    return store_public_err(store_write_growing(s, pull_put_once, &a, why, whylen));
}

int store_pull_full(struct store *s, const char *zone, const struct store_pull_state *st,
                    const char *const *datasets, size_t ndatasets, size_t n,
                    void (*event_at)(void *arg, size_t i, struct event *ev), void *arg, int64_t now,
                    struct store_sync_stats *stats, char *why, size_t whylen)
{
    char key[PULL_KEY_MAX];
    uint8_t buf[PULL_VALUE_MAX];
    size_t len;
    if (pull_record(zone, st, key, buf, &len, why, whylen) != DNSBL_OK)
        return DNSBL_EINVAL;
    struct store_meta_put m = {key, buf, len};
    struct store_sync_options o = {.now = now, .max_share = 1.0, .force = true};
    return store_apply_sync_meta(s, datasets, ndatasets, n, event_at, arg, &o, &m, stats, why,
                                 whylen);
}

int store_pull_incr(struct store *s, const char *zone, const struct store_pull_state *st,
                    const struct event *ev, size_t n, struct store_apply_stats *stats, char *why,
                    size_t whylen)
{
    char key[PULL_KEY_MAX];
    uint8_t buf[PULL_VALUE_MAX];
    size_t len;
    if (pull_record(zone, st, key, buf, &len, why, whylen) != DNSBL_OK)
        return DNSBL_EINVAL;
    struct store_meta_put m = {key, buf, len};
    return store_apply_meta(s, ev, NULL, n, &m, stats, why, whylen);
}
