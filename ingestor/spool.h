/* spool.h - the on-disk spool: events kept while Kafka cannot take them.
 *
 * Append-only segment files (dir/seg-<16 digit number>.log, up to
 * segment_bytes each) of length-prefixed records:
 *   u32 body length, u32 CRC-32 of the body (both little endian), then the
 *   body: u8 tag, u8 0, u16 key length (LE, 0xffff: no key), key, payload.
 * Records are read back in the order written, also after a restart; a
 * segment is deleted once every record in it was popped. A small cursor
 * file (dir/cursor) remembers the read position, written when a segment is
 * finished and on close, so a crash can replay a few records twice (the
 * pipeline is idempotent on the event time) but never skips one. A torn
 * record at the end of the newest segment (a crash mid-write) is cut off
 * when the spool is opened; a corrupt record elsewhere ends the reading of
 * its segment and is counted. Not thread-safe. */
#ifndef INGESTOR_SPOOL_H
#define INGESTOR_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct spool spool;

/* Opens (creating dir when missing) a spool of at most max_bytes on disk.
 * Returns NULL with a reason in err. */
spool *spool_open(const char *dir, uint64_t max_bytes, uint64_t segment_bytes, char *err,
                  size_t errlen);
/* Flushes, writes the cursor and frees. Accepts NULL. */
void spool_close(spool *s);

/* Appends one record. Returns 0; -1 when it would pass max_bytes (nothing
 * written); -2 on an I/O error (err says which). */
int spool_append(spool *s, int tag, const void *key, size_t keylen, const void *payload,
                 size_t len, char *err, size_t errlen);

/* Makes appended records durable (fflush + fdatasync). Returns 0 or -1. */
int spool_sync(spool *s, char *err, size_t errlen);

/* Points to the oldest record not yet popped (valid until the next call on
 * s). Returns 0, 1 when the spool is empty, -1 on an I/O error. *key is
 * NULL for a record without a key. */
int spool_peek(spool *s, int *tag, const void **key, size_t *keylen, const void **payload,
               size_t *len);

/* Consumes the record spool_peek() returned. */
void spool_pop(spool *s);

/* Records not yet popped, and their bytes on disk (headers included). */
uint64_t spool_records(const spool *s);
uint64_t spool_bytes(const spool *s);
/* Corrupt records skipped since open. */
uint64_t spool_corrupt(const spool *s);

#endif
