/* cmd_restore_backup.c - `keeptrack restore-backup FILE`: verify the
 * backup's checksum, replace the database with it (the previous data kept
 * aside), then migrate. The server must be stopped; the restore refuses
 * when it can see the database in use (services/backup.h).
 */
#include <stdio.h>

#include "cli/cli.h"
#include "services/backup.h"

int cmd_restore_backup(kt_config *cfg, int argc, char **argv)
{
    kt_err err = {0};
    char kept[4096] = "";
    if (argc != 2) {
        fprintf(stderr, "usage: keeptrack restore-backup FILE\n");
        return 2;
    }
    if (backup_restore(cfg, argv[1], kept, &err) != KT_OK)
        return cli_fail("restore-backup", &err);
    printf("restored %s into the database (checksum verified, migrations applied)\n", argv[1]);
    if (kept[0])
        printf("the previous data is kept as %s\n", kept);
    return 0;
}
