/* fsutil.c - directory creation, atomic writes, bounded reads (see fsutil.h). */
#include "core/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

kt_status fs_mkdir_p(const char *path, mode_t mode, kt_err *err)
{
    char tmp[PATH_MAX];
    if (!path || !*path)
        return err_set(err, KT_ERR_INVALID, "bad_path", "empty directory path");
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return err_set(err, KT_ERR_INVALID, "bad_path", "directory path is too long");
    for (char *p = tmp + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(tmp, mode) != 0 && errno != EEXIST)
            return err_set(err, KT_ERR_IO, "mkdir_failed", "cannot create directory %s: %s", tmp,
                           strerror(errno));
        *p = saved;
        if (saved == '\0')
            break;
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return err_set(err, KT_ERR_IO, "mkdir_failed", "%s exists and is not a directory", path);
    return KT_OK;
}

kt_status fs_mkdir_parent(const char *file_path, mode_t mode, kt_err *err)
{
    char dir[PATH_MAX];
    if (!file_path || snprintf(dir, sizeof dir, "%s", file_path) >= (int)sizeof dir)
        return err_set(err, KT_ERR_INVALID, "bad_path", "file path is missing or too long");
    char *slash = strrchr(dir, '/');
    if (!slash)
        return KT_OK; /* relative to the working directory, which exists */
    if (slash == dir)
        return KT_OK; /* "/file" */
    *slash = '\0';
    return fs_mkdir_p(dir, mode, err);
}

/* fsyncs the directory holding path so a rename survives a crash. */
static void sync_parent_dir(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        strcpy(dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd); /* best effort: some filesystems refuse fsync on directories */
        close(fd);
    }
}

kt_status fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode, kt_err *err)
{
    char tmp[PATH_MAX];
    int fd = -1;
    kt_status st = KT_OK;
    if (snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", path) >= (int)sizeof tmp)
        return err_set(err, KT_ERR_INVALID, "bad_path", "file path is too long");
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return err_set(err, KT_ERR_IO, "write_failed", "cannot create a file next to %s: %s", path,
                       strerror(errno));
    if (fchmod(fd, mode) != 0) {
        st = err_set(err, KT_ERR_IO, "write_failed", "cannot chmod %s: %s", tmp, strerror(errno));
        goto out;
    }
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, (const char *)data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            st = err_set(err, KT_ERR_IO, "write_failed", "cannot write %s: %s", tmp, strerror(errno));
            goto out;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0) {
        st = err_set(err, KT_ERR_IO, "write_failed", "cannot fsync %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        st = err_set(err, KT_ERR_IO, "write_failed", "cannot close %s: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        st = err_set(err, KT_ERR_IO, "write_failed", "cannot replace %s: %s", path, strerror(errno));
        goto out;
    }
    sync_parent_dir(path);
out:
    if (fd >= 0)
        close(fd);
    if (st != KT_OK)
        unlink(tmp);
    return st;
}

kt_status fs_read_fd(int fd, const char *name, size_t max, char **out, size_t *out_len, kt_err *err)
{
    kt_status st = KT_OK;
    char *data = NULL;
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
        return err_set(err, KT_ERR_IO, "read_failed", "%s is not a regular file", name);
    if ((uint64_t)sb.st_size > max)
        return err_set(err, KT_ERR_TOO_LARGE, "file_too_large", "%s is larger than %zu bytes", name, max);
    size_t cap = (size_t)sb.st_size, len = 0;
    if (!(data = malloc(cap + 1)))
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory reading %s", name);
    /* The file may grow while read: never read past the size checked above. */
    while (len < cap) {
        ssize_t r = read(fd, data + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            st = err_set(err, KT_ERR_IO, "read_failed", "cannot read %s: %s", name, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    data[len] = '\0';
    *out = data;
    data = NULL;
    if (out_len)
        *out_len = len;
out:
    free(data);
    return st;
}

kt_status fs_read_file(const char *path, size_t max, char **out, size_t *out_len, kt_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(err, errno == ENOENT ? KT_ERR_NOT_FOUND : KT_ERR_IO, "read_failed",
                       "cannot open %s: %s", path, strerror(errno));
    kt_status st = fs_read_fd(fd, path, max, out, out_len, err);
    close(fd);
    return st;
}
