/* feed_arf: the mail feedback-report parsers of doc/formats.md section 2.
 * feed_ops_arf takes one message per input (an .eml file, a maildir file);
 * feed_ops_mbox splits an mboxrd/mboxo file and hands each message to the
 * same report parser. MIME structure, transfer decoding, header unfolding
 * and dates come from GMime; only the Received walk (2.8) and the field
 * values (2.2) are text rules written here. Every GMime object and buffer
 * is created and released within one parse call; nothing outlives it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>

#include "addr.h"
#include "err.h"
#include "feed.h"

#define ARF_WHY_MAX 320
#define ARF_WARN_MAX 8
#define ARF_REASON_MAX 128
#define ARF_DEPTH_MAX 32              /* multipart nesting we look into */
#define ARF_DETECT_SPAN (1024 * 1024) /* bytes auto-detection looks at */

/* doc/formats.md 2.8: reporter-internal host suffixes when none are configured. */
static const char *const arf_default_suffixes[] = {
    "outlook.com", "hotmail.com", "live.com", "msn.com", "protection.outlook.com", NULL,
};

/* doc/formats.md 2.8: exactly these are non-public. The documentation ranges
 * are deliberately absent: every fixture uses them as public senders. */
static const char *const arf_nonpublic_nets[] = {
    "0.0.0.0/8",     "10.0.0.0/8",     "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4",   "240.0.0.0/4", "::/128",
    "::1/128",       "fc00::/7",       "fe80::/10",     "ff00::/8",    NULL,
};

/* Fields of message/feedback-report we read. Those before F_SINGLE_END
 * may occur at most once (doc/formats.md 2.2); a second one rejects the report. */
enum arf_field {
    F_FEEDBACK_TYPE,
    F_USER_AGENT,
    F_VERSION,
    F_ORIGINAL_ENVELOPE_ID,
    F_ORIGINAL_MAIL_FROM,
    F_ARRIVAL_DATE,
    F_RECEIVED_DATE,
    F_REPORTING_MTA,
    F_SOURCE_IP,
    F_INCIDENTS,
    F_SOURCE_PORT,
    F_AUTH_FAILURE,
    F_DELIVERY_RESULT,
    F_DKIM_DOMAIN,
    F_DKIM_IDENTITY,
    F_DKIM_SELECTOR,
    F_DKIM_CANON_HEADER,
    F_DKIM_CANON_BODY,
    F_DKIM_SELECTOR_DNS,
    F_DKIM_ADSP_DNS,
    F_SPF_DNS,
    F_IDENTITY_ALIGNMENT,
    F_SINGLE_END,
    F_REPORTED_DOMAIN = F_SINGLE_END,
    F_COUNT
};

static const char *const arf_field_names[F_COUNT] = {
    "Feedback-Type",
    "User-Agent",
    "Version",
    "Original-Envelope-Id",
    "Original-Mail-From",
    "Arrival-Date",
    "Received-Date",
    "Reporting-MTA",
    "Source-IP",
    "Incidents",
    "Source-Port",
    "Auth-Failure",
    "Delivery-Result",
    "DKIM-Domain",
    "DKIM-Identity",
    "DKIM-Selector",
    "DKIM-Canonicalized-Header",
    "DKIM-Canonicalized-Body",
    "DKIM-Selector-DNS",
    "DKIM-ADSP-DNS",
    "SPF-DNS",
    "Identity-Alignment",
    "Reported-Domain",
};

static const struct {
    const char *name;
    uint8_t kind;
} arf_types[] = {
    {"abuse", EV_ABUSE}, {"fraud", EV_FRAUD},       {"virus", EV_VIRUS},
    {"other", EV_OTHER}, {"not-spam", EV_NOT_SPAM}, {"auth-failure", EV_AUTH_FAILURE},
};

/* What one feedback-report block says; values are borrowed from the parsed
 * block and live as long as it does. */
struct arf_fields {
    const char *value[F_COUNT]; /* first occurrence */
    unsigned count[F_COUNT];
    bool has_auth; /* at least one Authentication-Results field */
};

/* Authentication-Results outcomes seen, per enum auth_fail_bits. */
struct arf_auth {
    uint8_t fail;
    uint8_t pass;
};

/* The parts of a report, found by content type (doc/formats.md 2.1). */
struct arf_parts {
    GMimeObject *report;   /* the multipart/report, or NULL */
    GMimeObject *feedback; /* first message/feedback-report */
    GMimeObject *enclosed; /* first message/rfc822, text/rfc822-headers or alike */
    GMimeObject *opaque;   /* first application/octet-stream that may be the original */
};

/* One message being parsed: where it came from, and the warnings held back
 * until the message is accepted (a warning means the record was used). */
struct arf_ctx {
    const struct feed_options *opt;
    struct feed_sink *sink;
    struct feed_origin origin;
    char warnings[ARF_WARN_MAX][ARF_WHY_MAX];
    unsigned nwarn;
};

static const struct feed_options arf_no_options;

static void arf_init_gmime(void)
{
    /* GMime keeps process-wide type registries that g_mime_init fills;
     * g_once makes that happen exactly once whoever parses first. */
    static gsize done;
    if (g_once_init_enter(&done)) {
        g_mime_init();
        g_once_init_leave(&done, 1);
    }
}

static bool arf_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

__attribute__((format(printf, 2, 3))) static void arf_reject(struct arf_ctx *c, const char *fmt,
                                                             ...)
{
    char why[ARF_WHY_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (c->sink->reject)
        c->sink->reject(c->sink->arg, &c->origin, why);
}

__attribute__((format(printf, 2, 3))) static void arf_warn(struct arf_ctx *c, const char *fmt, ...)
{
    if (c->nwarn >= ARF_WARN_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->warnings[c->nwarn++], ARF_WHY_MAX, fmt, ap);
    va_end(ap);
}

static void arf_flush_warnings(struct arf_ctx *c)
{
    for (unsigned i = 0; i < c->nwarn; i++)
        if (c->sink->warn)
            c->sink->warn(c->sink->arg, &c->origin, c->warnings[i]);
    c->nwarn = 0;
}

/* Copy value without surrounding white space into buf (cut to cap). */
static const char *arf_trim(const char *v, char *buf, size_t cap)
{
    if (!v)
        v = "";
    while (arf_is_space(*v))
        v++;
    size_t n = strlen(v);
    while (n > 0 && arf_is_space(v[n - 1]))
        n--;
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, v, n);
    buf[n] = '\0';
    return buf;
}

static GMimeMessage *arf_parse_mime(const char *data, size_t len)
{
    GMimeStream *stream = g_mime_stream_mem_new_with_buffer(data, len);
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    GMimeMessage *msg = g_mime_parser_construct_message(parser, NULL);
    g_object_unref(parser);
    g_object_unref(stream);
    return msg;
}

/* A header block or an attached message: generators sometimes put blank
 * lines in front of it or keep the mbox From_ line, neither of which is a
 * header, and GMime would end the header at them. */
static GMimeMessage *arf_parse_block(const char *p, size_t n)
{
    for (;;) {
        if (n > 0 && p[0] == '\n') {
            p++, n--;
        } else if (n > 1 && p[0] == '\r' && p[1] == '\n') {
            p += 2, n -= 2;
        } else if (n >= 5 && memcmp(p, "From ", 5) == 0) {
            const char *nl = memchr(p, '\n', n);
            size_t skip = nl ? (size_t)(nl - p) + 1 : n;
            p += skip, n -= skip;
        } else {
            break;
        }
    }
    return arf_parse_mime(p, n);
}

/* The content of a leaf part with its transfer encoding undone. */
static GByteArray *arf_part_bytes(GMimePart *part)
{
    GByteArray *ba = g_byte_array_new();
    GMimeDataWrapper *w = g_mime_part_get_content(part);
    if (!w)
        return ba;
    GMimeStream *s = g_mime_stream_mem_new_with_byte_array(ba);
    g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(s), FALSE);
    g_mime_data_wrapper_write_to_stream(w, s);
    g_object_unref(s);
    return ba;
}

/* A message/feedback-report or an enclosed message as a parsed header
 * block (a new reference), whatever its transfer encoding. GMime parses an
 * unencoded message/rfc822 body into a message itself; it leaves encoded
 * ones (and every other type) as leaf parts, which are decoded here first,
 * as doc/formats.md 2.1 asks for part 3. */
static GMimeMessage *arf_part_message(GMimeObject *part)
{
    if (GMIME_IS_MESSAGE_PART(part)) {
        GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(part));
        if (!m)
            return NULL;
        GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(m));
        if (hl && g_mime_header_list_get_count(hl) > 0)
            return g_object_ref(m);
        /* A blank line before the header made GMime see none: parse the
         * text again without it. */
        char *text = g_mime_object_to_string(GMIME_OBJECT(m), NULL);
        GMimeMessage *again = text ? arf_parse_block(text, strlen(text)) : NULL;
        g_free(text);
        return again;
    }
    if (!GMIME_IS_PART(part))
        return NULL;
    GByteArray *ba = arf_part_bytes(GMIME_PART(part));
    GMimeMessage *m = arf_parse_block((const char *)ba->data, ba->len);
    g_byte_array_unref(ba);
    return m;
}

static bool arf_ends_with_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && g_ascii_strcasecmp(s + n - k, suffix) == 0;
}

/* Is part the enclosed original (doc/formats.md 2.1, part 3)? */
static bool arf_is_enclosed(GMimeContentType *ct)
{
    return g_mime_content_type_is_type(ct, "message", "rfc822") ||
           g_mime_content_type_is_type(ct, "message", "global") ||
           g_mime_content_type_is_type(ct, "text", "rfc822-headers") ||
           g_mime_content_type_is_type(ct, "text", "rfc822-header");
}

/* Some generators attach the original as an opaque file: taken inside a
 * report, or anywhere when it is named *.eml, if no typed part is there. */
static bool arf_is_opaque_original(GMimeObject *part, GMimeContentType *ct, bool in_report)
{
    if (!g_mime_content_type_is_type(ct, "application", "octet-stream") || !GMIME_IS_PART(part))
        return false;
    const char *name = g_mime_part_get_filename(GMIME_PART(part));
    return in_report || (name && arf_ends_with_ci(name, ".eml"));
}

static void arf_find_parts(GMimeObject *obj, bool in_report, unsigned depth, struct arf_parts *p)
{
    GMimeContentType *ct = g_mime_object_get_content_type(obj);
    if (!ct || depth > ARF_DEPTH_MAX)
        return;
    if (GMIME_IS_MULTIPART(obj)) {
        /* A report wrapped by a gateway (multipart/mixed around it) is
         * still the report; attached messages are not entered. */
        bool is_report = g_mime_content_type_is_type(ct, "multipart", "report");
        if (is_report && !p->report)
            p->report = obj;
        GMimeMultipart *mp = GMIME_MULTIPART(obj);
        int n = g_mime_multipart_get_count(mp);
        for (int i = 0; i < n; i++)
            arf_find_parts(g_mime_multipart_get_part(mp, i), in_report || is_report, depth + 1, p);
        return;
    }
    if (g_mime_content_type_is_type(ct, "message", "feedback-report")) {
        if (!p->feedback)
            p->feedback = obj;
    } else if (arf_is_enclosed(ct)) {
        if (!p->enclosed)
            p->enclosed = obj;
    } else if (!p->opaque && arf_is_opaque_original(obj, ct, in_report)) {
        p->opaque = obj;
    }
}

static void arf_find_report(GMimeMessage *msg, struct arf_parts *p)
{
    memset(p, 0, sizeof *p);
    GMimeObject *root = g_mime_message_get_mime_part(msg);
    if (root)
        arf_find_parts(root, false, 0, p);
    if (!p->enclosed)
        p->enclosed = p->opaque;
}

static bool arf_report_type_is_feedback(GMimeObject *report)
{
    GMimeContentType *ct = g_mime_object_get_content_type(report);
    const char *rt = ct ? g_mime_content_type_get_parameter(ct, "report-type") : NULL;
    char buf[64];
    return rt && g_ascii_strcasecmp(arf_trim(rt, buf, sizeof buf), "feedback-report") == 0;
}

/* The i-th header of o, in order, as name and value (either may be NULL);
 * false past the last one. */
static bool arf_header_at(GMimeObject *o, int i, const char **name, const char **value)
{
    GMimeHeaderList *hl = g_mime_object_get_header_list(o);
    if (!hl || i >= g_mime_header_list_get_count(hl))
        return false;
    GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
    *name = g_mime_header_get_name(h);
    *value = g_mime_header_get_value(h);
    return true;
}

/* ---- addresses ---------------------------------------------------------- */

static bool arf_addr_nonpublic(const struct addr_prefix *ip)
{
    for (size_t i = 0; arf_nonpublic_nets[i]; i++) {
        struct addr_prefix net;
        if (addr_parse(arf_nonpublic_nets[i], &net, NULL, 0) == 0 && addr_covers(&net, ip))
            return true;
    }
    return false;
}

/* The n bytes at s, without an "IPv6:" tag, as a string in buf; false if
 * nothing is left or it is too long to be an address. */
static bool arf_addr_text(const char *s, size_t n, char buf[ADDR_TEXT_MAX])
{
    if (n >= 5 && g_ascii_strncasecmp(s, "IPv6:", 5) == 0)
        s += 5, n -= 5;
    if (n == 0 || n >= ADDR_TEXT_MAX)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return true;
}

/* An address literal as it appears in a header: brackets and an IPv6: tag
 * already gone, possibly with an IPv4 ":port" after it. Only a whole
 * address counts, never a prefix. */
static bool arf_literal_parse(const char *s, size_t n, struct addr_prefix *out)
{
    char buf[ADDR_TEXT_MAX];
    if (!arf_addr_text(s, n, buf))
        return false;
    char *colon = strchr(buf, ':');
    if (colon && strchr(buf, '.') && !strchr(colon + 1, ':'))
        *colon = '\0'; /* Exim's 192.0.2.1:51234 */
    if (strchr(buf, '/'))
        return false;
    struct addr_prefix p;
    if (addr_parse(buf, &p, NULL, 0) != 0 || p.plen != (p.family == ADDR_V4 ? 32 : 128))
        return false;
    *out = p;
    return true;
}

/* A Source-IP value (or the JMRP subject's address), doc/formats.md 2.2:
 * white space, brackets, an IPv6: prefix and a trailing comment go. */
static bool arf_ip_parse(const char *v, struct addr_prefix *out)
{
    while (arf_is_space(*v))
        v++;
    size_t n = 0;
    while (v[n] && !arf_is_space(v[n]) && v[n] != '(')
        n++;
    if (n > 0 && v[0] == '[')
        v++, n--;
    if (n > 0 && v[n - 1] == ']')
        n--;
    if (memchr(v, '[', n) || memchr(v, ']', n))
        return false;
    /* arf_literal_parse would take an IPv4 ":port"; a Source-IP has none. */
    char buf[ADDR_TEXT_MAX];
    if (!arf_addr_text(v, n, buf))
        return false;
    struct addr_prefix p;
    if (strchr(buf, '/') || addr_parse(buf, &p, NULL, 0) != 0)
        return false;
    *out = p;
    return true;
}

/* ---- the Received walk (doc/formats.md 2.8 rule 3) ---------------------------- */

static bool arf_is_token_end(char c)
{
    return c == '\0' || arf_is_space(c) || c == '(' || c == ')' || c == '[' || c == ']' ||
           c == ';' || c == ',';
}

/* The first address literal in s..e: a [bracketed] one or a bare token.
 * HELO arguments (qmail's "HELO x", Exim's "helo=[x]") are what the client
 * claimed, not the peer, and are passed over. */
static bool arf_scan_literal(const char *s, const char *e, struct addr_prefix *out)
{
    bool after_helo = false;
    while (s < e) {
        char c = *s;
        if (arf_is_space(c) || c == '(' || c == ')' || c == ';' || c == ',' || c == ']') {
            s++;
            continue;
        }
        if (c == '[') {
            const char *close = memchr(s, ']', (size_t)(e - s));
            if (!close)
                return false;
            if (!after_helo && arf_literal_parse(s + 1, (size_t)(close - s - 1), out))
                return true;
            after_helo = false;
            s = close + 1;
            continue;
        }
        const char *t = s;
        while (s < e && !arf_is_token_end(*s))
            s++;
        size_t n = (size_t)(s - t);
        if (memchr(t, '=', n)) {
            /* helo=[192.0.2.1]: skip the bracketed value with its name. */
            if (s < e && *s == '[') {
                const char *close = memchr(s, ']', (size_t)(e - s));
                s = close ? close + 1 : e;
            }
            after_helo = false;
            continue;
        }
        if (n == 4 &&
            (g_ascii_strncasecmp(t, "helo", 4) == 0 || g_ascii_strncasecmp(t, "ehlo", 4) == 0)) {
            after_helo = true;
            continue;
        }
        if (!after_helo && arf_literal_parse(t, n, out))
            return true;
        after_helo = false;
    }
    return false;
}

/* One Received value: the peer address of its from-clause and the name
 * the peer gave after "from" (lower case, into host; "" if a literal). */
static bool arf_hop_parse(const char *v, struct addr_prefix *ip, char *host, size_t hostcap)
{
    host[0] = '\0';
    while (arf_is_space(*v))
        v++;
    if (g_ascii_strncasecmp(v, "from", 4) != 0 || !arf_is_space(v[4]))
        return false;
    const char *p = v + 4;
    while (arf_is_space(*p))
        p++;

    /* The from-clause ends at the first " by " outside () and []. */
    const char *end = p;
    int depth = 0;
    for (; *end; end++) {
        char c = *end;
        if (c == '(' || c == '[') {
            depth++;
        } else if ((c == ')' || c == ']') && depth > 0) {
            depth--;
        } else if (depth == 0 && c == ';') {
            break;
        } else if (depth == 0 && arf_is_space(c)) {
            const char *r = end;
            while (arf_is_space(*r))
                r++;
            if (g_ascii_strncasecmp(r, "by", 2) == 0 && (r[2] == '\0' || arf_is_space(r[2])))
                break;
        }
    }

    const char *name_end = p;
    while (name_end < end && !arf_is_space(*name_end) && *name_end != '(')
        name_end++;
    if (*p != '[') {
        size_t n = (size_t)(name_end - p);
        if (n >= hostcap)
            n = hostcap - 1;
        for (size_t i = 0; i < n; i++)
            host[i] = g_ascii_tolower(p[i]);
        host[n] = '\0';
        if (n > 0 && host[n - 1] == '.')
            host[n - 1] = '\0';
    }

    /* The first parenthesised group, to its matching parenthesis. */
    const char *open = memchr(p, '(', (size_t)(end - p));
    if (open) {
        const char *close = open + 1;
        for (depth = 1; close < end; close++) {
            if (*close == '(')
                depth++;
            else if (*close == ')' && --depth == 0)
                break;
        }
        if (arf_scan_literal(open + 1, close, ip))
            return true;
    }

    /* Exim: from [192.0.2.1]:51234 (helo=...), or a bare literal. */
    if (*p == '[') {
        const char *close = memchr(p, ']', (size_t)(end - p));
        return close && arf_literal_parse(p + 1, (size_t)(close - p - 1), ip);
    }
    return arf_literal_parse(p, (size_t)(name_end - p), ip);
}

static bool arf_host_internal(const char *host, const char *const *suffixes)
{
    size_t n = strlen(host);
    if (n == 0)
        return false;
    for (size_t i = 0; suffixes[i]; i++) {
        const char *suf = suffixes[i];
        while (*suf == '.')
            suf++;
        size_t k = strlen(suf);
        if (k == 0 || k > n)
            continue;
        if (g_ascii_strcasecmp(host + n - k, suf) == 0 && (n == k || host[n - k - 1] == '.'))
            return true;
    }
    return false;
}

static bool arf_walk_received(GMimeMessage *m, const char *const *suffixes, struct addr_prefix *out)
{
    const char *name, *value;
    for (int i = 0; arf_header_at(GMIME_OBJECT(m), i, &name, &value); i++) {
        if (!name || !value || g_ascii_strcasecmp(name, "Received") != 0)
            continue;
        struct addr_prefix ip;
        char host[256];
        if (!arf_hop_parse(value, &ip, host, sizeof host) || arf_addr_nonpublic(&ip) ||
            arf_host_internal(host, suffixes))
            continue;
        *out = ip;
        return true;
    }
    return false;
}

/* Rule 4: the address the receiver's SPF or authentication check saw. */
static bool arf_auth_header_ip(GMimeMessage *m, struct addr_prefix *out)
{
    const char *name, *value;
    for (int i = 0; arf_header_at(GMIME_OBJECT(m), i, &name, &value); i++) {
        const char *at = NULL;
        if (!name || !value)
            continue;
        if (g_ascii_strcasecmp(name, "Received-SPF") == 0) {
            at = strcasestr(value, "client-ip=");
            at = at ? at + strlen("client-ip=") : NULL;
        } else if (g_ascii_strcasecmp(name, "Authentication-Results") == 0) {
            at = strcasestr(value, "sender IP is ");
            at = at ? at + strlen("sender IP is ") : NULL;
        }
        if (!at)
            continue;
        while (arf_is_space(*at))
            at++;
        size_t len = 0;
        while (at[len] && !arf_is_space(at[len]) && at[len] != ';' && at[len] != ')')
            len++;
        if (len > 0 && at[0] == '[' && at[len - 1] == ']')
            at++, len -= 2;
        if (arf_literal_parse(at, len, out))
            return true;
    }
    return false;
}

/* Rule 2: the legacy JMRP subject "complaint about message from ADDR".
 * *matched says whether the subject has the shape, whatever ADDR is. */
static bool arf_subject_ip(const char *subject, bool *matched, struct addr_prefix *out)
{
    static const char lead[] = "complaint about message from";
    *matched = false;
    if (!subject)
        return false;
    const char *p = subject;
    while (arf_is_space(*p))
        p++;
    if (g_ascii_strncasecmp(p, lead, sizeof lead - 1) != 0 || !arf_is_space(p[sizeof lead - 1]))
        return false;
    p += sizeof lead - 1;
    while (arf_is_space(*p))
        p++;
    const char *t = p;
    while (*p && !arf_is_space(*p))
        p++;
    size_t n = (size_t)(p - t);
    while (arf_is_space(*p))
        p++;
    if (n == 0 || *p)
        return false;
    *matched = true;
    char buf[ADDR_TEXT_MAX];
    if (n >= sizeof buf)
        return false;
    memcpy(buf, t, n);
    buf[n] = '\0';
    return arf_ip_parse(buf, out);
}

/* ---- field values ------------------------------------------------------- */

/* spf=, dkim= and dmarc= results of one Authentication-Results value
 * (RFC 8601), comments and quoted strings skipped. */
static void arf_auth_scan(const char *v, struct arf_auth *a)
{
    static const struct {
        const char *method;
        uint8_t bit;
    } methods[] = {{"spf", AUTH_FAIL_SPF}, {"dkim", AUTH_FAIL_DKIM}, {"dmarc", AUTH_FAIL_DMARC}};
    int depth = 0;
    bool boundary = true;
    for (const char *p = v; *p;) {
        char c = *p;
        if (c == '(' || c == ')' || c == ';' || arf_is_space(c)) {
            if (c == '(')
                depth++;
            else if (c == ')' && depth > 0)
                depth--;
            boundary = true;
            p++;
            continue;
        }
        if (depth > 0) {
            p++;
            continue;
        }
        if (c == '"') {
            for (p++; *p && *p != '"'; p++)
                if (*p == '\\' && p[1])
                    p++;
            if (*p)
                p++;
            boundary = false;
            continue;
        }
        if (boundary) {
            for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
                size_t k = strlen(methods[i].method);
                if (g_ascii_strncasecmp(p, methods[i].method, k) != 0)
                    continue;
                const char *q = p + k;
                while (*q == ' ' || *q == '\t')
                    q++;
                if (*q != '=')
                    continue;
                for (q++; *q == ' ' || *q == '\t'; q++)
                    ;
                char result[16];
                size_t n = 0;
                while (g_ascii_isalpha(q[n]) && n < sizeof result - 1)
                    result[n] = g_ascii_tolower(q[n]), n++;
                result[n] = '\0';
                if (strcmp(result, "fail") == 0 ||
                    (methods[i].bit == AUTH_FAIL_SPF && strcmp(result, "softfail") == 0))
                    a->fail |= methods[i].bit;
                else if (strcmp(result, "pass") == 0)
                    a->pass |= methods[i].bit;
            }
        }
        boundary = false;
        p++;
    }
}

/* A failure counts unless another result for the same method passed
 * (a message with two DKIM signatures of which one verified). */
static uint8_t arf_auth_bits(const struct arf_auth *a)
{
    return (uint8_t)(a->fail & ~a->pass);
}

static void arf_fields_read(GMimeMessage *block, struct arf_fields *f, struct arf_auth *auth)
{
    memset(f, 0, sizeof *f);
    const char *name, *value;
    for (int i = 0; arf_header_at(GMIME_OBJECT(block), i, &name, &value); i++) {
        if (!name)
            continue;
        if (!value)
            value = "";
        if (g_ascii_strcasecmp(name, "Authentication-Results") == 0) {
            f->has_auth = true;
            arf_auth_scan(value, auth);
            continue;
        }
        for (int k = 0; k < F_COUNT; k++) {
            if (g_ascii_strcasecmp(name, arf_field_names[k]) != 0)
                continue;
            if (f->count[k]++ == 0)
                f->value[k] = value;
            break;
        }
    }
}

/* Incidents: a positive integer, anything else is 1 with a warning. */
static double arf_incidents(struct arf_ctx *c, const char *v)
{
    char buf[32];
    if (!v)
        return 1;
    arf_trim(v, buf, sizeof buf);
    uint64_t n = 0;
    bool ok = buf[0] != '\0';
    for (const char *p = buf; *p && ok; p++) {
        ok = *p >= '0' && *p <= '9';
        n = n * 10 + (uint64_t)(*p - '0');
        ok = ok && n <= UINT32_MAX;
    }
    if (!ok || n == 0) {
        arf_warn(c, "Incidents '%s' is not a positive integer, counted as 1", buf);
        return 1;
    }
    return (double)n;
}

static bool arf_date_parse(const char *v, int64_t *t)
{
    GDateTime *d = v ? g_mime_utils_header_decode_date(v) : NULL;
    if (!d)
        return false;
    *t = g_date_time_to_unix(d);
    g_date_time_unref(d);
    return true;
}

/* Message-ID (or "") and SHA-256 of the message with CRLF made LF
 * (doc/formats.md 2.10), joined by a NUL no Message-ID can contain. */
static int arf_dedup_key(uint8_t key[FEED_DEDUP_LEN], const char *msgid, const char *raw,
                         size_t len)
{
    char *norm = malloc(len ? len : 1);
    if (!norm)
        return DNSBL_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (raw[i] == '\r' && i + 1 < len && raw[i + 1] == '\n')
            continue;
        norm[n++] = raw[i];
    }
    const void *parts[3] = {msgid, "", norm};
    size_t lens[3] = {strlen(msgid), 1, n};
    feed_dedup_key(key, parts, lens, 3);
    free(norm);
    return 0;
}

/* ---- one report --------------------------------------------------------- */

/* What the report says before the address is looked for. */
struct arf_report {
    uint8_t kind;
    double weight;
    char type[64];            /* the Feedback-Type as given, lower case */
    char who[ARF_REASON_MAX]; /* User-Agent, Reported-Domain or "" */
    struct arf_fields fields;
    struct arf_auth auth;
};

/* Read the feedback-report part: 0, or 1 after rejecting the message. */
static int arf_read_feedback(struct arf_ctx *c, GMimeMessage *block, struct arf_report *r)
{
    struct arf_fields *f = &r->fields;
    arf_fields_read(block, f, &r->auth);
    for (int k = 0; k < F_SINGLE_END; k++) {
        if (f->count[k] > 1) {
            arf_reject(c, "duplicate field %s", arf_field_names[k]);
            return 1;
        }
    }
    if (f->count[F_ARRIVAL_DATE] && f->count[F_RECEIVED_DATE]) {
        arf_reject(c, "duplicate field Arrival-Date (Arrival-Date and Received-Date both present)");
        return 1;
    }
    char *type = r->type;
    arf_trim(f->value[F_FEEDBACK_TYPE], type, sizeof r->type);
    type[strcspn(type, " \t;(")] = '\0';
    if (type[0] == '\0') {
        arf_reject(c, "missing Feedback-Type");
        return 1;
    }
    for (char *p = type; *p; p++)
        *p = g_ascii_tolower(*p);
    r->kind = EV_OTHER;
    bool known = false;
    for (size_t i = 0; i < sizeof arf_types / sizeof arf_types[0]; i++) {
        if (strcmp(type, arf_types[i].name) == 0) {
            r->kind = arf_types[i].kind;
            known = true;
        }
    }
    if (!known)
        arf_warn(c, "unknown Feedback-Type '%s', counted as other", type);
    if (!f->count[F_USER_AGENT])
        arf_warn(c, "missing User-Agent");
    if (!f->count[F_VERSION])
        arf_warn(c, "missing Version");
    r->weight = arf_incidents(c, f->value[F_INCIDENTS]);
    if (f->value[F_USER_AGENT])
        arf_trim(f->value[F_USER_AGENT], r->who, sizeof r->who);
    if (!r->who[0] && f->value[F_REPORTED_DOMAIN])
        arf_trim(f->value[F_REPORTED_DOMAIN], r->who, sizeof r->who);
    return 0;
}

/* doc/formats.md 2.8: 0 with *ip set, 1 after rejecting the message. */
static int arf_find_source(struct arf_ctx *c, GMimeMessage *msg, GMimeMessage *encl,
                           const struct arf_report *r, struct addr_prefix *ip)
{
    const char *const *suffixes =
        c->opt->internal_suffixes ? c->opt->internal_suffixes : arf_default_suffixes;
    struct addr_prefix walked;
    bool have_walked = encl && arf_walk_received(encl, suffixes, &walked);

    const char *sip = r->fields.value[F_SOURCE_IP];
    if (sip) {
        if (!arf_ip_parse(sip, ip)) {
            char buf[ADDR_TEXT_MAX];
            arf_reject(c, "invalid Source-IP '%s'", arf_trim(sip, buf, sizeof buf));
            return 1;
        }
        if (have_walked && addr_compare(ip, &walked) != 0) {
            char a[ADDR_TEXT_MAX], b[ADDR_TEXT_MAX];
            addr_format(ip, a, sizeof a);
            addr_format(&walked, b, sizeof b);
            arf_warn(c, "Source-IP %s disagrees with the Received-derived address %s; using %s", a,
                     b, a);
        }
        return 0;
    }
    bool matched;
    if (encl && arf_subject_ip(g_mime_message_get_subject(msg), &matched, ip))
        return 0;
    if (have_walked) {
        *ip = walked;
        return 0;
    }
    if (encl && arf_auth_header_ip(encl, ip))
        return 0;
    arf_reject(c, "no source IP could be determined");
    return 1;
}

static int64_t arf_event_time(struct arf_ctx *c, GMimeMessage *msg, const struct arf_fields *f)
{
    int64_t t;
    int k = f->value[F_ARRIVAL_DATE] ? F_ARRIVAL_DATE : F_RECEIVED_DATE;
    if (f->value[k]) {
        if (arf_date_parse(f->value[k], &t))
            return t;
        char buf[80];
        arf_warn(c, "unparseable %s '%s' ignored", arf_field_names[k],
                 arf_trim(f->value[k], buf, sizeof buf));
    }
    GDateTime *d = g_mime_message_get_date(msg);
    if (d)
        return g_date_time_to_unix(d);
    return c->opt->file_mtime;
}

/* The report's From address (its first mailbox), or NULL. */
static const char *arf_from_addr(GMimeMessage *msg)
{
    InternetAddressList *from = g_mime_message_get_from(msg);
    if (!from || internet_address_list_length(from) < 1)
        return NULL;
    InternetAddress *ia = internet_address_list_get_address(from, 0);
    if (!ia || !INTERNET_ADDRESS_IS_MAILBOX(ia))
        return NULL;
    const char *addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
    return addr && *addr ? addr : NULL;
}

static void arf_ident_add(struct evidence_ident *id, const char *name, const char *value)
{
    if (value && *value && id->n < EVIDENCE_IDENT_MAX)
        id->pair[id->n++] = (struct evidence_pair){name, value};
}

/* What identifies the report on the evidence trail: the original's
 * Message-ID, the report's own, who sent it, its Feedback-Type and the
 * SPF, DKIM and DMARC results as auth_failed reads them. The values are
 * borrowed from msg, encl and r. */
static void arf_ident(struct evidence_ident *id, GMimeMessage *msg, GMimeMessage *encl,
                      const char *msgid, const struct arf_report *r)
{
    static const struct {
        const char *name;
        uint8_t bit;
    } methods[] = {{"spf", AUTH_FAIL_SPF}, {"dkim", AUTH_FAIL_DKIM}, {"dmarc", AUTH_FAIL_DMARC}};
    const char *from = arf_from_addr(msg);

    id->n = 0;
    arf_ident_add(id, "message-id", encl ? g_mime_message_get_message_id(encl) : NULL);
    arf_ident_add(id, "report-id", msgid);
    arf_ident_add(id, "reporter", from ? from : r->who);
    arf_ident_add(id, "feedback-type", r->type);
    /* A pass anywhere wins, as in arf_auth_bits. */
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        arf_ident_add(id, methods[i].name,
                      r->auth.pass & methods[i].bit   ? "pass"
                      : r->auth.fail & methods[i].bit ? "fail"
                                                      : NULL);
}

/* One message (no mbox From_ line, escapes undone): exactly one event or
 * one rejection. Returns 0, the sink's stop value, or an error. */
static int arf_parse_message(const char *raw, size_t len, long line, const char *file,
                             const struct feed_options *opt, struct feed_sink *sink)
{
    struct arf_ctx c = {.opt = opt, .sink = sink};
    c.origin = (struct feed_origin){.file = file, .line = line, .raw = raw, .raw_len = len};
    int rc = 0;
    GMimeMessage *msg = arf_parse_mime(raw, len);
    GMimeMessage *block = NULL, *encl = NULL;
    if (!msg) {
        arf_reject(&c, "not a feedback report (not a MIME message)");
        return 0;
    }
    const char *msgid = g_mime_message_get_message_id(msg);
    c.origin.message_id = msgid;

    struct arf_parts parts;
    arf_find_report(msg, &parts);
    if (parts.report && !parts.feedback && arf_report_type_is_feedback(parts.report)) {
        arf_reject(&c, "missing message/feedback-report part");
        goto out;
    }
    bool is_arf = parts.report && parts.feedback;
    bool jmrp = false;
    struct addr_prefix ip;
    if (!is_arf && parts.enclosed)
        arf_subject_ip(g_mime_message_get_subject(msg), &jmrp, &ip);
    if (!is_arf && !jmrp) {
        arf_reject(&c, "not a feedback report");
        goto out;
    }

    struct arf_report r = {.kind = EV_ABUSE, .weight = 1};
    if (is_arf) {
        block = arf_part_message(parts.feedback);
        if (!block) {
            arf_reject(&c, "missing Feedback-Type");
            goto out;
        }
        if (arf_read_feedback(&c, block, &r) != 0)
            goto out;
    } else {
        /* Legacy JMRP has no fields: every report is a junk complaint. */
        snprintf(r.type, sizeof r.type, "abuse");
        snprintf(r.who, sizeof r.who, "legacy JMRP");
    }
    if (parts.enclosed)
        encl = arf_part_message(parts.enclosed);
    if (arf_find_source(&c, msg, encl, &r, &ip) != 0)
        goto out;
    if (arf_addr_nonpublic(&ip)) {
        char a[ADDR_TEXT_MAX];
        addr_format(&ip, a, sizeof a);
        arf_reject(&c, "refusing to score non-public address %s", a);
        goto out;
    }

    /* The report's own results, else the enclosed message's topmost one. */
    if (!r.fields.has_auth && encl) {
        GMimeHeader *h = g_mime_header_list_get_header(
            g_mime_object_get_header_list(GMIME_OBJECT(encl)), "Authentication-Results");
        const char *v = h ? g_mime_header_get_value(h) : NULL;
        if (v)
            arf_auth_scan(v, &r.auth);
    }

    char reason[MODEL_TEXT_MAX];
    if (r.who[0])
        snprintf(reason, sizeof reason, "%s report from %s", r.type, r.who);
    else
        snprintf(reason, sizeof reason, "%s report", r.type);
    struct event ev = {
        .prefix = ip,
        .kind = r.kind,
        .weight = r.weight,
        .time = arf_event_time(&c, msg, &r.fields),
        .reason = reason,
        .source = opt->source ? opt->source : "arf",
        .auth_failed = arf_auth_bits(&r.auth),
    };
    struct evidence_ident ident;
    arf_ident(&ident, msg, encl, msgid, &r);
    ev.ident = &ident;
    uint8_t key[FEED_DEDUP_LEN];
    rc = arf_dedup_key(key, msgid ? msgid : "", raw, len);
    if (rc != 0)
        goto out;
    arf_flush_warnings(&c);
    if (sink->event)
        rc = sink->event(sink->arg, &ev, key);
out:
    if (encl)
        g_object_unref(encl);
    if (block)
        g_object_unref(block);
    g_object_unref(msg);
    return rc;
}

/* ---- feed_ops_arf ------------------------------------------------------- */

static bool arf_starts_with_from_line(const uint8_t *data, size_t len)
{
    return len >= 5 && memcmp(data, "From ", 5) == 0;
}

static int arf_parse(const struct feed_input *in, const struct feed_options *opt,
                     struct feed_sink *sink)
{
    arf_init_gmime();
    const char *d = (const char *)in->data;
    size_t len = in->len;
    /* A single message saved with its mbox separator line. */
    if (arf_starts_with_from_line(in->data, len)) {
        const char *nl = memchr(d, '\n', len);
        size_t skip = nl ? (size_t)(nl - d) + 1 : len;
        d += skip, len -= skip;
    }
    int rc = arf_parse_message(d, len, 0, in->name, opt ? opt : &arf_no_options, sink);
    if (sink->progress)
        sink->progress(sink->arg, in->len);
    return rc;
}

static int arf_detect(const uint8_t *data, size_t len)
{
    if (arf_starts_with_from_line(data, len))
        return 10; /* an mbox file: feed_ops_mbox's */
    arf_init_gmime();
    GMimeMessage *msg =
        arf_parse_mime((const char *)data, len < ARF_DETECT_SPAN ? len : ARF_DETECT_SPAN);
    if (!msg)
        return 0;
    struct arf_parts parts;
    arf_find_report(msg, &parts);
    int score = 0;
    bool jmrp = false;
    struct addr_prefix ip;
    if (parts.enclosed)
        arf_subject_ip(g_mime_message_get_subject(msg), &jmrp, &ip);
    if (parts.report && (parts.feedback || arf_report_type_is_feedback(parts.report)))
        score = 95;
    else if (jmrp)
        score = 90;
    else if (parts.report)
        score = 50;
    else if (g_mime_message_get_message_id(msg) || g_mime_message_get_date(msg) ||
             g_mime_object_get_header(GMIME_OBJECT(msg), "Received"))
        score = 20; /* mail, though not a report: the parser says why */
    g_object_unref(msg);
    return score;
}

const struct feed_ops feed_ops_arf = {
    .name = "arf",
    .detect = arf_detect,
    .parse = arf_parse,
};

/* ---- feed_ops_mbox ------------------------------------------------------ */

static bool mbox_line_blank(const char *l, size_t n)
{
    return n == 0 || (n == 1 && l[0] == '\n') || (n == 2 && l[0] == '\r' && l[1] == '\n');
}

/* Copy one message into out, undoing the mboxrd/mboxo escape: one '>' off
 * every line matching ^>+From . The blank line mbox writers put before the
 * next separator belongs to the file format, not to the message. */
static size_t mbox_unescape(const char *m, size_t n, char *out)
{
    size_t last = n;
    if (n > 0) {
        size_t start = n - 1;
        while (start > 0 && m[start - 1] != '\n')
            start--;
        if (start > 0 && mbox_line_blank(m + start, n - start))
            last = start;
    }
    size_t o = 0;
    for (size_t pos = 0; pos < last;) {
        const char *nl = memchr(m + pos, '\n', last - pos);
        size_t end = nl ? (size_t)(nl - m) + 1 : last;
        size_t gt = pos;
        while (gt < end && m[gt] == '>')
            gt++;
        if (gt > pos && end - gt >= 5 && memcmp(m + gt, "From ", 5) == 0)
            pos++;
        memcpy(out + o, m + pos, end - pos);
        o += end - pos;
        pos = end;
    }
    return o;
}

static bool mbox_has_content(const char *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!arf_is_space(m[i]))
            return true;
    return false;
}

static int mbox_parse(const struct feed_input *in, const struct feed_options *opt,
                      struct feed_sink *sink)
{
    arf_init_gmime();
    if (!opt)
        opt = &arf_no_options;
    const char *d = (const char *)in->data;
    size_t len = in->len;
    char *buf = malloc(len ? len : 1);
    if (!buf)
        return DNSBL_ENOMEM;

    int rc = 0;
    size_t msg_start = 0; /* first byte after the current separator */
    long msg_line = 1;    /* the separator's line; 1 for text before any */
    bool have_sep = false, prev_blank = true;
    long lineno = 1;
    for (size_t pos = 0; pos <= len && rc == 0; lineno++) {
        const char *nl = pos < len ? memchr(d + pos, '\n', len - pos) : NULL;
        size_t end = nl ? (size_t)(nl - d) + 1 : len;
        bool sep = pos < len && prev_blank && end - pos >= 5 && memcmp(d + pos, "From ", 5) == 0;
        if (sep || pos == len) {
            /* Text before the first separator is a message only if it
             * holds anything: nothing may be dropped silently. */
            if (have_sep || mbox_has_content(d + msg_start, pos - msg_start)) {
                size_t n = mbox_unescape(d + msg_start, pos - msg_start, buf);
                rc = arf_parse_message(buf, n, msg_line, in->name, opt, sink);
                if (sink->progress)
                    sink->progress(sink->arg, pos);
            }
            if (pos == len)
                break;
            have_sep = true;
            msg_line = lineno;
            msg_start = end;
        }
        prev_blank = mbox_line_blank(d + pos, end - pos);
        pos = end;
    }
    free(buf);
    return rc;
}

static bool mbox_find_ci(const uint8_t *data, size_t len, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= len; i++)
        if (g_ascii_strncasecmp((const char *)data + i, needle, k) == 0)
            return true;
    return false;
}

static int mbox_detect(const uint8_t *data, size_t len)
{
    if (!arf_starts_with_from_line(data, len))
        return 0;
    size_t span = len < ARF_DETECT_SPAN ? len : ARF_DETECT_SPAN;
    if (mbox_find_ci(data, span, "feedback-report") ||
        mbox_find_ci(data, span, "complaint about message from"))
        return 95;
    return 50; /* mail, though maybe not reports: each message says why */
}

const struct feed_ops feed_ops_mbox = {
    .name = "mbox",
    .detect = mbox_detect,
    .parse = mbox_parse,
};
