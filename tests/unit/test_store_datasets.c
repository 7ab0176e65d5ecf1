/* Unit tests of the datasets database (doc/store-format.md, "datasets"):
 * the record codec survives a round trip and refuses malformed values;
 * store_dataset_note merges a new import with the record (a sync time and
 * a list kind are kept unless given); a second name with the id of a
 * recorded one (a 32-bit FNV-1a collision) is refused with both names;
 * the variant inside a write transaction keeps or loses its record with
 * the transaction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORE_TESTS_NAME "test_store_datasets"
#include "store_int.h"
#include "store_testing.h"
#include "store_tests.h"

#define T0 1700000000

/* Two names with the same model_dataset_id (found by a birthday search). */
#define COLLIDE_A "ds757038"
#define COLLIDE_B "ds1009420"

static void fill(char *dst, size_t size, char c)
{
    memset(dst, c, size - 1);
    dst[size - 1] = '\0';
    dst[0] = (char)(c - 32);
}

static void note_init(struct dataset_note *n, const char *name, uint8_t kind, int64_t imp,
                      int64_t sync)
{
    memset(n, 0, sizeof *n);
    snprintf(n->name, sizeof n->name, "%s", name);
    n->kind = kind;
    n->last_import = imp;
    n->last_sync = sync;
}

static int decode(const char *name, const uint8_t *val, size_t len, struct dataset_note *out)
{
    uint8_t key[4];
    uint32_t id = model_dataset_id(name);
    key[0] = (uint8_t)(id >> 24);
    key[1] = (uint8_t)(id >> 16);
    key[2] = (uint8_t)(id >> 8);
    key[3] = (uint8_t)id;
    MDB_val k = {sizeof key, key}, v = {len, (void *)(uintptr_t)val};
    return store_decode_dataset(&k, &v, out);
}

static void test_codec_round_trip(void **state)
{
    (void)state;
    struct dataset_note in, out;
    uint8_t val[STORE_DVAL_MAX];
    size_t len = 0;

    memset(&in, 0, sizeof in);
    fill(in.name, sizeof in.name, 'n');
    fill(in.format, sizeof in.format, 'f');
    fill(in.files, sizeof in.files, 'p');
    in.kind = DATASET_OPERATOR;
    in.last_import = INT64_MAX;
    in.last_sync = -5;
    assert_int_equal(store_encode_dataset(&in, val, sizeof val, &len), DNSBL_OK);
    assert_int_equal(len, STORE_DVAL_MAX);
    assert_int_equal(decode(in.name, val, len, &out), DNSBL_OK);
    assert_memory_equal(&in, &out, sizeof in);

    note_init(&in, "drop", DATASET_LIST, T0, 0);
    assert_int_equal(store_encode_dataset(&in, val, sizeof val, &len), DNSBL_OK);
    assert_int_equal(len, 1 + 1 + 8 + 8 + 2 + 4 + 2 + 2);
    assert_int_equal(decode("drop", val, len, &out), DNSBL_OK);
    assert_memory_equal(&in, &out, sizeof in);
    assert_string_equal(store_dataset_kind_name(DATASET_LIST), "list");
    assert_string_equal(store_dataset_kind_name(DATASET_EVIDENCE), "evidence");
    assert_string_equal(store_dataset_kind_name(9), "?");

    /* Refused: under another name's key, short, long, another version,
     * an unknown kind. */
    assert_int_equal(decode("other", val, len, &out), DNSBL_ESCHEMA);
    assert_int_equal(decode("drop", val, len - 1, &out), DNSBL_ESCHEMA);
    val[len] = 0;
    assert_int_equal(decode("drop", val, len + 1, &out), DNSBL_ESCHEMA);
    val[0] = 2;
    assert_int_equal(decode("drop", val, len, &out), DNSBL_ESCHEMA);
    val[0] = 1;
    val[1] = 0;
    assert_int_equal(decode("drop", val, len, &out), DNSBL_ESCHEMA);
    /* Not written: no name, an unknown kind, too short a buffer. */
    note_init(&in, "", DATASET_LIST, T0, 0);
    assert_int_equal(store_encode_dataset(&in, val, sizeof val, &len), DNSBL_EINVAL);
    note_init(&in, "x", 7, T0, 0);
    assert_int_equal(store_encode_dataset(&in, val, sizeof val, &len), DNSBL_EINVAL);
    note_init(&in, "x", DATASET_LIST, T0, 0);
    assert_int_equal(store_encode_dataset(&in, val, 10, &len), DNSBL_ESPACE);
}

struct collected {
    struct dataset_note n[8];
    size_t count;
};

static int collect(const struct dataset_note *n, void *arg)
{
    struct collected *c = arg;
    if (c->count < 8)
        c->n[c->count] = *n;
    c->count++;
    return 0;
}

static const struct dataset_note *find(const struct collected *c, const char *name)
{
    for (size_t i = 0; i < c->count && i < 8; i++)
        if (strcmp(c->n[i].name, name) == 0)
            return &c->n[i];
    return NULL;
}

static void test_note_merges(void **state)
{
    (void)state;
    char dir[PATH_MAX], why[STORE_WHY_MAX] = "";
    struct store *s = create_store(dir, sizeof dir, "merge");
    struct dataset_note n;
    struct collected c = {0};

    note_init(&n, "drop", DATASET_LIST, T0, 0);
    snprintf(n.format, sizeof n.format, "list");
    snprintf(n.files, sizeof n.files, "drop.txt");
    assert_int_equal(store_dataset_note(s, &n, why, sizeof why), DNSBL_OK);
    /* A sync recorded alone keeps the import's files. */
    note_init(&n, "drop", DATASET_LIST, 0, T0 + 10);
    assert_int_equal(store_dataset_note(s, &n, why, sizeof why), DNSBL_OK);
    /* Evidence under the list's name leaves it a list; a new import
     * keeps the sync. */
    note_init(&n, "drop", DATASET_EVIDENCE, T0 + 20, 0);
    snprintf(n.format, sizeof n.format, "csv");
    snprintf(n.files, sizeof n.files, "a.csv\nb.csv");
    assert_int_equal(store_dataset_note(s, &n, why, sizeof why), DNSBL_OK);
    note_init(&n, "arf", DATASET_EVIDENCE, T0, 0);
    assert_int_equal(store_dataset_note(s, &n, why, sizeof why), DNSBL_OK);

    assert_int_equal(store_datasets_foreach(s, collect, &c), 0);
    assert_int_equal(c.count, 2);
    const struct dataset_note *d = find(&c, "drop");
    assert_non_null(d);
    assert_int_equal(d->kind, DATASET_LIST);
    assert_int_equal(d->last_import, T0 + 20);
    assert_int_equal(d->last_sync, T0 + 10);
    assert_string_equal(d->format, "csv");
    assert_string_equal(d->files, "a.csv\nb.csv");
    d = find(&c, "arf");
    assert_non_null(d);
    assert_int_equal(d->kind, DATASET_EVIDENCE);
    assert_int_equal(d->last_sync, 0);
    store_close(s);
}

static void test_collision_refused(void **state)
{
    (void)state;
    char dir[PATH_MAX], why[STORE_WHY_MAX] = "";
    struct store *s = create_store(dir, sizeof dir, "collide");
    struct dataset_note n;
    struct collected c = {0};

    assert_int_equal(model_dataset_id(COLLIDE_A), model_dataset_id(COLLIDE_B));
    note_init(&n, COLLIDE_A, DATASET_LIST, T0, 0);
    assert_int_equal(store_dataset_note(s, &n, why, sizeof why), DNSBL_OK);
    note_init(&n, COLLIDE_B, DATASET_LIST, T0 + 1, 0);
    assert_int_equal(store_dataset_note(s, &n, why, sizeof why), DNSBL_EREFUSED);
    assert_non_null(strstr(why, COLLIDE_A));
    assert_non_null(strstr(why, COLLIDE_B));
    assert_non_null(strstr(why, "collide"));
    /* What an importer asks before a dataset's first part. */
    assert_int_equal(store_dataset_check(s, COLLIDE_B, why, sizeof why), DNSBL_EREFUSED);
    assert_non_null(strstr(why, COLLIDE_A));
    assert_int_equal(store_dataset_check(s, COLLIDE_A, why, sizeof why), DNSBL_OK);
    assert_int_equal(store_dataset_check(s, "unrecorded", why, sizeof why), DNSBL_OK);
    /* The first name keeps its record, untouched. */
    assert_int_equal(store_datasets_foreach(s, collect, &c), 0);
    assert_int_equal(c.count, 1);
    assert_string_equal(c.n[0].name, COLLIDE_A);
    assert_int_equal(c.n[0].last_import, T0);
    /* A name too long for a dataset is refused too. */
    note_init(&n, "x", DATASET_LIST, T0, 0);
    memset(n.name, 'x', sizeof n.name);
    assert_int_equal(store_dataset_note(s, &n, why, sizeof why), DNSBL_EINVAL);
    store_close(s);
}

/* Inside a transaction: kept with it, gone with its abort, and a
 * collision fails the whole transaction. */
static void test_note_in_a_transaction(void **state)
{
    (void)state;
    char dir[PATH_MAX], why[STORE_WHY_MAX] = "";
    struct store *s = create_store(dir, sizeof dir, "txn");
    struct dataset_note n;
    struct store_txn t;
    struct collected c = {0};

    note_init(&n, "kept", DATASET_LIST, 0, T0);
    assert_int_equal(store_txn_begin(s, &t), DNSBL_OK);
    assert_int_equal(store_dataset_note_txn(&t, &n), DNSBL_OK);
    assert_int_equal(store_txn_end(&t, why, sizeof why), DNSBL_OK);

    note_init(&n, "lost", DATASET_LIST, T0, 0);
    assert_int_equal(store_txn_begin(s, &t), DNSBL_OK);
    assert_int_equal(store_dataset_note_txn(&t, &n), DNSBL_OK);
    store_txn_abort(&t);

    note_init(&n, COLLIDE_A, DATASET_LIST, T0, 0);
    assert_int_equal(store_dataset_note(s, &n, why, sizeof why), DNSBL_OK);
    assert_int_equal(store_txn_begin(s, &t), DNSBL_OK);
    note_init(&n, "also-lost", DATASET_EVIDENCE, T0, 0);
    assert_int_equal(store_dataset_note_txn(&t, &n), DNSBL_OK);
    note_init(&n, COLLIDE_B, DATASET_LIST, T0, 0);
    assert_int_equal(store_dataset_note_txn(&t, &n), DNSBL_EREFUSED);
    assert_int_equal(store_txn_end(&t, why, sizeof why), DNSBL_EREFUSED);

    assert_int_equal(store_datasets_foreach(s, collect, &c), 0);
    assert_int_equal(c.count, 2);
    assert_non_null(find(&c, "kept"));
    assert_int_equal(find(&c, "kept")->last_sync, T0);
    assert_int_equal(find(&c, "kept")->last_import, 0);
    assert_non_null(find(&c, COLLIDE_A));
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_round_trip),
        cmocka_unit_test(test_note_merges),
        cmocka_unit_test(test_collision_refused),
        cmocka_unit_test(test_note_in_a_transaction),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
