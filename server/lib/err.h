/* err: the project's error codes, one negative enum, and their text.
 * Nothing here allocates; dnsbl_strerror returns static strings. */
#ifndef DNSBL_ERR_H
#define DNSBL_ERR_H

enum dnsbl_err {
    DNSBL_OK = 0,
    DNSBL_ENOMEM = -1,   /* allocation failed */
    DNSBL_EINVAL = -2,   /* bad argument or malformed input */
    DNSBL_ENOENT = -3,   /* no such entry / file */
    DNSBL_ESTORE = -4,   /* LMDB failed; the store module logs the LMDB text */
    DNSBL_EIO = -5,      /* a system call failed; errno is in the message */
    DNSBL_ESCHEMA = -6,  /* the store has a schema version we do not know */
    DNSBL_ESPACE = -7,   /* output buffer too small */
    DNSBL_EREFUSED = -8, /* the operation is not allowed (e.g. listing 127.0.0.1) */
    DNSBL_EBUSY = -9,    /* map full or reader table full */
};

const char *dnsbl_strerror(int err);

#endif
