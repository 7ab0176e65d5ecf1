/* Unit tests for the RFC 5782 rule that 127.0.0.1 is never listed: its one
 * home, model_event_refusal, and store_apply enforcing it for every caller
 * with DNSBL_EREFUSED and the same message the tools print; and the
 * listing codes, which never include 127.0.0.1 either. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "err.h"
#include "model.h"
#include "store.h"

#define T0 1700000000
#define TAIL "the RFC 5782 test point that must never be listed"

static struct event ev_of(uint8_t kind, const char *prefix)
{
    struct event ev = {.kind = kind, .weight = 1, .time = T0, .code = 0x7f000002};
    char why[128];
    assert_int_equal(addr_parse(prefix, &ev.prefix, why, sizeof why), DNSBL_OK);
    return ev;
}

static void test_refusal_messages(void **state)
{
    (void)state;
    char why[256];
    struct event ev = ev_of(EV_LIST, "127.0.0.1");
    assert_int_equal(model_event_refusal(&ev, NULL, why, sizeof why), DNSBL_EREFUSED);
    assert_string_equal(why, "refusing to list 127.0.0.1, " TAIL);
    ev = ev_of(EV_LIST, "::ffff:127.0.0.1");
    assert_int_equal(model_event_refusal(&ev, "'::ffff:127.0.0.1'", why, sizeof why),
                     DNSBL_EREFUSED);
    assert_string_equal(why, "refusing to list '::ffff:127.0.0.1': it is 127.0.0.1, " TAIL);
    ev = ev_of(EV_IMPORT_LIST, "127.0.0.0/8");
    assert_int_equal(model_event_refusal(&ev, NULL, why, sizeof why), DNSBL_EREFUSED);
    assert_string_equal(why, "refusing to list 127.0.0.0/8: it covers 127.0.0.1, " TAIL);
    ev = ev_of(EV_SNDS_STATUS, "0.0.0.0/0");
    ev.snds_blocked = true;
    assert_int_equal(model_event_refusal(&ev, NULL, NULL, 0), DNSBL_EREFUSED);
}

static void test_what_is_not_refused(void **state)
{
    (void)state;
    static const uint8_t kinds[] = {EV_ALLOW,    EV_DELIST,         EV_ABUSE,
                                    EV_TRAP_HIT, EV_IMPORT_EXCLUDE, EV_SNDS_STATUS};
    char why[256] = "";
    for (size_t i = 0; i < sizeof kinds; i++) {
        struct event ev = ev_of(kinds[i], "127.0.0.1");
        assert_int_equal(model_event_refusal(&ev, NULL, why, sizeof why), DNSBL_OK);
    }
    const char *others[] = {"127.0.0.2", "127.0.0.2/31", "126.0.0.0/8", "::1", "::/0"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        struct event ev = ev_of(EV_LIST, others[i]);
        assert_int_equal(model_event_refusal(&ev, NULL, why, sizeof why), DNSBL_OK);
    }
    assert_string_equal(why, "");
}

static void test_store_enforces(void **state)
{
    (void)state;
    char dir[512], why[512], cmd[600];
    const char *tmp = getenv("TMPDIR");
    struct store *s = NULL;
    snprintf(dir, sizeof dir, "%s/dnsbl-never-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    assert_int_equal(store_open(dir, STORE_CREATE, &s, why, sizeof why), DNSBL_OK);

    const char *refused[] = {"127.0.0.1", "::ffff:127.0.0.1", "127.0.0.0/8", "0.0.0.0/0"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        /* one refused event refuses its whole batch */
        struct event ev[2] = {ev_of(EV_LIST, "192.0.2.1"), ev_of(EV_IMPORT_LIST, refused[i])};
        why[0] = '\0';
        assert_int_equal(store_apply(s, ev, NULL, 2, NULL, why, sizeof why), DNSBL_EREFUSED);
        assert_non_null(strstr(why, "event 1: refusing to list "));
        assert_non_null(strstr(why, TAIL));
    }
    size_t n = 99;
    assert_int_equal(store_count(s, &n), DNSBL_OK);
    assert_int_equal(n, 0);
    /* evidence and allow entries about 127.0.0.1 are fine */
    struct event ok[2] = {ev_of(EV_ABUSE, "127.0.0.1"), ev_of(EV_ALLOW, "127.0.0.0/8")};
    assert_int_equal(store_apply(s, ok, NULL, 2, NULL, why, sizeof why), DNSBL_OK);
    assert_int_equal(store_count(s, &n), DNSBL_OK);
    assert_int_equal(n, 2);
    store_close(s);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* The codes a listing may answer: never 127.0.0.1 (nor 127.0.0.0), never
 * an error value; the zone config and dnsblctl --code both ask here. */
static void test_listing_codes(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *why; /* NULL = accepted */
    } cases[] = {
        {"127.0.0.2", NULL},
        {"127.1.2.3", NULL},
        {"127.255.255.251", NULL},
        {"127.0.0.1", "127.0.0.1 means \"not listed\""},
        {"127.0.0.0", "reserved"},
        {"127.255.255.252", "error replies"},
        {"127.255.255.255", "error replies"},
        {"10.0.0.2", "is outside 127.0.0.0/8"},
        {"127.0.0", "is not an IPv4 address"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t code = 0;
        const char *why = model_code_parse(cases[i].text, &code);
        if (!cases[i].why) {
            assert_null(why);
            struct in_addr a;
            assert_int_equal(inet_pton(AF_INET, cases[i].text, &a), 1);
            assert_int_equal(code, ntohl(a.s_addr));
        } else {
            assert_non_null(why);
            assert_non_null(strstr(why, cases[i].why));
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusal_messages),
        cmocka_unit_test(test_what_is_not_refused),
        cmocka_unit_test(test_store_enforces),
        cmocka_unit_test(test_listing_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
