/* store_flat: the lookup filter and the flat index's upkeep -- what a
 * write marks changed, when a rebuild is due, the rebuild by merging the
 * old index with what changed. The layout is doc/store-format.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* The filter of every entry, into f4/f6 (cleared first): one sweep of the
 * keys. */
int store_filter_build(const struct store *s, MDB_txn *txn, uint8_t *f4, uint8_t *f6)
{
    MDB_cursor *cur;
    MDB_val k, v;
    struct addr_prefix p;
    memset(f4, 0, STORE_F4_BYTES);
    memset(f6, 0, STORE_F6_BYTES);
    int rc = mdb_cursor_open(txn, s->entries, &cur);
    if (rc != MDB_SUCCESS)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (store_prefix_from_key(&k, &p) == DNSBL_OK)
            store_filter_add(f4, f6, k.mv_data);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
}

/* The filter records of txn's snapshot, NULL each when absent or not of
 * the right size (then lookups do without). */
void store_filter_get(const struct store *s, MDB_txn *txn, const uint8_t **f4, const uint8_t **f6)
{
    MDB_val k = store_meta_key("filter4"), v;
    *f4 = *f6 = NULL;
    if (mdb_get(txn, s->meta, &k, &v) == MDB_SUCCESS && v.mv_size == STORE_F4_BYTES)
        *f4 = v.mv_data;
    k = store_meta_key("filter6");
    if (mdb_get(txn, s->meta, &k, &v) == MDB_SUCCESS && v.mv_size == STORE_F6_BYTES)
        *f6 = v.mv_data;
}

int store_filter_put(const struct store *s, MDB_txn *txn, const uint8_t *f4, const uint8_t *f6)
{
    MDB_val k = store_meta_key("filter4"), v = store_val(f4, STORE_F4_BYTES);
    int rc = mdb_put(txn, s->meta, &k, &v, 0);
    if (rc == MDB_SUCCESS) {
        k = store_meta_key("filter6");
        v = store_val(f6, STORE_F6_BYTES);
        rc = mdb_put(txn, s->meta, &k, &v, 0);
    }
    return rc;
}

/* A writer's copy of the filter of txn into s->filter; false when the
 * store has none. */
int store_filter_load(struct store *s, MDB_txn *txn, bool *have)
{
    const uint8_t *f4, *f6;
    store_filter_get(s, txn, &f4, &f6);
    *have = f4 && f6;
    if (!*have)
        return MDB_SUCCESS;
    if (!s->filter && !(s->filter = malloc(STORE_F4_BYTES + STORE_F6_BYTES)))
        return ENOMEM;
    memcpy(s->filter, f4, STORE_F4_BYTES);
    memcpy(s->filter + STORE_F4_BYTES, f6, STORE_F6_BYTES);
    return MDB_SUCCESS;
}

/* A store without a filter gets one once it holds filter_min entries:
 * below that, descents are cheap and 2 MiB per write is not. */
int store_filter_create(struct store *s, MDB_txn *txn)
{
    MDB_stat st;
    int rc = mdb_stat(txn, s->entries, &st);
    if (rc != MDB_SUCCESS || st.ms_entries < s->opt.filter_min)
        return rc;
    if (!s->filter && !(s->filter = malloc(STORE_F4_BYTES + STORE_F6_BYTES)))
        return ENOMEM;
    rc = store_filter_build(s, txn, s->filter, s->filter + STORE_F4_BYTES);
    if (rc == MDB_SUCCESS)
        rc = store_filter_put(s, txn, s->filter, s->filter + STORE_F4_BYTES);
    return rc;
}

/* ---- the flat index (doc/store-format.md, "The flat index") ---- */

/* The flat index of txn's snapshot into view; *ok false when there is none
 * or it is not one this program reads (then lookups use the B-tree). d4/d6
 * get the bitmaps of what changed since it was built, NULL when nothing
 * did. */
void store_flat_get(const struct store *s, MDB_txn *txn, struct flat_view *view, bool *ok,
                    const uint8_t **d4, const uint8_t **d6)
{
    MDB_val k = store_meta_key("flat"), v;
    *d4 = *d6 = NULL;
    *ok =
        mdb_get(txn, s->meta, &k, &v) == MDB_SUCCESS && flat_view_open(view, v.mv_data, v.mv_size);
    if (!*ok)
        return;
    k = store_meta_key("flatdirty");
    int rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == MDB_SUCCESS && v.mv_size == STORE_DIRTY_BYTES) {
        *d4 = v.mv_data;
        *d6 = *d4 + STORE_F4_BYTES;
    } else if (rc != MDB_NOTFOUND) {
        *ok = false; /* changes we cannot read: trust only the B-tree */
    }
}

/* Has some address inside the entry key not changed since the index was
 * built? Then the index must hold the entry as it is (store_check). */
bool store_flat_key_clean(const uint8_t *d4, const uint8_t *d6, const uint8_t key[STORE_KEY_LEN])
{
    if (!d4)
        return true;
    unsigned plen = key[17];
    if (key[0] == ADDR_V4) {
        uint32_t first = store_f4_slot(key + 1), n = plen >= 24 ? 1 : (uint32_t)1 << (24 - plen);
        for (uint32_t b = first; b < first + n; b++) {
            if (!store_bit_has(d4, b))
                return true;
        }
        return false;
    }
    if (d6[STORE_F6_BYTES - 1] & STORE_F6_SHORT)
        return false;
    return plen < 32 || !store_bit_has(d6, store_f6_slot(key + 1));
}

/* Are the changed bits of key all set already (so the record need not be
 * rewritten)? Only the common cases are worth looking at. */
bool store_dirty_has(const uint8_t *dirty, const uint8_t key[STORE_KEY_LEN])
{
    unsigned plen = key[17];
    const uint8_t *d6 = dirty + STORE_F4_BYTES;
    if (key[0] == ADDR_V4)
        return plen >= 24 && store_bit_has(dirty, store_f4_slot(key + 1));
    if (d6[STORE_F6_BYTES - 1] & STORE_F6_SHORT)
        return true;
    return plen >= 32 && store_bit_has(d6, store_f6_slot(key + 1));
}

/* A writer's copy of flatdirty into s->dirty (zeroes when nothing has
 * changed yet); *have false when the store has no flat index, and so
 * nothing to track; *replace when the record must be written even if
 * this transaction marks nothing new. */
int store_dirty_load(struct store *s, MDB_txn *txn, bool *have, bool *replace)
{
    *replace = false;
    MDB_val k = store_meta_key("flat"), v;
    int rc = mdb_get(txn, s->meta, &k, &v);
    *have = rc == MDB_SUCCESS;
    if (rc == MDB_NOTFOUND)
        return MDB_SUCCESS;
    if (rc != MDB_SUCCESS)
        return rc;
    if (!s->dirty && !(s->dirty = malloc(STORE_DIRTY_BYTES)))
        return ENOMEM;
    k = store_meta_key("flatdirty");
    rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == MDB_SUCCESS && v.mv_size == STORE_DIRTY_BYTES) {
        memcpy(s->dirty, v.mv_data, STORE_DIRTY_BYTES);
    } else if (rc == MDB_NOTFOUND) {
        memset(s->dirty, 0, STORE_DIRTY_BYTES);
    } else if (rc == MDB_SUCCESS) {
        /* A record of the wrong size says nothing we can trust: it is
         * replaced by one that marks everything, so lookups keep to the
         * B-tree (as they did, ignoring the index) until a rebuild. */
        memset(s->dirty, 0xff, STORE_DIRTY_BYTES);
        *replace = true;
    } else {
        return rc;
    }
    return MDB_SUCCESS;
}

/* Records that the entries changed in a write transaction: the bitmap when
 * it gained bits, and the count. */
int store_dirty_put(const struct store *s, MDB_txn *txn, bool grew, size_t changed)
{
    int rc = MDB_SUCCESS;
    if (grew) {
        MDB_val k = store_meta_key("flatdirty"), v = store_val(s->dirty, STORE_DIRTY_BYTES);
        rc = mdb_put(txn, s->meta, &k, &v, 0);
    }
    if (rc != MDB_SUCCESS || changed == 0)
        return rc;
    uint64_t before = 0;
    int err = store_get_u64(s, txn, "flatchanges", &before, NULL, 0);
    if (err != DNSBL_OK && err != DNSBL_ENOENT)
        before = UINT64_MAX / 2; /* unreadable: due for a rebuild */
    return store_put_u64(s, txn, "flatchanges", before + changed);
}

/* Builds the flat index of every entry, in key order, into b. */
static int store_flat_build(const struct store *s, MDB_txn *txn, struct flat_builder *b)
{
    MDB_cursor *cur;
    MDB_val k, v, ent;
    struct addr_prefix p;
    int rc = mdb_cursor_open(txn, s->entries, &cur);
    if (rc != MDB_SUCCESS)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        /* A key or value we cannot read stays out, and lookups of it would
         * go wrong: refuse, as store_check will name it. */
        if (store_prefix_from_key(&k, &p) != DNSBL_OK || !store_value_entry(&v, p.family, &ent)) {
            rc = MDB_CORRUPTED;
            break;
        }
        int err = flat_builder_add(b, &p, ent.mv_data, ent.mv_size);
        if (err != DNSBL_OK) {
            rc = err == DNSBL_ENOMEM ? ENOMEM : MDB_CORRUPTED;
            break;
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
}

/* Is the slot of the entry that starts where key does marked changed?
 * An entry's first slot decides where a rebuild takes it from: a changed
 * entry has all its slots marked, so it comes from the B-tree; an
 * unchanged one is the same in both, and comes from exactly one. */
static bool store_dirty_first(const uint8_t *d4, const uint8_t *d6,
                              const uint8_t key[STORE_KEY_LEN])
{
    if (!d4)
        return false;
    if (key[0] == ADDR_V4)
        return store_bit_has(d4, store_f4_slot(key + 1));
    return (d6[STORE_F6_BYTES - 1] & STORE_F6_SHORT) || store_bit_has(d6, store_f6_slot(key + 1));
}

/* The first marked IPv4 slot at or after from, or 2^24 when none. */
static uint32_t store_dirty_next4(const uint8_t *d4, uint32_t from)
{
    const uint32_t end = (uint32_t)1 << STORE_F4_BITS;
    while (from < end && from % 8 && !store_bit_has(d4, from))
        from++;
    while (from < end && d4[from / 8] == 0)
        from += 8;
    while (from < end && !store_bit_has(d4, from))
        from++;
    return from;
}

/* The next entry from the B-tree whose first slot is marked, in key
 * order: IPv4 ones by seeking from marked slot to marked slot, IPv6 ones
 * by a sweep (their slots are hashed). *have false past the last. */
static int store_merge_next_new(MDB_cursor *cur, const uint8_t *d4, const uint8_t *d6, bool first,
                                MDB_val *k, MDB_val *v, bool *have)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    *have = false;
    if (!d4)
        return MDB_SUCCESS; /* nothing marked: all from the old index */
    int rc = mdb_cursor_get(cur, k, v, first ? MDB_FIRST : MDB_NEXT);
    while (rc == MDB_SUCCESS) {
        if (k->mv_size != STORE_KEY_LEN)
            return MDB_CORRUPTED;
        const uint8_t *key = k->mv_data;
        if (store_dirty_first(d4, d6, key)) {
            *have = true;
            return MDB_SUCCESS;
        }
        if (key[0] != ADDR_V4) {
            rc = mdb_cursor_get(cur, k, v, MDB_NEXT);
            continue;
        }
        /* On to the next marked slot, or to the first IPv6 key. */
        uint32_t next = store_dirty_next4(d4, store_f4_slot(key + 1) + 1);
        uint8_t seek[STORE_KEY_LEN] = {ADDR_V6};
        if (next < (uint32_t)1 << STORE_F4_BITS) {
            seek[0] = ADDR_V4;
            memcpy(seek + 1, mapped, sizeof mapped);
            seek[13] = (uint8_t)(next >> 16);
            seek[14] = (uint8_t)(next >> 8);
            seek[15] = (uint8_t)next;
        }
        *k = store_val(seek, sizeof seek);
        rc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
    }
    return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
}

/* The index rebuilt from the old one: its entries whose first slot is
 * not marked, and the B-tree's whose first slot is, merged in key order.
 * Marked slots are few after most writes, so most of a big store is read
 * from the old blob's arrays rather than from the B-tree's pages. */
static int store_flat_merge(const struct store *s, MDB_txn *txn, const struct flat_view *old,
                            const uint8_t *d4, const uint8_t *d6, struct flat_builder *b,
                            size_t *from_tree)
{
    MDB_cursor *cur;
    MDB_val k, v, ent;
    struct addr_prefix np, op;
    bool have_new;
    *from_tree = 0;
    int rc = mdb_cursor_open(txn, s->entries, &cur);
    if (rc != MDB_SUCCESS)
        return rc;
    rc = store_merge_next_new(cur, d4, d6, true, &k, &v, &have_new);
    for (int f = 0; f < 2 && rc == MDB_SUCCESS; f++) {
        uint8_t family = f == 0 ? ADDR_V4 : ADDR_V6;
        size_t n = flat_view_count(old, family), i = 0;
        for (;;) {
            /* The next old entry whose first slot is not marked. */
            const uint8_t *oval = NULL;
            size_t olen = 0;
            bool have_old = false;
            for (; i < n; i++) {
                uint32_t parent;
                uint8_t okey[STORE_KEY_LEN];
                if (flat_view_entry(old, family, i, &op, &parent, &oval, &olen) != DNSBL_OK) {
                    rc = MDB_CORRUPTED;
                    break;
                }
                store_key_from_prefix(&op, okey);
                if (!store_dirty_first(d4, d6, okey)) {
                    have_old = true;
                    break;
                }
            }
            if (rc != MDB_SUCCESS)
                break;
            bool use_new = false;
            if (have_new) {
                if (store_prefix_from_key(&k, &np) != DNSBL_OK ||
                    !store_value_entry(&v, np.family, &ent)) {
                    rc = MDB_CORRUPTED;
                    break;
                }
                use_new = np.family == family && (!have_old || addr_compare(&np, &op) < 0);
            }
            if (!use_new && !have_old)
                break; /* this family is done */
            int err = use_new ? flat_builder_add(b, &np, ent.mv_data, ent.mv_size)
                              : flat_builder_add(b, &op, oval, olen);
            if (err != DNSBL_OK) {
                rc = err == DNSBL_ENOMEM ? ENOMEM : MDB_CORRUPTED;
                break;
            }
            if (use_new) {
                (*from_tree)++;
                rc = store_merge_next_new(cur, d4, d6, false, &k, &v, &have_new);
                if (rc != MDB_SUCCESS)
                    break;
            } else {
                i++;
            }
        }
    }
    mdb_cursor_close(cur);
    return rc;
}

/* Is a rebuild due (or forced)? *view, *usable, *d4 and *d6 get the old
 * index and what changed since, for a merge. */
static bool store_flat_due(struct store_txn *t, bool force, struct store_flat_stats *st,
                           struct flat_view *view, bool *usable, const uint8_t **d4,
                           const uint8_t **d6)
{
    struct store *s = t->s;
    MDB_stat ms;
    MDB_val k = store_meta_key("flat"), v;
    if (store_txn_step(t, mdb_stat(t->txn, s->entries, &ms), "count the entries") != DNSBL_OK)
        return false;
    st->entries = ms.ms_entries;
    uint64_t changes = 0;
    int err = store_get_u64(s, t->txn, "flatchanges", &changes, NULL, 0);
    if (err != DNSBL_OK && err != DNSBL_ENOENT)
        changes = UINT64_MAX / 2; /* unreadable: rebuild, which replaces it */
    st->changes = changes;
    store_flat_get(s, t->txn, view, usable, d4, d6);
    bool present = mdb_get(t->txn, s->meta, &k, &v) == MDB_SUCCESS;
    size_t due = ms.ms_entries / STORE_FLAT_CHANGES_SHARE;
    if (due < s->opt.flat_changes)
        due = s->opt.flat_changes;
    return force || (present ? !*usable || changes >= due : ms.ms_entries >= s->opt.flat_min);
}

/* Writes the built index b, and forgets the changes it folded in. */
static void store_flat_put(struct store_txn *t, const struct flat_builder *b)
{
    MDB_val k = store_meta_key("flat"), v = {.mv_size = flat_builder_size(b), .mv_data = NULL};
    if (store_txn_step(t, mdb_put(t->txn, t->s->meta, &k, &v, MDB_RESERVE),
                       "write the flat index") != DNSBL_OK)
        return;
    flat_builder_write(b, v.mv_data);
    for (const char *const *name = (const char *const[]){"flatdirty", "flatchanges", NULL};
         store_txn_ok(t) && *name; name++) {
        k = store_meta_key(*name);
        int rc = mdb_del(t->txn, t->s->meta, &k, NULL);
        store_txn_step(t, rc == MDB_NOTFOUND ? MDB_SUCCESS : rc, "write the flat index");
    }
}

/* One try at store_flat_refresh: STORE_EMAPFULL when the map filled up. */
static int store_flat_refresh_once(struct store *s, bool force, struct store_flat_stats *st,
                                   char *why, size_t whylen)
{
    struct store_txn t;
    struct flat_builder *b = NULL;
    struct flat_view view;
    const uint8_t *d4 = NULL, *d6 = NULL;
    bool usable = false;
    if (store_txn_begin(s, &t) != DNSBL_OK)
        return store_txn_end(&t, why, whylen);
    if (!store_flat_due(&t, force, st, &view, &usable, &d4, &d6)) {
        if (store_txn_ok(&t)) {
            store_txn_abort(&t); /* not due: nothing to write */
            return DNSBL_OK;
        }
        return store_txn_end(&t, why, whylen);
    }

    /* Due, from a sound index: what did not change is taken from it.
     * Forced, the index is made from the B-tree alone, so a reindex
     * repairs a damaged one. */
    st->incremental = !force && usable;
    int rc = MDB_SUCCESS;
    if (flat_builder_new(&b) != DNSBL_OK)
        rc = ENOMEM;
    else if (st->incremental)
        rc = store_flat_merge(s, t.txn, &view, d4, d6, b, &st->from_tree);
    else
        rc = store_flat_build(s, t.txn, b);
    if (!st->incremental)
        st->from_tree = st->entries;
    if (rc == ENOMEM)
        store_txn_fail(&t, DNSBL_ENOMEM, "out of memory for the flat index of %zu entries",
                       st->entries);
    store_txn_step(&t, rc, "read the entries for the flat index");
    if (store_txn_ok(&t))
        store_flat_put(&t, b);
    if (store_txn_ok(&t)) {
        st->rebuilt = true;
        st->bytes = flat_builder_size(b);
        st->values = flat_builder_values(b);
    }
    flat_builder_free(b);
    int err = store_txn_end(&t, why, whylen);
    if (err != DNSBL_OK)
        st->rebuilt = false;
    return err;
}

struct store_flat_args {
    bool force;
    struct store_flat_stats st;
};

static int store_flat_try(struct store *s, void *arg, char *why, size_t whylen)
{
    struct store_flat_args *a = arg;
    a->st = (struct store_flat_stats){0};
    return store_flat_refresh_once(s, a->force, &a->st, why, whylen);
}

int store_flat_refresh(struct store *s, bool force, struct store_flat_stats *stats, char *why,
                       size_t whylen)
{
    struct store_flat_args args = {.force = force};
    if (stats)
        *stats = args.st;
    if (s->flags & STORE_RDONLY) {
        store_set_why(why, whylen, "%s: the store is open read-only", s->dir);
        return DNSBL_EINVAL;
    }
    int err = store_write_growing(s, store_flat_try, &args, why, whylen);
    if (err != DNSBL_OK)
        return store_public_err(err);
    if (stats)
        *stats = args.st;
    return DNSBL_OK;
}
