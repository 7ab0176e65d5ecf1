/* config: libconfuse does the parsing; this file declares the options,
 * checks values in validate callbacks (so errors carry the file's line)
 * and turns the parsed tree into a struct config. */
#include "config.h"

#include <arpa/inet.h>
#include <confuse.h>
#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "acl.h"
#include "addr.h"
#include "err.h"
#include "store.h"
#include "timeutil.h"

/* Where libconfuse's error callback writes. The callback has no user
 * pointer, so config_load_file points this at its local sink for the length
 * of one parse; thread-local, so parses in two threads cannot mix. */
struct config_sink {
    char *buf;
    size_t cap;
    bool set;
};
static _Thread_local struct config_sink *config_tls_sink;
/* The whole file's tree during that parse, for validators that look at
 * another section (transfer_key names a key section above it). */
static _Thread_local cfg_t *config_tls_root;

static void config_on_error(cfg_t *cfg, const char *fmt, va_list ap)
{
    struct config_sink *s = config_tls_sink;
    if (s == NULL || s->set || s->cap == 0)
        return; /* keep the first error: later ones are consequences */
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (cfg != NULL && cfg->filename != NULL && cfg->line > 0)
        snprintf(s->buf, s->cap, "%s:%d: %s", cfg->filename, cfg->line, msg);
    else if (cfg != NULL && cfg->filename != NULL)
        snprintf(s->buf, s->cap, "%s: %s", cfg->filename, msg);
    else
        snprintf(s->buf, s->cap, "%s", msg);
    s->set = true;
}

static void config_set_why(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void config_set_why(char *why, size_t whylen, const char *fmt, ...)
{
    if (why == NULL || whylen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

void config_init(struct config *c)
{
    memset(c, 0, sizeof *c);
    c->tcp_idle_timeout = CONFIG_DEFAULT_TCP_IDLE_TIMEOUT;
    c->tcp_max_queries = CONFIG_DEFAULT_TCP_MAX_QUERIES;
    c->tcp_max_clients = CONFIG_DEFAULT_TCP_MAX_CLIENTS;
    c->tcp_max_per_client = CONFIG_DEFAULT_TCP_MAX_PER_CLIENT;
    c->rrl.slip = RRL_DEFAULT_SLIP;
    c->rrl.ipv4_prefix = RRL_DEFAULT_IPV4_PREFIX;
    c->rrl.ipv6_prefix = RRL_DEFAULT_IPV6_PREFIX;
}

/* Secrets do not outlive their use in freed memory (a core dump, a later
 * allocation): wiped with a store the compiler must keep. */
static void config_wipe(void *p, size_t n)
{
    volatile uint8_t *v = p;
    while (n--)
        *v++ = 0;
}

void config_free(struct config *c)
{
    free(c->listens);
    for (size_t i = 0; c->zones != NULL && i < c->nzones; i++)
        config_wipe(&c->zones[i].xfr.key, sizeof c->zones[i].xfr.key);
    free(c->zones);
    if (c->keys != NULL)
        config_wipe(c->keys, c->nkeys * sizeof *c->keys);
    free(c->keys);
    c->keys = NULL;
    c->nkeys = 0;
    c->listens = NULL;
    c->zones = NULL;
    c->nlistens = 0;
    c->nzones = 0;
}

/* --- values shared by the file and the command line --- */

static bool config_parse_port(const char *s, uint16_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 5)
        return false;
    unsigned long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v > 65535)
        return false;
    *out = (uint16_t)v;
    return true;
}

static bool config_parse_v6(const char *host, struct sockaddr_in6 *sin6)
{
    char addr[INET6_ADDRSTRLEN + 1];
    const char *pct = strchr(host, '%');
    size_t alen = pct ? (size_t)(pct - host) : strlen(host);
    if (alen >= sizeof addr)
        return false;
    memcpy(addr, host, alen);
    addr[alen] = '\0';
    if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1)
        return false;
    if (pct != NULL) {
        /* A link-local address needs its interface: "fe80::1%eth0". */
        uint16_t num;
        unsigned idx = config_parse_port(pct + 1, &num) ? num : if_nametoindex(pct + 1);
        if (idx == 0)
            return false;
        sin6->sin6_scope_id = idx;
    }
    return true;
}

int config_parse_listen(const char *text, struct config_listen *out, char *why, size_t whylen)
{
    char host[CONFIG_LISTEN_TEXT];
    const char *port = "53";
    bool bracketed = false;

    memset(out, 0, sizeof *out);
    size_t len = strlen(text);
    if (len == 0 || len >= CONFIG_LISTEN_TEXT)
        goto bad;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close == text + 1)
            goto bad;
        memcpy(host, text + 1, (size_t)(close - text - 1));
        host[close - text - 1] = '\0';
        if (close[1] == ':')
            port = close + 2;
        else if (close[1] != '\0')
            goto bad;
        bracketed = true;
    } else {
        const char *colon = strchr(text, ':');
        memcpy(host, text, len + 1);
        /* One colon separates the port; more mean a bare IPv6 address. */
        if (colon != NULL && strchr(colon + 1, ':') == NULL) {
            host[colon - text] = '\0';
            port = colon + 1;
        }
    }

    uint16_t portnum;
    if (!config_parse_port(port, &portnum)) {
        config_set_why(why, whylen, "listen address '%s': '%s' is not a port number (0-65535)",
                       text, port);
        return DNSBL_EINVAL;
    }
    struct sockaddr_in *sin = (struct sockaddr_in *)&out->addr;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->addr;
    if (!bracketed && inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(portnum);
        out->addrlen = sizeof *sin;
    } else if (strchr(host, ':') != NULL && config_parse_v6(host, sin6)) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(portnum);
        out->addrlen = sizeof *sin6;
    } else {
        goto bad;
    }
    memcpy(out->text, text, len + 1);
    return DNSBL_OK;

bad:
    config_set_why(why, whylen,
                   "listen address '%s' is not an IP address and port "
                   "(write 127.0.0.1:53 or [::1]:53)",
                   text);
    return DNSBL_EINVAL;
}

/* A listing code: an IPv4 address inside 127.0.0.0/8 that is not one of the
 * values clients read as "not listed" or as an error (doc/formats.md 1.2, 1.3). */
static int config_parse_code(const char *s, uint32_t *out, char *why, size_t whylen)
{
    const char *bad = model_code_parse(s, out);
    if (bad) {
        config_set_why(why, whylen, "code '%s' %s", s, bad);
        return DNSBL_EINVAL;
    }
    return DNSBL_OK;
}

/* An ACL error code: one of the values clients know as an error, never one
 * a listing can have (model_code_parse refuses exactly these). */
static int config_parse_error_code(const char *s, uint32_t *out, char *why, size_t whylen)
{
    struct in_addr a;
    uint32_t v = inet_pton(AF_INET, s, &a) == 1 ? ntohl(a.s_addr) : 0;
    if (v < 0x7ffffffc || v > 0x7fffffff) {
        config_set_why(why, whylen,
                       "error_code '%s' is not one of the error values 127.255.255.252 to "
                       "127.255.255.255",
                       s);
        return DNSBL_EINVAL;
    }
    *out = v;
    return DNSBL_OK;
}

static int config_check_zone_name(const char *name, char *why, size_t whylen)
{
    size_t n = strlen(name);
    if (n == 0 || n >= ZONE_NAME_MAX) {
        config_set_why(why, whylen, "zone name '%s' is empty or too long", name);
        return DNSBL_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (isspace((unsigned char)name[i]) || name[i] == '=' || name[i] == '/') {
            config_set_why(why, whylen, "zone name '%s' is not a domain name", name);
            return DNSBL_EINVAL;
        }
    }
    return DNSBL_OK;
}

/* Zone names compare without case and without a trailing dot. */
static bool config_same_zone(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 1 && a[la - 1] == '.')
        la--;
    if (lb > 1 && b[lb - 1] == '.')
        lb--;
    return la == lb && strncasecmp(a, b, la) == 0;
}

static int config_copy_path(char *dst, size_t cap, const char *dir, const char *p)
{
    int n;
    size_t dlen = strlen(dir);
    if (p[0] == '/' || dlen == 0)
        n = snprintf(dst, cap, "%s", p);
    else
        n = snprintf(dst, cap, "%s%s%s", dir, dir[dlen - 1] == '/' ? "" : "/", p);
    return (n < 0 || (size_t)n >= cap) ? DNSBL_EINVAL : DNSBL_OK;
}

static int config_append(void **arr, size_t *n, size_t size, const void *item)
{
    void *grown = realloc(*arr, (*n + 1) * size);
    if (grown == NULL)
        return DNSBL_ENOMEM;
    memcpy((char *)grown + *n * size, item, size);
    *arr = grown;
    (*n)++;
    return DNSBL_OK;
}

int config_add_zone(struct config *c, const char *arg, char *why, size_t whylen)
{
    struct zone_config zc;
    memset(&zc, 0, sizeof zc);
    policy_defaults(&zc.policy);
    acl_init(&zc.acl);
    acl_init(&zc.xfr.allow);
    zc.journal_max = CONFIG_DEFAULT_JOURNAL_MAX;

    const char *eq = strchr(arg, '=');
    size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
    if (nlen >= sizeof zc.name) {
        config_set_why(why, whylen, "zone name in '%s' is too long", arg);
        return DNSBL_EINVAL;
    }
    memcpy(zc.name, arg, nlen);
    zc.name[nlen] = '\0';
    int rc = config_check_zone_name(zc.name, why, whylen);
    if (rc != DNSBL_OK)
        return rc;
    if (eq != NULL) {
        if (eq[1] == '\0' || config_copy_path(zc.file, sizeof zc.file, "", eq + 1) != DNSBL_OK) {
            config_set_why(why, whylen, "zone '%s': the file after '=' is empty or too long", arg);
            return DNSBL_EINVAL;
        }
    }
    for (size_t i = 0; i < c->nzones; i++) {
        if (config_same_zone(c->zones[i].name, zc.name)) {
            config_set_why(why, whylen, "zone '%s' is given twice", zc.name);
            return DNSBL_EINVAL;
        }
    }
    return config_append((void **)&c->zones, &c->nzones, sizeof zc, &zc);
}

int config_add_listen(struct config *c, const char *arg, char *why, size_t whylen)
{
    struct config_listen l;
    int rc = config_parse_listen(arg, &l, why, whylen);
    if (rc != DNSBL_OK)
        return rc;
    return config_append((void **)&c->listens, &c->nlistens, sizeof l, &l);
}

static bool config_same_addr(const struct config_listen *a, const struct config_listen *b)
{
    return a->addrlen == b->addrlen && memcmp(&a->addr, &b->addr, a->addrlen) == 0;
}

static uint16_t config_listen_port(const struct config_listen *l)
{
    if (l->addr.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&l->addr)->sin_port);
    return ntohs(((const struct sockaddr_in6 *)&l->addr)->sin6_port);
}

int config_check_listens(const struct config *c, char *why, size_t whylen)
{
    for (size_t i = 0; i < c->nlistens; i++) {
        if (config_listen_port(&c->listens[i]) == 0)
            continue; /* each port-0 entry gets a port of its own */
        for (size_t j = 0; j < i; j++) {
            if (config_same_addr(&c->listens[i], &c->listens[j])) {
                config_set_why(why, whylen, "listen address '%s' is given twice",
                               c->listens[i].text);
                return DNSBL_EINVAL;
            }
        }
    }
    return DNSBL_OK;
}

bool config_same_listens(const struct config *a, const struct config *b)
{
    if (a->nlistens != b->nlistens)
        return false;
    for (size_t i = 0; i < a->nlistens; i++)
        if (!config_same_addr(&a->listens[i], &b->listens[i]))
            return false;
    return true;
}

/* n elements of src replace *dst's (when n > 0): a copy of its own, the
 * old array freed. DNSBL_ENOMEM leaves *dst as it was. */
static int config_copy_array(void **dst, size_t *ndst, const void *src, size_t n, size_t elem)
{
    if (n == 0)
        return DNSBL_OK;
    void *copy = malloc(n * elem);
    if (copy == NULL)
        return DNSBL_ENOMEM;
    memcpy(copy, src, n * elem);
    free(*dst);
    *dst = copy;
    *ndst = n;
    return DNSBL_OK;
}

int config_override(struct config *c, const struct config *cli)
{
    if (cli->db[0] != '\0')
        memcpy(c->db, cli->db, sizeof c->db);
    if (cli->workers != 0)
        c->workers = cli->workers;
    if (cli->log_queries)
        c->log_queries = true;
    if (cli->refuse_root)
        c->refuse_root = true;
    if (cli->user[0] != '\0')
        memcpy(c->user, cli->user, sizeof c->user);
    if (cli->chroot[0] != '\0')
        memcpy(c->chroot, cli->chroot, sizeof c->chroot);
    static const struct {
        unsigned bit;
        size_t off;
    } values[] = {
        {CONFIG_SET_TCP_IDLE_TIMEOUT, offsetof(struct config, tcp_idle_timeout)},
        {CONFIG_SET_TCP_MAX_QUERIES, offsetof(struct config, tcp_max_queries)},
        {CONFIG_SET_TCP_MAX_CLIENTS, offsetof(struct config, tcp_max_clients)},
        {CONFIG_SET_TCP_MAX_PER_CLIENT, offsetof(struct config, tcp_max_per_client)},
        {CONFIG_SET_RRL_RATE, offsetof(struct config, rrl.rate)},
        {CONFIG_SET_RRL_SLIP, offsetof(struct config, rrl.slip)},
        {CONFIG_SET_RRL_IPV4_PREFIX, offsetof(struct config, rrl.ipv4_prefix)},
        {CONFIG_SET_RRL_IPV6_PREFIX, offsetof(struct config, rrl.ipv6_prefix)},
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        if ((cli->set & values[i].bit) != 0)
            memcpy((char *)c + values[i].off, (const char *)cli + values[i].off, sizeof(unsigned));
    int rc = config_copy_array((void **)&c->zones, &c->nzones, cli->zones, cli->nzones,
                               sizeof *c->zones);
    if (rc == DNSBL_OK)
        rc = config_copy_array((void **)&c->listens, &c->nlistens, cli->listens, cli->nlistens,
                               sizeof *c->listens);
    return rc;
}

/* --- the file --- */

/* libconfuse calls a list's validator once per element (and once more at
 * the end), so checking the last element checks each one on its own line. */
static const char *config_last_str(cfg_opt_t *opt)
{
    unsigned n = cfg_opt_size(opt);
    return n ? cfg_opt_getnstr(opt, n - 1) : NULL;
}

static long config_last_int(cfg_opt_t *opt)
{
    unsigned n = cfg_opt_size(opt);
    return n ? cfg_opt_getnint(opt, n - 1) : 0;
}

static int config_check_range(cfg_t *cfg, cfg_opt_t *opt, long lo, long hi)
{
    long v = config_last_int(opt);
    if (v < lo || v > hi) {
        cfg_error(cfg, "%s = %ld is out of range (%ld to %ld)", cfg_opt_name(opt), v, lo, hi);
        return -1;
    }
    return 0;
}

/* The integer keys and their ranges, by path: one validator for all. */
static const struct {
    const char *path;
    long lo, hi;
} config_ranges[] = {
    {"workers", 0, CONFIG_WORKERS_MAX},
    {"tcp_idle_timeout", 1, 86400},
    {"tcp_max_queries", 1, 1000000},
    {"tcp_max_clients", 1, CONFIG_TCP_CLIENTS_MAX},
    {"tcp_max_per_client", 1, CONFIG_TCP_CLIENTS_MAX},
    {"rrl_rate", 0, RRL_RATE_MAX},
    {"rrl_slip", 0, RRL_SLIP_MAX},
    {"rrl_ipv4_prefix", 0, 32},
    {"rrl_ipv6_prefix", 0, 128},
    {"zone|ttl", 0, INT32_MAX},
    {"zone|acl|error_ttl", 0, 86400},
};

static int config_v_range(cfg_t *cfg, cfg_opt_t *opt)
{
    const char *name = cfg_opt_name(opt);
    for (size_t i = 0; i < sizeof config_ranges / sizeof config_ranges[0]; i++) {
        const char *bar = strrchr(config_ranges[i].path, '|');
        if (strcmp(bar ? bar + 1 : config_ranges[i].path, name) == 0)
            return config_check_range(cfg, opt, config_ranges[i].lo, config_ranges[i].hi);
    }
    return 0;
}

static int config_v_user(cfg_t *cfg, cfg_opt_t *opt)
{
    const char *s = config_last_str(opt);
    if (s != NULL && (s[0] == '\0' || strlen(s) >= CONFIG_USER_MAX)) {
        cfg_error(cfg, "user name is empty or too long");
        return -1;
    }
    return 0;
}

static int config_v_prefix(cfg_t *cfg, cfg_opt_t *opt)
{
    struct addr_prefix p;
    char why[256];
    const char *s = config_last_str(opt);
    if (s != NULL && addr_parse(s, &p, why, sizeof why) != DNSBL_OK) {
        cfg_error(cfg, "acl %s: %s", cfg_opt_name(opt), why);
        return -1;
    }
    return 0;
}

/* A code option checked by its parser (config_parse_code and its kin). */
static int config_check_code(cfg_t *cfg, cfg_opt_t *opt,
                             int (*parse)(const char *s, uint32_t *out, char *why, size_t whylen))
{
    uint32_t code;
    char why[256];
    const char *s = config_last_str(opt);
    if (s != NULL && parse(s, &code, why, sizeof why) != DNSBL_OK) {
        cfg_error(cfg, "%s", why);
        return -1;
    }
    return 0;
}

static int config_v_error_code(cfg_t *cfg, cfg_opt_t *opt)
{
    return config_check_code(cfg, opt, config_parse_error_code);
}

static int config_v_path(cfg_t *cfg, cfg_opt_t *opt)
{
    const char *s = config_last_str(opt);
    if (s != NULL && strlen(s) >= PATH_MAX / 2) {
        cfg_error(cfg, "%s is too long", cfg_opt_name(opt));
        return -1;
    }
    return 0;
}

static int config_v_listen(cfg_t *cfg, cfg_opt_t *opt)
{
    struct config_listen l;
    char why[256];
    const char *s = config_last_str(opt);
    if (s != NULL && config_parse_listen(s, &l, why, sizeof why) != DNSBL_OK) {
        cfg_error(cfg, "%s", why);
        return -1;
    }
    return 0;
}

static int config_v_code(cfg_t *cfg, cfg_opt_t *opt)
{
    return config_check_code(cfg, opt, config_parse_code);
}

_Static_assert(ACL_TXT_MAX == MODEL_TEXT_MAX, "txt and error_txt share a validator");

static int config_v_txt(cfg_t *cfg, cfg_opt_t *opt)
{
    const char *s = config_last_str(opt);
    if (s != NULL && strlen(s) >= MODEL_TEXT_MAX) {
        cfg_error(cfg, "%s is %zu bytes long; the most is %d", cfg_opt_name(opt), strlen(s),
                  MODEL_TEXT_MAX - 1);
        return -1;
    }
    return 0;
}

/* allow_transfer: one prefix per element, on its own line. */
static int config_v_xfr_prefix(cfg_t *cfg, cfg_opt_t *opt)
{
    struct addr_prefix p;
    char why[256];
    const char *s = config_last_str(opt);
    if (s != NULL && addr_parse(s, &p, why, sizeof why) != DNSBL_OK) {
        cfg_error(cfg, "allow_transfer: %s", why);
        return -1;
    }
    return 0;
}

/* notify: an address and port as listen takes it; port 0 is no target. */
static int config_v_notify(cfg_t *cfg, cfg_opt_t *opt)
{
    struct config_listen l;
    char why[256];
    const char *s = config_last_str(opt);
    if (s == NULL)
        return 0;
    if (cfg_opt_size(opt) > CONFIG_NOTIFY_MAX) {
        cfg_error(cfg, "notify: at most %d targets", CONFIG_NOTIFY_MAX);
        return -1;
    }
    if (config_parse_listen(s, &l, why, sizeof why) != DNSBL_OK) {
        cfg_error(cfg, "notify: %s", why);
        return -1;
    }
    if (config_listen_port(&l) == 0) {
        cfg_error(cfg, "notify: '%s' has port 0", s);
        return -1;
    }
    return 0;
}

/* The key section titled name (case and a trailing dot ignored), or NULL. */
static cfg_t *config_find_key(cfg_t *root, const char *name)
{
    for (unsigned i = 0; root != NULL && i < cfg_size(root, "key"); i++) {
        cfg_t *k = cfg_getnsec(root, "key", i);
        if (config_same_zone(cfg_title(k), name))
            return k;
    }
    return NULL;
}

/* A key section as it closes: its algorithm and secret must make a key.
 * The message names the key, never the secret (tsig_key_init's why). */
static int config_v_key(cfg_t *cfg, cfg_opt_t *opt)
{
    unsigned n = cfg_opt_size(opt);
    if (n == 0)
        return 0;
    cfg_t *sec = cfg_opt_getnsec(opt, n - 1);
    const char *title = cfg_title(sec);
    if (n > CONFIG_KEYS_MAX) {
        cfg_error(cfg, "at most %d keys", CONFIG_KEYS_MAX);
        return -1;
    }
    for (unsigned i = 0; i + 1 < n; i++) {
        if (config_same_zone(cfg_title(cfg_opt_getnsec(opt, i)), title)) {
            cfg_error(cfg, "key '%s' is given twice", title);
            return -1;
        }
    }
    if (cfg_size(sec, "secret") == 0) {
        cfg_error(cfg, "key '%s' has no secret", title);
        return -1;
    }
    const char *alg = cfg_size(sec, "algorithm") > 0 ? cfg_getstr(sec, "algorithm") : NULL;
    struct tsig_key k;
    char why[300];
    int rc = tsig_key_init(&k, title, alg, cfg_getstr(sec, "secret"), why, sizeof why);
    config_wipe(&k, sizeof k);
    if (rc != DNSBL_OK) {
        cfg_error(cfg, "key '%s': %s", title, why);
        return -1;
    }
    return 0;
}

/* transfer_key must name a key section written above the zone. */
static int config_v_transfer_key(cfg_t *cfg, cfg_opt_t *opt)
{
    const char *s = config_last_str(opt);
    if (s != NULL && config_find_key(config_tls_root, s) == NULL) {
        cfg_error(cfg, "transfer_key '%s' names no key section above it (key \"%s\" { ... })", s,
                  s);
        return -1;
    }
    return 0;
}

/* Called when a zone section closes: check its title against the earlier
 * ones (libconfuse's own duplicate check is case-sensitive). */
static int config_v_zone(cfg_t *cfg, cfg_opt_t *opt)
{
    unsigned n = cfg_opt_size(opt);
    if (n == 0)
        return 0;
    const char *title = cfg_title(cfg_opt_getnsec(opt, n - 1));
    char why[300];
    if (title == NULL || config_check_zone_name(title, why, sizeof why) != DNSBL_OK) {
        cfg_error(cfg, "%s", title ? why : "zone section without a name");
        return -1;
    }
    for (unsigned i = 0; i + 1 < n; i++) {
        if (config_same_zone(cfg_title(cfg_opt_getnsec(opt, i)), title)) {
            cfg_error(cfg, "zone '%s' is given twice", title);
            return -1;
        }
    }
    return 0;
}

/* The reputation part of a zone section: kind, codes per reason, the
 * score's weights, half-life, threshold and window, data sets served. */
static int config_load_policy(const struct config *c, cfg_t *sec, struct zone_config *zc, char *why,
                              size_t whylen)
{
    static const struct {
        const char *key;
        size_t off;
    } codes[] = {
        {"code_complaints", offsetof(struct zone_policy, code_complaints)},
        {"code_traps", offsetof(struct zone_policy, code_traps)},
        {"code_imported", offsetof(struct zone_policy, code_imported)},
        {"code_allow", offsetof(struct zone_policy, code_allow)},
    };
    static const char *const weights[CNT_COUNT] = {"abuse",    "fraud",        "virus",    "other",
                                                   "not_spam", "auth_failure", "trap_hits"};
    struct zone_policy *zp = &zc->policy;
    char inner[256];

    if (cfg_size(sec, "kind") > 0) {
        const char *k = cfg_getstr(sec, "kind");
        if (strcmp(k, "blocklist") == 0)
            zp->kind = ZONE_BLOCKLIST;
        else if (strcmp(k, "score") == 0)
            zp->kind = ZONE_SCORE;
        else if (strcmp(k, "allowlist") == 0)
            zp->kind = ZONE_ALLOWLIST;
        else {
            config_set_why(why, whylen,
                           "%s: zone %s: kind '%s' is not blocklist, score or allowlist", c->path,
                           zc->name, k);
            return DNSBL_EINVAL;
        }
    }
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        if (cfg_size(sec, codes[i].key) == 0)
            continue;
        if (config_parse_code(cfg_getstr(sec, codes[i].key),
                              (uint32_t *)((char *)zp + codes[i].off), inner,
                              sizeof inner) != DNSBL_OK) {
            config_set_why(why, whylen, "%s: zone %s: %s: %s", c->path, zc->name, codes[i].key,
                           inner);
            return DNSBL_EINVAL;
        }
    }
    if (cfg_size(sec, "threshold") > 0)
        zp->threshold = cfg_getfloat(sec, "threshold");
    if (cfg_size(sec, "rate_reference") > 0)
        zp->rate_reference = cfg_getfloat(sec, "rate_reference");
    if (cfg_size(sec, "window_days") > 0)
        zp->window_days = (uint32_t)cfg_getint(sec, "window_days");
    if (cfg_size(sec, "snds_red_lists") > 0)
        zp->snds_red_lists = cfg_getbool(sec, "snds_red_lists");
    if (cfg_size(sec, "half_life") > 0) {
        int64_t secs;
        if (time_parse_duration(cfg_getstr(sec, "half_life"), &secs) != DNSBL_OK) {
            config_set_why(why, whylen, "%s: zone %s: half_life '%s' is not a duration like 7d",
                           c->path, zc->name, cfg_getstr(sec, "half_life"));
            return DNSBL_EINVAL;
        }
        zp->half_life = (double)secs;
    }
    if (cfg_size(sec, "snds_max_age") > 0) {
        int64_t secs;
        if (time_parse_duration(cfg_getstr(sec, "snds_max_age"), &secs) != DNSBL_OK) {
            config_set_why(why, whylen, "%s: zone %s: snds_max_age '%s' is not a duration like 7d",
                           c->path, zc->name, cfg_getstr(sec, "snds_max_age"));
            return DNSBL_EINVAL;
        }
        zp->snds_max_age = secs;
    }
    if (zp->threshold <= 0 || zp->rate_reference <= 0 || zp->window_days > STORE_HISTORY_MAX - 1) {
        config_set_why(why, whylen,
                       "%s: zone %s: threshold and rate_reference must be above 0 and "
                       "window_days at most %d",
                       c->path, zc->name, STORE_HISTORY_MAX - 1);
        return DNSBL_EINVAL;
    }
    cfg_t *w = cfg_size(sec, "weights") > 0 ? cfg_getsec(sec, "weights") : NULL;
    for (int i = 0; w && i < CNT_COUNT; i++) {
        if (cfg_size(w, weights[i]) > 0)
            zp->weight[i] = cfg_getfloat(w, weights[i]);
    }
    unsigned nds = cfg_size(sec, "datasets");
    if (nds > sizeof zp->datasets / sizeof zp->datasets[0]) {
        config_set_why(why, whylen, "%s: zone %s: at most %zu datasets", c->path, zc->name,
                       sizeof zp->datasets / sizeof zp->datasets[0]);
        return DNSBL_EINVAL;
    }
    zp->ndatasets = 0;
    for (unsigned i = 0; i < nds; i++) {
        const char *name = cfg_getnstr(sec, "datasets", i);
        if (!name[0] || !policy_add_dataset(zp, name)) {
            config_set_why(why, whylen, "%s: zone %s: dataset name '%s' is empty or longer than %d",
                           c->path, zc->name, name, MODEL_DATASET_MAX - 1);
            return DNSBL_EINVAL;
        }
    }
    return DNSBL_OK;
}

/* A zone's acl section: prefixes per action (the longest covering prefix
 * decides, so the lists' order does not matter) and the error answer. */
static int config_load_acl(const struct config *c, cfg_t *sec, struct zone_config *zc, char *why,
                           size_t whylen)
{
    static const struct {
        const char *key;
        enum acl_action action;
    } lists[] = {{"allow", ACL_ALLOW}, {"refuse", ACL_REFUSE}, {"error", ACL_ERROR}};
    struct acl *acl = &zc->acl;
    if (cfg_size(sec, "acl") == 0)
        return DNSBL_OK;
    cfg_t *a = cfg_getsec(sec, "acl");
    for (size_t k = 0; k < sizeof lists / sizeof lists[0]; k++) {
        for (unsigned i = 0; i < cfg_size(a, lists[k].key); i++) {
            const char *text = cfg_getnstr(a, lists[k].key, i);
            struct addr_prefix p;
            int rc = addr_parse(text, &p, NULL, 0);
            if (rc == DNSBL_OK)
                rc = acl_add(acl, &p, lists[k].action);
            if (rc == DNSBL_ESPACE) {
                config_set_why(why, whylen, "%s: zone %s: acl: more than %d prefixes", c->path,
                               zc->name, ACL_RULES_MAX);
                return DNSBL_EINVAL;
            }
            if (rc != DNSBL_OK) {
                config_set_why(why, whylen, "%s: zone %s: acl: %s is given twice", c->path,
                               zc->name, text);
                return DNSBL_EINVAL;
            }
        }
    }
    if (cfg_size(a, "error_code") > 0 &&
        config_parse_error_code(cfg_getstr(a, "error_code"), &acl->error_code, why, whylen) !=
            DNSBL_OK)
        return DNSBL_EINVAL;
    if (cfg_size(a, "error_txt") > 0)
        snprintf(acl->error_txt, sizeof acl->error_txt, "%s", cfg_getstr(a, "error_txt"));
    if (cfg_size(a, "error_ttl") > 0)
        acl->error_ttl = (uint32_t)cfg_getint(a, "error_ttl");
    return DNSBL_OK;
}

/* The key sections, checked by config_v_key already. */
static int config_load_keys(cfg_t *cfg, struct config *c, char *why, size_t whylen)
{
    unsigned n = cfg_size(cfg, "key");
    if (n == 0)
        return DNSBL_OK;
    c->keys = calloc(n, sizeof *c->keys);
    if (c->keys == NULL)
        return DNSBL_ENOMEM;
    for (unsigned i = 0; i < n; i++) {
        cfg_t *sec = cfg_getnsec(cfg, "key", i);
        const char *alg = cfg_size(sec, "algorithm") > 0 ? cfg_getstr(sec, "algorithm") : NULL;
        char inner[300];
        if (tsig_key_init(&c->keys[i], cfg_title(sec), alg, cfg_getstr(sec, "secret"), inner,
                          sizeof inner) != DNSBL_OK) {
            config_set_why(why, whylen, "%s: key '%s': %s", c->path, cfg_title(sec), inner);
            return DNSBL_EINVAL;
        }
        c->nkeys++;
    }
    return DNSBL_OK;
}

static const struct tsig_key *config_key_named(const struct config *c, const char *name)
{
    for (size_t i = 0; i < c->nkeys; i++)
        if (config_same_zone(c->keys[i].name, name))
            return &c->keys[i];
    return NULL;
}

/* A zone's allow_transfer, transfer_key and notify. */
static int config_load_xfr(const struct config *c, cfg_t *sec, struct zone_config *zc, char *why,
                           size_t whylen)
{
    struct zone_xfr_config *x = &zc->xfr;
    for (unsigned i = 0; i < cfg_size(sec, "allow_transfer"); i++) {
        const char *text = cfg_getnstr(sec, "allow_transfer", i);
        struct addr_prefix p;
        int rc = addr_parse(text, &p, NULL, 0);
        if (rc == DNSBL_OK)
            rc = acl_add(&x->allow, &p, ACL_ALLOW);
        if (rc != DNSBL_OK) {
            config_set_why(why, whylen,
                           "%s: zone %s: allow_transfer: %s is given twice or one "
                           "too many",
                           c->path, zc->name, text);
            return DNSBL_EINVAL;
        }
    }
    if (cfg_size(sec, "transfer_key") > 0) {
        const char *name = cfg_getstr(sec, "transfer_key");
        const struct tsig_key *k = config_key_named(c, name);
        if (k == NULL) {
            config_set_why(why, whylen, "%s: zone %s: transfer_key '%s' names no key", c->path,
                           zc->name, name);
            return DNSBL_EINVAL;
        }
        x->key = *k;
        x->has_key = true;
    }
    for (unsigned i = 0; i < cfg_size(sec, "notify") && i < CONFIG_NOTIFY_MAX; i++) {
        int rc = config_parse_listen(cfg_getnstr(sec, "notify", i), &x->notify[i], why, whylen);
        if (rc != DNSBL_OK)
            return rc;
        x->nnotify++;
    }
    return DNSBL_OK;
}

static int config_from_cfg(cfg_t *cfg, const char *dir, struct config *c, char *why, size_t whylen)
{
    int krc = config_load_keys(cfg, c, why, whylen);
    if (krc != DNSBL_OK)
        return krc;
    if (cfg_size(cfg, "db") > 0 &&
        config_copy_path(c->db, sizeof c->db, dir, cfg_getstr(cfg, "db")) != DNSBL_OK) {
        config_set_why(why, whylen, "%s: db path is too long", c->path);
        return DNSBL_EINVAL;
    }
    for (unsigned i = 0; i < cfg_size(cfg, "listen"); i++) {
        int rc = config_add_listen(c, cfg_getnstr(cfg, "listen", i), why, whylen);
        if (rc != DNSBL_OK)
            return rc;
    }
    if (cfg_size(cfg, "workers") > 0)
        c->workers = (unsigned)cfg_getint(cfg, "workers");
    if (cfg_size(cfg, "log_queries") > 0)
        c->log_queries = cfg_getbool(cfg, "log_queries");
    if (cfg_size(cfg, "tcp_idle_timeout") > 0)
        c->tcp_idle_timeout = (unsigned)cfg_getint(cfg, "tcp_idle_timeout");
    if (cfg_size(cfg, "tcp_max_queries") > 0)
        c->tcp_max_queries = (unsigned)cfg_getint(cfg, "tcp_max_queries");
    static const struct {
        const char *key;
        size_t off;
    } uints[] = {
        {"tcp_max_clients", offsetof(struct config, tcp_max_clients)},
        {"tcp_max_per_client", offsetof(struct config, tcp_max_per_client)},
        {"rrl_rate", offsetof(struct config, rrl.rate)},
        {"rrl_slip", offsetof(struct config, rrl.slip)},
        {"rrl_ipv4_prefix", offsetof(struct config, rrl.ipv4_prefix)},
        {"rrl_ipv6_prefix", offsetof(struct config, rrl.ipv6_prefix)},
    };
    for (size_t i = 0; i < sizeof uints / sizeof uints[0]; i++) {
        if (cfg_size(cfg, uints[i].key) > 0) {
            unsigned v = (unsigned)cfg_getint(cfg, uints[i].key);
            memcpy((char *)c + uints[i].off, &v, sizeof v);
        }
    }
    if (cfg_size(cfg, "user") > 0)
        snprintf(c->user, sizeof c->user, "%s", cfg_getstr(cfg, "user"));
    if (cfg_size(cfg, "chroot") > 0 &&
        config_copy_path(c->chroot, sizeof c->chroot, dir, cfg_getstr(cfg, "chroot")) != DNSBL_OK) {
        config_set_why(why, whylen, "%s: chroot path is too long", c->path);
        return DNSBL_EINVAL;
    }
    if (cfg_size(cfg, "refuse_root") > 0)
        c->refuse_root = cfg_getbool(cfg, "refuse_root");

    for (unsigned i = 0; i < cfg_size(cfg, "zone"); i++) {
        cfg_t *sec = cfg_getnsec(cfg, "zone", i);
        struct zone_config zc;
        memset(&zc, 0, sizeof zc);
        policy_defaults(&zc.policy);
        acl_init(&zc.acl);
        acl_init(&zc.xfr.allow);
        zc.journal_max = CONFIG_DEFAULT_JOURNAL_MAX;
        snprintf(zc.name, sizeof zc.name, "%s", cfg_title(sec));
        if (cfg_size(sec, "file") > 0 && cfg_getstr(sec, "file")[0] != '\0' &&
            config_copy_path(zc.file, sizeof zc.file, dir, cfg_getstr(sec, "file")) != DNSBL_OK) {
            config_set_why(why, whylen, "%s: zone %s: file path is too long", c->path, zc.name);
            return DNSBL_EINVAL;
        }
        if (cfg_size(sec, "ttl") > 0)
            zc.policy.ttl = (uint32_t)cfg_getint(sec, "ttl");
        if (cfg_size(sec, "journal_max") > 0) {
            long v = cfg_getint(sec, "journal_max");
            if (v < 0 || v > CONFIG_JOURNAL_MAX) {
                config_set_why(why, whylen, "%s: zone %s: journal_max must be 0 to %d", c->path,
                               zc.name, CONFIG_JOURNAL_MAX);
                return DNSBL_EINVAL;
            }
            zc.journal_max = (unsigned)v;
        }
        if (cfg_size(sec, "code") > 0 &&
            config_parse_code(cfg_getstr(sec, "code"), &zc.policy.code_manual, why, whylen) !=
                DNSBL_OK)
            return DNSBL_EINVAL;
        if (cfg_size(sec, "txt") > 0)
            snprintf(zc.policy.txt_template, sizeof zc.policy.txt_template, "%s",
                     cfg_getstr(sec, "txt"));
        if (config_load_policy(c, sec, &zc, why, whylen) != DNSBL_OK ||
            config_load_acl(c, sec, &zc, why, whylen) != DNSBL_OK ||
            config_load_xfr(c, sec, &zc, why, whylen) != DNSBL_OK) {
            config_wipe(&zc.xfr.key, sizeof zc.xfr.key);
            return DNSBL_EINVAL;
        }
        int rc = config_append((void **)&c->zones, &c->nzones, sizeof zc, &zc);
        config_wipe(&zc.xfr.key, sizeof zc.xfr.key);
        if (rc != DNSBL_OK)
            return rc;
    }
    return DNSBL_OK;
}

int config_load_file(struct config *c, const char *path, char *why, size_t whylen)
{
    /* No defaults in the tree: a key the file leaves out keeps the value
     * config_init (or policy_defaults) gave, and cfg_size tells them apart. */
    cfg_opt_t weight_opts[] = {
        CFG_FLOAT("abuse", 0, CFGF_NODEFAULT),     CFG_FLOAT("fraud", 0, CFGF_NODEFAULT),
        CFG_FLOAT("virus", 0, CFGF_NODEFAULT),     CFG_FLOAT("other", 0, CFGF_NODEFAULT),
        CFG_FLOAT("not_spam", 0, CFGF_NODEFAULT),  CFG_FLOAT("auth_failure", 0, CFGF_NODEFAULT),
        CFG_FLOAT("trap_hits", 0, CFGF_NODEFAULT), CFG_END(),
    };
    cfg_opt_t acl_opts[] = {
        CFG_STR_LIST("allow", NULL, CFGF_NODEFAULT),
        CFG_STR_LIST("refuse", NULL, CFGF_NODEFAULT),
        CFG_STR_LIST("error", NULL, CFGF_NODEFAULT),
        CFG_STR("error_code", NULL, CFGF_NODEFAULT),
        CFG_STR("error_txt", NULL, CFGF_NODEFAULT),
        CFG_INT("error_ttl", 0, CFGF_NODEFAULT),
        CFG_END(),
    };
    cfg_opt_t zone_opts[] = {
        CFG_STR("file", NULL, CFGF_NODEFAULT),
        CFG_INT("ttl", 0, CFGF_NODEFAULT),
        CFG_INT("journal_max", 0, CFGF_NODEFAULT),
        CFG_STR("code", NULL, CFGF_NODEFAULT),
        CFG_STR("txt", NULL, CFGF_NODEFAULT),
        CFG_STR("kind", NULL, CFGF_NODEFAULT),
        CFG_STR("code_complaints", NULL, CFGF_NODEFAULT),
        CFG_STR("code_traps", NULL, CFGF_NODEFAULT),
        CFG_STR("code_imported", NULL, CFGF_NODEFAULT),
        CFG_STR("code_allow", NULL, CFGF_NODEFAULT),
        CFG_FLOAT("threshold", 0, CFGF_NODEFAULT),
        CFG_STR("half_life", NULL, CFGF_NODEFAULT),
        CFG_FLOAT("rate_reference", 0, CFGF_NODEFAULT),
        CFG_INT("window_days", 0, CFGF_NODEFAULT),
        CFG_BOOL("snds_red_lists", cfg_true, CFGF_NODEFAULT),
        CFG_STR("snds_max_age", NULL, CFGF_NODEFAULT),
        CFG_STR_LIST("datasets", NULL, CFGF_NODEFAULT),
        CFG_SEC("weights", weight_opts, CFGF_NODEFAULT),
        CFG_SEC("acl", acl_opts, CFGF_NODEFAULT),
        CFG_STR_LIST("allow_transfer", NULL, CFGF_NODEFAULT),
        CFG_STR("transfer_key", NULL, CFGF_NODEFAULT),
        CFG_STR_LIST("notify", NULL, CFGF_NODEFAULT),
        CFG_END(),
    };
    cfg_opt_t key_opts[] = {
        CFG_STR("algorithm", NULL, CFGF_NODEFAULT),
        CFG_STR("secret", NULL, CFGF_NODEFAULT),
        CFG_END(),
    };
    cfg_opt_t opts[] = {
        CFG_STR("db", NULL, CFGF_NODEFAULT),
        CFG_STR_LIST("listen", NULL, CFGF_NODEFAULT),
        CFG_INT("workers", 0, CFGF_NODEFAULT),
        CFG_BOOL("log_queries", cfg_false, CFGF_NODEFAULT),
        CFG_INT("tcp_idle_timeout", 0, CFGF_NODEFAULT),
        CFG_INT("tcp_max_queries", 0, CFGF_NODEFAULT),
        CFG_INT("tcp_max_clients", 0, CFGF_NODEFAULT),
        CFG_INT("tcp_max_per_client", 0, CFGF_NODEFAULT),
        CFG_INT("rrl_rate", 0, CFGF_NODEFAULT),
        CFG_INT("rrl_slip", 0, CFGF_NODEFAULT),
        CFG_INT("rrl_ipv4_prefix", 0, CFGF_NODEFAULT),
        CFG_INT("rrl_ipv6_prefix", 0, CFGF_NODEFAULT),
        CFG_STR("user", NULL, CFGF_NODEFAULT),
        CFG_STR("chroot", NULL, CFGF_NODEFAULT),
        CFG_BOOL("refuse_root", cfg_false, CFGF_NODEFAULT),
        CFG_SEC("key", key_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
        CFG_SEC("zone", zone_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
        CFG_END(),
    };
    struct config_sink sink = {.buf = why, .cap = why ? whylen : 0, .set = false};
    struct config tmp;
    config_init(&tmp);
    if (snprintf(tmp.path, sizeof tmp.path, "%s", path) >= (int)sizeof tmp.path) {
        config_set_why(why, whylen, "config file name is too long");
        return DNSBL_EINVAL;
    }

    /* flex exits the process when it cannot read, e.g. from a directory. */
    struct stat st;
    if (stat(path, &st) != 0) {
        config_set_why(why, whylen, "%s: cannot read: %s", path, strerror(errno));
        return DNSBL_ENOENT;
    }
    if (!S_ISREG(st.st_mode)) {
        config_set_why(why, whylen, "%s: cannot read: not a regular file", path);
        return DNSBL_ENOENT;
    }

    cfg_t *cfg = cfg_init(opts, CFGF_NONE);
    if (cfg == NULL) {
        config_set_why(why, whylen, "%s: out of memory", path);
        return DNSBL_ENOMEM;
    }
    cfg_set_error_function(cfg, config_on_error);
    cfg_set_validate_func(cfg, "db", config_v_path);
    cfg_set_validate_func(cfg, "listen", config_v_listen);
    cfg_set_validate_func(cfg, "user", config_v_user);
    cfg_set_validate_func(cfg, "chroot", config_v_path);
    cfg_set_validate_func(cfg, "zone", config_v_zone);
    for (size_t i = 0; i < sizeof config_ranges / sizeof config_ranges[0]; i++)
        cfg_set_validate_func(cfg, config_ranges[i].path, config_v_range);
    cfg_set_validate_func(cfg, "zone|file", config_v_path);
    cfg_set_validate_func(cfg, "zone|code", config_v_code);
    cfg_set_validate_func(cfg, "zone|txt", config_v_txt);
    cfg_set_validate_func(cfg, "zone|acl|allow", config_v_prefix);
    cfg_set_validate_func(cfg, "zone|acl|refuse", config_v_prefix);
    cfg_set_validate_func(cfg, "zone|acl|error", config_v_prefix);
    cfg_set_validate_func(cfg, "zone|acl|error_code", config_v_error_code);
    cfg_set_validate_func(cfg, "zone|acl|error_txt", config_v_txt);
    cfg_set_validate_func(cfg, "key", config_v_key);
    cfg_set_validate_func(cfg, "zone|allow_transfer", config_v_xfr_prefix);
    cfg_set_validate_func(cfg, "zone|transfer_key", config_v_transfer_key);
    cfg_set_validate_func(cfg, "zone|notify", config_v_notify);

    config_tls_sink = &sink;
    config_tls_root = cfg;
    errno = 0;
    int prc = cfg_parse(cfg, path);
    int saved_errno = errno;
    config_tls_sink = NULL;
    config_tls_root = NULL;

    int rc = DNSBL_OK;
    if (prc == CFG_FILE_ERROR) {
        config_set_why(why, whylen, "%s: cannot read: %s", path,
                       strerror(saved_errno ? saved_errno : ENOENT));
        rc = DNSBL_ENOENT;
    } else if (prc != CFG_SUCCESS) {
        if (!sink.set)
            config_set_why(why, whylen, "%s: syntax error", path);
        rc = DNSBL_EINVAL;
    } else {
        /* Relative paths follow the file, wherever dnsbld was started. */
        char dir[PATH_MAX] = "";
        const char *slash = strrchr(path, '/');
        if (slash == path)
            snprintf(dir, sizeof dir, "/");
        else if (slash != NULL)
            snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
        rc = config_from_cfg(cfg, dir, &tmp, why, whylen);
    }
    cfg_free(cfg);
    if (rc != DNSBL_OK) {
        config_free(&tmp);
        return rc;
    }
    config_free(c);
    *c = tmp;
    return DNSBL_OK;
}
