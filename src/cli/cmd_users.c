/* cmd_users.c - `keeptrack users list|disable|enable|delete`: the
 * administrator's view of the accounts held by this instance. Works on the
 * store directly (no Spotify call). Issue 11 extends it.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/timeutil.h"
#include "store/store.h"
#include "store/store_auth.h"

/* Finds a user by numeric id or account id. */
static kt_status find_user(store *s, const char *arg, store_user *out, kt_err *err)
{
    int numeric = *arg != '\0';
    for (const char *p = arg; *p; p++)
        numeric = numeric && isdigit((unsigned char)*p);
    if (numeric) {
        kt_status st = store_user_get(s, strtoll(arg, NULL, 10), out, err);
        if (st != KT_ERR_NOT_FOUND)
            return st;
    }
    kt_status st = store_user_get_by_account(s, arg, out, err);
    if (st == KT_ERR_NOT_FOUND)
        err_set(err, st, "user_not_found", "no user with id or account id '%.100s' "
                                           "(see keeptrack users list)", arg);
    return st;
}

static int list_users(store *s)
{
    store_user *users = NULL;
    size_t n = 0;
    kt_err err = {0};
    if (store_user_list(s, &users, &n, &err) != KT_OK)
        return cli_fail("listing users", &err);
    printf("%-6s %-24s %-24s %-16s %s\n", "ID", "ACCOUNT", "NAME", "STATUS", "AUTHORIZED");
    for (size_t i = 0; i < n; i++) {
        char when[32] = "-";
        if (users[i].authorized_at > 0)
            time_format_iso8601(users[i].authorized_at, when);
        printf("%-6lld %-24s %-24s %-16s %s\n", (long long)users[i].id, users[i].account_id,
               users[i].display_name ? users[i].display_name : "-", users[i].status, when);
    }
    store_user_list_free(users, n);
    return 0;
}

static int change_user(store *s, const char *action, const char *who)
{
    store_user u = {0};
    kt_err err = {0};
    kt_status st;
    int64_t now = time_now_ms();
    if (find_user(s, who, &u, &err) != KT_OK)
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
