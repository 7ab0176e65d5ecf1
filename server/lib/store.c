/* store: the LMDB layout, schema version 4. Nothing outside this file may
 * depend on any of it; callers see struct entry / struct event only.
 *
 * Environment: the directory DIR (data.mdb + lock.mdb), 8 named databases
 * at most, 256 reader slots. Writers open with flags 0 (fully durable
 * commits), readers with MDB_RDONLY; both add MDB_NOTLS so a reader's
 * transaction is tied to its struct store_reader rather than to a
 * thread-local slot, which is what lets one thread reset/renew it freely
 * and lets a process hold a read and a write transaction at once
 * (dnsblctl, the tests).
 *
 * The map: a new store starts with a 64 MiB map (the size LMDB records in
 * the file; virtual address space only, the file grows as pages are used).
 * A writer whose batch hits MDB_MAP_FULL aborts it, doubles the map and
 * runs the batch again, up to 1 TiB (1 GiB on 32-bit systems); the new size
 * is recorded by its next commit. A process that finds the file grown by
 * another (MDB_MAP_RESIZED, readers and writers alike) adopts the recorded
 * size. LMDB remaps on a resize and so demands that no transaction of the
 * process be open meanwhile (lmdb.h, mdb_env_set_mapsize): store_remap
 * raises `remapping`, waits for every read transaction of this struct
 * store to end, resizes and lowers it. Read transactions announce
 * themselves first (store_gate_enter: an atomic increment of a counter of
 * their own, then a look at `remapping`), so the query path takes no lock;
 * only a reader that meets a remap in progress waits on remap_lock. Tests
 * set DNSBL_STORE_MAPSIZE=INITIAL[,MAX] (bytes, or with a k/m/g suffix)
 * to start small; it is not documented for operators.
 *
 * Named databases (all integers big-endian, so keys sort as numbers):
 *   meta     "schema" -> u32, 4.  "serial" -> u64, bumped per apply.
 *   entries  key: 18 bytes = family (4 or 6) + 16 address bytes (IPv4
 *            mapped ::ffff:a.b.c.d) + plen, so byte order is V4 first, then
 *            address, then prefix length. Compared as memcmp would, in
 *            word compares (store_cmp_key).
 *            value: the ancestors -- the prefix lengths of the other
 *            entries that contain this one -- as a bitmap, the bit for
 *            length L in byte L/8, mask 0x80 >> L%8 (5 bytes for IPv4, 17
 *            for IPv6); then the entry, which store_encode_entry writes:
 *            version byte 2, a byte of the groups that follow (1
 *            operator, 2 imported, 4 first and last seen, 8 the evidence
 *            counters, 16 snds, 32 the strings; a
 *            group whose fields are all zero or empty is left out and
 *            reads as such), then those groups' fields in this order
 *            (version 1 values, still read, have no groups byte and every
 *            group):
 *              operator: state u8, code u32, expires i64, state_time i64;
 *              imported: imp_state u8, imp_flags u8, imp_code u32,
 *                imp_ttl u32, imp_time i64;
 *              seen: first_seen i64, last_seen i64;
 *              counters: counts[CNT_COUNT] u32, volume u64,
 *                auth_fail[AUTHC_COUNT] u32;
 *              snds row: colour u8, rate_qual u8, rate_pct (IEEE float
 *                bits) u32, rcpt u32, data u32, recipients u32,
 *                trap_hits u32, start i64, end i64;
 *                snds_status u8 (the snds group);
 *            then the strings, each u16 length + bytes (no NUL): reason,
 *            note, imp_txt, imp_dataset, sources. Exactly that long: a
 *            value shorter, longer, with another version, an unknown enum
 *            value, a string too long or holding a NUL is DNSBL_ESCHEMA.
 *            Entries are never deleted, so an ancestor bit is only ever
 *            set: a new entry gets its ancestors' lengths, and adds its
 *            own to every entry inside it (they sort right after it), in
 *            the same write transaction.
 *   seen     key: the caller's 32-byte dedup key; value: the event time
 *            (i64), kept so old keys can be pruned later.
 *   history  key: 22 bytes = the 18-byte entries key + day (u32, unix
 *            time / 86400), so one entry's days are adjacent and in date
 *            order; value: counts[CNT_COUNT] u32 + volume u64 (36 bytes).
 *
 * Covering lookup (why the ancestors are kept): take the greatest entries
 * key at or below (address, longest length). Any entry containing the
 * address sorts at or before that key and contains it too, so the entries
 * covering the address are that key's own prefix and its ancestors, those
 * no longer than the bits the address shares with it. One B-tree descent
 * (MDB_SET_RANGE, then one step back) answers an address nothing covers
 * and, when no other entry contains the one found, an address that is
 * listed; each further covering entry is one exact get.
 *
 * The filter, in meta: "filter4" -> 2 MiB, a bit per IPv4 /24 (bit B is
 * byte B/8, mask 0x80 >> B%8) set when any entry lies in or contains that
 * /24; "filter6" -> 128 KiB of bits, one per hash of an IPv6 /32 (the top
 * 32 bits times 2654435761, the top 20 bits of that), set the same way,
 * then one flags byte: 1 = an IPv6 entry shorter than /32 exists, the
 * IPv6 bits say nothing. Most queries are for addresses nothing covers
 * (half of them in the benchmark, more in the wild); a clear bit answers
 * those with no B-tree descent. Bits are only ever set (entries are
 * never deleted); each write transaction that adds entries rewrites the
 * two records. A store without them (written by an older program) is
 * looked up without a filter until its next writer builds them.
 *
 * The flat index, in meta: "flat" -> the blob module flat builds from
 * every entry in key order (its key, its parent, its value without the
 * ancestors; flat.c has the layout). Lookups binary-search it instead of
 * descending the B-tree, except for addresses a write has changed since:
 * "flatdirty" -> a bitmap of those, laid out as filter4 then filter6 (the
 * same slots, the same flags byte), absent when nothing changed;
 * "flatchanges" -> u64, entries written since, which says when a rebuild
 * is due (store_flat_refresh). Every write transaction marks the entries it
 * writes, so an answer never depends on when the index was built; a
 * rebuild writes all three in one transaction. Version 4 added these: a
 * program of version 3 would write without marking, and so must refuse
 * the store; from 3 the upgrade is the version number alone.
 *
 * Earlier versions: 1 probed every prefix length in use (bitmaps "lens4"
 * and "lens6" in meta); 2 kept the ancestors in a database of their own,
 * "cover", and so cost a listed address a second descent. The first
 * writer to open either rewrites the entries values with their ancestors
 * in one transaction (store_upgrade) and drops what is left of the old
 * layout; a read-only opener has it done first (store_open_upgraded).
 *
 * store_apply works through a batch in key order
 * (dedup keys, then entries keys; see "Sort records" below) so imports of
 * a million events touch each B-tree page in one sweep. A new schema gets a new version number
 * here, a new value version in store_decode_entry, and a migration step in store_open. */
#include "store.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <time.h>

#include "err.h"
#include "flat.h"
#include "radix.h"
#include "wire.h"

#define STORE_SCHEMA 4u
#define STORE_SCHEMA_OLDEST 1u /* 1 to 3 are upgraded by the first writer */
#define STORE_VALUE_VERSION 2  /* 1 is still read */
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
/* store_lmdb_fail's code for MDB_MAP_FULL inside store.c: store_apply
 * grows the map on it; public functions turn it into DNSBL_EBUSY. */
#define STORE_EMAPFULL (-100)
/* store_init_ro's code for a store of an older schema: store_open has a
 * writer upgrade it. */
#define STORE_EOLD (-101)
#define STORE_MAXDBS 8
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
#define STORE_DATASET_MAX 64 /* sizeof imp_dataset, with the NUL */

_Static_assert(sizeof(float) == sizeof(uint32_t), "rate_pct is stored as 32 bits");
_Static_assert(sizeof(((struct entry *)0)->imp_dataset) == STORE_DATASET_MAX,
               "STORE_ENTRY_VALUE_MAX counts imp_dataset as 64 bytes");
_Static_assert(sizeof(((struct entry *)0)->sources) == MODEL_TEXT_MAX,
               "STORE_ENTRY_VALUE_MAX counts sources as MODEL_TEXT_MAX bytes");

struct store {
    MDB_env *env;
    MDB_dbi meta, entries, seen, history;
    int flags;
    char dir[PATH_MAX];
    void *scratch; /* store_apply's sort arrays, kept for the next batch; only touched
                      inside a write transaction, which LMDB gives one writer at a time */
    size_t scratch_cap;
    uint8_t *filter; /* a writer's copy of filter4 then filter6, kept for the next batch */
    uint8_t *dirty;  /* a writer's copy of flatdirty, the same way */
    size_t filter_min, flat_min;
    size_t flat_changes_min; /* STORE_FLAT_CHANGES_MIN, or the tests' own */
    size_t map_initial, map_max;
    /* Resizing the map (see the top of this file). */
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
};

static const char *const store_db_names[] = {"meta", "entries", "seen", "history"};

__attribute__((format(printf, 3, 4))) static void store_set_why(char *why, size_t whylen,
                                                                const char *fmt, ...)
{
    if (!why || whylen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

/* The one table from LMDB (and errno) codes to ours. */
static int store_map_err(int rc)
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

static int store_lmdb_fail(const struct store *s, int rc, const char *step, char *why,
                           size_t whylen)
{
    const char *hint = "";
    struct statvfs fs;
    switch (rc) {
    case MDB_MAP_FULL:
        store_set_why(why, whylen, "%s: %s: %s", s->dir, step, mdb_strerror(rc));
        return STORE_EMAPFULL;
    case MDB_TXN_FULL:
        hint = " (apply fewer events per batch)";
        break;
    case EIO:
        /* LMDB reports a short write as EIO: on a full disk that is what a
         * commit gets before any ENOSPC. */
        if (statvfs(s->dir, &fs) != 0 || (uint64_t)fs.f_bavail * fs.f_frsize >= STORE_DISK_LOW)
            break;
        /* fall through */
    case ENOSPC:
    case EDQUOT:
        hint = " (the disk holding the store is full; nothing of this transaction was kept)";
        break;
    case EACCES:
    case EPERM:
    case EROFS:
        hint = " (LMDB needs write access to lock.mdb, and a writer to the directory and "
               "data.mdb as well)";
        break;
    }
    store_set_why(why, whylen, "%s: %s: %s%s", s->dir, step, mdb_strerror(rc), hint);
    return store_map_err(rc);
}

/* What a public function returns for an error from inside this file. */
static int store_public_err(int err)
{
    return err == STORE_EMAPFULL ? DNSBL_EBUSY : err;
}

static void store_gate_enter(struct store *s, _Atomic unsigned *mine);
static void store_gate_leave(_Atomic unsigned *mine);
static int store_remap(struct store *s, size_t size);
static int store_grow(struct store *s, char *why, size_t whylen);
static int store_open_upgraded(const char *dir, int flags, struct store **out, char *why,
                               size_t whylen);

/* Write transactions pass the gate too (on s->loose), so that a remap in
 * another thread never pulls the map from under one. A map grown by
 * another process is adopted here, as by readers. */
static int store_write_begin(struct store *s, MDB_txn **txn, char *why, size_t whylen)
{
    for (unsigned resized = 0;; resized++) {
        store_gate_enter(s, &s->loose);
        int rc = mdb_txn_begin(s->env, NULL, 0, txn);
        if (rc == MDB_SUCCESS)
            return DNSBL_OK;
        store_gate_leave(&s->loose);
        if (rc != MDB_MAP_RESIZED || resized == STORE_RESIZED_TRIES)
            return store_lmdb_fail(s, rc, "begin write transaction", why, whylen);
        rc = store_remap(s, 0);
        if (rc != MDB_SUCCESS)
            return store_lmdb_fail(s, rc, "adopt the map size another process set", why, whylen);
    }
}

static void store_write_abort(struct store *s, MDB_txn *txn)
{
    mdb_txn_abort(txn);
    store_gate_leave(&s->loose);
}

/* LMDB frees the transaction whether the commit worked or not. */
static int store_write_commit(struct store *s, MDB_txn *txn, char *why, size_t whylen)
{
    int rc = mdb_txn_commit(txn);
    store_gate_leave(&s->loose);
    if (rc != MDB_SUCCESS)
        return store_lmdb_fail(s, rc, "commit", why, whylen);
    return DNSBL_OK;
}

static MDB_val store_val(const void *p, size_t n)
{
    MDB_val v = {.mv_size = n, .mv_data = (void *)(uintptr_t)p};
    return v;
}

static MDB_val store_meta_key(const char *name)
{
    return store_val(name, strlen(name));
}

static void store_key_from_prefix(const struct addr_prefix *p, uint8_t key[STORE_KEY_LEN])
{
    key[0] = p->family;
    memcpy(key + 1, p->a, 16);
    key[17] = p->plen;
}

static bool store_prefix_valid(const struct addr_prefix *p)
{
    return (p->family == ADDR_V4 && p->plen <= 32) || (p->family == ADDR_V6 && p->plen <= 128);
}

static int store_prefix_from_key(const MDB_val *k, struct addr_prefix *p)
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

static size_t store_anc_size(uint8_t family)
{
    return family == ADDR_V4 ? STORE_ANC4_BYTES : STORE_ANC6_BYTES;
}

static unsigned store_family_bits(uint8_t family)
{
    return family == ADDR_V4 ? 32 : 128;
}

static uint64_t store_load_be64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* memcmp order for keys of any length, as LMDB's default compare. */
__attribute__((noinline)) static int store_cmp_bytes(const MDB_val *a, const MDB_val *b)
{
    size_t n = a->mv_size < b->mv_size ? a->mv_size : b->mv_size;
    int c = n ? memcmp(a->mv_data, b->mv_data, n) : 0;
    if (c)
        return c;
    return a->mv_size < b->mv_size ? -1 : a->mv_size > b->mv_size;
}

/* The same order in big-endian word compares for our 18-byte keys: a
 * lookup makes some twenty compares per B-tree descent. */
static int store_cmp_key(const MDB_val *a, const MDB_val *b)
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

static void store_lens_unpack(const uint8_t *bytes, size_t n, struct store_lens *l)
{
    uint8_t buf[24] = {0};
    memcpy(buf, bytes, n);
    l->w[0] = store_load_be64(buf);
    l->w[1] = store_load_be64(buf + 8);
    l->w[2] = store_load_be64(buf + 16);
}

static void store_lens_pack(const struct store_lens *l, uint8_t *bytes, size_t n)
{
    uint8_t buf[24];
    for (int i = 0; i < 24; i++)
        buf[i] = (uint8_t)(l->w[i / 8] >> (56 - 8 * (i % 8)));
    memcpy(bytes, buf, n);
}

static void store_lens_add(struct store_lens *l, unsigned len)
{
    l->w[len / 64] |= (uint64_t)1 << (63 - len % 64);
}

/* Keeps the lengths <= max only. */
static void store_lens_limit(struct store_lens *l, unsigned max)
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
static int store_lens_pop_longest(struct store_lens *l)
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
static unsigned store_key_common_bits(const uint8_t *ka, const uint8_t *kb)
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
static bool store_key_contains(const uint8_t *outer, const uint8_t *inner)
{
    return outer[0] == inner[0] && outer[17] <= inner[17] &&
           store_key_common_bits(outer, inner) >= outer[17];
}

/* The lengths of the entries that contain key's prefix and sort at or
 * before key (see the top of this file), through cur on entries; *found
 * and *val get the record the answer came from (found->mv_size is 0 when
 * there is none). MDB_SUCCESS with an empty set when nothing does. */
static int store_lookup_covering(MDB_cursor *cur, const uint8_t key[STORE_KEY_LEN],
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

/* ---- the filter (see the top of this file) ---- */

static uint32_t store_load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t store_f4_slot(const uint8_t a16[16])
{
    return store_load_be32(a16 + 12) >> 8;
}

static uint32_t store_f6_slot(const uint8_t a16[16])
{
    return (uint32_t)(store_load_be32(a16) * 2654435761u) >> (32 - STORE_F6_BITS);
}

static bool store_bit_has(const uint8_t *bits, uint32_t b)
{
    return (bits[b / 8] & (0x80u >> (b % 8))) != 0;
}

static void store_bit_set(uint8_t *bits, uint32_t b)
{
    bits[b / 8] |= (uint8_t)(0x80u >> (b % 8));
}

/* Sets bits [first, first + n). */
static void store_bits_set_range(uint8_t *bits, uint32_t first, uint32_t n)
{
    for (; n && first % 8; n--)
        store_bit_set(bits, first++);
    memset(bits + first / 8, 0xff, n / 8);
    for (uint32_t b = first + (n & ~7u); n % 8; n--)
        store_bit_set(bits, b++);
}

/* Marks the entry with key in the filter f4/f6. */
static void store_filter_add(uint8_t *f4, uint8_t *f6, const uint8_t key[STORE_KEY_LEN])
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
static bool store_filter_excludes(const uint8_t *f4, const uint8_t *f6,
                                  const uint8_t key[STORE_KEY_LEN])
{
    if (key[0] == ADDR_V4)
        return f4 && key[17] == 32 && !store_bit_has(f4, store_f4_slot(key + 1));
    return f6 && key[17] == 128 && !(f6[STORE_F6_BYTES - 1] & STORE_F6_SHORT) &&
           !store_bit_has(f6, store_f6_slot(key + 1));
}

/* The filter of every entry, into f4/f6 (cleared first): one sweep of the
 * keys. */
static int store_filter_build(const struct store *s, MDB_txn *txn, uint8_t *f4, uint8_t *f6)
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
static void store_filter_get(const struct store *s, MDB_txn *txn, const uint8_t **f4,
                             const uint8_t **f6)
{
    MDB_val k = store_meta_key("filter4"), v;
    *f4 = *f6 = NULL;
    if (mdb_get(txn, s->meta, &k, &v) == MDB_SUCCESS && v.mv_size == STORE_F4_BYTES)
        *f4 = v.mv_data;
    k = store_meta_key("filter6");
    if (mdb_get(txn, s->meta, &k, &v) == MDB_SUCCESS && v.mv_size == STORE_F6_BYTES)
        *f6 = v.mv_data;
}

static int store_filter_put(const struct store *s, MDB_txn *txn, const uint8_t *f4,
                            const uint8_t *f6)
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
static int store_filter_load(struct store *s, MDB_txn *txn, bool *have)
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
static int store_filter_create(struct store *s, MDB_txn *txn)
{
    MDB_stat st;
    int rc = mdb_stat(txn, s->entries, &st);
    if (rc != MDB_SUCCESS || st.ms_entries < s->filter_min)
        return rc;
    if (!s->filter && !(s->filter = malloc(STORE_F4_BYTES + STORE_F6_BYTES)))
        return ENOMEM;
    rc = store_filter_build(s, txn, s->filter, s->filter + STORE_F4_BYTES);
    if (rc == MDB_SUCCESS)
        rc = store_filter_put(s, txn, s->filter, s->filter + STORE_F4_BYTES);
    return rc;
}

/* DNSBL_STORE_FILTER_MIN and DNSBL_STORE_FLAT_MIN (tests only): entries
 * before a store gets a filter, a flat index; DNSBL_STORE_FLAT_CHANGES:
 * the fewest changes that make a rebuild due. */
static size_t store_min_env(const char *name, size_t dflt)
{
    const char *text = getenv(name);
    char *end;
    if (!text || !*text)
        return dflt;
    unsigned long long v = strtoull(text, &end, 10);
    return *end ? dflt : (size_t)v;
}

/* ---- value codec ---- */

/* max is the destination's size, NUL included. */
static void store_put_text(struct wire *w, const char *text, size_t max)
{
    size_t n = strnlen(text, max - 1);
    wire_put_u16(w, (uint16_t)n);
    wire_put_bytes(w, text, n);
}

static void store_get_text(struct wire *w, char *dst, size_t max)
{
    size_t n = wire_get_u16(w);
    if (n > max - 1 || !wire_need(w, n)) {
        w->err = true;
        dst[0] = '\0';
        return;
    }
    wire_get_bytes(w, dst, n);
    dst[n] = '\0';
    if (memchr(dst, '\0', n)) /* a C string never holds one: the value is garbage */
        w->err = true;
}

static void store_put_i64(struct wire *w, int64_t v)
{
    wire_put_u64(w, (uint64_t)v);
}

/* The groups of fields an entry value holds (version 2): a group whose
 * fields are all zero (all empty, for the texts) is left out, so an entry
 * that only holds an imported listing takes some 40 bytes, not 230. */
enum store_group {
    STORE_G_OPERATOR = 1,
    STORE_G_IMPORTED = 2,
    STORE_G_SEEN = 4,   /* first_seen, last_seen: every event sets them */
    STORE_G_COUNTS = 8, /* the evidence counters: zero for list data */
    STORE_G_SNDS = 16,
    STORE_G_TEXTS = 32,
    STORE_G_ALL = 63,
};

#define STORE_G_OPERATOR_LEN (1 + 4 + 8 + 8)
#define STORE_G_IMPORTED_LEN (1 + 1 + 4 + 4 + 8)
#define STORE_G_SEEN_LEN (8 + 8)
#define STORE_G_COUNTS_LEN (CNT_COUNT * 4 + 8 + AUTHC_COUNT * 4)
#define STORE_G_SNDS_LEN (1 + 1 + 4 + 4 * 4 + 2 * 8 + 1)
_Static_assert(1 + STORE_G_OPERATOR_LEN + STORE_G_IMPORTED_LEN + STORE_G_SEEN_LEN +
                       STORE_G_COUNTS_LEN + STORE_G_SNDS_LEN ==
                   STORE_ENTRY_VALUE_FIXED,
               "version 1 is every group, in order");

static bool store_any_u32(const uint32_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i])
            return true;
    return false;
}

static unsigned store_entry_groups(const struct entry *e)
{
    unsigned g = 0;
    uint32_t rate_bits;
    memcpy(&rate_bits, &e->snds.rate_pct, sizeof rate_bits);
    if (e->state || e->code || e->expires || e->state_time)
        g |= STORE_G_OPERATOR;
    if (e->imp_state || e->imp_flags || e->imp_code || e->imp_ttl || e->imp_time)
        g |= STORE_G_IMPORTED;
    if (e->first_seen || e->last_seen)
        g |= STORE_G_SEEN;
    if (store_any_u32(e->counts, CNT_COUNT) || e->volume ||
        store_any_u32(e->auth_fail, AUTHC_COUNT))
        g |= STORE_G_COUNTS;
    if (e->snds.colour || e->snds.rate_qual || rate_bits || e->snds.rcpt || e->snds.data ||
        e->snds.recipients || e->snds.trap_hits || e->snds.start || e->snds.end || e->snds_status)
        g |= STORE_G_SNDS;
    if (e->reason[0] || e->note[0] || e->imp_txt[0] || e->imp_dataset[0] || e->sources[0])
        g |= STORE_G_TEXTS;
    return g;
}

int store_encode_entry(const struct entry *e, uint8_t *buf, size_t cap, size_t *len)
{
    struct wire w;
    uint32_t rate_bits;
    unsigned g = store_entry_groups(e);

    wire_init(&w, buf, cap);
    wire_put_u8(&w, STORE_VALUE_VERSION);
    wire_put_u8(&w, (uint8_t)g);
    if (g & STORE_G_OPERATOR) {
        wire_put_u8(&w, e->state);
        wire_put_u32(&w, e->code);
        store_put_i64(&w, e->expires);
        store_put_i64(&w, e->state_time);
    }
    if (g & STORE_G_IMPORTED) {
        wire_put_u8(&w, e->imp_state);
        wire_put_u8(&w, e->imp_flags);
        wire_put_u32(&w, e->imp_code);
        wire_put_u32(&w, e->imp_ttl);
        store_put_i64(&w, e->imp_time);
    }
    if (g & STORE_G_SEEN) {
        store_put_i64(&w, e->first_seen);
        store_put_i64(&w, e->last_seen);
    }
    if (g & STORE_G_COUNTS) {
        for (size_t i = 0; i < CNT_COUNT; i++)
            wire_put_u32(&w, e->counts[i]);
        wire_put_u64(&w, e->volume);
        for (size_t i = 0; i < AUTHC_COUNT; i++)
            wire_put_u32(&w, e->auth_fail[i]);
    }
    if (g & STORE_G_SNDS) {
        memcpy(&rate_bits, &e->snds.rate_pct, sizeof rate_bits);
        wire_put_u8(&w, e->snds.colour);
        wire_put_u8(&w, (uint8_t)e->snds.rate_qual);
        wire_put_u32(&w, rate_bits);
        wire_put_u32(&w, e->snds.rcpt);
        wire_put_u32(&w, e->snds.data);
        wire_put_u32(&w, e->snds.recipients);
        wire_put_u32(&w, e->snds.trap_hits);
        store_put_i64(&w, e->snds.start);
        store_put_i64(&w, e->snds.end);
        wire_put_u8(&w, e->snds_status);
    }
    if (g & STORE_G_TEXTS) {
        store_put_text(&w, e->reason, sizeof e->reason);
        store_put_text(&w, e->note, sizeof e->note);
        store_put_text(&w, e->imp_txt, sizeof e->imp_txt);
        store_put_text(&w, e->imp_dataset, sizeof e->imp_dataset);
        store_put_text(&w, e->sources, sizeof e->sources);
    }
    if (w.err)
        return DNSBL_ESPACE;
    *len = wire_used(&w);
    return DNSBL_OK;
}

static bool store_rate_qual_valid(char q)
{
    return q == 0 || q == '<' || q == '>' || q == '=';
}

/* Readers of the fixed-size groups, whose length is checked once up
 * front: a hit on the query path decodes one entry, and a check per field
 * was most of its cost. */
static uint8_t store_rd_u8(const uint8_t **p)
{
    return *(*p)++;
}

static uint32_t store_rd_u32(const uint8_t **p)
{
    uint32_t v;
    memcpy(&v, *p, sizeof v);
    *p += sizeof v;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}

static uint64_t store_rd_u64(const uint8_t **p)
{
    uint64_t v = store_load_be64(*p);
    *p += sizeof v;
    return v;
}

static int64_t store_rd_i64(const uint8_t **p)
{
    return (int64_t)store_rd_u64(p);
}

/* Skips a string of the value, leaving dst empty. Its length is checked
 * as store_get_text does; its bytes are not read (store_check and every
 * full decode still refuse a NUL in one). */
static void store_skip_text(struct wire *w, char *dst, size_t max)
{
    size_t n = wire_get_u16(w);
    dst[0] = '\0';
    if (n > max - 1 || !wire_need(w, n)) {
        w->err = true;
        return;
    }
    w->pos += n;
}

/* The bytes the fixed-size groups in g take. */
static size_t store_groups_len(unsigned g)
{
    return (g & STORE_G_OPERATOR ? STORE_G_OPERATOR_LEN : 0) +
           (g & STORE_G_IMPORTED ? STORE_G_IMPORTED_LEN : 0) +
           (g & STORE_G_SEEN ? STORE_G_SEEN_LEN : 0) +
           (g & STORE_G_COUNTS ? STORE_G_COUNTS_LEN : 0) +
           (g & STORE_G_SNDS ? STORE_G_SNDS_LEN : 0);
}

/* Decodes into e (every field but the prefix); e is garbage on failure.
 * Version 1 is version 2 with every group and no groups byte. lean:
 * leave reason, note, imp_txt and sources empty, their lengths checked.
 * A group that is not there reads as zeros. */
static int store_decode_entry_part(const void *val, size_t len, struct entry *e, bool lean)
{
    const uint8_t *p = val, *end = p + len;
    uint32_t rate_bits = 0;
    unsigned g;

    if (len < 1)
        return DNSBL_ESCHEMA;
    uint8_t version = store_rd_u8(&p);
    if (version == 1) {
        g = STORE_G_ALL;
    } else if (version == STORE_VALUE_VERSION && p < end) {
        g = store_rd_u8(&p);
        if (g & ~(unsigned)STORE_G_ALL)
            return DNSBL_ESCHEMA;
    } else {
        return DNSBL_ESCHEMA;
    }
    if ((size_t)(end - p) < store_groups_len(g))
        return DNSBL_ESCHEMA;
    bool op = g & STORE_G_OPERATOR, imp = g & STORE_G_IMPORTED, seen = g & STORE_G_SEEN,
         ev = g & STORE_G_COUNTS, sn = g & STORE_G_SNDS;
    e->state = op ? store_rd_u8(&p) : 0;
    e->code = op ? store_rd_u32(&p) : 0;
    e->expires = op ? store_rd_i64(&p) : 0;
    e->state_time = op ? store_rd_i64(&p) : 0;

    e->imp_state = imp ? store_rd_u8(&p) : 0;
    e->imp_flags = imp ? store_rd_u8(&p) : 0;
    e->imp_code = imp ? store_rd_u32(&p) : 0;
    e->imp_ttl = imp ? store_rd_u32(&p) : 0;
    e->imp_time = imp ? store_rd_i64(&p) : 0;

    e->first_seen = seen ? store_rd_i64(&p) : 0;
    e->last_seen = seen ? store_rd_i64(&p) : 0;
    for (size_t i = 0; i < CNT_COUNT; i++)
        e->counts[i] = ev ? store_rd_u32(&p) : 0;
    e->volume = ev ? store_rd_u64(&p) : 0;
    for (size_t i = 0; i < AUTHC_COUNT; i++)
        e->auth_fail[i] = ev ? store_rd_u32(&p) : 0;

    e->snds.colour = sn ? store_rd_u8(&p) : 0;
    e->snds.rate_qual = sn ? (char)store_rd_u8(&p) : 0;
    if (sn)
        rate_bits = store_rd_u32(&p);
    memcpy(&e->snds.rate_pct, &rate_bits, sizeof rate_bits);
    e->snds.rcpt = sn ? store_rd_u32(&p) : 0;
    e->snds.data = sn ? store_rd_u32(&p) : 0;
    e->snds.recipients = sn ? store_rd_u32(&p) : 0;
    e->snds.trap_hits = sn ? store_rd_u32(&p) : 0;
    e->snds.start = sn ? store_rd_i64(&p) : 0;
    e->snds.end = sn ? store_rd_i64(&p) : 0;
    e->snds_status = sn ? store_rd_u8(&p) : 0;

    struct wire w;
    wire_init_ro(&w, p, (size_t)(end - p));
    if (!(g & STORE_G_TEXTS)) {
        e->reason[0] = e->note[0] = e->imp_txt[0] = e->imp_dataset[0] = e->sources[0] = '\0';
    } else if (lean) {
        store_skip_text(&w, e->reason, sizeof e->reason);
        store_skip_text(&w, e->note, sizeof e->note);
        store_skip_text(&w, e->imp_txt, sizeof e->imp_txt);
        store_get_text(&w, e->imp_dataset, sizeof e->imp_dataset);
        store_skip_text(&w, e->sources, sizeof e->sources);
    } else {
        store_get_text(&w, e->reason, sizeof e->reason);
        store_get_text(&w, e->note, sizeof e->note);
        store_get_text(&w, e->imp_txt, sizeof e->imp_txt);
        store_get_text(&w, e->imp_dataset, sizeof e->imp_dataset);
        store_get_text(&w, e->sources, sizeof e->sources);
    }

    if (w.err || wire_left(&w) != 0)
        return DNSBL_ESCHEMA;
    if (e->state > ENTRY_ALLOWED || e->imp_state > IMPORT_EXCLUDED ||
        (e->imp_flags & ~IMPORT_NO_TXT) != 0 || e->snds.colour > SNDS_RED ||
        !store_rate_qual_valid(e->snds.rate_qual) || e->snds_status > SNDS_STATUS_BLOCKED)
        return DNSBL_ESCHEMA;
    return DNSBL_OK;
}

static int store_decode_into(const void *val, size_t len, struct entry *e)
{
    return store_decode_entry_part(val, len, e, false);
}

int store_decode_entry(const void *val, size_t len, struct entry *out)
{
    struct entry e;

    e.prefix = out->prefix;
    int err = store_decode_into(val, len, &e);
    if (err != DNSBL_OK)
        return err;
    *out = e;
    return DNSBL_OK;
}

/* The entry part of an entries value, past the family's ancestors bitmap;
 * false when the value is too short to have one. */
static bool store_value_entry(const MDB_val *v, uint8_t family, MDB_val *entry)
{
    size_t an = store_anc_size(family);
    if (v->mv_size < an)
        return false;
    entry->mv_data = (uint8_t *)v->mv_data + an;
    entry->mv_size = v->mv_size - an;
    return true;
}

/* An entries value into *out, as store_decode_entry does (out alone on
 * garbage). */
static int store_decode_value(const MDB_val *v, uint8_t family, struct entry *out)
{
    MDB_val ent;
    if (!store_value_entry(v, family, &ent))
        return DNSBL_ESCHEMA;
    return store_decode_entry(ent.mv_data, ent.mv_size, out);
}

static void store_hkey(const uint8_t key[STORE_KEY_LEN], uint32_t day, uint8_t hkey[STORE_HKEY_LEN])
{
    memcpy(hkey, key, STORE_KEY_LEN);
    hkey[STORE_KEY_LEN] = (uint8_t)(day >> 24);
    hkey[STORE_KEY_LEN + 1] = (uint8_t)(day >> 16);
    hkey[STORE_KEY_LEN + 2] = (uint8_t)(day >> 8);
    hkey[STORE_KEY_LEN + 3] = (uint8_t)day;
}

static void store_encode_history(const struct history_day *d, uint8_t buf[STORE_HVAL_LEN])
{
    struct wire w;
    wire_init(&w, buf, STORE_HVAL_LEN);
    for (size_t i = 0; i < CNT_COUNT; i++)
        wire_put_u32(&w, d->counts[i]);
    wire_put_u64(&w, d->volume);
}

/* k is a history key of STORE_HKEY_LEN bytes; the day comes from it. */
static int store_decode_history(const MDB_val *k, const MDB_val *v, struct history_day *d)
{
    struct wire w;
    if (k->mv_size != STORE_HKEY_LEN || v->mv_size != STORE_HVAL_LEN)
        return DNSBL_ESCHEMA;
    wire_init_ro(&w, (const uint8_t *)k->mv_data + STORE_KEY_LEN, 4);
    d->day = wire_get_u32(&w);
    wire_init_ro(&w, v->mv_data, v->mv_size);
    for (size_t i = 0; i < CNT_COUNT; i++)
        d->counts[i] = wire_get_u32(&w);
    d->volume = wire_get_u64(&w);
    return DNSBL_OK;
}

/* ---- opening ---- */

bool store_exists(const char *dir)
{
    char path[PATH_MAX];
    struct stat st;

    if (snprintf(path, sizeof path, "%s/data.mdb", dir) >= (int)sizeof path)
        return false;
    /* An empty data.mdb is a creation killed before LMDB wrote its first
     * pages: no store yet, and only a writer can make one of it. */
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

static int store_mkdir_p(const char *dir, char *why, size_t whylen)
{
    char path[PATH_MAX];
    struct stat st;
    size_t len = strlen(dir);

    memcpy(path, dir, len + 1);
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, 0750) != 0 && errno != EEXIST) {
            store_set_why(why, whylen, "%s: create directory %s: %s", dir, path, strerror(errno));
            return DNSBL_EIO;
        }
        *p = c;
        if (c == '\0')
            break;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        store_set_why(why, whylen, "%s: not a directory", dir);
        return DNSBL_EIO;
    }
    return DNSBL_OK;
}

/* DNSBL_ENOENT (why untouched) when the record is missing. */
static int store_get_u64(const struct store *s, MDB_txn *txn, const char *name, uint64_t *out,
                         char *why, size_t whylen)
{
    MDB_val k = store_meta_key(name), v;
    char step[32];
    int rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == MDB_NOTFOUND)
        return DNSBL_ENOENT;
    if (rc != MDB_SUCCESS) {
        snprintf(step, sizeof step, "read %s", name);
        return store_lmdb_fail(s, rc, step, why, whylen);
    }
    if (v.mv_size != 8) {
        store_set_why(why, whylen, "%s: the %s record is %zu bytes, not 8", s->dir, name,
                      v.mv_size);
        return DNSBL_ESCHEMA;
    }
    struct wire w;
    wire_init_ro(&w, v.mv_data, v.mv_size);
    *out = wire_get_u64(&w);
    return DNSBL_OK;
}

static int store_put_u64(const struct store *s, MDB_txn *txn, const char *name, uint64_t value)
{
    uint8_t buf[8];
    struct wire w;
    wire_init(&w, buf, sizeof buf);
    wire_put_u64(&w, value);
    MDB_val k = store_meta_key(name), v = store_val(buf, sizeof buf);
    return mdb_put(txn, s->meta, &k, &v, 0);
}

/* ---- the flat index (see the top of this file) ---- */

/* The flat index of txn's snapshot into view; *ok false when there is none
 * or it is not one this program reads (then lookups use the B-tree). d4/d6
 * get the bitmaps of what changed since it was built, NULL when nothing
 * did. */
static void store_flat_get(const struct store *s, MDB_txn *txn, struct flat_view *view, bool *ok,
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

/* May the flat index answer for the full address in key: has nothing that
 * could cover it changed since the index was built? */
static bool store_flat_clean(const uint8_t *d4, const uint8_t *d6, const uint8_t key[STORE_KEY_LEN])
{
    if (!d4)
        return true;
    if (key[0] == ADDR_V4)
        return !store_bit_has(d4, store_f4_slot(key + 1));
    return !(d6[STORE_F6_BYTES - 1] & STORE_F6_SHORT) && !store_bit_has(d6, store_f6_slot(key + 1));
}

/* Has some address inside the entry key not changed since the index was
 * built? Then the index must hold the entry as it is (store_check). */
static bool store_flat_key_clean(const uint8_t *d4, const uint8_t *d6,
                                 const uint8_t key[STORE_KEY_LEN])
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
static bool store_dirty_has(const uint8_t *dirty, const uint8_t key[STORE_KEY_LEN])
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
static int store_dirty_load(struct store *s, MDB_txn *txn, bool *have, bool *replace)
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
static int store_dirty_put(const struct store *s, MDB_txn *txn, bool grew, size_t changed)
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

/* One try at store_flat_refresh: STORE_EMAPFULL when the map filled up. */
static int store_flat_refresh_once(struct store *s, bool force, struct store_flat_stats *st,
                                   char *why, size_t whylen)
{
    MDB_txn *txn;
    MDB_stat ms;
    MDB_val k, v;
    struct flat_builder *b = NULL;
    int err = store_write_begin(s, &txn, why, whylen);
    if (err != DNSBL_OK)
        return err;
    int rc = mdb_stat(txn, s->entries, &ms);
    if (rc != MDB_SUCCESS) {
        err = store_lmdb_fail(s, rc, "count the entries", why, whylen);
        goto abort;
    }
    st->entries = ms.ms_entries;
    uint64_t changes = 0;
    err = store_get_u64(s, txn, "flatchanges", &changes, NULL, 0);
    if (err != DNSBL_OK && err != DNSBL_ENOENT)
        changes = UINT64_MAX / 2; /* unreadable: rebuild, which replaces it */
    err = DNSBL_OK;
    st->changes = changes;
    struct flat_view view;
    const uint8_t *d4, *d6;
    bool usable;
    store_flat_get(s, txn, &view, &usable, &d4, &d6);
    k = store_meta_key("flat");
    bool present = mdb_get(txn, s->meta, &k, &v) == MDB_SUCCESS;
    size_t due = ms.ms_entries / STORE_FLAT_CHANGES_SHARE;
    if (due < s->flat_changes_min)
        due = s->flat_changes_min;
    bool need = force || (present ? !usable || changes >= due : ms.ms_entries >= s->flat_min);
    if (!need) {
        store_write_abort(s, txn);
        return DNSBL_OK;
    }

    /* Due, from a sound index: what did not change is taken from it.
     * Forced, the index is made from the B-tree alone, so a reindex
     * repairs a damaged one. */
    st->incremental = !force && usable;
    err = flat_builder_new(&b);
    if (err == DNSBL_OK)
        rc = st->incremental ? store_flat_merge(s, txn, &view, d4, d6, b, &st->from_tree)
                             : store_flat_build(s, txn, b);
    if (!st->incremental)
        st->from_tree = ms.ms_entries;
    if (err != DNSBL_OK || rc == ENOMEM) {
        store_set_why(why, whylen, "%s: out of memory for the flat index of %zu entries", s->dir,
                      ms.ms_entries);
        err = DNSBL_ENOMEM;
        goto abort;
    }
    if (rc != MDB_SUCCESS) {
        err = store_lmdb_fail(s, rc, "read the entries for the flat index", why, whylen);
        goto abort;
    }
    k = store_meta_key("flat");
    v.mv_size = flat_builder_size(b);
    v.mv_data = NULL;
    rc = mdb_put(txn, s->meta, &k, &v, MDB_RESERVE);
    if (rc == MDB_SUCCESS) {
        flat_builder_write(b, v.mv_data);
        for (const char *const *name = (const char *const[]){"flatdirty", "flatchanges", NULL};
             rc == MDB_SUCCESS && *name; name++) {
            k = store_meta_key(*name);
            rc = mdb_del(txn, s->meta, &k, NULL);
            if (rc == MDB_NOTFOUND)
                rc = MDB_SUCCESS;
        }
    }
    if (rc != MDB_SUCCESS) {
        err = store_lmdb_fail(s, rc, "write the flat index", why, whylen);
        goto abort;
    }
    st->rebuilt = true;
    st->bytes = flat_builder_size(b);
    st->values = flat_builder_values(b);
    flat_builder_free(b);
    return store_write_commit(s, txn, why, whylen);

abort:
    flat_builder_free(b);
    store_write_abort(s, txn);
    return err;
}

static int store_open_dbs(struct store *s, MDB_txn *txn, unsigned flags, char *why, size_t whylen)
{
    MDB_dbi *dbis[] = {&s->meta, &s->entries, &s->seen, &s->history};
    char step[64];

    for (size_t i = 0; i < sizeof dbis / sizeof dbis[0]; i++) {
        int rc = mdb_dbi_open(txn, store_db_names[i], flags, dbis[i]);
        if (rc == MDB_SUCCESS && dbis[i] == &s->entries)
            rc = mdb_set_compare(txn, *dbis[i], store_cmp_key);
        if (rc != MDB_SUCCESS) {
            snprintf(step, sizeof step, "open database %s", store_db_names[i]);
            int err = store_lmdb_fail(s, rc, step, why, whylen);
            /* A missing table in an existing file: not a store of ours. */
            return err == DNSBL_ENOENT ? DNSBL_ESCHEMA : err;
        }
    }
    return DNSBL_OK;
}

/* The ancestors of entries met in key order: each key on the stack
 * contains the one above it, so a key that the top does not contain is
 * contained by nothing later either and is dropped. */
struct store_ancestry {
    uint8_t stack[STORE_COVERING_MAX][STORE_KEY_LEN];
    size_t n;
};

static void store_ancestry_next(struct store_ancestry *w, const uint8_t key[STORE_KEY_LEN],
                                struct store_lens *lens)
{
    while (w->n > 0 && !store_key_contains(w->stack[w->n - 1], key))
        w->n--;
    memset(lens, 0, sizeof *lens);
    for (size_t i = 0; i < w->n; i++)
        store_lens_add(lens, w->stack[i][17]);
    if (w->n < STORE_COVERING_MAX)
        memcpy(w->stack[w->n++], key, STORE_KEY_LEN);
}

/* Versions 1 and 2 to 3: every entries value gets its ancestors bitmap,
 * in one sweep in key order; then the old layout's leftovers go. Keys
 * that are not valid prefixes are left as they are (store_check reports
 * them). */
static int store_upgrade(const struct store *s, MDB_txn *txn)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    MDB_dbi cover;
    struct store_lens lens;
    struct addr_prefix p;
    size_t cap = STORE_ANC6_BYTES + STORE_ENTRY_VALUE_MAX;
    uint8_t *buf = malloc(cap);
    struct store_ancestry *w = calloc(1, sizeof *w);
    int rc = buf && w ? mdb_cursor_open(txn, s->entries, &cur) : ENOMEM;
    if (rc == MDB_SUCCESS)
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    for (; rc == MDB_SUCCESS; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (store_prefix_from_key(&k, &p) != DNSBL_OK)
            continue;
        store_ancestry_next(w, k.mv_data, &lens);
        size_t an = store_anc_size(p.family);
        if (v.mv_size > cap - an)
            continue; /* garbage too long to be an entry: check names it */
        memcpy(buf + an, v.mv_data, v.mv_size);
        store_lens_pack(&lens, buf, an);
        /* Our own copy of the key: a value that changes size is moved,
         * and k points into the page. */
        uint8_t key[STORE_KEY_LEN];
        memcpy(key, k.mv_data, sizeof key);
        MDB_val nk = store_val(key, sizeof key), nv = store_val(buf, an + v.mv_size);
        rc = mdb_cursor_put(cur, &nk, &nv, MDB_CURRENT);
        if (rc != MDB_SUCCESS)
            break;
    }
    if (cur)
        mdb_cursor_close(cur);
    free(buf);
    free(w);
    if (rc != MDB_NOTFOUND)
        return rc;
    rc = mdb_dbi_open(txn, "cover", 0, &cover);
    if (rc == MDB_SUCCESS)
        rc = mdb_drop(txn, cover, 1);
    for (const char *const *name = (const char *const[]){"lens4", "lens6", NULL};
         (rc == MDB_SUCCESS || rc == MDB_NOTFOUND) && *name; name++) {
        k = store_meta_key(*name);
        rc = mdb_del(txn, s->meta, &k, NULL);
    }
    return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
}

static int store_put_schema(const struct store *s, MDB_txn *txn)
{
    uint8_t buf[4];
    struct wire w;
    wire_init(&w, buf, sizeof buf);
    wire_put_u32(&w, STORE_SCHEMA);
    MDB_val k = store_meta_key("schema"), v = store_val(buf, sizeof buf);
    return mdb_put(txn, s->meta, &k, &v, 0);
}

/* Checks the schema record; *missing is set (and DNSBL_OK returned) when
 * there is none, which the caller decides about. */
static int store_check_schema(struct store *s, MDB_txn *txn, bool *missing, uint32_t *old,
                              char *why, size_t whylen)
{
    MDB_val k = store_meta_key("schema"), v;
    int rc = mdb_get(txn, s->meta, &k, &v);

    *missing = false;
    *old = 0;
    if (rc == MDB_NOTFOUND) {
        *missing = true;
        return DNSBL_OK;
    }
    if (rc != MDB_SUCCESS)
        return store_lmdb_fail(s, rc, "read schema version", why, whylen);
    if (v.mv_size != 4) {
        store_set_why(why, whylen, "%s: the schema version record is %zu bytes, not 4", s->dir,
                      v.mv_size);
        return DNSBL_ESCHEMA;
    }
    struct wire w;
    wire_init_ro(&w, v.mv_data, v.mv_size);
    uint32_t version = wire_get_u32(&w);
    if (version >= STORE_SCHEMA_OLDEST && version < STORE_SCHEMA) {
        *old = version;
        return DNSBL_OK;
    }
    if (version != STORE_SCHEMA) {
        store_set_why(why, whylen,
                      "%s: the store has schema version %u, this program knows version %u", s->dir,
                      version, STORE_SCHEMA);
        return DNSBL_ESCHEMA;
    }
    return DNSBL_OK;
}

static int store_no_store(const struct store *s, char *why, size_t whylen)
{
    store_set_why(why, whylen, "%s: no store here (create one with dnsblctl)", s->dir);
    return DNSBL_ENOENT;
}

static int store_init_rw(struct store *s, char *why, size_t whylen)
{
    MDB_txn *txn;
    bool missing;
    uint32_t old;
    int rc;
    int err = store_write_begin(s, &txn, why, whylen);
    if (err != DNSBL_OK)
        return err;

    err = store_open_dbs(s, txn, MDB_CREATE, why, whylen);
    if (err == DNSBL_OK)
        err = store_check_schema(s, txn, &missing, &old, why, whylen);
    if (err == DNSBL_OK && old) {
        /* 3 to 4 added the flat index, which a store gets when it is due. */
        rc = old < 3 ? store_upgrade(s, txn) : MDB_SUCCESS;
        if (rc == MDB_SUCCESS)
            rc = store_put_schema(s, txn);
        if (rc != MDB_SUCCESS) {
            char step[64];
            snprintf(step, sizeof step, "upgrade the store from schema version %u to %u", old,
                     STORE_SCHEMA);
            err = store_lmdb_fail(s, rc, step, why, whylen);
        }
    }
    if (err == DNSBL_OK && missing) {
        /* An empty meta is a store whose creation never committed (or a
         * brand-new file): initialise it if asked to. Anything else without
         * a schema record is not ours. */
        MDB_stat st;
        rc = mdb_stat(txn, s->meta, &st);
        if (rc != MDB_SUCCESS) {
            err = store_lmdb_fail(s, rc, "read meta", why, whylen);
        } else if (st.ms_entries != 0) {
            store_set_why(why, whylen, "%s: not a dnsbl store (no schema version)", s->dir);
            err = DNSBL_ESCHEMA;
        } else if (!(s->flags & STORE_CREATE)) {
            err = store_no_store(s, why, whylen);
        } else {
            rc = store_put_schema(s, txn);
            if (rc == MDB_SUCCESS)
                rc = store_put_u64(s, txn, "serial", 0);
            if (rc != MDB_SUCCESS)
                err = store_lmdb_fail(s, rc, "write schema", why, whylen);
        }
    }
    if (err == DNSBL_OK && old) {
        /* An older store is as big as it will be for a while: filter it now. */
        const uint8_t *f4, *f6;
        store_filter_get(s, txn, &f4, &f6);
        rc = f4 && f6 ? MDB_SUCCESS : store_filter_create(s, txn);
        if (rc != MDB_SUCCESS)
            err = store_lmdb_fail(s, rc, "build the filter", why, whylen);
    }
    if (err != DNSBL_OK) {
        store_write_abort(s, txn);
        return err;
    }
    /* Committing is what keeps the database handles open for later txns. */
    return store_write_commit(s, txn, why, whylen);
}

static int store_init_ro(struct store *s, char *why, size_t whylen)
{
    MDB_txn *txn;
    bool missing;
    uint32_t old;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != MDB_SUCCESS)
        return store_lmdb_fail(s, rc, "begin read transaction", why, whylen);

    int err = DNSBL_OK;
    rc = mdb_dbi_open(txn, "meta", 0, &s->meta);
    if (rc == MDB_NOTFOUND)
        err = store_no_store(s, why, whylen); /* a creation that never committed */
    else if (rc != MDB_SUCCESS)
        err = store_lmdb_fail(s, rc, "open database meta", why, whylen);
    if (err == DNSBL_OK)
        err = store_check_schema(s, txn, &missing, &old, why, whylen);
    if (err == DNSBL_OK && missing)
        err = store_no_store(s, why, whylen);
    if (err == DNSBL_OK && old)
        err = STORE_EOLD;
    if (err == DNSBL_OK)
        err = store_open_dbs(s, txn, 0, why, whylen);
    if (err != DNSBL_OK) {
        mdb_txn_abort(txn);
        return err;
    }
    rc = mdb_txn_commit(txn);
    if (rc != MDB_SUCCESS)
        return store_lmdb_fail(s, rc, "commit", why, whylen);
    return DNSBL_OK;
}

/* One size of DNSBL_STORE_MAPSIZE: digits and an optional k, m or g. */
static bool store_parse_size(const char *text, const char **end, size_t *out)
{
    if (!isdigit((unsigned char)*text))
        return false;
    char *e;
    errno = 0;
    unsigned long long v = strtoull(text, &e, 10);
    unsigned shift = 0;
    switch (tolower((unsigned char)*e)) {
    case 'k':
        shift = 10;
        e++;
        break;
    case 'm':
        shift = 20;
        e++;
        break;
    case 'g':
        shift = 30;
        e++;
        break;
    }
    if (errno != 0 || v > (SIZE_MAX >> shift))
        return false;
    *out = (size_t)v << shift;
    *end = e;
    return true;
}

/* The map's first size and its limit: the defaults, or what a test set in
 * DNSBL_STORE_MAPSIZE=INITIAL[,MAX]. */
static int store_map_limits(struct store *s, char *why, size_t whylen)
{
    const char *text = getenv("DNSBL_STORE_MAPSIZE");
    s->map_initial = STORE_MAP_INITIAL;
    s->map_max = STORE_MAP_MAX;
    if (!text || !*text)
        return DNSBL_OK;
    const char *p = text;
    size_t max = STORE_MAP_MAX;
    bool ok = store_parse_size(p, &p, &s->map_initial);
    if (ok && *p == ',')
        ok = store_parse_size(p + 1, &p, &max);
    if (!ok || *p != '\0' || s->map_initial < STORE_MAP_MIN || max < s->map_initial ||
        max > STORE_MAP_MAX) {
        store_set_why(why, whylen,
                      "DNSBL_STORE_MAPSIZE='%s': want INITIAL[,MAX] in bytes (k, m, g "
                      "suffixes), %zu <= INITIAL <= MAX <= %zu",
                      text, STORE_MAP_MIN, STORE_MAP_MAX);
        return DNSBL_EINVAL;
    }
    s->map_max = max;
    return DNSBL_OK;
}

int store_open(const char *dir, int flags, struct store **out, char *why, size_t whylen)
{
    struct store *s;
    int rc, err;
    bool rdonly = (flags & STORE_RDONLY) != 0;

    *out = NULL;
    if (!dir || !*dir) {
        store_set_why(why, whylen, "no store directory given");
        return DNSBL_EINVAL;
    }
    if (strlen(dir) >= PATH_MAX - sizeof "/data.mdb") {
        store_set_why(why, whylen, "%.64s...: store directory name too long", dir);
        return DNSBL_EINVAL;
    }
    s = calloc(1, sizeof *s);
    if (!s) {
        store_set_why(why, whylen, "%s: out of memory", dir);
        return DNSBL_ENOMEM;
    }
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    /* A read-only opener can never create, whatever else it asked for. */
    s->flags = rdonly ? STORE_RDONLY : flags;
    pthread_mutex_init(&s->remap_lock, NULL);
    atomic_init(&s->remapping, false);
    atomic_init(&s->loose, 0);
    err = store_map_limits(s, why, whylen);
    if (err != DNSBL_OK)
        goto fail;
    s->filter_min = store_min_env("DNSBL_STORE_FILTER_MIN", STORE_FILTER_MIN);
    s->flat_min = store_min_env("DNSBL_STORE_FLAT_MIN", STORE_FLAT_MIN);
    s->flat_changes_min = store_min_env("DNSBL_STORE_FLAT_CHANGES", STORE_FLAT_CHANGES_MIN);

    if (!rdonly && (flags & STORE_CREATE)) {
        err = store_mkdir_p(dir, why, whylen);
        if (err != DNSBL_OK)
            goto fail;
    } else if (!store_exists(dir)) {
        err = store_no_store(s, why, whylen);
        goto fail;
    }

    rc = mdb_env_create(&s->env);
    if (rc != MDB_SUCCESS) {
        s->env = NULL;
        err = store_lmdb_fail(s, rc, "create environment", why, whylen);
        goto fail;
    }
    rc = mdb_env_set_maxdbs(s->env, STORE_MAXDBS);
    if (rc != MDB_SUCCESS) {
        err = store_lmdb_fail(s, rc, "set maxdbs", why, whylen);
        goto fail;
    }
    rc = mdb_env_set_maxreaders(s->env, STORE_MAXREADERS);
    if (rc != MDB_SUCCESS) {
        err = store_lmdb_fail(s, rc, "set maxreaders", why, whylen);
        goto fail;
    }
    /* An existing store keeps the size its file records (set before the
     * open, ours would replace it); a new one starts at map_initial. */
    rc = store_exists(dir) ? MDB_SUCCESS : mdb_env_set_mapsize(s->env, s->map_initial);
    if (rc != MDB_SUCCESS) {
        err = store_lmdb_fail(s, rc, "set map size", why, whylen);
        goto fail;
    }
    /* A writer syncs the data of every commit but its meta page only with
     * the next commit or at store_close: half the flushes of a many-batch
     * import. LMDB keeps the store consistent either way; a system crash
     * may undo the last commit before close, never a process kill. */
    rc = mdb_env_open(s->env, dir, MDB_NOTLS | (rdonly ? MDB_RDONLY : MDB_NOMETASYNC), 0640);
    if (rc != MDB_SUCCESS) {
        err = store_lmdb_fail(s, rc, "open environment", why, whylen);
        goto fail;
    }
    /* A writer lifts a smaller recorded size (LMDB's 1 MiB default, a test's
     * tiny map) to map_initial now, while no transaction is open. */
    MDB_envinfo info;
    if (!rdonly && mdb_env_info(s->env, &info) == MDB_SUCCESS && info.me_mapsize < s->map_initial) {
        rc = mdb_env_set_mapsize(s->env, s->map_initial);
        if (rc != MDB_SUCCESS) {
            err = store_lmdb_fail(s, rc, "set map size", why, whylen);
            goto fail;
        }
    }
    /* Reader slots of killed processes pin old snapshots, and so pages a
     * writer could reuse: free them now rather than when the table fills. */
    int dead = 0;
    mdb_reader_check(s->env, &dead);
    if (rdonly) {
        err = store_init_ro(s, why, whylen);
    } else {
        /* An upgrade may not fit the map: grow it as store_apply does. */
        while ((err = store_init_rw(s, why, whylen)) == STORE_EMAPFULL) {
            err = store_grow(s, why, whylen);
            if (err != DNSBL_OK)
                break;
        }
    }
    if (err != DNSBL_OK)
        goto fail;
    *out = s;
    return DNSBL_OK;

fail:
    mdb_env_close(s->env);
    pthread_mutex_destroy(&s->remap_lock);
    free(s->filter);
    free(s->dirty);
    free(s);
    if (err == STORE_EOLD)
        return store_open_upgraded(dir, flags, out, why, whylen);
    return store_public_err(err);
}

/* A reader that met an older store: upgrade it through a writer, which
 * needs write access, then open it as asked. */
static int store_open_upgraded(const char *dir, int flags, struct store **out, char *why,
                               size_t whylen)
{
    struct store *w;
    char wwhy[PATH_MAX + 256];
    int err = store_open(dir, 0, &w, wwhy, sizeof wwhy);
    if (err != DNSBL_OK) {
        store_set_why(why, whylen,
                      "%s: the store has an older schema version and must be upgraded to "
                      "version %u, which needs write access: %s",
                      dir, STORE_SCHEMA, wwhy);
        return err;
    }
    store_close(w);
    return store_open(dir, flags, out, why, whylen);
}

int store_sync(struct store *s, char *why, size_t whylen)
{
    if (s->flags & STORE_RDONLY)
        return DNSBL_OK;
    int rc = mdb_env_sync(s->env, 1);
    return rc == MDB_SUCCESS ? DNSBL_OK : store_lmdb_fail(s, rc, "sync", why, whylen);
}

void store_close(struct store *s)
{
    if (!s)
        return;
    store_sync(s, NULL, 0); /* the last commit's meta page (MDB_NOMETASYNC) */
    mdb_env_close(s->env);
    pthread_mutex_destroy(&s->remap_lock);
    free(s->scratch);
    free(s->filter);
    free(s->dirty);
    free(s);
}

/* ---- read transactions and map resizes ---- */

/* Announce a transaction about to begin on *mine (a reader's own counter,
 * or s->loose), waiting out a remap in progress. Both sides are seq_cst:
 * either store_remap sees the increment and waits for the transaction to
 * end, or this sees `remapping` and backs off. */
static void store_gate_enter(struct store *s, _Atomic unsigned *mine)
{
    for (;;) {
        atomic_fetch_add(mine, 1);
        if (!atomic_load(&s->remapping))
            return;
        atomic_fetch_sub(mine, 1);
        /* The remap holds the lock from before raising the flag to after
         * lowering it. */
        pthread_mutex_lock(&s->remap_lock);
        pthread_mutex_unlock(&s->remap_lock);
    }
}

static void store_gate_leave(_Atomic unsigned *mine)
{
    atomic_fetch_sub_explicit(mine, 1, memory_order_release);
}

static bool store_txns_open(struct store *s)
{
    if (atomic_load(&s->loose) != 0)
        return true;
    for (struct store_reader *r = s->readers; r; r = r->next)
        if (atomic_load(&r->in_txn) != 0)
            return true;
    return false;
}

/* mdb_env_set_mapsize(env, size) once no transaction of this store is
 * open (size 0 adopts the size the file records). Waits for the open
 * ones, which last one batch of queries, at most STORE_REMAP_WAIT_MS:
 * past that (a transaction open in the caller's own thread, a caller
 * bug) it gives up with EBUSY rather than pull the map from under it. */
static int store_remap(struct store *s, size_t size)
{
    int rc = MDB_SUCCESS;
    pthread_mutex_lock(&s->remap_lock);
    atomic_store(&s->remapping, true);
    for (unsigned waited = 0; store_txns_open(s); waited++) {
        if (waited >= STORE_REMAP_WAIT_MS * 10) {
            rc = EBUSY;
            break;
        }
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    if (rc == MDB_SUCCESS) {
        rc = mdb_env_set_mapsize(s->env, size);
        atomic_fetch_add(&s->map_gen, 1);
    }
    atomic_store(&s->remapping, false);
    pthread_mutex_unlock(&s->remap_lock);
    return rc;
}

/* Begin (*txn NULL) or renew (*txn reset) a read transaction counted on
 * *mine, recovering from: another process grew the map (adopt its size,
 * a few times, as it may grow again meanwhile), and stale reader slots left
 * by dead processes (once). On success the caller ends the transaction
 * and then calls store_gate_leave(mine). */
static int store_read_begin(struct store *s, MDB_txn **txn, _Atomic unsigned *mine)
{
    unsigned resized = 0;
    bool checked = false;

    for (;;) {
        store_gate_enter(s, mine);
        int rc = *txn ? mdb_txn_renew(*txn) : mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
        if (rc == MDB_SUCCESS)
            return rc;
        store_gate_leave(mine);
        if (rc == MDB_MAP_RESIZED && resized++ < STORE_RESIZED_TRIES) {
            int mrc = store_remap(s, 0);
            if (mrc != MDB_SUCCESS)
                return mrc;
        } else if (rc == MDB_READERS_FULL && !checked) {
            int dead = 0;
            checked = true;
            mdb_reader_check(s->env, &dead);
        } else {
            return rc;
        }
    }
}

/* A read transaction of one call (count, serial, foreach, check). */
static int store_loose_begin(struct store *s, MDB_txn **txn)
{
    *txn = NULL;
    return store_read_begin(s, txn, &s->loose);
}

static void store_loose_end(struct store *s, MDB_txn *txn)
{
    mdb_txn_abort(txn);
    store_gate_leave(&s->loose);
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
    int rc = store_read_begin(r->s, &r->txn, &r->in_txn);
    if (rc != MDB_SUCCESS)
        return store_map_err(rc);
    /* The cursors are made with the first transaction, so lookups never
     * allocate, and renewed when a lookup first needs them: a batch the
     * flat index answers needs neither. */
    r->hcur_ready = r->ecur_ready = !r->hcur;
    rc = r->hcur ? MDB_SUCCESS : mdb_cursor_open(r->txn, r->s->history, &r->hcur);
    if (rc == MDB_SUCCESS && !r->ecur)
        rc = mdb_cursor_open(r->txn, r->s->entries, &r->ecur);
    int err = store_map_err(rc);
    if (err != DNSBL_OK) {
        mdb_txn_reset(r->txn);
        store_gate_leave(&r->in_txn);
        return err;
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
            out[i].reason[0] = out[i].note[0] = out[i].imp_txt[0] = out[i].sources[0] = '\0';
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
    MDB_val found, fval;
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

int store_foreach(struct store *s, int (*cb)(const struct entry *e, void *arg), void *arg)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur;
    MDB_val k, v;
    struct entry e;
    int ret = 0;

    int rc = store_loose_begin(s, &txn);
    if (rc != MDB_SUCCESS)
        return store_map_err(rc);
    rc = mdb_cursor_open(txn, s->entries, &cur);
    if (rc != MDB_SUCCESS) {
        store_loose_end(s, txn);
        return store_map_err(rc);
    }
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        memset(&e, 0, sizeof e);
        ret = store_prefix_from_key(&k, &e.prefix);
        if (ret == DNSBL_OK)
            ret = store_decode_value(&v, e.prefix.family, &e);
        if (ret == DNSBL_OK)
            ret = cb(&e, arg);
        if (ret != 0)
            break;
    }
    if (ret == 0 && rc != MDB_NOTFOUND)
        ret = store_map_err(rc);
    mdb_cursor_close(cur);
    store_loose_end(s, txn);
    return ret;
}

/* ---- integrity check ---- */

struct store_checker {
    struct store *s;
    MDB_txn *txn;
    void (*problem)(void *arg, const char *what);
    void *arg;
    size_t n;
};

__attribute__((format(printf, 2, 3))) static void store_check_report(struct store_checker *c,
                                                                     const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    c->n++;
    if (c->problem)
        c->problem(c->arg, what);
}

/* A key we cannot show as a prefix, in hex (cut after 40 bytes). */
static const char *store_check_hex(const MDB_val *k, char *buf, size_t cap)
{
    const uint8_t *p = k->mv_data;
    size_t n = k->mv_size < 40 ? k->mv_size : 40, used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used + 3 < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%02x", p[i]);
    if (n < k->mv_size && used + 4 < cap)
        snprintf(buf + used, cap - used, "...");
    return buf;
}

/* The prefix an 18-byte entries key stands for, when it is one this
 * module could have written: family 4 or 6, a valid length, IPv4 mapped,
 * no host bits. Otherwise why says what is wrong. */
static bool store_check_key(const MDB_val *k, struct addr_prefix *p, const char **why)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (k->mv_size != STORE_KEY_LEN) {
        *why = "key length is not 18 bytes";
        return false;
    }
    if (store_prefix_from_key(k, p) != DNSBL_OK) {
        *why = "bad family or prefix length";
        return false;
    }
    if (p->family == ADDR_V4 && memcmp(p->a, mapped, sizeof mapped) != 0) {
        *why = "an IPv4 key that is not IPv4-mapped";
        return false;
    }
    struct addr_prefix m = *p;
    addr_mask(&m);
    if (memcmp(m.a, p->a, sizeof p->a) != 0) {
        *why = "host bits set past the prefix length";
        return false;
    }
    return true;
}

static int store_check_meta(struct store_checker *c)
{
    struct store *s = c->s;
    MDB_val k = store_meta_key("schema"), v;
    int rc = mdb_get(c->txn, s->meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        store_check_report(c, "meta: no schema version record");
    } else if (rc != MDB_SUCCESS) {
        return store_map_err(rc);
    } else if (v.mv_size != 4) {
        store_check_report(c, "meta: the schema version record is %zu bytes, not 4", v.mv_size);
    } else {
        struct wire w;
        wire_init_ro(&w, v.mv_data, v.mv_size);
        uint32_t version = wire_get_u32(&w);
        if (version != STORE_SCHEMA)
            store_check_report(c, "meta: schema version %u, this program knows %u", version,
                               STORE_SCHEMA);
    }
    k = store_meta_key("serial");
    rc = mdb_get(c->txn, s->meta, &k, &v);
    if (rc == MDB_NOTFOUND)
        store_check_report(c, "meta: no serial record");
    else if (rc != MDB_SUCCESS)
        return store_map_err(rc);
    else if (v.mv_size != 8)
        store_check_report(c, "meta: the serial record is %zu bytes, not 8", v.mv_size);

    return DNSBL_OK;
}

/* Every key and value decodes, and every ancestors bitmap is what an
 * in-order sweep of the keys finds (store_ancestry). */
static int store_check_entries(struct store_checker *c)
{
    MDB_cursor *cur;
    MDB_val k, v, ent;
    struct entry e;
    struct store_lens want, have;
    char text[ADDR_TEXT_MAX], hex[96];
    const char *why;
    struct store_ancestry *w = calloc(1, sizeof *w);
    if (!w)
        return DNSBL_ENOMEM;
    int rc = mdb_cursor_open(c->txn, c->s->entries, &cur);
    if (rc != MDB_SUCCESS) {
        free(w);
        return store_map_err(rc);
    }
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (!store_check_key(&k, &e.prefix, &why)) {
            store_check_report(c, "entries: key %s: %s", store_check_hex(&k, hex, sizeof hex), why);
            continue;
        }
        store_ancestry_next(w, k.mv_data, &want);
        addr_format(&e.prefix, text, sizeof text);
        if (!store_value_entry(&v, e.prefix.family, &ent) ||
            store_decode_entry(ent.mv_data, ent.mv_size, &e) != DNSBL_OK) {
            store_check_report(c, "entries: %s: the %zu-byte value does not decode", text,
                               v.mv_size);
            continue;
        }
        store_lens_unpack(v.mv_data, store_anc_size(e.prefix.family), &have);
        if (memcmp(&have, &want, sizeof have) != 0)
            store_check_report(c,
                               "entries: %s: the lengths of the entries containing it are wrong "
                               "(lookups would miss or invent covering entries)",
                               text);
    }
    mdb_cursor_close(cur);
    free(w);
    return rc == MDB_NOTFOUND ? DNSBL_OK : store_map_err(rc);
}

/* A filter may have bits to spare, never a clear bit where an entry is:
 * lookups there would answer as if nothing covered the address. */
static int store_check_filter(struct store_checker *c)
{
    const uint8_t *f4, *f6;
    store_filter_get(c->s, c->txn, &f4, &f6);
    MDB_val k = store_meta_key("filter4"), v;
    if (!f4 && mdb_get(c->txn, c->s->meta, &k, &v) == MDB_SUCCESS)
        store_check_report(c, "meta: filter4 is %zu bytes, not %zu", v.mv_size, STORE_F4_BYTES);
    k = store_meta_key("filter6");
    if (!f6 && mdb_get(c->txn, c->s->meta, &k, &v) == MDB_SUCCESS)
        store_check_report(c, "meta: filter6 is %zu bytes, not %zu", v.mv_size, STORE_F6_BYTES);
    if (!f4 || !f6)
        return DNSBL_OK; /* no filter: lookups do without */
    uint8_t *want = malloc(STORE_F4_BYTES + STORE_F6_BYTES);
    if (!want)
        return DNSBL_ENOMEM;
    int rc = store_filter_build(c->s, c->txn, want, want + STORE_F4_BYTES);
    if (rc == MDB_SUCCESS) {
        size_t missing4 = 0, missing6 = 0;
        char text[ADDR_TEXT_MAX];
        for (uint32_t i = 0; i < STORE_F4_BYTES; i++) {
            uint8_t lost = want[i] & (uint8_t)~f4[i];
            for (unsigned b = 0; lost && b < 8; b++) {
                if (!(lost & (0x80u >> b)))
                    continue;
                if (missing4++ < 5) {
                    uint32_t net = (i * 8 + b) << 8;
                    snprintf(text, sizeof text, "%u.%u.%u.0/24", net >> 24, (net >> 16) & 255,
                             (net >> 8) & 255);
                    store_check_report(c,
                                       "meta: filter4: %s holds entries but its bit is clear "
                                       "(lookups there would miss them)",
                                       text);
                }
            }
        }
        for (size_t i = 0; i < STORE_F6_BYTES; i++)
            missing6 += (size_t)__builtin_popcount(want[STORE_F4_BYTES + i] & ~f6[i]);
        if (missing4 > 5)
            store_check_report(c, "meta: filter4: %zu more /24s with entries have a clear bit",
                               missing4 - 5);
        if (missing6)
            store_check_report(c,
                               "meta: filter6: %zu bits of IPv6 entries are clear (lookups "
                               "would miss them)",
                               missing6);
    }
    free(want);
    return store_map_err(rc);
}

static void store_check_flat_problem(void *arg, const char *what)
{
    store_check_report(arg, "meta: %s", what);
}

#define STORE_CHECK_FLAT_SHOWN 10 /* problems of the index named one by one */

__attribute__((format(printf, 3, 4))) static void
store_check_flat_report(struct store_checker *c, size_t *seen, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    if ((*seen)++ >= STORE_CHECK_FLAT_SHOWN)
        return;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    store_check_report(c, "meta: flat index: %s", what);
}

/* The flat index: well formed (flat_view_verify), every key in it an
 * entry, and wherever nothing is marked changed since it was built, each
 * entry in it with the value the B-tree holds -- lookups there trust it. */
static int store_check_flat(struct store_checker *c)
{
    MDB_val k = store_meta_key("flat"), v, ent = {0, NULL};
    struct flat_view view;
    const uint8_t *d4 = NULL, *d6 = NULL;
    int rc = mdb_get(c->txn, c->s->meta, &k, &v);
    if (rc == MDB_NOTFOUND)
        return DNSBL_OK;
    if (rc != MDB_SUCCESS)
        return store_map_err(rc);
    if (!flat_view_open(&view, v.mv_data, v.mv_size)) {
        store_check_report(c,
                           "meta: flat: the %zu-byte record is not a flat index this program "
                           "reads (lookups use the B-tree until the next rebuild)",
                           v.mv_size);
        return DNSBL_OK;
    }
    k = store_meta_key("flatdirty");
    rc = mdb_get(c->txn, c->s->meta, &k, &v);
    if (rc == MDB_SUCCESS && v.mv_size == STORE_DIRTY_BYTES) {
        d4 = v.mv_data;
        d6 = d4 + STORE_F4_BYTES;
    } else if (rc == MDB_SUCCESS) {
        store_check_report(c, "meta: flatdirty is %zu bytes, not %zu", v.mv_size,
                           STORE_DIRTY_BYTES);
        return DNSBL_OK; /* lookups ignore the index: nothing to compare */
    } else if (rc != MDB_NOTFOUND) {
        return store_map_err(rc);
    }
    flat_view_verify(&view, store_check_flat_problem, c);

    MDB_cursor *cur;
    size_t next[2] = {0, 0}, seen = 0;
    char text[ADDR_TEXT_MAX];
    struct addr_prefix p, fp;
    uint32_t parent;
    const uint8_t *fval;
    size_t flen;
    rc = mdb_cursor_open(c->txn, c->s->entries, &cur);
    if (rc != MDB_SUCCESS)
        return store_map_err(rc);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        bool end = rc == MDB_NOTFOUND;
        if (rc != MDB_SUCCESS && !end)
            break;
        if (!end &&
            (store_prefix_from_key(&k, &p) != DNSBL_OK || !store_value_entry(&v, p.family, &ent)))
            continue; /* store_check_entries names it */
        /* Index entries before this key are not entries at all. */
        for (int f = 0; f < 2; f++) {
            uint8_t fam = f == 0 ? ADDR_V4 : ADDR_V6;
            while (next[f] < flat_view_count(&view, fam) &&
                   flat_view_entry(&view, fam, next[f], &fp, &parent, &fval, &flen) == DNSBL_OK &&
                   (end || addr_compare(&fp, &p) < 0)) {
                addr_format(&fp, text, sizeof text);
                store_check_flat_report(c, &seen, "%s is not an entry (lookups would invent it)",
                                        text);
                next[f]++;
            }
        }
        if (end)
            break;
        size_t *at = &next[p.family == ADDR_V4 ? 0 : 1];
        bool in = *at < flat_view_count(&view, p.family) &&
                  flat_view_entry(&view, p.family, *at, &fp, &parent, &fval, &flen) == DNSBL_OK &&
                  addr_compare(&fp, &p) == 0;
        if (in)
            (*at)++;
        if (!store_flat_key_clean(d4, d6, k.mv_data))
            continue; /* changed since: lookups take it from the B-tree */
        addr_format(&p, text, sizeof text);
        if (!in)
            store_check_flat_report(
                c, &seen, "%s is missing and not marked changed (lookups would miss it)", text);
        else if (flen != ent.mv_size || memcmp(fval, ent.mv_data, flen) != 0)
            store_check_flat_report(c, &seen,
                                    "%s differs from its entry and is not marked changed "
                                    "(lookups would answer from the old value)",
                                    text);
    }
    mdb_cursor_close(cur);
    if (seen > STORE_CHECK_FLAT_SHOWN)
        store_check_report(c, "meta: flat index: %zu more problems", seen - STORE_CHECK_FLAT_SHOWN);
    return rc == MDB_NOTFOUND ? DNSBL_OK : store_map_err(rc);
}

static int store_check_history(struct store_checker *c)
{
    MDB_cursor *cur;
    MDB_val k, v;
    uint8_t last[STORE_KEY_LEN];
    bool have_last = false, last_exists = false;
    char text[ADDR_TEXT_MAX], hex[96];
    const char *why;
    int rc = mdb_cursor_open(c->txn, c->s->history, &cur);
    if (rc != MDB_SUCCESS)
        return store_map_err(rc);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct addr_prefix p;
        struct history_day d;
        MDB_val ek = store_val(k.mv_data, STORE_KEY_LEN);
        if (k.mv_size != STORE_HKEY_LEN || !store_check_key(&ek, &p, &why)) {
            store_check_report(c, "history: key %s: %s", store_check_hex(&k, hex, sizeof hex),
                               k.mv_size != STORE_HKEY_LEN ? "key length is not 22 bytes" : why);
            continue;
        }
        addr_format(&p, text, sizeof text);
        if (store_decode_history(&k, &v, &d) != DNSBL_OK) {
            store_check_report(c, "history: %s: the record is %zu bytes, not %d", text, v.mv_size,
                               STORE_HVAL_LEN);
            continue;
        }
        /* One entries probe per prefix: its days are adjacent. */
        if (!have_last || memcmp(last, k.mv_data, STORE_KEY_LEN) != 0) {
            MDB_val ev;
            memcpy(last, k.mv_data, STORE_KEY_LEN);
            have_last = true;
            ek = store_val(last, STORE_KEY_LEN);
            int grc = mdb_get(c->txn, c->s->entries, &ek, &ev);
            if (grc != MDB_SUCCESS && grc != MDB_NOTFOUND) {
                rc = grc;
                break;
            }
            last_exists = grc == MDB_SUCCESS;
        }
        if (!last_exists) {
            time_t t = (time_t)d.day * MODEL_DAY;
            struct tm tm;
            char day[16] = "?";
            if (gmtime_r(&t, &tm))
                strftime(day, sizeof day, "%Y-%m-%d", &tm);
            store_check_report(c, "history: %s, day %s: no entry for this prefix", text, day);
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? DNSBL_OK : store_map_err(rc);
}

static int store_check_seen(struct store_checker *c)
{
    MDB_cursor *cur;
    MDB_val k, v;
    char hex[96];
    int rc = mdb_cursor_open(c->txn, c->s->seen, &cur);
    if (rc != MDB_SUCCESS)
        return store_map_err(rc);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != STORE_DEDUP_LEN)
            store_check_report(c, "seen: key %s: %zu bytes, not %d",
                               store_check_hex(&k, hex, sizeof hex), k.mv_size, STORE_DEDUP_LEN);
        else if (v.mv_size != 8)
            store_check_report(c, "seen: key %s: the value is %zu bytes, not 8",
                               store_check_hex(&k, hex, sizeof hex), v.mv_size);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? DNSBL_OK : store_map_err(rc);
}

int store_check(struct store *s, void (*problem)(void *arg, const char *what), void *arg,
                size_t *nproblems)
{
    struct store_checker c = {.s = s, .problem = problem, .arg = arg};
    *nproblems = 0;
    int rc = store_loose_begin(s, &c.txn);
    if (rc != MDB_SUCCESS)
        return store_map_err(rc);
    int err = store_check_meta(&c);
    if (err == DNSBL_OK)
        err = store_check_entries(&c);
    if (err == DNSBL_OK)
        err = store_check_filter(&c);
    if (err == DNSBL_OK)
        err = store_check_flat(&c);
    if (err == DNSBL_OK)
        err = store_check_history(&c);
    if (err == DNSBL_OK)
        err = store_check_seen(&c);
    store_loose_end(s, c.txn);
    *nproblems = c.n;
    return err;
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
    }
    return DNSBL_OK;
}

/* Adds one event's evidence to the history record of (key, its day).
 * Events come in entry-key order, so the cursor is usually on the right
 * page already and LMDB skips the descent from the root. */
static int store_history_add(const struct store *s, MDB_cursor *cur,
                             const uint8_t key[STORE_KEY_LEN], const struct event *ev, char *why,
                             size_t whylen)
{
    uint8_t hkey[STORE_HKEY_LEN], hval[STORE_HVAL_LEN];
    uint32_t day = (uint32_t)(ev->time / MODEL_DAY);
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
            store_set_why(why, whylen, "%s: history of %s, day %u: a %zu-byte record, not %d",
                          s->dir, text, day, v.mv_size, STORE_HVAL_LEN);
            return DNSBL_ESCHEMA;
        }
        flags = MDB_CURRENT;
    } else if (rc == MDB_SUCCESS || rc == MDB_NOTFOUND) {
        memset(&d, 0, sizeof d);
        d.day = day;
    } else {
        return store_lmdb_fail(s, rc, "read history", why, whylen);
    }
    model_history_add(&d, ev);
    store_encode_history(&d, hval);
    k = store_val(hkey, sizeof hkey);
    v = store_val(hval, sizeof hval);
    rc = mdb_cursor_put(cur, &k, &v, flags);
    if (rc != MDB_SUCCESS)
        return store_lmdb_fail(s, rc, "write history", why, whylen);
    return DNSBL_OK;
}

static int store_bump_serial(const struct store *s, MDB_txn *txn, char *why, size_t whylen)
{
    uint64_t serial = 0;
    int err = store_get_u64(s, txn, "serial", &serial, why, whylen);
    if (err != DNSBL_OK && err != DNSBL_ENOENT)
        return err;
    int rc = store_put_u64(s, txn, "serial", serial + 1);
    if (rc != MDB_SUCCESS)
        return store_lmdb_fail(s, rc, "write serial", why, whylen);
    return DNSBL_OK;
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
static int store_dedup_pass(struct store *s, MDB_txn *txn, const struct event *ev,
                            const uint8_t *const *dedup, size_t n, struct store_scratch *sc,
                            size_t *duplicates, char *why, size_t whylen)
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

    int rc = mdb_cursor_open(txn, s->seen, &cur);
    if (rc != MDB_SUCCESS)
        return store_lmdb_fail(s, rc, "open dedup cursor", why, whylen);
    rc = store_last_key(cur, last, sizeof last, &have_last);
    for (size_t j = 0; j < m && rc == MDB_SUCCESS; j++) {
        const struct store_rec *r = &sc->rec[j];
        if (j > 0 && memcmp(r->k, r[-1].k, STORE_DEDUP_LEN) == 0) {
            sc->skip[r->idx] = 1; /* the earliest of equal keys came first */
            (*duplicates)++;
            continue;
        }
        struct wire w;
        wire_init(&w, tbuf, sizeof tbuf);
        store_put_i64(&w, r->time);
        MDB_val k = store_val(r->k, STORE_DEDUP_LEN), v = store_val(tbuf, sizeof tbuf);
        bool append = !have_last || memcmp(r->k, last, sizeof last) > 0;
        rc = mdb_cursor_put(cur, &k, &v, append ? MDB_APPEND : MDB_NOOVERWRITE);
        if (rc == MDB_KEYEXIST && !append) {
            sc->skip[r->idx] = 1;
            (*duplicates)++;
            rc = MDB_SUCCESS;
        }
    }
    mdb_cursor_close(cur);
    if (rc != MDB_SUCCESS)
        return store_lmdb_fail(s, rc, "record dedup key", why, whylen);
    return DNSBL_OK;
}

/* The entry pass state: one decoded entry and one value buffer serve the
 * whole batch, so nothing is allocated per event. */
struct store_applier {
    struct store *s;
    const struct event *ev;
    MDB_txn *txn;
    MDB_cursor *ecur, *hcur;
    bool filter_loaded;             /* filter_have says whether the store has a filter */
    bool filter_have, filter_dirty; /* s->filter holds this transaction's */
    bool flat_loaded, flat_have;    /* the store has a flat index: s->dirty tracks it */
    bool dirty_grew;                /* s->dirty gained bits in this transaction */
    size_t flat_changes;            /* entries written in this transaction */
    uint8_t last[STORE_KEY_LEN];    /* entries' last key before the batch */
    bool have_last;
    struct entry e;
    uint8_t val[STORE_ANC6_BYTES + STORE_ENTRY_VALUE_MAX];
};

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

/* Applies the events rec[0..m), all on one entry, in the caller's order:
 * one load, one store, a history update per event that has one. */
static int store_apply_group(struct store_applier *a, const struct store_rec *rec, size_t m,
                             char *why, size_t whylen)
{
    const struct store *s = a->s;
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
            if (err == DNSBL_OK) /* the entry keeps its ancestors */
                memcpy(a->val, v.mv_data, store_anc_size(prefix.family));
            if (err != DNSBL_OK) {
                addr_format(&prefix, text, sizeof text);
                store_set_why(why, whylen, "%s: read entry %s: %s", s->dir, text,
                              dnsbl_strerror(err));
                return err;
            }
            flags = MDB_CURRENT;
        } else if (rc == MDB_SUCCESS || rc == MDB_NOTFOUND) {
            memset(&a->e, 0, sizeof a->e);
            flags = 0;
        } else {
            return store_lmdb_fail(s, rc, "read entry", why, whylen);
        }
    } else {
        /* Past every key the database held: new, and in order. */
        memset(&a->e, 0, sizeof a->e);
        flags = MDB_APPEND;
    }

    for (size_t j = 0; j < m; j++) {
        struct event one = a->ev[rec[j].idx];
        one.prefix = prefix;
        a->e.prefix = prefix;
        model_apply_event(&a->e, &one);
        if (model_event_has_history(&one)) {
            err = store_history_add(s, a->hcur, key, &one, why, whylen);
            if (err != DNSBL_OK)
                return err;
        }
    }
    a->e.prefix = prefix;

    size_t len, an = store_anc_size(prefix.family);
    if (flags != MDB_CURRENT) {
        rc = store_anc_of_new(a->ecur, key, a->val);
        if (rc != MDB_SUCCESS)
            return store_lmdb_fail(s, rc, "read the entries containing a new one", why, whylen);
        if (!a->filter_loaded) {
            rc = store_filter_load(a->s, a->txn, &a->filter_have);
            if (rc != MDB_SUCCESS)
                return store_lmdb_fail(s, rc, "read the filter", why, whylen);
            a->filter_loaded = true;
        }
        if (a->filter_have) {
            store_filter_add(s->filter, s->filter + STORE_F4_BYTES, key);
            a->filter_dirty = true;
        }
    }
    if (!a->flat_loaded) {
        rc = store_dirty_load(a->s, a->txn, &a->flat_have, &a->dirty_grew);
        if (rc != MDB_SUCCESS)
            return store_lmdb_fail(s, rc, "read what changed since the flat index", why, whylen);
        a->flat_loaded = true;
    }
    if (a->flat_have) {
        /* The flat index no longer answers for this entry's addresses. */
        if (!store_dirty_has(s->dirty, key)) {
            store_filter_add(s->dirty, s->dirty + STORE_F4_BYTES, key);
            a->dirty_grew = true;
        }
        a->flat_changes++;
    }
    err = store_encode_entry(&a->e, a->val + an, sizeof a->val - an, &len);
    if (err != DNSBL_OK) {
        store_set_why(why, whylen, "%s: encode entry: %s", s->dir, dnsbl_strerror(err));
        return err;
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
        if (rc != MDB_SUCCESS)
            return store_lmdb_fail(s, rc, "write entry", why, whylen);
    }
    rc = mdb_cursor_put(a->ecur, &k, &v, flags);
    if (rc != MDB_SUCCESS)
        return store_lmdb_fail(s, rc, "write entry", why, whylen);
    if (flags == 0) {
        /* Not MDB_APPEND: an appended entry sorts after every other, so
         * nothing is inside it. */
        rc = store_anc_add_below(a->ecur, key, a->val);
        if (rc != MDB_SUCCESS)
            return store_lmdb_fail(s, rc, "update the entries inside a new one", why, whylen);
    }
    return DNSBL_OK;
}

static int store_entry_pass(struct store_applier *a, MDB_txn *txn, size_t n,
                            struct store_scratch *sc, size_t *applied, char *why, size_t whylen)
{
    struct store *s = a->s;
    size_t m = 0;
    int err = DNSBL_OK;

    for (size_t i = 0; i < n; i++) {
        if (sc->skip[i])
            continue;
        struct addr_prefix p = a->ev[i].prefix;
        addr_mask(&p);
        store_key_from_prefix(&p, sc->rec[m].k);
        sc->rec[m].idx = (uint32_t)i;
        m++;
    }
    if (m == 0)
        return DNSBL_OK;
    store_radix_sort(sc, m, STORE_KEY_LEN);

    a->txn = txn;
    int rc = mdb_cursor_open(txn, s->entries, &a->ecur);
    if (rc != MDB_SUCCESS)
        return store_lmdb_fail(s, rc, "open entries cursor", why, whylen);
    rc = mdb_cursor_open(txn, s->history, &a->hcur);
    if (rc != MDB_SUCCESS) {
        mdb_cursor_close(a->ecur);
        return store_lmdb_fail(s, rc, "open history cursor", why, whylen);
    }
    rc = store_last_key(a->ecur, a->last, sizeof a->last, &a->have_last);
    if (rc != MDB_SUCCESS)
        err = store_lmdb_fail(s, rc, "read entries", why, whylen);
    for (size_t j = 0; j < m && err == DNSBL_OK;) {
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
        err = store_apply_group(a, sc->rec + j, end - j, why, whylen);
        *applied += end - j;
        j = end;
    }
    mdb_cursor_close(a->hcur);
    mdb_cursor_close(a->ecur);
    return err;
}

/* One try at a batch: STORE_EMAPFULL when the map filled up (nothing
 * was written; the caller may grow the map and try again). */
static int store_apply_once(struct store *s, const struct event *ev, const uint8_t *const *dedup,
                            size_t n, struct store_apply_stats *st, char *why, size_t whylen)
{
    struct store_applier app, *a = &app;
    struct store_scratch sc;
    MDB_txn *txn;

    st->applied = st->duplicates = 0;
    int err = store_write_begin(s, &txn, why, whylen);
    if (err != DNSBL_OK)
        return err;
    err = store_scratch(s, n, &sc);
    if (err != DNSBL_OK) {
        store_set_why(why, whylen, "%s: out of memory for a batch of %zu events", s->dir, n);
        goto abort;
    }
    memset(sc.skip, 0, n);
    a->s = s;
    a->filter_loaded = a->filter_have = a->filter_dirty = false;
    a->flat_loaded = a->flat_have = a->dirty_grew = false;
    a->flat_changes = 0;
    a->ev = ev;

    if (dedup) {
        err = store_dedup_pass(s, txn, ev, dedup, n, &sc, &st->duplicates, why, whylen);
        if (err != DNSBL_OK)
            goto abort;
    }
    err = store_entry_pass(a, txn, n, &sc, &st->applied, why, whylen);
    if (err != DNSBL_OK)
        goto abort;

    if (st->applied == 0) {
        /* Nothing changed (all duplicates): keep the serial, write nothing. */
        store_write_abort(s, txn);
        return DNSBL_OK;
    }
    if (a->filter_loaded) {
        int rc = a->filter_dirty  ? store_filter_put(s, txn, s->filter, s->filter + STORE_F4_BYTES)
                 : a->filter_have ? MDB_SUCCESS
                                  : store_filter_create(s, txn);
        if (rc != MDB_SUCCESS) {
            err = store_lmdb_fail(s, rc, "write the filter", why, whylen);
            goto abort;
        }
    }
    if (a->flat_have) {
        int rc = store_dirty_put(s, txn, a->dirty_grew, a->flat_changes);
        if (rc != MDB_SUCCESS) {
            err = store_lmdb_fail(s, rc, "record what changed since the flat index", why, whylen);
            goto abort;
        }
    }
    err = store_bump_serial(s, txn, why, whylen);
    if (err != DNSBL_OK)
        goto abort;
    return store_write_commit(s, txn, why, whylen);

abort:
    store_write_abort(s, txn);
    return err;
}

/* Double the map (up to map_max); called with no transaction open. */
static int store_grow(struct store *s, char *why, size_t whylen)
{
    MDB_envinfo info;
    int rc = mdb_env_info(s->env, &info);
    if (rc != MDB_SUCCESS)
        return store_lmdb_fail(s, rc, "read the map size", why, whylen);
    if (info.me_mapsize >= s->map_max) {
        store_set_why(why, whylen,
                      "%s: the store is full: its map has reached the limit of %zu MiB", s->dir,
                      s->map_max >> 20);
        return DNSBL_EBUSY;
    }
    size_t next = info.me_mapsize > s->map_max / 2 ? s->map_max : info.me_mapsize * 2;
    rc = store_remap(s, next);
    if (rc != MDB_SUCCESS)
        return store_lmdb_fail(s, rc, "grow the map", why, whylen);
    return DNSBL_OK;
}

/* Runs a write transaction, once(s, arg, ...); when the map filled up
 * (nothing was written), grows it and runs it again whole: once per
 * doubling, until it fits or the map reaches its limit. */
static int store_write_growing(struct store *s, int (*once)(struct store *, void *, char *, size_t),
                               void *arg, char *why, size_t whylen)
{
    for (;;) {
        int err = once(s, arg, why, whylen);
        if (err != STORE_EMAPFULL)
            return err;
        err = store_grow(s, why, whylen);
        if (err != DNSBL_OK)
            return err;
    }
}

struct store_apply_args {
    const struct event *ev;
    const uint8_t *const *dedup;
    size_t n;
    struct store_apply_stats st;
};

static int store_apply_try(struct store *s, void *arg, char *why, size_t whylen)
{
    struct store_apply_args *a = arg;
    return store_apply_once(s, a->ev, a->dedup, a->n, &a->st, why, whylen);
}

int store_apply(struct store *s, const struct event *ev, const uint8_t *const *dedup, size_t n,
                struct store_apply_stats *stats, char *why, size_t whylen)
{
    struct store_apply_stats st = {0, 0};

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
    if (err != DNSBL_OK || n == 0)
        return err;
    /* The batch is all or nothing, so after a full map it runs again whole. */
    struct store_apply_args args = {.ev = ev, .dedup = dedup, .n = n, .st = st};
    err = store_write_growing(s, store_apply_try, &args, why, whylen);
    if (err != DNSBL_OK)
        return store_public_err(err);
    if (stats)
        *stats = args.st;
    return DNSBL_OK;
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
