/* cmd_publish: `dnsblctl publish`, and the publish every write command
 * does at its end. Each zone of dnsbld's config gets its answer set made
 * now (zonerr.h) and stored as its published view (store_pub.h), which
 * zone transfers serve: the serial moves only when the set changed. What a
 * zone answers changes with time too (scores decay), so a timer runs this
 * (contrib/dnsblctl-publish.timer). The store remembers the config of the
 * last `publish --config`; write commands publish with it again. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <ldns/ldns.h>

#include "config.h"
#include "ctl.h"
#include "err.h"
#include "store_pub.h"
#include "zonerr.h"

struct publish_args {
    const char *config, *zone;
    bool show;         /* --show: print the published view, publish nothing */
    const char *since; /* --since SERIAL: the changes IXFR would send */
    bool done;
};

static int publish_parse_args(struct ctl_ctx *ctx, int argc, char **argv, struct publish_args *a)
{
    static const struct option opts[] = {
        CTL_OPTIONS_COMMON,
        {"config", required_argument, NULL, 'c'},
        {"zone", required_argument, NULL, 'z'},
        {"show", no_argument, NULL, 's'},
        {"since", required_argument, NULL, 'S'},
        {NULL, 0, NULL, 0},
    };

    for (;;) {
        int c = ctl_getopt(ctx, argc, argv, CTL_SHORTOPTS_COMMON "c:z:sS:", opts);
        switch (c) {
        case CTL_GETOPT_END:
            if (a->show && !a->zone)
                return ctl_usage_error(ctx, "--show needs --zone NAME");
            if (a->since && !a->show)
                return ctl_usage_error(ctx, "--since is for --show");
            return ctl_args_none(ctx, argc, argv);
        case CTL_GETOPT_HELP:
            a->done = true;
            return CTL_EXIT_OK;
        case 'c':
            a->config = optarg;
            break;
        case 'z':
            a->zone = optarg;
            break;
        case 's':
            a->show = true;
            break;
        case 'S':
            a->since = optarg;
            break;
        default:
            return CTL_EXIT_USAGE;
        }
    }
}

static int publish_add_rr(const struct zonerr_rr *rr, void *arg)
{
    return store_pub_set_add(arg, rr->owner, rr->owner_len, rr->type, rr->ttl, rr->rdata,
                             rr->rdlen);
}

/* The zone's name as zonerr writes it: lower case, no trailing dot. */
static void publish_zone_name(const char *name, char *out, size_t cap)
{
    size_t len = strlen(name);
    while (len > 1 && name[len - 1] == '.')
        len--;
    if (len >= cap)
        len = cap - 1;
    for (size_t i = 0; i < len; i++)
        out[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
    out[len] = '\0';
}

static double publish_seconds(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* One zone: its set made and published; a line on out when out is not NULL. */
static int publish_zone(const struct ctl_ctx *ctx, struct store *s, const struct zone_config *zc,
                        FILE *out, char *why, size_t whylen)
{
    char name[ZONE_NAME_MAX];
    struct store_pub_set *set = NULL;
    struct store_pub_result res;
    struct timespec t0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    publish_zone_name(zc->name, name, sizeof name);
    /* Read before the entries are: the set is at least this new. */
    uint64_t data_serial = 0;
    int rc = store_serial(s, &data_serial);
    if (rc == DNSBL_OK)
        rc = store_pub_set_new(name, &set);
    if (rc == DNSBL_OK)
        rc = zonerr_generate(s, &zc->policy, name, ctx->now, publish_add_rr, set);
    if (rc != DNSBL_OK) {
        snprintf(why, whylen, "zone %s: making its records: %s", name, dnsbl_strerror(rc));
        store_pub_set_free(set);
        return rc;
    }
    rc = store_publish(s, set, ctx->now, zc->journal_max, data_serial, &res, why, whylen);
    store_pub_set_free(set);
    if (rc != DNSBL_OK)
        return rc;
    if (!out)
        return DNSBL_OK;
    fprintf(out, "%s: serial %u", name, res.state.serial);
    if (res.stale)
        fprintf(out, " (unchanged: a publish of newer data ran meanwhile)");
    else if (res.first)
        fprintf(out, " (first publish)");
    else if (res.changed)
        fprintf(out, " (changed, was %u)", res.old_serial);
    else
        fprintf(out, " (unchanged)");
    fprintf(out,
            ", names added %llu, removed %llu, changed %llu; %llu names, %llu records; "
            "%.3f s\n",
            (unsigned long long)res.names_added, (unsigned long long)res.names_removed,
            (unsigned long long)res.names_changed, (unsigned long long)res.state.names,
            (unsigned long long)res.state.records, publish_seconds(&t0));
    return DNSBL_OK;
}

/* Every zone of c (or the one named), through s. */
static int publish_zones(const struct ctl_ctx *ctx, struct store *s, const struct config *c,
                         const char *only, FILE *out, bool warn)
{
    char why[1024];
    size_t done = 0;
    int rc = CTL_EXIT_OK;

    for (size_t i = 0; i < c->nzones; i++) {
        const struct zone_config *zc = &c->zones[i];
        char a[ZONE_NAME_MAX], b[ZONE_NAME_MAX];
        if (only) {
            publish_zone_name(zc->name, a, sizeof a);
            publish_zone_name(only, b, sizeof b);
            if (strcmp(a, b) != 0)
                continue;
        }
        done++;
        why[0] = '\0';
        int err = publish_zone(ctx, s, zc, out, why, sizeof why);
        if (err != DNSBL_OK) {
            if (warn)
                fprintf(stderr, CTL_PROG ": warning: publishing: %s\n",
                        why[0] ? why : dnsbl_strerror(err));
            else
                ctl_error("publishing: %s", why[0] ? why : dnsbl_strerror(err));
            rc = CTL_EXIT_FAIL;
        }
    }
    if (only && done == 0) {
        ctl_error("%s: no zone '%s' in the configuration", c->path, only);
        return CTL_EXIT_FAIL;
    }
    return rc;
}

/* One published record in master-file form, through ldns (it quotes the
 * text), after prefix ("" or "-"/"+" for IXFR). */
static int publish_print_rr(const struct store_pub_rr *r, const char *prefix)
{
    uint8_t wire[2 * 256 + 10 + UINT16_MAX];
    size_t pos = r->owner_len, at = 0;
    ldns_rr *rr = NULL;

    memcpy(wire, r->owner, r->owner_len);
    const uint8_t fixed[10] = {
        (uint8_t)(r->type >> 8), (uint8_t)r->type,        0,
        LDNS_RR_CLASS_IN,        (uint8_t)(r->ttl >> 24), (uint8_t)(r->ttl >> 16),
        (uint8_t)(r->ttl >> 8),  (uint8_t)r->ttl,         (uint8_t)(r->rdlen >> 8),
        (uint8_t)r->rdlen};
    memcpy(wire + pos, fixed, sizeof fixed);
    pos += sizeof fixed;
    memcpy(wire + pos, r->rdata, r->rdlen);
    pos += r->rdlen;
    if (ldns_wire2rr(&rr, wire, pos, &at, LDNS_SECTION_ANSWER) != LDNS_STATUS_OK)
        return DNSBL_ESCHEMA;
    fputs(prefix, stdout);
    ldns_rr_print(stdout, rr);
    ldns_rr_free(rr);
    return DNSBL_OK;
}

/* --show [--since SERIAL]: the zone's published view as AXFR (or IXFR
 * from SERIAL) would carry it, without the apex the server adds. */
static int publish_show(const struct ctl_ctx *ctx, const struct publish_args *a)
{
    struct store *s = NULL;
    struct store_reader *r = NULL;
    struct store_pub_iter *it = NULL;
    struct store_pub_state st;
    struct store_pub_rr rr;
    char when[CTL_TEXT_SHORT];
    unsigned long since = 0;
    int rc = ctl_store_open_existing(ctx, STORE_RDONLY, &s);

    if (rc != CTL_EXIT_OK)
        return rc;
    if (a->since) {
        char *end;
        errno = 0;
        since = strtoul(a->since, &end, 10);
        if (errno || *end || end == a->since || since > UINT32_MAX) {
            store_close(s);
            return ctl_usage_error(ctx, "--since '%s' is not a serial", a->since);
        }
    }
    int err = s ? store_reader_open(s, &r) : DNSBL_ENOENT;
    if (err == DNSBL_OK)
        err = store_reader_begin(r);
    if (err == DNSBL_OK)
        err = store_reader_pub_state(r, a->zone, &st);
    if (err == DNSBL_OK)
        err = a->since ? store_pub_ixfr_open(r, a->zone, (uint32_t)since, &it)
                       : store_pub_axfr_open(r, a->zone, &it);
    if (err == DNSBL_ENOENT) {
        ctl_error(a->since ? "zone %s: the journal does not reach back to serial %s"
                           : "zone %s: never published%s",
                  a->zone, a->since ? a->since : "");
        rc = CTL_EXIT_FAIL;
    } else if (err != DNSBL_OK) {
        ctl_error("zone %s: reading its published view: %s", a->zone, dnsbl_strerror(err));
        rc = CTL_EXIT_FAIL;
    } else {
        ctl_format_time(st.published, when);
        printf("; zone %s serial %u published %s names %llu records %llu oldest %u\n", a->zone,
               st.serial, when, (unsigned long long)st.names, (unsigned long long)st.records,
               st.oldest);
        while (err == DNSBL_OK && (err = store_pub_iter_next(it, &rr)) == 1) {
            err = DNSBL_OK;
            if (rr.kind == STORE_PUB_DEL_SOA)
                printf("; from serial %u\n", rr.serial);
            else if (rr.kind == STORE_PUB_ADD_SOA)
                printf("; to serial %u\n", rr.serial);
            else
                err = publish_print_rr(&rr, rr.kind == STORE_PUB_DEL   ? "- "
                                            : rr.kind == STORE_PUB_ADD ? "+ "
                                                                       : "");
        }
        if (err < 0) {
            ctl_error("zone %s: reading its published view: %s", a->zone, dnsbl_strerror(err));
            rc = CTL_EXIT_FAIL;
        }
    }
    store_pub_iter_free(it);
    if (r)
        store_reader_close(r);
    store_close(s);
    return rc;
}

int ctl_cmd_publish(struct ctl_ctx *ctx, int argc, char **argv)
{
    struct publish_args a = {0};
    struct config c;
    struct store *s = NULL;
    char remembered[PATH_MAX] = "", why[1024] = "";
    int rc = publish_parse_args(ctx, argc, argv, &a);

    if (rc != CTL_EXIT_OK || a.done)
        return rc;
    if (a.show)
        return publish_show(ctx, &a);
    config_init(&c);
    if (a.config) {
        if (config_load_file(&c, a.config, why, sizeof why) != DNSBL_OK) {
            ctl_error("%s", why[0] ? why : a.config);
            config_free(&c);
            return CTL_EXIT_FAIL;
        }
        /* --db wins over the config's db. */
        if (!ctx->db && c.db[0])
            ctx->db = c.db;
    }
    rc = ctl_store_open_write(ctx, &s);
    if (rc != CTL_EXIT_OK) {
        config_free(&c);
        return rc;
    }
    if (!a.config) {
        if (store_pub_config_get(s, remembered, sizeof remembered) != DNSBL_OK || !remembered[0]) {
            store_close(s);
            config_free(&c);
            return ctl_usage_error(ctx, "no --config given and the store remembers none");
        }
        if (config_load_file(&c, remembered, why, sizeof why) != DNSBL_OK) {
            ctl_error("%s", why[0] ? why : remembered);
            store_close(s);
            config_free(&c);
            return CTL_EXIT_FAIL;
        }
    }
    rc = publish_zones(ctx, s, &c, a.zone, stdout, false);
    /* Remembered by its full path: a later write may run elsewhere. */
    if (rc == CTL_EXIT_OK && a.config) {
        char full[PATH_MAX];
        if (!realpath(a.config, full))
            snprintf(full, sizeof full, "%s", a.config);
        if (store_pub_config_get(s, remembered, sizeof remembered) != DNSBL_OK ||
            strcmp(remembered, full) != 0) {
            if (store_pub_config_set(s, full, why, sizeof why) != DNSBL_OK) {
                ctl_error("remembering the config: %s", why);
                rc = CTL_EXIT_FAIL;
            }
        }
    }
    if (ctl_store_sync(s) != CTL_EXIT_OK)
        rc = CTL_EXIT_FAIL;
    store_close(s);
    config_free(&c);
    return rc;
}

void ctl_publish_remembered(struct ctl_ctx *ctx)
{
    char path[PATH_MAX] = "", why[1024] = "";
    struct store *s = NULL;
    struct config c;

    if (!ctx->db || !store_exists(ctx->db))
        return;
    if (store_open_opts(ctx->db, 0, &ctx->store_opt, &s, why, sizeof why) != DNSBL_OK) {
        fprintf(stderr, CTL_PROG ": warning: publishing: %s\n", why);
        return;
    }
    if (store_pub_config_get(s, path, sizeof path) != DNSBL_OK || !path[0]) {
        store_close(s);
        return;
    }
    config_init(&c);
    if (config_load_file(&c, path, why, sizeof why) != DNSBL_OK) {
        fprintf(stderr, CTL_PROG ": warning: not published: %s\n", why[0] ? why : path);
    } else {
        publish_zones(ctx, s, &c, NULL, NULL, true);
        store_sync(s, why, sizeof why);
    }
    config_free(&c);
    store_close(s);
}
