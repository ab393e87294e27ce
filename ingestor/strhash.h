/* strhash.h - the string hash of the ingestor's open-addressing tables (pure). */
#ifndef INGESTOR_STRHASH_H
#define INGESTOR_STRHASH_H

#include <stdint.h>

/* FNV-1a (64 bit) of the NUL-terminated string s. Tables take its low bits,
 * so it must mix every byte into them; FNV-1a does, and is cheap for the
 * short ids (entity, device, area) the ingestor keys on. */
uint64_t strhash(const char *s);

#endif
