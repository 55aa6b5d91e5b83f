/* cmd_users.c - `keeptrack users list|disable|enable|delete`: the
 * administrator's view of the accounts held by this instance. Works on the
 * store directly (no Spotify call).
 *
 * `list` shows per user: status, the latest sync run (start and outcome),
 * when the stored access token expires (a past time is normal: it is
 * refreshed on the next use) and the date by which the user must log in
 * again before Spotify's refresh token expires (authorized + 183 days).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/timeutil.h"
#include "services/auth.h"
#include "store/store.h"
#include "store/store_auth.h"
#include "store/store_ops.h"

#define DAY_MS (24LL * 3600 * 1000)

/* A unix-ms time as ISO 8601 to the second ("2026-11-22T10:00:00Z"), or
 * "-" for NULL/0. */
static void when_text(const store_rows *r, size_t row, size_t col, int64_t plus_ms, char out[32])
{
    int64_t ms = store_rows_is_null(r, row, col) ? 0 : store_rows_int(r, row, col);
    if (ms <= 0) {
        snprintf(out, 32, "-");
        return;
    }
    time_format_iso8601(ms + plus_ms, out);
    char *dot = strchr(out, '.');
    if (dot)
        snprintf(dot, 32 - (size_t)(dot - out), "Z");
}

static const char *text_or_dash(const store_rows *r, size_t row, size_t col)
{
    const char *t = store_rows_text(r, row, col);
    return t && *t ? t : "-";
}

static int list_users(store *s)
{
    store_rows *r = NULL;
    kt_err err = {0};
    if (store_ops_user_overview(s, &r, &err) != KT_OK)
        return cli_fail("listing users", &err);
    printf("%-6s %-24s %-24s %-16s %-20s %-11s %-20s %s\n", "ID", "ACCOUNT", "NAME", "STATUS",
           "LAST_SYNC", "SYNC_STATUS", "TOKEN_EXPIRES", "REAUTH_BY");
    for (size_t i = 0; i < store_rows_count(r); i++) {
        char sync_at[32], token[32], reauth[32];
        when_text(r, i, STORE_OPS_USER_LAST_SYNC_AT, 0, sync_at);
        when_text(r, i, STORE_OPS_USER_TOKEN_EXPIRES, 0, token);
        when_text(r, i, STORE_OPS_USER_AUTHORIZED_AT, AUTH_REFRESH_LIFETIME_DAYS * DAY_MS,
                  reauth);
        printf("%-6lld %-24s %-24s %-16s %-20s %-11s %-20s %s\n",
               (long long)store_rows_int(r, i, STORE_OPS_USER_ID),
               text_or_dash(r, i, STORE_OPS_USER_ACCOUNT), text_or_dash(r, i, STORE_OPS_USER_NAME),
               text_or_dash(r, i, STORE_OPS_USER_STATUS), sync_at,
               text_or_dash(r, i, STORE_OPS_USER_LAST_SYNC), token, reauth);
    }
    store_rows_free(r);
    return 0;
}

static int change_user(store *s, const char *action, const char *who)
{
    store_user u = {0};
    kt_err err = {0};
    kt_status st;
    int64_t now = time_now_ms();
    if (cli_find_user(s, who, &u, &err) != KT_OK)
        return cli_fail(action, &err);
    if (strcmp(action, "disable") == 0) {
        st = store_user_disable(s, u.id, now, &err);
    } else if (strcmp(action, "enable") == 0) {
        /* disable deleted the tokens: the user must connect Spotify again */
        st = strcmp(u.status, STORE_USER_DISABLED) == 0
                 ? store_user_set_status(s, u.id, STORE_USER_DISCONNECTED, now, &err)
                 : KT_OK;
    } else {
        st = store_user_delete(s, u.id, &err);
    }
    if (st == KT_OK)
        printf("user %lld (%s): %sd\n", (long long)u.id, u.account_id, action);
    store_user_clear(&u);
    return st == KT_OK ? 0 : cli_fail(action, &err);
}

int cmd_users(kt_config *cfg, int argc, char **argv)
{
    store *s = NULL;
    kt_err err = {0};
    int rc = 2;
    const char *action = argc > 1 ? argv[1] : NULL;
    int list = action && strcmp(action, "list") == 0 && argc == 2;
    int change = action && argc == 3 &&
                 (strcmp(action, "disable") == 0 || strcmp(action, "enable") == 0 ||
                  strcmp(action, "delete") == 0);
    if (!list && !change) {
        fprintf(stderr, "usage: keeptrack users list | disable USER | enable USER | delete USER\n");
        return 2;
    }
    if (store_open(cfg->db, &s, &err) != KT_OK || store_migrate(s, &err) != KT_OK) {
        rc = cli_fail("opening the database", &err);
        goto out;
    }
    rc = list ? list_users(s) : change_user(s, action, argv[2]);
out:
    store_close(s);
    return rc;
}
