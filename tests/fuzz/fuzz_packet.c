/* Fuzz target for the whole query path: bytes in, answer bytes out, over
 * the fixture's small fixed store and two zones (fuzz_fixture.c). Every
 * input is tried over UDP and over TCP. Built with libFuzzer when
 * DNSBL_FUZZ is on, otherwise linked with replay.c so the corpus runs as
 * an ordinary test. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_fixture.h"
#include "packet.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t fz_out[PACKET_TCP_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct packet_ctx *ctx = fz_fixture();
    size_t outlen = 0;
    store_reader_begin(ctx->reader);
    for (int t = PACKET_UDP; t <= PACKET_TCP; t++) {
        if (packet_answer(ctx, (enum packet_transport)t, data, size, fz_out, sizeof(fz_out),
                          &outlen) == PACKET_ANSWER) {
            /* The answer always carries the query id and a header. */
            if (outlen < 12 || outlen > (t == PACKET_UDP ? PACKET_EDNS_SIZE : PACKET_TCP_MAX) ||
                memcmp(fz_out, data, 2) != 0)
                abort();
        }
    }
    store_reader_end(ctx->reader);
    return 0;
}
