/* fuzz_history.c - the listening-history export parser
 * (src/services/history_parse.h): the streaming array splitter, fed in small
 * uneven chunks, and every element through history_record_parse.
 * Properties: the tapped bytes are exactly the consumed prefix of the input;
 * an element is never larger than HISTORY_MAX_RECORD; record numbers count
 * up by one; a parsed track or episode always has a uri, and a synthetic
 * uri has the documented prefix; errors carry a message.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "services/history_parse.h"

typedef struct feed {
    const uint8_t *data;
    size_t size, pos, step;
} feed;

static long feed_read(void *ctx, char *buf, size_t max)
{
    feed *f = ctx;
    size_t n = f->size - f->pos;
    f->step = f->step % 97 + 1; /* uneven chunks cross every boundary */
    if (n > f->step)
        n = f->step;
    if (n > max)
        n = max;
    memcpy(buf, f->data + f->pos, n);
    f->pos += n;
    return (long)n;
}

typedef struct tapped {
    const uint8_t *data;
    size_t seen;
} tapped;

static void tap(void *ctx, const char *bytes, size_t n)
{
    tapped *t = ctx;
    if (memcmp(t->data + t->seen, bytes, n) != 0)
        abort();
    t->seen += n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    feed f = {data, size, 0, 0};
    tapped t = {data, 0};
    if (size > (1 << 20))
        return 0;
    history_split *h = history_split_new(feed_read, &f, tap, &t);
    if (!h)
        return 0;
    for (int64_t expect = 1;; expect++) {
        const char *elem = NULL;
        size_t len = 0;
        kt_err err = {0};
        if (history_split_next(h, &elem, &len, &err) != KT_OK) {
            if (err.msg[0] == '\0')
                abort();
            break;
        }
        if (!elem)
            break;
        if (len > HISTORY_MAX_RECORD || history_split_count(h) != expect ||
            (size_t)history_split_offset(h) != t.seen || t.seen > size)
            abort();
        history_record r;
        kt_err rerr = {0};
        if (history_record_parse(elem, len, &r, &rerr) == KT_OK) {
            if ((r.kind == HISTORY_TRACK || r.kind == HISTORY_EPISODE) && !r.uri)
                abort();
            if (r.synthetic && strncmp(r.uri, HISTORY_SYNTH_PREFIX, strlen(HISTORY_SYNTH_PREFIX)))
                abort();
            if (r.ms_played < 0)
                abort();
            history_record_clear(&r);
        } else if (rerr.msg[0] == '\0') {
            abort();
        }
    }
    history_split_free(h);
    return 0;
}
