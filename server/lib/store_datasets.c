/* store_datasets: the `datasets` database -- one record per named dataset
 * (its kind, the format, files and time of its last import, the time of
 * its last sync), the record codec, the merge a new import's note makes
 * with the recorded one, and the refusal of a second name with the same
 * 32-bit id. The layout is doc/store-format.md, "datasets". Records are
 * copies in caller-owned structs. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "store_int.h"
#include "wire.h"

_Static_assert(MODEL_DATASET_MAX <= UINT16_MAX && DATASET_FILES_MAX <= UINT16_MAX,
               "texts are u16-length prefixed");

const char *store_dataset_kind_name(uint8_t kind)
{
    switch (kind) {
    case DATASET_LIST:
        return "list";
    case DATASET_EVIDENCE:
        return "evidence";
    case DATASET_OPERATOR:
        return "operator";
    }
    return "?";
}

static bool store_dataset_kind_valid(uint8_t kind)
{
    return kind >= DATASET_LIST && kind <= DATASET_OPERATOR;
}

/* ---- codec ---- */

static void store_dkey(uint32_t id, uint8_t key[STORE_DKEY_LEN])
{
    struct wire w;
    wire_init(&w, key, STORE_DKEY_LEN);
    wire_put_u32(&w, id);
}

int store_encode_dataset(const struct dataset_note *n, uint8_t *buf, size_t cap, size_t *len)
{
    struct wire w;

    if (!store_dataset_kind_valid(n->kind) || !n->name[0])
        return DNSBL_EINVAL;
    wire_init(&w, buf, cap);
    wire_put_u8(&w, STORE_DATASET_VERSION);
    wire_put_u8(&w, n->kind);
    wire_put_u64(&w, (uint64_t)n->last_import);
    wire_put_u64(&w, (uint64_t)n->last_sync);
    store_put_text(&w, n->name, sizeof n->name);
    store_put_text(&w, n->format, sizeof n->format);
    store_put_text(&w, n->files, sizeof n->files);
    if (w.err)
        return DNSBL_ESPACE;
    *len = wire_used(&w);
    return DNSBL_OK;
}

int store_decode_dataset(const MDB_val *k, const MDB_val *v, struct dataset_note *out)
{
    struct wire w;

    memset(out, 0, sizeof *out);
    if (k->mv_size != STORE_DKEY_LEN)
        return DNSBL_ESCHEMA;
    wire_init_ro(&w, k->mv_data, STORE_DKEY_LEN);
    uint32_t id = wire_get_u32(&w);
    wire_init_ro(&w, v->mv_data, v->mv_size);
    uint8_t version = wire_get_u8(&w);
    out->kind = wire_get_u8(&w);
    out->last_import = (int64_t)wire_get_u64(&w);
    out->last_sync = (int64_t)wire_get_u64(&w);
    store_get_text(&w, out->name, sizeof out->name);
    store_get_text(&w, out->format, sizeof out->format);
    store_get_text(&w, out->files, sizeof out->files);
    if (w.err || wire_left(&w) != 0 || version != STORE_DATASET_VERSION ||
        !store_dataset_kind_valid(out->kind) || !out->name[0] || model_dataset_id(out->name) != id)
        return DNSBL_ESCHEMA;
    return DNSBL_OK;
}

/* ---- writing ---- */

/* What a new note leaves of the recorded one (old, NULL when none). */
static void store_dataset_merge(const struct dataset_note *old, const struct dataset_note *n,
                                struct dataset_note *out)
{
    *out = *n;
    if (!old)
        return;
    if (n->last_import == 0) {
        out->last_import = old->last_import;
        memcpy(out->format, old->format, sizeof out->format);
        memcpy(out->files, old->files, sizeof out->files);
    }
    if (n->last_sync == 0)
        out->last_sync = old->last_sync;
    /* Evidence under a list's name (an SNDS export brings both) does not
     * make the list an evidence source. */
    if (old->kind == DATASET_LIST && n->kind == DATASET_EVIDENCE)
        out->kind = DATASET_LIST;
    if (n->kind == DATASET_KIND_NONE)
        out->kind = old->kind;
}

static void store_dataset_collision(char *why, size_t whylen, const char *name, uint32_t id,
                                    const char *other)
{
    store_set_why(why, whylen,
                  "dataset %s: its id 0x%08x is that of dataset %s, already in the store (the "
                  "32-bit ids collide); choose another name",
                  name, id, other);
}

int store_dataset_note_txn(struct store_txn *t, const struct dataset_note *n)
{
    uint8_t key[STORE_DKEY_LEN], val[STORE_DVAL_MAX];
    struct dataset_note old, merged;
    size_t len;

    if (!store_txn_ok(t))
        return t->err;
    if (!n->name[0] || strnlen(n->name, sizeof n->name) >= sizeof n->name)
        return store_txn_fail(t, DNSBL_EINVAL, "dataset: a name of 1 to %d bytes is needed",
                              MODEL_DATASET_MAX - 1);
    uint32_t id = model_dataset_id(n->name);
    store_dkey(id, key);
    MDB_val k = store_val(key, sizeof key), v;
    int rc = mdb_get(t->txn, t->s->datasets, &k, &v);
    bool have = rc == MDB_SUCCESS;
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
        return store_txn_step(t, rc, "read dataset record");
    if (have && store_decode_dataset(&k, &v, &old) != DNSBL_OK)
        return store_txn_fail(t, DNSBL_ESCHEMA, "dataset %s: its record does not decode", n->name);
    if (have && strcmp(old.name, n->name) != 0) {
        char why[STORE_WHY_MAX];
        store_dataset_collision(why, sizeof why, n->name, id, old.name);
        return store_txn_fail(t, DNSBL_EREFUSED, "%s", why);
    }
    store_dataset_merge(have ? &old : NULL, n, &merged);
    int err = store_encode_dataset(&merged, val, sizeof val, &len);
    if (err != DNSBL_OK)
        return store_txn_fail(t, err, "dataset %s: kind %u: %s", n->name, merged.kind,
                              dnsbl_strerror(err));
    v = store_val(val, len);
    return store_txn_step(t, mdb_put(t->txn, t->s->datasets, &k, &v, 0), "write dataset record");
}

static int store_dataset_note_once(struct store *s, void *arg, char *why, size_t whylen)
{
    struct store_txn t;

    if (store_txn_begin(s, &t) != DNSBL_OK)
        return store_txn_end(&t, why, whylen);
    store_dataset_note_txn(&t, arg);
    return store_txn_end(&t, why, whylen);
}

int store_dataset_note(struct store *s, const struct dataset_note *n, char *why, size_t whylen)
{
    return store_write_growing(s, store_dataset_note_once, (void *)(uintptr_t)n, why, whylen);
}

/* ---- reading ---- */

struct store_dataset_walk {
    int (*cb)(const struct dataset_note *n, void *arg);
    void *arg;
};

static int store_datasets_one(const MDB_val *k, const MDB_val *v, void *arg)
{
    struct store_dataset_walk *w = arg;
    struct dataset_note n;
    int ret = store_decode_dataset(k, v, &n);
    return ret == DNSBL_OK ? w->cb(&n, w->arg) : ret;
}

int store_datasets_foreach(struct store *s, int (*cb)(const struct dataset_note *n, void *arg),
                           void *arg)
{
    struct store_dataset_walk w = {.cb = cb, .arg = arg};
    return store_walk(s, s->datasets, store_datasets_one, &w);
}

int store_dataset_check(struct store *s, const char *name, char *why, size_t whylen)
{
    uint8_t key[STORE_DKEY_LEN];
    struct dataset_note old;
    MDB_txn *txn = NULL;
    MDB_val k, v;

    if (!name || !name[0])
        return DNSBL_OK;
    uint32_t id = model_dataset_id(name);
    store_dkey(id, key);
    k = store_val(key, sizeof key);
    int rc = store_loose_begin(s, &txn);
    if (rc != MDB_SUCCESS)
        return store_lmdb_fail(s, rc, "read dataset record", why, whylen);
    rc = mdb_get(txn, s->datasets, &k, &v);
    int err = DNSBL_OK;
    if (rc == MDB_SUCCESS) {
        if (store_decode_dataset(&k, &v, &old) != DNSBL_OK) {
            store_set_why(why, whylen, "dataset %s: its record does not decode", name);
            err = DNSBL_ESCHEMA;
        } else if (strcmp(old.name, name) != 0) {
            store_dataset_collision(why, whylen, name, id, old.name);
            err = DNSBL_EREFUSED;
        }
    } else if (rc != MDB_NOTFOUND) {
        err = store_lmdb_fail(s, rc, "read dataset record", why, whylen);
    }
    store_loose_end(s, txn);
    return err;
}
