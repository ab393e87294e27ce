/* memq.c - a bounded in-memory FIFO of Kafka records. */
#include "memq.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct rec {
    struct rec *next;
    size_t keylen, len;
    int tag;
    uint64_t seq;
    bool has_key;
    unsigned char data[]; /* key, then payload */
} rec;

struct memq {
    rec *head, *tail;
    size_t count, bytes;
    size_t max_records, max_bytes;
};

memq *memq_new(size_t max_records, size_t max_bytes)
{
    memq *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return NULL;
    q->max_records = max_records;
    q->max_bytes = max_bytes;
    return q;
}

void memq_free(memq *q)
{
    if (q == NULL)
        return;
    while (q->head != NULL)
        memq_pop(q);
    free(q);
}

int memq_push(memq *q, int tag, uint64_t seq, const void *key, size_t keylen,
              const void *payload, size_t len)
{
    if (key == NULL)
        keylen = 0;
    size_t size = keylen + len;
    if (q->count >= q->max_records || size > q->max_bytes ||
        q->bytes > q->max_bytes - size)
        return -1;
    rec *r = malloc(sizeof(*r) + size);
    if (r == NULL)
        return -1;
    r->next = NULL;
    r->keylen = keylen;
    r->len = len;
    r->tag = tag;
    r->seq = seq;
    r->has_key = key != NULL;
    if (keylen > 0)
        memcpy(r->data, key, keylen);
    if (len > 0)
        memcpy(r->data + keylen, payload, len);
    if (q->tail != NULL)
        q->tail->next = r;
    else
        q->head = r;
    q->tail = r;
    q->count++;
    q->bytes += size;
    return 0;
}

int memq_peek(const memq *q, int *tag, uint64_t *seq, const void **key, size_t *keylen,
              const void **payload, size_t *len)
{
    const rec *r = q->head;
    if (r == NULL)
        return -1;
    *tag = r->tag;
    *seq = r->seq;
    *key = r->has_key ? r->data : NULL;
    *keylen = r->keylen;
    *payload = r->data + r->keylen;
    *len = r->len;
    return 0;
}

void memq_pop(memq *q)
{
    rec *r = q->head;
    if (r == NULL)
        return;
    q->head = r->next;
    if (q->head == NULL)
        q->tail = NULL;
    q->count--;
    q->bytes -= r->keylen + r->len;
    free(r);
}

size_t memq_count(const memq *q)
{
    return q->count;
}

size_t memq_bytes(const memq *q)
{
    return q->bytes;
}
