#!/usr/bin/env python3
"""run_faults.py - homestream's fault-injection suite.

Every scenario starts a fresh pipeline of real processes on loopback (the dev
broker, influxd, hasim and the three stages, through the integration
harness), lets hasim stream a known sequence of state changes at a steady
rate, injects one kind of fault while it streams, waits for the stream to end
and the pipeline to drain, and then reads InfluxDB back:

  lost        generated (entity_id, last_updated) points missing in InfluxDB
  duplicated  points hasim never generated (beyond the states HA itself had
              before the stream: the get_states snapshot), and points that
              landed twice: under two measurements, or in two series of
              one measurement (another tag differs)
  dlq         records on the DLQ topic (counted with the writer's own
              --replay-dlq into a scratch topic)
  recovery    seconds from the end of the fault until every event generated
              before that moment was in InfluxDB

and requires the field values to match (expect.check_fields). Each scenario
also checks that its fault really happened (the stage saw it), where a stage reports
it, so a scenario cannot pass without exercising anything. The run prints a table and exits 1
when any scenario lost, duplicated, dead-lettered or mis-wrote anything.

Random choices (kill moments, down times) come from --seed, printed at the
start; the same seed and --only reproduce the same schedule. Scenarios run in
--jobs parallel lanes (default 3), longest first. A failing scenario keeps its
work directory (all logs, the events logs, influxd's data) and says where.

The dev broker keeps at most 5 MiB per partition (librdkafka's mock cluster)
and drops the oldest data beyond that; the topics get 24 partitions and the
long scenario streams at a lower rate so that a backlog stays far below it.
When the generated stream could still have exceeded it, the scenario says so.

  run_faults.py [--quick] [--only NAME[,NAME]] [--seed N] [--jobs N] [--list]
Environment: HS_BUILD_DIR (the meson build directory), HS_KEEP_TMP=1 keeps
every work directory.
"""
import argparse
import collections
import concurrent.futures
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
import traceback
import zlib

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import expect  # noqa: E402
import harness  # noqa: E402

RATE = 200                 # events per second hasim emits
ENTITIES = 40
HOME_SEED = 1              # hasim's home; the fault schedule has its own seed
PARTITIONS = 24
RETENTION_BYTES = 5 * 2**20
DLQ_COUNT_TOPIC = "hs.faults.dlqcount"
DRAIN_S = 75               # longest wait for the pipeline to drain after faults and stream
# A restarted consumer waits until the group forgets the killed one: its
# session times out (librdkafka's default session.timeout.ms, 45 s), and the
# dev broker's mock group then needs one or two more rebalance rounds of
# about as long. 130 s after the last kill was measured on this machine.
CONSUMER_DRAIN_S = 240
STALL_S = 25               # ... but give up earlier when nothing lands for this long
PRINT_LOCK = threading.Lock()


def say(name, msg):
    with PRINT_LOCK:
        print("[%s] %s" % (name, msg), flush=True)


# ---- processes ---------------------------------------------------------------

class FaultBroker(harness.DevBroker):
    """The dev broker with its fault-injection control port and the scratch topic."""

    def __init__(self, workdir, partitions):
        super().__init__(workdir, partitions)
        self.proc.argv += ["--control-port", "0", "--topic", DLQ_COUNT_TOPIC + ":1"]
        self.control = None

    def start(self):
        super().start()

        def find():
            with open(self.proc.err_path, "rb") as f:
                m = re.search(rb"control server on (127\.0\.0\.1:\d+)", f.read())
            return m and m.group(1).decode()
        self.control = "http://" + harness.wait_until(find, 10, "devbroker control port")
        return self

    def post(self, path, body=None):
        data = body if body is not None else b""
        status, _, out = harness.http("POST", self.control + path, data)
        if status != 200:
            raise RuntimeError("devbroker %s %r -> %s %s" % (path, body, status, out[:200]))
        return json.loads(out)


class HaSimAgain(harness.HaSim):
    """A second hasim process on a given port with its own logs: Home Assistant
    restarted. Same --seed, so the same home."""

    def __init__(self, workdir, token, events, rate, port, extra):
        self.token = token
        self.port = port
        self.events_log = os.path.join(workdir, "hasim2-events.jsonl")
        self.proc = harness.Proc("hasim2", [harness.binary("tests/hasim/homestream-hasim"),
                                            "--port", str(port), "--token", token,
                                            "--events", str(events), "--rate", str(rate),
                                            "--entities", str(ENTITIES), "--seed", str(HOME_SEED),
                                            "--events-log", self.events_log] + list(extra),
                                 {}, workdir)


class FaultHttp:
    """fault_http.py: the weather and presence API that fails on command."""

    def __init__(self, workdir):
        argv = [sys.executable, os.path.join(HERE, "fault_http.py")]
        self.proc = harness.Proc("fault_http", argv, {}, workdir)
        self.url = None
        self.control = None

    def start(self):
        self.proc.start()
        self.url = "http://127.0.0.1:%s" % self.proc.wait_line("API_PORT=")
        self.control = "http://127.0.0.1:%s" % self.proc.wait_line("CONTROL_PORT=")
        return self

    def mode(self, **kw):
        status, _, out = harness.http("POST", self.control + "/mode", kw)
        if status != 200:
            raise RuntimeError("fault_http /mode %r -> %s %s" % (kw, status, out[:200]))
        return json.loads(out)

    def stats(self):
        return json.loads(harness.http("GET", self.control + "/stats")[2])

    def stop(self):
        return self.proc.stop()


# ---- what hasim generated, what InfluxDB holds ---------------------------------

class Ledger:
    """Reads hasim's events logs as they grow. want maps each generated point's
    key (expect.point_key) to its event; snapshot holds the keys of the states
    each hasim had before it streamed (the first old_state of every entity),
    which the ingestor legitimately writes from get_states."""

    def __init__(self):
        self.logs = []
        self.want = {}
        self.snapshot = set()
        self.twice = []

    def add_log(self, path):
        self.logs.append({"path": path, "offset": 0, "tail": b"", "seen": set()})

    def refresh(self):
        for lg in self.logs:
            try:
                with open(lg["path"], "rb") as f:
                    f.seek(lg["offset"])
                    data = f.read()
            except FileNotFoundError:
                continue
            lg["offset"] += len(data)
            lines = (lg["tail"] + data).split(b"\n")
            lg["tail"] = lines.pop()
            for line in lines:
                if line.strip():
                    self.add(lg, json.loads(line))

    def add(self, lg, ev):
        data = ev["data"]
        eid = data["entity_id"]
        if eid not in lg["seen"]:
            lg["seen"].add(eid)
            if data.get("old_state"):
                self.snapshot.add(expect.point_key({"data": {"entity_id": eid,
                                                             "new_state": data["old_state"]}}))
        key = expect.point_key(ev)
        if key is None:
            return   # an entity removed: no point to write
        if key in self.want:
            self.twice.append(key)
        self.want[key] = ev

    def events(self):
        return self.want.values()


def landed(influx, db, full, twice=None):
    """{(measurement, domain, entity_id, time): row} of the HA points in
    InfluxDB. Without full, only value and state come back (cheap to poll).
    A key found in two rows (two series that differ in another tag) is
    appended to the list twice when one is given."""
    fields = "*" if full else '"value","state","domain","entity_id"'
    out = {}
    for name, _tags, rows in influx.series("SELECT %s FROM /.*/" % fields, db):
        if name in expect.OWN_MEASUREMENTS:
            continue
        for row in rows:
            key = (name, row.get("domain"), row.get("entity_id"), row["time"])
            if key in out and twice is not None:
                twice.append(key)
            out[key] = row
    return out


def dlq_count(pipe):
    """Records on the DLQ topic, read by the writer's --replay-dlq into a
    scratch topic (so nothing comes back into the pipeline)."""
    env = dict(os.environ)
    env.update({"KAFKA_BROKERS": pipe.broker.bootstrap, "TOPIC_ENRICHED": DLQ_COUNT_TOPIC,
                "KAFKA_GROUP": "hs-faults-dlq-count", "ADMIN_ADDR": "", "LOG_LEVEL": "warn",
                "LOG_FORMAT": "text", "INFLUX_API_VERSION": "1"})
    p = subprocess.run([harness.binary("writer/homestream-writer"), "--replay-dlq"], env=env,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=90)
    for line in p.stdout.decode("utf-8", "replace").splitlines():
        if line.startswith('{"read":'):
            return json.loads(line)["read"]
    raise RuntimeError("writer --replay-dlq printed no count (exit %s): %s"
                       % (p.returncode, p.stderr.decode("utf-8", "replace")[-300:]))


def partition_estimate(events, partitions):
    """Estimated bytes per partition of the enriched topic for these events
    (the default partitioner is CRC-32 of the key modulo the partitions)."""
    per = collections.Counter()
    for ev in events:
        eid = ev["data"]["entity_id"]
        per[zlib.crc32(eid.encode()) % partitions] += len(json.dumps(ev)) + 700
    return max(per.values()) if per else 0


# ---- one scenario run ------------------------------------------------------------

class Run:
    """The state of one scenario: its pipeline, schedule, timeline and findings."""

    def __init__(self, sc, seed, quick):
        self.sc = sc
        self.name = sc.name
        self.quick = quick
        self.rng = random.Random("%s:%s" % (seed, sc.name))
        self.duration = sc.quick_s if quick else sc.duration_s
        self.events = int(sc.rate * self.duration)
        self.pipe = None
        self.api = None
        self.t0 = time.monotonic()
        self.timeline = []
        self.fault_end_ns = None
        self.fault_end_mono = None
        self.recovery = None
        self.ledger = Ledger()
        self.problems = []       # the fault did not happen, or a check could not run
        self.notes = []
        self.dead_stats = collections.defaultdict(list)   # stats of killed incarnations

    def now(self):
        return time.monotonic() - self.t0

    def log(self, msg):
        self.timeline.append((self.now(), msg))
        say(self.name, "t+%6.1fs %s" % (self.now(), msg))

    def sleep_until(self, t):
        d = t - self.now()
        if d > 0:
            time.sleep(d)

    def end_faults(self):
        self.fault_end_ns = time.time_ns()
        self.fault_end_mono = time.monotonic()
        self.log("faults over")

    def require(self, ok, what):
        if not ok:
            self.problems.append("fault not exercised: " + what)

    def stats(self, stage):
        try:
            return self.pipe.stages[stage].json("/stats")
        except Exception:  # noqa: BLE001 - a dead or restarting stage has none
            return None

    def total(self, stage, *path):
        """A counter summed over every incarnation of the stage."""
        out = 0
        for st in self.dead_stats[stage] + [self.stats(stage)]:
            v = st
            for p in path:
                v = v.get(p) if isinstance(v, dict) else None
            out += v if isinstance(v, (int, float)) else 0
        return out

    def kill_restart(self, stage, down_s):
        st = self.pipe.stages[stage]
        before = self.stats(stage)
        if before is not None:
            self.dead_stats[stage].append(before)
        pid = st.proc.p.pid
        st.proc.kill()
        self.log("SIGKILL %s (pid %d); restart in %.1f s" % (stage, pid, down_s))
        time.sleep(down_s)
        st.start()
        self.log("%s restarted (pid %d)" % (stage, st.proc.p.pid))


def kill_schedule(rng, n, start, end):
    """n moments in [start, end], one in each of n equal slots, never in a
    slot's outer 15 %, so two kills are at least 0.3 slot apart."""
    w = (end - start) / n
    return [start + i * w + rng.uniform(0.15 * w, 0.85 * w) for i in range(n)]


# ---- scenarios -----------------------------------------------------------------

def kill_stage(stage, down):
    def fn(run):
        n = 3 if run.quick else 5
        times = kill_schedule(run.rng, n, 2.0, run.duration - 4.0)
        downs = [run.rng.uniform(*down) for _ in times]
        run.log("kill schedule: %s" % ", ".join("t+%.1fs/%.1fs down" % td
                                                for td in zip(times, downs)))
        for t, d in zip(times, downs):
            run.sleep_until(t)
            run.kill_restart(stage, d)
        run.end_faults()
    return fn


def influx_down(run):
    down_at = 10.0 if not run.quick else 5.0
    down_s = 60.0 if not run.quick else 15.0
    run.sleep_until(down_at)
    run.pipe.influx.stop()
    run.log("influxd stopped for %.0f s" % down_s)
    run.sleep_until(down_at + down_s)
    run.pipe.influx.start()
    run.log("influxd restarted on the same data directory")
    run.end_faults()
    run.require(run.total("writer", "retries_total") > 0
                or run.total("writer", "breakers", "influxdb", "opened_total") > 0,
                "the writer reports no retries and no open breaker while influxd was down")


# What the broker refuses, in turn: Kafka API and the error it answers.
# Produce is refused by disconnecting (_TRANSPORT), never by an error answer:
# librdkafka 2.0.2's mock cluster does not check the sequence numbers of an
# idempotent (non-transactional) producer, so after a refused request R1 it
# appends the next in-flight request R2, which a real broker refuses with
# OUT_OF_ORDER_SEQUENCE_NUMBER; librdkafka then takes R2's success as proof
# that R1 was stored too ("implicit ack", rdkafka_request.c) and R1's
# messages are gone. The opt-in scenario broker-produce-errors shows it.
BROKER_PHASES = [("Produce", "_TRANSPORT"), ("Fetch", "NOT_LEADER_FOR_PARTITION"),
                 ("Fetch", "_TRANSPORT")]
PRODUCE_ERROR_PHASES = [("Produce", "NOT_ENOUGH_REPLICAS")]


def broker_refuse(run, phases=None):
    b = run.pipe.broker
    phase_s = 8.0 if not run.quick else 4.0
    t = 4.0
    for api, err in phases or BROKER_PHASES:
        run.sleep_until(t)
        run.log("broker refuses %s requests (%s) for %.0f s" % (api, err, phase_s))
        pushed = 0
        while run.now() < t + phase_s:
            b.post("/fault", {"api": api, "error": err, "count": 4})
            pushed += 4
            time.sleep(0.2)
        b.post("/fault/clear", {"api": api})
        run.log("broker accepts %s again (%d errors queued)" % (api, pushed))
        t += phase_s + 2.0
    run.end_faults()
    if any(err == "_TRANSPORT" for _, err in phases or BROKER_PHASES):
        for stage in ("ingestor", "enricher", "writer"):
            run.require("Disconnected" in _read(run.pipe.stages[stage].proc.out_path),
                        "the %s was never disconnected from the broker" % stage)


def broker_down(run):
    # Longer than the ingestor's 15 s without delivery after which it spools.
    b = run.pipe.broker
    down_s = 25.0 if not run.quick else 18.0
    run.sleep_until(5.0)
    b.post("/broker/down")
    run.log("broker down for %.0f s" % down_s)
    seen = set()
    while run.now() < 5.0 + down_s:
        st = run.stats("ingestor")
        if st:
            seen.add(str(st.get("kafka", {}).get("state")))
        time.sleep(1.0)
    b.post("/broker/up")
    spooled = run.total("ingestor", "kafka", "spool", "spooled_total")
    run.log("broker up; meanwhile the ingestor's Kafka state was %s, %d records spooled"
            % ("/".join(sorted(seen)), spooled))
    run.end_faults()
    run.require("unreachable" in seen, "the ingestor never reported Kafka unreachable")
    run.require(spooled > 0, "the ingestor spooled nothing to disk")


def ha_drop(run):
    # hasim drops the connection every --drop-after events; the faults end with the stream.
    run.sleep_until(run.duration)
    harness.wait_until(lambda: "DONE=" in run.pipe.hasim.proc.read_out(), 60, "hasim DONE")
    run.end_faults()
    n = run.total("ingestor", "ha", "reconnects_total")
    run.log("ingestor reconnected %d times" % n)
    run.require(n >= 2, "the ingestor reconnected %d times (want >= 2)" % n)


def ha_restart_auth(run):
    pipe = run.pipe
    harness.wait_until(lambda: "DONE=" in pipe.hasim.proc.read_out(), run.duration + 30,
                       "hasim DONE")
    time.sleep(1.0)
    first = pipe.hasim
    first.stop()
    run.log("Home Assistant stopped (after %d events)" % run.events)
    time.sleep(2.0)
    fails = 3
    again = HaSimAgain(pipe.workdir, pipe.ha_token, run.events, run.sc.rate, first.port,
                       ["--no-start-on-subscribe", "--auth-fail-first", str(fails),
                        "--recorder-commit-ms", "1000"])
    again.start()
    pipe.hasim = again
    pipe.procs.append(again.proc)
    run.ledger.add_log(again.events_log)
    run.log("Home Assistant back, streaming at once, rejecting the first %d logins" % fails)

    def logged_in_again():
        st = run.stats("ingestor") or {}
        return (st.get("ha", {}).get("state") == "connected"
                and _read(again.proc.err_path).count("rejecting auth attempt") >= fails)
    try:
        harness.wait_until(logged_in_again, 60, "the ingestor to log in again", interval=0.2)
    except TimeoutError as exc:
        run.problems.append("the ingestor did not log in again: %s" % exc)
    run.end_faults()
    rejected = _read(again.proc.err_path).count("rejecting auth attempt")
    run.log("ingestor logged in again after %d rejected logins" % rejected)
    run.require(rejected == fails, "hasim rejected %d logins (want %d)" % (rejected, fails))


# The weather/presence API's modes over time; the first applies before the
# enricher starts, so its very first weather fetch already stalls.
API_STEPS = [(0.0, {"weather": "slow", "presence": "ok", "delay_s": 30}),
             (4.0, {"presence": "error"}),
             (10.0, {"down": True}),
             (16.0, {"down": False, "weather": "reset", "presence": "slow"}),
             (24.0, {"weather": "ok", "presence": "ok"})]


def api_faults(run):
    api = run.api
    run.log("weather/presence API since the start: %s"
            % json.dumps(API_STEPS[0][1], sort_keys=True))
    for t, m in API_STEPS[1:]:
        run.sleep_until(t / 2 if run.quick else t)
        api.mode(**m)
        run.log("weather/presence API: %s" % json.dumps(m, sort_keys=True))
    run.end_faults()
    st = run.stats("enricher") or {}
    wf = (st.get("weather") or {}).get("failures_total", 0)
    pf = (st.get("presence_url") or {}).get("failures_total", 0)
    run.log("enricher saw %s weather and %s presence failures" % (wf, pf))
    run.require(wf >= 1, "the enricher reports no weather failure")
    run.require(pf >= 1, "the enricher reports no presence URL failure")


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


class Scenario:
    def __init__(self, name, what, fn, duration_s, quick_s, rate=RATE, hasim_extra=(),
                 env=None, api=False, drain_s=DRAIN_S, default=True):
        self.name = name
        self.what = what
        self.fn = fn
        self.duration_s = duration_s
        self.quick_s = quick_s
        self.rate = rate
        self.hasim_extra = list(hasim_extra)
        self.env = env or {}
        self.api = api
        self.drain_s = drain_s
        self.default = default   # run without --only


SCENARIOS = [
    Scenario("kill-ingestor", "SIGKILL the ingestor at random moments, restart it after 0.2-3 s",
             kill_stage("ingestor", (0.2, 3.0)), 25, 14),
    Scenario("kill-enricher", "SIGKILL the enricher at random moments, restart it at once",
             kill_stage("enricher", (0.0, 1.5)), 25, 14, drain_s=CONSUMER_DRAIN_S),
    Scenario("kill-writer", "SIGKILL the writer at random moments, restart it at once",
             kill_stage("writer", (0.0, 1.5)), 25, 14, drain_s=CONSUMER_DRAIN_S),
    Scenario("influx-down", "influxd stopped for 60 s mid-stream, restarted on the same data",
             influx_down, 80, 30, rate=150),
    Scenario("broker-refuse", "the broker drops Produce, then fails and drops Fetch requests",
             broker_refuse, 34, 18),
    Scenario("broker-produce-errors", "the broker answers Produce with NOT_ENOUGH_REPLICAS "
             "(opt-in: the dev broker itself loses data here, see BROKER_PHASES)",
             lambda run: broker_refuse(run, PRODUCE_ERROR_PHASES), 14, 10, default=False),
    Scenario("broker-down", "the broker refuses every connection for 25 s (ingestor spools)",
             broker_down, 36, 28),
    Scenario("ha-drop", "Home Assistant cuts the WebSocket every 700 events", ha_drop, 25, 14,
             hasim_extra=["--drop-after", "700"]),
    Scenario("ha-restart-auth", "Home Assistant restarts mid-stream and rejects the first 3 logins",
             ha_restart_auth, 12, 8),
    Scenario("api-faults", "weather and presence APIs stall, fail, refuse, reset",
             api_faults, 36, 18, api=True),
]


def base_env():
    return {
        "ingestor": {"HA_RECORDER_COMMIT_S": "1", "HA_RECONNECT_MAX_S": "5", "LOG_FORMAT": "text"},
        "enricher": {"LOG_FORMAT": "text"},
        "writer": {"LOG_FORMAT": "text"},
    }


class Result:
    def __init__(self, name):
        self.name = name
        self.generated = 0
        self.landed = 0
        self.lost = []
        self.extra = []
        self.multi = []
        self.fields = []
        self.dlq = None
        self.recovery = None
        self.problems = []
        self.notes = []
        self.error = None
        self.workdir = None
        self.seconds = 0.0

    def failed(self):
        return bool(self.error or self.lost or self.extra or self.multi or self.fields
                    or self.dlq or self.problems)


def drain(run, drain_s):
    """Polls InfluxDB until every generated point landed after the stream and
    the faults ended, or until the deadline; measures the recovery time."""
    pipe = run.pipe
    end = max(run.t0 + run.duration, run.fault_end_mono)
    last_count, last_progress = -1, time.monotonic()
    while True:
        run.ledger.refresh()
        now = time.monotonic()
        done = "DONE=" in pipe.hasim.proc.read_out()
        try:
            lean = landed(pipe.influx, pipe.DB, full=False)
        except Exception:  # noqa: BLE001 - influxd may be restarting
            lean = None
        if lean is not None:
            want = run.ledger.want
            present = sum(1 for k in want if k in lean)
            if run.recovery is None and not any(k[3] < run.fault_end_ns and k not in lean
                                                for k in want):
                run.recovery = now - run.fault_end_mono
                run.log("recovered: all events before the end of the faults landed")
            if present != last_count:
                last_count, last_progress = present, now
            if done and present == len(want):
                break
        if now > end + drain_s:
            run.log("drain deadline reached")
            break
        if done and now - last_progress > STALL_S \
                and now > run.fault_end_mono + max(55, drain_s - 20):
            run.log("nothing landed for %d s; giving up" % STALL_S)
            break
        time.sleep(1.0)
    # Let in-flight writes finish before the final read.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        st = run.stats("writer") or {}
        if st.get("consumer_lag_total", 1) == 0 and not st.get("batch_points") \
                and not st.get("held_points"):
            break
        time.sleep(0.5)
    time.sleep(2.0)
    run.ledger.refresh()


def evaluate(run, res):
    pipe = run.pipe
    twice = []
    got = landed(pipe.influx, pipe.DB, full=True, twice=twice)
    want = run.ledger.want
    res.generated = len(want)
    res.landed = sum(1 for k in want if k in got)
    res.lost = sorted((k for k in want if k not in got), key=lambda k: k[3])
    res.extra = sorted((k for k in got if k not in want and k not in run.ledger.snapshot),
                       key=lambda k: k[3])
    per_point = collections.Counter((k[1], k[2], k[3]) for k in got)
    res.multi = sorted(p for p, n in per_point.items() if n > 1) + twice
    for k in want:
        if k in got:
            for p in expect.check_fields(want[k], got[k]):
                res.fields.append("%r: %s" % (k, p))
    if run.ledger.twice:
        res.problems.append("hasim generated %d points twice, e.g. %r"
                            % (len(run.ledger.twice), run.ledger.twice[:3]))
    est = partition_estimate(run.ledger.events(), PARTITIONS)
    if est > 0.8 * RETENTION_BYTES:
        res.notes.append("a partition may have held %.1f MiB: beyond 80 %% of the dev broker's "
                         "5 MiB retention, losses may be the broker's" % (est / 2**20))


def describe_keys(run, keys, limit=6):
    """Lost or extra points grouped by second of the stream, with what
    happened around then."""
    if not keys:
        return []
    t0_ns = min(k[3] for k in run.ledger.want) if run.ledger.want else keys[0][3]
    per_sec = collections.Counter(int((k[3] - t0_ns) / 1e9) for k in keys)
    lines = ["  by second of the stream: %s" % ", ".join(
        "s%d:%d" % (s, n) for s, n in sorted(per_sec.items())[:20])]
    ents = collections.Counter(k[2] for k in keys)
    lines.append("  entities: %s" % ", ".join("%s:%d" % e for e in ents.most_common(8)))
    for k in keys[:limit]:
        lines.append("  %r (stream t+%.3fs)" % (k, (k[3] - t0_ns) / 1e9))
    return lines


def run_scenario(sc, seed, quick, drain_s=None):
    run = Run(sc, seed, quick)
    res = Result(sc.name)
    started = time.monotonic()
    env = base_env()
    for stage, e in sc.env.items():
        env[stage].update(e)
    pipe = harness.Pipeline("faults-" + sc.name, events=run.events, rate=sc.rate,
                            entities=ENTITIES, seed=HOME_SEED,
                            hasim_extra=["--recorder-commit-ms", "1000"] + sc.hasim_extra,
                            stage_env=env)
    pipe.broker = FaultBroker(pipe.workdir, PARTITIONS)
    run.pipe = pipe
    res.workdir = pipe.workdir
    say(sc.name, "%s; %d events at %d/s; work directory %s" % (sc.what, run.events, sc.rate,
                                                               pipe.workdir))
    try:
        if sc.api:
            run.api = FaultHttp(pipe.workdir).start()
            pipe.procs.append(run.api.proc)
            run.api.mode(**API_STEPS[0][1])
            env["enricher"].update({
                "WEATHER_PROVIDER": "openweathermap", "WEATHER_URL": run.api.url,
                "WEATHER_API_KEY": "fault-key", "WEATHER_LAT": "52.5", "WEATHER_LON": "13.4",
                "WEATHER_CACHE_MINUTES": "1", "WEATHER_TIMEOUT_S": "2",
                "PRESENCE_URL": run.api.url + "/presence", "PRESENCE_POLL_S": "5"})
        pipe.start()
        run.t0 = time.monotonic()
        run.ledger.add_log(pipe.hasim.events_log)
        run.log("pipeline up")
        sc.fn(run)
        if run.fault_end_ns is None:
            run.end_faults()
        drain(run, drain_s or sc.drain_s)
        res.recovery = run.recovery
        evaluate(run, res)
        try:
            res.dlq = dlq_count(pipe)
        except Exception as exc:  # noqa: BLE001
            res.problems.append("cannot count the DLQ: %s" % exc)
        for name in ("ingestor", "enricher", "writer"):
            st = run.stats(name)
            if st is not None:
                with open(os.path.join(pipe.workdir, "stats-%s.json" % name), "w") as f:
                    json.dump(st, f, indent=1)
    except Exception:  # noqa: BLE001 - reported in the table
        res.error = traceback.format_exc()
    finally:
        try:
            codes = pipe.stop()
        except Exception as exc:  # noqa: BLE001
            codes = {"stop": str(exc)}
        if run.api is not None:
            run.api.stop()
        unclean = {k: v for k, v in codes.items() if v != 0}
        if unclean:
            res.notes.append("unclean exit on SIGTERM: %r" % unclean)
    res.problems.extend(run.problems)
    res.notes.extend(run.notes)
    res.seconds = time.monotonic() - started
    if res.failed():
        report_failure(run, res)
    elif not os.environ.get("HS_KEEP_TMP"):
        pipe.cleanup()
        res.workdir = None
    say(sc.name, "%s in %.0f s" % ("FAILED" if res.failed() else "passed", res.seconds))
    return res


def report_failure(run, res):
    out = ["FAILED: %s (work directory kept: %s)" % (res.name, res.workdir)]
    if res.error:
        out.append(res.error.rstrip())
    if res.lost:
        out.append("%d of %d points lost:" % (len(res.lost), res.generated))
        out += describe_keys(run, res.lost)
    if res.extra:
        out.append("%d points hasim never generated:" % len(res.extra))
        out += describe_keys(run, res.extra)
    if res.multi:
        out.append("%d points landed twice (two measurements or two series), e.g. %r"
                   % (len(res.multi), res.multi[:3]))
    if res.fields:
        out.append("%d field mismatches, e.g.\n  %s"
                   % (len(res.fields), "\n  ".join(res.fields[:6])))
    if res.dlq:
        out.append("%d records on the DLQ topic" % res.dlq)
    out += res.problems
    out.append("timeline:")
    out += ["  t+%6.1fs %s" % (t, m) for t, m in run.timeline]
    with PRINT_LOCK:
        print("\n".join(out), file=sys.stderr, flush=True)


def fmt(v, spec="%d"):
    return "-" if v is None else spec % v


def table(results):
    head = ("scenario", "generated", "landed", "lost", "duplicated", "dlq", "recovery_s",
            "result")
    rows = [head]
    for r in results:
        rows.append((r.name, str(r.generated), str(r.landed), str(len(r.lost)),
                     str(len(r.extra) + len(r.multi)), fmt(r.dlq), fmt(r.recovery, "%.1f"),
                     "ERROR" if r.error else "FAIL" if r.failed() else "ok"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    for r in results:
        for p in ([r.error.strip().splitlines()[-1]] if r.error else []) + r.problems:
            lines.append("%s: %s" % (r.name, p))
        if r.fields:
            lines.append("%s: %d field mismatches" % (r.name, len(r.fields)))
        for n in r.notes:
            lines.append("%s: note: %s" % (r.name, n))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma-separated scenario names")
    ap.add_argument("--quick", action="store_true", help="shorter streams and outages")
    ap.add_argument("--seed", type=int, help="seed of the fault schedule (default: random)")
    ap.add_argument("--jobs", type=int, default=3, help="scenarios run at the same time [3]")
    ap.add_argument("--drain-s", type=int, help="longest wait for the pipeline to drain after "
                    "the faults and the stream ended [%d]" % DRAIN_S)
    ap.add_argument("--list", action="store_true", help="list the scenarios and exit")
    args = ap.parse_args()
    if args.list:
        for sc in SCENARIOS:
            print("%-22s %s" % (sc.name, sc.what))
        return 0
    chosen = [s for s in SCENARIOS if s.default]
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in {s.name for s in SCENARIOS}]
        if unknown:
            print("unknown scenario(s): %s (see --list)" % ", ".join(unknown), file=sys.stderr)
            return 2
        chosen = [s for s in SCENARIOS if s.name in names]
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 10**6)
    print("fault suite: seed %d (rerun: %s --seed %d%s%s), %d scenario(s), %d lane(s), "
          "build %s" % (seed, os.path.basename(sys.argv[0]), seed,
                        " --quick" if args.quick else "",
                        " --only " + args.only if args.only else "", len(chosen),
                        args.jobs, harness.build_dir()), flush=True)
    started = time.monotonic()
    # Longest first, so the lanes finish together.
    order = sorted(chosen, key=lambda s: -(s.quick_s if args.quick else s.duration_s)
                   - (150 if s.drain_s > DRAIN_S else 0))
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {s.name: pool.submit(run_scenario, s, seed, args.quick, args.drain_s)
                   for s in order}
        results = [futures[s.name].result() for s in chosen]
    print("\n" + table(results))
    failed = [r.name for r in results if r.failed()]
    print("\nseed %d, %.0f s: %s" % (seed, time.monotonic() - started,
                                     "FAILED: " + ", ".join(failed) if failed else
                                     "every event landed exactly once"), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
