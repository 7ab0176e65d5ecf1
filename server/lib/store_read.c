/* store_read: readers -- one read-only transaction each, reset between
 * batches -- and what they answer: covering lookups (filter, flat index,
 * B-tree), exact gets, history; and the one-call reads count, serial,
 * foreach. The layout is doc/store-format.md. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* The entries key of length len over the address of key. */
static void store_key_truncate(const uint8_t key[STORE_KEY_LEN], unsigned len,
                               uint8_t out[STORE_KEY_LEN])
{
    unsigned first = key[0] == ADDR_V4 ? 96 : 0, bits = first + len;
    memcpy(out, key, STORE_KEY_LEN);
    for (unsigned i = 0; i < 16; i++) {
        unsigned lo = i * 8;
        if (bits <= lo)
            out[1 + i] = 0;
        else if (bits < lo + 8)
            out[1 + i] &= (uint8_t)(0xff00u >> (bits - lo));
    }
    out[17] = (uint8_t)len;
}

int store_reader_open(struct store *s, struct store_reader **out)
{
    struct store_reader *r = calloc(1, sizeof *r);
    *out = NULL;
    if (!r)
        return DNSBL_ENOMEM;
    r->s = s;
    atomic_init(&r->in_txn, 0);
    pthread_mutex_lock(&s->remap_lock);
    r->next = s->readers;
    if (s->readers)
        s->readers->prev = r;
    s->readers = r;
    pthread_mutex_unlock(&s->remap_lock);
    *out = r;
    return DNSBL_OK;
}

void store_reader_close(struct store_reader *r)
{
    if (!r)
        return;
    struct store *s = r->s;
    store_reader_end(r);
    pthread_mutex_lock(&s->remap_lock);
    if (r->prev)
        r->prev->next = r->next;
    else
        s->readers = r->next;
    if (r->next)
        r->next->prev = r->prev;
    pthread_mutex_unlock(&s->remap_lock);
    /* A read-only cursor outlives its transaction unless closed itself. */
    if (r->hcur)
        mdb_cursor_close(r->hcur);
    if (r->ecur)
        mdb_cursor_close(r->ecur);
    if (r->txn)
        mdb_txn_abort(r->txn);
    free(r);
}

int store_reader_begin(struct store_reader *r)
{
    /* A begin without an end still means "show me the latest". */
    if (r->active)
        store_reader_end(r);
    r->why[0] = '\0';
    int rc = store_read_begin(r->s, &r->txn, &r->in_txn);
    if (rc != MDB_SUCCESS)
        return store_public_err(
            store_lmdb_fail(r->s, rc, "begin read transaction", r->why, sizeof r->why));
    /* The cursors are made with the first transaction, so lookups never
     * allocate, and renewed when a lookup first needs them: a batch the
     * flat index answers needs neither. */
    r->hcur_ready = r->ecur_ready = !r->hcur;
    rc = r->hcur ? MDB_SUCCESS : mdb_cursor_open(r->txn, r->s->history, &r->hcur);
    if (rc == MDB_SUCCESS && !r->ecur)
        rc = mdb_cursor_open(r->txn, r->s->entries, &r->ecur);
    if (rc != MDB_SUCCESS) {
        mdb_txn_reset(r->txn);
        store_gate_leave(&r->in_txn);
        return store_public_err(
            store_lmdb_fail(r->s, rc, "open the reader's cursors", r->why, sizeof r->why));
    }
    size_t id = mdb_txn_id(r->txn);
    unsigned gen = atomic_load(&r->s->map_gen);
    if (!r->meta_known || id != r->meta_txnid || gen != r->meta_gen) {
        store_filter_get(r->s, r->txn, &r->f4, &r->f6);
        store_flat_get(r->s, r->txn, &r->flat, &r->flat_ok, &r->d4, &r->d6);
        r->meta_known = true;
        r->lean_val = NULL;
        r->meta_txnid = id;
        r->meta_gen = gen;
    }
    r->active = true;
    return DNSBL_OK;
}

const char *store_reader_why(const struct store_reader *r)
{
    return r->why;
}

void store_reader_end(struct store_reader *r)
{
    if (r->active) {
        mdb_txn_reset(r->txn);
        store_gate_leave(&r->in_txn);
    }
    r->active = false;
}

/* Looks up exactly p (host bits already clear) into out; ENOENT if absent. */
static int store_get_exact(const struct store *s, MDB_txn *txn, const struct addr_prefix *p,
                           struct entry *out)
{
    uint8_t key[STORE_KEY_LEN];
    store_key_from_prefix(p, key);
    MDB_val k = store_val(key, sizeof key), v;
    int rc = mdb_get(txn, s->entries, &k, &v);
    if (rc != MDB_SUCCESS)
        return store_map_err(rc);
    out->prefix = *p;
    return store_decode_value(&v, p->family, out);
}

/* cur renewed for the reader's transaction, once per transaction. */
static int store_reader_cursor(struct store_reader *r, MDB_cursor *cur, bool *ready)
{
    if (*ready)
        return MDB_SUCCESS;
    int rc = mdb_cursor_renew(r->txn, cur);
    *ready = rc == MDB_SUCCESS;
    return rc;
}

/* The covering entries from the flat index: a binary search, and the
 * values decoded where they lie. */
static int store_reader_find_flat(struct store_reader *r, const struct addr_prefix *addr,
                                  struct entry *out, size_t cap, size_t *n, bool lean)
{
    struct flat_hit hits[STORE_COVERING_MAX];
    size_t nh;
    int err = flat_view_covering(&r->flat, addr, hits,
                                 cap < STORE_COVERING_MAX ? cap : STORE_COVERING_MAX, &nh);
    if (err != DNSBL_OK)
        return err;
    for (size_t i = 0; i < nh; i++) {
        if (lean && hits[i].val == r->lean_val) {
            /* What a lean decode writes: the fields before the texts,
             * and the texts empty. */
            memcpy(&out[i], &r->lean, offsetof(struct entry, reason));
            out[i].reason[0] = out[i].note[0] = out[i].sources[0] = '\0';
            for (unsigned j = 0; j < out[i].nparts; j++)
                out[i].part_text[j].dataset[0] = out[i].part_text[j].txt[0] = '\0';
        } else {
            err = store_decode_entry_part(hits[i].val, hits[i].len, &out[i], lean);
            if (err != DNSBL_OK)
                return err;
            if (lean) {
                r->lean_val = hits[i].val;
                memcpy(&r->lean, &out[i], offsetof(struct entry, reason));
            }
        }
        out[i].prefix = hits[i].prefix;
    }
    *n = nh;
    return DNSBL_OK;
}

static int store_reader_find(struct store_reader *r, const struct addr_prefix *addr,
                             struct entry *out, size_t cap, size_t *n, bool lean)
{
    *n = 0;
    if (!r->active || !store_prefix_valid(addr))
        return DNSBL_EINVAL;
    uint8_t key[STORE_KEY_LEN];
    store_key_from_prefix(addr, key);
    if (store_filter_excludes(r->f4, r->f6, key))
        return DNSBL_OK;
    if (r->flat_ok && store_flat_clean(r->d4, r->d6, key))
        return store_reader_find_flat(r, addr, out, cap, n, lean);
    struct store_lens lens;
    MDB_val found = {0, NULL}, fval = {0, NULL};
    int rc = store_reader_cursor(r, r->ecur, &r->ecur_ready);
    if (rc == MDB_SUCCESS)
        rc = store_lookup_covering(r->ecur, key, &lens, &found, &fval);
    if (rc != MDB_SUCCESS)
        return store_map_err(rc);
    for (int len; *n < cap && (len = store_lens_pop_longest(&lens)) >= 0;) {
        struct entry *e = &out[*n];
        MDB_val v = fval, ent;
        e->prefix.family = addr->family;
        e->prefix.plen = (uint8_t)len;
        if (len == ((const uint8_t *)found.mv_data)[17]) {
            memcpy(e->prefix.a, (const uint8_t *)found.mv_data + 1, 16);
        } else {
            /* An ancestor: the found record (valid until the transaction
             * ends) has been read, so the cursor may move. */
            uint8_t ekey[STORE_KEY_LEN];
            store_key_truncate(key, (unsigned)len, ekey);
            memcpy(e->prefix.a, ekey + 1, 16);
            MDB_val k = store_val(ekey, sizeof ekey);
            rc = mdb_cursor_get(r->ecur, &k, &v, MDB_SET);
            if (rc == MDB_NOTFOUND) /* a bitmap names an entry that is not there */
                return DNSBL_ESCHEMA;
            if (rc != MDB_SUCCESS)
                return store_map_err(rc);
        }
        /* In place, not through store_decode_entry's copy of a struct
         * entry (over 1 KiB of text buffers): on an error out[*n] is
         * garbage, but the caller gets the error. */
        if (!store_value_entry(&v, addr->family, &ent))
            return DNSBL_ESCHEMA;
        int err = store_decode_entry_part(ent.mv_data, ent.mv_size, e, lean);
        if (err != DNSBL_OK)
            return err;
        (*n)++;
    }
    return DNSBL_OK;
}

int store_reader_covering(struct store_reader *r, const struct addr_prefix *addr, struct entry *out,
                          size_t cap, size_t *n)
{
    return store_reader_find(r, addr, out, cap, n, false);
}

int store_reader_covering_lean(struct store_reader *r, const struct addr_prefix *addr,
                               struct entry *out, size_t cap, size_t *n)
{
    return store_reader_find(r, addr, out, cap, n, true);
}

int store_reader_get(struct store_reader *r, const struct addr_prefix *p, struct entry *out)
{
    if (!r->active || !store_prefix_valid(p))
        return DNSBL_EINVAL;
    struct addr_prefix q = *p;
    addr_mask(&q);
    return store_get_exact(r->s, r->txn, &q, out);
}

int store_reader_within(struct store_reader *r, const struct addr_prefix *p,
                        int (*cb)(const struct entry *e, void *arg), void *arg)
{
    uint8_t key[STORE_KEY_LEN];
    struct entry e;
    MDB_val k, v;
    int rc;

    if (!r->active || !store_prefix_valid(p))
        return DNSBL_EINVAL;
    struct addr_prefix q = *p;
    addr_mask(&q);
    store_key_from_prefix(&q, key);
    k = store_val(key, sizeof key);
    rc = store_reader_cursor(r, r->ecur, &r->ecur_ready);
    if (rc != MDB_SUCCESS)
        return store_map_err(rc);
    /* Keys sort by address, then length: from p's own key on, every entry
     * whose address lies in p has a length >= p's, and the first one
     * outside p ends the run. */
    for (rc = mdb_cursor_get(r->ecur, &k, &v, MDB_SET_RANGE); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(r->ecur, &k, &v, MDB_NEXT)) {
        memset(&e, 0, sizeof e);
        int err = store_prefix_from_key(&k, &e.prefix);
        if (err != DNSBL_OK)
            return err;
        if (!addr_covers(&q, &e.prefix))
            return DNSBL_OK;
        err = store_decode_value(&v, e.prefix.family, &e);
        if (err != DNSBL_OK)
            return err;
        err = cb(&e, arg);
        if (err != 0)
            return err;
    }
    return rc == MDB_NOTFOUND ? DNSBL_OK : store_map_err(rc);
}

int store_reader_history(struct store_reader *r, const struct addr_prefix *p, uint32_t first_day,
                         struct history_day *out, size_t cap, size_t *n)
{
    uint8_t key[STORE_KEY_LEN], hkey[STORE_HKEY_LEN];
    MDB_val k, v;
    int rc;

    *n = 0;
    if (!r->active || !store_prefix_valid(p))
        return DNSBL_EINVAL;
    if (cap == 0)
        return DNSBL_OK;
    struct addr_prefix q = *p;
    addr_mask(&q);
    store_key_from_prefix(&q, key);
    store_hkey(key, first_day, hkey);
    k = store_val(hkey, sizeof hkey);
    rc = store_reader_cursor(r, r->hcur, &r->hcur_ready);
    if (rc != MDB_SUCCESS)
        return store_map_err(rc);
    for (rc = mdb_cursor_get(r->hcur, &k, &v, MDB_SET_RANGE); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(r->hcur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < STORE_KEY_LEN || memcmp(k.mv_data, key, STORE_KEY_LEN) != 0)
            return DNSBL_OK; /* past this entry's days */
        int err = store_decode_history(&k, &v, &out[*n]);
        if (err != DNSBL_OK)
            return err;
        if (++*n == cap)
            return DNSBL_OK;
    }
    return rc == MDB_NOTFOUND ? DNSBL_OK : store_map_err(rc);
}

/* Walks back from the entry's last record: the newest come first, and a
 * long trail is not read to its start. */
int store_reader_evidence(struct store_reader *r, const struct addr_prefix *p, size_t last_n,
                          struct evidence_record *out, size_t *n)
{
    uint8_t key[STORE_KEY_LEN], ek[STORE_EKEY_LEN];
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    size_t got = 0;
    int err = DNSBL_OK;

    *n = 0;
    if (!r->active || !store_prefix_valid(p))
        return DNSBL_EINVAL;
    if (last_n == 0)
        return DNSBL_OK;
    struct addr_prefix q = *p;
    addr_mask(&q);
    store_key_from_prefix(&q, key);
    store_ekey(key, INT64_MAX, UINT32_MAX, ek);
    int rc = mdb_cursor_open(r->txn, r->s->evidence, &cur);
    if (rc != MDB_SUCCESS)
        return store_map_err(rc);
    k = store_val(ek, sizeof ek);
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    rc = rc == MDB_NOTFOUND  ? mdb_cursor_get(cur, &k, &v, MDB_LAST)
         : rc == MDB_SUCCESS ? mdb_cursor_get(cur, &k, &v, MDB_PREV)
                             : rc;
    for (; rc == MDB_SUCCESS && got < last_n; rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
        if (k.mv_size < STORE_KEY_LEN || memcmp(k.mv_data, key, STORE_KEY_LEN) != 0)
            break; /* before this entry's records */
        struct evidence_record *e = &out[last_n - 1 - got];
        err = store_ekey_decode(&k, &e->time, &e->seq);
        if (err == DNSBL_OK)
            err = store_decode_evidence(v.mv_data, v.mv_size, e);
        if (err != DNSBL_OK)
            break;
        got++;
    }
    mdb_cursor_close(cur);
    if (err == DNSBL_OK && rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
        err = store_map_err(rc);
    if (err != DNSBL_OK)
        return err;
    if (got < last_n)
        memmove(out, out + (last_n - got), got * sizeof *out);
    *n = got;
    return DNSBL_OK;
}

int store_count(struct store *s, size_t *entries)
{
    MDB_txn *txn = NULL;
    MDB_stat st;

    *entries = 0;
    int rc = store_loose_begin(s, &txn);
    if (rc != MDB_SUCCESS)
        return store_map_err(rc);
    rc = mdb_stat(txn, s->entries, &st);
    store_loose_end(s, txn);
    if (rc != MDB_SUCCESS)
        return store_map_err(rc);
    *entries = st.ms_entries;
    return DNSBL_OK;
}

int store_serial(struct store *s, uint64_t *out)
{
    MDB_txn *txn = NULL;
    int rc = store_loose_begin(s, &txn);
    if (rc != MDB_SUCCESS)
        return store_map_err(rc);
    int err = store_get_u64(s, txn, "serial", out, NULL, 0);
    store_loose_end(s, txn);
    return err;
}

/* Every record of db in key order, in one read snapshot: each(k, v, arg)
 * decodes one and calls the caller's callback; a non-zero return stops
 * the walk and is returned. The one loop behind the store's foreach
 * functions. */
int store_walk(struct store *s, MDB_dbi db,
               int (*each)(const MDB_val *k, const MDB_val *v, void *arg), void *arg)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur;
    MDB_val k, v;
    int ret = 0;

    int rc = store_loose_begin(s, &txn);
    if (rc != MDB_SUCCESS)
        return store_map_err(rc);
    rc = mdb_cursor_open(txn, db, &cur);
    if (rc != MDB_SUCCESS) {
        store_loose_end(s, txn);
        return store_map_err(rc);
    }
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        ret = each(&k, &v, arg);
        if (ret != 0)
            break;
    }
    if (ret == 0 && rc != MDB_NOTFOUND)
        ret = store_map_err(rc);
    mdb_cursor_close(cur);
    store_loose_end(s, txn);
    return ret;
}

struct store_entry_walk {
    int (*cb)(const struct entry *e, void *arg);
    void *arg;
    struct entry e;
};

static int store_foreach_one(const MDB_val *k, const MDB_val *v, void *arg)
{
    struct store_entry_walk *w = arg;
    memset(&w->e, 0, sizeof w->e);
    int ret = store_prefix_from_key(k, &w->e.prefix);
    if (ret == DNSBL_OK)
        ret = store_decode_value(v, w->e.prefix.family, &w->e);
    return ret == DNSBL_OK ? w->cb(&w->e, w->arg) : ret;
}

int store_foreach(struct store *s, int (*cb)(const struct entry *e, void *arg), void *arg)
{
    struct store_entry_walk w = {.cb = cb, .arg = arg};
    return store_walk(s, s->entries, store_foreach_one, &w);
}
