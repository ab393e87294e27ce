#!/usr/bin/env python3
"""test_admin.py - every stage's admin endpoint, against the running pipeline.

/health is open; every other route needs ADMIN_TOKEN as a Bearer token or an
X-API-Key header; /config masks secrets to their last 4 characters and no
secret ever reaches the logs.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ADMIN_TOKEN = "admin-token-0123456789-WXYZ"
INFLUX_PASSWORD = "influx-password-secret-9876"


def check_stage(pipe, name, secrets):
    st = pipe.stages[name]
    status, _, body = st.get("/health", token="")
    assert status == 200, "%s /health without token: %s %s" % (name, status, body)
    health = json.loads(body)
    assert health["status"] in ("ok", "degraded"), health
    assert "dependencies" in health, health

    for path in ("/stats", "/metrics", "/config", "/events/recent"):
        status, headers, body = st.get(path, token="")
        assert status == 401, "%s %s without token: %s" % (name, path, status)
        err = json.loads(body)
        assert err["detail"]["code"] == "UNAUTHORIZED", err
        status, _, _ = st.get(path, token="wrong-token")
        assert status == 401, "%s %s with a wrong token: %s" % (name, path, status)
        status, _, _ = st.get(path, token="", headers={"X-API-Key": ADMIN_TOKEN})
        assert status == 200, "%s %s with X-API-Key: %s" % (name, path, status)

    stats = st.json("/stats")
    for key in ("events_in_total", "events_out_total", "errors_total", "dlq_total", "breakers"):
        assert key in stats, "%s /stats lacks %s: %r" % (name, key, stats)
    assert stats["events_out_total"] > 0, "%s handled no events: %r" % (name, stats)

    status, headers, body = st.get("/metrics")
    text = body.decode()
    assert status == 200 and "homestream_" in text, text[:300]
    ctype = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    assert ctype.startswith("text/plain"), ctype
    for line in text.splitlines():
        if line and not line.startswith("#"):
            metric, value = line.rsplit(" ", 1)
            float(value)

    recent = st.json("/events/recent?limit=5")
    assert isinstance(recent, list) and 0 < len(recent) <= 5, recent
    if name == "writer":
        # A written point: its entity, where it was read and the line sent.
        for point in recent:
            assert set(point) == {"entity_id", "partition", "offset", "line"}, point
            assert isinstance(point["entity_id"], str), point
            assert isinstance(point["partition"], int) and point["partition"] >= 0, point
            assert isinstance(point["offset"], int) and point["offset"] >= 0, point
            assert isinstance(point["line"], str) and " " in point["line"], point
    status, _, body = st.get("/events/recent?limit=abc")
    assert status == 400, "bad limit: %s" % status

    status, _, body = st.get("/no/such/route")
    assert status == 404 and json.loads(body)["detail"]["code"] == "NOT_FOUND", body

    cfg = st.json("/config")
    assert cfg["ADMIN_TOKEN"] == "****" + ADMIN_TOKEN[-4:], cfg["ADMIN_TOKEN"]
    for var, secret in secrets.items():
        assert cfg[var] == "****" + secret[-4:], "%s %s not masked: %r" % (name, var, cfg[var])
    text = json.dumps(cfg)
    for secret in list(secrets.values()) + [ADMIN_TOKEN]:
        assert secret not in text, "%s /config leaks a secret" % name
    return st


def test_admin_endpoints():
    pipe = harness.Pipeline("admin", events=300, rate=0, entities=20,
                            admin_token=ADMIN_TOKEN,
                            stage_env={"writer": {"INFLUX_USER": "homestream",
                                                  "INFLUX_PASSWORD": INFLUX_PASSWORD}})
    try:
        pipe.start()
        pipe.hasim.wait_done(timeout=60)
        harness.wait_until(lambda: pipe.stages["writer"].json("/stats")["events_out_total"] > 0,
                           60, "the writer to write")
        secrets = {
            "ingestor": {"HA_TOKEN": pipe.ha_token},
            "enricher": {},
            "writer": {"INFLUX_PASSWORD": INFLUX_PASSWORD},
        }
        for name in ("ingestor", "enricher", "writer"):
            check_stage(pipe, name, secrets[name])
        pipe.stop()
        for name, st in pipe.stages.items():
            logs = st.proc.read_out()
            with open(st.proc.err_path, "rb") as f:
                logs += f.read().decode("utf-8", "replace")
            for secret in [ADMIN_TOKEN, INFLUX_PASSWORD, pipe.ha_token]:
                assert secret not in logs, "%s logged a secret" % name
    except BaseException:
        print(pipe.report(), file=sys.stderr)
        raise
    finally:
        pipe.stop()
        pipe.cleanup()


if __name__ == "__main__":
    harness.run_test(test_admin_endpoints)
