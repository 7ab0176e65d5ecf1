/* tcpframe: the length prefix of DNS over TCP. Kept apart from net.c so
 * that the fuzz target and the unit tests drive exactly the code the
 * server splits its streams with. */
#include "tcpframe.h"

size_t tcpframe_size(const uint8_t *buf, size_t len)
{
    if (len < TCPFRAME_PREFIX)
        return 0;
    return TCPFRAME_PREFIX + ((size_t)buf[0] << 8 | buf[1]);
}

bool tcpframe_next(const uint8_t *buf, size_t len, struct tcpframe *f)
{
    size_t size = tcpframe_size(buf, len);
    if (size == 0 || len < size)
        return false;
    f->msg = buf + TCPFRAME_PREFIX;
    f->len = size - TCPFRAME_PREFIX;
    f->used = size;
    return true;
}
