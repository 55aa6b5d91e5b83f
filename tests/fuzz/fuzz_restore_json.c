/* fuzz_restore_json.c - fuzz harness: the keeptrack JSON export as a restore
 * upload (src/services/restore_parse.h, restore_parse_json), the file a user
 * uploads to POST /api/restore or `keeptrack restore`.
 *
 * Properties:
 * - an error leaves the input untouched (no playlist, no liked songs) and
 *   carries a message;
 * - a success stays within the RESTORE_MAX_* bounds, every URI is addable,
 *   a local file, or NULL (an entry gone from Spotify), every playlist has a
 *   name;
 * - round trip: restore_input_to_json of the parsed input parses back to an
 *   equal input (restore_parse_json's promise), and serialises to the same
 *   text again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "services/restore_parse.h"

#define MAX_INPUT (256 * 1024)

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_restore_json: property broken: %s\n", what);
        abort();
    }
}

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_items(const restore_item *v, size_t n, size_t max)
{
    check(n <= max, "item count within bounds");
    for (size_t i = 0; i < n; i++)
        check(!v[i].uri || restore_uri_addable(v[i].uri) || restore_uri_local(v[i].uri),
              "every uri addable, local or NULL");
}

static int same_items(const restore_item *a, const restore_item *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!same_str(a[i].uri, b[i].uri) || a[i].added_at != b[i].added_at)
            return 0;
    return 1;
}

static void check_equal(const restore_input *a, const restore_input *b)
{
    check(a->has_liked == b->has_liked && a->n_liked == b->n_liked, "round trip: liked count");
    check(same_items(a->liked, b->liked, a->n_liked), "round trip: liked songs");
    check(a->n_playlists == b->n_playlists, "round trip: playlist count");
    for (size_t i = 0; i < a->n_playlists; i++) {
        const restore_playlist *p = &a->playlists[i], *q = &b->playlists[i];
        check(same_str(p->id, q->id) && same_str(p->name, q->name) &&
                  same_str(p->description, q->description),
              "round trip: playlist fields");
        check(p->items_known == q->items_known && p->n == q->n && same_items(p->items, q->items, p->n),
              "round trip: playlist items");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    restore_input *in = restore_input_new(), *again = restore_input_new();
    char *text = NULL, *text2 = NULL;
    kt_err err = {0};
    check(in && again, "memory");
    kt_status st = restore_parse_json("export.json", (const char *)data, size, in, &err);
    if (st != KT_OK) {
        check(err.msg[0] != '\0', "error has a message");
        check(in->n_playlists == 0 && in->n_liked == 0 && !in->has_liked, "error leaves input unchanged");
        goto out;
    }
    check(in->n_playlists <= RESTORE_MAX_PLAYLISTS, "playlist count within bounds");
    check_items(in->liked, in->n_liked, RESTORE_MAX_LIKED);
    for (size_t i = 0; i < in->n_playlists; i++) {
        check(in->playlists[i].name != NULL, "playlist has a name");
        check_items(in->playlists[i].items, in->playlists[i].n, RESTORE_MAX_ITEMS);
    }
    text = restore_input_to_json(in);
    check(text != NULL, "to_json");
    kt_err err2 = {0};
    check(restore_parse_json("export.json", text, strlen(text), again, &err2) == KT_OK,
          "round trip parses");
    check_equal(in, again);
    text2 = restore_input_to_json(again);
    check(text2 != NULL && strcmp(text, text2) == 0, "round trip: same text");
out:
    free(text);
    free(text2);
    restore_input_free(in);
    restore_input_free(again);
    return 0;
}
