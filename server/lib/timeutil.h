/* timeutil: the clock, RFC 3339 times and operator durations ("7d").
 * Plain values; callers own every buffer. */
#ifndef DNSBL_TIMEUTIL_H
#define DNSBL_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Unix seconds now: the system clock, or the time time_set_now fixed. */
int64_t time_now(void);

/* Fix the clock at t for the rest of the process: the --now testing option
 * of both binaries and the unit tests use it to check expiry and decay
 * without waiting. Call it before starting any thread that reads the time. */
void time_set_now(int64_t t);

/* A --now argument: unix seconds or an RFC 3339 time (time_parse_rfc3339).
 * DNSBL_OK or DNSBL_EINVAL. */
int time_parse_now(const char *s, int64_t *out);

/* "2026-11-27T18:15:09Z" (UTC). Returns the length written. */
size_t time_format_rfc3339(int64_t t, char *buf, size_t cap);

/* "2026-11-27T18:15:09Z", "2026-11-27T18:15:09+01:00", "2026-11-27".
 * DNSBL_OK or DNSBL_EINVAL. */
int time_parse_rfc3339(const char *s, int64_t *out);

/* "3600", "90s", "30m", "12h", "7d", "2w", "1d12h". DNSBL_OK or DNSBL_EINVAL.
 * Zero and negative durations are invalid. */
int time_parse_duration(const char *s, int64_t *out);

#endif
