/* err.c - see err.h. */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int http;
} status_info[] = {
    [KT_OK] = {"ok", 200},
    [KT_ERR_INVALID] = {"invalid", 400},
    [KT_ERR_NOT_FOUND] = {"not_found", 404},
    [KT_ERR_CONFLICT] = {"conflict", 409},
    [KT_ERR_UNAUTHORIZED] = {"unauthorized", 401},
    [KT_ERR_FORBIDDEN] = {"forbidden", 403},
    [KT_ERR_REAUTH] = {"reauth_required", 401},
    [KT_ERR_DEFERRED] = {"deferred", 503},
    [KT_ERR_UPSTREAM] = {"upstream", 502},
    [KT_ERR_TOO_LARGE] = {"too_large", 413},
    [KT_ERR_STORE] = {"store", 500},
    [KT_ERR_CRYPTO] = {"crypto", 500},
    [KT_ERR_IO] = {"io", 500},
    [KT_ERR_NOMEM] = {"nomem", 500},
    [KT_ERR_INTERNAL] = {"internal", 500},
};

#define N_STATUS (sizeof status_info / sizeof status_info[0])

const char *err_status_name(kt_status s)
{
    return (unsigned)s < N_STATUS ? status_info[s].name : "unknown";
}

int err_http_status(kt_status s)
{
    return (unsigned)s < N_STATUS ? status_info[s].http : 500;
}

kt_status err_set(kt_err *e, kt_status status, const char *code, const char *fmt, ...)
{
    if (!e)
        return status;
    e->status = status;
    e->upstream_status = 0;
    e->retry_at_ms = 0;
    snprintf(e->code, sizeof e->code, "%s", code ? code : err_status_name(status));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return status;
}

void err_prefix(kt_err *e, const char *fmt, ...)
{
    if (!e)
        return;
    char prefix[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char old[sizeof e->msg];
    memcpy(old, e->msg, sizeof old);
    snprintf(e->msg, sizeof e->msg, "%s: %s", prefix, old);
}

void err_clear(kt_err *e)
{
    if (!e)
        return;
    memset(e, 0, sizeof *e);
}
