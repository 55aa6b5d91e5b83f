/* cmd_backup.c - `keeptrack backup`: one consistent snapshot of the
 * database now, its checksum, the off-site copy when configured, then
 * retention (services/backup.h does the work). Safe while `keeptrack serve`
 * runs.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "core/timeutil.h"
#include "services/backup.h"
#include "store/store.h"

int cmd_backup(kt_config *cfg, int argc, char **argv)
{
    store *s = NULL;
    kt_err err = {0};
    backup_result res = {.path = ""};
    struct stat sb;
    int rc = 1;
    if (argc > 1) {
        fprintf(stderr, "keeptrack backup: unexpected argument '%s'\n", argv[1]);
        return 2;
    }
    /* store_open would create an empty SQLite file: there is nothing to back up. */
    if (strstr(cfg->db, "://") == NULL && stat(cfg->db, &sb) != 0) {
        fprintf(stderr, "keeptrack: backup: no database at %s (check KEEPTRACK_DB)\n", cfg->db);
        return 1;
    }
    if (store_open(cfg->db, &s, &err) != KT_OK) {
        rc = cli_fail("backup", &err);
        goto out;
    }
    kt_status st = backup_run(cfg, s, time_now_ms(), &res, &err);
    if (st != KT_OK && !res.path[0]) {
        rc = cli_fail("backup", &err);
        goto out;
    }
    printf("backup %s (%lld bytes, sha256 %s)\n", res.path, (long long)res.bytes, res.sha256);
    if (res.offsite)
        printf("copied to %s\n", cfg->backup_rclone_remote);
    printf("retention removed %d old backup(s)\n", res.pruned);
    rc = st == KT_OK ? 0 : cli_fail("backup made locally, but", &err);
out:
    store_close(s);
    return rc;
}
