/* strhash.c - the string hash of the ingestor's open-addressing tables (pure). */
#include "strhash.h"

uint64_t strhash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}
