/* written.h - the writer's last points written, kept raw until they are asked for.
 *
 * GET /events/recent lists the last points the writer wrote, each as
 * {"entity_id","partition","offset","line"}. Under a backlog the writer
 * writes tens of thousands of points a second and nobody is looking; making
 * each one's JSON text and pushing it into the hs_recent ring as it was
 * written (escaping, a malloc, a lock) cost about 600 instructions per point.
 * Here a point written costs a note of where its key and line are in the
 * batch: the batch lends them while it is held, and when it is done,
 * written_adopt takes its lines and keys over (the batch gets the buffers
 * of the batch before, to fill again), so nothing is copied under a
 * backlog. Only points still listed from the batch before are copied then,
 * each into a slot of its own reused from one batch to the next. The JSON
 * texts are made only when the points are listed or the writer goes idle
 * (written_flush), oldest first, so the ring ends up as if every point had
 * been pushed as it was written.
 * Thread-safe: the poll thread keeps points, any thread may flush. */
#ifndef WRITTEN_H
#define WRITTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "hs_recent.h"

typedef struct written written;

/* Keeps up to capacity points (the ring's own capacity); NULL when out of
 * memory. */
written *written_new(size_t capacity);
void written_free(written *w);

/* Keeps a point written, copied: its message's key (NULL or key_len bytes,
 * the entity id), where it was read, and its line without the newline. The
 * oldest point kept goes when capacity are kept. Out of memory, the point is
 * left out of the listing. */
void written_keep(written *w, const void *key, size_t key_len, int32_t partition,
                  int64_t offset, const char *line, size_t line_len);

/* Keeps the points of range r of batch b (the last capacity of them, which
 * is all the listing can show), without a copy: b lends its lines and keys
 * until written_adopt(w, b), and must not change or go before that. Every
 * range kept until then comes from the same b. */
void written_keep_range(written *w, const batch *b, batch_range r);

/* b, whose ranges written_keep_range kept, is done: w takes over its lines
 * and keys (batch_swap_lines) when it still lists points of them, after
 * copying those it lists of the batch before. Clear b next. */
void written_adopt(written *w, batch *b);

/* Pushes the points kept to r, oldest first, and empties w. A point whose
 * key or line is not UTF-8 is left out (a JSON text cannot hold it). With
 * release, the slots' buffers and the lines taken over are freed too (an
 * idle writer gives its memory back); otherwise they stay for the next
 * points. */
void written_flush(written *w, hs_recent *r, bool release);

/* Points kept and not yet flushed. */
size_t written_pending(written *w);

#endif
