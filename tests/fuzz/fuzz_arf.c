/* Fuzz target for the mail feedback-report parsers: every input is parsed
 * as one message (feed_ops_arf) and as an mbox file (feed_ops_mbox), and
 * both detectors run over it, with a sink that checks what it is handed
 * and keeps nothing. Built with libFuzzer when DNSBL_FUZZ is on, otherwise
 * linked with replay.c so the corpus runs as an ordinary test. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "feed.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fz_event(void *arg, const struct event *ev, const uint8_t *dedup)
{
    (void)arg;
    /* A parser hands over whole addresses, a key, and a positive weight. */
    if (!dedup || ev->weight < 1 || ev->prefix.plen != (ev->prefix.family == ADDR_V4 ? 32 : 128))
        abort();
    /* Identifiers, if any: readable, and a record the store can write. */
    uint8_t rec[STORE_EVIDENCE_VALUE_MAX];
    size_t reclen;
    if (ev->ident && store_encode_evidence(ev, rec, sizeof rec, &reclen) != DNSBL_OK)
        abort();
    return 0;
}

static void fz_note(void *arg, const struct feed_origin *o, const char *why)
{
    (void)arg;
    if (!why || !*why || (o->raw_len && !o->raw))
        abort();
}

static void fz_progress(void *arg, size_t bytes)
{
    size_t *last = arg;
    if (bytes < *last)
        abort();
    *last = bytes;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const suffixes[] = {"outlook.example", NULL};
    struct feed_input in = {.name = "fuzz", .data = data, .len = size};
    struct feed_options opt = {.file_mtime = 1700000000, .internal_suffixes = suffixes};
    const struct feed_ops *ops[] = {&feed_ops_arf, &feed_ops_mbox};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        size_t last = 0;
        struct feed_sink sink = {.event = fz_event,
                                 .reject = fz_note,
                                 .warn = fz_note,
                                 .progress = fz_progress,
                                 .arg = &last};
        int score = ops[i]->detect(data, size);
        if (score < 0 || score > 100 || ops[i]->parse(&in, &opt, &sink) != 0)
            abort();
    }
    return 0;
}
