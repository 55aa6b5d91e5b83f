/* cmd_import_history.c - `keeptrack import-history [--user USER] FILE...`:
 * imports Spotify's data-export listening history (.json files or the
 * my_spotify_data.zip) into a user's plays with history_import, and prints
 * the report. Runs in the foreground, synchronously; a file that failed
 * half-way keeps what was committed and a later run of the same command
 * continues it. Exit status 0 when every file imported, 1 when any failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "services/history_import.h"
#include "store/store.h"
#include "store/store_auth.h"

static void print_report(const history_report *r)
{
    for (size_t i = 0; i < r->n_files; i++) {
        const history_file_report *f = &r->files[i];
        if (strcmp(f->status, "ignored") == 0)
            continue;
        printf("%s: %s, %lld records", f->name, f->status, (long long)f->records);
        if (f->resumed_after > 0)
            printf(" (continued after record %lld)", (long long)f->resumed_after);
        printf(": %lld imported, %lld duplicates, %lld skipped, %lld rejected\n",
               (long long)f->imported, (long long)f->duplicates, (long long)f->skipped,
               (long long)f->rejected);
        if (f->error)
            printf("  error: %s\n", f->error);
    }
    printf("total: %lld imported, %lld duplicates, %lld skipped, %lld rejected\n",
           (long long)r->imported, (long long)r->duplicates, (long long)r->skipped,
           (long long)r->rejected);
    for (int i = 0; i < HR_COUNT; i++)
        if (r->reasons[i])
            printf("  %-24s %lld\n", history_reason_name((history_reason)i),
                   (long long)r->reasons[i]);
    for (size_t i = 0; i < r->n_examples; i++)
        printf("  %s record %lld: %s: %s\n", r->examples[i].file, (long long)r->examples[i].record,
               history_reason_name(r->examples[i].reason), r->examples[i].detail);
    if (r->examples_dropped)
        printf("  (%lld more not listed)\n", (long long)r->examples_dropped);
}

int cmd_import_history(kt_config *cfg, int argc, char **argv)
{
    const char *who = NULL;
    history_input *in = NULL;
    history_report *rep = NULL;
    history_options o = {.min_ms = cfg->history_min_ms};
    size_t n = 0;
    store *s = NULL;
    kt_err err = {0};
    int64_t uid = 0;
    int rc = 1;
    if ((in = calloc((size_t)argc + 1, sizeof *in)) == NULL)
        return 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--user") == 0 && i + 1 < argc)
            who = argv[++i];
        else if (strncmp(argv[i], "--user=", 7) == 0)
            who = argv[i] + 7;
        else
            in[n++].path = argv[i];
    }
    if (n == 0) {
        fprintf(stderr, "usage: keeptrack import-history [--user USER] FILE...\n");
        free(in);
        return 2;
    }
    if (store_open(cfg->db, &s, &err) != KT_OK || store_migrate(s, &err) != KT_OK) {
        rc = cli_fail("opening the database", &err);
        goto out;
    }
    if (cli_pick_user(s, who, 0, &uid, &err) != KT_OK) {
        rc = cli_fail("import-history", &err);
        goto out;
    }
    if (history_import(s, uid, in, n, &o, &rep, &err) != KT_OK) {
        rc = cli_fail("importing history", &err);
        goto out;
    }
    print_report(rep);
    rc = rep->failed_files ? 1 : 0;
out:
    history_report_free(rep);
    store_close(s);
    free(in);
    return rc;
}
