/* zone: load apex data with ldns and render every record set to wire once.
 *
 * A zone file is read by ldns (master format, $ORIGIN/$TTL/$INCLUDE as ldns
 * supports them). Each (owner, type) group becomes one struct zone_rrset
 * whose RRs are stored without their owner name: the answer code writes a
 * compression pointer to the question name instead, so serving a record is
 * a memcpy. Without a zone file an SOA and NS are synthesised from the same
 * text path, so both cases share one renderer. */
#include "zone.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ldns/ldns.h>

#include "err.h"
#include "wire.h"

#define ZONE_SYNTH_TTL 3600
#define ZONE_SYNTH_MINIMUM 600

static void zone_lower(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)tolower(p[i]);
}

/* Text "bl.example" (trailing dot optional) to lower-case wire form. */
static int zone_name_to_wire(const char *text, uint8_t *out, uint16_t *outlen)
{
    char buf[ZONE_NAME_MAX + 2];
    size_t n = strlen(text);
    if (n == 0 || n >= ZONE_NAME_MAX)
        return DNSBL_EINVAL;
    memcpy(buf, text, n + 1);
    if (buf[n - 1] != '.') {
        buf[n] = '.';
        buf[n + 1] = '\0';
    }
    ldns_rdf *rdf = ldns_dname_new_frm_str(buf);
    if (!rdf)
        return DNSBL_EINVAL;
    size_t len = ldns_rdf_size(rdf);
    if (len > ZONE_NAME_MAX) {
        ldns_rdf_deep_free(rdf);
        return DNSBL_EINVAL;
    }
    memcpy(out, ldns_rdf_data(rdf), len);
    zone_lower(out, len);
    *outlen = (uint16_t)len;
    ldns_rdf_deep_free(rdf);
    return DNSBL_OK;
}

/* Is suffix (wire) the name or a parent of name (wire), at a label boundary? */
static bool zone_name_under(const uint8_t *name, size_t len, const uint8_t *suffix, size_t slen)
{
    size_t off = 0;
    while (off < len) {
        if (len - off == slen && memcmp(name + off, suffix, slen) == 0)
            return true;
        if (name[off] == 0)
            break;
        off += (size_t)name[off] + 1;
    }
    return false;
}

/* Append one RR (type class ttl rdlength rdata, no owner) to set. */
static int zone_rrset_append(struct zone_rrset *set, const ldns_rr *rr, uint32_t ttl)
{
    ldns_buffer *rd = ldns_buffer_new(512);
    if (!rd)
        return DNSBL_ENOMEM;
    if (ldns_rr_rdata2buffer_wire(rd, rr) != LDNS_STATUS_OK || ldns_buffer_position(rd) > 65535) {
        ldns_buffer_free(rd);
        return DNSBL_EINVAL;
    }
    size_t rdlen = ldns_buffer_position(rd);
    uint8_t *grown = realloc(set->rrs, set->rrs_len + 10 + rdlen);
    if (!grown) {
        ldns_buffer_free(rd);
        return DNSBL_ENOMEM;
    }
    set->rrs = grown;
    struct wire w;
    wire_init(&w, set->rrs + set->rrs_len, 10 + rdlen);
    wire_put_u16(&w, (uint16_t)ldns_rr_get_type(rr));
    wire_put_u16(&w, (uint16_t)ldns_rr_get_class(rr));
    wire_put_u32(&w, ttl);
    wire_put_u16(&w, (uint16_t)rdlen);
    wire_put_bytes(&w, ldns_buffer_begin(rd), rdlen);
    set->rrs_len += 10 + rdlen;
    set->count++;
    ldns_buffer_free(rd);
    return DNSBL_OK;
}

static int zone_rrset_cmp(const void *a, const void *b)
{
    const struct zone_rrset *x = a, *y = b;
    if (x->owner_len != y->owner_len)
        return x->owner_len < y->owner_len ? -1 : 1;
    int c = memcmp(x->owner, y->owner, x->owner_len);
    if (c)
        return c;
    return x->type < y->type ? -1 : x->type > y->type;
}

static void zone_rrset_clear(struct zone_rrset *set)
{
    free(set->rrs);
    free(set->additional);
    memset(set, 0, sizeof(*set));
}

/* Find the set for (owner, type) among z->sets[0..n), or add an empty one. */
static struct zone_rrset *zone_set_for(struct zone *z, size_t *cap, const uint8_t *owner,
                                       size_t olen, uint16_t type)
{
    for (size_t i = 0; i < z->nsets; i++) {
        struct zone_rrset *s = &z->sets[i];
        if (s->type == type && s->owner_len == olen && memcmp(s->owner, owner, olen) == 0)
            return s;
    }
    if (z->nsets == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        struct zone_rrset *grown = realloc(z->sets, ncap * sizeof(*grown));
        if (!grown)
            return NULL;
        z->sets = grown;
        *cap = ncap;
    }
    struct zone_rrset *s = &z->sets[z->nsets++];
    memset(s, 0, sizeof(*s));
    memcpy(s->owner, owner, olen);
    s->owner_len = (uint16_t)olen;
    s->type = type;
    return s;
}

/* Add one record of the zone: checks it lies inside the zone and files it
 * into its (owner, type) set. */
static int zone_add_rr(struct zone *z, size_t *cap, const ldns_rr *rr, char *why, size_t whylen)
{
    const ldns_rdf *owner = ldns_rr_owner(rr);
    uint8_t name[ZONE_NAME_MAX];
    size_t olen = ldns_rdf_size(owner);
    if (olen > ZONE_NAME_MAX)
        return DNSBL_EINVAL;
    memcpy(name, ldns_rdf_data(owner), olen);
    zone_lower(name, olen);
    if (!zone_name_under(name, olen, z->apex, z->apex_len)) {
        char *text = ldns_rdf2str(owner);
        snprintf(why, whylen, "record owner %s is outside zone %s", text ? text : "?", z->name);
        free(text);
        return DNSBL_EINVAL;
    }
    uint16_t type = (uint16_t)ldns_rr_get_type(rr);
    struct zone_rrset *set = zone_set_for(z, cap, name, olen, type);
    if (!set)
        return DNSBL_ENOMEM;
    /* One TTL per RRset (RFC 2181 5.2): the first record's wins. */
    if (set->count == 0)
        set->ttl = ldns_rr_ttl(rr);
    int rc = zone_rrset_append(set, rr, set->ttl);
    if (rc == DNSBL_EINVAL)
        snprintf(why, whylen, "a record of zone %s cannot be rendered", z->name);
    return rc;
}

/* The SOA from the set list, copied twice: as served at the apex, and with
 * the negative-caching TTL min(SOA TTL, MINIMUM) for authority sections. */
static int zone_prepare_soa(struct zone *z, const ldns_rr *soa, char *why, size_t whylen)
{
    const ldns_rdf *minimum = ldns_rr_rdf(soa, 6);
    if (!minimum) {
        snprintf(why, whylen, "zone %s: SOA record has no MINIMUM field", z->name);
        return DNSBL_EINVAL;
    }
    uint32_t min = ldns_rdf2native_int32(minimum);
    uint32_t ttl = ldns_rr_ttl(soa);
    z->file_serial = ldns_rdf2native_int32(ldns_rr_rdf(soa, 2));
    z->neg_ttl = min < ttl ? min : ttl;
    memcpy(z->soa.owner, z->apex, z->apex_len);
    z->soa.owner_len = z->apex_len;
    z->soa.type = LDNS_RR_TYPE_SOA;
    z->soa.ttl = ttl;
    int rc = zone_rrset_append(&z->soa, soa, ttl);
    if (rc == DNSBL_OK) {
        z->soa_neg = z->soa;
        z->soa_neg.rrs = NULL;
        z->soa_neg.rrs_len = 0;
        z->soa_neg.count = 0;
        z->soa_neg.ttl = z->neg_ttl;
        rc = zone_rrset_append(&z->soa_neg, soa, z->neg_ttl);
    }
    return rc;
}

/* For every NS set, the A/AAAA sets of its targets inside the zone (glue). */
static int zone_link_glue(struct zone *z)
{
    for (size_t i = 0; i < z->nsets; i++) {
        struct zone_rrset *ns = &z->sets[i];
        if (ns->type != LDNS_RR_TYPE_NS)
            continue;
        struct wire w;
        wire_init_ro(&w, ns->rrs, ns->rrs_len);
        for (uint16_t k = 0; k < ns->count; k++) {
            wire_skip(&w, 8);
            uint16_t rdlen = wire_get_u16(&w);
            if (w.err || rdlen > ZONE_NAME_MAX)
                return DNSBL_EINVAL;
            uint8_t target[ZONE_NAME_MAX];
            wire_get_bytes(&w, target, rdlen);
            zone_lower(target, rdlen);
            size_t first, n = zone_find_owner(z, target, rdlen, &first);
            for (size_t j = first; j < first + n; j++) {
                if (z->sets[j].type != LDNS_RR_TYPE_A && z->sets[j].type != LDNS_RR_TYPE_AAAA)
                    continue;
                uint32_t *grown =
                    realloc(ns->additional, (ns->nadditional + 1) * sizeof(*ns->additional));
                if (!grown)
                    return DNSBL_ENOMEM;
                ns->additional = grown;
                ns->additional[ns->nadditional++] = (uint32_t)j;
            }
        }
    }
    return DNSBL_OK;
}

/* Synthesised apex: an SOA whose serial is the load time and one NS. */
static ldns_rr_list *zone_synth_rrs(const struct zone *z)
{
    char text[3 * ZONE_NAME_MAX + 128];
    ldns_rr_list *list = ldns_rr_list_new();
    ldns_rr *rr = NULL;
    if (!list)
        return NULL;
    snprintf(text, sizeof(text), "%s. %d IN SOA ns.%s. hostmaster.%s. %lu 3600 600 604800 %d",
             z->name, ZONE_SYNTH_TTL, z->name, z->name, (unsigned long)time(NULL) & 0xffffffffUL,
             ZONE_SYNTH_MINIMUM);
    if (ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL) != LDNS_STATUS_OK)
        goto fail;
    ldns_rr_list_push_rr(list, rr);
    snprintf(text, sizeof(text), "%s. %d IN NS ns.%s.", z->name, ZONE_SYNTH_TTL, z->name);
    if (ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL) != LDNS_STATUS_OK)
        goto fail;
    ldns_rr_list_push_rr(list, rr);
    return list;
fail:
    ldns_rr_list_deep_free(list);
    return NULL;
}

/* Read a master file record by record. ldns_zone_new_frm_fp_l would do
 * it in one call, but it leaks the records read so far when it meets an
 * error (ldns 1.8.3), and a bad file on every SIGHUP must not leak. */
static int zone_read_file(const struct zone *z, const char *path, ldns_rr_list **out, char *why,
                          size_t whylen)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        snprintf(why, whylen, "%s: %s", path, strerror(errno));
        return DNSBL_EIO;
    }
    char origin_text[ZONE_NAME_MAX + 2];
    snprintf(origin_text, sizeof(origin_text), "%s.", z->name);
    ldns_rdf *origin = ldns_dname_new_frm_str(origin_text), *prev = NULL;
    ldns_rr_list *list = ldns_rr_list_new();
    uint32_t ttl = ZONE_SYNTH_TTL;
    int line = 0, rc = (origin && list) ? DNSBL_OK : DNSBL_ENOMEM;
    while (rc == DNSBL_OK && !feof(fp)) {
        ldns_rr *rr = NULL;
        ldns_status st = ldns_rr_new_frm_fp_l(&rr, fp, &ttl, &origin, &prev, &line);
        if (st == LDNS_STATUS_OK) {
            if (!ldns_rr_list_push_rr(list, rr)) {
                ldns_rr_free(rr);
                rc = DNSBL_ENOMEM;
            }
        } else if (st == LDNS_STATUS_SYNTAX_INCLUDE) {
            snprintf(why, whylen, "%s:%d: $INCLUDE is not supported", path, line);
            rc = DNSBL_EINVAL;
        } else if (st != LDNS_STATUS_SYNTAX_EMPTY && st != LDNS_STATUS_SYNTAX_TTL &&
                   st != LDNS_STATUS_SYNTAX_ORIGIN) {
            snprintf(why, whylen, "%s:%d: %s", path, line, ldns_get_errorstr_by_id(st));
            rc = DNSBL_EINVAL;
        }
    }
    fclose(fp);
    ldns_rdf_deep_free(origin);
    ldns_rdf_deep_free(prev);
    if (rc != DNSBL_OK) {
        if (rc == DNSBL_ENOMEM)
            snprintf(why, whylen, "%s: out of memory", path);
        ldns_rr_list_deep_free(list);
        return rc;
    }
    *out = list;
    return DNSBL_OK;
}

/* File every record of list into z, then the SOA copies and the glue. */
static int zone_fill(struct zone *z, const ldns_rr_list *rrs, char *why, size_t whylen)
{
    size_t cap = 0;
    const ldns_rr *soa = NULL;
    int rc = DNSBL_OK;
    for (size_t i = 0; rc == DNSBL_OK && i < ldns_rr_list_rr_count(rrs); i++) {
        const ldns_rr *rr = ldns_rr_list_rr(rrs, i);
        if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA) {
            if (soa) {
                snprintf(why, whylen, "zone %s has more than one SOA record", z->name);
                return DNSBL_EINVAL;
            }
            soa = rr;
        }
        rc = zone_add_rr(z, &cap, rr, why, whylen);
    }
    if (rc != DNSBL_OK)
        return rc;
    if (!soa) {
        snprintf(why, whylen, "zone %s has no SOA record", z->name);
        return DNSBL_EINVAL;
    }
    size_t soa_owner_len = ldns_rdf_size(ldns_rr_owner(soa));
    uint8_t soa_owner[ZONE_NAME_MAX];
    memcpy(soa_owner, ldns_rdf_data(ldns_rr_owner(soa)), soa_owner_len);
    zone_lower(soa_owner, soa_owner_len);
    if (soa_owner_len != z->apex_len || memcmp(soa_owner, z->apex, z->apex_len) != 0) {
        snprintf(why, whylen, "zone %s: the SOA record is not at the zone apex", z->name);
        return DNSBL_EINVAL;
    }
    qsort(z->sets, z->nsets, sizeof(*z->sets), zone_rrset_cmp);
    rc = zone_prepare_soa(z, soa, why, whylen);
    if (rc == DNSBL_OK)
        rc = zone_link_glue(z);
    return rc;
}

int zone_load(const struct zone_config *zc, struct zone **out, char *why, size_t whylen)
{
    struct zone *z = calloc(1, sizeof(*z));
    if (!z)
        return DNSBL_ENOMEM;
    size_t n = strlen(zc->name);
    while (n > 0 && zc->name[n - 1] == '.')
        n--;
    if (n == 0 || n >= sizeof(z->name)) {
        snprintf(why, whylen, "'%s' is not a zone name", zc->name);
        free(z);
        return DNSBL_EINVAL;
    }
    for (size_t i = 0; i < n; i++)
        z->name[i] = (char)tolower((unsigned char)zc->name[i]);
    z->policy = zc->policy;
    z->acl = zc->acl;
    z->xfr = zc->xfr;
    atomic_init(&z->pub, 0);
    if (zone_name_to_wire(z->name, z->apex, &z->apex_len) != DNSBL_OK) {
        snprintf(why, whylen, "'%s' is not a zone name", zc->name);
        free(z);
        return DNSBL_EINVAL;
    }

    for (size_t off = 0; off < z->apex_len; off += (size_t)z->apex[off] + 1)
        z->apex_labels++;

    int rc;
    if (zc->file[0]) {
        ldns_rr_list *rrs = NULL;
        rc = zone_read_file(z, zc->file, &rrs, why, whylen);
        if (rc == DNSBL_OK) {
            rc = zone_fill(z, rrs, why, whylen);
            if (rc != DNSBL_OK && rc != DNSBL_ENOMEM) {
                /* zone_fill's sentence names the zone; prefix the file. */
                char inner[512];
                snprintf(inner, sizeof(inner), "%s", why);
                snprintf(why, whylen, "%s: %s", zc->file, inner);
            }
            ldns_rr_list_deep_free(rrs);
        }
    } else {
        z->synthesised = true;
        ldns_rr_list *list = zone_synth_rrs(z);
        rc = list ? zone_fill(z, list, why, whylen) : DNSBL_ENOMEM;
        ldns_rr_list_deep_free(list);
    }
    if (rc == DNSBL_ENOMEM)
        snprintf(why, whylen, "zone %s: out of memory", z->name);
    if (rc != DNSBL_OK) {
        zone_free(z);
        return rc;
    }
    *out = z;
    return DNSBL_OK;
}

void zone_free(struct zone *z)
{
    if (!z)
        return;
    for (size_t i = 0; i < z->nsets; i++)
        zone_rrset_clear(&z->sets[i]);
    free(z->sets);
    zone_rrset_clear(&z->soa);
    zone_rrset_clear(&z->soa_neg);
    /* The transfer key's secret does not outlive the zone in freed memory. */
    volatile uint8_t *k = (volatile uint8_t *)&z->xfr.key;
    for (size_t i = 0; i < sizeof z->xfr.key; i++)
        k[i] = 0;
    free(z);
}

int zoneset_build(const struct zone_config *zcs, size_t n, struct zoneset **out, char *why,
                  size_t whylen)
{
    struct zoneset *zs = calloc(1, sizeof(*zs));
    if (!zs || (n && !(zs->zones = calloc(n, sizeof(*zs->zones))))) {
        free(zs);
        snprintf(why, whylen, "out of memory");
        return DNSBL_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        int rc = zone_load(&zcs[i], &zs->zones[zs->n], why, whylen);
        if (rc != DNSBL_OK) {
            zoneset_free(zs);
            return rc;
        }
        for (size_t j = 0; j < zs->n; j++) {
            if (strcmp(zs->zones[j]->name, zs->zones[zs->n]->name) == 0) {
                snprintf(why, whylen, "zone %s is configured twice", zs->zones[j]->name);
                zone_free(zs->zones[zs->n]);
                zoneset_free(zs);
                return DNSBL_EINVAL;
            }
        }
        zs->acl = zs->acl || zs->zones[zs->n]->acl.n > 0;
        zs->n++;
    }
    *out = zs;
    return DNSBL_OK;
}

void zoneset_free(struct zoneset *zs)
{
    if (!zs)
        return;
    for (size_t i = 0; i < zs->n; i++)
        zone_free(zs->zones[i]);
    free(zs->zones);
    free(zs);
}

/* ASCII upper case to lower case in eight bytes at once: a byte gets 0x20
 * when its high bit is clear and its low seven bits are 'A'..'Z'. Adding
 * to the seven-bit values never carries into the next byte. Label length
 * bytes (at most 63, below 'A') are left alone. */
static inline uint64_t zone_lower8(uint64_t x)
{
    const uint64_t low7 = 0x7f7f7f7f7f7f7f7fULL, high = 0x8080808080808080ULL;
    uint64_t h = x & low7;
    uint64_t ge_a = h + 0x3f3f3f3f3f3f3f3fULL; /* high bit set when >= 'A' (0x41) */
    uint64_t gt_z = h + 0x2525252525252525ULL; /* high bit set when > 'Z' (0x5a) */
    return x | (((ge_a & ~gt_z & ~x) & high) >> 2);
}

/* Is name (any case) the lower-case wire name lower, both len bytes? Names
 * are short (a zone apex is a dozen bytes), so whole words beat a byte
 * loop; the last word may overlap the one before, which compares some
 * bytes twice and is still exact. Lowering only runs when the bytes
 * differ, which a lower-case query never makes it do. */
static bool zone_wire_equal_nocase(const uint8_t *name, const uint8_t *lower, size_t len)
{
    uint64_t x, y;
    if (len < 8) {
        for (size_t i = 0; i < len; i++) {
            uint8_t c = name[i];
            if ((c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c) != lower[i])
                return false;
        }
        return true;
    }
    for (size_t i = 0; i + 8 < len; i += 8) {
        memcpy(&x, name + i, 8);
        memcpy(&y, lower + i, 8);
        if (x != y && zone_lower8(x) != y)
            return false;
    }
    memcpy(&x, name + len - 8, 8);
    memcpy(&y, lower + len - 8, 8);
    return x == y || zone_lower8(x) == y;
}

const struct zone *zoneset_find(const struct zoneset *zs, const struct zone_qname *qname,
                                size_t *apex_off)
{
    /* A zone's apex can only be the suffix made of its last apex_labels
     * labels: one length test and one comparison per zone. The longest
     * match wins, so nested zones (bl.example, v6.bl.example) work. */
    const struct zone *best = NULL;
    size_t best_off = 0, n = zs->n;
    for (size_t i = 0; i < n; i++) {
        const struct zone *z = zs->zones[i];
        if (z->apex_labels > qname->n || (best && z->apex_len <= best->apex_len))
            continue;
        size_t off = qname->off[qname->n - z->apex_labels];
        if (qname->len - off == z->apex_len &&
            zone_wire_equal_nocase(qname->wire + off, z->apex, z->apex_len)) {
            best = z;
            best_off = off;
        }
    }
    if (best)
        *apex_off = best_off;
    return best;
}

size_t zone_find_owner(const struct zone *z, const uint8_t *owner, size_t len, size_t *first)
{
    /* Binary search on (owner_len, owner) for the first set of that owner. */
    size_t lo = 0, hi = z->nsets;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct zone_rrset *s = &z->sets[mid];
        int c = s->owner_len != len ? (s->owner_len < len ? -1 : 1) : memcmp(s->owner, owner, len);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t n = 0;
    while (lo + n < z->nsets && z->sets[lo + n].owner_len == len &&
           memcmp(z->sets[lo + n].owner, owner, len) == 0)
        n++;
    *first = lo;
    return n;
}

bool zone_has_below(const struct zone *z, const uint8_t *owner, size_t len)
{
    for (size_t i = 0; i < z->nsets; i++) {
        const struct zone_rrset *s = &z->sets[i];
        if (s->owner_len > len && zone_name_under(s->owner, s->owner_len, owner, len))
            return true;
    }
    return false;
}
