/* fuzz_fixture: see fuzz_fixture.h. Made once per process: libFuzzer
 * calls the target millions of times, and building a store per input
 * would measure LMDB instead of the code under test. */
#include "fuzz_fixture.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl.h"
#include "addr.h"
#include "store.h"
#include "tsig.h"
#include "zone.h"

#include "../unit/test_paths.h"

static struct zoneset *fz_zones;
static struct store *fz_store;
static struct store_reader *fz_reader;
static struct entry fz_covering[STORE_COVERING_MAX];
static struct history_day fz_history[STORE_HISTORY_MAX];
static struct packet_info fz_info;
static struct packet_ctx fz_ctx;
static char fz_dir[64];
static struct addr_prefix fz_client;

static void fz_cleanup(void)
{
    char cmd[128];
    store_reader_close(fz_reader);
    store_close(fz_store);
    zoneset_free(fz_zones);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fz_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "fuzz_fixture: could not remove %s\n", fz_dir);
}

static void fz_list(const char *prefix, uint8_t kind, uint32_t code)
{
    struct event ev = {.kind = kind, .weight = 1, .time = 1700000000, .code = code};
    char why[256];
    if (addr_parse(prefix, &ev.prefix, why, sizeof(why)) != 0 ||
        store_apply(fz_store, &ev, NULL, 1, NULL, why, sizeof(why)) != 0) {
        fprintf(stderr, "fuzz_fixture: %s\n", why);
        abort();
    }
}

static void fz_init(void)
{
    char path[128], why[512];
    if (!test_mkdtemp(fz_dir, sizeof(fz_dir), "dnsbl-fuzz"))
        abort();
    snprintf(path, sizeof(path), "%s/z.zone", fz_dir);
    FILE *fp = fopen(path, "w");
    if (!fp)
        abort();
    fputs("$ORIGIN bl.example.\n@ 3600 IN SOA ns1 hm 1 7200 1800 604800 600\n"
          "@ IN NS ns1\n@ IN NS ns2.example.net.\nns1 IN A 192.0.2.53\nns1 IN AAAA 2001:db8::53\n"
          "@ IN TXT \"apex\"\nwww IN TXT \"www\"\na.b IN TXT \"deep\"\n",
          fp);
    fclose(fp);
    struct zone_config zc[2];
    memset(zc, 0, sizeof(zc));
    snprintf(zc[0].name, sizeof(zc[0].name), "bl.example");
    snprintf(zc[0].file, sizeof(zc[0].file), "%s", path);
    policy_defaults(&zc[0].policy);
    snprintf(zc[1].name, sizeof(zc[1].name), "v6.bl.example");
    policy_defaults(&zc[1].policy);
    /* Zone transfers (xfr.h): both allow 127.0.0.0/8, the second with a key. */
    struct addr_prefix lo;
    if (addr_parse("127.0.0.0/8", &lo, NULL, 0) != 0 ||
        addr_parse("127.0.0.1", &fz_client, NULL, 0) != 0 ||
        acl_add(&zc[0].xfr.allow, &lo, ACL_ALLOW) != 0 ||
        acl_add(&zc[1].xfr.allow, &lo, ACL_ALLOW) != 0 ||
        tsig_key_init(&zc[1].xfr.key, "tsig-key", NULL,
                      "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ==", why, sizeof(why)) != 0)
        abort();
    zc[1].xfr.has_key = true;
    if (zoneset_build(zc, 2, &fz_zones, why, sizeof(why)) != 0) {
        fprintf(stderr, "fuzz_fixture: %s\n", why);
        abort();
    }
    snprintf(path, sizeof(path), "%s/store", fz_dir);
    if (store_open(path, STORE_CREATE, &fz_store, why, sizeof(why)) != 0) {
        fprintf(stderr, "fuzz_fixture: %s\n", why);
        abort();
    }
    fz_list("192.0.2.0/24", EV_LIST, 0);
    fz_list("192.0.2.7", EV_ALLOW, 0);
    fz_list("192.0.2.8", EV_DELIST, 0);
    fz_list("203.0.113.7", EV_LIST, 0x7f000003);
    fz_list("2001:db8::/32", EV_LIST, 0);
    fz_list("2001:db8:1::/48", EV_ALLOW, 0);
    if (store_reader_open(fz_store, &fz_reader) != 0)
        abort();
    atexit(fz_cleanup);
    fz_ctx = (struct packet_ctx){.zones = fz_zones,
                                 .reader = fz_reader,
                                 .covering = fz_covering,
                                 .covering_cap = STORE_COVERING_MAX,
                                 .history = fz_history,
                                 .history_cap = STORE_HISTORY_MAX,
                                 .now = 1700000100,
                                 .client = &fz_client,
                                 .info = &fz_info};
}

struct store *fz_fixture_store(void)
{
    fz_fixture();
    return fz_store;
}

struct packet_ctx *fz_fixture(void)
{
    if (!fz_zones)
        fz_init();
    return &fz_ctx;
}
