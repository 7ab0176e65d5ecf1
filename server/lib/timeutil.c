/* timeutil: the clock (which --now may fix), RFC 3339 text and
 * operator durations. Fixed-width parsing by hand: sscanf would accept
 * signs, spaces and short fields that RFC 3339 does not. */
#include "timeutil.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"

/* The one piece of module state: a fixed clock, set once at startup
 * (before any other thread runs) by --now or a test, read without a lock. */
static bool now_fixed;
static int64_t now_value;

static bool parse_unix(const char *s, int64_t *out)
{
    int64_t v = 0;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        if (v > (INT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return true;
}

void time_set_now(int64_t t)
{
    now_value = t;
    now_fixed = true;
}

int time_parse_now(const char *s, int64_t *out)
{
    if (parse_unix(s, out))
        return DNSBL_OK;
    return time_parse_rfc3339(s, out);
}

int64_t time_now(void)
{
    if (now_fixed)
        return now_value;
    return (int64_t)time(NULL);
}

size_t time_format_rfc3339(int64_t t, char *buf, size_t cap)
{
    char tmp[64];
    struct tm tm;
    time_t tt = (time_t)t;
    size_t n = 0;

    if (cap == 0)
        return 0;
    if (gmtime_r(&tt, &tm))
        n = strftime(tmp, sizeof tmp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, tmp, n);
    buf[n] = '\0';
    return n;
}

/* Exactly width decimal digits. */
static bool take_digits(const char **s, int width, int *out)
{
    int v = 0;
    for (int i = 0; i < width; i++) {
        char c = (*s)[i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *s += width;
    *out = v;
    return true;
}

static bool take_char(const char **s, char c)
{
    if (**s != c)
        return false;
    (*s)++;
    return true;
}

static int days_in_month(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
        return 29;
    return days[month - 1];
}

int time_parse_rfc3339(const char *s, int64_t *out)
{
    int year, mon, day, hour = 0, min = 0, sec = 0, offset = 0;

    if (!s || !take_digits(&s, 4, &year) || !take_char(&s, '-') || !take_digits(&s, 2, &mon) ||
        !take_char(&s, '-') || !take_digits(&s, 2, &day))
        return DNSBL_EINVAL;
    if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon))
        return DNSBL_EINVAL;
    if (*s) {
        if (*s != 'T' && *s != 't' && *s != ' ')
            return DNSBL_EINVAL;
        s++;
        if (!take_digits(&s, 2, &hour) || !take_char(&s, ':') || !take_digits(&s, 2, &min) ||
            !take_char(&s, ':') || !take_digits(&s, 2, &sec))
            return DNSBL_EINVAL;
        /* 60 is a leap second; timegm carries it into the next minute. */
        if (hour > 23 || min > 59 || sec > 60)
            return DNSBL_EINVAL;
        if (*s == '.') {
            s++;
            if (*s < '0' || *s > '9')
                return DNSBL_EINVAL;
            while (*s >= '0' && *s <= '9')
                s++; /* sub-second precision is dropped */
        }
        if (*s == 'Z' || *s == 'z') {
            s++;
        } else if (*s == '+' || *s == '-') {
            int sign = *s == '-' ? -1 : 1, oh, om;
            s++;
            if (!take_digits(&s, 2, &oh) || !take_char(&s, ':') || !take_digits(&s, 2, &om) ||
                oh > 23 || om > 59)
                return DNSBL_EINVAL;
            offset = sign * (oh * 3600 + om * 60);
        } else {
            return DNSBL_EINVAL;
        }
        if (*s)
            return DNSBL_EINVAL;
    }

    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (t == (time_t)-1 && !(year == 1969 && mon == 12 && day == 31))
        return DNSBL_EINVAL;
    *out = (int64_t)t - offset;
    return DNSBL_OK;
}

static int64_t unit_seconds(char u)
{
    switch (u) {
    case 's':
        return 1;
    case 'm':
        return 60;
    case 'h':
        return 3600;
    case 'd':
        return 86400;
    case 'w':
        return 7 * 86400;
    }
    return 0;
}

int time_parse_duration(const char *s, int64_t *out)
{
    int64_t total = 0;
    const char *start = s;

    if (!s || !*s)
        return DNSBL_EINVAL;
    while (*s) {
        const char *part = s;
        int64_t n = 0;
        if (*s < '0' || *s > '9')
            return DNSBL_EINVAL;
        for (; *s >= '0' && *s <= '9'; s++) {
            if (n > (INT64_MAX - 9) / 10)
                return DNSBL_EINVAL;
            n = n * 10 + (*s - '0');
        }
        int64_t mult;
        if (*s == '\0' && part == start) {
            mult = 1; /* a plain number is seconds; "1d30" is not */
        } else {
            mult = unit_seconds(*s);
            if (mult == 0)
                return DNSBL_EINVAL;
            s++;
        }
        if (n > (INT64_MAX - total) / mult)
            return DNSBL_EINVAL;
        total += n * mult;
    }
    if (total <= 0)
        return DNSBL_EINVAL;
    *out = total;
    return DNSBL_OK;
}
