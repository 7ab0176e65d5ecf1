/* Fuzz target for the configuration parser: the input is written to a
 * memory file and loaded with config_load_file, as dnsbld loads its file
 * at start and on SIGHUP. A file that loads must hold a usable config
 * (sane limits, zones with names, listens with text); one that does not
 * must say why and leave the config it was given untouched. Built with
 * libFuzzer when DNSBL_FUZZ is on, otherwise linked with replay.c so the
 * corpus runs as an ordinary test. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fz_fd = -1;
static char fz_path[64];

static void fz_check(const struct config *c)
{
    if (c->workers > CONFIG_WORKERS_MAX || c->tcp_idle_timeout == 0 || c->tcp_max_queries == 0 ||
        (c->nzones && !c->zones) || (c->nlistens && !c->listens))
        abort();
    for (size_t i = 0; i < c->nzones; i++)
        if (c->zones[i].name[0] == '\0' || strlen(c->zones[i].name) >= sizeof c->zones[i].name)
            abort();
    for (size_t i = 0; i < c->nlistens; i++)
        if (c->listens[i].text[0] == '\0' || c->listens[i].addrlen == 0)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A memory file: nothing on disk to clean up, and /proc/self/fd/N is
     * a regular file to config_load_file's stat. */
    if (fz_fd < 0) {
        fz_fd = memfd_create("fuzz.conf", MFD_CLOEXEC);
        if (fz_fd < 0)
            abort();
        snprintf(fz_path, sizeof fz_path, "/proc/self/fd/%d", fz_fd);
    }
    if (ftruncate(fz_fd, 0) != 0 || pwrite(fz_fd, data, size, 0) != (ssize_t)size)
        abort();

    struct config c;
    char why[1024] = "";
    config_init(&c);
    c.workers = 3; /* a marker: a failed load leaves the config as it was */
    int rc = config_load_file(&c, fz_path, why, sizeof why);
    if (rc == DNSBL_OK) {
        fz_check(&c);
        char dup[256];
        config_check_listens(&c, dup, sizeof dup);
    } else if (why[0] == '\0' || c.workers != 3 || c.nzones != 0 || c.nlistens != 0) {
        abort();
    }
    config_free(&c);
    return 0;
}
