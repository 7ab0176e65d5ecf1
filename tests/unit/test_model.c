/* Unit tests for model: events applied to entries, the precedence of
 * policy_decide, and TXT rendering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "err.h"
#include "model.h"

#define NOW 1800000000LL

static struct addr_prefix pfx(const char *text)
{
    struct addr_prefix p;
    char why[128];
    if (addr_parse(text, &p, why, sizeof why) != DNSBL_OK)
        fail_msg("%s", why);
    return p;
}

static struct entry mk(const char *prefix, uint8_t state, uint32_t code, int64_t expires,
                       const char *reason)
{
    struct entry e;
    memset(&e, 0, sizeof e);
    e.prefix = pfx(prefix);
    e.state = state;
    e.code = code;
    e.expires = expires;
    strcpy(e.reason, reason);
    return e;
}

static struct event ev_make(uint8_t kind, int64_t t, const char *reason)
{
    struct event ev;
    memset(&ev, 0, sizeof ev);
    ev.prefix = pfx("192.0.2.7");
    ev.kind = kind;
    ev.weight = 1;
    ev.time = t;
    ev.reason = reason;
    return ev;
}

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
}

static void test_apply_counters(void **state)
{
    (void)state;
    struct entry e;
    memset(&e, 0, sizeof e);
    struct event ev = ev_make(EV_ABUSE, 100, NULL);
    model_apply_event(&e, &ev);
    ev.weight = 2.6;
    ev.time = 200;
    model_apply_event(&e, &ev);
    assert_int_equal(e.counts[CNT_ABUSE], 4);
    assert_true(e.score > 3.59 && e.score < 3.61);
    assert_int_equal(e.score_time, 200);

    ev = ev_make(EV_TRAP_HIT, 150, NULL);
    ev.weight = 3;
    model_apply_event(&e, &ev);
    assert_int_equal(e.counts[CNT_TRAP_HITS], 3);
    assert_int_equal(e.score_time, 200);
    ev = ev_make(EV_NOT_SPAM, 300, NULL);
    model_apply_event(&e, &ev);
    assert_int_equal(e.counts[CNT_NOT_SPAM], 1);
    ev = ev_make(EV_AUTH_FAILURE, 300, NULL);
    model_apply_event(&e, &ev);
    assert_int_equal(e.counts[CNT_AUTH_FAILURE], 1);
    ev = ev_make(EV_FRAUD, 300, NULL);
    model_apply_event(&e, &ev);
    ev = ev_make(EV_VIRUS, 300, NULL);
    model_apply_event(&e, &ev);
    ev = ev_make(EV_OTHER, 300, NULL);
    model_apply_event(&e, &ev);
    assert_int_equal(e.counts[CNT_FRAUD], 1);
    assert_int_equal(e.counts[CNT_VIRUS], 1);
    assert_int_equal(e.counts[CNT_OTHER], 1);

    ev = ev_make(EV_VOLUME, 50, NULL);
    ev.weight = 1000;
    model_apply_event(&e, &ev);
    ev.weight = 24.4;
    model_apply_event(&e, &ev);
    assert_int_equal(e.volume, 1024);
    assert_int_equal(e.first_seen, 50);
    assert_int_equal(e.last_seen, 300);
    assert_int_equal(e.state, ENTRY_NONE);

    /* Counters saturate instead of wrapping. */
    e.counts[CNT_ABUSE] = UINT32_MAX - 1;
    ev = ev_make(EV_ABUSE, 400, NULL);
    ev.weight = 10;
    model_apply_event(&e, &ev);
    assert_int_equal(e.counts[CNT_ABUSE], UINT32_MAX);
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

static void test_defaults(void **state)
{
    (void)state;
    struct zone_policy zp;
    memset(&zp, 0xee, sizeof zp);
    policy_defaults(&zp);
    assert_int_equal(zp.code_manual, 0x7f000002);
    assert_int_equal(zp.ttl, 2100);
    assert_string_equal(zp.txt_template, "{ip} is listed in {zone}: {reason}");
}

static void test_decide_basic(void **state)
{
    (void)state;
    struct zone_policy zp;
    policy_defaults(&zp);
    struct decision d;

    policy_decide(NULL, 0, &zp, NOW, &d);
    assert_false(d.listed);
    assert_int_equal(d.why, WHY_NONE);
    assert_null(d.decider);

    /* A listing without its own code gets the zone's. */
    struct entry one[] = {mk("192.0.2.0/24", ENTRY_LISTED, 0, 0, "bad net")};
    policy_decide(one, 1, &zp, NOW, &d);
    assert_true(d.listed);
    assert_int_equal(d.code, 0x7f000002);
    assert_int_equal(d.why, WHY_MANUAL);
    assert_ptr_equal(d.decider, &one[0]);
    zp.code_manual = 0x7f00000a;
    policy_decide(one, 1, &zp, NOW, &d);
    assert_int_equal(d.code, 0x7f00000a);

    one[0].code = 0x7f000004;
    policy_decide(one, 1, &zp, NOW, &d);
    assert_int_equal(d.code, 0x7f000004);

    /* Entry with history only: not listed, decider is the longest entry. */
    struct entry none[] = {mk("192.0.2.7", ENTRY_NONE, 0, 0, "")};
    policy_decide(none, 1, &zp, NOW, &d);
    assert_false(d.listed);
    assert_int_equal(d.why, WHY_NONE);
    assert_ptr_equal(d.decider, &none[0]);
}

static void test_decide_allow(void **state)
{
    (void)state;
    struct zone_policy zp;
    policy_defaults(&zp);
    struct decision d;

    /* Allow on a shorter prefix beats a longer listing. */
    struct entry a[] = {
        mk("192.0.2.7", ENTRY_LISTED, 0, 0, "host"),
        mk("192.0.0.0/16", ENTRY_ALLOWED, 0, 0, "partner"),
    };
    policy_decide(a, 2, &zp, NOW, &d);
    assert_false(d.listed);
    assert_int_equal(d.why, WHY_ALLOWED);
    assert_ptr_equal(d.decider, &a[1]);

    /* Allow on a longer prefix beats a shorter listing. */
    struct entry b[] = {
        mk("192.0.2.7", ENTRY_ALLOWED, 0, 0, "mx"),
        mk("192.0.2.0/24", ENTRY_LISTED, 0, 0, "net"),
    };
    policy_decide(b, 2, &zp, NOW, &d);
    assert_false(d.listed);
    assert_int_equal(d.why, WHY_ALLOWED);
    assert_ptr_equal(d.decider, &b[0]);

    /* An expired allow no longer protects. */
    b[0].expires = NOW - 10;
    policy_decide(b, 2, &zp, NOW, &d);
    assert_true(d.listed);
    assert_int_equal(d.why, WHY_MANUAL);
    assert_ptr_equal(d.decider, &b[1]);
}

static void test_decide_delisted_and_expired(void **state)
{
    (void)state;
    struct zone_policy zp;
    policy_defaults(&zp);
    struct decision d;

    /* A delisted /32 inside a listed /24. */
    struct entry a[] = {
        mk("192.0.2.7", ENTRY_DELISTED, 0, 0, "was listed"),
        mk("192.0.2.0/24", ENTRY_LISTED, 0, 0, "net"),
    };
    policy_decide(a, 2, &zp, NOW, &d);
    assert_false(d.listed);
    assert_int_equal(d.why, WHY_DELISTED);
    assert_ptr_equal(d.decider, &a[0]);

    /* A listed /32 inside a delisted /24: the longest decides. */
    a[0].state = ENTRY_LISTED;
    a[1].state = ENTRY_DELISTED;
    policy_decide(a, 2, &zp, NOW, &d);
    assert_true(d.listed);
    assert_ptr_equal(d.decider, &a[0]);

    /* An expired /32 listing is skipped; the /24 listing decides. */
    struct entry b[] = {
        mk("192.0.2.7", ENTRY_LISTED, 0x7f00000a, NOW - 1, "old"),
        mk("192.0.2.0/24", ENTRY_LISTED, 0x7f000004, 0, "net"),
    };
    policy_decide(b, 2, &zp, NOW, &d);
    assert_true(d.listed);
    assert_int_equal(d.code, 0x7f000004);
    assert_ptr_equal(d.decider, &b[1]);

    /* Nothing else decides: expired, with that entry as decider. */
    b[1].state = ENTRY_NONE;
    policy_decide(b, 2, &zp, NOW, &d);
    assert_false(d.listed);
    assert_int_equal(d.why, WHY_EXPIRED);
    assert_ptr_equal(d.decider, &b[0]);

    /* Expired listing then a delisting further out: delisted decides. */
    b[1].state = ENTRY_DELISTED;
    policy_decide(b, 2, &zp, NOW, &d);
    assert_int_equal(d.why, WHY_DELISTED);
    assert_ptr_equal(d.decider, &b[1]);

    /* Still in force one second before expiry. */
    policy_decide(b, 2, &zp, NOW - 2, &d);
    assert_true(d.listed);
    assert_int_equal(d.code, 0x7f00000a);
}

static void test_render_txt(void **state)
{
    (void)state;
    struct zone_policy zp;
    policy_defaults(&zp);
    struct entry e = mk("192.0.2.7", ENTRY_LISTED, 0x7f00000a, 0, "spam source");
    struct decision d = {.listed = true, .code = 0x7f00000a, .why = WHY_MANUAL, .decider = &e};
    char buf[512];

    size_t n = policy_render_txt(&zp, &d, "192.0.2.7", "bl.example", buf, sizeof buf);
    assert_string_equal(buf, "192.0.2.7 is listed in bl.example: spam source");
    assert_int_equal(n, strlen(buf));

    e.reason[0] = '\0';
    policy_render_txt(&zp, &d, "192.0.2.7", "bl.example", buf, sizeof buf);
    assert_string_equal(buf, "192.0.2.7 is listed in bl.example: listed");

    strcpy(zp.txt_template, "{code} {unknown} {ip {reason}} { }{}{zone");
    policy_render_txt(&zp, &d, "2001:db8::1", "bl.example", buf, sizeof buf);
    assert_string_equal(buf, "127.0.0.10 {unknown} {ip listed} { }{}{zone");

    strcpy(zp.txt_template, "See https://bl.example/lookup?ip={ip}");
    policy_render_txt(&zp, &d, "192.0.2.7", "bl.example", buf, sizeof buf);
    assert_string_equal(buf, "See https://bl.example/lookup?ip=192.0.2.7");

    /* Truncation: at most cap-1 bytes, always terminated, inside a value too. */
    policy_defaults(&zp);
    strcpy(e.reason, "spam source");
    char small[12];
    memset(small, 'Z', sizeof small);
    n = policy_render_txt(&zp, &d, "192.0.2.7", "bl.example", small, sizeof small);
    assert_int_equal(n, 11);
    assert_string_equal(small, "192.0.2.7 i");
    char tiny[5];
    n = policy_render_txt(&zp, &d, "192.0.2.7", "bl.example", tiny, sizeof tiny);
    assert_int_equal(n, 4);
    assert_string_equal(tiny, "192.");
    char one[1] = {'Z'};
    assert_int_equal(policy_render_txt(&zp, &d, "192.0.2.7", "bl.example", one, 1), 0);
    assert_int_equal(one[0], '\0');
    assert_int_equal(policy_render_txt(&zp, &d, "x", "y", NULL, 0), 0);

    /* A long reason fills to the end of a large buffer exactly. */
    memset(e.reason, 'r', MODEL_TEXT_MAX - 1);
    e.reason[MODEL_TEXT_MAX - 1] = '\0';
    strcpy(zp.txt_template, "{reason}{reason}");
    char big[300];
    n = policy_render_txt(&zp, &d, "", "", big, sizeof big);
    assert_int_equal(n, sizeof big - 1);
    assert_int_equal(strlen(big), sizeof big - 1);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(model_state_name(ENTRY_NONE), "none");
    assert_string_equal(model_state_name(ENTRY_LISTED), "listed");
    assert_string_equal(model_state_name(ENTRY_DELISTED), "delisted");
    assert_string_equal(model_state_name(ENTRY_ALLOWED), "allowed");
    assert_string_equal(model_why_name(WHY_NONE), "none");
    assert_string_equal(model_why_name(WHY_MANUAL), "manual");
    assert_string_equal(model_why_name(WHY_ALLOWED), "allowed");
    assert_string_equal(model_why_name(WHY_DELISTED), "delisted");
    assert_string_equal(model_why_name(WHY_EXPIRED), "expired");
    assert_string_equal(model_why_name(WHY_TESTPOINT), "testpoint");
    assert_non_null(model_state_name(200));
    assert_non_null(model_why_name(200));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply_list_delist_allow),
        cmocka_unit_test(test_apply_counters),
        cmocka_unit_test(test_apply_truncates_text),
        cmocka_unit_test(test_manual_active),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_decide_basic),
        cmocka_unit_test(test_decide_allow),
        cmocka_unit_test(test_decide_delisted_and_expired),
        cmocka_unit_test(test_render_txt),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
