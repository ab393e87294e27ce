/* written.h - the writer's last points written, kept raw until they are asked for.
 *
 * GET /events/recent lists the last points the writer wrote, each as
 * {"entity_id","partition","offset","line"}. Under a backlog the writer
 * writes tens of thousands of points a second and nobody is looking; making
 * each one's JSON text and pushing it into the hs_recent ring as it was
 * written (escaping, a malloc, a lock) cost about 600 instructions per point.
 * Here a point costs a copy of its key and line into a slot that is reused
 * from one batch to the next; the JSON texts are made only when the points
 * are listed or the writer goes idle (written_flush), oldest first, so the
 * ring ends up as if every point had been pushed as it was written.
 * Thread-safe: the poll thread keeps points, any thread may flush. */
#ifndef WRITTEN_H
#define WRITTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hs_recent.h"

typedef struct written written;

/* Keeps up to capacity points (the ring's own capacity); NULL when out of
 * memory. */
written *written_new(size_t capacity);
void written_free(written *w);

/* Keeps a point written: its message's key (NULL or key_len bytes, the
 * entity id), where it was read, and its line without the newline. The
 * oldest point kept goes when capacity are kept. Out of memory, the point is
 * left out of the listing. */
void written_keep(written *w, const void *key, size_t key_len, int32_t partition,
                  int64_t offset, const char *line, size_t line_len);

/* Pushes the points kept to r, oldest first, and empties w. A point whose
 * key or line is not UTF-8 is left out (a JSON text cannot hold it). With
 * release, the slots' buffers are freed too (an idle writer gives its
 * memory back); otherwise they stay for the next points. */
void written_flush(written *w, hs_recent *r, bool release);

/* Points kept and not yet flushed. */
size_t written_pending(written *w);

#endif
