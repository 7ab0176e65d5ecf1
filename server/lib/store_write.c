/* store_write: writes -- a batch of events applied in one write
 * transaction in key order, keyless state sorted and committed in runs of
 * neighbouring keys -- and the write transaction with its sticky error.
 * The layout is doc/store-format.md. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "radix.h"
#include "store_int.h"
#include "wire.h"

/* ---- the write transaction and its sticky error ---- */

/* Write transactions pass the gate too (on s->loose), so that a remap in
 * another thread never pulls the map from under one. A map grown by
 * another process is adopted here, as by readers. */
int store_txn_begin(struct store *s, struct store_txn *t)
{
    t->s = s;
    t->txn = NULL;
    t->err = DNSBL_OK;
    t->why[0] = '\0';
    for (unsigned resized = 0;; resized++) {
        store_gate_enter(s, &s->loose);
        int rc = mdb_txn_begin(s->env, NULL, 0, &t->txn);
        if (rc == MDB_SUCCESS)
            return DNSBL_OK;
        t->txn = NULL;
        store_gate_leave(&s->loose);
        if (rc != MDB_MAP_RESIZED || resized == STORE_RESIZED_TRIES)
            return store_txn_step(t, rc, "begin write transaction");
        rc = store_remap(s, 0);
        if (rc != MDB_SUCCESS)
            return store_txn_step(t, rc, "adopt the map size another process set");
    }
}

int store_txn_fail(struct store_txn *t, int err, const char *fmt, ...)
{
    if (t->err != DNSBL_OK || err == DNSBL_OK)
        return t->err;
    int n = snprintf(t->why, sizeof t->why, "%s: ", t->s->dir);
    if (n < 0 || (size_t)n >= sizeof t->why)
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->why + n, sizeof t->why - (size_t)n, fmt, ap);
    va_end(ap);
    t->err = err;
    return err;
}

/* A test's fault (store_testing_fail_step): the step that brings the
 * count down to zero fails as the disk would fail it. */
static int store_txn_fault(struct store_txn *t, int rc)
{
    if (rc == MDB_SUCCESS && t->s->fail_step && --t->s->fail_step == 0)
        return EIO;
    return rc;
}

static int store_txn_record(struct store_txn *t, int rc, const char *step)
{
    if (t->err == DNSBL_OK && rc != MDB_SUCCESS)
        t->err = store_lmdb_fail(t->s, rc, step, t->why, sizeof t->why);
    return t->err;
}

int store_txn_step(struct store_txn *t, int rc, const char *step)
{
    if (t->err != DNSBL_OK)
        return t->err;
    return store_txn_record(t, store_txn_fault(t, rc), step);
}

void store_txn_abort(struct store_txn *t)
{
    if (t->txn) {
        mdb_txn_abort(t->txn);
        store_gate_leave(&t->s->loose);
        t->txn = NULL;
    }
}

/* LMDB frees the transaction whether the commit worked or not; a fault
 * injected at the commit aborts it instead, as a failed commit keeps
 * nothing. */
int store_txn_end(struct store_txn *t, char *why, size_t whylen)
{
    if (t->err == DNSBL_OK && t->txn) {
        int rc = store_txn_fault(t, MDB_SUCCESS);
        if (rc == MDB_SUCCESS) {
            rc = mdb_txn_commit(t->txn);
            store_gate_leave(&t->s->loose);
            t->txn = NULL;
        }
        store_txn_record(t, rc, "commit");
    }
    store_txn_abort(t);
    if (t->err != DNSBL_OK)
        store_set_why(why, whylen, "%s", t->why);
    return t->err;
}

/* ---- writing ---- */

/* The batch is checked whole before the transaction begins, so a caller bug
 * never leaves half a batch applied or a write transaction to undo. */
static int store_check_events(const struct store *s, const struct event *ev, size_t n, char *why,
                              size_t whylen)
{
    for (size_t i = 0; i < n; i++) {
        if (!store_prefix_valid(&ev[i].prefix) || ev[i].kind >= EV_KIND_COUNT) {
            store_set_why(why, whylen, "%s: event %zu: bad prefix (family %u, /%u) or kind %u",
                          s->dir, i, ev[i].prefix.family, ev[i].prefix.plen, ev[i].kind);
            return DNSBL_EINVAL;
        }
        /* Time 0 means "unknown" to the model and would file history under
         * 1970-01-01: whoever made the event forgot to date it. */
        if (ev[i].time <= 0 || ev[i].time / MODEL_DAY > (int64_t)UINT32_MAX) {
            store_set_why(why, whylen, "%s: event %zu: time %lld is not a valid event time", s->dir,
                          i, (long long)ev[i].time);
            return DNSBL_EINVAL;
        }
        char refused[160];
        if (model_event_refusal(&ev[i], NULL, refused, sizeof refused) != DNSBL_OK) {
            store_set_why(why, whylen, "%s: event %zu: %s", s->dir, i, refused);
            return DNSBL_EREFUSED;
        }
    }
    return DNSBL_OK;
}

/* Adds one event's evidence to the history record of (key, its day).
 * Events come in entry-key order, so the cursor is usually on the right
 * page already and LMDB skips the descent from the root. */
static int store_history_add(struct store_txn *t, MDB_cursor *cur, const uint8_t key[STORE_KEY_LEN],
                             const struct event *ev)
{
    uint8_t hkey[STORE_HKEY_LEN], hval[STORE_HVAL_LEN];
    uint32_t day = (uint32_t)(ev->time / MODEL_DAY);
    uint8_t before[STORE_HVAL_LEN];
    struct history_day d;
    char text[ADDR_TEXT_MAX];
    unsigned flags = 0;

    store_hkey(key, day, hkey);
    MDB_val k = store_val(hkey, sizeof hkey), v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc == MDB_SUCCESS && k.mv_size == sizeof hkey &&
        memcmp(k.mv_data, hkey, sizeof hkey) == 0) {
        if (store_decode_history(&k, &v, &d) != DNSBL_OK) {
            addr_format(&ev->prefix, text, sizeof text);
            return store_txn_fail(t, DNSBL_ESCHEMA,
                                  "history of %s, day %u: a %zu-byte record, not %d", text, day,
                                  v.mv_size, STORE_HVAL_LEN);
        }
        memcpy(before, v.mv_data, sizeof before);
        flags = MDB_CURRENT;
    } else if (rc == MDB_SUCCESS || rc == MDB_NOTFOUND) {
        memset(&d, 0, sizeof d);
        d.day = day;
    } else {
        return store_txn_step(t, rc, "read history");
    }
    model_history_add(&d, ev);
    store_encode_history(&d, hval);
    k = store_val(hkey, sizeof hkey);
    v = store_val(hval, sizeof hval);
    if (store_txn_step(t, mdb_cursor_put(cur, &k, &v, flags), "write history") != DNSBL_OK)
        return t->err;
    MDB_val was = store_val(before, sizeof before);
    return store_undo_note(t, STORE_UNDO_HISTORY, hkey, sizeof hkey,
                           flags == MDB_CURRENT ? &was : NULL, &v);
}

static int store_bump_serial(struct store_txn *t)
{
    uint64_t serial = 0;
    int err = store_get_u64(t->s, t->txn, "serial", &serial, t->why, sizeof t->why);
    if (err != DNSBL_OK && err != DNSBL_ENOENT)
        return t->err = err;
    return store_txn_step(t, store_put_u64(t->s, t->txn, "serial", serial + 1), "write serial");
}

/* Sort records. The batch is applied in key order, not in the caller's:
 * neighbouring keys share B-tree pages, so the cursors rarely descend from
 * the root, and keys past the database's last one can be appended. Ties
 * keep the caller's order (idx), which is all the model's semantics need:
 * events on one entry still apply in the order given.
 *
 * k holds the sort key: the entries key, or the dedup key. The sort is an LSD radix sort over k's
 * bytes, stable because the records are built in idx order; a byte that is
 * the same in every record costs no pass, so IPv4 /32s take 4 or 5. */
#define STORE_SORT_KEY STORE_KEY_LEN
#define STORE_DEDUP_SORT 8 /* dedup keys are hashes: 8 bytes nearly always tell them apart */
#define STORE_PREFETCH 8   /* events fetched ahead of the one being applied */
_Static_assert(STORE_DEDUP_SORT <= STORE_SORT_KEY && STORE_SORT_KEY <= STORE_DEDUP_LEN,
               "sort keys fit the histograms and the records");

/* A record copies what its pass reads (the whole dedup key, the time), so
 * walking the sorted records never jumps around the caller's memory. */
struct store_rec {
    uint8_t k[STORE_DEDUP_LEN]; /* entries key (18 bytes) or dedup key */
    int64_t time;               /* dedup pass: the event's time */
    uint32_t idx;
};

struct store_scratch {
    struct store_rec *rec, *tmp;
    uint8_t *skip;
    uint32_t (*count)[256]; /* [STORE_SORT_KEY][256] digit histograms */
};

/* Sorts rec[0..n) by k[0..klen); the result is in *rec (tmp swapped in as needed). */
static void store_radix_sort(struct store_scratch *sc, size_t n, size_t klen)
{
    /* Importers sort big inputs before they cut them into batches: a
     * batch already in order (ties in idx order, as built) stays as is. */
    size_t run = 1;
    while (run < n && memcmp(sc->rec[run - 1].k, sc->rec[run].k, klen) <= 0)
        run++;
    if (run >= n)
        return;
    struct radix_sort rs = {.rec = sc->rec,
                            .tmp = sc->tmp,
                            .n = n,
                            .size = sizeof *sc->rec,
                            .key = offsetof(struct store_rec, k),
                            .first = 0,
                            .last = klen,
                            .count = sc->count};
    radix_sort_records(&rs);
    sc->rec = rs.rec;
    sc->tmp = rs.tmp;
}

/* Dedup keys sort on their first STORE_DEDUP_SORT bytes; records sharing
 * those (a repeated key, or a coincidence of hashes) are put in full-key,
 * then idx, order here. Insertion sort: such runs are a handful long. */
static void store_sort_dedup_runs(struct store_rec *rec, size_t n)
{
    for (size_t j = 0; j < n;) {
        size_t end = j + 1;
        while (end < n && memcmp(rec[end].k, rec[j].k, STORE_DEDUP_SORT) == 0)
            end++;
        for (size_t i = j + 1; i < end; i++) {
            struct store_rec r = rec[i];
            size_t at = i;
            while (at > j) {
                int c = memcmp(rec[at - 1].k, r.k, STORE_DEDUP_LEN);
                if (c < 0 || (c == 0 && rec[at - 1].idx < r.idx))
                    break;
                rec[at] = rec[at - 1];
                at--;
            }
            rec[at] = r;
        }
        j = end;
    }
}

/* The last key of a database (copied: it must outlive later writes), or
 * *have = false for an empty one. Keys after it may be appended. */
static int store_last_key(MDB_cursor *cur, uint8_t *buf, size_t len, bool *have)
{
    MDB_val k, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    *have = false;
    if (rc == MDB_NOTFOUND)
        return MDB_SUCCESS;
    if (rc != MDB_SUCCESS)
        return rc;
    /* Every key of these databases is len bytes; were one not, the padding
     * keeps "past it" on the safe side (fewer appends, never a wrong one). */
    memset(buf, 0xff, len);
    memcpy(buf, k.mv_data, k.mv_size < len ? k.mv_size : len);
    *have = true;
    return MDB_SUCCESS;
}

/* Scratch for a batch of n: two record arrays, n skip flags, histograms.
 * Grown, never shrunk, and kept for the next batch. */
static int store_scratch(struct store *s, size_t n, struct store_scratch *sc)
{
    size_t hist = STORE_SORT_KEY * sizeof sc->count[0];
    if (n == 0 || n > (SIZE_MAX - hist) / (2 * sizeof(struct store_rec) + 1))
        return DNSBL_ENOMEM;
    size_t need = hist + n * 2 * sizeof(struct store_rec) + n;
    if (need > s->scratch_cap) {
        void *p = realloc(s->scratch, need);
        if (!p)
            return DNSBL_ENOMEM;
        s->scratch = p;
        s->scratch_cap = need;
    }
    uint8_t *base = s->scratch; /* malloc's alignment suits every part in this order */
    sc->count = (uint32_t(*)[256])(void *)base;
    sc->rec = (struct store_rec *)(void *)(base + hist);
    sc->tmp = sc->rec + n;
    sc->skip = (uint8_t *)(sc->tmp + n);
    return DNSBL_OK;
}

/* Marks skip[i] for each event whose dedup key is already in `seen` or
 * repeats an earlier event's key in this batch; records the new keys. */
static int store_dedup_pass(struct store_txn *t, const struct event *ev,
                            const uint8_t *const *dedup, size_t n, struct store_scratch *sc,
                            size_t *duplicates)
{
    uint8_t last[STORE_DEDUP_LEN], tbuf[8];
    bool have_last;
    MDB_cursor *cur;
    size_t m = 0;

    for (size_t i = 0; i < n; i++) {
        if (!dedup[i])
            continue;
        memcpy(sc->rec[m].k, dedup[i], STORE_DEDUP_LEN);
        sc->rec[m].time = ev[i].time;
        sc->rec[m].idx = (uint32_t)i;
        m++;
    }
    if (m == 0)
        return DNSBL_OK;
    store_radix_sort(sc, m, STORE_DEDUP_SORT);
    store_sort_dedup_runs(sc->rec, m);

    if (store_txn_step(t, mdb_cursor_open(t->txn, t->s->seen, &cur), "open dedup cursor") !=
        DNSBL_OK)
        return t->err;
    int rc = store_last_key(cur, last, sizeof last, &have_last);
    for (size_t j = 0; j < m && rc == MDB_SUCCESS; j++) {
        const struct store_rec *r = &sc->rec[j];
        if (j > 0 && memcmp(r->k, r[-1].k, STORE_DEDUP_LEN) == 0) {
            sc->skip[r->idx] = 1; /* the earliest of equal keys came first */
            (*duplicates)++;
            continue;
        }
        struct wire w;
        wire_init(&w, tbuf, sizeof tbuf);
        wire_put_u64(&w, (uint64_t)r->time);
        MDB_val k = store_val(r->k, STORE_DEDUP_LEN), v = store_val(tbuf, sizeof tbuf);
        bool append = !have_last || memcmp(r->k, last, sizeof last) > 0;
        rc = mdb_cursor_put(cur, &k, &v, append ? MDB_APPEND : MDB_NOOVERWRITE);
        if (rc == MDB_KEYEXIST && !append) {
            sc->skip[r->idx] = 1;
            (*duplicates)++;
            rc = MDB_SUCCESS;
        } else if (rc == MDB_SUCCESS && t->s->import_id) {
            v = store_val(tbuf, sizeof tbuf);
            if (store_undo_note(t, STORE_UNDO_SEEN, r->k, STORE_DEDUP_LEN, NULL, &v) != DNSBL_OK)
                break;
        }
    }
    mdb_cursor_close(cur);
    return store_txn_step(t, rc, "record dedup key");
}

/* The entry pass state: one decoded entry and one value buffer serve the
 * whole batch, so nothing is allocated per event. */
struct store_applier {
    struct store *s;
    struct store_txn *t;
    const struct event *ev;
    MDB_cursor *ecur, *hcur;
    MDB_cursor *vcur;               /* evidence: opened by the first group that has some */
    bool filter_loaded;             /* filter_have says whether the store has a filter */
    bool filter_have, filter_dirty; /* s->filter holds this transaction's */
    bool flat_loaded, flat_have;    /* the store has a flat index: s->dirty tracks it */
    bool dirty_grew;                /* s->dirty gained bits in this transaction */
    size_t flat_changes;            /* entries written in this transaction */
    uint8_t last[STORE_KEY_LEN];    /* entries' last key before the batch */
    bool have_last;
    size_t changed; /* entries written or deleted */
    struct entry e;
    uint8_t val[STORE_ANC6_BYTES + STORE_ENTRY_VALUE_MAX];
    uint8_t old[STORE_ANC6_BYTES + STORE_ENTRY_VALUE_MAX]; /* the value before */
    size_t oldlen;
    uint8_t evval[STORE_EVIDENCE_VALUE_MAX];
};

/* ---- the evidence trail (doc/store-format.md, "evidence") ---- */

/* The time of the newest evidence record of key, 0 when it has none;
 * with *seq the next free sequence number at time `at`. Moves cur. */
static int store_evidence_last(MDB_cursor *cur, const uint8_t key[STORE_KEY_LEN], int64_t at,
                               int64_t *newest, uint32_t *seq)
{
    uint8_t ek[STORE_EKEY_LEN];
    int64_t t;
    uint32_t q;
    MDB_val k, v;

    *seq = 0;
    store_ekey(key, at, UINT32_MAX, ek);
    k = store_val(ek, sizeof ek);
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc == MDB_SUCCESS &&
        memcmp(k.mv_data, ek, k.mv_size < sizeof ek ? k.mv_size : sizeof ek) == 0)
        return MDB_CORRUPTED; /* sequence numbers ran out: not from this code */
    rc = rc == MDB_NOTFOUND  ? mdb_cursor_get(cur, &k, &v, MDB_LAST)
         : rc == MDB_SUCCESS ? mdb_cursor_get(cur, &k, &v, MDB_PREV)
                             : rc;
    if (rc == MDB_NOTFOUND)
        return MDB_SUCCESS;
    if (rc != MDB_SUCCESS)
        return rc;
    if (k.mv_size < STORE_KEY_LEN || memcmp(k.mv_data, key, STORE_KEY_LEN) != 0)
        return MDB_SUCCESS; /* no record of this entry at or before `at` */
    if (store_ekey_decode(&k, &t, &q) != DNSBL_OK)
        return MDB_CORRUPTED;
    if (t == at)
        *seq = q + 1;
    if (t > *newest)
        *newest = t;
    return MDB_SUCCESS;
}

/* Drops key's records older than cutoff, then all but the newest max.
 * One entry's records are adjacent and oldest first. */
/* Deletes the record at cur, noting it for the open import's undo. A
 * failure of the note is t's; MDB_SUCCESS then, as the caller's step is
 * a no-op after it. */
static int store_del_noted(struct store_txn *t, MDB_cursor *cur, uint8_t db)
{
    if (!t->s->import_id)
        return mdb_cursor_del(cur, 0);
    uint8_t kbuf[STORE_UKEY_MAX], vbuf[STORE_EVIDENCE_VALUE_MAX + STORE_OVAL_MAX];
    MDB_val k, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
    if (rc != MDB_SUCCESS)
        return rc;
    if (k.mv_size > sizeof kbuf || v.mv_size > sizeof vbuf)
        return MDB_CORRUPTED;
    /* Copied first: the pages they point into change with the delete. */
    memcpy(kbuf, k.mv_data, k.mv_size);
    memcpy(vbuf, v.mv_data, v.mv_size);
    k.mv_data = kbuf;
    v.mv_data = vbuf;
    rc = mdb_cursor_del(cur, 0);
    if (rc == MDB_SUCCESS)
        store_undo_note(t, db, kbuf, k.mv_size, &v, NULL);
    return rc;
}

static int store_evidence_prune(struct store_txn *t, MDB_cursor *cur,
                                const uint8_t key[STORE_KEY_LEN], int64_t cutoff, size_t max)
{
    uint8_t ek[STORE_EKEY_LEN];
    size_t kept = 0;
    int64_t when;
    uint32_t q;
    MDB_val k, v;
    int rc;

    store_ekey(key, 0, 0, ek);
    k = store_val(ek, sizeof ek);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < STORE_KEY_LEN || memcmp(k.mv_data, key, STORE_KEY_LEN) != 0)
            break;
        if (store_ekey_decode(&k, &when, &q) != DNSBL_OK)
            return MDB_CORRUPTED;
        if (when >= cutoff) {
            kept++;
            continue;
        }
        /* After a delete the cursor is on the next record, which
         * MDB_NEXT then returns. */
        rc = store_del_noted(t, cur, STORE_UNDO_EVIDENCE);
        if (rc != MDB_SUCCESS)
            return rc;
    }
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
        return rc;
    if (kept <= max)
        return MDB_SUCCESS;
    size_t drop = kept - max;
    k = store_val(ek, sizeof ek);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == MDB_SUCCESS && drop > 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), drop--) {
        rc = store_del_noted(t, cur, STORE_UNDO_EVIDENCE);
        if (rc != MDB_SUCCESS)
            return rc;
    }
    return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
}

/* The evidence records of one group's events (those of
 * model_event_has_evidence), then the entry's pruning: records older than
 * its newest minus the retention go (a record that old is not written),
 * and all but the newest evidence_max. */
static int store_evidence_group(struct store_applier *a, const uint8_t key[STORE_KEY_LEN],
                                const struct store_rec *rec, size_t m,
                                const struct addr_prefix *prefix)
{
    struct store_txn *t = a->t;
    int64_t newest = 0;
    uint32_t seq;
    size_t any = 0;

    for (size_t j = 0; j < m; j++) {
        const struct event *ev = &a->ev[rec[j].idx];
        if (model_event_has_evidence(ev)) {
            any++;
            if (ev->time > newest)
                newest = ev->time;
        }
    }
    if (any == 0 || !store_txn_ok(t))
        return t->err;
    if (!a->vcur && store_txn_step(t, mdb_cursor_open(t->txn, a->s->evidence, &a->vcur),
                                   "open evidence cursor") != DNSBL_OK)
        return t->err;
    if (store_txn_step(t, store_evidence_last(a->vcur, key, INT64_MAX, &newest, &seq),
                       "read evidence") != DNSBL_OK)
        return t->err;
    int64_t keep = (int64_t)a->s->opt.evidence_days * MODEL_DAY;
    int64_t cutoff = newest > keep ? newest - keep : 0;
    for (size_t j = 0; j < m && store_txn_ok(t); j++) {
        struct event one = a->ev[rec[j].idx];
        if (!model_event_has_evidence(&one) || one.time < cutoff)
            continue;
        one.prefix = *prefix;
        if (!one.import_id)
            one.import_id = a->s->import_id; /* so undo can tell its records */
        int64_t ignored = 0;
        if (store_txn_step(t, store_evidence_last(a->vcur, key, one.time, &ignored, &seq),
                           "read evidence") != DNSBL_OK)
            break;
        size_t len;
        int err = store_encode_evidence(&one, a->evval, sizeof a->evval, &len);
        if (err != DNSBL_OK) {
            char text[ADDR_TEXT_MAX];
            addr_format(prefix, text, sizeof text);
            return store_txn_fail(t, err, "encode evidence of %s: %s", text, dnsbl_strerror(err));
        }
        uint8_t ek[STORE_EKEY_LEN];
        store_ekey(key, one.time, seq, ek);
        MDB_val k = store_val(ek, sizeof ek), v = store_val(a->evval, len);
        if (store_txn_step(t, mdb_cursor_put(a->vcur, &k, &v, 0), "write evidence") == DNSBL_OK)
            store_undo_note(t, STORE_UNDO_EVIDENCE, ek, sizeof ek, NULL, &v);
    }
    if (store_txn_ok(t))
        store_txn_step(t, store_evidence_prune(t, a->vcur, key, cutoff, a->s->opt.evidence_max),
                       "prune evidence");
    return t->err;
}

/* The ancestors bitmap of a new entry, packed into bytes: the lengths of
 * the entries that contain it. Moves cur. */
static int store_anc_of_new(MDB_cursor *cur, const uint8_t key[STORE_KEY_LEN], uint8_t *bytes)
{
    struct store_lens lens = {{0, 0, 0}};
    MDB_val found, val;
    if (key[17] > 0) {
        uint8_t below[STORE_KEY_LEN];
        memcpy(below, key, STORE_KEY_LEN);
        below[17]--; /* the greatest key an ancestor may have */
        int rc = store_lookup_covering(cur, below, &lens, &found, &val);
        if (rc != MDB_SUCCESS)
            return rc;
    }
    store_lens_pack(&lens, bytes, store_anc_size(key[0]));
    return MDB_SUCCESS;
}

/* A new entry, just written at cur, is an ancestor of the entries inside
 * it, which sort right after it: add its length to their bitmaps. buf
 * has room for any value. */
static int store_anc_add_below(MDB_cursor *cur, const uint8_t key[STORE_KEY_LEN], uint8_t *buf)
{
    struct store_lens lens;
    MDB_val k, v;
    size_t an = store_anc_size(key[0]);
    int rc;
    if (key[17] == store_family_bits(key[0]))
        return MDB_SUCCESS; /* a full address contains nothing else */
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != STORE_KEY_LEN || !store_key_contains(key, k.mv_data))
            break;
        if (v.mv_size < an || v.mv_size > an + STORE_ENTRY_VALUE_MAX)
            return MDB_CORRUPTED;
        memcpy(buf, v.mv_data, v.mv_size);
        store_lens_unpack(buf, an, &lens);
        store_lens_add(&lens, key[17]);
        store_lens_pack(&lens, buf, an);
        uint8_t inner[STORE_KEY_LEN]; /* k points into the page */
        memcpy(inner, k.mv_data, sizeof inner);
        MDB_val nk = store_val(inner, sizeof inner), nv = store_val(buf, v.mv_size);
        rc = mdb_cursor_put(cur, &nk, &nv, MDB_CURRENT);
        if (rc != MDB_SUCCESS)
            return rc;
    }
    return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
}

/* The entries inside a deleted one, which sort right after it, lose its
 * length from their ancestors (doc/store-format.md "The ancestors
 * bitmap"). Moves cur. */
static int store_anc_del_below(MDB_cursor *cur, const uint8_t key[STORE_KEY_LEN], uint8_t *buf)
{
    struct store_lens lens;
    size_t an = store_anc_size(key[0]);
    uint8_t start[STORE_KEY_LEN];
    memcpy(start, key, sizeof start);
    MDB_val k = store_val(start, sizeof start), v;
    int rc;
    if (key[17] == store_family_bits(key[0]))
        return MDB_SUCCESS;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != STORE_KEY_LEN || !store_key_contains(key, k.mv_data))
            break;
        if (v.mv_size < an || v.mv_size > an + STORE_ENTRY_VALUE_MAX)
            return MDB_CORRUPTED;
        memcpy(buf, v.mv_data, v.mv_size);
        store_lens_unpack(buf, an, &lens);
        lens.w[key[17] / 64] &= ~((uint64_t)1 << (63 - key[17] % 64));
        store_lens_pack(&lens, buf, an);
        uint8_t inner[STORE_KEY_LEN];
        memcpy(inner, k.mv_data, sizeof inner);
        MDB_val nk = store_val(inner, sizeof inner), nv = store_val(buf, v.mv_size);
        rc = mdb_cursor_put(cur, &nk, &nv, MDB_CURRENT);
        if (rc != MDB_SUCCESS)
            return rc;
    }
    return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
}

/* Deletes every record of db whose key starts with the entries key. */
static int store_del_keyed(struct store_txn *t, MDB_cursor *cur, const uint8_t key[STORE_KEY_LEN],
                           uint8_t db)
{
    for (;;) {
        MDB_val k = store_val(key, STORE_KEY_LEN), v;
        int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (rc == MDB_NOTFOUND)
            return MDB_SUCCESS;
        if (rc != MDB_SUCCESS)
            return rc;
        if (k.mv_size < STORE_KEY_LEN || memcmp(k.mv_data, key, STORE_KEY_LEN) != 0)
            return MDB_SUCCESS;
        rc = store_del_noted(t, cur, db);
        if (rc != MDB_SUCCESS || !store_txn_ok(t))
            return rc;
    }
}

/* An entry that holds nothing any more leaves the store: its record, its
 * length from the entries inside it, its history and evidence. The filter keeps its
 * bits (a superset stays right); the caller marked it for the flat index.
 * ecur is on the entry. */
static int store_entry_delete(struct store_applier *a, const uint8_t key[STORE_KEY_LEN])
{
    struct store_txn *t = a->t;
    uint8_t k[STORE_KEY_LEN];
    memcpy(k, key, sizeof k); /* key may point into the sort scratch, never the map; be sure */
    if (store_txn_ok(t))
        store_txn_step(t, mdb_cursor_del(a->ecur, 0), "delete entry");
    if (store_txn_ok(t))
        store_txn_step(t, store_anc_del_below(a->ecur, k, a->val),
                       "update the entries inside a deleted one");
    if (store_txn_ok(t))
        store_txn_step(t, store_del_keyed(t, a->hcur, k, STORE_UNDO_HISTORY), "delete history");
    /* Its evidence goes with it; the operator history stays, the record
     * of what was done to it. */
    if (store_txn_ok(t) && !a->vcur)
        store_txn_step(t, mdb_cursor_open(t->txn, a->s->evidence, &a->vcur),
                       "open evidence cursor");
    if (store_txn_ok(t))
        store_txn_step(t, store_del_keyed(t, a->vcur, k, STORE_UNDO_EVIDENCE), "delete evidence");
    return t->err;
}

/* A write's marks: a fresh entry's bit in the filter, and for any entry
 * the flat index's changed mark (the index no longer answers for its
 * addresses) and count. */
static void store_applier_mark(struct store_applier *a, const uint8_t key[STORE_KEY_LEN],
                               bool fresh)
{
    struct store *s = a->s;
    struct store_txn *t = a->t;
    if (fresh && store_txn_ok(t) && !a->filter_loaded) {
        store_txn_step(t, store_filter_load(s, t->txn, &a->filter_have), "read the filter");
        a->filter_loaded = true;
    }
    if (fresh && store_txn_ok(t) && a->filter_have) {
        store_filter_add(s->filter, s->filter + STORE_F4_BYTES, key);
        a->filter_dirty = true;
    }
    if (store_txn_ok(t) && !a->flat_loaded) {
        store_txn_step(t, store_dirty_load(s, t->txn, &a->flat_have, &a->dirty_grew),
                       "read what changed since the flat index");
        a->flat_loaded = true;
    }
    if (store_txn_ok(t) && a->flat_have) {
        if (!store_dirty_has(s->dirty, key)) {
            store_filter_add(s->dirty, s->dirty + STORE_F4_BYTES, key);
            a->dirty_grew = true;
        }
        a->flat_changes++;
    }
}

/* Applies the events rec[0..m), all on one entry, in the caller's order:
 * one load, one store, a history update per event that has one. */
static int store_apply_group(struct store_applier *a, const struct store_rec *rec, size_t m)
{
    struct store *s = a->s;
    struct store_txn *t = a->t;
    const uint8_t *key = rec[0].k;
    char text[ADDR_TEXT_MAX];
    unsigned flags;
    MDB_val k, v;
    int rc, err;

    struct addr_prefix prefix = a->ev[rec[0].idx].prefix;
    addr_mask(&prefix);
    if (a->have_last && memcmp(key, a->last, STORE_KEY_LEN) <= 0) {
        k = store_val(key, STORE_KEY_LEN);
        rc = mdb_cursor_get(a->ecur, &k, &v, MDB_SET_RANGE);
        if (rc == MDB_SUCCESS && k.mv_size == STORE_KEY_LEN &&
            memcmp(k.mv_data, key, STORE_KEY_LEN) == 0) {
            MDB_val ent;
            err = store_value_entry(&v, prefix.family, &ent)
                      ? store_decode_into(ent.mv_data, ent.mv_size, &a->e)
                      : DNSBL_ESCHEMA;
            if (err != DNSBL_OK) {
                addr_format(&prefix, text, sizeof text);
                return store_txn_fail(t, err, "read entry %s: %s", text, dnsbl_strerror(err));
            }
            memcpy(a->val, v.mv_data, store_anc_size(prefix.family)); /* it keeps its ancestors */
            a->oldlen = v.mv_size <= sizeof a->old ? v.mv_size : 0;
            memcpy(a->old, v.mv_data, a->oldlen);
            flags = MDB_CURRENT;
        } else if (rc == MDB_SUCCESS || rc == MDB_NOTFOUND) {
            memset(&a->e, 0, sizeof a->e);
            flags = 0;
        } else {
            return store_txn_step(t, rc, "read entry");
        }
    } else {
        /* Past every key the database held: new, and in order. */
        memset(&a->e, 0, sizeof a->e);
        flags = MDB_APPEND;
    }

    for (size_t j = 0; j < m && store_txn_ok(t); j++) {
        struct event one = a->ev[rec[j].idx];
        one.prefix = prefix;
        a->e.prefix = prefix;
        if (!model_apply_event(&a->e, &one)) {
            addr_format(&prefix, text, sizeof text);
            return store_txn_fail(t, DNSBL_EINVAL,
                                  "%s: more than %d datasets list or exclude it (dataset %s)", text,
                                  ENTRY_PARTS_MAX, one.dataset ? one.dataset : "");
        }
        if (model_event_has_history(&one))
            store_history_add(t, a->hcur, key, &one);
        /* operator events: who, when, what, why; the record is a change
         * even when the entry comes out as it was */
        bool removal =
            one.kind == EV_REMOVE || one.kind == EV_OPERATOR_CLEAR || one.kind == EV_IMPORT_REMOVE;
        if (removal && flags != MDB_CURRENT)
            continue; /* nothing there to remove, nothing to record */
        if (store_oplog_event(t, key, &one) == DNSBL_OK && store_oplog_kind(&one))
            a->changed++;
    }
    a->e.prefix = prefix;
    store_evidence_group(a, key, rec, m, &prefix);

    /* An entry that holds nothing more is deleted (or, new, never
     * written); one that comes out as it was is left alone, so an
     * unchanged list re-imports without a write. */
    size_t len = 0, an = store_anc_size(prefix.family);
    bool holds = model_entry_holds(&a->e);
    if (!store_txn_ok(t))
        return t->err;
    if (flags != MDB_CURRENT && !holds) {
        /* Never written (a new entry a removal emptied): the history and
         * evidence its earlier events wrote go too, as with a deletion. */
        store_txn_step(t, store_del_keyed(t, a->hcur, key, STORE_UNDO_HISTORY), "delete history");
        if (store_txn_ok(t) && a->vcur)
            store_txn_step(t, store_del_keyed(t, a->vcur, key, STORE_UNDO_EVIDENCE),
                           "delete evidence");
        return t->err;
    }
    if (holds) {
        err = store_encode_entry(&a->e, a->val + an, sizeof a->val - an, &len);
        if (err != DNSBL_OK)
            return store_txn_fail(t, err, "encode entry: %s", dnsbl_strerror(err));
        if (flags == MDB_CURRENT && a->oldlen == an + len && memcmp(a->old, a->val, an + len) == 0)
            return t->err;
    }
    if (flags != MDB_CURRENT)
        store_txn_step(t, store_anc_of_new(a->ecur, key, a->val),
                       "read the entries containing a new one");
    store_applier_mark(a, key, flags != MDB_CURRENT);
    if (!store_txn_ok(t))
        return t->err;
    a->changed++;
    if (s->import_id) {
        MDB_val was = store_val(a->old + an, a->oldlen > an ? a->oldlen - an : 0);
        MDB_val now = store_val(a->val + an, len);
        if (store_undo_note(t, STORE_UNDO_ENTRIES, key, STORE_KEY_LEN,
                            flags == MDB_CURRENT ? &was : NULL, holds ? &now : NULL) != DNSBL_OK)
            return t->err;
    }
    k = store_val(key, STORE_KEY_LEN);
    v = store_val(a->val, an + len);
    if (flags == MDB_CURRENT) {
        /* store_history_add moved no entries cursor, but be explicit:
         * MDB_CURRENT writes where the cursor is. */
        MDB_val ck = k, cv;
        rc = mdb_cursor_get(a->ecur, &ck, &cv, MDB_GET_CURRENT);
        if (rc == MDB_SUCCESS && store_cmp_key(&ck, &k) != 0)
            rc = MDB_CORRUPTED;
        store_txn_step(t, rc, "write entry");
    }
    if (!holds)
        return store_entry_delete(a, key);
    if (store_txn_ok(t))
        store_txn_step(t, mdb_cursor_put(a->ecur, &k, &v, flags), "write entry");
    /* Not after MDB_APPEND: an appended entry sorts after every other, so
     * nothing is inside it. */
    if (store_txn_ok(t) && flags == 0)
        store_txn_step(t, store_anc_add_below(a->ecur, key, a->val),
                       "update the entries inside a new one");
    return t->err;
}

static int store_entry_pass(struct store_applier *a, size_t n, struct store_scratch *sc,
                            size_t *applied)
{
    struct store *s = a->s;
    struct store_txn *t = a->t;
    size_t m = 0;

    for (size_t i = 0; i < n; i++) {
        if (sc->skip[i])
            continue;
        struct addr_prefix p = a->ev[i].prefix;
        addr_mask(&p);
        store_key_from_prefix(&p, sc->rec[m].k);
        sc->rec[m].idx = (uint32_t)i;
        m++;
    }
    if (m == 0 || !store_txn_ok(t))
        return t->err;
    store_radix_sort(sc, m, STORE_KEY_LEN);

    if (store_txn_step(t, mdb_cursor_open(t->txn, s->entries, &a->ecur), "open entries cursor") !=
        DNSBL_OK)
        return t->err;
    if (store_txn_step(t, mdb_cursor_open(t->txn, s->history, &a->hcur), "open history cursor") !=
        DNSBL_OK) {
        mdb_cursor_close(a->ecur);
        return t->err;
    }
    store_txn_step(t, store_last_key(a->ecur, a->last, sizeof a->last, &a->have_last),
                   "read entries");
    for (size_t j = 0; j < m && store_txn_ok(t);) {
        size_t end = j + 1;
        while (end < m && memcmp(sc->rec[end].k, sc->rec[j].k, STORE_KEY_LEN) == 0)
            end++;
        /* Sorted, the events are read out of the caller's order: ask for
         * the next ones early rather than wait on each cache miss. */
        if (end + STORE_PREFETCH < m) {
            const char *next = (const char *)&a->ev[sc->rec[end + STORE_PREFETCH].idx];
            __builtin_prefetch(next);
            __builtin_prefetch(next + sizeof *a->ev - 1);
        }
        store_apply_group(a, sc->rec + j, end - j);
        *applied += end - j;
        j = end;
    }
    if (a->vcur)
        mdb_cursor_close(a->vcur);
    a->vcur = NULL;
    mdb_cursor_close(a->hcur);
    mdb_cursor_close(a->ecur);
    return t->err;
}

/* One try at a batch: STORE_EMAPFULL when the map filled up (nothing
 * was written; the caller may grow the map and try again). Every step
 * goes through the transaction's sticky error, so the first failure
 * stops the rest and aborts the whole batch. */
/* ---- sync: a dataset made the whole truth of an input ---- */

/* An input's word on one prefix: its entries key and dataset id. */
struct store_skey {
    uint8_t k[STORE_KEY_LEN];
    uint32_t id;
};

static int store_skey_cmp(const void *x, const void *y)
{
    const struct store_skey *a = x, *b = y;
    int c = memcmp(a->k, b->k, STORE_KEY_LEN);
    return c ? c : (a->id > b->id) - (a->id < b->id);
}

struct store_sync_spec {
    const char *const *names; /* the datasets synced, and their ids */
    const uint32_t *ids;
    size_t nids;
    const struct store_skey *have; /* the input, sorted */
    size_t nhave;
    int64_t now;
    double max_share;
    bool force;
    struct store_sync_stats *st;
    struct event *rm; /* the removals the sweep found, owned here */
    size_t nrm, rmcap;
    struct event **evs; /* the input's events, owned by store_apply_sync; the removals are
                           appended (realloc: big blocks grow in place, no copy) */
};

static int store_sync_index(const struct store_sync_spec *y, uint32_t id)
{
    for (size_t i = 0; i < y->nids; i++)
        if (y->ids[i] == id)
            return (int)i;
    return -1;
}

/* Every part of a synced dataset the input does not hold becomes a
 * removal; counts what the datasets held. Reads the whole entries table
 * in the write transaction, so the removals are of the data it commits
 * over. */
static int store_sync_sweep(struct store_txn *t, struct store_sync_spec *y)
{
    MDB_cursor *cur;
    MDB_val k, v, ent;
    struct entry e;
    struct addr_prefix p;
    if (store_txn_step(t, mdb_cursor_open(t->txn, t->s->entries, &cur), "open entries cursor") !=
        DNSBL_OK)
        return t->err;
    int rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (store_prefix_from_key(&k, &p) != DNSBL_OK || !store_value_entry(&v, p.family, &ent) ||
            store_decode_entry_part(ent.mv_data, ent.mv_size, &e, true) != DNSBL_OK) {
            rc = MDB_CORRUPTED;
            break;
        }
        for (unsigned i = 0; i < e.nparts; i++) {
            int at = store_sync_index(y, e.parts[i].dataset);
            if (at < 0)
                continue;
            y->st->before++;
            struct store_skey want;
            memcpy(want.k, k.mv_data, STORE_KEY_LEN);
            want.id = e.parts[i].dataset;
            if (bsearch(&want, y->have, y->nhave, sizeof *y->have, store_skey_cmp))
                continue;
            if (y->nrm == y->rmcap) {
                size_t cap = y->rmcap ? 2 * y->rmcap : 1024;
                struct event *grown = realloc(y->rm, cap * sizeof *grown);
                if (!grown) {
                    mdb_cursor_close(cur);
                    return store_txn_fail(t, DNSBL_ENOMEM, "out of memory for the removals");
                }
                y->rm = grown;
                y->rmcap = cap;
            }
            y->rm[y->nrm++] = (struct event){
                .prefix = p, .kind = EV_IMPORT_REMOVE, .time = y->now, .dataset = y->names[at]};
        }
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return store_txn_step(t, rc, "read the entries to sync");
    y->st->removed = y->nrm;
    /* An empty or cut download must not delist the world (README "Sync"). */
    if (!y->force && y->st->before > 0 && (double)y->nrm > y->max_share * (double)y->st->before)
        return store_txn_fail(t, DNSBL_EREFUSED,
                              "the sync would remove %zu of the %zu entries of its datasets "
                              "(%.1f%%), more than %.0f%%: check the input, or use --force",
                              y->nrm, y->st->before, 100.0 * (double)y->nrm / (double)y->st->before,
                              100.0 * y->max_share);
    return t->err;
}

static int store_apply_once(struct store *s, const struct event *ev, const uint8_t *const *dedup,
                            size_t n, struct store_sync_spec *sync,
                            const struct store_meta_put *meta, struct store_apply_stats *st,
                            char *why, size_t whylen)
{
    struct store_applier app = {.s = s, .ev = ev}, *a = &app;
    struct store_scratch sc = {0};
    struct store_txn t;

    st->applied = st->duplicates = st->changed = 0;
    a->t = &t;
    if (store_txn_begin(s, &t) == DNSBL_OK && sync) {
        /* The input's events and the sweep's removals: one transaction,
         * so readers see the old set or the new one. */
        sync->nrm = 0;
        sync->st->before = sync->st->removed = 0;
        store_sync_sweep(&t, sync);
        if (store_txn_ok(&t) && sync->nrm) {
            struct event *grown = realloc(*sync->evs, (n + sync->nrm) * sizeof *grown);
            if (!grown) {
                store_txn_fail(&t, DNSBL_ENOMEM, "out of memory for a sync of %zu events",
                               n + sync->nrm);
            } else {
                *sync->evs = grown;
                memcpy(grown + n, sync->rm, sync->nrm * sizeof *grown);
                n += sync->nrm;
                a->ev = ev = grown;
            }
        }
    }
    /* n == 0: a sync that removes nothing, or only a meta record. */
    if (n && store_txn_ok(&t) && store_scratch(s, n, &sc) != DNSBL_OK)
        store_txn_fail(&t, DNSBL_ENOMEM, "out of memory for a batch of %zu events", n);
    if (n && store_txn_ok(&t)) {
        memset(sc.skip, 0, n);
        if (dedup)
            store_dedup_pass(&t, ev, dedup, n, &sc, &st->duplicates);
        store_entry_pass(a, n, &sc, &st->applied);
    }
    st->changed = a->changed;
    /* A sync is recorded as one in its datasets' records, in its own
     * transaction, even when it changed nothing (the serial stays). */
    for (size_t i = 0; sync && store_txn_ok(&t) && i < sync->nids; i++) {
        struct dataset_note note = {.kind = DATASET_LIST, .last_sync = sync->now};
        snprintf(note.name, sizeof note.name, "%s", sync->names[i]);
        if (note.name[0])
            store_dataset_note_txn(&t, &note);
    }
    /* A caller's meta record goes with the batch (store_apply_meta). */
    if (meta && store_txn_ok(&t)) {
        MDB_val mk = store_meta_key(meta->name), mv = store_val(meta->val, meta->len);
        store_txn_step(&t, mdb_put(t.txn, s->meta, &mk, &mv, 0), "write a meta record");
    }
    if ((sync || meta) && store_txn_ok(&t) && (st->applied == 0 || a->changed == 0))
        return store_txn_end(&t, why, whylen);
    if (store_txn_ok(&t) && (st->applied == 0 || a->changed == 0)) {
        /* Nothing changed (all duplicates, or what the store held already):
         * keep the serial, write nothing. */
        store_txn_abort(&t);
        return DNSBL_OK;
    }
    if (store_txn_ok(&t) && a->filter_loaded) {
        if (a->filter_dirty)
            store_txn_step(&t, store_filter_put(s, t.txn, s->filter, s->filter + STORE_F4_BYTES),
                           "write the filter");
        else if (!a->filter_have)
            store_txn_step(&t, store_filter_create(s, t.txn), "write the filter");
    }
    if (store_txn_ok(&t) && a->flat_have)
        store_txn_step(&t, store_dirty_put(s, t.txn, a->dirty_grew, a->flat_changes),
                       "record what changed since the flat index");
    if (store_txn_ok(&t))
        store_bump_serial(&t);
    return store_txn_end(&t, why, whylen);
}

struct store_apply_args {
    const struct event *ev;
    const uint8_t *const *dedup;
    size_t n;
    struct store_apply_stats st;
    struct store_sync_spec *sync;
    const struct store_meta_put *meta;
};

static int store_apply_try(struct store *s, void *arg, char *why, size_t whylen)
{
    struct store_apply_args *a = arg;
    /* A sync's events may have moved with its removals (store_sync_spec). */
    const struct event *ev = a->sync ? *a->sync->evs : a->ev;
    return store_apply_once(s, ev, a->dedup, a->n, a->sync, a->meta, &a->st, why, whylen);
}

int store_apply(struct store *s, const struct event *ev, const uint8_t *const *dedup, size_t n,
                struct store_apply_stats *stats, char *why, size_t whylen)
{
    return store_apply_meta(s, ev, dedup, n, NULL, stats, why, whylen);
}

int store_apply_meta(struct store *s, const struct event *ev, const uint8_t *const *dedup, size_t n,
                     const struct store_meta_put *meta, struct store_apply_stats *stats, char *why,
                     size_t whylen)
{
    struct store_apply_stats st = {0, 0, 0};

    if (stats)
        *stats = st;
    if (s->flags & STORE_RDONLY) {
        store_set_why(why, whylen, "%s: the store is open read-only", s->dir);
        return DNSBL_EINVAL;
    }
    if (n > UINT32_MAX) {
        store_set_why(why, whylen, "%s: %zu events in one batch, at most %u", s->dir, n,
                      UINT32_MAX);
        return DNSBL_EINVAL;
    }
    int err = store_check_events(s, ev, n, why, whylen);
    if (err != DNSBL_OK || (n == 0 && !meta))
        return err;
    /* The batch is all or nothing, so after a full map it runs again whole. */
    struct store_apply_args args = {.ev = ev, .dedup = dedup, .n = n, .st = st, .meta = meta};
    err = store_write_growing(s, store_apply_try, &args, why, whylen);
    if (err != DNSBL_OK)
        return store_public_err(err);
    if (stats)
        *stats = args.st;
    return DNSBL_OK;
}

/* ---- an entry written outside a batch (store_undo) ---- */

struct store_applier *store_applier_open(struct store_txn *t)
{
    struct store_applier *a = calloc(1, sizeof *a);
    if (!a) {
        store_txn_fail(t, DNSBL_ENOMEM, "out of memory");
        return NULL;
    }
    a->s = t->s;
    a->t = t;
    if (store_txn_step(t, mdb_cursor_open(t->txn, t->s->entries, &a->ecur),
                       "open entries cursor") == DNSBL_OK &&
        store_txn_step(t, mdb_cursor_open(t->txn, t->s->history, &a->hcur),
                       "open history cursor") == DNSBL_OK)
        store_txn_step(t, mdb_cursor_open(t->txn, t->s->evidence, &a->vcur),
                       "open evidence cursor");
    return a;
}

int store_applier_put_entry(struct store_applier *a, const uint8_t key[STORE_KEY_LEN],
                            const void *val, size_t len)
{
    struct store_txn *t = a->t;
    size_t an = store_anc_size(key[0]);
    uint8_t k0[STORE_KEY_LEN];
    memcpy(k0, key, sizeof k0);
    if (!store_txn_ok(t))
        return t->err;
    if (val && len > STORE_ENTRY_VALUE_MAX)
        return store_txn_fail(t, DNSBL_ESCHEMA, "an entry value of %zu bytes", len);
    MDB_val k = store_val(k0, sizeof k0), v;
    int rc = mdb_cursor_get(a->ecur, &k, &v, MDB_SET_KEY);
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
        return store_txn_step(t, rc, "read entry");
    bool have = rc == MDB_SUCCESS;
    if (!have && !val)
        return t->err;
    if (have && v.mv_size < an)
        return store_txn_fail(t, DNSBL_ESCHEMA, "an entry value of %zu bytes", v.mv_size);
    store_applier_mark(a, k0, !have);
    if (!store_txn_ok(t))
        return t->err;
    a->changed++;
    if (!val) {
        /* the mark moved no entries cursor; store_entry_delete deletes at it */
        MDB_val ck = k, cv;
        store_txn_step(t, mdb_cursor_get(a->ecur, &ck, &cv, MDB_SET_KEY), "read entry");
        return store_entry_delete(a, k0);
    }
    if (have) {
        memcpy(a->val, v.mv_data, an); /* it keeps its ancestors */
        memcpy(a->val + an, val, len);
        k = store_val(k0, sizeof k0);
        v = store_val(a->val, an + len);
        return store_txn_step(t, mdb_put(t->txn, a->s->entries, &k, &v, 0), "write entry");
    }
    if (store_txn_step(t, store_anc_of_new(a->ecur, k0, a->val),
                       "read the entries containing a new one") != DNSBL_OK)
        return t->err;
    memcpy(a->val + an, val, len);
    k = store_val(k0, sizeof k0);
    v = store_val(a->val, an + len);
    if (store_txn_step(t, mdb_cursor_put(a->ecur, &k, &v, 0), "write entry") == DNSBL_OK)
        store_txn_step(t, store_anc_add_below(a->ecur, k0, a->val),
                       "update the entries inside a new one");
    return t->err;
}

int store_applier_close(struct store_applier *a)
{
    if (!a)
        return DNSBL_ENOMEM;
    struct store *s = a->s;
    struct store_txn *t = a->t;
    if (store_txn_ok(t) && a->filter_loaded) {
        if (a->filter_dirty)
            store_txn_step(t, store_filter_put(s, t->txn, s->filter, s->filter + STORE_F4_BYTES),
                           "write the filter");
        else if (!a->filter_have)
            store_txn_step(t, store_filter_create(s, t->txn), "write the filter");
    }
    if (store_txn_ok(t) && a->flat_have)
        store_txn_step(t, store_dirty_put(s, t->txn, a->dirty_grew, a->flat_changes),
                       "record what changed since the flat index");
    if (a->vcur)
        mdb_cursor_close(a->vcur);
    if (a->hcur)
        mdb_cursor_close(a->hcur);
    if (a->ecur)
        mdb_cursor_close(a->ecur);
    free(a);
    return t->err;
}

/* ---- keyless state, sorted by the store ---- */

/* A sort record of store_apply_sorted: the entries key and the event's
 * index; 24 bytes, so a big list sorts in a few hundred MB. */
struct store_krec {
    uint8_t k[STORE_KEY_LEN];
    uint32_t idx;
};

/* Stable sort of rec[0..n) by the entries key; the result is in *rec. A
 * family's records share its byte and IPv4's their mapped prefix, which
 * cost no pass. */
static void store_sort_keys(struct store_krec **rec, struct store_krec **tmp, size_t n)
{
    uint32_t count[STORE_KEY_LEN][256];
    struct radix_sort rs = {.rec = *rec,
                            .tmp = *tmp,
                            .n = n,
                            .size = sizeof **rec,
                            .key = offsetof(struct store_krec, k),
                            .first = 0,
                            .last = STORE_KEY_LEN,
                            .count = count};
    radix_sort_records(&rs);
    *rec = rs.rec;
    *tmp = rs.tmp;
}

/* rec[0..n) in key order: the IPv4 records and the IPv6 ones sorted
 * apart (each family's constant bytes then cost no pass), IPv4 first as
 * in the store. The result is in rec. */
static void store_sort_families(struct store_krec *rec, struct store_krec *tmp, size_t n)
{
    size_t n4 = 0, n6 = n;
    for (size_t i = 0; i < n; i++) {
        if (rec[i].k[0] == ADDR_V4)
            tmp[n4++] = rec[i];
        else
            tmp[--n6] = rec[i];
    }
    /* The IPv6 records went in back to front: turn them round so the sort
     * stays stable. */
    memcpy(rec, tmp, n4 * sizeof *rec);
    for (size_t i = n6; i < n; i++)
        rec[i] = tmp[n - 1 - (i - n6)];
    struct store_krec *r4 = rec, *t4 = tmp;
    store_sort_keys(&r4, &t4, n4);
    if (r4 != rec)
        memcpy(rec, r4, n4 * sizeof *rec);
    struct store_krec *r6 = rec + n4, *t6 = tmp + n4;
    store_sort_keys(&r6, &t6, n - n4);
    if (r6 != rec + n4)
        memcpy(rec + n4, r6, (n - n4) * sizeof *rec);
}

int store_apply_sorted(struct store *s, size_t n,
                       void (*event_at)(void *arg, size_t i, struct event *ev), void *arg,
                       size_t per_txn, struct store_apply_stats *stats, char *why, size_t whylen)
{
    struct store_apply_stats total = {0, 0, 0}, st;
    if (stats)
        *stats = total;
    if (n == 0)
        return DNSBL_OK;
    if (per_txn == 0 || per_txn > UINT32_MAX || n > UINT32_MAX) {
        store_set_why(why, whylen, "%s: %zu events, %zu per transaction: out of range", s->dir, n,
                      per_txn);
        return DNSBL_EINVAL;
    }
    /* Without the memory to sort, the events go in the order given. */
    struct store_krec *rec = malloc(2 * n * sizeof *rec);
    if (rec) {
        for (size_t i = 0; i < n; i++) {
            struct event ev;
            event_at(arg, i, &ev);
            addr_mask(&ev.prefix);
            store_key_from_prefix(&ev.prefix, rec[i].k);
            rec[i].idx = (uint32_t)i;
        }
        store_sort_families(rec, rec + n, n);
    }
    size_t cap = 0;
    struct event *evs = NULL;
    int err = DNSBL_OK;
    for (size_t j = 0; j < n && err == DNSBL_OK;) {
        size_t end = j + per_txn < n ? j + per_txn : n;
        /* One prefix, one transaction: its events stay together, in order. */
        while (rec && end < n && memcmp(rec[end].k, rec[end - 1].k, STORE_KEY_LEN) == 0)
            end++;
        if (end - j > cap) {
            struct event *grown = realloc(evs, (end - j) * sizeof *evs);
            if (!grown) {
                store_set_why(why, whylen, "%s: out of memory for a batch of %zu events", s->dir,
                              end - j);
                err = DNSBL_ENOMEM;
                break;
            }
            evs = grown;
            cap = end - j;
        }
        for (size_t i = j; i < end; i++)
            event_at(arg, rec ? rec[i].idx : i, &evs[i - j]);
        err = store_apply(s, evs, NULL, end - j, &st, why, whylen);
        total.applied += st.applied;
        total.duplicates += st.duplicates;
        total.changed += st.changed;
        j = end;
    }
    free(evs);
    free(rec);
    if (stats)
        *stats = total;
    return err;
}

int store_apply_sync(struct store *s, const char *const *datasets, size_t ndatasets, size_t n,
                     void (*event_at)(void *arg, size_t i, struct event *ev), void *arg,
                     const struct store_sync_options *o, struct store_sync_stats *stats, char *why,
                     size_t whylen)
{
    return store_apply_sync_meta(s, datasets, ndatasets, n, event_at, arg, o, NULL, stats, why,
                                 whylen);
}

int store_apply_sync_meta(struct store *s, const char *const *datasets, size_t ndatasets, size_t n,
                          void (*event_at)(void *arg, size_t i, struct event *ev), void *arg,
                          const struct store_sync_options *o, const struct store_meta_put *meta,
                          struct store_sync_stats *stats, char *why, size_t whylen)
{
    struct store_sync_stats st = {0};
    struct store_sync_spec y = {.names = datasets, .nids = ndatasets, .st = &st};
    uint32_t *ids = calloc(ndatasets ? ndatasets : 1, sizeof *ids);
    struct store_skey *have = malloc((n ? n : 1) * sizeof *have);
    struct event *evs = malloc((n ? n : 1) * sizeof *evs);
    int err = DNSBL_OK;

    if (stats)
        *stats = st;
    if (s->flags & STORE_RDONLY) {
        store_set_why(why, whylen, "%s: the store is open read-only", s->dir);
        err = DNSBL_EINVAL;
    } else if (!ids || !have || !evs) {
        store_set_why(why, whylen, "%s: out of memory for a sync of %zu events", s->dir, n);
        err = DNSBL_ENOMEM;
    }
    for (size_t i = 0; err == DNSBL_OK && i < ndatasets; i++)
        ids[i] = model_dataset_id(datasets[i]);
    for (size_t i = 0; err == DNSBL_OK && i < n; i++) {
        event_at(arg, i, &evs[i]);
        struct addr_prefix p = evs[i].prefix;
        addr_mask(&p);
        store_key_from_prefix(&p, have[i].k);
        have[i].id = model_dataset_id(evs[i].dataset);
    }
    if (err == DNSBL_OK) {
        qsort(have, n, sizeof *have, store_skey_cmp);
        err = store_check_events(s, evs, n, why, whylen);
    }
    if (err == DNSBL_OK) {
        y.ids = ids;
        y.have = have;
        y.nhave = n;
        y.now = o->now;
        y.max_share = o->max_share;
        y.force = o->force;
        y.evs = &evs;
        struct store_apply_args args = {.ev = evs, .n = n, .sync = &y, .meta = meta};
        err = store_write_growing(s, store_apply_try, &args, why, whylen);
        st.applied = args.st.applied;
        st.changed = args.st.changed;
        if (err != DNSBL_OK)
            err = store_public_err(err);
    }
    free(y.rm);
    free(evs);
    free(have);
    free(ids);
    if (stats)
        *stats = st;
    return err;
}
