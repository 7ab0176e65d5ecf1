/* import_sink: where the parsers' events go during `dnsblctl import`.
 * Events are copied into a growing per-batch buffer (no allocation per
 * event) and committed with store_apply, one write transaction per batch:
 * killed at any moment, the store holds whole batches only, and a re-run
 * skips what was committed by its dedup keys. Commits wait for a record
 * boundary (the parser's progress call) so the events of one record
 * (an SNDS row's volume, traps and row) land in the same transaction.
 * Keyless events (list rows, rbldnsd data: state that repeats harmlessly)
 * are held until the input ends, then handed to the store, which sorts
 * them by its key order and commits them in batches of neighbouring keys
 * (store_apply_sorted).
 * Rejects and warnings are printed as FILE:LINE: why and counted. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "err.h"
#include "grow.h"
#include "import.h"
#include "utf8.h"

/* A batch may outgrow batch_max only while one record goes on; a parser
 * that never reports a record boundary is still cut at this multiple. */
#define IMPORT_BATCH_HARD_FACTOR 4

/* Keyless state (list rows, rbldnsd data) is held until the input ends
 * and committed sorted; past this many events it is committed, sorted,
 * early. An event takes about 100 bytes held and 48 more while sorted:
 * 16M of them, about 2.5 GB. */
#define IMPORT_SORT_MAX ((size_t)1 << 24)

#define IMPORT_BAR_WIDTH 24
#define IMPORT_BAR_INTERVAL_NS 100000000L /* at most 10 redraws a second */

static double import_seconds_between(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

double import_run_elapsed(const struct import_run *r)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return import_seconds_between(&r->start, &now);
}

void import_run_init(struct import_run *r, struct store *s, size_t batch_max,
                     const char *reject_dir, bool progress)
{
    memset(r, 0, sizeof *r);
    r->store = s;
    r->batch_max = batch_max;
    r->reject_dir = reject_dir;
    r->progress = progress;
    r->sortable = true;
    clock_gettime(CLOCK_MONOTONIC, &r->start);
}

void import_run_free(struct import_run *r)
{
    free(r->items);
    free(r->sides);
    free(r->evs);
    free(r->keys);
    free(r->idents);
    free(r->arena);
    free(r->datasets);
    memset(r, 0, sizeof *r);
}

static void import_bar_clear(struct import_run *r)
{
    if (!r->bar_shown)
        return;
    fputs("\r\033[K", stderr);
    r->bar_shown = false;
}

void import_run_message(struct import_run *r, const char *fmt, ...)
{
    va_list ap;

    import_bar_clear(r);
    fflush(stdout);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* "1:05" or "2:03:07". */
static void import_format_eta(double seconds, char *buf, size_t cap)
{
    if (!(seconds >= 0) || seconds > 359999) {
        snprintf(buf, cap, "--:--");
        return;
    }
    unsigned s = (unsigned)(seconds + 0.5);
    if (s >= 3600)
        snprintf(buf, cap, "%u:%02u:%02u", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, cap, "%u:%02u", s / 60, s % 60);
}

/* [2/5] ##########..............  41%  120000 records  35000/s  ETA 0:07
 * The percentage and ETA are of the current input's bytes (its size is
 * known once it is read); the rate counts records of the whole run. */
static void import_bar_draw(struct import_run *r, bool force)
{
    struct timespec now;
    char bar[IMPORT_BAR_WIDTH + 1], eta[32];

    if (!r->progress)
        return;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (!force && r->bar_shown &&
        (now.tv_sec - r->last_draw.tv_sec) * 1000000000L + (now.tv_nsec - r->last_draw.tv_nsec) <
            IMPORT_BAR_INTERVAL_NS)
        return;
    r->last_draw = now;
    size_t len = r->in ? r->in->len : 0;
    double frac = len ? (double)r->bytes_done / (double)len : 1.0;
    if (frac > 1)
        frac = 1;
    unsigned fill = (unsigned)(frac * IMPORT_BAR_WIDTH);
    for (unsigned i = 0; i < IMPORT_BAR_WIDTH; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[IMPORT_BAR_WIDTH] = '\0';
    double total = import_seconds_between(&r->start, &now);
    double in_secs = import_seconds_between(&r->in_start, &now);
    double rate = total > 0 ? (double)r->t.read / total : 0;
    double byte_rate = in_secs > 0 ? (double)r->bytes_done / in_secs : 0;
    import_format_eta(byte_rate > 0 ? (double)(len - r->bytes_done) / byte_rate : -1, eta,
                      sizeof eta);
    fprintf(stderr, "\r\033[K[%u/%u] %s %3u%%  %zu records  %.0f/s  ETA %s", r->in_index,
            r->in_count, bar, (unsigned)(frac * 100), r->t.read, rate, eta);
    fflush(stderr);
    r->bar_shown = true;
}

/* Room for n events and key pointers handed to store_apply. */
static int import_evs_reserve(struct import_run *r, size_t n)
{
    if (n <= r->evs_cap)
        return DNSBL_OK;
    struct event *evs = realloc(r->evs, n * sizeof *evs);
    if (!evs)
        return DNSBL_ENOMEM;
    r->evs = evs;
    const uint8_t **keys = realloc(r->keys, n * sizeof *keys);
    if (!keys)
        return DNSBL_ENOMEM;
    r->keys = keys;
    struct evidence_ident *idents = realloc(r->idents, n * sizeof *idents);
    if (!idents)
        return DNSBL_ENOMEM;
    r->idents = idents;
    r->evs_cap = n;
    return DNSBL_OK;
}

/* Copy s into the arena; *off gets offset + 1, or 0 for NULL. A string
 * equal to the last one put in the same slot is not copied again: list
 * rows repeat their reason and source, and an input held whole for
 * sorting would otherwise keep a copy per row. */
static int import_arena_put(struct import_run *r, unsigned slot, const char *s, size_t *off)
{
    if (!s) {
        *off = 0;
        return DNSBL_OK;
    }
    size_t len = strlen(s) + 1;
    size_t *last = r->last_str[slot];
    if (last[0] && last[1] == len && memcmp(r->arena + last[0] - 1, s, len) == 0) {
        *off = last[0];
        return DNSBL_OK;
    }
    if (grow_array((void **)&r->arena, &r->arena_cap, r->arena_len + len, 1, 64 * 1024) != DNSBL_OK)
        return DNSBL_ENOMEM;
    memcpy(r->arena + r->arena_len, s, len);
    *off = r->arena_len + 1;
    r->arena_len += len;
    last[0] = *off;
    last[1] = len;
    return DNSBL_OK;
}

/* Cut the arena back to len (a refused record's strings go), forgetting
 * any remembered string that lay past it. */
static void import_arena_cut(struct import_run *r, size_t len)
{
    r->arena_len = len;
    for (unsigned i = 0; i < IMPORT_STR_SLOTS; i++)
        if (r->last_str[i][0] > len)
            r->last_str[i][0] = 0;
}

static const char *import_arena_get(const struct import_run *r, size_t off)
{
    return off ? r->arena + off - 1 : NULL;
}

/* Copy an event's identifiers into the arena, as name NUL value NUL per
 * pair: the parser's strings last only during its callback, and the
 * event is applied when the batch is committed. */
static int import_arena_put_ident(struct import_run *r, const struct evidence_ident *id,
                                  struct import_side *side)
{
    size_t n = id->n < EVIDENCE_IDENT_MAX ? id->n : EVIDENCE_IDENT_MAX, len = 0;
    for (size_t i = 0; i < n; i++)
        len += strlen(id->pair[i].name ? id->pair[i].name : "") + 1 +
               strlen(id->pair[i].value ? id->pair[i].value : "") + 1;
    if (grow_array((void **)&r->arena, &r->arena_cap, r->arena_len + len + 1, 1, 64 * 1024) !=
        DNSBL_OK)
        return DNSBL_ENOMEM;
    side->has_ident = true;
    side->ident_n = (uint8_t)n;
    side->ident = r->arena_len + 1;
    for (size_t i = 0; i < n; i++) {
        const char *parts[2] = {id->pair[i].name ? id->pair[i].name : "",
                                id->pair[i].value ? id->pair[i].value : ""};
        for (size_t j = 0; j < 2; j++) {
            size_t l = strlen(parts[j]) + 1;
            memcpy(r->arena + r->arena_len, parts[j], l);
            r->arena_len += l;
        }
    }
    return DNSBL_OK;
}

/* The identifiers of side, pointing into the arena, into *id. */
static const struct evidence_ident *import_side_ident(const struct import_run *r,
                                                      const struct import_side *side,
                                                      struct evidence_ident *id)
{
    if (!side || !side->has_ident || !id)
        return NULL;
    const char *p = import_arena_get(r, side->ident);
    id->n = side->ident_n;
    for (size_t i = 0; i < id->n; i++) {
        id->pair[i].name = p;
        p += strlen(p) + 1;
        id->pair[i].value = p;
        p += strlen(p) + 1;
    }
    return id;
}

/* Every listing belongs to a dataset: the one the data names (rbldnsd,
 * a CSV row's column), else --zone, else the import's source (--source,
 * else the format's name), so two lists never overwrite each other's word and a
 * zone can choose among them (README "Datasets"). */
static const char *import_event_dataset(const struct import_run *r, const struct event *ev)
{
    if (ev->kind != EV_IMPORT_LIST && ev->kind != EV_IMPORT_EXCLUDE)
        return ev->dataset;
    if (ev->dataset && ev->dataset[0])
        return ev->dataset;
    if (r->opt->zone && r->opt->zone[0])
        return r->opt->zone; /* --zone: the zone's own data, as rbldnsd names it */
    return ev->source ? ev->source : r->opt->source;
}

/* The event item it stands for, its strings and side record pointing into
 * the batch buffers (valid until the batch is cleared); its identifiers
 * go to *id (NULL: the caller wants none, as keyless items have none). */
static void import_item_event(const struct import_run *r, const struct import_item *it,
                              struct event *ev, const uint8_t **key, struct evidence_ident *id)
{
    const struct import_side *side = it->side ? &r->sides[it->side - 1] : NULL;

    *ev = (struct event){
        .prefix = it->prefix,
        .kind = it->kind,
        .weight = it->weight,
        .time = it->time,
        .code = it->code,
        .expires = it->expires,
        .reason = import_arena_get(r, it->str[0]),
        .source = import_arena_get(r, it->str[1]),
        .ttl = it->ttl,
        .txt = import_arena_get(r, it->str[2]),
        .dataset = import_arena_get(r, it->str[3]),
        .auth_failed = it->auth_failed,
        .snds = side && side->has_snds ? &side->snds : NULL,
        .snds_blocked = it->snds_blocked,
        .subzone = it->subzone,
        .ident = import_side_ident(r, side, id),
        .by = import_arena_get(r, it->str[4]),
        .oplog_action = it->oplog_action,
        .no_oplog = it->no_oplog,
    };
    *key = side && side->has_key ? side->key : NULL;
}

/* One store_apply of events evs[0..n): one write transaction. */
static int import_store_apply(struct import_run *r, size_t n, bool keyed)
{
    struct store_apply_stats stats = {0};
    char why[512] = "";

    int rc = store_apply(r->store, r->evs, keyed ? r->keys : NULL, n, &stats, why, sizeof why);
    if (rc != DNSBL_OK) {
        import_run_message(r, CTL_PROG ": %s: writing to the store: %s", r->in->name,
                           why[0] ? why : dnsbl_strerror(rc));
        r->failed = true;
        return -1;
    }
    r->t.imported += stats.applied;
    r->t.duplicates += stats.duplicates;
    r->t.changed += stats.changed;
    return 0;
}

static int import_fail_nomem(struct import_run *r)
{
    import_run_message(r, CTL_PROG ": %s: %s", r->in->name, dnsbl_strerror(DNSBL_ENOMEM));
    r->failed = true;
    return -1;
}

/* store_apply_sorted's view of the held items. */
static void import_item_at(void *arg, size_t i, struct event *ev)
{
    const struct import_run *r = arg;
    const uint8_t *key;
    import_item_event(r, &r->items[i], ev, &key, NULL);
}

/* Commit items[0..n), all keyless state, through the store, which puts
 * them in its key order and commits batch_max per write transaction. A
 * list input in random order spread over batches would touch most of the
 * B-tree's pages in every transaction; in order, each writes a run of
 * neighbouring pages. Keyless events set state and repeat harmlessly, so
 * a run killed between transactions is finished by importing again. */
static int import_commit_sorted(struct import_run *r, size_t n)
{
    struct store_apply_stats stats = {0};
    char why[512] = "";
    int rc =
        store_apply_sorted(r->store, n, import_item_at, r, r->batch_max, &stats, why, sizeof why);
    r->t.imported += stats.applied;
    r->t.duplicates += stats.duplicates;
    r->t.changed += stats.changed;
    if (rc != DNSBL_OK) {
        import_run_message(r, CTL_PROG ": %s: writing to the store: %s", r->in->name,
                           why[0] ? why : dnsbl_strerror(rc));
        r->failed = true;
        return -1;
    }
    return 0;
}

/* Commit the batch (or, dry, just count it): in address order over
 * several transactions when it is all keyless state and bigger than a
 * batch, else in one write transaction. */
static int import_batch_commit(struct import_run *r)
{
    if (r->n == 0 || r->failed)
        return r->failed ? -1 : 0;
    if (r->sync)
        return 0; /* held whole for import_run_sync */
    if (!r->store) {
        r->t.imported += r->n;
    } else if (r->sortable && r->n > r->batch_max) {
        if (import_commit_sorted(r, r->n) != 0)
            return -1;
    } else {
        if (import_evs_reserve(r, r->n) != DNSBL_OK)
            return import_fail_nomem(r);
        for (size_t i = 0; i < r->n; i++)
            import_item_event(r, &r->items[i], &r->evs[i], &r->keys[i], &r->idents[i]);
        if (import_store_apply(r, r->n, true) != 0)
            return -1;
    }
    r->n = 0;
    r->nsides = 0;
    import_arena_cut(r, 0);
    r->rec_first = 0;
    r->rec_arena = 0;
    r->rec_sides = 0;
    r->sortable = true;
    return 0;
}

/* "name" of a path for reject files: its last component; stdin is "stdin". */
static const char *import_basename(const char *path)
{
    if (strcmp(path, "-") == 0)
        return "stdin";
    const char *slash = strrchr(path, '/');
    return slash && slash[1] ? slash + 1 : path;
}

static int import_mkdirs(const char *dir)
{
    char path[PATH_MAX];
    size_t len = strlen(dir);

    if (len == 0 || len >= sizeof path)
        return ENAMETOOLONG;
    memcpy(path, dir, len + 1);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return errno;
        *p = '/';
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return errno;
    return 0;
}

/* DIR/<basename>.<line>.rej for a line; a message goes to
 * DIR/<basename>.<line>.eml (mbox: its separator's line) or, when it has
 * no line, DIR/<basename>.<n>.eml for the input's n-th message. */
static void import_write_reject(struct import_run *r, const struct feed_origin *o)
{
    char path[PATH_MAX];
    int err = import_mkdirs(r->reject_dir);

    if (err) {
        import_run_message(r, CTL_PROG ": %s: %s", r->reject_dir, strerror(err));
        return;
    }
    long n = o->line > 0 ? o->line : r->mail ? (long)r->in_records + 1 : (long)r->in_rejects;
    snprintf(path, sizeof path, "%s/%s.%ld.%s", r->reject_dir,
             import_basename(o->file ? o->file : r->in->name), n, r->mail ? "eml" : "rej");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        import_run_message(r, CTL_PROG ": %s: %s", path, strerror(errno));
        return;
    }
    size_t done = 0;
    while (o->raw && done < o->raw_len) {
        ssize_t w = write(fd, o->raw + done, o->raw_len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            import_run_message(r, CTL_PROG ": %s: %s", path, strerror(errno));
            break;
        }
        done += (size_t)w;
    }
    /* A line loses its end when it is cut out; give it back. */
    if (!r->mail && done == o->raw_len && (o->raw_len == 0 || o->raw[o->raw_len - 1] != '\n'))
        if (write(fd, "\n", 1) != 1)
            import_run_message(r, CTL_PROG ": %s: %s", path, strerror(errno));
    close(fd);
}

/* FILE:LINE: or, for mail, FILE: <Message-ID>: (FILE: message N: when the
 * message has none). */
static void import_format_where(const struct import_run *r, const struct feed_origin *o, char *buf,
                                size_t cap)
{
    const char *file = o->file ? o->file : r->in->name;

    if (o->line > 0)
        snprintf(buf, cap, "%s:%ld", file, o->line);
    else if (!r->mail)
        snprintf(buf, cap, "%s", file);
    else if (o->message_id)
        snprintf(buf, cap, "%s: <%s>", file, o->message_id);
    else
        snprintf(buf, cap, "%s: message %zu", file, r->in_records + 1);
}

/* in for the terminal: control bytes and bytes that are not UTF-8 as
 * \xNN, so no byte of a binary input or a hostile line reaches it raw
 * (a message quotes the field or line it is about). */
static void import_escape(const char *in, char *out, size_t cap)
{
    const uint8_t *p = (const uint8_t *)in;
    size_t left = strlen(in), o = 0;

    while (left > 0 && o + 5 < cap) {
        size_t n = utf8_seq_len(p, left);
        if (n == 0 || p[0] < 0x20 || p[0] == 0x7f) {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", p[0]);
            n = 1;
        } else {
            if (o + n + 1 > cap)
                break;
            memcpy(out + o, p, n);
            o += n;
        }
        p += n;
        left -= n;
    }
    out[o] = '\0';
}

/* "WHERE: WHY" (prefix "warning: " or ""), escaped for the terminal. */
static void import_print_record_message(struct import_run *r, const struct feed_origin *o,
                                        const char *prefix, const char *why)
{
    char where[PATH_MAX + 300], shown_where[4 * sizeof where], shown_why[4096];

    import_format_where(r, o, where, sizeof where);
    import_escape(where, shown_where, sizeof shown_where);
    import_escape(why, shown_why, sizeof shown_why);
    import_run_message(r, "%s: %s%s", shown_where, prefix, shown_why);
}

static void import_sink_reject(void *arg, const struct feed_origin *o, const char *why)
{
    struct import_run *r = arg;

    import_print_record_message(r, o, "", why);
    r->t.rejected++;
    r->in_rejects++;
    if (r->reject_dir)
        import_write_reject(r, o);
}

static void import_sink_warn(void *arg, const struct feed_origin *o, const char *why)
{
    struct import_run *r = arg;

    import_print_record_message(r, o, "warning: ", why);
    r->t.warnings++;
}

/* A listing of 127.0.0.1 (model_event_refusal, which store_apply
 * enforces) refuses its whole record; the parser does not know, so the
 * record is reported at its boundary (import_refuse_record). Parsers that
 * emit after reading the whole input (rbldnsd resolves its datasets
 * first) have no record left to blame: there the event alone is refused. */
static const char *import_refuses(struct import_run *r, const struct event *ev)
{
    if (model_event_refusal(ev, NULL, r->refused_buf, sizeof r->refused_buf) == DNSBL_OK)
        return NULL;
    return r->refused_buf;
}

static int import_sink_event(void *arg, const struct event *ev, const uint8_t *dedup)
{
    struct import_run *r = arg;

    if (r->failed)
        return 1;
    if (r->refused)
        return 0;
    r->refused = import_refuses(r, ev);
    if (r->refused && r->rec_start >= r->in->len) {
        char line[ADDR_TEXT_MAX + 1];
        size_t len = addr_format(&ev->prefix, line, sizeof line - 1);
        line[len++] = '\n';
        struct feed_origin o = {.file = r->in->name, .raw = line, .raw_len = len};
        import_sink_reject(r, &o, r->refused);
        r->refused = NULL;
        return 0;
    }
    if (r->refused) {
        /* Drop what the record gave so far: it is rejected whole. */
        r->n = r->rec_first;
        r->nsides = r->rec_sides;
        import_arena_cut(r, r->rec_arena);
        return 0;
    }
    /* Evidence with identifiers is no keyless state: it needs a side. */
    bool keyed = dedup || ev->snds || ev->ident;
    if (r->sync && ev->kind != EV_IMPORT_LIST && ev->kind != EV_IMPORT_EXCLUDE) {
        /* A sync replaces list data; evidence and operator decisions are
         * not a list's to replace (README "Sync"). */
        snprintf(r->refused_buf, sizeof r->refused_buf,
                 "--sync takes list data (rbldnsd, list, DROP, CSV import_list and "
                 "import_exclude rows), not %s",
                 model_kind_name(ev->kind));
        r->refused = r->refused_buf;
        return 0;
    }
    if (r->sync && r->n >= IMPORT_SORT_MAX) {
        import_run_message(r, CTL_PROG ": %s: more than %zu entries for one sync", r->in->name,
                           IMPORT_SORT_MAX);
        r->failed = true;
        return 1;
    }
    if (keyed && r->sortable && r->rec_first == r->n && r->n >= r->batch_max) {
        /* The list rows held for sorting end here: commit them before a
         * batch of evidence begins. */
        if (import_batch_commit(r) != 0)
            return 1;
    }
    if (!r->sortable && r->n >= r->batch_max * IMPORT_BATCH_HARD_FACTOR) {
        if (import_batch_commit(r) != 0)
            return 1;
    }
    if (r->sortable && r->n >= IMPORT_SORT_MAX) {
        /* Keyless events: any boundary between them will do. */
        if (import_batch_commit(r) != 0)
            return 1;
    }
    if (grow_array((void **)&r->items, &r->cap, r->n + 1, sizeof *r->items, 1024) != DNSBL_OK)
        goto nomem;
    struct import_item *it = &r->items[r->n];
    *it = (struct import_item){
        .prefix = ev->prefix,
        .kind = ev->kind,
        .auth_failed = ev->auth_failed,
        .snds_blocked = ev->snds_blocked,
        .subzone = ev->subzone,
        .code = ev->code,
        .ttl = ev->ttl,
        .weight = ev->weight,
        .time = ev->time,
        .expires = ev->expires,
        .oplog_action = ev->oplog_action,
        .no_oplog = ev->no_oplog,
    };
    /* The store refuses a batch holding an event without a time; the
     * file's time is the documented fallback and the same on a re-run. */
    if (it->time <= 0)
        it->time = r->opt->file_mtime > 0 ? r->opt->file_mtime : r->opt->now;
    if (keyed) {
        if (grow_array((void **)&r->sides, &r->sides_cap, r->nsides + 1, sizeof *r->sides, 256) !=
            DNSBL_OK)
            goto nomem;
        struct import_side *side = &r->sides[r->nsides];
        memset(side, 0, sizeof *side);
        if (ev->snds) {
            side->snds = *ev->snds;
            side->has_snds = true;
        }
        if (dedup) {
            memcpy(side->key, dedup, FEED_DEDUP_LEN);
            side->has_key = true;
        }
        if (ev->ident && import_arena_put_ident(r, ev->ident, side) != DNSBL_OK)
            goto nomem;
        it->side = (uint32_t)++r->nsides;
        r->sortable = false;
    }
    if (import_arena_put(r, 0, ev->reason, &it->str[0]) != DNSBL_OK ||
        import_arena_put(r, 1, ev->source ? ev->source : r->opt->source, &it->str[1]) != DNSBL_OK ||
        import_arena_put(r, 2, ev->txt, &it->str[2]) != DNSBL_OK ||
        import_arena_put(r, 3, import_event_dataset(r, ev), &it->str[3]) != DNSBL_OK ||
        import_arena_put(r, 4, ev->by, &it->str[4]) != DNSBL_OK)
        goto nomem;
    if (import_datasets_seen(r, ev, import_arena_get(r, it->str[3]),
                             import_arena_get(r, it->str[1])) != 0)
        return 1;
    r->n++;
    return 0;
nomem:
    import_run_message(r, CTL_PROG ": %s: %s", r->in->name, dnsbl_strerror(DNSBL_ENOMEM));
    r->failed = true;
    return 1;
}

/* The line number of input offset pos, counting forward from the last
 * question (records only move forward). */
static long import_line_at(struct import_run *r, size_t pos)
{
    if (pos < r->line_pos) {
        r->line_pos = 0;
        r->line_no = 1;
    }
    const uint8_t *d = r->in->data;
    for (; r->line_pos < pos; r->line_pos++)
        if (d[r->line_pos] == '\n')
            r->line_no++;
    return r->line_no;
}

/* Report the refused record spanning [rec_start, end): a line-based
 * record is its last non-blank line (comments and blank lines before it
 * belong to no record), a mail record the whole message. */
static void import_refuse_record(struct import_run *r, size_t end)
{
    const uint8_t *d = r->in->data;
    struct feed_origin o = {.file = r->in->name};
    size_t start = r->rec_start;

    if (end > r->in->len)
        end = r->in->len;
    if (!r->mail) {
        size_t e = end;
        while (e > start &&
               (d[e - 1] == '\n' || d[e - 1] == '\r' || d[e - 1] == ' ' || d[e - 1] == '\t'))
            e--;
        size_t s = e;
        while (s > start && d[s - 1] != '\n')
            s--;
        start = s;
        end = e;
        o.line = import_line_at(r, start);
    }
    o.raw = (const char *)d + start;
    o.raw_len = end - start;
    import_sink_reject(r, &o, r->refused);
    r->refused = NULL;
}

static void import_sink_progress(void *arg, size_t bytes_done)
{
    struct import_run *r = arg;

    if (r->refused)
        import_refuse_record(r, bytes_done);
    r->t.read++;
    r->in_records++;
    r->bytes_done = bytes_done;
    r->rec_start = bytes_done;
    r->rec_first = r->n;
    r->rec_arena = r->arena_len;
    r->rec_sides = r->nsides;
    /* Keyless state waits for the end of the input, to go in sorted. */
    if (!r->sortable && r->n >= r->batch_max)
        import_batch_commit(r);
    import_bar_draw(r, false);
}

int import_run_input(struct import_run *r, const struct feed_ops *ops, const struct feed_input *in,
                     const struct feed_options *opt, unsigned index, unsigned count)
{
    struct feed_sink sink = {
        .event = import_sink_event,
        .reject = import_sink_reject,
        .warn = import_sink_warn,
        .progress = import_sink_progress,
        .arg = r,
    };

    r->in = in;
    r->opt = opt;
    r->format = ops->name;
    r->mail = strcmp(ops->name, "arf") == 0 || strcmp(ops->name, "mbox") == 0;
    r->rec_start = r->rec_first = r->rec_arena = r->rec_sides = 0;
    r->in_records = 0;
    r->in_rejects = 0;
    r->refused = NULL;
    r->line_pos = 0;
    r->line_no = 1;
    r->in_index = index;
    r->in_count = count;
    r->bytes_done = 0;
    clock_gettime(CLOCK_MONOTONIC, &r->in_start);
    import_bar_draw(r, true);

    int rc = ops->parse(in, opt, &sink);
    if (r->refused)
        import_refuse_record(r, in->len);
    if (!r->failed)
        import_batch_commit(r);
    import_bar_clear(r);
    if (r->failed)
        return -1;
    if (rc < 0) {
        import_run_message(r, CTL_PROG ": %s: reading it as %s failed: %s", in->name, ops->name,
                           dnsbl_strerror(rc));
        return -1;
    }
    return 0;
}

/* The distinct datasets of the held events, and source: what the sync
 * makes whole. Fills names (cap of them); the count, or cap + 1 when
 * there are more. */
static size_t import_sync_datasets(const struct import_run *r, const char *source,
                                   const char **names, size_t cap)
{
    size_t n = 0;
    if (cap)
        names[n++] = source;
    for (size_t i = 0; i < r->n; i++) {
        const char *ds = import_arena_get(r, r->items[i].str[3]);
        if (!ds)
            ds = "";
        bool seen = false;
        for (size_t j = 0; j < n && !seen; j++)
            seen = strcmp(names[j], ds) == 0;
        if (seen)
            continue;
        if (n == cap)
            return cap + 1;
        names[n++] = ds;
    }
    return n;
}

int import_run_sync(struct import_run *r, const char *source, const struct store_sync_options *o,
                    struct store_sync_stats *st)
{
    const char *names[64];
    char why[512] = "";
    size_t nd = import_sync_datasets(r, source, names, sizeof names / sizeof names[0]);
    if (nd > sizeof names / sizeof names[0]) {
        fprintf(stderr, CTL_PROG ": --sync: the input names more than %zu datasets\n",
                sizeof names / sizeof names[0]);
        return -1;
    }
    memset(st, 0, sizeof *st);
    if (!r->store) {
        r->t.imported += r->n;
        return 0;
    }
    int rc = store_apply_sync(r->store, names, nd, r->n, import_item_at, r, o, st, why, sizeof why);
    if (rc != DNSBL_OK) {
        fprintf(stderr, CTL_PROG ": --sync: %s\n", why[0] ? why : dnsbl_strerror(rc));
        return -1;
    }
    r->t.imported += r->n;
    r->t.changed += st->changed;
    return 0;
}
