/* import: the pieces of `dnsblctl import`. import_input.c reads one input
 * whole into memory (a file, gzip or not, standard input) and lists the
 * messages of a mail directory; import_sink.c is the feed_sink that copies
 * events into per-batch buffers and commits them to the store one write
 * transaction per batch, reports rejects and warnings, and draws the
 * progress bar. Every buffer and list handed out is freed by its _free
 * function; struct import_run is a plain value owned by cmd_import.c. */
#ifndef DNSBL_IMPORT_H
#define DNSBL_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "feed.h"
#include "store.h"

/* One input, whole: mapped for plain regular files, otherwise read (and
 * gunzipped) into the heap. data is followed by a NUL when on the heap. */
struct import_data {
    const uint8_t *data;
    size_t len;
    int64_t mtime; /* file time; standard input: 0 (the caller uses now) */
    void *map;     /* private */
    size_t maplen;
    uint8_t *heap;
};

/* path "-" is standard input. On error returns a negative dnsbl_err and
 * writes a sentence naming path to why. */
int import_data_read(const char *path, struct import_data *out, char *why, size_t whylen);
void import_data_free(struct import_data *d);

/* A mail directory: a maildir (cur/ and new/, never tmp/) or a folder of
 * *.eml files. */
enum import_dir_kind { IMPORT_DIR_MAILDIR, IMPORT_DIR_EML };

struct import_names {
    char **paths; /* "DIR/cur/NAME", sorted */
    size_t n;
};

/* Messages flagged seen (S) in a maildir's cur/ are left out: an earlier
 * run marked them (import_mail_done). */
int import_dir_list(const char *dir, enum import_dir_kind *kind, struct import_names *out,
                    char *why, size_t whylen);

/* A message of import_dir_list's, read and committed to the store: moved
 * into done_dir when given, else, in a maildir, marked seen as a mail
 * reader would (maildir(5)): new/NAME -> cur/NAME:2,S, cur/NAME:2,FLAGS ->
 * cur/NAME:2,FLAGS with S among them. A message of an .eml folder without
 * done_dir stays. DNSBL_OK, or an error with a sentence in why. */
int import_mail_done(const char *path, enum import_dir_kind kind, const char *done_dir, char *why,
                     size_t whylen);
void import_names_free(struct import_names *names);

/* Does data look binary within its first span bytes: a NUL byte or bytes
 * that are not UTF-8? Then *off is where, *what "NUL byte" or "invalid
 * UTF-8" (a static string). */
bool import_find_binary(const uint8_t *data, size_t len, size_t span, size_t *off,
                        const char **what);

struct import_totals {
    size_t read;       /* records read whole (accepted or rejected) */
    size_t imported;   /* events applied (dry run: events that would be) */
    size_t duplicates; /* events the store had seen (dedup keys) */
    size_t changed;    /* entries written or deleted (store_apply_stats) */
    size_t rejected;   /* records rejected, by the parser or by the import */
    size_t warnings;
};

#define IMPORT_STR_SLOTS 5 /* an item's strings */

/* One event of the batch, compact: a whole list input waits in memory
 * to be sorted (import_sink.c), so an item holds only the event's values.
 * Its strings live in the batch arena, named by offset + 1 (0 = NULL),
 * because the arena may move as it grows; an SNDS row or a dedup key, rare
 * beside list rows, lives in the side array (side = index + 1, 0 = none).
 * The struct events are built only when the batch is committed. */
struct import_item {
    struct addr_prefix prefix;
    uint8_t kind, auth_failed;
    bool snds_blocked, subzone; /* subzone: event.subzone */
    uint32_t code, ttl;
    uint32_t side;
    double weight;
    int64_t time, expires;
    uint8_t oplog_action;         /* EV_OPLOG's action */
    bool no_oplog;                /* restored state: no operator-history record */
    size_t str[IMPORT_STR_SLOTS]; /* reason, source, txt, dataset, by */
};

struct import_side {
    struct snds_row snds;
    bool has_snds, has_key;
    uint8_t key[FEED_DEDUP_LEN];
    /* the event's identifiers (the evidence trail), copied into the arena
     * as n pairs of NUL-terminated name and value at offset ident - 1 */
    bool has_ident;
    uint8_t ident_n;
    size_t ident;
};

struct import_run {
    /* settings */
    struct store *store; /* NULL: --dry-run, nothing is written */
    size_t batch_max;    /* events per write transaction */
    const char *reject_dir;
    bool progress; /* draw the progress bar (stderr is a terminal) */
    /* results */
    struct import_totals t;
    bool failed; /* the store refused a batch: the import stops */
    /* the batch: items, and at commit the events and key pointers */
    struct import_item *items;
    size_t n, cap;
    struct import_side *sides;
    size_t nsides, sides_cap;
    struct event *evs;
    const uint8_t **keys;
    struct evidence_ident *idents; /* evs_cap of them: what evs[i].ident points to */
    size_t evs_cap;
    char *arena;
    size_t arena_len, arena_cap;
    /* per string slot: offset + 1 and length of the last one put */
    size_t last_str[IMPORT_STR_SLOTS][2];
    /* true while every event of the batch is keyless state (sortable) */
    bool sortable;
    /* import --sync: everything is held until import_run_sync */
    bool sync;
    /* the input being parsed */
    const struct feed_input *in;
    const struct feed_options *opt;
    bool mail;           /* records are messages (line 0), not lines */
    size_t rec_start;    /* input offset where the current record begins */
    size_t rec_first;    /* batch index of the current record's first event */
    size_t rec_arena;    /* arena length when it began */
    size_t rec_sides;    /* side array length when it began */
    size_t in_records;   /* records of this input so far */
    size_t in_rejects;   /* rejects of this input so far */
    const char *refused; /* why the current record is refused, or NULL */
    char refused_buf[256];
    size_t line_pos; /* newline counting for refused records */
    long line_no;
    /* the progress bar */
    unsigned in_index, in_count;
    struct timespec start, in_start, last_draw;
    size_t bytes_done;
    bool bar_shown;
    /* the datasets written to (import_datasets.c), for the datasets database */
    const char *arg;    /* the PATH argument being imported (a directory's messages share it) */
    const char *format; /* the current input's format name */
    struct import_dataset *datasets;
    size_t ndatasets, datasets_cap;
    size_t last_dataset; /* index + 1 of the one the last event named, 0 = none */
};

/* One dataset an import wrote to: list data's own, or an evidence feed's
 * source. files are the PATH arguments that gave it events. */
struct import_dataset {
    char name[MODEL_DATASET_MAX];
    uint8_t kind; /* enum dataset_kind */
    char format[DATASET_FORMAT_MAX];
    char files[DATASET_FILES_MAX];
    const char *last_arg; /* the last argument appended to files */
    unsigned last_index;  /* the input (in_index, from 1) its format was taken from */
};

/* Count ev (an event the sink took) towards its dataset: list data
 * (import_list, import_exclude) towards dataset, anything else towards
 * its source. 0, or -1 with a message printed and r->failed set: out of
 * memory, or a new name whose id is another recorded name's. */
int import_datasets_seen(struct import_run *r, const struct event *ev, const char *dataset,
                         const char *source);

/* Record every dataset the run wrote to in the store's datasets database
 * (store_dataset_note), dated now. 0, or -1 with a message printed (a
 * name whose id collides with another's). */
int import_datasets_note(struct import_run *r, int64_t now);

void import_run_init(struct import_run *r, struct store *s, size_t batch_max,
                     const char *reject_dir, bool progress);
void import_run_free(struct import_run *r);

/* Parse one input through ops into the store: events are committed every
 * batch_max events at a record boundary and at the end of the input;
 * keyless events only at the end (or every IMPORT_SORT_MAX of them), in
 * prefix order, batch_max per transaction.
 * index/count (1-based) label the progress bar. Returns 0, or -1 when
 * the parser failed or the store refused a batch (message printed). */
/* import --sync: the events every input gave, held whole, made the
 * whole truth of their datasets and of `source` (store_apply_sync) in one
 * write transaction. 0, or -1 with the reason printed. */
int import_run_sync(struct import_run *r, const char *source, const struct store_sync_options *o,
                    struct store_sync_stats *st);

int import_run_input(struct import_run *r, const struct feed_ops *ops, const struct feed_input *in,
                     const struct feed_options *opt, unsigned index, unsigned count);

/* Seconds since import_run_init. */
double import_run_elapsed(const struct import_run *r);

/* Print a message on stderr, first clearing the progress bar if drawn. */
void import_run_message(struct import_run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
