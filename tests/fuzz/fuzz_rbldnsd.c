/* Fuzz target for the rbldnsd importer: the same bytes parsed as every
 * dataset type in turn (and read for the apex zone file), with a sink that
 * checks what it is handed and keeps nothing. Built with libFuzzer when
 * DNSBL_FUZZ is on, otherwise linked with replay.c so the corpus runs as an
 * ordinary test. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "feed_rbldnsd.h"
#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *fz_null;

static int fz_event(void *arg, const struct event *ev, const uint8_t *dedup)
{
    (void)arg;
    if (dedup || (ev->kind != EV_IMPORT_LIST && ev->kind != EV_IMPORT_EXCLUDE) ||
        ev->prefix.plen > (ev->prefix.family == ADDR_V4 ? 32 : 128) ||
        (ev->txt && strlen(ev->txt) >= MODEL_TEXT_MAX) ||
        (ev->dataset && strlen(ev->dataset) >= 64) || (ev->subzone && !ev->dataset))
        abort();
    return 0;
}

static void fz_message(void *arg, const struct feed_origin *o, const char *why)
{
    (void)arg;
    if (!o->file || !why || strlen(why) == 0 || (o->raw_len && !o->raw))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const types[] = {"ip4set",  "ip4tset",  "ip4trie", "ip6trie",
                                        "ip6tset", "combined", "dnset",   "acl"};
    if (!fz_null && !(fz_null = fopen("/dev/null", "w")))
        abort();
    struct feed_sink sink = {.event = fz_event, .reject = fz_message, .warn = fz_message};
    struct feed_input in = {.name = "fuzz", .data = data, .len = size};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        struct feed_options opt = {
            .zone = "bl.example", .subtype = types[i], .file_mtime = 1700000000, .now = 1700000100};
        if (feed_ops_rbldnsd.parse(&in, &opt, &sink) != 0)
            abort();
    }
    struct feed_options opt = {.zone = "bl.example", .subtype = "combined", .file_mtime = 1};
    char why[512];
    feed_rbldnsd_emit_zone(&in, &opt, fz_null, why, sizeof(why));
    return 0;
}
