/* cmd_top: `dnsblctl top`, the worst offenders now. One walk over the
 * store collects the entries holding evidence (prefix and lifetime
 * counters only, so memory stays small per entry); their scores need
 * their history, read afterwards through one lookup, because a score is
 * a function of the days and the clock, not a stored number. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "err.h"
#include "grow.h"
#include "json.h"

#define TOP_LIMIT_DEFAULT 20
#define TOP_LIMIT_MAX 1000000

enum top_key { TOP_BY_SCORE, TOP_BY_COMPLAINTS, TOP_BY_TRAPS };

struct top_row {
    struct addr_prefix prefix;
    uint64_t complaints;
    uint32_t traps;
    uint64_t volume;
    size_t order; /* position in the store walk: ties keep address order */
    double score;
    double key;
    bool listed;
    uint8_t light, why;
};

struct top_walk {
    struct top_row *rows;
    size_t n, cap;
    int err;
};

struct top_args {
    enum top_key by;
    size_t limit;
    bool json, done;
    const char *zone, *zone_config;
};

static int top_collect(const struct entry *e, void *arg)
{
    struct top_walk *w = arg;

    if (!model_has_evidence(e))
        return 0;
    w->err = grow_array((void **)&w->rows, &w->cap, w->n + 1, sizeof *w->rows, 1024);
    if (w->err)
        return 1;
    struct top_row *r = &w->rows[w->n];
    memset(r, 0, sizeof *r);
    r->prefix = e->prefix;
    r->complaints = (uint64_t)e->counts[CNT_ABUSE] + e->counts[CNT_FRAUD] + e->counts[CNT_VIRUS];
    r->traps = e->counts[CNT_TRAP_HITS];
    r->volume = e->volume;
    r->order = w->n;
    w->n++;
    return 0;
}

/* Worst first; equal keys in address order. */
static int top_compare(const void *a, const void *b)
{
    const struct top_row *x = a, *y = b;

    if (x->key != y->key)
        return x->key < y->key ? 1 : -1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int top_parse_args(struct ctl_ctx *ctx, int argc, char **argv, struct top_args *a)
{
    static const struct option opts[] = {
        CTL_OPTIONS_COMMON,
        {"by", required_argument, NULL, 'b'},
        {"limit", required_argument, NULL, 'l'},
        {"json", no_argument, NULL, 'j'},
        {"zone", required_argument, NULL, 'z'},
        {"zone-config", required_argument, NULL, 'Z'},
        {NULL, 0, NULL, 0},
    };
    char *end;

    a->limit = TOP_LIMIT_DEFAULT;
    for (;;) {
        int c = ctl_getopt(ctx, argc, argv, CTL_SHORTOPTS_COMMON "b:l:jz:Z:", opts);
        switch (c) {
        case CTL_GETOPT_END:
            return ctl_args_none(ctx, argc, argv);
        case CTL_GETOPT_HELP:
            a->done = true;
            return CTL_EXIT_OK;
        case 'b':
            if (strcmp(optarg, "score") == 0)
                a->by = TOP_BY_SCORE;
            else if (strcmp(optarg, "complaints") == 0)
                a->by = TOP_BY_COMPLAINTS;
            else if (strcmp(optarg, "traps") == 0)
                a->by = TOP_BY_TRAPS;
            else
                return ctl_usage_error(ctx, "--by '%s' is not score, complaints or traps", optarg);
            break;
        case 'l': {
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-' || v < 1 || v > TOP_LIMIT_MAX)
                return ctl_usage_error(ctx, "--limit '%s' is not a number from 1 to %d", optarg,
                                       TOP_LIMIT_MAX);
            a->limit = (size_t)v;
            break;
        }
        case 'j':
            a->json = true;
            break;
        case 'z':
            a->zone = optarg;
            break;
        case 'Z':
            a->zone_config = optarg;
            break;
        default:
            return CTL_EXIT_USAGE;
        }
    }
}

static int top_decide(struct ctl_lookup *l, const struct zone_policy *zp, int64_t now,
                      struct top_row *r)
{
    struct verdict v;
    int rc = ctl_lookup_decide(l, &r->prefix, zp, now, &v);

    if (rc != CTL_EXIT_OK)
        return rc;
    r->score = v.d.score.value;
    r->listed = v.d.listed;
    r->light = policy_light(&v.d);
    r->why = v.d.why;
    return CTL_EXIT_OK;
}

static void top_print(const struct top_args *a, const struct top_row *rows, size_t n)
{
    char text[ADDR_TEXT_MAX];

    if (a->json) {
        struct json_writer w;
        json_init(&w, stdout);
        json_begin_array(&w);
        for (size_t i = 0; i < n; i++) {
            const struct top_row *r = &rows[i];
            addr_format(&r->prefix, text, sizeof text);
            json_begin_object(&w);
            json_member_string(&w, "address", text);
            json_member_double(&w, "score", r->score);
            json_member_uint(&w, "complaints", r->complaints);
            json_member_uint(&w, "trap_hits", r->traps);
            json_member_uint(&w, "volume", r->volume);
            json_member_string(&w, "light", model_light_name(r->light));
            json_member_bool(&w, "listed", r->listed);
            json_member_string(&w, "why", model_why_name(r->why));
            json_end_object(&w);
        }
        json_end_array(&w);
        json_finish(&w);
        return;
    }
    int width = (int)sizeof "ADDRESS" - 1;
    for (size_t i = 0; i < n; i++) {
        int len = (int)addr_format(&rows[i].prefix, text, sizeof text);
        if (len > width)
            width = len;
    }
    printf("%-*s  %10s  %10s  %8s  %-6s  %s\n", width, "ADDRESS", "SCORE", "COMPLAINTS", "TRAPS",
           "LIGHT", "LISTED");
    for (size_t i = 0; i < n; i++) {
        const struct top_row *r = &rows[i];
        addr_format(&r->prefix, text, sizeof text);
        printf("%-*s  %10.2f  %10llu  %8u  %-6s  %s\n", width, text, r->score,
               (unsigned long long)r->complaints, r->traps, model_light_name(r->light),
               r->listed ? "yes" : "no");
    }
}

int ctl_cmd_top(struct ctl_ctx *ctx, int argc, char **argv)
{
    struct top_args a = {0};
    struct top_walk w = {0};
    struct ctl_lookup *l = NULL;
    struct ctl_zone zone;
    struct store *s = NULL;
    int rc = top_parse_args(ctx, argc, argv, &a);

    if (rc != CTL_EXIT_OK || a.done)
        return rc;
    rc = ctl_zone_resolve(ctx, a.zone_config, a.zone, &zone);
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = ctl_store_open_existing(ctx, STORE_RDONLY, &s);
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = ctl_store_foreach(s, top_collect, &w, &w.err);
    if (rc != CTL_EXIT_OK)
        goto out;
    rc = ctl_lookup_open(s, &l);
    if (rc != CTL_EXIT_OK)
        goto out;
    /* Counters are known already: rank by them first and score only the
     * rows shown. A score needs every row's history. */
    size_t scored = w.n;
    if (a.by != TOP_BY_SCORE) {
        for (size_t i = 0; i < w.n; i++)
            w.rows[i].key =
                (double)(a.by == TOP_BY_COMPLAINTS ? w.rows[i].complaints : w.rows[i].traps);
        if (w.n)
            qsort(w.rows, w.n, sizeof *w.rows, top_compare);
        scored = w.n < a.limit ? w.n : a.limit;
    }
    for (size_t i = 0; i < scored && rc == CTL_EXIT_OK; i++) {
        rc = top_decide(l, &zone.policy, ctx->now, &w.rows[i]);
        if (a.by == TOP_BY_SCORE)
            w.rows[i].key = w.rows[i].score;
    }
    if (rc != CTL_EXIT_OK)
        goto out;
    if (a.by == TOP_BY_SCORE && w.n)
        qsort(w.rows, w.n, sizeof *w.rows, top_compare);
    size_t shown = 0;
    while (shown < w.n && shown < a.limit && w.rows[shown].key > 0)
        shown++;
    top_print(&a, w.rows, shown);
out:
    ctl_lookup_close(l);
    free(w.rows);
    if (s)
        store_close(s);
    return rc;
}
