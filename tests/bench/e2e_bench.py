#!/usr/bin/env python3
"""e2e_bench.py - end-to-end benchmark of the whole pipeline, real processes.

A benchmark, not a test: it measures and reports, and asserts nothing about
speed. It reuses tests/integration/harness.py's processes: influxd (1.6, v1
API), homestream-devbroker, homestream-hasim and the three stages on
loopback, every stage at its default settings (the writer's default
batching and FLUSH_INTERVAL_MS included). They start in the order of a
running installation (start_pipeline): the consumers first, the ingestor
once their groups have their partitions.

For each --entities count E it runs three short pipelines:

  idle     hasim emits a single event; once the E initial states that the
           ingestor fetched with get_states are in InfluxDB and the pipeline
           has been quiet for a second, VmRSS/VmHWM of each stage and its
           CPU use over --idle-seconds more are read from /proc. Then, with
           the pipeline still idle, homestream-lib-floor-STAGE (lib_floor.c:
           the stage's libraries set up as the stage sets them up, nothing
           else) runs for each stage and its VmRSS is read: what the
           libraries alone take.
  latency  hasim emits --rate events/s (1,000 by default), from when the
           start-up states are in InfluxDB on (hasim --start-on-signal: the
           benchmark sends SIGUSR1 then): what is measured is the steady
           state, and at 100,000 entities a stream that ran during the
           ingestor's start-up would have hasim drop it (see
           docs/performance.md). Every event's
           new_state.last_updated is its emission time (hasim's events log
           has each event exactly as sent), and the writer makes it the
           point's time. After a warm-up of 2 s from the stream's start,
           --seconds of events are measured. A poller follows every
           --sample-th of them (every 10th by default) until a query
           answers with its point: it waits, with inotify, for influxd's
           WAL files to change (influxd puts a write's points into its
           queryable cache before it appends them to the WAL, so after the
           change they can be found), then asks for the followed events
           not found yet (the oldest of at most 32 entities, when the
           pipeline has fallen behind) in one narrow query: their
           measurements, their entity_id tags, the time range from the
           oldest to the newest
           ('SELECT "value","state" FROM "m1","m2" WHERE time >= lo AND
           time <= hi AND ("entity_id" = 'a' OR ...) GROUP BY "domain",
           "entity_id"'). Without a WAL change it still asks every 25 ms
           (influxd may hold the WAL append back behind an fsync). latency
           = the clock when the first query that returned the point
           answered - last_updated: an upper bound. Its resolution, per
           event, is that answer minus the start of the last query that
           asked for the point and did not get it (or minus the emission,
           when none did): the point became queryable in between. Also
           reported: how long after the WAL change that led to the query
           its answer came. The queries together take at most half of the
           wall clock. Every event of the window, followed or not, is
           looked up after the window; one still missing 30 s after the
           window's end is lost. homestream-e2e-tap (e2e_tap.c) meanwhile reads the
           producer timestamps of both topics, for a per-hop breakdown.
  flood    hasim emits --flood-events as fast as the ingestor takes them
           (hasim waits while 900 messages are queued for its subscriber).
           Each stage's output counter is sampled every 50 ms; its rate is
           the slope between 10 % and 90 % of its final count (the writer's
           whole-run average is reported too). Peak VmRSS is sampled every
           100 ms; CPU seconds of every process are read at the start and
           the end. Afterwards every flood event is looked up in InfluxDB.

hasim generates its home before it listens; when that takes longer than
--hasim-start-s for E entities, E and every larger count are reported as
not measured.

Results go to --out as JSON (e2e_report.py turns them into the table).

The dev broker gets partitions_for(E) partitions per topic, so that the
start-up backfill fits in what it keeps (it keeps about 5 MiB per
partition). A run whose start-up makes no progress for --stall-s seconds
(a stage died, the ingestor cannot take get_states' answer...) is given up
and reported with what each stage had done.

Usage: HS_BUILD_DIR=build-bench tests/bench/e2e_bench.py --out results.json
       [--entities 1000,3000,10000,100000] [--rate 1000] [--seconds 15]
       [--flood-events 10000] [--sample 10] [--partitions 0] [--idle-seconds 3]
       [--hasim-start-s 60] [--stall-s 45] [--budget-s 0]
"""
import argparse
import ctypes
import http.client
import json
import os
import platform
import select
import signal
import struct
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, HERE)
import expect  # noqa: E402
import harness  # noqa: E402
import rss_probe  # noqa: E402

STAGES = ("ingestor", "enricher", "writer")
NS = 1_000_000_000
MAX_TAG_FILTER = 32
BULK_MEASUREMENTS = 200
# The latency poller: an event not queryable this long after its emission is
# lost; without a WAL change it still queries every FALLBACK_NS; its queries
# take at most QUERY_DUTY of the wall clock.
# The latency run measures from this long after hasim's stream started.
LATENCY_WARMUP_NS = 2 * NS
LOST_AFTER_NS = 30 * NS
FALLBACK_NS = 25_000_000
QUERY_DUTY = 0.5
MAX_GAP_NS = 5_000_000
# Writer progress counts in steps of this many points (see startup_progress).
WRITER_STEP = 100
# No run starts with less than this left of --budget-s.
MIN_RUN_S = 60
# The dev broker (librdkafka's mock cluster) keeps about 5 MiB per partition
# and drops the oldest messages beyond that. A start-up state of hasim's
# home is about 1.3 KB on ha.events.raw and 1.6 KB enriched on average (a
# live event 1.5 and 1.7 KB; measured at 1,000 entities, the largest 8 KB);
# MSG_BYTES bounds the average.
DEVBROKER_PARTITION_BYTES = 5 * 1024 * 1024
MSG_BYTES = 2048
# How long hasim may take to generate its home (--hasim-start-s); the
# partitions per topic (--partitions, 0: partitions_for()); how long the
# start-up states may go without progress before a run gives up
# (--stall-s).
SETTINGS = {"hasim_start_s": 60, "partitions": 0, "stall_s": 45}


class HasimSlow(RuntimeError):
    """hasim took too long to generate its home; the entity count is skipped."""


def log(msg):
    print("[e2e %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


class EventsLog:
    """Follows hasim's events log (one JSON event per line, flushed per line)."""

    def __init__(self, path):
        self.path = path
        self.f = None
        self.rest = b""

    def read_new(self):
        """The events appended since the last call (only complete lines)."""
        return [json.loads(line) for line in self.read_new_lines()]

    def read_new_lines(self):
        """The lines appended since the last call (only complete ones, not
        empty), each still JSON text."""
        if self.f is None:
            try:
                self.f = open(self.path, "rb")
            except FileNotFoundError:
                return []
        data = self.rest + self.f.read()
        lines = data.split(b"\n")
        self.rest = lines.pop()
        return [line for line in lines if line.strip()]

    def close(self):
        if self.f is not None:
            self.f.close()


def quote_ident(name):
    """An InfluxQL double-quoted identifier."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_str(text):
    """An InfluxQL single-quoted string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Influx:
    """One keep-alive HTTP connection to influxd for repeated queries."""

    def __init__(self, url, db):
        u = urllib.parse.urlparse(url)
        self.host, self.port, self.db = u.hostname, u.port, db
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)

    HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}

    def keys_since(self, since_ns, measurements=None, entity_ids=None, until_ns=None):
        """{(measurement, domain, entity_id, time ns)} of every point at or after
        since_ns (and at or before until_ns when given) that has a value or a
        state field, in the given measurements (all of them when None) and
        with the given entity_id tags (any when None)."""
        if measurements:
            src = ",".join(quote_ident(m) for m in sorted(measurements))
        else:
            src = "/.*/"
        where = "time >= %d" % since_ns
        if until_ns is not None:
            where += " AND time <= %d" % until_ns
        if entity_ids:
            where += " AND (%s)" % " OR ".join('"entity_id" = %s' % quote_str(e)
                                               for e in sorted(entity_ids))
        q = ('SELECT "value","state" FROM %s WHERE %s GROUP BY "domain","entity_id"'
             % (src, where))
        body = urllib.parse.urlencode({"db": self.db, "q": q, "epoch": "ns"})
        try:
            self.conn.request("POST", "/query", body=body, headers=self.HEADERS)
            resp = self.conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            raise
        if resp.status != 200:
            raise RuntimeError("influx query: %s %s" % (resp.status, data[:200]))
        out = set()
        for res in json.loads(data).get("results", []):
            if "error" in res:
                raise RuntimeError("influx query %r: %s" % (q[:200], res["error"]))
            for s in res.get("series", []) or []:
                tags = s.get("tags") or {}
                for row in s.get("values", []):
                    out.add((s["name"], tags.get("domain"), tags.get("entity_id"), row[0]))
        return out

    def keys_of(self, keys):
        """The subset of keys (measurement, domain, entity_id, time ns) that
        InfluxDB holds, asked with one query per BULK_MEASUREMENTS
        measurements over the keys' time range."""
        keys = set(keys)
        if not keys:
            return set()
        lo, hi = min(k[3] for k in keys), max(k[3] for k in keys)
        meas = sorted({k[0] for k in keys})
        found = set()
        for i in range(0, len(meas), BULK_MEASUREMENTS):
            found |= self.keys_since(lo, meas[i:i + BULK_MEASUREMENTS], until_ns=hi)
        return found & keys

    def close(self):
        self.conn.close()


class WalWatch:
    """Tells when influxd has written anything: inotify on its WAL
    directories (<influxd dir>/wal/<db>/<rp>/<shard>/). influxd 1.x puts a
    write's points into its in-memory cache, where queries see them, before
    it appends them to the WAL segment, so once a WAL file has changed the
    points of that write are queryable. New directories (a new shard, a new
    retention policy) are watched as they appear."""

    IN_MODIFY, IN_CREATE, IN_ISDIR = 0x2, 0x100, 0x40000000
    IN_NONBLOCK, IN_CLOEXEC = 0o4000, 0o2000000
    EVENT = struct.Struct("iIII")

    def __init__(self, wal_dir):
        self.root = wal_dir
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(self.IN_NONBLOCK | self.IN_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        self.watched = set()
        self.rescan()

    def rescan(self):
        """Watches every directory under the WAL root not watched yet."""
        for top, dirs, _files in os.walk(self.root):
            if top in self.watched:
                continue
            wd = self.libc.inotify_add_watch(self.fd, os.fsencode(top),
                                             self.IN_MODIFY | self.IN_CREATE)
            if wd < 0:
                raise OSError(ctypes.get_errno(), "inotify_add_watch %s" % top)
            self.watched.add(top)

    def wait(self, timeout):
        """Waits at most timeout s for a change; returns True when there was
        one (all pending notifications are consumed)."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return False
        created = False
        while True:
            try:
                buf = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            off = 0
            while off < len(buf):
                _wd, mask, _cookie, length = self.EVENT.unpack_from(buf, off)
                off += self.EVENT.size + length
                if mask & self.IN_CREATE and mask & self.IN_ISDIR:
                    created = True
        if created:
            self.rescan()
        return True

    def close(self):
        os.close(self.fd)


def percentile(sorted_vals, p):
    """Nearest-rank percentile of an ascending list; None when empty."""
    if not sorted_vals:
        return None
    k = max(0, min(len(sorted_vals) - 1, int(-(-p * len(sorted_vals) // 100)) - 1))
    return sorted_vals[k]


def ms_summary(ns_values):
    v = sorted(ns_values)
    if not v:
        return {"count": 0}
    return {"count": len(v), "p50_ms": percentile(v, 50) / 1e6, "p90_ms": percentile(v, 90) / 1e6,
            "p99_ms": percentile(v, 99) / 1e6, "max_ms": v[-1] / 1e6, "min_ms": v[0] / 1e6}


def stage_pids(pipe):
    pids = {n: pipe.stages[n].proc.p.pid for n in STAGES}
    pids["influxd"] = pipe.influx.proc.p.pid
    pids["devbroker"] = pipe.broker.proc.p.pid
    pids["hasim"] = pipe.hasim.proc.p.pid
    if getattr(pipe, "tap", None) is not None:
        pids["tap"] = pipe.tap.p.pid
    return pids


def cpu_all(pids):
    return {n: rss_probe.cpu_seconds(pid) for n, pid in pids.items()}


def memory(pids):
    out = {}
    for n in STAGES:
        out[n] = {"rss_kb": rss_probe.status_kb(pids[n], "VmRSS"),
                  "hwm_kb": rss_probe.status_kb(pids[n], "VmHWM")}
        out[n].update(rss_probe.rollup_kb(pids[n]) or {})
    return out


def lib_floor(pipe):
    """Per stage, the memory of homestream-lib-floor-STAGE (lib_floor.c: the
    stage's libraries, set up as the stage sets them up, doing nothing),
    started while the pipeline idles, so the libraries' pages it shares are
    counted as they are in the stage: {stage: {"rss_kb", "anon_kb",
    "file_kb"}}; a stage whose program did not start is left out."""
    out = {}
    for n in STAGES:
        proc = harness.Proc("lib-floor-" + n,
                            [harness.binary("tests/bench/homestream-lib-floor-" + n),
                             pipe.broker.bootstrap], {}, pipe.workdir)
        try:
            proc.start()
            proc.wait_line("READY=", 30)
            time.sleep(1.0)
            out[n] = {"rss_kb": rss_probe.status_kb(proc.p.pid, "VmRSS")}
            out[n].update(rss_probe.rollup_kb(proc.p.pid) or {})
        except (OSError, TimeoutError) as exc:
            log("homestream-lib-floor-%s: %s" % (n, exc))
        finally:
            proc.stop()
    return out


def stats(pipe):
    return {n: pipe.stages[n].json("/stats") for n in STAGES}


def written(ws):
    """Messages the writer finished with (written, mapped to nothing, DLQ)."""
    return sum(int(ws.get(k) or 0) for k in
               ("points_written_total", "skipped_total", "dlq_total", "invalid_total"))


def consumers_assigned(pipe):
    """True once the enricher and the writer have their partitions."""
    es = pipe.stages["enricher"].json("/stats")
    ws = pipe.stages["writer"].json("/stats")
    return es.get("consumer_lag") is not None and bool(ws.get("consumer_lag"))


def start_pipeline(pipe, tap=False):
    """Starts what harness.Pipeline.start starts, with the same settings, but
    in the order of a running installation: hasim (it streams only once
    subscribed), influxd, the dev broker, the writer and the enricher, until
    their consumer groups have their partitions (the dev broker takes a few
    seconds to form a group), and only then the ingestor, so no event waits
    for a group to form. With tap, homestream-e2e-tap follows both topics
    (pipe.tap, a harness.Proc) before the ingestor starts. Raises HasimSlow when hasim is not listening within
    SETTINGS["hasim_start_s"] seconds."""
    t0 = time.monotonic()
    pipe.hasim.proc.start()
    pipe.procs.append(pipe.hasim.proc)
    try:
        pipe.hasim.port = int(pipe.hasim.proc.wait_line("LISTENING=", SETTINGS["hasim_start_s"]))
    except TimeoutError:
        raise HasimSlow("homestream-hasim did not generate its home of %s entities within %d s"
                        % (pipe.hasim_entities, SETTINGS["hasim_start_s"])) from None
    pipe.hasim_start_s = time.monotonic() - t0
    pipe.influx.start()
    pipe.procs.append(pipe.influx.proc)
    pipe.influx.query("CREATE DATABASE %s" % pipe.DB)
    pipe.broker.start()
    pipe.procs.append(pipe.broker.proc)
    common = {"KAFKA_BROKERS": pipe.broker.bootstrap, "SITE": "home"}
    envs = {
        "writer": {"INFLUX_URL": pipe.influx.url, "INFLUX_API_VERSION": "1",
                   "INFLUX_DB": pipe.DB},
        "enricher": {},
    }
    for name in ("writer", "enricher"):
        env = dict(common)
        env.update(envs[name])
        st = harness.Stage(name, env, pipe.workdir)
        pipe.stages[name] = st
        pipe.procs.append(st.proc)
        st.start()
    harness.wait_until(lambda: consumers_assigned(pipe), 60, "consumer group assignment",
                       interval=0.1)
    if tap:
        pipe.tap = harness.Proc("tap", [harness.binary("tests/bench/homestream-e2e-tap"),
                                        pipe.broker.bootstrap, "bench-tap",
                                        "ha.events.raw", "ha.events.enriched"], {}, pipe.workdir)
        pipe.tap.start()
        pipe.procs.append(pipe.tap)
        pipe.tap.wait_line("READY=", 60)
    env = dict(common)
    env.update({"HA_URL": pipe.hasim.url, "HA_TOKEN": pipe.ha_token,
                "SPOOL_DIR": os.path.join(pipe.workdir, "spool")})
    st = harness.Stage("ingestor", env, pipe.workdir)
    pipe.stages["ingestor"] = st
    pipe.procs.append(st.proc)
    st.start()
    return pipe


def last_problem(proc):
    """The message of the last warn or error line a process logged (stdout
    and stderr, JSON logs), or None."""
    lines = []
    for path in (proc.out_path, proc.err_path):
        try:
            with open(path, "rb") as f:
                lines += f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            pass
    for line in reversed(lines[-200:]):
        if '"level":"warn"' in line or '"level":"error"' in line:
            try:
                return json.loads(line).get("msg")
            except ValueError:
                return line[:300]
    return None


def startup_progress(st):
    """What the pipeline has done towards writing the start-up states, from
    the stages' /stats: the ingestor's and the enricher's events out, and
    the writer's finished messages in steps of WRITER_STEP (the writer also
    writes homestream's own metrics, a few points every 10 s, which are no
    progress)."""
    return (int(st["ingestor"]["events_out_total"]), int(st["enricher"]["events_out_total"]),
            written(st["writer"]) // WRITER_STEP)


class StartupFailed(RuntimeError):
    """The start-up states did not all reach InfluxDB: a stage died, or the
    pipeline made no progress for SETTINGS["stall_s"] seconds."""


class Startup:
    """Tells when the E states the ingestor fetched at connect (get_states)
    are all in InfluxDB: the ingestor's startup gap is closed, it has
    produced at least its backfilled events, and the writer has finished
    with as many messages as the ingestor had produced by then. done()
    raises StartupFailed, with what each stage had done and the ingestor's
    memory, when a stage or the dev broker has exited or when neither the
    ingestor's nor the writer's count moved for SETTINGS["stall_s"]
    seconds."""

    def __init__(self, pipe):
        self.pipe = pipe
        self.target = None
        self.t0 = time.monotonic()
        self.progress = None
        self.progress_at = self.t0

    def state(self, st=None):
        """A sentence saying how far the start-up got."""
        ing_pid = self.pipe.stages["ingestor"].proc.p.pid
        hwm = rss_probe.status_kb(ing_pid, "VmHWM")
        text = "after %.0f s" % (time.monotonic() - self.t0)
        if st is not None:
            text += (": ingestor produced %s events (%s backfilled, gap %s), enricher %s, "
                     "writer finished %s" % (
                         st["ingestor"].get("events_out_total"),
                         st["ingestor"].get("backfilled_total"),
                         (st["ingestor"].get("gap") or {}).get("state"),
                         st["enricher"].get("events_out_total"), written(st["writer"])))
        if hwm is not None:
            text += "; ingestor peak RSS %.0f MB" % (hwm / 1024.0)
        for name, proc in (("ingestor", self.pipe.stages["ingestor"].proc),
                           ("hasim", self.pipe.hasim.proc)):
            problem = last_problem(proc)
            if problem:
                text += "; %s's last warning: %s" % (name, problem)
        return text

    def done(self):
        for name, p in [(n, self.pipe.stages[n].proc) for n in STAGES] + \
                [("devbroker", self.pipe.broker.proc)]:
            if not p.alive():
                raise StartupFailed("%s exited with %s before the start-up states were in "
                                    "InfluxDB (%s)" % (name, p.p.returncode, self.state()))
        try:
            st = stats(self.pipe)
        except (OSError, RuntimeError, ValueError) as exc:
            # A busy stage's admin endpoint may time out; the stall limit holds.
            if time.monotonic() - self.progress_at > SETTINGS["stall_s"]:
                raise StartupFailed("no progress for %d s, /stats: %s (%s)" % (
                    SETTINGS["stall_s"], exc, self.state())) from None
            return False
        ing = st["ingestor"]
        now = time.monotonic()
        progress = startup_progress(st)
        if progress != self.progress:
            self.progress, self.progress_at = progress, now
        elif now - self.progress_at > SETTINGS["stall_s"]:
            raise StartupFailed("the start-up states stopped reaching InfluxDB, no progress "
                                "for %d s (%s)" % (SETTINGS["stall_s"], self.state(st)))
        if self.target is None:
            out = int(ing["events_out_total"])
            if ing.get("gap", {}).get("state") != "done" or out < int(ing["backfilled_total"]) \
                    or out == 0:
                return False
            self.target = out
        return written(st["writer"]) >= self.target


def wait_startup_written(pipe):
    """Waits for Startup.done() (which raises StartupFailed when the start-up
    stalls); returns the seconds it took from now."""
    t0 = time.monotonic()
    startup = Startup(pipe)
    while not startup.done():
        time.sleep(0.05)
    return time.monotonic() - t0


def stop_all(pipe):
    """Stops the tap (when there is one) and everything harness.Pipeline.stop
    stops; safe to call twice."""
    if pipe.tap is not None:
        pipe.tap.stop()
    return pipe.stop()


def partitions_for(entities):
    """Partitions per topic for a run with this many entities (see
    DEVBROKER_PARTITION_BYTES): enough that the start-up backfill, E messages
    of MSG_BYTES on average on each topic, fills at most half of what the
    dev broker keeps; never fewer than the harness's 3. SETTINGS["partitions"],
    when set, wins."""
    if SETTINGS.get("partitions"):
        return SETTINGS["partitions"]
    need = -(-2 * entities * MSG_BYTES // DEVBROKER_PARTITION_BYTES)
    return max(3, need)


def make_pipe(name, events, rate, entities, hasim_extra=()):
    pipe = harness.Pipeline("bench-" + name, events=events, rate=rate, entities=entities,
                            hasim_extra=hasim_extra)
    pipe.partitions = partitions_for(entities)
    pipe.broker = harness.DevBroker(pipe.workdir, partitions=pipe.partitions)
    pipe.hasim_entities = entities
    pipe.hasim_start_s = None
    pipe.tap = None
    return pipe


def run_idle(entities, idle_seconds):
    pipe = make_pipe("idle", 1, 1, entities)
    try:
        start_pipeline(pipe)
        pids = stage_pids(pipe)
        startup_s = wait_startup_written(pipe)
        pipe.hasim.wait_done(30)
        time.sleep(1.0)
        cpu0 = cpu_all(pids)
        t0 = time.monotonic()
        time.sleep(idle_seconds)
        cpu1 = cpu_all(pids)
        dt = time.monotonic() - t0
        mem = memory(pids)
        st = stats(pipe)
        floor = lib_floor(pipe)
        out = {"entities": entities, "partitions": pipe.partitions,
               "startup_s": startup_s, "memory": mem, "lib_floor": floor,
               "hasim_start_s": pipe.hasim_start_s,
               "idle_cpu_pct": {n: 100.0 * (cpu1[n] - cpu0[n]) / dt for n in STAGES},
               "ingestor_events_out": st["ingestor"]["events_out_total"],
               "writer_points": st["writer"]["points_written_total"]}
        codes = pipe.stop()
        out["exit_codes"] = codes
        return out
    except HasimSlow:
        raise
    except BaseException:
        log("idle run failed:\n" + pipe.report())
        raise
    finally:
        stop_all(pipe)
        pipe.cleanup()


def run_latency(entities, rate, seconds, sample_every):
    """The latency run (see the module's docstring): waits for the start-up
    states, then measures the events emitted during `seconds`; every
    sample_every-th of them is followed until it is queryable."""
    pipe = make_pipe("latency", 0, rate, entities, hasim_extra=("--start-on-signal",))
    sampler = evlog = influx = wal = None
    try:
        start_pipeline(pipe, tap=True)
        pids = stage_pids(pipe)
        sampler = rss_probe.Sampler({n: pids[n] for n in STAGES})
        sampler.start()
        t_start = time.monotonic()
        wait_startup_written(pipe)
        startup_s = time.monotonic() - t_start
        # The stream starts once the start-up states are in InfluxDB (see
        # the module's docstring); the window after a warm-up.
        os.kill(pipe.hasim.proc.p.pid, signal.SIGUSR1)
        wal = WalWatch(os.path.join(pipe.influx.dir, "wal"))
        evlog = EventsLog(pipe.hasim.events_log)
        influx = Influx(pipe.influx.url, pipe.DB)
        t_ready = time.time_ns() + LATENCY_WARMUP_NS
        t_end = t_ready + int(seconds * NS)
        log("latency E=%d: startup states written after %.1f s; measuring %s s"
            % (entities, startup_s, seconds))
        pending = {}            # sampled key -> emission time (ns)
        entity_of = {}          # sampled key -> entity_id
        measured = {}           # key -> (entity_id, emission ns, queryable wall ns)
        latencies, resolution, after_write, query_ns = [], [], [], []
        asked = {}              # followed key -> start of the last query that missed it
        counts = {"queries": 0, "in_window": 0, "triggered": 0, "fallback": 0,
                  "found_by_fallback": 0, "expired": 0}
        seq = 0                 # lines of hasim's events log read so far
        followed = 0            # events of the window followed
        noticed = None          # a WAL change not queried yet: its lower time bound
        last_end = last_look = time.time_ns()
        last_dur = 0
        cpu_a = own_a = mono_a = cpu_b = own_b = mono_b = None
        hard_end = t_end + LOST_AFTER_NS + 5 * NS
        while time.time_ns() < hard_end:
            # noticed: the earliest time the first write not queried for yet
            # may have changed the WAL. A change found by a non-blocking look
            # happened after the previous look (last_look); one that wakes
            # the blocking wait, when it wakes it.
            if noticed is None:
                t = time.time_ns()
                if wal.wait(0):
                    noticed, last_look = last_look, t
                else:
                    changed = wal.wait(0.05)
                    last_look = time.time_ns()
                    if changed:
                        noticed = last_look
            now = time.time_ns()
            if cpu_a is None and now >= t_ready:
                cpu_a, own_a, mono_a = cpu_all(pids), os.times(), time.monotonic()
            if cpu_b is None and now >= t_end:
                cpu_b, own_b, mono_b = cpu_all(pids), os.times(), time.monotonic()
            # Only the followed events are parsed now; the window's others
            # are read from the log once the window is over.
            for line in evlog.read_new_lines():
                seq += 1
                if seq % sample_every:
                    continue
                ev = json.loads(line)
                key = expect.point_key(ev)
                if key is not None and t_ready <= key[3] < t_end:
                    pending[key] = key[3]
                    entity_of[key] = ev["data"]["entity_id"]
                    followed += 1
            if not pending:
                noticed = None      # nothing to look for in that write
                if now >= t_end and followed > 0:
                    break
                continue
            fallback = noticed is None and now - last_end >= FALLBACK_NS
            if noticed is None and not fallback:
                continue
            # Keep influxd's share for these queries at most QUERY_DUTY (of
            # the recent typical query), never waiting more than MAX_GAP_NS.
            recent = sorted(query_ns[-8:])
            gap = min(MAX_GAP_NS, recent[len(recent) // 2] * (1.0 / QUERY_DUTY - 1.0)
                      if recent else 0)
            if now < last_end + gap:
                time.sleep((last_end + gap - now) / NS)
            # This query answers for every change up to now.
            t = time.time_ns()
            if wal.wait(0) and noticed is None:
                noticed = last_look
            last_look = t
            fallback = noticed is None
            # Ask for the oldest followed events of at most MAX_TAG_FILTER
            # entities (all of them, unless the pipeline has fallen behind).
            ask, ents = [], set()
            for key in sorted(pending, key=pending.get):
                if key[2] not in ents and len(ents) == MAX_TAG_FILTER:
                    break
                ents.add(key[2])
                ask.append(key)
            lo, hi = pending[ask[0]], pending[ask[-1]]
            q0 = time.time_ns()
            got = influx.keys_since(lo, {k[0] for k in ask}, ents, until_ns=hi)
            q1 = time.time_ns()
            query_ns.append(q1 - q0)
            counts["queries"] += 1
            if t_ready <= q0 < t_end:
                counts["in_window"] += 1
            counts["fallback" if fallback else "triggered"] += 1
            # A point found now was not queryable when the last query that
            # asked for it without finding it started (asked), nor before
            # its emission: the resolution is the time between. after_write
            # is how long after the WAL change that led to this query its
            # answer came.
            for key in got & pending.keys():
                emit = pending.pop(key)
                latencies.append(q1 - emit)
                resolution.append(q1 - max(asked.pop(key, emit), emit))
                measured[key] = (entity_of.pop(key), emit, q1)
                if fallback:
                    counts["found_by_fallback"] += 1
                else:
                    after_write.append(q1 - max(noticed, emit))
            for key in ask:
                if key in pending:
                    asked[key] = q0
            last_end, last_dur = q1, q1 - q0
            # A write during this query is noticed now; it happened after q0.
            noticed = q0 if wal.wait(0) else None
            last_look = q1
            for key, emit in list(pending.items()):
                if q1 - emit > LOST_AFTER_NS:
                    del pending[key]
                    del entity_of[key]
                    asked.pop(key, None)
                    counts["expired"] += 1
        if cpu_a is None or cpu_b is None:
            raise RuntimeError("the latency window did not end within the run")
        # Every event of the window, followed or not, is looked up; what is
        # still missing LOST_AFTER_NS after the window's end is lost.
        window = set()
        whole = EventsLog(pipe.hasim.events_log)
        try:
            lines = whole.read_new_lines()
        finally:
            whole.close()
        for line in lines:
            k = expect.point_key(json.loads(line))
            if k is not None and t_ready <= k[3] < t_end:
                window.add(k)
        landed = set()
        while True:
            landed |= influx.keys_of(window - landed)
            if len(landed) == len(window) or time.time_ns() > t_end + LOST_AFTER_NS:
                break
            time.sleep(1.0)
        span = mono_b - mono_a
        cpu_pct = {n: 100.0 * (cpu_b[n] - cpu_a[n]) / span for n in pids}
        cpu_pct["poller"] = 100.0 * ((own_b.user - own_a.user) + (own_b.system - own_a.system)) / span
        st = stats(pipe)
        time.sleep(1.0)         # the tap reads with a long fetch wait
        pipe.tap.stop()
        out = {"entities": entities, "rate": rate, "seconds": seconds,
               "partitions": pipe.partitions, "sample_every": sample_every,
               "breakdown": breakdown(pipe.tap.out_path, measured),
               "startup_s": startup_s, "emitted": len(window), "lost": len(window - landed),
               "sampled_lost": counts["expired"],
               "latency": ms_summary(latencies), "resolution": ms_summary(resolution),
               "after_write": ms_summary(after_write),
               "query": ms_summary(query_ns), "queries_per_s": counts["in_window"] / span,
               "fallback_ms": FALLBACK_NS / 1e6,
               "query_counts": counts, "rss_peak_kb": sampler.peak(),
               "cpu_pct": cpu_pct, "hasim_start_s": pipe.hasim_start_s,
               "memory": memory(pids),
               "writer_batches": st["writer"].get("batches_total"),
               "writer_points": st["writer"].get("points_written_total"),
               "writer_write_latency_ms": st["writer"].get("write_latency_ms")}
        out["exit_codes"] = pipe.stop()
        return out
    except HasimSlow:
        raise
    except BaseException:
        log("latency run failed:\n" + pipe.report())
        raise
    finally:
        for thing in (sampler,):
            if thing is not None:
                thing.stop()
        for thing in (evlog, influx, wal):
            if thing is not None:
                thing.close()
        stop_all(pipe)
        pipe.cleanup()


def breakdown(tap_path, measured):
    """Per hop, the time from emission until the event had passed it, over the
    measured events: "ingested" (the ingestor's ingested_at), "raw" and
    "enriched" (the producer timestamp of the message on ha.events.raw and
    ha.events.enriched, ms resolution), "queryable" (the poller)."""
    seen = {"ha.events.raw": {}, "ha.events.enriched": {}}
    ingested = {}
    with open(tap_path, "rb") as f:
        for line in f:
            parts = line.decode("utf-8", "replace").rstrip("\n").split("\t")
            if len(parts) != 5 or parts[0] not in seen:
                continue
            k = (parts[1], int(parts[2]))
            seen[parts[0]].setdefault(k, int(parts[3]) * 1_000_000)
            if parts[0] == "ha.events.raw" and int(parts[4]) > 0:
                ingested.setdefault(k, int(parts[4]))
    hops = {"ingested": [], "raw": [], "enriched": [], "queryable": []}
    missing = 0
    for entity, emit, queryable in measured.values():
        k = (entity, emit)
        if k not in seen["ha.events.raw"] or k not in seen["ha.events.enriched"] \
                or k not in ingested:
            missing += 1
            continue
        hops["ingested"].append(ingested[k] - emit)
        hops["raw"].append(seen["ha.events.raw"][k] - emit)
        hops["enriched"].append(seen["ha.events.enriched"][k] - emit)
        hops["queryable"].append(queryable - emit)
    out = {h: ms_summary(v) for h, v in hops.items()}
    out["not_seen_by_tap"] = missing
    # p50 per second of emission, to tell a steady delay from a backlog.
    per_s = {}
    for entity, emit, queryable in measured.values():
        k = (entity, emit)
        sec = emit // NS
        row = per_s.setdefault(sec, {"ingested": [], "queryable": []})
        row["queryable"].append(queryable - emit)
        if k in ingested:
            row["ingested"].append(ingested[k] - emit)
    out["per_second_p50_ms"] = [
        {h: (percentile(sorted(v), 50) or 0) / 1e6 for h, v in per_s[sec].items()}
        for sec in sorted(per_s)]
    return out


def slope(series, final):
    """Rate (per s) of a counter between reaching 10 % and 90 % of final;
    series is [(monotonic s, value)]."""
    if final <= 0:
        return None
    t10 = next(t for t, v in series if v >= 0.1 * final)
    t90 = next(t for t, v in series if v >= 0.9 * final)
    return 0.8 * final / (t90 - t10) if t90 > t10 else None


def run_flood(entities, events):
    pipe = make_pipe("flood", events, 0, entities)
    sampler = None
    try:
        start_pipeline(pipe)
        pids = stage_pids(pipe)
        sampler = rss_probe.Sampler({n: pids[n] for n in STAGES})
        sampler.start()
        cpu0 = cpu_all(pids)
        t0 = time.monotonic()
        series = {"ingestor": [], "enricher": [], "writer": []}
        last_change = t0
        last_total = None
        hasim_done = False
        stalled = False
        probe = Startup(pipe)
        while True:
            st = stats(pipe)
            now = time.monotonic()
            ing_out = int(st["ingestor"]["events_out_total"])
            series["ingestor"].append((now, ing_out))
            series["enricher"].append((now, int(st["enricher"]["events_out_total"])))
            series["writer"].append((now, int(st["writer"]["points_written_total"])))
            total = startup_progress(st)
            if total != last_total:
                last_total, last_change = total, now
            if not hasim_done and "DONE=" in pipe.hasim.proc.read_out():
                hasim_done = True
            gap_done = (st["ingestor"].get("gap") or {}).get("state") == "done"
            if hasim_done and gap_done and ing_out > 0 and written(st["writer"]) >= ing_out \
                    and now - last_change > 1.0:
                break
            if now - last_change > SETTINGS["stall_s"] or now - t0 > 300:
                if ing_out == 0:
                    raise StartupFailed("the ingestor produced nothing (%s)" % probe.state(st))
                log("flood E=%d: stalled at %r" % (entities, total))
                stalled = True
                break
            time.sleep(0.05)
        cpu1 = cpu_all(pids)
        peak = sampler.peak()
        mem = memory(pids)
        st = stats(pipe)
        rates = {n: slope(series[n], series[n][-1][1]) for n in STAGES}
        final = series["writer"][-1][1]
        first_write = next((t for t, v in series["writer"] if v > 0), t0)
        last_write = next(t for t, v in series["writer"] if v >= final)
        generated = pipe.hasim.generated()
        want = {expect.point_key(ev) for ev in generated}
        want.discard(None)
        first = min(k[3] for k in want) if want else 0
        influx = Influx(pipe.influx.url, pipe.DB)
        try:
            landed = influx.keys_since(first)
        finally:
            influx.close()
        cpu = {n: cpu1[n] - cpu0[n] for n in pids}
        out = {"entities": entities, "events": events, "hasim_emitted": len(generated),
               "partitions": pipe.partitions, "stalled": stalled,
               "hasim_start_s": pipe.hasim_start_s,
               "flood_points": len(want), "missing": len(want - landed),
               "points_written": final, "elapsed_s": last_write - t0,
               "rate_avg": final / (last_write - t0) if last_write > t0 else None,
               "first_write_s": first_write - t0,
               "rate_10_90": rates, "cpu_s": cpu,
               "cpu_s_per_mpoint": {n: c * 1e6 / final for n, c in cpu.items()} if final else {},
               "rss_peak_kb": peak, "memory": mem,
               "ingestor_events_out": st["ingestor"]["events_out_total"],
               "ingestor_backfilled": st["ingestor"]["backfilled_total"],
               "enricher_events_out": st["enricher"]["events_out_total"],
               "writer_batches": st["writer"].get("batches_total"),
               "dlq": {n: st[n].get("dlq_total") for n in STAGES}}
        out["exit_codes"] = pipe.stop()
        return out
    except HasimSlow:
        raise
    except BaseException:
        log("flood run failed:\n" + pipe.report())
        raise
    finally:
        if sampler is not None:
            sampler.stop()
        stop_all(pipe)
        pipe.cleanup()


def save(path, results):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(results, f, indent=1)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--entities", default="1000,3000,10000,100000")
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--flood-events", type=int, default=10000)
    ap.add_argument("--sample", type=int, default=10,
                    help="the latency poller follows every N-th event")
    ap.add_argument("--partitions", type=int, default=0,
                    help="dev broker partitions per topic (0: sized to the entity count)")
    ap.add_argument("--stall-s", type=int, default=SETTINGS["stall_s"],
                    help="give a run up when its start-up makes no progress this long")
    ap.add_argument("--idle-seconds", type=float, default=3)
    ap.add_argument("--only", default="idle,latency,flood")
    ap.add_argument("--hasim-start-s", type=int, default=SETTINGS["hasim_start_s"],
                    help="how long hasim may take to generate its home")
    ap.add_argument("--budget-s", type=int, default=0,
                    help="start no run later than this many seconds (less a minute) "
                    "after the start; 0: no limit")
    args = ap.parse_args()
    t_main = time.monotonic()
    only = set(args.only.split(","))
    SETTINGS["hasim_start_s"] = args.hasim_start_s
    SETTINGS["partitions"] = args.partitions
    SETTINGS["stall_s"] = args.stall_s
    # The harness starts the processes in their own directories.
    os.environ["HS_BUILD_DIR"] = os.path.abspath(harness.build_dir())
    results = {"python": platform.python_version(), "runs": []}
    too_big = None
    for e in sorted(int(x) for x in args.entities.split(",") if x):
        skip = None
        if too_big is not None:
            skip = ("homestream-hasim could not generate a home of %d entities within %d s, "
                    "so larger homes were not tried" % (too_big, SETTINGS["hasim_start_s"]))
        for kind in ("idle", "latency", "flood"):
            if kind not in only:
                continue
            if skip is not None:
                results["runs"].append({"entities": e, "kind": kind, "error": skip})
                save(args.out, results)
                continue
            if args.budget_s and time.monotonic() - t_main + MIN_RUN_S > args.budget_s:
                results["runs"].append({"entities": e, "kind": kind, "error": (
                    "not started: the benchmark's time budget of %d s was spent"
                    % args.budget_s)})
                save(args.out, results)
                continue
            log("%s run, %d entities" % (kind, e))
            t = time.monotonic()
            try:
                if kind == "idle":
                    r = run_idle(e, args.idle_seconds)
                elif kind == "latency":
                    r = run_latency(e, args.rate, args.seconds, max(1, args.sample))
                else:
                    r = run_flood(e, args.flood_events)
            except HasimSlow as exc:
                skip = str(exc)
                too_big = e
                r = {"entities": e, "error": skip}
            except Exception as exc:  # noqa: BLE001 - reported in the results
                r = {"entities": e, "error": "%s: %s" % (type(exc).__name__, exc)}
            r["kind"] = kind
            r["wall_s"] = time.monotonic() - t
            log("%s" % json.dumps(r)[:600])
            results["runs"].append(r)
            save(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
