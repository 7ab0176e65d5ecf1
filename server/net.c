/* net: listeners and workers. Every worker owns everything it touches on
 * the query path (event_base, sockets, store reader, buffers, counters), so
 * the only shared state is the published view, read with one acquire load
 * per batch or callback. */
#include "net.h"

#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <ldns/ldns.h>

#include "err.h"
#include "log.h"
#include "packet.h"
#include "tcpframe.h"
#include "timeutil.h"

#define NET_BATCH 32     /* datagrams per recvmmsg/sendmmsg */
#define NET_UDP_ROUNDS 8 /* batches per callback before other events get a turn */
#define NET_UDP_IN 4096  /* a longer datagram is no query we answer (MSG_TRUNC: dropped) */
#define NET_RCVBUF (4 << 20)
#define NET_TCP_BACKLOG 256
#define NET_TCP_READ_HIGH (2 * (PACKET_TCP_MAX + 2)) /* >= one whole frame, or reading stalls */
#define NET_TCP_OUT_HIGH (256 * 1024) /* stop reading a client that does not read its answers */
#define NET_BIND_TRIES 16
#define NET_CTL_SPACE CMSG_SPACE(sizeof(struct in6_pktinfo))
#define NET_HOST_TEXT (INET6_ADDRSTRLEN + IF_NAMESIZE + 2)
#define NET_ADDR_TEXT (NET_HOST_TEXT + 16) /* "[host]:port" */

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
    NC_COUNT
};
static const char *const net_counter_names[NC_COUNT] = {
    "udp queries", "udp dropped",  "udp unsent",   "tcp connections",
    "tcp queries", "tcp timeouts", "store errors",
};

struct worker;

struct net_udp {
    struct worker *w;
    int fd;
    bool pktinfo; /* bound to a wildcard: reply from the address the query came to */
    struct event *ev;
};

union net_ctl {
    char buf[NET_CTL_SPACE];
    struct cmsghdr align;
};

struct tcp_conn {
    struct worker *w;
    struct bufferevent *bev;
    struct tcp_conn *prev, *next;
    unsigned queries;
    bool closing; /* no more reading; free once the answers are written */
    bool paused;  /* reading stopped until the client takes its answers */
    struct sockaddr_storage peer;
    socklen_t peerlen;
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
    bool log_queries;
    uint64_t gen;           /* generation of the view in use */
    _Atomic uint64_t seen;  /* published copy of gen, for net_reclaim */
    uint64_t cnt[NC_COUNT]; /* read by others only after join */
    uint8_t *udp_in, *udp_out, *tcp_out;
    struct mmsghdr in[NET_BATCH], out[NET_BATCH];
    struct iovec in_iov[NET_BATCH], out_iov[NET_BATCH];
    struct sockaddr_storage peer[NET_BATCH];
    union net_ctl in_ctl[NET_BATCH], out_ctl[NET_BATCH];
};

struct net {
    struct config_listen *listens;
    char (*bound)[NET_ADDR_TEXT]; /* the address actually bound, for the log */
    size_t nlistens;
    unsigned tcp_idle_timeout, tcp_max_queries;
    struct store *store;
    _Atomic(struct net_view *) view;
    uint64_t gen;
    struct net_view *retired;
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

/* "127.0.0.1:53" / "[::1]:53", or with sep "#" BIND's "::1#53". */
static void net_format_addr(const struct sockaddr *sa, socklen_t len, const char *sep, char *buf,
                            size_t cap)
{
    char host[NET_HOST_TEXT] = "?", serv[8] = "?";
    getnameinfo(sa, len, host, sizeof host, serv, sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV);
    bool brackets = sa->sa_family == AF_INET6 && sep[0] == ':';
    snprintf(buf, cap, "%s%s%s%s%s", brackets ? "[" : "", host, brackets ? "]" : "", sep, serv);
}

static void worker_log_query(struct worker *w, const struct sockaddr *sa, socklen_t len,
                             const char *proto)
{
    char peer[NET_ADDR_TEXT], tbuf[16], rbuf[16];
    net_format_addr(sa, len, "#", peer, sizeof peer);
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
        log_error("worker %u: cannot begin a store read (%llu times); dropping queries", w->id,
                  (unsigned long long)w->cnt[NC_STORE_ERRORS]);
}

/* --- UDP --- */

/* Echo the query's destination address as the reply's source, so a
 * wildcard listener answers from the address that was asked. */
static void net_reply_pktinfo(struct msghdr *in, struct msghdr *out, union net_ctl *ctl)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(in); c != NULL; c = CMSG_NXTHDR(in, c)) {
        bool v4 = c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO;
        if (!v4 && !(c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO))
            continue;
        size_t dlen = v4 ? sizeof(struct in_pktinfo) : sizeof(struct in6_pktinfo);
        out->msg_control = ctl->buf;
        out->msg_controllen = CMSG_SPACE(dlen);
        struct cmsghdr *o = CMSG_FIRSTHDR(out);
        o->cmsg_level = c->cmsg_level;
        o->cmsg_type = c->cmsg_type;
        o->cmsg_len = CMSG_LEN(dlen);
        memcpy(CMSG_DATA(o), CMSG_DATA(c), dlen);
        if (v4) {
            struct in_pktinfo pi;
            memcpy(&pi, CMSG_DATA(o), sizeof pi);
            pi.ipi_spec_dst = pi.ipi_addr;
            pi.ipi_ifindex = 0;
            memcpy(CMSG_DATA(o), &pi, sizeof pi);
        }
        return;
    }
}

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

static void worker_answer_udp(struct worker *w, struct net_udp *u, unsigned got)
{
    w->cnt[NC_UDP_QUERIES] += got;
    if (store_reader_begin(w->reader) != DNSBL_OK) {
        worker_store_error(w);
        w->cnt[NC_UDP_DROPPED] += got;
        return;
    }
    w->ctx.now = time_now();
    unsigned nout = 0;
    for (unsigned i = 0; i < got; i++) {
        struct msghdr *h = &w->in[i].msg_hdr;
        uint8_t *out = w->udp_out + (size_t)nout * PACKET_EDNS_SIZE;
        size_t outlen = 0;
        if ((h->msg_flags & MSG_TRUNC) != 0 ||
            packet_answer(&w->ctx, PACKET_UDP, w->udp_in + (size_t)i * NET_UDP_IN, w->in[i].msg_len,
                          out, PACKET_EDNS_SIZE, &outlen) != PACKET_ANSWER) {
            w->cnt[NC_UDP_DROPPED]++;
            continue;
        }
        if (w->log_queries)
            worker_log_query(w, h->msg_name, h->msg_namelen, "udp");
        w->out_iov[nout] = (struct iovec){.iov_base = out, .iov_len = outlen};
        w->out[nout].msg_hdr = (struct msghdr){.msg_name = h->msg_name,
                                               .msg_namelen = h->msg_namelen,
                                               .msg_iov = &w->out_iov[nout],
                                               .msg_iovlen = 1};
        if (u->pktinfo)
            net_reply_pktinfo(h, &w->out[nout].msg_hdr, &w->out_ctl[nout]);
        nout++;
    }
    store_reader_end(w->reader);
    worker_send_udp(w, u->fd, nout);
}

static void net_on_udp(evutil_socket_t fd, short what, void *arg)
{
    struct net_udp *u = arg;
    struct worker *w = u->w;
    (void)what;
    worker_enter(w);
    for (int round = 0; round < NET_UDP_ROUNDS; round++) {
        for (unsigned i = 0; i < NET_BATCH; i++) {
            w->in_iov[i] = (struct iovec){w->udp_in + (size_t)i * NET_UDP_IN, NET_UDP_IN};
            w->in[i].msg_hdr = (struct msghdr){.msg_name = &w->peer[i],
                                               .msg_namelen = sizeof w->peer[i],
                                               .msg_iov = &w->in_iov[i],
                                               .msg_iovlen = 1};
            if (u->pktinfo) {
                w->in[i].msg_hdr.msg_control = w->in_ctl[i].buf;
                w->in[i].msg_hdr.msg_controllen = sizeof w->in_ctl[i].buf;
            }
        }
        int got = recvmmsg(fd, w->in, NET_BATCH, MSG_DONTWAIT, NULL);
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
    bufferevent_free(c->bev);
    free(c);
}

/* Answer every complete frame in the input, in order, under one store
 * read; closes c when it is done with it (so c may be gone on return). */
static void tcp_process(struct tcp_conn *c)
{
    struct worker *w = c->w;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    struct evbuffer *out = bufferevent_get_output(c->bev);
    bool begun = false;

    while (!c->closing && !c->paused) {
        uint8_t hdr[TCPFRAME_PREFIX];
        struct tcpframe f;
        size_t avail = evbuffer_get_length(in);
        size_t size = evbuffer_copyout(in, hdr, sizeof hdr) == (ev_ssize_t)sizeof hdr
                          ? tcpframe_size(hdr, sizeof hdr)
                          : 0;
        if (size == 0 || avail < size)
            break;
        /* Made contiguous, the frame is answered where it lies. */
        const uint8_t *frame = evbuffer_pullup(in, (ev_ssize_t)size);
        if (frame == NULL || !tcpframe_next(frame, size, &f)) {
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
        enum packet_outcome po = packet_answer(&w->ctx, PACKET_TCP, f.msg, f.len, w->tcp_out + 2,
                                               PACKET_TCP_MAX, &outlen);
        evbuffer_drain(in, f.used);
        if (po == PACKET_ANSWER) {
            w->tcp_out[0] = (uint8_t)(outlen >> 8);
            w->tcp_out[1] = (uint8_t)outlen;
            bufferevent_write(c->bev, w->tcp_out, outlen + 2);
            if (w->log_queries)
                worker_log_query(w, (struct sockaddr *)&c->peer, c->peerlen, "tcp");
        }
        if (++c->queries >= w->net->tcp_max_queries)
            c->closing = true;
        else if (evbuffer_get_length(out) > NET_TCP_OUT_HIGH)
            c->paused = true;
    }
    if (begun)
        store_reader_end(w->reader);
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

static void tcp_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                          int salen, void *arg)
{
    struct worker *w = arg;
    (void)l;
    struct tcp_conn *c = calloc(1, sizeof *c);
    if (c == NULL ||
        (c->bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
        free(c);
        evutil_closesocket(fd);
        return;
    }
    c->w = w;
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

/* --- sockets --- */

static uint16_t net_port(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)ss)->sin_port);
    return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static void net_set_port(struct sockaddr_storage *ss, uint16_t port)
{
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static bool net_is_wildcard(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
    return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

/* A bound socket, or -1 with errno set. */
static int net_socket(const struct sockaddr_storage *ss, socklen_t len, int type, bool reuseport)
{
    int fd = socket(ss->ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    if (type == SOCK_STREAM)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        goto fail;
    if (ss->ss_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0)
        goto fail;
    if (type == SOCK_DGRAM) {
        int rcv = NET_RCVBUF; /* the kernel caps it at rmem_max; best effort */
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
        if (net_is_wildcard(ss)) {
            if (ss->ss_family == AF_INET)
                setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
            else
                setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
        }
    }
    if (bind(fd, (const struct sockaddr *)ss, len) != 0)
        goto fail;
    return fd;
fail:;
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

/* 0 if nobody holds the port: a socket without SO_REUSEPORT only binds
 * then, so we never silently share a port with another server. */
static int net_probe(const struct sockaddr_storage *ss, socklen_t len, int type)
{
    int fd = net_socket(ss, len, type, false);
    if (fd < 0)
        return errno;
    close(fd);
    return 0;
}

/* Choose the port for listen address li: the configured one, or for port 0
 * one the kernel picks for TCP (its port-0 choice avoids SO_REUSEPORT
 * groups, UDP's does not) and that is also free for UDP. *tcp0 gets the
 * TCP socket bound in doing so, or -1. */
static int net_choose_port(struct net *n, size_t li, struct sockaddr_storage *addr, int *tcp0,
                           char *why, size_t whylen)
{
    const struct config_listen *l = &n->listens[li];
    bool any = net_port(&l->addr) == 0;
    *addr = l->addr;
    *tcp0 = -1;
    for (int attempt = 0;; attempt++) {
        const char *proto = "tcp";
        int err = 0;
        if (any) {
            net_set_port(addr, 0);
            *tcp0 = net_socket(addr, l->addrlen, SOCK_STREAM, true);
            socklen_t alen = sizeof *addr;
            if (*tcp0 < 0 || getsockname(*tcp0, (struct sockaddr *)addr, &alen) != 0)
                err = errno;
        } else {
            err = net_probe(addr, l->addrlen, SOCK_STREAM);
        }
        if (err == 0) {
            proto = "udp";
            err = net_probe(addr, l->addrlen, SOCK_DGRAM);
        }
        if (err == 0)
            return DNSBL_OK;
        if (*tcp0 >= 0)
            close(*tcp0);
        *tcp0 = -1;
        if (!(any && err == EADDRINUSE && attempt < NET_BIND_TRIES)) {
            snprintf(why, whylen, "cannot listen on %s (%s): %s", l->text, proto, strerror(err));
            return DNSBL_EIO;
        }
    }
}

static int net_bind_listen(struct net *n, size_t li, char *why, size_t whylen)
{
    const struct config_listen *l = &n->listens[li];
    struct sockaddr_storage addr;
    int tcp0;
    int rc = net_choose_port(n, li, &addr, &tcp0, why, whylen);
    if (rc != DNSBL_OK)
        return rc;
    net_format_addr((struct sockaddr *)&addr, l->addrlen, ":", n->bound[li], sizeof n->bound[li]);

    const unsigned lflags = LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_FREE;
    for (size_t k = 0; k < n->nworkers; k++) {
        struct worker *w = &n->workers[k];
        struct net_udp *u = &w->udp[li];
        const char *proto = "udp";
        u->fd = net_socket(&addr, l->addrlen, SOCK_DGRAM, true);
        if (u->fd < 0)
            goto fail;
        u->pktinfo = net_is_wildcard(&addr);
        u->ev = event_new(w->base, u->fd, EV_READ | EV_PERSIST, net_on_udp, u);
        if (u->ev == NULL || event_add(u->ev, NULL) != 0)
            goto fail;
        proto = "tcp";
        int fd = tcp0;
        tcp0 = -1;
        if (fd < 0 && (fd = net_socket(&addr, l->addrlen, SOCK_STREAM, true)) < 0)
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
    for (size_t i = 0; i < n->nlistens; i++) {
        w->udp[i].w = w;
        w->udp[i].fd = -1;
    }
    w->ctx.covering = w->covering;
    w->ctx.covering_cap = STORE_COVERING_MAX;
    w->ctx.history = w->history;
    w->ctx.history_cap = STORE_HISTORY_MAX;
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
    *out = n;
    return DNSBL_OK;

fail:
    net_halt(n);
    v->zones = NULL; /* still the caller's */
    net_free(n);
    return rc;
}

void net_stop(struct net *n)
{
    net_halt(n);
    char line[512];
    size_t len = 0;
    for (int k = 0; k < NC_COUNT; k++) {
        uint64_t sum = 0;
        for (size_t i = 0; i < n->nworkers; i++)
            sum += n->workers[i].cnt[k];
        len += (size_t)snprintf(line + len, sizeof line - len, "%s%s %llu", k ? ", " : "",
                                net_counter_names[k], (unsigned long long)sum);
    }
    log_info("served: %s", line);
    net_free(n);
}
