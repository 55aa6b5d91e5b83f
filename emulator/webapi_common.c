/* webapi_common.c - helpers shared by the Web API handlers (see webapi.h). */
#include "webapi.h"

#include <stdlib.h>
#include <string.h>

em_out wa_out(em_app *app)
{
    em_out o = {app->lib, atomic_load(&app->mode_ext), app->api_url};
    return o;
}

bool wa_paging(em_req *r, em_resp *out, long deflimit, long maxlimit, long *offset, long *limit)
{
    const char *l = req_arg(r, "limit"), *o = req_arg(r, "offset");
    long lv = deflimit, ov = 0;
    if (l && !parse_long(l, 1, maxlimit, &lv)) {
        resp_error(out, 400, "Invalid limit");
        return false;
    }
    if (o && !parse_long(o, 0, 100000000, &ov)) {
        resp_error(out, 400, "Invalid offset");
        return false;
    }
    *offset = ov;
    *limit = lv;
    return true;
}

json_t *wa_json_body(em_req *r, em_resp *out)
{
    json_error_t jerr;
    json_t *j = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        resp_error(out, 400, "Error parsing JSON.");
        return NULL;
    }
    return j;
}

int wa_split(const char *csv, char *items[], int max, char **storage)
{
    *storage = xstrdup(csv);
    int n = 0;
    for (char *save = NULL, *t = strtok_r(*storage, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ') t++;
        if (!*t) continue;
        if (n == max) return -1;
        items[n++] = t;
    }
    return n;
}

int wa_uris(em_req *r, json_t *body, char *items[], int max, char **storage)
{
    const char *q = req_arg(r, "uris");
    *storage = NULL;
    if (q) return wa_split(q, items, max, storage);
    json_t *arr = body ? json_object_get(body, "uris") : NULL;
    if (!json_is_array(arr)) return 0;
    size_t n = json_array_size(arr), total = 0;
    if (n > (size_t)max) return -1;
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        total += (s ? strlen(s) : 0) + 1;
    }
    *storage = xmalloc(total + 1);
    char *p = *storage;
    int k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        size_t l = s ? strlen(s) : 0;
        memcpy(p, s ? s : "", l + 1);
        items[k++] = p;
        p += l + 1;
    }
    return k;
}

uint32_t wa_lookup(em_resp *out, const em_library *lib, const char *id,
                   uint32_t (*lookup)(const em_library *, const char *))
{
    /* Unknown and malformed ids both answer 404 (the emulator's contract). */
    uint32_t ix = id ? lookup(lib, id) : NONE;
    if (ix == NONE) resp_error(out, 404, "Resource not found");
    return ix;
}
