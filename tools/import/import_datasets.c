/* import_datasets: which datasets an import wrote to, for the store's
 * datasets database (`dnsblctl datasets`): list data counts towards its
 * own dataset (import_event_dataset), evidence towards its source. The
 * sink calls import_datasets_seen for every event it takes, so the last
 * dataset named is looked at first; cmd_import records them once the
 * run is over. The array is owned by struct import_run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "err.h"
#include "grow.h"
#include "import.h"

static struct import_dataset *import_datasets_find(struct import_run *r, const char *name,
                                                   uint8_t kind)
{
    if (r->last_dataset) {
        struct import_dataset *d = &r->datasets[r->last_dataset - 1];
        if (strcmp(d->name, name) == 0 && d->kind == kind)
            return d;
    }
    for (size_t i = 0; i < r->ndatasets; i++) {
        struct import_dataset *d = &r->datasets[i];
        if (strcmp(d->name, name) == 0 && d->kind == kind) {
            r->last_dataset = i + 1;
            return d;
        }
    }
    return NULL;
}

/* Appends the argument being imported to d's files, once; one that does
 * not fit whole is left out. */
static void import_datasets_add_file(struct import_dataset *d, const char *arg)
{
    if (!arg || d->last_arg == arg)
        return;
    d->last_arg = arg;
    size_t len = strlen(d->files), n = strlen(arg), need = n + (len ? 1 : 0);
    if (len + need >= sizeof d->files)
        return;
    if (len)
        d->files[len++] = '\n';
    memcpy(d->files + len, arg, n + 1);
}

int import_datasets_seen(struct import_run *r, const struct event *ev, const char *dataset,
                         const char *source)
{
    bool list = ev->kind == EV_IMPORT_LIST || ev->kind == EV_IMPORT_EXCLUDE;
    bool evidence = model_kind_counter(ev->kind) >= 0 || ev->kind == EV_VOLUME ||
                    ev->kind == EV_SNDS || ev->kind == EV_SNDS_STATUS;
    if (!list && !evidence)
        return 0; /* operator state and history: the dataset "operator" */
    const char *name = list ? dataset : source;
    uint8_t kind = list ? DATASET_LIST : DATASET_EVIDENCE;

    if (!name || !name[0] || strlen(name) >= MODEL_DATASET_MAX)
        return 0; /* no name a dataset can have: nothing to record */
    struct import_dataset *d = import_datasets_find(r, name, kind);
    if (!d) {
        /* Its first event: a name whose id is another's would write its
         * parts over that dataset's, so the import stops before. */
        char why[640];
        if (r->store && store_dataset_check(r->store, name, why, sizeof why) != DNSBL_OK) {
            import_run_message(r, CTL_PROG ": %s: %s", r->in ? r->in->name : "-", why);
            r->failed = true;
            return -1;
        }
        if (grow_array((void **)&r->datasets, &r->datasets_cap, r->ndatasets + 1,
                       sizeof *r->datasets, 8) != DNSBL_OK) {
            import_run_message(r, CTL_PROG ": %s", dnsbl_strerror(DNSBL_ENOMEM));
            r->failed = true;
            return -1;
        }
        d = &r->datasets[r->ndatasets++];
        memset(d, 0, sizeof *d);
        snprintf(d->name, sizeof d->name, "%s", name);
        d->kind = kind;
        r->last_dataset = r->ndatasets;
    }
    /* Once per input: this runs for every event of a million-line list. */
    if (d->last_index == r->in_index)
        return 0;
    d->last_index = r->in_index;
    const char *subtype = r->opt ? r->opt->subtype : NULL;
    if (subtype)
        snprintf(d->format, sizeof d->format, "%s:%s", r->format ? r->format : "?", subtype);
    else
        snprintf(d->format, sizeof d->format, "%s", r->format ? r->format : "?");
    import_datasets_add_file(d, r->arg ? r->arg : r->in ? r->in->name : NULL);
    return 0;
}

int import_datasets_note(struct import_run *r, int64_t now)
{
    char why[640];
    int rc = 0;

    for (size_t i = 0; i < r->ndatasets && r->store; i++) {
        const struct import_dataset *d = &r->datasets[i];
        /* A source that brought list data and evidence is one list. */
        if (d->kind == DATASET_EVIDENCE) {
            bool listed = false;
            for (size_t j = 0; j < r->ndatasets; j++)
                listed |= r->datasets[j].kind == DATASET_LIST &&
                          strcmp(r->datasets[j].name, d->name) == 0;
            if (listed)
                continue;
        }
        struct dataset_note n = {.kind = d->kind, .last_import = now};
        memcpy(n.name, d->name, sizeof n.name);
        memcpy(n.format, d->format, sizeof n.format);
        memcpy(n.files, d->files, sizeof n.files);
        if (store_dataset_note(r->store, &n, why, sizeof why) != DNSBL_OK) {
            import_run_message(r, CTL_PROG ": dataset %s: %s", d->name, why);
            rc = -1;
        }
    }
    return rc;
}
