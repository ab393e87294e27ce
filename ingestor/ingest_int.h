/* ingest_int.h - the ingest object's insides, shared by ingest.c (the loop)
 * and ingest_admin.c (the admin views). Not for other modules. */
#ifndef INGESTOR_INGEST_INT_H
#define INGESTOR_INGEST_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "backoff.h"
#include "filter.h"
#include "gapfill.h"
#include "ha_session.h"
#include "ha_url.h"
#include "ha_ws.h"
#include "hs_admin.h"
#include "hs_breaker.h"
#include "hs_mem.h"
#include "hs_recent.h"
#include "rawmsg.h"
#include "ingest.h"
#include "lastseen.h"
#include "outbox.h"
#include "registry.h"
#include "strlist.h"

/* Connection states shown in /health and /stats. */
typedef enum {
    HA_DISCONNECTED = 0,
    HA_CONNECTING,
    HA_AUTHENTICATING,
    HA_CONNECTED,
    HA_AUTH_REJECTED,
} ha_conn_state;

/* Where the gap-closing after a (re)connect stands. */
typedef enum {
    BF_IDLE = 0, /* not connected, or nothing to do */
    BF_STATES,   /* get_states sent */
    BF_HISTORY,  /* a history query is out */
    BF_WAIT,     /* waiting for the recorder to commit before the next query */
    BF_DONE,     /* the gap is closed; live events flow straight through */
} bf_state;

/* Counters the admin thread reads; the ingest thread writes them. */
typedef struct {
    _Atomic uint64_t events_in;      /* live events received from HA */
    _Atomic uint64_t errors;         /* failures of the ingest side */
    _Atomic uint64_t dlq;            /* records sent to the DLQ topic */
    _Atomic uint64_t frames_invalid; /* frames/messages that were not usable */
    _Atomic uint64_t events_invalid; /* events hs_event_from_ha refused */
    _Atomic uint64_t filtered;       /* events the include/exclude filters dropped */
    _Atomic uint64_t deduped;        /* state changes already produced */
    _Atomic uint64_t backfilled;     /* events recovered from get_states/history */
    _Atomic uint64_t backfills;      /* completed gap closings */
    _Atomic uint64_t held;           /* gauge: live events waiting for a backfill */
    _Atomic uint64_t reconnects;     /* connections lost after authentication */
    _Atomic uint64_t connect_attempts;
    _Atomic uint64_t connect_failures;
    _Atomic uint64_t pong_timeouts;
    _Atomic uint64_t registry_loads;
    _Atomic uint64_t registry_entity_updates; /* entries set by config/entity_registry/get */
    _Atomic int64_t last_event_ns; /* time of the last event produced; INT64_MIN: none */
    _Atomic int ha_state;
    _Atomic int bf;
} ingest_stats;

struct ingest {
    struct ingestor_config *cfg;
    pthread_mutex_t lock; /* guards cfg's runtime rows and ha_version */
    bool lock_ready;
    char ha_version[64];
    _Atomic unsigned cfg_gen; /* bumped by PUT /config */
    unsigned filter_gen;

    ha_url url;
    strlist event_types;
    ha_session *session;
    ha_ws *ws;
    outbox *out;
    hs_recent *recent;
    hs_breaker *ha_breaker;
    hs_admin *admin;
    backoff backoff;
    uint64_t rand_state;
    registry *reg;
    int64_t reg_pending[3]; /* id of the list request out, -1 when none */
    int stream_tag;         /* tag of the result being read element by element */
    bool reg_again[3];      /* changed again while a request was out */
    filter filt;
    lastseen *seen;
    rawmsg_buf raw; /* the raw message of the event being produced */

    /* Gap closing. */
    bf_state bf;
    int64_t bf_from_ns;  /* history starts here; INT64_MIN: unknown */
    int64_t bf_resub_ns; /* wall clock when the subscriptions went out */
    int64_t bf_sent_ns;  /* wall clock when the current history query went out */
    int64_t bf_next_ms;  /* monotonic time of the next history query */
    int bf_round;
    gap_store *bf_states; /* the get_states states, kept until the end */
    json_t *bf_ids;       /* entity ids to ask history for */
    uint64_t bf_count;    /* events recovered by this gap closing */
    gap_store *held;      /* live events held back while closing the gap */
    gap_merge *merge;     /* the final merge while it is being produced */
    const char *merge_why; /* why the gap closes (static text) */

    int64_t started_ms;
    int64_t next_stats_ms; /* next homestream_stats record; 0: disabled */
    int64_t connect_started_ms;
    int64_t ready_since_ms;
    int64_t reconnect_at_ms;
    bool authenticated_once;
    bool auth_rejected;
    bool closing;
    int exit_code;
    int64_t warn_sec;
    unsigned warns;
    hs_mem_idle idle; /* frames from HA are activity; big ones are heavy */

    ingest_stats st;
};

/* Starts the admin endpoint on cfg's ADMIN_ADDR (ingest_admin.c). Returns
 * 0, or -1 with a reason in err. */
int ingest_admin_start(ingest *in, char *err, size_t errlen);

/* The /health and /stats objects (new references); ud is the ingest. Safe
 * from any thread. */
json_t *ingest_health_view(void *ud);
json_t *ingest_stats_view(void *ud);

extern const char *const ingest_ha_state_names[];
extern const char *const ingest_bf_state_names[];

#endif
