/* sock: sockets for net.c. Moved out of net.c so that the worker code
 * reads on its own; the port choice and the classic BPF program that
 * steers client prefixes to workers live here. */
#include "sock.h"

#include <errno.h>
#include <linux/filter.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "err.h"

#define SOCK_RCVBUF (4 << 20)
#define SOCK_BIND_TRIES 16

void sock_format_addr(const struct sockaddr *sa, socklen_t len, const char *sep, char *buf,
                      size_t cap)
{
    char host[SOCK_HOST_TEXT] = "?", serv[8] = "?";
    getnameinfo(sa, len, host, sizeof host, serv, sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV);
    bool brackets = sa->sa_family == AF_INET6 && sep[0] == ':';
    snprintf(buf, cap, "%s%s%s%s%s", brackets ? "[" : "", host, brackets ? "]" : "", sep, serv);
}

bool sock_client(const struct sockaddr *sa, socklen_t len, struct addr_prefix *out)
{
    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        addr_from_bytes(out, ADDR_V4, (const uint8_t *)&sin->sin_addr, 32);
        return true;
    }
    if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        addr_from_bytes(out, ADDR_V6, sin6->sin6_addr.s6_addr, 128);
        return true;
    }
    return false;
}

static uint16_t sock_port(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)ss)->sin_port);
    return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static void sock_set_port(struct sockaddr_storage *ss, uint16_t port)
{
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

bool sock_is_wildcard(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
    return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

int sock_open(const struct sockaddr_storage *ss, socklen_t len, int type, bool reuseport)
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
        int rcv = SOCK_RCVBUF; /* the kernel caps it at rmem_max; best effort */
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
        if (sock_is_wildcard(ss)) {
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

/* Echo the query's destination address as the reply's source, so a
 * wildcard listener answers from the address that was asked. */
void sock_reply_pktinfo(struct msghdr *in, struct msghdr *out, char *ctl)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(in); c != NULL; c = CMSG_NXTHDR(in, c)) {
        bool v4 = c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO;
        if (!v4 && !(c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO))
            continue;
        size_t dlen = v4 ? sizeof(struct in_pktinfo) : sizeof(struct in6_pktinfo);
        out->msg_control = ctl;
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

/* 0 if nobody holds the port: a socket without SO_REUSEPORT only binds
 * then, so we never silently share a port with another server. */
static int sock_probe(const struct sockaddr_storage *ss, socklen_t len, int type)
{
    int fd = sock_open(ss, len, type, false);
    if (fd < 0)
        return errno;
    close(fd);
    return 0;
}

/* For port 0 the kernel picks a TCP port (its port-0 choice avoids
 * SO_REUSEPORT groups, UDP's does not), which must then be free for UDP
 * too; a few tries find one. */
int sock_choose_port(const struct config_listen *l, struct sockaddr_storage *addr, int *tcp0,
                     char *why, size_t whylen)
{
    bool any = sock_port(&l->addr) == 0;
    *addr = l->addr;
    *tcp0 = -1;
    for (int attempt = 0;; attempt++) {
        const char *proto = "tcp";
        int err = 0;
        if (any) {
            sock_set_port(addr, 0);
            *tcp0 = sock_open(addr, l->addrlen, SOCK_STREAM, true);
            socklen_t alen = sizeof *addr;
            if (*tcp0 < 0 || getsockname(*tcp0, (struct sockaddr *)addr, &alen) != 0)
                err = errno;
        } else {
            err = sock_probe(addr, l->addrlen, SOCK_STREAM);
        }
        if (err == 0) {
            proto = "udp";
            err = sock_probe(addr, l->addrlen, SOCK_DGRAM);
        }
        if (err == 0)
            return DNSBL_OK;
        if (*tcp0 >= 0)
            close(*tcp0);
        *tcp0 = -1;
        if (!(any && err == EADDRINUSE && attempt < SOCK_BIND_TRIES)) {
            snprintf(why, whylen, "cannot listen on %s (%s): %s", l->text, proto, strerror(err));
            return DNSBL_EIO;
        }
    }
}

/* The network-order bits [from, from + 32) of a prefix of plen bits, as
 * the mask of one 32-bit word loaded by BPF (which loads big-endian). */
static uint32_t sock_word_mask(unsigned plen, unsigned from)
{
    if (plen <= from)
        return 0;
    unsigned bits = plen - from;
    return bits >= 32 ? 0xffffffffu : ~(0xffffffffu >> bits);
}

int sock_steer_by_prefix(int fd, int family, unsigned plen, unsigned nsocks)
{
    if (nsocks < 2)
        return DNSBL_OK;
    /* The program sees the datagram from its UDP payload on; SKF_NET_OFF
     * reaches back to the IP header, where the source address is at 12
     * (IPv4) or 8 (IPv6). The masked prefix (its first 64 bits for IPv6)
     * is hashed by a multiply and a fold, then taken modulo nsocks: the
     * index of the socket in the group, which is the order of binding. */
    const uint32_t golden = 0x9e3779b1u;
    struct sock_filter v4[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_NET_OFF + 12),
        BPF_STMT(BPF_ALU | BPF_AND | BPF_K, sock_word_mask(plen, 0)),
        BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, golden),
        BPF_STMT(BPF_MISC | BPF_TAX, 0),
        BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 16),
        BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
        BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, nsocks),
        BPF_STMT(BPF_RET | BPF_A, 0),
    };
    struct sock_filter v6[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_NET_OFF + 8),
        BPF_STMT(BPF_ALU | BPF_AND | BPF_K, sock_word_mask(plen, 0)),
        BPF_STMT(BPF_MISC | BPF_TAX, 0),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_NET_OFF + 12),
        BPF_STMT(BPF_ALU | BPF_AND | BPF_K, sock_word_mask(plen, 32)),
        BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, golden),
        BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
        BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, golden),
        BPF_STMT(BPF_MISC | BPF_TAX, 0),
        BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 16),
        BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
        BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, nsocks),
        BPF_STMT(BPF_RET | BPF_A, 0),
    };
    struct sock_fprog prog;
    memset(&prog, 0, sizeof prog); /* the padding goes to the kernel too */
    prog.len = family == AF_INET ? sizeof v4 / sizeof v4[0] : sizeof v6 / sizeof v6[0];
    prog.filter = family == AF_INET ? v4 : v6;
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof prog) != 0)
        return DNSBL_EIO;
    return DNSBL_OK;
}
