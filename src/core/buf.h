/* buf.h - a growable byte buffer with a hard size cap.
 *
 * Used wherever bytes arrive from outside in pieces (curl write callbacks,
 * request bodies, log lines, SQL text): the cap turns "the peer sent too
 * much" into KT_ERR_TOO_LARGE instead of unbounded memory. The data is kept
 * NUL-terminated after every successful append, so text can be read as a C
 * string (binary data may itself contain NULs; use len).
 *
 * A buf is a plain struct owned by its holder; not thread-safe (one owner).
 */
#ifndef KT_CORE_BUF_H
#define KT_CORE_BUF_H

#include <stddef.h>

#include "core/err.h"

typedef struct buf {
    char *data;   /* NULL until the first append; NUL-terminated after each one */
    size_t len;   /* bytes held, not counting the terminating NUL */
    size_t cap;   /* bytes allocated */
    size_t max;   /* hard cap on len; 0 = unlimited */
} buf;

/* Initialises an empty buffer that will never hold more than max bytes
 * (0 = unlimited). Allocates nothing. */
void buf_init(buf *b, size_t max);

/* Appends n bytes from p (p may be NULL when n is 0). Returns KT_ERR_TOO_LARGE
 * when len + n would exceed max, KT_ERR_NOMEM when allocation fails; on any
 * error the buffer is unchanged. */
kt_status buf_append(buf *b, const void *p, size_t n);

/* Makes room for extra more bytes (plus the NUL) in one allocation, so the
 * appends that follow copy nothing: for a body whose length is announced.
 * Same errors as buf_append; on error the buffer is unchanged. */
kt_status buf_reserve(buf *b, size_t extra);

/* Appends a NUL-terminated string (s must not be NULL). Same errors as buf_append. */
kt_status buf_puts(buf *b, const char *s);

/* Appends printf-formatted text. Same errors as buf_append; on error the
 * buffer is unchanged. */
kt_status buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Hands the data to the caller (free() it) and leaves b empty (max kept).
 * Returns an allocated "" for an empty buffer, NULL only when that allocation
 * fails. len (may be NULL) receives the length. */
char *buf_detach(buf *b, size_t *len);

/* Hands b's allocation (its data, of *cap bytes) to the caller and leaves b
 * empty (max kept): for keeping the storage for another buffer
 * (buf_adopt). NULL, and *cap 0, when b has none. */
char *buf_disown(buf *b, size_t *cap);

/* Gives the empty buffer b (no allocation) the storage data of cap bytes
 * (cap >= 1, from malloc, e.g. an earlier buf_disown); b owns it after. */
void buf_adopt(buf *b, char *data, size_t cap);

/* Empties the buffer, keeping its allocation (data[0] = NUL when allocated). */
void buf_reset(buf *b);

/* Frees the data and leaves b empty (max kept). b may be NULL. */
void buf_free(buf *b);

#endif
