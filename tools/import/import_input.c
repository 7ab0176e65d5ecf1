/* import_input: bring one import input into memory whole, as the parsers
 * want it. Plain regular files are mapped; gzip files, standard input and
 * other non-regular files go through zlib's gz* functions, which read
 * plain data unchanged, so compression never needs a flag. Mail
 * directories are listed in name order so every run reads them alike, and
 * a message read from a maildir is marked seen as an MTA's reader would
 * (maildir(5): moved to cur/ with the S flag), so the next run skips it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "err.h"
#include "import.h"
#include "utf8.h"

#define IMPORT_READ_CHUNK (1u << 20)

/* Everything gz can give from fd (which it takes over) into d->heap. */
static int import_read_gz(int fd, const char *name, struct import_data *d, char *why, size_t whylen)
{
    gzFile gz = gzdopen(fd, "rb");
    size_t len = 0, cap = 0;
    uint8_t *buf = NULL;
    int err = Z_OK;

    if (!gz) {
        close(fd);
        snprintf(why, whylen, "%s: %s", name, dnsbl_strerror(DNSBL_ENOMEM));
        return DNSBL_ENOMEM;
    }
    gzbuffer(gz, 256 * 1024);
    for (;;) {
        if (cap - len < IMPORT_READ_CHUNK + 1) {
            size_t ncap = cap ? cap * 2 : 4 * IMPORT_READ_CHUNK;
            uint8_t *grown = realloc(buf, ncap);
            if (!grown) {
                free(buf);
                gzclose_r(gz);
                snprintf(why, whylen, "%s: %s", name, dnsbl_strerror(DNSBL_ENOMEM));
                return DNSBL_ENOMEM;
            }
            buf = grown;
            cap = ncap;
        }
        int got = gzread(gz, buf + len, IMPORT_READ_CHUNK);
        if (got < 0) {
            const char *msg = gzerror(gz, &err);
            snprintf(why, whylen, "%s: %s", name,
                     err == Z_ERRNO ? strerror(errno)
                     : msg          ? msg
                                    : "read error");
            free(buf);
            gzclose_r(gz);
            return DNSBL_EIO;
        }
        if (got == 0)
            break;
        len += (size_t)got;
    }
    /* A gzip stream cut short reads as a clean end until the close. */
    err = gzclose_r(gz);
    if (err == Z_BUF_ERROR) {
        snprintf(why, whylen, "%s: the gzip data ends early (truncated file?)", name);
        free(buf);
        return DNSBL_EIO;
    }
    if (err != Z_OK) {
        snprintf(why, whylen, "%s: %s", name, err == Z_ERRNO ? strerror(errno) : "read error");
        free(buf);
        return DNSBL_EIO;
    }
    buf[len] = '\0';
    d->heap = buf;
    d->data = buf;
    d->len = len;
    return DNSBL_OK;
}

static bool import_is_gzip(int fd)
{
    uint8_t magic[2];
    return pread(fd, magic, sizeof magic, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
}

int import_data_read(const char *path, struct import_data *out, char *why, size_t whylen)
{
    struct stat st;
    int fd;

    memset(out, 0, sizeof *out);
    out->data = (const uint8_t *)"";
    if (strcmp(path, "-") == 0) {
        fd = dup(STDIN_FILENO);
        if (fd < 0) {
            snprintf(why, whylen, "standard input: %s", strerror(errno));
            return DNSBL_EIO;
        }
        return import_read_gz(fd, "standard input", out, why, whylen);
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, whylen, "%s: %s", path, strerror(errno));
        return errno == ENOENT ? DNSBL_ENOENT : DNSBL_EIO;
    }
    if (fstat(fd, &st) != 0) {
        snprintf(why, whylen, "%s: %s", path, strerror(errno));
        close(fd);
        return DNSBL_EIO;
    }
    out->mtime = st.st_mtime;
    if (!S_ISREG(st.st_mode) || import_is_gzip(fd))
        return import_read_gz(fd, path, out, why, whylen);
    if (st.st_size == 0) {
        close(fd);
        return DNSBL_OK;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        snprintf(why, whylen, "%s: %s", path, strerror(errno));
        close(fd);
        return DNSBL_EIO;
    }
    close(fd);
    madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL);
    out->map = map;
    out->maplen = (size_t)st.st_size;
    out->data = map;
    out->len = (size_t)st.st_size;
    return DNSBL_OK;
}

void import_data_free(struct import_data *d)
{
    if (d->map)
        munmap(d->map, d->maplen);
    free(d->heap);
    memset(d, 0, sizeof *d);
}

static bool import_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool import_is_regular(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int import_names_add(struct import_names *names, size_t *cap, const char *a, const char *b,
                            const char *c)
{
    char path[PATH_MAX];
    int len = snprintf(path, sizeof path, "%s/%s%s%s", a, b, c[0] ? "/" : "", c);

    if (len < 0 || (size_t)len >= sizeof path)
        return DNSBL_EINVAL;
    if (names->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        char **grown = realloc(names->paths, ncap * sizeof *grown);
        if (!grown)
            return DNSBL_ENOMEM;
        names->paths = grown;
        *cap = ncap;
    }
    names->paths[names->n] = strdup(path);
    if (!names->paths[names->n])
        return DNSBL_ENOMEM;
    names->n++;
    return DNSBL_OK;
}

static bool import_has_eml_suffix(const char *name)
{
    size_t len = strlen(name);
    return len > 4 && strcasecmp(name + len - 4, ".eml") == 0;
}

/* maildir(5) names a message NAME or NAME:2,FLAGS; the flags are letters
 * in ASCII order, S meaning seen. base_len gets the length of NAME and
 * flags its flags (empty without an info part). */
static void import_maildir_info(const char *name, size_t *base_len, char *flags, size_t cap)
{
    const char *colon = strrchr(name, ':');
    flags[0] = '\0';
    *base_len = strlen(name);
    if (colon && strncmp(colon, ":2,", 3) == 0) {
        *base_len = (size_t)(colon - name);
        snprintf(flags, cap, "%s", colon + 3);
    }
}

static bool import_maildir_seen(const char *name)
{
    char flags[64];
    size_t base_len;
    import_maildir_info(name, &base_len, flags, sizeof flags);
    return strchr(flags, 'S') != NULL;
}

/* The regular files of dir/sub (sub "" = dir itself) that keep applies
 * to; dot files are never messages (maildir keeps its own state there).
 * skip_seen: leave out messages flagged S, which an earlier run marked. */
static int import_dir_scan(const char *dir, const char *sub, bool eml_only, bool skip_seen,
                           struct import_names *names, size_t *cap, char *why, size_t whylen)
{
    char path[PATH_MAX];
    struct dirent *de;
    int rc = DNSBL_OK;

    if ((size_t)snprintf(path, sizeof path, "%s%s%s", dir, sub[0] ? "/" : "", sub) >= sizeof path) {
        snprintf(why, whylen, "%s: %s", dir, strerror(ENAMETOOLONG));
        return DNSBL_EINVAL;
    }
    DIR *d = opendir(path);
    if (!d) {
        snprintf(why, whylen, "%s: %s", path, strerror(errno));
        return DNSBL_EIO;
    }
    while (rc == DNSBL_OK && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (eml_only && !import_has_eml_suffix(de->d_name))
            continue;
        if (skip_seen && import_maildir_seen(de->d_name))
            continue;
        char file[PATH_MAX];
        if ((size_t)snprintf(file, sizeof file, "%s/%s", path, de->d_name) >= sizeof file ||
            !import_is_regular(file))
            continue;
        rc = import_names_add(names, cap, dir, sub[0] ? sub : de->d_name, sub[0] ? de->d_name : "");
        if (rc != DNSBL_OK)
            snprintf(why, whylen, "%s: %s", file, dnsbl_strerror(rc));
    }
    closedir(d);
    return rc;
}

static int import_compare_paths(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int import_dir_list(const char *dir, enum import_dir_kind *kind, struct import_names *out,
                    char *why, size_t whylen)
{
    static const char *const maildir_subs[] = {"cur", "new"};
    char sub[PATH_MAX];
    size_t cap = 0;
    int rc = DNSBL_OK;

    memset(out, 0, sizeof *out);
    *kind = IMPORT_DIR_EML;
    for (size_t i = 0; i < 2; i++) {
        if ((size_t)snprintf(sub, sizeof sub, "%s/%s", dir, maildir_subs[i]) < sizeof sub &&
            import_is_dir(sub))
            *kind = IMPORT_DIR_MAILDIR;
    }
    if (*kind == IMPORT_DIR_MAILDIR) {
        /* tmp/ holds messages still being written: never read it. */
        for (size_t i = 0; rc == DNSBL_OK && i < 2; i++) {
            if ((size_t)snprintf(sub, sizeof sub, "%s/%s", dir, maildir_subs[i]) < sizeof sub &&
                import_is_dir(sub))
                rc = import_dir_scan(dir, maildir_subs[i], false,
                                     strcmp(maildir_subs[i], "cur") == 0, out, &cap, why, whylen);
        }
    } else {
        rc = import_dir_scan(dir, "", true, false, out, &cap, why, whylen);
    }
    if (rc != DNSBL_OK) {
        import_names_free(out);
        return rc;
    }
    if (out->n)
        qsort(out->paths, out->n, sizeof *out->paths, import_compare_paths);
    return DNSBL_OK;
}

void import_names_free(struct import_names *names)
{
    for (size_t i = 0; i < names->n; i++)
        free(names->paths[i]);
    free(names->paths);
    memset(names, 0, sizeof *names);
}

/* NAME with the S flag added: NAME:2,S, or NAME:2,FLAGS with S among the
 * flags in ASCII order (maildir(5)). */
static int import_maildir_seen_name(const char *name, char *out, size_t cap)
{
    char flags[64];
    size_t base_len, n;

    import_maildir_info(name, &base_len, flags, sizeof flags - 1);
    n = strlen(flags);
    if (!strchr(flags, 'S')) {
        size_t at = 0;
        while (at < n && (unsigned char)flags[at] < 'S')
            at++;
        memmove(flags + at + 1, flags + at, n - at + 1);
        flags[at] = 'S';
    }
    int len = snprintf(out, cap, "%.*s:2,%s", (int)base_len, name, flags);
    return len < 0 || (size_t)len >= cap ? DNSBL_EINVAL : DNSBL_OK;
}

int import_mail_done(const char *path, enum import_dir_kind kind, const char *done_dir, char *why,
                     size_t whylen)
{
    char target[PATH_MAX], seen[NAME_MAX + 1];
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    int len;

    if (done_dir) {
        len = snprintf(target, sizeof target, "%s/%s", done_dir, name);
    } else if (kind != IMPORT_DIR_MAILDIR) {
        return DNSBL_OK;
    } else {
        /* path is ROOT/new/NAME or ROOT/cur/NAME (import_dir_list). */
        size_t sub = slash ? (size_t)(slash - path) : 0;
        if (sub < 4 || path[sub - 4] != '/' ||
            import_maildir_seen_name(name, seen, sizeof seen) != DNSBL_OK) {
            snprintf(why, whylen, "%s: not a maildir message name", path);
            return DNSBL_EINVAL;
        }
        len = snprintf(target, sizeof target, "%.*s/cur", (int)(sub - 4), path);
        /* A maildir that only has new/ yet (git, a fresh delivery) gets its cur/. */
        if (len > 0 && (size_t)len < sizeof target && mkdir(target, 0700) != 0 && errno != EEXIST) {
            snprintf(why, whylen, "%s: %s", target, strerror(errno));
            return DNSBL_EIO;
        }
        len = snprintf(target, sizeof target, "%.*s/cur/%s", (int)(sub - 4), path, seen);
    }
    if (len < 0 || (size_t)len >= sizeof target) {
        snprintf(why, whylen, "%s: %s", path, strerror(ENAMETOOLONG));
        return DNSBL_EINVAL;
    }
    if (strcmp(target, path) != 0 && rename(path, target) != 0) {
        snprintf(why, whylen, "%s: cannot move it to %s: %s", path, target, strerror(errno));
        return DNSBL_EIO;
    }
    return DNSBL_OK;
}

bool import_find_binary(const uint8_t *data, size_t len, size_t span, size_t *off,
                        const char **what)
{
    size_t end = len < span ? len : span;
    for (size_t i = 0; i < end;) {
        if (data[i] == '\0') {
            *off = i;
            *what = "NUL byte";
            return true;
        }
        size_t n = utf8_seq_len(data + i, len - i);
        if (n == 0) {
            *off = i;
            *what = "invalid UTF-8";
            return true;
        }
        i += n;
    }
    return false;
}
