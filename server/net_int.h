/* net_int: what the parts of net share, private to them (net.c: start,
 * stop, the published view and the counters; net_worker.c: the threads;
 * net_udp.c: the UDP path; net_tcp.c: TCP connections and their limits).
 * A worker and everything it points to belongs to its one thread while it
 * runs; worker_free frees it after the join. */
#ifndef DNSBLD_NET_INT_H
#define DNSBLD_NET_INT_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "connlimit.h"
#include "log.h"
#include "net.h"
#include "packet.h"
#include "sock.h"
#include "xfr.h"

#define NET_BATCH 32     /* datagrams per recvmmsg/sendmmsg */
#define NET_UDP_ROUNDS 8 /* batches per callback before other events get a turn */
#define NET_UDP_IN 4096  /* a longer datagram is no query we answer (MSG_TRUNC: dropped) */
#define NET_TCP_BACKLOG 256
#define NET_TCP_READ_HIGH (2 * (PACKET_TCP_MAX + 2)) /* >= one whole frame, or reading stalls */
#define NET_TCP_OUT_HIGH (256 * 1024) /* stop reading a client that does not read its answers */
#define NET_XFR_OUT_LOW (64 * 1024)   /* a transfer's next messages go out below this... */
#define NET_XFR_OUT_HIGH (192 * 1024) /* ...until the output holds this much */

/* What workers answer from. Replaced whole by net_publish, never changed. */
struct net_view {
    struct zoneset *zones;
    bool log_queries;
    uint64_t gen;          /* the next view has gen + 1 */
    struct net_view *next; /* in the retired list */
};

enum net_counter {
    NC_UDP_QUERIES,
    NC_UDP_DROPPED,
    NC_UDP_UNSENT,
    NC_TCP_CONNECTIONS,
    NC_TCP_QUERIES,
    NC_TCP_TIMEOUTS,
    NC_STORE_ERRORS,
    NC_LOOKUP_ERRORS, /* folded in from ctx.store_failures after each batch */
    NC_COUNT
};

/* Read by the main thread while workers run (net_log_limits): atomics,
 * written by their one worker with plain relaxed stores. */
enum net_limit_counter {
    NL_RRL_DROPPED,
    NL_RRL_SLIPPED,
    NL_TCP_SHED, /* idle connections closed to admit a new one */
    NL_COUNT
};

struct worker;

struct net_udp {
    struct worker *w;
    int fd;
    bool pktinfo; /* bound to a wildcard: reply from the address the query came to */
    struct event *ev;
};

union net_ctl {
    char buf[SOCK_CTL_SPACE];
    struct cmsghdr align;
};

struct tcp_conn {
    struct worker *w;
    struct bufferevent *bev;
    struct tcp_conn *prev, *next; /* in w->conns, the most recently active first */
    uint64_t last_ms;             /* coarse monotonic ms of the last read or drained write */
    unsigned queries;
    bool closing; /* no more reading; free once the answers are written */
    bool paused;  /* reading stopped until the client takes its answers */
    bool counted; /* client is counted in net->conns: release on close */
    struct sockaddr_storage peer;
    socklen_t peerlen;
    struct addr_prefix client;
    struct xfr *xfr; /* a zone transfer being streamed (xfr.h); reading waits for its end */
};

struct worker {
    struct net *net;
    unsigned id;
    pthread_t thread;
    bool started;
    struct event_base *base;
    struct event *wake;  /* made active by the main thread after a publish */
    struct net_udp *udp; /* one per listen address */
    struct evconnlistener **tcp;
    struct tcp_conn *conns, *idlest; /* head and tail of the list by last activity */
    struct event *sweep;             /* pending while conns is not empty (net_tcp.c) */
    unsigned xfr_running;            /* transfers streaming on this worker (XFR_PER_WORKER) */
    struct store_reader *reader;     /* opened and closed in the worker's own thread */
    struct entry *covering;
    struct history_day *history; /* scratch for the score of one address */
    struct packet_ctx ctx;
    struct packet_info info;
    struct addr_prefix client; /* of the datagram being answered */
    struct rrl *rrl;           /* NULL = no rate limiting */
    uint64_t now_ms;           /* monotonic, per batch */
    _Atomic uint64_t limits[NL_COUNT];
    bool log_queries;
    uint64_t gen;           /* generation of the view in use */
    _Atomic uint64_t seen;  /* published copy of gen, for net_reclaim */
    uint64_t cnt[NC_COUNT]; /* read by others only after join */
    uint8_t *udp_in, *udp_out, *tcp_out;
    struct mmsghdr in[NET_BATCH], out[NET_BATCH];
    /* The first in_used headers of in[] were rewritten by the last
     * recvmmsg, on socket in_for; the rest are as set for in_for. */
    const struct net_udp *in_for;
    unsigned in_used;
    struct iovec in_iov[NET_BATCH], out_iov[NET_BATCH];
    struct sockaddr_storage peer[NET_BATCH];
    union net_ctl in_ctl[NET_BATCH], out_ctl[NET_BATCH];
};

struct net {
    struct config_listen *listens;
    char (*bound)[SOCK_ADDR_TEXT]; /* the address actually bound, for the log */
    size_t nlistens;
    unsigned tcp_idle_timeout, tcp_max_queries, tcp_max_clients, tcp_max_per_client;
    unsigned tcp_pressure_ms; /* the idle timeout while over half the connections are open */
    struct store *store;
    _Atomic(struct net_view *) view;
    uint64_t gen;
    struct net_view *retired;
    struct rrl_settings rrl;
    uint64_t rrl_seed;
    struct connlimit *conns;                   /* TCP connections, counted across workers */
    _Atomic uint64_t tcp_refused;              /* over a TCP limit */
    _Atomic int64_t tcp_refused_logged;        /* monotonic second of the last such log line */
    _Atomic int64_t tcp_shed_logged;           /* likewise for closing an idle one */
    uint64_t logged[NL_COUNT], logged_refused; /* totals at the last net_log_limits */
    struct worker *workers;
    size_t nworkers;
    pthread_mutex_t lock; /* guards running, failed, fail_why during start */
    pthread_cond_t cond;
    size_t running, failed;
    char fail_why[256];
};

/* Called first in every callback: from here to the callback's end the
 * worker uses this view, and says so through seen. */
static inline void worker_enter(struct worker *w)
{
    struct net_view *v = atomic_load_explicit(&w->net->view, memory_order_acquire);
    if (v->gen != w->gen) {
        w->gen = v->gen;
        atomic_store_explicit(&w->seen, v->gen, memory_order_release);
    }
    w->ctx.zones = v->zones;
    w->log_queries = v->log_queries;
    w->ctx.info = v->log_queries ? &w->info : NULL;
}

static inline uint64_t net_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Only this worker writes its counters: a relaxed load and store is enough
 * and costs no locked instruction. */
static inline void worker_count_limit(struct worker *w, enum net_limit_counter k)
{
    atomic_store_explicit(&w->limits[k],
                          atomic_load_explicit(&w->limits[k], memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* After a batch: queries answered SERVFAIL because a lookup failed. Logged
 * like worker_store_error, the first and then one in 10000. */
static inline void worker_note_lookup_errors(struct worker *w)
{
    uint64_t before = w->cnt[NC_LOOKUP_ERRORS], now = w->ctx.store_failures;
    if (now == before)
        return;
    w->cnt[NC_LOOKUP_ERRORS] = now;
    if (before / 10000 != now / 10000 || before == 0)
        log_error("worker %u: a store lookup failed (%llu times); answered SERVFAIL", w->id,
                  (unsigned long long)now);
}

/* net_worker.c */
void worker_log_query(struct worker *w, const struct sockaddr *sa, socklen_t len,
                      const char *proto);
void worker_store_error(struct worker *w);
int worker_init(struct net *n, struct worker *w, unsigned id);
void *worker_main(void *arg);
void worker_free(struct worker *w);

/* net_udp.c */
void worker_init_msgs(struct worker *w);
void net_on_udp(evutil_socket_t fd, short what, void *arg);

/* net_tcp.c */
unsigned tcp_pressure_ms(unsigned idle_timeout);
int tcp_worker_init(struct worker *w);
void tcp_close(struct tcp_conn *c);
void tcp_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                   void *arg);
void tcp_on_accept_error(struct evconnlistener *l, void *arg);

#endif
