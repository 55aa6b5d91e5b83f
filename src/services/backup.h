/* backup.h - whole-database backups: snapshot, checksum, retention,
 * off-site copy, restore. Called by `keeptrack backup`, `keeptrack
 * restore-backup` and the scheduled "backup" job; no HTTP here.
 *
 * A backup is one file in the backup directory (KEEPTRACK_BACKUP_DIR,
 * default <data_dir>/backups), named by its UTC time and back-end:
 *     keeptrack-YYYYMMDDTHHMMSSZ.sqlite   (SQLite, made with VACUUM INTO)
 *     keeptrack-YYYYMMDDTHHMMSSZ.pgdump   (PostgreSQL, pg_dump custom format
 *                                          of keeptrack's schema)
 * next to a checksum file "<name>.sha256" in sha256sum's format
 * ("<64 hex>  <name>\n", so `sha256sum -c` verifies it). Both are written
 * 0600 under a temporary name and renamed into place, so a listed backup is
 * always complete. Backups are snapshots that stay consistent while the
 * server writes (see store_backup.h and pg_dump's snapshot). They hold the
 * tokens only as the database does, sealed by the vault: keep the key
 * (KEEPTRACK_SECRET_KEY or the key file) safe separately, a backup cannot
 * be used to log in without it.
 *
 * Off-site copy: with KEEPTRACK_BACKUP_RCLONE_REMOTE set (e.g.
 * "gdrive:keeptrack"), `rclone copyto` sends the file and its checksum to
 * "<remote>/<name>" (rclone's own config, RCLONE_CONFIG, holds the remote's
 * credentials). Retention applies to the local directory only.
 *
 * Thread use: every function is thread-safe; a `store *` argument is used by
 * the calling thread only (store.h rules).
 */
#ifndef KT_SERVICES_BACKUP_H
#define KT_SERVICES_BACKUP_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"
#include "store/store.h"

#define BACKUP_NAME_MAX 64            /* a backup file name, with its NUL */
#define BACKUP_DIR_ENTRIES_MAX 100000 /* bound on a listed backup directory */

typedef enum backup_kind { BACKUP_SQLITE, BACKUP_PGDUMP } backup_kind;

/* What backup_run did. Paths are absolute or as configured. */
typedef struct backup_result {
    char path[4096]; /* the backup file */
    char sha256[65]; /* its checksum, lower-case hex */
    int64_t bytes;   /* its size */
    int offsite;     /* 1 when copied to the rclone remote */
    int pruned;      /* backups deleted by retention */
} backup_result;

/* --- names and retention (pure) ---------------------------------------- */

/* Writes "keeptrack-YYYYMMDDTHHMMSSZ.<ext>" for ms (truncated to the second)
 * into out. */
void backup_name_format(int64_t ms, backup_kind kind, char out[BACKUP_NAME_MAX]);

/* Parses a backup file name (no directory). Returns 1 and fills *ms (the
 * second it names, UTC) and *kind when name is exactly such a name with a
 * valid date and time; 0 for anything else (temp files, checksums, other
 * files). ms and kind may be NULL. */
int backup_name_parse(const char *name, int64_t *ms, backup_kind *kind);

/* The retention rule. times_ms[0..n) are backup times, in any order;
 * keep[i] is set to 1 for each backup to keep and 0 for each to delete:
 *   - daily: for each of the `keep_daily` most recent UTC calendar days that
 *     have at least one backup, the newest backup of that day is kept;
 *   - weekly: for each of the `keep_weekly` most recent ISO weeks (Monday
 *     00:00 UTC to Sunday 24:00 UTC) that have at least one backup, the
 *     newest backup of that week is kept (the two rules count independently:
 *     one backup may satisfy both);
 *   - the newest backup overall is always kept (so a backup just made is
 *     never deleted, even with both counts 0);
 *   - everything else is deleted.
 * Days and weeks without backups are skipped, not counted, so a machine that
 * was off for a month still keeps N + M backups. Negative counts act as 0. */
void backup_retention(const int64_t *times_ms, size_t n, int keep_daily, int keep_weekly,
                      unsigned char *keep);

/* --- files -------------------------------------------------------------- */

/* Computes the SHA-256 of the file at path (streamed) into hex.
 * KT_ERR_NOT_FOUND / KT_ERR_IO naming the file. */
kt_status backup_sha256_file(const char *path, char hex[65], kt_err *err);

/* Writes "<path>.sha256" holding "<hex>  <basename(path)>\n", 0600,
 * atomically. KT_ERR_IO. */
kt_status backup_checksum_write(const char *path, const char hex[65], kt_err *err);

/* Checks path against "<path>.sha256". KT_ERR_NOT_FOUND when either file is
 * missing, KT_ERR_INVALID (code checksum_malformed) when the checksum file is
 * not in sha256sum format, KT_ERR_CRYPTO (code checksum_mismatch) when the
 * file's digest differs: it must not be restored. The messages say which. */
kt_status backup_verify(const char *path, kt_err *err);

/* Applies backup_retention to the backups in dir (files whose names
 * backup_name_parse accepts; anything else is never touched), deleting each
 * dropped backup and its .sha256. *deleted (may be NULL) receives how many
 * backups were deleted. KT_ERR_IO when the directory cannot be read or a
 * file cannot be deleted (the others are still tried). */
kt_status backup_prune(const char *dir, int keep_daily, int keep_weekly, int *deleted, kt_err *err);

/* --- the operations ----------------------------------------------------- */

/* Makes a snapshot of the database s is connected to (cfg->db; s must be
 * outside a transaction) in cfg->backup_dir (created 0700), named for
 * now_ms, with its checksum. PostgreSQL needs pg_dump on PATH (the same
 * major version as the server, or newer): KT_ERR_NOT_FOUND (code
 * pg_dump_missing) otherwise. KT_ERR_CONFLICT when a backup of that second
 * already exists. On failure no backup file is left behind. */
kt_status backup_create(const kt_config *cfg, store *s, int64_t now_ms, backup_result *out,
                        kt_err *err);

/* Copies path and path.sha256 to the rclone remote (rclone copyto, argv
 * only; stderr captured for the message). KT_ERR_NOT_FOUND (code
 * rclone_missing) when rclone is not on PATH; KT_ERR_UPSTREAM (code
 * offsite_failed) with rclone's last error line when it fails. */
kt_status backup_offsite_copy(const char *remote, const char *path, kt_err *err);

/* A whole backup as the CLI and the job run it: backup_create, then the
 * off-site copy when cfg->backup_rclone_remote is set, then backup_prune.
 * When the off-site copy or pruning fails, the local backup is kept, the
 * error is returned, and *out is filled all the same (offsite 0 when the
 * copy failed): out->path is non-empty exactly when a backup was made (the
 * caller sets path[0] = '\0' first). The off-site error wins over a pruning
 * error; pruning runs in both cases. */
kt_status backup_run(const kt_config *cfg, store *s, int64_t now_ms, backup_result *out,
                     kt_err *err);

/* Restores the backup at path into cfg->db. Verifies the checksum first
 * (nothing is touched on a mismatch), refuses a backup of the other
 * back-end (KT_ERR_INVALID), then:
 *   SQLite: refuses when another connection has the database open
 *     (KT_ERR_CONFLICT: stop the server), copies the backup next to the
 *     database, keeps the current file as "<db>.before-restore" and renames
 *     the copy into place;
 *   PostgreSQL: refuses while other keeptrack connections use the database,
 *     sets the schema aside as "<schema>_before_restore", runs pg_restore
 *     --clean --if-exists --single-transaction --no-owner, and puts the old
 *     schema back if pg_restore fails;
 * and finally applies migrations (a backup of an older version is brought
 * up to date). *kept (may be NULL) receives where the previous data went
 * ("" when there was none). */
kt_status backup_restore(const kt_config *cfg, const char *path, char kept[4096], kt_err *err);

#endif
