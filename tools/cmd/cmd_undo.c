/* cmd_undo: `dnsblctl imports`, the imports log, and `dnsblctl undo`,
 * which reverses one import. The log and the undo are the store's
 * (store_import_begin, store_undo, doc/store-format.md "imports" and
 * "undo"); this prints them. Exit 0, 1 when the undo failed or the import
 * is unknown or undone already, 2 for misuse. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "err.h"
#include "json.h"

struct ctl_imports_out {
    bool json;
    struct json_writer w;
    size_t n;
};

static void ctl_import_json(struct json_writer *w, const struct import_info *in)
{
    char when[CTL_TEXT_SHORT];
    ctl_format_time(in->time, when);
    json_begin_object(w);
    json_member_uint(w, "id", in->id);
    json_member_string(w, "time", when);
    json_member_string(w, "state", store_import_state_name(in->state));
    json_member_string(w, "who", in->who);
    json_member_string(w, "source", in->source);
    json_member_string(w, "format", in->format);
    json_member_string(w, "files", in->files);
    json_member_bool(w, "sync", in->sync);
    json_key(w, "counts");
    json_begin_object(w);
    json_member_uint(w, "read", in->counts.read);
    json_member_uint(w, "imported", in->counts.imported);
    json_member_uint(w, "duplicates", in->counts.duplicates);
    json_member_uint(w, "rejected", in->counts.rejected);
    json_member_uint(w, "changed", in->counts.changed);
    json_end_object(w);
    json_end_object(w);
}

/* A stored text for one line of the table: control characters become
 * '?' (as ctl_print_text does), "" becomes "-". */
static const char *ctl_imports_cell(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (; in[n] && n + 1 < cap; n++)
        out[n] = (unsigned char)in[n] < 0x20 || in[n] == 0x7f ? '?' : in[n];
    out[n] = '\0';
    return n ? out : "-";
}

static int ctl_imports_one(const struct import_info *in, void *arg)
{
    struct ctl_imports_out *o = arg;
    char when[CTL_TEXT_SHORT], who[IMPORT_LOG_TEXT_MAX], source[IMPORT_LOG_TEXT_MAX];
    char format[IMPORT_LOG_TEXT_MAX], files[IMPORT_LOG_FILES_MAX];
    if (o->json) {
        ctl_import_json(&o->w, in);
        return 0;
    }
    if (o->n++ == 0)
        printf("%-5s %-20s %-7s %-10s %-12s %-8s %9s %9s %9s  %s\n", "ID", "TIME", "STATE", "WHO",
               "SOURCE", "FORMAT", "READ", "IMPORTED", "CHANGED", "FILES");
    ctl_format_time(in->time, when);
    printf("%-5" PRIu64 " %-20s %-7s %-10s %-12s %-8s %9" PRIu64 " %9" PRIu64 " %9" PRIu64
           "  %s%s\n",
           in->id, when, store_import_state_name(in->state),
           ctl_imports_cell(in->who, who, sizeof who),
           ctl_imports_cell(in->source, source, sizeof source),
           ctl_imports_cell(in->format, format, sizeof format), in->counts.read,
           in->counts.imported, in->counts.changed,
           ctl_imports_cell(in->files, files, sizeof files), in->sync ? " (sync)" : "");
    return 0;
}

int ctl_cmd_imports(struct ctl_ctx *ctx, int argc, char **argv)
{
    struct ctl_imports_out o = {0};
    bool done = false;
    int rc = ctl_getopt_json_only(ctx, argc, argv, &o.json, &done);
    if (rc != CTL_EXIT_OK || done)
        return rc;
    struct store *s = NULL;
    rc = ctl_store_open_existing(ctx, STORE_RDONLY, &s);
    if (rc != CTL_EXIT_OK)
        return rc;
    if (o.json) {
        json_init(&o.w, stdout);
        json_begin_array(&o.w);
    }
    int err = s ? store_imports(s, ctl_imports_one, &o) : DNSBL_OK;
    if (o.json) {
        json_end_array(&o.w);
        json_finish(&o.w);
    } else if (o.n == 0 && err == DNSBL_OK) {
        printf("no imports recorded\n");
    }
    if (s)
        store_close(s);
    if (err != DNSBL_OK) {
        ctl_error("reading the imports of %s: %s", ctx->db, dnsbl_strerror(err));
        return CTL_EXIT_FAIL;
    }
    return ctl_finish_output(CTL_EXIT_OK);
}

/* An import id: a decimal number from 1. */
static int ctl_undo_parse_id(const struct ctl_ctx *ctx, const char *text, uint64_t *id)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = text[0] >= '0' && text[0] <= '9' ? strtoull(text, &end, 10) : 0;
    if (errno != 0 || v == 0 || !end || *end != '\0')
        return ctl_usage_error(ctx, "'%s' is not an import id (see dnsblctl imports)", text);
    *id = v;
    return CTL_EXIT_OK;
}

int ctl_cmd_undo(struct ctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        CTL_OPTIONS_COMMON, {"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
    bool json = false;
    const char *text = NULL;
    uint64_t id = 0;
    for (;;) {
        int c = ctl_getopt(ctx, argc, argv, CTL_SHORTOPTS_COMMON "j", opts);
        if (c == CTL_GETOPT_END)
            break;
        if (c == CTL_GETOPT_HELP)
            return CTL_EXIT_OK;
        if (c != 'j')
            return CTL_EXIT_USAGE;
        json = true;
    }
    int rc = ctl_args_take_one(ctx, argc, argv, "import ID", &text);
    if (rc == CTL_EXIT_OK)
        rc = ctl_undo_parse_id(ctx, text, &id);
    if (rc != CTL_EXIT_OK)
        return rc;
    struct store *s = NULL;
    rc = ctl_store_open_write(ctx, &s);
    if (rc != CTL_EXIT_OK)
        return rc;
    struct store_undo_stats st;
    struct import_info info;
    char why[512] = "";
    int err = store_undo(s, id, &st, why, sizeof why);
    if (err != DNSBL_OK) {
        ctl_error("undo %" PRIu64 ": %s", id, why[0] ? why : dnsbl_strerror(err));
        store_close(s);
        return CTL_EXIT_FAIL;
    }
    rc = ctl_store_sync(s);
    bool have = store_import_get(s, id, &info) == DNSBL_OK;
    store_close(s);
    if (json) {
        struct json_writer w;
        json_init(&w, stdout);
        json_begin_object(&w);
        json_key(&w, "import");
        if (have)
            ctl_import_json(&w, &info);
        else
            json_null(&w);
        json_key(&w, "undone");
        json_begin_object(&w);
        json_member_uint(&w, "entries", st.entries);
        json_member_uint(&w, "history", st.history);
        json_member_uint(&w, "evidence", st.evidence);
        json_member_uint(&w, "oplog", st.oplog);
        json_member_uint(&w, "seen", st.seen);
        json_member_uint(&w, "kept", st.kept);
        json_end_object(&w);
        json_end_object(&w);
        json_finish(&w);
    } else {
        printf("undone import %" PRIu64 ": entries %zu, history days %zu, evidence %zu, "
               "operator history %zu, dedup keys %zu, changed since by later writes %zu\n",
               id, st.entries, st.history, st.evidence, st.oplog, st.seen, st.kept);
    }
    return ctl_finish_output(rc);
}

/* `dnsblctl prune --older-than DURATION`: the done imports that began
 * longer ago than DURATION lose their undo records (store_import_prune). */
struct ctl_prune_walk {
    int64_t cutoff;
    uint64_t ids[4096];
    size_t n;
};

static int ctl_prune_pick(const struct import_info *in, void *arg)
{
    struct ctl_prune_walk *p = arg;
    if (in->state == IMPORT_DONE && in->time < p->cutoff && p->n < 4096)
        p->ids[p->n++] = in->id;
    return 0;
}

int ctl_cmd_prune(struct ctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        CTL_OPTIONS_COMMON, {"older-than", required_argument, NULL, 'o'}, {NULL, 0, NULL, 0}};
    const char *older = NULL;
    for (;;) {
        int c = ctl_getopt(ctx, argc, argv, CTL_SHORTOPTS_COMMON "o:", opts);
        if (c == CTL_GETOPT_END)
            break;
        if (c == CTL_GETOPT_HELP)
            return CTL_EXIT_OK;
        if (c != 'o')
            return CTL_EXIT_USAGE;
        older = optarg;
    }
    if (ctl_args_none(ctx, argc, argv) != CTL_EXIT_OK)
        return CTL_EXIT_USAGE;
    /* A duration back from now; an absolute time is refused, so a typo
     * never prunes everything up to a date in the future. */
    int64_t until = 0;
    if (!older || strpbrk(older, "-:T") ||
        ctl_args_parse_expires(ctx, older, &until) != CTL_EXIT_OK || until <= ctx->now)
        return ctl_usage_error(ctx, "prune needs --older-than DURATION (30d, 12h, 1d12h)");
    struct ctl_prune_walk *w = calloc(1, sizeof *w);
    if (!w) {
        ctl_error("prune: %s", dnsbl_strerror(DNSBL_ENOMEM));
        return CTL_EXIT_FAIL;
    }
    w->cutoff = ctx->now - (until - ctx->now);
    struct store *s = NULL;
    int rc = ctl_store_open_write(ctx, &s);
    if (rc != CTL_EXIT_OK) {
        free(w);
        return rc;
    }
    int err = store_imports(s, ctl_prune_pick, w);
    uint64_t total = 0;
    for (size_t i = 0; err == DNSBL_OK && i < w->n; i++) {
        char why[512] = "";
        uint64_t dropped = 0;
        err = store_import_prune(s, w->ids[i], &dropped, why, sizeof why);
        if (err != DNSBL_OK)
            ctl_error("prune %" PRIu64 ": %s", w->ids[i], why[0] ? why : dnsbl_strerror(err));
        total += dropped;
    }
    if (err == DNSBL_OK)
        printf("pruned %zu import%s, %" PRIu64 " undo records\n", w->n, w->n == 1 ? "" : "s",
               total);
    free(w);
    if (ctl_store_sync(s) != CTL_EXIT_OK)
        err = DNSBL_EIO;
    store_close(s);
    return err == DNSBL_OK ? ctl_finish_output(CTL_EXIT_OK) : CTL_EXIT_FAIL;
}
