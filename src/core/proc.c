/* proc.c - posix_spawnp with an argv, extra environment and captured
 * stderr (see proc.h). Hand-written on purpose: no packaged C library wraps
 * posix_spawn, and the few lines here avoid system()/popen(), which would
 * hand a command line to a shell.
 */
#include "core/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Bound on the child's environment (ours plus the additions). */
#define PROC_ENV_MAX 4096

static size_t name_len(const char *kv)
{
    const char *eq = strchr(kv, '=');
    return eq ? (size_t)(eq - kv) : strlen(kv);
}

/* 1 when env_add sets the variable named by kv. */
static int overridden(const char *kv, const char *const env_add[])
{
    size_t n = name_len(kv);
    for (size_t i = 0; env_add && env_add[i]; i++)
        if (name_len(env_add[i]) == n && strncmp(env_add[i], kv, n) == 0)
            return 1;
    return 0;
}

/* A NULL-terminated array of borrowed strings: environ minus what env_add
 * overrides, plus env_add. Caller frees the array (not the strings). */
static kt_status build_env(const char *const env_add[], char ***out, kt_err *err)
{
    size_t n = 0, extra = 0, k = 0;
    while (environ && environ[n])
        n++;
    while (env_add && env_add[extra])
        extra++;
    if (n + extra > PROC_ENV_MAX)
        return err_set(err, KT_ERR_TOO_LARGE, NULL, "environment too large (%zu variables)",
                       n + extra);
    char **env = calloc(n + extra + 1, sizeof *env);
    if (!env)
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
    for (size_t i = 0; i < n; i++)
        if (!overridden(environ[i], env_add))
            env[k++] = environ[i];
    for (size_t i = 0; i < extra; i++)
        env[k++] = (char *)env_add[i];
    env[k] = NULL;
    *out = env;
    return KT_OK;
}

/* Reads fd to EOF, keeping the first PROC_STDERR_MAX bytes in res. */
static void drain(int fd, proc_result *res)
{
    size_t used = 0;
    char scratch[4096];
    for (;;) {
        char *dst = used < PROC_STDERR_MAX ? res->err_text + used : scratch;
        size_t room = used < PROC_STDERR_MAX ? PROC_STDERR_MAX - used : sizeof scratch;
        ssize_t r = read(fd, dst, room);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (used < PROC_STDERR_MAX)
            used += (size_t)r;
    }
    res->err_text[used] = '\0';
}

kt_status proc_run(const char *const argv[], const char *const env_add[], proc_result *out,
                   kt_err *err)
{
    kt_status st = KT_OK;
    char **env = NULL;
    int pipefd[2] = {-1, -1};
    int fa_ready = 0, status = 0;
    pid_t pid = -1;
    posix_spawn_file_actions_t fa;
    proc_result *res = NULL;

    if (!argv || !argv[0] || !out)
        return err_set(err, KT_ERR_INTERNAL, NULL, "proc_run: no program");
    /* Looked up first: glibc reports a failed exec as ENOENT from
     * posix_spawnp, but other spawn implementations (valgrind's, older
     * libcs) run the child, which then exits 127. */
    if (!proc_on_path(argv[0]))
        return err_set(err, KT_ERR_NOT_FOUND, "program_not_found", "%s was not found on PATH",
                       argv[0]);
    if (!(res = calloc(1, sizeof *res)))
        return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
    if ((st = build_env(env_add, &env, err)) != KT_OK)
        goto out;
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        st = err_set(err, KT_ERR_IO, NULL, "cannot start %s: pipe: %s", argv[0], strerror(errno));
        goto out;
    }
    if (posix_spawn_file_actions_init(&fa) != 0) {
        st = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    fa_ready = 1;
    if (posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0) != 0 ||
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0) != 0 ||
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2) != 0) {
        st = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, env);
    if (rc != 0) {
        pid = -1;
        if (rc == ENOENT)
            st = err_set(err, KT_ERR_NOT_FOUND, "program_not_found", "%s was not found on PATH",
                         argv[0]);
        else
            st = err_set(err, KT_ERR_IO, NULL, "cannot start %s: %s", argv[0], strerror(rc));
        goto out;
    }
    close(pipefd[1]);
    pipefd[1] = -1;
    drain(pipefd[0], res);
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            st = err_set(err, KT_ERR_IO, NULL, "waiting for %s: %s", argv[0], strerror(errno));
            goto out;
        }
    }
    pid = -1;
    res->exit_code = WIFEXITED(status) ? WEXITSTATUS(status)
                                       : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    memcpy(out, res, sizeof *res);
out:
    if (pid > 0) /* started but not waited for: do not leave a zombie */
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    if (fa_ready)
        posix_spawn_file_actions_destroy(&fa);
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    if (pipefd[1] >= 0)
        close(pipefd[1]);
    free(env);
    free(res);
    return st;
}

int proc_on_path(const char *name)
{
    if (!name || !*name)
        return 0;
    if (strchr(name, '/'))
        return access(name, X_OK) == 0;
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/bin:/bin";
    char buf[4096];
    for (const char *p = path;;) {
        size_t n = strcspn(p, ":");
        int len = snprintf(buf, sizeof buf, "%.*s/%s", (int)n, n ? p : ".", name);
        struct stat sb;
        if (len > 0 && (size_t)len < sizeof buf && stat(buf, &sb) == 0 && S_ISREG(sb.st_mode) &&
            access(buf, X_OK) == 0)
            return 1;
        if (!p[n])
            return 0;
        p += n + 1;
    }
}

void proc_last_line(const char *text, char *out, size_t outsz)
{
    if (!out || outsz == 0)
        return;
    out[0] = '\0';
    if (!text)
        return;
    const char *end = text + strlen(text);
    while (end > text && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
        end--;
    const char *start = end;
    while (start > text && start[-1] != '\n')
        start--;
    size_t n = (size_t)(end - start);
    if (n >= outsz)
        n = outsz - 1;
    memcpy(out, start, n);
    out[n] = '\0';
}
