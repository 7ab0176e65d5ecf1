/* store_backup: copies of the store that outlive it. A backup is LMDB's
 * compacting copy of one read snapshot (what mdb_copy -c writes), so it
 * is consistent while dnsbld serves and writers commit; a restore puts
 * such a copy into an empty directory only after the store's own check
 * passed on it. Both write under a temporary name and rename when whole,
 * so a killed run never leaves a file that looks complete. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store_int.h"

#define STORE_DATA_FILE "data.mdb"
#define STORE_LOCK_FILE "lock.mdb"

/* The directory's entry for a rename survives a crash only once the
 * directory itself is synced (fsync(2), "Notes"). */
static int store_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* 1: dir holds nothing but . and ..; 0: it holds something; -1: unreadable. */
static int store_dir_empty(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int empty = 1;

    if (!d)
        return -1;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            empty = 0;
            break;
        }
    closedir(d);
    return empty;
}

static bool store_same_dir(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

int store_backup(struct store *s, const char *dest, char *out, size_t outlen, char *why,
                 size_t whylen)
{
    char tmp[PATH_MAX], final[PATH_MAX], lock[PATH_MAX];
    struct stat st;

    if (snprintf(final, sizeof final, "%s/" STORE_DATA_FILE, dest) >= (int)sizeof final ||
        snprintf(tmp, sizeof tmp, "%s/." STORE_DATA_FILE ".XXXXXX", dest) >= (int)sizeof tmp ||
        snprintf(lock, sizeof lock, "%s/" STORE_LOCK_FILE, dest) >= (int)sizeof lock) {
        store_set_why(why, whylen, "%.64s...: backup directory name too long", dest);
        return DNSBL_EINVAL;
    }
    if (mkdir(dest, 0750) != 0 && errno != EEXIST) {
        store_set_why(why, whylen, "%s: %s", dest, strerror(errno));
        return DNSBL_EIO;
    }
    if (stat(dest, &st) != 0 || !S_ISDIR(st.st_mode)) {
        store_set_why(why, whylen, "%s: not a directory", dest);
        return DNSBL_EINVAL;
    }
    /* A directory with a lock file is a store someone opens: renaming a
     * copy over its data.mdb would pull it from under its readers. */
    if (store_same_dir(dest, s->dir) || access(lock, F_OK) == 0) {
        store_set_why(why, whylen,
                      "%s: holds a live store (lock.mdb); back up into a directory of its own",
                      dest);
        return DNSBL_EREFUSED;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        store_set_why(why, whylen, "%s: %s", tmp, strerror(errno));
        return DNSBL_EIO;
    }
    int rc;
    unsigned resized = 0;
    /* The copy's read transaction meets MDB_MAP_RESIZED when a writer grew
     * the map since the open: adopt the new size and start again. */
    while ((rc = mdb_env_copyfd2(s->env, fd, MDB_CP_COMPACT)) == MDB_MAP_RESIZED &&
           resized++ < STORE_RESIZED_TRIES) {
        if (store_remap(s, 0) != MDB_SUCCESS || ftruncate(fd, 0) != 0 ||
            lseek(fd, 0, SEEK_SET) != 0)
            break;
    }
    int err = DNSBL_OK;
    if (rc != MDB_SUCCESS) {
        err = store_lmdb_fail(s, rc, "copy", why, whylen);
    } else if (fsync(fd) != 0 || fchmod(fd, 0640) != 0) {
        store_set_why(why, whylen, "%s: %s", tmp, strerror(errno));
        err = DNSBL_EIO;
    }
    if (close(fd) != 0 && err == DNSBL_OK) {
        store_set_why(why, whylen, "%s: %s", tmp, strerror(errno));
        err = DNSBL_EIO;
    }
    if (err == DNSBL_OK && rename(tmp, final) != 0) {
        store_set_why(why, whylen, "%s: %s", final, strerror(errno));
        err = DNSBL_EIO;
    }
    if (err != DNSBL_OK) {
        unlink(tmp);
        return store_public_err(err);
    }
    store_fsync_dir(dest);
    if (out)
        snprintf(out, outlen, "%s", final);
    return DNSBL_OK;
}

/* ---- restore ---- */

/* src whole into the new file dst, synced. */
static int store_copy_file(const char *src, const char *dst, char *why, size_t whylen)
{
    char buf[1 << 16];
    int in = open(src, O_RDONLY), out = -1, err = DNSBL_OK;
    ssize_t n = 0;

    if (in < 0) {
        store_set_why(why, whylen, "%s: %s", src, strerror(errno));
        return DNSBL_EIO;
    }
    out = open(dst, O_WRONLY | O_CREAT | O_EXCL, 0640);
    if (out < 0) {
        store_set_why(why, whylen, "%s: %s", dst, strerror(errno));
        close(in);
        return DNSBL_EIO;
    }
    while ((n = read(in, buf, sizeof buf)) > 0) {
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0) {
                store_set_why(why, whylen, "%s: %s", dst, strerror(errno));
                err = DNSBL_EIO;
                goto done;
            }
            off += w;
        }
    }
    if (n < 0) {
        store_set_why(why, whylen, "%s: %s", src, strerror(errno));
        err = DNSBL_EIO;
    } else if (fsync(out) != 0) {
        store_set_why(why, whylen, "%s: %s", dst, strerror(errno));
        err = DNSBL_EIO;
    }
done:
    close(in);
    if (close(out) != 0 && err == DNSBL_OK) {
        store_set_why(why, whylen, "%s: %s", dst, strerror(errno));
        err = DNSBL_EIO;
    }
    return err;
}

/* Does the file hold every page its meta page counts? LMDB maps the file
 * and would fault (SIGBUS) on a page past its end, so a truncated copy is
 * caught here, reading only the two meta pages. */
static int store_check_length(const char *dir, char *why, size_t whylen)
{
    char path[PATH_MAX];
    MDB_env *env = NULL;
    MDB_envinfo info;
    MDB_stat ms;
    struct stat st;
    int rc;

    if (snprintf(path, sizeof path, "%s/" STORE_DATA_FILE, dir) >= (int)sizeof path) {
        store_set_why(why, whylen, "%s: %s", dir, strerror(ENAMETOOLONG));
        return DNSBL_EINVAL;
    }
    if (stat(path, &st) != 0) {
        store_set_why(why, whylen, "%s: %s", path, strerror(errno));
        return DNSBL_EIO;
    }
    rc = mdb_env_create(&env);
    if (rc == MDB_SUCCESS)
        rc = mdb_env_set_maxdbs(env, STORE_MAXDBS);
    if (rc == MDB_SUCCESS)
        rc = mdb_env_open(env, dir, MDB_RDONLY | MDB_NOLOCK, 0640);
    if (rc == MDB_SUCCESS)
        rc = mdb_env_info(env, &info);
    if (rc == MDB_SUCCESS)
        rc = mdb_env_stat(env, &ms);
    mdb_env_close(env);
    if (rc != MDB_SUCCESS) {
        store_set_why(why, whylen, "not an LMDB store file: %s", mdb_strerror(rc));
        return DNSBL_ESCHEMA;
    }
    unsigned long long need = ((unsigned long long)info.me_last_pgno + 1) * ms.ms_psize;
    if ((unsigned long long)st.st_size < need) {
        store_set_why(why, whylen,
                      "truncated: the file holds %llu bytes but its pages end at byte %llu",
                      (unsigned long long)st.st_size, need);
        return DNSBL_ESCHEMA;
    }
    return DNSBL_OK;
}

struct store_problem_pipe {
    int fd;
    size_t n;
};

/* Each problem as one line down the pipe to the parent. */
static void store_problem_to_pipe(void *arg, const char *what)
{
    struct store_problem_pipe *p = arg;
    size_t len = strlen(what);
    p->n++;
    if (write(p->fd, what, len) < 0 || write(p->fd, "\n", 1) < 0)
        return;
}

/* The child's side: open the staged copy read-only and run store_check;
 * exit 0 when consistent. */
static void store_restore_child(const char *stage, int fd)
{
    struct store_problem_pipe p = {.fd = fd, .n = 0};
    char why[STORE_WHY_MAX] = "";
    struct store *s = NULL;
    size_t n = 0;

    /* A fault on a damaged page ends the child by its signal, which the
     * parent reports; no handler of the parent's (a sanitizer's) runs. */
    signal(SIGBUS, SIG_DFL);
    signal(SIGSEGV, SIG_DFL);
    int err = store_check_length(stage, why, sizeof why);
    if (err == DNSBL_OK)
        err = store_open(stage, STORE_RDONLY, &s, why, sizeof why);
    if (err == DNSBL_OK) {
        err = store_check(s, store_problem_to_pipe, &p, &n);
        if (err != DNSBL_OK)
            snprintf(why, sizeof why, "the check stopped: %s", dnsbl_strerror(err));
        store_close(s);
    }
    if (err == DNSBL_ENOENT) /* the staging name would only confuse */
        snprintf(why, sizeof why, "not a dnsbl store: it has no meta records");
    if (err != DNSBL_OK)
        store_problem_to_pipe(&p, why[0] ? why : dnsbl_strerror(err));
    _exit(err == DNSBL_OK && n == 0 ? 0 : 1);
}

/* Run the check in a child process: a damaged file may fault when mapped,
 * which must not take the restore down before it removed the copy. */
static int store_restore_verify(const char *stage, void (*problem)(void *, const char *), void *arg,
                                size_t *nproblems, char *why, size_t whylen)
{
    int fds[2];
    char line[STORE_WHY_MAX + PATH_MAX];
    size_t len = 0;
    ssize_t n;
    int status = 0;

    *nproblems = 0;
    if (pipe(fds) != 0) {
        store_set_why(why, whylen, "pipe: %s", strerror(errno));
        return DNSBL_EIO;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        store_set_why(why, whylen, "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return DNSBL_EIO;
    }
    if (pid == 0) {
        close(fds[0]);
        store_restore_child(stage, fds[1]);
    }
    close(fds[1]);
    char c;
    while ((n = read(fds[0], &c, 1)) == 1 || (n < 0 && errno == EINTR)) {
        if (n < 0)
            continue;
        if (c != '\n') {
            if (len < sizeof line - 1)
                line[len++] = c;
            continue;
        }
        line[len] = '\0';
        len = 0;
        (*nproblems)++;
        if (problem)
            problem(arg, line);
    }
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFSIGNALED(status)) {
        snprintf(line, sizeof line, "the check crashed on the copy (signal %d): it is damaged",
                 WTERMSIG(status));
        (*nproblems)++;
        if (problem)
            problem(arg, line);
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (*nproblems == 0) {
            (*nproblems)++;
            if (problem)
                problem(arg, "the check failed");
        }
    }
    return DNSBL_OK;
}

/* Remove what a restore staged: the copy, the lock file its check made,
 * and the staging directory. */
static void store_restore_unstage(const char *stage)
{
    char path[PATH_MAX];
    /* A name too long to build was never made, so there is nothing to remove. */
    if (snprintf(path, sizeof path, "%s/" STORE_DATA_FILE, stage) < (int)sizeof path)
        unlink(path);
    if (snprintf(path, sizeof path, "%s/" STORE_LOCK_FILE, stage) < (int)sizeof path)
        unlink(path);
    rmdir(stage);
}

int store_restore(const char *src, const char *dir, void (*problem)(void *arg, const char *what),
                  void *arg, size_t *nproblems, char *why, size_t whylen)
{
    char from[PATH_MAX], stage[PATH_MAX], staged[PATH_MAX + 16], final[PATH_MAX];
    struct stat st;
    bool made = false;
    int err;

    *nproblems = 0;
    if (stat(src, &st) != 0) {
        store_set_why(why, whylen, "%s: %s", src, strerror(errno));
        return DNSBL_ENOENT;
    }
    if (snprintf(from, sizeof from, S_ISDIR(st.st_mode) ? "%s/" STORE_DATA_FILE : "%s", src) >=
            (int)sizeof from ||
        snprintf(stage, sizeof stage, "%s/.restore.XXXXXX", dir) >= (int)sizeof stage ||
        snprintf(final, sizeof final, "%s/" STORE_DATA_FILE, dir) >= (int)sizeof final) {
        store_set_why(why, whylen, "%.64s...: name too long", dir);
        return DNSBL_EINVAL;
    }
    if (stat(from, &st) != 0 || !S_ISREG(st.st_mode)) {
        store_set_why(why, whylen, "%s: %s", from,
                      errno == ENOENT ? "no backup here (no data.mdb)" : "not a regular file");
        return DNSBL_ENOENT;
    }
    /* Never over a store, live or not: only into nothing. */
    if (mkdir(dir, 0750) == 0) {
        made = true;
    } else if (errno != EEXIST) {
        store_set_why(why, whylen, "%s: %s", dir, strerror(errno));
        return DNSBL_EIO;
    } else {
        int empty = store_dir_empty(dir);
        if (empty != 1) {
            store_set_why(why, whylen,
                          empty < 0 ? "%s: not a readable directory"
                                    : "%s: not empty; restore only into an empty or new directory",
                          dir);
            return DNSBL_EREFUSED;
        }
    }
    if (!mkdtemp(stage)) {
        store_set_why(why, whylen, "%s: %s", stage, strerror(errno));
        err = DNSBL_EIO;
        goto fail;
    }
    snprintf(staged, sizeof staged, "%s/" STORE_DATA_FILE, stage);
    err = store_copy_file(from, staged, why, whylen);
    if (err == DNSBL_OK)
        err = store_restore_verify(stage, problem, arg, nproblems, why, whylen);
    if (err == DNSBL_OK && *nproblems) {
        store_set_why(why, whylen,
                      "%s: the backup failed the check (%zu problem%s); nothing restored", from,
                      *nproblems, *nproblems == 1 ? "" : "s");
        err = DNSBL_ESCHEMA;
    }
    if (err == DNSBL_OK && rename(staged, final) != 0) {
        store_set_why(why, whylen, "%s: %s", final, strerror(errno));
        err = DNSBL_EIO;
    }
    store_restore_unstage(stage);
    if (err != DNSBL_OK)
        goto fail;
    store_fsync_dir(dir);
    return DNSBL_OK;

fail:
    if (made)
        rmdir(dir);
    return err;
}
