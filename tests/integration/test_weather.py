#!/usr/bin/env python3
"""test_weather.py - weather context never slows or drops an event.

A fake Open-Meteo server feeds the enricher. While hasim streams, the
provider fails (HTTP 500, then garbage, then a 10 s stall): events keep
flowing, carry the last observation with stale: true, and once the
provider answers again fresh weather comes back. At the end every
generated event is in InfluxDB exactly once, and weather has a measurement
of its own.
"""
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import expect  # noqa: E402
import harness  # noqa: E402
import test_pipeline  # noqa: E402

EVENTS = 7500
RATE = 150


def weather_of_latest(enricher):
    """The weather object of the newest enriched state_changed event, or None."""
    for msg in enricher.json("/events/recent?limit=20"):
        if msg.get("event_type") == "state_changed":
            return msg.get("weather")
    return None


def test_weather_outage_keeps_events_flowing():
    fake = subprocess.Popen([sys.executable, os.path.join(HERE, "fake_weather.py"), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    port = int(fake.stdout.readline().strip().split("=", 1)[1])
    base = "http://127.0.0.1:%d" % port

    def control(**kw):
        status, _, _ = harness.http("POST", base + "/control", body=kw)
        assert status == 200, status

    pipe = harness.Pipeline("weather", events=EVENTS, rate=RATE, entities=40, stage_env={
        "enricher": {"WEATHER_PROVIDER": "open-meteo", "WEATHER_URL": base,
                     "WEATHER_LAT": "52.52", "WEATHER_LON": "13.40",
                     "WEATHER_TIMEOUT_S": "2"}})
    try:
        pipe.start()
        enr = pipe.stages["enricher"]

        def put_location(lat):
            status, _, body = harness.http("PUT", enr.admin + "/config",
                                           body={"WEATHER_LAT": str(lat)})
            assert status == 200, (status, body)

        w = harness.wait_until(lambda: weather_of_latest(enr), 30, "weather on events")
        assert w["stale"] is False and w["provider"] == "open-meteo", w
        assert w["temperature"] == 4.5, w

        for i, mode in enumerate(("500", "garbage", "slow")):
            control(mode=mode, delay_s=10)
            out_before = enr.json("/stats")["events_out_total"]
            put_location(52.0 + i / 10)    # a new location is fetched at once
            stale = harness.wait_until(
                lambda: (weather_of_latest(enr) or {}).get("stale") is True and
                weather_of_latest(enr), 30, "stale weather while the provider says %s" % mode)
            assert stale["temperature"] == 4.5, stale
            time.sleep(2)
            out_after = enr.json("/stats")["events_out_total"]
            # hasim streams RATE events/s: a stalled event path would show here.
            assert out_after - out_before >= RATE, \
                "only %d events enriched while the provider said %s" % (out_after - out_before, mode)
        health = enr.json("/health")
        assert health["status"] in ("ok", "degraded"), health

        # Three failures in a row opened the breaker: the next fetch waits for
        # its cool-down (30 s) and then finds the provider well again.
        assert enr.json("/stats")["breakers"]["weather"]["state"] == "open"
        control(mode="ok", temperature=7.25)
        put_location(52.52)
        fresh = harness.wait_until(
            lambda: (weather_of_latest(enr) or {}).get("temperature") == 7.25 and
            weather_of_latest(enr), 60, "fresh weather after the provider recovered")
        assert fresh["stale"] is False, fresh

        pipe.hasim.wait_done(timeout=120)
        want = {expect.point_key(ev): ev for ev in pipe.hasim.generated()
                if expect.point_key(ev) is not None}

        def complete():
            got, _ = test_pipeline.landed(pipe)
            return set(want) <= set(got)
        harness.wait_until(complete, 120, "every event in InfluxDB", interval=1)
        got, dups = test_pipeline.landed(pipe)
        assert not dups, dups[:5]
        missing = set(want) - set(got)
        assert not missing, "%d events missing" % len(missing)
        rows = pipe.influx.series('SELECT "temperature" FROM "weather"', pipe.DB)
        temps = {r["temperature"] for _, _, rs in rows for r in rs}
        assert {4.5, 7.25} <= temps, "weather measurement holds %r" % temps
        stats = enr.json("/stats")
        assert stats["dlq_total"] == 0, stats
        print("%d events landed; weather stale through 500/garbage/stall, fresh after"
              % len(want))
    except BaseException:
        print(pipe.report(), file=sys.stderr)
        raise
    finally:
        pipe.stop()
        pipe.cleanup()
        fake.terminate()
        fake.wait()


if __name__ == "__main__":
    harness.run_test(test_weather_outage_keeps_events_flowing)
