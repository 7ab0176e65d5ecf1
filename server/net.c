/* net: listeners and workers. Every worker owns everything it touches on
 * the query path (event_base, sockets, store reader, buffers, counters, its
 * rate-limiting table), so the only shared state is the published view,
 * read with one acquire load per batch or callback, and the TCP connection
 * counts, touched on accept and close only. This file starts and stops
 * them, publishes views and sums the counters; the workers themselves are
 * net_worker.c, their UDP and TCP paths net_udp.c and net_tcp.c. */
#include "net.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "err.h"
#include "net_int.h"

static const char *const net_counter_names[NC_COUNT] = {
    "udp queries", "udp dropped",  "udp unsent",   "tcp connections",
    "tcp queries", "tcp timeouts", "store errors", "store lookup errors",
};

/* --- the view --- */

static void net_view_free(struct net_view *v)
{
    if (v->zones != NULL)
        zoneset_free(v->zones);
    free(v);
}

int net_publish(struct net *n, struct zoneset *zones, bool log_queries)
{
    struct net_view *v = calloc(1, sizeof *v);
    if (v == NULL)
        return DNSBL_ENOMEM;
    v->zones = zones;
    v->log_queries = log_queries;
    v->gen = ++n->gen;
    struct net_view *old = atomic_exchange_explicit(&n->view, v, memory_order_acq_rel);
    old->next = n->retired;
    n->retired = old;
    for (size_t i = 0; i < n->nworkers; i++)
        event_active(n->workers[i].wake, EV_READ, 0);
    return DNSBL_OK;
}

size_t net_reclaim(struct net *n)
{
    uint64_t low = UINT64_MAX;
    for (size_t i = 0; i < n->nworkers; i++) {
        uint64_t s = atomic_load_explicit(&n->workers[i].seen, memory_order_acquire);
        if (s < low)
            low = s;
    }
    size_t left = 0;
    for (struct net_view **p = &n->retired; *p != NULL;) {
        struct net_view *v = *p;
        if (v->gen < low) { /* every worker has seen a later view */
            *p = v->next;
            log_debug("freed the zone set of generation %llu", (unsigned long long)v->gen);
            net_view_free(v);
        } else {
            p = &v->next;
            left++;
        }
    }
    return left;
}

/* --- sockets (sock.c) --- */

static int net_bind_listen(struct net *n, size_t li, char *why, size_t whylen)
{
    const struct config_listen *l = &n->listens[li];
    struct sockaddr_storage addr;
    int tcp0;
    int rc = sock_choose_port(l, &addr, &tcp0, why, whylen);
    if (rc != DNSBL_OK)
        return rc;
    sock_format_addr((struct sockaddr *)&addr, l->addrlen, ":", n->bound[li], sizeof n->bound[li]);

    const unsigned lflags = LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_FREE;
    for (size_t k = 0; k < n->nworkers; k++) {
        struct worker *w = &n->workers[k];
        struct net_udp *u = &w->udp[li];
        const char *proto = "udp";
        u->fd = sock_open(&addr, l->addrlen, SOCK_DGRAM, true);
        if (u->fd < 0)
            goto fail;
        u->pktinfo = sock_is_wildcard(&addr);
        u->ev = event_new(w->base, u->fd, EV_READ | EV_PERSIST, net_on_udp, u);
        if (u->ev == NULL || event_add(u->ev, NULL) != 0)
            goto fail;
        proto = "tcp";
        int fd = tcp0;
        tcp0 = -1;
        if (fd < 0 && (fd = sock_open(&addr, l->addrlen, SOCK_STREAM, true)) < 0)
            goto fail;
        w->tcp[li] = evconnlistener_new(w->base, tcp_on_accept, w, lflags, NET_TCP_BACKLOG, fd);
        if (w->tcp[li] == NULL) {
            int saved = errno;
            close(fd);
            errno = saved;
            goto fail;
        }
        evconnlistener_set_error_cb(w->tcp[li], tcp_on_accept_error);
        continue;
    fail:
        snprintf(why, whylen, "cannot listen on %s (%s): %s", n->bound[li], proto, strerror(errno));
        if (tcp0 >= 0)
            close(tcp0);
        return DNSBL_EIO;
    }
    /* The kernel picks a UDP socket of the group by a hash of the whole
     * 4-tuple, so one client socket always meets the same worker, but a
     * client (or a spoofed flood) using many source ports would meet all
     * of them and get workers times the rate. Steering by the client
     * prefix makes the limit hold per prefix for the whole process. */
    int family = addr.ss_family;
    unsigned plen = family == AF_INET ? n->rrl.ipv4_prefix : n->rrl.ipv6_prefix;
    if (n->rrl.rate > 0 && sock_steer_by_prefix(n->workers[0].udp[li].fd, family, plen,
                                                (unsigned)n->nworkers) != DNSBL_OK)
        log_warn("%s: cannot steer clients to workers by prefix (%s); each worker rate-limits "
                 "on its own",
                 n->bound[li], strerror(errno));
    return DNSBL_OK;
}

static void net_halt(struct net *n)
{
    for (size_t i = 0; i < n->nworkers; i++)
        if (n->workers[i].started)
            event_base_loopexit(n->workers[i].base, NULL);
    for (size_t i = 0; i < n->nworkers; i++) {
        if (n->workers[i].started)
            pthread_join(n->workers[i].thread, NULL);
        n->workers[i].started = false;
    }
}

static void net_free(struct net *n)
{
    for (size_t i = 0; n->workers != NULL && i < n->nworkers; i++)
        worker_free(&n->workers[i]);
    free(n->workers);
    struct net_view *v = atomic_load_explicit(&n->view, memory_order_acquire);
    if (v != NULL)
        net_view_free(v);
    while (n->retired != NULL) {
        v = n->retired;
        n->retired = v->next;
        net_view_free(v);
    }
    connlimit_free(n->conns);
    pthread_cond_destroy(&n->cond);
    pthread_mutex_destroy(&n->lock);
    free(n->listens);
    free(n->bound);
    free(n);
}

static int net_run_workers(struct net *n, char *why, size_t whylen)
{
    /* Signals are the main thread's: workers start with all of them blocked. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    size_t started = 0;
    int err = 0;
    for (size_t i = 0; i < n->nworkers; i++) {
        err = pthread_create(&n->workers[i].thread, NULL, worker_main, &n->workers[i]);
        if (err != 0)
            break;
        n->workers[i].started = true;
        started++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    pthread_mutex_lock(&n->lock);
    while (n->running + n->failed < started)
        pthread_cond_wait(&n->cond, &n->lock);
    pthread_mutex_unlock(&n->lock);
    if (err != 0) {
        snprintf(why, whylen, "cannot start worker thread %zu: %s", started, strerror(err));
        return DNSBL_EIO;
    }
    if (n->failed > 0) {
        snprintf(why, whylen, "%s", n->fail_why);
        return DNSBL_ESTORE;
    }
    return DNSBL_OK;
}

int net_start(const struct net_settings *s, struct store *store, struct zoneset *zones,
              bool log_queries, struct net **out, char *why, size_t whylen)
{
    struct net *n = calloc(1, sizeof *n);
    struct net_view *v = calloc(1, sizeof *v);
    if (n == NULL || v == NULL) {
        free(n);
        free(v);
        snprintf(why, whylen, "out of memory");
        return DNSBL_ENOMEM;
    }
    pthread_mutex_init(&n->lock, NULL);
    pthread_cond_init(&n->cond, NULL);
    n->store = store;
    n->tcp_idle_timeout = s->tcp_idle_timeout;
    n->tcp_max_queries = s->tcp_max_queries;
    n->tcp_max_clients = s->tcp_max_clients;
    n->tcp_max_per_client = s->tcp_max_per_client;
    n->tcp_pressure_ms = tcp_pressure_ms(s->tcp_idle_timeout);
    n->rrl = s->rrl;
    atomic_init(&n->tcp_refused, 0);
    atomic_init(&n->tcp_refused_logged, 0);
    atomic_init(&n->tcp_shed_logged, 0);
    /* A secret hash key: nobody outside can aim at a victim's bucket. */
    if (getrandom(&n->rrl_seed, sizeof n->rrl_seed, GRND_NONBLOCK) != sizeof n->rrl_seed)
        n->rrl_seed = net_monotonic_ms() ^ ((uint64_t)getpid() << 32);
    n->gen = 1;
    v->zones = zones;
    v->log_queries = log_queries;
    v->gen = n->gen;
    atomic_init(&n->view, v);
    n->nlistens = s->nlistens;
    n->listens = malloc(s->nlistens * sizeof *n->listens);
    n->bound = calloc(s->nlistens, sizeof *n->bound);
    n->nworkers = s->workers;
    n->workers = calloc(s->workers, sizeof *n->workers);

    int rc = DNSBL_ENOMEM;
    snprintf(why, whylen, "out of memory");
    if (n->listens == NULL || n->bound == NULL || n->workers == NULL)
        goto fail;
    if ((rc = connlimit_new(s->tcp_max_clients, s->tcp_max_per_client, &n->conns)) != DNSBL_OK) {
        snprintf(why, whylen, "TCP limits: %s", dnsbl_strerror(rc));
        goto fail;
    }
    memcpy(n->listens, s->listens, s->nlistens * sizeof *n->listens);
    for (unsigned i = 0; i < s->workers; i++)
        if ((rc = worker_init(n, &n->workers[i], i)) != DNSBL_OK)
            goto fail;
    for (size_t li = 0; li < n->nlistens; li++)
        if ((rc = net_bind_listen(n, li, why, whylen)) != DNSBL_OK)
            goto fail;
    if ((rc = net_run_workers(n, why, whylen)) != DNSBL_OK)
        goto fail;
    for (size_t li = 0; li < n->nlistens; li++)
        log_info("listening on %s udp+tcp", n->bound[li]);
    if (n->rrl.rate > 0)
        log_info("rate limiting UDP answers to %u a second per /%u (IPv4) or /%u (IPv6), slip %u",
                 n->rrl.rate, n->rrl.ipv4_prefix, n->rrl.ipv6_prefix, n->rrl.slip);
    *out = n;
    return DNSBL_OK;

fail:
    net_halt(n);
    v->zones = NULL; /* still the caller's */
    net_free(n);
    return rc;
}

static void net_sum_limits(struct net *n, uint64_t sum[NL_COUNT], uint64_t *refused)
{
    for (int k = 0; k < NL_COUNT; k++) {
        sum[k] = 0;
        for (size_t i = 0; i < n->nworkers; i++)
            sum[k] += atomic_load_explicit(&n->workers[i].limits[k], memory_order_relaxed);
    }
    *refused = atomic_load_explicit(&n->tcp_refused, memory_order_relaxed);
}

void net_log_limits(struct net *n)
{
    uint64_t sum[NL_COUNT], refused;
    net_sum_limits(n, sum, &refused);
    uint64_t dropped = sum[NL_RRL_DROPPED] - n->logged[NL_RRL_DROPPED];
    uint64_t slipped = sum[NL_RRL_SLIPPED] - n->logged[NL_RRL_SLIPPED];
    if (dropped + slipped > 0)
        log_info("rrl: limited %llu answers since the last report (dropped %llu, slipped %llu)",
                 (unsigned long long)(dropped + slipped), (unsigned long long)dropped,
                 (unsigned long long)slipped);
    if (refused > n->logged_refused)
        log_info("tcp: refused %llu connections over the limits since the last report",
                 (unsigned long long)(refused - n->logged_refused));
    if (sum[NL_TCP_SHED] > n->logged[NL_TCP_SHED])
        log_info("tcp: closed %llu idle connections to admit new ones since the last report",
                 (unsigned long long)(sum[NL_TCP_SHED] - n->logged[NL_TCP_SHED]));
    memcpy(n->logged, sum, sizeof n->logged);
    n->logged_refused = refused;
}

void net_stop(struct net *n)
{
    net_halt(n);
    char line[640];
    size_t len = 0;
    for (int k = 0; k < NC_COUNT; k++) {
        uint64_t sum = 0;
        for (size_t i = 0; i < n->nworkers; i++)
            sum += n->workers[i].cnt[k];
        len += (size_t)snprintf(line + len, sizeof line - len, "%s%s %llu", k ? ", " : "",
                                net_counter_names[k], (unsigned long long)sum);
    }
    uint64_t lim[NL_COUNT], refused;
    net_sum_limits(n, lim, &refused);
    snprintf(
        line + len, sizeof line - len,
        ", tcp refused %llu, tcp shed %llu, rrl limited %llu, rrl dropped %llu, rrl slipped %llu",
        (unsigned long long)refused, (unsigned long long)lim[NL_TCP_SHED],
        (unsigned long long)(lim[NL_RRL_DROPPED] + lim[NL_RRL_SLIPPED]),
        (unsigned long long)lim[NL_RRL_DROPPED], (unsigned long long)lim[NL_RRL_SLIPPED]);
    log_info("served: %s", line);
    net_free(n);
}
