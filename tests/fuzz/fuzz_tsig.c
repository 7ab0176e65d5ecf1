/* Fuzz target for TSIG checking (tsig.h): the input as a request through
 * tsig_verify_request against two keys, and as the first answer to a
 * request signed here through tsig_verify_answer. A request that checks
 * is answered with tsig_sign and that answer must check on the client
 * side: a round trip through both halves. Time is fixed, so a seed signed
 * at FZ_NOW stays valid. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "tsig.h"

#define FZ_NOW 1700000000
#define FZ_CAP 65535

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct tsig_key fz_keys[2];
static bool fz_ready;

static void fz_init(void)
{
    if (fz_ready)
        return;
    if (tsig_key_from_spec(
            &fz_keys[0],
            "hmac-sha256:xfr.example:c2VjcmV0LWtleS1mb3ItdHNpZy10ZXN0cy0xMjM0NTY=", NULL, 0) ||
        tsig_key_from_spec(&fz_keys[1], "hmac-sha1:other.example:b3RoZXI=", NULL, 0))
        abort();
    fz_ready = true;
}

/* The request as the server sees it; if it checks, answer it and check
 * the answer as the client that signed it would. */
static void fz_request(const uint8_t *data, size_t size)
{
    static uint8_t msg[FZ_CAP + 512];
    if (size > FZ_CAP)
        return;
    memcpy(msg, data, size);
    size_t len = size;
    struct tsig_session s;
    enum tsig_error err;
    int rc = tsig_verify_request(&s, fz_keys, 2, msg, &len, FZ_NOW, &err);
    if (len > size)
        abort();
    if (rc == DNSBL_EREFUSED) {
        if (err == TSIG_ERR_NONE)
            abort();
        if (len >= 12 && tsig_sign(&s, msg, &len, sizeof msg, FZ_NOW, err) != DNSBL_OK)
            abort();
        return;
    }
    if (rc != DNSBL_OK)
        return;
    /* The client's session after signing this request: same key, and the
     * request's MAC as the prior one. */
    struct tsig_session c = {.key = s.key, .messages = 1};
    memcpy(c.mac, s.mac, s.mac_len);
    c.mac_len = s.mac_len;
    if (tsig_sign(&s, msg, &len, sizeof msg, FZ_NOW, TSIG_ERR_NONE) != DNSBL_OK)
        return; /* no room for the record */
    if (tsig_verify_answer(&c, msg, &len, FZ_NOW, true, &err) != DNSBL_OK)
        abort();
}

/* The input as the first answer to a request of ours. */
static void fz_answer(const uint8_t *data, size_t size)
{
    static uint8_t msg[FZ_CAP];
    static const uint8_t query[] = {0,   1, 0,   0,   0,   1,   0,   0,   0,   0, 0, 0,   2, 'b',
                                    'l', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 0, 252, 0, 1};
    uint8_t req[512];
    size_t rlen = sizeof query;
    memcpy(req, query, rlen);
    struct tsig_session c = {.key = &fz_keys[0]};
    if (tsig_sign(&c, req, &rlen, sizeof req, FZ_NOW, TSIG_ERR_NONE) != DNSBL_OK)
        abort();
    if (size > sizeof msg)
        return;
    memcpy(msg, data, size);
    size_t len = size;
    enum tsig_error err;
    for (int i = 0; i < 2; i++) {
        int rc = tsig_verify_answer(&c, msg, &len, FZ_NOW, false, &err);
        if (len > size || (rc == DNSBL_EREFUSED && err == TSIG_ERR_NONE))
            abort();
        if (rc != DNSBL_OK)
            break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_init();
    fz_request(data, size);
    fz_answer(data, size);
    return 0;
}
