/* alerts_send.h - delivering alerts (issue 18, item 5): the webhook POST
 * and the e-mail, both through libcurl (curl speaks SMTP, so no SMTP is
 * written here), and the delivery job's one attempt (alerts_deliver,
 * declared in alerts.h).
 *
 * Secrets: the webhook URL may carry a token and is never logged or
 * stored; logs and recorded errors name its host only
 * (alerts_url_host). The SMTP password goes to curl and nowhere else.
 */
#ifndef KT_SERVICES_ALERTS_SEND_H
#define KT_SERVICES_ALERTS_SEND_H

#include <jansson.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"

#define ALERTS_CHANNEL_WEBHOOK "webhook"
#define ALERTS_CHANNEL_EMAIL "email"

/* What is sent about one alert (borrowed strings; details borrowed). */
typedef struct alerts_payload {
    int64_t id;
    const char *kind;
    const char *scope; /* "user" | "instance" */
    const char *subject;
    const char *title;
    const char *message;
    const json_t *details;
    int64_t created_at;
    const char *link; /* the web UI's alerts page */
} alerts_payload;

/* Writes the host[:port] of url (no scheme, user info, path or query) into
 * out; "" when url has none. Pure. */
void alerts_url_host(const char *url, char *out, size_t n);

/* The webhook body for format ("json" | "slack" | "ntfy" | "gotify"; NULL
 * = json) and, for ntfy, the URL to POST to (the server's root, with the
 * topic moved into the body); *post_url NULL = the configured URL as is.
 * Both malloc'd. Pure. */
kt_status alerts_webhook_body(const char *format, const char *url, const alerts_payload *p,
                              char **body, char **post_url, kt_err *err);

/* The e-mail (headers and body, CRLF line ends) of p from `from` to `to`
 * at now_ms; malloc'd. Header values are cleaned of control characters and
 * a non-ASCII subject is RFC 2047-encoded. Pure. */
kt_status alerts_email_message(const char *from, const char *to, const alerts_payload *p,
                               int64_t now_ms, char **out, kt_err *err);

/* POSTs body as application/json to url (no redirects, 15 s timeout).
 * *status receives the HTTP status (0 when none came). KT_OK for a 2xx;
 * KT_ERR_UPSTREAM otherwise, with a message naming the host only. */
kt_status alerts_post_webhook(const char *url, const char *body, long *status, kt_err *err);

/* Sends message from `from` to `to` through cfg's SMTP server (login and
 * STARTTLS as configured). *code receives the server's last reply code (0
 * when none). KT_ERR_UPSTREAM when it fails. */
kt_status alerts_send_email(const kt_config *cfg, const char *from, const char *to,
                            const char *message, long *code, kt_err *err);

#endif
