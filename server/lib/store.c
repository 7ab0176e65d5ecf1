/* store: the LMDB layout, schema version 1. Nothing outside this file may
 * depend on any of it; callers see struct entry / struct event only.
 *
 * Environment: the directory DIR (data.mdb + lock.mdb), 8 named databases
 * at most, 256 reader slots, a 32 GiB map (virtual address space only: LMDB
 * grows the file as pages are used, it does not preallocate without
 * MDB_WRITEMAP). Writers open with flags 0 (fully durable commits),
 * readers with MDB_RDONLY; both add MDB_NOTLS so a reader's transaction is
 * tied to its struct store_reader rather than to a thread-local slot, which
 * is what lets one thread reset/renew it freely and lets a process hold a
 * read and a write transaction at once (dnsblctl, the tests).
 *
 * Named databases:
 *   meta     "schema" -> u32 BE, 1.  "serial" -> u64 BE, bumped per apply.
 *            "lens4" -> 5 bytes, "lens6" -> 17 bytes: bitmaps of the prefix
 *            lengths that have at least one entry (bit for length L is
 *            byte L/8, mask 0x80 >> L%8). Entries are never deleted in this
 *            version, so a bit is only ever set.
 *   entries  key: 18 bytes = family (4 or 6) + 16 address bytes (IPv4
 *            mapped ::ffff:a.b.c.d) + plen, so byte order is V4 first, then
 *            address, then prefix length.
 *            value: version byte 1, then big-endian: state u8, code u32,
 *            expires i64, state_time i64, first_seen i64, last_seen i64,
 *            score (IEEE double bits) u64, score_time i64,
 *            counts[CNT_COUNT] u32 each, volume u64, reason (u16 length +
 *            bytes, no NUL), note (same). Exactly that long: anything
 *            shorter, longer or with a different version is DNSBL_ESCHEMA.
 *   seen     key: the caller's 32-byte dedup key; value: the event time
 *            (i64 BE), kept so old keys can be pruned later.
 *   history  created empty; per-address daily counters come later.
 *
 * Longest-prefix match is one exact mdb_get per prefix length set in the
 * bitmap, longest first. A new schema gets a new version number here, a
 * new value version in store_decode_entry, and a migration step in
 * store_open. */
#include "store.h"

#include <errno.h>
#include <limits.h>
#include <lmdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "err.h"
#include "wire.h"

#define STORE_SCHEMA 1u
#define STORE_VALUE_VERSION 1
#if SIZE_MAX > 0xffffffffu
#define STORE_MAP_GIB 32
#else
#define STORE_MAP_GIB 1 /* all a 32-bit address space can spare */
#endif
#define STORE_MAXDBS 8
#define STORE_MAXREADERS 256
#define STORE_KEY_LEN 18
#define STORE_DEDUP_LEN 32
#define STORE_LENS4_BYTES 5
#define STORE_LENS6_BYTES 17

_Static_assert(sizeof(double) == sizeof(uint64_t), "score is stored as 64 bits");

struct store {
    MDB_env *env;
    MDB_dbi meta, entries, seen, history;
    int flags;
    char dir[PATH_MAX];
};

struct store_reader {
    struct store *s;
    MDB_txn *txn; /* NULL until the first begin; then reset, never freed, between uses */
    bool active;
    uint8_t lens4[STORE_LENS4_BYTES];
    uint8_t lens6[STORE_LENS6_BYTES];
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
    if (rc == MDB_MAP_FULL)
        store_set_why(why, whylen,
                      "%s: %s: %s (the store's %d GiB map is full; growing it is not "
                      "supported yet)",
                      s->dir, step, mdb_strerror(rc), STORE_MAP_GIB);
    else if (rc == MDB_TXN_FULL)
        store_set_why(why, whylen, "%s: %s: %s (apply fewer events per batch)", s->dir, step,
                      mdb_strerror(rc));
    else
        store_set_why(why, whylen, "%s: %s: %s", s->dir, step, mdb_strerror(rc));
    return store_map_err(rc);
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

static void store_lens_set(uint8_t *map, unsigned plen)
{
    map[plen / 8] |= (uint8_t)(0x80u >> (plen % 8));
}

static bool store_lens_has(const uint8_t *map, unsigned plen)
{
    return (map[plen / 8] & (0x80u >> (plen % 8))) != 0;
}

/* ---- value codec ---- */

static void store_put_text(struct wire *w, const char *text)
{
    size_t n = strnlen(text, MODEL_TEXT_MAX - 1);
    wire_put_u16(w, (uint16_t)n);
    wire_put_bytes(w, text, n);
}

static void store_get_text(struct wire *w, char dst[MODEL_TEXT_MAX])
{
    size_t n = wire_get_u16(w);
    if (n > MODEL_TEXT_MAX - 1 || !wire_need(w, n)) {
        w->err = true;
        dst[0] = '\0';
        return;
    }
    wire_get_bytes(w, dst, n);
    dst[n] = '\0';
    if (memchr(dst, '\0', n)) /* a C string never holds one: the value is garbage */
        w->err = true;
}

int store_encode_entry(const struct entry *e, uint8_t *buf, size_t cap, size_t *len)
{
    struct wire w;
    uint64_t score_bits;

    wire_init(&w, buf, cap);
    memcpy(&score_bits, &e->score, sizeof score_bits);
    wire_put_u8(&w, STORE_VALUE_VERSION);
    wire_put_u8(&w, e->state);
    wire_put_u32(&w, e->code);
    wire_put_u64(&w, (uint64_t)e->expires);
    wire_put_u64(&w, (uint64_t)e->state_time);
    wire_put_u64(&w, (uint64_t)e->first_seen);
    wire_put_u64(&w, (uint64_t)e->last_seen);
    wire_put_u64(&w, score_bits);
    wire_put_u64(&w, (uint64_t)e->score_time);
    for (size_t i = 0; i < CNT_COUNT; i++)
        wire_put_u32(&w, e->counts[i]);
    wire_put_u64(&w, e->volume);
    store_put_text(&w, e->reason);
    store_put_text(&w, e->note);
    if (w.err)
        return DNSBL_ESPACE;
    *len = wire_used(&w);
    return DNSBL_OK;
}

int store_decode_entry(const void *val, size_t len, struct entry *out)
{
    struct wire w;
    struct entry e;
    uint64_t score_bits;

    wire_init_ro(&w, val, len);
    if (wire_get_u8(&w) != STORE_VALUE_VERSION)
        return DNSBL_ESCHEMA;
    memset(&e, 0, sizeof e);
    e.prefix = out->prefix;
    e.state = wire_get_u8(&w);
    e.code = wire_get_u32(&w);
    e.expires = (int64_t)wire_get_u64(&w);
    e.state_time = (int64_t)wire_get_u64(&w);
    e.first_seen = (int64_t)wire_get_u64(&w);
    e.last_seen = (int64_t)wire_get_u64(&w);
    score_bits = wire_get_u64(&w);
    memcpy(&e.score, &score_bits, sizeof e.score);
    e.score_time = (int64_t)wire_get_u64(&w);
    for (size_t i = 0; i < CNT_COUNT; i++)
        e.counts[i] = wire_get_u32(&w);
    e.volume = wire_get_u64(&w);
    store_get_text(&w, e.reason);
    store_get_text(&w, e.note);
    if (w.err || wire_left(&w) != 0 || e.state > ENTRY_ALLOWED)
        return DNSBL_ESCHEMA;
    *out = e;
    return DNSBL_OK;
}

/* ---- opening ---- */

bool store_exists(const char *dir)
{
    char path[PATH_MAX];
    struct stat st;

    if (snprintf(path, sizeof path, "%s/data.mdb", dir) >= (int)sizeof path)
        return false;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
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

/* Reads a prefix-length bitmap; a missing one means no entries yet. */
static int store_get_lens(const struct store *s, MDB_txn *txn, const char *name, uint8_t *map,
                          size_t size)
{
    MDB_val k = store_meta_key(name), v;
    int rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        memset(map, 0, size);
        return DNSBL_OK;
    }
    if (rc != MDB_SUCCESS)
        return store_map_err(rc);
    if (v.mv_size != size)
        return DNSBL_ESCHEMA;
    memcpy(map, v.mv_data, size);
    return DNSBL_OK;
}

static int store_open_dbs(struct store *s, MDB_txn *txn, unsigned flags, char *why, size_t whylen)
{
    MDB_dbi *dbis[] = {&s->meta, &s->entries, &s->seen, &s->history};
    char step[64];

    for (size_t i = 0; i < sizeof dbis / sizeof dbis[0]; i++) {
        int rc = mdb_dbi_open(txn, store_db_names[i], flags, dbis[i]);
        if (rc != MDB_SUCCESS) {
            snprintf(step, sizeof step, "open database %s", store_db_names[i]);
            int err = store_lmdb_fail(s, rc, step, why, whylen);
            /* A missing table in an existing file: not a store of ours. */
            return err == DNSBL_ENOENT ? DNSBL_ESCHEMA : err;
        }
    }
    return DNSBL_OK;
}

/* Checks the schema record; *missing is set (and DNSBL_OK returned) when
 * there is none, which the caller decides about. */
static int store_check_schema(struct store *s, MDB_txn *txn, bool *missing, char *why,
                              size_t whylen)
{
    MDB_val k = store_meta_key("schema"), v;
    int rc = mdb_get(txn, s->meta, &k, &v);

    *missing = false;
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
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != MDB_SUCCESS)
        return store_lmdb_fail(s, rc, "begin write transaction", why, whylen);

    int err = store_open_dbs(s, txn, MDB_CREATE, why, whylen);
    if (err == DNSBL_OK)
        err = store_check_schema(s, txn, &missing, why, whylen);
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
            uint8_t buf[4];
            struct wire w;
            wire_init(&w, buf, sizeof buf);
            wire_put_u32(&w, STORE_SCHEMA);
            MDB_val k = store_meta_key("schema"), v = store_val(buf, sizeof buf);
            rc = mdb_put(txn, s->meta, &k, &v, 0);
            if (rc == MDB_SUCCESS)
                rc = store_put_u64(s, txn, "serial", 0);
            if (rc != MDB_SUCCESS)
                err = store_lmdb_fail(s, rc, "write schema", why, whylen);
        }
    }
    if (err != DNSBL_OK) {
        mdb_txn_abort(txn);
        return err;
    }
    /* Committing is what keeps the database handles open for later txns. */
    rc = mdb_txn_commit(txn);
    if (rc != MDB_SUCCESS)
        return store_lmdb_fail(s, rc, "commit", why, whylen);
    return DNSBL_OK;
}

static int store_init_ro(struct store *s, char *why, size_t whylen)
{
    MDB_txn *txn;
    bool missing;
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
        err = store_check_schema(s, txn, &missing, why, whylen);
    if (err == DNSBL_OK && missing)
        err = store_no_store(s, why, whylen);
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
    rc = mdb_env_set_mapsize(s->env, (size_t)STORE_MAP_GIB << 30);
    if (rc != MDB_SUCCESS) {
        err = store_lmdb_fail(s, rc, "set map size", why, whylen);
        goto fail;
    }
    rc = mdb_env_open(s->env, dir, MDB_NOTLS | (rdonly ? MDB_RDONLY : 0), 0640);
    if (rc != MDB_SUCCESS) {
        err = store_lmdb_fail(s, rc, "open environment", why, whylen);
        goto fail;
    }
    err = rdonly ? store_init_ro(s, why, whylen) : store_init_rw(s, why, whylen);
    if (err != DNSBL_OK)
        goto fail;
    *out = s;
    return DNSBL_OK;

fail:
    mdb_env_close(s->env);
    free(s);
    return err;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    mdb_env_close(s->env);
    free(s);
}

/* ---- read transactions ---- */

/* Begin (*txn NULL) or renew (*txn reset) a read transaction, recovering
 * once from each of: another process grew the map, and stale reader slots
 * left by dead processes. mdb_env_set_mapsize(env, 0) adopts the size in
 * the file; LMDB wants no other txn of this process active then, which the
 * server arranges by beginning batches after all readers have ended. */
static int store_read_begin(struct store *s, MDB_txn **txn)
{
    bool resized = false, checked = false;
    int rc;

    for (;;) {
        rc = *txn ? mdb_txn_renew(*txn) : mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
        if (rc == MDB_MAP_RESIZED && !resized) {
            resized = true;
            if (mdb_env_set_mapsize(s->env, 0) != MDB_SUCCESS)
                return rc;
        } else if (rc == MDB_READERS_FULL && !checked) {
            int dead = 0;
            checked = true;
            mdb_reader_check(s->env, &dead);
        } else {
            return rc;
        }
    }
}

int store_reader_open(struct store *s, struct store_reader **out)
{
    struct store_reader *r = calloc(1, sizeof *r);
    *out = NULL;
    if (!r)
        return DNSBL_ENOMEM;
    r->s = s;
    *out = r;
    return DNSBL_OK;
}

void store_reader_close(struct store_reader *r)
{
    if (!r)
        return;
    if (r->txn)
        mdb_txn_abort(r->txn);
    free(r);
}

int store_reader_begin(struct store_reader *r)
{
    /* A begin without an end still means "show me the latest". */
    if (r->active)
        store_reader_end(r);
    int rc = store_read_begin(r->s, &r->txn);
    if (rc != MDB_SUCCESS)
        return store_map_err(rc);
    int err = store_get_lens(r->s, r->txn, "lens4", r->lens4, sizeof r->lens4);
    if (err == DNSBL_OK)
        err = store_get_lens(r->s, r->txn, "lens6", r->lens6, sizeof r->lens6);
    if (err != DNSBL_OK) {
        mdb_txn_reset(r->txn);
        return err;
    }
    r->active = true;
    return DNSBL_OK;
}

void store_reader_end(struct store_reader *r)
{
    if (r->active)
        mdb_txn_reset(r->txn);
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
    return store_decode_entry(v.mv_data, v.mv_size, out);
}

int store_reader_covering(struct store_reader *r, const struct addr_prefix *addr, struct entry *out,
                          size_t cap, size_t *n)
{
    *n = 0;
    if (!r->active || !store_prefix_valid(addr))
        return DNSBL_EINVAL;
    const uint8_t *map = addr->family == ADDR_V4 ? r->lens4 : r->lens6;
    for (int len = addr->plen; len >= 0 && *n < cap; len--) {
        if (!store_lens_has(map, (unsigned)len))
            continue;
        struct addr_prefix p = addr_truncate(addr, (unsigned)len);
        int err = store_get_exact(r->s, r->txn, &p, &out[*n]);
        if (err == DNSBL_ENOENT)
            continue;
        if (err != DNSBL_OK)
            return err;
        (*n)++;
    }
    return DNSBL_OK;
}

int store_reader_get(struct store_reader *r, const struct addr_prefix *p, struct entry *out)
{
    if (!r->active || !store_prefix_valid(p))
        return DNSBL_EINVAL;
    struct addr_prefix q = *p;
    addr_mask(&q);
    return store_get_exact(r->s, r->txn, &q, out);
}

int store_serial(struct store *s, uint64_t *out)
{
    MDB_txn *txn = NULL;
    int rc = store_read_begin(s, &txn);
    if (rc != MDB_SUCCESS)
        return store_map_err(rc);
    int err = store_get_u64(s, txn, "serial", out, NULL, 0);
    mdb_txn_abort(txn);
    return err;
}

int store_foreach(struct store *s, int (*cb)(const struct entry *e, void *arg), void *arg)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur;
    MDB_val k, v;
    struct entry e;
    int ret = 0;

    int rc = store_read_begin(s, &txn);
    if (rc != MDB_SUCCESS)
        return store_map_err(rc);
    rc = mdb_cursor_open(txn, s->entries, &cur);
    if (rc != MDB_SUCCESS) {
        mdb_txn_abort(txn);
        return store_map_err(rc);
    }
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        memset(&e, 0, sizeof e);
        ret = store_prefix_from_key(&k, &e.prefix);
        if (ret == DNSBL_OK)
            ret = store_decode_entry(v.mv_data, v.mv_size, &e);
        if (ret == DNSBL_OK)
            ret = cb(&e, arg);
        if (ret != 0)
            break;
    }
    if (ret == 0 && rc != MDB_NOTFOUND)
        ret = store_map_err(rc);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return ret;
}

/* ---- writing ---- */

int store_apply(struct store *s, const struct event *ev, const uint8_t *const *dedup, size_t n,
                struct store_apply_stats *stats, char *why, size_t whylen)
{
    struct store_apply_stats st = {0, 0};
    uint8_t lens4[STORE_LENS4_BYTES], lens6[STORE_LENS6_BYTES];
    uint8_t key[STORE_KEY_LEN], val[STORE_ENTRY_VALUE_MAX], tbuf[8];
    char text[ADDR_TEXT_MAX];
    bool lens_dirty = false;
    struct entry e;
    MDB_txn *txn;
    MDB_val k, v;
    int rc, err;

    if (stats)
        *stats = st;
    if (s->flags & STORE_RDONLY) {
        store_set_why(why, whylen, "%s: the store is open read-only", s->dir);
        return DNSBL_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!store_prefix_valid(&ev[i].prefix) || ev[i].kind >= EV_KIND_COUNT) {
            store_set_why(why, whylen, "%s: event %zu: bad prefix (family %u, /%u) or kind %u",
                          s->dir, i, ev[i].prefix.family, ev[i].prefix.plen, ev[i].kind);
            return DNSBL_EINVAL;
        }
    }

    rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != MDB_SUCCESS)
        return store_lmdb_fail(s, rc, "begin write transaction", why, whylen);
    err = store_get_lens(s, txn, "lens4", lens4, sizeof lens4);
    if (err == DNSBL_OK)
        err = store_get_lens(s, txn, "lens6", lens6, sizeof lens6);
    if (err != DNSBL_OK) {
        store_set_why(why, whylen, "%s: read prefix lengths: %s", s->dir, dnsbl_strerror(err));
        goto abort;
    }

    for (size_t i = 0; i < n; i++) {
        if (dedup && dedup[i]) {
            struct wire w;
            wire_init(&w, tbuf, sizeof tbuf);
            wire_put_u64(&w, (uint64_t)ev[i].time);
            k = store_val(dedup[i], STORE_DEDUP_LEN);
            v = store_val(tbuf, sizeof tbuf);
            rc = mdb_put(txn, s->seen, &k, &v, MDB_NOOVERWRITE);
            if (rc == MDB_KEYEXIST) {
                st.duplicates++;
                continue;
            }
            if (rc != MDB_SUCCESS) {
                err = store_lmdb_fail(s, rc, "record dedup key", why, whylen);
                goto abort;
            }
        }

        struct event one = ev[i];
        addr_mask(&one.prefix);
        err = store_get_exact(s, txn, &one.prefix, &e);
        if (err == DNSBL_ENOENT) {
            memset(&e, 0, sizeof e);
            e.prefix = one.prefix;
        } else if (err != DNSBL_OK) {
            addr_format(&one.prefix, text, sizeof text);
            store_set_why(why, whylen, "%s: read entry %s: %s", s->dir, text, dnsbl_strerror(err));
            goto abort;
        }
        model_apply_event(&e, &one);
        e.prefix = one.prefix;

        size_t len;
        err = store_encode_entry(&e, val, sizeof val, &len);
        if (err != DNSBL_OK) {
            store_set_why(why, whylen, "%s: encode entry: %s", s->dir, dnsbl_strerror(err));
            goto abort;
        }
        store_key_from_prefix(&one.prefix, key);
        k = store_val(key, sizeof key);
        v = store_val(val, len);
        rc = mdb_put(txn, s->entries, &k, &v, 0);
        if (rc != MDB_SUCCESS) {
            err = store_lmdb_fail(s, rc, "write entry", why, whylen);
            goto abort;
        }
        uint8_t *map = one.prefix.family == ADDR_V4 ? lens4 : lens6;
        if (!store_lens_has(map, one.prefix.plen)) {
            store_lens_set(map, one.prefix.plen);
            lens_dirty = true;
        }
        st.applied++;
    }

    if (st.applied == 0) {
        /* Nothing changed (all duplicates): keep the serial, write nothing. */
        mdb_txn_abort(txn);
        if (stats)
            *stats = st;
        return DNSBL_OK;
    }
    if (lens_dirty) {
        k = store_meta_key("lens4");
        v = store_val(lens4, sizeof lens4);
        rc = mdb_put(txn, s->meta, &k, &v, 0);
        if (rc == MDB_SUCCESS) {
            k = store_meta_key("lens6");
            v = store_val(lens6, sizeof lens6);
            rc = mdb_put(txn, s->meta, &k, &v, 0);
        }
        if (rc != MDB_SUCCESS) {
            err = store_lmdb_fail(s, rc, "write prefix lengths", why, whylen);
            goto abort;
        }
    }
    uint64_t serial = 0;
    err = store_get_u64(s, txn, "serial", &serial, why, whylen);
    if (err != DNSBL_OK && err != DNSBL_ENOENT)
        goto abort;
    rc = store_put_u64(s, txn, "serial", serial + 1);
    if (rc != MDB_SUCCESS) {
        err = store_lmdb_fail(s, rc, "write serial", why, whylen);
        goto abort;
    }
    rc = mdb_txn_commit(txn);
    if (rc != MDB_SUCCESS)
        return store_lmdb_fail(s, rc, "commit", why, whylen);
    if (stats)
        *stats = st;
    return DNSBL_OK;

abort:
    mdb_txn_abort(txn);
    return err;
}
