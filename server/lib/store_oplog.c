/* store_oplog: the operator history -- the `oplog` database's key and
 * value codec, the records store_apply writes for operator events (and
 * remove and undo through store_oplog_put), and the reader that gives one
 * entry's history back, oldest first. The layout is doc/store-format.md,
 * "oplog". Records are copies in caller-owned structs. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "store_int.h"
#include "wire.h"

_Static_assert(STORE_OKEY_LEN == 30, "doc/store-format.md and store_check say 30 bytes");
_Static_assert(sizeof(((struct oplog_rec *)0)->who) == OPLOG_WHO_MAX, "who is OPLOG_WHO_MAX");
_Static_assert(sizeof(((struct oplog_rec *)0)->dataset) == OPLOG_WHO_MAX,
               "dataset is OPLOG_WHO_MAX");
_Static_assert(sizeof(((struct oplog_rec *)0)->reason) == MODEL_TEXT_MAX,
               "reason is MODEL_TEXT_MAX");

static const char *const store_oplog_names[] = {
    [OPLOG_LIST] = "list",     [OPLOG_DELIST] = "delist", [OPLOG_ALLOW] = "allow",
    [OPLOG_REMOVE] = "remove", [OPLOG_UNDO] = "undo",
};

const char *store_oplog_action_name(uint8_t action)
{
    if (action == 0 || action > OPLOG_ACTION_MAX)
        return "?";
    return store_oplog_names[action];
}

static bool store_oplog_action_valid(uint8_t action)
{
    return action >= OPLOG_LIST && action <= OPLOG_ACTION_MAX;
}

/* ---- codec ---- */

void store_okey(const uint8_t key[STORE_KEY_LEN], int64_t time, uint32_t seq,
                uint8_t okey[STORE_OKEY_LEN])
{
    struct wire w;
    memcpy(okey, key, STORE_KEY_LEN);
    wire_init(&w, okey + STORE_KEY_LEN, STORE_OKEY_LEN - STORE_KEY_LEN);
    wire_put_u64(&w, (uint64_t)time);
    wire_put_u32(&w, seq);
}

int store_encode_oplog(const struct oplog_rec *rec, uint8_t *buf, size_t cap, size_t *len)
{
    struct wire w;

    if (!store_oplog_action_valid(rec->action))
        return DNSBL_EINVAL;
    wire_init(&w, buf, cap);
    wire_put_u8(&w, STORE_OPLOG_VERSION);
    wire_put_u8(&w, rec->action);
    wire_put_u32(&w, rec->code);
    wire_put_u64(&w, (uint64_t)rec->expires);
    store_put_text(&w, rec->who, sizeof rec->who);
    store_put_text(&w, rec->reason, sizeof rec->reason);
    store_put_text(&w, rec->dataset, sizeof rec->dataset);
    if (w.err)
        return DNSBL_ESPACE;
    *len = wire_used(&w);
    return DNSBL_OK;
}

int store_decode_oplog(const MDB_val *k, const MDB_val *v, struct oplog_rec *out)
{
    struct wire w;

    if (k->mv_size != STORE_OKEY_LEN)
        return DNSBL_ESCHEMA;
    wire_init_ro(&w, (const uint8_t *)k->mv_data + STORE_KEY_LEN, STORE_OKEY_LEN - STORE_KEY_LEN);
    out->time = (int64_t)wire_get_u64(&w);
    wire_init_ro(&w, v->mv_data, v->mv_size);
    uint8_t version = wire_get_u8(&w);
    out->action = wire_get_u8(&w);
    out->code = wire_get_u32(&w);
    out->expires = (int64_t)wire_get_u64(&w);
    store_get_text(&w, out->who, sizeof out->who);
    store_get_text(&w, out->reason, sizeof out->reason);
    store_get_text(&w, out->dataset, sizeof out->dataset);
    if (w.err || wire_left(&w) != 0 || version != STORE_OPLOG_VERSION ||
        !store_oplog_action_valid(out->action) || out->time <= 0)
        return DNSBL_ESCHEMA;
    return DNSBL_OK;
}

/* ---- writing ---- */

/* The sequence number of a new record of (key, time): one past the last
 * record of that second, 0 when there is none. Moves cur. */
static int store_oplog_next_seq(struct store_txn *t, MDB_cursor *cur,
                                const uint8_t key[STORE_KEY_LEN], int64_t time, uint32_t *seq)
{
    uint8_t probe[STORE_OKEY_LEN];
    MDB_val k, v;

    store_okey(key, time, UINT32_MAX, probe);
    k = store_val(probe, sizeof probe);
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc == MDB_SUCCESS && k.mv_size == sizeof probe &&
        memcmp(k.mv_data, probe, sizeof probe) == 0)
        return store_txn_fail(t, DNSBL_ESPACE, "operator history: %u records in one second",
                              UINT32_MAX);
    if (rc == MDB_SUCCESS)
        rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    else if (rc == MDB_NOTFOUND)
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    *seq = 0;
    if (rc == MDB_NOTFOUND)
        return DNSBL_OK;
    if (rc != MDB_SUCCESS)
        return store_txn_step(t, rc, "read operator history");
    /* The greatest key below the probe: of this entry and second, or not. */
    const size_t same = STORE_OKEY_LEN - 4;
    if (k.mv_size == STORE_OKEY_LEN && memcmp(k.mv_data, probe, same) == 0) {
        struct wire w;
        wire_init_ro(&w, (const uint8_t *)k.mv_data + same, 4);
        *seq = wire_get_u32(&w) + 1;
    }
    return DNSBL_OK;
}

int store_oplog_put(struct store_txn *t, const uint8_t key[STORE_KEY_LEN],
                    const struct oplog_rec *rec)
{
    uint8_t okey[STORE_OKEY_LEN], val[STORE_OVAL_MAX];
    MDB_cursor *cur;
    uint32_t seq;
    size_t len;

    if (!store_txn_ok(t))
        return t->err;
    /* A time <= 0 would sort after every other (big-endian i64): a
     * caller bug, as for events (store_apply). */
    if (rec->time <= 0)
        return store_txn_fail(t, DNSBL_EINVAL, "operator history: time %lld is not valid",
                              (long long)rec->time);
    int err = store_encode_oplog(rec, val, sizeof val, &len);
    if (err != DNSBL_OK)
        return store_txn_fail(t, err, "operator history: action %u: %s", rec->action,
                              dnsbl_strerror(err));
    if (store_txn_step(t, mdb_cursor_open(t->txn, t->s->oplog, &cur), "open oplog cursor") !=
        DNSBL_OK)
        return t->err;
    if (store_oplog_next_seq(t, cur, key, rec->time, &seq) == DNSBL_OK) {
        store_okey(key, rec->time, seq, okey);
        MDB_val k = store_val(okey, sizeof okey), v = store_val(val, len);
        if (store_txn_step(t, mdb_cursor_put(cur, &k, &v, MDB_NOOVERWRITE),
                           "write operator history") == DNSBL_OK)
            store_undo_note(t, STORE_UNDO_OPLOG, okey, sizeof okey, NULL, &v);
    }
    mdb_cursor_close(cur);
    return t->err;
}

/* "abc" into dst[cap], cut at cap - 1 bytes; NULL is "". */
static void store_oplog_copy(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strnlen(src, cap - 1) : 0;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

bool store_oplog_kind(const struct event *ev)
{
    switch (ev->kind) {
    case EV_LIST:
    case EV_DELIST:
    case EV_ALLOW:
        return !ev->no_oplog;
    case EV_REMOVE:
    case EV_OPERATOR_CLEAR:
    case EV_OPLOG:
        return true;
    case EV_IMPORT_REMOVE:
        return ev->by != NULL;
    }
    return false;
}

int store_oplog_event(struct store_txn *t, const uint8_t key[STORE_KEY_LEN], const struct event *ev)
{
    struct oplog_rec rec;

    if (!store_oplog_kind(ev))
        return t->err;
    switch (ev->kind) {
    case EV_OPLOG:
        /* As the export wrote it: code and expiry as recorded. */
        rec.action = ev->oplog_action;
        rec.time = ev->time;
        rec.code = ev->code;
        rec.expires = ev->expires;
        store_oplog_copy(rec.who, sizeof rec.who, ev->by);
        store_oplog_copy(rec.reason, sizeof rec.reason, ev->reason);
        store_oplog_copy(rec.dataset, sizeof rec.dataset, ev->dataset);
        return store_oplog_put(t, key, &rec);
    case EV_LIST:
        rec.action = OPLOG_LIST;
        break;
    case EV_DELIST:
        rec.action = OPLOG_DELIST;
        break;
    case EV_ALLOW:
        rec.action = OPLOG_ALLOW;
        break;
    case EV_REMOVE:
    case EV_OPERATOR_CLEAR:
        rec.action = OPLOG_REMOVE;
        break;
    case EV_IMPORT_REMOVE:
        /* dnsblctl remove names who; a sync's removals are the import's,
         * recorded with it. */
        if (!ev->by)
            return t->err;
        rec.action = OPLOG_REMOVE;
        break;
    default:
        return t->err;
    }
    rec.time = ev->time;
    /* What model_apply_event keeps of each kind: a delisting has no code
     * and clears the expiry. */
    rec.code = ev->kind == EV_LIST ? ev->code : 0;
    rec.expires = ev->kind == EV_LIST || ev->kind == EV_ALLOW ? ev->expires : 0;
    store_oplog_copy(rec.who, sizeof rec.who, ev->by);
    store_oplog_copy(rec.reason, sizeof rec.reason, ev->reason);
    store_oplog_copy(rec.dataset, sizeof rec.dataset, ev->dataset);
    return store_oplog_put(t, key, &rec);
}

/* ---- reading ---- */

/* Walks p's records from the newest back: the first cap of them fill out
 * from its end, the rest are counted, then the filled part moves to the
 * front, so out is oldest first. */
int store_reader_oplog(struct store_reader *r, const struct addr_prefix *p, struct oplog_rec *out,
                       size_t cap, size_t *n)
{
    uint8_t key[STORE_KEY_LEN], probe[STORE_OKEY_LEN];
    MDB_cursor *cur;
    MDB_val k, v;
    size_t total = 0, got = 0;
    int err = DNSBL_OK;

    *n = 0;
    if (!r->active || !store_prefix_valid(p))
        return DNSBL_EINVAL;
    struct addr_prefix q = *p;
    addr_mask(&q);
    store_key_from_prefix(&q, key);
    /* Past every record of this entry: the greatest time and sequence. */
    memcpy(probe, key, STORE_KEY_LEN);
    memset(probe + STORE_KEY_LEN, 0xff, STORE_OKEY_LEN - STORE_KEY_LEN);
    int rc = mdb_cursor_open(r->txn, r->s->oplog, &cur);
    if (rc != MDB_SUCCESS)
        return store_map_err(rc);
    k = store_val(probe, sizeof probe);
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc == MDB_SUCCESS &&
        !(k.mv_size == sizeof probe && memcmp(k.mv_data, probe, sizeof probe) == 0))
        rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    else if (rc == MDB_NOTFOUND)
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    for (; rc == MDB_SUCCESS; rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
        if (k.mv_size < STORE_KEY_LEN || memcmp(k.mv_data, key, STORE_KEY_LEN) != 0)
            break; /* before this entry's records */
        if (got < cap) {
            err = store_decode_oplog(&k, &v, &out[cap - 1 - got]);
            if (err != DNSBL_OK)
                break;
            got++;
        } else if (k.mv_size != STORE_OKEY_LEN) {
            err = DNSBL_ESCHEMA;
            break;
        }
        total++;
    }
    mdb_cursor_close(cur);
    if (err != DNSBL_OK)
        return err;
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
        return store_map_err(rc);
    if (got)
        memmove(out, out + cap - got, got * sizeof *out);
    *n = total;
    return DNSBL_OK;
}

struct store_oplog_walk {
    int (*cb)(const struct addr_prefix *p, const struct oplog_rec *rec, void *arg);
    void *arg;
};

static int store_oplog_one(const MDB_val *k, const MDB_val *v, void *arg)
{
    struct store_oplog_walk *w = arg;
    struct oplog_rec rec;
    struct addr_prefix p;
    MDB_val ek = store_val(k->mv_data, STORE_KEY_LEN);
    int ret = k->mv_size == STORE_OKEY_LEN ? store_prefix_from_key(&ek, &p) : DNSBL_ESCHEMA;
    if (ret == DNSBL_OK)
        ret = store_decode_oplog(k, v, &rec);
    return ret == DNSBL_OK ? w->cb(&p, &rec, w->arg) : ret;
}

int store_oplog_foreach(struct store *s,
                        int (*cb)(const struct addr_prefix *p, const struct oplog_rec *rec,
                                  void *arg),
                        void *arg)
{
    struct store_oplog_walk w = {.cb = cb, .arg = arg};
    return store_walk(s, s->oplog, store_oplog_one, &w);
}
