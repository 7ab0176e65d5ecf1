/* model: how events change an entry and how covering entries become an
 * answer. Pure functions: the clock is an argument, nothing allocates. */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *text_or_empty(const char *s)
{
    return s ? s : "";
}

static void set_note(struct entry *e, const char *action, const char *reason)
{
    if (reason && reason[0])
        snprintf(e->note, sizeof e->note, "%s: %s", action, reason);
    else
        snprintf(e->note, sizeof e->note, "%s", action);
}

/* Weights are doubles (feeds may scale them); counters are whole reports,
 * so round and saturate rather than wrap. */
static uint64_t weight_to_count(double w)
{
    if (!(w > 0))
        return 0;
    if (w >= 9.0e18) /* beyond llround's range */
        return UINT64_MAX;
    return (uint64_t)llround(w);
}

static uint32_t add_count32(uint32_t c, double w)
{
    uint64_t add = weight_to_count(w);
    return add >= (uint64_t)(UINT32_MAX - c) ? UINT32_MAX : c + (uint32_t)add;
}

void model_apply_event(struct entry *e, const struct event *ev)
{
    switch (ev->kind) {
    case EV_LIST:
        e->state = ENTRY_LISTED;
        e->code = ev->code;
        e->expires = ev->expires;
        e->state_time = ev->time;
        snprintf(e->reason, sizeof e->reason, "%s", text_or_empty(ev->reason));
        set_note(e, "listed", ev->reason);
        break;
    case EV_DELIST:
        /* reason stays the last listing reason, so history shows why it was listed. */
        e->state = ENTRY_DELISTED;
        e->expires = 0;
        e->state_time = ev->time;
        set_note(e, "delisted", ev->reason);
        break;
    case EV_ALLOW:
        e->state = ENTRY_ALLOWED;
        e->expires = ev->expires;
        e->state_time = ev->time;
        snprintf(e->reason, sizeof e->reason, "%s", text_or_empty(ev->reason));
        set_note(e, "allowed", ev->reason);
        break;
    case EV_ABUSE:
    case EV_FRAUD:
    case EV_VIRUS:
    case EV_OTHER:
    case EV_NOT_SPAM:
    case EV_AUTH_FAILURE:
    case EV_TRAP_HIT: {
        unsigned c = (unsigned)(ev->kind - EV_ABUSE);
        e->counts[c] = add_count32(e->counts[c], ev->weight);
        e->score += ev->weight;
        if (ev->time > e->score_time)
            e->score_time = ev->time;
        break;
    }
    case EV_VOLUME: {
        uint64_t add = weight_to_count(ev->weight);
        e->volume = add > UINT64_MAX - e->volume ? UINT64_MAX : e->volume + add;
        break;
    }
    default:
        return; /* unknown kind: not an event of this model, leave e alone */
    }
    if (e->first_seen == 0 || ev->time < e->first_seen)
        e->first_seen = ev->time;
    if (ev->time > e->last_seen)
        e->last_seen = ev->time;
}

bool model_manual_active(const struct entry *e, int64_t now)
{
    if (e->state != ENTRY_LISTED && e->state != ENTRY_ALLOWED)
        return false;
    return e->expires == 0 || e->expires > now;
}

void policy_defaults(struct zone_policy *zp)
{
    memset(zp, 0, sizeof *zp);
    zp->code_manual = 0x7f000002;
    zp->ttl = 2100;
    snprintf(zp->txt_template, sizeof zp->txt_template, "%s", "{ip} is listed in {zone}: {reason}");
}

void policy_decide(const struct entry *covering, size_t n, const struct zone_policy *zp,
                   int64_t now, struct decision *out)
{
    const struct entry *expired = NULL;

    memset(out, 0, sizeof *out);
    out->why = WHY_NONE;

    /* Allow beats everything, whatever its prefix length. */
    for (size_t i = 0; i < n; i++) {
        if (covering[i].state == ENTRY_ALLOWED && model_manual_active(&covering[i], now)) {
            out->why = WHY_ALLOWED;
            out->decider = &covering[i];
            return;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const struct entry *e = &covering[i];
        if (e->state == ENTRY_LISTED) {
            if (model_manual_active(e, now)) {
                out->listed = true;
                out->code = e->code ? e->code : zp->code_manual;
                out->why = WHY_MANUAL;
                out->decider = e;
                return;
            }
            if (!expired)
                expired = e;
        } else if (e->state == ENTRY_DELISTED) {
            out->why = WHY_DELISTED;
            out->decider = e;
            return;
        }
    }
    if (expired) {
        out->why = WHY_EXPIRED;
        out->decider = expired;
    } else {
        out->decider = n ? &covering[0] : NULL;
    }
}

/* Append s to buf at *len, keeping room for the NUL; cuts silently. */
static void append(char *buf, size_t cap, size_t *len, const char *s, size_t slen)
{
    size_t room = cap - 1 - *len;
    if (slen > room)
        slen = room;
    memcpy(buf + *len, s, slen);
    *len += slen;
}

size_t policy_render_txt(const struct zone_policy *zp, const struct decision *d, const char *ip,
                         const char *zone, char *buf, size_t cap)
{
    if (cap == 0)
        return 0;
    const char *reason = d && d->decider && d->decider->reason[0] ? d->decider->reason : "listed";
    char code[16];
    uint32_t c = d ? d->code : 0;
    snprintf(code, sizeof code, "%u.%u.%u.%u", (unsigned)(c >> 24), (unsigned)(c >> 16 & 0xff),
             (unsigned)(c >> 8 & 0xff), (unsigned)(c & 0xff));

    size_t len = 0;
    const char *t = zp->txt_template;
    while (*t && len < cap - 1) {
        if (*t == '{') {
            const char *close = strchr(t, '}');
            const char *val = NULL;
            if (close) {
                size_t nl = (size_t)(close - t - 1);
                if (nl == 2 && memcmp(t + 1, "ip", 2) == 0)
                    val = text_or_empty(ip);
                else if (nl == 4 && memcmp(t + 1, "zone", 4) == 0)
                    val = text_or_empty(zone);
                else if (nl == 4 && memcmp(t + 1, "code", 4) == 0)
                    val = code;
                else if (nl == 6 && memcmp(t + 1, "reason", 6) == 0)
                    val = reason;
            }
            if (val) {
                append(buf, cap, &len, val, strlen(val));
                t = close + 1;
                continue;
            }
        }
        /* Literal text up to the next placeholder candidate, unknown ones included. */
        const char *next = strchr(t + 1, '{');
        size_t run = next ? (size_t)(next - t) : strlen(t);
        append(buf, cap, &len, t, run);
        t += run;
    }
    buf[len] = '\0';
    return len;
}

const char *model_state_name(uint8_t state)
{
    switch (state) {
    case ENTRY_NONE:
        return "none";
    case ENTRY_LISTED:
        return "listed";
    case ENTRY_DELISTED:
        return "delisted";
    case ENTRY_ALLOWED:
        return "allowed";
    }
    return "unknown";
}

const char *model_why_name(uint8_t why)
{
    switch (why) {
    case WHY_NONE:
        return "none";
    case WHY_MANUAL:
        return "manual";
    case WHY_ALLOWED:
        return "allowed";
    case WHY_DELISTED:
        return "delisted";
    case WHY_EXPIRED:
        return "expired";
    case WHY_TESTPOINT:
        return "testpoint";
    }
    return "unknown";
}
