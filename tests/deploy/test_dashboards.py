#!/usr/bin/env python3
"""test_dashboards.py - every InfluxQL query of deploy/grafana/dashboards/*.json runs
without error and returns data.

For each panel target the query is taken as Grafana sends it: $timeFilter,
$__timeFilter, $__interval, $interval and $__interval_ms are replaced the way
Grafana's InfluxDB datasource replaces them, and each template variable of
the dashboard is resolved by running the variable's own query and selecting
"All" (a regex of every value, as Grafana formats it). The query then runs
against a real influxd; it must return no error, at least one series and at
least one non-null value.

Where the data comes from: by default pipeline_filled_influxd() runs the
real pipeline (devbroker, influxd, hasim -> ingestor -> enricher -> writer,
with weather from hasim's weather.home and every stage's stats each second)
and every query runs over the range of that run, except the few listed in
SYNTHETIC_ONLY (with the reason), which a short run cannot feed. Those run
against DATA_SOURCE: representative_points() writes a day of points in the
shape homestream's writer produces (HA's schema, plus weather, presence and
the stages' own "homestream" stats). HS_DASHBOARD_DATA=synthetic runs every
query on DATA_SOURCE alone. With HS_INFLUX_URL set, the test instead queries
that running InfluxDB v1 API (database HS_INFLUX_DB, default homeassistant)
as it is over the last HS_DASHBOARD_RANGE_S seconds (default 86400).
check_dashboards() is the reusable entry point.
"""

import contextlib
import glob
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
DASHBOARD_DIR = os.path.join(ROOT, "deploy", "grafana", "dashboards")
DB = os.environ.get("HS_INFLUX_DB", "homeassistant")

# Grafana's interval steps (public/app/core/utils/kbn.ts roundInterval, rounded up).
_STEPS_MS = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 15000, 20000, 30000,
             60000, 120000, 300000, 600000, 900000, 1200000, 1800000, 3600000, 7200000,
             10800000, 21600000, 43200000, 86400000, 604800000, 2592000000, 31536000000]
MAX_DATA_POINTS = 1000


# --------------------------------------------------------------------------- influxd

def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def influxd():
    """Starts Debian's influxd (1.6, v1 API) in a temporary directory on free
    loopback ports; yields its base URL and stops it on exit."""
    binary = os.environ.get("HS_INFLUXD", "/usr/bin/influxd")
    if not os.access(binary, os.X_OK):
        raise RuntimeError("influxd not found at %s (apt-get install influxdb, or set HS_INFLUXD)"
                           % binary)
    tmp = tempfile.mkdtemp(prefix="hs-dash-influxd-")
    proc = None
    try:
        for attempt in range(5):
            http_port, rpc_port = _free_port(), _free_port()
            conf = os.path.join(tmp, "influxd.conf")
            with open(conf, "w") as f:
                f.write('reporting-disabled = true\n'
                        'bind-address = "127.0.0.1:%d"\n'
                        '[meta]\n  dir = "%s/meta"\n'
                        '[data]\n  dir = "%s/data"\n  wal-dir = "%s/wal"\n'
                        '  query-log-enabled = false\n'
                        '[http]\n  bind-address = "127.0.0.1:%d"\n  log-enabled = false\n'
                        '[monitor]\n  store-enabled = false\n'
                        '[continuous_queries]\n  enabled = false\n'
                        % (rpc_port, tmp, tmp, tmp, http_port))
            log = open(os.path.join(tmp, "influxd.log"), "wb")
            proc = subprocess.Popen([binary, "-config", conf], stdout=log, stderr=log)
            log.close()
            url = "http://127.0.0.1:%d" % http_port
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    with urllib.request.urlopen(url + "/ping", timeout=1) as r:
                        if r.status == 204:
                            break
                except (OSError, urllib.error.URLError):
                    time.sleep(0.1)
            else:
                # Exited (a port taken between probe and bind) or never answered.
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
                proc = None
                continue
            yield url
            return
        with open(os.path.join(tmp, "influxd.log"), errors="replace") as f:
            raise RuntimeError("influxd did not start:\n" + f.read()[-2000:])
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def influx_query(url, db, q, method="GET"):
    """Runs one InfluxQL statement; returns the decoded first result."""
    params = urllib.parse.urlencode({"db": db, "q": q, "epoch": "ms"})
    if method == "GET":
        req = urllib.request.Request(url + "/query?" + params)
    else:
        req = urllib.request.Request(url + "/query", data=params.encode(), method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            body = json.load(r)
    except urllib.error.HTTPError as e:
        return {"error": "HTTP %d: %s" % (e.code, e.read().decode(errors="replace"))}
    if "error" in body:
        return {"error": body["error"]}
    return body["results"][0]


def influx_write(url, db, lines):
    data = ("\n".join(lines) + "\n").encode("utf-8")
    req = urllib.request.Request(url + "/write?" + urllib.parse.urlencode(
        {"db": db, "precision": "ns"}), data=data, method="POST")
    with urllib.request.urlopen(req, timeout=60) as r:
        if r.status != 204:
            raise RuntimeError("write failed: HTTP %d" % r.status)


# --------------------------------------------------------------------------- data

def _esc_measurement(s):
    return s.replace("\\", "\\\\").replace(",", "\\,").replace(" ", "\\ ")


def _esc_key(s):
    """Escapes a tag key, tag value or field key."""
    return s.replace("\\", "\\\\").replace(",", "\\,").replace(" ", "\\ ").replace("=", "\\=")


def _field(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(float(v))
    return '"%s"' % str(v).replace("\\", "\\\\").replace('"', '\\"')


def line(measurement, tags, fields, t_ns):
    tag_txt = "".join(",%s=%s" % (_esc_key(k), _esc_key(v))
                      for k, v in sorted(tags.items()) if v not in (None, ""))
    field_txt = ",".join("%s=%s" % (_esc_key(k), _field(v)) for k, v in fields.items())
    return "%s%s %s %d" % (_esc_measurement(measurement), tag_txt, field_txt, t_ns)


def ha_point(entity_id, state, t_ns, unit=None, area=None, site="home", attrs=None,
             weather=None):
    """One point as the writer's `ha` schema writes it: measurement = unit, else
    the entity id; tags domain, entity_id (object id), site, area; fields value
    (when numeric or on/off-like), state, attributes as numbers or <name>_str."""
    domain, object_id = entity_id.split(".", 1)
    fields = {}
    word = {"on": 1, "off": 0, "home": 1, "not_home": 0, "open": 1, "closed": 0}
    try:
        fields["value"] = float(state)
    except ValueError:
        if state in word:
            fields["value"] = float(word[state])
    fields["state"] = state
    for k, v in (attrs or {}).items():
        fields[k if isinstance(v, (int, float)) and not isinstance(v, bool) else k + "_str"] = v
    for k, v in (weather or {}).items():
        fields["weather_" + k] = v
    return line(unit or entity_id, {"domain": domain, "entity_id": object_id, "site": site,
                                    "area": area}, fields, t_ns)


def representative_points(start_ns, end_ns):
    """Line protocol for a day in a small house (and a cabin site), spread over
    [start_ns, end_ns]: temperatures and humidity in three areas, outdoor
    weather, two people, lights and switches, power and energy, an entity that
    went unavailable, and the three stages' stats every minute."""
    out = []
    span = end_ns - start_ns
    minute = 60 * 10**9
    steps = max(int(span // (5 * minute)), 12)

    def at(i, n):
        return start_ns + int(span * i / n)

    rooms = [("living_room", "Living Room", 21.0), ("bedroom", "Bedroom", 18.5),
             ("kitchen", "Kitchen", 22.0)]
    for i in range(steps):
        t = at(i, steps)
        phase = 2 * math.pi * i / steps
        wx = {"temperature": round(4 + 3 * math.sin(phase), 2),
              "humidity": round(80 - 10 * math.sin(phase), 1), "condition": "cloudy"}
        for obj, area, base in rooms:
            out.append(ha_point("sensor.%s_temperature" % obj, "%.1f" % (base + math.sin(phase)),
                                t, "°C", area, attrs={"device_class": "temperature",
                                                      "friendly_name": area + " temperature",
                                                      "state_class": "measurement"}, weather=wx))
            out.append(ha_point("sensor.%s_humidity" % obj, "%.0f" % (45 + 5 * math.cos(phase)),
                                t + 1000, "%", area, attrs={"device_class": "humidity"}))
        out.append(ha_point("sensor.phone_battery", str(90 - i * 50 // steps), t + 2000, "%",
                            None, attrs={"device_class": "battery"}))
        out.append(ha_point("sensor.cabin_temperature", "%.1f" % (9 + math.sin(phase)), t, "°C",
                            "Cabin", site="cabin", attrs={"device_class": "temperature"}))
        out.append(ha_point("sensor.house_power", "%.0f" % (300 + 200 * (1 + math.sin(3 * phase))),
                            t + 3000, "W", "Utility", attrs={"device_class": "power"}))
        out.append(ha_point("sensor.house_energy", "%.3f" % (1520.0 + 0.05 * i), t + 4000, "kWh",
                            "Utility", attrs={"device_class": "energy",
                                              "state_class": "total_increasing"}))
        out.append(ha_point("sensor.heat_pump_energy", "%.3f" % (311.0 + 0.02 * i), t + 5000,
                            "kWh", "Utility", attrs={"device_class": "energy"}))
    wsteps = max(int(span // (15 * minute)), 8)
    for i in range(wsteps):
        t = at(i, wsteps)
        phase = 2 * math.pi * i / wsteps
        for site in ("home", "cabin"):
            out.append(line("weather", {"site": site, "provider": "open-meteo"},
                            {"temperature": 4 + 3 * math.sin(phase),
                             "humidity": 80 - 10 * math.sin(phase),
                             "pressure": 1012.0 + i % 5,
                             "condition": "rain" if i % 3 == 0 else "cloudy"}, t))
    # Presence: Alice leaves and comes back; Bob is away for a while.
    changes = [(0, {"alice": "home", "bob": "home"}), (0.3, {"alice": "not_home"}),
               (0.45, {"bob": "work"}), (0.6, {"alice": "home"}), (0.8, {"bob": "home"})]
    people = {}
    for frac, update in changes:
        t = start_ns + int(span * frac)
        for who, st in update.items():
            people[who] = st
            out.append(ha_point("person." + who, st, t, attrs={"friendly_name": who.title()}))
        home = sum(1 for s in people.values() if s == "home")
        out.append(line("presence", {"site": "home"},
                        {"anyone_home": home > 0, "people_home": float(home)}, t))
    # Lights and switches toggling.
    for k, entity in enumerate(("light.kitchen", "light.living_room", "switch.coffee_maker")):
        for j in range(10):
            t = start_ns + int(span * (j + 0.5 + 0.1 * k) / 10.5)
            out.append(ha_point(entity, "on" if j % 2 == 0 else "off", t, area="Kitchen",
                                attrs={"friendly_name": entity}))
    # A sensor that is unavailable at the end, one that recovered.
    out.append(ha_point("sensor.garage_temperature", "7.5", start_ns + span // 10, "°C", "Garage"))
    out.append(ha_point("sensor.garage_temperature", "unavailable", start_ns + span * 8 // 10,
                        "°C", "Garage"))
    out.append(ha_point("binary_sensor.door", "unavailable", start_ns + span // 3, area="Hall"))
    out.append(ha_point("binary_sensor.door", "off", start_ns + span // 2, area="Hall"))
    # The stages' own stats, one point per stage per minute.
    n = max(int(span // minute), 10)
    for i in range(n):
        t = at(i, n)
        degraded = n // 2 <= i < n // 2 + 5
        common = {"events_in_total": 10.0 * i, "events_out_total": 10.0 * i - (i % 3),
                  "errors_total": float(i // 100), "reconnects_total": float(i // 300)}
        out.append(line("homestream", {"stage": "ingestor", "site": "home"},
                        dict(common, health=1.0 if degraded else 0.0,
                             spool_bytes=4096.0 * 5 if degraded else 0.0,
                             spool_dropped_total=float(i // 400),
                             breaker_home_assistant_state=1.0 if degraded else 0.0), t))
        out.append(line("homestream", {"stage": "enricher", "site": "home"},
                        dict(common, health=0.0, dlq_total=float(i // 200), consumer_lag=float(i % 7),
                             breaker_weather_state=2.0 if i % 97 == 0 else 0.0,
                             breaker_presence_state=0.0), t + 1000))
        out.append(line("homestream", {"stage": "writer", "site": "home"},
                        dict(common, health=0.0, dlq_total=float(i // 150), consumer_lag=float(i % 11),
                             write_latency_p50_ms=4.0 + i % 5, write_latency_p99_ms=20.0 + i % 13,
                             breaker_influxdb_state=0.0), t + 2000))
    return out


def fill_with_representative_points(url, db, start_ns, end_ns):
    influx_query(url, db, 'CREATE DATABASE "%s"' % db, method="POST")
    lines = representative_points(start_ns, end_ns)
    for i in range(0, len(lines), 5000):
        influx_write(url, db, lines[i:i + 5000])


DATA_SOURCE = fill_with_representative_points

# The real pipeline's run (pipeline_filled_influxd below): hasim emits
# PIPELINE_EVENTS state changes at PIPELINE_RATE per second, so the run lasts
# about PIPELINE_EVENTS / PIPELINE_RATE seconds of real time. hasim has no
# simulated clock: its events carry the wall-clock time they are sent at.
PIPELINE_EVENTS = 3000
PIPELINE_RATE = 300
PIPELINE_STAGE_ENV = {
    "ingestor": {"STATS_INTERVAL_S": "1"},
    "enricher": {"STATS_INTERVAL_S": "1", "WEATHER_PROVIDER": "entity",
                 "WEATHER_ENTITY": "weather.home"},
    "writer": {"STATS_INTERVAL_S": "1"},
}


@contextlib.contextmanager
def pipeline_filled_influxd(events=PIPELINE_EVENTS, rate=PIPELINE_RATE):
    """Runs the real pipeline (tests/integration/harness.py: devbroker,
    influxd, hasim -> ingestor -> enricher -> writer) until the writer has
    written every event hasim emitted and a few stats intervals more; yields
    (influxd URL, database, start_ms, end_ms) of the data it landed, and
    stops everything on exit. Needs HS_BUILD_DIR (the meson test sets it)."""
    sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
    import harness  # noqa: E402 - only this data source needs the binaries

    pipe = harness.Pipeline("dashboards", events=events, rate=rate, entities=40, seed=1,
                            stage_env=PIPELINE_STAGE_ENV)
    start_ms = int(time.time() * 1000) - 1000
    try:
        pipe.start()
        pipe.hasim.wait_done(events / max(rate, 1) * 4 + 60)
        writer = pipe.stages["writer"]
        harness.wait_until(lambda: writer.json("/stats")["events_out_total"] >= events, 120,
                           "the writer to write %d events" % events, interval=0.5)
        # Stats records every second: wait for a few more after the last event
        # so the counters' last change is in InfluxDB too.
        time.sleep(3)
        end_ms = int(time.time() * 1000)
        yield pipe.influx.url, pipe.DB, start_ms, end_ms
    except Exception:
        print(pipe.report(), file=sys.stderr)
        raise
    finally:
        pipe.stop()
        pipe.cleanup()


# --------------------------------------------------------------------------- dashboards

def load_dashboards(directory=DASHBOARD_DIR):
    dashboards = {}
    for path in sorted(glob.glob(os.path.join(directory, "*.json"))):
        with open(path, encoding="utf-8") as f:
            dashboards[os.path.basename(path)] = json.load(f)
    return dashboards


def panels(dashboard):
    """Every panel, including those nested in collapsed rows."""
    for p in dashboard.get("panels", []):
        yield p
        for q in p.get("panels", []):
            yield q


def duration_ms(text):
    """Milliseconds of a Grafana duration such as "90s", "1h" or "7d"."""
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d|w)", text)
    if not m:
        raise ValueError("unsupported duration %r" % text)
    unit = {"ms": 1, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000,
            "w": 604800000}[m.group(2)]
    return int(m.group(1)) * unit


def grafana_interval_ms(start_ms, end_ms, min_interval=None):
    """$__interval as Grafana computes it: range / max data points, rounded up to
    a step, never below the panel's min interval."""
    raw = max((end_ms - start_ms) / MAX_DATA_POINTS, 1)
    ms = next((s for s in _STEPS_MS if s >= raw), _STEPS_MS[-1])
    if min_interval:
        ms = max(ms, duration_ms(min_interval))
    return ms


def interval_text(ms):
    for unit, size in (("d", 86400000), ("h", 3600000), ("m", 60000), ("s", 1000)):
        if ms % size == 0:
            return "%d%s" % (ms // size, unit)
    return "%dms" % ms


def regex_escape(value):
    # Grafana's influx datasource escapes regex metacharacters of variable values.
    return re.sub(r"([\\^$*+?.()|{}\[\]/])", r"\\\1", value)


def substitute(query, start_ms, end_ms, interval_ms, variables):
    time_filter = "time >= %dms and time <= %dms" % (start_ms, end_ms)
    out = query
    for name in ("$__timeFilter", "$timeFilter"):
        out = out.replace(name, time_filter)
    out = out.replace("$__interval_ms", str(interval_ms))
    out = out.replace("$__interval", interval_text(interval_ms))
    out = out.replace("$interval", interval_text(interval_ms))
    for name, value in variables.items():
        out = out.replace("${%s}" % name, value).replace("[[%s]]" % name, value)
        out = re.sub(r"\$%s\b" % re.escape(name), lambda m: value, out)
    return out


def resolve_variables(url, db, dashboard, start_ms, end_ms):
    """Values of the dashboard's query variables with "All" selected; raises
    AssertionError when a variable's query fails or finds nothing."""
    values = {}
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        q = var["query"] if isinstance(var["query"], str) else var["query"]["query"]
        q = substitute(q, start_ms, end_ms, 60000, values)
        result = influx_query(url, db, q)
        if "error" in result:
            raise AssertionError("variable %s: %s: %s" % (var["name"], q, result["error"]))
        found = sorted({row[-1] for s in result.get("series", []) for row in s["values"]})
        if not found:
            raise AssertionError("variable %s: %s found no values" % (var["name"], q))
        escaped = [regex_escape(v) for v in found]
        values[var["name"]] = escaped[0] if len(escaped) == 1 else "(%s)" % "|".join(escaped)
    return values


def check_query(url, db, query):
    """Returns None when query answers at least one series with a non-null
    value, else a description of what went wrong."""
    result = influx_query(url, db, query)
    if "error" in result:
        return "error: %s" % result["error"]
    series = result.get("series") or []
    if not series:
        return "no series"
    if not any(v is not None for s in series for row in s["values"] for v in row[1:]):
        return "only null values"
    return None


def dashboard_queries(dashboard, start_ms, end_ms, variables):
    """Yields (panel title, refId, raw query, substituted query). A panel with
    a relative time ("timeFrom", e.g. "7d") gets that range ending at end_ms,
    as Grafana gives it."""
    for p in panels(dashboard):
        p_start = end_ms - duration_ms(p["timeFrom"]) if p.get("timeFrom") else start_ms
        for t in p.get("targets", []):
            if "query" not in t:
                continue
            interval = grafana_interval_ms(p_start, end_ms, p.get("interval"))
            yield (p.get("title"), t.get("refId"), t["query"],
                   substitute(t["query"], p_start, end_ms, interval, variables))


def check_dashboards(url, db, start_ms, end_ms, directory=DASHBOARD_DIR, select=None):
    """Runs every dashboard query over [start_ms, end_ms] (only those for which
    select(dashboard file, panel title, refId) is true, when select is given);
    returns a list of failures (empty when all pass) and the number of
    queries run."""
    failures, count = [], 0
    for name, dash in load_dashboards(directory).items():
        try:
            variables = resolve_variables(url, db, dash, start_ms, end_ms)
        except AssertionError as e:
            failures.append("%s: %s" % (name, e))
            continue
        for title, ref, raw, query in dashboard_queries(dash, start_ms, end_ms, variables):
            if select is not None and not select(name, title, ref):
                continue
            count += 1
            problem = check_query(url, db, query)
            if problem:
                failures.append("%s / %s / %s: %s\n    %s" % (name, title, ref, problem, query))
    return failures, count


# --------------------------------------------------------------------------- tests

class DashboardModel(unittest.TestCase):
    """Static rules every dashboard follows, checked without a database."""

    def setUp(self):
        self.dashboards = load_dashboards()

    def test_both_dashboards_exist(self):
        self.assertEqual(sorted(self.dashboards), ["home.json", "pipeline.json"])
        uids = [d["uid"] for d in self.dashboards.values()]
        self.assertEqual(len(set(uids)), len(uids))

    def test_panels_are_well_formed(self):
        for name, dash in self.dashboards.items():
            ids = [p["id"] for p in panels(dash)]
            self.assertEqual(len(ids), len(set(ids)), name + ": duplicate panel ids")
            for p in panels(dash):
                with self.subTest(dashboard=name, panel=p.get("title")):
                    self.assertTrue(p.get("title"))
                    for key in ("h", "w", "x", "y"):
                        self.assertIn(key, p["gridPos"])
                    self.assertLessEqual(p["gridPos"]["x"] + p["gridPos"]["w"], 24)
                    if p["type"] != "row":
                        self.assertTrue(p.get("targets"), "a panel without a query")
                        self.assertTrue(p.get("description"), "every panel says what it answers")

    def test_queries_use_the_time_range_and_interval(self):
        for name, dash in self.dashboards.items():
            for p in panels(dash):
                for t in p.get("targets", []):
                    q = t["query"]
                    with self.subTest(dashboard=name, panel=p["title"], ref=t["refId"]):
                        self.assertTrue(t.get("rawQuery"))
                        self.assertEqual(t["datasource"]["uid"], "${datasource}")
                        self.assertIn("$timeFilter", q)
                        self.assertRegex(q, r'"site" =~ /\^\$site\$/')
                        for grid in re.findall(r"GROUP BY time\(([^)]*)\)", q):
                            # A fixed grid is allowed only inside a subquery that
                            # resamples (e.g. on-time in 1-minute steps).
                            if grid != "$__interval":
                                self.assertIn("FROM (SELECT", q)


# Queries a short run of the real pipeline cannot feed, checked against
# representative_points() instead: (dashboard file, panel title, refId) -> why.
SYNTHETIC_ONLY = {
    ("home.json", "Energy per hour", "A"):
        "non_negative_difference(max(value)) over GROUP BY time(1h) (the panel's "
        "min interval) needs kWh readings in two different clock hours; hasim has "
        "no simulated clock (its events carry the wall-clock time they are sent "
        "at), so a run of a minute crosses an hour boundary only by chance.",
}


def _pipeline_query(name, title, ref):
    return (name, title, ref) not in SYNTHETIC_ONLY


def _synthetic_query(name, title, ref):
    return (name, title, ref) in SYNTHETIC_ONLY


class DashboardQueries(unittest.TestCase):
    """Every query against a real influxd: by default filled by the real
    pipeline (pipeline_filled_influxd), the SYNTHETIC_ONLY ones filled by
    DATA_SOURCE. HS_DASHBOARD_DATA=synthetic runs every query on DATA_SOURCE
    alone; HS_INFLUX_URL runs every query on that InfluxDB as it is."""

    def assert_all_pass(self, failures, count, expected_count=None):
        self.assertGreater(count, 0)
        if expected_count is not None:
            self.assertEqual(count, expected_count)
        self.assertEqual(failures, [], "\n" + "\n".join(failures))

    def synthetic(self, select=None):
        end_ms = int(time.time() * 1000)
        start_ms = end_ms - 24 * 3600 * 1000
        with influxd() as url:
            DATA_SOURCE(url, DB, start_ms * 10**6, (end_ms - 60000) * 10**6)
            return check_dashboards(url, DB, start_ms, end_ms, select=select)

    def test_every_query_returns_data(self):
        external = os.environ.get("HS_INFLUX_URL")
        mode = os.environ.get("HS_DASHBOARD_DATA", "pipeline")
        if external:
            end_ms = int(time.time() * 1000)
            start_ms = end_ms - 1000 * int(os.environ.get("HS_DASHBOARD_RANGE_S", "86400"))
            self.assert_all_pass(*check_dashboards(external.rstrip("/"), DB, start_ms, end_ms))
        elif mode == "synthetic":
            self.assert_all_pass(*self.synthetic())
        elif mode == "pipeline":
            with pipeline_filled_influxd() as (url, db, start_ms, end_ms):
                failures, count = check_dashboards(url, db, start_ms, end_ms,
                                                   select=_pipeline_query)
            self.assert_all_pass(failures, count)
        else:
            self.fail("HS_DASHBOARD_DATA must be pipeline or synthetic, not %r" % mode)

    def test_synthetic_only_queries_return_data(self):
        """The queries the pipeline run leaves out still run, on synthetic data;
        each SYNTHETIC_ONLY entry names a query that exists."""
        failures, count = self.synthetic(select=_synthetic_query)
        self.assert_all_pass(failures, count, expected_count=len(SYNTHETIC_ONLY))

    def test_substitution_matches_grafana(self):
        q = ('SELECT mean("value") FROM "°C" WHERE "site" =~ /^$site$/ AND $timeFilter '
             'GROUP BY time($__interval) fill(none)')
        out = substitute(q, 1000, 3601000, 5000, {"site": "(home|cabin)"})
        self.assertEqual(out, 'SELECT mean("value") FROM "°C" WHERE "site" =~ /^(home|cabin)$/ '
                              'AND time >= 1000ms and time <= 3601000ms '
                              'GROUP BY time(5s) fill(none)')
        self.assertEqual(grafana_interval_ms(0, 24 * 3600 * 1000), 120000)
        self.assertEqual(grafana_interval_ms(0, 3600 * 1000, "1h"), 3600000)
        self.assertEqual(duration_ms("7d"), 7 * 86400000)
        self.assertEqual(regex_escape("a.b/c"), "a\\.b\\/c")


if __name__ == "__main__":
    unittest.main(verbosity=2)
