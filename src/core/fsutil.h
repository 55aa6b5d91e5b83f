/* fsutil.h - small filesystem helpers shared by the vault, the SQLite store
 * and backups: create a directory tree, write a file atomically, read a
 * bounded file. All are thread-safe (no global state).
 */
#ifndef KT_CORE_FSUTIL_H
#define KT_CORE_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

#include "core/err.h"

/* Creates path and any missing parents with mode (existing directories are
 * left as they are). KT_ERR_IO naming the directory on failure. */
kt_status fs_mkdir_p(const char *path, mode_t mode, kt_err *err);

/* Creates the parent directory of a file path (mode as fs_mkdir_p). */
kt_status fs_mkdir_parent(const char *file_path, mode_t mode, kt_err *err);

/* Replaces path with len bytes of data atomically: writes "<path>.tmp-XXXXXX"
 * with mode, fsyncs it, renames it over path and fsyncs the directory. On
 * failure path is untouched and the temp file removed. KT_ERR_IO. */
kt_status fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode, kt_err *err);

/* Reads a whole file into a malloc'd NUL-terminated buffer (caller frees).
 * KT_ERR_NOT_FOUND when it does not exist, KT_ERR_TOO_LARGE over max bytes,
 * KT_ERR_IO otherwise. */
kt_status fs_read_file(const char *path, size_t max, char **out, size_t *out_len, kt_err *err);

/* Reads the whole regular file open on fd (from its current offset), as
 * fs_read_file; name is used in messages only. Does not close fd. */
kt_status fs_read_fd(int fd, const char *name, size_t max, char **out, size_t *out_len, kt_err *err);

#endif
