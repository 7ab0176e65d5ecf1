/* cmd_init: `dnsblctl init [DIR] [--owner USER[:GROUP]]`, the one explicit
 * way to make a new store (besides --create on a write). It owns parsing
 * --owner; the store is made by ctl_store_create. Exit 0 made, 1 refused
 * (a store or other files are there already) or failed, 2 misuse. */
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ctl.h"
#include "err.h"

/* A user or group: a name, else a number. */
static bool ctl_init_id(const char *text, bool group, unsigned long *id, gid_t *primary)
{
    if (group) {
        const struct group *gr = getgrnam(text);
        if (gr) {
            *id = gr->gr_gid;
            return true;
        }
    } else {
        const struct passwd *pw = getpwnam(text);
        if (pw) {
            *id = pw->pw_uid;
            *primary = pw->pw_gid;
            return true;
        }
    }
    char *end;
    if (*text < '0' || *text > '9')
        return false;
    *id = strtoul(text, &end, 10);
    return *end == '\0' && *id < (unsigned long)(uid_t)-1;
}

/* USER[:GROUP]: the group defaults to the user's primary group (or the
 * number itself for a numeric user no account names). */
static int ctl_init_parse_owner(const struct ctl_ctx *ctx, const char *text, uid_t *uid, gid_t *gid)
{
    char user[256];
    const char *colon = strchr(text, ':');
    size_t ulen = colon ? (size_t)(colon - text) : strlen(text);
    unsigned long u, g;
    gid_t primary = (gid_t)-1;

    if (ulen == 0 || ulen >= sizeof user)
        return ctl_usage_error(ctx, "--owner '%s': give USER or USER:GROUP", text);
    memcpy(user, text, ulen);
    user[ulen] = '\0';
    if (!ctl_init_id(user, false, &u, &primary))
        return ctl_usage_error(ctx, "--owner '%s': no user '%s'", text, user);
    if (!getpwnam(user))
        primary = (gid_t)u;
    if (colon && !colon[1])
        return ctl_usage_error(ctx, "--owner '%s': the group after ':' is missing", text);
    if (colon && !ctl_init_id(colon + 1, true, &g, &primary))
        return ctl_usage_error(ctx, "--owner '%s': no group '%s'", text, colon + 1);
    *uid = (uid_t)u;
    *gid = colon ? (gid_t)g : primary;
    return CTL_EXIT_OK;
}

int ctl_cmd_init(struct ctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        CTL_OPTIONS_COMMON,
        {"owner", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0},
    };
    uid_t uid = (uid_t)-1;
    gid_t gid = (gid_t)-1;
    const char *owner = NULL;
    int rc;

    for (;;) {
        int c = ctl_getopt(ctx, argc, argv, CTL_SHORTOPTS_COMMON "o:", opts);
        if (c == CTL_GETOPT_END)
            break;
        if (c == CTL_GETOPT_HELP)
            return CTL_EXIT_OK;
        if (c == CTL_GETOPT_BAD)
            return CTL_EXIT_USAGE;
        owner = optarg; /* 'o', the only option of its own */
    }
    if (argc - optind > 1)
        return ctl_usage_error(ctx, "unexpected argument '%s'", argv[optind + 1]);
    if (optind < argc)
        ctx->db = argv[optind];
    if (owner) {
        rc = ctl_init_parse_owner(ctx, owner, &uid, &gid);
        if (rc != CTL_EXIT_OK)
            return rc;
    }
    rc = ctl_store_create(ctx, uid, gid);
    if (rc != CTL_EXIT_OK)
        return rc;
    struct stat st;
    if (stat(ctx->db, &st) != 0) {
        ctl_error("store directory %s: gone after creating it", ctx->db);
        return CTL_EXIT_FAIL;
    }
    const struct passwd *pw = getpwuid(st.st_uid);
    const struct group *gr = getgrgid(st.st_gid);
    char un[32], gn[32];
    snprintf(un, sizeof un, "%u", (unsigned)st.st_uid);
    snprintf(gn, sizeof gn, "%u", (unsigned)st.st_gid);
    printf("created an empty store in %s (owner %s:%s; data.mdb 0640, lock.mdb 0660)\n", ctx->db,
           pw ? pw->pw_name : un, gr ? gr->gr_name : gn);
    return CTL_EXIT_OK;
}
