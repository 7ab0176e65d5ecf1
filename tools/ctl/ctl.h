/* ctl: what the dnsblctl commands share -- the per-run context, the
 * command table, option parsing with the options every command takes,
 * argument parsers that name the bad value, store opening and lookup.
 * Nothing here keeps state between calls; a struct store handed out by
 * ctl_store_open_* is the caller's to store_close, a struct ctl_lookup
 * the caller's to ctl_lookup_close (before the store). */
#ifndef DNSBL_CTL_H
#define DNSBL_CTL_H

#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "addr.h"
#include "config.h"
#include "model.h"
#include "policy.h"
#include "store.h"
#include "verdict.h"

#define CTL_PROG "dnsblctl"

/* The exit-code contract of dnsblctl. */
enum ctl_exit {
    CTL_EXIT_OK = 0,    /* the operation succeeded */
    CTL_EXIT_FAIL = 1,  /* store error, refused, not listed */
    CTL_EXIT_USAGE = 2, /* unknown command or option, bad argument */
};

struct ctl_command;

/* One run of one command. */
struct ctl_ctx {
    const char *db;                    /* --db, else $DNSBL_DB; NULL if neither */
    const struct ctl_command *command; /* the command running */
    int64_t now;                       /* time_now(), read once per run */
    struct store_options store_opt;    /* --map-size, --index-from, --reindex-after */
    bool create;                       /* --create: a write may make a new store */
    const char *by;                    /* --by NAME: who acts (ctl_operator); NULL if not given */
    bool no_publish;                   /* --no-publish: a write does not publish the zones */
};

struct ctl_command {
    const char *name;
    int (*fn)(struct ctl_ctx *ctx, int argc, char **argv); /* returns an enum ctl_exit */
    const char *usage;   /* synopsis and options, printed by --help */
    const char *summary; /* one line for the command list */
};

/* The commands, each in its cmd_*.c. */
int ctl_cmd_add(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_cmd_delist(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_cmd_remove(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_cmd_allow(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_cmd_show(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_cmd_list(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_cmd_import(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_cmd_top(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_cmd_export(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_cmd_check(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_cmd_reindex(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_cmd_backup(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_cmd_restore(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_cmd_init(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_cmd_datasets(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_cmd_imports(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_cmd_undo(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_cmd_prune(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_cmd_pull(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_cmd_publish(struct ctl_ctx *ctx, int argc, char **argv);

/* After a command that wrote entries: publish every zone of the config
 * the store remembers (cmd_publish.c), if it remembers one. A problem is a
 * warning on stderr: the write itself has succeeded. */
void ctl_publish_remembered(struct ctl_ctx *ctx);

/* Every command accepts these: put CTL_OPTIONS_COMMON first in its option
 * table and start its short-option string with CTL_SHORTOPTS_COMMON. */
#define CTL_OPTIONS_COMMON                                                                         \
    {"db", required_argument, NULL, 'd'},                                                          \
    {                                                                                              \
        "help", no_argument, NULL, 'h'                                                             \
    }
#define CTL_SHORTOPTS_COMMON ":d:h"

/* --create, for the commands that write: ctl_getopt sets ctx->create. */
enum { CTL_OPT_CREATE = 300 };
#define CTL_OPTION_CREATE                                                                          \
    {                                                                                              \
        "create", no_argument, NULL, CTL_OPT_CREATE                                                \
    }

/* --by NAME, for the commands an operator answers for (operator history):
 * ctl_getopt checks it and sets ctx->by. Far from the commands' own codes. */
enum { CTL_OPT_BY = 390 };
#define CTL_OPTION_BY                                                                              \
    {                                                                                              \
        "by", required_argument, NULL, CTL_OPT_BY                                                  \
    }
#define CTL_OPERATOR_MAX 63 /* bytes of a name the store keeps (OPLOG_WHO_MAX - 1) */

enum ctl_getopt_result {
    CTL_GETOPT_END = -1,
    CTL_GETOPT_HELP = -2, /* usage went to stdout: the command returns CTL_EXIT_OK */
    CTL_GETOPT_BAD = -3,  /* misuse reported, usage on stderr: return CTL_EXIT_USAGE */
};

/* getopt_long over a command's argv (argv[0] is the command name); at
 * CTL_GETOPT_END the operands are argv[optind..argc). Handles --db and
 * --help, reports unknown options and missing option arguments itself,
 * and returns the next command-specific option or an enum
 * ctl_getopt_result. */
int ctl_getopt(struct ctl_ctx *ctx, int argc, char **argv, const char *shortopts,
               const struct option *longopts);

/* The options of a command whose only own option is --json (-j) and
 * that takes no operands: CTL_EXIT_OK with *json set, *done when --help
 * answered, or CTL_EXIT_USAGE. */
int ctl_getopt_json_only(struct ctl_ctx *ctx, int argc, char **argv, bool *json, bool *done);
/* The same for a command with no options of its own: only the common ones
 * (--db, --help); the operands stay for the caller. */
int ctl_getopt_common_only(struct ctl_ctx *ctx, int argc, char **argv, bool *done);

void ctl_print_usage(const struct ctl_command *cmd, FILE *out);

/* "dnsblctl: " + message + newline on stderr. */
void ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Misuse of the running command: "dnsblctl: CMD: message", then its
 * synopsis, on stderr. Returns CTL_EXIT_USAGE. */
int ctl_usage_error(const struct ctl_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Argument parsers (ctl_args.c). Each returns CTL_EXIT_OK or, having
 * printed why naming the value, CTL_EXIT_USAGE. */

/* No operand left after the options. */
int ctl_args_none(const struct ctl_ctx *ctx, int argc, char **argv);
/* Exactly one operand left after the options; what names it in messages. */
int ctl_args_take_one(const struct ctl_ctx *ctx, int argc, char **argv, const char *what,
                      const char **out);
int ctl_args_parse_prefix(const char *text, struct addr_prefix *out);
/* A single address; a prefix is refused, naming it. */
int ctl_args_parse_address(const struct ctl_ctx *ctx, const char *text, struct addr_prefix *out);
/* --code: a listing code (model_code_parse), host order out. */
int ctl_args_parse_code(const char *text, uint32_t *out);
/* --expires: a duration from ctx->now or an RFC 3339 time in the future. */
int ctl_args_parse_expires(const struct ctl_ctx *ctx, const char *text, int64_t *out);
/* --reason: must fit in an entry (MODEL_TEXT_MAX - 1 bytes). */
int ctl_args_check_reason(const char *text);

/* Store access (ctl_store.c). Each returns CTL_EXIT_OK or, having printed
 * the store's reason, CTL_EXIT_FAIL; a missing --db is CTL_EXIT_USAGE. */

/* Open an existing store for writing. A missing store is an error (exit
 * 1) that says how to make one, unless --create asked for it: then the
 * directory and store are made as dnsblctl init makes them. */
int ctl_store_open_write(const struct ctl_ctx *ctx, struct store **out);
/* Make an empty store in the directory ctx->db (which must not hold one,
 * nor anything else), with the modes of store_set_access, owned by
 * uid:gid unless uid is (uid_t)-1. Says what went wrong; on success the
 * store is closed again. */
int ctl_store_create(const struct ctl_ctx *ctx, uid_t uid, gid_t gid);
/* Brings the flat index up to date when it is due (store_flat_refresh)
 * and makes the commits of a writer durable before it reports success. */
int ctl_store_sync(struct store *s);
/* Open a store that exists already, with store_open flags (STORE_RDONLY to
 * read). An existing directory without a store is an empty store: *out is
 * NULL then and nothing is created. A missing directory is an error (most
 * likely a typo). */
int ctl_store_open_existing(const struct ctl_ctx *ctx, int flags, struct store **out);
/* The store directory --db names exists and is a directory; else one
 * message (a usage error when none is given) and its exit code. */
int ctl_store_require_dir(const struct ctl_ctx *ctx);
/* store_foreach over s (nothing when s is NULL, an empty store). A failed
 * walk, or *cb_err set by cb (cb_err may be NULL), is said as "reading the
 * entries: ..." and becomes CTL_EXIT_FAIL. */
int ctl_store_foreach(struct store *s, int (*cb)(const struct entry *e, void *arg), void *arg,
                      const int *cb_err);

/* Lookups: one store reader and its scratch buffers (covering entries,
 * history days) for a whole command, so a command that decides many
 * addresses allocates once. A NULL store (an empty directory) answers
 * every lookup with nothing. The caller owns the lookup and closes it
 * before the store. */
struct ctl_lookup;
int ctl_lookup_open(struct store *s, struct ctl_lookup **out);
void ctl_lookup_close(struct ctl_lookup *l);

#define CTL_TREND_DAYS 30 /* days of history show draws, today included */

/* What zone policy zp says about p at now (verdict_decide, without the
 * test points): the entries covering p's first address that also cover p
 * itself, the evidence entry, and its history from the zone's window or
 * the last CTL_TREND_DAYS days, whichever reaches further back. Pointers
 * in v point into the lookup's scratch and stay valid until its next
 * decide. */
int ctl_lookup_decide(struct ctl_lookup *l, const struct addr_prefix *p,
                      const struct zone_policy *zp, int64_t now, struct verdict *v);

/* One operator action as show prints it: the prefix it was taken on and
 * the store's record; order is its place in the reading (ties). */
struct ctl_oplog_line {
    struct addr_prefix prefix;
    struct oplog_rec rec;
    size_t order;
};

/* Every operator action (store_reader_oplog) on p and on each prefix
 * containing p, whether or not an entry holds it now, oldest first; of
 * one second, the shortest prefix first. *out (NULL when *n is 0) is the
 * caller's to free. Says why on failure. */
int ctl_lookup_oplog(struct ctl_lookup *l, const struct addr_prefix *p, struct ctl_oplog_line **out,
                     size_t *n);

/* The zone a read command speaks for: its name (may be "") and policy.
 * --zone-config FILE --zone NAME takes them from dnsbld's configuration;
 * without a config, policy_defaults and the --zone name as given. */
struct ctl_zone {
    char name[ZONE_NAME_MAX];
    char file[PATH_MAX]; /* the apex master file the config names, "" = none */
    struct zone_policy policy;
};
int ctl_zone_resolve(const struct ctl_ctx *ctx, const char *config, const char *name,
                     struct ctl_zone *out);

/* The operator behind this run, for notes and the operator history:
 * $SUDO_USER, $USER, $LOGNAME, else "uid N" (static storage). */
const char *ctl_operator_name(void);
/* The same, unless --by named someone (ctx->by). */
const char *ctl_operator(const struct ctl_ctx *ctx);
/* --by: 1 to CTL_OPERATOR_MAX bytes, no control characters. */
int ctl_args_check_by(const char *text);

/* Text forms (ctl_args.c); both write into buf[CTL_TEXT_SHORT]. */
#define CTL_TEXT_SHORT 40
void ctl_format_code(uint32_t code, char *buf);
void ctl_format_time(int64_t t, char *buf);
/* NULL for 0 (never / unknown), else ctl_format_time into buf. */
const char *ctl_format_time_opt(int64_t t, char *buf);
/* A day number (unix time / 86400) as YYYY-MM-DD into buf[CTL_TEXT_SHORT]. */
void ctl_format_day(uint32_t day, char *buf);

/* One-line text: control characters (a stored reason may hold anything
 * an import put there) are written as '?'. */
void ctl_print_text(FILE *out, const char *s);

/* The A value a listed entry answers with: its own code or the default. */
uint32_t ctl_resolve_entry_code(const struct entry *e);

/* Flush stdout and turn a failed write (full disk, closed pipe) into
 * CTL_EXIT_FAIL with a message; otherwise return rc. */
int ctl_finish_output(int rc);

#endif
