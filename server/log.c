/* log: "TIME PROG[PID]: LEVEL: message" lines on stderr. Each line is
 * formatted in a stack buffer and written with one write(2), so lines
 * from several threads never interleave and no lock is needed. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "timeutil.h"

/* Module state as the header's API implies: set once by log_init before
 * threads start, only read afterwards. */
static char log_prog[64] = "dnsbl";
static enum log_level log_max = LOG_LEVEL_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_init(const char *prog, enum log_level max_level)
{
    if (prog && *prog) {
        const char *slash = strrchr(prog, '/');
        snprintf(log_prog, sizeof log_prog, "%s", slash ? slash + 1 : prog);
    }
    log_max = max_level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    char line[2048];
    int saved_errno = errno;

    if (level > log_max || (int)level < 0 || level > LOG_LEVEL_DEBUG)
        return;

    char when[32];
    time_format_rfc3339(time_now(), when, sizeof when);
    int n = snprintf(line, sizeof line, "%s %s[%ld]: %s: ", when, log_prog, (long)getpid(),
                     level_names[level]);
    if (n < 0)
        n = 0;
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;

    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + len, sizeof line - len, fmt, ap);
    va_end(ap);
    size_t head = len;
    if (m > 0)
        len += (size_t)m < sizeof line - len ? (size_t)m : sizeof line - len - 1;

    /* One event, one line: a newline inside the message would fake a second entry. */
    while (len > head && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    for (size_t i = head; i < len; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    if (len >= sizeof line - 1)
        len = sizeof line - 2;
    line[len++] = '\n';

    const char *p = line;
    while (len > 0) {
        ssize_t w = write(STDERR_FILENO, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        p += w;
        len -= (size_t)w;
    }
    errno = saved_errno;
}
