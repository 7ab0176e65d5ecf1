/* feed_capture: a feed_sink for unit tests that copies every event,
 * rejection and warning into fixed arrays (the parser's pointers die with
 * the callback). Header-only; one struct capture per parse, owned by the
 * test. */
#ifndef DNSBL_TEST_FEED_CAPTURE_H
#define DNSBL_TEST_FEED_CAPTURE_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feed.h"

#define CAP_EVENTS 512
#define CAP_NOTES 128

struct cap_event {
    struct event ev; /* pointers cleared; the copies below hold the texts */
    struct snds_row snds;
    bool has_snds;
    char reason[MODEL_TEXT_MAX];
    bool has_reason;
    char txt[MODEL_TEXT_MAX];
    bool has_txt;
    char source[MODEL_TEXT_MAX];
    uint8_t key[FEED_DEDUP_LEN];
    bool has_key;
    char prefix[ADDR_TEXT_MAX];
};

struct cap_note {
    char file[128];
    long line;
    char why[512];
    char raw[512];
};

struct capture {
    struct cap_event ev[CAP_EVENTS];
    size_t nev;
    struct cap_note rej[CAP_NOTES], warn[CAP_NOTES];
    size_t nrej, nwarn;
    size_t records;
    size_t last_bytes;
    int stop_at; /* return 7 from event number stop_at (1-based); 0 = never */
};

static inline int cap_event_cb(void *arg, const struct event *ev, const uint8_t *dedup)
{
    struct capture *c = arg;
    if (c->nev >= CAP_EVENTS)
        return -100;
    struct cap_event *ce = &c->ev[c->nev++];
    memset(ce, 0, sizeof *ce);
    ce->ev = *ev;
    ce->ev.reason = ce->ev.source = ce->ev.txt = ce->ev.dataset = NULL;
    ce->ev.snds = NULL;
    if (ev->snds) {
        ce->snds = *ev->snds;
        ce->has_snds = true;
    }
    if (ev->reason) {
        snprintf(ce->reason, sizeof ce->reason, "%s", ev->reason);
        ce->has_reason = true;
    }
    if (ev->txt) {
        snprintf(ce->txt, sizeof ce->txt, "%s", ev->txt);
        ce->has_txt = true;
    }
    if (ev->source)
        snprintf(ce->source, sizeof ce->source, "%s", ev->source);
    if (dedup) {
        memcpy(ce->key, dedup, FEED_DEDUP_LEN);
        ce->has_key = true;
    }
    addr_format(&ev->prefix, ce->prefix, sizeof ce->prefix);
    if (c->stop_at && c->nev == (size_t)c->stop_at)
        return 7;
    return 0;
}

static inline void cap_note(struct cap_note *n, const struct feed_origin *o, const char *why)
{
    snprintf(n->file, sizeof n->file, "%s", o->file ? o->file : "");
    n->line = o->line;
    snprintf(n->why, sizeof n->why, "%s", why);
    size_t len = o->raw_len < sizeof n->raw - 1 ? o->raw_len : sizeof n->raw - 1;
    if (o->raw)
        memcpy(n->raw, o->raw, len);
    n->raw[len] = '\0';
}

static inline void cap_reject_cb(void *arg, const struct feed_origin *o, const char *why)
{
    struct capture *c = arg;
    if (c->nrej < CAP_NOTES)
        cap_note(&c->rej[c->nrej], o, why);
    c->nrej++;
}

static inline void cap_warn_cb(void *arg, const struct feed_origin *o, const char *why)
{
    struct capture *c = arg;
    if (c->nwarn < CAP_NOTES)
        cap_note(&c->warn[c->nwarn], o, why);
    c->nwarn++;
}

static inline void cap_progress_cb(void *arg, size_t bytes)
{
    struct capture *c = arg;
    c->records++;
    c->last_bytes = bytes;
}

/* Parse text (length len, or strlen when len is 0) with the named ops into
 * a fresh capture; returns the parser's return value. */
static inline int cap_parse(const struct feed_ops *ops, const char *name, const void *data,
                            size_t len, const struct feed_options *opt, struct capture *c)
{
    memset(c, 0, sizeof *c);
    struct feed_sink sink = {.event = cap_event_cb,
                             .reject = cap_reject_cb,
                             .warn = cap_warn_cb,
                             .progress = cap_progress_cb,
                             .arg = c};
    struct feed_input in = {.name = name, .data = data, .len = len ? len : strlen(data)};
    return ops->parse(&in, opt, &sink);
}

/* The file's bytes (malloc'd, caller frees) or NULL. */
static inline char *cap_slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(fp);
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, fp);
        n += got;
        if (got == 0)
            break;
    }
    fclose(fp);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Events of one kind, in order: the i-th (0-based) or NULL. */
static inline const struct cap_event *cap_nth(const struct capture *c, uint8_t kind, size_t i)
{
    for (size_t k = 0; k < c->nev; k++)
        if (c->ev[k].ev.kind == kind && i-- == 0)
            return &c->ev[k];
    return NULL;
}

static inline size_t cap_count(const struct capture *c, uint8_t kind)
{
    size_t n = 0;
    for (size_t k = 0; k < c->nev; k++)
        n += c->ev[k].ev.kind == kind;
    return n;
}

#endif
