/* history.h - the simulator's recorder: every state the home wrote, queryable
 * as history/history_during_period answers in HA's compressed format.
 *
 * Like HA's recorder, new states become visible to queries only when the
 * recorder commits (history_commit(), called every commit interval), and the
 * oldest states are purged once more than max_records are kept. */
#ifndef HASIM_HISTORY_H
#define HASIM_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "home.h"
#include "jbuf.h"

typedef struct history history;

/* A recorder for entities 0..n_entities-1 whose recording run started at
 * run_start_us, keeping at most max_records states (>= 1). Returns NULL when
 * out of memory. */
history *history_new(int n_entities, size_t max_records, int64_t run_start_us);
void history_free(history *hist);

/* Records entity's state st (taking references to its strings). States must
 * be added in strictly increasing last_updated order. Returns 0 or -1. */
int history_add(history *hist, int entity, const home_state *st);
/* Makes every state added so far visible to queries. */
void history_commit(history *hist);
/* States kept, and how many of them are visible. */
size_t history_size(const history *hist);
size_t history_visible(const history *hist);
/* True when a visible state has last_updated < us (HA's has_states_before). */
bool history_has_states_before(const history *hist, int64_t us);

typedef struct {
    int64_t start_us;
    bool has_end;
    int64_t end_us;
    bool include_start_time_state;
    bool significant_changes_only;
    bool minimal_response;
    bool no_attributes;
    int n;             /* entities requested, in the order asked */
    const int *entity; /* home index of each, -1 when never recorded */
    const char *const *entity_id;
    const size_t *domain_len;
} history_query;

/* Appends the result object of history/history_during_period to out:
 * {"<entity_id>":[{"s":..,"a":{..},"lu":..,"lc":..},..],..}, following HA's
 * recorder (history/modern.py) rule for rule. */
void history_query_json(const history *hist, const history_query *q, jbuf *out);

#endif
