/* server.h - the Home Assistant WebSocket API server of homestream-hasim:
 * connections, authentication, commands, the event stream and its faults. */
#ifndef HASIM_SERVER_H
#define HASIM_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    const char *host;
    int port; /* 0 picks a free port */
    const char *token;
    int entities;
    int late_entities; /* -1 = default */
    int64_t events;    /* 0 = unlimited */
    double rate;       /* events per second, 0 = as fast as possible */
    uint64_t seed;
    const char *events_log; /* NULL = none */
    const char *port_file;  /* NULL = none */
    bool start_on_subscribe;
    bool start_on_signal; /* neither at once nor on subscribe: server_start_stream */
    int64_t drop_after; /* 0 = off */
    int64_t stall_ms;
    int64_t stall_every;
    int64_t bad_frame_every;
    int64_t auth_fail_first;
    int huge_states_kb;
    int64_t slow_get_states_ms;
    int64_t recorder_commit_ms;
    int coalesce_max;
    int64_t history_max;
    int64_t heartbeat_s; /* ping after this much client silence, 0 = off */
    bool strict_history; /* history_during_period requires entity_ids */
} hasim_opts;

typedef struct server server;

/* Builds the home, binds the listening socket and writes LISTENING=<port> to
 * out (and the port to opts->port_file). out receives the LISTENING and DONE
 * lines only and must outlive the server. Returns NULL with a reason in err. */
server *server_new(const hasim_opts *opts, FILE *out, char *err, size_t errlen);
/* Serves network events and timers once, blocking until something happens.
 * Returns 0, or -1 when the event loop failed. */
int server_service(server *s);
/* Starts the event stream now (once; later calls change nothing). */
void server_start_stream(server *s);
/* Ends the event stream now, as if --events had been the number emitted so
 * far: writes DONE=<N>; the server keeps serving. Once over, nothing. */
void server_end_stream(server *s);
/* Closes every connection and frees everything. Accepts NULL. */
void server_free(server *s);

#endif
