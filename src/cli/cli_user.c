/* cli_user.c - choosing the user a CLI command works for (cli.h):
 * `--user` as a numeric id or a Spotify account id, or the only active user.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "store/store_auth.h"

kt_status cli_pick_user(store *s, const char *who, int64_t *out, kt_err *err)
{
    store_user u, *all = NULL;
    size_t n = 0, active = 0;
    int64_t id = 0;
    memset(&u, 0, sizeof u);
    if (who) {
        size_t digits = strspn(who, "0123456789");
        kt_status rc = KT_ERR_NOT_FOUND;
        if (digits > 0 && digits == strlen(who) && digits < 19)
            rc = store_user_get(s, strtoll(who, NULL, 10), &u, err);
        if (rc != KT_OK && store_user_get_by_account(s, who, &u, err) != KT_OK)
            return err_set(err, KT_ERR_NOT_FOUND, "user_not_found",
                           "no user with id or account id '%.100s' (see keeptrack users list)",
                           who);
        *out = u.id;
        store_user_clear(&u);
        return KT_OK;
    }
    kt_status rc = store_user_list(s, &all, &n, err);
    if (rc != KT_OK)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (strcmp(all[i].status, STORE_USER_ACTIVE) == 0) {
            active++;
            id = all[i].id;
        }
    store_user_list_free(all, n);
    if (active != 1)
        return err_set(err, KT_ERR_INVALID, "user_required",
                       active == 0 ? "no active users yet: log in through the web UI first"
                                   : "several users: name one with --user (see keeptrack users "
                                     "list)");
    *out = id;
    return KT_OK;
}
