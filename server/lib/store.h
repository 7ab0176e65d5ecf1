/* store: the only module that knows the LMDB layout -- the environment,
 * the named databases (meta, entries, seen, history), key and value
 * encodings and the schema version (doc/store-format.md). Callers see
 * struct entry / struct event (model.h) and never an LMDB type. A struct store is opened by
 * store_open and freed by store_close; a struct store_reader belongs to one
 * thread and is freed by store_reader_close before its store is closed.
 * Entries handed out are copies in caller-owned structs. */
#ifndef DNSBL_STORE_H
#define DNSBL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "addr.h"
#include "model.h"

struct store;
struct store_reader;

enum store_flags {
    STORE_RDONLY = 1, /* the server: never writes; the directory must hold a store */
    STORE_CREATE = 2, /* create the directory and an empty store if missing */
};

/* What a writer may tune; store_options_default fills in the defaults.
 * A read-only opener uses none of it (it adopts the recorded map size). */
struct store_options {
    size_t map_initial;  /* the map of a new store, bytes (64 MiB) */
    size_t map_max;      /* the map never grows past this (1 TiB; 1 GiB on 32-bit systems) */
    size_t filter_min;   /* entries before the store gets its lookup filter (65,536) */
    size_t flat_min;     /* entries before it gets a flat index (65,536) */
    size_t flat_changes; /* the fewest changes that make a flat rebuild due (1,024) */
    /* The evidence trail (doc/store-format.md, "evidence"): a write drops an
     * entry's records older than its newest minus evidence_days days (90,
     * the default model window), and all but its newest evidence_max (1,000). */
    uint32_t evidence_days;
    size_t evidence_max;
};
void store_options_default(struct store_options *o);

/* "INITIAL[,MAX]" (bytes, or with a k, m or g suffix) into o->map_initial
 * and o->map_max, for a --map-size option. On failure returns DNSBL_EINVAL
 * and writes a sentence naming text and the limits to why. */
int store_options_map_size(struct store_options *o, const char *text, char *why, size_t whylen);

/* "N" days, 1 to STORE_EVIDENCE_DAYS_MAX, into o->evidence_days, for an
 * --evidence-days option; DNSBL_EINVAL with a sentence in why if not. */
#define STORE_EVIDENCE_DAYS_MAX 36500
int store_options_evidence_days(struct store_options *o, const char *text, char *why,
                                size_t whylen);

/* Open the store in directory dir, with opt (NULL: the defaults). On
 * failure returns a negative dnsbl_err and writes a sentence naming dir
 * and the LMDB error to why. store_open is store_open_opts with NULL. */
int store_open_opts(const char *dir, int flags, const struct store_options *opt, struct store **out,
                    char *why, size_t whylen);
int store_open(const char *dir, int flags, struct store **out, char *why, size_t whylen);
void store_close(struct store *s);

/* Writers commit without syncing the meta page (the next commit or the
 * close does): store_sync makes every commit so far durable now, and says
 * why not (naming dir) if the disk refuses. A no-op for readers. */
int store_sync(struct store *s, char *why, size_t whylen);

/* Does dir hold a store (a data.mdb that is not empty)? */
bool store_exists(const char *dir);

/* May dnsblctl init make a store in dir: it does not exist, or holds
 * nothing but an unfinished store's data.mdb and lock.mdb? */
bool store_dir_unused(const char *dir);

/* Who may use a store just created: data.mdb 0640 and lock.mdb 0660
 * whatever the umask (an LMDB reader takes its reader slot in lock.mdb,
 * so readers need write access to it), the directory 0750 if
 * set_dir_mode; the directory and both files owned by uid:gid unless uid
 * is (uid_t)-1. On failure says why, naming the file, in why. */
int store_set_access(const char *dir, bool set_dir_mode, uid_t uid, gid_t gid, char *why,
                     size_t whylen);

struct store_apply_stats {
    size_t applied;    /* events applied */
    size_t duplicates; /* events skipped because their dedup key was seen */
    size_t changed;    /* entries written or deleted (an unchanged one is not written) */
};

/* Apply n events in one write transaction: for each, load the exact-prefix
 * entry (or start a new one), model_apply_event, write it back; keep each
 * entry's ancestors and the lookup filter; bump the serial. dedup[i] (may be NULL as a
 * whole or per event) is a 32-byte key: an event whose key is already in
 * `seen` is skipped, otherwise the key is recorded. All or nothing; a
 * batch in which no event applied (all duplicates, or n == 0) writes
 * nothing and leaves the serial alone, so a re-import changes nothing.
 * An event with time <= 0 is a caller bug: the batch is refused (EINVAL). */
int store_apply(struct store *s, const struct event *ev, const uint8_t *const *dedup, size_t n,
                struct store_apply_stats *stats, char *why, size_t whylen);

/* Keyless state in any order (list rows, rbldnsd data: events without a
 * dedup key, where only the order of the events on one prefix matters):
 * the store puts the n events in its key order and commits them per_txn
 * at a time, the events of one prefix in one transaction and in the order
 * given, so each transaction writes a run of neighbouring B-tree pages
 * and a new store is appended to. event_at(arg, i, ev) fills in event i
 * (0 <= i < n), whose pointers stay valid until this returns; it is
 * called once per event to sort and once to commit. Holds 24 bytes per
 * event and per_txn events at a time; without the memory to sort, the
 * events go in the order given. Each transaction is all or nothing; on an
 * error the earlier ones stay (keyless state repeats harmlessly, so the
 * caller applies it all again). stats sums every transaction's. */
int store_apply_sorted(struct store *s, size_t n,
                       void (*event_at)(void *arg, size_t i, struct event *ev), void *arg,
                       size_t per_txn, struct store_apply_stats *stats, char *why, size_t whylen);

/* A sync (dnsblctl import --sync): the n events (list state, in any
 * order, as store_apply_sorted takes them) become the whole truth of the
 * named datasets: every part of those datasets that no event gives on its
 * prefix is removed (EV_IMPORT_REMOVE; an entry left holding nothing is
 * deleted). All in one write transaction, so readers see the old set or
 * the new one and a sync killed at any point leaves the old set whole.
 * Refused (DNSBL_EREFUSED, nothing written) when it would remove more than
 * max_share of the parts the datasets held, unless force: an empty or cut
 * download must not delist the world. Holds the n events in memory. */
struct store_sync_options {
    int64_t now;      /* the removals' time */
    double max_share; /* 0..1 */
    bool force;
};
struct store_sync_stats {
    size_t before;  /* parts of the datasets before the sync */
    size_t removed; /* of those, removed */
    size_t applied; /* events applied (the input's and the removals) */
    size_t changed; /* entries written or deleted */
};
int store_apply_sync(struct store *s, const char *const *datasets, size_t ndatasets, size_t n,
                     void (*event_at)(void *arg, size_t i, struct event *ev), void *arg,
                     const struct store_sync_options *o, struct store_sync_stats *stats, char *why,
                     size_t whylen);

/* The flat index: a sorted-array copy of the entries that lookups search
 * instead of the B-tree, kept in the store. A write leaves it alone and
 * marks the addresses it changed, which lookups then take to the B-tree,
 * so answers are the same either way. store_flat_refresh rebuilds it in
 * one write transaction when force is set, when the store has none and
 * holds at least 65,536 entries, or when the entries written since it was
 * built reach max(1,024, entries / 64); otherwise it writes nothing. One
 * pass over the entries: writers call it after a batch of work (dnsblctl
 * does, before store_sync), never per event. */
struct store_flat_stats {
    bool rebuilt;     /* a new index was written */
    size_t entries;   /* entries in the store */
    size_t values;    /* distinct entry values in the new index */
    size_t bytes;     /* its size */
    uint64_t changes; /* entries written since the one it replaced */
    bool incremental; /* the old index gave the entries that had not changed */
    size_t from_tree; /* entries read from the B-tree (all of them when not incremental) */
};
int store_flat_refresh(struct store *s, bool force, struct store_flat_stats *stats, char *why,
                       size_t whylen);

/* Serial: bumped by every store_apply that applied at least one event. */
int store_serial(struct store *s, uint64_t *out);
/* Number of records in `entries` (for summaries), from one read snapshot. */
int store_count(struct store *s, size_t *entries);

/* Walk every entry in address order (V4 before V6, then bytes, then plen).
 * cb returns 0 to go on, non-zero to stop (that value is returned). */
int store_foreach(struct store *s, int (*cb)(const struct entry *e, void *arg), void *arg);

/* Integrity check of the whole store in one read snapshot: the schema
 * version and serial records; every entries key (family, prefix length,
 * host bits) and value decodes; every entry's ancestors are right; the
 * lookup filter has a bit for every entry; every history key belongs to an existing
 * entry and its record decodes; every seen key is 32 bytes; every
 * evidence key is 30 bytes of a valid entries key, a time and a sequence
 * number, and its record decodes; every datasets record decodes under its
 * name's id. problem(arg,
 * what) is called for each problem found, what a sentence naming the
 * database and the key (as prefix text, else hex); *nproblems gets the
 * count. Returns DNSBL_OK when the walk completed, whatever it found,
 * else the error that stopped it. */
int store_check(struct store *s, void (*problem)(void *arg, const char *what), void *arg,
                size_t *nproblems);

/* Backup and restore (store_backup.c). store_backup writes a compacted
 * copy of one read snapshot as dest/data.mdb (dest is made if missing;
 * one holding a live store's lock.mdb is refused), under a temporary
 * name renamed when whole and synced; out (may be NULL) gets its path.
 * Safe while dnsbld serves and writers commit. */
int store_backup(struct store *s, const char *dest, char *out, size_t outlen, char *why,
                 size_t whylen);
/* store_restore copies the backup src (a data.mdb file, or a directory
 * holding one) into dir, which must be empty or absent (else
 * DNSBL_EREFUSED): staged inside dir, checked with store_check in a child
 * process (a damaged file may fault when mapped), and renamed to
 * dir/data.mdb only when the check found nothing. Each problem goes to
 * problem(arg, what), *nproblems gets the count; on any failure nothing
 * is left in dir (a dir it made is removed) and why says why. */
int store_restore(const char *src, const char *dir, void (*problem)(void *arg, const char *what),
                  void *arg, size_t *nproblems, char *why, size_t whylen);

/* Reader: one read-only transaction, reset between uses so a writer is never
 * held back. Begin before a batch of lookups, end after; entries copied out
 * stay valid after end. */
int store_reader_open(struct store *s, struct store_reader **out);
void store_reader_close(struct store_reader *r);
int store_reader_begin(struct store_reader *r); /* sees the latest committed data */
void store_reader_end(struct store_reader *r);
/* Why the last store_reader_begin failed: a sentence naming the store
 * and the LMDB error; "" after a begin that worked. Owned by r. */
const char *store_reader_why(const struct store_reader *r);

/* Fill out[0..cap) with the entries covering addr (a full-length address),
 * longest prefix first; *n gets how many. A bit of the lookup filter
 * or one B-tree descent, and one exact get per further covering entry.
 * No allocation. Call between begin and end. */
int store_reader_covering(struct store_reader *r, const struct addr_prefix *addr, struct entry *out,
                          size_t cap, size_t *n);

/* The same, for an answer that carries no text (an A question): the
 * entries' reason, note, sources and part texts are left empty, the rest as
 * store_reader_covering gives it. */
int store_reader_covering_lean(struct store_reader *r, const struct addr_prefix *addr,
                               struct entry *out, size_t cap, size_t *n);

/* The entry stored for exactly this prefix, DNSBL_ENOENT if none. */
int store_reader_get(struct store_reader *r, const struct addr_prefix *p, struct entry *out);

/* Call cb for p's own entry and every entry inside p, in key order (a
 * range scan from p's key); cb returns 0 to go on, non-zero to stop (that
 * value is returned). Call between begin and end. */
int store_reader_within(struct store_reader *r, const struct addr_prefix *p,
                        int (*cb)(const struct entry *e, void *arg), void *arg);

/* History: one record per (entry prefix, day) with that day's evidence
 * (model_history_add), written by store_apply for events that have
 * history (model_event_has_history). Days from first_day on, oldest first,
 * at most cap of them; *n gets how many. No allocation. */
int store_reader_history(struct store_reader *r, const struct addr_prefix *p, uint32_t first_day,
                         struct history_day *out, size_t cap, size_t *n);

/* Operator history (the `oplog` database, doc/store-format.md): one
 * record per operator action on an entry, written by store_apply in the
 * same transaction as an EV_LIST, EV_DELIST or EV_ALLOW event (who from
 * event.by), and kept when the entry changes again. */
enum oplog_action {
    OPLOG_LIST = 1,   /* dnsblctl add, a CSV "list" row */
    OPLOG_DELIST = 2, /* dnsblctl delist, a CSV "delist" row */
    OPLOG_ALLOW = 3,  /* dnsblctl allow, a CSV "allow" row */
    OPLOG_REMOVE = 4, /* reserved: removal of an entry or a dataset's part of it */
    OPLOG_UNDO = 5,   /* reserved: an undone import */
};
#define OPLOG_ACTION_MAX OPLOG_UNDO
#define OPLOG_WHO_MAX 64 /* sizeof who and dataset, with the NUL */

struct oplog_rec {
    int64_t time;                /* when, unix seconds (> 0) */
    uint8_t action;              /* enum oplog_action */
    uint32_t code;               /* OPLOG_LIST: the A value, host order; 0 = none or the zone's */
    int64_t expires;             /* unix seconds; 0 = never or not applicable */
    char who[OPLOG_WHO_MAX];     /* "" = unknown */
    char reason[MODEL_TEXT_MAX]; /* "" = none given */
    char dataset[OPLOG_WHO_MAX]; /* "" = none (the operator's own) */
};

/* "list", "delist", "allow", "remove", "undo"; "?" for anything else. */
const char *store_oplog_action_name(uint8_t action);

/* p's operator history (exactly p's entry, host bits cleared), oldest
 * first: the last min(total, cap) records go to out[0..), and *n gets the
 * total the store holds for p, which may exceed cap (cap 0 counts). Call
 * between begin and end. DNSBL_ESCHEMA for a record that does not decode. */
int store_reader_oplog(struct store_reader *r, const struct addr_prefix *p, struct oplog_rec *out,
                       size_t cap, size_t *n);

/* Every operator-history record of the store, entry by entry in key
 * order and each entry's oldest first, from one read snapshot: a record
 * outlives its entry, so an export walks these, not the entries. cb
 * returns 0 to go on, non-zero to stop (that value is returned);
 * DNSBL_ESCHEMA for a record that does not decode. */
int store_oplog_foreach(struct store *s,
                        int (*cb)(const struct addr_prefix *p, const struct oplog_rec *rec,
                                  void *arg),
                        void *arg);

/* Datasets (the `datasets` database, doc/store-format.md): one record per
 * named dataset, what its imports said about it. Entries hold the data;
 * this holds where it came from and when. */
enum dataset_kind {
    DATASET_KIND_NONE = 0,
    DATASET_LIST = 1,     /* list data: its parts are in entries */
    DATASET_EVIDENCE = 2, /* a feed source that brought evidence only */
    DATASET_OPERATOR = 3, /* the operator's own decisions */
};
#define DATASET_FORMAT_MAX 32  /* sizeof format, with the NUL */
#define DATASET_FILES_MAX 1024 /* sizeof files, with the NUL */

struct dataset_note {
    char name[MODEL_DATASET_MAX];    /* 1 to 63 bytes; its id is model_dataset_id(name) */
    uint8_t kind;                    /* enum dataset_kind */
    char format[DATASET_FORMAT_MAX]; /* format of its last import ("rbldnsd:ip4set") */
    char files[DATASET_FILES_MAX];   /* inputs of its last import, '\n' between them */
    int64_t last_import;             /* unix seconds; 0 = none */
    int64_t last_sync;               /* unix seconds; 0 = never */
};

/* "list", "evidence", "operator"; "?" for anything else. */
const char *store_dataset_kind_name(uint8_t kind);

/* Records an import of dataset n->name in its own write transaction,
 * merged with its record: a last_import of 0 keeps the recorded import
 * (time, format, files), a last_sync of 0 the recorded sync, and a list
 * stays a list when evidence comes under its name. A name whose id is
 * another recorded name's (a 32-bit collision) is refused with
 * DNSBL_EREFUSED and a sentence naming both in why. */
int store_dataset_note(struct store *s, const struct dataset_note *n, char *why, size_t whylen);

/* May name be a dataset of this store: DNSBL_OK when no record holds its
 * id or the record is name's own; DNSBL_EREFUSED with the sentence
 * store_dataset_note would give when another name holds it. Importers ask
 * before writing a dataset's first part, so two names never share parts. */
int store_dataset_check(struct store *s, const char *name, char *why, size_t whylen);

/* Every recorded dataset, in id order, from one read snapshot. cb
 * returns 0 to go on, non-zero to stop (that value is returned);
 * DNSBL_ESCHEMA for a record that does not decode. */
int store_datasets_foreach(struct store *s, int (*cb)(const struct dataset_note *n, void *arg),
                           void *arg);

#define STORE_HISTORY_MAX 400 /* more days than any window a zone may set */

/* One record of the evidence trail, decoded: what store_apply wrote for an
 * event with identifiers (model_event_has_evidence). Texts are copies. */
struct evidence_record {
    int64_t time;                 /* the event's time */
    uint32_t seq;                 /* tells records of one entry and time apart */
    uint8_t kind;                 /* enum event_kind */
    double weight;                /* the event's weight */
    uint64_t import_id;           /* the import that brought it, 0 = none */
    char dataset[MODEL_TEXT_MAX]; /* the event's source (an import's --source) */
    size_t n;                     /* identifier pairs */
    char name[EVIDENCE_IDENT_MAX][EVIDENCE_NAME_MAX];
    char value[EVIDENCE_IDENT_MAX][EVIDENCE_VALUE_MAX];
};

/* The newest last_n evidence records of exactly prefix p, oldest first,
 * into out[0..last_n); *n gets how many. Call between begin and end. */
int store_reader_evidence(struct store_reader *r, const struct addr_prefix *p, size_t last_n,
                          struct evidence_record *out, size_t *n);

/* The `evidence` value codec, exposed for tests. encode writes the event's
 * kind, weight, import id, source and identifiers (texts cut to their
 * fields) into buf (STORE_EVIDENCE_VALUE_MAX is always enough); decode
 * fills out's fields but time and seq (they are in the key) and returns
 * DNSBL_ESCHEMA for anything short, long or malformed. */
#define STORE_EVIDENCE_VALUE_MAX                                                                   \
    (1 + 1 + 8 + 8 + 2 + MODEL_TEXT_MAX + 1 +                                                      \
     EVIDENCE_IDENT_MAX * (1 + EVIDENCE_NAME_MAX + 2 + EVIDENCE_VALUE_MAX))
int store_encode_evidence(const struct event *ev, uint8_t *buf, size_t cap, size_t *len);
int store_decode_evidence(const void *val, size_t len, struct evidence_record *out);

#define STORE_COVERING_MAX                                                                         \
    129 /* prefix lengths 0..128: the most entries that can cover one address */

/* The `entries` value codec, exposed for tests and later schema upgrades.
 * encode writes the current version into buf (STORE_ENTRY_VALUE_MAX is
 * always enough) and sets *len; decode checks version and length and
 * returns DNSBL_ESCHEMA for anything short, long or malformed. The prefix
 * lives in the key: decode leaves out->prefix untouched. Version 1 was
 * STORE_ENTRY_VALUE_FIXED bytes of fixed-size fields, then five strings
 * (reason, note, imp_txt, imp_dataset, sources), each u16 length + bytes;
 * version 2 adds a byte saying which groups of those fields follow, and
 * leaves out the groups that are all zero; version 3 (written now) holds
 * up to ENTRY_PARTS_MAX dataset parts where 2 held one imported listing
 * (doc/store-format.md "Entry values"). */
#define STORE_ENTRY_VALUE_FIXED                                                                    \
    (1 + (1 + 4 + 8 + 8) + (1 + 1 + 4 + 4 + 8) + (8 + 8 + CNT_COUNT * 4 + 8 + AUTHC_COUNT * 4) +   \
     (1 + 1 + 4 + 4 * 4 + 2 * 8) + 1)
#define STORE_PART_LEN (4 + 1 + 1 + 4 + 4 + 8)
#define STORE_ENTRY_VALUE_MAX                                                                      \
    (2 + (1 + 4 + 8 + 8) + 1 + ENTRY_PARTS_MAX * STORE_PART_LEN +                                  \
     (8 + 8 + CNT_COUNT * 4 + 8 + AUTHC_COUNT * 4) + (1 + 1 + 4 + 4 * 4 + 2 * 8 + 1) + 8 +         \
     3 * (2 + MODEL_TEXT_MAX - 1) +                                                                \
     ENTRY_PARTS_MAX * ((2 + MODEL_DATASET_MAX - 1) + (2 + MODEL_TEXT_MAX - 1)))
int store_encode_entry(const struct entry *e, uint8_t *buf, size_t cap, size_t *len);
int store_decode_entry(const void *val, size_t len, struct entry *out);

/* The imports log and undo (store_undo.c, doc/store-format.md "imports"
 * and "undo"). store_import_begin records an import (state running) in
 * its own transaction and gives it the next id (1, 2, ...); from then on
 * every write of this struct store (store_apply, store_apply_sorted)
 * keeps, per record it changes (entries, history, evidence, oplog, seen),
 * the value before the import's first change and after its last, until
 * store_import_end marks it done with its counts. store_undo puts back
 * what an import changed, in batches that each delete their undo records,
 * so an undo killed midway continues when run again. */
enum import_log_state {
    IMPORT_RUNNING = 1, /* begun, not ended (or the importer died) */
    IMPORT_DONE = 2,
    IMPORT_UNDOING = 3, /* an undo began and has not finished */
    IMPORT_UNDONE = 4,
    IMPORT_PRUNED = 5, /* done, its undo records dropped (store_import_prune): no undo */
};
#define IMPORT_LOG_TEXT_MAX 256   /* who, source, format, with the NUL */
#define IMPORT_LOG_FILES_MAX 1024 /* the files, joined with ", ", with the NUL */

struct import_counts {
    uint64_t read, imported, duplicates, rejected, changed;
};

struct import_info {
    uint64_t id;   /* set by the store */
    int64_t time;  /* when it began, unix seconds (0: now) */
    uint8_t state; /* enum import_log_state; set by the store */
    bool sync;     /* import --sync */
    char who[IMPORT_LOG_TEXT_MAX];
    char source[IMPORT_LOG_TEXT_MAX];
    char format[IMPORT_LOG_TEXT_MAX];
    char files[IMPORT_LOG_FILES_MAX];
    struct import_counts counts;
};

/* Records info (id, state and a zero time filled in) and makes this
 * store's later writes keep undo data for it. DNSBL_EINVAL if an import
 * is open already on s. */
int store_import_begin(struct store *s, struct import_info *info, char *why, size_t whylen);
/* Marks the open import done and stops the recording. info (may be
 * NULL: the record stays as begun, counts 0) gives the record's final
 * who, source, format, files, sync flag and counts, for what is known only
 * at the end (a detected format); its id, time and state are the store's.
 * A no-op without an open import. */
int store_import_end(struct store *s, const struct import_info *info, char *why, size_t whylen);
/* The id of the open import, 0 if none. */
uint64_t store_import_current(const struct store *s);

/* Every import recorded, oldest first: cb(info, arg) returns 0 to go on. */
int store_imports(struct store *s, int (*cb)(const struct import_info *info, void *arg), void *arg);
/* One import's record; DNSBL_ENOENT if there is none. */
int store_import_get(struct store *s, uint64_t id, struct import_info *out);

struct store_undo_stats {
    size_t entries;  /* entries put back, rewritten or deleted */
    size_t history;  /* history days put back */
    size_t evidence; /* evidence records removed or put back */
    size_t oplog;    /* operator history records removed */
    size_t seen;     /* dedup keys forgotten */
    size_t kept;     /* records a later write changed again: merged, or left as they are */
};
/* Reverses import id (doc/store-format.md "undo"); st (may be NULL) gets
 * what it did, in this run. DNSBL_ENOENT for an unknown import,
 * DNSBL_EINVAL for one undone already, one still running (in this
 * process), or while s records an import. */
/* Drops the undo records of done import id, so the store does not keep
 * every import's before-images for good; the import stays in the log as
 * pruned and can no longer be undone. The state is set first, in the
 * transaction that deletes the first batch, so a prune killed midway is
 * never taken for an undoable import, and running it again finishes it.
 * *records (may be NULL) gets how many were dropped. DNSBL_EINVAL for an
 * import that is not done (running, undoing, undone). */
int store_import_prune(struct store *s, uint64_t id, uint64_t *records, char *why, size_t whylen);

int store_undo(struct store *s, uint64_t id, struct store_undo_stats *st, char *why, size_t whylen);
const char *store_import_state_name(uint8_t state); /* "running", "done", ... */

/* Pull state (store_pull.c): what dnsblctl pull knows of a zone it takes
 * from a primary by zone transfer, kept as the meta record "pull:ZONE"
 * (doc/store-format.md "Meta records"), written in the same transaction
 * as the data of a transfer, so a pull killed at any point leaves the old
 * data and the old serial together. */
#define STORE_PULL_TEXT_MAX 256
struct store_pull_state {
    bool have_serial;                /* a transfer was applied: serial is its version */
    uint32_t serial;                 /* the SOA serial last applied */
    uint32_t refresh, retry, expire; /* that SOA's timers, seconds */
    uint32_t minimum;
    int64_t last_success; /* unix seconds of the last pull that worked (0: never) */
    int64_t last_attempt; /* of the last pull, worked or not */
    int64_t expired_at;   /* when the listings were withdrawn for expiry (0: not expired) */
    uint64_t pulls;       /* transfers applied */
    uint64_t import_id;   /* the import that applied serial (dnsblctl undo may take it back) */
    char dataset[MODEL_DATASET_MAX];
    char primary[STORE_PULL_TEXT_MAX];    /* ADDR:PORT as given */
    char last_error[STORE_PULL_TEXT_MAX]; /* "" after a success */
};
/* DNSBL_ENOENT when the zone was never pulled into this store. */
int store_pull_get(struct store *s, const char *zone, struct store_pull_state *out, char *why,
                   size_t whylen);
/* The state alone, in its own write transaction (a failed pull). */
int store_pull_put(struct store *s, const char *zone, const struct store_pull_state *st, char *why,
                   size_t whylen);
/* A whole zone (AXFR; or, with n == 0, the withdrawal of an expired one):
 * the n events become the whole truth of the ndatasets datasets (the
 * pulled one and its value slots: store_apply_sync with force, the
 * primary is the authority), and st is written, in one write
 * transaction. */
int store_pull_full(struct store *s, const char *zone, const struct store_pull_state *st,
                    const char *const *datasets, size_t ndatasets, size_t n,
                    void (*event_at)(void *arg, size_t i, struct event *ev), void *arg, int64_t now,
                    struct store_sync_stats *stats, char *why, size_t whylen);
/* Differences (IXFR): the n events and st in one write transaction. */
int store_pull_incr(struct store *s, const char *zone, const struct store_pull_state *st,
                    const struct event *ev, size_t n, struct store_apply_stats *stats, char *why,
                    size_t whylen);

#endif
