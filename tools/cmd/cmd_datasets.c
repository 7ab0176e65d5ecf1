/* cmd_datasets: `dnsblctl datasets`, the named datasets of the store: what
 * the datasets database records of each (kind, format, files and time of
 * its last import, last sync), what the entries hold of it now (counted
 * in one walk over every entry), and with --zone-config the zones it
 * feeds. Rows live in one array, sorted by dataset id, owned here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ctl.h"
#include "err.h"
#include "grow.h"
#include "json.h"

struct ds_family {
    struct addr_prefix top; /* the last listed prefix not inside an earlier one */
    bool have_top;
    uint8_t last64[8]; /* IPv6: the last /64 counted for a longer prefix */
    bool have_last64;
};

struct ds_row {
    uint32_t id;
    struct dataset_note note; /* name, and what the datasets database says */
    bool recorded;
    uint64_t entries, listed, excluded;
    uint64_t ipv4;          /* addresses in the union of its listed IPv4 prefixes */
    uint64_t ipv6_64s;      /* /64 networks its listed IPv6 prefixes touch (saturating) */
    uint64_t ipv6_prefixes; /* listed IPv6 prefixes not inside another */
    struct ds_family fam[2];
};

struct ds_args {
    bool json, done;
    const char *zone_config;
};

struct ds_ctx {
    struct ds_args a;
    struct ds_row *rows; /* sorted by id */
    size_t n, cap;
    struct ds_row oper; /* the operator's decisions */
    struct config cfg;
    bool have_cfg;
    int err;
};

static int ds_parse_args(struct ctl_ctx *ctx, int argc, char **argv, struct ds_args *a)
{
    static const struct option opts[] = {
        CTL_OPTIONS_COMMON,
        {"json", no_argument, NULL, 'j'},
        {"zone-config", required_argument, NULL, 'Z'},
        {NULL, 0, NULL, 0},
    };
    for (;;) {
        int c = ctl_getopt(ctx, argc, argv, CTL_SHORTOPTS_COMMON "jZ:", opts);
        switch (c) {
        case CTL_GETOPT_END:
            return ctl_args_none(ctx, argc, argv);
        case CTL_GETOPT_HELP:
            a->done = true;
            return CTL_EXIT_OK;
        case 'j':
            a->json = true;
            break;
        case 'Z':
            a->zone_config = optarg;
            break;
        default:
            return CTL_EXIT_USAGE;
        }
    }
}

/* The row of id, made (named name) when missing and name is given. */
static struct ds_row *ds_row_get(struct ds_ctx *x, uint32_t id, const char *name)
{
    size_t lo = 0, hi = x->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (x->rows[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < x->n && x->rows[lo].id == id)
        return &x->rows[lo];
    if (!name)
        return NULL;
    if (grow_array((void **)&x->rows, &x->cap, x->n + 1, sizeof *x->rows, 16) != DNSBL_OK) {
        x->err = DNSBL_ENOMEM;
        return NULL;
    }
    memmove(&x->rows[lo + 1], &x->rows[lo], (x->n - lo) * sizeof *x->rows);
    x->n++;
    struct ds_row *r = &x->rows[lo];
    memset(r, 0, sizeof *r);
    r->id = id;
    snprintf(r->note.name, sizeof r->note.name, "%s", name);
    return r;
}

static int ds_collect_note(const struct dataset_note *n, void *arg)
{
    struct ds_ctx *x = arg;
    struct ds_row *r = ds_row_get(x, model_dataset_id(n->name), n->name);
    if (!r)
        return 1;
    r->note = *n;
    r->recorded = true;
    return 0;
}

/* 2^bits, saturating. */
static uint64_t ds_pow2(unsigned bits)
{
    return bits >= 64 ? UINT64_MAX : (uint64_t)1 << bits;
}

static uint64_t ds_add(uint64_t a, uint64_t b)
{
    return b > UINT64_MAX - a ? UINT64_MAX : a + b;
}

/* A listed prefix of r's. Entries come in key order, a prefix before the
 * ones inside it, so a prefix inside an earlier one is inside the last
 * one not inside another: the union is counted, not a sum. */
static void ds_count_addresses(struct ds_row *r, const struct addr_prefix *p)
{
    struct ds_family *f = &r->fam[p->family == ADDR_V4 ? 0 : 1];
    if (f->have_top && addr_covers(&f->top, p))
        return;
    f->top = *p;
    f->have_top = true;
    if (p->family == ADDR_V4) {
        r->ipv4 = ds_add(r->ipv4, ds_pow2(32u - p->plen));
        return;
    }
    r->ipv6_prefixes++;
    if (p->plen <= 64) {
        r->ipv6_64s = ds_add(r->ipv6_64s, ds_pow2(64u - p->plen));
        f->have_last64 = false;
    } else if (!f->have_last64 || memcmp(f->last64, p->a, 8) != 0) {
        memcpy(f->last64, p->a, 8);
        f->have_last64 = true;
        r->ipv6_64s = ds_add(r->ipv6_64s, 1);
    }
}

/* Each source the entry names that is a recorded evidence feed counts it. */
static void ds_count_sources(struct ds_ctx *x, const struct entry *e)
{
    const char *p = e->sources;
    char name[MODEL_DATASET_MAX];

    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len < sizeof name) {
            memcpy(name, p, len);
            name[len] = '\0';
            struct ds_row *r = ds_row_get(x, model_dataset_id(name), NULL);
            if (r && r->recorded && r->note.kind == DATASET_EVIDENCE &&
                strcmp(r->note.name, name) == 0)
                r->entries++;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
}

static int ds_count_entry(const struct entry *e, void *arg)
{
    struct ds_ctx *x = arg;

    for (unsigned i = 0; i < e->nparts && i < ENTRY_PARTS_MAX; i++) {
        const struct entry_part *pt = &e->parts[i];
        const char *name = e->part_text[i].dataset;
        if (pt->dataset == 0)
            continue; /* no dataset named: nothing to show it under */
        struct ds_row *r = ds_row_get(x, pt->dataset, name);
        if (!r)
            return 1;
        r->entries++;
        if (pt->state == IMPORT_LISTED) {
            r->listed++;
            ds_count_addresses(r, &e->prefix);
        } else {
            r->excluded++;
        }
    }
    if (e->sources[0])
        ds_count_sources(x, e);
    if (e->state != ENTRY_NONE) {
        x->oper.entries++;
        if (e->state == ENTRY_LISTED) {
            x->oper.listed++;
            ds_count_addresses(&x->oper, &e->prefix);
        } else {
            x->oper.excluded++; /* an allow or a delisting */
        }
    }
    return 0;
}

static uint8_t ds_kind(const struct ds_row *r)
{
    if (r == NULL)
        return DATASET_OPERATOR;
    if (r->listed || r->excluded)
        return DATASET_LIST;
    return r->recorded ? r->note.kind : DATASET_LIST;
}

static int ds_load_config(struct ds_ctx *x)
{
    char why[512] = "";

    config_init(&x->cfg);
    x->have_cfg = true;
    if (config_load_file(&x->cfg, x->a.zone_config, why, sizeof why) != DNSBL_OK) {
        ctl_error("%s", why[0] ? why : x->a.zone_config);
        return CTL_EXIT_FAIL;
    }
    return CTL_EXIT_OK;
}

/* Does zone i feed from r (NULL: the operator's, which every zone does)? */
static bool ds_zone_feeds(const struct ds_ctx *x, size_t i, const struct ds_row *r)
{
    return !r || policy_serves(&x->cfg.zones[i].policy, r->id);
}

static void ds_print_json_row(struct ds_ctx *x, struct json_writer *w, const struct ds_row *r,
                              const struct ds_row *counts)
{
    char buf[CTL_TEXT_SHORT];

    json_begin_object(w);
    json_member_string(w, "name", counts->note.name);
    json_member_string(w, "kind", store_dataset_kind_name(ds_kind(r)));
    json_member_uint(w, "entries", counts->entries);
    json_member_uint(w, "listed", counts->listed);
    json_member_uint(w, "excluded", counts->excluded);
    json_key(w, "addresses");
    json_begin_object(w);
    json_member_uint(w, "ipv4", counts->ipv4);
    json_member_uint(w, "ipv6_64s", counts->ipv6_64s);
    json_member_uint(w, "ipv6_prefixes", counts->ipv6_prefixes);
    json_end_object(w);
    json_member_string(w, "format", counts->note.format[0] ? counts->note.format : NULL);
    json_key(w, "files");
    json_begin_array(w);
    for (const char *p = counts->note.files; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char file[DATASET_FILES_MAX];
        memcpy(file, p, len);
        file[len] = '\0';
        json_string(w, file);
        p += len + (nl ? 1 : 0);
    }
    json_end_array(w);
    json_member_string(w, "last_import", ctl_format_time_opt(counts->note.last_import, buf));
    json_member_string(w, "last_sync", ctl_format_time_opt(counts->note.last_sync, buf));
    json_key(w, "zones");
    if (x->have_cfg) {
        json_begin_array(w);
        for (size_t i = 0; i < x->cfg.nzones; i++)
            if (ds_zone_feeds(x, i, r))
                json_string(w, x->cfg.zones[i].name);
        json_end_array(w);
    } else {
        json_null(w);
    }
    json_end_object(w);
}

static void ds_print_text_row(struct ds_ctx *x, const struct ds_row *r, const struct ds_row *counts)
{
    char imp[CTL_TEXT_SHORT], sync[CTL_TEXT_SHORT];
    const char *ti = ctl_format_time_opt(counts->note.last_import, imp);
    const char *ts = ctl_format_time_opt(counts->note.last_sync, sync);

    printf("%-16s %-8s %9llu %9llu %9llu %12llu %12llu %-20s %-20s %-16s", counts->note.name,
           store_dataset_kind_name(ds_kind(r)), (unsigned long long)counts->entries,
           (unsigned long long)counts->listed, (unsigned long long)counts->excluded,
           (unsigned long long)counts->ipv4, (unsigned long long)counts->ipv6_64s, ti ? ti : "-",
           ts ? ts : "-", counts->note.format[0] ? counts->note.format : "-");
    if (x->have_cfg) {
        bool any = false;
        putchar(' ');
        for (size_t i = 0; i < x->cfg.nzones; i++) {
            if (!ds_zone_feeds(x, i, r))
                continue;
            printf("%s%s", any ? "," : "", x->cfg.zones[i].name);
            any = true;
        }
        if (!any)
            putchar('-');
    }
    putchar(' ');
    if (!counts->note.files[0])
        putchar('-');
    for (const char *p = counts->note.files; *p; p++)
        putchar(*p == '\n' ? ',' : ((unsigned char)*p < 0x20 ? '?' : *p));
    putchar('\n');
}

static void ds_print(struct ds_ctx *x)
{
    bool oper = x->oper.entries > 0;

    if (x->a.json) {
        struct json_writer w;
        json_init(&w, stdout);
        json_begin_array(&w);
        for (size_t i = 0; i < x->n; i++)
            ds_print_json_row(x, &w, &x->rows[i], &x->rows[i]);
        if (oper)
            ds_print_json_row(x, &w, NULL, &x->oper);
        json_end_array(&w);
        json_finish(&w);
        return;
    }
    printf("%-16s %-8s %9s %9s %9s %12s %12s %-20s %-20s %-16s%s %s\n", "NAME", "KIND", "ENTRIES",
           "LISTED", "EXCLUDED", "IPV4", "IPV6/64", "LAST-IMPORT", "LAST-SYNC", "FORMAT",
           x->have_cfg ? " ZONES" : "", "FILES");
    for (size_t i = 0; i < x->n; i++)
        ds_print_text_row(x, &x->rows[i], &x->rows[i]);
    if (oper)
        ds_print_text_row(x, NULL, &x->oper);
}

int ctl_cmd_datasets(struct ctl_ctx *ctx, int argc, char **argv)
{
    struct ds_ctx *x = calloc(1, sizeof *x);
    struct store *s = NULL;
    int rc;

    if (!x) {
        ctl_error("datasets: %s", dnsbl_strerror(DNSBL_ENOMEM));
        return CTL_EXIT_FAIL;
    }
    snprintf(x->oper.note.name, sizeof x->oper.note.name, "operator");
    x->oper.note.kind = DATASET_OPERATOR;
    rc = ds_parse_args(ctx, argc, argv, &x->a);
    if (rc != CTL_EXIT_OK || x->a.done)
        goto out;
    if (x->a.zone_config && (rc = ds_load_config(x)) != CTL_EXIT_OK)
        goto out;
    rc = ctl_store_open_existing(ctx, STORE_RDONLY, &s);
    if (rc != CTL_EXIT_OK)
        goto out;
    if (s) {
        int err = store_datasets_foreach(s, ds_collect_note, x);
        if (err != 0) {
            ctl_error("reading the datasets: %s", dnsbl_strerror(x->err    ? x->err
                                                                 : err < 0 ? err
                                                                           : DNSBL_ESTORE));
            rc = CTL_EXIT_FAIL;
            goto out;
        }
    }
    /* One walk over every entry: parts, sources and operator state. */
    rc = ctl_store_foreach(s, ds_count_entry, x, &x->err);
    if (rc != CTL_EXIT_OK)
        goto out;
    ds_print(x);
    rc = ctl_finish_output(CTL_EXIT_OK);
out:
    if (s)
        store_close(s);
    if (x->have_cfg)
        config_free(&x->cfg);
    free(x->rows);
    free(x);
    return rc;
}
