#!/usr/bin/env python3
"""test_pipeline.py - the whole pipeline, end to end, with real processes.

hasim emits a known stream of state changes (hostile strings included); the
ingestor, enricher and writer carry it through the dev broker into influxd.
The test then reads InfluxDB back and requires every generated event exactly
once, with the right measurement, tags and field values, byte for byte, and
nothing else.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "deploy"))
import expect  # noqa: E402
import harness  # noqa: E402
import schemacheck  # noqa: E402

EVENTS = int(os.environ.get("HS_TEST_EVENTS", "6000"))


def landed(pipe):
    """{(measurement, domain, entity_id, time): row} of HA points in InfluxDB."""
    out = {}
    dups = []
    for name, _tags, rows in pipe.influx.series('SELECT * FROM /.*/', pipe.DB):
        if name in expect.OWN_MEASUREMENTS:
            continue
        for row in rows:
            key = (name, row.get("domain"), row.get("entity_id"), row["time"])
            if key in out:
                dups.append(key)
            out[key] = row
    return out, dups


def test_pipeline_delivers_every_event_exactly_once():
    every_second = {"STATS_INTERVAL_S": "1"}
    pipe = harness.Pipeline("pipeline", events=EVENTS, rate=0, entities=60,
                            stage_env={"ingestor": every_second, "enricher": every_second,
                                       "writer": every_second})
    try:
        pipe.start()
        done = pipe.hasim.wait_done(timeout=180)
        assert done == EVENTS, "hasim emitted %d of %d" % (done, EVENTS)
        generated = pipe.hasim.generated()
        assert len(generated) == EVENTS, "events log has %d lines" % len(generated)
        # On its first start the ingestor also writes HA's current states
        # (get_states). When it asks before the stream starts, those are each
        # entity's first old_state: allowed, checked when present, not required.
        want = {}
        snapshot = {}
        seen = set()
        for ev in generated:
            data = ev["data"]
            if data["entity_id"] not in seen:
                seen.add(data["entity_id"])
                if data.get("old_state"):
                    snap = {"data": {"entity_id": data["entity_id"],
                                     "new_state": data["old_state"]}}
                    snapshot[expect.point_key(snap)] = snap
            key = expect.point_key(ev)
            if key is not None:
                assert key not in want, "hasim generated a duplicate point %r" % (key,)
                want[key] = ev

        def complete():
            got, _ = landed(pipe)
            return len(got) >= len(want) and got

        try:
            got = harness.wait_until(complete, 180, "all points in InfluxDB", interval=1)
        except TimeoutError:
            got, _ = landed(pipe)
        got, dups = landed(pipe)
        missing = sorted(set(want) - set(got), key=lambda k: k[3])
        extra = sorted(set(got) - set(want) - set(snapshot), key=lambda k: k[3])
        assert not dups, "duplicate points: %r" % dups[:5]
        assert not missing, "%d of %d points missing, e.g. %r" % (len(missing), len(want), missing[:5])
        assert not extra, "%d unexpected points, e.g. %r" % (len(extra), extra[:5])

        problems = []
        hostile = 0
        checked = dict(want)
        checked.update((k, v) for k, v in snapshot.items() if k in got)
        for key, ev in checked.items():
            row = got[key]
            for p in expect.check_fields(ev, row):
                problems.append("%r: %s" % (key, p))
            state = ev["data"]["new_state"]["state"]
            if any(c in state for c in '"\\,= \n'):
                hostile += 1
        assert not problems, "%d field mismatches, e.g.\n%s" % (len(problems), "\n".join(problems[:10]))
        assert hostile > 0, "the stream carried no hostile state strings"

        # Every message the stages last produced must match its JSON Schema.
        for stage, kind in (("ingestor", "raw"), ("enricher", "enriched")):
            recent = pipe.stages[stage].json("/events/recent?limit=1000")
            assert len(recent) >= 500, "%s shows only %d recent messages" % (stage, len(recent))
            for msg in recent:
                schemacheck.validate(kind, msg)

        # Each stage's own stats reach InfluxDB as measurement homestream.
        def stats_points():
            rows = pipe.influx.series('SELECT last("events_out_total") FROM "homestream" '
                                      'GROUP BY "stage"', pipe.DB)
            return {tags.get("stage") for _, tags, _ in rows} >= {"ingestor", "enricher", "writer"}
        harness.wait_until(stats_points, 30, "homestream stats points from every stage")

        stats = pipe.stages["writer"].json("/stats")
        assert stats["dlq_total"] == 0, "writer sent points to the DLQ: %r" % stats
        for name in ("ingestor", "enricher", "writer"):
            health = pipe.stages[name].json("/health")
            assert health["status"] == "ok", "%s health: %r" % (name, health)
        codes = pipe.stop()
        assert all(c == 0 for c in codes.values()), "stages exited with %r" % codes
        print("%d events landed exactly once, with %d initial states (%d hostile states)"
              % (len(want), len(checked) - len(want), hostile))
    except BaseException:
        print(pipe.report(), file=sys.stderr)
        raise
    finally:
        pipe.stop()
        pipe.cleanup()


if __name__ == "__main__":
    harness.run_test(test_pipeline_delivers_every_event_exactly_once)
