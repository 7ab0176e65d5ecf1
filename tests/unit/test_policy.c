/* Unit tests for policy: the decaying score, the precedence of
 * policy_decide for the three zone kinds, and TXT rendering. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "model.h"
#include "policy.h"

#include "model_fixture.h"

/* ---- the score ------------------------------------------------------- */

/* Sets e's part of dataset ds (made when missing) as an import would. */
static struct entry_part *part(struct entry *e, uint8_t st, uint32_t code, uint32_t ttl,
                               const char *ds)
{
    struct event ev = {.prefix = e->prefix, .time = 1, .code = code, .ttl = ttl, .dataset = ds};
    ev.kind = st == IMPORT_EXCLUDED ? EV_IMPORT_EXCLUDE : EV_IMPORT_LIST;
    ev.txt = "";
    assert_true(model_apply_event(e, &ev));
    return &e->parts[model_part_find(e, model_dataset_id(ds))];
}

static void no_parts(struct entry *e)
{
    while (e->nparts)
        model_part_remove(e, 0);
}

static void test_defaults(void **state)
{
    (void)state;
    struct zone_policy zp;
    memset(&zp, 0xee, sizeof zp);
    policy_defaults(&zp);
    assert_int_equal(zp.kind, ZONE_BLOCKLIST);
    assert_int_equal(zp.ttl, 2100);
    assert_string_equal(zp.txt_template, "{ip} is listed in {zone}: {reason}");
    assert_int_equal(zp.code_manual, A(127, 0, 0, 2));
    assert_int_equal(zp.code_complaints, A(127, 0, 0, 2));
    assert_int_equal(zp.code_traps, A(127, 0, 0, 3));
    assert_int_equal(zp.code_imported, A(127, 0, 0, 4));
    assert_int_equal(zp.code_allow, A(127, 0, 0, 2));
    assert_true(zp.weight[CNT_ABUSE] == 1 && zp.weight[CNT_FRAUD] == 1);
    assert_true(zp.weight[CNT_VIRUS] == 1 && zp.weight[CNT_OTHER] == 0.5);
    assert_true(zp.weight[CNT_NOT_SPAM] == 1 && zp.weight[CNT_AUTH_FAILURE] == 0.5);
    assert_true(zp.weight[CNT_TRAP_HITS] == 15);
    assert_true(zp.half_life == 7 * 86400.0);
    assert_true(zp.threshold == 10);
    assert_true(zp.rate_reference == 0.001);
    assert_int_equal(zp.window_days, 90);
    assert_true(zp.snds_red_lists);
    assert_int_equal(zp.ndatasets, 0);
}

/* The README's worked example: the rate turns complaints into a fair score. */
static void test_score_worked_example(void **state)
{
    (void)state;
    struct zone_policy zp = zone(ZONE_BLOCKLIST);
    struct score s;

    struct history_day big = hday(DAY0, 50, 0, 1000000);
    policy_score(&zp, &big, 1, 0, NOW, &s);
    assert_float_equal(s.rate_factor, 0.05, 1e-12);
    assert_float_equal(s.complaints, 2.5, 1e-9);
    assert_float_equal(s.value, 2.5, 1e-9);
    assert_float_equal(s.volume, 1000000, 1e-6);
    assert_int_equal(s.clears_at, 0);
    assert_int_equal(s.light, 0);

    struct history_day small = hday(DAY0, 20, 0, 1000);
    policy_score(&zp, &small, 1, 0, NOW, &s);
    assert_float_equal(s.rate_factor, 1, 1e-12);
    assert_float_equal(s.value, 20, 1e-9);
    assert_int_equal(s.light, 2);

    struct entry e = mk("192.0.2.7", ENTRY_NONE, 0, 0, "");
    give_evidence(&e, 50, 0, 1000000);
    struct decision d;
    policy_decide(&e, 1, &big, 1, &zp, NOW, &d);
    assert_false(d.listed);
    assert_ptr_equal(d.evidence, &e);
    assert_float_equal(d.score.value, 2.5, 1e-9);
    policy_decide(&e, 1, &small, 1, &zp, NOW, &d);
    assert_true(d.listed);
    assert_int_equal(d.why, WHY_COMPLAINTS);
    assert_int_equal(d.code, A(127, 0, 0, 2));

    /* No volume known: complaints count fully. */
    struct history_day bare = hday(DAY0, 12, 0, 0);
    policy_score(&zp, &bare, 1, 0, NOW, &s);
    assert_float_equal(s.rate_factor, 1, 1e-12);
    assert_float_equal(s.value, 12, 1e-9);
}

static void test_score_weights(void **state)
{
    (void)state;
    struct zone_policy zp = zone(ZONE_BLOCKLIST);
    zp.weight[CNT_TRAP_HITS] = 10; /* round numbers below */
    struct score s;
    struct history_day d = hday(DAY0, 2, 1, 0);
    d.counts[CNT_FRAUD] = 3;
    d.counts[CNT_VIRUS] = 1;
    d.counts[CNT_OTHER] = 4;
    d.counts[CNT_AUTH_FAILURE] = 2;
    d.counts[CNT_NOT_SPAM] = 1;
    policy_score(&zp, &d, 1, 0, NOW, &s);
    /* 2 + 3 + 1 + 0.5*4 + 0.5*2 - 1 = 8 complaints; 1 trap * 10 */
    assert_float_equal(s.complaints, 8, 1e-9);
    assert_float_equal(s.traps, 10, 1e-9);
    assert_float_equal(s.value, 18, 1e-9);

    /* Negative evidence never makes the complaints part negative. */
    d = hday(DAY0, 1, 1, 0);
    d.counts[CNT_NOT_SPAM] = 50;
    policy_score(&zp, &d, 1, 0, NOW, &s);
    assert_float_equal(s.complaints, 0, 1e-12);
    assert_float_equal(s.value, 10, 1e-9);

    /* other/auth_failure add to C but not to the complaint rate. */
    d = hday(DAY0, 0, 0, 1000);
    d.counts[CNT_OTHER] = 40;
    policy_score(&zp, &d, 1, 0, NOW, &s);
    assert_float_equal(s.rate_factor, 0, 1e-12);
    assert_float_equal(s.value, 0, 1e-12);

    policy_score(&zp, NULL, 0, 0, NOW, &s);
    assert_float_equal(s.value, 0, 0);
    assert_int_equal(s.light, 0);
}

static void test_score_decay(void **state)
{
    (void)state;
    struct zone_policy zp = zone(ZONE_BLOCKLIST);
    zp.weight[CNT_TRAP_HITS] = 10; /* round numbers below */
    struct score s;
    struct history_day d = hday(DAY0, 16, 2, 0);

    policy_score(&zp, &d, 1, 0, NOON, &s);
    assert_float_equal(s.value, 36, 1e-9);
    policy_score(&zp, &d, 1, 0, NOON + HALF, &s); /* one half-life halves */
    assert_float_equal(s.complaints, 8, 1e-9);
    assert_float_equal(s.traps, 10, 1e-9);
    assert_float_equal(s.value, 18, 1e-9);
    policy_score(&zp, &d, 1, 0, NOON + 2 * HALF, &s);
    assert_float_equal(s.value, 9, 1e-9);
    /* Evidence ahead of the clock counts fully, not more. */
    policy_score(&zp, &d, 1, 0, NOON - 5 * MODEL_DAY, &s);
    assert_float_equal(s.value, 36, 1e-9);

    /* Days in any order add up, each with its own age. */
    struct history_day two[] = {hday(DAY0, 4, 0, 0), hday(DAY0 - 7, 8, 0, 0)};
    policy_score(&zp, two, 2, 0, NOON, &s);
    assert_float_equal(s.value, 8, 1e-9);

    /* The rate uses decayed volume too: old volume does not excuse new complaints. */
    struct history_day mix[] = {hday(DAY0 - 14, 0, 0, 400000), hday(DAY0, 20, 0, 0)};
    policy_score(&zp, mix, 2, 0, NOON, &s);
    assert_float_equal(s.volume, 100000, 1e-6);
    assert_float_equal(s.rate_factor, 0.2, 1e-9);
    assert_float_equal(s.value, 4, 1e-9);
}

static void test_score_window(void **state)
{
    (void)state;
    struct zone_policy zp = zone(ZONE_BLOCKLIST);
    zp.half_life = 1e15; /* no practical decay: only the window matters */
    struct score s;
    struct history_day d[] = {hday(DAY0 - 89, 1, 0, 0), hday(DAY0 - 90, 2, 0, 0),
                              hday(DAY0 - 400, 4, 0, 0)};
    policy_score(&zp, d, 3, 0, NOW, &s);
    assert_float_equal(s.value, 1, 1e-6);
    zp.window_days = 91;
    policy_score(&zp, d, 3, 0, NOW, &s);
    assert_float_equal(s.value, 3, 1e-6);
    zp.window_days = 0; /* no window */
    policy_score(&zp, d, 3, 0, NOW, &s);
    assert_float_equal(s.value, 7, 1e-6);
    zp.window_days = 1; /* today only */
    policy_score(&zp, d, 3, 0, NOW, &s);
    assert_float_equal(s.value, 0, 0);
}

static void test_score_since(void **state)
{
    (void)state;
    struct zone_policy zp = zone(ZONE_BLOCKLIST);
    zp.half_life = 1e15;
    struct score s;
    struct history_day d[] = {hday(DAY0 - 3, 1, 0, 0), hday(DAY0 - 2, 2, 0, 0),
                              hday(DAY0 - 1, 4, 0, 0), hday(DAY0, 8, 0, 0)};
    policy_score(&zp, d, 4, 0, NOW, &s);
    assert_float_equal(s.value, 15, 1e-6);
    /* Delisted late on day -2: that day and those before are cleared. */
    int64_t since = (int64_t)(DAY0 - 2) * MODEL_DAY + 80000;
    policy_score(&zp, d, 4, since, NOW, &s);
    assert_float_equal(s.value, 12, 1e-6);
    /* Delisted early on day -2: its day is still cleared. */
    since = (int64_t)(DAY0 - 2) * MODEL_DAY + 60;
    policy_score(&zp, d, 4, since, NOW, &s);
    assert_float_equal(s.value, 12, 1e-6);
}

static void test_score_clears_and_light(void **state)
{
    (void)state;
    struct zone_policy zp = zone(ZONE_BLOCKLIST);
    struct score s;
    struct history_day d = hday(DAY0, 20, 0, 0);
    policy_score(&zp, &d, 1, 0, NOON, &s);
    assert_int_equal(s.clears_at, NOON + HALF);
    assert_int_equal(s.light, 2);
    d = hday(DAY0, 40, 0, 0);
    policy_score(&zp, &d, 1, 0, NOON, &s);
    assert_int_equal(s.clears_at, NOON + 2 * HALF);
    /* 30/10: log2(3) half-lives, rounded up to a second. */
    d = hday(DAY0, 30, 0, 0);
    policy_score(&zp, &d, 1, 0, NOON, &s);
    assert_int_equal(s.clears_at, NOON + (int64_t)ceil(HALF * log2(3.0)));
    /* Exactly at the threshold: listed, and clears right now. */
    d = hday(DAY0, 10, 0, 0);
    policy_score(&zp, &d, 1, 0, NOON, &s);
    assert_int_equal(s.light, 2);
    assert_int_equal(s.clears_at, NOON);

    d = hday(DAY0, 5, 0, 0);
    policy_score(&zp, &d, 1, 0, NOON, &s);
    assert_int_equal(s.light, 1);
    assert_int_equal(s.clears_at, 0);
    d = hday(DAY0, 9, 0, 0);
    policy_score(&zp, &d, 1, 0, NOON, &s);
    assert_int_equal(s.light, 1);
    d = hday(DAY0, 4, 0, 0);
    policy_score(&zp, &d, 1, 0, NOON, &s);
    assert_int_equal(s.light, 0);
    assert_string_equal(model_light_name(s.light), "green");
}

static void test_score_octet(void **state)
{
    (void)state;
    struct zone_policy zp = zone(ZONE_SCORE);
    assert_int_equal(policy_score_octet(&zp, 0), 100);
    assert_int_equal(policy_score_octet(&zp, -5), 100);
    assert_int_equal(policy_score_octet(&zp, 10), 50);
    assert_int_equal(policy_score_octet(&zp, 30), 25);
    assert_int_equal(policy_score_octet(&zp, 90), 10);
    assert_int_equal(policy_score_octet(&zp, 370), 3);
    assert_int_equal(policy_score_octet(&zp, 1e12), 0);
    assert_int_equal(policy_score_octet(&zp, INFINITY), 0);
    assert_int_equal(policy_score_octet(&zp, NAN), 100);
    zp.threshold = 0;
    assert_int_equal(policy_score_octet(&zp, 0), 100);
    assert_int_equal(policy_score_octet(&zp, 1), 0);
}

/* ---- blocklist precedence -------------------------------------------- */

static void test_decide_basic(void **state)
{
    (void)state;
    struct zone_policy zp = zone(ZONE_BLOCKLIST);
    struct decision d;

    memset(&d, 0x5a, sizeof d);
    policy_decide(NULL, 0, NULL, 0, &zp, NOW, &d);
    assert_false(d.listed);
    assert_false(d.allowed);
    assert_int_equal(d.why, WHY_NONE);
    assert_int_equal(d.n, 0);
    assert_null(d.decider);
    assert_null(d.evidence);
    assert_null(d.imported);
    assert_int_equal(d.ttl, 2100);

    /* A listing without its own code gets the zone's. */
    struct entry one[] = {mk("192.0.2.0/24", ENTRY_LISTED, 0, 0, "bad net")};
    policy_decide(one, 1, NULL, 0, &zp, NOW, &d);
    assert_true(d.listed);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.code, A(127, 0, 0, 2));
    assert_int_equal(d.codes[0], d.code);
    assert_int_equal(d.code_why[0], WHY_MANUAL);
    assert_int_equal(d.why, WHY_MANUAL);
    assert_ptr_equal(d.decider, &one[0]);
    zp.code_manual = 0x7f00000a;
    policy_decide(one, 1, NULL, 0, &zp, NOW, &d);
    assert_int_equal(d.code, 0x7f00000a);
    one[0].code = A(127, 0, 0, 4);
    policy_decide(one, 1, NULL, 0, &zp, NOW, &d);
    assert_int_equal(d.code, A(127, 0, 0, 4));

    /* Entry with history only, under the threshold: the longest decides. */
    struct entry none[] = {mk("192.0.2.7", ENTRY_NONE, 0, 0, "")};
    give_evidence(&none[0], 3, 0, 0);
    struct history_day h = hday(DAY0, 3, 0, 0);
    policy_decide(none, 1, &h, 1, &zp, NOW, &d);
    assert_false(d.listed);
    assert_int_equal(d.why, WHY_NONE);
    assert_ptr_equal(d.decider, &none[0]);
    assert_ptr_equal(d.evidence, &none[0]);
    assert_float_equal(d.score.value, 3, 1e-9);
    assert_int_equal(d.score.light, 0);
}

static void test_decide_allow(void **state)
{
    (void)state;
    struct zone_policy zp = zone(ZONE_BLOCKLIST);
    struct decision d;

    /* Allow on a shorter prefix beats a longer listing. */
    struct entry a[] = {
        mk("192.0.2.7", ENTRY_LISTED, 0, 0, "host"),
        mk("192.0.0.0/16", ENTRY_ALLOWED, 0, 0, "partner"),
    };
    policy_decide(a, 2, NULL, 0, &zp, NOW, &d);
    assert_false(d.listed);
    assert_true(d.allowed);
    assert_int_equal(d.why, WHY_ALLOWED);
    assert_ptr_equal(d.decider, &a[1]);

    /* Allow on a longer prefix beats a shorter listing, imported data,
     * SNDS and a score far over the threshold. */
    struct entry b[] = {
        mk("192.0.2.7", ENTRY_ALLOWED, 0, 0, "mx"),
        mk("192.0.2.0/24", ENTRY_LISTED, 0, 0, "net"),
    };
    part(&b[0], IMPORT_LISTED, 0, 0, NULL);
    b[0].snds.colour = SNDS_RED;
    give_evidence(&b[0], 100, 10, 0);
    struct history_day h = hday(DAY0, 100, 10, 0);
    policy_decide(b, 2, &h, 1, &zp, NOW, &d);
    assert_false(d.listed);
    assert_true(d.allowed);
    assert_int_equal(d.why, WHY_ALLOWED);
    assert_ptr_equal(d.decider, &b[0]);
    assert_float_equal(d.score.value, 250, 1e-9); /* still shown */

    /* An expired allow no longer protects. */
    b[0].expires = NOW - 10;
    no_parts(&b[0]);
    b[0].snds.colour = SNDS_NONE;
    policy_decide(b, 2, &h, 1, &zp, NOW, &d);
    assert_true(d.listed);
    assert_false(d.allowed);
    assert_int_equal(d.why, WHY_MANUAL);
    assert_ptr_equal(d.decider, &b[1]);
}

static void test_decide_delisted_and_expired(void **state)
{
    (void)state;
    struct zone_policy zp = zone(ZONE_BLOCKLIST);
    struct decision d;

    /* A delisted /32 inside a listed /24. */
    struct entry a[] = {
        mk("192.0.2.7", ENTRY_DELISTED, 0, 0, "was listed"),
        mk("192.0.2.0/24", ENTRY_LISTED, 0, 0, "net"),
    };
    policy_decide(a, 2, NULL, 0, &zp, NOW, &d);
    assert_false(d.listed);
    assert_int_equal(d.why, WHY_DELISTED);
    assert_ptr_equal(d.decider, &a[0]);

    /* A listed /32 inside a delisted /24: the longest decides. */
    a[0].state = ENTRY_LISTED;
    a[1].state = ENTRY_DELISTED;
    policy_decide(a, 2, NULL, 0, &zp, NOW, &d);
    assert_true(d.listed);
    assert_ptr_equal(d.decider, &a[0]);

    /* An expired /32 listing is skipped; the /24 listing decides. */
    struct entry b[] = {
        mk("192.0.2.7", ENTRY_LISTED, 0x7f00000a, NOW - 1, "old"),
        mk("192.0.2.0/24", ENTRY_LISTED, A(127, 0, 0, 4), 0, "net"),
    };
    policy_decide(b, 2, NULL, 0, &zp, NOW, &d);
    assert_true(d.listed);
    assert_int_equal(d.code, A(127, 0, 0, 4));
    assert_ptr_equal(d.decider, &b[1]);

    /* Nothing else decides: expired, with that entry as decider. */
    b[1].state = ENTRY_NONE;
    policy_decide(b, 2, NULL, 0, &zp, NOW, &d);
    assert_false(d.listed);
    assert_int_equal(d.why, WHY_EXPIRED);
    assert_ptr_equal(d.decider, &b[0]);

    /* Expired listing then a delisting further out: delisted decides. */
    b[1].state = ENTRY_DELISTED;
    policy_decide(b, 2, NULL, 0, &zp, NOW, &d);
    assert_int_equal(d.why, WHY_DELISTED);
    assert_ptr_equal(d.decider, &b[1]);

    /* Still in force one second before expiry. */
    policy_decide(b, 2, NULL, 0, &zp, NOW - 2, &d);
    assert_true(d.listed);
    assert_int_equal(d.code, 0x7f00000a);
}

static void test_decide_expired_falls_back(void **state)
{
    (void)state;
    struct zone_policy zp = zone(ZONE_BLOCKLIST);
    struct decision d;
    struct entry e[] = {
        mk("192.0.2.7", ENTRY_LISTED, 0x7f00000a, NOW - 100, "old"),
        mk("192.0.2.0/24", ENTRY_NONE, 0, 0, ""),
    };
    /* ... to imported data ... */
    part(&e[1], IMPORT_LISTED, A(127, 0, 0, 5), 0, NULL);
    policy_decide(e, 2, NULL, 0, &zp, NOW, &d);
    assert_true(d.listed);
    assert_int_equal(d.code, A(127, 0, 0, 5));
    assert_int_equal(d.why, WHY_IMPORTED);
    assert_ptr_equal(d.decider, &e[1]);
    assert_ptr_equal(d.imported, &e[1]);

    /* ... and to the score. */
    no_parts(&e[1]);
    give_evidence(&e[0], 0, 2, 0);
    struct history_day h = hday(DAY0, 0, 2, 0);
    policy_decide(e, 2, &h, 1, &zp, NOW, &d);
    assert_true(d.listed);
    assert_int_equal(d.code, A(127, 0, 0, 3));
    assert_int_equal(d.why, WHY_TRAPS);
    assert_ptr_equal(d.decider, &e[0]);

    /* Under the threshold: expired is the reason, the score is still shown. */
    h = hday(DAY0, 0, 0, 5);
    policy_decide(e, 2, &h, 1, &zp, NOW, &d);
    assert_false(d.listed);
    assert_int_equal(d.why, WHY_EXPIRED);
    assert_float_equal(d.score.volume, 5, 1e-9);
}

static void test_decide_delisted_relists(void **state)
{
    (void)state;
    struct zone_policy zp = zone(ZONE_BLOCKLIST);
    struct decision d;
    struct entry e = mk("192.0.2.7", ENTRY_DELISTED, 0, 0, "spam");
    e.state_time = (int64_t)(DAY0 - 3) * MODEL_DAY + 3600;
    part(&e, IMPORT_LISTED, 0, 0, NULL); /* the operator beats imported data */
    e.snds.colour = SNDS_RED;            /* ... and SNDS */
    give_evidence(&e, 50, 0, 0);

    /* Evidence from before the delisting, and from its day: cleared. */
    struct history_day old[] = {hday(DAY0 - 5, 30, 0, 0), hday(DAY0 - 3, 20, 0, 0)};
    policy_decide(&e, 1, old, 2, &zp, NOW, &d);
    assert_false(d.listed);
    assert_int_equal(d.why, WHY_DELISTED);
    assert_ptr_equal(d.decider, &e);
    assert_null(d.imported);
    assert_float_equal(d.score.value, 0, 0);

    /* Complaints resume: listed again by the score alone. */
    struct history_day more[] = {hday(DAY0 - 5, 30, 0, 0), hday(DAY0 - 3, 20, 0, 0),
                                 hday(DAY0, 12, 0, 0)};
    policy_decide(&e, 1, more, 3, &zp, NOW, &d);
    assert_true(d.listed);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.code, A(127, 0, 0, 2));
    assert_int_equal(d.why, WHY_COMPLAINTS);
    assert_ptr_equal(d.decider, &e);
    assert_float_equal(d.score.value, 12, 1e-9);

    /* A delisted /24 over a /32 with the evidence: the /24's time counts. */
    struct entry two[] = {mk("192.0.2.7", ENTRY_NONE, 0, 0, ""),
                          mk("192.0.2.0/24", ENTRY_DELISTED, 0, 0, "")};
    two[1].state_time = (int64_t)(DAY0 - 1) * MODEL_DAY;
    give_evidence(&two[0], 50, 0, 0);
    struct history_day h2[] = {hday(DAY0 - 2, 40, 0, 0), hday(DAY0, 4, 0, 0)};
    policy_decide(two, 2, h2, 2, &zp, NOW, &d);
    assert_false(d.listed);
    assert_int_equal(d.why, WHY_DELISTED);
    assert_ptr_equal(d.decider, &two[1]);
    assert_ptr_equal(d.evidence, &two[0]);
    assert_float_equal(d.score.value, 4, 1e-9);
}

static void test_decide_imported(void **state)
{
    (void)state;
    struct zone_policy zp = zone(ZONE_BLOCKLIST);
    struct decision d;

    /* ip4trie: a listed /32 inside an excluded /25 stays listed. */
    struct entry a[] = {mk("198.51.100.7", ENTRY_NONE, 0, 0, ""),
                        mk("198.51.100.0/25", ENTRY_NONE, 0, 0, "")};
    part(&a[0], IMPORT_LISTED, 0, 1800, NULL);
    part(&a[1], IMPORT_EXCLUDED, 0, 0, NULL);
    policy_decide(a, 2, NULL, 0, &zp, NOW, &d);
    assert_true(d.listed);
    assert_int_equal(d.code, A(127, 0, 0, 4)); /* no own code: the zone's imported code */
    assert_int_equal(d.why, WHY_IMPORTED);
    assert_int_equal(d.ttl, 1800);
    assert_ptr_equal(d.imported, &a[0]);
    assert_ptr_equal(d.decider, &a[0]);

    /* An excluded /32 inside a listed /24 is not listed. */
    struct entry b[] = {mk("192.0.2.1", ENTRY_NONE, 0, 0, ""),
                        mk("192.0.2.0/24", ENTRY_NONE, 0, 0, "")};
    part(&b[0], IMPORT_EXCLUDED, 0, 0, NULL);
    part(&b[1], IMPORT_LISTED, A(127, 0, 0, 2), 1800, NULL);
    policy_decide(b, 2, NULL, 0, &zp, NOW, &d);
    assert_false(d.listed);
    assert_int_equal(d.why, WHY_EXCLUDED);
    assert_ptr_equal(d.decider, &b[0]);
    assert_null(d.imported);
    assert_int_equal(d.ttl, 2100);

    /* The exclusion is imported data only: the score still lists. */
    give_evidence(&b[0], 0, 3, 0);
    struct history_day h = hday(DAY0, 0, 3, 0);
    policy_decide(b, 2, &h, 1, &zp, NOW, &d);
    assert_true(d.listed);
    assert_int_equal(d.code, A(127, 0, 0, 3));
    assert_int_equal(d.why, WHY_TRAPS);
    assert_ptr_equal(d.decider, &b[0]);

    /* A manual listing beats imported data; a delisting blocks it. */
    no_parts(&b[0]);
    b[0].counts[CNT_TRAP_HITS] = 0;
    b[1].state = ENTRY_LISTED;
    b[1].code = A(127, 0, 0, 9);
    policy_decide(b, 2, NULL, 0, &zp, NOW, &d);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.code, A(127, 0, 0, 9));
    assert_int_equal(d.why, WHY_MANUAL);
    assert_int_equal(d.ttl, 2100);
    b[0].state = ENTRY_DELISTED;
    policy_decide(b, 2, NULL, 0, &zp, NOW, &d);
    assert_false(d.listed);
    assert_int_equal(d.why, WHY_DELISTED);
}

/* A subzone dataset's part (an rbldnsd combined section bound to "sub"). */
static void sub_part(struct entry *e, uint8_t st, uint32_t code, const char *ds)
{
    struct event ev = {.prefix = e->prefix, .time = 1, .code = code, .dataset = ds};
    ev.kind = st == IMPORT_EXCLUDED ? EV_IMPORT_EXCLUDE : EV_IMPORT_LIST;
    ev.txt = "";
    ev.subzone = true;
    assert_true(model_apply_event(e, &ev));
    assert_true(e->parts[model_part_find(e, model_dataset_id(ds))].flags & IMPORT_SUBZONE);
}

/* doc/formats.md 4.6, README "Subzones". */
static void test_decide_subzones(void **state)
{
    (void)state;
    struct zone_policy zp;
    struct decision d;
    policy_defaults(&zp);
    uint32_t proxies[MODEL_SUBZONE_SETS], relays[MODEL_SUBZONE_SETS];
    model_subzone_ids("proxies.bl.example", strlen("proxies.bl.example"), proxies);
    model_subzone_ids("relays.bl.example", strlen("relays.bl.example"), relays);
    struct entry e[2] = {mk("192.0.2.10", ENTRY_NONE, 0, 0, ""),
                         mk("192.0.2.0/24", ENTRY_NONE, 0, 0, "")};
    sub_part(&e[0], IMPORT_LISTED, A(127, 0, 0, 2), "proxies.bl.example");
    sub_part(&e[1], IMPORT_LISTED, A(127, 0, 0, 9), "proxies.bl.example~2");
    part(&e[0], IMPORT_LISTED, A(127, 0, 0, 5), 0, "bl.example");

    /* the subzone: its two sections, both values; nothing of the zone's */
    policy_decide_subzone(e, 2, proxies, &zp, NOW, &d);
    assert_true(d.listed);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.codes[0], A(127, 0, 0, 2));
    assert_int_equal(d.codes[1], A(127, 0, 0, 9));
    assert_int_equal(d.why, WHY_IMPORTED);
    policy_decide_subzone(e, 2, relays, &zp, NOW, &d);
    assert_false(d.listed);

    /* the zone itself: never a subzone's part, unless it names it */
    policy_decide(e, 2, NULL, 0, &zp, NOW, &d);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.code, A(127, 0, 0, 5));
    assert_true(policy_add_dataset(&zp, "proxies.bl.example"));
    policy_decide(e, 2, NULL, 0, &zp, NOW, &d);
    assert_int_equal(d.n, 2); /* "proxies.bl.example" and its "~2" */
    assert_int_equal(d.codes[0], A(127, 0, 0, 2));
    assert_int_equal(d.codes[1], A(127, 0, 0, 9));
    policy_defaults(&zp);

    /* an exclusion in the subzone's dataset */
    sub_part(&e[0], IMPORT_EXCLUDED, 0, "proxies.bl.example~2");
    policy_decide_subzone(e, 2, proxies, &zp, NOW, &d);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.code, A(127, 0, 0, 2));

    /* the operator: an allow or a delisting holds there too, a manual
     * listing does not answer there */
    e[1].state = ENTRY_ALLOWED;
    policy_decide_subzone(e, 2, proxies, &zp, NOW, &d);
    assert_false(d.listed);
    assert_int_equal(d.why, WHY_ALLOWED);
    e[1].state = ENTRY_DELISTED;
    policy_decide_subzone(e, 2, proxies, &zp, NOW, &d);
    assert_false(d.listed);
    assert_int_equal(d.why, WHY_DELISTED);
    e[1].state = ENTRY_LISTED;
    policy_decide_subzone(e, 2, relays, &zp, NOW, &d);
    assert_false(d.listed);
    policy_decide_subzone(e, 2, proxies, &zp, NOW, &d);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.why, WHY_IMPORTED);
    e[1].state = ENTRY_NONE;

    /* only blocklist zones have subzones */
    zp.kind = ZONE_SCORE;
    policy_decide_subzone(e, 2, proxies, &zp, NOW, &d);
    assert_false(d.listed);
    assert_int_equal(d.n, 0);
}

static void test_decide_datasets(void **state)
{
    (void)state;
    struct zone_policy zp = zone(ZONE_BLOCKLIST);
    assert_true(policy_add_dataset(&zp, "main"));
    assert_true(policy_add_dataset(&zp, "drop"));
    struct decision d;
    struct entry e[] = {mk("192.0.2.7", ENTRY_NONE, 0, 0, ""),
                        mk("192.0.2.0/24", ENTRY_NONE, 0, 0, ""),
                        mk("192.0.0.0/16", ENTRY_NONE, 0, 0, "")};
    part(&e[0], IMPORT_EXCLUDED, 0, 0, "other"); /* not served: its exclusion does not count */
    part(&e[1], IMPORT_LISTED, A(127, 0, 0, 6), 0, "drop");
    policy_decide(e, 3, NULL, 0, &zp, NOW, &d);
    assert_true(d.listed);
    assert_int_equal(d.code, A(127, 0, 0, 6));
    assert_ptr_equal(d.imported, &e[1]);

    no_parts(&e[1]);
    part(&e[1], IMPORT_LISTED, A(127, 0, 0, 6), 0, "nope");
    policy_decide(e, 3, NULL, 0, &zp, NOW, &d);
    assert_false(d.listed);
    assert_int_equal(d.why, WHY_NONE);

    /* "" is served by every zone. */
    part(&e[2], IMPORT_LISTED, 0, 0, NULL);
    policy_decide(e, 3, NULL, 0, &zp, NOW, &d);
    assert_true(d.listed);
    assert_ptr_equal(d.imported, &e[2]);
    assert_int_equal(d.code, A(127, 0, 0, 4));

    /* A zone without datasets serves them all, each on its own word as
     * rbldnsd answers: "other" excludes the /32 from "other" alone, so
     * "nope" and "" still list it, both values. */
    zp.ndatasets = 0;
    policy_decide(e, 3, NULL, 0, &zp, NOW, &d);
    assert_true(d.listed);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.why, WHY_IMPORTED);

    /* An exclusion inside its own dataset does exclude. */
    part(&e[0], IMPORT_EXCLUDED, 0, 0, "nope");
    part(&e[0], IMPORT_EXCLUDED, 0, 0, NULL);
    policy_decide(e, 3, NULL, 0, &zp, NOW, &d);
    assert_false(d.listed);
    assert_int_equal(d.why, WHY_EXCLUDED);

    /* Two datasets listing one prefix answer both values, each with its
     * own TXT. */
    struct entry two = mk("198.51.100.9", ENTRY_NONE, 0, 0, "");
    struct event ev = {.prefix = two.prefix, .kind = EV_IMPORT_LIST, .time = 1};
    ev.dataset = "proxy";
    ev.code = A(127, 0, 0, 2);
    ev.txt = "proxy $";
    assert_true(model_apply_event(&two, &ev));
    ev.dataset = "relay";
    ev.code = A(127, 0, 0, 3);
    ev.txt = "relay $";
    assert_true(model_apply_event(&two, &ev));
    policy_decide(&two, 1, NULL, 0, &zp, NOW, &d);
    assert_int_equal(d.n, 2);
    char buf[64];
    bool seen2 = false, seen3 = false;
    for (unsigned i = 0; i < d.n; i++) {
        assert_true(policy_render_txt(&zp, &d, i, "198.51.100.9", "z", buf, sizeof buf, NULL));
        if (d.codes[i] == A(127, 0, 0, 2))
            seen2 = strcmp(buf, "proxy 198.51.100.9") == 0;
        if (d.codes[i] == A(127, 0, 0, 3))
            seen3 = strcmp(buf, "relay 198.51.100.9") == 0;
    }
    assert_true(seen2 && seen3);
    /* A zone serving one of them answers its value alone. */
    assert_true(policy_add_dataset(&zp, "relay"));
    policy_decide(&two, 1, NULL, 0, &zp, NOW, &d);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.code, A(127, 0, 0, 3));
}

/* The parser's events for one SNDS data row, applied as the store does. */
static void snds_import(struct entry *e, struct history_day *h, uint8_t colour, uint32_t recipients,
                        uint32_t traps, int64_t start)
{
    struct snds_row row = {.colour = colour,
                           .recipients = recipients,
                           .trap_hits = traps,
                           .start = start,
                           .end = start + MODEL_DAY - 60};
    struct event ev[3];
    for (int i = 0; i < 3; i++) {
        ev[i] = ev_make(EV_SNDS, start, NULL);
        ev[i].prefix = e->prefix;
        ev[i].source = "snds";
    }
    ev[0].snds = &row;
    ev[1].kind = EV_VOLUME;
    ev[1].weight = recipients;
    ev[2].kind = EV_TRAP_HIT;
    ev[2].weight = traps;
    memset(h, 0, sizeof *h);
    h->day = (uint32_t)(start / MODEL_DAY);
    for (int i = 0; i < (traps ? 3 : 2); i++) {
        model_apply_event(e, &ev[i]);
        if (model_event_has_history(&ev[i]))
            model_history_add(h, &ev[i]);
    }
}

static void test_decide_snds(void **state)
{
    (void)state;
    struct zone_policy zp = zone(ZONE_BLOCKLIST);
    struct decision d;
    const int64_t june1 = 1748736000; /* 2025-06-01T00:00:00Z */
    const int64_t noon = june1 + MODEL_DAY / 2;
    struct history_day h;

    /* Fixture line 5: 198.51.100.20, RED, 37 trap hits -> .4 and .3. */
    struct entry e = mk("198.51.100.20", ENTRY_NONE, 0, 0, "");
    snds_import(&e, &h, SNDS_RED, 31877, 37, june1);
    assert_int_equal(e.volume, 31877);
    assert_int_equal(e.counts[CNT_TRAP_HITS], 37);
    assert_string_equal(e.sources, "snds");
    policy_decide(&e, 1, &h, 1, &zp, noon, &d);
    assert_true(d.listed);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.codes[0], A(127, 0, 0, 4));
    assert_int_equal(d.code_why[0], WHY_SNDS);
    assert_int_equal(d.codes[1], A(127, 0, 0, 3));
    assert_int_equal(d.code_why[1], WHY_TRAPS);
    assert_int_equal(d.why, WHY_SNDS);
    assert_ptr_equal(d.decider, &e);
    assert_float_equal(d.score.traps, 555, 1e-9);

    /* Line 3: YELLOW with one trap hit -> .3 only (on the day). */
    e = mk("192.0.2.12", ENTRY_NONE, 0, 0, "");
    snds_import(&e, &h, SNDS_YELLOW, 20377, 1, june1);
    policy_decide(&e, 1, &h, 1, &zp, noon, &d);
    assert_true(d.listed);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.code, A(127, 0, 0, 3));
    assert_int_equal(d.why, WHY_TRAPS);

    /* Line 8: RED without trap hits -> .4 only; YELLOW alone: recorded. */
    e = mk("203.0.113.5", ENTRY_NONE, 0, 0, "");
    snds_import(&e, &h, SNDS_RED, 1318, 0, june1);
    policy_decide(&e, 1, &h, 1, &zp, noon, &d);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.code, A(127, 0, 0, 4));
    zp.snds_red_lists = false;
    policy_decide(&e, 1, &h, 1, &zp, noon, &d);
    assert_false(d.listed);
    zp.snds_red_lists = true;
    e = mk("203.0.113.10", ENTRY_NONE, 0, 0, "");
    snds_import(&e, &h, SNDS_YELLOW, 2199, 0, june1);
    policy_decide(&e, 1, &h, 1, &zp, noon, &d);
    assert_false(d.listed);

    /* IP status: a blocked range lists what it covers, junked does not. */
    struct entry r[] = {mk("192.0.2.64/29", ENTRY_NONE, 0, 0, "")};
    struct event st = ev_make(EV_SNDS_STATUS, june1, "Blocked due to user complaints");
    st.snds_blocked = true;
    model_apply_event(&r[0], &st);
    policy_decide(r, 1, NULL, 0, &zp, noon, &d);
    assert_true(d.listed);
    assert_int_equal(d.code, A(127, 0, 0, 4));
    assert_int_equal(d.why, WHY_SNDS);
    assert_ptr_equal(d.decider, &r[0]);
    st.snds_blocked = false;
    model_apply_event(&r[0], &st);
    policy_decide(r, 1, NULL, 0, &zp, noon, &d);
    assert_false(d.listed);

    /* A blocked range behind a /32 with its own GREEN row. */
    struct entry two[] = {mk("192.0.2.65", ENTRY_NONE, 0, 0, ""), r[0]};
    snds_import(&two[0], &h, SNDS_GREEN, 5000, 0, june1);
    two[1].snds_status = SNDS_STATUS_BLOCKED;
    policy_decide(two, 2, &h, 1, &zp, noon, &d);
    assert_true(d.listed);
    assert_ptr_equal(d.decider, &two[1]);
}

/* doc/formats.md 3.5: RED and blocked list for snds_max_age after the row
 * (status) that said so, unless a newer one says so again. */
static void test_decide_snds_ages_out(void **state)
{
    (void)state;
    struct zone_policy zp = zone(ZONE_BLOCKLIST);
    struct decision d;
    const int64_t june1 = 1748736000;           /* 2025-06-01T00:00:00Z */
    const int64_t end = june1 + MODEL_DAY - 60; /* snds_import's activity end */
    struct history_day h;

    assert_true(zp.snds_max_age == 7 * MODEL_DAY); /* the default */
    struct entry e = mk("203.0.113.5", ENTRY_NONE, 0, 0, "");
    snds_import(&e, &h, SNDS_RED, 1318, 0, june1);
    policy_decide(&e, 1, &h, 1, &zp, end + 7 * MODEL_DAY - 1, &d);
    assert_true(d.listed);
    assert_int_equal(d.why, WHY_SNDS);
    assert_true(d.snds_red);
    assert_true(policy_snds_active(&zp, &e, end + 7 * MODEL_DAY - 1));
    policy_decide(&e, 1, &h, 1, &zp, end + 7 * MODEL_DAY, &d);
    assert_false(d.listed);
    assert_false(policy_snds_active(&zp, &e, end + 7 * MODEL_DAY));
    /* A RED row from long ago does not list today. */
    policy_decide(&e, 1, &h, 1, &zp, june1 + 500 * MODEL_DAY, &d);
    assert_false(d.listed);
    /* The zone's own age. */
    zp.snds_max_age = 30 * MODEL_DAY;
    policy_decide(&e, 1, &h, 1, &zp, end + 29 * MODEL_DAY, &d);
    assert_true(d.listed);
    zp.snds_max_age = 7 * MODEL_DAY;
    /* A newer RED row confirms it. */
    snds_import(&e, &h, SNDS_RED, 1000, 0, june1 + 10 * MODEL_DAY);
    policy_decide(&e, 1, &h, 1, &zp, june1 + 12 * MODEL_DAY, &d);
    assert_true(d.listed);
    /* The score zone does not call an old RED the worst either. */
    zp.kind = ZONE_SCORE;
    policy_decide(&e, 1, &h, 1, &zp, june1 + 12 * MODEL_DAY, &d);
    assert_int_equal(d.code, A(127, 0, 4, 0));
    policy_decide(&e, 1, &h, 1, &zp, june1 + 30 * MODEL_DAY, &d);
    assert_int_equal(d.code, A(127, 0, 4, 100));
    zp.kind = ZONE_BLOCKLIST;

    /* A blocked status ages from its date (the file's time). */
    struct entry r = mk("192.0.2.64/29", ENTRY_NONE, 0, 0, "");
    struct event st = ev_make(EV_SNDS_STATUS, june1, "Blocked due to user complaints");
    st.snds_blocked = true;
    model_apply_event(&r, &st);
    assert_true(r.snds_status_time == june1);
    policy_decide(&r, 1, NULL, 0, &zp, june1 + 7 * MODEL_DAY - 1, &d);
    assert_true(d.listed);
    assert_false(d.snds_red);
    policy_decide(&r, 1, NULL, 0, &zp, june1 + 7 * MODEL_DAY, &d);
    assert_false(d.listed);
    /* A newer blocked row confirms it; an older junked one changes nothing. */
    st.time = june1 + 8 * MODEL_DAY;
    model_apply_event(&r, &st);
    policy_decide(&r, 1, NULL, 0, &zp, june1 + 9 * MODEL_DAY, &d);
    assert_true(d.listed);
    st.time = june1 + 2 * MODEL_DAY;
    st.snds_blocked = false;
    model_apply_event(&r, &st);
    assert_int_equal(r.snds_status, SNDS_STATUS_BLOCKED);
    assert_true(r.snds_status_time == june1 + 8 * MODEL_DAY);
}

/* README "Traffic light": never green for a listed address. */
static void test_light(void **state)
{
    (void)state;
    struct zone_policy zp = zone(ZONE_BLOCKLIST);
    struct decision d;
    struct entry e = mk("192.0.2.7", ENTRY_LISTED, 0, 0, "manual");
    policy_decide(&e, 1, NULL, 0, &zp, NOW, &d);
    assert_true(d.listed);
    assert_int_equal(d.score.light, 0);
    assert_int_equal(policy_light(&d), 2);
    assert_string_equal(model_light_name(policy_light(&d)), "red");

    e = mk("192.0.2.7", ENTRY_NONE, 0, 0, "");
    give_evidence(&e, 6, 0, 0);
    struct history_day h = hday(DAY0, 6, 0, 0);
    policy_decide(&e, 1, &h, 1, &zp, NOW, &d);
    assert_false(d.listed);
    assert_int_equal(policy_light(&d), 1); /* half the threshold: yellow */
    h = hday(DAY0, 1, 0, 0);
    policy_decide(&e, 1, &h, 1, &zp, NOW, &d);
    assert_int_equal(policy_light(&d), 0);
}

static void test_decide_codes_combine(void **state)
{
    (void)state;
    struct zone_policy zp = zone(ZONE_BLOCKLIST);
    struct decision d;
    struct entry e = mk("192.0.2.7", ENTRY_NONE, 0, 0, "");
    give_evidence(&e, 1, 1, 0);

    /* Each part over the threshold on its own: both codes, complaints first. */
    struct history_day h = hday(DAY0, 12, 2, 0);
    policy_decide(&e, 1, &h, 1, &zp, NOW, &d);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.codes[0], A(127, 0, 0, 2));
    assert_int_equal(d.code_why[0], WHY_COMPLAINTS);
    assert_int_equal(d.codes[1], A(127, 0, 0, 3));
    assert_int_equal(d.code_why[1], WHY_TRAPS);

    /* Neither alone, the sum is: the larger part's code. */
    zp.threshold = 25;
    h = hday(DAY0, 16, 1, 0);
    policy_decide(&e, 1, &h, 1, &zp, NOW, &d);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.why, WHY_COMPLAINTS);
    h = hday(DAY0, 6, 2, 0);
    policy_decide(&e, 1, &h, 1, &zp, NOW, &d);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.why, WHY_TRAPS);
    assert_int_equal(d.code, A(127, 0, 0, 3));

    /* Values are distinct: the first step's reason keeps a shared value. */
    zp.threshold = 10;
    zp.code_traps = A(127, 0, 0, 4);
    part(&e, IMPORT_LISTED, 0, 0, NULL);
    e.snds.colour = SNDS_RED;
    h = hday(DAY0, 12, 2, 0);
    policy_decide(&e, 1, &h, 1, &zp, NOW, &d);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.codes[0], A(127, 0, 0, 4));
    assert_int_equal(d.code_why[0], WHY_IMPORTED);
    assert_int_equal(d.codes[1], A(127, 0, 0, 2));
    assert_int_equal(d.code_why[1], WHY_COMPLAINTS);
    assert_ptr_equal(d.imported, &e);

    /* Four different values at most, in step order. */
    e.parts[0].code = A(127, 0, 0, 9);
    zp.code_traps = A(127, 0, 0, 3);
    policy_decide(&e, 1, &h, 1, &zp, NOW, &d);
    assert_int_equal(d.n, 4);
    assert_int_equal(d.codes[0], A(127, 0, 0, 9));
    assert_int_equal(d.codes[1], A(127, 0, 0, 4));
    assert_int_equal(d.code_why[1], WHY_SNDS);
    assert_int_equal(d.codes[2], A(127, 0, 0, 2));
    assert_int_equal(d.codes[3], A(127, 0, 0, 3));
    assert_int_equal(d.code, A(127, 0, 0, 9));
    assert_int_equal(d.why, WHY_IMPORTED);
}

/* ---- score and allowlist zones --------------------------------------- */

static void test_decide_score_zone(void **state)
{
    (void)state;
    struct zone_policy zp = zone(ZONE_SCORE);
    struct decision d;

    policy_decide(NULL, 0, NULL, 0, &zp, NOW, &d);
    assert_false(d.listed);

    /* Known only from imported list data: no score data, NXDOMAIN. */
    struct entry imp = mk("192.0.2.7", ENTRY_NONE, 0, 0, "");
    part(&imp, IMPORT_LISTED, 0, 0, NULL);
    policy_decide(&imp, 1, NULL, 0, &zp, NOW, &d);
    assert_false(d.listed);

    struct entry e = mk("192.0.2.7", ENTRY_NONE, 0, 0, "");
    give_evidence(&e, 30, 0, 0);
    struct history_day h = hday(DAY0, 30, 0, 0);
    policy_decide(&e, 1, &h, 1, &zp, NOW, &d);
    assert_true(d.listed);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.code, A(127, 0, 4, 25));
    assert_int_equal(d.why, WHY_SCORE);
    assert_ptr_equal(d.decider, &e);

    /* Evidence that decayed to nothing: still data, the best answer. */
    h = hday(DAY0, 0, 0, 500);
    policy_decide(&e, 1, &h, 1, &zp, NOW, &d);
    assert_int_equal(d.code, A(127, 0, 4, 100));

    e.state = ENTRY_LISTED;
    policy_decide(&e, 1, &h, 1, &zp, NOW, &d);
    assert_int_equal(d.code, A(127, 0, 4, 0));
    assert_int_equal(d.why, WHY_MANUAL);
    e.expires = NOW - 1; /* expired: back to the score */
    policy_decide(&e, 1, &h, 1, &zp, NOW, &d);
    assert_int_equal(d.code, A(127, 0, 4, 100));

    struct entry a[] = {e, mk("192.0.2.0/24", ENTRY_ALLOWED, 0, 0, "")};
    a[0].expires = 0;
    policy_decide(a, 2, &h, 1, &zp, NOW, &d);
    assert_int_equal(d.code, A(127, 0, 4, 100));
    assert_int_equal(d.why, WHY_ALLOWED);
    assert_true(d.allowed);

    /* SNDS RED without evidence (and a blocked range): the worst. */
    struct entry red = mk("192.0.2.9", ENTRY_NONE, 0, 0, "");
    red.snds.colour = SNDS_RED;
    policy_decide(&red, 1, NULL, 0, &zp, NOW, &d);
    assert_true(d.listed);
    assert_int_equal(d.code, A(127, 0, 4, 0));
    assert_int_equal(d.why, WHY_SNDS);
    red.snds.colour = SNDS_GREEN; /* SNDS data but nothing wrong */
    policy_decide(&red, 1, NULL, 0, &zp, NOW, &d);
    assert_int_equal(d.code, A(127, 0, 4, 100));
    red.snds_status = SNDS_STATUS_BLOCKED;
    policy_decide(&red, 1, NULL, 0, &zp, NOW, &d);
    assert_int_equal(d.code, A(127, 0, 4, 0));
    /* Whatever the blocklist lists for SNDS is never called good here. */
    red.snds_status = SNDS_STATUS_NONE;
    red.snds.colour = SNDS_RED;
    give_evidence(&red, 0, 0, 1000);
    h = hday(DAY0, 0, 0, 1000);
    policy_decide(&red, 1, &h, 1, &zp, NOW, &d);
    assert_int_equal(d.code, A(127, 0, 4, 0));
}

static void test_decide_allowlist_zone(void **state)
{
    (void)state;
    struct zone_policy zp = zone(ZONE_ALLOWLIST);
    struct decision d;
    struct entry e[] = {mk("192.0.2.7", ENTRY_LISTED, 0, 0, ""),
                        mk("192.0.2.0/24", ENTRY_ALLOWED, 0, 0, "partner")};
    policy_decide(e, 2, NULL, 0, &zp, NOW, &d);
    assert_true(d.listed);
    assert_true(d.allowed);
    assert_int_equal(d.code, A(127, 0, 0, 2));
    assert_int_equal(d.why, WHY_ALLOWED);
    assert_ptr_equal(d.decider, &e[1]);
    e[1].code = A(127, 0, 10, 3);
    policy_decide(e, 2, NULL, 0, &zp, NOW, &d);
    assert_int_equal(d.code, A(127, 0, 10, 3));
    e[1].expires = NOW;
    policy_decide(e, 2, NULL, 0, &zp, NOW, &d);
    assert_false(d.listed);
    assert_false(d.allowed);
    /* A listing is nothing to an allowlist. */
    policy_decide(e, 1, NULL, 0, &zp, NOW, &d);
    assert_false(d.listed);
}

/* ---- TXT ------------------------------------------------------------- */

static const char *txt(const struct zone_policy *zp, const struct decision *d, unsigned i,
                       const char *ip)
{
    static char buf[512];
    size_t len = 999;
    memset(buf, 'Z', sizeof buf);
    if (!policy_render_txt(zp, d, i, ip, "bl.example", buf, sizeof buf, &len))
        return NULL;
    assert_int_equal(len, strlen(buf));
    return buf;
}

static void test_render_manual(void **state)
{
    (void)state;
    struct zone_policy zp = zone(ZONE_BLOCKLIST);
    struct entry e = mk("192.0.2.7", ENTRY_LISTED, 0x7f00000a, 0, "spam source");
    struct decision d;
    policy_decide(&e, 1, NULL, 0, &zp, NOW, &d);

    assert_string_equal(txt(&zp, &d, 0, "192.0.2.7"),
                        "192.0.2.7 is listed in bl.example: spam source");
    assert_null(txt(&zp, &d, 1, "192.0.2.7")); /* no such record */

    e.reason[0] = '\0';
    assert_string_equal(txt(&zp, &d, 0, "192.0.2.7"), "192.0.2.7 is listed in bl.example: listed");

    strcpy(zp.txt_template, "{code} {unknown} {ip {reason}} { }{}{zone");
    assert_string_equal(txt(&zp, &d, 0, "2001:db8::1"),
                        "127.0.0.10 {unknown} {ip listed} { }{}{zone");
    strcpy(zp.txt_template, "See https://bl.example/lookup?ip={ip}");
    assert_string_equal(txt(&zp, &d, 0, "192.0.2.7"), "See https://bl.example/lookup?ip=192.0.2.7");

    /* Truncation: at most cap-1 bytes, always terminated, inside a value too. */
    policy_defaults(&zp);
    strcpy(e.reason, "spam source");
    char small[12];
    size_t n;
    memset(small, 'Z', sizeof small);
    assert_true(policy_render_txt(&zp, &d, 0, "192.0.2.7", "bl.example", small, sizeof small, &n));
    assert_int_equal(n, 11);
    assert_string_equal(small, "192.0.2.7 i");
    char tiny[5];
    assert_true(policy_render_txt(&zp, &d, 0, "192.0.2.7", "bl.example", tiny, sizeof tiny, &n));
    assert_int_equal(n, 4);
    assert_string_equal(tiny, "192.");
    char one[1] = {'Z'};
    assert_true(policy_render_txt(&zp, &d, 0, "192.0.2.7", "bl.example", one, 1, &n));
    assert_int_equal(n, 0);
    assert_int_equal(one[0], '\0');
    n = 7;
    assert_false(policy_render_txt(&zp, &d, 0, "x", "y", NULL, 0, &n));
    assert_int_equal(n, 0);

    /* A long reason fills to the end of a large buffer exactly. */
    memset(e.reason, 'r', MODEL_TEXT_MAX - 1);
    e.reason[MODEL_TEXT_MAX - 1] = '\0';
    strcpy(zp.txt_template, "{reason}{reason}");
    char big[300];
    assert_true(policy_render_txt(&zp, &d, 0, "", "", big, sizeof big, &n));
    assert_int_equal(n, sizeof big - 1);
    assert_int_equal(strlen(big), sizeof big - 1);

    /* Test points are the caller's. */
    struct decision tp = {
        .listed = true, .n = 1, .codes = {A(127, 0, 0, 2)}, .code_why = {WHY_TESTPOINT}};
    assert_null(txt(&zp, &tp, 0, "127.0.0.2"));
}

static void test_render_imported(void **state)
{
    (void)state;
    struct zone_policy zp = zone(ZONE_BLOCKLIST);
    struct entry e = mk("203.0.113.250", ENTRY_NONE, 0, 0, "");
    part(&e, IMPORT_LISTED, A(127, 0, 0, 6), 0, NULL);
    strcpy(e.part_text[0].txt,
           "Paying $$50 will not delist you, see https://bl.example/lookup?ip=$");
    struct decision d;
    policy_decide(&e, 1, NULL, 0, &zp, NOW, &d);
    assert_string_equal(
        txt(&zp, &d, 0, "203.0.113.250"),
        "Paying $50 will not delist you, see https://bl.example/lookup?ip=203.0.113.250");

    /* "$" before any other character is the address, the character kept;
     * an undefined "$n" stays as it is, as in rbldnsd. */
    strcpy(e.part_text[0].txt, "Spam trap hits from $ - $x $5 $$$ $");
    assert_string_equal(txt(&zp, &d, 0, "203.0.113.10"),
                        "Spam trap hits from 203.0.113.10 - 203.0.113.10x $5 $203.0.113.10 "
                        "203.0.113.10");
    strcpy(e.part_text[0].txt, "IPv6 source $ is listed");
    assert_string_equal(txt(&zp, &d, 0, "2001:db8:3:4::abcd"),
                        "IPv6 source 2001:db8:3:4::abcd is listed");

    /* No TXT at all (rbldnsd ":6:"). */
    e.parts[0].flags = IMPORT_NO_TXT;
    assert_null(txt(&zp, &d, 0, "203.0.113.250"));

    /* No template but a reason (a DROP-style list): the zone's template. */
    e.parts[0].flags = IMPORT_REASON;
    strcpy(e.part_text[0].txt, "SBL000001");
    assert_string_equal(txt(&zp, &d, 0, "192.0.2.1"),
                        "192.0.2.1 is listed in bl.example: SBL000001");

    /* The substitution cuts safely too. */
    e.parts[0].flags = 0;
    strcpy(e.part_text[0].txt, "$$ at $");
    char small[8];
    size_t n;
    assert_true(policy_render_txt(&zp, &d, 0, "203.0.113.250", "z", small, sizeof small, &n));
    assert_string_equal(small, "$ at 20");
    assert_int_equal(n, 7);
}

static void test_render_evidence(void **state)
{
    (void)state;
    struct zone_policy zp = zone(ZONE_BLOCKLIST);
    strcpy(zp.txt_template, "{reason} [{code}]");
    struct decision d;
    struct history_day h;
    const int64_t june1 = 1748736000;

    struct entry e = mk("198.51.100.20", ENTRY_NONE, 0, 0, "");
    snds_import(&e, &h, SNDS_RED, 31877, 37, june1);
    policy_decide(&e, 1, &h, 1, &zp, june1, &d);
    assert_int_equal(d.n, 2);
    assert_string_equal(txt(&zp, &d, 0, "198.51.100.20"), "SNDS filter result RED [127.0.0.4]");
    assert_string_equal(txt(&zp, &d, 1, "198.51.100.20"), "37 spam trap hits [127.0.0.3]");

    struct entry r = mk("192.0.2.64/29", ENTRY_NONE, 0, 0, "");
    struct event st = ev_make(EV_SNDS_STATUS, june1, "Blocked due to user complaints");
    st.snds_blocked = true;
    model_apply_event(&r, &st);
    policy_decide(&r, 1, NULL, 0, &zp, june1, &d);
    assert_string_equal(txt(&zp, &d, 0, "192.0.2.66"),
                        "Blocked due to user complaints [127.0.0.4]");

    struct entry c = mk("192.0.2.7", ENTRY_NONE, 0, 0, "");
    give_evidence(&c, 20, 0, 1000);
    c.first_seen = NOW - 2 * MODEL_DAY;
    c.last_seen = NOW;
    h = hday(DAY0, 20, 0, 1000);
    policy_decide(&c, 1, &h, 1, &zp, NOW, &d);
    assert_int_equal(d.why, WHY_COMPLAINTS);
    assert_string_equal(txt(&zp, &d, 0, "192.0.2.7"),
                        "20 complaints in 3 days (2.000% of 1000 messages) [127.0.0.2]");

    zp = zone(ZONE_SCORE);
    strcpy(zp.txt_template, "{ip}: {reason}");
    give_evidence(&c, 10, 0, 0);
    h = hday(DAY0, 30, 0, 0);
    policy_decide(&c, 1, &h, 1, &zp, NOW, &d);
    assert_string_equal(txt(&zp, &d, 0, "192.0.2.7"), "192.0.2.7: reputation 25/100, score 30.0");

    zp = zone(ZONE_ALLOWLIST);
    struct entry a = mk("192.0.2.0/24", ENTRY_ALLOWED, 0, 0, "partner");
    policy_decide(&a, 1, NULL, 0, &zp, NOW, &d);
    assert_string_equal(txt(&zp, &d, 0, "192.0.2.7"), "192.0.2.7 is listed in bl.example: partner");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_score_worked_example),
        cmocka_unit_test(test_score_weights),
        cmocka_unit_test(test_score_decay),
        cmocka_unit_test(test_score_window),
        cmocka_unit_test(test_score_since),
        cmocka_unit_test(test_score_clears_and_light),
        cmocka_unit_test(test_score_octet),
        cmocka_unit_test(test_decide_basic),
        cmocka_unit_test(test_decide_allow),
        cmocka_unit_test(test_decide_delisted_and_expired),
        cmocka_unit_test(test_decide_expired_falls_back),
        cmocka_unit_test(test_decide_delisted_relists),
        cmocka_unit_test(test_decide_imported),
        cmocka_unit_test(test_decide_datasets),
        cmocka_unit_test(test_decide_snds),
        cmocka_unit_test(test_decide_snds_ages_out),
        cmocka_unit_test(test_light),
        cmocka_unit_test(test_decide_codes_combine),
        cmocka_unit_test(test_decide_score_zone),
        cmocka_unit_test(test_decide_allowlist_zone),
        cmocka_unit_test(test_decide_subzones),
        cmocka_unit_test(test_render_manual),
        cmocka_unit_test(test_render_imported),
        cmocka_unit_test(test_render_evidence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
