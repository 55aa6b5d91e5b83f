/* cmd_fromtops.c - `keeptrack tops-playlist [--user USER] (--id ID |
 * --source spotify|history [--range R] [--period P] [--from T] [--to T]
 * [--by plays|time] [--limit N] [--name NAME] [--refresh none|weekly|monthly])`:
 * writes a playlist from top tracks in the foreground (fromtops_run, what
 * the "fromtops" job runs). --source saves the definition first, exactly
 * as POST /api/playlists/from-tops does (the same ranking finds the same
 * definition, so a later run replaces the same playlist); --id runs a
 * saved one.
 *
 * The outcome goes to stdout:
 *   top tracks (definition D) into playlist <id> "<name>": N tracks[, replaced], R requests
 * Exit status 0 on success, 1 when it failed or was deferred, 2 for bad
 * usage (a bad option is named). Without --user the only active user is
 * used.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/timeutil.h"
#include "services/app.h"
#include "services/fromtops.h"

#define CMD "tops-playlist"

static void on_progress(void *ctx, int64_t done, int64_t total, const char *msg)
{
    (void)ctx;
    fprintf(stderr, CMD ": %lld/%lld %s\n", (long long)done, (long long)total, msg);
}

static int usage(const char *what, const char *arg)
{
    fprintf(stderr, "keeptrack: " CMD ": %s '%s' (see keeptrack " CMD " --help)\n", what, arg);
    return 2;
}

/* "--limit" is a number in the request; every other option a string. */
static int set_option(json_t *body, const char *key, const char *value)
{
    if (strcmp(key, "limit") == 0) {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || !*value || *end)
            return json_object_set_new(body, key, json_string(value)); /* named below */
        return json_object_set_new(body, key, json_integer(v));
    }
    return json_object_set_new(body, key, json_string(value));
}

int cmd_fromtops(kt_config *cfg, int argc, char **argv)
{
    static const char *const keys[] = {"source", "range", "period", "from", "to",
                                       "by",     "limit", "name",   "refresh"};
    const char *who = NULL, *id_arg = NULL;
    json_t *body = json_object(), *def = NULL;
    shuffle_result res;
    kt_err err = {0};
    kt_app *app = NULL;
    int64_t uid = 0, def_id = 0;
    int rc = 2;
    if (body == NULL) {
        fprintf(stderr, "keeptrack: " CMD ": out of memory\n");
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (strncmp(opt, "--", 2) != 0 || i + 1 >= argc) {
            rc = usage("unknown or incomplete argument", opt);
            goto out;
        }
        const char *value = argv[++i];
        if (strcmp(opt, "--user") == 0) {
            who = value;
            continue;
        }
        if (strcmp(opt, "--id") == 0) {
            id_arg = value;
            continue;
        }
        size_t k = 0;
        while (k < sizeof keys / sizeof keys[0] && strcmp(opt + 2, keys[k]) != 0)
            k++;
        if (k == sizeof keys / sizeof keys[0]) {
            rc = usage("unknown argument", opt);
            goto out;
        }
        if (set_option(body, keys[k], value) != 0) {
            fprintf(stderr, "keeptrack: " CMD ": out of memory\n");
            rc = 1;
            goto out;
        }
    }
    if (id_arg ? json_object_size(body) > 0 : json_object_get(body, "source") == NULL) {
        fprintf(stderr, "keeptrack: " CMD ": give either --id of a saved definition or "
                        "--source and its options\n");
        goto out;
    }
    if (id_arg) {
        char *end = NULL;
        def_id = strtoll(id_arg, &end, 10);
        if (!*id_arg || *end || def_id <= 0) {
            rc = usage("--id: expected a definition id, not", id_arg);
            goto out;
        }
    }
    rc = 1;
    if (cli_open_for_user(cfg, CMD, who, &app, &uid) != 0)
        goto out;
    kt_status st = KT_OK;
    if (!id_arg) {
        st = fromtops_save(app, uid, body, time_now_ms(), &def_id, &def, &err);
        if (st == KT_ERR_INVALID && strcmp(err.code, "bad_parameter") == 0) {
            fprintf(stderr, "keeptrack: " CMD ": --%s\n", err.msg);
            rc = 2;
            goto out;
        }
    }
    if (st == KT_OK)
        st = fromtops_run(app, uid, def_id, on_progress, NULL, &res, &err);
    if (st != KT_OK) {
        rc = cli_fail(CMD, &err);
        goto out;
    }
    printf("top tracks (definition %lld) into playlist %s \"%s\": %lld tracks%s, %lld requests\n",
           (long long)def_id, res.playlist_id, res.name, (long long)res.tracks,
           res.replaced ? ", replaced" : "", (long long)res.requests);
    rc = 0;
out:
    app_close(app);
    json_decref(def);
    json_decref(body);
    return rc;
}
