/* qgen: a UDP and TCP load generator for DNSBL servers on loopback.
 *
 * Reads the queries gen wrote (queries.bin), sends them in order (wrapping
 * around) with sendmmsg over a few connected sockets, keeps a fixed number
 * in flight (saturate) or sends at a fixed rate (rate), matches answers by
 * id with recvmmsg, times each one, and checks its rcode against what gen
 * expected: listed -> NOERROR with an A record, unlisted -> NXDOMAIN.
 * --tcp does the same over a few TCP connections, queries pipelined.
 * --startup runs a server command and times its first correct answer.
 * Results go to stdout as key=value lines. Loopback only, bounded in time;
 * every buffer is allocated at start and freed at exit. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define QG_BATCH_MAX 64
#define QG_SOCKS_MAX 16
#define QG_PKT_MAX 512
#define QG_IDS 65536
#define QG_MISMATCH_SHOWN 5

struct qg_query {
    const uint8_t *pkt;
    uint16_t len;
    bool listed;
};

struct qg_slot {
    uint64_t sent_ns;
    uint32_t q;
    uint8_t sock;
    bool busy;
};

struct qg_opts {
    const char *file;
    const char *addr;
    unsigned port;
    enum { QG_SATURATE, QG_RATE, QG_STARTUP } mode;
    double seconds;
    double rate;
    unsigned window;
    unsigned batch;
    unsigned socks;
    uint64_t count;     /* stop after this many sent; 0 = no limit */
    double timeout_ms;  /* unanswered this long: lost */
    bool check;         /* compare rcodes with expectations */
    bool keep;          /* --startup: leave the server running */
    bool tcp;           /* --tcp: pipelined over TCP connections (-S of them) */
    uint64_t per_conn;  /* --tcp: queries per connection, then another; 0 = no limit */
    bool quickack;      /* --tcp: acknowledge every read at once (TCP_QUICKACK) */
    char **cmd;         /* --startup: the server command */
};

struct qg_stats {
    uint64_t sent, answered, lost, mismatched, failed, stray, send_errors;
    uint32_t *lat; /* ns per answered query */
    size_t nlat, caplat;
};

struct qg {
    struct qg_opts o;
    struct qg_query *q;
    size_t nq;
    uint8_t *file;
    struct sockaddr_storage ss;
    socklen_t sslen;
    int fd[QG_SOCKS_MAX];
    int ep; /* epoll over fd[]: one call finds the sockets with answers */
    struct qg_slot *slot;
    uint16_t *free_ids;
    size_t nfree;
    size_t next_q;
    unsigned next_sock;
    unsigned inflight;
    unsigned sock_inflight[QG_SOCKS_MAX];
    struct qg_stats st;
    uint8_t sendbuf[QG_BATCH_MAX][QG_PKT_MAX];
    uint8_t recvbuf[QG_BATCH_MAX][QG_PKT_MAX];
};

static volatile sig_atomic_t qg_stop;

static void qg_on_signal(int sig)
{
    (void)sig;
    qg_stop = 1;
}

static uint64_t qg_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void qg_die(const char *what)
{
    fprintf(stderr, "qgen: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void qg_load(struct qg *g)
{
    FILE *f = fopen(g->o.file, "rb");
    struct stat sb;
    if (!f || fstat(fileno(f), &sb) != 0)
        qg_die(g->o.file);
    g->file = malloc((size_t)sb.st_size);
    if (!g->file || fread(g->file, 1, (size_t)sb.st_size, f) != (size_t)sb.st_size)
        qg_die(g->o.file);
    fclose(f);
    if (sb.st_size < 12 || memcmp(g->file, "DNSBLQ1\n", 8) != 0) {
        fprintf(stderr, "qgen: %s: not a gen query file\n", g->o.file);
        exit(1);
    }
    uint32_t n;
    memcpy(&n, g->file + 8, 4);
    g->q = calloc(n, sizeof *g->q);
    if (!g->q)
        qg_die("queries");
    size_t off = 12;
    for (uint32_t i = 0; i < n; i++) {
        if (off + 4 > (size_t)sb.st_size)
            break;
        const uint8_t *r = g->file + off;
        uint16_t len = (uint16_t)(r[2] | r[3] << 8);
        if (len > QG_PKT_MAX || off + 4 + len > (size_t)sb.st_size)
            break;
        g->q[i] = (struct qg_query){r + 4, len, r[0] != 0};
        off += 4u + len;
        g->nq = i + 1;
    }
    if (g->nq != n) {
        fprintf(stderr, "qgen: %s: truncated after %zu queries\n", g->o.file, g->nq);
        exit(1);
    }
}

/* The server's address, loopback only, into g->ss and g->sslen. */
static void qg_address(struct qg *g)
{
    struct sockaddr_storage ss = {0};
    socklen_t len;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, g->o.addr, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)g->o.port);
        len = sizeof *s4;
        if ((ntohl(s4->sin_addr.s_addr) >> 24) != 127) {
            fprintf(stderr, "qgen: loopback addresses only\n");
            exit(2);
        }
    } else if (inet_pton(AF_INET6, g->o.addr, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)g->o.port);
        len = sizeof *s6;
        if (!IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr)) {
            fprintf(stderr, "qgen: loopback addresses only\n");
            exit(2);
        }
    } else {
        fprintf(stderr, "qgen: bad address %s\n", g->o.addr);
        exit(2);
    }
    g->ss = ss;
    g->sslen = len;
}

static void qg_connect(struct qg *g)
{
    struct sockaddr_storage ss = g->ss;
    socklen_t len = g->sslen;
    for (unsigned i = 0; i < g->o.socks; i++) {
        g->fd[i] = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int buf = 4 << 20;
        if (g->fd[i] < 0)
            qg_die("socket");
        setsockopt(g->fd[i], SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
        setsockopt(g->fd[i], SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
        if (connect(g->fd[i], (struct sockaddr *)&ss, len) != 0)
            qg_die("connect");
    }
    g->ep = epoll_create1(EPOLL_CLOEXEC);
    if (g->ep < 0)
        qg_die("epoll");
    for (unsigned i = 0; i < g->o.socks; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
        if (epoll_ctl(g->ep, EPOLL_CTL_ADD, g->fd[i], &ev) != 0)
            qg_die("epoll_ctl");
    }
}

static void qg_lat_add(struct qg_stats *st, uint64_t ns)
{
    if (st->nlat == st->caplat) {
        st->caplat = st->caplat ? st->caplat * 2 : 1 << 16;
        st->lat = realloc(st->lat, st->caplat * sizeof *st->lat);
        if (!st->lat)
            qg_die("latencies");
    }
    st->lat[st->nlat++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

/* Does the answer hold an A record as its first answer? */
static bool qg_first_is_a(const uint8_t *p, size_t len, size_t qend)
{
    size_t o = qend;
    while (o < len) {
        uint8_t l = p[o];
        if ((l & 0xc0) == 0xc0) {
            o += 2;
            break;
        }
        o += 1u + l;
        if (l == 0)
            break;
    }
    return o + 2 <= len && p[o] == 0 && p[o + 1] == 1;
}

static void qg_mismatch(struct qg *g, const struct qg_query *q, unsigned rcode, unsigned an)
{
    if (g->st.mismatched++ >= QG_MISMATCH_SHOWN)
        return;
    char name[256];
    size_t o = 12, n = 0;
    while (o < q->len && q->pkt[o] && n + 64 < sizeof name) {
        uint8_t l = q->pkt[o++];
        memcpy(name + n, q->pkt + o, l);
        n += l;
        name[n++] = '.';
        o += l;
    }
    name[n] = '\0';
    fprintf(stderr, "qgen: %s: expected %s, got rcode %u with %u answers\n", name,
            q->listed ? "listed" : "NXDOMAIN", rcode, an);
}

static bool qg_echoes(const struct qg_query *q, const uint8_t *p, size_t len);
static void qg_check(struct qg *g, const struct qg_query *q, const uint8_t *p, size_t len);

/* Returns true if this answer was for a query in flight. */
static bool qg_answer(struct qg *g, const uint8_t *p, size_t len, uint64_t now)
{
    if (len < 12) {
        g->st.stray++;
        return false;
    }
    uint16_t id = (uint16_t)(p[0] << 8 | p[1]);
    struct qg_slot *s = &g->slot[id];
    if (!s->busy) {
        g->st.stray++; /* late (already counted lost) or not ours */
        return false;
    }
    const struct qg_query *q = &g->q[s->q];
    if (!qg_echoes(q, p, len)) {
        g->st.stray++;
        return false;
    }
    s->busy = false;
    g->free_ids[g->nfree++] = id;
    g->inflight--;
    g->sock_inflight[s->sock]--;
    g->st.answered++;
    qg_lat_add(&g->st, now - s->sent_ns);
    qg_check(g, q, p, len);
    return true;
}

/* Is p an answer to q (id aside): QR set, the question echoed? */
static bool qg_echoes(const struct qg_query *q, const uint8_t *p, size_t len)
{
    return len >= q->len && (p[2] & 0x80) != 0 && memcmp(p + 12, q->pkt + 12, q->len - 12u) == 0;
}

/* Count the answer failed or mismatched against what gen expected. */
static void qg_check(struct qg *g, const struct qg_query *q, const uint8_t *p, size_t len)
{
    unsigned rcode = p[3] & 0x0f, an = (unsigned)(p[6] << 8 | p[7]);
    bool tc = (p[2] & 0x02) != 0;
    if (tc || (rcode != 0 && rcode != 3)) {
        g->st.failed++;
        if (g->o.check)
            qg_mismatch(g, q, rcode, an);
    } else if (g->o.check) {
        bool ok = q->listed ? (rcode == 0 && an >= 1 && qg_first_is_a(p, len, q->len))
                            : (rcode == 3);
        if (!ok)
            qg_mismatch(g, q, rcode, an);
    }
}

/* Send up to n queries as one batch on the next socket. */
static unsigned qg_send(struct qg *g, unsigned n, uint64_t now)
{
    struct mmsghdr mh[QG_BATCH_MAX];
    struct iovec iov[QG_BATCH_MAX];
    uint16_t ids[QG_BATCH_MAX];
    uint32_t qs[QG_BATCH_MAX];
    if (n > g->o.batch)
        n = g->o.batch;
    if (n > g->nfree)
        n = (unsigned)g->nfree;
    if (g->o.count && g->st.sent + n > g->o.count)
        n = (unsigned)(g->o.count - g->st.sent);
    if (n == 0)
        return 0;
    for (unsigned i = 0; i < n; i++) {
        const struct qg_query *q = &g->q[g->next_q];
        ids[i] = g->free_ids[g->nfree - 1 - i];
        qs[i] = (uint32_t)g->next_q;
        memcpy(g->sendbuf[i], q->pkt, q->len);
        g->sendbuf[i][0] = (uint8_t)(ids[i] >> 8);
        g->sendbuf[i][1] = (uint8_t)ids[i];
        iov[i] = (struct iovec){g->sendbuf[i], q->len};
        mh[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
        if (++g->next_q == g->nq)
            g->next_q = 0;
    }
    unsigned sock = g->next_sock;
    int fd = g->fd[sock];
    g->next_sock = (g->next_sock + 1) % g->o.socks;
    int r = sendmmsg(fd, mh, n, 0);
    unsigned sent = r > 0 ? (unsigned)r : 0;
    if (r < 0)
        g->st.send_errors++;
    for (unsigned i = 0; i < sent; i++) {
        g->slot[ids[i]] = (struct qg_slot){now, qs[i], (uint8_t)sock, true};
    }
    g->sock_inflight[sock] += sent;
    g->nfree -= sent;
    g->inflight += sent;
    g->st.sent += sent;
    /* Unsent queries go back in the queue order: rewind. */
    for (unsigned i = sent; i < n; i++)
        g->next_q = g->next_q == 0 ? g->nq - 1 : g->next_q - 1;
    return sent;
}

static unsigned qg_drain(struct qg *g, unsigned s)
{
    struct mmsghdr mh[QG_BATCH_MAX];
    struct iovec iov[QG_BATCH_MAX];
    unsigned total = 0;
    for (;;) {
        for (unsigned i = 0; i < QG_BATCH_MAX; i++) {
            iov[i] = (struct iovec){g->recvbuf[i], QG_PKT_MAX};
            mh[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
        }
        int r = recvmmsg(g->fd[s], mh, QG_BATCH_MAX, MSG_DONTWAIT, NULL);
        if (r <= 0)
            break;
        uint64_t now = qg_now();
        for (int i = 0; i < r; i++)
            qg_answer(g, g->recvbuf[i], mh[i].msg_len, now);
        total += (unsigned)r;
        if (r < QG_BATCH_MAX)
            break;
    }
    return total;
}

/* Look at the sockets that have queries in flight (with a window of a few
 * batches, one or two): no epoll call while answers keep coming. */
static unsigned qg_recv_active(struct qg *g)
{
    unsigned total = 0;
    for (unsigned s = 0; s < g->o.socks; s++)
        if (g->sock_inflight[s])
            total += qg_drain(g, s);
    return total;
}

/* Nothing came: sleep until a socket is readable or timeout_ns passed. */
static unsigned qg_recv_wait(struct qg *g, long timeout_ns)
{
    struct epoll_event evs[QG_SOCKS_MAX];
    struct timespec ts = {timeout_ns / 1000000000L, timeout_ns % 1000000000L};
    int nev = epoll_pwait2(g->ep, evs, QG_SOCKS_MAX, &ts, NULL);
    unsigned total = 0;
    for (int e = 0; e < nev; e++)
        total += qg_drain(g, evs[e].data.u32);
    return total;
}

/* Queries unanswered for longer than the timeout are lost: free their ids. */
static void qg_expire(struct qg *g, uint64_t now)
{
    uint64_t limit = (uint64_t)(g->o.timeout_ms * 1e6);
    for (uint32_t id = 0; id < QG_IDS && g->inflight; id++) {
        struct qg_slot *s = &g->slot[id];
        if (s->busy && now - s->sent_ns > limit) {
            s->busy = false;
            g->free_ids[g->nfree++] = (uint16_t)id;
            g->inflight--;
            g->sock_inflight[s->sock]--;
            g->st.lost++;
        }
    }
}

static int qg_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double qg_pct(const struct qg_stats *st, double p)
{
    if (st->nlat == 0)
        return 0;
    size_t i = (size_t)(p * (double)(st->nlat - 1) + 0.5);
    return st->lat[i] / 1000.0;
}

static void qg_run(struct qg *g)
{
    uint64_t start = qg_now(), end = start + (uint64_t)(g->o.seconds * 1e9);
    uint64_t last_expire = start, skipped = 0;
    bool sat = g->o.mode == QG_SATURATE;
    unsigned window = g->o.window;
    for (;;) {
        uint64_t now = qg_now();
        bool sending = now < end && !qg_stop && (!g->o.count || g->st.sent < g->o.count);
        if (!sending && g->inflight == 0)
            break;
        if (!sending && now > end + (uint64_t)(g->o.timeout_ms * 1e6) + 1000000000u)
            break; /* stop waiting for answers */
        unsigned did = 0;
        if (sending) {
            if (sat) {
                /* Whole batches only: topping up one query at a time would cost the
                 * generator a system call per query and make it the bottleneck. */
                while (g->inflight + g->o.batch <= window || g->inflight == 0) {
                    unsigned k = qg_send(g, window - g->inflight, now);
                    if (k == 0)
                        break;
                    did += k;
                }
            } else {
                double due = g->o.rate * (double)(now - start) / 1e9;
                /* Behind schedule (the generator was not running): skip the missed
                 * sends rather than burst them, which would overflow the server's
                 * socket buffer and measure the burst, not the rate. */
                if (due - (double)(g->st.sent + skipped) > g->o.batch)
                    skipped = (uint64_t)due - g->st.sent - g->o.batch;
                if ((double)(g->st.sent + skipped) + 1 <= due && g->inflight < window) {
                    unsigned want = (unsigned)(due - (double)(g->st.sent + skipped));
                    did += qg_send(g, want, now);
                }
            }
        }
        unsigned got = qg_recv_active(g);
        did += got;
        if (now - last_expire > 50000000u) {
            qg_expire(g, now);
            last_expire = now;
        }
        if (did == 0) {
            long wait = 1000000; /* 1 ms */
            if (!sat && sending) {
                /* Until the next query is due (timer slack is 1 ns). */
                double next =
                    ((double)(g->st.sent + skipped) + 1) / g->o.rate * 1e9 + (double)start;
                double d = next - (double)qg_now();
                wait = d <= 0 ? 0 : d < 1e6 ? (long)d : 1000000;
            }
            if (wait > 0)
                qg_recv_wait(g, wait);
        }
    }
    uint64_t stop = qg_now();
    qg_expire(g, UINT64_MAX / 2);
    qsort(g->st.lat, g->st.nlat, sizeof *g->st.lat, qg_cmp_u32);
    double secs = (double)(stop - start) / 1e9;
    double active = g->o.seconds < secs ? g->o.seconds : secs;
    printf("sent=%llu\nanswered=%llu\nlost=%llu\nmismatched=%llu\nfailed=%llu\nstray=%llu\n"
           "send_errors=%llu\nskipped=%llu\nseconds=%.3f\nqps=%.0f\np50_us=%.1f\np99_us=%.1f\np999_us=%.1f\n"
           "max_us=%.1f\n",
           (unsigned long long)g->st.sent, (unsigned long long)g->st.answered,
           (unsigned long long)g->st.lost, (unsigned long long)g->st.mismatched,
           (unsigned long long)g->st.failed, (unsigned long long)g->st.stray,
           (unsigned long long)g->st.send_errors, (unsigned long long)skipped, secs,
           active > 0 ? (double)g->st.answered / active : 0, qg_pct(&g->st, .5),
           qg_pct(&g->st, .99), qg_pct(&g->st, .999), qg_pct(&g->st, 1));
}

/* --- TCP (RFC 7766): pipelined queries on a few connections -------------
 *
 * Each connection keeps up to -w queries in flight, written whole batches
 * at a time (-b frames per write, without waiting for answers), and reads
 * the answers as they come. They are matched by id against the queries in
 * the order sent: an answer for another than the oldest query in flight
 * counts as out of order (RFC 7766 allows it; a server that answers in
 * order shows 0). -Q N closes a connection once it has sent N queries and
 * had their answers, and opens another (a server limiting queries per
 * connection closes it anyway); a connection the server closes, or that
 * stays silent for -T ms, with queries in flight loses them. --quickack
 * acknowledges every read at once: a server that leaves Nagle's algorithm
 * on holds its last answers until the client's ACK, which Linux delays up
 * to 40 ms while this client waits for those answers to send more. */

#define QG_TCP_IN (2 * (QG_PKT_MAX + 2) + 65535 + 2)

struct qg_tq {
    uint64_t sent_ns;
    uint32_t q;
    uint16_t id;
    bool done;
};

struct qg_tconn {
    int fd;
    bool want_out;      /* EPOLLOUT set: a write was left unfinished */
    struct qg_tq *ring; /* in flight, in the order sent */
    unsigned head, n;   /* ring entries; answered ones leave from the head */
    unsigned live;      /* unanswered */
    uint64_t on_conn;   /* queries sent on this connection */
    uint32_t seq;       /* id sequence */
    uint64_t last_ns;   /* last progress: opened, wrote or read */
    uint8_t *in, *out;
    size_t inlen, outlen, outoff;
};

struct qg_tstats {
    uint64_t out_of_order, connects, closed_early, timeouts, connect_errors;
};

static void qg_tclose(struct qg *g, struct qg_tconn *c, struct qg_tstats *ts)
{
    (void)ts;
    if (c->fd < 0)
        return;
    epoll_ctl(g->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    g->st.lost += c->live;
    c->live = c->n = c->head = 0;
    c->inlen = c->outlen = c->outoff = 0;
    c->want_out = false;
}

static bool qg_topen(struct qg *g, struct qg_tconn *c, unsigned idx, struct qg_tstats *ts)
{
    int fd = socket(g->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0)
        qg_die("socket");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&g->ss, g->sslen) != 0) {
        close(fd);
        ts->connect_errors++;
        return false;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = idx};
    if (epoll_ctl(g->ep, EPOLL_CTL_ADD, fd, &ev) != 0)
        qg_die("epoll_ctl");
    c->fd = fd;
    c->on_conn = 0;
    c->last_ns = qg_now();
    ts->connects++;
    return true;
}

static void qg_tflush(struct qg *g, struct qg_tconn *c, unsigned idx)
{
    while (c->outoff < c->outlen) {
        ssize_t r = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0 && errno != EAGAIN)
                g->st.send_errors++;
            break;
        }
        c->outoff += (size_t)r;
    }
    bool pending = c->outoff < c->outlen;
    if (!pending)
        c->outoff = c->outlen = 0;
    if (pending != c->want_out) {
        struct epoll_event ev = {.events = EPOLLIN | (pending ? EPOLLOUT : 0u), .data.u32 = idx};
        epoll_ctl(g->ep, EPOLL_CTL_MOD, c->fd, &ev);
        c->want_out = pending;
    }
}

/* Write up to n more queries on c, as one write. */
static void qg_tsend(struct qg *g, struct qg_tconn *c, unsigned idx, unsigned n, uint64_t now)
{
    unsigned cap = g->o.window;
    for (unsigned i = 0; i < n; i++) {
        const struct qg_query *q = &g->q[g->next_q];
        uint16_t id = (uint16_t)(c->seq++ * 40503u + idx * 7919u);
        uint8_t *f = c->out + c->outlen;
        f[0] = (uint8_t)(q->len >> 8);
        f[1] = (uint8_t)q->len;
        memcpy(f + 2, q->pkt, q->len);
        f[2] = (uint8_t)(id >> 8);
        f[3] = (uint8_t)id;
        c->outlen += 2u + q->len;
        c->ring[(c->head + c->n) % cap] = (struct qg_tq){now, (uint32_t)g->next_q, id, false};
        c->n++;
        c->live++;
        c->on_conn++;
        g->st.sent++;
        if (++g->next_q == g->nq)
            g->next_q = 0;
    }
    c->last_ns = now;
    qg_tflush(g, c, idx);
}

static void qg_tanswer(struct qg *g, struct qg_tconn *c, const uint8_t *p, size_t len, uint64_t now,
                       struct qg_tstats *ts)
{
    unsigned cap = g->o.window;
    if (len < 12 || c->n == 0) {
        g->st.stray++;
        return;
    }
    uint16_t id = (uint16_t)(p[0] << 8 | p[1]);
    struct qg_tq *t = NULL;
    for (unsigned i = 0; i < c->n; i++) {
        struct qg_tq *x = &c->ring[(c->head + i) % cap];
        if (!x->done && x->id == id) {
            t = x;
            if (i > 0 && !c->ring[c->head].done)
                ts->out_of_order++; /* an older query is still unanswered */
            break;
        }
    }
    if (t == NULL || !qg_echoes(&g->q[t->q], p, len)) {
        g->st.stray++;
        return;
    }
    t->done = true;
    c->live--;
    g->st.answered++;
    qg_lat_add(&g->st, now - t->sent_ns);
    qg_check(g, &g->q[t->q], p, len);
    while (c->n && c->ring[c->head].done) {
        c->head = (c->head + 1) % cap;
        c->n--;
    }
}

/* Read what c has and answer every whole frame; false when c is closed. */
static bool qg_tread(struct qg *g, struct qg_tconn *c, struct qg_tstats *ts)
{
    for (;;) {
        size_t space = QG_TCP_IN - c->inlen;
        ssize_t r = read(c->fd, c->in + c->inlen, space);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN)
            return true;
        if (r <= 0) {
            if (c->live)
                ts->closed_early++;
            qg_tclose(g, c, ts);
            return false;
        }
        c->inlen += (size_t)r;
        if (g->o.quickack) {
            int one = 1; /* Linux clears it as it goes: set it again after each read */
            setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
        }
        uint64_t now = qg_now();
        c->last_ns = now;
        size_t off = 0;
        while (c->inlen - off >= 2) {
            size_t flen = (size_t)(c->in[off] << 8 | c->in[off + 1]);
            if (c->inlen - off < 2 + flen)
                break;
            qg_tanswer(g, c, c->in + off + 2, flen, now, ts);
            off += 2 + flen;
        }
        memmove(c->in, c->in + off, c->inlen - off);
        c->inlen -= off;
        if ((size_t)r < space)
            return true; /* short read: nothing more waiting */
    }
}

static void qg_tcp_run(struct qg *g)
{
    unsigned nc = g->o.socks, cap = g->o.window;
    struct qg_tconn *c = calloc(nc, sizeof *c);
    struct qg_tstats ts = {0};
    struct epoll_event evs[QG_SOCKS_MAX];
    g->ep = epoll_create1(EPOLL_CLOEXEC);
    if (!c || g->ep < 0)
        qg_die("connections");
    for (unsigned i = 0; i < nc; i++) {
        c[i].fd = -1;
        c[i].ring = calloc(cap, sizeof *c[i].ring);
        c[i].in = malloc(QG_TCP_IN);
        c[i].out = malloc((size_t)cap * (QG_PKT_MAX + 2));
        if (!c[i].ring || !c[i].in || !c[i].out)
            qg_die("connections");
        c[i].seq = (uint32_t)i * 1000u;
    }
    uint64_t start = qg_now(), end = start + (uint64_t)(g->o.seconds * 1e9);
    uint64_t limit = (uint64_t)(g->o.timeout_ms * 1e6), last_expire = start;
    for (;;) {
        uint64_t now = qg_now();
        bool sending = now < end && !qg_stop && (!g->o.count || g->st.sent < g->o.count);
        unsigned live = 0;
        for (unsigned i = 0; i < nc; i++)
            live += c[i].live;
        if (!sending && live == 0)
            break;
        if (!sending && now > end + limit + 1000000000u)
            break; /* stop waiting for answers */
        for (unsigned i = 0; sending && i < nc; i++) {
            struct qg_tconn *k = &c[i];
            if (k->fd >= 0 && g->o.per_conn && k->on_conn >= g->o.per_conn && k->live == 0)
                qg_tclose(g, k, &ts); /* done with it: open another */
            if (k->fd < 0 && !qg_topen(g, k, i, &ts))
                continue;
            if (k->outlen)
                continue; /* the last write is not finished */
            unsigned room = cap - k->n;
            if (room < g->o.batch && k->n > 0)
                continue; /* whole batches only, as over UDP */
            uint64_t n = room;
            if (g->o.per_conn && n > g->o.per_conn - k->on_conn)
                n = g->o.per_conn - k->on_conn;
            if (g->o.count && n > g->o.count - g->st.sent)
                n = g->o.count - g->st.sent;
            if (n)
                qg_tsend(g, k, i, (unsigned)n, now);
        }
        int nev = epoll_wait(g->ep, evs, QG_SOCKS_MAX, 1);
        for (int e = 0; e < nev; e++) {
            struct qg_tconn *k = &c[evs[e].data.u32];
            if (k->fd < 0)
                continue;
            if ((evs[e].events & EPOLLOUT) && k->outlen)
                qg_tflush(g, k, evs[e].data.u32);
            if (evs[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                qg_tread(g, k, &ts);
        }
        now = qg_now();
        if (now - last_expire > 50000000u) {
            last_expire = now;
            for (unsigned i = 0; i < nc; i++)
                if (c[i].fd >= 0 && c[i].live && now - c[i].last_ns > limit) {
                    ts.timeouts++;
                    qg_tclose(g, &c[i], &ts);
                }
        }
    }
    uint64_t stop = qg_now();
    for (unsigned i = 0; i < nc; i++) {
        qg_tclose(g, &c[i], &ts);
        free(c[i].ring);
        free(c[i].in);
        free(c[i].out);
    }
    free(c);
    qsort(g->st.lat, g->st.nlat, sizeof *g->st.lat, qg_cmp_u32);
    double secs = (double)(stop - start) / 1e9;
    double active = g->o.seconds < secs ? g->o.seconds : secs;
    printf("sent=%llu\nanswered=%llu\nlost=%llu\nmismatched=%llu\nfailed=%llu\nstray=%llu\n"
           "send_errors=%llu\nout_of_order=%llu\nin_order=%d\nconnections=%llu\n"
           "closed_early=%llu\ntimeouts=%llu\nconnect_errors=%llu\nseconds=%.3f\nqps=%.0f\n"
           "p50_us=%.1f\np99_us=%.1f\np999_us=%.1f\nmax_us=%.1f\n",
           (unsigned long long)g->st.sent, (unsigned long long)g->st.answered,
           (unsigned long long)g->st.lost, (unsigned long long)g->st.mismatched,
           (unsigned long long)g->st.failed, (unsigned long long)g->st.stray,
           (unsigned long long)g->st.send_errors, (unsigned long long)ts.out_of_order,
           ts.out_of_order == 0, (unsigned long long)ts.connects,
           (unsigned long long)ts.closed_early, (unsigned long long)ts.timeouts,
           (unsigned long long)ts.connect_errors, secs,
           active > 0 ? (double)g->st.answered / active : 0, qg_pct(&g->st, .5),
           qg_pct(&g->st, .99), qg_pct(&g->st, .999), qg_pct(&g->st, 1));
}

/* Run the server command, send the first listed query every millisecond,
 * and report the time from fork to the first correct answer. */
static int qg_startup(struct qg *g)
{
    size_t probe = 0;
    while (probe < g->nq && !g->q[probe].listed)
        probe++;
    if (probe == g->nq) {
        fprintf(stderr, "qgen: no listed query to probe with\n");
        return 1;
    }
    uint64_t t0 = qg_now();
    pid_t pid = fork();
    if (pid < 0)
        qg_die("fork");
    if (pid == 0) {
        for (unsigned i = 0; i < g->o.socks; i++)
            close(g->fd[i]);
        /* Our stdout carries the result: the server must not hold it open. */
        dup2(STDERR_FILENO, STDOUT_FILENO);
        execvp(g->o.cmd[0], g->o.cmd);
        fprintf(stderr, "qgen: %s: %s\n", g->o.cmd[0], strerror(errno));
        _exit(127);
    }
    uint64_t limit = t0 + (uint64_t)(g->o.seconds * 1e9);
    int ok = 0;
    double ms = -1;
    uint16_t id = 1;
    while (!qg_stop) {
        uint64_t now = qg_now();
        if (now > limit)
            break;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            fprintf(stderr, "qgen: the server exited (status %d) before answering\n", status);
            printf("pid=%d\nstartup_ms=-1\n", (int)pid);
            return 1;
        }
        uint8_t pkt[QG_PKT_MAX], ans[QG_PKT_MAX];
        const struct qg_query *q = &g->q[probe];
        memcpy(pkt, q->pkt, q->len);
        id++;
        pkt[0] = (uint8_t)(id >> 8);
        pkt[1] = (uint8_t)id;
        send(g->fd[0], pkt, q->len, 0);
        uint64_t tick = now + 1000000;
        for (;;) {
            uint64_t t = qg_now();
            if (t >= tick)
                break;
            struct pollfd p = {g->fd[0], POLLIN, 0};
            struct timespec ts = {0, (long)(tick - t)};
            if (ppoll(&p, 1, &ts, NULL) <= 0)
                continue;
            ssize_t r = recv(g->fd[0], ans, sizeof ans, 0);
            if (r < 12 || ans[0] != pkt[0] || ans[1] != pkt[1])
                continue;
            if ((ans[3] & 0x0f) == 0 && (ans[6] << 8 | ans[7]) >= 1 &&
                qg_first_is_a(ans, (size_t)r, q->len)) {
                ms = (double)(qg_now() - t0) / 1e6;
                ok = 1;
            }
            break;
        }
        if (ok)
            break;
    }
    printf("pid=%d\nstartup_ms=%.2f\n", (int)pid, ms);
    fflush(stdout);
    if (!ok || !g->o.keep) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    return ok ? 0 : 1;
}

static void qg_usage(void)
{
    fputs("Usage: qgen -f queries.bin -p PORT [options]\n"
          "  -s ADDR        server (127.0.0.1 or ::1; loopback only)\n"
          "  -m MODE        saturate (keep -w queries in flight), rate (-r q/s)\n"
          "  -t SECONDS     how long to send (default 5)\n"
          "  -r RATE        queries per second for -m rate\n"
          "  -w WINDOW      queries in flight at most (default 256)\n"
          "  -b BATCH       queries per sendmmsg (default 32, at most 64)\n"
          "  -S SOCKETS     client sockets, i.e. source ports (default 4)\n"
          "  -n COUNT       stop after COUNT queries sent\n"
          "  -T MS          a query unanswered after MS is lost (default 1000)\n"
          "  --no-check     count only failures (rcode not NOERROR/NXDOMAIN), not mismatches\n"
          "  --tcp          pipelined over TCP (RFC 7766): -S connections, each keeping -w\n"
          "                 queries in flight (at most 4096), written -b or more per write;\n"
          "                 answers matched in the order sent (out_of_order= counts the rest)\n"
          "  -Q COUNT       --tcp: open a new connection after COUNT queries on one\n"
          "  --quickack     --tcp: acknowledge every read at once (TCP_QUICKACK), so that a\n"
          "                 server with Nagle on does not wait for a delayed ACK\n"
          "  --startup [--keep] -- CMD...  run CMD, probe every 1 ms, print startup_ms;\n"
          "                 --keep leaves it running (pid= printed)\n",
          stderr);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"no-check", no_argument, NULL, 'C'},
                                         {"startup", no_argument, NULL, 'U'},
                                         {"keep", no_argument, NULL, 'K'},
                                         {"tcp", no_argument, NULL, 'P'},
                                         {"quickack", no_argument, NULL, 'A'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    static struct qg g;
    g.o = (struct qg_opts){.addr = "127.0.0.1",
                           .mode = QG_SATURATE,
                           .seconds = 5,
                           .window = 256,
                           .batch = 32,
                           .socks = 4,
                           .timeout_ms = 1000,
                           .check = true};
    int c;
    bool startup = false;
    while ((c = getopt_long(argc, argv, "+f:s:p:m:t:r:w:b:S:n:T:Q:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            g.o.file = optarg;
            break;
        case 's':
            g.o.addr = optarg;
            break;
        case 'p':
            g.o.port = (unsigned)atoi(optarg);
            break;
        case 'm':
            if (strcmp(optarg, "saturate") == 0)
                g.o.mode = QG_SATURATE;
            else if (strcmp(optarg, "rate") == 0)
                g.o.mode = QG_RATE;
            else {
                qg_usage();
                return 2;
            }
            break;
        case 't':
            g.o.seconds = atof(optarg);
            break;
        case 'r':
            g.o.rate = atof(optarg);
            break;
        case 'w':
            g.o.window = (unsigned)atoi(optarg);
            break;
        case 'b':
            g.o.batch = (unsigned)atoi(optarg);
            break;
        case 'S':
            g.o.socks = (unsigned)atoi(optarg);
            break;
        case 'n':
            g.o.count = strtoull(optarg, NULL, 10);
            break;
        case 'T':
            g.o.timeout_ms = atof(optarg);
            break;
        case 'C':
            g.o.check = false;
            break;
        case 'U':
            startup = true;
            break;
        case 'K':
            g.o.keep = true;
            break;
        case 'P':
            g.o.tcp = true;
            break;
        case 'A':
            g.o.quickack = true;
            break;
        case 'Q':
            g.o.per_conn = strtoull(optarg, NULL, 10);
            break;
        default:
            qg_usage();
            return c == 'h' ? 0 : 2;
        }
    }
    if (startup) {
        g.o.mode = QG_STARTUP;
        g.o.cmd = argv + optind;
        g.o.socks = 1;
        if (optind >= argc) {
            qg_usage();
            return 2;
        }
    }
    if (!g.o.file || g.o.port == 0 || g.o.port > 65535 || g.o.window == 0 ||
        g.o.window > QG_IDS || g.o.batch == 0 || g.o.batch > QG_BATCH_MAX || g.o.socks == 0 ||
        g.o.socks > QG_SOCKS_MAX || g.o.seconds <= 0 || g.o.seconds > 3600 ||
        (g.o.mode == QG_RATE && g.o.rate <= 0) ||
        (g.o.tcp && (g.o.mode != QG_SATURATE || g.o.window > 4096 || g.o.batch > g.o.window))) {
        qg_usage();
        return 2;
    }
    if (g.o.mode == QG_RATE && g.o.window < 4096)
        g.o.window = 4096; /* at a fixed rate the window must not be what limits */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    signal(SIGINT, qg_on_signal);
    signal(SIGTERM, qg_on_signal);
    qg_load(&g);
    qg_address(&g);
    if (g.o.tcp) {
        signal(SIGPIPE, SIG_IGN);
        qg_tcp_run(&g);
        free(g.st.lat);
        free(g.q);
        free(g.file);
        return 0;
    }
    qg_connect(&g);
    if (g.o.mode == QG_STARTUP)
        return qg_startup(&g);
    g.slot = calloc(QG_IDS, sizeof *g.slot);
    g.free_ids = calloc(QG_IDS, sizeof *g.free_ids);
    if (!g.slot || !g.free_ids)
        qg_die("slots");
    /* Hand out ids in a scrambled order so they are not guessable in sequence. */
    for (uint32_t i = 0; i < QG_IDS; i++)
        g.free_ids[i] = (uint16_t)(i * 40503u);
    g.nfree = QG_IDS;
    qg_run(&g);
    for (unsigned i = 0; i < g.o.socks; i++)
        close(g.fd[i]);
    close(g.ep);
    free(g.st.lat);
    free(g.slot);
    free(g.free_ids);
    free(g.q);
    free(g.file);
    return 0;
}
