/* outq.c - a connection's queue of outgoing WebSocket messages. */
#include "outq.h"

#include <stdlib.h>
#include <string.h>

void outq_init(outq *q)
{
    q->head = q->tail = NULL;
    q->count = 0;
    q->bytes = 0;
}

void outq_fini(outq *q)
{
    outq_item *it = q->head;
    while (it != NULL) {
        outq_item *next = it->next;
        free(it);
        it = next;
    }
    outq_init(q);
}

static outq_item *make(size_t n, int64_t not_before_us, bool alone, bool is_event)
{
    outq_item *it = malloc(sizeof *it + n + 1);
    if (it == NULL)
        return NULL;
    it->next = NULL;
    it->not_before_us = not_before_us;
    it->alone = alone;
    it->is_event = is_event;
    it->len = n;
    it->data[n] = '\0';
    return it;
}

int outq_push(outq *q, const char *const *parts, const size_t *lens, int nparts,
              int64_t not_before_us, bool alone, bool is_event)
{
    size_t n = 0;
    for (int i = 0; i < nparts; i++)
        n += lens[i];
    outq_item *it = make(n, not_before_us, alone, is_event);
    if (it == NULL)
        return -1;
    size_t off = 0;
    for (int i = 0; i < nparts; i++) {
        memcpy(it->data + off, parts[i], lens[i]);
        off += lens[i];
    }
    if (q->tail != NULL)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
    q->count++;
    q->bytes += n;
    return 0;
}

int outq_push_front(outq *q, const char *text, size_t n, bool alone)
{
    outq_item *it = make(n, 0, alone, false);
    if (it == NULL)
        return -1;
    memcpy(it->data, text, n);
    it->next = q->head;
    q->head = it;
    if (q->tail == NULL)
        q->tail = it;
    q->count++;
    q->bytes += n;
    return 0;
}

outq_item *outq_pop(outq *q)
{
    outq_item *it = q->head;
    if (it == NULL)
        return NULL;
    q->head = it->next;
    if (q->head == NULL)
        q->tail = NULL;
    q->count--;
    q->bytes -= it->len;
    it->next = NULL;
    return it;
}
