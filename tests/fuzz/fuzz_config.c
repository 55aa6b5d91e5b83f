/* fuzz_config.c - fuzz harness: keeptrack's configuration file parser
 * (src/core/config.h: KEY=value lines read by config_load from
 * --config / KEEPTRACK_CONFIG) and the checks that follow it.
 *
 * The input is written to a memfd that KEEPTRACK_CONFIG names
 * (/proc/self/fd/N), so the real loading path runs, file reading included;
 * the environment is cleared first so only the file speaks. Properties:
 * - config_load either succeeds or fails with KT_ERR_INVALID and a message;
 * - after a successful load, config_validate decides without crashing, and
 *   config_dump never prints a secret option's value (SPOTIFY_CLIENT_SECRET,
 *   KEEPTRACK_SECRET_KEY, KEEPTRACK_SECRET_KEY_PREVIOUS,
 *   KEEPTRACK_ADMIN_TOKEN): the dump says "(set)" instead;
 * - config_free releases everything (LeakSanitizer checks).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/config.h"
#include "fuzz.h"

#define MAX_INPUT (64 * 1024)

static int fd = -1;
static char path[64];

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_config: property broken: %s\n", what);
        abort();
    }
}

static void once(void)
{
    if (fd >= 0)
        return;
    check(clearenv() == 0, "clearenv");
    check(setenv("HOME", "/nonexistent-fuzz-home", 1) == 0, "setenv HOME");
    fd = memfd_create("fuzz_config", MFD_CLOEXEC);
    check(fd >= 0, "memfd_create");
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    check(setenv("KEEPTRACK_CONFIG", path, 1) == 0, "setenv KEEPTRACK_CONFIG");
}

static char *dump_of(const kt_config *c)
{
    char *dump = NULL;
    size_t dlen = 0;
    FILE *f = open_memstream(&dump, &dlen);
    check(f != NULL, "open_memstream");
    config_dump(f, c);
    check(fclose(f) == 0, "fclose");
    return dump;
}

/* A set secret field must not reach the dump: with two different values of
 * the same length in the field, the dumps are byte for byte the same. (A
 * search for the value in the dump would be fooled by other options that
 * hold the same text.) */
static void check_not_dumped(kt_config *c, char **field)
{
    static char one[] = "secret-value-one", two[] = "SECRET-VALUE-TWO";
    if (!*field)
        return;
    char *saved = *field;
    *field = one;
    char *a = dump_of(c);
    *field = two;
    char *b = dump_of(c);
    *field = saved;
    check(strcmp(a, b) == 0, "a secret value reached config_dump");
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    once();
    check(ftruncate(fd, 0) == 0 && pwrite(fd, data, size, 0) == (ssize_t)size, "write memfd");

    kt_config c;
    kt_err err = {0};
    config_init(&c);
    kt_status st = config_load(&c, NULL, NULL, &err);
    if (st != KT_OK) {
        check(st == KT_ERR_INVALID || st == KT_ERR_NOMEM, "load fails as INVALID");
        check(err.msg[0] != '\0', "load error has a message");
    } else {
        kt_err verr = {0};
        if (config_validate(&c, &verr) != KT_OK)
            check(verr.msg[0] != '\0', "validate error has a message");
        free(dump_of(&c));
        check_not_dumped(&c, &c.spotify_client_secret);
        check_not_dumped(&c, &c.secret_key);
        check_not_dumped(&c, &c.secret_key_previous);
        check_not_dumped(&c, &c.admin_token);
    }
    config_free(&c);
    return 0;
}
