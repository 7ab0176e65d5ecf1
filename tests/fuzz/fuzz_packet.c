/* Fuzz target for the whole query path: bytes in, answer bytes out, over
 * the fixture's small fixed store and two zones (fuzz_fixture.c). Every
 * input is tried over UDP and over TCP. Built with libFuzzer when
 * DNSBL_FUZZ is on, otherwise linked with replay.c so the corpus runs as
 * an ordinary test. A zone transfer over TCP (PACKET_XFR) is streamed
 * with xfr.h as net_tcp.c does, every message checked. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_fixture.h"
#include "packet.h"
#include "store.h"
#include "xfr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t fz_out[PACKET_TCP_MAX];
static uint8_t fz_msg[XFR_MSG_CAP];

static void fz_transfer(struct packet_ctx *ctx, const uint8_t *data, size_t size)
{
    struct xfr *x = xfr_begin(fz_fixture_store(), ctx->xfr_zone, ctx->client, "fuzz", data, size,
                              ctx->now, false);
    if (x == NULL)
        abort();
    size_t len = 0;
    int rc, n = 0;
    while ((rc = xfr_next(x, fz_msg, &len)) == 1) {
        if (len < 12 || len > XFR_MSG_CAP || (size >= 2 && memcmp(fz_msg, data, 2) != 0) ||
            ++n > 1000)
            abort();
    }
    if (rc < 0)
        abort(); /* the fixture's store is never published: no stream to break */
    xfr_free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct packet_ctx *ctx = fz_fixture();
    size_t outlen = 0;
    store_reader_begin(ctx->reader);
    for (int t = PACKET_UDP; t <= PACKET_TCP; t++) {
        enum packet_outcome o = packet_answer(ctx, (enum packet_transport)t, data, size, fz_out,
                                              sizeof(fz_out), &outlen);
        if (o == PACKET_XFR) {
            if (t != PACKET_TCP)
                abort();
            fz_transfer(ctx, data, size);
        } else if (o == PACKET_ANSWER) {
            /* The answer always carries the query id and a header. */
            if (outlen < 12 || outlen > (t == PACKET_UDP ? PACKET_EDNS_SIZE : PACKET_TCP_MAX) ||
                memcmp(fz_out, data, 2) != 0)
                abort();
        }
    }
    store_reader_end(ctx->reader);
    return 0;
}
