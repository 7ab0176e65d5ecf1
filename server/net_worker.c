/* net_worker: one worker thread: its event loop, its store reader (LMDB
 * read transactions belong to the thread that made them), its buffers and
 * the lines it logs. worker_init allocates in the main thread before the
 * start, worker_free frees after the join. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns.h"
#include "err.h"
#include "net_int.h"
#include "store.h"

static void worker_on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    worker_enter(arg);
}

void worker_log_query(struct worker *w, const struct sockaddr *sa, socklen_t len, const char *proto)
{
    char peer[SOCK_ADDR_TEXT], tbuf[16], rbuf[16];
    sock_format_addr(sa, len, "#", peer, sizeof peer);
    const char *type = dns_type_name(w->info.qtype);
    const char *rcode = dns_rcode_name(w->info.rcode);
    snprintf(tbuf, sizeof tbuf, "TYPE%u", w->info.qtype); /* RFC 3597 */
    snprintf(rbuf, sizeof rbuf, "RCODE%u", w->info.rcode);
    type = type != NULL ? type : tbuf;
    rcode = rcode != NULL ? rcode : rbuf;
    log_info("query %s %s %s %s %s%s", peer, proto, w->info.qname[0] ? w->info.qname : "-", type,
             rcode, w->info.truncated ? " TC" : "");
}

void worker_store_error(struct worker *w)
{
    /* The first failure and then one in 10000: enough to see it, not a flood. */
    if (w->cnt[NC_STORE_ERRORS]++ % 10000 == 0)
        log_error("worker %u: cannot begin a store read (%llu times): %s; dropping queries", w->id,
                  (unsigned long long)w->cnt[NC_STORE_ERRORS], store_reader_why(w->reader));
}

static void net_report_start(struct net *n, bool ok, const char *why)
{
    pthread_mutex_lock(&n->lock);
    if (ok)
        n->running++;
    else if (n->failed++ == 0)
        snprintf(n->fail_why, sizeof n->fail_why, "%s", why);
    pthread_cond_signal(&n->cond);
    pthread_mutex_unlock(&n->lock);
}

void *worker_main(void *arg)
{
    struct worker *w = arg;
    char why[200];
    /* LMDB read transactions belong to the thread that made them. */
    int rc = store_reader_open(w->net->store, &w->reader);
    if (rc != DNSBL_OK) {
        snprintf(why, sizeof why, "worker %u: cannot open a store reader: %s", w->id,
                 dnsbl_strerror(rc));
        net_report_start(w->net, false, why);
        return NULL;
    }
    w->ctx.reader = w->reader;
    /* Its sockets are bound: what arrives from here on waits for the loop. */
    net_report_start(w->net, true, NULL);
    event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
    store_reader_close(w->reader);
    w->reader = NULL;
    return NULL;
}

int worker_init(struct net *n, struct worker *w, unsigned id)
{
    w->net = n;
    w->id = id;
    w->gen = n->gen;
    atomic_init(&w->seen, n->gen);
    w->base = event_base_new();
    if (w->base == NULL)
        return DNSBL_ENOMEM;
    w->wake = event_new(w->base, -1, 0, worker_on_wake, w);
    w->udp = calloc(n->nlistens, sizeof *w->udp);
    w->tcp = calloc(n->nlistens, sizeof *w->tcp);
    w->covering = calloc(STORE_COVERING_MAX, sizeof *w->covering);
    w->history = calloc(STORE_HISTORY_MAX, sizeof *w->history);
    w->udp_in = malloc((size_t)NET_BATCH * NET_UDP_IN);
    w->udp_out = malloc((size_t)NET_BATCH * PACKET_EDNS_SIZE);
    w->tcp_out = malloc(PACKET_TCP_MAX + 2);
    if (w->wake == NULL || w->udp == NULL || w->tcp == NULL || w->covering == NULL ||
        w->history == NULL || w->udp_in == NULL || w->udp_out == NULL || w->tcp_out == NULL)
        return DNSBL_ENOMEM;
    worker_init_msgs(w);
    if (tcp_worker_init(w) != DNSBL_OK)
        return DNSBL_ENOMEM;
    for (size_t i = 0; i < n->nlistens; i++) {
        w->udp[i].w = w;
        w->udp[i].fd = -1;
    }
    w->ctx.covering = w->covering;
    w->ctx.covering_cap = STORE_COVERING_MAX;
    w->ctx.history = w->history;
    w->ctx.history_cap = STORE_HISTORY_MAX;
    for (int k = 0; k < NL_COUNT; k++)
        atomic_init(&w->limits[k], 0);
    if (n->rrl.rate > 0)
        return rrl_new(&n->rrl, RRL_BUCKETS, n->rrl_seed, &w->rrl);
    return DNSBL_OK;
}

void worker_free(struct worker *w)
{
    while (w->conns != NULL)
        tcp_close(w->conns);
    for (size_t i = 0; w->udp != NULL && i < w->net->nlistens; i++) {
        if (w->udp[i].ev != NULL)
            event_free(w->udp[i].ev);
        if (w->udp[i].fd >= 0)
            close(w->udp[i].fd);
    }
    for (size_t i = 0; w->tcp != NULL && i < w->net->nlistens; i++)
        if (w->tcp[i] != NULL)
            evconnlistener_free(w->tcp[i]);
    if (w->sweep != NULL)
        event_free(w->sweep);
    if (w->wake != NULL)
        event_free(w->wake);
    if (w->base != NULL)
        event_base_free(w->base);
    free(w->udp);
    free(w->tcp);
    free(w->covering);
    free(w->history);
    free(w->udp_in);
    free(w->udp_out);
    free(w->tcp_out);
    rrl_free(w->rrl);
}
