/* store_env: the environment -- opening and closing, the schema record
 * and upgrades from older versions, map growth and the gate between
 * transactions and remaps, sync. The layout is doc/store-format.md. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "store_int.h"
#include "store_testing.h"
#include "wire.h"

static const char *const store_db_names[] = {"meta",     "entries",  "seen",   "history",
                                             "datasets", "imports",  "undo",   "oplog",
                                             "evidence", "pubstate", "pubset", "pubjournal"};

void store_set_why(char *why, size_t whylen, const char *fmt, ...)
{
    if (!why || whylen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

int store_lmdb_fail(const struct store *s, int rc, const char *step, char *why, size_t whylen)
{
    const char *hint = "";
    struct statvfs fs;
    switch (rc) {
    case MDB_MAP_FULL:
        store_set_why(why, whylen, "%s: %s: %s", s->dir, step, mdb_strerror(rc));
        return STORE_EMAPFULL;
    case MDB_TXN_FULL:
        hint = " (apply fewer events per batch)";
        break;
    case EIO:
        /* LMDB reports a short write as EIO: on a full disk that is what a
         * commit gets before any ENOSPC. */
        if (statvfs(s->dir, &fs) != 0 || (uint64_t)fs.f_bavail * fs.f_frsize >= STORE_DISK_LOW)
            break;
        /* fall through */
    case ENOSPC:
    case EDQUOT:
        hint = " (the disk holding the store is full; nothing of this transaction was kept)";
        break;
    case EACCES:
    case EPERM:
    case EROFS:
        hint = " (LMDB needs write access to lock.mdb, and a writer to the directory and "
               "data.mdb as well)";
        break;
    }
    store_set_why(why, whylen, "%s: %s: %s%s", s->dir, step, mdb_strerror(rc), hint);
    return store_map_err(rc);
}

/* memcmp order for keys of any length, as LMDB's default compare. */
int store_cmp_bytes(const MDB_val *a, const MDB_val *b)
{
    size_t n = a->mv_size < b->mv_size ? a->mv_size : b->mv_size;
    int c = n ? memcmp(a->mv_data, b->mv_data, n) : 0;
    if (c)
        return c;
    return a->mv_size < b->mv_size ? -1 : a->mv_size > b->mv_size;
}

/* ---- opening ---- */

bool store_exists(const char *dir)
{
    char path[PATH_MAX];
    struct stat st;

    if (snprintf(path, sizeof path, "%s/data.mdb", dir) >= (int)sizeof path)
        return false;
    /* An empty data.mdb is a creation killed before LMDB wrote its first
     * pages: no store yet, and only a writer can make one of it. */
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

bool store_dir_unused(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    bool unused = true;

    if (!d)
        return errno == ENOENT;
    /* data.mdb and lock.mdb alone, without a store, are a creation killed
     * before its first commit: finishing it loses nothing. */
    while (unused && (de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        unused = strcmp(n, ".") == 0 || strcmp(n, "..") == 0 || strcmp(n, "data.mdb") == 0 ||
                 strcmp(n, "lock.mdb") == 0;
    }
    closedir(d);
    return unused;
}

int store_set_access(const char *dir, bool set_dir_mode, uid_t uid, gid_t gid, char *why,
                     size_t whylen)
{
    static const struct {
        const char *name;
        mode_t mode;
    } files[] = {{"data.mdb", 0640}, {"lock.mdb", 0660}};
    char path[PATH_MAX];

    if (set_dir_mode && chmod(dir, 0750) != 0) {
        store_set_why(why, whylen, "%s: chmod 0750: %s", dir, strerror(errno));
        return DNSBL_EIO;
    }
    if (uid != (uid_t)-1 && chown(dir, uid, gid) != 0) {
        store_set_why(why, whylen, "%s: chown: %s", dir, strerror(errno));
        return DNSBL_EIO;
    }
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (snprintf(path, sizeof path, "%s/%s", dir, files[i].name) >= (int)sizeof path) {
            store_set_why(why, whylen, "%.64s...: store directory name too long", dir);
            return DNSBL_EINVAL;
        }
        if (chmod(path, files[i].mode) != 0) {
            store_set_why(why, whylen, "%s: chmod %04o: %s", path, (unsigned)files[i].mode,
                          strerror(errno));
            return DNSBL_EIO;
        }
        if (uid != (uid_t)-1 && chown(path, uid, gid) != 0) {
            store_set_why(why, whylen, "%s: chown: %s", path, strerror(errno));
            return DNSBL_EIO;
        }
    }
    return DNSBL_OK;
}

static int store_mkdir_p(const char *dir, char *why, size_t whylen)
{
    char path[PATH_MAX];
    struct stat st;
    size_t len = strlen(dir);

    memcpy(path, dir, len + 1);
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, 0750) != 0 && errno != EEXIST) {
            store_set_why(why, whylen, "%s: create directory %s: %s", dir, path, strerror(errno));
            return DNSBL_EIO;
        }
        *p = c;
        if (c == '\0')
            break;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        store_set_why(why, whylen, "%s: not a directory", dir);
        return DNSBL_EIO;
    }
    return DNSBL_OK;
}

/* DNSBL_ENOENT (why untouched) when the record is missing. */
int store_get_u64(const struct store *s, MDB_txn *txn, const char *name, uint64_t *out, char *why,
                  size_t whylen)
{
    MDB_val k = store_meta_key(name), v;
    char step[32];
    int rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == MDB_NOTFOUND)
        return DNSBL_ENOENT;
    if (rc != MDB_SUCCESS) {
        snprintf(step, sizeof step, "read %s", name);
        return store_lmdb_fail(s, rc, step, why, whylen);
    }
    if (v.mv_size != 8) {
        store_set_why(why, whylen, "%s: the %s record is %zu bytes, not 8", s->dir, name,
                      v.mv_size);
        return DNSBL_ESCHEMA;
    }
    struct wire w;
    wire_init_ro(&w, v.mv_data, v.mv_size);
    *out = wire_get_u64(&w);
    return DNSBL_OK;
}

int store_put_u64(const struct store *s, MDB_txn *txn, const char *name, uint64_t value)
{
    uint8_t buf[8];
    struct wire w;
    wire_init(&w, buf, sizeof buf);
    wire_put_u64(&w, value);
    MDB_val k = store_meta_key(name), v = store_val(buf, sizeof buf);
    return mdb_put(txn, s->meta, &k, &v, 0);
}

static int store_open_dbs(struct store *s, MDB_txn *txn, unsigned flags, char *why, size_t whylen)
{
    MDB_dbi *dbis[] = {&s->meta,     &s->entries,  &s->seen,   &s->history,
                       &s->datasets, &s->imports,  &s->undo,   &s->oplog,
                       &s->evidence, &s->pubstate, &s->pubset, &s->pubjournal};
    _Static_assert(sizeof dbis / sizeof dbis[0] == sizeof store_db_names / sizeof store_db_names[0],
                   "one name per database");
    char step[64];

    s->has_pub = true;
    for (size_t i = 0; i < sizeof dbis / sizeof dbis[0]; i++) {
        int rc = mdb_dbi_open(txn, store_db_names[i], flags, dbis[i]);
        if (rc == MDB_SUCCESS && dbis[i] == &s->entries)
            rc = mdb_set_compare(txn, *dbis[i], store_cmp_key);
        /* A schema 5 store read-only: its zones were never published. */
        if (rc == MDB_NOTFOUND && !(flags & MDB_CREATE) && dbis[i] == &s->pubstate) {
            s->has_pub = false;
            return DNSBL_OK;
        }
        if (rc != MDB_SUCCESS) {
            snprintf(step, sizeof step, "open database %s", store_db_names[i]);
            int err = store_lmdb_fail(s, rc, step, why, whylen);
            /* A missing table in an existing file: not a store of ours. */
            return err == DNSBL_ENOENT ? DNSBL_ESCHEMA : err;
        }
    }
    return DNSBL_OK;
}

/* The ancestors of entries met in key order: each key on the stack
 * contains the one above it, so a key that the top does not contain is
 * contained by nothing later either and is dropped. */
void store_ancestry_next(struct store_ancestry *w, const uint8_t key[STORE_KEY_LEN],
                         struct store_lens *lens)
{
    while (w->n > 0 && !store_key_contains(w->stack[w->n - 1], key))
        w->n--;
    memset(lens, 0, sizeof *lens);
    for (size_t i = 0; i < w->n; i++)
        store_lens_add(lens, w->stack[i][17]);
    if (w->n < STORE_COVERING_MAX)
        memcpy(w->stack[w->n++], key, STORE_KEY_LEN);
}

/* Versions 1 and 2 to 3: every entries value gets its ancestors bitmap,
 * in one sweep in key order; then the old layout's leftovers go. Keys
 * that are not valid prefixes are left as they are (store_check reports
 * them). */
static int store_upgrade(const struct store *s, MDB_txn *txn)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    MDB_dbi cover;
    struct store_lens lens;
    struct addr_prefix p;
    size_t cap = STORE_ANC6_BYTES + STORE_ENTRY_VALUE_MAX;
    uint8_t *buf = malloc(cap);
    struct store_ancestry *w = calloc(1, sizeof *w);
    int rc = buf && w ? mdb_cursor_open(txn, s->entries, &cur) : ENOMEM;
    if (rc == MDB_SUCCESS)
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    for (; rc == MDB_SUCCESS; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (store_prefix_from_key(&k, &p) != DNSBL_OK)
            continue;
        store_ancestry_next(w, k.mv_data, &lens);
        size_t an = store_anc_size(p.family);
        if (v.mv_size > cap - an)
            continue; /* garbage too long to be an entry: check names it */
        memcpy(buf + an, v.mv_data, v.mv_size);
        store_lens_pack(&lens, buf, an);
        /* Our own copy of the key: a value that changes size is moved,
         * and k points into the page. */
        uint8_t key[STORE_KEY_LEN];
        memcpy(key, k.mv_data, sizeof key);
        MDB_val nk = store_val(key, sizeof key), nv = store_val(buf, an + v.mv_size);
        rc = mdb_cursor_put(cur, &nk, &nv, MDB_CURRENT);
        if (rc != MDB_SUCCESS)
            break;
    }
    if (cur)
        mdb_cursor_close(cur);
    free(buf);
    free(w);
    if (rc != MDB_NOTFOUND)
        return rc;
    rc = mdb_dbi_open(txn, "cover", 0, &cover);
    if (rc == MDB_SUCCESS)
        rc = mdb_drop(txn, cover, 1);
    for (const char *const *name = (const char *const[]){"lens4", "lens6", NULL};
         (rc == MDB_SUCCESS || rc == MDB_NOTFOUND) && *name; name++) {
        k = store_meta_key(*name);
        rc = mdb_del(txn, s->meta, &k, NULL);
    }
    return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
}

static int store_put_schema(const struct store *s, MDB_txn *txn)
{
    uint8_t buf[4];
    struct wire w;
    wire_init(&w, buf, sizeof buf);
    wire_put_u32(&w, STORE_SCHEMA);
    MDB_val k = store_meta_key("schema"), v = store_val(buf, sizeof buf);
    return mdb_put(txn, s->meta, &k, &v, 0);
}

/* Checks the schema record; *missing is set (and DNSBL_OK returned) when
 * there is none, which the caller decides about. */
static int store_check_schema(struct store *s, MDB_txn *txn, bool *missing, uint32_t *old,
                              char *why, size_t whylen)
{
    MDB_val k = store_meta_key("schema"), v;
    int rc = mdb_get(txn, s->meta, &k, &v);

    *missing = false;
    *old = 0;
    if (rc == MDB_NOTFOUND) {
        *missing = true;
        return DNSBL_OK;
    }
    if (rc != MDB_SUCCESS)
        return store_lmdb_fail(s, rc, "read schema version", why, whylen);
    if (v.mv_size != 4) {
        store_set_why(why, whylen, "%s: the schema version record is %zu bytes, not 4", s->dir,
                      v.mv_size);
        return DNSBL_ESCHEMA;
    }
    struct wire w;
    wire_init_ro(&w, v.mv_data, v.mv_size);
    uint32_t version = wire_get_u32(&w);
    if (version >= STORE_SCHEMA_OLDEST && version < STORE_SCHEMA) {
        *old = version;
        return DNSBL_OK;
    }
    if (version != STORE_SCHEMA) {
        store_set_why(why, whylen,
                      "%s: the store has schema version %u, this program knows version %u", s->dir,
                      version, STORE_SCHEMA);
        return DNSBL_ESCHEMA;
    }
    return DNSBL_OK;
}

static int store_no_store(const struct store *s, char *why, size_t whylen)
{
    store_set_why(why, whylen, "%s: no store here (create one with dnsblctl)", s->dir);
    return DNSBL_ENOENT;
}

/* Opens the databases, checks the schema, upgrades an older store or
 * initialises a new one: one write transaction, whose sticky error makes
 * any failing step abort it whole. */
static int store_init_rw(struct store *s, char *why, size_t whylen)
{
    struct store_txn t;
    bool missing = false;
    uint32_t old = 0;
    if (store_txn_begin(s, &t) == DNSBL_OK)
        t.err = store_open_dbs(s, t.txn, MDB_CREATE, t.why, sizeof t.why);
    if (store_txn_ok(&t))
        t.err = store_check_schema(s, t.txn, &missing, &old, t.why, sizeof t.why);
    if (store_txn_ok(&t) && old) {
        char step[64];
        snprintf(step, sizeof step, "upgrade the store from schema version %u to %u", old,
                 STORE_SCHEMA);
        /* 3 to 4 added the flat index, which a store gets when it is due;
         * 4 to 5 and 5 to 6 the databases store_open_dbs has just created. */
        if (old < 3)
            store_txn_step(&t, store_upgrade(s, t.txn), step);
        if (store_txn_ok(&t))
            store_txn_step(&t, store_put_schema(s, t.txn), step);
        /* An older store is as big as it will be for a while: filter it now. */
        const uint8_t *f4 = NULL, *f6 = NULL;
        if (store_txn_ok(&t))
            store_filter_get(s, t.txn, &f4, &f6);
        if (store_txn_ok(&t) && !(f4 && f6))
            store_txn_step(&t, store_filter_create(s, t.txn), "build the filter");
    }
    if (store_txn_ok(&t) && missing) {
        /* An empty meta is a store whose creation never committed (or a
         * brand-new file): initialise it if asked to. Anything else without
         * a schema record is not ours. */
        MDB_stat st;
        if (store_txn_step(&t, mdb_stat(t.txn, s->meta, &st), "read meta") != DNSBL_OK)
            ;
        else if (st.ms_entries != 0)
            store_txn_fail(&t, DNSBL_ESCHEMA, "not a dnsbl store (no schema version)");
        else if (!(s->flags & STORE_CREATE))
            store_txn_fail(&t, DNSBL_ENOENT, "no store here (create one with dnsblctl)");
        else if (store_txn_step(&t, store_put_schema(s, t.txn), "write schema") == DNSBL_OK)
            store_txn_step(&t, store_put_u64(s, t.txn, "serial", 0), "write schema");
    }
    /* Committing is what keeps the database handles open for later txns. */
    return store_txn_end(&t, why, whylen);
}

static int store_init_ro(struct store *s, char *why, size_t whylen)
{
    MDB_txn *txn;
    bool missing;
    uint32_t old;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != MDB_SUCCESS)
        return store_lmdb_fail(s, rc, "begin read transaction", why, whylen);

    int err = DNSBL_OK;
    rc = mdb_dbi_open(txn, "meta", 0, &s->meta);
    if (rc == MDB_NOTFOUND)
        err = store_no_store(s, why, whylen); /* a creation that never committed */
    else if (rc != MDB_SUCCESS)
        err = store_lmdb_fail(s, rc, "open database meta", why, whylen);
    if (err == DNSBL_OK)
        err = store_check_schema(s, txn, &missing, &old, why, whylen);
    if (err == DNSBL_OK && missing)
        err = store_no_store(s, why, whylen);
    /* Schema 5 lacks only the published view, which reads as never
     * published: a reader needs no upgrade for it. */
    if (err == DNSBL_OK && old && old < 5)
        err = STORE_EOLD;
    if (err == DNSBL_OK)
        err = store_open_dbs(s, txn, 0, why, whylen);
    if (err != DNSBL_OK) {
        mdb_txn_abort(txn);
        return err;
    }
    rc = mdb_txn_commit(txn);
    if (rc != MDB_SUCCESS)
        return store_lmdb_fail(s, rc, "commit", why, whylen);
    return DNSBL_OK;
}

/* One size of a map size: digits and an optional k, m or g. */
static bool store_parse_size(const char *text, const char **end, size_t *out)
{
    if (!isdigit((unsigned char)*text))
        return false;
    char *e;
    errno = 0;
    unsigned long long v = strtoull(text, &e, 10);
    unsigned shift = 0;
    switch (tolower((unsigned char)*e)) {
    case 'k':
        shift = 10;
        e++;
        break;
    case 'm':
        shift = 20;
        e++;
        break;
    case 'g':
        shift = 30;
        e++;
        break;
    }
    if (errno != 0 || v > (SIZE_MAX >> shift))
        return false;
    *out = (size_t)v << shift;
    *end = e;
    return true;
}

static int store_open_upgraded(const char *dir, int flags, const struct store_options *opt,
                               struct store **out, char *why, size_t whylen);

/* One initializer for both: C11 does not take a const object as one. */
#define STORE_OPTIONS_BUILTIN                                                                      \
    {                                                                                              \
        .map_initial = STORE_MAP_INITIAL, .map_max = STORE_MAP_MAX,                                \
        .filter_min = STORE_FILTER_MIN, .flat_min = STORE_FLAT_MIN,                                \
        .flat_changes = STORE_FLAT_CHANGES_MIN, .evidence_days = STORE_EVIDENCE_DAYS,              \
        .evidence_max = STORE_EVIDENCE_MAX,                                                        \
    }
static const struct store_options store_builtin = STORE_OPTIONS_BUILTIN;
static struct store_options store_defaults = STORE_OPTIONS_BUILTIN;

void store_options_default(struct store_options *o)
{
    *o = store_defaults;
}

void store_testing_defaults(const struct store_options *o)
{
    store_defaults = o ? *o : store_builtin;
}

void store_testing_fail_step(struct store *s, unsigned nth)
{
    s->fail_step = nth;
}

int store_options_evidence_days(struct store_options *o, const char *text, char *why, size_t whylen)
{
    char *end = NULL;
    errno = 0;
    unsigned long v = text[0] >= '0' && text[0] <= '9' ? strtoul(text, &end, 10) : 0;
    if (errno != 0 || v < 1 || v > STORE_EVIDENCE_DAYS_MAX || *end != '\0') {
        store_set_why(why, whylen, "'%s': want days, 1 to %u", text, STORE_EVIDENCE_DAYS_MAX);
        return DNSBL_EINVAL;
    }
    o->evidence_days = (uint32_t)v;
    return DNSBL_OK;
}

int store_options_map_size(struct store_options *o, const char *text, char *why, size_t whylen)
{
    const char *p = text;
    size_t initial = 0, max = STORE_MAP_MAX;
    bool ok = store_parse_size(p, &p, &initial);
    if (ok && *p == ',')
        ok = store_parse_size(p + 1, &p, &max);
    if (!ok || *p != '\0' || initial < STORE_MAP_MIN || max < initial || max > STORE_MAP_MAX) {
        store_set_why(why, whylen,
                      "map size '%s': want INITIAL[,MAX] in bytes (k, m, g suffixes), "
                      "%zu <= INITIAL <= MAX <= %zu",
                      text, STORE_MAP_MIN, STORE_MAP_MAX);
        return DNSBL_EINVAL;
    }
    o->map_initial = initial;
    o->map_max = max;
    return DNSBL_OK;
}

/* Options a caller filled in by hand are checked as --map-size's are. */
static int store_options_check(const struct store_options *o, char *why, size_t whylen)
{
    if (o->map_initial < STORE_MAP_MIN || o->map_max < o->map_initial ||
        o->map_max > STORE_MAP_MAX) {
        store_set_why(why, whylen, "map size %zu, at most %zu: want %zu <= initial <= most <= %zu",
                      o->map_initial, o->map_max, STORE_MAP_MIN, STORE_MAP_MAX);
        return DNSBL_EINVAL;
    }
    return DNSBL_OK;
}

int store_open(const char *dir, int flags, struct store **out, char *why, size_t whylen)
{
    return store_open_opts(dir, flags, NULL, out, why, whylen);
}

int store_open_opts(const char *dir, int flags, const struct store_options *opt, struct store **out,
                    char *why, size_t whylen)
{
    struct store *s;
    int rc, err;
    bool rdonly = (flags & STORE_RDONLY) != 0;

    *out = NULL;
    if (!dir || !*dir) {
        store_set_why(why, whylen, "no store directory given");
        return DNSBL_EINVAL;
    }
    if (strlen(dir) >= PATH_MAX - sizeof "/data.mdb") {
        store_set_why(why, whylen, "%.64s...: store directory name too long", dir);
        return DNSBL_EINVAL;
    }
    s = calloc(1, sizeof *s);
    if (!s) {
        store_set_why(why, whylen, "%s: out of memory", dir);
        return DNSBL_ENOMEM;
    }
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    /* A read-only opener can never create, whatever else it asked for. */
    s->flags = rdonly ? STORE_RDONLY : flags;
    pthread_mutex_init(&s->remap_lock, NULL);
    atomic_init(&s->remapping, false);
    atomic_init(&s->loose, 0);
    if (opt)
        s->opt = *opt;
    else
        store_options_default(&s->opt);
    err = store_options_check(&s->opt, why, whylen);
    if (err != DNSBL_OK)
        goto fail;

    if (!rdonly && (flags & STORE_CREATE)) {
        err = store_mkdir_p(dir, why, whylen);
        if (err != DNSBL_OK)
            goto fail;
    } else if (!store_exists(dir)) {
        err = store_no_store(s, why, whylen);
        goto fail;
    }

    rc = mdb_env_create(&s->env);
    if (rc != MDB_SUCCESS) {
        s->env = NULL;
        err = store_lmdb_fail(s, rc, "create environment", why, whylen);
        goto fail;
    }
    rc = mdb_env_set_maxdbs(s->env, STORE_MAXDBS);
    if (rc != MDB_SUCCESS) {
        err = store_lmdb_fail(s, rc, "set maxdbs", why, whylen);
        goto fail;
    }
    rc = mdb_env_set_maxreaders(s->env, STORE_MAXREADERS);
    if (rc != MDB_SUCCESS) {
        err = store_lmdb_fail(s, rc, "set maxreaders", why, whylen);
        goto fail;
    }
    /* An existing store keeps the size its file records (set before the
     * open, ours would replace it); a new one starts at map_initial. */
    rc = store_exists(dir) ? MDB_SUCCESS : mdb_env_set_mapsize(s->env, s->opt.map_initial);
    if (rc != MDB_SUCCESS) {
        err = store_lmdb_fail(s, rc, "set map size", why, whylen);
        goto fail;
    }
    /* A writer syncs the data of every commit but its meta page only with
     * the next commit or at store_close: half the flushes of a many-batch
     * import. LMDB keeps the store consistent either way; a system crash
     * may undo the last commit before close, never a process kill. */
    rc = mdb_env_open(s->env, dir, MDB_NOTLS | (rdonly ? MDB_RDONLY : MDB_NOMETASYNC), 0640);
    if (rc != MDB_SUCCESS) {
        err = store_lmdb_fail(s, rc, "open environment", why, whylen);
        goto fail;
    }
    /* A writer lifts a smaller recorded size (LMDB's 1 MiB default, a test's
     * tiny map) to map_initial now, while no transaction is open. */
    MDB_envinfo info;
    if (!rdonly && mdb_env_info(s->env, &info) == MDB_SUCCESS &&
        info.me_mapsize < s->opt.map_initial) {
        rc = mdb_env_set_mapsize(s->env, s->opt.map_initial);
        if (rc != MDB_SUCCESS) {
            err = store_lmdb_fail(s, rc, "set map size", why, whylen);
            goto fail;
        }
    }
    /* Reader slots of killed processes pin old snapshots, and so pages a
     * writer could reuse: free them now rather than when the table fills. */
    int dead = 0;
    mdb_reader_check(s->env, &dead);
    if (rdonly) {
        err = store_init_ro(s, why, whylen);
    } else {
        /* An upgrade may not fit the map: grow it as store_apply does. */
        while ((err = store_init_rw(s, why, whylen)) == STORE_EMAPFULL) {
            err = store_grow(s, why, whylen);
            if (err != DNSBL_OK)
                break;
        }
    }
    if (err != DNSBL_OK)
        goto fail;
    *out = s;
    return DNSBL_OK;

fail:
    mdb_env_close(s->env);
    pthread_mutex_destroy(&s->remap_lock);
    free(s->filter);
    free(s->dirty);
    free(s);
    if (err == STORE_EOLD)
        return store_open_upgraded(dir, flags, opt, out, why, whylen);
    return store_public_err(err);
}

/* A reader that met an older store: upgrade it through a writer, which
 * needs write access, then open it as asked. */
static int store_open_upgraded(const char *dir, int flags, const struct store_options *opt,
                               struct store **out, char *why, size_t whylen)
{
    struct store *w;
    char wwhy[PATH_MAX + 256];
    int err = store_open_opts(dir, 0, opt, &w, wwhy, sizeof wwhy);
    if (err != DNSBL_OK) {
        store_set_why(why, whylen,
                      "%s: the store has an older schema version and must be upgraded to "
                      "version %u, which needs write access: %s",
                      dir, STORE_SCHEMA, wwhy);
        return err;
    }
    store_close(w);
    return store_open_opts(dir, flags, opt, out, why, whylen);
}

int store_sync(struct store *s, char *why, size_t whylen)
{
    if (s->flags & STORE_RDONLY)
        return DNSBL_OK;
    int rc = mdb_env_sync(s->env, 1);
    return rc == MDB_SUCCESS ? DNSBL_OK : store_lmdb_fail(s, rc, "sync", why, whylen);
}

void store_close(struct store *s)
{
    if (!s)
        return;
    store_sync(s, NULL, 0); /* the last commit's meta page (MDB_NOMETASYNC) */
    mdb_env_close(s->env);
    pthread_mutex_destroy(&s->remap_lock);
    free(s->scratch);
    free(s->filter);
    free(s->dirty);
    free(s);
}

/* ---- read transactions and map resizes ---- */

/* Announce a transaction about to begin on *mine (a reader's own counter,
 * or s->loose), waiting out a remap in progress. Both sides are seq_cst:
 * either store_remap sees the increment and waits for the transaction to
 * end, or this sees `remapping` and backs off. */
void store_gate_enter(struct store *s, _Atomic unsigned *mine)
{
    for (;;) {
        atomic_fetch_add(mine, 1);
        if (!atomic_load(&s->remapping))
            return;
        atomic_fetch_sub(mine, 1);
        /* The remap holds the lock from before raising the flag to after
         * lowering it. */
        pthread_mutex_lock(&s->remap_lock);
        pthread_mutex_unlock(&s->remap_lock);
    }
}

void store_gate_leave(_Atomic unsigned *mine)
{
    atomic_fetch_sub_explicit(mine, 1, memory_order_release);
}

static bool store_txns_open(struct store *s)
{
    if (atomic_load(&s->loose) != 0)
        return true;
    for (struct store_reader *r = s->readers; r; r = r->next)
        if (atomic_load(&r->in_txn) != 0)
            return true;
    return false;
}

/* mdb_env_set_mapsize(env, size) once no transaction of this store is
 * open (size 0 adopts the size the file records). Waits for the open
 * ones, which last one batch of queries, at most STORE_REMAP_WAIT_MS:
 * past that (a transaction open in the caller's own thread, a caller
 * bug) it gives up with EBUSY rather than pull the map from under it. */
int store_remap(struct store *s, size_t size)
{
    int rc = MDB_SUCCESS;
    pthread_mutex_lock(&s->remap_lock);
    atomic_store(&s->remapping, true);
    for (unsigned waited = 0; store_txns_open(s); waited++) {
        if (waited >= STORE_REMAP_WAIT_MS * 10) {
            rc = EBUSY;
            break;
        }
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    if (rc == MDB_SUCCESS) {
        rc = mdb_env_set_mapsize(s->env, size);
        atomic_fetch_add(&s->map_gen, 1);
    }
    atomic_store(&s->remapping, false);
    pthread_mutex_unlock(&s->remap_lock);
    return rc;
}

/* Begin (*txn NULL) or renew (*txn reset) a read transaction counted on
 * *mine, recovering from: another process grew the map (adopt its size,
 * a few times, as it may grow again meanwhile), and stale reader slots left
 * by dead processes (once). On success the caller ends the transaction
 * and then calls store_gate_leave(mine). */
int store_read_begin(struct store *s, MDB_txn **txn, _Atomic unsigned *mine)
{
    unsigned resized = 0;
    bool checked = false;

    for (;;) {
        store_gate_enter(s, mine);
        int rc = *txn ? mdb_txn_renew(*txn) : mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
        if (rc == MDB_SUCCESS)
            return rc;
        store_gate_leave(mine);
        if (rc == MDB_MAP_RESIZED && resized++ < STORE_RESIZED_TRIES) {
            int mrc = store_remap(s, 0);
            if (mrc != MDB_SUCCESS)
                return mrc;
        } else if (rc == MDB_READERS_FULL && !checked) {
            int dead = 0;
            checked = true;
            mdb_reader_check(s->env, &dead);
        } else {
            return rc;
        }
    }
}

/* A read transaction of one call (count, serial, foreach, check). */
int store_loose_begin(struct store *s, MDB_txn **txn)
{
    *txn = NULL;
    return store_read_begin(s, txn, &s->loose);
}

void store_loose_end(struct store *s, MDB_txn *txn)
{
    mdb_txn_abort(txn);
    store_gate_leave(&s->loose);
}

/* Double the map (up to map_max); called with no transaction open. */
int store_grow(struct store *s, char *why, size_t whylen)
{
    MDB_envinfo info;
    int rc = mdb_env_info(s->env, &info);
    if (rc != MDB_SUCCESS)
        return store_lmdb_fail(s, rc, "read the map size", why, whylen);
    if (info.me_mapsize >= s->opt.map_max) {
        store_set_why(why, whylen,
                      "%s: the store is full: its map has reached the limit of %zu MiB", s->dir,
                      s->opt.map_max >> 20);
        return DNSBL_EBUSY;
    }
    size_t next = info.me_mapsize > s->opt.map_max / 2 ? s->opt.map_max : info.me_mapsize * 2;
    rc = store_remap(s, next);
    if (rc != MDB_SUCCESS)
        return store_lmdb_fail(s, rc, "grow the map", why, whylen);
    return DNSBL_OK;
}

/* Runs a write transaction, once(s, arg, ...); when the map filled up
 * (nothing was written), grows it and runs it again whole: once per
 * doubling, until it fits or the map reaches its limit. */
int store_write_growing(struct store *s, int (*once)(struct store *, void *, char *, size_t),
                        void *arg, char *why, size_t whylen)
{
    for (;;) {
        int err = once(s, arg, why, whylen);
        if (err != STORE_EMAPFULL)
            return err;
        err = store_grow(s, why, whylen);
        if (err != DNSBL_OK)
            return err;
    }
}
