/* fuzz_restore_csv.c - the restore upload parsers (src/services/restore_parse.h):
 * the bytes as a CSV playlist file, as liked_songs.csv, and through the
 * content sniffer (zip, JSON export or CSV). Properties: a success adds
 * exactly one playlist (or Liked Songs) whose every URI is addable or a
 * local file (NULL for an empty cell) and stays within the bounds; an
 * error leaves the input untouched and carries a message naming the file.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "services/restore_parse.h"

static void check_items(const restore_item *v, size_t n, size_t max)
{
    if (n > max)
        abort();
    for (size_t i = 0; i < n; i++)
        if (v[i].uri && !restore_uri_addable(v[i].uri) && !restore_uri_local(v[i].uri))
            abort();
}

static void one(const char *name, const char *data, size_t size, int sniff)
{
    restore_input *in = restore_input_new();
    kt_err err = {0};
    if (!in)
        return;
    kt_status st = sniff ? restore_parse_file(name, data, size, in, &err)
                         : restore_parse_csv(name, data, size, in, &err);
    if (st != KT_OK) {
        if (in->n_playlists || in->has_liked || !err.msg[0] || !strstr(err.msg, name))
            abort();
    } else {
        for (size_t i = 0; i < in->n_playlists; i++)
            check_items(in->playlists[i].items, in->playlists[i].n, RESTORE_MAX_ITEMS);
        check_items(in->liked, in->n_liked, RESTORE_MAX_LIKED);
        if (!sniff && in->n_playlists + (size_t)in->has_liked != 1)
            abort();
        char *text = restore_input_to_json(in);
        restore_input *back = restore_input_new();
        if (text && back &&
            (restore_parse_json("again", text, strlen(text), back, &err) != KT_OK ||
             back->n_playlists != in->n_playlists || back->n_liked != in->n_liked))
            abort();
        restore_input_free(back);
        free(text);
    }
    restore_input_free(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one("fuzz.csv", (const char *)data, size, 0);
    one("liked_songs.csv", (const char *)data, size, 0);
    one("upload", (const char *)data, size, 1);
    return 0;
}
