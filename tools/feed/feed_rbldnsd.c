/* feed_rbldnsd: rbldnsd dataset files (doc/formats.md section 4) into imported
 * list events. One pass reads every line; each dataset (the file, or each
 * $DATASET section of a combined file) collects its entries in a table
 * keyed by prefix, so that duplicates and ip4set's per-block rules are
 * resolved within the file. Only at the end, when $TTL, $n and $= are known
 * for good (rbldnsd applies them at query time, wherever they stand in the
 * file), does every entry become one event, its TXT template already
 * substituted except for "$" (the queried address) and "$$" (a dollar).
 * The key and value syntax is rbldnsd's own, so it is parsed here by hand;
 * domain names and the apex records go through ldns.
 *
 * This file reads the lines, the special "$" lines and the apex, and turns
 * the sets into events; feed_rbldnsd_syntax.c parses keys and values,
 * feed_rbldnsd_set.c keeps each set's prefix table (feed_rbldnsd_int.h). */
#include "feed_rbldnsd.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <ldns/ldns.h>

#include "addr.h"
#include "err.h"
#include "feed_rbldnsd_int.h"
#include "grow.h"
#include "model.h"
#include "timeutil.h"
#include "txt.h"

static const struct rb_dstype rb_types[] = {
    {"ip4set", RB_IMPORT, false, rb_line_ip4set},
    {"ip4tset", RB_IMPORT, true, rb_line_ip4tset},
    {"ip4trie", RB_IMPORT, false, rb_line_ip4trie},
    {"ip6trie", RB_IMPORT, false, rb_line_ip6trie},
    {"ip6tset", RB_IMPORT, true, rb_line_ip6tset},
    {"combined", RB_COMBINED, false, NULL},
    {"dnset", RB_DOMAIN, false, NULL},
    {"dnhash", RB_DOMAIN, false, NULL},
    {"acl", RB_SKIP, false, NULL},
    {"aclkey", RB_SKIP, false, NULL},
    {"generic", RB_SKIP, false, NULL},
};

static const struct rb_dstype *rb_type_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof(rb_types) / sizeof(rb_types[0]); i++)
        if (strcasecmp(name, rb_types[i].name) == 0)
            return &rb_types[i];
    return NULL;
}

/* ---- reporting ---- */

static void rb_report(struct rb_parser *p, bool reject, long line, const char *raw, size_t rawlen,
                      const char *why)
{
    /* The lines read ahead come first, so that reports keep line order. */
    if (p->ahead_n && !p->draining)
        rb_trie_drain(p);
    if (!p->sink)
        return;
    struct feed_origin o = {
        .file = p->in->name, .line = line, .message_id = NULL, .raw = raw, .raw_len = rawlen};
    if (reject && p->sink->reject)
        p->sink->reject(p->sink->arg, &o, why);
    else if (!reject && p->sink->warn)
        p->sink->warn(p->sink->arg, &o, why);
}

__attribute__((format(printf, 6, 0))) static void rb_vreport(struct rb_parser *p, bool reject,
                                                             long line, const char *raw,
                                                             size_t rawlen, const char *fmt,
                                                             va_list ap)
{
    char why[RB_WHY_MAX];
    vsnprintf(why, sizeof(why), fmt, ap);
    rb_report(p, reject, line, raw, rawlen, why);
}

/* A warning about the line being read. */
__attribute__((format(printf, 2, 3))) void rb_warn(struct rb_parser *p, const char *fmt, ...)
{
    if (!p->sink)
        return;
    va_list ap;
    va_start(ap, fmt);
    rb_vreport(p, false, p->lineno, p->raw, p->rawlen, fmt, ap);
    va_end(ap);
}

/* A warning about an earlier line (found when the data set is complete). */
__attribute__((format(printf, 3, 4))) static void
rb_warn_value(struct rb_parser *p, const struct rb_value *v, const char *fmt, ...)
{
    if (!p->sink)
        return;
    const char *raw = v->line ? (const char *)p->in->data + v->raw_off : NULL;
    va_list ap;
    va_start(ap, fmt);
    rb_vreport(p, false, v->line, raw, v->line ? v->raw_len : 0, fmt, ap);
    va_end(ap);
}

/* The whole file is refused: raw is the file, for the reject directory. */
__attribute__((format(printf, 2, 3))) static void rb_reject_file(struct rb_parser *p,
                                                                 const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rb_vreport(p, true, 0, (const char *)p->in->data, p->in->len, fmt, ap);
    va_end(ap);
}

/* ---- special lines (doc/formats.md 4.1) ---- */

static char **rb_vars(struct rb_parser *p)
{
    return p->cur ? p->cur->vars : p->vars;
}

/* A domain name token of $SOA / $NS: cut at whitespace, checked by ldns. */
static char *rb_parse_dname(char *s, char *out)
{
    char *e = s;
    while (*e && !rb_space(*e))
        e++;
    size_t n = (size_t)(e - s);
    if (n == 0 || n >= RB_NAME_MAX - 1)
        return NULL;
    memcpy(out, s, n);
    out[n] = '\0';
    ldns_rdf *d = ldns_dname_new_frm_str(out);
    if (!d)
        return NULL;
    ldns_rdf_deep_free(d);
    if (n > 1 && out[n - 1] == '.')
        out[n - 1] = '\0';
    return rb_skip_space(e);
}

static void rb_directive_soa(struct rb_parser *p, char *w)
{
    struct rb_soa soa = {0};
    uint32_t *num[] = {&soa.refresh, &soa.retry, &soa.expire, &soa.minimum};
    bool ok = (w = rb_parse_time(w, &soa.ttl)) && (w = rb_parse_dname(w, soa.mname)) &&
              (w = rb_parse_dname(w, soa.rname)) && (w = rb_parse_u32(w, &soa.serial));
    for (int i = 0; ok && i < 4; i++)
        ok = (w = rb_parse_time(w, num[i])) != NULL;
    if (!ok || *w) {
        const char *text = "invalid $SOA line: expected '$SOA ttl origin-dn person-dn serial "
                           "refresh retry expire minttl'";
        if (!p->soa_err[0])
            snprintf(p->soa_err, sizeof(p->soa_err), "line %ld: %s", p->lineno, text);
        rb_warn(p, "%s; line skipped", text);
        return;
    }
    if (p->soa.valid) {
        rb_warn(p, "only the first $SOA line counts; this one is ignored");
        return;
    }
    if (soa.ttl == 0)
        soa.ttl = p->ttl_given && p->ttl ? p->ttl : RB_DEFAULT_ZONE_TTL;
    soa.valid = true;
    p->soa = soa;
}

static void rb_directive_ns(struct rb_parser *p, char *w)
{
    uint32_t ttl;
    char name[RB_NAME_MAX];
    char(*names)[RB_NAME_MAX] = NULL;
    size_t n = 0, cap = 0;
    bool ok = (w = rb_parse_time(w, &ttl)) != NULL && *w;
    while (ok && *w) {
        if (*w == '-') { /* a disabled name */
            while (*w && !rb_space(*w))
                w++;
            w = rb_skip_space(w);
            continue;
        }
        if (!(w = rb_parse_dname(w, name))) {
            ok = false;
            break;
        }
        if (n == RB_NS_MAX) {
            rb_warn(p, "more than %d names in $NS; the rest are ignored", RB_NS_MAX);
            break;
        }
        if (grow_array((void **)&names, &cap, n + 1, sizeof(*names), RB_FIRST)) {
            ok = false;
            break;
        }
        memcpy(names[n++], name, sizeof(name));
    }
    if (!ok) {
        free(names);
        rb_warn(p, "invalid $NS line: expected '$NS ttl name...'; line skipped");
        return;
    }
    if (p->ns_seen) {
        free(names);
        rb_warn(p, "only the first $NS line counts; this one is ignored");
        return;
    }
    p->ns_seen = true;
    p->ns = names;
    p->nns = n;
    p->ns_ttl = ttl ? ttl : p->ttl_given && p->ttl ? p->ttl : RB_DEFAULT_ZONE_TTL;
}

static void rb_directive_maxrange(struct rb_parser *p, char *w)
{
    bool cidr = *w == '/';
    uint32_t r;
    if (!(w = rb_parse_u32(w + cidr, &r)) || *w || r == 0 || (cidr && r > 32)) {
        rb_warn(p, "invalid $MAXRANGE4 line: expected '$MAXRANGE4 /N' or a count; line skipped");
        return;
    }
    uint64_t size = cidr ? (uint64_t)1 << (32 - r) : r;
    if (p->maxrange4 && p->maxrange4 < size)
        rb_warn(p, "$MAXRANGE4 can only shrink: %llu stays, %llu ignored",
                (unsigned long long)p->maxrange4, (unsigned long long)size);
    else
        p->maxrange4 = size;
}

static void rb_directive_timestamp(struct rb_parser *p, char *w)
{
    int64_t stamp, expires = 0;
    bool ok = (w = rb_parse_stamp(w, &stamp)) != NULL;
    if (ok && *w == '+') {
        uint32_t rel;
        ok = (w = rb_parse_time(w + 1, &rel)) && !*w && stamp && rel;
        expires = stamp + rel;
    } else if (ok && *w) {
        ok = (w = rb_parse_stamp(w, &expires)) && !*w;
    }
    if (!ok) {
        rb_warn(p, "invalid $TIMESTAMP line: expected '$TIMESTAMP yyyy:mm:dd[:hh[:mi[:ss]]] "
                   "[expires]'; line skipped");
        return;
    }
    if (stamp > p->stamp)
        p->stamp = stamp;
    p->stamp_line = p->lineno;
    p->stamp_off = (size_t)(p->raw - (const char *)p->in->data);
    p->stamp_len = p->rawlen;
    if (expires && (!p->expires || expires < p->expires))
        p->expires = expires;
}

/* Does dataset name ds stand for zone (the zone itself or "zone~k")? */
static bool rb_zone_is(const char *ds, const char *zone)
{
    size_t n = strlen(zone);
    return strncmp(ds, zone, n) == 0 && (ds[n] == '\0' || ds[n] == '~');
}

/* How many sections other than set are bound to zone already. */
static size_t rb_zone_sections(const struct rb_parser *p, const struct rb_set *set,
                               const char *zone)
{
    size_t k = 0;
    for (size_t i = 0; i < p->nsets; i++) {
        const struct rb_set *o = p->sets[i];
        for (size_t z = 0; o != set && z < o->nzones; z++) {
            if (rb_zone_is(o->zones[z], zone)) {
                k++;
                break;
            }
        }
    }
    return k;
}

static int rb_directive_dataset(struct rb_parser *p, char *w)
{
    if (p->top->role != RB_COMBINED) {
        rb_warn(p, "$DATASET is only valid in a combined dataset; line skipped");
        return DNSBL_OK;
    }
    p->in_section = true;
    if (!p->sink) /* reading the apex only */
        return DNSBL_OK;
    for (char *c = w; *c; c++) /* a comment only after whitespace */
        if (rb_comment(*c) && (c == w || rb_space(c[-1]))) {
            *c = '\0';
            break;
        }
    char *save = NULL, *tok = strtok_r(w, " \t\r", &save);
    char *label = tok ? strchr(tok, ':') : NULL;
    if (label)
        *label++ = '\0';
    const struct rb_dstype *t = rb_type_find(tok);
    struct rb_set *set;
    int rc = rb_set_new(p, t ? t : &rb_types[0], &set);
    if (rc)
        return rc;
    p->cur = set;
    set->skip = true;
    if (!t) {
        rb_warn(p, "unknown dataset type '%s' in $DATASET; section skipped", tok ? tok : "");
        return DNSBL_OK;
    }
    switch (t->role) {
    case RB_COMBINED:
        rb_warn(p, "a combined dataset cannot be nested; section skipped");
        return DNSBL_OK;
    case RB_SKIP:
        rb_warn(p, "%s section%s%s skipped: it is not list data", t->name, label ? " " : "",
                label ? label : "");
        return DNSBL_OK;
    case RB_DOMAIN:
        rb_report(p, true, p->lineno, p->raw, p->rawlen,
                  "domain datasets are not supported (dnsbld lists IP addresses); "
                  "section skipped");
        return DNSBL_OK;
    default:
        break;
    }
    set->skip = false;
    bool any = false;
    while ((tok = strtok_r(NULL, " \t\r", &save))) {
        any = true;
        char sub[RB_DATASET_MAX], full[RB_DATASET_MAX * 2 + 2];
        if (strcmp(tok, "@") == 0) {
            snprintf(full, sizeof(full), "%s", p->base);
        } else if (!rb_name_normalise(tok, sub, sizeof(sub))) {
            rb_warn(p, "invalid subzone name '%.60s'; skipped", tok);
            continue;
        } else {
            snprintf(full, sizeof(full), "%s.%s", sub, p->base);
        }
        if (strlen(full) >= RB_DATASET_MAX - 2) {
            rb_warn(p, "zone name %.80s is longer than %d characters; subzone skipped", full,
                    RB_DATASET_MAX - 3);
            continue;
        }
        /* The k-th section bound to one zone is dataset "name~k", so two
         * sections listing one address both answer (model_subzone_ids). */
        size_t k = rb_zone_sections(p, set, full) + 1;
        if (k > MODEL_SUBZONE_SETS) {
            rb_warn(p, "more than %d $DATASET sections for %.80s; this one is skipped there",
                    MODEL_SUBZONE_SETS, full);
            continue;
        }
        if (k > 1) {
            size_t len = strlen(full);
            full[len] = '~';
            full[len + 1] = (char)('0' + k);
            full[len + 2] = '\0';
        }
        if ((rc = rb_set_add_zone(set, full)))
            return rc;
    }
    if (!any)
        rb_warn(p, "no subzone given in $DATASET; the data of this section is ignored");
    return DNSBL_OK;
}

static int rb_directive(struct rb_parser *p, char *w)
{
    char *arg;
    if ((arg = rb_keyword(w, "soa"))) {
        rb_directive_soa(p, arg);
    } else if ((arg = rb_keyword(w, "ns")) || (arg = rb_keyword(w, "nameserver"))) {
        rb_directive_ns(p, arg);
    } else if ((arg = rb_keyword(w, "ttl"))) {
        uint32_t ttl;
        if (!(arg = rb_parse_time(arg, &ttl)) || *arg) {
            rb_warn(p, "invalid $TTL line: expected '$TTL time'; line skipped");
        } else if (p->in_section) { /* a combined section's own */
            if (p->cur)
                p->cur->ttl = ttl;
        } else { /* the file's, or the common part's that sections inherit */
            p->ttl = ttl;
            p->ttl_given = true;
            if (p->cur)
                p->cur->ttl = ttl;
        }
    } else if ((arg = rb_keyword(w, "maxrange4"))) {
        rb_directive_maxrange(p, arg);
    } else if ((isdigit((unsigned char)w[0]) || w[0] == '=') && rb_space(w[1])) {
        int n = w[0] == '=' ? RB_VAR_BASE : w[0] - '0';
        char **vars = rb_vars(p);
        arg = rb_skip_space(w + 1);
        if (!*arg)
            rb_warn(p, "$%c needs a value; line skipped", w[0]);
        else if (vars[n])
            rb_warn(p, "$%c is already set (the first assignment counts); line ignored", w[0]);
        else if (!(vars[n] = strdup(arg)))
            return DNSBL_ENOMEM;
        else if (n == RB_VAR_BASE)
            *(p->cur ? &p->cur->base_at : &p->base_at) =
                (struct rb_value){.line = p->lineno,
                                  .raw_off = (size_t)(p->raw - (const char *)p->in->data),
                                  .raw_len = p->rawlen};
    } else if ((arg = rb_keyword(w, "dataset"))) {
        return rb_directive_dataset(p, arg);
    } else if ((arg = rb_keyword(w, "timestamp"))) {
        rb_directive_timestamp(p, arg);
    } else {
        char k[72];
        rb_key_text(w, k, sizeof(k));
        rb_warn(p, "unrecognised special line '$%s'; line skipped", k);
    }
    return DNSBL_OK;
}

/* ---- the line loop ---- */

static int rb_line(struct rb_parser *p, char *s)
{
    s = rb_skip_space(s);
    char *e = s + strlen(s);
    while (e > s && rb_space(e[-1]))
        *--e = '\0';
    if (!*s)
        return DNSBL_OK;
    if (s[0] == '$')
        return rb_directive(p, s + 1);
    if ((rb_comment(s[0]) || s[0] == ':') && s[1] == '$')
        return rb_directive(p, s + 2);
    if (rb_comment(s[0]) || !p->sink)
        return DNSBL_OK;
    /* A default line (":" then not ":", which starts an IPv6 key) sets a
     * value; everything else here is an entry, imported or warned about. */
    if (!(s[0] == ':' && s[1] != ':') && !(p->cur && p->cur->skip))
        p->entry_line = true;
    if (!p->cur) {
        rb_warn(p, "entry outside any $DATASET section of a combined dataset; line skipped");
        return DNSBL_OK;
    }
    if (p->cur->skip)
        return DNSBL_OK;
    return p->cur->type->line(p, p->cur, s);
}

static int rb_scan(struct rb_parser *p)
{
    const char *data = (const char *)p->in->data;
    size_t len = p->in->len, pos = 0;
    if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
        pos = 3;
    while (pos < len) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (data + pos)) : len - pos;
        if (grow_array((void **)&p->buf, &p->bufcap, n + 1, 1, RB_FIRST))
            return DNSBL_ENOMEM;
        memcpy(p->buf, data + pos, n);
        p->buf[n] = '\0'; /* an embedded NUL ends the line, as in rbldnsd */
        p->lineno++;
        p->raw = data + pos;
        p->rawlen = n && data[pos + n - 1] == '\r' ? n - 1 : n; /* CRLF ends the line */
        p->entry_line = false;
        int rc = rb_line(p, p->buf);
        if (rc)
            return rc;
        pos += n + (nl ? 1 : 0);
        /* One record per entry line, so that "read" counts entries, not
         * lines (doc/formats.md 5); each is reported when the next one
         * comes, the last one at the end of the input. */
        if (p->entry_line) {
            if (p->entries++ && p->sink && p->sink->progress)
                p->sink->progress(p->sink->arg, p->entry_end);
            p->entry_end = pos;
        }
    }
    /* The events come once the whole input is read, past every record:
     * the import then blames a refused one on its own (import_sink.c). */
    if (p->entries && p->sink && p->sink->progress)
        p->sink->progress(p->sink->arg, len);
    rb_trie_drain(p);
    p->lineno = 0;
    return p->ahead_err;
}

/* ---- TXT substitution at import time (rbldnsd's txtsubst) ---- */

/* $n and $= are final only now: rbldnsd substitutes when answering, with
 * whatever the file set anywhere. "$" stays for the server: the result is
 * a stored template (txt.h). */
static const char *rb_resolve(struct rb_parser *p, struct rb_set *set, struct rb_value *v)
{
    if (v->done)
        return v->resolved;
    v->done = true;
    const char *txt = v->txt, *sx = NULL; /* sx: what "$=" stands for; NULL = the address */
    const char *base = set->vars[RB_VAR_BASE];
    if (txt[0] == '=') {
        sx = ++txt;
    } else if (base && *base) {
        sx = *txt ? txt : NULL;
        txt = base;
    } else {
        sx = txt;
    }
    char buf[RB_TEMPLATE_MAX + 1];
    struct txt_builder t;
    struct txt_token tok;
    txt_builder_init(&t, buf, sizeof buf);
    while (txt_template_next(&txt, TXT_RBLDNSD_DATA, &tok) != TXT_TOKEN_END) {
        switch (tok.kind) {
        case TXT_TOKEN_VAR: {
            const char *var = set->vars[tok.var];
            /* undefined: kept as "$n" */
            txt_builder_text(&t, var ? var : tok.text, var ? strlen(var) : tok.len);
            break;
        }
        case TXT_TOKEN_BASE:
            if (sx)
                txt_builder_text(&t, sx, strlen(sx));
            else
                txt_builder_addr(&t);
            break;
        case TXT_TOKEN_ADDR:
            txt_builder_addr(&t);
            break;
        default: /* text, and "$$" as the one "$" it stands for */
            txt_builder_text(&t, tok.text, tok.len);
            break;
        }
    }
    const struct rb_value *at = v->line ? v : &set->base_at; /* built in: blame $= */
    if (t.cut && !set->cut_warned) {
        set->cut_warned = true;
        rb_warn_value(p, at, "TXT longer than %d bytes after $n/$= substitution; cut",
                      RB_TEMPLATE_MAX);
    }
    if (t.ambiguous)
        rb_warn_value(p, at,
                      "TXT has a literal '$' or digit right after the address, which the "
                      "server's template cannot express; that TXT will differ from rbldnsd's");
    if (t.len == 0)
        return NULL; /* rbldnsd sends no TXT record for empty text */
    v->resolved = strdup(buf);
    return v->resolved; /* NULL when out of memory: the entry goes without TXT */
}

/* ---- events ---- */

static int rb_set_emit(struct rb_parser *p, struct rb_set *set)
{
    char reason[64];
    snprintf(reason, sizeof(reason), "rbldnsd %s", set->type->name);
    for (size_t z = 0; z < set->nzones; z++) {
        const char *dataset = set->zones[z][0] ? set->zones[z] : NULL;
        /* a combined section bound to a subzone answers there only */
        bool subzone = dataset && !rb_zone_is(dataset, p->base);
        for (size_t i = 0; i < set->nitems; i++) {
            const struct rb_item *it = &set->items[i];
            struct event ev = {.prefix = it->prefix,
                               .time = p->opt->file_mtime,
                               .source = p->source,
                               .dataset = dataset,
                               .subzone = subzone};
            if (it->val == RB_VAL_EXCLUDED) {
                ev.kind = EV_IMPORT_EXCLUDE;
            } else {
                struct rb_value *v = &set->vals[it->val == RB_VAL_SETDEF ? set->def : it->val];
                ev.kind = EV_IMPORT_LIST;
                ev.code = v->a;
                ev.ttl = set->ttl;
                ev.txt = rb_resolve(p, set, v);
                ev.reason = ev.txt ? ev.txt : reason;
            }
            int rc = p->sink->event(p->sink->arg, &ev, NULL);
            if (rc)
                return rc;
        }
    }
    return DNSBL_OK;
}

static void rb_parser_free(struct rb_parser *p)
{
    for (size_t i = 0; i < p->nsets; i++)
        rb_set_free(p->sets[i]);
    free(p->sets);
    for (int i = 0; i < RB_NVARS; i++)
        free(p->vars[i]);
    free(p->ns);
    free(p->buf);
}

/* The data's $TIMESTAMP, checked as rbldnsd does when it loads; false if
 * the file is refused. */
static bool rb_check_stamp(struct rb_parser *p)
{
    int64_t now = p->opt->now;
    char t[40];
    if (now > 0 && p->stamp > now) {
        time_format_rfc3339(p->stamp, t, sizeof(t));
        rb_reject_file(p,
                       "data timestamp %s (line %ld) is in the future; rbldnsd refuses to "
                       "load such data",
                       t, p->stamp_line);
        return false;
    }
    if (p->expires && now > 0 && p->expires <= now) {
        time_format_rfc3339(p->expires, t, sizeof(t));
        rb_reject_file(p, "data expired at %s ($TIMESTAMP); rbldnsd no longer serves it", t);
        return false;
    }
    if (p->expires) {
        time_format_rfc3339(p->expires, t, sizeof(t));
        rb_warn_value(p,
                      &(struct rb_value){
                          .line = p->stamp_line, .raw_off = p->stamp_off, .raw_len = p->stamp_len},
                      "the data expires at %s; imported entries stay until the next import", t);
    }
    return true;
}

static int rb_detect(const uint8_t *data, size_t len)
{
    (void)data;
    (void)len;
    return 0; /* the types share one syntax: the type comes from the command line */
}

static int rb_parser_init(struct rb_parser *p, const struct feed_input *in,
                          const struct feed_options *opt, struct feed_sink *sink,
                          const struct rb_dstype *t)
{
    memset(p, 0, sizeof(*p));
    p->in = in;
    p->opt = opt;
    p->sink = sink;
    p->top = t;
    p->source = opt->source && *opt->source ? opt->source : "rbldnsd";
    if (opt->zone && *opt->zone && !rb_name_normalise(opt->zone, p->base, sizeof(p->base)))
        return DNSBL_EINVAL;
    return DNSBL_OK;
}

/* Can the file be read as list data? false when it is refused or skipped,
 * with *rc the parser's result. */
static bool rb_parse_accepts(struct rb_parser *p, const struct rb_dstype *t, bool zone_ok, int *rc)
{
    const struct feed_options *opt = p->opt;
    if (!zone_ok) {
        rb_reject_file(p,
                       "zone name '%.80s' cannot name an imported data set (a host name of at "
                       "most %d characters)",
                       opt->zone, RB_DATASET_MAX - 1);
    } else if (!t) {
        rb_reject_file(p,
                       "rbldnsd dataset type %s%.40s%s: give one of ip4set, ip4tset, ip4trie, "
                       "ip6trie, ip6tset, combined (--format rbldnsd:TYPE)",
                       opt->subtype ? "'" : "missing", opt->subtype ? opt->subtype : "",
                       opt->subtype ? "' is unknown" : "");
        *rc = DNSBL_EINVAL;
    } else if (t->role == RB_DOMAIN) {
        rb_reject_file(p,
                       "domain datasets are not supported (rbldnsd %s): dnsbld lists IP "
                       "addresses only",
                       t->name);
    } else if (t->role == RB_SKIP) {
        rb_report(p, false, 0, NULL, 0,
                  strcmp(t->name, "generic") == 0
                      ? "rbldnsd generic data holds apex records, not list data: file skipped "
                        "(see --emit-zone)"
                      : "rbldnsd acl data is a client access list, not list data: file skipped");
    } else if (t->role == RB_COMBINED && !p->base[0]) {
        rb_reject_file(p, "a combined dataset needs its base zone (--zone NAME)");
    } else {
        return true;
    }
    return false;
}

static int rb_parse(const struct feed_input *in, const struct feed_options *opt,
                    struct feed_sink *sink)
{
    const struct rb_dstype *t = rb_type_find(opt->subtype);
    struct rb_parser p;
    bool zone_ok = rb_parser_init(&p, in, opt, sink, t ? t : &rb_types[0]) == DNSBL_OK;
    int rc = DNSBL_OK;
    bool accepted = rb_parse_accepts(&p, t, zone_ok, &rc);
    if (accepted) {
        if (t->role == RB_IMPORT) {
            rc = rb_set_new(&p, t, &p.cur);
            if (rc == DNSBL_OK)
                rc = rb_set_add_zone(p.cur, p.base);
        }
        if (rc == DNSBL_OK)
            rc = rb_scan(&p);
        if (rc == DNSBL_OK && rb_check_stamp(&p))
            for (size_t i = 0; rc == DNSBL_OK && i < p.nsets; i++)
                if (!p.sets[i]->skip) {
                    if (p.sets[i]->type->line == rb_line_ip4set)
                        rc = rb_ip4set_resolve(&p, p.sets[i]);
                    if (rc == DNSBL_OK)
                        rc = rb_set_emit(&p, p.sets[i]);
                }
    }
    /* A refused or skipped file is its one record. */
    if (sink->progress && !accepted)
        sink->progress(sink->arg, in->len);
    rb_parser_free(&p);
    return rc;
}

const struct feed_ops feed_ops_rbldnsd = {
    .name = "rbldnsd",
    .detect = rb_detect,
    .parse = rb_parse,
};

/* ---- the apex zone file ---- */

static int rb_print_rr(FILE *out, const char *text, char *why, size_t whylen)
{
    ldns_rr *rr = NULL;
    ldns_status st = ldns_rr_new_frm_str(&rr, text, RB_DEFAULT_ZONE_TTL, NULL, NULL);
    if (st != LDNS_STATUS_OK) {
        snprintf(why, whylen, "cannot build '%s': %s", text, ldns_get_errorstr_by_id(st));
        return DNSBL_EINVAL;
    }
    ldns_rr_print(out, rr);
    ldns_rr_free(rr);
    return DNSBL_OK;
}

static void rb_absolute(const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s", name, strcmp(name, ".") == 0 ? "" : ".");
}

int feed_rbldnsd_emit_zone(const struct feed_input *in, const struct feed_options *opt, FILE *out,
                           char *why, size_t whylen)
{
    struct rb_parser p;
    const struct rb_dstype *t = rb_type_find(opt->subtype);
    if (rb_parser_init(&p, in, opt, NULL, t ? t : &rb_types[0]) != DNSBL_OK || !p.base[0]) {
        snprintf(why, whylen, "--emit-zone needs the zone name (--zone NAME)%s",
                 opt->zone && *opt->zone ? ", and a valid one" : "");
        return DNSBL_EINVAL;
    }
    int rc = rb_scan(&p);
    if (rc == DNSBL_OK && !p.soa.valid) {
        snprintf(why, whylen,
                 "%s: no valid $SOA line%s%s: rbldnsd data names the SOA with "
                 "'$SOA ttl origin-dn person-dn serial refresh retry expire minttl'",
                 in->name, p.soa_err[0] ? " (" : "", p.soa_err[0] ? p.soa_err : "");
        if (p.soa_err[0])
            snprintf(why + strlen(why), whylen - strlen(why), ")");
        rc = DNSBL_EINVAL;
    }
    if (rc == DNSBL_OK) {
        char text[4 * RB_NAME_MAX], mname[RB_NAME_MAX + 1], rname[RB_NAME_MAX + 1];
        int64_t serial = p.soa.serial ? p.soa.serial : opt->file_mtime;
        if (serial <= 0 || serial > UINT32_MAX)
            serial = 1;
        rb_absolute(p.soa.mname, mname, sizeof(mname));
        rb_absolute(p.soa.rname, rname, sizeof(rname));
        fprintf(out, "; apex of %s from rbldnsd $SOA/$NS data\n$ORIGIN %s.\n$TTL %u\n", p.base,
                p.base, p.ttl_given && p.ttl ? p.ttl : RB_DEFAULT_ZONE_TTL);
        snprintf(text, sizeof(text), "%s. %u IN SOA %s %s %lld %u %u %u %u", p.base, p.soa.ttl,
                 mname, rname, (long long)serial, p.soa.refresh, p.soa.retry, p.soa.expire,
                 p.soa.minimum);
        rc = rb_print_rr(out, text, why, whylen);
        for (size_t i = 0; rc == DNSBL_OK && i < p.nns; i++) {
            rb_absolute(p.ns[i], mname, sizeof(mname));
            snprintf(text, sizeof(text), "%s. %u IN NS %s", p.base, p.ns_ttl, mname);
            rc = rb_print_rr(out, text, why, whylen);
        }
        if (rc == DNSBL_OK && !p.ns_seen)
            fprintf(out, "; no $NS line in the data\n");
        if (rc == DNSBL_OK && (fflush(out) != 0 || ferror(out))) {
            snprintf(why, whylen, "writing the zone file failed");
            rc = DNSBL_EIO;
        }
    }
    rb_parser_free(&p);
    return rc;
}
