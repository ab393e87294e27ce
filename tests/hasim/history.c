/* history.c - the simulator's recorder and its history queries. */
#include "history.h"

#include <stdlib.h>
#include <string.h>

#define NO_SEQ UINT64_MAX

typedef struct {
    int entity;
    uint64_t prev; /* sequence number of the entity's previous state, or NO_SEQ */
    rstr *state;
    rstr *attrs;
    int64_t lu, lc;
} record;

struct history {
    record *ring;
    size_t cap;
    uint64_t oldest;    /* sequence number of the oldest record kept */
    uint64_t next;      /* sequence number the next record gets */
    uint64_t committed; /* records with seq < committed are visible */
    int n_entities;
    uint64_t *last; /* per entity: newest record, or NO_SEQ */
    int64_t run_start_us;
};

history *history_new(int n_entities, size_t max_records, int64_t run_start_us)
{
    history *hist = calloc(1, sizeof *hist);
    if (hist == NULL)
        return NULL;
    hist->cap = max_records > 0 ? max_records : 1;
    hist->ring = calloc(hist->cap, sizeof *hist->ring);
    hist->last = malloc((size_t)(n_entities > 0 ? n_entities : 1) * sizeof *hist->last);
    if (hist->ring == NULL || hist->last == NULL) {
        history_free(hist);
        return NULL;
    }
    for (int i = 0; i < n_entities; i++)
        hist->last[i] = NO_SEQ;
    hist->n_entities = n_entities;
    hist->run_start_us = run_start_us;
    return hist;
}

static record *at(const history *hist, uint64_t seq)
{
    return &hist->ring[seq % hist->cap];
}

void history_free(history *hist)
{
    if (hist == NULL)
        return;
    if (hist->ring != NULL)
        for (uint64_t s = hist->oldest; s < hist->next; s++) {
            rstr_unref(at(hist, s)->state);
            rstr_unref(at(hist, s)->attrs);
        }
    free(hist->ring);
    free(hist->last);
    free(hist);
}

int history_add(history *hist, int entity, const home_state *st)
{
    if (entity < 0 || entity >= hist->n_entities)
        return -1;
    if (hist->next - hist->oldest == hist->cap) {
        /* Purge the oldest state, as the recorder's purge would. */
        record *old = at(hist, hist->oldest);
        rstr_unref(old->state);
        rstr_unref(old->attrs);
        if (hist->last[old->entity] == hist->oldest)
            hist->last[old->entity] = NO_SEQ;
        hist->oldest++;
        if (hist->committed < hist->oldest)
            hist->committed = hist->oldest;
    }
    record *r = at(hist, hist->next);
    r->entity = entity;
    r->prev = hist->last[entity];
    r->state = rstr_ref(st->state);
    r->attrs = rstr_ref(st->attrs);
    r->lu = st->last_updated_us;
    r->lc = st->last_changed_us;
    hist->last[entity] = hist->next++;
    return 0;
}

void history_commit(history *hist)
{
    hist->committed = hist->next;
}

size_t history_size(const history *hist)
{
    return (size_t)(hist->next - hist->oldest);
}

size_t history_visible(const history *hist)
{
    return (size_t)(hist->committed - hist->oldest);
}

bool history_has_states_before(const history *hist, int64_t us)
{
    return hist->committed > hist->oldest && at(hist, hist->oldest)->lu < us;
}

static bool in_set(const char *id, size_t dlen, const char *const *set)
{
    for (; *set != NULL; set++)
        if (strlen(*set) == dlen && memcmp(*set, id, dlen) == 0)
            return true;
    return false;
}

/* recorder/history/const.py */
static const char *const significant_domains[] = {
    "climate", "device_tracker", "humidifier", "thermostat", "water_heater", NULL};
static const char *const need_attribute_domains[] = {
    "climate", "humidifier", "input_datetime", "thermostat", "water_heater", NULL};

/* One row of the compressed format. lc < 0 means "no lc key". */
static void put_row(jbuf *out, const rstr *state, const rstr *attrs, bool with_attrs,
                    int64_t lu, int64_t lc)
{
    jbuf_puts(out, "{\"s\":");
    jbuf_put_jstr(out, state->data, state->len);
    if (with_attrs) {
        jbuf_puts(out, ",\"a\":");
        if (attrs != NULL)
            jbuf_put(out, attrs->data, attrs->len);
        else
            jbuf_puts(out, "{}");
    }
    jbuf_puts(out, ",\"lu\":");
    jbuf_put_ts(out, lu);
    if (lc >= 0 && lc != lu) {
        jbuf_puts(out, ",\"lc\":");
        jbuf_put_ts(out, lc);
    }
    jbuf_putc(out, '}');
}

/* Collects, oldest first, the visible records of one entity that the query
 * selects, into rows[]. Returns the count, or -1 when out of memory. The
 * start-time state, if any, is returned through *start_seq (else NO_SEQ). */
static long collect(const history *hist, const history_query *q, int entity,
                    bool sig_domain, uint64_t **rows, uint64_t *start_seq)
{
    size_t cap = 64, n = 0;
    uint64_t *v = malloc(cap * sizeof *v);
    if (v == NULL)
        return -1;
    *start_seq = NO_SEQ;
    bool want_start = q->include_start_time_state && hist->run_start_us < q->start_us;
    for (uint64_t s = hist->last[entity]; s != NO_SEQ && s >= hist->oldest;) {
        const record *r = at(hist, s);
        uint64_t prev = r->prev;
        if (s >= hist->committed) {
            s = prev;
            continue;
        }
        if (r->lu <= q->start_us) {
            /* Older than the window: the newest such state is the start
             * state (strictly before start_time). */
            if (want_start && r->lu < q->start_us)
                *start_seq = s;
            if (want_start && r->lu == q->start_us) {
                s = prev;
                continue;
            }
            break;
        }
        bool keep = !q->has_end || r->lu < q->end_us;
        if (keep && q->significant_changes_only && !sig_domain && r->lc != r->lu)
            keep = false;
        if (keep) {
            if (n == cap) {
                cap *= 2;
                uint64_t *nv = realloc(v, cap * sizeof *nv);
                if (nv == NULL) {
                    free(v);
                    return -1;
                }
                v = nv;
            }
            v[n++] = s;
        }
        s = prev;
    }
    for (size_t i = 0; i < n / 2; i++) {
        uint64_t t = v[i];
        v[i] = v[n - 1 - i];
        v[n - 1 - i] = t;
    }
    *rows = v;
    return (long)n;
}

void history_query_json(const history *hist, const history_query *q, jbuf *out)
{
    jbuf_putc(out, '{');
    bool first_entity = true;
    for (int k = 0; k < q->n; k++) {
        int entity = q->entity[k];
        if (entity < 0 || entity >= hist->n_entities)
            continue;
        bool dup = false;
        for (int j = 0; j < k; j++)
            if (q->entity[j] == entity)
                dup = true;
        if (dup)
            continue;
        const char *id = q->entity_id[k];
        size_t dlen = q->domain_len[k];
        bool sig = in_set(id, dlen, significant_domains);
        bool minimal = q->minimal_response && !in_set(id, dlen, need_attribute_domains);
        bool with_lc = !q->significant_changes_only;
        uint64_t *rows = NULL, start_seq;
        long n = collect(hist, q, entity, sig, &rows, &start_seq);
        if (n < 0) {
            out->failed = true;
            return;
        }
        if (n == 0 && start_seq == NO_SEQ) {
            free(rows);
            continue;
        }
        if (!first_entity)
            jbuf_putc(out, ',');
        first_entity = false;
        jbuf_put_jcstr(out, id);
        jbuf_puts(out, ":[");
        const rstr *prev_state = NULL;
        bool first_row = true;
        if (start_seq != NO_SEQ) {
            /* The start-time state carries the query's start as lu and never
             * an lc (the recorder selects literal 0 for both). */
            const record *r = at(hist, start_seq);
            bool with_attrs = minimal ? !q->no_attributes : true;
            put_row(out, r->state, with_attrs && !q->no_attributes ? r->attrs : NULL,
                    with_attrs, q->start_us, -1);
            prev_state = r->state;
            first_row = false;
        }
        for (long i = 0; i < n; i++) {
            const record *r = at(hist, rows[i]);
            if (minimal && !first_row) {
                if (prev_state != NULL && prev_state->len == r->state->len &&
                    memcmp(prev_state->data, r->state->data, r->state->len) == 0)
                    continue;
                jbuf_puts(out, ",{\"s\":");
                jbuf_put_jstr(out, r->state->data, r->state->len);
                jbuf_puts(out, ",\"lu\":");
                jbuf_put_ts(out, r->lu);
                jbuf_putc(out, '}');
                prev_state = r->state;
                continue;
            }
            if (!first_row)
                jbuf_putc(out, ',');
            bool with_attrs = minimal ? !q->no_attributes : true;
            put_row(out, r->state, with_attrs && !q->no_attributes ? r->attrs : NULL,
                    with_attrs, r->lu, with_lc ? r->lc : -1);
            prev_state = r->state;
            first_row = false;
        }
        jbuf_putc(out, ']');
        free(rows);
    }
    jbuf_putc(out, '}');
}
