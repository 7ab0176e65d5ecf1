/* cmd_export: `dnsblctl export`, what a zone answers now, in a form other
 * software loads: rbldnsd data (for rbldnsd mirrors), a master-format
 * zone file rendered with ldns, or CSV that imports back. The store's
 * prefixes come in address order with every prefix before the ones it
 * covers, so a stack of enclosing prefixes tells what longest-prefix
 * matching would answer without the entry at hand: an entry that is not
 * listed inside one that is becomes an exclusion, others need no line.
 * With --output the file is replaced atomically (temp file + rename), so
 * a server reloading it never sees half a file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "ctl.h"
#include "err.h"
#include "grow.h"
#include "txt.h"

/* The apex dnsbld synthesises without a zone file (zone.c). */
#define EXPORT_SYNTH_TTL 3600
#define EXPORT_SYNTH_MINIMUM 600

#define EXPORT_EXPAND_BITS 16 /* a prefix expands to at most 2^16 names */
#define EXPORT_TXT_MAX 1024

enum export_format { EXPORT_NONE, EXPORT_RBLDNSD, EXPORT_ZONE, EXPORT_CSV };

struct export_args {
    enum export_format format;
    const char *zone, *output, *zone_file, *zone_config;
    bool done;
};

struct export_level {
    struct addr_prefix p;
    bool listed;
};

struct export_ctx {
    const struct ctl_ctx *ctx;
    struct export_args a;
    struct ctl_zone zone;
    struct ctl_lookup *l;
    FILE *out;
    struct addr_prefix *prefixes;
    size_t n, cap;
    bool has_v6;
    struct export_level stack[STORE_COVERING_MAX];
    size_t depth;
    uint8_t *covered; /* zone expansion: names owned by longer entries */
    char now_text[CTL_TEXT_SHORT];
    int err; /* collecting: an allocation failed */
};

static int export_collect(const struct entry *e, void *arg)
{
    struct export_ctx *x = arg;

    x->err = grow_array((void **)&x->prefixes, &x->cap, x->n + 1, sizeof *x->prefixes, 1024);
    if (x->err)
        return 1;
    x->prefixes[x->n++] = e->prefix;
    if (e->prefix.family == ADDR_V6)
        x->has_v6 = true;
    return 0;
}

static void export_v4(struct addr_prefix *p, uint32_t a, unsigned plen)
{
    uint8_t b[4] = {(uint8_t)(a >> 24), (uint8_t)(a >> 16), (uint8_t)(a >> 8), (uint8_t)a};
    addr_from_bytes(p, ADDR_V4, b, plen);
}

/* A decision's reason in words: the deciding entry's reason, else why. */
static const char *export_reason(const struct decision *d)
{
    const struct entry *e = d->decider ? d->decider : d->imported ? d->imported : d->evidence;

    if (d->why == WHY_TESTPOINT)
        return "RFC 5782 test point";
    if (e && e->reason[0])
        return e->reason;
    return model_why_name(d->why);
}

/* ---- rbldnsd ---------------------------------------------------------- */

/* The TXT of code i as a stored template (txt.h), which rbldnsd reads
 * the same way: rendered with a mark byte for the address, then written
 * back with the literal text escaped. */
static bool export_txt_template(const struct ctl_zone *z, const struct decision *d, unsigned i,
                                char *out, size_t cap)
{
    char raw[EXPORT_TXT_MAX];
    struct txt_builder b;
    size_t len;

    if (!verdict_render_txt(&z->policy, d, i, "\x01", z->name, raw, sizeof raw, &len))
        return false;
    txt_builder_init(&b, out, cap);
    txt_builder_rendered(&b, raw, len, '\x01');
    /* One line per entry: a line break would end it. */
    for (char *c = out; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = ' ';
    return true;
}

static void export_rbldnsd_listed(struct export_ctx *x, const char *key, const struct decision *d)
{
    char code[CTL_TEXT_SHORT], txt[2 * EXPORT_TXT_MAX];

    ctl_format_code(d->codes[0], code);
    if (export_txt_template(&x->zone, d, 0, txt, sizeof txt))
        fprintf(x->out, "%s :%s:%s\n", key, code, txt);
    else
        fprintf(x->out, "%s :%s:\n", key, code);
    /* One value per prefix in a trie dataset: name the others. */
    for (unsigned i = 1; i < d->n; i++) {
        ctl_format_code(d->codes[i], code);
        fprintf(x->out, "# %s also answers %s (%s)\n", key, code, model_why_name(d->code_why[i]));
    }
}

static void export_rbldnsd_section(struct export_ctx *x, const char *type)
{
    if (x->has_v6)
        fprintf(x->out, "\n$DATASET %s @\n", type);
    fprintf(x->out, "$TTL %u\n", x->zone.policy.ttl);
}

static void export_rbldnsd_begin(struct export_ctx *x)
{
    struct decision tp;

    fprintf(x->out,
            "# rbldnsd data written by dnsblctl export at %s\n"
            "# zone %s: what it answers now for every stored entry.\n"
            "# Load it as dataset type %s, e.g. rbldnsd ... %s:%s:FILE\n",
            x->now_text, x->zone.name[0] ? x->zone.name : "(none given)",
            x->has_v6 ? "combined" : "ip4trie", x->zone.name[0] ? x->zone.name : "ZONE",
            x->has_v6 ? "combined" : "ip4trie");
    export_rbldnsd_section(x, "ip4trie");
    verdict_testpoint_decision(&x->zone.policy, &tp);
    fputs("# RFC 5782 test points: 127.0.0.2 always listed, 127.0.0.1 never\n", x->out);
    export_rbldnsd_listed(x, "127.0.0.2", &tp);
    fputs("!127.0.0.1\n", x->out);
}

static void export_rbldnsd_entry(struct export_ctx *x, const struct addr_prefix *p,
                                 const struct decision *d, bool listed, bool parent_listed)
{
    char key[ADDR_TEXT_MAX + 1];

    key[0] = '!';
    addr_format(p, key + 1, sizeof key - 1);
    if (listed)
        export_rbldnsd_listed(x, key + 1, d);
    else if (parent_listed)
        fprintf(x->out, "%s\n", key);
}

/* ---- csv -------------------------------------------------------------- */

/* One RFC 4180 field: quoted when it holds a comma or a quote; line
 * breaks become spaces so a row stays one line. */
static void export_csv_field(FILE *out, const char *s)
{
    bool quote = strpbrk(s, ",\"") != NULL;

    if (quote)
        fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputs("\"\"", out);
        else
            fputc((unsigned char)*s < 0x20 ? ' ' : *s, out);
    }
    if (quote)
        fputc('"', out);
}

static void export_csv_row(struct export_ctx *x, const struct addr_prefix *p, const char *kind,
                           const char *reason)
{
    char text[ADDR_TEXT_MAX];

    addr_format(p, text, sizeof text);
    fprintf(x->out, "%s,%s,1,%s,", text, kind, x->now_text);
    export_csv_field(x->out, reason);
    fputc('\n', x->out);
}

static void export_csv_begin(struct export_ctx *x)
{
    struct addr_prefix tp;

    fputs("address_or_prefix,kind,weight,time,reason\n", x->out);
    export_v4(&tp, VERDICT_TESTPOINT, 32);
    export_csv_row(x, &tp, "list", "RFC 5782 test point");
}

static void export_csv_entry(struct export_ctx *x, const struct addr_prefix *p,
                             const struct decision *d, bool listed, bool parent_listed)
{
    if (listed)
        export_csv_row(x, p, "list", export_reason(d));
    else if (parent_listed)
        export_csv_row(x, p, "allow", "not listed inside a listed prefix");
}

/* ---- zone ------------------------------------------------------------- */

static int export_print_rr(struct export_ctx *x, ldns_rr *rr)
{
    if (!rr)
        return DNSBL_ENOMEM;
    ldns_rr_print(x->out, rr);
    ldns_rr_free(rr);
    return DNSBL_OK;
}

static ldns_rr *export_rr_new(const char *owner, uint32_t ttl, ldns_rr_type type)
{
    ldns_rr *rr = ldns_rr_new();
    ldns_rdf *name = ldns_dname_new_frm_str(owner);

    if (!rr || !name) {
        ldns_rr_free(rr);
        ldns_rdf_deep_free(name);
        return NULL;
    }
    ldns_rr_set_owner(rr, name);
    ldns_rr_set_ttl(rr, ttl);
    ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
    ldns_rr_set_type(rr, type);
    return rr;
}

static ldns_rr *export_rr_a(const char *owner, uint32_t ttl, uint32_t code)
{
    uint8_t b[4] = {(uint8_t)(code >> 24), (uint8_t)(code >> 16), (uint8_t)(code >> 8),
                    (uint8_t)code};
    ldns_rr *rr = export_rr_new(owner, ttl, LDNS_RR_TYPE_A);
    ldns_rdf *rdf = rr ? ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, sizeof b, b) : NULL;

    if (!rdf || !ldns_rr_push_rdf(rr, rdf)) {
        ldns_rdf_deep_free(rdf);
        ldns_rr_free(rr);
        return NULL;
    }
    return rr;
}

/* A TXT record from raw text: character-strings of at most 255 bytes,
 * built as data so ldns does the quoting and escaping on output. */
static ldns_rr *export_rr_txt(const char *owner, uint32_t ttl, const char *text, size_t len)
{
    ldns_rr *rr = export_rr_new(owner, ttl, LDNS_RR_TYPE_TXT);
    uint8_t chunk[256];
    size_t pos = 0;

    if (!rr)
        return NULL;
    do {
        size_t k = len - pos > 255 ? 255 : len - pos;
        chunk[0] = (uint8_t)k;
        memcpy(chunk + 1, text + pos, k);
        ldns_rdf *rdf = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_STR, k + 1, chunk);
        if (!rdf || !ldns_rr_push_rdf(rr, rdf)) {
            ldns_rdf_deep_free(rdf);
            ldns_rr_free(rr);
            return NULL;
        }
        pos += k;
    } while (pos < len);
    return rr;
}

/* A and TXT records of one listed address, as packet.c answers them. */
static int export_zone_name(struct export_ctx *x, const struct addr_prefix *addr,
                            const struct decision *d)
{
    char owner[ADDR_TEXT_MAX * 2 + ZONE_NAME_MAX], ip[ADDR_TEXT_MAX], txt[EXPORT_TXT_MAX];
    size_t len = addr_to_qname(addr, x->zone.name, owner, sizeof owner - 1);
    int rc = DNSBL_OK;

    if (len == 0)
        return DNSBL_ESPACE;
    owner[len] = '.';
    owner[len + 1] = '\0';
    for (unsigned i = 0; i < d->n && rc == DNSBL_OK; i++)
        rc = export_print_rr(x, export_rr_a(owner, d->ttl, d->codes[i]));
    addr_format(addr, ip, sizeof ip);
    for (unsigned i = 0; i < d->n && rc == DNSBL_OK; i++) {
        if (verdict_render_txt(&x->zone.policy, d, i, ip, x->zone.name, txt, sizeof txt, &len))
            rc = export_print_rr(x, export_rr_txt(owner, d->ttl, txt, len));
    }
    return rc;
}

static int export_zone_apex_file(struct export_ctx *x, const char *path)
{
    char origin_text[ZONE_NAME_MAX + 2];
    ldns_zone *lz = NULL;
    int line = 0;
    FILE *fp = fopen(path, "r");

    if (!fp) {
        ctl_error("%s: %s", path, strerror(errno));
        return CTL_EXIT_FAIL;
    }
    snprintf(origin_text, sizeof origin_text, "%s.", x->zone.name);
    ldns_rdf *origin = ldns_dname_new_frm_str(origin_text);
    ldns_status st =
        ldns_zone_new_frm_fp_l(&lz, fp, origin, EXPORT_SYNTH_TTL, LDNS_RR_CLASS_IN, &line);
    fclose(fp);
    ldns_rdf_deep_free(origin);
    if (st != LDNS_STATUS_OK) {
        ctl_error("%s:%d: %s", path, line, ldns_get_errorstr_by_id(st));
        return CTL_EXIT_FAIL;
    }
    if (!ldns_zone_soa(lz)) {
        ctl_error("%s: no SOA record for %s", path, x->zone.name);
        ldns_zone_deep_free(lz);
        return CTL_EXIT_FAIL;
    }
    ldns_rr_print(x->out, ldns_zone_soa(lz));
    ldns_rr_list_print(x->out, ldns_zone_rrs(lz));
    ldns_zone_deep_free(lz);
    return CTL_EXIT_OK;
}

/* The apex as dnsbld synthesises it, with the export time as serial. */
static int export_zone_apex_synth(struct export_ctx *x)
{
    char text[3 * ZONE_NAME_MAX + 128];
    const char *z = x->zone.name;
    ldns_rr *rr = NULL;

    snprintf(text, sizeof text, "%s. %d IN SOA ns.%s. hostmaster.%s. %lu 3600 600 604800 %d", z,
             EXPORT_SYNTH_TTL, z, z, (unsigned long)(x->ctx->now & 0xffffffff),
             EXPORT_SYNTH_MINIMUM);
    if (ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL) != LDNS_STATUS_OK) {
        ctl_error("zone %s: cannot make its SOA record", z);
        return CTL_EXIT_FAIL;
    }
    export_print_rr(x, rr);
    snprintf(text, sizeof text, "%s. %d IN NS ns.%s.", z, EXPORT_SYNTH_TTL, z);
    rr = NULL;
    if (ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL) != LDNS_STATUS_OK) {
        ctl_error("zone %s: cannot make its NS record", z);
        return CTL_EXIT_FAIL;
    }
    export_print_rr(x, rr);
    return CTL_EXIT_OK;
}

static int export_zone_begin(struct export_ctx *x)
{
    struct addr_prefix tp;
    struct decision d;
    const char *file = x->a.zone_file ? x->a.zone_file : x->zone.file;
    int rc;

    fprintf(x->out,
            "; zone %s written by dnsblctl export at %s: what it answers now.\n"
            "; Listed prefixes are expanded to one name per address (at most 65536).\n",
            x->zone.name, x->now_text);
    rc = file && file[0] ? export_zone_apex_file(x, file) : export_zone_apex_synth(x);
    if (rc != CTL_EXIT_OK)
        return rc;
    export_v4(&tp, VERDICT_TESTPOINT, 32);
    verdict_testpoint_decision(&x->zone.policy, &d);
    if (export_zone_name(x, &tp, &d) != DNSBL_OK) {
        ctl_error("zone %s: writing the test point failed", x->zone.name);
        return CTL_EXIT_FAIL;
    }
    return CTL_EXIT_OK;
}

/* The low 32 address bits: expansions span at most 16 of them. */
static uint32_t export_low_bits(const struct addr_prefix *p)
{
    return (uint32_t)p->a[12] << 24 | (uint32_t)p->a[13] << 16 | (uint32_t)p->a[14] << 8 | p->a[15];
}

static void export_set_low_bits(struct addr_prefix *p, uint32_t v)
{
    p->a[12] = (uint8_t)(v >> 24);
    p->a[13] = (uint8_t)(v >> 16);
    p->a[14] = (uint8_t)(v >> 8);
    p->a[15] = (uint8_t)v;
}

/* Every address of the listed prefix at index i, except those a longer
 * stored entry decides (they come after it, and get their own turn). */
static int export_zone_entry(struct export_ctx *x, size_t i, const struct decision *d)
{
    const struct addr_prefix *p = &x->prefixes[i];
    unsigned host = p->family == ADDR_V4 ? 32 : 128;
    unsigned bits = host - p->plen;
    char text[ADDR_TEXT_MAX];

    if (bits > EXPORT_EXPAND_BITS) {
        addr_format(p, text, sizeof text);
        ctl_error("export: warning: %s is listed but spans more than 65536 addresses; left "
                  "out of the zone file (no wildcards)",
                  text);
        return CTL_EXIT_OK;
    }
    uint32_t count = 1u << bits, base = export_low_bits(p);
    memset(x->covered, 0, count);
    for (size_t j = i + 1; j < x->n && addr_covers(p, &x->prefixes[j]); j++) {
        const struct addr_prefix *c = &x->prefixes[j];
        uint32_t off = export_low_bits(c) - base, span = 1u << (host - c->plen);
        memset(x->covered + off, 1, span);
    }
    for (uint32_t k = 0; k < count; k++) {
        if (x->covered[k])
            continue;
        struct addr_prefix addr = *p;
        addr.plen = (uint8_t)host;
        export_set_low_bits(&addr, base + k);
        if (verdict_testpoint(&addr) != VERDICT_TP_NONE)
            continue;
        if (export_zone_name(x, &addr, d) != DNSBL_OK) {
            addr_format(&addr, text, sizeof text);
            ctl_error("zone %s: writing %s failed", x->zone.name, text);
            return CTL_EXIT_FAIL;
        }
    }
    return CTL_EXIT_OK;
}

/* ---- the walk ----------------------------------------------------------- */

static int export_walk(struct export_ctx *x)
{
    struct verdict v;
    int rc = CTL_EXIT_OK;

    for (size_t i = 0; i < x->n && rc == CTL_EXIT_OK; i++) {
        const struct addr_prefix *p = &x->prefixes[i];
        while (x->depth && !addr_covers(&x->stack[x->depth - 1].p, p))
            x->depth--;
        bool parent_listed = x->depth && x->stack[x->depth - 1].listed;
        /* The test points are the server's, whatever the store says. */
        if (verdict_testpoint(p) != VERDICT_TP_NONE)
            continue;
        if (x->a.format == EXPORT_RBLDNSD && p->family == ADDR_V6 &&
            (i == 0 || x->prefixes[i - 1].family != ADDR_V6))
            export_rbldnsd_section(x, "ip6trie");
        rc = ctl_lookup_decide(x->l, p, &x->zone.policy, x->ctx->now, &v);
        if (rc != CTL_EXIT_OK)
            break;
        bool listed = v.d.listed && v.d.n > 0;
        switch (x->a.format) {
        case EXPORT_RBLDNSD:
            export_rbldnsd_entry(x, p, &v.d, listed, parent_listed);
            break;
        case EXPORT_CSV:
            export_csv_entry(x, p, &v.d, listed, parent_listed);
            break;
        case EXPORT_ZONE:
            if (listed)
                rc = export_zone_entry(x, i, &v.d);
            break;
        case EXPORT_NONE:
            break;
        }
        if (x->depth < STORE_COVERING_MAX)
            x->stack[x->depth++] = (struct export_level){.p = *p, .listed = listed};
    }
    return rc;
}

static int export_parse_args(struct ctl_ctx *ctx, int argc, char **argv, struct export_args *a)
{
    static const struct option opts[] = {
        CTL_OPTIONS_COMMON,
        {"format", required_argument, NULL, 'f'},
        {"zone", required_argument, NULL, 'z'},
        {"output", required_argument, NULL, 'o'},
        {"zone-file", required_argument, NULL, 'F'},
        {"zone-config", required_argument, NULL, 'Z'},
        {NULL, 0, NULL, 0},
    };

    for (;;) {
        int c = ctl_getopt(ctx, argc, argv, CTL_SHORTOPTS_COMMON "f:z:o:F:Z:", opts);
        switch (c) {
        case CTL_GETOPT_END:
            if (ctl_args_none(ctx, argc, argv) != CTL_EXIT_OK)
                return CTL_EXIT_USAGE;
            if (a->format == EXPORT_NONE)
                return ctl_usage_error(ctx, "missing --format rbldnsd|zone|csv");
            if (a->format == EXPORT_ZONE && !a->zone)
                return ctl_usage_error(ctx, "--format zone needs --zone NAME");
            if (a->zone_file && a->format != EXPORT_ZONE)
                return ctl_usage_error(ctx, "--zone-file is for --format zone");
            return CTL_EXIT_OK;
        case CTL_GETOPT_HELP:
            a->done = true;
            return CTL_EXIT_OK;
        case 'f':
            if (strcmp(optarg, "rbldnsd") == 0)
                a->format = EXPORT_RBLDNSD;
            else if (strcmp(optarg, "zone") == 0)
                a->format = EXPORT_ZONE;
            else if (strcmp(optarg, "csv") == 0)
                a->format = EXPORT_CSV;
            else
                return ctl_usage_error(ctx, "unknown format '%s' (rbldnsd, zone or csv)", optarg);
            break;
        case 'z':
            a->zone = optarg;
            break;
        case 'o':
            a->output = optarg;
            break;
        case 'F':
            a->zone_file = optarg;
            break;
        case 'Z':
            a->zone_config = optarg;
            break;
        default:
            return CTL_EXIT_USAGE;
        }
    }
}

/* Zone names as dnsbld keeps them: lower case, no trailing dot. */
static void export_normalise_zone(struct ctl_zone *z)
{
    size_t len = strlen(z->name);
    while (len > 0 && z->name[len - 1] == '.')
        z->name[--len] = '\0';
    for (char *s = z->name; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

static int export_write(struct export_ctx *x)
{
    int rc;

    switch (x->a.format) {
    case EXPORT_RBLDNSD:
        export_rbldnsd_begin(x);
        break;
    case EXPORT_CSV:
        export_csv_begin(x);
        break;
    case EXPORT_ZONE:
        rc = export_zone_begin(x);
        if (rc != CTL_EXIT_OK)
            return rc;
        break;
    case EXPORT_NONE:
        break;
    }
    return export_walk(x);
}

/* Into a temp file beside --output, renamed over it only when whole. */
static int export_to_file(struct export_ctx *x)
{
    char tmp[PATH_MAX];
    const char *path = x->a.output;

    if ((size_t)snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= sizeof tmp) {
        ctl_error("--output %s: %s", path, strerror(ENAMETOOLONG));
        return CTL_EXIT_FAIL;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        ctl_error("--output %s: %s", path, strerror(errno));
        return CTL_EXIT_FAIL;
    }
    x->out = fdopen(fd, "w");
    if (!x->out) {
        ctl_error("--output %s: %s", path, strerror(errno));
        close(fd);
        unlink(tmp);
        return CTL_EXIT_FAIL;
    }
    int rc = export_write(x);
    if (rc == CTL_EXIT_OK && (fflush(x->out) != 0 || ferror(x->out) || fsync(fd) != 0)) {
        ctl_error("writing %s: %s", tmp, strerror(errno));
        rc = CTL_EXIT_FAIL;
    }
    if (fclose(x->out) != 0 && rc == CTL_EXIT_OK) {
        ctl_error("writing %s: %s", tmp, strerror(errno));
        rc = CTL_EXIT_FAIL;
    }
    x->out = NULL;
    if (rc == CTL_EXIT_OK && (chmod(tmp, 0644) != 0 || rename(tmp, path) != 0)) {
        ctl_error("--output %s: %s", path, strerror(errno));
        rc = CTL_EXIT_FAIL;
    }
    if (rc != CTL_EXIT_OK)
        unlink(tmp);
    return rc;
}

int ctl_cmd_export(struct ctl_ctx *ctx, int argc, char **argv)
{
    struct export_ctx *x = calloc(1, sizeof *x);
    struct store *s = NULL;
    int rc;

    if (!x) {
        ctl_error("export: %s", dnsbl_strerror(DNSBL_ENOMEM));
        return CTL_EXIT_FAIL;
    }
    x->ctx = ctx;
    rc = export_parse_args(ctx, argc, argv, &x->a);
    if (rc != CTL_EXIT_OK || x->a.done)
        goto out;
    rc = ctl_zone_resolve(ctx, x->a.zone_config, x->a.zone, &x->zone);
    if (rc != CTL_EXIT_OK)
        goto out;
    export_normalise_zone(&x->zone);
    ctl_format_time(ctx->now, x->now_text);
    x->covered = malloc((size_t)1 << EXPORT_EXPAND_BITS);
    if (!x->covered) {
        ctl_error("export: %s", dnsbl_strerror(DNSBL_ENOMEM));
        rc = CTL_EXIT_FAIL;
        goto out;
    }
    rc = ctl_store_open_existing(ctx, STORE_RDONLY, &s);
    if (rc != CTL_EXIT_OK)
        goto out;
    rc = ctl_store_foreach(s, export_collect, x, &x->err);
    if (rc != CTL_EXIT_OK)
        goto out;
    rc = ctl_lookup_open(s, &x->l);
    if (rc != CTL_EXIT_OK)
        goto out;
    if (x->a.output) {
        rc = export_to_file(x);
    } else {
        x->out = stdout;
        rc = export_write(x);
    }
out:
    ctl_lookup_close(x->l);
    if (s)
        store_close(s);
    free(x->covered);
    free(x->prefixes);
    free(x);
    return rc;
}
