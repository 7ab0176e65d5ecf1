/* store_check: the integrity check of a whole store in one read
 * snapshot, naming each problem with its database and key. The layout it
 * checks against is doc/store-format.md. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_int.h"
#include "wire.h"

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
                /* A deleted entry is marked changed: lookups there take the
                 * B-tree until the next rebuild drops it. */
                uint8_t fk[STORE_KEY_LEN];
                store_key_from_prefix(&fp, fk);
                addr_format(&fp, text, sizeof text);
                if (store_flat_key_clean(d4, d6, fk))
                    store_check_flat_report(c, &seen,
                                            "%s is not an entry and not marked changed (lookups "
                                            "would invent it)",
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

/* Every evidence key is an entries key, a time and a sequence number, and
 * every record decodes. A record outliving its entry is no problem: the
 * trail is kept apart from the entries (doc/store-format.md, "evidence"). */
static int store_check_evidence(struct store_checker *c)
{
    MDB_cursor *cur;
    MDB_val k, v;
    char text[ADDR_TEXT_MAX], hex[96];
    const char *why;
    struct evidence_record rec;
    int rc = mdb_cursor_open(c->txn, c->s->evidence, &cur);
    if (rc != MDB_SUCCESS)
        return store_map_err(rc);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct addr_prefix p;
        MDB_val ek = store_val(k.mv_data, STORE_KEY_LEN);
        if (k.mv_size != STORE_EKEY_LEN || !store_check_key(&ek, &p, &why)) {
            store_check_report(c, "evidence: key %s: %s", store_check_hex(&k, hex, sizeof hex),
                               k.mv_size != STORE_EKEY_LEN ? "key length is not 30 bytes" : why);
            continue;
        }
        addr_format(&p, text, sizeof text);
        if (store_ekey_decode(&k, &rec.time, &rec.seq) != DNSBL_OK || rec.time <= 0)
            store_check_report(c, "evidence: %s: time %lld is not a valid event time", text,
                               (long long)rec.time);
        else if (store_decode_evidence(v.mv_data, v.mv_size, &rec) != DNSBL_OK)
            store_check_report(c, "evidence: %s, time %lld: the record does not decode", text,
                               (long long)rec.time);
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

/* Operator history: each key an entries key (the entry itself may be
 * gone: removal keeps its history), a time and a sequence number; each
 * value decodes. */
static int store_check_oplog(struct store_checker *c)
{
    MDB_cursor *cur;
    MDB_val k, v;
    char text[ADDR_TEXT_MAX], hex[96];
    const char *why;
    int rc = mdb_cursor_open(c->txn, c->s->oplog, &cur);
    if (rc != MDB_SUCCESS)
        return store_map_err(rc);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct addr_prefix p;
        struct oplog_rec rec;
        MDB_val ek = store_val(k.mv_data, STORE_KEY_LEN);
        if (k.mv_size != STORE_OKEY_LEN || !store_check_key(&ek, &p, &why)) {
            store_check_report(c, "oplog: key %s: %s", store_check_hex(&k, hex, sizeof hex),
                               k.mv_size != STORE_OKEY_LEN ? "key length is not 30 bytes" : why);
            continue;
        }
        if (store_decode_oplog(&k, &v, &rec) != DNSBL_OK) {
            addr_format(&p, text, sizeof text);
            store_check_report(c, "oplog: %s, key %s: the %zu-byte record does not decode", text,
                               store_check_hex(&k, hex, sizeof hex), v.mv_size);
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? DNSBL_OK : store_map_err(rc);
}

/* Datasets: each key a 4-byte id, each value decodes to a name of that id. */
static int store_check_datasets(struct store_checker *c)
{
    MDB_cursor *cur;
    MDB_val k, v;
    char hex[96];
    int rc = mdb_cursor_open(c->txn, c->s->datasets, &cur);
    if (rc != MDB_SUCCESS)
        return store_map_err(rc);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct dataset_note n;
        if (store_decode_dataset(&k, &v, &n) != DNSBL_OK)
            store_check_report(c, "datasets: key %s: the %zu-byte record does not decode",
                               store_check_hex(&k, hex, sizeof hex), v.mv_size);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? DNSBL_OK : store_map_err(rc);
}

static void store_check_undo_problem(void *arg, const char *what)
{
    store_check_report(arg, "%s", what);
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
    if (err == DNSBL_OK)
        err = store_check_oplog(&c);
    if (err == DNSBL_OK)
        err = store_check_evidence(&c);
    if (err == DNSBL_OK)
        err = store_check_datasets(&c);
    if (err == DNSBL_OK)
        err = store_check_undo(s, c.txn, store_check_undo_problem, &c);
    store_loose_end(s, c.txn);
    *nproblems = c.n;
    return err;
}
