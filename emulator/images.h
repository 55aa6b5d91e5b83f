/* images.h - the emulator's own cover art, so a demo or test that shows
 * covers works offline and with no request to Spotify's CDN.
 *
 * Catalog objects' images[].url point at GET <base>/image/<size>/<key>
 * (images_url); that path answers a small SVG drawn from the key alone
 * (the same picture for every size of one album, a different one per
 * album), `size` pixels wide. These requests are not Web API calls: like
 * the real CDN they need no token, get no faults and are not counted in
 * the request statistics, so a browser loading covers never changes the
 * request counts tests assert. An uploaded playlist cover (PUT
 * /v1/playlists/{id}/images) is served the same way at
 * GET <base>/image/ugc/<key> (images_cover_url), as the JPEG bytes.
 */
#ifndef EM_IMAGES_H
#define EM_IMAGES_H

#include <microhttpd.h>
#include <stdbool.h>

#include "library.h"
#include "util.h"

/* Appends the JSON string "<base>/image/<size>/<key>" to w, where base is
 * api (".../v1", as em_out.api) without its "/v1". key: a Spotify id. */
void images_url(jw *w, const char *api, int size, const char *key);

/* Appends the JSON string "<base>/image/ugc/<key>": the URL of an uploaded
 * cover, key being the first 32 digits of its hex SHA-256 (so the URL
 * changes exactly when the bytes do, like Spotify's i.scdn.co URLs). */
void images_cover_url(jw *w, const char *api, const char *sha256_hex);

/* How many uploaded covers (GET /image/ugc/<key>, 200) were served since
 * start (GET /__emulator/images). Thread-safe. */
unsigned long long images_covers_served(void);

/* True when url is under /image/ (the caller then calls images_answer). */
bool images_is_path(const char *url);

/* Queues the answer to GET or HEAD /image/<size>/<key>: 200 image/svg+xml,
 * cacheable for a day; GET /image/ugc/<key>: 200 image/jpeg, the uploaded
 * cover's bytes (looked up in lib under its read lock); 404 for any other
 * path under /image/ (or a cover no playlist has), 405 for other methods.
 * Returns MHD's result of queueing it. Thread-safe. */
enum MHD_Result images_answer(struct MHD_Connection *conn, em_library *lib, const char *method,
                              const char *url);

#endif
