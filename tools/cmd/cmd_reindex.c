/* cmd_reindex: `dnsblctl reindex`, a rebuild of the store's flat index on
 * demand. The work is store_flat_refresh; this reports what it built:
 * exit 0 rebuilt, 1 the store could not be opened or written, 2 misuse. */
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "ctl.h"
#include "err.h"
#include "json.h"

static double ctl_reindex_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void ctl_reindex_print(const char *db, const struct store_flat_stats *st, double secs,
                              bool json)
{
    if (!json) {
        printf("%s: flat index rebuilt: %zu entries, %zu distinct values, %zu bytes, "
               "%llu changes folded in, seconds %.2f\n",
               db, st->entries, st->values, st->bytes, (unsigned long long)st->changes, secs);
        return;
    }
    struct json_writer w;
    json_init(&w, stdout);
    json_begin_object(&w);
    json_member_string(&w, "db", db);
    json_member_uint(&w, "entries", st->entries);
    json_member_uint(&w, "values", st->values);
    json_member_uint(&w, "bytes", st->bytes);
    json_member_uint(&w, "changes", st->changes);
    json_member_double(&w, "seconds", secs);
    json_end_object(&w);
    json_finish(&w);
}

int ctl_cmd_reindex(struct ctl_ctx *ctx, int argc, char **argv)
{
    bool json = false, done = false;
    int rc = ctl_getopt_json_only(ctx, argc, argv, &json, &done);
    if (rc != CTL_EXIT_OK || done)
        return rc;

    struct store *s;
    rc = ctl_store_open_write(ctx, &s);
    if (rc != CTL_EXIT_OK)
        return rc;
    struct store_flat_stats st;
    char why[512] = "";
    double t0 = ctl_reindex_now();
    int err = store_flat_refresh(s, true, &st, why, sizeof why);
    double secs = ctl_reindex_now() - t0;
    if (err != DNSBL_OK) {
        ctl_error("%s", why[0] ? why : dnsbl_strerror(err));
        rc = CTL_EXIT_FAIL;
    } else {
        ctl_reindex_print(ctx->db, &st, secs, json);
    }
    why[0] = '\0';
    if (store_sync(s, why, sizeof why) != DNSBL_OK) {
        ctl_error("%s", why[0] ? why : "sync failed");
        rc = CTL_EXIT_FAIL;
    }
    store_close(s);
    return rc;
}
