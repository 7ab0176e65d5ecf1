/* notify: NOTIFY (RFC 1996) to a zone's secondaries when its published
 * serial moves, from the main thread's event loop: one UDP socket per
 * address family, each message sent again every NOTIFY_RETRY_MS until a
 * matching answer comes back or NOTIFY_TRIES were sent, each step logged.
 * A struct notifier owns its sockets, events and pending messages (copies:
 * it keeps no pointer to a zone); notifier_free frees them. */
#ifndef DNSBLD_NOTIFY_H
#define DNSBLD_NOTIFY_H

#include <stdint.h>

#include <event2/event.h>

#include "zone.h"

#define NOTIFY_TRIES 5
#define NOTIFY_RETRY_MS 2000

struct notifier;

int notifier_new(struct event_base *base, struct notifier **out);
void notifier_free(struct notifier *n);

/* NOTIFY every target of z->xfr.notify that serial is current, signed
 * with the zone's transfer_key when it has one; replaces what is still
 * pending for the same zone and target. */
void notifier_send(struct notifier *n, const struct zone *z, uint32_t serial);

#endif
