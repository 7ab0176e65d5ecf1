/* acl: rules are kept sorted longest prefix first, so the first rule that
 * covers a client is the most specific one and the scan stops there. */
#include "acl.h"

#include <stdio.h>
#include <string.h>

#include "err.h"

void acl_init(struct acl *a)
{
    memset(a, 0, sizeof *a);
    a->error_code = ACL_DEFAULT_ERROR_CODE;
    a->error_ttl = ACL_DEFAULT_ERROR_TTL;
    snprintf(a->error_txt, sizeof a->error_txt, "%s", ACL_DEFAULT_ERROR_TXT);
}

int acl_add(struct acl *a, const struct addr_prefix *p, enum acl_action action)
{
    struct addr_prefix m = *p;
    addr_mask(&m);
    size_t at = a->n;
    for (size_t i = 0; i < a->n; i++) {
        if (addr_compare(&a->rules[i].prefix, &m) == 0)
            return DNSBL_EINVAL;
        if (at == a->n && a->rules[i].prefix.plen < m.plen)
            at = i;
    }
    if (a->n >= ACL_RULES_MAX)
        return DNSBL_ESPACE;
    memmove(&a->rules[at + 1], &a->rules[at], (a->n - at) * sizeof a->rules[0]);
    a->rules[at].prefix = m;
    a->rules[at].action = (uint8_t)action;
    a->n++;
    return DNSBL_OK;
}

enum acl_action acl_match(const struct acl *a, const struct addr_prefix *client)
{
    for (size_t i = 0; i < a->n; i++)
        if (addr_covers(&a->rules[i].prefix, client))
            return (enum acl_action)a->rules[i].action;
    return ACL_ALLOW;
}

const char *acl_action_name(enum acl_action action)
{
    switch (action) {
    case ACL_ALLOW:
        return "allow";
    case ACL_REFUSE:
        return "refuse";
    case ACL_ERROR:
        return "error";
    }
    return "?";
}
