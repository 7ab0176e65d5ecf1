/* Unit tests for config: the libconfuse file (good file, errors with their
 * line, code checks, paths relative to the file) and the command-line
 * helpers (zones, listen addresses, overrides). Files go to a mkdtemp
 * directory removed at the end. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acl.h"
#include "addr.h"
#include "config.h"
#include "err.h"
#include "test_paths.h"

struct fixture {
    char dir[256];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    if (test_mkdtemp(f->dir, sizeof f->dir, "test_config") == NULL) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* Writes text to DIR/name and returns the path in buf. */
static const char *write_file(struct fixture *f, const char *name, const char *text, char *buf,
                              size_t cap)
{
    snprintf(buf, cap, "%s/%s", f->dir, name);
    FILE *fp = fopen(buf, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    return buf;
}

/* Loads text as a config file; returns the result, why in why. */
static int load_text(struct fixture *f, const char *text, struct config *c, char *why,
                     size_t whylen)
{
    char path[PATH_MAX];
    write_file(f, "t.conf", text, path, sizeof path);
    config_init(c);
    return config_load_file(c, path, why, whylen);
}

static void assert_error_at(struct fixture *f, const char *text, int line, const char *needle)
{
    struct config c;
    char why[512] = "";
    char want[PATH_MAX + 32];
    assert_int_equal(load_text(f, text, &c, why, sizeof why), DNSBL_EINVAL);
    snprintf(want, sizeof want, "%s/t.conf:%d: ", f->dir, line);
    if (strncmp(why, want, strlen(want)) != 0 || strstr(why, needle) == NULL)
        fail_msg("want '%s...%s', got '%s'", want, needle, why);
    /* A failed load leaves the config as it was. */
    assert_int_equal(c.nzones, 0);
    assert_int_equal(c.nlistens, 0);
    config_free(&c);
}

static void test_zone_policy_keys(void **state)
{
    struct fixture *f = *state;
    struct config c;
    char why[512] = "";
    const char *text = "zone \"score.example\" {\n"
                       "  kind = \"score\"\n  threshold = 25.5\n  half_life = \"3d\"\n"
                       "  window_days = 30\n  rate_reference = 0.003\n"
                       "  code_traps = \"127.0.0.9\"\n  snds_red_lists = false\n"
                       "  snds_max_age = \"2d12h\"\n"
                       "  datasets = {\"bl.example\", \"drop\"}\n"
                       "  weights { abuse = 2  trap_hits = 20 }\n}\n"
                       "zone \"wl.example\" { kind = \"allowlist\" code_allow = \"127.0.10.3\" }\n";
    assert_int_equal(load_text(f, text, &c, why, sizeof why), DNSBL_OK);
    assert_int_equal(c.nzones, 2);
    const struct zone_policy *zp = &c.zones[0].policy;
    assert_int_equal(zp->kind, ZONE_SCORE);
    assert_true(zp->threshold == 25.5);
    assert_true(zp->half_life == 3 * 86400.0);
    assert_int_equal(zp->window_days, 30);
    assert_true(zp->rate_reference == 0.003);
    assert_int_equal(zp->code_traps, 0x7f000009);
    assert_false(zp->snds_red_lists);
    assert_true(zp->snds_max_age == 2 * 86400 + 12 * 3600);
    assert_true(c.zones[1].policy.snds_max_age == 7 * 86400); /* the default */
    assert_int_equal(zp->ndatasets, 2);
    assert_string_equal(zp->datasets[1], "drop");
    assert_true(zp->weight[CNT_ABUSE] == 2);
    assert_true(zp->weight[CNT_TRAP_HITS] == 20);
    assert_true(zp->weight[CNT_FRAUD] == 1); /* untouched keys keep the default */
    assert_int_equal(c.zones[1].policy.kind, ZONE_ALLOWLIST);
    assert_int_equal(c.zones[1].policy.code_allow, 0x7f000a03);
    config_free(&c);

    config_init(&c);
    assert_int_equal(
        load_text(f, "zone \"x.example\" { kind = \"blocky\" }\n", &c, why, sizeof why),
        DNSBL_EINVAL);
    assert_non_null(strstr(why, "kind 'blocky'"));
    config_free(&c);
    assert_int_equal(
        load_text(f, "zone \"x.example\" { half_life = \"soon\" }\n", &c, why, sizeof why),
        DNSBL_EINVAL);
    assert_non_null(strstr(why, "half_life 'soon'"));
    config_free(&c);
    assert_int_equal(
        load_text(f, "zone \"x.example\" { snds_max_age = \"0\" }\n", &c, why, sizeof why),
        DNSBL_EINVAL);
    assert_non_null(strstr(why, "snds_max_age '0'"));
    config_free(&c);
    assert_int_equal(
        load_text(f, "zone \"x.example\" { code_imported = \"10.0.0.4\" }\n", &c, why, sizeof why),
        DNSBL_EINVAL);
    assert_non_null(strstr(why, "code_imported"));
    config_free(&c);
}

static void test_good_file(void **state)
{
    struct fixture *f = *state;
    struct config c;
    char why[512] = "";
    const char *text = "# every key\n"
                       "db = \"store\"\n"
                       "listen = {\"127.0.0.1:5353\", \"[::1]:0\"}\n"
                       "workers = 3\n"
                       "log_queries = true\n"
                       "tcp_idle_timeout = 30\n"
                       "tcp_max_queries = 50\n"
                       "zone \"bl.example\" {\n"
                       "    file = \"bl.example.zone\"\n"
                       "    ttl = 300\n"
                       "    code = \"127.0.0.10\"\n"
                       "    txt = \"{ip} in {zone}\"\n"
                       "}\n"
                       "zone \"other.example\" {\n"
                       "}\n";
    assert_int_equal(load_text(f, text, &c, why, sizeof why), DNSBL_OK);

    char want[PATH_MAX + 32];
    snprintf(want, sizeof want, "%s/t.conf", f->dir);
    assert_string_equal(c.path, want);
    snprintf(want, sizeof want, "%s/store", f->dir);
    assert_string_equal(c.db, want);
    assert_int_equal(c.workers, 3);
    assert_true(c.log_queries);
    assert_int_equal(c.tcp_idle_timeout, 30);
    assert_int_equal(c.tcp_max_queries, 50);

    assert_int_equal(c.nlistens, 2);
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&c.listens[0].addr;
    assert_int_equal(sin->sin_family, AF_INET);
    assert_int_equal(ntohs(sin->sin_port), 5353);
    assert_int_equal(ntohl(sin->sin_addr.s_addr), 0x7f000001);
    assert_string_equal(c.listens[0].text, "127.0.0.1:5353");
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&c.listens[1].addr;
    assert_int_equal(sin6->sin6_family, AF_INET6);
    assert_int_equal(ntohs(sin6->sin6_port), 0);
    assert_memory_equal(&sin6->sin6_addr, &in6addr_loopback, sizeof in6addr_loopback);

    assert_int_equal(c.nzones, 2);
    assert_string_equal(c.zones[0].name, "bl.example");
    snprintf(want, sizeof want, "%s/bl.example.zone", f->dir);
    assert_string_equal(c.zones[0].file, want);
    assert_int_equal(c.zones[0].policy.ttl, 300);
    assert_int_equal(c.zones[0].policy.code_manual, 0x7f00000a);
    assert_string_equal(c.zones[0].policy.txt_template, "{ip} in {zone}");

    /* Keys left out keep policy_defaults. */
    struct zone_policy def;
    policy_defaults(&def);
    assert_string_equal(c.zones[1].name, "other.example");
    assert_string_equal(c.zones[1].file, "");
    assert_int_equal(c.zones[1].policy.ttl, def.ttl);
    assert_int_equal(c.zones[1].policy.code_manual, def.code_manual);
    assert_string_equal(c.zones[1].policy.txt_template, def.txt_template);
    config_free(&c);
}

static void test_defaults_when_empty(void **state)
{
    struct fixture *f = *state;
    struct config c;
    char why[512] = "";
    assert_int_equal(load_text(f, "# nothing\n", &c, why, sizeof why), DNSBL_OK);
    assert_string_equal(c.db, "");
    assert_int_equal(c.nzones, 0);
    assert_int_equal(c.nlistens, 0);
    assert_int_equal(c.workers, 0);
    assert_false(c.log_queries);
    assert_int_equal(c.tcp_idle_timeout, CONFIG_DEFAULT_TCP_IDLE_TIMEOUT);
    assert_int_equal(c.tcp_max_queries, CONFIG_DEFAULT_TCP_MAX_QUERIES);
    config_free(&c);
}

static void test_unknown_option_names_line(void **state)
{
    struct fixture *f = *state;
    assert_error_at(f, "db = \"x\"\n\nfoo = 3\n", 3, "no such option 'foo'");
    assert_error_at(f, "zone \"bl.example\" {\n  ttl = 5\n  bar = 1\n}\n", 3,
                    "no such option 'bar'");
}

static void test_bad_code(void **state)
{
    struct fixture *f = *state;
    assert_error_at(f, "zone \"bl.example\" {\n  code = \"10.0.0.2\"\n}\n", 2, "127.0.0.0/8");
    assert_error_at(f, "workers = 1\nzone \"a\" {\n}\nzone \"b\" {\n  code = \"127.0.0.1\"\n}\n", 5,
                    "reserved");
    assert_error_at(f, "zone \"bl.example\" {\n  code = \"127.255.255.255\"\n}\n", 2, "reserved");
    assert_error_at(f, "zone \"bl.example\" {\n\n  code = \"listed\"\n}\n", 3,
                    "not an IPv4 address");
}

static void test_bad_values_name_line(void **state)
{
    struct fixture *f = *state;
    assert_error_at(f, "tcp_idle_timeout = 0\n", 1, "out of range");
    assert_error_at(f, "db = \"x\"\nworkers = 100000\n", 2, "out of range");
    assert_error_at(f, "tcp_max_queries = \"many\"\n", 1, "tcp_max_queries");
    assert_error_at(f, "listen = {\"127.0.0.1:53\",\n  \"localhost:53\"}\n", 2, "localhost:53");
    assert_error_at(f, "zone \"bl.example\" {\n  ttl = -1\n}\n", 2, "out of range");
    assert_error_at(f, "zone \"A.example\" {\n}\nzone \"a.example.\" {\n}\n", 4, "twice");

    char longtxt[400];
    memset(longtxt, 'x', 300);
    longtxt[300] = '\0';
    char text[600];
    snprintf(text, sizeof text, "zone \"bl.example\" {\n  txt = \"%s\"\n}\n", longtxt);
    assert_error_at(f, text, 2, "255");
}

static void test_missing_file(void **state)
{
    struct fixture *f = *state;
    struct config c;
    char path[PATH_MAX + 16], why[512] = "";
    snprintf(path, sizeof path, "%s/none.conf", f->dir);
    config_init(&c);
    assert_int_equal(config_load_file(&c, path, why, sizeof why), DNSBL_ENOENT);
    assert_non_null(strstr(why, path));
    /* A directory: libconfuse's scanner would exit the process. */
    assert_int_equal(config_load_file(&c, f->dir, why, sizeof why), DNSBL_ENOENT);
    assert_non_null(strstr(why, "not a regular file"));
    config_free(&c);
}

static void test_relative_paths(void **state)
{
    struct fixture *f = *state;
    char sub[512], path[PATH_MAX + 16], want[PATH_MAX + 32], why[512] = "";
    snprintf(sub, sizeof sub, "%s/etc", f->dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    write_file(f, "etc/dnsbld.conf",
               "db = \"/var/lib/dnsbld\"\n"
               "zone \"a.example\" { file = \"zones/a.zone\" }\n"
               "zone \"b.example\" { file = \"../b.zone\" }\n"
               "zone \"c.example\" { file = \"/abs/c.zone\" }\n",
               path, sizeof path);
    struct config c;
    config_init(&c);
    assert_int_equal(config_load_file(&c, path, why, sizeof why), DNSBL_OK);
    assert_string_equal(c.db, "/var/lib/dnsbld");
    assert_int_equal(c.nzones, 3);
    snprintf(want, sizeof want, "%s/zones/a.zone", sub);
    assert_string_equal(c.zones[0].file, want);
    snprintf(want, sizeof want, "%s/../b.zone", sub);
    assert_string_equal(c.zones[1].file, want);
    assert_string_equal(c.zones[2].file, "/abs/c.zone");
    config_free(&c);

    /* A file named without a directory: paths stay relative to the cwd,
     * which is the file's directory. */
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(sub), 0);
    config_init(&c);
    int rc = config_load_file(&c, "dnsbld.conf", why, sizeof why);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(rc, DNSBL_OK);
    assert_string_equal(c.zones[0].file, "zones/a.zone");
    config_free(&c);
}

static void test_add_zone(void **state)
{
    (void)state;
    struct config c;
    char why[512] = "";
    config_init(&c);
    assert_int_equal(config_add_zone(&c, "bl.example", why, sizeof why), DNSBL_OK);
    assert_int_equal(config_add_zone(&c, "two.example=zones/two.zone", why, sizeof why), DNSBL_OK);
    assert_int_equal(c.nzones, 2);
    assert_string_equal(c.zones[0].file, "");
    assert_string_equal(c.zones[1].name, "two.example");
    assert_string_equal(c.zones[1].file, "zones/two.zone");
    assert_int_equal(c.zones[1].policy.code_manual, 0x7f000002);

    assert_int_equal(config_add_zone(&c, "BL.example.", why, sizeof why), DNSBL_EINVAL);
    assert_non_null(strstr(why, "twice"));
    assert_int_equal(config_add_zone(&c, "=x.zone", why, sizeof why), DNSBL_EINVAL);
    assert_int_equal(config_add_zone(&c, "x.example=", why, sizeof why), DNSBL_EINVAL);
    assert_int_equal(config_add_zone(&c, "bad name", why, sizeof why), DNSBL_EINVAL);
    assert_int_equal(c.nzones, 2);
    config_free(&c);
}

static void test_parse_listen(void **state)
{
    (void)state;
    struct config_listen l;
    char why[512] = "";
    assert_int_equal(config_parse_listen("127.0.0.1:5353", &l, why, sizeof why), DNSBL_OK);
    assert_int_equal(l.addrlen, sizeof(struct sockaddr_in));
    assert_int_equal(config_parse_listen("127.0.0.1", &l, why, sizeof why), DNSBL_OK);
    assert_int_equal(ntohs(((struct sockaddr_in *)&l.addr)->sin_port), 53);
    assert_int_equal(config_parse_listen("[::1]:5353", &l, why, sizeof why), DNSBL_OK);
    assert_int_equal(l.addrlen, sizeof(struct sockaddr_in6));
    assert_int_equal(ntohs(((struct sockaddr_in6 *)&l.addr)->sin6_port), 5353);
    assert_int_equal(config_parse_listen("::1", &l, why, sizeof why), DNSBL_OK);
    assert_int_equal(ntohs(((struct sockaddr_in6 *)&l.addr)->sin6_port), 53);
    assert_int_equal(config_parse_listen("[::]:0", &l, why, sizeof why), DNSBL_OK);
    assert_int_equal(config_parse_listen("0.0.0.0:0", &l, why, sizeof why), DNSBL_OK);

    const char *bad[] = {"",        "localhost:53", "127.0.0.1:99999", "[::1",
                         "[::1]x",  "1.2.3.4:ab",   "[127.0.0.1]:53",  "1:2",
                         "::1:53x", "[]:53"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why[0] = '\0';
        if (config_parse_listen(bad[i], &l, why, sizeof why) != DNSBL_EINVAL)
            fail_msg("'%s' was accepted", bad[i]);
        if (bad[i][0] != '\0' && strstr(why, bad[i]) == NULL)
            fail_msg("message for '%s' does not name it: %s", bad[i], why);
    }
}

static void test_override_and_duplicates(void **state)
{
    struct fixture *f = *state;
    struct config c, cli;
    char why[512] = "";
    assert_int_equal(load_text(f,
                               "db = \"/srv/db\"\nworkers = 4\n"
                               "listen = {\"127.0.0.1:53\"}\n"
                               "zone \"a.example\" { ttl = 60 }\n"
                               "zone \"b.example\" { }\n",
                               &c, why, sizeof why),
                     DNSBL_OK);
    config_init(&cli);
    assert_int_equal(config_override(&c, &cli), DNSBL_OK); /* nothing set: nothing changes */
    assert_string_equal(c.db, "/srv/db");
    assert_int_equal(c.nzones, 2);
    assert_int_equal(c.nlistens, 1);

    snprintf(cli.db, sizeof cli.db, "/other");
    cli.workers = 2;
    cli.log_queries = true;
    assert_int_equal(config_add_zone(&cli, "c.example", why, sizeof why), DNSBL_OK);
    assert_int_equal(config_add_listen(&cli, "[::1]:5300", why, sizeof why), DNSBL_OK);
    assert_int_equal(config_add_listen(&cli, "127.0.0.1:5300", why, sizeof why), DNSBL_OK);
    assert_false(config_same_listens(&c, &cli));
    assert_int_equal(config_override(&c, &cli), DNSBL_OK);
    assert_string_equal(c.db, "/other");
    assert_int_equal(c.workers, 2);
    assert_true(c.log_queries);
    assert_int_equal(c.nzones, 1);
    assert_string_equal(c.zones[0].name, "c.example");
    assert_int_equal(c.nlistens, 2);
    assert_true(config_same_listens(&c, &cli));
    assert_int_equal(config_check_listens(&c, why, sizeof why), DNSBL_OK);

    assert_int_equal(config_add_listen(&c, "[::1]:0", why, sizeof why), DNSBL_OK);
    assert_int_equal(config_add_listen(&c, "[::1]:0", why, sizeof why), DNSBL_OK);
    assert_int_equal(config_check_listens(&c, why, sizeof why), DNSBL_OK); /* port 0 each */
    assert_int_equal(config_add_listen(&c, "127.0.0.1:5300", why, sizeof why), DNSBL_OK);
    assert_int_equal(config_check_listens(&c, why, sizeof why), DNSBL_EINVAL);
    assert_non_null(strstr(why, "127.0.0.1:5300"));
    config_free(&cli);
    config_free(&c);
}

/* --- hostile traffic and privileges: RRL, TCP limits, users, zone ACLs --- */

static void test_limits_and_privileges(void **state)
{
    struct fixture *f = *state;
    struct config c;
    char why[512] = "";
    assert_int_equal(load_text(f, "# nothing\n", &c, why, sizeof why), DNSBL_OK);
    assert_int_equal(c.tcp_max_clients, 256);
    assert_int_equal(c.tcp_max_per_client, 16);
    assert_int_equal(c.rrl.rate, 0);
    assert_int_equal(c.rrl.slip, 2);
    assert_int_equal(c.rrl.ipv4_prefix, 24);
    assert_int_equal(c.rrl.ipv6_prefix, 56);
    assert_string_equal(c.user, "");
    assert_string_equal(c.chroot, "");
    assert_false(c.refuse_root);
    config_free(&c);

    const char *text = "tcp_max_clients = 1000\ntcp_max_per_client = 4\n"
                       "rrl_rate = 20\nrrl_slip = 0\nrrl_ipv4_prefix = 32\nrrl_ipv6_prefix = 64\n"
                       "user = \"nobody\"\nchroot = \"jail\"\nrefuse_root = true\n";
    assert_int_equal(load_text(f, text, &c, why, sizeof why), DNSBL_OK);
    assert_int_equal(c.tcp_max_clients, 1000);
    assert_int_equal(c.tcp_max_per_client, 4);
    assert_int_equal(c.rrl.rate, 20);
    assert_int_equal(c.rrl.slip, 0);
    assert_int_equal(c.rrl.ipv4_prefix, 32);
    assert_int_equal(c.rrl.ipv6_prefix, 64);
    assert_string_equal(c.user, "nobody");
    char want[PATH_MAX + 8];
    snprintf(want, sizeof want, "%s/jail", f->dir); /* relative to the file */
    assert_string_equal(c.chroot, want);
    assert_true(c.refuse_root);

    /* The command line wins for what it set, and only for that. */
    struct config cli;
    config_init(&cli);
    cli.rrl.rate = 5;
    cli.tcp_max_clients = 9; /* not marked set: ignored */
    cli.set = CONFIG_SET_RRL_RATE | CONFIG_SET_TCP_MAX_PER_CLIENT;
    snprintf(cli.user, sizeof cli.user, "dnsbld");
    assert_int_equal(config_override(&c, &cli), DNSBL_OK);
    assert_int_equal(c.rrl.rate, 5);
    assert_int_equal(c.rrl.slip, 0);
    assert_int_equal(c.tcp_max_clients, 1000);
    assert_int_equal(c.tcp_max_per_client, 16); /* cli's default, marked set */
    assert_string_equal(c.user, "dnsbld");
    assert_true(c.refuse_root);
    config_free(&cli);
    config_free(&c);

    assert_error_at(f, "rrl_rate = -1\n", 1, "out of range");
    assert_error_at(f, "db = \"x\"\nrrl_ipv4_prefix = 33\n", 2, "rrl_ipv4_prefix");
    assert_error_at(f, "rrl_ipv6_prefix = 129\n", 1, "out of range");
    assert_error_at(f, "rrl_slip = 1000\n", 1, "out of range");
    assert_error_at(f, "tcp_max_clients = 0\n", 1, "out of range");
    assert_error_at(f, "\ntcp_max_per_client = 70000\n", 2, "out of range");
    assert_error_at(f, "user = \"\"\n", 1, "user name");
}

/* Zone transfers: key sections, a zone's allow_transfer, transfer_key and
 * notify; the errors name the line and never the secret. */
static void test_zone_transfer_keys(void **state)
{
    struct fixture *f = *state;
    struct config c;
    char why[512] = "";
    const char *secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ==";
    char text[1024];
    snprintf(text, sizeof text,
             "key \"xfr\" { algorithm = \"hmac-sha256\"  secret = \"%s\" }\n"
             "key \"other\" { secret = \"%s\" }\n"
             "zone \"bl.example\" {\n"
             "    allow_transfer = {\"127.0.0.0/8\", \"2001:db8::/32\"}\n"
             "    transfer_key = \"XFR\"\n"
             "    notify = {\"127.0.0.1:5301\", \"[::1]:53\"}\n"
             "}\n"
             "zone \"open.example\" { }\n",
             secret, secret);
    assert_int_equal(load_text(f, text, &c, why, sizeof why), DNSBL_OK);
    assert_int_equal(c.nkeys, 2);
    assert_string_equal(c.keys[0].name, "xfr");
    assert_int_equal(c.keys[0].alg, TSIG_HMAC_SHA256);
    assert_int_equal(c.keys[0].secret_len, 28);
    assert_memory_equal(c.keys[0].secret, "secret-secret-secret-secret!", 28);
    assert_int_equal(c.keys[1].alg, TSIG_HMAC_SHA256); /* the default */
    const struct zone_xfr_config *x = &c.zones[0].xfr;
    assert_int_equal(x->allow.n, 2);
    struct addr_prefix in, out;
    assert_int_equal(addr_parse("127.1.2.3", &in, NULL, 0), DNSBL_OK);
    assert_int_equal(addr_parse("10.0.0.1", &out, NULL, 0), DNSBL_OK);
    assert_int_equal(acl_match(&x->allow, &in), ACL_ALLOW);
    assert_true(x->has_key);
    assert_string_equal(x->key.name, "xfr");
    assert_int_equal(x->nnotify, 2);
    assert_string_equal(x->notify[0].text, "127.0.0.1:5301");
    assert_int_equal(x->notify[1].addr.ss_family, AF_INET6);
    /* Without allow_transfer nobody may transfer: an empty list. */
    assert_int_equal(c.zones[1].xfr.allow.n, 0);
    assert_false(c.zones[1].xfr.has_key);
    assert_int_equal(c.zones[1].xfr.nnotify, 0);
    config_free(&c);

    assert_error_at(f, "zone \"bl.example\" {\n  transfer_key = \"nope\"\n}\n", 2,
                    "transfer_key 'nope' names no key");
    /* A key written below the zone is not known there yet. */
    snprintf(
        text, sizeof text,
        "zone \"bl.example\" {\n  transfer_key = \"xfr\"\n}\nkey \"xfr\" { secret = \"%s\" }\n",
        secret);
    assert_error_at(f, text, 2, "names no key");
    assert_error_at(f,
                    "zone \"bl.example\" {\n  allow_transfer = {\"127.0.0.0/8\",\n \"nope\"}\n}\n",
                    3, "allow_transfer");
    assert_error_at(f, "zone \"bl.example\" {\n\n  notify = {\"host:53\"}\n}\n", 3, "notify");
    assert_error_at(f, "zone \"bl.example\" {\n  notify = {\"127.0.0.1:0\"}\n}\n", 2, "port 0");
    assert_error_at(f, "key \"k\" {\n  algorithm = \"hmac-md5\"\n  secret = \"AAAA\"\n}\n", 4,
                    "key 'k'");
    assert_error_at(f, "key \"k\" {\n  algorithm = \"hmac-sha256\"\n}\n", 3, "no secret");
    /* A secret that is no base64: the message names the key, not the secret. */
    assert_int_equal(
        load_text(f, "key \"k\" { secret = \"not!base64*TOPSECRET\" }\n", &c, why, sizeof why),
        DNSBL_EINVAL);
    assert_non_null(strstr(why, "key 'k'"));
    assert_null(strstr(why, "TOPSECRET"));
    config_free(&c);
    snprintf(text, sizeof text, "key \"k\" { secret = \"%s\" }\nkey \"K.\" { secret = \"%s\" }\n",
             secret, secret);
    assert_error_at(f, text, 2, "twice");
}

static void test_zone_acl(void **state)
{
    struct fixture *f = *state;
    struct config c;
    char why[512] = "";
    const char *text = "zone \"bl.example\" {\n"
                       "  acl {\n"
                       "    allow = {\"127.0.0.0/8\", \"::1\"}\n"
                       "    refuse = {\"0.0.0.0/0\"}\n"
                       "    error = {\"8.8.8.0/24\", \"2001:4860::/32\"}\n"
                       "    error_code = \"127.255.255.255\"\n"
                       "    error_txt = \"use your own resolver\"\n"
                       "    error_ttl = 30\n"
                       "  }\n"
                       "}\n"
                       "zone \"other.example\" { }\n";
    assert_int_equal(load_text(f, text, &c, why, sizeof why), DNSBL_OK);
    const struct acl *a = &c.zones[0].acl;
    assert_int_equal(a->n, 5);
    assert_int_equal(a->error_code, 0x7fffffff);
    assert_int_equal(a->error_ttl, 30);
    assert_string_equal(a->error_txt, "use your own resolver");
    struct addr_prefix p;
    const struct {
        const char *client;
        enum acl_action want;
    } cases[] = {{"127.0.0.2", ACL_ALLOW}, {"8.8.8.8", ACL_ERROR},      {"8.8.4.4", ACL_REFUSE},
                 {"::1", ACL_ALLOW},       {"2001:4860::8", ACL_ERROR}, {"2001:db8::1", ACL_ALLOW}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(addr_parse(cases[i].client, &p, NULL, 0), DNSBL_OK);
        assert_int_equal(acl_match(a, &p), cases[i].want);
    }
    /* No acl section: nobody limited, the default error answer ready. */
    a = &c.zones[1].acl;
    assert_int_equal(a->n, 0);
    assert_int_equal(a->error_code, ACL_DEFAULT_ERROR_CODE);
    assert_int_equal(a->error_ttl, ACL_DEFAULT_ERROR_TTL);
    assert_string_equal(a->error_txt, ACL_DEFAULT_ERROR_TXT);
    config_free(&c);

    assert_error_at(f, "zone \"bl.example\" {\n  acl {\n    refuse = {\"10.0.0.1/8\"}\n  }\n}\n", 3,
                    "host bits");
    assert_error_at(f, "zone \"bl.example\" {\n  acl {\n    error = {\"resolver\"}\n  }\n}\n", 3,
                    "'resolver'");
    assert_error_at(f, "zone \"bl.example\" {\n  acl {\n    error_code = \"127.0.0.2\"\n  }\n}\n",
                    3, "not one of the error values");
    assert_error_at(f, "zone \"bl.example\" {\n  acl { error_ttl = 100000 }\n}\n", 2,
                    "out of range");
    assert_error_at(f, "zone \"bl.example\" {\n  acl { deny = {\"1.2.3.4\"} }\n}\n", 2,
                    "no such option 'deny'");
    assert_int_equal(load_text(f,
                               "zone \"bl.example\" {\n  acl {\n    allow = {\"192.0.2.0/24\"}\n"
                               "    refuse = {\"192.0.2.0/24\"}\n  }\n}\n",
                               &c, why, sizeof why),
                     DNSBL_EINVAL);
    assert_non_null(strstr(why, "zone bl.example: acl: 192.0.2.0/24 is given twice"));
    config_free(&c);

    /* Zones from the command line get the default error answer too. */
    config_init(&c);
    assert_int_equal(config_add_zone(&c, "bl.example", why, sizeof why), DNSBL_OK);
    assert_int_equal(c.zones[0].acl.error_code, ACL_DEFAULT_ERROR_CODE);
    config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_good_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zone_policy_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_defaults_when_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_option_names_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_values_name_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relative_paths, setup, teardown),
        cmocka_unit_test(test_add_zone),
        cmocka_unit_test(test_parse_listen),
        cmocka_unit_test_setup_teardown(test_override_and_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits_and_privileges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zone_acl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zone_transfer_keys, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
