/* Unit tests for model: events applied to entries and history days,
 * which entries hold evidence, and the names of the model's enums. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "model.h"
#include "policy.h" /* the fixture's zone() */

#include "model_fixture.h"

/* ---- events ---------------------------------------------------------- */

static void test_apply_list_delist_allow(void **state)
{
    (void)state;
    struct entry e;
    memset(&e, 0, sizeof e);
    e.prefix = pfx("192.0.2.7");

    struct event ev = ev_make(EV_LIST, 1000, "spam run");
    ev.code = 0x7f00000a;
    ev.expires = 5000;
    model_apply_event(&e, &ev);
    assert_int_equal(e.state, ENTRY_LISTED);
    assert_int_equal(e.code, 0x7f00000a);
    assert_int_equal(e.expires, 5000);
    assert_int_equal(e.state_time, 1000);
    assert_string_equal(e.reason, "spam run");
    assert_string_equal(e.note, "listed: spam run");
    assert_int_equal(e.first_seen, 1000);
    assert_int_equal(e.last_seen, 1000);

    ev = ev_make(EV_DELIST, 2000, "ticket 42");
    model_apply_event(&e, &ev);
    assert_int_equal(e.state, ENTRY_DELISTED);
    assert_int_equal(e.expires, 0);
    assert_int_equal(e.state_time, 2000);
    assert_string_equal(e.reason, "spam run"); /* last listing reason kept */
    assert_string_equal(e.note, "delisted: ticket 42");
    assert_int_equal(e.first_seen, 1000);
    assert_int_equal(e.last_seen, 2000);

    /* An older event moves first_seen back but not last_seen. */
    ev = ev_make(EV_ALLOW, 500, "our own relay");
    ev.expires = 9000;
    model_apply_event(&e, &ev);
    assert_int_equal(e.state, ENTRY_ALLOWED);
    assert_int_equal(e.expires, 9000);
    assert_string_equal(e.reason, "our own relay");
    assert_int_equal(e.first_seen, 500);
    assert_int_equal(e.last_seen, 2000);

    ev = ev_make(EV_LIST, 3000, NULL);
    model_apply_event(&e, &ev);
    assert_string_equal(e.reason, "");
    assert_string_equal(e.note, "listed");

    /* An unknown kind changes nothing at all. */
    struct entry before = e;
    ev = ev_make(EV_KIND_COUNT, 9999, "x");
    ev.source = "feed";
    model_apply_event(&e, &ev);
    assert_memory_equal(&e, &before, sizeof e);
}

static void test_apply_counters(void **state)
{
    (void)state;
    struct entry e;
    memset(&e, 0, sizeof e);
    struct event ev = ev_make(EV_ABUSE, 100, NULL);
    model_apply_event(&e, &ev);
    ev.weight = 2.6; /* rounds to 3 */
    ev.time = 200;
    model_apply_event(&e, &ev);
    assert_int_equal(e.counts[CNT_ABUSE], 4);
    ev.weight = -5; /* never subtracts */
    model_apply_event(&e, &ev);
    ev.weight = NAN;
    model_apply_event(&e, &ev);
    assert_int_equal(e.counts[CNT_ABUSE], 4);

    ev = ev_make(EV_TRAP_HIT, 150, NULL);
    ev.weight = 3;
    model_apply_event(&e, &ev);
    assert_int_equal(e.counts[CNT_TRAP_HITS], 3);
    static const uint8_t kinds[] = {EV_FRAUD, EV_VIRUS, EV_OTHER, EV_NOT_SPAM, EV_AUTH_FAILURE};
    for (size_t i = 0; i < sizeof kinds; i++) {
        ev = ev_make(kinds[i], 300, NULL);
        model_apply_event(&e, &ev);
    }
    assert_int_equal(e.counts[CNT_FRAUD], 1);
    assert_int_equal(e.counts[CNT_VIRUS], 1);
    assert_int_equal(e.counts[CNT_OTHER], 1);
    assert_int_equal(e.counts[CNT_NOT_SPAM], 1);
    assert_int_equal(e.counts[CNT_AUTH_FAILURE], 1);

    ev = ev_make(EV_VOLUME, 50, NULL);
    ev.weight = 1000;
    model_apply_event(&e, &ev);
    ev.weight = 24.4;
    model_apply_event(&e, &ev);
    assert_int_equal(e.volume, 1024);
    assert_int_equal(e.first_seen, 50);
    assert_int_equal(e.last_seen, 300);
    assert_int_equal(e.state, ENTRY_NONE);
    assert_int_equal(e.nparts, 0);

    /* Counters saturate instead of wrapping. */
    e.counts[CNT_ABUSE] = UINT32_MAX - 1;
    ev = ev_make(EV_ABUSE, 400, NULL);
    ev.weight = 10;
    model_apply_event(&e, &ev);
    assert_int_equal(e.counts[CNT_ABUSE], UINT32_MAX);
    e.volume = UINT64_MAX - 5;
    ev = ev_make(EV_VOLUME, 400, NULL);
    ev.weight = 1e30;
    model_apply_event(&e, &ev);
    assert_true(e.volume == UINT64_MAX);

    assert_int_equal(model_kind_counter(EV_ABUSE), CNT_ABUSE);
    assert_int_equal(model_kind_counter(EV_NOT_SPAM), CNT_NOT_SPAM);
    assert_int_equal(model_kind_counter(EV_TRAP_HIT), CNT_TRAP_HITS);
    assert_int_equal(model_kind_counter(EV_VOLUME), -1);
    assert_int_equal(model_kind_counter(EV_LIST), -1);
    assert_int_equal(model_kind_counter(200), -1);
}

static void test_apply_auth_fail(void **state)
{
    (void)state;
    struct entry e;
    memset(&e, 0, sizeof e);
    struct event ev = ev_make(EV_ABUSE, 100, NULL);
    ev.auth_failed = AUTH_FAIL_SPF | AUTH_FAIL_DMARC;
    ev.weight = 4; /* Incidents: 4, all about the same failing mail */
    model_apply_event(&e, &ev);
    ev.kind = EV_FRAUD;
    ev.weight = 1;
    ev.auth_failed = AUTH_FAIL_DKIM;
    model_apply_event(&e, &ev);
    assert_int_equal(e.auth_fail[AUTHC_SPF], 4);
    assert_int_equal(e.auth_fail[AUTHC_DKIM], 1);
    assert_int_equal(e.auth_fail[AUTHC_DMARC], 4);

    /* Only complaints count: the share of complaints stays within 0..1. */
    ev.kind = EV_NOT_SPAM;
    ev.auth_failed = AUTH_FAIL_SPF | AUTH_FAIL_DKIM | AUTH_FAIL_DMARC;
    model_apply_event(&e, &ev);
    ev.kind = EV_AUTH_FAILURE;
    model_apply_event(&e, &ev);
    assert_int_equal(e.auth_fail[AUTHC_SPF], 4);
    assert_int_equal(e.auth_fail[AUTHC_DKIM], 1);
}

static void test_apply_truncates_text(void **state)
{
    (void)state;
    char longtext[600];
    memset(longtext, 'r', sizeof longtext - 1);
    longtext[sizeof longtext - 1] = '\0';
    struct entry e;
    memset(&e, 0, sizeof e);
    struct event ev = ev_make(EV_LIST, 1, longtext);
    model_apply_event(&e, &ev);
    assert_int_equal(strlen(e.reason), MODEL_TEXT_MAX - 1);
    assert_int_equal(strlen(e.note), MODEL_TEXT_MAX - 1);
    assert_memory_equal(e.note, "listed: rrr", 11);

    ev = ev_make(EV_IMPORT_LIST, 2, NULL);
    ev.txt = longtext;
    ev.dataset = longtext;
    model_apply_event(&e, &ev);
    assert_int_equal(e.nparts, 1);
    assert_int_equal(strlen(e.part_text[0].txt), MODEL_TEXT_MAX - 1);
    assert_int_equal(strlen(e.part_text[0].dataset), MODEL_DATASET_MAX - 1);
}

static void test_apply_import(void **state)
{
    (void)state;
    struct entry e;
    memset(&e, 0, sizeof e);
    strcpy(e.reason, "operator text");

    struct event ev = ev_make(EV_IMPORT_LIST, 1000, NULL);
    ev.code = A(127, 0, 0, 3);
    ev.ttl = 1800;
    ev.txt = "Trap hit from $";
    ev.dataset = "bl-main";
    assert_true(model_apply_event(&e, &ev));
    assert_int_equal(e.nparts, 1);
    assert_int_equal(e.parts[0].state, IMPORT_LISTED);
    assert_int_equal(e.parts[0].code, A(127, 0, 0, 3));
    assert_int_equal(e.parts[0].ttl, 1800);
    assert_string_equal(e.part_text[0].txt, "Trap hit from $");
    assert_int_equal(e.parts[0].flags, 0);
    assert_string_equal(e.part_text[0].dataset, "bl-main");
    assert_int_equal(e.parts[0].dataset, model_dataset_id("bl-main"));
    assert_int_equal(e.parts[0].time, 1000);
    assert_string_equal(e.reason, "operator text"); /* the operator's, apart */
    assert_int_equal(e.state, ENTRY_NONE);
    assert_int_equal(e.first_seen, 0); /* list data is state, not an event seen */

    /* The same word again keeps its time: an unchanged list re-imports as
     * no change. A changed one takes the new time. */
    ev.time = 1500;
    assert_true(model_apply_event(&e, &ev));
    assert_int_equal(e.parts[0].time, 1000);
    ev.code = A(127, 0, 0, 4);
    assert_true(model_apply_event(&e, &ev));
    assert_int_equal(e.parts[0].time, 1500);

    /* No TXT at all (rbldnsd ":6:"); a NULL dataset is "" (id 0), a part
     * of its own; a reason without template is kept for the zone's TXT. */
    ev = ev_make(EV_IMPORT_LIST, 2000, NULL);
    ev.txt = NULL;
    assert_true(model_apply_event(&e, &ev));
    assert_int_equal(e.nparts, 2);
    assert_int_equal(e.parts[0].dataset, 0);
    assert_true(e.parts[0].flags & IMPORT_NO_TXT);
    assert_string_equal(e.part_text[0].txt, "");
    assert_string_equal(e.part_text[0].dataset, "");
    ev = ev_make(EV_IMPORT_LIST, 2000, "SBL000001");
    ev.txt = NULL; /* no TXT wins over a reason */
    assert_true(model_apply_event(&e, &ev));
    assert_int_equal(e.parts[0].flags, IMPORT_NO_TXT);
    ev.txt = "";
    assert_true(model_apply_event(&e, &ev));
    assert_int_equal(e.nparts, 2);
    assert_int_equal(e.parts[0].flags, IMPORT_REASON);
    assert_string_equal(e.part_text[0].txt, "SBL000001");
    assert_string_equal(e.reason, "operator text");

    /* A TXT again clears the flags. */
    ev.txt = "back";
    assert_true(model_apply_event(&e, &ev));
    assert_int_equal(e.parts[0].flags, 0);
    assert_string_equal(e.part_text[0].txt, "back");

    ev = ev_make(EV_IMPORT_EXCLUDE, 3000, NULL);
    ev.dataset = "bl-main";
    assert_true(model_apply_event(&e, &ev));
    int i = model_part_find(&e, model_dataset_id("bl-main"));
    assert_true(i >= 0);
    assert_int_equal(e.parts[i].state, IMPORT_EXCLUDED);
    assert_int_equal(e.parts[i].time, 3000);
    assert_int_equal(e.parts[i].code, 0);
    assert_string_equal(e.part_text[i].txt, "");
    assert_false(model_has_evidence(&e));

    /* Parts stay in id order, at most ENTRY_PARTS_MAX of them. */
    const char *names[] = {"a", "b", "c", "d"};
    for (size_t k = 0; k < 4; k++) {
        ev = ev_make(EV_IMPORT_LIST, 4000, NULL);
        ev.dataset = names[k];
        assert_int_equal(model_apply_event(&e, &ev), e.nparts < ENTRY_PARTS_MAX);
    }
    assert_int_equal(e.nparts, ENTRY_PARTS_MAX);
    for (unsigned k = 1; k < e.nparts; k++)
        assert_true(e.parts[k - 1].dataset < e.parts[k].dataset);
    for (unsigned k = 0; k < e.nparts; k++)
        assert_int_equal(e.parts[k].dataset, model_dataset_id(e.part_text[k].dataset));

    /* A removal takes only its dataset's part; with nothing else held the
     * entry holds nothing. */
    while (e.nparts) {
        assert_true(model_entry_holds(&e));
        ev = ev_make(EV_IMPORT_REMOVE, 5000, NULL);
        ev.dataset = e.part_text[e.nparts - 1].dataset;
        unsigned before = e.nparts;
        assert_true(model_apply_event(&e, &ev));
        assert_int_equal(e.nparts, before - 1);
    }
    assert_false(model_entry_holds(&e));
    assert_int_equal(model_dataset_id(""), 0);
    assert_int_equal(model_dataset_id(NULL), 0);
    assert_true(model_dataset_id("x") != 0);
}

static void test_apply_snds(void **state)
{
    (void)state;
    struct entry e;
    memset(&e, 0, sizeof e);
    struct snds_row r1 = {.colour = SNDS_GREEN,
                          .rate_qual = '<',
                          .rate_pct = 0.1f,
                          .rcpt = 100,
                          .data = 99,
                          .recipients = 98,
                          .trap_hits = 0,
                          .start = 5000,
                          .end = 6000};
    struct snds_row r2 = r1, r0 = r1, r2b = r1;
    r2.colour = SNDS_RED;
    r2.start = 7000;
    r2.trap_hits = 37;
    r0.colour = SNDS_YELLOW;
    r0.start = 1000;
    r2b.colour = SNDS_YELLOW;
    r2b.start = 7000;
    r2b.recipients = 5;

    struct event ev = ev_make(EV_SNDS, 5000, NULL);
    ev.snds = &r1;
    model_apply_event(&e, &ev);
    assert_int_equal(e.snds.colour, SNDS_GREEN);
    assert_int_equal(e.snds.recipients, 98);
    assert_int_equal(e.snds.rate_qual, '<');
    ev.snds = &r2;
    model_apply_event(&e, &ev);
    assert_int_equal(e.snds.colour, SNDS_RED);
    /* An older row, read later, does not replace the newer one. */
    ev.snds = &r0;
    model_apply_event(&e, &ev);
    assert_int_equal(e.snds.colour, SNDS_RED);
    assert_int_equal(e.snds.start, 7000);
    /* Same start: the later row wins. */
    ev.snds = &r2b;
    model_apply_event(&e, &ev);
    assert_int_equal(e.snds.colour, SNDS_YELLOW);
    assert_int_equal(e.snds.recipients, 5);
    /* Volume and trap hits come as their own events, never from the row. */
    assert_int_equal(e.volume, 0);
    assert_int_equal(e.counts[CNT_TRAP_HITS], 0);
    assert_false(model_has_evidence(&e));
    ev.snds = NULL;
    model_apply_event(&e, &ev);
    assert_int_equal(e.snds.colour, SNDS_YELLOW);

    ev = ev_make(EV_SNDS_STATUS, 8000, "Junked due to user complaints");
    model_apply_event(&e, &ev);
    assert_int_equal(e.snds_status, SNDS_STATUS_JUNKED);
    assert_string_equal(e.reason, "Junked due to user complaints");
    ev = ev_make(EV_SNDS_STATUS, 9000, "Blocked due to user complaints");
    ev.snds_blocked = true;
    model_apply_event(&e, &ev);
    assert_int_equal(e.snds_status, SNDS_STATUS_BLOCKED);
    assert_string_equal(e.reason, "Blocked due to user complaints");
    assert_int_equal(e.first_seen, 5000);
    assert_int_equal(e.last_seen, 9000);
}

static void test_apply_sources(void **state)
{
    (void)state;
    struct entry e;
    memset(&e, 0, sizeof e);
    const char *seq[] = {"arf", "snds", NULL, "", "arf", "snds", "csv", "ar", "arf,x"};
    for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++) {
        struct event ev = ev_make(EV_ABUSE, 100, NULL);
        ev.source = seq[i];
        model_apply_event(&e, &ev);
    }
    assert_string_equal(e.sources, "arf,snds,csv,ar,arf;x");

    /* Names that no longer fit whole are left out; the list stays terminated. */
    memset(&e, 0, sizeof e);
    char name[64];
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof name, "source-number-%02d", i);
        struct event ev = ev_make(EV_VOLUME, 100, NULL);
        ev.source = name;
        model_apply_event(&e, &ev);
    }
    size_t len = strlen(e.sources);
    assert_int_equal(len, 15 * 17 - 1); /* 15 names of 16 bytes and their commas */
    assert_string_equal(e.sources + len - 16, "source-number-14");
    assert_memory_equal(e.sources, "source-number-00,source-number-01", 33);

    /* One name longer than the field: kept cut, and never added twice. */
    memset(&e, 0, sizeof e);
    char huge[400];
    memset(huge, 'h', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    for (int i = 0; i < 2; i++) {
        struct event ev = ev_make(EV_VOLUME, 100, NULL);
        ev.source = huge;
        model_apply_event(&e, &ev);
    }
    assert_int_equal(strlen(e.sources), MODEL_TEXT_MAX - 1);
    assert_null(strchr(e.sources, ','));
}

static void test_evidence_and_history(void **state)
{
    (void)state;
    struct entry e;
    memset(&e, 0, sizeof e);
    assert_false(model_has_evidence(&e));
    e.state = ENTRY_LISTED;
    e.nparts = 1;
    e.parts[0].state = IMPORT_LISTED;
    e.snds.colour = SNDS_RED;
    assert_false(model_has_evidence(&e));
    e.counts[CNT_NOT_SPAM] = 1;
    assert_true(model_has_evidence(&e));
    e.counts[CNT_NOT_SPAM] = 0;
    e.volume = 1;
    assert_true(model_has_evidence(&e));

    for (int k = 0; k < EV_KIND_COUNT; k++) {
        struct event ev = ev_make((uint8_t)k, 0, NULL);
        bool want = (k >= EV_ABUSE && k <= EV_TRAP_HIT) || k == EV_VOLUME;
        assert_int_equal(model_event_has_history(&ev), want);
    }

    struct history_day d = hday(DAY0, 0, 0, 0);
    struct event ev = ev_make(EV_FRAUD, NOW, NULL);
    ev.weight = 2.5; /* llround: 3 */
    model_history_add(&d, &ev);
    ev.kind = EV_TRAP_HIT;
    ev.weight = 1;
    model_history_add(&d, &ev);
    ev.kind = EV_VOLUME;
    ev.weight = 1000;
    model_history_add(&d, &ev);
    ev.kind = EV_LIST; /* no evidence: nothing */
    model_history_add(&d, &ev);
    ev.kind = EV_ABUSE;
    ev.weight = -3;
    model_history_add(&d, &ev);
    assert_int_equal(d.day, DAY0);
    assert_int_equal(d.counts[CNT_FRAUD], 3);
    assert_int_equal(d.counts[CNT_TRAP_HITS], 1);
    assert_int_equal(d.counts[CNT_ABUSE], 0);
    assert_int_equal(d.volume, 1000);
    d.counts[CNT_ABUSE] = UINT32_MAX;
    ev.weight = 5;
    model_history_add(&d, &ev);
    assert_int_equal(d.counts[CNT_ABUSE], UINT32_MAX);
}

static void test_manual_active(void **state)
{
    (void)state;
    struct entry e = mk("192.0.2.7", ENTRY_LISTED, 0, 0, "x");
    assert_true(model_manual_active(&e, NOW));
    e.expires = NOW + 1;
    assert_true(model_manual_active(&e, NOW));
    e.expires = NOW;
    assert_false(model_manual_active(&e, NOW));
    e.state = ENTRY_ALLOWED;
    e.expires = 0;
    assert_true(model_manual_active(&e, NOW));
    e.state = ENTRY_DELISTED;
    assert_false(model_manual_active(&e, NOW));
    e.state = ENTRY_NONE;
    assert_false(model_manual_active(&e, NOW));
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(model_state_name(ENTRY_NONE), "none");
    assert_string_equal(model_state_name(ENTRY_LISTED), "listed");
    assert_string_equal(model_state_name(ENTRY_DELISTED), "delisted");
    assert_string_equal(model_state_name(ENTRY_ALLOWED), "allowed");
    static const char *const whys[] = {"none",    "manual",     "allowed",  "delisted",
                                       "expired", "testpoint",  "imported", "excluded",
                                       "snds",    "complaints", "traps",    "score"};
    for (unsigned i = 0; i < sizeof whys / sizeof whys[0]; i++)
        assert_string_equal(model_why_name((uint8_t)i), whys[i]);
    assert_string_equal(model_state_name(200), "unknown");
    assert_string_equal(model_why_name(200), "unknown");

    /* doc/formats.md 5's CSV kinds, both ways. */
    static const struct {
        const char *name;
        int kind;
    } kinds[] = {{"abuse", EV_ABUSE},
                 {"fraud", EV_FRAUD},
                 {"virus", EV_VIRUS},
                 {"other", EV_OTHER},
                 {"not_spam", EV_NOT_SPAM},
                 {"auth_failure", EV_AUTH_FAILURE},
                 {"trap", EV_TRAP_HIT},
                 {"volume", EV_VOLUME},
                 {"list", EV_LIST},
                 {"allow", EV_ALLOW},
                 {"delist", EV_DELIST},
                 {"import_list", EV_IMPORT_LIST},
                 {"import_exclude", EV_IMPORT_EXCLUDE},
                 {"snds", EV_SNDS},
                 {"snds_status", EV_SNDS_STATUS}};
    for (unsigned i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        assert_string_equal(model_kind_name((uint8_t)kinds[i].kind), kinds[i].name);
        assert_int_equal(model_kind_from_name(kinds[i].name), kinds[i].kind);
    }
    assert_int_equal(model_kind_from_name("Not-Spam"), EV_NOT_SPAM);
    assert_int_equal(model_kind_from_name("TRAP"), EV_TRAP_HIT);
    assert_int_equal(model_kind_from_name("spam"), -1);
    assert_int_equal(model_kind_from_name(""), -1);
    assert_int_equal(model_kind_from_name(NULL), -1);
    assert_int_equal(model_kind_from_name("abuse_and_a_very_long_name_indeed_here"), -1);
    assert_string_equal(model_kind_name(EV_KIND_COUNT), "unknown");

    assert_string_equal(model_light_name(0), "green");
    assert_string_equal(model_light_name(1), "yellow");
    assert_string_equal(model_light_name(2), "red");
    assert_string_equal(model_light_name(3), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply_list_delist_allow),
        cmocka_unit_test(test_apply_counters),
        cmocka_unit_test(test_apply_auth_fail),
        cmocka_unit_test(test_apply_truncates_text),
        cmocka_unit_test(test_apply_import),
        cmocka_unit_test(test_apply_snds),
        cmocka_unit_test(test_apply_sources),
        cmocka_unit_test(test_evidence_and_history),
        cmocka_unit_test(test_manual_active),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
