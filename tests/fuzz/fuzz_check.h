/* fuzz_check.h - how a fuzz target reports a broken property.
 *
 * FUZZ_CHECK(cond, fmt, ...) prints the property and the location to stderr
 * and aborts when cond is false: libFuzzer then saves the input as a crash
 * file, and the standalone replay driver fails its test. Targets use it for
 * every property they state, never assert(), so NDEBUG builds check too. */
#ifndef FUZZ_CHECK_H
#define FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond, ...)                                                            \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: property broken: %s: ", __FILE__, __LINE__, #cond);  \
            fprintf(stderr, __VA_ARGS__);                                                \
            fputc('\n', stderr);                                                         \
            abort();                                                                     \
        }                                                                                \
    } while (0)

#endif
