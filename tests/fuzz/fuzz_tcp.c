/* Fuzz target for DNS over TCP stream reassembly: the first input byte
 * seeds how the rest, the stream, is cut into reads; each read is
 * appended to a buffer and complete frames are taken off its front with
 * tcpframe_size and tcpframe_next exactly as net.c's tcp_process does,
 * then answered with packet_answer over the fixture's store and zones.
 * However the stream is cut, the messages must be the ones a single pass
 * over the whole stream finds, in order, and what is left must be the
 * incomplete tail. Built with libFuzzer when DNSBL_FUZZ is on, otherwise
 * linked with replay.c so the corpus runs as an ordinary test. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_fixture.h"
#include "packet.h"
#include "store.h"
#include "tcpframe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_ANSWER_MAX 64 /* messages answered per input: the rest are only split */

/* Room for an incomplete frame plus one read, as the server's input
 * high-water mark allows. */
static uint8_t fz_buf[2 * TCPFRAME_MAX];
static uint8_t fz_out[PACKET_TCP_MAX];

static uint32_t fz_next(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* The length of the next read: mostly small, sometimes a whole frame's worth. */
static size_t fz_read_len(uint32_t *rng)
{
    uint32_t r = fz_next(rng);
    switch (r % 4) {
    case 0:
        return 1;
    case 1:
        return 1 + (r >> 8) % 7;
    case 2:
        return 1 + (r >> 8) % 600;
    }
    return 1 + (r >> 8) % 4096;
}

static void fz_answer(struct packet_ctx *ctx, const struct tcpframe *f)
{
    size_t outlen = 0;
    if (packet_answer(ctx, PACKET_TCP, f->msg, f->len, fz_out, sizeof fz_out, &outlen) ==
            PACKET_ANSWER &&
        (outlen < 12 || outlen > PACKET_TCP_MAX || f->len < 2 || memcmp(fz_out, f->msg, 2) != 0))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    struct packet_ctx *ctx = fz_fixture();
    uint32_t rng = 0x9e3779b9u ^ (uint32_t)data[0] * 0x01000193u;
    const uint8_t *stream = data + 1;
    size_t n = size - 1, fed = 0, len = 0, taken = 0, messages = 0;

    if (tcpframe_size(stream, n < 1 ? n : 1) != 0)
        abort();
    store_reader_begin(ctx->reader);
    while (fed < n) {
        size_t chunk = fz_read_len(&rng);
        if (chunk > n - fed)
            chunk = n - fed;
        memcpy(fz_buf + len, stream + fed, chunk);
        len += chunk;
        fed += chunk;
        for (;;) {
            size_t fsize = tcpframe_size(fz_buf, len < TCPFRAME_PREFIX ? len : TCPFRAME_PREFIX);
            struct tcpframe f;
            if (fsize == 0 || len < fsize) {
                /* Not all in: the parser must agree, whatever it is shown. */
                if (tcpframe_next(fz_buf, len, &f))
                    abort();
                break;
            }
            if (!tcpframe_next(fz_buf, fsize, &f) || f.used != fsize ||
                f.len != fsize - TCPFRAME_PREFIX || f.msg != fz_buf + TCPFRAME_PREFIX ||
                (fsize > TCPFRAME_PREFIX && tcpframe_next(fz_buf, fsize - 1, &f)))
                abort();
            tcpframe_next(fz_buf, fsize, &f);
            /* The same bytes a single pass over the stream finds here. */
            if (taken + f.used > n || memcmp(stream + taken, fz_buf, f.used) != 0)
                abort();
            taken += f.used;
            if (messages++ < FZ_ANSWER_MAX)
                fz_answer(ctx, &f);
            memmove(fz_buf, fz_buf + f.used, len - f.used);
            len -= f.used;
        }
    }
    store_reader_end(ctx->reader);
    /* What is left is the stream's incomplete last frame, nothing else. */
    if (taken + len != n || memcmp(stream + taken, fz_buf, len) != 0)
        abort();
    return 0;
}
