/* cmd_import: `dnsblctl import`, feeds into the store. Each PATH (a file,
 * gzip or not, "-" for standard input, or a mail directory) is read
 * whole, its format detected unless given, and parsed by the feed
 * library (tools/feed) into events that import_sink.c commits in
 * batches. Every rejected record is reported and counted, and one
 * summary line ends the run. Exit 0, or 1 if anything was rejected or
 * failed; 2 for misuse. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "err.h"
#include "feed.h"
#include "feed_rbldnsd.h"
#include "import.h"

#define IMPORT_DETECT_SPAN (64 * 1024)
#define IMPORT_BATCH_DEFAULT 50000
#define IMPORT_BATCH_MAX 10000000

/* The rbldnsd dataset types the parser reads (doc/formats.md 4.4, 4.6). */
static const char *const import_rbldnsd_types[] = {
    "ip4set", "ip4tset", "ip4trie", "ip6trie", "ip6tset", "combined", NULL,
};

struct import_args {
    const char *format;         /* as given; "auto" by default */
    const struct feed_ops *ops; /* NULL: auto, or maildir */
    bool maildir;               /* --format maildir */
    char subtype[32];           /* rbldnsd:TYPE */
    const char *source, *zone, *reason, *reject_dir, *emit_zone;
    const char *done_dir; /* --done: where messages read from a directory go */
    uint32_t code;
    bool dry_run, done;
    size_t batch;
    bool sync, force;  /* --sync, --force */
    double max_remove; /* --max-remove, a share 0..1 */
};

enum { IMPORT_OPT_SYNC = 400, IMPORT_OPT_FORCE, IMPORT_OPT_MAX_REMOVE };
#define IMPORT_MAX_REMOVE_DEFAULT 0.5

struct import_cmd {
    struct ctl_ctx *ctx;
    struct import_args a;
    struct import_run run;
    bool failed; /* an input could not be read or parsed */
    bool zone_emitted;
    unsigned index, count;  /* inputs, for the progress bar */
    struct import_info log; /* the store's record of this run (dnsblctl imports) */
};

/* Appends text to a ", "-joined list in buf[cap] unless it is there
 * already; a list that would not fit ends in "...". */
static void import_log_join(char *buf, size_t cap, const char *text)
{
    size_t len = strlen(buf), n = strlen(text);
    for (const char *p = buf; (p = strstr(p, text)) != NULL; p += n)
        if ((p == buf || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0'))
            return;
    if (len + 2 + n + 4 >= cap) {
        if (len + 4 < cap && (len < 3 || strcmp(buf + len - 3, "...") != 0))
            memcpy(buf + len, "...", 4);
        return;
    }
    snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", text);
}

static int import_parse_format(const struct ctl_ctx *ctx, const char *text, struct import_args *a)
{
    const char *colon = strchr(text, ':');
    size_t len = colon ? (size_t)(colon - text) : strlen(text);
    char name[32];

    if (len >= sizeof name)
        return ctl_usage_error(ctx, "unknown format '%s'", text);
    memcpy(name, text, len);
    name[len] = '\0';
    a->format = text;
    a->ops = NULL;
    a->maildir = false;
    a->subtype[0] = '\0';
    if (strcmp(name, "rbldnsd") == 0) {
        if (!colon || !colon[1])
            return ctl_usage_error(ctx, "--format rbldnsd needs the dataset type, as rbldnsd:TYPE "
                                        "(ip4set, ip4tset, ip4trie, ip6trie, ip6tset or combined)");
        for (size_t i = 0; import_rbldnsd_types[i]; i++)
            if (strcmp(colon + 1, import_rbldnsd_types[i]) == 0)
                snprintf(a->subtype, sizeof a->subtype, "%s", colon + 1);
        if (!a->subtype[0])
            return ctl_usage_error(ctx,
                                   "unknown rbldnsd dataset type '%s' (ip4set, ip4tset, ip4trie, "
                                   "ip6trie, ip6tset or combined)",
                                   colon + 1);
    } else if (colon) {
        return ctl_usage_error(ctx, "unknown format '%s'", text);
    }
    if (strcmp(name, "auto") == 0)
        return CTL_EXIT_OK;
    if (strcmp(name, "maildir") == 0) {
        a->maildir = true;
        a->ops = feed_find("arf");
        return a->ops ? CTL_EXIT_OK : ctl_usage_error(ctx, "unknown format '%s'", text);
    }
    a->ops = feed_find(name);
    if (!a->ops)
        return ctl_usage_error(ctx,
                               "unknown format '%s' (auto, arf, mbox, maildir, snds, "
                               "rbldnsd:TYPE, csv, list, traps, fail2ban)",
                               text);
    return CTL_EXIT_OK;
}

static int import_parse_batch(const struct ctl_ctx *ctx, const char *text, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);

    if (errno || end == text || *end || text[0] == '-' || v < 1 || v > IMPORT_BATCH_MAX)
        return ctl_usage_error(ctx, "--batch '%s' is not a number from 1 to %d", text,
                               IMPORT_BATCH_MAX);
    *out = (size_t)v;
    return CTL_EXIT_OK;
}

/* A source name goes into the entry's comma-separated source list. */
static int import_check_source(const struct ctl_ctx *ctx, const char *name)
{
    size_t len = strlen(name);

    if (len == 0 || len > 63)
        return ctl_usage_error(ctx, "--source must be 1 to 63 characters long");
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p <= 0x20 || *p == 0x7f || *p == ',')
            return ctl_usage_error(ctx,
                                   "--source '%s' must not contain spaces, commas or "
                                   "control characters",
                                   name);
    return CTL_EXIT_OK;
}

static int import_take_option(struct ctl_ctx *ctx, int c, const char *arg, struct import_args *a)
{
    switch (c) {
    case 'f':
        return import_parse_format(ctx, arg, a);
    case 's':
        a->source = arg;
        return import_check_source(ctx, arg);
    case 'z':
        a->zone = arg;
        return CTL_EXIT_OK;
    case 'c':
        return ctl_args_parse_code(arg, &a->code);
    case 'r':
        a->reason = arg;
        return ctl_args_check_reason(arg);
    case 'n':
        a->dry_run = true;
        return CTL_EXIT_OK;
    case 'R':
        a->reject_dir = arg;
        return CTL_EXIT_OK;
    case 'E':
        a->emit_zone = arg;
        return CTL_EXIT_OK;
    case 'b':
        return import_parse_batch(ctx, arg, &a->batch);
    case 'D':
        a->done_dir = arg;
        return CTL_EXIT_OK;
    case IMPORT_OPT_SYNC:
        a->sync = true;
        return CTL_EXIT_OK;
    case IMPORT_OPT_FORCE:
        a->force = true;
        return CTL_EXIT_OK;
    case IMPORT_OPT_MAX_REMOVE: {
        char *end;
        double pct = strtod(arg, &end);
        if (end == arg || (*end && strcmp(end, "%") != 0) || !(pct >= 0 && pct <= 100))
            return ctl_usage_error(ctx, "--max-remove takes a percentage from 0 to 100, not '%s'",
                                   arg);
        a->max_remove = pct / 100;
        return CTL_EXIT_OK;
    }
    }
    return CTL_EXIT_USAGE; /* unreachable: getopt_long only returns listed options */
}

static int import_parse_args(struct ctl_ctx *ctx, int argc, char **argv, struct import_args *a)
{
    static const struct option opts[] = {
        CTL_OPTIONS_COMMON,
        {"format", required_argument, NULL, 'f'},
        {"source", required_argument, NULL, 's'},
        {"zone", required_argument, NULL, 'z'},
        {"code", required_argument, NULL, 'c'},
        {"reason", required_argument, NULL, 'r'},
        {"dry-run", no_argument, NULL, 'n'},
        {"reject-dir", required_argument, NULL, 'R'},
        {"emit-zone", required_argument, NULL, 'E'},
        {"batch", required_argument, NULL, 'b'},
        {"done", required_argument, NULL, 'D'},
        {"sync", no_argument, NULL, IMPORT_OPT_SYNC},
        {"force", no_argument, NULL, IMPORT_OPT_FORCE},
        {"max-remove", required_argument, NULL, IMPORT_OPT_MAX_REMOVE},
        CTL_OPTION_CREATE,
        {NULL, 0, NULL, 0},
    };
    int rc;

    a->format = "auto";
    a->batch = IMPORT_BATCH_DEFAULT;
    for (;;) {
        int c = ctl_getopt(ctx, argc, argv, CTL_SHORTOPTS_COMMON "f:s:z:c:r:nR:E:b:", opts);
        if (c == CTL_GETOPT_END)
            break;
        if (c == CTL_GETOPT_HELP) {
            a->done = true;
            return CTL_EXIT_OK;
        }
        if (c == CTL_GETOPT_BAD)
            return CTL_EXIT_USAGE;
        rc = import_take_option(ctx, c, optarg, a);
        if (rc != CTL_EXIT_OK)
            return rc;
    }
    if (optind >= argc)
        return ctl_usage_error(ctx, "missing PATH (a file, a mail directory, or - for "
                                    "standard input)");
    struct stat st;
    if (a->done_dir && (stat(a->done_dir, &st) != 0 || !S_ISDIR(st.st_mode)))
        return ctl_usage_error(ctx, "--done '%s' is not a directory", a->done_dir);
    if (a->emit_zone && !a->subtype[0])
        return ctl_usage_error(ctx, "--emit-zone needs --format rbldnsd:TYPE");
    if (a->emit_zone && !a->zone)
        return ctl_usage_error(ctx, "--emit-zone needs --zone NAME, the apex it describes");
    if ((a->force || a->max_remove != IMPORT_MAX_REMOVE_DEFAULT) && !a->sync)
        return ctl_usage_error(ctx, "--force and --max-remove go with --sync");
    if (a->subtype[0] && strcmp(a->subtype, "combined") == 0 && !a->zone)
        return ctl_usage_error(ctx, "--format rbldnsd:combined needs --zone NAME, the base "
                                    "zone of its sections");
    return CTL_EXIT_OK;
}

/* The parser with the highest confidence over the first 64 KiB. rbldnsd
 * data never qualifies: its dataset types share one syntax, so only the
 * operator can name the type. */
static const struct feed_ops *import_detect(const struct import_data *d)
{
    size_t span = d->len < IMPORT_DETECT_SPAN ? d->len : IMPORT_DETECT_SPAN;
    const struct feed_ops *best = NULL;
    int best_score = 0;

    for (size_t i = 0; feed_parsers[i]; i++) {
        const struct feed_ops *ops = feed_parsers[i];
        if (strcmp(ops->name, "rbldnsd") == 0 || !ops->detect)
            continue;
        int score = ops->detect(d->data, span);
        if (score > best_score) {
            best = ops;
            best_score = score;
        }
    }
    return best;
}

/* Write the apex zone file of rbldnsd data atomically: a reader of FILE
 * sees the old one or the whole new one. Only the first input with a
 * $SOA gives it; inputs without one are passed over. */
static void import_emit_zone(struct import_cmd *c, const struct feed_input *in,
                             const struct feed_options *opt)
{
    char tmp[PATH_MAX], why[512] = "";
    const char *path = c->a.emit_zone;

    if (c->zone_emitted)
        return;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= sizeof tmp) {
        ctl_error("--emit-zone %s: %s", path, strerror(ENAMETOOLONG));
        c->failed = true;
        return;
    }
    int fd = mkstemp(tmp);
    FILE *fp = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!fp) {
        ctl_error("--emit-zone %s: %s", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        c->failed = true;
        return;
    }
    int rc = feed_rbldnsd_emit_zone(in, opt, fp, why, sizeof why);
    if (rc == DNSBL_OK && (fflush(fp) != 0 || fsync(fileno(fp)) != 0)) {
        snprintf(why, sizeof why, "%s: %s", path, strerror(errno));
        rc = DNSBL_EIO;
    }
    if (fclose(fp) != 0 && rc == DNSBL_OK) {
        snprintf(why, sizeof why, "%s: %s", path, strerror(errno));
        rc = DNSBL_EIO;
    }
    if (rc == DNSBL_OK) {
        /* mkstemp makes the file 0600; a zone file is for a name server. */
        if (chmod(tmp, 0644) != 0 || rename(tmp, path) != 0) {
            snprintf(why, sizeof why, "%s: %s", path, strerror(errno));
            rc = DNSBL_EIO;
        }
    }
    if (rc != DNSBL_OK) {
        unlink(tmp);
        /* No $SOA in this input: a later input may have it. */
        if (rc == DNSBL_EINVAL && c->index < c->count)
            return;
        ctl_error("--emit-zone: %s: %s", in->name, why[0] ? why : dnsbl_strerror(rc));
        c->failed = true;
        return;
    }
    c->zone_emitted = true;
}

/* One input in memory through ops. True when it was read to its end and
 * what it gave is in the store (its rejects reported). */
static bool import_one(struct import_cmd *c, const struct feed_ops *ops, const char *name,
                       const struct import_data *d)
{
    struct feed_input in = {.name = name, .data = d->data, .len = d->len};
    struct feed_options opt = {
        .source = c->a.source ? c->a.source : ops->name,
        .zone = c->a.zone,
        .subtype = c->a.subtype[0] ? c->a.subtype : NULL,
        .file_mtime = d->mtime > 0 ? d->mtime : c->ctx->now,
        .now = c->ctx->now,
        .list_code = c->a.code,
        .list_reason = c->a.reason,
    };

    import_log_join(c->log.format, sizeof c->log.format, ops->name);
    bool ok = import_run_input(&c->run, ops, &in, &opt, c->index, c->count) == 0;
    if (!ok)
        c->failed = true;
    /* An input that gave no record at all (empty, or every line skipped)
     * is almost always the wrong file or format: say so, and fail. */
    if (ok && c->run.in_records == 0) {
        ctl_error("no %s records found in %s", ops->name, name);
        c->failed = true;
    }
    if (c->a.emit_zone && !c->run.failed)
        import_emit_zone(c, &in, &opt);
    return ok && !c->run.failed;
}

/* Line-based input (everything but mail, which is MIME and may carry
 * 8-bit bodies) must be text: binary data is refused whole, and none of it
 * is echoed (doc/formats.md 5). */
static bool import_refuse_binary(const struct feed_ops *ops, const char *name,
                                 const struct import_data *d)
{
    size_t off;
    const char *what;

    if (strcmp(ops->name, "arf") == 0 || strcmp(ops->name, "mbox") == 0)
        return false;
    if (!import_find_binary(d->data, d->len, IMPORT_DETECT_SPAN, &off, &what))
        return false;
    ctl_error("%s: binary data (%s at offset %zu), not %s input", name, what, off, ops->name);
    return true;
}

static bool import_file(struct import_cmd *c, const char *path, const struct feed_ops *ops,
                        bool announce)
{
    struct import_data d;
    char why[PATH_MAX + 256];
    const char *name = strcmp(path, "-") == 0 ? "-" : path;

    if (import_data_read(path, &d, why, sizeof why) != DNSBL_OK) {
        ctl_error("%s", why);
        c->failed = true;
        return false;
    }
    if (!ops) {
        ops = import_detect(&d);
        if (!ops) {
            ctl_error("%s: cannot tell the format; give --format (rbldnsd data is never "
                      "detected: use --format rbldnsd:TYPE)",
                      name);
            c->failed = true;
            import_data_free(&d);
            return false;
        }
        announce = true;
    }
    if (announce)
        ctl_error("%s: detected format %s", name, ops->name);
    if (import_refuse_binary(ops, name, &d)) {
        c->failed = true;
        import_data_free(&d);
        return false;
    }
    bool ok = import_one(c, ops, name, &d);
    import_data_free(&d);
    return ok;
}

/* A maildir or a folder of .eml files: every message through the
 * single-message parser. */
static void import_directory(struct import_cmd *c, const char *dir)
{
    const struct feed_ops *arf = feed_find("arf");
    struct import_names names;
    enum import_dir_kind kind;
    char why[PATH_MAX + 256];

    if (c->a.ops && !c->a.maildir && c->a.ops != arf) {
        ctl_error("%s is a directory; only mail (a maildir or a folder of .eml files) is read "
                  "from directories, not %s",
                  dir, c->a.ops->name);
        c->failed = true;
        return;
    }
    if (import_dir_list(dir, &kind, &names, why, sizeof why) != DNSBL_OK) {
        ctl_error("%s", why);
        c->failed = true;
        return;
    }
    if (!c->a.ops)
        ctl_error("%s: detected format %s", dir, kind == IMPORT_DIR_MAILDIR ? "maildir" : "arf");
    if (names.n == 0)
        ctl_error("%s: no messages found", dir);
    if (names.n > 1)
        c->count += (unsigned)names.n - 1;
    for (size_t i = 0; i < names.n && !c->run.failed; i++) {
        if (i)
            c->index++;
        /* Marked or moved only once committed (rejected ones too, after
         * --reject-dir has its copy): a crash before leaves the message
         * where it was, to be read again. A dry run changes nothing. */
        if (import_file(c, names.paths[i], arf, false) && !c->a.dry_run &&
            import_mail_done(names.paths[i], kind, c->a.done_dir, why, sizeof why) != DNSBL_OK) {
            ctl_error("%s", why);
            c->failed = true;
        }
    }
    import_names_free(&names);
}

static void import_path(struct import_cmd *c, const char *path)
{
    struct stat st;

    if (strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        import_directory(c, path);
        return;
    }
    if (c->a.maildir) {
        ctl_error("%s: --format maildir reads a directory", path);
        c->failed = true;
        return;
    }
    import_file(c, path, c->a.ops, false);
}

/* --sync after every input was read: only an input read whole and clean
 * may say what leaves its datasets (a cut download must not delist the
 * world), unless --force. */
static int import_sync(struct import_cmd *c)
{
    const struct import_totals *t = &c->run.t;
    if (c->failed || c->run.failed) {
        ctl_error("--sync: nothing synced: an input could not be read whole");
        return -1;
    }
    if (t->rejected && !c->a.force) {
        ctl_error("--sync: nothing synced: %zu record%s rejected, and a sync would remove what "
                  "they held; fix the input, or use --force",
                  t->rejected, t->rejected == 1 ? " was" : "s were");
        return -1;
    }
    struct store_sync_options o = {
        .now = c->ctx->now, .max_share = c->a.max_remove, .force = c->a.force};
    struct store_sync_stats st;
    const char *source = c->a.source ? c->a.source : c->a.ops ? c->a.ops->name : "list";
    if (import_run_sync(&c->run, source, &o, &st) != 0)
        return -1;
    printf("synced: %zu entries of its datasets before, %zu removed, %zu changed\n", st.before,
           st.removed, st.changed);
    return 0;
}

int ctl_cmd_import(struct ctl_ctx *ctx, int argc, char **argv)
{
    struct import_cmd c = {.ctx = ctx, .a.max_remove = IMPORT_MAX_REMOVE_DEFAULT};
    struct store *s = NULL;
    int rc = import_parse_args(ctx, argc, argv, &c.a);

    if (rc != CTL_EXIT_OK || c.a.done)
        return rc;
    if (!c.a.dry_run) {
        rc = ctl_store_open_write(ctx, &s);
        if (rc != CTL_EXIT_OK)
            return rc;
    }
    import_run_init(&c.run, s, c.a.batch, c.a.reject_dir, isatty(STDERR_FILENO) == 1);
    c.run.sync = c.a.sync;
    c.count = (unsigned)(argc - optind);
    /* One run, one import (doc/store-format.md "imports"): its writes keep
     * undo records, so dnsblctl undo can take the whole run back. */
    if (s) {
        char why[512] = "";
        snprintf(c.log.who, sizeof c.log.who, "%s", ctl_operator(ctx));
        snprintf(c.log.source, sizeof c.log.source, "%s", c.a.source ? c.a.source : "");
        c.log.time = ctx->now;
        c.log.sync = c.a.sync;
        for (int i = optind; i < argc; i++)
            import_log_join(c.log.files, sizeof c.log.files, argv[i]);
        if (store_import_begin(s, &c.log, why, sizeof why) != DNSBL_OK) {
            ctl_error("%s", why);
            import_run_free(&c.run);
            store_close(s);
            return CTL_EXIT_FAIL;
        }
    }
    for (int i = optind; i < argc && !c.run.failed; i++) {
        c.index++;
        c.run.arg = argv[i];
        import_path(&c, argv[i]);
    }
    if (c.a.sync && import_sync(&c) != 0)
        c.failed = true;
    if (c.a.emit_zone && !c.zone_emitted && !c.failed && !c.run.failed) {
        ctl_error("--emit-zone: no input gave a zone file");
        c.failed = true;
    }
    /* What the run wrote to, for `dnsblctl datasets`. */
    if (s && !c.run.failed && import_datasets_note(&c.run, ctx->now) != 0)
        c.failed = true;
    const struct import_totals *t = &c.run.t;
    printf("read %zu, imported %zu, duplicates %zu, rejected %zu, warnings %zu, seconds %.2f\n",
           t->read, t->imported, t->duplicates, t->rejected, t->warnings,
           import_run_elapsed(&c.run));
    rc = c.failed || c.run.failed || t->rejected ? CTL_EXIT_FAIL : CTL_EXIT_OK;
    if (s) {
        c.log.counts = (struct import_counts){.read = t->read,
                                              .imported = t->imported,
                                              .duplicates = t->duplicates,
                                              .rejected = t->rejected,
                                              .changed = t->changed};
        char why[512] = "";
        if (store_import_end(s, &c.log, why, sizeof why) != DNSBL_OK) {
            ctl_error("%s", why);
            rc = CTL_EXIT_FAIL;
        }
    }
    import_run_free(&c.run);
    if (s && ctl_store_sync(s) != CTL_EXIT_OK)
        rc = CTL_EXIT_FAIL;
    if (s)
        store_close(s);
    return rc;
}
