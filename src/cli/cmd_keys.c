/* cmd_keys.c - `keeptrack keys rotate|generate`.
 *
 * rotate: with a key file, a new key is written at its top (the old ones
 * stay readable), every sealed column is re-encrypted under it in ONE
 * transaction (store_auth_reseal_all), and only then are the old keys
 * dropped from the file. A failure before the commit leaves every blob as it
 * was and the file with both keys, so running rotate again is safe. With
 * KEEPTRACK_SECRET_KEY the key lives outside keeptrack: the operator sets
 * the new key there and the old one in KEEPTRACK_SECRET_KEY_PREVIOUS, and
 * rotate re-encrypts under the new one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli/cli.h"
#include "core/crypto.h"
#include "core/fsutil.h"
#include "services/app.h"
#include "store/store.h"
#include "store/store_auth.h"

static kt_status reseal_one(void *ctx, int64_t user_id, const char *column,
                            const unsigned char *blob, size_t len, unsigned char **out,
                            size_t *out_len, kt_err *err)
{
    vault *v = ctx;
    if (!vault_needs_reseal(v, blob, len)) {
        *out = NULL;
        return KT_OK;
    }
    return vault_reseal(v, user_id, column, blob, len, out, out_len, err);
}

static int rotate(kt_config *cfg)
{
    vault *v = NULL;
    store *s = NULL;
    kt_err err = {0};
    int64_t count = 0;
    int rc = 1;
    int from_env = cfg->secret_key != NULL;

    if (strstr(cfg->db, "://") == NULL && fs_mkdir_parent(cfg->db, 0700, &err) != KT_OK) {
        rc = cli_fail("creating the database directory", &err);
        goto out;
    }
    if (app_vault_open(cfg, &v, &err) != KT_OK) {
        rc = cli_fail("opening the key", &err);
        goto out;
    }
    if (store_open(cfg->db, &s, &err) != KT_OK || store_migrate(s, &err) != KT_OK) {
        rc = cli_fail("opening the database", &err);
        goto out;
    }
    if (!from_env && vault_rotate_file(v, &err) != KT_OK) {
        rc = cli_fail("writing the new key", &err);
        goto out;
    }
    if (store_auth_reseal_all(s, reseal_one, v, vault_key_id(v), &count, &err) != KT_OK) {
        rc = cli_fail("re-encrypting (nothing was changed; the old key still works)", &err);
        goto out;
    }
    if (!from_env && vault_drop_old_keys(v, &err) != KT_OK) {
        rc = cli_fail("dropping the old keys (data is already re-encrypted; run rotate again)",
                      &err);
        goto out;
    }
    printf("re-encrypted %lld value(s) under key %s\n", (long long)count, vault_key_id(v));
    if (from_env)
        printf("KEEPTRACK_SECRET_KEY_PREVIOUS is no longer needed: remove it.\n");
    rc = 0;
out:
    store_close(s);
    vault_free(v);
    return rc;
}

int cmd_keys(kt_config *cfg, int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "rotate") == 0)
        return rotate(cfg);
    if (argc == 2 && strcmp(argv[1], "generate") == 0) {
        char *key = vault_generate_key_b64();
        if (key == NULL) {
            fprintf(stderr, "keeptrack: out of memory\n");
            return 1;
        }
        printf("%s\n", key);
        sodium_memzero(key, strlen(key));
        free(key);
        return 0;
    }
    fprintf(stderr, "usage: keeptrack keys rotate | keys generate\n");
    return 2;
}
