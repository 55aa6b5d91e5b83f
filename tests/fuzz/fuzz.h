/* fuzz.h - the one function every fuzz harness in tests/fuzz/ defines.
 *
 * A harness is tests/fuzz/fuzz_<name>.c defining LLVMFuzzerTestOneInput. It
 * is linked either with libFuzzer (clang, -Dfuzz=true: coverage-guided
 * search) or with tests/fuzz/driver.c (any compiler: replays the corpus and
 * deterministic mutations of it). See tests/fuzz/README.md.
 */
#ifndef KT_TESTS_FUZZ_H
#define KT_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Called once per input. data is exactly size bytes (NOT NUL-terminated;
 * copy it if the code under test wants a C string), owned by the caller and
 * valid only during the call. Must return 0, must not keep state between
 * calls, must free everything it allocates; a property the code under test
 * breaks is reported with abort(). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
