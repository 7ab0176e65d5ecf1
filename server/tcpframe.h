/* tcpframe: DNS over TCP message framing (RFC 1035 4.2.2, RFC 7766 8):
 * every message on the stream is preceded by its length as two bytes,
 * big-endian. Pure functions over the bytes a connection has buffered
 * from the start of a frame; nothing is allocated or kept, and a message
 * handed out points into the caller's buffer. */
#ifndef DNSBL_TCPFRAME_H
#define DNSBL_TCPFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TCPFRAME_PREFIX 2
#define TCPFRAME_MSG_MAX 65535 /* what the prefix can say */
#define TCPFRAME_MAX (TCPFRAME_PREFIX + TCPFRAME_MSG_MAX)

/* One complete message at the start of the buffer. */
struct tcpframe {
    const uint8_t *msg; /* inside the caller's buffer; may be empty (len 0) */
    size_t len;
    size_t used; /* prefix + message: what to drop from the stream */
};

/* The whole frame's size (prefix included) starting at buf, given its
 * first len bytes; 0 while fewer than TCPFRAME_PREFIX bytes are known. */
size_t tcpframe_size(const uint8_t *buf, size_t len);

/* The first message in buf[0..len): true with *f filled when the frame is
 * all there, false when more bytes are needed. Never reads past len. */
bool tcpframe_next(const uint8_t *buf, size_t len, struct tcpframe *f);

#endif
