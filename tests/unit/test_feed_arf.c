/* Unit tests of the mail feedback-report parsers (feed_arf.c): every file
 * of the project's ARF fixtures (tests/fixtures/arf) against the results table of their README,
 * then edge cases built in memory (folding, CRLF, bad fields, the
 * Received walk and its fallbacks, dedup keys, event times, mbox). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "addr.h"
#include "feed.h"
#include "test_paths.h"

/* ---- a capture sink ------------------------------------------------------ */

#define T_MAX 64

struct t_event {
    char ip[ADDR_TEXT_MAX];
    uint8_t plen;
    uint8_t kind;
    double weight;
    int64_t time;
    uint8_t auth_failed;
    char reason[256];
    char source[64];
    uint8_t key[FEED_DEDUP_LEN];
    bool has_key;
};

struct t_note {
    char why[512];
    char file[128];
    char message_id[256];
    long line;
    size_t raw_len;
    char raw_head[64];
};

struct t_cap {
    struct t_event ev[T_MAX];
    struct t_note rej[T_MAX], warn[T_MAX];
    size_t nev, nrej, nwarn;
    size_t progress;
    int stop_after; /* return 9 after this many events; 0 = never */
};

static int t_on_event(void *arg, const struct event *ev, const uint8_t *dedup)
{
    struct t_cap *c = arg;
    assert_true(c->nev < T_MAX);
    struct t_event *e = &c->ev[c->nev++];
    memset(e, 0, sizeof *e);
    addr_format(&ev->prefix, e->ip, sizeof e->ip);
    e->plen = ev->prefix.plen;
    e->kind = ev->kind;
    e->weight = ev->weight;
    e->time = ev->time;
    e->auth_failed = ev->auth_failed;
    snprintf(e->reason, sizeof e->reason, "%s", ev->reason ? ev->reason : "");
    snprintf(e->source, sizeof e->source, "%s", ev->source ? ev->source : "");
    if (dedup) {
        memcpy(e->key, dedup, FEED_DEDUP_LEN);
        e->has_key = true;
    }
    return c->stop_after && c->nev >= (size_t)c->stop_after ? 9 : 0;
}

static void t_note_fill(struct t_note *n, const struct feed_origin *o, const char *why)
{
    memset(n, 0, sizeof *n);
    snprintf(n->why, sizeof n->why, "%s", why);
    snprintf(n->file, sizeof n->file, "%s", o->file ? o->file : "");
    snprintf(n->message_id, sizeof n->message_id, "%s", o->message_id ? o->message_id : "");
    n->line = o->line;
    n->raw_len = o->raw_len;
    size_t k = o->raw_len < sizeof n->raw_head - 1 ? o->raw_len : sizeof n->raw_head - 1;
    if (o->raw)
        memcpy(n->raw_head, o->raw, k);
}

static void t_on_reject(void *arg, const struct feed_origin *o, const char *why)
{
    struct t_cap *c = arg;
    assert_true(c->nrej < T_MAX);
    t_note_fill(&c->rej[c->nrej++], o, why);
}

static void t_on_warn(void *arg, const struct feed_origin *o, const char *why)
{
    struct t_cap *c = arg;
    assert_true(c->nwarn < T_MAX);
    t_note_fill(&c->warn[c->nwarn++], o, why);
}

static void t_on_progress(void *arg, size_t bytes)
{
    struct t_cap *c = arg;
    assert_true(bytes >= c->progress);
    c->progress = bytes;
}

static struct t_cap *t_cap_new(void)
{
    struct t_cap *c = calloc(1, sizeof *c);
    assert_non_null(c);
    return c;
}

static int t_run_opt(const struct feed_ops *ops, const char *name, const void *data, size_t len,
                     const struct feed_options *opt, struct t_cap *c)
{
    struct feed_sink sink = {.event = t_on_event,
                             .reject = t_on_reject,
                             .warn = t_on_warn,
                             .progress = t_on_progress,
                             .arg = c};
    struct feed_input in = {.name = name, .data = data, .len = len};
    return ops->parse(&in, opt, &sink);
}

static int t_run(const struct feed_ops *ops, const char *text, struct t_cap *c)
{
    struct feed_options opt = {.file_mtime = 1700000000};
    return t_run_opt(ops, "mem.eml", text, strlen(text), &opt, c);
}

static bool t_contains_ci(const char *hay, const char *needle)
{
    return strcasestr(hay, needle) != NULL;
}

/* ---- building reports ---------------------------------------------------- */

#define T_OUTER_DEFAULT                                                                            \
    "Date: Tue, 3 Jun 2025 10:00:00 +0000\n"                                                       \
    "From: fbl@reporter.example\n"                                                                 \
    "To: fbl@bl.example\n"                                                                         \
    "Subject: report\n"                                                                            \
    "Message-ID: <t-1@reporter.example>\n"

#define T_FIELDS_DEFAULT                                                                           \
    "Feedback-Type: abuse\n"                                                                       \
    "User-Agent: TestFBL/1.0\n"                                                                    \
    "Version: 1\n"                                                                                 \
    "Arrival-Date: Tue, 3 Jun 2025 09:00:00 +0000\n"

#define T_ENCL_DEFAULT                                                                             \
    "Received: from mta.sender.example (mta.sender.example [192.0.2.80])\n"                        \
    "\tby mx.reporter.example (Postfix) with ESMTP id 1\n"                                         \
    "\tfor <u@reporter.example>; Tue, 3 Jun 2025 09:00:00 +0000\n"                                 \
    "From: a@sender.example\n"                                                                     \
    "Subject: hi\n"

/* An ARF report: outer header lines (NULL = default), the feedback
 * fields, the enclosed message's header (text/rfc822-headers). */
static char *t_report(const char *outer, const char *fields, const char *encl)
{
    char *s = NULL;
    int n = asprintf(&s,
                     "%s"
                     "MIME-Version: 1.0\n"
                     "Content-Type: multipart/report; report-type=feedback-report;\n"
                     "\tboundary=\"BND\"\n"
                     "\n"
                     "--BND\n"
                     "Content-Type: text/plain\n"
                     "\n"
                     "A complaint.\n"
                     "\n"
                     "--BND\n"
                     "Content-Type: message/feedback-report\n"
                     "\n"
                     "%s"
                     "\n"
                     "--BND\n"
                     "Content-Type: text/rfc822-headers\n"
                     "\n"
                     "%s"
                     "\n"
                     "--BND--\n",
                     outer ? outer : T_OUTER_DEFAULT, fields ? fields : T_FIELDS_DEFAULT,
                     encl ? encl : T_ENCL_DEFAULT);
    assert_true(n > 0);
    return s;
}

static char *t_crlf(const char *s)
{
    size_t n = strlen(s);
    char *o = malloc(2 * n + 1), *p = o;
    assert_non_null(o);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            *p++ = '\r';
        *p++ = s[i];
    }
    *p = '\0';
    return o;
}

/* Parse one in-memory report expecting one event; returns the capture. */
static struct t_cap *t_accept(const char *text, const char *ip, uint8_t kind, double weight)
{
    struct t_cap *c = t_cap_new();
    assert_int_equal(t_run(&feed_ops_arf, text, c), 0);
    if (c->nrej)
        fail_msg("unexpected rejection: %s", c->rej[0].why);
    assert_int_equal(c->nev, 1);
    assert_string_equal(c->ev[0].ip, ip);
    assert_int_equal(c->ev[0].kind, kind);
    assert_true(c->ev[0].weight == weight);
    assert_true(c->ev[0].has_key);
    return c;
}

static void t_reject(const char *text, const char *why)
{
    struct t_cap *c = t_cap_new();
    assert_int_equal(t_run(&feed_ops_arf, text, c), 0);
    assert_int_equal(c->nev, 0);
    assert_int_equal(c->nrej, 1);
    if (!t_contains_ci(c->rej[0].why, why))
        fail_msg("rejected with '%s', expected '%s'", c->rej[0].why, why);
    assert_int_equal(c->nwarn, 0);
    assert_int_equal(c->rej[0].raw_len, strlen(text));
    free(c);
}

/* ---- the fixtures of tests/fixtures/arf ---------------------------------- */

struct t_expect_event {
    const char *ip;
    uint8_t kind;
    double weight;
    int64_t time;
    long line; /* mbox separator line */
};

static const struct {
    const char *file;
    const char *reject; /* NULL = accepted */
    size_t nev;
    struct t_expect_event ev[3];
} t_fixtures[] = {
    {"01-abuse-ipv4.eml", NULL, 1, {{"192.0.2.45", EV_ABUSE, 1, 1748850496, 0}}},
    {"02-abuse-ipv6.eml", NULL, 1, {{"2001:db8:40::17", EV_ABUSE, 1, 1748853069, 0}}},
    {"03-jmrp-style-no-source-ip.eml", NULL, 1, {{"203.0.113.57", EV_ABUSE, 1, 1748843804, 0}}},
    {"04-base64-original-no-source-ip.eml",
     NULL,
     1,
     {{"198.51.100.73", EV_ABUSE, 1, 1748858727, 0}}},
    {"05-not-spam.eml", NULL, 1, {{"192.0.2.45", EV_NOT_SPAM, 1, 1748862892, 0}}},
    {"06-auth-failure.eml", NULL, 1, {{"198.51.100.99", EV_AUTH_FAILURE, 1, 1748867190, 0}}},
    {"07-malformed-missing-feedback-part.eml", "missing message/feedback-report part", 0, {{0}}},
    {"08-batch-3-reports.mbox",
     NULL,
     3,
     {{"203.0.113.57", EV_ABUSE, 1, 1748871185, 1},
      {"198.51.100.14", EV_FRAUD, 4, 1748872358, 42},
      {"192.0.2.45", EV_ABUSE, 1, 1748874439, 86}}},
};

#define T_NFIX (sizeof t_fixtures / sizeof t_fixtures[0])

static const char *t_fixture_dir(char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/arf", test_fixtures_dir());
    return buf;
}

static uint8_t *t_read_file(const char *path, size_t *len, int64_t *mtime)
{
    FILE *fp = fopen(path, "rb");
    struct stat st;
    assert_non_null(fp);
    assert_int_equal(fstat(fileno(fp), &st), 0);
    uint8_t *buf = malloc((size_t)st.st_size + 1);
    assert_non_null(buf);
    *len = fread(buf, 1, (size_t)st.st_size, fp);
    fclose(fp);
    *mtime = st.st_mtime;
    return buf;
}

static const char *t_kind_bucket[] = {
    [EV_ABUSE] = "abuse", [EV_FRAUD] = "fraud",       [EV_VIRUS] = "virus",
    [EV_OTHER] = "other", [EV_NOT_SPAM] = "not_spam", [EV_AUTH_FAILURE] = "auth_failure",
};

struct t_total {
    const char *ip;
    double abuse, fraud, virus, other, not_spam, auth_failure;
};

static void test_fixtures(void **state)
{
    (void)state;
    char dir[512];
    t_fixture_dir(dir, sizeof dir);
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("cannot open fixture directory %s (set DNSBL_FIXTURES)", dir);
    struct t_total totals[32];
    size_t ntotals = 0, seen = 0, accepted = 0, rejected = 0;
    memset(totals, 0, sizeof totals);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char path[1024];
        size_t len;
        int64_t mtime;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        uint8_t *data = t_read_file(path, &len, &mtime);

        /* Auto-detection picks the parser the README names. */
        int arf = feed_ops_arf.detect(data, len), mbox = feed_ops_mbox.detect(data, len);
        bool is_mbox = strstr(de->d_name, ".mbox") != NULL;
        if (is_mbox)
            assert_true(mbox > arf && mbox >= 90);
        else
            assert_true(arf > mbox && arf >= 90);

        struct feed_options opt = {.file_mtime = mtime};
        struct t_cap *c = t_cap_new();
        assert_int_equal(
            t_run_opt(is_mbox ? &feed_ops_mbox : &feed_ops_arf, path, data, len, &opt, c), 0);
        assert_int_equal(c->progress, len);
        assert_int_equal(c->nwarn, 0);
        accepted += c->nev;
        rejected += c->nrej;

        size_t f = 0;
        while (f < T_NFIX && strcmp(t_fixtures[f].file, de->d_name) != 0)
            f++;
        if (f == T_NFIX) {
            /* A fixture the README table here does not know: it must at
             * least give an outcome for every message. */
            print_message("note: %s has no expectation here; %zu events, %zu rejects\n", de->d_name,
                          c->nev, c->nrej);
            assert_true(c->nev + c->nrej >= 1);
        } else if (t_fixtures[f].reject) {
            seen++;
            assert_int_equal(c->nev, 0);
            assert_int_equal(c->nrej, 1);
            assert_true(t_contains_ci(c->rej[0].why, t_fixtures[f].reject));
            assert_string_equal(c->rej[0].file, path);
            assert_string_equal(c->rej[0].message_id, "no-fb-part-0007@halfdone.example.com");
            assert_int_equal(c->rej[0].raw_len, len);
        } else {
            seen++;
            assert_int_equal(c->nrej, 0);
            assert_int_equal(c->nev, t_fixtures[f].nev);
            for (size_t i = 0; i < c->nev; i++) {
                const struct t_expect_event *x = &t_fixtures[f].ev[i];
                assert_string_equal(c->ev[i].ip, x->ip);
                assert_int_equal(c->ev[i].plen, strchr(x->ip, ':') ? 128 : 32);
                assert_int_equal(c->ev[i].kind, x->kind);
                assert_true(c->ev[i].weight == x->weight);
                assert_int_equal(c->ev[i].time, x->time);
                assert_string_equal(c->ev[i].source, "arf");
                assert_true(c->ev[i].has_key);
                assert_non_null(strstr(c->ev[i].reason, " report from "));
            }
        }
        for (size_t i = 0; i < c->nev; i++) {
            size_t t = 0;
            while (t < ntotals && strcmp(totals[t].ip, c->ev[i].ip) != 0)
                t++;
            if (t == ntotals) {
                assert_true(ntotals < 32);
                totals[ntotals].ip = strdup(c->ev[i].ip);
                ntotals++;
            }
            double *b[] = {
                [EV_ABUSE] = &totals[t].abuse,       [EV_FRAUD] = &totals[t].fraud,
                [EV_VIRUS] = &totals[t].virus,       [EV_OTHER] = &totals[t].other,
                [EV_NOT_SPAM] = &totals[t].not_spam, [EV_AUTH_FAILURE] = &totals[t].auth_failure,
            };
            assert_true(c->ev[i].kind >= EV_ABUSE && c->ev[i].kind <= EV_AUTH_FAILURE);
            assert_non_null(t_kind_bucket[c->ev[i].kind]);
            *b[c->ev[i].kind] += c->ev[i].weight;
        }
        free(c);
        free(data);
    }
    closedir(d);
    assert_int_equal(seen, T_NFIX);

    /* The README's totals over every file, and 9 accepted / 1 rejected. */
    assert_true(accepted >= 9);
    assert_true(rejected >= 1);
    static const struct t_total want[] = {
        {"192.0.2.45", 2, 0, 0, 0, 1, 0},    {"2001:db8:40::17", 1, 0, 0, 0, 0, 0},
        {"203.0.113.57", 2, 0, 0, 0, 0, 0},  {"198.51.100.73", 1, 0, 0, 0, 0, 0},
        {"198.51.100.14", 0, 4, 0, 0, 0, 0}, {"198.51.100.99", 0, 0, 0, 0, 0, 1},
    };
    for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
        size_t t = 0;
        while (t < ntotals && strcmp(totals[t].ip, want[w].ip) != 0)
            t++;
        if (t == ntotals)
            fail_msg("no events for %s", want[w].ip);
        assert_true(totals[t].abuse == want[w].abuse);
        assert_true(totals[t].fraud == want[w].fraud);
        assert_true(totals[t].virus == want[w].virus);
        assert_true(totals[t].other == want[w].other);
        assert_true(totals[t].not_spam == want[w].not_spam);
        assert_true(totals[t].auth_failure == want[w].auth_failure);
    }
    static const char *const never[] = {
        "198.51.100.250", "198.51.100.251", "198.51.100.252",    "198.51.100.253",
        "198.51.100.254", "192.0.2.201",    "2001:db8:ffff::10", "203.0.113.199",
    };
    for (size_t t = 0; t < ntotals; t++) {
        for (size_t k = 0; k < sizeof never / sizeof never[0]; k++)
            if (strcmp(totals[t].ip, never[k]) == 0)
                fail_msg("%s must have no record", never[k]);
        free((char *)totals[t].ip);
    }
}

/* The auth outcome of fixture 06 (dmarc=fail, spf=fail, dkim=none) and of
 * 03 (all pass in the enclosed message's Authentication-Results). */
static void test_fixture_auth(void **state)
{
    (void)state;
    char dir[512], path[1024];
    static const struct {
        const char *file;
        uint8_t bits;
    } cases[] = {
        {"06-auth-failure.eml", AUTH_FAIL_SPF | AUTH_FAIL_DMARC},
        {"03-jmrp-style-no-source-ip.eml", 0},
        {"01-abuse-ipv4.eml", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", t_fixture_dir(dir, sizeof dir), cases[i].file);
        size_t len;
        int64_t mtime;
        uint8_t *data = t_read_file(path, &len, &mtime);
        struct t_cap *c = t_cap_new();
        struct feed_options opt = {.source = "fbl-x"};
        assert_int_equal(t_run_opt(&feed_ops_arf, path, data, len, &opt, c), 0);
        assert_int_equal(c->nev, 1);
        assert_int_equal(c->ev[0].auth_failed, cases[i].bits);
        assert_string_equal(c->ev[0].source, "fbl-x");
        free(c);
        free(data);
    }
}

/* ---- edge cases ---------------------------------------------------------- */

static void test_basic_and_reason(void **state)
{
    (void)state;
    char *r = t_report(NULL, NULL, NULL);
    struct t_cap *c = t_accept(r, "192.0.2.80", EV_ABUSE, 1);
    assert_string_equal(c->ev[0].reason, "abuse report from TestFBL/1.0");
    assert_string_equal(c->ev[0].source, "arf");
    assert_int_equal(c->nwarn, 0);
    free(c);
    free(r);

    /* Without a User-Agent the reason names the Reported-Domain. */
    r = t_report(NULL,
                 "Feedback-Type: fraud\nVersion: 1\nReported-Domain: sender.example\n"
                 "Source-IP: 192.0.2.80\n",
                 NULL);
    c = t_accept(r, "192.0.2.80", EV_FRAUD, 1);
    assert_string_equal(c->ev[0].reason, "fraud report from sender.example");
    assert_int_equal(c->nwarn, 1);
    assert_non_null(strstr(c->warn[0].why, "missing User-Agent"));
    assert_string_equal(c->warn[0].message_id, "t-1@reporter.example");
    free(c);
    free(r);
}

static void test_folded_headers(void **state)
{
    (void)state;
    /* report-type after boundary on a continuation line, quoted and in odd
     * case (Validity style); folded field values. */
    const char *text = T_OUTER_DEFAULT "MIME-Version: 1.0\n"
                                       "Content-Type: multipart/report;\n"
                                       "\tboundary=\"XY\";\n"
                                       "\treport-type=\"Feedback-Report\"\n"
                                       "\n"
                                       "--XY\n"
                                       "Content-Type: message/feedback-report\n"
                                       "\n"
                                       "Feedback-Type:\n"
                                       "   Abuse\n"
                                       "User-Agent: Folded/1.0\n"
                                       "Version: 1\n"
                                       "Source-IP:\n"
                                       "\t198.51.100.33\n"
                                       "Arrival-Date: Tue,\n"
                                       " 3 Jun 2025 09:30:00 +0000\n"
                                       "\n"
                                       "--XY\n"
                                       "Content-Type: message/rfc822\n"
                                       "\n"
                                       "Received: from a.sender.example\n"
                                       " (a.sender.example\n"
                                       "  [198.51.100.33])\n"
                                       " by mx.reporter.example; Tue, 3 Jun 2025 09:30:00 +0000\n"
                                       "Subject: x\n"
                                       "\n"
                                       "body\n"
                                       "--XY--\n";
    struct t_cap *c = t_accept(text, "198.51.100.33", EV_ABUSE, 1);
    assert_int_equal(c->ev[0].time, 1748943000);
    assert_int_equal(c->nwarn, 0);
    free(c);
}

static void test_crlf(void **state)
{
    (void)state;
    char *lf = t_report(NULL, NULL, NULL);
    char *crlf = t_crlf(lf);
    struct t_cap *a = t_accept(lf, "192.0.2.80", EV_ABUSE, 1);
    struct t_cap *b = t_accept(crlf, "192.0.2.80", EV_ABUSE, 1);
    assert_int_equal(a->ev[0].time, b->ev[0].time);
    assert_string_equal(a->ev[0].reason, b->ev[0].reason);
    /* The same report saved with either line ending is one report. */
    assert_memory_equal(a->ev[0].key, b->ev[0].key, FEED_DEDUP_LEN);
    free(a);
    free(b);

    /* Mixed endings in one message. */
    char *mixed = strdup(crlf);
    char *half = mixed + strlen(mixed) / 2;
    char *cr = strchr(half, '\r');
    assert_non_null(cr);
    memmove(cr, cr + 1, strlen(cr));
    a = t_accept(mixed, "192.0.2.80", EV_ABUSE, 1);
    free(a);
    free(mixed);
    free(crlf);
    free(lf);
}

static void test_dedup_key(void **state)
{
    (void)state;
    char *r1 = t_report(NULL, NULL, NULL);
    struct t_cap *a = t_accept(r1, "192.0.2.80", EV_ABUSE, 1);
    struct t_cap *b = t_accept(r1, "192.0.2.80", EV_ABUSE, 1);
    assert_memory_equal(a->ev[0].key, b->ev[0].key, FEED_DEDUP_LEN);

    /* Same Message-ID, one byte different: two reports. */
    char *r2 = t_report(NULL, NULL,
                        "Received: from mta.sender.example (mta.sender.example [192.0.2.80])\n"
                        "\tby mx.reporter.example; Tue, 3 Jun 2025 09:00:00 +0000\n"
                        "Subject: hj\n");
    struct t_cap *d = t_accept(r2, "192.0.2.80", EV_ABUSE, 1);
    assert_memory_not_equal(a->ev[0].key, d->ev[0].key, FEED_DEDUP_LEN);

    /* The key is Message-ID plus SHA-256 of the LF-normalised bytes. */
    uint8_t want[FEED_DEDUP_LEN];
    const char *mid = "t-1@reporter.example";
    const void *parts[3] = {mid, "", r1};
    size_t lens[3] = {strlen(mid), 1, strlen(r1)};
    feed_dedup_key(want, parts, lens, 3);
    assert_memory_equal(a->ev[0].key, want, FEED_DEDUP_LEN);
    free(a);
    free(b);
    free(d);
    free(r1);
    free(r2);
}

static void test_rejections(void **state)
{
    (void)state;
    char *r;
    r = t_report(NULL, "User-Agent: X/1\nVersion: 1\nSource-IP: 192.0.2.1\n", NULL);
    t_reject(r, "missing Feedback-Type");
    free(r);

    r = t_report(NULL, T_FIELDS_DEFAULT "Source-IP: 192.0.2.1\nSource-IP: 192.0.2.2\n", NULL);
    t_reject(r, "duplicate field Source-IP");
    free(r);

    r = t_report(NULL, T_FIELDS_DEFAULT "feedback-type: fraud\n", NULL);
    t_reject(r, "duplicate field Feedback-Type");
    free(r);

    r = t_report(NULL, T_FIELDS_DEFAULT "Received-Date: Tue, 3 Jun 2025 09:00:00 +0000\n", NULL);
    t_reject(r, "duplicate field");
    free(r);

    r = t_report(NULL, T_FIELDS_DEFAULT "Source-IP: 192.0.2.300\n", NULL);
    t_reject(r, "invalid Source-IP");
    free(r);

    r = t_report(NULL, T_FIELDS_DEFAULT "Source-IP: mx.example.net\n", NULL);
    t_reject(r, "invalid Source-IP");
    free(r);

    r = t_report(NULL, T_FIELDS_DEFAULT "Source-IP: 192.0.2.0/24\n", NULL);
    t_reject(r, "invalid Source-IP");
    free(r);

    r = t_report(NULL, T_FIELDS_DEFAULT "Source-IP: 10.1.2.3\n", NULL);
    t_reject(r, "refusing to score non-public address 10.1.2.3");
    free(r);

    r = t_report(NULL, T_FIELDS_DEFAULT "Source-IP: ::1\n", NULL);
    t_reject(r, "refusing to score non-public address ::1");
    free(r);

    /* Neither Source-IP nor any usable hop or SPF header. */
    r = t_report(NULL, T_FIELDS_DEFAULT,
                 "Received: from localhost (localhost [127.0.0.1]) by mx.example\n"
                 "Received: by mx.example with local\n"
                 "Subject: x\n");
    t_reject(r, "no source IP could be determined");
    free(r);

    /* An ordinary message, and a delivery report. */
    t_reject(T_OUTER_DEFAULT "Content-Type: text/plain\n\nHello 192.0.2.1\n",
             "not a feedback report");
    t_reject(T_OUTER_DEFAULT "Content-Type: multipart/report; report-type=delivery-status; "
                             "boundary=\"B\"\n\n--B\nContent-Type: text/plain\n\nbounced\n"
                             "--B\nContent-Type: message/delivery-status\n\n"
                             "Reporting-MTA: dns; mx.example\n\n--B--\n",
             "not a feedback report");
    t_reject("", "not a feedback report");
    t_reject("just some text\nwith lines\n", "not a feedback report");
}

static void test_source_ip_forms(void **state)
{
    (void)state;
    static const struct {
        const char *field;
        const char *ip;
    } cases[] = {
        {"Source-IP: [192.0.2.7]\n", "192.0.2.7"},
        {"Source-IP:   192.0.2.8 (mx.example.net)\n", "192.0.2.8"},
        {"Source-IP: [IPv6:2001:DB8:0:0::9]\n", "2001:db8::9"},
        {"Source-IP: ::ffff:192.0.2.10\n", "192.0.2.10"},
        {"Source-IP: 2001:db8::a comment\n", "2001:db8::a"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char fields[256];
        snprintf(fields, sizeof fields, "%s%s", T_FIELDS_DEFAULT, cases[i].field);
        /* An enclosed header without hops: no disagreement warning. */
        char *r = t_report(NULL, fields, "Subject: x\n");
        struct t_cap *c = t_accept(r, cases[i].ip, EV_ABUSE, 1);
        assert_int_equal(c->nwarn, 0);
        free(c);
        free(r);
    }
}

static void test_warnings(void **state)
{
    (void)state;
    /* Unknown type -> other; bad Incidents -> 1; no Version. */
    char *r = t_report(NULL,
                       "Feedback-Type: opt-out\nUser-Agent: X/1\nIncidents: many\n"
                       "Source-IP: 192.0.2.80\n",
                       NULL);
    struct t_cap *c = t_accept(r, "192.0.2.80", EV_OTHER, 1);
    assert_int_equal(c->nwarn, 3);
    bool unknown = false, incidents = false, version = false;
    for (size_t i = 0; i < c->nwarn; i++) {
        unknown |= strstr(c->warn[i].why, "opt-out") != NULL;
        incidents |= strstr(c->warn[i].why, "Incidents") != NULL;
        version |= strstr(c->warn[i].why, "missing Version") != NULL;
    }
    assert_true(unknown && incidents && version);
    free(c);
    free(r);

    r = t_report(NULL, T_FIELDS_DEFAULT "Incidents: 0\nSource-IP: 192.0.2.80\n", NULL);
    c = t_accept(r, "192.0.2.80", EV_ABUSE, 1);
    assert_int_equal(c->nwarn, 1);
    free(c);
    free(r);

    r = t_report(NULL, T_FIELDS_DEFAULT "Incidents: 12\n", NULL);
    c = t_accept(r, "192.0.2.80", EV_ABUSE, 12);
    assert_int_equal(c->nwarn, 0);
    free(c);
    free(r);

    /* Source-IP wins over the Received walk, with a warning. */
    r = t_report(NULL, T_FIELDS_DEFAULT "Source-IP: 198.51.100.5\n", NULL);
    c = t_accept(r, "198.51.100.5", EV_ABUSE, 1);
    assert_int_equal(c->nwarn, 1);
    assert_non_null(strstr(c->warn[0].why, "192.0.2.80"));
    free(c);
    free(r);

    /* Every Feedback-Type value and its kind, case-insensitively. */
    static const struct {
        const char *type;
        uint8_t kind;
    } kinds[] = {
        {"abuse", EV_ABUSE}, {"FRAUD", EV_FRAUD},       {"Virus", EV_VIRUS},
        {"other", EV_OTHER}, {"not-spam", EV_NOT_SPAM}, {"auth-failure", EV_AUTH_FAILURE},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        char fields[256];
        snprintf(fields, sizeof fields, "Feedback-Type: %s\nUser-Agent: X/1\nVersion: 0.1\n",
                 kinds[i].type);
        r = t_report(NULL, fields, NULL);
        c = t_accept(r, "192.0.2.80", kinds[i].kind, 1);
        assert_int_equal(c->nwarn, 0);
        free(c);
        free(r);
    }
}

static void test_received_walk(void **state)
{
    (void)state;
    static const struct {
        const char *encl;
        const char *ip;
    } cases[] = {
        /* Exim: the literal after "from", with its port. */
        {"Received: from [192.0.2.1]:51234 (helo=mail.sender.example)\n"
         "\tby mx.reporter.example with esmtps id 1; Tue, 3 Jun 2025 09:00:00 +0000\n",
         "192.0.2.1"},
        /* Exim with rDNS: bracketed literal with port inside the group; the
         * HELO argument is what the client claimed and is not used. */
        {"Received: from mail.sender.example ([192.0.2.2]:40000 helo=[10.9.9.9])\n"
         "\tby mx.reporter.example with esmtp; Tue, 3 Jun 2025 09:00:00 +0000\n",
         "192.0.2.2"},
        {"Received: from x ([10.9.9.9] helo=[198.51.100.200]) by mx.reporter.example\n"
         "Received: from y (y [198.51.100.201]) by x\n",
         "198.51.100.201"},
        /* Postfix IPv6. */
        {"Received: from v6.sender.example (v6.sender.example [IPv6:2001:db8::1])\n"
         "\tby mx.reporter.example (Postfix) with ESMTPS; Tue, 3 Jun 2025 09:00:00 +0000\n",
         "2001:db8::1"},
        /* Microsoft: the address in parentheses without brackets. */
        {"Received: from mta.sender.example (2001:db8:5::25) by\n"
         " edge.reporter.example (2001:db8:ffff::10) with Microsoft SMTP Server\n",
         "2001:db8:5::25"},
        /* Hops without an address and non-public hops are skipped; the
         * sender's own hop below the edge is never used. */
        {"Received: by mx.reporter.example with local\n"
         "Received: from internal (internal [10.0.0.5]) by mx.reporter.example\n"
         "Received: from relay (relay [fe80::1]) by internal\n"
         "Received: from edge.sender.example (edge.sender.example [203.0.113.44])\n"
         " by relay\n"
         "Received: from app.sender.example (app [192.0.2.201]) by edge.sender.example\n",
         "203.0.113.44"},
        /* sendmail's "(may be forged)" and qmail-ish HELO words. */
        {"Received: from helo.example (rdns.example [198.51.100.61] (may be forged))\n"
         " by mx.reporter.example (8.15.2/8.15.2) with ESMTP id x\n",
         "198.51.100.61"},
        /* A default reporter-internal suffix is skipped. */
        {"Received: from BN8.prod.protection.outlook.com (198.51.100.90) by a.outlook.com\n"
         "Received: from out.sender.example (203.0.113.91) by BN8.prod.protection.outlook.com\n",
         "203.0.113.91"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char encl[1024];
        snprintf(encl, sizeof encl, "%sSubject: x\n", cases[i].encl);
        char *r = t_report(NULL, T_FIELDS_DEFAULT, encl);
        struct t_cap *c = t_cap_new();
        assert_int_equal(t_run(&feed_ops_arf, r, c), 0);
        if (c->nev != 1)
            fail_msg("case %zu: %s", i, c->nrej ? c->rej[0].why : "no event");
        assert_string_equal(c->ev[0].ip, cases[i].ip);
        free(c);
        free(r);
    }
}

static void test_internal_suffixes(void **state)
{
    (void)state;
    const char *encl =
        "Received: from DM6.prod.outlook.example (198.51.100.120) by DM7.prod.outlook.example\n"
        "Received: from mta.sender.example (mta.sender.example [203.0.113.60]) by\n"
        " DM6.prod.outlook.example with ESMTP\n"
        "Subject: x\n";
    char *r = t_report(NULL, T_FIELDS_DEFAULT, encl);
    /* Defaults do not know the stand-in names. */
    struct t_cap *c = t_accept(r, "198.51.100.120", EV_ABUSE, 1);
    free(c);

    static const char *const suffixes[] = {".outlook.example", NULL};
    struct feed_options opt = {.internal_suffixes = suffixes};
    c = t_cap_new();
    assert_int_equal(t_run_opt(&feed_ops_arf, "s.eml", r, strlen(r), &opt, c), 0);
    assert_int_equal(c->nev, 1);
    assert_string_equal(c->ev[0].ip, "203.0.113.60");
    free(c);
    free(r);
}

static void test_fallbacks(void **state)
{
    (void)state;
    /* Rule 4: Received-SPF client-ip when no hop gives an address. */
    char *r = t_report(NULL, T_FIELDS_DEFAULT,
                       "Received: from a.outlook.com by b.outlook.com with HTTPS\n"
                       "Received-SPF: Pass (protection.outlook.example: domain of x designates\n"
                       " 198.51.100.7 as permitted sender) receiver=p; client-ip=198.51.100.7;\n"
                       " helo=mta.sender.example;\n"
                       "Subject: x\n");
    struct t_cap *c = t_accept(r, "198.51.100.7", EV_ABUSE, 1);
    free(c);
    free(r);

    /* Rule 4: Authentication-Results "(sender IP is ...)". */
    r = t_report(NULL, T_FIELDS_DEFAULT,
                 "Authentication-Results: spf=fail (sender IP is 2001:db8:77::1)\n"
                 " smtp.mailfrom=x.example; dkim=fail header.d=x.example; dmarc=pass\n"
                 "Subject: x\n");
    c = t_accept(r, "2001:db8:77::1", EV_ABUSE, 1);
    /* The enclosed A-R gives the auth outcome when the report has none. */
    assert_int_equal(c->ev[0].auth_failed, AUTH_FAIL_SPF | AUTH_FAIL_DKIM);
    free(c);
    free(r);

    /* The report's own Authentication-Results comes first. */
    r = t_report(NULL,
                 T_FIELDS_DEFAULT "Authentication-Results: mx.example; spf=softfail\n"
                                  " smtp.mailfrom=x; dkim=pass (ok) header.d=x\n",
                 "Authentication-Results: mx; dkim=fail; dmarc=fail\n" T_ENCL_DEFAULT);
    c = t_accept(r, "192.0.2.80", EV_ABUSE, 1);
    assert_int_equal(c->ev[0].auth_failed, AUTH_FAIL_SPF);
    free(c);
    free(r);
}

static void test_legacy_jmrp(void **state)
{
    (void)state;
    const char *text = "From: staff@hotmail.example\n"
                       "To: jmrp@bl.example\n"
                       "Subject: complaint about message from 203.0.113.9\n"
                       "Message-ID: <jmrp-1@hotmail.example>\n"
                       "Date: Tue, 3 Jun 2025 12:00:00 +0000\n"
                       "MIME-Version: 1.0\n"
                       "Content-Type: multipart/mixed; boundary=\"J\"\n"
                       "\n"
                       "--J\n"
                       "Content-Type: message/rfc822\n"
                       "Content-Disposition: inline\n"
                       "\n"
                       "X-HmXmrOriginalRecipient: <someone@outlook.example>\n"
                       "Received: from mta.sender.example (198.51.100.222) by edge.example\n"
                       "Subject: x\n"
                       "\n"
                       "body\n"
                       "--J--\n";
    struct t_cap *c = t_accept(text, "203.0.113.9", EV_ABUSE, 1);
    assert_int_equal(c->ev[0].time, 1748952000); /* the Date header */
    assert_int_equal(c->nwarn, 0);
    free(c);

    /* Detection relies on the subject and structure, not on From. */
    assert_true(feed_ops_arf.detect((const uint8_t *)text, strlen(text)) >= 90);

    /* A JMRP subject without an attached message is not a report. */
    t_reject("Subject: complaint about message from 203.0.113.9\n\nhello\n",
             "not a feedback report");
}

static void test_event_time(void **state)
{
    (void)state;
    /* Arrival-Date wins over Date. */
    char *r = t_report(NULL, NULL, NULL);
    struct t_cap *c = t_accept(r, "192.0.2.80", EV_ABUSE, 1);
    assert_int_equal(c->ev[0].time, 1748941200); /* 3 Jun 2025 09:00:00 */
    free(c);
    free(r);

    /* Received-Date is the historic name. */
    r = t_report(NULL,
                 "Feedback-Type: abuse\nUser-Agent: X/1\nVersion: 1\n"
                 "Received-Date: Tue, 3 Jun 2025 08:00:00 +0000\n",
                 NULL);
    c = t_accept(r, "192.0.2.80", EV_ABUSE, 1);
    assert_int_equal(c->ev[0].time, 1748937600);
    free(c);
    free(r);

    /* No Arrival-Date: the outer Date. */
    r = t_report(NULL, "Feedback-Type: abuse\nUser-Agent: X/1\nVersion: 1\n", NULL);
    c = t_accept(r, "192.0.2.80", EV_ABUSE, 1);
    assert_int_equal(c->ev[0].time, 1748944800); /* 3 Jun 2025 10:00:00 */
    free(c);
    free(r);

    /* Neither: the file time; an unparseable Arrival-Date warns. */
    r = t_report("Subject: s\n",
                 "Feedback-Type: abuse\nUser-Agent: X/1\nVersion: 1\n"
                 "Arrival-Date: yesterday-ish\n",
                 NULL);
    c = t_accept(r, "192.0.2.80", EV_ABUSE, 1);
    assert_int_equal(c->ev[0].time, 1700000000);
    assert_int_equal(c->nwarn, 1);
    assert_non_null(strstr(c->warn[0].why, "Arrival-Date"));
    free(c);
    free(r);
}

static void test_base64_parts(void **state)
{
    (void)state;
    /* Quoted-printable feedback fields and a base64 text/rfc822-headers. */
    const char *text =
        T_OUTER_DEFAULT "Content-Type: multipart/report; report-type=feedback-report; "
                        "boundary=\"Q\"\n"
                        "\n"
                        "--Q\n"
                        "Content-Type: message/feedback-report\n"
                        "Content-Transfer-Encoding: quoted-printable\n"
                        "\n"
                        "Feedback-Type: virus\n"
                        "User-Agent: QP/1=2E0\n"
                        "Version: 1\n"
                        "\n"
                        "--Q\n"
                        "Content-Type: text/rfc822-headers\n"
                        "Content-Transfer-Encoding: base64\n"
                        "\n"
                        /* Received: from h (h [198.51.100.44]) by mx\nSubject: x\n */
                        "UmVjZWl2ZWQ6IGZyb20gaCAoaCBbMTk4LjUxLjEwMC40NF0pIGJ5IG14ClN1YmplY3Q6IHgK\n"
                        "--Q--\n";
    struct t_cap *c = t_accept(text, "198.51.100.44", EV_VIRUS, 1);
    assert_string_equal(c->ev[0].reason, "virus report from QP/1.0");
    free(c);
}

static void test_enclosed_variants(void **state)
{
    (void)state;
    static const char *const variants[] = {
        /* message/rfc822 with a blank line before the enclosed header */
        "Content-Type: message/rfc822\n"
        "\n"
        "\n"
        "Received: from h (h [198.51.100.45]) by mx\n"
        "Subject: x\n"
        "\n"
        "body\n",
        /* the original as an opaque .eml file, base64 */
        "Content-Type: application/octet-stream; name=\"original.eml\"\n"
        "Content-Transfer-Encoding: base64\n"
        "\n"
        "UmVjZWl2ZWQ6IGZyb20gaCAoaCBbMTk4LjUxLjEwMC40NV0pIGJ5IG14ClN1YmplY3Q6IHgK\n",
        /* an unnamed opaque part inside the report */
        "Content-Type: application/octet-stream\n"
        "\n"
        "Received: from h (h [198.51.100.45]) by mx\n"
        "Subject: x\n",
        /* the misspelt singular type, quoted-printable */
        "Content-Type: text/rfc822-header\n"
        "Content-Transfer-Encoding: quoted-printable\n"
        "\n"
        "Received: from h (h [198.51.100=2E45]) by mx\n"
        "Subject: x\n",
    };
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        char *text = NULL;
        assert_true(asprintf(&text,
                             T_OUTER_DEFAULT "Content-Type: multipart/report; "
                                             "report-type=feedback-report; boundary=\"V\"\n"
                                             "\n"
                                             "--V\n"
                                             "Content-Type: message/feedback-report\n"
                                             "\n" T_FIELDS_DEFAULT "\n"
                                             "--V\n"
                                             "%s"
                                             "--V--\n",
                             variants[i]) > 0);
        struct t_cap *c = t_cap_new();
        assert_int_equal(t_run(&feed_ops_arf, text, c), 0);
        if (c->nev != 1)
            fail_msg("variant %zu: %s", i, c->nrej ? c->rej[0].why : "no event");
        assert_string_equal(c->ev[0].ip, "198.51.100.45");
        free(c);
        free(text);
    }
}

static const char t_mbox[] = "From fbl@reporter.example Tue Jun  3 10:00:00 2025\n"
                             "Message-ID: <m1@reporter.example>\n"
                             "Content-Type: multipart/report; report-type=feedback-report;"
                             " boundary=\"M\"\n"
                             "\n"
                             "--M\n"
                             "Content-Type: text/plain\n"
                             "\n"
                             ">From the user: stop.\n"
                             ">>From quoted twice\n"
                             "\n"
                             "--M\n"
                             "Content-Type: message/feedback-report\n"
                             "\n"
                             "Feedback-Type: abuse\nUser-Agent: X/1\nVersion: 1\n"
                             "Source-IP: 192.0.2.91\n"
                             "\n"
                             "--M--\n"
                             "\n"
                             "From fbl@reporter.example Tue Jun  3 10:00:01 2025\n"
                             "Subject: not a report\n"
                             "\n"
                             "hello\n"
                             "\n"
                             "From fbl@reporter.example Tue Jun  3 10:00:02 2025\n"
                             "Message-ID: <m3@reporter.example>\n"
                             "Content-Type: multipart/report; report-type=feedback-report;"
                             " boundary=\"M\"\n"
                             "\n"
                             "--M\n"
                             "Content-Type: message/feedback-report\n"
                             "\n"
                             "Feedback-Type: fraud\nUser-Agent: X/1\nVersion: 1\n"
                             "Source-IP: 2001:db8::91\nIncidents: 3\n"
                             "\n"
                             "--M--\n"
                             "\n";

static void test_mbox(void **state)
{
    (void)state;
    struct t_cap *c = t_cap_new();
    struct feed_options opt = {0};
    assert_int_equal(t_run_opt(&feed_ops_mbox, "box", t_mbox, strlen(t_mbox), &opt, c), 0);
    assert_int_equal(c->nev, 2);
    assert_string_equal(c->ev[0].ip, "192.0.2.91");
    assert_string_equal(c->ev[1].ip, "2001:db8::91");
    assert_int_equal(c->ev[1].kind, EV_FRAUD);
    assert_true(c->ev[1].weight == 3);
    assert_int_equal(c->nrej, 1);
    assert_non_null(strstr(c->rej[0].why, "not a feedback report"));
    assert_int_equal(c->rej[0].line, 21);
    assert_string_equal(c->rej[0].file, "box");
    /* The rejected record is the message without its separator line. */
    assert_int_equal(strncmp(c->rej[0].raw_head, "Subject: not a report\n", 22), 0);
    assert_int_equal(c->rej[0].raw_len, strlen("Subject: not a report\n\nhello\n"));
    assert_int_equal(c->progress, strlen(t_mbox));

    /* The first message as a lone .eml, unescaped, is the same report. */
    const char *first = strchr(t_mbox, '\n') + 1;
    const char *sep = strstr(first, "\n\nFrom ");
    size_t n = (size_t)(sep - first) + 1;
    char *eml = strndup(first, n);
    char *p;
    while ((p = strstr(eml, ">From the user")))
        memmove(p, p + 1, strlen(p));
    while ((p = strstr(eml, ">>From")))
        memmove(p, p + 1, strlen(p));
    struct t_cap *e = t_accept(eml, "192.0.2.91", EV_ABUSE, 1);
    assert_memory_equal(e->ev[0].key, c->ev[0].key, FEED_DEDUP_LEN);
    free(e);
    free(eml);

    /* The same file with CRLF: same events, same keys, same lines. */
    char *crlf = t_crlf(t_mbox);
    struct t_cap *d = t_cap_new();
    assert_int_equal(t_run_opt(&feed_ops_mbox, "box", crlf, strlen(crlf), &opt, d), 0);
    assert_int_equal(d->nev, 2);
    assert_int_equal(d->nrej, 1);
    assert_int_equal(d->rej[0].line, 21);
    for (size_t i = 0; i < 2; i++)
        assert_memory_equal(d->ev[i].key, c->ev[i].key, FEED_DEDUP_LEN);
    free(d);
    free(crlf);
    free(c);

    /* A sink that says stop stops the batch, and its value comes back. */
    c = t_cap_new();
    c->stop_after = 1;
    assert_int_equal(t_run_opt(&feed_ops_mbox, "box", t_mbox, strlen(t_mbox), &opt, c), 9);
    assert_int_equal(c->nev, 1);
    assert_int_equal(c->nrej, 0);
    free(c);

    /* A "From " line not after a blank line does not split. */
    const char *nosplit = "From a Tue Jun  3 10:00:00 2025\n"
                          "Subject: complaint about message from 192.0.2.99\n"
                          "Content-Type: multipart/mixed; boundary=\"Z\"\n"
                          "\n"
                          "--Z\n"
                          "Content-Type: message/rfc822\n"
                          "\n"
                          "Subject: y\n"
                          "From someone unescaped\n"
                          "\n"
                          "--Z--\n";
    c = t_cap_new();
    assert_int_equal(t_run_opt(&feed_ops_mbox, "box", nosplit, strlen(nosplit), &opt, c), 0);
    assert_int_equal(c->nev, 1);
    assert_int_equal(c->nrej, 0);
    assert_string_equal(c->ev[0].ip, "192.0.2.99");
    free(c);
}

static void test_detect(void **state)
{
    (void)state;
    char *r = t_report(NULL, NULL, NULL);
    const uint8_t *d = (const uint8_t *)r;
    assert_true(feed_ops_arf.detect(d, strlen(r)) >= 90);
    assert_true(feed_ops_mbox.detect(d, strlen(r)) == 0);
    free(r);
    const uint8_t *m = (const uint8_t *)t_mbox;
    assert_true(feed_ops_mbox.detect(m, strlen(t_mbox)) >= 90);
    assert_true(feed_ops_arf.detect(m, strlen(t_mbox)) < 50);
    static const char csv[] = "192.0.2.1,abuse,1,2025-06-01T00:00:00Z,x\n";
    assert_true(feed_ops_arf.detect((const uint8_t *)csv, strlen(csv)) < 50);
    assert_int_equal(feed_ops_mbox.detect((const uint8_t *)csv, strlen(csv)), 0);
    assert_true(feed_ops_arf.detect((const uint8_t *)"", 0) < 50);
    assert_ptr_equal(feed_find("arf"), &feed_ops_arf);
    assert_ptr_equal(feed_find("mbox"), &feed_ops_mbox);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures),
        cmocka_unit_test(test_fixture_auth),
        cmocka_unit_test(test_basic_and_reason),
        cmocka_unit_test(test_folded_headers),
        cmocka_unit_test(test_crlf),
        cmocka_unit_test(test_dedup_key),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_source_ip_forms),
        cmocka_unit_test(test_warnings),
        cmocka_unit_test(test_received_walk),
        cmocka_unit_test(test_internal_suffixes),
        cmocka_unit_test(test_fallbacks),
        cmocka_unit_test(test_legacy_jmrp),
        cmocka_unit_test(test_event_time),
        cmocka_unit_test(test_base64_parts),
        cmocka_unit_test(test_enclosed_variants),
        cmocka_unit_test(test_mbox),
        cmocka_unit_test(test_detect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
