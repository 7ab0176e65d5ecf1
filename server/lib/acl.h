/* acl: which clients a zone answers, and how (allow, refuse, or answer
 * every address with an error code as large lists do for queries that come
 * through public resolvers). A struct acl is a plain value with a fixed
 * array of rules, kept in the zone's config and its zone: nothing
 * allocates, the caller owns it. */
#ifndef DNSBL_ACL_H
#define DNSBL_ACL_H

#include <stdint.h>

#include "addr.h"

#define ACL_RULES_MAX 256
#define ACL_TXT_MAX 256                    /* error_txt with its NUL: one character-string */
#define ACL_DEFAULT_ERROR_CODE 0x7ffffffeu /* 127.255.255.254: "use your own resolver" */
#define ACL_DEFAULT_ERROR_TTL 60
#define ACL_DEFAULT_ERROR_TXT                                                                      \
    "Query refused: this list is not for public resolvers; query it from your own resolver"

enum acl_action {
    ACL_ALLOW = 0, /* answer normally */
    ACL_REFUSE,    /* REFUSED for every name of the zone */
    ACL_ERROR,     /* every address in the zone answers error_code (A) and error_txt (TXT) */
};

struct acl_rule {
    struct addr_prefix prefix;
    uint8_t action; /* enum acl_action */
};

struct acl {
    struct acl_rule rules[ACL_RULES_MAX]; /* longest prefix first */
    uint16_t n;
    uint32_t error_code; /* host order; 0 = ACL_DEFAULT_ERROR_CODE */
    uint32_t error_ttl;
    char error_txt[ACL_TXT_MAX];
};

/* No rules (everybody allowed) and the default error answer. */
void acl_init(struct acl *a);

/* Add a rule. DNSBL_EINVAL when the prefix already has a rule, DNSBL_ESPACE
 * when ACL_RULES_MAX are there. */
int acl_add(struct acl *a, const struct addr_prefix *p, enum acl_action action);

/* The action of the longest prefix covering client (a full address);
 * ACL_ALLOW when none does. */
enum acl_action acl_match(const struct acl *a, const struct addr_prefix *client);

/* "allow", "refuse", "error". */
const char *acl_action_name(enum acl_action action);

#endif
