/* tsig: transaction signatures (RFC 8945) on DNS messages in wire form,
 * for zone transfers: dnsbld checks requests and signs its answers,
 * dnsblctl pull signs its requests and checks the answers. Keys and
 * sessions are plain values the caller owns; nothing here allocates, and
 * no secret is ever written to a message or a `why`. */
#ifndef DNSBL_TSIG_H
#define DNSBL_TSIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TSIG_NAME_MAX 256   /* a key name as text, with its NUL */
#define TSIG_SECRET_MAX 128 /* decoded secret bytes */
#define TSIG_MAC_MAX 64     /* hmac-sha512 */

enum tsig_alg { TSIG_HMAC_SHA256 = 1, TSIG_HMAC_SHA1, TSIG_HMAC_SHA384, TSIG_HMAC_SHA512 };

/* RFC 8945 error codes, in the TSIG record and the answer's rcode. */
enum tsig_error { TSIG_ERR_NONE = 0, TSIG_BADSIG = 16, TSIG_BADKEY = 17, TSIG_BADTIME = 18,
                  TSIG_BADTRUNC = 22 };

struct tsig_key {
    char name[TSIG_NAME_MAX]; /* text, lower case, no trailing dot */
    uint8_t name_wire[255];   /* wire, lower case */
    uint16_t name_wire_len;
    enum tsig_alg alg;
    uint8_t secret[TSIG_SECRET_MAX];
    size_t secret_len;
};

/* alg: "hmac-sha256" (NULL: that), "hmac-sha1", "hmac-sha384",
 * "hmac-sha512"; secret: base64. why names the key, never the secret. */
int tsig_key_init(struct tsig_key *k, const char *name, const char *alg, const char *secret_b64,
                  char *why, size_t whylen);

/* "[ALG:]NAME:SECRET", as kdig -y takes it. */
int tsig_key_from_spec(struct tsig_key *k, const char *spec, char *why, size_t whylen);

/* One signed exchange: a request, then one or more answers, each MAC
 * covering the one before it (RFC 8945 5.3.1). */
struct tsig_session {
    const struct tsig_key *key; /* NULL: no TSIG */
    uint8_t mac[TSIG_MAC_MAX];  /* the last MAC made or checked */
    size_t mac_len;
    unsigned messages;          /* messages signed or checked so far */
    unsigned unsigned_run;      /* answers since the last signed one */
    /* Kept by tsig.c (callers only zero the struct and set key): */
    enum tsig_error error;      /* the error tsig_sign writes next */
    uint64_t req_time;          /* the request's time signed (BADTIME answers) */
    uint8_t err_name[255];      /* the request's key and algorithm names, */
    uint16_t err_name_len;      /* echoed in an unsigned error answer */
    uint8_t err_alg[255];
    uint16_t err_alg_len;
    /* The running inner HMAC (RFC 2104) over the prior MAC and the
     * messages since it: unsigned answers feed it (RFC 8945 4.3.1). */
    _Alignas(8) unsigned char hstate[256];
};

/* Server: look for a TSIG record at the end of a request. Returns
 * DNSBL_ENOENT when there is none; DNSBL_OK when it checks, with *len cut
 * to the message without it (ARCOUNT less one) and s ready to sign the
 * answers; DNSBL_EREFUSED when it does not, with *err the TSIG error to
 * answer (BADKEY for an unknown key or algorithm, BADSIG, BADTIME) and s
 * set up so tsig_sign writes that error; DNSBL_EINVAL for a malformed
 * record (answer FORMERR). */
int tsig_verify_request(struct tsig_session *s, const struct tsig_key *keys, size_t nkeys,
                        uint8_t *msg, size_t *len, int64_t now, enum tsig_error *err);

/* Append a TSIG record to msg (*len bytes of cap): the request when s has
 * signed or checked nothing yet, else the next answer (err != NONE: the
 * error answer, unsigned for BADKEY and BADSIG as RFC 8945 5.3.2 says). */
int tsig_sign(struct tsig_session *s, uint8_t *msg, size_t *len, size_t cap, int64_t now,
              enum tsig_error err);

/* Server: send this answer unsigned (RFC 8945 5.3.1 lets a stream sign
 * only every few messages, at most 99 unsigned in a row): the next
 * tsig_sign covers it. */
void tsig_sign_skip(struct tsig_session *s, const uint8_t *msg, size_t len);

/* Client: check an answer of the exchange and cut its TSIG record off.
 * Later answers of a transfer may come unsigned, up to 99 in a row
 * (RFC 8945 5.3.1); the first and the last must be signed (last: the
 * caller says so). DNSBL_EREFUSED with *err on a bad signature. */
int tsig_verify_answer(struct tsig_session *s, uint8_t *msg, size_t *len, int64_t now, bool last,
                       enum tsig_error *err);

/* The text name of an algorithm ("hmac-sha256") and of a TSIG error
 * ("BADSIG"; NULL for none): static strings. */
const char *tsig_alg_name(enum tsig_alg alg);
const char *tsig_error_name(enum tsig_error err);

/* Client, at the end of a transfer: true when the last answer checked was
 * signed (RFC 8945 5.3.1: the last message of a stream must be), for a
 * caller that only knows a message was the last after parsing it. */
bool tsig_session_ended_signed(const struct tsig_session *s);

#endif
