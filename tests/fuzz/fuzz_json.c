/* fuzz_json.c - fuzz harness: jansson parsing, walking and re-serialising.
 *
 * Every Spotify answer keeptrack reads goes through jansson first, so its
 * parser sees hostile bytes (truncated and malformed bodies are among the
 * emulator's faults). The harness parses the input the way keeptrack does
 * (json_loadb, any top-level value), walks the whole tree reading every
 * value, and checks one property: a parsed value dumps to JSON that parses
 * back to an equal value. It also proves the fuzz pipeline end to end
 * (libFuzzer build, corpus replay under ASan) before keeptrack's own parsers
 * exist; those get their own harnesses next to this one.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#define FUZZ_JSON_MAX_INPUT (256u * 1024u)

/* Touches every node; returns the number of nodes (so nothing is optimised
 * away and the count can be checked against itself after the round trip). */
static size_t walk(const json_t *v)
{
    size_t n = 1;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *child;
        json_object_foreach((json_t *)v, key, child) {
            if (!key)
                abort();
            n += walk(child);
        }
        break;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *child;
        json_array_foreach(v, i, child)
            n += walk(child);
        break;
    }
    case JSON_STRING:
        if (strlen(json_string_value(v)) > json_string_length(v))
            abort();
        break;
    case JSON_INTEGER:
        (void)json_integer_value(v);
        break;
    case JSON_REAL:
        (void)json_real_value(v);
        break;
    default:
        break;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *root = NULL, *again = NULL;
    char *text = NULL;

    if (size > FUZZ_JSON_MAX_INPUT)
        return 0;
    root = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!root)
        goto out;  /* rejecting bad input is the right answer */
    size_t nodes = walk(root);

    text = json_dumps(root, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!text)
        abort();  /* a parsed value must always serialise */
    again = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!again) {
        fprintf(stderr, "fuzz_json: re-parse failed: %s\n", jerr.text);
        abort();
    }
    if (!json_equal(root, again) || walk(again) != nodes) {
        fprintf(stderr, "fuzz_json: round trip changed the value\n");
        abort();
    }
out:
    free(text);
    json_decref(again);
    json_decref(root);
    return 0;
}
