/* net_tcp: DNS over TCP (RFC 7766) for a worker: accepting connections
 * against the limits shared by all workers (connlimit.h), reassembling
 * frames (tcpframe.h), answering them in order, closing idle ones. A
 * connection belongs to the worker that accepted it and is freed by
 * tcp_close, in that worker's thread.
 *
 * Idle connections under pressure (RFC 7766 section 6.2.3: servers may
 * close idle connections, with zero timeouts under heavy load or attack):
 * each worker keeps its connections in a list by last activity. When the
 * table is full, the accepting worker closes its own longest-idle one to
 * admit the new client, as long as it has one (no answer waiting to be
 * read); and while more than half of the table is open, every worker
 * closes its connections idle for longer than tcp_pressure_ms. A worker
 * never touches another's connections (they belong to its thread): the
 * kernel spreads connections over the workers' listeners, so a worker
 * whose share is empty refuses as before, and the shortened timeout soon
 * frees the slots the others hold. */
#include <errno.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "err.h"
#include "net_int.h"
#include "store.h"
#include "tcpframe.h"
#include "timeutil.h"

#define NET_TCP_PRESSURE_MIN_MS 200 /* a round trip across the world fits */
#define NET_TCP_SHED_SCAN 32        /* connections looked at for an idle one */

/* A tenth of the idle timeout, at least NET_TCP_PRESSURE_MIN_MS: 1 s for
 * the default 10 s, still long enough for a client to send its next
 * query after an answer, while an idle flood drains ten times faster. */
unsigned tcp_pressure_ms(unsigned idle_timeout)
{
    uint64_t ms = (uint64_t)idle_timeout * 100;
    return ms < NET_TCP_PRESSURE_MIN_MS ? NET_TCP_PRESSURE_MIN_MS : (unsigned)ms;
}

/* The clock the list is ordered by: coarse (a few ms) is plenty and costs
 * no system call. */
static uint64_t tcp_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void tcp_list_unlink(struct tcp_conn *c)
{
    struct worker *w = c->w;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    else
        w->idlest = c->prev;
    c->prev = c->next = NULL;
}

/* c becomes the most recently active of its worker. */
static void tcp_list_push(struct tcp_conn *c)
{
    struct worker *w = c->w;
    c->last_ms = tcp_now_ms();
    c->prev = NULL;
    c->next = w->conns;
    if (w->conns != NULL)
        w->conns->prev = c;
    else
        w->idlest = c;
    w->conns = c;
}

static void tcp_touch(struct tcp_conn *c)
{
    if (c->w->conns != c) {
        tcp_list_unlink(c);
        tcp_list_push(c);
    } else {
        c->last_ms = tcp_now_ms();
    }
}

/* Nothing owed to the client: no answer waiting to be read, no query
 * being answered. A half-sent query does not count: a client that stops
 * in the middle of one is as idle as one that sends nothing. */
static bool tcp_is_idle(const struct tcp_conn *c)
{
    return !c->closing && !c->paused && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0;
}

static void tcp_xfr_end(struct tcp_conn *c)
{
    if (c->xfr == NULL)
        return;
    if (xfr_counts(c->xfr))
        c->w->xfr_running--;
    xfr_free(c->xfr);
    c->xfr = NULL;
}

void tcp_close(struct tcp_conn *c)
{
    struct worker *w = c->w;
    tcp_xfr_end(c);
    tcp_list_unlink(c);
    if (w->conns == NULL)
        event_del(w->sweep);
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

/* Write the transfer's next messages while the output holds less than
 * NET_XFR_OUT_HIGH, then give the loop back: the write callback (output
 * below NET_XFR_OUT_LOW) calls again, so other clients of this worker are
 * served between messages and a slow reader holds one output's worth.
 * At the end reading resumes once the output has drained (tcp_on_write).
 * Never closes c: on a store error it is marked closing for the caller. */
static void tcp_xfr_pump(struct tcp_conn *c)
{
    struct worker *w = c->w;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    while (c->xfr != NULL && evbuffer_get_length(out) < NET_XFR_OUT_HIGH) {
        size_t len = 0;
        int rc = xfr_next(c->xfr, w->tcp_out + 2, &len);
        if (rc <= 0) {
            tcp_xfr_end(c);
            bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
            if (rc < 0) {
                /* Half a transfer must not look whole: close without the last SOA. */
                c->closing = true;
                bufferevent_disable(c->bev, EV_READ);
            }
            return;
        }
        w->tcp_out[0] = (uint8_t)(len >> 8);
        w->tcp_out[1] = (uint8_t)len;
        bufferevent_write(c->bev, w->tcp_out, len + 2);
    }
}

/* A transfer request (PACKET_XFR): reading stops until it is streamed. */
static void tcp_xfr_start(struct tcp_conn *c, const uint8_t *msg, size_t len)
{
    struct worker *w = c->w;
    char peer[SOCK_ADDR_TEXT];
    sock_format_addr((struct sockaddr *)&c->peer, c->peerlen, "#", peer, sizeof peer);
    bool busy = w->xfr_running >= XFR_PER_WORKER;
    c->xfr = xfr_begin(w->net->store, w->ctx.xfr_zone, c->counted ? &c->client : NULL, peer, msg,
                       len, (int64_t)time(NULL), busy);
    if (c->xfr == NULL) {
        c->closing = true;
        return;
    }
    if (xfr_counts(c->xfr))
        w->xfr_running++;
    if (w->log_queries) {
        w->info.rcode = xfr_rcode(c->xfr);
        w->info.truncated = false;
        worker_log_query(w, (struct sockaddr *)&c->peer, c->peerlen, "tcp");
    }
    c->paused = true;
    bufferevent_setwatermark(c->bev, EV_WRITE, NET_XFR_OUT_LOW, 0);
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
            /* Active from a whole query on: bytes that never make one
             * (a query sent a byte at a time) keep no connection young. */
            tcp_touch(c);
        }
        size_t outlen = 0;
        w->cnt[NC_TCP_QUERIES]++;
        /* Never rate-limited: a TCP client has proved its address. */
        w->ctx.client = c->counted ? &c->client : NULL;
        enum packet_outcome po = packet_answer(&w->ctx, PACKET_TCP, f.msg, f.len, w->tcp_out + 2,
                                               PACKET_TCP_MAX, &outlen);
        done += f.used;
        if (po == PACKET_XFR) {
            tcp_flush(c, batch, &nbatch);
            tcp_xfr_start(c, f.msg, f.len);
            ++c->queries;
            break;
        }
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
    if (c->xfr != NULL)
        tcp_xfr_pump(c);
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

/* Called when the output has drained (low watermark 0): the client has
 * its answers, and from now on it is idle (RFC 7766 section 6.2.3). */
static void tcp_on_write(struct bufferevent *bev, void *arg)
{
    struct tcp_conn *c = arg;
    /* A transfer goes on after the client's EOF (a half-close): the
     * output low watermark calls here before the output is empty. */
    if (c->xfr != NULL) {
        tcp_touch(c);
        tcp_xfr_pump(c);
        if (c->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
            tcp_close(c);
        if (c->closing || c->xfr != NULL)
            return;
    }
    if (c->closing) {
        tcp_close(c);
        return;
    }
    tcp_touch(c);
    if (c->paused && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
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
        (evbuffer_get_length(bufferevent_get_output(bev)) > 0 || c->xfr != NULL)) {
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

/* Likewise for closing an idle connection to admit a new one. */
static void net_log_shed(struct net *n, const struct tcp_conn *old, const struct sockaddr *sa,
                         int salen)
{
    int64_t now = (int64_t)(net_monotonic_ms() / 1000);
    int64_t last = atomic_load_explicit(&n->tcp_shed_logged, memory_order_relaxed);
    if (now == last || !atomic_compare_exchange_strong(&n->tcp_shed_logged, &last, now))
        return;
    char from[SOCK_ADDR_TEXT], to[SOCK_ADDR_TEXT];
    sock_format_addr((const struct sockaddr *)&old->peer, old->peerlen, "#", from, sizeof from);
    sock_format_addr(sa, (socklen_t)salen, "#", to, sizeof to);
    log_warn("tcp: closed the longest-idle connection, from %s, to admit one from %s: %u are open "
             "(tcp_max_clients)",
             from, to, n->tcp_max_clients);
}

/* The table is full and client fits its own limit: close this worker's
 * longest-idle connection and hand its slot to client. False when the
 * worker has none idle among the NET_TCP_SHED_SCAN idlest (those with
 * answers still unread wait for their write timeout instead). */
static bool tcp_shed_for(struct worker *w, const struct addr_prefix *client,
                         const struct sockaddr *sa, int salen)
{
    struct tcp_conn *old = w->idlest;
    int k = 0;
    while (old != NULL && (!old->counted || !tcp_is_idle(old)))
        old = ++k < NET_TCP_SHED_SCAN ? old->prev : NULL;
    if (old == NULL)
        return false;
    if (connlimit_replace(w->net->conns, &old->client, client) != CONNLIMIT_OK)
        return false;
    net_log_shed(w->net, old, sa, salen);
    old->counted = false; /* its slot is the new client's now */
    tcp_close(old);
    worker_count_limit(w, NL_TCP_SHED);
    return true;
}

/* While more than half of the table is open, close this worker's
 * connections idle for tcp_pressure_ms or more. Runs every quarter of
 * that while the worker has connections; the list is ordered by last
 * activity, so it stops at the first one active since. */
static void tcp_on_sweep(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    struct net *n = w->net;
    (void)fd;
    (void)what;
    if (2 * (uint64_t)connlimit_open(n->conns, NULL) <= n->tcp_max_clients)
        return;
    uint64_t now = tcp_now_ms();
    struct tcp_conn *prev;
    for (struct tcp_conn *c = w->idlest; c != NULL; c = prev) {
        prev = c->prev;
        if (now - c->last_ms < n->tcp_pressure_ms)
            break;
        if (!tcp_is_idle(c))
            continue; /* answers unread: the write timeout's business */
        w->cnt[NC_TCP_TIMEOUTS]++;
        tcp_close(c);
    }
}

int tcp_worker_init(struct worker *w)
{
    w->sweep = event_new(w->base, -1, EV_PERSIST, tcp_on_sweep, w);
    return w->sweep != NULL ? DNSBL_OK : DNSBL_ENOMEM;
}

static void tcp_sweep_start(struct worker *w)
{
    unsigned ms = w->net->tcp_pressure_ms / 4;
    if (ms < 50)
        ms = 50;
    if (ms > 1000)
        ms = 1000;
    struct timeval tick = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    event_add(w->sweep, &tick);
}

void tcp_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                   void *arg)
{
    struct worker *w = arg;
    struct net *n = w->net;
    struct addr_prefix client = {0};
    (void)l;
    bool known = salen > 0 && sock_client(sa, (socklen_t)salen, &client);
    if (known) {
        /* Over a limit the connection is closed at once: held open, it
         * would only wait for a slot that idle clients keep. With all
         * slots taken, the longest-idle connection makes room. */
        enum connlimit_verdict v = connlimit_acquire(n->conns, &client);
        if (v == CONNLIMIT_TOTAL && tcp_shed_for(w, &client, sa, salen))
            v = CONNLIMIT_OK;
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
    if (w->conns == NULL)
        tcp_sweep_start(w);
    tcp_list_push(c);
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

void tcp_on_accept_error(struct evconnlistener *l, void *arg)
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
