/* Unit tests for the store's value codec (doc/store-format.md, "Entry
 * values"): every group of fields survives a round trip, and truncated or
 * corrupted values are refused rather than misread. No store is opened. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "err.h"
#include "model.h"
#include "store.h"
#include "store_testing.h"
#include "store_tests.h"

/* Offsets in an encoded value with every group of fields (doc/store-format.md,
 * "Entry values": version, groups, then the fields), for corrupting one. */
#define OFF_GROUPS 1
#define OFF_STATE 2
#define OFF_NPARTS (2 + 21)
#define OFF_PART(i) (OFF_NPARTS + 1 + (i)*STORE_PART_LEN)
#define OFF_PART_STATE(i) (OFF_PART(i) + 4)
#define OFF_PART_FLAGS(i) (OFF_PART(i) + 5)
#define OFF_SNDS (OFF_PART(ENTRY_PARTS_MAX) + 8 + 8 + CNT_COUNT * 4 + 8 + AUTHC_COUNT * 4)
#define OFF_RATE_QUAL (OFF_SNDS + 1)
#define OFF_SNDS_STATUS (OFF_SNDS + 38)
#define OFF_TEXT (OFF_SNDS_STATUS + 1 + 8) /* after snds_status_time: a string's length */

static void fill_text(char *dst, size_t size, char c)
{
    memset(dst, c, size - 1);
    dst[size - 1] = '\0';
    dst[0] = (char)(c - 32); /* upper case: the ends differ from the middle */
    dst[size - 2] = (char)(c - 32);
}

static void fill_entry(struct entry *e)
{
    memset(e, 0, sizeof *e);
    e->prefix = pfx("2001:db8::/32");
    e->state = ENTRY_ALLOWED;
    e->code = 0x7f00000a;
    e->expires = -1234567890123LL;
    e->state_time = INT64_MAX;
    fill_text(e->reason, sizeof e->reason, 'r');
    fill_text(e->note, sizeof e->note, 'n');
    /* every part, each name and TXT at full length, in id order */
    e->nparts = ENTRY_PARTS_MAX;
    for (unsigned i = 0; i < ENTRY_PARTS_MAX; i++) {
        struct entry_part_text t;
        fill_text(t.dataset, sizeof t.dataset, (char)('d' + i));
        fill_text(t.txt, sizeof t.txt, (char)('t' - i));
        struct entry_part p = {.dataset = model_dataset_id(t.dataset),
                               .state = i % 2 ? IMPORT_LISTED : IMPORT_EXCLUDED,
                               .flags = (uint8_t)(i % 3),
                               .code = 0x7f000004 + i,
                               .ttl = UINT32_MAX - i,
                               .time = 1700000003 + i};
        unsigned at = i;
        while (at > 0 && e->parts[at - 1].dataset > p.dataset) {
            e->parts[at] = e->parts[at - 1];
            e->part_text[at] = e->part_text[at - 1];
            at--;
        }
        e->parts[at] = p;
        e->part_text[at] = t;
    }
    e->first_seen = INT64_MIN;
    e->last_seen = 1700000001;
    for (size_t i = 0; i < CNT_COUNT; i++)
        e->counts[i] = UINT32_MAX - (uint32_t)i;
    e->volume = UINT64_MAX - 7;
    e->auth_fail[AUTHC_SPF] = 11;
    e->auth_fail[AUTHC_DKIM] = UINT32_MAX;
    e->auth_fail[AUTHC_DMARC] = 0x01020304;
    e->snds.colour = SNDS_RED;
    e->snds.rate_qual = '<';
    e->snds.rate_pct = 0.1f;
    e->snds.rcpt = 1000001;
    e->snds.data = 1000002;
    e->snds.recipients = UINT32_MAX - 1;
    e->snds.trap_hits = 42;
    e->snds.start = 1748761200;
    e->snds.end = -1;
    e->snds_status = SNDS_STATUS_BLOCKED;
    e->snds_status_time = 1748736000;
    fill_text(e->sources, sizeof e->sources, 's');
}

static void assert_entry_equal(const struct entry *a, const struct entry *b)
{
    assert_int_equal(a->prefix.family, b->prefix.family);
    assert_int_equal(a->prefix.plen, b->prefix.plen);
    assert_memory_equal(a->prefix.a, b->prefix.a, 16);
    assert_int_equal(a->state, b->state);
    assert_int_equal(a->code, b->code);
    assert_true(a->expires == b->expires);
    assert_true(a->state_time == b->state_time);
    assert_string_equal(a->reason, b->reason);
    assert_string_equal(a->note, b->note);
    assert_int_equal(a->nparts, b->nparts);
    for (unsigned i = 0; i < a->nparts; i++) {
        assert_memory_equal(&a->parts[i], &b->parts[i], sizeof a->parts[i]);
        assert_string_equal(a->part_text[i].dataset, b->part_text[i].dataset);
        assert_string_equal(a->part_text[i].txt, b->part_text[i].txt);
    }
    assert_true(a->first_seen == b->first_seen);
    assert_true(a->last_seen == b->last_seen);
    assert_memory_equal(a->counts, b->counts, sizeof a->counts);
    assert_true(a->volume == b->volume);
    assert_memory_equal(a->auth_fail, b->auth_fail, sizeof a->auth_fail);
    assert_int_equal(a->snds.colour, b->snds.colour);
    assert_int_equal(a->snds.rate_qual, b->snds.rate_qual);
    assert_memory_equal(&a->snds.rate_pct, &b->snds.rate_pct, sizeof a->snds.rate_pct);
    assert_int_equal(a->snds.rcpt, b->snds.rcpt);
    assert_int_equal(a->snds.data, b->snds.data);
    assert_int_equal(a->snds.recipients, b->snds.recipients);
    assert_int_equal(a->snds.trap_hits, b->snds.trap_hits);
    assert_true(a->snds.start == b->snds.start);
    assert_true(a->snds.end == b->snds.end);
    assert_int_equal(a->snds_status, b->snds_status);
    assert_true(a->snds_status_time == b->snds_status_time);
    assert_string_equal(a->sources, b->sources);
}

static void test_codec_roundtrip(void **state)
{
    (void)state;
    struct entry in, out;
    uint8_t buf[STORE_ENTRY_VALUE_MAX];
    size_t len = 0;

    fill_entry(&in);
    assert_int_equal(store_encode_entry(&in, buf, sizeof buf, &len), DNSBL_OK);
    assert_int_equal(len, STORE_ENTRY_VALUE_MAX); /* every string at max length */
    assert_int_equal(buf[0], 3);                  /* value version */
    memset(&out, 0xa5, sizeof out);
    out.prefix = in.prefix;
    assert_int_equal(store_decode_entry(buf, len, &out), DNSBL_OK);
    assert_entry_equal(&in, &out);

    assert_int_equal(strlen(out.reason), MODEL_TEXT_MAX - 1);
    assert_int_equal(strlen(out.sources), MODEL_TEXT_MAX - 1);
    assert_int_equal(strlen(out.part_text[3].dataset), MODEL_DATASET_MAX - 1);
    assert_true(out.snds.rate_pct == 0.1f);

    /* versions 1 and 2, as older stores hold them: one imported listing
     * (state, flags, code, ttl, time) where 3 has parts, its TXT and
     * dataset among the texts; version 1 has every group and no groups
     * byte (nor snds_status_time). */
    struct entry old;
    memset(&old, 0, sizeof old);
    old.prefix = in.prefix;
    old.state = ENTRY_LISTED;
    old.code = 0x7f000009;
    strcpy(old.reason, "r");
    strcpy(old.sources, "s");
    old.nparts = 1;
    old.parts[0] = (struct entry_part){.dataset = model_dataset_id("drop"),
                                       .state = IMPORT_LISTED,
                                       .flags = IMPORT_NO_TXT,
                                       .code = 0x7f000004,
                                       .ttl = 60,
                                       .time = 1700000000};
    strcpy(old.part_text[0].dataset, "drop");
    uint8_t v2[256], *p = v2;
    const uint8_t head[] = {2, 1 | 2 | 32, 1, 0x7f, 0, 0, 9, 0, 0,    0, 0, 0, 0, 0, 0, 0, 0,
                            0, 0,          0, 0,    0, 0, 1, 1, 0x7f, 0, 0, 4, 0, 0, 0, 60};
    memcpy(p, head, sizeof head);
    p += sizeof head;
    for (int i = 7; i >= 0; i--)
        *p++ = (uint8_t)(1700000000LL >> (8 * i));
    const uint8_t texts[] = {0, 1, 'r', 0, 0, 0, 0, 0, 4, 'd', 'r', 'o', 'p', 0, 1, 's'};
    memcpy(p, texts, sizeof texts);
    p += sizeof texts;
    memset(&out, 0xa5, sizeof out);
    out.prefix = in.prefix;
    assert_int_equal(store_decode_entry(v2, (size_t)(p - v2), &out), DNSBL_OK);
    assert_entry_equal(&old, &out);
    /* the same as version 1: every group written, zeros where unset */
    uint8_t v1[512], *q = v1;
    *q++ = 1;
    memcpy(q, v2 + 2, sizeof head - 2 + 8); /* operator and imported groups */
    q += sizeof head - 2 + 8;
    size_t zeros = 16 + CNT_COUNT * 4 + 8 + AUTHC_COUNT * 4 + 39;
    memset(q, 0, zeros);
    q += zeros;
    memcpy(q, texts, sizeof texts);
    q += sizeof texts;
    assert_int_equal(store_decode_entry(v1, (size_t)(q - v1), &out), DNSBL_OK);
    assert_entry_equal(&old, &out);

    /* groups that are all zero are left out, and read back as zeros */
    struct entry only;
    memset(&only, 0, sizeof only);
    only.prefix = in.prefix;
    only.nparts = 1;
    only.parts[0].state = IMPORT_LISTED;
    only.parts[0].time = 1700000000;
    assert_int_equal(store_encode_entry(&only, buf, sizeof buf, &len), DNSBL_OK);
    /* a part always has its texts: the name and TXT, here empty */
    assert_int_equal(len, 2 + 1 + STORE_PART_LEN + 3 * 2 + 2 * 2);
    memset(&out, 0xa5, sizeof out);
    out.prefix = in.prefix;
    assert_int_equal(store_decode_entry(buf, len, &out), DNSBL_OK);
    assert_entry_equal(&only, &out);
    strcpy(only.sources, "csv");
    assert_int_equal(store_encode_entry(&only, buf, sizeof buf, &len), DNSBL_OK);
    assert_int_equal(len, 2 + 1 + STORE_PART_LEN + 3 * 2 + 2 * 2 + 3);
    assert_int_equal(store_decode_entry(buf, len, &out), DNSBL_OK);
    assert_entry_equal(&only, &out);

    /* the float travels as its bits, whatever they are */
    in.snds.rate_pct = -0.0f;
    in.snds.rate_qual = 0;
    in.snds.colour = SNDS_NONE;
    assert_int_equal(store_encode_entry(&in, buf, sizeof buf, &len), DNSBL_OK);
    assert_int_equal(store_decode_entry(buf, len, &out), DNSBL_OK);
    assert_entry_equal(&in, &out);

    /* every enum value round-trips */
    for (uint8_t v = 0; v <= SNDS_RED; v++) {
        in.state = v <= ENTRY_ALLOWED ? v : ENTRY_NONE;
        in.parts[0].state = v >= IMPORT_LISTED && v <= IMPORT_EXCLUDED ? v : IMPORT_LISTED;
        in.snds.colour = v;
        in.snds_status = v <= SNDS_STATUS_BLOCKED ? v : SNDS_STATUS_NONE;
        in.snds.rate_qual = "<>=\0"[v];
        assert_int_equal(store_encode_entry(&in, buf, sizeof buf, &len), DNSBL_OK);
        assert_int_equal(store_decode_entry(buf, len, &out), DNSBL_OK);
        assert_entry_equal(&in, &out);
    }

    /* empty strings and zeros round-trip too */
    memset(&in, 0, sizeof in);
    in.prefix = pfx("192.0.2.1");
    assert_int_equal(store_encode_entry(&in, buf, sizeof buf, &len), DNSBL_OK);
    assert_int_equal(len, 2); /* version and an empty set of groups */
    memset(&out, 0xa5, sizeof out);
    out.prefix = in.prefix;
    assert_int_equal(store_decode_entry(buf, len, &out), DNSBL_OK);
    assert_entry_equal(&in, &out);

    /* a buffer too small is refused, not overrun */
    fill_entry(&in);
    assert_int_equal(store_encode_entry(&in, buf, sizeof buf - 1, &len), DNSBL_ESPACE);
}

/* Decoding buf[0..len) fails with DNSBL_ESCHEMA and leaves out alone. */
static void assert_garbage(const uint8_t *buf, size_t len)
{
    struct entry out, before;
    memset(&before, 0x5a, sizeof before);
    out = before;
    assert_int_equal(store_decode_entry(buf, len, &out), DNSBL_ESCHEMA);
    assert_memory_equal(&out, &before, sizeof out);
}

static void test_codec_rejects_garbage(void **state)
{
    (void)state;
    struct entry in, out;
    uint8_t buf[STORE_ENTRY_VALUE_MAX + 1];
    size_t len = 0;

    fill_entry(&in);
    assert_int_equal(store_encode_entry(&in, buf, sizeof buf, &len), DNSBL_OK);

    /* every truncation, including the empty value */
    for (size_t cut = 0; cut < len; cut++)
        assert_garbage(buf, cut);
    /* a trailing byte */
    buf[len] = 0;
    assert_garbage(buf, len + 1);

    /* an unknown value version, and groups this version does not have */
    buf[0] = 4;
    assert_garbage(buf, len);
    buf[0] = 3;
    assert_int_equal(buf[OFF_GROUPS], 127);
    buf[OFF_GROUPS] = 255;
    assert_garbage(buf, len);
    buf[OFF_GROUPS] = 127;

    /* unknown enum values, each in an otherwise good value */
    const struct {
        size_t off;
        uint8_t bad, good;
    } enums[] = {
        {OFF_STATE, ENTRY_ALLOWED + 1, ENTRY_LISTED},
        {OFF_NPARTS, ENTRY_PARTS_MAX + 1, ENTRY_PARTS_MAX},
        {OFF_NPARTS, 0, ENTRY_PARTS_MAX},
        {OFF_PART_STATE(0), IMPORT_EXCLUDED + 1, IMPORT_LISTED},
        {OFF_PART_STATE(1), IMPORT_NONE, IMPORT_EXCLUDED},
        {OFF_PART_FLAGS(2), 0x08, 0},                /* the first flag after IMPORT_SUBZONE */
        {OFF_PART(1), 0, in.parts[1].dataset >> 24}, /* ids out of order */
        {OFF_SNDS, SNDS_RED + 1, SNDS_YELLOW},
        {OFF_RATE_QUAL, 'x', '>'},
        {OFF_RATE_QUAL, 0xff, '='},
        {OFF_SNDS_STATUS, SNDS_STATUS_BLOCKED + 1, SNDS_STATUS_JUNKED},
    };
    assert_int_equal(buf[OFF_STATE], in.state);
    assert_int_equal(buf[OFF_NPARTS], in.nparts);
    assert_int_equal(buf[OFF_PART_STATE(0)], in.parts[0].state);
    assert_int_equal(buf[OFF_PART_FLAGS(2)], in.parts[2].flags);
    assert_int_equal(buf[OFF_SNDS], in.snds.colour);
    assert_int_equal(buf[OFF_RATE_QUAL], (uint8_t)in.snds.rate_qual);
    assert_int_equal(buf[OFF_SNDS_STATUS], in.snds_status);
    for (size_t i = 0; i < sizeof enums / sizeof enums[0]; i++) {
        uint8_t keep = buf[enums[i].off];
        buf[enums[i].off] = enums[i].bad;
        assert_garbage(buf, len);
        buf[enums[i].off] = enums[i].good;
        assert_int_equal(store_decode_entry(buf, len, &out), DNSBL_OK);
        buf[enums[i].off] = keep;
    }

    /* each string: a length past its field's room, then a NUL inside it */
    size_t room[3 + 2 * ENTRY_PARTS_MAX] = {MODEL_TEXT_MAX - 1, MODEL_TEXT_MAX - 1,
                                            MODEL_TEXT_MAX - 1};
    for (size_t i = 0; i < ENTRY_PARTS_MAX; i++) {
        room[3 + 2 * i] = MODEL_DATASET_MAX - 1;
        room[4 + 2 * i] = MODEL_TEXT_MAX - 1;
    }
    size_t off = OFF_TEXT;
    for (size_t i = 0; i < sizeof room / sizeof room[0]; i++) {
        assert_int_equal((buf[off] << 8) | buf[off + 1], room[i]);
        buf[off + 1] = (uint8_t)(room[i] + 1);
        assert_garbage(buf, len);
        buf[off + 1] = (uint8_t)room[i];
        buf[off + 2 + room[i] - 1] = 0;
        assert_garbage(buf, len);
        buf[off + 2 + room[i] - 1] = 'X';
        assert_int_equal(store_decode_entry(buf, len, &out), DNSBL_OK);
        off += 2 + room[i];
    }
    assert_int_equal(off, len);

    /* a short string with the bytes it gave up left over at the end */
    size_t first = OFF_TEXT;
    buf[first + 1] = (uint8_t)(room[0] - 1);
    assert_garbage(buf, len);

    /* random bytes never decode past the end (ASan would catch it) */
    srand(42);
    for (int i = 0; i < 2000; i++) {
        size_t n = (size_t)rand() % sizeof buf;
        for (size_t j = 0; j < n; j++)
            buf[j] = (uint8_t)rand();
        buf[0] = (uint8_t)(1 + i % 3); /* every version read */
        int rc = store_decode_entry(buf, n, &out);
        assert_true(rc == DNSBL_OK || rc == DNSBL_ESCHEMA);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_roundtrip),
        cmocka_unit_test(test_codec_rejects_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
