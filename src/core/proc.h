/* proc.h - run an external program (pg_dump, pg_restore, rclone) safely.
 *
 * Programs are started with posix_spawnp and an argv array, never through a
 * shell, so no argument is ever re-parsed. Extra environment variables (for
 * instance PGPASSWORD, which must not appear in argv where `ps` shows it)
 * are added to a copy of the caller's environment. stdin and stdout are
 * /dev/null; stderr is captured (bounded) so a failure can be reported with
 * the program's own words.
 *
 * Thread use: thread-safe (no global state besides reading environ).
 */
#ifndef KT_CORE_PROC_H
#define KT_CORE_PROC_H

#include <stddef.h>

#include "core/err.h"

/* Bytes of a child's stderr kept; the rest is read and discarded. */
#define PROC_STDERR_MAX 8192

typedef struct proc_result {
    int exit_code;                      /* 0..255; 128+N when killed by signal N */
    char err_text[PROC_STDERR_MAX + 1]; /* the child's stderr, NUL-terminated, cut at the cap */
} proc_result;

/* Runs argv[0] (searched on PATH when it has no '/') with argv (NULL-
 * terminated) and waits for it. env_add (NULL or a NULL-terminated array of
 * "NAME=value") overrides or adds environment variables for the child only.
 * Returns KT_OK when the program ran (whatever its exit code: read
 * out->exit_code), KT_ERR_NOT_FOUND when it is not on PATH (the message
 * names it), KT_ERR_IO/KT_ERR_NOMEM when it could not be started. *out is
 * written on KT_OK only. Never logs argv or env (they may hold secrets). */
kt_status proc_run(const char *const argv[], const char *const env_add[], proc_result *out,
                   kt_err *err);

/* Returns 1 when `name` is an executable found on PATH (or, when it holds a
 * '/', is itself executable). */
int proc_on_path(const char *name);

/* The last non-empty line of text (a child's stderr), copied into out
 * (NUL-terminated, cut to outsz). Empty string when there is none. */
void proc_last_line(const char *text, char *out, size_t outsz);

#endif
