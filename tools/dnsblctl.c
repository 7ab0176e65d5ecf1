/* dnsblctl: the operator's tool for the dnsbld store. Shaped like LMDB's
 * mdb_stat: getopt_long, a usage per command, one message naming the step
 * that failed with the library's reason. This file holds main, the
 * command table, help and the option handling every command shares; the
 * commands live in cmd_*.c. Exit codes: 0 ok, 1 operation failed, 2 misuse. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "timeutil.h"

#ifndef DNSBL_VERSION
#define DNSBL_VERSION "0.1.0"
#endif

static int ctl_cmd_help(struct ctl_ctx *ctx, int argc, char **argv);

#define CTL_USAGE_COMMON                                                                           \
    "  -d, --db DIR            the store directory (default: $DNSBL_DB)\n"                         \
    "  -h, --help              show this help\n"

static const struct ctl_command ctl_commands[] = {
    {"add", ctl_cmd_add,
     "Usage: dnsblctl add ADDR|PREFIX [--reason TEXT] [--code 127.0.0.N] [--expires WHEN]\n"
     "\n"
     "List an IPv4 or IPv6 address or CIDR prefix by hand. Listing 127.0.0.1\n"
     "(the RFC 5782 test point that must never be listed), or a prefix covering\n"
     "it, is refused. The store is created if it does not exist yet.\n"
     "\n"
     "Options:\n"
     "  -r, --reason TEXT       why it is listed (shown in TXT answers)\n"
     "  -c, --code 127.0.0.N    the A value to answer with (default 127.0.0.2);\n"
     "                          not 127.0.0.1, not 127.255.255.252-255\n"
     "  -e, --expires WHEN      a duration from now (7d, 12h, 1d12h, 3600) or an\n"
     "                          RFC 3339 time; default: never\n" CTL_USAGE_COMMON,
     "list an address or prefix"},
    {"delist", ctl_cmd_delist,
     "Usage: dnsblctl delist ADDR|PREFIX [--reason TEXT]\n"
     "\n"
     "Remove a listing. The address stays known (its history is kept); it is just\n"
     "not listed any more. Fails (exit 1) if nothing listed covers it.\n"
     "\n"
     "Options:\n"
     "  -r, --reason TEXT       who delists it and why\n" CTL_USAGE_COMMON,
     "remove a listing, keeping the history"},
    {"allow", ctl_cmd_allow,
     "Usage: dnsblctl allow ADDR|PREFIX [--reason TEXT] [--expires WHEN]\n"
     "\n"
     "Never list this address or prefix, whatever covers it or its score.\n"
     "\n"
     "Options:\n"
     "  -r, --reason TEXT       why it is allowed\n"
     "  -e, --expires WHEN      a duration from now (7d, 12h, 1d12h, 3600) or an\n"
     "                          RFC 3339 time; default: never\n" CTL_USAGE_COMMON,
     "allowlist an address or prefix"},
    {"show", ctl_cmd_show,
     "Usage: dnsblctl show ADDR [--json]\n"
     "\n"
     "What the store knows about one address: the entry that decides it (the\n"
     "longest prefix), listed or not and why, code, reason, expiry, first and\n"
     "last seen. An address the store does not know is simply not listed.\n"
     "\n"
     "Options:\n"
     "  -j, --json              print one JSON object\n" CTL_USAGE_COMMON,
     "show what decides one address"},
    {"list", ctl_cmd_list,
     "Usage: dnsblctl list [--json]\n"
     "\n"
     "Every entry in the store, in address order (IPv4 before IPv6).\n"
     "\n"
     "Options:\n"
     "  -j, --json              print a JSON array of objects\n" CTL_USAGE_COMMON,
     "list every entry"},
    {"help", ctl_cmd_help,
     "Usage: dnsblctl help [COMMAND]\n"
     "\n"
     "Show the usage of dnsblctl or of one command.\n",
     "show the usage of a command"},
};

#define CTL_COMMAND_COUNT (sizeof ctl_commands / sizeof ctl_commands[0])

static void ctl_print_main_usage(FILE *out)
{
    fputs("Usage: dnsblctl [--db DIR] COMMAND [ARGS...]\n"
          "       dnsblctl help COMMAND | COMMAND --help\n"
          "       dnsblctl --help | --version\n"
          "\n"
          "Manage the dnsbld store: list, delist and allow addresses and prefixes,\n"
          "and show what the store says about them.\n"
          "\n"
          "Commands:\n",
          out);
    for (size_t i = 0; i < CTL_COMMAND_COUNT; i++)
        fprintf(out, "  %-8s  %s\n", ctl_commands[i].name, ctl_commands[i].summary);
    fputs("\n"
          "Options:\n"
          "  -d, --db DIR     the store directory (default: $DNSBL_DB); may also\n"
          "                   follow the command\n"
          "  -h, --help       show this help\n"
          "  -V, --version    show the version\n"
          "\n"
          "Exit status: 0 success, 1 the operation failed (store error, refused,\n"
          "not listed), 2 bad usage.\n",
          out);
}

void ctl_print_usage(const struct ctl_command *cmd, FILE *out)
{
    fputs(cmd->usage, out);
}

static const struct ctl_command *ctl_find_command(const char *name)
{
    for (size_t i = 0; i < CTL_COMMAND_COUNT; i++)
        if (strcmp(ctl_commands[i].name, name) == 0)
            return &ctl_commands[i];
    return NULL;
}

void ctl_error(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fputs(CTL_PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int ctl_usage_error(const struct ctl_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, CTL_PROG ": %s: ", ctx->command->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    /* The synopsis only: the error line must not scroll away behind the
     * whole help text. */
    const char *usage = ctx->command->usage;
    fprintf(stderr, "%.*s\n", (int)strcspn(usage, "\n"), usage);
    fprintf(stderr, "Run 'dnsblctl help %s' for the options.\n", ctx->command->name);
    return CTL_EXIT_USAGE;
}

/* The option getopt_long stopped at, as the user wrote it. With opterr
 * off glibc tells the cases apart only by optopt: 0 for an unknown long
 * option, a known option's value for a long option given an argument it
 * does not take (or one missing its argument), an unknown character for a
 * bad short option. A bad short option inside a cluster ("-jx") is only
 * known by optopt, as argv[optind - 1] may still be the argument before. */
static const char *ctl_getopt_culprit(char **argv, bool is_long, char *buf, size_t cap)
{
    const char *arg = argv[optind - 1];
    if (is_long)
        snprintf(buf, cap, "%.*s", (int)strcspn(arg, "="), arg);
    else
        snprintf(buf, cap, "-%c", optopt);
    return buf;
}

/* Reports what stopped getopt_long (c is ':' or '?'); ctx->command is NULL before the
 * command name. */
static void ctl_getopt_report(const struct ctl_ctx *ctx, char **argv, const char *shortopts, int c)
{
    char culprit[64];
    const char *before = "unknown option ";
    const char *after = "";

    if (c == ':') {
        ctl_getopt_culprit(argv, strncmp(argv[optind - 1], "--", 2) == 0, culprit, sizeof culprit);
        before = "option ";
        after = " needs an argument";
    } else if (optopt == 0) {
        ctl_getopt_culprit(argv, true, culprit, sizeof culprit);
    } else if (optopt != ':' && strchr(shortopts, optopt)) {
        ctl_getopt_culprit(argv, true, culprit, sizeof culprit);
        before = "option ";
        after = " takes no argument";
    } else {
        ctl_getopt_culprit(argv, false, culprit, sizeof culprit);
    }
    if (ctx->command)
        ctl_usage_error(ctx, "%s'%s'%s", before, culprit, after);
    else
        ctl_error("%s'%s'%s (see dnsblctl --help)", before, culprit, after);
}

int ctl_getopt(struct ctl_ctx *ctx, int argc, char **argv, const char *shortopts,
               const struct option *longopts)
{
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, shortopts, longopts, NULL);
        switch (c) {
        case -1:
            return CTL_GETOPT_END;
        case 'd':
            ctx->db = optarg;
            continue;
        case 'h':
            ctl_print_usage(ctx->command, stdout);
            return CTL_GETOPT_HELP;
        case ':':
        case '?':
            ctl_getopt_report(ctx, argv, shortopts, c);
            return CTL_GETOPT_BAD;
        default:
            return c;
        }
    }
}

int ctl_finish_output(int rc)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        ctl_error("writing the output failed");
        return CTL_EXIT_FAIL;
    }
    return rc;
}

static int ctl_cmd_help(struct ctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {CTL_OPTIONS_COMMON, {NULL, 0, NULL, 0}};
    int c = ctl_getopt(ctx, argc, argv, CTL_SHORTOPTS_COMMON, opts);

    if (c == CTL_GETOPT_HELP)
        return CTL_EXIT_OK;
    if (c != CTL_GETOPT_END)
        return CTL_EXIT_USAGE;
    if (optind == argc) {
        ctl_print_main_usage(stdout);
        return CTL_EXIT_OK;
    }
    if (argc - optind > 1)
        return ctl_usage_error(ctx, "unexpected argument '%s'", argv[optind + 1]);
    const struct ctl_command *cmd = ctl_find_command(argv[optind]);
    if (!cmd) {
        ctl_error("'%s' is not a command (see dnsblctl --help)", argv[optind]);
        return CTL_EXIT_USAGE;
    }
    ctl_print_usage(cmd, stdout);
    return CTL_EXIT_OK;
}

/* Options before the command; "+" stops at the command name so that its
 * own options are left to it. */
static int ctl_parse_global_options(struct ctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    static const char shortopts[] = "+:d:hV";
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            ctx->db = optarg;
            break;
        case 'h':
            ctl_print_main_usage(stdout);
            return CTL_GETOPT_HELP;
        case 'V':
            printf("dnsblctl %s\n", DNSBL_VERSION);
            return CTL_GETOPT_HELP;
        default:
            ctl_getopt_report(ctx, argv, shortopts, c);
            return CTL_GETOPT_BAD;
        }
    }
    return CTL_GETOPT_END;
}

static int ctl_run(int argc, char **argv)
{
    struct ctl_ctx ctx = {0};

    ctx.db = getenv("DNSBL_DB");
    if (ctx.db && !*ctx.db)
        ctx.db = NULL;
    switch (ctl_parse_global_options(&ctx, argc, argv)) {
    case CTL_GETOPT_HELP:
        return CTL_EXIT_OK;
    case CTL_GETOPT_BAD:
        return CTL_EXIT_USAGE;
    }
    if (optind >= argc) {
        ctl_error("no command given");
        fputc('\n', stderr);
        ctl_print_main_usage(stderr);
        return CTL_EXIT_USAGE;
    }
    ctx.command = ctl_find_command(argv[optind]);
    if (!ctx.command) {
        ctl_error("'%s' is not a command (see dnsblctl --help)", argv[optind]);
        return CTL_EXIT_USAGE;
    }
    ctx.now = time_now();
    int first = optind;
    /* 0, not 1: glibc re-initialises its scanner (the "+" mode) only then. */
    optind = 0;
    return ctx.command->fn(&ctx, argc - first, argv + first);
}

int main(int argc, char **argv)
{
    return ctl_finish_output(ctl_run(argc, argv));
}
