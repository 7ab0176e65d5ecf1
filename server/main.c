/* dnsbld: the daemon's process side -- options, startup, signals, reload.
 * All state lives in one struct daemon on main's stack; net.c owns the
 * workers, config.c the settings, zone.c the zone sets. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "config.h"
#include "err.h"
#include "log.h"
#include "net.h"
#include "store.h"
#include "zone.h"

#ifndef DNSBL_VERSION
#define DNSBL_VERSION "0.1.0"
#endif

#define EXIT_USAGE 2
#define DAEMON_WHY 1024

struct options {
    const char *config_path; /* NULL = no config file */
    struct config cli;       /* what the command line set; see config_override */
    bool verbose;
};

struct daemon {
    struct options opt;
    struct config cfg; /* in force; listens, db, workers and TCP limits as started */
    struct store *store;
    struct net *net;
    struct event_base *base;
    struct event *ev_term, *ev_int, *ev_hup, *ev_reclaim;
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
          "  --log-queries        log every query: client, name, type, rcode\n"
          "  --verbose            log debug messages too\n"
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
};

/* Fills o. Returns -1 to go on, or the exit code (0 after --help). */
static int daemon_parse_args(struct options *o, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"zone", required_argument, NULL, OPT_ZONE},
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"config", required_argument, NULL, 'c'},
        {"workers", required_argument, NULL, OPT_WORKERS},
        {"log-queries", no_argument, NULL, OPT_LOG_QUERIES},
        {"verbose", no_argument, NULL, OPT_VERBOSE},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    char why[512];
    int ch;
    opterr = 0; /* our messages name the argument and end in a hint */
    while ((ch = getopt_long(argc, argv, ":c:hV", longopts, NULL)) != -1) {
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
        case OPT_WORKERS: {
            char *end;
            errno = 0;
            unsigned long n = strtoul(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != '\0' || optarg[0] == '-' || n < 1 ||
                n > CONFIG_WORKERS_MAX) {
                fprintf(stderr, "dnsbld: --workers '%s': give a number from 1 to %d\n", optarg,
                        CONFIG_WORKERS_MAX);
                return EXIT_USAGE;
            }
            o->cli.workers = (unsigned)n;
            break;
        }
        case OPT_LOG_QUERIES:
            o->cli.log_queries = true;
            break;
        case OPT_VERBOSE:
            o->verbose = true;
            break;
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

/* Settings a reload cannot apply to running sockets and threads. */
static void daemon_warn_restart(const struct config *now, const struct config *next)
{
    if (!config_same_listens(now, next))
        log_warn("listen addresses changed; restart dnsbld to apply them");
    if (strcmp(now->db, next->db) != 0)
        log_warn("db changed to %s; restart dnsbld to apply it", next->db);
    if (now->workers != next->workers)
        log_warn("workers changed; restart dnsbld to apply it");
    if (now->tcp_idle_timeout != next->tcp_idle_timeout ||
        now->tcp_max_queries != next->tcp_max_queries)
        log_warn("TCP limits changed; restart dnsbld to apply them");
}

static void daemon_reload(struct daemon *d)
{
    char why[DAEMON_WHY];
    struct config next;
    struct zoneset *zs = NULL;
    int rc = daemon_build_config(&d->opt, &next, why, sizeof why);
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
    if (net_publish(d->net, zs, next.log_queries) != DNSBL_OK) {
        log_error("reload failed: out of memory; keeping the old configuration");
        zoneset_free(zs);
        config_free(&next);
        return;
    }
    daemon_warn_restart(&d->cfg, &next);

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
    if (store_open(d->cfg.db, STORE_RDONLY, &d->store, why, sizeof why) != DNSBL_OK) {
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
    if (d->ev_term == NULL || d->ev_int == NULL || d->ev_hup == NULL || d->ev_reclaim == NULL ||
        event_add(d->ev_term, NULL) != 0 || event_add(d->ev_int, NULL) != 0 ||
        event_add(d->ev_hup, NULL) != 0)
        return -1;
    return 0;
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
    struct net_settings ns = {
        .listens = d->cfg.listens,
        .nlistens = d->cfg.nlistens,
        .workers = daemon_workers(&d->cfg),
        .tcp_idle_timeout = d->cfg.tcp_idle_timeout,
        .tcp_max_queries = d->cfg.tcp_max_queries,
    };
    if (net_start(&ns, d->store, zs, d->cfg.log_queries, &d->net, why, sizeof why) != DNSBL_OK) {
        log_error("%s", why);
        zoneset_free(zs);
        return 1;
    }
    struct timeval sec = {1, 0};
    event_add(d->ev_reclaim, &sec);
    log_debug("%u workers", ns.workers);
    log_info("ready");
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
    if (d->store != NULL)
        store_close(d->store);
    struct event *evs[] = {d->ev_term, d->ev_int, d->ev_hup, d->ev_reclaim};
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
    code = daemon_run(&d);
    daemon_cleanup(&d);
    return code;
}
