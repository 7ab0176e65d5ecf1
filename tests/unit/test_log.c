/* Unit tests for log: the line format, level filtering, one line per call,
 * and whole lines when several threads log at once. stderr is pointed at a
 * temporary file for the duration of each test. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "timeutil.h"
#include "test_paths.h"

static int saved_stderr = -1;
static char tmp_path[PATH_MAX];

static int capture_start(void **state)
{
    (void)state;
    int fd = test_mkstemp(tmp_path, sizeof tmp_path, "dnsbl-test-log");
    if (fd < 0)
        return -1;
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_APPEND);
    saved_stderr = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
    return 0;
}

static int capture_stop(void **state)
{
    (void)state;
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    unlink(tmp_path);
    return 0;
}

static char *captured(size_t *len)
{
    FILE *f = fopen(tmp_path, "rb");
    assert_non_null(f);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

static void test_format_and_levels(void **state)
{
    (void)state;
    log_init("/usr/sbin/dnsbld", LOG_LEVEL_INFO);
    errno = ENOENT;
    log_info("listening on %s:%d udp+tcp", "127.0.0.1", 5353);
    assert_int_equal(errno, ENOENT); /* logging keeps errno for the caller */
    log_debug("not shown %d", 1);
    log_warn("two\nlines\n");
    log_error("bad");

    char want[512];
    long pid = (long)getpid();
    snprintf(want, sizeof want,
             "2026-11-27T18:15:09Z dnsbld[%ld]: info: listening on 127.0.0.1:5353 udp+tcp\n"
             "2026-11-27T18:15:09Z dnsbld[%ld]: warn: two lines\n"
             "2026-11-27T18:15:09Z dnsbld[%ld]: error: bad\n",
             pid, pid, pid);
    assert_string_equal(captured(NULL), want);
}

static void test_debug_and_quiet(void **state)
{
    (void)state;
    log_init("dnsblctl", LOG_LEVEL_DEBUG);
    log_debug("d%d", 1);
    log_init("dnsblctl", LOG_LEVEL_ERROR);
    log_info("dropped");
    log_warn("dropped");
    log_error("kept");
    char want[256];
    long pid = (long)getpid();
    snprintf(want, sizeof want,
             "2026-11-27T18:15:09Z dnsblctl[%ld]: debug: d1\n"
             "2026-11-27T18:15:09Z dnsblctl[%ld]: error: kept\n",
             pid, pid);
    assert_string_equal(captured(NULL), want);
}

static void test_long_line(void **state)
{
    (void)state;
    log_init("dnsbld", LOG_LEVEL_INFO);
    static char big[10000];
    memset(big, 'x', sizeof big - 1);
    log_info("%s", big);
    log_info("after");
    size_t len;
    char *out = captured(&len);
    char *nl = strchr(out, '\n');
    assert_non_null(nl);
    assert_true(nl - out < 4096); /* cut, but still one terminated line */
    assert_non_null(strstr(nl + 1, "info: after\n"));
    assert_int_equal(out[len - 1], '\n');
}

#define THREADS 8
#define LINES 500
#define PADDING "padding padding padding padding padding padding padding padding"

static void *log_many(void *arg)
{
    long id = (long)(intptr_t)arg;
    for (int i = 0; i < LINES; i++)
        log_info("thread %ld line %d %s", id, i, PADDING);
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    log_init("dnsbld", LOG_LEVEL_INFO);
    pthread_t th[THREADS];
    for (long i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, log_many, (void *)(intptr_t)i), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);

    char *out = captured(NULL);
    int lines = 0;
    char *save = NULL;
    for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        long id;
        int n;
        char tail[16];
        if (sscanf(l, "2026-11-27T18:15:09Z dnsbld[%*d]: info: thread %ld line %d %15s", &id, &n,
                   tail) != 3 ||
            strcmp(tail, "padding") != 0)
            fail_msg("mangled line: %s", l);
        size_t ll = strlen(l), pl = strlen(PADDING);
        if (ll < pl || strcmp(l + ll - pl, PADDING) != 0)
            fail_msg("cut line: %s", l);
        lines++;
    }
    assert_int_equal(lines, THREADS * LINES);
}

int main(void)
{
    time_set_now(1795803309); /* 2026-11-27T18:15:09Z in every line */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_format_and_levels, capture_start, capture_stop),
        cmocka_unit_test_setup_teardown(test_debug_and_quiet, capture_start, capture_stop),
        cmocka_unit_test_setup_teardown(test_long_line, capture_start, capture_stop),
        cmocka_unit_test_setup_teardown(test_threads, capture_start, capture_stop),
    };
    /* cmocka reports on stdout, so capturing stderr does not hide results. */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
