/* ctl: what the dnsblctl commands share -- the per-run context, the
 * command table, option parsing with the options every command takes,
 * argument parsers that name the bad value, store opening and lookup.
 * Nothing here keeps state between calls; a struct store handed out by
 * ctl_store_open_* is the caller's to store_close. */
#ifndef DNSBL_CTL_H
#define DNSBL_CTL_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "addr.h"
#include "model.h"
#include "store.h"

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
int ctl_cmd_allow(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_cmd_show(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_cmd_list(struct ctl_ctx *ctx, int argc, char **argv);

/* Every command accepts these: put CTL_OPTIONS_COMMON first in its option
 * table and start its short-option string with CTL_SHORTOPTS_COMMON. */
#define CTL_OPTIONS_COMMON                                                                         \
    {"db", required_argument, NULL, 'd'},                                                          \
    {                                                                                              \
        "help", no_argument, NULL, 'h'                                                             \
    }
#define CTL_SHORTOPTS_COMMON ":d:h"

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

void ctl_print_usage(const struct ctl_command *cmd, FILE *out);

/* "dnsblctl: " + message + newline on stderr. */
void ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Misuse of the running command: "dnsblctl: CMD: message", then its
 * synopsis, on stderr. Returns CTL_EXIT_USAGE. */
int ctl_usage_error(const struct ctl_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Argument parsers (ctl_args.c). Each returns CTL_EXIT_OK or, having
 * printed why naming the value, CTL_EXIT_USAGE. */

/* Exactly one operand left after the options; what names it in messages. */
int ctl_args_take_one(const struct ctl_ctx *ctx, int argc, char **argv, const char *what,
                      const char **out);
int ctl_args_parse_prefix(const char *text, struct addr_prefix *out);
/* A single address; a prefix is refused, naming it. */
int ctl_args_parse_address(const struct ctl_ctx *ctx, const char *text, struct addr_prefix *out);
/* --code: 127.0.0.N, not 127.0.0.1 nor 127.255.255.252-255; host order out. */
int ctl_args_parse_code(const char *text, uint32_t *out);
/* --expires: a duration from ctx->now or an RFC 3339 time in the future. */
int ctl_args_parse_expires(const struct ctl_ctx *ctx, const char *text, int64_t *out);
/* --reason: must fit in an entry (MODEL_TEXT_MAX - 1 bytes). */
int ctl_args_check_reason(const char *text);

/* Store access (ctl_store.c). Each returns CTL_EXIT_OK or, having printed
 * the store's reason, CTL_EXIT_FAIL; a missing --db is CTL_EXIT_USAGE. */

/* Open for writing, creating the directory and store if missing. */
int ctl_store_open_write(const struct ctl_ctx *ctx, struct store **out);
/* Open a store that exists already, with store_open flags (STORE_RDONLY to
 * read). An existing directory without a store is an empty store: *out is
 * NULL then and nothing is created. A missing directory is an error (most
 * likely a typo). */
int ctl_store_open_existing(const struct ctl_ctx *ctx, int flags, struct store **out);

/* What the store says about p: the entries covering p's first address that
 * also cover p itself (longest first, into covering[STORE_COVERING_MAX]),
 * and policy_decide's verdict over them with policy_defaults at ctx->now.
 * d->decider points into covering. s may be NULL (empty store). */
struct ctl_verdict {
    struct entry *covering; /* STORE_COVERING_MAX entries, caller-allocated */
    size_t n;
    struct decision d;
};
int ctl_store_decide(const struct ctl_ctx *ctx, struct store *s, const struct addr_prefix *p,
                     struct ctl_verdict *v);

/* Text forms (ctl_args.c); both write into buf[CTL_TEXT_SHORT]. */
#define CTL_TEXT_SHORT 40
void ctl_format_code(uint32_t code, char *buf);
void ctl_format_time(int64_t t, char *buf);

/* The A value a listed entry answers with: its own code or the default. */
uint32_t ctl_resolve_entry_code(const struct entry *e);

/* Flush stdout and turn a failed write (full disk, closed pipe) into
 * CTL_EXIT_FAIL with a message; otherwise return rc. */
int ctl_finish_output(int rc);

#endif
