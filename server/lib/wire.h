/* wire: a bounds-checked cursor over a caller-owned byte buffer, with a
 * sticky error. Used for DNS packets and for LMDB key/value encoding.
 * The cursor never allocates and never owns its buffer. All integers are
 * big-endian (network order), so encoded keys sort as numbers. */
#ifndef DNSBL_WIRE_H
#define DNSBL_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct wire {
    uint8_t *base; /* start of the buffer */
    uint8_t *pos;  /* next byte to read or write */
    uint8_t *end;  /* one past the last usable byte */
    bool err;      /* set once any operation ran past end; later ones do nothing */
};

static inline void wire_init(struct wire *w, void *buf, size_t len)
{
    w->base = w->pos = (uint8_t *)buf;
    w->end = w->base + len;
    w->err = false;
}

/* For reading: const is cast away; the read functions never write. */
static inline void wire_init_ro(struct wire *w, const void *buf, size_t len)
{
    wire_init(w, (void *)(uintptr_t)buf, len);
}

static inline size_t wire_used(const struct wire *w)
{
    return (size_t)(w->pos - w->base);
}

static inline size_t wire_left(const struct wire *w)
{
    return w->err ? 0 : (size_t)(w->end - w->pos);
}

static inline bool wire_need(struct wire *w, size_t n)
{
    if (w->err || (size_t)(w->end - w->pos) < n) {
        w->err = true;
        return false;
    }
    return true;
}

static inline void wire_put_u8(struct wire *w, uint8_t v)
{
    if (wire_need(w, 1))
        *w->pos++ = v;
}

static inline void wire_put_u16(struct wire *w, uint16_t v)
{
    if (wire_need(w, 2)) {
        w->pos[0] = (uint8_t)(v >> 8);
        w->pos[1] = (uint8_t)v;
        w->pos += 2;
    }
}

static inline void wire_put_u32(struct wire *w, uint32_t v)
{
    if (wire_need(w, 4)) {
        w->pos[0] = (uint8_t)(v >> 24);
        w->pos[1] = (uint8_t)(v >> 16);
        w->pos[2] = (uint8_t)(v >> 8);
        w->pos[3] = (uint8_t)v;
        w->pos += 4;
    }
}

static inline void wire_put_u64(struct wire *w, uint64_t v)
{
    wire_put_u32(w, (uint32_t)(v >> 32));
    wire_put_u32(w, (uint32_t)v);
}

static inline void wire_put_bytes(struct wire *w, const void *p, size_t n)
{
    if (wire_need(w, n)) {
        if (n)
            memcpy(w->pos, p, n);
        w->pos += n;
    }
}

static inline uint8_t wire_get_u8(struct wire *w)
{
    return wire_need(w, 1) ? *w->pos++ : 0;
}

static inline uint16_t wire_get_u16(struct wire *w)
{
    if (!wire_need(w, 2))
        return 0;
    uint16_t v = (uint16_t)((w->pos[0] << 8) | w->pos[1]);
    w->pos += 2;
    return v;
}

static inline uint32_t wire_get_u32(struct wire *w)
{
    if (!wire_need(w, 4))
        return 0;
    uint32_t v = ((uint32_t)w->pos[0] << 24) | ((uint32_t)w->pos[1] << 16) |
                 ((uint32_t)w->pos[2] << 8) | w->pos[3];
    w->pos += 4;
    return v;
}

static inline uint64_t wire_get_u64(struct wire *w)
{
    uint64_t hi = wire_get_u32(w);
    return (hi << 32) | wire_get_u32(w);
}

static inline void wire_get_bytes(struct wire *w, void *p, size_t n)
{
    if (wire_need(w, n)) {
        if (n)
            memcpy(p, w->pos, n);
        w->pos += n;
    } else if (n) {
        memset(p, 0, n);
    }
}

static inline void wire_skip(struct wire *w, size_t n)
{
    if (wire_need(w, n))
        w->pos += n;
}

/* Skip an owner name in a record (RFC 1035 4.1.4: a pointer ends it).
 * False on a truncated or malformed name. */
static inline bool wire_skip_name(struct wire *w)
{
    for (int guard = 0; guard < 128; guard++) {
        uint8_t l = wire_get_u8(w);
        if (w->err)
            return false;
        if (l == 0)
            return true;
        if ((l & 0xc0) == 0xc0) {
            wire_skip(w, 1);
            return !w->err;
        }
        if (l & 0xc0)
            return false;
        wire_skip(w, l);
    }
    return false;
}

/* Overwrite a u16 already written at offset off (e.g. RDLENGTH, counts). */
static inline void wire_patch_u16(struct wire *w, size_t off, uint16_t v)
{
    if (!w->err && off + 2 <= (size_t)(w->end - w->base)) {
        w->base[off] = (uint8_t)(v >> 8);
        w->base[off + 1] = (uint8_t)v;
    }
}

#endif
