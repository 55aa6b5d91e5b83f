/* store_backup.h - the database side of backups and restores
 * (src/services/backup.c drives them; pg_dump/pg_restore run outside).
 *
 * SQLite snapshots use `VACUUM INTO`, not the online backup API: VACUUM
 * INTO reads the whole database inside ONE read transaction, so in WAL mode
 * it is a consistent snapshot that never blocks the server's writers and
 * never restarts; the backup API, stepped while another connection writes,
 * restarts from the first page after every write and may never finish under
 * a steady writer (and done in one step it holds the read lock just as
 * long). The copy is also compacted (no free pages).
 *
 * PostgreSQL: keeptrack's tables live in one schema (the connection's
 * current_schema(), `public` unless KEEPTRACK_DB sets search_path), and a
 * backup is that schema. A restore first sets the current schema aside
 * under "<schema>_before_restore" (the counterpart of SQLite's
 * .before-restore file), so a failed pg_restore can put it back untouched.
 *
 * Threads: like every store function, one `store *` per thread at a time.
 */
#ifndef KT_STORE_STORE_BACKUP_H
#define KT_STORE_STORE_BACKUP_H

#include "core/err.h"
#include "store/store.h"

/* Longest schema name backups handle (so "<name>_before_restore" fits
 * PostgreSQL's 63-byte identifiers). */
#define STORE_BACKUP_SCHEMA_MAX 48
#define STORE_BACKUP_ASIDE_SUFFIX "_before_restore"

/* SQLite only: writes a consistent copy of the database to dest_path, which
 * must not exist or be an empty file. Must not be called inside a
 * transaction. The copy is not fsynced (the caller does it). KT_ERR_INVALID
 * on PostgreSQL; KT_ERR_STORE when SQLite fails (disk full, ...). */
kt_status store_backup_sqlite_snapshot(store *s, const char *dest_path, kt_err *err);

/* SQLite only: checks that no other connection (in this or another process,
 * e.g. a running `keeptrack serve`) has the database at path open, and
 * leaves it self-contained: the WAL is checkpointed into the main file and
 * removed, so the file alone is the whole database. The database is locked
 * while this runs and released before it returns. KT_ERR_CONFLICT (code
 * db_in_use) when another connection holds it; KT_ERR_STORE otherwise. */
kt_status store_backup_sqlite_quiesce(const char *path, kt_err *err);

/* PostgreSQL only: the schema keeptrack's tables live in, copied into out.
 * KT_ERR_INVALID when it is not 1..STORE_BACKUP_SCHEMA_MAX characters of
 * [a-z0-9_] (backups name it on pg_dump's command line). */
kt_status store_backup_pg_schema(store *s, char out[STORE_BACKUP_SCHEMA_MAX + 1], kt_err *err);

/* PostgreSQL only: the number of other connections to this database whose
 * application_name is "keeptrack" (running servers or CLI commands). */
kt_status store_backup_pg_other_clients(store *s, int64_t *count, kt_err *err);

/* PostgreSQL only: in one transaction, drops an earlier
 * "<schema>_before_restore" and renames schema to it (when schema exists).
 * *moved is 1 when a schema was set aside. */
kt_status store_backup_pg_set_aside(store *s, const char *schema, int *moved, kt_err *err);

/* PostgreSQL only: undoes store_backup_pg_set_aside after a failed restore:
 * drops whatever `schema` now holds and renames the set-aside one back. */
kt_status store_backup_pg_put_back(store *s, const char *schema, kt_err *err);

#endif
