/* ctl_store: how dnsblctl opens the store, asks it about one address or
 * prefix under a zone's policy, and finds that policy. Each failure
 * prints one message naming the step and the store's reason, and becomes
 * exit 1. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "ctl.h"
#include "err.h"

static int ctl_store_require_db(const struct ctl_ctx *ctx)
{
    if (ctx->db)
        return CTL_EXIT_OK;
    return ctl_usage_error(ctx, "no store given: use --db DIR or set DNSBL_DB");
}

/* 0 when dir is a directory this process may list and enter, else why
 * not as an errno (ENOENT: nothing there). A store in a directory we may
 * not enter must not read as no store. */
static int ctl_store_dir_error(const char *dir)
{
    struct stat st;

    if (stat(dir, &st) != 0)
        return errno;
    if (!S_ISDIR(st.st_mode))
        return ENOTDIR;
    if (access(dir, R_OK | X_OK) != 0)
        return errno;
    return 0;
}

static int ctl_store_open(const struct ctl_ctx *ctx, int flags, struct store **out)
{
    char why[512] = "";
    int rc = store_open_opts(ctx->db, flags, &ctx->store_opt, out, why, sizeof why);

    if (rc != DNSBL_OK) {
        *out = NULL;
        ctl_error("%s", why[0] ? why : dnsbl_strerror(rc));
        return CTL_EXIT_FAIL;
    }
    return CTL_EXIT_OK;
}

/* Creates the store in ctx->db and leaves it open in *out. */
static int ctl_store_make(const struct ctl_ctx *ctx, uid_t uid, gid_t gid, struct store **out)
{
    char why[512] = "";
    int err = ctl_store_dir_error(ctx->db);
    bool made_dir = err == ENOENT;

    if (err != 0 && err != ENOENT) {
        ctl_error("store directory %s: %s", ctx->db, strerror(err));
        return CTL_EXIT_FAIL;
    }
    if (!store_dir_unused(ctx->db)) {
        ctl_error("%s holds files but no store: give a new or empty directory", ctx->db);
        return CTL_EXIT_FAIL;
    }
    int rc = ctl_store_open(ctx, STORE_CREATE, out);
    if (rc != CTL_EXIT_OK)
        return rc;
    /* Modes that do not depend on the umask, and the owner the service
     * runs as: a store root made must still be readable by dnsbld. A
     * directory that existed keeps its mode. */
    if (store_set_access(ctx->db, made_dir, uid, gid, why, sizeof why) != DNSBL_OK) {
        ctl_error("created the store in %s, but %s", ctx->db, why);
        store_close(*out);
        *out = NULL;
        return CTL_EXIT_FAIL;
    }
    return CTL_EXIT_OK;
}

int ctl_store_create(const struct ctl_ctx *ctx, uid_t uid, gid_t gid)
{
    struct store *s;
    int rc = ctl_store_require_db(ctx);

    if (rc != CTL_EXIT_OK)
        return rc;
    if (store_exists(ctx->db)) {
        ctl_error("%s holds a store already: nothing done", ctx->db);
        return CTL_EXIT_FAIL;
    }
    rc = ctl_store_make(ctx, uid, gid, &s);
    if (rc == CTL_EXIT_OK)
        store_close(s);
    return rc;
}

/* A mistyped --db must not become a new, empty store that reports
 * success: creating one is asked for (dnsblctl init, or --create). */
int ctl_store_open_write(const struct ctl_ctx *ctx, struct store **out)
{
    int rc = ctl_store_require_db(ctx);

    *out = NULL;
    if (rc != CTL_EXIT_OK)
        return rc;
    if (store_exists(ctx->db))
        return ctl_store_open(ctx, 0, out);
    /* Only a store that is not there at all is init's to make: a file in
     * the way (ENOTDIR) or a directory we may not read is said as such. */
    int err = ctl_store_dir_error(ctx->db);
    if (err != 0 && err != ENOENT) {
        ctl_error("store directory %s: %s", ctx->db, strerror(err));
        return CTL_EXIT_FAIL;
    }
    if (!ctx->create) {
        ctl_error("store %s does not exist: create it with dnsblctl init %s (or pass --create)",
                  ctx->db, ctx->db);
        return CTL_EXIT_FAIL;
    }
    return ctl_store_make(ctx, (uid_t)-1, (gid_t)-1, out);
}

int ctl_store_sync(struct store *s)
{
    char why[512] = "";
    /* The writes are committed whatever happens here: a flat index that
     * could not be rebuilt leaves lookups right but slower, so it is a
     * warning. */
    if (store_flat_refresh(s, false, NULL, why, sizeof why) != DNSBL_OK)
        ctl_error("warning: %s; answers stay right, run dnsblctl reindex to speed lookups up again",
                  why[0] ? why : "the flat index was not rebuilt");
    why[0] = '\0';
    int rc = store_sync(s, why, sizeof why);
    if (rc != DNSBL_OK) {
        ctl_error("%s", why[0] ? why : dnsbl_strerror(rc));
        return CTL_EXIT_FAIL;
    }
    return CTL_EXIT_OK;
}

int ctl_store_require_dir(const struct ctl_ctx *ctx)
{
    int rc = ctl_store_require_db(ctx);

    if (rc != CTL_EXIT_OK)
        return rc;
    int err = ctl_store_dir_error(ctx->db);
    if (err != 0) {
        ctl_error("store directory %s: %s", ctx->db, strerror(err));
        return CTL_EXIT_FAIL;
    }
    return CTL_EXIT_OK;
}

int ctl_store_open_existing(const struct ctl_ctx *ctx, int flags, struct store **out)
{
    int rc = ctl_store_require_dir(ctx);

    *out = NULL;
    if (rc != CTL_EXIT_OK)
        return rc;
    /* No store yet: the caller treats it as empty; only dnsblctl init or
     * a write with --create makes one. */
    if (!store_exists(ctx->db))
        return CTL_EXIT_OK;
    return ctl_store_open(ctx, flags, out);
}

int ctl_store_foreach(struct store *s, int (*cb)(const struct entry *e, void *arg), void *arg,
                      const int *cb_err)
{
    int rc = s ? store_foreach(s, cb, arg) : DNSBL_OK;

    if (cb_err && *cb_err)
        rc = *cb_err;
    if (rc != DNSBL_OK) {
        ctl_error("reading the entries: %s", dnsbl_strerror(rc));
        return CTL_EXIT_FAIL;
    }
    return CTL_EXIT_OK;
}

struct ctl_lookup {
    struct store_reader *reader; /* NULL: no store, every lookup is empty */
    struct entry covering[STORE_COVERING_MAX];
    struct history_day days[STORE_HISTORY_MAX];
};

int ctl_lookup_open(struct store *s, struct ctl_lookup **out)
{
    struct ctl_lookup *l = calloc(1, sizeof *l);
    int rc;

    *out = NULL;
    if (!l) {
        ctl_error("reading the store: %s", dnsbl_strerror(DNSBL_ENOMEM));
        return CTL_EXIT_FAIL;
    }
    if (s) {
        rc = store_reader_open(s, &l->reader);
        if (rc != DNSBL_OK) {
            ctl_error("opening a store reader: %s", dnsbl_strerror(rc));
            free(l);
            return CTL_EXIT_FAIL;
        }
    }
    *out = l;
    return CTL_EXIT_OK;
}

void ctl_lookup_close(struct ctl_lookup *l)
{
    if (!l)
        return;
    if (l->reader)
        store_reader_close(l->reader);
    free(l);
}

int ctl_lookup_decide(struct ctl_lookup *l, const struct addr_prefix *p,
                      const struct zone_policy *zp, int64_t now, struct verdict *v)
{
    const struct verdict_scratch sc = {.covering = l->covering,
                                       .covering_cap = STORE_COVERING_MAX,
                                       .history = l->days,
                                       .history_cap = STORE_HISTORY_MAX};
    const struct verdict_query q = {.addr = p,
                                    .now = now,
                                    .flags = VERDICT_TEXTS | VERDICT_WHOLE_PREFIX,
                                    .trend_days = CTL_TREND_DAYS};

    if (l->reader) {
        int rc = store_reader_begin(l->reader);
        if (rc != DNSBL_OK) {
            ctl_error("%s", store_reader_why(l->reader));
            return CTL_EXIT_FAIL;
        }
    }
    int rc = verdict_decide(&sc, l->reader, zp, &q, v);
    if (l->reader)
        store_reader_end(l->reader);
    if (rc != DNSBL_OK) {
        ctl_error("reading the entries covering the address and their history: %s",
                  dnsbl_strerror(rc));
        return CTL_EXIT_FAIL;
    }
    return CTL_EXIT_OK;
}

static int ctl_oplog_line_cmp(const void *a, const void *b)
{
    const struct ctl_oplog_line *x = a, *y = b;
    if (x->rec.time != y->rec.time)
        return x->rec.time < y->rec.time ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* p's own records appended to (*lines)[*n..), through the scratch *recs
 * of *cap records (both grown as needed). */
static int ctl_oplog_read_one(struct store_reader *r, const struct addr_prefix *p,
                              struct oplog_rec **recs, size_t *cap, struct ctl_oplog_line **lines,
                              size_t *n)
{
    size_t total;
    int rc = store_reader_oplog(r, p, *recs, *cap, &total);
    if (rc == DNSBL_OK && total > *cap) {
        struct oplog_rec *grown = realloc(*recs, total * sizeof *grown);
        if (!grown)
            return DNSBL_ENOMEM;
        *recs = grown;
        *cap = total;
        rc = store_reader_oplog(r, p, *recs, *cap, &total);
    }
    if (rc != DNSBL_OK || total == 0)
        return rc;
    struct ctl_oplog_line *more = realloc(*lines, (*n + total) * sizeof *more);
    if (!more)
        return DNSBL_ENOMEM;
    *lines = more;
    for (size_t i = 0; i < total; i++) {
        more[*n].prefix = *p;
        more[*n].rec = (*recs)[i];
        more[*n].order = *n;
        (*n)++;
    }
    return DNSBL_OK;
}

int ctl_lookup_oplog(struct ctl_lookup *l, const struct addr_prefix *p, struct ctl_oplog_line **out,
                     size_t *n)
{
    struct oplog_rec *recs = NULL;
    size_t cap = 0;
    int rc = DNSBL_OK;

    *out = NULL;
    *n = 0;
    if (!l->reader)
        return CTL_EXIT_OK;
    rc = store_reader_begin(l->reader);
    if (rc != DNSBL_OK) {
        ctl_error("%s", store_reader_why(l->reader));
        return CTL_EXIT_FAIL;
    }
    /* By prefix, not by the covering entries: a removed entry's history
     * stays in the store, and show still tells it. Shortest first: the
     * order of one second's actions on different prefixes is not stored,
     * and a wide decision usually comes before its exceptions. */
    for (int len = 0; len <= p->plen && rc == DNSBL_OK; len++) {
        struct addr_prefix q = *p;
        q.plen = (uint8_t)len;
        addr_mask(&q);
        rc = ctl_oplog_read_one(l->reader, &q, &recs, &cap, out, n);
    }
    store_reader_end(l->reader);
    free(recs);
    if (rc != DNSBL_OK) {
        free(*out);
        *out = NULL;
        *n = 0;
        ctl_error("reading the operator history: %s", dnsbl_strerror(rc));
        return CTL_EXIT_FAIL;
    }
    if (*n > 1)
        qsort(*out, *n, sizeof **out, ctl_oplog_line_cmp);
    return CTL_EXIT_OK;
}

int ctl_zone_resolve(const struct ctl_ctx *ctx, const char *config, const char *name,
                     struct ctl_zone *out)
{
    memset(out, 0, sizeof *out);
    policy_defaults(&out->policy);
    if (name && strlen(name) >= sizeof out->name)
        return ctl_usage_error(ctx, "--zone '%s' is too long", name);
    if (name)
        snprintf(out->name, sizeof out->name, "%s", name);
    if (!config)
        return CTL_EXIT_OK;
    if (!name)
        return ctl_usage_error(ctx, "--zone-config needs --zone NAME to pick the zone");
    struct config c;
    char why[512] = "";
    config_init(&c);
    if (config_load_file(&c, config, why, sizeof why) != DNSBL_OK) {
        ctl_error("%s", why[0] ? why : config);
        return CTL_EXIT_FAIL;
    }
    size_t nlen = strlen(name);
    while (nlen > 1 && name[nlen - 1] == '.')
        nlen--;
    for (size_t i = 0; i < c.nzones; i++) {
        const struct zone_config *zc = &c.zones[i];
        if (strlen(zc->name) == nlen && strncasecmp(zc->name, name, nlen) == 0) {
            snprintf(out->name, sizeof out->name, "%s", zc->name);
            snprintf(out->file, sizeof out->file, "%s", zc->file);
            out->policy = zc->policy;
            config_free(&c);
            return CTL_EXIT_OK;
        }
    }
    config_free(&c);
    ctl_error("%s: no zone '%s' in the configuration", config, name);
    return CTL_EXIT_FAIL;
}

const char *ctl_operator_name(void)
{
    static char uid[CTL_TEXT_SHORT];
    /* Behind sudo, USER is root: SUDO_USER names the person. */
    const char *names[] = {"SUDO_USER", "USER", "LOGNAME"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = getenv(names[i]);
        if (v && *v)
            return v;
    }
    /* cron and systemd units may set none of them. */
    snprintf(uid, sizeof uid, "uid %lu", (unsigned long)getuid());
    return uid;
}

const char *ctl_operator(const struct ctl_ctx *ctx)
{
    return ctx->by ? ctx->by : ctl_operator_name();
}
