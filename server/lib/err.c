#include "err.h"

const char *dnsbl_strerror(int err)
{
    switch (err) {
    case DNSBL_OK:
        return "success";
    case DNSBL_ENOMEM:
        return "out of memory";
    case DNSBL_EINVAL:
        return "invalid argument";
    case DNSBL_ENOENT:
        return "not found";
    case DNSBL_ESTORE:
        return "store error";
    case DNSBL_EIO:
        return "input/output error";
    case DNSBL_ESCHEMA:
        return "unknown store schema version";
    case DNSBL_ESPACE:
        return "no space in buffer";
    case DNSBL_EREFUSED:
        return "refused";
    case DNSBL_EBUSY:
        return "resource busy";
    }
    return "unknown error";
}
