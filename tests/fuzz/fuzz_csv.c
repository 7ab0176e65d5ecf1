/* Fuzz target for the line-based feed parsers (SNDS, generic CSV, trap
 * CSV, plain lists, fail2ban): every parser's detect and parse on the same
 * bytes, into a sink that keeps nothing but checks what it is handed. Built
 * with libFuzzer when DNSBL_FUZZ is on, otherwise linked with replay.c so
 * the corpus runs as an ordinary test. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "feed.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz_input {
    const uint8_t *data;
    size_t size;
};

static int fz_event(void *arg, const struct event *ev, const uint8_t *dedup)
{
    (void)arg;
    (void)dedup;
    unsigned max = ev->prefix.family == ADDR_V4 ? 32 : 128;
    if (ev->kind >= EV_KIND_COUNT || ev->prefix.plen > max ||
        (ev->prefix.family != ADDR_V4 && ev->prefix.family != ADDR_V6))
        abort();
    /* Touch every string the event carries. */
    size_t n = (ev->reason ? strlen(ev->reason) : 0) + (ev->txt ? strlen(ev->txt) : 0) +
               (ev->source ? strlen(ev->source) : 0);
    if (ev->snds && ev->snds->colour > SNDS_RED)
        abort();
    /* Identifiers, if any: readable, and a record the store can write. */
    uint8_t rec[STORE_EVIDENCE_VALUE_MAX];
    size_t reclen;
    if (ev->ident && store_encode_evidence(ev, rec, sizeof rec, &reclen) != DNSBL_OK)
        abort();
    return n > (size_t)1 << 30;
}

/* A rejected or warned record: the raw bytes must lie inside the input. */
static void fz_note(void *arg, const struct feed_origin *o, const char *why)
{
    const struct fz_input *in = arg;
    if (!why || !o->file || o->line < 1 || strlen(why) == 0)
        abort();
    if (o->raw && (o->raw < (const char *)in->data ||
                   o->raw + o->raw_len > (const char *)in->data + in->size))
        abort();
}

static void fz_progress(void *arg, size_t bytes)
{
    const struct fz_input *in = arg;
    if (bytes > in->size)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct feed_ops *const ops[] = {&feed_ops_snds, &feed_ops_csv, &feed_ops_traps,
                                                 &feed_ops_list, &feed_ops_fail2ban};
    struct fz_input fin = {data, size};
    struct feed_sink sink = {.event = fz_event,
                             .reject = fz_note,
                             .warn = fz_note,
                             .progress = fz_progress,
                             .arg = &fin};
    struct feed_input in = {.name = "fuzz", .data = data, .len = size};
    struct feed_options opt = {.file_mtime = 1700000000, .now = 1700000100};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        int c = ops[i]->detect(data, size);
        if (c < 0 || c > 100)
            abort();
        ops[i]->parse(&in, &opt, &sink);
    }
    opt.list_reason = "fuzz $ reason";
    opt.list_code = 0x7f000003;
    opt.source = "src";
    feed_ops_list.parse(&in, &opt, &sink);
    return 0;
}
