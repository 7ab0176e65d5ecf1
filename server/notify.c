/* notify: pending NOTIFY messages in an array scanned by one timer; the
 * few targets a zone has make a list fast enough. The message is built
 * once (xfr_build_notify, unsigned) and signed afresh at every send, so
 * each try carries its own time signed (RFC 8945 5.2.3). */
#include "notify.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dns.h"
#include "err.h"
#include "log.h"
#include "sock.h"
#include "tsig.h"
#include "xfr.h"

#define NOTIFY_MSG_MAX 1024
#define NOTIFY_TICK_MS 250

struct notify_pending {
    bool used;
    char zone[ZONE_NAME_MAX];
    struct config_listen target;
    uint32_t serial;
    uint16_t id;
    unsigned tries;
    uint64_t next_ms;
    bool has_key;
    struct tsig_key key;
    uint8_t msg[NOTIFY_MSG_MAX];
    size_t len;
};

struct notifier {
    struct event_base *base;
    int fd4, fd6;
    struct event *ev4, *ev6, *tick;
    struct notify_pending *p;
    size_t np;
};

static uint64_t notify_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void notify_wipe(struct notify_pending *e)
{
    volatile uint8_t *v = (volatile uint8_t *)&e->key;
    for (size_t i = 0; i < sizeof e->key; i++)
        v[i] = 0;
    e->used = false;
}

static void notify_send_one(struct notifier *n, struct notify_pending *e)
{
    uint8_t buf[NOTIFY_MSG_MAX + 600];
    size_t len = e->len;
    memcpy(buf, e->msg, len);
    if (e->has_key) {
        struct tsig_session s;
        memset(&s, 0, sizeof s);
        s.key = &e->key;
        /* The real clock, not --now's: the secondary checks the time. */
        if (tsig_sign(&s, buf, &len, sizeof buf, (int64_t)time(NULL), TSIG_ERR_NONE) != DNSBL_OK) {
            log_error("notify: %s to %s: cannot sign the message", e->zone, e->target.text);
            notify_wipe(e);
            return;
        }
    }
    int fd = e->target.addr.ss_family == AF_INET6 ? n->fd6 : n->fd4;
    e->tries++;
    e->next_ms = notify_now_ms() + NOTIFY_RETRY_MS;
    if (fd < 0 ||
        sendto(fd, buf, len, 0, (const struct sockaddr *)&e->target.addr, e->target.addrlen) < 0) {
        log_warn("notify: %s serial %u to %s: try %u: %s", e->zone, e->serial, e->target.text,
                 e->tries, fd < 0 ? "no socket for that family" : strerror(errno));
        return;
    }
    log_info("notify: sent %s serial %u to %s (try %u of %d)", e->zone, e->serial, e->target.text,
             e->tries, NOTIFY_TRIES);
}

static void notify_on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct notifier *n = arg;
    (void)fd;
    (void)what;
    uint64_t now = notify_now_ms();
    for (size_t i = 0; i < n->np; i++) {
        struct notify_pending *e = &n->p[i];
        if (!e->used || now < e->next_ms)
            continue;
        if (e->tries >= NOTIFY_TRIES) {
            log_warn("notify: %s serial %u to %s failed: no answer to %d tries", e->zone, e->serial,
                     e->target.text, NOTIFY_TRIES);
            notify_wipe(e);
            continue;
        }
        notify_send_one(n, e);
    }
}

static bool notify_same_addr(const struct sockaddr_storage *a, socklen_t alen,
                             const struct config_listen *t)
{
    if (a->ss_family != t->addr.ss_family)
        return false;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)&t->addr;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)&t->addr;
    (void)alen;
    return x->sin6_port == y->sin6_port &&
           memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
}

/* An answer: the same ID from the target it went to, QR, opcode NOTIFY
 * (RFC 1996 4.7). NOERROR acknowledges; any other rcode ends the tries. */
static void notify_on_read(evutil_socket_t fd, short what, void *arg)
{
    struct notifier *n = arg;
    (void)what;
    for (int k = 0; k < 64; k++) {
        uint8_t buf[NOTIFY_MSG_MAX];
        struct sockaddr_storage from;
        socklen_t flen = sizeof from;
        ssize_t got = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
        if (got < 0)
            return;
        if (got < DNS_HEADER_LEN)
            continue;
        uint16_t id = (uint16_t)(buf[0] << 8 | buf[1]);
        uint16_t flags = (uint16_t)(buf[2] << 8 | buf[3]);
        if ((flags & DNS_FLAG_QR) == 0 || ((flags & DNS_FLAG_OPCODE) >> 11) != DNS_OPCODE_NOTIFY)
            continue;
        for (size_t i = 0; i < n->np; i++) {
            struct notify_pending *e = &n->p[i];
            if (!e->used || e->id != id || !notify_same_addr(&from, flen, &e->target))
                continue;
            unsigned rcode = flags & 0x0f;
            if (rcode == DNS_RCODE_NOERROR)
                log_info("notify: %s serial %u acknowledged by %s", e->zone, e->serial,
                         e->target.text);
            else
                log_warn("notify: %s serial %u to %s: answered %s; not sent again", e->zone,
                         e->serial, e->target.text,
                         dns_rcode_name(rcode) ? dns_rcode_name(rcode) : "an error");
            notify_wipe(e);
            break;
        }
    }
}

static int notify_socket(int family)
{
    int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    return fd;
}

int notifier_new(struct event_base *base, struct notifier **out)
{
    struct notifier *n = calloc(1, sizeof *n);
    if (n == NULL)
        return DNSBL_ENOMEM;
    n->base = base;
    n->fd4 = notify_socket(AF_INET);
    n->fd6 = notify_socket(AF_INET6);
    if (n->fd4 >= 0) {
        n->ev4 = event_new(base, n->fd4, EV_READ | EV_PERSIST, notify_on_read, n);
        if (n->ev4 != NULL)
            event_add(n->ev4, NULL);
    }
    if (n->fd6 >= 0) {
        n->ev6 = event_new(base, n->fd6, EV_READ | EV_PERSIST, notify_on_read, n);
        if (n->ev6 != NULL)
            event_add(n->ev6, NULL);
    }
    n->tick = event_new(base, -1, EV_PERSIST, notify_on_tick, n);
    if (n->tick == NULL) {
        notifier_free(n);
        return DNSBL_ENOMEM;
    }
    struct timeval tv = {0, NOTIFY_TICK_MS * 1000};
    event_add(n->tick, &tv);
    *out = n;
    return DNSBL_OK;
}

void notifier_free(struct notifier *n)
{
    if (n == NULL)
        return;
    if (n->ev4 != NULL)
        event_free(n->ev4);
    if (n->ev6 != NULL)
        event_free(n->ev6);
    if (n->tick != NULL)
        event_free(n->tick);
    if (n->fd4 >= 0)
        close(n->fd4);
    if (n->fd6 >= 0)
        close(n->fd6);
    for (size_t i = 0; i < n->np; i++)
        notify_wipe(&n->p[i]);
    free(n->p);
    free(n);
}

/* The slot for zone and target: the pending one, a free one, or a new one. */
static struct notify_pending *notify_slot(struct notifier *n, const char *zone,
                                          const struct config_listen *t)
{
    struct notify_pending *free_slot = NULL;
    for (size_t i = 0; i < n->np; i++) {
        struct notify_pending *e = &n->p[i];
        if (e->used && strcmp(e->zone, zone) == 0 && strcmp(e->target.text, t->text) == 0)
            return e;
        if (!e->used && free_slot == NULL)
            free_slot = e;
    }
    if (free_slot != NULL)
        return free_slot;
    struct notify_pending *grown = realloc(n->p, (n->np + 1) * sizeof *grown);
    if (grown == NULL)
        return NULL;
    n->p = grown;
    memset(&n->p[n->np], 0, sizeof n->p[0]);
    return &n->p[n->np++];
}

void notifier_send(struct notifier *n, const struct zone *z, uint32_t serial)
{
    for (size_t i = 0; i < z->xfr.nnotify; i++) {
        const struct config_listen *t = &z->xfr.notify[i];
        struct notify_pending *e = notify_slot(n, z->name, t);
        if (e == NULL) {
            log_error("notify: %s to %s: out of memory", z->name, t->text);
            continue;
        }
        memset(e, 0, sizeof *e);
        e->used = true;
        snprintf(e->zone, sizeof e->zone, "%s", z->name);
        e->target = *t;
        e->serial = serial;
        if (getrandom(&e->id, sizeof e->id, GRND_NONBLOCK) != sizeof e->id)
            e->id = (uint16_t)(notify_now_ms() ^ (uint64_t)i);
        e->has_key = z->xfr.has_key;
        if (e->has_key)
            e->key = z->xfr.key;
        e->len = xfr_build_notify(z, serial, e->id, NULL, 0, e->msg, sizeof e->msg);
        if (e->len == 0) {
            log_error("notify: %s to %s: the message does not fit", z->name, t->text);
            notify_wipe(e);
            continue;
        }
        notify_send_one(n, e);
    }
}
