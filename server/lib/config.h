/* config: dnsbld's settings, from a libconfuse file and the command line.
 * A struct config is a plain value the caller owns: config_init it, fill
 * it, and config_free releases its zone and listen arrays (nothing else in
 * it is allocated). Nothing here keeps a pointer to the caller's strings. */
#ifndef DNSBL_CONFIG_H
#define DNSBL_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "zone.h"

#define CONFIG_LISTEN_TEXT 128
#define CONFIG_WORKERS_MAX 256
#define CONFIG_DEFAULT_TCP_IDLE_TIMEOUT 10
#define CONFIG_DEFAULT_TCP_MAX_QUERIES 1000

/* One address to serve on, UDP and TCP on the same port (0 = any free). */
struct config_listen {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char text[CONFIG_LISTEN_TEXT]; /* as written, for messages */
};

struct config {
    char path[PATH_MAX];           /* the file loaded; "" = none */
    char db[PATH_MAX];             /* store directory; "" = not set */
    struct config_listen *listens; /* nlistens of them, owned */
    size_t nlistens;
    struct zone_config *zones; /* nzones of them, owned */
    size_t nzones;
    unsigned workers; /* 0 = one per online CPU */
    bool log_queries;
    unsigned tcp_idle_timeout; /* seconds a TCP connection may stay idle */
    unsigned tcp_max_queries;  /* queries per TCP connection, then close */
};

/* Defaults: no db, no zones, no listens, workers 0, TCP 10 s / 1000. */
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

/* What the command line set in cli replaces the same thing in c: db when
 * not "", workers when not 0, log_queries when true, the whole zone list
 * when cli has zones, the whole listen list when cli has listens. */
int config_override(struct config *c, const struct config *cli);

/* Is the same address with the same non-zero port listed twice? Writes the
 * duplicate's text to why. DNSBL_OK or DNSBL_EINVAL. */
int config_check_listens(const struct config *c, char *why, size_t whylen);

/* Do both configs listen on the same addresses in the same order? */
bool config_same_listens(const struct config *a, const struct config *b);

#endif
