/* cmd_pull: `dnsblctl pull`, dnsbld as a secondary: a zone fetched from a
 * primary by IXFR (RFC 1995) from the serial last applied, or AXFR
 * (RFC 5936), over TCP with TSIG (RFC 8945) when a key is given, parsed
 * by xfr_parse into a dataset and applied in one write transaction with
 * the pull state (store_pull_*). Everything allocated here is freed here. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "err.h"
#include "tsig.h"
#include "wire.h"
#include "xfr_parse.h"

#define PULL_TIMEOUT_DEFAULT 30
#define PULL_MSG_MAX 65535

struct pull_args {
    const char *zone;
    const char *from;
    const char *tsig;
    const char *tsig_file;
    const char *dataset;
    double timeout;
    bool allow_empty, axfr, if_due, done;
};

struct pull_run {
    struct ctl_ctx *ctx;
    struct pull_args a;
    char zone[256];
    char dataset[MODEL_DATASET_MAX];
    /* The datasets a name's values go to: dataset, then dataset~2..~4. */
    char slot_name[XFR_VALUES][MODEL_DATASET_MAX];
    const char *slots[XFR_VALUES];
    struct tsig_key key;
    bool have_key;
    struct store *s;
    struct store_pull_state st;
    bool have_state;
    int fd;
    uint16_t id;
    bool ixfr;
    size_t bytes;
    unsigned messages;
    struct xfr_parser *xp;
    bool ixfr_refused; /* the primary does not do IXFR: ask AXFR */
    double t0;
    char err[2048];
};

static double pull_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int pull_parse_args(struct ctl_ctx *ctx, int argc, char **argv, struct pull_args *a)
{
    enum { OPT_ALLOW_EMPTY = 600, OPT_AXFR, OPT_TSIG_FILE, OPT_IF_DUE };
    static const struct option opts[] = {
        CTL_OPTIONS_COMMON,
        CTL_OPTION_CREATE,
        {"from", required_argument, NULL, 'f'},
        {"tsig", required_argument, NULL, 'y'},
        {"dataset", required_argument, NULL, 's'},
        {"timeout", required_argument, NULL, 't'},
        {"allow-empty", no_argument, NULL, OPT_ALLOW_EMPTY},
        {"axfr", no_argument, NULL, OPT_AXFR},
        {"tsig-file", required_argument, NULL, OPT_TSIG_FILE},
        {"if-due", no_argument, NULL, OPT_IF_DUE},
        {NULL, 0, NULL, 0},
    };
    a->timeout = PULL_TIMEOUT_DEFAULT;
    for (;;) {
        int c = ctl_getopt(ctx, argc, argv, CTL_SHORTOPTS_COMMON "f:y:s:t:", opts);
        char *end;
        switch (c) {
        case CTL_GETOPT_END:
            if (ctl_args_take_one(ctx, argc, argv, "ZONE", &a->zone) != CTL_EXIT_OK)
                return CTL_EXIT_USAGE;
            if (!a->from)
                return ctl_usage_error(ctx, "--from ADDR[:PORT] is required");
            if (a->tsig && a->tsig_file)
                return ctl_usage_error(ctx, "--tsig and --tsig-file: one key only");
            return CTL_EXIT_OK;
        case CTL_GETOPT_HELP:
            a->done = true;
            return CTL_EXIT_OK;
        case 'f':
            a->from = optarg;
            break;
        case 'y':
            a->tsig = optarg;
            break;
        case 's':
            a->dataset = optarg;
            break;
        case 't':
            errno = 0;
            a->timeout = strtod(optarg, &end);
            if (errno || *end || !(a->timeout > 0) || a->timeout > 86400)
                return ctl_usage_error(ctx, "--timeout '%s' is not a number of seconds", optarg);
            break;
        case OPT_ALLOW_EMPTY:
            a->allow_empty = true;
            break;
        case OPT_AXFR:
            a->axfr = true;
            break;
        case OPT_TSIG_FILE:
            a->tsig_file = optarg;
            break;
        case OPT_IF_DUE:
            a->if_due = true;
            break;
        default:
            return CTL_EXIT_USAGE;
        }
    }
}

/* "ADDR", "ADDR:PORT", "[V6]:PORT" or a bare IPv6 address. */
static int pull_split_from(const char *from, char *host, size_t hcap, char *port, size_t pcap)
{
    const char *colon = strrchr(from, ':');
    snprintf(port, pcap, "53");
    if (from[0] == '[') {
        const char *close = strchr(from, ']');
        if (!close || (close[1] && close[1] != ':'))
            return -1;
        snprintf(host, hcap, "%.*s", (int)(close - from - 1), from + 1);
        if (close[1] == ':')
            snprintf(port, pcap, "%s", close + 2);
    } else if (colon && strchr(from, ':') == colon) {
        snprintf(host, hcap, "%.*s", (int)(colon - from), from);
        snprintf(port, pcap, "%s", colon + 1);
    } else {
        snprintf(host, hcap, "%s", from);
    }
    return host[0] && port[0] ? 0 : -1;
}

static int pull_fail(struct pull_run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int pull_fail(struct pull_run *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
    return -1;
}

/* Wait for fd to be ready for ev until the deadline. */
static int pull_wait(struct pull_run *r, short ev, double deadline, const char *doing)
{
    for (;;) {
        double left = deadline - pull_clock();
        if (left <= 0)
            return pull_fail(r, "timed out after %.0f s %s", r->a.timeout, doing);
        struct pollfd p = {.fd = r->fd, .events = ev};
        int n = poll(&p, 1, (int)(left * 1000) + 1);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return pull_fail(r, "poll: %s", strerror(errno));
    }
}

static int pull_connect(struct pull_run *r)
{
    char host[256], port[32];
    if (pull_split_from(r->a.from, host, sizeof host, port, sizeof port) != 0)
        return pull_fail(r, "'%s' is not ADDR[:PORT]", r->a.from);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0)
        return pull_fail(r, "'%s' is not an address and port: %s", r->a.from, gai_strerror(rc));
    r->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (r->fd < 0) {
        freeaddrinfo(ai);
        return pull_fail(r, "socket: %s", strerror(errno));
    }
    rc = connect(r->fd, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (rc != 0 && errno != EINPROGRESS)
        return pull_fail(r, "connect: %s", strerror(errno));
    if (pull_wait(r, POLLOUT, pull_clock() + r->a.timeout, "connecting") != 0)
        return -1;
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
    if (soerr)
        return pull_fail(r, "connect: %s", strerror(soerr));
    return 0;
}

static int pull_write_all(struct pull_run *r, const uint8_t *p, size_t n)
{
    double deadline = pull_clock() + r->a.timeout;
    while (n) {
        ssize_t w = send(r->fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            return pull_fail(r, "send: %s", strerror(errno));
        if (pull_wait(r, POLLOUT, deadline, "sending the request") != 0)
            return -1;
    }
    return 0;
}

/* n bytes, each wait bounded by the timeout (a stream that stalls). */
static int pull_read_all(struct pull_run *r, uint8_t *p, size_t n, bool *eof_at_start)
{
    size_t got = 0;
    *eof_at_start = false;
    while (got < n) {
        ssize_t k = recv(r->fd, p + got, n - got, 0);
        if (k > 0) {
            got += (size_t)k;
            continue;
        }
        if (k == 0) {
            *eof_at_start = got == 0;
            return pull_fail(r, "message %u: the primary closed the connection %s", r->messages + 1,
                             got ? "mid-message" : "before the transfer ended");
        }
        if (errno != EAGAIN && errno != EINTR)
            return pull_fail(r, "message %u: recv: %s", r->messages + 1, strerror(errno));
        char doing[64];
        snprintf(doing, sizeof doing, "waiting for message %u", r->messages + 1);
        if (pull_wait(r, POLLIN, pull_clock() + r->a.timeout, doing) != 0)
            return -1;
    }
    return 0;
}

/* The question (and for IXFR the SOA we have, RFC 1995 3), signed. */
static int pull_request(struct pull_run *r, struct tsig_session *ts)
{
    uint8_t q[1024];
    struct wire w;
    uint8_t name[256];
    size_t nl = 0;
    const char *z = r->zone;
    while (*z) {
        const char *dot = strchr(z, '.');
        size_t l = dot ? (size_t)(dot - z) : strlen(z);
        if (l == 0 || l > 63 || nl + l + 2 > 255)
            return pull_fail(r, "'%s' is not a zone name", r->zone);
        name[nl++] = (uint8_t)l;
        memcpy(name + nl, z, l);
        nl += l;
        z += l + (dot ? 1 : 0);
    }
    name[nl++] = 0;
    uint8_t rnd[2];
    if (getentropy(rnd, sizeof rnd) != 0)
        rnd[0] = (uint8_t)getpid(), rnd[1] = (uint8_t)time(NULL);
    r->id = (uint16_t)(rnd[0] << 8 | rnd[1]);
    wire_init(&w, q + 2, sizeof q - 2);
    wire_put_u16(&w, r->id);
    wire_put_u16(&w, 0);
    wire_put_u16(&w, 1);
    wire_put_u16(&w, 0);
    wire_put_u16(&w, r->ixfr ? 1 : 0);
    wire_put_u16(&w, 0);
    wire_put_bytes(&w, name, nl);
    wire_put_u16(&w, r->ixfr ? 251 : 252);
    wire_put_u16(&w, 1);
    if (r->ixfr) {
        wire_put_bytes(&w, name, nl);
        wire_put_u16(&w, 6);
        wire_put_u16(&w, 1);
        wire_put_u32(&w, 0);
        wire_put_u16(&w, 22);
        wire_put_u8(&w, 0); /* MNAME and RNAME: the root, only the serial matters */
        wire_put_u8(&w, 0);
        wire_put_u32(&w, r->st.serial);
        wire_put_u32(&w, 0);
        wire_put_u32(&w, 0);
        wire_put_u32(&w, 0);
        wire_put_u32(&w, 0);
    }
    if (w.err)
        return pull_fail(r, "the request does not fit");
    size_t len = wire_used(&w);
    if (r->have_key && tsig_sign(ts, q + 2, &len, sizeof q - 2, time(NULL), TSIG_ERR_NONE) != 0)
        return pull_fail(r, "cannot sign the request");
    q[0] = (uint8_t)(len >> 8);
    q[1] = (uint8_t)len;
    return pull_write_all(r, q, len + 2);
}

/* The whole exchange: connect, ask, read and parse every message. */
static int pull_transfer(struct pull_run *r)
{
    struct tsig_session ts = {.key = r->have_key ? &r->key : NULL};
    static uint8_t msg[PULL_MSG_MAX];
    char why[4096];
    if (pull_connect(r) != 0 || pull_request(r, &ts) != 0)
        return -1;
    r->xp = xfr_parser_new(r->zone, r->ixfr, r->have_state && r->st.have_serial, r->st.serial);
    if (!r->xp)
        return pull_fail(r, "out of memory");
    while (!xfr_parser_done(r->xp)) {
        uint8_t hdr[2];
        bool eof;
        if (pull_read_all(r, hdr, 2, &eof) != 0)
            return -1;
        size_t len = (size_t)(hdr[0] << 8 | hdr[1]);
        if (pull_read_all(r, msg, len, &eof) != 0)
            return -1;
        r->bytes += len + 2;
        r->messages++;
        if (len < 12)
            return pull_fail(r, "message %u: truncated message (%zu bytes)", r->messages, len);
        uint16_t id = (uint16_t)(msg[0] << 8 | msg[1]);
        if (id != r->id)
            return pull_fail(r, "message %u: ID %u does not answer our request (%u)", r->messages,
                             id, r->id);
        /* A primary without IXFR says NOTIMP or FORMERR (RFC 1995 2). */
        unsigned rcode = msg[3] & 0x0f;
        if (r->ixfr && r->messages == 1 && (rcode == 4 || rcode == 1)) {
            r->ixfr_refused = true;
            return pull_fail(r, "message 1: the primary answered IXFR with %s",
                             rcode == 4 ? "NOTIMP" : "FORMERR");
        }
        /* An error answer other than NOTAUTH (where TSIG errors go, RFC
         * 8945 5.3.2) comes unsigned from many primaries: say its rcode. */
        if (rcode != 0 && rcode != 9 && xfr_parser_feed(r->xp, msg, len, why, sizeof why) != 0)
            return pull_fail(r, "%s", why);
        enum tsig_error te = TSIG_ERR_NONE;
        int rc = tsig_verify_answer(&ts, msg, &len, time(NULL), false, &te);
        if (rc != DNSBL_OK) {
            const char *en = tsig_error_name(te);
            return pull_fail(r, "message %u: bad TSIG (key %s): %s", r->messages, r->key.name,
                             en ? en : "malformed TSIG record");
        }
        if (xfr_parser_feed(r->xp, msg, len, why, sizeof why) != DNSBL_OK)
            return pull_fail(r, "%s", why);
    }
    if (!tsig_session_ended_signed(&ts))
        return pull_fail(r, "message %u: bad TSIG (key %s): the last message is unsigned",
                         r->messages, r->key.name);
    return 0;
}

/* ---- applying ---- */

struct pull_events {
    struct event *ev;
    size_t n;
    size_t listed, excluded, removed;
};

static void pull_event_at(void *arg, size_t i, struct event *ev)
{
    *ev = ((struct pull_events *)arg)->ev[i];
}

/* The value slots' dataset names: the dataset, then "~2".."~4" (the
 * suffix rbldnsd combined sections get for a second name: doc/formats.md
 * 4.6). false when the name leaves no room for the suffix. */
static bool pull_slot_names(struct pull_run *r)
{
    for (unsigned k = 0; k < XFR_VALUES; k++) {
        int w = k ? snprintf(r->slot_name[k], sizeof r->slot_name[k], "%s~%u", r->dataset, k + 1)
                  : snprintf(r->slot_name[k], sizeof r->slot_name[k], "%s", r->dataset);
        if (w < 0 || (size_t)w >= sizeof r->slot_name[k])
            return false;
        r->slots[k] = r->slot_name[k];
    }
    return true;
}

/* What the store holds of each value slot's dataset on each changed
 * prefix (IXFR), and the events that make it what the transfer left. */
static int pull_build_events(struct pull_run *r, bool full, struct pull_events *pe,
                             struct entry_part_text **texts)
{
    size_t n;
    const struct xfr_change *ch = xfr_parser_changes(r->xp, &n);
    uint32_t ids[XFR_VALUES];
    for (unsigned k = 0; k < XFR_VALUES; k++)
        ids[k] = model_dataset_id(r->slots[k]);
    struct store_reader *rd = NULL;
    struct entry *e = NULL;
    pe->ev = calloc(n ? n * XFR_VALUES : 1, sizeof *pe->ev);
    /* The store's texts are only read for an IXFR (a whole zone holds its
     * own), whose changes are few. */
    *texts = calloc(n && !full ? n * XFR_VALUES : 1, sizeof **texts);
    if (!pe->ev || !*texts)
        return pull_fail(r, "out of memory for %zu changes", n);
    if (!full) {
        e = malloc(sizeof *e);
        if (!e || store_reader_open(r->s, &rd) != DNSBL_OK || store_reader_begin(rd) != DNSBL_OK) {
            free(e);
            if (rd)
                store_reader_close(rd);
            return pull_fail(r, "cannot read the store");
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct xfr_have have[XFR_VALUES] = {{0}};
        if (!full && store_reader_get(rd, &ch[i].prefix, e) == DNSBL_OK) {
            for (unsigned k = 0; k < XFR_VALUES; k++) {
                int at = model_part_find(e, ids[k]);
                if (at < 0)
                    continue;
                const struct entry_part *pt = &e->parts[at];
                struct entry_part_text *t = &(*texts)[i * XFR_VALUES + k];
                *t = e->part_text[at];
                have[k].listed = pt->state == IMPORT_LISTED;
                have[k].excluded = pt->state == IMPORT_EXCLUDED;
                have[k].code = pt->code;
                have[k].ttl = pt->ttl;
                have[k].txt = pt->flags & IMPORT_NO_TXT ? NULL : t->txt;
            }
        }
        size_t got = xfr_change_events(&ch[i], have, full, r->slots, r->ctx->now, pe->ev + pe->n);
        for (size_t j = 0; j < got; j++) {
            enum event_kind kind = pe->ev[pe->n + j].kind;
            if (kind == EV_IMPORT_LIST)
                pe->listed++;
            else if (kind == EV_IMPORT_EXCLUDE)
                pe->excluded++;
            else
                pe->removed++;
        }
        pe->n += got;
    }
    if (rd) {
        store_reader_end(rd);
        store_reader_close(rd);
    }
    free(e);
    return 0;
}

static void pull_log_begin(struct pull_run *r, struct import_info *log, const char *format)
{
    memset(log, 0, sizeof *log);
    snprintf(log->who, sizeof log->who, "%s", ctl_operator(r->ctx));
    snprintf(log->source, sizeof log->source, "%s", r->dataset);
    snprintf(log->format, sizeof log->format, "%s", format);
    snprintf(log->files, sizeof log->files, "%s from %s", r->zone, r->a.from);
    log->time = r->ctx->now;
    log->sync = strcmp(format, "axfr") == 0;
}

static int pull_apply(struct pull_run *r)
{
    enum xfr_style style = xfr_parser_style(r->xp);
    const struct xfr_soa *soa = xfr_parser_soa(r->xp);
    uint32_t from = r->st.serial;
    bool had = r->have_state && r->st.have_serial;
    struct store_pull_state st = r->st;
    st.have_serial = true;
    st.serial = soa->serial;
    st.refresh = soa->refresh;
    st.retry = soa->retry;
    st.expire = soa->expire;
    st.minimum = soa->minimum;
    st.last_success = st.last_attempt = r->ctx->now;
    st.expired_at = 0;
    st.last_error[0] = '\0';
    snprintf(st.dataset, sizeof st.dataset, "%s", r->dataset);
    snprintf(st.primary, sizeof st.primary, "%s", r->a.from);
    char why[1024] = "";
    double secs;
    if (style == XFR_UPTODATE) {
        if (store_pull_put(r->s, r->zone, &st, why, sizeof why) != DNSBL_OK)
            return pull_fail(r, "%s", why);
        secs = pull_clock() - r->t0;
        printf("zone %s: serial %u, up to date (IXFR), records %zu, bytes %zu, seconds %.2f\n",
               r->zone, soa->serial, xfr_parser_records(r->xp), r->bytes, secs);
        return 0;
    }
    bool full = style == XFR_FULL;
    struct pull_events pe = {0};
    struct entry_part_text *texts = NULL;
    if (pull_build_events(r, full, &pe, &texts) != 0) {
        free(pe.ev);
        free(texts);
        return -1;
    }
    if (full && pe.n == 0 && !r->a.allow_empty) {
        free(pe.ev);
        free(texts);
        return pull_fail(r,
                         "the AXFR of serial %u holds no listing: refusing to empty dataset "
                         "%s (a truncated download never delists the world; --allow-empty "
                         "if it is meant)",
                         soa->serial, r->dataset);
    }
    st.pulls++;
    struct import_info log;
    pull_log_begin(r, &log, full ? "axfr" : "ixfr");
    int rc = store_import_begin(r->s, &log, why, sizeof why);
    st.import_id = log.id;
    size_t removed = pe.removed, changed = 0;
    if (rc == DNSBL_OK && full) {
        struct store_sync_stats ss;
        rc = store_pull_full(r->s, r->zone, &st, r->slots, XFR_VALUES, pe.n, pull_event_at, &pe,
                             r->ctx->now, &ss, why, sizeof why);
        removed = ss.removed;
        changed = ss.changed;
    } else if (rc == DNSBL_OK) {
        struct store_apply_stats as;
        rc = store_pull_incr(r->s, r->zone, &st, pe.ev, pe.n, &as, why, sizeof why);
        changed = as.changed;
    }
    if (store_import_current(r->s)) {
        char why2[512];
        log.counts = (struct import_counts){.read = xfr_parser_records(r->xp),
                                            .imported = rc == DNSBL_OK ? pe.n : 0,
                                            .changed = changed};
        store_import_end(r->s, &log, why2, sizeof why2);
    }
    free(pe.ev);
    free(texts);
    if (rc != DNSBL_OK)
        return pull_fail(r, "%s", why);
    if (rc == DNSBL_OK) {
        struct dataset_note note = {
            .kind = DATASET_LIST, .last_import = r->ctx->now, .last_sync = full ? r->ctx->now : 0};
        snprintf(note.name, sizeof note.name, "%s", r->dataset);
        snprintf(note.format, sizeof note.format, "%s", full ? "axfr" : "ixfr");
        snprintf(note.files, sizeof note.files, "%s from %s", r->zone, r->a.from);
        store_dataset_note(r->s, &note, why, sizeof why);
    }
    secs = pull_clock() - r->t0;
    char fs[16] = "none";
    if (had)
        snprintf(fs, sizeof fs, "%u", from);
    printf("zone %s: serial %s -> %u (%s), records %zu, added %zu, removed %zu, changed %zu, "
           "not addresses %zu, bytes %zu, seconds %.2f\n",
           r->zone, fs, soa->serial, full ? "AXFR" : "IXFR", xfr_parser_records(r->xp),
           pe.listed + pe.excluded, removed, changed, xfr_parser_skipped(r->xp), r->bytes, secs);
    return 0;
}

/* A pull failed: record it, and when the last success is older than the
 * zone's SOA expire (RFC 1035 3.3.13), withdraw the dataset's listings:
 * a secondary stops answering for data it can no longer vouch for. */
static int pull_after_failure(struct pull_run *r)
{
    char why[1024] = "";
    struct store_pull_state st = r->have_state ? r->st : (struct store_pull_state){0};
    st.last_attempt = r->ctx->now;
    /* cut to what the state keeps */
    snprintf(st.last_error, sizeof st.last_error, "%.*s", (int)sizeof st.last_error - 1, r->err);
    snprintf(st.primary, sizeof st.primary, "%s", r->a.from);
    if (!st.dataset[0])
        snprintf(st.dataset, sizeof st.dataset, "%s", r->dataset);
    bool expired = r->have_state && st.have_serial && st.expire && !st.expired_at &&
                   r->ctx->now - st.last_success > (int64_t)st.expire;
    if (!expired) {
        if (r->s && store_pull_put(r->s, r->zone, &st, why, sizeof why) != DNSBL_OK)
            ctl_error("pull %s: recording the failure: %s", r->zone, why);
        ctl_error("pull %s from %s: %s; the old data stays", r->zone, r->a.from, r->err);
        return CTL_EXIT_FAIL;
    }
    st.expired_at = r->ctx->now;
    st.have_serial = false;
    struct store_sync_stats ss = {0};
    struct pull_events none = {0};
    if (store_pull_full(r->s, r->zone, &st, r->slots, XFR_VALUES, 0, pull_event_at, &none,
                        r->ctx->now, &ss, why, sizeof why) != DNSBL_OK) {
        ctl_error("pull %s from %s: %s; expired, but withdrawing failed: %s", r->zone, r->a.from,
                  r->err, why);
        return CTL_EXIT_FAIL;
    }
    ctl_error("zone %s expired: no successful pull for %lld s, more than its SOA expire %u s; "
              "%zu listings of dataset %s withdrawn. Last error from %s: %s",
              r->zone, (long long)(r->ctx->now - st.last_success), st.expire, ss.removed,
              st.dataset, r->a.from, r->err);
    return CTL_EXIT_FAIL;
}

/* --if-due: the zone's own schedule (RFC 1035 3.3.13): after a success
 * the next pull is due SOA refresh seconds later, after a failure SOA
 * retry seconds after it. A timer can then run pull every minute and the
 * primary's SOA decides. Prints when it is due and returns true when it
 * is not yet. */
static bool pull_not_due(const struct pull_run *r)
{
    const struct store_pull_state *st = &r->st;
    if (!r->have_state || !st->have_serial)
        return false; /* nothing held (or expired): pull now */
    bool failed = st->last_attempt > st->last_success;
    int64_t due = failed ? st->last_attempt + st->retry : st->last_success + st->refresh;
    if (r->ctx->now >= due)
        return false;
    printf("zone %s: serial %u, next pull due in %lld s (SOA %s %u s)\n", r->zone, st->serial,
           (long long)(due - r->ctx->now), failed ? "retry" : "refresh",
           failed ? st->retry : st->refresh);
    return true;
}

/* The key as --tsig takes it, on the first line of a file, so that the
 * secret is not in the process list. */
static int pull_read_key_file(const char *path, struct tsig_key *k, char *why, size_t whylen)
{
    char line[1024];
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(why, whylen, "%s: %s", path, strerror(errno));
        return -1;
    }
    bool got = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    line[got ? strcspn(line, "\r\n") : 0] = '\0';
    char inner[512];
    int rc = tsig_key_from_spec(k, line, inner, sizeof inner);
    memset(line, 0, sizeof line);
    if (rc != DNSBL_OK) {
        snprintf(why, whylen, "%s: %s", path, inner);
        return -1;
    }
    return 0;
}

int ctl_cmd_pull(struct ctl_ctx *ctx, int argc, char **argv)
{
    struct pull_run r = {.ctx = ctx, .fd = -1};
    int rc = pull_parse_args(ctx, argc, argv, &r.a);
    if (rc != CTL_EXIT_OK || r.a.done)
        return rc;
    r.t0 = pull_clock();
    size_t zl = strlen(r.a.zone);
    if (zl && r.a.zone[zl - 1] == '.')
        zl--;
    if (zl == 0 || zl >= sizeof r.zone)
        return ctl_usage_error(ctx, "'%s' is not a zone name", r.a.zone);
    for (size_t i = 0; i < zl; i++)
        r.zone[i] =
            (char)(r.a.zone[i] >= 'A' && r.a.zone[i] <= 'Z' ? r.a.zone[i] + 32 : r.a.zone[i]);
    r.zone[zl] = '\0';
    char why[1024];
    if (r.a.tsig) {
        if (tsig_key_from_spec(&r.key, r.a.tsig, why, sizeof why) != DNSBL_OK)
            return ctl_usage_error(ctx, "--tsig: %s", why);
        r.have_key = true;
    }
    if (r.a.tsig_file) {
        if (pull_read_key_file(r.a.tsig_file, &r.key, why, sizeof why) != 0) {
            ctl_error("--tsig-file: %s", why);
            return CTL_EXIT_FAIL;
        }
        r.have_key = true;
    }
    rc = ctl_store_open_write(ctx, &r.s);
    if (rc != CTL_EXIT_OK)
        return rc;
    int got = store_pull_get(r.s, r.zone, &r.st, why, sizeof why);
    if (got != DNSBL_OK && got != DNSBL_ENOENT) {
        ctl_error("pull %s: %s", r.zone, why);
        store_close(r.s);
        return CTL_EXIT_FAIL;
    }
    r.have_state = got == DNSBL_OK;
    const char *ds = r.a.dataset                       ? r.a.dataset
                     : r.have_state && r.st.dataset[0] ? r.st.dataset
                                                       : r.zone;
    if (strlen(ds) >= sizeof r.dataset) {
        store_close(r.s);
        return ctl_usage_error(ctx, "dataset name '%s' is too long", ds);
    }
    memcpy(r.dataset, ds, strlen(ds) + 1); /* fits: checked above */
    if (!pull_slot_names(&r)) {
        store_close(r.s);
        return ctl_usage_error(ctx, "dataset name '%s' is too long", ds);
    }
    if (store_dataset_check(r.s, r.dataset, why, sizeof why) != DNSBL_OK) {
        ctl_error("pull %s: %s", r.zone, why);
        store_close(r.s);
        return CTL_EXIT_FAIL;
    }
    /* Another dataset than the last pull's, or the pull that applied the
     * serial was undone (dnsblctl undo): the data is not that version any
     * more, so start over with a whole zone. */
    struct import_info imp;
    if (r.have_state && strcmp(r.st.dataset, r.dataset) != 0)
        r.st.have_serial = false;
    if (r.have_state && r.st.import_id && store_import_get(r.s, r.st.import_id, &imp) == DNSBL_OK &&
        (imp.state == IMPORT_UNDONE || imp.state == IMPORT_UNDOING))
        r.st.have_serial = false;
    if (r.a.if_due && pull_not_due(&r)) {
        store_close(r.s);
        return CTL_EXIT_OK;
    }
    r.ixfr = !r.a.axfr && r.have_state && r.st.have_serial;
    int tr = pull_transfer(&r);
    if (tr != 0 && r.ixfr_refused) {
        close(r.fd);
        r.fd = -1;
        xfr_parser_free(r.xp);
        r.xp = NULL;
        r.ixfr = false;
        r.bytes = 0;
        r.messages = 0;
        tr = pull_transfer(&r);
    }
    if (tr == 0 && pull_apply(&r) == 0)
        rc = CTL_EXIT_OK;
    else
        rc = pull_after_failure(&r);
    if (r.fd >= 0)
        close(r.fd);
    xfr_parser_free(r.xp);
    memset(&r.key, 0, sizeof r.key);
    if (ctl_store_sync(r.s) != CTL_EXIT_OK)
        rc = CTL_EXIT_FAIL;
    store_close(r.s);
    return rc;
}
