/* request.c - form bodies and route templates of the emulator (see request.h). */
#include "request.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static char *form_decode(const char *s, size_t n)
{
    char *o = xmalloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') o[k++] = ' ';
        else if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            o[k++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else o[k++] = s[i];
    }
    o[k] = '\0';
    return o;
}

void em_form_parse(const char *body, em_form *f)
{
    memset(f, 0, sizeof(*f));
    const char *p = body;
    while (*p && f->n < EM_FORM_MAX_FIELDS) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (len) {
            size_t kl = eq ? (size_t)(eq - p) : len;
            f->keys[f->n] = form_decode(p, kl);
            f->vals[f->n] = eq ? form_decode(eq + 1, len - kl - 1) : xstrdup("");
            f->n++;
        }
        if (!amp) break;
        p = amp + 1;
    }
}

const char *em_form_get(const em_form *f, const char *k)
{
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->keys[i], k) == 0) return f->vals[i];
    return NULL;
}

void em_form_free(em_form *f)
{
    for (int i = 0; i < f->n; i++) {
        sodium_memzero(f->vals[i], strlen(f->vals[i]));
        free(f->keys[i]);
        free(f->vals[i]);
    }
    f->n = 0;
}

int em_path_split(char *path, const char *segs[EM_PATH_MAX_SEGS])
{
    int nseg = 0;
    for (char *save = NULL, *s = strtok_r(path, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
        if (nseg == EM_PATH_MAX_SEGS) return -1;
        segs[nseg++] = s;
    }
    return nseg;
}

int em_route_matches(const char *tmpl, const char *const *segs, int nseg,
                     const char *caps[EM_ROUTE_MAX_CAPS])
{
    int k = 0, np = 0;
    for (const char *t = tmpl; *t;) {
        while (*t == '/') t++;
        if (!*t) break;
        size_t len = strcspn(t, "/");
        if (k >= nseg) return 0;
        if (t[0] == '{') {
            if (np < EM_ROUTE_MAX_CAPS) caps[np++] = segs[k];
        } else if (strlen(segs[k]) != len || strncmp(t, segs[k], len) != 0) {
            return 0;
        }
        k++;
        t += len;
    }
    return k == nseg;
}
