#!/usr/bin/env python3
"""test_writer_faults.py - homestream-writer against a misbehaving InfluxDB.

Starts the dev broker, fake_influx.py and the real writer; puts synthetic
enriched events on the topic with homestream-writer-produce; scripts the
fake's answers (503/429 with Retry-After, 401, 413, slow answers, a 1.x
partial write) and checks what landed, what went to the DLQ, what /health
and /stats say, that offsets were committed only for what landed, and that
--replay-dlq brings rejected points back once the cause is gone.
Stdlib only.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402

ENTITIES = 50


class Fake:
    def __init__(self, workdir):
        self.proc = harness.Proc("fake_influx", [sys.executable, os.path.join(HERE, "fake_influx.py")],
                                 {}, workdir)
        self.url = None

    def start(self):
        self.proc.start()
        self.url = "http://127.0.0.1:%s" % self.proc.wait_line("PORT=")
        return self

    def script(self, steps=(), reject=None, max_body=None):
        st, _, body = harness.http("POST", self.url + "/_script",
                                   {"steps": list(steps), "reject": reject, "max_body": max_body})
        assert st == 200, body

    def lines(self):
        return json.loads(harness.http("GET", self.url + "/_points")[2])["lines"]

    def requests(self):
        return json.loads(harness.http("GET", self.url + "/_requests")[2])

    def stop(self):
        return self.proc.stop()


class WriterFaults(unittest.TestCase):
    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="hs-writer-faults-")
        self.procs = []
        self.broker = harness.DevBroker(self.workdir).start()
        self.procs.append(self.broker.proc)
        self.fake = Fake(self.workdir).start()
        self.procs.append(self.fake.proc)
        self.writer = None

    def tearDown(self):
        result = getattr(self._outcome, "result", None)
        failed = result is not None and any(
            t is self for t, _ in list(result.failures) + list(result.errors))
        if failed:
            sys.stderr.write("work directory: %s\n" % self.workdir)
        for p in reversed(self.procs):
            if failed:
                sys.stderr.write(p.tail(30) + "\n")
            p.stop()
        sanitizer = []
        for name in os.listdir(self.workdir):
            if name.startswith("writer") and name.endswith(".err"):
                with open(os.path.join(self.workdir, name), "rb") as f:
                    text = f.read().decode("utf-8", "replace")
                if "Sanitizer" in text or "runtime error:" in text:
                    sanitizer.append(text[-4000:])
        if not failed and not sanitizer:
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.assertEqual(sanitizer, [], "sanitizer reports in the writer's stderr")

    def start_writer(self, **env):
        e = {"KAFKA_BROKERS": self.broker.bootstrap, "INFLUX_URL": self.fake.url,
             "INFLUX_API_VERSION": "1", "INFLUX_DB": "homeassistant", "LOG_LEVEL": "info",
             "LOG_FORMAT": "text"}
        e.update({k: str(v) for k, v in env.items()})
        w = harness.Stage("writer", e, self.workdir)
        w.start()
        self.procs.append(w.proc)
        self.writer = w
        return w

    def produce(self, n):
        r = subprocess.run([harness.binary("writer/homestream-writer-produce"),
                            self.broker.bootstrap, "ha.events.enriched", "--generate", str(n),
                            str(ENTITIES)], capture_output=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr.decode())

    def stats(self):
        return self.writer.json("/stats")

    def wait_points(self, n, timeout=60):
        return harness.wait_until(lambda: len(self.fake.lines()) >= n and self.fake.lines(),
                                  timeout, "%d points at the fake InfluxDB" % n)

    def wait_idle(self, timeout=30):
        """Until the writer holds nothing and its consumer lag is 0."""
        def idle():
            s = self.stats()
            return s["held_points"] == 0 and s["batch_points"] == 0 and \
                s["consumer_lag_total"] == 0 and s["events_in_total"] > 0
        harness.wait_until(idle, timeout, "the writer to be idle")

    # -- scenarios ------------------------------------------------------------

    def test_retry_after_then_success(self):
        self.fake.script([{"status": 503, "retry_after": "1", "count": 2,
                           "body": '{"error":"overloaded"}'},
                          {"status": 429, "retry_after": "1", "count": 1}])
        self.start_writer()
        self.produce(300)
        t0 = time.monotonic()
        lines = self.wait_points(300)
        self.assertGreaterEqual(time.monotonic() - t0, 2.5, "Retry-After was not honoured")
        self.assertEqual(len(set(lines)), 300)
        s = self.stats()
        self.assertGreaterEqual(s["retries_total"], 3)
        self.assertEqual(s["dlq_total"], 0)
        self.assertEqual(s["points_written_total"], 300)
        statuses = [r["status"] for r in self.fake.requests()]
        self.assertEqual(statuses[:3], [503, 503, 429])
        harness.wait_until(lambda: self.writer.json("/health")["status"] == "ok", 10, "health ok")

    def test_unauthorized_is_unhealthy_and_never_commits(self):
        self.fake.script([{"status": 401, "count": 1000,
                           "body": '{"error":"authorization failed"}'}])
        self.start_writer()
        self.produce(100)
        harness.wait_until(lambda: self.writer.get("/health")[0] == 503, 30, "503 unhealthy")
        health = json.loads(self.writer.get("/health")[2])
        self.assertEqual(health["status"], "unhealthy")
        self.assertEqual(health["dependencies"]["influxdb"]["last_status"], 401)
        # nothing landed, nothing committed: a restarted writer reads it all again
        self.assertEqual(self.fake.lines(), [])
        self.assertEqual(self.writer.stop(), 0)
        self.procs.remove(self.writer.proc)
        self.fake.script([])
        self.start_writer()
        lines = self.wait_points(100)
        self.assertEqual(len(set(lines)), 100)
        self.assertEqual(self.stats()["events_in_total"], 100)

    def test_partial_write_goes_to_dlq_and_replays(self):
        # entity index 5 is sensor.temperature_5: InfluxDB refuses its points
        self.fake.script([], reject="entity_id=temperature_5,")
        self.start_writer()
        self.produce(500)  # 10 events of each of 50 entities
        self.wait_points(490)
        harness.wait_until(lambda: self.stats()["dlq_total"] == 10, 30, "10 DLQ records")
        lines = self.fake.lines()
        self.assertFalse(any("entity_id=temperature_5," in l for l in lines))
        self.assertEqual(len(set(lines)), 490)
        s = self.stats()
        self.assertEqual(s["rejected_total"], 10)
        self.assertGreater(s["splits_total"], 0)
        # the cause is fixed: --replay-dlq re-drives the ten, the writer writes them
        self.fake.script([])
        env = dict(os.environ)
        env.update({"KAFKA_BROKERS": self.broker.bootstrap, "INFLUX_API_VERSION": "1",
                    "LOG_FORMAT": "text"})
        r = subprocess.run([harness.binary("writer/homestream-writer"), "--replay-dlq"],
                           capture_output=True, env=env, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr.decode() + r.stdout.decode())
        summary = json.loads(r.stdout.decode().strip().splitlines()[-1])
        self.assertEqual(summary["replayed"], 10, summary)
        harness.wait_until(
            lambda: sum("entity_id=temperature_5," in l for l in self.fake.lines()) == 10,
            30, "the replayed points")
        # a second replay finds nothing new
        r = subprocess.run([harness.binary("writer/homestream-writer"), "--replay-dlq"],
                           capture_output=True, env=env, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(json.loads(r.stdout.decode().strip().splitlines()[-1])["replayed"], 0)

    def test_too_large_splits(self):
        self.fake.script([], max_body=4000)  # a few points per request at most
        self.start_writer(BATCH_MAX_POINTS=1000)
        self.produce(200)
        lines = self.wait_points(200)
        self.assertEqual(len(set(lines)), 200)
        self.assertEqual(self.stats()["dlq_total"], 0)
        self.assertIn(413, [r["status"] for r in self.fake.requests()])

    def test_slow_answers_time_out_and_retry(self):
        self.fake.script([{"status": 204, "delay": 3.0, "count": 1}])
        self.start_writer(INFLUX_TIMEOUT_MS=500)
        self.produce(50)
        lines = self.wait_points(50)
        self.assertEqual(len(set(lines)), 50)
        s = self.stats()
        self.assertGreaterEqual(s["retries_total"], 1)

    def test_gzip_and_commit_on_restart(self):
        self.start_writer(INFLUX_GZIP="true")
        self.produce(400)
        lines = self.wait_points(400)
        self.assertEqual(len(set(lines)), 400)
        self.assertTrue(all(r["gzip"] for r in self.fake.requests()))
        self.wait_idle()
        time.sleep(1.5)  # one auto-commit interval
        self.assertEqual(self.writer.stop(), 0)
        self.procs.remove(self.writer.proc)
        before = len(self.fake.requests())
        self.start_writer()
        time.sleep(5)
        self.assertEqual(self.stats()["events_in_total"], 0, "committed offsets were re-read")
        self.assertEqual(len(self.fake.requests()), before)

    def test_stops_within_5s_while_influx_hangs(self):
        self.fake.script([{"status": 204, "delay": 8.0, "count": 1000}])
        self.start_writer()
        self.produce(50)
        harness.wait_until(lambda: self.stats()["held_points"] > 0, 30, "a write in flight")
        time.sleep(0.5)
        t0 = time.monotonic()
        self.assertEqual(self.writer.stop(), 0)
        self.assertLess(time.monotonic() - t0, 5.0, "shutdown took too long")
        self.procs.remove(self.writer.proc)
        # what was in flight was not committed: a new writer writes it
        self.fake.script([])
        self.start_writer()
        lines = self.wait_points(50)
        self.assertEqual(len(set(lines)), 50)

    def test_v2_token_and_v1_basic_auth(self):
        self.start_writer(INFLUX_API_VERSION=2, INFLUX_ORG="my org", INFLUX_BUCKET="ha",
                          INFLUX_TOKEN="tok-123456")
        self.produce(20)
        self.wait_points(20)
        r = self.fake.requests()[0]
        self.assertEqual(r["path"], "/api/v2/write?org=my%20org&bucket=ha&precision=ns")
        self.assertEqual(r["auth"], "Token tok-123456")
        self.assertNotIn("tok-123456", json.dumps(self.writer.json("/config")))
        self.assertEqual(self.writer.stop(), 0)
        self.procs.remove(self.writer.proc)
        self.fake.script([])
        harness.http("POST", self.fake.url + "/_reset", b"")
        self.start_writer(KAFKA_GROUP="second", INFLUX_USER="u", INFLUX_PASSWORD="p@ss")
        self.wait_points(20)
        r = self.fake.requests()[0]
        self.assertEqual(r["path"], "/write?db=homeassistant&precision=ns")
        self.assertEqual(r["auth"], "Basic dTpwQHNz")  # base64("u:p@ss")

    def test_breaker_opens_and_pauses(self):
        self.fake.script([{"status": 500, "count": 6, "body": '{"error":"timeout"}'}])
        self.start_writer()
        self.produce(100)
        harness.wait_until(
            lambda: self.stats()["breakers"]["influxdb"]["state"] in ("open", "half_open"),
            30, "the breaker to open")
        harness.wait_until(lambda: self.stats()["paused"], 10, "partitions paused")
        self.assertEqual(self.writer.json("/health")["status"], "degraded")
        lines = self.wait_points(100, timeout=120)
        self.assertEqual(len(set(lines)), 100)
        harness.wait_until(lambda: not self.stats()["paused"], 10, "partitions resumed")


if __name__ == "__main__":
    unittest.main(verbosity=2)
