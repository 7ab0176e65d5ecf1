/* net_udp: the UDP query path of a worker: recvmmsg a batch, answer it
 * under one store read, sendmmsg the answers. Everything it touches is the
 * worker's own (net_int.h); the buffers were set up once by
 * worker_init_msgs, so nothing is allocated per datagram. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "err.h"
#include "net_int.h"
#include "rrl.h"
#include "store.h"
#include "timeutil.h"

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
    w->ctx.peer = h->msg_name;
    w->ctx.peerlen = h->msg_namelen;
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

void net_on_udp(evutil_socket_t fd, short what, void *arg)
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

/* The parts of the recvmmsg/sendmmsg headers that never change. */
void worker_init_msgs(struct worker *w)
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
