/* Unit tests for the rbldnsd importer: both fixture files against every row
 * of the answer tables in fixtures/README.md, answered by a tiny resolver
 * doing what the server does (the longest imported prefix covering the
 * address decides; "$" in the TXT template becomes the address, "$$" a
 * dollar), plus the edge cases of doc/formats.md section 4 and the apex zone
 * file read back with ldns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ldns/ldns.h>

#include "addr.h"
#include "err.h"
#include "feed.h"
#include "feed_rbldnsd.h"
#include "model.h"
#include "test_paths.h"

#define MTIME 1748736000 /* 2025-06-01 */

struct ev_copy {
    struct addr_prefix prefix;
    uint8_t kind;
    uint32_t code, ttl;
    int64_t time;
    bool subzone;
    char *txt, *reason, *dataset, *source;
};

struct msg {
    long line;
    char why[600];
    char raw[300];
};

struct collect {
    struct ev_copy *ev;
    size_t n, cap;
    struct msg warns[64], rejects[16];
    size_t nwarns, nrejects;
    size_t last_progress;
    size_t records; /* progress calls: the records the summary counts */
    int stop_after; /* return 7 after this many events; 0 = never */
};

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int col_event(void *arg, const struct event *ev, const uint8_t *dedup)
{
    struct collect *c = arg;
    assert_null(dedup);
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->ev = realloc(c->ev, c->cap * sizeof(*c->ev));
        assert_non_null(c->ev);
    }
    struct ev_copy *e = &c->ev[c->n++];
    e->prefix = ev->prefix;
    e->kind = ev->kind;
    e->code = ev->code;
    e->ttl = ev->ttl;
    e->time = ev->time;
    e->txt = dup_or_null(ev->txt);
    e->reason = dup_or_null(ev->reason);
    e->dataset = dup_or_null(ev->dataset);
    e->subzone = ev->subzone;
    e->source = dup_or_null(ev->source);
    if (ev->txt)
        assert_true(strlen(ev->txt) < MODEL_TEXT_MAX);
    return c->stop_after && c->n >= (size_t)c->stop_after ? 7 : 0;
}

static void col_msg(struct msg *m, size_t *n, size_t cap, const struct feed_origin *o,
                    const char *why)
{
    assert_true(*n < cap);
    struct msg *x = &m[(*n)++];
    x->line = o->line;
    snprintf(x->why, sizeof(x->why), "%s", why);
    snprintf(x->raw, sizeof(x->raw), "%.*s",
             o->raw ? (int)(o->raw_len > 299 ? 299 : o->raw_len) : 0, o->raw ? o->raw : "");
    assert_non_null(o->file);
}

static void col_warn(void *arg, const struct feed_origin *o, const char *why)
{
    struct collect *c = arg;
    col_msg(c->warns, &c->nwarns, 64, o, why);
}

static void col_reject(void *arg, const struct feed_origin *o, const char *why)
{
    struct collect *c = arg;
    col_msg(c->rejects, &c->nrejects, 16, o, why);
}

static void col_progress(void *arg, size_t done)
{
    struct collect *c = arg;
    assert_true(done >= c->last_progress);
    c->last_progress = done;
    c->records++;
}

static void col_free(struct collect *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->ev[i].txt);
        free(c->ev[i].reason);
        free(c->ev[i].dataset);
        free(c->ev[i].source);
    }
    free(c->ev);
    memset(c, 0, sizeof(*c));
}

static int run(struct collect *c, const char *subtype, const char *zone, const char *text,
               size_t len, int64_t now)
{
    memset(c, 0, sizeof(*c));
    struct feed_sink sink = {.event = col_event,
                             .reject = col_reject,
                             .warn = col_warn,
                             .progress = col_progress,
                             .arg = c};
    struct feed_options opt = {.zone = zone, .subtype = subtype, .file_mtime = MTIME, .now = now};
    struct feed_input in = {.name = "test.rbl", .data = (const uint8_t *)text, .len = len};
    int rc = feed_ops_rbldnsd.parse(&in, &opt, &sink);
    if (rc == DNSBL_OK && c->records)
        assert_int_equal(c->last_progress, len);
    return rc;
}

/* Parse a string that must give no warning and no rejection. */
static void run_clean(struct collect *c, const char *subtype, const char *text)
{
    assert_int_equal(run(c, subtype, "bl.example", text, strlen(text), 0), DNSBL_OK);
    for (size_t i = 0; i < c->nwarns; i++)
        print_error("unexpected warning at line %ld: %s\n", c->warns[i].line, c->warns[i].why);
    assert_int_equal(c->nwarns, 0);
    assert_int_equal(c->nrejects, 0);
}

static bool has_warning(const struct collect *c, long line, const char *part)
{
    for (size_t i = 0; i < c->nwarns; i++)
        if (c->warns[i].line == line && strstr(c->warns[i].why, part))
            return true;
    return false;
}

static char *read_fixture(const char *rel, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", test_fixtures_dir(), rel);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        fail_msg("cannot open %s", path);
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    *len = fread(buf, 1, (1 << 20) - 1, fp);
    buf[*len] = '\0';
    fclose(fp);
    return buf;
}

/* ---- the resolver the server will be ---- */

static const struct ev_copy *resolve(const struct collect *c, const char *dataset, const char *ip)
{
    struct addr_prefix q;
    char why[256];
    if (addr_parse(ip, &q, why, sizeof(why)) != DNSBL_OK)
        fail_msg("bad query %s: %s", ip, why);
    const struct ev_copy *best = NULL;
    for (size_t i = 0; i < c->n; i++) {
        const struct ev_copy *e = &c->ev[i];
        if (strcmp(e->dataset ? e->dataset : "", dataset) != 0 || !addr_covers(&e->prefix, &q))
            continue;
        if (!best || e->prefix.plen >= best->prefix.plen) /* the later one overwrites */
            best = e;
    }
    return best;
}

/* "$" -> the address, "$$" -> "$". */
static void render(const char *tpl, const char *ip, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *s = tpl; *s && n + 1 < cap; s++) {
        if (*s != '$') {
            out[n++] = *s;
        } else if (s[1] == '$') {
            out[n++] = '$';
            s++;
        } else {
            n += (size_t)snprintf(out + n, cap - n, "%s", ip);
        }
    }
    out[n < cap ? n : cap - 1] = '\0';
}

/* code NULL: not listed. txt: expected TXT with "<ip>" for the address, NULL
 * for no TXT record. */
static void expect(const struct collect *c, const char *dataset, const char *ip, const char *code,
                   const char *txt)
{
    const struct ev_copy *e = resolve(c, dataset, ip);
    if (!code) {
        if (e && e->kind == EV_IMPORT_LIST)
            fail_msg("%s: listed (%s), expected not listed", ip, e->txt ? e->txt : "no TXT");
        return;
    }
    if (!e || e->kind != EV_IMPORT_LIST)
        fail_msg("%s in %s: not listed, expected %s", ip, dataset, code);
    struct addr_prefix q, a;
    assert_int_equal(addr_parse(ip, &q, NULL, 0), DNSBL_OK);
    char iptext[ADDR_TEXT_MAX], codetext[ADDR_TEXT_MAX];
    addr_format(&q, iptext, sizeof(iptext));
    uint8_t b[4] = {(uint8_t)(e->code >> 24), (uint8_t)(e->code >> 16), (uint8_t)(e->code >> 8),
                    (uint8_t)e->code};
    addr_from_bytes(&a, ADDR_V4, b, 32);
    addr_format(&a, codetext, sizeof(codetext));
    if (strcmp(codetext, code) != 0)
        fail_msg("%s: A %s, expected %s", ip, codetext, code);
    if (!txt) {
        if (e->txt)
            fail_msg("%s: TXT template '%s', expected none", ip, e->txt);
        return;
    }
    if (!e->txt)
        fail_msg("%s: no TXT, expected '%s'", ip, txt);
    char want[1024], got[1024];
    size_t n = 0;
    for (const char *s = txt; *s && n + 1 < sizeof(want); s++) {
        if (strncmp(s, "<ip>", 4) == 0) {
            n += (size_t)snprintf(want + n, sizeof(want) - n, "%s", iptext);
            s += 3;
        } else {
            want[n++] = *s;
        }
    }
    want[n] = '\0';
    render(e->txt, iptext, got, sizeof(got));
    if (strcmp(got, want) != 0)
        fail_msg("%s: TXT '%s' (template '%s'), expected '%s'", ip, got, e->txt, want);
}

static bool has_event(const struct collect *c, const char *prefix, uint8_t kind)
{
    char text[ADDR_TEXT_MAX];
    for (size_t i = 0; i < c->n; i++) {
        addr_format(&c->ev[i].prefix, text, sizeof(text));
        if (c->ev[i].kind == kind && strcmp(text, prefix) == 0)
            return true;
    }
    return false;
}

static size_t count_kind(const struct collect *c, uint8_t kind)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n; i++)
        n += c->ev[i].kind == kind;
    return n;
}

/* ---- the fixtures ---- */

#define DEF4 "Listed by bl.example, see https://bl.example/lookup?ip=<ip>"

static void check_ip4set_fixture(const struct collect *c)
{
    assert_int_equal(c->nrejects, 0);
    assert_int_equal(c->nwarns, 2);
    assert_int_equal(c->warns[0].line, 34);
    assert_string_equal(c->warns[0].raw, "198.51.100.77/24");
    assert_non_null(strstr(c->warns[0].why, "host bits"));
    assert_int_equal(c->warns[1].line, 35);
    assert_string_equal(c->warns[1].raw, "203");
    assert_non_null(strstr(c->warns[1].why, "bare number"));
    const char *ds = "bl.example";
    expect(c, ds, "192.0.2.0", "127.0.0.2", DEF4);
    expect(c, ds, "192.0.2.99", "127.0.0.2", DEF4);
    expect(c, ds, "192.0.2.255", "127.0.0.2", DEF4);
    expect(c, ds, "192.0.2.1", NULL, NULL);
    expect(c, ds, "192.0.2.2", NULL, NULL);
    const char *trap = "Spam trap hits from <ip> - see https://bl.example/lookup?ip=<ip>";
    expect(c, ds, "203.0.113.10", "127.0.0.3", trap);
    expect(c, ds, "203.0.113.15", "127.0.0.3", trap);
    expect(c, ds, "203.0.113.20", "127.0.0.3", trap);
    expect(c, ds, "203.0.113.9", NULL, NULL);
    expect(c, ds, "203.0.113.21", NULL, NULL);
    for (int i = 100; i <= 103; i++) {
        char ip[32];
        snprintf(ip, sizeof(ip), "203.0.113.%d", i);
        expect(c, ds, ip, "127.0.0.2", "Complaint volume too high (<ip>)");
    }
    expect(c, ds, "203.0.113.104", NULL, NULL);
    expect(c, ds, "198.51.100.0", "127.0.0.2", DEF4);
    expect(c, ds, "198.51.100.63", "127.0.0.2", DEF4);
    expect(c, ds, "198.51.100.64", NULL, NULL);
    expect(c, ds, "198.51.100.77", NULL, NULL);
    expect(c, ds, "198.51.100.200", "127.0.0.4", DEF4);
    expect(c, ds, "198.51.100.201", "127.0.0.5", NULL);
    expect(c, ds, "198.51.100.202", "127.0.0.2", DEF4);
    expect(c, ds, "203.0.113.250", "127.0.0.6",
           "Paying $50 will not delist you, see https://bl.example/lookup?ip=<ip>");
    expect(c, ds, "::ffff:192.0.2.99", "127.0.0.2",
           "Listed by bl.example, see https://bl.example/lookup?ip=192.0.2.99");
    for (size_t i = 0; i < c->n; i++) {
        const struct ev_copy *e = &c->ev[i];
        assert_int_equal(e->time, MTIME);
        assert_string_equal(e->source, "rbldnsd");
        assert_string_equal(e->dataset, "bl.example");
        if (e->kind == EV_IMPORT_LIST) {
            assert_int_equal(e->ttl, 1800);
            assert_non_null(e->reason);
        } else {
            assert_int_equal(e->kind, EV_IMPORT_EXCLUDE);
        }
    }
    /* /24 + 2 exclusions + the range .10-20 as 4 prefixes + .100/30 + the
     * /26 whole + 3 + 1: every prefix as written (doc/formats.md 4.4) */
    assert_int_equal(c->n, 1 + 2 + 4 + 1 + 1 + 3 + 1);
    assert_true(has_event(c, "198.51.100.0/26", EV_IMPORT_LIST));
    assert_true(has_event(c, "203.0.113.10/31", EV_IMPORT_LIST));
    /* 12 entry lines (two of them warned about): comments, $ lines and
     * the default line are no records (doc/formats.md 5). */
    assert_int_equal(c->records, 12);
}

static void test_fixture_ip4set(void **state)
{
    (void)state;
    size_t len;
    char *text = read_fixture("rbldnsd/bl-main.ip4set", &len);
    struct collect c;
    assert_int_equal(run(&c, "ip4set", "bl.example", text, len, 0), DNSBL_OK);
    check_ip4set_fixture(&c);
    col_free(&c);

    /* The same file with CRLF line ends reads the same. */
    char *crlf = malloc(2 * len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\n')
            crlf[n++] = '\r';
        crlf[n++] = text[i];
    }
    assert_int_equal(run(&c, "ip4set", "bl.example", crlf, n, 0), DNSBL_OK);
    check_ip4set_fixture(&c);
    col_free(&c);
    free(crlf);
    free(text);
}

#define DEF6 "IPv6 source <ip> is listed, see https://bl.example/v6"

static void test_fixture_ip6trie(void **state)
{
    (void)state;
    size_t len;
    char *text = read_fixture("rbldnsd/bl6.ip6trie", &len);
    struct collect c;
    assert_int_equal(run(&c, "ip6trie", "bl.example", text, len, 0), DNSBL_OK);
    assert_int_equal(c.nrejects, 0);
    assert_int_equal(c.nwarns, 2);
    assert_int_equal(c.warns[0].line, 15);
    assert_string_equal(c.warns[0].raw, "2001");
    assert_int_equal(c.warns[1].line, 16);
    assert_string_equal(c.warns[1].raw, "2001:db8:7::1/64");
    const char *ds = "bl.example";
    expect(&c, ds, "2001:db8:1::1", "127.0.0.2", DEF6);
    expect(&c, ds, "2001:db8:1:ffff:ffff:ffff:ffff:ffff", "127.0.0.2", DEF6);
    expect(&c, ds, "2001:db8:1::54", "127.0.0.2", DEF6);
    expect(&c, ds, "2001:db8:1::53", NULL, NULL);
    expect(&c, ds, "2001:db8:2::1", "127.0.0.2", DEF6);
    expect(&c, ds, "2001:db8:2:ff::1", "127.0.0.2", DEF6);
    expect(&c, ds, "2001:db8:2:100::1", NULL, NULL);
    expect(&c, ds, "2001:db8:2:10::5", "127.0.0.10", DEF6);
    expect(&c, ds, "2001:db8:3:4::abcd", "127.0.0.3", "Snowshoe range, host <ip>");
    expect(&c, ds, "2001:db8:3:5::1", NULL, NULL);
    expect(&c, ds, "2001:db8:5::25", "127.0.0.4", "Compromised host <ip>");
    expect(&c, ds, "2001:db8:5::26", NULL, NULL);
    expect(&c, ds, "2001:db8:6::1", "127.0.0.2", DEF6);
    expect(&c, ds, "2001:db8:6::2", NULL, NULL);
    expect(&c, ds, "2001:db8:7::1", NULL, NULL);
    assert_int_equal(c.n, 7);
    assert_int_equal(count_kind(&c, EV_IMPORT_EXCLUDE), 1);
    for (size_t i = 0; i < c.n; i++)
        if (c.ev[i].kind == EV_IMPORT_LIST)
            assert_int_equal(c.ev[i].ttl, 3600);
    col_free(&c);
    free(text);
}

/* ---- values (doc/formats.md 4.2) ---- */

static void test_value_forms(void **state)
{
    (void)state;
    char longtxt[400];
    memset(longtxt, 'x', 300);
    longtxt[300] = '\0';
    char text[2048];
    snprintf(text, sizeof(text),
             "192.0.2.1\n"            /* 1: no default line yet */
             ":127.0.0.9:Default $\n" /* 2 */
             "192.0.2.2\n"            /* 3 */
             "192.0.2.3 :127.0.0.3:Some text\n"
             "192.0.2.4 :3:Some text\n" /* 5 */
             "192.0.2.5 :5\n"
             "192.0.2.6 :6:\n" /* 7 */
             "192.0.2.7 Some text\n"
             "192.0.2.8:127.0.0.8:glued\n" /* 9 */
             "192.0.2.9 :0:zero\n"
             "192.0.2.10 :127.0.0.3 junk\n" /* 11 */
             "192.0.2.11 spam # x\n"
             "192.0.2.12 # comment\n" /* 13 */
             "192.0.2.13 ; comment\n"
             "192.0.2.14 :127.5:short form\n" /* 15 */
             "192.0.2.15 %s\n"
             "192.0.2.16 :300:bad\n" /* 17 */
             "192.0.2.17 :4  :  spaced\n"
             ":5\n" /* 19: A only; the TXT of no default */
             "192.0.2.18\n",
             longtxt);
    struct collect c;
    assert_int_equal(run(&c, "ip4trie", "bl.example", text, strlen(text), 0), DNSBL_OK);
    const char *ds = "bl.example";
    expect(&c, ds, "192.0.2.1", "127.0.0.2", NULL);
    expect(&c, ds, "192.0.2.2", "127.0.0.9", "Default <ip>");
    expect(&c, ds, "192.0.2.3", "127.0.0.3", "Some text");
    expect(&c, ds, "192.0.2.4", "127.0.0.3", "Some text");
    expect(&c, ds, "192.0.2.5", "127.0.0.5", "Default <ip>");
    expect(&c, ds, "192.0.2.6", "127.0.0.6", NULL);
    expect(&c, ds, "192.0.2.7", "127.0.0.9", "Some text");
    expect(&c, ds, "192.0.2.8", "127.0.0.8", "glued");
    expect(&c, ds, "192.0.2.9", NULL, NULL);
    expect(&c, ds, "192.0.2.10", NULL, NULL);
    expect(&c, ds, "192.0.2.11", "127.0.0.9", "spam # x");
    expect(&c, ds, "192.0.2.12", "127.0.0.9", "Default <ip>");
    expect(&c, ds, "192.0.2.13", "127.0.0.9", "Default <ip>");
    expect(&c, ds, "192.0.2.14", "127.0.0.5", "short form");
    const struct ev_copy *e = resolve(&c, ds, "192.0.2.15");
    assert_non_null(e);
    assert_non_null(e->txt);
    assert_int_equal(strlen(e->txt), 255);
    expect(&c, ds, "192.0.2.16", NULL, NULL);
    expect(&c, ds, "192.0.2.17", "127.0.0.4", "spaced");
    expect(&c, ds, "192.0.2.18", "127.0.0.5", NULL);
    assert_int_equal(c.nwarns, 4);
    assert_true(has_warning(&c, 10, "invalid A value"));
    assert_true(has_warning(&c, 11, "unrecognised value"));
    assert_true(has_warning(&c, 16, "cut to 255"));
    assert_true(has_warning(&c, 17, "invalid A value"));
    /* The reason is the template, or the type name when there is no TXT. */
    assert_string_equal(resolve(&c, ds, "192.0.2.1")->reason, "rbldnsd ip4trie");
    assert_string_equal(resolve(&c, ds, "192.0.2.3")->reason, "Some text");
    col_free(&c);
}

static void test_base_template(void **state)
{
    (void)state;
    const char *text = "$= Listed: $= (see https://x/$)\n"
                       ":127.0.0.2:\n"
                       "192.0.2.1\n"
                       "192.0.2.2 spam source\n"
                       "192.0.2.3 =No base $ here\n"
                       "192.0.2.4 :4:$$cost\n"
                       "192.0.2.5 :5:=\n"
                       "$= second\n";
    struct collect c;
    assert_int_equal(run(&c, "ip4set", "bl.example", text, strlen(text), 0), DNSBL_OK);
    const char *ds = "bl.example";
    expect(&c, ds, "192.0.2.1", "127.0.0.2", "Listed: <ip> (see https://x/<ip>)");
    expect(&c, ds, "192.0.2.2", "127.0.0.2", "Listed: spam source (see https://x/<ip>)");
    expect(&c, ds, "192.0.2.3", "127.0.0.2", "No base <ip> here");
    /* rbldnsd puts the entry text into $= as it is, without substituting. */
    expect(&c, ds, "192.0.2.4", "127.0.0.4", "Listed: $$cost (see https://x/<ip>)");
    expect(&c, ds, "192.0.2.5", "127.0.0.5", NULL); /* "=" and nothing: no TXT */
    assert_int_equal(c.nwarns, 1);
    assert_true(has_warning(&c, 8, "first assignment"));
    col_free(&c);

    /* The address followed by a literal '$' has no template form: a warning. */
    text = "$= <$=$$>\n192.0.2.1 :2:\n";
    assert_int_equal(run(&c, "ip4set", "bl.example", text, strlen(text), 0), DNSBL_OK);
    assert_int_equal(c.nwarns, 1);
    assert_true(has_warning(&c, 2, "right after the address"));
    col_free(&c);
    text = "$= $=1\n192.0.2.1\n192.0.2.2 x\n";
    assert_int_equal(run(&c, "ip4set", "bl.example", text, strlen(text), 0), DNSBL_OK);
    assert_int_equal(c.nwarns, 1);
    assert_true(has_warning(&c, 1, "right after the address")); /* the built-in default */
    assert_string_equal(c.warns[0].raw, "$= $=1");
    expect(&c, "bl.example", "192.0.2.2", "127.0.0.2", "x1");
    col_free(&c);
}

static void test_variables(void **state)
{
    (void)state;
    const char *text = "$1 one\n"
                       "192.0.2.1 a $1 b $2 c $$ d $\n"
                       "192.0.2.2 x$3\n"
                       "$3 late\n"
                       "$1 again\n"
                       "$4 cost $$5\n"
                       "192.0.2.3 price $4, from $x\n"
                       "192.0.2.4 $\n";
    struct collect c;
    assert_int_equal(run(&c, "ip4set", "bl.example", text, strlen(text), 0), DNSBL_OK);
    const char *ds = "bl.example";
    expect(&c, ds, "192.0.2.1", "127.0.0.2", "a one b $2 c $ d <ip>");
    expect(&c, ds, "192.0.2.2", "127.0.0.2", "xlate"); /* set later in the file */
    expect(&c, ds, "192.0.2.3", "127.0.0.2", "price cost $$5, from <ip>x"); /* $n is not re-read */
    expect(&c, ds, "192.0.2.4", "127.0.0.2", "<ip>");
    assert_int_equal(c.nwarns, 1);
    assert_true(has_warning(&c, 5, "first assignment"));
    col_free(&c);
}

/* ---- ip4set blocks versus ip4trie prefixes (doc/formats.md 4.4) ---- */

static void test_ip4set_corner(void **state)
{
    (void)state;
    const char *text = "198.51.100.0/26\n"
                       "!198.51.100.0/25\n"
                       "192.0.2.0/24\n"
                       "!192.0.2.7\n"
                       "!203.0.113.0/24\n"
                       "203.0.113.7\n";
    struct collect c;
    run_clean(&c, "ip4set", text);
    const char *ds = "bl.example";
    expect(&c, ds, "198.51.100.0", NULL, NULL); /* the exclusion wins block by block */
    expect(&c, ds, "198.51.100.63", NULL, NULL);
    expect(&c, ds, "198.51.100.64", NULL, NULL);
    expect(&c, ds, "198.51.100.128", NULL, NULL);
    expect(&c, ds, "192.0.2.7", NULL, NULL);
    expect(&c, ds, "192.0.2.8", "127.0.0.2", NULL);
    expect(&c, ds, "203.0.113.7", "127.0.0.2", NULL);
    expect(&c, ds, "203.0.113.8", NULL, NULL);
    /* Whole prefixes: the /26 inside the excluded /25 of its own block level
     * (32) turns into an exclusion, as rbldnsd's /32 blocks answer. */
    assert_int_equal(count_kind(&c, EV_IMPORT_EXCLUDE), 1 + 1 + 1 + 1);
    assert_int_equal(count_kind(&c, EV_IMPORT_LIST), 1 + 1);
    assert_true(has_event(&c, "198.51.100.0/26", EV_IMPORT_EXCLUDE));
    assert_true(has_event(&c, "198.51.100.0/25", EV_IMPORT_EXCLUDE));
    col_free(&c);

    run_clean(&c, "ip4trie", text);
    expect(&c, ds, "198.51.100.0", "127.0.0.2", NULL); /* longest prefix: the /26 */
    expect(&c, ds, "198.51.100.63", "127.0.0.2", NULL);
    expect(&c, ds, "198.51.100.64", NULL, NULL);
    expect(&c, ds, "192.0.2.7", NULL, NULL);
    expect(&c, ds, "203.0.113.7", "127.0.0.2", NULL);
    assert_int_equal(c.n, 6);
    col_free(&c);
}

static void test_ip4set_clash(void **state)
{
    (void)state;
    const char *text = "192.0.2.5 :3:first\n"
                       "192.0.2.5 :3:first\n"
                       "192.0.2.0-192.0.2.9 :4:second\n"
                       "192.0.2.5\n"
                       "!192.0.2.6\n"
                       "192.0.2.6 :5:after\n";
    struct collect c;
    assert_int_equal(run(&c, "ip4set", "bl.example", text, strlen(text), 0), DNSBL_OK);
    const char *ds = "bl.example";
    expect(&c, ds, "192.0.2.5", "127.0.0.3", "first");
    expect(&c, ds, "192.0.2.4", "127.0.0.4", "second");
    expect(&c, ds, "192.0.2.6", NULL, NULL);
    assert_int_equal(c.nwarns, 2);
    assert_true(has_warning(&c, 3, "both records"));
    assert_true(has_warning(&c, 3, "line 1"));
    assert_true(has_warning(&c, 4, "192.0.2.5"));
    assert_int_equal(c.n, 4); /* .5, .6, the range as .0/29 and .8/31 */
    col_free(&c);
}

static void test_ranges(void **state)
{
    (void)state;
    const char *text = "10.0.0.10-20\n" /* 1 */
                       "10.0.1.5-10.0.1.7\n"
                       "10.1-3\n"                       /* 3: 10.1.0.0-10.3.255.255 */
                       "10.0.2-4\n"                     /* 10.0.2.0-10.0.4.255 */
                       "10.0.5.20-10\n"                 /* 5: start after end */
                       "10.0.5.1-10.0.6\n"              /* different lengths */
                       "10.0.7.250-10.0.9.5 :7:mixed\n" /* 7 */
                       "10.0.10.1/24\n"                 /* host bits */
                       "10.200/16\n"                    /* 9 */
                       "11/8\n"
                       "12\n" /* 11: bare */
                       "300.1.2.3\n"
                       "20.0.0.0-20.255.255.255\n" /* 13: one /8 */
                       "21.0.0.1-21.0.0.0\n";
    struct collect c;
    assert_int_equal(run(&c, "ip4set", "bl.example", text, strlen(text), 0), DNSBL_OK);
    const char *ds = "bl.example";
    expect(&c, ds, "10.0.0.9", NULL, NULL);
    expect(&c, ds, "10.0.0.10", "127.0.0.2", NULL);
    expect(&c, ds, "10.0.0.20", "127.0.0.2", NULL);
    expect(&c, ds, "10.0.0.21", NULL, NULL);
    expect(&c, ds, "10.0.1.7", "127.0.0.2", NULL);
    expect(&c, ds, "10.0.1.8", NULL, NULL);
    expect(&c, ds, "10.1.0.0", "127.0.0.2", NULL);
    expect(&c, ds, "10.3.255.255", "127.0.0.2", NULL);
    expect(&c, ds, "10.4.0.0", NULL, NULL);
    expect(&c, ds, "10.0.2.0", "127.0.0.2", NULL);
    expect(&c, ds, "10.0.4.255", "127.0.0.2", NULL);
    expect(&c, ds, "10.0.7.249", NULL, NULL);
    expect(&c, ds, "10.0.7.250", "127.0.0.7", "mixed");
    expect(&c, ds, "10.0.8.100", "127.0.0.7", "mixed");
    expect(&c, ds, "10.0.9.5", "127.0.0.7", "mixed");
    expect(&c, ds, "10.0.9.6", NULL, NULL);
    expect(&c, ds, "10.0.10.1", NULL, NULL);
    expect(&c, ds, "11.200.0.1", "127.0.0.2", NULL);
    expect(&c, ds, "12.0.0.1", NULL, NULL);
    expect(&c, ds, "20.1.2.3", "127.0.0.2", NULL);
    assert_int_equal(c.nwarns, 6);
    assert_true(has_warning(&c, 5, "starts after its end"));
    assert_true(has_warning(&c, 6, "same number of octets"));
    assert_true(has_warning(&c, 8, "host bits"));
    assert_true(has_warning(&c, 11, "bare number"));
    assert_true(has_warning(&c, 12, "not an IPv4"));
    assert_true(has_warning(&c, 14, "starts after its end"));
    /* each range as its fewest CIDR prefixes: .10/31 .12/30 .16/30 .20,
     * .5 .6/31, 10.1/16 10.2/15, 10.0.2/23 10.0.4/24, .250/31 .252/30
     * 10.0.8/24 10.0.9.0/30 10.0.9.4/31; then the /16, /8 and /8 */
    assert_int_equal(c.n, 4 + 2 + 2 + 2 + 5 + 1 + 1 + 1);
    assert_true(has_event(&c, "10.0.0.12/30", EV_IMPORT_LIST));
    assert_true(has_event(&c, "10.2.0.0/15", EV_IMPORT_LIST));
    col_free(&c);

    /* Ranges are ip4set syntax only. */
    assert_int_equal(run(&c, "ip4trie", "bl.example", "10.0.0.10-20\n", 13, 0), DNSBL_OK);
    assert_int_equal(c.n, 0);
    assert_true(has_warning(&c, 1, "only valid in ip4set"));
    col_free(&c);
}

static void test_maxrange(void **state)
{
    (void)state;
    const char *text = "$MAXRANGE4 /24\n"
                       "10.0.0.0/23\n" /* 2: too large */
                       "10.0.0.0/24\n"
                       "$MAXRANGE4 /16\n" /* 4: cannot grow */
                       "$MAXRANGE4 100\n"
                       "10.0.1.0-10.0.1.200\n" /* 6: 201 > 100 */
                       "10.0.2.0-10.0.2.99\n"
                       "!10.0.3.0/24\n" /* 8: exclusions too */
                       "$MAXRANGE4 0\n";
    struct collect c;
    assert_int_equal(run(&c, "ip4set", "bl.example", text, strlen(text), 0), DNSBL_OK);
    assert_int_equal(c.nwarns, 5);
    assert_true(has_warning(&c, 2, "$MAXRANGE4"));
    assert_true(has_warning(&c, 4, "only shrink"));
    assert_true(has_warning(&c, 6, "$MAXRANGE4"));
    assert_true(has_warning(&c, 8, "$MAXRANGE4"));
    assert_true(has_warning(&c, 9, "invalid $MAXRANGE4"));
    expect(&c, "bl.example", "10.0.0.1", "127.0.0.2", NULL);
    expect(&c, "bl.example", "10.0.1.1", NULL, NULL);
    expect(&c, "bl.example", "10.0.2.99", "127.0.0.2", NULL);
    assert_int_equal(c.n, 1 + 3); /* the /24; .0/26 .64/27 .96/30 */
    col_free(&c);

    text = "$MAXRANGE4 /24\n10.0.0.0/16\n10.1.0.0/24\n";
    assert_int_equal(run(&c, "ip4trie", "bl.example", text, strlen(text), 0), DNSBL_OK);
    assert_int_equal(c.n, 1);
    assert_true(has_warning(&c, 2, "65536 addresses"));
    col_free(&c);
}

static void test_trie_duplicates(void **state)
{
    (void)state;
    const char *text = "192.0.2.0/24 :3:a\n"
                       "192.0.2/24 :4:b\n"
                       "!192.0.2.0/24\n"
                       "192.0.2.0/25\n";
    struct collect c;
    assert_int_equal(run(&c, "ip4trie", "bl.example", text, strlen(text), 0), DNSBL_OK);
    assert_int_equal(c.nwarns, 2);
    assert_true(has_warning(&c, 2, "line 1"));
    assert_true(has_warning(&c, 3, "line 1"));
    expect(&c, "bl.example", "192.0.2.200", "127.0.0.3", "a");
    assert_int_equal(c.n, 2);
    col_free(&c);
}

/* Trie lines reach the prefix table some lines after they are read (the
 * parser fetches table slots ahead): warnings still come in line order,
 * with their own line, and the first of two equal prefixes wins however
 * far apart they are. */
static void test_trie_read_ahead(void **state)
{
    (void)state;
    char text[4096];
    size_t used = 0;
    used += (size_t)snprintf(text + used, sizeof text - used, "10.0.0.0/8 :3:first\n"); /* 1 */
    used += (size_t)snprintf(text + used, sizeof text - used, "10.0.0.0/8 :4:again\n"); /* 2 */
    used += (size_t)snprintf(text + used, sizeof text - used, "300.1.2.3\n");           /* 3 */
    for (int i = 4; i < 60; i++)
        used += (size_t)snprintf(text + used, sizeof text - used, "192.0.%d.0/24\n", i);
    used += (size_t)snprintf(text + used, sizeof text - used, "10.0.0.0/8 :5:late\n"); /* 60 */
    used += (size_t)snprintf(text + used, sizeof text - used, "not-an-address\n");     /* 61 */
    used += (size_t)snprintf(text + used, sizeof text - used, "192.0.4.0/24\n");       /* 62 */
    struct collect c;
    assert_int_equal(run(&c, "ip4trie", "bl.example", text, used, 0), DNSBL_OK);
    static const long want[] = {2, 3, 60, 61, 62};
    assert_int_equal(c.nwarns, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < c.nwarns; i++)
        assert_int_equal(c.warns[i].line, want[i]);
    assert_true(has_warning(&c, 2, "line 1"));
    assert_true(has_warning(&c, 60, "line 1"));
    assert_true(has_warning(&c, 62, "line 4"));
    expect(&c, "bl.example", "10.9.9.9", "127.0.0.3", "first");
    assert_int_equal(c.n, 1 + 56);
    col_free(&c);
}

/* ---- the trivial sets ---- */

static void test_ip4tset(void **state)
{
    (void)state;
    const char *text = "192.0.2.9\n"
                       ":127.0.0.4:Trivial $\n"
                       "192.0.2.1 ignored :127.0.0.7:text\n"
                       "192.0.2.2:x\n"
                       "192.0.2\n"           /* 5: not a single address */
                       "!192.0.2.3\n"        /* no exclusions */
                       ":127.0.0.5:second\n" /* 7: only the first default counts */
                       "192.0.2.1\n";
    struct collect c;
    assert_int_equal(run(&c, "ip4tset", "bl.example", text, strlen(text), 0), DNSBL_OK);
    const char *ds = "bl.example";
    expect(&c, ds, "192.0.2.9", "127.0.0.4", "Trivial <ip>");
    expect(&c, ds, "192.0.2.1", "127.0.0.4", "Trivial <ip>");
    expect(&c, ds, "192.0.2.2", "127.0.0.4", "Trivial <ip>");
    expect(&c, ds, "192.0.2.3", NULL, NULL);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.nwarns, 3);
    assert_true(has_warning(&c, 5, "single IPv4"));
    assert_true(has_warning(&c, 6, "single IPv4"));
    assert_true(has_warning(&c, 7, "first default"));
    col_free(&c);

    /* Without a default line: 127.0.0.2 and no TXT. */
    run_clean(&c, "ip4tset", "192.0.2.1\n");
    expect(&c, ds, "192.0.2.1", "127.0.0.2", NULL);
    col_free(&c);
}

static void test_ip6tset(void **state)
{
    (void)state;
    const char *text = "2001:db8:aa:1\n"
                       "2001:db8:aa:2::/64\n" /* 2: no CIDR in ip6tset */
                       "2001:db8:aa\n"        /* 3: /48 */
                       "!2001:db8:aa:1::5\n"
                       "!2001:db8:aa:1:0:0:0:6\n"
                       "!2001:db8:aa:1\n"   /* 6: exclusions are /128 */
                       "2001:db8:aa:3::1\n" /* 7: entries are /64 */
                       ":127.0.0.6:v6 $\n"
                       "2001:db8:aa:1\n";
    struct collect c;
    assert_int_equal(run(&c, "ip6tset", "bl.example", text, strlen(text), 0), DNSBL_OK);
    const char *ds = "bl.example";
    expect(&c, ds, "2001:db8:aa:1::1", "127.0.0.6", "v6 <ip>");
    expect(&c, ds, "2001:db8:aa:1:ffff::1", "127.0.0.6", "v6 <ip>");
    expect(&c, ds, "2001:db8:aa:1::5", NULL, NULL);
    expect(&c, ds, "2001:db8:aa:1::6", NULL, NULL);
    expect(&c, ds, "2001:db8:aa:2::1", NULL, NULL);
    expect(&c, ds, "2001:db8:aa:3::1", NULL, NULL);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.nwarns, 4);
    assert_true(has_warning(&c, 2, "not an IPv6"));
    assert_true(has_warning(&c, 3, "four groups"));
    assert_true(has_warning(&c, 6, "/128"));
    assert_true(has_warning(&c, 7, "four groups"));
    col_free(&c);
}

static void test_ip6_keys(void **state)
{
    (void)state;
    const char *text = "::1\n"
                       "2001:db8:1/56 :3\n"
                       "2001:db8::/33 :4\n"
                       "12345::1\n"         /* 4 */
                       "2001:db8:9::1::2\n" /* 5: ":" after a key starts the value */
                       "2001:DB8:A:B:C:D:E:F :5\n"
                       "2001:db8::/129\n" /* 7 */
                       "2001:db8:c:d:e:f:1:2:3\n";
    struct collect c;
    assert_int_equal(run(&c, "ip6trie", "bl.example", text, strlen(text), 0), DNSBL_OK);
    const char *ds = "bl.example";
    expect(&c, ds, "::1", "127.0.0.2", NULL);
    expect(&c, ds, "2001:db8:1:0::1", "127.0.0.3", NULL);
    expect(&c, ds, "2001:db8:1:100::1", "127.0.0.4", NULL);
    expect(&c, ds, "2001:db8:7fff::1", "127.0.0.4", NULL);
    expect(&c, ds, "2001:db8:8000::1", NULL, NULL);
    expect(&c, ds, "2001:db8:a:b:c:d:e:f", "127.0.0.5", NULL);
    /* As in rbldnsd, a ':' right after a complete key starts the value. */
    expect(&c, ds, "2001:db8:9::1", "127.0.0.2", NULL);
    expect(&c, ds, "2001:db8:c:d:e:f:1:2", "127.0.0.3", NULL);
    assert_int_equal(c.n, 6);
    assert_int_equal(c.nwarns, 2);
    assert_true(has_warning(&c, 4, "not an IPv6"));
    assert_true(has_warning(&c, 7, "not an IPv6"));
    col_free(&c);
}

/* ---- combined (doc/formats.md 4.6) ---- */

static void test_combined(void **state)
{
    (void)state;
    const char *text = "$SOA 1h ns1.bl.example hostmaster.bl.example 0 2h 30m 1w 10m\n"
                       "$NS 1d ns1.bl.example ns2.bl.example\n"
                       "$TTL 900\n"
                       "$1 https://x/\n"
                       "192.0.2.1\n" /* 5: outside any section */
                       "$DATASET ip4set:main @ main\n"
                       ":127.0.0.2:see $1$\n"
                       "192.0.2.0/24\n"
                       "!192.0.2.1\n"
                       "$DATASET ip6trie V6. # a comment\n" /* 10 */
                       "$TTL 120\n"
                       "2001:db8::/32 :127.0.0.3:v6 $\n"
                       "$DATASET dnset dom\n" /* 13 */
                       "example.com\n"
                       "$DATASET acl acl\n" /* 15 */
                       "192.0.2.1 :refuse\n"
                       "$DATASET ip4tset t\n"
                       "$2 two\n"
                       ":127.0.0.8:$1$2\n"
                       "198.51.100.1\n" /* 20 */
                       "$DATASET bogus x\n";
    struct collect c;
    assert_int_equal(run(&c, "combined", "BL.Example.", text, strlen(text), 0), DNSBL_OK);
    expect(&c, "bl.example", "192.0.2.9", "127.0.0.2", "see https://x/<ip>");
    expect(&c, "bl.example", "192.0.2.1", NULL, NULL);
    expect(&c, "main.bl.example", "192.0.2.9", "127.0.0.2", "see https://x/<ip>");
    expect(&c, "main.bl.example", "192.0.2.1", NULL, NULL);
    expect(&c, "v6.bl.example", "2001:db8::1", "127.0.0.3", "v6 <ip>");
    expect(&c, "v6.bl.example", "192.0.2.9", NULL, NULL);
    expect(&c, "t.bl.example", "198.51.100.1", "127.0.0.8", "https://x/two");
    expect(&c, "bl.example", "198.51.100.1", NULL, NULL);
    assert_int_equal(c.n, 2 * 2 + 1 + 1);
    for (size_t i = 0; i < c.n; i++) {
        const struct ev_copy *e = &c.ev[i];
        if (e->kind != EV_IMPORT_LIST)
            continue;
        if (strcmp(e->dataset, "v6.bl.example") == 0)
            assert_int_equal(e->ttl, 120);
        else
            assert_int_equal(e->ttl, 900);
        if (strcmp(e->dataset, "t.bl.example") == 0)
            assert_string_equal(e->reason, "https://x/two");
    }
    assert_int_equal(c.nrejects, 1);
    assert_int_equal(c.rejects[0].line, 13);
    assert_non_null(strstr(c.rejects[0].why, "domain datasets are not supported"));
    assert_int_equal(c.nwarns, 3);
    assert_true(has_warning(&c, 5, "outside any $DATASET"));
    assert_true(has_warning(&c, 15, "not list data"));
    assert_true(has_warning(&c, 21, "unknown dataset type"));
    col_free(&c);

    /* A combined file needs its base zone. */
    assert_int_equal(run(&c, "combined", NULL, text, strlen(text), 0), DNSBL_OK);
    assert_int_equal(c.n, 0);
    assert_int_equal(c.nrejects, 1);
    col_free(&c);
}

/* doc/formats.md 4.6: the k-th section bound to one zone is "zone~k",
 * and a subzone's sections are flagged as such, "@"'s not. */
static void test_combined_sections_per_zone(void **state)
{
    (void)state;
    const char *text = "$DATASET ip4set:a sub @\n"
                       "192.0.2.1 :127.0.0.2:a\n"
                       "$DATASET ip4set:b Sub @\n"
                       "192.0.2.1 :127.0.0.3:b\n"
                       "$DATASET ip4set:c sub\n"
                       "192.0.2.3\n"
                       "$DATASET ip4set:d sub\n"
                       "192.0.2.4\n"
                       "$DATASET ip4set:e sub\n" /* 9: a fifth for sub */
                       "192.0.2.5\n";
    struct collect c;
    assert_int_equal(run(&c, "combined", "bl.example", text, strlen(text), 0), DNSBL_OK);
    expect(&c, "sub.bl.example", "192.0.2.1", "127.0.0.2", "a");
    expect(&c, "bl.example", "192.0.2.1", "127.0.0.2", "a");
    expect(&c, "sub.bl.example~2", "192.0.2.1", "127.0.0.3", "b");
    expect(&c, "bl.example~2", "192.0.2.1", "127.0.0.3", "b");
    expect(&c, "sub.bl.example~3", "192.0.2.3", "127.0.0.2", NULL);
    expect(&c, "sub.bl.example~4", "192.0.2.4", "127.0.0.2", NULL);
    assert_int_equal(c.n, 6);
    for (size_t i = 0; i < c.n; i++)
        assert_int_equal(c.ev[i].subzone, strncmp(c.ev[i].dataset, "sub.", 4) == 0);
    assert_int_equal(c.nwarns, 1);
    assert_true(has_warning(&c, 9, "more than 4 $DATASET sections"));
    col_free(&c);
}

/* ---- rspamd additions, special lines, timestamps, types ---- */

static void test_rspamd_tail(void **state)
{
    (void)state;
    const char *text = "192.0.2.0/24 :127.0.0.2:Listed @ delay=2s\n"
                       "192.0.2.9 mail me @ home\n"
                       "198.51.100.0/24 @ ts=1730000000;delay=60s\n"
                       "!192.0.2.10 @ key=nodelay\n";
    struct collect c;
    assert_int_equal(run(&c, "ip4trie", "bl.example", text, strlen(text), 0), DNSBL_OK);
    expect(&c, "bl.example", "192.0.2.1", "127.0.0.2", "Listed");
    expect(&c, "bl.example", "192.0.2.9", "127.0.0.2", "mail me @ home");
    expect(&c, "bl.example", "198.51.100.1", "127.0.0.2", NULL);
    expect(&c, "bl.example", "192.0.2.10", NULL, NULL);
    assert_int_equal(c.nwarns, 3);
    assert_true(has_warning(&c, 1, "delay=2s"));
    assert_true(has_warning(&c, 3, "ts=1730000000"));
    assert_true(has_warning(&c, 4, "key=nodelay"));
    col_free(&c);

    text = "2001:db8::/32 :127.0.0.3:v6 @ key=require\n";
    assert_int_equal(run(&c, "ip6trie", "bl.example", text, strlen(text), 0), DNSBL_OK);
    expect(&c, "bl.example", "2001:db8::1", "127.0.0.3", "v6");
    assert_int_equal(c.nwarns, 1);
    col_free(&c);
}

static void test_special_lines(void **state)
{
    (void)state;
    const char *text = "\xef\xbb\xbf# a BOM, then a comment\n"
                       "$ttl 1h\n"
                       ":$1 one\n"
                       ";$2 two\n"
                       "#$TTL 2h\n"
                       "$FOO bar\n"          /* 6 */
                       "$TTL\n"              /* 7 */
                       "$DATASET ip4set @\n" /* 8: not combined */
                       "$TTL 1x\n"           /* 9 */
                       "$1\n"                /* 10 */
                       "# $TTL 5 is a comment\n"
                       "  192.0.2.1   $1$2  \t\n"
                       "$SOA 1h ns1 hm 1 2 3 4\n" /* 13: a field short */
                       "$NS ns1.bl.example\n";    /* 14: no TTL */
    struct collect c;
    assert_int_equal(run(&c, "ip4set", "bl.example", text, strlen(text), 0), DNSBL_OK);
    expect(&c, "bl.example", "192.0.2.1", "127.0.0.2", "onetwo");
    assert_int_equal(c.ev[0].ttl, 7200);
    assert_int_equal(c.nwarns, 7);
    assert_true(has_warning(&c, 6, "unrecognised special"));
    assert_true(has_warning(&c, 7, "unrecognised special"));
    assert_true(has_warning(&c, 8, "only valid in a combined"));
    assert_true(has_warning(&c, 9, "invalid $TTL"));
    assert_true(has_warning(&c, 10, "unrecognised special"));
    assert_true(has_warning(&c, 13, "invalid $SOA"));
    assert_true(has_warning(&c, 14, "invalid $NS"));
    col_free(&c);

    /* The zone name becomes the data set in lower case; --source names it. */
    struct feed_sink sink = {.event = col_event, .warn = col_warn, .reject = col_reject, .arg = &c};
    struct feed_options opt = {
        .zone = "Zone.Example.", .subtype = "IP4SET", .source = "mirror", .file_mtime = 5};
    struct feed_input in = {.name = "x", .data = (const uint8_t *)"192.0.2.1\n", .len = 10};
    memset(&c, 0, sizeof(c));
    assert_int_equal(feed_ops_rbldnsd.parse(&in, &opt, &sink), DNSBL_OK);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.ev[0].dataset, "zone.example");
    assert_string_equal(c.ev[0].source, "mirror");
    assert_int_equal(c.ev[0].time, 5);
    col_free(&c);

    /* Without a zone the entries belong to no particular data set. */
    assert_int_equal(run(&c, "ip4set", NULL, "192.0.2.1\n", 10, 0), DNSBL_OK);
    assert_null(c.ev[0].dataset);
    col_free(&c);
}

static void test_timestamp(void **state)
{
    (void)state;
    const int64_t now = 1790000000; /* 2026-09 */
    struct collect c;
    const char *text = "$TIMESTAMP 2030:01:01\n192.0.2.1\n";
    assert_int_equal(run(&c, "ip4set", "bl.example", text, strlen(text), now), DNSBL_OK);
    assert_int_equal(c.n, 0);
    assert_int_equal(c.nrejects, 1);
    assert_non_null(strstr(c.rejects[0].why, "in the future"));
    col_free(&c);

    text = "$TIMESTAMP 2020:01:01:12:30 +1d\n192.0.2.1\n";
    assert_int_equal(run(&c, "ip4set", "bl.example", text, strlen(text), now), DNSBL_OK);
    assert_int_equal(c.n, 0);
    assert_int_equal(c.nrejects, 1);
    assert_non_null(strstr(c.rejects[0].why, "expired at 2020-01-02T12:30:00Z"));
    col_free(&c);

    text = "$TIMESTAMP 2020-01-01 2099:01:01\n192.0.2.1\n$TIMESTAMP 2020:02:30\n";
    assert_int_equal(run(&c, "ip4set", "bl.example", text, strlen(text), now), DNSBL_OK);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.nwarns, 2);
    assert_true(has_warning(&c, 3, "invalid $TIMESTAMP"));
    assert_true(has_warning(&c, 1, "expires at 2099-01-01T00:00:00Z"));
    col_free(&c);
}

static void test_types(void **state)
{
    (void)state;
    struct collect c;
    const char *text = "example.com\n.example.net\n";
    for (int i = 0; i < 2; i++) {
        assert_int_equal(run(&c, i ? "dnhash" : "dnset", "bl.example", text, strlen(text), 0),
                         DNSBL_OK);
        assert_int_equal(c.n, 0);
        assert_int_equal(c.nrejects, 1);
        assert_int_equal(c.rejects[0].line, 0);
        assert_non_null(strstr(c.rejects[0].why, "domain datasets are not supported"));
        col_free(&c);
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(run(&c, i ? "aclkey" : "acl", "bl.example", "192.0.2.1 :refuse\n", 18, 0),
                         DNSBL_OK);
        assert_int_equal(c.n, 0);
        assert_int_equal(c.nrejects, 0);
        assert_int_equal(c.nwarns, 1);
        assert_non_null(strstr(c.warns[0].why, "skipped"));
        col_free(&c);
    }
    assert_int_equal(run(&c, "ip5set", "bl.example", "1.2.3.4\n", 8, 0), DNSBL_EINVAL);
    assert_int_equal(c.nrejects, 1);
    assert_non_null(strstr(c.rejects[0].why, "'ip5set' is unknown"));
    col_free(&c);
    assert_int_equal(run(&c, NULL, "bl.example", "1.2.3.4\n", 8, 0), DNSBL_EINVAL);
    assert_non_null(strstr(c.rejects[0].why, "missing"));
    col_free(&c);
    assert_int_equal(feed_ops_rbldnsd.detect((const uint8_t *)"192.0.2.1\n", 10), 0);
    assert_string_equal(feed_ops_rbldnsd.name, "rbldnsd");
}

static void test_stop_and_empty(void **state)
{
    (void)state;
    struct collect c;
    memset(&c, 0, sizeof(c));
    c.stop_after = 2;
    struct feed_sink sink = {.event = col_event, .arg = &c}; /* optional callbacks left NULL */
    struct feed_options opt = {.zone = "bl.example", .subtype = "ip4trie"};
    const char *text = "192.0.2.1\n192.0.2.2\n192.0.2.3\n203\n";
    struct feed_input in = {.name = "x", .data = (const uint8_t *)text, .len = strlen(text)};
    assert_int_equal(feed_ops_rbldnsd.parse(&in, &opt, &sink), 7);
    assert_int_equal(c.n, 2);
    col_free(&c);

    run_clean(&c, "ip4set", "");
    assert_int_equal(c.n, 0);
    col_free(&c);
    /* An embedded NUL ends its line; a last line without a newline counts. */
    assert_int_equal(run(&c, "ip4set", "bl.example", "192.0.2.1\0junk\n192.0.2.2", 24, 0),
                     DNSBL_OK);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.nwarns, 0);
    col_free(&c);
}

/* ---- the apex zone file ---- */

static char *emit(const char *text, const char *zone, int64_t mtime, int *rc, char *why,
                  size_t whylen)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_non_null(out);
    struct feed_options opt = {.zone = zone, .subtype = "ip4set", .file_mtime = mtime};
    struct feed_input in = {.name = "apex.rbl", .data = (const uint8_t *)text, .len = strlen(text)};
    *rc = feed_rbldnsd_emit_zone(&in, &opt, out, why, whylen);
    fclose(out);
    return buf;
}

static ldns_zone *read_zone(const char *text, const char *origin)
{
    FILE *fp = fmemopen((void *)text, strlen(text), "r");
    assert_non_null(fp);
    ldns_rdf *o = ldns_dname_new_frm_str(origin);
    ldns_zone *z = NULL;
    int line = 0;
    ldns_status st = ldns_zone_new_frm_fp_l(&z, fp, o, 3600, LDNS_RR_CLASS_IN, &line);
    fclose(fp);
    ldns_rdf_deep_free(o);
    if (st != LDNS_STATUS_OK)
        fail_msg("zone does not parse at line %d: %s\n%s", line, ldns_get_errorstr_by_id(st), text);
    return z;
}

static uint32_t rdf_u32(const ldns_rr *rr, size_t i)
{
    return ldns_rdf2native_int32(ldns_rr_rdf(rr, i));
}

static void test_emit_zone(void **state)
{
    (void)state;
    size_t len;
    char *text = read_fixture("rbldnsd/bl-main.ip4set", &len);
    char why[512] = "";
    int rc;
    char *zone = emit(text, "bl.example", MTIME, &rc, why, sizeof(why));
    assert_int_equal(rc, DNSBL_OK);
    ldns_zone *z = read_zone(zone, "bl.example.");
    const ldns_rr *soa = ldns_zone_soa(z);
    assert_non_null(soa);
    assert_int_equal(ldns_rr_ttl(soa), 3600);
    char *owner = ldns_rdf2str(ldns_rr_owner(soa));
    assert_string_equal(owner, "bl.example.");
    free(owner);
    char *mname = ldns_rdf2str(ldns_rr_rdf(soa, 0));
    assert_string_equal(mname, "ns1.bl.example.");
    free(mname);
    char *rname = ldns_rdf2str(ldns_rr_rdf(soa, 1));
    assert_string_equal(rname, "hostmaster.bl.example.");
    free(rname);
    assert_int_equal(rdf_u32(soa, 2), 2025060101u);
    assert_int_equal(rdf_u32(soa, 3), 7200);
    assert_int_equal(rdf_u32(soa, 4), 1800);
    assert_int_equal(rdf_u32(soa, 5), 604800);
    assert_int_equal(rdf_u32(soa, 6), 600);
    const ldns_rr_list *rrs = ldns_zone_rrs(z);
    assert_int_equal(ldns_rr_list_rr_count(rrs), 2);
    for (size_t i = 0; i < 2; i++) {
        const ldns_rr *ns = ldns_rr_list_rr(rrs, i);
        assert_int_equal(ldns_rr_get_type(ns), LDNS_RR_TYPE_NS);
        assert_int_equal(ldns_rr_ttl(ns), 86400);
        char *target = ldns_rdf2str(ldns_rr_rdf(ns, 0));
        assert_string_equal(target, i ? "ns2.bl.example." : "ns1.bl.example.");
        free(target);
    }
    ldns_zone_deep_free(z);
    free(zone);
    free(text);

    /* Serial 0: the file time; TTL 0: the data's $TTL, else 3600; a
     * disabled NS name; only the first $SOA counts. */
    const char *t2 = "$TTL 5m\n"
                     "$SOA 0 ns1.example.net. hm.example.net 0 1h 1h 1d 5m\n"
                     "$SOA 1 a.example b.example 9 1 1 1 1\n"
                     "$NS 0 -ns0.example.net ns1.example.net\n";
    zone = emit(t2, "bl.example", MTIME, &rc, why, sizeof(why));
    assert_int_equal(rc, DNSBL_OK);
    z = read_zone(zone, "bl.example.");
    soa = ldns_zone_soa(z);
    assert_int_equal(ldns_rr_ttl(soa), 300);
    assert_int_equal(rdf_u32(soa, 2), MTIME);
    rrs = ldns_zone_rrs(z);
    assert_int_equal(ldns_rr_list_rr_count(rrs), 1);
    assert_int_equal(ldns_rr_ttl(ldns_rr_list_rr(rrs, 0)), 300);
    ldns_zone_deep_free(z);
    free(zone);

    zone = emit("$SOA 0 ns1.example.net hm.example.net 1 1 1 1 1\n", "bl.example", MTIME, &rc, why,
                sizeof(why));
    assert_int_equal(rc, DNSBL_OK);
    z = read_zone(zone, "bl.example.");
    assert_int_equal(ldns_rr_ttl(ldns_zone_soa(z)), 3600);
    ldns_zone_deep_free(z);
    free(zone);

    /* No valid $SOA, or no zone name: an error that says so. */
    zone = emit("$SOA 1h only-one-name\n192.0.2.1\n", "bl.example", MTIME, &rc, why, sizeof(why));
    assert_int_equal(rc, DNSBL_EINVAL);
    assert_non_null(strstr(why, "no valid $SOA"));
    assert_non_null(strstr(why, "line 1"));
    free(zone);
    zone = emit(t2, NULL, MTIME, &rc, why, sizeof(why));
    assert_int_equal(rc, DNSBL_EINVAL);
    assert_non_null(strstr(why, "--zone"));
    free(zone);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_ip4set),  cmocka_unit_test(test_fixture_ip6trie),
        cmocka_unit_test(test_value_forms),     cmocka_unit_test(test_base_template),
        cmocka_unit_test(test_variables),       cmocka_unit_test(test_ip4set_corner),
        cmocka_unit_test(test_ip4set_clash),    cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_maxrange),        cmocka_unit_test(test_trie_duplicates),
        cmocka_unit_test(test_trie_read_ahead), cmocka_unit_test(test_ip4tset),
        cmocka_unit_test(test_ip6tset),         cmocka_unit_test(test_ip6_keys),
        cmocka_unit_test(test_combined),        cmocka_unit_test(test_combined_sections_per_zone),
        cmocka_unit_test(test_rspamd_tail),     cmocka_unit_test(test_special_lines),
        cmocka_unit_test(test_timestamp),       cmocka_unit_test(test_types),
        cmocka_unit_test(test_stop_and_empty),  cmocka_unit_test(test_emit_zone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
