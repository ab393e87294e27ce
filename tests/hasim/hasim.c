/* hasim.c - homestream-hasim: a Home Assistant WebSocket API simulator.
 *
 * README
 * ======
 * homestream-hasim serves ws://HOST:PORT/api/websocket and speaks the Home
 * Assistant WebSocket API as HA 2026.11 does (the shapes below were read from
 * home-assistant/core: websocket_api/{auth,http,connection,commands,messages,
 * const}.py, history/websocket_api.py, recorder/history/modern.py and the
 * registries' list commands). It generates a deterministic home (same --seed,
 * same entities, same sequence of changes; only the timestamps follow the
 * clock) and streams its state changes to every subscriber.
 *
 * Options (all optional; --help prints them):
 *   --host H (127.0.0.1)  --port P (8123; 0 picks a free port)
 *   --token T (HA_TOKEN from the environment, else "hasim-token")
 *   --entities N (40)  --late-entities K (default N/10, at most 8)
 *   --events N (0 = unlimited)  --rate R (10 events/s; 0 = as fast as possible)
 *   --seed S (1)
 *   --events-log PATH   every emitted state_changed event object, exactly as
 *                       sent, one JSON line each, flushed per line
 *   --port-file PATH    the bound port, written once listening
 *   --start-on-subscribe / --no-start-on-subscribe (on)
 *   --start-on-signal   the stream starts when SIGUSR1 arrives (benchmarks:
 *                       a client's start-up without events flowing)
 *   SIGUSR2 (always) ends the stream at once, as if --events were the number
 *   emitted so far (DONE=<N>, and the server keeps serving)
 *   faults: --drop-after N, --stall-ms MS with --stall-every N (default 1000),
 *   --bad-frame-every N, --auth-fail-first N, --huge-states-kb K,
 *   --slow-get-states-ms MS, --recorder-commit-ms MS (5000),
 *   --coalesce-max N (0: no limit), --history-max N (300000), --strict-history,
 *   --heartbeat-s S (55: WebSocket ping after S s of client silence, close
 *   when no pong comes within S/2, as aiohttp's heartbeat)
 *   --log-level L (info)
 * stdout carries only "LISTENING=<port>" (once listening) and "DONE=<N>"
 * (when --events N are all emitted, or on SIGUSR2; the server keeps
 * serving); logs (JSON
 * lines, LOG_FORMAT=text for text) go to stderr. SIGTERM/SIGINT exit 0.
 *
 * Protocol, as HA does it:
 *  - auth_required {ha_version}; auth with access_token -> auth_ok, or
 *    auth_invalid "Invalid access token or password" and a normal close. A
 *    first message that is not a valid auth message gets auth_invalid
 *    "Auth message incorrectly formatted: ..." and a close; invalid JSON or a
 *    binary frame in the auth phase closes without a message; no auth message
 *    within 10 s closes.
 *  - Commands need an integer "id" > 0 and a "type"; otherwise invalid_format
 *    "Message incorrectly formatted." (id echoed, 0 for a non-object). Ids must
 *    increase (id_reuse). Unknown types get unknown_command and, as in HA, do
 *    not advance the last id. Schema errors (extra keys, missing or mistyped
 *    fields) get invalid_format with voluptuous-like text. A JSON array of
 *    commands is handled element by element. Invalid JSON closes the
 *    connection after the queued messages are sent (HA: "Received invalid
 *    JSON."). Messages over 4 MiB close with 1009, as aiohttp does.
 *  - supported_features {"features":{"coalesce_messages":1}}: everything queued
 *    for the connection when it becomes writable is then sent as one JSON
 *    array frame, as http.py's writer joins its whole queue (--coalesce-max N
 *    caps a frame at N messages; 0, the default, does not).
 *  - subscribe_events (event_type optional, "*" by default), unsubscribe_events
 *    (not_found "Subscription not found."), ping -> pong, get_states, get_config,
 *    config/{area,device,entity}_registry/list (HA's field sets),
 *    config/entity_registry/get {entity_id} (the extended entry, or not_found
 *    "Entity not found"), and
 *    history/history_during_period answered from the simulator's recorder in
 *    the compressed format ("s", "a", "lu", "lc" floats) with HA's rules:
 *    start-time state with lu = start_time and no lc; significant_changes_only
 *    keeps rows whose state changed plus every row of climate/device_tracker/
 *    humidifier/thermostat/water_heater; lc only when significant_changes_only
 *    is false and lc != lu; minimal_response gives the first row in full and
 *    then {"s","lu"} on state changes only (not for climate and the other
 *    attribute domains); no_attributes drops "a" from minimal first rows and
 *    sends "a":{} otherwise. Recorded states become visible only at each
 *    --recorder-commit-ms commit, like the recorder's commit interval.
 *  - Backpressure as http.py: a client 4096 messages behind is closed at
 *    once; one over 1024 behind for 10 s is closed. At --rate 0 the stream
 *    instead fills a subscriber's queue up to 1000 messages and then waits
 *    until that queue has drained to 500 (the drain resumes it; no polling),
 *    so fast runs never trip those limits; with coalescing, a flood goes out
 *    in frames of up to 1000 events.
 *  - CPU: events are formatted once and shared by every subscriber; at
 *    --rate R > 0 the generator wakes every 1/R s (at least 1 ms apart) and
 *    sleeps in between (libwebsockets alone would poll in a busy loop for
 *    the last fraction of each millisecond).
 *
 * Fidelity choices and known differences:
 *  - Timestamps are datetime.isoformat(): "+00:00" and microseconds, but no
 *    fraction at all when the microseconds are zero, exactly as Python does.
 *    To make that form show up, the first event after the clock crosses a
 *    whole second is stamped exactly on that second (so about one event a
 *    second has no fraction; HA does it once in a million events).
 *    Every event has a unique last_updated, strictly increasing per entity and
 *    over the home; time_fired == new_state.last_updated; last_changed moves
 *    only when the state text changes; last_reported == last_updated; the
 *    event context equals new_state's context (ULID id; user_id or parent_id
 *    set on some light/switch/input_text changes).
 *  - States never exceed 255 characters (HA rejects longer states); the very
 *    long hostile strings (a few KB) are attribute values.
 *  - About 1 % of changes make an entity "unavailable" or "unknown" (keeping
 *    its attributes); its next change restores a value.
 *  - The last --late-entities entities appear while the stream runs (one per
 *    50 events): an entity_registry_updated {"action":"create"} event, then a
 *    state_changed with old_state null. get_states therefore lists fewer than
 *    --entities states until they have all appeared.
 *  - --huge-states-kb K adds sensor.hasim_large_attributes (K KB of
 *    attributes, never changes) on top of --entities.
 *  - history_during_period without entity_ids answers for every entity (HA
 *    2023+ requires entity_ids and answers invalid_format; --strict-history
 *    does the same). The recorder keeps the last --history-max states.
 *  - Frames are sent whole (one WebSocket frame per message or array), as
 *    aiohttp does, whatever their size.
 *  - There is no HTTP control port and no REST API.
 *
 * Tests: test-hasim-{jbuf,history,home}.c (Check) and homestream-hasim-probe,
 * an HA client that checks the stream against get_states and history
 * (meson test --suite hasim).
 *
 * Faults: --drop-after N drops the TCP connection (no close frame) after every
 * N events sent to that connection; --stall-every N/--stall-ms MS stops
 * writing to the client for MS after every N events; --bad-frame-every N sends
 * a truncated JSON text frame after every N events, then continues;
 * --auth-fail-first N rejects the first N auth attempts of the process with
 * auth_invalid; --slow-get-states-ms delays get_states results (and what is
 * queued behind them).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hs_log.h"
#include "server.h"

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t start_requested;
static volatile sig_atomic_t end_requested;

static void on_signal(int sig)
{
    if (sig == SIGUSR1)
        start_requested = 1;
    else if (sig == SIGUSR2)
        end_requested = 1;
    else
        stop_requested = 1;
}

enum {
    OPT_HOST = 1000,
    OPT_PORT,
    OPT_TOKEN,
    OPT_ENTITIES,
    OPT_LATE,
    OPT_EVENTS,
    OPT_RATE,
    OPT_SEED,
    OPT_EVENTS_LOG,
    OPT_PORT_FILE,
    OPT_START_ON_SUB,
    OPT_NO_START_ON_SUB,
    OPT_START_ON_SIGNAL,
    OPT_DROP_AFTER,
    OPT_STALL_MS,
    OPT_STALL_EVERY,
    OPT_BAD_FRAME,
    OPT_AUTH_FAIL,
    OPT_HUGE,
    OPT_SLOW_GET_STATES,
    OPT_COMMIT,
    OPT_COALESCE,
    OPT_HISTORY_MAX,
    OPT_STRICT_HISTORY,
    OPT_HEARTBEAT,
    OPT_LOG_LEVEL,
    OPT_HELP,
    OPT_VERSION,
};

static const struct option long_opts[] = {
    {"host", required_argument, NULL, OPT_HOST},
    {"port", required_argument, NULL, OPT_PORT},
    {"token", required_argument, NULL, OPT_TOKEN},
    {"entities", required_argument, NULL, OPT_ENTITIES},
    {"late-entities", required_argument, NULL, OPT_LATE},
    {"events", required_argument, NULL, OPT_EVENTS},
    {"rate", required_argument, NULL, OPT_RATE},
    {"seed", required_argument, NULL, OPT_SEED},
    {"events-log", required_argument, NULL, OPT_EVENTS_LOG},
    {"port-file", required_argument, NULL, OPT_PORT_FILE},
    {"start-on-subscribe", no_argument, NULL, OPT_START_ON_SUB},
    {"no-start-on-subscribe", no_argument, NULL, OPT_NO_START_ON_SUB},
    {"start-on-signal", no_argument, NULL, OPT_START_ON_SIGNAL},
    {"drop-after", required_argument, NULL, OPT_DROP_AFTER},
    {"stall-ms", required_argument, NULL, OPT_STALL_MS},
    {"stall-every", required_argument, NULL, OPT_STALL_EVERY},
    {"bad-frame-every", required_argument, NULL, OPT_BAD_FRAME},
    {"auth-fail-first", required_argument, NULL, OPT_AUTH_FAIL},
    {"huge-states-kb", required_argument, NULL, OPT_HUGE},
    {"slow-get-states-ms", required_argument, NULL, OPT_SLOW_GET_STATES},
    {"recorder-commit-ms", required_argument, NULL, OPT_COMMIT},
    {"coalesce-max", required_argument, NULL, OPT_COALESCE},
    {"history-max", required_argument, NULL, OPT_HISTORY_MAX},
    {"strict-history", no_argument, NULL, OPT_STRICT_HISTORY},
    {"heartbeat-s", required_argument, NULL, OPT_HEARTBEAT},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
    fputs(
        "Usage: homestream-hasim [options]\n"
        "A Home Assistant WebSocket API simulator (ws://HOST:PORT/api/websocket).\n\n"
        "  --host HOST              address to listen on [127.0.0.1]\n"
        "  --port PORT              port, 0 picks a free one [8123]\n"
        "  --token TOKEN            access token to accept [$HA_TOKEN or hasim-token]\n"
        "  --entities N             entities in the generated home [40]\n"
        "  --late-entities K        of those, entities that appear while streaming\n"
        "                           [N/10, at most 8]\n"
        "  --events N               events to emit, 0 = unlimited [0]\n"
        "  --rate R                 events per second, 0 = as fast as possible [10]\n"
        "  --seed S                 seed of the generated home and changes [1]\n"
        "  --events-log PATH        append every emitted state_changed event as a line\n"
        "  --port-file PATH         write the bound port there once listening\n"
        "  --start-on-subscribe     start the stream at the first subscription [on]\n"
        "  --no-start-on-subscribe  start the stream at once\n"
        "  --start-on-signal        start the stream when SIGUSR1 arrives\n"
        "Faults:\n"
        "  --drop-after N           drop a connection after every N events sent to it\n"
        "  --stall-ms MS            stop writing to a client for MS ...\n"
        "  --stall-every N          ... after every N events sent to it [1000]\n"
        "  --bad-frame-every N      send a truncated JSON frame after every N events\n"
        "  --auth-fail-first N      reject the first N auth attempts\n"
        "  --huge-states-kb K       add an entity with K KB of attributes\n"
        "  --slow-get-states-ms MS  answer get_states MS later\n"
        "  --recorder-commit-ms MS  history shows states after the next commit [5000]\n"
        "  --coalesce-max N         messages per coalesced frame at most, 0 = all\n"
        "                           queued, as HA [0]\n"
        "  --history-max N          states the recorder keeps [300000]\n"
        "  --strict-history         history_during_period requires entity_ids, as HA\n"
        "  --heartbeat-s S          ping a client silent for S s, drop it without a\n"
        "                           pong within S/2 s (aiohttp's heartbeat), 0 = off "
        "[55]\n"
        "  --log-level LEVEL        debug, info, warn or error [info]\n"
        "  --help, --version\n"
        "stdout: LISTENING=<port> once listening, DONE=<N> when N events were\n"
        "emitted; logs go to stderr (LOG_FORMAT=text for text).\n",
        f);
}

/* Parses a whole non-negative integer within [0, max]. */
static int parse_int(const char *name, const char *text, int64_t max, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < 0 || v > max) {
        fprintf(stderr,
                "homestream-hasim: --%s: expected an integer in [0, %lld], got '%s'\n",
                name, (long long)max, text);
        return -1;
    }
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    const char *env_token = getenv("HA_TOKEN");
    hasim_opts o = {
        .host = "127.0.0.1",
        .port = 8123,
        .token = env_token != NULL && env_token[0] != '\0' ? env_token : "hasim-token",
        .entities = 40,
        .late_entities = -1,
        .events = 0,
        .rate = 10,
        .seed = 1,
        .start_on_subscribe = true,
        .stall_every = 1000,
        .recorder_commit_ms = 5000,
        .coalesce_max = 0,
        .history_max = 300000,
        .heartbeat_s = 55,
    };
    hs_log_level level = HS_LOG_INFO;
    int opt;
    int64_t v;
    while ((opt = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        const char *name = "";
        for (const struct option *lo = long_opts; lo->name != NULL; lo++)
            if (lo->val == opt)
                name = lo->name;
        switch (opt) {
        case OPT_HOST:
            o.host = optarg;
            break;
        case OPT_TOKEN:
            o.token = optarg;
            break;
        case OPT_EVENTS_LOG:
            o.events_log = optarg;
            break;
        case OPT_PORT_FILE:
            o.port_file = optarg;
            break;
        case OPT_START_ON_SUB:
            o.start_on_subscribe = true;
            break;
        case OPT_NO_START_ON_SUB:
            o.start_on_subscribe = false;
            break;
        case OPT_START_ON_SIGNAL:
            o.start_on_signal = true;
            break;
        case OPT_STRICT_HISTORY:
            o.strict_history = true;
            break;
        case OPT_RATE: {
            char *end;
            errno = 0;
            o.rate = strtod(optarg, &end);
            if (errno != 0 || end == optarg || *end != '\0' || !(o.rate >= 0) ||
                o.rate > 1e7) {
                fprintf(stderr,
                        "homestream-hasim: --rate: expected a number in [0, 1e7], "
                        "got '%s'\n",
                        optarg);
                return 2;
            }
            break;
        }
        case OPT_LOG_LEVEL:
            if (hs_log_level_parse(optarg, &level) < 0) {
                fprintf(stderr, "homestream-hasim: --log-level: unknown level '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case OPT_HELP:
            usage(stdout);
            return 0;
        case OPT_VERSION:
            printf("homestream-hasim %s (Home Assistant %s)\n", HS_VERSION, "2026.11.0");
            return 0;
        case OPT_PORT:
        case OPT_ENTITIES:
        case OPT_LATE:
        case OPT_EVENTS:
        case OPT_SEED:
        case OPT_DROP_AFTER:
        case OPT_STALL_MS:
        case OPT_STALL_EVERY:
        case OPT_BAD_FRAME:
        case OPT_AUTH_FAIL:
        case OPT_HUGE:
        case OPT_SLOW_GET_STATES:
        case OPT_COMMIT:
        case OPT_COALESCE:
        case OPT_HISTORY_MAX:
        case OPT_HEARTBEAT: {
            int64_t max = opt == OPT_PORT       ? 65535
                          : opt == OPT_ENTITIES ? 100000
                          : opt == OPT_LATE     ? 100000
                          : opt == OPT_HUGE     ? 1024 * 1024
                          : opt == OPT_COALESCE ? 100000
                                                : INT64_MAX / 1000000;
            if (parse_int(name, optarg, max, &v) < 0)
                return 2;
            switch (opt) {
            case OPT_PORT:
                o.port = (int)v;
                break;
            case OPT_ENTITIES:
                o.entities = (int)v;
                break;
            case OPT_LATE:
                o.late_entities = (int)v;
                break;
            case OPT_EVENTS:
                o.events = v;
                break;
            case OPT_SEED:
                o.seed = (uint64_t)v;
                break;
            case OPT_DROP_AFTER:
                o.drop_after = v;
                break;
            case OPT_STALL_MS:
                o.stall_ms = v;
                break;
            case OPT_STALL_EVERY:
                o.stall_every = v;
                break;
            case OPT_BAD_FRAME:
                o.bad_frame_every = v;
                break;
            case OPT_AUTH_FAIL:
                o.auth_fail_first = v;
                break;
            case OPT_HUGE:
                o.huge_states_kb = (int)v;
                break;
            case OPT_SLOW_GET_STATES:
                o.slow_get_states_ms = v;
                break;
            case OPT_COMMIT:
                o.recorder_commit_ms = v;
                break;
            case OPT_COALESCE:
                o.coalesce_max = (int)v;
                break;
            case OPT_HISTORY_MAX:
                o.history_max = v;
                break;
            case OPT_HEARTBEAT:
                o.heartbeat_s = v;
                break;
            default:
                break;
            }
            break;
        }
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "homestream-hasim: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (o.entities < 1 || o.history_max < 1) {
        fprintf(stderr,
                "homestream-hasim: --entities and --history-max must be at least 1\n");
        return 2;
    }

    /* stdout is for LISTENING/DONE only: keep it as `out` and send fd 1,
     * where hs_log writes, to stderr. */
    fflush(stdout);
    int out_fd = dup(STDOUT_FILENO);
    FILE *out = out_fd >= 0 ? fdopen(out_fd, "w") : NULL;
    if (out == NULL || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
        fprintf(stderr, "homestream-hasim: cannot set up stdout: %s\n", strerror(errno));
        return 1;
    }
    const char *fmt = getenv("LOG_FORMAT");
    if (hs_log_setup("hasim", level, fmt != NULL && fmt[0] != '\0' ? fmt : "json") < 0)
        hs_log_setup("hasim", level, "json");

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    char err[256] = "";
    server *srv = server_new(&o, out, err, sizeof err);
    if (srv == NULL) {
        hs_error("hasim", "cannot start: %s", err);
        fclose(out);
        return 1;
    }
    int rc = 0;
    while (!stop_requested) {
        if (start_requested) {
            start_requested = 0;
            hs_info("hasim", "SIGUSR1: starting the event stream");
            server_start_stream(srv);
        }
        if (end_requested) {
            end_requested = 0;
            hs_info("hasim", "SIGUSR2: ending the event stream");
            server_end_stream(srv);
        }
        if (server_service(srv) < 0) {
            hs_error("hasim", "event loop failed");
            rc = 1;
            break;
        }
    }
    if (stop_requested)
        hs_info("hasim", "stopping on signal");
    server_free(srv);
    fclose(out);
    return rc;
}
