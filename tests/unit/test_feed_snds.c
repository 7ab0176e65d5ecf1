/* Unit tests for the SNDS parser: both fixture exports checked against the
 * tables of fixtures/README.md, then header, BOM, quoting, column-count
 * and tolerance variants built in memory, every reject path, range
 * splitting, dedup key stability and detection. */
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
#include "test_paths.h"
#include "timeutil.h"

static struct capture cap, cap2;

static int64_t at(const char *rfc3339)
{
    int64_t t = 0;
    assert_int_equal(time_parse_rfc3339(rfc3339, &t), 0);
    return t;
}

static const struct feed_options opts = {
    .source = "snds", .file_mtime = 1700000000, .now = 1760000000};

static char *load(const char *rel, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", test_fixtures_dir(), rel);
    char *data = cap_slurp(path, len);
    if (!data)
        fail_msg("cannot read %s", path);
    return data;
}

static int parse_text(const char *text, struct capture *c)
{
    return cap_parse(&feed_ops_snds, "mem.csv", text, 0, &opts, c);
}

struct snds_expect {
    long line;
    const char *ip;
    uint8_t colour;
    uint32_t traps;
    char qual;
    float pct;
    uint32_t recipients;
    uint32_t complaints; /* rate x recipients, rounded; none for "<" (3.5) */
};

/* fixtures/README.md, snds/ table (recipients from the file's column 6). */
static const struct snds_expect data_table[] = {
    {1, "192.0.2.10", SNDS_GREEN, 0, '<', 0.1f, 18391, 0},
    {2, "192.0.2.11", SNDS_GREEN, 0, '<', 0.1f, 7302, 0},
    {3, "192.0.2.12", SNDS_YELLOW, 1, '=', 0.3f, 22811, 68},
    {4, "192.0.2.13", SNDS_GREEN, 0, '<', 0.1f, 638, 0},
    {5, "198.51.100.20", SNDS_RED, 37, '=', 2.6f, 33419, 869},
    {6, "198.51.100.21", SNDS_YELLOW, 4, '=', 0.6f, 6571, 39},
    {7, "198.51.100.22", SNDS_RED, 112, '=', 8.9f, 58820, 5235},
    {8, "203.0.113.5", SNDS_RED, 0, '=', 1.2f, 1487, 18},
    {10, "203.0.113.9", SNDS_GREEN, 0, 0, 0.0f, 905, 0},
    {11, "203.0.113.10", SNDS_YELLOW, 0, '<', 0.1f, 2466, 0},
};

static void test_fixture_data(void **state)
{
    (void)state;
    size_t len;
    char *data = load("snds/snds-data-2025-06-01.csv", &len);
    assert_int_equal(cap_parse(&feed_ops_snds, "snds-data-2025-06-01.csv", data, len, &opts, &cap),
                     0);

    /* 10 accepted, lines 9 and 12 rejected, nothing else to say. */
    assert_int_equal(cap.nrej, 2);
    assert_int_equal(cap.rej[0].line, 9);
    assert_non_null(strstr(cap.rej[0].why, "range"));
    assert_string_equal(cap.rej[0].file, "snds-data-2025-06-01.csv");
    assert_non_null(strstr(cap.rej[0].raw, "203.0.113.64-203.0.113.71"));
    assert_int_equal(cap.rej[1].line, 12);
    assert_non_null(strstr(cap.rej[1].why, "'192.0.2.300' is not an IPv4/IPv6 address or prefix"));
    assert_int_equal(cap.nwarn, 0);
    assert_int_equal(cap.records, 12);
    assert_int_equal(cap.last_bytes, len);

    size_t n = sizeof data_table / sizeof data_table[0];
    assert_int_equal(cap_count(&cap, EV_SNDS), n);
    assert_int_equal(cap_count(&cap, EV_VOLUME), n);
    assert_int_equal(cap_count(&cap, EV_TRAP_HIT), 4);
    assert_int_equal(cap_count(&cap, EV_ABUSE), 5);
    assert_int_equal(cap.nev, 2 * n + 4 + 5);

    int64_t day = at("2025-06-01T00:00:00Z");
    size_t traps = 0, complaints = 0;
    for (size_t i = 0; i < n; i++) {
        const struct snds_expect *x = &data_table[i];
        const struct cap_event *e = cap_nth(&cap, EV_SNDS, i);
        assert_non_null(e);
        assert_string_equal(e->prefix, x->ip);
        assert_true(e->has_snds);
        assert_int_equal(e->snds.colour, x->colour);
        assert_int_equal(e->snds.trap_hits, x->traps);
        assert_int_equal(e->snds.rate_qual, x->qual);
        assert_float_equal(e->snds.rate_pct, x->pct, 1e-4);
        assert_int_equal(e->snds.recipients, x->recipients);
        assert_string_equal(e->source, "snds");
        assert_true(e->has_key);
        /* Dates are M/D/YYYY h:mm AM/PM, read as UTC. */
        int64_t start = x->line == 4 ? day + 6 * 3600 : day;
        int64_t end = x->line == 4 ? day + 21 * 3600 : day + 23 * 3600 + 59 * 60;
        assert_int_equal(e->snds.start, start);
        assert_int_equal(e->snds.end, end);
        assert_int_equal(e->ev.time, start);

        const struct cap_event *v = cap_nth(&cap, EV_VOLUME, i);
        assert_string_equal(v->prefix, x->ip);
        assert_float_equal(v->ev.weight, x->recipients, 0);
        assert_int_equal(v->ev.time, start);
        assert_true(v->has_key);

        if (x->traps) {
            const struct cap_event *t = cap_nth(&cap, EV_TRAP_HIT, traps++);
            assert_string_equal(t->prefix, x->ip);
            assert_float_equal(t->ev.weight, x->traps, 0);
        }
        /* The complaint rate times the volume, on the row's activity day. */
        if (x->complaints) {
            const struct cap_event *c = cap_nth(&cap, EV_ABUSE, complaints++);
            assert_string_equal(c->prefix, x->ip);
            assert_float_equal(c->ev.weight, x->complaints, 0);
            assert_int_equal(c->ev.time, start);
            assert_true(c->has_key);
        }
    }
    /* The RCPT and DATA columns of line 7 */
    const struct cap_event *e7 = cap_nth(&cap, EV_SNDS, 6);
    assert_int_equal(e7->snds.rcpt, 98765);
    assert_int_equal(e7->snds.data, 97310);
    /* Trap hits are dated from the trap period start: line 3, 3:12 PM. */
    assert_int_equal(cap_nth(&cap, EV_TRAP_HIT, 0)->ev.time, day + 15 * 3600 + 12 * 60);
    assert_int_equal(cap_nth(&cap, EV_TRAP_HIT, 1)->ev.time, day + 3600 + 5 * 60);

    /* Nothing about .64-.71 from the rejected range row. */
    for (size_t i = 0; i < cap.nev; i++)
        assert_null(strstr(cap.ev[i].prefix, "203.0.113.6"));

    /* Keys: stable across runs, distinct per event. */
    assert_int_equal(cap_parse(&feed_ops_snds, "other-name.csv", data, len, &opts, &cap2), 0);
    assert_int_equal(cap2.nev, cap.nev);
    for (size_t i = 0; i < cap.nev; i++) {
        assert_memory_equal(cap.ev[i].key, cap2.ev[i].key, FEED_DEDUP_LEN);
        for (size_t j = 0; j < i; j++)
            assert_memory_not_equal(cap.ev[i].key, cap.ev[j].key, FEED_DEDUP_LEN);
    }
    free(data);
}

/* Which of 0..255 in a.b.c.0/24 the status events cover, and how. */
static void coverage(const struct capture *c, const char *net24, int blocked[256])
{
    for (int i = 0; i < 256; i++)
        blocked[i] = -1;
    for (size_t k = 0; k < c->nev; k++) {
        const struct cap_event *e = &c->ev[k];
        assert_int_equal(e->ev.kind, EV_SNDS_STATUS);
        for (int i = 0; i < 256; i++) {
            char txt[32];
            struct addr_prefix a;
            snprintf(txt, sizeof txt, "%s.%d", net24, i);
            assert_int_equal(addr_parse(txt, &a, NULL, 0), 0);
            if (addr_covers(&e->ev.prefix, &a)) {
                assert_int_equal(blocked[i], -1); /* no overlap between prefixes */
                blocked[i] = e->ev.snds_blocked;
            }
        }
    }
}

static void test_fixture_status(void **state)
{
    (void)state;
    size_t len;
    char *data = load("snds/snds-ipstatus.csv", &len);
    assert_int_equal(cap_parse(&feed_ops_snds, "snds-ipstatus.csv", data, len, &opts, &cap), 0);
    free(data);
    assert_int_equal(cap.nrej, 0);
    assert_int_equal(cap.nwarn, 0);
    assert_int_equal(cap.records, 3);
    /* Minimal prefixes: .64/29, one /32, .200/30. */
    assert_int_equal(cap.nev, 3);
    assert_string_equal(cap.ev[0].prefix, "192.0.2.64/29");
    assert_true(cap.ev[0].ev.snds_blocked);
    assert_string_equal(cap.ev[0].reason,
                        "Blocked due to user complaints or other evidence of spamming");
    assert_string_equal(cap.ev[1].prefix, "198.51.100.128");
    assert_false(cap.ev[1].ev.snds_blocked);
    assert_string_equal(cap.ev[1].reason,
                        "Junked due to user complaints or other evidence of spamming");
    assert_string_equal(cap.ev[2].prefix, "203.0.113.200/30");
    assert_true(cap.ev[2].ev.snds_blocked);
    for (size_t i = 0; i < cap.nev; i++) {
        assert_int_equal(cap.ev[i].ev.time, opts.file_mtime);
        assert_false(cap.ev[i].has_key);
    }

    int cov[256];
    struct capture *one = &cap2;
    memset(one, 0, sizeof *one);
    one->ev[0] = cap.ev[0];
    one->nev = 1;
    coverage(one, "192.0.2", cov);
    for (int i = 0; i < 256; i++)
        assert_int_equal(cov[i], i >= 64 && i <= 71 ? 1 : -1);
    one->ev[0] = cap.ev[2];
    coverage(one, "203.0.113", cov);
    for (int i = 0; i < 256; i++)
        assert_int_equal(cov[i], i >= 200 && i <= 203 ? 1 : -1);
}

static void test_status_split(void **state)
{
    (void)state;
    /* Unaligned: .63 .. .72 is 63/32, 64/29, 72/32. True/False spelling. */
    assert_int_equal(parse_text("192.0.2.63,192.0.2.72,True,x\n"
                                "198.51.100.1,198.51.100.254,false,junk\n"
                                "203.0.113.0,203.0.113.255,YES,whole\n",
                                &cap),
                     0);
    assert_int_equal(cap.nrej, 0);
    assert_string_equal(cap.ev[0].prefix, "192.0.2.63");
    assert_string_equal(cap.ev[1].prefix, "192.0.2.64/29");
    assert_string_equal(cap.ev[2].prefix, "192.0.2.72");
    int cov[256];
    memset(&cap2, 0, sizeof cap2);
    for (size_t i = 0; i < cap.nev; i++)
        if (strncmp(cap.ev[i].prefix, "198.51.100.", 11) == 0) {
            assert_false(cap.ev[i].ev.snds_blocked);
            cap2.ev[cap2.nev++] = cap.ev[i];
        }
    /* 1..254: 1/32 2/31 4/30 8/29 16/28 32/27 64/26 128/26 192/27 224/28
     * 240/29 248/30 252/31 254/32 */
    assert_int_equal(cap2.nev, 14);
    coverage(&cap2, "198.51.100", cov);
    for (int i = 0; i < 256; i++)
        assert_int_equal(cov[i], i >= 1 && i <= 254 ? 0 : -1);
    const struct cap_event *last = &cap.ev[cap.nev - 1];
    assert_string_equal(last->prefix, "203.0.113.0/24");
    assert_true(last->ev.snds_blocked);
    assert_string_equal(last->reason, "whole");

    /* The whole IPv4 space in one row is one /0. */
    assert_int_equal(parse_text("0.0.0.0,255.255.255.255,Yes,all\n", &cap), 0);
    assert_int_equal(cap.nev, 1);
    assert_string_equal(cap.ev[0].prefix, "0.0.0.0/0");
}

static void test_status_rejects(void **state)
{
    (void)state;
    assert_int_equal(parse_text("192.0.2.64,192.0.2.71,Yes,ok\r\n"
                                "192.0.2.71,192.0.2.64,Yes,backwards\r\n"
                                "192.0.2.1,192.0.2.300,Yes,bad\r\n"
                                "192.0.2.0/24,192.0.2.9,Yes,cidr\r\n"
                                "192.0.2.9,192.0.2.9\r\n"
                                "192.0.2.9,192.0.2.9,Maybe,odd\r\n"
                                "192.0.2.10,192.0.2.10,No,reason, with, commas\r\n",
                                &cap),
                     0);
    assert_int_equal(cap.nrej, 4);
    assert_int_equal(cap.rej[0].line, 2);
    assert_string_equal(cap.rej[0].why, "range 192.0.2.71-192.0.2.64 ends before it starts");
    assert_int_equal(cap.rej[1].line, 3);
    assert_non_null(strstr(cap.rej[1].why, "'192.0.2.300' is not an IPv4/IPv6"));
    assert_int_equal(cap.rej[2].line, 4);
    assert_non_null(strstr(cap.rej[2].why, "prefix"));
    assert_int_equal(cap.rej[3].line, 5);
    assert_non_null(strstr(cap.rej[3].why, "4 fields"));
    /* "Maybe" is junked, with a warning. */
    assert_int_equal(cap.nwarn, 1);
    assert_int_equal(cap.warn[0].line, 6);
    assert_int_equal(cap.nev, 3);
    assert_false(cap.ev[1].ev.snds_blocked);
    assert_string_equal(cap.ev[2].reason, "reason,with,commas");
}

static const char *full_header =
    "IP Address,Activity_Start,Activity-End,RCPT  Commands,DATA Commands,Message Recipients,"
    "Filter Result,Complaint Rate,Trap Message Start,Trap Message End,Trap Hits,Sample HELO,"
    "JMR P1 Sender,Comments\r\n";

static void test_header_bom_quotes(void **state)
{
    (void)state;
    char text[2048];
    snprintf(text, sizeof text,
             "\xef\xbb\xbf%s"
             "\"192.0.2.10\",\"6/1/2025 12:00 AM\",\"6/1/2025 11:59 PM\",\"1,200\",\"1,100\","
             "\"1,000\",\"RED\",\"< 0.1%%\",\"6/1/2025 3:00 PM\",,\"3\",\"mta, \"\"one\"\"\",,"
             "\"note, with comma\"\r\n"
             "192.0.2.11,6/1/2025 12:00 AM,6/1/2025 11:59 PM,5,5,5,green,,,,,,,\r\n",
             full_header);
    assert_int_equal(parse_text(text, &cap), 0);
    assert_int_equal(cap.nrej, 0);
    assert_int_equal(cap.nwarn, 0);
    assert_int_equal(cap.records, 2); /* the header is not a record */
    const struct cap_event *e = cap_nth(&cap, EV_SNDS, 0);
    assert_string_equal(e->prefix, "192.0.2.10");
    assert_int_equal(e->snds.colour, SNDS_RED);
    assert_int_equal(e->snds.rcpt, 1200);
    assert_int_equal(e->snds.data, 1100);
    assert_int_equal(e->snds.recipients, 1000);
    assert_int_equal(e->snds.trap_hits, 3);
    assert_int_equal(e->snds.rate_qual, '<');
    assert_int_equal(cap_nth(&cap, EV_TRAP_HIT, 0)->ev.time, at("2025-06-01T15:00:00Z"));
    e = cap_nth(&cap, EV_SNDS, 1);
    assert_string_equal(e->prefix, "192.0.2.11");
    assert_int_equal(e->snds.colour, SNDS_GREEN);
    assert_int_equal(e->snds.rate_qual, 0);

    /* Reordered and partial columns, found by name. */
    assert_int_equal(parse_text("filter result,message recipients,ip\n"
                                "Yellow,42,198.51.100.7\n",
                                &cap),
                     0);
    assert_int_equal(cap.nrej, 0);
    e = cap_nth(&cap, EV_SNDS, 0);
    assert_string_equal(e->prefix, "198.51.100.7");
    assert_int_equal(e->snds.colour, SNDS_YELLOW);
    assert_int_equal(e->snds.recipients, 42);
    /* No activity start: the row is dated by the file. */
    assert_int_equal(e->ev.time, opts.file_mtime);
    assert_int_equal(e->snds.start, 0);
}

static void test_column_variants(void **state)
{
    (void)state;
    /* 11 columns: the 14-column order without HELO, P1 sender, comments. */
    assert_int_equal(parse_text("192.0.2.10,6/1/2025 12:00 AM,6/1/2025 11:59 PM,100,100,90,red,"
                                "0.4%,,,2\n",
                                &cap),
                     0);
    assert_int_equal(cap.nrej, 0);
    const struct cap_event *e = cap_nth(&cap, EV_SNDS, 0);
    assert_int_equal(e->snds.colour, SNDS_RED);
    assert_int_equal(e->snds.rate_qual, '=');
    assert_float_equal(e->snds.rate_pct, 0.4, 1e-6);
    assert_int_equal(e->snds.trap_hits, 2);
    assert_int_equal(e->snds.recipients, 90);

    /* The merged-period portal export, with its header (3.1). */
    assert_int_equal(parse_text("IP Address,Activity period,RCPT commands,DATA commands,"
                                "Message recipients,Filter result,Complaint rate,"
                                "Trap message period,Trap hits,Sample HELO,JMR P1 Sender,"
                                "Comments\n"
                                "192.0.2.20,6/2/2025 1:30 PM,10,10,9,GREEN,< 0.1%,,0,h,,\n",
                                &cap),
                     0);
    assert_int_equal(cap.nrej, 0);
    e = cap_nth(&cap, EV_SNDS, 0);
    assert_int_equal(e->snds.start, at("2025-06-02T13:30:00Z"));
    assert_int_equal(e->snds.end, 0);
    assert_int_equal(e->snds.recipients, 9);

    /* ... and headerless: the colour one column early gives it away. */
    assert_int_equal(parse_text("192.0.2.21,6/2/2025 12:00 PM,10,10,8,Red,1.5%,"
                                "6/2/2025 12:30 PM,5,h,p,c\n",
                                &cap),
                     0);
    assert_int_equal(cap.nrej, 0);
    e = cap_nth(&cap, EV_SNDS, 0);
    assert_int_equal(e->snds.colour, SNDS_RED);
    assert_int_equal(e->snds.start, at("2025-06-02T12:00:00Z"));
    assert_int_equal(e->snds.recipients, 8);
    assert_int_equal(e->snds.trap_hits, 5);
    assert_int_equal(cap_nth(&cap, EV_TRAP_HIT, 0)->ev.time, at("2025-06-02T12:30:00Z"));
}

static void test_rates_and_tolerance(void **state)
{
    (void)state;
    static const struct {
        const char *cell;
        char qual;
        float pct;
        bool warn;
    } rates[] = {
        {"< 0.1%", '<', 0.1f, false}, {"<0.1%", '<', 0.1f, false}, {"0.4%", '=', 0.4f, false},
        {"12.5%", '=', 12.5f, false}, {">5%", '>', 5.0f, false},   {"1-2%", '<', 2.0f, false},
        {"1%-2%", '<', 2.0f, false},  {"N/A", 0, 0.0f, false},     {"", 0, 0.0f, false},
        {"lots", 0, 0.0f, true},      {"150%", 0, 0.0f, true},
    };
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        char text[256];
        snprintf(text, sizeof text,
                 "192.0.2.1,6/1/2025 12:00 AM,6/1/2025 11:59 PM,1,1,1,GREEN,%s,,,0\n",
                 rates[i].cell);
        assert_int_equal(parse_text(text, &cap), 0);
        assert_int_equal(cap.nrej, 0);
        assert_int_equal(cap.nwarn, rates[i].warn ? 1 : 0);
        const struct cap_event *e = cap_nth(&cap, EV_SNDS, 0);
        assert_int_equal(e->snds.rate_qual, rates[i].qual);
        assert_float_equal(e->snds.rate_pct, rates[i].pct, 1e-5);
    }

    /* Tolerant fields: 0 / unknown with a warning, the row still counts. */
    assert_int_equal(parse_text("192.0.2.1,13/45/2025 12:00 AM,6/1/2025 25:00 PM,many,,-3,GREEN,"
                                "< 0.1%,yesterday,,x\n",
                                &cap),
                     0);
    assert_int_equal(cap.nrej, 0);
    assert_int_equal(cap.nwarn, 7);
    for (size_t i = 0; i < cap.nwarn; i++)
        assert_int_equal(cap.warn[i].line, 1);
    const struct cap_event *e = cap_nth(&cap, EV_SNDS, 0);
    assert_int_equal(e->snds.start, 0);
    assert_int_equal(e->snds.end, 0);
    assert_int_equal(e->snds.rcpt, 0);
    assert_int_equal(e->snds.recipients, 0);
    assert_int_equal(e->ev.time, opts.file_mtime);
    assert_int_equal(cap_count(&cap, EV_VOLUME), 0);
    assert_int_equal(cap_count(&cap, EV_TRAP_HIT), 0);

    /* 12 AM is midnight, 12 PM is noon, seconds are tolerated. */
    assert_int_equal(
        parse_text("192.0.2.1,12/31/2024 12:00 PM,1/1/2025 12:30:15 am,1,1,1,GREEN,,,,0\n", &cap),
        0);
    e = cap_nth(&cap, EV_SNDS, 0);
    assert_int_equal(e->snds.start, at("2024-12-31T12:00:00Z"));
    assert_int_equal(e->snds.end, at("2025-01-01T00:30:15Z"));
}

static void test_data_rejects(void **state)
{
    (void)state;
    assert_int_equal(
        parse_text("192.0.2.0/24,6/1/2025 12:00 AM,6/1/2025 11:59 PM,1,1,1,GREEN,,,,0\n"
                   "192.0.2.7/24,6/1/2025 12:00 AM,6/1/2025 11:59 PM,1,1,1,GREEN,,,,0\n"
                   "2001:db8::1,6/1/2025 12:00 AM,6/1/2025 11:59 PM,1,1,1,GREEN,,,,0\n"
                   "192.0.2.1,6/1/2025 12:00 AM,6/1/2025 11:59 PM,1,1,1,,,,,0\n"
                   "192.0.2.1,6/1/2025 12:00 AM,6/1/2025 11:59 PM,1,1,1,BLUE,,,,0\n"
                   ",6/1/2025 12:00 AM,6/1/2025 11:59 PM,1,1,1,RED,,,,0\n"
                   "192.0.2.1 - 192.0.2.5,6/1/2025 12:00 AM,x,1,1,1,RED,,,,0\n"
                   "garbage\n"
                   "\n"
                   "# a comment\n"
                   "192.0.2.2,6/1/2025 12:00 AM,6/1/2025 11:59 PM,1,1,1,red,,,,0\n",
                   &cap),
        0);
    assert_int_equal(cap.nrej, 8);
    static const char *const want[] = {
        "is a prefix, not a single IPv4 address",
        "'192.0.2.7/24' has host bits set; did you mean 192.0.2.0/24?",
        "is not an IPv4 address",
        "no filter result (GREEN, YELLOW or RED)",
        "filter result 'BLUE' is not GREEN, YELLOW or RED",
        "no IP address",
        "is an address range",
        "'garbage' is not an IPv4/IPv6 address or prefix",
    };
    for (size_t i = 0; i < 8; i++) {
        assert_int_equal(cap.rej[i].line, (long)i + 1);
        if (!strstr(cap.rej[i].why, want[i]))
            fail_msg("line %zu: '%s' lacks '%s'", i + 1, cap.rej[i].why, want[i]);
    }
    assert_int_equal(cap.records, 9);
    assert_int_equal(cap_count(&cap, EV_SNDS), 1);
    assert_string_equal(cap_nth(&cap, EV_SNDS, 0)->prefix, "192.0.2.2");
}

static void test_dedup_keys(void **state)
{
    (void)state;
    /* Same (IP, start, end) with other counts: same keys (3.5). */
    const char *a = "192.0.2.1,6/1/2025 12:00 AM,6/1/2025 11:59 PM,10,10,10,RED,1%,,,5\n";
    const char *b = " 192.0.2.1 ,6/1/2025 12:00 AM,6/1/2025 11:59 PM,20,20,20,GREEN,,,,9\n";
    const char *c = "192.0.2.1,6/2/2025 12:00 AM,6/2/2025 11:59 PM,10,10,10,RED,1%,,,5\n";
    assert_int_equal(parse_text(a, &cap), 0);
    assert_int_equal(parse_text(b, &cap2), 0);
    assert_int_equal(cap.nev, 3);
    assert_int_equal(cap2.nev, 3);
    for (size_t i = 0; i < 3; i++)
        assert_memory_equal(cap.ev[i].key, cap2.ev[i].key, FEED_DEDUP_LEN);
    assert_int_equal(parse_text(c, &cap2), 0);
    for (size_t i = 0; i < 3; i++)
        assert_memory_not_equal(cap.ev[i].key, cap2.ev[i].key, FEED_DEDUP_LEN);

    /* The derived keys are SHA-256(row key || index, big-endian). */
    uint8_t row[FEED_DEDUP_LEN], k[FEED_DEDUP_LEN];
    const void *parts[4] = {"snds", "192.0.2.1", "6/1/2025 12:00 AM", "6/1/2025 11:59 PM"};
    size_t lens[4] = {5, 10, 18, 18};
    feed_dedup_key(row, parts, lens, 4);
    for (unsigned i = 0; i < 3; i++) {
        feed_dedup_derive(k, row, i);
        assert_memory_equal(k, cap.ev[i].key, FEED_DEDUP_LEN);
    }
}

static void test_stop_and_detect(void **state)
{
    (void)state;
    size_t len, slen;
    char *data = load("snds/snds-data-2025-06-01.csv", &len);
    memset(&cap, 0, sizeof cap);
    cap.stop_at = 2;
    struct feed_sink sink = {.event = cap_event_cb, .arg = &cap}; /* other callbacks NULL */
    struct feed_input in = {.name = "x", .data = (const uint8_t *)data, .len = len};
    assert_int_equal(feed_ops_snds.parse(&in, &opts, &sink), 7);
    assert_int_equal(cap.nev, 2);

    char *status = load("snds/snds-ipstatus.csv", &slen);
    assert_true(feed_ops_snds.detect((const uint8_t *)data, len) >= 80);
    assert_true(feed_ops_snds.detect((const uint8_t *)status, slen) >= 80);
    char hdr[1024];
    snprintf(hdr, sizeof hdr,
             "%s192.0.2.1,6/1/2025 12:00 AM,6/1/2025 11:59 PM,1,1,1,RED,,,,0,,,\r\n", full_header);
    assert_true(feed_ops_snds.detect((const uint8_t *)hdr, strlen(hdr)) >= 80);
    static const char *const no[] = {
        "address_or_prefix,kind,weight,time,reason\n192.0.2.1,abuse,1,1700000000,x\n",
        "timestamp,ip,helo,mail_from,rcpt_to\n1700000000,192.0.2.1,h,a@b,c@d\n",
        "; DROP\n192.0.2.0/24 ; SBL1\n198.51.100.0/24 ; SBL2\n",
        "2025-06-01 10:20:31,456 fail2ban.actions [1]: NOTICE [sshd] Ban 192.0.2.1\n",
        "",
        "\x01\x02\x03",
    };
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        assert_int_equal(feed_ops_snds.detect((const uint8_t *)no[i], strlen(no[i])), 0);
    free(data);
    free(status);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_data),        cmocka_unit_test(test_fixture_status),
        cmocka_unit_test(test_status_split),        cmocka_unit_test(test_status_rejects),
        cmocka_unit_test(test_header_bom_quotes),   cmocka_unit_test(test_column_variants),
        cmocka_unit_test(test_rates_and_tolerance), cmocka_unit_test(test_data_rejects),
        cmocka_unit_test(test_dedup_keys),          cmocka_unit_test(test_stop_and_detect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
