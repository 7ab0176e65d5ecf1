/* store_undo: the imports log (the `imports` database) and undo (the
 * `undo` database): what an import changed, record by record, and
 * putting it back. The layout is doc/store-format.md, "imports" and
 * "undo". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_int.h"
#include "store_testing.h"
#include "wire.h"

#define STORE_IMPORT_VERSION 1
#define STORE_IVAL_MAX (3 + 8 + 5 * 8 + 3 * (2 + IMPORT_LOG_TEXT_MAX) + 2 + IMPORT_LOG_FILES_MAX)
/* An undo value: flags, the before image's length, before, after. */
#define STORE_UNDO_BEFORE 1
#define STORE_UNDO_AFTER 2
#define STORE_UNDO_IMAGE_MAX                                                                       \
    (STORE_EVIDENCE_VALUE_MAX > STORE_ENTRY_VALUE_MAX ? STORE_EVIDENCE_VALUE_MAX                   \
                                                      : STORE_ENTRY_VALUE_MAX)
#define STORE_UVAL_MAX (1 + 4 + 2 * STORE_UNDO_IMAGE_MAX)

const char *store_import_state_name(uint8_t state)
{
    switch (state) {
    case IMPORT_RUNNING:
        return "running";
    case IMPORT_DONE:
        return "done";
    case IMPORT_UNDOING:
        return "undoing";
    case IMPORT_UNDONE:
        return "undone";
    case IMPORT_PRUNED:
        return "pruned";
    default:
        return "?";
    }
}

void store_testing_undo_batch(struct store *s, size_t per_txn)
{
    s->undo_per_txn = per_txn;
}

uint64_t store_import_current(const struct store *s)
{
    return s->import_id;
}

/* ---- the undo records ---- */

static size_t store_ukey(uint64_t id, uint8_t db, const void *key, size_t klen,
                         uint8_t out[STORE_UKEY_MAX])
{
    struct wire w;
    wire_init(&w, out, STORE_UKEY_MAX);
    wire_put_u64(&w, id);
    wire_put_u8(&w, db);
    wire_put_bytes(&w, key, klen);
    return wire_used(&w);
}

static size_t store_uval(const MDB_val *before, const MDB_val *after, uint8_t *out)
{
    size_t blen = before ? before->mv_size : 0, alen = after ? after->mv_size : 0;
    out[0] = (uint8_t)((before ? STORE_UNDO_BEFORE : 0) | (after ? STORE_UNDO_AFTER : 0));
    out[1] = (uint8_t)(blen >> 24);
    out[2] = (uint8_t)(blen >> 16);
    out[3] = (uint8_t)(blen >> 8);
    out[4] = (uint8_t)blen;
    if (blen)
        memcpy(out + 5, before->mv_data, blen);
    if (alen)
        memcpy(out + 5 + blen, after->mv_data, alen);
    return 5 + blen + alen;
}

/* An undo value into its images (pointing into v); false if malformed. */
static bool store_uval_decode(const MDB_val *v, bool *has_before, MDB_val *before, bool *has_after,
                              MDB_val *after)
{
    const uint8_t *p = v->mv_data;
    if (v->mv_size < 5 || p[0] & ~(STORE_UNDO_BEFORE | STORE_UNDO_AFTER))
        return false;
    size_t blen = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
    if (blen > v->mv_size - 5)
        return false;
    *has_before = p[0] & STORE_UNDO_BEFORE;
    *has_after = p[0] & STORE_UNDO_AFTER;
    *before = store_val(p + 5, blen);
    *after = store_val(p + 5 + blen, v->mv_size - 5 - blen);
    if ((!*has_before && blen) || (!*has_after && after->mv_size))
        return false;
    return blen <= STORE_UNDO_IMAGE_MAX && after->mv_size <= STORE_UNDO_IMAGE_MAX;
}

int store_undo_note(struct store_txn *t, uint8_t db, const void *key, size_t klen,
                    const MDB_val *before, const MDB_val *after)
{
    uint8_t ukey[STORE_UKEY_MAX], uval[STORE_UVAL_MAX];
    if (!t->s->import_id || !store_txn_ok(t))
        return t->err;
    if (klen > STORE_DEDUP_LEN || (before && before->mv_size > STORE_UNDO_IMAGE_MAX) ||
        (after && after->mv_size > STORE_UNDO_IMAGE_MAX))
        return store_txn_fail(t, DNSBL_EINVAL, "undo record: a record too long to keep");
    MDB_val k = store_val(ukey, store_ukey(t->s->import_id, db, key, klen, ukey));
    MDB_val v = store_val(uval, store_uval(before, after, uval));
    /* Most records are changed once per import: one put. One changed
     * again keeps the first before image and takes the new after. */
    int rc = mdb_put(t->txn, t->s->undo, &k, &v, MDB_NOOVERWRITE);
    if (rc != MDB_KEYEXIST)
        return store_txn_step(t, rc, "write undo record");
    bool hb, ha;
    MDB_val b, a;
    if (!store_uval_decode(&v, &hb, &b, &ha, &a))
        return store_txn_fail(t, DNSBL_ESCHEMA, "undo record: does not decode");
    uint8_t keep[STORE_UNDO_IMAGE_MAX];
    memcpy(keep, b.mv_data, b.mv_size);
    b.mv_data = keep;
    v = store_val(uval, store_uval(hb ? &b : NULL, after, uval));
    return store_txn_step(t, mdb_put(t->txn, t->s->undo, &k, &v, 0), "write undo record");
}

/* ---- the imports log ---- */

static size_t store_import_encode(const struct import_info *in, uint8_t *buf)
{
    struct wire w;
    wire_init(&w, buf, STORE_IVAL_MAX);
    wire_put_u8(&w, STORE_IMPORT_VERSION);
    wire_put_u8(&w, in->state);
    wire_put_u8(&w, in->sync ? 1 : 0);
    wire_put_u64(&w, (uint64_t)in->time);
    wire_put_u64(&w, in->counts.read);
    wire_put_u64(&w, in->counts.imported);
    wire_put_u64(&w, in->counts.duplicates);
    wire_put_u64(&w, in->counts.rejected);
    wire_put_u64(&w, in->counts.changed);
    store_put_text(&w, in->who, sizeof in->who);
    store_put_text(&w, in->source, sizeof in->source);
    store_put_text(&w, in->format, sizeof in->format);
    store_put_text(&w, in->files, sizeof in->files);
    return wire_used(&w);
}

static int store_import_decode(const MDB_val *k, const MDB_val *v, struct import_info *out)
{
    struct wire w;
    memset(out, 0, sizeof *out);
    if (k->mv_size != 8)
        return DNSBL_ESCHEMA;
    wire_init_ro(&w, k->mv_data, 8);
    out->id = wire_get_u64(&w);
    wire_init_ro(&w, v->mv_data, v->mv_size);
    uint8_t version = wire_get_u8(&w);
    out->state = wire_get_u8(&w);
    out->sync = wire_get_u8(&w) != 0;
    out->time = (int64_t)wire_get_u64(&w);
    out->counts.read = wire_get_u64(&w);
    out->counts.imported = wire_get_u64(&w);
    out->counts.duplicates = wire_get_u64(&w);
    out->counts.rejected = wire_get_u64(&w);
    out->counts.changed = wire_get_u64(&w);
    store_get_text(&w, out->who, sizeof out->who);
    store_get_text(&w, out->source, sizeof out->source);
    store_get_text(&w, out->format, sizeof out->format);
    store_get_text(&w, out->files, sizeof out->files);
    if (w.err || wire_left(&w) || version != STORE_IMPORT_VERSION || out->state < IMPORT_RUNNING ||
        out->state > IMPORT_PRUNED)
        return DNSBL_ESCHEMA;
    return DNSBL_OK;
}

static int store_import_write(struct store_txn *t, const struct import_info *in)
{
    uint8_t kbuf[8], vbuf[STORE_IVAL_MAX];
    struct wire w;
    wire_init(&w, kbuf, sizeof kbuf);
    wire_put_u64(&w, in->id);
    MDB_val k = store_val(kbuf, sizeof kbuf), v = store_val(vbuf, store_import_encode(in, vbuf));
    return store_txn_step(t, mdb_put(t->txn, t->s->imports, &k, &v, 0), "write import record");
}

static int store_import_read(struct store_txn *t, MDB_txn *txn, uint64_t id,
                             struct import_info *out)
{
    uint8_t kbuf[8];
    struct wire w;
    wire_init(&w, kbuf, sizeof kbuf);
    wire_put_u64(&w, id);
    MDB_val k = store_val(kbuf, sizeof kbuf), v;
    int rc = mdb_get(txn, t->s->imports, &k, &v);
    if (rc == MDB_NOTFOUND)
        return DNSBL_ENOENT;
    if (rc != MDB_SUCCESS)
        return store_txn_step(t, rc, "read import record");
    if (store_import_decode(&k, &v, out) != DNSBL_OK)
        return store_txn_fail(t, DNSBL_ESCHEMA, "import %llu: its record does not decode",
                              (unsigned long long)id);
    return DNSBL_OK;
}

static int store_import_begin_try(struct store *s, void *arg, char *why, size_t whylen)
{
    struct import_info *info = arg;
    struct store_txn t;
    MDB_cursor *cur;
    MDB_val k, v;

    if (store_txn_begin(s, &t) != DNSBL_OK)
        return store_txn_end(&t, why, whylen);
    info->id = 1;
    if (store_txn_step(&t, mdb_cursor_open(t.txn, s->imports, &cur), "open imports cursor") ==
        DNSBL_OK) {
        int rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
        if (rc == MDB_SUCCESS && k.mv_size == 8) {
            struct wire w;
            wire_init_ro(&w, k.mv_data, 8);
            info->id = wire_get_u64(&w) + 1;
        } else if (rc != MDB_NOTFOUND) {
            store_txn_step(&t, rc == MDB_SUCCESS ? MDB_CORRUPTED : rc, "read imports");
        }
        mdb_cursor_close(cur);
    }
    store_import_write(&t, info);
    return store_txn_end(&t, why, whylen);
}

int store_import_begin(struct store *s, struct import_info *info, char *why, size_t whylen)
{
    if (s->flags & STORE_RDONLY) {
        store_set_why(why, whylen, "%s: the store is open read-only", s->dir);
        return DNSBL_EINVAL;
    }
    if (s->import_id) {
        store_set_why(why, whylen, "%s: import %llu is still open", s->dir,
                      (unsigned long long)s->import_id);
        return DNSBL_EINVAL;
    }
    info->state = IMPORT_RUNNING;
    if (info->time <= 0)
        info->time = (int64_t)time(NULL);
    int err = store_write_growing(s, store_import_begin_try, info, why, whylen);
    if (err != DNSBL_OK)
        return store_public_err(err);
    s->import_id = info->id;
    return DNSBL_OK;
}

struct store_import_end_args {
    uint64_t id;
    const struct import_info *info;
};

static int store_import_end_try(struct store *s, void *arg, char *why, size_t whylen)
{
    struct store_import_end_args *a = arg;
    struct import_info info;
    struct store_txn t;
    if (store_txn_begin(s, &t) == DNSBL_OK &&
        store_import_read(&t, t.txn, a->id, &info) == DNSBL_OK) {
        if (a->info) {
            int64_t began = info.time;
            info = *a->info;
            info.id = a->id;
            info.time = began;
        }
        info.state = IMPORT_DONE;
        store_import_write(&t, &info);
    } else if (store_txn_ok(&t)) {
        store_txn_fail(&t, DNSBL_ENOENT, "import %llu has no record", (unsigned long long)a->id);
    }
    return store_txn_end(&t, why, whylen);
}

int store_import_end(struct store *s, const struct import_info *info, char *why, size_t whylen)
{
    struct store_import_end_args a = {.id = s->import_id, .info = info};
    if (!a.id)
        return DNSBL_OK;
    s->import_id = 0;
    return store_public_err(store_write_growing(s, store_import_end_try, &a, why, whylen));
}

struct store_imports_walk {
    int (*cb)(const struct import_info *info, void *arg);
    void *arg;
};

static int store_imports_one(const MDB_val *k, const MDB_val *v, void *arg)
{
    struct store_imports_walk *w = arg;
    struct import_info info;
    int ret = store_import_decode(k, v, &info);
    return ret == DNSBL_OK ? w->cb(&info, w->arg) : ret;
}

int store_imports(struct store *s, int (*cb)(const struct import_info *info, void *arg), void *arg)
{
    struct store_imports_walk w = {.cb = cb, .arg = arg};
    return store_walk(s, s->imports, store_imports_one, &w);
}

int store_import_get(struct store *s, uint64_t id, struct import_info *out)
{
    MDB_txn *txn = NULL;
    struct store_txn t = {.s = s, .err = DNSBL_OK};
    int rc = store_loose_begin(s, &txn);
    if (rc != MDB_SUCCESS)
        return store_map_err(rc);
    int err = store_import_read(&t, txn, id, out);
    store_loose_end(s, txn);
    return err;
}

/* ---- undo ---- */

static bool store_val_same(bool ha, const MDB_val *a, bool hb, const MDB_val *b)
{
    return ha == hb &&
           (!ha || (a->mv_size == b->mv_size && memcmp(a->mv_data, b->mv_data, a->mv_size) == 0));
}

static int64_t store_clamp(int64_t v, int64_t max)
{
    return v < 0 ? 0 : v > max ? max : v;
}

/* A dataset's part of e, with its text, into *p and *pt; false if none. */
static bool store_part_of(const struct entry *e, uint32_t id, struct entry_part *p,
                          struct entry_part_text *pt)
{
    int i = model_part_find(e, id);
    if (i < 0)
        return false;
    *p = e->parts[i];
    *pt = e->part_text[i];
    return true;
}

static bool store_part_same(bool ha, const struct entry_part *a, const struct entry_part_text *at,
                            bool hb, const struct entry_part *b, const struct entry_part_text *bt)
{
    if (ha != hb)
        return false;
    return !ha || (a->dataset == b->dataset && a->state == b->state && a->flags == b->flags &&
                   a->code == b->code && a->ttl == b->ttl && a->time == b->time &&
                   strcmp(at->dataset, bt->dataset) == 0 && strcmp(at->txt, bt->txt) == 0);
}

/* c's part of dataset id becomes the before image's (none: removed). */
static void store_part_set(struct entry *c, uint32_t id, bool has, const struct entry_part *p,
                           const struct entry_part_text *pt)
{
    int i = model_part_find(c, id);
    if (i >= 0)
        model_part_remove(c, (unsigned)i);
    if (!has || c->nparts >= ENTRY_PARTS_MAX)
        return;
    unsigned at = c->nparts;
    while (at > 0 && c->parts[at - 1].dataset > id) {
        c->parts[at] = c->parts[at - 1];
        c->part_text[at] = c->part_text[at - 1];
        at--;
    }
    c->parts[at] = *p;
    c->part_text[at] = *pt;
    c->nparts++;
}

static bool store_snds_same(const struct entry *a, const struct entry *b)
{
    const struct snds_row *x = &a->snds, *y = &b->snds;
    return x->colour == y->colour && x->rate_qual == y->rate_qual && x->rate_pct == y->rate_pct &&
           x->rcpt == y->rcpt && x->data == y->data && x->recipients == y->recipients &&
           x->trap_hits == y->trap_hits && x->start == y->start && x->end == y->end &&
           a->snds_status == b->snds_status && a->snds_status_time == b->snds_status_time;
}

/* An entry a later write changed again after the import (current c, the
 * import's before b and after a): what the import did is taken back where
 * c still shows it -- a field or a dataset's part that is as the import
 * left it gets the before image's; counters lose what the import added
 * (at least 0). */
static void store_undo_merge(const struct entry *b, const struct entry *a, struct entry *c)
{
    if (c->state == a->state && c->code == a->code && c->expires == a->expires &&
        c->state_time == a->state_time) {
        c->state = b->state;
        c->code = b->code;
        c->expires = b->expires;
        c->state_time = b->state_time;
    }
    if (strcmp(c->reason, a->reason) == 0)
        memcpy(c->reason, b->reason, sizeof c->reason);
    if (strcmp(c->note, a->note) == 0)
        memcpy(c->note, b->note, sizeof c->note);
    if (strcmp(c->sources, a->sources) == 0)
        memcpy(c->sources, b->sources, sizeof c->sources);
    uint32_t ids[2 * ENTRY_PARTS_MAX];
    size_t nids = 0;
    for (unsigned i = 0; i < a->nparts; i++)
        ids[nids++] = a->parts[i].dataset;
    for (unsigned i = 0; i < b->nparts; i++)
        ids[nids++] = b->parts[i].dataset;
    for (size_t i = 0; i < nids; i++) {
        struct entry_part pa, pb, pc;
        struct entry_part_text ta, tb, tc;
        bool ha = store_part_of(a, ids[i], &pa, &ta), hb = store_part_of(b, ids[i], &pb, &tb);
        bool hc = store_part_of(c, ids[i], &pc, &tc);
        if (store_part_same(hc, &pc, &tc, ha, &pa, &ta) &&
            !store_part_same(hc, &pc, &tc, hb, &pb, &tb))
            store_part_set(c, ids[i], hb, &pb, &tb);
    }
    for (int i = 0; i < CNT_COUNT; i++)
        c->counts[i] =
            (uint32_t)store_clamp((int64_t)c->counts[i] + b->counts[i] - a->counts[i], UINT32_MAX);
    for (int i = 0; i < AUTHC_COUNT; i++)
        c->auth_fail[i] = (uint32_t)store_clamp(
            (int64_t)c->auth_fail[i] + b->auth_fail[i] - a->auth_fail[i], UINT32_MAX);
    uint64_t added = a->volume > b->volume ? a->volume - b->volume : 0;
    c->volume = c->volume > added ? c->volume - added : 0;
    if (b->volume > a->volume)
        c->volume += b->volume - a->volume;
    if (c->first_seen == a->first_seen)
        c->first_seen = b->first_seen;
    if (c->last_seen == a->last_seen)
        c->last_seen = b->last_seen;
    if (store_snds_same(c, a)) {
        c->snds = b->snds;
        c->snds_status = b->snds_status;
        c->snds_status_time = b->snds_status_time;
    }
}

struct store_undo_run {
    uint64_t id;
    bool finished;
    struct store_undo_stats st; /* of the batch being tried */
};

/* Does the entry of the first STORE_KEY_LEN bytes of key exist? */
static bool store_undo_entry_exists(struct store_txn *t, const uint8_t *key)
{
    MDB_val k = store_val(key, STORE_KEY_LEN), v;
    int rc = mdb_get(t->txn, t->s->entries, &k, &v);
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
        store_txn_step(t, rc, "read entry");
    return rc == MDB_SUCCESS;
}

static int store_undo_entry(struct store_txn *t, struct store_applier *ap, const uint8_t *key,
                            bool hb, const MDB_val *b, bool ha, const MDB_val *a,
                            struct store_undo_stats *st)
{
    static _Thread_local struct entry eb, ea, ec;
    uint8_t buf[STORE_ENTRY_VALUE_MAX];
    MDB_val k = store_val(key, STORE_KEY_LEN), v, cur = {0, NULL};
    int rc = mdb_get(t->txn, t->s->entries, &k, &v);
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
        return store_txn_step(t, rc, "read entry");
    bool hc = rc == MDB_SUCCESS;
    if (hc && !store_value_entry(&v, key[0], &cur))
        return store_txn_fail(t, DNSBL_ESCHEMA, "an entry value that does not decode");
    if (store_val_same(hc, &cur, ha, a)) {
        if (store_val_same(hc, &cur, hb, b))
            return t->err;
        st->entries++;
        return store_applier_put_entry(ap, key, hb ? b->mv_data : NULL, hb ? b->mv_size : 0);
    }
    st->kept++;
    if (!hc)
        return t->err; /* a later write deleted it: it stays deleted */
    memset(&eb, 0, sizeof eb);
    memset(&ea, 0, sizeof ea);
    memset(&ec, 0, sizeof ec);
    if ((hb && store_decode_into(b->mv_data, b->mv_size, &eb) != DNSBL_OK) ||
        (ha && store_decode_into(a->mv_data, a->mv_size, &ea) != DNSBL_OK) ||
        store_decode_into(cur.mv_data, cur.mv_size, &ec) != DNSBL_OK)
        return store_txn_fail(t, DNSBL_ESCHEMA, "undo: an entry value that does not decode");
    store_undo_merge(&eb, &ea, &ec);
    if (!model_entry_holds(&ec))
        return store_applier_put_entry(ap, key, NULL, 0);
    size_t len;
    int err = store_encode_entry(&ec, buf, sizeof buf, &len);
    if (err != DNSBL_OK)
        return store_txn_fail(t, err, "undo: encode entry: %s", dnsbl_strerror(err));
    if (len == cur.mv_size && memcmp(buf, cur.mv_data, len) == 0)
        return t->err;
    return store_applier_put_entry(ap, key, buf, len);
}

/* A history day a later write added to: the import's counts leave it. */
static bool store_undo_history_merge(const uint8_t *key, size_t klen, bool hb, const MDB_val *b,
                                     bool ha, const MDB_val *a, const MDB_val *c, uint8_t *out)
{
    struct history_day db = {0}, da = {0}, dc;
    MDB_val k = store_val(key, klen);
    if ((hb && store_decode_history(&k, b, &db) != DNSBL_OK) ||
        (ha && store_decode_history(&k, a, &da) != DNSBL_OK) ||
        store_decode_history(&k, c, &dc) != DNSBL_OK)
        return false;
    bool any = false;
    for (int i = 0; i < CNT_COUNT; i++) {
        dc.counts[i] =
            (uint32_t)store_clamp((int64_t)dc.counts[i] + db.counts[i] - da.counts[i], UINT32_MAX);
        any |= dc.counts[i] != 0;
    }
    uint64_t added = da.volume > db.volume ? da.volume - db.volume : 0;
    dc.volume = dc.volume > added ? dc.volume - added : 0;
    if (db.volume > da.volume)
        dc.volume += db.volume - da.volume;
    any |= dc.volume != 0;
    store_encode_history(&dc, out);
    return any;
}

/* One undo record of a database other than entries: the record goes back
 * to its before image if it is as the import left it; history merges;
 * the rest stays as a later write made it. */
static int store_undo_other(struct store_txn *t, uint8_t db, const uint8_t *key, size_t klen,
                            bool hb, const MDB_val *b, bool ha, const MDB_val *a,
                            struct store_undo_stats *st)
{
    MDB_dbi dbi = db == STORE_UNDO_HISTORY    ? t->s->history
                  : db == STORE_UNDO_EVIDENCE ? t->s->evidence
                  : db == STORE_UNDO_OPLOG    ? t->s->oplog
                                              : t->s->seen;
    uint8_t hbuf[STORE_HVAL_LEN];
    MDB_val k = store_val(key, klen), v = {0, NULL};
    int rc = mdb_get(t->txn, dbi, &k, &v);
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
        return store_txn_step(t, rc, "read a record to undo");
    bool hc = rc == MDB_SUCCESS;
    bool put = hb;
    const MDB_val *want = b;
    MDB_val merged;
    if (!store_val_same(hc, &v, ha, a)) {
        st->kept++;
        if (db != STORE_UNDO_HISTORY || !hc)
            return t->err;
        put = store_undo_history_merge(key, klen, hb, b, ha, a, &v, hbuf);
        merged = store_val(hbuf, sizeof hbuf);
        want = &merged;
    } else if (store_val_same(hc, &v, hb, b)) {
        return t->err;
    }
    /* History and evidence belong to an entry (store_check): none is put
     * back for an entry that is not there. */
    if (put && (db == STORE_UNDO_HISTORY || db == STORE_UNDO_EVIDENCE) &&
        !store_undo_entry_exists(t, key))
        put = false;
    if (!store_txn_ok(t))
        return t->err;
    st->history += db == STORE_UNDO_HISTORY;
    st->evidence += db == STORE_UNDO_EVIDENCE;
    st->oplog += db == STORE_UNDO_OPLOG;
    st->seen += db == STORE_UNDO_SEEN;
    k = store_val(key, klen);
    if (put) {
        MDB_val w = *want;
        return store_txn_step(t, mdb_put(t->txn, dbi, &k, &w, 0), "put a record back");
    }
    if (!hc)
        return t->err;
    return store_txn_step(t, mdb_del(t->txn, dbi, &k, NULL), "remove a record of the import");
}

static size_t store_undo_klen(uint8_t db)
{
    switch (db) {
    case STORE_UNDO_ENTRIES:
        return STORE_KEY_LEN;
    case STORE_UNDO_HISTORY:
        return STORE_HKEY_LEN;
    case STORE_UNDO_EVIDENCE:
        return STORE_EKEY_LEN;
    case STORE_UNDO_OPLOG:
        return STORE_OKEY_LEN;
    case STORE_UNDO_SEEN:
        return STORE_DEDUP_LEN;
    default:
        return 0;
    }
}

/* One batch: up to undo_per_txn records undone and deleted, the import's
 * state undoing (undone after the last), the serial bumped. */
static int store_undo_once(struct store *s, void *arg, char *why, size_t whylen)
{
    struct store_undo_run *run = arg;
    size_t per_txn = s->undo_per_txn ? s->undo_per_txn : STORE_UNDO_PER_TXN;
    struct store_applier *ap = NULL;
    struct import_info info;
    struct store_txn t;
    MDB_cursor *ucur = NULL;
    uint8_t prefix[8], ukey[STORE_UKEY_MAX];
    static _Thread_local uint8_t uval[STORE_UVAL_MAX];
    struct wire w;

    memset(&run->st, 0, sizeof run->st);
    wire_init(&w, prefix, sizeof prefix);
    wire_put_u64(&w, run->id);
    if (store_txn_begin(s, &t) == DNSBL_OK &&
        store_import_read(&t, t.txn, run->id, &info) != DNSBL_OK)
        store_txn_fail(&t, DNSBL_ENOENT, "no import %llu", (unsigned long long)run->id);
    if (store_txn_ok(&t))
        ap = store_applier_open(&t);
    if (store_txn_ok(&t))
        store_txn_step(&t, mdb_cursor_open(t.txn, s->undo, &ucur), "open undo cursor");
    run->finished = false;
    for (size_t n = 0; store_txn_ok(&t); n++) {
        MDB_val k = store_val(prefix, sizeof prefix), v;
        int rc = mdb_cursor_get(ucur, &k, &v, MDB_SET_RANGE);
        if (rc == MDB_NOTFOUND ||
            (rc == MDB_SUCCESS && (k.mv_size < 9 || memcmp(k.mv_data, prefix, 8) != 0))) {
            run->finished = true;
            break;
        }
        if (store_txn_step(&t, rc, "read undo record") != DNSBL_OK || n == per_txn)
            break;
        uint8_t db = ((const uint8_t *)k.mv_data)[8];
        size_t klen = k.mv_size - 9;
        bool hb, ha;
        MDB_val b, a;
        if (klen != store_undo_klen(db) || v.mv_size > sizeof uval) {
            store_txn_fail(&t, DNSBL_ESCHEMA, "undo record of import %llu: bad key",
                           (unsigned long long)run->id);
            break;
        }
        /* Copied: the writes below may move the pages they point into. */
        memcpy(ukey, k.mv_data, k.mv_size);
        memcpy(uval, v.mv_data, v.mv_size);
        v.mv_data = uval;
        if (!store_uval_decode(&v, &hb, &b, &ha, &a)) {
            store_txn_fail(&t, DNSBL_ESCHEMA, "undo record of import %llu does not decode",
                           (unsigned long long)run->id);
            break;
        }
        if (db == STORE_UNDO_ENTRIES)
            store_undo_entry(&t, ap, ukey + 9, hb, &b, ha, &a, &run->st);
        else
            store_undo_other(&t, db, ukey + 9, klen, hb, &b, ha, &a, &run->st);
        k = store_val(ukey, 9 + klen);
        if (store_txn_ok(&t))
            store_txn_step(&t, mdb_del(t.txn, s->undo, &k, NULL), "delete undo record");
    }
    if (ucur)
        mdb_cursor_close(ucur);
    if (ap)
        store_applier_close(ap);
    if (store_txn_ok(&t)) {
        info.state = run->finished ? IMPORT_UNDONE : IMPORT_UNDOING;
        store_import_write(&t, &info);
        uint64_t serial = 0;
        int err = store_get_u64(s, t.txn, "serial", &serial, t.why, sizeof t.why);
        if (err != DNSBL_OK && err != DNSBL_ENOENT)
            t.err = err;
        store_txn_step(&t, store_put_u64(s, t.txn, "serial", serial + 1), "write serial");
    }
    return store_txn_end(&t, why, whylen);
}

struct store_prune_run {
    uint64_t id, dropped;
    bool finished;
};

/* One batch of a prune: the state pruned, up to undo_per_txn undo records
 * deleted. Nothing an answer depends on changes: no serial. */
static int store_prune_once(struct store *s, void *arg, char *why, size_t whylen)
{
    struct store_prune_run *run = arg;
    size_t per_txn = s->undo_per_txn ? s->undo_per_txn : STORE_UNDO_PER_TXN;
    struct import_info info;
    struct store_txn t;
    MDB_cursor *ucur = NULL;
    uint8_t prefix[8];
    struct wire w;
    size_t n = 0;

    wire_init(&w, prefix, sizeof prefix);
    wire_put_u64(&w, run->id);
    if (store_txn_begin(s, &t) == DNSBL_OK &&
        store_import_read(&t, t.txn, run->id, &info) != DNSBL_OK)
        store_txn_fail(&t, DNSBL_ENOENT, "no import %llu", (unsigned long long)run->id);
    if (store_txn_ok(&t) && info.state != IMPORT_PRUNED) {
        info.state = IMPORT_PRUNED;
        store_import_write(&t, &info);
    }
    if (store_txn_ok(&t))
        store_txn_step(&t, mdb_cursor_open(t.txn, s->undo, &ucur), "open undo cursor");
    run->finished = false;
    while (store_txn_ok(&t)) {
        MDB_val k = store_val(prefix, sizeof prefix), v;
        int rc = mdb_cursor_get(ucur, &k, &v, MDB_SET_RANGE);
        if (rc == MDB_NOTFOUND ||
            (rc == MDB_SUCCESS && (k.mv_size < 9 || memcmp(k.mv_data, prefix, 8) != 0))) {
            run->finished = true;
            break;
        }
        if (store_txn_step(&t, rc, "read undo record") != DNSBL_OK || n == per_txn)
            break;
        if (store_txn_step(&t, mdb_cursor_del(ucur, 0), "delete undo record") == DNSBL_OK)
            n++;
    }
    if (ucur)
        mdb_cursor_close(ucur);
    int err = store_txn_end(&t, why, whylen);
    if (err == DNSBL_OK)
        run->dropped += n;
    return err;
}

int store_import_prune(struct store *s, uint64_t id, uint64_t *records, char *why, size_t whylen)
{
    struct import_info info;
    if (records)
        *records = 0;
    if (s->flags & STORE_RDONLY) {
        store_set_why(why, whylen, "%s: the store is open read-only", s->dir);
        return DNSBL_EINVAL;
    }
    int err = store_import_get(s, id, &info);
    if (err != DNSBL_OK) {
        store_set_why(why, whylen, "%s: no import %llu", s->dir, (unsigned long long)id);
        return err;
    }
    if (info.state != IMPORT_DONE && info.state != IMPORT_PRUNED) {
        store_set_why(why, whylen, "%s: import %llu is %s: only a done import is pruned", s->dir,
                      (unsigned long long)id, store_import_state_name(info.state));
        return DNSBL_EINVAL;
    }
    struct store_prune_run run = {.id = id};
    do
        err = store_write_growing(s, store_prune_once, &run, why, whylen);
    while (err == DNSBL_OK && !run.finished);
    if (records)
        *records = run.dropped;
    return store_public_err(err);
}

int store_undo(struct store *s, uint64_t id, struct store_undo_stats *st, char *why, size_t whylen)
{
    struct store_undo_stats total = {0};
    struct import_info info;
    if (st)
        *st = total;
    if (s->flags & STORE_RDONLY) {
        store_set_why(why, whylen, "%s: the store is open read-only", s->dir);
        return DNSBL_EINVAL;
    }
    if (s->import_id) {
        store_set_why(why, whylen, "%s: import %llu is open: end it before an undo", s->dir,
                      (unsigned long long)s->import_id);
        return DNSBL_EINVAL;
    }
    int err = store_import_get(s, id, &info);
    if (err == DNSBL_ENOENT) {
        store_set_why(why, whylen, "%s: no import %llu", s->dir, (unsigned long long)id);
        return err;
    }
    if (err != DNSBL_OK) {
        store_set_why(why, whylen, "%s: import %llu: %s", s->dir, (unsigned long long)id,
                      dnsbl_strerror(err));
        return err;
    }
    if (info.state == IMPORT_UNDONE) {
        store_set_why(why, whylen, "%s: import %llu is undone already", s->dir,
                      (unsigned long long)id);
        return DNSBL_EINVAL;
    }
    if (info.state == IMPORT_PRUNED) {
        store_set_why(why, whylen, "%s: import %llu was pruned: its undo records are gone", s->dir,
                      (unsigned long long)id);
        return DNSBL_EINVAL;
    }
    struct store_undo_run run = {.id = id};
    do {
        err = store_write_growing(s, store_undo_once, &run, why, whylen);
        if (err != DNSBL_OK)
            break;
        total.entries += run.st.entries;
        total.history += run.st.history;
        total.evidence += run.st.evidence;
        total.oplog += run.st.oplog;
        total.seen += run.st.seen;
        total.kept += run.st.kept;
    } while (!run.finished);
    if (st)
        *st = total;
    return store_public_err(err);
}

/* ---- the check ---- */

int store_check_undo(struct store *s, MDB_txn *txn, void (*problem)(void *arg, const char *what),
                     void *arg)
{
    MDB_cursor *cur;
    MDB_val k, v;
    char what[160];
    uint64_t last = 0;
    bool last_known = false;
    struct import_info info;

    int rc = mdb_cursor_open(txn, s->imports, &cur);
    if (rc != MDB_SUCCESS)
        return store_map_err(rc);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (store_import_decode(&k, &v, &info) != DNSBL_OK) {
            snprintf(what, sizeof what,
                     "imports: a %zu-byte key with a %zu-byte record that does not decode",
                     k.mv_size, v.mv_size);
            problem(arg, what);
        }
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return store_map_err(rc);
    rc = mdb_cursor_open(txn, s->undo, &cur);
    if (rc != MDB_SUCCESS)
        return store_map_err(rc);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const uint8_t *key = k.mv_data;
        bool hb, ha;
        MDB_val b, a;
        if (k.mv_size < 9 || k.mv_size - 9 != store_undo_klen(key[8])) {
            snprintf(what, sizeof what, "undo: a %zu-byte key is not of a known database",
                     k.mv_size);
            problem(arg, what);
            continue;
        }
        struct wire w;
        wire_init_ro(&w, key, 8);
        uint64_t id = wire_get_u64(&w);
        if (!last_known || id != last) {
            /* one look-up per import, not per record */
            struct store_txn t = {.s = s, .err = DNSBL_OK};
            last = id;
            last_known = true;
            if (store_import_read(&t, txn, id, &info) != DNSBL_OK) {
                snprintf(what, sizeof what, "undo: records of import %llu, which has no record",
                         (unsigned long long)id);
                problem(arg, what);
            }
        }
        if (!store_uval_decode(&v, &hb, &b, &ha, &a)) {
            snprintf(what, sizeof what, "undo: import %llu: a %zu-byte record does not decode",
                     (unsigned long long)id, v.mv_size);
            problem(arg, what);
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? DNSBL_OK : store_map_err(rc);
}
