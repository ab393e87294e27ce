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
           CPU use over --idle-seconds more are read from /proc.
  latency  hasim emits --rate events/s (1,000 by default). Every event's
           new_state.last_updated is its emission time (hasim's events log
           has each event exactly as sent), and the writer makes it the
           point's time. A poller queries influxd every --poll-ms for the
           points at or after the oldest event not yet seen, in the
           measurements of the events not yet seen ('SELECT "value","state"
           FROM "m1","m2" WHERE time >= X GROUP BY "domain","entity_id"'),
           and records, per (measurement, domain, entity_id, time), the wall
           clock at which the query that first returned it had its answer.
           latency = that clock - last_updated: an upper bound, late by at
           most one poll cycle (the cycle lengths are reported as the
           resolution). Events emitted before the startup states are
           written (plus 1 s) are left out; then --seconds of events are
           measured. homestream-e2e-tap (e2e_tap.c) meanwhile reads the
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

Usage: HS_BUILD_DIR=build-bench tests/bench/e2e_bench.py --out results.json
       [--entities 1000,3000,10000,100000] [--rate 1000] [--seconds 15]
       [--flood-events 10000] [--poll-ms 5] [--idle-seconds 3] [--hasim-start-s 60]
"""
import argparse
import http.client
import json
import os
import platform
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
# How long hasim may take to generate its home (--hasim-start-s).
SETTINGS = {"hasim_start_s": 60}


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
        if self.f is None:
            try:
                self.f = open(self.path, "rb")
            except FileNotFoundError:
                return []
        data = self.rest + self.f.read()
        lines = data.split(b"\n")
        self.rest = lines.pop()
        return [json.loads(line) for line in lines if line.strip()]

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

    def keys_since(self, since_ns, measurements=None, entity_ids=None):
        """{(measurement, domain, entity_id, time ns)} of every point at or after
        since_ns that has a value or a state field, in the given measurements
        (all of them when None) and with the given entity_id tags (any when
        None)."""
        if measurements:
            src = ",".join(quote_ident(m) for m in sorted(measurements))
        else:
            src = "/.*/"
        where = "time >= %d" % since_ns
        if entity_ids:
            where += " AND (%s)" % " OR ".join('"entity_id" = %s' % quote_str(e)
                                               for e in sorted(entity_ids))
        q = ('SELECT "value","state" FROM %s WHERE %s GROUP BY "domain","entity_id"'
             % (src, where))
        body = urllib.parse.urlencode({"db": self.db, "q": q, "epoch": "ns"})
        try:
            self.conn.request("POST", "/query", body=body,
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
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

    def close(self):
        self.conn.close()


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
    return {n: {"rss_kb": rss_probe.status_kb(pids[n], "VmRSS"),
                "hwm_kb": rss_probe.status_kb(pids[n], "VmHWM")} for n in STAGES}


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


class Startup:
    """Tells when the E states the ingestor fetched at connect (get_states)
    are all in InfluxDB: the ingestor's startup gap is closed, it has
    produced at least its backfilled events, and the writer has finished
    with as many messages as the ingestor had produced by then."""

    def __init__(self, pipe):
        self.pipe = pipe
        self.target = None

    def done(self):
        st = stats(self.pipe)
        ing = st["ingestor"]
        if self.target is None:
            out = int(ing["events_out_total"])
            if ing.get("gap", {}).get("state") != "done" or out < int(ing["backfilled_total"]) \
                    or out == 0:
                return False
            self.target = out
        return written(st["writer"]) >= self.target


def wait_startup_written(pipe, timeout):
    """Waits for Startup.done(); returns the seconds it took from now."""
    t0 = time.monotonic()
    harness.wait_until(Startup(pipe).done, timeout, "the startup states in InfluxDB",
                       interval=0.05)
    return time.monotonic() - t0


def stop_all(pipe):
    """Stops the tap (when there is one) and everything harness.Pipeline.stop
    stops; safe to call twice."""
    if pipe.tap is not None:
        pipe.tap.stop()
    return pipe.stop()


def make_pipe(name, events, rate, entities):
    pipe = harness.Pipeline("bench-" + name, events=events, rate=rate, entities=entities)
    pipe.hasim_entities = entities
    pipe.hasim_start_s = None
    pipe.tap = None
    return pipe


def run_idle(entities, idle_seconds):
    pipe = make_pipe("idle", 1, 1, entities)
    try:
        start_pipeline(pipe)
        pids = stage_pids(pipe)
        startup_s = wait_startup_written(pipe, 300)
        pipe.hasim.wait_done(30)
        time.sleep(1.0)
        cpu0 = cpu_all(pids)
        t0 = time.monotonic()
        time.sleep(idle_seconds)
        cpu1 = cpu_all(pids)
        dt = time.monotonic() - t0
        mem = memory(pids)
        st = stats(pipe)
        out = {"entities": entities, "startup_s": startup_s, "memory": mem,
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


def run_latency(entities, rate, seconds, poll_ms):
    pipe = make_pipe("latency", 0, rate, entities)
    sampler = None
    evlog = None
    influx = None
    try:
        start_pipeline(pipe, tap=True)
        t_start = time.time_ns()
        pids = stage_pids(pipe)
        sampler = rss_probe.Sampler({n: pids[n] for n in STAGES})
        sampler.start()
        startup = Startup(pipe)
        evlog = EventsLog(pipe.hasim.events_log)
        influx = Influx(pipe.influx.url, pipe.DB)
        pending = {}            # key -> emission time (ns)
        latencies = []          # ns, events emitted in [t_ready, t_end)
        measured = {}           # key -> (entity_id, emission ns, queryable wall ns)
        entity_of = {}          # key -> entity_id, for the keys pending
        cycles = []             # ns between the ends of consecutive polls
        query_ns = []
        lost = 0
        emitted_in_window = 0
        t_ready = t_end = None
        next_check = 0.0
        last_end = None
        deadline = time.monotonic() + 300 + seconds
        while time.monotonic() < deadline:
            loop_start = time.monotonic()
            if t_ready is None and loop_start >= next_check:
                next_check = loop_start + 0.05
                if startup.done():
                    cpu_a, own_a, mono_a = cpu_all(pids), os.times(), time.monotonic()
                    t_ready = time.time_ns() + NS
                    t_end = t_ready + int(seconds * NS)
                    startup_s = (time.time_ns() - t_start) / NS
                    log("latency E=%d: startup states written after %.1f s; measuring %s s"
                        % (entities, startup_s, seconds))
            for ev in evlog.read_new():
                key = expect.point_key(ev)
                if key is None:
                    continue
                pending[key] = key[3]
                entity_of[key] = ev["data"]["entity_id"]
                if t_ready is not None and t_ready <= key[3] < t_end:
                    emitted_in_window += 1
            if pending:
                lo = min(pending.values())
                q0 = time.time_ns()
                # A tag filter narrows the query while few entities are
                # pending; a long OR list would make influxd slower, not
                # faster, so beyond MAX_TAG_FILTER it is left out.
                ents = {k[2] for k in pending}
                got = influx.keys_since(lo, {k[0] for k in pending},
                                        ents if len(ents) <= MAX_TAG_FILTER else None)
                q1 = time.time_ns()
                query_ns.append(q1 - q0)
                if last_end is not None:
                    cycles.append(q1 - last_end)
                last_end = q1
                for key in got & pending.keys():
                    emit = pending.pop(key)
                    entity = entity_of.pop(key)
                    if t_ready is not None and t_ready <= emit < t_end:
                        latencies.append(q1 - emit)
                        measured[key] = (entity, emit, q1)
                for key, emit in list(pending.items()):
                    if q1 - emit > 30 * NS:
                        del pending[key]
                        del entity_of[key]
                        if t_ready is not None and t_ready <= emit < t_end:
                            lost += 1
            else:
                last_end = None
            if t_end is not None and time.time_ns() >= t_end:
                if not any(e < t_end for e in pending.values()):
                    break
            spent = time.monotonic() - loop_start
            if spent < poll_ms / 1000.0:
                time.sleep(poll_ms / 1000.0 - spent)
        if t_ready is None:
            raise RuntimeError("the startup states never reached InfluxDB")
        cpu_b, own_b, mono_b = cpu_all(pids), os.times(), time.monotonic()
        span = mono_b - mono_a
        cpu_pct = {n: 100.0 * (cpu_b[n] - cpu_a[n]) / span for n in pids}
        cpu_pct["poller"] = 100.0 * ((own_b.user - own_a.user) + (own_b.system - own_a.system)) / span
        for key, emit in pending.items():
            if t_ready <= emit < t_end:
                lost += 1
        st = stats(pipe)
        pipe.tap.stop()
        out = {"entities": entities, "rate": rate, "seconds": seconds, "poll_ms": poll_ms,
               "breakdown": breakdown(pipe.tap.out_path, measured),
               "startup_s": startup_s, "emitted": emitted_in_window, "lost": lost,
               "latency": ms_summary(latencies), "poll_cycle": ms_summary(cycles),
               "query": ms_summary(query_ns), "rss_peak_kb": sampler.peak(),
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
        if sampler is not None:
            sampler.stop()
        if evlog is not None:
            evlog.close()
        if influx is not None:
            influx.close()
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
        while True:
            st = stats(pipe)
            now = time.monotonic()
            ing_out = int(st["ingestor"]["events_out_total"])
            series["ingestor"].append((now, ing_out))
            series["enricher"].append((now, int(st["enricher"]["events_out_total"])))
            series["writer"].append((now, int(st["writer"]["points_written_total"])))
            total = (ing_out, series["enricher"][-1][1], written(st["writer"]))
            if total != last_total:
                last_total, last_change = total, now
            if not hasim_done and "DONE=" in pipe.hasim.proc.read_out():
                hasim_done = True
            if hasim_done and total[2] >= ing_out and now - last_change > 1.0:
                break
            if now - last_change > 30 or now - t0 > 300:
                log("flood E=%d: stalled at %r" % (entities, total))
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
    ap.add_argument("--poll-ms", type=float, default=5)
    ap.add_argument("--idle-seconds", type=float, default=3)
    ap.add_argument("--only", default="idle,latency,flood")
    ap.add_argument("--hasim-start-s", type=int, default=SETTINGS["hasim_start_s"],
                    help="how long hasim may take to generate its home")
    args = ap.parse_args()
    only = set(args.only.split(","))
    SETTINGS["hasim_start_s"] = args.hasim_start_s
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
            log("%s run, %d entities" % (kind, e))
            t = time.monotonic()
            try:
                if kind == "idle":
                    r = run_idle(e, args.idle_seconds)
                elif kind == "latency":
                    r = run_latency(e, args.rate, args.seconds, args.poll_ms)
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
