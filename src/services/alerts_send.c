/* alerts_send.c - the webhook and e-mail deliveries of alerts, and the
 * delivery job's attempt (see alerts_send.h and alerts.h).
 */
#include "services/alerts_send.h"

#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/jsonutil.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "services/alerts.h"
#include "services/app_priv.h"
#include "spotify/spotify.h"
#include "store/store_alerts.h"

#define TIMEOUT_MS 15000L
#define HOST_MAX 256

static kt_status nomem(kt_err *err)
{
    return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
}

void alerts_url_host(const char *url, char *out, size_t n)
{
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    size_t len = strcspn(h, "/?#");
    /* user info (user:token@host) is dropped: it is a secret too */
    for (size_t i = len; i > 0; i--)
        if (h[i - 1] == '@') {
            h += i;
            len -= i;
            break;
        }
    snprintf(out, n, "%.*s", (int)(len < n ? len : n - 1), h);
}

/* ---- bodies (pure) ---- */

static json_t *str_or_null(const char *v)
{
    return v ? json_string(v) : json_null();
}

/* ntfy takes JSON at the server's root with the topic in the body; the
 * configured URL is the topic's (https://ntfy.sh/mytopic[?auth=...]). */
static kt_status ntfy_split(const char *url, char **root, char **topic, kt_err *err)
{
    const char *h = strstr(url, "://");
    const char *path = h ? strchr(h + 3, '/') : NULL;
    const char *query = strchr(url, '?');
    if (!path || (query && query < path))
        return err_set(err, KT_ERR_INVALID, "bad_config",
                       "KEEPTRACK_ALERT_WEBHOOK_URL must name the ntfy topic "
                       "(https://SERVER/TOPIC) when the format is ntfy");
    const char *end = query ? query : url + strlen(url);
    const char *last = end;
    while (last > path + 1 && last[-1] != '/')
        last--;
    if (last >= end)
        return err_set(err, KT_ERR_INVALID, "bad_config",
                       "KEEPTRACK_ALERT_WEBHOOK_URL must end with the ntfy topic");
    size_t rootlen = (size_t)(path - url) + 1;
    *topic = strndup(last, (size_t)(end - last));
    *root = malloc(rootlen + strlen(end) + 1);
    if (!*topic || !*root) {
        free(*topic);
        free(*root);
        *topic = *root = NULL;
        return nomem(err);
    }
    memcpy(*root, url, rootlen);
    strcpy(*root + rootlen, end); /* the query (?auth=...) goes along */
    return KT_OK;
}

kt_status alerts_webhook_body(const char *format, const char *url, const alerts_payload *p,
                              char **body, char **post_url, kt_err *err)
{
    json_t *j = NULL;
    char *root = NULL, *topic = NULL;
    char text[1200];
    kt_status st = KT_OK;
    *post_url = NULL;
    if (!format || strcmp(format, "json") == 0) {
        j = json_pack("{sssIsssssosssssOsIss}", "source", "keeptrack", "id", (json_int_t)p->id,
                      "kind", p->kind, "scope", p->scope, "subject", str_or_null(p->subject),
                      "title", p->title, "message", p->message, "details", p->details,
                      "created_at", (json_int_t)p->created_at, "link", p->link);
    } else if (strcmp(format, "slack") == 0) {
        snprintf(text, sizeof text, "*%s*\n%s\n<%s|Open keeptrack>", p->title, p->message,
                 p->link);
        j = json_pack("{ss}", "text", text);
    } else if (strcmp(format, "gotify") == 0) {
        j = json_pack("{sssssi}", "title", p->title, "message", p->message, "priority", 5);
    } else if (strcmp(format, "ntfy") == 0) {
        if ((st = ntfy_split(url, &root, &topic, err)) != KT_OK)
            return st;
        j = json_pack("{sssssss[s]ss}", "topic", topic, "title", p->title, "message", p->message,
                      "tags", "warning", "click", p->link);
    } else {
        return err_set(err, KT_ERR_INVALID, "bad_config",
                       "KEEPTRACK_ALERT_WEBHOOK_FORMAT must be json, slack, ntfy or gotify");
    }
    char *text_out = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    free(topic);
    if (!text_out) {
        free(root);
        return nomem(err);
    }
    *body = text_out;
    *post_url = root;
    return KT_OK;
}

/* Appends v with control characters (CR, LF: header injection) replaced by
 * spaces. */
static kt_status put_clean(buf *b, const char *v)
{
    for (const char *c = v; *c; c++) {
        char ch = ((unsigned char)*c < ' ' || *c == 127) ? ' ' : *c;
        if (buf_append(b, &ch, 1) != KT_OK)
            return KT_ERR_NOMEM;
    }
    return KT_OK;
}

/* The subject as a header value: ASCII as is, else RFC 2047 base64. */
static kt_status put_subject(buf *b, const char *subject)
{
    int ascii = 1;
    for (const char *c = subject; *c; c++)
        ascii &= (unsigned char)*c < 128;
    if (ascii)
        return put_clean(b, subject);
    size_t n = strlen(subject);
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *enc = malloc(cap);
    if (!enc)
        return KT_ERR_NOMEM;
    sodium_bin2base64(enc, cap, (const unsigned char *)subject, n, sodium_base64_VARIANT_ORIGINAL);
    kt_status st = buf_printf(b, "=?UTF-8?B?%s?=", enc);
    free(enc);
    return st;
}

/* Appends text with every line ending as CRLF (SMTP's). */
static kt_status put_crlf(buf *b, const char *text)
{
    for (const char *c = text; *c; c++) {
        if (*c == '\r')
            continue;
        kt_status st = *c == '\n' ? buf_append(b, "\r\n", 2) : buf_append(b, c, 1);
        if (st != KT_OK)
            return st;
    }
    return KT_OK;
}

kt_status alerts_email_message(const char *from, const char *to, const alerts_payload *p,
                               int64_t now_ms, char **out, kt_err *err)
{
    buf b = {0};
    char date[64], subject[400];
    struct tm tm;
    time_t t = (time_t)(now_ms / 1000);
    if (!gmtime_r(&t, &tm) ||
        strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
        return err_set(err, KT_ERR_INTERNAL, NULL, "cannot format the date");
    snprintf(subject, sizeof subject, "[keeptrack] %s", p->title);
    kt_status st = buf_printf(&b, "From: keeptrack <%s>\r\nTo: <%s>\r\nSubject: ", from, to);
    if (st == KT_OK)
        st = put_subject(&b, subject);
    if (st == KT_OK)
        st = buf_printf(&b,
                         "\r\nDate: %s\r\nMessage-ID: <alert-%lld.%lld@keeptrack>\r\n"
                         "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                         "Content-Transfer-Encoding: 8bit\r\nAuto-Submitted: auto-generated\r\n"
                         "\r\n",
                         date, (long long)p->id, (long long)p->created_at);
    if (st == KT_OK)
        st = put_crlf(&b, p->message);
    if (st == KT_OK)
        st = buf_printf(&b, "\r\n\r\n%s\r\n", p->link);
    if (st != KT_OK || !(*out = buf_detach(&b, NULL))) {
        buf_free(&b);
        return nomem(err);
    }
    return KT_OK;
}

/* ---- sending ---- */

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

/* A fresh easy handle, or NULL. libcurl is initialised on first use
 * (issue 17: not at start). */
static CURL *easy_new(void)
{
    return spotify_curl_global_init(NULL) == KT_OK ? curl_easy_init() : NULL;
}

kt_status alerts_post_webhook(const char *url, const char *body, long *status, kt_err *err)
{
    char host[HOST_MAX];
    struct curl_slist *hdr = NULL;
    CURLcode rc = CURLE_OUT_OF_MEMORY;
    CURL *c = easy_new();
    *status = 0;
    alerts_url_host(url, host, sizeof host);
    if (!c || !(hdr = curl_slist_append(NULL, "Content-Type: application/json")))
        goto out;
    if ((rc = curl_easy_setopt(c, CURLOPT_URL, url)) != CURLE_OK ||
        (rc = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https")) != CURLE_OK ||
        (rc = curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L)) != CURLE_OK ||
        (rc = curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, TIMEOUT_MS)) != CURLE_OK ||
        (rc = curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr)) != CURLE_OK ||
        (rc = curl_easy_setopt(c, CURLOPT_POSTFIELDS, body)) != CURLE_OK ||
        (rc = curl_easy_setopt(c, CURLOPT_USERAGENT, "keeptrack")) != CURLE_OK ||
        (rc = curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard)) != CURLE_OK)
        goto out;
    if ((rc = curl_easy_perform(c)) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
out:
    curl_slist_free_all(hdr);
    if (c)
        curl_easy_cleanup(c);
    if (rc != CURLE_OK)
        return err_set(err, KT_ERR_UPSTREAM, "webhook_failed", "the webhook at %s failed: %s",
                       host, curl_easy_strerror(rc));
    if (*status < 200 || *status > 299)
        return err_set(err, KT_ERR_UPSTREAM, "webhook_failed", "the webhook at %s answered %ld",
                       host, *status);
    return KT_OK;
}

typedef struct upload {
    const char *p;
    size_t left;
} upload;

static size_t read_upload(char *dst, size_t size, size_t n, void *ud)
{
    upload *u = ud;
    size_t k = size * n < u->left ? size * n : u->left;
    memcpy(dst, u->p, k);
    u->p += k;
    u->left -= k;
    return k;
}

kt_status alerts_send_email(const kt_config *cfg, const char *from, const char *to,
                            const char *message, long *code, kt_err *err)
{
    char addr_from[300], addr_to[300];
    struct curl_slist *rcpt = NULL;
    upload up = {message, strlen(message)};
    CURLcode rc = CURLE_OUT_OF_MEMORY;
    CURL *c = easy_new();
    *code = 0;
    snprintf(addr_from, sizeof addr_from, "<%s>", from);
    snprintf(addr_to, sizeof addr_to, "<%s>", to);
    if (!c || !(rcpt = curl_slist_append(NULL, addr_to)))
        goto out;
    if ((rc = curl_easy_setopt(c, CURLOPT_URL, cfg->alert_smtp_url)) != CURLE_OK ||
        (rc = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps")) != CURLE_OK ||
        (rc = curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L)) != CURLE_OK ||
        (rc = curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, TIMEOUT_MS)) != CURLE_OK ||
        (rc = curl_easy_setopt(c, CURLOPT_MAIL_FROM, addr_from)) != CURLE_OK ||
        (rc = curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt)) != CURLE_OK ||
        (rc = curl_easy_setopt(c, CURLOPT_READFUNCTION, read_upload)) != CURLE_OK ||
        (rc = curl_easy_setopt(c, CURLOPT_READDATA, &up)) != CURLE_OK ||
        (rc = curl_easy_setopt(c, CURLOPT_UPLOAD, 1L)) != CURLE_OK)
        goto out;
    if (cfg->alert_smtp_starttls &&
        (rc = curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL)) != CURLE_OK)
        goto out;
    if (cfg->alert_smtp_user &&
        ((rc = curl_easy_setopt(c, CURLOPT_USERNAME, cfg->alert_smtp_user)) != CURLE_OK ||
         (rc = curl_easy_setopt(c, CURLOPT_PASSWORD,
                                cfg->alert_smtp_password ? cfg->alert_smtp_password : "")) !=
             CURLE_OK))
        goto out;
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);
out:
    curl_slist_free_all(rcpt);
    if (c)
        curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
        char host[HOST_MAX];
        alerts_url_host(cfg->alert_smtp_url ? cfg->alert_smtp_url : "", host, sizeof host);
        return err_set(err, KT_ERR_UPSTREAM, "email_failed",
                       "sending the e-mail through %s failed: %s (last reply %ld)", host,
                       curl_easy_strerror(rc), *code);
    }
    return KT_OK;
}

/* ---- the delivery job's attempt ---- */

/* Where an alert of user_id is e-mailed (malloc'd), or NULL with *off set
 * when the user turned a channel off. */
static kt_status recipient(store *s, const kt_config *cfg, int64_t user_id, const char *channel,
                           int *off, char **to, kt_err *err)
{
    int w = 1, e = 1;
    char *mine = NULL;
    *off = 0;
    *to = NULL;
    if (user_id > 0) {
        kt_status st = store_alert_settings_get(s, user_id, &w, &e, &mine, err);
        if (st != KT_OK)
            return st;
    }
    if (strcmp(channel, ALERTS_CHANNEL_WEBHOOK) == 0) {
        *off = !w || !cfg->alert_webhook_url;
        free(mine);
        return KT_OK;
    }
    *off = !e || !cfg->alert_smtp_url || (!mine && !cfg->alert_email_to);
    if (!*off && !mine && !(mine = strdup(cfg->alert_email_to)))
        return nomem(err);
    *to = mine;
    return KT_OK;
}

/* Sends p on channel; *status gets the reply code. */
static kt_status send_one(const kt_config *cfg, const char *channel, const char *to,
                          const alerts_payload *p, long *status, kt_err *err)
{
    char *body = NULL, *post_url = NULL;
    kt_status st;
    if (strcmp(channel, ALERTS_CHANNEL_WEBHOOK) == 0) {
        st = alerts_webhook_body(cfg->alert_webhook_format, cfg->alert_webhook_url, p, &body,
                                 &post_url, err);
        if (st == KT_OK)
            st = alerts_post_webhook(post_url ? post_url : cfg->alert_webhook_url, body, status,
                                     err);
    } else {
        const char *from = cfg->alert_email_from ? cfg->alert_email_from : "keeptrack@localhost";
        st = alerts_email_message(from, to, p, p->created_at, &body, err);
        if (st == KT_OK)
            st = alerts_send_email(cfg, from, to, body, status, err);
    }
    free(body);
    free(post_url);
    return st;
}

kt_status alerts_deliver(kt_app *app, int64_t alert_id, const char *channel, int attempt,
                         kt_err *err)
{
    store *s = NULL;
    store_rows *r = NULL;
    char *to = NULL, link[600];
    json_t *details = NULL;
    long status = 0;
    int off = 0;
    kt_err serr = {0};
    if (!channel || (strcmp(channel, ALERTS_CHANNEL_WEBHOOK) != 0 &&
                     strcmp(channel, ALERTS_CHANNEL_EMAIL) != 0))
        return err_set(err, KT_ERR_INVALID, "bad_job", "channel must be webhook or email");
    kt_status st = app_db_get(app, &s, err);
    if (st != KT_OK)
        return st;
    if ((st = store_alert_get(s, alert_id, &r, err)) != KT_OK)
        goto out;
    int64_t user_id = store_rows_is_null(r, 0, 1) ? 0 : store_rows_int(r, 0, 1);
    if (strcmp(store_rows_text(r, 0, 7), "open") != 0 || !store_rows_is_null(r, 0, 11)) {
        LOG_INFO("alert_not_sent", "id=%lld channel=%s reason=closed", (long long)alert_id,
                 channel);
        goto out; /* dismissed or resolved before it went out: nothing to say any more */
    }
    if ((st = recipient(s, app->cfg, user_id, channel, &off, &to, err)) != KT_OK)
        goto out;
    if (off) {
        LOG_INFO("alert_not_sent", "id=%lld channel=%s reason=off", (long long)alert_id, channel);
        goto out;
    }
    /* No connection is held while the channel is slow. */
    app_db_put(app, s);
    s = NULL;
    const char *dtext = store_rows_text(r, 0, 6);
    if (json_parse_bounded(dtext, strlen(dtext), 8, &details, &serr) != KT_OK)
        details = json_object();
    snprintf(link, sizeof link, "%s/#/alerts", app->cfg->public_url ? app->cfg->public_url : "");
    alerts_payload p = {.id = alert_id,
                        .kind = store_rows_text(r, 0, 2),
                        .scope = user_id > 0 ? "user" : "instance",
                        .subject = store_rows_text(r, 0, 3),
                        .title = store_rows_text(r, 0, 4),
                        .message = store_rows_text(r, 0, 5),
                        .details = details,
                        .created_at = store_rows_int(r, 0, 8),
                        .link = link};
    kt_status sent = send_one(app->cfg, channel, to, &p, &status, &serr);
    if ((st = app_db_get(app, &s, err)) != KT_OK)
        goto out;
    st = store_alert_delivery_add(s, alert_id, channel, attempt, sent == KT_OK,
                                  status > 0 ? status : -1, sent == KT_OK ? NULL : serr.msg,
                                  time_now_ms(), err);
    if (st != KT_OK)
        goto out;
    if (sent == KT_OK) {
        LOG_INFO("alert_sent", "id=%lld channel=%s attempt=%d status=%ld", (long long)alert_id,
                 channel, attempt, status);
    } else {
        LOG_WARN("alert_send_failed", "id=%lld channel=%s attempt=%d code=%s", (long long)alert_id,
                 channel, attempt, serr.code);
        st = err_set(err, sent == KT_ERR_INVALID ? KT_ERR_INVALID : KT_ERR_UPSTREAM, serr.code,
                     "%s", serr.msg);
    }
out:
    json_decref(details);
    free(to);
    store_rows_free(r);
    app_db_put(app, s);
    return st;
}
