/* bench_result.h - how a C benchmark hands a headline figure to bench/run
 * (the Python side is bench/benchlib.py: same JSON line format).
 *
 * When bench/run starts a benchmark it names a file in the environment
 * variable KEEPTRACK_BENCH_RESULTS; bench_record appends one JSON line
 * {"name","figure","target","met"} to it, and bench/run prints every line as
 * a row of its markdown table. Run alone (variable unset) it does nothing.
 * Header-only: each benchmark is one .c file.
 */
#ifndef KT_BENCH_RESULT_H
#define KT_BENCH_RESULT_H

#include <stdio.h>
#include <stdlib.h>

/* Writes s as a JSON string body (the strings here are the benchmark's own
 * labels; quotes, backslashes and control bytes are escaped anyway). */
static inline void bench_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* Appends one row. met: 1 met, 0 missed, -1 no target. Failures to write
 * are reported on stderr and otherwise ignored (the figure is printed too). */
static inline void bench_record(const char *name, const char *figure, const char *target, int met)
{
    const char *path = getenv("KEEPTRACK_BENCH_RESULTS");
    FILE *f;
    if (!path || !*path)
        return;
    if (!(f = fopen(path, "a"))) {
        perror("bench_record");
        return;
    }
    fputs("{\"name\":", f);
    bench_json_str(f, name);
    fputs(",\"figure\":", f);
    bench_json_str(f, figure);
    fputs(",\"target\":", f);
    bench_json_str(f, target ? target : "");
    fprintf(f, ",\"met\":%s}\n", met < 0 ? "null" : met ? "true" : "false");
    if (fclose(f) != 0)
        perror("bench_record");
}

#endif
