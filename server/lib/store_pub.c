/* store_pub: the published view (store_pub.h; the layout is
 * doc/store-format.md, "Published view"). Three databases:
 *   pubstate    zone text -> the zone's state (id, serial, counts, journal span)
 *   pubset      zone id (u32) + owner (relative wire labels) -> its records
 *   pubjournal  zone id (u32) + change number (u64) -> one change
 * Owners are stored relative to the zone (the zone's name would repeat in
 * every key) and put back in front of it when read. A record is
 * type u16, ttl u32, rdlen u16, rdata, big-endian; an owner's records are
 * kept sorted (type, rdlen, rdata, ttl), so that two sets compare by
 * bytes and their difference is one merge. */
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "store_int.h"
#include "store_pub.h"

#define PUB_ZONE_TEXT 256
#define PUB_NAME_MAX 255
#define PUB_STATE_VERSION 1
#define PUB_STATE_LEN (1 + 4 + 4 + 8 + 8 + 8 + 4 + 8 + 8 + 8)
#define PUB_JOURNAL_VERSION 1
#define PUB_JHEAD_LEN (1 + 4 + 4 + 4 + 4)
#define PUB_BODY_HEAD 8 /* type, ttl, rdlen */
#define PUB_SKEY_MAX (4 + PUB_NAME_MAX)
#define PUB_JKEY_LEN (4 + 8)
#define PUB_CONFIG_KEY "publish_config"

/* ---- big-endian helpers ---- */

static void pub_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void pub_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static void pub_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint16_t pub_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t pub_get32(const uint8_t *p)
{
    return store_load_be32(p);
}

static uint64_t pub_get64(const uint8_t *p)
{
    return store_load_be64(p);
}

/* ---- names ---- */

/* The zone as the config writes it: lower case, no trailing dot, into
 * text[PUB_ZONE_TEXT], and its wire form into wire[PUB_NAME_MAX]. */
static int pub_zone_names(const char *zone, char *text, uint8_t *wire, size_t *wlen)
{
    size_t len = strlen(zone);
    while (len > 0 && zone[len - 1] == '.')
        len--;
    if (len == 0 || len >= PUB_ZONE_TEXT)
        return DNSBL_EINVAL;
    for (size_t i = 0; i < len; i++)
        text[i] = (char)(zone[i] >= 'A' && zone[i] <= 'Z' ? zone[i] - 'A' + 'a' : zone[i]);
    text[len] = '\0';
    size_t pos = 0;
    for (const char *s = text; *s;) {
        size_t lab = strcspn(s, ".");
        if (lab == 0 || lab > 63 || pos + 1 + lab + 1 > PUB_NAME_MAX)
            return DNSBL_EINVAL;
        wire[pos++] = (uint8_t)lab;
        memcpy(wire + pos, s, lab);
        pos += lab;
        s += lab;
        if (*s == '.')
            s++;
    }
    wire[pos++] = 0;
    *wlen = pos;
    return DNSBL_OK;
}

/* Key order of LMDB's default comparison: bytes, then the shorter first. */
static int pub_bytes_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c)
        return c;
    return (alen > blen) - (alen < blen);
}

/* ---- records ---- */

/* One record body (type, ttl, rdlen, rdata) at p, within end: its length,
 * 0 when it does not fit. */
static size_t pub_body_len(const uint8_t *p, const uint8_t *end)
{
    if (end - p < PUB_BODY_HEAD)
        return 0;
    size_t len = PUB_BODY_HEAD + pub_get16(p + 6);
    return (size_t)(end - p) < len ? 0 : len;
}

static int pub_body_cmp(const uint8_t *a, const uint8_t *b)
{
    uint16_t ta = pub_get16(a), tb = pub_get16(b), la = pub_get16(a + 6), lb = pub_get16(b + 6);
    if (ta != tb)
        return ta < tb ? -1 : 1;
    if (la != lb)
        return la < lb ? -1 : 1;
    int c = memcmp(a + PUB_BODY_HEAD, b + PUB_BODY_HEAD, la);
    if (c)
        return c;
    uint32_t xa = pub_get32(a + 2), xb = pub_get32(b + 2);
    return (xa > xb) - (xa < xb);
}

static void pub_rr_from_body(const uint8_t *body, struct store_pub_rr *rr)
{
    rr->type = pub_get16(body);
    rr->ttl = pub_get32(body + 2);
    rr->rdlen = pub_get16(body + 6);
    rr->rdata = body + PUB_BODY_HEAD;
}

/* ---- the set ---- */

/* Records as [rel_len u8][rel][body] in buf, found by offs. */
struct store_pub_set {
    char zone[PUB_ZONE_TEXT];
    uint8_t zwire[PUB_NAME_MAX];
    size_t zlen;
    uint8_t *buf;
    size_t len, cap;
    size_t *offs;
    size_t n, ncap;
};

int store_pub_set_new(const char *zone, struct store_pub_set **out)
{
    struct store_pub_set *set = calloc(1, sizeof *set);
    *out = NULL;
    if (!set)
        return DNSBL_ENOMEM;
    int rc = pub_zone_names(zone, set->zone, set->zwire, &set->zlen);
    if (rc != DNSBL_OK) {
        free(set);
        return rc;
    }
    *out = set;
    return DNSBL_OK;
}

void store_pub_set_free(struct store_pub_set *set)
{
    if (!set)
        return;
    free(set->buf);
    free(set->offs);
    free(set);
}

int store_pub_set_add(struct store_pub_set *set, const uint8_t *owner, size_t owner_len,
                      uint16_t type, uint32_t ttl, const uint8_t *rdata, size_t rdlen)
{
    if (owner_len < set->zlen || owner_len > PUB_NAME_MAX || rdlen > UINT16_MAX ||
        memcmp(owner + owner_len - set->zlen, set->zwire, set->zlen) != 0)
        return DNSBL_EINVAL;
    size_t rel = owner_len - set->zlen;
    /* The suffix must fall on a label boundary. */
    size_t at = 0;
    while (at < rel)
        at += 1 + owner[at];
    if (at != rel)
        return DNSBL_EINVAL;
    size_t need = 1 + rel + PUB_BODY_HEAD + rdlen;
    if (grow_array((void **)&set->buf, &set->cap, set->len + need, 1, 1 << 16) != DNSBL_OK ||
        grow_array((void **)&set->offs, &set->ncap, set->n + 1, sizeof *set->offs, 4096) !=
            DNSBL_OK)
        return DNSBL_ENOMEM;
    uint8_t *p = set->buf + set->len;
    p[0] = (uint8_t)rel;
    memcpy(p + 1, owner, rel);
    p += 1 + rel;
    pub_put16(p, type);
    pub_put32(p + 2, ttl);
    pub_put16(p + 6, (uint16_t)rdlen);
    if (rdlen)
        memcpy(p + PUB_BODY_HEAD, rdata, rdlen);
    set->offs[set->n++] = set->len;
    set->len += need;
    return DNSBL_OK;
}

static int pub_rec_cmp(const void *a, const void *b, void *arg)
{
    const uint8_t *buf = arg;
    const uint8_t *x = buf + *(const size_t *)a, *y = buf + *(const size_t *)b;
    int c = pub_bytes_cmp(x + 1, x[0], y + 1, y[0]);
    return c ? c : pub_body_cmp(x + 1 + x[0], y + 1 + y[0]);
}

/* ---- state ---- */

struct pub_state {
    uint32_t id;
    struct store_pub_state st;
    uint64_t seq_first, seq_next; /* the journal's changes are [seq_first, seq_next) */
    uint64_t data_serial;         /* store_serial when the stored set was made */
};

static void pub_state_encode(const struct pub_state *ps, uint8_t buf[PUB_STATE_LEN])
{
    buf[0] = PUB_STATE_VERSION;
    pub_put32(buf + 1, ps->id);
    pub_put32(buf + 5, ps->st.serial);
    pub_put64(buf + 9, (uint64_t)ps->st.published);
    pub_put64(buf + 17, ps->st.names);
    pub_put64(buf + 25, ps->st.records);
    pub_put32(buf + 33, ps->st.oldest);
    pub_put64(buf + 37, ps->seq_first);
    pub_put64(buf + 45, ps->seq_next);
    pub_put64(buf + 53, ps->data_serial);
}

static int pub_state_decode(const MDB_val *v, struct pub_state *ps)
{
    const uint8_t *b = v->mv_data;
    if (v->mv_size != PUB_STATE_LEN || b[0] != PUB_STATE_VERSION)
        return DNSBL_ESCHEMA;
    ps->id = pub_get32(b + 1);
    ps->st.serial = pub_get32(b + 5);
    ps->st.published = (int64_t)pub_get64(b + 9);
    ps->st.names = pub_get64(b + 17);
    ps->st.records = pub_get64(b + 25);
    ps->st.oldest = pub_get32(b + 33);
    ps->seq_first = pub_get64(b + 37);
    ps->seq_next = pub_get64(b + 45);
    ps->data_serial = pub_get64(b + 53);
    return ps->seq_first <= ps->seq_next ? DNSBL_OK : DNSBL_ESCHEMA;
}

/* The state of zone text in txn; DNSBL_ENOENT when never published. */
static int pub_state_read(const struct store *s, MDB_txn *txn, const char *zone,
                          struct pub_state *ps)
{
    if (!s->has_pub)
        return DNSBL_ENOENT;
    MDB_val k = store_val(zone, strlen(zone)), v;
    int rc = mdb_get(txn, s->pubstate, &k, &v);
    if (rc != MDB_SUCCESS)
        return store_map_err(rc);
    return pub_state_decode(&v, ps);
}

int store_reader_pub_state(struct store_reader *r, const char *zone, struct store_pub_state *out)
{
    char text[PUB_ZONE_TEXT];
    uint8_t wire[PUB_NAME_MAX];
    size_t wlen;
    struct pub_state ps;

    if (!r->active)
        return DNSBL_EINVAL;
    int rc = pub_zone_names(zone, text, wire, &wlen);
    if (rc == DNSBL_OK)
        rc = pub_state_read(r->s, r->txn, text, &ps);
    if (rc == DNSBL_OK)
        *out = ps.st;
    return rc;
}

/* ---- publishing ---- */

/* A growing byte buffer with a sticky allocation failure. */
struct pub_buf {
    uint8_t *p;
    size_t len, cap;
    uint32_t count;
    bool nomem;
};

static void pub_buf_add(struct pub_buf *b, const void *data, size_t len)
{
    if (b->nomem || grow_array((void **)&b->p, &b->cap, b->len + len, 1, 4096) != DNSBL_OK) {
        b->nomem = true;
        return;
    }
    memcpy(b->p + b->len, data, len);
    b->len += len;
}

/* A journal record: [rel_len][rel][body]. */
static void pub_buf_rec(struct pub_buf *b, const uint8_t *rel, uint8_t rel_len, const uint8_t *body,
                        size_t blen)
{
    pub_buf_add(b, &rel_len, 1);
    pub_buf_add(b, rel, rel_len);
    pub_buf_add(b, body, blen);
    b->count++;
}

struct pub_job {
    struct store_pub_set *set;
    int64_t now;
    uint32_t journal_max;
    uint64_t data_serial;
    struct store_pub_result *res;
    struct pub_buf val, del, add; /* an owner's new value; the change's deletions, additions */
};

static void pub_key(uint8_t *key, uint32_t id, const uint8_t *rel, size_t rel_len)
{
    pub_put32(key, id);
    memcpy(key + 4, rel, rel_len);
}

static void pub_jkey(uint8_t key[PUB_JKEY_LEN], uint32_t id, uint64_t seq)
{
    pub_put32(key, id);
    pub_put64(key + 4, seq);
}

/* The zone id of a first publish: one above every id in use. */
static int pub_next_id(struct store_txn *t, uint32_t *id)
{
    MDB_cursor *cur;
    MDB_val k, v;
    struct pub_state ps;

    *id = 1;
    if (store_txn_step(t, mdb_cursor_open(t->txn, t->s->pubstate, &cur), "open pubstate") !=
        DNSBL_OK)
        return t->err;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    for (; rc == MDB_SUCCESS; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        if (pub_state_decode(&v, &ps) == DNSBL_OK && ps.id >= *id)
            *id = ps.id + 1;
    mdb_cursor_close(cur);
    return store_txn_step(t, rc == MDB_NOTFOUND ? MDB_SUCCESS : rc, "read pubstate");
}

/* The records set->offs[lo, hi) (one owner) as a pubset value in j->val,
 * duplicates dropped; *count gets how many. */
static void pub_group_value(struct pub_job *j, size_t lo, size_t hi, uint64_t *count)
{
    const uint8_t *prev = NULL;
    j->val.len = 0;
    *count = 0;
    for (size_t i = lo; i < hi; i++) {
        const uint8_t *r = j->set->buf + j->set->offs[i];
        const uint8_t *body = r + 1 + r[0];
        if (prev && pub_body_cmp(prev, body) == 0)
            continue;
        pub_buf_add(&j->val, body, PUB_BODY_HEAD + pub_get16(body + 6));
        prev = body;
        (*count)++;
    }
}

/* Every body of value v into b (the records of owner rel); *count gets
 * how many. DNSBL_ESCHEMA for a value that does not parse. */
static int pub_value_all(struct pub_buf *b, const uint8_t *rel, uint8_t rel_len, const MDB_val *v,
                         uint64_t *count)
{
    const uint8_t *p = v->mv_data, *end = p + v->mv_size;
    *count = 0;
    while (p < end) {
        size_t len = pub_body_len(p, end);
        if (len == 0)
            return DNSBL_ESCHEMA;
        pub_buf_rec(b, rel, rel_len, p, len);
        p += len;
        (*count)++;
    }
    return DNSBL_OK;
}

/* The difference between an owner's stored value old and new one (both
 * sorted) into j->del and j->add. */
static int pub_value_diff(struct pub_job *j, const uint8_t *rel, uint8_t rel_len,
                          const MDB_val *old, const struct pub_buf *nv)
{
    const uint8_t *a = old->mv_data, *aend = a + old->mv_size;
    const uint8_t *b = nv->p, *bend = b + nv->len;
    while (a < aend || b < bend) {
        size_t alen = a < aend ? pub_body_len(a, aend) : 0;
        size_t blen = b < bend ? pub_body_len(b, bend) : 0;
        if (a < aend && alen == 0)
            return DNSBL_ESCHEMA;
        int c = a >= aend ? 1 : b >= bend ? -1 : pub_body_cmp(a, b);
        if (c < 0) {
            pub_buf_rec(&j->del, rel, rel_len, a, alen);
            j->res->records_removed++;
            a += alen;
        } else if (c > 0) {
            pub_buf_rec(&j->add, rel, rel_len, b, blen);
            j->res->records_added++;
            b += blen;
        } else {
            a += alen;
            b += blen;
        }
    }
    return DNSBL_OK;
}

/* The stored key the cursor is on, copied (a write moves pages); false at
 * the end of the zone's keys. */
static bool pub_load_key(struct store_txn *t, int rc, const MDB_val *k, uint32_t id, uint8_t *kbuf,
                         size_t *klen)
{
    if (rc == MDB_NOTFOUND)
        return false;
    if (store_txn_step(t, rc, "read pubset") != DNSBL_OK)
        return false;
    if (k->mv_size < 4 || k->mv_size > PUB_SKEY_MAX || pub_get32(k->mv_data) != id)
        return false;
    memcpy(kbuf, k->mv_data, k->mv_size);
    *klen = k->mv_size;
    return true;
}

/* The merge of the sorted new set with the stored one: writes what
 * differs and gathers the change. */
static int pub_merge(struct store_txn *t, struct pub_job *j, uint32_t id, uint64_t *names,
                     uint64_t *records)
{
    struct store_pub_set *set = j->set;
    struct store_pub_result *res = j->res;
    MDB_cursor *cur;
    MDB_val k, v;
    uint8_t kbuf[PUB_SKEY_MAX], nkey[PUB_SKEY_MAX], idkey[4];
    size_t klen = 0, i = 0;

    if (store_txn_step(t, mdb_cursor_open(t->txn, t->s->pubset, &cur), "open pubset") != DNSBL_OK)
        return t->err;
    pub_put32(idkey, id);
    k = store_val(idkey, 4);
    bool have = pub_load_key(t, mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE), &k, id, kbuf, &klen);
    while (store_txn_ok(t) && (i < set->n || have)) {
        const uint8_t *r = i < set->n ? set->buf + set->offs[i] : NULL;
        size_t hi = i;
        while (r && hi < set->n) {
            const uint8_t *q = set->buf + set->offs[hi];
            if (pub_bytes_cmp(q + 1, q[0], r + 1, r[0]) != 0)
                break;
            hi++;
        }
        int c = !have ? -1 : !r ? 1 : pub_bytes_cmp(r + 1, r[0], kbuf + 4, klen - 4);
        bool wrote = false;
        uint64_t count = 0;
        if (c <= 0) {
            pub_group_value(j, i, hi, &count);
            *names += 1;
            *records += count;
        }
        if (c < 0) { /* a new owner */
            pub_key(nkey, id, r + 1, r[0]);
            MDB_val nk = store_val(nkey, 4 + r[0]), nv = store_val(j->val.p, j->val.len);
            for (const uint8_t *p = j->val.p; p < j->val.p + j->val.len;) {
                size_t len = pub_body_len(p, j->val.p + j->val.len);
                pub_buf_rec(&j->add, r + 1, r[0], p, len);
                p += len;
            }
            res->names_added++;
            res->records_added += count;
            store_txn_step(t, mdb_put(t->txn, t->s->pubset, &nk, &nv, 0), "write pubset");
            wrote = true;
            i = hi;
        } else if (c == 0) {
            if (v.mv_size != j->val.len || memcmp(v.mv_data, j->val.p, j->val.len) != 0) {
                if (pub_value_diff(j, r + 1, r[0], &v, &j->val) != DNSBL_OK)
                    store_txn_fail(t, DNSBL_ESCHEMA, "a pubset record does not decode");
                MDB_val nk = store_val(kbuf, klen), nv = store_val(j->val.p, j->val.len);
                res->names_changed++;
                store_txn_step(t, mdb_put(t->txn, t->s->pubset, &nk, &nv, 0), "write pubset");
                wrote = true;
            }
            i = hi;
        } else { /* an owner gone */
            if (pub_value_all(&j->del, kbuf + 4, (uint8_t)(klen - 4), &v, &count) != DNSBL_OK)
                store_txn_fail(t, DNSBL_ESCHEMA, "a pubset record does not decode");
            res->names_removed++;
            res->records_removed += count;
            MDB_val dk = store_val(kbuf, klen);
            store_txn_step(t, mdb_del(t->txn, t->s->pubset, &dk, NULL), "delete from pubset");
            wrote = true;
        }
        if (j->val.nomem || j->del.nomem || j->add.nomem)
            store_txn_fail(t, DNSBL_ENOMEM, "publishing: out of memory");
        if (!store_txn_ok(t) || !have)
            continue;
        /* A write may move pages: the stored key is looked up again, and
         * stepped past unless it was the one deleted or still to come. */
        k = store_val(kbuf, klen);
        int rc = wrote ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) : MDB_SUCCESS;
        if (rc == MDB_SUCCESS && c == 0)
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        have = pub_load_key(t, rc, &k, id, kbuf, &klen);
    }
    mdb_cursor_close(cur);
    return t->err;
}

/* The change as a journal record, and the journal trimmed to max. */
static int pub_journal(struct store_txn *t, struct pub_job *j, struct pub_state *ps, uint32_t from)
{
    uint8_t key[PUB_JKEY_LEN], head[PUB_JHEAD_LEN];
    MDB_val k, v;

    if (j->journal_max > 0) {
        head[0] = PUB_JOURNAL_VERSION;
        pub_put32(head + 1, from);
        pub_put32(head + 5, ps->st.serial);
        pub_put32(head + 9, j->del.count);
        pub_put32(head + 13, j->add.count);
        pub_jkey(key, ps->id, ps->seq_next);
        k = store_val(key, sizeof key);
        v.mv_size = sizeof head + j->del.len + j->add.len;
        /* Reserve the value and fill it in place: no third copy of a big change. */
        if (store_txn_step(t, mdb_put(t->txn, t->s->pubjournal, &k, &v, MDB_RESERVE),
                           "write pubjournal") != DNSBL_OK)
            return t->err;
        uint8_t *p = v.mv_data;
        memcpy(p, head, sizeof head);
        if (j->del.len)
            memcpy(p + sizeof head, j->del.p, j->del.len);
        if (j->add.len)
            memcpy(p + sizeof head + j->del.len, j->add.p, j->add.len);
        ps->seq_next++;
    }
    while (store_txn_ok(t) && ps->seq_next - ps->seq_first > j->journal_max) {
        pub_jkey(key, ps->id, ps->seq_first);
        k = store_val(key, sizeof key);
        int rc = mdb_del(t->txn, t->s->pubjournal, &k, NULL);
        store_txn_step(t, rc == MDB_NOTFOUND ? MDB_SUCCESS : rc, "trim pubjournal");
        ps->seq_first++;
    }
    ps->st.oldest = ps->st.serial;
    if (store_txn_ok(t) && ps->seq_first < ps->seq_next) {
        pub_jkey(key, ps->id, ps->seq_first);
        k = store_val(key, sizeof key);
        if (store_txn_step(t, mdb_get(t->txn, t->s->pubjournal, &k, &v), "read pubjournal") ==
                DNSBL_OK &&
            v.mv_size >= PUB_JHEAD_LEN)
            ps->st.oldest = pub_get32((const uint8_t *)v.mv_data + 1);
    }
    return t->err;
}

static int pub_once(struct store *s, void *arg, char *why, size_t whylen)
{
    struct pub_job *j = arg;
    struct store_pub_result *res = j->res;
    struct store_txn t;
    struct pub_state ps = {0};
    uint64_t names = 0, records = 0;

    memset(res, 0, sizeof *res);
    j->del.len = j->add.len = 0;
    j->del.count = j->add.count = 0;
    if (store_txn_begin(s, &t) != DNSBL_OK)
        return store_txn_end(&t, why, whylen);
    int rc = pub_state_read(s, t.txn, j->set->zone, &ps);
    if (rc == DNSBL_ENOENT) {
        res->first = true;
        memset(&ps, 0, sizeof ps);
        pub_next_id(&t, &ps.id);
    } else if (rc != DNSBL_OK) {
        store_txn_fail(&t, rc, "the published state of zone %s does not read", j->set->zone);
    }
    res->old_serial = ps.st.serial;
    if (store_txn_ok(&t) && !res->first && ps.data_serial > j->data_serial) {
        res->stale = true;
        res->state = ps.st;
        store_txn_abort(&t);
        return DNSBL_OK;
    }
    if (store_txn_ok(&t))
        pub_merge(&t, j, ps.id, &names, &records);
    res->changed = res->first || j->del.count > 0 || j->add.count > 0;
    if (store_txn_ok(&t) && !res->changed) {
        res->state = ps.st;
        store_txn_abort(&t);
        return DNSBL_OK;
    }
    uint32_t from = ps.st.serial;
    /* RFC 1982: serials add modulo 2^32. The first is the time, above
     * the load time dnsbld used as serial before zones were published. */
    ps.st.serial = res->first ? (uint32_t)j->now : ps.st.serial + 1;
    ps.st.published = j->now;
    ps.data_serial = j->data_serial;
    ps.st.names = names;
    ps.st.records = records;
    if (store_txn_ok(&t) && !res->first)
        pub_journal(&t, j, &ps, from);
    else
        ps.st.oldest = ps.st.serial;
    uint8_t buf[PUB_STATE_LEN];
    pub_state_encode(&ps, buf);
    MDB_val k = store_val(j->set->zone, strlen(j->set->zone)), v = store_val(buf, sizeof buf);
    if (store_txn_ok(&t))
        store_txn_step(&t, mdb_put(t.txn, s->pubstate, &k, &v, 0), "write pubstate");
    res->state = ps.st;
    return store_txn_end(&t, why, whylen);
}

int store_publish(struct store *s, struct store_pub_set *set, int64_t now, uint32_t journal_max,
                  uint64_t data_serial, struct store_pub_result *out, char *why, size_t whylen)
{
    struct pub_job j = {
        .set = set, .now = now, .journal_max = journal_max, .data_serial = data_serial, .res = out};

    if (s->flags & STORE_RDONLY) {
        store_set_why(why, whylen, "%s: publishing needs write access", s->dir);
        return DNSBL_EINVAL;
    }
    qsort_r(set->offs, set->n, sizeof *set->offs, pub_rec_cmp, set->buf);
    int rc = store_write_growing(s, pub_once, &j, why, whylen);
    free(j.val.p);
    free(j.del.p);
    free(j.add.p);
    return store_public_err(rc);
}

/* ---- reading: AXFR and IXFR ---- */

struct store_pub_iter {
    MDB_cursor *cur;
    uint32_t id;
    bool ixfr, started, done;
    uint32_t serial; /* AXFR: the set's */
    uint8_t zwire[PUB_NAME_MAX];
    size_t zlen;
    uint8_t owner[PUB_NAME_MAX * 2];
    uint16_t owner_len;
    const uint8_t *p, *end; /* AXFR: the bodies left of an owner; IXFR: of a change */
    /* IXFR: 0 the next change, 1 its first SOA, 2 deletions, 3 its second
     * SOA, 4 additions */
    int phase;
    uint32_t from, to, left_del, left_add;
};

static int pub_iter_new(struct store_reader *r, const char *zone, struct store_pub_iter **out,
                        struct pub_state *ps, MDB_dbi db)
{
    char text[PUB_ZONE_TEXT];
    struct store_pub_iter *it;

    *out = NULL;
    if (!r->active)
        return DNSBL_EINVAL;
    it = calloc(1, sizeof *it);
    if (!it)
        return DNSBL_ENOMEM;
    int rc = pub_zone_names(zone, text, it->zwire, &it->zlen);
    if (rc == DNSBL_OK)
        rc = pub_state_read(r->s, r->txn, text, ps);
    if (rc == DNSBL_OK)
        rc = store_map_err(mdb_cursor_open(r->txn, db, &it->cur));
    if (rc != DNSBL_OK) {
        free(it);
        return rc;
    }
    it->id = ps->id;
    it->serial = ps->st.serial;
    *out = it;
    return DNSBL_OK;
}

int store_pub_axfr_open(struct store_reader *r, const char *zone, struct store_pub_iter **out)
{
    struct pub_state ps;
    return pub_iter_new(r, zone, out, &ps, r->s->pubset);
}

int store_pub_ixfr_open(struct store_reader *r, const char *zone, uint32_t from,
                        struct store_pub_iter **out)
{
    struct pub_state ps;
    struct store_pub_iter *it;
    int rc = pub_iter_new(r, zone, &it, &ps, r->s->pubjournal);

    *out = NULL;
    if (rc != DNSBL_OK)
        return rc;
    it->ixfr = true;
    it->started = true;
    if (from == ps.st.serial) {
        it->done = true; /* current: no change to send */
        *out = it;
        return DNSBL_OK;
    }
    uint8_t key[PUB_JKEY_LEN];
    pub_jkey(key, ps.id, ps.seq_first);
    MDB_val k = store_val(key, sizeof key), v;
    rc = mdb_cursor_get(it->cur, &k, &v, MDB_SET_RANGE);
    /* The change that starts at from. */
    for (; rc == MDB_SUCCESS; rc = mdb_cursor_get(it->cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != PUB_JKEY_LEN || pub_get32(k.mv_data) != ps.id) {
            rc = MDB_NOTFOUND;
            break;
        }
        if (v.mv_size >= PUB_JHEAD_LEN && pub_get32((const uint8_t *)v.mv_data + 1) == from)
            break;
    }
    if (rc != MDB_SUCCESS) {
        store_pub_iter_free(it);
        return store_map_err(rc);
    }
    it->started = false; /* the cursor is on the first change */
    *out = it;
    return DNSBL_OK;
}

/* The owner of a record: rel labels, then the zone. */
static void pub_iter_owner(struct store_pub_iter *it, const uint8_t *rel, size_t rel_len,
                           struct store_pub_rr *rr)
{
    memcpy(it->owner, rel, rel_len);
    memcpy(it->owner + rel_len, it->zwire, it->zlen);
    rr->owner = it->owner;
    rr->owner_len = (uint16_t)(rel_len + it->zlen);
}

static int pub_axfr_next(struct store_pub_iter *it, struct store_pub_rr *rr)
{
    for (;;) {
        if (it->p < it->end) {
            size_t len = pub_body_len(it->p, it->end);
            if (len == 0)
                return DNSBL_ESCHEMA;
            rr->kind = STORE_PUB_RR;
            rr->serial = it->serial;
            rr->owner = it->owner;
            rr->owner_len = it->owner_len;
            pub_rr_from_body(it->p, rr);
            it->p += len;
            return 1;
        }
        if (it->done)
            return 0;
        uint8_t idkey[4];
        pub_put32(idkey, it->id);
        MDB_val k = store_val(idkey, 4), v;
        int rc = mdb_cursor_get(it->cur, &k, &v, it->started ? MDB_NEXT : MDB_SET_RANGE);
        it->started = true;
        if (rc == MDB_NOTFOUND ||
            (rc == MDB_SUCCESS &&
             (k.mv_size < 4 || k.mv_size > PUB_SKEY_MAX || pub_get32(k.mv_data) != it->id))) {
            it->done = true;
            return 0;
        }
        if (rc != MDB_SUCCESS)
            return store_map_err(rc);
        /* The owner stays in it->owner for every record of the value. */
        pub_iter_owner(it, (const uint8_t *)k.mv_data + 4, k.mv_size - 4, rr);
        it->owner_len = rr->owner_len;
        it->p = v.mv_data;
        it->end = it->p + v.mv_size;
    }
}

/* One journal record at it->p: [rel_len][rel][body]. */
static int pub_ixfr_record(struct store_pub_iter *it, struct store_pub_rr *rr)
{
    if (it->p >= it->end || (size_t)(it->end - it->p) < 1u + it->p[0])
        return DNSBL_ESCHEMA;
    const uint8_t *rel = it->p + 1, *body = rel + it->p[0];
    size_t len = pub_body_len(body, it->end);
    if (len == 0)
        return DNSBL_ESCHEMA;
    pub_iter_owner(it, rel, it->p[0], rr);
    pub_rr_from_body(body, rr);
    it->p = body + len;
    return 1;
}

static int pub_ixfr_next(struct store_pub_iter *it, struct store_pub_rr *rr)
{
    for (;;) {
        switch (it->phase) {
        case 0: {
            if (it->done)
                return 0;
            MDB_val k, v;
            int rc = mdb_cursor_get(it->cur, &k, &v, it->started ? MDB_NEXT : MDB_GET_CURRENT);
            it->started = true;
            if (rc == MDB_NOTFOUND || (rc == MDB_SUCCESS && (k.mv_size != PUB_JKEY_LEN ||
                                                             pub_get32(k.mv_data) != it->id))) {
                it->done = true;
                return 0;
            }
            if (rc != MDB_SUCCESS)
                return store_map_err(rc);
            const uint8_t *b = v.mv_data;
            if (v.mv_size < PUB_JHEAD_LEN || b[0] != PUB_JOURNAL_VERSION)
                return DNSBL_ESCHEMA;
            it->from = pub_get32(b + 1);
            it->to = pub_get32(b + 5);
            it->left_del = pub_get32(b + 9);
            it->left_add = pub_get32(b + 13);
            it->p = b + PUB_JHEAD_LEN;
            it->end = b + v.mv_size;
            it->phase = 1;
            break;
        }
        case 1:
        case 3:
            memset(rr, 0, sizeof *rr);
            rr->kind = it->phase == 1 ? STORE_PUB_DEL_SOA : STORE_PUB_ADD_SOA;
            rr->serial = it->phase == 1 ? it->from : it->to;
            it->phase++;
            return 1;
        case 2:
        case 4: {
            uint32_t *left = it->phase == 2 ? &it->left_del : &it->left_add;
            if (*left == 0) {
                it->phase = it->phase == 2 ? 3 : 0;
                break;
            }
            (*left)--;
            rr->kind = it->phase == 2 ? STORE_PUB_DEL : STORE_PUB_ADD;
            rr->serial = it->phase == 2 ? it->from : it->to;
            return pub_ixfr_record(it, rr);
        }
        }
    }
}

int store_pub_iter_next(struct store_pub_iter *it, struct store_pub_rr *rr)
{
    return it->ixfr ? pub_ixfr_next(it, rr) : pub_axfr_next(it, rr);
}

void store_pub_iter_free(struct store_pub_iter *it)
{
    if (!it)
        return;
    if (it->cur)
        mdb_cursor_close(it->cur);
    free(it);
}

/* ---- the config of the last publish ---- */

int store_pub_config_get(struct store *s, char *path, size_t cap)
{
    MDB_txn *txn;
    MDB_val k = store_meta_key(PUB_CONFIG_KEY), v;

    path[0] = '\0';
    int rc = store_loose_begin(s, &txn);
    if (rc != MDB_SUCCESS)
        return store_public_err(store_map_err(rc));
    rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == MDB_SUCCESS && v.mv_size < cap) {
        memcpy(path, v.mv_data, v.mv_size);
        path[v.mv_size] = '\0';
    }
    store_loose_end(s, txn);
    return rc == MDB_SUCCESS || rc == MDB_NOTFOUND ? DNSBL_OK : store_map_err(rc);
}

static int pub_config_once(struct store *s, void *arg, char *why, size_t whylen)
{
    struct store_txn t;
    const char *path = arg;
    MDB_val k = store_meta_key(PUB_CONFIG_KEY), v = store_val(path, strlen(path));

    if (store_txn_begin(s, &t) == DNSBL_OK) {
        int rc = *path ? mdb_put(t.txn, s->meta, &k, &v, 0) : mdb_del(t.txn, s->meta, &k, NULL);
        store_txn_step(&t, rc == MDB_NOTFOUND ? MDB_SUCCESS : rc, "write publish_config");
    }
    return store_txn_end(&t, why, whylen);
}

int store_pub_config_set(struct store *s, const char *path, char *why, size_t whylen)
{
    return store_public_err(
        store_write_growing(s, pub_config_once, (void *)(uintptr_t)path, why, whylen));
}
