/* cmd_check: `dnsblctl check`, the integrity check of the store. The
 * walk itself is store_check (only the store module knows the layout);
 * this prints each problem it names and turns the count into the exit
 * status: 0 consistent, 1 problems found or the store unreadable, 2
 * misuse. A store the program cannot open for its schema (another
 * version, not a dnsbl store) is a problem found, not an error. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "err.h"
#include "json.h"

struct ctl_check_out {
    bool json;
    struct json_writer w;
};

static void ctl_check_problem(void *arg, const char *what)
{
    struct ctl_check_out *o = arg;
    if (o->json) {
        json_string(&o->w, what);
    } else {
        fputs("problem: ", stdout);
        ctl_print_text(stdout, what);
        putchar('\n');
    }
}

/* The report's head: db, and whether there is a store at all. */
static void ctl_check_begin(struct ctl_check_out *o, const char *db, bool exists)
{
    if (!o->json)
        return;
    json_init(&o->w, stdout);
    json_begin_object(&o->w);
    json_member_string(&o->w, "db", db);
    json_member_bool(&o->w, "exists", exists);
    json_key(&o->w, "problems");
    json_begin_array(&o->w);
}

static void ctl_check_end(struct ctl_check_out *o, const char *db, size_t nproblems,
                          const uint64_t *serial, const size_t *entries)
{
    if (o->json) {
        json_end_array(&o->w);
        json_member_bool(&o->w, "consistent", nproblems == 0);
        json_key(&o->w, "serial");
        if (serial)
            json_uint(&o->w, *serial);
        else
            json_null(&o->w);
        json_key(&o->w, "entries");
        if (entries)
            json_uint(&o->w, *entries);
        else
            json_null(&o->w);
        json_end_object(&o->w);
        json_finish(&o->w);
        return;
    }
    if (!serial && !entries && nproblems == 0) {
        printf("%s: no store here yet: nothing to check\n", db);
        return;
    }
    printf("%s: ", db);
    if (nproblems)
        printf("%zu problem%s found", nproblems, nproblems == 1 ? "" : "s");
    else
        printf("consistent");
    if (entries)
        printf(", %zu entries", *entries);
    if (serial)
        printf(", serial %llu", (unsigned long long)*serial);
    putchar('\n');
}

int ctl_cmd_check(struct ctl_ctx *ctx, int argc, char **argv)
{
    struct ctl_check_out o = {0};
    bool done = false;
    int rc = ctl_getopt_json_only(ctx, argc, argv, &o.json, &done);
    if (rc != CTL_EXIT_OK || done)
        return rc;
    rc = ctl_store_require_dir(ctx);
    if (rc != CTL_EXIT_OK)
        return rc;

    struct store *s = NULL;
    char why[512] = "";
    int err = store_exists(ctx->db) ? store_open(ctx->db, STORE_RDONLY, &s, why, sizeof why)
                                    : DNSBL_ENOENT;
    if (err == DNSBL_ENOENT) {
        /* An empty directory, or a creation killed before it committed:
         * the next writer starts from nothing, which is consistent. */
        ctl_check_begin(&o, ctx->db, false);
        ctl_check_end(&o, ctx->db, 0, NULL, NULL);
        return CTL_EXIT_OK;
    }
    if (err == DNSBL_ESCHEMA) {
        ctl_check_begin(&o, ctx->db, true);
        ctl_check_problem(&o, why[0] ? why : dnsbl_strerror(err));
        ctl_check_end(&o, ctx->db, 1, NULL, NULL);
        return CTL_EXIT_FAIL;
    }
    if (err != DNSBL_OK) {
        ctl_error("%s", why[0] ? why : dnsbl_strerror(err));
        return CTL_EXIT_FAIL;
    }

    size_t nproblems = 0, entries = 0;
    uint64_t serial = 0;
    ctl_check_begin(&o, ctx->db, true);
    err = store_check(s, ctl_check_problem, &o, &nproblems);
    if (err != DNSBL_OK) {
        store_close(s);
        ctl_error("checking %s: %s", ctx->db, dnsbl_strerror(err));
        return CTL_EXIT_FAIL;
    }
    bool have_serial = store_serial(s, &serial) == DNSBL_OK;
    bool have_entries = store_count(s, &entries) == DNSBL_OK;
    store_close(s);
    ctl_check_end(&o, ctx->db, nproblems, have_serial ? &serial : NULL,
                  have_entries ? &entries : NULL);
    return nproblems ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}
