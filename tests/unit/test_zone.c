/* Unit tests for zone: a zone's apex from a master file or synthesised,
 * its RRsets found by owner, glue linked to NS sets, the negative TTL of
 * RFC 2308, what a bad file is refused for, and the zone set: the longest
 * apex wins, at a label boundary, in any case. Files go to a directory
 * under $TMPDIR, removed afterwards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "zone.h"

static char dir[512];

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/test_zone.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A zone_config for name with the default policy; file (written to the
 * scratch directory) when text is not NULL. */
static struct zone_config zc_make(const char *name, const char *file, const char *text)
{
    struct zone_config zc;
    memset(&zc, 0, sizeof zc);
    snprintf(zc.name, sizeof zc.name, "%s", name);
    policy_defaults(&zc.policy);
    acl_init(&zc.acl);
    if (text) {
        snprintf(zc.file, sizeof zc.file, "%s/%s", dir, file);
        FILE *f = fopen(zc.file, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
    }
    return zc;
}

/* Text name -> wire (lower case as given), the parser's label offsets. */
static struct zone_qname qname(const char *text, uint8_t *buf, size_t cap)
{
    struct zone_qname q;
    memset(&q, 0, sizeof q);
    size_t len = 0;
    const char *p = text;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        assert_true(len + n + 2 <= cap);
        q.off[q.n++] = (uint8_t)len;
        buf[len++] = (uint8_t)n;
        memcpy(buf + len, p, n);
        len += n;
        p += n + (dot ? 1 : 0);
    }
    q.off[q.n++] = (uint8_t)len;
    buf[len++] = 0;
    q.wire = buf;
    q.len = (uint16_t)len;
    return q;
}

static size_t owner_wire(const char *text, uint8_t *buf)
{
    struct zone_qname q = qname(text, buf, ZONE_NAME_MAX);
    return q.len;
}

#define ZONE_FILE                                                                                  \
    "$TTL 7200\n"                                                                                  \
    "@ 86400 IN SOA ns1.bl.example. hostmaster.bl.example. 1 3600 600 604800 300\n"                \
    "@ IN NS ns1.bl.example.\n"                                                                    \
    "@ IN NS ns2.elsewhere.example.\n"                                                             \
    "ns1 IN A 192.0.2.53\n"                                                                        \
    "ns1 IN AAAA 2001:db8::53\n"                                                                   \
    "@ IN TXT \"a list for tests\"\n"                                                              \
    "deep.below.sub IN TXT \"far down\"\n"

static void test_load_from_file(void **state)
{
    (void)state;
    struct zone_config zc = zc_make("BL.Example.", "bl.zone", ZONE_FILE);
    zc.policy.ttl = 99;
    struct addr_prefix p;
    assert_int_equal(addr_parse("198.51.100.0/24", &p, NULL, 0), DNSBL_OK);
    assert_int_equal(acl_add(&zc.acl, &p, ACL_REFUSE), DNSBL_OK);
    struct zone *z = NULL;
    char why[512] = "";
    assert_int_equal(zone_load(&zc, &z, why, sizeof why), DNSBL_OK);

    /* the name lower case without its dot; the apex in wire form */
    assert_string_equal(z->name, "bl.example");
    uint8_t apex[ZONE_NAME_MAX];
    size_t apex_len = owner_wire("bl.example", apex);
    assert_int_equal(z->apex_len, apex_len);
    assert_memory_equal(z->apex, apex, apex_len);
    assert_int_equal(z->apex_labels, 3);
    assert_false(z->synthesised);
    /* the config's policy and ACL go with the zone */
    assert_int_equal(z->policy.ttl, 99);
    assert_int_equal(z->acl.n, 1);

    /* RFC 2308: the negative TTL is min(SOA TTL, SOA MINIMUM) */
    assert_int_equal(z->soa.ttl, 86400);
    assert_int_equal(z->neg_ttl, 300);
    assert_int_equal(z->soa_neg.ttl, 300);
    assert_int_equal(z->soa.count, 1);

    /* apex: SOA, NS (2 RRs), TXT */
    size_t first = 0;
    assert_int_equal(zone_find_owner(z, apex, apex_len, &first), 3);
    for (size_t i = first; i < first + 3; i++) {
        const struct zone_rrset *s = &z->sets[i];
        if (s->type == 2 /* NS */) {
            assert_int_equal(s->count, 2);
            assert_int_equal(s->ttl, 7200); /* $TTL */
            /* glue: only ns1's A and AAAA, the other name is out of zone */
            assert_int_equal(s->nadditional, 2);
            for (size_t k = 0; k < s->nadditional; k++) {
                const struct zone_rrset *g = &z->sets[s->additional[k]];
                assert_true(g->type == 1 || g->type == 28);
            }
        }
    }

    uint8_t o[ZONE_NAME_MAX];
    size_t olen = owner_wire("ns1.bl.example", o);
    assert_int_equal(zone_find_owner(z, o, olen, &first), 2);
    olen = owner_wire("nope.bl.example", o);
    assert_int_equal(zone_find_owner(z, o, olen, &first), 0);

    /* empty non-terminals: below.sub and sub have a name below them */
    olen = owner_wire("sub.bl.example", o);
    assert_int_equal(zone_find_owner(z, o, olen, &first), 0);
    assert_true(zone_has_below(z, o, olen));
    olen = owner_wire("below.sub.bl.example", o);
    assert_true(zone_has_below(z, o, olen));
    olen = owner_wire("deep.below.sub.bl.example", o);
    assert_false(zone_has_below(z, o, olen));
    assert_int_equal(zone_find_owner(z, o, olen, &first), 1);
    assert_int_equal(zone_owner_len_max(z), olen);
    olen = owner_wire("ns1.bl.example", o);
    assert_false(zone_has_below(z, o, olen));
    zone_free(z);
}

static void test_synthesised(void **state)
{
    (void)state;
    struct zone_config zc = zc_make("score.example", NULL, NULL);
    struct zone *z = NULL;
    char why[512] = "";
    assert_int_equal(zone_load(&zc, &z, why, sizeof why), DNSBL_OK);
    assert_true(z->synthesised);
    assert_int_equal(z->soa.count, 1);
    assert_true(z->neg_ttl > 0 && z->neg_ttl <= z->soa.ttl);
    /* SOA and NS at the apex, nothing else */
    size_t first = 0;
    assert_int_equal(zone_find_owner(z, z->apex, z->apex_len, &first), 2);
    assert_int_equal(z->nsets, 2);
    assert_false(zone_has_below(z, z->apex, z->apex_len));
    zone_free(z);
}

static void expect_refused(const char *name, const char *text, const char *want)
{
    struct zone_config zc = zc_make(name, "bad.zone", text);
    struct zone *z = NULL;
    char why[512] = "";
    assert_int_not_equal(zone_load(&zc, &z, why, sizeof why), DNSBL_OK);
    assert_null(z);
    if (!strstr(why, want))
        fail_msg("'%s' does not say '%s'", why, want);
}

static void test_bad_files(void **state)
{
    (void)state;
    expect_refused("bl.example", "@ 3600 IN NS ns.bl.example.\n", "no SOA record");
    expect_refused("bl.example",
                   "@ 3600 IN SOA a.example. b.example. 1 2 3 4 5\n"
                   "@ 3600 IN SOA a.example. b.example. 2 2 3 4 5\n",
                   "more than one SOA");
    expect_refused("bl.example", "sub 3600 IN SOA a.example. b.example. 1 2 3 4 5\n",
                   "not at the zone apex");
    expect_refused("bl.example",
                   "@ 3600 IN SOA a.example. b.example. 1 2 3 4 5\n$INCLUDE other.zone\n",
                   "$INCLUDE is not supported");
    expect_refused("bl.example", "@ 3600 IN SOA a.example. b.example. 1 2 3 4 5\n@ IN BOGUS x\n",
                   "bad.zone:2");

    /* a file that is not there, and names that are not names */
    struct zone_config zc = zc_make("bl.example", NULL, NULL);
    snprintf(zc.file, sizeof zc.file, "%s/missing.zone", dir);
    struct zone *z = NULL;
    char why[512] = "";
    assert_int_not_equal(zone_load(&zc, &z, why, sizeof why), DNSBL_OK);
    assert_non_null(strstr(why, "missing.zone"));
    zc = zc_make(".", NULL, NULL);
    assert_int_equal(zone_load(&zc, &z, why, sizeof why), DNSBL_EINVAL);
    zc = zc_make("a..b", NULL, NULL);
    assert_int_equal(zone_load(&zc, &z, why, sizeof why), DNSBL_EINVAL);
}

static void test_zoneset_find(void **state)
{
    (void)state;
    struct zone_config zcs[3] = {
        zc_make("example", NULL, NULL),
        zc_make("bl.example", NULL, NULL),
        zc_make("sub.bl.example", NULL, NULL),
    };
    struct zoneset *zs = NULL;
    char why[512] = "";
    assert_int_equal(zoneset_build(zcs, 3, &zs, why, sizeof why), DNSBL_OK);
    assert_int_equal(zs->n, 3);
    assert_false(zs->acl); /* no zone has an ACL: answers do not depend on the client */

    static const struct {
        const char *name;
        const char *zone; /* NULL: none */
        size_t apex_label;
    } cases[] = {
        {"2.0.0.127.bl.example", "bl.example", 4},
        {"2.0.0.127.BL.EXAMPLE", "bl.example", 4},
        {"bl.example", "bl.example", 0},
        {"x.sub.bl.example", "sub.bl.example", 1},
        {"xbl.example", "example", 1}, /* a label boundary, not a string suffix */
        {"other.test", NULL, 0},
        {"", NULL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t buf[ZONE_NAME_MAX];
        struct zone_qname q = qname(cases[i].name, buf, sizeof buf);
        size_t apex_off = 99;
        const struct zone *z = zoneset_find(zs, &q, &apex_off);
        if (!cases[i].zone) {
            assert_null(z);
            continue;
        }
        assert_non_null(z);
        assert_string_equal(z->name, cases[i].zone);
        assert_int_equal(apex_off, q.off[cases[i].apex_label]);
    }
    zoneset_free(zs);

    /* a zone with an ACL marks the set; a zone twice is refused */
    struct addr_prefix p;
    assert_int_equal(addr_parse("192.0.2.0/24", &p, NULL, 0), DNSBL_OK);
    assert_int_equal(acl_add(&zcs[2].acl, &p, ACL_ERROR), DNSBL_OK);
    assert_int_equal(zoneset_build(zcs, 3, &zs, why, sizeof why), DNSBL_OK);
    assert_true(zs->acl);
    zoneset_free(zs);
    snprintf(zcs[0].name, sizeof zcs[0].name, "Sub.BL.example.");
    assert_int_equal(zoneset_build(zcs, 3, &zs, why, sizeof why), DNSBL_EINVAL);
    assert_non_null(strstr(why, "configured twice"));

    /* no zones at all: an empty set that finds nothing */
    assert_int_equal(zoneset_build(NULL, 0, &zs, why, sizeof why), DNSBL_OK);
    uint8_t buf[ZONE_NAME_MAX];
    struct zone_qname q = qname("bl.example", buf, sizeof buf);
    size_t off;
    assert_null(zoneset_find(zs, &q, &off));
    zoneset_free(zs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_from_file),
        cmocka_unit_test(test_synthesised),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_zoneset_find),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
