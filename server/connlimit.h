/* connlimit: how many TCP connections are open, in all and per client
 * address, shared by every worker thread. connlimit_new allocates the whole
 * table (room for max_total clients) and connlimit_free frees it; acquire
 * and release take a mutex, which is fine on accept and close (never on the
 * query path) and keeps the per-client counts exact: two clients never
 * share a count. */
#ifndef DNSBL_CONNLIMIT_H
#define DNSBL_CONNLIMIT_H

#include "addr.h"

enum connlimit_verdict {
    CONNLIMIT_OK,     /* counted: release it when the connection closes */
    CONNLIMIT_TOTAL,  /* max_total connections are open: not counted */
    CONNLIMIT_CLIENT, /* this client has max_per_client open: not counted */
};

struct connlimit;

/* max_total and max_per_client >= 1. DNSBL_OK, DNSBL_EINVAL, DNSBL_ENOMEM. */
int connlimit_new(unsigned max_total, unsigned max_per_client, struct connlimit **out);
void connlimit_free(struct connlimit *c);

/* Count one more connection from client (a full address; IPv6 clients
 * count per /64, what one host usually has), unless a limit is reached.
 * The client's own limit is checked first, so CONNLIMIT_TOTAL says the
 * client would fit if another connection made room. */
enum connlimit_verdict connlimit_acquire(struct connlimit *c, const struct addr_prefix *client);

/* Hand the slot of one counted connection from old to client, in one step
 * (no other thread can take it in between): for closing an idle connection
 * to admit a new one when the table is full. CONNLIMIT_CLIENT, with nothing
 * changed, when client has max_per_client open (old's slot counting as
 * free when both are the same client); CONNLIMIT_OK otherwise. The caller
 * then closes old without releasing it. */
enum connlimit_verdict connlimit_replace(struct connlimit *c, const struct addr_prefix *old,
                                         const struct addr_prefix *client);

/* Undo one CONNLIMIT_OK acquire for the same client. */
void connlimit_release(struct connlimit *c, const struct addr_prefix *client);

/* Connections counted now (in all, or from the client's address). */
unsigned connlimit_open(struct connlimit *c, const struct addr_prefix *client);

#endif
