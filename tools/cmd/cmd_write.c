/* cmd_write: the commands that change the store -- add, delist, allow.
 * Each turns its operand and options into one operator event (model.h)
 * and hands it to store_apply; the model decides what the event does to
 * the entry. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "err.h"

#define CTL_WRITE_OPERAND "ADDR|PREFIX"

/* Options of the write commands; each command's short-option string
 * admits only its own. */
#define CTL_OPTION_REASON                                                                          \
    {                                                                                              \
        "reason", required_argument, NULL, 'r'                                                     \
    }
#define CTL_OPTION_CODE                                                                            \
    {                                                                                              \
        "code", required_argument, NULL, 'c'                                                       \
    }
#define CTL_OPTION_EXPIRES                                                                         \
    {                                                                                              \
        "expires", required_argument, NULL, 'e'                                                    \
    }
enum { CTL_OPT_FORCE = CTL_OPT_CREATE + 1 };
#define CTL_OPTION_FORCE                                                                           \
    {                                                                                              \
        "force", no_argument, NULL, CTL_OPT_FORCE                                                  \
    }

/* A prefix shorter than these lists or allows more than a /8 of IPv4 (or
 * a /16 of IPv6) at once: a typo more often than a wish. */
#define CTL_WRITE_MIN_PLEN_V4 8
#define CTL_WRITE_MIN_PLEN_V6 16

static int ctl_write_take_option(const struct ctl_ctx *ctx, int c, const char *arg,
                                 struct event *ev)
{
    switch (c) {
    case 'r':
        ev->reason = arg;
        return ctl_args_check_reason(arg);
    case 'c':
        return ctl_args_parse_code(arg, &ev->code);
    case 'e':
        return ctl_args_parse_expires(ctx, arg, &ev->expires);
    }
    return CTL_EXIT_USAGE; /* unreachable: getopt_long only returns listed options */
}

/* A write command's arguments: its event, the operand as typed, and
 * whether --help already answered. */
struct ctl_write_args {
    struct event ev;
    const char *target;
    bool force; /* --force: do it despite ctl_write_check_* */
    bool done;
};

/* Options and the one operand into wa; wa->ev.kind is set by the caller. */
static int ctl_write_parse_args(struct ctl_ctx *ctx, int argc, char **argv, const char *shortopts,
                                const struct option *opts, struct ctl_write_args *wa)
{
    struct event *ev = &wa->ev;
    int rc;

    ev->time = ctx->now;
    ev->source = CTL_PROG;
    for (;;) {
        int c = ctl_getopt(ctx, argc, argv, shortopts, opts);
        if (c == CTL_GETOPT_END)
            break;
        if (c == CTL_GETOPT_HELP) {
            wa->done = true;
            return CTL_EXIT_OK;
        }
        if (c == CTL_GETOPT_BAD)
            return CTL_EXIT_USAGE;
        if (c == CTL_OPT_FORCE) {
            wa->force = true;
            continue;
        }
        rc = ctl_write_take_option(ctx, c, optarg, ev);
        if (rc != CTL_EXIT_OK)
            return rc;
    }
    rc = ctl_args_take_one(ctx, argc, argv, CTL_WRITE_OPERAND, &wa->target);
    if (rc != CTL_EXIT_OK)
        return rc;
    ev->by = ctl_operator(ctx); /* the store records who in the operator history */
    return ctl_args_parse_prefix(wa->target, &ev->prefix);
}

static int ctl_write_apply_event(struct store *s, const struct event *ev)
{
    struct store_apply_stats stats;
    char why[512] = "";
    int rc = store_apply(s, ev, NULL, 1, &stats, why, sizeof why);

    if (rc != DNSBL_OK) {
        ctl_error("%s", why[0] ? why : dnsbl_strerror(rc));
        return CTL_EXIT_FAIL;
    }
    return CTL_EXIT_OK;
}

/* What the store holds that makes a write dangerous: CTL_EXIT_OK when
 * nothing, else the refusal (printed) as CTL_EXIT_FAIL. */
typedef int (*ctl_write_check_fn)(const struct ctl_ctx *ctx, struct store *s,
                                  const struct ctl_write_args *wa);

/* Open, check (unless --force), apply, close: the whole life of a store
 * for add/allow. A refused write changes nothing. */
static int ctl_write_store_event(const struct ctl_ctx *ctx, const struct ctl_write_args *wa,
                                 ctl_write_check_fn check)
{
    struct store *s;
    int rc = ctl_store_open_write(ctx, &s);

    if (rc != CTL_EXIT_OK)
        return rc;
    if (!wa->force) {
        rc = check(ctx, s, wa);
        if (rc != CTL_EXIT_OK) {
            store_close(s);
            return rc;
        }
    }
    rc = ctl_write_apply_event(s, &wa->ev);
    if (ctl_store_sync(s) != CTL_EXIT_OK)
        rc = CTL_EXIT_FAIL;
    store_close(s);
    return rc;
}

/* A prefix shorter than /8 (IPv4) or /16 (IPv6) needs --force. */
static int ctl_write_check_width(const struct ctl_write_args *wa, const char *verb)
{
    const struct addr_prefix *p = &wa->ev.prefix;
    unsigned min = p->family == ADDR_V4 ? CTL_WRITE_MIN_PLEN_V4 : CTL_WRITE_MIN_PLEN_V6;
    char text[ADDR_TEXT_MAX];

    if (wa->force || p->plen >= min)
        return CTL_EXIT_OK;
    addr_format(p, text, sizeof text);
    ctl_error("refusing to %s %s: it is shorter than /%u; pass --force if you mean to %s that "
              "much of the address space",
              verb, text, min, verb);
    return CTL_EXIT_FAIL;
}

/* add P over an allow: an allow entry in force that equals P (the listing
 * would replace it) or covers it (the listing would do nothing while the
 * allow stands). policy_decide finds it as the decision's allow. */
static int ctl_write_check_add(const struct ctl_ctx *ctx, struct store *s,
                               const struct ctl_write_args *wa)
{
    struct ctl_lookup *l;
    struct zone_policy zp;
    struct verdict v;
    char text[ADDR_TEXT_MAX], allow[ADDR_TEXT_MAX];
    int rc = ctl_lookup_open(s, &l);

    if (rc != CTL_EXIT_OK)
        return rc;
    policy_defaults(&zp);
    rc = ctl_lookup_decide(l, &wa->ev.prefix, &zp, ctx->now, &v);
    if (rc == CTL_EXIT_OK && v.d.allowed && v.d.decider) {
        const struct entry *a = v.d.decider;
        addr_format(&wa->ev.prefix, text, sizeof text);
        addr_format(&a->prefix, allow, sizeof allow);
        if (addr_compare(&a->prefix, &wa->ev.prefix) == 0)
            ctl_error("%s is allowed (allow entry %s, reason: %s): listing it would replace the "
                      "allow; pass --force to list it anyway",
                      text, allow, a->reason[0] ? a->reason : "none given");
        else
            ctl_error("%s is inside the allow entry %s (reason: %s): the listing would have no "
                      "effect while the allow stands; pass --force to store it anyway",
                      text, allow, a->reason[0] ? a->reason : "none given");
        rc = CTL_EXIT_FAIL;
    }
    ctl_lookup_close(l);
    return rc;
}

/* The operator listings an allow of P would undo whole. */
struct ctl_write_overridden {
    int64_t now;
    size_t n;
    struct entry first;
};

#define CTL_WRITE_OVERRIDDEN_MAX 100 /* counted before the message says "or more" */

static int ctl_write_count_listing(const struct entry *e, void *arg)
{
    struct ctl_write_overridden *o = arg;

    if (e->state != ENTRY_LISTED || !model_manual_active(e, o->now))
        return 0;
    if (o->n == 0)
        o->first = *e;
    return ++o->n >= CTL_WRITE_OVERRIDDEN_MAX;
}

/* allow P over an operator listing: one in force that equals P or lies
 * inside it. A listing that covers P is left in force around it: that is
 * what an exception is for. */
static int ctl_write_check_allow(const struct ctl_ctx *ctx, struct store *s,
                                 const struct ctl_write_args *wa)
{
    struct ctl_write_overridden o = {.now = ctx->now};
    struct store_reader *r;
    char text[ADDR_TEXT_MAX], listed[ADDR_TEXT_MAX], more[64] = "";
    int rc = store_reader_open(s, &r);

    if (rc == DNSBL_OK)
        rc = store_reader_begin(r);
    else
        r = NULL;
    if (rc == DNSBL_OK) {
        rc = store_reader_within(r, &wa->ev.prefix, ctl_write_count_listing, &o);
        if (rc > 0)
            rc = DNSBL_OK; /* stopped at the cap */
        store_reader_end(r);
    }
    if (r)
        store_reader_close(r);
    if (rc != DNSBL_OK) {
        ctl_error("reading the listings inside the prefix: %s", dnsbl_strerror(rc));
        return CTL_EXIT_FAIL;
    }
    if (o.n == 0)
        return CTL_EXIT_OK;
    addr_format(&wa->ev.prefix, text, sizeof text);
    addr_format(&o.first.prefix, listed, sizeof listed);
    if (o.n >= CTL_WRITE_OVERRIDDEN_MAX)
        snprintf(more, sizeof more, " and %d or more others", CTL_WRITE_OVERRIDDEN_MAX - 1);
    else if (o.n > 1)
        snprintf(more, sizeof more, " and %zu other%s", o.n - 1, o.n > 2 ? "s" : "");
    ctl_error("allowing %s would undo the operator listing %s (reason: %s)%s; pass --force to "
              "allow it anyway",
              text, listed, o.first.reason[0] ? o.first.reason : "none given", more);
    return CTL_EXIT_FAIL;
}

/* The store refuses to list 127.0.0.1 (model_event_refusal); asking
 * first names the argument as typed and leaves no store behind. */
static int ctl_write_refuse_testpoint(const char *text, const struct event *ev)
{
    char shown[300], why[512];

    snprintf(shown, sizeof shown, "'%s'", text);
    if (model_event_refusal(ev, shown, why, sizeof why) == DNSBL_OK)
        return CTL_EXIT_OK;
    ctl_error("%s", why);
    return CTL_EXIT_FAIL;
}

int ctl_cmd_add(struct ctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        CTL_OPTIONS_COMMON, CTL_OPTION_REASON, CTL_OPTION_CODE, CTL_OPTION_EXPIRES,
        CTL_OPTION_FORCE,   CTL_OPTION_CREATE, CTL_OPTION_BY,   {NULL, 0, NULL, 0},
    };
    struct ctl_write_args wa = {.ev.kind = EV_LIST};
    char text[ADDR_TEXT_MAX], code[CTL_TEXT_SHORT];
    int rc = ctl_write_parse_args(ctx, argc, argv, CTL_SHORTOPTS_COMMON "r:c:e:", opts, &wa);

    if (rc != CTL_EXIT_OK || wa.done)
        return rc;
    rc = ctl_write_refuse_testpoint(wa.target, &wa.ev);
    if (rc == CTL_EXIT_OK)
        rc = ctl_write_check_width(&wa, "list");
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = ctl_write_store_event(ctx, &wa, ctl_write_check_add);
    if (rc != CTL_EXIT_OK)
        return rc;
    addr_format(&wa.ev.prefix, text, sizeof text);
    const struct entry listed = {.code = wa.ev.code};
    ctl_format_code(ctl_resolve_entry_code(&listed), code);
    printf("listed %s (%s)\n", text, code);
    return CTL_EXIT_OK;
}

int ctl_cmd_allow(struct ctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        CTL_OPTIONS_COMMON, CTL_OPTION_REASON, CTL_OPTION_EXPIRES, CTL_OPTION_FORCE,
        CTL_OPTION_CREATE,  CTL_OPTION_BY,     {NULL, 0, NULL, 0},
    };
    struct ctl_write_args wa = {.ev.kind = EV_ALLOW};
    char text[ADDR_TEXT_MAX];
    int rc = ctl_write_parse_args(ctx, argc, argv, CTL_SHORTOPTS_COMMON "r:e:", opts, &wa);

    if (rc != CTL_EXIT_OK || wa.done)
        return rc;
    rc = ctl_write_check_width(&wa, "allow");
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = ctl_write_store_event(ctx, &wa, ctl_write_check_allow);
    if (rc != CTL_EXIT_OK)
        return rc;
    addr_format(&wa.ev.prefix, text, sizeof text);
    printf("allowed %s\n", text);
    return CTL_EXIT_OK;
}

/* Delisting something not listed is an operator mistake worth an exit 1,
 * and it must not create a store or an entry as a side effect. The check
 * and the write are two transactions: an add in between only means the
 * delist wins, as it would have a moment later. The note (model.c) and
 * the operator history record who delisted it and why; the entry's
 * evidence and history stay, so fresh complaints list it again by score. */
int ctl_cmd_delist(struct ctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        CTL_OPTIONS_COMMON,
        CTL_OPTION_REASON,
        CTL_OPTION_BY,
        {NULL, 0, NULL, 0},
    };
    struct ctl_write_args wa = {.ev.kind = EV_DELIST};
    struct ctl_lookup *l = NULL;
    struct verdict v;
    struct zone_policy zp;
    struct store *s = NULL;
    char text[ADDR_TEXT_MAX];
    int rc = ctl_write_parse_args(ctx, argc, argv, CTL_SHORTOPTS_COMMON "r:", opts, &wa);

    if (rc != CTL_EXIT_OK || wa.done)
        return rc;
    addr_format(&wa.ev.prefix, text, sizeof text);
    rc = ctl_store_open_existing(ctx, STORE_CREATE, &s);
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = ctl_lookup_open(s, &l);
    if (rc != CTL_EXIT_OK)
        goto out;
    policy_defaults(&zp);
    rc = ctl_lookup_decide(l, &wa.ev.prefix, &zp, ctx->now, &v);
    if (rc != CTL_EXIT_OK)
        goto out;
    if (!v.d.listed) {
        ctl_error("%s is not listed", text);
        rc = CTL_EXIT_FAIL;
        goto out;
    }
    rc = ctl_write_apply_event(s, &wa.ev);
    if (rc == CTL_EXIT_OK)
        printf("delisted %s\n", text);
out:
    ctl_lookup_close(l);
    if (s && ctl_store_sync(s) != CTL_EXIT_OK)
        rc = CTL_EXIT_FAIL;
    if (s)
        store_close(s);
    return rc;
}

/* The exact entry p, or CTL_EXIT_FAIL (said) when the store has none. */
static int ctl_write_get_entry(struct store *s, const char *text, const struct addr_prefix *p,
                               struct entry *e)
{
    struct store_reader *r;
    int err = store_reader_open(s, &r);
    if (err == DNSBL_OK) {
        err = store_reader_begin(r);
        if (err == DNSBL_OK) {
            e->prefix = *p;
            err = store_reader_get(r, p, e);
            store_reader_end(r);
        }
        store_reader_close(r);
    }
    if (err == DNSBL_ENOENT) {
        ctl_error("%s: no such entry (remove takes a prefix as stored: dnsblctl list shows them)",
                  text);
        return CTL_EXIT_FAIL;
    }
    if (err != DNSBL_OK) {
        ctl_error("%s: %s", text, dnsbl_strerror(err));
        return CTL_EXIT_FAIL;
    }
    return CTL_EXIT_OK;
}

/* remove --dataset NAME: the event that takes NAME's part (or, for
 * "operator", the operator's decision) away; CTL_EXIT_FAIL (said) when
 * the entry has none. */
static int ctl_write_remove_part(const char *text, const char *dataset, const struct entry *e,
                                 struct event *ev)
{
    if (strcmp(dataset, "operator") == 0) {
        if (e->state == ENTRY_NONE) {
            ctl_error("%s holds no operator decision", text);
            return CTL_EXIT_FAIL;
        }
        ev->kind = EV_OPERATOR_CLEAR;
        return CTL_EXIT_OK;
    }
    if (model_part_find(e, model_dataset_id(dataset)) < 0) {
        char have[512] = "";
        size_t len = 0;
        for (unsigned i = 0; i < e->nparts && len < sizeof have; i++)
            len += (size_t)snprintf(have + len, sizeof have - len, "%s%s", i ? ", " : "",
                                    e->part_text[i].dataset[0] ? e->part_text[i].dataset : "\"\"");
        ctl_error("%s has no part of dataset %s (its datasets: %s)", text, dataset,
                  e->nparts ? have : "none");
        return CTL_EXIT_FAIL;
    }
    ev->kind = EV_IMPORT_REMOVE;
    ev->dataset = dataset;
    return CTL_EXIT_OK;
}

int ctl_cmd_remove(struct ctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        CTL_OPTIONS_COMMON,
        CTL_OPTION_REASON,
        CTL_OPTION_BY,
        {NULL, 0, NULL, 0},
    };
    struct ctl_write_args wa = {.ev.kind = EV_REMOVE};
    const char *dataset = NULL;
    char text[ADDR_TEXT_MAX];
    struct entry e;
    struct store *s = NULL;

    /* --dataset is this command's alone: take it out before the shared
     * parser sees the rest. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dataset") == 0 && i + 1 < argc) {
            dataset = argv[i + 1];
            memmove(&argv[i], &argv[i + 2], (size_t)(argc - i - 2) * sizeof *argv);
            argc -= 2;
            i--;
        } else if (strncmp(argv[i], "--dataset=", 10) == 0) {
            dataset = argv[i] + 10;
            memmove(&argv[i], &argv[i + 1], (size_t)(argc - i - 1) * sizeof *argv);
            argc--;
            i--;
        }
    }
    if (dataset && (!dataset[0] || strlen(dataset) >= MODEL_DATASET_MAX)) {
        ctl_error("--dataset must be 1 to %d characters long", MODEL_DATASET_MAX - 1);
        return CTL_EXIT_USAGE;
    }
    int rc = ctl_write_parse_args(ctx, argc, argv, CTL_SHORTOPTS_COMMON "r:", opts, &wa);
    if (rc != CTL_EXIT_OK || wa.done)
        return rc;
    addr_format(&wa.ev.prefix, text, sizeof text);
    rc = ctl_store_open_existing(ctx, 0, &s);
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = ctl_write_get_entry(s, text, &wa.ev.prefix, &e);
    if (rc == CTL_EXIT_OK && dataset)
        rc = ctl_write_remove_part(text, dataset, &e, &wa.ev);
    if (rc == CTL_EXIT_OK)
        rc = ctl_write_apply_event(s, &wa.ev);
    if (rc == CTL_EXIT_OK && dataset)
        printf("removed dataset %s from %s\n", dataset, text);
    else if (rc == CTL_EXIT_OK)
        printf("removed %s\n", text);
    if (s && ctl_store_sync(s) != CTL_EXIT_OK)
        rc = CTL_EXIT_FAIL;
    if (s)
        store_close(s);
    return rc;
}
