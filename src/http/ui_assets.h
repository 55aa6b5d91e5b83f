/* ui_assets.h - the web UI's files, compiled into the binary.
 *
 * The table is generated at build time by scripts/embed-assets.py from
 * the files of src/http/ui/ (a meson custom_target writes ui_assets.c); routes_ui.c
 * serves it. Nothing is read from disk at run time, so a path can only
 * ever name one of these entries.
 */
#ifndef KT_HTTP_UI_ASSETS_H
#define KT_HTTP_UI_ASSETS_H

#include <stddef.h>

typedef struct ui_asset {
    const char *name;         /* base name, e.g. "app.js" */
    const char *content_type; /* e.g. "text/javascript; charset=utf-8" */
    const unsigned char *data;
    size_t len;
    const char *etag; /* strong ETag, quoted: a hash of data */
} ui_asset;

/* Sorted by name (strcmp order). Static data: safe from any thread. */
extern const ui_asset ui_assets[];
extern const size_t ui_assets_count;
/* A hash over every asset but index.html; index.html links
 * /ui/<version>/<name>. */
extern const char ui_assets_version[];

#endif
