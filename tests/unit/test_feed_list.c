/* Unit tests for the plain list and fail2ban parsers (feed_list.c):
 * accepted lines and their events, every reject path with its line, the
 * command line's code and reason, and fail2ban's dedup keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "feed.h"
#include "feed_capture.h"
#include "timeutil.h"

static struct capture cap, cap2;

static const struct feed_options opts = {.file_mtime = 1700000000, .now = 1760000000};

static int64_t at(const char *rfc3339)
{
    int64_t t = 0;
    assert_int_equal(time_parse_rfc3339(rfc3339, &t), 0);
    return t;
}

static int run(const struct feed_ops *ops, const char *text, struct capture *c)
{
    return cap_parse(ops, "in.txt", text, 0, &opts, c);
}

static void want_reject(const struct capture *c, size_t i, long line, const char *text)
{
    assert_true(i < c->nrej);
    if (c->rej[i].line != line || !strstr(c->rej[i].why, text))
        fail_msg("reject %zu: line %ld '%s', wanted line %ld with '%s'", i, c->rej[i].line,
                 c->rej[i].why, line, text);
    assert_string_equal(c->rej[i].file, "in.txt");
}

/* ---- plain lists ---- */

static void test_list_text(void **state)
{
    (void)state;
    const char *text = "; Spamhaus DROP List 2025/06/01 - (c) example\n"
                       "# another comment\n"
                       "\n"
                       "192.0.2.0/24 ; SBL000001\n"
                       "198.51.100.7\n"
                       "  203.0.113.0/25\tsnowshoe $cheap\n"
                       "2001:db8::/32#v6 block\n"
                       "198.51.100.9;\n"
                       "192.0.2.7/24 ; SBL2\n"
                       "not-an-address ; x\n"
                       "203.0.113.9/33\n";
    assert_int_equal(run(&feed_ops_list, text, &cap), 0);
    assert_int_equal(cap.nev, 5);
    assert_int_equal(cap.records, 8);
    static const struct {
        const char *prefix, *reason, *txt;
    } want[] = {
        {"192.0.2.0/24", "SBL000001", "SBL000001"},
        {"198.51.100.7", "listed by list", ""},
        {"203.0.113.0/25", "snowshoe $cheap", "snowshoe $$cheap"},
        {"2001:db8::/32", "v6 block", "v6 block"},
        {"198.51.100.9", "listed by list", ""},
    };
    for (size_t i = 0; i < 5; i++) {
        const struct cap_event *e = &cap.ev[i];
        assert_int_equal(e->ev.kind, EV_IMPORT_LIST);
        assert_string_equal(e->prefix, want[i].prefix);
        assert_string_equal(e->reason, want[i].reason);
        assert_true(e->has_txt);
        assert_string_equal(e->txt, want[i].txt);
        assert_int_equal(e->ev.code, 0);
        assert_int_equal(e->ev.time, opts.file_mtime);
        assert_false(e->has_key);
    }
    assert_int_equal(cap.nrej, 3);
    want_reject(&cap, 0, 9, "'192.0.2.7/24' has host bits set; did you mean 192.0.2.0/24?");
    want_reject(&cap, 1, 10, "'not-an-address' is not an IPv4/IPv6 address or prefix");
    want_reject(&cap, 2, 11, "'203.0.113.9/33' has a prefix length out of range");

    /* --code and --reason from the command line win over the line. */
    struct feed_options o = opts;
    o.list_code = 0x7f000009;
    o.list_reason = "DROP: $ hijacked";
    o.source = "drop";
    assert_int_equal(
        cap_parse(&feed_ops_list, "drop.txt", "192.0.2.0/24 ; SBL1\n198.51.100.7\n", 0, &o, &cap),
        0);
    assert_int_equal(cap.nev, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(cap.ev[i].ev.code, 0x7f000009);
        assert_string_equal(cap.ev[i].reason, "DROP: $ hijacked");
        assert_string_equal(cap.ev[i].txt, "DROP: $$ hijacked");
        assert_string_equal(cap.ev[i].source, "drop");
    }
}

static void test_list_json(void **state)
{
    (void)state;
    const char *text =
        "{\"cidr\":\"192.0.2.0/24\",\"sblid\":\"SBL000001\",\"rir\":\"ripencc\"}\n"
        "{ \"cidr\" : \"2001:db8::/32\", \"rir\":\"arin\" }\n"
        "{\"sblid\":\"SBL3\"}\n"
        "{\"cidr\":\"192.0.2.9/24\",\"sblid\":\"SBL4\"}\n"
        "{\"cidr\":12}\n"
        "{\"type\":\"metadata\",\"timestamp\":1748736000,\"size\":2,\"records\":2}\n";
    assert_int_equal(run(&feed_ops_list, text, &cap), 0);
    assert_int_equal(cap.nev, 2);
    assert_string_equal(cap.ev[0].prefix, "192.0.2.0/24");
    assert_string_equal(cap.ev[0].reason, "SBL000001");
    assert_string_equal(cap.ev[1].prefix, "2001:db8::/32");
    assert_string_equal(cap.ev[1].reason, "listed by list");
    assert_string_equal(cap.ev[1].txt, "");
    assert_int_equal(cap.nrej, 3);
    want_reject(&cap, 0, 3, "JSON line has no \"cidr\" field");
    want_reject(&cap, 1, 4, "has host bits set");
    want_reject(&cap, 2, 5, "JSON line has no \"cidr\" field");
    assert_int_equal(cap.records, 5); /* the metadata line is not a record */

    /* Detection: DROP JSON as Spamhaus writes it, a bad prefix and the
     * closing metadata object included, is a list (doc/formats.md 5). */
    const char *drop = "{\"cidr\":\"198.51.100.64/26\",\"sblid\":\"SBL1\"}\n"
                       "{\"cidr\":\"2001:db8:bad::/48\",\"sblid\":\"SBL2\"}\n"
                       "{\"cidr\":\"192.0.2.300/32\",\"sblid\":\"SBL3\"}\n"
                       "{\"type\":\"metadata\",\"timestamp\":1748736000,\"records\":3}\n";
    assert_true(feed_ops_list.detect((const uint8_t *)drop, strlen(drop)) >= 50);
    const char *other = "{\"ip\":\"192.0.2.1\"}\n{\"ip\":\"192.0.2.2\"}\n";
    assert_int_equal(feed_ops_list.detect((const uint8_t *)other, strlen(other)), 0);
}

/* ---- fail2ban ---- */

static const char *f2b_log =
    "2025-06-01 10:20:31,456 fail2ban.server         [1234]: INFO    Starting Fail2ban v1.0.2\n"
    "2025-06-01 10:20:30,100 fail2ban.filter         [1234]: INFO    [postfix-sasl] Found "
    "203.0.113.9 - 2025-06-01 10:20:30\n"
    "2025-06-01 10:20:31,456 fail2ban.actions        [1234]: NOTICE  [postfix-sasl] Ban "
    "203.0.113.9\n"
    "2025-06-01 10:20:40,000 fail2ban.actions        [1234]: NOTICE  [postfix-sasl] "
    "203.0.113.9 already banned\n"
    "2025-06-01 10:50:31,456 fail2ban.actions        [1234]: NOTICE  [postfix-sasl] Unban "
    "203.0.113.9\n"
    "2025-06-01 11:00:00,001 fail2ban.actions        [1234]: NOTICE  [sshd] Restore Ban "
    "2001:db8::66\n"
    "2025-06-01 11:05:00,001 fail2ban.actions: WARNING [sshd] Ban 198.51.100.3\n"
    "2025-06-01 11:06:00,001 fail2ban.actions        [1234]: NOTICE  [sshd] Ban 198.51.100.300\n"
    "2025-13-01 11:06:00,001 fail2ban.actions        [1234]: NOTICE  [sshd] Ban 198.51.100.4\n"
    "Traceback (most recent call last):\n"
    "2025-06-01 11:07:00,001 fail2ban.actions        [1234]: NOTICE  [sshd] Ban 203.0.113.9\n";

static void test_fail2ban(void **state)
{
    (void)state;
    assert_int_equal(run(&feed_ops_fail2ban, f2b_log, &cap), 0);
    assert_int_equal(cap.nev, 4);
    static const struct {
        const char *prefix, *reason, *time;
    } want[] = {
        {"203.0.113.9", "fail2ban postfix-sasl", "2025-06-01T10:20:31Z"},
        {"2001:db8::66", "fail2ban sshd", "2025-06-01T11:00:00Z"},
        {"198.51.100.3", "fail2ban sshd", "2025-06-01T11:05:00Z"},
        {"203.0.113.9", "fail2ban sshd", "2025-06-01T11:07:00Z"},
    };
    for (size_t i = 0; i < 4; i++) {
        const struct cap_event *e = &cap.ev[i];
        assert_int_equal(e->ev.kind, EV_OTHER);
        assert_float_equal(e->ev.weight, 1, 0);
        assert_string_equal(e->prefix, want[i].prefix);
        assert_string_equal(e->reason, want[i].reason);
        assert_int_equal(e->ev.time, at(want[i].time));
        assert_string_equal(e->source, "fail2ban");
        assert_true(e->has_key);
        for (size_t j = 0; j < i; j++)
            assert_memory_not_equal(e->key, cap.ev[j].key, FEED_DEDUP_LEN);
    }
    assert_int_equal(cap.nrej, 2);
    want_reject(&cap, 0, 8, "'198.51.100.300' is not an IPv4/IPv6 address or prefix");
    want_reject(&cap, 1, 9, "log time '2025-13-01 11:06:00' is not a valid date");
    assert_int_equal(cap.nwarn, 1);
    assert_int_equal(cap.warn[0].line, 10);
    assert_int_equal(cap.records, 10); /* every fail2ban line, bans or not */

    /* The same log again: the same keys. */
    assert_int_equal(run(&feed_ops_fail2ban, f2b_log, &cap2), 0);
    for (size_t i = 0; i < 4; i++)
        assert_memory_equal(cap.ev[i].key, cap2.ev[i].key, FEED_DEDUP_LEN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_text),
        cmocka_unit_test(test_list_json),
        cmocka_unit_test(test_fail2ban),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
