"""test_hostile.py - malformed and adversarial input against the real stages.

    python3 tests/hostile/test_hostile.py kafka|admin|ingestor   (HS_BUILD_DIR=build)

kafka: devbroker, influxd, the enricher and the writer run for real; every
case below is produced straight onto ha.events.raw or ha.events.enriched
with tests/hostile/hostile-kafka. Each case must end exactly one way, and
never silently: stored in InfluxDB as it should be, or in ha.events.dlq with
a reason (from the stage the case names), or counted as skipped by the
writer. The stages' counters must agree with what arrived, and every stage
must still be healthy and stop cleanly at the end.

The decisions this test pins:
  - Bytes that are not JSON, JSON that is not a schema-1 message, and
    messages the enricher cannot time go to the DLQ from the enricher; a
    message the writer cannot map (or InfluxDB refuses for good) from the
    writer. Invalid UTF-8 reaches the DLQ as payload_base64, byte for byte.
  - A NUL escaped in JSON ("\\u0000") is text HA can send: it is carried
    through and stored as U+FFFD (the writer's encoder replaces it), not
    dead-lettered half way.
  - A message too big for Kafka after enrichment (over 1 MB, librdkafka's
    and Kafka's default message.max.bytes) goes to the DLQ from the
    enricher with the reason, its payload cut to fit (as the ingestor does):
    a record that cannot be written anywhere must still leave a trace that a
    consumer of the DLQ sees, not only a log line.
  - Strings meant to break line protocol (quotes, commas, '=', spaces,
    newlines, backslashes, '#') are stored as they were sent (newlines in
    tag values as the two characters \\n, and in a measurement a backslash
    before ',', '"', space or '=' as U+29F5, which influxd 1.6 would
    otherwise store where no query finds it; as documented by the writer).
  - Numbers JSON can carry but a double cannot (1e400, 20-digit integers)
    and NaN/Infinity literals are not JSON to jansson: DLQ, not a crash.

ingestor: hasim serves a state with 10 MB of attributes among ordinary
entities. It cannot travel through Kafka (1 MB), so the ingestor sends it to
the DLQ with the reason and the payload cut; the other entities land. (10 MB
produced straight onto a topic is not tested: a real broker refuses it and
the devbroker acks it but keeps only 5 MiB per partition, so no stage ever
sees it.)

admin: the three stages' admin endpoints (ADMIN_TOKEN set) get wrong
methods, bad and oversized PUT /config bodies, path tricks, very long URLs
and headers, odd query strings and broken HTTP. Every answer must be a 4xx
with the JSON error shape (or the real answer where the request is in fact
valid), no path trick may reach a protected route without the token, the
configuration must not change on a refused PUT, slow clients must not make
/health unreachable, and each stage must still answer /health and exit 0
on SIGTERM.

Exit status 0 when every check passed; otherwise every failed check is
listed on stderr and the exit status is 1.
"""
import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import harness  # noqa: E402

DB = "homeassistant"
LU = "2026-11-21T22:48:38.123456+00:00"
LU_NS = 1795301318123456000
MB = 1024 * 1024


class Checks:
    """Collects failed checks so one failure does not hide the others."""

    def __init__(self):
        self.failed = []
        self.passed = 0

    def ok(self, cond, what):
        if cond:
            self.passed += 1
        else:
            self.failed.append(what)
            print("FAIL: " + what, file=sys.stderr)
        return cond


# ---------------------------------------------------------------- messages --

def raw_msg(n, state="1", attrs=None, **over):
    """A schema-1 raw message for entity sensor.hostile_<n>."""
    oid = "hostile_%s" % n
    msg = {"schema": 1, "site": "home", "event_type": "state_changed", "origin": "LOCAL",
           "entity_id": "sensor." + oid, "domain": "sensor", "object_id": oid,
           "time_fired": LU,
           "new_state": {"entity_id": "sensor." + oid, "state": state,
                         "attributes": attrs if attrs is not None else {},
                         "last_changed": LU, "last_updated": LU},
           "old_state": None, "context": {"id": "ctx-" + oid}, "area": None, "device": None,
           "ingested_at": LU, "backfill": False}
    msg.update(over)
    return msg


def enriched_msg(n, state="1", attrs=None, **over):
    """The writer's input: a raw message plus what the enricher adds."""
    msg = raw_msg(n, state, attrs)
    msg.update({"time_ns": LU_NS, "value": None, "unit": None, "device_class": None,
                "presence": None, "weather": None})
    msg.update(over)
    return msg


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


INJECT = 'x" y=1\nm2,t=1 z=2 1\n#c ,=\\ "q"'


class Case:
    """One hostile input and the only outcome accepted for it.

    fate: "land" (check(points) must pass), "dlq:<stage>", "skip", or
    "land|dlq" (either, never lost). marker: a unique text inside the
    payload that identifies its DLQ record."""

    def __init__(self, name, topic, payload, fate, marker=None, check=None, reason=None):
        self.name = name
        self.topic = topic
        self.payload = payload
        self.fate = fate
        self.marker = (marker if marker is not None else name).encode()
        self.check = check
        self.reason = reason


def cases():
    out = []

    def add(*a, **kw):
        out.append(Case(*a, **kw))

    # --- straight onto ha.events.raw (enricher, then writer) ---------------
    hostile_attrs = {"friendly_name": INJECT, "a b,c=d": INJECT, "=": "eq", "#x": "hash",
                     "line\nbreak": "k", "quote\"key": 1.5, "unicode_\u2603": "\u00e9\u2603\U0001F600"}

    def check_r01(points):
        fields = points[0]["fields"]
        tags = points[0]["tags"]
        return (points[0]["measurement"] == "sensor.hostile_r01"
                and fields.get("state") == INJECT
                and fields.get("friendly_name_str") == INJECT
                and fields.get("a b,c=d_str") == INJECT
                and fields.get("=_str") == "eq"
                and fields.get("#x_str") == "hash"
                and fields.get("line\\nbreak_str") == "k"
                and fields.get("quote\"key") == 1.5
                and fields.get("unicode_\u2603_str") == "\u00e9\u2603\U0001F600"
                and tags.get("area") == INJECT.replace("\n", "\\n")
                and tags.get("site") == "home"
                and points[0]["time"] == LU_NS), "point %r" % points[0]
    add("r01", "raw", dumps(raw_msg("r01", INJECT, hostile_attrs, area=INJECT)), "land",
        check=check_r01)

    def check_r02(points):
        f = points[0]["fields"]
        return (f.get("value") == 1e308 and f.get("big") == 1e308 and f.get("tiny") == 5e-324
                and f.get("neg") == 0 and float(f.get("i64")) == 9223372036854775807.0), f
    add("r02", "raw", dumps(raw_msg("r02", "1e308", {"big": 1e308, "tiny": 5e-324, "neg": -0.0,
                                                      "i64": 9223372036854775807})),
        "land", check=check_r02)
    add("r03", "raw", dumps(raw_msg("r03")).replace(b'"attributes":{}',
                                                     b'"attributes":{"n":123456789012345678901234567890}'),
        "land|dlq")
    add("r04", "raw", dumps(raw_msg("r04")).replace(b'"attributes":{}', b'"attributes":{"n":NaN}'),
        "dlq:enricher", reason="JSON")
    add("r05", "raw", dumps(raw_msg("r05")).replace(b'"attributes":{}',
                                                     b'"attributes":{"n":-Infinity}'),
        "dlq:enricher", reason="JSON")
    add("r06", "raw", dumps(raw_msg("r06"))[:120], "dlq:enricher", reason="JSON")
    add("r07", "raw", dumps(raw_msg("r07", schema=2)), "dlq:enricher", reason="schema")
    add("r08", "raw", dumps(raw_msg("r08", schema="1")), "dlq:enricher", reason="schema")
    add("r09", "raw", dumps(raw_msg("r09", entity_id=9)), "dlq:enricher")
    add("r10", "raw", dumps(raw_msg("r10", new_state="on")), "dlq:enricher")
    add("r11", "raw", b'{"marker":"r11","deep":' + b"[" * 5000 + b"]" * 5000 + b"}",
        "dlq:enricher", reason="JSON")
    deep = json.loads("[" * 400 + "]" * 400)
    add("r12", "raw", dumps(raw_msg("r12", "x", {"deep": deep})), "land",
        check=lambda p: (p[0]["fields"].get("deep_str", "").startswith("[[[["), p[0]["fields"]))
    add("r13", "raw", dumps(raw_msg("r13", "x")).replace(b'"state":"x"', b'"state":"\xff\xfe\xc0\xaf"'),
        "dlq:enricher", reason="JSON")
    add("r14", "raw", dumps(raw_msg("r14", "x")).replace(b'"state":"x"', b'"state":"a\x00b"'),
        "dlq:enricher", reason="JSON")
    add("r15", "raw", dumps(raw_msg("r15", "a\u0000b")), "land",
        check=lambda p: (p[0]["fields"].get("state") == "a\ufffdb", p[0]["fields"]))
    add("r16", "raw", b"", "dlq:enricher", marker="")
    add("r17", "raw", dumps(raw_msg("r17")).replace(LU.encode(), b"yesterday"), "dlq:enricher",
        reason="time")
    big_attr = "r18:" + "y" * (3 * MB // 2)
    add("r18", "raw", dumps(raw_msg("r18", "1", {"blob": big_attr})), "dlq:enricher")
    add("r19", "raw", dumps({"schema": 1, "site": "home", "event_type": "call_service",
                             "time_fired": LU, "data": {"x": INJECT, "m": "r19"}}), "skip")
    add("r20", "raw", dumps(raw_msg("r20", new_state=None)), "skip")
    add("r21", "raw", dumps(raw_msg("r21")).replace(b'"schema":1,', b'"schema":1,"schema":1,'),
        "dlq:enricher")
    add("r22", "raw", dumps(raw_msg("r22", "5", {"time": "12:00"})), "land|dlq")
    add("r23", "raw", dumps(raw_msg("r23", "5", {"unit_of_measurement": "\t#x"})), "land|dlq")
    add("r24", "raw", dumps(raw_msg("r24", "5", {"a\\,b": 1, "c\\ d": 2, "e\\=f": 3})),
        "land|dlq")
    add("r25", "raw", dumps(raw_msg("r25")).replace(LU.encode(), b"9999-12-31T23:59:59+00:00"),
        "dlq:enricher", reason="time")

    def check_r26(points):
        return points[0]["time"] == -2208988800000000000, points[0]["time"]
    add("r26", "raw", dumps(raw_msg("r26")).replace(LU.encode(), b"1900-01-01T00:00:00+00:00"),
        "land", check=check_r26)
    add("r27", "raw", b"\x00\x01\x02r27\xff not json at all", "dlq:enricher", reason="JSON")
    add("r28", "raw", dumps(["r28", 1, None]), "dlq:enricher")

    # --- straight onto ha.events.enriched (writer) -------------------------
    unit = 'u,n i=t "\\x'

    def check_e01(points):
        p = points[0]
        return (p["measurement"] == unit and p["fields"].get("value") == 21.5
                and p["fields"].get("note_str") == INJECT
                and p["tags"].get("site") == "s,i t=e"), p
    add("e01", "enriched", dumps(enriched_msg("e01", "21.5", {"note": INJECT}, value=21.5,
                                              unit=unit, site="s,i t=e")), "land",
        check=check_e01)
    add("e02", "enriched", b'{"e02": tru', "dlq:writer")
    add("e03", "enriched", dumps(enriched_msg("e03", 5)), "dlq:writer", reason="state")
    add("e04", "enriched", dumps(enriched_msg("e04", time_ns=None, time_fired=None,
                                              new_state={"state": "1"})), "dlq:writer",
        reason="time")
    add("e05", "enriched", dumps(enriched_msg("e05", time_ns=9223372036854775807)), "dlq:writer")
    add("e06", "enriched", dumps(enriched_msg("e06", "NaN", value="NaN")), "land",
        check=lambda p: (p[0]["fields"].get("state") == "NaN", p[0]["fields"]))
    add("e07", "enriched", dumps(enriched_msg("e07", "x")).replace(b'"state":"x"', b'"state":"\xed\xa0\x80"'),
        "dlq:writer")
    blob = "e08:" + "z" * (3 * MB // 4)
    add("e08", "enriched", dumps(enriched_msg("e08", "1", {"blob": blob})), "land",
        check=lambda p: (p[0]["fields"].get("blob_str") == blob, "blob of %d bytes" % len(
            p[0]["fields"].get("blob_str") or "")))
    add("e09", "enriched", dumps(enriched_msg("e09", schema=99)), "land|dlq")
    add("e10", "enriched", b'{"m":"e10","x":' + b"{\"a\":" * 3000 + b"1" + b"}" * 3000 + b"}",
        "dlq:writer")
    add("e11", "enriched", b"null", "dlq:writer", marker="")
    add("e12", "enriched", dumps(enriched_msg("e12", "a\u0000b", {"k\u0000": "v\u0000"})),
        "land", check=lambda p: (p[0]["fields"].get("state") == "a\ufffdb"
                                 and p[0]["fields"].get("k\ufffd_str") == "v\ufffd",
                                 p[0]["fields"]))
    # influxd unescapes a measurement twice: a backslash before , " space or
    # = would be dropped and the points unreachable, so it is replaced.
    unit13 = 'a\\,b\\ c\\=d\\"e\\f'
    stored13 = 'a\u29f5,b\u29f5 c\u29f5=d\u29f5"e\\f'
    add("e13", "enriched", dumps(enriched_msg("e13", "2", value=2.0, unit=unit13)), "land",
        check=lambda p: (p[0]["measurement"] == stored13, p[0]["measurement"]))
    return out


# ------------------------------------------------------------------ helpers --

def hostile_kafka():
    return harness.binary("tests/hostile/hostile-kafka")


def produce(bootstrap, topic, files):
    r = subprocess.run([hostile_kafka(), "produce", bootstrap, topic] + files,
                       capture_output=True, timeout=120)
    results = {}
    for line in r.stdout.decode("utf-8", "replace").splitlines():
        parts = line.split(" ", 2)
        results[parts[1]] = parts[0] == "DELIVERED"
    return results


def consume(bootstrap, topic, count, idle_ms=4000):
    r = subprocess.run([hostile_kafka(), "consume", bootstrap, topic, str(count), str(idle_ms)],
                       capture_output=True, timeout=180)
    # One message per line: str.splitlines() would also split at U+2028 and the
    # other line breaks a payload may hold.
    return [json.loads(line) for line in r.stdout.decode().split("\n") if line.strip()]


def message_bytes(m):
    if "payload" in m:
        return m["payload"].encode()
    return base64.b64decode(m["payload_b64"])


def dlq_original(record):
    """The original bytes a DLQ record carries."""
    if "payload" in record:
        return record["payload"].encode()
    if "payload_base64" in record:
        return base64.b64decode(record["payload_base64"])
    return b""


def points_of(influx, oid):
    """Every point stored with tag entity_id=oid, in any measurement."""
    q = "SELECT * FROM /.*/ WHERE \"entity_id\" = '%s'" % oid
    pts = []
    for res in influx.query(q, DB).get("results", []):
        for s in res.get("series", []) or []:
            tagkeys = {"area", "domain", "entity_id", "site", "device_class", "event_type",
                       "provider"}
            for row in s.get("values", []):
                rec = dict(zip(s["columns"], row))
                tags = {k: v for k, v in rec.items() if k in tagkeys and v is not None}
                fields = {k: v for k, v in rec.items()
                          if k not in tagkeys and k != "time" and v is not None}
                pts.append({"measurement": s["name"], "tags": tags, "fields": fields,
                            "time": rec["time"]})
    return pts


def wait_stable(stages, keys, timeout=90, quiet=4.0):
    """Waits until the named counters of every stage stop moving."""
    last, since = None, time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snap = []
        for st in stages:
            s = st.json("/stats")
            snap.append(tuple(s.get(k) for k in keys))
        if snap != last:
            last, since = snap, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.5)


# ---------------------------------------------------------------- kafka test --

def test_kafka(c):
    workdir = tempfile.mkdtemp(prefix="hs-hostile-")
    token = "hostile-admin-token-1234"
    influx = harness.Influxd(workdir)
    broker = harness.DevBroker(workdir)
    stages = {}
    procs = []
    try:
        influx.start()
        procs.append(influx.proc)
        influx.query("CREATE DATABASE %s" % DB)
        broker.start()
        procs.append(broker.proc)
        # The message accounting below is exact, so the stages' own periodic
        # stats records stay off here (the pipeline test covers them).
        common = {"KAFKA_BROKERS": broker.bootstrap, "SITE": "home", "LOG_LEVEL": "info",
                  "STATS_INTERVAL_S": "0"}
        envs = {"writer": {"INFLUX_URL": influx.url, "INFLUX_API_VERSION": "1", "INFLUX_DB": DB,
                           "FLUSH_INTERVAL_MS": "200"},
                "enricher": {"WEATHER_PROVIDER": "none"}}
        for name in ("writer", "enricher"):
            env = dict(common)
            env.update(envs[name])
            stages[name] = harness.Stage(name, env, workdir, token).start()
            procs.append(stages[name].proc)

        all_cases = cases()
        files = {"raw": [], "enriched": []}
        for cs in all_cases:
            path = os.path.join(workdir, "case-" + cs.name)
            with open(path, "wb") as f:
                f.write(cs.payload)
            cs.path = path
            files[cs.topic].append(path)
        delivered = {}
        delivered.update(produce(broker.bootstrap, "ha.events.raw", files["raw"]))
        delivered.update(produce(broker.bootstrap, "ha.events.enriched", files["enriched"]))
        for cs in all_cases:
            c.ok(delivered.get(cs.path), "%s: hostile-kafka could not produce it" % cs.name)

        n_raw = len(files["raw"])
        harness.wait_until(lambda: stages["enricher"].json("/stats").get("events_in_total", 0)
                           >= n_raw, 60, "the enricher to read every raw case")
        wait_stable([stages["enricher"], stages["writer"]],
                    ["events_in_total", "events_out_total", "dlq_total", "points_written_total",
                     "skipped_total"])

        dlq = consume(broker.bootstrap, "ha.events.dlq", 10000)
        records = []
        for m in dlq:
            try:
                records.append(json.loads(message_bytes(m)))
            except ValueError:
                c.ok(False, "a DLQ message is not JSON: %r" % message_bytes(m)[:200])
        for r in records:
            c.ok(isinstance(r.get("error"), str) and r["error"] != "" and r.get("stage")
                 in ("enricher", "writer") and isinstance(r.get("at"), str),
                 "DLQ record without stage/error/at: %r" % {k: r.get(k) for k in
                                                             ("stage", "error", "at")})

        enr_stats = stages["enricher"].json("/stats")
        wr_stats = stages["writer"].json("/stats")
        skipped_expected = 0
        for cs in all_cases:
            oid = "hostile_" + cs.name
            mine = []
            for r in records:
                orig = dlq_original(r)
                if cs.marker == b"":
                    if orig == cs.payload:
                        mine.append(r)
                elif cs.marker in orig and (cs.topic == "enriched" or
                                            r.get("stage") == "enricher" or
                                            b"sensor." + oid.encode() in orig):
                    mine.append(r)
            pts = points_of(influx, oid)
            fates = []
            if pts:
                fates.append("land")
            fates += ["dlq:" + r.get("stage", "?") for r in mine]
            want = cs.fate
            if want == "skip":
                skipped_expected += 1
                c.ok(not fates, "%s: expected a skip, got %s" % (cs.name, fates))
                continue
            if want == "land|dlq":
                c.ok(len(fates) == 1, "%s: expected stored or dead-lettered once, got %s"
                     % (cs.name, fates or "nothing: lost silently"))
            else:
                c.ok(fates == [want], "%s: expected %s, got %s %s" % (
                    cs.name, want, fates or "nothing: lost silently",
                    [r.get("error") for r in mine]))
            if "land" in fates and cs.check is not None and len(pts) == 1:
                good, detail = cs.check(pts)
                c.ok(good, "%s: stored wrongly: %s" % (cs.name, str(detail)[:600]))
            if "land" in fates:
                c.ok(len(pts) == 1, "%s: %d points stored" % (cs.name, len(pts)))
            for r in mine:
                orig = dlq_original(r)
                if r.get("stage") == "enricher" or cs.topic == "enriched":
                    c.ok(orig == cs.payload or (len(cs.payload) > MB and
                                                cs.payload.startswith(orig[:1000])),
                         "%s: the DLQ payload is not the message as sent" % cs.name)
                if cs.reason:
                    c.ok(cs.reason.lower() in r.get("error", "").lower(),
                         "%s: DLQ reason %r does not mention %r" % (cs.name, r.get("error"),
                                                                   cs.reason))

        # The counters say what happened.
        by_stage = {"enricher": 0, "writer": 0}
        for r in records:
            by_stage[r.get("stage")] = by_stage.get(r.get("stage"), 0) + 1
        c.ok(enr_stats.get("dlq_total") == by_stage["enricher"],
             "enricher dlq_total %s, %d records in the DLQ" % (enr_stats.get("dlq_total"),
                                                               by_stage["enricher"]))
        c.ok(wr_stats.get("dlq_total") == by_stage["writer"],
             "writer dlq_total %s, %d records in the DLQ" % (wr_stats.get("dlq_total"),
                                                             by_stage["writer"]))
        c.ok(enr_stats.get("events_in_total") == n_raw,
             "enricher read %s messages, %d were produced" % (enr_stats.get("events_in_total"),
                                                             n_raw))
        c.ok(enr_stats.get("events_in_total") == enr_stats.get("events_out_total", 0)
             + enr_stats.get("dlq_total", 0),
             "enricher: in %s != out %s + dlq %s" % (enr_stats.get("events_in_total"),
                                                     enr_stats.get("events_out_total"),
                                                     enr_stats.get("dlq_total")))
        c.ok(wr_stats.get("skipped_total", 0) >= skipped_expected,
             "writer skipped_total %s, %d skips expected" % (wr_stats.get("skipped_total"),
                                                            skipped_expected))
        from_enricher = (enr_stats.get("events_out_total", 0)
                         + enr_stats.get("presence_records_total", 0)
                         + enr_stats.get("weather_records_total", 0))
        c.ok(wr_stats.get("events_in_total") == len(files["enriched"]) + from_enricher,
             "writer read %s messages, %d enriched + %d from the enricher" % (
                 wr_stats.get("events_in_total"), len(files["enriched"]), from_enricher))

        # Still healthy; clean exit.
        for name, st in stages.items():
            c.ok(st.proc.alive(), "%s died: %s" % (name, st.proc.tail()))
            status, _, _ = st.get("/health")
            c.ok(status == 200, "%s /health answers %s after the hostile input" % (name, status))
        for name in ("enricher", "writer"):
            code = stages[name].stop()
            c.ok(code == 0, "%s exit code %s on SIGTERM" % (name, code))
    finally:
        for p in procs:
            p.stop()
        if c.failed:
            print("\n".join(p.tail(15) for p in procs) + "\nworkdir: " + workdir,
                  file=sys.stderr)
        elif not os.environ.get("HS_KEEP_TMP"):
            subprocess.run(["rm", "-rf", workdir])


# ---------------------------------------------------------------- admin test --

def raw_http(port, data, read_timeout=10.0, chunks=None):
    """Sends raw bytes (then each of chunks) and returns (status or None, body)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=read_timeout)
    try:
        try:
            s.sendall(data)
            for chunk in chunks or ():
                s.sendall(chunk)
        except OSError:
            pass  # the server may answer and close before reading it all
        buf = b""
        try:
            while True:
                got = s.recv(65536)
                if not got:
                    break
                buf += got
                if b"\r\n\r\n" in buf:
                    head, _, rest = buf.partition(b"\r\n\r\n")
                    length = None
                    for line in head.split(b"\r\n")[1:]:
                        k, _, v = line.partition(b":")
                        if k.strip().lower() == b"content-length":
                            length = int(v.strip())
                    if length is not None and len(rest) >= length:
                        break
        except OSError:
            pass
    finally:
        s.close()
    if not buf.startswith(b"HTTP/"):
        return None, buf
    try:
        status = int(buf.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None, buf
    return status, buf.partition(b"\r\n\r\n")[2]


def request(port, method, path, token=None, body=None, headers=None):
    h = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" % (method, path)
    if token:
        h += "Authorization: Bearer %s\r\n" % token
    for k, v in (headers or {}).items():
        h += "%s: %s\r\n" % (k, v)
    data = body or b""
    if body is not None:
        h += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(data)
    return raw_http(port, h.encode("latin-1") + b"\r\n" + data)


def is_error_doc(body):
    try:
        d = json.loads(body)
    except ValueError:
        return False
    return isinstance(d, dict) and isinstance(d.get("detail"), dict) and \
        isinstance(d["detail"].get("code"), str) and isinstance(d["detail"].get("message"), str)


def admin_checks(c, name, st, token):
    port = st.admin_port
    tag = name + ": "

    def expect_4xx(method, path, body=None, headers=None, tok=token, allow=()):
        status, resp = request(port, method, path, tok, body, headers)
        good = status is not None and (400 <= status < 500 or status in allow)
        c.ok(good, tag + "%s %s -> %s (a 4xx expected)" % (method, path[:80], status))
        if good and status is not None and 400 <= status < 500 and method != "HEAD":
            c.ok(is_error_doc(resp), tag + "%s %s -> %s without the JSON error shape: %r"
                 % (method, path[:80], status, resp[:200]))
        return status

    # Positive controls: the routes work with the token.
    for path in ("/health", "/stats", "/metrics", "/config", "/events/recent?limit=5"):
        status, _ = request(port, "GET", path, token)
        c.ok(status in (200, 503) if path == "/health" else status == 200,
             tag + "GET %s -> %s" % (path, status))
    level = json.loads(request(port, "GET", "/config", token)[1]).get("LOG_LEVEL")

    # Wrong methods.
    for method, path in (("POST", "/health"), ("DELETE", "/config"), ("PUT", "/stats"),
                         ("PATCH", "/config"), ("POST", "/events/recent"),
                         ("TRACE", "/health"), ("PUT", "/health")):
        status = expect_4xx(method, path, body=b"{}")
        c.ok(status in (405, 501), tag + "%s %s -> %s (405 expected)" % (method, path, status))

    # Bad PUT /config bodies, and the configuration stays as it was.
    for body in (b"{", b"[]", b"null", b"", b'"LOG_LEVEL"', b'{"LOG_LEVEL":5}',
                 b'{"LOG_LEVEL":"verbose"}', b'{"KAFKA_BROKERS":"evil:1"}',
                 b'{"NO_SUCH_SETTING":"1"}', b'{"LOG_LEVEL":"debug","LOG_LEVEL":"x"}',
                 b'{"LOG_LEVEL":"de\\u0000bug"}', b'\xff\xfe{}', b'{"LOG_LEVEL":null}x',
                 b"[" * 10000 + b"]" * 10000):
        expect_4xx("PUT", "/config", body=body)
    cfg = json.loads(request(port, "GET", "/config", token)[1])
    c.ok(cfg.get("LOG_LEVEL") == level and cfg.get("KAFKA_BROKERS") != "evil:1",
         tag + "a refused PUT /config changed the configuration: %r" % cfg.get("LOG_LEVEL"))
    status, _ = request(port, "PUT", "/config", token, b'{"LOG_LEVEL":"debug"}')
    c.ok(status == 200, tag + "a valid PUT /config -> %s" % status)
    request(port, "PUT", "/config", token, dumps({"LOG_LEVEL": level}))

    # Oversized bodies: declared, and sent without announcing the size.
    status, _ = request(port, "PUT", "/config", token, b'{"LOG_LEVEL":"' + b"a" * (10 * MB) + b'"}')
    c.ok(status is None or status == 413, tag + "10 MB PUT /config -> %s (413 expected)" % status)
    head = ("PUT /config HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" % token).encode()
    chunk = b"%x\r\n%s\r\n" % (MB, b"b" * MB)
    status, _ = raw_http(port, head, chunks=[chunk] * 4 + [b"0\r\n\r\n"])
    c.ok(status is None or status == 413, tag + "4 MB chunked PUT /config -> %s" % status)

    # Path tricks never reach a protected route without the token.
    for path in ("/stats/", "//stats", "/./stats", "/../stats", "/health/../stats",
                 "/%2e%2e/stats", "/%73tats", "/stats%00", "/stats%2f", "/health%2f..%2fstats",
                 "/STATS", "/stats?x=/health", "/health?/stats", "/stats#/health",
                 "/config%00.json", "/events/recent/../../config", "http://127.0.0.1/stats",
                 "*", "/health\\..\\stats", "/%00"):
        for tok in (None, "wrong-token"):
            status, resp = request(port, "GET", path, tok)
            leaked = status == 200 and b'"status"' not in resp[:200]
            c.ok(not leaked and status is not None and status < 500,
                 tag + "GET %s (token %s) -> %s %r" % (path, tok, status, resp[:120]))

    # Long URLs, long headers, odd queries.
    for path in ("/" + "a" * 100000, "/events/recent?limit=1&entity_id=" + "x" * 100000):
        status, _ = request(port, "GET", path, token)
        c.ok(status is None or 400 <= status < 500 or status == 200,
             tag + "GET of a %d-byte URL -> %s" % (len(path), status))
    status, _ = request(port, "GET", "/stats", None, headers={"Authorization": "Bearer " + "t" * 200000})
    c.ok(status is None or 400 <= status < 500, tag + "200 KB Authorization -> %s" % status)
    status, _ = request(port, "GET", "/stats", None, headers={"X-API-Key": token + "\x01"})
    c.ok(status in (400, 401), tag + "a token with a control byte -> %s" % status)
    for q in ("limit=-1", "limit=0", "limit=1001", "limit=99999999999999999999", "limit=abc",
              "limit=1e3", "limit=%00", "limit= 5", "limit=5&limit=6", "entity_id=%00",
              "entity_id=%ff%fe", "entity_id=' OR '1'='1", "entity_id=%22%7D%2C%7B",
              "limit", "=&&=&", "entity_id=a&entity_id=b", "limit=5%0d%0aX-Evil:%201"):
        status, resp = request(port, "GET", "/events/recent?" + q.replace(" ", "%20"), token)
        ok = status == 200 or (status == 400 and is_error_doc(resp))
        if status == 200:
            try:
                ok = isinstance(json.loads(resp), (list, dict))
            except ValueError:
                ok = False
        c.ok(ok, tag + "GET /events/recent?%s -> %s %r" % (q, status, resp[:120]))
    expect_4xx("GET", "/nope")

    # Broken HTTP.
    for data in (b"GARBAGE\r\n\r\n", b"GET /health\r\n\r\n", b"GET /health HTTP/9.9\r\n\r\n",
                 b"GET /health HTTP/1.1\r\n\r\n", b"\x00\x01\x02\x03\r\n\r\n",
                 b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
                 b"PUT /config HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{}"):
        status, _ = raw_http(port, data, read_timeout=5)
        c.ok(status is None or status < 500 or status == 505,
             tag + "%r -> %s" % (data[:30], status))

    # Slow clients must not lock out /health (docker's healthcheck).
    slow = []
    try:
        for _ in range(80):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
                slow.append(s)
            except OSError:
                break
        t0 = time.monotonic()
        try:
            status = harness.http("GET", st.admin + "/health", timeout=5)[0]
        except OSError as exc:
            status = "no answer (%s)" % exc
        c.ok(status in (200, 503), tag + "/health with %d slow clients connected -> %s after %.1f s"
             % (len(slow), status, time.monotonic() - t0))
    finally:
        for s in slow:
            s.close()

    c.ok(st.proc.alive(), tag + "died: " + st.proc.tail())
    status, _, _ = harness.http("GET", st.admin + "/health", timeout=10)
    c.ok(status in (200, 503), tag + "/health -> %s after the hostile requests" % status)


def test_admin(c):
    workdir = tempfile.mkdtemp(prefix="hs-hostile-admin-")
    token = "hostile-admin-token-5678"
    broker = harness.DevBroker(workdir)
    procs = []
    try:
        broker.start()
        procs.append(broker.proc)
        dead = "127.0.0.1:%d" % harness.free_port()
        common = {"KAFKA_BROKERS": broker.bootstrap, "SITE": "home"}
        envs = {"ingestor": {"HA_URL": "ws://%s/api/websocket" % dead, "HA_TOKEN": "t" * 20,
                             "SPOOL_DIR": os.path.join(workdir, "spool")},
                "enricher": {"WEATHER_PROVIDER": "none"},
                "writer": {"INFLUX_URL": "http://" + dead, "INFLUX_API_VERSION": "1",
                           "INFLUX_DB": DB}}
        for name in ("ingestor", "enricher", "writer"):
            env = dict(common)
            env.update(envs[name])
            st = harness.Stage(name, env, workdir, token).start()
            procs.append(st.proc)
            admin_checks(c, name, st, token)
            code = st.stop()
            c.ok(code == 0, "%s: exit code %s on SIGTERM" % (name, code))
    finally:
        for p in procs:
            p.stop()
        if c.failed:
            print("\n".join(p.tail(15) for p in procs) + "\nworkdir: " + workdir,
                  file=sys.stderr)
        elif not os.environ.get("HS_KEEP_TMP"):
            subprocess.run(["rm", "-rf", workdir])


# ------------------------------------------------------------- ingestor test --

def test_ingestor(c):
    """An HA state with 10 MB of attributes (hasim --huge-states-kb) next to
    ordinary entities: the WebSocket client takes the frame, the big event
    cannot fit in a Kafka message, so it reaches the DLQ from the ingestor
    with the reason and its payload cut, and every other entity still lands."""
    entities = 6
    pipe = harness.Pipeline("hostile-ingestor", events=60, rate=0, entities=entities,
                            hasim_extra=("--huge-states-kb", "10240"))
    try:
        pipe.start()
        c.ok(pipe.hasim.wait_done(timeout=120) == 60, "hasim did not send its events")
        want = set()
        for ev in pipe.hasim.generated():
            eid = ev.get("data", {}).get("entity_id", "")
            if eid and eid != "sensor.hasim_large_attributes":
                want.add(eid.split(".", 1)[1])

        def landed():
            got = set()
            res = pipe.influx.query('SHOW TAG VALUES WITH KEY = "entity_id"', DB)
            for r in res.get("results", []):
                for s in r.get("series", []) or []:
                    got.update(v[1] for v in s.get("values", []))
            return got
        try:
            harness.wait_until(lambda: want <= landed(), 120, "every entity in InfluxDB",
                               interval=1)
        except TimeoutError:
            pass
        got = landed()
        c.ok(want <= got, "entities missing from InfluxDB: %s" % sorted(want - got)[:10])
        c.ok("hasim_large_attributes" not in got, "the 10 MB state was stored?")

        bootstrap = pipe.broker.bootstrap
        dlq = [json.loads(message_bytes(m)) for m in consume(bootstrap, "ha.events.dlq", 100)]
        big = [r for r in dlq if b"hasim_large_attributes" in dlq_original(r)]
        c.ok(len(big) == 1 and big[0].get("stage") == "ingestor",
             "the 10 MB state is not in the DLQ once from the ingestor: %r"
             % [(r.get("stage"), r.get("error")) for r in dlq][:5])
        for r in big:
            c.ok(len(dlq_original(r)) < MB, "its DLQ payload is %d bytes" % len(dlq_original(r)))
        ing = pipe.stages["ingestor"].json("/stats")
        c.ok(ing.get("dlq_total", 0) >= 1, "ingestor dlq_total %s" % ing.get("dlq_total"))
        for name, st in pipe.stages.items():
            c.ok(st.proc.alive(), "%s died: %s" % (name, st.proc.tail()))
        codes = pipe.stop()
        c.ok(all(v == 0 for v in codes.values()), "exit codes on SIGTERM: %r" % codes)
    finally:
        pipe.stop()
        if c.failed:
            print(pipe.report(), file=sys.stderr)
        else:
            pipe.cleanup()


def main():
    which = sys.argv[1] if len(sys.argv) > 1 else ""
    tests = {"kafka": test_kafka, "admin": test_admin, "ingestor": test_ingestor}
    if which not in tests:
        print("usage: test_hostile.py kafka|admin|ingestor", file=sys.stderr)
        return 2
    c = Checks()
    try:
        tests[which](c)
    except Exception as exc:  # noqa: BLE001 - reported as a failure
        traceback.print_exc()
        c.ok(False, "%s: %s: %s" % (which, type(exc).__name__, exc))
    print("%s: %d checks passed, %d failed" % (which, c.passed, len(c.failed)))
    if c.failed:
        print("FAILED:\n  " + "\n  ".join(c.failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
