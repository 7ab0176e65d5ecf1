/* net: listeners and workers. Every worker owns everything it touches on
 * the query path (event_base, sockets, store reader, buffers, counters, its
 * rate-limiting table), so the only shared state is the published view,
 * read with one acquire load per batch or callback, and the TCP connection
 * counts, touched on accept and close only. */
#include "net.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <ldns/ldns.h>

#include "connlimit.h"
#include "err.h"
#include "log.h"
#include "packet.h"
#include "sock.h"
#include "tcpframe.h"
#include "timeutil.h"

#define NET_BATCH 32     /* datagrams per recvmmsg/sendmmsg */
#define NET_UDP_ROUNDS 8 /* batches per callback before other events get a turn */
#define NET_UDP_IN 4096  /* a longer datagram is no query we answer (MSG_TRUNC: dropped) */
#define NET_TCP_BACKLOG 256
#define NET_TCP_READ_HIGH (2 * (PACKET_TCP_MAX + 2)) /* >= one whole frame, or reading stalls */
#define NET_TCP_OUT_HIGH (256 * 1024) /* stop reading a client that does not read its answers */

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
static const char *const net_counter_names[NC_COUNT] = {
    "udp queries", "udp dropped",  "udp unsent",   "tcp connections",
    "tcp queries", "tcp timeouts", "store errors", "store lookup errors",
};

/* Read by the main thread while workers run (net_log_limits): atomics,
 * written by their one worker with plain relaxed stores. */
enum net_limit_counter { NL_RRL_DROPPED, NL_RRL_SLIPPED, NL_COUNT };

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
    struct tcp_conn *prev, *next;
    unsigned queries;
    bool closing; /* no more reading; free once the answers are written */
    bool paused;  /* reading stopped until the client takes its answers */
    bool counted; /* client is counted in net->conns: release on close */
    struct sockaddr_storage peer;
    socklen_t peerlen;
    struct addr_prefix client;
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
    struct tcp_conn *conns;
    struct store_reader *reader; /* opened and closed in the worker's own thread */
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
    struct store *store;
    _Atomic(struct net_view *) view;
    uint64_t gen;
    struct net_view *retired;
    struct rrl_settings rrl;
    uint64_t rrl_seed;
    struct connlimit *conns;                   /* TCP connections, counted across workers */
    _Atomic uint64_t tcp_refused;              /* over a TCP limit */
    _Atomic int64_t tcp_refused_logged;        /* monotonic second of the last such log line */
    uint64_t logged[NL_COUNT], logged_refused; /* totals at the last net_log_limits */
    struct worker *workers;
    size_t nworkers;
    pthread_mutex_t lock; /* guards running, failed, fail_why during start */
    pthread_cond_t cond;
    size_t running, failed;
    char fail_why[256];
};

/* --- the view --- */

/* Called first in every callback: from here to the callback's end the
 * worker uses this view, and says so through seen. */
static void worker_enter(struct worker *w)
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

static void worker_on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    worker_enter(arg);
}

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

/* --- logging --- */

static uint64_t net_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Only this worker writes its counters: a relaxed load and store is enough
 * and costs no locked instruction. */
static void worker_count_limit(struct worker *w, enum net_limit_counter k)
{
    atomic_store_explicit(&w->limits[k],
                          atomic_load_explicit(&w->limits[k], memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

static void worker_log_query(struct worker *w, const struct sockaddr *sa, socklen_t len,
                             const char *proto)
{
    char peer[SOCK_ADDR_TEXT], tbuf[16], rbuf[16];
    sock_format_addr(sa, len, "#", peer, sizeof peer);
    const ldns_rr_descriptor *d = ldns_rr_descript(w->info.qtype);
    ldns_lookup_table *r = ldns_lookup_by_id(ldns_rcodes, w->info.rcode);
    snprintf(tbuf, sizeof tbuf, "TYPE%u", w->info.qtype);
    snprintf(rbuf, sizeof rbuf, "RCODE%u", w->info.rcode);
    const char *type = d != NULL && d->_name != NULL ? d->_name : tbuf;
    const char *rcode = r != NULL && r->name != NULL ? r->name : rbuf;
    log_info("query %s %s %s %s %s%s", peer, proto, w->info.qname[0] ? w->info.qname : "-", type,
             rcode, w->info.truncated ? " TC" : "");
}

static void worker_store_error(struct worker *w)
{
    /* The first failure and then one in 10000: enough to see it, not a flood. */
    if (w->cnt[NC_STORE_ERRORS]++ % 10000 == 0)
        log_error("worker %u: cannot begin a store read (%llu times): %s; dropping queries", w->id,
                  (unsigned long long)w->cnt[NC_STORE_ERRORS], store_reader_why(w->reader));
}

/* After a batch: queries answered SERVFAIL because a lookup failed. Logged
 * like worker_store_error, the first and then one in 10000. */
static void worker_note_lookup_errors(struct worker *w)
{
    uint64_t before = w->cnt[NC_LOOKUP_ERRORS], now = w->ctx.store_failures;
    if (now == before)
        return;
    w->cnt[NC_LOOKUP_ERRORS] = now;
    if (before / 10000 != now / 10000 || before == 0)
        log_error("worker %u: a store lookup failed (%llu times); answered SERVFAIL", w->id,
                  (unsigned long long)now);
}

/* --- UDP --- */

static void worker_send_udp(struct worker *w, int fd, unsigned nout)
{
    unsigned sent = 0;
    while (sent < nout) {
        int r = sendmmsg(fd, w->out + sent, nout - sent, MSG_DONTWAIT);
        if (r > 0) {
            sent += (unsigned)r;
        } else if (r < 0 && errno == EINTR) {
            continue;
        } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
            /* Never block: a full socket buffer drops the rest of the batch. */
            w->cnt[NC_UDP_UNSENT] += nout - sent;
            return;
        } else {
            /* This one datagram failed on its own (e.g. no route): skip it. */
            w->cnt[NC_UDP_UNSENT]++;
            sent++;
        }
    }
}

/* The UDP stage around packet_answer: who asks (zone ACLs need it), then
 * response rate limiting, which may drop the query before any store
 * lookup or answer it truncated. True when out holds an answer to send. */
static bool worker_udp_stage(struct worker *w, const struct msghdr *h, const uint8_t *in,
                             size_t inlen, uint8_t *out, size_t *outlen)
{
    /* The client's prefix is only looked at by zone ACLs and rate limiting. */
    bool known = false;
    if (w->rrl != NULL || (w->ctx.zones != NULL && w->ctx.zones->acl))
        known = sock_client(h->msg_name, h->msg_namelen, &w->client);
    w->ctx.client = known ? &w->client : NULL;
    enum rrl_verdict v = RRL_PASS;
    if (w->rrl != NULL && known)
        v = rrl_check(w->rrl, &w->client, w->now_ms);
    if (v == RRL_DROP) {
        worker_count_limit(w, NL_RRL_DROPPED);
        return false;
    }
    enum packet_outcome o;
    if (v == RRL_SLIP) {
        worker_count_limit(w, NL_RRL_SLIPPED);
        o = packet_answer_slip(&w->ctx, in, inlen, out, PACKET_EDNS_SIZE, outlen);
    } else {
        o = packet_answer(&w->ctx, PACKET_UDP, in, inlen, out, PACKET_EDNS_SIZE, outlen);
    }
    if (o != PACKET_ANSWER)
        w->cnt[NC_UDP_DROPPED]++;
    return o == PACKET_ANSWER;
}

static void worker_answer_udp(struct worker *w, struct net_udp *u, unsigned got)
{
    w->cnt[NC_UDP_QUERIES] += got;
    if (store_reader_begin(w->reader) != DNSBL_OK) {
        worker_store_error(w);
        w->cnt[NC_UDP_DROPPED] += got;
        return;
    }
    w->ctx.now = time_now();
    if (w->rrl != NULL)
        w->now_ms = net_monotonic_ms();
    unsigned nout = 0;
    for (unsigned i = 0; i < got; i++) {
        struct msghdr *h = &w->in[i].msg_hdr;
        uint8_t *out = w->udp_out + (size_t)nout * PACKET_EDNS_SIZE;
        size_t outlen = 0;
        if ((h->msg_flags & MSG_TRUNC) != 0) {
            w->cnt[NC_UDP_DROPPED]++;
            continue;
        }
        if (!worker_udp_stage(w, h, w->udp_in + (size_t)i * NET_UDP_IN, w->in[i].msg_len, out,
                              &outlen))
            continue;
        if (w->log_queries)
            worker_log_query(w, h->msg_name, h->msg_namelen, "udp");
        /* msg_iov was set once (worker_init_msgs); the rest changes per datagram. */
        struct msghdr *oh = &w->out[nout].msg_hdr;
        w->out_iov[nout].iov_base = out;
        w->out_iov[nout].iov_len = outlen;
        oh->msg_name = h->msg_name;
        oh->msg_namelen = h->msg_namelen;
        oh->msg_control = NULL;
        oh->msg_controllen = 0;
        if (u->pktinfo)
            sock_reply_pktinfo(h, oh, w->out_ctl[nout].buf);
        nout++;
    }
    store_reader_end(w->reader);
    worker_note_lookup_errors(w);
    worker_send_udp(w, u->fd, nout);
}

static void net_on_udp(evutil_socket_t fd, short what, void *arg)
{
    struct net_udp *u = arg;
    struct worker *w = u->w;
    (void)what;
    worker_enter(w);
    for (int round = 0; round < NET_UDP_ROUNDS; round++) {
        /* recvmmsg rewrites only the lengths (and msg_flags) of the
         * datagrams it returns; the buffers were set once
         * (worker_init_msgs). A worker's sockets differ in pktinfo, so
         * the control buffers are set again when the socket changes --
         * otherwise only the headers the last batch used, which at a
         * few datagrams a wakeup is most of a batch's own cost. */
        unsigned reset = w->in_for == u ? w->in_used : NET_BATCH;
        for (unsigned i = 0; i < reset; i++) {
            struct msghdr *h = &w->in[i].msg_hdr;
            h->msg_namelen = sizeof w->peer[i];
            h->msg_control = u->pktinfo ? w->in_ctl[i].buf : NULL;
            h->msg_controllen = u->pktinfo ? sizeof w->in_ctl[i].buf : 0;
        }
        w->in_for = u;
        int got = recvmmsg(fd, w->in, NET_BATCH, MSG_DONTWAIT, NULL);
        w->in_used = got > 0 ? (unsigned)got : 0;
        if (got <= 0)
            return; /* EAGAIN: drained; anything else concerns one datagram */
        worker_answer_udp(w, u, (unsigned)got);
        if (got < NET_BATCH)
            return;
    }
}

/* --- TCP (RFC 7766) --- */

static void tcp_close(struct tcp_conn *c)
{
    struct worker *w = c->w;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    if (c->counted)
        connlimit_release(w->net->conns, &c->client);
    bufferevent_free(c->bev);
    free(c);
}

#define NET_TCP_BATCH 16384 /* answers gathered before they go to the output buffer */

/* Write the answers gathered in batch[0..*n) to c's output, in one piece. */
static void tcp_flush(struct tcp_conn *c, const uint8_t *batch, size_t *n)
{
    if (*n > 0)
        bufferevent_write(c->bev, batch, *n);
    *n = 0;
}

/* Answer every complete frame in the input, in order, under one store
 * read; closes c when it is done with it (so c may be gone on return).
 * Frames are answered where they lie in the input's first chunk and
 * dropped from it together, and their answers gathered and handed to the
 * output together: libevent runs a buffer's callbacks on every drain and
 * write (re-arming the read event each time), which per frame cost more
 * than a tenth of a pipelined query's instructions. */
static void tcp_process(struct tcp_conn *c)
{
    struct worker *w = c->w;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    struct evbuffer *out = bufferevent_get_output(c->bev);
    uint8_t batch[NET_TCP_BATCH];
    size_t nbatch = 0;
    const uint8_t *chunk = NULL; /* the input's first span bytes, done of them answered */
    size_t span = 0, done = 0;
    bool begun = false;

    while (!c->closing && !c->paused) {
        struct tcpframe f;
        size_t size = span - done >= TCPFRAME_PREFIX ? tcpframe_size(chunk + done, span - done) : 0;
        if (size == 0 || span - done < size) {
            /* Not all in the chunk: drop what was answered, make the frame contiguous. */
            uint8_t hdr[TCPFRAME_PREFIX];
            if (done > 0)
                evbuffer_drain(in, done);
            done = 0;
            size_t avail = evbuffer_get_length(in);
            size = evbuffer_copyout(in, hdr, sizeof hdr) == (ev_ssize_t)sizeof hdr
                       ? tcpframe_size(hdr, sizeof hdr)
                       : 0;
            if (size == 0 || avail < size)
                break;
            span = evbuffer_get_contiguous_space(in);
            if (span < size)
                span = size;
            chunk = evbuffer_pullup(in, (ev_ssize_t)span);
            if (chunk == NULL) {
                c->closing = true;
                break;
            }
        }
        if (!tcpframe_next(chunk + done, size, &f)) {
            c->closing = true;
            break;
        }
        if (!begun) {
            if (store_reader_begin(w->reader) != DNSBL_OK) {
                worker_store_error(w);
                c->closing = true;
                break;
            }
            w->ctx.now = time_now();
            begun = true;
        }
        size_t outlen = 0;
        w->cnt[NC_TCP_QUERIES]++;
        /* Never rate-limited: a TCP client has proved its address. */
        w->ctx.client = c->counted ? &c->client : NULL;
        enum packet_outcome po = packet_answer(&w->ctx, PACKET_TCP, f.msg, f.len, w->tcp_out + 2,
                                               PACKET_TCP_MAX, &outlen);
        done += f.used;
        if (po == PACKET_ANSWER) {
            w->tcp_out[0] = (uint8_t)(outlen >> 8);
            w->tcp_out[1] = (uint8_t)outlen;
            if (nbatch + outlen + 2 > sizeof batch)
                tcp_flush(c, batch, &nbatch);
            if (outlen + 2 > sizeof batch) {
                bufferevent_write(c->bev, w->tcp_out, outlen + 2);
            } else {
                memcpy(batch + nbatch, w->tcp_out, outlen + 2);
                nbatch += outlen + 2;
            }
            if (w->log_queries)
                worker_log_query(w, (struct sockaddr *)&c->peer, c->peerlen, "tcp");
        }
        if (++c->queries >= w->net->tcp_max_queries)
            c->closing = true;
        else if (evbuffer_get_length(out) + nbatch > NET_TCP_OUT_HIGH)
            c->paused = true;
    }
    if (done > 0)
        evbuffer_drain(in, done);
    tcp_flush(c, batch, &nbatch);
    if (begun) {
        store_reader_end(w->reader);
        worker_note_lookup_errors(w);
    }
    if (c->closing || c->paused)
        bufferevent_disable(c->bev, EV_READ);
    if (c->closing && evbuffer_get_length(out) == 0)
        tcp_close(c);
}

static void tcp_on_read(struct bufferevent *bev, void *arg)
{
    struct tcp_conn *c = arg;
    (void)bev;
    worker_enter(c->w);
    tcp_process(c);
}

/* Called when the output has drained (low watermark 0). */
static void tcp_on_write(struct bufferevent *bev, void *arg)
{
    struct tcp_conn *c = arg;
    if (c->closing) {
        tcp_close(c);
    } else if (c->paused) {
        c->paused = false;
        bufferevent_enable(bev, EV_READ);
        worker_enter(c->w);
        tcp_process(c);
    }
}

static void tcp_on_event(struct bufferevent *bev, short what, void *arg)
{
    struct tcp_conn *c = arg;
    if ((what & BEV_EVENT_EOF) != 0 && (what & BEV_EVENT_ERROR) == 0 &&
        evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
        /* Half-closed: the client may still read the answers it asked for. */
        c->closing = true;
        bufferevent_disable(bev, EV_READ);
        return;
    }
    if ((what & BEV_EVENT_TIMEOUT) != 0)
        c->w->cnt[NC_TCP_TIMEOUTS]++;
    tcp_close(c);
}

/* One line a second at most, however many connections are refused. */
static void net_log_refused(struct net *n, const struct sockaddr *sa, int salen,
                            enum connlimit_verdict v)
{
    int64_t now = (int64_t)(net_monotonic_ms() / 1000);
    int64_t last = atomic_load_explicit(&n->tcp_refused_logged, memory_order_relaxed);
    if (now == last || !atomic_compare_exchange_strong(&n->tcp_refused_logged, &last, now))
        return;
    char peer[SOCK_ADDR_TEXT];
    sock_format_addr(sa, (socklen_t)salen, "#", peer, sizeof peer);
    if (v == CONNLIMIT_TOTAL)
        log_warn("tcp: closed a connection from %s: %u are open (tcp_max_clients)", peer,
                 n->tcp_max_clients);
    else
        log_warn("tcp: closed a connection from %s: it has %u open (tcp_max_per_client)", peer,
                 n->tcp_max_per_client);
}

static void tcp_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                          int salen, void *arg)
{
    struct worker *w = arg;
    struct net *n = w->net;
    struct addr_prefix client = {0};
    (void)l;
    bool known = salen > 0 && sock_client(sa, (socklen_t)salen, &client);
    if (known) {
        /* Over a limit the connection is closed at once: held open, it
         * would only wait for a slot that idle clients keep. */
        enum connlimit_verdict v = connlimit_acquire(n->conns, &client);
        if (v != CONNLIMIT_OK) {
            evutil_closesocket(fd);
            atomic_fetch_add_explicit(&n->tcp_refused, 1, memory_order_relaxed);
            net_log_refused(n, sa, salen, v);
            return;
        }
    }
    /* Answers go out as soon as written: with Nagle, the last answers of
     * a pipelined batch wait for the client's delayed ACK (up to 40 ms on
     * Linux) while the client waits for them before sending more. */
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct tcp_conn *c = calloc(1, sizeof *c);
    if (c == NULL ||
        (c->bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
        free(c);
        evutil_closesocket(fd);
        if (known)
            connlimit_release(n->conns, &client);
        return;
    }
    c->w = w;
    c->counted = known;
    c->client = client;
    if (salen > 0 && (size_t)salen <= sizeof c->peer) {
        memcpy(&c->peer, sa, (size_t)salen);
        c->peerlen = (socklen_t)salen;
    }
    struct timeval idle = {.tv_sec = w->net->tcp_idle_timeout, .tv_usec = 0};
    bufferevent_setcb(c->bev, tcp_on_read, tcp_on_write, tcp_on_event, c);
    bufferevent_setwatermark(c->bev, EV_READ, 0, NET_TCP_READ_HIGH);
    bufferevent_set_timeouts(c->bev, &idle, &idle);
    bufferevent_enable(c->bev, EV_READ);
    c->next = w->conns;
    if (w->conns != NULL)
        w->conns->prev = c;
    w->conns = c;
    w->cnt[NC_TCP_CONNECTIONS]++;
}

static void worker_on_accept_retry(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    (void)fd;
    (void)what;
    for (size_t i = 0; i < w->net->nlistens; i++)
        evconnlistener_enable(w->tcp[i]);
}

static void tcp_on_accept_error(struct evconnlistener *l, void *arg)
{
    struct worker *w = arg;
    int err = EVUTIL_SOCKET_ERROR();
    (void)l;
    /* Typically out of descriptors: retrying at once would spin. */
    log_warn("worker %u: accept failed: %s; pausing TCP accepts for a second", w->id,
             strerror(err));
    for (size_t i = 0; i < w->net->nlistens; i++)
        evconnlistener_disable(w->tcp[i]);
    struct timeval sec = {1, 0};
    event_base_once(w->base, -1, EV_TIMEOUT, worker_on_accept_retry, w, &sec);
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

/* --- workers --- */

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

static void *worker_main(void *arg)
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

/* The parts of the recvmmsg/sendmmsg headers that never change. */
static void worker_init_msgs(struct worker *w)
{
    for (unsigned i = 0; i < NET_BATCH; i++) {
        w->in_iov[i] = (struct iovec){w->udp_in + (size_t)i * NET_UDP_IN, NET_UDP_IN};
        w->in[i].msg_hdr = (struct msghdr){.msg_name = &w->peer[i],
                                           .msg_namelen = sizeof w->peer[i],
                                           .msg_iov = &w->in_iov[i],
                                           .msg_iovlen = 1};
        w->out[i].msg_hdr = (struct msghdr){.msg_iov = &w->out_iov[i], .msg_iovlen = 1};
    }
}

static int worker_init(struct net *n, struct worker *w, unsigned id)
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

static void worker_free(struct worker *w)
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
    n->rrl = s->rrl;
    atomic_init(&n->tcp_refused, 0);
    atomic_init(&n->tcp_refused_logged, 0);
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
    snprintf(line + len, sizeof line - len,
             ", tcp refused %llu, rrl limited %llu, rrl dropped %llu, rrl slipped %llu",
             (unsigned long long)refused,
             (unsigned long long)(lim[NL_RRL_DROPPED] + lim[NL_RRL_SLIPPED]),
             (unsigned long long)lim[NL_RRL_DROPPED], (unsigned long long)lim[NL_RRL_SLIPPED]);
    log_info("served: %s", line);
    net_free(n);
}
