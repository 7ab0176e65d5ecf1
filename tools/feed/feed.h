/* feed: the import parsers. Each turns one input (a whole file, already
 * decompressed, in memory) into events and rejections through a sink; no
 * parser touches the store, the terminal or the file system. The input
 * buffer belongs to the caller; events and strings handed to the sink are
 * valid only during the callback (the sink copies what it keeps). */
#ifndef DNSBL_FEED_H
#define DNSBL_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

#define FEED_DEDUP_LEN 32 /* SHA-256 */

/* Where a record came from, for messages and the reject directory. */
struct feed_origin {
    const char *file;       /* input name as given ("-" for stdin) */
    long line;              /* 1-based line, 0 when not line-based (mail) */
    const char *message_id; /* mail: Message-ID without <>, or NULL */
    const char *raw;        /* the rejected record's bytes (line or message) */
    size_t raw_len;
};

struct feed_sink {
    /* One event; dedup is the record's key (FEED_DEDUP_LEN bytes) or NULL.
     * Several events of one record (an SNDS row: volume + trap hits) share
     * one key only if the store is told so: give each its own key, derived
     * from the record key and the event kind (feed_dedup_derive). Return 0
     * to go on, non-zero to stop parsing (the parser returns that value). */
    int (*event)(void *arg, const struct event *ev, const uint8_t *dedup);
    /* A rejected record: why is the fixed text of doc/formats.md where one exists. */
    void (*reject)(void *arg, const struct feed_origin *o, const char *why);
    /* A warning: the record was still used (or skipped, as doc/formats.md says). */
    void (*warn)(void *arg, const struct feed_origin *o, const char *why);
    /* A record that was read whole (accepted or rejected), and how far into
     * the input the parser is: for the progress bar and the summary. */
    void (*progress)(void *arg, size_t bytes_done);
    void *arg;
};

/* Options shared by the parsers; plain value filled by the import command. */
struct feed_options {
    const char *source;     /* --source NAME, or the format name */
    const char *zone;       /* --zone NAME (rbldnsd combined: the base zone) */
    const char *subtype;    /* rbldnsd dataset type: ip4set, ip4trie, ... */
    int64_t file_mtime;     /* fallback event time (mail without dates) */
    int64_t now;            /* time_now(), for list/allow rows without time */
    uint32_t list_code;     /* plain lists: A value, 0 = 127.0.0.4 */
    const char *list_reason;/* plain lists: reason text, NULL = from the line */
    /* ARF: reporter-internal host suffixes skipped by the Received walk
     * (doc/formats.md 2.8), NULL-terminated; NULL = outlook.com, hotmail.com,
     * live.com, msn.com, protection.outlook.com */
    const char *const *internal_suffixes;
};

struct feed_input {
    const char *name;       /* file name for messages */
    const uint8_t *data;
    size_t len;
};

/* One parser. detect returns a confidence 0..100 for auto-detection. */
struct feed_ops {
    const char *name;       /* "arf", "mbox", "snds", "rbldnsd", "csv", "list", "traps", "fail2ban" */
    int (*detect)(const uint8_t *data, size_t len);
    int (*parse)(const struct feed_input *in, const struct feed_options *opt,
                 struct feed_sink *sink);
};

/* The line-based parsers (feed_snds.c, feed_csv.c, feed_list.c). */
extern const struct feed_ops feed_ops_snds, feed_ops_csv, feed_ops_list, feed_ops_traps,
    feed_ops_fail2ban;

/* The mail feedback-report parsers (feed_arf.c): one message, an mbox file. */
extern const struct feed_ops feed_ops_arf, feed_ops_mbox;

/* rbldnsd dataset files (feed_rbldnsd.c): the type comes in opt->subtype. */
extern const struct feed_ops feed_ops_rbldnsd;

/* The table of every parser, NULL-terminated. */
extern const struct feed_ops *const feed_parsers[];
const struct feed_ops *feed_find(const char *name);

/* SHA-256 of the concatenation of the given parts (for dedup keys). */
void feed_dedup_key(uint8_t out[FEED_DEDUP_LEN], const void *const *parts, const size_t *lens,
                    size_t n);
/* A key for event number idx of one record. */
void feed_dedup_derive(uint8_t out[FEED_DEDUP_LEN], const uint8_t key[FEED_DEDUP_LEN],
                       unsigned idx);

#endif
