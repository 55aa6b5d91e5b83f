/* cmd_trending.c - `keeptrack trending-playlist [--user USER] [--name
 * NAME]`: writes the user's trending list into their trending playlist in
 * the foreground (trending_playlist, the same service the
 * "trending_playlist" job runs; a later run replaces the same playlist's
 * tracks).
 *
 * The outcome goes to stdout:
 *   trending list into playlist <id> "<name>": N tracks[, replaced], R requests
 * Exit status 0 on success, 1 when it failed or was deferred (an empty
 * list included), 2 for bad usage. Without --user the only active user is
 * used.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "services/app.h"
#include "services/trending.h"

/* Progress as plain lines on stderr: a list is at most a few requests. */
static void on_progress(void *ctx, int64_t done, int64_t total, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "trending-playlist: %lld/%lld %s\n", (long long)done, (long long)total, msg);
}

int cmd_trending_playlist(kt_config *cfg, int argc, char **argv)
{
    const char *who = NULL, *name = NULL;
    shuffle_result res;
    kt_err err = {0};
    kt_app *app = NULL;
    int64_t uid = 0;
    for (int i = 1; i < argc; i++) {
        const char **slot = strcmp(argv[i], "--user") == 0   ? &who
                            : strcmp(argv[i], "--name") == 0 ? &name
                                                             : NULL;
        if (slot && i + 1 < argc) {
            *slot = argv[++i];
            continue;
        }
        fprintf(stderr,
                "keeptrack: trending-playlist: unknown or incomplete argument '%s' (see "
                "keeptrack trending-playlist --help)\n",
                argv[i]);
        return 2;
    }
    if (name && (name[0] == '\0' || strlen(name) > SHUFFLE_NAME_MAX)) {
        fprintf(stderr, "keeptrack: trending-playlist: --name: expected 1..%d bytes\n",
                SHUFFLE_NAME_MAX);
        return 2;
    }
    if (cli_open_for_user(cfg, "trending-playlist", who, &app, &uid) != 0)
        return 1;
    kt_status st = trending_playlist(app, uid, name, on_progress, NULL, &res, &err);
    app_close(app);
    if (st != KT_OK)
        return cli_fail("trending-playlist", &err);
    printf("trending list into playlist %s \"%s\": %lld tracks%s, %lld requests\n",
           res.playlist_id, res.name, (long long)res.tracks, res.replaced ? ", replaced" : "",
           (long long)res.requests);
    return 0;
}
