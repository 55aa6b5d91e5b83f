/* log.h - structured logs: one event per line, logfmt (default) or JSON lines.
 *
 * Every line carries ts, level and event, then key/value pairs:
 *   ts=2026-11-22T10:00:00.123Z level=info event=http_request method=GET status=200
 *   {"ts":"2026-11-22T10:00:00.123Z","level":"info","event":"http_request","method":"GET","status":200}
 * Values are escaped per format: in logfmt a value holding a space, '=', a
 * quote, a backslash or a control character is double-quoted with \" \\ \n
 * \t \uXXXX escapes; in JSON every value is a proper member (numbers stay
 * numbers when the value was one numeric conversion). Keys are restricted to
 * [A-Za-z0-9_.-] (others replaced by '_'), so a key can never break a line.
 *
 * Two ways to log:
 *   LOG_INFO("http_request", "method=%s path=%s status=%d", m, p, st);
 *     fmt_kv is space-separated key=<printf format> pairs; each value is
 *     formatted on its own and then escaped, so hostile values are safe.
 *     Literal text in a value may not contain a space (put it in an argument).
 *   log_kv(LOG_INFO, "http_request", "method", m, "path", p, (char *)NULL);
 *     for keys chosen at run time; values are strings (NULL logs as null).
 *
 * Secrets never go to logs: pass log_redact(secret, tmp) instead of the secret.
 *
 * LOG_DEBUG/LOG_INFO/LOG_WARN/LOG_ERROR are both the level constants (an enum,
 * usable as `log_kv(LOG_WARN, ...)`) and, when followed by '(', function-like
 * macros that log at that level; the preprocessor only expands a function-like
 * macro name followed by '(', so the two uses never collide.
 *
 * Thread use: everything here is thread-safe; each line is written with one
 * fwrite under a mutex and flushed. log_init/log_set_sink are meant for
 * start-up (and tests) but are safe at any time.
 */
#ifndef KT_CORE_LOG_H
#define KT_CORE_LOG_H

#include <stddef.h>
#include <stdio.h>

#include "core/err.h"

enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

/* Hard cap on one log line; longer values are cut and marked with "...". */
#define LOG_LINE_MAX 8192

/* Sets the minimum level ("debug", "info", "warn", "error"; NULL keeps the
 * current one, default info) and the format ("logfmt" or "json"; NULL keeps
 * the current one, default logfmt). KT_ERR_INVALID (and nothing changed) for
 * any other value. */
kt_status log_init(const char *level, const char *format);

/* Writes lines to f instead of stderr (NULL = back to stderr). The caller
 * keeps ownership of f and must not close it while it is the sink. */
void log_set_sink(FILE *f);

/* Turns the ts field on (default) or off: tests compare exact lines. */
void log_set_timestamps(int on);

/* 1 when a line at this level would be written (skip expensive formatting). */
int log_enabled(int level);

/* Parses a level name; -1 when unknown. */
int log_level_parse(const char *name);

/* Logs an event with printf-style "key=%fmt key2=%fmt" pairs (see above).
 * fmt_kv may be "" or NULL. A malformed fmt_kv (a token without '=') logs the
 * token under the key "msg". Never fails visibly. */
void log_event(int level, const char *event, const char *fmt_kv, ...)
    __attribute__((format(printf, 3, 4)));

/* Logs an event with string key/value pairs ending in a NULL key:
 * log_kv(LOG_INFO, "job_done", "kind", "sync", "items", "120", (char *)NULL). */
void log_kv(int level, const char *event, ...) __attribute__((sentinel));

/* Writes "<redacted:N>" (N = strlen(secret), or "<redacted:null>") into out and
 * returns out, so a secret's presence and length can be logged but never its
 * content. */
const char *log_redact(const char *secret, char out[32]);

#define LOG_DEBUG(event, ...) log_event(LOG_DEBUG, (event), " " __VA_ARGS__)
#define LOG_INFO(event, ...) log_event(LOG_INFO, (event), " " __VA_ARGS__)
#define LOG_WARN(event, ...) log_event(LOG_WARN, (event), " " __VA_ARGS__)
#define LOG_ERROR(event, ...) log_event(LOG_ERROR, (event), " " __VA_ARGS__)

#endif
