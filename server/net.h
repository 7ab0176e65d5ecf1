/* net: dnsbld's sockets and worker threads. net_start binds every listen
 * address once per worker (SO_REUSEPORT, UDP and TCP on one port) and runs
 * one thread per worker, each with its own event_base, store reader,
 * buffers and counters; net_stop stops, joins and frees all of it.
 * The zone set is published by pointer swap (net_publish); a replaced set
 * is freed by net_reclaim once no worker can still be using it. net owns
 * every zoneset handed to it; the store is borrowed and must outlive net.
 * UDP answers pass response rate limiting (rrl.h) per worker; TCP
 * connections are counted against the limits in all (connlimit.h). */
#ifndef DNSBLD_NET_H
#define DNSBLD_NET_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "rrl.h"
#include "store.h"
#include "zone.h"

struct net;

struct net_settings {
    const struct config_listen *listens; /* copied by net_start */
    size_t nlistens;
    unsigned workers;            /* >= 1 */
    unsigned tcp_idle_timeout;   /* seconds */
    unsigned tcp_max_queries;    /* per connection */
    unsigned tcp_max_clients;    /* open connections in the whole process */
    unsigned tcp_max_per_client; /* open connections per client address (IPv6: per /64) */
    struct rrl_settings rrl;     /* UDP response rate limiting; rate 0 = off */
};

/* Bind, start the workers and return once every one of them is running.
 * Logs "listening on ADDR:PORT udp+tcp" per address (the real port when 0
 * was asked). On success net owns zones; on failure the caller still does,
 * and why says what failed. Call from the main thread, after
 * evthread_use_pthreads(). */
int net_start(const struct net_settings *s, struct store *store, struct zoneset *zones,
              bool log_queries, struct net **out, char *why, size_t whylen);

/* Make zones the set every worker answers from, from its next batch or
 * callback on; net owns it from then on. DNSBL_ENOMEM leaves zones the
 * caller's and the old set in force. Main thread only. */
int net_publish(struct net *n, struct zoneset *zones, bool log_queries);

/* Free the replaced sets that every worker has moved past. Returns how
 * many are still waiting. Main thread only; call it now and then. */
size_t net_reclaim(struct net *n);

/* Log how many UDP answers rate limiting held back and how many TCP
 * connections the limits refused since the last call, if any. Main thread
 * only; dnsbld calls it every minute. */
void net_log_limits(struct net *n);

/* Stop every worker, join, log the counters, free everything. */
void net_stop(struct net *n);

#endif
