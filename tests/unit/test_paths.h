/* test_paths: where tests read and write outside their own memory: the
 * project's fixtures (tests/fixtures, see its README.md) and scratch space
 * (fresh names under $TMPDIR). Header-only; every buffer belongs to the
 * caller, who also removes what it made. */
#ifndef DNSBL_TEST_PATHS_H
#define DNSBL_TEST_PATHS_H

#include <stdio.h>
#include <stdlib.h>

#ifdef DNSBL_FIXTURES_DIR
/* tests/fixtures of this checkout, which CMake compiles in; the
 * environment variable DNSBL_FIXTURES may name another copy. */
static inline const char *test_fixtures_dir(void)
{
    const char *d = getenv("DNSBL_FIXTURES");
    return d && *d ? d : DNSBL_FIXTURES_DIR;
}
#endif

/* Scratch space goes under $TMPDIR, else the C library's default. */
static inline const char *test_tmp_base(void)
{
    const char *d = getenv("TMPDIR");
    return d && *d ? d : P_tmpdir;
}

/* The template base/NAME.XXXXXX in buf; false if it does not fit. */
static inline int test_tmp_template(char *buf, size_t cap, const char *name)
{
    int n = snprintf(buf, cap, "%s/%s.XXXXXX", test_tmp_base(), name);
    return n > 0 && (size_t)n < cap;
}

/* A new private directory base/NAME.XXXXXX, its path in buf; NULL on failure. */
static inline char *test_mkdtemp(char *buf, size_t cap, const char *name)
{
    return test_tmp_template(buf, cap, name) ? mkdtemp(buf) : NULL;
}

/* A new file base/NAME.XXXXXX opened read-write, its path in buf; -1 on failure. */
static inline int test_mkstemp(char *buf, size_t cap, const char *name)
{
    return test_tmp_template(buf, cap, name) ? mkstemp(buf) : -1;
}

#endif
