/* Fuzz target for the zone transfer parser (xfr_parse.h): the input is a
 * flags byte (bit 0: IXFR, bit 1: a serial is held), that serial (4
 * bytes), then messages each behind a 2-byte length, as TCP frames them.
 * Every message goes to the parser until it fails or is done; a done
 * transfer's changes must be in strict prefix order and each turn into an
 * event of a known kind. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "xfr_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5)
        return 0;
    bool ixfr = data[0] & 1, have = data[0] & 2;
    uint32_t serial =
        (uint32_t)data[1] << 24 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 8 | data[4];
    struct xfr_parser *x = xfr_parser_new("bl.example", ixfr, have, serial);
    if (!x)
        abort();
    char why[512];
    size_t at = 5;
    int rc = DNSBL_OK;
    while (rc == DNSBL_OK && !xfr_parser_done(x) && at + 2 <= size) {
        size_t len = (size_t)data[at] << 8 | data[at + 1];
        at += 2;
        if (len > size - at)
            len = size - at;
        /* a copy of exactly len bytes, so reading past it is caught */
        uint8_t *m = malloc(len ? len : 1);
        if (!m)
            abort();
        memcpy(m, data + at, len);
        why[0] = '\0';
        rc = xfr_parser_feed(x, m, len, why, sizeof why);
        free(m);
        if (rc != DNSBL_OK && (rc != DNSBL_EINVAL || strncmp(why, "message ", 8) != 0))
            abort();
        at += len;
    }
    if (rc == DNSBL_OK && xfr_parser_done(x)) {
        size_t n;
        const struct xfr_change *c = xfr_parser_changes(x, &n);
        for (size_t i = 0; i < n; i++) {
            if (i && addr_compare(&c[i - 1].prefix, &c[i].prefix) >= 0)
                abort();
            struct xfr_have h[XFR_VALUES] = {
                {.listed = i % 2, .code = 0x7f000002, .txt = "t", .excluded = i % 3 == 0},
                {.listed = i % 5 == 0, .code = 0x7f000003, .txt = i % 7 ? "u" : NULL}};
            static const char *const ds[XFR_VALUES] = {"d", "d~2", "d~3", "d~4"};
            struct event ev[XFR_VALUES];
            bool full = xfr_parser_style(x) == XFR_FULL;
            size_t got = xfr_change_events(&c[i], h, full, ds, 1, ev);
            if (got > XFR_VALUES)
                abort();
            for (size_t k = 0; k < got; k++)
                if (ev[k].kind != EV_IMPORT_LIST && ev[k].kind != EV_IMPORT_EXCLUDE &&
                    ev[k].kind != EV_IMPORT_REMOVE)
                    abort();
        }
    }
    xfr_parser_free(x);
    return 0;
}
