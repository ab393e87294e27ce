/* written.c - the writer's last points written, kept raw until they are asked for. */
#include "written.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lineproto.h"
#include "msgjson.h"

/* A slot's buffer grows to the largest point it held; one over this size is
 * given back when a point less than a quarter of it comes, so a burst of
 * huge points does not pin capacity times their size. */
#define SLOT_KEEP_BYTES (16 * 1024)

typedef struct {
    char *buf; /* the key's bytes, then the line's */
    size_t cap;
    size_t key_len, line_len;
    bool has_key, kept;
    int32_t partition;
    int64_t offset;
} slot;

struct written {
    pthread_mutex_t lock;
    slot *slots;
    size_t capacity;
    size_t next;  /* the slot the next point goes to */
    size_t count; /* points kept, at most capacity */
};

written *written_new(size_t capacity)
{
    written *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    w->capacity = capacity > 0 ? capacity : 1;
    w->slots = calloc(w->capacity, sizeof *w->slots);
    if (w->slots == NULL) {
        free(w);
        return NULL;
    }
    pthread_mutex_init(&w->lock, NULL);
    return w;
}

static void release_slots(written *w)
{
    for (size_t i = 0; i < w->capacity; i++) {
        free(w->slots[i].buf);
        w->slots[i].buf = NULL;
        w->slots[i].cap = 0;
    }
}

void written_free(written *w)
{
    if (w == NULL)
        return;
    release_slots(w);
    free(w->slots);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

/* Makes s's buffer hold at least need bytes; false when out of memory. */
static bool slot_room(slot *s, size_t need)
{
    if (s->buf != NULL && s->cap >= need &&
        !(s->cap > SLOT_KEEP_BYTES && need < s->cap / 4))
        return true;
    size_t cap = need < 256 ? 256 : need;
    char *b = realloc(s->buf, cap);
    if (b == NULL)
        return s->buf != NULL && s->cap >= need;
    s->buf = b;
    s->cap = cap;
    return true;
}

void written_keep(written *w, const void *key, size_t key_len, int32_t partition,
                  int64_t offset, const char *line, size_t line_len)
{
    if (key == NULL)
        key_len = 0;
    pthread_mutex_lock(&w->lock);
    slot *s = &w->slots[w->next];
    w->next = (w->next + 1) % w->capacity;
    if (w->count < w->capacity)
        w->count++;
    s->kept = slot_room(s, key_len + line_len);
    if (s->kept) {
        if (key_len > 0)
            memcpy(s->buf, key, key_len);
        if (line_len > 0)
            memcpy(s->buf + key_len, line, line_len);
        s->key_len = key_len;
        s->line_len = line_len;
        s->has_key = key != NULL;
        s->partition = partition;
        s->offset = offset;
    }
    pthread_mutex_unlock(&w->lock);
}

/* s as the JSON text the ring keeps, into t: false when its key or line is
 * not UTF-8 or out of memory. */
static bool slot_json(const slot *s, lineproto_buf *t)
{
    lineproto_buf_truncate(t, 0);
    int rc = lineproto_buf_append(t, "{\"entity_id\":", 13);
    rc |= msgjson_dump_string(s->has_key ? s->buf : "", s->key_len, t);
    rc |= lineproto_buf_append(t, ",\"partition\":", 13);
    rc |= lineproto_append_int(t, s->partition);
    rc |= lineproto_buf_append(t, ",\"offset\":", 10);
    rc |= lineproto_append_int(t, s->offset);
    rc |= lineproto_buf_append(t, ",\"line\":", 8);
    rc |= msgjson_dump_string(s->buf + s->key_len, s->line_len, t);
    rc |= lineproto_buf_append(t, "}", 1);
    return rc == 0;
}

void written_flush(written *w, hs_recent *r, bool release)
{
    lineproto_buf t;
    lineproto_buf_init(&t);
    pthread_mutex_lock(&w->lock);
    size_t first = (w->next + w->capacity - w->count) % w->capacity;
    for (size_t i = 0; i < w->count; i++) {
        const slot *s = &w->slots[(first + i) % w->capacity];
        if (!s->kept || !slot_json(s, &t))
            continue;
        /* The ring filters by entity id as a C string: up to 255 bytes of
         * the key, none when it has none. */
        char id[256];
        size_t n = s->key_len < sizeof id - 1 ? s->key_len : sizeof id - 1;
        memcpy(id, s->buf, n);
        id[n] = '\0';
        hs_recent_push_text(r, id[0] ? id : NULL, t.data, t.len);
    }
    w->count = 0;
    if (release)
        release_slots(w);
    pthread_mutex_unlock(&w->lock);
    lineproto_buf_fini(&t);
}

size_t written_pending(written *w)
{
    pthread_mutex_lock(&w->lock);
    size_t n = w->count;
    pthread_mutex_unlock(&w->lock);
    return n;
}
