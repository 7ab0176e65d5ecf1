/* store_codec: the `entries` value codec (versions 1 to 3) and the
 * history record codec; pure functions of bytes, no LMDB calls. The
 * layout is doc/store-format.md. */
#include <stddef.h>
#include <string.h>

#include "store_int.h"
#include "wire.h"

/* ---- value codec ---- */

void store_put_text(struct wire *w, const char *text, size_t max)
{
    size_t n = strnlen(text, max - 1);
    wire_put_u16(w, (uint16_t)n);
    wire_put_bytes(w, text, n);
}

void store_get_text(struct wire *w, char *dst, size_t max)
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
    STORE_G_IMPORTED = 2, /* version 2: one imported listing; version 3: the parts */
    STORE_G_SEEN = 4,     /* first_seen, last_seen: every event sets them */
    STORE_G_COUNTS = 8,   /* the evidence counters: zero for list data */
    STORE_G_SNDS = 16,
    STORE_G_TEXTS = 32,
    STORE_G_SNDS_TIME = 64, /* snds_status_time, after the snds group (added later) */
    STORE_G_V1 = 63,        /* what version 1 holds */
    STORE_G_ALL = 127,
};

#define STORE_G_OPERATOR_LEN (1 + 4 + 8 + 8)
#define STORE_G_IMPORTED_LEN (1 + 1 + 4 + 4 + 8)
#define STORE_G_SEEN_LEN (8 + 8)
#define STORE_G_COUNTS_LEN (CNT_COUNT * 4 + 8 + AUTHC_COUNT * 4)
#define STORE_G_SNDS_LEN (1 + 1 + 4 + 4 * 4 + 2 * 8 + 1)
#define STORE_G_SNDS_TIME_LEN 8
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
    if (e->nparts)
        g |= STORE_G_IMPORTED;
    if (e->first_seen || e->last_seen)
        g |= STORE_G_SEEN;
    if (store_any_u32(e->counts, CNT_COUNT) || e->volume ||
        store_any_u32(e->auth_fail, AUTHC_COUNT))
        g |= STORE_G_COUNTS;
    if (e->snds.colour || e->snds.rate_qual || rate_bits || e->snds.rcpt || e->snds.data ||
        e->snds.recipients || e->snds.trap_hits || e->snds.start || e->snds.end || e->snds_status)
        g |= STORE_G_SNDS;
    if (e->snds_status_time)
        g |= STORE_G_SNDS_TIME;
    if (e->reason[0] || e->note[0] || e->sources[0] || e->nparts)
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
        if (e->nparts > ENTRY_PARTS_MAX)
            return DNSBL_EINVAL;
        wire_put_u8(&w, e->nparts);
        for (unsigned i = 0; i < e->nparts; i++) {
            const struct entry_part *pt = &e->parts[i];
            wire_put_u32(&w, pt->dataset);
            wire_put_u8(&w, pt->state);
            wire_put_u8(&w, pt->flags);
            wire_put_u32(&w, pt->code);
            wire_put_u32(&w, pt->ttl);
            store_put_i64(&w, pt->time);
        }
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
    if (g & STORE_G_SNDS_TIME)
        store_put_i64(&w, e->snds_status_time);
    if (g & STORE_G_TEXTS) {
        store_put_text(&w, e->reason, sizeof e->reason);
        store_put_text(&w, e->note, sizeof e->note);
        store_put_text(&w, e->sources, sizeof e->sources);
        for (unsigned i = 0; i < e->nparts; i++) {
            store_put_text(&w, e->part_text[i].dataset, sizeof e->part_text[i].dataset);
            store_put_text(&w, e->part_text[i].txt, sizeof e->part_text[i].txt);
        }
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

/* The bytes the fixed-size groups in g take (version 3's parts are
 * counted apart: their number comes first). */
static size_t store_groups_len(unsigned g, uint8_t version)
{
    return (g & STORE_G_OPERATOR ? STORE_G_OPERATOR_LEN : 0) +
           (g & STORE_G_IMPORTED ? (version < 3 ? STORE_G_IMPORTED_LEN : 1) : 0) +
           (g & STORE_G_SEEN ? STORE_G_SEEN_LEN : 0) +
           (g & STORE_G_COUNTS ? STORE_G_COUNTS_LEN : 0) +
           (g & STORE_G_SNDS ? STORE_G_SNDS_LEN : 0) +
           (g & STORE_G_SNDS_TIME ? STORE_G_SNDS_TIME_LEN : 0);
}

static void store_rd_part(const uint8_t **p, struct entry_part *pt, bool with_id)
{
    pt->dataset = with_id ? store_rd_u32(p) : 0;
    pt->state = store_rd_u8(p);
    pt->flags = store_rd_u8(p);
    pt->code = store_rd_u32(p);
    pt->ttl = store_rd_u32(p);
    pt->time = store_rd_i64(p);
}

/* The parts group: version 2's one imported listing (a part only when it
 * has a state; its dataset id comes with the texts), version 3's count
 * and parts. */
static bool store_rd_parts(const uint8_t **p, const uint8_t *end, uint8_t version, bool imp,
                           struct entry *e)
{
    e->nparts = 0;
    memset(e->parts, 0, sizeof e->parts);
    if (!imp)
        return true;
    if (version < 3) {
        store_rd_part(p, &e->parts[0], false);
        e->nparts = e->parts[0].state != IMPORT_NONE;
        return true;
    }
    uint8_t n = store_rd_u8(p);
    if (n == 0 || n > ENTRY_PARTS_MAX || (size_t)(end - *p) < (size_t)n * STORE_PART_LEN)
        return false;
    for (unsigned i = 0; i < n; i++) {
        store_rd_part(p, &e->parts[i], true);
        if (e->parts[i].state == IMPORT_NONE || e->parts[i].state > IMPORT_EXCLUDED ||
            (e->parts[i].flags & ~(IMPORT_NO_TXT | IMPORT_REASON | IMPORT_SUBZONE)) != 0 ||
            (i > 0 && e->parts[i].dataset <= e->parts[i - 1].dataset))
            return false;
    }
    e->nparts = n;
    return true;
}

static void store_clear_texts(struct entry *e)
{
    e->reason[0] = e->note[0] = e->sources[0] = '\0';
    for (unsigned i = 0; i < ENTRY_PARTS_MAX; i++)
        e->part_text[i].dataset[0] = e->part_text[i].txt[0] = '\0';
}

/* Version 2's texts: reason, note, imp_txt, imp_dataset, sources. The
 * dataset name is read even lean, for the part's id. */
static void store_rd_texts_v2(struct wire *w, struct entry *e, bool lean)
{
    struct entry_part_text *pt = &e->part_text[0];
    char ds[MODEL_DATASET_MAX];
    if (lean) {
        store_skip_text(w, e->reason, sizeof e->reason);
        store_skip_text(w, e->note, sizeof e->note);
        store_skip_text(w, pt->txt, sizeof pt->txt);
    } else {
        store_get_text(w, e->reason, sizeof e->reason);
        store_get_text(w, e->note, sizeof e->note);
        store_get_text(w, pt->txt, sizeof pt->txt);
    }
    store_get_text(w, ds, sizeof ds);
    if (lean)
        store_skip_text(w, e->sources, sizeof e->sources);
    else
        store_get_text(w, e->sources, sizeof e->sources);
    pt->dataset[0] = '\0';
    if (e->nparts) {
        if (!lean)
            memcpy(pt->dataset, ds, sizeof ds);
        e->parts[0].dataset = model_dataset_id(ds);
    } else {
        pt->txt[0] = '\0';
    }
}

static void store_rd_texts_v3(struct wire *w, struct entry *e, bool lean)
{
    void (*rd)(struct wire *, char *, size_t) = lean ? store_skip_text : store_get_text;
    rd(w, e->reason, sizeof e->reason);
    rd(w, e->note, sizeof e->note);
    rd(w, e->sources, sizeof e->sources);
    for (unsigned i = 0; i < e->nparts; i++) {
        rd(w, e->part_text[i].dataset, sizeof e->part_text[i].dataset);
        rd(w, e->part_text[i].txt, sizeof e->part_text[i].txt);
    }
}

/* Decodes into e (every field but the prefix); e is garbage on failure.
 * Version 1 is version 2 with every group and no groups byte. lean:
 * leave the texts empty, their lengths checked. A group that is not there
 * reads as zeros. */
int store_decode_entry_part(const void *val, size_t len, struct entry *e, bool lean)
{
    const uint8_t *p = val, *end = p + len;
    uint32_t rate_bits = 0;
    unsigned g;

    if (len < 1)
        return DNSBL_ESCHEMA;
    uint8_t version = store_rd_u8(&p);
    if (version == 1) {
        g = STORE_G_V1;
    } else if ((version == 2 || version == STORE_VALUE_VERSION) && p < end) {
        g = store_rd_u8(&p);
        if (g & ~(unsigned)STORE_G_ALL)
            return DNSBL_ESCHEMA;
    } else {
        return DNSBL_ESCHEMA;
    }
    if ((size_t)(end - p) < store_groups_len(g, version))
        return DNSBL_ESCHEMA;
    bool op = g & STORE_G_OPERATOR, imp = g & STORE_G_IMPORTED, seen = g & STORE_G_SEEN,
         ev = g & STORE_G_COUNTS, sn = g & STORE_G_SNDS;
    e->state = op ? store_rd_u8(&p) : 0;
    e->code = op ? store_rd_u32(&p) : 0;
    e->expires = op ? store_rd_i64(&p) : 0;
    e->state_time = op ? store_rd_i64(&p) : 0;

    if (!store_rd_parts(&p, end, version, imp, e))
        return DNSBL_ESCHEMA;
    size_t rest = store_groups_len(g & ~(unsigned)(STORE_G_OPERATOR | STORE_G_IMPORTED), version);
    if ((size_t)(end - p) < rest)
        return DNSBL_ESCHEMA;

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
    e->snds_status_time = (g & STORE_G_SNDS_TIME) ? store_rd_i64(&p) : 0;

    struct wire w;
    wire_init_ro(&w, p, (size_t)(end - p));
    if (!(g & STORE_G_TEXTS)) {
        store_clear_texts(e);
        if (version < 3 && e->nparts)
            e->part_text[0].dataset[0] = '\0'; /* a version 2 listing of no dataset */
        else if (version >= 3 && e->nparts)
            return DNSBL_ESCHEMA; /* parts always carry their names */
    } else if (version < 3) {
        store_rd_texts_v2(&w, e, lean);
    } else {
        store_rd_texts_v3(&w, e, lean);
    }

    if (w.err || wire_left(&w) != 0)
        return DNSBL_ESCHEMA;
    if (e->state > ENTRY_ALLOWED || e->snds.colour > SNDS_RED ||
        !store_rate_qual_valid(e->snds.rate_qual) || e->snds_status > SNDS_STATUS_BLOCKED)
        return DNSBL_ESCHEMA;
    if (version < 3 && e->nparts &&
        (e->parts[0].state > IMPORT_EXCLUDED || (e->parts[0].flags & ~IMPORT_NO_TXT) != 0))
        return DNSBL_ESCHEMA;
    return DNSBL_OK;
}

int store_decode_into(const void *val, size_t len, struct entry *e)
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
bool store_value_entry(const MDB_val *v, uint8_t family, MDB_val *entry)
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
int store_decode_value(const MDB_val *v, uint8_t family, struct entry *out)
{
    MDB_val ent;
    if (!store_value_entry(v, family, &ent))
        return DNSBL_ESCHEMA;
    return store_decode_entry(ent.mv_data, ent.mv_size, out);
}

void store_hkey(const uint8_t key[STORE_KEY_LEN], uint32_t day, uint8_t hkey[STORE_HKEY_LEN])
{
    memcpy(hkey, key, STORE_KEY_LEN);
    hkey[STORE_KEY_LEN] = (uint8_t)(day >> 24);
    hkey[STORE_KEY_LEN + 1] = (uint8_t)(day >> 16);
    hkey[STORE_KEY_LEN + 2] = (uint8_t)(day >> 8);
    hkey[STORE_KEY_LEN + 3] = (uint8_t)day;
}

void store_encode_history(const struct history_day *d, uint8_t buf[STORE_HVAL_LEN])
{
    struct wire w;
    wire_init(&w, buf, STORE_HVAL_LEN);
    for (size_t i = 0; i < CNT_COUNT; i++)
        wire_put_u32(&w, d->counts[i]);
    wire_put_u64(&w, d->volume);
}

/* k is a history key of STORE_HKEY_LEN bytes; the day comes from it. */
int store_decode_history(const MDB_val *k, const MDB_val *v, struct history_day *d)
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

/* ---- evidence codec (doc/store-format.md, "evidence") ---- */

void store_ekey(const uint8_t key[STORE_KEY_LEN], int64_t time, uint32_t seq,
                uint8_t ekey[STORE_EKEY_LEN])
{
    struct wire w;
    memcpy(ekey, key, STORE_KEY_LEN);
    wire_init(&w, ekey + STORE_KEY_LEN, STORE_EKEY_LEN - STORE_KEY_LEN);
    wire_put_u64(&w, (uint64_t)time);
    wire_put_u32(&w, seq);
}

int store_ekey_decode(const MDB_val *k, int64_t *time, uint32_t *seq)
{
    struct wire w;
    if (k->mv_size != STORE_EKEY_LEN)
        return DNSBL_ESCHEMA;
    wire_init_ro(&w, (const uint8_t *)k->mv_data + STORE_KEY_LEN, STORE_EKEY_LEN - STORE_KEY_LEN);
    *time = (int64_t)wire_get_u64(&w);
    *seq = wire_get_u32(&w);
    return DNSBL_OK;
}

/* The length of text cut to max - 1 bytes, and back to the start of a
 * UTF-8 sequence so a cut never leaves half a character. */
static size_t store_cut_len(const char *text, size_t max)
{
    size_t n = strnlen(text, max);
    if (n < max)
        return n;
    n = max - 1;
    while (n > 0 && ((uint8_t)text[n] & 0xc0) == 0x80)
        n--;
    return n;
}

int store_encode_evidence(const struct event *ev, uint8_t *buf, size_t cap, size_t *len)
{
    struct wire w;
    uint64_t weight_bits;
    const struct evidence_ident *id = ev->ident;
    size_t n = id ? id->n : 0;

    if (n > EVIDENCE_IDENT_MAX)
        return DNSBL_EINVAL;
    memcpy(&weight_bits, &ev->weight, sizeof weight_bits);
    wire_init(&w, buf, cap);
    wire_put_u8(&w, STORE_EVIDENCE_VERSION);
    wire_put_u8(&w, ev->kind);
    wire_put_u64(&w, weight_bits);
    wire_put_u64(&w, ev->import_id);
    const char *src = ev->source ? ev->source : "";
    size_t sn = store_cut_len(src, MODEL_TEXT_MAX);
    wire_put_u16(&w, (uint16_t)sn);
    wire_put_bytes(&w, src, sn);
    wire_put_u8(&w, (uint8_t)n);
    for (size_t i = 0; i < n; i++) {
        const char *name = id->pair[i].name ? id->pair[i].name : "";
        const char *value = id->pair[i].value ? id->pair[i].value : "";
        size_t nn = strnlen(name, EVIDENCE_NAME_MAX), vn = store_cut_len(value, EVIDENCE_VALUE_MAX);
        if (nn == 0 || nn >= EVIDENCE_NAME_MAX)
            return DNSBL_EINVAL; /* a caller bug: names are short words */
        wire_put_u8(&w, (uint8_t)nn);
        wire_put_bytes(&w, name, nn);
        wire_put_u16(&w, (uint16_t)vn);
        wire_put_bytes(&w, value, vn);
    }
    if (w.err)
        return DNSBL_ESPACE;
    *len = wire_used(&w);
    return DNSBL_OK;
}

/* A text of n bytes (n read by the caller) into dst of max bytes. */
static void store_get_text_n(struct wire *w, size_t n, char *dst, size_t max)
{
    dst[0] = '\0';
    if (n > max - 1 || !wire_need(w, n)) {
        w->err = true;
        return;
    }
    wire_get_bytes(w, dst, n);
    dst[n] = '\0';
    if (memchr(dst, '\0', n))
        w->err = true;
}

int store_decode_evidence(const void *val, size_t len, struct evidence_record *out)
{
    struct wire w;
    uint64_t weight_bits;

    wire_init_ro(&w, val, len);
    uint8_t version = wire_get_u8(&w);
    if (w.err || version != STORE_EVIDENCE_VERSION)
        return DNSBL_ESCHEMA;
    out->kind = wire_get_u8(&w);
    weight_bits = wire_get_u64(&w);
    memcpy(&out->weight, &weight_bits, sizeof out->weight);
    out->import_id = wire_get_u64(&w);
    store_get_text_n(&w, wire_get_u16(&w), out->dataset, sizeof out->dataset);
    out->n = wire_get_u8(&w);
    if (w.err || out->kind >= EV_KIND_COUNT || out->n > EVIDENCE_IDENT_MAX)
        return DNSBL_ESCHEMA;
    for (size_t i = 0; i < out->n && !w.err; i++) {
        size_t nn = wire_get_u8(&w);
        if (nn == 0)
            w.err = true;
        store_get_text_n(&w, nn, out->name[i], sizeof out->name[i]);
        store_get_text_n(&w, wire_get_u16(&w), out->value[i], sizeof out->value[i]);
    }
    if (w.err || wire_left(&w) != 0)
        return DNSBL_ESCHEMA;
    return DNSBL_OK;
}
