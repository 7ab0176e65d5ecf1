/* sock: dnsbld's socket plumbing, below net.c: address text, sockets bound
 * with SO_REUSEPORT so that every worker has its own on one port, choosing
 * a free port, and steering each client prefix to one worker's UDP socket.
 * Every descriptor returned is the caller's to close; nothing here keeps
 * state. */
#ifndef DNSBLD_SOCK_H
#define DNSBLD_SOCK_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "addr.h"
#include "config.h"

#define SOCK_HOST_TEXT (INET6_ADDRSTRLEN + IF_NAMESIZE + 2)
#define SOCK_ADDR_TEXT (SOCK_HOST_TEXT + 16) /* "[host]:port" */
#define SOCK_CTL_SPACE CMSG_SPACE(sizeof(struct in6_pktinfo))

/* "127.0.0.1:53" / "[::1]:53", or with sep "#" BIND's "::1#53". */
void sock_format_addr(const struct sockaddr *sa, socklen_t len, const char *sep, char *buf,
                      size_t cap);

/* The client address of a datagram or connection as a full-length prefix
 * (IPv4-mapped IPv6 becomes IPv4). False for another family. */
bool sock_client(const struct sockaddr *sa, socklen_t len, struct addr_prefix *out);

bool sock_is_wildcard(const struct sockaddr_storage *ss);

/* For a socket bound to a wildcard: make the reply out leave from the
 * address the datagram in came to (its IP_PKTINFO / IPV6_PKTINFO), using
 * ctl (SOCK_CTL_SPACE bytes, aligned for a cmsghdr) for the control data. */
void sock_reply_pktinfo(struct msghdr *in, struct msghdr *out, char *ctl);

/* A bound non-blocking socket (SOCK_DGRAM or SOCK_STREAM), or -1 with
 * errno set. */
int sock_open(const struct sockaddr_storage *ss, socklen_t len, int type, bool reuseport);

/* The address to bind for l: its own port, or for port 0 one the kernel
 * picks for TCP that is also free for UDP; *tcp0 gets the TCP socket bound
 * in doing so (or -1), for the caller to use. Fails (DNSBL_EIO, why) when
 * the port is taken: we never silently share a port with another server. */
int sock_choose_port(const struct config_listen *l, struct sockaddr_storage *addr, int *tcp0,
                     char *why, size_t whylen);

/* Make the kernel hand every datagram from one client prefix (the first
 * plen bits of the source, at most 64 for IPv6) to the same socket of the
 * SO_REUSEPORT group of fd, which holds nsocks sockets bound in worker
 * order. Without it the kernel hashes the source port too, and a client
 * using many ports would meet every worker's rate limit. DNSBL_OK, or
 * DNSBL_EIO when the kernel refuses (then the default hashing stays). */
int sock_steer_by_prefix(int fd, int family, unsigned plen, unsigned nsocks);

#endif
