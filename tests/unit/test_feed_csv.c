/* Unit tests for the generic CSV and spam-trap CSV parsers (feed_csv.c):
 * accepted rows and their events, every reject path with its line, dedup
 * keys, and detection of every line format against the others. */
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
#include "store.h"
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

static int detect(const struct feed_ops *ops, const char *text)
{
    return ops->detect((const uint8_t *)text, strlen(text));
}

/* ---- generic CSV ---- */

static const char *generic_ok =
    "address_or_prefix,kind,weight,time,reason\r\n"
    "192.0.2.1,abuse,,2025-06-01T10:00:00Z,complaint\r\n"
    "192.0.2.2,Fraud,4,1748772000,\r\n"
    "192.0.2.3,virus,1,2025-06-01T10:00:00+02:00,\"quoted, with comma\"\r\n"
    "192.0.2.4,other,0.5,1748772000,\r\n"
    "192.0.2.5,not_spam,1,1748772000,\r\n"
    "192.0.2.6,auth-failure,1,1748772000,\r\n"
    "198.51.100.0/24,trap,3,1748772000,traps\r\n"
    "2001:db8::1,volume,1000000,1748772000,\r\n"
    "\r\n"
    "# operator notes\r\n"
    "203.0.113.0/24,list,,,manual listing\r\n"
    "203.0.113.7,allow,,1748772000,partner\r\n";

static void test_generic_rows(void **state)
{
    (void)state;
    assert_int_equal(run(&feed_ops_csv, generic_ok, &cap), 0);
    assert_int_equal(cap.nrej, 0);
    assert_int_equal(cap.nwarn, 0);
    assert_int_equal(cap.records, 10);
    assert_int_equal(cap.nev, 10);
    static const struct {
        const char *prefix;
        uint8_t kind;
        double weight;
    } want[] = {
        {"192.0.2.1", EV_ABUSE, 1},          {"192.0.2.2", EV_FRAUD, 4},
        {"192.0.2.3", EV_VIRUS, 1},          {"192.0.2.4", EV_OTHER, 0.5},
        {"192.0.2.5", EV_NOT_SPAM, 1},       {"192.0.2.6", EV_AUTH_FAILURE, 1},
        {"198.51.100.0/24", EV_TRAP_HIT, 3}, {"2001:db8::1", EV_VOLUME, 1000000},
        {"203.0.113.0/24", EV_LIST, 1},      {"203.0.113.7", EV_ALLOW, 1},
    };
    for (size_t i = 0; i < 10; i++) {
        const struct cap_event *e = &cap.ev[i];
        assert_string_equal(e->prefix, want[i].prefix);
        assert_int_equal(e->ev.kind, want[i].kind);
        if (e->ev.kind != EV_LIST && e->ev.kind != EV_ALLOW)
            assert_float_equal(e->ev.weight, want[i].weight, 1e-9);
        assert_string_equal(e->source, "csv");
        /* Evidence has a key, operator state needs none. */
        assert_int_equal(e->has_key, e->ev.kind != EV_LIST && e->ev.kind != EV_ALLOW);
    }
    int64_t t = at("2025-06-01T10:00:00Z");
    assert_int_equal(cap.ev[0].ev.time, t);
    assert_string_equal(cap.ev[0].reason, "complaint");
    assert_int_equal(cap.ev[1].ev.time, t);
    assert_false(cap.ev[1].has_reason);
    assert_int_equal(cap.ev[2].ev.time, t - 7200);
    assert_string_equal(cap.ev[2].reason, "quoted, with comma");
    assert_int_equal(cap.ev[8].ev.time, opts.now); /* list without time: now */
    assert_string_equal(cap.ev[8].reason, "manual listing");
    assert_int_equal(cap.ev[9].ev.time, t);

    /* Keys: stable, distinct per row, and tied to the file name. */
    assert_int_equal(run(&feed_ops_csv, generic_ok, &cap2), 0);
    for (size_t i = 0; i < 8; i++) {
        assert_memory_equal(cap.ev[i].key, cap2.ev[i].key, FEED_DEDUP_LEN);
        for (size_t j = 0; j < i; j++)
            assert_memory_not_equal(cap.ev[i].key, cap.ev[j].key, FEED_DEDUP_LEN);
    }
    assert_int_equal(cap_parse(&feed_ops_csv, "other.csv", generic_ok, 0, &opts, &cap2), 0);
    assert_memory_not_equal(cap.ev[0].key, cap2.ev[0].key, FEED_DEDUP_LEN);
    /* The key is SHA-256 of ("csv", name, line), each with its NUL. */
    uint8_t k[FEED_DEDUP_LEN];
    const char *line = "192.0.2.1,abuse,,2025-06-01T10:00:00Z,complaint";
    const void *parts[3] = {"csv", "in.txt", line};
    size_t lens[3] = {4, 7, strlen(line) + 1};
    feed_dedup_key(k, parts, lens, 3);
    assert_memory_equal(k, cap.ev[0].key, FEED_DEDUP_LEN);

    /* --source names the feed. */
    struct feed_options o = opts;
    o.source = "ops-team";
    assert_int_equal(cap_parse(&feed_ops_csv, "in.txt", generic_ok, 0, &o, &cap2), 0);
    assert_string_equal(cap2.ev[0].source, "ops-team");
}

static void test_generic_header_variants(void **state)
{
    (void)state;
    /* Reordered, extra column, upper case. */
    assert_int_equal(run(&feed_ops_csv,
                         "Kind,Reason,Address_or_Prefix,Time,Extra\n"
                         "trap,hit,192.0.2.9,1748772000,zzz\n",
                         &cap),
                     0);
    assert_int_equal(cap.nrej, 0);
    assert_int_equal(cap.nwarn, 1);
    assert_non_null(strstr(cap.warn[0].why, "unknown column 'Extra'"));
    assert_int_equal(cap.nev, 1);
    assert_string_equal(cap.ev[0].prefix, "192.0.2.9");
    assert_int_equal(cap.ev[0].ev.kind, EV_TRAP_HIT);
    assert_float_equal(cap.ev[0].ev.weight, 1, 0);
    assert_string_equal(cap.ev[0].reason, "hit");

    /* No header: the documented order, with a warning; line 1 is a row. */
    assert_int_equal(run(&feed_ops_csv, "192.0.2.1,abuse,2,1748772000,r\n", &cap), 0);
    assert_int_equal(cap.nwarn, 1);
    assert_int_equal(cap.warn[0].line, 1);
    assert_int_equal(cap.nev, 1);
    assert_float_equal(cap.ev[0].ev.weight, 2, 0);

    /* A BOM before the header is fine. */
    assert_int_equal(run(&feed_ops_csv,
                         "\xef\xbb\xbf"
                         "address_or_prefix,kind,weight,time,reason\n192.0.2.1,abuse,,1,\n",
                         &cap),
                     0);
    assert_int_equal(cap.nwarn, 0);
    assert_int_equal(cap.nev, 1);
}

static void test_generic_rejects(void **state)
{
    (void)state;
    assert_int_equal(run(&feed_ops_csv,
                         "address_or_prefix,kind,weight,time,reason\n" /* 1 */
                         "300.1.2.3,abuse,1,1748772000,\n"             /* 2 */
                         "192.0.2.7/24,abuse,1,1748772000,\n"          /* 3 */
                         "192.0.2.1,spam,1,1748772000,\n"              /* 4 */
                         "192.0.2.1,,1,1748772000,\n"                  /* 5 */
                         "192.0.2.1,abuse,-1,1748772000,\n"            /* 6 */
                         "192.0.2.1,abuse,lots,1748772000,\n"          /* 7 */
                         "192.0.2.1,abuse,1,,\n"                       /* 8 */
                         "192.0.2.1,volume,1,yesterday,\n"             /* 9 */
                         ",abuse,1,1748772000,\n"                      /* 10 */
                         "192.0.2.1,spamtrap,1,1748772000,\n"          /* 11 */
                         "192.0.2.1,abuse,1,2025-02-30T00:00:00Z,\n"   /* 12 */
                         "192.0.2.1,abuse,1,1748772000,fine\n",        /* 13 */
                         &cap),
                     0);
    assert_int_equal(cap.nrej, 11);
    want_reject(&cap, 0, 2, "'300.1.2.3' is not an IPv4/IPv6 address or prefix");
    want_reject(&cap, 1, 3, "'192.0.2.7/24' has host bits set; did you mean 192.0.2.0/24?");
    want_reject(&cap, 2, 4, "unknown kind 'spam'");
    want_reject(&cap, 3, 5, "no kind");
    want_reject(&cap, 4, 6, "weight '-1' is not a number");
    want_reject(&cap, 5, 7, "weight 'lots' is not a number");
    want_reject(&cap, 6, 8, "no time");
    want_reject(&cap, 7, 9, "time 'yesterday' is not RFC 3339 or unix seconds");
    want_reject(&cap, 8, 10, "no address_or_prefix");
    want_reject(&cap, 9, 11, "unknown kind 'spamtrap'");
    want_reject(&cap, 10, 12, "time '2025-02-30T00:00:00Z'");
    assert_string_equal(cap.rej[0].raw, "300.1.2.3,abuse,1,1748772000,");
    assert_int_equal(cap.nev, 1);
    assert_int_equal(cap.records, 12);

    /* The state columns export --format csv writes: bad values reject. */
    assert_int_equal(run(&feed_ops_csv,
                         "address_or_prefix,kind,weight,time,reason,code,expires,ttl,txt,dataset\n"
                         "192.0.2.1,list,1,1748772000,,127.0.0.1,,,,\n"
                         "192.0.2.2,allow,1,1748772000,,,soon,,,\n"
                         "192.0.2.3,import_list,1,1748772000,,,,1.5,,\n"
                         "192.0.2.4,import_list,1,1748772000,r,127.0.0.9,,60,\"a, $\",ds\n",
                         &cap),
                     0);
    assert_int_equal(cap.nrej, 3);
    want_reject(&cap, 0, 2, "code '127.0.0.1'");
    want_reject(&cap, 1, 3, "expires 'soon'");
    want_reject(&cap, 2, 4, "ttl '1.5'");
    assert_int_equal(cap.nev, 1);
    assert_int_equal(cap.ev[0].ev.kind, EV_IMPORT_LIST);
    assert_int_equal(cap.ev[0].ev.code, 0x7f000009);
    assert_int_equal(cap.ev[0].ev.ttl, 60);
}

/* The columns after the state ones that export --format csv writes:
 * source, by, action (oplog rows, "state"), auth, snds. */
static void test_generic_export_columns(void **state)
{
    (void)state;
    assert_int_equal(
        run(&feed_ops_csv,
            "address_or_prefix,kind,weight,time,reason,code,expires,ttl,txt,dataset,source,by,"
            "action,auth,snds\n"
            "192.0.2.1,abuse,3,1748772000,,,,,,,arf,,,spf+DMARC,\n"                /* 2 */
            "192.0.2.1,list,1,1748772000,r,,,,,,,,state,,\n"                       /* 3 */
            "192.0.2.1,oplog,1,1748772000,why,127.0.0.3,,,,drop,,alice,remove,,\n" /* 4 */
            "192.0.2.1,snds,1,1748772000,,,,,,,snds,,,,red <0.1 5 4 3 2 100 200\n" /* 5 */
            "192.0.2.1,snds_status,1,1748772000,,,,,,,,,,,blocked\n"               /* 6 */
            "192.0.2.1,oplog,1,1748772000,,,,,,,,,erase,,\n"                       /* 7 */
            "192.0.2.1,oplog,1,,,,,,,,,,list,,\n"                                  /* 8 */
            "192.0.2.1,abuse,1,1748772000,,,,,,,,,state,,\n"                       /* 9 */
            "192.0.2.1,other,1,1748772000,,,,,,,,,,spf,\n"                         /* 10 */
            "192.0.2.1,abuse,1,1748772000,,,,,,,,,,arc,\n"                         /* 11 */
            "192.0.2.1,snds,1,1748772000,,,,,,,,,,,blue - 1 1 1 1 0 0\n"           /* 12 */
            "192.0.2.1,snds_status,1,1748772000,,,,,,,,,,,\n"                      /* 13 */
            "192.0.2.1,volume,1,1748772000,,,,,,,,,,,junked\n",                    /* 14 */
            &cap),
        0);
    assert_int_equal(cap.nev, 5);
    assert_int_equal(cap.ev[0].ev.kind, EV_ABUSE);
    assert_int_equal(cap.ev[0].ev.auth_failed, AUTH_FAIL_SPF | AUTH_FAIL_DMARC);
    assert_string_equal(cap.ev[0].source, "arf");
    assert_int_equal(cap.ev[1].ev.kind, EV_LIST);
    assert_true(cap.ev[1].ev.no_oplog);
    assert_false(cap.ev[1].has_key);
    assert_string_equal(cap.ev[1].source, "csv");
    assert_int_equal(cap.ev[2].ev.kind, EV_OPLOG);
    assert_int_equal(cap.ev[2].ev.oplog_action, OPLOG_REMOVE);
    assert_int_equal(cap.ev[2].ev.code, 0x7f000003);
    assert_true(cap.ev[2].has_key); /* once per row, whatever the file */
    assert_int_equal(cap.ev[3].ev.kind, EV_SNDS);
    assert_true(cap.ev[3].has_snds);
    assert_int_equal(cap.ev[3].snds.colour, SNDS_RED);
    assert_int_equal(cap.ev[3].snds.rate_qual, '<');
    assert_float_equal(cap.ev[3].snds.rate_pct, 0.1, 1e-6);
    assert_int_equal(cap.ev[3].snds.rcpt, 5);
    assert_int_equal(cap.ev[3].snds.recipients, 3);
    assert_int_equal(cap.ev[3].snds.trap_hits, 2);
    assert_int_equal(cap.ev[3].snds.start, 100);
    assert_int_equal(cap.ev[3].snds.end, 200);
    assert_int_equal(cap.ev[4].ev.kind, EV_SNDS_STATUS);
    assert_true(cap.ev[4].ev.snds_blocked);
    assert_int_equal(cap.nrej, 8);
    want_reject(&cap, 0, 7, "an oplog row needs the action");
    want_reject(&cap, 1, 8, "no time");
    want_reject(&cap, 2, 9, "action 'state' is for oplog rows");
    want_reject(&cap, 3, 10, "auth 'spf' is for abuse, fraud and virus rows");
    want_reject(&cap, 4, 11, "auth 'arc' is not spf, dkim and dmarc");
    want_reject(&cap, 5, 12, "snds 'blue - 1 1 1 1 0 0' is not COLOUR");
    want_reject(&cap, 6, 13, "snds '' of an snds_status row is not blocked or junked");
    want_reject(&cap, 7, 14, "snds 'junked' is for snds and snds_status rows");

    /* The same oplog row in another file is the same record. */
    assert_int_equal(
        cap_parse(&feed_ops_csv, "other.csv",
                  "address_or_prefix,kind,weight,time,reason,code,expires,ttl,txt,"
                  "dataset,source,by,action,auth,snds\n"
                  "192.0.2.1,oplog,1,1748772000,why,127.0.0.3,,,,drop,,alice,remove,,\n",
                  0, &opts, &cap2),
        0);
    assert_int_equal(cap2.nev, 1);
    assert_memory_equal(cap2.ev[0].key, cap.ev[2].key, FEED_DEDUP_LEN);
}

/* ---- spam-trap CSV ---- */

static void test_traps(void **state)
{
    (void)state;
    const char *text = "timestamp,ip,helo,mail_from,rcpt_to\n"
                       "2025-06-01T10:00:00Z,192.0.2.5,h1,a@example.com,trap1@example.org\n"
                       "1748772000,192.0.2.5,other-helo,b@example.com,trap1@example.org\n"
                       "1748772000,192.0.2.5,h1,a@example.com,trap2@example.org\n"
                       "1748772001,2001:db8::5,h1,a@example.com,trap2@example.org\n"
                       "1748772000,192.0.2.0/24,h,f,t\n"
                       "1748772000,192.0.2.300,h,f,t\n"
                       ",192.0.2.5,h,f,t\n"
                       "June 1st,192.0.2.5,h,f,t\n"
                       "1748772000,,h,f,t\n";
    assert_int_equal(run(&feed_ops_traps, text, &cap), 0);
    assert_int_equal(cap.nev, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(cap.ev[i].ev.kind, EV_TRAP_HIT);
        assert_float_equal(cap.ev[i].ev.weight, 1, 0);
        assert_true(cap.ev[i].has_key);
        assert_string_equal(cap.ev[i].source, "traps");
    }
    assert_string_equal(cap.ev[0].prefix, "192.0.2.5");
    assert_int_equal(cap.ev[0].ev.time, at("2025-06-01T10:00:00Z"));
    assert_string_equal(cap.ev[3].prefix, "2001:db8::5");
    /* (ip, timestamp, rcpt_to): rows 1 and 2 are the same hit written two
     * ways; row 3 went to another trap. */
    assert_memory_equal(cap.ev[0].key, cap.ev[1].key, FEED_DEDUP_LEN);
    assert_memory_not_equal(cap.ev[0].key, cap.ev[2].key, FEED_DEDUP_LEN);
    assert_memory_not_equal(cap.ev[2].key, cap.ev[3].key, FEED_DEDUP_LEN);

    assert_int_equal(cap.nrej, 5);
    want_reject(&cap, 0, 6, "'192.0.2.0/24' is a prefix; a trap hit comes from one address");
    want_reject(&cap, 1, 7, "'192.0.2.300' is not an IPv4/IPv6 address or prefix");
    want_reject(&cap, 2, 8, "no timestamp");
    want_reject(&cap, 3, 9, "timestamp 'June 1st' is not RFC 3339 or unix seconds");
    want_reject(&cap, 4, 10, "no ip");

    /* Columns by name, in any order; no header means the documented order. */
    assert_int_equal(run(&feed_ops_traps, "rcpt_to,ip,timestamp\nt@x,192.0.2.8,1748772000\n", &cap),
                     0);
    assert_int_equal(cap.nrej, 0);
    assert_string_equal(cap.ev[0].prefix, "192.0.2.8");
    assert_int_equal(run(&feed_ops_traps, "1748772000,192.0.2.8,h,f,t@x\n", &cap), 0);
    assert_int_equal(cap.nrej, 0);
    assert_int_equal(cap.nwarn, 1);
    assert_string_equal(cap.ev[0].prefix, "192.0.2.8");
    assert_int_equal(cap.ev[0].ev.time, 1748772000);
    /* Same hit as from the header form: same key. */
    assert_int_equal(run(&feed_ops_traps,
                         "timestamp,ip,helo,mail_from,rcpt_to\n"
                         "2025-06-01T10:00:00Z,192.0.2.8,,,t@x\n",
                         &cap2),
                     0);
    assert_memory_equal(cap.ev[0].key, cap2.ev[0].key, FEED_DEDUP_LEN);
}

/* ---- detection ---- */

/* One fail2ban ban line, for the detectors and the stop test (the parser's
 * own tests are in test_feed_list.c). */
static const char *f2b_log = "2025-06-01 10:20:31,456 fail2ban.actions        [1234]: NOTICE  "
                             "[postfix-sasl] Ban 203.0.113.9\n";

static void test_detect(void **state)
{
    (void)state;
    const char *generic = "address_or_prefix,kind,weight,time,reason\n192.0.2.1,abuse,1,1,\n";
    const char *traps = "timestamp,ip,helo,mail_from,rcpt_to\n1,192.0.2.1,h,f,t\n";
    const char *list = "; DROP\n192.0.2.0/24 ; SBL1\n198.51.100.7\n2001:db8::/32\n";
    const char *json = "{\"cidr\":\"192.0.2.0/24\",\"sblid\":\"SBL1\"}\n";
    const char *rbl = "$SOA 3600 ns1 hm 1 2 3 4 5\n192.0.2.0/24\n:127.0.0.2:listed\n";
    const char *rbl2 = "192.0.2.0/24 :2:Listed\n198.51.100.0/24 :3:x\n";
    const char *snds = "192.0.2.64,192.0.2.71,Yes,Blocked\r\n";

    assert_int_equal(detect(&feed_ops_csv, generic), 95);
    assert_int_equal(detect(&feed_ops_traps, traps), 95);
    assert_int_equal(detect(&feed_ops_fail2ban, f2b_log), 95);
    assert_true(detect(&feed_ops_list, list) >= 50);
    assert_true(detect(&feed_ops_list, json) >= 50);

    const char *all[] = {generic, traps, list, json, rbl, rbl2, snds, f2b_log, "", "\xff\xfe"};
    const struct feed_ops *ops[] = {&feed_ops_csv, &feed_ops_traps, &feed_ops_list,
                                    &feed_ops_fail2ban};
    /* Each detector claims only its own format. */
    for (size_t o = 0; o < 4; o++)
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
            int got = detect(ops[o], all[i]);
            bool mine = (o == 0 && i == 0) || (o == 1 && i == 1) ||
                        (o == 2 && (i == 2 || i == 3)) || (o == 3 && i == 7);
            if (mine ? got < 50 : got != 0)
                fail_msg("%s on input %zu: %d", ops[o]->name, i, got);
        }
}

static void test_lines_and_bytes(void **state)
{
    (void)state;
    /* A NUL byte inside a line, CRLF, and no final newline. */
    static const char data[] = "192.0.2.1\0junk\n198.51.100.1\r\n203.0.113.1";
    struct feed_options o = opts;
    assert_int_equal(cap_parse(&feed_ops_list, "bin", data, sizeof data - 1, &o, &cap), 0);
    assert_int_equal(cap.nev, 3);
    assert_string_equal(cap.ev[2].prefix, "203.0.113.1");
    assert_int_equal(cap.last_bytes, sizeof data - 1);
    /* Stopping: the sink's non-zero answer is the parser's. */
    memset(&cap, 0, sizeof cap);
    cap.stop_at = 1;
    struct feed_sink sink = {.event = cap_event_cb, .arg = &cap};
    struct feed_input in = {
        .name = "x", .data = (const uint8_t *)generic_ok, .len = strlen(generic_ok)};
    assert_int_equal(feed_ops_csv.parse(&in, &opts, &sink), 7);
    in.data = (const uint8_t *)f2b_log;
    in.len = strlen(f2b_log);
    cap.nev = 0;
    assert_int_equal(feed_ops_fail2ban.parse(&in, &opts, &sink), 7);
    in.data = (const uint8_t *)"192.0.2.1\n192.0.2.2\n";
    in.len = 20;
    cap.nev = 0;
    assert_int_equal(feed_ops_list.parse(&in, &opts, &sink), 7);
    assert_int_equal(cap.nev, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generic_rows),    cmocka_unit_test(test_generic_header_variants),
        cmocka_unit_test(test_generic_rejects), cmocka_unit_test(test_generic_export_columns),
        cmocka_unit_test(test_traps),           cmocka_unit_test(test_detect),
        cmocka_unit_test(test_lines_and_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
