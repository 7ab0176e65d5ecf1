/* ctl_args: turn dnsblctl's operands and option values into plain values.
 * Every rejection names the value as the operator typed it and says why,
 * and is a usage error (exit 2): nothing has touched the store yet. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "err.h"
#include "timeutil.h"

int ctl_args_none(const struct ctl_ctx *ctx, int argc, char **argv)
{
    if (optind < argc)
        return ctl_usage_error(ctx, "unexpected argument '%s'", argv[optind]);
    return CTL_EXIT_OK;
}

int ctl_args_take_one(const struct ctl_ctx *ctx, int argc, char **argv, const char *what,
                      const char **out)
{
    if (optind >= argc)
        return ctl_usage_error(ctx, "missing %s", what);
    if (argc - optind > 1)
        return ctl_usage_error(ctx, "unexpected argument '%s'", argv[optind + 1]);
    *out = argv[optind];
    return CTL_EXIT_OK;
}

int ctl_args_parse_prefix(const char *text, struct addr_prefix *out)
{
    char why[160];

    if (addr_parse(text, out, why, sizeof why) != DNSBL_OK) {
        ctl_error("%s", why);
        return CTL_EXIT_USAGE;
    }
    return CTL_EXIT_OK;
}

int ctl_args_parse_address(const struct ctl_ctx *ctx, const char *text, struct addr_prefix *out)
{
    int rc = ctl_args_parse_prefix(text, out);
    if (rc != CTL_EXIT_OK)
        return rc;
    if (out->plen != (out->family == ADDR_V4 ? 32 : 128)) {
        ctl_error("'%s' is a prefix; %s takes a single address", text, ctx->command->name);
        return CTL_EXIT_USAGE;
    }
    return CTL_EXIT_OK;
}

int ctl_args_parse_code(const char *text, uint32_t *out)
{
    const char *bad = model_code_parse(text, out);

    if (bad) {
        ctl_error("--code '%s' %s", text, bad);
        return CTL_EXIT_USAGE;
    }
    return CTL_EXIT_OK;
}

int ctl_args_parse_expires(const struct ctl_ctx *ctx, const char *text, int64_t *out)
{
    int64_t v;

    if (time_parse_duration(text, &v) == DNSBL_OK) {
        if (v > INT64_MAX - ctx->now) {
            ctl_error("--expires '%s' is too far in the future", text);
            return CTL_EXIT_USAGE;
        }
        *out = ctx->now + v;
        return CTL_EXIT_OK;
    }
    if (time_parse_rfc3339(text, &v) == DNSBL_OK) {
        if (v <= ctx->now) {
            char now[CTL_TEXT_SHORT];
            ctl_format_time(ctx->now, now);
            ctl_error("--expires '%s' is in the past (now is %s)", text, now);
            return CTL_EXIT_USAGE;
        }
        *out = v;
        return CTL_EXIT_OK;
    }
    ctl_error("--expires '%s' is not a duration (7d, 12h, 3600) or an RFC 3339 time", text);
    return CTL_EXIT_USAGE;
}

int ctl_args_check_by(const char *text)
{
    size_t len = strlen(text);

    if (len == 0 || len > CTL_OPERATOR_MAX) {
        ctl_error("--by '%s': give a name of 1 to %d bytes", text, CTL_OPERATOR_MAX);
        return CTL_EXIT_USAGE;
    }
    for (const unsigned char *s = (const unsigned char *)text; *s; s++) {
        if (*s < 0x20 || *s == 0x7f) {
            ctl_error("--by must not contain control characters (found 0x%02x)", *s);
            return CTL_EXIT_USAGE;
        }
    }
    return CTL_EXIT_OK;
}

int ctl_args_check_reason(const char *text)
{
    size_t len = strlen(text);

    if (len >= MODEL_TEXT_MAX) {
        ctl_error("--reason is %zu bytes long; at most %d fit", len, MODEL_TEXT_MAX - 1);
        return CTL_EXIT_USAGE;
    }
    /* The reason goes into TXT answers and one-line listings. */
    for (const unsigned char *s = (const unsigned char *)text; *s; s++) {
        if (*s < 0x20 || *s == 0x7f) {
            ctl_error("--reason must not contain control characters (found 0x%02x)", *s);
            return CTL_EXIT_USAGE;
        }
    }
    return CTL_EXIT_OK;
}

void ctl_format_code(uint32_t code, char *buf)
{
    snprintf(buf, CTL_TEXT_SHORT, "%u.%u.%u.%u", code >> 24, code >> 16 & 0xff, code >> 8 & 0xff,
             code & 0xff);
}

void ctl_format_time(int64_t t, char *buf)
{
    if (time_format_rfc3339(t, buf, CTL_TEXT_SHORT) == 0)
        snprintf(buf, CTL_TEXT_SHORT, "@%lld", (long long)t);
}

const char *ctl_format_time_opt(int64_t t, char *buf)
{
    if (t == 0)
        return NULL;
    ctl_format_time(t, buf);
    return buf;
}

void ctl_format_day(uint32_t day, char *buf)
{
    char full[CTL_TEXT_SHORT];
    ctl_format_time((int64_t)day * MODEL_DAY, full);
    snprintf(buf, CTL_TEXT_SHORT, "%.10s", full);
}

void ctl_print_text(FILE *out, const char *s)
{
    for (; *s; s++)
        fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, out);
}

uint32_t ctl_resolve_entry_code(const struct entry *e)
{
    struct zone_policy zp;

    if (e->code)
        return e->code;
    policy_defaults(&zp);
    return zp.code_manual;
}
