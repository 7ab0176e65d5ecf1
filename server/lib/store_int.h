/* store_int: what the store's files share and nothing outside them may
 * use: the layout constants, struct store and struct store_reader, the key,
 * ancestor and filter helpers of the hot path (static inline, as they were
 * when store.c was one file), and the write transaction with its sticky
 * error. The layout is doc/store-format.md. Tests may include it. */
#ifndef DNSBL_STORE_INT_H
#define DNSBL_STORE_INT_H

#include <errno.h>
#include <limits.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "err.h"
#include "flat.h"
#include "store.h"

#define STORE_SCHEMA 6u
#define STORE_SCHEMA_OLDEST 1u /* 1 to 3 are upgraded by the first writer */
#define STORE_VALUE_VERSION 3  /* 1 and 2 are still read */
#define STORE_MAP_INITIAL ((size_t)64 << 20)
#if SIZE_MAX > 0xffffffffu
#define STORE_MAP_MAX ((size_t)1 << 40)
#else
#define STORE_MAP_MAX ((size_t)1 << 30) /* all a 32-bit address space can spare */
#endif
#define STORE_MAP_MIN ((size_t)64 << 10)
#define STORE_REMAP_WAIT_MS 5000            /* a read transaction lives one batch of queries */
#define STORE_DISK_LOW ((uint64_t)16 << 20) /* free space under which an EIO means "full" */
#define STORE_RESIZED_TRIES 8               /* another process may grow the map again meanwhile */
/* store_lmdb_fail's code for MDB_MAP_FULL inside the store: store_apply
 * grows the map on it; public functions turn it into DNSBL_EBUSY. */
#define STORE_EMAPFULL (-100)
/* store_init_ro's code for a store of an older schema: store_open has a
 * writer upgrade it. */
#define STORE_EOLD (-101)
#define STORE_WHY_MAX 512 /* a reason: the directory, the step, LMDB's text */

#define STORE_MAXDBS 16
#define STORE_MAXREADERS 256
#define STORE_KEY_LEN 18
#define STORE_DEDUP_LEN 32
#define STORE_ANC4_BYTES 5  /* lengths 0..32 */
#define STORE_ANC6_BYTES 17 /* lengths 0..128 */
#define STORE_HKEY_LEN (STORE_KEY_LEN + 4)
#define STORE_F4_BITS 24 /* one bit per IPv4 /24 */
#define STORE_F4_BYTES ((size_t)1 << (STORE_F4_BITS - 3))
#define STORE_F6_BITS 20 /* one bit per hash of an IPv6 /32 */
#define STORE_F6_BYTES (((size_t)1 << (STORE_F6_BITS - 3)) + 1) /* + the flags byte */
#define STORE_F6_SHORT 1       /* flags: an IPv6 entry shorter than /32: the bits say nothing */
#define STORE_FILTER_MIN 65536 /* entries before a store gets a filter */
#define STORE_FLAT_MIN 65536   /* entries before a store gets a flat index */
/* The flat index is rebuilt once the entries changed since it was built
 * number max(STORE_FLAT_CHANGES_MIN, entries / STORE_FLAT_CHANGES_SHARE). */
#define STORE_FLAT_CHANGES_MIN 1024
#define STORE_FLAT_CHANGES_SHARE 64
#define STORE_DIRTY_BYTES (STORE_F4_BYTES + STORE_F6_BYTES)
#define STORE_HVAL_LEN (CNT_COUNT * 4 + 8)
#define STORE_EKEY_LEN (STORE_KEY_LEN + 8 + 4) /* evidence: entries key, time, seq */
#define STORE_EVIDENCE_VERSION 1
#define STORE_EVIDENCE_DAYS 90  /* the default model window (policy.h) */
#define STORE_EVIDENCE_MAX 1000 /* records kept per entry */

_Static_assert(sizeof(float) == sizeof(uint32_t), "rate_pct is stored as 32 bits");
_Static_assert(sizeof(((struct entry *)0)->part_text[0].dataset) == MODEL_DATASET_MAX,
               "STORE_ENTRY_VALUE_MAX counts a dataset name as MODEL_DATASET_MAX bytes");
_Static_assert(sizeof(((struct entry *)0)->sources) == MODEL_TEXT_MAX,
               "STORE_ENTRY_VALUE_MAX counts sources as MODEL_TEXT_MAX bytes");

struct store {
    MDB_env *env;
    MDB_dbi meta, entries, seen, history;
    MDB_dbi datasets, imports, undo, oplog, evidence; /* schema 5 (doc/store-format.md) */
    MDB_dbi pubstate, pubset, pubjournal;             /* schema 6: the published view */
    bool has_pub; /* false: a schema 5 store opened read-only, never published */
    int flags;
    char dir[PATH_MAX];
    void *scratch; /* store_apply's sort arrays, kept for the next batch; only touched
                      inside a write transaction, which LMDB gives one writer at a time */
    size_t scratch_cap;
    uint8_t *filter;          /* a writer's copy of filter4 then filter6, kept for the next batch */
    uint8_t *dirty;           /* a writer's copy of flatdirty, the same way */
    struct store_options opt; /* map size and thresholds (store_open_opts) */
    unsigned fail_step;       /* a test's fault: the step of a write that fails (store_testing.h) */
    uint64_t import_id;       /* the open import (store_import_begin): writes keep undo records */
    size_t undo_per_txn;      /* undo records store_undo handles per write transaction */
    /* Resizing the map (doc/store-format.md, "The map"). */
    pthread_mutex_t remap_lock;   /* held throughout a remap; guards readers */
    _Atomic bool remapping;       /* a remap waits for the open read transactions */
    _Atomic unsigned map_gen;     /* bumped by every remap: pointers into the map go stale */
    _Atomic unsigned loose;       /* open read transactions not of a store_reader */
    struct store_reader *readers; /* every open store_reader */
};

struct store_reader {
    struct store *s;
    MDB_txn *txn;           /* NULL until the first begin; then reset, never freed, between uses */
    MDB_cursor *hcur;       /* history cursor: opened with the first txn, renewed with each */
    MDB_cursor *ecur;       /* entries cursor, the same way */
    const uint8_t *f4, *f6; /* the filter in this transaction's snapshot, NULL if none */
    struct flat_view flat;  /* the flat index of the snapshot, when flat_ok */
    const uint8_t *d4, *d6; /* what changed since it was built; NULL: nothing */
    bool flat_ok;
    /* The pointers above are looked up again only when the snapshot or the
     * map changed: the same transaction id is the same committed data on
     * the same pages, as no writer touches the map before it commits. */
    bool meta_known;
    size_t meta_txnid;
    unsigned meta_gen;
    bool ecur_ready, hcur_ready; /* renewed for this transaction */
    /* The last value decoded lean from the flat index, and what it gave:
     * list data repeats one value for a whole file. Forgotten with the
     * pointers above. */
    const uint8_t *lean_val;
    struct entry lean;
    bool active;
    _Atomic unsigned in_txn; /* 1 from the gate to the end of the transaction */
    struct store_reader *prev, *next;
    char why[STORE_WHY_MAX]; /* why the last begin failed (store_reader_why) */
};

/* ---- hot-path helpers ---- */

/* memcmp order, any length. Never inlined: inside store_cmp_key it would
 * make every call of the comparator save registers for memcmp (bench/). */
__attribute__((noinline)) int store_cmp_bytes(const MDB_val *a, const MDB_val *b);

/* The one table from LMDB (and errno) codes to ours. */
static inline int store_map_err(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return DNSBL_OK;
    case MDB_NOTFOUND:
        return DNSBL_ENOENT;
    case MDB_MAP_FULL:
    case MDB_READERS_FULL:
    case MDB_TXN_FULL:
    case MDB_DBS_FULL:
        return DNSBL_EBUSY;
    case ENOMEM:
        return DNSBL_ENOMEM;
    default:
        return rc > 0 ? DNSBL_EIO : DNSBL_ESTORE;
    }
}

/* What a public function returns for an error from inside the store. */
static inline int store_public_err(int err)
{
    return err == STORE_EMAPFULL ? DNSBL_EBUSY : err;
}

static inline MDB_val store_val(const void *p, size_t n)
{
    MDB_val v = {.mv_size = n, .mv_data = (void *)(uintptr_t)p};
    return v;
}

static inline MDB_val store_meta_key(const char *name)
{
    return store_val(name, strlen(name));
}

static inline void store_key_from_prefix(const struct addr_prefix *p, uint8_t key[STORE_KEY_LEN])
{
    key[0] = p->family;
    memcpy(key + 1, p->a, 16);
    key[17] = p->plen;
}

static inline bool store_prefix_valid(const struct addr_prefix *p)
{
    return (p->family == ADDR_V4 && p->plen <= 32) || (p->family == ADDR_V6 && p->plen <= 128);
}

static inline int store_prefix_from_key(const MDB_val *k, struct addr_prefix *p)
{
    if (k->mv_size != STORE_KEY_LEN)
        return DNSBL_ESCHEMA;
    const uint8_t *key = k->mv_data;
    p->family = key[0];
    memcpy(p->a, key + 1, 16);
    p->plen = key[17];
    return store_prefix_valid(p) ? DNSBL_OK : DNSBL_ESCHEMA;
}

/* ---- the ancestors of each entry ---- */

/* An ancestors bitmap in registers: length L is bit 63 - L % 64 of word L / 64,
 * so within a word the lowest set bit is the longest length. */
struct store_lens {
    uint64_t w[3];
};

static inline size_t store_anc_size(uint8_t family)
{
    return family == ADDR_V4 ? STORE_ANC4_BYTES : STORE_ANC6_BYTES;
}

static inline unsigned store_family_bits(uint8_t family)
{
    return family == ADDR_V4 ? 32 : 128;
}

static inline uint64_t store_load_be64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* The same order in big-endian word compares for our 18-byte keys: a
 * lookup makes some twenty compares per B-tree descent. */
static inline int store_cmp_key(const MDB_val *a, const MDB_val *b)
{
    if (__builtin_expect(a->mv_size != STORE_KEY_LEN || b->mv_size != STORE_KEY_LEN, 0))
        return store_cmp_bytes(a, b);
    const uint8_t *x = a->mv_data, *y = b->mv_data;
    uint64_t p = store_load_be64(x), q = store_load_be64(y);
    if (p == q) {
        p = store_load_be64(x + 8);
        q = store_load_be64(y + 8);
        if (p == q) {
            p = (uint64_t)x[16] << 8 | x[17];
            q = (uint64_t)y[16] << 8 | y[17];
        }
    }
    return (p > q) - (p < q);
}

static inline void store_lens_unpack(const uint8_t *bytes, size_t n, struct store_lens *l)
{
    uint8_t buf[24] = {0};
    memcpy(buf, bytes, n);
    l->w[0] = store_load_be64(buf);
    l->w[1] = store_load_be64(buf + 8);
    l->w[2] = store_load_be64(buf + 16);
}

static inline void store_lens_pack(const struct store_lens *l, uint8_t *bytes, size_t n)
{
    uint8_t buf[24];
    for (int i = 0; i < 24; i++)
        buf[i] = (uint8_t)(l->w[i / 8] >> (56 - 8 * (i % 8)));
    memcpy(bytes, buf, n);
}

static inline void store_lens_add(struct store_lens *l, unsigned len)
{
    l->w[len / 64] |= (uint64_t)1 << (63 - len % 64);
}

/* Keeps the lengths <= max only. */
static inline void store_lens_limit(struct store_lens *l, unsigned max)
{
    for (unsigned i = 0; i < 3; i++) {
        unsigned first = i * 64;
        if (max < first)
            l->w[i] = 0;
        else if (max - first < 63)
            l->w[i] &= ~(uint64_t)0 << (63 - (max - first));
    }
}

/* The longest length in l, removed from it; -1 when l is empty. */
static inline int store_lens_pop_longest(struct store_lens *l)
{
    for (int i = 2; i >= 0; i--) {
        if (l->w[i]) {
            int bit = __builtin_ctzll(l->w[i]);
            l->w[i] &= l->w[i] - 1;
            return i * 64 + 63 - bit;
        }
    }
    return -1;
}

/* How many leading bits of the family's address two keys share. An IPv4
 * key is mapped, so its address is the last four of the 16 bytes. */
static inline unsigned store_key_common_bits(const uint8_t *ka, const uint8_t *kb)
{
    const uint8_t *a = ka + 1, *b = kb + 1;
    if (ka[0] == ADDR_V4) {
        uint32_t x = (uint32_t)(store_load_be64(a + 8) ^ store_load_be64(b + 8));
        return x ? (unsigned)__builtin_clz(x) : 32;
    }
    uint64_t hi = store_load_be64(a) ^ store_load_be64(b);
    if (hi)
        return (unsigned)__builtin_clzll(hi);
    uint64_t lo = store_load_be64(a + 8) ^ store_load_be64(b + 8);
    return lo ? 64 + (unsigned)__builtin_clzll(lo) : 128;
}

/* Does the entry with key `outer` contain the prefix of key `inner`? */
static inline bool store_key_contains(const uint8_t *outer, const uint8_t *inner)
{
    return outer[0] == inner[0] && outer[17] <= inner[17] &&
           store_key_common_bits(outer, inner) >= outer[17];
}

/* The lengths of the entries that contain key's prefix and sort at or
 * before key (doc/store-format.md, "Covering lookup"), through cur on entries; *found
 * and *val get the record the answer came from (found->mv_size is 0 when
 * there is none). MDB_SUCCESS with an empty set when nothing does. */
static inline int store_lookup_covering(MDB_cursor *cur, const uint8_t key[STORE_KEY_LEN],
                                        struct store_lens *out, MDB_val *found, MDB_val *val)
{
    MDB_val want = store_val(key, STORE_KEY_LEN), k = want, v;
    memset(out, 0, sizeof *out);
    found->mv_size = 0;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND)
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    else if (rc == MDB_SUCCESS && store_cmp_key(&k, &want) != 0)
        rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    if (rc == MDB_NOTFOUND)
        return MDB_SUCCESS;
    if (rc != MDB_SUCCESS)
        return rc;
    const uint8_t *at = k.mv_data;
    if (k.mv_size != STORE_KEY_LEN || at[0] != key[0])
        return MDB_SUCCESS; /* nothing of this family sorts at or before key */
    size_t an = store_anc_size(at[0]);
    if (v.mv_size < an || at[17] > store_family_bits(at[0]))
        return MDB_CORRUPTED;
    store_lens_unpack(v.mv_data, an, out);
    store_lens_add(out, at[17]);
    unsigned shared = store_key_common_bits(at, key);
    store_lens_limit(out, shared < key[17] ? shared : key[17]);
    *found = k;
    *val = v;
    return MDB_SUCCESS;
}

/* ---- the filter (doc/store-format.md, "The filter") ---- */

static inline uint32_t store_load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint32_t store_f4_slot(const uint8_t a16[16])
{
    return store_load_be32(a16 + 12) >> 8;
}

static inline uint32_t store_f6_slot(const uint8_t a16[16])
{
    return (uint32_t)(store_load_be32(a16) * 2654435761u) >> (32 - STORE_F6_BITS);
}

static inline bool store_bit_has(const uint8_t *bits, uint32_t b)
{
    return (bits[b / 8] & (0x80u >> (b % 8))) != 0;
}

static inline void store_bit_set(uint8_t *bits, uint32_t b)
{
    bits[b / 8] |= (uint8_t)(0x80u >> (b % 8));
}

/* Sets bits [first, first + n). */
static inline void store_bits_set_range(uint8_t *bits, uint32_t first, uint32_t n)
{
    for (; n && first % 8; n--)
        store_bit_set(bits, first++);
    memset(bits + first / 8, 0xff, n / 8);
    for (uint32_t b = first + (n & ~7u); n % 8; n--)
        store_bit_set(bits, b++);
}

/* Marks the entry with key in the filter f4/f6. */
static inline void store_filter_add(uint8_t *f4, uint8_t *f6, const uint8_t key[STORE_KEY_LEN])
{
    unsigned plen = key[17];
    if (key[0] == ADDR_V4) {
        uint32_t first = store_f4_slot(key + 1);
        store_bits_set_range(f4, first, plen >= 24 ? 1 : (uint32_t)1 << (24 - plen));
    } else if (plen < 32) {
        f6[STORE_F6_BYTES - 1] |= STORE_F6_SHORT;
    } else {
        store_bit_set(f6, store_f6_slot(key + 1));
    }
}

/* Can the filter tell that nothing covers the full address in key? */
static inline bool store_filter_excludes(const uint8_t *f4, const uint8_t *f6,
                                         const uint8_t key[STORE_KEY_LEN])
{
    if (key[0] == ADDR_V4)
        return f4 && key[17] == 32 && !store_bit_has(f4, store_f4_slot(key + 1));
    return f6 && key[17] == 128 && !(f6[STORE_F6_BYTES - 1] & STORE_F6_SHORT) &&
           !store_bit_has(f6, store_f6_slot(key + 1));
}

/* May the flat index answer for the full address in key: has nothing that
 * could cover it changed since the index was built? */
static inline bool store_flat_clean(const uint8_t *d4, const uint8_t *d6,
                                    const uint8_t key[STORE_KEY_LEN])
{
    if (!d4)
        return true;
    if (key[0] == ADDR_V4)
        return !store_bit_has(d4, store_f4_slot(key + 1));
    return !(d6[STORE_F6_BYTES - 1] & STORE_F6_SHORT) && !store_bit_has(d6, store_f6_slot(key + 1));
}

/* ---- shared functions (store_env.c unless said otherwise) ---- */

__attribute__((format(printf, 3, 4))) void store_set_why(char *why, size_t whylen, const char *fmt,
                                                         ...);
/* An LMDB error of step into a sentence in why and our code (MDB_MAP_FULL
 * gives STORE_EMAPFULL). */
int store_lmdb_fail(const struct store *s, int rc, const char *step, char *why, size_t whylen);
int store_get_u64(const struct store *s, MDB_txn *txn, const char *name, uint64_t *out, char *why,
                  size_t whylen);
int store_put_u64(const struct store *s, MDB_txn *txn, const char *name, uint64_t value);

/* The gate between transactions and map resizes (doc/store-format.md). */
void store_gate_enter(struct store *s, _Atomic unsigned *mine);
void store_gate_leave(_Atomic unsigned *mine);
int store_remap(struct store *s, size_t size);
int store_grow(struct store *s, char *why, size_t whylen);
int store_read_begin(struct store *s, MDB_txn **txn, _Atomic unsigned *mine);
int store_loose_begin(struct store *s, MDB_txn **txn);
void store_loose_end(struct store *s, MDB_txn *txn);

/* The ancestors of entries met in key order (upgrade and check): each key
 * on the stack contains the one above it. */
struct store_ancestry {
    uint8_t stack[STORE_COVERING_MAX][STORE_KEY_LEN];
    size_t n;
};
void store_ancestry_next(struct store_ancestry *w, const uint8_t key[STORE_KEY_LEN],
                         struct store_lens *lens);

/* store_read.c: every record of db in key order, in one read snapshot;
 * each decodes one and calls on; non-zero stops the walk and is returned. */
int store_walk(struct store *s, MDB_dbi db,
               int (*each)(const MDB_val *k, const MDB_val *v, void *arg), void *arg);

/* store_codec.c: value and history codecs. */
/* A text as u16 length + bytes, at most max - 1 of them (max: the field's
 * size, NUL included; longer text is cut); read back into dst, a length
 * past max - 1 or the value's end, or a NUL inside, sets w->err. The one
 * text encoding of every record the store writes. */
struct wire;
void store_put_text(struct wire *w, const char *text, size_t max);
void store_get_text(struct wire *w, char *dst, size_t max);
int store_decode_entry_part(const void *val, size_t len, struct entry *e, bool lean);
int store_decode_into(const void *val, size_t len, struct entry *e);
bool store_value_entry(const MDB_val *v, uint8_t family, MDB_val *entry);
int store_decode_value(const MDB_val *v, uint8_t family, struct entry *out);
void store_hkey(const uint8_t key[STORE_KEY_LEN], uint32_t day, uint8_t hkey[STORE_HKEY_LEN]);
void store_encode_history(const struct history_day *d, uint8_t buf[STORE_HVAL_LEN]);
int store_decode_history(const MDB_val *k, const MDB_val *v, struct history_day *d);
void store_ekey(const uint8_t key[STORE_KEY_LEN], int64_t time, uint32_t seq,
                uint8_t ekey[STORE_EKEY_LEN]);
int store_ekey_decode(const MDB_val *k, int64_t *time, uint32_t *seq);

/* store_flat.c: the filter and the flat index's upkeep. */
int store_filter_build(const struct store *s, MDB_txn *txn, uint8_t *f4, uint8_t *f6);
void store_filter_get(const struct store *s, MDB_txn *txn, const uint8_t **f4, const uint8_t **f6);
int store_filter_put(const struct store *s, MDB_txn *txn, const uint8_t *f4, const uint8_t *f6);
int store_filter_load(struct store *s, MDB_txn *txn, bool *have);
int store_filter_create(struct store *s, MDB_txn *txn);
void store_flat_get(const struct store *s, MDB_txn *txn, struct flat_view *view, bool *ok,
                    const uint8_t **d4, const uint8_t **d6);
bool store_flat_key_clean(const uint8_t *d4, const uint8_t *d6, const uint8_t key[STORE_KEY_LEN]);
bool store_dirty_has(const uint8_t *dirty, const uint8_t key[STORE_KEY_LEN]);
int store_dirty_load(struct store *s, MDB_txn *txn, bool *have, bool *replace);
int store_dirty_put(const struct store *s, MDB_txn *txn, bool grew, size_t changed);

/* ---- the write transaction (store_write.c) ----
 * One write transaction and its sticky error: the first failing step
 * records its code and reason, every later step is a no-op, and the end
 * aborts the transaction and hands the reason on. So a sequence of steps
 * reads straight through, and a failure is never lost nor half-kept. */
struct store_txn {
    struct store *s;
    MDB_txn *txn;
    int err;                 /* the first failure; DNSBL_OK while none */
    char why[STORE_WHY_MAX]; /* its reason */
};

/* Begins a write transaction (through the gate, adopting a map another
 * process grew). On failure t->err and t->why say why. */
int store_txn_begin(struct store *s, struct store_txn *t);
static inline bool store_txn_ok(const struct store_txn *t)
{
    return t->err == DNSBL_OK;
}
/* Records err and the reason (the store's directory is put in front),
 * unless a failure is recorded already; returns t->err. */
__attribute__((format(printf, 3, 4))) int store_txn_fail(struct store_txn *t, int err,
                                                         const char *fmt, ...);
/* The outcome rc of an LMDB call of step: a failure is recorded as
 * store_lmdb_fail words it. Returns t->err. */
int store_txn_step(struct store_txn *t, int rc, const char *step);
/* Commits when no step failed, else aborts; why gets the reason of the
 * first failure (of the commit itself, if that is what failed). Returns
 * the error, DNSBL_OK on success. */
int store_txn_end(struct store_txn *t, char *why, size_t whylen);
/* Aborts: nothing to keep (a batch of duplicates, a refresh not due). */
void store_txn_abort(struct store_txn *t);

/* Runs a write, once(s, arg, ...), growing the map and running it again
 * whole each time it filled up (STORE_EMAPFULL), until it fits or the map
 * reaches its limit (store_env.c, with the map's growth). */
int store_write_growing(struct store *s, int (*once)(struct store *, void *, char *, size_t),
                        void *arg, char *why, size_t whylen);

/* store_oplog.c: the operator history (doc/store-format.md, "oplog").
 * A key is the entries key, the action time (i64) and a sequence number
 * (u32) that keeps two actions of one second in order. */
#define STORE_OKEY_LEN (STORE_KEY_LEN + 8 + 4)
#define STORE_OPLOG_VERSION 1
#define STORE_OVAL_MAX                                                                             \
    (1 + 1 + 4 + 8 + (2 + OPLOG_WHO_MAX - 1) + (2 + MODEL_TEXT_MAX - 1) + (2 + OPLOG_WHO_MAX - 1))
void store_okey(const uint8_t key[STORE_KEY_LEN], int64_t time, uint32_t seq,
                uint8_t okey[STORE_OKEY_LEN]);
/* The value of rec (its time goes in the key); DNSBL_EINVAL for an
 * action outside enum oplog_action, DNSBL_ESPACE if cap is short. */
int store_encode_oplog(const struct oplog_rec *rec, uint8_t *buf, size_t cap, size_t *len);
/* A record from its key and value; DNSBL_ESCHEMA for anything short,
 * long, of another version, or with an unknown action or a bad text. */
int store_decode_oplog(const MDB_val *k, const MDB_val *v, struct oplog_rec *out);
/* Appends rec to the history of the entry with key, after any record of
 * the same second, through t's sticky error (remove and undo record
 * themselves with it). Returns t->err. */
int store_oplog_put(struct store_txn *t, const uint8_t key[STORE_KEY_LEN],
                    const struct oplog_rec *rec);
/* store_oplog_put for an operator event (EV_LIST, EV_DELIST, EV_ALLOW);
 * other events write nothing. */
/* Does ev leave an operator-history record (store_oplog_event)? */
bool store_oplog_kind(const struct event *ev);
int store_oplog_event(struct store_txn *t, const uint8_t key[STORE_KEY_LEN],
                      const struct event *ev);

/* store_datasets.c: the `datasets` database (doc/store-format.md,
 * "datasets"). Key: the dataset id, u32. */
#define STORE_DKEY_LEN 4
#define STORE_DATASET_VERSION 1
#define STORE_DVAL_MAX                                                                             \
    (1 + 1 + 8 + 8 + (2 + MODEL_DATASET_MAX - 1) + (2 + DATASET_FORMAT_MAX - 1) +                  \
     (2 + DATASET_FILES_MAX - 1))
/* The value of n (its id is the key); DNSBL_EINVAL for an empty name or
 * an unknown kind, DNSBL_ESPACE if cap is short. */
int store_encode_dataset(const struct dataset_note *n, uint8_t *buf, size_t cap, size_t *len);
/* A record from its key and value; DNSBL_ESCHEMA for anything short,
 * long, of another version, with an unknown kind, a bad text, or a name
 * whose id is not the key. */
int store_decode_dataset(const MDB_val *k, const MDB_val *v, struct dataset_note *out);
/* store_dataset_note inside t (import --sync records its sync with the
 * sync's own transaction). Returns t->err. */
int store_dataset_note_txn(struct store_txn *t, const struct dataset_note *n);

/* One meta record written in the same transaction as a batch of events
 * (store_pull.c: the pull state moves with the data it describes). */
struct store_meta_put {
    const char *name; /* the meta key (ASCII) */
    const void *val;
    size_t len;
};
/* store_apply and store_apply_sync, with meta written in their write
 * transaction, which then commits even when no entry changed. */
int store_apply_meta(struct store *s, const struct event *ev, const uint8_t *const *dedup, size_t n,
                     const struct store_meta_put *meta, struct store_apply_stats *stats, char *why,
                     size_t whylen);
int store_apply_sync_meta(struct store *s, const char *const *datasets, size_t ndatasets, size_t n,
                          void (*event_at)(void *arg, size_t i, struct event *ev), void *arg,
                          const struct store_sync_options *o, const struct store_meta_put *meta,
                          struct store_sync_stats *stats, char *why, size_t whylen);

/* store_undo.c: the undo records of the open import (doc/store-format.md
 * "undo"). A key is the import id (u64), the database's tag and the
 * record's own key. */
enum store_undo_db {
    STORE_UNDO_ENTRIES = 1, /* values without the ancestors bitmap */
    STORE_UNDO_HISTORY = 2,
    STORE_UNDO_EVIDENCE = 3,
    STORE_UNDO_OPLOG = 4,
    STORE_UNDO_SEEN = 5,
};
#define STORE_UNDO_PER_TXN 10000
#define STORE_UKEY_MAX (8 + 1 + STORE_DEDUP_LEN)
/* Record `key` of database db goes from before to after (NULL: absent) in
 * t: the first note of a key keeps its before, every note its after. A
 * no-op when t's store has no open import. Returns t->err. */
int store_undo_note(struct store_txn *t, uint8_t db, const void *key, size_t klen,
                    const MDB_val *before, const MDB_val *after);

/* store_check's part for `imports` and `undo`: every import record
 * decodes; every undo record's key has its database's length and an
 * import of that id, and its value decodes. Each problem goes to
 * problem(arg, what). */
int store_check_undo(struct store *s, MDB_txn *txn, void (*problem)(void *arg, const char *what),
                     void *arg);

/* store_write.c: an entry written outside a batch of events (undo), with
 * what every entry write keeps right: the ancestors of the entries inside
 * it, the filter, the flat index's marks, and on deletion its history and
 * evidence. Opened on t, closed (writing the filter and the marks) before
 * t ends; store_applier_put_entry with val NULL deletes. */
struct store_applier;
struct store_applier *store_applier_open(struct store_txn *t);
int store_applier_put_entry(struct store_applier *a, const uint8_t key[STORE_KEY_LEN],
                            const void *val, size_t len);
int store_applier_close(struct store_applier *a);

#endif
