/* cmd_migrate.c - `keeptrack migrate`: apply pending migrations to
 * KEEPTRACK_DB and print the schema version before and after.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/fsutil.h"
#include "store/store.h"

int cmd_migrate(kt_config *cfg, int argc, char **argv)
{
    store *s = NULL;
    kt_err err = {0};
    int before = 0, after = 0, rc = 1;
    if (argc > 1) {
        fprintf(stderr, "keeptrack migrate: unexpected argument '%s'\n", argv[1]);
        return 2;
    }
    if (strstr(cfg->db, "://") == NULL && fs_mkdir_parent(cfg->db, 0700, &err) != KT_OK)
        return cli_fail("creating the database directory", &err);
    if (store_open(cfg->db, &s, &err) != KT_OK || store_schema_version(s, &before, &err) != KT_OK ||
        store_migrate(s, &err) != KT_OK || store_schema_version(s, &after, &err) != KT_OK) {
        rc = cli_fail("migrating", &err);
        goto out;
    }
    printf("schema version %d -> %d (latest %d)\n", before, after, store_schema_latest());
    rc = 0;
out:
    store_close(s);
    return rc;
}
