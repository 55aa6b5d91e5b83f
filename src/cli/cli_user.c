/* cli_user.c - choosing the user a CLI command works for (cli.h):
 * `--user` as a numeric id or a Spotify account id, or the only (active)
 * user. Every subcommand that takes --user goes through here so they all
 * read the option the same way and say the same thing when it names no one.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "services/app_priv.h"
#include "store/store_auth.h"

kt_status cli_find_user(store *s, const char *who, store_user *out, kt_err *err)
{
    size_t digits = strspn(who, "0123456789");
    /* 19 digits may overflow int64: such a string can only be an account id. */
    if (digits > 0 && digits == strlen(who) && digits < 19) {
        kt_status st = store_user_get(s, strtoll(who, NULL, 10), out, err);
        if (st != KT_ERR_NOT_FOUND)
            return st;
    }
    kt_status st = store_user_get_by_account(s, who, out, err);
    if (st == KT_ERR_NOT_FOUND)
        err_set(err, st, "user_not_found",
                "no user with id or account id '%.100s' (see keeptrack users list)", who);
    return st;
}

kt_status cli_pick_user(store *s, const char *who, int active_only, int64_t *out, kt_err *err)
{
    store_user u, *all = NULL;
    size_t n = 0, eligible = 0;
    int64_t id = 0;
    memset(&u, 0, sizeof u);
    if (who) {
        kt_status st = cli_find_user(s, who, &u, err);
        if (st == KT_OK) {
            *out = u.id;
            store_user_clear(&u);
        }
        return st;
    }
    kt_status st = store_user_list(s, &all, &n, err);
    if (st != KT_OK)
        return st;
    for (size_t i = 0; i < n; i++)
        if (!active_only || strcmp(all[i].status, STORE_USER_ACTIVE) == 0) {
            eligible++;
            id = all[i].id;
        }
    store_user_list_free(all, n);
    if (eligible == 0)
        return err_set(err, KT_ERR_INVALID, "user_required",
                       active_only ? "no active users yet: log in through the web UI first"
                                   : "no users yet: log in through the web UI first");
    if (eligible > 1)
        return err_set(err, KT_ERR_INVALID, "user_required",
                       "%zu %susers: name one with --user (see keeptrack users list)", eligible,
                       active_only ? "active " : "");
    *out = id;
    return KT_OK;
}

int cli_open_for_user(kt_config *cfg, const char *command, const char *who, kt_app **app,
                      int64_t *uid)
{
    kt_err err = {0};
    kt_app *a = NULL;
    store *s = NULL;
    int64_t id = 0;
    if (app_open(cfg, 1, &a, &err) != KT_OK)
        return cli_fail("opening keeptrack", &err);
    if (app_db_get(a, &s, &err) != KT_OK) {
        app_close(a);
        return cli_fail("opening the database", &err);
    }
    kt_status st = cli_pick_user(s, who, 1, &id, &err);
    app_db_put(a, s);
    if (st != KT_OK) {
        app_close(a);
        return cli_fail(command, &err);
    }
    *app = a;
    *uid = id;
    return 0;
}
