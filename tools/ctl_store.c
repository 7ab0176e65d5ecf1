/* ctl_store: how dnsblctl opens the store and asks it about one address
 * or prefix. Each failure prints one message naming the step and the
 * store's reason, and becomes exit 1. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "ctl.h"
#include "err.h"

static int ctl_store_require_db(const struct ctl_ctx *ctx)
{
    if (ctx->db)
        return CTL_EXIT_OK;
    return ctl_usage_error(ctx, "no store given: use --db DIR or set DNSBL_DB");
}

static int ctl_store_open(const struct ctl_ctx *ctx, int flags, struct store **out)
{
    char why[512] = "";
    int rc = store_open(ctx->db, flags, out, why, sizeof why);

    if (rc != DNSBL_OK) {
        *out = NULL;
        ctl_error("%s", why[0] ? why : dnsbl_strerror(rc));
        return CTL_EXIT_FAIL;
    }
    return CTL_EXIT_OK;
}

int ctl_store_open_write(const struct ctl_ctx *ctx, struct store **out)
{
    int rc = ctl_store_require_db(ctx);
    if (rc != CTL_EXIT_OK)
        return rc;
    return ctl_store_open(ctx, STORE_CREATE, out);
}

int ctl_store_open_existing(const struct ctl_ctx *ctx, int flags, struct store **out)
{
    struct stat st;
    int rc = ctl_store_require_db(ctx);

    *out = NULL;
    if (rc != CTL_EXIT_OK)
        return rc;
    if (stat(ctx->db, &st) != 0) {
        ctl_error("store directory %s: %s", ctx->db, strerror(errno));
        return CTL_EXIT_FAIL;
    }
    if (!S_ISDIR(st.st_mode)) {
        ctl_error("store directory %s: %s", ctx->db, strerror(ENOTDIR));
        return CTL_EXIT_FAIL;
    }
    /* Nothing written yet: the caller treats it as empty, and only a write
     * that adds something creates the store. */
    if (!store_exists(ctx->db))
        return CTL_EXIT_OK;
    return ctl_store_open(ctx, flags, out);
}

/* Keep only the entries that cover all of p, not just its first address. */
static size_t ctl_store_keep_covering(struct entry *covering, size_t n, const struct addr_prefix *p)
{
    size_t kept = 0;

    for (size_t i = 0; i < n; i++) {
        if (!addr_covers(&covering[i].prefix, p))
            continue;
        if (kept != i)
            covering[kept] = covering[i];
        kept++;
    }
    return kept;
}

int ctl_store_decide(const struct ctl_ctx *ctx, struct store *s, const struct addr_prefix *p,
                     struct ctl_verdict *v)
{
    struct zone_policy zp;
    struct store_reader *r = NULL;
    struct addr_prefix first = *p;
    int rc;

    v->n = 0;
    if (s) {
        rc = store_reader_open(s, &r);
        if (rc != DNSBL_OK) {
            ctl_error("opening a store reader: %s", dnsbl_strerror(rc));
            return CTL_EXIT_FAIL;
        }
        rc = store_reader_begin(r);
        if (rc != DNSBL_OK) {
            ctl_error("starting a store read: %s", dnsbl_strerror(rc));
            goto fail_close;
        }
        first.plen = first.family == ADDR_V4 ? 32 : 128;
        rc = store_reader_covering(r, &first, v->covering, STORE_COVERING_MAX, &v->n);
        store_reader_end(r);
        if (rc != DNSBL_OK) {
            ctl_error("looking up the entries covering the address: %s", dnsbl_strerror(rc));
            goto fail_close;
        }
        store_reader_close(r);
        v->n = ctl_store_keep_covering(v->covering, v->n, p);
    }
    policy_defaults(&zp);
    policy_decide(v->covering, v->n, &zp, ctx->now, &v->d);
    return CTL_EXIT_OK;

fail_close:
    store_reader_close(r);
    return CTL_EXIT_FAIL;
}
