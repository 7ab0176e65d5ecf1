/* dnsbld: the daemon's process side -- options, startup, privileges,
 * signals, reload. All state lives in one struct daemon on main's stack;
 * net.c owns the workers, config.c the settings, zone.c the zone sets. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "config.h"
#include "err.h"
#include "log.h"
#include "net.h"
#include "notify.h"
#include "store.h"
#include "store_pub.h"
#include "timeutil.h"
#include "zone.h"

#ifndef DNSBL_VERSION
#define DNSBL_VERSION "0.1.0"
#endif

#define EXIT_USAGE 2
#define DAEMON_WHY 1024
#ifndef DAEMON_LIMITS_LOG_SECONDS
#define DAEMON_LIMITS_LOG_SECONDS 60 /* how often the RRL and TCP refusal counts are logged */
#endif
#define DAEMON_PUB_POLL_MS 500 /* how often the published serials are read (NOTIFY latency) */

struct options {
    const char *config_path; /* NULL = no config file */
    struct config cli;       /* what the command line set; see config_override */
    bool verbose;
    bool check; /* --check-config: check, print, exit */
};

struct daemon {
    struct options opt;
    struct config cfg; /* in force; listens, db, workers and TCP limits as started */
    struct store *store;
    struct net *net;
    struct event_base *base;
    struct event *ev_term, *ev_int, *ev_hup, *ev_reclaim, *ev_limits, *ev_pub;
    struct zoneset *zones;           /* in force (net owns it); for the serial timer */
    struct store_reader *pub_reader; /* the main thread's, for the published serials */
    struct notifier *notifier;
    uid_t uid; /* of cfg.user */
    gid_t gid;
    char root[PATH_MAX];        /* the chroot, resolved; "" = none */
    char config_path[PATH_MAX]; /* the config file, resolved, when chrooting */
};

static void daemon_usage(FILE *f)
{
    fputs("Usage: dnsbld --db DIR --zone NAME[=FILE] --listen ADDR:PORT [options]\n"
          "\n"
          "Serve DNS blocklist zones from the reputation store in DIR.\n"
          "\n"
          "  --db DIR             the store directory (an empty store is created if none)\n"
          "  --zone NAME[=FILE]   serve zone NAME; FILE (master format) holds its SOA and\n"
          "                       NS, else they are synthesised. Repeatable.\n"
          "  --listen ADDR:PORT   UDP and TCP on ADDR:PORT: 127.0.0.1:53, [::1]:53; port 0\n"
          "                       picks a free port (logged). Repeatable.\n"
          "  -c, --config FILE    read settings from FILE; the options here win, and\n"
          "                       --zone/--listen replace the file's lists\n"
          "  --workers N          worker threads (default: one per online CPU)\n"
          "  --rrl-rate N         rate-limit UDP answers to N a second per client prefix\n"
          "                       (default 0: off)\n"
          "  --rrl-slip N         every Nth limited answer goes out truncated, the others\n"
          "                       are dropped (default 2; 0 drops all, 1 truncates all)\n"
          "  --rrl-ipv4-prefix N  IPv4 clients in one /N share a rate (default 24)\n"
          "  --rrl-ipv6-prefix N  IPv6 clients in one /N share a rate (default 56)\n"
          "  --tcp-max-clients N  open TCP connections at most (default 256)\n"
          "  --tcp-max-per-client N  open TCP connections per client address (default 16)\n"
          "  --tcp-idle-timeout S close a TCP connection idle for S seconds (default 10)\n"
          "  --tcp-max-queries N  close a TCP connection after N queries (default 1000)\n"
          "  --user NAME          switch to user NAME once the sockets are bound\n"
          "  --chroot DIR         chroot to DIR once the sockets are bound\n"
          "  --refuse-root        refuse to run as root without --user\n"
          "  --log-queries        log every query: client, name, type, rcode\n"
          "  --verbose            log debug messages too\n"
          "  --now TIME           for testing: take TIME (unix seconds or RFC 3339) as the\n"
          "                       current time\n"
          "  --check-config[=FILE] load the config (FILE, else -c) and the zone files,\n"
          "                       open the store read-only, print what would be served\n"
          "                       and exit: 0, or 1 naming each problem (before SIGHUP)\n"
          "  -h, --help           this text\n"
          "  -V, --version        the version\n"
          "\n"
          "SIGHUP re-reads the config and zone files; SIGTERM or SIGINT stops.\n",
          f);
}

enum {
    OPT_DB = 256,
    OPT_ZONE,
    OPT_LISTEN,
    OPT_WORKERS,
    OPT_LOG_QUERIES,
    OPT_VERBOSE,
    OPT_RRL_RATE,
    OPT_RRL_SLIP,
    OPT_RRL_V4,
    OPT_RRL_V6,
    OPT_TCP_CLIENTS,
    OPT_TCP_PER_CLIENT,
    OPT_TCP_IDLE,
    OPT_TCP_QUERIES,
    OPT_USER,
    OPT_CHROOT,
    OPT_REFUSE_ROOT,
    OPT_NOW,
    OPT_CHECK_CONFIG,
};

/* The numeric options: where each goes in struct config and its range. */
static const struct {
    int opt;
    const char *name;
    unsigned lo, hi;
    size_t off;
    unsigned set; /* enum config_set bit */
} daemon_numbers[] = {
    {OPT_WORKERS, "workers", 1, CONFIG_WORKERS_MAX, offsetof(struct config, workers), 0},
    {OPT_RRL_RATE, "rrl-rate", 0, RRL_RATE_MAX, offsetof(struct config, rrl.rate),
     CONFIG_SET_RRL_RATE},
    {OPT_RRL_SLIP, "rrl-slip", 0, RRL_SLIP_MAX, offsetof(struct config, rrl.slip),
     CONFIG_SET_RRL_SLIP},
    {OPT_RRL_V4, "rrl-ipv4-prefix", 0, 32, offsetof(struct config, rrl.ipv4_prefix),
     CONFIG_SET_RRL_IPV4_PREFIX},
    {OPT_RRL_V6, "rrl-ipv6-prefix", 0, 128, offsetof(struct config, rrl.ipv6_prefix),
     CONFIG_SET_RRL_IPV6_PREFIX},
    {OPT_TCP_CLIENTS, "tcp-max-clients", 1, CONFIG_TCP_CLIENTS_MAX,
     offsetof(struct config, tcp_max_clients), CONFIG_SET_TCP_MAX_CLIENTS},
    {OPT_TCP_PER_CLIENT, "tcp-max-per-client", 1, CONFIG_TCP_CLIENTS_MAX,
     offsetof(struct config, tcp_max_per_client), CONFIG_SET_TCP_MAX_PER_CLIENT},
    {OPT_TCP_IDLE, "tcp-idle-timeout", 1, 86400, offsetof(struct config, tcp_idle_timeout),
     CONFIG_SET_TCP_IDLE_TIMEOUT},
    {OPT_TCP_QUERIES, "tcp-max-queries", 1, 1000000, offsetof(struct config, tcp_max_queries),
     CONFIG_SET_TCP_MAX_QUERIES},
};

/* Returns -1 when ch is no numeric option, else 0 or EXIT_USAGE. */
static int daemon_parse_number(struct options *o, int ch, const char *arg)
{
    for (size_t i = 0; i < sizeof daemon_numbers / sizeof daemon_numbers[0]; i++) {
        if (daemon_numbers[i].opt != ch)
            continue;
        char *end;
        errno = 0;
        unsigned long n = strtoul(arg, &end, 10);
        if (errno != 0 || end == arg || *end != '\0' || arg[0] == '-' || n < daemon_numbers[i].lo ||
            n > daemon_numbers[i].hi) {
            fprintf(stderr, "dnsbld: --%s '%s': give a number from %u to %u\n",
                    daemon_numbers[i].name, arg, daemon_numbers[i].lo, daemon_numbers[i].hi);
            return EXIT_USAGE;
        }
        unsigned v = (unsigned)n;
        memcpy((char *)&o->cli + daemon_numbers[i].off, &v, sizeof v);
        o->cli.set |= daemon_numbers[i].set;
        return 0;
    }
    return -1;
}

/* Fills o. Returns -1 to go on, or the exit code (0 after --help). */
static int daemon_parse_args(struct options *o, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"zone", required_argument, NULL, OPT_ZONE},
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"config", required_argument, NULL, 'c'},
        {"workers", required_argument, NULL, OPT_WORKERS},
        {"rrl-rate", required_argument, NULL, OPT_RRL_RATE},
        {"rrl-slip", required_argument, NULL, OPT_RRL_SLIP},
        {"rrl-ipv4-prefix", required_argument, NULL, OPT_RRL_V4},
        {"rrl-ipv6-prefix", required_argument, NULL, OPT_RRL_V6},
        {"tcp-max-clients", required_argument, NULL, OPT_TCP_CLIENTS},
        {"tcp-max-per-client", required_argument, NULL, OPT_TCP_PER_CLIENT},
        {"tcp-idle-timeout", required_argument, NULL, OPT_TCP_IDLE},
        {"tcp-max-queries", required_argument, NULL, OPT_TCP_QUERIES},
        {"user", required_argument, NULL, OPT_USER},
        {"chroot", required_argument, NULL, OPT_CHROOT},
        {"refuse-root", no_argument, NULL, OPT_REFUSE_ROOT},
        {"log-queries", no_argument, NULL, OPT_LOG_QUERIES},
        {"verbose", no_argument, NULL, OPT_VERBOSE},
        {"now", required_argument, NULL, OPT_NOW},
        {"check-config", optional_argument, NULL, OPT_CHECK_CONFIG},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    char why[512];
    int ch;
    opterr = 0; /* our messages name the argument and end in a hint */
    while ((ch = getopt_long(argc, argv, ":c:hV", longopts, NULL)) != -1) {
        int rc = daemon_parse_number(o, ch, optarg);
        if (rc >= 0) {
            if (rc != 0)
                return rc;
            continue;
        }
        switch (ch) {
        case OPT_DB:
            if (snprintf(o->cli.db, sizeof o->cli.db, "%s", optarg) >= (int)sizeof o->cli.db ||
                optarg[0] == '\0') {
                fprintf(stderr, "dnsbld: --db '%s': empty or too long a path\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_ZONE:
            if (config_add_zone(&o->cli, optarg, why, sizeof why) != DNSBL_OK) {
                fprintf(stderr, "dnsbld: --zone: %s\n", why);
                return EXIT_USAGE;
            }
            break;
        case OPT_LISTEN:
            if (config_add_listen(&o->cli, optarg, why, sizeof why) != DNSBL_OK) {
                fprintf(stderr, "dnsbld: --listen: %s\n", why);
                return EXIT_USAGE;
            }
            break;
        case 'c':
            o->config_path = optarg;
            break;
        case OPT_USER:
            if (optarg[0] == '\0' || snprintf(o->cli.user, sizeof o->cli.user, "%s", optarg) >=
                                         (int)sizeof o->cli.user) {
                fprintf(stderr, "dnsbld: --user '%s': empty or too long a name\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_CHROOT:
            if (optarg[0] == '\0' || snprintf(o->cli.chroot, sizeof o->cli.chroot, "%s", optarg) >=
                                         (int)sizeof o->cli.chroot) {
                fprintf(stderr, "dnsbld: --chroot '%s': empty or too long a path\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_REFUSE_ROOT:
            o->cli.refuse_root = true;
            break;
        case OPT_LOG_QUERIES:
            o->cli.log_queries = true;
            break;
        case OPT_VERBOSE:
            o->verbose = true;
            break;
        case OPT_CHECK_CONFIG:
            o->check = true;
            if (optarg)
                o->config_path = optarg;
            break;
        case OPT_NOW: {
            /* Before any worker starts: time_set_now is not locked. */
            int64_t now;
            if (time_parse_now(optarg, &now) != DNSBL_OK) {
                fprintf(stderr, "dnsbld: --now '%s': give unix seconds or an RFC 3339 time\n",
                        optarg);
                return EXIT_USAGE;
            }
            time_set_now(now);
            break;
        }
        case 'h':
            daemon_usage(stdout);
            return 0;
        case 'V':
            printf("dnsbld %s\n", DNSBL_VERSION);
            return 0;
        case ':':
            fprintf(stderr, "dnsbld: option '%s' needs an argument (see dnsbld --help)\n",
                    argv[optind - 1]);
            return EXIT_USAGE;
        default:
            fprintf(stderr, "dnsbld: unknown option '%s' (see dnsbld --help)\n", argv[optind - 1]);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "dnsbld: unexpected argument '%s' (see dnsbld --help)\n", argv[optind]);
        return EXIT_USAGE;
    }
    return -1;
}

/* The settings in force: config_init defaults, then the file, then the
 * command line. The same at startup and at every SIGHUP. */
static int daemon_build_config(const struct options *o, struct config *c, char *why, size_t whylen)
{
    config_init(c);
    int rc = DNSBL_OK;
    if (o->config_path != NULL)
        rc = config_load_file(c, o->config_path, why, whylen);
    if (rc == DNSBL_OK && (rc = config_override(c, &o->cli)) != DNSBL_OK)
        snprintf(why, whylen, "out of memory");
    return rc;
}

static unsigned daemon_workers(const struct config *c)
{
    if (c->workers > 0)
        return c->workers;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    if (n > CONFIG_WORKERS_MAX)
        n = CONFIG_WORKERS_MAX;
    return (unsigned)n;
}

static void daemon_log_zones(const struct zoneset *zs)
{
    for (size_t i = 0; i < zs->n; i++) {
        if (zs->zones[i]->synthesised)
            log_info("zone %s: no zone file, synthesised SOA and NS", zs->zones[i]->name);
        else
            log_debug("zone %s: loaded", zs->zones[i]->name);
    }
}

/* A path as seen from inside the chroot: with the chroot's own prefix cut
 * off, so that paths given from outside still work at a reload. */
static const char *daemon_in_root(const struct daemon *d, const char *path)
{
    size_t n = strlen(d->root);
    if (n > 1 && strncmp(path, d->root, n) == 0 && path[n] == '/')
        return path + n;
    return path;
}

/* Settings a reload cannot apply to running sockets and threads. */
static void daemon_warn_restart(const struct daemon *d, const struct config *next)
{
    const struct config *now = &d->cfg;
    if (!config_same_listens(now, next))
        log_warn("listen addresses changed; restart dnsbld to apply them");
    if (strcmp(daemon_in_root(d, now->db), daemon_in_root(d, next->db)) != 0)
        log_warn("db changed to %s; restart dnsbld to apply it", next->db);
    if (now->workers != next->workers)
        log_warn("workers changed; restart dnsbld to apply it");
    if (now->tcp_idle_timeout != next->tcp_idle_timeout ||
        now->tcp_max_queries != next->tcp_max_queries ||
        now->tcp_max_clients != next->tcp_max_clients ||
        now->tcp_max_per_client != next->tcp_max_per_client)
        log_warn("TCP limits changed; restart dnsbld to apply them");
    if (memcmp(&now->rrl, &next->rrl, sizeof now->rrl) != 0)
        log_warn("rate limiting changed; restart dnsbld to apply it");
    if (strcmp(now->user, next->user) != 0 || now->refuse_root != next->refuse_root ||
        strcmp(daemon_in_root(d, now->chroot), daemon_in_root(d, next->chroot)) != 0)
        log_warn("user, chroot or refuse_root changed; restart dnsbld to apply it");
}

/* Read each zone's published serial into the zone (zone_set_pub), where
 * answers and transfers find it; NOTIFY the zone's secondaries when it
 * moved (notify false: only record it). An unpublished zone keeps its zone
 * file's serial. */
static void daemon_refresh_serials(struct daemon *d, struct zoneset *zs, bool notify)
{
    if (d->pub_reader == NULL || zs == NULL)
        return;
    if (store_reader_begin(d->pub_reader) != DNSBL_OK) {
        log_error("cannot read the published serials: %s", store_reader_why(d->pub_reader));
        return;
    }
    for (size_t i = 0; i < zs->n; i++) {
        const struct zone *z = zs->zones[i];
        struct store_pub_state st;
        if (store_reader_pub_state(d->pub_reader, z->name, &st) != DNSBL_OK)
            continue;
        uint64_t old = atomic_load_explicit(&zs->zones[i]->pub, memory_order_relaxed);
        if (old == (ZONE_PUB_SET | st.serial))
            continue;
        zone_set_pub(z, st.serial);
        log_info("zone %s: published serial %u", z->name, st.serial);
        if (notify && d->notifier != NULL && z->xfr.nnotify > 0)
            notifier_send(d->notifier, z, st.serial);
    }
    store_reader_end(d->pub_reader);
}

/* At start: every published zone's secondaries may have missed serials
 * while dnsbld was down (RFC 1996 3.1: a primary may NOTIFY whenever it
 * loads a zone), so they are told the current one once it can answer. */
static void daemon_notify_all(struct daemon *d)
{
    for (size_t i = 0; d->zones != NULL && i < d->zones->n; i++) {
        const struct zone *z = d->zones->zones[i];
        if (z->xfr.nnotify > 0 &&
            atomic_load_explicit(&d->zones->zones[i]->pub, memory_order_relaxed) != 0)
            notifier_send(d->notifier, z, zone_serial(z));
    }
}

static void daemon_on_pub(evutil_socket_t fd, short what, void *arg)
{
    struct daemon *d = arg;
    (void)fd;
    (void)what;
    daemon_refresh_serials(d, d->zones, true);
}

/* A reloaded zone starts from the serial its predecessor had, so that a
 * reload alone sends no NOTIFY while a serial that moved meanwhile does. */
static void daemon_carry_serials(const struct zoneset *from, struct zoneset *to)
{
    for (size_t i = 0; from != NULL && i < to->n; i++)
        for (size_t k = 0; k < from->n; k++)
            if (strcmp(from->zones[k]->name, to->zones[i]->name) == 0) {
                uint64_t p = atomic_load_explicit(&from->zones[k]->pub, memory_order_relaxed);
                atomic_store_explicit(&to->zones[i]->pub, p, memory_order_relaxed);
            }
}

static void daemon_reload(struct daemon *d)
{
    char why[DAEMON_WHY];
    struct config next;
    struct zoneset *zs = NULL;
    int rc = daemon_build_config(&d->opt, &next, why, sizeof why);
    for (size_t i = 0; rc == DNSBL_OK && d->root[0] != '\0' && i < next.nzones; i++) {
        char *f = next.zones[i].file;
        memmove(f, daemon_in_root(d, f), strlen(daemon_in_root(d, f)) + 1);
    }
    if (rc == DNSBL_OK && next.nzones == 0) {
        snprintf(why, sizeof why, "no zone left to serve");
        rc = DNSBL_EINVAL;
    }
    if (rc == DNSBL_OK)
        rc = config_check_listens(&next, why, sizeof why);
    if (rc == DNSBL_OK)
        rc = zoneset_build(next.zones, next.nzones, &zs, why, sizeof why);
    if (rc != DNSBL_OK) {
        log_error("reload failed: %s; keeping the old configuration", why);
        config_free(&next);
        return;
    }
    daemon_log_zones(zs);
    size_t nzones = zs->n;
    daemon_carry_serials(d->zones, zs);
    daemon_refresh_serials(d, zs, true);
    if (net_publish(d->net, zs, next.log_queries) != DNSBL_OK) {
        log_error("reload failed: out of memory; keeping the old configuration");
        zoneset_free(zs);
        config_free(&next);
        return;
    }
    d->zones = zs;
    daemon_warn_restart(d, &next);

    /* Zones and query logging are now next's; the rest stays as started. */
    free(d->cfg.zones);
    d->cfg.zones = next.zones;
    d->cfg.nzones = next.nzones;
    next.zones = NULL;
    next.nzones = 0;
    d->cfg.log_queries = next.log_queries;
    config_free(&next);
    log_info("reloaded: %zu zones", nzones);
}

static void daemon_on_stop(evutil_socket_t sig, short what, void *arg)
{
    struct daemon *d = arg;
    (void)sig;
    (void)what;
    log_info("shutting down");
    event_base_loopexit(d->base, NULL);
}

static void daemon_on_hup(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    daemon_reload(arg);
}

static void daemon_on_reclaim(evutil_socket_t fd, short what, void *arg)
{
    struct daemon *d = arg;
    (void)fd;
    (void)what;
    net_reclaim(d->net);
}

static void daemon_on_limits(evutil_socket_t fd, short what, void *arg)
{
    struct daemon *d = arg;
    (void)fd;
    (void)what;
    net_log_limits(d->net);
}

/* Root is only needed to bind port 53 (and to chroot): once that is done,
 * a bug in dnsbld must not hand root to whoever sends the packet. Before
 * anything is opened: look the user up, refuse or warn about root. */
static int daemon_check_user(struct daemon *d)
{
    const struct config *c = &d->cfg;
    if (c->user[0] != '\0') {
        errno = 0;
        struct passwd *pw = getpwnam(c->user);
        if (pw == NULL) {
            log_error("user %s: %s", c->user, errno ? strerror(errno) : "no such user");
            return 1;
        }
        d->uid = pw->pw_uid;
        d->gid = pw->pw_gid;
        if (geteuid() != 0 && geteuid() != d->uid) {
            log_error("user %s: only root can switch to another user", c->user);
            return 1;
        }
    } else if (geteuid() == 0) {
        if (c->refuse_root) {
            log_error("refusing to run as root without a user to switch to (refuse_root): "
                      "give --user NAME");
            return 1;
        }
        log_warn("RUNNING AS ROOT: a bug in dnsbld would give root to anyone who can send it a "
                 "packet; give --user NAME to drop root once the sockets are bound "
                 "(or refuse_root = true to refuse to start like this)");
    }
    if (c->chroot[0] != '\0') {
        if (realpath(c->chroot, d->root) == NULL) {
            log_error("chroot %s: %s", c->chroot, strerror(errno));
            return 1;
        }
        /* Reloads read the config file again, from inside the chroot. */
        if (d->opt.config_path != NULL && realpath(d->opt.config_path, d->config_path) != NULL) {
            d->opt.config_path = d->config_path;
            if (daemon_in_root(d, d->config_path) == d->config_path)
                log_warn("config file %s is outside the chroot %s: SIGHUP will not find it",
                         d->config_path, d->root);
        }
        for (size_t i = 0; i < d->opt.cli.nzones; i++) {
            char real[PATH_MAX], *f = d->opt.cli.zones[i].file;
            if (f[0] != '\0' && realpath(f, real) != NULL && strlen(real) < sizeof real)
                memcpy(f, real, strlen(real) + 1);
        }
    }
    return 0;
}

/* After binding: chroot, then setgroups, setgid, setuid, and check that
 * root cannot be had back. */
static int daemon_drop_privileges(struct daemon *d)
{
    const struct config *c = &d->cfg;
    if (d->root[0] != '\0') {
        if (chroot(d->root) != 0 || chdir("/") != 0) {
            log_error("chroot %s: %s", d->root, strerror(errno));
            return 1;
        }
        log_info("chrooted to %s", d->root);
        if (d->opt.config_path == d->config_path)
            d->opt.config_path = daemon_in_root(d, d->config_path);
    }
    if (c->user[0] == '\0' || (geteuid() == d->uid && getuid() == d->uid))
        return 0;
    if (setgroups(1, &d->gid) != 0 || setgid(d->gid) != 0 || setuid(d->uid) != 0) {
        log_error("cannot switch to user %s: %s", c->user, strerror(errno));
        return 1;
    }
    if (getuid() != d->uid || geteuid() != d->uid || getgid() != d->gid || getegid() != d->gid ||
        (d->uid != 0 && setuid(0) == 0)) {
        log_error("switching to user %s did not take: refusing to go on", c->user);
        return 1;
    }
    log_info("running as user %s (uid %u, gid %u)", c->user, (unsigned)d->uid, (unsigned)d->gid);
    return 0;
}

static int daemon_open_store(struct daemon *d)
{
    char why[DAEMON_WHY];
    struct stat st;
    /* A mistyped --db must not go live as an empty list: only a directory
     * that exists gets an empty store made in it. */
    if (stat(d->cfg.db, &st) != 0) {
        log_error("store directory %s: %s", d->cfg.db, strerror(errno));
        return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
        log_error("store directory %s: not a directory", d->cfg.db);
        return 1;
    }
    if (!store_exists(d->cfg.db)) {
        struct store *s;
        if (store_open(d->cfg.db, STORE_CREATE, &s, why, sizeof why) != DNSBL_OK) {
            log_error("%s", why);
            return 1;
        }
        store_close(s);
        log_info("no store in %s yet: created an empty one", d->cfg.db);
    }
    int rc = store_open(d->cfg.db, STORE_RDONLY, &d->store, why, sizeof why);
    if (rc == DNSBL_ENOENT) {
        /* A data.mdb whose first commit never happened (an import killed
         * at its very start): finish creating it, then open it again. */
        struct store *s;
        if (store_open(d->cfg.db, STORE_CREATE, &s, why, sizeof why) == DNSBL_OK) {
            store_close(s);
            log_info("store in %s was never completed: made it an empty one", d->cfg.db);
            rc = store_open(d->cfg.db, STORE_RDONLY, &d->store, why, sizeof why);
        }
    }
    if (rc != DNSBL_OK) {
        log_error("%s", why);
        return 1;
    }
    return 0;
}

static int daemon_add_signals(struct daemon *d)
{
    d->ev_term = evsignal_new(d->base, SIGTERM, daemon_on_stop, d);
    d->ev_int = evsignal_new(d->base, SIGINT, daemon_on_stop, d);
    d->ev_hup = evsignal_new(d->base, SIGHUP, daemon_on_hup, d);
    /* Replaced zone sets are freed here, once every worker has moved on. */
    d->ev_reclaim = event_new(d->base, -1, EV_PERSIST, daemon_on_reclaim, d);
    d->ev_limits = event_new(d->base, -1, EV_PERSIST, daemon_on_limits, d);
    d->ev_pub = event_new(d->base, -1, EV_PERSIST, daemon_on_pub, d);
    if (d->ev_term == NULL || d->ev_int == NULL || d->ev_hup == NULL || d->ev_reclaim == NULL ||
        d->ev_limits == NULL || d->ev_pub == NULL || event_add(d->ev_term, NULL) != 0 ||
        event_add(d->ev_int, NULL) != 0 || event_add(d->ev_hup, NULL) != 0)
        return -1;
    return 0;
}

static void check_zone(const struct zone_config *zc, const struct zone *z, struct store_reader *r)
{
    static const char *const kinds[] = {"blocklist", "score", "allowlist"};
    const struct zone_policy *p = &zc->policy;
    printf("zone %s: %s, file %s\n", zc->name, p->kind < 3 ? kinds[p->kind] : "?",
           zc->file[0] ? zc->file : "none (SOA and NS synthesised)");
    printf("  answers: TTL %u, threshold %g, datasets ", p->ttl, p->threshold);
    if (p->ndatasets == 0)
        printf("all");
    for (unsigned i = 0; i < p->ndatasets; i++)
        printf("%s%s", i ? ", " : "", p->datasets[i]);
    printf("; query ACL %s\n", zc->acl.n ? "set" : "none (everybody)");
    struct store_pub_state ps;
    int rc = r ? store_reader_pub_state(r, zc->name, &ps) : DNSBL_ENOENT;
    if (rc == DNSBL_OK)
        printf("  published: serial %u, %llu names, IXFR back to serial %u\n", ps.serial,
               (unsigned long long)ps.names, ps.oldest);
    else
        printf("  published: never (SOA serial from the zone file or synthesised: %s)\n",
               z->synthesised ? "load time" : "zone file");
    printf("  transfers: %s%s%s, NOTIFY to %zu target%s\n",
           zc->xfr.allow.n ? "allowed to the allow_transfer list" : "refused (no allow_transfer)",
           zc->xfr.has_key ? ", signed with key " : "", zc->xfr.has_key ? zc->xfr.key.name : "",
           zc->xfr.nnotify, zc->xfr.nnotify == 1 ? "" : "s");
}

/* --check-config: what an operator runs before SIGHUP (README, "Signals
 * and logs"). Every problem is a line on stderr; nothing is served. */
static int daemon_check(struct daemon *d)
{
    char why[DAEMON_WHY];
    int problems = 0;
    if (daemon_build_config(&d->opt, &d->cfg, why, sizeof why) != DNSBL_OK) {
        fprintf(stderr, "dnsbld: %s\n", why);
        return 1;
    }
    if (d->cfg.db[0] == '\0') {
        fprintf(stderr, "dnsbld: no store directory (db, --db)\n");
        problems++;
    }
    if (d->cfg.nzones == 0) {
        fprintf(stderr, "dnsbld: no zone to serve\n");
        problems++;
    }
    if (d->cfg.nlistens == 0) {
        fprintf(stderr, "dnsbld: no listen address\n");
        problems++;
    }
    if (config_check_listens(&d->cfg, why, sizeof why) != DNSBL_OK) {
        fprintf(stderr, "dnsbld: %s\n", why);
        problems++;
    }
    struct zoneset *zs = NULL;
    if (zoneset_build(d->cfg.zones, d->cfg.nzones, &zs, why, sizeof why) != DNSBL_OK) {
        fprintf(stderr, "dnsbld: %s\n", why);
        problems++;
        zs = NULL;
    }
    struct store *s = NULL;
    struct store_reader *r = NULL;
    bool begun = false;
    if (d->cfg.db[0] && store_open(d->cfg.db, STORE_RDONLY, &s, why, sizeof why) != DNSBL_OK) {
        fprintf(stderr, "dnsbld: store %s: %s\n", d->cfg.db, why);
        problems++;
        s = NULL;
    }
    if (s && store_reader_open(s, &r) != DNSBL_OK) {
        fprintf(stderr, "dnsbld: store %s: cannot open a reader\n", d->cfg.db);
        problems++;
        r = NULL;
    }
    if (r && !(begun = store_reader_begin(r) == DNSBL_OK)) {
        fprintf(stderr, "dnsbld: store %s: %s\n", d->cfg.db, store_reader_why(r));
        problems++;
    }
    printf("config %s\n", d->opt.config_path ? d->opt.config_path : "(command line only)");
    if (s)
        printf("store %s\n", d->cfg.db);
    for (size_t i = 0; i < d->cfg.nlistens; i++)
        printf("listen %s (UDP and TCP)\n", d->cfg.listens[i].text);
    for (size_t i = 0; zs && i < d->cfg.nzones; i++)
        for (size_t j = 0; j < zs->n; j++)
            if (strcasecmp(zs->zones[j]->name, d->cfg.zones[i].name) == 0)
                check_zone(&d->cfg.zones[i], zs->zones[j], begun ? r : NULL);
    if (begun)
        store_reader_end(r);
    if (r)
        store_reader_close(r);
    if (s)
        store_close(s);
    if (zs)
        zoneset_free(zs);
    if (problems)
        fprintf(stderr, "dnsbld: %d problem%s: nothing would be served\n", problems,
                problems == 1 ? "" : "s");
    else
        printf("ok\n");
    return problems ? 1 : 0;
}

/* Returns the exit code. */
static int daemon_run(struct daemon *d)
{
    char why[DAEMON_WHY];
    if (daemon_build_config(&d->opt, &d->cfg, why, sizeof why) != DNSBL_OK) {
        log_error("%s", why);
        return 1;
    }
    const char *missing = d->cfg.db[0] == '\0'   ? "no --db directory"
                          : d->cfg.nzones == 0   ? "no --zone to serve"
                          : d->cfg.nlistens == 0 ? "no --listen address"
                                                 : NULL;
    if (missing != NULL) {
        fprintf(stderr, "dnsbld: %s (see dnsbld --help)\n", missing);
        return EXIT_USAGE;
    }
    if (config_check_listens(&d->cfg, why, sizeof why) != DNSBL_OK) {
        fprintf(stderr, "dnsbld: %s\n", why);
        return EXIT_USAGE;
    }

    if (daemon_check_user(d) != 0)
        return 1;
    if (evthread_use_pthreads() != 0) {
        log_error("libevent has no pthreads support");
        return 1;
    }
    struct zoneset *zs;
    if (zoneset_build(d->cfg.zones, d->cfg.nzones, &zs, why, sizeof why) != DNSBL_OK) {
        log_error("%s", why);
        return 1;
    }
    daemon_log_zones(zs);
    if (daemon_open_store(d) != 0) {
        zoneset_free(zs);
        return 1;
    }
    d->base = event_base_new();
    if (d->base == NULL || daemon_add_signals(d) != 0) {
        log_error("cannot set up the main event loop");
        zoneset_free(zs);
        return 1;
    }
    if (store_reader_open(d->store, &d->pub_reader) != DNSBL_OK ||
        notifier_new(d->base, &d->notifier) != DNSBL_OK) {
        log_error("cannot set up the published serials and NOTIFY");
        zoneset_free(zs);
        return 1;
    }
    /* Answers carry the published serial from the first one on. */
    daemon_refresh_serials(d, zs, false);
    d->zones = zs;
    struct net_settings ns = {
        .listens = d->cfg.listens,
        .nlistens = d->cfg.nlistens,
        .workers = daemon_workers(&d->cfg),
        .tcp_idle_timeout = d->cfg.tcp_idle_timeout,
        .tcp_max_queries = d->cfg.tcp_max_queries,
        .tcp_max_clients = d->cfg.tcp_max_clients,
        .tcp_max_per_client = d->cfg.tcp_max_per_client,
        .rrl = d->cfg.rrl,
    };
    if (net_start(&ns, d->store, zs, d->cfg.log_queries, &d->net, why, sizeof why) != DNSBL_OK) {
        log_error("%s", why);
        d->zones = NULL;
        zoneset_free(zs);
        return 1;
    }
    /* The sockets are bound and every worker holds its store reader. */
    if (daemon_drop_privileges(d) != 0)
        return 1;
    struct timeval sec = {1, 0}, minute = {DAEMON_LIMITS_LOG_SECONDS, 0};
    struct timeval poll = {0, DAEMON_PUB_POLL_MS * 1000};
    event_add(d->ev_reclaim, &sec);
    event_add(d->ev_limits, &minute);
    event_add(d->ev_pub, &poll);
    log_debug("%u workers", ns.workers);
    log_info("ready");
    daemon_notify_all(d);
    if (event_base_dispatch(d->base) < 0) {
        log_error("the main event loop failed");
        return 1;
    }
    return 0;
}

static void daemon_cleanup(struct daemon *d)
{
    if (d->net != NULL)
        net_stop(d->net);
    notifier_free(d->notifier);
    if (d->pub_reader != NULL)
        store_reader_close(d->pub_reader);
    if (d->store != NULL)
        store_close(d->store);
    struct event *evs[] = {d->ev_term,    d->ev_int,    d->ev_hup,
                           d->ev_reclaim, d->ev_limits, d->ev_pub};
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
        if (evs[i] != NULL)
            event_free(evs[i]);
    if (d->base != NULL)
        event_base_free(d->base);
    config_free(&d->cfg);
    config_free(&d->opt.cli);
}

int main(int argc, char **argv)
{
    struct daemon d;
    memset(&d, 0, sizeof d);
    config_init(&d.opt.cli);
    config_init(&d.cfg);
    int code = daemon_parse_args(&d.opt, argc, argv);
    if (code >= 0) {
        config_free(&d.opt.cli);
        return code;
    }
    log_init("dnsbld", d.opt.verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
    /* A client that closes early must not kill us on the next write. */
    signal(SIGPIPE, SIG_IGN);
    code = d.opt.check ? daemon_check(&d) : daemon_run(&d);
    daemon_cleanup(&d);
    return code;
}
