/* watermark.h - the time up to which every event is safely handed on, kept
 * in a small file so a restart knows where history must resume.
 *
 * The file (SPOOL_DIR/last_event_time) holds one line, the time as ISO 8601;
 * it is replaced atomically (write to a temporary file, fsync, rename). */
#ifndef INGESTOR_WATERMARK_H
#define INGESTOR_WATERMARK_H

#include <stddef.h>
#include <stdint.h>

/* Reads the time from dir. Returns 0 and sets *ns, 1 when there is no file
 * yet, or -1 with a reason in err when it cannot be read or parsed. */
int watermark_load(const char *dir, int64_t *ns, char *err, size_t errlen);

/* Replaces the file in dir with ns. Returns 0, or -1 with a reason. */
int watermark_store(const char *dir, int64_t ns, char *err, size_t errlen);

#endif
