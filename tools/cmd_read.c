/* cmd_read: the commands that only read the store -- show (what decides
 * one address) and list (every entry). Text for people, --json for
 * scripts; the JSON keys are part of the interface. Neither creates the
 * store: a directory without one reads as empty. */
#include <stdio.h>
#include <stdlib.h>

#include "ctl.h"
#include "err.h"
#include "json.h"

#define CTL_OPTION_JSON                                                                            \
    {                                                                                              \
        "json", no_argument, NULL, 'j'                                                             \
    }

/* One-line text: a stored reason may hold anything an import put there. */
static void ctl_print_text(FILE *out, const char *s)
{
    for (; *s; s++)
        fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, out);
}

/* --json is the only option of both; *done when --help answered. */
static int ctl_read_parse_options(struct ctl_ctx *ctx, int argc, char **argv, bool *json,
                                  bool *done)
{
    static const struct option opts[] = {CTL_OPTIONS_COMMON, CTL_OPTION_JSON, {NULL, 0, NULL, 0}};

    *json = false;
    *done = false;
    for (;;) {
        int c = ctl_getopt(ctx, argc, argv, CTL_SHORTOPTS_COMMON "j", opts);
        switch (c) {
        case CTL_GETOPT_END:
            return CTL_EXIT_OK;
        case CTL_GETOPT_HELP:
            *done = true;
            return CTL_EXIT_OK;
        case 'j':
            *json = true;
            break;
        default:
            return CTL_EXIT_USAGE;
        }
    }
}

/* What show prints, computed once for both output forms. Absent values
 * are NULL (JSON null). */
struct ctl_show_report {
    char address[ADDR_TEXT_MAX];
    const char *prefix;
    bool listed, allowed;
    const char *code;
    const char *reason;
    const char *expires;
    const char *first_seen, *last_seen;
    const char *why, *state, *note;
    char prefix_buf[ADDR_TEXT_MAX];
    char code_buf[CTL_TEXT_SHORT], expires_buf[CTL_TEXT_SHORT];
    char first_buf[CTL_TEXT_SHORT], last_buf[CTL_TEXT_SHORT];
};

static const char *ctl_format_time_or_null(int64_t t, char *buf)
{
    if (t == 0)
        return NULL;
    ctl_format_time(t, buf);
    return buf;
}

/* The entry to show is the one that decided; if none did (nothing in force),
 * the longest covering entry still tells what the store knows. */
static void ctl_show_build_report(const struct ctl_verdict *v, struct ctl_show_report *r)
{
    const struct entry *e = v->d.decider ? v->d.decider : v->n ? &v->covering[0] : NULL;

    r->listed = v->d.listed;
    r->allowed = v->d.why == WHY_ALLOWED;
    r->why = model_why_name(v->d.why);
    if (r->listed) {
        ctl_format_code(v->d.code ? v->d.code : e ? ctl_resolve_entry_code(e) : 0, r->code_buf);
        r->code = r->code_buf;
    }
    if (!e)
        return;
    addr_format(&e->prefix, r->prefix_buf, sizeof r->prefix_buf);
    r->prefix = r->prefix_buf;
    r->state = model_state_name(e->state);
    r->reason = e->reason[0] ? e->reason : NULL;
    r->note = e->note[0] ? e->note : NULL;
    r->expires = ctl_format_time_or_null(e->expires, r->expires_buf);
    r->first_seen = ctl_format_time_or_null(e->first_seen, r->first_buf);
    r->last_seen = ctl_format_time_or_null(e->last_seen, r->last_buf);
}

static void ctl_print_show_json(const struct ctl_show_report *r)
{
    struct json_writer w;

    json_init(&w, stdout);
    json_begin_object(&w);
    json_member_string(&w, "address", r->address);
    json_member_string(&w, "prefix", r->prefix);
    json_member_bool(&w, "listed", r->listed);
    json_member_bool(&w, "allowed", r->allowed);
    json_member_string(&w, "code", r->code);
    json_member_string(&w, "reason", r->reason);
    json_member_string(&w, "expires", r->expires);
    json_member_string(&w, "first_seen", r->first_seen);
    json_member_string(&w, "last_seen", r->last_seen);
    json_member_string(&w, "why", r->why);
    json_member_string(&w, "state", r->state);
    json_end_object(&w);
    json_finish(&w);
}

static void ctl_print_show_line(const char *key, const char *value, const char *absent)
{
    printf("%s: ", key);
    ctl_print_text(stdout, value ? value : absent);
    putchar('\n');
}

static void ctl_print_show_text(const struct ctl_show_report *r)
{
    ctl_print_show_line("address", r->address, "-");
    ctl_print_show_line("prefix", r->prefix, "none");
    ctl_print_show_line("listed", r->listed ? "yes" : "no", "-");
    ctl_print_show_line("allowed", r->allowed ? "yes" : "no", "-");
    ctl_print_show_line("why", r->why, "-");
    ctl_print_show_line("state", r->state, "unknown");
    ctl_print_show_line("code", r->code, "-");
    ctl_print_show_line("reason", r->reason, "-");
    ctl_print_show_line("expires", r->expires, r->prefix ? "never" : "-");
    ctl_print_show_line("first seen", r->first_seen, "-");
    ctl_print_show_line("last seen", r->last_seen, "-");
    if (r->note)
        ctl_print_show_line("note", r->note, "-");
}

int ctl_cmd_show(struct ctl_ctx *ctx, int argc, char **argv)
{
    struct ctl_show_report report = {0};
    struct ctl_verdict v = {0};
    struct addr_prefix addr;
    struct store *s = NULL;
    const char *text;
    bool json, done;
    int rc = ctl_read_parse_options(ctx, argc, argv, &json, &done);

    if (rc != CTL_EXIT_OK || done)
        return rc;
    rc = ctl_args_take_one(ctx, argc, argv, "ADDR", &text);
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = ctl_args_parse_address(ctx, text, &addr);
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = ctl_store_open_existing(ctx, STORE_RDONLY, &s);
    if (rc != CTL_EXIT_OK)
        return rc;
    v.covering = calloc(STORE_COVERING_MAX, sizeof *v.covering);
    if (!v.covering) {
        ctl_error("looking up %s: %s", text, dnsbl_strerror(DNSBL_ENOMEM));
        rc = CTL_EXIT_FAIL;
        goto out;
    }
    rc = ctl_store_decide(ctx, s, &addr, &v);
    if (rc != CTL_EXIT_OK)
        goto out;
    addr_format(&addr, report.address, sizeof report.address);
    ctl_show_build_report(&v, &report);
    if (json)
        ctl_print_show_json(&report);
    else
        ctl_print_show_text(&report);
out:
    free(v.covering);
    if (s)
        store_close(s);
    return rc;
}

/* list walks the store twice: once to size the prefix column, once to
 * print, so memory stays flat however many entries there are. */
struct ctl_list_walk {
    bool json;
    int prefix_width;
    struct json_writer w;
};

#define CTL_LIST_ROW "%-*s  %-8s  %-15s  %-20s  "

static int ctl_list_measure_entry(const struct entry *e, void *arg)
{
    struct ctl_list_walk *walk = arg;
    char text[ADDR_TEXT_MAX];
    int len = (int)addr_format(&e->prefix, text, sizeof text);

    if (len > walk->prefix_width)
        walk->prefix_width = len;
    return 0;
}

/* Listed entries show the A value they answer with; others have none. */
static const char *ctl_list_format_code(const struct entry *e, char *buf)
{
    if (e->state != ENTRY_LISTED)
        return NULL;
    ctl_format_code(ctl_resolve_entry_code(e), buf);
    return buf;
}

static void ctl_print_entry_json(struct json_writer *w, const struct entry *e)
{
    char prefix[ADDR_TEXT_MAX], code[CTL_TEXT_SHORT], exp[CTL_TEXT_SHORT];
    char first[CTL_TEXT_SHORT], last[CTL_TEXT_SHORT];

    addr_format(&e->prefix, prefix, sizeof prefix);
    json_begin_object(w);
    json_member_string(w, "prefix", prefix);
    json_member_string(w, "state", model_state_name(e->state));
    json_member_string(w, "code", ctl_list_format_code(e, code));
    json_member_string(w, "reason", e->reason[0] ? e->reason : NULL);
    json_member_string(w, "expires", ctl_format_time_or_null(e->expires, exp));
    json_member_string(w, "first_seen", ctl_format_time_or_null(e->first_seen, first));
    json_member_string(w, "last_seen", ctl_format_time_or_null(e->last_seen, last));
    json_end_object(w);
}

static void ctl_print_entry_text(const struct ctl_list_walk *walk, const struct entry *e)
{
    char prefix[ADDR_TEXT_MAX], code[CTL_TEXT_SHORT], exp[CTL_TEXT_SHORT];
    const char *code_text = ctl_list_format_code(e, code);
    const char *exp_text = ctl_format_time_or_null(e->expires, exp);
    bool manual = e->state == ENTRY_LISTED || e->state == ENTRY_ALLOWED;

    addr_format(&e->prefix, prefix, sizeof prefix);
    printf(CTL_LIST_ROW, walk->prefix_width, prefix, model_state_name(e->state),
           code_text ? code_text : "-",
           exp_text ? exp_text
           : manual ? "never"
                    : "-");
    ctl_print_text(stdout, e->reason[0] ? e->reason : "-");
    putchar('\n');
}

static int ctl_list_print_entry(const struct entry *e, void *arg)
{
    struct ctl_list_walk *walk = arg;

    if (walk->json)
        ctl_print_entry_json(&walk->w, e);
    else
        ctl_print_entry_text(walk, e);
    return 0;
}

static int ctl_list_walk_store(struct store *s, int (*cb)(const struct entry *, void *),
                               struct ctl_list_walk *walk)
{
    int rc = s ? store_foreach(s, cb, walk) : DNSBL_OK;

    if (rc != DNSBL_OK) {
        ctl_error("reading the entries: %s", dnsbl_strerror(rc));
        return CTL_EXIT_FAIL;
    }
    return CTL_EXIT_OK;
}

int ctl_cmd_list(struct ctl_ctx *ctx, int argc, char **argv)
{
    struct ctl_list_walk walk = {.prefix_width = (int)sizeof "PREFIX" - 1};
    struct store *s = NULL;
    bool done;
    int rc = ctl_read_parse_options(ctx, argc, argv, &walk.json, &done);

    if (rc != CTL_EXIT_OK || done)
        return rc;
    if (optind < argc)
        return ctl_usage_error(ctx, "unexpected argument '%s'", argv[optind]);
    rc = ctl_store_open_existing(ctx, STORE_RDONLY, &s);
    if (rc != CTL_EXIT_OK)
        return rc;
    if (walk.json) {
        json_init(&walk.w, stdout);
        json_begin_array(&walk.w);
    } else {
        rc = ctl_list_walk_store(s, ctl_list_measure_entry, &walk);
        if (rc != CTL_EXIT_OK)
            goto out;
        printf(CTL_LIST_ROW "REASON\n", walk.prefix_width, "PREFIX", "STATE", "CODE", "EXPIRES");
    }
    rc = ctl_list_walk_store(s, ctl_list_print_entry, &walk);
    if (rc == CTL_EXIT_OK && walk.json) {
        json_end_array(&walk.w);
        json_finish(&walk.w);
    }
out:
    if (s)
        store_close(s);
    return rc;
}
