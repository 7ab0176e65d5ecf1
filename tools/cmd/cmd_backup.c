/* cmd_backup: `dnsblctl backup DEST` and `dnsblctl restore SRC DIR`. The
 * copying, the refusals and the check of a restored copy are the store's
 * (store_backup, store_restore); this parses the operands and words the
 * outcome. */
#include <stdio.h>

#include "ctl.h"
#include "err.h"

int ctl_cmd_backup(struct ctl_ctx *ctx, int argc, char **argv)
{
    const char *dest = NULL;
    struct store *s = NULL;
    char why[PATH_MAX + 512] = "", path[PATH_MAX] = "";
    uint64_t serial = 0;

    bool done;
    int orc = ctl_getopt_common_only(ctx, argc, argv, &done);
    if (orc != CTL_EXIT_OK || done)
        return orc;
    int rc = ctl_args_take_one(ctx, argc, argv, "DEST (the backup directory)", &dest);
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = ctl_store_open_existing(ctx, STORE_RDONLY, &s);
    if (rc != CTL_EXIT_OK)
        return rc;
    if (!s) {
        ctl_error("%s: no store here yet: nothing to back up", ctx->db);
        return CTL_EXIT_FAIL;
    }
    int err = store_backup(s, dest, path, sizeof path, why, sizeof why);
    /* The serial read after the copy: the copy holds it or an older one. */
    bool have_serial = store_serial(s, &serial) == DNSBL_OK;
    store_close(s);
    if (err != DNSBL_OK) {
        ctl_error("backup: %s", why[0] ? why : dnsbl_strerror(err));
        return CTL_EXIT_FAIL;
    }
    if (have_serial)
        printf("%s: backup of %s (serial at most %llu)\n", path, ctx->db,
               (unsigned long long)serial);
    else
        printf("%s: backup of %s\n", path, ctx->db);
    return CTL_EXIT_OK;
}

static void ctl_restore_problem(void *arg, const char *what)
{
    (void)arg;
    fputs(CTL_PROG ": problem: ", stderr);
    ctl_print_text(stderr, what);
    fputc('\n', stderr);
}

int ctl_cmd_restore(struct ctl_ctx *ctx, int argc, char **argv)
{
    char why[2 * PATH_MAX + 512] = "";
    size_t nproblems = 0;

    bool done;
    int orc = ctl_getopt_common_only(ctx, argc, argv, &done);
    if (orc != CTL_EXIT_OK || done)
        return orc;
    if (argc - optind < 2)
        return ctl_usage_error(ctx, "missing SRC (a backup) or DIR (where to restore it)");
    if (argc - optind > 2)
        return ctl_usage_error(ctx, "unexpected argument '%s'", argv[optind + 2]);
    const char *src = argv[optind], *dir = argv[optind + 1];
    int err = store_restore(src, dir, ctl_restore_problem, NULL, &nproblems, why, sizeof why);
    if (err != DNSBL_OK) {
        ctl_error("restore: %s", why[0] ? why : dnsbl_strerror(err));
        return CTL_EXIT_FAIL;
    }
    printf("%s/data.mdb: restored from %s and checked: consistent\n", dir, src);
    return CTL_EXIT_OK;
}
