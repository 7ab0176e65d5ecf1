/* config: dnsbld's settings, from a libconfuse file and the command line
 * (dnsblctl reads a zone's policy from the same file). A struct config is
 * a plain value the caller owns: config_init it, fill it, and config_free
 * releases its zone, listen and key arrays (nothing else in it is
 * allocated; key secrets and the zones' copies of them are wiped first).
 * Nothing here keeps a pointer to the caller's strings. */
#ifndef DNSBL_CONFIG_H
#define DNSBL_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "acl.h"
#include "policy.h"
#include "tsig.h"

#define CONFIG_LISTEN_TEXT 128
#define CONFIG_WORKERS_MAX 256
#define CONFIG_DEFAULT_TCP_IDLE_TIMEOUT 10
#define CONFIG_DEFAULT_TCP_MAX_QUERIES 1000
#define CONFIG_DEFAULT_TCP_MAX_CLIENTS 256
#define CONFIG_DEFAULT_TCP_MAX_PER_CLIENT 16
#define CONFIG_DEFAULT_JOURNAL_MAX 100 /* changes a zone keeps for IXFR (store_pub.h) */
#define CONFIG_JOURNAL_MAX 100000
#define CONFIG_TCP_CLIENTS_MAX 65535
#define CONFIG_USER_MAX 64
#define ZONE_NAME_MAX 256 /* a zone name as text, with its NUL (RFC 1035 2.3.4: 255 octets) */
#define CONFIG_NOTIFY_MAX 16 /* notify targets per zone */
#define CONFIG_KEYS_MAX 64   /* key sections in one file */

/* The limits and defaults of the RRL settings (rrl.h applies them). */
#define RRL_RATE_MAX 1000000
#define RRL_SLIP_MAX 100
#define RRL_DEFAULT_SLIP 2
#define RRL_DEFAULT_IPV4_PREFIX 24
#define RRL_DEFAULT_IPV6_PREFIX 56

/* The settings the command line gave, for config_override (struct config
 * set); the others have no "unset" value of their own. */
enum config_set {
    CONFIG_SET_TCP_IDLE_TIMEOUT = 1 << 0,
    CONFIG_SET_TCP_MAX_QUERIES = 1 << 1,
    CONFIG_SET_TCP_MAX_CLIENTS = 1 << 2,
    CONFIG_SET_TCP_MAX_PER_CLIENT = 1 << 3,
    CONFIG_SET_RRL_RATE = 1 << 4,
    CONFIG_SET_RRL_SLIP = 1 << 5,
    CONFIG_SET_RRL_IPV4_PREFIX = 1 << 6,
    CONFIG_SET_RRL_IPV6_PREFIX = 1 << 7,
};

/* One address to serve on, UDP and TCP on the same port (0 = any free). */
struct config_listen {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char text[CONFIG_LISTEN_TEXT]; /* as written, for messages */
};

/* Zone transfers out of a zone (README, "Zone transfers"): who may
 * transfer it, with which TSIG key, and whom to NOTIFY (RFC 1996) when its
 * published serial moves. A plain value: the key is a copy. */
struct zone_xfr_config {
    struct acl allow; /* allow_transfer: ACL_ALLOW rules; n == 0: every transfer refused */
    bool has_key;     /* transfer_key set: requests must be signed with key */
    struct tsig_key key;
    struct config_listen notify[CONFIG_NOTIFY_MAX];
    size_t nnotify;
};

/* What config gives for one zone (plain value): its name, the file of its
 * apex, what it serves (the reputation policy), who may ask (the ACL) and
 * who may transfer it. */
struct zone_config {
    char name[ZONE_NAME_MAX]; /* "bl.example", no trailing dot needed */
    char file[PATH_MAX];      /* master file for the apex; "" = synthesise */
    struct zone_policy policy;
    struct acl acl; /* empty = everybody may ask */
    struct zone_xfr_config xfr;
    unsigned journal_max; /* changes of the published view kept for IXFR; 0 = none */
};

/* Response rate limiting as configured (the daemon's rrl module applies it). */
struct rrl_settings {
    unsigned rate;        /* answers per second per client prefix; 0 = off */
    unsigned slip;        /* every slip-th limited answer goes out truncated; 0 = none */
    unsigned ipv4_prefix; /* 0..32: IPv4 clients in one prefix share one budget */
    unsigned ipv6_prefix; /* 0..128 */
};

struct config {
    char path[PATH_MAX];           /* the file loaded; "" = none */
    char db[PATH_MAX];             /* store directory; "" = not set */
    struct config_listen *listens; /* nlistens of them, owned */
    size_t nlistens;
    struct zone_config *zones; /* nzones of them, owned */
    size_t nzones;
    struct tsig_key *keys; /* nkeys key sections, owned; secrets wiped by config_free */
    size_t nkeys;
    unsigned workers; /* 0 = one per online CPU */
    bool log_queries;
    unsigned tcp_idle_timeout;   /* seconds a TCP connection may stay idle */
    unsigned tcp_max_queries;    /* queries per TCP connection, then close */
    unsigned tcp_max_clients;    /* open TCP connections in the whole process */
    unsigned tcp_max_per_client; /* open TCP connections per client address (IPv6: per /64) */
    struct rrl_settings rrl;     /* UDP response rate limiting; rate 0 = off */
    char user[CONFIG_USER_MAX];  /* switch to this user once the sockets are bound; "" = stay */
    char chroot[PATH_MAX];       /* chroot here once the sockets are bound; "" = none */
    bool refuse_root;            /* as root without user: refuse to start instead of warning */
    unsigned set;                /* enum config_set bits (command line only) */
};

/* Defaults: no db, no zones, no listens, workers 0, TCP 10 s / 1000
 * queries / 256 clients / 16 per client, RRL off (slip 2, /24, /56). */
void config_init(struct config *c);
void config_free(struct config *c);

/* Parse a libconfuse file; on success c (freed first) holds config_init's
 * defaults overlaid with the file's settings. Relative paths in it (db,
 * zone files) are taken relative to the file's directory. On error c is
 * unchanged, the result is DNSBL_EINVAL (or DNSBL_ENOENT when
 * the file cannot be read) and why gets "FILE:LINE: what is wrong". */
int config_load_file(struct config *c, const char *path, char *why, size_t whylen);

/* Command line: "bl.example" or "bl.example=FILE" (FILE as given, relative
 * to the current directory), with the default policy. */
int config_add_zone(struct config *c, const char *arg, char *why, size_t whylen);

/* Command line: "127.0.0.1:5353", "[::1]:5353"; the port may be left out
 * (53) and may be 0 (any free port). */
int config_add_listen(struct config *c, const char *arg, char *why, size_t whylen);

/* Parse one listen address (the syntax of config_add_listen). */
int config_parse_listen(const char *text, struct config_listen *out, char *why, size_t whylen);

/* What the command line set in cli replaces the same thing in c: db,
 * user and chroot when not "", workers when not 0, log_queries and
 * refuse_root when true, the TCP and RRL values whose bit is in cli->set,
 * the whole zone list when cli has zones, the whole listen list when cli
 * has listens. */
int config_override(struct config *c, const struct config *cli);

/* Is the same address with the same non-zero port listed twice? Writes the
 * duplicate's text to why. DNSBL_OK or DNSBL_EINVAL. */
int config_check_listens(const struct config *c, char *why, size_t whylen);

/* Do both configs listen on the same addresses in the same order? */
bool config_same_listens(const struct config *a, const struct config *b);

#endif
